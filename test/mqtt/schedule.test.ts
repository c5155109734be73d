import { VirtualClock } from "../../sim/clock";
import { EventBus } from "../../firmware/events";
import { LinkSchedule } from "../../firmware/uplink/schedule";

/** A link that comes up 2 s after start() and acknowledges events 1 s after it is up. */
function rig(options: { idleMs?: number; pollMs?: number; pollMaxMs?: number; batchMs?: number; upAfterMs?: number } = {}) {
  const clock = new VirtualClock();
  const events = new EventBus({ now: () => ({ t: 0, m: clock.monotonic() }) });
  const calls: string[] = [];
  let isUp = false;
  let pending = 0;
  const link = {
    start: () => {
      calls.push("start@" + clock.monotonic());
      if (options.upAfterMs === Infinity) return;
      clock.after(options.upAfterMs === undefined ? 2000 : options.upAfterMs, () => {
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
  const schedule = new LinkSchedule({ clock, events, link, idleMs: 60000, pollMs: 900000, pollMaxMs: 3600000, batchMs: 300000, ...options });
  return { clock, calls, record, emit: (type: string, reason: string) => events.emit(type, reason), schedule, setPending: (n: number) => (pending = n) };
}

describe("LinkSchedule: the modem is on only while something needs sending", () => {
  it("comes up at boot, then drops the link and sleeps the modem a minute after the link was up with nothing in flight", () => {
    const r = rig();
    r.clock.advance(10);
    expect(r.calls).toEqual(["start@0"]);
    r.clock.advance(70_000);
    expect(r.schedule.active()).toBe(true);
    r.clock.advance(20_000);
    // Up at 2 s, first seen up by the 15 s check: idle from there.
    expect(r.calls).toEqual(["start@0", "stop@75000", "sleep"]);
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

  it("collects queued owner commands pollMs after a session, doubling the wait while none come, up to pollMaxMs", () => {
    const r = rig();
    const waits: number[] = [];
    let sessions = 0;
    for (let t = 0; t < 12 * 3_600_000; t += 1000) {
      r.clock.advance(1000);
      const n = r.calls.filter((c) => c === "sleep").length;
      if (n > sessions) {
        sessions = n;
        waits.push(r.schedule.nextPollMs());
      }
    }
    expect(waits.slice(0, 5)).toEqual([900000, 1800000, 3600000, 3600000, 3600000]);
    const starts = r.calls.filter((c) => c.startsWith("start")).map((c) => Number(c.split("@")[1]));
    const stops = r.calls.filter((c) => c.startsWith("stop")).map((c) => Number(c.split("@")[1]));
    for (let i = 1; i < 5; i++) expect(starts[i] - stops[i - 1]).toBe(waits[i - 1]);
    r.schedule.close();
  });

  it("comes back to pollMs after a session that brought an owner command", () => {
    const r = rig();
    r.clock.advance(80_000); // first session over: next in 15 min
    r.clock.advance(900_000 + 20_000); // second session up, nothing came: would wait 30 min next
    r.emit("cmd", "done");
    r.clock.advance(120_000);
    expect(r.schedule.active()).toBe(false);
    expect(r.schedule.nextPollMs()).toBe(900000);
    r.schedule.close();
  });

  it("gives up a session whose link does not come up within 25 s, retries after an hour, and lets an urgent event search again only 30 minutes after", () => {
    const r = rig({ upAfterMs: Infinity, idleMs: 4000, pollMaxMs: 6 * 3_600_000 });
    r.clock.advance(30_000);
    expect(r.calls).toEqual(["start@0", "stop@25000", "sleep"]);
    expect(r.schedule.nextPollMs()).toBe(3_600_000);
    r.calls.length = 0;
    r.record("access", "granted"); // just after the failure: the retry carries it, as it does routine events
    r.record("lid", "opened");
    r.clock.advance(600_000);
    expect(r.calls).toEqual([]);
    r.clock.advance(1_200_000);
    r.record("tamper", "forced"); // 30 min after: searches again at once
    expect(r.calls).toEqual(["start@1830000"]);
    r.schedule.close();
  });
});
