/**
 * The cases the native verifier is checked on, each with the JavaScript
 * verifier's verdict (firmware/crypto: the comb-table path when the key
 * decodes, the plain one otherwise, as verify() picks). Deterministic: the
 * same cases on every run.
 * - RFC 8032 section 7.1's vectors;
 * - tweetnacl signatures over random messages (0..200 bytes) and keys;
 * - every single-bit corruption of the signature and message of two of
 *   them, and of the public key of one;
 * - S >= L (S + L, S + 8L, L, 2^256 - 1) and S = L - 1;
 * - non-canonical encodings: A and R with y >= p, x = 0 with the sign bit;
 * - small-order keys (all eight torsion points), signatures forged for them
 *   that the cofactorless equation accepts, mixed-order keys [a]B + T with
 *   signatures that hold or fail depending on k mod 8, points off the curve.
 * `tsx tools/native/cases.ts [random] [--lines]` prints them as JSON (or as
 * the host check's input lines).
 */
import { createHash } from "crypto";
import { RFC8032_VECTORS } from "../../test/crypto/rfc8032-vectors";
import { seeded } from "../../test/crypto/helpers";
import { prepareBase, prepareKey, useAccel, useBaseTable, verifyPrepared } from "../../firmware/crypto/ed25519";
import { verifyRef } from "../../firmware/crypto/ed25519-ref";

const nacl = require("tweetnacl");

export interface Case {
  sig: Uint8Array;
  msg: Uint8Array;
  pk: Uint8Array;
  what: string;
  /** The JavaScript verifier's verdict. */
  js: boolean;
}

// ---- Edwards25519 in BigInt, independent of both verifiers ----

const P = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const mod = (x: bigint, m = P): bigint => ((x % m) + m) % m;

function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
  }
  return r;
}

const inv = (x: bigint): bigint => pow(x, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);
type Pt = [bigint, bigint, bigint, bigint];
const ID: Pt = [0n, 1n, 1n, 0n];

