import { Rig } from "./rig";

describe("a fault says how to leave it and what failed", () => {
  test("a jam faults with the way out in the event and the status, and a lock after freeing the bolt leaves it", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.jam(true);
    rig.unlock("grant:g1");
    rig.run(20000);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.of("latch", "fault")[0].d).toMatchObject({ why: "jam", wayOut: "lock" });
    expect(rig.ctl.status()).toMatchObject({ state: "fault", reason: "jam", wayOut: "lock" });
    rig.latch.jam(false);
    rig.run(1000);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.lock("grant:g2")).toBeUndefined();
    expect(rig.runUntil("locked", 10000)).toBe(true);
    expect(rig.ctl.status().wayOut).toBe("");
  });

  test("a bolt switch failed open while locked is not called a jam: a lock that cannot move the bolt at all says it may be the switch", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.bolt.stick(false);
    rig.run(30000);
    expect(rig.latch.where()).toBe(1);
    expect(rig.ctl.state()).toBe("fault");
    expect(rig.ctl.status().reason).toBe("jam_or_bolt_sensor");
    expect(rig.of("latch_retry", "jam")).toEqual([]);
  });

  test("a bolt forced back by hand and seized reads the same, and a bolt that moved before seizing is a jam", () => {
    const rig = new Rig();
    rig.run(10);
    rig.latch.force(0.5);
    rig.latch.jam(true);
    rig.run(30000);
    expect(rig.ctl.status().reason).toBe("jam_or_bolt_sensor");
    const moved = new Rig();
    moved.run(10);
    moved.latch.force(0.5);
    moved.latch.jamAt(0.8);
    moved.run(30000);
    expect(moved.ctl.status().reason).toBe("jam");
  });

  test("event fields name what they describe: the lid's event carries the latch's state as latch", () => {
    const rig = new Rig();
    rig.run(10);
    rig.unlock("grant:g1");
    rig.runUntil("open", 5000);
    rig.person.openLid();
    rig.run(100);
    expect(rig.of("lid", "opened")[0].d).toEqual({ latch: "open" });
  });
});
