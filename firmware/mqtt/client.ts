import { Clock, Handle, Random } from "../../hal";
import { ByteSocket } from "../net/socket";
import { encode, Packet, Parser, Publish, Will } from "./codec";

/**
 * Opens a fresh byte stream to the broker (the BG96 driver's TCP socket on
 * the device, a Node socket on the desktop). Calls cb exactly once, never
 * synchronously: with an error code, or with the open socket.
 */
export type SocketFactory = (cb: (err: string | undefined, socket?: ByteSocket) => void) => void;

export interface OutMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  retain?: boolean;
  /** Packet id chosen by a persistent store (1..32767); otherwise the client picks one from 32768..65535. */
  id?: number;
  /** The message may have reached the broker before (e.g. sent before a reboot). */
  dup?: boolean;
}

export interface MqttClientOptions {
  clock: Clock;
  random: Random;
  connect: SocketFactory;
  clientId: string;
  username?: string;
  password?: Uint8Array;
  will?: Will;
  /** Subscribed (again) whenever the broker reports it has no session for us. */
  subscriptions?: Array<{ topic: string; qos: number }>;
  keepaliveS?: number;
  /** How long to wait for PINGRESP before calling the link dead. */
  pingTimeoutMs?: number;
  connackTimeoutMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /**
   * A link counts as good once it stayed up this long (default 60 s): only
   * then does the back-off start again from backoffMinMs. A broker that
   * accepts and then drops the link at once is retried ever more slowly.
   */
  stableMs?: number;
  maxPacket?: number;
  /**
   * An application message. For QoS 1 the broker gets its PUBACK only once
   * done() is called, so call it after the message's effect is persisted.
   */
  onMessage: (topic: string, payload: Uint8Array, done: () => void) => void;
  /**
   * An application message larger than maxPacket: its body was skipped
   * unread, head holds its first bytes and size its payload's whole length.
   * QoS 1 gets its PUBACK once done() is called (without this option, at
   * once), so the broker never redelivers it.
   */
  onOversize?: (topic: string, head: Uint8Array, size: number, done: () => void) => void;
  /** Link state changes: "connecting", "up", "down" (with a reason code), "idle". */
  onState?: (state: string, reason: string) => void;
}

interface Inflight {
  m: OutMessage;
  id: number;
  sent: boolean;
  cb?: (err?: string) => void;
}

const S_IDLE = 0;
const S_OPENING = 1;
const S_CONNECTING = 2;
const S_UP = 3;
const S_WAIT = 4;
const S_CLOSED = 5;

/** How many recently acknowledged incoming ids are remembered to recognise redeliveries. */
const RECENT = 8;

/**
 * MQTT 3.1.1 client, persistent session (clean session off). Link states:
 *   idle --start--> opening --socket--> connecting --CONNACK 0--> up
 *   opening/connecting/up --error/close/timeout--> wait --back-off--> opening
 *   any --stop--> idle (DISCONNECT sent when up); any --close--> closed
 * The back-off doubles per failed attempt up to backoffMaxMs and restarts
 * only after a link that stayed up stableMs (or an explicit start()).
 * QoS 1 publishes stay in flight, in order, across link drops and are sent
 * again with DUP when the link comes back, until PUBACK.
 */
export class MqttClient {
  private readonly o: MqttClientOptions;
  private readonly keepaliveMs: number;
  private state = S_IDLE;
  private sock: ByteSocket | undefined;
  private subs: Handle[] = [];
  private gen = 0;
  private parser: Parser;
  private timer: Handle | undefined;
  private pingTimer: Handle | undefined;
  private attempt = 0;
  private upAt = 0;
  private lastTx = 0;
  private inflight: Inflight[] = [];
  private nextId = 32768;
  private subId = 0;
  private pendingIn: { [id: string]: boolean } = {};
  private recent: string[] = [];

