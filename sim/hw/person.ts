import { SimBattery } from "./battery";
import { SimLatch } from "./latch";
import { SimMotion } from "./motion";
import { SimSwitch } from "./switch";

export interface SimPersonOptions {
  latch: SimLatch;
  /** The lid switch (true = closed). */
  lid: SimSwitch;
  /** The key-present switch (true = key in its holder). */
  key: SimSwitch;
  /** The lid clears the bolt only when the bolt is at or below this position (0 retracted .. 1 thrown). */
  lidFreeBelow?: number;
  /** Contacts chatter when a person moves the lid or the key (default true). */
  bounce?: boolean;
}

/**
 * The world's hands: a person at the box. The lid is physically held by the
 * bolt: openLid() and closeLid() succeed only when the bolt is retracted far
 * enough, unless forced (a crowbar). The key sits in a holder inside, so it
 * can only be taken or returned while the lid is open. The switches report
 * what the person did, with contact bounce, and keep reporting their own
 * (possibly failed) level: physical state lives here, not in the switches.
 */
export class SimPerson {
  private lidOpen: boolean;
  private keyIn: boolean;
  private readonly lidFreeBelow: number;
  private readonly bounce: boolean;

  constructor(private readonly o: SimPersonOptions) {
    this.lidOpen = !o.lid.physical();
    this.keyIn = o.key.physical();
    this.lidFreeBelow = o.lidFreeBelow === undefined ? 0.3 : o.lidFreeBelow;
    this.bounce = o.bounce === undefined ? true : o.bounce;
  }

  /** True while the bolt is retracted enough for the lid to move. */
  lidFree(): boolean {
    return this.o.latch.where() <= this.lidFreeBelow;
  }

  /** Tries to lift the lid; false when the bolt holds it. */
  openLid(): boolean {
    if (this.lidOpen) return true;
    if (!this.lidFree()) return false;
    this.setLid(true);
    return true;
  }

  /** Pries the lid open whatever the bolt says (a break-in). */
  forceLid(): void {
    this.setLid(true);
  }

  /** Tries to shut the lid; false when a thrown bolt is in the way. */
  closeLid(): boolean {
    if (!this.lidOpen) return true;
    if (!this.lidFree()) return false;
    this.setLid(false);
    return true;
  }

  /** Slams a bent lid shut past a thrown bolt (after a forced entry). */
  forceCloseLid(): void {
    this.setLid(false);
  }

  isLidOpen(): boolean {
    return this.lidOpen;
  }

  /** Takes the key from its holder; false when the lid is shut or the key is gone. */
  takeKey(): boolean {
    if (!this.lidOpen || !this.keyIn) return false;
    this.keyIn = false;
    this.flip(this.o.key, false);
    return true;
  }

  /** Puts the key back; false when the lid is shut or the key is already there. */
  returnKey(): boolean {
    if (!this.lidOpen || this.keyIn) return false;
    this.keyIn = true;
    this.flip(this.o.key, true);
    return true;
  }

  hasKeyOut(): boolean {
    return !this.keyIn;
  }

  /** The chip reset: the lid and key switches read what the person left, even mid-bounce. */
  powerOn(): void {
    this.o.lid.powerOn(!this.lidOpen);
    this.o.key.powerOn(this.keyIn);
  }

  private setLid(open: boolean): void {
    this.lidOpen = open;
    this.flip(this.o.lid, !open);
  }

  private flip(sw: SimSwitch, level: boolean): void {
    if (this.bounce) sw.bounce(level, 5, 8);
    else sw.set(level);
  }
}

/** The physical parts a person or a fault can act on. */
export interface SimWorld {
  latch: SimLatch;
  lid: SimSwitch;
  key: SimSwitch;
  battery: SimBattery;
  motion: SimMotion;
  person: SimPerson;
}

