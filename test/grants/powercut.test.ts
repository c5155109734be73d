import nacl from "tweetnacl";
import { SimFlash, PowerLoss } from "../../sim/hw/flash";
import { VirtualClock } from "../../sim/clock";
import { EventBus } from "../../firmware/events";
import { AccessControl } from "../../firmware/grants/access";
import { crc32 } from "../../firmware/store/crc32";
import { encodeRevocation, revocationBody, revocationMessage, RevocationFields } from "../../firmware/grants/revocation";
import { T0, testKey, mint, firmwareVerify, memo, TestKey } from "./helpers";

const k1 = testKey(1);
const k2 = testKey(2);
const verify = memo(firmwareVerify);
const GEOMETRY = { segmentBytes: 160, maxSegments: 2 };

function boot(flash: SimFlash): AccessControl {
  const clock = new VirtualClock({ wallAtBoot: T0 + 60 });
  const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  return new AccessControl({ flash, clock, events, crc32, verify, boxId: "KB-000001", ...GEOMETRY });
}

function revocation(key: TestKey, f: Omit<RevocationFields, "signerKeyId" | "boxId">): Uint8Array {
  const full = { boxId: "KB-000001", signerKeyId: key.id, ...f };
  return encodeRevocation(full, nacl.sign.detached(revocationMessage(revocationBody(full)), key.secretKey));
}

const gA = mint(k1, { grantId: "aaaaaaaaaaaaaaaa", uses: 1 });
const gB = mint(k1, { grantId: "bbbbbbbbbbbbbbbb", uses: 3 });
const gC = mint(k2, { grantId: "cccccccccccccccc", uses: 255 });
const gD = mint(k2, { grantId: "dddddddddddddddd", uses: 4 });
const gE = mint(k2, { grantId: "eeeeeeeeeeeeeeee", uses: 1 });
const revC = revocation(k2, { grantId: "cccccccccccccccc", until: T0 + 3600 });
const revK1 = revocation(k2, { keyId: 1, until: 0 });
const unlock = { action: "unlock" as const, channel: "ble" };

/** What the firmware was told is durable. */
interface Ledger {
  keys: boolean;
  uses: Record<string, number>;
  revokedGrants: string[];
  revokedKeys: number[];
}

/** A realistic session: provisioning, deliveries, revocations, compactions. */
function session(ac: AccessControl, led: Ledger): void {
  const use = (g: Uint8Array, id: string) => {
    const r = ac.present(g, unlock);
    if (r.ok && r.usesLeft >= 0) led.uses[id] = (led.uses[id] || 0) + 1;
  };
  if (ac.provisionKeys([{ id: 1, publicKey: k1.publicKey }, { id: 2, publicKey: k2.publicKey }]).ok) led.keys = true;
  use(gA, "aaaaaaaaaaaaaaaa");
  use(gB, "bbbbbbbbbbbbbbbb");
  use(gB, "bbbbbbbbbbbbbbbb");
  use(gC, "cccccccccccccccc");
  if (ac.applyRevocation(revC).ok) led.revokedGrants.push("cccccccccccccccc");
  use(gA, "aaaaaaaaaaaaaaaa");
  use(gB, "bbbbbbbbbbbbbbbb");
  ac.maintain();
  use(gD, "dddddddddddddddd");
  if (ac.applyRevocation(revK1).ok) led.revokedKeys.push(1);
  use(gD, "dddddddddddddddd");
  use(gB, "bbbbbbbbbbbbbbbb");
  ac.maintain();
  use(gD, "dddddddddddddddd");
}

describe("power cut at every write point of a session", () => {
  test("the uncut session does what it should", () => {
    const flash = new SimFlash();
    const led: Ledger = { keys: false, uses: {}, revokedGrants: [], revokedKeys: [] };
    session(boot(flash), led);
    expect(led).toEqual({
      keys: true,
      uses: { aaaaaaaaaaaaaaaa: 1, bbbbbbbbbbbbbbbb: 3, dddddddddddddddd: 3 },
      revokedGrants: ["cccccccccccccccc"],
      revokedKeys: [1],
    });
    expect(flash.programmed).toBeGreaterThan(500);
  });

  test("no acknowledged use or revocation is lost and nothing older is corrupted", () => {
    let cut = 0;
    let points = 0;
    for (;;) {
      const flash = new SimFlash();
      const led: Ledger = { keys: false, uses: {}, revokedGrants: [], revokedKeys: [] };
      const ac = boot(flash);
      flash.cutAfter(cut);
      let died = false;
      try {
        session(ac, led);
      } catch (e) {
        if (!(e instanceof PowerLoss)) throw e;
        died = true;
      }
      if (!died) break;
      points++;
      flash.powerOn();
      // Power can fail again while the box recovers (it erases unfinished generations).
      flash.cutAfter(cut % 3);
      try {
        boot(flash);
      } catch (e) {
        if (!(e instanceof PowerLoss)) throw e;
      }
      flash.powerOn();
      const after = boot(flash);
      const ctx = `cut after ${cut} bytes`;
      if (led.keys) expect([ctx, after.keyIds().length]).toEqual([ctx, led.revokedKeys.length ? 2 : 2]);
      for (const id of Object.keys(led.uses)) {
        const n = after.usesOf(id);
        // Every acknowledged use is there; at most the one in flight was added.
        expect([ctx, id, n >= led.uses[id] && n <= led.uses[id] + 1]).toEqual([ctx, id, true]);
      }
      for (const id of ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "dddddddddddddddd"]) {
        expect([ctx, after.usesOf(id) <= (led.uses[id] || 0) + 1]).toEqual([ctx, true]);
      }
      if (led.uses["aaaaaaaaaaaaaaaa"]) expect([ctx, after.present(gA, unlock)]).toMatchObject([ctx, { ok: false }]);
      if (led.revokedGrants.length) expect([ctx, after.present(gC, unlock)]).toMatchObject([ctx, { ok: false, reason: "revoked" }]);
      if (led.revokedKeys.length) {
        expect([ctx, after.issuerKey(1)]).toEqual([ctx, undefined]);
        expect([ctx, after.present(gB, unlock)]).toMatchObject([ctx, { ok: false, reason: "revoked" }]);
      }
      // The store keeps working: a fresh grant opens once, and that sticks across another reboot.
      if (led.keys) {
        expect([ctx, after.present(gE, unlock).ok]).toEqual([ctx, true]);
        expect([ctx, boot(flash).present(gE, unlock)]).toMatchObject([ctx, { ok: false, reason: "used_up" }]);
      }
      cut++;
    }
    expect(points).toBeGreaterThan(500);
  });
});