function add(p: Pt, q: Pt): Pt {
  const a = mod((p[1] - p[0]) * (q[1] - q[0]));
  const b = mod((p[1] + p[0]) * (q[1] + q[0]));
  const c = mod(2n * D * p[3] * q[3]);
  const d = mod(2n * p[2] * q[2]);
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function mul(p: Pt, s: bigint): Pt {
  let r = ID;
  for (let q = p; s > 0n; s >>= 1n, q = add(q, q)) if (s & 1n) r = add(r, q);
  return r;
}

const neg = (p: Pt): Pt => [mod(-p[0]), p[1], p[2], mod(-p[3])];

/** The x for y with the given parity, or undefined when y is not on the curve. */
function recoverX(y: bigint, sign: number): bigint | undefined {
  const u = mod(y * y - 1n), v = mod(D * y * y + 1n);
  const x2 = mod(u * inv(v));
  let x = pow(x2, (P + 3n) / 8n);
  if (mod(x * x - x2) !== 0n) x = mod(x * SQRT_M1);
  if (mod(x * x - x2) !== 0n) return undefined;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return x;
}

function affine(p: Pt): [bigint, bigint] {
  const zi = inv(p[2]);
  return [mod(p[0] * zi), mod(p[1] * zi)];
}

function le(x: bigint, n = 32): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

function fromLe(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  return x;
}

function encode(p: Pt): Uint8Array {
  const [x, y] = affine(p);
  return le(y | ((x & 1n) << 255n));
}

/** The encoding of y (any 255-bit value, canonical or not) with the sign bit. */
function encodeY(y: bigint, sign: number): Uint8Array {
  return le(y | (BigInt(sign) << 255n));
}

function point(y: bigint, sign: number): Pt {
  const x = recoverX(y, sign) as bigint;
  return [x, y, 1n, mod(x * y)];
}

const B = point(mod(4n * inv(5n)), 0);

function digestScalar(r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint {
  return fromLe(new Uint8Array(createHash("sha512").update(Buffer.concat([r, a, m])).digest())) % L;
}

function sigOf(r: Uint8Array, s: bigint): Uint8Array {
  const out = new Uint8Array(64);
  out.set(r, 0);
  out.set(le(s), 32);
  return out;
}

/** The eight points of small order: [L] of points whose torsion parts together span the 8-torsion. */
function torsion(): Pt[] {
  const found = new Map<string, Pt>();
  for (let y = 2n; found.size < 8 && y < 200n; y++) {
    for (const sign of [0, 1]) {
      const x = recoverX(y, sign);
      if (x === undefined) continue;
      const t = mul([x, y, 1n, mod(x * y)], L);
      for (let k = 0n, q = t; k < 8n; k++, q = add(q, t)) found.set(Buffer.from(encode(q)).toString("hex"), q);
    }
  }
  return Array.from(found.values());
}

function order(t: Pt): number {
  let q = t;
  for (let n = 1; n <= 8; n++, q = add(q, t)) if (encode(q).every((b, i) => b === encode(ID)[i])) return n;
  return 0;
}

// ---- the cases ----

type Raw = Omit<Case, "js">;

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

function flip(b: Uint8Array, bit: number): Uint8Array {
  const c = new Uint8Array(b);
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}

/** Every case without verdicts; random is how many random signatures (spread over random / 50 keys). */
export function rawCases(random = 2000): Raw[] {
  const out: Raw[] = [];
  const rnd = seeded(0x16ed);
  for (const v of RFC8032_VECTORS) out.push({ sig: hex(v.signature), msg: hex(v.message), pk: hex(v.publicKey), what: "rfc8032 " + v.name });
  const perKey = 50;
  for (let k = 0; k * perKey < random; k++) {
    const kp = nacl.sign.keyPair.fromSeed(rnd(32));
    for (let i = 0; i < perKey && k * perKey + i < random; i++) {
      const msg = rnd(rnd(1)[0] % 201);
      out.push({ sig: nacl.sign.detached(msg, kp.secretKey), msg, pk: kp.publicKey, what: "random" });
    }
  }
  // Single-bit corruptions.
  for (let n = 0; n < 2; n++) {
    const kp = nacl.sign.keyPair.fromSeed(rnd(32));
    const msg = rnd(12);
    const sig = nacl.sign.detached(msg, kp.secretKey);
    for (let bit = 0; bit < 512; bit++) out.push({ sig: flip(sig, bit), msg, pk: kp.publicKey, what: "sig bit " + bit });
    for (let bit = 0; bit < msg.length * 8; bit++) out.push({ sig, msg: flip(msg, bit), pk: kp.publicKey, what: "msg bit " + bit });
    if (n === 0) for (let bit = 0; bit < 256; bit++) out.push({ sig, msg, pk: flip(kp.publicKey, bit), what: "key bit " + bit });
  }
  // S >= L.
  {
    const kp = nacl.sign.keyPair.fromSeed(rnd(32));
    const msg = rnd(20);
    const sig = nacl.sign.detached(msg, kp.secretKey);
    const s = fromLe(sig.subarray(32));
    const r = sig.subarray(0, 32);
    out.push({ sig, msg, pk: kp.publicKey, what: "S < L (the original)" });
    out.push({ sig: sigOf(r, s + L), msg, pk: kp.publicKey, what: "S + L" });
    out.push({ sig: sigOf(r, s + 8n * L), msg, pk: kp.publicKey, what: "S + 8L" });
    out.push({ sig: sigOf(r, L), msg, pk: kp.publicKey, what: "S = L" });
    out.push({ sig: sigOf(r, (1n << 256n) - 1n), msg, pk: kp.publicKey, what: "S = 2^256 - 1" });
  }
  // The identity as a key: [S]B = R holds for any message, so R = [s]B, S = s verifies (cofactorless, small order allowed).
  const idEnc = encode(ID);
  for (const s of [0n, 1n, 12345n, L - 1n]) {
    const msg = rnd(8);
    const r = encode(mul(B, s));
    out.push({ sig: sigOf(r, s), msg, pk: idEnc, what: "identity key, S = " + (s === L - 1n ? "L - 1" : String(s)) });
    out.push({ sig: sigOf(r, s + L), msg, pk: idEnc, what: "identity key, S + L" });
  }
  // Non-canonical encodings of A (y >= p, either sign) with a signature that holds for the canonical identity.
  const good = sigOf(encode(mul(B, 7n)), 7n);
  for (let j = 0n; j < 19n; j++)
    for (const sign of [0, 1]) out.push({ sig: good, msg: new Uint8Array(0), pk: encodeY(P + j, sign), what: "A with y = p + " + j + (sign ? ", sign 1" : "") });
  // x = 0 with the sign bit set: y = 1 and y = p - 1.
  out.push({ sig: good, msg: new Uint8Array(0), pk: encodeY(1n, 1), what: "A = identity with sign bit" });
  out.push({ sig: good, msg: new Uint8Array(0), pk: encodeY(P - 1n, 1), what: "A = order 2 with sign bit" });
  // Non-canonical R: the identity key and S = 0 make R = identity; y = p + 1 and the sign bit are other encodings of it.
  out.push({ sig: sigOf(idEnc, 0n), msg: new Uint8Array(0), pk: idEnc, what: "R = identity (canonical)" });
  out.push({ sig: sigOf(encodeY(P + 1n, 0), 0n), msg: new Uint8Array(0), pk: idEnc, what: "R = identity as y = p + 1" });
  out.push({ sig: sigOf(encodeY(1n, 1), 0n), msg: new Uint8Array(0), pk: idEnc, what: "R = identity with sign bit" });
  // Small-order keys: each torsion point, with a forged signature the cofactorless equation accepts, and a wrong one.
  const tors = torsion();
  for (const t of tors) {
    const a = encode(t);
    const n = BigInt(order(t));
    const msg = rnd(16);
    let forged: Uint8Array | undefined;
    for (let s = 1n; !forged && s < 64n; s++) {
      for (let m = 0n; m < n && !forged; m++) {
        const tm = mul(t, m);
        const r = encode(add(mul(B, s), neg(tm)));
        const k = digestScalar(r, a, msg);
        if (encode(mul(t, k % n)).every((b, i) => b === encode(tm)[i])) forged = sigOf(r, s);
      }
    }
    if (forged) {
      out.push({ sig: forged, msg, pk: a, what: "order " + n + " key, forged" });
      out.push({ sig: forged, msg: flip(msg, 0), pk: a, what: "order " + n + " key, forged, other message" });
    }
  }
  // Mixed-order keys A = [a]B + T (T of order 8): S = r + k a holds iff [k]T = 0, i.e. k = 0 mod 8.
  const t8 = tors.find((t) => order(t) === 8) as Pt;
  for (let n = 0; n < 2; n++) {
    const a = fromLe(rnd(32)) % L;
    const pk = encode(add(mul(B, a), t8));
    let holds = 0, fails = 0;
    for (let i = 0; i < 400 && (holds < 3 || fails < 3); i++) {
      const msg = rnd(10);
      const r0 = fromLe(rnd(32)) % L;
      const r = encode(mul(B, r0));
      const k = digestScalar(r, pk, msg);
      const ok = k % 8n === 0n;
      if ((ok && holds >= 3) || (!ok && fails >= 3)) continue;
      if (ok) holds++;
      else fails++;
      out.push({ sig: sigOf(r, mod(r0 + k * a, L)), msg, pk, what: "mixed-order key, k mod 8 = " + (k % 8n) });
    }
  }
  // Points off the curve as A and as R.
  let off = 0;
  for (let y = 2n; off < 4; y++) {
    if (recoverX(y, 0) !== undefined) continue;
    off++;
    out.push({ sig: good, msg: new Uint8Array(0), pk: encodeY(y, 0), what: "A off the curve, y = " + y });
    out.push({ sig: sigOf(encodeY(y, 0), 7n), msg: new Uint8Array(0), pk: idEnc, what: "R off the curve, y = " + y });
  }
  return out;
}

/** The JavaScript verifier's verdicts, as the firmware reaches it (tables for keys that decode). */
export function withVerdicts(raw: Raw[]): Case[] {
  useAccel({
    sha512: (d: Uint8Array) => new Uint8Array(createHash("sha512").update(d).digest()),
  });
  useBaseTable(prepareBase(8));
  const tables = new Map<string, Uint8Array | undefined>();
  return raw.map((c) => {
    const key = Buffer.from(c.pk).toString("hex");
    if (!tables.has(key)) tables.set(key, prepareKey(c.pk, 8));
    const t = tables.get(key);
    const js = t ? verifyPrepared(c.sig, c.msg, c.pk, t) : verifyRef(c.sig, c.msg, c.pk);
    return Object.assign({ js }, c);
  });
}

export function digestOf(c: { sig: Uint8Array; msg: Uint8Array; pk: Uint8Array }): Uint8Array {
  return new Uint8Array(createHash("sha512").update(Buffer.concat([c.sig.subarray(0, 32), c.pk, c.msg])).digest());
}

export function caseLine(c: { sig: Uint8Array; msg: Uint8Array; pk: Uint8Array }): string {
  const x = (b: Uint8Array) => Buffer.from(b).toString("hex");
  return x(c.sig) + " " + x(c.msg) + " " + x(c.pk);
}

if (require.main === module) {
  const n = process.argv.slice(2).find((a) => /^\d+$/.test(a));
  const cases = withVerdicts(rawCases(n === undefined ? undefined : Number(n)));
  if (process.argv.includes("--lines")) process.stdout.write(cases.map(caseLine).join("\n") + "\n");
  else {
    const x = (b: Uint8Array) => Buffer.from(b).toString("hex");
    process.stdout.write(JSON.stringify(cases.map((c) => ({ sig: x(c.sig), msg: x(c.msg), pk: x(c.pk), what: c.what, js: c.js }))) + "\n");
  }
}
