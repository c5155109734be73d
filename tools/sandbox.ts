/**
 * Boots a bundle in a Node vm context that offers only Espruino's globals:
 * the ECMAScript built-ins minus those Espruino lacks, with a typed array's
 * slice() and filter() returning plain Arrays as Espruino 2v29's do, plus the fake
 * device world of espruino-fake.js. The firmware runs on the fake's virtual timers.
 */
import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";
import { createHash } from "crypto";

export const FAKE_WORLD = fs.readFileSync(path.join(__dirname, "espruino-fake.js"), "utf8");

/** Built-ins that Node has and Espruino does not (../shared/espruino.md); removed from the sandbox. */
const REMOVE = `
["Map","Set","WeakMap","WeakSet","WeakRef","Symbol","Reflect","Proxy","BigInt","SharedArrayBuffer","Atomics","FinalizationRegistry"].forEach(function(n){ delete globalThis[n]; });
delete Array.from; delete Array.of; delete Object.getPrototypeOf(Uint8Array).from; delete Object.getPrototypeOf(Uint8Array).of;
delete Math.imul; delete Number.isInteger; delete Object.freeze; delete Promise.race; delete Error.captureStackTrace;
delete ArrayBuffer.prototype.slice; delete Object.getPrototypeOf(Uint8Array.prototype).copyWithin;
Object.getPrototypeOf(Uint8Array.prototype).slice = function (a, b) { return Array.prototype.slice.call(this, a, b); };
Object.getPrototypeOf(Uint8Array.prototype).filter = function (f) { return Array.prototype.filter.call(this, f); };
delete Object.getPrototypeOf(Uint8Array.prototype).lastIndexOf;
delete Math.trunc; delete Math.log2; delete Math.log10; delete Math.hypot; delete Math.cbrt; delete Math.expm1; delete Math.fround; delete Math.clz32;
delete Number.isFinite; delete Number.isNaN; delete Number.parseInt; delete Number.parseFloat; delete Object.is; delete String.fromCodePoint;
`;

export interface FakeHw {
  now: number;
  level: { [pin: string]: number };
  analog: { [pin: string]: number };
  writes: Array<{ at: number; pin: string; value: number }>;
  nrf: { services: any; serviceOptions: any; advertising: Array<{ data: any; options: any }>; security: any; handlers: { [ev: string]: Array<(...a: any[]) => void> }; updates: any[] };
  serial: { setup: any; written: string; handlers: Array<(d: string) => void> };
  watchdog: { timeout: number; auto: boolean; kicks: number } | null;
  logs: string[];
  files?: { [name: string]: Uint8Array };
  advance(ms: number): void;
  setPin(pin: string, value: number | boolean): void;
}

export interface Sandbox {
  hw: FakeHw;
  context: vm.Context;
  run(code: string): unknown;
}

/** A fresh Espruino-like world; before() may set pin levels before the bundle loads. */
export function createSandbox(before?: (hw: FakeHw) => void): Sandbox {
  const logs: string[] = [];
  const context = vm.createContext({
    console: { log: (...a: unknown[]) => logs.push(a.map(String).join(" ")) },
    print: (...a: unknown[]) => logs.push(a.map(String).join(" ")),
    // Espruino has btoa/atob over binary strings, as browsers do.
    atob: (s: string) => Buffer.from(String(s), "base64").toString("latin1"),
    btoa: (s: string) => Buffer.from(String(s), "latin1").toString("base64"),
    process: { memory: () => ({ usage: 0, total: 12500 }), env: { VERSION: "sandbox", BOARD: "RAK5010" } },
    __host: {
      sha256: (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest()).buffer,
      sha512: (d: Uint8Array) => new Uint8Array(createHash("sha512").update(d).digest()).buffer,
    },
  });
  vm.runInContext(REMOVE, context);
  vm.runInContext(FAKE_WORLD, context, { filename: "espruino-fake.js" });
  const hw = context.__hw as FakeHw;
  hw.logs = logs;
  if (before) before(hw);
  return { hw, context, run: (code: string) => vm.runInContext(code, context, { filename: "keybox.js", timeout: 10000 }) };
}
