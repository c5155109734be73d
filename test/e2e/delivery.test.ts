/**
 * Whole-box stories: the owner provisions an issuer key, mints grants with
 * tweetnacl, and a driver's phone presents them over the simulated radio.
 * Everything between the phone's bytes and the bolt is the real firmware.
 */
import { SimBox } from "../../sim/box";
import { Phone } from "../ble/helpers";
import { MSG_LOCK, MSG_STATE, MSG_UNLOCK, Response } from "../../firmware/ble/protocol";
import { PERM_LOCK, PERM_UNLOCK } from "../../firmware/grants/codec";
import { mint, malleate, testKey, T0 } from "../grants/helpers";

const BOX = "KB-E2E001";
const owner = testKey(7);
const stranger = testKey(9);

function provisioning(keys = [owner]): string {
  return JSON.stringify({
    format: "keybox-provision/1",
    boxId: BOX,
    keys: keys.map((k) => ({ id: k.id, publicKey: Buffer.from(k.publicKey).toString("hex") })),
  });
}

function grant(over: { grantId?: string; uses?: number; keyId?: number; notAfter?: number } = {}, key = owner) {
  return mint(key, { boxId: BOX, grantId: "00000000000000a1", notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK | PERM_LOCK, uses: 1, ...over });
}

function newBox(): SimBox {
  const box = new SimBox({ config: { boxId: BOX }, provisioning: provisioning(), now: T0 + 3600 });
  box.boot();
  box.run(30_000); // the modem boots, registers and gives the network time: grants need a known clock
  expect(box.events.some((e) => e.type === "time")).toBe(true);
  return box;
}

/** Connects an encrypted phone, presents a grant, and returns the decision's reason code. */
function present(box: SimBox, g: Uint8Array | undefined, type = MSG_UNLOCK, encrypted = true): { reason: string | undefined; phone: Phone; all: Response[] } {
  const phone = new Phone(box.ble, box.clock);
  expect(phone.connect(encrypted)).toBe(true);
  box.run(100);
  phone.send(type, g);
  box.run(500);
  const all = phone.take();
  const result = all.find((r) => r.type === "result") as { reason: string } | undefined;
  const error = all.find((r) => r.type === "error") as { code: string } | undefined;
  return { reason: result ? result.reason : error ? error.code : undefined, phone, all };
}

function hangUp(box: SimBox, phone: Phone): void {
  phone.drop();
  box.run(100);
}

