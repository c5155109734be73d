import { Handle, Hal } from "../../hal";
import { SimBox } from "../box";
import { CellConfig, DEFAULT_CELL, FIGURES } from "./figures";

/**
 * The energy model: a meter on a SimBox that only watches. The firmware
 * runs unchanged; the meter reads each simulated part's state after every
 * timer that runs on the virtual clock (states change only inside timers,
 * so between two samples every part holds one state) and charges the
 * elapsed time at that state's current from FIGURES. What has no lasting
 * state is counted as it happens through thin wrappers on the HAL the
 * firmware is handed: interpreter wakes (timer callbacks), UART bytes from
 * the modem, E.convolve calls of the signature check, flash words written,
 * and from the BG96 emulator its radio transfers and periodic TAUs.
 *
 * Charge is kept in mC (mA x s) per "part.state"; the report turns it into
 * mAh, adds the cell's self-discharge, and gives the life on the cell.
 */
export interface EnergyReport {
  cell: string;
  capacityMah: number;
  days: number;
  /** Charge drawn by the box (without self-discharge), mAh. */
  chargeMah: number;
  /** mAh by part, self-discharge included as its own part. */
  byPart: { [part: string]: number };
  /** mAh by what each part was doing ("bg96.connected", "nrf52840.advertising", ...). */
  byActivity: { [activity: string]: number };
  /** Average current of the box, mA, and the self-discharge as a current. */
  averageMa: number;
  selfDischargeMa: number;
  lifeDays: number;
  years: number;
}

const MC_PER_MAH = 3600;

export class EnergyMeter {
  readonly cell: CellConfig;
  private readonly box: SimBox;
  private readonly mc: { [activity: string]: number } = {};
  private last: number;
  private readonly startedAt: number;
  private continuous: Array<{ key: string; ma: number }> = [];
  private lastWake = -1;
  private transfers = 0;
  private airBytes = 0;
  private taus = 0;
  private readonly sub: Handle;

  /** Attach before box.boot(): the firmware must be handed the watched HAL. */
  constructor(options: { box: SimBox; cell?: CellConfig }) {
    this.box = options.box;
    this.cell = options.cell || DEFAULT_CELL;
    this.last = this.startedAt = this.box.clock.monotonic();
    this.transfers = this.box.cellular.transfers;
    this.airBytes = this.box.cellular.airBytes;
    this.taus = this.box.cellular.taus;
    this.watch(this.box.hal);
    this.sub = this.box.clock.observe(() => this.sample());
    this.states();
  }

  /** Charges the time since the last sample at the states then, and reads the states now. */
  sample(): void {
    const now = this.box.clock.monotonic();
    const dtS = (now - this.last) / 1000;
    if (dtS > 0) for (let i = 0; i < this.continuous.length; i++) this.add(this.continuous[i].key, this.continuous[i].ma * dtS);
    this.last = now;
    this.counters();
    this.states();
  }

  report(): EnergyReport {
    this.sample();
    const days = (this.box.clock.monotonic() - this.startedAt) / 86400000;
    const byActivity: { [k: string]: number } = {};
    const byPart: { [k: string]: number } = {};
    let total = 0;
    for (const k of Object.keys(this.mc).sort()) {
      const mah = this.mc[k] / MC_PER_MAH;
      byActivity[k] = mah;
      const part = k.split(".")[0];
      byPart[part] = (byPart[part] || 0) + mah;
      total += mah;
    }
    const hours = days * 24;
    const averageMa = hours > 0 ? total / hours : 0;
    const selfDischargeMa = (this.cell.capacityMah * this.cell.selfDischargePerMonth) / (30.44 * 24);
    byPart["self-discharge"] = selfDischargeMa * hours;
    const lifeDays = this.cell.capacityMah / (averageMa + selfDischargeMa) / 24;
    return { cell: this.cell.name, capacityMah: this.cell.capacityMah, days, chargeMah: total, byPart, byActivity, averageMa, selfDischargeMa, lifeDays, years: lifeDays / 365.25 };
  }

  close(): void {
    this.sample();
    this.sub.cancel();
  }

  private add(key: string, mc: number): void {
    this.mc[key] = (this.mc[key] || 0) + mc;
  }

  /** Impulse charge: time at a current, ms x mA = uC. */
  private spend(key: string, ms: number, ma: number): void {
    this.add(key, (ms * ma) / 1000);
  }

  private counters(): void {
    const c = this.box.cellular;
    const n = c.transfers - this.transfers;
    const bytes = c.airBytes - this.airBytes;
    const taus = c.taus - this.taus;
    this.transfers = c.transfers;
    this.airBytes = c.airBytes;
    this.taus = c.taus;
    if (n > 0 || bytes > 0) this.spend("bg96.transmit", n * FIGURES.modemTxBurst.value + bytes / FIGURES.modemBytesPerMs.value, FIGURES.modemTx.value);
    if (taus > 0) this.add("bg96.tau", taus * FIGURES.modemTauCharge.value);
  }

  /** The parts' lasting states and their currents, held until the next sample. */
  private states(): void {
    const b = this.box;
    const out: Array<{ key: string; ma: number }> = [];
    out.push({ key: "nrf52840.sleep", ma: FIGURES.mcuSleep.value });
    out.push({ key: "board.quiescent", ma: FIGURES.board.value });
    out.push({ key: "accelerometer.low-power", ma: FIGURES.accel.value });
    if (b.ble.isConnected()) out.push({ key: "nrf52840.ble-connected", ma: FIGURES.bleConnected.value });
    else if (b.ble.advertisement) out.push({ key: "nrf52840.advertising", ma: advertisingMa(b.ble.radio.intervalMs, b.ble.radio.txDbm) });
    const r = b.cellular.radio();
    if (r.power === "on" || r.power === "booting") out.push({ key: "nrf52840.uart", ma: FIGURES.uartOn.value });
    out.push(modemState(r));
    const motor = b.battery.load();
    if (motor > 0) out.push({ key: "motor.drive", ma: motor });
    if (b.led.on) out.push({ key: "led.on", ma: FIGURES.led.value });
    if (b.buzzer.frequency > 0) out.push({ key: "buzzer.on", ma: FIGURES.buzzer.value });
    this.continuous = out;
  }

