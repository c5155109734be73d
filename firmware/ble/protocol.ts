import { GattLayout } from "../../hal";

/*
 * The BLE protocol between a driver's phone and the box: the one place it is
 * described. Everything here is public: nothing secret is advertised, read
 * or needed to talk; only a valid owner-signed grant changes anything.
 *
 * GATT: one primary service (LAYOUT.service) with three characteristics.
 * - info (read): byte 0 protocol version (1), byte 1 readiness (1 ready:
 *   it can take a request now, 3 busy: the latch is moving), byte 2 box id
 *   length n, bytes 3..3+n the box id (ASCII); nothing after it (earlier
 *   firmware put its version here: a reader takes what follows as a version).
 * - request (write without response): request frames from the phone.
 * - response (notify): response frames from the box.
 * Advertising: the name "Keybox <box id>" and manufacturer data 0xFFFF,
 * protocol version, readiness (see advertising.ts).
 *
 * Privacy: whoever is in range may read the advertising, the info
 * characteristic and STATE without a grant; all three say only the box id
 * and whether it can take a request now, never whether the box is open,
 * whether the key is inside, or the firmware version. A connection on which
 * a grant was granted gets the full state (latch, lid, key, version).
 *
 * Framing (framing.ts has the byte format): each message is split into
 * frames of at most 20 bytes with a 6-bit tag, a first frame that carries
 * the total length and a CRC-32, and numbered continuation frames. One
 * message at a time in each direction. A request must be complete within
 * 5 s of its first frame and may be at most 512 bytes.
 *
 * Messages: byte 0 is the type, the rest its body. ASCII text has no
 * terminator: it runs to the end of the message.
 *   phone -> box
 *   0x01 UNLOCK    body: grant length g (2 bytes, big-endian, >= 1), the g
 *                  grant bytes (as the issuer minted them), then either
 *                  nothing or a 64-byte holder proof: for a grant bound to a
 *                  holder key, that key's Ed25519 signature over the
 *                  grant codec's holder message with this connection's
 *                  challenge (firmware/grants/codec.ts holderMessage).
 *   0x02 LOCK      body: as UNLOCK
 *   0x03 STATE     no body
 *   0x04 CHALLENGE no body: asks for a fresh challenge. It is valid on this
 *                  connection for the next UNLOCK or LOCK only (used or not).
 *   box -> phone
 *   0x81 RESULT   byte 1 the request type answered, then the access
 *                 decision's reason code (ASCII): "granted", else
 *                 the refusal reason (e.g. "bad_signature", "expired";
 *                 "handler_error" when the box failed to decide).
 *   0x82 PROGRESS the latch state (ASCII: locked, unlocking, open, locking,
 *                 fault). After a granted UNLOCK or LOCK the box sends the
 *                 state at the decision, then every change while the
 *                 phone stays connected.
 *   0x83 STATE    JSON (ASCII): before a grant was granted on this
 *                 connection {"box":"<id>","ready":true|false}; after, the
 *                 box's full state {"latch":"locked","lid":...,"key":...,"v":...}
 *   0x84 CHALLENGE 16 random bytes.
 *   0x8F ERROR    bytes 1-4 retry-after in ms (big-endian; 0 when retrying
 *                 sooner does not help), then an error code (ASCII).
 *
 * Error codes (ERROR messages), in the order the box checks:
 *   frame_garbled, frame_truncated, frame_oversize, frame_overrun,
 *   frame_order, frame_interleaved, frame_checksum, frame_timeout:
 *                     a broken frame or message (framing.ts); the partial
 *                     message is discarded, the phone starts it again.
 *   link_unencrypted  the link is not encrypted with LE Secure Connections
 *                     (accepted only in development mode).
 *   rate_limited      too many requests on this connection (5 at once, then
 *                     1 per second), or, for UNLOCK/LOCK, the back-off after
 *                     failed grants: retry after the given time.
 *   msg_unknown       unknown message type.
 *   msg_malformed     known type with a wrong body (empty grant, a length
 *                     that disagrees with the body, body on STATE).
 *   no_challenge      a holder proof without a challenge asked for first.
 *   busy              a grant is already being checked.
 *   store_failed      the attempt could not be recorded in flash; the box
 *                     refuses rather than allow unrecorded attempts.
 *   too_many_errors   sent before the box drops a connection after 8
 *                     refusals or 3 failed grants.
 * Back-off (defaults; BleServiceConfig): box-wide, 2 failed grants in a row
 * are free, then the next grant waits 2 s, 4 s, 8 s ... at most 5 min; on one
 * connection every failed grant waits 2 s, 4 s, ... A granted request resets
 * both. The box-wide count is charged in flash before each check and
 * survives a reboot, which restarts the wait in full and never shortens it.
 * A connection with no complete, accepted request for 30 s is dropped.
 */

