import { Clock, Handle, Random } from "../../hal";
import { BoxEvent, EventBus } from "../events";
import { MqttClient, SocketFactory } from "../mqtt/client";
import { utf8Encode } from "../mqtt/codec";
import { WallClock } from "../time/wallclock";
import { Command, CommandGuard, commandHead, commandTime } from "./command";
import { Outbox, RecordLog } from "./outbox";
import { Telemetry, Topics, topicsFor } from "./topics";

export interface UplinkOptions {
  clock: Clock;
  random: Random;
  events: EventBus;
  boxId: string;
  /** Opens a TCP stream to the broker (the BG96 driver on the device). */
  connect: SocketFactory;
  username?: string;
  password?: Uint8Array;
  /** Journal for the event outbox. */
  outboxLog: RecordLog;
  /** Journal for executed command ids. */
  commandLog: RecordLog;
  wallclock: WallClock;
  verify: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;
  issuerKey: (keyId: number) => Uint8Array | undefined;
  /**
   * Runs a grant, revoke, unlock or config command (time commands are
   * applied here). Call done() once the effect is persisted, or done(code)
   * when refused; the broker gets its acknowledgement only then.
   */
  execute: (cmd: Command, done: (err?: string) => void) => void;
  telemetry: () => Telemetry;
  telemetryMs?: number;
  /** Network time (the BG96's +QLTS), asked after a link comes up when the last answer is older than netTimeEveryMs. */
  networkTime?: (cb: (err: string | undefined, unixSeconds?: number) => void) => void;
  /** Default 6 hours. */
  netTimeEveryMs?: number;
  outboxCapacity?: number;
  /** Bytes the outbox's journal can always take in one rewrite (outboxBytes of its plan). */
  outboxBytes?: number;
  /** QoS 1 events in flight at once (default 4). */
  window?: number;
  keepaliveS?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  log?: (line: string) => void;
}

/** Outbox sequence numbers map onto packet ids 1..32767; the window is far smaller than that, so ids never collide. */
function idFor(seq: number): number {
  return ((seq - 1) % 32767) + 1;
}

/**
 * The box's cellular uplink: every event on the bus into the durable
 * outbox and on to the broker, telemetry while connected, and signed owner
 * commands in. Link up/down are events ("link"); every command outcome is an
 * event ("cmd", reason = "done" or the refusal code, {id, kind}).
 */
export class Uplink {
  readonly outbox: Outbox;
  readonly client: MqttClient;
  readonly topics: Topics;
  private readonly o: UplinkOptions;
  private readonly guard: CommandGuard;
  private readonly window: number;
  private handed = 0;
  private flying = 0;
  private wasUp = false;
  private netTimeAt = -1;
  private subs: Handle[] = [];
  private closed = false;

  constructor(options: UplinkOptions) {
    if (!options || !options.events || !options.clock || !options.wallclock || typeof options.execute !== "function") throw new Error("uplink_options");
    const w = options.window === undefined ? 4 : options.window;
    if (!(w >= 1 && w <= 16)) throw new Error("uplink_window");
    this.o = options;
    this.window = w;
    this.topics = topicsFor(options.boxId);
    this.outbox = new Outbox({ log: options.outboxLog, random: options.random, capacity: options.outboxCapacity, bytes: options.outboxBytes });
    this.guard = new CommandGuard({
      boxId: options.boxId,
      verify: options.verify,
      issuerKey: options.issuerKey,
      time: function () {
        return options.wallclock.state();
      },
      log: options.commandLog,
    });
    const self = this;
    this.client = new MqttClient({
      clock: options.clock,
      random: options.random,
      connect: options.connect,
      clientId: ("kb-" + options.boxId).substr(0, 23),
      username: options.username,
      password: options.password,
      will: { topic: this.topics.status, payload: utf8Encode("offline"), qos: 1, retain: true },
      subscriptions: [{ topic: this.topics.cmd, qos: 1 }],
      keepaliveS: options.keepaliveS,
      backoffMinMs: options.backoffMinMs,
      backoffMaxMs: options.backoffMaxMs,
      onMessage: function (topic, payload, done) {
        self.command(topic, payload, done);
      },
      onOversize: function (topic, head, size, done) {
        self.oversize(topic, head, size, done);
      },
      onState: function (state, reason) {
        self.linkState(state, reason);
      },
    });
    this.subs.push(
      options.events.on(function (e: BoxEvent) {
        self.record(e);
      }),
    );
    const every = options.telemetryMs === undefined ? 900000 : options.telemetryMs;
    this.subs.push(
      options.clock.every(every, function () {
        self.sendTelemetry();
      }),
    );
  }

  /** Brings the link up (and keeps it up, reconnecting with back-off). */
  start(): void {
    this.client.start();
  }

