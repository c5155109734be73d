/**
 * Where a grant's way from its complete BLE message to the motor command
 * spends its time on the interpreter: the flashed firmware (dist/keybox.js),
 * booted by the loader from a slot of the code area with the native
 * verifier installed in the blob region (tools/espruino-run.ts's shim),
 * in the Linux build of Espruino (ESPRUINO_BIN) with the fake board of
 * tools/espruino-fake.js. A phone connects over the fake NRF with an
 * encrypted link and writes a fresh grant's frames; the clock runs from
 * the call that delivers the last frame to the digitalWrite that starts the
 * motor, in real time (the interpreter's own getTime, kept before the fake
 * board replaces it). The machine code cannot run there (the Linux build's
 * memory is not executable), so E.nativeCall hands back a function that
 * answers 1 at once: the blob's own time is QEMU's count (qemu.ts); every
 * line of JavaScript around it (the binding's copies, the native SHA-512,
 * the address look-up) runs as on the board.
 *
 * Besides the total, the native calls the path makes are timed and
 * labelled as they happen (Storage writes by file, hashes, CRCs, BLE
 * notifications), so the time between them says which stage spent it.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { codeAreaShim, runScript, shimFiles, writeStorage } from "../espruino-run";
import { FAKE_WORLD } from "../sandbox";
import { SimCodeArea } from "../../sim/hw/codearea";
import { crc32 } from "../../sim/hw/system";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";
import { BLOB_NATIVE, ED25519_BLOB_NAME, encodeBlob } from "../../firmware/codearea/blobs";
import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { LAYOUT, MSG_UNLOCK, parseResponse, requestMessage } from "../../firmware/ble/protocol";
import { VirtualClock } from "../../sim/clock";
import { PERM_UNLOCK } from "../../firmware/grants/codec";
import { mint, testKey, T0 } from "../../test/grants/helpers";
import { installCodeArea, installedBox } from "../../test/e2e/installed";

const BOX = "KB-BENCH01";

/** One grant's way, ms of real time on the interpreter, and what the path called on the way (label, ms since the last frame, ms inside). */
export interface PathRun {
  ms: number;
  /** Flash writes before the motor started (Storage or the code area): their count, bytes, and ms inside the Linux build's file-backed emulation. */
  writes: number;
  writeBytes: number;
  writeMs: number;
  /** Flash pages erased before the motor started (a journal in the code area taking a new page). */
  erases: number;
  /** ms inside the fake board's JavaScript stand-ins for the board's native timers and pins (setTimeout, analogRead, ...). */
  fakeMs: number;
  marks: { at: number; what: string; ms: number }[];
}

export interface PathBench {
  /** Fresh grants (never seen): each verified by the native path. */
  neverSeen: PathRun[];
  /** The same grants a second time (2 uses each): answered by the cache of verified grants. */
  seenBefore: PathRun[];
  /**
   * The least ms of the runs, without the time inside Storage writes (the
   * board's flash is priced separately) and inside the fake board's
   * stand-ins for natives: on a machine shared with other work the least
   * disturbed run is the closest to the interpreter's cost.
   */
  neverSeenMs: number;
  seenBeforeMs: number;
  /** With count: x86 instructions the interpreter executed on a fresh grant's way, the mean of the fresh grants (0 without). */
  neverSeenInstructions: number;
  /** Median writes (Storage or the code area), 32-bit words they program and pages erased before the motor starts. */
  writes: number;
  words: number;
  erases: number;
}

/** The bolt's mechanics: it follows the H-bridge after 300 ms of travel (the fake board has none). */
const MECHANICS = [
  "var __dw = digitalWrite;",
  "digitalWrite = function (pin, v) { if (pin === 'D19' && v && __t0) { __mark('MOTOR'); __runs.push({ ms: (__rt() - __t0) * 1000, marks: __marks, w: __w }); __t0 = 0; if (__in) E.HSBtoRGB(0, 0, 0); }",
  "  __dw(pin, v);",
  "  if (pin === 'D19' && v) setTimeout(function () { __hw.setPin('D34', 1); }, 300);",
  "  if (pin === 'D20' && v) setTimeout(function () { __hw.setPin('D34', 0); }, 300); };",
].join("\n");

