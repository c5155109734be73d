import { Battery, Clock, Flash, Handle, Input, Latch } from "../../hal";
import { EventBus, EventValue } from "../events";
import { TamperReporter } from "../tamper/report";
import { checkLatchConfig, LatchConfig, latchDefaults } from "./config";
import { KeyWatch } from "./keys";
import { journalMarker, MarkerStore, ramMarker } from "./marker";
import { Motor } from "./motor";

export type LatchState = "locked" | "unlocking" | "open" | "locking" | "fault";

/** The only way out of fault: a lock command (from a grant with lock permission), once the cause is cleared. */
const WAY_OUT = "lock";

function boltWord(thrown: boolean): string {
  return thrown ? "thrown" : "retracted";
}

/**
 * Inside unlocking/locking: wait = motor resting (cool-down) before an
 * attempt; drive = motor on, waiting for the bolt switch; over = a blind,
 * bounded drive of overTravelMs: after the switch opened on an unlock, or
 * when a lock starts with the switch already closed (seat the bolt).
 */
type Phase = "" | "wait" | "drive" | "over";

/** What the state machine reacts to besides commands. */
type Input_ = "bolt" | "lid" | "go" | "timeout" | "over" | "relock";

export interface LatchControllerOptions {
  latch: Latch;
  lid: Input;
  key: Input;
  battery: Battery;
  clock: Clock;
  events: EventBus;
  /**
   * Where the "driving" marker survives a reset. Given flash and crc32
   * instead, the latch keeps it in its own journal (prefix "latch"). With
   * neither, a reset mid-drive is still safe but not reported or bounded.
   */
  marker?: MarkerStore;
  flash?: Flash;
  crc32?: (data: Uint8Array) => number;
  config?: Partial<LatchConfig>;
  /** Lines for people. */
  log?: (line: string) => void;
}

export interface LatchStatus {
  state: LatchState;
  /** Why the latch is in this state (the reason of the last transition; the fault reason in fault). */
  reason: string;
  /** In fault: the command that leaves it ("lock", once the cause is cleared); "" otherwise. */
  wayOut: string;
  bolt: boolean;
  lidClosed: boolean;
  keyPresent: boolean;
}

/**
 * The latch state machine: locked, unlocking, open, locking, fault.
 *
 * Sensing: one bolt switch, closed (true) only when the bolt is fully
 * thrown. "Locked" is confirmed by the switch closing. "Unlocked" is
 * confirmed by the switch opening, then the drive continues for a bounded
 * over-travel (overTravelMs, sized for a full stroke at the weakest allowed
 * cell) that carries the bolt to the retracted end stop, all inside the
 * hard cap maxDriveMs that Motor enforces on its own.
 *
 * Failure: a drive that reaches maxDriveMs without the switch changing is a
 * failed attempt; after a cool-down it is retried, and after `retries`
 * retries the latch faults with jam (the motor stalled before a full
 * stroke) or bolt_sensor_stuck (it ran freely long enough to finish and the
 * switch never noticed), or jam_or_bolt_sensor when a lock cannot move the
 * bolt at all after the switch opened with no drive (a switch failed open
 * and a bolt moved by hand then seized look the same). bolt_lid_disagree is the lid opening while the
 * bolt switch says thrown during an unlock, or a lock confirming while the
 * lid reads open. reset_loop: drives cut short by resets more than
 * resetLoopLimit times in a row.
 *
 * Power: at construction the motor is stopped and the bolt's real position
 * decides the state; a reset never drives open. A retracted bolt at boot
 * is relocked as soon as the lid is closed (after the cool-down). Every
 * motor start first checks the resting cell voltage (minStartMv) and
 * persists a marker that a later boot reads to report and bound resets
 * mid-drive.
 *
 * Every transition is an event ("latch", state, {why, src}; in fault also
 * wayOut: the command that leaves it); every refused command is
 * ("latch_refused", code, {op, latch, src}).
 */
