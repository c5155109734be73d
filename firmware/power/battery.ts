import { Battery, Clock, Handle } from "../../hal";
import { EventBus } from "../events";

export type BatteryLevel = "ok" | "low" | "reserve" | "critical";

export interface BatteryMonitorOptions {
  battery: Battery;
  clock: Clock;
  events: EventBus;
  periodMs?: number;
  /** Below this the owner is told to change the battery. */
  lowMv?: number;
  /**
   * Below this deliveries stop and what is left is the owner's reserve (the
   * latch's deliveryMv; see firmware/gatekeeper.ts). Without it there is no
   * reserve level.
   */
  reserveMv?: number;
  /** Below this the box keeps only what keeps it secure (no motor cycles: see the latch). */
  criticalMv?: number;
  /** A level is left only when the voltage recovers this far past its threshold. */
  hysteresisMv?: number;
}

/*
 * A single-cell Li-ion/LiPo: 4.2 V full, ~3.7 V at half, 3.3 V empty under
 * light load. The estimate interpolates this curve; it is for the owner's
 * dashboard, not for safety decisions, which use the thresholds.
 */
const CURVE_MV = [3300, 3500, 3600, 3700, 3800, 3900, 4000, 4100, 4200];
const CURVE_PCT = [0, 8, 20, 45, 60, 72, 82, 92, 100];

export function percentFromMillivolts(mv: number): number {
  if (mv <= CURVE_MV[0]) return 0;
  for (let i = 1; i < CURVE_MV.length; i++) {
    if (mv <= CURVE_MV[i]) {
      const f = (mv - CURVE_MV[i - 1]) / (CURVE_MV[i] - CURVE_MV[i - 1]);
      return Math.round(CURVE_PCT[i - 1] + f * (CURVE_PCT[i] - CURVE_PCT[i - 1]));
    }
  }
  return 100;
}

/**
 * Samples the battery on a slow period and reports level changes as events.
 * The median of the last three samples is used, so one reading taken while
 * the motor sagged the cell does not raise an alarm.
 */
export class BatteryMonitor {
  private samples: number[] = [];
  private current: BatteryLevel = "ok";
  private readonly timer: Handle;
  private readonly o: Required<BatteryMonitorOptions>;
  private readonly names: BatteryLevel[];
  private readonly limits: number[];

  constructor(options: BatteryMonitorOptions) {
    const o = options;
    this.o = {
      battery: o.battery,
      clock: o.clock,
      events: o.events,
      periodMs: o.periodMs === undefined ? 60000 : o.periodMs,
      lowMv: o.lowMv === undefined ? 3550 : o.lowMv,
      criticalMv: o.criticalMv === undefined ? 3400 : o.criticalMv,
      hysteresisMv: o.hysteresisMv === undefined ? 50 : o.hysteresisMv,
      reserveMv: o.reserveMv === undefined ? -1 : o.reserveMv,
    };
    // levels from the worst up, each with the voltage below which it applies
    this.names = this.o.reserveMv >= 0 ? ["critical", "reserve", "low", "ok"] : ["critical", "low", "ok"];
    this.limits = this.o.reserveMv >= 0 ? [this.o.criticalMv, this.o.reserveMv, this.o.lowMv] : [this.o.criticalMv, this.o.lowMv];
    this.sample();
    this.timer = this.o.clock.every(this.o.periodMs, () => this.check());
    this.o.clock.after(0, () => this.check());
  }

  /** The filtered voltage, in millivolts. */
  millivolts(): number {
    const s = this.samples.slice().sort(function (a, b) {
      return a - b;
    });
    return s[s.length >> 1];
  }

  level(): BatteryLevel {
    return this.current;
  }

  percent(): number {
    return percentFromMillivolts(this.millivolts());
  }

  close(): void {
    this.timer.cancel();
  }

  private sample(): void {
    this.samples.push(this.o.battery.millivolts());
    if (this.samples.length > 3) this.samples.shift();
  }

  /** Index into names of the level mv falls in. */
  private rank(mv: number): number {
    let i = 0;
    while (i < this.limits.length && mv >= this.limits[i]) i++;
    return i;
  }

  private check(): void {
    this.sample();
    const mv = this.millivolts();
    const o = this.o;
    const cur = this.names.indexOf(this.current);
    let r = this.rank(mv);
    // a level is left upwards only once the voltage is hysteresisMv past its threshold
    if (r > cur) r = Math.max(cur, this.rank(mv - o.hysteresisMv));
    const next = this.names[r];
    if (next === this.current) return;
    this.current = next;
    o.events.emit("power", "battery_" + next, { mv: mv, pct: percentFromMillivolts(mv) });
  }
}
