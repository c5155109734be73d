import { Clock, Handle } from "../../hal";

/** One BLE packet: the default ATT MTU (23) minus the 3-byte ATT header. */
export const FRAME_BYTES = 20;
const FIRST_HEADER = 7;
const CONT_HEADER = 2;
const FIRST_ROOM = FRAME_BYTES - FIRST_HEADER;
const CONT_ROOM = FRAME_BYTES - CONT_HEADER;
/** The most a message can carry in this format (13 + 255 * 18 bytes). */
export const MAX_FRAMED = FIRST_ROOM + 255 * CONT_ROOM;

/** Frame-layer error codes: each names what was wrong with the frame that arrived. */
export const FRAME_GARBLED = "frame_garbled";
export const FRAME_TRUNCATED = "frame_truncated";
export const FRAME_OVERSIZE = "frame_oversize";
export const FRAME_OVERRUN = "frame_overrun";
export const FRAME_ORDER = "frame_order";
export const FRAME_INTERLEAVED = "frame_interleaved";
export const FRAME_CHECKSUM = "frame_checksum";
export const FRAME_TIMEOUT = "frame_timeout";

/*
 * Byte format. A message (any byte string of 1..4603 bytes) travels as one or
 * more frames of at most 20 bytes. Byte 0 of every frame: bits 7-6 are the
 * kind (11 = first frame, 10 = continuation; 00 and 01 are invalid), bits 5-0
 * the tag, the sender's message counter mod 64, equal in all frames of one
 * message. A first frame continues with the total payload length (2 bytes,
 * big-endian, >= 1), the CRC-32 (IEEE, as E.CRC32) of the whole payload
 * (4 bytes, big-endian), then up to 13 payload bytes. A continuation frame
 * continues with its sequence number (1 byte: 1 for the first continuation,
 * then +1) and up to 18 payload bytes. Every frame but a message's last is
 * full (20 bytes); the last carries exactly the bytes that remain. The sender
 * never interleaves two messages: one must be complete before the next starts.
 */

/** Splits payload into frames (used by the box for responses and by the driver client for requests). */
export function encodeFrames(payload: Uint8Array, tag: number, crc32: (d: Uint8Array) => number): Uint8Array[] {
  const n = payload.length;
  if (n < 1 || n > MAX_FRAMED) return [];
  const t = tag & 0x3f;
  const crc = crc32(payload) >>> 0;
  const out: Uint8Array[] = [];
  let take = n < FIRST_ROOM ? n : FIRST_ROOM;
  const first = new Uint8Array(FIRST_HEADER + take);
  first[0] = 0xc0 | t;
  first[1] = n >> 8;
  first[2] = n & 0xff;
  first[3] = crc >>> 24;
  first[4] = (crc >>> 16) & 0xff;
  first[5] = (crc >>> 8) & 0xff;
  first[6] = crc & 0xff;
  first.set(payload.subarray(0, take), FIRST_HEADER);
  out.push(first);
  let pos = take;
  let seq = 1;
  while (pos < n) {
    take = n - pos < CONT_ROOM ? n - pos : CONT_ROOM;
    const f = new Uint8Array(CONT_HEADER + take);
    f[0] = 0x80 | t;
    f[1] = seq;
    f.set(payload.subarray(pos, pos + take), CONT_HEADER);
    out.push(f);
    pos += take;
    seq++;
  }
  return out;
}

export interface ReassemblerOptions {
  clock: Clock;
  crc32: (d: Uint8Array) => number;
  /** Largest message accepted (declared lengths above it are refused at the first frame). */
  maxBytes: number;
  /** A message must be complete this long after its first frame. */
  timeoutMs: number;
  /** Called from the clock when a partial message expires (with FRAME_TIMEOUT). */
  onTimeout: (code: string) => void;
}

/**
 * Rebuilds messages from frames, one at a time. push() returns the complete
 * message, an error code (the partial message is then discarded), or
 * undefined while more frames are needed. It never throws on any input.
 */
