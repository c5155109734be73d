import { Clock } from "../../hal";
import { EventBus, EventValue } from "../events";

export type Severity = "low" | "medium" | "high";

/**
 * Raises tamper events: type "tamper", reason = the kind (lid_forced,
 * bolt_moved, shock, key_removed, key_not_returned), data { sev, urgent,
 * suppressed? }. urgent is the flag the uplink reads to report at once
 * rather than at its next duty cycle. Each kind is rate-limited: a repeat
 * within its interval is only counted, and the count rides on the next event
 * that gets through, so a flapping switch or a passing truck cannot flood
 * the log while nothing is hidden.
 */
export class TamperReporter {
  private last: { [kind: string]: number } = {};
  private held: { [kind: string]: number } = {};

  constructor(private readonly o: { events: EventBus; clock: Clock; repeatMs: number }) {}

  /** Emits (true) or counts as suppressed (false). intervalMs overrides the default repeat interval. */
  raise(kind: string, sev: Severity, data?: { [k: string]: EventValue }, intervalMs?: number): boolean {
    const now = this.o.clock.monotonic();
    const gap = intervalMs === undefined ? this.o.repeatMs : intervalMs;
    const prev = this.last[kind];
    if (prev !== undefined && now - prev < gap) {
      this.held[kind] = (this.held[kind] || 0) + 1;
      return false;
    }
    this.last[kind] = now;
    const d: { [k: string]: EventValue } = { sev: sev, urgent: sev !== "low" };
    if (this.held[kind]) d.suppressed = this.held[kind];
    this.held[kind] = 0;
    if (data) {
      const keys = Object.keys(data);
      for (let i = 0; i < keys.length; i++) d[keys[i]] = data[keys[i]];
    }
    this.o.events.emit("tamper", kind, d);
    return true;
  }

  /** Repeats of kind held back since its last event. */
  suppressed(kind: string): number {
    return this.held[kind] || 0;
  }
}
