import * as fs from "fs";
import { parseArgs } from "util";
import nacl from "tweetnacl";
import {
  GRANTED,
  MAX_REQUEST,
  MSG_CHALLENGE,
  MSG_LOCK,
  MSG_STATE,
  MSG_UNLOCK,
  parseInfo,
  PROOF_BYTES,
  PROTOCOL_VERSION,
  requestMessage,
} from "../../firmware/ble/protocol";
import { decodeGrant as parseGrant, holderMessage } from "../../firmware/grants/codec";
import { DEFAULT_BLE_HOST, DEFAULT_BLE_PORT } from "../ble/wire";
import { connectSocket, DriverLink, LinkError } from "./link";
import { connectNoble, loadNoble, NOBLE_PACKAGE } from "./noble";
import { DriverSession, Incoming } from "./session";
import { explainRefusal, RefusalContext } from "./refusals";
import { readHolderKey } from "./keyfile";
import { grantProblem } from "./check";

export { decodeKey } from "./keyfile";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_LINK = 3;
export const EXIT_NO_BLE = 4;

export const USAGE = `Usage: keybox-driver <unlock|lock|state|info> [options]

Talks to a key box as a delivery driver's phone would: presents a grant and
shows the access decision and the latch's progress.

  --grant FILE    the grant to present (unlock, lock): the issuer's output,
                  binary or base64 text; - reads it from stdin
  --format F     how the grant file is written: auto (default), binary, base64
  --holder-key FILE  for a grant bound to a holder: the holder's Ed25519 key
                  (the .key file \`npm run issuer -- keygen\` writes, or a 32-byte
                  seed or 64-byte secret key; binary, base64 or hex); the
                  client signs the box's challenge with it
  --host HOST     simulator host (default ${DEFAULT_BLE_HOST})
  --port PORT     simulator BLE bridge port (default ${DEFAULT_BLE_PORT})
  --no-pair       simulator only: skip the (simulated) LE Secure Connections
                  pairing, so the link stays unencrypted
  --no-check      send the grant file even when it is no grant, is for another
                  box or is outside its window (by default the tool says what
                  is wrong and sends nothing: such a try only spends attempts)
  --ble           a real box over Bluetooth (needs the optional ${NOBLE_PACKAGE})
  --box ID        with --ble: the box to look for (default: the first Keybox seen)
  --timeout SEC   give up after this many seconds without progress (default 20)
  -h, --help

Exit status: 0 done, 1 refused by the box, 2 usage or grant file error,
3 connection lost or timed out, 4 the Bluetooth library is missing.`;

export interface DriverIo {
  out(line: string): void;
  err(line: string): void;
  /** Reads stdin fully (for --grant -). */
  stdin?(): Buffer;
}

export interface DriverDeps {
  /** Loads the Node BLE library (tests replace it). */
  loadNoble?: typeof loadNoble;
}

/**
 * A grant file is the issuer's bytes, either raw or as base64 text (standard
 * or URL alphabet, whitespace ignored). Text that is only base64 characters is
 * decoded; anything else is taken as the raw grant.
 */
