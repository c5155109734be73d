import fc from "fast-check";
import { decodeGrant } from "../../firmware/grants/codec";
import { decide, Action } from "../../firmware/grants/decide";
import { decodeRevocation } from "../../firmware/grants/revocation";
import { T0, testKey, mint, MemState, at, naclStrict, nodeStrict, firmwareVerify, counting, memo } from "./helpers";

const k1 = testKey(1);
const k2 = testKey(2);
const holder = testKey(3);
const state = new MemState([k1, k2]);
const originals = [
  mint(k1),
  mint(k2, { grantId: "00000000000000ff", uses: 255, perms: 7 }),
  mint(k1, { boxId: "X", holder: holder.publicKey, uses: 9 }),
];

type Edit = { kind: "set" | "insert" | "delete"; at: number; value: number } | { kind: "truncate"; at: number; value: number };

const edit = fc.record({
  kind: fc.constantFrom("set", "insert", "delete", "truncate") as fc.Arbitrary<Edit["kind"]>,
  at: fc.nat(200),
  value: fc.nat(255),
});

function mutate(src: Uint8Array, edits: Edit[]): Uint8Array {
  let b = Array.from(src);
  for (const e of edits) {
    const i = b.length ? e.at % (b.length + (e.kind === "insert" ? 1 : 0)) : 0;
    if (e.kind === "set" && b.length) b[i] = e.value;
    else if (e.kind === "insert") b.splice(i, 0, e.value);
    else if (e.kind === "delete") b.splice(i, 1);
    else b = b.slice(0, i);
  }
  return Uint8Array.from(b);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const actions: Action[] = ["unlock", "lock", "admin"];

function refuses(bytes: Uint8Array, verify: (s: Uint8Array, m: Uint8Array, p: Uint8Array) => boolean, action: Action): boolean {
  decodeGrant(bytes);
  const d = decide({ grant: bytes, boxId: "KB-000001", state, clock: at(T0 + 60), action, verify });
  return !d.ok;
}

describe("fuzz: random and mutated grants", () => {
  test("the originals are accepted (so a refusal below means something)", () => {
    expect(decide({ grant: originals[0], boxId: "KB-000001", state, clock: at(T0 + 60), action: "unlock", verify: naclStrict }).ok).toBe(true);
    expect(decide({ grant: originals[1], boxId: "KB-000001", state, clock: at(T0 + 60), action: "admin", verify: naclStrict }).ok).toBe(true);
  });

  test("random bytes: no exception, no accept", () => {
    const v = counting(naclStrict);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...actions), (b, a) => refuses(b, v, a)),
      { numRuns: 3000 },
    );
    // Random bytes also shaped like a grant header, to get past the first checks.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 96, maxLength: 96 }), (b) => {
        b[0] = 1;
        b[1] = 9;
        b.set(originals[0].subarray(2, 11), 2);
        return refuses(b, v, "unlock");
      }),
      { numRuns: 2000 },
    );
  });

  test("the fast reference agrees with tweetnacl strict", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2), fc.array(edit, { maxLength: 2 }), (which, edits) => {
        const d = decodeGrant(mutate(originals[which], edits));
        if (!d.ok) return true;
        const pk = which === 1 ? k2.publicKey : k1.publicKey;
        return nodeStrict(d.grant.signature, d.grant.signed, pk) === naclStrict(d.grant.signature, d.grant.signed, pk);
      }),
      { numRuns: 60 },
    );
  });

  test("mutated grants (native strict Ed25519 as verifier): no exception, no accept", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2), fc.array(edit, { minLength: 1, maxLength: 4 }), fc.constantFrom(...actions), (which, edits, action) => {
        const b = mutate(originals[which], edits);
        if (same(b, originals[which])) return true;
        return refuses(b, nodeStrict, action);
      }),
      { numRuns: 4000 },
    );
  });

  test("mutated grants with the firmware verifier: no exception, no accept", () => {
    const v = counting(memo(firmwareVerify));
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.array(edit, { minLength: 1, maxLength: 2 }), (which, edits) => {
        const b = mutate(originals[which], edits);
        if (same(b, originals[which])) return true;
        return refuses(b, v, which === 1 ? "admin" : "unlock");
      }),
      { numRuns: 250 },
    );
    expect(v.calls).toBeGreaterThan(20);
  });

  test("random and mutated revocation records never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        const r = decodeRevocation(b);
        return r.ok === false || (r.ok && r.rev.signature.length === 64);
      }),
      { numRuns: 2000 },
    );
  });
});
