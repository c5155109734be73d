/**
 * The box's configuration. The pin map is the HAL binding's business; this
 * is what the firmware itself needs. Every default is applied with an
 * explicit undefined check, so a false or 0 given on purpose survives.
 */
export interface Config {
  /** The box's identity, printed on it and named in every grant (1..16 chars). */
  boxId: string;
  /** Development mode: BLE console left on and unencrypted links accepted. Never in the field. */
  devMode: boolean;
  /** Period of the status LED's heartbeat blink. */
  heartbeatMs: number;
}

export const FIRMWARE_VERSION = "0.1.0";

export function withDefaults(partial: Partial<Config>): Config {
  return {
    boxId: partial.boxId === undefined ? "KB-000000" : partial.boxId,
    devMode: partial.devMode === undefined ? false : partial.devMode,
    heartbeatMs: partial.heartbeatMs === undefined ? 5000 : partial.heartbeatMs,
  };
}

/** Returns an error code for an unusable configuration, or undefined when it is sound. */
export function checkConfig(c: Config): string | undefined {
  if (typeof c.boxId !== "string" || c.boxId.length < 1 || c.boxId.length > 16) return "config_box_id";
  if (!/^[A-Za-z0-9._-]+$/.test(c.boxId)) return "config_box_id";
  if (typeof c.heartbeatMs !== "number" || !(c.heartbeatMs >= 100)) return "config_heartbeat";
  return undefined;
}
