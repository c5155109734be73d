/**
 * The durable side of a record log: firmware/store/journal.ts's Journal has
 * this shape (records are CRC-checked and sequence-numbered by the journal).
 */
export interface RecordLog {
  records(): Uint8Array[];
  append(rec: Uint8Array): boolean;
  rewrite(recs: Uint8Array[]): boolean;
}

const TAG = 0x46;
const REC_BYTES = 5;
/** Rewrite the log down to one record once it holds this many. */
const COMPACT_AT = 32;

/*
 * Byte format of one record: byte 0 is 0x46 ('F'), bytes 1-4 the number of
 * consecutive failed grant attempts (big-endian). The last well-formed record
 * wins; others are ignored (the journal already dropped torn or corrupt ones).
 */
function encode(n: number): Uint8Array {
  const r = new Uint8Array(REC_BYTES);
  r[0] = TAG;
  r[1] = n >>> 24;
  r[2] = (n >>> 16) & 0xff;
  r[3] = (n >>> 8) & 0xff;
  r[4] = n & 0xff;
  return r;
}

/** The count stored in recs (0 when there is none). */
export function lastFailureCount(recs: Uint8Array[]): number {
  for (let i = recs.length - 1; i >= 0; i--) {
    const r = recs[i];
    if (r && r.length === REC_BYTES && r[0] === TAG) return ((r[1] << 24) | (r[2] << 16) | (r[3] << 8) | r[4]) >>> 0;
  }
  return 0;
}

/**
 * The box-wide count of failed grant attempts, kept so that a reboot does not
 * reset the back-off. Writes one small record per change.
 */
export class FailureStore {
  private readonly log: RecordLog;

  constructor(options: { log: RecordLog }) {
    if (!options || !options.log || typeof options.log.append !== "function") throw new Error("failure_store_options");
    this.log = options.log;
  }

  load(): number {
    const recs = this.log.records();
    const n = lastFailureCount(recs);
    if (recs.length >= COMPACT_AT) this.log.rewrite([encode(n)]);
    return n;
  }

  /** false when the count could not be made durable. */
  save(n: number): boolean {
    const rec = encode(n);
    if (this.log.append(rec)) return true;
    return this.log.rewrite([rec]);
  }
}
