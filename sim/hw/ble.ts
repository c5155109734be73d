import { Ble, BleLink, GattLayout, Handle } from "../../hal";
import { VirtualClock } from "../clock";
import { Listeners } from "./listeners";

/** A central's view of the simulated radio: what it receives. */
export interface CentralSink {
  notify(frame: Uint8Array): void;
  disconnected(): void;
}

/**
 * The BLE radio as one peripheral with at most one central, like the nRF52
 * under Espruino. Centrals (tests, or the socket transport for the desktop
 * simulator) connect(), write() frames and receive notifications; each hop
 * is delivered on the virtual clock, never synchronously. The link records
 * whether it is encrypted, so the firmware's security policy can be tested.
 */
export class SimBle implements Ble {
  layout: GattLayout | undefined;
  consoleExposed = false;
  info = new Uint8Array(0);
  advertisement: { name: string; manufacturerData: Uint8Array } | undefined;
  /** Advertising interval and TX power the firmware chose (Espruino's defaults until it does). */
  radio = { intervalMs: 375, txDbm: 0 };
  private central: { link: { encrypted: boolean }; sink: CentralSink } | undefined;
  /** No supply: the radio neither advertises nor takes a connection. */
  private off = false;
  private connects = new Listeners<BleLink>();
  private secures = new Listeners<BleLink>();
  private disconnects = new Listeners<void>();
  private writes = new Listeners<Uint8Array>();

  constructor(private readonly options: { clock: VirtualClock; latencyMs?: number }) {}

  publish(layout: GattLayout, options: { console: boolean }): void {
    this.layout = layout;
    this.consoleExposed = options.console;
  }

  setInfo(value: Uint8Array): void {
    this.info = value.slice();
  }

  notify(frame: Uint8Array): void {
    if (frame.length > 20) throw new Error("BLE notification over 20 bytes");
    const c = this.central;
    if (!c) return;
    const copy = frame.slice();
    this.later(() => {
      if (this.central === c) c.sink.notify(copy);
    });
  }

  setRadio(options: { intervalMs: number; txDbm: number }): void {
    this.radio = { intervalMs: options.intervalMs, txDbm: options.txDbm };
  }

  advertise(name: string, manufacturerData: Uint8Array): void {
    this.advertisement = { name, manufacturerData: manufacturerData.slice() };
  }

  onConnect(cb: (link: BleLink) => void): Handle {
    return this.connects.add(cb);
  }

  onSecured(cb: (link: BleLink) => void): Handle {
    return this.secures.add(cb);
  }

  onDisconnect(cb: () => void): Handle {
    return this.disconnects.add(() => cb());
  }

  onWrite(cb: (frame: Uint8Array) => void): Handle {
    return this.writes.add(cb);
  }

  disconnect(): void {
    const c = this.central;
    if (!c) return;
    this.central = undefined;
    this.later(() => {
      c.sink.disconnected();
      this.disconnects.emit();
    });
  }

  /** Control: a central connects; false when one is already connected (the radio takes one) or the box has no power. */
  connect(sink: CentralSink, encrypted: boolean): boolean {
    if (this.central || this.off) return false;
    const link = { encrypted };
    this.central = { link, sink };
    this.later(() => this.connects.emit(link));
    return true;
  }

  /** Control: the connected central completes LE Secure Connections pairing. */
  secure(): void {
    const c = this.central;
    if (!c) return;
    c.link.encrypted = true;
    this.later(() => this.secures.emit(c.link));
  }

  /** Control: the connected central writes a request frame. */
  write(frame: Uint8Array): void {
    if (!this.central) return;
    const c = this.central;
    const copy = frame.slice();
    this.later(() => {
      if (this.central === c) this.writes.emit(copy);
    });
  }

  /** Control: the central goes away (walks off, or its app closes). */
  drop(): void {
    const c = this.central;
    if (!c) return;
    this.central = undefined;
    this.later(() => this.disconnects.emit());
  }

  /**
   * Control: the chip reset (power back, watchdog). The old firmware's
   * handlers, services and advertising are gone until the new boot publishes
   * again, and the link is lost: the central sees a disconnect.
   */
  powerOn(): void {
    this.off = false;
    this.reset();
  }

  /** Control: the supply is gone: the link drops and nothing answers until powerOn(). */
  powerOff(): void {
    this.off = true;
    this.reset();
  }

  /** Control: true while the radio has power. */
  isPowered(): boolean {
    return !this.off;
  }

  private reset(): void {
    const c = this.central;
    this.central = undefined;
    this.connects = new Listeners<BleLink>();
    this.secures = new Listeners<BleLink>();
    this.disconnects = new Listeners<void>();
    this.writes = new Listeners<Uint8Array>();
    this.layout = undefined;
    this.consoleExposed = false;
    this.info = new Uint8Array(0);
    this.advertisement = undefined;
    this.radio = { intervalMs: 375, txDbm: 0 };
    if (c) this.later(() => c.sink.disconnected());
  }

  isConnected(): boolean {
    return this.central !== undefined;
  }

  private later(fn: () => void): void {
    this.options.clock.after(this.options.latencyMs === undefined ? 7 : this.options.latencyMs, fn);
  }
}
