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
import * as vm from "vm";
import { checkPinMap, FlashError, loadFlashConfig, parseArgs, resolveSettings } from "../../tools/flash";
import { FAKE_WORLD } from "../../tools/sandbox";
import { runScript, writeStorage } from "../../tools/espruino-run";
import { fileCost, formatBudget, SETTINGS_ALLOWANCE, storageBudget } from "../../tools/budget";
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
});
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
  /** Console-level calls in order: reset, print, write <file>, load. */
  calls: string[];
}

/**
 * Runs a payload as the Espruino console would: 0x10 at a line start only
 * turns echo off, ESC+LF is a newline that does not execute. Storage.write
 * follows Espruino's rules: with a size it creates the file (erased, 0xFF),
 * without one it fills in an existing file, and flash is written only once.
 */
function decode(payload: string): Decoded {
  const storage: { [name: string]: string } = {};
  const calls: string[] = [];
  const Storage = {
    write(name: string, data: string, offset?: number, size?: number) {
      calls.push("write " + name);
      if (size !== undefined) {
        if (offset !== 0) throw new Error("a file is created at offset 0");
        storage[name] = "\xff".repeat(size);
      }
      const file = storage[name];
      if (file === undefined) throw new Error("write to a file never created: " + name);
      const at = offset === undefined ? 0 : offset;
      if (at + data.length > file.length) throw new Error("write past the end of " + name);
      if (file.slice(at, at + data.length) !== "\xff".repeat(data.length)) throw new Error("flash written twice at " + at);
      storage[name] = file.slice(0, at) + data + file.slice(at + data.length);
      return true;
    },
  };
  const context = vm.createContext({
    require: (m: string) => {
      if (m === "Storage") return Storage;
      throw new Error("module " + m + " required by the payload itself");
    },
    atob: (b64: string) => Buffer.from(b64, "base64").toString("latin1"),
    reset: () => calls.push("reset"),
    print: () => calls.push("print"),
    load: (f?: string) => calls.push(f === undefined ? "load" : "load " + f),
  });
  const source = payload.replace(/\x1b\n/g, "\n").replace(/(^|\n)\x10/g, "$1");
  expect(source).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
  vm.runInContext(source, context, { timeout: 5000 });
  return { storage, calls };
}

function latin1(file: string): string {
  return fs.readFileSync(file, "latin1");
}

