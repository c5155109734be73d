import { Clock, Handle } from "../../hal";
import { BoxEvent, EventBus } from "../events";

export interface LinkTimings {
  idleMs: number;
  pollMs: number;
  pollMaxMs: number;
  batchMs: number;
}

/**
 * The duty cycle's timings with the field defaults for those not given
 * (chosen with the energy model, `npm run power`): close 3 s after the link
 * came up or last carried something, with nothing in flight (the broker hands
 * queued commands over within a second of the session resuming); collect
 * commands 2 hours after the last session, backing off to every 6 hours
 * while none come; hold routine events up to 2 hours.
 */
export function linkTimings(p: Partial<LinkTimings>): LinkTimings {
  const poll = p.pollMs === undefined ? 7200000 : p.pollMs;
  return {
    idleMs: p.idleMs === undefined ? 3000 : p.idleMs,
    pollMs: poll,
    pollMaxMs: p.pollMaxMs === undefined ? Math.max(poll, 6 * 3600000) : p.pollMaxMs,
    batchMs: p.batchMs === undefined ? 7200000 : p.batchMs,
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
  /** Connect this long after the last session, to collect owner commands the broker queued. */
  pollMs?: number;
  /** Each session that brings no command doubles the wait before the next collection, up to this. */
  pollMaxMs?: number;
  /** A non-urgent event is sent within this long. */
  batchMs?: number;
}

/** A session whose link is not up after this long (no coverage, no broker) is abandoned until the next try. */
const SESSION_GIVE_UP_MS = 25000;
/** The first retry after an abandoned session; later ones double; all at most pollMaxMs. */
const RETRY_FIRST_MS = 3600000;
/** Within this long of an abandoned session, an urgent event waits for the retry instead of searching again. */
const RETRY_URGENT_MS = 1800000;

/** The link's own chatter: neither a reason to connect nor activity that keeps it up. */
const LINK_TYPES: { [type: string]: boolean } = { link: true, modem: true, time: true, cmd: false };

/**
 * When the modem is on. It is the largest power draw in the box, so the
 * link comes up only when something needs sending: at once for what the
 * owner must hear now (access decisions, tamper, latch faults, a critical
 * battery, boot), within batchMs for everything else, and pollMs after the
 * last session to collect commands the broker held in the box's persistent
 * session; every session that brings none doubles that wait up to pollMaxMs,
 * and a command brings it back to pollMs. After idleMs with every event
 * acknowledged, the link is closed and the modem sleeps. Events are durable
 * in the outbox meanwhile, so nothing waits on the link but its delivery.
 * While the link is down no timer runs but the next collection's.
 */
export class LinkSchedule {
  private on = false;
  private lastActivity = 0;
  private batch: Handle | undefined;
  private poll: Handle | undefined;
  private checker: Handle | undefined;
  private pollWait: number;
  private nextWait: number;
  private retryWait = 0;
  private wokeAt = 0;
  private commands = 0;
  private seenUp = false;
  private failedAt = -1;
  private readonly subs: Handle[];
  private readonly o: Required<LinkScheduleOptions>;

  constructor(options: LinkScheduleOptions) {
    const o = options;
    const t = linkTimings(o);
    this.o = { clock: o.clock, events: o.events, link: o.link, idleMs: t.idleMs, pollMs: t.pollMs, pollMaxMs: t.pollMaxMs, batchMs: t.batchMs };
    this.pollWait = t.pollMs;
    this.nextWait = t.pollMs;
    this.subs = [o.events.on((e) => this.event(e))];
    o.clock.after(0, () => this.wake());
  }

  /** How long after this session ends the next collection is due. */
  nextPollMs(): number {
    return this.nextWait;
  }

  /** True while the link is wanted up. */
  active(): boolean {
    return this.on;
  }

  close(): void {
    for (let i = 0; i < this.subs.length; i++) this.subs[i].cancel();
    if (this.batch) this.batch.cancel();
    if (this.poll) this.poll.cancel();
    if (this.checker) this.checker.cancel();
  }

  private event(e: BoxEvent): void {
    if (e.type === "cmd") this.commands++;
    if (LINK_TYPES[e.type]) return;
    this.lastActivity = this.o.clock.monotonic();
    if (this.on) return;
    // Within RETRY_URGENT_MS of an attempt that found no network, searching again is likely futile: the retry carries every event.
    if (this.failedAt >= 0 && this.lastActivity - this.failedAt < RETRY_URGENT_MS) return;
    if (urgent(e)) this.wake();
    else if (!this.batch) this.batch = this.o.clock.after(this.o.batchMs, () => this.wake());
  }

  private wake(): void {
    if (this.batch) this.batch.cancel();
    this.batch = undefined;
    this.lastActivity = this.o.clock.monotonic();
    if (this.on) return;
    this.on = true;
    this.wokeAt = this.lastActivity;
    if (this.poll) this.poll.cancel();
    this.poll = undefined;
    this.commands = 0;
    this.seenUp = false;
    this.checker = this.o.clock.every(Math.max(1000, Math.floor(this.o.idleMs / 4)), () => this.check());
    this.o.link.start();
  }

  private check(): void {
    const l = this.o.link;
    if (!this.on) return;
    const now = this.o.clock.monotonic();
    if (!l.up()) {
      // No network (or no broker): searching is the costliest thing the modem does, so give up and try later, backing off.
      if (now - this.wokeAt < SESSION_GIVE_UP_MS) return;
      this.retryWait = Math.min(this.o.pollMaxMs, this.retryWait ? this.retryWait * 2 : RETRY_FIRST_MS);
      this.failedAt = now;
      return this.down(this.retryWait);
    }
    this.retryWait = 0;
    this.failedAt = -1;
    // The idle time runs from the link coming up, so the broker has it to hand over what it queued.
    if (!this.seenUp) {
      this.seenUp = true;
      this.lastActivity = now;
    }
    if (l.pending() > 0 || now - this.lastActivity < this.o.idleMs) return;
    // A session that brought a command hints at more: collect again soon. One that brought none lets the next wait longer.
    if (this.commands > 0) this.pollWait = this.o.pollMs;
    const wait = this.pollWait;
    this.pollWait = Math.min(this.o.pollMaxMs, this.pollWait * 2);
    this.down(wait);
  }

  private down(nextInMs: number): void {
    this.on = false;
    if (this.checker) this.checker.cancel();
    this.checker = undefined;
    this.o.link.stop();
    this.o.link.sleep();
    this.nextWait = nextInMs;
    this.poll = this.o.clock.after(nextInMs, () => {
      this.poll = undefined;
      this.wake();
    });
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
