/**
 * The pin map: which GPIO does what on this board. It is configuration
 * (espruino.config.json "pins", embedded at build time, where the README
 * explains each choice); these defaults repeat the RAK5010 wiring of that
 * file for a build that embeds none.
 */
export interface SwitchPin {
  pin: string;
  /** true when the switch's logical "on" (thrown, closed, present, lit) reads as 0. */
  activeLow: boolean;
  pull?: string;
  debounceMs?: number;
}

export interface PinMap {
  motor: { a: string; b: string };
  bolt: SwitchPin;
  lid: SwitchPin;
  key: SwitchPin;
  led: SwitchPin;
  buzzer: { pin: string; activeLow: boolean };
  battery: { pin: string; millivoltsPerUnit?: number };
  modem: { tx: string; rx: string; baud: number; powerKey: string; powerKeyActiveLow?: boolean };
  accel: { scl: string; sda: string; int1: string; address: number; bitrate?: number };
}

export const DEFAULT_PINS: PinMap = {
  motor: { a: "D19", b: "D20" },
  bolt: { pin: "D34", activeLow: true, pull: "input_pullup", debounceMs: 20 },
  lid: { pin: "D33", activeLow: true, pull: "input_pullup", debounceMs: 50 },
  key: { pin: "D5", activeLow: true, pull: "input_pullup", debounceMs: 50 },
  led: { pin: "D12", activeLow: true },
  buzzer: { pin: "D31", activeLow: false },
  battery: { pin: "D4" },
  modem: { tx: "D6", rx: "D8", baud: 115200, powerKey: "D2", powerKeyActiveLow: false },
  accel: { scl: "D13", sda: "D14", int1: "D16", address: 0x19, bitrate: 400000 },
};

/** The embedded pin map over the defaults, key by key. */
export function pinMap(embedded: any): PinMap {
  const out: any = {};
  const keys = Object.keys(DEFAULT_PINS);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    out[k] = embedded && embedded[k] !== undefined ? embedded[k] : (DEFAULT_PINS as any)[k];
  }
  return out as PinMap;
}
