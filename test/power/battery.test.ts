import { VirtualClock } from "../../sim/clock";
import { SimBattery } from "../../sim/hw/battery";
import { EventBus, BoxEvent } from "../../firmware/events";
import { BatteryMonitor, percentFromMillivolts } from "../../firmware/power/battery";
import { WatchdogFeeder } from "../../firmware/power/watchdog";
import { SimWatchdog } from "../../sim/hw/system";

function setup(mv: number) {
  const clock = new VirtualClock();
  const battery = new SimBattery({ millivolts: mv });
  const events = new EventBus({ now: () => ({ t: 0, m: clock.monotonic() }) });
  const seen: BoxEvent[] = [];
  events.on((e) => seen.push(e));
  const mon = new BatteryMonitor({ battery, clock, events, periodMs: 1000 });
  return { clock, battery, seen, mon };
}

describe("BatteryMonitor", () => {
  it("reports low and critical once each as the cell runs down, and recovery with hysteresis", () => {
    const { clock, battery, seen, mon } = setup(3900);
    clock.advance(5000);
    expect(seen).toEqual([]);
    battery.setMillivolts(3500);
    clock.advance(5000);
    expect(seen.map((e) => e.reason)).toEqual(["battery_low"]);
    battery.setMillivolts(3380);
    clock.advance(5000);
    expect(seen.map((e) => e.reason)).toEqual(["battery_low", "battery_critical"]);
    battery.setMillivolts(3560);
    clock.advance(5000);
    expect(seen.map((e) => e.reason)).toEqual(["battery_low", "battery_critical", "battery_low"]);
    battery.setMillivolts(3620);
    clock.advance(5000);
    expect(seen.map((e) => e.reason)).toEqual(["battery_low", "battery_critical", "battery_low", "battery_ok"]);
    expect(mon.level()).toBe("ok");
    expect(seen[1].d).toEqual({ mv: 3380, pct: 3 });
    mon.close();
  });

  it("ignores a single sagged sample taken while the motor runs", () => {
    const { clock, battery, seen, mon } = setup(3700);
    clock.advance(3000);
    battery.setLoad(900);
    clock.advance(1000);
    battery.setLoad(0);
    clock.advance(5000);
    expect(seen).toEqual([]);
    mon.close();
  });

  it("estimates charge along the Li-ion curve", () => {
    expect(percentFromMillivolts(4250)).toBe(100);
    expect(percentFromMillivolts(3700)).toBe(45);
    expect(percentFromMillivolts(3750)).toBe(53);
    expect(percentFromMillivolts(3200)).toBe(0);
  });
});

describe("WatchdogFeeder", () => {
  it("keeps the watchdog fed while the event loop runs, and lets it bite when it stops", () => {
    const clock = new VirtualClock();
    let bites = 0;
    const wd = new SimWatchdog({ clock, onBite: () => bites++ });
    const feeder = new WatchdogFeeder({ watchdog: wd, clock, timeoutSeconds: 30 });
    clock.advance(600_000);
    expect(bites).toBe(0);
    feeder.close();
    clock.advance(31_000);
    expect(bites).toBe(1);
  });
});
