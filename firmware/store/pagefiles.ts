import { CodeArea, Flash, FlashUsage } from "../../hal";
import { Crc32 } from "./crc32";
import { getU32le, putU32le } from "./bytes";
import { layoutFor } from "../codearea/layout";

export interface PageFilesOptions {
  area: CodeArea;
  /** First byte of the pool (page aligned) and its size in bytes (whole pages). */
  start: number;
  bytes: number;
  crc32: Crc32;
}

/*
 * The journals' files in a pool of code-area pages, one file per page, so
 * that a file is erased by itself and nothing ever moves. Storage keeps its
 * files back to back and reclaims space by compacting, and a power cut in a
 * compaction leaves a chain that Espruino's boot check answers by wiping
 * Storage whole, loader and keys included; the pool never compacts.
 *
 * Page format (integers little-endian):
 *   0..3   magic "KBPF"
 *   4..7   erase count of the page, this erase included (wear levelling)
 *   8..9   file size in bytes (1..pageBytes - 64)
 *   10     name length n (1..28)        11  format 1
 *   12..39 the name (n bytes of ASCII), 0xFF after it
 *   40..43 CRC-32 of bytes 0..39
 *   44..47 0xFFFFFFFF while the file lives, programmed to 0 when it is erased
 *   48..63 0xFF
 *   64..   the file's bytes, 0xFF until programmed
 * create erases a page, then programs the header in one write. A page whose
 * header is blank, torn or fails its CRC (a create cut by a power loss) is
 * free, and so is one whose live mark is anything but 0xFFFFFFFF (an erase,
 * cut or not); a free page keeps its count for the next create. A name found
 * live twice (only a corrupt pool shows that) keeps its first page.
 */
var MAGIC = [0x4b, 0x42, 0x50, 0x46];
var HEAD = 64;
var NAME_MAX = 28;
/** The count of a page whose header is there but torn or corrupt (see wear). */
var TORN = -2;

interface Slot {
  addr: number;
  /** Erase count; -1 when the page reads blank, TORN when its header is damaged. */
  count: number;
  name: string;
  size: number;
}

export class PageFiles implements Flash {
  private readonly o: PageFilesOptions;
  private readonly page: number;
  private readonly pages: Slot[] = [];
  /** name -> index in pages of the live file. */
  private live: { [name: string]: number } = {};
  /** The page the last create took. */
  private last = -1;

  constructor(options: PageFilesOptions) {
    var o = options;
    if (!o || !o.area || typeof o.crc32 !== "function") throw new Error("pagefiles_options");
    var page = o.area.pageBytes;
    if (o.start % page !== 0 || o.bytes % page !== 0 || o.bytes < 2 * page) throw new Error("pagefiles_range");
    this.o = o;
    this.page = page;
    for (var a = o.start; a < o.start + o.bytes; a += page) this.pages.push(this.inspect(a));
    for (var i = 0; i < this.pages.length; i++) {
      var s = this.pages[i];
      if (s.name && !this.live.hasOwnProperty(s.name)) this.live[s.name] = i;
      else s.name = "";
      // ties rotate on from the most-worn page, not from the first: a box that reboots often must not favour one page
      if (this.last < 0 || s.count >= this.pages[this.last].count) this.last = i;
    }
  }

  /** The largest file one page holds. */
  fileBytes(): number {
    return this.page - HEAD;
  }

  create(name: string, size: number): boolean {
    if (this.live.hasOwnProperty(name) || !(size >= 1 && size <= this.fileBytes()) || !(name.length >= 1 && name.length <= NAME_MAX)) return false;
    // The least-worn free page; among equals, the first after the last one taken, so ties rotate.
    var pick = -1;
    var n = this.pages.length;
    for (var k = 1; k <= n; k++) {
      var i = (this.last + k) % n;
      var s = this.pages[i];
      if (!s.name && (pick < 0 || this.wear(s) < this.wear(this.pages[pick]))) pick = i;
    }
    if (pick < 0) return false;
    this.last = pick;
    var slot = this.pages[pick];
    var count = this.wear(slot) + 1;
    slot.count = -1;
    if (!this.o.area.erasePage(slot.addr)) return false;
    var h = new Uint8Array(HEAD);
    h.fill(0xff);
    h.set(MAGIC, 0);
    putU32le(h, 4, count);
    h[8] = size & 0xff;
    h[9] = size >>> 8;
    h[10] = name.length;
    h[11] = 1;
    for (var k = 0; k < name.length; k++) h[12 + k] = name.charCodeAt(k) & 0xff;
    putU32le(h, 40, this.o.crc32(h.subarray(0, 40)));
    if (!this.o.area.write(slot.addr, h)) return false;
    slot.count = count;
    slot.name = name;
    slot.size = size;
    this.live[name] = pick;
    return true;
  }

