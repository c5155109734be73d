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

/** The code area's parts the shim maps: the slots, then the blob region, each as a Storage file. */
function shimRegions(l: { slots: number[]; slotBytes: number; blobs: number; blobBytes: number }): { addr: number; bytes: number; file: string }[] {
  return l.slots.map((a, i) => ({ addr: a, bytes: l.slotBytes, file: "kbs" + i })).concat([{ addr: l.blobs, bytes: l.blobBytes, file: "kbblobs" }]);
}

/**
 * A shim for the Linux interpreter, whose Flash module works on the same
 * emulated file as Storage and whose flash is not memory-mapped: run before
 * the loader (.boot0), it makes require("Flash") and E.memoryArea read the
 * code area's slots and blob region from Storage files (kbs0, kbs1,
 * kbblobs: as far as anything was written; the rest reads erased),
 * read-only, and the journal pool from one 4096-byte Storage file per page
 * (kbp0, kbp1, ...), which Flash.erasePage re-creates erased and
 * Flash.write programs. Storage.read returns the same kind of flash-backed string
 * there that E.memoryArea returns on the board, so a firmware evaluated
 * from it keeps its function bodies in flash too.
 */
export function codeAreaShim(l: { slots: number[]; slotBytes: number; blobs: number; blobBytes: number; pool: number; poolBytes: number }): string {
  return `(function () {
  var S = require("Storage"), Flash = require("Flash"), regions = ${JSON.stringify(shimRegions(l))};
  var pool = ${l.pool}, poolEnd = ${l.pool + l.poolBytes};
  function where(addr, len) {
    if (addr >= pool && addr + len <= poolEnd) {
      var page = Math.floor((addr - pool) / 4096), name = "kbp" + page;
      // a pool page is a Storage file of 4096 bytes, created erased the first time it is touched
      if (S.read(name) === undefined) S.write(name, "\xff", 0, 4096);
      if (addr + len > pool + (page + 1) * 4096) throw new Error("shim: 0x" + addr.toString(16) + "+" + len + " spans two pool pages");
      return { file: name, off: addr - pool - page * 4096 };
    }
    for (var i = 0; i < regions.length; i++) { var r = regions[i]; if (addr >= r.addr && addr + len <= r.addr + r.bytes) return { file: r.file, off: addr - r.addr }; }
    throw new Error("shim: 0x" + addr.toString(16) + " is not in the code area");
  }
  // The module object is shared by every require("Flash"): its methods are replaced in place.
  Flash.getFree = function () { return [{ addr: 0x81000, length: 0x61000 }]; };
  Flash.read = function (len, addr) {
      var w = where(addr, len), out = new Uint8Array(len), s = S.read(w.file);
      out.fill(255);
      var n = s === undefined ? 0 : Math.min(len, s.length - w.off);
      if (n > 0) out.set(E.toUint8Array(S.read(w.file, w.off, n)));
      return out;
  };
  // Slots and blobs are read-only here; the journal pool's pages are Storage files, erased by re-creating them.
  Flash.erasePage = function (addr) {
    if (addr < pool || addr >= poolEnd) throw new Error("shim: the code area is read-only here");
    var w = where(addr, 4096);
    S.erase(w.file);
    S.write(w.file, "\xff", 0, 4096);
  };
  Flash.write = function (data, addr) {
    if (addr < pool || addr >= poolEnd) throw new Error("shim: the code area is read-only here");
    // Storage programs only erased bytes: write the runs that program something (0xFF programs nothing)
    var w = where(addr, data.length), i = 0;
    while (i < data.length) {
      if (data[i] === 255) { i++; continue; }
      var j = i;
      while (j < data.length && data[j] !== 255) j++;
      S.write(w.file, new Uint8Array(data.buffer, data.byteOffset + i, j - i), w.off + i, 4096);
      i = j;
    }
  };
  E.memoryArea = function (addr, len) { var w = where(addr, len); return S.read(w.file, w.off, len); };
})();
`;
}

/** The Storage files codeAreaShim reads: each part as far as anything was written to it, and every pool page in use. */
export function shimFiles(
  read: (addr: number, length: number) => Uint8Array,
  l: { slots: number[]; slotBytes: number; blobs: number; blobBytes: number; pool: number; poolBytes: number },
): { [name: string]: Uint8Array } {
  const files: { [name: string]: Uint8Array } = {};
  for (const r of shimRegions(l)) {
    const img = read(r.addr, r.bytes);
    let end = img.length;
    while (end > 0 && img[end - 1] === 0xff) end--;
    if (end) files[r.file] = img.subarray(0, Math.ceil(end / 4) * 4);
  }
  for (let p = 0; p * 4096 < l.poolBytes; p++) {
    const page = read(l.pool + p * 4096, 4096);
    if (page.some((b) => b !== 0xff)) files["kbp" + p] = page;
  }
  return files;
}
