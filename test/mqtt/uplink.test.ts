import nacl from "tweetnacl";
import { VirtualClock } from "../../sim/clock";
import { SimFlash } from "../../sim/hw/flash";
import { SimRandom } from "../../sim/hw/system";
import { makeCommand, signCommand, timeArg } from "../../sim/owner/sign";
import { EventBus, BoxEvent } from "../../firmware/events";
import { Journal } from "../../firmware/store/journal";
import { crc32 } from "../../firmware/store/crc32";
import { WallClock } from "../../firmware/time/wallclock";
import { Command, revokeTarget } from "../../firmware/uplink/command";
import { Uplink } from "../../firmware/uplink/uplink";
import { MemNetwork, MemSocket } from "./memsocket";

const T0 = 1750000000;
const issuer = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(1));

function setup(
  wallAtBoot: number,
  networkTime?: (cb: (err: string | undefined, t?: number) => void) => void,
  execute?: (cmd: Command, done: (err?: string) => void) => void,
  flash = new SimFlash(),
) {
  const clock = new VirtualClock({ wallAtBoot });
  const net = new MemNetwork(clock);
  const bus = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  const seen: BoxEvent[] = [];
  bus.on((e) => seen.push(e));
  const journal = (prefix: string) => new Journal({ flash, prefix, segmentBytes: 1024, maxSegments: 3, crc32 });
  const wallclock = new WallClock({ clock, log: journal("ultime"), emit: (type, reason, d) => bus.emit(type, reason, d) });
  const pending: Array<{ cmd: Command; done: (err?: string) => void }> = [];
  const uplink = new Uplink({
    clock,
    random: new SimRandom({ seed: 3 }),
    events: bus,
    boxId: "KB-U",
    connect: net.factory,
    outboxLog: journal("ulev"),
    commandLog: journal("ulcmd"),
    wallclock,
    verify: (sig, msg, pk) => nacl.sign.detached.verify(msg, sig, pk),
    issuerKey: (id) => (id === 2 ? issuer.publicKey : undefined),
    execute: execute || ((cmd, done) => pending.push({ cmd, done })),
    telemetry: () => ({ bat: 3700, sig: -90, latch: "locked" }),
    telemetryMs: 60000,
    networkTime,
  });
  uplink.start();
  for (let i = 0; i < 100 && !(net.sockets.length && net.last.of("connect").length); i++) clock.advance(10);
  const sock = net.last;
  sock.reply({ cmd: "connack", sessionPresent: true, returnCode: 0 });
  clock.advance(50);
  return { clock, bus, seen, uplink, wallclock, pending, sock, flash };
}

function deliver(sock: MemSocket, payload: Uint8Array, messageId: number) {
  sock.reply({ cmd: "publish", topic: "kb/KB-U/cmd", payload, qos: 1, dup: false, retain: false, messageId });
}

const published = (sock: MemSocket, topic: string) => sock.of("publish").filter((p) => p.topic === topic).map((p) => Buffer.from(p.payload).toString());

