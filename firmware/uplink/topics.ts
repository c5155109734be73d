/**
 * Every MQTT topic and payload between the box and its owner, in one place.
 * <box> is the box id from the configuration.
 *
 * Box -> owner
 *   kb/<box>/status     retained, QoS 1. UTF-8 "online" after each connect;
 *                       the last will sets "offline" when the link dies.
 *   kb/<box>/telemetry  QoS 0, every telemetryMs while connected. JSON
 *                       {"bat":mV,"sig":rssi dBm or null,"latch":"locked"|"open"|...,
 *                        "t":unix s,"known":bool,"q":undelivered events}
 *   kb/<box>/events     QoS 1, the audit log from the durable outbox, in order.
 *                       JSON {"ep":epoch,"seq":n,"type":..,"reason":..,"t":unix s
 *                       (0 = clock unknown),"m":ms since boot,"d":{..}}.
 *                       (ep, seq) is unique per event: duplicates are possible
 *                       (at-least-once) and are dropped by the owner. seq is never
 *                       reused and an event never changes. A gap in seq is
 *                       explained by a later type "outbox" reason "lost" event
 *                       {"from":first,"to":last,"lost":n,<type>:count}: the n
 *                       numbers in from..to the owner never received were
 *                       dropped by the outbox's priority policy (outbox.ts).
 *   kb/<box>/reply      QoS 1. JSON {"id":"<command id hex>","ok":bool,"reason":code}
 *                       for every command received, once its outcome is final
 *                       (and, when ok, persisted). Also recorded as a "cmd" event
 *                       {id, kind[, size]}. A message too large for the box
 *                       (over the client's maxPacket, 4 KB) is refused
 *                       "cmd_too_big" with the id and kind its first bytes name
 *                       and its size; one whose effect threw, "cmd_failed".
 *
 * Owner -> box
 *   kb/<box>/cmd        QoS 1. A signed command (binary, format in command.ts):
 *                       grant push, revoke, remote unlock, configuration, time.
 */
export interface Topics {
  status: string;
  telemetry: string;
  events: string;
  reply: string;
  cmd: string;
}

export function topicsFor(boxId: string): Topics {
  const base = "kb/" + boxId + "/";
  return { status: base + "status", telemetry: base + "telemetry", events: base + "events", reply: base + "reply", cmd: base + "cmd" };
}

export interface Telemetry {
  bat: number;
  sig: number | null;
  latch: string;
}
