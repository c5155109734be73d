import { Hal } from "../index";
import { EspruinoBle } from "./ble";
import { EspruinoClock } from "./clock";
import { EspruinoFlash } from "./flash";
import { EspruinoCodeArea } from "./codearea";
import { EspruinoInput } from "./input";
import { EspruinoLatch } from "./latch";
import { EspruinoModem } from "./modem";
import { PinMap } from "./pins";
import { EspruinoBattery, EspruinoMotion } from "./sensors";
import { EspruinoBuzzer, EspruinoLed, EspruinoRandom, EspruinoWatchdog, espruinoAccel } from "./system";
import { ED25519_BLOB_NAME } from "./native/ed25519";
import { BLOB_NATIVE, findBlob } from "../../firmware/codearea/blobs";

/** Binds every HAL interface to Espruino's globals for one pin map. */
export function createEspruinoHal(pins: PinMap): Hal {
  const input = function (p: PinMap["bolt"]) {
    return new EspruinoInput({ pin: p });
  };
  const codeArea = new EspruinoCodeArea();
  return {
    clock: new EspruinoClock(),
    latch: new EspruinoLatch({ motorA: pins.motor.a, motorB: pins.motor.b, bolt: input(pins.bolt) }),
    lid: input(pins.lid),
    key: input(pins.key),
    motion: new EspruinoMotion(pins.accel),
    battery: new EspruinoBattery(pins.battery),
    flash: new EspruinoFlash(),
    codeArea: codeArea,
    ble: new EspruinoBle(),
    modem: new EspruinoModem(pins.modem),
    watchdog: new EspruinoWatchdog(),
    random: new EspruinoRandom(),
    led: new EspruinoLed(pins.led),
    buzzer: new EspruinoBuzzer(pins.buzzer),
    // The native verifier from the code area's blob region (its entry's own hash checked by findBlob, this build's by the binding).
    accel: espruinoAccel(function (sha256) {
      const b = findBlob({ area: codeArea, name: ED25519_BLOB_NAME, sha256: sha256 });
      return typeof b !== "string" && b.kind !== BLOB_NATIVE ? "not_native_code" : b;
    }),
    log: function (line: string) {
      console.log(line);
    },
  };
}