export class LatchController {
  private st: LatchState;
  private why = "boot";
  private phase: Phase = "";
  private dir: "open" | "close" = "close";
  private attempt = 0;
  /** Free-running motor time summed over this cycle's attempts. */
  private freeMs = 0;
  private src = "";
  private interrupted = 0;
  /** The bolt switch opened while locked with no drive (forced, or the switch failed open). */
  private undriven = false;
  private booted = false;
  private closed = false;
  private timer: Handle | undefined;
  private relock: Handle | undefined;
  private bootTimer: Handle | undefined;
  private readonly c: LatchConfig;
  private readonly motor: Motor;
  private readonly marker: MarkerStore;
  private readonly reporter: TamperReporter;
  private readonly keys: KeyWatch;
  private readonly subs: Handle[];
  private cbs: Array<(state: LatchState, reason: string) => void> = [];
  /**
   * The battery reading canStart() took for a command, which an attempt
   * starting in the same call uses rather than read the cell again; a wait
   * for the cool-down clears it (waitThenGo), so a later attempt reads anew.
   */
  private callMv: number | undefined;
  /** Runs once before this cycle's first motor start (unlock/lock's commit). */
  private commit: (() => string | undefined) | undefined;

  constructor(private readonly o: LatchControllerOptions) {
    if (!o || !o.latch || !o.latch.bolt || !o.lid || !o.key || !o.battery || !o.clock || !o.events) throw new Error("latch_options");
    const c = latchDefaults(o.config || {});
    const bad = checkLatchConfig(c);
    if (bad) throw new Error(bad);
    this.c = c;
    // Stop first: whatever the pins did across the reset, the motor is off before anything else.
    this.motor = new Motor({ latch: o.latch, clock: o.clock, battery: o.battery, maxDriveMs: c.maxDriveMs, probeMs: c.probeMs, stallSagMv: c.stallSagMv, fullMv: c.motorFullMv, stopMv: c.motorStopMv });
    this.marker = o.marker ? o.marker : o.flash && o.crc32 ? journalMarker({ flash: o.flash, crc32: o.crc32 }) : ramMarker();
    this.reporter = new TamperReporter({ events: o.events, clock: o.clock, repeatMs: c.tamperRepeatMs });
    this.keys = new KeyWatch({ key: o.key, events: o.events, reporter: this.reporter });
    this.st = o.latch.bolt.read() ? "locked" : "open";
    this.subs = [
      o.latch.bolt.onChange((level) => this.input("bolt", level)),
      o.lid.onChange((closed) => this.input("lid", closed)),
    ];
    this.bootTimer = o.clock.after(0, () => this.boot());
  }

  state(): LatchState {
    return this.st;
  }

  status(): LatchStatus {
    return { state: this.st, reason: this.why, wayOut: this.st === "fault" ? WAY_OUT : "", bolt: this.o.latch.bolt.read(), lidClosed: this.o.lid.read(), keyPresent: this.o.key.read() };
  }

  /**
   * Starts an unlock (undefined) or says why not: booting, low_battery, busy,
   * already_open, fault, closed. commit, when given, runs once, right
   * before the motor first starts in this cycle (after the cool-down and
   * the battery and marker checks): an error code from it ends the cycle
   * with that code and the motor never moves. A cycle that ends before
   * commit ran never moved the bolt. When no cool-down is due the attempt
   * starts before this returns, so the motor may already run, or the
   * cycle already have ended (store_error, low_battery, commit's code):
   * subscribe with onState first to hear how it ends.
   */
  unlock(source: string, commit?: () => string | undefined): string | undefined {
    const src = String(source || "");
    let code: string | undefined;
    switch (this.st) {
      case "locked":
        code = this.canStart();
        break;
      case "open":
        code = "already_open";
        break;
      case "unlocking":
      case "locking":
        code = "busy";
        break;
      default:
        code = "fault";
    }
    if (!this.booted) code = "booting";
    if (this.closed) code = "closed";
    if (code) return this.refuse("unlock", code, src);
    this.keys.begin(src);
    this.commit = commit;
    this.startCycle("open", src, "command");
    return undefined;
  }

