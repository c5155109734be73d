/**
 * Thirty days of a box's life on fixed seeds (npm run soak, sim/soak/):
 * deliveries, owner commands, coverage gaps, broker restarts, socket cuts,
 * power cuts at random flash writes and junk on the radio, with the box's
 * promises checked as it goes.
 */
import { soak } from "../../sim/soak/soak";

describe("a month of box life", () => {
  for (const seed of [1, 2]) {
    it("seed " + seed + ": no violation of the promises the box keeps", async () => {
      const r = await soak({ days: 30, seed });
      expect(r.deliveries).toBeGreaterThan(30);
      expect(r.faults.junk).toBeGreaterThan(10);
      expect(r.faults.ownerCommands).toBeGreaterThan(5);
      expect(r.events).toBeGreaterThan(1000);
      expect(r.violations).toEqual([]);
      // the journals live in the code area's pool: Storage is never compacted, so never wiped
      expect(r.compactions).toBe(0);
      expect(r.storeFailures).toBe(0);
    }, 600000);
  }

  it("is the same run for the same seed", async () => {
    const a = await soak({ days: 2, seed: 7 });
    const b = await soak({ days: 2, seed: 7 });
    expect({ ...a, realMs: 0 }).toEqual({ ...b, realMs: 0 });
  }, 300000);
});
