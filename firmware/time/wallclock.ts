import { getU32be } from "../store/bytes";
import { Clock, Handle } from "../../hal";
import { EventValue } from "../events";
import { RecordLog } from "../uplink/outbox";
import { BUILD_EPOCH_S } from "./epoch";

/** What the grant decision needs to know about time. */
export interface TimeState {
  /** True once the time came from a trusted source (network, signed command, or an RTC that kept running). */
  known: boolean;
  /** Unix seconds, drift-corrected; meaningless while known is false. */
  now: number;
}

export interface WallClockOptions {
  clock: Clock;
  /** Durable store for the time floor (firmware/store/journal.ts). */
  log: RecordLog;
  /** Largest backwards step a source may cause (seconds, default 300). */
  maxBackS?: number;
  /** An RTC at most this far past the stored floor at boot is trusted (seconds, default 2 days). */
  trustRtcS?: number;
  /** How often the floor is written while the clock is known (ms, default 1 hour). */
  floorEveryMs?: number;
  emit?: (type: string, reason: string, d?: { [k: string]: EventValue }) => void;
}

/** Plausible Unix seconds: after 2020 and before 2100. */
const MIN_T = 1577836800;
const MAX_T = 4102444800;

/**
 * What the RTC crystal can do: a 32.768 kHz tuning fork is within ±20 ppm
 * at 25 °C and loses 0.034 ppm/°C² away from it, about -150 ppm at -40 °C
 * or +85 °C; 200 ppm bounds it with margin. No drift estimate goes past it,
 * and a network sample that implies more is refused.
 */
export var RTC_MAX_PPM = 200;
/** Network time is whole seconds and arrives a little late: this much disagreement is noise, not drift. */
export var SAMPLE_SLACK_S = 5;
/**
 * A time more than this past the confirmed reference (the running clock, or
 * the floor after a cold boot; SHELF_S past the build epoch for a box that
 * never had a floor) is a jump: the clock may
 * use it for this boot, but the floor moves only once a second source agrees.
 */
export var JUMP_S = 2 * 86400;
/** A box that never knew the time trusts one at most this long after its firmware was built (time on a shelf). */
export var SHELF_S = 3 * 365 * 86400;
/** Syncs closer together than this say too little about the oscillator (1 s of rounding is 93 ppm over 3 hours). */
var DRIFT_MIN_S = 3 * 3600;

/*
 * Journal records (firmware/store/journal.ts frames and checks them):
 *   4 bytes: the floor, Unix seconds big-endian; the largest one wins.
 *   5 bytes: 0x43 ('C') then a candidate time, Unix seconds big-endian: a
 *            forward jump seen but not yet confirmed; the last one wins.
 */
const CANDIDATE = 0x43;

/**
 * The box's wall clock. The RTC drifts and may restart from 0 after a power
 * loss, so time is "known" only after a sync in this boot or when the RTC at
 * boot is a little past the persisted floor (it kept running through a
 * reset). The floor (the latest time known to have passed) stops a stale or
 * replayed source from dragging the clock back: no sync may land more than
 * maxBackS before it or before the current time.
 *
 * Sources are not believed blindly. Drift is estimated from successive
 * syncs (ppm, positive = RTC runs fast), never beyond RTC_MAX_PPM; a network
 * sample further from the corrected clock than the crystal could have
 * wandered since the last sync is refused ("time_implausible"), so nobody
 * who controls network time can stretch or shrink the box's time. A jump
 * forward beyond JUMP_S sets the clock for this boot only ("provisional"):
 * the floor stays where it was until a second source agrees: a signed owner
 * time agreeing with a network time (either order), or the same network
 * time seen again after a reboot (the candidate is kept in the journal).
 * While the clock is provisional any later sample may replace it, so a
 * wrong jump cannot lock the box's clock in the future either.
 */
export class WallClock {
  private readonly o: WallClockOptions;
  private readonly maxBack: number;
  private known = false;
  private confirmed = false;
  private provSrc = "";
  private floor = 0;
  /** The unconfirmed jump a previous boot saw (0: none). */
  private earlier = 0;
  /** The candidate this boot last wrote. */
  private written = 0;
  private ppm = 0;
  private syncRtc = 0;
  private syncMono = -1;
  private timer: Handle | undefined;

  constructor(options: WallClockOptions) {
    if (!options || !options.clock || !options.log) throw new Error("time_options");
    this.o = options;
    this.maxBack = options.maxBackS === undefined ? 300 : options.maxBackS;
    this.replay(options.log.records());
    const rtc = options.clock.wall();
    this.written = this.earlier;
    const trust = options.trustRtcS === undefined ? 2 * 86400 : options.trustRtcS;
    if (this.floor >= MIN_T && rtc >= this.floor && rtc - this.floor <= trust) this.known = this.confirmed = true;
    const every = options.floorEveryMs === undefined ? 3600000 : options.floorEveryMs;
    this.timer = options.clock.every(every, () => {
      if (!this.known) return;
      const t = Math.floor(this.state().now);
      if (this.confirmed) this.persist(t);
      else this.remember(t);
    });
  }

