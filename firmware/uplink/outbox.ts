import { Random } from "../../hal";
import { BoxEvent, EventValue } from "../events";
import { utf8Encode, utf8Decode } from "../mqtt/codec";

/**
 * The durable record store the outbox sits on: firmware/store/journal.ts
 * (append-only records with sequence numbers and CRCs in preallocated
 * flash files). append/rewrite return false when the record is not durable.
 */
export interface RecordLog {
  records(): Uint8Array[];
  append(rec: Uint8Array): boolean;
  rewrite(recs: Uint8Array[]): boolean;
  close(): void;
}

export interface OutboxOptions {
  log: RecordLog;
  random: Random;
  /** Most undelivered events kept (default 48); see the overflow policy on Outbox. */
  capacity?: number;
  /** Event types that a newer event of the same type supersedes (default: telemetry and link state). */
  coalesce?: string[];
}

export interface OutItem {
  seq: number;
  /** The MQTT payload: the event as JSON with epoch and sequence number. */
  payload: Uint8Array;
  /** May have been published before (an earlier boot or an earlier attempt). */
  dup: boolean;
}

interface Item {
  seq: number;
  type: string;
  payload: Uint8Array;
  /** Pushed in this boot and never handed out by peek(): safe to fold into an overflow record. */
  fresh: boolean;
  acked: boolean;
  /** For overflow records: what they stand for. */
  lost?: { [k: string]: EventValue };
}

const H = 0x48;
const REC_EVENT = 0x45;
/** Largest event payload; the outbox journal's segments must hold one such record (segmentBytes >= 256). */
const MAX_PAYLOAD = 200;

/**
 * Journal records (all integers big-endian):
 *   'H' (0x48) epoch u32, acked u32: the stream's identity and the highest
 *       sequence number the broker has acknowledged, with every one before it.
 *       Written first by every rewrite and appended after each ack.
 *   'E' (0x45) seq u32, then the event's MQTT payload (UTF-8 JSON
 *       {"ep":epoch,"seq":n,"type":..,"reason":..,"t":..,"m":..,"d":{..}}).
 * On load the last 'H' wins; events at or below its acked are delivered.
 * The epoch is random per fresh store, so an owner that de-duplicates by
 * (epoch, seq) is not fooled when a wiped box starts counting from 1 again.
 */
function header(epoch: number, acked: number): Uint8Array {
  const r = new Uint8Array(9);
  r[0] = H;
  put32(r, 1, epoch);
  put32(r, 5, acked);
  return r;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 255;
  b[at + 1] = (v >>> 16) & 255;
  b[at + 2] = (v >>> 8) & 255;
  b[at + 3] = v & 255;
}

function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

/**
 * Every event, delivered at least once and in order, across link drops,
 * reboots and power cuts: an event is in flash before push() returns and
 * leaves only when the broker acknowledged it.
 *
 * Policy when full (capacity undelivered events, or the journal out of
 * space even after compaction): first the oldest undelivered event of a
 * coalescing type (telemetry, link state) is dropped when a newer one of
 * that type is queued; otherwise the two oldest events never handed to the
 * link are folded into one "outbox"/"overflow" event that keeps the first
 * one's sequence number and carries {lost, to, <type>: count}. Access,
 * latch and tamper events are therefore never dropped silently: the owner
 * sees exactly which sequence range was lost and of which kinds.
 */
export class Outbox {
  readonly epoch: number;
  private readonly o: OutboxOptions;
  private readonly cap: number;
  private readonly coalesce: string[];
  private items: Item[] = [];
  private acked = 0;
  private next = 1;
  private unsaved = 0;
  private closed = false;

