/**
 * The flashed artifact itself, end to end, installed as on the board: the
 * loader (dist/loader.js) in Storage as .bootcde, dist/keybox.js in a slot
 * of the code area and the verifier's tables in its blob region, beside a
 * Storage prepared as an installed box would have it (provisioning,
 * journals, a clock synchronised before the reset). load() boots the
 * loader, which boots the slot; a phone connects over the fake NRF with an
 * encrypted link and presents an owner-signed grant, and the bundle answers
 * "granted" and drives the motor open; the same grant again, after the box
 * relocked, is used up (the use count is in Storage). A Storage compaction
 * forced while the firmware runs moves every Storage file and garbles what
 * pointed into them; the firmware and its tables, mapped from the code area,
 * are untouched. It runs in the Espruino-only sandbox always, and in the real
 * interpreter when ESPRUINO_BIN names one, through the code-area shim
 * (tools/espruino-run.ts: the Linux build's flash is not memory-mapped).
 */
import { codeAreaShim, runScript, shimFiles, writeStorage } from "../../tools/espruino-run";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFirmware, bundleLoader } from "../../tools/build";
import { createSandbox, FAKE_WORLD, Sandbox, sandboxCodeArea } from "../../tools/sandbox";
import { CodeArea } from "../../hal/codearea";
import { SimCodeArea } from "../../sim/hw/codearea";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";
import { BLOB_DATA, encodeBlob } from "../../firmware/codearea/blobs";
import { Response } from "../../firmware/ble/protocol";
import { malleate, testKey } from "../grants/helpers";
import { installCodeArea as install, InstalledBox, installedBox, MECHANICS, phoneScript, reasons, responses, sha256, storageScript, unlockFrames, unlockGrant } from "./installed";

const BOX = "KB-GATE01";
const owner = testKey(31);
let code = "";
let loader = "";
let installed: InstalledBox;

const reasonOf = (answers: Response[]) => (answers.find((r) => r.type === "result") as { reason: string } | undefined)?.reason;

beforeAll(async () => {
  const built = await buildFirmware();
  expect(built.gate.errors).toEqual([]);
  code = fs.readFileSync(built.file, "utf8");
  loader = await bundleLoader();
  installed = installedBox(BOX, owner, true);
}, 300000);

const grant = () => unlockGrant(owner, BOX);
const frames = unlockFrames;

const TABLES = ["edB", "edK" + owner.id];

/** What npm run flash -- --tables puts in the code area (the firmware in a slot, the tables in the blob region), and the box's records. */
function installCodeArea(area: CodeArea): void {
  install(area, code, installed.pool, new Uint8Array(Buffer.concat(TABLES.map((n) => Buffer.from(encodeBlob(BLOB_DATA, n, installed.files[n], sha256(installed.files[n])))))));
}

/** Storage's files without the tables (they are in the code area), and the loader as .bootcde. */
function storageFiles(): { [name: string]: Uint8Array } {
  const files: { [name: string]: Uint8Array } = { ".bootcde": new Uint8Array(Buffer.from(loader, "latin1")) };
  for (const n of Object.keys(installed.files)) if (TABLES.indexOf(n) < 0) files[n] = installed.files[n];
  return files;
}

/**
 * Boots the installed box in the sandbox and lets the phone present the
 * grants. Storage starts with an erased file in front of all others, so that
 * a compaction moves every file; with compact, one is forced once the
 * firmware runs.
 */
function inSandbox(o: { compact: boolean }, ...grants: Uint8Array[]): { answers: Response[]; motor: string[]; sb: Sandbox } {
  const sb = createSandbox((hw) => {
    hw.level["D34"] = 0; // bolt thrown
  });
  sb.run(MECHANICS);
  sb.run("require('Storage').write('stale', 'a file erased before the box was installed', 0, 2048);");
  sb.run(storageScript(storageFiles()));
  sb.run("require('Storage').erase('stale');");
  installCodeArea(sandboxCodeArea(sb));
  sb.run(installed.setup);
  sb.run("load();");
  if (o.compact) sb.run("__hw.advance(50); require('Storage').compact();");
  sb.run(phoneScript(grants.map((g, i) => frames(g, i + 1))));
  return Object.assign(responses(sb.hw.logs.join("\n")), { sb });
}