describe("Uplink", () => {
  test("a command is acknowledged to the broker only after its effect is done, and its outcome is an event", () => {
    const t = setup(T0);
    t.wallclock.sync("net", T0);
    deliver(t.sock, signCommand(makeCommand({ kind: "revoke", keyId: 2, boxId: "KB-U", now: T0, arg: new Uint8Array(12).fill(4) }), issuer.secretKey), 11);
    t.clock.advance(50);
    expect(t.pending.map((p) => p.cmd.kind)).toEqual(["revoke"]);
    expect(revokeTarget(t.pending[0].cmd)).toEqual({ grantId: "0404040404040404", until: 0x04040404 });
    expect(t.sock.of("puback").filter((p) => p.messageId === 11)).toEqual([]);
    t.clock.advance(5000); // still persisting
    expect(t.sock.of("puback").filter((p) => p.messageId === 11)).toEqual([]);
    t.pending[0].done();
    t.clock.advance(50);
    expect(t.sock.of("puback").filter((p) => p.messageId === 11).length).toBe(1);
    expect(published(t.sock, "kb/KB-U/reply").map((r) => JSON.parse(r))).toEqual([{ id: t.pending[0].cmd.id, ok: true, reason: "done" }]);
    expect(t.seen.filter((e) => e.type === "cmd").map((e) => e.reason)).toEqual(["done"]);
  });

  test("a command whose effect throws is acknowledged and refused; after a reboot its redelivery is refused as a replay", () => {
    let runs = 0;
    const boom = () => {
      runs++;
      throw new Error("effect failed");
    };
    const t = setup(T0, undefined, boom);
    t.wallclock.sync("net", T0);
    const cmd = signCommand(makeCommand({ kind: "config", keyId: 2, boxId: "KB-U", now: T0, arg: Buffer.from("{}") }), issuer.secretKey);
    deliver(t.sock, cmd, 21);
    t.clock.advance(50);
    expect(t.sock.of("puback").map((p) => p.messageId)).toContain(21);
    expect(t.sock.closed).toBe(false);
    expect(published(t.sock, "kb/KB-U/reply").map((r) => JSON.parse(r).reason)).toEqual(["cmd_failed"]);
    // the box reboots before the broker saw the PUBACK: the broker sends it again
    t.uplink.close();
    const u = setup(T0, undefined, boom, t.flash);
    u.wallclock.sync("net", T0);
    deliver(u.sock, cmd, 21);
    u.clock.advance(50);
    expect(runs).toBe(1);
    expect(u.sock.of("puback").map((p) => p.messageId)).toContain(21);
    expect(published(u.sock, "kb/KB-U/reply").map((r) => JSON.parse(r).reason)).toEqual(["cmd_replay"]);
  });

  test("with the clock unknown, a signed time command sets it and other commands are refused", () => {
    const t = setup(0);
    const unlock = signCommand(makeCommand({ kind: "unlock", keyId: 2, boxId: "KB-U", now: T0 }), issuer.secretKey);
    deliver(t.sock, unlock, 1);
    t.clock.advance(50);
    expect(t.pending).toEqual([]);
    deliver(t.sock, signCommand(makeCommand({ kind: "time", keyId: 2, boxId: "KB-U", now: T0, ttlS: 60, arg: timeArg(T0) }), issuer.secretKey), 2);
    t.clock.advance(50);
    expect(t.wallclock.state().known).toBe(true);
    expect(Math.abs(t.wallclock.state().now - T0)).toBeLessThan(1);
    const replies = published(t.sock, "kb/KB-U/reply").map((r) => JSON.parse(r).reason);
    expect(replies).toEqual(["cmd_clock_unknown", "done"]);
    expect(t.seen.filter((e) => e.type === "time").map((e) => e.reason)).toEqual(["set"]);
  });

  test("network time is asked once the link is up and sets the clock", () => {
    const asked: number[] = [];
    const t = setup(0, (cb) => {
      asked.push(1);
      cb(undefined, T0 + 42);
    });
    expect(asked.length).toBe(1);
    expect(t.wallclock.state().known).toBe(true);
    expect(Math.round(t.wallclock.state().now)).toBe(T0 + 42);
    expect(t.seen.filter((e) => e.type === "time").map((e) => e.reason)).toEqual(["set"]);
  });

  test("telemetry goes out at QoS 0 while connected; events go out at QoS 1 with their sequence numbers", () => {
    const t = setup(T0);
    t.bus.emit("latch", "locked");
    t.clock.advance(60000);
    const tel = published(t.sock, "kb/KB-U/telemetry").map((s) => JSON.parse(s));
    expect(tel[0]).toMatchObject({ bat: 3700, sig: -90, latch: "locked" });
    const evs = t.sock.of("publish").filter((p) => p.topic === "kb/KB-U/events");
    expect(evs.every((p) => p.qos === 1)).toBe(true);
    expect(evs.map((p) => JSON.parse(Buffer.from(p.payload).toString())).map((e) => [e.seq, e.type])).toEqual([
      [1, "link"],
      [2, "latch"],
    ]);
    expect(published(t.sock, "kb/KB-U/status")).toEqual(["online"]);
  });
});

describe("openUplink / openWallClock (the wiring main.ts uses)", () => {
  test("open their journals on flash, survive a reboot, and close cleanly", () => {
    const { openUplink, openWallClock, UPLINK_JOURNALS } = require("../../firmware/uplink/wire") as typeof import("../../firmware/uplink/wire");
    const clock = new VirtualClock({ wallAtBoot: T0 });
    const flash = new SimFlash();
    const boot = () => {
      const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
      const wallclock = openWallClock({ clock, flash, crc32, events });
      const net = new MemNetwork(clock);
      const uplink = openUplink({
        clock, flash, crc32, events, wallclock, boxId: "KB-W", random: new SimRandom(), connect: net.factory,
        verify: () => false, issuerKey: () => undefined, execute: (_c, done) => done(),
        telemetry: () => ({ bat: 1, sig: null, latch: "locked" }),
      });
      return { events, wallclock, uplink };
    };
    let b = boot();
    b.wallclock.sync("net", T0 + 5);
    b.events.emit("access", "granted", { n: 1 });
    b.events.emit("access", "granted", { n: 2 });
    b.uplink.close();
    b.uplink.close();
    b.wallclock.close();
    const names = flash.list("");
    // the command journal stays unallocated until a command arrives
    for (const j of [UPLINK_JOURNALS.outbox, UPLINK_JOURNALS.time]) expect(names.some((n) => n.startsWith(j.prefix + "~"))).toBe(true);
    b = boot();
    // time/set and the two access events, all still undelivered (no broker here)
    expect(b.uplink.outbox.peek(0, 10).map((x) => JSON.parse(Buffer.from(x.payload).toString()).type)).toEqual(["time", "access", "access"]);
    expect(b.uplink.outbox.nextSeq).toBe(4);
    expect(b.wallclock.state().known).toBe(true);
    b.uplink.close();
    b.wallclock.close();
    expect(clock.pending()).toBe(0);
  });
});