  writeAt(name: string, offset: number, data: Uint8Array): boolean {
    var s = this.slotOf(name);
    if (!s || !(offset >= 0) || offset + data.length > s.size) return false;
    if (data.length === 0) return true;
    var at = s.addr + HEAD + offset;
    // Whole words, as a journal's records come: checked blank and programmed in one call.
    if (at % 4 === 0 && data.length % 4 === 0) return this.o.area.program(at, data);
    if (!this.o.area.blank(at, data.length)) return false;
    // Otherwise the edges are padded with 0xFF, which programs nothing.
    var lo = at - (at % 4);
    var hi = at + data.length;
    if (hi % 4) hi += 4 - (hi % 4);
    var w = new Uint8Array(hi - lo);
    w.fill(0xff);
    w.set(data, at - lo);
    return this.o.area.write(lo, w);
  }

  read(name: string): Uint8Array | undefined {
    var s = this.slotOf(name);
    return s ? this.o.area.map(s.addr + HEAD, s.size) : undefined;
  }

  erase(name: string): void {
    var s = this.slotOf(name);
    if (!s) return;
    delete this.live[name];
    s.name = "";
    this.o.area.write(s.addr + 44, new Uint8Array(4));
  }

  list(prefix: string): string[] {
    var out: string[] = [];
    for (var n in this.live) if (this.live.hasOwnProperty(n) && n.indexOf(prefix) === 0) out.push(n);
    return out;
  }

  /** Bytes the free pages hold: a file of fileBytes() fits once per free page. */
  free(): number {
    return this.freePages() * this.fileBytes();
  }

  usage(): FlashUsage {
    return { free: this.free(), trash: 0, files: (this.pages.length - this.freePages()) * this.page };
  }

  /** Nothing to reclaim: an erased file's page is free at once. */
  compact(): void {}

  /** Erase counts of the pool's pages, lowest address first (-1: unknown), for the wear report. */
  eraseCounts(): number[] {
    var out: number[] = [];
    for (var i = 0; i < this.pages.length; i++) out.push(this.pages[i].count);
    return out;
  }

  private freePages(): number {
    var n = 0;
    for (var i = 0; i < this.pages.length; i++) if (!this.pages[i].name) n++;
    return n;
  }

  private slotOf(name: string): Slot | undefined {
    return this.live.hasOwnProperty(name) ? this.pages[this.live[name]] : undefined;
  }

  /**
   * A page without a count is new when it reads blank (a cut between a
   * page's erase and its header's first byte would read so too, rarely),
   * and wears like the most-worn page when its header is torn (a create cut
   * part-way: its true count is lost and may be high, so the pages known to
   * be less worn go first).
   */
  private wear(s: Slot): number {
    if (s.count >= 0) return s.count;
    if (s.count !== TORN) return 0;
    var most = 0;
    for (var i = 0; i < this.pages.length; i++) if (this.pages[i].count > most) most = this.pages[i].count;
    return most;
  }

  private inspect(addr: number): Slot {
    var h = this.o.area.read(addr, HEAD);
    var s: Slot = { addr: addr, count: -1, name: "", size: 0 };
    if (!this.o.area.blank(addr, HEAD)) s.count = TORN;
    for (var i = 0; i < 4; i++) if (h[i] !== MAGIC[i]) return s;
    if (h[11] !== 1 || getU32le(h, 40) !== this.o.crc32(h.subarray(0, 40))) return s;
    s.count = getU32le(h, 4);
    var size = h[8] | (h[9] << 8);
    var n = h[10];
    if (!(size >= 1 && size <= this.fileBytes()) || !(n >= 1 && n <= NAME_MAX)) return s;
    if (h[44] !== 0xff || h[45] !== 0xff || h[46] !== 0xff || h[47] !== 0xff) return s;
    var name = "";
    for (var k = 0; k < n; k++) name += String.fromCharCode(h[12 + k]);
    s.name = name;
    s.size = size;
    return s;
  }
}

/**
 * The journal pool of the code area's layout, or why there is none (no code
 * area on this platform, or a free range too small for the layout).
 */
export function openPool(area: CodeArea | undefined, crc32: Crc32): PageFiles | string {
  if (!area) return "no_code_area";
  var l = layoutFor(area.freeRange());
  if (typeof l === "string") return l;
  return new PageFiles({ area: area, start: l.pool, bytes: l.poolBytes, crc32: crc32 });
}
