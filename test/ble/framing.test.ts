import fc from "fast-check";
import {
  encodeFrames,
  FRAME_BYTES,
  FRAME_CHECKSUM,
  FRAME_GARBLED,
  FRAME_INTERLEAVED,
  FRAME_ORDER,
  FRAME_OVERRUN,
  FRAME_OVERSIZE,
  FRAME_TIMEOUT,
  FRAME_TRUNCATED,
  MAX_FRAMED,
  Reassembler,
} from "../../firmware/ble/framing";
import { VirtualClock } from "../../sim/clock";
import { crc32 } from "../../sim/hw/system";

const CODES = [FRAME_GARBLED, FRAME_TRUNCATED, FRAME_OVERSIZE, FRAME_OVERRUN, FRAME_ORDER, FRAME_INTERLEAVED, FRAME_CHECKSUM];
const MAX = 512;

function setup(maxBytes = MAX) {
  const clock = new VirtualClock();
  const timeouts: string[] = [];
  const rx = new Reassembler({ clock, crc32, maxBytes, timeoutMs: 5000, onTimeout: (c) => timeouts.push(c) });
  return { clock, rx, timeouts };
}

/** Pushes frames, returning every non-undefined result in order. */
function feed(rx: Reassembler, frames: Uint8Array[]): Array<Uint8Array | string> {
  const out: Array<Uint8Array | string> = [];
  for (const f of frames) {
    const r = rx.push(f);
    if (r !== undefined) out.push(r);
  }
  return out;
}

const payload = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const multi = payload(14, MAX); // at least two frames

