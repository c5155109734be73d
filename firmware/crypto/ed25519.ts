/**
 * Fast strict Ed25519 verification (RFC 8032 5.1.7) for the Espruino
 * interpreter. Same verdicts as verifyRef in ed25519-ref.ts (tests compare
 * them); what changes is the cost:
 * - Field multiplication is 16 calls of a native dot product (E.convolve):
 *   output limb k of a*b mod p is a . V(b) at offset 15-k, where the V form
 *   of b is its 16 limbs reversed followed by 38 times them reversed
 *   (2^256 = 38 mod p). Results are carried once into signed 16-bit limbs.
 * - [S]B - [k]A uses fixed-base comb tables for B and for each trusted key
 *   (t teeth, 2^t - 1 points each; t = 8 by default): s - 1 doublings and at
 *   most 2s table additions for the comb spacing s = ceil(253 / t), no
 *   per-verification precomputation. Only the final inversion remains.
 *   Fewer teeth trade Storage for time (t = 8: s = 32, 24,516 bytes; 7: 37,
 *   12,228; 6: 43, 6,084; 5: 51, 3,012).
 * - No allocation in the hot loops: all temporaries live at module level
 *   (a table addition only makes three short-lived views of its entry).
 * - Tables are best kept as Storage files read memory-mapped
 *   (E.toArrayBuffer(Storage.read(name))): a few JsVars instead of ~1,000.
 *
 * Table byte format (prepareKey / prepareBase), tableBytes(t) = 36 + 96 (2^t - 1)
 * bytes; the length must match the header's t exactly:
 *   0..3   "E2T" then t, the number of teeth (5..8)
 *   4..35  the 32-byte point encoding the table was built from (A or B)
 *   36..   2^t - 1 entries j = 1..2^t - 1, 96 bytes each, entry j is the
 *          point sum over bits i of j of 2^(s i) P (s = ceil(253 / t); P = -A
 *          for a key, B for base) as three canonical field elements, each
 *          32 bytes little-endian (= 16 little-endian 16-bit limbs):
 *          y + x, y - x, 2 d x y.
 * Scalars are below 2^253 (S < L is checked first, k is reduced mod L), so
 * s t >= 253 comb bits cover them. The base and key tables of one
 * verification must have the same t (the comb columns must line up); when
 * they differ, that verification takes the plain verifier instead.
 * A key's table is built for -A, so verification adds both tables' points.
 */
import { Accel } from "../../hal";
import { isBytes as isU8 } from "../store/bytes";
import { sha512, useNativeSha512 } from "./sha512";
import {
  challenge,
  D2,
  decodeNeg,
  hashToScalar,
  pack25519,
  point,
  Point,
  scalarIsCanonical,
  verifyRef,
} from "./ed25519-ref";

type Fe = Float64Array;
type Conv = (a: Float64Array, b: Float64Array, offset: number) => number;

/** E.convolve's contract in JavaScript, for boards (and Node) without it. */
function convolveJs(a: Float64Array, b: Float64Array, offset: number): number {
  let s = 0;
  const n = b.length;
  for (let i = 0; i < a.length; i++) s += a[i] * b[(i + offset) % n];
  return s;
}

let C: Conv = convolveJs;
let nativeVerify: Accel["ed25519"];

/**
 * Hands in the board's natives (or none): native SHA-512 and convolve when
 * present, JS otherwise; the native verifier, when the board has one, takes
 * every verify() (the tables are then not needed).
 */
export function useAccel(accel: Accel | undefined): void {
  useNativeSha512(accel && accel.sha512 ? accel.sha512 : undefined);
  C = accel && accel.convolve ? accel.convolve : convolveJs;
  nativeVerify = accel && accel.ed25519 ? accel.ed25519 : undefined;
}

function fe(): Fe {
  return new Float64Array(16);
}
function fv(): Fe {
  return new Float64Array(32);
}

/**
 * o = a * b mod p: a in limbs, b in V form. o must not be a (and, for mulV,
 * ov must not be b's V form): outputs are written while inputs are read,
 * each limb's dot product being carried as soon as it is made.
 */
