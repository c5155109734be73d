import { Rig } from "./rig";

const MAX = 1500;

/** Every drive in the log ended with a stop within the maximum, and nothing reversed without stopping. */
function motorSafe(rig: Rig): void {
  expect(rig.latch.shootThroughs).toBe(0);
  expect(rig.latch.longestDriveMs()).toBeLessThanOrEqual(MAX);
  for (const d of rig.drives()) {
    expect(d.stop).toBeDefined();
    expect((d.stop as number) - d.start).toBeLessThanOrEqual(MAX);
  }
}

function tamper(rig: Rig, kind?: string) {
  return rig.of("tamper", kind);
}

describe("a delivery", () => {
  test("unlock, lid open, key out, key back, lid closed, relock", () => {
    const rig = new Rig();
    rig.run(10);
    expect(rig.ctl.state()).toBe("locked");
    expect(rig.unlock("grant:g1")).toBeUndefined();
    expect(rig.ctl.state()).toBe("unlocking");
    expect(rig.runUntil("open", 5000)).toBe(true);
    expect(rig.latch.where()).toBe(0);
    expect(rig.latch.driving()).toBe("stop");
    expect(rig.person.openLid()).toBe(true);
    rig.run(100);
    expect(rig.person.takeKey()).toBe(true);
    rig.run(60000);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.person.returnKey()).toBe(true);
    rig.run(100);
    expect(rig.person.closeLid()).toBe(true);
    rig.run(1000);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.runUntil("locked", 10000)).toBe(true);
    expect(rig.latch.where()).toBeGreaterThanOrEqual(0.95);
    expect(rig.states()).toEqual(["locked", "unlocking", "open", "locking", "locked"]);
    expect(rig.of("latch", "open")[0].d).toMatchObject({ why: "unlocked", src: "grant:g1" });
    expect(rig.of("latch", "locking")[0].d).toMatchObject({ why: "lid_closed" });
    // contact bounce never doubles an edge
    expect(rig.of("lid", "opened").length).toBe(1);
    expect(rig.of("lid", "closed").length).toBe(1);
    expect(rig.of("key", "removed").length).toBe(1);
    expect(rig.of("key", "returned").length).toBe(1);
    expect(tamper(rig)).toEqual([]);
    expect(rig.buzzer.history).toEqual([]);
    expect(rig.person.openLid()).toBe(false);
    motorSafe(rig);
  });

  test("closing the box with the key still out is an alarm, and the box still relocks", () => {
    const rig = new Rig();
    rig.run(10);
    rig.unlock("grant:g2");
    rig.runUntil("open");
    rig.person.openLid();
    rig.run(100);
    rig.person.takeKey();
    rig.run(100);
    rig.person.closeLid();
    rig.run(100);
    const t = tamper(rig, "key_not_returned");
    expect(t.length).toBe(1);
    expect(t[0].d).toMatchObject({ sev: "medium", urgent: true, src: "grant:g2" });
    expect(tamper(rig, "key_removed")).toEqual([]);
    expect(rig.buzzer.history.length).toBeGreaterThan(0);
    expect(rig.runUntil("locked", 10000)).toBe(true);
    motorSafe(rig);
  });

  test("a driver who never opens the lid: auto-relock after the configured time", () => {
    const rig = new Rig({ config: { autoRelockMs: 20000 } });
    rig.run(10);
    rig.unlock();
    rig.runUntil("open");
    const openedAt = rig.clock.monotonic();
    rig.run(19000);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.runUntil("locked", 5000)).toBe(true);
    expect(rig.clock.monotonic() - openedAt).toBeGreaterThanOrEqual(20000);
    expect(rig.of("latch", "locking")[0].d).toMatchObject({ why: "never_opened", src: "auto" });
    motorSafe(rig);
  });

  test("no relock while the lid stays open, however long", () => {
    const rig = new Rig({ config: { autoRelockMs: 5000 } });
    rig.run(10);
    rig.unlock();
    rig.runUntil("open");
    rig.person.openLid();
    rig.run(3600 * 1000);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.drives().length).toBe(1);
    expect(rig.lock("owner")).toBe("lid_open");
    expect(rig.of("latch_refused", "lid_open")[0].d).toMatchObject({ op: "lock", src: "owner" });
    rig.person.closeLid();
    expect(rig.runUntil("locked", 10000)).toBe(true);
  });

  test("the lid opening during a lock stops the bolt and waits for the lid", () => {
    const rig = new Rig({ config: { autoRelockMs: 5000 } });
    rig.run(10);
    rig.unlock();
    rig.runUntil("open");
    rig.runUntil("locking", 10000);
    // wait for the cool-down to end and the bolt to start moving
    while (rig.latch.driving() === "stop") rig.run(1);
    rig.run(20);
    expect(rig.person.openLid()).toBe(true);
    rig.run(100);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.latch.driving()).toBe("stop");
    expect(rig.of("latch", "open")[1].d).toMatchObject({ why: "lid_opened" });
    const pos = rig.latch.where();
    rig.run(600000);
    expect(rig.latch.where()).toBe(pos);
    rig.person.closeLid();
    expect(rig.runUntil("locked", 10000)).toBe(true);
    motorSafe(rig);
  });
});

