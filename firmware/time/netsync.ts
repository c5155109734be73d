import { Clock, Handle } from "../../hal";
import { WallClock } from "./wallclock";

/**
 * Sets the clock from the cellular network's time at boot, without waiting
 * for the owner's broker: grants are refused while the clock is unknown, so
 * a box must learn the time as soon as it has coverage. Retries with
 * doubling back-off while the clock is unknown, then refreshes rarely to
 * keep the drift estimate fed.
 */
export class NetworkTimeSync {
  private timer: Handle | undefined;
  private wait: number;
  private closed = false;

  constructor(
    private readonly o: {
      clock: Clock;
      wallclock: WallClock;
      networkTime: (cb: (err: string | undefined, unixSeconds?: number) => void) => void;
      retryMs?: number;
      maxRetryMs?: number;
      refreshMs?: number;
    }
  ) {
    this.wait = o.retryMs === undefined ? 60000 : o.retryMs;
    this.timer = o.clock.after(0, () => this.ask());
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.timer.cancel();
  }

  private ask(): void {
    this.timer = undefined;
    this.o.networkTime((err, t) => {
      if (this.closed) return;
      const ok = !err && t !== undefined && this.o.wallclock.sync("net", t) === undefined;
      let next: number;
      if (ok) {
        this.wait = this.o.retryMs === undefined ? 60000 : this.o.retryMs;
        next = this.o.refreshMs === undefined ? 6 * 3600000 : this.o.refreshMs;
      } else {
        next = this.wait;
        this.wait = Math.min(this.wait * 2, this.o.maxRetryMs === undefined ? 1800000 : this.o.maxRetryMs);
      }
      this.timer = this.o.clock.after(next, () => this.ask());
    });
  }
}