export const PROTOCOL_VERSION = 1;

/** 128-bit UUIDs (random, version 4), lower case as Espruino wants them. */
export const LAYOUT: GattLayout = {
  service: "6b657962-0001-4f78-9c1e-2a5d0c7b4e01",
  info: "6b657962-0002-4f78-9c1e-2a5d0c7b4e01",
  request: "6b657962-0003-4f78-9c1e-2a5d0c7b4e01",
  response: "6b657962-0004-4f78-9c1e-2a5d0c7b4e01",
};

export const MSG_UNLOCK = 0x01;
export const MSG_LOCK = 0x02;
export const MSG_STATE = 0x03;
export const MSG_CHALLENGE = 0x04;
export const MSG_RESULT = 0x81;
export const MSG_PROGRESS = 0x82;
export const MSG_STATE_REPLY = 0x83;
export const MSG_CHALLENGE_REPLY = 0x84;
export const CHALLENGE_BYTES = 16;
export const PROOF_BYTES = 64;
export const MSG_ERROR = 0x8f;

/** The access decision's reason code for a granted request. */
export const GRANTED = "granted";

/** Largest request message the box reassembles (type byte + grant). */
export const MAX_REQUEST = 512;
export const REASSEMBLY_TIMEOUT_MS = 5000;

export const ERR_UNKNOWN = "msg_unknown";
export const ERR_MALFORMED = "msg_malformed";
export const ERR_NO_CHALLENGE = "no_challenge";
export const ERR_UNENCRYPTED = "link_unencrypted";
export const ERR_RATE = "rate_limited";
export const ERR_BUSY = "busy";
export const ERR_STORE = "store_failed";
export const ERR_TOO_MANY = "too_many_errors";

/** What a passer-by may see: whether the box can take a request now. */
export type CoarseState = "ready" | "busy";

const COARSE_CODES: { [s: string]: number } = { ready: 1, busy: 3 };
const COARSE_NAMES = ["", "ready", "", "busy"];

export function coarseCode(state: CoarseState): number {
  return COARSE_CODES[state] || 3;
}

export function coarseName(code: number): string {
  return COARSE_NAMES[code] || "unknown";
}

/** Reduces a latch state to what may be advertised: ready when it stands still (whichever way), busy while it moves. */
export function coarseOf(latch: string): CoarseState {
  return latch === "unlocking" || latch === "locking" ? "busy" : "ready";
}

/** ASCII bytes of s (characters above 0x7E become '?': codes are ASCII by contract). */
export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c >= 0x20 && c < 0x7f ? c : 0x3f;
  }
  return out;
}

