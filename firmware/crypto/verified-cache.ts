import { cacheJournal, CACHE_MAX_ID } from "../storage-plan";
import { Flash } from "../../hal";
import { Crc32 } from "../store/crc32";
import { getU32le, isBytes, putU32le } from "../store/bytes";
import { Journal } from "../store/journal";
import { sha512 } from "./sha512";

/**
 * Pre-verification cache (issue 7 point 3): a grant that arrived over
 * cellular is verified in the background, and the box remembers a digest of
 * the exact bytes it verified together with the issuer key id; the same
 * bytes presented later over BLE cost a hash and a lookup instead of a
 * signature verification. It only vouches for the signature: the caller
 * still decides window, box, revocation and use counts on every
 * presentation. Entries go away when their grant is revoked (by grant id),
 * when their key is rotated or revoked (by key id), when they expire, and
 * oldest-first when the cache is full.
 *
 * Record byte format (one journal record each, replayed in order):
 *   kind 1, remember: 0 kind | 1..4 key id u32 LE | 5..8 not-after u32 LE
 *     (seconds) | 9..40 digest (32 bytes) | 41 n | 42.. grant id, n bytes
 *     (one byte per character, codes 0..255)
 *   kind 2, forget grant: 0 kind | 1 n | 2.. grant id, n bytes
 *   kind 3, forget key: 0 kind | 1..4 key id u32 LE
 * The digest is the first 32 bytes of hash(key id u32 LE || grant bytes);
 * hash defaults to SHA-512. A record that does not parse is skipped.
 */
export interface VerifiedCacheOptions {
  /** 1..64 remembered grants. */
  capacity: number;
  /** Durable storage; without it the cache lives in RAM only (lost on reboot, still correct). */
  flash?: Flash;
  crc32?: Crc32;
  /** Journal file prefix, default "vc". */
  prefix?: string;
  /** Digest function (a native SHA-256 or SHA-512 is fine); at least 32 bytes out. */
  hash?: (data: Uint8Array) => Uint8Array;
}

interface Entry {
  k: number;
  t: number;
  d: Uint8Array;
  g: string;
}

const ADD = 1;
const DROP_GRANT = 2;
const DROP_KEY = 3;
const MAX_ID = CACHE_MAX_ID;

function isId(x: unknown): boolean {
  if (typeof x !== "string" || x.length < 1 || x.length > MAX_ID) return false;
  for (let i = 0; i < x.length; i++) if (x.charCodeAt(i) > 255) return false;
  return true;
}

function isU32(x: unknown): boolean {
  return typeof x === "number" && x >= 0 && x <= 0xffffffff && Math.floor(x) === x;
}

function putId(b: Uint8Array, o: number, id: string): void {
  b[o] = id.length;
  for (let i = 0; i < id.length; i++) b[o + 1 + i] = id.charCodeAt(i);
}

function getId(b: Uint8Array, o: number): string | undefined {
  const n = b[o];
  if (n < 1 || n > MAX_ID || o + 1 + n !== b.length) return undefined;
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[o + 1 + i]);
  return s;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function addRecord(e: Entry): Uint8Array {
  const r = new Uint8Array(42 + e.g.length);
  r[0] = ADD;
  putU32le(r, 1, e.k);
  putU32le(r, 5, e.t);
  r.set(e.d, 9);
  putId(r, 41, e.g);
  return r;
}

export class VerifiedCache {
  private readonly cap: number;
  private readonly hash: (data: Uint8Array) => Uint8Array;
  private readonly j: Journal | undefined;
  /** Oldest first. */
  private list: Entry[] = [];
  private closed = false;

  constructor(options: VerifiedCacheOptions) {
    const o = options;
    if (!o || !isU32(o.capacity) || o.capacity < 1 || o.capacity > 64) throw new Error("cache_options");
    if (o.hash !== undefined && typeof o.hash !== "function") throw new Error("cache_options");
    if (o.flash !== undefined && typeof o.crc32 !== "function") throw new Error("cache_options");
    this.cap = o.capacity;
    this.hash = o.hash || sha512;
    if (o.flash) {
      const plan = cacheJournal(o.capacity, o.prefix);
      this.j = new Journal({ flash: o.flash, prefix: plan.prefix, segmentBytes: plan.segmentBytes, maxSegments: plan.maxSegments, crc32: o.crc32 as Crc32 });
      this.replay(this.j.records());
    }
  }

