/**
 * Issue 13 point 1: time that whoever controls network time cannot bend.
 * Each test is a confirmed attack on the earlier clock.
 */
import { VirtualClock } from "../../sim/clock";
import { SimFlash } from "../../sim/hw/flash";
import { makeWallClock } from "./helpers";
import { RTC_MAX_PPM } from "../../firmware/time/wallclock";
import { parseModemTime } from "../../firmware/cellular/bg96";
import { decide } from "../../firmware/grants/decide";
import { PERM_UNLOCK } from "../../firmware/grants/codec";
import { MemState, mint, testKey, firmwareVerify, memo } from "../grants/helpers";

const T = 1767225600; // 2026-01-01
const H = 3600 * 1000;

const make = makeWallClock;

describe("drift is bounded by what the crystal can do", () => {
  test("two network answers ten minutes apart, each inside the back-step allowance, are refused and reported", () => {
    const clock = new VirtualClock();
    const events: string[] = [];
    const w = make(clock, new SimFlash(), events);
    expect(w.sync("net", T)).toBeUndefined();
    clock.advance(600 * 1000);
    expect(w.sync("net", T + 600 - 299)).toBe("time_implausible");
    expect(events).toContain("time:time_implausible");
    expect(w.driftPpm).toBe(0);
  });

  test("a fake cell replaying slow time every 6 hours for 48 hours cannot revive an expired grant", () => {
    const key = testKey(1);
    const clock = new VirtualClock();
    const w = make(clock, new SimFlash());
    const start = T;
    w.sync("net", start);
    // the attacker's network always answers 299 s behind the box's own clock
    for (let i = 0; i < 8; i++) {
      clock.advance(10 * 60 * 1000);
      w.sync("net", w.state().now - 299);
      clock.advance(6 * H - 10 * 60 * 1000);
      w.sync("net", w.state().now - 299);
    }
    const truth = start + 48 * 3600;
    expect(Math.abs(w.driftPpm)).toBeLessThanOrEqual(RTC_MAX_PPM);
    expect(Math.abs(w.state().now - truth)).toBeLessThan(5);
    // a 24-hour grant that expired 24 hours ago
    const g = mint(key, { notBefore: start, notAfter: start + 24 * 3600, perms: PERM_UNLOCK, uses: 255 });
    const d = decide({ grant: g, boxId: "KB-000001", state: new MemState([key]), clock: w.state(), action: "unlock", verify: memo(firmwareVerify) });
    expect(d.ok).toBe(false);
    expect(d.ok ? "" : d.reason).toBe("expired");
  });

  test("an honest clock that drifts 150 ppm is still followed", () => {
    const clock = new VirtualClock({ driftPpm: 150 });
    const w = make(clock, new SimFlash());
    w.sync("net", T);
    for (let i = 1; i <= 12; i++) {
      clock.advance(6 * H);
      expect(w.sync("net", T + i * 6 * 3600)).toBeUndefined();
    }
    expect(w.driftPpm).toBeGreaterThan(120);
    expect(w.driftPpm).toBeLessThanOrEqual(RTC_MAX_PPM);
  });
});

describe("a forward jump moves the floor only when a second source agrees", () => {
  function settled(flash: SimFlash) {
    const clock = new VirtualClock();
    const w = make(clock, flash);
    w.sync("net", T);
    clock.advance(3 * H);
    w.close();
    return T + 3 * 3600;
  }

  test("2069 from the modem is used for one boot at most; the right time and the owner's time still land afterwards", () => {
    const flash = new SimFlash();
    const floor = settled(flash);
    let clock = new VirtualClock({ wallAtBoot: 0 });
    const events: string[] = [];
    let w = make(clock, flash, events);
    const y2069 = Date.UTC(2069, 0, 1) / 1000;
    expect(w.sync("net", y2069)).toBeUndefined();
    expect(events).toContain("time:provisional");
    expect(w.confirmedTime).toBe(false);
    clock.advance(2 * H); // the hourly floor write must not follow it
    expect(w.floorS).toBeLessThan(floor + 60);
    // in the same boot the right network time replaces it
    expect(w.sync("net", floor + 600)).toBeUndefined();
    expect(w.confirmedTime).toBe(true);
    w.close();
    // power loss, the right time again, then the owner's signed time
    clock = new VirtualClock({ wallAtBoot: 0 });
    w = make(clock, flash);
    expect(w.sync("net", floor + 3600)).toBeUndefined();
    expect(w.sync("cmd", floor + 3650)).toBeUndefined();
    expect(w.confirmedTime).toBe(true);
  });

  test("after a power loss, a jump is confirmed by the owner's signed time", () => {
    const flash = new SimFlash();
    const floor = settled(flash);
    const clock = new VirtualClock({ wallAtBoot: 0 });
    const events: string[] = [];
    const w = make(clock, flash, events);
    const later = floor + 10 * 86400; // the box sat without power for ten days
    expect(w.sync("net", later)).toBeUndefined();
    expect(w.confirmedTime).toBe(false);
    expect(w.floorS).toBe(floor);
    expect(w.sync("cmd", later + 30)).toBeUndefined();
    expect(events).toContain("time:confirmed");
    expect(w.floorS).toBe(later + 30);
  });

  test("after a power loss, a jump is confirmed by the same network time after a reboot", () => {
    const flash = new SimFlash();
    const floor = settled(flash);
    let clock = new VirtualClock({ wallAtBoot: 0 });
    let w = make(clock, flash);
    const later = floor + 10 * 86400;
    w.sync("net", later);
    clock.advance(30 * 60 * 1000);
    expect(w.floorS).toBe(floor);
    w.close();
    clock = new VirtualClock({ wallAtBoot: 0 });
    w = make(clock, flash);
    expect(w.sync("net", later + 3600)).toBeUndefined();
    expect(w.confirmedTime).toBe(true);
    expect(w.floorS).toBe(later + 3600);
  });
});

describe("the modem's time is parsed strictly", () => {
  const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
  test("real dates, both forms", () => {
    expect(parseModemTime("2028/02/29,23:59:59+00,0", false)).toBe(utc(2028, 2, 29, 23, 59, 59));
    expect(parseModemTime("26/12/01,10:00:00-20", true)).toBe(utc(2026, 12, 1, 15, 0, 0));
    expect(parseModemTime("26/12/01,10:00:00+56", true)).toBe(utc(2026, 11, 30, 20, 0, 0));
  });
  test("impossible dates, zones and years are refused", () => {
    expect(parseModemTime("2026/02/31,12:00:00+00,0", false)).toBeUndefined();
    expect(parseModemTime("2027/02/29,12:00:00+00,0", false)).toBeUndefined();
    expect(parseModemTime("26/04/31,12:00:00+00", true)).toBeUndefined();
    expect(parseModemTime("26/01/31,12:00:00+99", true)).toBeUndefined();
    expect(parseModemTime("26/01/31,12:00:00-57", true)).toBeUndefined();
    expect(parseModemTime("26/01/31,12:00:60+00", true)).toBeUndefined();
    expect(parseModemTime("69/01/01,00:00:00+00", true)).toBeUndefined();
    expect(parseModemTime("2069/01/01,00:00:00+00,0", false)).toBeUndefined();
    expect(parseModemTime("2019/06/01,00:00:00+00,0", false)).toBeUndefined();
    expect(parseModemTime("26/01/31,12:00:00+04junk", true)).toBeUndefined();
  });
});
