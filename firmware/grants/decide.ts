import { isBytes } from "../store/bytes";
import { decodeGrant, Grant, holderMessage, MIN_TIME, PERM_ADMIN, PERM_LOCK, PERM_UNLOCK, USES_UNLIMITED } from "./codec";

/** Ed25519 verification, strict RFC 8032 (firmware/crypto/ed25519.ts, or a cache in front of it). */
export type Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

export type Action = "unlock" | "lock" | "admin";

export type Refusal =
  | "malformed"
  | "unknown_key"
  | "bad_signature"
  | "wrong_box"
  | "not_yet_valid"
  | "expired"
  | "revoked"
  | "used_up"
  | "clock_unknown"
  | "permission"
  | "holder_mismatch";

/**
 * The wall clock as the time service vouches for it. known is false until
 * the RTC has been set from the network or a signed command since the last
 * cold boot; now is Unix seconds (fractional is fine).
 */
export interface ClockState {
  known: boolean;
  now: number;
}

/** What the box has stored: read-only lookups, so deciding changes nothing. */
export interface GrantState {
  issuerKey(keyId: number): Uint8Array | undefined;
  keyRevoked(keyId: number): boolean;
  /** Revoked by id, or by a watermark over not-after (grants/store.ts REVW). */
  grantRevoked(grantId: string, notAfter: number): boolean;
  /** Uses already spent on this grant id. */
  usesOf(grantId: string): number;
}

/** A bound grant's holder signs holderMessage(boxId, grantId, challenge) with its key. */
export interface HolderProof {
  challenge: Uint8Array;
  signature: Uint8Array;
}

export interface DecideInput {
  grant: Uint8Array;
  boxId: string;
  state: GrantState;
  clock: ClockState;
  action: Action;
  holder?: HolderProof;
  verify: Verify;
  /**
   * These bytes passed screen() a moment ago, in the same synchronous call
   * (the radio screens to decide what a request costs, then asks for the
   * decision): nothing that screen reads can have changed since, so decide
   * goes straight to the signature. Only ever set by the caller that
   * screened; the signature and every check after it run as always.
   */
  screened?: boolean;
}

export type Decision =
  | { ok: true; grant: Grant; consumes: boolean }
  | { ok: false; reason: Refusal; grant?: Grant; detail?: string };

/**
 * Clock tolerance: a grant is accepted from not-before - 120 s through
 * not-after + 120 s inclusive. The RTC drifts by tens of ppm (seconds per
 * day) between syncs and a phone's clock is rarely more than a minute off,
 * so two minutes absorbs both without stretching a delivery window much.
 */
export var CLOCK_TOLERANCE_S = 120;

var PERM_OF: { [a: string]: number } = { unlock: PERM_UNLOCK, lock: PERM_LOCK, admin: PERM_ADMIN };

/**
 * Decides whether grant bytes allow action now. Pure: nothing is written;
 * the caller records the use (when consumes) before acting on ok.
 *
 * Order of checks, first failure wins. First the cheap ones (screen(): no
 * cryptography, so refusing junk costs the box nothing): structure
 * (malformed), issuer key revoked (revoked) or not provisioned
 * (unknown_key), box id (wrong_box), grant revoked (revoked), clock
 * (clock_unknown), window (not_yet_valid, expired). Then the signature
 * (bad_signature), and on authenticated content only: permission, uses
 * (used_up), holder proof (holder_mismatch). The cheap refusals tell a
 * stranger nothing they could not read in the grant they sent.
 *
 * Policy while the clock is unknown (after a cold boot, before the first
 * network or signed time): every grant is refused with clock_unknown, even
 * one whose window would cover any plausible time. An unset RTC cannot
 * tell a grant from last year from one for today, and a box that stays shut
 * until it can is the safe failure; the owner's signed time command or the
 * network sets the clock, and the driver retries. A clock reading before
 * 2020-01-01 counts as unknown whatever the caller says.
 *
 * Uses: unlock and admin each spend one use of a limited grant; lock spends
 * none and is not refused for a used-up grant (locking cannot harm the
 * owner, and a single-use grant may lock the box it opened).
 */
export function decide(input: DecideInput): Decision {
  var d = input.screened === true ? decodeGrant(input.grant) : undefined;
  var s = d && d.ok ? { ok: true as const, grant: d.grant } : screen(input);
  if (!s.ok) return s;
  var g = s.grant;
  var st = input.state;
  var pk = st.issuerKey(g.keyId) as Uint8Array;
  if (!safeVerify(input.verify, g.signature, g.signed, pk)) return { ok: false, reason: "bad_signature", grant: g };
  if ((g.perms & PERM_OF[input.action]) === 0) return { ok: false, reason: "permission", grant: g };
  var limited = g.uses !== USES_UNLIMITED;
  var consumes = limited && input.action !== "lock";
  if (consumes && st.usesOf(g.grantId) >= g.uses) return { ok: false, reason: "used_up", grant: g };
  if (g.holder) {
    var h = input.holder;
    if (!h || !isBytes(h.challenge) || h.challenge.length < 8 || h.challenge.length > 64) {
      return { ok: false, reason: "holder_mismatch", grant: g, detail: "no_proof" };
    }
    if (!safeVerify(input.verify, h.signature, holderMessage(g.boxId, g.grantId, h.challenge), g.holder)) {
      return { ok: false, reason: "holder_mismatch", grant: g };
    }
  }
  return { ok: true, grant: g, consumes: consumes };
}

/**
 * The checks before the signature (see decide): ok with the decoded grant
 * when only cryptography and the authenticated checks are left. Pure and
 * cheap; verify is not called.
 */
export function screen(input: DecideInput): { ok: true; grant: Grant } | { ok: false; reason: Refusal; grant?: Grant; detail?: string } {
  var want = PERM_OF[input.action];
  var d = decodeGrant(input.grant);
  if (!d.ok) return { ok: false, reason: "malformed", detail: d.reason };
  var g = d.grant;
  if (typeof want !== "number") {
    return { ok: false, reason: "permission", grant: g, detail: "action" };
  }
  var st = input.state;
  if (st.keyRevoked(g.keyId)) return { ok: false, reason: "revoked", grant: g, detail: "key" };
  if (!st.issuerKey(g.keyId)) return { ok: false, reason: "unknown_key", grant: g };
  if (g.boxId !== input.boxId) return { ok: false, reason: "wrong_box", grant: g };
  if (st.grantRevoked(g.grantId, g.notAfter)) return { ok: false, reason: "revoked", grant: g, detail: "grant" };
  var c = input.clock;
  if (!c || c.known !== true || typeof c.now !== "number" || !(c.now >= MIN_TIME)) {
    return { ok: false, reason: "clock_unknown", grant: g };
  }
  if (c.now < g.notBefore - CLOCK_TOLERANCE_S) return { ok: false, reason: "not_yet_valid", grant: g };
  if (c.now > g.notAfter + CLOCK_TOLERANCE_S) return { ok: false, reason: "expired", grant: g };
  return { ok: true, grant: g };
}

/** A verifier that throws on odd input is a refusal, never an exception out of decide. */
function safeVerify(verify: Verify, sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  if (!isBytes(sig) || sig.length !== 64) return false;
  try {
    return verify(sig, msg, pk) === true;
  } catch (e) {
    return false;
  }
}
