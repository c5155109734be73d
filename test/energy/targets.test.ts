/**
 * The battery-life targets of issue 15, on the firmware's default
 * configuration, measured by the energy model over a week of virtual time
 * on fixed seeds and extrapolated from the week's average current:
 * at least 2 years at 2 deliveries a day, and at least 1 year at 6
 * deliveries a day with coverage half the time.
 */
import { runWorkload } from "../../sim/energy/workload";

describe("modelled battery life on the default configuration", () => {
  for (const seed of [1, 2]) {
    it("lasts at least 2 years at 2 deliveries a day (seed " + seed + ")", () => {
      const r = runWorkload({ deliveriesPerDay: 2, days: 7, seed });
      expect(r.granted).toBe(r.deliveries);
      expect(r.commandsAcked).toBe(r.commandsSent);
      expect(r.report.years).toBeGreaterThanOrEqual(2);
    });

    it("lasts at least 1 year at 6 deliveries a day with coverage half the time (seed " + seed + ")", () => {
      const r = runWorkload({ deliveriesPerDay: 6, days: 7, coverage: 0.5, seed });
      expect(r.granted).toBe(r.deliveries);
      expect(r.report.byActivity["bg96.searching"]).toBeGreaterThan(0);
      expect(r.report.years).toBeGreaterThanOrEqual(1);
    });
  }
});
