import { SimFlash, PowerLoss } from "../../sim/hw/flash";
import { SimRandom } from "../../sim/hw/system";
import { Journal } from "../../firmware/store/journal";
import { crc32 } from "../../firmware/store/crc32";
import { Outbox, RecordLog, outboxBytes, rankOf } from "../../firmware/uplink/outbox";
import { OUTBOX_EVENTS, UPLINK_JOURNALS } from "../../firmware/storage-plan";
import { BoxEvent } from "../../firmware/events";

function journal(flash: SimFlash, segmentBytes = 1024, maxSegments = 4): Journal {
  return new Journal({ flash, prefix: "ob", segmentBytes, maxSegments, crc32 });
}

function ev(i: number, type = "access", reason = "r" + i): BoxEvent {
  return { type, reason, t: 1700000000 + i, m: i * 10, d: { n: i } };
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

/**
 * The owner's side: every payload seen per sequence number (which must never
 * change) and the loss reports. covered(seq) is true when the owner got seq
 * itself or a loss report whose range holds it.
 */
class Owner {
  readonly bySeq = new Map<number, string>();
  readonly reports: any[] = [];
  see(p: Uint8Array | any): any {
    const e = p instanceof Uint8Array ? decode(p) : p;
    const text = JSON.stringify(e);
    const was = this.bySeq.get(e.seq);
    if (was !== undefined && was !== text) throw new Error("seq " + e.seq + " changed: " + was + " -> " + text);
    this.bySeq.set(e.seq, text);
    if (e.type === "outbox" && e.reason === "lost") this.reports.push(e);
    return e;
  }
  covered(seq: number): boolean {
    return this.bySeq.has(seq) || this.reports.some((r) => r.d.from <= seq && seq <= r.d.to);
  }
  lostOf(type: string): number {
    return this.reports.reduce((s, r) => s + (r.d[type] || 0), 0);
  }
}

/** A RecordLog in front of a journal that refuses every write while told to, as a full Storage does. */
class Refusing implements RecordLog {
  refuse = false;
  constructor(private readonly inner: Journal) {}
  records() {
    return this.inner.records();
  }
  append(r: Uint8Array) {
    return !this.refuse && this.inner.append(r);
  }
  rewrite(rs: Uint8Array[]) {
    return !this.refuse && this.inner.rewrite(rs);
  }
  close() {
    this.inner.close();
  }
}

describe("Outbox", () => {
  test("events keep their order and sequence numbers across a reboot; acked ones never come back once the session's acks are flushed", () => {
    const flash = new SimFlash();
    const rnd = new SimRandom({ seed: 1 });
    let ob = new Outbox({ log: journal(flash), random: rnd });
    for (let i = 1; i <= 5; i++) expect(ob.push(ev(i))).toBeUndefined();
    const first = ob.peek(0, 2);
    expect(first.map((x) => x.seq)).toEqual([1, 2]);
    expect(first.every((x) => !x.dup)).toBe(true);
    ob.ack(1);
    ob.ack(2);
    ob.flush(); // the uplink does this when the link goes down or idle
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
    ob.flush();
    ob = new Outbox({ log: journal(flash), random: rnd });
    expect(ob.size).toBe(0);
    expect(ob.nextSeq).toBe(7);
  });

  test("a drop is a short record naming what went, not the whole tally again; the counts survive a reboot", () => {
    const flash = new SimFlash({ capacity: 1 << 20 });
    let ob = new Outbox({ log: journal(flash, 4032, 2), random: new SimRandom({ seed: 8 }), capacity: 8 });
    for (let i = 1; i <= 8; i++) ob.push(ev(i, "access", "granted"));
    for (let i = 0; i < 5; i++) ob.push(ev(100 + i, "ble", "connected"));
    const before = flash.programmed;
    for (let i = 0; i < 40; i++) expect(ob.push(ev(200 + i, "modem", "power_on"))).toBe("outbox_full");
    // each dropped chatter event costs one record of a few dozen bytes with its frame
    expect((flash.programmed - before) / 40).toBeLessThan(12 + 10 + 5 + 5 + 4);
    ob = new Outbox({ log: journal(flash, 4032, 2), random: new SimRandom({ seed: 9 }), capacity: 8 });
    expect(ob.pendingLoss).toBe(45);
    const report = drain(ob).filter((e) => e.type === "outbox");
    expect(report).toHaveLength(1);
    expect(report[0].d).toMatchObject({ lost: 45, modem: 40, ble: 5 });
    expect(report[0].d.to - report[0].d.from + 1).toBe(45);
  });

  test("acks are written in batches: one lost to a power cut only sends its event again, unchanged, under its number", () => {
    const flash = new SimFlash();
    let ob = new Outbox({ log: journal(flash), random: new SimRandom({ seed: 3 }) });
    for (let i = 1; i <= 24; i++) ob.push(ev(i));
    const sent = ob.peek(0, 24);
    const writes = flash.programmed;
    for (let i = 1; i <= 24; i++) ob.ack(i);
    // 24 acks, one 25-byte record (after 16 of them), perhaps in a new segment file (its 32-byte header): not a record each
    expect(flash.programmed - writes).toBeLessThanOrEqual(25 + 32);
    // the power fails before the link goes down: acks 17..24 were never written
    ob = new Outbox({ log: journal(flash), random: new SimRandom({ seed: 4 }) });
    const again = ob.peek(0, 24);
    expect(again.map((x) => x.seq)).toEqual(Array.from({ length: 8 }, (_, k) => 17 + k));
    expect(again.every((x) => x.dup)).toBe(true);
    expect(Buffer.from(again[0].payload)).toEqual(Buffer.from(sent[16].payload));
    expect(ob.nextSeq).toBe(25);
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

  test("a long run rewrites its journal and keeps working; nobody reclaims Storage for it", () => {
    // Storage large enough for every generation the run leaves erased: reclaiming it is the firmware's upkeep, not this test's
    const flash = new SimFlash({ capacity: 1 << 20 });
    const ob = new Outbox({ log: journal(flash, 512, 3), random: new SimRandom() });
    let delivered = 0;
    for (let i = 1; i <= 400; i++) {
      expect(ob.push(ev(i))).toBeUndefined();
      if (i % 3 === 0) delivered += drain(ob).length;
      expect(flash.list("ob~").length).toBeLessThanOrEqual(3);
    }
    delivered += drain(ob).length;
    expect(delivered).toBe(400);
    expect(ob.nextSeq).toBe(401);
  });

  test("the priority table: chatter first, access decisions, tamper, latch faults and a critical battery last", () => {
    expect(rankOf("modem", "reg_lost")).toBe(0);
    expect(rankOf("link", "down")).toBe(0);
    expect(rankOf("telemetry", "x")).toBe(0);
    for (const [t, r] of [["access", "granted"], ["tamper", "lid_forced"], ["latch", "fault"], ["latch_refused", "fault"], ["power", "battery_critical"]]) {
      expect(rankOf(t, r)).toBeGreaterThan(rankOf("latch", "locked"));
      expect(rankOf(t, r)).toBeGreaterThan(rankOf("power", "battery_low"));
      expect(rankOf(t, r)).toBeGreaterThan(rankOf("ble", "decision"));
    }
    expect(rankOf("outbox", "lost")).toBeGreaterThan(rankOf("tamper", "x"));
    expect(rankOf("constructor", "x")).toBe(2); // unknown types rank in the middle, whatever their name
  });

  test("when full, modem chatter gives way before access and tamper, oldest first, and the owner gets a loss report", () => {
    const flash = new SimFlash();
    const ob = new Outbox({ log: journal(flash, 2048, 4), random: new SimRandom(), capacity: 6 });
    const owner = new Owner();
    const stored: number[] = [];
    const push = (e: BoxEvent) => {
      const seq = ob.nextSeq;
      if (ob.push(e) === undefined) stored.push(seq);
      return seq;
    };
    for (let i = 1; i <= 3; i++) push(ev(i, "modem", "reg_lost"));
    for (let i = 4; i <= 6; i++) push(ev(i, "access", "granted"));
    push(ev(7, "tamper", "lid_forced")); // the oldest modem event (1) gives way
    for (let i = 8; i <= 20; i++) push(ev(i, "modem", "registered")); // modem chatter only ever replaces modem chatter
    expect(ob.size).toBe(6);
    expect(ob.pendingLoss).toBe(14);
    push(ev(21, "access", "granted"));
    push(ev(22, "access", "granted")); // the last modem events give way
    push(ev(23, "access", "granted")); // only rank-4 events left: the oldest of them gives way
    const got = drain(ob, 2).map((e) => owner.see(e));
    expect(got.map((e) => [e.seq, e.type])).toEqual([
      [5, "access"],
      [6, "access"],
      [7, "tamper"],
      [21, "access"],
      [22, "access"],
      [23, "access"],
      [24, "outbox"],
    ]);
    expect(got[6]).toMatchObject({ reason: "lost", t: 1700000004, d: { from: 1, to: 20, lost: 17, modem: 16, access: 1 } });
    for (let s = 1; s <= 23; s++) expect(owner.covered(s)).toBe(true);
    expect(stored).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
  });

  test("events handed to the link are never dropped; the rest obey the policy", () => {
    const ob = new Outbox({ log: journal(new SimFlash(), 2048, 4), random: new SimRandom(), capacity: 4 });
    for (let i = 1; i <= 4; i++) ob.push(ev(i));
    const sent = ob.peek(0, 2);
    for (let i = 5; i <= 8; i++) ob.push(ev(i));
    const owner = new Owner();
    sent.forEach((x) => owner.see(x.payload));
    const rest = ob.peek(2, 10).map((x) => owner.see(x.payload));
    expect(sent.map((x) => decode(x.payload).reason)).toEqual(["r1", "r2"]);
    expect(rest.map((e) => e.seq)).toEqual([7, 8, 9]);
    expect(rest[2]).toMatchObject({ type: "outbox", reason: "lost", d: { from: 3, to: 6, lost: 4, access: 4 } });
    for (let s = 1; s <= 8; s++) expect(owner.covered(s)).toBe(true);
  });

  test("a reboot with a full outbox still records new tamper events, and the loss tally survives it", () => {
    const flash = new SimFlash();
    const open = () => new Outbox({ log: journal(flash, 2048, 4), random: new SimRandom(), capacity: 8 });
    let ob = open();
    for (let i = 1; i <= 8; i++) ob.push(ev(i, i % 2 ? "modem" : "access", "x"));
    ob = open(); // full, and nothing of it was handed out in this boot
    expect(ob.size).toBe(8);
    expect(ob.push(ev(9, "tamper", "lid_forced"))).toBeUndefined();
    expect(ob.push(ev(10, "tamper", "shock"))).toBeUndefined();
    expect(ob.pendingLoss).toBe(2);
    ob = open();
    expect(ob.pendingLoss).toBe(2);
    expect(ob.nextSeq).toBe(11);
    for (let i = 11; i <= 20; i++) expect(ob.push(ev(i, "tamper", "shock"))).toBeUndefined();
    ob = open();
    const owner = new Owner();
    const got = drain(ob).map((e) => owner.see(e));
    expect(got.filter((e) => e.type === "tamper").length).toBe(8);
    expect(got.filter((e) => e.type === "access").length).toBe(0);
    const report = got[got.length - 1];
    expect(report).toMatchObject({ type: "outbox", reason: "lost", seq: 21, d: { from: 1, to: 12, lost: 12, modem: 4, access: 4, tamper: 4 } });
    for (let s = 1; s <= 20; s++) expect(owner.covered(s)).toBe(true);
  });

  test("while Storage refuses every write the losses are counted, and written with the next record it takes", () => {
    const flash = new SimFlash();
    const open = () => new Refusing(journal(flash, 2048, 4));
    let log = open();
    let ob = new Outbox({ log, random: new SimRandom() });
    ob.push(ev(1));
    log.refuse = true;
    expect(ob.push(ev(2, "tamper", "shock"))).toBe("outbox_store_failed");
    expect(ob.push(ev(3, "tamper", "shock"))).toBe("outbox_store_failed");
    expect(ob.pendingLoss).toBe(2);
    log.refuse = false;
    expect(ob.push(ev(4))).toBeUndefined();
    log = open();
    ob = new Outbox({ log, random: new SimRandom() }); // reboot: the count was on flash, not only in RAM
    expect(ob.pendingLoss).toBe(2);
    expect(ob.nextSeq).toBe(5); // 2 and 3 are never given again
    const owner = new Owner();
    const got = drain(ob).map((e) => owner.see(e));
    expect(got.map((e) => e.seq)).toEqual([1, 4, 5]);
    expect(got[2].d).toEqual({ from: 2, to: 3, lost: 2, tamper: 2 });
  });

  test("holds the configured number of events at their largest in the journal storage-plan.ts gives it", () => {
    const plan = UPLINK_JOURNALS.outbox;
    const flash = new SimFlash({ capacity: 64 * 1024 });
    const open = () =>
      new Outbox({
        log: new Journal({ flash, prefix: plan.prefix, segmentBytes: plan.segmentBytes, maxSegments: plan.maxSegments, crc32 }),
        random: new SimRandom(),
        capacity: OUTBOX_EVENTS,
        bytes: outboxBytes(plan.segmentBytes, plan.maxSegments),
      });
    let ob = open();
    // events whose payload is exactly the largest an event may be (200 bytes)
    const big = (i: number): BoxEvent => {
      const t = 1700000000 + i;
      const bare = `{"ep":${ob.epoch},"seq":${i},"type":"access","reason":"granted","t":${t},"m":${i},"d":{"g":"","n":${i}}}`;
      return { type: "access", reason: "granted", t, m: i, d: { g: "x".repeat(200 - bare.length), n: i } };
    };
    for (let i = 1; i <= OUTBOX_EVENTS; i++) expect(ob.push(big(i))).toBeUndefined();
    expect(ob.peek(0, 1)[0].payload.length).toBe(200);
    ob = open();
    expect(ob.size).toBe(OUTBOX_EVENTS);
    expect(ob.pendingLoss).toBe(0);
    expect(ob.push(big(OUTBOX_EVENTS + 1))).toBeUndefined();
    expect(ob.size).toBe(OUTBOX_EVENTS);
    expect(ob.pendingLoss).toBe(1);
    ob = open();
    const got = drain(ob);
    expect(got.length).toBe(OUTBOX_EVENTS + 1);
    expect(got[got.length - 1]).toMatchObject({ type: "outbox", d: { from: 1, to: 1, lost: 1, access: 1 } });
  });

  test("a power cut at any write point of push, ack, drop and report loses nothing stored, changes nothing sent, reuses no number", () => {
    const types: Array<[string, string]> = [
      ["modem", "reg_lost"],
      ["access", "granted"],
      ["tamper", "shock"],
      ["link", "down"],
      ["latch", "locked"],
    ];
    const run = (cutAt: number | undefined) => {
      const flash = new SimFlash({ capacity: 1 << 20 });
      const open = () => new Outbox({ log: journal(flash, 512, 4), random: new SimRandom({ seed: 5 }), capacity: 6 });
      const owner = new Owner();
      const stored: number[] = [];
      const acked = new Set<number>();
      let ob = open();
      if (cutAt !== undefined) flash.cutAfter(cutAt);
      try {
        let after = 0;
        for (let i = 1; i <= 40; i++) {
          const seq = ob.nextSeq;
          const [t, r] = types[(i * 7) % types.length];
          if (ob.push(ev(i, t, r)) === undefined) stored.push(seq);
          if (i % 9 === 0) {
            for (const it of ob.peek(after, 2)) {
              owner.see(it.payload);
              after = it.seq;
              acked.add(it.seq); // an ack cut short may or may not land: either way the owner has it
              ob.ack(it.seq);
            }
          }
          if (i === 20) {
            ob = open(); // a clean reboot half-way
            after = 0;
          }
        }
      } catch (e) {
        if (!(e instanceof PowerLoss)) throw e;
      }
      flash.powerOn();
      ob = open();
      const first = ob.nextSeq;
      for (let i = 41; i <= 43; i++) ob.push(ev(i, "tamper", "after"));
      const got = drain(ob).map((e) => owner.see(e)); // throws when a number comes back with other content
      const seqs = got.map((e) => e.seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
      for (const s of stored) if (!acked.has(s)) expect(owner.covered(s)).toBe(true);
      for (let s = first; s < first + 3; s++) expect(owner.covered(s)).toBe(true);
      return { programmed: flash.programmed, lost: owner.lostOf("modem") + owner.lostOf("link") + owner.lostOf("latch") };
    };
    const whole = run(undefined);
    expect(whole.lost).toBeGreaterThan(5); // the run does drop events and report them
    // about 250 cut points spread over every byte the run programs (an odd stride lands at every offset inside records)
    const stride = Math.floor(whole.programmed / 250) | 1;
    for (let cut = 0; cut < whole.programmed; cut += stride) run(cut);
    // forty events, two reboots' worth of records, drops written as short 'L' records
    expect(whole.programmed).toBeGreaterThan(5000);
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
