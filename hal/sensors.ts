import { Handle } from "./types";

/** The accelerometer, configured to interrupt above a threshold. */
export interface Motion {
  /** Calls cb with the peak acceleration (milli-g) of each burst above thresholdMg. */
  onShock(thresholdMg: number, cb: (peakMg: number) => void): Handle;
}

/** The battery as an ADC reading. */
export interface Battery {
  /** Terminal voltage now, in millivolts (it sags while the motor runs). */
  millivolts(): number;
}
