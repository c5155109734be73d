import { Accel, Buzzer, Led, Random, Watchdog } from "../index";
import { SwitchPin } from "./pins";

export class EspruinoWatchdog implements Watchdog {
  enable(timeoutSeconds: number): void {
    E.enableWatchdog(timeoutSeconds, false);
  }

  kick(): void {
    E.kickWatchdog();
  }
}

export class EspruinoRandom implements Random {
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const r = E.hwRand();
      for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (r >>> (8 * k)) & 0xff;
    }
    return out;
  }
}

export class EspruinoLed implements Led {
  constructor(private readonly pin: SwitchPin) {
    this.set(false);
  }

  set(on: boolean): void {
    digitalWrite(this.pin.pin, on !== this.pin.activeLow ? 1 : 0);
  }
}

export class EspruinoBuzzer implements Buzzer {
  constructor(private readonly pin: { pin: string; activeLow: boolean }) {
    this.tone(0);
  }

  tone(frequencyHz: number): void {
    if (frequencyHz > 0) analogWrite(this.pin.pin, 0.5, { freq: frequencyHz });
    else digitalWrite(this.pin.pin, this.pin.activeLow ? 1 : 0);
  }
}

/** The natives this build has; SHA-512 is missing on nRF52832 builds, so it is looked up. */
export function espruinoAccel(): Accel {
  const accel: Accel = {
    convolve: function (a, b, offset) {
      return E.convolve(a, b, offset);
    },
    crc32: function (d) {
      return E.CRC32(d) >>> 0;
    },
  };
  let c: any;
  try {
    c = require("crypto");
  } catch (e) {
    c = undefined;
  }
  if (c && c.SHA512)
    accel.sha512 = function (d) {
      return new Uint8Array(c.SHA512(d));
    };
  if (c && c.SHA256)
    accel.sha256 = function (d) {
      return new Uint8Array(c.SHA256(d));
    };
  return accel;
}
