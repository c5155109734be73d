/** One event as the box publishes it on kb/<box>/events (see firmware/uplink/topics.ts). */
export interface WireEvent {
  ep: number;
  seq: number;
  type: string;
  reason: string;
  t: number;
  m: number;
  d?: { [k: string]: string | number | boolean };
}

/**
 * The owner's view of the event stream: each (epoch, seq) once, in sequence
 * order. Duplicates (at-least-once delivery) are dropped; an event that
 * arrives ahead of a missing one is held until the gap fills or until
 * flushGaps() gives up on it (an overflow record names what was lost, so a
 * real gap means events are still on their way). A new epoch (a box whose
 * store was wiped) starts a new stream.
 */
export class EventFollower {
  private epoch: number | undefined;
  private last: number;
  private held: { [seq: number]: WireEvent } = {};
  /** Numbers a loss report covers that never came: not waited for. */
  private gone: { [seq: number]: boolean } = {};
  duplicates = 0;

  constructor(state: { epoch?: number; last?: number } = {}) {
    this.epoch = state.epoch;
    this.last = state.last === undefined ? 0 : state.last;
  }

  /** Starts the stream at seq of epoch (what a replay begins with): earlier events count as seen. */
  startAt(epoch: number, seq: number): void {
    this.epoch = epoch;
    this.last = seq - 1;
    this.held = {};
    this.gone = {};
  }

  /** Where the stream stands, to persist between runs. */
  state(): { epoch?: number; last: number } {
    return { epoch: this.epoch, last: this.last };
  }

  /** Feeds one payload; returns the events now ready, in order. */
  feed(payload: string | Buffer): WireEvent[] {
    let e: WireEvent;
    try {
      e = JSON.parse(payload.toString());
    } catch (err) {
      return [];
    }
    if (!e || typeof e.seq !== "number" || typeof e.ep !== "number") return [];
    if (this.epoch !== e.ep) {
      this.epoch = e.ep;
      this.last = e.seq - 1;
      this.held = {};
      this.gone = {};
    }
    if (e.seq <= this.last || this.held[e.seq]) {
      this.duplicates++;
      return [];
    }
    this.held[e.seq] = e;
    // a loss report comes after every survivor of its range: numbers there still missing were lost on the box
    if (e.type === "outbox" && e.reason === "lost" && e.d && typeof e.d.from === "number" && typeof e.d.to === "number") {
      for (let s = Math.max(this.last + 1, e.d.from); s <= e.d.to; s++) if (!this.held[s]) this.gone[s] = true;
    }
    return this.release();
  }

  /** Gives up waiting for missing sequence numbers: returns what was held, in order. */
  flushGaps(): { skipped: number[]; events: WireEvent[] } {
    const seqs = Object.keys(this.held).map(Number).sort((a, b) => a - b);
    if (!seqs.length) return { skipped: [], events: [] };
    const skipped: number[] = [];
    for (let s = this.last + 1; s < seqs[0]; s++) skipped.push(s);
    this.last = seqs[0] - 1;
    return { skipped, events: this.release() };
  }

  /** Events waiting for an earlier one. */
  get waiting(): number {
    return Object.keys(this.held).length;
  }

  private release(): WireEvent[] {
    const out: WireEvent[] = [];
    while (this.held[this.last + 1] || this.gone[this.last + 1]) {
      const e = this.held[this.last + 1];
      delete this.held[this.last + 1];
      delete this.gone[this.last + 1];
      this.last++;
      if (e) out.push(e);
    }
    return out;
  }
}

/** One line for a person. */
export function formatWireEvent(e: WireEvent): string {
  const when = e.t > 0 ? new Date(e.t * 1000).toISOString().replace(".000Z", "Z") : "clock-unknown +" + e.m + "ms";
  let s = "#" + e.seq + " " + when + " " + e.type + "/" + e.reason;
  if (e.d) s += " " + JSON.stringify(e.d);
  if (e.type === "outbox" && e.reason === "overflow" && e.d) s += "  <- events #" + e.seq + "..#" + e.d.to + " were lost on the box (outbox full)";
  if (e.type === "outbox" && e.reason === "lost" && e.d) s += "  <- " + e.d.lost + " events between #" + e.d.from + " and #" + e.d.to + " were lost on the box (outbox full)";
  return s;
}
