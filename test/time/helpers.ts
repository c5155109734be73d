import { VirtualClock } from "../../sim/clock";
import { SimFlash } from "../../sim/hw/flash";
import { Journal } from "../../firmware/store/journal";
import { crc32 } from "../../firmware/store/crc32";
import { WallClock } from "../../firmware/time/wallclock";

/** A wall clock on its own time journal in flash, as the firmware opens it; events land in events as "type:reason". */
export function makeWallClock(clock: VirtualClock, flash: SimFlash, events: string[] = []): WallClock {
  return new WallClock({
    clock,
    log: new Journal({ flash, prefix: "time", segmentBytes: 128, maxSegments: 2, crc32 }),
    maxBackS: 300,
    emit: (type, reason) => events.push(type + ":" + reason),
  });
}
