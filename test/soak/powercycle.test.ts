/**
 * A power cycle is real in the simulator: the firmware instance that lost its
 * power is detached from the radio, the modem's wires and its timers, the
 * modem and the radio come back from a power-on reset, and only the new boot
 * runs. Driven as in the field: a phone opens the box every few minutes while
 * the modem is up and events flow to the owner's broker, and the power goes
 * in the middle of it.
 */
import { World } from "../../sim/soak/world";
import { Phone } from "../../sim/ble/phone";
import { MSG_UNLOCK } from "../../firmware/ble/protocol";
import { PERM_LOCK, PERM_UNLOCK, USES_UNLIMITED } from "../../firmware/grants/codec";
import { mint, testKey, T0 } from "../grants/helpers";

const BOX = "KB-CYCLE1";
const owner = testKey(21);
const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
const grant = mint(owner, { boxId: BOX, grantId: "00000000000c0c01", notBefore: T0, notAfter: T0 + 30 * 86400, perms: PERM_UNLOCK | PERM_LOCK, uses: USES_UNLIMITED });

function open(w: World): string | undefined {
  const phone = new Phone(w.box.ble, w.box.clock);
  if (!phone.connect(true)) return "no_radio";
  w.run(200);
  phone.send(MSG_UNLOCK, grant);
  w.run(1500);
  const r = phone.take().find((x) => x.type === "result") as { reason: string } | undefined;
  phone.drop();
  w.run(200);
  return r && r.reason;
}

describe("a power cycle while the modem is up and events are flowing", () => {
  it("detaches the dead firmware; afterwards events keep flowing, no sequence number is reused, nothing is logged twice", () => {
    // The link stays up a minute after each event, as this test needs it up when the power goes (the field default is 3 s).
    const w = new World({ boxId: BOX, config: { boxId: BOX, link: { idleMs: 60000, pollMs: 900000, pollMaxMs: 900000, batchMs: 300000 } }, provisioning, now: T0 + 3600, seed: 5 });
    try {
      const box = w.box;
      box.boot();
      expect(w.until(() => box.events.some((e) => e.type === "link" && e.reason === "up"), 120000)).toBe(true);
      for (let i = 0; i < 3; i++) {
        expect(open(w)).toBe("granted");
        w.run(60000);
      }
      // the power goes while the link is up and the last cycle's events are on their way
      expect(open(w)).toBe("granted");
      expect(box.cellular.socketIds().length).toBeGreaterThan(0);
      const dead = box.session!;
      const emittedBefore = box.events.length;
      box.powerCut();
      expect(dead.alive).toBe(false);
      expect(dead.attached).toBe(0);

      // off: the radio takes no phone, nothing moves, nothing is emitted or logged
      const drivesBefore = box.latch.log.length;
      const logsBefore = box.logs.length;
      w.run(1000);
      expect(open(w)).toBe("no_radio");
      box.motion.shake(3000, 2000);
      w.run(30000);
      expect(box.latch.log.length).toBe(drivesBefore);
      expect(box.events.length).toBe(emittedBefore);
      expect(box.logs.length).toBe(logsBefore);
      expect(box.cellular.power).toBe("off");

      box.reboot("power restored");
      expect(w.until(() => box.events.filter((e) => e.type === "link" && e.reason === "up").length >= 2, 300000)).toBe(true);
      for (let i = 0; i < 3; i++) {
        expect(open(w)).toBe("granted");
        w.run(60000);
      }
      w.run(600000);

      expect(w.faults).toEqual([]);
      // one boot line per boot: the dead instance printed nothing after its death
      expect(box.logs.filter((l) => / up, latch /.test(l)).length).toBe(2);
      const epochs = Array.from(w.owner.events.keys());
      expect(epochs.length).toBe(1);
      const got = w.owner.events.get(epochs[0])!;
      const seqs = Array.from(got.keys()).sort((a, b) => a - b);
      // every number once, none skipped, none carrying two different events
      expect(w.owner.altered).toEqual([]);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
      expect(seqs[0]).toBe(1);
      const owned = seqs.map((s) => got.get(s)!).map((e) => e.type + "/" + e.reason + "@" + e.m);
      const local = box.events.map((e) => e.type + "/" + e.reason + "@" + e.m);
      expect(owned).toEqual(local.slice(0, owned.length));
      // the events after the cut reached the owner: three more openings
      expect(owned.slice(emittedBefore).filter((x) => x.indexOf("access/granted") === 0).length).toBe(3);
      expect(owned.length).toBeGreaterThanOrEqual(local.length - 2);
    } finally {
      w.close();
    }
  }, 60000);
});

describe("a power cut inside a flash write", () => {
  it("takes effect at once: a firmware that swallows the exception finds its hardware gone and cannot publish what never reached flash", () => {
    const w = new World({ boxId: BOX, config: { boxId: BOX }, provisioning, now: T0 + 3600, seed: 6 });
    try {
      const box = w.box;
      const fw = box.boot();
      w.run(30_000);
      const cuts = box.powerLosses.length;
      box.codeArea.cutAfter(0);
      // as a catch block in the firmware would: the write fails and the code goes on
      let thrown: unknown;
      try {
        fw.access.revokeGrant("00000000000c0c02", T0 + 86400);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeDefined();
      expect(box.powered).toBe(false);
      expect(box.powerLosses.length).toBe(cuts + 1);
      // the dead boot's next touch of any part is refused
      expect(() => fw.access.revokeGrant("00000000000c0c03", T0 + 86400)).toThrow();
      const modemBytes = box.modem.sent.length;
      w.run(60_000);
      expect(box.modem.sent.length).toBe(modemBytes);
      box.codeArea.cutAfter(Infinity);
      box.reboot("power restored");
      w.run(30_000);
      expect(box.powered).toBe(true);
      expect(box.events.filter((e) => e.type === "boot").length).toBe(2);
    } finally {
      w.close();
    }
  });
});