  /**
   * Its own method, not the constructor's loop: Espruino keeps the whole
   * scope of a function alive for as long as a closure made in it lives
   * (the constructor's timer), and the records replayed at boot (one an
   * hour) would stay in RAM with it.
   */
  private replay(recs: Uint8Array[]): void {
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r.length === 4) {
        const v = getU32be(r, 0);
        if (v > this.floor) this.floor = v;
      } else if (r.length === 5 && r[0] === CANDIDATE) this.earlier = getU32be(r, 1);
    }
  }

  state(): TimeState {
    const rtc = this.o.clock.wall();
    if (!this.known) return { known: false, now: rtc };
    return { known: true, now: rtc - (rtc - this.syncRtc) * this.ppm * 1e-6 };
  }

  /** Estimated RTC drift in parts per million (0 until two syncs far enough apart; never beyond ±RTC_MAX_PPM). */
  get driftPpm(): number {
    return this.ppm;
  }

  /** The latest time known to have passed (Unix seconds, 0 when none). */
  get floorS(): number {
    return this.floor;
  }

  /** False while the clock runs on a forward jump no second source has confirmed (the floor does not follow it). */
  get confirmedTime(): boolean {
    return this.known && this.confirmed;
  }

  /**
   * Time from a source: "net" (the modem's network time) or "cmd" (a signed
   * time command). Returns a refusal code, or undefined once applied (as a
   * confirmed time, or as a provisional one: see the class comment).
   */
  sync(source: string, unixS: number): string | undefined {
    const cur = this.state();
    const mono = this.o.clock.monotonic();
    const firm = cur.known && this.confirmed;
    const delta = cur.known ? unixS - cur.now : 0;
    const elapsed = this.syncMono >= 0 ? (mono - this.syncMono) / 1000 : -1;
    let reason: string | undefined = undefined;
    if (typeof unixS !== "number" || !(unixS >= MIN_T && unixS < MAX_T)) reason = "time_range";
    else if (firm && unixS < cur.now - this.maxBack) reason = "time_backwards";
    else if (unixS < this.floor - this.maxBack) reason = "time_before_floor";
    else if (firm && source === "net" && elapsed >= 0 && Math.abs(delta) > SAMPLE_SLACK_S + (elapsed * (RTC_MAX_PPM + Math.abs(this.ppm))) / 1e6) {
      // further than the crystal could have wandered since the last sync
      reason = "time_implausible";
    }
    if (reason) {
      const r: { [k: string]: EventValue } = { src: source, t: typeof unixS === "number" ? Math.floor(unixS) : 0 };
      if (reason === "time_implausible") {
        r.delta = Math.round(delta);
        r.after = Math.round(elapsed);
      }
      if (this.o.emit) this.o.emit("time", reason, r);
      return reason;
    }
    const agreed = this.vouched(source, unixS, cur, firm);
    if (firm && agreed && elapsed >= DRIFT_MIN_S) {
      const measured = this.ppm - (delta / elapsed) * 1e6;
      const next = this.ppm !== 0 ? 0.7 * this.ppm + 0.3 * measured : measured;
      this.ppm = Math.max(-RTC_MAX_PPM, Math.min(RTC_MAX_PPM, next));
    }
    this.o.clock.setWall(unixS);
    this.syncRtc = unixS;
    this.syncMono = mono;
    const was = cur.known;
    const wasProvisional = was && !this.confirmed;
    this.known = true;
    const d: { [k: string]: EventValue } = { src: source, delta: Math.round(delta), ppm: Math.round(this.ppm) };
    if (agreed) {
      this.confirmed = true;
      this.provSrc = "";
      this.earlier = 0;
      if (this.written !== 0) this.remember(0);
      this.persist(Math.floor(unixS));
      if (this.o.emit) this.o.emit("time", wasProvisional ? "confirmed" : was ? "sync" : "set", d);
      return undefined;
    }
    // A jump nobody has vouched for: usable now, kept for a later boot to confirm, floor untouched.
    this.confirmed = false;
    this.provSrc = source;
    this.remember(Math.floor(unixS));
    d.floor = this.floor;
    if (this.o.emit) this.o.emit("time", "provisional", d);
    return undefined;
  }

  /** Not a jump, or a jump that a second source agrees with. */
  private vouched(source: string, t: number, cur: TimeState, firm: boolean): boolean {
    if (firm ? t <= cur.now + JUMP_S : this.floor > 0 ? t <= this.floor + JUMP_S : t <= BUILD_EPOCH_S + SHELF_S) return true;
    // another source gave the same time in this boot
    if (cur.known && !this.confirmed && this.provSrc !== source && Math.abs(t - cur.now) <= this.maxBack) return true;
    // the same time was seen before the last reboot
    return this.earlier > 0 && t >= this.earlier - this.maxBack && t <= this.earlier + JUMP_S;
  }

  close(): void {
    if (!this.timer) return;
    this.timer.cancel();
    this.timer = undefined;
    this.o.log.close();
  }

  private persist(t: number): void {
    if (t <= this.floor) return;
    this.floor = t;
    this.record(word(0, t));
  }

  /** Keeps (or, with 0, clears) the unconfirmed jump for the next boot to confirm. */
  private remember(t: number): void {
    if (t === this.written) return;
    this.written = t;
    this.record(word(CANDIDATE, t));
  }

  /** Appends; a full journal is rewritten as the floor and the candidate. */
  private record(r: Uint8Array): void {
    if (this.o.log.append(r)) return;
    const keep: Uint8Array[] = [];
    if (this.floor > 0) keep.push(word(0, this.floor));
    if (this.written > 0) keep.push(word(CANDIDATE, this.written));
    this.o.log.rewrite(keep);
  }
}

/** A floor record (tag 0: 4 bytes) or a tagged 5-byte record. */
function word(tag: number, t: number): Uint8Array {
  const b = [(t >>> 24) & 255, (t >>> 16) & 255, (t >>> 8) & 255, t & 255];
  if (tag) b.unshift(tag);
  return new Uint8Array(b);
}