function mul(o: Fe, a: Fe, bv: Fe): void {
  let v: number, c: number;
  v = C(a, bv, 15); c = (v / 65536) | 0; v -= c * 65536; o[0] = v;
  v = C(a, bv, 14) + c; c = (v / 65536) | 0; v -= c * 65536; o[1] = v;
  v = C(a, bv, 13) + c; c = (v / 65536) | 0; v -= c * 65536; o[2] = v;
  v = C(a, bv, 12) + c; c = (v / 65536) | 0; v -= c * 65536; o[3] = v;
  v = C(a, bv, 11) + c; c = (v / 65536) | 0; v -= c * 65536; o[4] = v;
  v = C(a, bv, 10) + c; c = (v / 65536) | 0; v -= c * 65536; o[5] = v;
  v = C(a, bv, 9) + c; c = (v / 65536) | 0; v -= c * 65536; o[6] = v;
  v = C(a, bv, 8) + c; c = (v / 65536) | 0; v -= c * 65536; o[7] = v;
  v = C(a, bv, 7) + c; c = (v / 65536) | 0; v -= c * 65536; o[8] = v;
  v = C(a, bv, 6) + c; c = (v / 65536) | 0; v -= c * 65536; o[9] = v;
  v = C(a, bv, 5) + c; c = (v / 65536) | 0; v -= c * 65536; o[10] = v;
  v = C(a, bv, 4) + c; c = (v / 65536) | 0; v -= c * 65536; o[11] = v;
  v = C(a, bv, 3) + c; c = (v / 65536) | 0; v -= c * 65536; o[12] = v;
  v = C(a, bv, 2) + c; c = (v / 65536) | 0; v -= c * 65536; o[13] = v;
  v = C(a, bv, 1) + c; c = (v / 65536) | 0; v -= c * 65536; o[14] = v;
  v = C(a, bv, 0) + c; c = (v / 65536) | 0; v -= c * 65536; o[15] = v;
  v = o[0] + 38 * c; c = (v / 65536) | 0; v -= c * 65536; o[0] = v;
  v = o[1] + c; c = (v / 65536) | 0; v -= c * 65536; o[1] = v;
  v = o[2] + c; o[2] = v;
}

/** mul, also writing the V form of the result into ov. */
function mulV(o: Fe, ov: Fe, a: Fe, bv: Fe): void {
  let v: number, c: number;
  v = C(a, bv, 15); c = (v / 65536) | 0; v -= c * 65536; o[0] = v;
  v = C(a, bv, 14) + c; c = (v / 65536) | 0; v -= c * 65536; o[1] = v; ov[14] = v; ov[30] = 38 * v;
  v = C(a, bv, 13) + c; c = (v / 65536) | 0; v -= c * 65536; o[2] = v; ov[13] = v; ov[29] = 38 * v;
  v = C(a, bv, 12) + c; c = (v / 65536) | 0; v -= c * 65536; o[3] = v; ov[12] = v; ov[28] = 38 * v;
  v = C(a, bv, 11) + c; c = (v / 65536) | 0; v -= c * 65536; o[4] = v; ov[11] = v; ov[27] = 38 * v;
  v = C(a, bv, 10) + c; c = (v / 65536) | 0; v -= c * 65536; o[5] = v; ov[10] = v; ov[26] = 38 * v;
  v = C(a, bv, 9) + c; c = (v / 65536) | 0; v -= c * 65536; o[6] = v; ov[9] = v; ov[25] = 38 * v;
  v = C(a, bv, 8) + c; c = (v / 65536) | 0; v -= c * 65536; o[7] = v; ov[8] = v; ov[24] = 38 * v;
  v = C(a, bv, 7) + c; c = (v / 65536) | 0; v -= c * 65536; o[8] = v; ov[7] = v; ov[23] = 38 * v;
  v = C(a, bv, 6) + c; c = (v / 65536) | 0; v -= c * 65536; o[9] = v; ov[6] = v; ov[22] = 38 * v;
  v = C(a, bv, 5) + c; c = (v / 65536) | 0; v -= c * 65536; o[10] = v; ov[5] = v; ov[21] = 38 * v;
  v = C(a, bv, 4) + c; c = (v / 65536) | 0; v -= c * 65536; o[11] = v; ov[4] = v; ov[20] = 38 * v;
  v = C(a, bv, 3) + c; c = (v / 65536) | 0; v -= c * 65536; o[12] = v; ov[3] = v; ov[19] = 38 * v;
  v = C(a, bv, 2) + c; c = (v / 65536) | 0; v -= c * 65536; o[13] = v; ov[2] = v; ov[18] = 38 * v;
  v = C(a, bv, 1) + c; c = (v / 65536) | 0; v -= c * 65536; o[14] = v; ov[1] = v; ov[17] = 38 * v;
  v = C(a, bv, 0) + c; c = (v / 65536) | 0; v -= c * 65536; o[15] = v; ov[0] = v; ov[16] = 38 * v;
  v = o[0] + 38 * c; c = (v / 65536) | 0; v -= c * 65536; o[0] = v; ov[15] = v; ov[31] = 38 * v;
  v = o[1] + c; c = (v / 65536) | 0; v -= c * 65536; o[1] = v; ov[14] = v; ov[30] = 38 * v;
  v = o[2] + c; o[2] = v; ov[13] = v; ov[29] = 38 * v;
}

function addN(o: Fe, a: Fe, b: Fe): void {
  o[0] = a[0] + b[0]; o[1] = a[1] + b[1]; o[2] = a[2] + b[2]; o[3] = a[3] + b[3]; o[4] = a[4] + b[4]; o[5] = a[5] + b[5]; o[6] = a[6] + b[6]; o[7] = a[7] + b[7]; o[8] = a[8] + b[8]; o[9] = a[9] + b[9]; o[10] = a[10] + b[10]; o[11] = a[11] + b[11]; o[12] = a[12] + b[12]; o[13] = a[13] + b[13]; o[14] = a[14] + b[14]; o[15] = a[15] + b[15];
}

