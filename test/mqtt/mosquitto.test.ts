import mqtt from "mqtt";
import nacl from "tweetnacl";
import { Handle } from "../../hal";
import { VirtualClock } from "../../sim/clock";
import { SimFlash } from "../../sim/hw/flash";
import { SimRandom } from "../../sim/hw/system";
import { tcpSocketFactory } from "../../sim/net/tcp-socket";
import { makeCommand, signCommand } from "../../sim/owner/sign";
import { EventBus } from "../../firmware/events";
import { Journal } from "../../firmware/store/journal";
import { crc32 } from "../../firmware/store/crc32";
import { ByteSocket } from "../../firmware/net/socket";
import { SocketFactory } from "../../firmware/mqtt/client";
import { WallClock } from "../../firmware/time/wallclock";
import { Command } from "../../firmware/uplink/command";
import { Uplink, UplinkOptions } from "../../firmware/uplink/uplink";
import { topicsFor } from "../../firmware/uplink/topics";
import { findMosquitto, freePort, Mosquitto } from "./mosquitto";

const BOX = "KB-IT";
const T0 = 1750000000;
const topics = topicsFor(BOX);
const issuer = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(3));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How the next events PUBLISH is sabotaged: cut half-way, or delivered but its PUBACK never seen. */
type Sabotage = "none" | "half" | "lose_ack";

/** A ByteSocket in front of the real one, to break the link at exact points of the protocol. */
class Saboteur implements ByteSocket {
  private deaf = false;
  private dead = false;
  constructor(private readonly inner: ByteSocket, private readonly plan: { next: Sabotage; hits: string[] }) {}

  write(data: Uint8Array, cb?: (err?: string) => void): void {
    if (this.dead) {
      // nothing after the cut point reaches the wire, as on a real broken link
      if (cb) setImmediate(() => cb("cut"));
      return;
    }
    const isEventPublish = data[0] >> 4 === 3 && Buffer.from(data).includes(Buffer.from(topics.events));
    const mode = isEventPublish ? this.plan.next : "none";
    if (mode === "half") {
      this.plan.next = "none";
      this.plan.hits.push("half");
      this.dead = true;
      this.inner.write(data.subarray(0, data.length >> 1), () => this.inner.close());
      if (cb) setImmediate(() => cb("cut"));
      return;
    }
    if (mode === "lose_ack") {
      this.plan.next = "none";
      this.plan.hits.push("lose_ack");
      this.deaf = true;
      this.inner.write(data, (e) => {
        if (cb) cb(e);
        setTimeout(() => this.inner.close(), 100);
      });
      return;
    }
    this.inner.write(data, cb);
  }
  onData(cb: (data: Uint8Array) => void): Handle {
    return this.inner.onData((d) => {
      if (!this.deaf) cb(d);
    });
  }
  onClose(cb: (reason: string) => void): Handle {
    return this.inner.onClose(cb);
  }
  close(): void {
    this.inner.close();
  }
}

/** The uplink as the box runs it, on journals in flash, executing every command after delayMs. */
function boxUplink(
  o: { clock: VirtualClock; flash: SimFlash; random: SimRandom; bus: EventBus; wallclock: WallClock; boxId: string; connect: SocketFactory; executed: Command[]; delayMs: number },
  extra: Partial<UplinkOptions> = {},
): Uplink {
  const journal = (prefix: string, seg: number, n: number) => new Journal({ flash: o.flash, prefix, segmentBytes: seg, maxSegments: n, crc32 });
  return new Uplink({
    clock: o.clock,
    random: o.random,
    events: o.bus,
    boxId: o.boxId,
    connect: o.connect,
    outboxLog: journal("ulev", 2048, 4),
    commandLog: journal("ulcmd", 256, 2),
    wallclock: o.wallclock,
    verify: (sig, msg, pk) => nacl.sign.detached.verify(msg, sig, pk),
    issuerKey: (id) => (id === 1 ? issuer.publicKey : undefined),
    execute: (cmd, done) => {
      o.executed.push(cmd);
      if (o.delayMs) o.clock.after(o.delayMs, () => done());
      else done();
    },
    telemetry: () => ({ bat: 3900, sig: -85, latch: "locked" }),
    keepaliveS: 60,
    backoffMinMs: 1000,
    backoffMaxMs: 8000,
    ...extra,
  });
}

