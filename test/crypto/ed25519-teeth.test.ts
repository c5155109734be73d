import fc from "fast-check";
import { Accel } from "../../hal";
import {
  addKeyTable,
  clearKeyTables,
  prepareBase,
  prepareKey,
  TABLE_BYTES,
  tableBytes,
  useAccel,
  useBaseTable,
  verify,
  verifyPrepared,
} from "../../firmware/crypto/ed25519";
import { publicKeyIsValid, verifyRef } from "../../firmware/crypto/ed25519-ref";
import { simAccel } from "../../sim/hw/system";
import { baseMul, bigToLe, L, leToBig, nacl, naclVerify, OracleCase, oracleCases, scalarAndPoint, seeded } from "./helpers";

/*
 * Comb tables with 5..8 teeth (the owner's choice at provisioning): the fast
 * verifier must give tweetnacl's and verifyRef's verdicts for every count,
 * refuse tables whose length does not match their header, and stay correct
 * when the base and key tables disagree on the count (plain path).
 */

const TEETH = [5, 6, 7, 8];
const PER_TEETH = 36;

// Counts the native dot products: the comb path makes hundreds per verification, the plain verifier none.
const native = simAccel();
let convolves = 0;
const counting: Accel = {
  sha512: native.sha512,
  convolve: (a, b, o) => {
    convolves++;
    return native.convolve!(a, b, o);
  },
};

const KEY_SEEDS = Array.from({ length: 3 }, (_, i) => seeded(4000 + i)(32));

/** fast-check cases signed and judged by tweetnacl once; each teeth count takes its own slice. */
const CASES: OracleCase[] = oracleCases(
  fc
    .sample(
      fc.record({
        k: fc.nat({ max: KEY_SEEDS.length - 1 }),
        msg: fc.uint8Array({ maxLength: 120 }),
        bit: fc.nat(),
        what: fc.constantFrom("none", "none", "sig", "sig", "sig", "msg", "msg", "key"),
      }),
      { numRuns: PER_TEETH * TEETH.length, seed: 253 },
    )
    .map((d) => ({ seed: KEY_SEEDS[d.k], msg: d.msg, bit: d.bit, what: d.what })),
);

const tables: Record<string, Uint8Array | undefined> = {};
function tableOf(pk: Uint8Array, teeth: number): Uint8Array | undefined {
  const id = teeth + ":" + Buffer.from(pk).toString("hex");
  if (!(id in tables)) tables[id] = prepareKey(pk, teeth);
  return tables[id];
}

const bases: Record<number, Uint8Array> = {};
function baseOf(teeth: number): Uint8Array {
  if (!bases[teeth]) bases[teeth] = prepareBase(teeth)!;
  return bases[teeth];
}

/** The fast verifier with this key's table of the given teeth; a key prepareKey refuses verifies nothing. */
function fast(teeth: number, sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  const t = tableOf(pk, teeth);
  if (t === undefined) {
    expect(publicKeyIsValid(pk)).toBe(false);
    return verifyPrepared(sig, msg, pk, new Uint8Array(tableBytes(teeth)));
  }
  return verifyPrepared(sig, msg, pk, t);
}

function withS(sig: Uint8Array, s: bigint): Uint8Array {
  const c = new Uint8Array(sig);
  c.set(bigToLe(s), 32);
  return c;
}

beforeAll(() => useAccel(counting));

afterAll(() => {
  useAccel(undefined);
  clearKeyTables();
  useBaseTable(undefined);
});

describe("table sizes", () => {
  test("tableBytes follows 36 + 96 (2^t - 1) for 5..8 and is 0 otherwise; TABLE_BYTES is 8 teeth", () => {
    for (const t of TEETH) expect(tableBytes(t)).toBe(36 + 96 * (2 ** t - 1));
    expect(TABLE_BYTES).toBe(tableBytes(8));
    for (const bad of [0, 1, 4, 9, 16, 5.5, -8, NaN, Infinity]) expect(tableBytes(bad)).toBe(0);
  });

  test("prepareKey and prepareBase build the stated size and header; other counts give undefined", () => {
    const pk = nacl.sign.keyPair.fromSeed(KEY_SEEDS[0]).publicKey;
    for (const t of TEETH) {
      const k = tableOf(pk, t)!;
      const b = baseOf(t);
      expect(k.length).toBe(tableBytes(t));
      expect(b.length).toBe(tableBytes(t));
      expect([k[3], b[3]]).toEqual([t, t]);
      expect(Buffer.from(k.subarray(4, 36)).equals(Buffer.from(pk))).toBe(true);
    }
    const d = prepareBase();
    expect(d.length).toBe(TABLE_BYTES);
    expect(d[3]).toBe(8);
    expect(Buffer.from(d).equals(Buffer.from(baseOf(8)))).toBe(true);
    expect(Buffer.from(prepareKey(pk)!).equals(Buffer.from(tableOf(pk, 8)!))).toBe(true);
    for (const bad of [0, 4, 9, 5.5, -1, NaN]) {
      expect(prepareKey(pk, bad)).toBeUndefined();
      expect(prepareBase(bad)).toBeUndefined();
    }
  });
});