/** o = a + b, with its V form in ov. */
function addV(o: Fe, ov: Fe, a: Fe, b: Fe): void {
  let v: number;
  v = a[0] + b[0]; o[0] = v; ov[15] = v; ov[31] = 38 * v;
  v = a[1] + b[1]; o[1] = v; ov[14] = v; ov[30] = 38 * v;
  v = a[2] + b[2]; o[2] = v; ov[13] = v; ov[29] = 38 * v;
  v = a[3] + b[3]; o[3] = v; ov[12] = v; ov[28] = 38 * v;
  v = a[4] + b[4]; o[4] = v; ov[11] = v; ov[27] = 38 * v;
  v = a[5] + b[5]; o[5] = v; ov[10] = v; ov[26] = 38 * v;
  v = a[6] + b[6]; o[6] = v; ov[9] = v; ov[25] = 38 * v;
  v = a[7] + b[7]; o[7] = v; ov[8] = v; ov[24] = 38 * v;
  v = a[8] + b[8]; o[8] = v; ov[7] = v; ov[23] = 38 * v;
  v = a[9] + b[9]; o[9] = v; ov[6] = v; ov[22] = 38 * v;
  v = a[10] + b[10]; o[10] = v; ov[5] = v; ov[21] = 38 * v;
  v = a[11] + b[11]; o[11] = v; ov[4] = v; ov[20] = 38 * v;
  v = a[12] + b[12]; o[12] = v; ov[3] = v; ov[19] = 38 * v;
  v = a[13] + b[13]; o[13] = v; ov[2] = v; ov[18] = 38 * v;
  v = a[14] + b[14]; o[14] = v; ov[1] = v; ov[17] = 38 * v;
  v = a[15] + b[15]; o[15] = v; ov[0] = v; ov[16] = 38 * v;
}

function subN(o: Fe, a: Fe, b: Fe): void {
  o[0] = a[0] - b[0]; o[1] = a[1] - b[1]; o[2] = a[2] - b[2]; o[3] = a[3] - b[3]; o[4] = a[4] - b[4]; o[5] = a[5] - b[5]; o[6] = a[6] - b[6]; o[7] = a[7] - b[7]; o[8] = a[8] - b[8]; o[9] = a[9] - b[9]; o[10] = a[10] - b[10]; o[11] = a[11] - b[11]; o[12] = a[12] - b[12]; o[13] = a[13] - b[13]; o[14] = a[14] - b[14]; o[15] = a[15] - b[15];
}

/** o = a - b, with its V form in ov. */
function subV(o: Fe, ov: Fe, a: Fe, b: Fe): void {
  let v: number;
  v = a[0] - b[0]; o[0] = v; ov[15] = v; ov[31] = 38 * v;
  v = a[1] - b[1]; o[1] = v; ov[14] = v; ov[30] = 38 * v;
  v = a[2] - b[2]; o[2] = v; ov[13] = v; ov[29] = 38 * v;
  v = a[3] - b[3]; o[3] = v; ov[12] = v; ov[28] = 38 * v;
  v = a[4] - b[4]; o[4] = v; ov[11] = v; ov[27] = 38 * v;
  v = a[5] - b[5]; o[5] = v; ov[10] = v; ov[26] = 38 * v;
  v = a[6] - b[6]; o[6] = v; ov[9] = v; ov[25] = 38 * v;
  v = a[7] - b[7]; o[7] = v; ov[8] = v; ov[24] = 38 * v;
  v = a[8] - b[8]; o[8] = v; ov[7] = v; ov[23] = 38 * v;
  v = a[9] - b[9]; o[9] = v; ov[6] = v; ov[22] = 38 * v;
  v = a[10] - b[10]; o[10] = v; ov[5] = v; ov[21] = 38 * v;
  v = a[11] - b[11]; o[11] = v; ov[4] = v; ov[20] = 38 * v;
  v = a[12] - b[12]; o[12] = v; ov[3] = v; ov[19] = 38 * v;
  v = a[13] - b[13]; o[13] = v; ov[2] = v; ov[18] = 38 * v;
  v = a[14] - b[14]; o[14] = v; ov[1] = v; ov[17] = 38 * v;
  v = a[15] - b[15]; o[15] = v; ov[0] = v; ov[16] = 38 * v;
}

/** o = 2a + b. */
function add2N(o: Fe, a: Fe, b: Fe): void {
  o[0] = 2 * a[0] + b[0]; o[1] = 2 * a[1] + b[1]; o[2] = 2 * a[2] + b[2]; o[3] = 2 * a[3] + b[3]; o[4] = 2 * a[4] + b[4]; o[5] = 2 * a[5] + b[5]; o[6] = 2 * a[6] + b[6]; o[7] = 2 * a[7] + b[7]; o[8] = 2 * a[8] + b[8]; o[9] = 2 * a[9] + b[9]; o[10] = 2 * a[10] + b[10]; o[11] = 2 * a[11] + b[11]; o[12] = 2 * a[12] + b[12]; o[13] = 2 * a[13] + b[13]; o[14] = 2 * a[14] + b[14]; o[15] = 2 * a[15] + b[15];
}