export function decodeGrant(data: Buffer, format: "auto" | "binary" | "base64" = "auto"): Uint8Array | string {
  if (data.length === 0) return "grant file is empty";
  if (format === "binary") return new Uint8Array(data);
  const text = data.toString("latin1").replace(/\s+/g, "");
  const isB64 = text.length > 0 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text);
  if (format === "base64" && !isB64) return "grant file is not valid base64";
  if (isB64) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (bytes.length === 0) return "grant file is not valid base64";
    return new Uint8Array(bytes);
  }
  return new Uint8Array(data);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      grant: { type: "string" },
      format: { type: "string" },
      "holder-key": { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "no-pair": { type: "boolean" },
      "no-check": { type: "boolean" },
      ble: { type: "boolean" },
      box: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** Runs one driver command; resolves to the process exit status. Never rejects. */
export async function run(argv: string[], io: DriverIo, deps: DriverDeps = {}): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    io.err((e as Error).message);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  const v = args.values;
  if (v.help) {
    io.out(USAGE);
    return EXIT_OK;
  }
  const command = args.positionals[0];
  if (args.positionals.length !== 1 || ["unlock", "lock", "state", "info"].indexOf(command) < 0) {
    io.err("expected one command: unlock, lock, state or info");
    io.err(USAGE);
    return EXIT_USAGE;
  }
  const timeoutMs = v.timeout === undefined ? 20000 : Number(v.timeout) * 1000;
  const port = v.port === undefined ? DEFAULT_BLE_PORT : Number(v.port);
  if (!(timeoutMs > 0) || !(port > 0 && port < 65536 && Math.floor(port) === port)) {
    io.err("--timeout and --port need positive numbers");
    return EXIT_USAGE;
  }

  let grant: Uint8Array | undefined;
  let holder: Holder | undefined;
  if (command === "unlock" || command === "lock") {
    if (v.grant === undefined) {
      io.err(command + " needs --grant FILE (mint one with: npm run issuer -- mint ...)");
      return EXIT_USAGE;
    }
    let raw: Buffer;
    try {
      raw = v.grant === "-" ? (io.stdin ? io.stdin() : fs.readFileSync(0)) : fs.readFileSync(v.grant);
    } catch (e) {
      io.err("cannot read grant file " + v.grant + ": " + (e as Error).message);
      return EXIT_USAGE;
    }
    const format = v.format === undefined ? "auto" : v.format;
    if (format !== "auto" && format !== "binary" && format !== "base64") {
      io.err("--format is auto, binary or base64");
      return EXIT_USAGE;
    }
    const g = decodeGrant(raw, format);
    if (typeof g === "string") {
      io.err(g + ": " + v.grant);
      return EXIT_USAGE;
    }
    if (g.length > MAX_REQUEST - 3 - PROOF_BYTES) {
      io.err("grant is " + g.length + " bytes; the box accepts at most " + (MAX_REQUEST - 3 - PROOF_BYTES));
      return EXIT_USAGE;
    }
    // checked here, not sent: a grant the box would refuse for its format, box or window spends attempts
    const problem = v["no-check"] ? undefined : grantProblem(g, { now: Date.now() / 1000, boxId: v.box });
    if (problem) {
      io.err("not sent: " + problem);
      return EXIT_USAGE;
    }
    grant = g;
    const parsed = parseGrant(g);
    if (v["holder-key"] !== undefined) {
      if (!parsed.ok) {
        io.err("cannot make a holder proof: the grant does not parse (" + parsed.reason + ")");
        return EXIT_USAGE;
      }
      let keyRaw: Buffer;
      try {
        keyRaw = fs.readFileSync(v["holder-key"]);
      } catch (e) {
        io.err("cannot read holder key " + v["holder-key"] + ": " + (e as Error).message);
        return EXIT_USAGE;
      }
      const key = readHolderKey(keyRaw);
      if (typeof key === "string") {
        io.err(key + ": " + v["holder-key"]);
        return EXIT_USAGE;
      }
      holder = { secretKey: key, boxId: parsed.grant.boxId, grantId: parsed.grant.grantId };
    } else if (parsed.ok && parsed.grant.holder) {
      io.err("warning: this grant is bound to a holder key; without --holder-key the box will refuse it");
    }
  }

  let link: DriverLink;
  try {
    if (v.ble) {
      const lib = (deps.loadNoble || loadNoble)();
      if ("missing" in lib) {
        io.err("Bluetooth is not available: the optional package " + NOBLE_PACKAGE + " is not installed.");
        io.err("Install it (npm install " + NOBLE_PACKAGE + ") or use the simulator without --ble.");
        return EXIT_NO_BLE;
      }
      if ("error" in lib) {
        io.err("Bluetooth is not available: " + NOBLE_PACKAGE + " is installed but cannot start: " + lib.error);
        io.err("It needs a Bluetooth adapter and permission to use it (see the package's README).");
        return EXIT_NO_BLE;
      }
      const noble = lib.noble;
      link = await connectNoble({ noble, boxId: v.box || "", timeoutMs, onStep: (s) => io.out("ble: " + s) });
    } else {
      const host = v.host === undefined ? DEFAULT_BLE_HOST : v.host;
      io.out("connecting to the simulator at " + host + ":" + port);
      link = await connectSocket({ host, port, pair: !v["no-pair"], timeoutMs });
    }
  } catch (e) {
    const le = e as LinkError;
    io.err("not connected: " + le.message);
    const why = explainRefusal(le.code);
    if (why !== le.code) io.err(why);
    return le.code === "radio_busy" ? EXIT_REFUSED : EXIT_LINK;
  }

  const session = new DriverSession(link);
  try {
    io.out("connected: " + link.describe);
    const info = link.info ? parseInfo(link.info) : undefined;
    const ctx: RefusalContext = { box: info ? info.boxId : undefined };
    if (grant) {
      const g = parseGrant(grant);
      if (g.ok) ctx.grantBox = g.grant.boxId;
    }
    if (info) {
      io.out("box: " + info.boxId + ", state " + info.state + (info.version ? ", firmware " + info.version : "") + ", protocol " + info.protocol);
      if (info.protocol !== PROTOCOL_VERSION) io.err("warning: the box speaks protocol " + info.protocol + ", this client " + PROTOCOL_VERSION);
    } else io.out("box: info characteristic unreadable");
    if (link.encrypted === true) io.out("encrypted: yes (LE Secure Connections" + (v.ble ? ")" : "; pairing is simulated)"));
    else if (link.encrypted === false) io.out("encrypted: no (the box refuses requests on this link outside development mode)");
    else io.out("encrypted: negotiated by the Bluetooth stack (the box refuses unencrypted links)");
    if (command === "info") return EXIT_OK;
    const wrongBox = grant && info && !v["no-check"] ? grantProblem(grant, { now: Date.now() / 1000, boxId: info.boxId }) : undefined;
    if (wrongBox) {
      io.err("not sent: " + wrongBox);
      return EXIT_USAGE;
    }
    if (command === "state") return await readState(session, io, timeoutMs, ctx);
    return await present(session, io, command as "unlock" | "lock", grant as Uint8Array, holder, timeoutMs, ctx);
  } finally {
    session.close();
  }
}

