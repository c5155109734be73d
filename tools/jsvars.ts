/**
 * How many JsVars the firmware occupies once it has booted, as the board
 * runs it: from Storage, where function bodies stay in flash and only the
 * objects, closures and state the boot builds take RAM. With ESPRUINO_BIN
 * naming a Linux build of the interpreter it is measured there
 * (process.memory() around evaluating the bundle from its emulated Storage in
 * the fake device world), together with the figure for the same bundle
 * loaded into RAM; otherwise it is estimated from the size, at the ratio
 * measured on our own bundle.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bootFromStorage, runScript, writeStorage } from "./espruino-run";
import { FAKE_WORLD } from "./sandbox";

/** Bundle bytes per JsVar after booting from Storage: dist/keybox.js measured 15.9 on 2v29 Linux. */
const BYTES_PER_JSVAR = 15.9;

export function measureJsVars(code: string): { value: number; how: string } {
  const bin = process.env.ESPRUINO_BIN;
  if (bin) {
    const fromStorage = runInEspruino(bin, code, "storage");
    const inRam = runInEspruino(bin, code, "ram");
    if (fromStorage !== undefined)
      return { value: fromStorage, how: "measured in " + path.basename(bin) + (inRam === undefined ? "" : "; " + inRam + " if loaded into RAM") };
  }
  return { value: Math.ceil(code.length / BYTES_PER_JSVAR), how: "estimated from size; set ESPRUINO_BIN to measure" };
}

/**
 * Runs the fake world + bundle in the interpreter, the bundle either
 * evaluated from a Storage file or as part of the script; returns the JsVars
 * it holds once booted, or undefined.
 */
export function runInEspruino(bin: string, code: string, from: "storage" | "ram"): number | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-jsvars-"));
  try {
    let body = code;
    if (from === "storage") {
      if (!writeStorage(bin, dir, { kb: new Uint8Array(Buffer.from(code, "latin1")) })) return undefined;
      body = bootFromStorage("kb");
    }
    const m = /JSVARS (\d+)/.exec(runScript(bin, dir, FAKE_WORLD + "\nvar __m0 = process.memory().usage;\n" + body + "\nprint('JSVARS ' + (process.memory().usage - __m0));\n"));
    return m ? Number(m[1]) : undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
