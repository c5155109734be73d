import fc from "fast-check";
import {
  addKeyTable,
  clearKeyTables,
  prepareBase,
  prepareKey,
  TABLE_BYTES,
  useAccel,
  useBaseTable,
  verify,
  verifyPrepared,
} from "../../firmware/crypto/ed25519";
import { hashToScalar, publicKeyIsValid, verifyRef } from "../../firmware/crypto/ed25519-ref";
import { simAccel } from "../../sim/hw/system";
import { RFC8032_VECTORS } from "./rfc8032-vectors";
import { bigToLe, hex, L, leToBig, nacl, naclVerify, OracleCase, oracleCases, P, scalarAndPoint, seeded, yOnCurve } from "./helpers";

type Verifier = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;

const tables: Record<string, Uint8Array | undefined> = {};
/** prepareKey, memoised per key so random cases can share keys. */
function tableOf(pk: Uint8Array): Uint8Array | undefined {
  const id = Buffer.from(pk).toString("hex");
  if (!(id in tables)) tables[id] = prepareKey(pk);
  return tables[id];
}

/** The fast verifier with the key's own table; a key prepareKey refuses can verify nothing. */
const fast: Verifier = (sig, msg, pk) => {
  const t = pk instanceof Uint8Array && pk.length === 32 ? tableOf(pk) : undefined;
  if (t === undefined) {
    expect(pk instanceof Uint8Array && pk.length === 32 && publicKeyIsValid(pk)).toBe(false);
    return verifyPrepared(sig, msg, pk, new Uint8Array(TABLE_BYTES));
  }
  return verifyPrepared(sig, msg, pk, t);
};

/** verify() after the key's table was registered (the firmware's normal path). */
const registered: Verifier = (sig, msg, pk) => {
  const t = pk instanceof Uint8Array && pk.length === 32 ? tableOf(pk) : undefined;
  if (t) expect(addKeyTable(t)).toBe(true);
  return verify(sig, msg, pk);
};

/** Every path the firmware can take: plain and fast, with and without the board's natives. */
const PATHS: Array<{ name: string; setup: () => void; verify: Verifier; runs: number }> = [
  { name: "plain, JS only", setup: () => useAccel(undefined), verify: verifyRef, runs: 40 },
  { name: "plain, native sha512", setup: () => useAccel(simAccel()), verify: verifyRef, runs: 40 },
  { name: "fast, JS only", setup: () => useAccel(undefined), verify: fast, runs: 600 },
  { name: "fast, native sha512+convolve", setup: () => useAccel(simAccel()), verify: fast, runs: 1200 },
  { name: "fast, convolve without sha512", setup: () => useAccel(simAccel({ sha512: false })), verify: fast, runs: 500 },
  { name: "verify() with registered tables", setup: () => useAccel(simAccel()), verify: registered, runs: 500 },
];

/** A small pool of issuer keys, as a box has: random cases pick one. */
const KEY_SEEDS = Array.from({ length: 12 }, (_, i) => seeded(1000 + i)(32));

/** Random cases from fast-check, signed and judged by tweetnacl once for every path. */
const CASES: OracleCase[] = oracleCases(
  fc
    .sample(
      fc.record({
        k: fc.nat({ max: KEY_SEEDS.length - 1 }),
        msg: fc.uint8Array({ maxLength: 300 }),
        bit: fc.nat(),
        // Key flips are rarer: each new key costs a table build on the fast paths.
        what: fc.constantFrom("none", "none", "sig", "sig", "sig", "msg", "msg", "key"),
      }),
      { numRuns: 1200, seed: 8032 },
    )
    .map((d) => ({ seed: KEY_SEEDS[d.k], msg: d.msg, bit: d.bit, what: d.what })),
);

beforeAll(() => {
  expect(useBaseTable(prepareBase())).toBe(true);
});

afterAll(() => {
  useAccel(undefined);
  clearKeyTables();
});

