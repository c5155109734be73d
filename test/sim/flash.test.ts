import { SimFlash, PowerLoss, PAGE_BYTES } from "../../sim/hw/flash";

const bytes = (...v: number[]) => new Uint8Array(v);
/** A file's footprint in Storage: 32-byte header, data padded to 4. */
const cost = (n: number) => 32 + ((n + 3) & ~3);

function fill(f: SimFlash, name: string, size: number, v: number): void {
  expect(f.create(name, size)).toBe(true);
  expect(f.writeAt(name, 0, new Uint8Array(size).fill(v))).toBe(true);
}

describe("SimFlash", () => {
  it("creates blank files and programs each byte once", () => {
    const f = new SimFlash();
    expect(f.create("log.0", 8)).toBe(true);
    expect(f.create("log.0", 8)).toBe(false);
    expect(Array.from(f.read("log.0")!)).toEqual(new Array(8).fill(0xff));
    expect(f.writeAt("log.0", 0, bytes(1, 2))).toBe(true);
    expect(f.writeAt("log.0", 2, bytes(3))).toBe(true);
    expect(f.writeAt("log.0", 1, bytes(9))).toBe(false);
    expect(f.writeAt("log.0", 0, bytes(1))).toBe(false);
    expect(f.writeAt("log.0", 7, bytes(1, 2))).toBe(false);
    expect(Array.from(f.read("log.0")!.slice(0, 4))).toEqual([1, 2, 3, 0xff]);
  });

  it("defaults to the RAK5010's Storage: 20 pages of 4 KiB, and refuses a size that is not whole pages", () => {
    const f = new SimFlash();
    expect(f.free()).toBe(20 * 4096);
    expect(f.stats().eraseCounts).toHaveLength(20);
    expect(() => new SimFlash({ capacity: 1000 })).toThrow("flash_capacity");
  });

  it("lays files out as Espruino does: header, name, data, back to back", () => {
    const f = new SimFlash({ capacity: 4096 });
    fill(f, "ab", 5, 0x11);
    fill(f, "c", 4, 0x22);
    const img = f.image();
    expect(Array.from(img.subarray(0, 4))).toEqual([5, 0, 0, 0]);
    expect(Array.from(img.subarray(4, 8))).toEqual([0x61, 0x62, 0, 0]);
    expect(Array.from(img.subarray(32, 37))).toEqual([0x11, 0x11, 0x11, 0x11, 0x11]);
    expect(img[40 + 4]).toBe(0x63);
    expect(f.free()).toBe(4096 - cost(5) - cost(4));
    f.erase("ab");
    expect(Array.from(f.image().subarray(4, 8))).toEqual([0, 0, 0, 0]);
  });

  it("keeps erased files as trash: free() is only the tail, as getFree()", () => {
    const f = new SimFlash({ capacity: 4096 });
    const free0 = f.free();
    f.create("a", 100);
    const free1 = f.free();
    expect(free1).toBe(free0 - cost(100));
    f.erase("a");
    expect(f.read("a")).toBeUndefined();
    expect(f.free()).toBe(free1);
    expect(f.usage()).toEqual({ free: free1, trash: cost(100), files: 0 });
    f.compact();
    expect(f.free()).toBe(free0);
    expect(f.create("big", 5000)).toBe(false);
  });

  it("a create that does not fit compacts by itself when the trash makes room, and fails when it cannot", () => {
    const f = new SimFlash({ capacity: 2 * PAGE_BYTES });
    fill(f, "keep", 1000, 1);
    fill(f, "junk", 5000, 2);
    f.erase("junk");
    expect(f.free()).toBeLessThan(3000);
    expect(f.create("new", 3000)).toBe(true);
    expect(f.stats().autoCompactions).toBe(1);
    expect(f.usage().trash).toBe(0);
    expect(Array.from(f.read("keep")!.subarray(0, 3))).toEqual([1, 1, 1]);
    // No trash to give back: refused at once, nothing compacted.
    expect(f.create("huge", 6000)).toBe(false);
    expect(f.stats().compactions).toBe(1);
  });

  it("compaction leaves pages before the first erased file untouched and moves the files after it", () => {
    const f = new SimFlash({ capacity: 6 * PAGE_BYTES });
    fill(f, "table", 2 * PAGE_BYTES - 32, 7); // exactly pages 0 and 1
    fill(f, "j1", 3000, 1);
    fill(f, "j2", 3000, 2);
    fill(f, "j3", 3000, 3);
    f.erase("j1");
    const table = f.read("table")!;
    const j3 = f.read("j3")!;
    f.compact();
    const s = f.stats();
    expect(s.eraseCounts.slice(0, 2)).toEqual([0, 0]);
    expect(s.eraseCounts.slice(2, 5)).toEqual([1, 1, 1]);
    expect(s.eraseCounts[5]).toBe(0);
    expect(table[100]).toBe(7); // its file did not move: the view still reads
    expect(j3.length).toBe(0); // its file moved: the view is dead
    expect(() => j3.subarray(0, 1)).toThrow(/detached/);
    expect(f.list("")).toEqual(["table", "j2", "j3"]);
    expect(f.read("j3")![0]).toBe(3);
    expect(f.free()).toBe(6 * PAGE_BYTES - 2 * PAGE_BYTES - 2 * cost(3000));
  });

  it("a view of an erased file dies, loudly: a test that keeps one cannot pass on garbled data", () => {
    const f = new SimFlash({ capacity: 4096 });
    fill(f, "t", 64, 9);
    const v = f.read("t")!;
    const words = new Uint16Array(v.buffer, v.byteOffset, 32);
    f.erase("t");
    expect(v.length).toBe(0);
    expect(words[0]).toBeUndefined();
    expect(() => new Uint8Array(v.buffer)).toThrow(/detached/);
  });

  it("counts bytes programmed and page erases", () => {
    const f = new SimFlash({ capacity: 2 * PAGE_BYTES });
    fill(f, "a", 10, 0);
    expect(f.stats().programmed).toBe(32 + 10);
    f.erase("a");
    expect(f.stats().programmed).toBe(32 + 10 + 4);
    fill(f, "b", 100, 0);
    f.compact();
    expect(f.stats()).toEqual({ eraseCounts: [1, 0], programmed: 46 + 132 + 132, compactions: 1, autoCompactions: 0, wipes: 0, allocated: { a: 44, b: 132 } });
  });

  it("does nothing when there is no RAM for the swap buffer, as Espruino", () => {
    const f = new SimFlash({ capacity: 2 * PAGE_BYTES });
    fill(f, "a", 4000, 1);
    fill(f, "b", 4000, 2);
    f.erase("a");
    f.swapAvailable(false);
    expect(f.create("c", 4000)).toBe(false);
    expect(f.usage().trash).toBe(cost(4000));
    f.swapAvailable(true);
    expect(f.create("c", 4000)).toBe(true);
  });

  it("a saved image restores every file and the trash", () => {
    const f = new SimFlash({ capacity: 2 * PAGE_BYTES });
    fill(f, "a", 10, 1);
    fill(f, "b", 20, 2);
    f.erase("a");
    const g = new SimFlash({ image: f.image() });
    expect(g.list("")).toEqual(["b"]);
    expect(g.usage()).toEqual(f.usage());
    expect(g.snapshot()).toEqual(f.snapshot());
    expect(g.create("a", 10)).toBe(true);
  });

  it("a power cut stops a write part-way, throws, and keeps the store dead until powerOn", () => {
    const f = new SimFlash();
    f.create("j", 16);
    f.cutAfter(3);
    expect(() => f.writeAt("j", 0, bytes(1, 2, 3, 4, 5))).toThrow(PowerLoss);
    expect(f.isDead()).toBe(true);
    expect(() => f.read("j")).toThrow(PowerLoss);
    f.powerOn();
    expect(Array.from(f.read("j")!.slice(0, 6))).toEqual([1, 2, 3, 0xff, 0xff, 0xff]);
    expect(f.programmed).toBe(32 + 3);
  });

  it("a cut during create leaves no file of that name", () => {
    for (let n = 0; n < 32; n++) {
      const f = new SimFlash();
      f.cutAfter(n);
      expect(() => f.create("x", 8)).toThrow(PowerLoss);
      f.powerOn();
      expect(f.read("x")).toBeUndefined();
    }
  });

  it("a cut during compaction loses what Espruino would lose: moved files, or the whole store at the boot check", () => {
    const build = () => {
      const f = new SimFlash({ capacity: 6 * PAGE_BYTES });
      fill(f, "base", 2 * PAGE_BYTES - 32, 5);
      fill(f, "gone", 1000, 1);
      fill(f, "m1", 3000, 2);
      fill(f, "m2", 3000, 3);
      f.erase("gone");
      return f;
    };
    const whole = build();
    const before = whole.stats().programmed;
    whole.compact();
    const points = whole.stats().programmed - before;
    const outcomes: string[] = [];
    for (let n = 0; n < points; n += 61) {
      const f = build();
      f.cutAfter(n);
      expect(() => f.compact()).toThrow(PowerLoss);
      f.powerOn();
      const s = f.snapshot();
      if (Object.keys(s).length === 0) {
        // The chain did not parse: Espruino's first boot erased the whole area.
        expect(f.image().every((b) => b === 0xff)).toBe(true);
        outcomes.push("wiped");
        continue;
      }
      // Otherwise the pages before the first erased file were never touched.
      expect(s.base.every((b) => b === 5)).toBe(true);
      const intact = ["m1", "m2"].filter((m, i) => s[m] && s[m].every((b) => b === i + 2)).length;
      expect(intact).toBeLessThan(2); // the file being copied when the power went is lost
      outcomes.push("lost");
    }
    // Cut right after the first page erase: the next page starts inside old data, the boot check fails.
    expect(outcomes[0]).toBe("wiped");
    // Cut once the moved files reach into the last page: the chain parses, only the file in flight is lost.
    expect(outcomes[outcomes.length - 1]).toBe("lost");
  });

  it("a chain that no longer parses at power on is erased whole, as Espruino's boot check does", () => {
    const f = new SimFlash({ capacity: 2 * PAGE_BYTES });
    fill(f, "a", 10, 1);
    fill(f, "b", 10, 2);
    const img = f.image();
    img[100] = 0x00; // garbage after the chain's end in the same page: not looked at
    const g = new SimFlash({ image: img });
    g.powerOn();
    expect(g.list("")).toEqual(["a", "b"]);
    img[4096] = 0x00; // the next page starts with something that is neither a header nor blank
    const h = new SimFlash({ image: img });
    h.powerOn();
    expect(h.list("")).toEqual([]);
    expect(h.stats().eraseCounts).toEqual([1, 1]);
  });
});
