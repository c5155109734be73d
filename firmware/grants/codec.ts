import { bytesKey, getU32be, isBytes, putU32be } from "../store/bytes";
import { keyIsSane } from "../crypto/keycheck";
/*
 * Grant format, version 1. Integers are big-endian.
 *
 *   off      len  field
 *   0        1    version: 0x01
 *   1        1    n = box id length, 1..16
 *   2        n    box id, ASCII [A-Za-z0-9._-] (the same rule as the box's config)
 *   2+n      8    grant id, any value but all zeros; use counts and revocations key on it
 *   10+n     2    issuer key id, 1..65535
 *   12+n     4    not-before, Unix seconds, >= 1577836800 (2020-01-01)
 *   16+n     4    not-after, Unix seconds, > not-before, at most 366 days later
 *   20+n     1    permissions: bit 0 unlock, bit 1 lock, bit 2 administer; other bits 0; not 0
 *   21+n     1    uses: 1..254 = that many uses (1 = single use), 255 = unlimited in the window, 0 invalid
 *   22+n     1    holder: 0 = anyone holding the grant, 1 = bound to the key that follows
 *   23+n     32   holder's Ed25519 public key (only when holder = 1): canonical,
 *                 not of small order (crypto/keycheck.ts)
 *   end-64   64   Ed25519 signature (R || S) by the issuer key over
 *                 "keybox grant v1" 0x00 || every byte above
 *
 * Size: 23 + n + 64 bytes, plus 32 with a holder: 96 bytes for a 9-character
 * box id, 135 at most (7 BLE packets of 20 bytes). Every field has exactly one
 * valid encoding and the length follows from bytes 1 and 22+n, so a grant has
 * one byte string: decodeGrant refuses trailing bytes, unknown versions,
 * out-of-range fields and oversize input before any cryptography, and the
 * verifier refuses non-canonical signatures (S >= L).
 *
 * A holder proof (for a bound grant) is the holder key's signature over
 * "keybox holder v1" 0x00 || n || box id || grant id (8) || challenge, where
 * the challenge is a fresh nonce the box gave the phone on this connection.
 */

export var GRANT_VERSION = 1;
export var GRANT_MAX_BYTES = 135;
export var MIN_TIME = 1577836800;
export var MAX_WINDOW_S = 366 * 86400;
export var PERM_UNLOCK = 1;
export var PERM_LOCK = 2;
export var PERM_ADMIN = 4;
export var USES_UNLIMITED = 255;

var GRANT_DOMAIN = "keybox grant v1\u0000";
var HOLDER_DOMAIN = "keybox holder v1\u0000";

export interface GrantFields {
  boxId: string;
  /** 16 lowercase hex digits. */
  grantId: string;
  keyId: number;
  notBefore: number;
  notAfter: number;
  /** PERM_* bits. */
  perms: number;
  /** 1..254, or USES_UNLIMITED. */
  uses: number;
  /** 32-byte Ed25519 public key of the only holder who may present it. */
  holder?: Uint8Array;
}

export interface Grant extends GrantFields {
  /** The id's 8 bytes as signed (a view into signed): a record about the grant copies them rather than parse its hex. */
  idBytes?: Uint8Array;
  signature: Uint8Array;
  /** The exact bytes the signature covers (domain prefix included). */
  signed: Uint8Array;
}

export type DecodeResult = { ok: true; grant: Grant } | { ok: false; reason: string };

export function isBoxId(s: string): boolean {
  return typeof s === "string" && s.length >= 1 && s.length <= 16 && /^[A-Za-z0-9._-]+$/.test(s);
}

/** 16 lowercase hex digits. (Espruino's regular expressions have no {n} quantifier: the length is checked apart.) */
export function isHex16(s: string): boolean {
  return typeof s === "string" && s.length === 16 && /^[0-9a-f]+$/.test(s);
}

export function isGrantId(s: string): boolean {
  return isHex16(s) && !isZeroId(s);
}

/** The all-zero id, which no grant has. */
function isZeroId(s: string): boolean {
  return s === "0000000000000000";
}

