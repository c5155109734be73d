import { Hal } from "../hal";
import { Config, ConfigInput, PROVISION_FILE, withDefaults } from "../firmware/config";
import { start, Keybox } from "../firmware/main";
import { BoxEvent } from "../firmware/events";
import { VirtualClock } from "./clock";
import { SimBattery } from "./hw/battery";
import { SimBle } from "./hw/ble";
import { SimCodeArea } from "./hw/codearea";
import { SimFlash, PowerLoss } from "./hw/flash";
import { SimLatch } from "./hw/latch";
import { SimModemWire } from "./hw/modem";
import { SimMotion } from "./hw/motion";
import { SimSwitch } from "./hw/switch";
import { SimPerson } from "./hw/person";
import { Bg96Emulator, BridgeSocket } from "./modem/bg96-emulator";
import { BASE_TABLE_FILE, keyTableFile, tableFile } from "../firmware/keytables";
import { prepareBase, prepareKey } from "../firmware/crypto/ed25519";
import { crc32 } from "./hw/system";
import { SimBuzzer, SimLed, SimRandom, SimWatchdog, simAccel } from "./hw/system";
import { BootSession, DeadBoot } from "./boot";

export interface SimBoxOptions {
  config?: ConfigInput;
  /** The owner's provisioning file (JSON text), placed in Storage as at installation. */
  provisioning?: string;
  /** The true time when the simulation starts (Unix seconds; default 2026-06-01): what the network reports. */
  now?: number;
  /** RTC value at the first boot (Unix seconds); default the true time, 0 = never set. */
  wallAtBoot?: number;
  /** The owner's MQTT broker, reached through the modem emulator's real TCP bridge. */
  broker?: { host: string; port: number };
  /** Sockets for the modem's TCP bridge (default real TCP; the soak's in-process network). */
  network?: () => BridgeSocket;
  /** Line trace of the modem's AT dialogue, for people. */
  onModemTrace?: (dir: "<" | ">", text: string) => void;
  seed?: number;
  /** Bytes of simulated Storage. */
  flashCapacity?: number;
  /** A saved Storage area (SimFlash.image()) to start from: the desktop's state folder. */
  flashImage?: Uint8Array;
  /** A saved code area (SimCodeArea.image()): the journal pool and whatever was installed there. */
  codeAreaImage?: Uint8Array;
  /**
   * Install the verifier's comb tables for the base point and the provisioned
   * keys, as the owner's host computes and uploads them at provisioning.
   */
  tables?: boolean;
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
 * RAM, timers and the firmware instance do not: each boot runs on its own
 * BootSession, whose registrations and timers all end with its power, so a
 * dead firmware instance can neither hear the radio or the modem nor act.
 * The world (a person's hands, the broker, the network) keeps its own time.
 */
export class SimBox {
  readonly clock: VirtualClock;
  readonly battery: SimBattery;
  readonly latch: SimLatch;
  readonly lid: SimSwitch;
  readonly key: SimSwitch;
  readonly motion: SimMotion;
  readonly flash: SimFlash;
  readonly codeArea: SimCodeArea;
  readonly ble: SimBle;
  readonly modem: SimModemWire;
  /** The BG96 at the far end of the modem wires, with its fault controls. */
  readonly cellular: Bg96Emulator;
  readonly watchdog: SimWatchdog;
  readonly led: SimLed;
  readonly buzzer: SimBuzzer;
  /** The world's hands: opens the lid only as far as the bolt allows, takes the key. */
  readonly person: SimPerson;
  /** Every part, as the platform wires them; each boot sees them through its own BootSession. */
  readonly hal: Hal;
  readonly events: BoxEvent[] = [];
  readonly logs: string[] = [];
  boots = 0;
  /** Monotonic times at which an injected flash power cut struck (run() turned it into a power cut). */
  readonly powerLosses: number[] = [];
  firmware: Keybox | undefined;
  /** The running boot's view of the hardware; undefined while the power is off. */
  session: BootSession | undefined;
  private readonly config: Config;

  constructor(options: SimBoxOptions = {}) {
    const now = options.now === undefined ? 1780272000 : options.now;
    const clock = new VirtualClock({ wallAtBoot: options.wallAtBoot === undefined ? now : options.wallAtBoot });
    this.clock = clock;
    this.config = withDefaults(Object.assign({}, options.config || {}, options.broker ? { broker: options.broker } : {}));
    this.battery = new SimBattery();
    this.latch = new SimLatch({ clock, battery: this.battery });
    this.lid = new SimSwitch({ clock, initial: true });
    this.key = new SimSwitch({ clock, initial: true });
    this.motion = new SimMotion({ clock });
    this.flash = new SimFlash({ capacity: options.flashCapacity, image: options.flashImage });
    this.codeArea = new SimCodeArea({ image: options.codeAreaImage });
    this.flash.onPowerLoss = () => this.lostPower();
    this.codeArea.onPowerLoss = () => this.lostPower();
    this.ble = new SimBle({ clock });
    this.modem = new SimModemWire({ clock });
    this.cellular = new Bg96Emulator({ wire: this.modem, clock, networkTime: () => now + clock.monotonic() / 1000, trace: options.onModemTrace, socket: options.network });
    this.watchdog = new SimWatchdog({ clock, onBite: () => this.reboot("watchdog") });
    this.led = new SimLed({ clock });
    this.buzzer = new SimBuzzer({ clock });
    this.person = new SimPerson({ latch: this.latch, lid: this.lid, key: this.key });
    if (options.provisioning !== undefined) this.install(PROVISION_FILE, options.provisioning);
    if (options.provisioning !== undefined && options.tables) this.installTables(JSON.parse(options.provisioning).keys);
    const onLog = options.onLog;
    this.hal = {
      clock,
      latch: this.latch,
      lid: this.lid,
      key: this.key,
      motion: this.motion,
      battery: this.battery,
      flash: this.flash,
      codeArea: this.codeArea,
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

  /** True while the box has power (between boot() and a power cut). */
  get powered(): boolean {
    return this.session !== undefined;
  }

  /** Powers the box on and boots the firmware, alone on every part. */
  boot(): Keybox {
    if (this.session) this.powerCut();
    if (this.boots > 0) {
      // power-on reset of every part the chip drives; the world left things where they are
      this.flash.powerOn();
      this.codeArea.powerOn();
      this.latch.powerOn();
      this.person.powerOn();
      this.motion.powerOn();
    }
    this.boots++;
    const session = new BootSession(this.boots, this.hal);
    this.session = session;
    this.ble.powerOn();
    this.modem.powerOn();
    const fw = start(session.hal, this.config);
    fw.events.on((e) => {
      if (session.alive) this.events.push(e);
    });
    this.firmware = fw;
    return fw;
  }

  /**
   * Runs the world for ms of virtual time. A PowerLoss from the flash is a
   * power cut, made the moment it strikes (lostPower), so a firmware that
   * catches the exception finds its hardware gone (DeadBoot) rather than
   * running on; either exception reaching here after that is the cut's echo.
   */
  run(ms: number): void {
    try {
      this.clock.advance(ms);
    } catch (e) {
      if (e instanceof PowerLoss) this.lostPower();
      else if (!(e instanceof DeadBoot && !this.session)) throw e;
    }
  }

  /** An injected cut struck inside a flash operation: the power goes now, once. */
  private lostPower(): void {
    if (!this.session) return;
    this.powerLosses.push(this.clock.monotonic());
    this.powerCut();
  }

  /**
   * Power disappears: the firmware's timers, registrations and RAM are gone,
   * the motor stops (the bolt stays where it is), the radio goes silent and
   * the modem loses its supply. Timers of the world keep running.
   */
  powerCut(): void {
    const s = this.session;
    this.session = undefined;
    this.firmware = undefined;
    if (s) s.end();
    this.latch.drive("stop");
    this.watchdog.reset();
    this.cellular.powerLoss();
    this.ble.powerOff();
    this.modem.powerOff();
  }

  /**
   * A reset (watchdog, or power back after a cut): every part forgets the
   * dead firmware's listeners, and the firmware boots again on the same flash.
   */
  reboot(_why = "reset"): Keybox {
    this.powerCut();
    return this.boot();
  }

  /** Computes and installs the comb tables for the base point and each { id, publicKey (hex) }. */
  installTables(keys: Array<{ id: number; publicKey: string }>): void {
    this.install(BASE_TABLE_FILE, tableFile(prepareBase(), crc32));
    for (const k of keys) {
      const t = prepareKey(new Uint8Array(Buffer.from(k.publicKey, "hex")));
      if (!t) throw new Error("key " + k.id + " is not a valid Ed25519 public key");
      this.install(keyTableFile(k.id), tableFile(t, crc32));
    }
  }

  /** Writes a whole file into Storage, as the owner's installer would over the console. */
  install(name: string, content: string | Uint8Array): void {
    const bytes = typeof content === "string" ? new Uint8Array(Buffer.from(content, "latin1")) : content;
    this.flash.erase(name);
    if (!this.flash.create(name, bytes.length) || !this.flash.writeAt(name, 0, bytes)) throw new Error("cannot install " + name);
  }

  close(): void {
    if (this.firmware) this.firmware.close();
    this.firmware = undefined;
    if (this.session) this.session.end();
    this.session = undefined;
    this.cellular.close();
    this.clock.clearAll();
  }
}
