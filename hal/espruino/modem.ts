import { Handle, Modem } from "../index";

/** Serial1 wired to the BG96, and the power-key pin (its polarity from the pin map). */
export class EspruinoModem implements Modem {
  private listeners: Array<(chunk: string) => void> = [];

  constructor(private readonly options: { tx: string; rx: string; powerKey: string; baud: number; powerKeyActiveLow?: boolean }) {
    const self = this;
    this.setPowerKey(false);
    Serial1.setup(options.baud, { tx: options.tx, rx: options.rx });
    Serial1.on("data", function (d: string) {
      const list = self.listeners.slice();
      for (let i = 0; i < list.length; i++) list[i](d);
    });
  }

  write(data: string): void {
    Serial1.write(data);
  }

  onData(cb: (chunk: string) => void): Handle {
    const list = this.listeners;
    list.push(cb);
    return {
      cancel: function () {
        const i = list.indexOf(cb);
        if (i >= 0) list.splice(i, 1);
      },
    };
  }

  setPowerKey(asserted: boolean): void {
    digitalWrite(this.options.powerKey, asserted !== !!this.options.powerKeyActiveLow ? 1 : 0);
  }
}
