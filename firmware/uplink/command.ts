import { utf8Encode } from "../mqtt/codec";
import { hexOf, isHex16, putHex } from "../grants/codec";
import { getU32be, putU32be } from "../store/bytes";
import { TimeState } from "../time/wallclock";
import { RecordLog } from "./outbox";

export type CommandKind = "grant" | "revoke" | "unlock" | "config" | "time";

const KINDS: CommandKind[] = ["grant", "revoke", "unlock", "config", "time"];

/** Signed-message prefix: a command signature can never pass as a grant's, nor the reverse. */
export const COMMAND_DOMAIN = "keybox cmd v1\u0000";
export const COMMAND_VERSION = 1;
const SIG = 64;
const MAX_ARG = 1024;

export interface Command {
  kind: CommandKind;
  keyId: number;
  boxId: string;
  /** 8 random bytes chosen by the owner, as 16 lowercase hex digits. */
  id: string;
  /** Unix seconds after which the command does nothing. */
  expiry: number;
  /**
   * grant: the grant token bytes; revoke: an 8-byte grant id then u32
   * "until" (the grant's not-after: how long the revocation must be kept),
   * or a 2-byte issuer key id to revoke a key for good; unlock: empty;
   * config: UTF-8 JSON object; time: u32 Unix seconds (big-endian).
   */
  arg: Uint8Array;
}

/**
 * A command on the wire (the payload of kb/<box>/cmd), integers big-endian:
 *   0      u8   version (1)
 *   1      u8   kind: 1 grant, 2 revoke, 3 unlock, 4 config, 5 time
 *   2      u16  issuer key id (1..65535, as in grants)
 *   4      u8   n = box id length (1..16), then n printable ASCII bytes
 *   5+n    8    command id (random, unique per command)
 *   13+n   u32  expiry, Unix seconds
 *   17+n   u16  a = argument length (0..1024), then a argument bytes
 *   19+n+a 64   Ed25519 signature by the issuer key over
 *               "keybox cmd v1" 0x00 || bytes 0 .. 19+n+a-1
 * Nothing may follow the signature. The domain prefix keeps command and
 * grant signatures apart even though the same issuer keys sign both
 * (grants sign under "keybox grant v1" 0x00).
 */
export function encodeCommandBody(c: Command): Uint8Array | string {
  const kind = KINDS.indexOf(c.kind) + 1;
  if (kind < 1) return "cmd_kind";
  const box = utf8Encode(c.boxId);
  if (box.length < 1 || box.length > 16 || box.length !== c.boxId.length) return "cmd_box_len";
  if (!(c.keyId >= 1 && c.keyId <= 65535) || c.keyId % 1) return "cmd_key";
  if (!isHex16(c.id)) return "cmd_id";
  if (!(c.expiry >= 0 && c.expiry <= 0xffffffff)) return "cmd_expiry";
  if (c.arg.length > MAX_ARG) return "cmd_arg";
  const n = box.length;
  const out = new Uint8Array(19 + n + c.arg.length);
  out[0] = COMMAND_VERSION;
  out[1] = kind;
  out[2] = c.keyId >> 8;
  out[3] = c.keyId & 255;
  out[4] = n;
  out.set(box, 5);
  for (let i = 0; i < 8; i++) out[5 + n + i] = parseInt(c.id.substr(i * 2, 2), 16);
  const e = c.expiry;
  out[13 + n] = (e >>> 24) & 255;
  out[14 + n] = (e >>> 16) & 255;
  out[15 + n] = (e >>> 8) & 255;
  out[16 + n] = e & 255;
  out[17 + n] = c.arg.length >> 8;
  out[18 + n] = c.arg.length & 255;
  out.set(c.arg, 19 + n);
  return out;
}

/** The exact bytes the issuer signs for a command body. */
export function signedMessage(body: Uint8Array): Uint8Array {
  const d = utf8Encode(COMMAND_DOMAIN);
  const m = new Uint8Array(d.length + body.length);
  m.set(d, 0);
  m.set(body, d.length);
  return m;
}

