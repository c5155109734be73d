import { Ble } from "../../hal";
import { CoarseState, coarseCode, PROTOCOL_VERSION } from "./protocol";

export type { CoarseState };

/**
 * Advertising payload. Manufacturer data is: 0xFFFF (the test company id,
 * little-endian), the protocol version, one readiness byte (1 ready, 3
 * busy). The box id travels in the device name, so a driver's phone can
 * pick the right box in a car park. Nothing else: not whether the box is
 * open or the key inside, no grant, key or counter. (The advertising
 * interval is set elsewhere; this is only the content.)
 */
export function advertise(ble: Ble, boxId: string, state: CoarseState): void {
  ble.advertise("Keybox " + boxId, new Uint8Array([0xff, 0xff, PROTOCOL_VERSION, coarseCode(state)]));
}
