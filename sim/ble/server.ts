import * as net from "net";
import { SimBle, CentralSink } from "../hw/ble";
import {
  DEFAULT_BLE_HOST,
  HELLO_ENCRYPTED,
  record,
  RecordReader,
  REC_CONNECTED,
  REC_DROPPED,
  REC_HELLO,
  REC_INFO,
  REC_NOTIFY,
  REC_PAIR,
  REC_READ,
  REC_REFUSED,
  REC_WRITE,
} from "./wire";

export interface BleSocketServerOptions {
  ble: SimBle;
  host?: string;
  /** 0 picks a free port (tests); the desktop simulator uses DEFAULT_BLE_PORT. */
  port?: number;
  log?: (line: string) => void;
}

interface Client {
  socket: net.Socket;
  name: string;
  state: "greeting" | "connected" | "closed";
}

/**
 * Bridges TCP clients to the simulated radio (wire.ts has the socket format).
 * Each client that says hello becomes the BLE central. Like the nRF52 under
 * Espruino, the box takes one central at a time: while one is connected the
 * real box stops advertising and other phones cannot reach it, so a second
 * client here is refused at once with "radio_busy" (not queued: a phone
 * would not wait either, it retries). The sockets run on real time while
 * the box runs on its VirtualClock; each hop is delivered when the clock
 * next advances (RealTimeDriver in the desktop simulator, the test itself
 * in tests).
 */
export class BleSocketServer {
  private readonly server: net.Server;
  private readonly clients: Client[] = [];
  private active: Client | undefined;
  private closed = false;

  constructor(private readonly options: BleSocketServerOptions) {
    if (!options || !options.ble) throw new Error("ble_server_options");
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(): Promise<{ host: string; port: number }> {
    const host = this.options.host === undefined ? DEFAULT_BLE_HOST : this.options.host;
    const port = this.options.port === undefined ? 0 : this.options.port;
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.removeListener("error", reject);
        const a = this.server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Number of open client sockets (connected or greeting). */
  connections(): number {
    return this.clients.length;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const c of this.clients.slice()) this.finish(c, REC_DROPPED, "server_closed");
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const c: Client = { socket, name: socket.remoteAddress + ":" + socket.remotePort, state: "greeting" };
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.clients.push(c);
    socket.setNoDelay(true);
    const reader = new RecordReader();
    socket.on("data", (chunk: Buffer) => {
      if (c.state === "closed") return;
      const recs = reader.push(chunk);
      if (recs === "wire_garbled") return this.finish(c, REC_DROPPED, "wire_garbled");
      for (const r of recs) this.handle(c, r.type, r.body);
    });
    socket.on("error", () => this.gone(c));
    socket.on("close", () => this.gone(c));
  }

  private handle(c: Client, type: number, body: Buffer): void {
    const ble = this.options.ble;
    if (c.state === "closed") return;
    if (c.state === "greeting") {
      if (type !== REC_HELLO || body.length !== 1) return this.finish(c, REC_DROPPED, "wire_order");
      const encrypted = (body[0] & HELLO_ENCRYPTED) !== 0;
      const sink: CentralSink = {
        notify: (frame) => this.send(c, record(REC_NOTIFY, frame)),
        disconnected: () => {
          if (this.active === c) this.active = undefined;
          this.finish(c, REC_DROPPED, "box_disconnected");
        },
      };
      if (!ble.connect(sink, encrypted)) return this.finish(c, REC_REFUSED, "radio_busy");
      this.active = c;
      c.state = "connected";
      this.log(c.name + " connected" + (encrypted ? " (encrypted: simulated LE Secure Connections pairing)" : " (not encrypted)"));
      this.send(c, record(REC_CONNECTED, new Uint8Array([encrypted ? 1 : 0])));
      return;
    }
    switch (type) {
      case REC_WRITE:
        if (body.length < 1 || body.length > 20) return this.finish(c, REC_DROPPED, "wire_garbled");
        ble.write(new Uint8Array(body));
        return;
      case REC_PAIR:
        ble.secure();
        this.log(c.name + " paired (simulated LE Secure Connections)");
        this.send(c, record(REC_CONNECTED, new Uint8Array([1])));
        return;
      case REC_READ:
        this.send(c, record(REC_INFO, ble.info));
        return;
      default:
        return this.finish(c, REC_DROPPED, "wire_garbled");
    }
  }

  private send(c: Client, data: Buffer): void {
    if (c.state !== "closed" && !c.socket.destroyed) c.socket.write(data);
  }

  /** Tells the client why, then closes its socket (and its radio link). */
  private finish(c: Client, type: number, reason: string): void {
    if (c.state === "closed") return;
    this.send(c, record(type, reason));
    this.log(c.name + " " + (type === REC_REFUSED ? "refused: " : "dropped: ") + reason);
    this.gone(c);
  }

  private gone(c: Client): void {
    if (c.state === "closed") return;
    c.state = "closed";
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    if (this.active === c) {
      this.active = undefined;
      this.options.ble.drop();
    }
    if (!c.socket.destroyed) c.socket.destroySoon();
  }

  private log(line: string): void {
    if (this.options.log) this.options.log("ble: " + line);
  }
}
