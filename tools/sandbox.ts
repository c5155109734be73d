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
import { detokenise } from "./pretokens";
import { CodeArea } from "../hal/codearea";

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
  /** Bytes of the fake Storage area (the RAK5010's 80 KiB unless a test sets it before writing). */
  storageBytes: number;
  compactions: number;
  /** The free flash outside Storage: 0x81000-0xE2000, as bytes. */
  flash: { start: number; end: number; mem: Uint8Array };
  /** reset() and load() calls, in order. */
  calls: string[];
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
      detokenise,
    },
  });
  vm.runInContext(REMOVE, context);
  vm.runInContext(FAKE_WORLD, context, { filename: "espruino-fake.js" });
  // The interpreter's lexer reads pretokenised bytes wherever code comes from (.bootcde, a slot).
  vm.runInContext("(function (g) { var ev = g.eval; g.eval = function (s) { return ev(typeof s === 'string' ? g.__host.detokenise(s) : s); }; })(globalThis);", context);
  const hw = context.__hw as FakeHw;
  hw.logs = logs;
  if (before) before(hw);
  return { hw, context, run: (code: string) => vm.runInContext(code, context, { filename: "keybox.js", timeout: 10000 }) };
}

/**
 * The fake board's free flash through the CodeArea interface, for a host
 * test to install into or read back, the way the board's own binding
 * (hal/espruino/codearea.ts) reaches it: through require("Flash").
 */
export function sandboxCodeArea(sb: Sandbox): CodeArea {
  const F = sb.run('require("Flash")') as { erasePage(a: number): void; write(d: Uint8Array, a: number): void };
  const f = sb.hw.flash;
  const inside = (a: number, n: number) => a >= f.start && a + n <= f.end;
  return {
    pageBytes: 4096,
    freeRange: () => ({ start: f.start, end: f.end }),
    erasePage: (a) => a % 4096 === 0 && inside(a, 4096) && (F.erasePage(a), true),
    write: (a, d) => a % 4 === 0 && d.length % 4 === 0 && inside(a, d.length) && (F.write(d, a), true),
    // Host-side views: the sandbox's own typed arrays have Espruino's slice(), which returns an Array.
    read: (a, n) => new Uint8Array(new Uint8Array(f.mem.buffer, a - f.start, n)),
    map: (a, n) => new Uint8Array(f.mem.buffer, a - f.start, n),
    blank: (a, n) => new Uint8Array(f.mem.buffer, a - f.start, n).every((b) => b === 0xff),
    program: (a, d) => inside(a, d.length) && new Uint8Array(f.mem.buffer, a - f.start, d.length).every((b) => b === 0xff) && a % 4 === 0 && d.length % 4 === 0 && (F.write(d, a), true),
  };
}
