/**
 * npm run flash: installs dist/keybox.js on the board with EspruinoTools (the
 * `espruino` package, driven through its Node API). The firmware goes to a
 * slot of the code area, the free flash outside Storage
 * (firmware/codearea/layout.ts), pretokenised by EspruinoTools (reserved
 * words and operators as single bytes, ~17% smaller): the upload first sends
 * the installer (dist/installer.js), which erases the slot that does not
 * hold the running firmware, programs the firmware in 1 KiB pieces, reads
 * its SHA-256 back from flash and only then writes the slot's header. The
 * native Ed25519 verifier the bundle was built with (dist/ed25519.bin,
 * built here when missing) goes to the blob region the same way, with any
 * --blob and, only when asked with --tables, the JavaScript verifier's
 * tables: the region is written as a whole. Then the configuration and provisioning files go to Storage, and
 * the loader (dist/loader.js) as .bootcde, the only code there; load()
 * restarts into it. Both areas are budgeted first (tools/budget.ts) and the
 * upload refuses a board whose free flash is too small or that is not the
 * RAK5010 build the board description names; Storage's other files (the
 * journals) are kept.
 *
 * Offline by construction: the board description comes from tools/boards/,
 * module download, the online minifier and compiler are switched off, a
 * bundle that needs a module the board lacks is refused before EspruinoTools
 * sees it, and every TCP/UDP/DNS/HTTP door of this process is shut (unix
 * sockets stay open: BlueZ is reached over D-Bus).
 *
 * The payload (what goes over the wire after EspruinoTools has found the
 * board's prompt) is produced once, written to a file, and in a real upload
 * sent byte for byte: `--dry-run` stops after writing it and touches no device.
 *
 *   npm run flash                                   port/board from espruino.config.json
 *   npm run flash -- --port /dev/ttyUSB0            another serial port
 *   npm run flash -- --ble aa:bb:cc:dd:ee:ff        over Bluetooth LE (Nordic UART console)
 *   npm run flash -- --dry-run                      write dist/upload-payload.js only
 *   options: --config FILE, --board NAME|FILE.json, --baud N, --bundle FILE,
 *            --out FILE, --force (skip the board identity check), --verbose,
 *            --provision FILE, --settings FILE, --tables DIR, --keys N, --teeth T,
 *            --blob NAME=FILE (native code for the blob region, repeatable)
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Budget, codeAreaBudget, formatBudget, SETTINGS_ALLOWANCE, storageBudget } from "./budget";
import { BLOB_DATA, BLOB_NATIVE, ED25519_BLOB_NAME, encodeBlob, validBlobName } from "../firmware/codearea/blobs";
import { layoutFor, topFreeRange } from "../firmware/codearea/layout";
import { Installation, InstallError, readInstallation } from "./install";
import { PROVISION_FILE, SETTINGS_FILE } from "../firmware/config";
import { BLOB_FILE, currentBlob } from "./native/build";

export const ROOT = path.resolve(__dirname, "..");
/** The global dist/installer.js defines on the board while the upload runs. */
export const INSTALLER_GLOBAL = "KEYBOX_INSTALLER";

/** A refusal with a message meant for the person at the keyboard. */
export class FlashError extends Error {
  /** 2: wrong usage or configuration; 1: the upload itself failed. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "FlashError";
    this.exitCode = exitCode;
  }
}

// ---------------------------------------------------------------- config

export interface InputPin {
  pin: string;
  /** true when the pin reads 0 while the switch means true (bolt thrown, lid closed, key present). */
  activeLow: boolean;
  pull: "input_pullup" | "input_pulldown" | "input";
  debounceMs: number;
}
export type Levels = [number, number];
/** The hardware map the Espruino HAL binding uses; part of espruino.config.json. */
export interface PinMap {
  motor: { a: string; b: string; levels: { open: Levels; close: Levels; stop: Levels; brake: Levels } };
  bolt: InputPin;
  lid: InputPin;
  key: InputPin;
  led: { pin: string; activeLow: boolean };
  buzzer: { pin: string; activeLow: boolean };
  battery: { pin: string };
  modem: {
    serial: string;
    tx: string;
    rx: string;
    cts?: string;
    baud: number;
    powerKey: string;
    powerKeyActiveLow: boolean;
    reset?: string;
    status?: string;
  };
  accel: { scl: string; sda: string; bitrate: number; address: number; int1?: string };
}

export type StorageFile = ".bootcde" | ".bootrst";

/** espruino.config.json. Relative paths are relative to the file's directory. */
export interface FlashConfig {
  board: string;
  boardFile?: string;
  /** Serial device path, or a BLE address aa:bb:cc:dd:ee:ff. */
  port?: string;
  baud: number;
  bundle: string;
  storageFile: StorageFile;
  payload: string;
  pins: PinMap;
  /** What the owner installs beside the firmware: issuer keys and the teeth of their tables. */
  storage: StoragePlan;
}

