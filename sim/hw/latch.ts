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
  /** The bolt switch closes when the bolt is at or beyond this position. */
  switchAt?: number;
  debounceMs?: number;
  runningMa?: number;
  stallMa?: number;
}

export interface DriveRecord {
  direction: Drive;
  at: number;
}

const TICK_MS = 5;

/**
 * The bolt, its gear motor on an H-bridge, and the bolt switch. The bolt
 * moves at a speed set by travelMs while driven, stops at either end stop
 * (the motor then stalls and draws stallMa), and can be jammed or blocked.
 * Every drive command is recorded so tests can prove the firmware never
 * drives longer than its maximum and never reverses without stopping.
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
    };
    this.position = options.position === undefined ? 1 : options.position;
    this.bolt = new SimSwitch({ clock: options.clock, initial: this.position >= this.o.switchAt, debounceMs: this.o.debounceMs });
  }

  drive(direction: Drive): void {
    if (direction !== "stop" && this.direction !== "stop" && direction !== this.direction) this.shootThroughs++;
    this.log.push({ direction, at: this.o.clock.monotonic() });
    this.direction = direction;
    if (this.ticker) this.ticker.cancel();
    this.ticker = undefined;
    if (direction === "stop") {
      this.o.battery.setLoad(0);
      return;
    }
    this.updateLoad();
    this.ticker = this.o.clock.every(TICK_MS, () => this.tick());
  }

  /** Control: where the bolt is (0 retracted .. 1 thrown). */
  where(): number {
    return this.position;
  }

  /** Control: the current drive command. */
  driving(): Drive {
    return this.direction;
  }

  /** Control: the bolt seizes where it is (true) or frees (false). */
  jam(on: boolean): void {
    this.jammed = on;
    this.updateLoad();
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

  private tick(): void {
    if (this.jammed) return;
    const step = TICK_MS / this.o.travelMs;
    const before = this.position;
    if (this.direction === "close") this.position = Math.min(1, this.position + step);
    if (this.direction === "open") this.position = Math.max(0, this.position - step);
    if (before !== this.position) this.bolt.set(this.position >= this.o.switchAt);
    this.updateLoad();
  }

  private updateLoad(): void {
    if (this.direction === "stop") return;
    const atEnd = (this.direction === "close" && this.position >= 1) || (this.direction === "open" && this.position <= 0);
    this.o.battery.setLoad(atEnd || this.jammed ? this.o.stallMa : this.o.runningMa);
  }
}
