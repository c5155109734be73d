import { EventBus } from "../../firmware/events";
import { AlarmPolicy, alarmDefaults } from "../../firmware/tamper/alarm";
import { TamperReporter } from "../../firmware/tamper/report";
import { VirtualClock } from "../../sim/clock";
import { SimBuzzer, SimLed } from "../../sim/hw/system";
import { Rig } from "./rig";

function setup(sound = true) {
  const clock = new VirtualClock();
  const events = new EventBus({ now: () => ({ t: 0, m: clock.monotonic() }) });
  const buzzer = new SimBuzzer({ clock });
  const led = new SimLed({ clock });
  const alarm = new AlarmPolicy({ events, clock, buzzer, led, config: alarmDefaults({ alarmSound: sound }) });
  const reporter = new TamperReporter({ events, clock, repeatMs: 1000 });
  return { clock, events, buzzer, led, alarm, reporter };
}

test("high sounds a two-tone siren for alarmSirenMs and flashes the LED; then all is quiet", () => {
  const s = setup();
  s.reporter.raise("lid_forced", "high");
  s.clock.advance(9000);
  expect(s.buzzer.frequency).not.toBe(0);
  const tones = new Set(s.buzzer.history.map((h) => h.hz));
  expect(tones.has(2700) && tones.has(2000)).toBe(true);
  s.clock.advance(1500);
  expect(s.buzzer.frequency).toBe(0);
  expect(s.led.history.length).toBeGreaterThan(50);
  s.clock.advance(30000);
  expect(s.led.on).toBe(false);
  expect(s.alarm.active()).toBe(false);
  expect(s.clock.pending()).toBe(0);
});

test("medium beeps three times; low only blinks; a lesser alarm never cuts a siren short", () => {
  const s = setup();
  s.reporter.raise("key_not_returned", "medium");
  s.clock.advance(2000);
  expect(s.buzzer.history.filter((h) => h.hz === 2700).length).toBe(3);
  const before = s.buzzer.history.length;
  s.reporter.raise("bolt_moved", "low");
  s.clock.advance(2000);
  expect(s.buzzer.history.length).toBe(before);
  expect(s.alarm.urgentCount).toBe(1);
  s.reporter.raise("shock", "high");
  s.clock.advance(1000);
  s.reporter.raise("key_removed", "medium");
  s.clock.advance(3000);
  // the siren is still alternating 4 s in
  expect(s.buzzer.history.filter((h) => h.at > 3000 && h.hz === 2000).length).toBeGreaterThan(3);
  s.alarm.silence();
  expect(s.buzzer.frequency).toBe(0);
  s.alarm.close();
  s.alarm.close();
  s.reporter.raise("lid_forced", "high");
  s.clock.advance(1000);
  expect(s.buzzer.frequency).toBe(0);
});

test("a quiet deployment keeps the LED and the urgent report but not the buzzer", () => {
  const s = setup(false);
  s.reporter.raise("lid_forced", "high");
  s.clock.advance(1000);
  expect(s.buzzer.history).toEqual([]);
  expect(s.led.history.length).toBeGreaterThan(0);
  expect(s.alarm.urgentCount).toBe(1);
});

test("jam vs stuck switch holds at the weakest allowed cell (slower bolt)", () => {
  const rig = new Rig({ batteryMv: 3420, config: { autoRelockMs: 5000 } });
  rig.run(10);
  rig.unlock();
  expect(rig.runUntil("open", 10000)).toBe(true);
  expect(rig.latch.where()).toBe(0);
  rig.latch.jamAt(0.9);
  rig.run(60000);
  expect(rig.ctl.status().reason).toBe("jam");
});

test("a stuck bolt switch is still told from a jam at the weakest allowed cell", () => {
  const rig = new Rig({ batteryMv: 3420 });
  rig.run(10);
  rig.latch.bolt.stick(true);
  rig.unlock();
  rig.run(20000);
  expect(rig.ctl.status().reason).toBe("bolt_sensor_stuck");
});
