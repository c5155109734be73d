/**
 * Thirty days of a box's life on fixed seeds (npm run soak, sim/soak/):
 * deliveries, owner commands, coverage gaps, broker restarts, socket cuts,
 * power cuts at random flash writes and junk on the radio, with the box's
 * promises checked as it goes.
 */
import { soak, invariantOf, Invariant, SoakResult } from "../../sim/soak/soak";

/**
 * Invariants main does not keep yet, each with the module that breaks it
 * (issue 11). They are still checked and printed; they stop the suite once
 * removed from this list, which is what the fixes do.
 *   store: nothing reclaims erased Storage (no compaction, getFree counts
 *          only the tail): the 40 KiB Storage is full within hours and every
 *          write fails (firmware/store, hal/espruino/flash.ts: the Storage
 *          reclaim of h11-store).
 *   lost:  with Storage full neither the events nor the outbox's loss records
 *          can be stored, so what the box emits after that never reaches the
 *          owner (follows from store).
 *   wear:  with Storage reclaimed (h11-store's branch), the outbox journal
 *          takes about 130 KB a day of modem and link chatter (about 6 events
 *          per wake-up) and every page is erased about twice a day, 6 times
 *          the budget (firmware/uplink, the link schedule).
 *   keyloss: the box forgets the owner's key and refuses valid grants as
 *          unknown_key. For good when a power cut inside a Storage compaction
 *          leaves the header chain broken and Espruino's boot check erases all
 *          of Storage, provisioning with it (seed 1 on a main without the
 *          hardening: from day 12 on). For a few hours on seed 1 with it
 *          (day 11.5, no wipe): cause not found yet. The fix is to keep the
 *          provisioning and key set where compaction never runs (the code
 *          area) with a fail-closed recovery of revocations and use counts.
 */
const PENDING: Invariant[] = ["store", "lost", "wear", "keyloss"];

const results: SoakResult[] = [];

describe("a month of box life", () => {
  for (const seed of [1, 2]) {
    it("seed " + seed + ": no violation of the promises the box keeps", async () => {
      const r = await soak({ days: 30, seed });
      results.push(r);
      expect(r.deliveries).toBeGreaterThan(30);
      expect(r.faults.junk).toBeGreaterThan(10);
      expect(r.faults.ownerCommands).toBeGreaterThan(5);
      expect(r.events).toBeGreaterThan(1000);
      const enforced = r.violations.filter((v) => PENDING.indexOf(invariantOf(v)) < 0);
      expect(enforced).toEqual([]);
      expect(r.violations.every((v) => invariantOf(v).length > 0)).toBe(true);
    }, 600000);
  }

  it("is the same run for the same seed", async () => {
    const a = await soak({ days: 2, seed: 7 });
    const b = await soak({ days: 2, seed: 7 });
    expect({ ...a, realMs: 0 }).toEqual({ ...b, realMs: 0 });
  }, 300000);
});
