import { VirtualClock } from "../../sim/clock";
import { EventBus } from "../../firmware/events";
import { LinkSchedule } from "../../firmware/uplink/schedule";

/** A link that comes up 2 s after start() and acknowledges events 1 s after it is up. */
function rig(options: { idleMs?: number; pollMs?: number; batchMs?: number } = {}) {
  const clock = new VirtualClock();
  const events = new EventBus({ now: () => ({ t: 0, m: clock.monotonic() }) });
  const calls: string[] = [];
  let isUp = false;
  let pending = 0;
  const link = {
    start: () => {
      calls.push("start@" + clock.monotonic());
      clock.after(2000, () => {
        isUp = true;
        clock.after(1000, () => (pending = 0));
      });
    },
    stop: () => {
      calls.push("stop@" + clock.monotonic());
      isUp = false;
    },
    pending: () => pending,
    up: () => isUp,
    sleep: () => calls.push("sleep"),
  };
  const record = (type: string, reason: string) => {
    pending++;
    events.emit(type, reason);
  };
  const schedule = new LinkSchedule({ clock, events, link, idleMs: 60000, pollMs: 900000, batchMs: 300000, ...options });
  return { clock, calls, record, schedule, setPending: (n: number) => (pending = n) };
}

describe("LinkSchedule: the modem is on only while something needs sending", () => {
  it("comes up at boot, then drops the link and sleeps the modem after a minute with nothing in flight", () => {
    const r = rig();
    r.clock.advance(10);
    expect(r.calls).toEqual(["start@0"]);
    r.clock.advance(59_000);
    expect(r.schedule.active()).toBe(true);
    r.clock.advance(20_000);
    expect(r.calls).toEqual(["start@0", "stop@60000", "sleep"]);
    r.schedule.close();
  });

  it("wakes at once for an access decision or tamper, and batches routine events", () => {
    const r = rig();
    r.clock.advance(80_000);
    r.calls.length = 0;
    r.record("lid", "opened");
    r.clock.advance(299_000);
    expect(r.calls).toEqual([]);
    r.clock.advance(1_000);
    expect(r.calls).toEqual(["start@380000"]);
    r.clock.advance(90_000);
    r.calls.length = 0;
    r.record("access", "bad_signature");
    expect(r.calls).toEqual(["start@470000"]);
    r.schedule.close();
  });

  it("stays up while events are unacknowledged, and ignores its own link chatter", () => {
    const r = rig();
    r.clock.advance(10);
    r.clock.advance(5000);
    r.setPending(3);
    r.clock.advance(600_000);
    expect(r.calls).toEqual(["start@0"]);
    r.setPending(0);
    r.clock.advance(20_000);
    expect(r.calls.slice(1)).toEqual(["stop@615000", "sleep"]);
    r.calls.length = 0;
    r.record("link", "down");
    r.record("modem", "power_off");
    r.clock.advance(200_000); // short of the next 15-minute poll

    expect(r.calls).toEqual([]);
    r.schedule.close();
  });

  it("polls for queued owner commands every 15 minutes", () => {
    const r = rig();
    r.clock.advance(3_600_000);
    expect(r.calls.filter((c) => c.startsWith("start"))).toEqual(["start@0", "start@900000", "start@1800000", "start@2700000", "start@3600000"]);
    expect(r.calls.filter((c) => c === "sleep").length).toBe(4);
    r.schedule.close();
  });
});
