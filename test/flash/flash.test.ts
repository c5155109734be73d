/**
 * npm run flash: the dry run's payload, decoded the way the Espruino console
 * reads it, must leave the bundle in Storage as .bootcde and restart into it;
 * the board description must come from tools/boards; and no process of the
 * run may touch the network. The tool runs as a child process (EspruinoTools
 * lives in globals), with test/flash/no-network.cjs preloaded into it: an
 * independent guard that makes the network unusable and logs every attempt.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleNativeSha256, checkPinMap, FlashError, loadFlashConfig, parseArgs, resolveSettings } from "../../tools/flash";
import { createSandbox, FAKE_WORLD, Sandbox, sandboxCodeArea } from "../../tools/sandbox";
import { runScript, writeStorage } from "../../tools/espruino-run";
import { blobCost, codeAreaBudget, formatBudget } from "../../tools/budget";
import { BLOB_PAGES, CodeAreaLayout, codeAreaBytes, layoutFor, SLOT_PAGES } from "../../firmware/codearea/layout";
import { pickSlot } from "../../firmware/codearea/boot";
import { BLOB_NATIVE, BlobEntry, findBlob, listBlobs } from "../../firmware/codearea/blobs";
import { prepareBase, prepareKey } from "../../firmware/crypto/ed25519";
import { tableFile } from "../../firmware/keytables";
import { crc32 } from "../../firmware/store/crc32";
import { detokenise, tokenBytes, tokens } from "./pretokens";

const ROOT = path.resolve(__dirname, "..", "..");
const GUARD = path.join(__dirname, "no-network.cjs");
const FIXTURE = path.join(__dirname, "fixture-bundle.js");
const BOARD_FILE = path.join(ROOT, "tools", "boards", "RAK5010.json");
const TSX = require.resolve("tsx/cli");

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-flash-"));
  // The flasher sends the loader and the installer that npm run build writes beside the firmware.
  if (!fs.existsSync(path.join(ROOT, "dist", "loader.js")) || !fs.existsSync(path.join(ROOT, "dist", "installer.js")))
    expect(run([TSX, path.join(ROOT, "tools", "build.ts")]).status).toBe(0);
}, 300000);
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Network attempts logged by the guard in any process of the run. */
  net: string[];
}

let runs = 0;
function run(program: string[], cwd = ROOT): Run {
  const netLog = path.join(tmp, `net-${++runs}.log`);
  const r = spawnSync(process.execPath, program, {
    cwd,
    encoding: "utf8",
    timeout: 60000,
    env: { ...process.env, NODE_OPTIONS: `--require ${GUARD}`, KEYBOX_NET_LOG: netLog },
  });
  const net = fs.existsSync(netLog) ? fs.readFileSync(netLog, "utf8").split("\n").filter(Boolean) : [];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, net };
}
const flash = (...args: string[]) => run([TSX, path.join(ROOT, "tools", "flash.ts"), ...args]);

interface Decoded {
  /** Storage files as the board would hold them (one char per byte). */
  storage: { [name: string]: string };
  /** Console-level calls in order up to load(): reset, print, write <file>, load. */
  calls: string[];
  /** The firmware in the newest bootable slot of the code area (one char per byte), if any. */
  slot?: string;
  /** The blob region's entries. */
  blobs: BlobEntry[];
  /** What the board printed: the installer's report, the loader's, the firmware's. */
  logs: string[];
  sb: Sandbox;
}

/**
 * Runs a payload on the sandbox's fake board as the Espruino console would:
 * 0x10 at a line start only turns echo off, ESC+LF is a newline that does
 * not execute. The fake has Espruino's Storage (a file's bytes are written
 * once), the free flash with require("Flash") and E.memoryArea, reset() and
 * load(), which runs .bootcde: the loader, which boots the newest slot.
 */
function decode(payload: string, sb: Sandbox = createSandbox()): Decoded {
  sb.hw.calls.length = 0;
  sb.run(
    "(function () { var S = require('Storage'), w = S.write, p = print;" +
      "S.write = function (n) { __hw.calls.push('write ' + n); return w.apply(S, arguments); };" +
      "print = function () { __hw.calls.push('print'); return p.apply(null, arguments); }; })();",
  );
  const source = payload.replace(/\x1b\n/g, "\n").replace(/(^|\n)\x10/g, "$1");
  expect(source).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
  sb.run(source);
  const calls = sb.hw.calls.slice(0, sb.hw.calls.indexOf("load") + 1);
  const storage: { [name: string]: string } = {};
  for (const n of Object.keys(sb.hw.files || {})) storage[n] = Buffer.from(sb.hw.files![n]).toString("latin1");
  const area = sandboxCodeArea(sb);
  const choice = pickSlot({ area, sha256, log: () => undefined });
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  return {
    storage,
    calls,
    slot: choice && Buffer.from(area.read(choice.addr, choice.length)).toString("latin1"),
    blobs: listBlobs((a, n) => area.read(a, n), l.blobs, l.blobBytes),
    logs: sb.hw.logs.slice(),
    sb,
  };
}

