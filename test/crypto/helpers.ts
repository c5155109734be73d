import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as path from "path";
import nacl = require("tweetnacl");

export { nacl };

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** tweetnacl's (lenient) verdict, the oracle for every well-formed case. */
export function naclVerify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  return nacl.sign.detached.verify(msg, sig, pk);
}

export const P = (1n << 255n) - 19n;
export const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const D = (P - ((121665n * modPow(121666n, P - 2n, P)) % P)) % P;

export function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

export function leToBig(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  return x;
}

export function bigToLe(x: bigint, n = 32): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new Error("does not fit");
  return out;
}

/** Whether some x satisfies the curve equation for this y (y taken mod p). */
export function yOnCurve(y: bigint): boolean {
  y %= P;
  const u = (y * y - 1n + P) % P;
  const v = (D * y * y + 1n) % P;
  const x2 = (u * modPow(v, P - 2n, P)) % P;
  return x2 === 0n || modPow(x2, (P - 1n) / 2n, P) === 1n;
}

/**
 * The signing key a and the encoding of [a]B for a 32-byte seed, via tweetnacl:
 * lets a test pick R = [S]B for an S it knows (S = a mod L).
 */
export function scalarAndPoint(seed: Uint8Array): { s: bigint; point: Uint8Array } {
  const h = createHash("sha512").update(seed).digest();
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  const a = leToBig(new Uint8Array(h.subarray(0, 32)));
  return { s: a % L, point: nacl.sign.keyPair.fromSeed(seed).publicKey };
}

/** A deterministic byte source for reproducible cases. */
export function seeded(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return function (n: number) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

export interface OracleCase {
  sig: Uint8Array;
  msg: Uint8Array;
  pk: Uint8Array;
  what: string;
  /** tweetnacl's verdict. */
  nacl: boolean;
}

/**
 * Signs and corrupts the described cases and asks tweetnacl for its verdict,
 * in a plain Node child process: tweetnacl runs about ten times slower inside
 * jest's module sandbox, and the oracle is the bulk of the differential work.
 */
export function oracleCases(
  descs: Array<{ seed: Uint8Array; msg: Uint8Array; bit: number; what: string }>,
): OracleCase[] {
  const script = `
const nacl = require("tweetnacl");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const h = (s) => new Uint8Array(Buffer.from(s, "hex"));
const x = (b) => Buffer.from(b).toString("hex");
const flip = (b, bit) => { const c = new Uint8Array(b); c[bit >> 3] ^= 1 << (bit & 7); return c; };
const out = input.map((d) => {
  const kp = nacl.sign.keyPair.fromSeed(h(d.seed));
  let msg = h(d.msg), sig = nacl.sign.detached(msg, kp.secretKey), pk = kp.publicKey;
  if (d.what === "sig") sig = flip(sig, d.bit % 512);
  if (d.what === "msg" && msg.length > 0) msg = flip(msg, d.bit % (msg.length * 8));
  if (d.what === "key") pk = flip(pk, d.bit % 256);
  return { sig: x(sig), msg: x(msg), pk: x(pk), what: d.what, nacl: nacl.sign.detached.verify(msg, sig, pk) };
});
process.stdout.write(JSON.stringify(out));
`;
  const input = JSON.stringify(descs.map((d) => ({ seed: toHex(d.seed), msg: toHex(d.msg), bit: d.bit, what: d.what })));
  const r = spawnSync(process.execPath, ["-e", script], { input, cwd: path.resolve(__dirname, "../.."), maxBuffer: 1 << 26, encoding: "utf8" });
  if (r.status !== 0) throw new Error("oracle failed: " + r.stderr);
  return (JSON.parse(r.stdout) as Array<{ sig: string; msg: string; pk: string; what: string; nacl: boolean }>).map((c) => ({
    sig: hex(c.sig),
    msg: hex(c.msg),
    pk: hex(c.pk),
    what: c.what,
    nacl: c.nacl,
  }));
}

// Twisted Edwards arithmetic in BigInt, independent of the firmware's code: lets a test
// build R = [S]B for any S it chooses (the top comb bits of S < L included).
const D2BIG = (2n * D) % P;
const SQRT_M1 = modPow(2n, (P - 1n) / 4n, P);
type Ext = [bigint, bigint, bigint, bigint];

function extAdd(p: Ext, q: Ext): Ext {
  const a = ((p[1] - p[0]) * (q[1] - q[0])) % P;
  const b = ((p[1] + p[0]) * (q[1] + q[0])) % P;
  const c = (((p[3] * D2BIG) % P) * q[3]) % P;
  const d = (2n * p[2] * q[2]) % P;
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return [(e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P];
}

/** The base point from y = 4/5 and even x. */
function basePoint(): Ext {
  const y = (4n * modPow(5n, P - 2n, P)) % P;
  const u = (y * y - 1n + P) % P;
  const v = (D * y * y + 1n) % P;
  const x2 = (u * modPow(v, P - 2n, P)) % P;
  let x = modPow(x2, (P + 3n) / 8n, P);
  if ((x * x - x2) % P !== 0n) x = (x * SQRT_M1) % P;
  if (x & 1n) x = P - x;
  return [x, y, 1n, (x * y) % P];
}

/** The 32-byte encoding of [s]B, by double-and-add in BigInt. */
export function baseMul(s: bigint): Uint8Array {
  let r: Ext = [0n, 1n, 1n, 0n];
  let q = basePoint();
  for (let k = s; k > 0n; k >>= 1n) {
    if (k & 1n) r = extAdd(r, q);
    q = extAdd(q, q);
  }
  const zi = modPow(((r[2] % P) + P) % P, P - 2n, P);
  const x = (((r[0] * zi) % P) + P) % P;
  const y = (((r[1] * zi) % P) + P) % P;
  return bigToLe(y | ((x & 1n) << 255n));
}
