import { VirtualClock } from "../../sim/clock";
import { SimSwitch } from "../../sim/hw/switch";

describe("SimSwitch debounce", () => {
  it("reports one settled edge for a bouncing contact", () => {
    const clock = new VirtualClock();
    const s = new SimSwitch({ clock, initial: false, debounceMs: 20 });
    const edges: boolean[] = [];
    s.onChange((l) => edges.push(l));
    s.bounce(true, 7, 10);
    clock.advance(5);
    expect(s.read()).toBe(false);
    clock.advance(100);
    expect(edges).toEqual([true]);
    expect(s.read()).toBe(true);
  });

  it("ignores a glitch shorter than the debounce time", () => {
    const clock = new VirtualClock();
    const s = new SimSwitch({ clock, initial: true, debounceMs: 20 });
    const edges: boolean[] = [];
    s.onChange((l) => edges.push(l));
    s.set(false);
    clock.advance(5);
    s.set(true);
    clock.advance(100);
    expect(edges).toEqual([]);
  });

  it("a switch stuck closed no longer follows the contact", () => {
    const clock = new VirtualClock();
    const s = new SimSwitch({ clock, initial: false });
    s.stick(true);
    clock.advance(50);
    s.set(false);
    clock.advance(50);
    expect(s.read()).toBe(true);
    s.stick(undefined);
    clock.advance(50);
    expect(s.read()).toBe(false);
  });
});
