import { Clock, Handle } from "../../hal";
import { EventValue } from "../events";
import { RecordLog } from "../uplink/outbox";

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
 * The box's wall clock. The RTC drifts and may restart from 0 after a power
 * loss, so time is "known" only after a sync in this boot or when the RTC at
 * boot is a little past the persisted floor (it kept running through a
 * reset). The floor (the latest time known to have passed, stored as 4-byte
 * big-endian Unix seconds records) stops a stale or replayed source from
 * dragging the clock back: no sync may land more than maxBackS before it or
 * before the current time. Drift is estimated from successive syncs (ppm,
 * positive = RTC runs fast) and corrected between them.
 */
export class WallClock {
  private readonly o: WallClockOptions;
  private readonly maxBack: number;
  private known = false;
  private floor = 0;
  private ppm = 0;
  private syncRtc = 0;
  private syncMono = -1;
  private timer: Handle | undefined;

  constructor(options: WallClockOptions) {
    if (!options || !options.clock || !options.log) throw new Error("time_options");
    this.o = options;
    this.maxBack = options.maxBackS === undefined ? 300 : options.maxBackS;
    const recs = options.log.records();
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r.length === 4) {
        const v = ((r[0] << 24) >>> 0) + (r[1] << 16) + (r[2] << 8) + r[3];
        if (v > this.floor) this.floor = v;
      }
    }
    const rtc = options.clock.wall();
    const trust = options.trustRtcS === undefined ? 2 * 86400 : options.trustRtcS;
    if (this.floor >= MIN_T && rtc >= this.floor && rtc - this.floor <= trust) this.known = true;
    const every = options.floorEveryMs === undefined ? 3600000 : options.floorEveryMs;
    this.timer = options.clock.every(every, () => {
      if (this.known) this.persist(Math.floor(this.state().now));
    });
  }

  state(): TimeState {
    const rtc = this.o.clock.wall();
    if (!this.known) return { known: false, now: rtc };
    return { known: true, now: rtc - (rtc - this.syncRtc) * this.ppm * 1e-6 };
  }

  /** Estimated RTC drift in parts per million (0 until two syncs far enough apart). */
  get driftPpm(): number {
    return this.ppm;
  }

  /** The latest time known to have passed (Unix seconds, 0 when none). */
  get floorS(): number {
    return this.floor;
  }

  /**
   * Time from a source: "net" (the modem's network time) or "cmd" (a signed
   * time command). Returns a refusal code, or undefined once applied.
   */
  sync(source: string, unixS: number): string | undefined {
    let reason: string | undefined = undefined;
    const cur = this.state();
    if (typeof unixS !== "number" || !(unixS >= MIN_T && unixS < MAX_T)) reason = "time_range";
    else if (cur.known && unixS < cur.now - this.maxBack) reason = "time_backwards";
    else if (unixS < this.floor - this.maxBack) reason = "time_before_floor";
    if (reason) {
      if (this.o.emit) this.o.emit("time", reason, { src: source, t: typeof unixS === "number" ? Math.floor(unixS) : 0 });
      return reason;
    }
    const mono = this.o.clock.monotonic();
    const delta = cur.known ? unixS - cur.now : 0;
    if (cur.known && this.syncMono >= 0) {
      const elapsed = (mono - this.syncMono) / 1000;
      // only syncs far enough apart say anything about the oscillator
      if (elapsed >= 600 && Math.abs(delta) < this.maxBack) {
        const measured = this.ppm - (delta / elapsed) * 1e6;
        this.ppm = this.syncMono >= 0 && this.ppm !== 0 ? 0.7 * this.ppm + 0.3 * measured : measured;
      }
    }
    this.o.clock.setWall(unixS);
    this.syncRtc = unixS;
    this.syncMono = mono;
    const was = this.known;
    this.known = true;
    if (this.o.emit) this.o.emit("time", was ? "sync" : "set", { src: source, delta: Math.round(delta), ppm: Math.round(this.ppm) });
    this.persist(Math.floor(unixS));
    return undefined;
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
    const r = new Uint8Array([(t >>> 24) & 255, (t >>> 16) & 255, (t >>> 8) & 255, t & 255]);
    if (!this.o.log.append(r)) this.o.log.rewrite([r]);
  }
}
