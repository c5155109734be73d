import { Handle, Modem } from "../../hal";
import { VirtualClock } from "../clock";
import { Listeners } from "./listeners";

/** What sits at the far end of the modem's wires (the BG96 emulator). */
export interface ModemPeer {
  /** Bytes the firmware wrote to the UART. */
  received(data: string): void;
  /** The power-key pin changed. */
  powerKey(asserted: boolean): void;
}

/**
 * The UART and power-key wires between the MCU and the modem. With no peer
 * attached the modem is absent: writes vanish and nothing answers.
 */
export class SimModemWire implements Modem {
  /** Everything the firmware wrote, for tests. */
  sent = "";
  private peer: ModemPeer | undefined;
  private rx = new Listeners<string>();
  /** The MCU side has no supply: nothing it could write, nobody to hear the modem. */
  private off = false;

  constructor(private readonly options: { clock: VirtualClock }) {}

  write(data: string): void {
    if (this.off) return;
    this.sent += data;
    const p = this.peer;
    if (p) this.options.clock.after(0, () => p.received(data));
  }

  onData(cb: (chunk: string) => void): Handle {
    return this.rx.add(cb);
  }

  setPowerKey(asserted: boolean): void {
    if (this.off) return;
    const p = this.peer;
    if (p) p.powerKey(asserted);
  }

  /** Control: connect the far end. */
  attach(peer: ModemPeer | undefined): void {
    this.peer = peer;
  }

  /** Control: the modem sends bytes to the MCU (delivered on the virtual clock; lost while the MCU is off). */
  feed(chunk: string): void {
    const rx = this.rx;
    this.options.clock.after(0, () => {
      if (rx === this.rx && !this.off) rx.emit(chunk);
    });
  }

  /** Control: the MCU lost its supply: its UART listener is gone, bytes in flight are lost. */
  powerOff(): void {
    this.off = true;
    this.rx = new Listeners<string>();
  }

  /** Control: the MCU is back; the new firmware registers its own listener. */
  powerOn(): void {
    this.off = false;
    this.rx = new Listeners<string>();
  }
}
