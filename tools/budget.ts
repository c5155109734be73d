/**
 * What the box keeps on the board, in its two areas. The code area (the
 * free flash outside Storage; firmware/codearea/layout.ts) holds two slots,
 * each room for one firmware as the interpreter evaluates it (pretokenised)
 * behind a 64-byte header, and the blob region: the verifier's tables and
 * native code, each behind a 64-byte header and padded to 16 bytes, and the
 * journal pool: one page per journal segment, every journal at its full
 * size (firmware/storage-plan.ts) plus the largest journal's rewrite, the
 * rest for wear levelling. Storage holds what the owner installs and the
 * firmware never changes: the loader and the configuration and provisioning
 * files. A Storage file costs a 32-byte header plus its data rounded up to 4
 * bytes (Espruino's src/jsflash.c).
 */
import { tableBytes } from "../firmware/crypto/ed25519";
import { firmwareJournals } from "../firmware/storage-plan";
import { codeAreaBytes, layoutFor, POOL_PAGES, SLOT_HEADER_BYTES } from "../firmware/codearea/layout";
import { BLOB_HEADER_BYTES } from "../firmware/codearea/blobs";

export interface StorageNeeds {
  /** Bytes of the loader as Storage holds it (pretokenised). */
  loader: number;
  /** Bytes of keybox.json and of keybox.prov. */
  settingsFiles: number[];
}

export interface CodeAreaNeeds {
  /** Bytes of the firmware as a slot holds it (pretokenised). */
  firmware: number;
  /** Issuer keys the owner provisions (one table each). */
  keys: number;
  /** Teeth of the comb tables (keybox-issuer tables --teeth). */
  teeth: number;
  /**
   * Bytes of each table file being installed (--tables); empty when none are
   * (the default once the native verifier is installed: keys and teeth then
   * only say what the tables would have taken); without it, 1 + keys tables
   * of the given teeth.
   */
  tableFiles?: number[];
  /** Bytes of each native blob being installed. */
  nativeBlobs: number[];
  /** The free flash the board's interpreter leaves. */
  free: { start: number; end: number };
}

export interface BudgetLine {
  what: string;
  bytes: number;
}

export interface Budget {
  lines: BudgetLine[];
  total: number;
  capacity: number;
  /** What the capacity is, for the line that names it. */
  area: string;
  fits: boolean;
  /** Why it does not fit when the total alone does not say (a slot or the blob region overflowing). */
  problems: string[];
}

const HEADER = 32;
/** keybox.json and keybox.prov when they are not given: room for a broker, an APN and a few keys. */
export const SETTINGS_ALLOWANCE = [512, 512];

export function fileCost(bytes: number): number {
  return HEADER + Math.ceil(bytes / 4) * 4;
}

export function blobCost(bytes: number): number {
  return BLOB_HEADER_BYTES + Math.ceil(bytes / 16) * 16;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export function storageBudget(needs: StorageNeeds, capacity: number, board: string): Budget {
  const lines: BudgetLine[] = [
    { what: "loader (.bootcde, pretokenised)", bytes: fileCost(needs.loader) },
    { what: "configuration and provisioning", bytes: sum(needs.settingsFiles.map(fileCost)) },
  ];
  const total = sum(lines.map((l) => l.bytes));
  return { lines, total, capacity, area: `the ${board} Storage area`, fits: total <= capacity, problems: [] };
}

/** Pool pages the journals take at their largest, and with the largest one's rewrite beside it. */
export function poolPages(): { journals: number; live: number; peak: number } {
  const segs = firmwareJournals().map((j) => j.maxSegments);
  const live = sum(segs);
  return { journals: segs.length, live, peak: live + Math.max.apply(null, segs) };
}

/** Room to grow in a slot for a firmware of this size, in whole percent. */
export function slotRoom(firmware: number, slotBytes: number): number {
  return Math.floor(((slotBytes - SLOT_HEADER_BYTES) / firmware - 1) * 100);
}

export function codeAreaBudget(needs: CodeAreaNeeds, board: string): Budget {
  const free = needs.free.end - needs.free.start;
  const area = `the free flash the ${board} build leaves (0x${needs.free.start.toString(16)}-0x${needs.free.end.toString(16)})`;
  const layout = layoutFor(needs.free);
  const problems: string[] = [];
  if (typeof layout === "string") return { lines: [], total: codeAreaBytes(), capacity: free, area, fits: false, problems: [layout] };
  const planned = new Array(1 + needs.keys).fill(tableBytes(needs.teeth) + 4);
  const tables = needs.tableFiles || planned;
  const keys = tables.length - 1;
  const tableCost = sum(tables.map(blobCost));
  const tablesWhat = tables.length
    ? `verifier tables (${needs.teeth} teeth) for the base point and ${keys} issuer key${keys === 1 ? "" : "s"} ${tableCost}`
    : `no verifier tables (${sum(planned.map(blobCost))} saved: the JavaScript fallback's for the base point and ${needs.keys} issuer key${needs.keys === 1 ? "" : "s"} at ${needs.teeth} teeth)`;
  const nativeCost = sum(needs.nativeBlobs.map(blobCost));
  const slotUse = needs.firmware + SLOT_HEADER_BYTES;
  const room = slotRoom(needs.firmware, layout.slotBytes);
  if (slotUse > layout.slotBytes) problems.push(`the firmware (${needs.firmware} bytes and its 64-byte header) is larger than a slot (${layout.slotBytes})`);
  if (tableCost + nativeCost > layout.blobBytes) problems.push(`the blobs (${tableCost + nativeCost} bytes) are larger than the blob region (${layout.blobBytes})`);
  const lines: BudgetLine[] = [
    { what: `slot 0: the firmware, ${needs.firmware} bytes pretokenised + 64 header (${room}% room to grow)`, bytes: layout.slotBytes },
    { what: "slot 1: the same room for the next or previous firmware, the fallback", bytes: layout.slotBytes },
    {
      what: `blob region: ${tablesWhat}, native code ${nativeCost}, ${layout.blobBytes - tableCost - nativeCost} spare`,
      bytes: layout.blobBytes,
    },
  ];
  const pages = poolPages();
  if (pages.peak > POOL_PAGES) problems.push(`the journals need ${pages.peak} pages at their largest, the pool has ${POOL_PAGES}`);
  lines.push({
    what: `journal pool: ${POOL_PAGES} pages for ${pages.journals} journals, ${pages.live} at their largest, ${pages.peak} while the largest rewrites`,
    bytes: layout.poolBytes,
  });
  const total = sum(lines.map((l) => l.bytes));
  return { lines, total, capacity: free, area, fits: problems.length === 0 && total <= free, problems };
}

/** The budget as lines for a person, ending with what is left or missing. */
export function formatBudget(b: Budget): string {
  const w = String(Math.max(b.total, b.capacity)).length;
  const row = (n: number, what: string) => "  " + String(n).padStart(w) + "  " + what;
  const out = b.lines.map((l) => row(l.bytes, l.what));
  out.push(row(b.total, "in all"));
  out.push(row(b.capacity, b.area));
  out.push(b.total <= b.capacity ? row(b.capacity - b.total, "to spare") : row(b.total - b.capacity, "too many: it does not fit"));
  for (const p of b.problems) out.push("  " + p);
  return out.join("\n");
}
