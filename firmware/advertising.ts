import { Ble } from "../hal";

/** Coarse states a passer-by may see; nothing finer is advertised. */
export type CoarseState = "locked" | "open" | "busy" | "fault";

const STATE_CODES: { [s: string]: number } = { locked: 1, open: 2, busy: 3, fault: 4 };

/**
 * Advertising payload. Manufacturer data is: 0xFFFF (the test company id,
 * little-endian), protocol version 1, one coarse-state byte (1 locked,
 * 2 open, 3 busy, 4 fault). The box id travels in the device name, so a
 * driver's phone can pick the right box in a car park.
 */
export function advertise(ble: Ble, boxId: string, state: CoarseState): void {
  ble.advertise("Keybox " + boxId, new Uint8Array([0xff, 0xff, 1, STATE_CODES[state]]));
}
