import nacl from "tweetnacl";
import { SimFlash } from "../../sim/hw/flash";
import { VirtualClock } from "../../sim/clock";
import { EventBus, BoxEvent } from "../../firmware/events";
import { AccessControl, AccessOptions } from "../../firmware/grants/access";
import { GrantStore } from "../../firmware/grants/store";
import { crc32 } from "../../firmware/store/crc32";
import { encodeRevocation, revocationBody, revocationMessage, RevocationFields } from "../../firmware/grants/revocation";
import { decodeGrant } from "../../firmware/grants/codec";
import { T0, testKey, mint, firmwareVerify, nodeStrict, memo, malleate, TestKey, holderProof } from "./helpers";

const k1 = testKey(1);
const k2 = testKey(2);
const verify = memo(firmwareVerify);

function rig(flash = new SimFlash(), wall = T0 + 60, over: Partial<AccessOptions> = {}) {
  const clock = new VirtualClock({ wallAtBoot: wall });
  const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  const log: BoxEvent[] = [];
  events.on((e) => log.push(e));
  const ac = new AccessControl({ flash, clock, events, crc32, verify, boxId: "KB-000001", ...over });
  return { flash, clock, events, log, ac };
}

function revocation(key: TestKey, f: Omit<RevocationFields, "signerKeyId" | "boxId"> & { boxId?: string }): Uint8Array {
  const full = { boxId: "KB-000001", signerKeyId: key.id, ...f };
  return encodeRevocation(full, nacl.sign.detached(revocationMessage(revocationBody(full)), key.secretKey));
}

const keys = [
  { id: 1, publicKey: k1.publicKey },
  { id: 2, publicKey: k2.publicKey },
];