/** o = 2a + b, with its V form in ov. */
function add2V(o: Fe, ov: Fe, a: Fe, b: Fe): void {
  let v: number;
  v = 2 * a[0] + b[0]; o[0] = v; ov[15] = v; ov[31] = 38 * v;
  v = 2 * a[1] + b[1]; o[1] = v; ov[14] = v; ov[30] = 38 * v;
  v = 2 * a[2] + b[2]; o[2] = v; ov[13] = v; ov[29] = 38 * v;
  v = 2 * a[3] + b[3]; o[3] = v; ov[12] = v; ov[28] = 38 * v;
  v = 2 * a[4] + b[4]; o[4] = v; ov[11] = v; ov[27] = 38 * v;
  v = 2 * a[5] + b[5]; o[5] = v; ov[10] = v; ov[26] = 38 * v;
  v = 2 * a[6] + b[6]; o[6] = v; ov[9] = v; ov[25] = 38 * v;
  v = 2 * a[7] + b[7]; o[7] = v; ov[8] = v; ov[24] = 38 * v;
  v = 2 * a[8] + b[8]; o[8] = v; ov[7] = v; ov[23] = 38 * v;
  v = 2 * a[9] + b[9]; o[9] = v; ov[6] = v; ov[22] = 38 * v;
  v = 2 * a[10] + b[10]; o[10] = v; ov[5] = v; ov[21] = 38 * v;
  v = 2 * a[11] + b[11]; o[11] = v; ov[4] = v; ov[20] = 38 * v;
  v = 2 * a[12] + b[12]; o[12] = v; ov[3] = v; ov[19] = 38 * v;
  v = 2 * a[13] + b[13]; o[13] = v; ov[2] = v; ov[18] = 38 * v;
  v = 2 * a[14] + b[14]; o[14] = v; ov[1] = v; ov[17] = 38 * v;
  v = 2 * a[15] + b[15]; o[15] = v; ov[0] = v; ov[16] = 38 * v;
}

/** o = 2a - b, with its V form in ov. */
function sub2V(o: Fe, ov: Fe, a: Fe, b: Fe): void {
  let v: number;
  v = 2 * a[0] - b[0]; o[0] = v; ov[15] = v; ov[31] = 38 * v;
  v = 2 * a[1] - b[1]; o[1] = v; ov[14] = v; ov[30] = 38 * v;
  v = 2 * a[2] - b[2]; o[2] = v; ov[13] = v; ov[29] = 38 * v;
  v = 2 * a[3] - b[3]; o[3] = v; ov[12] = v; ov[28] = 38 * v;
  v = 2 * a[4] - b[4]; o[4] = v; ov[11] = v; ov[27] = 38 * v;
  v = 2 * a[5] - b[5]; o[5] = v; ov[10] = v; ov[26] = 38 * v;
  v = 2 * a[6] - b[6]; o[6] = v; ov[9] = v; ov[25] = 38 * v;
  v = 2 * a[7] - b[7]; o[7] = v; ov[8] = v; ov[24] = 38 * v;
  v = 2 * a[8] - b[8]; o[8] = v; ov[7] = v; ov[23] = 38 * v;
  v = 2 * a[9] - b[9]; o[9] = v; ov[6] = v; ov[22] = 38 * v;
  v = 2 * a[10] - b[10]; o[10] = v; ov[5] = v; ov[21] = 38 * v;
  v = 2 * a[11] - b[11]; o[11] = v; ov[4] = v; ov[20] = 38 * v;
  v = 2 * a[12] - b[12]; o[12] = v; ov[3] = v; ov[19] = 38 * v;
  v = 2 * a[13] - b[13]; o[13] = v; ov[2] = v; ov[18] = 38 * v;
  v = 2 * a[14] - b[14]; o[14] = v; ov[1] = v; ov[17] = 38 * v;
  v = 2 * a[15] - b[15]; o[15] = v; ov[0] = v; ov[16] = 38 * v;
}
/** Writes the V form of a into av. */
function mkV(a: Fe, av: Fe): void {
  let v: number;
  v = a[0]; av[15] = v; av[31] = 38 * v;
  v = a[1]; av[14] = v; av[30] = 38 * v;
  v = a[2]; av[13] = v; av[29] = 38 * v;
  v = a[3]; av[12] = v; av[28] = 38 * v;
  v = a[4]; av[11] = v; av[27] = 38 * v;
  v = a[5]; av[10] = v; av[26] = 38 * v;
  v = a[6]; av[9] = v; av[25] = 38 * v;
  v = a[7]; av[8] = v; av[24] = 38 * v;
  v = a[8]; av[7] = v; av[23] = 38 * v;
  v = a[9]; av[6] = v; av[22] = 38 * v;
  v = a[10]; av[5] = v; av[21] = 38 * v;
  v = a[11]; av[4] = v; av[20] = 38 * v;
  v = a[12]; av[3] = v; av[19] = 38 * v;
  v = a[13]; av[2] = v; av[18] = 38 * v;
  v = a[14]; av[1] = v; av[17] = 38 * v;
  v = a[15]; av[0] = v; av[16] = 38 * v;
}

