/**
 * What the board's Storage area must hold for a working box, file by file:
 * the firmware as uploaded, the verifier's tables, the configuration and
 * provisioning files, every journal at its full size (firmware/storage-plan.ts)
 * and room for the largest journal's rewrite. A Storage file costs a 32-byte
 * header plus its data rounded up to 4 bytes (Espruino's src/jsflash.c).
 */
import { tableBytes } from "../firmware/crypto/ed25519";
import { firmwareJournals } from "../firmware/storage-plan";

export interface StorageNeeds {
  /** Bytes of the firmware as Storage holds it (pretokenised). */
  code: number;
  /** Issuer keys the owner provisions (one table each). */
  keys: number;
  /** Teeth of the comb tables (keybox-issuer tables --teeth). */
  teeth: number;
  /** Bytes of each table file being installed; without them, 1 + keys tables of the given teeth. */
  tableFiles?: number[];
  /** Bytes of keybox.json and of keybox.prov. */
  settingsFiles: number[];
}

export interface BudgetLine {
  what: string;
  bytes: number;
}

export interface Budget {
  lines: BudgetLine[];
  total: number;
  capacity: number;
  fits: boolean;
}

const HEADER = 32;
/** keybox.json and keybox.prov when they are not given: room for a broker, an APN and a few keys. */
export const SETTINGS_ALLOWANCE = [512, 512];

export function fileCost(bytes: number): number {
  return HEADER + Math.ceil(bytes / 4) * 4;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export function storageBudget(needs: StorageNeeds, capacity: number): Budget {
  const tables = needs.tableFiles || new Array(1 + needs.keys).fill(tableBytes(needs.teeth) + 4);
  const keys = tables.length - 1;
  const journals = firmwareJournals().map((j) => j.maxSegments * fileCost(j.segmentBytes));
  const lines: BudgetLine[] = [
    { what: "firmware (.bootcde, pretokenised)", bytes: fileCost(needs.code) },
    { what: `verifier tables (${needs.teeth} teeth): base point and ${keys} issuer key${keys === 1 ? "" : "s"}`, bytes: sum(tables.map(fileCost)) },
    { what: "configuration and provisioning", bytes: sum(needs.settingsFiles.map(fileCost)) },
    { what: `journals (${journals.length}, each at its full size)`, bytes: sum(journals) },
    { what: "rewrite of the largest journal", bytes: Math.max.apply(null, journals) },
  ];
  const total = sum(lines.map((l) => l.bytes));
  return { lines, total, capacity, fits: total <= capacity };
}

/** The budget as lines for a person, ending with what is left or missing. */
export function formatBudget(b: Budget, board: string): string {
  const w = String(Math.max(b.total, b.capacity)).length;
  const row = (n: number, what: string) => "  " + String(n).padStart(w) + "  " + what;
  const out = b.lines.map((l) => row(l.bytes, l.what));
  out.push(row(b.total, "in all"));
  out.push(row(b.capacity, `the ${board} Storage area`));
  out.push(b.fits ? row(b.capacity - b.total, "to spare") : row(b.total - b.capacity, "too many: it does not fit"));
  return out.join("\n");
}
