import { cacheJournal, CACHE_MAX_ID } from "../storage-plan";
import { Flash } from "../../hal";
import { Crc32 } from "../store/crc32";
import { bytesKey, getU32le, isBytes, putU32le } from "../store/bytes";
import { Journal } from "../store/journal";
import { deleteAll } from "../objects";
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
 * A grant never seen costs no hash: entries are found by their key id and
 * the last 12 bytes of what was verified (the signature's end, for a
 * grant), and only an entry found so is confirmed by the digest of all of
 * it.
 *
 * Record byte format (one journal record each, replayed in order):
 *   kind 4, remember: 0 kind | 1..4 key id u32 LE | 5..8 not-after u32 LE
 *     (seconds) | 9..40 digest (32 bytes) | 41..52 the grant bytes' last
 *     12 | 53 n | 54.. grant id, n bytes (one byte per character, 0..255)
 *   kind 2, forget grant: 0 kind | 1 n | 2.. grant id, n bytes
 *   kind 3, forget key: 0 kind | 1..4 key id u32 LE
 *   kind 1 (before the last 12 bytes were kept) is the same without bytes
 *     41..52: it cannot be found by them, so it is skipped, and its grant is
 *     verified once more when it comes.
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
  /** The digest, and the grant bytes' last TAIL (the entry's key in the index). */
  d: Uint8Array;
  e: Uint8Array;
  g: string;
}

const ADD = 4;
const TAIL = 12;
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

/** The last TAIL bytes of what was verified. */
function tailOf(grant: Uint8Array): Uint8Array {
  return grant.subarray(grant.length - TAIL);
}

/** An entry's key in the index: its key id and its last TAIL bytes. */
function indexKey(keyId: number, tail: Uint8Array): string {
  return keyId + " " + bytesKey(tail);
}

function addRecord(e: Entry): Uint8Array {
  const r = new Uint8Array(54 + e.g.length);
  r[0] = ADD;
  putU32le(r, 1, e.k);
  putU32le(r, 5, e.t);
  r.set(e.d, 9);
  r.set(e.e, 41);
  putId(r, 53, e.g);
  return r;
}

export class VerifiedCache {
  private readonly cap: number;
  private readonly hash: (data: Uint8Array) => Uint8Array;
  private readonly j: Journal | undefined;
  /**
   * indexKey(key id, tail) -> entry, oldest first (an object keeps its keys
   * in the order they were added, in Espruino as in ES5 engines for keys
   * that are not array indices, which these never are): a grant on its way
   * to the motor is looked up at once, however full the cache.
   */
  private index: { [key: string]: Entry } = {};
  private n = 0;
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
      if (r.length >= 55 && r[0] === ADD) {
        const g = getId(r, 53);
        if (g !== undefined) this.put({ k: getU32le(r, 1), t: getU32le(r, 5), d: r.slice(9, 41), e: r.slice(41, 53), g: g });
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
    return new Uint8Array(this.hash(b).subarray(0, 32));
  }

  /** Adds e as the newest entry; one with the same key goes (the same grant, or, rarely, one that is then verified again when it comes). */
  private put(e: Entry): void {
    const key = indexKey(e.k, e.e);
    if (this.index.hasOwnProperty(key)) delete this.index[key];
    else this.n++;
    this.index[key] = e;
    // the oldest go; each is deleted outside the for-in that finds it (Espruino's for-in ends at a deletion)
    while (this.n > this.cap) {
      let oldest = "";
      for (const k in this.index) {
        oldest = k;
        break;
      }
      delete this.index[oldest];
      this.n--;
    }
  }

  /** Forgets every entry whose field is v; how many went. */
  private drop(field: "g" | "k", v: string | number): number {
    return this.keep(function (e) {
      return e[field] !== v;
    });
  }

  private keep(test: (e: Entry) => boolean): number {
    const gone: string[] = [];
    for (const key in this.index) if (!test(this.index[key])) gone.push(key);
    const n = deleteAll(this.index, gone);
    this.n -= n;
    return n;
  }

  /** Durably appends, compacting the journal to the live entries when it is full. */
  private log(rec: Uint8Array): boolean {
    if (!this.j) return true;
    if (this.j.append(rec)) return true;
    const recs: Uint8Array[] = [];
    for (const key in this.index) recs.push(addRecord(this.index[key]));
    return this.j.rewrite(recs);
  }

  /**
   * Call only after the signature over grant verified with key keyId.
   * false (nothing remembered) on bad arguments, after close, or when the
   * journal refuses the write.
   */
  remember(grant: Uint8Array, grantId: string, keyId: number, notAfter: number): boolean {
    if (this.closed || !isBytes(grant) || grant.length < TAIL || !isId(grantId) || !isU32(keyId) || !isU32(notAfter)) return false;
    const e: Entry = { k: keyId, t: notAfter, d: this.digest(keyId, grant), e: new Uint8Array(tailOf(grant)), g: grantId };
    this.put(e);
    // put() applied it already; the rewrite path inside log() persists the same state.
    if (this.log(addRecord(e))) return true;
    this.drop("g", grantId);
    return false;
  }

  /**
   * Whether an entry under keyId ends with the same last 12 bytes as end (a
   * grant's signature, or the bytes verified): false means has() is false
   * too, found without a hash; true means only has() can tell.
   */
  mayHave(end: Uint8Array, keyId: number): boolean {
    return !this.closed && isBytes(end) && end.length >= TAIL && this.index.hasOwnProperty(indexKey(keyId, tailOf(end)));
  }

  /** True when exactly these bytes were verified under keyId and not invalidated since. */
  has(grant: Uint8Array, keyId: number): boolean {
    if (this.closed || !isBytes(grant) || grant.length < TAIL || !isU32(keyId)) return false;
    const key = indexKey(keyId, tailOf(grant));
    return this.index.hasOwnProperty(key) && same(this.index[key].d, this.digest(keyId, grant));
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
    this.keep(function (e) {
      return e.t >= now;
    });
    return true;
  }

  size(): number {
    return this.n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.j) this.j.close();
  }
}