export interface ParsedCommand {
  cmd: Command;
  body: Uint8Array;
  sig: Uint8Array;
}

/** Parses the wire form; an error code for anything malformed. No cryptography here. */
export function decodeCommand(b: Uint8Array): ParsedCommand | string {
  if (b.length < 5) return "cmd_short";
  if (b[0] !== COMMAND_VERSION) return "cmd_version";
  if (b[1] < 1 || b[1] > KINDS.length) return "cmd_kind";
  const keyId = (b[2] << 8) | b[3];
  if (keyId === 0) return "cmd_key";
  const n = b[4];
  if (n < 1 || n > 16) return "cmd_box_len";
  if (b.length < 19 + n + SIG) return "cmd_short";
  const a = (b[17 + n] << 8) | b[18 + n];
  if (a > MAX_ARG) return "cmd_arg";
  if (b.length < 19 + n + a + SIG) return "cmd_short";
  if (b.length > 19 + n + a + SIG) return "cmd_trailing";
  let box = "";
  for (let i = 0; i < n; i++) {
    const c = b[5 + i];
    if (c < 0x21 || c > 0x7e) return "cmd_box";
    box += String.fromCharCode(c);
  }
  let id = "";
  for (let i = 0; i < 8; i++) {
    const x = b[5 + n + i];
    id += (x < 16 ? "0" : "") + x.toString(16);
  }
  const expiry = ((b[13 + n] << 24) >>> 0) + (b[14 + n] << 16) + (b[15 + n] << 8) + b[16 + n];
  const kind = KINDS[b[1] - 1];
  const arg = b.slice(19 + n, 19 + n + a);
  if (kind === "time" && a !== 4) return "cmd_arg";
  if (kind === "unlock" && a !== 0) return "cmd_arg";
  if (kind === "revoke" && a !== 12 && a !== 2) return "cmd_arg";
  if (kind === "grant" && a === 0) return "cmd_arg";
  return {
    cmd: { kind: kind, keyId: keyId, boxId: box, id: id, expiry: expiry, arg: arg },
    body: b.slice(0, 19 + n + a),
    sig: b.slice(19 + n + a),
  };
}

/**
 * The id and kind a command's first bytes name, unverified: enough to
 * answer a command that cannot be read whole (too large for the box) with
 * its own id. Empty strings where the bytes do not say.
 */
export function commandHead(b: Uint8Array): { id: string; kind: string } {
  const out = { id: "", kind: "" };
  if (b.length < 5 || b[0] !== COMMAND_VERSION) return out;
  if (b[1] >= 1 && b[1] <= KINDS.length) out.kind = KINDS[b[1] - 1];
  const n = b[4];
  if (n < 1 || n > 16 || b.length < 13 + n) return out;
  for (let i = 0; i < 8; i++) {
    const x = b[5 + n + i];
    out.id += (x < 16 ? "0" : "") + x.toString(16);
  }
  return out;
}

/** What a "revoke" command names: a grant (16 hex digits, kept until `until`) or an issuer key. */
export function revokeTarget(c: Command): { grantId: string; until: number } | { keyId: number } {
  const a = c.arg;
  if (a.length === 2) return { keyId: (a[0] << 8) | a[1] };
  let id = "";
  for (let i = 0; i < 8; i++) id += (a[i] < 16 ? "0" : "") + a[i].toString(16);
  return { grantId: id, until: ((a[8] << 24) >>> 0) + (a[9] << 16) + (a[10] << 8) + a[11] };
}

/** The time a "time" command carries. */
export function commandTime(c: Command): number {
  return ((c.arg[0] << 24) >>> 0) + (c.arg[1] << 16) + (c.arg[2] << 8) + c.arg[3];
}

