/*
 * The box's records, planned for its life, in one place.
 *
 * Place. The journals live in the journal pool: POOL_PAGES pages of the code
 * area, the free flash outside Storage (firmware/codearea/layout.ts), one
 * file per page (firmware/store/pagefiles.ts). A page is erased when a file
 * is created on it and by nothing else, so nothing moves and nothing is ever
 * compacted. Storage (80 KiB on the RAK5010) keeps what the owner installs,
 * written once by the flasher: the loader (.bootcde), keybox.json,
 * keybox.prov and, when the blob region does not hold them, the verifier
 * tables. The firmware never writes Storage, so Storage never compacts: a
 * power cut inside a compaction can leave a chain of file headers that
 * Espruino's boot check answers by erasing Storage whole, loader included,
 * which would leave a box that runs nothing. Only a board whose free flash
 * has no room for the pool keeps the journals in Storage, compacted by the
 * policy of firmware/store/upkeep.ts (STORAGE_POLICY), and says so.
 *
 * Worst-case size. Every journal holds at most maxSegments segments of
 * segmentBytes, one pool page each; rewriting one writes the new generation
 * before erasing the old, so at that moment it needs its pages twice (one
 * journal rewrites at a time). The modules open their journals from these
 * entries, and the build and the flasher add them up against the pool
 * (tools/budget.ts), so a box never ships with less room than its journals
 * were promised.
 *
 * Wear. The nRF52840 is rated for 10,000 erases per page; the budget is 100
 * a year (a tenth of the rating over ten years). A journal erases a page
 * each time it opens a segment, so what wears the pool is the bytes the
 * journals append (a page per SEGMENT_BYTES) and their rewrites (a page
 * each, however little they keep). So: events are stored compactly and acks
 * are written in batches (firmware/uplink/outbox.ts), a stranger's junk is
 * counted rather than recorded one by one (firmware/ble/service.ts), and
 * pruning waits until a journal is half full. Each create takes the
 * least-worn free page. In the worst case every journal holds one page that
 * is never freed, so the erases spread over at least POOL_PAGES minus the
 * number of journals (wearBudget); the idle box, the box under a junk attack
 * (test/store/lifecycle.test.ts) and the year-long soak are measured
 * against it.
 */
import { outboxSegments } from "./uplink/outbox";
import { PAGE_BYTES, POOL_PAGES } from "./codearea/layout";

export interface JournalPlan {
  prefix: string;
  segmentBytes: number;
  maxSegments: number;
}

/** How the firmware keeps Storage when the journals must live there (firmware/store/upkeep.ts), and the wear rating. */
export const STORAGE_POLICY = {
  /**
   * Tail kept free: room for the largest create, and for most of a day of
   * writes while compaction must wait for the battery.
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

/** A journal segment: one pool page less its 64-byte header (firmware/store/pagefiles.ts). */
export const SEGMENT_BYTES = PAGE_BYTES - 64;
/** Use counts, revocations and trusted keys. */
export const GRANTS_JOURNAL: JournalPlan = { prefix: "grants", segmentBytes: SEGMENT_BYTES, maxSegments: 2 };
/**
 * The latch's drive marker (a motor cycle interrupted by a reset). Its
 * records are 15 bytes framed, and a journal's records are all read into
 * RAM at boot: 2 KiB keeps that to about 135 (a page would be 268), and a
 * rewrite to one every 34 motor cycles or so.
 */
export const MARKER_JOURNAL: JournalPlan = { prefix: "latch", segmentBytes: 2048, maxSegments: 1 };
/** Remote configuration. */
export const SETTINGS_JOURNAL: JournalPlan = { prefix: "cfg", segmentBytes: SEGMENT_BYTES, maxSegments: 1 };
/** BLE failure counts behind the back-off. */
export const BLE_JOURNAL: JournalPlan = { prefix: "ble", segmentBytes: SEGMENT_BYTES, maxSegments: 1 };
/** Undelivered events the outbox keeps (firmware/uplink/outbox.ts): its journal holds that many at their largest. */
export const OUTBOX_EVENTS = 28;
/** The event outbox, executed command ids and the time floor. */
export const UPLINK_JOURNALS = {
  outbox: { prefix: "ulev", segmentBytes: SEGMENT_BYTES, maxSegments: outboxSegments(OUTBOX_EVENTS, SEGMENT_BYTES) } as JournalPlan,
  // 42 ids: the 32 the guard keeps live fit a rewrite, and RAM holds no more than that after a boot
  commands: { prefix: "ulcmd", segmentBytes: 1024, maxSegments: 1 } as JournalPlan,
  // hourly 16-byte records: a rewrite every ten days (about 250 records read at boot)
  time: { prefix: "ultime", segmentBytes: SEGMENT_BYTES, maxSegments: 1 } as JournalPlan,
};
/** Grants verified ahead of their use; entries the firmware keeps (main.ts). */
export const CACHE_ENTRIES = 16;
/** Largest grant id the verified cache stores, in bytes. */
export const CACHE_MAX_ID = 64;

/** The verified cache's journal for a capacity: room for a full rewrite plus as many changes again before compaction. */
export function cacheJournal(capacity: number, prefix?: string): JournalPlan {
  const seg = SEGMENT_BYTES;
  return { prefix: prefix || "vc", segmentBytes: seg, maxSegments: Math.max(1, Math.ceil((capacity * (54 + CACHE_MAX_ID) * 2) / (seg - 40))) };
}

/**
 * The wear budget of the pool: the pages over which erases spread at least
 * (every page but one held by each journal, which may never be freed), and
 * the page creates a day that keep each of them under
 * STORAGE_POLICY.erasesPerYear.
 */
export function wearBudget(): { levelledPages: number; pagesPerDay: number } {
  const levelled = POOL_PAGES - firmwareJournals().length;
  return { levelledPages: levelled, pagesPerDay: (STORAGE_POLICY.erasesPerYear * levelled) / 365 };
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
