/**
 * For tests that run firmware modules in the real interpreter
 * (ESPRUINO_BIN): the modules compiled for the device and bundled as the
 * build does, a run of a script in the interpreter, and the source of a
 * Flash held in RAM.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";

/** Source of a Flash held in RAM (`flash`, its files in `files`, every byte programmed once) and the board's CRC-32 (`crc`). */
export const RAM_FLASH_JS = `
var files = {};
var flash = {
  create: function (n, size) { if (files[n]) return false; files[n] = new Uint8Array(size).fill(255); return true; },
  writeAt: function (n, at, d) { var f = files[n]; if (!f || at + d.length > f.length) return false; for (var i = 0; i < d.length; i++) if (f[at + i] !== 255) return false; f.set(d, at); return true; },
  read: function (n) { return files[n]; },
  erase: function (n) { delete files[n]; },
  list: function (p) { return Object.keys(files).filter(function (n) { return n.indexOf(p) === 0; }); },
  free: function () { return 1 << 20; }, usage: function () { return { free: 1 << 20, trash: 0, files: 0 }; }, compact: function () {}
};
var crc = function (d) { return E.CRC32(d) >>> 0; };
`;

/** Each module (path from the project root) bundled under its global name, after the interpreter's built-ins are fixed as at boot. */
export async function bundleForEspruino(modules: Array<[string, string]>): Promise<string> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-espruino-build-"));
  try {
    transpileDeviceTo(out);
    const one = (entry: string, name: string) => bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
    const parts = [(await one("hal/espruino/lang.ts", "LANG")) + "\nLANG.fixBuiltins();"];
    for (const [entry, name] of modules) parts.push(await one(entry, name));
    return parts.join("\n");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** Runs script in the interpreter; the JSON it prints after `tag + " "`, or its whole output when there is none. */
export function runInEspruino(bin: string, script: string, tag: string): unknown {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-espruino-"));
  try {
    fs.writeFileSync(path.join(dir, "run.js"), script);
    const r = spawnSync(bin, ["run.js"], { cwd: dir, input: "", encoding: "latin1", timeout: 60000 });
    const m = new RegExp(tag + " (.*)").exec(r.stdout || "");
    return m ? JSON.parse(m[1]) : String(r.stdout) + String(r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
