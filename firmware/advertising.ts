// Moved to firmware/ble/advertising.ts; kept so main.ts's import stays valid until it is rewired.
export { advertise } from "./ble/advertising";
export type { CoarseState } from "./ble/advertising";
