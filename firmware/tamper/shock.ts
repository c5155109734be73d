import { Clock, Handle, Motion } from "../../hal";
import { TamperReporter } from "./report";

export interface ShockConfig {
  /** Accelerometer interrupt threshold, milli-g. */
  shockThresholdMg: number;
  /** Bursts above the threshold within shockWindowMs that count as sustained (one knock is not tamper). */
  shockBursts: number;
  shockWindowMs: number;
  /** At most one shock event per this interval; sustained episodes in between are counted into the next one. */
  shockRateMs: number;
}

export function shockDefaults(p: Partial<ShockConfig>): ShockConfig {
  return {
    shockThresholdMg: p.shockThresholdMg === undefined ? 1200 : p.shockThresholdMg,
    shockBursts: p.shockBursts === undefined ? 3 : p.shockBursts,
    shockWindowMs: p.shockWindowMs === undefined ? 2000 : p.shockWindowMs,
    shockRateMs: p.shockRateMs === undefined ? 300000 : p.shockRateMs,
  };
}

export function checkShockConfig(c: ShockConfig): string | undefined {
  if (!(c.shockThresholdMg >= 100 && c.shockThresholdMg <= 16000)) return "config_shock_threshold";
  if (!(c.shockBursts >= 1 && c.shockBursts <= 32 && Math.floor(c.shockBursts) === c.shockBursts)) return "config_shock_bursts";
  if (!(c.shockWindowMs >= 10)) return "config_shock_window";
  if (!(c.shockRateMs >= 0)) return "config_shock_rate";
  return undefined;
}

/**
 * Sustained shock detection. The accelerometer interrupts on each burst
 * above the threshold; a ring of the last shockBursts burst times says
 * whether that many fell inside the window. Only armed while the box is
 * locked (or faulted): a driver slamming an open lid is not an attack.
 */
export class ShockMonitor {
  private readonly times: Float64Array;
  private readonly peaks: Float64Array;
  private n = 0;
  private head = 0;
  private armed = true;
  private readonly watch: Handle;

  constructor(private readonly o: { motion: Motion; clock: Clock; reporter: TamperReporter; config: ShockConfig }) {
    const bad = checkShockConfig(o.config);
    if (bad) throw new Error(bad);
    this.times = new Float64Array(o.config.shockBursts);
    this.peaks = new Float64Array(o.config.shockBursts);
    this.watch = o.motion.onShock(o.config.shockThresholdMg, (mg) => this.burst(mg));
  }

  setArmed(on: boolean): void {
    this.armed = on;
    if (!on) this.n = 0;
  }

  close(): void {
    this.watch.cancel();
  }

  private burst(mg: number): void {
    if (!this.armed) return;
    const c = this.o.config;
    const now = this.o.clock.monotonic();
    this.times[this.head] = now;
    this.peaks[this.head] = mg;
    this.head = (this.head + 1) % c.shockBursts;
    if (this.n < c.shockBursts) this.n++;
    // head now points at the oldest of the last shockBursts bursts
    if (this.n < c.shockBursts || now - this.times[this.head] > c.shockWindowMs) return;
    let peak = 0;
    for (let i = 0; i < c.shockBursts; i++) if (this.peaks[i] > peak) peak = this.peaks[i];
    const sev = peak >= 2 * c.shockThresholdMg ? "high" : "medium";
    this.o.reporter.raise("shock", sev, { peakMg: peak, bursts: c.shockBursts }, c.shockRateMs);
    this.n = 0;
  }
}
