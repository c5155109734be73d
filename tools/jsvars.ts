/**
 * How many JsVars a bundle occupies once loaded. With ESPRUINO_BIN naming a
 * Linux build of the interpreter, it is measured there (process.memory()
 * around loading the bundle in the fake device world); otherwise it is
 * estimated from the size, at the ratio measured on our own bundle.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FAKE_WORLD } from "./sandbox";

/** Source bytes per JsVar: dist/keybox.js measured 6.0 (12,500-var device-like build) to 6.5 on 2v29 Linux. */
const BYTES_PER_JSVAR = 6;

export function measureJsVars(code: string): { value: number; how: string } {
  const bin = process.env.ESPRUINO_BIN;
  if (bin) {
    const measured = runInEspruino(bin, code);
    if (measured !== undefined) return { value: measured, how: "measured in " + path.basename(bin) };
  }
  return { value: Math.ceil(code.length / BYTES_PER_JSVAR), how: "estimated from size; set ESPRUINO_BIN to measure" };
}

/** Runs the fake world + bundle in the interpreter; returns JsVars used by the bundle, or undefined. */
export function runInEspruino(bin: string, code: string): number | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-jsvars-"));
  try {
    const file = path.join(dir, "run.js");
    const script = FAKE_WORLD + "\nvar __m0 = process.memory().usage;\n" + code + "\nprint('JSVARS ' + (process.memory().usage - __m0));\n";
    fs.writeFileSync(file, script);
    const r = spawnSync(bin, [file], { cwd: dir, input: "", encoding: "latin1", timeout: 60000 });
    const m = /JSVARS (\d+)/.exec(r.stdout || "");
    return m ? Number(m[1]) : undefined;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
