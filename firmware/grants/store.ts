import { GRANTS_JOURNAL } from "../storage-plan";
import { getU32be, isBytes, isList, putU32be } from "../store/bytes";
import { Flash } from "../../hal";
import { Journal } from "../store/journal";
import { Crc32 } from "../store/crc32";
import { hexOf, isGrantId, isHex16, putHex } from "./codec";
import { deleteAll } from "../objects";
import { GrantState } from "./decide";
import { keyIsSane } from "../crypto/keycheck";

/*
 * Journal records of the grant store. The first byte is the type; integers
 * are big-endian; grant ids are 8 bytes, key ids 2.
 *   0x01 KEYS  count k (0..8), then k times: key id (2), Ed25519 public key (32).
 *              Replaces the whole trusted key set (provisioning and rotation).
 *   0x02 REVG  grant id (8), until (4, Unix s): the grant is revoked; the
 *              entry may be forgotten PRUNE_MARGIN_S after until.
 *   0x03 REVK  key id (2): the issuer key is revoked for good.
 *   0x04 USE   grant id (8), uses spent (1, absolute, so replaying it twice is
 *              harmless), expires (4, Unix s, the grant's not-after).
 *   0x05 REVW  watermark (4, Unix s): every grant whose not-after is at or
 *              before it is revoked. Written when the list of revoked grant
 *              ids is full: the revocation that expires first is folded into
 *              it, so a full list over-revokes (fails closed) instead of
 *              refusing the revocation (failing open). The largest one wins.
 *   0x06 BACK  grant id (8), uses spent (1): a use recorded for a latch cycle
 *              that never opened the box is given back; applies only when
 *              the count is exactly one above it, so replaying it is harmless.
 *   0x07 DONE  grant id (8), uses spent (1): the box opened for that use;
 *              it is no longer pending (see below).
 *   0x08 KEPT  as USE, written by compaction: a count that is not pending.
 * The last USE not followed by a DONE or BACK for the same grant and count
 * is the pending use: spent just before a motor cycle, which a power cut may
 * have ended before the box opened. At boot the firmware settles it by the
 * bolt: still thrown, it is given back (BACK); open, it is done (DONE).
 * A record of another type or length is ignored (a later format). Replay
 * applies records in order; the last KEYS wins, USE counts only go up. A
 * REVK counts only while its key id names the same bytes: a KEYS record that
 * drops the id or gives it another key drops the revocation with it, so key
 * revocations never outnumber the keys (at most MAX_KEYS matter).
 * Compaction rewrites the journal as one KEYS record plus one record per live
 * entry, dropping entries whose time has passed.
 */

export var MAX_KEYS = 8;
export var MAX_GRANT_REVOCATIONS = 48;
export var MAX_KEY_REVOCATIONS = MAX_KEYS;

/**
 * Use counters the journal of the storage plan holds: the live state after a
 * compaction (header, the largest key set, every key and grant revocation
 * and the watermark, each record with its 12-byte frame) must fit in half of
 * the journal, so that the other half takes new records between two
 * compactions; what is left is counters at 26 bytes each. Only a grant whose
 * signature verified spends a use, so nobody without a signed grant can
 * fill them; when full, a new limited grant is refused (counters_full),
 * never allowed unrecorded.
 */
export function useCounterCapacity(plan: { segmentBytes: number; maxSegments: number }): number {
  var half = (plan.segmentBytes * plan.maxSegments) / 2;
  var fixed = 16 + (14 + 34 * MAX_KEYS) + MAX_KEY_REVOCATIONS * 15 + 17 + MAX_GRANT_REVOCATIONS * 25;
  return Math.max(8, Math.floor((half - fixed) / 26));
}
export var MAX_USE_COUNTERS = useCounterCapacity(GRANTS_JOURNAL);
/**
 * Revocations and use counts outlive their grant's not-after by two days:
 * more than the clock tolerance plus the largest step backwards the time
 * service allows, so a clock set back cannot revive a used or revoked grant.
 */
export var PRUNE_MARGIN_S = 2 * 86400;

export interface IssuerKey {
  id: number;
  publicKey: Uint8Array;
}

export interface GrantStoreOptions {
  flash: Flash;
  crc32: Crc32;
  /** Journal prefix (default "grants"). */
  prefix?: string;
  segmentBytes?: number;
  maxSegments?: number;
  /**
   * The full check of a new issuer key (crypto/ed25519-ref.ts
   * publicKeyIsValid: on the curve, canonical, not of small order). The
   * cheap part (keyIsSane) always runs; main wires this one in.
   */
  keyCheck?: (publicKey: Uint8Array) => boolean;
}

