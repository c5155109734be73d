import { Flash } from "../hal";
import { addKeyTable, clearKeyTables, TABLE_BYTES, useBaseTable } from "./crypto/ed25519";
import { Crc32 } from "./store/crc32";

/*
 * The verifier's precomputed comb tables in Storage: "edB" for the base
 * point and "edK<key id>" for each provisioned issuer key. A file is the
 * TABLE_BYTES of the table followed by its CRC-32 (4 bytes, little-endian),
 * written last: a file torn by a power cut fails the check and is ignored.
 * Tables are computed once on the owner's host at provisioning (minutes on
 * the board) and uploaded with the provisioning file; a key without a table
 * is verified on the plain path, which is slow but exactly as strict.
 */
export const BASE_TABLE_FILE = "edB";

export function keyTableFile(keyId: number): string {
  return "edK" + keyId;
}

/** The file bytes for a table, for whoever installs it. */
export function tableFile(table: Uint8Array, crc32: Crc32): Uint8Array {
  const out = new Uint8Array(table.length + 4);
  out.set(table, 0);
  const c = crc32(table);
  for (let i = 0; i < 4; i++) out[table.length + i] = (c >>> (8 * i)) & 0xff;
  return out;
}

function intact(file: Uint8Array | undefined, crc32: Crc32): Uint8Array | undefined {
  if (!file || file.length !== TABLE_BYTES + 4) return undefined;
  const table = file.subarray(0, TABLE_BYTES);
  const c = crc32(table);
  for (let i = 0; i < 4; i++) if (file[TABLE_BYTES + i] !== ((c >>> (8 * i)) & 0xff)) return undefined;
  return table;
}

/**
 * Installs the intact tables for the base point and the given trusted keys
 * (and drops any other key's). Returns how many key tables are in use.
 */
export function loadTables(o: { flash: Flash; crc32: Crc32; keyIds: number[] }): { base: boolean; keys: number } {
  const base = intact(o.flash.read(BASE_TABLE_FILE), o.crc32);
  const haveBase = base !== undefined && useBaseTable(base);
  if (!haveBase) useBaseTable(undefined);
  clearKeyTables();
  let keys = 0;
  for (let i = 0; i < o.keyIds.length; i++) {
    const t = intact(o.flash.read(keyTableFile(o.keyIds[i])), o.crc32);
    if (t && addKeyTable(t)) keys++;
  }
  return { base: haveBase, keys: keys };
}
