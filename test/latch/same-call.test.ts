/**
 * With no cool-down due, a command starts the motor before unlock()/lock()
 * returns (a driver's grant reaches the motor without a turn of the event
 * loop); after a recent drive it still waits the cool-down out. A cycle that
 * ends before its motor could start (the drive marker could not be written)
 * ends inside the call too, and the gatekeeper, subscribed first, answers
 * with its reason and spends nothing.
 */
import { Gatekeeper } from "../../firmware/gatekeeper";
import { AccessControl, Admission } from "../../firmware/grants/access";
import { MarkerStore, ramMarker } from "../../firmware/latch/marker";
import { Rig } from "./rig";

const opens = (rig: Rig) => rig.latch.log.filter((l) => l.direction === "open").length;

/** A marker store that refuses every write of a driving marker (flash worn out or full). */
function failingMarker(): MarkerStore {
  const m = ramMarker();
  return { read: () => m.read(), write: (v) => (v ? false : m.write(v)) };
}

describe("the motor's start in the command's own call", () => {
  it("with no cool-down due, unlock() returns with the motor turning and commit run once", () => {
    const rig = new Rig();
    rig.run(5000);
    let commits = 0;
    const at = rig.clock.monotonic();
    expect(rig.ctl.unlock("grant:g1", () => (commits++, undefined))).toBeUndefined();
    expect(commits).toBe(1);
    expect(opens(rig)).toBe(1);
    expect(rig.latch.log[rig.latch.log.length - 1]).toMatchObject({ direction: "open", at: at });
    expect(rig.runUntil("open")).toBe(true);
  });

  it("reads the battery once for a command whose motor starts in its call; after a cool-down the attempt reads it anew", () => {
    const rig = new Rig({ config: { cooldownMs: 1000 } });
    rig.run(5000);
    const read = rig.battery.millivolts.bind(rig.battery);
    let reads = 0;
    // the firmware's reads (the simulated motor reads the cell too, for its speed)
    const firmware = () => /firmware[\\/]latch/.test((new Error().stack || "").split("\n")[3] || "");
    rig.battery.millivolts = () => (firmware() && reads++, read());
    expect(rig.unlock()).toBeUndefined();
    expect(reads).toBe(1);
    expect(rig.runUntil("open")).toBe(true);
    // the cell sags while the motor rests: the attempt after the cool-down sees it and does not start
    expect(rig.lock()).toBeUndefined();
    rig.battery.millivolts = () => (firmware() && reads++, 3000);
    const before = reads;
    expect(rig.runUntil("open", 3000)).toBe(true);
    expect(reads).toBeGreaterThan(before);
    expect(rig.latch.log.filter((l) => l.direction === "close")).toEqual([]);
    expect(rig.events.map((e) => e.type + "/" + e.reason)).toContain("latch_refused/low_battery");
  });

  it("right after a drive, the next command waits the cool-down out before its motor starts", () => {
    const rig = new Rig({ config: { cooldownMs: 1000 } });
    rig.run(5000);
    expect(rig.unlock()).toBeUndefined();
    expect(rig.runUntil("open")).toBe(true);
    const stopped = rig.latch.log[rig.latch.log.length - 1].at;
    expect(rig.lock()).toBeUndefined();
    const closes = () => rig.latch.log.filter((l) => l.direction === "close");
    expect(closes()).toEqual([]);
    expect(rig.runUntil("locked")).toBe(true);
    expect(closes()[0].at).toBeGreaterThanOrEqual(stopped + 1000);
  });

  it("a marker that cannot be written ends the cycle inside the call: store_error, heard by a listener subscribed first, commit never run", () => {
    const rig = new Rig({ marker: failingMarker() });
    rig.run(5000);
    const heard: string[] = [];
    rig.ctl.onState((state, why) => heard.push(state + "/" + why));
    let commits = 0;
    expect(rig.ctl.unlock("grant:g1", () => (commits++, undefined))).toBeUndefined();
    expect(heard).toEqual(["unlocking/command", "locked/store_error"]);
    expect(commits).toBe(0);
    expect(opens(rig)).toBe(0);
    expect(rig.events.map((e) => e.type + "/" + e.reason)).toContain("latch_refused/store_error");
  });

  it("the gatekeeper answers such a cycle with its reason at once, and spends nothing", () => {
    const rig = new Rig({ marker: failingMarker() });
    rig.run(5000);
    const calls: string[] = [];
    const admission: Admission = { grantId: "00000000000000a1", keyId: 1, perms: 1, uses: 1, notAfter: 0, consumes: true, channel: "ble", action: "unlock", spent: 0 };
    // Only the calls the gatekeeper makes, recorded: the decision itself is access.test.ts's.
    const access = {
      admit: () => admission,
      spend: () => (calls.push("spend"), undefined),
      finish: (_a: Admission, reason: string) => calls.push("finish " + reason),
      refund: () => calls.push("refund"),
      opened: () => calls.push("opened"),
    } as unknown as AccessControl;
    const gate = new Gatekeeper({ access, latch: rig.ctl, battery: rig.battery, events: rig.bus, minStartMv: 3300, clock: rig.clock });
    const answers: string[] = [];
    gate.request("unlock", new Uint8Array(100), "ble", undefined, (r) => answers.push(r));
    expect(answers).toEqual(["store_error"]);
    expect(calls).toEqual(["finish store_error"]);
    rig.run(5000);
    expect(answers).toEqual(["store_error"]);
    expect(opens(rig)).toBe(0);
  });
});
