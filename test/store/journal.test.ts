import fc from "fast-check";
import { SimFlash, PowerLoss } from "../../sim/hw/flash";
import { crc32 as simCrc } from "../../sim/hw/system";
import { Journal } from "../../firmware/store/journal";
import { crc32, pickCrc32 } from "../../firmware/store/crc32";

function open(flash: SimFlash, prefix = "j", segmentBytes = 128, maxSegments = 3): Journal {
  return new Journal({ flash, prefix, segmentBytes, maxSegments, crc32 });
}

function rec(i: number, len = 10): Uint8Array {
  const r = new Uint8Array(len);
  for (let k = 0; k < len; k++) r[k] = (i * 31 + k * 7) & 0xff;
  return r;
}

/** Bit rot, through the simulated flash's control handle. */
function rot(flash: SimFlash, name: string, offset: number, mask: number): void {
  flash.flipBits(name, offset, mask);
}

function hex(list: Uint8Array[]): string[] {
  return list.map((r) => Buffer.from(r).toString("hex"));
}

describe("crc32", () => {
  test("matches the IEEE check value and the reference implementation", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (d) => crc32(d) === simCrc(d)),
      { numRuns: 300 },
    );
  });

  test("pickCrc32 prefers the native helper and falls back to JavaScript", () => {
    const calls: number[] = [];
    const native = (d: Uint8Array) => {
      calls.push(d.length);
      return -1;
    };
    expect(pickCrc32({ crc32: native })(new Uint8Array(3))).toBe(0xffffffff);
    expect(calls).toEqual([3]);
    expect(pickCrc32({})).toBe(crc32);
    expect(pickCrc32(undefined)).toBe(crc32);
  });
});

