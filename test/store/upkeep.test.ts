import { SimFlash, PAGE_BYTES } from "../../sim/hw/flash";
import { SimBattery } from "../../sim/hw/battery";
import { VirtualClock } from "../../sim/clock";
import { EventBus, BoxEvent } from "../../firmware/events";
import { StorageUpkeep } from "../../firmware/store/upkeep";
import { BASE_TABLE_FILE, intactTable, keyTableFile, loadTables, tableFile } from "../../firmware/keytables";
import { clearKeyTables, prepareBase, prepareKey, useBaseTable, verifyPrepared } from "../../firmware/crypto/ed25519";
import { crc32 } from "../../sim/hw/system";
import { testKey } from "../grants/helpers";
import nacl from "tweetnacl";

function rig(over: { mv?: number; reserve?: number; busy?: () => boolean; pages?: number } = {}) {
  const clock = new VirtualClock({ wallAtBoot: 1780272000 });
  const flash = new SimFlash({ capacity: (over.pages || 4) * PAGE_BYTES });
  const battery = new SimBattery({ millivolts: over.mv === undefined ? 3900 : over.mv });
  const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  const seen: BoxEvent[] = [];
  events.on((e) => seen.push(e));
  const upkeep = new StorageUpkeep({ flash, clock, events, battery, minMv: 3400, reserveBytes: over.reserve === undefined ? 4096 : over.reserve, busy: over.busy });
  return { clock, flash, battery, events, seen, upkeep, f: upkeep.flash };
}

/** Creates and erases files of n bytes through the firmware's view until the tail is under `below`. */
function churn(f: { create(n: string, s: number): boolean; erase(n: string): void; free(): number }, below: number, n = 1000): number {
  let i = 0;
  while (f.free() >= below) {
    expect(f.create("t" + i, n)).toBe(true);
    f.erase("t" + i);
    i++;
  }
  return i;
}

describe("StorageUpkeep", () => {
  it("compacts by itself once the tail falls below the reserve, with good power, and says so", () => {
    const r = rig();
    expect(r.f.create("keep", 500)).toBe(true);
    churn(r.f, 4096);
    expect(r.flash.usage().trash).toBeGreaterThan(0);
    r.clock.advance(1);
    expect(r.flash.usage().trash).toBe(0);
    expect(r.flash.stats().compactions).toBe(1);
    expect(r.flash.stats().autoCompactions).toBe(0);
    const e = r.seen.find((x) => x.type === "storage")!;
    expect(e.reason).toBe("compacted");
    expect(e.d!.why).toBe("reserve");
  });

  it("waits while the battery is low: no compaction, no create that would make Storage compact, one event; then catches up", () => {
    const r = rig({ mv: 3300 });
    churn(r.f, 4096);
    r.clock.advance(1);
    expect(r.flash.stats().compactions).toBe(0);
    // Fill the tail: the create that would need a compaction is refused instead.
    let i = 0;
    while (r.flash.free() >= 1032) expect(r.f.create("x" + i++, 1000)).toBe(true);
    expect(r.f.create("late", 1000)).toBe(false);
    expect(r.flash.stats().compactions).toBe(0);
    r.clock.advance(1);
    const deferred = r.seen.filter((e) => e.reason === "compaction_deferred");
    expect(deferred).toHaveLength(1);
    expect(deferred[0].d).toEqual({ why: "low_battery", mv: 3300 });
    r.battery.setMillivolts(3900);
    r.clock.advance(3600_000); // the hourly check
    expect(r.flash.stats().compactions).toBe(1);
    expect(r.f.create("late", 1000)).toBe(true);
  });

  it("waits while the motor drives", () => {
    let driving = true;
    const r = rig({ busy: () => driving });
    churn(r.f, 4096);
    r.clock.advance(1);
    expect(r.flash.stats().compactions).toBe(0);
    expect(r.seen.find((e) => e.reason === "compaction_deferred")!.d!.why).toBe("busy");
    driving = false;
    r.clock.advance(3600_000);
    expect(r.flash.stats().compactions).toBe(1);
  });

  it("sees a compaction that Storage started by itself and tells the holders at once", () => {
    const r = rig({ reserve: 0 });
    let reloads = 0;
    r.upkeep.onCompacted(() => reloads++);
    churn(r.f, 1032);
    expect(r.f.create("big", 3000)).toBe(true);
    expect(r.flash.stats().autoCompactions).toBe(1);
    expect(reloads).toBe(1);
    r.clock.advance(1);
    expect(r.seen.find((e) => e.reason === "compacted")!.d!.why).toBe("auto");
  });

  it("runs the maintenance jobs daily", () => {
    const r = rig();
    let runs = 0;
    r.upkeep.addJob(() => runs++);
    r.clock.advance(3 * 86400_000);
    expect(runs).toBe(3);
    r.upkeep.close();
    r.clock.advance(86400_000);
    expect(runs).toBe(3);
  });

  it("verifier tables kept across a compaction fail; read again after it, they verify", () => {
    const signer = testKey(3);
    const msg = new Uint8Array([1, 2, 3]);
    const sig = nacl.sign.detached(msg, signer.secretKey);
    const run = (reload: boolean) => {
      const r = rig({ pages: 12 });
      // The owner replaced a file installed before the tables: it is trash in front of them.
      expect(r.f.create("keybox.prov", 200)).toBe(true);
      const files: Array<[string, Uint8Array]> = [
        [BASE_TABLE_FILE, tableFile(prepareBase(6)!, crc32)],
        [keyTableFile(signer.id), tableFile(prepareKey(signer.publicKey, 6)!, crc32)],
      ];
      for (const [name, t] of files) expect(r.f.create(name, t.length) && r.f.writeAt(name, 0, t)).toBe(true);
      r.f.erase("keybox.prov");
      // What the firmware keeps: the base table installed in the verifier, the key's table as a view.
      expect(loadTables({ flash: r.f, crc32, keyIds: [] }).base).toBe(true);
      let table = intactTable(r.f.read(keyTableFile(signer.id)), crc32)!;
      if (reload) {
        r.upkeep.onCompacted(() => {
          loadTables({ flash: r.f, crc32, keyIds: [] });
          table = intactTable(r.f.read(keyTableFile(signer.id)), crc32)!;
        });
      }
      expect(verifyPrepared(sig, msg, signer.publicKey, table)).toBe(true);
      churn(r.f, 4096);
      r.clock.advance(1);
      expect(r.flash.stats().compactions).toBe(1);
      return verifyPrepared(sig, msg, signer.publicKey, table);
    };
    try {
      expect(run(false)).toBe(false); // the tables' views died with the move: no verification passes on them
      expect(run(true)).toBe(true);
    } finally {
      useBaseTable(undefined);
      clearKeyTables();
    }
  });
});