describe("jams at every phase", () => {
  test("unlock: bolt seized in the thrown position -> retries, then fault jam, box stays shut", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.jam(true);
    rig.unlock();
    rig.run(20000);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.of("latch", "fault")[0].d).toMatchObject({ why: "jam" });
    expect(rig.of("latch_retry", "jam").length).toBe(2);
    expect(rig.drives().length).toBe(3);
    // cool-down between attempts
    const d = rig.drives();
    for (let i = 1; i < d.length; i++) expect(d[i].start - (d[i - 1].stop as number)).toBeGreaterThanOrEqual(1000);
    expect(rig.person.openLid()).toBe(false);
    expect(rig.unlock()).toBe("fault");
    motorSafe(rig);
    // recovery: the owner locks, the bolt is seated and the box works again
    rig.latch.jam(false);
    expect(rig.lock("owner")).toBeUndefined();
    expect(rig.runUntil("locked", 10000)).toBe(true);
    expect(rig.unlock()).toBeUndefined();
    expect(rig.runUntil("open", 10000)).toBe(true);
    motorSafe(rig);
  });

  test("unlock: jam before the switch opens -> fault jam", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.jamAt(0.97);
    rig.unlock();
    rig.run(20000);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.status().reason).toBe("jam");
    expect(rig.latch.where()).toBeCloseTo(0.97, 5);
    expect(rig.person.openLid()).toBe(false);
    motorSafe(rig);
  });

  test("unlock: jam during over-travel is reported open, the lid stays held, the relock re-secures once freed", () => {
    const rig = new Rig({ config: { autoRelockMs: 10000 } });
    rig.run(10);
    rig.latch.jamAt(0.5);
    rig.unlock();
    expect(rig.runUntil("open", 5000)).toBe(true);
    expect(rig.latch.where()).toBeCloseTo(0.5, 5);
    expect(rig.person.openLid()).toBe(false);
    rig.latch.jam(false);
    expect(rig.runUntil("locked", 20000)).toBe(true);
    expect(rig.latch.where()).toBeGreaterThanOrEqual(0.95);
    motorSafe(rig);
  });

  test("unlock: a sticky bolt frees on a retry", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.stick(1);
    rig.unlock();
    expect(rig.runUntil("open", 10000)).toBe(true);
    expect(rig.of("latch_retry", "jam").length).toBe(1);
    expect(rig.of("latch_retry")[0].d).toMatchObject({ dir: "open", attempt: 1 });
    motorSafe(rig);
  });

  for (const at of [0, 0.5, 0.9]) {
    test(`lock: jam at ${at} -> fault jam, bounded drives`, () => {
      const rig = new Rig({ config: { autoRelockMs: 5000 } });
      rig.run(10);
      rig.unlock();
      rig.runUntil("open");
      if (at === 0) rig.latch.jam(true);
      else rig.latch.jamAt(at);
      rig.run(60000);
      expect(rig.ctl.state()).toBe("fault");
      expect(rig.ctl.status().reason).toBe("jam");
      expect(rig.drives().filter((d) => d.dir === "close").length).toBe(3);
      expect(rig.latch.where()).toBeCloseTo(at, 5);
      rig.run(600000);
      expect(rig.drives().length).toBe(4);
      motorSafe(rig);
    });
  }

  test("a bolt switch stuck closed: the motor runs freely, fault bolt_sensor_stuck", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.bolt.stick(true);
    rig.unlock();
    rig.run(20000);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.status().reason).toBe("bolt_sensor_stuck");
    motorSafe(rig);
    // the owner's lock drives a bounded seat stroke even though the switch cannot confirm
    expect(rig.lock("owner")).toBeUndefined();
    expect(rig.runUntil("locked", 10000)).toBe(true);
    expect(rig.latch.where()).toBe(1);
    motorSafe(rig);
  });

  test("a bolt switch stuck open during a lock -> fault bolt_sensor_stuck", () => {
    const rig = new Rig({ config: { autoRelockMs: 5000 } });
    rig.run(10);
    rig.unlock();
    rig.runUntil("open");
    rig.latch.bolt.stick(false);
    rig.run(60000);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.status().reason).toBe("bolt_sensor_stuck");
    motorSafe(rig);
  });

  test("the lid opening while the bolt switch still says thrown -> bolt_lid_disagree", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.bolt.stick(true);
    rig.unlock();
    rig.run(1000 + 600);
    expect(rig.person.openLid()).toBe(true);
    rig.run(100);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.status().reason).toBe("bolt_lid_disagree");
    expect(rig.latch.driving()).toBe("stop");
    motorSafe(rig);
  });
});

