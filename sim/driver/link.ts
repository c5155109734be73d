import * as net from "net";
import { Clock, Handle } from "../../hal";
import { Listeners } from "../hw/listeners";
import {
  HELLO_ENCRYPTED,
  record,
  RecordReader,
  REC_CONNECTED,
  REC_DROPPED,
  REC_HELLO,
  REC_INFO,
  REC_NOTIFY,
  REC_READ,
  REC_REFUSED,
  REC_WRITE,
} from "../ble/wire";

/** A connected BLE link as the driver client sees it, whatever carries it. */
export interface DriverLink {
  /** What the transport knows about encryption: true/false, or undefined when the stack does not say. */
  readonly encrypted: boolean | undefined;
  /** Where it is connected, for people. */
  readonly describe: string;
  /** The info characteristic, read once at connect. */
  readonly info: Uint8Array | undefined;
  write(frame: Uint8Array): void;
  onNotify(cb: (frame: Uint8Array) => void): void;
  /** Called once when the link ends, with a reason. */
  onClose(cb: (reason: string) => void): void;
  close(): void;
}

/** hal.Clock on the host's real time, for the client's reassembly timeout. */
export const realClock: Clock = {
  monotonic: () => performance.now(),
  wall: () => Date.now() / 1000,
  setWall: () => undefined,
  after(ms: number, cb: () => void): Handle {
    const t = setTimeout(cb, ms);
    return { cancel: () => clearTimeout(t) };
  },
  every(ms: number, cb: () => void): Handle {
    const t = setInterval(cb, ms);
    return { cancel: () => clearInterval(t) };
  },
};

export class LinkError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Connects to the simulator's BLE bridge (sim/ble/wire.ts). pair = true
 * simulates LE Secure Connections pairing (the simulated link is marked
 * encrypted); false leaves the link unencrypted, as a phone that skipped
 * pairing would.
 */
export function connectSocket(options: { host: string; port: number; pair: boolean; timeoutMs: number }): Promise<DriverLink> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: options.host, port: options.port });
    const reader = new RecordReader();
    const notified = new Listeners<Uint8Array>();
    const closed = new Listeners<string>();
    let state: "connecting" | "info" | "open" | "closed" = "connecting";
    let encrypted = false;
    let endReason = "socket_closed";
    const link = {
      get encrypted() {
        return encrypted;
      },
      describe: "simulator at " + options.host + ":" + options.port,
      info: undefined as Uint8Array | undefined,
      write(frame: Uint8Array) {
        if (state === "open") socket.write(record(REC_WRITE, frame));
      },
      onNotify(cb: (f: Uint8Array) => void) {
        notified.add(cb);
      },
      onClose(cb: (r: string) => void) {
        closed.add(cb);
      },
      close() {
        socket.end();
      },
    };
    const timer = setTimeout(() => {
      if (state === "open" || state === "closed") return;
      socket.destroy();
      fail(new LinkError("connect_timeout", "no answer from " + link.describe));
    }, options.timeoutMs);
    let settled = false;
    const fail = (e: LinkError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    };
    socket.on("connect", () => {
      socket.setNoDelay(true);
      socket.write(record(REC_HELLO, new Uint8Array([options.pair ? HELLO_ENCRYPTED : 0])));
    });
    socket.on("data", (chunk: Buffer) => {
      const recs = reader.push(chunk);
      if (recs === "wire_garbled") {
        endReason = "wire_garbled";
        socket.destroy();
        return;
      }
      for (const r of recs) {
        if (r.type === REC_REFUSED || r.type === REC_DROPPED) {
          endReason = r.body.toString("latin1");
          if (state !== "open") fail(new LinkError(endReason, "the box refused the connection: " + endReason));
          continue;
        }
        if (r.type === REC_CONNECTED) {
          encrypted = r.body[0] === 1;
          if (state === "connecting") {
            state = "info";
            socket.write(record(REC_READ));
          }
        } else if (r.type === REC_INFO && state === "info") {
          link.info = new Uint8Array(r.body);
          state = "open";
          settled = true;
          clearTimeout(timer);
          resolve(link);
        } else if (r.type === REC_NOTIFY && state === "open") {
          const f = new Uint8Array(r.body);
          notified.emit(f);
        }
      }
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      endReason = e.code || "socket_error";
      fail(new LinkError(endReason, "cannot reach " + link.describe + ": " + (e.code || e.message)));
    });
    socket.on("close", () => {
      fail(new LinkError(endReason, "connection closed by " + link.describe + ": " + endReason));
      const was = state;
      state = "closed";
      if (was === "open") closed.emit(endReason);
    });
  });
}