export const POKE_HELP = [
  "lid open|close|force|slam      a person at the lid (force/slam ignore the bolt)",
  "key take|return                the key in its holder (lid must be open)",
  "jam on|off | jam at <0..1>     seize the bolt now, or when it reaches a position",
  "stick <n>                      static friction holds the bolt for the next n drives",
  "bolt <0..1>                    force the bolt by hand to a position",
  "switch bolt|lid|key true|false|ok   a switch fails stuck at a logical level, or is repaired",
  "bounce bolt|lid|key true|false      the contact chatters, then lands on a level",
  "battery <mV>                   the cell's resting voltage",
  "shake <peak mg> [ms] [period ms]    accelerometer bursts",
  "status                         where everything physically is",
].join("\n");

/**
 * Fault injection and world control as one-line text commands, for the
 * desktop simulator's console and for scripted scenarios (see POKE_HELP).
 * Returns what happened, or "error: ..." for a command it does not know;
 * it never throws.
 */
export function poke(w: SimWorld, line: string): string {
  const a = line.trim().split(/\s+/);
  const num = (i: number) => Number(a[i]);
  const sw = (name: string): SimSwitch | undefined => (name === "bolt" ? w.latch.bolt : name === "lid" ? w.lid : name === "key" ? w.key : undefined);
  switch (a[0]) {
    case "lid":
      if (a[1] === "open") return w.person.openLid() ? "lid opened" : "lid held by the bolt";
      if (a[1] === "close") return w.person.closeLid() ? "lid closed" : "the bolt is in the way";
      if (a[1] === "force") return (w.person.forceLid(), "lid forced open");
      if (a[1] === "slam") return (w.person.forceCloseLid(), "lid slammed shut");
      break;
    case "key":
      if (a[1] === "take") return w.person.takeKey() ? "key taken" : "cannot take the key (lid shut or key gone)";
      if (a[1] === "return") return w.person.returnKey() ? "key returned" : "cannot return the key (lid shut or key there)";
      break;
    case "jam":
      if (a[1] === "on" || a[1] === "off") return (w.latch.jam(a[1] === "on"), "bolt " + (a[1] === "on" ? "jammed" : "free"));
      if (a[1] === "at" && num(2) >= 0 && num(2) <= 1) return (w.latch.jamAt(num(2)), "bolt will jam at " + num(2));
      break;
    case "stick":
      if (num(1) >= 0) return (w.latch.stick(num(1)), "bolt sticks for " + Math.floor(num(1)) + " drives");
      break;
    case "bolt":
      if (num(1) >= 0 && num(1) <= 1) return (w.latch.force(num(1)), "bolt forced to " + num(1));
      break;
    case "switch": {
      const s = sw(a[1]);
      if (s && (a[2] === "true" || a[2] === "false")) return (s.stick(a[2] === "true"), a[1] + " switch stuck " + a[2]);
      if (s && a[2] === "ok") return (s.stick(undefined), a[1] + " switch repaired");
      break;
    }
    case "bounce": {
      const s = sw(a[1]);
      if (s && (a[2] === "true" || a[2] === "false")) return (s.bounce(a[2] === "true"), a[1] + " switch bouncing to " + a[2]);
      break;
    }
    case "battery":
      if (num(1) > 0 && num(1) < 10000) return (w.battery.setMillivolts(num(1)), "battery " + num(1) + " mV at rest");
      break;
    case "shake":
      if (num(1) >= 0) {
        const ms = a[2] === undefined ? 0 : num(2);
        const period = a[3] === undefined ? 100 : num(3);
        if (ms >= 0 && period > 0) return (w.motion.shake(num(1), ms, period), "shaking at " + num(1) + " mg for " + ms + " ms");
      }
      break;
    case "status":
      return (
        "bolt " + w.latch.where().toFixed(2) + (w.latch.isJammed() ? " (jammed)" : "") + ", motor " + w.latch.driving() +
        ", switches bolt=" + w.latch.bolt.read() + " lid=" + w.lid.read() + " key=" + w.key.read() +
        ", lid " + (w.person.isLidOpen() ? "open" : "shut") + ", key " + (w.person.hasKeyOut() ? "out" : "in") +
        ", battery " + w.battery.millivolts() + " mV"
      );
  }
  return "error: unknown command (" + line.trim() + ")";
}
