import { Handle, Input } from "../../hal";
import { VirtualClock } from "../clock";
import { Listeners } from "./listeners";

export interface SimSwitchOptions {
  clock: VirtualClock;
  /** The switch's raw level at power-on. */
  initial: boolean;
  /** Settle time, as setWatch's debounce: a level counts once it held this long. */
  debounceMs?: number;
}

/**
 * A mechanical switch behind a debounced watch. The raw contact can bounce
 * (bounce()) or fail stuck open/closed (stick()); read() and onChange report
 * only levels that held for debounceMs, the same contract as Espruino's
 * setWatch with debounce.
 */
export class SimSwitch implements Input {
  private raw: boolean;
  private settled: boolean;
  private stuck: boolean | undefined;
  private pending: Handle | undefined;
  private readonly clock: VirtualClock;
  private readonly debounceMs: number;
  private listeners = new Listeners<boolean>();

  constructor(options: SimSwitchOptions) {
    this.clock = options.clock;
    this.debounceMs = options.debounceMs === undefined ? 20 : options.debounceMs;
    this.raw = options.initial;
    this.settled = options.initial;
  }

  read(): boolean {
    return this.settled;
  }

  onChange(cb: (level: boolean) => void): Handle {
    return this.listeners.add(cb);
  }

  /** Control: the contact's physical level now. */
  set(level: boolean): void {
    this.raw = level;
    this.rearm();
  }

  /** Control: the contact chatters n times over ms before landing on level. */
  bounce(level: boolean, n = 5, ms = 8): void {
    for (let i = 0; i < n; i++) {
      const l = i % 2 === 0 ? level : !level;
      this.clock.after((ms * i) / n, () => this.set(l));
    }
    this.clock.after(ms, () => this.set(level));
  }

  /** Control: the switch fails stuck at level (undefined repairs it). */
  stick(level: boolean | undefined): void {
    this.stuck = level;
    this.rearm();
  }

  /**
   * Control: the chip reset. Watches registered by the old firmware are gone
   * and a fresh read sees the contact as it is now (level, if given, is the
   * contact's true level after a bounce the reset cut short).
   */
  powerOn(level?: boolean): void {
    if (this.pending) this.pending.cancel();
    this.pending = undefined;
    if (level !== undefined) this.raw = level;
    this.settled = this.physical();
    this.listeners = new Listeners<boolean>();
  }

  /** Control: the raw contact level, ignoring debounce. */
  physical(): boolean {
    return this.stuck === undefined ? this.raw : this.stuck;
  }

  private rearm(): void {
    if (this.pending) this.pending.cancel();
    this.pending = this.clock.after(this.debounceMs, () => {
      this.pending = undefined;
      const level = this.physical();
      if (level === this.settled) return;
      this.settled = level;
      this.listeners.emit(level);
    });
  }
}
