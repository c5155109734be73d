import { Handle, Motion } from "../../hal";
import { VirtualClock } from "../clock";

/** The accelerometer: shake() produces bursts that interrupt above each watcher's threshold. */
export class SimMotion implements Motion {
  private watchers: Array<{ threshold: number; cb: (peakMg: number) => void }> = [];

  constructor(private readonly options: { clock: VirtualClock }) {}

  onShock(thresholdMg: number, cb: (peakMg: number) => void): Handle {
    const w = { threshold: thresholdMg, cb };
    this.watchers.push(w);
    return { cancel: () => (this.watchers = this.watchers.filter((x) => x !== w)) };
  }

  /** Control: the chip reset; the old firmware's interrupt handlers are gone. */
  powerOn(): void {
    this.watchers = [];
  }

  /** Control: a burst of peakMg every periodMs for durationMs (a knock is one burst). */
  shake(peakMg: number, durationMs = 0, periodMs = 100): void {
    const bursts = Math.max(1, Math.floor(durationMs / periodMs) + 1);
    for (let i = 0; i < bursts; i++) {
      this.options.clock.after(i * periodMs, () => {
        for (const w of this.watchers.slice()) if (peakMg >= w.threshold) w.cb(peakMg);
      });
    }
  }
}
