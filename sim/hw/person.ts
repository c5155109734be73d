import { SimBattery } from "./battery";
import { executeWorld, helpLines, WORLD_COMMANDS } from "../commands";
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

/** Every world command with its arguments (the desktop's help adds its own). */
export const POKE_HELP = helpLines(WORLD_COMMANDS).join("\n");

/**
 * Fault injection and world control as one-line text commands, for scripted
 * scenarios and tests (the table is WORLD_COMMANDS in sim/commands.ts, which
 * the desktop's prompt and web page share). Returns what happened, or
 * "error: ..." with the usage; it never throws.
 */
export function poke(w: SimWorld, line: string): string {
  return executeWorld(w, line);
}
