/**
 * The desktop simulator's pace: how fast the box's virtual clock follows the
 * host's. Running at rate 1 is real time; 0 is paused; 60 runs a minute of
 * box time every second. advance() jumps ahead at once, in slices, letting
 * real sockets (the radio, the broker) answer between slices.
 */
export interface PaceOptions {
  /** Runs the box for ms of virtual time (SimBox.run: a power loss becomes a cut). */
  run: (ms: number) => void;
  /** Host milliseconds between steps (default 10). */
  tickMs?: number;
  /** The starting rate (default 1). */
  rate?: number;
  onError?: (e: unknown) => void;
}

/** The fastest the desktop runs: beyond this the modem's real TCP cannot keep up with box time. */
export const MAX_RATE = 1000;
const SLICE_MS = 1000;

export class Pace {
  private rateNow: number;
  private last = Date.now();
  private timer: NodeJS.Timeout;
  private advancing = false;
  private readonly o: PaceOptions;

  constructor(options: PaceOptions) {
    if (!options || typeof options.run !== "function") throw new Error("Pace needs run(ms)");
    this.o = options;
    this.rateNow = options.rate === undefined ? 1 : options.rate;
    const tick = options.tickMs === undefined ? 10 : options.tickMs;
    this.timer = setInterval(() => this.tick(), tick);
  }

  /** Box milliseconds per host millisecond; 0 while paused. */
  get rate(): number {
    return this.rateNow;
  }

  /** 0 pauses; 1 is real time; at most MAX_RATE. Returns false for a rate it refuses. */
  setRate(rate: number): boolean {
    if (!(rate >= 0 && rate <= MAX_RATE)) return false;
    this.last = Date.now();
    this.rateNow = rate;
    return true;
  }

  /** Runs ms of box time now, whatever the rate, in slices that let real I/O through. */
  async advance(ms: number): Promise<void> {
    this.advancing = true;
    try {
      for (let left = ms; left > 0; left -= SLICE_MS) {
        this.step(Math.min(SLICE_MS, left));
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.advancing = false;
      this.last = Date.now();
    }
  }

  close(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = Date.now();
    const elapsed = now - this.last;
    this.last = now;
    if (this.advancing || this.rateNow === 0) return;
    this.step(elapsed * this.rateNow);
  }

  private step(ms: number): void {
    try {
      this.o.run(ms);
    } catch (e) {
      if (this.o.onError) this.o.onError(e);
      else throw e;
    }
  }
}
