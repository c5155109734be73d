import { BoxEvent, EventBus } from "../../firmware/events";
import { LatchController } from "../../firmware/latch/controller";
import { LatchConfig } from "../../firmware/latch/config";
import { MarkerStore, ramMarker } from "../../firmware/latch/marker";
import { TamperService } from "../../firmware/tamper/service";
import { ShockConfig } from "../../firmware/tamper/shock";
import { AlarmConfig } from "../../firmware/tamper/alarm";
import { VirtualClock } from "../../sim/clock";
import { SimBattery } from "../../sim/hw/battery";
import { SimLatch } from "../../sim/hw/latch";
import { SimMotion } from "../../sim/hw/motion";
import { SimPerson } from "../../sim/hw/person";
import { SimSwitch } from "../../sim/hw/switch";
import { SimBuzzer, SimLed, crc32 } from "../../sim/hw/system";
import { PowerLoss, SimFlash } from "../../sim/hw/flash";

export interface RigOptions {
  config?: Partial<LatchConfig & ShockConfig & AlarmConfig>;
  /** Bolt position at first power-on (default 1, thrown). */
  position?: number;
  lidClosed?: boolean;
  batteryMv?: number;
  marker?: MarkerStore;
  /** Keep the drive marker in a journal on this flash (instead of a RAM marker that outlives reboots). */
  flash?: SimFlash;
}

/**
 * The latch's world on a virtual clock: motor, bolt, switches, battery,
 * accelerometer, buzzer, LED and a person, plus the firmware pieces this
 * issue owns. Physical state (bolt position, lid, key, marker store) survives
 * powerCut()/reboot(); the firmware objects and their timers do not.
 */
export class Rig {
  readonly clock = new VirtualClock();
  readonly battery: SimBattery;
  readonly latch: SimLatch;
  readonly lid: SimSwitch;
  readonly key: SimSwitch;
  readonly motion: SimMotion;
  readonly buzzer: SimBuzzer;
  readonly led: SimLed;
  readonly person: SimPerson;
  readonly marker: MarkerStore;
  readonly flash: SimFlash | undefined;
  /** Power cuts the flash injected (PowerLoss caught by run()). */
  cuts = 0;
  readonly events: BoxEvent[] = [];
  readonly logs: string[] = [];
  /** Monotonic times at which unlock() was accepted, per boot. */
  readonly accepted: Array<{ boot: number; at: number }> = [];
  /** Monotonic time of each boot. */
  readonly bootAt: number[] = [];
  ctl!: LatchController;
  tamper!: TamperService;
  bus!: EventBus;

  constructor(private readonly opts: RigOptions = {}) {
    const clock = this.clock;
    this.battery = new SimBattery({ millivolts: opts.batteryMv });
    this.latch = new SimLatch({ clock, battery: this.battery, position: opts.position });
    const lidClosed = opts.lidClosed === undefined ? true : opts.lidClosed;
    this.lid = new SimSwitch({ clock, initial: lidClosed });
    this.key = new SimSwitch({ clock, initial: true });
    this.motion = new SimMotion({ clock });
    this.buzzer = new SimBuzzer({ clock });
    this.led = new SimLed({ clock });
    this.person = new SimPerson({ latch: this.latch, lid: this.lid, key: this.key });
    this.marker = opts.marker || ramMarker();
    this.flash = opts.flash;
    this.boot();
  }

  boot(): void {
    this.bootAt.push(this.clock.monotonic());
    const clock = this.clock;
    this.bus = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
    this.bus.on((e) => this.events.push(e));
    this.ctl = new LatchController({
      latch: this.latch,
      lid: this.lid,
      key: this.key,
      battery: this.battery,
      clock,
      events: this.bus,
      marker: this.flash ? undefined : this.marker,
      flash: this.flash,
      crc32: this.flash ? crc32 : undefined,
      config: this.opts.config,
      log: (l) => this.logs.push(l),
    });
    this.tamper = new TamperService({
      clock,
      motion: this.motion,
      buzzer: this.buzzer,
      led: this.led,
      events: this.bus,
      latch: this.ctl,
      config: this.opts.config,
    });
  }

  unlock(src = "grant:g1"): string | undefined {
    const r = this.ctl.unlock(src);
    if (r === undefined) this.accepted.push({ boot: this.bootAt.length, at: this.clock.monotonic() });
    return r;
  }

  lock(src = "owner"): string | undefined {
    return this.ctl.lock(src);
  }

  /** Runs the world; a PowerLoss from the flash becomes a power cut, as in SimBox. */
  run(ms: number): void {
    try {
      this.clock.advance(ms);
    } catch (e) {
      if (!(e instanceof PowerLoss)) throw e;
      this.cuts++;
      this.powerCut();
    }
  }

  /** Runs until the latch is in state (or limitMs passes); returns whether it got there. */
  runUntil(state: string, limitMs = 60000, stepMs = 10): boolean {
    for (let t = 0; t < limitMs; t += stepMs) {
      if (this.ctl.state() === state) return true;
      this.clock.advance(stepMs);
    }
    return this.ctl.state() === state;
  }

  /** Power disappears: RAM and timers gone, the motor stops, the world stays as it is. */
  powerCut(): void {
    this.clock.clearAll();
    this.latch.drive("stop");
  }

  /** Power comes back (or the watchdog bit): the chip resets and the firmware boots again. */
  reboot(): void {
    this.powerCut();
    if (this.flash) this.flash.powerOn();
    this.latch.powerOn();
    this.person.powerOn();
    this.motion.powerOn();
    this.boot();
  }

  of(type: string, reason?: string): BoxEvent[] {
    return this.events.filter((e) => e.type === type && (reason === undefined || e.reason === reason));
  }

  states(): string[] {
    return this.of("latch").map((e) => e.reason);
  }

  /** Drive intervals from the latch's log: [start, stop, direction]. */
  drives(): Array<{ dir: string; start: number; stop: number | undefined }> {
    const out: Array<{ dir: string; start: number; stop: number | undefined }> = [];
    let cur: { dir: string; start: number; stop: number | undefined } | undefined;
    for (const r of this.latch.log) {
      if (r.direction === "stop") {
        if (cur) cur.stop = r.at;
        cur = undefined;
      } else if (!cur) {
        cur = { dir: r.direction, start: r.at, stop: undefined };
        out.push(cur);
      }
    }
    return out;
  }
}
