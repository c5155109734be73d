import { Clock, Flash } from "../../hal";
import { EventBus } from "../events";
import { Crc32 } from "../store/crc32";
import { isBoxId, MIN_TIME } from "./codec";
import { Action, ClockState, decide, HolderProof, screen, Verify } from "./decide";
import { decodeRevocation } from "./revocation";
import { GrantStore, IssuerKey } from "./store";

export interface AccessOptions {
  flash: Flash;
  clock: Clock;
  events: EventBus;
  crc32: Crc32;
  /** Strict Ed25519 verification (or a pre-verification cache in front of it). */
  verify: Verify;
  boxId: string;
  /**
   * Whether the wall clock can be trusted, from the time service. Default:
   * known when clock.wall() reads 2020-01-01 or later (an RTC that was never
   * set reads near 0 after a cold boot).
   */
  clockState?: () => ClockState;
  /** Journal prefix (default "grants"). */
  prefix?: string;
  segmentBytes?: number;
  maxSegments?: number;
  /** The full check of a new issuer key (grants/store.ts keyCheck). */
  keyCheck?: (publicKey: Uint8Array) => boolean;
}

export interface AccessRequest {
  action: Action;
  /** Who asked, for the audit log: "ble", "mqtt", "console", ... */
  channel: string;
  holder?: HolderProof;
  /** The grant passed screen() a moment ago, in the same call (see decide's DecideInput.screened). */
  screened?: boolean;
}

export type Refused = { ok: false; reason: string; grantId?: string };

export type AccessResult = { ok: true; grantId: string; keyId: number; perms: number; usesLeft: number; notAfter: number } | Refused;

export type ChangeResult = { ok: true } | { ok: false; reason: string };

/** A grant that passed every check, not yet acted on (admit): spend() its use when the latch is about to move. */
export interface Admission {
  grantId: string;
  keyId: number;
  perms: number;
  uses: number;
  notAfter: number;
  /** Whether acting on it spends a use (a limited grant, unlock or admin). */
  consumes: boolean;
  channel: string;
  action: string;
  /** Uses spent so far, this one included once spent. */
  spent: number;
  /** The grant id's 8 bytes, as decoded. */
  idBytes?: Uint8Array;
}

/**
 * The box's access control: decides grants against the stored keys,
 * revocations and use counts. present() records the use durably before it
 * answers ok; admit() / spend() / finish() let the gatekeeper spend the use
 * only as the latch starts to move and report "granted" only then.
 * Every decision emits an "access" event (reason "granted" or the refusal
 * code; d: ch channel, act action, g grant id, k key id, ok, n uses spent);
 * every change of keys or revocations emits a "grants" event.
 */
export class AccessControl {
  private readonly o: AccessOptions;
  private readonly store: GrantStore;
  private closed = false;

  constructor(options: AccessOptions) {
    var o = options;
    if (!o || !o.flash || !o.clock || !o.events || typeof o.crc32 !== "function" || typeof o.verify !== "function") {
      throw new Error("access_options");
    }
    if (!isBoxId(o.boxId)) throw new Error("access_box_id");
    this.o = o;
    this.store = new GrantStore({
      flash: o.flash,
      crc32: o.crc32,
      prefix: o.prefix,
      segmentBytes: o.segmentBytes,
      maxSegments: o.maxSegments,
      keyCheck: o.keyCheck,
    });
    // what the journal replayed but the time has passed stays out of RAM from the start (see prune)
    this.store.forgetExpired(this.trustedNow());
  }

  /** Decides, spends the use and reports "granted" at once: for callers that act on the answer immediately. */
  present(grantBytes: Uint8Array, request: AccessRequest): AccessResult {
    var a = this.admit(grantBytes, request);
    if ("reason" in a) return a;
    var err = this.spend(a);
    if (err) {
      this.finish(a, err);
      return { ok: false, reason: err, grantId: a.grantId };
    }
    this.finish(a, "granted");
    return {
      ok: true,
      grantId: a.grantId,
      keyId: a.keyId,
      perms: a.perms,
      usesLeft: a.uses === 255 ? -1 : a.uses - a.spent,
      notAfter: a.notAfter,
    };
  }

