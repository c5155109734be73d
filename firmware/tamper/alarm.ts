import { Buzzer, Clock, Handle, Led } from "../../hal";
import { BoxEvent, EventBus } from "../events";

export interface AlarmConfig {
  /** Sound the buzzer for tamper (false: LED only, e.g. a quiet deployment). */
  alarmSound: boolean;
  /** How long a high-severity siren sounds. */
  alarmSirenMs: number;
  /** How long the LED flashes after a high (medium: a fifth of it). */
  alarmLedMs: number;
}

export function alarmDefaults(p: Partial<AlarmConfig>): AlarmConfig {
  return {
    alarmSound: p.alarmSound === undefined ? true : p.alarmSound,
    alarmSirenMs: p.alarmSirenMs === undefined ? 10000 : p.alarmSirenMs,
    alarmLedMs: p.alarmLedMs === undefined ? 30000 : p.alarmLedMs,
  };
}

const SIREN_STEP_MS = 250;
const BEEP_MS = 150;
const LED_STEP_MS = 100;
const HI_HZ = 2700;
const LO_HZ = 2000;
const RANK: { [sev: string]: number } = { low: 1, medium: 2, high: 3 };

/**
 * The alarm policy: listens for "tamper" events and plays a pattern by
 * severity. high: a two-tone siren for alarmSirenMs and a fast LED flash for
 * alarmLedMs; medium: three short beeps and the flash for a fifth of that;
 * low: one LED blink. A pattern never preempts a more severe one that is
 * still playing. The immediate report is the event's urgent flag, which the
 * uplink reads; nothing here talks to the radio.
 */
export class AlarmPolicy {
  private sound: Handle | undefined;
  private light: Handle | undefined;
  private rank = 0;
  private step = 0;
  private steps = 0;
  private blink = 0;
  private blinks = 0;
  private readonly sub: Handle;
  /** Tamper events that asked for an immediate report since construction. */
  urgentCount = 0;

  constructor(private readonly o: { events: EventBus; clock: Clock; buzzer: Buzzer; led: Led; config: AlarmConfig }) {
    if (!(o.config.alarmSirenMs >= 0) || !(o.config.alarmLedMs >= 0)) throw new Error("config_alarm");
    this.sub = o.events.on((e) => this.onEvent(e));
  }

  /** True while a pattern is sounding or flashing. */
  active(): boolean {
    return this.sound !== undefined || this.light !== undefined;
  }

  /** Stops any pattern (the owner acknowledged). */
  silence(): void {
    if (this.sound) this.sound.cancel();
    if (this.light) this.light.cancel();
    this.sound = undefined;
    this.light = undefined;
    this.rank = 0;
    this.o.buzzer.tone(0);
    this.o.led.set(false);
  }

  close(): void {
    this.sub.cancel();
    this.silence();
  }

  private onEvent(e: BoxEvent): void {
    if (e.type !== "tamper" || !e.d) return;
    const sev = String(e.d.sev);
    const r = RANK[sev] || 0;
    if (e.d.urgent === true) this.urgentCount++;
    if (r === 0 || (this.active() && r < this.rank)) return;
    this.silence();
    this.rank = r;
    const c = this.o.config;
    if (c.alarmSound && r === 3) this.startSound(Math.max(1, Math.floor(c.alarmSirenMs / SIREN_STEP_MS)), SIREN_STEP_MS, true);
    if (c.alarmSound && r === 2) this.startSound(6, BEEP_MS, false);
    const ledMs = r === 3 ? c.alarmLedMs : r === 2 ? c.alarmLedMs / 5 : 2 * LED_STEP_MS;
    this.startLight(Math.max(2, Math.floor(ledMs / LED_STEP_MS)));
  }

  /** A siren alternates two tones; beeps alternate tone and silence. */
  private startSound(steps: number, ms: number, siren: boolean): void {
    this.step = 0;
    this.steps = steps;
    const play = () => {
      if (this.step >= this.steps) {
        this.o.buzzer.tone(0);
        if (this.sound) this.sound.cancel();
        this.sound = undefined;
        if (!this.light) this.rank = 0;
        return;
      }
      const odd = this.step % 2 === 1;
      this.o.buzzer.tone(siren ? (odd ? LO_HZ : HI_HZ) : odd ? 0 : HI_HZ);
      this.step++;
    };
    play();
    this.sound = this.o.clock.every(ms, play);
  }

  private startLight(blinks: number): void {
    this.blink = 0;
    this.blinks = blinks;
    const flash = () => {
      if (this.blink >= this.blinks) {
        this.o.led.set(false);
        if (this.light) this.light.cancel();
        this.light = undefined;
        if (!this.sound) this.rank = 0;
        return;
      }
      this.o.led.set(this.blink % 2 === 0);
      this.blink++;
    };
    flash();
    this.light = this.o.clock.every(LED_STEP_MS, flash);
  }
}
