import { Handle, Input } from "../index";
import { SwitchPin } from "./pins";

/** A switch on a pin, debounced by setWatch, reported by its logical meaning. */
export class EspruinoInput implements Input {
  private level: boolean;
  private listeners: Array<(level: boolean) => void> = [];

  constructor(options: { pin: SwitchPin }) {
    const p = options.pin;
    pinMode(p.pin, p.pull === undefined ? "input_pullup" : p.pull);
    this.level = !!digitalRead(p.pin) !== p.activeLow;
    const self = this;
    setWatch(
      function (e) {
        const level = e.state !== p.activeLow;
        if (level === self.level) return;
        self.level = level;
        const list = self.listeners.slice();
        for (let i = 0; i < list.length; i++) list[i](level);
      },
      p.pin,
      { repeat: true, edge: "both", debounce: p.debounceMs === undefined ? 20 : p.debounceMs }
    );
  }

  read(): boolean {
    return this.level;
  }

  onChange(cb: (level: boolean) => void): Handle {
    const self = this;
    this.listeners.push(cb);
    return {
      cancel: function () {
        self.listeners = self.listeners.filter(function (l) {
          return l !== cb;
        });
      },
    };
  }
}
