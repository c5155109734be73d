import { Battery } from "../hal";
import { EventBus } from "./events";
import { AccessControl } from "./grants/access";
import { HolderProof } from "./grants/decide";
import { LatchController } from "./latch/controller";

/** The answer the phone gets when the grant was accepted and the latch was told to move. */
export const GRANTED = "granted";

/**
 * Between a presented grant and the latch. The checks that need no grant
 * (the latch can move, the battery can finish a cycle) run first, so a
 * single-use grant is not spent on a box that cannot open; only then is
 * the grant decided, its use persisted, and the latch driven.
 */
export class Gatekeeper {
  constructor(
    private readonly o: {
      access: AccessControl;
      latch: LatchController;
      battery: Battery;
      events: EventBus;
      /** The latch's minimum resting voltage to start a cycle. */
      minStartMv: number;
    }
  ) {}

  /** Returns GRANTED or the specific reason for refusing. */
  request(kind: "unlock" | "lock", grant: Uint8Array, channel: string, holder?: HolderProof): string {
    const o = this.o;
    const before = this.precheck(kind);
    if (before) {
      o.events.emit("access", before, { ch: channel, act: kind, ok: false, pre: true });
      return before;
    }
    const r = o.access.present(grant, { action: kind, channel: channel, holder: holder });
    if (!r.ok) return r.reason;
    const src = channel + ":" + r.grantId;
    const refused = kind === "unlock" ? o.latch.unlock(src) : o.latch.lock(src);
    return refused || GRANTED;
  }

  /** The refusals that need no grant: whether the latch can move and the battery can finish a cycle. */
  precheck(kind: "unlock" | "lock"): string | undefined {
    const state = this.o.latch.state();
    if (kind === "unlock") {
      if (state === "open") return "already_open";
      if (state !== "locked") return state === "fault" ? "fault" : "busy";
    } else {
      if (state === "locked") return "already_locked";
      if (state === "unlocking" || state === "locking") return "busy";
    }
    if (this.o.battery.millivolts() < this.o.minStartMv) return "low_battery";
    return undefined;
  }
}
