import { SimFlash, PowerLoss } from "../../sim/hw/flash";

const bytes = (...v: number[]) => new Uint8Array(v);

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

  it("keeps erased files' space until compact", () => {
    const f = new SimFlash({ capacity: 1000 });
    const free0 = f.free();
    f.create("a", 100);
    const free1 = f.free();
    expect(free1).toBeLessThan(free0);
    f.erase("a");
    expect(f.read("a")).toBeUndefined();
    expect(f.free()).toBe(free1);
    f.compact();
    expect(f.free()).toBe(free0);
    expect(f.create("big", 2000)).toBe(false);
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

  it("a cut during create leaves no file", () => {
    const f = new SimFlash();
    f.cutAfter(10);
    expect(() => f.create("x", 8)).toThrow(PowerLoss);
    f.powerOn();
    expect(f.list("")).toEqual([]);
  });

  it("a cut during compaction loses the store, as Espruino does on a failing battery", () => {
    const f = new SimFlash();
    f.create("keep", 8);
    f.create("gone", 8);
    f.erase("gone");
    f.cutAfter(5);
    expect(() => f.compact()).toThrow(PowerLoss);
    f.powerOn();
    expect(f.list("")).toEqual([]);
  });
});
