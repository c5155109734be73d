import { Clock, Handle, Led } from "../hal";

const BLINK_MS = 60;

/** A short blink every period: proof of life for a person looking at the box. */
export class Heartbeat {
  private readonly timer: Handle;
  private off: Handle | undefined;

  constructor(options: { clock: Clock; led: Led; periodMs: number; quiet?: () => boolean }) {
    const o = options;
    this.timer = o.clock.every(o.periodMs, () => {
      // The alarm owns the LED while it signals: a heartbeat would garble its pattern.
      if (o.quiet && o.quiet()) return;
      o.led.set(true);
      this.off = o.clock.after(BLINK_MS, () => o.led.set(false));
    });
  }

  close(): void {
    this.timer.cancel();
    if (this.off) this.off.cancel();
  }
}