  /** Wraps what the firmware is handed, to count what has no lasting state. */
  private watch(hal: Hal): void {
    const self = this;
    const clock = hal.clock;
    const wake = (cb: () => void) => () => {
      const now = clock.monotonic();
      // Callbacks due at the same millisecond run in one wake of the interpreter.
      if (now !== self.lastWake) self.spend("nrf52840.cpu", FIGURES.jsWake.value, FIGURES.mcuRun.value);
      self.lastWake = now;
      cb();
    };
    hal.clock = {
      monotonic: () => clock.monotonic(),
      wall: () => clock.wall(),
      setWall: (t: number) => clock.setWall(t),
      after: (ms: number, cb: () => void) => clock.after(ms, wake(cb)),
      every: (ms: number, cb: () => void) => clock.every(ms, wake(cb)),
    };
    const modem = hal.modem;
    hal.modem = {
      write: (d: string) => modem.write(d),
      setPowerKey: (a: boolean) => modem.setPowerKey(a),
      onData: (cb: (chunk: string) => void) =>
        modem.onData((chunk) => {
          self.spend("nrf52840.cpu", FIGURES.uartPerByte.value * chunk.length, FIGURES.mcuRun.value);
          cb(chunk);
        }),
    };
    const accel = hal.accel;
    const convolve = accel.convolve;
    if (convolve)
      hal.accel = Object.assign({}, accel, {
        convolve: (a: Float64Array, b: Float64Array, offset: number) => {
          self.spend("nrf52840.verify", FIGURES.convolveCall.value, FIGURES.mcuRun.value);
          return convolve(a, b, offset);
        },
      });
    const flash = hal.flash;
    const words = (n: number) => self.spend("nrf52840.flash", Math.ceil(n / 4) * FIGURES.flashWordWrite.value, FIGURES.flashActive.value);
    hal.flash = {
      read: (name: string) => flash.read(name),
      list: (prefix: string) => flash.list(prefix),
      free: () => flash.free(),
      usage: () => flash.usage(),
      create: (name: string, size: number) => {
        words(32);
        return flash.create(name, size);
      },
      writeAt: (name: string, offset: number, data: Uint8Array) => {
        words(data.length);
        return flash.writeAt(name, offset, data);
      },
      erase: (name: string) => {
        words(4);
        return flash.erase(name);
      },
      compact: () => {
        // Compaction erases and rewrites the Storage area's pages: charge every page of it.
        self.spend("nrf52840.flash", Math.ceil((flash.free() + 4096) / 4096) * FIGURES.flashPageErase.value, FIGURES.flashActive.value);
        return flash.compact();
      },
    };
  }
}

/** Average current of connectable advertising at an interval and TX power (three channels per event). */
export function advertisingMa(intervalMs: number, txDbm: number): number {
  const tx = txDbm >= 8 ? FIGURES.radioTx8.value : txDbm <= 0 ? FIGURES.radioTx0.value : FIGURES.radioTx0.value + ((FIGURES.radioTx8.value - FIGURES.radioTx0.value) * txDbm) / 8;
  const perEventUc = 3 * FIGURES.advTxPerChannel.value * tx + 3 * FIGURES.advRxPerChannel.value * FIGURES.radioRx.value + FIGURES.advCpuPerEvent.value * FIGURES.mcuRun.value;
  return perEventUc / intervalMs;
}

/** The BG96's current in a radio state. */
export function modemState(r: { power: string; registered: boolean; connected: boolean; edrxMs: number }): { key: string; ma: number } {
  if (r.power === "off") return { key: "bg96.off", ma: FIGURES.modemOff.value };
  if (r.power === "psm") return { key: "bg96.psm", ma: FIGURES.modemPsm.value };
  if (r.power === "booting") return { key: "bg96.booting", ma: FIGURES.modemBooting.value };
  if (!r.registered) return { key: "bg96.searching", ma: FIGURES.modemSearching.value };
  if (r.connected) return { key: "bg96.connected", ma: FIGURES.modemConnected.value };
  if (r.edrxMs > 0) return { key: "bg96.idle-edrx", ma: FIGURES.modemEdrxFloor.value + FIGURES.modemPagingCharge.value / (r.edrxMs / 1000) };
  return { key: "bg96.idle-drx", ma: FIGURES.modemIdleDrx.value };
}

/** One line for people: the life the measured average current gives, and where the charge went. */
export function describe(r: EnergyReport): string {
  const total = r.chargeMah + (r.byPart["self-discharge"] || 0);
  const parts = Object.keys(r.byPart)
    .sort((a, b) => r.byPart[b] - r.byPart[a])
    .map((k) => k + " " + (total > 0 ? Math.round((100 * r.byPart[k]) / total) : 0) + "%")
    .join(", ");
  const hours = r.days * 24;
  return (
    "energy: " + r.chargeMah.toFixed(3) + " mAh in " + hours.toFixed(2) + " h, average " + (r.averageMa * 1000).toFixed(1) + " uA (+" + (r.selfDischargeMa * 1000).toFixed(1) +
    " uA self-discharge): " + r.lifeDays.toFixed(0) + " days = " + r.years.toFixed(2) + " years on a " + r.capacityMah + " mAh " + r.cell + "; by part: " + parts
  );
}
