import { Flash, FlashUsage } from "../../hal";

/** Thrown by the simulated flash when an injected power cut strikes mid-operation. */
export class PowerLoss extends Error {
  constructor() {
    super("simulated power loss");
    this.name = "PowerLoss";
  }
}

/** nRF52840 flash pages are 4 KiB; the RAK5010 build gives Storage 20 of them (tools/boards/RAK5010.json). */
export const PAGE_BYTES = 4096;
export const STORAGE_PAGES = 20;
/** Espruino's file header: 4 bytes size (flags in the top byte), 28 bytes of 0-padded name. */
const HEADER = 32;
const NAME = 28;
const UNSET = 0xffffffff;

/** Node has both; the ES2020 library types used here declare neither. */
interface Ref<T> {
  deref(): T | undefined;
}
const host = globalThis as unknown as {
  WeakRef: new (target: ArrayBuffer) => Ref<ArrayBuffer>;
  structuredClone: (value: unknown, options: { transfer: ArrayBuffer[] }) => unknown;
};

export interface SimFlashOptions {
  /** Bytes of Storage, a whole number of pages; default the RAK5010's 80 KiB. */
  capacity?: number;
  /** Flash page size (default 4096, the nRF52840's). */
  pageBytes?: number;
  /** A saved image (image()) to start from instead of an erased area; its length sets the capacity. */
  image?: Uint8Array;
}

export interface FlashStats {
  /** Erases of each page since construction (wear: the nRF52840 is rated 10,000 per page). */
  eraseCounts: number[];
  /** Bytes programmed since construction, compaction included. */
  programmed: number;
  /** Compactions that ran, asked for or automatic. */
  compactions: number;
  /** Of those, the ones a create started by itself because the tail was too short. */
  autoCompactions: number;
  /** Boots whose check found the header chain broken and erased the whole area (a compaction cut part-way). */
  wipes: number;
  /** Footprint (header + padded size) of every file created, by the part of its name before "~" (journals). */
  allocated: { [prefix: string]: number };
}

interface Header {
  /** Address of the header. */
  at: number;
  size: number;
  /** First 4 bytes of the name, little-endian: 0 once the file was erased. */
  first: number;
}

/*
 * Byte image. The area is Espruino's Storage bank as src/jsflash.c (2v29)
 * lays it out on the nRF52: files back to back from the start, each a 32-byte
 * header (u32 LE size | flags << 24, then the name, 0-padded to 28 bytes)
 * followed by its data, padded to 4 bytes. The first header whose size word
 * is blank (0xFFFFFFFF) ends the chain; everything after it is the free tail.
 * Erasing a file programs the first 4 bytes of its name to 0: it stays in
 * the chain as trash until a compaction. image() returns exactly these bytes.
 */

/**
 * Espruino's Storage on NOR flash, byte for byte, with power-cut injection.
 * What it reproduces from jsflash.c, because the firmware's survival depends
 * on it:
 * - free() is getFree(): only the unused tail; erased files are trash that
 *   only a compaction gives back (usage() says how much).
 * - create() takes the tail; when the file does not fit and the trash would
 *   make room it compacts first by itself, exactly as Storage.write does.
 * - compaction starts at the last page boundary that begins with a header
 *   at or before the first erased file (pages before it stay untouched),
 *   streams every live file down through a swap buffer of at most a page
 *   plus a header, erasing each page once the reading has left it, and
 *   finally erases the pages it vacated. A power cut part-way leaves the
 *   image as the board would; at powerOn the boot check of jsinteractive.c
 *   runs and, when the chain no longer parses, erases the whole area, as
 *   Espruino does on the RAK5010.
 * - programming only clears bits; every program and page erase is counted
 *   (stats()).
 * - a view from read() dies when its file moves or is erased: its buffer is
 *   detached, so its length reads 0, every element reads undefined and every
 *   method (subarray, slice, set, iteration) throws a TypeError. On the board
 *   such a view would point at whatever now occupies those bytes; here the
 *   test that kept one fails instead of passing on garbled data.
 * Power cuts: cutAfter(n) lets exactly n more bytes be programmed (data bytes
 * one at a time; header and erase-mark words, which the nRF52 programs as
 * 32-bit words, whole or not at all), then throws PowerLoss, and every call
 * throws until powerOn().
 */