interface Use {
  n: number;
  exp: number;
}

/**
 * Trusted issuer keys, revocations and use counts, kept in RAM and made
 * durable through a journal: every change is appended (and, when the
 * journal is full, compacted) before the call returns true.
 */
export class GrantStore implements GrantState {
  private readonly j: Journal;
  private readonly keyCheck: ((publicKey: Uint8Array) => boolean) | undefined;
  private readonly cap: number;
  private keys: IssuerKey[] = [];
  private revG: { [gid: string]: number } = {};
  private nRevG = 0;
  private revK: { [kid: string]: boolean } = {};
  private nRevK = 0;
  private uses: { [gid: string]: Use } = {};
  private nUses = 0;
  /** Grants with a not-after at or before this are revoked (0: none). */
  private wm = 0;
  /** The use spent for a motor cycle that has not yet opened the box (see DONE). */
  private pend: { gid: string; n: number } | undefined;

  constructor(options: GrantStoreOptions) {
    var o = options;
    if (!o || !o.flash || typeof o.crc32 !== "function") throw new Error("grant_store_options");
    var seg = o.segmentBytes === undefined ? GRANTS_JOURNAL.segmentBytes : o.segmentBytes;
    var segs = o.maxSegments === undefined ? GRANTS_JOURNAL.maxSegments : o.maxSegments;
    this.j = new Journal({ flash: o.flash, crc32: o.crc32, prefix: o.prefix === undefined ? GRANTS_JOURNAL.prefix : o.prefix, segmentBytes: seg, maxSegments: segs });
    this.cap = seg * segs;
    this.keyCheck = o.keyCheck;
    var recs = this.j.records();
    for (var i = 0; i < recs.length; i++) this.apply(recs[i]);
  }

  issuerKey(keyId: number): Uint8Array | undefined {
    if (this.revK[keyId]) return undefined;
    for (var i = 0; i < this.keys.length; i++) if (this.keys[i].id === keyId) return this.keys[i].publicKey;
    return undefined;
  }

  keyIds(): number[] {
    var out: number[] = [];
    for (var i = 0; i < this.keys.length; i++) out.push(this.keys[i].id);
    return out;
  }

  keyRevoked(keyId: number): boolean {
    return this.revK[keyId] === true;
  }

  grantRevoked(grantId: string, notAfter?: number): boolean {
    if (this.wm > 0 && typeof notAfter === "number" && notAfter <= this.wm) return true;
    return this.revG.hasOwnProperty(grantId);
  }

  /** Every grant with a not-after at or before this is revoked (0 when the list never overflowed). */
  watermark(): number {
    return this.wm;
  }

  usesOf(grantId: string): number {
    return this.uses.hasOwnProperty(grantId) ? this.uses[grantId].n : 0;
  }

  counts(): { keys: number; revokedGrants: number; revokedKeys: number; counters: number } {
    return { keys: this.keys.length, revokedGrants: this.nRevG, revokedKeys: this.nRevK, counters: this.nUses };
  }

  /** Replaces the trusted key set. Returns an error code, or undefined once durable (or already so). */
  setKeys(keys: IssuerKey[], now?: number): string | undefined {
    if (!isList(keys) || keys.length > MAX_KEYS) return "keys_invalid";
    var seen: { [id: string]: boolean } = {};
    for (var i = 0; i < keys.length; i++) {
      var k = keys[i];
      if (!k || !(k.id >= 1 && k.id <= 65535 && Math.floor(k.id) === k.id) || seen[k.id]) return "keys_invalid";
      if (!isBytes(k.publicKey) || !keyIsSane(k.publicKey)) return "keys_invalid";
      seen[k.id] = true;
    }
    if (sameKeys(this.keys, keys)) return undefined;
    // The full decode (a square root: seconds on the board) only for a key set that changes.
    for (i = 0; i < keys.length && this.keyCheck; i++) if (!this.keyCheck(keys[i].publicKey)) return "keys_invalid";
    return this.persist(keysRecord(keys), now) ? undefined : "store_full";
  }

