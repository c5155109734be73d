import { getU32le, isBytes, putU32le } from "./bytes";
import { Flash } from "../../hal";
import { Crc32 } from "./crc32";

export interface JournalOptions {
  flash: Flash;
  /** 1..16 chars of [A-Za-z0-9_-]; names the journal's files, so two journals need different prefixes. */
  prefix: string;
  /** Size of each preallocated segment file (64..65535). */
  segmentBytes: number;
  /** Segments per generation (1..255): the journal holds at most maxSegments * segmentBytes. */
  maxSegments: number;
  crc32: Crc32;
}

/*
 * Byte format. A journal is a set of generations; a generation is one or more
 * segment files named prefix + "~" + generation (base 36) + "." + index
 * (base 36), at most 16 + 1 + 6 + 1 + 2 = 26 characters. Each file is created
 * full of 0xFF and every byte is programmed at most once.
 *
 * Segment 0 starts with a 16-byte header, and only segment 0 has one:
 *   0..1  "KJ" (0x4B 0x4A)     2  format 1     3  0
 *   4..7  generation, u32 little-endian
 *   8..11 CRC-32 of bytes 0..7, little-endian
 *   12..15 commit mark "COMT" (0x43 0x4F 0x4D 0x54)
 * Bytes 0..11 are programmed when the file is created (Storage programs
 * offset 0 only in a blank file); the commit mark is programmed later, alone.
 * A generation is committed once both parts are valid. A fresh journal
 * commits before its first record; rewrite() commits after the last record of
 * the new generation, and only then erases the old generation. At open the
 * live generation is the highest committed one (or, when none is committed,
 * the lowest present); every other generation is an unfinished rewrite or a
 * leftover of a finished one and is erased.
 *
 * Records follow the header (segment 0) or start at byte 0 (other segments),
 * never spanning two segments, each at a multiple of 4 with 0xFF between
 * (a journal written before this rule has them back to back; both replay):
 *   0..3  CRC-32 of bytes 4..end of this record, xor the generation, LE
 *   4..5  payload length n, u16 LE       6..7  n xor 0xFFFF, u16 LE
 *   8..11 sequence number, u32 LE: 0 for a generation's first record, +1 per record
 *   12..  n payload bytes
 * Replay walks the segments in index order. A record counts when its length
 * pair agrees, it fits the file, its CRC matches and its sequence number is
 * above the last accepted one. Anything else (a torn tail, a corrupted older
 * record) is skipped by resynchronising byte by byte to the next record that
 * passes, so one bad record never hides the ones after it. After a torn
 * write, appends resume past the last programmed byte and past the torn
 * record's declared length, with the sequence number skipping one, so the
 * torn bytes are never programmed again or completed by chance into a record
 * that would shadow the next one.
 */

var HEAD = 16;
var COMMIT = [0x43, 0x4f, 0x4d, 0x54];
var FRAME = 12;

export class Journal {
  private readonly o: JournalOptions;
  /** Live generation; 0 = none on flash yet. */
  private gen = 0;
  /** Highest generation ever seen, so a new one never reuses a name. */
  private maxGen = 0;
  /** Segment indices of the live generation, ascending. */
  private segs: number[] = [];
  /** Write offset in the last segment (a multiple of 4 unless at the segment's end). */
  private pos = 0;
  /** The last segment's file name, kept: appends come before a motor starts, and a name costs several string operations. */
  private tail = "";
  private seq = 0;
  private closed = false;

  constructor(options: JournalOptions) {
    var o = options;
    if (!o || !o.flash || typeof o.crc32 !== "function") throw new Error("journal_options");
    if (typeof o.prefix !== "string" || o.prefix.length < 1 || o.prefix.length > 16 || !/^[A-Za-z0-9_-]+$/.test(o.prefix)) throw new Error("journal_prefix");
    if (!isInt(o.segmentBytes, 64, 65535) || !isInt(o.maxSegments, 1, 255)) throw new Error("journal_size");
    this.o = o;
    this.open();
  }

  /** Every intact record of the live generation, in append order, read from flash. */
  records(): Uint8Array[] {
    var out: Uint8Array[] = [];
    if (this.gen === 0) return out;
    var last = -1;
    for (var i = 0; i < this.segs.length; i++) {
      var d = this.o.flash.read(this.name(this.gen, this.segs[i]));
      if (d) last = scan(d, this.segs[i] === 0 ? HEAD : 0, this.gen, last, this.o.crc32, out)[1];
    }
    return out;
  }

  /** The largest payload one record may carry. */
  maxRecord(): number {
    return this.o.segmentBytes - HEAD - FRAME;
  }