  /** Takes the link down cleanly, e.g. before the modem sleeps; events keep queueing durably. */
  stop(): void {
    this.client.stop();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.subs.length; i++) this.subs[i].cancel();
    this.subs = [];
    this.client.close();
    this.outbox.close();
    this.o.outboxLog.close();
    this.o.commandLog.close();
  }

  private log(line: string): void {
    if (this.o.log) this.o.log(line);
  }

  private record(e: BoxEvent): void {
    if (this.closed) return;
    const err = this.outbox.push(e);
    if (err) this.log("outbox: " + err + " for " + e.type + "/" + e.reason);
    this.pump();
  }

  private pump(): void {
    if (this.closed || !this.client.up) return;
    const items = this.outbox.peek(this.handed, this.window - this.flying);
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      this.handed = it.seq;
      this.flying++;
      const err = this.client.publish({ topic: this.topics.events, payload: it.payload, qos: 1, id: idFor(it.seq), dup: it.dup }, (e) => {
        this.flying--;
        if (!e) this.outbox.ack(it.seq);
        this.pump();
      });
      if (err) {
        this.flying--;
        this.log("uplink: publish " + err);
      }
    }
  }

  private linkState(state: string, reason: string): void {
    if (state === "up") {
      this.wasUp = true;
      this.client.publish({ topic: this.topics.status, payload: utf8Encode("online"), qos: 1, retain: true });
      this.o.events.emit("link", "up", { session: reason });
      this.pump();
      this.askNetworkTime();
    } else if (state === "down" || state === "idle") {
      // the session's acks become durable once it ends (the outbox batches them)
      this.outbox.flush();
      if (this.wasUp) this.o.events.emit("link", "down", { why: reason });
      else this.log("uplink: " + state + " " + reason);
      this.wasUp = false;
    } else this.log("uplink: " + state + " " + reason);
  }

  private askNetworkTime(): void {
    const ask = this.o.networkTime;
    const every = this.o.netTimeEveryMs === undefined ? 6 * 3600000 : this.o.netTimeEveryMs;
    const now = this.o.clock.monotonic();
    if (!ask || (this.netTimeAt >= 0 && now - this.netTimeAt < every)) return;
    this.netTimeAt = now;
    ask((err, t) => {
      if (this.closed) return;
      if (err || t === undefined) this.log("uplink: network time " + (err || "none"));
      else this.o.wallclock.sync("net", t);
    });
  }

  private sendTelemetry(): void {
    if (!this.client.up) return;
    const t = this.o.telemetry();
    const w = this.o.wallclock.state();
    const s = JSON.stringify({ bat: t.bat, sig: t.sig, latch: t.latch, t: Math.floor(w.now), known: w.known, q: this.outbox.size });
    this.client.publish({ topic: this.topics.telemetry, payload: utf8Encode(s), qos: 0 });
  }

  /*
   * Every command message ends in exactly one outcome and one PUBACK, so a
   * poison message (too large, malformed, or one whose effect throws) is
   * refused once with a reason instead of being redelivered forever. Its id
   * is recorded before its effect runs: a command that crashes the box is
   * refused as a replay when the broker delivers it again after the reboot.
   */
  private command(topic: string, payload: Uint8Array, done: () => void): void {
    if (topic !== this.topics.cmd) {
      done();
      return;
    }
    const out = { id: "" };
    let c: Command | string = "cmd_failed";
    try {
      c = this.guard.admit(payload, out);
    } catch (e) {
      this.log("uplink: command check threw " + e);
    }
    if (typeof c === "string") {
      this.finish(out.id, "", c, done);
      return;
    }
    const cmd = c;
    if (cmd.kind === "time") {
      this.finish(cmd.id, cmd.kind, this.o.wallclock.sync("cmd", commandTime(cmd)), done);
      return;
    }
    let once = false;
    const end = (err?: string) => {
      if (once) return;
      once = true;
      this.finish(cmd.id, cmd.kind, err, done);
    };
    try {
      this.o.execute(cmd, end);
    } catch (e) {
      this.log("uplink: command threw " + e);
      end("cmd_failed");
    }
  }

  private oversize(topic: string, head: Uint8Array, size: number, done: () => void): void {
    if (topic !== this.topics.cmd) {
      done();
      return;
    }
    const h = commandHead(head);
    this.log("uplink: command of " + size + " bytes refused");
    this.finish(h.id, h.kind, "cmd_too_big", done, size);
  }

  /** Records the outcome (durably, through the outbox), replies, then lets the broker have its PUBACK. */
  private finish(id: string, kind: string, err: string | undefined, done: () => void, size?: number): void {
    const reason = err || "done";
    const d: { [k: string]: string | number } = { id: id, kind: kind };
    if (size !== undefined) d.size = size;
    this.o.events.emit("cmd", reason, d);
    const reply = '{"id":' + JSON.stringify(id) + ',"ok":' + (err ? "false" : "true") + ',"reason":' + JSON.stringify(reason) + "}";
    this.client.publish({ topic: this.topics.reply, payload: utf8Encode(reply), qos: 1 });
    done();
  }
}
