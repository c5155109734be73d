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
import { createHash } from "crypto";
import { codeAreaShim, runScript, shimFiles, writeStorage } from "../../tools/espruino-run";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFirmware, bundleLoader } from "../../tools/build";
import { createSandbox, FAKE_WORLD, Sandbox, sandboxCodeArea } from "../../tools/sandbox";
import { CodeArea } from "../../hal/codearea";
import { SimCodeArea } from "../../sim/hw/codearea";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";
import { BlobWriter, SlotWriter } from "../../firmware/codearea/install";
import { BLOB_DATA, encodeBlob } from "../../firmware/codearea/blobs";
import { SimBox } from "../../sim/box";
import { BASE_TABLE_FILE, keyTableFile, tableFile } from "../../firmware/keytables";
import { prepareBase, prepareKey } from "../../firmware/crypto/ed25519";
import { crc32 } from "../../sim/hw/system";
import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { LAYOUT, MSG_UNLOCK, parseResponse, requestMessage, Response } from "../../firmware/ble/protocol";
import { PERM_UNLOCK } from "../../firmware/grants/codec";
import { VirtualClock } from "../../sim/clock";
import { mint, malleate, testKey, T0 } from "../grants/helpers";

const BOX = "KB-GATE01";
const owner = testKey(31);
let code = "";
let loader = "";
let installed: { files: { [name: string]: Uint8Array }; pool: Uint8Array; setup: string };

/** The bolt's mechanics, which the fake board lacks: it follows the H-bridge after 300 ms of travel. */
const MECHANICS = [
  "var __dw = digitalWrite;",
  "digitalWrite = function (pin, v) { __dw(pin, v);",
  "  if (pin === 'D19' && v) setTimeout(function () { __hw.setPin('D34', 1); }, 300);",
  "  if (pin === 'D20' && v) setTimeout(function () { __hw.setPin('D34', 0); }, 300); };",
].join("\n");

/** An installed, time-synchronised box's Storage files, and the JavaScript that sets its RTC and phone link. */
function installedBox(): { files: { [name: string]: Uint8Array }; pool: Uint8Array; setup: string } {
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
  const box = new SimBox({ config: { boxId: BOX }, provisioning, now: T0 + 3600, flashCapacity: 200 * 1024 });
  // 6-tooth tables, as espruino.config.json has the flasher install them (the blob region holds two)
  box.install(BASE_TABLE_FILE, tableFile(prepareBase(6)!, crc32));
  box.install(keyTableFile(owner.id), tableFile(prepareKey(owner.publicKey, 6)!, crc32));
  box.boot();
  box.run(30_000);
  if (!box.events.some((e) => e.type === "time" && e.reason === "set")) throw new Error("the sim box never learned the time");
  const rtc = Math.floor(box.clock.wall()) + 60;
  box.close();
  const files = box.flash.snapshot();
  files["keybox.json"] = new Uint8Array(Buffer.from(JSON.stringify({ boxId: BOX })));
  // the box's records (the time it learned among them) are in the code area's journal pool
  const l = layoutFor(box.codeArea.freeRange()) as CodeAreaLayout;
  const pool = box.codeArea.read(l.pool, l.poolBytes);
  return { files, pool, setup: ["setTime(" + rtc + ");", "NRF.getSecurityStatus = function () { return { connected: true, encrypted: true }; };"].join("\n") };
}

/** JavaScript that writes the files to Storage in one go (for the sandbox). */
function storageScript(files: { [name: string]: Uint8Array }): string {
  const lines = Object.keys(files).map((name) => "S.write(" + JSON.stringify(name) + ", atob(" + JSON.stringify(Buffer.from(files[name]).toString("base64")) + "));");
  return ["var S = require('Storage');", ...lines].join("\n");
}

/**
 * After boot, for each request: a phone connects, writes the frames, waits
 * 5 s and leaves; 40 s pass (the box relocks a lid never opened). Then the
 * notifications and the motor pins are reported.
 */