export interface CommandGuardOptions {
  boxId: string;
  verify: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;
  issuerKey: (keyId: number) => Uint8Array | undefined;
  time: () => TimeState;
  /** Durable set of executed command ids (firmware/store/journal.ts). */
  log: RecordLog;
  /** Longest accepted lifetime: a command expiring later than now + maxTtlS is refused (default 1 day). */
  maxTtlS?: number;
  /** Most remembered unexpired ids (default 32); when full, new commands are refused, never forgotten. */
  maxIds?: number;
}

interface Seen {
  id: string;
  expiry: number;
}

/**
 * Decides whether a command may run: well-formed, for this box, signed by a
 * provisioned issuer key, not expired, not too far in the future, and never
 * seen before. The id is made durable BEFORE the effect runs, so a power cut
 * mid-command can lose the command but can never run it twice (a remote
 * unlock must be at most once). Remembered ids are records of the 8 id bytes
 * then the expiry as u32 big-endian, pruned once expired.
 */
export class CommandGuard {
  private readonly o: CommandGuardOptions;
  private readonly ttl: number;
  private readonly max: number;
  private seen: Seen[] = [];

  constructor(options: CommandGuardOptions) {
    if (!options || !options.log || typeof options.verify !== "function" || typeof options.issuerKey !== "function") throw new Error("cmd_options");
    this.o = options;
    this.ttl = options.maxTtlS === undefined ? 86400 : options.maxTtlS;
    this.max = options.maxIds === undefined ? 32 : options.maxIds;
    const recs = options.log.records();
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r.length !== 12) continue;
      this.seen.push({ id: hexOf(r, 0, 8), expiry: getU32be(r, 8) });
    }
  }

  /**
   * Checks a received payload. Returns the command once its id is durably
   * recorded (the caller then runs it), or a refusal code; `id` is filled
   * whenever the payload was parseable, for the reply.
   */
  admit(payload: Uint8Array, out: { id: string }): Command | string {
    const p = decodeCommand(payload);
    if (typeof p === "string") return p;
    const c = p.cmd;
    out.id = c.id;
    if (c.boxId !== this.o.boxId) return "cmd_box";
    const pk = this.o.issuerKey(c.keyId);
    if (!pk) return "cmd_key";
    let ok = false;
    try {
      ok = this.o.verify(p.sig, signedMessage(p.body), pk) === true;
    } catch (e) {
      ok = false;
    }
    if (!ok) return "cmd_signature";
    const t = this.o.time();
    if (t.known) {
      if (c.expiry <= t.now) return "cmd_expired";
      if (c.expiry > t.now + this.ttl) return "cmd_ttl";
    } else if (c.kind === "time") {
      // the clock is unknown: a time command is judged against the time it carries
      const ct = commandTime(c);
      if (c.expiry <= ct || c.expiry > ct + this.ttl) return "cmd_ttl";
    } else return "cmd_clock_unknown";
    for (let i = 0; i < this.seen.length; i++) if (this.seen[i].id === c.id) return "cmd_replay";
    const now = t.known ? t.now : commandTime(c);
    return this.remember(c, now) ? c : "cmd_replay_store";
  }

  private remember(c: Command, now: number): boolean {
    const live: Seen[] = [];
    for (let i = 0; i < this.seen.length; i++) if (this.seen[i].expiry > now) live.push(this.seen[i]);
    if (live.length >= this.max) return false;
    live.push({ id: c.id, expiry: c.expiry });
    // Expired ids are dropped in RAM; the journal is rewritten with the live ones only when it is full.
    let ok = this.o.log.append(idRecord(c.id, c.expiry));
    if (!ok) {
      const recs: Uint8Array[] = [];
      for (let i = 0; i < live.length; i++) recs.push(idRecord(live[i].id, live[i].expiry));
      ok = this.o.log.rewrite(recs);
    }
    if (ok) this.seen = live;
    return ok;
  }
}

function idRecord(id: string, expiry: number): Uint8Array {
  const r = new Uint8Array(12);
  putHex(r, 0, id);
  putU32be(r, 8, expiry);
  return r;
}
