import { Drive, Handle, Latch } from "../../hal";
import { VirtualClock } from "../clock";
import { SimBattery } from "./battery";
import { SimSwitch } from "./switch";

export interface SimLatchOptions {
  clock: VirtualClock;
  battery: SimBattery;
  /** Bolt position at power-on: 1 = fully thrown (locked), 0 = retracted. */
  position?: number;
  /** Full travel time at nominal voltage. */
  travelMs?: number;
  /**
   * The bolt switch closes when the bolt is at or beyond this position. It
   * sits near the thrown end, so "locked" is confirmed by the switch itself;
   * "unlocked" can only be inferred (switch opened, then a bounded over-travel
   * drive carries the bolt to the retracted end stop).
   */
  switchAt?: number;
  debounceMs?: number;
  runningMa?: number;
  stallMa?: number;
  /** Terminal voltage at or above which the motor runs at full speed. */
  nominalMv?: number;
  /** Terminal voltage at or below which the motor cannot move the bolt at all. */
  stallMv?: number;
  /** The bolt switch chatters when the bolt crosses switchAt (default true). */
  bounce?: boolean;
}

export interface DriveRecord {
  direction: Drive;
  at: number;
}

const TICK_MS = 5;

/**
 * The bolt, its gear motor on an H-bridge, and the bolt switch. The bolt
 * moves at a speed set by travelMs while driven, scaled down as the battery's
 * terminal voltage sags towards stallMv (a weak cell cannot finish a stroke),
 * stops at either end stop (the motor then stalls and draws stallMa), and can
 * be jammed now (jam), when it reaches a position (jamAt), or held by static
 * friction for the next n drive commands (stick). Every drive command is
 * recorded so tests can prove the firmware never drives longer than its
 * maximum and never reverses without stopping.
 */
export class SimLatch implements Latch {
  readonly bolt: SimSwitch;
  /** Every drive() call, in order. */
  readonly log: DriveRecord[] = [];
  /** Reversals without a stop in between (an H-bridge shoot-through on real hardware). */
  shootThroughs = 0;
  private position: number;
  private direction: Drive = "stop";
  private jammed = false;
  private jamPosition: number | undefined;
  private stuckDrives = 0;
  private stuckNow = false;
  private ticker: Handle | undefined;
  private readonly o: Required<Omit<SimLatchOptions, "position">>;

  constructor(options: SimLatchOptions) {
    this.o = {
      clock: options.clock,
      battery: options.battery,
      travelMs: options.travelMs === undefined ? 400 : options.travelMs,
      switchAt: options.switchAt === undefined ? 0.95 : options.switchAt,
      debounceMs: options.debounceMs === undefined ? 10 : options.debounceMs,
      runningMa: options.runningMa === undefined ? 250 : options.runningMa,
      stallMa: options.stallMa === undefined ? 900 : options.stallMa,
      nominalMv: options.nominalMv === undefined ? 3600 : options.nominalMv,
      stallMv: options.stallMv === undefined ? 3000 : options.stallMv,
      bounce: options.bounce === undefined ? true : options.bounce,
    };
    this.position = options.position === undefined ? 1 : options.position;
    this.bolt = new SimSwitch({ clock: options.clock, initial: this.position >= this.o.switchAt, debounceMs: this.o.debounceMs });
  }

  drive(direction: Drive): void {
    if (direction !== "stop" && this.direction !== "stop" && direction !== this.direction) this.shootThroughs++;
    this.log.push({ direction, at: this.o.clock.monotonic() });
    const starting = direction !== "stop" && this.direction === "stop";
    this.direction = direction;
    if (this.ticker) this.ticker.cancel();
    this.ticker = undefined;
    if (direction === "stop") {
      this.stuckNow = false;
      this.o.battery.setLoad(0);
      return;
    }
    if (starting && this.stuckDrives > 0) {
      this.stuckDrives--;
      this.stuckNow = true;
    }
    this.updateLoad();
    this.ticker = this.o.clock.every(TICK_MS, () => this.tick());
  }

  /** Control: the chip reset (after a power cut or watchdog): motor off, the bolt switch re-read where the bolt is. */
  powerOn(): void {
    if (this.ticker) this.ticker.cancel();
    this.ticker = undefined;
    this.direction = "stop";
    this.stuckNow = false;
    this.o.battery.setLoad(0);
    this.bolt.powerOn(this.position >= this.o.switchAt);
  }

  /** Control: where the bolt is (0 retracted .. 1 thrown). */
  where(): number {
    return this.position;
  }

  /** Control: the current drive command. */
  driving(): Drive {
    return this.direction;
  }

  /** Control: the position at which the bolt switch closes. */
  switchPosition(): number {
    return this.o.switchAt;
  }

  /** Control: the bolt seizes where it is (true) or frees (false); freeing also clears jamAt. */
  jam(on: boolean): void {
    this.jammed = on;
    if (!on) this.jamPosition = undefined;
    this.updateLoad();
  }

  /** Control: the bolt seizes when its travel reaches position (either direction); undefined clears. */
  jamAt(position: number | undefined): void {
    this.jamPosition = position;
  }

  /** Control: static friction holds the bolt for the next n drive commands, then it moves normally. */
  stick(drives: number): void {
    this.stuckDrives = Math.max(0, Math.floor(drives));
  }

  /** Control: true while the bolt cannot move (jammed or stuck). */
  isJammed(): boolean {
    return this.jammed || this.stuckNow;
  }

  /** Control: someone forces the bolt by hand (or a crowbar) to a position. */
  force(position: number): void {
    this.position = Math.max(0, Math.min(1, position));
    this.bolt.set(this.position >= this.o.switchAt);
  }

  /** Longest time the motor was continuously driven (open or close) in the log, up to now. */
  longestDriveMs(): number {
    let longest = 0;
    let start: number | undefined;
    for (const r of this.log) {
      if (r.direction === "stop") {
        if (start !== undefined) longest = Math.max(longest, r.at - start);
        start = undefined;
      } else if (start === undefined) start = r.at;
    }
    if (start !== undefined) longest = Math.max(longest, this.o.clock.monotonic() - start);
    return longest;
  }

  /** Motor speed as a fraction of nominal at the present terminal voltage. */
  private speed(): number {
    const mv = this.o.battery.millivolts();
    const f = (mv - this.o.stallMv) / (this.o.nominalMv - this.o.stallMv);
    return Math.max(0, Math.min(1, f));
  }

  private tick(): void {
    if (this.jammed || this.stuckNow) return;
    const step = (TICK_MS / this.o.travelMs) * this.speed();
    const before = this.position;
    let next = before;
    if (this.direction === "close") next = Math.min(1, before + step);
    if (this.direction === "open") next = Math.max(0, before - step);
    const jp = this.jamPosition;
    if (jp !== undefined && ((before < jp && next >= jp) || (before > jp && next <= jp))) {
      next = jp;
      this.jammed = true;
    }
    this.position = next;
    const was = before >= this.o.switchAt;
    const now = next >= this.o.switchAt;
    if (was !== now) {
      if (this.o.bounce) this.bolt.bounce(now, 3, 4);
      else this.bolt.set(now);
    }
    this.updateLoad();
  }

  private updateLoad(): void {
    if (this.direction === "stop") return;
    const atEnd = (this.direction === "close" && this.position >= 1) || (this.direction === "open" && this.position <= 0);
    const blocked = atEnd || this.jammed || this.stuckNow || this.speed() === 0;
    this.o.battery.setLoad(blocked ? this.o.stallMa : this.o.runningMa);
  }
}
