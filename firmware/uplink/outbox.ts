import { getU32be, putU32be } from "../store/bytes";
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
  /** Most undelivered events kept (default 32); see the policy on Outbox. */
  capacity?: number;
  /**
   * Most bytes the undelivered records may take, framing included, so that
   * a rewrite of them always fits the journal (default: no limit). The
   * journal's plan gives it: outboxBytes(segmentBytes, maxSegments).
   */
  bytes?: number;
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
  rank: number;
  payload: Uint8Array;
  /** Pushed in this boot and never handed out by peek(). */
  fresh: boolean;
  /** Handed to the link in this boot and not yet acknowledged: the client holds it, so it stays. */
  flying: boolean;
  acked: boolean;
}

/** Events lost and not yet reported: sequence range, how many, how many of each type, when the last was. */
interface Tally {
  from: number;
  to: number;
  lost: number;
  t: number;
  m: number;
  c: { [type: string]: number };
}

/*
 * What gives way when the outbox is full: the lowest rank first, the oldest
 * first within a rank. Chatter at rank 0 therefore coalesces (the newest
 * modem or link state supersedes older ones) long before anything the owner
 * must see. Keys are "type/reason" or "type"; unknown types rank 2. Loss
 * reports (type "outbox") are never dropped.
 */
const RANKS: { [key: string]: number } = {
  telemetry: 0,
  link: 0,
  modem: 0,
  ble: 1,
  time: 1,
  power: 2,
  grants: 3,
  cmd: 3,
  boot: 3,
  provision: 3,
  lid: 3,
  key: 3,
  latch: 3,
  access: 4,
  tamper: 4,
  latch_refused: 4,
  latch_recovery: 4,
  "latch/fault": 4,
  "power/battery_critical": 4,
  outbox: 9,
};

export function rankOf(type: string, reason: string): number {
  const r = RANKS[type + "/" + reason];
  if (typeof r === "number") return r;
  const t = RANKS[type];
  return typeof t === "number" ? t : 2;
}

const H = 0x48;
const REC_EVENT = 0x45;
const REC_SHORT = 0x65;
const REC_DROP = 0x44;
const REC_LOSS = 0x4c;
/** Losses one 'L' record carries at most; more go in a full 'D'. */
const MAX_LOSS_ENTRIES = 64;
/** Largest event payload (longer details are cut, and say so). */
const MAX_PAYLOAD = 200;
/** Largest loss report: its counts by type are never cut. */
const MAX_LOSS = 480;
/** Journal framing per record (firmware/store/journal.ts) and the journal's segment header. */
const FRAME = 12;
const SEG_HEAD = 16;
const MAX_REC = FRAME + 5 + MAX_PAYLOAD;
/** Room kept beside the events for the header, one loss report and one drop record. */
const RESERVE = FRAME + 13 + (FRAME + 5 + MAX_LOSS) + (FRAME + 6 + MAX_LOSS);
const LOST = "lost";
/** Acknowledgements written to flash together (see flush). */
const ACK_BATCH = 16;

/**
 * Bytes of events a journal of maxSegments files of segmentBytes can always
 * take in one rewrite: a record never spans two files, so each file may
 * waste up to one largest record.
 */
export function outboxBytes(segmentBytes: number, maxSegments: number): number {
  return maxSegments * (segmentBytes - SEG_HEAD - MAX_REC + 1) - RESERVE;
}

/** The journal bytes capacity events of the largest size need (the inverse of outboxBytes). */
export function outboxSegments(capacity: number, segmentBytes: number): number {
  return Math.ceil((capacity * MAX_REC + RESERVE) / (segmentBytes - SEG_HEAD - MAX_REC + 1));
}

