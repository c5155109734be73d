import { Clock, Handle, Watchdog } from "../../hal";

/**
 * Arms the hardware watchdog and feeds it from a timer. If the interpreter
 * hangs (a runaway loop, a callback that never returns) the timer stops
 * firing and the chip resets into boot, which learns the bolt's real
 * position and never unlocks on its own.
 */
export class WatchdogFeeder {
  private readonly timer: Handle;

  constructor(options: { watchdog: Watchdog; clock: Clock; timeoutSeconds?: number }) {
    const timeout = options.timeoutSeconds === undefined ? 30 : options.timeoutSeconds;
    const wd = options.watchdog;
    wd.enable(timeout);
    this.timer = options.clock.every((timeout * 1000) / 3, function () {
      wd.kick();
    });
  }

  close(): void {
    this.timer.cancel();
  }
}
