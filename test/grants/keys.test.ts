/**
 * Issue 13 point 2: small-order and non-canonical keys are refused wherever
 * a key enters the box, and what is derived from a key is keyed by its bytes.
 */
import { SimFlash } from "../../sim/hw/flash";
import { VirtualClock } from "../../sim/clock";
import { EventBus } from "../../firmware/events";
import { AccessControl } from "../../firmware/grants/access";
import { parseProvisioning } from "../../firmware/grants/provision";
import { checkFields, decodeGrant, encodeGrant, grantBody } from "../../firmware/grants/codec";
import { crc32 } from "../../firmware/store/crc32";
import { publicKeyIsValid } from "../../firmware/crypto/ed25519-ref";
import { keyIsSane } from "../../firmware/crypto/keycheck";
import { verify as slowVerify, prepareKey, clearKeyTables } from "../../firmware/crypto/ed25519";
import { VerifiedCache } from "../../firmware/crypto/verified-cache";
import { PreVerifier } from "../../firmware/preverify";
import { loadTables, keyTableFile, tableFile } from "../../firmware/keytables";
import { T0, testKey, mint, fields, memo } from "./helpers";

const verify = memo(slowVerify);
const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

/** Every encoding of a small-order point that decodes, and non-canonical encodings (y >= p). */
const SMALL_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];
const NON_CANONICAL = [
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1
  "0100000000000000000000000000000000000000000000000000000000000080", // x = 0 with the sign bit set
];

function rig() {
  const clock = new VirtualClock({ wallAtBoot: T0 + 60 });
  const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  const access = new AccessControl({ flash: new SimFlash(), clock, events, crc32, verify, boxId: "KB-000001", keyCheck: publicKeyIsValid });
  return { clock, events, access };
}

describe("keys that sign for everyone are refused wherever a key enters", () => {
  test("the checks themselves", () => {
    for (const h of SMALL_ORDER.concat(NON_CANONICAL)) {
      expect([h, keyIsSane(hex(h))]).toEqual([h, false]);
      expect([h, publicKeyIsValid(hex(h))]).toEqual([h, false]);
    }
    expect(keyIsSane(testKey(1).publicKey)).toBe(true);
    expect(publicKeyIsValid(testKey(1).publicKey)).toBe(true);
  });

  test("provisioning file and key set", () => {
    const r = rig();
    for (const h of SMALL_ORDER.concat(NON_CANONICAL)) {
      expect(parseProvisioning({ format: "keybox-provision/1", boxId: "KB-000001", keys: [{ id: 1, publicKey: h }] })).toBe("provision_public_key");
      expect(r.access.provisionKeys([{ id: 1, publicKey: hex(h) }])).toEqual({ ok: false, reason: "keys_invalid" });
    }
    expect(r.access.keyIds()).toEqual([]);
    // a y that is on no curve point at all: only the full check sees it
    const offCurve = hex("0200000000000000000000000000000000000000000000000000000000000000");
    expect(publicKeyIsValid(offCurve)).toBe(false);
    expect(r.access.provisionKeys([{ id: 1, publicKey: offCurve }])).toEqual({ ok: false, reason: "keys_invalid" });
  });

  test("the all-zero key cannot be trusted, so a forgery for it opens nothing", () => {
    const r = rig();
    expect(r.access.provisionKeys([{ id: 1, publicKey: new Uint8Array(32) }]).ok).toBe(false);
    // R = identity, S = 0: valid for the all-zero key under any message with a cofactorless check
    const f = fields({ keyId: 1 });
    const sig = new Uint8Array(64);
    sig[0] = 1;
    const forged = encodeGrant(f, sig);
    expect(r.access.present(forged, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "unknown_key" });
  });

  test("holder keys inside grants", () => {
    for (const h of SMALL_ORDER.concat(NON_CANONICAL)) {
      expect(checkFields(fields({ holder: hex(h) }))).toBe("holder");
      expect(() => grantBody(fields({ holder: hex(h) }))).toThrow("grant_holder");
      // a grant an issuer signed anyway is malformed before any cryptography
      const good = grantBody(fields({ holder: testKey(5).publicKey }));
      const body = good.slice();
      body.set(hex(h), body.length - 32);
      const bytes = new Uint8Array(body.length + 64);
      bytes.set(body, 0);
      expect(decodeGrant(bytes)).toEqual({ ok: false, reason: "grant_holder" });
    }
  });
});

describe("what is derived from a key is keyed by the key's bytes", () => {
  test("re-keying an id: a grant pre-verified under the old key is refused like one never pushed", () => {
    const r = rig();
    const oldKey = testKey(1);
    const newKey = testKey(1, 77); // same id 1, other bytes
    expect(r.access.provisionKeys([{ id: 1, publicKey: oldKey.publicKey }]).ok).toBe(true);
    const cache = new VerifiedCache({ capacity: 4 });
    const pre = new PreVerifier({
      cache,
      verify,
      boxId: "KB-000001",
      clock: r.clock,
      events: r.events,
      issuerKey: (id) => r.access.issuerKey(id),
      keyIds: () => r.access.keyIds(),
    });
    const pushed = mint(oldKey, { grantId: "00000000000000a1", uses: 5 });
    const notPushed = mint(oldKey, { grantId: "00000000000000a2", uses: 5 });
    expect(pre.push(pushed)).toBeUndefined();
    const access = new AccessControl({
      flash: new SimFlash(),
      clock: r.clock,
      events: r.events,
      crc32,
      verify: (s, m, p) => pre.verify(s, m, p),
      boxId: "KB-000001",
    });
    expect(access.provisionKeys([{ id: 1, publicKey: oldKey.publicKey }]).ok).toBe(true);
    expect(access.present(pushed, { action: "unlock", channel: "ble" }).ok).toBe(true);
    // the owner re-keys id 1 (both stores hear it; the cache sees the "keys" event)
    expect(r.access.provisionKeys([{ id: 1, publicKey: newKey.publicKey }]).ok).toBe(true);
    expect(access.provisionKeys([{ id: 1, publicKey: newKey.publicKey }]).ok).toBe(true);
    expect(access.present(notPushed, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(access.present(pushed, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "bad_signature" });
    // and even without the bookkeeping, a digest of the old key's bytes cannot match the new key
    const quiet = new VerifiedCache({ capacity: 4 });
    const pre2 = new PreVerifier({ cache: quiet, verify, boxId: "KB-000001", clock: r.clock, events: new EventBus({ now: () => ({ t: 0, m: 0 }) }), issuerKey: () => oldKey.publicKey, keyIds: () => [1] });
    expect(pre2.push(pushed)).toBeUndefined();
    const d = decodeGrant(pushed);
    if (!d.ok) throw new Error("decode");
    expect(pre2.verify(d.grant.signature, d.grant.signed, newKey.publicKey)).toBe(false);
    pre.close();
    pre2.close();
  });

  test("a verifier table left behind for a key id is not loaded once the id names other bytes", () => {
    const oldKey = testKey(3);
    const newKey = testKey(3, 99);
    const flash = new SimFlash({ capacity: 64 * 1024 });
    const t = tableFile(prepareKey(oldKey.publicKey, 5)!, crc32);
    expect(flash.create(keyTableFile(3), t.length)).toBe(true);
    expect(flash.writeAt(keyTableFile(3), 0, t)).toBe(true);
    expect(loadTables({ flash, crc32, keyIds: [3], keyOf: () => oldKey.publicKey }).keys).toBe(1);
    expect(loadTables({ flash, crc32, keyIds: [3], keyOf: () => newKey.publicKey }).keys).toBe(0);
    clearKeyTables();
  });
});