  constructor(options: MqttClientOptions) {
    if (!options || !options.clock || !options.random || typeof options.connect !== "function") throw new Error("mqtt_options");
    if (typeof options.clientId !== "string" || !options.clientId.length || options.clientId.length > 23) throw new Error("mqtt_client_id");
    if (typeof options.onMessage !== "function") throw new Error("mqtt_options");
    const ka = options.keepaliveS === undefined ? 120 : options.keepaliveS;
    if (!(ka >= 10 && ka <= 65535)) throw new Error("mqtt_keepalive");
    this.o = options;
    this.keepaliveMs = ka * 1000;
    this.parser = new Parser({ maxPacket: options.maxPacket });
  }

  /** True while CONNACK has been received and the link has not dropped. */
  get up(): boolean {
    return this.state === S_UP;
  }

  /** Messages waiting for PUBACK. */
  get pending(): number {
    return this.inflight.length;
  }

  /** Starts connecting (no-op unless idle). */
  start(): void {
    if (this.state !== S_IDLE) return;
    this.attempt = 0;
    this.open();
  }

  /** Disconnects cleanly (no last will) and stays idle; in-flight messages are kept. */
  stop(): void {
    if (this.state === S_CLOSED || this.state === S_IDLE) return;
    const sock = this.sock;
    if (this.state === S_UP && sock) {
      // the socket closes once DISCONNECT is out, so the broker does not publish the will
      this.sock = undefined;
      const bytes = encode({ cmd: "disconnect" }) as Uint8Array;
      sock.write(bytes, function () {
        sock.close();
      });
    }
    this.teardown();
    this.state = S_IDLE;
    this.report("idle", "stopped");
  }

  /**
   * Queues a publish. QoS 1: cb runs on PUBACK; the message survives link
   * drops (not reboots: durability is the caller's store). QoS 0: cb runs
   * once written, or with "mqtt_offline" when there is no link. Returns an
   * error code when the message is refused at once (cb is then not called).
   */
  publish(m: OutMessage, cb?: (err?: string) => void): string | undefined {
    if (this.state === S_CLOSED) return "mqtt_closed";
    if (m.qos === 0) {
      if (this.state !== S_UP) {
        if (cb) this.o.clock.after(0, function () { cb("mqtt_offline"); });
        return undefined;
      }
      const p: Publish = { cmd: "publish", topic: m.topic, payload: m.payload, qos: 0, dup: false, retain: !!m.retain };
      return this.send(p, cb);
    }
    let id = m.id;
    if (id === undefined) id = this.allocId();
    else if (!(id >= 1 && id <= 32767)) return "mqtt_id";
    for (let i = 0; i < this.inflight.length; i++) if (this.inflight[i].id === id) return "mqtt_id_busy";
    const f: Inflight = { m: m, id: id, sent: false, cb: cb };
    this.inflight.push(f);
    if (this.state === S_UP) this.transmit(f);
    return undefined;
  }

  close(): void {
    if (this.state === S_CLOSED) return;
    this.teardown();
    this.state = S_CLOSED;
    this.inflight = [];
  }

  private allocId(): number {
    for (let tries = 0; tries < 32768; tries++) {
      const id = this.nextId;
      this.nextId = id >= 65535 ? 32768 : id + 1;
      let used = false;
      for (let i = 0; i < this.inflight.length; i++) if (this.inflight[i].id === id) used = true;
      if (!used && id !== this.subId) return id;
    }
    return 65535;
  }

  private report(state: string, reason: string): void {
    if (this.o.onState) this.o.onState(state, reason);
  }

  private open(): void {
    this.state = S_OPENING;
    const gen = ++this.gen;
    this.report("connecting", "attempt_" + this.attempt);
    this.o.connect((err, sock) => {
      if (gen !== this.gen || this.state !== S_OPENING) {
        if (sock) sock.close();
        return;
      }
      if (err || !sock) {
        this.drop(err || "socket_none");
        return;
      }
      this.attach(sock, gen);
    });
  }