describe("a delivery, end to end", () => {
  it("a minted grant opens the box once; the driver takes and returns the key; the box relocks", () => {
    const box = newBox();
    expect(box.firmware!.status().keys).toBe(1);
    const g = grant();
    const { reason, phone } = present(box, g);
    expect(reason).toBe("granted");
    box.run(3000);
    const progress = phone.take().filter((r) => r.type === "progress").map((r) => (r as { state: string }).state);
    expect(progress).toContain("open");
    expect(box.firmware!.status().latch).toBe("open");
    hangUp(box, phone);

    expect(box.person.openLid()).toBe(true);
    box.run(500);
    box.person.takeKey();
    box.run(5000);
    box.person.returnKey();
    box.run(500);
    expect(box.person.closeLid()).toBe(true);
    box.run(5000);
    expect(box.firmware!.status().latch).toBe("locked");
    expect(box.latch.where()).toBeGreaterThanOrEqual(0.95);

    const story = box.events.map((e) => e.type + ":" + e.reason);
    const order = ["latch:unlocking", "access:granted", "latch:open", "lid:opened", "key:removed", "key:returned", "lid:closed", "latch:locking", "latch:locked"];
    let at = -1;
    for (const step of order) {
      const i = story.indexOf(step, at + 1);
      expect({ step, found: i > at }).toEqual({ step, found: true });
      at = i;
    }
    expect(box.events.filter((e) => e.type === "tamper")).toEqual([]);
    expect(box.latch.longestDriveMs()).toBeLessThanOrEqual(1500);
    expect(box.latch.shootThroughs).toBe(0);

    const again = present(box, g);
    expect(again.reason).toBe("used_up");
    expect(box.firmware!.status().latch).toBe("locked");
    box.close();
  });

  it("a replay, an edited copy, a stranger's grant and another box's grant are refused with their reasons", () => {
    const box = newBox();
    const g = grant({ grantId: "00000000000000b2" });
    let r = present(box, malleate(g));
    expect(r.reason).toBe("bad_signature");
    hangUp(box, r.phone);
    box.run(5000);
    const flipped = g.slice();
    flipped[10] ^= 1;
    r = present(box, flipped);
    // the last byte of the box id: refused before any cryptography since the box id is a cheap check
    expect(["bad_signature", "malformed", "wrong_box"]).toContain(r.reason);
    hangUp(box, r.phone);
    box.run(10000);
    r = present(box, grant({ grantId: "00000000000000b3" }, stranger));
    expect(r.reason).toBe("unknown_key");
    hangUp(box, r.phone);
    box.run(20000);
    r = present(box, mint(owner, { boxId: "KB-OTHER", grantId: "00000000000000b4", notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK, uses: 1 }));
    expect(r.reason).toBe("wrong_box");
    hangUp(box, r.phone);
    expect(box.latch.log.filter((d) => d.direction === "open")).toEqual([]);
    const refusals = box.events.filter((e) => e.type === "access" && e.reason !== "granted").map((e) => e.reason);
    expect(refusals).toEqual(expect.arrayContaining(["bad_signature", "unknown_key", "wrong_box"]));
    box.close();
  });

  it("a revoked grant is refused, also after a reboot", () => {
    const box = newBox();
    const g = grant({ grantId: "00000000000000c5", uses: 5 });
    expect(box.firmware!.access.revokeGrant("00000000000000c5", T0 + 86400)).toEqual({ ok: true });
    let r = present(box, g);
    expect(r.reason).toBe("revoked");
    hangUp(box, r.phone);
    box.reboot();
    box.run(3000);
    r = present(box, g);
    expect(r.reason).toBe("revoked");
    expect(box.latch.log.filter((d) => d.direction === "open")).toEqual([]);
    box.close();
  });

  it("a single-use grant never opens twice, even when the power is cut right after it was accepted", () => {
    const box = newBox();
    const g = grant({ grantId: "00000000000000d6" });
    const phone = new Phone(box.ble, box.clock);
    phone.connect(true);
    box.run(100);
    phone.send(MSG_UNLOCK, g);
    box.run(60);
    box.powerCut();
    box.run(1000);
    box.reboot();
    box.run(3000);
    const r = present(box, g);
    expect(r.reason).toBe("used_up");
    box.close();
  });

  it("a power cut after the use was spent but before the bolt moved gives the use back at the next boot: the retry opens, once", () => {
    const box = newBox();
    const g = grant({ grantId: "00000000000000d7" });
    const phone = new Phone(box.ble, box.clock);
    phone.connect(true);
    box.run(100);
    phone.send(MSG_UNLOCK, g);
    // the power goes the moment the motor starts: the use is on flash, the bolt has not moved
    for (let i = 0; i < 2000 && !box.events.some((e) => e.type === "latch" && e.reason === "unlocking"); i++) box.run(1);
    expect(box.events.some((e) => e.type === "latch" && e.reason === "unlocking")).toBe(true);
    box.powerCut();
    expect(box.latch.bolt.read()).toBe(true);
    box.run(1000);
    box.reboot();
    box.run(3000);
    expect(box.events.filter((e) => e.type === "access" && e.reason === "use_refunded").map((e) => e.d)).toEqual([{ g: "00000000000000d7", why: "reset", n: 0 }]);
    const r = present(box, g);
    expect(r.reason).toBe("granted");
    hangUp(box, r.phone);
    box.run(60_000);
    // and it was a single use: spent now for good
    box.reboot();
    box.run(3000);
    expect(present(box, g).reason).toBe("used_up");
    box.close();
  });

  it("refuses requests on an unencrypted link, and reads state without a grant", () => {
    const box = newBox();
    const r = present(box, grant({ grantId: "00000000000000e7" }), MSG_UNLOCK, false);
    expect(r.reason).toBe("link_unencrypted");
    hangUp(box, r.phone);
    const s = present(box, undefined, MSG_STATE);
    // a passer-by learns the box id and whether it can take a request, not whether it is open or holds the key
    const state = s.all.find((x) => x.type === "state") as unknown as { state: { [k: string]: unknown } };
    expect(state.state).toEqual({ box: BOX, ready: true });
    expect(box.latch.log.filter((d) => d.direction === "open")).toEqual([]);
    box.close();
  });

  it("a lock grant relocks an open box; nothing moves the latch without one", () => {
    const box = newBox();
    const g = grant({ grantId: "00000000000000f8", uses: 3 });
    let r = present(box, g);
    expect(r.reason).toBe("granted");
    box.run(3000);
    hangUp(box, r.phone);
    expect(box.firmware!.status().latch).toBe("open");
    r = present(box, g, MSG_LOCK);
    expect(r.reason).toBe("granted");
    box.run(3000);
    expect(box.firmware!.status().latch).toBe("locked");
    box.close();
  });
});

describe("with the verifier's tables installed at provisioning", () => {
  function tabledBox(corruptKeyTable = false): SimBox {
    const box = new SimBox({ config: { boxId: BOX }, provisioning: provisioning(), now: T0 + 3600, flashCapacity: 160 * 1024, tables: true });
    if (corruptKeyTable) {
      const file = box.flash.read("edK" + owner.id)!.slice(); // a copy: install erases the file under the view
      file[100] ^= 0xff;
      box.install("edK" + owner.id, file);
    }
    box.boot();
    box.run(30_000);
    return box;
  }

  it("takes the fast path, as strict as ever: a good grant opens, a forged copy does not", () => {
    const box = tabledBox();
    expect(box.events.find((e) => e.type === "boot")!.d!.tables).toBe(2);
    const g = grant({ grantId: "0000000000000f01" });
    let r = present(box, malleate(grant({ grantId: "0000000000000f02" })));
    expect(r.reason).toBe("bad_signature");
    hangUp(box, r.phone);
    box.run(5000);
    r = present(box, g);
    expect(r.reason).toBe("granted");
    box.close();
  });

  it("ignores a torn or corrupted table file and verifies on the plain path", () => {
    const box = tabledBox(true);
    expect(box.events.find((e) => e.type === "boot")!.d!.tables).toBe(1);
    expect(present(box, grant({ grantId: "0000000000000f03" })).reason).toBe("granted");
    box.close();
  });
});
