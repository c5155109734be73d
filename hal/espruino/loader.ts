/*
 * The loader: the only code in Storage (.bootcde), run at every boot. It
 * picks the newest slot of the code area whose header and SHA-256 check
 * out (firmware/codearea/boot.ts) and hands back the slot's body, mapped in
 * place with E.memoryArea, for the build's trailer to evaluate at global
 * scope: the firmware's function bodies then stay in the code area, which
 * Storage's compaction never moves. With no intact slot it says so on the
 * console and does nothing else: no pin is driven, so the latch stays as it
 * is. It is kept small and stable; the firmware it boots is what changes.
 */
import { pickSlot } from "../../firmware/codearea/boot";
import { EspruinoCodeArea } from "./codearea";

/** The firmware to evaluate, as a string mapped from flash, or undefined when no slot can boot. */
export function pick(): string | undefined {
  const log = function (line: string) {
    console.log("keybox loader: " + line);
  };
  let crypto: any;
  try {
    crypto = require("crypto");
  } catch (e) {
    crypto = undefined;
  }
  if (!crypto || !crypto.SHA256) {
    log("no firmware can boot: this interpreter has no SHA-256 to check it with");
    return undefined;
  }
  const choice = pickSlot({
    area: new EspruinoCodeArea(),
    sha256: function (d) {
      return new Uint8Array(crypto.SHA256(d));
    },
    log: log,
  });
  if (!choice) return undefined;
  log("booting slot " + choice.slot + ", firmware version " + choice.version + " (" + choice.length + " bytes)");
  return E.memoryArea(choice.addr, choice.length);
}
