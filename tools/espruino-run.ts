/**
 * Running scripts in a Linux build of the Espruino interpreter (ESPRUINO_BIN)
 * the way a board runs the firmware: files written to its emulated Storage
 * (a file in the working directory, kept between runs) in small pieces, each
 * run a fresh process, so that an interpreter with the board's 12,500 JsVars
 * never holds more than one piece as text; the firmware is then evaluated
 * from Storage, where its function bodies stay in flash.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** Bytes written per run: small enough for a device-sized interpreter to hold as base64 text. */
const PIECE = 8192;

/** Runs one script file in dir (Storage persists there between runs); returns what it printed. */
export function runScript(bin: string, dir: string, script: string, timeoutMs = 60000): string {
  const file = path.join(dir, "run.js");
  fs.writeFileSync(file, script);
  const r = spawnSync(bin, [file], { cwd: dir, input: "", encoding: "latin1", timeout: timeoutMs });
  return r.stdout || "";
}

/** Writes files (name -> bytes) to the interpreter's Storage in dir, as flashing does; false if a write failed. */
export function writeStorage(bin: string, dir: string, files: { [name: string]: Uint8Array }): boolean {
  for (const name of Object.keys(files)) {
    const data = Buffer.from(files[name]);
    for (let at = 0; at < Math.max(1, data.length); at += PIECE) {
      const piece = data.subarray(at, at + PIECE).toString("base64");
      const args = JSON.stringify(name) + ",atob(" + JSON.stringify(piece) + ")," + at + (at ? "" : "," + data.length);
      if (!/WROTE/.test(runScript(bin, dir, "require('Storage').write(" + args + ");print('WROTE');"))) return false;
    }
  }
  return true;
}

/** The statement that boots a firmware file from Storage, as load() does with .bootcde. */
export function bootFromStorage(name: string): string {
  return "eval(require('Storage').read(" + JSON.stringify(name) + "));";
}