/**
 * Journal records (all integers big-endian):
 *   'H' (0x48) epoch u32, acked u32, next u32: the stream's identity, the
 *       highest sequence number the broker acknowledged with every one
 *       before it, and the next sequence number to give (never reused).
 *       Written first by every rewrite, and appended after every
 *       ACK_BATCH acks and when the link goes down or idle (an ack that
 *       missed its record sends its event again after a reboot). (A
 *       9-byte 'H' without next is read too.)
 *   'E' (0x45) seq u32, then the event's MQTT payload (UTF-8 JSON
 *       {"ep":epoch,"seq":n,"type":..,"reason":..,"t":..,"m":..,"d":{..}}).
 *       An "outbox"/"lost" event reports the pending losses: it clears them.
 *   'e' (0x65) seq u32, then the payload without its first bytes
 *       {"ep":epoch,"seq":n, (the epoch of the last 'H' before it): the
 *       same event in fewer bytes, rebuilt byte for byte when read. What
 *       the outbox writes; an 'e' before any 'H' is skipped.
 *   'D' (0x44) k u8, k seq u32 of events dropped by the policy, then the
 *       pending losses after the drop as UTF-8 JSON
 *       {"from":a,"to":b,"lost":n,"t":..,"m":..,"c":{<type>:count}}
 *       ("{}" when none). Written in one append with the drop, so a loss is
 *       durable the moment the event leaves; last one wins.
 *   'L' (0x4C) k u8, t u32, m u32 (seconds), then k times: seq u32, n u8
 *       and n bytes of the event's type: events dropped by the policy,
 *       each counted into the pending losses as they stand at this point
 *       of the journal (t and m are the last loss's time; m in seconds).
 *       The usual drop record: a few dozen bytes where a 'D' repeats the
 *       whole tally. A 'D' is written instead while the tally has changes
 *       flash missed, and by every rewrite.
 * On load the last 'H' gives the epoch and the highest acked and next;
 * events at or below acked are delivered. The epoch is random per fresh
 * store, so an owner that de-duplicates by (epoch, seq) is not fooled when a
 * wiped box starts counting from 1 again.
 */
function header(epoch: number, acked: number, next: number): Uint8Array {
  const r = new Uint8Array(13);
  r[0] = H;
  putU32be(r, 1, epoch);
  putU32be(r, 5, acked);
  putU32be(r, 9, next);
  return r;
}

/** The bytes every payload of this epoch and seq starts with (see Outbox.json). */
function payloadHead(epoch: number, seq: number): Uint8Array {
  return utf8Encode('{"ep":' + epoch + ',"seq":' + seq + ",");
}

/** An 'e' record when the payload starts with its epoch and seq (always, for the outbox's own), else an 'E'. */
function eventRecord(epoch: number, seq: number, payload: Uint8Array): Uint8Array {
  const head = payloadHead(epoch, seq);
  let same = payload.length > head.length;
  for (let i = 0; same && i < head.length; i++) same = payload[i] === head[i];
  const skip = same ? head.length : 0;
  const r = new Uint8Array(5 + payload.length - skip);
  r[0] = same ? REC_SHORT : REC_EVENT;
  putU32be(r, 1, seq);
  r.set(payload.subarray(skip), 5);
  return r;
}

function lossRecord(gone: Item[], tally: Tally): Uint8Array {
  let n = 10;
  for (let i = 0; i < gone.length; i++) n += 5 + Math.min(24, gone[i].type.length);
  const r = new Uint8Array(n);
  r[0] = REC_LOSS;
  r[1] = gone.length;
  putU32be(r, 2, tally.t);
  putU32be(r, 6, Math.floor(tally.m / 1000));
  let p = 10;
  for (let i = 0; i < gone.length; i++) {
    const t = gone[i].type;
    const len = Math.min(24, t.length);
    putU32be(r, p, gone[i].seq);
    r[p + 4] = len;
    for (let k = 0; k < len; k++) r[p + 5 + k] = t.charCodeAt(k) & 0xff;
    p += 5 + len;
  }
  return r;
}

