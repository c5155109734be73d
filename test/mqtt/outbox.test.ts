import fc from "fast-check";
import { SimFlash, PowerLoss } from "../../sim/hw/flash";
import { SimRandom } from "../../sim/hw/system";
import { Journal } from "../../firmware/store/journal";
import { crc32 } from "../../firmware/store/crc32";
import { Outbox } from "../../firmware/uplink/outbox";
import { BoxEvent } from "../../firmware/events";

function journal(flash: SimFlash, segmentBytes = 1024, maxSegments = 4): Journal {
  return new Journal({ flash, prefix: "ob", segmentBytes, maxSegments, crc32 });
}

function ev(i: number, type = "access"): BoxEvent {
  return { type, reason: "r" + i, t: 1700000000 + i, m: i * 10, d: { n: i } };
}

function decode(p: Uint8Array): any {
  return JSON.parse(Buffer.from(p).toString("utf8"));
}

/** Delivers everything in the outbox, acking as it goes; returns the payloads. */
function drain(ob: Outbox, window = 3): any[] {
  const got: any[] = [];
  let after = 0;
  for (;;) {
    const items = ob.peek(after, window);
    if (!items.length) break;
    for (const it of items) {
      got.push(decode(it.payload));
      after = it.seq;
    }
    for (const it of items) ob.ack(it.seq);
  }
  return got;
}

