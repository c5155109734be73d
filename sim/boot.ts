import { Clock, Handle, Hal } from "../hal";

/** Thrown when code of a firmware instance that lost its power calls its hardware. */
export class DeadBoot extends Error {
  constructor(readonly boot: number, what: string) {
    super("firmware of boot " + boot + " called " + what + " after its power was gone");
    this.name = "DeadBoot";
  }
}

/**
 * One power-on of the simulated chip: the hardware as this boot's firmware
 * sees it. Every registration the firmware makes (a watch, a radio handler,
 * the modem's receive callback) and every timer it starts is a handle this
 * boot remembers; end() cancels all of them at once, as a reset does on the
 * board, and from then on any call this boot's code makes into the hardware
 * throws DeadBoot, so a firmware instance that should be gone but still runs
 * is caught where it runs instead of corrupting the next boot's state.
 */
export class BootSession {
  readonly hal: Hal;
  private live = true;
  private readonly handles = new Set<Handle>();

  constructor(readonly boot: number, parts: Hal) {
    const self = this;
    const hal = {} as { [k: string]: unknown };
    for (const key of Object.keys(parts)) {
      const part = (parts as unknown as { [k: string]: unknown })[key];
      if (key === "clock") hal[key] = this.clock(part as Clock);
      // pure natives with no state and nothing to hear: module-level code (the verifier) keeps them across boots
      else if (key === "accel") hal[key] = part;
      else if (typeof part === "function") hal[key] = this.guard(key, part as (...a: unknown[]) => unknown, part);
      else if (part && typeof part === "object") {
        const wrapped = new Map<unknown, (...a: unknown[]) => unknown>();
        hal[key] = new Proxy(part as object, {
          get(target, prop) {
            const v = (target as { [k: string]: unknown })[prop as string];
            if (typeof v !== "function") return v;
            let g = wrapped.get(v);
            if (!g) wrapped.set(v, (g = self.guard(key + "." + String(prop), v as (...a: unknown[]) => unknown, target)));
            return g;
          },
        });
      } else hal[key] = part;
    }
    this.hal = hal as unknown as Hal;
  }

  /** True until the power goes. */
  get alive(): boolean {
    return this.live;
  }

  /** Registrations and timers of this boot still in force. */
  get attached(): number {
    return this.handles.size;
  }

  /** The power is gone: every registration and timer of this boot is cancelled. */
  end(): void {
    if (!this.live) return;
    this.live = false;
    const all = Array.from(this.handles);
    this.handles.clear();
    for (const h of all) h.cancel();
  }

  private check(what: string): void {
    if (!this.live) throw new DeadBoot(this.boot, what);
  }

  /** Wraps a part's method: refused once dead, and any handle it returns is tracked. */
  private guard(what: string, fn: (...a: unknown[]) => unknown, self: unknown): (...a: unknown[]) => unknown {
    const boot = this;
    return function (...args: unknown[]) {
      boot.check(what);
      const r = fn.apply(self, args);
      return isHandle(r) ? boot.track(r) : r;
    };
  }

  private track(inner: Handle): Handle {
    const h: Handle = {
      cancel: () => {
        this.handles.delete(h);
        inner.cancel();
      },
    };
    this.handles.add(h);
    return h;
  }

  /** This boot's timers: a one-shot leaves the set when it fires, so a long run does not pile them up. */
  private clock(c: Clock): Clock {
    const boot = this;
    return {
      monotonic: () => c.monotonic(),
      wall: () => c.wall(),
      setWall: (s: number) => {
        boot.check("clock.setWall");
        c.setWall(s);
      },
      after(ms: number, cb: () => void): Handle {
        boot.check("clock.after");
        let h: Handle | undefined = undefined;
        const inner = c.after(ms, () => {
          if (h) boot.handles.delete(h);
          cb();
        });
        h = boot.track(inner);
        return h;
      },
      every(ms: number, cb: () => void): Handle {
        boot.check("clock.every");
        return boot.track(c.every(ms, cb));
      },
    };
  }
}

function isHandle(v: unknown): v is Handle {
  return !!v && typeof v === "object" && typeof (v as Handle).cancel === "function";
}
