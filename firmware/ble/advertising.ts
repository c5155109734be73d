import { Ble } from "../../hal";
import { CoarseState, coarseCode, PROTOCOL_VERSION } from "./protocol";

export type { CoarseState };

/**
 * Advertising payload. Manufacturer data is: 0xFFFF (the test company id,
 * little-endian), the protocol version, one coarse-state byte (1 locked,
 * 2 open, 3 busy, 4 fault). The box id travels in the device name, so a
 * driver's phone can pick the right box in a car park. Nothing else: no
 * grant, key or counter is ever advertised.
 */
export function advertise(ble: Ble, boxId: string, state: CoarseState): void {
  ble.advertise("Keybox " + boxId, new Uint8Array([0xff, 0xff, PROTOCOL_VERSION, coarseCode(state)]));
}
