import { Battery, Clock, Flash, FlashUsage, Handle } from "../../hal";
import { EventBus } from "../events";
import { STORAGE_POLICY } from "../storage-plan";

export interface UpkeepOptions {
  /** The platform's Storage; every module must use upkeep.flash instead, so compactions are seen. */
  flash: Flash;
  clock: Clock;
  events: EventBus;
  battery: Battery;
  /** Compaction waits below this terminal voltage (the latch's minimum start voltage). */
  minMv: number;
  /** True while compaction must wait: the motor is driving (compaction blocks for seconds). */
  busy?: () => boolean;
  /** Keep at least this much of the tail free (default STORAGE_POLICY.reserveBytes). */
  reserveBytes?: number;
  /** How often the tail is checked even when nothing was written (default hourly). */
  checkMs?: number;
  /** How often the maintenance jobs run (default daily). */
  maintainMs?: number;
}

/**
 * Storage's lifecycle on the box, in one place (the numbers and the reasons
 * are in firmware/storage-plan.ts, STORAGE_POLICY):
 * - Every module writes through upkeep.flash. A create that fits in the
 *   tail goes through; one that does not would make Storage compact by
 *   itself, which is allowed only when compaction is allowed now, and is
 *   refused otherwise (the caller reports its own store failure).
 * - Compaction is allowed when the battery reads at least minMv and the
 *   motor is not driving: a power cut in the middle of one can leave a chain
 *   Espruino's boot check wipes whole, keys included.
 * - The firmware compacts when the tail falls below the reserve: after any
 *   create that leaves it short, and at every check. Waiting until then
 *   reclaims the most trash per compaction, which is what wears the pages.
 *   A compaction that is due but not allowed is reported once
 *   ("storage" "compaction_deferred") and retried at the next check.
 * - After every compaction, asked for or automatic, the holders of views
 *   read from Storage (verifier tables) are called to read them again:
 *   files after the first erased one moved.
 * - Maintenance jobs (pruning expired grants and cache entries) run on
 *   their own schedule, each rewriting its journal only when it drops
 *   something.
 * Events: "storage" with reason "compacted" (d: why, free, trash before),
 * "compaction_deferred" (d: why, mv) or "compaction_failed" (d: free, trash:
 * Storage found no RAM for its swap buffer).
 */
export class StorageUpkeep {
  readonly flash: Flash;
  private readonly o: UpkeepOptions;
  private readonly reserve: number;
  private readonly timers: Handle[] = [];
  private readonly holders: Array<() => void> = [];
  private readonly jobs: Array<() => void> = [];
  private deferred = false;
  private pending: Handle | undefined;
  private closed = false;

  constructor(options: UpkeepOptions) {
    const o = options;
    if (!o || !o.flash || !o.clock || !o.events || !o.battery || typeof o.minMv !== "number") throw new Error("upkeep_options");
    this.o = o;
    this.reserve = o.reserveBytes === undefined ? STORAGE_POLICY.reserveBytes : o.reserveBytes;
    if (!(this.reserve >= 0)) throw new Error("upkeep_reserve");
    const self = this;
    const raw = o.flash;
    this.flash = {
      create: function (name: string, size: number): boolean {
        return self.create(name, size);
      },
      writeAt: function (name: string, offset: number, data: Uint8Array): boolean {
        return raw.writeAt(name, offset, data);
      },
      read: function (name: string): Uint8Array | undefined {
        return raw.read(name);
      },
      erase: function (name: string): void {
        raw.erase(name);
      },
      list: function (prefix: string): string[] {
        return raw.list(prefix);
      },
      free: function (): number {
        return raw.free();
      },
      usage: function (): FlashUsage {
        return raw.usage();
      },
      compact: function (): void {
        self.compact("asked");
      },
    };
    this.timers.push(
      o.clock.every(o.checkMs === undefined ? STORAGE_POLICY.checkMs : o.checkMs, function () {
        self.check();
      }),
    );
    this.timers.push(
      o.clock.every(o.maintainMs === undefined ? STORAGE_POLICY.maintainMs : o.maintainMs, function () {
        self.maintain();
      }),
    );
  }

