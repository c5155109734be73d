/**
 * Storage over the box's life (issue 11): the idle box (no broker to deliver
 * to: outbox rewrites, time records) and the box under a junk attack (a
 * stranger's junk unlock every five minutes), each on the RAK5010's Storage
 * with what the owner installs, reclaimed by the firmware alone.
 * The spans here are short so that the suite stays fast; the rates are per
 * day and extrapolated to a year. The year itself runs outside the suite:
 * npx tsx test/store/life.ts --case idle --days 365 (README has the numbers).
 */
import { live, rates, Life } from "./life";
import { STORAGE_POLICY, WEAR_PLAN, wearBudget } from "../../firmware/storage-plan";

/**
 * Long enough for each box to need a reclaim: idle, with the modem's duty
 * cycle, it allocates about 5 KB a day and first reaches the reserve around
 * day 10; under the junk attack within hours.
 */
const DAYS = { idle: 12, junk: 2 };

function overPlan(l: Life): string[] {
  const r = rates(l);
  return Object.keys(r.allocatedPerDay)
    .filter((p) => WEAR_PLAN[p] === undefined || r.allocatedPerDay[p] > WEAR_PLAN[p])
    .map((p) => p + " " + r.allocatedPerDay[p] + " B/day, planned " + WEAR_PLAN[p]);
}

describe("the wear budget", () => {
  it("the journals' planned worst days fit what 100 erases a page a year allow on the RAK5010's Storage", () => {
    const b = wearBudget();
    expect(b.reclaimBytes).toBeGreaterThan(STORAGE_POLICY.reserveBytes);
    const planned = Object.keys(WEAR_PLAN).reduce((n, p) => n + WEAR_PLAN[p], 0);
    expect(planned).toBeLessThanOrEqual(b.bytesPerDay);
    // One compaction per reclaimed batch, each page erased at most once per compaction.
    expect((365 * planned) / b.reclaimBytes).toBeLessThan(STORAGE_POLICY.erasesPerYear);
  });
});

describe.each(["idle", "junk"] as const)("a box on the RAK5010's Storage, %s", (kind) => {
  let life: Life;
  beforeAll(() => {
    life = live(kind, DAYS[kind]);
  });

  it("never fails to store: the firmware reclaims Storage before it runs out, on good power only", () => {
    expect(life.storeFailures).toEqual([]);
    expect(life.compactions).toBeGreaterThan(0);
    expect(life.lowBatteryCompactions).toBe(0);
  });

  // Known violation, today: the outbox (issue 11 point 3, firmware/uplink) and
  // the BLE back-off journal (firmware/ble) allocate far more per day than the
  // plan allows, so the most-erased page would pass 100 erases within days.
  // This test is marked failing until they meet WEAR_PLAN; then drop `.failing`.
  it.failing("stays inside the wear budget: every journal within its plan, the most-erased page under 100 erases a year", () => {
    const r = rates(life);
    expect(overPlan(life)).toEqual([]);
    expect(r.mostErasedPerYear).toBeLessThan(STORAGE_POLICY.erasesPerYear);
  });
});
