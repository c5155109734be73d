/**
 * The latch's tunables. The lead folds these into firmware/config.ts; the
 * defaults are sized for the reference latch (400 ms full stroke at 3.6 V,
 * 250 mA running, 900 mA stalled, cell internal resistance ~0.4 ohm).
 */
export interface LatchConfig {
  /** Hard cap on one continuous motor drive. A full stroke at the weakest allowed cell takes ~800 ms. */
  maxDriveMs: number;
  /**
   * Drive kept on after the bolt switch opens, to carry the bolt from the
   * switch point to the retracted end stop: there is one bolt switch, so
   * "unlocked" is the switch opening plus this bounded over-travel.
   */
  overTravelMs: number;
  /** Motor rest between any stop and the next start (retries included): lets the motor cool and the H-bridge settle. */
  cooldownMs: number;
  /** Further attempts after a drive times out, before fault. */
  retries: number;
  /** Relock when the lid was never opened within this long after unlocking. */
  autoRelockMs: number;
  /** Relock this long after the lid closes (fingers clear, lid seated). */
  relockDelayMs: number;
  /**
   * Lowest resting cell voltage at which a motor cycle may start. Worst case
   * a cycle ends stalled (end stop or jam): 900 mA x 0.4 ohm = 360 mV of sag,
   * and below 3000 mV at the terminals the motor cannot move the bolt (and
   * the 3.3 V rail is at risk), so 3000 + 360 = 3360, plus 40 mV margin.
   */
  minStartMv: number;
  /**
   * The owner's reserve: lowest resting voltage at which an admin grant (or
   * the owner's signed unlock) may still open, leaving one last full cycle
   * (open and relock) above minStartMv. Sized from the motor's draw: the
   * worst cycle is 3 attempts of maxDriveMs (1.5 s) stalled at 900 mA each
   * way, 8.1 A s = 2.25 mAh; at the bottom of the cell's curve (3.3 to
   * 3.5 V hold 8% of it, about 0.4 mAh per mV for a 1000 mAh cell) that is
   * about 6 mV of resting voltage, plus 20 mV for the cell to recover after
   * a stall before the relock reads it: minStartMv + 26, rounded to + 30 (3430).
   */
  reserveMv: number;
  /**
   * Below this resting voltage deliveries (grants without the admin
   * permission) are refused, so the band down to reserveMv (about 28 mAh,
   * a dozen owner cycles) stays the owner's; the battery monitor reports
   * "battery_reserve" when it is reached. Default reserveMv + 70 (3500).
   */
  deliveryMv: number;
  /** Period of the supply-sag sampling that tells a jam (stall) from a free-running motor. */
  probeMs: number;
  /** Sag from the resting voltage above which the motor counts as stalled (running ~100 mV, stalled ~360 mV). */
  stallSagMv: number;
  /**
   * Estimated travel (ms of nominal-speed free running, see Motor) after
   * which the bolt must have passed the switch point: 95% of the 400 ms
   * nominal stroke. A drive that times out having travelled this far means
   * the switch is stuck (bolt_sensor_stuck); less means the bolt is (jam).
   */
  strokeMs: number;
  /** Motor terminal voltage for nominal speed, and for no motion: the speed model behind strokeMs. */
  motorFullMv: number;
  motorStopMv: number;
  /** Consecutive resets in the middle of a drive before the latch gives up (fault) instead of driving again. */
  resetLoopLimit: number;
  /** Minimum interval between two tamper events of the same kind (later ones are counted, not logged). */
  tamperRepeatMs: number;
}

export function latchDefaults(p: Partial<LatchConfig>): LatchConfig {
  const minStart = p.minStartMv === undefined ? 3400 : p.minStartMv;
  const reserve = p.reserveMv === undefined ? minStart + 30 : p.reserveMv;
  return {
    maxDriveMs: p.maxDriveMs === undefined ? 1500 : p.maxDriveMs,
    overTravelMs: p.overTravelMs === undefined ? 800 : p.overTravelMs,
    cooldownMs: p.cooldownMs === undefined ? 1000 : p.cooldownMs,
    retries: p.retries === undefined ? 2 : p.retries,
    autoRelockMs: p.autoRelockMs === undefined ? 30000 : p.autoRelockMs,
    relockDelayMs: p.relockDelayMs === undefined ? 2000 : p.relockDelayMs,
    minStartMv: minStart,
    reserveMv: reserve,
    deliveryMv: p.deliveryMv === undefined ? reserve + 70 : p.deliveryMv,
    probeMs: p.probeMs === undefined ? 10 : p.probeMs,
    stallSagMv: p.stallSagMv === undefined ? 230 : p.stallSagMv,
    strokeMs: p.strokeMs === undefined ? 380 : p.strokeMs,
    motorFullMv: p.motorFullMv === undefined ? 3600 : p.motorFullMv,
    motorStopMv: p.motorStopMv === undefined ? 3000 : p.motorStopMv,
    resetLoopLimit: p.resetLoopLimit === undefined ? 2 : p.resetLoopLimit,
    tamperRepeatMs: p.tamperRepeatMs === undefined ? 10000 : p.tamperRepeatMs,
  };
}

function num(v: number, lo: number, hi: number): boolean {
  return typeof v === "number" && v >= lo && v <= hi && Math.floor(v) === v;
}

/** An error code for an unusable latch configuration, or undefined. */
export function checkLatchConfig(c: LatchConfig): string | undefined {
  if (!num(c.maxDriveMs, 100, 10000)) return "config_max_drive";
  if (!num(c.overTravelMs, 0, c.maxDriveMs - 1)) return "config_over_travel";
  if (!num(c.cooldownMs, 50, 600000)) return "config_cooldown";
  if (!num(c.retries, 0, 10)) return "config_retries";
  if (!num(c.autoRelockMs, 1000, 86400000)) return "config_auto_relock";
  if (!num(c.relockDelayMs, 0, 600000)) return "config_relock_delay";
  if (!num(c.minStartMv, 0, 10000)) return "config_min_start_mv";
  if (!num(c.reserveMv, c.minStartMv, 10000) || !num(c.deliveryMv, c.reserveMv, 10000)) return "config_reserve_mv";
  if (!num(c.probeMs, 5, c.maxDriveMs)) return "config_probe";
  if (!num(c.stallSagMv, 1, 5000)) return "config_stall_sag";
  if (!num(c.strokeMs, 1, c.maxDriveMs)) return "config_stroke";
  if (!num(c.motorStopMv, 0, 10000) || !num(c.motorFullMv, c.motorStopMv + 1, 10000)) return "config_motor_mv";
  if (!num(c.resetLoopLimit, 0, 100)) return "config_reset_loop";
  if (!num(c.tamperRepeatMs, 0, 86400000)) return "config_tamper_repeat";
  return undefined;
}
