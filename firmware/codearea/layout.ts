/*
 * Where the firmware lives: the code area, in the flash the interpreter
 * leaves free between itself and Storage (0x81000-0xE2000 on the stock
 * RAK5010 build), which Storage's compaction never touches. It is laid out
 * from the top of the free range down, because a larger interpreter shrinks
 * the range from below: slot 0 is the top SLOT_PAGES pages, slot 1 the
 * SLOT_PAGES below it, the blob region (native code, verifier tables;
 * firmware/codearea/blobs.ts) the BLOB_PAGES below that, and the journal
 * pool (firmware/store/pagefiles.ts: every record the firmware keeps, one
 * file per page) the POOL_PAGES below the blobs; whatever is left down to
 * the interpreter is spare. The installer writes slots and blobs and never
 * touches the pool, so a re-flash keeps the box's records.
 *
 * A slot starts with a 64-byte header, all integers little-endian:
 *   0  4  magic "KBFW"
 *   4  2  format version (1)
 *   6  2  header bytes (64)
 *   8  4  firmware version: the install generation; the newest valid slot boots
 *  12  4  body length in bytes
 *  16 32  SHA-256 of the body
 *  48 16  0xFF
 * and the body follows at byte 64: the firmware exactly as the interpreter
 * evaluates it (pretokenised JavaScript). The header is programmed last,
 * once the body's hash has been read back, so a slot torn by a power cut or
 * erased half-way has no magic, or a hash its body does not match.
 */
import { getU32le, putU32le } from "../store/bytes";

export const PAGE_BYTES = 4096;
/** 163,840 bytes: today's firmware (about 127 KB pretokenised) with 28% room to grow. */
export const SLOT_PAGES = 40;
/**
 * 16,384 bytes for the native verifier (at most 8 KB) and the fallback's comb
 * tables (6,160 bytes a table of 6 teeth): the native blob and the base
 * point's table, or the tables of the base point and one key without it.
 */
export const BLOB_PAGES = 4;
/**
 * The journals' pool: at their largest they hold 10 pages, 12 while the
 * outbox rewrites; the rest is room for wear levelling (firmware/storage-plan.ts).
 * The layout takes the RAK5010 build's free flash whole (97 pages).
 */
export const POOL_PAGES = 13;
export const SLOT_HEADER_BYTES = 64;
export const SLOT_FORMAT = 1;
const SLOT_MAGIC = [0x4b, 0x42, 0x46, 0x57]; // "KBFW"

export interface CodeAreaLayout {
  /** Lowest address the layout uses: the free range must start at or below it. */
  bottom: number;
  /** One past the highest address: the end of the free range. */
  top: number;
  /** Start of slot 0 and slot 1. */
  slots: number[];
  slotBytes: number;
  /** Start of the blob region. */
  blobs: number;
  blobBytes: number;
  /** Start of the journal pool. */
  pool: number;
  poolBytes: number;
}

/** Bytes the layout needs below the top of the free range. */
export function codeAreaBytes(): number {
  return (2 * SLOT_PAGES + BLOB_PAGES + POOL_PAGES) * PAGE_BYTES;
}

/** The layout for a free range [start, end), or a sentence with the numbers when it does not fit. */
export function layoutFor(range: { start: number; end: number } | undefined): CodeAreaLayout | string {
  if (!range) return "the interpreter reports no free flash (Flash.getFree() is empty)";
  const top = range.end - (range.end % PAGE_BYTES);
  const slotBytes = SLOT_PAGES * PAGE_BYTES;
  const blobBytes = BLOB_PAGES * PAGE_BYTES;
  const bottom = top - codeAreaBytes();
  if (bottom < range.start)
    return (
      "the code area needs " + codeAreaBytes() + " bytes of free flash below 0x" + top.toString(16) + ", the interpreter leaves " +
      (top - range.start) + " (from 0x" + range.start.toString(16) + ")"
    );
  const blobs = top - 2 * slotBytes - blobBytes;
  return { bottom: bottom, top: top, slots: [top - slotBytes, top - 2 * slotBytes], slotBytes: slotBytes, blobs: blobs, blobBytes: blobBytes, pool: bottom, poolBytes: POOL_PAGES * PAGE_BYTES };
}

/** The free range with the highest end among Flash.getFree()'s areas (the one just below Storage). */
export function topFreeRange(areas: Array<{ addr: number; length: number }> | undefined): { start: number; end: number } | undefined {
  let best: { start: number; end: number } | undefined;
  for (let i = 0; areas && i < areas.length; i++) {
    const a = areas[i];
    if (!best || a.addr + a.length > best.end) best = { start: a.addr, end: a.addr + a.length };
  }
  return best;
}

export interface SlotHeader {
  version: number;
  length: number;
  sha256: Uint8Array;
}



export function encodeSlotHeader(h: SlotHeader): Uint8Array {
  const b = new Uint8Array(SLOT_HEADER_BYTES);
  b.fill(0xff);
  b.set(SLOT_MAGIC, 0);
  b[4] = SLOT_FORMAT;
  b[5] = 0;
  b[6] = SLOT_HEADER_BYTES;
  b[7] = 0;
  putU32le(b, 8, h.version);
  putU32le(b, 12, h.length);
  b.set(h.sha256, 16);
  return b;
}

/** The header in a slot's first 64 bytes, or why there is none: erased, no_magic, format, length. */
export function parseSlotHeader(b: Uint8Array, slotBytes: number): SlotHeader | string {
  if (b.length < SLOT_HEADER_BYTES) return "length";
  let blank = true;
  for (let i = 0; i < SLOT_HEADER_BYTES && blank; i++) blank = b[i] === 0xff;
  if (blank) return "erased";
  for (let i = 0; i < 4; i++) if (b[i] !== SLOT_MAGIC[i]) return "no_magic";
  if ((b[4] | (b[5] << 8)) !== SLOT_FORMAT || (b[6] | (b[7] << 8)) !== SLOT_HEADER_BYTES) return "format";
  const length = getU32le(b, 12);
  if (length === 0 || length > slotBytes - SLOT_HEADER_BYTES) return "length";
  return { version: getU32le(b, 8), length: length, sha256: b.subarray(16, 48) };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
