import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { parseResponse, Response } from "../../firmware/ble/protocol";
import { crc32 } from "../hw/system";
import { DriverLink, realClock } from "./link";

export type Incoming = Response | { type: "closed"; reason: string } | { type: "timeout" } | { type: "frame_error"; code: string };

/**
 * The phone's side of the protocol over any DriverLink: frames requests with
 * the same encoder the box uses and turns notified frames back into
 * messages, delivered in order through next().
 */
export class DriverSession {
  private readonly rx: Reassembler;
  private readonly queue: Incoming[] = [];
  private waiter: ((m: Incoming) => void) | undefined;
  private tag = 0;
  private ended = false;

  constructor(private readonly link: DriverLink) {
    this.rx = new Reassembler({
      clock: realClock,
      crc32,
      maxBytes: MAX_FRAMED,
      timeoutMs: 5000,
      onTimeout: (code) => this.deliver({ type: "frame_error", code }),
    });
    link.onNotify((f) => {
      const r = this.rx.push(f);
      if (r === undefined) return;
      this.deliver(typeof r === "string" ? { type: "frame_error", code: r } : parseResponse(r));
    });
    link.onClose((reason) => {
      this.ended = true;
      this.rx.close();
      this.deliver({ type: "closed", reason });
    });
  }

  /** Sends one message; returns how many frames it took. */
  send(message: Uint8Array): number {
    const frames = encodeFrames(message, this.tag, crc32);
    this.tag = (this.tag + 1) & 0x3f;
    for (const f of frames) this.link.write(f);
    return frames.length;
  }

  /** The next message from the box, or timeout / closed. */
  next(timeoutMs: number): Promise<Incoming> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve({ type: "closed", reason: "closed" });
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve({ type: "timeout" });
      }, timeoutMs);
      this.waiter = (msg) => {
        clearTimeout(t);
        resolve(msg);
      };
    });
  }

  close(): void {
    this.rx.close();
    this.link.close();
  }

  private deliver(m: Incoming): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(m);
    } else this.queue.push(m);
  }
}
