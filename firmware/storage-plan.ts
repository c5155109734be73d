/*
 * Every journal the firmware keeps in Storage, with its size, in one place:
 * the modules open their journals from these entries, and the build and the
 * flasher add them up against the board's Storage area (tools/budget.ts), so
 * a box never ships with less room than its journals were promised.
 * A journal holds at most maxSegments files of segmentBytes; rewriting one
 * writes the new generation before erasing the old, so at that moment it
 * needs its size twice (one journal rewrites at a time).
 */
import { outboxSegments } from "./uplink/outbox";

export interface JournalPlan {
  prefix: string;
  segmentBytes: number;
  maxSegments: number;
}

/** Use counts, revocations and trusted keys. */
export const GRANTS_JOURNAL: JournalPlan = { prefix: "grants", segmentBytes: 1024, maxSegments: 6 };
/** The latch's drive marker (a motor cycle interrupted by a reset). */
export const MARKER_JOURNAL: JournalPlan = { prefix: "latch", segmentBytes: 512, maxSegments: 2 };
/** Remote configuration. */
export const SETTINGS_JOURNAL: JournalPlan = { prefix: "cfg", segmentBytes: 256, maxSegments: 2 };
/** BLE failure counts behind the back-off. */
export const BLE_JOURNAL: JournalPlan = { prefix: "ble", segmentBytes: 256, maxSegments: 2 };
/** Undelivered events the outbox keeps (firmware/uplink/outbox.ts): its journal holds that many at their largest. */
export const OUTBOX_EVENTS = 28;
/** The event outbox, executed command ids and the time floor. */
export const UPLINK_JOURNALS = {
  outbox: { prefix: "ulev", segmentBytes: 2048, maxSegments: outboxSegments(OUTBOX_EVENTS, 2048) } as JournalPlan,
  commands: { prefix: "ulcmd", segmentBytes: 256, maxSegments: 2 } as JournalPlan,
  time: { prefix: "ultime", segmentBytes: 128, maxSegments: 2 } as JournalPlan,
};
/** Grants verified ahead of their use; entries the firmware keeps (main.ts). */
export const CACHE_ENTRIES = 16;
/** Largest grant id the verified cache stores, in bytes. */
export const CACHE_MAX_ID = 64;

/** The verified cache's journal for a capacity: room for a full rewrite plus as many changes again before compaction. */
export function cacheJournal(capacity: number, prefix?: string): JournalPlan {
  const seg = 1024;
  return { prefix: prefix || "vc", segmentBytes: seg, maxSegments: Math.max(2, Math.ceil((capacity * (42 + CACHE_MAX_ID) * 2) / (seg - 40))) };
}

/** Every journal of the firmware as main.ts opens it. */
export function firmwareJournals(): JournalPlan[] {
  return [
    GRANTS_JOURNAL,
    MARKER_JOURNAL,
    SETTINGS_JOURNAL,
    BLE_JOURNAL,
    UPLINK_JOURNALS.outbox,
    UPLINK_JOURNALS.commands,
    UPLINK_JOURNALS.time,
    cacheJournal(CACHE_ENTRIES),
  ];
}
