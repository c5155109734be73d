import { Handle } from "./types";

/**
 * A debounced switch, reported as its logical meaning (the pin map decides
 * polarity): bolt true = thrown (locked), lid true = closed, key true = present.
 * Debouncing happens below this interface, so callers see settled edges only.
 */
export interface Input {
  /** The current settled level. */
  read(): boolean;
  /** Calls cb on every settled change, with the new level. */
  onChange(cb: (level: boolean) => void): Handle;
}