// Accumulator Q = (X, Y, Z, T) with V forms, and temporaries.
const QX = fe(), QY = fe(), QZ = fe(), QT = fe();
const QXv = fv(), QYv = fv(), QZv = fv(), QTv = fv();
const TA = fe(), TB = fe(), TC = fe(), TD = fe(), TE = fe(), TF = fe(), TG = fe(), TH = fe();
const TAv = fv(), TBv = fv(), TFv = fv(), THv = fv();
const NP = fe(), NM = fe(), N2 = fe();

/** Q = 2Q (dbl-2008-hwcd with signs folded). Needs V of X, Y, Z; leaves V of T only. */
function dbl(): void {
  mul(TA, QX, QXv);
  mul(TB, QY, QYv);
  mul(TC, QZ, QZv);
  addV(TD, TAv, QX, QY);
  mul(TE, TD, TAv);
  addV(TH, THv, TA, TB);
  subN(TE, TH, TE);
  subN(TG, TA, TB);
  add2V(TF, TFv, TC, TG);
  mul(QX, TE, TFv);
  mul(QY, TG, THv);
  mulV(QT, QTv, TE, THv);
  mul(QZ, TG, TFv);
}

/**
 * Q += table entry at 16-bit word offset w (y+x, y-x, 2dxy). Needs V of T.
 * last: the next step is a doubling, so write V of X, Y, Z and skip T.
 */
function madd(tab: Uint16Array, w: number, last: boolean): void {
  NP.set(tab.subarray(w, w + 16));
  NM.set(tab.subarray(w + 16, w + 32));
  N2.set(tab.subarray(w + 32, w + 48));
  subV(TA, TAv, QY, QX);
  mul(TA, NM, TAv);
  addV(TB, TBv, QY, QX);
  mul(TB, NP, TBv);
  mul(TC, N2, QTv);
  subN(TE, TB, TA);
  sub2V(TF, TFv, QZ, TC);
  add2N(TG, QZ, TC);
  addV(TH, THv, TB, TA);
  if (last) {
    mulV(QX, QXv, TE, TFv);
    mulV(QY, QYv, TG, THv);
    mulV(QZ, QZv, TG, TFv);
  } else {
    mul(QX, TE, TFv);
    mul(QY, TG, THv);
    mul(QZ, TG, TFv);
    mulV(QT, QTv, TE, THv);
  }
}

// Inversion temporaries.
const I0 = fe(), I1 = fe(), I2 = fe(), I3 = fe(), I4 = fe(), I5 = fe();
const I0v = fv(), I1v = fv(), I2v = fv(), I3v = fv(), I4v = fv(), I5v = fv();

/** o = a^(2^n) with V forms; o may be a. Squares ping-pong between o and I5 (no copies). */
function sqn(o: Fe, ov: Fe, a: Fe, av: Fe, n: number): void {
  // Start in whichever buffer makes the last square land in o.
  let x = n & 1 ? o : I5;
  let xv = n & 1 ? ov : I5v;
  let y = n & 1 ? I5 : o;
  let yv = n & 1 ? I5v : ov;
  if (a === o) {
    // o is also the input: square it into I5 first.
    mulV(I5, I5v, a, av);
    x = I5;
    xv = I5v;
    y = o;
    yv = ov;
    for (let i = 1; i < n; i++) {
      mulV(y, yv, x, xv);
      const t = x, tv = xv;
      x = y;
      xv = yv;
      y = t;
      yv = tv;
    }
    if (x !== o) {
      o.set(x);
      ov.set(xv);
    }
    return;
  }
  mulV(x, xv, a, av);
  for (let i = 1; i < n; i++) {
    mulV(y, yv, x, xv);
    const t = x, tv = xv;
    x = y;
    xv = yv;
    y = t;
    yv = tv;
  }
}

/**
 * o = z^(p-2) = 1/z (ref10's addition chain: 254 squarings, 11
 * multiplications). z needs its V form. Every product goes to a buffer
 * other than its inputs (mulV writes its output while reading them).
 */
function invert(o: Fe, z: Fe, zv: Fe): void {
  sqn(I0, I0v, z, zv, 1); // z^2
  sqn(I1, I1v, I0, I0v, 2); // z^8
  mulV(I2, I2v, z, I1v); // z^9
  mulV(I1, I1v, I2, I0v); // z^11
  sqn(I0, I0v, I1, I1v, 1); // z^22
  mulV(I3, I3v, I2, I0v); // 2^5-1
  sqn(I0, I0v, I3, I3v, 5);
  mulV(I2, I2v, I3, I0v); // 2^10-1
  sqn(I0, I0v, I2, I2v, 10);
  mulV(I3, I3v, I2, I0v); // 2^20-1
  sqn(I0, I0v, I3, I3v, 20);
  mulV(I4, I4v, I3, I0v); // 2^40-1
  sqn(I0, I0v, I4, I4v, 10);
  mulV(I3, I3v, I2, I0v); // 2^50-1
  sqn(I0, I0v, I3, I3v, 50);
  mulV(I2, I2v, I3, I0v); // 2^100-1
  sqn(I0, I0v, I2, I2v, 100);
  mulV(I4, I4v, I2, I0v); // 2^200-1
  sqn(I0, I0v, I4, I4v, 50);
  mulV(I2, I2v, I3, I0v); // 2^250-1
  sqn(I0, I0v, I2, I2v, 5); // 2^255-32
  mul(o, I1, I0v); // 2^255-21 = p-2
}

