import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SimBox } from "../../sim/box";
import { Desk } from "../../sim/desk";
import { Pace } from "../../sim/pace";
import { openState, saveState } from "../../sim/state";

/** A desk on a paused pace: the box moves only when a command (or the test) moves it. */
function desk(): { d: Desk; box: SimBox; pace: Pace } {
  const box = new SimBox({});
  box.boot();
  const pace = new Pace({ run: (ms) => box.run(ms), rate: 0 });
  return { d: new Desk({ box, pace, epochS: 1780272000 }), box, pace };
}

describe("the desktop's one command set", () => {
  let t: ReturnType<typeof desk>;
  beforeEach(() => (t = desk()));
  afterEach(() => {
    t.pace.close();
    t.box.close();
  });

  it("help lists every command with its arguments; a bad command answers with its usage, an unknown one with the names", async () => {
    const help = (await t.d.execute("help")).text;
    for (const c of t.d.commands()) expect(help).toMatch(new RegExp("^" + c.name + (c.args ? " " + c.args.replace(/[|[\]().*+?]/g, "\\$&") : "") + " +\\S", "m"));
    for (const [line, usage] of [
      ["battery abc", "battery <mV>"],
      ["shake", "shake <peak mg> [ms] [period ms]"],
      ["lid", "lid open|close|force|slam"],
      ["jam at 2", "jam on|off | at <0..1>"],
      ["time advance soon", "time [pause | run [speed] | advance <duration>]"],
      ["coverage moon", "coverage none|home|roaming|denied"],
      ["grant", "grant <file|base64> [unlock|lock]"],
    ]) {
      const a = await t.d.execute(line);
      expect(a.ok).toBe(false);
      expect(a.text).toContain("error: usage: " + usage);
    }
    const unknown = await t.d.execute("fly away");
    expect(unknown.text).toMatch(/^error: unknown command "fly"; the commands are lid, key, .*help/);
    expect((await t.d.execute("help lid")).text).toMatch(/^lid open\|close\|force\|slam +a person at the lid/);
  });

  it("time advances the box's clock by the amount, paused or not, and the pace can be set", async () => {
    t.box.run(10);
    const before = t.box.clock.monotonic();
    expect((await t.d.execute("time advance 90s")).text).toMatch(/^advanced 90s; box time .*paused$/);
    expect(t.box.clock.monotonic() - before).toBe(90000);
    expect((await t.d.execute("time run 60")).text).toMatch(/runs at 60x/);
    expect(t.d.snapshot().time.rate).toBe(60);
    expect((await t.d.execute("time run 100000")).ok).toBe(false);
  });

  it("status names the latch's reason and, in a fault, the way out; the snapshot carries the same", async () => {
    await t.d.execute("time advance 1s");
    await t.d.execute("jam on");
    expect(t.box.firmware!.latch.unlock("test")).toBeUndefined();
    await t.d.execute("time advance 30s");
    const status = (await t.d.execute("status")).text;
    expect(status).toMatch(/^latch fault \(jam\); way out: clear the cause .* then lock/m);
    expect(status).toMatch(/^bolt 1\.00 \(jammed\)/m);
    t.d.statusLines.push(() => ["battery life: about 2 years"]);
    expect((await t.d.execute("status")).text).toMatch(/battery life: about 2 years$/);
    const s = t.d.snapshot();
    expect(s.latch).toEqual({ state: "fault", reason: "jam", wayOut: "lock" });
    expect(s.extra).toEqual(["battery life: about 2 years"]);
    expect((await t.d.execute("events")).text).toMatch(/latch fault \{"why":"jam","src":"test","wayOut":"lock"\}\n    way out: /);
  });
});

describe("the state folder", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-state-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("starts fresh with a random seed, restores Storage and the world's clock, refuses another box, and --fresh starts over", () => {
    const a = openState({ dir, boxId: "KB-1", nowS: 1000 });
    expect(a.fresh).toBe(true);
    const b = openState({ dir: path.join(dir, "other"), boxId: "KB-1", nowS: 1000 });
    expect(b.runSeed).not.toBe(a.runSeed);
    expect(openState({ dir: path.join(dir, "seeded"), boxId: "KB-1", seed: 42, nowS: 1000 }).runSeed).toBe(42);
    saveState(a, new Uint8Array([1, 2, 3]), 5000);
    const again = openState({ dir, boxId: "KB-1" });
    expect(again.fresh).toBe(false);
    expect(Array.from(again.storage!)).toEqual([1, 2, 3]);
    expect(again.meta.runs).toBe(2);
    // the hour advanced by hand stays; the few ms since the save pass too
    expect(again.nowS).toBeGreaterThanOrEqual(5000);
    expect(again.nowS).toBeLessThan(5010);
    expect(again.runSeed).not.toBe(a.runSeed);
    expect(() => openState({ dir, boxId: "KB-2" })).toThrow(/the state in .* is box KB-1, not KB-2: give another --state, or --fresh/);
    expect(openState({ dir, boxId: "KB-2", fresh: true }).fresh).toBe(true);
  });
});
