/**
 * Plain strict Ed25519 verification (RFC 8032 section 5.1.7), written the
 * way tweetnacl-js writes it: 16 limbs of 16 bits in Float64Arrays, a
 * variable-base double-and-add. It is the reference the fast verifier in
 * ed25519.ts is tested against, and the verifier used before any table is
 * prepared.
 *
 * Byte formats: a public key or R is 32 bytes, y little-endian with the
 * sign of x in the top bit; S is 32 bytes little-endian; a signature is
 * R || S (64 bytes). Strictness: S must be < L, A must decode (y < p, on the
 * curve, x = 0 only with sign bit 0), and R is compared byte for byte with
 * the canonical encoding of [S]B - [k]A, so a non-canonical R never matches.
 */
import { isBytes as isU8 } from "../store/bytes";
import { sha512 } from "./sha512";
import { keyIsSane } from "./keycheck";

type Gf = Float64Array;

function gf(init?: number[]): Gf {
  const r = new Float64Array(16);
  if (init) for (let i = 0; i < init.length; i++) r[i] = init[i];
  return r;
}

const GF0 = gf();
const GF1 = gf([1]);
const D = gf([0x78a3, 0x1359, 0x4dca, 0x75eb, 0xd8ab, 0x4141, 0x0a4d, 0x0070, 0xe898, 0x7779, 0x4079, 0x8cc7, 0xfe73, 0x2b6f, 0x6cee, 0x5203]);
export const D2 = gf([0xf159, 0x26b2, 0x9b94, 0xebd6, 0xb156, 0x8283, 0x149a, 0x00e0, 0xd130, 0xeef3, 0x80f2, 0x198e, 0xfce7, 0x56df, 0xd9dc, 0x2406]);
const X = gf([0xd51a, 0x8f25, 0x2d60, 0xc956, 0xa7b2, 0x9525, 0xc760, 0x692c, 0xdc5c, 0xfdd6, 0xe231, 0xc0a4, 0x53fe, 0xcd6e, 0x36d3, 0x2169]);
const Y = gf([0x6658, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666, 0x6666]);
const I = gf([0xa0b0, 0x4a0e, 0x1b27, 0xc4ee, 0xe478, 0xad2f, 0x1806, 0x2f43, 0xd7a7, 0x3dfb, 0x0099, 0x2b4d, 0xdf0b, 0x4fc1, 0x2480, 0x2b83]);
/** L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
export const L_BYTES = new Uint8Array([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);
const LF = new Float64Array(32);
for (let i = 0; i < 32; i++) LF[i] = L_BYTES[i];

function car(o: Gf): void {
  let c = 1;
  for (let i = 0; i < 16; i++) {
    const v = o[i] + c + 65535;
    c = Math.floor(v / 65536);
    o[i] = v - c * 65536;
  }
  o[0] += c - 1 + 37 * (c - 1);
}

function sel(p: Gf, q: Gf, b: number): void {
  for (let i = 0; i < 16; i++) {
    if (b) {
      const t = p[i];
      p[i] = q[i];
      q[i] = t;
    }
  }
}

/** The canonical 32-byte encoding of a field element (any signed limbs). */
export function pack25519(o: Uint8Array, n: Gf): void {
  const m = gf();
  const t = gf();
  for (let i = 0; i < 16; i++) t[i] = n[i];
  car(t);
  car(t);
  car(t);
  for (let j = 0; j < 2; j++) {
    m[0] = t[0] - 0xffed;
    for (let i = 1; i < 15; i++) {
      m[i] = t[i] - 0xffff - ((m[i - 1] >> 16) & 1);
      m[i - 1] &= 0xffff;
    }
    m[15] = t[15] - 0x7fff - ((m[14] >> 16) & 1);
    const b = (m[15] >> 16) & 1;
    m[14] &= 0xffff;
    sel(t, m, 1 - b);
  }
  for (let i = 0; i < 16; i++) {
    o[2 * i] = t[i] & 0xff;
    o[2 * i + 1] = t[i] >> 8;
  }
}

function neq(a: Gf, b: Gf): boolean {
  const c = new Uint8Array(32);
  const d = new Uint8Array(32);
  pack25519(c, a);
  pack25519(d, b);
  for (let i = 0; i < 32; i++) if (c[i] !== d[i]) return true;
  return false;
}

function par(a: Gf): number {
  const d = new Uint8Array(32);
  pack25519(d, a);
  return d[0] & 1;
}