function phoneScript(requests: Uint8Array[][]): string {
  const svc = JSON.stringify(LAYOUT.service);
  const req = JSON.stringify(LAYOUT.request);
  const resp = JSON.stringify(LAYOUT.response);
  const visit = (frames: Uint8Array[]) => [
    "__hw.nrf.handlers.connect.forEach(function (cb) { cb(); });",
    "__hw.advance(100);",
    "var W = __hw.nrf.services[" + svc + "][" + req + "].onWrite;",
    ...frames.map((f) => "W({ data: new Uint8Array(" + JSON.stringify(Array.from(f)) + ").buffer });"),
    "__hw.advance(5000);",
    "__hw.nrf.handlers.disconnect.forEach(function (cb) { cb(19); });",
    "__hw.advance(40000);",
  ];
  return [
    "__hw.advance(100);",
    ...requests.flatMap(visit),
    "var out = [];",
    "__hw.nrf.updates.forEach(function (u) { var c = u[" + svc + "] && u[" + svc + "][" + resp + "]; if (c && c.notify) { var a = []; for (var i = 0; i < c.value.length; i++) a.push(c.value[i]); out.push(a); } });",
    "print('NOTIFY ' + JSON.stringify(out));",
    "print('MOTOR ' + JSON.stringify(__hw.writes.filter(function (w) { return w.pin === 'D19' || w.pin === 'D20'; }).map(function (w) { return w.pin + '=' + w.value; })));",
  ].join("\n");
}

function responses(printed: string): { answers: Response[]; motor: string[] } {
  const notify = JSON.parse(/NOTIFY (.*)/.exec(printed)![1]) as number[][];
  const motor = JSON.parse(/MOTOR (.*)/.exec(printed)![1]) as string[];
  const rx = new Reassembler({ clock: new VirtualClock(), crc32, maxBytes: MAX_FRAMED, timeoutMs: 5000, onTimeout: () => undefined });
  const answers: Response[] = [];
  for (const f of notify) {
    const r = rx.push(new Uint8Array(f));
    if (r && typeof r !== "string") answers.push(parseResponse(r));
  }
  return { answers, motor };
}

const reasonOf = (answers: Response[]) => (answers.find((r) => r.type === "result") as { reason: string } | undefined)?.reason;
const reasons = (answers: Response[]) => answers.filter((r) => r.type === "result").map((r) => (r as { reason: string }).reason);

beforeAll(async () => {
  const built = await buildFirmware();
  expect(built.gate.errors).toEqual([]);
  code = fs.readFileSync(built.file, "utf8");
  loader = await bundleLoader();
  installed = installedBox();
}, 300000);

const grant = () => mint(owner, { boxId: BOX, grantId: "000000000000abcd", notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK, uses: 1 });
const frames = (g: Uint8Array, tag = 1) => encodeFrames(requestMessage(MSG_UNLOCK, g), tag, crc32);

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const TABLES = ["edB", "edK" + owner.id];

/** What npm run flash puts in the code area (the firmware in a slot, the tables in the blob region), and the box's records. */
function installCodeArea(area: CodeArea): void {
  const body = new Uint8Array(Buffer.from(code, "latin1"));
  const w = new SlotWriter({ area, sha256 });
  expect(w.begin(body.length)).toBeUndefined();
  for (let at = 0; at < body.length; at += 1024) expect(w.put(at, body.subarray(at, at + 1024))).toBe(true);
  expect(typeof w.commit(body.length, sha256(body))).toBe("object");
  const image = Buffer.concat(TABLES.map((n) => Buffer.from(encodeBlob(BLOB_DATA, n, installed.files[n], sha256(installed.files[n])))));
  const b = new BlobWriter({ area, sha256 });
  expect(b.begin(image.length)).toBeUndefined();
  for (let at = 0; at < image.length; at += 1024) expect(b.put(at, new Uint8Array(image.subarray(at, at + 1024)))).toBe(true);
  // and the journal pool as the simulated box left it
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  for (let at = 0; at < installed.pool.length; at += 4096) {
    const page = installed.pool.subarray(at, at + 4096);
    if (page.every((x) => x === 0xff)) continue;
    expect(area.erasePage(l.pool + at)).toBe(true);
    expect(area.write(l.pool + at, new Uint8Array(page))).toBe(true);
  }
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
