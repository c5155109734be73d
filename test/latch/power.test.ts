import { SimFlash } from "../../sim/hw/flash";
import { crc32 } from "../../sim/hw/system";
import { decodeMarker, encodeMarker, journalMarker } from "../../firmware/latch/marker";
import { Rig } from "./rig";

describe("the drive marker in the journal", () => {
  test("codec round-trips and rejects anything else", () => {
    expect(decodeMarker(encodeMarker({ dir: "open", n: 2 }))).toEqual({ ok: true, m: { dir: "open", n: 2 } });
    expect(decodeMarker(encodeMarker({ dir: "close", n: 0 }))).toEqual({ ok: true, m: { dir: "close", n: 0 } });
    expect(decodeMarker(encodeMarker(undefined))).toEqual({ ok: true });
    expect(decodeMarker(new Uint8Array([0x4d, 3, 0])).ok).toBe(false);
    expect(decodeMarker(new Uint8Array([0x4e, 1, 0])).ok).toBe(false);
    expect(decodeMarker(new Uint8Array([0x4d, 1])).ok).toBe(false);
  });

  test("survives reopening and many cycles (rewrites when full)", () => {
    const flash = new SimFlash();
    let m = journalMarker({ flash, crc32 });
    for (let i = 0; i < 200; i++) {
      expect(m.write({ dir: i % 2 ? "open" : "close", n: i % 3 })).toBe(true);
      expect(m.write(undefined)).toBe(true);
    }
    expect(m.write({ dir: "open", n: 1 })).toBe(true);
    m = journalMarker({ flash, crc32 });
    expect(m.read()).toEqual({ dir: "open", n: 1 });
    expect(m.write(undefined)).toBe(true);
    m = journalMarker({ flash, crc32 });
    expect(m.read()).toBeUndefined();
  });
});

describe("power cuts with the marker on flash", () => {
  test("a power cut mid-unlock: reboot reports the interrupted drive, never drives open, relocks", () => {
    const flash = new SimFlash();
    const rig = new Rig({ flash });
    rig.run(10);
    rig.unlock();
    rig.run(1000 + 150);
    expect(rig.latch.driving()).toBe("open");
    rig.reboot();
    rig.run(10);
    expect(rig.of("latch_recovery", "reset_mid_drive")[0].d).toMatchObject({ dir: "open", n: 1 });
    expect(rig.runUntil("locked", 10000)).toBe(true);
    expect(rig.drives().filter((d) => d.start >= rig.bootAt[1]).map((d) => d.dir)).toEqual(["close"]);
    rig.reboot();
    rig.run(10);
    expect(rig.of("latch_recovery").length).toBe(1);
  });

  test("a cut at every byte of the marker write before the drive: the box ends locked, the bolt never opens after reboot", () => {
    // how many bytes one unlock start programs
    const probe = new SimFlash();
    const p = new Rig({ flash: probe });
    p.run(10);
    const before = probe.programmed;
    p.unlock();
    p.run(1000);
    const bytes = probe.programmed - before;
    expect(bytes).toBeGreaterThan(0);
    for (let k = 0; k <= bytes; k++) {
      const flash = new SimFlash();
      const rig = new Rig({ flash });
      rig.run(10);
      flash.cutAfter(k);
      rig.unlock();
      rig.run(1000 + 200);
      if (rig.cuts === 0) continue;
      expect(rig.latch.driving()).toBe("stop");
      rig.reboot();
      rig.run(10000);
      expect(rig.ctl.state()).toBe("locked");
      expect(rig.latch.where()).toBeGreaterThanOrEqual(0.95);
      expect(rig.drives().filter((d) => d.start >= rig.bootAt[1] && d.dir === "open")).toEqual([]);
      expect(rig.latch.longestDriveMs()).toBeLessThanOrEqual(1500);
    }
  });
});