const bin = findMosquitto();
const ci = process.env.CI === "true";

if (!bin && ci) {
  test("mosquitto is installed (required in CI)", () => {
    throw new Error("mosquitto not found on PATH or in /usr/sbin: install the Debian package 'mosquitto' (apt-get install -y mosquitto)");
  });
}

(bin ? describe : describe.skip)("uplink against a real mosquitto broker", () => {
  let broker: Mosquitto;
  let owner: mqtt.MqttClient;
  const raw: any[] = [];
  const replies: any[] = [];

  beforeAll(async () => {
    broker = new Mosquitto(bin as string, await freePort());
    await broker.start();
    owner = mqtt.connect({ host: "127.0.0.1", port: broker.port, clientId: "owner-it", clean: false, protocolVersion: 4, reconnectPeriod: 100 });
    owner.on("message", (topic, payload) => {
      if (topic === topics.events) raw.push(JSON.parse(payload.toString()));
      if (topic === topics.reply) replies.push(JSON.parse(payload.toString()));
    });
    // mqtt.js rejects the next call while it reconnects; errors are expected during the broker restart
    owner.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      owner.once("connect", () => owner.subscribe([topics.events, topics.reply], { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    });
  });

  afterAll(async () => {
    if (owner) await new Promise<void>((r) => owner.end(true, {}, () => r()));
    if (broker) await broker.dispose();
  });

  test("no event is lost and duplicates are harmless across a broker restart, socket cuts and a reboot", async () => {
    const clock = new VirtualClock({ wallAtBoot: T0 });
    const flash = new SimFlash({ capacity: 256 * 1024 });
    const random = new SimRandom({ seed: 42 });
    const plan = { next: "none" as Sabotage, hits: [] as string[] };
    const tcp = tcpSocketFactory({ host: "127.0.0.1", port: broker.port, timeoutMs: 2000 });
    const connect: SocketFactory = (cb) => tcp((err, s) => cb(err, s ? new Saboteur(s, plan) : undefined));
    const executed: Command[] = [];

    let bus!: EventBus;
    let uplink!: Uplink;
    const boot = () => {
      bus = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
      const wallclock = new WallClock({ clock, log: new Journal({ flash, prefix: "ultime", segmentBytes: 128, maxSegments: 2, crc32 }) });
      wallclock.sync("net", T0);
      uplink = boxUplink({ clock, flash, random, bus, wallclock, boxId: BOX, connect, executed, delayMs: 50 }, {
        telemetryMs: 20000,
        log: process.env.KB_DEBUG ? (l) => console.log(clock.monotonic(), l) : undefined,
      });
      uplink.start();
    };
    const until = async (cond: () => boolean, what: string, ms = 15000) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) {
          const got = JSON.stringify(raw.map((e) => [e.seq, e.type, e.reason]));
          throw new Error("timed out waiting for " + what + "\nowner saw " + got + "\nbroker log:\n" + broker.log().slice(-3000));
        }
        clock.advance(100);
        await sleep(4);
      }
    };
    let n = 0;
    const emitAccess = (k: number) => {
      for (let i = 0; i < k; i++) {
        n++;
        bus.emit("access", "granted", { n });
      }
    };
    const uniqueSeqs = () => new Set(raw.map((e) => e.ep + ":" + e.seq)).size;
    const seen = (k: number) => () => raw.some((e) => e.type === "access" && e.d.n === k);

    boot();
    await until(() => uplink.client.up, "first connect");
    emitAccess(5);
    await until(seen(5), "first batch");

    // broker restart mid-session: events recorded while it is down are queued durably
    await broker.stop();
    emitAccess(4);
    await until(() => !uplink.client.up, "link down");
    clock.advance(20000);
    await sleep(50);
    await broker.start();
    await until(seen(9), "events recorded while the broker was down", 20000);

    // a socket cut half-way through a PUBLISH
    plan.next = "half";
    emitAccess(3);
    await until(seen(12), "events after a cut mid-publish");

    // a PUBLISH that reached the broker but whose PUBACK never came back: sent again with DUP
    plan.next = "lose_ack";
    emitAccess(3);
    await until(seen(15), "events after a lost PUBACK");
    await until(() => uplink.outbox.size === 0, "outbox drained");
    expect(plan.hits).toEqual(["half", "lose_ack"]);

    // reboot with undelivered events: the link is down, the box restarts, the outbox survives
    await broker.stop();
    emitAccess(2);
    uplink.close();
    await broker.start();
    boot();
    emitAccess(1);
    await until(seen(18), "events from before the reboot", 20000);

    // a signed remote unlock runs once; its replay does nothing
    const cmd = signCommand(makeCommand({ kind: "unlock", keyId: 1, boxId: BOX, now: Math.floor(clock.wall()), ttlS: 600 }), issuer.secretKey);
    owner.publish(topics.cmd, Buffer.from(cmd), { qos: 1 });
    await until(() => replies.length >= 1, "command reply");
    owner.publish(topics.cmd, Buffer.from(cmd), { qos: 1 });
    await until(() => replies.length >= 2, "replay reply");
    expect(replies.map((r) => [r.ok, r.reason])).toEqual([
      [true, "done"],
      [false, "cmd_replay"],
    ]);
    expect(executed.length).toBe(1);
    await until(() => raw.some((e) => e.type === "cmd" && e.reason === "cmd_replay"), "command events");

    // the owner's view: de-duplicated by (epoch, seq), every sequence number once, in order
    const firstSeen: any[] = [];
    const keys = new Set<string>();
    for (const e of raw) {
      const key = e.ep + ":" + e.seq;
      if (keys.has(key)) continue;
      keys.add(key);
      firstSeen.push(e);
    }
    const seqs = firstSeen.map((e) => e.seq);
    expect(seqs).toEqual(seqs.slice().sort((a, b) => a - b));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const ns = firstSeen.filter((e) => e.type === "access").map((e) => e.d.n);
    expect(ns).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(raw.length).toBeGreaterThan(uniqueSeqs()); // duplicates did happen, and de-duplication absorbed them
    expect(firstSeen.some((e) => e.type === "link" && e.reason === "down")).toBe(true);
    uplink.close();
  }, 90000);

  test("a 5 KB command, queued or retained, is acknowledged and refused once; the link stays up and later commands run", async () => {
    const box = "KB-PZ";
    const tp = topicsFor(box);
    const got: any[] = [];
    const events: any[] = [];
    const sub = mqtt.connect({ host: "127.0.0.1", port: broker.port, clientId: "owner-pz", clean: true, protocolVersion: 4, reconnectPeriod: 100 });
    sub.on("error", () => undefined);
    sub.on("message", (topic, payload) => {
      if (topic === tp.reply) got.push(JSON.parse(payload.toString()));
      if (topic === tp.events) events.push(JSON.parse(payload.toString()));
    });
    await new Promise<void>((resolve, reject) => sub.once("connect", () => sub.subscribe([tp.reply, tp.events], { qos: 1 }, (e) => (e ? reject(e) : resolve()))));
    const clock = new VirtualClock({ wallAtBoot: T0 });
    const flash = new SimFlash({ capacity: 256 * 1024 });
    const journal = (prefix: string, seg: number, n: number) => new Journal({ flash, prefix, segmentBytes: seg, maxSegments: n, crc32 });
    const bus = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
    const wallclock = new WallClock({ clock, log: new Journal({ flash, prefix: "ultime", segmentBytes: 128, maxSegments: 2, crc32 }) });
    wallclock.sync("net", T0);
    const executed: Command[] = [];
    const states: string[] = [];
    const uplink = boxUplink({ clock, flash, random: new SimRandom({ seed: 5 }), bus, wallclock, boxId: box, connect: tcpSocketFactory({ host: "127.0.0.1", port: broker.port, timeoutMs: 2000 }), executed, delayMs: 0 });
    bus.on((e) => {
      if (e.type === "link") states.push(e.reason + ":" + (e.d ? e.d.why || e.d.session : ""));
    });
    const until = async (cond: () => boolean, what: string) => {
      const end = Date.now() + 15000;
      while (!cond()) {
        if (Date.now() > end) throw new Error("timed out waiting for " + what + "; replies " + JSON.stringify(got) + "\n" + broker.log().slice(-2000));
        clock.advance(100);
        await sleep(4);
      }
    };
    const now = () => Math.floor(clock.wall());
    const poison = () => {
      const valid = signCommand(makeCommand({ kind: "config", keyId: 1, boxId: box, now: now(), arg: new Uint8Array(1000).fill(0x20) }), issuer.secretKey);
      const big = new Uint8Array(5200);
      big.set(valid);
      return big;
    };
    const idOf = (b: Uint8Array) => Buffer.from(b.subarray(5 + box.length, 13 + box.length)).toString("hex");
    const unlock = () => signCommand(makeCommand({ kind: "unlock", keyId: 1, boxId: box, now: now(), ttlS: 600 }), issuer.secretKey);
    try {
      uplink.start();
      await until(() => uplink.client.up, "first connect");
      await until(() => events.some((e) => e.type === "link" && e.reason === "up"), "subscription live");
      // queued while the box is away: the broker delivers it on reconnect
      uplink.stop();
      await until(() => !uplink.client.up, "stopped");
      const queued = poison();
      const u1 = unlock();
      sub.publish(tp.cmd, Buffer.from(queued), { qos: 1 });
      sub.publish(tp.cmd, Buffer.from(u1), { qos: 1 });
      await sleep(100);
      uplink.start();
      await until(() => got.length >= 2, "replies to the queued commands");
      expect(got.slice(0, 2)).toEqual([
        { id: idOf(queued), ok: false, reason: "cmd_too_big" },
        { id: idOf(u1), ok: true, reason: "done" },
      ]);
      // retained, published while connected
      const retained = poison();
      sub.publish(tp.cmd, Buffer.from(retained), { qos: 1, retain: true });
      await until(() => got.length >= 3, "reply to the retained command");
      expect(got[2]).toEqual({ id: idOf(retained), ok: false, reason: "cmd_too_big" });
      // the link never dropped, and a reconnect brings no redelivery
      expect(states.filter((r) => r.indexOf("down") === 0)).toEqual(["down:stopped"]);
      // QoS 1 is at least once: a reply still waiting for its PUBACK at the stop is sent again, legitimately
      await until(() => uplink.client.pending === 0, "the broker's PUBACKs for the replies");
      uplink.stop();
      await until(() => !uplink.client.up, "stopped again");
      uplink.start();
      await until(() => uplink.client.up, "reconnect");
      const u2 = unlock();
      sub.publish(tp.cmd, Buffer.from(u2), { qos: 1 });
      await until(() => got.length >= 4, "a later command");
      expect(got[3]).toEqual({ id: idOf(u2), ok: true, reason: "done" });
      expect(got.filter((r) => r.reason === "cmd_too_big").length).toBe(2);
      expect(executed.map((c) => c.kind)).toEqual(["unlock", "unlock"]);
      await until(() => events.filter((e) => e.type === "cmd").length >= 4, "command events");
      expect(events.filter((e) => e.type === "cmd").map((e) => [e.reason, e.d.kind])).toEqual([
        ["cmd_too_big", "config"],
        ["done", "unlock"],
        ["cmd_too_big", "config"],
        ["done", "unlock"],
      ]);
      expect(events.find((e) => e.reason === "cmd_too_big").d.size).toBeGreaterThan(4096);
    } finally {
      uplink.close();
      await new Promise<void>((r) => sub.publish(tp.cmd, Buffer.alloc(0), { qos: 1, retain: true }, () => r()));
      await new Promise<void>((r) => sub.end(true, {}, () => r()));
    }
  }, 60000);
});