/** The whole contract of a dry run for one bundle. */
function checkDryRun(bundle: string, r: Run, out: string): void {
  expect(r.stderr).not.toMatch(/flash: /);
  expect(r.status).toBe(0);
  expect(r.net).toEqual([]);
  expect(r.stdout).toContain(out);
  expect(r.stdout).toMatch(/no device touched/);

  const code = latin1(bundle);
  const payload = latin1(out);
  const { storage, calls } = decode(payload);
  // The bundle, pretokenised, lands in the file Espruino runs at boot: read back with an
  // independent decoder it is the bundle token for token, and it is smaller.
  expect(Object.keys(storage)).toEqual([".bootcde"]);
  const stored = storage[".bootcde"];
  expect(code).toMatch(/^[\x00-\x7f]*$/); // so every byte >= 128 in Storage is a token
  expect(tokenBytes(stored)).toBeGreaterThan(0);
  expect(stored.length).toBeLessThan(code.length);
  expect(tokens(detokenise(stored))).toEqual(tokens(code));
  // ...after a reset, in 1 KiB writes, and the board is then restarted into it.
  const writes = Math.ceil(stored.length / 1024);
  expect(calls).toEqual(["reset", "print", ...new Array(writes).fill("write .bootcde"), "load"]);

  const manifest = JSON.parse(fs.readFileSync(out.replace(/\.js$/, ".json"), "utf8"));
  expect(manifest).toMatchObject({
    board: "RAK5010",
    boardFile: path.join("tools", "boards", "RAK5010.json"),
    firmware: "2v29",
    storageFile: ".bootcde",
    storageCapacity: 20 * 4096,
    storedBytes: stored.length,
    storedSha256: crypto.createHash("sha256").update(stored, "latin1").digest("hex"),
    pretokenised: true,
    bundleBytes: Buffer.byteLength(code, "latin1"),
    bundleSha256: crypto.createHash("sha256").update(fs.readFileSync(bundle)).digest("hex"),
    payloadBytes: payload.length,
    storageWrites: writes,
    dryRun: true,
  });
  expect(manifest.espruinoConfig).toMatchObject({ SAVE_ON_SEND: 1, MODULE_URL: "", SET_TIME_ON_WRITE: false, COMPILATION: false, PRETOKENISE: 1 });
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
    // Storage holds exactly what EspruinoTools' pretokeniser makes of the bundle.
    expect(decode(latin1(out1)).storage[".bootcde"]).toBe(espruinoToolsTokenise(FIXTURE));
    expect(Math.ceil(fs.statSync(FIXTURE).size / 1024)).toBeGreaterThan(1); // several chunks exercised
    const r2 = flash("--dry-run", "--bundle", FIXTURE, "--out", out2);
    expect(r2.status).toBe(0);
    expect(latin1(out2)).toBe(latin1(out1));
  });

  test("the built firmware dist/keybox.js (the configured bundle) goes to Storage the same way", () => {
    const bundle = path.join(ROOT, "dist", "keybox.js");
    if (!fs.existsSync(bundle)) {
      const b = run([TSX, path.join(ROOT, "tools", "build.ts")]);
      expect(b.stderr + b.stdout).toContain("keybox.js");
      expect(b.status).toBe(0);
    }
    const out = path.join(tmp, "firmware.js");
    const board = JSON.parse(fs.readFileSync(BOARD_FILE, "utf8"));
    const capacity = board.chip.saved_code.page_size * board.chip.saved_code.pages;
    const bytes = fs.statSync(bundle).size;
    const stored = espruinoToolsTokenise(bundle).length;
    const plan = JSON.parse(fs.readFileSync(path.join(ROOT, "espruino.config.json"), "utf8")).storage || {};
    const r = flash("--dry-run", "--out", out);
    // What must fit is the pretokenised file beside the tables and journals the box keeps.
    const budget = storageBudget({ code: stored, keys: plan.issuerKeys || 1, teeth: plan.tableTeeth || 8, settingsFiles: SETTINGS_ALLOWANCE }, capacity);
    if (budget.fits) return checkDryRun(bundle, r, out);
    // Firmware and data larger than the board's Storage are refused before anything is written.
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`dist/keybox.js (${bytes} bytes, ${stored} pretokenised) and the data the box keeps do not fit the RAK5010 Storage area`);
    expect(r.stderr).toContain(formatBudget(budget, "RAK5010"));
    expect(r.net).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("a bundle that fits alone is still refused when the tables and journals would not fit beside it", () => {
    const big = path.join(tmp, "budget-8.js");
    const r8 = flash("--dry-run", "--bundle", FIXTURE, "--teeth", "8", "--keys", "2", "--out", big);
    expect(r8.status).toBe(2);
    expect(r8.stderr).toMatch(/verifier tables \(8 teeth\): base point and 2 issuer keys/);
    expect(r8.stderr).toMatch(/too many: it does not fit/);
    expect(fs.existsSync(big)).toBe(false);
    const small = path.join(tmp, "budget-6.js");
    const r6 = flash("--dry-run", "--bundle", FIXTURE, "--teeth", "6", "--keys", "2", "--out", small);
    expect(r6.status).toBe(0);
    expect(r6.stdout).toMatch(/verifier tables \(6 teeth\): base point and 2 issuer keys/);
    const m = JSON.parse(fs.readFileSync(small.replace(/\.js$/, ".json"), "utf8"));
    expect(m.storageBudget.fits).toBe(true);
    expect(m.storageBudget.total).toBe(m.storageBudget.lines.reduce((a: number, l: { bytes: number }) => a + l.bytes, 0));
    expect(m.storageBudget.lines[0].bytes).toBe(32 + Math.ceil(m.storedBytes / 4) * 4);
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

    test("provisioning, configuration and tables are written byte for byte before the firmware, and counted as they are", () => {
      const out = path.join(tmp, "install.js");
      const r = install(good, out);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/installs keybox\.prov .*keybox\.json .*edB .*edK1 .*before the firmware/);
      const { storage, calls } = decode(latin1(out));
      expect(storage["keybox.prov"]).toBe(latin1(PROVISION));
      expect(storage["keybox.json"]).toBe(latin1(settings));
      expect(storage["edB"]).toBe(latin1(path.join(good, "edB")));
      expect(storage["edK1"]).toBe(latin1(path.join(good, "edK1")));
      const firstCode = calls.indexOf("write .bootcde");
      for (const f of ["keybox.prov", "keybox.json", "edB", "edK1"]) expect(calls.lastIndexOf("write " + f)).toBeLessThan(firstCode);
      expect(calls[calls.length - 1]).toBe("load");
      const m = JSON.parse(fs.readFileSync(out.replace(/\.js$/, ".json"), "utf8"));
      expect(m.installed.map((f: { name: string }) => f.name)).toEqual(["keybox.prov", "keybox.json", "edB", "edK1"]);
      const tables = m.storageBudget.lines.filter((l: { what: string }) => /tables/.test(l.what))[0];
      expect(tables.what).toMatch(/\(5 teeth\): base point and 1 issuer key$/);
      expect(tables.bytes).toBe(fileCost(storage["edB"].length) + fileCost(storage["edK1"].length));
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
    // A board with room enough, so that this holds whether or not the firmware fits the RAK5010 yet.
    const board = JSON.parse(fs.readFileSync(BOARD_FILE, "utf8"));
    board.chip.saved_code.pages = 64;
    const boardFile = path.join(tmp, "boards", "ROOMY.json");
    fs.mkdirSync(path.dirname(boardFile), { recursive: true });
    fs.writeFileSync(boardFile, JSON.stringify(board));
    const out = path.join(tmp, "roomy.js");
    const r = flash("--dry-run", "--board", boardFile, "--out", out);
    expect(r.status).toBe(0);
    const stored = decode(latin1(out)).storage[".bootcde"];
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
    expect(r.stdout).toMatch(/\.bootcde written to Storage and started; it runs at every boot/);
    expect(r.net).toEqual([]);
    const payload = latin1(out);
    expect(sent.endsWith(payload)).toBe(true);
    // Before the payload only the console handshake and the process.env query went out.
    expect(sent.slice(0, sent.length - payload.length)).toBe('\n\x10print("<","<<",JSON.stringify(process.env),">>",">")\n\n');
    expect(tokens(detokenise(decode(payload).storage[".bootcde"]))).toEqual(tokens(latin1(FIXTURE)));
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