function unpack(o: Gf, n: Uint8Array): void {
  for (let i = 0; i < 16; i++) o[i] = n[2 * i] + (n[2 * i + 1] << 8);
  o[15] &= 0x7fff;
}

function add(o: Gf, a: Gf, b: Gf): void {
  for (let i = 0; i < 16; i++) o[i] = a[i] + b[i];
}

function sub(o: Gf, a: Gf, b: Gf): void {
  for (let i = 0; i < 16; i++) o[i] = a[i] - b[i];
}

const PROD = new Float64Array(31);

function mul(o: Gf, a: Gf, b: Gf): void {
  let i: number, j: number;
  for (i = 0; i < 31; i++) PROD[i] = 0;
  for (i = 0; i < 16; i++) for (j = 0; j < 16; j++) PROD[i + j] += a[i] * b[j];
  for (i = 0; i < 15; i++) PROD[i] += 38 * PROD[i + 16];
  for (i = 0; i < 16; i++) o[i] = PROD[i];
  car(o);
  car(o);
}

function sqr(o: Gf, a: Gf): void {
  mul(o, a, a);
}

function pow2523(o: Gf, i: Gf): void {
  const c = gf();
  for (let a = 0; a < 16; a++) c[a] = i[a];
  for (let a = 250; a >= 0; a--) {
    sqr(c, c);
    if (a !== 1) mul(c, c, i);
  }
  for (let a = 0; a < 16; a++) o[a] = c[a];
}

function inv(o: Gf, i: Gf): void {
  const c = gf();
  for (let a = 0; a < 16; a++) c[a] = i[a];
  for (let a = 253; a >= 0; a--) {
    sqr(c, c);
    if (a !== 2 && a !== 4) mul(c, c, i);
  }
  for (let a = 0; a < 16; a++) o[a] = c[a];
}

export type Point = Gf[];

export function point(): Point {
  return [gf(), gf(), gf(), gf()];
}

function padd(p: Point, q: Point): void {
  const a = gf(), b = gf(), c = gf(), d = gf(), e = gf(), f = gf(), g = gf(), h = gf(), t = gf();
  sub(a, p[1], p[0]);
  sub(t, q[1], q[0]);
  mul(a, a, t);
  add(b, p[0], p[1]);
  add(t, q[0], q[1]);
  mul(b, b, t);
  mul(c, p[3], q[3]);
  mul(c, c, D2);
  mul(d, p[2], q[2]);
  add(d, d, d);
  sub(e, b, a);
  sub(f, d, c);
  add(g, d, c);
  add(h, b, a);
  mul(p[0], e, f);
  mul(p[1], h, g);
  mul(p[2], g, f);
  mul(p[3], e, h);
}

function cswap(p: Point, q: Point, b: number): void {
  for (let i = 0; i < 4; i++) sel(p[i], q[i], b);
}

function pack(r: Uint8Array, p: Point): void {
  const tx = gf(), ty = gf(), zi = gf();
  inv(zi, p[2]);
  mul(tx, p[0], zi);
  mul(ty, p[1], zi);
  pack25519(r, ty);
  r[31] ^= par(tx) << 7;
}

function scalarmult(p: Point, q: Point, s: Uint8Array): void {
  for (let i = 0; i < 4; i++) p[i].set(i === 1 || i === 2 ? GF1 : GF0);
  for (let i = 255; i >= 0; --i) {
    const b = (s[(i / 8) | 0] >> (i & 7)) & 1;
    cswap(p, q, b);
    padd(q, p);
    padd(p, p);
    cswap(p, q, b);
  }
}

function scalarbase(p: Point, s: Uint8Array): void {
  const q = point();
  q[0].set(X);
  q[1].set(Y);
  q[2].set(GF1);
  mul(q[3], X, Y);
  scalarmult(p, q, s);
}