const DEFAULT_TEETH = 8;
const HEAD = 36;

/** Bytes of a table with this many teeth (5..8); 0 for any other count. */
export function tableBytes(teeth: number): number {
  return teeth === 5 || teeth === 6 || teeth === 7 || teeth === 8 ? HEAD + ((1 << teeth) - 1) * 96 : 0;
}

/** Bytes of one table with the default 8 teeth (prepareKey / prepareBase without a count). */
export const TABLE_BYTES = tableBytes(DEFAULT_TEETH);

/** Comb spacing: bits between teeth, so that teeth * spacing covers 253-bit scalars. */
function spacing(teeth: number): number {
  return ((253 + teeth - 1) / teeth) | 0;
}

const DIG_S = new Uint8Array(51); // spacing(5), the most columns
const DIG_K = new Uint8Array(51);
const ENC = new Uint8Array(32);
const XB = new Uint8Array(32);

/**
 * Comb digits of the 32-byte little-endian scalar at s[off]: digit i (of sp)
 * has bit k set when bit k sp + i of the scalar is (k < teeth).
 */
function digits(d: Uint8Array, s: Uint8Array, off: number, teeth: number, sp: number): void {
  let i: number, k: number, b: number, n: number, m: number;
  for (i = 0; i < sp; i++) d[i] = 0;
  for (k = 0; k < teeth; k++) {
    b = k * sp;
    n = 256 - b;
    if (n > sp) n = sp;
    m = 1 << k;
    for (i = 0; i < n; i++, b++) if ((s[off + (b >> 3)] >> (b & 7)) & 1) d[i] |= m;
  }
}

function setOne(a: Fe, av: Fe): void {
  a.fill(0);
  a[0] = 1;
  mkV(a, av);
}

/** Encoding of [S]B - [k]A into ENC, from sp digits each and the two tables' 16-bit views. */
function combine(base: Uint16Array, key: Uint16Array, sp: number): void {
  QX.fill(0);
  QXv.fill(0);
  QT.fill(0);
  QTv.fill(0);
  setOne(QY, QYv);
  setOne(QZ, QZv);
  for (let i = sp - 1; i >= 0; i--) {
    if (i < sp - 1) dbl();
    const ds = DIG_S[i];
    const dk = DIG_K[i];
    if (ds) madd(base, (HEAD >> 1) + (ds - 1) * 48, !dk);
    if (dk) madd(key, (HEAD >> 1) + (dk - 1) * 48, true);
    if (!ds && !dk) {
      mkV(QX, QXv);
      mkV(QY, QYv);
      mkV(QZ, QZv);
    }
  }
  invert(TA, QZ, QZv);
  mkV(TA, TAv);
  mul(TB, QX, TAv);
  mul(TC, QY, TAv);
  pack25519(XB, TB);
  pack25519(ENC, TC);
  ENC[31] ^= (XB[0] & 1) << 7;
}

let baseTable: Uint16Array | undefined;
let baseTeeth = 0;

function words(table: Uint8Array): Uint16Array {
  // The 16-bit view needs an even offset; copy the rare misaligned table once.
  const t = table.byteOffset & 1 ? new Uint8Array(table) : table;
  return new Uint16Array(t.buffer, t.byteOffset, t.length >> 1);
}

/** The teeth of a well-formed table (header and exact length), else 0. */
function teethOf(table: Uint8Array): number {
  if (!isU8(table) || table.length < HEAD) return 0;
  if (table[0] !== 0x45 || table[1] !== 0x32 || table[2] !== 0x54) return 0;
  const t = table[3];
  return table.length === tableBytes(t) ? t : 0;
}

/** The teeth of table when it is well-formed and built for this encoding, else 0. */
function tableFor(table: Uint8Array, encoding: Uint8Array): number {
  const t = teethOf(table);
  if (!t) return 0;
  for (let i = 0; i < 32; i++) if (table[4 + i] !== encoding[i]) return 0;
  return t;
}

/** The standard base point B, encoded. */
const B_ENC = new Uint8Array(32);
B_ENC[0] = 0x58;
for (let i = 1; i < 32; i++) B_ENC[i] = 0x66;

