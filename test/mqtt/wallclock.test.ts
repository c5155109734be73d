import { VirtualClock } from "../../sim/clock";
import { SimFlash } from "../../sim/hw/flash";
import { makeWallClock } from "../time/helpers";

const T = 1750000000;

const make = makeWallClock;

describe("WallClock", () => {
  test("unknown after a cold boot until a source sets it", () => {
    const clock = new VirtualClock();
    const w = make(clock, new SimFlash());
    expect(w.state().known).toBe(false);
    expect(w.sync("net", T)).toBeUndefined();
    expect(w.state()).toEqual({ known: true, now: T });
    clock.advance(5000);
    expect(w.state().now).toBeCloseTo(T + 5, 6);
  });

  test("never moves backwards beyond the bound; small corrections are fine", () => {
    const clock = new VirtualClock();
    const events: string[] = [];
    const w = make(clock, new SimFlash(), events);
    w.sync("net", T);
    clock.advance(1000000);
    expect(w.sync("cmd", T + 1000 - 200)).toBeUndefined();
    expect(w.sync("cmd", T + 1000 - 200 - 301)).toBe("time_backwards");
    expect(w.sync("net", 12345)).toBe("time_range");
    expect(w.state().now).toBeCloseTo(T + 800, 3);
    expect(events).toEqual(["time:set", "time:sync", "time:time_backwards", "time:time_range"]);
  });

  test("the floor survives a reboot: a stale source cannot drag a reset clock into the past", () => {
    const flash = new SimFlash();
    let clock = new VirtualClock();
    let w = make(clock, flash);
    w.sync("net", T);
    clock.advance(3 * 3600 * 1000); // hourly floor updates
    w.close();
    // power loss: the RTC restarts from 0
    clock = new VirtualClock({ wallAtBoot: 0 });
    w = make(clock, flash);
    expect(w.state().known).toBe(false);
    expect(w.floorS).toBeGreaterThanOrEqual(T + 3 * 3600 - 1);
    expect(w.sync("cmd", T + 60)).toBe("time_before_floor");
    expect(w.sync("net", T + 3 * 3600 + 10)).toBeUndefined();
  });

  test("an RTC that kept running through a reset is trusted", () => {
    const flash = new SimFlash();
    const clock = new VirtualClock();
    const w = make(clock, flash);
    w.sync("net", T);
    w.close();
    const after = new VirtualClock({ wallAtBoot: T + 120 });
    expect(make(after, flash).state()).toEqual({ known: true, now: T + 120 });
  });

  test("drift is measured between syncs and corrected in between", () => {
    const clock = new VirtualClock({ driftPpm: 200 });
    const w = make(clock, new SimFlash());
    w.sync("net", T);
    for (let day = 1; day <= 3; day++) {
      clock.advance(86400 * 1000);
      // the true time, from a perfect network clock
      w.sync("net", T + day * 86400);
    }
    expect(w.driftPpm).toBeGreaterThan(180);
    expect(w.driftPpm).toBeLessThan(220);
    clock.advance(86400 * 1000);
    // uncorrected the RTC would be 17 s ahead; corrected it is within 2 s
    expect(Math.abs(w.state().now - (T + 4 * 86400))).toBeLessThan(2);
    expect(clock.wall() - (T + 4 * 86400)).toBeGreaterThan(15);
  });
});
