import { poke, SimWorld } from "../../sim/hw/person";
import { Rig } from "./rig";

function world(rig: Rig): SimWorld {
  return { latch: rig.latch, lid: rig.lid, key: rig.key, battery: rig.battery, motion: rig.motion, person: rig.person };
}

test("the desktop's fault-injection commands act on the same parts the tests use", () => {
  const rig = new Rig();
  const w = world(rig);
  rig.run(10);
  expect(poke(w, "lid open")).toBe("lid held by the bolt");
  expect(poke(w, "battery 3300")).toMatch(/3300/);
  expect(rig.unlock()).toBe("low_battery");
  poke(w, "battery 3900");
  poke(w, "stick 1");
  expect(rig.unlock()).toBeUndefined();
  expect(rig.runUntil("open", 10000)).toBe(true);
  expect(rig.of("latch_retry").length).toBe(1);
  expect(poke(w, "lid open")).toBe("lid opened");
  rig.run(100);
  expect(poke(w, "key take")).toBe("key taken");
  rig.run(100);
  expect(poke(w, "status")).toMatch(/bolt 0\.00, motor stop, .* lid open, key out/);
  poke(w, "key return");
  rig.run(100);
  poke(w, "lid close");
  expect(rig.runUntil("locked", 10000)).toBe(true);
  poke(w, "shake 3000 1000 100");
  rig.run(2000);
  expect(rig.of("tamper", "shock").length).toBe(1);
  poke(w, "lid force");
  rig.run(100);
  expect(rig.of("tamper", "lid_forced").length).toBe(1);
  poke(w, "switch bolt false");
  rig.run(100);
  expect(rig.of("tamper", "bolt_moved").length).toBe(1);
  expect(poke(w, "switch bolt ok")).toBe("bolt switch repaired");
  expect(poke(w, "jam at 2")).toMatch(/^error/);
  expect(poke(w, "fly")).toMatch(/^error/);
});