  private attach(sock: ByteSocket, gen: number): void {
    this.sock = sock;
    this.parser.reset();
    this.state = S_CONNECTING;
    const self = this;
    this.subs.push(
      sock.onData(function (d) {
        if (gen === self.gen) self.receive(d);
      }),
    );
    this.subs.push(
      sock.onClose(function (reason) {
        if (gen === self.gen) self.drop("socket_" + reason);
      }),
    );
    const c: Packet = { cmd: "connect", clientId: this.o.clientId, keepalive: this.keepaliveMs / 1000, clean: false };
    if (this.o.will) c.will = this.o.will;
    if (this.o.username !== undefined) c.username = this.o.username;
    if (this.o.password !== undefined) c.password = this.o.password;
    const err = this.send(c);
    if (err) {
      this.drop(err);
      return;
    }
    this.arm(this.o.connackTimeoutMs === undefined ? 30000 : this.o.connackTimeoutMs, "mqtt_connack_timeout");
  }

  private arm(ms: number, reason: string): void {
    if (this.timer) this.timer.cancel();
    const gen = this.gen;
    this.timer = this.o.clock.after(ms, () => {
      if (gen === this.gen) this.drop(reason);
    });
  }

  private send(p: Packet, cb?: (err?: string) => void): string | undefined {
    const bytes = encode(p);
    if (typeof bytes === "string") return bytes;
    const sock = this.sock;
    if (!sock) return "mqtt_offline";
    this.lastTx = this.o.clock.monotonic();
    const gen = this.gen;
    sock.write(bytes, (err) => {
      if (err && gen === this.gen) this.drop("write_" + err);
      if (cb) cb(err ? "write_" + err : undefined);
    });
    return undefined;
  }

  private transmit(f: Inflight): void {
    const p: Publish = { cmd: "publish", topic: f.m.topic, payload: f.m.payload, qos: 1, dup: f.sent || !!f.m.dup, retain: !!f.m.retain, messageId: f.id };
    f.sent = true;
    const err = this.send(p);
    if (err) {
      // an unencodable message can never be delivered: give it back now
      this.inflight = this.inflight.filter(function (x) { return x !== f; });
      const cb = f.cb;
      if (cb) this.o.clock.after(0, function () { cb(err); });
    }
  }

  private receive(d: Uint8Array): void {
    const packets: Packet[] = [];
    const err = this.parser.feed(d, packets);
    for (let i = 0; i < packets.length && this.state !== S_CLOSED; i++) this.handle(packets[i]);
    if (err) this.drop(err);
  }

  private handle(p: Packet): void {
    switch (p.cmd) {
      case "connack":
        if (this.state !== S_CONNECTING) return this.drop("mqtt_unexpected");
        if (p.returnCode !== 0) return this.drop("mqtt_refused_" + p.returnCode);
        this.state = S_UP;
        this.upAt = this.o.clock.monotonic();
        if (this.timer) this.timer.cancel();
        this.timer = undefined;
        this.keepalive();
        if (!p.sessionPresent && this.o.subscriptions && this.o.subscriptions.length) {
          this.subId = this.allocId();
          this.send({ cmd: "subscribe", messageId: this.subId, subscriptions: this.o.subscriptions });
        }
        // redeliveries go out before anything the "up" report triggers, so order holds
        const list = this.inflight.slice();
        for (let i = 0; i < list.length && this.state === S_UP; i++) this.transmit(list[i]);
        if (this.state === S_UP) this.report("up", p.sessionPresent ? "session" : "new_session");
        return;
      case "puback":
        for (let i = 0; i < this.inflight.length; i++) {
          const f = this.inflight[i];
          if (f.id === p.messageId && f.sent) {
            this.inflight.splice(i, 1);
            if (f.cb) f.cb();
            return;
          }
        }
        return;
      case "suback":
        if (p.messageId !== this.subId) return;
        this.subId = 0;
        for (let i = 0; i < p.granted.length; i++) if (p.granted[i] === 0x80) return this.drop("mqtt_sub_refused");
        return;
      case "pingresp":
        if (this.pingTimer) this.pingTimer.cancel();
        this.pingTimer = undefined;
        return;
      case "publish":
        return this.incoming(p);
      default:
        return this.drop("mqtt_unexpected");
    }
  }