function isInt(v: number, lo: number, hi: number): boolean {
  return typeof v === "number" && Math.floor(v) === v && v >= lo && v <= hi;
}

/** Each domain prefix's bytes, made once: a grant's decode copies them rather than loop over the characters. */
var DOMAIN_BYTES: { [domain: string]: Uint8Array } = {};

/** The domain-separation prefix followed by body: what an issuer signs. */
export function prefixed(domain: string, body: Uint8Array): Uint8Array {
  var d = DOMAIN_BYTES[domain];
  if (!d) {
    d = new Uint8Array(domain.length);
    for (var i = 0; i < domain.length; i++) d[i] = domain.charCodeAt(i);
    DOMAIN_BYTES[domain] = d;
  }
  var out = new Uint8Array(domain.length + body.length);
  out.set(d, 0);
  out.set(body, domain.length);
  return out;
}

/** Lowercase hex of b[from..to), four bytes to a number where it can: on the board each loop turn costs as much as a conversion. */
export function hexOf(b: Uint8Array, from: number, to: number): string {
  var s = "";
  var i = from;
  for (; i + 4 <= to; i += 4) s += ("0000000" + getU32be(b, i).toString(16)).slice(-8);
  for (; i < to; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

/** The bytes a hex string spells (validated by the caller), eight digits at a time where it can. */
export function putHex(out: Uint8Array, at: number, hex: string): void {
  var n = hex.length >> 1;
  var i = 0;
  for (; i + 4 <= n; i += 4) putU32be(out, at + i, parseInt(hex.substr(i * 2, 8), 16));
  for (; i < n; i++) out[at + i] = parseInt(hex.substr(i * 2, 2), 16);
}

/** Why fields cannot be encoded, or undefined when they are in range. */
export function checkFields(f: GrantFields): string | undefined {
  if (!isBoxId(f.boxId)) return "box_id";
  if (!isGrantId(f.grantId)) return "grant_id";
  if (!isInt(f.keyId, 1, 65535)) return "key_id";
  if (!isInt(f.notBefore, MIN_TIME, 0xffffffff) || !isInt(f.notAfter, MIN_TIME, 0xffffffff)) return "time";
  if (!(f.notAfter > f.notBefore) || f.notAfter - f.notBefore > MAX_WINDOW_S) return "window";
  if (!isInt(f.perms, 1, 7)) return "perms";
  if (!isInt(f.uses, 1, 255)) return "uses";
  if (f.holder !== undefined && !keyIsSane(f.holder)) return "holder";
  return undefined;
}

/** The unsigned part of a grant (every byte before the signature). Throws on fields out of range. */
export function grantBody(f: GrantFields): Uint8Array {
  var bad = checkFields(f);
  if (bad) throw new Error("grant_" + bad);
  var n = f.boxId.length;
  var b = new Uint8Array(23 + n + (f.holder ? 32 : 0));
  b[0] = GRANT_VERSION;
  b[1] = n;
  for (var i = 0; i < n; i++) b[2 + i] = f.boxId.charCodeAt(i);
  putHex(b, 2 + n, f.grantId);
  b[10 + n] = f.keyId >>> 8;
  b[11 + n] = f.keyId & 0xff;
  putU32be(b, 12 + n, f.notBefore);
  putU32be(b, 16 + n, f.notAfter);
  b[20 + n] = f.perms;
  b[21 + n] = f.uses;
  b[22 + n] = f.holder ? 1 : 0;
  if (f.holder) b.set(f.holder, 23 + n);
  return b;
}

/** What the issuer signs for a grant body. */
export function grantMessage(body: Uint8Array): Uint8Array {
  return prefixed(GRANT_DOMAIN, body);
}

/** A complete grant: body || signature. */
export function encodeGrant(f: GrantFields, signature: Uint8Array): Uint8Array {
  if (!isBytes(signature) || signature.length !== 64) throw new Error("grant_signature");
  var body = grantBody(f);
  var out = new Uint8Array(body.length + 64);
  out.set(body, 0);
  out.set(signature, body.length);
  return out;
}

/**
 * The last grant decoded, its bytes' key (store/bytes.ts bytesKey), and
 * what it decoded to: one presentation decodes the same bytes several
 * times.
 */
var lastKey = "";
var lastResult: DecodeResult | undefined;

/**
 * Parses and range-checks a grant without any cryptography. The reason is
 * a code for people and logs (grant_length, grant_version, ...); the
 * decision reports all of them as "malformed". The same bytes as the last
 * call get the same (shared, never changed) result: on the board a decode
 * costs several times the comparison, and a presentation is screened,
 * looked up in the cache of verified grants and decided.
 */
export function decodeGrant(b: Uint8Array): DecodeResult {
  if (!isBytes(b) || b.length < 24 + 64 || b.length > GRANT_MAX_BYTES) return bad("grant_length");
  var key = bytesKey(b);
  if (key === lastKey) return lastResult as DecodeResult;
  var r = decodeFresh(b);
  lastKey = key;
  lastResult = r;
  return r;
}

/**
 * The same rules as checkFields, in its order, read straight from the bytes:
 * every field decoded here is a whole number in its width, so only the
 * ranges are left to check (a grant waits on this before the motor).
 */
function decodeFresh(b: Uint8Array): DecodeResult {
  if (b[0] !== GRANT_VERSION) return bad("grant_version");
  var n = b[1];
  if (n < 1 || n > 16 || b.length < 23 + n + 64) return bad("grant_box_id");
  var holderFlag = b[22 + n];
  if (holderFlag > 1) return bad("grant_holder");
  var end = 23 + n + (holderFlag ? 32 : 0);
  if (b.length !== end + 64) return bad("grant_length");
  var boxId = String.fromCharCode.apply(null, b.subarray(2, 2 + n) as unknown as number[]);
  if (!isBoxId(boxId)) return bad("grant_box_id");
  // eight bytes as sixteen lowercase hex digits, hex by construction: only the all-zero id is left to refuse
  var p = 2 + n;
  var grantId =
    (0x100000000 + (((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0)).toString(16).substr(1) +
    (0x100000000 + (((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0)).toString(16).substr(1);
  if (isZeroId(grantId)) return bad("grant_grant_id");
  var keyId = (b[10 + n] << 8) | b[11 + n];
  if (keyId === 0) return bad("grant_key_id");
  var notBefore = getU32be(b, 12 + n);
  var notAfter = getU32be(b, 16 + n);
  if (notBefore < MIN_TIME || notAfter < MIN_TIME) return bad("grant_time");
  if (!(notAfter > notBefore) || notAfter - notBefore > MAX_WINDOW_S) return bad("grant_window");
  var perms = b[20 + n];
  if (perms < 1 || perms > 7) return bad("grant_perms");
  var uses = b[21 + n];
  if (uses < 1) return bad("grant_uses");
  var holder = holderFlag ? b.slice(23 + n, end) : undefined;
  if (holder && !keyIsSane(holder)) return bad("grant_holder");
  // one copy holds the signed message (domain prefix, body) and the signature after it
  var signed = grantMessage(b);
  var g: Grant = {
    boxId: boxId,
    grantId: grantId,
    keyId: keyId,
    notBefore: notBefore,
    notAfter: notAfter,
    perms: perms,
    uses: uses,
    idBytes: signed.subarray(GRANT_DOMAIN.length + p, GRANT_DOMAIN.length + p + 8),
    signature: signed.subarray(GRANT_DOMAIN.length + end),
    signed: signed.subarray(0, GRANT_DOMAIN.length + end),
  };
  if (holder) g.holder = holder;
  return { ok: true, grant: g };
}

function bad(reason: string): DecodeResult {
  return { ok: false, reason: reason };
}

/** What a bound grant's holder signs to prove it is present on this connection. */
export function holderMessage(boxId: string, grantId: string, challenge: Uint8Array): Uint8Array {
  var n = boxId.length;
  var body = new Uint8Array(1 + n + 8 + challenge.length);
  body[0] = n;
  for (var i = 0; i < n; i++) body[1 + i] = boxId.charCodeAt(i) & 0xff;
  putHex(body, 1 + n, grantId);
  body.set(challenge, 9 + n);
  return prefixed(HOLDER_DOMAIN, body);
}