export function fromAscii(b: Uint8Array, start: number): string {
  let s = "";
  for (let i = start; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** A type byte followed by an ASCII text. */
export function textMessage(type: number, text: string): Uint8Array {
  const t = ascii(text);
  const m = new Uint8Array(1 + t.length);
  m[0] = type;
  m.set(t, 1);
  return m;
}

export function resultMessage(requestType: number, reason: string): Uint8Array {
  const t = ascii(reason);
  const m = new Uint8Array(2 + t.length);
  m[0] = MSG_RESULT;
  m[1] = requestType;
  m.set(t, 2);
  return m;
}

export function errorMessage(code: string, retryMs: number): Uint8Array {
  const t = ascii(code);
  const m = new Uint8Array(5 + t.length);
  const r = retryMs > 0 ? Math.min(0xffffffff, Math.ceil(retryMs)) : 0;
  m[0] = MSG_ERROR;
  m[1] = r >>> 24;
  m[2] = (r >>> 16) & 0xff;
  m[3] = (r >>> 8) & 0xff;
  m[4] = r & 0xff;
  m.set(t, 5);
  return m;
}

/** A request message: the type byte, then for UNLOCK/LOCK the grant's length, the grant and an optional holder proof. */
export function requestMessage(type: number, grant?: Uint8Array, proof?: Uint8Array): Uint8Array {
  if (!grant) return new Uint8Array([type]);
  const p = proof || new Uint8Array(0);
  const m = new Uint8Array(3 + grant.length + p.length);
  m[0] = type;
  m[1] = grant.length >> 8;
  m[2] = grant.length & 0xff;
  m.set(grant, 3);
  m.set(p, 3 + grant.length);
  return m;
}

/** Splits an UNLOCK/LOCK body; undefined when it is malformed. */
export function splitGrantRequest(m: Uint8Array): { grant: Uint8Array; proof: Uint8Array | undefined } | undefined {
  if (m.length < 4) return undefined;
  const g = (m[1] << 8) | m[2];
  const rest = m.length - 3 - g;
  if (g < 1 || (rest !== 0 && rest !== PROOF_BYTES)) return undefined;
  return { grant: m.subarray(3, 3 + g), proof: rest ? m.subarray(3 + g) : undefined };
}

export function infoValue(boxId: string, state: CoarseState): Uint8Array {
  const id = ascii(boxId);
  const out = new Uint8Array(3 + id.length);
  out[0] = PROTOCOL_VERSION;
  out[1] = coarseCode(state);
  out[2] = id.length;
  out.set(id, 3);
  return out;
}

export interface Info {
  protocol: number;
  state: string;
  boxId: string;
  version: string;
}

/** Parses the info characteristic; undefined when it is not this protocol's layout. */
export function parseInfo(b: Uint8Array): Info | undefined {
  if (!b || b.length < 3 || 3 + b[2] > b.length) return undefined;
  return {
    protocol: b[0],
    state: coarseName(b[1]),
    boxId: fromAscii(b.subarray(0, 3 + b[2]), 3),
    version: fromAscii(b, 3 + b[2]),
  };
}

/** A box-to-phone message, decoded for the client. */
export type Response =
  | { type: "result"; request: number; reason: string }
  | { type: "progress"; state: string }
  | { type: "state"; state: { [k: string]: unknown } }
  | { type: "challenge"; challenge: Uint8Array }
  | { type: "error"; code: string; retryMs: number }
  | { type: "invalid"; why: string };

/** Decodes a response message; never throws. */
export function parseResponse(m: Uint8Array): Response {
  if (!m || m.length < 1) return { type: "invalid", why: "empty" };
  switch (m[0]) {
    case MSG_RESULT:
      if (m.length < 3) return { type: "invalid", why: "short_result" };
      return { type: "result", request: m[1], reason: fromAscii(m, 2) };
    case MSG_PROGRESS:
      return { type: "progress", state: fromAscii(m, 1) };
    case MSG_STATE_REPLY: {
      let s: unknown;
      try {
        s = JSON.parse(fromAscii(m, 1));
      } catch (e) {
        return { type: "invalid", why: "state_json" };
      }
      if (!s || typeof s !== "object") return { type: "invalid", why: "state_json" };
      return { type: "state", state: s as { [k: string]: unknown } };
    }
    case MSG_CHALLENGE_REPLY:
      if (m.length !== 1 + CHALLENGE_BYTES) return { type: "invalid", why: "short_challenge" };
      return { type: "challenge", challenge: m.slice(1) };
    case MSG_ERROR:
      if (m.length < 6) return { type: "invalid", why: "short_error" };
      return { type: "error", retryMs: ((m[1] << 24) | (m[2] << 16) | (m[3] << 8) | m[4]) >>> 0, code: fromAscii(m, 5) };
    default:
      return { type: "invalid", why: "unknown_type" };
  }
}