export interface StoragePlan {
  issuerKeys: number;
  tableTeeth: number;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const STORAGE_FILES: StorageFile[] = [".bootcde", ".bootrst"];
/** What each storage file means to EspruinoTools' "Save on Send" setting. */
const SAVE_ON_SEND: { [k in StorageFile]: number } = { ".bootcde": 1, ".bootrst": 2 };

function isObj(v: unknown): v is { [k: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads and checks espruino.config.json (shape only; pins are checked against the board later). */
export function loadFlashConfig(file: string): FlashConfig {
  if (!fs.existsSync(file)) throw new FlashError(`config ${file} not found (create it or pass --config FILE)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new FlashError(`config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(raw)) throw new FlashError(`config ${file}: expected a JSON object`);
  const bad = (what: string) => new FlashError(`config ${file}: ${what}`);
  const str = (k: string, def?: string): string => {
    const v = raw[k] === undefined ? def : raw[k];
    if (typeof v !== "string" || v === "") throw bad(`"${k}" must be a non-empty string`);
    return v;
  };
  const board = str("board");
  const storageFile = str("storageFile", ".bootcde") as StorageFile;
  if (STORAGE_FILES.indexOf(storageFile) < 0)
    throw bad(`"storageFile" must be one of ${STORAGE_FILES.join(", ")} (the files Espruino runs at boot)`);
  const baud = raw.baud === undefined ? 115200 : raw.baud;
  if (typeof baud !== "number" || !(baud > 0) || Math.floor(baud) !== baud) throw bad(`"baud" must be a positive integer`);
  if (raw.port !== undefined && typeof raw.port !== "string") throw bad(`"port" must be a string`);
  if (!isObj(raw.pins)) throw bad(`"pins" (the hardware pin map) is missing`);
  const plan = raw.storage === undefined ? {} : raw.storage;
  if (!isObj(plan)) throw bad(`"storage" must be an object { "issuerKeys": N, "tableTeeth": 5..8 }`);
  const storage: StoragePlan = {
    issuerKeys: plan.issuerKeys === undefined ? 1 : (plan.issuerKeys as number),
    tableTeeth: plan.tableTeeth === undefined ? 8 : (plan.tableTeeth as number),
  };
  const planProblem = checkPlan(storage.issuerKeys, storage.tableTeeth);
  if (planProblem) throw bad(`"storage": ${planProblem}`);
  const dir = path.dirname(path.resolve(file));
  const rel = (p: string) => path.resolve(dir, p);
  return {
    board,
    boardFile: raw.boardFile === undefined ? undefined : rel(str("boardFile")),
    port: raw.port === "" ? undefined : (raw.port as string | undefined),
    baud,
    bundle: rel(str("bundle", "dist/keybox.js")),
    storageFile,
    payload: rel(str("payload", "dist/upload-payload.js")),
    pins: raw.pins as unknown as PinMap,
    storage,
  };
}

function checkPlan(keys: unknown, teeth: unknown): string | undefined {
  if (typeof keys !== "number" || !(keys >= 1 && keys <= 8) || Math.floor(keys) !== keys) return "issuerKeys must be an integer 1..8";
  if (typeof teeth !== "number" || !(teeth >= 5 && teeth <= 8) || Math.floor(teeth) !== teeth) return "tableTeeth must be an integer 5..8";
  return undefined;
}

/**
 * Problems in a pin map: missing entries, pins the board does not have, and
 * one pin given two jobs. Empty when the map is sound.
 */
export function checkPinMap(pins: unknown, boardPins: string[]): string[] {
  const problems: string[] = [];
  if (!isObj(pins)) return ["pins: expected an object"];
  const used: { [pin: string]: string } = {};
  const pin = (where: string, v: unknown, optional = false) => {
    if (v === undefined && optional) return;
    if (typeof v !== "string") return problems.push(`${where}: expected a pin name like "D19"`);
    if (boardPins.indexOf(v) < 0) return problems.push(`${where}: ${v} is not a pin of this board`);
    if (used[v]) return problems.push(`${where}: ${v} is already used by ${used[v]}`);
    used[v] = where;
  };
  const obj = (k: string): { [k: string]: unknown } => {
    const v = pins[k];
    if (isObj(v)) return v;
    problems.push(`pins.${k}: missing`);
    return {};
  };
  const bool = (where: string, v: unknown) => {
    if (typeof v !== "boolean") problems.push(`${where}: expected true or false`);
  };
  const num = (where: string, v: unknown) => {
    if (typeof v !== "number" || !(v >= 0)) problems.push(`${where}: expected a number >= 0`);
  };
  const motor = obj("motor");
  pin("pins.motor.a", motor.a);
  pin("pins.motor.b", motor.b);
  const levels = isObj(motor.levels) ? motor.levels : {};
  for (const d of ["open", "close", "stop", "brake"]) {
    const l = levels[d];
    if (!Array.isArray(l) || l.length !== 2 || !l.every((x) => x === 0 || x === 1))
      problems.push(`pins.motor.levels.${d}: expected [a, b] with 0 or 1`);
  }
  const o = levels.open as unknown, c = levels.close as unknown;
  if (Array.isArray(o) && Array.isArray(c) && o[0] === c[0] && o[1] === c[1])
    problems.push("pins.motor.levels: open and close drive the motor the same way");
  for (const k of ["bolt", "lid", "key"]) {
    const i = obj(k);
    pin(`pins.${k}.pin`, i.pin);
    bool(`pins.${k}.activeLow`, i.activeLow);
    if (["input_pullup", "input_pulldown", "input"].indexOf(i.pull as string) < 0)
      problems.push(`pins.${k}.pull: expected input_pullup, input_pulldown or input`);
    num(`pins.${k}.debounceMs`, i.debounceMs);
  }
  for (const k of ["led", "buzzer"]) {
    const i = obj(k);
    pin(`pins.${k}.pin`, i.pin);
    bool(`pins.${k}.activeLow`, i.activeLow);
  }
  pin("pins.battery.pin", obj("battery").pin);
  const m = obj("modem");
  if (typeof m.serial !== "string" || !/^Serial\d$/.test(m.serial)) problems.push("pins.modem.serial: expected Serial1");
  pin("pins.modem.tx", m.tx);
  pin("pins.modem.rx", m.rx);
  pin("pins.modem.cts", m.cts, true);
  num("pins.modem.baud", m.baud);
  pin("pins.modem.powerKey", m.powerKey);
  bool("pins.modem.powerKeyActiveLow", m.powerKeyActiveLow);
  pin("pins.modem.reset", m.reset, true);
  pin("pins.modem.status", m.status, true);
  const a = obj("accel");
  pin("pins.accel.scl", a.scl);
  pin("pins.accel.sda", a.sda);
  num("pins.accel.bitrate", a.bitrate);
  if (typeof a.address !== "number" || !(a.address > 0 && a.address < 128)) problems.push("pins.accel.address: expected a 7-bit I2C address");
  pin("pins.accel.int1", a.int1, true);
  return problems;
}

// ---------------------------------------------------------------- arguments

export interface FlashArgs {
  config?: string;
  port?: string;
  ble?: string;
  board?: string;
  baud?: number;
  bundle?: string;
  out?: string;
  keys?: number;
  teeth?: number;
  provision?: string;
  settings?: string;
  tables?: string;
  /** Native code blobs for the code area: name and file. */
  blobs: { name: string; file: string }[];
  dryRun: boolean;
  force: boolean;
  verbose: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run flash -- [options]
  --dry-run             write the upload payload to a file and touch no device
  --port PATH|ADDRESS   serial port (/dev/ttyACM0) or BLE address (aa:bb:cc:dd:ee:ff)
  --ble ADDRESS         flash over Bluetooth LE to this address
  --board NAME|FILE     board name (description in tools/boards/NAME.json) or a board JSON file
  --baud N              serial baud rate
  --config FILE         configuration file (default espruino.config.json)
  --bundle FILE         file to upload (default: "bundle" in the config, dist/keybox.js)
  --out FILE            where to write the payload (default: "payload" in the config)
  --provision FILE      also install this provisioning file (keybox-issuer provision) as keybox.prov
  --settings FILE       also install this box configuration as keybox.json
  --tables DIR          also install the JavaScript verifier's tables in DIR (keybox-issuer tables; needs --provision):
                        only for a firmware built without the native verifier, which it otherwise uses
  --blob NAME=FILE      also install FILE as native code named NAME in the code area's blob region (repeatable);
                        the native verifier (ed25519=dist/ed25519.bin) goes by default
  --keys N              issuer keys the box will trust (default: "storage" in the config, 1)
  --teeth T             teeth of their verifier tables, 5..8 (default: "storage" in the config, 8); without
                        --tables these only say what the tables would take
  --force               upload even if the connected board reports another board name
  --verbose             show EspruinoTools' log and the board's output
`;

export function parseArgs(argv: string[]): FlashArgs {
  const a: FlashArgs = { dryRun: false, force: false, verbose: false, help: false, blobs: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new FlashError(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    switch (arg) {
      case "--dry-run": case "-n": a.dryRun = true; break;
      case "--force": a.force = true; break;
      case "--verbose": case "-v": a.verbose = true; break;
      case "--help": case "-h": a.help = true; break;
      case "--port": case "-p": a.port = value(); break;
      case "--ble": {
        const v = value();
        if (!MAC.test(v)) throw new FlashError(`--ble expects a Bluetooth address like aa:bb:cc:dd:ee:ff, got ${v}`);
        a.ble = v;
        break;
      }
      case "--board": a.board = value(); break;
      case "--baud": case "-b": {
        const v = value();
        const n = Number(v);
        if (!(n > 0) || Math.floor(n) !== n) throw new FlashError(`--baud expects a positive integer, got ${v}`);
        a.baud = n;
        break;
      }
      case "--config": a.config = value(); break;
      case "--bundle": a.bundle = value(); break;
      case "--out": case "-o": a.out = value(); break;
      case "--provision": a.provision = value(); break;
      case "--settings": a.settings = value(); break;
      case "--tables": a.tables = value(); break;
      case "--blob": {
        const v = value();
        const eq = v.indexOf("=");
        const name = v.slice(0, eq);
        if (eq < 1 || !validBlobName(name) || eq === v.length - 1) throw new FlashError(`--blob expects NAME=FILE with a name of 1 to 20 printable characters, got ${v}`);
        if (a.blobs.some((b) => b.name === name)) throw new FlashError(`--blob ${name} is given twice`);
        a.blobs.push({ name, file: v.slice(eq + 1) });
        break;
      }
      case "--keys": case "--teeth": {
        const v = value();
        const n = Number(v);
        const problem = arg === "--keys" ? checkPlan(n, 8) : checkPlan(1, n);
        if (problem) throw new FlashError(`${arg}: ${problem.replace(/^\w+ /, "")}, got ${v}`);
        if (arg === "--keys") a.keys = n;
        else a.teeth = n;
        break;
      }
      default: throw new FlashError(`unknown option ${arg}\n${USAGE}`);
    }
  }
  if (a.port !== undefined && a.ble !== undefined) throw new FlashError("give either --port or --ble, not both");
  return a;
}

// ---------------------------------------------------------------- settings

/** Everything one run needs, resolved from config and arguments. */
export interface Settings {
  board: string;
  boardFile: string;
  port?: string;
  transport?: "serial" | "ble";
  baud: number;
  bundle: string;
  /** true when the bundle came from --bundle rather than the config (changes the hint when it is missing). */
  bundleFromArgs: boolean;
  storageFile: StorageFile;
  payloadFile: string;
  manifestFile: string;
  pins: PinMap;
  storage: StoragePlan;
  /** Files to install beside the firmware (absolute paths). */
  install: { provision?: string; settings?: string; tables?: string };
  /** Native blobs for the code area (absolute paths). */
  blobs: { name: string; file: string }[];
  /** The loader (.bootcde) and the installer the upload sends, as npm run build writes them. */
  loaderFile: string;
  installerFile: string;
  dryRun: boolean;
  force: boolean;
  verbose: boolean;
}

export function resolveSettings(args: FlashArgs, cwd = process.cwd()): Settings {
  const configFile = args.config ? path.resolve(cwd, args.config) : path.join(ROOT, "espruino.config.json");
  const cfg = loadFlashConfig(configFile);
  let board = cfg.board;
  let boardFile = cfg.boardFile || path.join(ROOT, "tools", "boards", board + ".json");
  if (args.board !== undefined) {
    if (args.board.endsWith(".json") || args.board.indexOf("/") >= 0) {
      boardFile = path.resolve(cwd, args.board);
      board = path.basename(boardFile).replace(/\.json$/, "");
    } else {
      board = args.board;
      boardFile = path.join(ROOT, "tools", "boards", board + ".json");
    }
  }
  const port = args.ble || args.port || cfg.port;
  const payloadFile = args.out ? path.resolve(cwd, args.out) : cfg.payload;
  return {
    board,
    boardFile,
    port,
    transport: port === undefined ? undefined : MAC.test(port) ? "ble" : "serial",
    baud: args.baud || cfg.baud,
    bundle: args.bundle ? path.resolve(cwd, args.bundle) : cfg.bundle,
    bundleFromArgs: args.bundle !== undefined,
    storageFile: cfg.storageFile,
    payloadFile,
    manifestFile: payloadFile.replace(/(\.js)?$/, ".json"),
    pins: cfg.pins,
    storage: {
      issuerKeys: args.keys === undefined ? cfg.storage.issuerKeys : args.keys,
      tableTeeth: args.teeth === undefined ? cfg.storage.tableTeeth : args.teeth,
    },
    install: {
      provision: args.provision === undefined ? undefined : path.resolve(cwd, args.provision),
      settings: args.settings === undefined ? undefined : path.resolve(cwd, args.settings),
      tables: args.tables === undefined ? undefined : path.resolve(cwd, args.tables),
    },
    blobs: args.blobs.map((b) => ({ name: b.name, file: path.resolve(cwd, b.file) })),
    loaderFile: path.join(ROOT, "dist", "loader.js"),
    installerFile: path.join(ROOT, "dist", "installer.js"),
    dryRun: args.dryRun,
    force: args.force,
    verbose: args.verbose,
  };
}

// ---------------------------------------------------------------- board

/** The subset of an espruino.com/json/BOARD.json file this tool relies on. */
export interface BoardJson {
  info: { name?: string; binary_version: string; builtin_modules: string[]; [k: string]: unknown };
  chip: { saved_code: { page_size: number; pages: number; address?: number }; [k: string]: unknown };
  pins: { name: string }[];
  /** What this project adds to the description: the free flash the build leaves (measured, ../shared/espruino-flash.md). */
  _keybox?: { free_flash?: { addr: number; length: number } };
  [k: string]: unknown;
}

/** The free flash a board's build leaves, from its description. */
export function boardFree(b: BoardJson, file: string): { start: number; end: number } {
  const f = b._keybox && b._keybox.free_flash;
  if (!f || !(f.addr > 0) || !(f.length > 0))
    throw new FlashError(`board file ${rel(file)}: needs _keybox.free_flash { addr, length }, the flash its build leaves free (Flash.getFree() on the board)`);
  return { start: f.addr, end: f.addr + f.length };
}

export function loadBoard(board: string, file: string): BoardJson {
  if (!fs.existsSync(file))
    throw new FlashError(
      `no local description of board ${board} (${rel(file)}). npm run flash never downloads one: ` +
        `add it under tools/boards/ in the format of www.espruino.com/json/${board}.json (see tools/boards/RAK5010.json)`,
    );
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new FlashError(`board file ${rel(file)} is not valid JSON: ${(e as Error).message}`);
  }
  const b = j as BoardJson;
  if (!isObj(j) || !isObj(b.info) || !Array.isArray(b.info.builtin_modules) || typeof b.info.binary_version !== "string")
    throw new FlashError(`board file ${rel(file)}: needs info.builtin_modules and info.binary_version`);
  if (!isObj(b.chip) || !isObj(b.chip.saved_code) || !(b.chip.saved_code.page_size > 0) || !(b.chip.saved_code.pages > 0))
    throw new FlashError(`board file ${rel(file)}: needs chip.saved_code (page_size, pages), the Storage area`);
  if (!Array.isArray(b.pins)) throw new FlashError(`board file ${rel(file)}: needs the pins list`);
  return b;
}

/** "2v29" -> [2, 29]; EspruinoTools' own reading of the same string decides whether Storage exists. */
export function parseVersion(v: string): [number, number] | undefined {
  const m = /^(\d+)v(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

// ---------------------------------------------------------------- network guard

/**
 * Shuts every door to the network in this process: TCP (net, tls, http,
 * https, http2, fetch), UDP and DNS throw at the call. Unix-domain sockets
 * stay usable (D-Bus for BlueZ). Each attempt is also recorded, so a run
 * that tried, even where the library swallowed the error, still fails.
 */
export function installNetworkGuard(): string[] {
  const attempts: string[] = [];
  const block = (what: string): never => {
    attempts.push(what);
    throw new FlashError(`network access blocked (${what}): npm run flash works offline`, 1);
  };
  /* eslint-disable @typescript-eslint/no-var-requires */
  const net = require("net");
  const origConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: unknown, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const isUnix = (isObj(first) && typeof first.path === "string") || (typeof first === "string" && !/^\d+$/.test(first));
    if (!isUnix) block("socket connect " + JSON.stringify(isObj(first) ? { host: first.host, port: first.port } : first));
    return origConnect.apply(this, args);
  };
  for (const mod of ["http", "https"]) {
    const m = require(mod);
    m.request = (...a: unknown[]) => block(`${mod}.request ${describeUrl(a[0])}`);
    m.get = (...a: unknown[]) => block(`${mod}.get ${describeUrl(a[0])}`);
  }
  require("http2").connect = (u: unknown) => block("http2.connect " + describeUrl(u));
  require("tls").connect = () => block("tls.connect");
  require("dgram").createSocket = () => block("dgram.createSocket");
  const dns = require("dns");
  for (const f of ["lookup", "resolve", "resolve4", "resolve6", "resolveAny"]) dns[f] = (h: unknown) => block(`dns.${f} ${String(h)}`);
  for (const f of ["lookup", "resolve", "resolve4", "resolve6", "resolveAny"]) dns.promises[f] = (h: unknown) => block(`dns.promises.${f} ${String(h)}`);
  (globalThis as { fetch?: unknown }).fetch = (u: unknown) => block("fetch " + describeUrl(u));
  return attempts;
}

function describeUrl(u: unknown): string {
  if (typeof u === "string") return u;
  if (isObj(u)) return String(u.href || String(u.host || u.hostname || "") + String(u.path || ""));
  return String(u);
}

// ---------------------------------------------------------------- EspruinoTools

/* The slice of EspruinoTools' global `Espruino` object used here (it ships no typings). */
type Cb<T> = (v: T) => void;
interface EspruinoGlobal {
  Config: { [k: string]: unknown };
  callProcessor(event: string, data: unknown, cb: Cb<unknown>): void;
  Core: {
    Env: { getData(): { [k: string]: unknown }; setFirmwareVersion(v: string): void };
    Utils: {
      getLexer(code: string): { next(): { str: string; type: string; value?: string } | undefined };
      /** The JavaScript that writes contents (one char per byte) to a Storage file, as --storage sends it. */
      getUploadFileCode(fileName: string, contents: string): string;
      getEspruinoPrompt(cb: () => void): void;
      executeExpression(expr: string, cb: Cb<string | undefined>): void;
      addRecognisedDeviceAddress(addr: string): void;
    };
    CodeWriter: { writeToEspruino(code: string, cb: () => void): void };
    Serial: {
      devices: { name: string }[];
      open(port: string, connected: Cb<unknown>, disconnected: Cb<unknown>): void;
      close(): void;
      write(data: string, showStatus: boolean | undefined, cb?: () => void): void;
      startListening(cb: Cb<ArrayBuffer>): unknown;
      setSlowWrite(on: boolean): void;
      isConnected(): boolean;
    };
    Notifications: { [k: string]: (msg: unknown) => void };
  };
}

interface ToolsLog {
  errors: string[];
  warnings: string[];
}

let tools: { E: EspruinoGlobal; log: ToolsLog } | undefined;

/** Loads EspruinoTools once per process (it lives in globals), quietly unless verbose. */
function loadTools(verbose: boolean): Promise<{ E: EspruinoGlobal; log: ToolsLog }> {
  if (tools) return Promise.resolve(tools);
  // EspruinoTools reports through console.log; the CLI silences it the same way.
  if (!verbose) console.log = () => undefined;
  return new Promise((resolve) => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require("espruino").init(() => {
      const E = (globalThis as unknown as { Espruino: EspruinoGlobal }).Espruino;
      const log: ToolsLog = { errors: [], warnings: [] };
      const say = (prefix: string) => (m: unknown) => {
        if (verbose) process.stderr.write(`espruino ${prefix}: ${String(m)}\n`);
      };
      E.Core.Notifications = {
        error: (m) => { log.errors.push(String(m)); say("error")(m); },
        warning: (m) => { log.warnings.push(String(m)); say("warning")(m); },
        info: say("info"),
        success: say("ok"),
      };
      tools = { E, log };
      resolve(tools);
    });
  });
}

/** Modules the code loads with require("..."), found the way EspruinoTools finds them (its lexer). */
export function requiredModules(E: EspruinoGlobal, code: string): string[] {
  const found: string[] = [];
  const lex = E.Core.Utils.getLexer(code);
  let state = 0;
  for (let tok = lex.next(); tok !== undefined; tok = lex.next()) {
    if (state === 0 && tok.str === "require") state = 1;
    else if (state === 1 && tok.str === "(") state = 2;
    else if (state === 2 && tok.type === "STRING") {
      if (found.indexOf(tok.value as string) < 0) found.push(tok.value as string);
      state = 0;
    } else state = 0;
  }
  return found;
}

/** The EspruinoTools settings this tool fixes, recorded in the manifest. */
function toolsConfig(s: Settings, boardFile: string, pretokenise: boolean): { [k: string]: unknown } {
  return {
    SAVE_ON_SEND: SAVE_ON_SEND[s.storageFile], // Storage file run at boot, not RAM
    LOAD_STORAGE_FILE: 1, // end with load(): restart and run it now
    RESET_BEFORE_SEND: true,
    SET_TIME_ON_WRITE: false, // the payload is reproducible; time comes from the firmware's own sources
    MINIFICATION_LEVEL: "", // already minified by npm run build; "" also keeps the online Closure compiler out
    MODULE_MINIFICATION_LEVEL: "",
    COMPILATION: false, // the "compiled" keyword would call espruino.com's compiler
    // Storage holds dist/keybox.js pretokenised: reserved words and operators as one byte each.
    // 1 = "auto": strings and integers are tokenised too only for a board version EspruinoTools
    // knows, which storedForm() keeps unset: raw strings save nothing, and raw integers cost
    // ~1.3 KB more than minified digits (a small int takes 2 bytes instead of 1).
    PRETOKENISE: pretokenise ? 1 : 0,
    MODULE_URL: "", // no module downloads, ever
    BOARD_JSON_URL: path.dirname(boardFile), // a local directory: a board JSON lookup reads a file
    ENV_ON_CONNECT: false, // process.env is read by this tool, without the online board lookup
    BAUD_RATE: s.baud,
    SERIAL_THROTTLE_SEND: 0,
    BLUETOOTH_LOW_ENERGY: s.transport === "ble",
    BLUETOOTH_LOW_ENERGY_DBUS: s.transport === "ble",
  };
}

export interface Manifest {
  board: string;
  boardName: string | null;
  boardFile: string;
  firmware: string;
  transport: string | null;
  port: string | null;
  baud: number;
  storageFile: StorageFile;
  storageCapacity: number;
  /** Bytes the firmware occupies in its slot: the pretokenised bundle, and its SHA-256 (the slot header's). */
  storedBytes: number;
  storedSha256: string;
  /** Bytes of the loader in Storage (pretokenised). */
  loaderBytes: number;
  /** The code area as the board's description says it: free flash, slots and blob region. */
  codeArea: { free: { start: number; end: number }; slots: number[]; slotBytes: number; blobs: number; blobBytes: number };
  /** Blobs written to the blob region (none: the region is left as it is), and the image's size and SHA-256. */
  blobs: { name: string; kind: "native" | "data"; bytes: number; from: string; sha256: string }[];
  blobImageBytes: number;
  blobImageSha256: string | null;
  /** SHA-256 of the native Ed25519 verifier the bundle calls and the upload installs; null: it verifies in JavaScript. */
  nativeVerifier: string | null;
  /** Files written to Storage before the loader: provisioning, configuration. */
  installed: { name: string; bytes: number; from: string; sha256: string }[];
  /** The code area as the box will use it: two slots, the blob region. */
  codeAreaBudget: Budget;
  /** Storage as the box will use it: loader, files, journals. */
  storageBudget: Budget;
  pretokenised: boolean;
  bundle: string;
  bundleBytes: number;
  bundleSha256: string;
  payload: string;
  payloadBytes: number;
  storageWrites: number;
  dryRun: boolean;
  espruinoTools: string;
  espruinoConfig: { [k: string]: unknown };
}

export interface Prepared {
  payload: string;
  manifest: Manifest;
  E: EspruinoGlobal;
  log: ToolsLog;
}

/**
 * Reads the bundle, checks it against the board, and lets EspruinoTools turn
 * it into the upload: its save-on-send transform (Storage writes + load()) and
 * its code writer's framing, captured where it would reach the serial port.
 */
export async function preparePayload(s: Settings): Promise<Prepared> {
  if (!fs.existsSync(s.bundle))
    throw new FlashError(
      s.bundleFromArgs
        ? `bundle ${rel(s.bundle)} not found`
        : `${rel(s.bundle)} not found: run npm run build first (it writes dist/keybox.js)`,
    );
  const board = loadBoard(s.board, s.boardFile);
  const pinProblems = checkPinMap(s.pins, board.pins.map((p) => p.name));
  if (pinProblems.length) throw new FlashError(`pin map in the config does not fit board ${s.board}:\n  ${pinProblems.join("\n  ")}`);
  const code = fs.readFileSync(s.bundle, "utf8");
  if (!code.trim()) throw new FlashError(`bundle ${rel(s.bundle)} is empty`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require("acorn").parse(code, { ecmaVersion: 5 });
  } catch (e) {
    throw new FlashError(`bundle ${rel(s.bundle)} is not ECMAScript 5 (${(e as Error).message}): rebuild it with npm run build`);
  }
  const version = parseVersion(board.info.binary_version);
  if (!version || (version[0] < 2 && version[1] < 96))
    throw new FlashError(`board file ${rel(s.boardFile)}: firmware ${board.info.binary_version} has no Storage (1v96 or later needed)`);
  const capacity = board.chip.saved_code.page_size * board.chip.saved_code.pages;
  const bytes = Buffer.byteLength(code, "utf8");

  const { E, log, cfg } = await toolsFor(s, board, version);

  const missing = requiredModules(E, code).filter((m) => board.info.builtin_modules.indexOf(m) < 0);
  if (missing.length)
    throw new FlashError(
      `the bundle requires ${missing.map((m) => JSON.stringify(m)).join(", ")}, not built into the ${s.board} firmware ` +
        `(built in: ${board.info.builtin_modules.join(", ")}). Bundle such code into dist/keybox.js; nothing is downloaded.`,
    );

  // What the slot will hold: EspruinoTools' own pretokeniser, the same call its transform makes.
  const stored = storedForm(E, code);
  for (const f of [s.loaderFile, s.installerFile])
    if (!fs.existsSync(f)) throw new FlashError(`${rel(f)} not found: run npm run build first (it writes the loader and the installer beside the firmware)`);
  const loaderCode = fs.readFileSync(s.loaderFile, "utf8");
  const loaderStored = storedForm(E, loaderCode);
  let inst: Installation;
  try {
    inst = readInstallation(s.install);
  } catch (e) {
    if (e instanceof InstallError) throw new FlashError(e.message);
    throw e;
  }
  const blobs = blobsFor(s, inst, code);
  const free = boardFree(board, s.boardFile);
  const areaBudget = codeAreaFor(s, stored.length, free, inst, blobs);
  const budget = budgetFor(s, loaderStored.length, capacity, inst);
  if (!areaBudget.fits || !budget.fits)
    throw new FlashError(
      `${rel(s.bundle)} (${bytes} bytes, ${stored.length} pretokenised) and the data the box keeps do not fit the ${s.board}:\n` +
        `Code area:\n${formatBudget(areaBudget)}\nStorage:\n${formatBudget(budget)}`,
    );
  const layout = layoutFor(free) as Exclude<ReturnType<typeof layoutFor>, string>;
  const image = blobs.length ? Buffer.concat(blobs.map((b) => Buffer.from(encodeBlob(b.kind === "native" ? BLOB_NATIVE : BLOB_DATA, b.name, b.data, sha256Bytes(b.data))))) : undefined;

  log.errors.length = 0;
  const loader = await new Promise<string>((resolve) => E.callProcessor("transformForEspruino", loaderCode, (c) => resolve(String(c))));
  if (log.errors.length) throw new FlashError(`EspruinoTools: ${log.errors.join("; ")}`, 1);
  // The code area first (its installer reports on the console), then the data files, written the way
  // EspruinoTools' own --storage does it, then the loader that load() starts.
  const files = inst.files.filter((f) => !isTable(f.name));
  const transformed =
    codeAreaScript(fs.readFileSync(s.installerFile, "utf8"), Buffer.from(stored, "latin1"), image) +
    files.map((f) => E.Core.Utils.getUploadFileCode(f.name, f.data) + "\n").join("") +
    loader;
  const payload = captureWrite(E, transformed);
  if (log.errors.length || payload === undefined)
    throw new FlashError(`EspruinoTools: ${log.errors.join("; ") || "produced no upload"}`, 1);

  const writes = payload.split(`require("Storage").write(${JSON.stringify(s.storageFile)},`).length - 1;
  if (writes < 1) throw new FlashError(`EspruinoTools did not write ${s.storageFile} to Storage (Save on Send ignored?)`, 1);
  const sha = (data: string | Buffer) => crypto.createHash("sha256").update(typeof data === "string" ? Buffer.from(data, "latin1") : data).digest("hex");
  const manifest: Manifest = {
    board: s.board,
    boardName: typeof board.info.name === "string" ? board.info.name : null,
    boardFile: rel(s.boardFile),
    firmware: board.info.binary_version,
    transport: s.transport || null,
    port: s.port || null,
    baud: s.baud,
    storageFile: s.storageFile,
    storageCapacity: capacity,
    storedBytes: stored.length,
    storedSha256: sha(stored),
    loaderBytes: loaderStored.length,
    codeArea: { free, slots: layout.slots, slotBytes: layout.slotBytes, blobs: layout.blobs, blobBytes: layout.blobBytes },
    blobs: blobs.map((b) => ({ name: b.name, kind: b.kind, bytes: b.data.length, from: rel(b.from), sha256: sha(Buffer.from(b.data)) })),
    blobImageBytes: image ? image.length : 0,
    blobImageSha256: image ? sha(image) : null,
    nativeVerifier: bundleNativeSha256(code) || null,
    installed: files.map((f) => ({
      name: f.name,
      bytes: f.data.length,
      from: rel(f.from),
      sha256: sha(f.data),
    })),
    codeAreaBudget: areaBudget,
    storageBudget: budget,
    pretokenised: stored !== code,
    bundle: rel(s.bundle),
    bundleBytes: bytes,
    bundleSha256: crypto.createHash("sha256").update(code, "utf8").digest("hex"),
    payload: rel(s.payloadFile),
    payloadBytes: Buffer.byteLength(payload, "latin1"),
    storageWrites: writes,
    dryRun: s.dryRun,
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    espruinoTools: require("espruino/package.json").version,
    espruinoConfig: cfg,
  };
  return { payload, manifest, E, log };
}

/** Bytes to the piece: small enough for the board's RAM as one line of base64 (1,368 characters). */
export const PIECE = 1024;

function sha256Bytes(d: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.createHash("sha256").update(d).digest());
}

function isTable(name: string): boolean {
  return /^edB$|^edK\d+$/.test(name);
}

interface BlobFile {
  name: string;
  kind: "native" | "data";
  data: Uint8Array;
  from: string;
}

/** The SHA-256 of the native verifier a bundle was built to call (its KEYBOX_BUILD prelude), or undefined when it calls none. */
export function bundleNativeSha256(code: string): string | undefined {
  const m = /^var KEYBOX_BUILD=.*?ed25519:\{sha256:"([0-9a-f]{64})"/.exec(code);
  return m ? m[1] : undefined;
}

/**
 * The native verifier that goes with the bundle, unless --blob names one:
 * dist/ed25519.bin, built now when missing or older than its sources (as
 * npm run build does), and only when its SHA-256 is the one the bundle was
 * built with (the firmware calls nothing else). A bundle built without the
 * verifier (no Arm compiler) gets none, and verifies in JavaScript.
 */
export function defaultBlobs(s: Settings, code: string): { name: string; file: string }[] {
  if (s.blobs.some((b) => b.name === ED25519_BLOB_NAME)) return s.blobs;
  const want = bundleNativeSha256(code);
  if (!want) return s.blobs;
  const built = currentBlob();
  if (!built)
    throw new FlashError(`${rel(s.bundle)} was built to call the native verifier, and ${rel(BLOB_FILE)} cannot be built here (no arm-none-eabi-gcc): install gcc-arm-none-eabi, or give the blob with --blob ${ED25519_BLOB_NAME}=FILE`);
  if (built.sha256 !== want)
    throw new FlashError(`${rel(BLOB_FILE)} (SHA-256 ${built.sha256}) is not the native verifier ${rel(s.bundle)} was built with (${want}): run npm run build`);
  return s.blobs.concat([{ name: ED25519_BLOB_NAME, file: BLOB_FILE }]);
}

/** The blob region's contents: the verifier's tables being installed (--tables), then the native blobs. */
function blobsFor(s: Settings, inst: Installation, code: string): BlobFile[] {
  const out: BlobFile[] = inst.files.filter((f) => isTable(f.name)).map((f) => ({ name: f.name, kind: "data" as const, data: new Uint8Array(Buffer.from(f.data, "latin1")), from: f.from }));
  const want = bundleNativeSha256(code);
  for (const b of defaultBlobs(s, code)) {
    if (!fs.existsSync(b.file)) throw new FlashError(`blob ${b.name}: ${rel(b.file)} not found`);
    if (out.some((o) => o.name === b.name)) throw new FlashError(`blob ${b.name}: the name is already taken by a verifier table`);
    const data = new Uint8Array(fs.readFileSync(b.file));
    if (!data.length) throw new FlashError(`blob ${b.name}: ${rel(b.file)} is empty`);
    const sha = crypto.createHash("sha256").update(data).digest("hex");
    if (b.name === ED25519_BLOB_NAME && want && sha !== want)
      throw new FlashError(`blob ${b.name}: ${rel(b.file)} (SHA-256 ${sha}) is not the native verifier ${rel(s.bundle)} was built with (${want}); the firmware would never call it`);
    out.push({ name: b.name, kind: "native", data, from: b.file });
  }
  return out;
}

/**
 * The JavaScript the upload runs first, one short line at a time: the
 * installer, then the firmware into a slot in PIECE-byte pieces with its
 * SHA-256 checked on the board before the header makes it bootable, then the
 * blob region likewise when there are blobs (else it is left as it is), then
 * done(), which prints "keybox install: OK" or why not.
 */
export function codeAreaScript(installer: string, firmware: Buffer, blobImage?: Buffer): string {
  const I = INSTALLER_GLOBAL;
  const lines = ["reset();", installer.trim()];
  const pieces = (data: Buffer, call: string) => {
    for (let at = 0; at < data.length; at += PIECE) lines.push(`${I}.${call}(${at},${JSON.stringify(data.subarray(at, at + PIECE).toString("base64"))});`);
  };
  const hash = (d: Buffer) => crypto.createHash("sha256").update(d).digest("hex");
  lines.push(`${I}.slot(${firmware.length});`);
  pieces(firmware, "put");
  lines.push(`${I}.commit(${firmware.length},${JSON.stringify(hash(firmware))});`);
  if (blobImage) {
    lines.push(`${I}.blobs(${blobImage.length});`);
    pieces(blobImage, "blobPut");
    lines.push(`${I}.blobCheck(${blobImage.length},${JSON.stringify(hash(blobImage))});`);
  }
  lines.push(`${I}.done();`);
  return lines.join("\n") + "\n";
}

/** The code area for this firmware: tables and blobs being installed as they are, the others as the storage plan expects them. */
export function codeAreaFor(s: Settings, storedBytes: number, free: { start: number; end: number }, inst: Installation = { files: [] }, blobs: BlobFile[] = []): Budget {
  return codeAreaBudget(
    {
      firmware: storedBytes,
      keys: inst.keys === undefined ? s.storage.issuerKeys : inst.keys,
      teeth: inst.teeth === undefined ? s.storage.tableTeeth : inst.teeth,
      // The native verifier decides grants: tables only when --tables installs them (the fallback's, for a board without it).
      tableFiles: inst.tableBytes || [],
      nativeBlobs: blobs.filter((b) => b.kind === "native").map((b) => b.data.length),
      free,
    },
    s.board,
  );
}

/** Storage for this loader: the files being installed as they are, the others at their allowance. */
export function budgetFor(s: Settings, loaderBytes: number, capacity: number, inst: Installation = { files: [] }): Budget {
  const size = (name: string): number | undefined => {
    for (const f of inst.files) if (f.name === name) return f.data.length;
    return undefined;
  };
  const settings = [SETTINGS_FILE, PROVISION_FILE].map((n, i) => {
    const b = size(n);
    return b === undefined ? SETTINGS_ALLOWANCE[i] : b;
  });
  return storageBudget({ loader: loaderBytes, settingsFiles: settings }, capacity, s.board);
}

/** EspruinoTools set up for this board and these settings, as an upload uses it. */
async function toolsFor(s: Settings, board: BoardJson, version: [number, number]) {
  const { E, log } = await loadTools(s.verbose);
  const cfg = toolsConfig(s, s.boardFile, canPretokenise(version));
  for (const k of Object.keys(cfg)) E.Config[k] = cfg[k];
  // The board description, exactly as EspruinoTools' --board FILE loads it.
  const env = E.Core.Env.getData();
  env.BOARD = s.board;
  for (const k of Object.keys(board)) env[k] = board[k];
  E.Core.Env.setFirmwareVersion(board.info.binary_version);
  return { E, log, cfg };
}

/**
 * Both areas of the configured board for the built firmware and loader,
 * whether or not they fit (npm run build prints it; the flasher refuses
 * what does not fit).
 */
export async function budgetReport(s: Settings): Promise<{ codeArea: Budget; storage: Budget; text: string }> {
  const board = loadBoard(s.board, s.boardFile);
  const version = parseVersion(board.info.binary_version);
  if (!version) throw new FlashError(`board file ${rel(s.boardFile)}: unreadable firmware version ${board.info.binary_version}`);
  if (!fs.existsSync(s.loaderFile)) throw new FlashError(`${rel(s.loaderFile)} not found: run npm run build first`);
  const { E } = await toolsFor(s, board, version);
  const code = fs.readFileSync(s.bundle, "utf8");
  const stored = storedForm(E, code);
  const loader = storedForm(E, fs.readFileSync(s.loaderFile, "utf8"));
  const free = boardFree(board, s.boardFile);
  const codeArea = codeAreaFor(s, stored.length, free, undefined, blobsFor(s, { files: [] }, code));
  const storage = budgetFor(s, loader.length, board.chip.saved_code.page_size * board.chip.saved_code.pages);
  const no = (b: Budget) => (b.fits ? "" : " (npm run flash refuses this)");
  const text = `Code area on the ${s.board}, from the top of the free flash down${no(codeArea)}:\n${formatBudget(codeArea)}\nStorage on the ${s.board}, what the owner installs${no(storage)}:\n${formatBudget(storage)}`;
  return { codeArea, storage, text };
}

/** Keyword tokens in code loaded from Storage: read by every 2v firmware (we require 2v00 or later). */
export function canPretokenise(v: [number, number]): boolean {
  return v[0] >= 2;
}

/** The bundle as it will sit in Storage (one char per byte): pretokenised when the config says so. */
export function storedForm(E: EspruinoGlobal, code: string): string {
  if (!E.Config.PRETOKENISE) return code;
  // Keywords only (see toolsConfig): the tokeniser picks raw strings/integers from this version.
  delete (E.Core.Env as unknown as { getBoardData(): { VERSION?: string } }).getBoardData().VERSION;
  const tok = (E as unknown as { Plugins: { Pretokenise?: { tokenise(c: string): string } } }).Plugins.Pretokenise;
  if (!tok) throw new FlashError("EspruinoTools has no pretokeniser (acorn missing?)", 1);
  return tok.tokenise(code);
}

/**
 * Runs EspruinoTools' code writer with the serial write and the prompt
 * handshake intercepted: what would go to the port is returned instead.
 * The writer is synchronous up to that write once the prompt is "found".
 */
function captureWrite(E: EspruinoGlobal, transformed: string): string | undefined {
  const serial = E.Core.Serial, utils = E.Core.Utils;
  const write = serial.write, prompt = utils.getEspruinoPrompt;
  let sent: string | undefined;
  serial.write = (data: string) => {
    if (sent === undefined) sent = data;
  };
  utils.getEspruinoPrompt = (cb) => cb();
  try {
    E.Core.CodeWriter.writeToEspruino(transformed, () => undefined);
  } finally {
    serial.write = write;
    utils.getEspruinoPrompt = prompt;
  }
  return sent;
}

/** Writes the payload (bytes as sent, one char per byte) and its manifest. */
export function writePayload(s: Settings, p: Prepared): void {
  fs.mkdirSync(path.dirname(s.payloadFile), { recursive: true });
  fs.writeFileSync(s.payloadFile, p.payload, "latin1");
  fs.writeFileSync(s.manifestFile, JSON.stringify(p.manifest, null, 2) + "\n");
}

// ---------------------------------------------------------------- upload

const SERIAL_DEVICES = ["Node Serial"];
const OPEN_HINT = {
  serial: "Is it the board's USB port (ls /dev/ttyACM* /dev/ttyUSB*), and free (no Web IDE or terminal holding it)?",
  ble: "Is the box advertising and in range, and is its console on BLE (development mode only)? On Linux, node needs cap_net_raw for BLE.",
};
const BLE_DEVICES = ["Noble Bluetooth LE", "Node-ble Bluetooth LE"];

function withTimeout<T>(what: string, ms: number, f: (resolve: Cb<T>, reject: Cb<Error>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new FlashError(`${what}: no answer within ${ms / 1000} s`, 1)), ms);
    f((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/** A missing serial device is named before anything else happens. */
function checkPort(s: Settings): void {
  const port = s.port as string;
  if (s.transport === "serial" && port.startsWith("/dev/") && !fs.existsSync(port))
    throw new FlashError(
      `serial port ${port} does not exist. Is the board on USB (the RAK5010 enables USB only when plugged in at power-up)? ` +
        `Pick the port with --port (ls /dev/ttyACM* /dev/ttyUSB*) or set "port" in espruino.config.json`,
    );
}

/**
 * Connects, checks the board is the build the config names and has the free
 * flash the code area needs, sends the payload, and reads the installer's
 * report: the slot, the firmware version and the SHA-256 read back.
 */
export async function upload(s: Settings, p: Prepared): Promise<string> {
  const { E } = p;
  const port = s.port as string;
  checkPort(s);
  // Only the chosen transport: no TCP, WebSocket or WebRTC "serial" devices.
  const keep = s.transport === "ble" ? BLE_DEVICES : SERIAL_DEVICES;
  const devices = E.Core.Serial.devices;
  for (let i = devices.length - 1; i >= 0; i--) if (keep.indexOf(devices[i].name) < 0) devices.splice(i, 1);
  if (!devices.length)
    throw new FlashError(
      s.transport === "ble"
        ? "no Bluetooth LE support: EspruinoTools needs @abandonware/noble or node-ble (optional dependencies of espruino)"
        : "no serial support: EspruinoTools needs the serialport package (an optional dependency of espruino)",
      1,
    );
  if (s.transport === "ble") E.Core.Utils.addRecognisedDeviceAddress(port);

  let output = "";
  let lastData = Date.now();
  E.Core.Serial.startListening((buf) => {
    const text = Buffer.from(new Uint8Array(buf)).toString("latin1");
    output += text;
    lastData = Date.now();
    if (s.verbose) process.stdout.write(text);
  });
  let disconnected = false;
  await withTimeout<void>(`opening ${port}`, s.transport === "ble" ? 30000 : 15000, (resolve, reject) =>
    E.Core.Serial.open(
      port,
      (status) =>
        status === undefined
          ? reject(new FlashError(`could not open ${port} (EspruinoTools: connection failed; run with --verbose). ${OPEN_HINT[s.transport || "serial"]}`, 1))
          : resolve(),
      () => { disconnected = true; },
    ),
  );
  try {
    const envText = await withTimeout<string | undefined>("reading process.env from the board", 20000, (resolve) =>
      E.Core.Utils.executeExpression("process.env", resolve),
    );
    let env: { BOARD?: string; VERSION?: string; CONSOLE?: string; MODULES?: string } = {};
    try {
      env = envText ? JSON.parse(envText) : {};
    } catch {
      env = {};
    }
    if (!env.BOARD || !env.VERSION)
      throw new FlashError(`no Espruino prompt on ${port}: is this the board's console (and not the modem's UART)?`, 1);
    if (env.BOARD !== s.board && !s.force)
      throw new FlashError(`the board on ${port} is ${env.BOARD}, the config targets ${s.board}: use --board ${env.BOARD} or --force`, 1);
    if (env.VERSION !== p.manifest.firmware && !s.force)
      throw new FlashError(
        `the board on ${port} runs Espruino ${env.VERSION}, not the ${s.board} build ${p.manifest.firmware} that ${p.manifest.boardFile} describes and the code area is laid out for: ` +
          `install that build over SWD first, or use --force`,
        1,
      );
    const freeText = await withTimeout<string | undefined>("reading the free flash from the board", 20000, (resolve) =>
      E.Core.Utils.executeExpression('require("Flash").getFree()', resolve),
    );
    let areas: { addr: number; length: number }[] | undefined;
    try {
      areas = freeText ? JSON.parse(freeText) : undefined;
    } catch {
      areas = undefined;
    }
    const layout = layoutFor(topFreeRange(areas));
    if (typeof layout === "string") throw new FlashError(`the board on ${port} has no room for the code area: ${layout}`, 1);
    const v = parseVersion(env.VERSION);
    if (!v || (v[0] < 2 && v[1] < 96)) throw new FlashError(`firmware ${env.VERSION} on the board has no Storage: update Espruino first`, 1);
    if (p.manifest.pretokenised && !canPretokenise(v))
      throw new FlashError(`firmware ${env.VERSION} on the board cannot read pretokenised code: update Espruino first`, 1);
    if (typeof env.MODULES === "string") {
      const have = env.MODULES.split(",");
      const lacking = requiredModules(E, fs.readFileSync(s.bundle, "utf8")).filter((m) => have.indexOf(m) < 0);
      if (lacking.length) throw new FlashError(`the firmware on the board lacks ${lacking.join(", ")}, which the bundle requires`, 1);
    }
    // Same rule as EspruinoTools' version checker: USB and BLE consoles take unthrottled writes.
    // (Its writer only calls back for data longer than one block, so tiny payloads stay throttled.)
    if ((env.CONSOLE === "USB" || env.CONSOLE === "Bluetooth") && p.payload.length > 512) E.Core.Serial.setSlowWrite(false);

    await withTimeout<void>("waiting for the prompt", 10000, (resolve) => E.Core.Utils.getEspruinoPrompt(() => resolve()));
    output = "";
    const sendMs = Math.max(60000, p.payload.length * 20);
    await withTimeout<void>("sending the payload", sendMs, (resolve) => E.Core.Serial.write(p.payload, true, () => resolve()));
    // Let the board answer the last Storage write and run load(); stop once it has been quiet for a while.
    await new Promise<void>((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (disconnected || Date.now() - lastData > 1500 || Date.now() - started > 20000) {
          clearInterval(poll);
          resolve();
        }
      }, 100);
    });
  } finally {
    if (E.Core.Serial.isConnected()) E.Core.Serial.close();
  }
  if (/Uncaught|ERROR|Not enough free space/i.test(output))
    throw new FlashError(`the board reported an error during the upload:\n${tail(output)}`, 1);
  return installReport(output, p.manifest);
}

/** What the installer said on the board, checked against what was sent: the slot line with the same SHA-256, then OK. */
export function installReport(output: string, m: Manifest): string {
  const said = output.replace(/\r/g, "").split("\n").map((l) => l.replace(/^[>\s]+/, "")).filter((l) => l.startsWith("keybox install: ")).map((l) => l.slice(16));
  const failed = said.filter((l) => l.startsWith("FAILED: "))[0];
  if (failed) throw new FlashError(`the board refused the installation: ${failed.slice(8)}. The firmware that ran before is still in its slot.`, 1);
  const slot = said.filter((l) => new RegExp(`^slot \\d holds firmware version \\d+, ${m.storedBytes} bytes, SHA-256 ${m.storedSha256} read back$`).test(l))[0];
  if (!slot || said[said.length - 1] !== "OK")
    throw new FlashError(`the board did not confirm the firmware's SHA-256 ${m.storedSha256} read back from its slot; it said:\n${said.join("\n") || tail(output)}`, 1);
  return slot;
}

function tail(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f]/g, "").split("\n").slice(-15).join("\n");
}

function rel(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith("..") && !path.isAbsolute(r) ? r : p;
}

// ---------------------------------------------------------------- main

export async function main(argv: string[]): Promise<number> {
  const attempts = installNetworkGuard();
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const s = resolveSettings(args);
  if (!s.dryRun && !s.port)
    throw new FlashError(
      'no port to flash to: set "port" in espruino.config.json (a serial port such as /dev/ttyACM0, or a BLE address ' +
        "aa:bb:cc:dd:ee:ff), or pass --port /dev/ttyACM0 or --ble aa:bb:cc:dd:ee:ff. --dry-run needs no port.",
    );
  if (!s.dryRun) checkPort(s);
  const p = await preparePayload(s);
  writePayload(s, p);
  const m = p.manifest;
  const what =
    `${m.payload} (${m.payloadBytes} bytes: the firmware into a code-area slot in ${Math.ceil(m.storedBytes / PIECE)} pieces` +
    (m.blobs.length ? `, ${m.blobs.length} blob${m.blobs.length === 1 ? "" : "s"}` : "") +
    `, ${m.storageWrites} Storage writes of the loader to ${m.storageFile}, load()) for ${m.board}, firmware ${m.firmware}`;
  if (s.dryRun) {
    process.stdout.write(`flash: dry run, no device touched. Upload payload: ${what}\n`);
    process.stdout.write(
      `flash: bundle ${m.bundle} ${m.bundleBytes} bytes, ${m.storedBytes} in its slot${m.pretokenised ? " (pretokenised)" : ""}; loader ${m.loaderBytes} bytes in Storage; manifest ${rel(s.manifestFile)}\n`,
    );
    if (m.blobs.length) process.stdout.write(`flash: blob region: ${m.blobs.map((b) => `${b.name} (${b.kind}, ${b.from}, ${b.bytes} bytes)`).join(", ")}\n`);
    if (!m.nativeVerifier)
      process.stdout.write(`flash: ${m.bundle} was built without the native verifier: the box verifies grants in JavaScript, seconds with --tables, minutes without\n`);
    if (m.installed.length)
      process.stdout.write(`flash: installs ${m.installed.map((f) => `${f.name} (${f.from}, ${f.bytes} bytes)`).join(", ")} in Storage before the loader\n`);
    process.stdout.write(`flash: the code area as the box will use it:\n${formatBudget(m.codeAreaBudget)}\n`);
    process.stdout.write(`flash: Storage as the box will use it:\n${formatBudget(m.storageBudget)}\n`);
  } else {
    process.stdout.write(`flash: uploading ${m.bundle} (${m.bundleBytes} bytes) to ${m.board} on ${s.port} via ${s.transport}\n`);
    const said = await upload(s, p);
    process.stdout.write(`flash: done. ${said}; the loader in ${m.storageFile} boots it at every boot. Payload sent: ${what}\n`);
  }
  if (attempts.length) throw new FlashError(`network access was attempted and blocked: ${attempts.join("; ")}`, 1);
  return 0;
}

/** The command line: runs main and turns every failure into a message and an exit code. */
export function cli(argv: string[]): void {
  const fail = (e: unknown) => {
    if (e instanceof FlashError) {
      process.stderr.write(`flash: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`flash: EspruinoTools failed: ${(e as Error)?.stack || String(e)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  main(argv).then((code) => process.exit(code), fail);
}

if (require.main === module) cli(process.argv.slice(2));