describe("framing", () => {
  it("round-trips any message within the limit, frames never over 20 bytes, no timer left behind", () => {
    fc.assert(
      fc.property(payload(1, MAX), fc.nat(63), (p, tag) => {
        const { rx, clock } = setup();
        const frames = encodeFrames(p, tag, crc32);
        expect(frames.every((f) => f.length >= 1 && f.length <= FRAME_BYTES)).toBe(true);
        expect(frames.slice(0, -1).every((f) => f.length === FRAME_BYTES)).toBe(true);
        const out = feed(rx, frames);
        expect(out).toEqual([p]);
        expect(clock.pending()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses empty or too large payloads at the encoder", () => {
    expect(encodeFrames(new Uint8Array(0), 0, crc32)).toEqual([]);
    expect(encodeFrames(new Uint8Array(MAX_FRAMED + 1), 0, crc32)).toEqual([]);
    expect(encodeFrames(new Uint8Array(MAX_FRAMED), 0, crc32).length).toBe(256);
  });

  it("never throws on arbitrary frame sequences, answers only with known codes, and recovers", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 24 }), { maxLength: 40 }), payload(1, 100), (junk, good) => {
        const { rx, clock } = setup();
        for (const f of junk) {
          const r = rx.push(f);
          if (typeof r === "string") expect(CODES).toContain(r);
          else if (r !== undefined) expect(r).toBeInstanceOf(Uint8Array);
        }
        clock.advance(6000); // any partial message expires
        expect(feed(rx, encodeFrames(good, 7, crc32))).toEqual([good]);
      }),
      { numRuns: 300 },
    );
  });

  it("garbled: kind bits 00/01, over-long frames, a zero total length", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7f }), fc.uint8Array({ minLength: 0, maxLength: 19 }), (b0, rest) => {
        const { rx } = setup();
        // bit 7 clear: kind 00 or 01
        expect(rx.push(Uint8Array.of(b0, ...rest))).toBe(FRAME_GARBLED);
      }),
      { numRuns: 100 },
    );
    const { rx } = setup();
    expect(rx.push(new Uint8Array(21).fill(0xc0))).toBe(FRAME_GARBLED);
    expect(rx.push(new Uint8Array(0))).toBe(FRAME_GARBLED);
    expect(rx.push(Uint8Array.of(0xc0, 0, 0, 0, 0, 0, 0))).toBe(FRAME_GARBLED);
  });

  it("oversized: a declared length above the limit is refused at the first frame", () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX + 1, max: 0xffff }), (total) => {
        const { rx, clock } = setup();
        const f = new Uint8Array(FRAME_BYTES);
        f[0] = 0xc1;
        f[1] = total >> 8;
        f[2] = total & 0xff;
        expect(rx.push(f)).toBe(FRAME_OVERSIZE);
        expect(rx.busy()).toBe(false);
        expect(clock.pending()).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it("truncated: a short header, or a non-final frame cut short", () => {
    fc.assert(
      fc.property(multi, fc.nat(), fc.integer({ min: 1, max: 19 }), (p, which, keep) => {
        const { rx } = setup();
        const frames = encodeFrames(p, 3, crc32);
        const i = which % (frames.length - 1); // any frame but the last
        const cut = frames[i].subarray(0, Math.min(keep, FRAME_BYTES - 1));
        const out = feed(rx, [...frames.slice(0, i), cut]);
        expect(out).toEqual([FRAME_TRUNCATED]);
        expect(rx.busy()).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it("a message whose last frames never come times out with frame_timeout, once", () => {
    fc.assert(
      fc.property(multi, fc.nat(), (p, which) => {
        const { rx, clock, timeouts } = setup();
        const frames = encodeFrames(p, 9, crc32);
        const n = 1 + (which % (frames.length - 1));
        expect(feed(rx, frames.slice(0, n))).toEqual([]);
        clock.advance(4999);
        expect(timeouts).toEqual([]);
        clock.advance(1);
        expect(timeouts).toEqual([FRAME_TIMEOUT]);
        // The rest arriving late is a stray continuation.
        expect(feed(rx, frames.slice(n))[0]).toBe(FRAME_ORDER);
        clock.advance(60000);
        expect(timeouts).toEqual([FRAME_TIMEOUT]);
      }),
      { numRuns: 100 },
    );
  });

  it("out of order: a continuation first, a skipped or repeated sequence number", () => {
    fc.assert(
      fc.property(payload(33, MAX), fc.nat(), fc.nat(), (p, a, b) => {
        const frames = encodeFrames(p, 5, crc32);
        const conts = frames.length - 1;
        // stray continuation with nothing started
        expect(setup().rx.push(frames[1 + (a % conts)])).toBe(FRAME_ORDER);
        // swap two different continuations
        const i = 1 + (a % conts);
        let j = 1 + (b % conts);
        if (j === i) j = i === conts ? 1 : i + 1;
        const [lo, hi] = i < j ? [i, j] : [j, i];
        const swapped = frames.slice();
        swapped[lo] = frames[hi];
        swapped[hi] = frames[lo];
        const out = feed(setup().rx, swapped);
        // the frame at lo carries sequence number hi
        expect(out[0]).toBe(FRAME_ORDER);
        expect(out.some((r) => r instanceof Uint8Array)).toBe(false);
        // a repeated frame (not the last, which would already complete the message)
        const r = 1 + (a % (conts - 1));
        const again = feed(setup().rx, [...frames.slice(0, r + 1), frames[r]]);
        expect(again).toEqual([FRAME_ORDER]);
      }),
      { numRuns: 150 },
    );
  });

  it("interleaved: frames of two messages mixed, or a new message started over a partial one", () => {
    fc.assert(
      fc.property(multi, multi, fc.nat(62), (p, q, t) => {
        const a = encodeFrames(p, t, crc32);
        const b = encodeFrames(q, t + 1, crc32);
        // a's first frame, then b's continuation: tags differ
        expect(feed(setup().rx, [a[0], b[1]])).toEqual([FRAME_INTERLEAVED]);
        // b starts while a is partial
        const r = setup().rx;
        expect(feed(r, [a[0], b[0]])).toEqual([FRAME_INTERLEAVED]);
        // after the error the box is idle again: a clean message goes through
        expect(feed(r, b)).toEqual([q]);
      }),
      { numRuns: 150 },
    );
  });

  it("checksum: any payload bit flipped in transit", () => {
    fc.assert(
      fc.property(payload(1, MAX), fc.nat(), fc.nat(7), (p, at, bit) => {
        const frames = encodeFrames(p, 1, crc32).map((f) => f.slice());
        // pick a payload byte position across the frames
        const spots: Array<[number, number]> = [];
        frames.forEach((f, i) => {
          for (let k = i === 0 ? 7 : 2; k < f.length; k++) spots.push([i, k]);
        });
        const [fi, k] = spots[at % spots.length];
        frames[fi][k] ^= 1 << bit;
        expect(feed(setup().rx, frames)).toEqual([FRAME_CHECKSUM]);
      }),
      { numRuns: 150 },
    );
  });

  it("overrun: more bytes than the first frame declared", () => {
    fc.assert(
      fc.property(payload(1, 12), (p) => {
        const f = encodeFrames(p, 0, crc32)[0];
        const longer = new Uint8Array(f.length + 1);
        longer.set(f);
        expect(setup().rx.push(longer)).toBe(FRAME_OVERRUN);
      }),
      { numRuns: 50 },
    );
    const frames = encodeFrames(new Uint8Array(20), 0, crc32); // 13 + 7
    const last = new Uint8Array(frames[1].length + 3);
    last.set(frames[1]);
    expect(feed(setup().rx, [frames[0], last])).toEqual([FRAME_OVERRUN]);
  });

  it("close() cancels the timeout", () => {
    const { rx, clock, timeouts } = setup();
    rx.push(encodeFrames(new Uint8Array(40), 0, crc32)[0]);
    expect(clock.pending()).toBe(1);
    rx.close();
    rx.close();
    clock.advance(10000);
    expect(timeouts).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