  /**
   * Decides without spending or reporting a success: a refusal is reported
   * and returned; an admission is acted on by the caller, who calls spend()
   * right before the latch moves and finish() with what became of it.
   */
  admit(grantBytes: Uint8Array, request: AccessRequest): Admission | Refused {
    var ch = request && typeof request.channel === "string" ? request.channel : "?";
    var act = request ? request.action : "?";
    if (this.closed) return this.refuse(ch, String(act), "unavailable", "", 0, 0);
    var d = decide({
      grant: grantBytes,
      boxId: this.o.boxId,
      state: this.store,
      clock: this.clockState(),
      action: act as Action,
      holder: request ? request.holder : undefined,
      verify: this.o.verify,
      screened: !!request && request.screened === true,
    });
    if (!d.ok) {
      var gid = d.grant ? d.grant.grantId : "";
      return this.refuse(ch, String(act), d.reason, gid, d.grant ? d.grant.keyId : 0, gid ? this.store.usesOf(gid) : 0);
    }
    var g = d.grant;
    return {
      grantId: g.grantId,
      keyId: g.keyId,
      perms: g.perms,
      uses: g.uses,
      notAfter: g.notAfter,
      consumes: d.consumes,
      channel: ch,
      action: String(act),
      spent: this.store.usesOf(g.grantId),
      idBytes: g.idBytes,
    };
  }

  /**
   * The checks before the signature (decide's screen): the refusal they
   * give, or undefined when only a signature verification can tell. Reports
   * nothing and changes nothing: the decision that follows does both.
   */
  screen(grantBytes: Uint8Array, action: Action): string | undefined {
    if (this.closed) return "unavailable";
    var s = screen({ grant: grantBytes, boxId: this.o.boxId, state: this.store, clock: this.clockState(), action: action, verify: this.o.verify });
    return s.ok ? undefined : s.reason;
  }

  /** Records the admission's use durably (when it consumes one); an error code when it could not be. */
  spend(a: Admission): string | undefined {
    if (this.closed) return "unavailable";
    if (!a.consumes) return undefined;
    // the count may have moved since admit (another channel): decide on the stored one
    var spent = this.store.usesOf(a.grantId);
    if (spent >= a.uses) return "used_up";
    var err = this.store.recordUse(a.grantId, spent + 1, a.notAfter, this.trustedNow(), a.idBytes);
    if (err) return err;
    a.spent = spent + 1;
    return undefined;
  }

  /** Gives back a spent use: the latch never opened the box for it. Reported as ("access", "use_refunded"). */
  refund(a: Admission, why: string): void {
    if (!a.consumes || this.closed) return;
    var err = this.store.refundUse(a.grantId, a.spent - 1, this.trustedNow());
    if (!err) a.spent--;
    this.o.events.emit("access", err ? "refund_failed" : "use_refunded", { ch: a.channel, act: a.action, g: a.grantId, k: a.keyId, why: why, n: a.spent });
  }

  /** The box opened for the admission's use: it is spent for good. */
  opened(a: Admission): void {
    if (!a.consumes || this.closed) return;
    this.store.settleUse(a.grantId, a.spent, this.trustedNow());
  }

  /**
   * At boot, after a reset cut an opening short: a use still pending was
   * spent for that motor cycle. With the bolt still thrown the box never
   * unlatched, so it is given back, reported as ("access", "use_refunded",
   * why "reset"); once the bolt had left, the lid could be opened, so it
   * stays spent. Returns the grant id it settled, or "".
   */
  settlePending(unlatched: boolean): string {
    if (this.closed) return "";
    var p = this.store.pendingUse();
    if (!p) return "";
    if (unlatched) {
      this.store.settleUse(p.grantId, p.n, this.trustedNow());
      return p.grantId;
    }
    var err = this.store.refundUse(p.grantId, p.n - 1, this.trustedNow());
    this.o.events.emit("access", err ? "refund_failed" : "use_refunded", { g: p.grantId, why: "reset", n: err ? p.n : p.n - 1 });
    return p.grantId;
  }

  /** Reports what became of an admission: "granted" once the latch moves, else the reason it did not. */
  finish(a: Admission, reason: string): void {
    var ok = reason === "granted";
    this.o.events.emit("access", reason, { ch: a.channel, act: a.action, g: a.grantId, k: a.keyId, ok: ok, n: a.spent });
  }

  /** Replaces the trusted issuer keys (idempotent: the same set writes nothing). */
  provisionKeys(keys: IssuerKey[]): ChangeResult {
    if (this.closed) return { ok: false, reason: "unavailable" };
    var err = this.store.setKeys(keys, this.trustedNow());
    if (err) {
      this.o.events.emit("grants", err, { op: "keys" });
      return { ok: false, reason: err };
    }
    var ids = this.store.keyIds().join(",");
    this.o.events.emit("grants", "keys", { ids: ids });
    return { ok: true };
  }