describe("AccessControl", () => {
  test("a grant opens once; a replay, an edited copy and a re-encoding are refused; every decision is an event", () => {
    const r = rig();
    expect(r.ac.provisionKeys(keys)).toEqual({ ok: true });
    const g = mint(k1, { uses: 1 });
    const first = r.ac.present(g, { action: "unlock", channel: "ble" });
    expect(first).toEqual({ ok: true, grantId: "0123456789abcdef", keyId: 1, perms: 3, usesLeft: 0, notAfter: T0 + 3600 });
    expect(r.ac.present(g, { action: "unlock", channel: "ble" })).toEqual({ ok: false, reason: "used_up", grantId: "0123456789abcdef" });
    const edited = g.slice();
    edited[24] ^= 0x01; // not-before, low byte
    expect(r.ac.present(edited, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(r.ac.present(malleate(g), { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "bad_signature" });
    // Locking is still allowed with the spent grant.
    expect(r.ac.present(g, { action: "lock", channel: "ble" }).ok).toBe(true);
    const access = r.log.filter((e) => e.type === "access");
    expect(access.map((e) => e.reason)).toEqual(["granted", "used_up", "bad_signature", "bad_signature", "granted"]);
    expect(access[0]).toMatchObject({ t: T0 + 60, d: { ch: "ble", act: "unlock", g: "0123456789abcdef", k: 1, ok: true, n: 1 } });
    expect(access[1].d).toMatchObject({ ok: false, n: 1 });
    expect(r.log.filter((e) => e.type === "grants").map((e) => e.reason)).toEqual(["keys"]);
  });

  test("N-use and unlimited grants", () => {
    const r = rig();
    r.ac.provisionKeys(keys);
    const three = mint(k2, { grantId: "1111111111111111", uses: 3 });
    const left = [0, 1, 2].map(() => {
      const x = r.ac.present(three, { action: "unlock", channel: "ble" });
      return x.ok ? x.usesLeft : -9;
    });
    expect(left).toEqual([2, 1, 0]);
    expect(r.ac.present(three, { action: "unlock", channel: "ble" })).toMatchObject({ reason: "used_up" });
    const free = mint(k2, { grantId: "2222222222222222", uses: 255 });
    for (let i = 0; i < 5; i++) expect(r.ac.present(free, { action: "unlock", channel: "mqtt" })).toMatchObject({ ok: true, usesLeft: -1 });
    expect(r.ac.usesOf("2222222222222222")).toBe(0);
  });

  test("use counts and revocations survive a reboot", () => {
    const flash = new SimFlash();
    const a = rig(flash);
    a.ac.provisionKeys(keys);
    const g = mint(k1);
    const h = mint(k1, { grantId: "3333333333333333", uses: 5 });
    expect(a.ac.present(g, { action: "unlock", channel: "ble" }).ok).toBe(true);
    expect(a.ac.revokeGrant("3333333333333333", T0 + 3600)).toEqual({ ok: true });
    a.ac.close();
    a.ac.close();
    const b = rig(flash);
    expect(b.ac.keyIds()).toEqual([1, 2]);
    expect(b.ac.present(g, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "used_up" });
    expect(b.ac.present(h, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "revoked" });
  });

  test("signed revocations: by grant, by key; forged, foreign and replayed ones", () => {
    const r = rig();
    r.ac.provisionKeys(keys);
    const g = mint(k1, { grantId: "4444444444444444", uses: 255 });
    expect(r.ac.present(g, { action: "unlock", channel: "ble" }).ok).toBe(true);
    const rev = revocation(k2, { grantId: "4444444444444444", until: T0 + 3600 });
    const forged = rev.slice();
    forged[19] ^= 1; // the last byte of the grant id
    expect(r.ac.applyRevocation(forged)).toEqual({ ok: false, reason: "bad_signature" });
    expect(r.ac.applyRevocation(revocation(testKey(9), { grantId: "4444444444444444", until: T0 + 3600 }))).toEqual({ ok: false, reason: "unknown_key" });
    expect(r.ac.applyRevocation(revocation(k2, { boxId: "KB-000002", grantId: "4444444444444444", until: T0 + 3600 }))).toEqual({ ok: false, reason: "wrong_box" });
    expect(r.ac.applyRevocation(new Uint8Array(10))).toEqual({ ok: false, reason: "malformed" });
    expect(r.ac.present(g, { action: "unlock", channel: "ble" }).ok).toBe(true);
    expect(r.ac.applyRevocation(rev)).toEqual({ ok: true });
    const written = r.flash.programmed;
    expect(r.ac.applyRevocation(rev)).toEqual({ ok: true });
    expect(r.flash.programmed).toBe(written);
    expect(r.ac.present(g, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "revoked" });
    // Key 2 revokes key 1: its grants are refused and it can no longer sign anything.
    expect(r.ac.applyRevocation(revocation(k2, { keyId: 1, until: 0 }))).toEqual({ ok: true });
    expect(r.ac.issuerKey(1)).toBeUndefined();
    expect(r.ac.issuerKey(2)).toEqual(k2.publicKey);
    expect(r.ac.present(mint(k1, { grantId: "5555555555555555" }), { action: "unlock", channel: "ble" })).toMatchObject({ reason: "revoked" });
    expect(r.ac.applyRevocation(revocation(k1, { keyId: 2, until: 0 }))).toEqual({ ok: false, reason: "revoked" });
    const kinds = r.log.filter((e) => e.type === "grants").map((e) => e.reason);
    expect(kinds).toEqual(["keys", "bad_signature", "unknown_key", "wrong_box", "malformed", "revoked_grant", "revoked_grant", "revoked_key", "revoked"]);
  });

  test("provisioning is idempotent and rotation drops old keys", () => {
    const r = rig();
    r.ac.provisionKeys(keys);
    const written = r.flash.programmed;
    expect(r.ac.provisionKeys(keys)).toEqual({ ok: true });
    expect(r.flash.programmed).toBe(written);
    const k3 = testKey(3);
    expect(r.ac.provisionKeys([{ id: 2, publicKey: k2.publicKey }, { id: 3, publicKey: k3.publicKey }])).toEqual({ ok: true });
    expect(r.ac.present(mint(k1), { action: "unlock", channel: "ble" })).toMatchObject({ reason: "unknown_key" });
    expect(r.ac.present(mint(k3, { grantId: "6666666666666666" }), { action: "unlock", channel: "ble" }).ok).toBe(true);
    expect(r.ac.provisionKeys([{ id: 0, publicKey: k2.publicKey }])).toEqual({ ok: false, reason: "keys_invalid" });
    expect(rig(r.flash).ac.keyIds()).toEqual([2, 3]);
  });

  test("an empty store trusts nobody", () => {
    const r = rig();
    expect(r.ac.present(mint(k1), { action: "unlock", channel: "ble" })).toMatchObject({ reason: "unknown_key" });
  });

  test("the default clock policy: an unset RTC refuses with clock_unknown", () => {
    const r = rig(new SimFlash(), 0);
    r.ac.provisionKeys(keys);
    expect(r.ac.present(mint(k1), { action: "unlock", channel: "ble" })).toMatchObject({ reason: "clock_unknown" });
    r.clock.setWall(T0 + 10);
    expect(r.ac.present(mint(k1), { action: "unlock", channel: "ble" }).ok).toBe(true);
    const s = rig(new SimFlash(), T0 + 10, { clockState: () => ({ known: false, now: T0 + 10 }) });
    s.ac.provisionKeys(keys);
    expect(s.ac.present(mint(k1), { action: "unlock", channel: "ble" })).toMatchObject({ reason: "clock_unknown" });
  });

  test("holder-bound grants through the service", () => {
    const r = rig();
    r.ac.provisionKeys(keys);
    const holder = testKey(50);
    const g = mint(k1, { holder: holder.publicKey });
    expect(r.ac.present(g, { action: "unlock", channel: "ble" })).toMatchObject({ reason: "holder_mismatch" });
    const ch = new Uint8Array(16).fill(1);
    expect(r.ac.present(g, { action: "unlock", channel: "ble", holder: holderProof(holder, "KB-000001", "0123456789abcdef", ch) }).ok).toBe(true);
  });

  test("a full journal compacts itself and keeps every count", () => {
    const r = rig(new SimFlash(), T0 + 60, { segmentBytes: 256, maxSegments: 2 });
    r.ac.provisionKeys(keys);
    const g = mint(k1, { grantId: "7777777777777777", uses: 200 });
    for (let i = 0; i < 60; i++) expect(r.ac.present(g, { action: "unlock", channel: "ble" }).ok).toBe(true);
    expect(rig(r.flash, T0 + 60, { segmentBytes: 256, maxSegments: 2 }).ac.usesOf("7777777777777777")).toBe(60);
    expect(r.flash.list("grants~").length).toBeLessThanOrEqual(2);
  });

  test("bad options are refused before anything is allocated", () => {
    const flash = new SimFlash();
    expect(() => rig(flash, T0, { boxId: "bad id" })).toThrow("access_box_id");
    expect(() => rig(flash, T0, { verify: undefined as never })).toThrow("access_options");
    expect(flash.list("")).toEqual([]);
  });
});

describe("the pending use (GrantStore DONE)", () => {
  const gid = "00000000000000aa";
  const open = (flash: SimFlash) => new GrantStore({ flash, crc32, segmentBytes: 512, maxSegments: 2 });

  test("a use recorded with the id's bytes from the grant replays under its hex id, as one recorded from the hex", () => {
    const flash = new SimFlash();
    const g = decodeGrant(mint(testKey(1), { grantId: "fe01a0b0c0d0e0f9" }));
    if (!g.ok) throw new Error(g.reason);
    expect(Array.from(g.grant.idBytes!)).toEqual([0xfe, 0x01, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf9]);
    const s = open(flash);
    expect(s.recordUse(g.grant.grantId, 1, T0 + 86400, undefined, g.grant.idBytes)).toBeUndefined();
    expect(s.recordUse("0000000000000001", 1, T0 + 86400)).toBeUndefined();
    const again = open(flash);
    expect(again.usesOf("fe01a0b0c0d0e0f9")).toBe(1);
    expect(again.usesOf("0000000000000001")).toBe(1);
    expect(again.pendingUse()).toEqual({ grantId: "0000000000000001", n: 1 });
  });

  test("a use is pending from its spend until the box opened or it was given back, across reboots and compactions", () => {
    const flash = new SimFlash();
    let s = open(flash);
    expect(s.pendingUse()).toBeUndefined();
    expect(s.recordUse(gid, 1, T0 + 86400)).toBeUndefined();
    expect(s.pendingUse()).toEqual({ grantId: gid, n: 1 });
    s = open(flash);
    expect(s.pendingUse()).toEqual({ grantId: gid, n: 1 });
    // a compaction keeps it pending, and keeps settled counts settled
    expect(s.recordUse("00000000000000bb", 1, T0 + 86400)).toBeUndefined();
    expect(s.settleUse("00000000000000bb", 1)).toBeUndefined();
    expect(s.compact()).toBe(true);
    s = open(flash);
    expect(s.pendingUse()).toBeUndefined(); // bb was the last spent, and it was settled
    expect(s.usesOf("00000000000000bb")).toBe(1);
    expect(s.recordUse(gid, 2, T0 + 86400)).toBeUndefined();
    expect(s.compact()).toBe(true);
    s = open(flash);
    expect(s.pendingUse()).toEqual({ grantId: gid, n: 2 });
    // given back: no longer pending, and the count is one less
    expect(s.refundUse(gid, 1)).toBeUndefined();
    expect(s.pendingUse()).toBeUndefined();
    s = open(flash);
    expect(s.pendingUse()).toBeUndefined();
    expect(s.usesOf(gid)).toBe(1);
    // a DONE for another count settles nothing
    expect(s.recordUse(gid, 2, T0 + 86400)).toBeUndefined();
    expect(s.settleUse(gid, 1)).toBeUndefined();
    expect(s.pendingUse()).toEqual({ grantId: gid, n: 2 });
    expect(s.settleUse(gid, 2)).toBeUndefined();
    expect(open(flash).pendingUse()).toBeUndefined();
  });
});

describe("pruning between rewrites", () => {
  test("expired use counts and revocations leave RAM at once, without a write; the journal keeps them until it is rewritten", () => {
    const flash = new SimFlash();
    const s = new GrantStore({ flash, crc32, segmentBytes: 4032, maxSegments: 2 });
    for (let i = 0; i < 10; i++) expect(s.recordUse((0x100 + i).toString(16).padStart(16, "0"), 1, T0 + i * 86400)).toBeUndefined();
    expect(s.revokeGrant("00000000000000ff", T0)).toBeUndefined();
    // no grant has the all-zero id (the codec refuses it): there is nothing to revoke
    expect(s.revokeGrant("0000000000000000", T0)).toBe("revocation_invalid");
    const written = flash.programmed;
    // a week on: counts and revocations more than two days past their time go
    const now = T0 + 7 * 86400;
    expect(s.forgetExpired(now)).toBe(1 + 5);
    expect(flash.programmed).toBe(written);
    expect(s.usesOf("0000000000000100")).toBe(0);
    expect(s.usesOf("0000000000000109")).toBe(1);
    expect(s.hasExpired(now)).toBe(false);
    // a reboot replays them, until the next pruning
    const again = new GrantStore({ flash, crc32, segmentBytes: 4032, maxSegments: 2 });
    expect(again.usesOf("0000000000000100")).toBe(1);
    expect(again.forgetExpired(now)).toBe(6);
    // the pending use stays, whatever its time
    expect(again.recordUse("00000000000000aa", 1, T0)).toBeUndefined();
    expect(again.forgetExpired(now)).toBe(0);
    expect(again.pendingUse()).toEqual({ grantId: "00000000000000aa", n: 1 });
  });
});