  /** Durable once it returns true; false with nothing changed when full, closed or refused by the flash. */
  append(record: Uint8Array): boolean {
    if (this.closed || !isBytes(record) || record.length > this.maxRecord()) return false;
    var o = this.o;
    var need = FRAME + record.length;
    if (this.gen === 0) {
      var g = this.maxGen + 1;
      if (!o.flash.create(this.name(g, 0), o.segmentBytes)) return false;
      this.maxGen = g;
      if (!o.flash.writeAt(this.name(g, 0), 0, header(g, o.crc32)) || !commit(o.flash, this.name(g, 0))) {
        o.flash.erase(this.name(g, 0));
        return false;
      }
      this.gen = g;
      this.segs = [0];
      this.tail = this.name(g, 0);
      this.pos = HEAD;
      this.seq = 0;
    }
    if (this.pos + need > o.segmentBytes) {
      var next = this.segs[this.segs.length - 1] + 1;
      if (next >= o.maxSegments || !o.flash.create(this.name(this.gen, next), o.segmentBytes)) return false;
      this.segs.push(next);
      this.tail = this.name(this.gen, next);
      this.pos = 0;
    }
    var f = frame(record, this.seq, this.gen, o.crc32, o.segmentBytes - this.pos);
    if (!o.flash.writeAt(this.tail, this.pos, f)) return false;
    this.pos += f.length;
    this.seq++;
    return true;
  }

  /**
   * Replaces every record with records (compaction). The new generation is
   * complete and committed on flash before the old one is erased, so a power
   * cut leaves either the old records or the new ones. Needs flash room for
   * the new generation next to the old; false with nothing changed otherwise.
   * Erased space is reclaimed only by Flash.compact(), which the caller runs
   * when power is good.
   */
  rewrite(records: Uint8Array[]): boolean {
    if (this.closed) return false;
    var o = this.o;
    var i = 0;
    for (i = 0; i < records.length; i++) {
      if (!isBytes(records[i]) || records[i].length > this.maxRecord()) return false;
    }
    var g = this.maxGen + 1;
    this.maxGen = g;
    var made: number[] = [];
    var idx = 0;
    var p = HEAD;
    var ok = o.flash.create(this.name(g, 0), o.segmentBytes);
    if (ok) made.push(0);
    if (ok) ok = o.flash.writeAt(this.name(g, 0), 0, header(g, o.crc32));
    for (i = 0; ok && i < records.length; i++) {
      var need = FRAME + records[i].length;
      if (p + need > o.segmentBytes) {
        idx++;
        ok = idx < o.maxSegments && o.flash.create(this.name(g, idx), o.segmentBytes);
        if (!ok) break;
        made.push(idx);
        p = 0;
      }
      var f = frame(records[i], i, g, o.crc32, o.segmentBytes - p);
      ok = o.flash.writeAt(this.name(g, idx), p, f);
      p += f.length;
    }
    if (ok) ok = commit(o.flash, this.name(g, 0));
    if (!ok) {
      for (i = made.length - 1; i >= 0; i--) o.flash.erase(this.name(g, made[i]));
      return false;
    }
    var old = this.gen;
    var oldSegs = this.segs;
    this.gen = g;
    this.segs = made;
    this.tail = this.name(g, made[made.length - 1]);
    this.pos = p;
    this.seq = records.length;
    if (old !== 0) for (i = oldSegs.length - 1; i >= 0; i--) o.flash.erase(this.name(old, oldSegs[i]));
    return true;
  }

  /** About how many bytes append can still take (each record also costs 12 bytes of framing). */
  bytesFree(): number {
    if (this.closed) return 0;
    var o = this.o;
    var used = this.gen === 0 ? 0 : this.segs.length;
    var spare = Math.min(o.maxSegments - used, Math.floor(o.flash.free() / o.segmentBytes));
    var inLast = this.gen === 0 ? 0 : o.segmentBytes - this.pos;
    return inLast + Math.max(0, spare) * o.segmentBytes - (this.gen === 0 && spare > 0 ? HEAD : 0);
  }

  close(): void {
    this.closed = true;
  }

  private name(gen: number, idx: number): string {
    return this.o.prefix + "~" + gen.toString(36) + "." + idx.toString(36);
  }

  private open(): void {
    var o = this.o;
    var base = o.prefix + "~";
    var names = o.flash.list(base);
    var files: Array<{ n: string; g: number; i: number }> = [];
    var k = 0;
    for (k = 0; k < names.length; k++) {
      var f = parseName(names[k].substring(base.length));
      if (f) files.push({ n: names[k], g: f[0], i: f[1] });
    }
    var live = 0;
    var lowest = 0;
    for (k = 0; k < files.length; k++) {
      var e = files[k];
      if (e.g > this.maxGen) this.maxGen = e.g;
      if (lowest === 0 || e.g < lowest) lowest = e.g;
      if (e.i === 0 && e.g > live) {
        var d = o.flash.read(e.n);
        if (d && headerOk(d, e.g, o.crc32)) live = e.g;
      }
    }
    if (live === 0) live = lowest;
    files.sort(function (a, b) {
      return a.g === b.g ? b.i - a.i : a.g - b.g;
    });
    var segs: number[] = [];
    for (k = 0; k < files.length; k++) {
      // a segment listed but not readable is a create that a power cut tore (Storage): it holds nothing, and the next append makes it again
      if (files[k].g === live) {
        if (files[k].i === 0 || o.flash.read(files[k].n)) segs.unshift(files[k].i);
      } else o.flash.erase(files[k].n);
    }
    this.gen = live;
    this.segs = segs;
    if (live === 0) return;
    this.tail = this.name(live, segs[segs.length - 1]);
    var last = -1;
    var torn = 0;
    for (k = 0; k < segs.length; k++) {
      var data = o.flash.read(this.name(live, segs[k]));
      var start = segs[k] === 0 ? HEAD : 0;
      var r = data ? scan(data, start, live, last, o.crc32, undefined) : [start, last, 0];
      last = r[1];
      this.pos = r[0];
      torn = r[2];
    }
    this.pos = Math.min(o.segmentBytes, (this.pos + 3) & ~3);
    // After a torn record the next one skips a sequence number, so even a
    // torn record that replays as intact cannot shadow the one after it.
    this.seq = last + 1 + torn;
  }
}

