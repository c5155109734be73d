import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { parseResponse, Response, requestMessage } from "../../firmware/ble/protocol";
import { VirtualClock } from "../clock";
import { SimBle } from "../hw/ble";
import { crc32 } from "../hw/system";

/** A phone in virtual time: a central on the simulated radio that frames requests and reads responses as the driver tool does. */
export class Phone {
  received: Response[] = [];
  frameErrors: string[] = [];
  disconnected = false;
  private tag = 0;
  private readonly rx: Reassembler;

  constructor(
    private readonly ble: SimBle,
    clock: VirtualClock,
  ) {
    this.rx = new Reassembler({ clock, crc32, maxBytes: MAX_FRAMED, timeoutMs: 5000, onTimeout: (c) => this.frameErrors.push(c) });
  }

  connect(encrypted: boolean): boolean {
    return this.ble.connect(
      {
        notify: (f) => {
          const r = this.rx.push(f);
          if (typeof r === "string") this.frameErrors.push(r);
          else if (r) this.received.push(parseResponse(r));
        },
        disconnected: () => {
          this.disconnected = true;
        },
      },
      encrypted,
    );
  }

  send(type: number, grant?: Uint8Array, proof?: Uint8Array): void {
    this.raw(requestMessage(type, grant, proof));
  }

  raw(message: Uint8Array): void {
    for (const f of encodeFrames(message, this.tag++, crc32)) this.ble.write(f);
  }

  frames(frames: Uint8Array[]): void {
    for (const f of frames) this.ble.write(f);
  }

  drop(): void {
    this.ble.drop();
  }

  errors(): string[] {
    return this.received.filter((r) => r.type === "error").map((r) => (r as { code: string }).code);
  }

  take(): Response[] {
    const r = this.received;
    this.received = [];
    return r;
  }
}