const sha256 = (d: Uint8Array) => new Uint8Array(crypto.createHash("sha256").update(d).digest());

function latin1(file: string): string {
  return fs.readFileSync(file, "latin1");
}

/** The whole contract of a dry run for one bundle. */
function checkDryRun(bundle: string, r: Run, out: string): Decoded {
  expect(r.stderr).not.toMatch(/flash: /);
  expect(r.status).toBe(0);
  expect(r.net).toEqual([]);
  expect(r.stdout).toContain(out);
  expect(r.stdout).toMatch(/no device touched/);

  const code = latin1(bundle);
  const payload = latin1(out);
  const d = decode(payload);
  const { storage, calls, slot } = d;
  // The bundle, pretokenised, lands in a slot of the code area: read back with an independent
  // decoder it is the bundle token for token, and it is smaller.
  expect(slot).toBeDefined();
  expect(code).toMatch(/^[\x00-\x7f]*$/); // so every byte >= 128 in the slot is a token
  expect(tokenBytes(slot!)).toBeGreaterThan(0);
  expect(slot!.length).toBeLessThan(code.length);
  expect(tokens(detokenise(slot!))).toEqual(tokens(code));
  // The board read its SHA-256 back before the header made it bootable; the loader then booted it.
  const hash = crypto.createHash("sha256").update(slot!, "latin1").digest("hex");
  expect(d.logs).toContain(`keybox install: slot 0 holds firmware version 1, ${slot!.length} bytes, SHA-256 ${hash} read back`);
  expect(d.logs).toContain("keybox install: OK");
  expect(d.logs).toContain(`keybox loader: booting slot 0, firmware version 1 (${slot!.length} bytes)`);
  // Storage holds the loader and nothing else of code, written after a reset in 1 KiB writes.
  expect(Object.keys(storage).filter((n) => n.startsWith("."))).toEqual([".bootcde"]);
  const loader = latin1(path.join(ROOT, "dist", "loader.js"));
  expect(tokens(detokenise(storage[".bootcde"]))).toEqual(tokens(loader));
  const writes = Math.ceil(storage[".bootcde"].length / 1024);
  // The installer's reset, the print() EspruinoTools' code writer sends after a leading reset, its own reset.
  expect(calls).toEqual(["reset", "print", "reset", ...new Array(writes).fill("write .bootcde"), "load"]);

  const manifest = JSON.parse(fs.readFileSync(out.replace(/\.js$/, ".json"), "utf8"));
  expect(manifest).toMatchObject({
    board: "RAK5010",
    boardFile: path.join("tools", "boards", "RAK5010.json"),
    firmware: "2v29",
    storageFile: ".bootcde",
    storageCapacity: 20 * 4096,
    storedBytes: slot!.length,
    storedSha256: hash,
    loaderBytes: storage[".bootcde"].length,
    codeArea: { free: { start: 0x81000, end: 0xe2000 }, slotBytes: SLOT_PAGES * 4096 },
    pretokenised: true,
    bundleBytes: Buffer.byteLength(code, "latin1"),
    bundleSha256: crypto.createHash("sha256").update(fs.readFileSync(bundle)).digest("hex"),
    payloadBytes: payload.length,
    storageWrites: writes,
    dryRun: true,
  });
  expect(manifest.espruinoConfig).toMatchObject({ SAVE_ON_SEND: 1, MODULE_URL: "", SET_TIME_ON_WRITE: false, COMPILATION: false, PRETOKENISE: 1 });
  return d;
}

/** EspruinoTools' own pretokeniser on a bundle, run in a child process (EspruinoTools lives in globals). */
function espruinoToolsTokenise(bundle: string): string {
  const outFile = path.join(tmp, `tok-${++runs}.bin`);
  const script =
    "console.log=function(){};require('espruino').init(function(){var E=globalThis.Espruino;E.Config.PRETOKENISE=1;" +
    "require('fs').writeFileSync(process.argv[2],E.Plugins.Pretokenise.tokenise(require('fs').readFileSync(process.argv[1],'utf8')),'latin1');process.exit(0);});";
  const r = spawnSync(process.execPath, ["-e", script, bundle, outFile], { cwd: ROOT, encoding: "utf8", timeout: 60000 });
  expect(r.status).toBe(0);
  return latin1(outFile);
}