  /** Revokes a grant id until a time (its not-after). */
  revokeGrant(grantId: string, until: number, now?: number): string | undefined {
    if (!isGrantId(grantId) || !(until >= 0 && until <= 0xffffffff)) return "revocation_invalid";
    until = Math.floor(until);
    if (this.revG.hasOwnProperty(grantId) && this.revG[grantId] >= until) return undefined;
    if (until <= this.wm) return undefined;
    if (!this.revG.hasOwnProperty(grantId) && this.nRevG >= MAX_GRANT_REVOCATIONS) {
      if (this.stale(this.revG, now)) this.compact(now);
      if (this.nRevG >= MAX_GRANT_REVOCATIONS && !this.fold(until)) return "store_full";
    }
    return this.persist(idRecord(2, grantId, -1, until), now, grantId) ? undefined : "store_full";
  }

  /**
   * Revokes the key an id names now. A revocation lasts while the key set
   * holds that id with the same bytes (the provisioning file is applied at
   * every boot, so a revoked key stays refused); an id the box does not
   * trust has nothing to revoke.
   */
  revokeKey(keyId: number, now?: number): string | undefined {
    if (!(keyId >= 1 && keyId <= 65535 && Math.floor(keyId) === keyId)) return "revocation_invalid";
    if (this.revK[keyId]) return undefined;
    if (!this.hasKeyId(keyId)) return "unknown_key";
    return this.persist(new Uint8Array([3, keyId >>> 8, keyId & 0xff]), now) ? undefined : "store_full";
  }

  /** Records that grantId has now spent n uses (idBytes: the same id's 8 bytes, when the caller has them). Durable when it returns undefined. */
  recordUse(grantId: string, n: number, expires: number, now?: number, idBytes?: Uint8Array): string | undefined {
    if (!isHex16(grantId) || !(n >= 1 && n <= 255)) return "use_invalid";
    if (!this.uses.hasOwnProperty(grantId) && this.nUses >= MAX_USE_COUNTERS) {
      if (this.stale(this.uses, now)) this.compact(now);
      if (this.nUses >= MAX_USE_COUNTERS) return "counters_full";
    }
    return this.persist(idRecord(4, grantId, n, expires, idBytes), now, grantId) ? undefined : "store_full";
  }

  /** Gives back the use recorded as the n+1th when the box did not open after all. */
  refundUse(grantId: string, n: number, now?: number): string | undefined {
    if (!isHex16(grantId) || !(n >= 0 && n <= 254) || this.usesOf(grantId) !== n + 1) return "use_invalid";
    return this.persist(idRecord(6, grantId, n), now, grantId) ? undefined : "store_full";
  }

  /** The use spent for a motor cycle not known to have opened the box, if any. */
  pendingUse(): { grantId: string; n: number } | undefined {
    return this.pend ? { grantId: this.pend.gid, n: this.pend.n } : undefined;
  }

  /** Records that the box opened for use n of grantId: it is no longer pending. */
  settleUse(grantId: string, n: number, now?: number): string | undefined {
    if (!isHex16(grantId) || !(n >= 1 && n <= 255)) return "use_invalid";
    if (!this.pend || this.pend.gid !== grantId || this.pend.n !== n) return undefined;
    return this.persist(idRecord(7, grantId, n), now, grantId) ? undefined : "store_full";
  }

  /**
   * Rewrites the journal with only live state, forgetting entries more than
   * PRUNE_MARGIN_S past their time when now (a trusted clock) is given.
   */
  compact(now?: number): boolean {
    var cut = typeof now === "number" && now > 0 ? now - PRUNE_MARGIN_S : -1;
    var recs: Uint8Array[] = [keysRecord(this.keys)];
    var id = "";
    for (id in this.revK) if (this.revK[id]) recs.push(new Uint8Array([3, +id >>> 8, +id & 0xff]));
    var wm = this.wm >= cut ? this.wm : 0;
    if (wm) recs.push(wmRecord(wm));
    var revG: { [gid: string]: number } = {};
    var nRevG = 0;
    for (id in this.revG) {
      if (!this.revG.hasOwnProperty(id) || this.revG[id] < cut) continue;
      recs.push(idRecord(2, id, -1, this.revG[id]));
      revG[id] = this.revG[id];
      nRevG++;
    }
    var uses: { [gid: string]: Use } = {};
    var nUses = 0;
    var pend = this.pend;
    for (id in this.uses) {
      if (!this.uses.hasOwnProperty(id) || this.uses[id].exp < cut) continue;
      recs.push(idRecord(8, id, this.uses[id].n, this.uses[id].exp));
      uses[id] = this.uses[id];
      nUses++;
    }
    // the pending use stays pending: its USE comes last
    if (pend && uses.hasOwnProperty(pend.gid) && uses[pend.gid].n === pend.n) recs.push(idRecord(4, pend.gid, pend.n, uses[pend.gid].exp));
    else pend = undefined;
    if (!this.j.rewrite(recs)) return false;
    this.pend = pend;
    this.wm = wm;
    this.revG = revG;
    this.nRevG = nRevG;
    this.uses = uses;
    this.nUses = nUses;
    return true;
  }