/** Installs the base point's table (from prepareBase, kept in Storage); false if it is not one. */
export function useBaseTable(table: Uint8Array | undefined): boolean {
  if (table === undefined) {
    baseTable = undefined;
    baseTeeth = 0;
    return true;
  }
  const t = tableFor(table, B_ENC);
  if (!t) return false;
  baseTable = words(table);
  baseTeeth = t;
  return true;
}

function isBytes(x: unknown, n: number): boolean {
  return isU8(x) && x.length === n;
}

/**
 * Strict verification with the key's table from prepareKey (and the base
 * table installed by useBaseTable; without it, a base table with the key
 * table's teeth is built in RAM on first use). A table that does not belong
 * to publicKey gives false. When the two tables' teeth differ, the plain
 * verifier decides (same verdict, slow).
 */
export function verifyPrepared(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
  table: Uint8Array,
): boolean {
  try {
    if (!isBytes(signature, 64) || !isU8(message) || !isBytes(publicKey, 32)) return false;
    const t = tableFor(table, publicKey);
    if (!t) return false;
    if (!scalarIsCanonical(signature, 32)) return false;
    if (!baseTable) useBaseTable(prepareBase(t));
    if (baseTeeth !== t) return verifyRef(signature, message, publicKey);
    const sp = spacing(t);
    const k = hashToScalar(sha512(challenge(signature, publicKey, message)));
    digits(DIG_S, signature, 32, t, sp);
    digits(DIG_K, k, 0, t, sp);
    combine(baseTable as Uint16Array, words(table), sp);
    let diff = 0;
    for (let i = 0; i < 32; i++) diff |= ENC[i] ^ signature[i];
    return diff === 0;
  } catch (e) {
    return false;
  }
}

/**
 * Strict RFC 8032 verification; never throws, false on any malformed input.
 * Uses the board's native verifier when useAccel handed one in, else a table
 * registered with addKeyTable when there is one for publicKey, else the
 * plain verifier (correct, but seconds on the interpreter).
 */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    if (nativeVerify && isBytes(signature, 64) && isU8(message) && isBytes(publicKey, 32)) {
      // The machine code takes the digest of the board's native SHA-512; undefined: it could not run, so JavaScript decides.
      const r = nativeVerify(signature, publicKey, sha512(challenge(signature, publicKey, message)));
      if (r !== undefined) return r;
    }
    const t = findTable(publicKey);
    if (t) return verifyPrepared(signature, message, publicKey, t);
    return verifyRef(signature, message, publicKey);
  } catch (e) {
    return false;
  }
}

let keyTables: Uint8Array[] = [];

function findTable(publicKey: Uint8Array): Uint8Array | undefined {
  if (!isBytes(publicKey, 32)) return undefined;
  for (let i = 0; i < keyTables.length; i++) if (tableFor(keyTables[i], publicKey)) return keyTables[i];
  return undefined;
}

/** Lets verify() use this key table (from prepareKey, any teeth); false if it is not a table. */
export function addKeyTable(table: Uint8Array): boolean {
  if (!teethOf(table)) return false;
  for (let i = 0; i < keyTables.length; i++) {
    if (tableFor(keyTables[i], table.subarray(4, 36))) {
      keyTables[i] = table;
      return true;
    }
  }
  keyTables.push(table);
  return true;
}

/** Forgets every registered key table (key rotation: re-add the ones still trusted). */
export function clearKeyTables(): void {
  keyTables = [];
}

// ---- Table construction (provisioning time, not per verification) ----

/** o = a * b for plain 16-limb elements (builds b's V form). */
function fmul(o: Fe, a: Fe, b: Fe): void {
  mkV(b, TBv);
  mul(TA, a, TBv);
  o.set(TA);
}

/** p += q, both extended (unified, so it also doubles). */
function padd(p: Point, q: Point): void {
  const a = fe(), b = fe(), c = fe(), d = fe(), t = fe();
  subN(a, p[1], p[0]);
  subN(t, q[1], q[0]);
  fmul(a, a, t);
  addN(b, p[0], p[1]);
  addN(t, q[0], q[1]);
  fmul(b, b, t);
  fmul(c, p[3], q[3]);
  fmul(c, c, D2);
  fmul(d, p[2], q[2]);
  addN(d, d, d);
  const e = fe(), f = fe(), g = fe(), h = fe();
  subN(e, b, a);
  subN(f, d, c);
  addN(g, d, c);
  addN(h, b, a);
  fmul(p[0], e, f);
  fmul(p[1], h, g);
  fmul(p[2], g, f);
  fmul(p[3], e, h);
}

function copyInto(r: Point, p: Point): void {
  for (let i = 0; i < 4; i++) r[i].set(p[i]);
}

const CHUNK = 16;

/** Reads the field element stored little-endian at out[o..o+32] into limbs. */
function unpackFe(r: Fe, out: Uint8Array, o: number): void {
  for (let i = 0; i < 16; i++) r[i] = out[o + 2 * i] | (out[o + 2 * i + 1] << 8);
}

