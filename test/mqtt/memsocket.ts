import { Handle } from "../../hal";
import { ByteSocket } from "../../firmware/net/socket";
import { SocketFactory } from "../../firmware/mqtt/client";
import { encode, Packet, Parser } from "../../firmware/mqtt/codec";
import { VirtualClock } from "../../sim/clock";
import { Listeners } from "../../sim/hw/listeners";

/**
 * A ByteSocket whose far end is the test: bytes cross after latencyMs of
 * virtual time. The test reads what the client sent as parsed packets and
 * answers with packets or raw bytes.
 */
export class MemSocket implements ByteSocket {
  readonly sent: Packet[] = [];
  parseError: string | undefined;
  closed = false;
  closedBy: string | undefined;
  private readonly data = new Listeners<Uint8Array>();
  private readonly closes = new Listeners<string>();
  private parser = new Parser({ maxPacket: 65536 });

  constructor(private readonly clock: VirtualClock, private readonly latencyMs = 5) {}

  write(data: Uint8Array, cb?: (err?: string) => void): void {
    const copy = data.slice();
    this.clock.after(this.latencyMs, () => {
      if (this.closed) {
        if (cb) cb("closed");
        return;
      }
      const err = this.parser.feed(copy, this.sent);
      if (err) this.parseError = err;
      if (cb) cb();
    });
  }

  onData(cb: (data: Uint8Array) => void): Handle {
    return this.data.add(cb);
  }

  onClose(cb: (reason: string) => void): Handle {
    return this.closes.add(cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBy = "client";
  }

  /** Test side: deliver a packet (or raw bytes) to the client after the latency. */
  reply(p: Packet | Uint8Array): void {
    const bytes = p instanceof Uint8Array ? p : (encode(p) as Uint8Array);
    this.clock.after(this.latencyMs, () => {
      if (this.closed) return;
      this.data.emit(bytes);
    });
  }

  /** Test side: the network drops the connection. */
  cut(reason = "reset"): void {
    if (this.closed) return;
    this.closed = true;
    this.closedBy = "network";
    this.closes.emit(reason);
  }

  of<K extends Packet["cmd"]>(cmd: K): Array<Extract<Packet, { cmd: K }>> {
    return this.sent.filter((p) => p.cmd === cmd) as Array<Extract<Packet, { cmd: K }>>;
  }
}

/** A SocketFactory handing out MemSockets (or failing when told to), recording each. */
export class MemNetwork {
  readonly sockets: MemSocket[] = [];
  readonly dialedAt: number[] = [];
  failWith: string | undefined;

  constructor(private readonly clock: VirtualClock) {}

  readonly factory: SocketFactory = (cb) => {
    this.dialedAt.push(this.clock.monotonic());
    const fail = this.failWith;
    this.clock.after(20, () => {
      if (fail) cb(fail);
      else {
        const s = new MemSocket(this.clock);
        this.sockets.push(s);
        cb(undefined, s);
      }
    });
  };

  get last(): MemSocket {
    return this.sockets[this.sockets.length - 1];
  }
}
