import { SETTINGS_JOURNAL } from "./storage-plan";
import { Flash } from "../hal";
import { checkConfig, Config } from "./config";
import { utf8Decode, utf8Encode } from "./mqtt/codec";
import { Crc32 } from "./store/crc32";
import { Journal } from "./store/journal";

/**
 * The owner's remote settings: the few keys a signed "config" command may
 * change, kept as JSON records in their own journal and applied over the
 * built-in configuration at every boot. Identity, development mode and the
 * latch's safety limits are not among them: those change only by
 * provisioning or flashing, with physical access.
 */
const REMOTE_KEYS: { [path: string]: string } = {
  heartbeatMs: "number",
  "latch.autoRelockMs": "number",
  "latch.relockDelayMs": "number",
  "tamper.alarmSound": "boolean",
  "tamper.shockThresholdMg": "number",
  // The power trade-off (README, Battery life): how often commands are collected, how long routine events wait, how the modem sleeps.
  "link.pollMs": "number",
  "link.pollMaxMs": "number",
  "link.batchMs": "number",
  "modem.psmTauS": "number",
  "modem.psmActiveS": "number",
  "modem.edrxS": "number",
  "radio.advIntervalMs": "number",
};

export class Settings {
  private readonly log: Journal;

  constructor(options: { flash: Flash; crc32: Crc32 }) {
    this.log = new Journal({ flash: options.flash, prefix: SETTINGS_JOURNAL.prefix, segmentBytes: SETTINGS_JOURNAL.segmentBytes, maxSegments: SETTINGS_JOURNAL.maxSegments, crc32: options.crc32 });
  }

  /** The configuration with the latest saved settings applied (or unchanged when there are none). */
  apply(base: Config): Config {
    const recs = this.log.records();
    if (!recs.length) return base;
    const text = utf8Decode(recs[recs.length - 1], 0, recs[recs.length - 1].length);
    let saved: { [path: string]: unknown } | undefined;
    try {
      saved = text === undefined ? undefined : JSON.parse(text);
    } catch (e) {
      saved = undefined;
    }
    if (!saved || typeof saved !== "object") return base;
    const merged = overlay(base, saved);
    return checkConfig(merged) ? base : merged;
  }

  /**
   * Validates a settings object ({ "latch.autoRelockMs": 60000, ... }) and
   * saves it durably over the previous one. Returns an error code, or
   * undefined once it is on flash. It takes effect at the next boot.
   */
  save(base: Config, json: string): string | undefined {
    let obj: { [path: string]: unknown };
    try {
      obj = JSON.parse(json);
    } catch (e) {
      return "config_json";
    }
    if (!obj || typeof obj !== "object") return "config_json";
    const keys = Object.keys(obj);
    if (!keys.length) return "config_empty";
    for (let i = 0; i < keys.length; i++) {
      if (!REMOTE_KEYS[keys[i]]) return "config_key";
      if (typeof obj[keys[i]] !== REMOTE_KEYS[keys[i]]) return "config_type";
    }
    const bad = checkConfig(overlay(base, obj));
    if (bad) return bad;
    const rec = utf8Encode(JSON.stringify(obj));
    if (this.log.append(rec)) return undefined;
    return this.log.rewrite([rec]) ? undefined : "config_store";
  }

  close(): void {
    this.log.close();
  }
}

/** A copy of base with each "a.b" path set, leaving base untouched. */
function overlay(base: Config, paths: { [path: string]: unknown }): Config {
  const out: any = JSON.parse(JSON.stringify(base));
  const keys = Object.keys(paths);
  for (let i = 0; i < keys.length; i++) {
    if (!REMOTE_KEYS[keys[i]] || typeof paths[keys[i]] !== REMOTE_KEYS[keys[i]]) continue;
    const parts = keys[i].split(".");
    let o = out;
    for (let k = 0; k < parts.length - 1; k++) o = o[parts[k]] = o[parts[k]] || {};
    o[parts[parts.length - 1]] = paths[keys[i]];
  }
  return out as Config;
}