function flip(b: Uint8Array, bit: number): Uint8Array {
  const c = new Uint8Array(b);
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}

// tweetnacl is slow inside jest's sandbox; every path asks the same questions, so answers are kept.
const signedMemo: Record<string, { sig: Uint8Array; pk: Uint8Array }> = {};
const naclMemo: Record<string, boolean> = {};
function naclOnce(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  const id = [sig, msg, pk].map((b) => Buffer.from(b).toString("hex")).join(":");
  if (!(id in naclMemo)) naclMemo[id] = naclVerify(sig, msg, pk);
  return naclMemo[id];
}

/** A valid (sig, msg, pk) from a deterministic seed. */
function signed(seed: Uint8Array, msg: Uint8Array) {
  const id = Buffer.from(seed).toString("hex") + ":" + Buffer.from(msg).toString("hex");
  if (!(id in signedMemo)) {
    const kp = nacl.sign.keyPair.fromSeed(seed);
    signedMemo[id] = { sig: nacl.sign.detached(msg, kp.secretKey), pk: kp.publicKey };
  }
  // Copies: tests corrupt what they get.
  return { sig: new Uint8Array(signedMemo[id].sig), msg, pk: new Uint8Array(signedMemo[id].pk) };
}

describe.each(PATHS)("ed25519 verify ($name)", (path) => {
  beforeAll(() => path.setup());

  test.each(RFC8032_VECTORS)("RFC 8032 7.1 $name", (v) => {
    const pk = hex(v.publicKey);
    const msg = hex(v.message);
    const sig = hex(v.signature);
    // The transcription itself is checked against tweetnacl's signer.
    const c = signed(hex(v.secretKey), msg);
    expect(Buffer.from(c.pk).toString("hex")).toBe(v.publicKey);
    expect(Buffer.from(c.sig).toString("hex")).toBe(v.signature);
    expect(path.verify(sig, msg, pk)).toBe(true);
    expect(path.verify(flip(sig, 0), msg, pk)).toBe(false);
    expect(path.verify(flip(sig, 300), msg, pk)).toBe(false);
    if (msg.length > 0) expect(path.verify(sig, flip(msg, msg.length * 8 - 1), pk)).toBe(false);
    expect(path.verify(sig, msg, flip(pk, 7))).toBe(false);
  });

  test("differential vs tweetnacl and the plain verifier: random keys, messages and single-bit corruptions", () => {
    const cases = CASES.slice(0, path.runs);
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      const got = path.verify(c.sig, c.msg, c.pk);
      if (got !== c.nacl) throw new Error("case " + i + " (" + c.what + "): got " + got + ", tweetnacl " + c.nacl);
      if (c.nacl !== (c.what === "none" || (c.what === "msg" && c.msg.length === 0))) throw new Error("case " + i + ": oracle " + c.nacl);
      if (path.verify !== verifyRef && i % 16 === 0) expect(verifyRef(c.sig, c.msg, c.pk)).toBe(c.nacl);
    }
    expect(cases.length).toBe(path.runs);
  });

  test("S >= L is rejected although tweetnacl accepts it", () => {
    const rnd = seeded(77);
    for (let i = 0; i < 4; i++) {
      const c = signed(rnd(32), rnd(20 + i));
      const s = leToBig(c.sig.subarray(32));
      expect(s < L).toBe(true);
      expect(path.verify(c.sig, c.msg, c.pk)).toBe(true);
      // Every S + kL that still fits in 32 bytes is the same scalar mod L.
      for (let k = 1n; s + k * L < 1n << 256n; k += 5n) {
        const bad = new Uint8Array(c.sig);
        bad.set(bigToLe(s + k * L), 32);
        expect(naclOnce(bad, c.msg, c.pk)).toBe(true);
        expect(path.verify(bad, c.msg, c.pk)).toBe(false);
      }
    }
  });

  test("S = L, S = L - 1 boundary and S = 2^256 - 1", () => {
    const c = signed(seeded(3)(32), new Uint8Array([1, 2, 3]));
    for (const s of [L, L + 1n, (1n << 256n) - 1n, L - 1n, 0n]) {
      const bad = new Uint8Array(c.sig);
      bad.set(bigToLe(s), 32);
      expect(path.verify(bad, c.msg, c.pk)).toBe(false);
    }
  });

  test("non-canonical encodings of A are rejected, the canonical one of the same point accepted", () => {
    // A = identity makes [k]A vanish, so (R = [S]B, S) verifies for any message under tweetnacl.
    const { s, point } = scalarAndPoint(seeded(11)(32));
    const sig = new Uint8Array(64);
    sig.set(point, 0);
    sig.set(bigToLe(s), 32);
    const msg = new Uint8Array([0x6b, 0x65, 0x79]);
    const canonicalIdentity = bigToLe(1n);
    const yPlusP = bigToLe(P + 1n); // y = 1 written as p + 1
    const signedZeroX = bigToLe(1n | (1n << 255n)); // x = 0 with the sign bit set
    const minusOne = bigToLe(P - 1n); // (0, -1), canonical
    const minusOneSigned = bigToLe((P - 1n) | (1n << 255n));
    expect(path.verify(sig, msg, canonicalIdentity)).toBe(true);
    expect(naclOnce(sig, msg, yPlusP)).toBe(true);
    expect(path.verify(sig, msg, yPlusP)).toBe(false);
    expect(naclOnce(sig, msg, signedZeroX)).toBe(true);
    expect(path.verify(sig, msg, signedZeroX)).toBe(false);
    // canonical, but of small order (order 2): a key the box must never trust (issue 13)
    expect(publicKeyIsValid(minusOne)).toBe(false);
    expect(publicKeyIsValid(point)).toBe(true);
    expect(publicKeyIsValid(minusOneSigned)).toBe(false);
    // Every y >= p that is on the curve: non-canonical, rejected.
    for (let y = P; y < 1n << 255n; y++) {
      if (!yOnCurve(y)) continue;
      for (const sign of [0n, 1n << 255n]) {
        const pk = bigToLe(y | sign);
        expect(publicKeyIsValid(pk)).toBe(false);
        expect(path.verify(sig, msg, pk)).toBe(false);
      }
    }
  });

  test("non-canonical encodings of R are rejected", () => {
    // S = 0, A = identity: [0]B = R holds exactly when R is the identity.
    const sig = new Uint8Array(64);
    const msg = new Uint8Array([1]);
    const A = bigToLe(1n);
    sig.set(bigToLe(1n), 0);
    expect(path.verify(sig, msg, A)).toBe(true);
    expect(naclOnce(sig, msg, A)).toBe(true);
    for (const r of [P + 1n, 1n | (1n << 255n), (P + 1n) | (1n << 255n)]) {
      sig.set(bigToLe(r), 0);
      expect(path.verify(sig, msg, A)).toBe(false);
    }
  });

  test("points not on the curve are rejected as A", () => {
    const c = signed(seeded(5)(32), new Uint8Array([4]));
    let found = 0;
    for (let y = 2n; found < 3; y++) {
      if (yOnCurve(y)) continue;
      found++;
      const pk = bigToLe(y);
      expect(publicKeyIsValid(pk)).toBe(false);
      expect(path.verify(c.sig, c.msg, pk)).toBe(false);
    }
  });

  test("wrong lengths and types give false, never an exception", () => {
    const c = signed(seeded(9)(32), new Uint8Array([7, 7]));
    const bad: unknown[] = [undefined, null, 5, "x", [], new Uint8Array(0), new Uint16Array(32)];
    expect(path.verify(c.sig.subarray(0, 63), c.msg, c.pk)).toBe(false);
    expect(path.verify(new Uint8Array(65), c.msg, c.pk)).toBe(false);
    expect(path.verify(c.sig, c.msg, c.pk.subarray(0, 31))).toBe(false);
    expect(path.verify(c.sig, c.msg, new Uint8Array(33))).toBe(false);
    for (const b of bad) {
      expect(path.verify(b as Uint8Array, c.msg, c.pk)).toBe(false);
      expect(path.verify(c.sig, b as Uint8Array, c.pk)).toBe(false);
      expect(path.verify(c.sig, c.msg, b as Uint8Array)).toBe(false);
    }
  });
});