function isInt(v: number, lo: number, hi: number): boolean {
  return typeof v === "number" && Math.floor(v) === v && v >= lo && v <= hi;
}

/** "g.i" in base 36, canonical only: anything else is not one of ours. */
function parseName(s: string): number[] | undefined {
  var dot = s.indexOf(".");
  if (dot < 1) return undefined;
  var gs = s.substring(0, dot);
  var is = s.substring(dot + 1);
  var g = parseInt(gs, 36);
  var i = parseInt(is, 36);
  if (!(g > 0) || !(i >= 0) || g.toString(36) !== gs || i.toString(36) !== is) return undefined;
  return [g, i];
}



function commit(flash: Flash, name: string): boolean {
  return flash.writeAt(name, 12, new Uint8Array(COMMIT));
}

function header(gen: number, crc: Crc32): Uint8Array {
  var h = new Uint8Array(12);
  h[0] = 0x4b;
  h[1] = 0x4a;
  h[2] = 1;
  h[3] = 0;
  putU32le(h, 4, gen);
  putU32le(h, 8, crc(h.subarray(0, 8)));
  return h;
}

function headerOk(d: Uint8Array, gen: number, crc: Crc32): boolean {
  return (
    d.length >= HEAD &&
    d[0] === 0x4b &&
    d[1] === 0x4a &&
    d[2] === 1 &&
    d[3] === 0 &&
    getU32le(d, 4) === gen &&
    getU32le(d, 8) === crc(d.subarray(0, 8)) &&
    d[12] === COMMIT[0] &&
    d[13] === COMMIT[1] &&
    d[14] === COMMIT[2] &&
    d[15] === COMMIT[3]
  );
}

/**
 * A record framed, with 0xFF after it up to a whole word when room allows
 * (so that the write needs no padding copy). The three header words are
 * written through a Uint32Array, whose byte order is the platform's: little-
 * endian on the nRF52's Cortex-M4 and on the x86 and Arm hosts the
 * simulator runs on, as the format says, and a third of the statements of
 * byte-wise stores on the way to a motor.
 */
function frame(rec: Uint8Array, seq: number, gen: number, crc: Crc32, room: number): Uint8Array {
  var n = rec.length;
  var m = FRAME + n;
  var f = new Uint8Array(Math.min(room, (m + 3) & ~3));
  f.fill(0xff, m);
  var h = new Uint32Array(f.buffer, 0, 3);
  h[1] = n | ((n ^ 0xffff) << 16);
  h[2] = seq;
  f.set(rec, FRAME);
  h[0] = crc(f.subarray(4, m)) ^ gen;
  return f;
}

/**
 * Walks one segment from start. Returns [write position, last accepted
 * sequence number, 1 when a torn write follows the last good record];
 * pushes each good payload (a copy) to out when given.
 */
function scan(d: Uint8Array, start: number, gen: number, last: number, crc: Crc32, out: Uint8Array[] | undefined): number[] {
  var size = d.length;
  var hi = start;
  for (var i = size - 1; i >= start; i--) {
    if (d[i] !== 0xff) {
      hi = i + 1;
      break;
    }
  }
  var p = start;
  var end = start;
  while (p < hi && p + FRAME <= size) {
    var n = d[p + 4] | (d[p + 5] << 8);
    if ((n ^ (d[p + 6] | (d[p + 7] << 8))) === 0xffff && p + FRAME + n <= size) {
      var s = getU32le(d, p + 8);
      if (s > last && getU32le(d, p) === (crc(d.subarray(p + 4, p + FRAME + n)) ^ gen) >>> 0) {
        if (out) out.push(d.slice(p + FRAME, p + FRAME + n));
        last = s;
        p += FRAME + n;
        end = p;
        continue;
      }
    }
    p++;
  }
  if (hi <= end) return [end, last, 0];
  // Bytes after the last good record are a torn write. Resume past all of
  // them and past the torn record's declared length, so a later record can
  // never fill its missing bytes and complete it by chance.
  var pos = hi;
  var tn = d[end + 4] | (d[end + 5] << 8);
  if (end + FRAME <= size && (tn ^ (d[end + 6] | (d[end + 7] << 8))) === 0xffff && end + FRAME + tn > pos) pos = end + FRAME + tn;
  return [pos > size ? size : pos, last, 1];
}
