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
  /** Bytes of keybox.json and keybox.prov together. */
  settingsFiles: number;
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
/** keybox.json plus keybox.prov as the README's installation writes them, with room for a second key. */
export const SETTINGS_ALLOWANCE = 1024;

export function fileCost(bytes: number): number {
  return HEADER + Math.ceil(bytes / 4) * 4;
}

export function storageBudget(needs: StorageNeeds, capacity: number): Budget {
  const table = fileCost(tableBytes(needs.teeth) + 4);
  const journals = firmwareJournals().map((j) => j.maxSegments * fileCost(j.segmentBytes));
  const lines: BudgetLine[] = [
    { what: "firmware (.bootcde, pretokenised)", bytes: fileCost(needs.code) },
    { what: `verifier tables (${needs.teeth} teeth): base point and ${needs.keys} issuer key${needs.keys === 1 ? "" : "s"}`, bytes: table * (1 + needs.keys) },
    { what: "configuration and provisioning", bytes: fileCost(needs.settingsFiles) },
    { what: `journals (${journals.length}, each at its full size)`, bytes: journals.reduce((a, b) => a + b, 0) },
    { what: "rewrite of the largest journal", bytes: Math.max.apply(null, journals) },
  ];
  const total = lines.reduce((a, l) => a + l.bytes, 0);
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