describe("Journal", () => {
  test("rejects bad options before touching flash", () => {
    const flash = new SimFlash();
    expect(() => open(flash, "bad name")).toThrow("journal_prefix");
    expect(() => open(flash, "a".repeat(17))).toThrow("journal_prefix");
    expect(() => open(flash, "ok", 10)).toThrow("journal_size");
    expect(() => open(flash, "ok", 128, 0)).toThrow("journal_size");
    expect(() => new Journal({ flash, prefix: "ok", segmentBytes: 128, maxSegments: 2 } as never)).toThrow("journal_options");
    expect(flash.list("")).toEqual([]);
  });

  test("appends replay in order after reopening, across segments", () => {
    const flash = new SimFlash();
    const j = open(flash);
    const written: Uint8Array[] = [];
    for (let i = 0; i < 12; i++) {
      expect(j.append(rec(i, 3 + i))).toBe(true);
      written.push(rec(i, 3 + i));
    }
    expect(hex(j.records())).toEqual(hex(written));
    j.close();
    const again = open(flash);
    expect(hex(again.records())).toEqual(hex(written));
    expect(again.append(rec(99))).toBe(true);
    expect(hex(open(flash).records())).toEqual(hex(written.concat([rec(99)])));
    for (const n of flash.list("j~")) expect(n.length).toBeLessThanOrEqual(28);
  });

  test("a full journal refuses with nothing changed; oversize records are refused", () => {
    const flash = new SimFlash();
    const j = open(flash, "j", 64, 2);
    expect(j.append(new Uint8Array(j.maxRecord() + 1))).toBe(false);
    let n = 0;
    while (j.append(rec(n))) n++;
    expect(n).toBeGreaterThan(2);
    const before = flash.snapshot();
    expect(j.append(rec(1))).toBe(false);
    expect(flash.snapshot()).toEqual(before);
    expect(j.bytesFree()).toBeLessThan(22);
    expect(open(flash, "j", 64, 2).records().length).toBe(n);
  });

  test("bytesFree shrinks with appends and recovers after rewrite", () => {
    const flash = new SimFlash();
    const j = open(flash);
    const empty = j.bytesFree();
    expect(empty).toBe(3 * 128 - 16);
    j.append(rec(1, 20));
    expect(j.bytesFree()).toBe(empty - 32);
    j.append(rec(2, 20));
    expect(j.rewrite([rec(3, 20)])).toBe(true);
    expect(j.bytesFree()).toBe(empty - 32);
  });

  test("rewrite replaces the records and erases the old generation", () => {
    const flash = new SimFlash();
    const j = open(flash);
    for (let i = 0; i < 10; i++) j.append(rec(i));
    expect(j.rewrite([rec(50), rec(51)])).toBe(true);
    expect(hex(j.records())).toEqual(hex([rec(50), rec(51)]));
    expect(flash.list("j~")).toEqual(["j~2.0"]);
    expect(j.append(rec(52))).toBe(true);
    expect(hex(open(flash).records())).toEqual(hex([rec(50), rec(51), rec(52)]));
    expect(j.rewrite([])).toBe(true);
    expect(open(flash).records()).toEqual([]);
  });

  test("rewrite that cannot fit fails with the old records intact", () => {
    const flash = new SimFlash();
    const j = open(flash, "j", 64, 2);
    j.append(rec(1));
    const big = [rec(1, 30), rec(2, 30), rec(3, 30)];
    expect(j.rewrite(big)).toBe(false);
    expect(hex(open(flash, "j", 64, 2).records())).toEqual(hex([rec(1)]));
    expect(j.append(rec(2))).toBe(true);
    expect(hex(j.records())).toEqual(hex([rec(1), rec(2)]));
  });

  test("two journals with overlapping prefixes stay apart", () => {
    const flash = new SimFlash();
    const a = open(flash, "ev");
    const b = open(flash, "evx");
    a.append(rec(1));
    b.append(rec(2));
    b.rewrite([rec(3)]);
    expect(hex(open(flash, "ev").records())).toEqual(hex([rec(1)]));
    expect(hex(open(flash, "evx").records())).toEqual(hex([rec(3)]));
  });

  test("records start on whole words, with 0xFF between, so a write needs no padding copy", () => {
    const flash = new SimFlash();
    const j = open(flash, "j", 256, 2);
    for (const len of [5, 3, 8, 1]) expect(j.append(rec(len, len))).toBe(true);
    const seg = flash.read("j~1.0")!;
    // 12 bytes of frame each: 17 -> 20, 15 -> 16, 20, 13 -> 16, from offset 16
    let at = 16;
    for (const len of [5, 3, 8, 1]) {
      expect(at % 4).toBe(0);
      expect(seg[at + 4] | (seg[at + 5] << 8)).toBe(len);
      const end = at + 12 + len;
      const next = (end + 3) & ~3;
      for (let k = end; k < next; k++) expect(seg[k]).toBe(0xff);
      at = next;
    }
    expect(hex(open(flash, "j", 256, 2).records())).toEqual(hex([rec(5, 5), rec(3, 3), rec(8, 8), rec(1, 1)]));
  });

  test("a journal written back to back (before records were word-aligned) replays and takes appends after its last record", () => {
    const flash = new SimFlash();
    // generation 1, committed, then two records of 5 and 4 bytes back to back from offset 16 (ends at 49: 17 + 16)
    const seg = new Uint8Array(256).fill(0xff);
    seg.set([0x4b, 0x4a, 1, 0, 1, 0, 0, 0], 0);
    new DataView(seg.buffer).setUint32(8, crc32(seg.subarray(0, 8)), true);
    seg.set([0x43, 0x4f, 0x4d, 0x54], 12);
    let at = 16;
    [rec(5, 5), rec(4, 4)].forEach((r, seq) => {
      const f = new Uint8Array(12 + r.length);
      const v = new DataView(f.buffer);
      v.setUint16(4, r.length, true);
      v.setUint16(6, r.length ^ 0xffff, true);
      v.setUint32(8, seq, true);
      f.set(r, 12);
      v.setUint32(0, (crc32(f.subarray(4)) ^ 1) >>> 0, true);
      seg.set(f, at);
      at += f.length;
    });
    expect(at).toBe(49);
    expect(flash.create("j~1.0", 256)).toBe(true);
    expect(flash.writeAt("j~1.0", 0, seg.subarray(0, at))).toBe(true);
    const j = open(flash, "j", 256, 2);
    expect(hex(j.records())).toEqual(hex([rec(5, 5), rec(4, 4)]));
    expect(j.append(rec(9, 9))).toBe(true);
    expect(hex(open(flash, "j", 256, 2).records())).toEqual(hex([rec(5, 5), rec(4, 4), rec(9, 9)]));
    // the next record on the next whole word, 52
    expect(flash.read("j~1.0")![52 + 4]).toBe(9);
  });

  test("a corrupted older record is skipped and the others survive", () => {
    const flash = new SimFlash();
    const j = open(flash, "j", 256, 2);
    for (let i = 0; i < 5; i++) j.append(rec(i, 12));
    // Record k sits at 16 + k * 24: rot a bit in record 2's payload, then in record 3's length.
    rot(flash, "j~1.0", 16 + 2 * 24 + 15, 0x04);
    expect(hex(open(flash, "j", 256, 2).records())).toEqual(hex([rec(0, 12), rec(1, 12), rec(3, 12), rec(4, 12)]));
    rot(flash, "j~1.0", 16 + 3 * 24 + 4, 0x01);
    const r = open(flash, "j", 256, 2);
    expect(hex(r.records())).toEqual(hex([rec(0, 12), rec(1, 12), rec(4, 12)]));
    expect(r.append(rec(7))).toBe(true);
    expect(hex(open(flash, "j", 256, 2).records())).toEqual(hex([rec(0, 12), rec(1, 12), rec(4, 12), rec(7)]));
  });

  test("a power cut at any byte of an append loses at most that record", () => {
    const base = [rec(0), rec(1), rec(2), rec(3), rec(4), rec(5), rec(6), rec(7), rec(8)];
    for (let cut = 0; cut < 40; cut++) {
      const flash = new SimFlash();
      const j = open(flash, "j", 128, 3);
      for (const r of base) expect(j.append(r)).toBe(true);
      flash.cutAfter(cut);
      let acked = false;
      try {
        acked = j.append(rec(100, 15));
      } catch (e) {
        expect(e).toBeInstanceOf(PowerLoss);
      }
      flash.powerOn();
      const r = open(flash, "j", 128, 3);
      const got = hex(r.records());
      if (acked) expect(got).toEqual(hex(base.concat([rec(100, 15)])));
      else expect([hex(base), hex(base.concat([rec(100, 15)]))]).toContainEqual(got);
      expect(r.append(rec(101))).toBe(true);
      expect(hex(open(flash, "j", 128, 3).records())).toEqual(got.concat(hex([rec(101)])));
    }
  });

  test("a record torn short of its last byte is never completed by the next append", () => {
    const flash = new SimFlash();
    const j = open(flash, "j", 128, 2);
    j.append(rec(1, 8));
    flash.cutAfter(12 + 7); // the whole frame and 7 of 8 payload bytes
    expect(() => j.append(rec(2, 8))).toThrow(PowerLoss);
    flash.powerOn();
    const r = open(flash, "j", 128, 2);
    expect(hex(r.records())).toEqual(hex([rec(1, 8)]));
    expect(r.append(rec(3, 8))).toBe(true);
    const torn = 16 + 20;
    // The torn record's missing byte stays erased: the new record starts after it.
    expect(flash.snapshot()["j~1.0"][torn + 19]).toBe(0xff);
    expect(hex(open(flash, "j", 128, 2).records())).toEqual(hex([rec(1, 8), rec(3, 8)]));
  });

  test("a power cut at any byte of a rewrite leaves the old or the new records", () => {
    const old = [rec(0, 30), rec(1, 30), rec(2, 30), rec(3, 30), rec(4, 30)];
    const next = [rec(10, 40), rec(11, 40), rec(12, 40)];
    let cut = 0;
    for (;;) {
      const flash = new SimFlash();
      const j = open(flash, "j", 128, 3);
      for (const r of old) j.append(r);
      flash.cutAfter(cut);
      let done = false;
      let acked = false;
      try {
        acked = j.rewrite(next);
        done = true;
      } catch (e) {
        expect(e).toBeInstanceOf(PowerLoss);
      }
      flash.powerOn();
      const r = open(flash, "j", 128, 3);
      const got = hex(r.records());
      if (acked) expect(got).toEqual(hex(next));
      else expect([hex(old), hex(next)]).toContainEqual(got);
      expect(r.append(rec(99))).toBe(true);
      expect(hex(open(flash, "j", 128, 3).records())).toEqual(got.concat(hex([rec(99)])));
      if (done) break;
      cut++;
    }
    expect(cut).toBeGreaterThan(150);
  });

  test("random operations with random power cuts never lose an acknowledged record", () => {
    type Op = { kind: "append"; len: number } | { kind: "rewrite"; keep: number } | { kind: "cut"; after: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant("append" as const), len: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant("rewrite" as const), keep: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant("cut" as const), after: fc.integer({ min: 0, max: 80 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops: Op[]) => {
        const flash = new SimFlash({ capacity: 4096 });
        let j = open(flash, "r", 128, 4);
        let model: string[] = [];
        let counter = 0;
        for (const o of ops) {
          if (o.kind === "cut") {
            flash.cutAfter(o.after);
            continue;
          }
          let ok = false;
          let died = false;
          const r = rec(counter++, o.kind === "append" ? o.len : 8);
          const kept = model.slice(-(o.kind === "rewrite" ? o.keep : 0) || model.length);
          try {
            if (o.kind === "append") ok = j.append(r);
            else ok = j.rewrite(o.keep === 0 ? [] : kept.map((h) => new Uint8Array(Buffer.from(h, "hex"))));
          } catch (e) {
            if (!(e instanceof PowerLoss)) throw e;
            died = true;
          }
          if (died) {
            flash.powerOn();
            j = open(flash, "r", 128, 4);
            const got = hex(j.records());
            const after = o.kind === "append" ? model.concat(hex([r])) : o.keep === 0 ? [] : kept;
            if (JSON.stringify(got) !== JSON.stringify(model) && JSON.stringify(got) !== JSON.stringify(after)) return false;
            model = got;
          } else if (ok) {
            model = o.kind === "append" ? model.concat(hex([r])) : o.keep === 0 ? [] : kept;
          }
          if (JSON.stringify(hex(j.records())) !== JSON.stringify(model)) return false;
        }
        return JSON.stringify(hex(open(flash, "r", 128, 4).records())) === JSON.stringify(model);
      }),
      { numRuns: 200 },
    );
  });
});
