import { Clock, Handle } from "../index";

/**
 * getTime() is the RTC and moves when setTime() is called, so the monotonic
 * clock is kept as getTime() minus an offset that setWall() adjusts.
 */
export class EspruinoClock implements Clock {
  private offsetMs: number;

  constructor() {
    this.offsetMs = getTime() * 1000;
  }

  monotonic(): number {
    return getTime() * 1000 - this.offsetMs;
  }

  wall(): number {
    return getTime();
  }

  setWall(unixSeconds: number): void {
    const mono = this.monotonic();
    setTime(unixSeconds);
    this.offsetMs = getTime() * 1000 - mono;
  }

  after(ms: number, cb: () => void): Handle {
    let live = true;
    const id = setTimeout(function () {
      live = false;
      cb();
    }, ms);
    return {
      cancel: function () {
        if (live) clearTimeout(id);
        live = false;
      },
    };
  }

  every(ms: number, cb: () => void): Handle {
    let id: number | undefined = setInterval(cb, ms);
    return {
      cancel: function () {
        if (id !== undefined) clearInterval(id);
        id = undefined;
      },
    };
  }
}
