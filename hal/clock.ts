import { Handle } from "./types";

/**
 * Time as the firmware sees it. The monotonic clock never jumps (the device
 * binding keeps it continuous across setWall); the wall clock is the RTC,
 * which drifts and may be unset after a power loss.
 */
export interface Clock {
  /** Milliseconds since boot; never decreases. */
  monotonic(): number;
  /** The RTC in Unix seconds (fractional). 0-ish after a cold boot until set. */
  wall(): number;
  /** Sets the RTC; the monotonic clock is unaffected. */
  setWall(unixSeconds: number): void;
  /** Calls cb once after ms, never synchronously. */
  after(ms: number, cb: () => void): Handle;
  /** Calls cb every ms until cancelled. */
  every(ms: number, cb: () => void): Handle;
}
