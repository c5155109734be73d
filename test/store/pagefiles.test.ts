/**
 * The journal pool (firmware/store/pagefiles.ts): one file per code-area
 * page, nothing ever moves, a power cut at any point of a create, a write or
 * an erase leaves every other file whole, and the erases spread over the
 * pool. Then the journals and the whole box on it, and the move of an
 * earlier firmware's journals out of Storage (firmware/store/migrate.ts).
 */
import { PageFiles, openPool } from "../../firmware/store/pagefiles";
import { moveJournals, MOVED_MARKER } from "../../firmware/store/migrate";
import { Journal } from "../../firmware/store/journal";
import { CodeAreaLayout, layoutFor, POOL_PAGES } from "../../firmware/codearea/layout";
import { firmwareJournals, GRANTS_JOURNAL } from "../../firmware/storage-plan";
import { SimCodeArea } from "../../sim/hw/codearea";
import { PowerLoss, SimFlash } from "../../sim/hw/flash";
import { crc32 } from "../../sim/hw/system";
import { CodeArea } from "../../hal";
import { createSandbox, sandboxCodeArea } from "../../tools/sandbox";

const PAGE = 4096;

function pool(area: SimCodeArea): PageFiles {
  const p = openPool(area, crc32);
  if (typeof p === "string") throw new Error(p);
  return p;
}

function poolPages(area: SimCodeArea): number[] {
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  const out: number[] = [];
  for (let a = l.pool; a < l.pool + l.poolBytes; a += PAGE) out.push(a);
  return out;
}

describe("the code area's program()", () => {
  const cases: Array<[string, () => CodeArea]> = [
    ["the simulator's", () => new SimCodeArea()],
    ["the sandbox's (Espruino's Flash module)", () => sandboxCodeArea(createSandbox())],
  ];
  for (const [name, make] of cases)
    test(name + ": programs whole words that read erased; anything else is refused and nothing programmed", () => {
      const area = make();
      const r = area.freeRange()!;
      const a = r.start;
      expect(area.erasePage(a)).toBe(true);
      expect(area.program(a + 8, new Uint8Array([1, 2, 3, 4]))).toBe(true);
      expect(Array.from(area.read(a + 8, 4))).toEqual([1, 2, 3, 4]);
      // over programmed bytes, even where a bit could still be cleared
      expect(area.program(a + 4, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]))).toBe(false);
      expect(Array.from(area.read(a + 4, 8))).toEqual([255, 255, 255, 255, 1, 2, 3, 4]);
      expect(area.program(a + 2, new Uint8Array(4))).toBe(false);
      expect(area.program(a + 12, new Uint8Array(3))).toBe(false);
      expect(area.program(r.end - 4, new Uint8Array(8))).toBe(false);
      expect(area.blank(a + 12, 4080)).toBe(true);
    });
});

