import { readFileSync } from "fs";
import nacl from "tweetnacl";

/** A bad input the user can fix: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const KEY_FORMAT = "keybox-issuer-key/1";
export const PUB_FORMAT = "keybox-issuer-pub/1";

export interface KeyFile {
  id: number;
  publicKey: Uint8Array;
  /** 64-byte tweetnacl secret key; absent in a .pub file. */
  secretKey?: Uint8Array;
}

const L = (1n << 252n) + 27742317777372353535851937790883648493n;

/** tweetnacl verification plus RFC 8032's S < L rule, which tweetnacl omits: as strict as the box. */
export function strictVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]);
  if (s >= L) return false;
  return nacl.sign.detached.verify(message, signature, publicKey);
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code || (e as Error).message}`);
  }
}

function hexBytes(s: unknown, n: number, what: string): Uint8Array {
  if (typeof s !== "string" || !new RegExp(`^[0-9a-fA-F]{${2 * n}}$`).test(s)) throw new UsageError(`${what}: expected ${2 * n} hex digits`);
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Reads a key file written by keygen: the secret .key or the public .pub. */
export function readKeyFile(path: string, needSecret: boolean): KeyFile {
  return parseKeyFile(readText(path, "key file"), path, needSecret);
}

/** A key file's text (JSON, KEY_FORMAT or PUB_FORMAT); path only names it in errors. */
export function parseKeyFile(text: string, path: string, needSecret: boolean): KeyFile {
  let j: { format?: unknown; id?: unknown; publicKey?: unknown; secretKey?: unknown };
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not a key file (not JSON)`);
  }
  if (!j || (j.format !== KEY_FORMAT && j.format !== PUB_FORMAT)) throw new UsageError(`${path} is not a keybox issuer key file`);
  const id = j.id;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > 65535) throw new UsageError(`${path}: key id must be 1..65535`);
  const publicKey = hexBytes(j.publicKey, 32, `${path} publicKey`);
  if (j.format === PUB_FORMAT) {
    if (needSecret) throw new UsageError(`${path} is a public key; signing needs the secret .key file`);
    return { id, publicKey };
  }
  const secretKey = hexBytes(j.secretKey, 64, `${path} secretKey`);
  const derived = nacl.sign.keyPair.fromSecretKey(secretKey).publicKey;
  if (!Buffer.from(derived).equals(Buffer.from(publicKey))) throw new UsageError(`${path}: secret and public key do not match`);
  return { id, publicKey, secretKey };
}

/** Grant or revocation bytes from a file (raw, or base64 text) or from a base64 argument. */
export function readBlob(arg: string): Uint8Array {
  let data: Buffer;
  try {
    data = readFileSync(arg);
  } catch (e) {
    const text = arg.replace(/\s+/g, "");
    if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && text.length >= 16) return fromBase64(text);
    throw new UsageError(`cannot read ${arg}: not a file, and not base64`);
  }
  if (data.length === 0) throw new UsageError(`${arg} is empty`);
  const text = data.toString("latin1").replace(/\s+/g, "");
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return fromBase64(text);
  return new Uint8Array(data);
}

function fromBase64(text: string): Uint8Array {
  const b = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  if (b.length === 0) throw new UsageError("not valid base64");
  return new Uint8Array(b);
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "90", "90s", "30m", "2h", "1d", "1w" in seconds. */
export function parseDuration(s: string, what: string): number {
  const m = /^(\d+)([smhdw]?)$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: expected a duration like 30m, 2h or 1d, got "${s}"`);
  return Number(m[1]) * UNITS[m[2] || "s"];
}

/** "now", "+2h" (from now), Unix seconds, or an ISO 8601 date with a time zone. */
export function parseTime(s: string, now: number, what: string): number {
  const t = s.trim();
  if (t === "now") return now;
  if (/^[+-]/.test(t)) {
    const d = parseDuration(t.slice(1), what);
    return t[0] === "+" ? now + d : now - d;
  }
  if (/^\d+$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  throw new UsageError(`${what}: expected now, +DURATION, Unix seconds or an ISO time with zone (2026-05-01T09:00:00Z), got "${s}"`);
}

export function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}
