import { VirtualClock } from "../../sim/clock";

describe("VirtualClock", () => {
  it("runs timers in due order, each at its own time, never synchronously", () => {
    const c = new VirtualClock();
    const seen: Array<[string, number]> = [];
    c.after(30, () => seen.push(["b", c.monotonic()]));
    c.after(10, () => seen.push(["a", c.monotonic()]));
    c.after(0, () => seen.push(["now", c.monotonic()]));
    expect(seen).toEqual([]);
    c.advance(29);
    expect(seen).toEqual([["now", 0], ["a", 10]]);
    c.advance(1);
    expect(seen).toEqual([["now", 0], ["a", 10], ["b", 30]]);
    expect(c.monotonic()).toBe(30);
  });

  it("keeps insertion order for timers due at the same time, including ones added while running", () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.after(5, () => {
      seen.push("1");
      c.after(0, () => seen.push("3"));
    });
    c.after(5, () => seen.push("2"));
    c.advance(5);
    expect(seen).toEqual(["1", "2", "3"]);
  });

  it("repeats every() and stops on cancel; cancel twice is harmless", () => {
    const c = new VirtualClock();
    let n = 0;
    const h = c.every(100, () => n++);
    c.advance(1000);
    expect(n).toBe(10);
    h.cancel();
    h.cancel();
    c.advance(1000);
    expect(n).toBe(10);
    expect(c.pending()).toBe(0);
  });

  it("runs a simulated day in well under a second of real time", () => {
    const c = new VirtualClock();
    let ticks = 0;
    c.every(1000, () => ticks++);
    const t0 = Date.now();
    c.advance(86400 * 1000);
    expect(ticks).toBe(86400);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("keeps the wall clock separate: setWall moves it, monotonic is untouched, drift accumulates", () => {
    const c = new VirtualClock({ wallAtBoot: 1_700_000_000, driftPpm: 100 });
    c.advance(10_000_000);
    expect(c.wall()).toBeCloseTo(1_700_000_000 + 10_000 * 1.0001, 3);
    c.setWall(1_800_000_000);
    expect(c.monotonic()).toBe(10_000_000);
    expect(c.wall()).toBe(1_800_000_000);
  });

  it("propagates an exception thrown by a timer, so tests see what the device would not survive", () => {
    const c = new VirtualClock();
    c.after(1, () => {
      throw new Error("boom");
    });
    expect(() => c.advance(5)).toThrow("boom");
  });
});