/** r = x mod L, x given as 64 little-endian byte values in a Float64Array (destroyed). */
function modL(r: Uint8Array, x: Float64Array): void {
  let carry: number, i: number, j: number, k: number;
  for (i = 63; i >= 32; --i) {
    carry = 0;
    for (j = i - 32, k = i - 12; j < k; ++j) {
      x[j] += carry - 16 * x[i] * LF[j - (i - 32)];
      // |x[j]| stays far below 2^31 here, so the arithmetic shift is floor((x[j] + 128) / 256).
      carry = (x[j] + 128) >> 8;
      x[j] -= carry * 256;
    }
    x[j] += carry;
    x[i] = 0;
  }
  carry = 0;
  for (j = 0; j < 32; j++) {
    x[j] += carry - (x[31] >> 4) * LF[j];
    carry = x[j] >> 8;
    x[j] &= 255;
  }
  for (j = 0; j < 32; j++) x[j] -= carry * LF[j];
  for (i = 0; i < 32; i++) {
    x[i + 1] += x[i] >> 8;
    r[i] = x[i] & 255;
  }
}

/** k = SHA-512(bytes) mod L, 32 bytes little-endian. */
export function hashToScalar(h: Uint8Array): Uint8Array {
  const x = new Float64Array(64);
  for (let i = 0; i < 64; i++) x[i] = h[i];
  const r = new Uint8Array(32);
  modL(r, x);
  return r;
}

/** True when the 32 bytes at s[off] encode an integer < L (RFC 8032: reject S >= L). */
export function scalarIsCanonical(s: Uint8Array, off: number): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[off + i] < L_BYTES[i]) return true;
    if (s[off + i] > L_BYTES[i]) return false;
  }
  return false;
}

/** True when the 255-bit y of an encoding is < p = 2^255 - 19. */
export function yIsCanonical(e: Uint8Array): boolean {
  if ((e[31] & 0x7f) !== 0x7f) return true;
  for (let i = 30; i > 0; i--) if (e[i] !== 0xff) return true;
  return e[0] < 0xed;
}

/** Decodes a point strictly into r = [X, Y, Z, T], negated (as tweetnacl's unpackneg); false when it does not decode. */
export function decodeNeg(r: Point, p: Uint8Array): boolean {
  if (!yIsCanonical(p)) return false;
  const t = gf(), chk = gf(), num = gf(), den = gf(), den2 = gf(), den4 = gf(), den6 = gf();
  r[2].set(GF1);
  unpack(r[1], p);
  sqr(num, r[1]);
  mul(den, num, D);
  sub(num, num, r[2]);
  add(den, r[2], den);
  sqr(den2, den);
  sqr(den4, den2);
  mul(den6, den4, den2);
  mul(t, den6, num);
  mul(t, t, den);
  pow2523(t, t);
  mul(t, t, num);
  mul(t, t, den);
  mul(t, t, den);
  mul(r[0], t, den);
  sqr(chk, r[0]);
  mul(chk, chk, den);
  if (neq(chk, num)) mul(r[0], r[0], I);
  sqr(chk, r[0]);
  mul(chk, chk, den);
  if (neq(chk, num)) return false;
  const sign = p[31] >> 7;
  // x = 0 has only one encoding: sign bit 0 (RFC 8032 5.1.3 step 4).
  if (sign === 1 && !neq(r[0], GF0)) return false;
  if (par(r[0]) === sign) sub(r[0], GF0, r[0]);
  mul(r[3], r[0], r[1]);
  return true;
}

function isBytes(x: unknown, n: number): boolean {
  return isU8(x) && x.length === n;
}

/**
 * True when publicKey is a canonical encoding of a curve point that is not
 * of small order: what the box demands of a key before trusting it.
 */
export function publicKeyIsValid(publicKey: Uint8Array): boolean {
  return isBytes(publicKey, 32) && keyIsSane(publicKey) && decodeNeg(point(), publicKey);
}

/** R || A || message: the bytes whose SHA-512 gives the challenge scalar k (RFC 8032 5.1.7). */
export function challenge(signature: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const buf = new Uint8Array(64 + message.length);
  buf.set(signature.subarray(0, 32), 0);
  buf.set(publicKey, 32);
  buf.set(message, 64);
  return buf;
}

/** Strict RFC 8032 verification; never throws, false on any malformed input. */
export function verifyRef(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!isBytes(signature, 64) || !isU8(message) || !isBytes(publicKey, 32)) return false;
  if (!scalarIsCanonical(signature, 32)) return false;
  const q = point();
  if (!decodeNeg(q, publicKey)) return false;
  const k = hashToScalar(sha512(challenge(signature, publicKey, message)));
  const p = point();
  scalarmult(p, q, k);
  const b = point();
  scalarbase(b, signature.subarray(32, 64));
  padd(p, b);
  const t = new Uint8Array(32);
  pack(t, p);
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= t[i] ^ signature[i];
  return diff === 0;
}