export class SimFlash implements Flash {
  /** Bytes programmed since construction: the write points a power-cut test enumerates. */
  programmed = 0;
  private readonly mem: Uint8Array;
  private readonly page: number;
  private readonly erases: number[];
  private compactions = 0;
  private autoCompactions = 0;
  private wipes = 0;
  /**
   * Control: called the moment an injected cut strikes, before PowerLoss is
   * thrown, so the board can stop everything at once (SimBox): a firmware
   * catch block that swallows the exception must not keep the box running.
   */
  onPowerLoss: (() => void) | undefined;
  private allocated: { [prefix: string]: number } = {};
  private budget = Infinity;
  private dead = false;
  private swapOk = true;
  /** Live read() buffers by the address of their file's header. */
  private views: { [at: number]: Array<Ref<ArrayBuffer>> } = {};

  constructor(options: SimFlashOptions = {}) {
    const page = options.pageBytes === undefined ? PAGE_BYTES : options.pageBytes;
    if (!(page >= 256) || page % 4 !== 0) throw new Error("flash_page");
    const size = options.image !== undefined ? options.image.length : options.capacity === undefined ? STORAGE_PAGES * page : options.capacity;
    if (!(size >= page) || size % page !== 0) throw new Error("flash_capacity: a whole number of " + page + "-byte pages");
    this.page = page;
    this.mem = new Uint8Array(size).fill(0xff);
    if (options.image !== undefined) this.mem.set(options.image);
    this.erases = new Array(size / page).fill(0);
  }

  create(name: string, size: number): boolean {
    this.alive();
    const key = nameBytes(name);
    if (!key || !(size > 0 && size <= 0xffffff && Math.floor(size) === size) || this.find(key)) return false;
    const at = this.allocate(align(size) + HEADER);
    if (at < 0) return false;
    const group = name.split("~")[0];
    this.allocated[group] = (this.allocated[group] || 0) + align(size) + HEADER;
    this.programWord(at, size);
    for (let i = 0; i < NAME; i += 4) this.programWord(at + 4 + i, u32(key, i));
    return true;
  }

  writeAt(name: string, offset: number, data: Uint8Array): boolean {
    this.alive();
    const key = nameBytes(name);
    const h = key && this.find(key);
    if (!h || !(offset >= 0) || offset + data.length > h.size) return false;
    // Storage refuses to program bytes that are not blank, and at offset 0 it
    // would replace a file holding any data: the binding refuses both.
    const base = h.at + HEADER;
    const from = offset === 0 ? 0 : offset;
    const to = offset === 0 ? h.size : offset + data.length;
    for (let i = from; i < to; i++) if (this.mem[base + i] !== 0xff) return false;
    for (let i = 0; i < data.length; i++) {
      this.spend(1);
      this.mem[base + offset + i] &= data[i];
    }
    return true;
  }

  read(name: string): Uint8Array | undefined {
    this.alive();
    const key = nameBytes(name);
    const h = key && this.find(key);
    if (!h) return undefined;
    const out = this.mem.slice(h.at + HEADER, h.at + HEADER + h.size);
    const list = this.views[h.at] || (this.views[h.at] = []);
    if (list.length >= 32) this.views[h.at] = list.filter((r) => r.deref() !== undefined);
    this.views[h.at].push(new host.WeakRef(out.buffer));
    return out;
  }

  erase(name: string): void {
    this.alive();
    const key = nameBytes(name);
    const h = key && this.find(key);
    if (!h) return;
    this.poison(h.at);
    this.programWord(h.at + 4, 0);
  }

  list(prefix: string): string[] {
    this.alive();
    const out: string[] = [];
    this.walk((h) => {
      if (h.first !== 0 && this.flags(h) === 0) {
        const n = this.nameAt(h.at);
        if (n.indexOf(prefix) === 0) out.push(n);
      }
    });
    return out;
  }

  free(): number {
    this.alive();
    return this.usage().free;
  }

