import { CodeArea } from "../../hal/codearea";
import { layoutFor, sameBytes } from "./layout";

/*
 * The blob region of the code area (firmware/codearea/layout.ts places it):
 * named pieces the firmware uses in place, such as the native Ed25519
 * verifier (machine code called through E.nativeCall) and the verifier's
 * comb tables. Entries follow one another from the region's first byte,
 * each at a 16-byte boundary; the list ends at a blank word or the region's
 * end. An entry is a 64-byte header, integers little-endian:
 *   0  4  magic "KBBL"
 *   4  1  format version (1)
 *   5  1  kind: 1 native code (Thumb, position independent), 2 data
 *   6  1  name length, 1..20
 *   7  1  0xFF
 *   8  4  body length in bytes
 *  12 32  SHA-256 of the body
 *  44 20  name in ASCII, padded with 0xFF
 * and the body at byte 64, padded with 0xFF to the next 16-byte boundary.
 * The flasher erases the region and writes every entry of an installation
 * at once. Nothing in a body is trusted before its SHA-256 matches
 * (findBlob); native code must never be called otherwise.
 */
export const BLOB_HEADER_BYTES = 64;
export const BLOB_NATIVE = 1;
export const BLOB_DATA = 2;
export const BLOB_NAME_MAX = 20;
/** The native Ed25519 verifier's name in the blob region (hal/espruino/native/ed25519.ts calls it), as the flasher installs it. */
export const ED25519_BLOB_NAME = "ed25519";
const BLOB_MAGIC = [0x4b, 0x42, 0x42, 0x4c]; // "KBBL"

export interface BlobEntry {
  kind: number;
  name: string;
  /** Address of the body. */
  addr: number;
  length: number;
  sha256: Uint8Array;
}

/** Header and body of one entry, padded to the next entry's boundary (for the flasher). */
export function encodeBlob(kind: number, name: string, body: Uint8Array, sha256: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOB_HEADER_BYTES + Math.ceil(body.length / 16) * 16);
  out.fill(0xff);
  out.set(BLOB_MAGIC, 0);
  out[4] = 1;
  out[5] = kind;
  out[6] = name.length;
  for (let i = 0; i < 4; i++) out[8 + i] = (body.length >>> (8 * i)) & 0xff;
  out.set(sha256, 12);
  for (let i = 0; i < name.length; i++) out[44 + i] = name.charCodeAt(i);
  out.set(body, BLOB_HEADER_BYTES);
  return out;
}

/** A name the region can hold: 1..20 printable ASCII characters. */
export function validBlobName(name: string): boolean {
  return name.length >= 1 && name.length <= BLOB_NAME_MAX && /^[\x21-\x7e]+$/.test(name);
}

/** The entries in a blob region, read through read(addr, length); stops at the first blank or malformed header. */
export function listBlobs(read: (addr: number, length: number) => Uint8Array, start: number, bytes: number): BlobEntry[] {
  // A first statement that is no declaration keeps terser from folding the hoisted vars into the loop's head.
  if (!(bytes > 0)) return [];
  const out: BlobEntry[] = [];
  for (let e = entryAt(read, start, start + bytes); e; e = entryAt(read, e.addr + Math.ceil(e.length / 16) * 16, start + bytes)) out.push(e);
  return out;
}

/** The entry whose header is at at, when a whole well-formed one lies below end. */
function entryAt(read: (addr: number, length: number) => Uint8Array, at: number, end: number): BlobEntry | undefined {
  if (at + BLOB_HEADER_BYTES > end) return undefined;
  const h = read(at, BLOB_HEADER_BYTES);
  let magic = true;
  for (let i = 0; i < 4; i++) magic = magic && h[i] === BLOB_MAGIC[i];
  const n = h[6];
  if (!magic || h[4] !== 1 || n < 1 || n > BLOB_NAME_MAX) return undefined;
  const length = (h[8] | (h[9] << 8) | (h[10] << 16) | (h[11] << 24)) >>> 0;
  if (at + BLOB_HEADER_BYTES + length > end) return undefined;
  let name = "";
  for (let i = 0; i < n; i++) name += String.fromCharCode(h[44 + i]);
  return { kind: h[5], name: name, addr: at + BLOB_HEADER_BYTES, length: length, sha256: h.subarray(12, 44) };
}

export interface Blob {
  kind: number;
  /** Address of the body in flash (for E.nativeCall, with the Thumb bit set by the caller). */
  addr: number;
  /** The body, mapped in place. */
  bytes: Uint8Array;
}

/**
 * The named blob once its SHA-256 checks out, or why not: no_area (the code
 * area does not fit this interpreter's free flash), missing, or corrupt.
 */
export function findBlob(o: { area: CodeArea; name: string; sha256: (data: Uint8Array) => Uint8Array }): Blob | string {
  const layout = layoutFor(o.area.freeRange());
  if (typeof layout === "string") return "no_area";
  const area = o.area;
  const entries = listBlobs(function (a, n) {
    return area.read(a, n);
  }, layout.blobs, layout.blobBytes);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.name !== o.name) continue;
    const bytes = area.map(e.addr, e.length);
    if (!sameBytes(o.sha256(bytes), e.sha256)) return "corrupt";
    return { kind: e.kind, addr: e.addr, bytes: bytes };
  }
  return "missing";
}
