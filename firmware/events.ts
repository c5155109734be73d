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

/**
 * Fans events out to the audit log, the alarm policy and the uplinks.
 *
 * hold() lets a caller whose every millisecond counts (a grant on its way
 * to the motor) put the listeners off: while any hold is on, emit() stamps
 * the event and queues it, and later() queues its work, and the first
 * release after the last hold delivers them all in order. The listeners
 * (storing the event for the owner is the costly one: on the board tens of
 * milliseconds each) then run once the motor is turning. Nothing is lost or
 * reordered, only delayed by the hold.
 */
export class EventBus {
  private listeners: Array<(e: BoxEvent) => void> = [];
  private holds = 0;
  private queue: Array<() => void> = [];

  constructor(private readonly options: { now: () => { t: number; m: number } }) {}

  emit(type: string, reason: string, d?: { [key: string]: EventValue }): BoxEvent {
    const time = this.options.now();
    const e: BoxEvent = { type: type, reason: reason, t: time.t, m: time.m };
    if (d) e.d = d;
    const self = this;
    this.later(function () {
      self.deliver(e);
    });
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

  /** Runs fn now, or, while a hold is on, after the events emitted before it. */
  later(fn: () => void): void {
    if (this.holds === 0 && !this.queue.length) return fn();
    this.queue.push(fn);
    this.flush();
  }

  /** Puts delivery off until the returned function is called (once; holds nest). */
  hold(): () => void {
    this.holds++;
    let held = true;
    const self = this;
    return function () {
      if (!held) return;
      held = false;
      self.holds--;
      self.flush();
    };
  }

  /** Runs what waits, in order, while no hold is on (a listener may hold again: the rest then waits for that release). */
  private flush(): void {
    while (this.holds === 0 && this.queue.length) (this.queue.shift() as () => void)();
  }

  private deliver(e: BoxEvent): void {
    const list = this.listeners.slice();
    for (let i = 0; i < list.length; i++) list[i](e);
  }
}