  usage(): FlashUsage {
    this.alive();
    const s = this.storageStats();
    return { free: s.free, trash: s.trashBytes, files: s.fileBytes };
  }

  compact(): void {
    this.alive();
    this.compactBank();
  }

  /** Control: cut the power after n more programmed bytes (0 = at the next write). */
  cutAfter(n: number): void {
    this.budget = n;
  }

  /**
   * Control: power is back. Espruino's first boot checks the chain of
   * headers and erases the whole area when it does not parse (a compaction
   * cut part-way can leave it so); the store holds whatever survived.
   */
  powerOn(): void {
    this.dead = false;
    this.budget = Infinity;
    this.views = {};
    if (this.valid()) return;
    this.wipes++;
    for (let p = 0; p < this.erases.length; p++) this.erasePage(p * this.page);
  }

  /** Control: true once a cut struck and until powerOn(). */
  isDead(): boolean {
    return this.dead;
  }

  /** Control: false makes compaction find no RAM for its swap buffer, so it does nothing (as Espruino). */
  swapAvailable(ok: boolean): void {
    this.swapOk = ok;
  }

  /** Control: every live file's bytes, for comparing stores. */
  snapshot(): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    this.walk((h) => {
      if (h.first !== 0 && this.flags(h) === 0) out[this.nameAt(h.at)] = this.mem.slice(h.at + HEADER, h.at + HEADER + h.size);
    });
    return out;
  }

  /** Control: bit rot, flips bits of one byte of a live file in place (no programming, no counters). */
  flipBits(name: string, offset: number, mask: number): void {
    const key = nameBytes(name);
    const h = key && this.find(key);
    if (!h || !(offset >= 0 && offset < h.size)) throw new Error("no byte " + offset + " in " + name);
    this.mem[h.at + HEADER + offset] ^= mask;
  }

  /** Control: a copy of the whole area, trash included, to save and restore with options.image. */
  image(): Uint8Array {
    return this.mem.slice();
  }

  /** Control: wear and write counters. */
  stats(): FlashStats {
    return {
      eraseCounts: this.erases.slice(),
      programmed: this.programmed,
      compactions: this.compactions,
      autoCompactions: this.autoCompactions,
      wipes: this.wipes,
      allocated: Object.assign({}, this.allocated),
    };
  }

  // --- the chain of headers (jsfGetFileHeader, jsfGetNextFileHeader) ---

  private end(): number {
    return this.mem.length;
  }

  private header(at: number): Header | undefined {
    if (at < 0 || at + HEADER > this.end()) return undefined;
    const word = u32(this.mem, at);
    const size = word & 0xffffff;
    if (word === UNSET || word === 0 || at + HEADER + size > this.end()) return undefined;
    return { at, size, first: u32(this.mem, at + 4) };
  }

  private flags(h: Header): number {
    return this.mem[h.at + 3];
  }

  /** Where the header after h would be, or -1 past the end (GNFH_GET_ALL also tries the next page). */
  private nextAt(h: Header, all: boolean): { at: number; h: Header | undefined } {
    let at = align(h.at + HEADER + h.size);
    if (at + HEADER > this.end()) return { at: -1, h: undefined };
    let next = this.header(at);
    if (all && !next) {
      at = this.nextPage(at);
      if (at < 0) return { at: -1, h: undefined };
      next = this.header(at);
    }
    return { at, h: next };
  }

  private nextPage(at: number): number {
    const n = (Math.floor(at / this.page) + 1) * this.page;
    return n >= this.end() ? -1 : n;
  }

  private walk(fn: (h: Header) => void): void {
    let h = this.header(0);
    while (h) {
      fn(h);
      h = this.nextAt(h, true).h;
    }
  }

  private nameAt(at: number): string {
    let s = "";
    for (let i = 0; i < NAME && this.mem[at + 4 + i] !== 0; i++) s += String.fromCharCode(this.mem[at + 4 + i]);
    return s;
  }

  private find(key: Uint8Array): Header | undefined {
    let found: Header | undefined;
    this.walk((h) => {
      if (found || h.first === 0) return;
      for (let i = 0; i < NAME; i++) if (this.mem[h.at + 4 + i] !== key[i]) return;
      found = h;
    });
    return found;
  }

  /** jsfGetStorageStats(start, allPages = true). */
  private storageStats(): { free: number; trashBytes: number; fileBytes: number; firstTrashPage: number } {
    let trashBytes = 0;
    let fileBytes = 0;
    let firstTrashPage = -1;
    let unbroken = 0;
    let last = 0;
    let h = this.header(0);
    while (h) {
      if (h.at % this.page === 0) unbroken = h.at;
      const cost = align(h.size) + HEADER;
      last = h.at + cost;
      if (h.first !== 0) fileBytes += cost;
      else {
        trashBytes += cost;
        if (firstTrashPage < 0) firstTrashPage = unbroken;
      }
      h = this.nextAt(h, true).h;
    }
    return { free: this.end() - last, trashBytes, fileBytes, firstTrashPage };
  }

  /**
   * _jsfCreateFile's search: the first place with room, from the end of the
   * chain on; when there is none and the trash would make room, one
   * compaction and a second search. Returns the address or -1.
   */
  private allocate(required: number): number {
    let compacted = false;
    for (;;) {
      let freeSpace = 0;
      let trash = 0;
      let at = 0;
      while (at >= 0) {
        let h = this.header(at);
        while (h) {
          if (h.first === 0) trash += h.size;
          const n = this.nextAt(h, false);
          at = n.at;
          h = n.h;
        }
        if (at < 0) break;
        const room = this.spaceLeftInPage(at);
        freeSpace += room;
        if (room >= required) return at;
        at = this.nextPage(at);
      }
      // Espruino's own test, double counting included: compact only when it looks worth it.
      if (compacted || !(required < freeSpace + trash)) return -1;
      compacted = true;
      this.autoCompactions++;
      if (!this.compactBank()) return -1;
    }
  }

  /** Room from at to the next page, or to the end when the next page holds no header. */
  private spaceLeftInPage(at: number): number {
    let next = (Math.floor(at / this.page) + 1) * this.page;
    if (next < this.end() && !this.header(next)) next = this.end();
    return Math.min(next, this.end()) - at;
  }

  // --- compaction (jsfBankCompact, jsfCompactInternal, jsfCompactWriteBuffer) ---

  private compactBank(): boolean {
    const s = this.storageStats();
    if (!s.trashBytes) return false;
    if (!this.swapOk) return false;
    this.compactions++;
    const size = Math.min(s.fileBytes, this.page + HEADER);
    return this.compactFrom(s.firstTrashPage, new Uint8Array(Math.max(size, HEADER)));
  }

  private compactFrom(start: number, buf: Uint8Array): boolean {
    const size = buf.length;
    const st = { write: start, head: 0, tail: 0, used: 0 };
    const moves: number[][] = [];
    let h = this.header(start);
    let addr = start;
    try {
      while (h) {
        if (h.first !== 0 && this.flags(h) === 0) {
          const dest = st.write + st.used;
          if (h.at !== dest) moves.push([h.at, dest]);
          for (let i = 0; i < HEADER; i++) {
            buf[st.head] = this.mem[h.at + i];
            st.head = (st.head + 1) % size;
          }
          st.used += HEADER;
          let left = align(h.size);
          let ptr = h.at + HEADER;
          this.flush(st, ptr, buf);
          while (left) {
            let n = size - st.used;
            if (n > size - st.head) n = size - st.head;
            if (st.tail > st.head && n > st.tail - st.head) n = st.tail - st.head;
            if (n === 0) return false;
            if (n > left) n = left;
            buf.set(this.mem.subarray(ptr, ptr + n), st.head);
            left -= n;
            ptr += n;
            st.used += n;
            st.head = (st.head + n) % size;
            this.flush(st, ptr, buf);
          }
        }
        const n = this.nextAt(h, true);
        addr = n.at;
        h = n.h;
      }
      this.flush(st, this.end(), buf);
    } finally {
      // Whatever was copied has left its old address: views of it are dead,
      // and after a cut the firmware that held them is dead too.
      for (const m of moves) this.poison(m[0]);
    }
    let w = st.write;
    if (w !== start) w = this.nextPage(w - 1);
    if (w >= 0) {
      const last = addr < 0 ? this.end() : addr;
      for (let p = w; p < last; p += this.page) this.erasePage(p);
    }
    return true;
  }

  private flush(st: { write: number; head: number; tail: number; used: number }, readAt: number, buf: Uint8Array): void {
    const size = buf.length;
    let next = this.nextPage(st.write);
    if (next < 0) next = this.end();
    while (st.used) {
      let n = st.used;
      if (n + st.tail > size) n = size - st.tail;
      if (n + st.write > next) n = next - st.write;
      if (readAt < next) return;
      if (st.write % this.page === 0) this.erasePage(st.write);
      for (let i = 0; i < n; i++) {
        this.spend(1);
        this.mem[st.write + i] &= buf[st.tail + i];
      }
      st.write += n;
      next = this.nextPage(st.write);
      if (next < 0) next = this.end();
      st.tail = (st.tail + n) % size;
      st.used -= n;
    }
  }

  private erasePage(at: number): void {
    const p = Math.floor(at / this.page);
    this.mem.fill(0xff, p * this.page, (p + 1) * this.page);
    this.erases[p]++;
  }

  /**
   * jsfIsBankStorageValid(JSFSTT_NORMAL), the check at first boot, step by
   * step: `hdr` is where the header bytes last read came from, `addr` is -1
   * where the C code has 0 (no further address).
   */
  private valid(): boolean {
    const end = this.end();
    let addr = 0;
    let hdr = 0;
    let oldAddr = 0;
    if (this.header(0)) {
      for (;;) {
        const next = align(addr + HEADER + this.sizeField(hdr));
        if (next + HEADER > end) {
          addr = -1;
          break;
        }
        addr = next;
        hdr = next;
        if (!this.header(next)) {
          const page = this.nextPage(next);
          if (page < 0) {
            addr = -1;
            break;
          }
          addr = page;
          hdr = page;
          if (!this.header(page)) break;
        }
        oldAddr = addr;
      }
      if (addr < 0) {
        const after = align(oldAddr + this.sizeField(hdr) + HEADER);
        if (after <= end && after + HEADER > end) return true;
      }
    }
    for (let i = 0; i < HEADER; i++) if (this.mem[hdr + i] !== 0xff) return false;
    if (addr === 0) for (let i = 0; i < end; i++) if (this.mem[i] !== 0xff) return false;
    return true;
  }

  private sizeField(at: number): number {
    return u32(this.mem, at) & 0xffffff;
  }

  // --- programming and power ---

  /** Detaches every live read() buffer of the file whose header is at `at`. */
  private poison(at: number): void {
    const list = this.views[at];
    if (!list) return;
    delete this.views[at];
    for (const r of list) {
      const b = r.deref();
      if (b && b.byteLength > 0) host.structuredClone(b, { transfer: [b] });
    }
  }

  /** One 32-bit word, programmed whole or not at all. */
  private programWord(at: number, v: number): void {
    if (this.budget < 4) this.cut();
    this.budget -= 4;
    this.programmed += 4;
    for (let i = 0; i < 4; i++) this.mem[at + i] &= (v >>> (8 * i)) & 0xff;
  }

  private spend(bytes: number): void {
    if (this.budget < bytes) {
      this.programmed += this.budget;
      this.cut();
    }
    this.budget -= bytes;
    this.programmed += bytes;
  }

  private cut(): never {
    this.budget = 0;
    this.dead = true;
    if (this.onPowerLoss) this.onPowerLoss();
    throw new PowerLoss();
  }

  private alive(): void {
    if (this.dead) throw new PowerLoss();
  }
}

function align(n: number): number {
  return (n + 3) & ~3;
}

function u32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/** Espruino names are 1..28 bytes, 0-padded; undefined for anything else. */
function nameBytes(name: string): Uint8Array | undefined {
  if (typeof name !== "string" || name.length < 1 || name.length > NAME) return undefined;
  const out = new Uint8Array(NAME);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c > 255) return undefined;
    out[i] = c;
  }
  return out;
}
