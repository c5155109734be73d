import { Battery } from "../../hal";

/**
 * A cell with internal resistance: the terminal voltage drops by
 * load * resistance while the motor draws current, which is what makes a
 * weak battery fail mid-cycle on real hardware. With the defaults the
 * motor's running current (250 mA) sags the terminal by 100 mV and a stall
 * (900 mA, at an end stop or against a jam) by 360 mV.
 */
export class SimBattery implements Battery {
  private openCircuitMv: number;
  private loadMa = 0;
  private readonly resistanceMilliOhm: number;
  /** Lowest terminal voltage seen under load since construction or resetLowest(). */
  lowestMv: number;

  constructor(options: { millivolts?: number; resistanceMilliOhm?: number } = {}) {
    this.openCircuitMv = options.millivolts === undefined ? 3900 : options.millivolts;
    this.resistanceMilliOhm = options.resistanceMilliOhm === undefined ? 400 : options.resistanceMilliOhm;
    this.lowestMv = this.openCircuitMv;
  }

  millivolts(): number {
    return Math.round(this.openCircuitMv - (this.loadMa * this.resistanceMilliOhm) / 1000);
  }

  /** Control: the cell's resting voltage. */
  setMillivolts(mv: number): void {
    this.openCircuitMv = mv;
  }

  /** Control: the resting (no-load) voltage. */
  restMillivolts(): number {
    return this.openCircuitMv;
  }

  /** Control (used by the motor model): current drawn right now. */
  setLoad(ma: number): void {
    this.loadMa = ma;
    const mv = this.millivolts();
    if (mv < this.lowestMv) this.lowestMv = mv;
  }

  /** Control: the current drawn right now, in mA. */
  load(): number {
    return this.loadMa;
  }

  /** Control: forget the lowest voltage seen. */
  resetLowest(): void {
    this.lowestMv = this.millivolts();
  }
}