  /** Revokes a grant id, remembered until `until` (its not-after) plus a margin. For trusted callers. */
  revokeGrant(grantId: string, until: number): ChangeResult {
    if (this.closed) return { ok: false, reason: "unavailable" };
    var err = this.store.revokeGrant(grantId, until, this.trustedNow());
    this.o.events.emit("grants", err ? err : "revoked_grant", { g: String(grantId) });
    return err ? { ok: false, reason: err } : { ok: true };
  }

  /** Revokes an issuer key for good: grants it signed are refused as revoked. For trusted callers. */
  revokeKey(keyId: number): ChangeResult {
    if (this.closed) return { ok: false, reason: "unavailable" };
    var err = this.store.revokeKey(keyId, this.trustedNow());
    this.o.events.emit("grants", err ? err : "revoked_key", { k: +keyId || 0 });
    return err ? { ok: false, reason: err } : { ok: true };
  }

  /**
   * Applies a signed revocation record (firmware/grants/revocation.ts), as
   * carried by an owner command: for this box, signed by a provisioned key
   * that is not itself revoked. Applying it twice is harmless.
   */
  applyRevocation(bytes: Uint8Array): ChangeResult {
    if (this.closed) return { ok: false, reason: "unavailable" };
    var r = decodeRevocation(bytes);
    var reason: string | undefined = undefined;
    if (!r.ok) reason = "malformed";
    else if (r.rev.boxId !== this.o.boxId) reason = "wrong_box";
    else {
      var pk = this.store.issuerKey(r.rev.signerKeyId);
      if (!pk) reason = this.store.keyRevoked(r.rev.signerKeyId) ? "revoked" : "unknown_key";
      else if (!safeVerify(this.o.verify, r.rev.signature, r.rev.signed, pk)) reason = "bad_signature";
    }
    if (reason || !r.ok) {
      this.o.events.emit("grants", reason || "malformed", { op: "revoke" });
      return { ok: false, reason: reason || "malformed" };
    }
    return r.rev.grantId !== undefined ? this.revokeGrant(r.rev.grantId, r.rev.until) : this.revokeKey(r.rev.keyId!);
  }

  /** The public key of a trusted, unrevoked issuer key (for signed owner commands). */
  issuerKey(keyId: number): Uint8Array | undefined {
    return this.store.issuerKey(keyId);
  }

  keyIds(): number[] {
    return this.store.keyIds();
  }

  /** Uses already spent on a grant id. */
  usesOf(grantId: string): number {
    return this.store.usesOf(grantId);
  }

  /** Rewrites the store without expired entries; call when power is good (then Flash.compact may follow). */
  maintain(): boolean {
    if (this.closed) return false;
    return this.store.compact(this.trustedNow());
  }

  /**
   * The daily pruning (firmware/store/upkeep.ts): maintain() once an entry
   * has expired and the journal is more than half full. A rewrite costs a
   * page erase however little it drops, so it waits until it frees room
   * worth having; a full journal compacts by itself on its next write.
   * Until then what expired is forgotten in RAM (GrantStore.forgetExpired).
   */
  prune(): boolean {
    if (this.closed) return false;
    const s = this.store;
    const now = this.trustedNow();
    if (s.bytesFree() < s.capacityBytes() / 2 && s.hasExpired(now)) return this.maintain();
    s.forgetExpired(now);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.store.close();
  }

  private clockState(): ClockState {
    if (this.o.clockState) return this.o.clockState();
    var now = this.o.clock.wall();
    return { known: now >= MIN_TIME, now: now };
  }

  private trustedNow(): number | undefined {
    var c = this.clockState();
    return c.known && c.now >= MIN_TIME ? c.now : undefined;
  }

  private refuse(ch: string, act: string, reason: string, gid: string, kid: number, spent: number): Refused {
    this.o.events.emit("access", reason, { ch: ch, act: act, g: gid, k: kid, ok: false, n: spent });
    var out: Refused = { ok: false, reason: reason };
    if (gid) out.grantId = gid;
    return out;
  }
}

function safeVerify(verify: Verify, sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  try {
    return verify(sig, msg, pk) === true;
  } catch (e) {
    return false;
  }
}
