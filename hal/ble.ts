import { Handle } from "./types";

/** UUIDs of the one GATT service the box publishes. */
export interface GattLayout {
  service: string;
  /** Read: box identity and coarse state. */
  info: string;
  /** Write (without response): request frames from the phone. */
  request: string;
  /** Notify: response frames to the phone. */
  response: string;
}

export interface BleLink {
  /** True once LE Secure Connections encryption is up on this link. */
  readonly encrypted: boolean;
}

/**
 * The BLE peripheral: one service, one central at a time. The binding turns
 * off Espruino's UART console service unless console is true.
 */
export interface Ble {
  publish(layout: GattLayout, options: { console: boolean }): void;
  /** Sets the value the phone reads from the info characteristic. */
  setInfo(value: Uint8Array): void;
  /** Sends one response frame (at most 20 bytes) to the connected central. */
  notify(frame: Uint8Array): void;
  /** Advertising interval and transmit power (dBm), kept for every later advertise(). */
  setRadio(options: { intervalMs: number; txDbm: number }): void;
  /** Advertises the name and manufacturer data (no secrets in either). */
  advertise(name: string, manufacturerData: Uint8Array): void;
  onConnect(cb: (link: BleLink) => void): Handle;
  /** Encryption came up (or changed) on the current link. */
  onSecured(cb: (link: BleLink) => void): Handle;
  onDisconnect(cb: () => void): Handle;
  /** Called with each request frame the central writes. */
  onWrite(cb: (frame: Uint8Array) => void): Handle;
  /** Drops the current central, if any. */
  disconnect(): void;
}