  /**
   * Forgets, in RAM only, what compact(now) would: revocations and use
   * counts more than PRUNE_MARGIN_S past their time (the watermark too).
   * They decide nothing any more, and RAM is the box's tightest budget;
   * their records stay on flash until the journal is rewritten, and replay
   * brings them back after a reboot only until the next pruning. The
   * pending use is kept whatever its time. Returns how many went.
   */
  forgetExpired(now?: number): number {
    if (typeof now !== "number" || !(now > 0)) return 0;
    var cut = now - PRUNE_MARGIN_S;
    var id = "";
    var gone: string[] = [];
    for (id in this.revG) if (this.revG.hasOwnProperty(id) && this.revG[id] < cut) gone.push(id);
    var revoked = deleteAll(this.revG, gone);
    this.nRevG -= revoked;
    gone = [];
    for (id in this.uses) if (this.uses.hasOwnProperty(id) && this.uses[id].exp < cut && !(this.pend && this.pend.gid === id)) gone.push(id);
    var counts = deleteAll(this.uses, gone);
    this.nUses -= counts;
    if (this.wm > 0 && this.wm < cut) this.wm = 0;
    return revoked + counts;
  }

  /** True when compact(now) would forget something: an entry more than PRUNE_MARGIN_S past its time. */
  hasExpired(now?: number): boolean {
    return this.stale(this.revG, now) || this.stale(this.uses, now);
  }

  /**
   * Makes room in a full list of revoked grant ids for one that lasts until
   * `until`: the entry that expires first (this one, if it is earliest) goes
   * into the watermark, durably before anything is forgotten.
   */
  private fold(until: number): boolean {
    var first = "";
    var id = "";
    for (id in this.revG) if (this.revG.hasOwnProperty(id) && (first === "" || this.revG[id] < this.revG[first])) first = id;
    var mark = first !== "" && this.revG[first] < until ? this.revG[first] : until;
    if (!this.persist(wmRecord(Math.max(mark, this.wm)))) return false;
    if (mark === until) return true;
    delete this.revG[first];
    this.nRevG--;
    return true;
  }

  /** Whether a compaction at now would forget anything in map (a rewrite that frees nothing only wears the flash). */
  private stale(map: { [gid: string]: number | Use }, now?: number): boolean {
    if (typeof now !== "number" || !(now > 0)) return false;
    var cut = now - PRUNE_MARGIN_S;
    var id = "";
    for (id in map) {
      if (!map.hasOwnProperty(id)) continue;
      var v = map[id];
      if ((typeof v === "number" ? v : v.exp) < cut) return true;
    }
    return false;
  }

  private hasKeyId(keyId: number): boolean {
    for (var i = 0; i < this.keys.length; i++) if (this.keys[i].id === keyId) return true;
    return false;
  }

  /** Journal space left, for the maintenance policy. */
  bytesFree(): number {
    return this.j.bytesFree();
  }

  /** The journal's size: its segments at their full size. */
  capacityBytes(): number {
    return this.cap;
  }

  close(): void {
    this.j.close();
  }

  /** Appends, compacting once when the journal is full; applies to RAM only once durable. */
  /** gid: the grant id the record was made from, when it names one (saves spelling it out again from the bytes). */
  private persist(rec: Uint8Array, now?: number, gid?: string): boolean {
    var ok = this.j.append(rec);
    if (!ok && this.compact(now)) ok = this.j.append(rec);
    if (ok) this.apply(rec, gid);
    return ok;
  }

