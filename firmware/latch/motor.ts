import { Battery, Clock, Handle, Latch } from "../../hal";

export interface MotorOptions {
  latch: Latch;
  clock: Clock;
  battery: Battery;
  maxDriveMs: number;
  probeMs: number;
  stallSagMv: number;
  /** Terminal voltage at which the motor reaches nominal speed. */
  fullMv: number;
  /** Terminal voltage at which it cannot turn. */
  stopMv: number;
}

/**
 * The only code that moves the motor. Whatever the state machine does, every
 * start arms a hard stop at maxDriveMs, a start while running passes through
 * stop first (never open->close directly), and close() stops. While driving
 * it samples the supply sag (the HAL has no current sense, the cell's
 * internal resistance is one). Time spent running freely, without a stall,
 * scaled by the speed the terminal voltage allows, estimates how far the
 * bolt travelled, in milliseconds of a nominal-speed stroke: that tells a
 * jammed bolt from a switch that did not notice the bolt go past it.
 */
export class Motor {
  private dir: "open" | "close" | "" = "";
  private guard: Handle | undefined;
  private probe: Handle | undefined;
  private restMv = 0;
  private startedAt = 0;
  private lastProbe = 0;
  private free = 0;
  /** Monotonic time of the last stop (or of construction). */
  stoppedAt: number;

  constructor(private readonly o: MotorOptions) {
    o.latch.drive("stop");
    this.stoppedAt = o.clock.monotonic();
  }

  /**
   * Drives dir until stop(); after maxDriveMs it stops by itself and calls
   * onTimeout. restMv: the cell at rest, when the caller read it in this
   * same call with the motor off (the stall detection's baseline).
   */
  start(dir: "open" | "close", onTimeout: () => void, restMv?: number): void {
    if (this.dir) this.stop();
    const o = this.o;
    this.restMv = restMv === undefined ? o.battery.millivolts() : restMv;
    this.startedAt = o.clock.monotonic();
    this.lastProbe = this.startedAt;
    this.free = 0;
    this.dir = dir;
    o.latch.drive(dir);
    this.guard = o.clock.after(o.maxDriveMs, () => {
      this.guard = undefined;
      this.stop();
      onTimeout();
    });
    this.probe = o.clock.every(o.probeMs, () => this.sample());
  }

  /** Stops a running drive (a no-op when already stopped). */
  stop(): void {
    if (this.guard) this.guard.cancel();
    if (this.probe) this.probe.cancel();
    this.guard = undefined;
    this.probe = undefined;
    if (!this.dir) return;
    this.sample();
    this.o.latch.drive("stop");
    this.stoppedAt = this.o.clock.monotonic();
    this.dir = "";
  }

  running(): "open" | "close" | "" {
    return this.dir;
  }

  /** Milliseconds of the current (or last) drive so far. */
  elapsed(): number {
    return this.dir ? this.o.clock.monotonic() - this.startedAt : 0;
  }

  /** Estimated travel of the current (or last) drive, in milliseconds of nominal-speed running without a stall. */
  freeRunMs(): number {
    return this.free;
  }

  /** Stops, and says so to the H-bridge even if this object thinks it is already stopped. */
  close(): void {
    this.stop();
    this.o.latch.drive("stop");
  }

  private sample(): void {
    const now = this.o.clock.monotonic();
    const o = this.o;
    const mv = o.battery.millivolts();
    if (this.restMv - mv < o.stallSagMv) {
      const speed = (mv - o.stopMv) / (o.fullMv - o.stopMv);
      this.free += (now - this.lastProbe) * (speed > 1 ? 1 : speed < 0 ? 0 : speed);
    }
    this.lastProbe = now;
  }
}