describe("key tables", () => {
  beforeAll(() => useAccel(simAccel()));

  test("prepareKey accepts exactly the keys verify can accept, and fits the budget", () => {
    const pk = nacl.sign.keyPair.fromSeed(seeded(21)(32)).publicKey;
    const t = prepareKey(pk)!;
    expect(t.length).toBe(TABLE_BYTES);
    expect(TABLE_BYTES).toBeLessThanOrEqual(32 * 1024);
    expect(prepareKey(bigToLe(P + 1n))).toBeUndefined();
    expect(prepareKey(bigToLe(1n | (1n << 255n)))).toBeUndefined();
    expect(prepareKey(new Uint8Array(31))).toBeUndefined();
    expect(prepareKey(bigToLe(1n))).toBeDefined();
  });

  test("a table of another key, a damaged header or a wrong size gives false", () => {
    const a = nacl.sign.keyPair.fromSeed(seeded(31)(32));
    const b = nacl.sign.keyPair.fromSeed(seeded(32)(32));
    const msg = new Uint8Array([1, 2]);
    const sig = nacl.sign.detached(msg, a.secretKey);
    const ta = tableOf(a.publicKey)!;
    expect(verifyPrepared(sig, msg, a.publicKey, ta)).toBe(true);
    expect(verifyPrepared(sig, msg, a.publicKey, tableOf(b.publicKey)!)).toBe(false);
    const damaged = new Uint8Array(ta);
    damaged[3] ^= 1;
    expect(verifyPrepared(sig, msg, a.publicKey, damaged)).toBe(false);
    expect(verifyPrepared(sig, msg, a.publicKey, ta.subarray(0, TABLE_BYTES - 2))).toBe(false);
    expect(addKeyTable(damaged)).toBe(false);
  });

  test("a table at an odd byte offset still verifies", () => {
    const a = nacl.sign.keyPair.fromSeed(seeded(41)(32));
    const msg = new Uint8Array([9]);
    const sig = nacl.sign.detached(msg, a.secretKey);
    const holder = new Uint8Array(TABLE_BYTES + 1);
    holder.set(tableOf(a.publicKey)!, 1);
    expect(verifyPrepared(sig, msg, a.publicKey, holder.subarray(1))).toBe(true);
  });

  test("without a registered table verify() falls back to the plain verifier; clearKeyTables forgets", () => {
    const a = nacl.sign.keyPair.fromSeed(seeded(51)(32));
    const msg = new Uint8Array([3]);
    const sig = nacl.sign.detached(msg, a.secretKey);
    clearKeyTables();
    expect(verify(sig, msg, a.publicKey)).toBe(true);
    expect(addKeyTable(tableOf(a.publicKey)!)).toBe(true);
    expect(verify(sig, msg, a.publicKey)).toBe(true);
    expect(verify(flip(sig, 5), msg, a.publicKey)).toBe(false);
    clearKeyTables();
  });
});

describe("scalar reduction", () => {
  test("hashToScalar is the 512-bit value mod L, including the all-ones extreme", () => {
    const check = (h: Uint8Array) => expect(leToBig(hashToScalar(h))).toBe(leToBig(h) % L);
    check(new Uint8Array(64).fill(255));
    check(new Uint8Array(64));
    check(bigToLe(L, 64));
    check(bigToLe(L - 1n, 64));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (h) => {
        check(h);
      }),
      { numRuns: 500, seed: 64 },
    );
  });
});
