import { Battery } from "../../hal";

/**
 * A cell with internal resistance: the terminal voltage drops by
 * load * resistance while the motor draws current, which is what makes a
 * weak battery fail mid-cycle on real hardware.
 */
export class SimBattery implements Battery {
  private openCircuitMv: number;
  private loadMa = 0;
  private readonly resistanceMilliOhm: number;

  constructor(options: { millivolts?: number; resistanceMilliOhm?: number } = {}) {
    this.openCircuitMv = options.millivolts === undefined ? 3900 : options.millivolts;
    this.resistanceMilliOhm = options.resistanceMilliOhm === undefined ? 400 : options.resistanceMilliOhm;
  }

  millivolts(): number {
    return Math.round(this.openCircuitMv - (this.loadMa * this.resistanceMilliOhm) / 1000);
  }

  /** Control: the cell's resting voltage. */
  setMillivolts(mv: number): void {
    this.openCircuitMv = mv;
  }

  /** Control (used by the motor model): current drawn right now. */
  setLoad(ma: number): void {
    this.loadMa = ma;
  }
}