  /** Starts a lock (undefined) or says why not: booting, lid_open, low_battery, busy, already_locked, closed. From fault it is the recovery path. commit as for unlock. */
  lock(source: string, commit?: () => string | undefined): string | undefined {
    const src = String(source || "");
    let code: string | undefined;
    switch (this.st) {
      case "open":
      case "fault":
        code = this.o.lid.read() ? this.canStart() : "lid_open";
        break;
      case "locked":
        code = "already_locked";
        break;
      default:
        code = "busy";
    }
    if (!this.booted) code = "booting";
    if (this.closed) code = "closed";
    if (code) return this.refuse("lock", code, src);
    if (this.st === "fault") this.interrupted = 0;
    this.commit = commit;
    this.startCycle("close", src, "command");
    return undefined;
  }

  /** cb(state, reason) after every transition; never called from onState itself. */
  onState(cb: (state: LatchState, reason: string) => void): Handle {
    this.cbs.push(cb);
    return {
      cancel: () => {
        this.cbs = this.cbs.filter((x) => x !== cb);
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimer();
    this.cancelRelock();
    if (this.bootTimer) this.bootTimer.cancel();
    for (let i = 0; i < this.subs.length; i++) this.subs[i].cancel();
    this.motor.close();
    this.keys.close();
    this.cbs = [];
  }

  /**
   * The transition table. One case per state; inside, what each input does.
   * Inputs: bolt/lid = settled switch edge (arg = new level: bolt thrown,
   * lid closed); go = cool-down over, start an attempt; timeout = Motor hit
   * maxDriveMs and already stopped; over = over-travel done; relock = a
   * relock timer (arg = its reason).
   */
  private input(ev: Input_, arg?: boolean | string): void {
    if (this.closed) return;
    const lidClosed = this.o.lid.read();
    const bolt = this.o.latch.bolt.read();
    if (ev === "lid") {
      this.o.events.emit("lid", arg ? "closed" : "opened", { latch: this.st });
      if (arg) this.keys.lidClosed();
    }
    if (!this.booted && (ev === "bolt" || ev === "lid")) {
      // Edges before boot() ran only refresh the learned position.
      this.st = bolt ? "locked" : "open";
      return;
    }
    switch (this.st) {
      case "locked":
        if (ev === "bolt" && !arg) {
          this.reporter.raise("bolt_moved", "high", { latch: "locked" });
          this.undriven = true;
          this.enter("open", "bolt_moved", "");
          if (lidClosed) this.armRelock(this.c.relockDelayMs, "bolt_moved");
        } else if (ev === "lid" && !arg) {
          this.reporter.raise("lid_forced", "high", { bolt: boltWord(bolt) });
        }
        break;

      case "unlocking":
        if (ev === "go") this.attemptStart();
        else if (ev === "bolt" && !arg && this.phase === "drive") {
          this.phase = "over";
          this.armOver();
        } else if ((ev === "over" && this.phase === "over") || (ev === "timeout" && this.phase === "over")) {
          this.motor.stop();
          this.writeMarker(false);
          this.interrupted = 0;
          this.enter("open", "unlocked", this.src);
          if (lidClosed) this.armRelock(this.c.autoRelockMs, "never_opened");
        } else if (ev === "timeout" && this.phase === "drive") this.failedAttempt();
        else if (ev === "lid" && !arg && bolt && this.phase !== "over") {
          this.motor.stop();
          this.writeMarker(false);
          this.enter("fault", "bolt_lid_disagree", this.src);
        }
        break;

      case "open":
        if (ev === "lid" && !arg) this.cancelRelock();
        else if (ev === "lid" && arg) this.armRelock(this.c.relockDelayMs, "lid_closed");
        else if (ev === "relock" && lidClosed) {
          const code = this.canStart();
          if (code) {
            this.refuse("lock", code, "auto");
            this.armRelock(this.c.autoRelockMs, String(arg));
          } else this.startCycle("close", "auto", String(arg));
        } else if (ev === "bolt" && arg) {
          this.reporter.raise("bolt_moved", "medium", { latch: "open" });
          if (lidClosed) this.enter("locked", "bolt_moved", "");
          else this.enter("fault", "bolt_lid_disagree", "");
        }
        break;

      case "locking":
        if (ev === "go") this.attemptStart();
        else if (ev === "bolt" && arg && this.phase === "drive") this.confirmLocked();
        else if ((ev === "over" || ev === "timeout") && this.phase === "over") this.confirmLocked();
        else if (ev === "timeout" && this.phase === "drive") this.failedAttempt();
        else if (ev === "lid" && !arg) {
          // Never push the bolt at an open lid (or a hand): back off and wait for the lid.
          this.motor.stop();
          this.writeMarker(false);
          this.enter("open", "lid_opened", this.src);
        }
        break;

      case "fault":
        if (ev === "bolt") this.reporter.raise("bolt_moved", "low", { latch: "fault", bolt: boltWord(!!arg) });
        break;
    }
  }

  /** Runs once, after construction: learn, report, recover. Never drives open. */
  private boot(): void {
    this.bootTimer = undefined;
    this.booted = true;
    const bolt = this.o.latch.bolt.read();
    const lidClosed = this.o.lid.read();
    this.st = bolt ? "locked" : "open";
    const m = this.marker.read();
    this.emitState({ why: "boot", bolt: bolt, lidClosed: lidClosed });
    this.notify();
    if (m) {
      this.interrupted = m.n + 1;
      this.o.events.emit("latch_recovery", "reset_mid_drive", { dir: m.dir, n: this.interrupted });
      this.log("latch: reset during a " + m.dir + " drive (" + this.interrupted + " in a row)");
      if (this.interrupted > this.c.resetLoopLimit) {
        this.enter("fault", "reset_loop", "");
        return;
      }
    }
    if (bolt) {
      if (m) this.writeMarker(false);
      this.interrupted = 0;
      if (!lidClosed) this.reporter.raise("lid_forced", "high", { bolt: "thrown", at: "boot" });
      return;
    }
    // Bolt retracted at boot: not secure. Relock once the lid is shut.
    if (lidClosed) this.armRelock(0, "boot");
  }

  private startCycle(dir: "open" | "close", src: string, why: string): void {
    this.dir = dir;
    this.src = src;
    this.attempt = 0;
    this.freeMs = 0;
    this.cancelRelock();
    this.enter(dir === "open" ? "unlocking" : "locking", why, src);
    this.waitThenGo();
  }

  /**
   * Every start waits out the cool-down since the last stop: no back-to-back
   * drives, no reversal without rest. With none left to wait, the attempt
   * starts in this same call: a driver's grant reaches the motor without a
   * turn of the event loop (on the board, milliseconds).
   */
  private waitThenGo(): void {
    this.phase = "wait";
    const delay = this.motor.stoppedAt + this.c.cooldownMs - this.o.clock.monotonic();
    this.cancelTimer();
    if (delay <= 0) return this.input("go");
    this.callMv = undefined;
    this.timer = this.o.clock.after(delay, () => {
      this.timer = undefined;
      this.input("go");
    });
  }

  private attemptStart(): void {
    const opening = this.dir === "open";
    const bolt = this.o.latch.bolt.read();
    const mv = this.callMv !== undefined ? this.callMv : this.o.battery.millivolts();
    this.callMv = undefined;
    if (mv < this.c.minStartMv) return this.abortCycle("low_battery", mv);
    if (!this.writeMarker(true) && opening) return this.abortCycle("store_error", mv);
    const commit = this.commit;
    this.commit = undefined;
    if (commit) {
      let refused: string | undefined;
      try {
        refused = commit();
      } catch (e) {
        refused = "handler_error";
      }
      if (refused) return this.abortCycle(refused, mv);
    }
    // Switch already at the target (bolt freed during a cool-down, or a lock
    // from fault): the switch cannot confirm, so drive the bounded over-travel.
    this.phase = opening !== bolt ? "over" : "drive";
    // the reading that let the attempt start is the cell at rest: a grant's motor does not wait for another
    this.motor.start(this.dir, () => this.input("timeout"), mv);
    if (this.phase === "over") this.armOver();
  }

  private armOver(): void {
    this.cancelTimer();
    const left = Math.max(0, this.c.maxDriveMs - this.motor.elapsed());
    this.timer = this.o.clock.after(Math.min(this.c.overTravelMs, left), () => {
      this.timer = undefined;
      this.input("over");
    });
  }

  private failedAttempt(): void {
    this.motor.stop();
    this.writeMarker(false);
    this.attempt++;
    this.freeMs += this.motor.freeRunMs();
    // A lock that cannot move the bolt at all, after the switch said the bolt left the thrown end
    // with no drive, is either a switch failed open (the bolt never left) or a bolt moved by hand
    // and seized: one switch and the supply sag cannot tell them apart, so the reason says both.
    const unsure = this.dir === "close" && this.undriven && this.freeMs < this.c.probeMs;
    const why = this.freeMs >= this.c.strokeMs ? "bolt_sensor_stuck" : unsure ? "jam_or_bolt_sensor" : "jam";
    if (this.attempt > this.c.retries) {
      this.enter("fault", why, this.src);
      return;
    }
    this.o.events.emit("latch_retry", why, { dir: this.dir, attempt: this.attempt });
    this.waitThenGo();
  }

  /** A cycle that cannot continue (checked again before each attempt): back to whatever the bolt says. */
  private abortCycle(code: string, mv: number): void {
    this.motor.stop();
    this.writeMarker(false);
    this.refuse(this.dir === "open" ? "unlock" : "lock", code, this.src, mv);
    if (this.o.latch.bolt.read()) {
      this.enter("locked", code, this.src);
      return;
    }
    this.enter("open", code, this.src);
    if (this.o.lid.read()) this.armRelock(this.c.autoRelockMs, code);
  }

  private confirmLocked(): void {
    this.motor.stop();
    this.writeMarker(false);
    this.interrupted = 0;
    if (!this.o.lid.read()) this.enter("fault", "bolt_lid_disagree", this.src);
    else this.enter("locked", "locked", this.src);
  }

  private enter(state: LatchState, why: string, src: string): void {
    this.st = state;
    this.why = why;
    if (state !== "unlocking" && state !== "locking") {
      this.phase = "";
      this.commit = undefined;
      this.cancelTimer();
    }
    if (state !== "open") this.cancelRelock();
    if (state === "locked") this.keys.end();
    const d: { [k: string]: EventValue } = { why: why };
    if (src) d.src = src;
    if (state === "fault") d.wayOut = WAY_OUT;
    if (state === "locked" && why === "locked") this.undriven = false;
    if (state === "fault") this.log("latch: fault " + why);
    this.emitState(d);
    this.notify();
  }

  private emitState(d: { [k: string]: EventValue }): void {
    this.o.events.emit("latch", this.st, d);
  }

  private notify(): void {
    const list = this.cbs.slice();
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](this.st, this.why);
      } catch (e) {
        this.log("latch: state listener threw");
      }
    }
  }

  private canStart(): string | undefined {
    const mv = this.o.battery.millivolts();
    this.callMv = mv;
    return mv < this.c.minStartMv ? "low_battery" : undefined;
  }

  private refuse(op: string, code: string, src: string, mv?: number): string {
    const d: { [k: string]: EventValue } = { op: op, latch: this.st };
    if (src) d.src = src;
    if (code === "low_battery") {
      d.mv = mv === undefined ? this.o.battery.millivolts() : mv;
      d.minMv = this.c.minStartMv;
    }
    this.o.events.emit("latch_refused", code, d);
    return code;
  }

  private writeMarker(driving: boolean): boolean {
    return this.marker.write(driving ? { dir: this.dir, n: this.interrupted } : undefined);
  }

  private armRelock(ms: number, why: string): void {
    this.cancelRelock();
    this.relock = this.o.clock.after(ms, () => {
      this.relock = undefined;
      this.input("relock", why);
    });
  }

  private cancelRelock(): void {
    if (this.relock) this.relock.cancel();
    this.relock = undefined;
  }

  private cancelTimer(): void {
    if (this.timer) this.timer.cancel();
    this.timer = undefined;
  }

  private log(line: string): void {
    if (this.o.log) this.o.log(line);
  }
}