/** Real-time probes on the natives the firmware calls, installed before the fake board (which replaces getTime); Storage writes are always timed. */
const PROBES = (detail: boolean) => [
  "var __rt = getTime, __t0 = 0, __in = 0, __marks = [], __runs = [], __w = { n: 0, bytes: 0, ms: 0, erases: 0, fake: 0 }, __inside = 0, __fake = {};",
  "function __mark(what, ms) { if (__t0) __marks.push([Math.round((__rt() - __t0) * 1e5) / 100, what, Math.round((ms || 0) * 1e5) / 100]); }",
  // A write inside a probed write (the shim's code area is kept in Storage files) is the same write: counted once.
  "function __probe(obj, name, label) { var f = obj[name]; obj[name] = function (a, b, c, d) { var t = __rt(); __inside++; try { var r = f.apply(obj, arguments); } finally { __inside--; } var ms = __rt() - t;",
  "  if (__t0 && !__inside) { var l = typeof label === 'function' ? label(a, b, c) : label; __mark(l, ms); if (__fake[l.split(' ')[0]]) __w.fake += ms; else if (l.indexOf('write 0x') === 0) { __w.n++; __w.bytes += a.length; __w.ms += ms; } else if (l.indexOf('write ') === 0) { __w.n++; __w.bytes += b.length; __w.ms += ms; } else if (l.indexOf('erase ') === 0) { __w.erases++; __w.ms += ms; } } return r; }; }",
  "(function () { var S = require('Storage'); __probe(S, 'write', function (n, d) { return 'write ' + n + ' ' + d.length; });",
  "  E.nativeCall = function () { return function () { __mark('native verifier'); return 1; }; };",
  "  if (!" + detail + ") return;",
  "  var c = require('crypto'); __probe(c, 'SHA512', function (d) { return 'SHA512 ' + d.length; }); __probe(c, 'SHA256', function (d) { return 'SHA256 ' + d.length; });",
  "  __probe(E, 'CRC32', function (d) { return 'CRC32 ' + d.length; });",
  "})();",
].join("\n");

/**
 * The fake board's own JavaScript stand-ins for the board's native timers
 * and pins: the time inside them is not the firmware's and is left out of
 * the result, as flash writes are (the wrapper's own cost stays in). With
 * the detail, the radio and JSON are timed too.
 */
const FAKE_NATIVES = ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "changeInterval", "analogRead", "digitalRead"];
const FAKE_PROBES = (detail: boolean) =>
  [
    ...FAKE_NATIVES.map((n) =>
      detail
        ? "__fake." + n + " = 1; __probe(global, '" + n + "', function (a, b) { return '" + n + "' + (typeof b === 'number' ? ' ' + b : ''); });"
        : "(function () { var f = global." + n + "; global." + n + " = function (a, b) { var t = __rt(), r = f(a, b); if (__t0) __w.fake += __rt() - t; return r; }; })();"
    ),
    detail
      ? "__probe(NRF, 'updateServices', 'updateServices'); __probe(NRF, 'setAdvertising', 'setAdvertising'); __probe(JSON, 'stringify', 'JSON.stringify'); __probe(JSON, 'parse', function (v) { return 'JSON.parse ' + v.length; });"
      : "",
  ].join("\n");

/**
 * Counting instructions (valgrind's callgrind, which the bench finds on
 * PATH): time on a shared machine varies by a third from run to run, the
 * count of x86 instructions the interpreter executes does not. Callgrind
 * collects only inside Array.prototype.findIndex, which the firmware never
 * calls and which wraps each fresh grant's way here; inside it, every
 * Array.prototype.some (never called by the firmware either) toggles the
 * collection off again, and wraps the fake board's stand-ins for the
 * board's natives (timers, pins, the code area's flash) and the fake
 * event loop's search for the next timer. __step runs the due timers one
 * at a time and stops at the motor. The tick that starts the motor runs on
 * after the command; callgrind dumps its count at the grant's start
 * (E.lookupNoCase) and at the motor's command (E.HSBtoRGB, neither called
 * by the firmware), and only the dumps taken at the motor count: the way to
 * the motor command, as the time measures it.
 */