function linkProblem(m: Incoming, io: DriverIo): number {
  if (m.type === "closed") io.err("link lost: " + m.reason);
  else if (m.type === "timeout") io.err("timed out waiting for the box");
  else if (m.type === "frame_error") io.err("garbled answer from the box: " + m.code);
  else io.err("unexpected answer from the box: " + JSON.stringify(m));
  return EXIT_LINK;
}

function refused(code: string, retryMs: number, io: DriverIo, ctx: RefusalContext): number {
  const retryS = retryMs > 0 ? Math.ceil(retryMs / 1000) : undefined;
  io.err("refused: " + code + (retryS ? " (retry in " + retryS + " s)" : ""));
  const why = explainRefusal(code, Object.assign({}, ctx, { retryS }));
  if (why !== code) io.err("  " + why.slice(code.length + 2));
  return EXIT_REFUSED;
}

async function readState(session: DriverSession, io: DriverIo, timeoutMs: number, ctx: RefusalContext): Promise<number> {
  session.send(requestMessage(MSG_STATE));
  io.out("sent: state request");
  const m = await session.next(timeoutMs);
  if (m.type === "state") {
    io.out("state: " + JSON.stringify(m.state));
    return EXIT_OK;
  }
  if (m.type === "error") return refused(m.code, m.retryMs, io, ctx);
  return linkProblem(m, io);
}

interface Holder {
  secretKey: Uint8Array;
  boxId: string;
  grantId: string;
}

async function present(
  session: DriverSession,
  io: DriverIo,
  kind: "unlock" | "lock",
  grant: Uint8Array,
  holder: Holder | undefined,
  timeoutMs: number,
  ctx: RefusalContext,
): Promise<number> {
  let proof: Uint8Array | undefined;
  if (holder) {
    session.send(requestMessage(MSG_CHALLENGE));
    const c = await session.next(timeoutMs);
    if (c.type === "error") return refused(c.code, c.retryMs, io, ctx);
    if (c.type !== "challenge") return linkProblem(c, io);
    proof = nacl.sign.detached(holderMessage(holder.boxId, holder.grantId, c.challenge), holder.secretKey);
    io.out("holder proof: signed the box's challenge with the holder key");
  }
  const frames = session.send(requestMessage(kind === "unlock" ? MSG_UNLOCK : MSG_LOCK, grant, proof));
  io.out("sent: " + kind + " request with a " + grant.length + "-byte grant" + (proof ? " and a holder proof" : "") + " in " + frames + " frames");
  const goal = kind === "unlock" ? "open" : "locked";
  const moving = kind === "unlock" ? "unlocking" : "locking";
  let decided = false;
  let moved = false;
  for (;;) {
    const m = await session.next(timeoutMs);
    if (m.type === "error") return refused(m.code, m.retryMs, io, ctx);
    if (m.type === "result") {
      if (m.reason !== GRANTED) {
        io.out("decision: " + m.reason);
        return refused(m.reason, 0, io, ctx);
      }
      io.out("decision: " + m.reason);
      decided = true;
      continue;
    }
    if (m.type === "progress" && decided) {
      io.out("latch: " + m.state);
      if (m.state === goal) {
        io.out("done: the box is " + goal);
        return EXIT_OK;
      }
      if (m.state === "fault") {
        io.err("failed: the latch reports a fault; " + explainRefusal("fault").slice(7));
        return EXIT_REFUSED;
      }
      if (m.state === moving) moved = true;
      else if (moved) {
        io.err("failed: the latch went back to " + m.state);
        return EXIT_REFUSED;
      }
      continue;
    }
    if (m.type === "closed" && decided) {
      io.err("link lost after the decision (" + m.reason + "): the box acts on the grant anyway");
      return EXIT_LINK;
    }
    return linkProblem(m, io);
  }
}
