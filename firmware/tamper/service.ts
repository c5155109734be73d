import { Buzzer, Clock, Handle, Led, Motion } from "../../hal";
import { EventBus } from "../events";
import { AlarmConfig, alarmDefaults, AlarmPolicy } from "./alarm";
import { TamperReporter } from "./report";
import { ShockConfig, shockDefaults, ShockMonitor } from "./shock";

/** What the tamper service needs from the latch: its state, to arm the shock watch only while locked. */
export interface LatchView {
  state(): string;
  onState(cb: (state: string, reason: string) => void): Handle;
}

export interface TamperOptions {
  clock: Clock;
  motion: Motion;
  buzzer: Buzzer;
  led: Led;
  events: EventBus;
  latch: LatchView;
  config?: Partial<ShockConfig & AlarmConfig>;
}

/**
 * The box-level tamper wiring: the alarm policy (buzzer, LED) for every
 * tamper event on the bus, whoever raised it, and the shock monitor, armed
 * while the latch is locked or faulted.
 */
export class TamperService {
  readonly alarm: AlarmPolicy;
  readonly shock: ShockMonitor;
  private readonly sub: Handle;

  constructor(o: TamperOptions) {
    if (!o || !o.clock || !o.motion || !o.buzzer || !o.led || !o.events || !o.latch) throw new Error("tamper_options");
    const cfg = o.config || {};
    const shockCfg = shockDefaults(cfg);
    const alarmCfg = alarmDefaults(cfg);
    const reporter = new TamperReporter({ events: o.events, clock: o.clock, repeatMs: shockCfg.shockRateMs });
    this.shock = new ShockMonitor({ motion: o.motion, clock: o.clock, reporter: reporter, config: shockCfg });
    this.alarm = new AlarmPolicy({ events: o.events, clock: o.clock, buzzer: o.buzzer, led: o.led, config: alarmCfg });
    const arm = (s: string) => this.shock.setArmed(s === "locked" || s === "fault");
    arm(o.latch.state());
    this.sub = o.latch.onState(arm);
  }

  close(): void {
    this.sub.cancel();
    this.shock.close();
    this.alarm.close();
  }
}
