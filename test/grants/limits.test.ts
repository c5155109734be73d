/**
 * Issue 13 point 3: revocation never fails open; key revocations stay
 * bounded without forgetting one that matters; the use counters are sized
 * from the storage plan and only signed grants fill them.
 */
import { SimFlash } from "../../sim/hw/flash";
import { VirtualClock } from "../../sim/clock";
import { EventBus, BoxEvent } from "../../firmware/events";
import { AccessControl } from "../../firmware/grants/access";
import { crc32 } from "../../firmware/store/crc32";
import { GRANTS_JOURNAL } from "../../firmware/storage-plan";
import { MAX_GRANT_REVOCATIONS, MAX_KEYS, MAX_USE_COUNTERS, PRUNE_MARGIN_S, useCounterCapacity } from "../../firmware/grants/store";
import { T0, testKey, mint, nodeStrict } from "./helpers";

const k1 = testKey(1);
const k2 = testKey(2);

function rig(flash = new SimFlash(), wall = T0 + 60, verify = nodeStrict) {
  const clock = new VirtualClock({ wallAtBoot: wall });
  const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  const log: BoxEvent[] = [];
  events.on((e) => log.push(e));
  const ac = new AccessControl({ flash, clock, events, crc32, verify, boxId: "KB-000001" });
  return { flash, clock, log, ac };
}
const id = (base: number, i: number) => (base + i).toString(16).padStart(16, "0");
const unlock = { action: "unlock" as const, channel: "ble" };

describe("a full list of revoked grant ids still refuses every revoked grant", () => {
  test("the 49th live revocation is applied and its grant refused, after a reboot too", () => {
    const r = rig();
    r.ac.provisionKeys([{ id: 1, publicKey: k1.publicKey }]);
    for (let i = 0; i < MAX_GRANT_REVOCATIONS; i++) expect(r.ac.revokeGrant(id(0x2000000, i), T0 + 3600 + i)).toEqual({ ok: true });
    const target = mint(k1, { grantId: id(0x2000000, 999), notAfter: T0 + 7 * 86400 });
    expect(r.ac.present(target, unlock).ok).toBe(true);
    expect(r.ac.revokeGrant(id(0x2000000, 999), T0 + 7 * 86400)).toEqual({ ok: true });
    expect(r.ac.present(target, unlock)).toMatchObject({ ok: false, reason: "revoked" });
    // the earliest revocation went into the watermark: its grant stays refused
    const first = mint(k1, { grantId: id(0x2000000, 0), notAfter: T0 + 3600 });
    expect(r.ac.present(first, unlock)).toMatchObject({ ok: false, reason: "revoked" });
    // so is an unrevoked grant that ends before it (over-revoking, never under-)
    expect(r.ac.present(mint(k1, { grantId: id(0x3000000, 1), notAfter: T0 + 1800 }), unlock)).toMatchObject({ reason: "revoked" });
    // a grant that ends later is untouched
    expect(r.ac.present(mint(k1, { grantId: id(0x3000000, 2), notAfter: T0 + 7200 }), unlock).ok).toBe(true);
    const b = rig(r.flash);
    for (const g of [target, first]) expect(b.ac.present(g, unlock)).toMatchObject({ ok: false, reason: "revoked" });
  });

  test("a hundred revocations in a row: every one refused, and the watermark is forgotten once its grants are long expired", () => {
    const r = rig();
    r.ac.provisionKeys([{ id: 1, publicKey: k1.publicKey }]);
    for (let i = 0; i < 100; i++) expect(r.ac.revokeGrant(id(0x4000000, i), T0 + 3600 + 60 * i)).toEqual({ ok: true });
    for (let i = 0; i < 100; i += 9) {
      expect(r.ac.present(mint(k1, { grantId: id(0x4000000, i), notAfter: T0 + 3600 + 60 * i }), unlock)).toMatchObject({ reason: "revoked" });
    }
    r.clock.setWall(T0 + 3600 + 60 * 100 + PRUNE_MARGIN_S + 1);
    expect(r.ac.maintain()).toBe(true);
    const later = mint(k1, { grantId: id(0x5000000, 1), notBefore: T0 + 2 * 86400, notAfter: T0 + 4 * 86400 });
    expect(r.ac.present(later, unlock).ok).toBe(true);
  });
});