describe("npm run flash -- --dry-run", () => {
  test("the payload writes the sample bundle to .bootcde and loads it, offline, the same every time", () => {
    const out1 = path.join(tmp, "sample-1.js");
    const out2 = path.join(tmp, "sample-2.js");
    const r1 = flash("--dry-run", "--bundle", FIXTURE, "--out", out1);
    checkDryRun(FIXTURE, r1, out1);
    // The slot holds exactly what EspruinoTools' pretokeniser makes of the bundle.
    expect(decode(latin1(out1)).slot).toBe(espruinoToolsTokenise(FIXTURE));
    expect(Math.ceil(fs.statSync(FIXTURE).size / 1024)).toBeGreaterThan(1); // several chunks exercised
    const r2 = flash("--dry-run", "--bundle", FIXTURE, "--out", out2);
    expect(r2.status).toBe(0);
    expect(latin1(out2)).toBe(latin1(out1));
  });

  test("the built firmware dist/keybox.js (the configured bundle) goes to a slot the same way, without --force, and boots", () => {
    const bundle = path.join(ROOT, "dist", "keybox.js");
    if (!fs.existsSync(bundle)) {
      const b = run([TSX, path.join(ROOT, "tools", "build.ts")]);
      expect(b.stderr + b.stdout).toContain("keybox.js");
      expect(b.status).toBe(0);
    }
    const out = path.join(tmp, "firmware.js");
    const stored = espruinoToolsTokenise(bundle).length;
    const plan = JSON.parse(fs.readFileSync(path.join(ROOT, "espruino.config.json"), "utf8")).storage || {};
    const r = flash("--dry-run", "--out", out);
    const d = checkDryRun(bundle, r, out);
    expect(d.logs.filter((l) => /stopped at boot|Uncaught/.test(l))).toEqual([]);
    // By default the native verifier the bundle was built with goes to the blob region, and no verifier tables.
    const native = bundleNativeSha256(latin1(bundle));
    const blob = native ? fs.readFileSync(path.join(ROOT, "dist", "ed25519.bin")) : undefined;
    // The code area holds two copies of today's firmware with at least 20% room to grow.
    const budget = codeAreaBudget(
      { firmware: stored, keys: plan.issuerKeys || 1, teeth: plan.tableTeeth || 8, tableFiles: [], nativeBlobs: blob ? [blob.length] : [], free: { start: 0x81000, end: 0xe2000 } },
      "RAK5010",
    );
    expect(budget.fits).toBe(true);
    expect(SLOT_PAGES * 4096 - 64).toBeGreaterThanOrEqual(1.2 * stored);
    expect(r.stdout).toContain(formatBudget(budget));
    expect(r.stdout).toMatch(/blob region: no verifier tables \(\d+ saved/);
    if (!native) return void process.stdout.write("dist/keybox.js was built without the native verifier (no arm-none-eabi-gcc): no blob to check\n");
    expect(d.blobs.map((b) => [b.name, b.kind])).toEqual([["ed25519", BLOB_NATIVE]]);
    const area = sandboxCodeArea(d.sb);
    // Found on the board as the firmware finds it: by name, its header's SHA-256 checked, and the bytes are the build's.
    const found = findBlob({ area, name: "ed25519", sha256 });
    if (typeof found === "string") throw new Error("the installed blob is not found: " + found);
    expect(Buffer.from(found.bytes).equals(blob!)).toBe(true);
    expect(crypto.createHash("sha256").update(blob!).digest("hex")).toBe(native);
    const manifest = JSON.parse(fs.readFileSync(out.replace(/\.js$/, ".json"), "utf8"));
    expect(manifest.blobs).toEqual([{ name: "ed25519", kind: "native", bytes: blob!.length, from: path.join("dist", "ed25519.bin"), sha256: native }]);
    expect(d.logs).toContain(`keybox install: blob region holds ${manifest.blobImageBytes} bytes, SHA-256 ${manifest.blobImageSha256} read back`);
  });

  test("a native verifier that is not the one the bundle was built with is refused before anything is written", () => {
    const bundle = path.join(ROOT, "dist", "keybox.js");
    if (!bundleNativeSha256(latin1(bundle))) return;
    const other = path.join(tmp, "other.bin");
    const bytes = fs.readFileSync(path.join(ROOT, "dist", "ed25519.bin"));
    bytes[100] ^= 1;
    fs.writeFileSync(other, bytes);
    const out = path.join(tmp, "other-blob.js");
    const r = flash("--dry-run", "--blob", "ed25519=" + other, "--out", out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/blob ed25519: .*other\.bin \(SHA-256 [0-9a-f]{64}\) is not the native verifier dist\/keybox\.js was built with/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("firmware and data larger than the board are refused before anything is written, with the numbers", () => {
    const big = path.join(tmp, "budget-big.js");
    const region = (layoutFor({ start: 0x81000, end: 0xe2000 }) as CodeAreaLayout).blobBytes;
    const huge = path.join(tmp, "huge.bin");
    fs.writeFileSync(huge, Buffer.alloc(region, 0x5a));
    const rb = flash("--dry-run", "--bundle", FIXTURE, "--blob", "huge=" + huge, "--out", big);
    expect(rb.status).toBe(2);
    expect(rb.stderr).toContain(`the blobs (${blobCost(region)} bytes) are larger than the blob region (${region})`);
    expect(fs.existsSync(big)).toBe(false);
    const small = path.join(tmp, "budget-6.js");
    const r6 = flash("--dry-run", "--bundle", FIXTURE, "--teeth", "6", "--keys", "1", "--out", small);
    expect(r6.status).toBe(0);
    const m = JSON.parse(fs.readFileSync(small.replace(/\.js$/, ".json"), "utf8"));
    expect(m.codeAreaBudget.fits).toBe(true);
    expect(m.storageBudget.fits).toBe(true);
    expect(m.storageBudget.total).toBe(m.storageBudget.lines.reduce((a: number, l: { bytes: number }) => a + l.bytes, 0));
    expect(m.storageBudget.lines[0].bytes).toBe(32 + Math.ceil(m.loaderBytes / 4) * 4);
    // A firmware larger than a slot.
    const hugeBundle = path.join(tmp, "huge.js");
    fs.writeFileSync(hugeBundle, "var s='" + "abcdefgh".repeat((SLOT_PAGES * 4096) / 8 + 100) + "';\n");
    const rh = flash("--dry-run", "--bundle", hugeBundle, "--out", path.join(tmp, "huge-out.js"));
    expect(rh.status).toBe(2);
    expect(rh.stderr).toMatch(/the firmware \(\d+ bytes and its 64-byte header\) is larger than a slot \(\d+\)/);
    expect(rh.stderr).toContain(`is larger than a slot (${SLOT_PAGES * 4096})`);
  });

  test("a board description whose free flash is too small for the code area is refused with the numbers", () => {
    const board = JSON.parse(fs.readFileSync(BOARD_FILE, "utf8"));
    board._keybox.free_flash = { addr: 0x90000, length: 0xe2000 - 0x90000 };
    const file = path.join(tmp, "boards", "BIGINTERP.json");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(board));
    const r = flash("--dry-run", "--board", file, "--bundle", FIXTURE, "--out", path.join(tmp, "bigi.js"));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`the code area needs ${codeAreaBytes()} bytes of free flash below 0xe2000, the interpreter leaves 335872 (from 0x90000)`);
  });

  test("a re-flash keeps Storage's data, installs into the other slot and boots it; the older stays to fall back on", () => {
    const out = path.join(tmp, "reflash.js");
    expect(flash("--dry-run", "--bundle", FIXTURE, "--out", out).status).toBe(0);
    const payload = latin1(out);
    const first = decode(payload);
    // The box has lived a while: journals in Storage.
    first.sb.run("require('Storage').write('ulev0', 'record one', 0, 64); require('Storage').write('grants0', 'uses', 0, 32);");
    const before = { ulev0: first.sb.hw.files!["ulev0"].slice(), grants0: first.sb.hw.files!["grants0"].slice() };
    const second = decode(payload, first.sb);
    expect(second.storage["ulev0"]).toBe(Buffer.from(before.ulev0).toString("latin1"));
    expect(second.storage["grants0"]).toBe(Buffer.from(before.grants0).toString("latin1"));
    expect(second.logs).toContain("keybox loader: booting slot 1, firmware version 2 (" + second.slot!.length + " bytes)");
    expect(second.logs.filter((l) => /^keybox install: slot 1 holds firmware version 2/.test(l)).length).toBe(1);
    const area = sandboxCodeArea(second.sb);
    const l = layoutFor(area.freeRange()) as CodeAreaLayout;
    expect(Buffer.from(area.read(l.slots[0] + 64, second.slot!.length)).toString("latin1")).toBe(second.slot);
  });

  test("--teeth and --keys outside their ranges are refused", () => {
    for (const bad of [["--teeth", "9"], ["--teeth", "4"], ["--keys", "0"], ["--keys", "1.5"]]) {
      const r = flash("--dry-run", "--bundle", FIXTURE, ...bad);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(bad[0] + ": ");
    }
  });

  describe("installing the owner's files beside the firmware", () => {
    const PROVISION = path.join(ROOT, "sim", "demo", "provision.json");
    const demoKey = new Uint8Array(Buffer.from(JSON.parse(fs.readFileSync(PROVISION, "utf8")).keys[0].publicKey, "hex"));
    const otherKey = new Uint8Array(Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex"));
    let settings: string;
    const tablesDir = (name: string, edB: Uint8Array, edK1: Uint8Array): string => {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "edB"), tableFile(edB, crc32));
      fs.writeFileSync(path.join(dir, "edK1"), tableFile(edK1, crc32));
      return dir;
    };
    let good: string;
    beforeAll(() => {
      settings = path.join(tmp, "keybox.json");
      fs.writeFileSync(settings, JSON.stringify({ boxId: "KB-DEMO01", broker: { host: "mqtt.example.net", port: 1883 } }));
      good = tablesDir("tables-5", prepareBase(5)!, prepareKey(demoKey, 5)!);
    });
    const install = (tables: string, out: string, ...more: string[]) =>
      flash("--dry-run", "--bundle", FIXTURE, "--provision", PROVISION, "--settings", settings, "--tables", tables, "--out", out, ...more);

    test("provisioning and configuration go to Storage before the loader, the tables to the blob region, byte for byte, counted as they are", () => {
      const out = path.join(tmp, "install.js");
      const r = install(good, out);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/blob region: edB \(data, .*edK1 \(data/);
      expect(r.stdout).toMatch(/installs keybox\.prov .*keybox\.json .*in Storage before the loader/);
      const d = decode(latin1(out));
      expect(d.storage["keybox.prov"]).toBe(latin1(PROVISION));
      expect(d.storage["keybox.json"]).toBe(latin1(settings));
      expect(d.storage["edB"]).toBeUndefined();
      const area = sandboxCodeArea(d.sb);
      const blob = (name: string) => {
        const e = d.blobs.filter((b) => b.name === name)[0];
        return Buffer.from(area.read(e.addr, e.length)).toString("latin1");
      };
      expect(d.blobs.map((b) => [b.name, b.kind])).toEqual([["edB", 2], ["edK1", 2]]);
      expect(blob("edB")).toBe(latin1(path.join(good, "edB")));
      expect(blob("edK1")).toBe(latin1(path.join(good, "edK1")));
      expect(d.logs.filter((l) => /^keybox install: blob region holds \d+ bytes, SHA-256 [0-9a-f]{64} read back$/.test(l)).length).toBe(1);
      const firstLoader = d.calls.indexOf("write .bootcde");
      for (const f of ["keybox.prov", "keybox.json"]) expect(d.calls.lastIndexOf("write " + f)).toBeLessThan(firstLoader);
      expect(d.calls[d.calls.length - 1]).toBe("load");
      const m = JSON.parse(fs.readFileSync(out.replace(/\.js$/, ".json"), "utf8"));
      expect(m.installed.map((f: { name: string }) => f.name)).toEqual(["keybox.prov", "keybox.json"]);
      expect(m.blobs.map((f: { name: string }) => f.name)).toEqual(["edB", "edK1"]);
      const region = m.codeAreaBudget.lines.filter((l: { what: string }) => /blob region/.test(l.what))[0];
      expect(region.what).toContain(`verifier tables (5 teeth) for the base point and 1 issuer key ${blobCost(blob("edB").length) + blobCost(blob("edK1").length)},`);
    });

    test("native blobs given with --blob go to the blob region, found by name and hash", () => {
      const native = path.join(tmp, "ed25519.bin");
      fs.writeFileSync(native, Buffer.from(Array.from({ length: 3001 }, (_, i) => (i * 31) & 0xff)));
      const out = path.join(tmp, "native.js");
      const r = install(good, out, "--blob", "ed25519=" + native);
      expect(r.stderr).toBe("");
      const d = decode(latin1(out));
      const e = d.blobs.filter((b) => b.name === "ed25519")[0];
      expect(e.kind).toBe(1);
      expect(Buffer.from(sandboxCodeArea(d.sb).read(e.addr, e.length)).equals(fs.readFileSync(native))).toBe(true);
      expect(flash("--dry-run", "--bundle", FIXTURE, "--blob", "edB=" + native, "--tables", good, "--provision", PROVISION).stderr).toMatch(/blob edB: the name is already taken/);
      expect(flash("--dry-run", "--bundle", FIXTURE, "--blob", "x=" + path.join(tmp, "absent.bin")).stderr).toMatch(/blob x: .*absent\.bin not found/);
      expect(flash("--dry-run", "--bundle", FIXTURE, "--blob", "a-name-longer-than-twenty=" + native).stderr).toMatch(/--blob expects NAME=FILE/);
    });

    test("a torn table, a table of another key, mixed teeth, another box's configuration or tables without keys are refused", () => {
      const torn = tablesDir("tables-torn", prepareBase(5)!, prepareKey(demoKey, 5)!);
      const file = fs.readFileSync(path.join(torn, "edK1"));
      file[200] ^= 1;
      fs.writeFileSync(path.join(torn, "edK1"), file);
      const cases: [string[], RegExp][] = [
        [["--tables", torn], /edK1 is torn or corrupt/],
        [["--tables", tablesDir("tables-other", prepareBase(5)!, prepareKey(otherKey, 5)!)], /edK1 was built for another key/],
        [["--tables", tablesDir("tables-mixed", prepareBase(5)!, prepareKey(demoKey, 6)!)], /edK1 has 6 teeth, edB 5/],
        [["--tables", tablesDir("tables-swapped", prepareKey(demoKey, 5)!, prepareKey(demoKey, 5)!)], /edB was built for another point/],
        [["--tables", path.join(tmp, "no-such-dir")], /edB not found/],
      ];
      for (const [args, message] of cases) {
        const out = path.join(tmp, "refused.js");
        const r = install(args[1], out);
        expect(r.stderr).toMatch(message);
        expect(r.status).toBe(2);
        expect(fs.existsSync(out)).toBe(false);
      }
      const elsewhere = path.join(tmp, "elsewhere.json");
      fs.writeFileSync(elsewhere, JSON.stringify({ boxId: "KB-000002" }));
      const r1 = flash("--dry-run", "--bundle", FIXTURE, "--provision", PROVISION, "--settings", elsewhere, "--out", path.join(tmp, "r1.js"));
      expect(r1.stderr).toMatch(/is for box KB-000002, the provisioning file for KB-DEMO01/);
      const r2 = flash("--dry-run", "--bundle", FIXTURE, "--tables", good, "--out", path.join(tmp, "r2.js"));
      expect(r2.stderr).toMatch(/add --provision FILE/);
      const broken = path.join(tmp, "broken.json");
      fs.writeFileSync(broken, "{\"boxId\": ");
      const r3 = flash("--dry-run", "--bundle", FIXTURE, "--settings", broken, "--out", path.join(tmp, "r3.js"));
      expect(r3.stderr).toMatch(/broken\.json is not JSON/);
      for (const r of [r1, r2, r3]) expect(r.status).toBe(2);
    });
  });

  const bin = process.env.ESPRUINO_BIN;
  (bin ? test : test.skip)("the pretokenised firmware, loaded from Storage by the real interpreter, behaves like the bundle", () => {
    const bundle = path.join(ROOT, "dist", "keybox.js");
    if (!fs.existsSync(bundle)) expect(run([TSX, path.join(ROOT, "tools", "build.ts")]).status).toBe(0);
    // The slot's bytes, booted from Storage here: the same pretokenised text, whatever flash it is read from.
    const board = JSON.parse(fs.readFileSync(BOARD_FILE, "utf8"));
    board.chip.saved_code.pages = 64;
    const boardFile = path.join(tmp, "boards", "ROOMY.json");
    fs.mkdirSync(path.dirname(boardFile), { recursive: true });
    fs.writeFileSync(boardFile, JSON.stringify(board));
    const out = path.join(tmp, "roomy.js");
    const r = flash("--dry-run", "--board", boardFile, "--out", out);
    expect(r.status).toBe(0);
    const stored = decode(latin1(out)).slot!;
    const code = latin1(bundle);
    expect(stored.length).toBeLessThan(code.length);

    const trailer = "__hw.advance(11000);print('LED '+__hw.writes.filter(function(w){return w.pin==='D12';}).length);print('END');";
    // Like the board: .bootcde written piece by piece (each piece its own run, so a device-sized
    // interpreter holds one at a time), then load() restarts into it. The fake device world goes
    // into .boot0, which Espruino runs before .bootcde. The same bundle, not pretokenised, booted
    // the same way must print the same.
    const boot0 = "var __realTimeout=setTimeout;\n" + FAKE_WORLD + "\n__realTimeout(function(){" + trailer + "},1);\n";
    const interpret = (name: string, bootcde: string): string[] => {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir);
      const bytes = (t: string) => new Uint8Array(Buffer.from(t, "latin1"));
      expect(writeStorage(bin!, dir, { ".boot0": bytes(boot0), ".bootcde": bytes(bootcde) })).toBe(true);
      const text = runScript(bin!, dir, "load();\n").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/[\x00-\x08\x0b-\x1f]/g, "");
      // What the program printed: the lines after the interpreter's banner, without prompts.
      const lines = text.split("\n").map((l) => l.replace(/^>+/, "").trim());
      const banner = lines.lastIndexOf("http://espruino.com/Donate");
      return lines.slice(banner + 1).filter((l) => l !== "");
    };
    const fromStorage = interpret("storage", stored);
    const plain = interpret("plain", code);
    expect(fromStorage.join("\n")).not.toMatch(/SyntaxError|ReferenceError|Uncaught/);
    expect(fromStorage).toContain("END");
    expect(fromStorage.some((l) => /^LED \d+$/.test(l))).toBe(true);
    expect(fromStorage).toEqual(plain);
  });

  test("built-in modules come from the local board description: a board without crypto refuses the bundle", () => {
    const board = JSON.parse(fs.readFileSync(BOARD_FILE, "utf8"));
    board.info.builtin_modules = board.info.builtin_modules.filter((m: string) => m !== "crypto");
    const file = path.join(tmp, "boards", "NOCRYPTO.json");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(board));
    const out = path.join(tmp, "nocrypto.js");
    const r = flash("--dry-run", "--board", file, "--bundle", FIXTURE, "--out", out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/requires "crypto", not built into the NOCRYPTO firmware/);
    expect(r.net).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("a module the board lacks is refused, never downloaded", () => {
    const bundle = path.join(tmp, "needs-modules.js");
    fs.writeFileSync(bundle, 'var m=require("MQTT"),g=require("https://www.espruino.com/modules/GPS.js"),s=require("Storage");\n');
    const r = flash("--dry-run", "--bundle", bundle, "--out", path.join(tmp, "needs.js"));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('requires "MQTT", "https://www.espruino.com/modules/GPS.js", not built into the RAK5010 firmware');
    expect(r.net).toEqual([]);
  });

  test("the guard does see EspruinoTools' network use: its own CLI fetches the board JSON online", () => {
    const cli = path.join(ROOT, "node_modules", "espruino", "bin", "espruino-cli.js");
    const r = run([cli, "--board", "RAK5010", "-o", path.join(tmp, "cli-out.js"), FIXTURE]);
    expect(r.net.join("\n")).toContain("www.espruino.com");
    expect(r.status).not.toBe(0);
  });
});

describe("npm run flash: clear errors", () => {
  function config(edit: (c: { [k: string]: unknown }) => void): string {
    const c = JSON.parse(fs.readFileSync(path.join(ROOT, "espruino.config.json"), "utf8"));
    c.boardFile = BOARD_FILE;
    edit(c);
    const file = path.join(tmp, `config-${++runs}.json`);
    fs.writeFileSync(file, JSON.stringify(c));
    return file;
  }

  test("no bundle: tells the user to build", () => {
    const r = flash("--dry-run", "--config", config((c) => (c.bundle = "dist/keybox.js")));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/dist\/keybox\.js not found: run npm run build first/);
  });

  test("no port: says where to set one", () => {
    const r = flash("--bundle", FIXTURE, "--config", config((c) => delete c.port));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no port to flash to: set "port" in espruino.config.json/);
    expect(r.stderr).toMatch(/--port \/dev\/ttyACM0 or --ble aa:bb:cc:dd:ee:ff/);
  });

  test("a serial port that does not exist is named before anything is opened", () => {
    const r = flash("--port", "/dev/ttyKEYBOX-absent", "--bundle", FIXTURE, "--out", path.join(tmp, "absent.js"));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/serial port \/dev\/ttyKEYBOX-absent does not exist/);
    expect(r.net).toEqual([]);
  });

  test("EspruinoTools failing to connect exits non-zero with its message", () => {
    // /dev/null exists but is no serial port EspruinoTools can list, so its open() gives up.
    const r = flash("--port", "/dev/null", "--bundle", FIXTURE, "--out", path.join(tmp, "devnull.js"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/could not open \/dev\/null/);
    expect(r.net).toEqual([]);
  });

  test("a board with no local description is refused rather than downloaded", () => {
    const r = flash("--dry-run", "--board", "PUCKJS", "--bundle", FIXTURE, "--out", path.join(tmp, "puck.js"));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no local description of board PUCKJS/);
    expect(r.net).toEqual([]);
  });

  test("a bundle that is not ES5 is refused", () => {
    const bundle = path.join(tmp, "es2015.js");
    fs.writeFileSync(bundle, "let f = (a) => a * 2;\n");
    const r = flash("--dry-run", "--bundle", bundle, "--out", path.join(tmp, "es2015-out.js"));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not ECMAScript 5/);
  });
});

