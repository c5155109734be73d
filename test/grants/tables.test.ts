import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { run } from "../../sim/issuer/main";
import { SimFlash } from "../../sim/hw/flash";
import { crc32 } from "../../firmware/store/crc32";
import { loadTables } from "../../firmware/keytables";
import { clearKeyTables, useBaseTable } from "../../firmware/crypto/ed25519";
import { testKey } from "./helpers";

function tool(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("keybox-issuer tables", () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "keybox-tables-"))));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    useBaseTable(undefined);
    clearKeyTables();
  });

  it("writes the base and key tables that the box loads from Storage, and the box rejects a torn one", () => {
    const k = testKey(21);
    const prov = join(dir, "prov.json");
    writeFileSync(prov, JSON.stringify({ format: "keybox-provision/1", boxId: "KB-TBL01", keys: [{ id: 21, publicKey: Buffer.from(k.publicKey).toString("hex") }] }));
    const r = tool("tables", "--provision", prov, "--out", join(dir, "t"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("edB, edK21");
    const flash = new SimFlash({ capacity: 128 * 1024 });
    for (const name of ["edB", "edK21"]) {
      const bytes = new Uint8Array(readFileSync(join(dir, "t", name)));
      expect(flash.create(name, bytes.length)).toBe(true);
      expect(flash.writeAt(name, 0, name === "edK21" ? bytes.subarray(0, bytes.length - 1) : bytes)).toBe(true);
    }
    expect(loadTables({ flash, crc32, keyIds: [21] })).toEqual({ base: true, keys: 0 });
    const last = new Uint8Array(readFileSync(join(dir, "t", "edK21")));
    expect(flash.writeAt("edK21", last.length - 1, last.subarray(last.length - 1))).toBe(true);
    expect(loadTables({ flash, crc32, keyIds: [21] })).toEqual({ base: true, keys: 1 });
  });

  it("refuses a missing or broken provisioning file with exit code 2", () => {
    expect(tool("tables", "--out", join(dir, "x")).code).toBe(2);
    writeFileSync(join(dir, "bad.json"), "{nope");
    const r = tool("tables", "--provision", join(dir, "bad.json"), "--out", join(dir, "x"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read/);
  });
});
