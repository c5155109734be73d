import { Clock, Flash } from "../../hal";
import { EventBus } from "../events";
import { Journal } from "../store/journal";
import { Crc32 } from "../store/crc32";
import { WallClock } from "../time/wallclock";
import { Uplink, UplinkOptions } from "./uplink";

/**
 * The uplink's flash footprint, one journal each (names must not collide
 * with other journals): the event outbox 4 x 1 KiB, executed command ids
 * 2 x 256 B, the time floor 2 x 128 B. A rewrite writes a new generation
 * before erasing the old one, so reserve twice that; erased space comes
 * back only through Flash.compact(), which the storage maintainer runs while
 * power is good.
 */
export const UPLINK_JOURNALS = {
  outbox: { prefix: "ulev", segmentBytes: 1024, maxSegments: 4 },
  commands: { prefix: "ulcmd", segmentBytes: 256, maxSegments: 2 },
  time: { prefix: "ultime", segmentBytes: 128, maxSegments: 2 },
};

/** The wall clock on its journal, reporting syncs and refusals on the bus. Open it before access control needs the time. */
export function openWallClock(o: { clock: Clock; flash: Flash; crc32: Crc32; events: EventBus }): WallClock {
  const j = UPLINK_JOURNALS.time;
  return new WallClock({
    clock: o.clock,
    log: new Journal({ flash: o.flash, prefix: j.prefix, segmentBytes: j.segmentBytes, maxSegments: j.maxSegments, crc32: o.crc32 }),
    emit: function (type, reason, d) {
      o.events.emit(type, reason, d);
    },
  });
}

/** The uplink on its journals; call start() on the result to bring the link up. */
export function openUplink(
  o: { flash: Flash; crc32: Crc32 } & Pick<
    UplinkOptions,
    | "clock"
    | "random"
    | "events"
    | "boxId"
    | "connect"
    | "wallclock"
    | "verify"
    | "issuerKey"
    | "execute"
    | "telemetry"
    | "telemetryMs"
    | "networkTime"
    | "username"
    | "password"
    | "log"
  >,
): Uplink {
  const ob = UPLINK_JOURNALS.outbox;
  const cm = UPLINK_JOURNALS.commands;
  return new Uplink({
    clock: o.clock,
    random: o.random,
    events: o.events,
    boxId: o.boxId,
    connect: o.connect,
    wallclock: o.wallclock,
    verify: o.verify,
    issuerKey: o.issuerKey,
    execute: o.execute,
    telemetry: o.telemetry,
    telemetryMs: o.telemetryMs,
    networkTime: o.networkTime,
    username: o.username,
    password: o.password,
    log: o.log,
    outboxCapacity: 32,
    outboxLog: new Journal({ flash: o.flash, prefix: ob.prefix, segmentBytes: ob.segmentBytes, maxSegments: ob.maxSegments, crc32: o.crc32 }),
    commandLog: new Journal({ flash: o.flash, prefix: cm.prefix, segmentBytes: cm.segmentBytes, maxSegments: cm.maxSegments, crc32: o.crc32 }),
  });
}
