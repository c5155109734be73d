/**
 * The owner's tool against the simulator's embedded broker, with a stand-in
 * box on the other side (a plain MQTT client publishing what the firmware
 * publishes): followers each get their own session and can replay what the
 * broker kept, and a remote unlock waits for what the latch did.
 */
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import mqtt from "mqtt";
import { decodeCommand } from "../../firmware/uplink/command";
import { unlockOutcome } from "../../sim/owner/outcome";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const BOX = "KB-OWN01";

function ev(seq: number, type: string, reason: string, d: Record<string, string | number | boolean> = {}, ep = 77): string {
  return JSON.stringify({ ep, seq, type, reason, t: 1780272000 + seq, m: seq * 10, d });
}

/** Runs the owner CLI; until(text) says when to stop waiting for more output. */
function owner(args: string[], until: (out: string) => boolean): { proc: ChildProcess; done: Promise<{ out: string; code: number | null }> } {
  const proc = spawn(TSX, [path.join(ROOT, "sim", "owner", "cli.ts"), ...args], { cwd: ROOT, detached: true });
  let out = "";
  const done = new Promise<{ out: string; code: number | null }>((resolve) => {
    const check = () => {
      if (until(out)) resolve({ out, code: null });
    };
    proc.stdout!.on("data", (d) => ((out += d), check()));
    proc.stderr!.on("data", (d) => ((out += d), check()));
    proc.on("exit", (code) => resolve({ out, code }));
  });
  return { proc, done };
}

function kill(p: ChildProcess): void {
  if (p.exitCode === null && p.pid) process.kill(-p.pid, "SIGKILL");
}

describe("the owner tool", () => {
  let broker: ChildProcess;
  let url: string;
  let box: mqtt.MqttClient;

  beforeAll(async () => {
    // the embedded broker as npm start runs it (aedes is an ES module jest cannot load)
    broker = spawn(TSX, [path.join(ROOT, "sim", "broker.ts"), "0"], { cwd: ROOT, detached: true });
    url = await new Promise<string>((resolve) => {
      let text = "";
      broker.stdout!.on("data", (d) => {
        text += d;
        const m = /broker on (\S+):(\d+)/.exec(text);
        if (m) resolve("mqtt://" + m[1] + ":" + m[2]);
      });
    });
    box = await mqtt.connectAsync(url, { clientId: "kb-" + BOX, clean: true });
  }, 60000);
  afterAll(async () => {
    if (box) await box.endAsync();
    if (broker) kill(broker);
  });

  it("replays from the oldest event the broker kept with --from 0, and two followers at once both keep following", async () => {
    for (let s = 1; s <= 3; s++) await box.publishAsync("kb/" + BOX + "/events", ev(s, "boot", "locked"), { qos: 1 });
    const a = owner(["follow", "--from", "0", "--broker", url, "--box", BOX], (o) => /#5 /.test(o));
    const b = owner(["follow", "--from", "2", "--broker", url, "--box", BOX], (o) => /#5 /.test(o));
    try {
      const ready = (p: { proc: ChildProcess }) => new Promise<void>((resolve) => p.proc.stdout!.on("data", (d) => /following /.test(String(d)) && resolve()));
      await Promise.all([ready(a), ready(b)]);
      for (let s = 4; s <= 5; s++) await box.publishAsync("kb/" + BOX + "/events", ev(s, "lid", "opened", { latch: "open" }), { qos: 1 });
      const [ra, rb] = await Promise.all([a.done, b.done]);
      expect(ra.out).toMatch(/\[replay\] 3 event\(s\) the broker kept, from #1/);
      for (let s = 1; s <= 5; s++) expect(ra.out.split("\n").filter((l) => l.startsWith("#" + s + " ")).length).toBe(1);
      expect(rb.out).not.toMatch(/^#1 /m);
      expect(rb.out).toMatch(/^#2 .*boot\/locked/m);
      expect(rb.out).toMatch(/^#5 .*lid\/opened \{"latch":"open"\}/m);
      const ids = [ra.out, rb.out].map((o) => /as (\S+) \(Ctrl-C/.exec(o)![1]);
      expect(ids[0]).not.toBe(ids[1]);
    } finally {
      kill(a.proc);
      kill(b.proc);
    }
  }, 90000);

  it("waits after a remote unlock until the latch says what happened, and names the way out of a fault", async () => {
    await box.subscribeAsync("kb/" + BOX + "/cmd", { qos: 1 });
    const onCmd = (topic: string, payload: Buffer) => {
      if (!topic.endsWith("/cmd")) return;
      const c = decodeCommand(new Uint8Array(payload));
      if (typeof c === "string") return;
      const id = c.cmd.id;
      void (async () => {
        await box.publishAsync("kb/" + BOX + "/reply", JSON.stringify({ id, ok: true, reason: "unlocking" }), { qos: 1 });
        await box.publishAsync("kb/" + BOX + "/events", ev(10, "latch", "unlocking", { why: "command", src: "mqtt:" + id }, 78), { qos: 1 });
        await box.publishAsync("kb/" + BOX + "/events", ev(11, "latch_retry", "jam", { dir: "open", attempt: 1 }, 78), { qos: 1 });
        await box.publishAsync("kb/" + BOX + "/events", ev(12, "latch", "fault", { why: "jam", src: "mqtt:" + id, wayOut: "lock" }, 78), { qos: 1 });
      })();
    };
    box.on("message", onCmd);
    const u = owner(["unlock", "--key", path.join(ROOT, "sim", "demo", "issuer.key"), "--broker", url, "--box", BOX, "--timeout", "60"], () => false);
    const r = await u.done;
    box.off("message", onCmd);
    expect(r.out).toMatch(/accepted: unlocking; waiting for the latch/);
    expect(r.out).toMatch(/latch: unlocking/);
    expect(r.out).toMatch(/failed: the latch faulted \(jam\); way out: clear the cause, then lock/);
    expect(r.out).not.toMatch(/^done/m);
    expect(r.code).toBe(1);
  }, 90000);

  it("says when the broker is not there, and what to check", async () => {
    const r = await owner(["follow", "--broker", "mqtt://127.0.0.1:1", "--box", BOX], () => false).done;
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/cannot reach the broker at mqtt:\/\/127\.0\.0\.1:1: ECONNREFUSED: nothing is listening there: is the simulator \(`npm start`\) running/);
  }, 60000);
});

describe("what a remote unlock came to", () => {
  const id = "0123456789abcdef";
  const e = (type: string, reason: string, d: Record<string, string | number | boolean>) => ({ ep: 1, seq: 1, type, reason, t: 0, m: 0, d });
  it("is decided only by the latch's events for this command", () => {
    expect(unlockOutcome(e("latch", "open", { why: "unlocked", src: "mqtt:" + id }), id)).toEqual({ ok: true, text: "opened: the latch is open" });
    expect(unlockOutcome(e("latch", "open", { why: "unlocked", src: "ble" }), id)).toBeUndefined();
    expect(unlockOutcome(e("latch", "unlocking", { why: "command", src: "mqtt:" + id }), id)).toBeUndefined();
    expect(unlockOutcome(e("latch_refused", "low_battery", { op: "unlock", src: "mqtt:" + id }), id)!.text).toMatch(/^refused: low_battery: the battery is too low/);
    expect(unlockOutcome(e("latch", "locked", { why: "low_battery", src: "mqtt:" + id }), id)).toMatchObject({ ok: false, text: expect.stringMatching(/went back to locked \(low_battery: /) });
  });
});