  constructor(options: OutboxOptions) {
    if (!options || !options.log || !options.random) throw new Error("outbox_options");
    const cap = options.capacity === undefined ? 48 : options.capacity;
    if (!(cap >= 4 && cap <= 1000)) throw new Error("outbox_capacity");
    this.o = options;
    this.cap = cap;
    this.coalesce = options.coalesce === undefined ? ["telemetry", "link"] : options.coalesce;
    let epoch = -1;
    const recs = options.log.records();
    const loaded: Item[] = [];
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r.length === 9 && r[0] === H) {
        epoch = get32(r, 1);
        const a = get32(r, 5);
        if (a > this.acked) this.acked = a;
      } else if (r.length > 5 && r[0] === REC_EVENT) {
        const seq = get32(r, 1);
        const payload = r.slice(5);
        const type = typeOf(payload);
        if (type !== undefined && seq >= this.next) {
          loaded.push({ seq: seq, type: type, payload: payload, fresh: false, acked: false });
          this.next = seq + 1;
        }
      }
    }
    if (this.acked >= this.next) this.next = this.acked + 1;
    for (let i = 0; i < loaded.length; i++) if (loaded[i].seq > this.acked) this.items.push(loaded[i]);
    if (epoch < 0) {
      const b = options.random.bytes(4);
      epoch = get32(b, 0);
      options.log.rewrite([header(epoch, 0)]);
    }
    this.epoch = epoch;
  }

  /** Undelivered events. */
  get size(): number {
    return this.items.length;
  }

  /** The sequence number the next event will get. */
  get nextSeq(): number {
    return this.next;
  }

  /**
   * Stores e durably and gives it the next sequence number. Returns an error
   * code when it could not be stored; the loss is then reported in the next
   * stored event's overflow record.
   */
  push(e: BoxEvent): string | undefined {
    if (this.closed) return "outbox_closed";
    if (this.unsaved > 0) {
      const n = this.unsaved;
      this.unsaved = 0;
      if (this.store({ type: "outbox", reason: "unsaved", t: e.t, m: e.m, d: { lost: n } })) this.unsaved += n;
    }
    const err = this.store(e);
    if (err) this.unsaved++;
    return err;
  }

  /**
   * Up to max undelivered events with a sequence number above after, oldest
   * first. Once handed out they are no longer folded into overflow records.
   */
  peek(after: number, max: number): OutItem[] {
    const out: OutItem[] = [];
    for (let i = 0; i < this.items.length && out.length < max; i++) {
      const it = this.items[i];
      if (it.acked || it.seq <= after) continue;
      out.push({ seq: it.seq, payload: it.payload, dup: !it.fresh });
      it.fresh = false;
    }
    return out;
  }

  /** The broker acknowledged seq: it leaves the outbox once every earlier one has too. */
  ack(seq: number): void {
    if (this.closed) return;
    let moved = false;
    for (let i = 0; i < this.items.length; i++) if (this.items[i].seq === seq) this.items[i].acked = true;
    while (this.items.length && this.items[0].acked) {
      this.acked = this.items[0].seq;
      this.items.shift();
      moved = true;
    }
    if (moved && !this.o.log.append(header(this.epoch, this.acked))) this.compact();
  }

  close(): void {
    this.closed = true;
  }

  private store(e: BoxEvent): string | undefined {
    if (this.items.length >= this.cap) this.makeRoom(e.type);
    if (this.items.length >= this.cap) return "outbox_full";
    const seq = this.next;
    const payload = this.encode(seq, e);
    const rec = new Uint8Array(5 + payload.length);
    rec[0] = REC_EVENT;
    put32(rec, 1, seq);
    rec.set(payload, 5);
    const it: Item = { seq: seq, type: e.type, payload: payload, fresh: true, acked: false };
    if (e.type === "outbox" && e.reason === "overflow" && e.d) it.lost = e.d;
    this.items.push(it);
    if (this.o.log.append(rec) || this.compact()) {
      this.next = seq + 1;
      return undefined;
    }
    // no space even after compaction: fold older events until the rewrite fits
    while (this.fold()) {
      if (this.compact()) {
        this.next = seq + 1;
        return undefined;
      }
    }
    this.items.pop();
    this.compact();
    return "outbox_store_full";
  }

  private encode(seq: number, e: BoxEvent): Uint8Array {
    const b = utf8Encode(this.json(seq, e.type, e.reason, e.t, e.m, e.d ? JSON.stringify(e.d) : ""));
    if (b.length <= MAX_PAYLOAD) return b;
    // one event must fit one journal record: oversized details are cut, and say so
    return utf8Encode(this.json(seq, e.type.substr(0, 24), e.reason.substr(0, 40), e.t, e.m, '{"cut":' + b.length + "}"));
  }

  private json(seq: number, type: string, reason: string, t: number, m: number, d: string): string {
    const s = '{"ep":' + this.epoch + ',"seq":' + seq + ',"type":' + JSON.stringify(type) + ',"reason":' + JSON.stringify(reason) + ',"t":' + t + ',"m":' + m;
    return s + (d ? ',"d":' + d : "") + "}";
  }

  /** Rewrites the journal with only what is undelivered. */
  private compact(): boolean {
    const recs: Uint8Array[] = [header(this.epoch, this.acked)];
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[i];
      const r = new Uint8Array(5 + it.payload.length);
      r[0] = REC_EVENT;
      put32(r, 1, it.seq);
      r.set(it.payload, 5);
      recs.push(r);
    }
    return this.o.log.rewrite(recs);
  }

  private makeRoom(type: string): void {
    if (this.coalesce.indexOf(type) >= 0) {
      for (let i = 0; i < this.items.length; i++) {
        const it = this.items[i];
        if (it.fresh && it.type === type) {
          this.items.splice(i, 1);
          this.compact();
          return;
        }
      }
    }
    if (this.fold()) this.compact();
  }

  /** Folds the two oldest fresh events into one overflow record. false when nothing can be folded. */
  private fold(): boolean {
    let a = -1;
    for (let i = 0; i < this.items.length - 1; i++) {
      if (this.items[i].fresh && this.items[i + 1].fresh) {
        a = i;
        break;
      }
    }
    if (a < 0) return false;
    const x = this.items[a];
    const y = this.items[a + 1];
    const d: { [k: string]: EventValue } = {};
    count(d, x);
    count(d, y);
    const last = y.lost ? (y.lost.to as number) : y.seq;
    d.to = last;
    const m = parseM(x.payload);
    const p = this.encode(x.seq, { type: "outbox", reason: "overflow", t: m.t, m: m.m, d: d });
    this.items.splice(a, 2, { seq: x.seq, type: "outbox", payload: p, fresh: true, acked: false, lost: d });
    return true;
  }
}

/** Adds what it stands for to an overflow record's counts. */
function count(d: { [k: string]: EventValue }, it: Item): void {
  if (it.lost) {
    for (const k in it.lost) {
      if (k === "to") continue;
      d[k] = ((d[k] as number) || 0) + (it.lost[k] as number);
    }
    return;
  }
  d.lost = ((d.lost as number) || 0) + 1;
  d[it.type] = ((d[it.type] as number) || 0) + 1;
}

function parse(payload: Uint8Array): { [k: string]: unknown } | undefined {
  const s = utf8Decode(payload, 0, payload.length);
  if (s === undefined) return undefined;
  try {
    const v = JSON.parse(s);
    return v && typeof v === "object" ? v : undefined;
  } catch (e) {
    return undefined;
  }
}

function typeOf(payload: Uint8Array): string | undefined {
  const v = parse(payload);
  return v && typeof v.type === "string" ? v.type : undefined;
}

function parseM(payload: Uint8Array): { t: number; m: number } {
  const v = parse(payload);
  return { t: v && typeof v.t === "number" ? v.t : 0, m: v && typeof v.m === "number" ? v.m : 0 };
}
