import { decide, CLOCK_TOLERANCE_S, DecideInput, Action } from "../../firmware/grants/decide";
import { PERM_ADMIN, PERM_LOCK, PERM_UNLOCK, USES_UNLIMITED } from "../../firmware/grants/codec";
import { T0, testKey, mint, MemState, at, firmwareVerify as slowVerify, memo, counting, malleate, holderProof } from "./helpers";

// The firmware verifier, memoised: the same grant checked in many states is verified once.
const firmwareVerify = memo(slowVerify);

const k1 = testKey(1);
const k2 = testKey(2);
const stranger = testKey(9);

function run(grant: Uint8Array, over: Partial<DecideInput> = {}) {
  return decide({
    grant,
    boxId: "KB-000001",
    state: new MemState([k1, k2]),
    clock: at(T0 + 60),
    action: "unlock",
    verify: firmwareVerify,
    ...over,
  });
}

function reason(grant: Uint8Array, over: Partial<DecideInput> = {}): string {
  const d = run(grant, over);
  return d.ok ? "ok" : d.reason;
}

describe("decide", () => {
  test("accepts a good grant and says whether it spends a use", () => {
    const d = run(mint(k1));
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.grant.grantId).toBe("0123456789abcdef");
      expect(d.consumes).toBe(true);
    }
    const l = run(mint(k2, { uses: USES_UNLIMITED }));
    expect(l.ok && l.consumes).toBe(false);
    const lock = run(mint(k1), { action: "lock" });
    expect(lock.ok && lock.consumes).toBe(false);
  });

  test("malformed input never reaches cryptography", () => {
    const v = counting(firmwareVerify);
    const good = mint(k1);
    const cases = [
      new Uint8Array(0),
      good.subarray(0, good.length - 1),
      Uint8Array.from([...good, 0]),
      Uint8Array.from([2, ...good.subarray(1)]),
      new Uint8Array(400),
    ];
    for (const c of cases) expect(reason(c, { verify: v })).toBe("malformed");
    expect(reason("nope" as unknown as Uint8Array, { verify: v })).toBe("malformed");
    expect(v.calls).toBe(0);
  });

  test("unknown key, revoked key, bad signature", () => {
    expect(reason(mint(stranger))).toBe("unknown_key");
    const s = new MemState([k1, k2]);
    s.revokedKeys[1] = true;
    expect(reason(mint(k1), { state: s })).toBe("revoked");
    expect(reason(mint(k2), { state: s })).toBe("ok");
    // Signed by key 2 but claiming key 1.
    const forged = mint(k2, { keyId: 1 });
    expect(reason(forged)).toBe("bad_signature");
    const flipped = mint(k1);
    flipped[13] ^= 1; // in the grant id: only the signature can tell
    expect(reason(flipped)).toBe("bad_signature");
    // in the box id: refused by the cheap checks, before any cryptography
    const other = mint(k1);
    other[5] ^= 1;
    const v = counting(firmwareVerify);
    expect(reason(other, { verify: v })).toBe("wrong_box");
    expect(v.calls).toBe(0);
  });

  test("a re-encoded signature (S + L) is refused", () => {
    const g = mint(k1);
    expect(reason(malleate(g))).toBe("bad_signature");
  });

  test("a verifier that throws is a refusal", () => {
    const boom = () => {
      throw new Error("x");
    };
    expect(reason(mint(k1), { verify: boom })).toBe("bad_signature");
  });

  test("wrong box and revoked grant", () => {
    expect(reason(mint(k1, { boxId: "KB-000002" }))).toBe("wrong_box");
    const s = new MemState([k1]);
    s.revokedGrants["0123456789abcdef"] = true;
    expect(reason(mint(k1), { state: s })).toBe("revoked");
    expect(reason(mint(k1, { grantId: "0123456789abcdee" }), { state: s })).toBe("ok");
  });

  test("both edges of the window, with the stated tolerance", () => {
    const g = mint(k1, { notBefore: T0, notAfter: T0 + 3600 });
    expect(CLOCK_TOLERANCE_S).toBe(120);
    expect(reason(g, { clock: at(T0 - 120) })).toBe("ok");
    expect(reason(g, { clock: at(T0 - 120.001) })).toBe("not_yet_valid");
    expect(reason(g, { clock: at(T0 - 86400) })).toBe("not_yet_valid");
    expect(reason(g, { clock: at(T0 + 3600 + 120) })).toBe("ok");
    expect(reason(g, { clock: at(T0 + 3600 + 120.001) })).toBe("expired");
    expect(reason(g, { clock: at(T0 + 86400 * 30) })).toBe("expired");
  });

  test("the clock unknown refuses every grant, even one that would be valid", () => {
    const g = mint(k1);
    expect(reason(g, { clock: at(T0 + 60, false) })).toBe("clock_unknown");
    expect(reason(g, { clock: at(5, true) })).toBe("clock_unknown");
    expect(reason(g, { clock: at(NaN, true) })).toBe("clock_unknown");
    // Structure, key and signature problems still win: they say more.
    expect(reason(mint(stranger), { clock: at(0, false) })).toBe("unknown_key");
  });

  test("permissions per action", () => {
    const cases: Array<[number, Action, string]> = [
      [PERM_UNLOCK, "unlock", "ok"],
      [PERM_UNLOCK, "lock", "permission"],
      [PERM_UNLOCK, "admin", "permission"],
      [PERM_LOCK, "lock", "ok"],
      [PERM_LOCK, "unlock", "permission"],
      [PERM_ADMIN, "admin", "ok"],
      [PERM_ADMIN, "unlock", "permission"],
      [7, "admin", "ok"],
    ];
    for (const [perms, action, want] of cases) expect(reason(mint(k1, { perms }), { action })).toBe(want);
    expect(reason(mint(k1), { action: "open" as Action })).toBe("permission");
  });

  test("use limits: single, N, unlimited; lock never spends", () => {
    const s = new MemState([k1]);
    s.uses["0123456789abcdef"] = 1;
    expect(reason(mint(k1, { uses: 1 }), { state: s })).toBe("used_up");
    expect(reason(mint(k1, { uses: 1 }), { state: s, action: "lock" })).toBe("ok");
    expect(reason(mint(k1, { uses: 2 }), { state: s })).toBe("ok");
    s.uses["0123456789abcdef"] = 2;
    expect(reason(mint(k1, { uses: 2 }), { state: s })).toBe("used_up");
    s.uses["0123456789abcdef"] = 254;
    expect(reason(mint(k1, { uses: USES_UNLIMITED }), { state: s })).toBe("ok");
  });

  test("a bound holder must prove possession of its key for this grant", () => {
    const holder = testKey(40);
    const other = testKey(41);
    const g = mint(k1, { holder: holder.publicKey });
    const ch = new Uint8Array(16).fill(7);
    expect(reason(g)).toBe("holder_mismatch");
    expect(reason(g, { holder: holderProof(holder, "KB-000001", "0123456789abcdef", ch) })).toBe("ok");
    expect(reason(g, { holder: holderProof(other, "KB-000001", "0123456789abcdef", ch) })).toBe("holder_mismatch");
    expect(reason(g, { holder: holderProof(holder, "KB-000001", "0123456789abcdee", ch) })).toBe("holder_mismatch");
    const proof = holderProof(holder, "KB-000001", "0123456789abcdef", ch);
    expect(reason(g, { holder: { challenge: new Uint8Array(16).fill(8), signature: proof.signature } })).toBe("holder_mismatch");
    expect(reason(g, { holder: { challenge: new Uint8Array(2), signature: proof.signature } })).toBe("holder_mismatch");
  });
  test("screened (the caller screened these bytes in the same call) skips only the cheap checks", () => {
    // what screen reads is skipped: a revocation it would have seen is the caller's to have seen
    const s = new MemState([k1]);
    s.revokedGrants["0123456789abcdef"] = true;
    expect(reason(mint(k1), { state: s })).toBe("revoked");
    expect(reason(mint(k1), { state: s, screened: true })).toBe("ok");
    // the signature, and every check after it, still decide
    const flipped = mint(k1);
    flipped[13] ^= 1;
    expect(reason(flipped, { screened: true })).toBe("bad_signature");
    expect(reason(mint(k2, { keyId: 1 }), { screened: true })).toBe("bad_signature");
    const used = new MemState([k1]);
    used.uses["0123456789abcdef"] = 1;
    expect(reason(mint(k1, { uses: 1 }), { state: used, screened: true })).toBe("used_up");
    expect(reason(mint(k1, { perms: PERM_LOCK }), { screened: true })).toBe("permission");
    // bytes that do not decode go through screen as always
    expect(reason(new Uint8Array(10), { screened: true })).toBe("malformed");
  });
});