/** p += the table entry j (1-based) already written to out (y+x, y-x, 2dxy). */
function paddEntry(p: Point, out: Uint8Array, j: number, t: Fe[]): void {
  const o = HEAD + (j - 1) * 96;
  unpackFe(t[0], out, o);
  unpackFe(t[1], out, o + 32);
  unpackFe(t[2], out, o + 64);
  const a = t[3], b = t[4], c = t[5], e = t[6], f = t[7], g = t[8], h = t[9];
  subN(a, p[1], p[0]);
  fmul(a, a, t[1]);
  addN(b, p[1], p[0]);
  fmul(b, b, t[0]);
  fmul(c, p[3], t[2]);
  subN(e, b, a);
  add2N(g, p[2], c);
  subN(f, g, c);
  subN(f, f, c);
  addN(h, b, a);
  fmul(p[0], e, f);
  fmul(p[1], h, g);
  fmul(p[2], g, f);
  fmul(p[3], e, h);
}

/**
 * Builds the comb table with nTeeth teeth (5..8, checked by the caller) for
 * the point encoded (negated when negate). Entries are made level by level
 * (j in [2^t, 2^(t+1))), each from tooth t plus an entry of a lower level
 * already written to the output, and normalised in chunks of 16 with one
 * shared inversion: a few KiB of working memory, so it runs on the device at
 * provisioning time.
 */
function buildTable(encoding: Uint8Array, negate: boolean, nTeeth: number): Uint8Array | undefined {
  const p = point();
  if (!decodeNeg(p, encoding)) return undefined;
  if (!negate) {
    // decodeNeg gives -P; negate x and t back.
    for (let i = 0; i < 16; i++) {
      p[0][i] = -p[0][i];
      p[3][i] = -p[3][i];
    }
  }
  const tmp: Fe[] = [];
  for (let i = 0; i < 10; i++) tmp.push(fe());
  const teeth: Point[] = [p];
  const twin = point();
  const sp = spacing(nTeeth);
  for (let t = 1; t < nTeeth; t++) {
    const q = point();
    copyInto(q, teeth[t - 1]);
    for (let i = 0; i < sp; i++) {
      copyInto(twin, q);
      padd(q, twin);
    }
    teeth.push(q);
  }
  const out = new Uint8Array(tableBytes(nTeeth));
  out[0] = 0x45;
  out[1] = 0x32;
  out[2] = 0x54;
  out[3] = nTeeth;
  out.set(encoding, 4);
  const pts: Point[] = [];
  const pre: Fe[] = [];
  for (let i = 0; i < CHUNK; i++) {
    pts.push(point());
    pre.push(fe());
  }
  const run = fe(), inv = fe(), runv = fv(), zi = fe(), x = fe(), y = fe(), sum = fe(), enc = new Uint8Array(32);
  for (let t = 0; t < nTeeth; t++) {
    const lo = 1 << t;
    for (let start = lo; start < 2 * lo; start += CHUNK) {
      const n = Math.min(CHUNK, 2 * lo - start);
      run.fill(0);
      run[0] = 1;
      for (let i = 0; i < n; i++) {
        const q = pts[i];
        copyInto(q, teeth[t]);
        if (start + i > lo) paddEntry(q, out, start + i - lo, tmp);
        pre[i].set(run);
        fmul(run, run, q[2]);
      }
      mkV(run, runv);
      invert(inv, run, runv);
      for (let i = n - 1; i >= 0; i--) {
        const q = pts[i];
        fmul(zi, inv, pre[i]);
        fmul(inv, inv, q[2]);
        fmul(x, q[0], zi);
        fmul(y, q[1], zi);
        const o = HEAD + (start + i - 1) * 96;
        addN(sum, y, x);
        pack25519(enc, sum);
        out.set(enc, o);
        subN(sum, y, x);
        pack25519(enc, sum);
        out.set(enc, o + 32);
        fmul(sum, x, y);
        fmul(sum, sum, D2);
        pack25519(enc, sum);
        out.set(enc, o + 64);
      }
    }
  }
  return out;
}

/**
 * The table for a trusted issuer key with teeth 5..8 (default 8;
 * tableBytes(teeth) bytes, persist it with the key), or undefined for any
 * other teeth or when publicKey is not a canonical curve point: such a key
 * could never verify anything, so it must not be provisioned.
 */
export function prepareKey(publicKey: Uint8Array, teeth?: number): Uint8Array | undefined {
  const t = teeth === undefined ? DEFAULT_TEETH : teeth;
  if (!isBytes(publicKey, 32) || !tableBytes(t)) return undefined;
  return buildTable(publicKey, true, t);
}

/**
 * The base point's table with teeth 5..8 (default 8; undefined for any
 * other count); build once (or ship it) and install it with useBaseTable at
 * boot. Its teeth must match the key tables' for the fast path.
 */
export function prepareBase(): Uint8Array;
export function prepareBase(teeth: number | undefined): Uint8Array | undefined;
export function prepareBase(teeth?: number): Uint8Array | undefined {
  const t = teeth === undefined ? DEFAULT_TEETH : teeth;
  if (!tableBytes(t)) return undefined;
  return buildTable(B_ENC, false, t);
}
