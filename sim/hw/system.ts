import { Accel, Buzzer, Handle, Led, Random, Watchdog } from "../../hal";
import { createHash } from "crypto";
import { VirtualClock } from "../clock";

/** A hardware watchdog on virtual time: onBite runs when it is not kicked in time. */
export class SimWatchdog implements Watchdog {
  enabledWith: number | undefined;
  private timer: Handle | undefined;

  constructor(private readonly options: { clock: VirtualClock; onBite: () => void }) {}

  enable(timeoutSeconds: number): void {
    this.enabledWith = timeoutSeconds;
    this.kick();
  }

  kick(): void {
    if (this.enabledWith === undefined) return;
    if (this.timer) this.timer.cancel();
    this.timer = this.options.clock.after(this.enabledWith * 1000, () => this.options.onBite());
  }

  /** Control: the chip reset; the watchdog is off until enabled again. */
  reset(): void {
    if (this.timer) this.timer.cancel();
    this.timer = undefined;
    this.enabledWith = undefined;
  }
}

/** Seeded xorshift32: every simulated run is reproducible from its seed. */
export class SimRandom implements Random {
  private state: number;

  constructor(options: { seed?: number } = {}) {
    this.state = (options.seed === undefined ? 0x9e3779b9 : options.seed) >>> 0 || 1;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let x = this.state;
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      this.state = x >>> 0;
      out[i] = this.state & 0xff;
    }
    return out;
  }
}

/** An output that remembers when it changed. */
export class SimLed implements Led {
  on = false;
  readonly history: Array<{ at: number; on: boolean }> = [];

  constructor(private readonly options: { clock: VirtualClock }) {}

  set(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    this.history.push({ at: this.options.clock.monotonic(), on });
  }
}

export class SimBuzzer implements Buzzer {
  frequency = 0;
  readonly history: Array<{ at: number; hz: number }> = [];

  constructor(private readonly options: { clock: VirtualClock }) {}

  tone(frequencyHz: number): void {
    if (frequencyHz === this.frequency) return;
    this.frequency = frequencyHz;
    this.history.push({ at: this.options.clock.monotonic(), hz: frequencyHz });
  }
}

/** E.convolve's contract, in plain JavaScript. */
export function convolve(a: Float64Array, b: Float64Array, offset: number): number {
  let sum = 0;
  const n = b.length;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[(i + offset) % n];
  return sum;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3), the same value as Espruino's E.CRC32. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The natives of an nRF52840 Espruino build; pass { sha512: false } to model a board without it. */
export function simAccel(options: { sha512?: boolean } = {}): Accel {
  const accel: Accel = {
    sha256: (d) => new Uint8Array(createHash("sha256").update(d).digest()),
    convolve,
    crc32,
  };
  if (options.sha512 !== false) accel.sha512 = (d) => new Uint8Array(createHash("sha512").update(d).digest());
  return accel;
}
