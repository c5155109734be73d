import { Clock, Handle } from "../../hal";
import { BoxEvent, EventBus } from "../events";

export interface LinkTimings {
  idleMs: number;
  pollMs: number;
  batchMs: number;
}

/** The duty cycle's timings with the field defaults for those not given: close after a minute idle, poll every 15 minutes, batch routine events for 5. */
export function linkTimings(p: Partial<LinkTimings>): LinkTimings {
  return {
    idleMs: p.idleMs === undefined ? 60000 : p.idleMs,
    pollMs: p.pollMs === undefined ? 900000 : p.pollMs,
    batchMs: p.batchMs === undefined ? 300000 : p.batchMs,
  };
}

/** What the schedule drives: the uplink and the modem under it. */
export interface LinkControl {
  start(): void;
  stop(): void;
  /** Events recorded and not yet acknowledged by the broker. */
  pending(): number;
  up(): boolean;
  /** Puts the modem to sleep (PSM or off) once the link is down. */
  sleep(): void;
}

export interface LinkScheduleOptions {
  clock: Clock;
  events: EventBus;
  link: LinkControl;
  /** Drop the link after this long with nothing in flight. */
  idleMs?: number;
  /** Connect at least this often, to collect owner commands the broker queued. */
  pollMs?: number;
  /** A non-urgent event is sent within this long. */
  batchMs?: number;
}

/** The link's own chatter: neither a reason to connect nor activity that keeps it up. */
const LINK_TYPES: { [type: string]: boolean } = { link: true, modem: true, time: true, cmd: false };

/**
 * When the modem is on. It is the largest power draw in the box, so the
 * link comes up only when something needs sending: at once for what the
 * owner must hear now (access decisions, tamper, latch faults, a critical
 * battery, boot), within batchMs for everything else, and every pollMs to
 * collect commands the broker held in the box's persistent session. After
 * idleMs with every event acknowledged, the link is closed and the modem
 * sleeps. Events are durable in the outbox meanwhile, so nothing waits on
 * the link but its delivery.
 */
export class LinkSchedule {
  private on = false;
  private lastActivity = 0;
  private batch: Handle | undefined;
  private readonly subs: Handle[];
  private readonly o: Required<LinkScheduleOptions>;

  constructor(options: LinkScheduleOptions) {
    const o = options;
    const t = linkTimings(o);
    this.o = { clock: o.clock, events: o.events, link: o.link, idleMs: t.idleMs, pollMs: t.pollMs, batchMs: t.batchMs };
    this.subs = [
      o.events.on((e) => this.event(e)),
      o.clock.every(this.o.pollMs, () => this.wake()),
      o.clock.every(Math.max(1000, Math.floor(this.o.idleMs / 4)), () => this.check()),
    ];
    o.clock.after(0, () => this.wake());
  }

  /** True while the link is wanted up. */
  active(): boolean {
    return this.on;
  }

  close(): void {
    for (let i = 0; i < this.subs.length; i++) this.subs[i].cancel();
    if (this.batch) this.batch.cancel();
  }

  private event(e: BoxEvent): void {
    if (LINK_TYPES[e.type]) return;
    this.lastActivity = this.o.clock.monotonic();
    if (this.on) return;
    if (urgent(e)) this.wake();
    else if (!this.batch) this.batch = this.o.clock.after(this.o.batchMs, () => this.wake());
  }

  private wake(): void {
    if (this.batch) this.batch.cancel();
    this.batch = undefined;
    this.lastActivity = this.o.clock.monotonic();
    if (this.on) return;
    this.on = true;
    this.o.link.start();
  }

  private check(): void {
    const l = this.o.link;
    if (!this.on || !l.up() || l.pending() > 0) return;
    if (this.o.clock.monotonic() - this.lastActivity < this.o.idleMs) return;
    this.on = false;
    l.stop();
    l.sleep();
  }
}

function urgent(e: BoxEvent): boolean {
  switch (e.type) {
    case "access":
    case "tamper":
    case "boot":
      return true;
    case "latch":
      return e.reason === "fault";
    case "power":
      return e.reason === "battery_critical";
    default:
      return false;
  }
}