  private incoming(p: Publish): void {
    if (this.state !== S_UP) return this.drop("mqtt_unexpected");
    if (p.qos === 0) {
      this.deliver(p, noop);
      return;
    }
    if (p.qos !== 1) return this.drop("mqtt_qos2");
    const id = p.messageId as number;
    const key = id + ":" + fingerprint(p.payload) + (p.oversize === undefined ? "" : ":" + p.oversize);
    if (this.pendingIn[key]) return;
    if (p.dup && this.recent.indexOf(key) >= 0) {
      this.send({ cmd: "puback", messageId: id });
      return;
    }
    this.pendingIn[key] = true;
    let once = false;
    const gen = this.gen;
    this.deliver(p, () => {
      if (once) return;
      once = true;
      delete this.pendingIn[key];
      this.recent.push(key);
      if (this.recent.length > RECENT) this.recent.shift();
      if (gen === this.gen && this.state === S_UP) this.send({ cmd: "puback", messageId: id });
    });
  }

  private deliver(p: Publish, done: () => void): void {
    if (p.oversize === undefined) this.o.onMessage(p.topic, p.payload, done);
    else if (this.o.onOversize) this.o.onOversize(p.topic, p.payload, p.oversize, done);
    else done();
  }

  private keepalive(): void {
    const gen = this.gen;
    const due = this.lastTx + this.keepaliveMs - this.o.clock.monotonic();
    if (this.timer) this.timer.cancel();
    this.timer = this.o.clock.after(Math.max(1000, due), () => {
      if (gen !== this.gen || this.state !== S_UP) return;
      if (this.o.clock.monotonic() - this.lastTx >= this.keepaliveMs - 1000 && !this.pingTimer) {
        this.send({ cmd: "pingreq" });
        this.pingTimer = this.o.clock.after(this.o.pingTimeoutMs === undefined ? 15000 : this.o.pingTimeoutMs, () => {
          if (gen === this.gen) this.drop("mqtt_ping_timeout");
        });
      }
      this.keepalive();
    });
  }

  private teardown(): void {
    this.gen++;
    if (this.timer) this.timer.cancel();
    if (this.pingTimer) this.pingTimer.cancel();
    this.timer = undefined;
    this.pingTimer = undefined;
    for (let i = 0; i < this.subs.length; i++) this.subs[i].cancel();
    this.subs = [];
    const s = this.sock;
    this.sock = undefined;
    if (s) s.close();
    this.parser.reset();
    this.pendingIn = {};
    this.subId = 0;
  }

  private drop(reason: string): void {
    if (this.state === S_CLOSED || this.state === S_IDLE || this.state === S_WAIT) return;
    const stable = this.o.stableMs === undefined ? 60000 : this.o.stableMs;
    if (this.state === S_UP && this.o.clock.monotonic() - this.upAt >= stable) this.attempt = 0;
    this.teardown();
    this.state = S_WAIT;
    this.report("down", reason);
    const min = this.o.backoffMinMs === undefined ? 2000 : this.o.backoffMinMs;
    const max = this.o.backoffMaxMs === undefined ? 300000 : this.o.backoffMaxMs;
    const n = this.attempt < 16 ? this.attempt : 16;
    this.attempt++;
    const cap = Math.min(max, min * Math.pow(2, n));
    const r = this.o.random.bytes(2);
    const delay = Math.floor(cap / 2 + (cap / 2) * ((r[0] << 8) | r[1]) / 65536);
    const gen = this.gen;
    this.timer = this.o.clock.after(delay, () => {
      if (gen === this.gen && this.state === S_WAIT) this.open();
    });
  }
}

function noop(): void {}

/** A cheap 16-bit Fletcher sum, to tell a redelivery from a new message reusing an id. */
function fingerprint(b: Uint8Array): number {
  let a = 0;
  let c = 0;
  for (let i = 0; i < b.length; i++) {
    a = (a + b[i]) % 255;
    c = (c + a) % 255;
  }
  return (c << 8) | a | (b.length << 16);
}
