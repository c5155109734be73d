/**
 * The box's records over its life (issue 11): the idle box (no broker to
 * deliver to: outbox rewrites, time records) and the box under a junk attack
 * (a stranger's junk unlock every five minutes), each as installed on a
 * RAK5010. The journals live in the code area's pool; Storage holds what the
 * owner installed and the firmware never writes it, so no compaction can be
 * cut by a power loss into a wipe. The spans here are short so that the suite
 * stays fast; the rates are per day and extrapolated to a year. The year
 * itself runs outside the suite: npx tsx test/store/life.ts --case idle
 * --days 365 (README has the numbers).
 */
import { live, rates, Life } from "./life";
import { STORAGE_POLICY, wearBudget } from "../../firmware/storage-plan";

// Long enough that the first file of each journal, made at the first boot, no longer dominates the rates.
const DAYS = { idle: 30, junk: 8 };

describe("the wear budget", () => {
  it("the pool's page creates a day that 100 erases a page a year allow, with the pages the journals hold at their largest taken out", () => {
    const b = wearBudget();
    expect(b.levelledPages).toBeGreaterThan(0);
    expect(b.pagesPerDay).toBeCloseTo((STORAGE_POLICY.erasesPerYear * b.levelledPages) / 365, 5);
  });
});

describe.each(["idle", "junk"] as const)("a box as installed on a RAK5010, %s", (kind) => {
  let life: Life;
  beforeAll(() => {
    life = live(kind, DAYS[kind]);
  });

  it("never fails to store, and never writes Storage after the install: nothing there to compact or wipe", () => {
    expect(life.storeFailures).toEqual([]);
    expect(life.storage).toEqual({ programmed: 0, compactions: 0, wipes: 0 });
    expect(life.poolErases).toBeGreaterThan(0);
  });

  it("stays inside the wear budget: page erases a day within the plan, and the most-erased page under 100 erases a year", () => {
    const r = rates(life);
    expect(r.pageErasesPerDay).toBeLessThanOrEqual(wearBudget().pagesPerDay);
    expect(r.mostErasedPerYear).toBeLessThan(STORAGE_POLICY.erasesPerYear);
  });
});