describe("key revocations are bounded and kept while they matter", () => {
  test("seventeen key revocations over the box's life, each refusing its key, none refused for room", () => {
    const r = rig();
    for (let round = 0; round < 17; round++) {
      const old = testKey(1, 100 + round);
      const next = testKey(1, 101 + round);
      expect(r.ac.provisionKeys([{ id: 1, publicKey: old.publicKey }, { id: 2, publicKey: k2.publicKey }]).ok).toBe(true);
      expect(r.ac.revokeKey(1)).toEqual({ ok: true });
      const g = mint(old, { grantId: id(0x6000000, round) });
      expect(r.ac.present(g, unlock)).toMatchObject({ ok: false, reason: "revoked" });
      // the provisioning file is applied again at every boot: the revoked key stays revoked
      expect(rig(r.flash).ac.present(g, unlock)).toMatchObject({ ok: false, reason: "revoked" });
      // the owner rotates id 1 to a new key: that key is trusted
      expect(r.ac.provisionKeys([{ id: 1, publicKey: next.publicKey }, { id: 2, publicKey: k2.publicKey }]).ok).toBe(true);
      expect(r.ac.present(mint(next, { grantId: id(0x7000000, round) }), unlock).ok).toBe(true);
    }
    expect(MAX_KEYS).toBe(8);
  });
});

describe("use counters", () => {
  test("sized from the storage plan", () => {
    expect(MAX_USE_COUNTERS).toBe(useCounterCapacity(GRANTS_JOURNAL));
    expect(MAX_USE_COUNTERS).toBeGreaterThan(48);
  });

  test("every live limited grant the plan holds opens; beyond it, refused, never unrecorded; expiry prunes", () => {
    const r = rig();
    r.ac.provisionKeys([{ id: 1, publicKey: k1.publicKey }]);
    for (let i = 0; i < MAX_USE_COUNTERS; i++) expect(r.ac.present(mint(k1, { grantId: id(0x1000000, i), notAfter: T0 + 3600 }), unlock).ok).toBe(true);
    const late = mint(k1, { grantId: id(0x1000000, 999), notAfter: T0 + 30 * 86400 });
    expect(r.ac.present(late, unlock)).toMatchObject({ ok: false, reason: "counters_full" });
    r.clock.setWall(T0 + 3600 + PRUNE_MARGIN_S - 10);
    expect(r.ac.present(late, unlock)).toMatchObject({ reason: "counters_full" });
    r.clock.setWall(T0 + 3600 + PRUNE_MARGIN_S + 10);
    expect(r.ac.present(late, unlock).ok).toBe(true);
    const again = rig(r.flash, T0 + 3600 + PRUNE_MARGIN_S + 20);
    expect(again.ac.usesOf(id(0x1000000, 999))).toBe(1);
    expect(again.ac.usesOf(id(0x1000000, 0))).toBe(0);
  });

  test("only signed grants fill them: a stranger's forgeries write nothing", () => {
    const r = rig();
    r.ac.provisionKeys([{ id: 1, publicKey: k1.publicKey }]);
    const stranger = testKey(9);
    for (let i = 0; i < MAX_USE_COUNTERS + 8; i++) {
      const forged = mint(stranger, { keyId: 1, grantId: id(0x8000000, i), notAfter: T0 + 3600 });
      expect(r.ac.present(forged, unlock)).toMatchObject({ ok: false, reason: "bad_signature" });
    }
    expect(r.ac.present(mint(k1, { grantId: id(0x8000000, 1), notAfter: T0 + 3600 }), unlock).ok).toBe(true);
    for (let i = 0; i < MAX_USE_COUNTERS + 8; i++) expect(r.ac.usesOf(id(0x8000000, i))).toBe(i === 1 ? 1 : 0);
  });
});
