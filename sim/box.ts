import { Hal } from "../hal";
import { Config, withDefaults } from "../firmware/config";
import { start, Keybox } from "../firmware/main";
import { BoxEvent } from "../firmware/events";
import { VirtualClock } from "./clock";
import { SimBattery } from "./hw/battery";
import { SimBle } from "./hw/ble";
import { SimFlash, PowerLoss } from "./hw/flash";
import { SimLatch } from "./hw/latch";
import { SimModemWire } from "./hw/modem";
import { SimMotion } from "./hw/motion";
import { SimSwitch } from "./hw/switch";
import { SimBuzzer, SimLed, SimRandom, SimWatchdog, simAccel } from "./hw/system";

export interface SimBoxOptions {
  config?: Partial<Config>;
  /** RTC value at the first boot (Unix seconds); 0 = unset. */
  wallAtBoot?: number;
  seed?: number;
  /** Bytes of simulated Storage. */
  flashCapacity?: number;
  /** Model a board without native SHA-512 (nRF52832-class). */
  noSha512?: boolean;
  /** Where firmware log lines go (default: kept in box.logs only). */
  onLog?: (line: string) => void;
}

/**
 * A whole simulated key box: every part of the hardware on one virtual
 * clock, the firmware running on it, and the controls a test or a person
 * uses to play the world (open the lid, take the key, cut the power).
 * Flash and the bolt's physical position survive reboot() and powerCut();
 * RAM, timers and the firmware instance do not.
 */
export class SimBox {
  readonly clock: VirtualClock;
  readonly battery: SimBattery;
  readonly latch: SimLatch;
  readonly lid: SimSwitch;
  readonly key: SimSwitch;
  readonly motion: SimMotion;
  readonly flash: SimFlash;
  readonly ble: SimBle;
  readonly modem: SimModemWire;
  readonly watchdog: SimWatchdog;
  readonly led: SimLed;
  readonly buzzer: SimBuzzer;
  readonly hal: Hal;
  readonly events: BoxEvent[] = [];
  readonly logs: string[] = [];
  boots = 0;
  firmware: Keybox | undefined;
  private readonly config: Config;

  constructor(options: SimBoxOptions = {}) {
    const clock = new VirtualClock({ wallAtBoot: options.wallAtBoot });
    this.clock = clock;
    this.config = withDefaults(options.config || {});
    this.battery = new SimBattery();
    this.latch = new SimLatch({ clock, battery: this.battery });
    this.lid = new SimSwitch({ clock, initial: true });
    this.key = new SimSwitch({ clock, initial: true });
    this.motion = new SimMotion({ clock });
    this.flash = new SimFlash({ capacity: options.flashCapacity });
    this.ble = new SimBle({ clock });
    this.modem = new SimModemWire({ clock });
    this.watchdog = new SimWatchdog({ clock, onBite: () => this.reboot("watchdog") });
    this.led = new SimLed({ clock });
    this.buzzer = new SimBuzzer({ clock });
    const onLog = options.onLog;
    this.hal = {
      clock,
      latch: this.latch,
      lid: this.lid,
      key: this.key,
      motion: this.motion,
      battery: this.battery,
      flash: this.flash,
      ble: this.ble,
      modem: this.modem,
      watchdog: this.watchdog,
      random: new SimRandom({ seed: options.seed }),
      led: this.led,
      buzzer: this.buzzer,
      accel: simAccel({ sha512: !options.noSha512 }),
      log: (line) => {
        this.logs.push(line);
        if (onLog) onLog(line);
      },
    };
  }

  /** Powers the box on and boots the firmware. */
  boot(): Keybox {
    this.boots++;
    const fw = start(this.hal, this.config);
    fw.events.on((e) => this.events.push(e));
    this.firmware = fw;
    return fw;
  }

  /** Runs the world for ms of virtual time. A PowerLoss from the flash becomes a power cut. */
  run(ms: number): void {
    try {
      this.clock.advance(ms);
    } catch (e) {
      if (!(e instanceof PowerLoss)) throw e;
      this.powerCut();
    }
  }

  /** Power disappears: timers and RAM are gone, the motor stops, the bolt stays where it is. */
  powerCut(): void {
    this.clock.clearAll();
    this.firmware = undefined;
    this.latch.drive("stop");
    this.watchdog.reset();
  }

  /** A reset (watchdog, or power back after a cut): the firmware boots again on the same flash. */
  reboot(_why = "reset"): Keybox {
    this.powerCut();
    this.flash.powerOn();
    return this.boot();
  }

  close(): void {
    if (this.firmware) this.firmware.close();
    this.firmware = undefined;
    this.clock.clearAll();
  }
}
