import { Battery, Clock, Handle } from "../hal";
import { EventBus } from "./events";
import { AccessControl, Admission } from "./grants/access";
import { PERM_ADMIN } from "./grants/codec";
import { HolderProof } from "./grants/decide";
import { LatchController } from "./latch/controller";

/** The answer the phone gets once the grant was accepted and the latch's motor started. */
export const GRANTED = "granted";

export interface GatekeeperOptions {
  access: AccessControl;
  latch: LatchController;
  battery: Battery;
  events: EventBus;
  /** The latch's minimum resting voltage to start any motor cycle (a relock included). */
  minStartMv: number;
  /** The owner's reserve: an admin grant (or the owner's signed unlock) may still open down to here (default minStartMv). */
  reserveMv?: number;
  /** Below this a delivery (a grant without the admin permission) is refused, keeping the reserve for the owner (default reserveMv). */
  deliveryMv?: number;
  /** Whether grant bytes were verified before (preverify.ts knows): no signature verification is needed for them. */
  known?: (grant: Uint8Array) => boolean;
  /**
   * With a clock, "granted" is answered, and the decision's events go to
   * their listeners, on the tick after the motor started; without one, as
   * the motor is about to start.
   */
  clock?: Clock;
}

/** Longest the events wait for the motor to start (it starts in the same call unless the latch is cooling down). */
const HOLD_MAX_MS = 20;

/** What screen() says a request will cost (the radio's names, firmware/ble/service.ts). */
export const COST_KNOWN = "known";
export const COST_VERIFY = "verify";

/**
 * Between a presented grant and the latch. The checks that need no grant
 * (the latch can move, the battery can finish a cycle) run first; then the
 * grant is decided without spending anything; then the latch is told to
 * move, and only as its motor is about to start is the use spent and the
 * phone told "granted". A latch that refuses, or a cycle that ends before
 * the motor started (the battery sagged, the marker could not be written),
 * answers with its real reason and spends nothing; a cycle that started but
 * never opened the box (a jam, a relock after an abort) gives the use back.
 *
 * Time to the motor: from admit() until the motor starts (or the request
 * ends), the event bus holds every event (firmware/events.ts): storing one
 * for the owner costs the board tens of milliseconds, a driver waits for
 * the motor, and the use is already durable before it starts. The events
 * go out, in order, on the tick after, with the phone's answer (or after
 * HOLD_MAX_MS when the motor first waits out its cool-down).
 *
 * Battery: below deliveryMv deliveries are refused (low_battery) while the
 * owner's admin grant still opens down to reserveMv: the owner is never
 * locked out of the box by a flat battery before the motor itself cannot
 * finish a cycle.
 */
export class Gatekeeper {
  private readonly reserveMv: number;
  private readonly deliveryMv: number;
  /** The battery reading precheck() took, for the request in the same call (after the screen, or its own precheck). */
  private screenMv: number | undefined;

  constructor(private readonly o: GatekeeperOptions) {
    this.reserveMv = o.reserveMv === undefined ? o.minStartMv : o.reserveMv;
    this.deliveryMv = o.deliveryMv === undefined ? this.reserveMv : o.deliveryMv;
  }

  /**
   * Decides and acts; cb(GRANTED or the specific reason) exactly once, when
   * the latch has started or cannot. screened: screen() passed these bytes
   * in this same call (the radio's way), so its checks are not made twice.
   */
  request(kind: "unlock" | "lock", grant: Uint8Array, channel: string, holder: HolderProof | undefined, cb: (reason: string) => void, screened?: boolean): void {
    const o = this.o;
    const before = screened === true ? undefined : this.precheck(kind);
    const checkedMv = this.screenMv;
    this.screenMv = undefined;
    if (before) {
      o.events.emit("access", before, { ch: channel, act: kind, ok: false, pre: true });
      return cb(before);
    }
    const release = o.events.hold();
    const done = function (reason: string) {
      try {
        cb(reason);
      } finally {
        release();
      }
    };
    const a = o.access.admit(grant, { action: kind, channel: channel, holder: holder, screened: screened === true });
    if ("reason" in a) return done(a.reason);
    // the reading of the precheck in this call (the screen's, or this request's own)
    const mv = checkedMv !== undefined ? checkedMv : o.battery.millivolts();
    if (kind === "unlock" && (a.perms & PERM_ADMIN) === 0 && mv < this.deliveryMv) {
      o.access.finish(a, "low_battery");
      o.events.emit("power", "reserve_kept", { mv: mv, deliveryMv: this.deliveryMv, reserveMv: this.reserveMv });
      return done("low_battery");
    }
    // A motor that must first cool down (a request right after a cycle) does not hold the alarm policy and the owner's events back for that long.
    if (this.act(kind, a, done) && o.clock) o.clock.after(HOLD_MAX_MS, release);
  }

  /**
   * What deciding this request would cost, without deciding it: a cheap
   * refusal's reason (the latch or battery cannot, or the grant fails a
   * check that needs no cryptography), COST_KNOWN for a grant verified
   * before, or COST_VERIFY when only a signature verification can tell.
   * The radio charges its box-wide budget for COST_VERIFY alone.
   */
  screen(kind: "unlock" | "lock", grant: Uint8Array): string {
    const before = this.precheck(kind);
    if (before) return before;
    const cheap = this.o.access.screen(grant, kind);
    if (cheap) return cheap;
    return this.o.known && this.o.known(grant) ? COST_KNOWN : COST_VERIFY;
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
    const mv = this.o.battery.millivolts();
    this.screenMv = mv;
    if (mv < (kind === "unlock" ? this.reserveMv : this.o.minStartMv)) return "low_battery";
    return undefined;
  }

  /** Tells the latch; true while its motor waits out a cool-down (it neither started nor refused). */
  private act(kind: "unlock" | "lock", a: Admission, cb: (reason: string) => void): boolean {
    const o = this.o;
    let answered = false;
    let started = false;
    let sub: Handle | undefined;
    const answer = function (reason: string) {
      if (answered) return;
      answered = true;
      o.access.finish(a, reason);
      cb(reason);
    };
    const commit = function (): string | undefined {
      const err = o.access.spend(a);
      if (err) {
        answer(err);
        return err;
      }
      started = true;
      // The latch starts the motor as this returns: the answer (and the events held since admit) follow it.
      if (o.clock)
        o.clock.after(0, function () {
          answer(GRANTED);
        });
      else answer(GRANTED);
      return undefined;
    };
    const goal = kind === "unlock" ? "open" : "locked";
    // Subscribed before the command: with no cool-down due, the latch starts (or ends) the cycle before it returns.
    sub = o.latch.onState(function (state, why) {
      if (state === "unlocking" || state === "locking") return;
      if (sub) sub.cancel();
      sub = undefined;
      if (!started) return answer(why);
      // the motor ran but the box never opened: the use was not used; otherwise it was
      if (kind === "unlock" && state !== goal && (state === "locked" || why === "jam")) o.access.refund(a, why);
      else o.access.opened(a);
    });
    const src = a.channel + ":" + a.grantId;
    const refused = kind === "unlock" ? o.latch.unlock(src, commit) : o.latch.lock(src, commit);
    if (!refused) return !started && !answered;
    if (sub) sub.cancel();
    sub = undefined;
    answer(refused);
    return false;
  }
}