export class Reassembler {
  private buf: Uint8Array | undefined;
  private fill = 0;
  private tag = 0;
  private seq = 0;
  private crc = 0;
  private timer: Handle | undefined;
  private readonly o: ReassemblerOptions;

  constructor(options: ReassemblerOptions) {
    const o = options;
    if (!o || !o.clock || typeof o.crc32 !== "function" || typeof o.onTimeout !== "function") throw new Error("reassembler_options");
    if (!(o.maxBytes >= 1 && o.maxBytes <= MAX_FRAMED) || !(o.timeoutMs > 0)) throw new Error("reassembler_options");
    this.o = o;
  }

  /** True while a message is partly received. */
  busy(): boolean {
    return this.buf !== undefined;
  }

  push(frame: Uint8Array): Uint8Array | string | undefined {
    const len = frame ? frame.length : 0;
    if (len < 1 || len > FRAME_BYTES) return this.fail(FRAME_GARBLED);
    const kind = frame[0] & 0xc0;
    const tag = frame[0] & 0x3f;
    if (kind === 0xc0) {
      if (this.buf) return this.fail(FRAME_INTERLEAVED);
      if (len < FIRST_HEADER) return this.fail(FRAME_TRUNCATED);
      const total = (frame[1] << 8) | frame[2];
      if (total < 1) return this.fail(FRAME_GARBLED);
      if (total > this.o.maxBytes || total > MAX_FRAMED) return this.fail(FRAME_OVERSIZE);
      const carried = len - FIRST_HEADER;
      if (carried > total) return this.fail(FRAME_OVERRUN);
      if (carried < total && len < FRAME_BYTES) return this.fail(FRAME_TRUNCATED);
      this.buf = new Uint8Array(total);
      this.buf.set(frame.subarray(FIRST_HEADER), 0);
      this.fill = carried;
      this.tag = tag;
      this.seq = 1;
      this.crc = ((frame[3] << 24) | (frame[4] << 16) | (frame[5] << 8) | frame[6]) >>> 0;
      if (this.fill === total) return this.finish();
      const self = this;
      this.timer = this.o.clock.after(this.o.timeoutMs, function () {
        self.timer = undefined;
        if (!self.buf) return;
        self.drop();
        self.o.onTimeout(FRAME_TIMEOUT);
      });
      return undefined;
    }
    if (kind !== 0x80) return this.fail(FRAME_GARBLED);
    const buf = this.buf;
    if (!buf) return this.fail(FRAME_ORDER);
    if (tag !== this.tag) return this.fail(FRAME_INTERLEAVED);
    if (len < CONT_HEADER) return this.fail(FRAME_TRUNCATED);
    if (frame[1] !== this.seq) return this.fail(FRAME_ORDER);
    const carried = len - CONT_HEADER;
    const left = buf.length - this.fill;
    if (carried > left) return this.fail(FRAME_OVERRUN);
    if (carried < left && len < FRAME_BYTES) return this.fail(FRAME_TRUNCATED);
    buf.set(frame.subarray(CONT_HEADER), this.fill);
    this.fill += carried;
    this.seq++;
    if (this.fill === buf.length) return this.finish();
    return undefined;
  }

  /** Forgets any partial message (on disconnect). */
  reset(): void {
    this.drop();
  }

  close(): void {
    this.drop();
  }

  private finish(): Uint8Array | string {
    const msg = this.buf as Uint8Array;
    const want = this.crc;
    this.drop();
    if (this.o.crc32(msg) >>> 0 !== want) return FRAME_CHECKSUM;
    return msg;
  }

  private fail(code: string): string {
    this.drop();
    return code;
  }

  private drop(): void {
    this.buf = undefined;
    this.fill = 0;
    if (this.timer) this.timer.cancel();
    this.timer = undefined;
  }
}
