import { Clock, Handle } from "../hal";

interface Pending {
  at: number;
  seq: number;
  period: number;
  cb: () => void;
  live: boolean;
}

export interface VirtualClockOptions {
  /** The RTC's value at boot, in Unix seconds (0 = never set, as after a cold boot). */
  wallAtBoot?: number;
  /** RTC drift in parts per million (positive runs fast). */
  driftPpm?: number;
}

/**
 * Simulated time. Nothing moves until advance() is called, so a test runs
 * thousands of simulated seconds in milliseconds; RealTimeDriver advances it
 * from the host clock for the desktop simulator. Timers fire in time order,
 * each seeing monotonic() equal to its due time. An exception thrown by a
 * timer stops advance() and propagates: on the device it would be an
 * uncaught error, so tests must see it.
 */
export class VirtualClock implements Clock {
  private now = 0;
  private seq = 0;
  private queue: Pending[] = [];
  private wallBase: number;
  private wallSetAt = 0;
  private driftPpm: number;
  private observers: Array<() => void> = [];

  constructor(options: VirtualClockOptions = {}) {
    this.wallBase = options.wallAtBoot === undefined ? 0 : options.wallAtBoot;
    this.driftPpm = options.driftPpm === undefined ? 0 : options.driftPpm;
  }

  monotonic(): number {
    return this.now;
  }

  wall(): number {
    const elapsed = (this.now - this.wallSetAt) / 1000;
    return this.wallBase + elapsed * (1 + this.driftPpm / 1e6);
  }

  setWall(unixSeconds: number): void {
    this.wallBase = unixSeconds;
    this.wallSetAt = this.now;
  }

  /** Test handle: change the RTC's drift from now on. */
  setDrift(ppm: number): void {
    this.setWall(this.wall());
    this.driftPpm = ppm;
  }

  after(ms: number, cb: () => void): Handle {
    return this.schedule(ms, 0, cb);
  }

  every(ms: number, cb: () => void): Handle {
    return this.schedule(ms, Math.max(1, ms), cb);
  }

  /** Runs every timer due within the next ms, in order, then sets the clock to now + ms. */
  advance(ms: number): void {
    const target = this.now + Math.max(0, ms);
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > target) break;
      this.queue.shift();
      if (!next.live) continue;
      this.now = Math.max(this.now, next.at);
      if (next.period > 0) {
        next.at += next.period;
        next.seq = this.seq++;
        this.insert(next);
      } else {
        next.live = false;
      }
      next.cb();
      for (let i = 0; i < this.observers.length; i++) this.observers[i]();
    }
    this.now = target;
  }

  /** Calls cb after every timer that runs (the energy model samples the parts' states there). Survives clearAll(). */
  observe(cb: () => void): Handle {
    this.observers.push(cb);
    return {
      cancel: () => {
        this.observers = this.observers.filter((o) => o !== cb);
      },
    };
  }

  /** Advances to the next due timer (if any within limitMs) and runs it. Returns false when idle. */
  step(limitMs = Infinity): boolean {
    const next = this.nextDue();
    if (next === undefined || next - this.now > limitMs) return false;
    this.advance(next - this.now);
    return true;
  }

  /** Monotonic time of the earliest live timer. */
  nextDue(): number | undefined {
    while (this.queue.length && !this.queue[0].live) this.queue.shift();
    return this.queue.length ? this.queue[0].at : undefined;
  }

  /** Live timers (tests use this to prove nothing leaks after close()). */
  pending(): number {
    return this.queue.filter((p) => p.live).length;
  }

  /** Drops every timer: what a reset does to the chip's timers. */
  clearAll(): void {
    for (const p of this.queue) p.live = false;
    this.queue = [];
  }

  private schedule(ms: number, period: number, cb: () => void): Handle {
    const delay = Math.max(0, ms);
    const p: Pending = { at: this.now + (period > 0 ? period : delay), seq: this.seq++, period, cb, live: true };
    this.insert(p);
    return {
      cancel: () => {
        p.live = false;
      },
    };
  }

  private insert(p: Pending): void {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.at < p.at || (q.at === p.at && q.seq < p.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, p);
  }
}

/** Drives a VirtualClock from the host's clock, for the desktop simulator. */
export class RealTimeDriver {
  private timer: NodeJS.Timeout;
  private last = Date.now();

  constructor(options: { clock: VirtualClock; tickMs?: number; onError?: (e: unknown) => void }) {
    const tick = options.tickMs === undefined ? 10 : options.tickMs;
    this.timer = setInterval(() => {
      const now = Date.now();
      const elapsed = now - this.last;
      this.last = now;
      try {
        options.clock.advance(elapsed);
      } catch (e) {
        if (options.onError) options.onError(e);
        else throw e;
      }
    }, tick);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
