import { OUTBOX_EVENTS, UPLINK_JOURNALS } from "../storage-plan";
import { Clock, Flash } from "../../hal";
import { EventBus } from "../events";
import { Journal } from "../store/journal";
import { Crc32 } from "../store/crc32";
import { WallClock } from "../time/wallclock";
import { outboxBytes } from "./outbox";
import { Uplink, UplinkOptions } from "./uplink";

/** The uplink's journals (sizes in storage-plan.ts, beside every other journal). */
export { UPLINK_JOURNALS };

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
    outboxCapacity: OUTBOX_EVENTS,
    outboxBytes: outboxBytes(ob.segmentBytes, ob.maxSegments),
    outboxLog: new Journal({ flash: o.flash, prefix: ob.prefix, segmentBytes: ob.segmentBytes, maxSegments: ob.maxSegments, crc32: o.crc32 }),
    commandLog: new Journal({ flash: o.flash, prefix: cm.prefix, segmentBytes: cm.segmentBytes, maxSegments: cm.maxSegments, crc32: o.crc32 }),
  });
}