describe("Outbox", () => {
  test("events keep their order and sequence numbers across a reboot; acked ones never come back", () => {
    const flash = new SimFlash();
    const rnd = new SimRandom({ seed: 1 });
    let ob = new Outbox({ log: journal(flash), random: rnd });
    for (let i = 1; i <= 5; i++) expect(ob.push(ev(i))).toBeUndefined();
    const first = ob.peek(0, 2);
    expect(first.map((x) => x.seq)).toEqual([1, 2]);
    expect(first.every((x) => !x.dup)).toBe(true);
    ob.ack(1);
    ob.ack(2);
    const epoch = ob.epoch;
    // reboot: RAM gone, flash kept
    ob = new Outbox({ log: journal(flash), random: new SimRandom({ seed: 99 }) });
    expect(ob.epoch).toBe(epoch);
    const again = ob.peek(0, 10);
    expect(again.map((x) => x.seq)).toEqual([3, 4, 5]);
    expect(again.every((x) => x.dup)).toBe(true); // may have reached the broker before the reboot
    expect(decode(again[0].payload)).toMatchObject({ ep: epoch, seq: 3, type: "access", reason: "r3", t: 1700000003, m: 30, d: { n: 3 } });
    ob.push(ev(6));
    expect(drain(ob).map((x) => x.seq)).toEqual([3, 4, 5, 6]);
    ob = new Outbox({ log: journal(flash), random: rnd });
    expect(ob.size).toBe(0);
    expect(ob.nextSeq).toBe(7);
  });

  test("out-of-order acks only advance the durable watermark over a complete prefix", () => {
    const flash = new SimFlash();
    let ob = new Outbox({ log: journal(flash), random: new SimRandom() });
    for (let i = 1; i <= 4; i++) ob.push(ev(i));
    ob.peek(0, 4);
    ob.ack(2);
    ob.ack(3);
    expect(ob.size).toBe(4);
    ob = new Outbox({ log: journal(flash), random: new SimRandom() });
    expect(ob.peek(0, 10).map((x) => x.seq)).toEqual([1, 2, 3, 4]);
  });

  test("a long run compacts the journal and keeps working within its flash budget", () => {
    const flash = new SimFlash();
    const ob = new Outbox({ log: journal(flash, 512, 3), random: new SimRandom() });
    let delivered = 0;
    for (let i = 1; i <= 400; i++) {
      expect(ob.push(ev(i))).toBeUndefined();
      if (i % 3 === 0) delivered += drain(ob).length;
      // the storage maintainer reclaims erased segments while power is good (journal.ts leaves it to the caller)
      if (flash.free() < 4096) flash.compact();
    }
    delivered += drain(ob).length;
    expect(delivered).toBe(400);
  });

  test("when full, telemetry coalesces and access events fold into an explicit overflow record", () => {
    const flash = new SimFlash();
    const ob = new Outbox({ log: journal(flash, 2048, 4), random: new SimRandom(), capacity: 6 });
    ob.push(ev(1, "telemetry"));
    for (let i = 2; i <= 6; i++) ob.push(ev(i, "access"));
    ob.push(ev(7, "telemetry")); // supersedes telemetry #1
    const list = drain(ob, 1);
    expect(list.map((x) => x.seq)).toEqual([2, 3, 4, 5, 6, 7]);
    for (let i = 8; i <= 12; i++) ob.push(ev(i, "access"));
    ob.push(ev(13, "tamper"));
    ob.push(ev(14, "access"));
    ob.push(ev(15, "access"));
    const out = drain(ob, 1);
    // every sequence number is accounted for: delivered or inside an overflow range
    const covered = new Set<number>();
    let lostAccess = 0;
    for (const x of out) {
      if (x.type === "outbox" && x.reason === "overflow") {
        for (let s = x.seq; s <= x.d.to; s++) covered.add(s);
        lostAccess += x.d.access || 0;
        expect(x.d.lost).toBe(x.d.to - x.seq + 1);
      } else covered.add(x.seq);
    }
    expect([...covered].sort((a, b) => a - b)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(out.length).toBeLessThanOrEqual(6);
    expect(lostAccess).toBeGreaterThan(0);
    expect(out[out.length - 1]).toMatchObject({ seq: 15, type: "access" });
  });

  test("events already handed to the link are never folded away", () => {
    const ob = new Outbox({ log: journal(new SimFlash(), 2048, 4), random: new SimRandom(), capacity: 4 });
    for (let i = 1; i <= 4; i++) ob.push(ev(i));
    const sent = ob.peek(0, 2);
    for (let i = 5; i <= 8; i++) ob.push(ev(i));
    const rest = ob.peek(2, 10).map((x) => decode(x.payload));
    expect(sent.map((x) => decode(x.payload).reason)).toEqual(["r1", "r2"]);
    expect(rest[0]).toMatchObject({ seq: 3, type: "outbox", reason: "overflow" });
    expect(rest[rest.length - 1]).toMatchObject({ seq: 8, reason: "r8" });
  });

  test("a power cut at any write point loses no event whose push returned, and never reorders", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 1, max: 3 }), (cutAt, window) => {
        const flash = new SimFlash({ capacity: 1 << 20 });
        let ob = new Outbox({ log: journal(flash, 2048, 4), random: new SimRandom() });
        const stored: number[] = [];
        const acked = new Set<number>();
        flash.cutAfter(cutAt);
        try {
          let after = 0;
          for (let i = 1; i <= 40; i++) {
            if (ob.push(ev(i)) === undefined) stored.push(i);
            if (i % 4 === 0) {
              const items = ob.peek(after, window);
              for (const it of items) {
                after = it.seq;
                acked.add(decode(it.payload).d.n); // an ack cut short may or may not have landed
                ob.ack(it.seq);
              }
            }
          }
        } catch (e) {
          if (!(e instanceof PowerLoss)) throw e;
        }
        flash.powerOn();
        ob = new Outbox({ log: journal(flash, 2048, 4), random: new SimRandom() });
        const got = drain(ob);
        expect(got.every((x) => x.type === "access")).toBe(true);
        const after = got.map((x) => x.d.n);
        // in order, no duplicates inside one delivery
        for (let i = 1; i < after.length; i++) expect(after[i]).toBeGreaterThan(after[i - 1]);
        for (const n of stored) if (!acked.has(n)) expect(after).toContain(n);
      }),
      { numRuns: 120 },
    );
  });
});

describe("Outbox payload bound", () => {
  test("an oversized event still fits one journal record, marked as cut", () => {
    const flash = new SimFlash();
    const ob = new Outbox({ log: journal(flash, 256, 2), random: new SimRandom() });
    expect(ob.push({ type: "access", reason: "granted", t: 1, m: 2, d: { note: "x".repeat(500) } })).toBeUndefined();
    const [it] = ob.peek(0, 1);
    expect(it.payload.length).toBeLessThanOrEqual(200);
    expect(decode(it.payload)).toMatchObject({ seq: 1, type: "access", reason: "granted", d: { cut: expect.any(Number) } });
  });
});
