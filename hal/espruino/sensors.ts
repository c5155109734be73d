import { Battery, Handle, Motion } from "../index";

/*
 * LIS3DH registers used: CTRL_REG1 0x20 (0x57: 100 Hz, XYZ on), CTRL_REG3
 * 0x22 (0x40: interrupt 1 to INT1), CTRL_REG4 0x23 (0x00: +-2 g, 16 mg per
 * threshold step), INT1_CFG 0x30 (0x2A: X/Y/Z high, OR), INT1_SRC 0x31 (read
 * to clear), INT1_THS 0x32, OUT_X_L 0x28 (| 0x80 to auto-increment, 6 bytes,
 * left-justified 12-bit, 1 mg per digit in normal mode at +-2 g).
 */
const MG_PER_THS = 16;

/** The LIS3DH's interrupt 1 as a shock detector. */
export class EspruinoMotion implements Motion {
  private watchers: Array<{ threshold: number; cb: (peakMg: number) => void }> = [];

  constructor(private readonly options: { scl: string; sda: string; int1: string; address: number; bitrate?: number }) {
    I2C1.setup({ scl: options.scl, sda: options.sda, bitrate: options.bitrate === undefined ? 100000 : options.bitrate });
    this.reg(0x20, 0x57);
    this.reg(0x22, 0x40);
    this.reg(0x23, 0x00);
    this.reg(0x30, 0x2a);
    const self = this;
    setWatch(
      function () {
        self.fire();
      },
      options.int1,
      { repeat: true, edge: "rising", debounce: 0 }
    );
  }

  onShock(thresholdMg: number, cb: (peakMg: number) => void): Handle {
    const w = { threshold: thresholdMg, cb: cb };
    this.watchers.push(w);
    this.arm();
    const self = this;
    return {
      cancel: function () {
        self.watchers = self.watchers.filter(function (x) {
          return x !== w;
        });
        self.arm();
      },
    };
  }

  private arm(): void {
    let lowest = 2000;
    for (let i = 0; i < this.watchers.length; i++) lowest = Math.min(lowest, this.watchers[i].threshold);
    this.reg(0x32, Math.max(1, Math.min(127, Math.round(lowest / MG_PER_THS))));
  }

  private fire(): void {
    const a = this.options.address;
    I2C1.writeTo(a, [0x31]);
    I2C1.readFrom(a, 1);
    I2C1.writeTo(a, [0x28 | 0x80]);
    const d = I2C1.readFrom(a, 6);
    let sum = 0;
    for (let i = 0; i < 3; i++) {
      let v = d[i * 2] | (d[i * 2 + 1] << 8);
      if (v & 0x8000) v -= 0x10000;
      v = v / 16;
      sum += v * v;
    }
    const peak = Math.round(Math.sqrt(sum));
    const list = this.watchers.slice();
    for (let i = 0; i < list.length; i++) if (peak >= list[i].threshold) list[i].cb(peak);
  }

  private reg(r: number, v: number): void {
    I2C1.writeTo(this.options.address, [r, v]);
  }
}

/**
 * The battery through its resistor divider on an ADC pin. analogRead is a
 * fraction of the 3.6 V ADC range; the RAK5010's VBAT divider halves the
 * cell voltage, hence 7200 mV full scale unless the pin map says otherwise.
 */
export class EspruinoBattery implements Battery {
  constructor(private readonly options: { pin: string; millivoltsPerUnit?: number }) {}

  millivolts(): number {
    const scale = this.options.millivoltsPerUnit === undefined ? 7200 : this.options.millivoltsPerUnit;
    return Math.round(analogRead(this.options.pin) * scale);
  }
}