  private apply(r: Uint8Array, gid?: string): void {
    var id = "";
    switch (r[0]) {
      case 1: {
        var k = r[1];
        if (r.length !== 2 + 34 * k || k > MAX_KEYS) return;
        var keys: IssuerKey[] = [];
        for (var i = 0; i < k; i++) {
          var p = 2 + 34 * i;
          var pk = r.slice(p + 2, p + 34);
          // a key written before keys were checked, and unusable: never trusted
          if (keyIsSane(pk)) keys.push({ id: (r[p] << 8) | r[p + 1], publicKey: pk });
        }
        // a revocation is of the key an id named: it goes when the id goes or names other bytes
        var gone: string[] = [];
        for (id in this.revK) {
          if (!this.revK[id]) continue;
          var before = keyOf(this.keys, +id);
          var after = keyOf(keys, +id);
          if (!before || !after || !sameKey(before, after)) gone.push(id);
        }
        this.nRevK -= deleteAll(this.revK, gone);
        this.keys = keys;
        return;
      }
      case 2:
        if (r.length !== 13) return;
        id = gid || hexOf(r, 1, 9);
        if (!this.revG.hasOwnProperty(id)) this.nRevG++;
        var until = getU32be(r, 9);
        if (!(this.revG[id] >= until)) this.revG[id] = until;
        return;
      case 3:
        if (r.length !== 3) return;
        var kid = (r[1] << 8) | r[2];
        if (!this.hasKeyId(kid) || this.revK[kid]) return;
        this.nRevK++;
        this.revK[kid] = true;
        return;
      case 5:
        if (r.length !== 5) return;
        var w = getU32be(r, 1);
        if (w > this.wm) this.wm = w;
        return;
      case 4:
      case 8: {
        if (r.length !== 14) return;
        id = gid || hexOf(r, 1, 9);
        if (r[0] === 4) this.pend = { gid: id, n: r[9] };
        var u = this.uses.hasOwnProperty(id) ? this.uses[id] : undefined;
        if (!u) {
          u = this.uses[id] = { n: 0, exp: 0 };
          this.nUses++;
        }
        if (r[9] > u.n) u.n = r[9];
        var exp = getU32be(r, 10);
        if (exp > u.exp) u.exp = exp;
        return;
      }
      case 6:
        if (r.length !== 10) return;
        id = gid || hexOf(r, 1, 9);
        if (this.uses.hasOwnProperty(id) && this.uses[id].n === r[9] + 1) this.uses[id].n = r[9];
        if (this.pend && this.pend.gid === id && this.pend.n === r[9] + 1) this.pend = undefined;
        return;
      case 7:
        if (r.length !== 10) return;
        id = gid || hexOf(r, 1, 9);
        if (this.pend && this.pend.gid === id && this.pend.n === r[9]) this.pend = undefined;
        return;
      default:
        return;
    }
  }
}

function keysRecord(keys: IssuerKey[]): Uint8Array {
  var r = new Uint8Array(2 + 34 * keys.length);
  r[0] = 1;
  r[1] = keys.length;
  for (var i = 0; i < keys.length; i++) {
    var p = 2 + 34 * i;
    r[p] = keys[i].id >>> 8;
    r[p + 1] = keys[i].id & 0xff;
    r.set(keys[i].publicKey, p + 2);
  }
  return r;
}

function sameKeys(a: IssuerKey[], b: IssuerKey[]): boolean {
  if (a.length !== b.length) return false;
  for (var i = 0; i < a.length; i++) if (a[i].id !== b[i].id || !sameKey(a[i].publicKey, b[i].publicKey)) return false;
  return true;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  for (var j = 0; j < 32; j++) if (a[j] !== b[j]) return false;
  return true;
}

function keyOf(keys: IssuerKey[], id: number): Uint8Array | undefined {
  for (var i = 0; i < keys.length; i++) if (keys[i].id === id) return keys[i].publicKey;
  return undefined;
}

/**
 * A record about one grant id (see the format above): the kind, the id's 8
 * bytes, then a use count when n >= 0 (USE, BACK, DONE, KEPT) and a u32 (a
 * use's expiry, a revocation's until) when t is given.
 */
function idRecord(kind: number, gid: string, n: number, t?: number, idBytes?: Uint8Array): Uint8Array {
  var at = n >= 0 ? 10 : 9;
  var r = new Uint8Array(t === undefined ? at : at + 4);
  r[0] = kind;
  // the id's bytes as the grant carried them, or parsed from its hex (a grant waits on this record)
  if (idBytes && idBytes.length === 8) r.set(idBytes, 1);
  else putHex(r, 1, gid);
  if (n >= 0) r[9] = n;
  if (t !== undefined) putU32be(r, at, t);
  return r;
}

function wmRecord(t: number): Uint8Array {
  var r = new Uint8Array(5);
  r[0] = 5;
  putU32be(r, 1, t);
  return r;
}

