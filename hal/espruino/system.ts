import { Accel, Buzzer, Led, Random, Watchdog } from "../index";
import { SwitchPin } from "./pins";
import { bindNativeVerifier, NativeBlob } from "./native/ed25519";

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

/**
 * The natives this build has; SHA-512 is missing on nRF52832 builds, so it
 * is looked up. findBlob is the code area's look-up of the installed native
 * verifier; the verifier is bound only when its bytes hash to the SHA-256
 * this firmware was built with (KEYBOX_BUILD.native), otherwise Accel says
 * why it is missing.
 */
export function espruinoAccel(findBlob?: (sha256: (d: Uint8Array) => Uint8Array) => NativeBlob | string): Accel {
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
  const built = typeof KEYBOX_BUILD !== "undefined" && KEYBOX_BUILD && KEYBOX_BUILD.native ? KEYBOX_BUILD.native.ed25519 : undefined;
  const sha256 = accel.sha256;
  const bound = !sha256
    ? "no_sha256"
    : bindNativeVerifier({
        find: function () {
          return findBlob ? findBlob(sha256) : "no_code_area";
        },
        sha256: built ? built.sha256 : undefined,
        scratchBytes: built ? built.scratchBytes : 0,
        hash: sha256,
      });
  if (typeof bound === "string") accel.ed25519Missing = bound;
  else accel.ed25519 = bound;
  return accel;
}