describe("the flashed bundle opens for an owner-signed grant", () => {
  it("in the Espruino-only sandbox: granted, the motor drives the bolt open, and the replay is used up", () => {
    const r = inSandbox({ compact: false }, grant(), grant());
    expect(r.sb.hw.logs).toContain("keybox loader: booting slot 0, firmware version 1 (" + code.length + " bytes)");
    expect(reasons(r.answers)).toEqual(["granted", "used_up"]);
    // Open first, then the relock of a lid never opened: each drive preceded by both pins low.
    expect(r.motor.indexOf("D19=1")).toBeGreaterThan(0);
    expect(r.motor.indexOf("D20=1")).toBeGreaterThan(r.motor.indexOf("D19=1"));
    for (const i of [r.motor.indexOf("D19=1"), r.motor.indexOf("D20=1")]) expect(r.motor.slice(i - 2, i)).toEqual(["D19=0", "D20=0"]);
  });

  it("in the Espruino-only sandbox: a forged copy is refused and the motor never runs", () => {
    const r = inSandbox({ compact: false }, malleate(grant()));
    expect(reasons(r.answers)).toEqual(["bad_signature"]);
    expect(reasonOf(r.answers)).toBe("bad_signature");
    expect(r.motor.filter((m) => m.endsWith("=1"))).toEqual([]);
  });

  it("in the sandbox, with Storage compacted under the running firmware: every file moved, nothing garbled", () => {
    const r = inSandbox({ compact: true }, grant(), grant());
    expect(r.sb.hw.compactions).toBe(1);
    expect(reasons(r.answers)).toEqual(["granted", "used_up"]);
    expect(r.motor).toContain("D19=1");
    expect(r.sb.hw.logs.filter((l) => /Uncaught|stopped at boot/.test(l))).toEqual([]);
  });

  const bin = process.env.ESPRUINO_BIN;
  // As the board runs it: the firmware and the box's files written to Storage piece by piece, the
  // firmware booted from there (function bodies stay in flash), so a device-sized build (12,500
  // JsVars) runs the whole unlock path too.
  (bin ? it : it.skip)("in the real interpreter named by ESPRUINO_BIN, booted by the loader from a slot (through the code-area shim)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-e2e-bundle-"));
    try {
      const area = new SimCodeArea();
      installCodeArea(area);
      const l = layoutFor(area.freeRange()) as CodeAreaLayout;
      const files = Object.assign(storageFiles(), shimFiles((a, n) => area.read(a, n), l), { ".boot0": new Uint8Array(Buffer.from(codeAreaShim(l), "latin1")) });
      expect(writeStorage(bin!, dir, files)).toBe(true);
      // The fake world and the box's setting-up run before the boot files, as the board's hardware and RTC would be there already.
      const script = [FAKE_WORLD, "digitalWrite('D34', 0);", MECHANICS, installed.setup, "eval(require('Storage').read('.boot0')); eval(require('Storage').read('.bootcde'));", phoneScript([frames(grant(), 1), frames(grant(), 2)])];
      const out = runScript(bin!, dir, script.join("\n"), 120000);
      expect(out).toContain("keybox loader: booting slot 0, firmware version 1 (" + code.length + " bytes)");
      if (process.env.KB_DEBUG) fs.writeFileSync("/tmp/kb-e2e-out.txt", out);
      expect(out).not.toMatch(/Uncaught/);
      const r = responses(out);
      expect(reasons(r.answers)).toEqual(["granted", "used_up"]);
      expect(r.motor).toContain("D19=1");
      expect(r.motor).toContain("D20=1"); // relocked after the lid was never opened
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
