import { EventEmitter } from "events";
import * as net from "net";
import { VirtualClock } from "../clock";
import { encode, Packet, Parser, Publish } from "../../firmware/mqtt/codec";

/**
 * An MQTT 3.1.1 broker on the virtual clock, for long energy runs: the BG96
 * emulator bridges the box's TCP connection to one of its sockets instead of
 * a real one, so a month of box time runs without real I/O. It keeps
 * persistent sessions (QoS 1 messages queued for an offline client are
 * delivered when it reconnects), answers CONNECT, SUBSCRIBE, PUBLISH QoS 1,
 * PINGREQ and DISCONNECT, and records what arrived and how long each queued
 * message waited before the box acknowledged it. Packets are parsed and
 * written with the firmware's own codec, which the test suite holds byte for
 * byte to mqtt-packet.
 */
export interface Received {
  topic: string;
  text: string;
  at: number;
}

interface Queued {
  topic: string;
  payload: Uint8Array;
  queuedAt: number;
  id: number;
}

interface Session {
  topics: string[];
  queue: Queued[];
  inflight: Queued[];
  nextId: number;
  conn: BrokerSocket | undefined;
  /** A client has connected with this id before (the session exists for MQTT's sessionPresent). */
  known: boolean;
}

export class VirtualBroker {
  readonly received: Received[] = [];
  /** Milliseconds each delivered message waited between owner and box acknowledgement. */
  readonly delivered: Array<{ topic: string; waitedMs: number }> = [];
  connects = 0;
  private readonly sessions: { [clientId: string]: Session } = {};

  constructor(private readonly options: { clock: VirtualClock; latencyMs?: number }) {}

  /** The socket factory the emulator uses for every TCP connection. */
  socket(): net.Socket {
    return new BrokerSocket(this, this.options.clock, this.options.latencyMs === undefined ? 60 : this.options.latencyMs) as unknown as net.Socket;
  }

  /** The owner publishes a QoS 1 message, held for the client's session until it is delivered. */
  publish(clientId: string, topic: string, payload: Uint8Array): void {
    const s = this.session(clientId);
    s.queue.push({ topic, payload, queuedAt: this.options.clock.monotonic(), id: 0 });
    if (s.conn) this.flush(s);
  }

  /** Messages not yet acknowledged by the client. */
  waiting(clientId: string): number {
    const s = this.sessions[clientId];
    return s ? s.queue.length + s.inflight.length : 0;
  }

  // ---- used by BrokerSocket ------------------------------------------------------

  packet(c: BrokerSocket, p: Packet): void {
    switch (p.cmd) {
      case "connect": {
        this.connects++;
        const s = this.session(p.clientId);
        if (p.clean) s.topics = [];
        const known = s.known && !p.clean;
        s.known = true;
        if (s.conn && s.conn !== c) s.conn.end();
        s.conn = c;
        c.clientId = p.clientId;
        // Unacknowledged messages go again, first.
        s.queue = s.inflight.concat(s.queue);
        s.inflight = [];
        c.send({ cmd: "connack", sessionPresent: known, returnCode: 0 });
        this.flush(s);
        return;
      }
      case "subscribe": {
        const s = this.bound(c);
        if (!s) return;
        for (let i = 0; i < p.subscriptions.length; i++) if (s.topics.indexOf(p.subscriptions[i].topic) < 0) s.topics.push(p.subscriptions[i].topic);
        c.send({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map((x) => Math.min(1, x.qos)) });
        this.flush(s);
        return;
      }
      case "publish":
        this.received.push({ topic: p.topic, text: Buffer.from(p.payload).toString("utf8"), at: this.options.clock.monotonic() });
        if (p.qos > 0 && p.messageId !== undefined) c.send({ cmd: "puback", messageId: p.messageId });
        return;
      case "puback": {
        const s = this.bound(c);
        if (!s) return;
        const i = s.inflight.findIndex((q) => q.id === p.messageId);
        if (i < 0) return;
        const q = s.inflight.splice(i, 1)[0];
        this.delivered.push({ topic: q.topic, waitedMs: this.options.clock.monotonic() - q.queuedAt });
        return;
      }
      case "pingreq":
        c.send({ cmd: "pingresp" });
        return;
      case "disconnect":
        c.end();
        return;
      default:
        return;
    }
  }

  gone(c: BrokerSocket): void {
    const s = c.clientId === undefined ? undefined : this.sessions[c.clientId];
    if (s && s.conn === c) s.conn = undefined;
  }

  private bound(c: BrokerSocket): Session | undefined {
    return c.clientId === undefined ? undefined : this.sessions[c.clientId];
  }

  private session(clientId: string): Session {
    let s = this.sessions[clientId];
    if (!s) {
      s = { topics: [], queue: [], inflight: [], nextId: 1, conn: undefined, known: false };
      this.sessions[clientId] = s;
    }
    return s;
  }

  private flush(s: Session): void {
    const c = s.conn;
    if (!c) return;
    const keep: Queued[] = [];
    for (let i = 0; i < s.queue.length; i++) {
      const q = s.queue[i];
      if (s.topics.indexOf(q.topic) < 0) {
        keep.push(q);
        continue;
      }
      q.id = s.nextId;
      s.nextId = (s.nextId % 65535) + 1;
      s.inflight.push(q);
      const p: Publish = { cmd: "publish", topic: q.topic, payload: q.payload, qos: 1, dup: false, retain: false, messageId: q.id };
      c.send(p);
    }
    s.queue = keep;
  }
}

/** The subset of net.Socket the BG96 emulator uses, one end of a connection to the virtual broker. */
class BrokerSocket extends EventEmitter {
  destroyed = false;
  clientId: string | undefined;
  private readonly parser = new Parser({ maxPacket: 65536 });

  constructor(
    private readonly broker: VirtualBroker,
    private readonly clock: VirtualClock,
    private readonly latencyMs: number,
  ) {
    super();
  }

  connect(_port: number, _host: string): this {
    this.clock.after(this.latencyMs, () => {
      if (!this.destroyed) this.emit("connect");
    });
    return this;
  }

  write(data: Buffer, cb?: () => void): boolean {
    const bytes = new Uint8Array(data);
    this.clock.after(this.latencyMs / 2, () => {
      if (cb) cb();
      if (this.destroyed) return;
      const out: Packet[] = [];
      const err = this.parser.feed(bytes, out);
      for (let i = 0; i < out.length; i++) this.broker.packet(this, out[i]);
      if (err) this.end();
    });
    return true;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.broker.gone(this);
    this.clock.after(0, () => this.emit("close"));
    return this;
  }

  /** The broker closes the connection. */
  end(): void {
    this.destroy();
  }

  /** The broker sends a packet to the client. */
  send(p: Packet): void {
    const b = encode(p);
    if (typeof b === "string") throw new Error("broker encode " + b);
    this.clock.after(this.latencyMs / 2, () => {
      if (!this.destroyed) this.emit("data", Buffer.from(b));
    });
  }
}
