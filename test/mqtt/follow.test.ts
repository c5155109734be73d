import { EventFollower } from "../../sim/owner/follow";

const ev = (ep: number, seq: number) => JSON.stringify({ ep, seq, type: "access", reason: "r" + seq, t: 0, m: seq });

describe("EventFollower (owner side)", () => {
  test("prints each event once and in order, holding early arrivals until the gap fills", () => {
    const f = new EventFollower();
    const printed: number[] = [];
    const feed = (ep: number, seq: number) => f.feed(ev(ep, seq)).forEach((e) => printed.push(e.seq));
    feed(7, 3); // first seen: the stream starts here
    feed(7, 4);
    feed(7, 4); // duplicate
    feed(7, 6); // early
    expect(printed).toEqual([3, 4]);
    feed(7, 5);
    expect(printed).toEqual([3, 4, 5, 6]);
    feed(7, 3);
    expect(f.duplicates).toBe(2);
    feed(7, 9);
    const r = f.flushGaps();
    expect(r.skipped).toEqual([7, 8]);
    expect(r.events.map((e) => e.seq)).toEqual([9]);
    feed(8, 1); // a wiped box: new epoch, new stream
    expect(printed).toEqual([3, 4, 5, 6, 1]);
  });

  test("a loss report releases what waited behind the numbers it says were lost", () => {
    const f = new EventFollower();
    const printed: number[] = [];
    const feed = (e: object) => f.feed(JSON.stringify(e)).forEach((x) => printed.push(x.seq));
    feed({ ep: 1, seq: 1, type: "access", reason: "granted", t: 0, m: 0 });
    feed({ ep: 1, seq: 3, type: "tamper", reason: "shock", t: 0, m: 0 }); // 2 was dropped on the box
    feed({ ep: 1, seq: 6, type: "access", reason: "granted", t: 0, m: 0 }); // 4 and 5 too
    expect(printed).toEqual([1]);
    feed({ ep: 1, seq: 7, type: "outbox", reason: "lost", t: 0, m: 0, d: { from: 2, to: 5, lost: 3, modem: 3 } });
    expect(printed).toEqual([1, 3, 6, 7]);
    expect(f.waiting).toBe(0);
  });

  test("resumes from saved state without re-printing what was already shown", () => {
    const a = new EventFollower();
    a.feed(ev(1, 1));
    a.feed(ev(1, 2));
    const b = new EventFollower(a.state());
    expect(b.feed(ev(1, 2))).toEqual([]);
    expect(b.feed(ev(1, 3)).map((e) => e.seq)).toEqual([3]);
    expect(b.feed("not json")).toEqual([]);
  });
});
