import { Handle } from "./types";

/**
 * The cellular modem's wires: a UART carrying AT commands and raw socket
 * bytes (as binary strings, one char per byte, as Espruino's Serial does),
 * and the power-key pin that toggles the modem on and off.
 */
export interface Modem {
  write(data: string): void;
  onData(cb: (chunk: string) => void): Handle;
  /** Holds the power key asserted (true) or released (false). */
  setPowerKey(asserted: boolean): void;
}