describe("PageFiles", () => {
  test("a file is a page: created blank, programmed once per byte, listed by prefix, read back after a reboot", () => {
    const area = new SimCodeArea();
    let f = pool(area);
    expect(f.free()).toBe(POOL_PAGES * f.fileBytes());
    expect(f.create("a~1.0", 100)).toBe(true);
    expect(f.create("a~1.0", 100)).toBe(false); // exists
    expect(f.create("b~1.0", f.fileBytes() + 1)).toBe(false); // larger than a page holds
    expect(f.create("x".repeat(29), 10)).toBe(false); // name too long for the header
    expect(Array.from(f.read("a~1.0")!)).toEqual(new Array(100).fill(0xff));
    expect(f.writeAt("a~1.0", 3, new Uint8Array([1, 2, 3]))).toBe(true); // unaligned: padded with 0xFF
    expect(f.writeAt("a~1.0", 4, new Uint8Array([9]))).toBe(false); // programmed already
    expect(f.writeAt("a~1.0", 99, new Uint8Array([1, 2]))).toBe(false); // past the end
    expect(f.writeAt("a~1.0", 6, new Uint8Array([4]))).toBe(true);
    expect(f.create("a~2.0", 8)).toBe(true);
    expect(f.list("a~").sort()).toEqual(["a~1.0", "a~2.0"]);
    expect(f.usage()).toEqual({ free: (POOL_PAGES - 2) * f.fileBytes(), trash: 0, files: 2 * PAGE });
    f = pool(area); // a reboot: only flash is left
    expect(Array.from(f.read("a~1.0")!.subarray(0, 8))).toEqual([0xff, 0xff, 0xff, 1, 2, 3, 4, 0xff]);
    expect(f.read("a~1.0")!.length).toBe(100);
    f.erase("a~1.0");
    expect(f.read("a~1.0")).toBeUndefined();
    expect(pool(area).list("a~")).toEqual(["a~2.0"]);
    // nothing of it lands outside the pool
    const l = layoutFor(area.freeRange()) as CodeAreaLayout;
    for (const a of Object.keys(area.erases).map(Number)) expect(a >= l.pool && a < l.pool + l.poolBytes).toBe(true);
  });

  test("a full pool refuses a create; an erased file's page is free at once, with nothing to compact", () => {
    const area = new SimCodeArea();
    const f = pool(area);
    for (let i = 0; i < POOL_PAGES; i++) expect(f.create("f" + i, 64)).toBe(true);
    expect(f.free()).toBe(0);
    expect(f.create("one-more", 64)).toBe(false);
    f.erase("f3");
    expect(f.free()).toBe(f.fileBytes());
    expect(f.create("one-more", 64)).toBe(true);
    expect(f.usage().trash).toBe(0);
  });

  test("a power cut at every byte and erase of a create, a write and an erase leaves the other files whole and the pool usable", () => {
    const area0 = new SimCodeArea();
    const f0 = pool(area0);
    f0.create("keep", 200);
    f0.writeAt("keep", 0, new Uint8Array(200).fill(0x11));
    f0.create("gone", 50);
    const image = area0.image();
    let cuts = 0;
    for (let n = 0; ; n++) {
      const area = new SimCodeArea({ image });
      const f = pool(area);
      area.cutAfter(n);
      let done = false;
      try {
        f.create("new", 300);
        f.writeAt("new", 10, new Uint8Array(40).fill(0x22));
        f.erase("gone");
        done = true;
      } catch (e) {
        if (!(e instanceof PowerLoss)) throw e;
        cuts++;
      }
      area.powerOn();
      const g = pool(area);
      expect(Array.from(g.read("keep")!)).toEqual(new Array(200).fill(0x11));
      // the new file exists whole (blank or partly written, never with a torn header) or not at all
      const made = g.read("new");
      if (made) expect(made.length).toBe(300);
      if (done) {
        expect(Array.from(made!.subarray(10, 50))).toEqual(new Array(40).fill(0x22));
        expect(g.read("gone")).toBeUndefined();
        break;
      }
      // and the pool still takes new files
      expect(g.create("after", 10)).toBe(true);
    }
    expect(cuts).toBeGreaterThan(60);
  });

  test("erases spread over the pool: a journal rewritten a thousand times wears no page much more than the others", () => {
    const area = new SimCodeArea();
    const f = pool(area);
    const still = new Journal({ flash: f, crc32, prefix: "still", segmentBytes: 512, maxSegments: 1 });
    expect(still.append(new Uint8Array([1]))).toBe(true); // a file that lives on, holding its page
    const j = new Journal({ flash: f, crc32, prefix: "busy", segmentBytes: f.fileBytes(), maxSegments: 2 });
    for (let i = 0; i < 1000; i++) expect(j.rewrite([new Uint8Array([i & 0xff])])).toBe(true);
    const counts = poolPages(area).map((a) => area.erases[a] || 0);
    const busy = counts.filter((n) => n > 1);
    expect(busy.length).toBe(POOL_PAGES - 1);
    expect(Math.max(...busy) - Math.min(...busy)).toBeLessThanOrEqual(1);
    expect(f.eraseCounts().filter((n) => n > 0).length).toBe(POOL_PAGES);
  });

  test("a page whose header a cut tore goes after the pages known to be less worn: its erase count is lost", () => {
    const area = new SimCodeArea();
    const pages = poolPages(area);
    let f = pool(area);
    // every page erased once, then one of them a second time
    for (let i = 0; i < POOL_PAGES; i++) f.create("a" + i, 16);
    for (let i = 0; i < POOL_PAGES; i++) f.erase("a" + i);
    f.create("b", 16);
    f.erase("b");
    const twice = pages.findIndex((a) => area.erases[a] === 2);
    const torn = (twice + 1) % POOL_PAGES;
    area.write(pages[torn] + 40, new Uint8Array(4)); // the header's CRC no longer matches: as a create cut part-way leaves it
    f = pool(area);
    for (let i = 0; i < POOL_PAGES - 2; i++) {
      expect(f.create("c" + i, 16)).toBe(true);
      expect(area.erases[pages[torn]]).toBe(1);
    }
    expect(pages.every((a, k) => k === torn || k === twice || area.erases[a] === 2)).toBe(true);
  });

  test("a corrupt header makes its page free, never a file", () => {
    const area = new SimCodeArea();
    const f = pool(area);
    f.create("ok", 16);
    f.create("bad", 16);
    const page = poolPages(area).find((a) => area.read(a + 12, 3).every((b, i) => b === "bad".charCodeAt(i)))!;
    area.write(page + 8, new Uint8Array([0, 0, 0, 0])); // the size and name length: the CRC no longer matches
    const g = pool(area);
    expect(g.list("")).toEqual(["ok"]);
    expect(g.free()).toBe((POOL_PAGES - 1) * g.fileBytes());
  });
});

