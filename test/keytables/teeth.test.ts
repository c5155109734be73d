import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import nacl from "tweetnacl";
import { run } from "../../sim/issuer/main";
import { SimFlash } from "../../sim/hw/flash";
import { simAccel } from "../../sim/hw/system";
import { crc32 } from "../../firmware/store/crc32";
import { BASE_TABLE_FILE, keyTableFile, loadTables, tableFile } from "../../firmware/keytables";
import { clearKeyTables, prepareBase, prepareKey, tableBytes, useAccel, useBaseTable, verify } from "../../firmware/crypto/ed25519";

/*
 * Smaller comb tables end to end on the host side: the issuer writes them
 * with --teeth, and the box's loader accepts a file whose length matches
 * the teeth in its header (and nothing else).
 */

function tool(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const KEY_ID = 33;
const kp = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(KEY_ID));
const MSG = new Uint8Array([1, 2, 3, 4]);
const SIG = nacl.sign.detached(MSG, kp.secretKey);

/** A flash holding these files, written whole. */
function flashWith(files: Record<string, Uint8Array>): SimFlash {
  const flash = new SimFlash({ capacity: 128 * 1024 });
  for (const name of Object.keys(files)) {
    expect(flash.create(name, files[name].length)).toBe(true);
    expect(flash.writeAt(name, 0, files[name])).toBe(true);
  }
  return flash;
}

// Counts native dot products: the comb path makes hundreds per verification, the plain path none.
const native = simAccel();
let convolves = 0;
const counting = {
  sha512: native.sha512,
  convolve: (a: Float64Array, b: Float64Array, o: number) => {
    convolves++;
    return native.convolve!(a, b, o);
  },
};

let dir: string;
let prov: string;

beforeAll(() => {
  useAccel(counting);
  dir = mkdtempSync(join(tmpdir(), "keybox-teeth-"));
  prov = join(dir, "prov.json");
  writeFileSync(prov, JSON.stringify({ format: "keybox-provision/1", boxId: "KB-TEETH1", keys: [{ id: KEY_ID, publicKey: Buffer.from(kp.publicKey).toString("hex") }] }));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  useAccel(undefined);
  useBaseTable(undefined);
  clearKeyTables();
});

describe("keybox-issuer tables --teeth", () => {
  test("--teeth 6 writes 6-tooth files of the stated size, which the box loads and verifies with", () => {
    const out = join(dir, "t6");
    const r = tool("tables", "--provision", prov, "--out", out, "--teeth", "6");
    expect(r.code).toBe(0);
    const size = tableBytes(6) + 4;
    expect(r.out).toContain("6 teeth");
    expect(r.out).toContain(size + " bytes each");
    expect(r.out).toContain(BASE_TABLE_FILE + ", " + keyTableFile(KEY_ID));
    const files: Record<string, Uint8Array> = {};
    for (const name of [BASE_TABLE_FILE, keyTableFile(KEY_ID)]) {
      expect(statSync(join(out, name)).size).toBe(size);
      files[name] = new Uint8Array(readFileSync(join(out, name)));
      expect(files[name][3]).toBe(6);
    }
    expect(Buffer.from(files[keyTableFile(KEY_ID)]).equals(Buffer.from(tableFile(prepareKey(kp.publicKey, 6)!, crc32)))).toBe(true);
    expect(Buffer.from(files[BASE_TABLE_FILE]).equals(Buffer.from(tableFile(prepareBase(6)!, crc32)))).toBe(true);
    expect(loadTables({ flash: flashWith(files), crc32, keyIds: [KEY_ID] })).toEqual({ base: true, keys: 1 });
    const before = convolves;
    expect(verify(SIG, MSG, kp.publicKey)).toBe(true);
    expect(convolves).toBeGreaterThan(before); // the tables' fast path
    const bad = new Uint8Array(SIG);
    bad[9] ^= 2;
    expect(verify(bad, MSG, kp.publicKey)).toBe(false);
  });

  test("without --teeth the files have 8 teeth, as before", () => {
    const out = join(dir, "t8");
    const r = tool("tables", "--provision", prov, "--out", out);
    expect(r.code).toBe(0);
    expect(r.out).toContain("8 teeth");
    expect(r.out).toContain(tableBytes(8) + 4 + " bytes each");
    for (const name of [BASE_TABLE_FILE, keyTableFile(KEY_ID)]) {
      const f = readFileSync(join(out, name));
      expect(f.length).toBe(tableBytes(8) + 4);
      expect(f[3]).toBe(8);
    }
  });

  test.each(["4", "9", "0", "six", "6.0", "", "-6"])("--teeth %j is a usage error (exit 2) and writes nothing", (t) => {
    const out = join(dir, "bad" + t.replace(/\W/g, "_"));
    const r = tool("tables", "--provision", prov, "--out", out, "--teeth", t);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--teeth/);
    expect(existsSync(out)).toBe(false);
  });
});

describe("loadTables with smaller tables", () => {
  const base6 = () => tableFile(prepareBase(6)!, crc32);
  const key6 = () => tableFile(prepareKey(kp.publicKey, 6)!, crc32);

  test("a truncated or padded 6-tooth file, or one whose header names another count, is ignored", () => {
    const good = key6();
    const withCrc = (table: Uint8Array) => tableFile(table, crc32);
    const table = good.subarray(0, good.length - 4);
    const longer = new Uint8Array(table.length + 96);
    longer.set(table);
    const relabelled = new Uint8Array(table);
    relabelled[3] = 7;
    const broken: Uint8Array[] = [
      good.subarray(0, good.length - 1), // torn before the CRC's last byte
      withCrc(table.subarray(0, table.length - 96)), // one entry short, CRC of what is there
      withCrc(longer), // one entry too many
      withCrc(relabelled), // 6-tooth length, header says 7
      good.subarray(0, 3),
    ];
    for (const f of broken) {
      expect(loadTables({ flash: flashWith({ [BASE_TABLE_FILE]: base6(), [keyTableFile(KEY_ID)]: f }), crc32, keyIds: [KEY_ID] })).toEqual({ base: true, keys: 0 });
      expect(loadTables({ flash: flashWith({ [BASE_TABLE_FILE]: f }), crc32, keyIds: [] })).toEqual({ base: false, keys: 0 });
    }
    // Refused tables leave the plain path, which is exactly as strict.
    expect(verify(SIG, MSG, kp.publicKey)).toBe(true);
    expect(loadTables({ flash: flashWith({ [BASE_TABLE_FILE]: base6(), [keyTableFile(KEY_ID)]: good }), crc32, keyIds: [KEY_ID] })).toEqual({ base: true, keys: 1 });
  });

  test("base and key files with different teeth both load; verification stays correct", () => {
    const key8 = tableFile(prepareKey(kp.publicKey, 8)!, crc32);
    expect(loadTables({ flash: flashWith({ [BASE_TABLE_FILE]: base6(), [keyTableFile(KEY_ID)]: key8 }), crc32, keyIds: [KEY_ID] })).toEqual({ base: true, keys: 1 });
    expect(verify(SIG, MSG, kp.publicKey)).toBe(true);
    const bad = new Uint8Array(SIG);
    bad[40] ^= 1;
    expect(verify(bad, MSG, kp.publicKey)).toBe(false);
  });
});