describe("power", () => {
  test("a power cut mid-unlock, then reboot: never unlocks, reports, relocks", () => {
    const rig = new Rig();
    rig.run(10);
    rig.unlock();
    rig.run(1000 + 200);
    expect(rig.latch.driving()).toBe("open");
    const pos = rig.latch.where();
    expect(pos).toBeGreaterThan(0.1);
    expect(pos).toBeLessThan(0.9);
    rig.reboot();
    expect(rig.ctl.state()).toBe("open");
    rig.run(1);
    const rec = rig.of("latch_recovery", "reset_mid_drive");
    expect(rec.length).toBe(1);
    expect(rec[0].d).toMatchObject({ dir: "open", n: 1 });
    expect(rig.runUntil("locked", 10000)).toBe(true);
    const after = rig.drives().filter((d) => d.start >= rig.bootAt[1]);
    expect(after.map((d) => d.dir)).toEqual(["close"]);
    expect(rig.latch.where()).toBeGreaterThanOrEqual(0.95);
    // a clean finish clears the marker: the next boot reports nothing
    rig.reboot();
    rig.run(10);
    expect(rig.of("latch_recovery").length).toBe(1);
    expect(rig.ctl.state()).toBe("locked");
    motorSafe(rig);
  });

  test("a reset before the bolt left the switch boots locked and clears the marker", () => {
    const rig = new Rig();
    rig.run(10);
    rig.unlock();
    rig.run(1000 + 5);
    expect(rig.latch.driving()).toBe("open");
    rig.reboot();
    rig.run(5000);
    expect(rig.ctl.state()).toBe("locked");
    expect(rig.drives().filter((d) => d.start >= rig.bootAt[1])).toEqual([]);
    expect(rig.marker.read()).toBeUndefined();
  });

  test("resets that keep cutting the relock short end in fault reset_loop, not an endless loop", () => {
    const rig = new Rig({ position: 0 });
    for (let i = 0; i < 6; i++) {
      rig.run(1000 + 100);
      if (rig.latch.driving() !== "close") break;
      rig.reboot();
    }
    rig.run(10);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.status().reason).toBe("reset_loop");
    expect(rig.of("latch_recovery").map((e) => e.d && e.d.n)).toEqual([1, 2, 3]);
    rig.run(60000);
    expect(rig.latch.driving()).toBe("stop");
    // the owner can still recover it
    expect(rig.lock("owner")).toBeUndefined();
    expect(rig.runUntil("locked", 10000)).toBe(true);
  });

  test("booting with the bolt retracted and the lid open waits for the lid, then locks", () => {
    const rig = new Rig({ position: 0, lidClosed: false });
    rig.run(60000);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.drives()).toEqual([]);
    rig.person.closeLid();
    expect(rig.runUntil("locked", 10000)).toBe(true);
  });

  test("low battery: unlock refused with the reason and the voltage, nothing moves", () => {
    const rig = new Rig({ batteryMv: 3350 });
    rig.run(10);
    expect(rig.unlock("grant:g9")).toBe("low_battery");
    const r = rig.of("latch_refused", "low_battery");
    expect(r[0].d).toMatchObject({ op: "unlock", src: "grant:g9", mv: 3350, minMv: 3400 });
    rig.run(10000);
    expect(rig.ctl.state()).toBe("locked");
    expect(rig.drives()).toEqual([]);
    rig.battery.setMillivolts(3450);
    expect(rig.unlock()).toBeUndefined();
    expect(rig.runUntil("open")).toBe(true);
    // the weakest allowed cell still finishes the stroke
    expect(rig.latch.where()).toBe(0);
  });

  test("why the threshold: below it a stroke cannot finish (a lower threshold strands the bolt)", () => {
    const rig = new Rig({ batteryMv: 3150, config: { minStartMv: 3000 } });
    rig.run(10);
    expect(rig.unlock()).toBeUndefined();
    rig.run(10000);
    expect(rig.latch.where()).toBeGreaterThan(0.3);
    expect(rig.person.openLid()).toBe(false);
    motorSafe(rig);
  });

  test("low battery at relock time: refused and retried later, locks when the cell recovers", () => {
    const rig = new Rig({ config: { autoRelockMs: 5000 } });
    rig.run(10);
    rig.unlock();
    rig.runUntil("open");
    rig.battery.setMillivolts(3300);
    rig.run(6000);
    expect(rig.ctl.state()).toBe("open");
    expect(rig.of("latch_refused", "low_battery")[0].d).toMatchObject({ op: "lock", src: "auto" });
    rig.battery.setMillivolts(3800);
    expect(rig.runUntil("locked", 20000)).toBe(true);
  });
});