describe.each(TEETH)("%i teeth", (teeth) => {
  beforeAll(() => {
    expect(useBaseTable(baseOf(teeth))).toBe(true);
  });

  test("differential vs tweetnacl and the plain verifier: valid signatures and single-bit corruptions", () => {
    const i0 = TEETH.indexOf(teeth) * PER_TEETH;
    const cases = CASES.slice(i0, i0 + PER_TEETH);
    let valid = 0;
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      const before = convolves;
      const got = fast(teeth, c.sig, c.msg, c.pk);
      if (got !== c.nacl) throw new Error("case " + i + " (" + c.what + "): got " + got + ", tweetnacl " + c.nacl);
      if (c.nacl !== (c.what === "none" || (c.what === "msg" && c.msg.length === 0))) throw new Error("case " + i + ": oracle " + c.nacl);
      expect(verifyRef(c.sig, c.msg, c.pk)).toBe(c.nacl);
      if (c.nacl) {
        // A valid signature went through the comb, not the plain fallback.
        expect(convolves).toBeGreaterThan(before);
        valid++;
      }
    }
    expect(cases.length).toBe(PER_TEETH);
    expect(valid).toBeGreaterThan(5);
  });

  test("S >= L is rejected although tweetnacl accepts it", () => {
    const rnd = seeded(900 + teeth);
    for (let i = 0; i < 2; i++) {
      const kp = nacl.sign.keyPair.fromSeed(KEY_SEEDS[i]);
      const msg = rnd(10 + i);
      const sig = nacl.sign.detached(msg, kp.secretKey);
      const s = leToBig(sig.subarray(32));
      expect(fast(teeth, sig, msg, kp.publicKey)).toBe(true);
      for (const k of [1n, 2n, 7n, 15n]) {
        if (s + k * L >= 1n << 256n) continue;
        const bad = withS(sig, s + k * L);
        expect(naclVerify(bad, msg, kp.publicKey)).toBe(true);
        expect(fast(teeth, bad, msg, kp.publicKey)).toBe(false);
        expect(verifyRef(bad, msg, kp.publicKey)).toBe(false);
      }
    }
  });

  test("the comb's top bits: S up to L - 1 (bit 252 set) with R = [S]B and the identity as key", () => {
    // With A = identity, [S]B = R + [k]A holds for every message exactly when R = [S]B.
    const A = bigToLe(1n);
    const msg = new Uint8Array([teeth, 2, 5, 3]);
    const rnd = seeded(70 + teeth);
    const scalars = [L - 1n, 1n << 252n, (1n << 252n) - 1n, (1n << 252n) + leToBig(rnd(15)), leToBig(rnd(31)), 1n];
    for (const s of scalars) {
      const sig = new Uint8Array(64);
      sig.set(baseMul(s), 0);
      sig.set(bigToLe(s), 32);
      expect(fast(teeth, sig, msg, A)).toBe(true);
      expect(verifyRef(sig, msg, A)).toBe(true);
      // Any other S' (here s with one of its bits flipped, kept below L) misses R.
      for (const bit of [0n, 31n, 32n, 36n, 37n, 42n, 43n, 50n, 51n, 200n, 251n]) {
        const other = s ^ (1n << bit);
        if (other >= L) continue;
        expect(fast(teeth, withS(sig, other), msg, A)).toBe(false);
      }
    }
  });

  test("a table whose header says this count but whose length does not match is refused", () => {
    const kp = nacl.sign.keyPair.fromSeed(KEY_SEEDS[1]);
    const msg = new Uint8Array([teeth]);
    const sig = nacl.sign.detached(msg, kp.secretKey);
    const good = tableOf(kp.publicKey, teeth)!;
    expect(verifyPrepared(sig, msg, kp.publicKey, good)).toBe(true);
    const wrong: Uint8Array[] = [good.subarray(0, good.length - 96), good.subarray(0, good.length - 1)];
    for (const extra of [1, 96]) {
      const longer = new Uint8Array(good.length + extra);
      longer.set(good);
      wrong.push(longer);
    }
    // The right length for another count, this count in the header.
    for (const other of TEETH) {
      if (other === teeth) continue;
      const t = new Uint8Array(tableBytes(other));
      t.set(good.subarray(0, Math.min(good.length, t.length)));
      wrong.push(t);
    }
    clearKeyTables();
    for (const t of wrong) {
      expect(t[3]).toBe(teeth);
      expect(verifyPrepared(sig, msg, kp.publicKey, t)).toBe(false);
      expect(addKeyTable(t)).toBe(false);
    }
    const base = baseOf(teeth);
    expect(useBaseTable(base.subarray(0, base.length - 96))).toBe(false);
    const longBase = new Uint8Array(base.length + 96);
    longBase.set(base);
    expect(useBaseTable(longBase)).toBe(false);
    // The refusals left the installed base table in place.
    expect(verifyPrepared(sig, msg, kp.publicKey, good)).toBe(true);
    expect(verify(sig, msg, kp.publicKey)).toBe(true); // no registered table: the plain path
  });
});

