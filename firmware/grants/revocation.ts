import { isBytes } from "../store/bytes";
import { isBoxId, isGrantId, hexOf, putHex, prefixed } from "./codec";

/*
 * Signed revocation record, version 1 (what `keybox-issuer revoke` writes and
 * the owner's command channel carries to the box). Integers big-endian.
 *
 *   off    len  field
 *   0      1    version: 0x01
 *   1      1    kind: 1 = revoke one grant, 2 = revoke an issuer key
 *   2      1    n = box id length, 1..16
 *   3      n    box id, ASCII [A-Za-z0-9._-]
 *   3+n    8    kind 1: grant id (not all zeros); kind 2: six 0x00 then the key id (1..65535)
 *   11+n   4    kind 1: until, Unix seconds >= 2020-01-01: the revoked grant's not-after,
 *               after which the box may forget the revocation; kind 2: 0 (forever)
 *   15+n   2    signer key id: a provisioned issuer key (1..65535)
 *   17+n   64   Ed25519 signature by the signer over "keybox revoke v1" 0x00 || bytes 0..16+n
 *
 * 81 + n bytes; anything else (trailing bytes, other versions or kinds,
 * out-of-range fields) is refused before any cryptography. Applying the same
 * record twice changes nothing, so a replayed revocation is harmless.
 */

var DOMAIN = "keybox revoke v1\u0000";
var MIN_TIME = 1577836800;

export interface RevocationFields {
  boxId: string;
  /** Set for a grant revocation. */
  grantId?: string;
  /** Set for a key revocation. */
  keyId?: number;
  /** Grant revocations: when the box may forget it (the grant's not-after). */
  until: number;
  signerKeyId: number;
}

export interface Revocation extends RevocationFields {
  signature: Uint8Array;
  signed: Uint8Array;
}

export type RevocationResult = { ok: true; rev: Revocation } | { ok: false; reason: string };

function u16ok(v: number | undefined): boolean {
  return typeof v === "number" && Math.floor(v) === v && v >= 1 && v <= 65535;
}

export function checkRevocation(f: RevocationFields): string | undefined {
  if (!isBoxId(f.boxId)) return "box_id";
  if (!u16ok(f.signerKeyId)) return "key_id";
  if (f.grantId !== undefined) {
    if (f.keyId !== undefined || !isGrantId(f.grantId)) return "target";
    if (!(typeof f.until === "number" && Math.floor(f.until) === f.until && f.until >= MIN_TIME && f.until <= 0xffffffff)) return "until";
  } else {
    if (!u16ok(f.keyId)) return "target";
    if (f.until !== 0) return "until";
  }
  return undefined;
}

export function revocationBody(f: RevocationFields): Uint8Array {
  var why = checkRevocation(f);
  if (why) throw new Error("revocation_" + why);
  var n = f.boxId.length;
  var b = new Uint8Array(17 + n);
  b[0] = 1;
  b[1] = f.grantId !== undefined ? 1 : 2;
  b[2] = n;
  for (var i = 0; i < n; i++) b[3 + i] = f.boxId.charCodeAt(i);
  if (f.grantId !== undefined) putHex(b, 3 + n, f.grantId);
  else {
    b[9 + n] = f.keyId! >>> 8;
    b[10 + n] = f.keyId! & 0xff;
  }
  var u = f.until;
  b[11 + n] = (u >>> 24) & 0xff;
  b[12 + n] = (u >>> 16) & 0xff;
  b[13 + n] = (u >>> 8) & 0xff;
  b[14 + n] = u & 0xff;
  b[15 + n] = f.signerKeyId >>> 8;
  b[16 + n] = f.signerKeyId & 0xff;
  return b;
}

export function revocationMessage(body: Uint8Array): Uint8Array {
  return prefixed(DOMAIN, body);
}

export function encodeRevocation(f: RevocationFields, signature: Uint8Array): Uint8Array {
  if (!isBytes(signature) || signature.length !== 64) throw new Error("revocation_signature");
  var body = revocationBody(f);
  var out = new Uint8Array(body.length + 64);
  out.set(body, 0);
  out.set(signature, body.length);
  return out;
}

export function decodeRevocation(b: Uint8Array): RevocationResult {
  if (!isBytes(b) || b.length < 82 || b.length > 97) return { ok: false, reason: "revocation_length" };
  if (b[0] !== 1) return { ok: false, reason: "revocation_version" };
  var kind = b[1];
  var n = b[2];
  if (kind !== 1 && kind !== 2) return { ok: false, reason: "revocation_kind" };
  if (b.length !== 81 + n) return { ok: false, reason: "revocation_length" };
  var boxId = "";
  for (var i = 0; i < n; i++) boxId += String.fromCharCode(b[3 + i]);
  var f: RevocationFields = {
    boxId: boxId,
    until: ((b[11 + n] << 24) | (b[12 + n] << 16) | (b[13 + n] << 8) | b[14 + n]) >>> 0,
    signerKeyId: (b[15 + n] << 8) | b[16 + n],
  };
  if (kind === 1) f.grantId = hexOf(b, 3 + n, 11 + n);
  else {
    for (i = 3 + n; i < 9 + n; i++) if (b[i] !== 0) return { ok: false, reason: "revocation_target" };
    f.keyId = (b[9 + n] << 8) | b[10 + n];
  }
  var why = checkRevocation(f);
  if (why) return { ok: false, reason: "revocation_" + why };
  var r = f as Revocation;
  r.signature = b.slice(17 + n, 81 + n);
  r.signed = revocationMessage(b.subarray(0, 17 + n));
  return { ok: true, rev: r };
}