const COUNTING = [
  "var __in = 0;",
  "function __outside(f) { return function (a, b, c) { if (!__in || !__t0) return f(a, b, c); var r; [1].some(function () { r = f(a, b, c); return true; }); return r; }; }",
  ...FAKE_NATIVES.map((n) => "global." + n + " = __outside(global." + n + ");"),
  "__dw = __outside(__dw);",
  "function __step() { var due = null; [1].some(function () { for (var i = 0; i < __hw.timers.length; i++) { var t = __hw.timers[i]; if (t.at <= __hw.now && (due === null || t.at < due.at || (t.at === due.at && t.id < due.id))) due = t; }",
  "  if (due) { if (due.period) due.at += due.period; else __hw.timers = __hw.timers.filter(function (x) { return x !== due; }); } return true; }); if (!due) return false; due.cb(); return true; }",
].join("\n");

/** The natives whose calls make callgrind dump its count: at the motor's command, and at a counted grant's start. */
const MOTOR_DUMP = "jswrap_espruino_HSBtoRGB";
const START_DUMP = "jswrap_espruino_lookupNoCase";

/** The script under callgrind (see COUNTING): its output, and the instructions collected up to the motor's commands. */
function countScript(bin: string, dir: string, script: string): { out: string; instructions: number } {
  fs.writeFileSync(path.join(dir, "run.js"), script);
  const cg = path.join(dir, "callgrind.out");
  const args = ["--tool=callgrind", "--collect-atstart=no", "--toggle-collect=jswrap_array_findIndex", "--toggle-collect=jswrap_array_some"];
  args.push("--dump-before=" + MOTOR_DUMP, "--dump-before=" + START_DUMP, "--callgrind-out-file=" + cg, bin, "run.js");
  const r = spawnSync("valgrind", args, { cwd: dir, input: "", encoding: "latin1", timeout: 1800000 });
  let instructions = 0;
  let dumps = 0;
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith("callgrind.out")) continue;
    const text = fs.readFileSync(path.join(dir, f), "latin1");
    const total = /^(?:summary|totals): (\d+)/m.exec(text);
    if (total && text.includes("--dump-before=" + MOTOR_DUMP)) {
      instructions += +total[1];
      dumps++;
    }
  }
  if (!dumps) throw new Error("path bench: callgrind counted nothing:\n" + String(r.stderr || "").slice(-2000));
  return { out: r.stdout || "", instructions: instructions };
}

/**
 * The loop ../shared/espruino.md states the interpreter's speed with, run in
 * this interpreter: `while(n<N){D0.set();D0.reset();n++}` measured about
 * 340,000 iterations a second on x86, which is what its 40x (integer code)
 * to 100x (floating point) against an nRF52 is relative to: about 8,500 to
 * 3,400 iterations a second on the board. Its rate here (the best of 5
 * timed runs) and, with valgrind, its x86 instructions per iteration (the
 * same on every run) put a way's time or count in loop iterations, which
 * the board runs at that rate whatever this machine's load or build.
 */