describe("npm run flash against a fake board (EspruinoTools' real upload path)", () => {
  const HARNESS = path.join(__dirname, "fake-board-harness.ts");
  const RAK = { BOARD: "RAK5010", VERSION: "2v29", CONSOLE: "USB", MODULES: "Flash,Storage,heatshrink,crypto" };
  function upload(name: string, env: object, after = "") {
    const capture = path.join(tmp, name + ".sent");
    const out = path.join(tmp, name + ".js");
    process.env.FAKE_ENV = JSON.stringify(env);
    process.env.FAKE_AFTER = after;
    process.env.FAKE_CAPTURE = capture;
    try {
      const r = run([TSX, HARNESS, "--port", "fakeboard", "--bundle", FIXTURE, "--out", out]);
      return { r, out, sent: fs.existsSync(capture) ? latin1(capture) : "" };
    } finally {
      delete process.env.FAKE_ENV;
      delete process.env.FAKE_AFTER;
      delete process.env.FAKE_CAPTURE;
    }
  }

  test("sends exactly the dry-run payload after checking the board, and reports success", () => {
    const { r, out, sent } = upload("ok", RAK);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/done\. slot 0 holds firmware version 1, \d+ bytes, SHA-256 [0-9a-f]{64} read back; the loader in \.bootcde boots it/);
    expect(r.net).toEqual([]);
    const payload = latin1(out);
    expect(sent.endsWith(payload)).toBe(true);
    // Before the payload only the console handshake and two queries went out: process.env and the free flash.
    expect(sent.slice(0, sent.length - payload.length)).toBe(
      '\n\x10print("<","<<",JSON.stringify(process.env),">>",">")\n\n' + '\x10print("<","<<",JSON.stringify(require("Flash").getFree()),">>",">")\n\n',
    );
    expect(tokens(detokenise(decode(payload).slot!))).toEqual(tokens(latin1(FIXTURE)));
  });

  test("refuses a board that is not the RAK5010 build the code area is laid out for, or whose free flash is too small", () => {
    const v = upload("wrong-build", { ...RAK, VERSION: "2v30" });
    expect(v.r.status).toBe(1);
    expect(v.r.stderr).toMatch(/the board on fakeboard runs Espruino 2v30, not the RAK5010 build 2v29 that tools\/boards\/RAK5010\.json describes/);
    expect(v.sent).not.toContain("KEYBOX_INSTALLER");
    process.env.FAKE_FREE = JSON.stringify([{ addr: 0xa0000, length: 0x42000 }]);
    try {
      const f = upload("small-free", RAK);
      expect(f.r.status).toBe(1);
      expect(f.r.stderr).toContain(`the board on fakeboard has no room for the code area: the code area needs ${codeAreaBytes()} bytes of free flash below 0xe2000, the interpreter leaves 270336 (from 0xa0000)`);
      expect(f.sent).not.toContain("KEYBOX_INSTALLER");
    } finally {
      delete process.env.FAKE_FREE;
    }
  });

  test("fails when the SHA-256 read back from the slot is not the firmware's, saying the old firmware is kept", () => {
    process.env.FAKE_READBACK = "00".repeat(32);
    try {
      const { r } = upload("readback", RAK);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/the board refused the installation: slot 0 reads back with SHA-256 0{64}, not [0-9a-f]{64}\. The firmware that ran before is still in its slot\./);
    } finally {
      delete process.env.FAKE_READBACK;
    }
  });

  test("refuses a board that is not the configured one, before sending anything", () => {
    const { r, sent } = upload("wrong-board", { ...RAK, BOARD: "PUCKJS" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the board on fakeboard is PUCKJS, the config targets RAK5010: use --board PUCKJS or --force/);
    expect(sent).not.toContain("Storage");
  });

  test("fails with the board's own words when the uploaded code throws", () => {
    const { r, sent } = upload("uncaught", RAK, "Uncaught Error: boom at line 1");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the board reported an error during the upload:[\s\S]*Uncaught Error: boom/);
    expect(sent).toContain("load()");
  });
});

