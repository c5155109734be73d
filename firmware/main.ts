import { Hal } from "../hal";
import { Config, checkConfig, FIRMWARE_VERSION } from "./config";
import { EventBus } from "./events";
import { Heartbeat } from "./heartbeat";
import { advertise, CoarseState } from "./advertising";
import { BatteryMonitor } from "./power/battery";
import { WatchdogFeeder } from "./power/watchdog";

export interface Status {
  boxId: string;
  version: string;
  latch: CoarseState;
  batteryMv: number;
}

/** A running box: what main() hands back to the platform's entry point. */
export interface Keybox {
  readonly events: EventBus;
  status(): Status;
  close(): void;
}

/**
 * Wires the services onto a HAL and starts them. The first thing it does is
 * learn where the bolt really is: a reset never moves the latch.
 */
export function start(hal: Hal, config: Config): Keybox {
  const bad = checkConfig(config);
  if (bad) throw new Error(bad);
  const events = new EventBus({
    now: function () {
      return { t: Math.floor(hal.clock.wall()), m: hal.clock.monotonic() };
    },
  });
  const latchState = function (): CoarseState {
    return hal.latch.bolt.read() ? "locked" : "open";
  };
  hal.latch.drive("stop");
  const watchdog = new WatchdogFeeder({ watchdog: hal.watchdog, clock: hal.clock });
  const heartbeat = new Heartbeat({ clock: hal.clock, led: hal.led, periodMs: config.heartbeatMs });
  const battery = new BatteryMonitor({ battery: hal.battery, clock: hal.clock, events: events });
  advertise(hal.ble, config.boxId, latchState());
  // On the next tick, so whoever start() returns to can subscribe first.
  hal.clock.after(0, function () {
    events.emit("boot", latchState(), { version: FIRMWARE_VERSION });
  });
  hal.log("keybox " + config.boxId + " v" + FIRMWARE_VERSION + " up, latch " + latchState());
  return {
    events: events,
    status: function () {
      return { boxId: config.boxId, version: FIRMWARE_VERSION, latch: latchState(), batteryMv: battery.millivolts() };
    },
    close: function () {
      heartbeat.close();
      battery.close();
      watchdog.close();
    },
  };
}