/** Applies an 'L' record to a tally: the losses it names, after those already counted. Undefined when it does not parse. */
function applyLoss(r: Uint8Array, tally: Tally | undefined, out: number[]): Tally | undefined {
  if (r.length < 10) return undefined;
  const t = copyTally(tally) || { from: 0, to: 0, lost: 0, t: 0, m: 0, c: {} };
  let p = 10;
  for (let i = 0; i < r[1]; i++) {
    if (p + 5 > r.length || p + 5 + r[p + 4] > r.length) return undefined;
    const seq = getU32be(r, p);
    let type = "";
    for (let k = 0; k < r[p + 4]; k++) type += String.fromCharCode(r[p + 5 + k]);
    if (t.lost === 0 || seq < t.from) t.from = seq;
    if (t.lost === 0 || seq > t.to) t.to = seq;
    t.lost++;
    t.c[type] = (t.c[type] || 0) + 1;
    out.push(seq);
    p += 5 + r[p + 4];
  }
  t.t = getU32be(r, 2);
  t.m = getU32be(r, 6) * 1000;
  return t;
}

function dropRecord(seqs: number[], tally: Tally | undefined): Uint8Array {
  const j = utf8Encode(tally ? JSON.stringify(tally) : "{}");
  const r = new Uint8Array(2 + 4 * seqs.length + j.length);
  r[0] = REC_DROP;
  r[1] = seqs.length;
  for (let i = 0; i < seqs.length; i++) putU32be(r, 2 + 4 * i, seqs[i]);
  r.set(j, 2 + 4 * seqs.length);
  return r;
}

/**
 * Every event, delivered at least once and in order, across link drops,
 * reboots and power cuts: an event is in flash before push() returns and
 * leaves only when the broker acknowledged it, or when the policy drops it
 * with a durable record of the loss. Sequence numbers are never reused and a
 * stored payload never changes, so whatever the owner received stays true.
 *
 * Policy when full (capacity events, or the bytes a rewrite may take): the
 * event of the lowest rank (RANKS) that the link does not hold gives way,
 * the oldest first; the new event itself when it ranks below all of them.
 * Each drop is written in the same record as the loss tally (sequence
 * range, count, count by type). The tally reaches the owner as an event
 * "outbox"/"lost" {from, to, lost, <type>: count} with its own sequence
 * number, made when the link takes events and no earlier report is still
 * undelivered; sequence numbers in [from, to] the owner never receives are
 * the lost ones. Loaded records obey the same policy after a reboot.
 */
export class Outbox {
  readonly epoch: number;
  private readonly o: OutboxOptions;
  private readonly cap: number;
  private readonly bytes: number;
  private items: Item[] = [];
  private acked = 0;
  /** The acked watermark flash holds. */
  private savedAck = 0;
  private next = 1;
  private tally: Tally | undefined;
  /** The tally has changes flash does not hold yet (the flash refused them). */
  private unsaved = false;
  private closed = false;