describe("flash configuration (in process)", () => {
  const board = JSON.parse(fs.readFileSync(BOARD_FILE, "utf8"));
  const boardPins: string[] = board.pins.map((p: { name: string }) => p.name);

  test("the shipped config and pin map fit the RAK5010", () => {
    const cfg = loadFlashConfig(path.join(ROOT, "espruino.config.json"));
    expect(cfg.board).toBe("RAK5010");
    expect(cfg.storageFile).toBe(".bootcde");
    expect(checkPinMap(cfg.pins, boardPins)).toEqual([]);
    expect(board.info.builtin_modules).toEqual(expect.arrayContaining(["Storage", "crypto"]));
  });

  test("pin map mistakes are named", () => {
    const pins = JSON.parse(JSON.stringify(loadFlashConfig(path.join(ROOT, "espruino.config.json")).pins));
    pins.lid.pin = pins.bolt.pin;
    pins.buzzer.pin = "D48";
    pins.motor.levels.close = pins.motor.levels.open;
    delete pins.accel;
    expect(checkPinMap(pins, boardPins)).toEqual([
      "pins.motor.levels: open and close drive the motor the same way",
      "pins.lid.pin: D34 is already used by pins.bolt.pin",
      "pins.buzzer.pin: D48 is not a pin of this board",
      "pins.accel: missing",
      'pins.accel.scl: expected a pin name like "D19"',
      'pins.accel.sda: expected a pin name like "D19"',
      "pins.accel.bitrate: expected a number >= 0",
      "pins.accel.address: expected a 7-bit I2C address",
    ]);
  });

  test("command line overrides the config; BLE addresses are recognised", () => {
    const s = resolveSettings(parseArgs(["--ble", "C0:FF:EE:00:11:22", "--baud", "9600", "--board", "RAK5010"]));
    expect(s).toMatchObject({ port: "C0:FF:EE:00:11:22", transport: "ble", baud: 9600, board: "RAK5010", boardFile: BOARD_FILE });
    expect(resolveSettings(parseArgs(["--port", "/dev/ttyUSB0"]))).toMatchObject({ port: "/dev/ttyUSB0", transport: "serial" });
    expect(() => parseArgs(["--ble", "not-an-address"])).toThrow(FlashError);
    expect(() => parseArgs(["--port", "/dev/ttyUSB0", "--ble", "C0:FF:EE:00:11:22"])).toThrow(/either --port or --ble/);
    expect(() => parseArgs(["--prot", "x"])).toThrow(/unknown option --prot/);
    expect(() => parseArgs(["--port"])).toThrow(/--port needs a value/);
  });

  test("only the boot files are accepted as the Storage target", () => {
    const file = path.join(tmp, "storage-target.json");
    const c = JSON.parse(fs.readFileSync(path.join(ROOT, "espruino.config.json"), "utf8"));
    c.storageFile = "myapp";
    fs.writeFileSync(file, JSON.stringify(c));
    expect(() => loadFlashConfig(file)).toThrow(/"storageFile" must be one of .bootcde, .bootrst/);
  });
});
