import * as net from "net";
import { Handle } from "../../hal";
import { ByteSocket } from "../../firmware/net/socket";
import { SocketFactory } from "../../firmware/mqtt/client";
import { Listeners } from "../hw/listeners";

/**
 * A ByteSocket over a real Node TCP socket, for the desktop simulator and
 * integration tests. Callbacks run from Node's event loop, never inside the
 * call that caused them; onClose fires once with "closed" (peer ended),
 * "error_<code>" or "local" (close() called).
 */
export class TcpByteSocket implements ByteSocket {
  private readonly data = new Listeners<Uint8Array>();
  private readonly closes = new Listeners<string>();
  private closed = false;
  private reason = "closed";

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (b: Buffer) => {
      this.data.emit(new Uint8Array(b));
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      this.reason = "error_" + (e.code || "io");
    });
    socket.on("close", () => this.finish(this.reason));
  }

  write(data: Uint8Array, cb?: (err?: string) => void): void {
    if (this.closed || this.socket.destroyed) {
      if (cb) setImmediate(() => cb("closed"));
      return;
    }
    this.socket.write(Buffer.from(data), (err) => {
      if (cb) cb(err ? "io" : undefined);
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
    this.reason = "local";
    this.socket.destroy();
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.data.clear();
    this.closes.emit(reason);
    this.closes.clear();
  }
}

/** A SocketFactory that dials host:port over TCP (what the BG96 driver does on the device). */
export function tcpSocketFactory(options: { host: string; port: number; timeoutMs?: number }): SocketFactory {
  return (cb) => {
    const s = net.connect({ host: options.host, port: options.port });
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      s.destroy();
      cb("timeout");
    }, options.timeoutMs === undefined ? 10000 : options.timeoutMs);
    s.once("connect", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cb(undefined, new TcpByteSocket(s));
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      cb("error_" + (e.code || "io"));
    });
  };
}
