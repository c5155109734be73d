import { EventEmitter } from "events";
import { BridgeSocket } from "../modem/bg96-emulator";
import { VirtualClock } from "../clock";

/** The server's end of one connection. */
export interface ServerConn {
  write(data: Uint8Array): void;
  /** The server hangs up. */
  close(): void;
  onData(cb: (data: Buffer) => void): void;
  onClose(cb: () => void): void;
}

/**
 * A network on the virtual clock: the modem emulator's TCP bridge opens
 * sockets here instead of on the host, and a server in the same process
 * (SimBroker) gets a ServerConn for each. Every hop takes latencyMs of
 * virtual time and nothing else: a run is the same run every time, and a
 * year of it costs only what crosses it.
 *
 * Faults: down() refuses connections (a broker restarting, or gone);
 * cutAll() drops every open connection (a restart, or a carrier NAT that
 * forgot the flows).
 */
export class MemNetwork {
  private readonly servers: { [port: number]: (conn: ServerConn) => void } = {};
  private refusing = false;
  private readonly open = new Set<MemSocket>();
  /** Connections made, refused and cut, for the soak's table. */
  readonly counts = { connects: 0, refused: 0, cut: 0 };

  constructor(readonly options: { clock: VirtualClock; latencyMs?: number }) {}

  get latency(): number {
    return this.options.latencyMs === undefined ? 40 : this.options.latencyMs;
  }

  /** Serves port with handler. */
  listen(port: number, handler: (conn: ServerConn) => void): void {
    this.servers[port] = handler;
  }

  /** A new unconnected socket, for the modem emulator's socket option. */
  socket(): BridgeSocket {
    return new MemSocket(this);
  }

  /** Control: connections are refused (true) until up again (false). */
  down(refuse: boolean): void {
    this.refusing = refuse;
  }

  /** Control: every open connection is dropped, both ends told. */
  cutAll(): void {
    for (const s of Array.from(this.open)) {
      this.counts.cut++;
      s.cut();
    }
  }

  /** Open connections. */
  get connections(): number {
    return this.open.size;
  }

  /** @internal */
  accept(s: MemSocket, port: number): boolean {
    const handler = this.servers[port];
    if (!handler || this.refusing) {
      this.counts.refused++;
      return false;
    }
    this.counts.connects++;
    this.open.add(s);
    handler(s.serverSide);
    return true;
  }

  /** @internal */
  closed(s: MemSocket): void {
    this.open.delete(s);
  }
}

/** The client end of an in-process connection, shaped as the emulator's bridge uses net.Socket. */
class MemSocket extends EventEmitter implements BridgeSocket {
  readonly serverSide: ServerConn;
  private gone = false;
  private connected = false;
  private serverData: (d: Buffer) => void = () => undefined;
  private serverClose: () => void = () => undefined;

  constructor(private readonly net: MemNetwork) {
    super();
    const self = this;
    this.serverSide = {
      write(data: Uint8Array) {
        if (self.gone) return;
        const copy = Buffer.from(data);
        self.later(() => {
          if (!self.gone) self.emit("data", copy);
        });
      },
      close() {
        self.hangUp(false);
      },
      onData(cb) {
        self.serverData = cb;
      },
      onClose(cb) {
        self.serverClose = cb;
      },
    };
  }

  get destroyed(): boolean {
    return this.gone;
  }

  connect(port: number, _host: string): this {
    this.later(() => {
      if (this.gone) return;
      if (!this.net.accept(this, port)) {
        this.gone = true;
        this.emit("error", new Error("ECONNREFUSED"));
        this.emit("close");
        return;
      }
      this.connected = true;
      this.emit("connect");
    });
    return this;
  }

  write(data: Buffer, cb: () => void): boolean {
    cb();
    if (this.gone || !this.connected) return false;
    const copy = Buffer.from(data);
    this.later(() => {
      if (!this.gone) this.serverData(copy);
    });
    return true;
  }

  /** The client closes: the server hears it one hop later. */
  destroy(): this {
    if (this.gone) return this;
    this.gone = true;
    this.net.closed(this);
    const tell = this.serverClose;
    if (this.connected) this.later(tell);
    this.later(() => this.emit("close"));
    return this;
  }

  /** Both ends lose the connection (the path broke). */
  cut(): void {
    this.hangUp(true);
  }

  private hangUp(tellServer: boolean): void {
    if (this.gone) return;
    this.gone = true;
    this.net.closed(this);
    if (tellServer) this.later(this.serverClose);
    this.later(() => this.emit("close"));
  }

  private later(fn: () => void): void {
    this.net.options.clock.after(this.net.latency / 2, fn);
  }
}
