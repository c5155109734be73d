/**
 * The device build: TypeScript (tsconfig.device.json, ES5) -> one rollup
 * IIFE -> terser for ES5 -> the Espruino gate. Terser hoists function
 * declarations and var declarations to the top of every scope, which is what
 * makes the output correct on an interpreter that hoists neither; the gate
 * then proves it on the syntax tree.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { rollup } from "rollup";
import { minify } from "terser";
import { checkBundle, GateReport } from "./gate";
import { measureJsVars } from "./jsvars";

export const ROOT = path.resolve(__dirname, "..");
const DEVICE_OUT = path.join(ROOT, "build", "device");

export interface BundleOptions {
  /** A .ts module under firmware/ or hal/, relative to the project root. */
  entry: string;
  /** Global var that receives the entry's exports (omit for an entry run for its side effects). */
  globalName?: string;
  /** JavaScript placed before the bundle (e.g. build-time configuration). */
  prelude?: string;
  /** false keeps it readable (for debugging); the flashed bundle is always minified. */
  minify?: boolean;
}

let compiled = false;

/** Compiles firmware/ and hal/ to ES5 modules under build/device (once per process). */
export function compileDevice(): void {
  if (compiled) return;
  fs.rmSync(DEVICE_OUT, { recursive: true, force: true });
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.device.json")], { stdio: "inherit", cwd: ROOT });
  compiled = true;
}

/** Bundles one device module into ES5 source that the Espruino interpreter can run. */
export async function bundle(options: BundleOptions): Promise<string> {
  compileDevice();
  const input = path.join(DEVICE_OUT, options.entry.replace(/\.ts$/, ".js"));
  if (!fs.existsSync(input)) throw new Error("no compiled module for " + options.entry);
  const build = await rollup({
    input,
    onwarn(w) {
      if (w.code === "CIRCULAR_DEPENDENCY") throw new Error("circular import: " + w.message);
      process.stderr.write("rollup: " + w.message + "\n");
    },
  });
  const out = await build.generate({
    format: "iife",
    name: options.globalName,
    esModule: false,
    generatedCode: "es5",
    strict: false,
  });
  await build.close();
  let code = (options.prelude || "") + out.output[0].code;
  if (options.minify !== false) {
    const min = await minify(code, {
      ecma: 5,
      ie8: false,
      compress: { hoist_funs: true, hoist_vars: true, passes: 2, keep_fargs: false, toplevel: false },
      mangle: { toplevel: false },
      format: { ascii_only: true },
    });
    if (!min.code) throw new Error("terser produced nothing");
    code = min.code;
  }
  return code;
}

export interface PinConfig {
  [key: string]: unknown;
}

/** The build-time configuration placed in front of the firmware: the pin map and defaults. */
export function devicePrelude(configPath = path.join(ROOT, "espruino.config.json")): string {
  const cfg = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, "utf8")) : {};
  const embedded = { pins: cfg.pins || null, firmware: cfg.firmware || null };
  return "var KEYBOX_BUILD=" + JSON.stringify(embedded) + ";\n";
}

export interface BuildResult {
  file: string;
  bytes: number;
  gate: GateReport;
  jsVars: { value: number; how: string };
}

/** Builds dist/keybox.js, the file that is flashed, and checks it. */
export async function buildFirmware(): Promise<BuildResult> {
  const code = await bundle({ entry: "hal/espruino/entry.ts", prelude: devicePrelude() });
  const gate = checkBundle(code);
  const file = path.join(ROOT, "dist", "keybox.js");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  const bytes = Buffer.byteLength(code);
  return { file, bytes, gate, jsVars: measureJsVars(code) };
}

async function main(): Promise<void> {
  const r = await buildFirmware();
  const rel = path.relative(ROOT, r.file);
  if (r.gate.errors.length) {
    process.stderr.write("Espruino gate failed for " + rel + ":\n  " + r.gate.errors.join("\n  ") + "\n");
    process.exit(1);
  }
  process.stdout.write(rel + ": " + r.bytes + " bytes, ~" + r.jsVars.value + " JsVars once loaded (" + r.jsVars.how + ")\n");
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write((e && e.stack) || String(e));
    process.stderr.write("\n");
    process.exit(1);
  });
}