describe("base and key tables with different teeth", () => {
  const PAIRS: Array<[number, number]> = [
    [8, 6],
    [5, 7],
    [6, 8],
  ];

  test.each(PAIRS)("base %i teeth, key %i teeth: the same verdicts, on the plain path", (bt, kt) => {
    expect(useBaseTable(baseOf(bt))).toBe(true);
    const kp = nacl.sign.keyPair.fromSeed(KEY_SEEDS[2]);
    const msg = new Uint8Array([bt, kt, 1]);
    const sig = nacl.sign.detached(msg, kp.secretKey);
    const key = tableOf(kp.publicKey, kt)!;
    const before = convolves;
    expect(verifyPrepared(sig, msg, kp.publicKey, key)).toBe(true);
    const badSig = new Uint8Array(sig);
    badSig[5] ^= 0x10;
    expect(verifyPrepared(badSig, msg, kp.publicKey, key)).toBe(false);
    expect(verifyPrepared(sig, new Uint8Array([bt, kt, 2]), kp.publicKey, key)).toBe(false);
    const big = withS(sig, leToBig(sig.subarray(32)) + L);
    expect(naclVerify(big, msg, kp.publicKey)).toBe(true);
    expect(verifyPrepared(big, msg, kp.publicKey, key)).toBe(false);
    // verify() with the registered key table takes the same route.
    clearKeyTables();
    expect(addKeyTable(key)).toBe(true);
    expect(verify(sig, msg, kp.publicKey)).toBe(true);
    expect(verify(badSig, msg, kp.publicKey)).toBe(false);
    clearKeyTables();
    expect(convolves).toBe(before);
  });

  test("a key table of another count replaces the key's registered one", () => {
    expect(useBaseTable(baseOf(6))).toBe(true);
    const kp = nacl.sign.keyPair.fromSeed(KEY_SEEDS[0]);
    const msg = new Uint8Array([42]);
    const sig = nacl.sign.detached(msg, kp.secretKey);
    clearKeyTables();
    expect(addKeyTable(tableOf(kp.publicKey, 8)!)).toBe(true);
    let before = convolves;
    expect(verify(sig, msg, kp.publicKey)).toBe(true);
    expect(convolves).toBe(before);
    expect(addKeyTable(tableOf(kp.publicKey, 6)!)).toBe(true);
    before = convolves;
    expect(verify(sig, msg, kp.publicKey)).toBe(true);
    expect(convolves).toBeGreaterThan(before);
    clearKeyTables();
  });

  test("without an installed base table, one with the key table's teeth is built and used", () => {
    useBaseTable(undefined);
    const { s, point } = scalarAndPoint(seeded(88)(32));
    const sig = new Uint8Array(64);
    sig.set(point, 0);
    sig.set(bigToLe(s), 32);
    const A = bigToLe(1n);
    const before = convolves;
    expect(verifyPrepared(sig, new Uint8Array([1]), A, tableOf(A, 7)!)).toBe(true);
    expect(convolves).toBeGreaterThan(before);
    expect(verifyPrepared(withS(sig, s + 1n), new Uint8Array([1]), A, tableOf(A, 7)!)).toBe(false);
  });
});