describe("moving an earlier firmware's journals out of Storage", () => {
  function oldStorage(): SimFlash {
    // the geometry journals had in Storage: 1 KiB segments
    const s = new SimFlash({ capacity: 80 * 1024 });
    const g = new Journal({ flash: s, crc32, prefix: GRANTS_JOURNAL.prefix, segmentBytes: 1024, maxSegments: 6 });
    for (let i = 0; i < 100; i++) expect(g.append(new Uint8Array([4, i, 1, 2, 3]))).toBe(true);
    const t = new Journal({ flash: s, crc32, prefix: "ultime", segmentBytes: 128, maxSegments: 2 });
    expect(t.append(new Uint8Array([7, 7]))).toBe(true);
    return s;
  }

  test("every record moves, once; Storage keeps a marker and loses the journal files", () => {
    const s = oldStorage();
    const area = new SimCodeArea();
    const m = moveJournals({ from: s, to: pool(area), crc32, journals: firmwareJournals() });
    expect(m).toEqual({ ok: true, moved: 2, lost: [] });
    expect(s.list("grants~")).toEqual([]);
    expect(s.read(MOVED_MARKER)).toBeDefined();
    const p = pool(area);
    const recs = new Journal({ flash: p, crc32, prefix: GRANTS_JOURNAL.prefix, segmentBytes: GRANTS_JOURNAL.segmentBytes, maxSegments: GRANTS_JOURNAL.maxSegments }).records();
    expect(recs.map((r) => r[1])).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // a second boot moves nothing and changes nothing
    const before = area.image();
    expect(moveJournals({ from: s, to: p, crc32, journals: firmwareJournals() })).toEqual({ ok: true, moved: 0, lost: [] });
    expect(Buffer.from(area.image()).equals(Buffer.from(before))).toBe(true);
  });

  test("a power cut anywhere in the move: the next boot ends with every record in the pool exactly once", () => {
    const base = oldStorage();
    const storage0 = base.image();
    let cuts = 0;
    for (let n = 0; ; n += 37) {
      const s = new SimFlash({ capacity: 80 * 1024, image: storage0 });
      const area = new SimCodeArea();
      area.cutAfter(n);
      s.cutAfter(n);
      let finished = false;
      try {
        moveJournals({ from: s, to: pool(area), crc32, journals: firmwareJournals() });
        finished = true;
      } catch (e) {
        if (!(e instanceof PowerLoss)) throw e;
        cuts++;
      }
      area.powerOn();
      s.powerOn();
      const p = pool(area);
      expect(moveJournals({ from: s, to: p, crc32, journals: firmwareJournals() }).ok).toBe(true);
      const recs = new Journal({ flash: p, crc32, prefix: GRANTS_JOURNAL.prefix, segmentBytes: GRANTS_JOURNAL.segmentBytes, maxSegments: GRANTS_JOURNAL.maxSegments }).records();
      expect(recs.map((r) => r[1])).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(s.list("grants~")).toEqual([]);
      if (finished) break;
    }
    expect(cuts).toBeGreaterThan(20);
  });
});