describe("tamper", () => {
  test("a forced lid: high-severity urgent event, siren and LED, the bolt is not moved", () => {
    const rig = new Rig();
    rig.run(10);
    expect(rig.person.openLid()).toBe(false);
    rig.person.forceLid();
    rig.run(5000);
    const t = tamper(rig, "lid_forced");
    expect(t.length).toBe(1);
    expect(t[0].d).toMatchObject({ sev: "high", urgent: true });
    expect(rig.buzzer.history.length).toBeGreaterThan(10);
    expect(rig.led.history.length).toBeGreaterThan(0);
    expect(rig.ctl.state()).toBe("locked");
    expect(rig.drives()).toEqual([]);
    expect(rig.tamper.alarm.urgentCount).toBe(1);
    // taking the key with no grant is tamper too
    rig.person.takeKey();
    rig.run(100);
    expect(tamper(rig, "key_removed")[0].d).toMatchObject({ sev: "high" });
    rig.run(60000);
    expect(rig.buzzer.frequency).toBe(0);
    expect(rig.led.on).toBe(false);
  });

  test("a bolt forced back without a drive: tamper, then the box relocks itself", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.force(0.2);
    rig.run(100);
    expect(tamper(rig, "bolt_moved")[0].d).toMatchObject({ sev: "high", latch: "locked" });
    expect(rig.ctl.state()).toBe("open");
    expect(rig.runUntil("locked", 10000)).toBe(true);
    expect(rig.latch.where()).toBeGreaterThanOrEqual(0.95);
    motorSafe(rig);
  });

  test("a flapping bolt switch is rate-limited, with the count carried on", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.jam(true);
    rig.unlock();
    rig.run(20000);
    expect(rig.ctl.state()).toBe("fault");
    for (let i = 0; i < 20; i++) {
      rig.latch.bolt.set(i % 2 === 0 ? false : true);
      rig.run(100);
    }
    expect(tamper(rig, "bolt_moved").length).toBe(1);
    rig.run(10000);
    rig.latch.bolt.set(false);
    rig.run(100);
    const t = tamper(rig, "bolt_moved");
    expect(t.length).toBe(2);
    expect(t[1].d).toMatchObject({ suppressed: 19 });
  });

  test("a shaken box: one knock is nothing, sustained shaking is one event, a passing truck does not flood", () => {
    const rig = new Rig();
    rig.run(10);
    rig.motion.shake(3000);
    rig.run(5000);
    expect(tamper(rig, "shock")).toEqual([]);
    rig.motion.shake(1500, 1000, 100);
    rig.run(2000);
    const first = tamper(rig, "shock");
    expect(first.length).toBe(1);
    expect(first[0].d).toMatchObject({ sev: "medium", urgent: true, peakMg: 1500 });
    // ten minutes of truck vibration above the threshold
    rig.motion.shake(1300, 600000, 200);
    rig.run(610000);
    const all = tamper(rig, "shock");
    expect(all.length).toBeLessThanOrEqual(3);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all[1].d && all[1].d.suppressed).toBeGreaterThan(10);
    // under the threshold: nothing
    const n = all.length;
    rig.run(600000);
    rig.motion.shake(800, 60000, 50);
    rig.run(70000);
    expect(tamper(rig, "shock").length).toBe(n);
  });

  test("shaking an open box during a delivery is not tamper", () => {
    const rig = new Rig();
    rig.run(10);
    rig.unlock();
    rig.runUntil("open");
    rig.person.openLid();
    rig.motion.shake(4000, 3000, 100);
    rig.run(4000);
    expect(tamper(rig, "shock")).toEqual([]);
  });

  test("a hard sustained shock is high severity and sounds the siren", () => {
    const rig = new Rig();
    rig.run(10);
    rig.motion.shake(5000, 500, 100);
    rig.run(1000);
    expect(tamper(rig, "shock")[0].d).toMatchObject({ sev: "high" });
    expect(rig.buzzer.history.some((h) => h.hz === 2000)).toBe(true);
  });
});

describe("lifecycle", () => {
  test("refusals and busy codes, and close() leaves no timer and the motor stopped", () => {
    const rig = new Rig();
    expect(rig.unlock()).toBe("booting");
    rig.run(10);
    expect(rig.lock()).toBe("already_locked");
    expect(rig.unlock()).toBeUndefined();
    expect(rig.unlock()).toBe("busy");
    expect(rig.lock()).toBe("busy");
    rig.run(1100);
    expect(rig.latch.driving()).toBe("open");
    rig.ctl.close();
    rig.ctl.close();
    rig.tamper.close();
    expect(rig.latch.driving()).toBe("stop");
    rig.run(100000);
    expect(rig.clock.pending()).toBe(0);
    expect(rig.unlock()).toBe("closed");
  });

  test("bad configuration is refused before anything is allocated", () => {
    const rig = new Rig();
    expect(() => rig.ctl.constructor.call(null)).toThrow();
    expect(() => new Rig({ config: { overTravelMs: 5000 } })).toThrow("config_over_travel");
    expect(() => new Rig({ config: { retries: -1 } })).toThrow("config_retries");
    expect(() => new Rig({ config: { shockBursts: 0 } })).toThrow("config_shock_bursts");
  });
});
