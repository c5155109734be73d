/**
 * The firmware asks the BG96 for PSM and eDRX as configured, and the
 * emulator honours what was asked: PSM after the requested active time once
 * the network released the radio, periodic TAUs while in PSM, and data for
 * the box waiting for the next eDRX paging occasion while the radio is idle.
 */
import nacl from "tweetnacl";
import { SimBox } from "../../sim/box";
import { ConfigInput } from "../../firmware/config";
import { VirtualBroker } from "../../sim/energy/broker";
import { makeCommand, signCommand } from "../../sim/owner/sign";
import { topicsFor } from "../../firmware/uplink/topics";

const BOX = "KB-PSM001";
const issuer = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(3));

function boxWith(config: ConfigInput): { box: SimBox; broker: VirtualBroker } {
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: 1, publicKey: Buffer.from(issuer.publicKey).toString("hex") }] });
  const box = new SimBox({ config: Object.assign({ boxId: BOX }, config), broker: { host: "127.0.0.1", port: 1883 }, provisioning, now: 1780272000 });
  const broker = new VirtualBroker({ clock: box.clock });
  box.cellular.useSockets(() => broker.socket());
  box.boot();
  return { box, broker };
}

function command(box: SimBox, broker: VirtualBroker): void {
  const arg = new Uint8Array(12).fill(0xab);
  const t = Math.floor(box.clock.wall());
  arg.set([(t >>> 24) & 255, (t >>> 16) & 255, (t >>> 8) & 255, t & 255], 8);
  const c = makeCommand({ kind: "revoke", keyId: 1, boxId: BOX, arg, now: t, ttlS: 3600 });
  broker.publish("kb-" + BOX, topicsFor(BOX).cmd, signCommand(c, issuer.secretKey));
}

describe("PSM and eDRX, asked by the firmware and honoured by the emulator", () => {
  it("requests the configured periodic TAU, active time and eDRX cycle at every modem start", () => {
    const { box } = boxWith({});
    box.run(60_000);
    // Defaults: T3412 = 24 x 1 h (unit 001, value 11000), T3324 = 2 x 2 s (unit 000, value 00010), eDRX 20.48 s (value 0010, WB-S1).
    expect(box.cellular.commands).toContain('AT+CPSMS=1,,,"00111000","00000010"');
    expect(box.cellular.commands).toContain('AT+CEDRXS=1,4,"0010"');
    box.close();
    const off = boxWith({ modem: { psmTauS: 0, edrxS: 0 } });
    off.box.run(60_000);
    expect(off.box.cellular.commands).toContain("AT+CPSMS=0");
    expect(off.box.cellular.commands).toContain("AT+CEDRXS=0");
    // Without PSM the modem is switched off between sessions.
    expect(off.box.cellular.radio().power).toBe("off");
    off.box.close();
  });

  it("enters PSM once the radio is released and the active time has run, then wakes by itself only for periodic TAUs", () => {
    const { box } = boxWith({ modem: { psmTauS: 3600, psmActiveS: 4 }, link: { pollMs: 86_400_000, pollMaxMs: 86_400_000 } });
    const psmAt: number[] = [];
    box.run(100);
    box.firmware!.events.on((e) => {
      if (e.type === "modem" && e.reason === "psm") psmAt.push(e.m);
    });
    let lastAir = -1;
    let airs = box.cellular.transfers;
    for (let t = 0; t < 120_000; t += 100) {
      box.run(100);
      if (box.cellular.transfers !== airs) {
        airs = box.cellular.transfers;
        lastAir = box.clock.monotonic();
      }
    }
    expect(box.cellular.radio().power).toBe("psm");
    expect(psmAt.length).toBe(1);
    // RRC inactivity (10 s) after the last data, then T3324 (4 s).
    expect(psmAt[0] - lastAir).toBeGreaterThanOrEqual(14_000 - 100);
    expect(psmAt[0] - lastAir).toBeLessThanOrEqual(14_000 + 200);
    expect(box.cellular.taus).toBe(0);
    box.run(5 * 3_600_000);
    expect(box.cellular.radio().power).toBe("psm");
    expect(box.cellular.taus).toBe(5);
    box.close();
  });

  it("holds data for an idle box until its next eDRX paging occasion, and delivers at once when the radio is connected", () => {
    // A long idle time keeps the link (and its TCP connection) up while the radio goes idle.
    const { box, broker } = boxWith({ modem: { edrxS: 20.48 }, link: { idleMs: 3_600_000 } });
    box.run(120_000);
    expect(box.cellular.radio()).toEqual(expect.objectContaining({ power: "on", connected: false, edrxMs: 20480 }));
    const sent = box.clock.monotonic() + 1_000;
    box.clock.after(1_000, () => command(box, broker));
    while (!box.events.some((e) => e.type === "cmd") && box.clock.monotonic() < sent + 30_000) box.run(100);
    const got = box.events.filter((e) => e.type === "cmd");
    expect(got.length).toBe(1);
    const occasion = Math.ceil((sent + 30) / 20480) * 20480; // the broker's half round trip, then the next paging occasion
    expect(got[0].m).toBeGreaterThanOrEqual(occasion);
    expect(got[0].m).toBeLessThan(occasion + 1_000);
    expect(got[0].m - sent).toBeLessThanOrEqual(20480 + 1_000);
    // The reply and acknowledgement keep the radio connected: a command now arrives without waiting for paging.
    box.run(500);
    expect(box.cellular.radio().connected).toBe(true);
    const again = box.clock.monotonic();
    command(box, broker);
    box.run(2_000);
    const next = box.events.filter((e) => e.type === "cmd");
    expect(next.length).toBe(2);
    expect(next[1].m - again).toBeLessThan(1_000);
    box.close();
  });
});
