import { Handle } from "../hal";

/** A value an event can carry: kept flat so it serialises to compact JSON. */
export type EventValue = string | number | boolean;

/**
 * Something the owner should know: every state change and every refusal.
 * type says what (latch, access, tamper, ...), reason says why, in a stable
 * code the owner's tools can match on.
 */
export interface BoxEvent {
  type: string;
  reason: string;
  /** Wall-clock Unix seconds when it happened; 0 while the clock is unknown. */
  t: number;
  /** Monotonic milliseconds since boot, to order events within a boot. */
  m: number;
  d?: { [key: string]: EventValue };
}

/** Fans events out to the audit log, the alarm policy and the uplinks. */
export class EventBus {
  private listeners: Array<(e: BoxEvent) => void> = [];

  constructor(private readonly options: { now: () => { t: number; m: number } }) {}

  emit(type: string, reason: string, d?: { [key: string]: EventValue }): BoxEvent {
    const time = this.options.now();
    const e: BoxEvent = { type: type, reason: reason, t: time.t, m: time.m };
    if (d) e.d = d;
    const list = this.listeners.slice();
    for (let i = 0; i < list.length; i++) list[i](e);
    return e;
  }

  on(cb: (e: BoxEvent) => void): Handle {
    this.listeners.push(cb);
    return {
      cancel: () => {
        this.listeners = this.listeners.filter((l) => l !== cb);
      },
    };
  }
}