  constructor(options: OutboxOptions) {
    if (!options || !options.log || !options.random) throw new Error("outbox_options");
    const cap = options.capacity === undefined ? 32 : options.capacity;
    if (!(cap >= 4 && cap <= 1000)) throw new Error("outbox_capacity");
    const bytes = options.bytes === undefined ? Infinity : options.bytes;
    if (!(bytes >= 4 * MAX_REC)) throw new Error("outbox_bytes");
    this.o = options;
    this.cap = cap;
    this.bytes = bytes;
    let epoch = -1;
    let next = 1;
    let last = 0;
    const recs = options.log.records();
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if ((r.length === 9 || r.length === 13) && r[0] === H) {
        epoch = getU32be(r, 1);
        const a = getU32be(r, 5);
        if (a > this.acked) this.acked = a;
        if (r.length === 13 && getU32be(r, 9) > next) next = getU32be(r, 9);
      } else if (r.length > 5 && (r[0] === REC_EVENT || (r[0] === REC_SHORT && epoch >= 0))) {
        const seq = getU32be(r, 1);
        let payload = r.slice(5);
        if (r[0] === REC_SHORT) {
          const head = payloadHead(epoch, seq);
          const whole = new Uint8Array(head.length + payload.length);
          whole.set(head, 0);
          whole.set(payload, head.length);
          payload = whole;
        }
        const v = parse(payload);
        if (!v || typeof v.type !== "string" || typeof v.reason !== "string" || seq <= last) continue;
        if (v.type === "outbox" && v.reason === LOST) this.tally = undefined;
        this.items.push({ seq: seq, type: v.type, rank: rankOf(v.type, v.reason), payload: payload, fresh: false, flying: false, acked: false });
        last = seq;
        if (seq >= next) next = seq + 1;
      } else if (r.length >= 2 && r[0] === REC_DROP && r.length >= 2 + 4 * r[1]) {
        const gone: number[] = [];
        for (let k = 0; k < r[1]; k++) gone.push(getU32be(r, 2 + 4 * k));
        this.items = this.items.filter(function (it) {
          return gone.indexOf(it.seq) < 0;
        });
        this.tally = readTally(r.subarray(2 + 4 * r[1]));
        if (this.tally && this.tally.to >= next) next = this.tally.to + 1;
      } else if (r[0] === REC_LOSS) {
        const gone: number[] = [];
        const t = applyLoss(r, this.tally, gone);
        if (!t) continue;
        this.items = this.items.filter(function (it) {
          return gone.indexOf(it.seq) < 0;
        });
        this.tally = t;
        if (t.to >= next) next = t.to + 1;
      }
    }
    if (this.acked >= next) next = this.acked + 1;
    this.next = next;
    this.savedAck = this.acked;
    const acked = this.acked;
    this.items = this.items.filter(function (it) {
      return it.seq > acked;
    });
    if (epoch < 0) {
      const b = options.random.bytes(4);
      epoch = getU32be(b, 0);
      options.log.rewrite([header(epoch, this.acked, this.next)]);
    }
    this.epoch = epoch;
    // a smaller capacity than the journal was filled with: the same policy trims it
    const gone = this.victims(undefined);
    if (gone.length) this.drop(gone, undefined);
  }

  /** Undelivered events. */
  get size(): number {
    return this.items.length;
  }

  /** The sequence number the next event will get. */
  get nextSeq(): number {
    return this.next;
  }

  /** Events lost and not yet reported to the owner. */
  get pendingLoss(): number {
    return this.tally ? this.tally.lost : 0;
  }

  /**
   * Stores e durably under the next sequence number. Returns an error code
   * when e is not kept: the policy dropped it ("outbox_full") or the flash
   * refused it ("outbox_store_failed"); either way its sequence number is in
   * the loss tally, durably unless the flash refuses that too.
   */
  push(e: BoxEvent): string | undefined {
    if (this.closed) return "outbox_closed";
    const seq = this.next++;
    const payload = this.encode(seq, e.type, e.reason, e.t, e.m, e.d ? JSON.stringify(e.d) : "", MAX_PAYLOAD);
    const it: Item = { seq: seq, type: e.type, rank: rankOf(e.type, e.reason), payload: payload, fresh: true, flying: false, acked: false };
    const gone = this.victims(it);
    if (gone.indexOf(it) >= 0) {
      this.drop(gone, it);
      return "outbox_full";
    }
    const before = this.items;
    const tally = copyTally(this.tally);
    this.forget(gone);
    // the drop and its tally first: a power cut before the event lands loses only the event being pushed
    const needDrop = gone.length > 0 || this.unsaved;
    const dropped = needDrop && this.o.log.append(this.lossOf(gone));
    if (dropped) this.unsaved = false;
    const ok = (dropped || !needDrop) && this.o.log.append(eventRecord(this.epoch, seq, payload));
    this.items.push(it);
    if (ok || this.compact()) {
      this.unsaved = false;
      return undefined;
    }
    // the flash refuses it: what was dropped for it stays only if that is on flash already
    this.items.pop();
    if (!dropped) {
      this.items = before;
      this.tally = tally;
    }
    this.lose(it);
    this.unsaved = !this.o.log.append(dropRecord([], this.tally));
    return "outbox_store_failed";
  }

  /**
   * Up to max undelivered events with a sequence number above after, oldest
   * first; the link holds them until ack(), so the policy no longer drops
   * them. When every event is handed out and losses are pending with no
   * earlier report undelivered, the report is made now, stored, and handed
   * out last.
   */
  peek(after: number, max: number): OutItem[] {
    const out: OutItem[] = [];
    let all = true;
    let reporting = false;
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[i];
      if (it.type === "outbox" && !it.acked) reporting = true;
      if (it.acked || it.seq <= after) continue;
      if (out.length >= max) {
        all = false;
        continue;
      }
      out.push({ seq: it.seq, payload: it.payload, dup: !it.fresh });
      it.fresh = false;
      it.flying = true;
    }
    if (all && !reporting && out.length < max && this.tally && !this.closed) {
      const r = this.report();
      if (r) out.push({ seq: r.seq, payload: r.payload, dup: false });
    }
    return out;
  }

  /** The broker acknowledged seq: it leaves the outbox once every earlier one has too. */
  ack(seq: number): void {
    if (this.closed) return;
    let moved = false;
    for (let i = 0; i < this.items.length; i++) {
      if (this.items[i].seq === seq) {
        this.items[i].acked = true;
        this.items[i].flying = false;
      }
    }
    while (this.items.length && this.items[0].acked) {
      this.acked = this.items[0].seq;
      this.items.shift();
      moved = true;
    }
    if (moved && this.acked - this.savedAck >= ACK_BATCH) this.flush();
  }

  /**
   * Makes the acknowledged watermark durable. Acks are written in batches
   * (every ACK_BATCH, and whenever the link goes down or idle), not one
   * record each: an ack lost to a power cut only sends those events again,
   * which the owner drops as duplicates, while a record per ack would cost
   * as much flash as the events themselves.
   */
  flush(): void {
    if (this.closed || this.acked === this.savedAck) return;
    if (this.o.log.append(header(this.epoch, this.acked, this.next)) || this.compact()) this.savedAck = this.acked;
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Stores the pending loss tally as an event; undefined when the flash refused it (the tally stays). */
  private report(): Item | undefined {
    const t = this.tally as Tally;
    const d: { [k: string]: EventValue } = { from: t.from, to: t.to, lost: t.lost };
    for (const k in t.c) d[k] = t.c[k];
    const seq = this.next;
    let payload = this.encode(seq, "outbox", LOST, t.t, t.m, JSON.stringify(d), MAX_LOSS);
    // the range and the count are never cut, only the counts by type
    if (payload.length > MAX_LOSS) payload = this.encode(seq, "outbox", LOST, t.t, t.m, JSON.stringify({ from: t.from, to: t.to, lost: t.lost, cut: 1 }), MAX_LOSS);
    const it: Item = { seq: seq, type: "outbox", rank: rankOf("outbox", LOST), payload: payload, fresh: false, flying: true, acked: false };
    this.next = seq + 1;
    this.tally = undefined;
    this.items.push(it);
    // the report carries the whole tally: once it is on flash, nothing else is pending
    if (this.o.log.append(eventRecord(this.epoch, seq, it.payload)) || this.compact()) {
      this.unsaved = false;
      return it;
    }
    this.items.pop();
    this.tally = t;
    this.next = seq;
    return undefined;
  }

  /**
   * What must give way for it (undefined: only what is over the limits now),
   * chosen by rank then age; includes it when it ranks lowest.
   */
  private victims(it: Item | undefined): Item[] {
    const out: Item[] = [];
    let n = this.items.length + (it ? 1 : 0);
    let b = it ? it.payload.length + FRAME + 5 : 0;
    for (let i = 0; i < this.items.length; i++) b += this.items[i].payload.length + FRAME + 5;
    while (n > this.cap || b > this.bytes) {
      let v: Item | undefined;
      for (let i = 0; i < this.items.length; i++) {
        const x = this.items[i];
        if (x.flying || x.acked || x.rank >= 9 || out.indexOf(x) >= 0) continue;
        if (!v || x.rank < v.rank) v = x;
      }
      if (it && out.indexOf(it) < 0 && (!v || it.rank < v.rank)) v = it;
      if (!v) break;
      out.push(v);
      n--;
      b -= v.payload.length + FRAME + 5;
    }
    return out;
  }

  /** Drops gone (it among them when it is the new event) with one durable record, or a rewrite. */
  private drop(gone: Item[], it: Item | undefined): void {
    this.forget(gone);
    if ((gone.length < 256 && this.o.log.append(this.lossOf(gone))) || this.compact()) this.unsaved = false;
    else this.unsaved = true;
  }

  /**
   * The record of the losses just counted: an 'L' naming them, or a full
   * 'D' when the tally on flash is behind (an earlier write failed) or they
   * are too many for one 'L'. gone were counted in the tally already.
   */
  private lossOf(gone: Item[]): Uint8Array {
    if (!this.unsaved && this.tally && gone.length > 0 && gone.length <= MAX_LOSS_ENTRIES) return lossRecord(gone, this.tally);
    return dropRecord(seqsOf(gone), this.tally);
  }

  /** Removes gone from the items (in RAM) and counts each in the tally. */
  private forget(gone: Item[]): void {
    if (!gone.length) return;
    this.items = this.items.filter(function (x) {
      return gone.indexOf(x) < 0;
    });
    for (let i = 0; i < gone.length; i++) this.lose(gone[i]);
  }

  private lose(it: Item): void {
    const v = parse(it.payload);
    let t = this.tally;
    if (!t) {
      t = { from: it.seq, to: it.seq, lost: 0, t: 0, m: 0, c: {} };
      this.tally = t;
    }
    if (it.seq < t.from) t.from = it.seq;
    if (it.seq > t.to) t.to = it.seq;
    t.lost++;
    t.c[it.type] = (t.c[it.type] || 0) + 1;
    if (v && typeof v.t === "number") t.t = v.t;
    if (v && typeof v.m === "number") t.m = v.m;
  }

  private encode(seq: number, type: string, reason: string, t: number, m: number, d: string, max: number): Uint8Array {
    const b = utf8Encode(this.json(seq, type, reason, t, m, d));
    if (b.length <= max) return b;
    // one event must fit one journal record: oversized details are cut, and say so
    return utf8Encode(this.json(seq, type.substr(0, 24), reason.substr(0, 40), t, m, '{"cut":' + b.length + "}"));
  }

  private json(seq: number, type: string, reason: string, t: number, m: number, d: string): string {
    const s = '{"ep":' + this.epoch + ',"seq":' + seq + ',"type":' + JSON.stringify(type) + ',"reason":' + JSON.stringify(reason) + ',"t":' + t + ',"m":' + m;
    return s + (d ? ',"d":' + d : "") + "}";
  }

  /** Rewrites the journal with only what is undelivered, and the pending tally. */
  private compact(): boolean {
    const recs: Uint8Array[] = [header(this.epoch, this.acked, this.next)];
    for (let i = 0; i < this.items.length; i++) recs.push(eventRecord(this.epoch, this.items[i].seq, this.items[i].payload));
    if (this.tally) recs.push(dropRecord([], this.tally));
    if (!this.o.log.rewrite(recs)) return false;
    this.savedAck = this.acked;
    return true;
  }
}

function seqsOf(list: Item[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < list.length; i++) out.push(list[i].seq);
  return out;
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

function copyTally(t: Tally | undefined): Tally | undefined {
  if (!t) return undefined;
  const c: { [type: string]: number } = {};
  for (const k in t.c) c[k] = t.c[k];
  return { from: t.from, to: t.to, lost: t.lost, t: t.t, m: t.m, c: c };
}

function readTally(b: Uint8Array): Tally | undefined {
  const v = parse(b);
  if (!v || typeof v.from !== "number" || typeof v.to !== "number" || typeof v.lost !== "number" || !v.c || typeof v.c !== "object") return undefined;
  return { from: v.from, to: v.to, lost: v.lost, t: typeof v.t === "number" ? v.t : 0, m: typeof v.m === "number" ? v.m : 0, c: v.c as { [type: string]: number } };
}
