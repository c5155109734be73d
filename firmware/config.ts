import { LatchConfig, latchDefaults, checkLatchConfig } from "./latch/config";
import { ShockConfig } from "./tamper/shock";
import { AlarmConfig } from "./tamper/alarm";
import { isBoxId } from "./grants/codec";
import { linkTimings } from "./uplink/schedule";

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
  latch: LatchConfig;
  tamper: Partial<ShockConfig & AlarmConfig>;
  /** The owner's MQTT broker; without one, events queue durably until one is configured. */
  broker?: { host: string; port: number };
  /** The cellular APN (empty: the SIM's default). */
  apn: string;
  /** Period of the telemetry report while the link is up. */
  telemetryMs: number;
  /** The modem's duty cycle (firmware/uplink/schedule.ts): idle time before it sleeps, command poll and its ceiling, batching. */
  link: { idleMs: number; pollMs: number; pollMaxMs: number; batchMs: number };
  /** How the modem sleeps between sessions (see modemPower). */
  modem: ModemPower;
  /** The BLE radio's advertising interval and transmit power. */
  radio: { advIntervalMs: number; txDbm: number };
}

/**
 * The BG96's sleep between sessions. psmTauS > 0 asks the network for PSM
 * (AT+CPSMS) with that periodic TAU and psmActiveS of reachability after
 * each session; 0 switches the modem off instead (a full attach next time).
 * edrxS > 0 asks for that eDRX cycle (AT+CEDRXS) while idle and reachable.
 */
export interface ModemPower {
  psmTauS: number;
  psmActiveS: number;
  edrxS: number;
}

/** Field defaults: PSM with a 24 h periodic TAU and 4 s of reachability, eDRX of 20.48 s in between. */
export function modemPower(p: Partial<ModemPower>): ModemPower {
  return {
    psmTauS: p.psmTauS === undefined ? 86400 : p.psmTauS,
    psmActiveS: p.psmActiveS === undefined ? 4 : p.psmActiveS,
    edrxS: p.edrxS === undefined ? 20.48 : p.edrxS,
  };
}

export const FIRMWARE_VERSION = "0.2.0";

/** The storage file holding the owner's provisioning (box id and issuer keys), written at installation. */
export const PROVISION_FILE = "keybox.prov";
/** Storage file with the box configuration, read at boot over the build's defaults. */
export const SETTINGS_FILE = "keybox.json";

export interface ConfigInput {
  boxId?: string;
  devMode?: boolean;
  heartbeatMs?: number;
  latch?: Partial<LatchConfig>;
  tamper?: Partial<ShockConfig & AlarmConfig>;
  broker?: { host: string; port: number };
  apn?: string;
  telemetryMs?: number;
  link?: Partial<Config["link"]>;
  modem?: Partial<ModemPower>;
  radio?: Partial<Config["radio"]>;
}

export function withDefaults(partial: ConfigInput): Config {
  return {
    boxId: partial.boxId === undefined ? "KB-000000" : partial.boxId,
    devMode: partial.devMode === undefined ? false : partial.devMode,
    heartbeatMs: partial.heartbeatMs === undefined ? 30000 : partial.heartbeatMs,
    latch: latchDefaults(partial.latch || {}),
    tamper: partial.tamper || {},
    broker: partial.broker,
    apn: partial.apn === undefined ? "" : partial.apn,
    telemetryMs: partial.telemetryMs === undefined ? 900000 : partial.telemetryMs,
    link: linkTimings(partial.link || {}),
    modem: modemPower(partial.modem || {}),
    radio: {
      advIntervalMs: partial.radio && partial.radio.advIntervalMs !== undefined ? partial.radio.advIntervalMs : 1000,
      txDbm: partial.radio && partial.radio.txDbm !== undefined ? partial.radio.txDbm : 0,
    },
  };
}

/** Returns an error code for an unusable configuration, or undefined when it is sound. */
export function checkConfig(c: Config): string | undefined {
  if (!isBoxId(c.boxId)) return "config_box_id";
  if (typeof c.heartbeatMs !== "number" || !(c.heartbeatMs >= 100)) return "config_heartbeat";
  if (c.broker !== undefined) {
    const b = c.broker;
    if (!b || typeof b.host !== "string" || !b.host.length || typeof b.port !== "number" || !(b.port >= 1 && b.port <= 65535)) return "config_broker";
  }
  if (typeof c.telemetryMs !== "number" || !(c.telemetryMs >= 10000)) return "config_telemetry";
  const l = c.link;
  if (!l || !(l.idleMs >= 1000) || !(l.pollMs >= 10000) || !(l.pollMaxMs >= l.pollMs) || !(l.batchMs >= 0)) return "config_link";
  const m = c.modem;
  if (!m || !(m.psmTauS === 0 || (m.psmTauS >= 60 && m.psmTauS <= 35712000)) || !(m.psmActiveS >= 2 && m.psmActiveS <= 1860) || !(m.edrxS === 0 || (m.edrxS >= 5.12 && m.edrxS <= 10485.76))) return "config_modem";
  const r = c.radio;
  if (!r || !(r.advIntervalMs >= 20 && r.advIntervalMs <= 10240) || [-8, -4, 0, 4, 8].indexOf(r.txDbm) < 0) return "config_radio";
  return checkLatchConfig(c.latch);
}
