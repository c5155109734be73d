/*
 * Storage, planned for the box's life, in one place.
 *
 * Place. Espruino's Storage (80 KiB, 20 pages of 4 KiB on the RAK5010) keeps
 * files back to back in the order they were created. What the owner installs
 * comes first and is never erased by the firmware: the loader (issue 12),
 * keybox.json, keybox.prov and the verifier tables (edB, edK<id>). The
 * journals below follow; they are the only files the firmware creates and
 * erases. A compaction starts at the page of the first erased file, so the
 * installed files' pages are normally never erased again.
 *
 * Worst-case size. Every journal holds at most maxSegments files of
 * segmentBytes; rewriting one writes the new generation before erasing the
 * old, so at that moment it needs its size twice (one journal rewrites at a
 * time). The modules open their journals from these entries, and the build
 * and the flasher add them up against the board's Storage area
 * (tools/budget.ts), so a box never ships with less room than its journals
 * were promised.
 *
 * Reclaiming (firmware/store/upkeep.ts, STORAGE_POLICY). An erased file is
 * trash until a compaction; Storage's getFree() counts only the unused tail,
 * and a create that does not fit there compacts by itself. The firmware
 * compacts when the tail falls below the reserve and the battery reads at
 * least the latch's minimum start voltage, never while the motor drives; a
 * create that would make Storage compact at any other time is refused. After
 * a compaction the verifier tables are read again (files after the first
 * erased one moved). Pruning (expired use counts, revocations, cached
 * verifications) runs daily and rewrites a journal only when it drops
 * something.
 *
 * Wear. The nRF52840 is rated for 10,000 erases per page. A compaction
 * erases each page from the first erased file to the end of the used area
 * at most once, so the most-erased page sees at most one erase per
 * compaction. Compacting only when the tail is below the reserve reclaims at
 * least capacity - (everything live at its worst) - reserve bytes each time,
 * so compactions per year = 365 x (bytes allocated per day) / that. The
 * budget is 100 erases a year (a tenth of the rating over ten years), which
 * caps the bytes the journals may allocate per day (wearBudget below); each
 * journal's worstBytesPerDay is its allocation on its worst day, and a test
 * (test/store/lifecycle.test.ts) measures the idle box and the junk-attack
 * box against these numbers.
 */
import { outboxSegments } from "./uplink/outbox";

export interface JournalPlan {
  prefix: string;
  segmentBytes: number;
  maxSegments: number;
}

/** How the firmware keeps Storage (firmware/store/upkeep.ts). */
export const STORAGE_POLICY = {
  /**
   * Tail kept free: room for the largest create, and for most of a day of
   * writes at the planned rate (WEAR_PLAN) while compaction must wait for
   * the battery. Every page of it taken from the reserve is a page less to
   * reclaim per compaction, so more would cost wear.
   */
  reserveBytes: 8192,
  /** The tail is checked this often even when nothing was written. */
  checkMs: 3600000,
  /** Pruning runs this often. */
  maintainMs: 86400000,
  /** The nRF52840's rated erases per page, and the share of it one year may use. */
  eraseRating: 10000,
  erasesPerYear: 100,
};

/** The RAK5010 build's Storage: 20 pages of 4 KiB (tools/boards/RAK5010.json). */
export const STORAGE_BYTES = 20 * 4096;

/**
 * What the owner installs and the firmware never erases, at its worst: the
 * loader left in Storage by issue 12 (an allowance until it is measured),
 * two 6-tooth verifier tables (base point and one key, 6,120 bytes each with
 * their header) and the two settings files.
 */
export const INSTALLED_BYTES = 4096 + 2 * 6152 + 2 * 544;

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

/**
 * Bytes each journal may allocate (file footprints: 32-byte header plus the
 * size rounded up to 4) on its worst day, by prefix: appends that open new
 * segments and every rewrite's new generation, which become trash later.
 * The idle box and the box under a junk attack are measured against these
 * (test/store/lifecycle.test.ts); their sum must stay within
 * wearBudget().bytesPerDay.
 *   grants  ten uses a day plus one rewrite (a full journal, or pruning)
 *   latch   twenty motor cycles, two marker records each
 *   cfg     one configuration change
 *   ble     a stranger every five minutes: failures must be coalesced, not
 *           one record each
 *   ulev    the outbox: events coalesced when the broker is away; a rewrite
 *           writes the whole live outbox again, so it must be rare
 *   ulcmd   a handful of owner commands
 *   ultime  the hourly time floor
 *   vc      one rewrite of the verified cache
 */
export const WEAR_PLAN: { [prefix: string]: number } = {
  grants: 1536,
  latch: 1024,
  cfg: 288,
  ble: 1024,
  ulev: 3072,
  ulcmd: 576,
  ultime: 800,
  vc: 1056,
};

/** A Storage file's footprint: Espruino's 32-byte header and the data padded to 4 bytes. */
export function fileFootprint(bytes: number): number {
  return 32 + Math.ceil(bytes / 4) * 4;
}

/**
 * The wear budget for a Storage area: bytes a compaction reclaims at least
 * (everything but the installed files, the journals at their full size and
 * the reserve), and the bytes the firmware may allocate per day so that no
 * page is erased more than STORAGE_POLICY.erasesPerYear times a year.
 */
export function wearBudget(capacity?: number): { reclaimBytes: number; bytesPerDay: number } {
  const cap = capacity === undefined ? STORAGE_BYTES : capacity;
  const journals = firmwareJournals();
  let live = INSTALLED_BYTES;
  for (let i = 0; i < journals.length; i++) live += journals[i].maxSegments * fileFootprint(journals[i].segmentBytes);
  const reclaim = cap - live - STORAGE_POLICY.reserveBytes;
  return { reclaimBytes: reclaim, bytesPerDay: Math.max(0, Math.floor((STORAGE_POLICY.erasesPerYear * reclaim) / 365)) };
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