  /** Calls fn after every compaction: whatever it keeps from flash.read() must be read again. */
  onCompacted(fn: () => void): Handle {
    return register(this.holders, fn);
  }

  /** Adds a maintenance job (pruning), run every maintainMs. */
  addJob(fn: () => void): Handle {
    return register(this.jobs, fn);
  }

  /** Compacts when the tail is below the reserve and compaction is allowed. true when it compacted. */
  check(): boolean {
    if (this.closed) return false;
    const u = this.o.flash.usage();
    if (u.free >= this.reserve || u.trash === 0) {
      this.deferred = false;
      return false;
    }
    return this.compact("reserve");
  }

  /** Runs the maintenance jobs now, then checks the tail. */
  maintain(): void {
    if (this.closed) return;
    const jobs = this.jobs.slice();
    for (let i = 0; i < jobs.length; i++) jobs[i]();
    this.check();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.timers.length; i++) this.timers[i].cancel();
    if (this.pending) this.pending.cancel();
    this.holders.length = 0;
    this.jobs.length = 0;
  }

  /** Why compaction must wait now, or "" when it may run. */
  private hold(): string {
    if (this.o.busy && this.o.busy()) return "busy";
    return this.o.battery.millivolts() < this.o.minMv ? "low_battery" : "";
  }

  private compact(why: string): boolean {
    const before = this.o.flash.usage();
    if (before.trash === 0) return false;
    const wait = this.hold();
    if (wait) {
      if (!this.deferred) this.tell("compaction_deferred", { why: wait, mv: this.o.battery.millivolts() });
      this.deferred = true;
      return false;
    }
    this.deferred = false;
    this.o.flash.compact();
    return this.compacted(why, before);
  }

  /** After a compaction may have run: the holders read their views again at once, the owner hears of it. */
  private compacted(why: string, before: FlashUsage): boolean {
    const after = this.o.flash.usage();
    if (after.trash >= before.trash) {
      this.tell("compaction_failed", { free: after.free, trash: after.trash });
      return false;
    }
    const list = this.holders.slice();
    for (let i = 0; i < list.length; i++) list[i]();
    this.tell("compacted", { why: why, free: after.free, trash: before.trash });
    return true;
  }

  /**
   * Emits on the next tick: an event is itself written to Storage (the
   * outbox), and the journal whose create compacted has not finished its
   * own bookkeeping yet.
   */
  private tell(reason: string, d: { [key: string]: number | string }): void {
    const self = this;
    this.o.clock.after(0, function () {
      if (!self.closed) self.o.events.emit("storage", reason, d);
    });
  }

  private create(name: string, size: number): boolean {
    const raw = this.o.flash;
    if (this.closed) return raw.create(name, size);
    const need = 32 + ((size + 3) & ~3);
    const before = raw.usage();
    if (before.free >= need) {
      const ok = raw.create(name, size);
      if (ok && before.free - need < this.reserve) this.soon();
      return ok;
    }
    // Storage would compact by itself to make room: only when it may.
    if (before.trash > 0) {
      const wait = this.hold();
      if (wait) {
        if (!this.deferred) this.tell("compaction_deferred", { why: wait, mv: this.o.battery.millivolts() });
        this.deferred = true;
        return false;
      }
    }
    const made = raw.create(name, size);
    if (before.trash > 0 && raw.usage().trash < before.trash) this.compacted("auto", before);
    return made;
  }

  /** A check on the next tick: never compact under a caller that is still writing its records. */
  private soon(): void {
    if (this.pending) return;
    const self = this;
    this.pending = this.o.clock.after(0, function () {
      self.pending = undefined;
      self.check();
    });
  }
}

function register(list: Array<() => void>, fn: () => void): Handle {
  list.push(fn);
  return {
    cancel: function () {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    },
  };
}
