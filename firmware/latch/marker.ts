import { MARKER_JOURNAL } from "../storage-plan";
import { Flash } from "../../hal";
import { Journal } from "../store/journal";

/**
 * What the latch persists before it energises the motor: the direction and
 * how many drives in a row were cut short by a reset. A marker still present
 * at boot means the last drive never finished (watchdog reset, brown-out,
 * power cut); the count stops a weak cell from looping reset -> drive ->
 * reset forever.
 */
export interface DriveMarker {
  dir: "open" | "close";
  n: number;
}

/**
 * Durable storage for one DriveMarker. Injected, so the latch does not
 * depend on a particular store: the journal adapter (journalMarker) in
 * production, ramMarker for boards or tests without a store.
 * write(undefined) clears. write returns false when the store refused.
 */
export interface MarkerStore {
  read(): DriveMarker | undefined;
  write(m: DriveMarker | undefined): boolean;
}

/** A marker that lives in RAM: survives nothing, for boards or tests without a store. */
export function ramMarker(): MarkerStore {
  let held: DriveMarker | undefined;
  return {
    read: function () {
      return held ? { dir: held.dir, n: held.n } : undefined;
    },
    write: function (m) {
      held = m ? { dir: m.dir, n: m.n } : undefined;
      return true;
    },
  };
}

/**
 * Record format (3 bytes, carried inside a journal record that adds its own
 * sequence number and CRC): byte 0 = 0x4D ('M', the record kind), byte 1 =
 * 0 none / 1 open / 2 close, byte 2 = consecutive interrupted drives (0-255).
 * Anything else decodes as undefined-with-error so a corrupt record never
 * invents a drive.
 */
export function encodeMarker(m: DriveMarker | undefined): Uint8Array {
  const out = new Uint8Array(3);
  out[0] = 0x4d;
  out[1] = m ? (m.dir === "open" ? 1 : 2) : 0;
  out[2] = m ? Math.max(0, Math.min(255, m.n)) : 0;
  return out;
}

/** { ok: false } for bytes that are not a marker record. */
export function decodeMarker(b: Uint8Array): { ok: boolean; m?: DriveMarker } {
  if (!b || b.length !== 3 || b[0] !== 0x4d || b[1] > 2) return { ok: false };
  if (b[1] === 0) return { ok: true };
  return { ok: true, m: { dir: b[1] === 1 ? "open" : "close", n: b[2] } };
}

/**
 * The newest intact marker among recs. A function of its own: Espruino
 * keeps a function's whole scope alive with any closure made in it, and the
 * store's closures below would otherwise hold every replayed record.
 */
function lastMarker(recs: Uint8Array[]): DriveMarker | undefined {
  for (let i = recs.length - 1; i >= 0; i--) {
    const r = decodeMarker(recs[i]);
    if (r.ok) return r.m;
  }
  return undefined;
}

/**
 * The marker in its own small journal: each change appends one 3-byte
 * record, the newest intact record wins at boot. When the journal is full
 * it is rewritten to the current marker alone (the journal commits the new
 * generation before erasing the old, so a cut keeps one of them). Writes
 * that would not change the stored value are skipped: most stops clear an
 * already clear marker.
 */
export function journalMarker(o: { flash: Flash; crc32: (data: Uint8Array) => number; prefix?: string }): MarkerStore {
  const j = new Journal({ flash: o.flash, crc32: o.crc32, prefix: o.prefix === undefined ? MARKER_JOURNAL.prefix : o.prefix, segmentBytes: MARKER_JOURNAL.segmentBytes, maxSegments: MARKER_JOURNAL.maxSegments });
  let held = lastMarker(j.records());
  return {
    read: function () {
      return held ? { dir: held.dir, n: held.n } : undefined;
    },
    write: function (m) {
      if (!m && !held) return true;
      if (m && held && m.dir === held.dir && m.n === held.n) return true;
      const rec = encodeMarker(m);
      if (!j.append(rec) && !j.rewrite([rec])) return false;
      held = m ? { dir: m.dir, n: m.n } : undefined;
      return true;
    },
  };
}
