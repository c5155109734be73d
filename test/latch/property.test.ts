import fc from "fast-check";
import { Rig } from "./rig";

const MAX = 1500;
const COOL = 1000;

type Act =
  | { k: "unlock" | "lock" | "openLid" | "closeLid" | "forceLid" | "forceClose" | "take" | "ret" | "reboot" }
  | { k: "jam"; on: boolean }
  | { k: "jamAt"; p: number }
  | { k: "stick"; n: number }
  | { k: "boltStick"; v: number }
  | { k: "bat"; mv: number }
  | { k: "forceBolt"; p: number }
  | { k: "shake"; mg: number; ms: number }
  | { k: "wait"; ms: number };

const act: fc.Arbitrary<Act> = fc.oneof(
  fc.constantFrom<Act>(
    { k: "unlock" },
    { k: "lock" },
    { k: "openLid" },
    { k: "closeLid" },
    { k: "forceLid" },
    { k: "forceClose" },
    { k: "take" },
    { k: "ret" },
    { k: "reboot" },
  ),
  fc.record({ k: fc.constant<"jam">("jam"), on: fc.boolean() }),
  fc.record({ k: fc.constant<"jamAt">("jamAt"), p: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ k: fc.constant<"stick">("stick"), n: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ k: fc.constant<"boltStick">("boltStick"), v: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant<"bat">("bat"), mv: fc.integer({ min: 2900, max: 4100 }) }),
  fc.record({ k: fc.constant<"forceBolt">("forceBolt"), p: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ k: fc.constant<"shake">("shake"), mg: fc.integer({ min: 0, max: 6000 }), ms: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ k: fc.constant<"wait">("wait"), ms: fc.integer({ min: 0, max: 8000 }) }),
);

function apply(rig: Rig, a: Act): void {
  switch (a.k) {
    case "unlock": rig.unlock("grant:p"); break;
    case "lock": rig.lock("owner"); break;
    case "openLid": rig.person.openLid(); break;
    case "closeLid": rig.person.closeLid(); break;
    case "forceLid": rig.person.forceLid(); break;
    case "forceClose": rig.person.forceCloseLid(); break;
    case "take": rig.person.takeKey(); break;
    case "ret": rig.person.returnKey(); break;
    case "reboot": rig.reboot(); break;
    case "jam": rig.latch.jam(a.on); break;
    case "jamAt": rig.latch.jamAt(a.p); break;
    case "stick": rig.latch.stick(a.n); break;
    case "boltStick": rig.latch.bolt.stick(a.v === 0 ? undefined : a.v === 1); break;
    case "bat": rig.battery.setMillivolts(a.mv); break;
    case "forceBolt": rig.latch.force(a.p); break;
    case "shake": rig.motion.shake(a.mg, a.ms, 100); break;
    case "wait": rig.run(a.ms); break;
  }
  rig.run(7);
}

/**
 * Over any sequence of commands, people, faults and resets: the motor is
 * never driven longer than maxDriveMs, every drive is followed by a stop,
 * it never reverses without a stop, it rests a cool-down between drives,
 * and no boot ever drives the bolt open without an accepted unlock.
 */
test("the controller never over-drives, never reverses without stopping, never unlocks on reset", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.array(act, { maxLength: 40 }), (start, lidClosed, acts) => {
      const rig = new Rig({ position: start, lidClosed: start === 1 || lidClosed, config: { autoRelockMs: 5000, relockDelayMs: 500 } });
      for (const a of acts) apply(rig, a);
      rig.run(MAX + 10);
      const now = rig.clock.monotonic();
      expect(rig.latch.shootThroughs).toBe(0);
      expect(rig.latch.longestDriveMs()).toBeLessThanOrEqual(MAX);
      const drives = rig.drives();
      for (let i = 0; i < drives.length; i++) {
        const d = drives[i];
        if (d.stop === undefined) expect(now - d.start).toBeLessThanOrEqual(MAX);
        else expect(d.stop - d.start).toBeLessThanOrEqual(MAX);
        if (i > 0) expect(d.start - (drives[i - 1].stop as number)).toBeGreaterThanOrEqual(COOL);
        if (d.dir === "open") {
          // the boot this drive belongs to, and an unlock accepted in it before the drive
          let boot = 0;
          while (boot < rig.bootAt.length && rig.bootAt[boot] <= d.start) boot++;
          const ok = rig.accepted.some((u) => u.boot === boot && u.at <= d.start);
          expect(ok).toBe(true);
        }
      }
      // left alone long enough, the motor always ends stopped
      rig.run(10 * 60 * 1000);
      const later = rig.drives();
      const last = later[later.length - 1];
      if (last) expect(last.stop).toBeDefined();
      expect(rig.latch.driving()).toBe("stop");
    }),
    { numRuns: 150, seed: 4242 },
  );
});
