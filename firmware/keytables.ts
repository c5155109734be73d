import { Flash } from "../hal";
import { addKeyTable, clearKeyTables, tableBytes, useBaseTable } from "./crypto/ed25519";
import { Crc32 } from "./store/crc32";
import { sameBytes } from "./crypto/keycheck";

/*
 * The verifier's precomputed comb tables in Storage: "edB" for the base
 * point and "edK<key id>" for each provisioned issuer key. A file is the
 * table (tableBytes(t) bytes for the t teeth in its byte 3, 5..8; the owner
 * picks t at provisioning, trading speed for Storage) followed by the
 * table's CRC-32 (4 bytes, little-endian), written last: a file torn by a
 * power cut, or whose length does not match its teeth, fails the check and
 * is ignored. The base and key tables should share one t: a verification
 * whose tables differ takes the plain path.
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

/** The table inside a file when its length, header and CRC are right (for the loader and the flasher). */
export function intactTable(file: Uint8Array | undefined, crc32: Crc32): Uint8Array | undefined {
  if (!file || file.length < 4) return undefined;
  const n = tableBytes(file[3]);
  if (!n || file.length !== n + 4) return undefined;
  const table = file.subarray(0, n);
  const c = crc32(table);
  for (let i = 0; i < 4; i++) if (file[n + i] !== ((c >>> (8 * i)) & 0xff)) return undefined;
  return table;
}

/**
 * Installs the intact tables for the base point and the given trusted keys
 * (and drops any other key's). With keyOf, a table is installed only when
 * it was built for the bytes the key id names now: a table is keyed by its
 * key, never by the id alone. Returns how many key tables are in use.
 */
export function loadTables(o: { flash: Flash; crc32: Crc32; keyIds: number[]; keyOf?: (id: number) => Uint8Array | undefined }): { base: boolean; keys: number } {
  const base = intactTable(o.flash.read(BASE_TABLE_FILE), o.crc32);
  const haveBase = base !== undefined && useBaseTable(base);
  if (!haveBase) useBaseTable(undefined);
  clearKeyTables();
  let keys = 0;
  for (let i = 0; i < o.keyIds.length; i++) {
    const t = intactTable(o.flash.read(keyTableFile(o.keyIds[i])), o.crc32);
    const pk = o.keyOf ? o.keyOf(o.keyIds[i]) : undefined;
    if (o.keyOf && (!pk || !t || !sameBytes(t.subarray(4, 36), pk))) continue;
    if (t && addKeyTable(t)) keys++;
  }
  return { base: haveBase, keys: keys };
}