export const REFERENCE_LOOP = "while(n<N){D0.set();D0.reset();n++}";
export function referenceLoop(bin: string, count: boolean): { perSecond: number; instructions: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-loop-"));
  try {
    const timed = "var best = 0; for (var r = 0; r < 5; r++) { var n = 0, N = 30000, t = getTime(); " + REFERENCE_LOOP + " var ips = N / (getTime() - t); if (ips > best) best = ips; } print('LOOP ' + Math.round(best));";
    const m = /LOOP (\d+)/.exec(runScript(bin, dir, timed, 120000));
    if (!m) throw new Error("path bench: the reference loop did not run");
    let instructions = 0;
    if (count) {
      const N = 2000;
      fs.writeFileSync(path.join(dir, "loop.js"), "var n = 0, N = " + N + "; [1].findIndex(function () { " + REFERENCE_LOOP + " return true; });");
      const cg = path.join(dir, "loop.out");
      spawnSync("valgrind", ["--tool=callgrind", "--collect-atstart=no", "--toggle-collect=jswrap_array_findIndex", "--callgrind-out-file=" + cg, bin, "loop.js"], { cwd: dir, input: "", encoding: "latin1", timeout: 600000 });
      const total = fs.existsSync(cg) ? /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(cg, "latin1")) : null;
      if (!total) throw new Error("path bench: callgrind did not count the reference loop");
      instructions = Math.round(+total[1] / N);
    }
    return { perSecond: +m[1], instructions: instructions };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether valgrind can be run here (the count needs it; Debian's valgrind package). */
export function canCount(): boolean {
  return spawnSync("valgrind", ["--version"], { encoding: "latin1" }).status === 0;
}

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

/**
 * The journal pool in RAM for the bench, in place of the shim's Storage
 * files: the board's flash is memory-mapped, while every byte the firmware
 * reads from the Linux build's emulated flash is a file read (the blank
 * check before each write reads its bytes one by one). Writes only clear
 * bits, erases set a page to 0xFF; they are timed as writes (probe below).
 */
function poolInRam(l: { pool: number; poolBytes: number }, image: Uint8Array): string {
  return [
    "(function () { var F = require('Flash'), r = F.read, w = F.write, e = F.erasePage, m = E.memoryArea, at = " + l.pool + ", n = " + l.poolBytes + ";",
    "  var ram = new Uint8Array(E.toArrayBuffer(atob(" + JSON.stringify(Buffer.from(image).toString("base64")) + ")));",
    "  function inside(a, len) { return a >= at && a + len <= at + n; }",
    "  F.read = function (len, a) { return inside(a, len) ? new Uint8Array(ram.subarray(a - at, a - at + len)) : r.call(F, len, a); };",
    "  F.write = function (d, a) { if (!inside(a, d.length)) return w.call(F, d, a); for (var i = 0; i < d.length; i++) ram[a - at + i] &= d[i]; };",
    "  F.erasePage = function (a) { if (!inside(a, 4096)) return e.call(F, a); ram.fill(255, a - at, a - at + 4096); };",
    "  E.memoryArea = function (a, len) { return inside(a, len) ? E.toString(ram.subarray(a - at, a - at + len)) : m(a, len); };",
    "})();",
  ].join("\n");
}

/** The results and errors the phone was notified of, from the NOTIFY line. */
function answers(out: string): string[] {
  const m = /NOTIFY (.*)/.exec(out);
  if (!m) return ["(nothing)"];
  const rx = new Reassembler({ clock: new VirtualClock(), crc32, maxBytes: MAX_FRAMED, timeoutMs: 5000, onTimeout: () => undefined });
  const said: string[] = [];
  for (const f of JSON.parse(m[1]) as number[][]) {
    const r = rx.push(new Uint8Array(f));
    if (r && typeof r !== "string") {
      const p = parseResponse(r) as { type: string; reason?: string; code?: string };
      if (p.type === "result" || p.type === "error") said.push(p.reason || p.code || p.type);
    }
  }
  return said;
}

/**
 * Runs `grants` fresh grants (2 uses each) through the firmware, then each a
 * second time; one grant before them warms up (creates the journals' files).
 */
export function benchPath(bin: string, o: { firmware: string; blob: Uint8Array; grants?: number; detail?: boolean; loose?: boolean; count?: boolean }): PathBench {
  const owner = testKey(41);
  const n = o.grants === undefined ? 7 : o.grants;
  const box = installedBox(BOX, owner, false);
  const area = new SimCodeArea();
  installCodeArea(area, fs.readFileSync(o.firmware, "latin1"), box.pool, encodeBlob(BLOB_NATIVE, ED25519_BLOB_NAME, o.blob, sha256(o.blob)));
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  const files: { [name: string]: Uint8Array } = Object.assign(
    box.files,
    shimFiles((a, len) => area.read(a, len), l),
    { ".boot0": new Uint8Array(Buffer.from(codeAreaShim(l), "latin1")) },
  );
  const grant = (i: number) => mint(owner, { boxId: BOX, grantId: (0xbe0000 + i).toString(16).padStart(16, "0"), notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK, uses: 2 });
  const svc = JSON.stringify(LAYOUT.service);
  const req = JSON.stringify(LAYOUT.request);
  let tag = 0;
  const visit = (g: Uint8Array, k: number): string[] => {
    const frames = encodeFrames(requestMessage(MSG_UNLOCK, g), (tag = (tag % 60) + 1), crc32);
    const last = frames.length - 1;
    return [
      "__hw.nrf.handlers.connect.forEach(function (cb) { cb(); });",
      "__hw.advance(100);",
      "var W = __hw.nrf.services[" + svc + "][" + req + "].onWrite;",
      ...frames.slice(0, last).map((f) => "W({ data: new Uint8Array(" + JSON.stringify(Array.from(f)) + ").buffer });"),
      "var __last = new Uint8Array(" + JSON.stringify(Array.from(frames[last])) + ").buffer;",
      o.count && k >= 1 && k <= n
        ? "__marks = []; __w = { n: 0, bytes: 0, ms: 0, erases: 0, fake: 0 }; [1].findIndex(function () { __in = 1; E.lookupNoCase({}, ''); __t0 = __rt(); W({ data: __last }); while (__t0 && __step()) {} __in = 0; return true; }); __hw.advance(0);"
        : "__marks = []; __w = { n: 0, bytes: 0, ms: 0, erases: 0, fake: 0 }; __t0 = __rt(); W({ data: __last }); __mark('message handled'); __hw.advance(0);",
      "__t0 = 0; __hw.advance(5000);",
      "__hw.nrf.handlers.disconnect.forEach(function (cb) { cb(19); });",
      "__hw.advance(40000);",
    ];
  };
  const order: Uint8Array[] = [grant(0)];
  for (let i = 1; i <= n; i++) order.push(grant(i));
  for (let i = 1; i <= n; i++) order.push(grant(i));
  const script = [
    PROBES(!!o.detail),
    FAKE_WORLD,
    "digitalWrite('D34', 0);",
    MECHANICS,
    FAKE_PROBES(!!o.detail),
    o.count ? COUNTING : "",
    box.setup,
    "eval(require('Storage').read('.boot0'));",
    poolInRam(l, box.pool),
    // The code area as the shim made it: journals kept there are written through require("Flash"), timed like Storage's.
    "__probe(require('Flash'), 'write', function (d, addr) { return 'write 0x' + addr.toString(16) + ' ' + d.length; }); __probe(require('Flash'), 'erasePage', function (addr) { return 'erase 0x' + addr.toString(16); });",
    o.count ? "(function () { var F = require('Flash'); F.write = __outside(F.write); F.erasePage = __outside(F.erasePage); F.read = __outside(F.read); E.memoryArea = __outside(E.memoryArea); })();" : "",
    // From RAM: the Linux build's flash is a file read through for every character the lexer takes, about
    // 20 times slower than the board's memory-mapped flash, so code evaluated from it would not tell.
    fs.readFileSync(o.firmware, "latin1"),
    // Past the latch's cool-down after boot, so that every grant's motor starts on the next tick.
    "__hw.advance(10000);",
    ...order.flatMap((g, k) => visit(g, k)),
    "print('PATH ' + JSON.stringify(__runs));",
    "var __out = []; __hw.nrf.updates.forEach(function (u) { var c = u[" + svc + "] && u[" + svc + "][" + JSON.stringify(LAYOUT.response) + "]; if (c && c.notify) { var a = []; for (var i = 0; i < c.value.length; i++) a.push(c.value[i]); __out.push(a); } });",
    "print('NOTIFY ' + JSON.stringify(__out));",
  ].join("\n");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-path-bench-"));
  try {
    if (!writeStorage(bin, dir, files)) throw new Error("path bench: could not write the interpreter's Storage");
    let instructions = 0;
    let out: string;
    if (o.count) {
      const r = countScript(bin, dir, script);
      out = r.out;
      instructions = Math.round(r.instructions / n);
    } else out = runScript(bin, dir, script, 300000);
    const m = /PATH (.*)/.exec(out);
    if (!m) throw new Error("path bench: no result from the interpreter:\n" + out.slice(-2000));
    const raw = JSON.parse(m[1]) as { ms: number; marks: [number, string, number][]; w: { n: number; bytes: number; ms: number; erases: number; fake: number } }[];
    if (raw.length !== order.length && !o.loose)
      throw new Error("path bench: " + raw.length + " of " + order.length + " grants started the motor; the phone heard: " + answers(out).join(", "));
    const runs: PathRun[] = raw.map((r) => ({ ms: r.ms, writes: r.w.n, writeBytes: r.w.bytes, writeMs: r.w.ms * 1000, erases: r.w.erases, fakeMs: r.w.fake * 1000, marks: r.marks.map((k) => ({ at: k[0], what: k[1], ms: k[2] })) }));
    const neverSeen = runs.slice(1, 1 + n);
    const seenBefore = runs.slice(1 + n);
    const median = (xs: number[]) => xs.slice().sort((a, c) => a - c)[Math.floor(xs.length / 2)];
    return {
      neverSeen,
      seenBefore,
      neverSeenMs: Math.min.apply(null, neverSeen.map((r) => r.ms - r.writeMs - r.fakeMs)),
      seenBeforeMs: Math.min.apply(null, seenBefore.map((r) => r.ms - r.writeMs - r.fakeMs)),
      neverSeenInstructions: instructions,
      writes: median(neverSeen.map((r) => r.writes)),
      words: median(neverSeen.map((r) => Math.ceil(r.writeBytes / 4))),
      erases: median(neverSeen.map((r) => r.erases)),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * ESPRUINO_BIN=... npx tsx tools/native/path.ts [--detail] [--count] [--firmware FILE] [--blob FILE] [--loose]:
 * every grant's time and, with --detail, its timeline (the natives it called, ms since the last frame,
 * ms inside); --count adds the x86 instructions of a fresh grant's way under valgrind (3 grants, a
 * minute or two); --firmware/--blob bench another build (npm run build's dist/ by default); --loose
 * keeps the runs of a firmware that did not start the motor for every grant.
 */
if (require.main === module) {
  const bin = process.env.ESPRUINO_BIN;
  if (!bin) throw new Error("set ESPRUINO_BIN");
  const root = path.resolve(__dirname, "../..");
  const arg = (name: string, def: string) => (process.argv.indexOf(name) > 0 ? path.resolve(process.argv[process.argv.indexOf(name) + 1]) : path.join(root, def));
  const r = benchPath(bin, {
    firmware: arg("--firmware", "dist/keybox.js"),
    blob: new Uint8Array(fs.readFileSync(arg("--blob", "dist/ed25519.bin"))),
    detail: process.argv.includes("--detail"),
    loose: process.argv.includes("--loose"),
    count: process.argv.includes("--count"),
    grants: process.argv.includes("--count") ? 3 : undefined,
  });
  for (const run of r.neverSeen.concat(r.seenBefore)) {
    process.stdout.write("total " + run.ms.toFixed(2) + " ms, writes " + run.writes + " (" + run.writeBytes + " B), " + run.erases + " page erases, " + run.writeMs.toFixed(2) + " ms inside them, " + run.fakeMs.toFixed(2) + " ms inside the fake board's timers and pins\n");
    for (const k of run.marks) process.stdout.write("   " + k.at.toFixed(2).padStart(7) + "  " + k.what + (k.ms ? " (" + k.ms.toFixed(2) + ")" : "") + "\n");
  }
  process.stdout.write(JSON.stringify({ neverSeenMs: r.neverSeenMs, seenBeforeMs: r.seenBeforeMs, neverSeenInstructions: r.neverSeenInstructions, writes: r.writes, words: r.words, erases: r.erases }) + "\n");
}