  private replay(recs: Uint8Array[]): void {
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r.length >= 43 && r[0] === ADD) {
        const g = getId(r, 41);
        if (g !== undefined) this.put({ k: getU32le(r, 1), t: getU32le(r, 5), d: r.slice(9, 41), g: g });
      } else if (r.length >= 3 && r[0] === DROP_GRANT) {
        const g = getId(r, 1);
        if (g !== undefined) this.drop("g", g);
      } else if (r.length === 5 && r[0] === DROP_KEY) this.drop("k", getU32le(r, 1));
    }
  }

  private digest(keyId: number, grant: Uint8Array): Uint8Array {
    const b = new Uint8Array(4 + grant.length);
    putU32le(b, 0, keyId);
    b.set(grant, 4);
    const h = this.hash(b);
    return h.slice(0, 32);
  }

  private put(e: Entry): void {
    for (let i = 0; i < this.list.length; i++) {
      if (same(this.list[i].d, e.d) && this.list[i].k === e.k) {
        this.list.splice(i, 1);
        break;
      }
    }
    this.list.push(e);
    while (this.list.length > this.cap) this.list.shift();
  }

  private drop(field: "g" | "k", v: string | number): number {
    const keep: Entry[] = [];
    for (let i = 0; i < this.list.length; i++) if (this.list[i][field] !== v) keep.push(this.list[i]);
    const n = this.list.length - keep.length;
    this.list = keep;
    return n;
  }

  /** Durably appends, compacting the journal to the live entries when it is full. */
  private log(rec: Uint8Array): boolean {
    if (!this.j) return true;
    if (this.j.append(rec)) return true;
    const recs: Uint8Array[] = [];
    for (let i = 0; i < this.list.length; i++) recs.push(addRecord(this.list[i]));
    return this.j.rewrite(recs);
  }

  /**
   * Call only after the signature over grant verified with key keyId.
   * false (nothing remembered) on bad arguments, after close, or when the
   * journal refuses the write.
   */
  remember(grant: Uint8Array, grantId: string, keyId: number, notAfter: number): boolean {
    if (this.closed || !isBytes(grant) || !isId(grantId) || !isU32(keyId) || !isU32(notAfter)) return false;
    const e: Entry = { k: keyId, t: notAfter, d: this.digest(keyId, grant), g: grantId };
    this.put(e);
    // put() applied it already; the rewrite path inside log() persists the same state.
    if (this.log(addRecord(e))) return true;
    this.drop("g", grantId);
    return false;
  }

  /** True when exactly these bytes were verified under keyId and not invalidated since. */
  has(grant: Uint8Array, keyId: number): boolean {
    if (this.closed || !isBytes(grant) || !isU32(keyId)) return false;
    const d = this.digest(keyId, grant);
    // The first byte rules out almost every other entry before the whole digest is compared (a grant waits on this).
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i];
      if (e.k === keyId && e.d[0] === d[0] && same(e.d, d)) return true;
    }
    return false;
  }

  /** Revocation of a grant: forgets every entry with this grant id. */
  forgetGrant(grantId: string): boolean {
    if (this.closed || !isId(grantId)) return false;
    if (this.drop("g", grantId) === 0) return true;
    const r = new Uint8Array(2 + grantId.length);
    r[0] = DROP_GRANT;
    putId(r, 1, grantId);
    return this.log(r);
  }

  /** Key rotation or revocation: forgets every entry verified under keyId. */
  forgetKey(keyId: number): boolean {
    if (this.closed || !isU32(keyId)) return false;
    if (this.drop("k", keyId) === 0) return true;
    const r = new Uint8Array(5);
    r[0] = DROP_KEY;
    putU32le(r, 1, keyId);
    return this.log(r);
  }

  /**
   * Drops entries whose grant expired before now (seconds), in RAM only: an
   * expired entry read back after a reboot decides nothing (the grant is
   * refused on its time) and goes at the next pruning, and the journal is
   * rewritten when it fills, so pruning costs the flash nothing.
   */
  prune(now: number): boolean {
    if (this.closed || !isU32(now)) return false;
    const keep: Entry[] = [];
    for (let i = 0; i < this.list.length; i++) if (this.list[i].t >= now) keep.push(this.list[i]);
    this.list = keep;
    return true;
  }

  size(): number {
    return this.list.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.j) this.j.close();
  }
}
