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
  private readonly rx = new Listeners<string>();

  constructor(private readonly options: { clock: VirtualClock }) {}

  write(data: string): void {
    this.sent += data;
    const p = this.peer;
    if (p) this.options.clock.after(0, () => p.received(data));
  }

  onData(cb: (chunk: string) => void): Handle {
    return this.rx.add(cb);
  }

  setPowerKey(asserted: boolean): void {
    const p = this.peer;
    if (p) p.powerKey(asserted);
  }

  /** Control: connect the far end. */
  attach(peer: ModemPeer | undefined): void {
    this.peer = peer;
  }

  /** Control: the modem sends bytes to the MCU (delivered on the virtual clock). */
  feed(chunk: string): void {
    this.options.clock.after(0, () => this.rx.emit(chunk));
  }
}
