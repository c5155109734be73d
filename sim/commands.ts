/**
 * One command set for everything a person (or a script, or the web page)
 * does to a simulated box: the world's hands and faults, power, coverage,
 * presenting a grant, time. Each command has its arguments and one line of
 * help; a command given the wrong arguments answers with its usage, and an
 * unknown one with the list. The prompt and the page both call execute().
 *
 * The world commands (lid, key, jam, ...) need only the physical parts
 * (SimWorld), so tests and scenarios can run them without a desktop.
 */
import type { SimWorld } from "./hw/person";
import type { SimSwitch } from "./hw/switch";

export interface Command<C> {
  name: string;
  /** The arguments, as help prints them: "open|close|force|slam". */
  args: string;
  help: string;
  /** Only at the prompt (not a button on the page). */
  promptOnly?: boolean;
  /** The answer, or undefined when the arguments are wrong (the caller answers with the usage). */
  run(ctx: C, a: string[]): string | undefined | Promise<string | undefined>;
}

export interface Answer {
  ok: boolean;
  text: string;
}

const NUM = /^-?\d+(\.\d+)?$/;

/** a[i] as a number when it is one, else NaN (Number("") is 0, which would pass range checks). */
function num(a: string[], i: number): number {
  return a[i] !== undefined && NUM.test(a[i]) ? Number(a[i]) : NaN;
}

function switchOf(w: SimWorld, name: string): SimSwitch | undefined {
  return name === "bolt" ? w.latch.bolt : name === "lid" ? w.lid : name === "key" ? w.key : undefined;
}

/** Where everything physically is, in one line. */
export function worldLine(w: SimWorld): string {
  return (
    "bolt " + w.latch.where().toFixed(2) + (w.latch.isJammed() ? " (jammed)" : "") + ", motor " + w.latch.driving() +
    ", switches bolt=" + w.latch.bolt.read() + " lid=" + w.lid.read() + " key=" + w.key.read() +
    ", lid " + (w.person.isLidOpen() ? "open" : "shut") + ", key " + (w.person.hasKeyOut() ? "out" : "in") +
    ", battery " + w.battery.millivolts() + " mV"
  );
}

export const WORLD_COMMANDS: Array<Command<SimWorld>> = [
  {
    name: "lid",
    args: "open|close|force|slam",
    help: "a person at the lid (force and slam ignore the bolt)",
    run: (w, a) => {
      if (a[0] === "open") return w.person.openLid() ? "lid opened" : "lid held by the bolt";
      if (a[0] === "close") return w.person.closeLid() ? "lid closed" : "the bolt is in the way";
      if (a[0] === "force") return (w.person.forceLid(), "lid forced open");
      if (a[0] === "slam") return (w.person.forceCloseLid(), "lid slammed shut");
      return undefined;
    },
  },
  {
    name: "key",
    args: "take|return",
    help: "the car key in its holder (the lid must be open)",
    run: (w, a) => {
      if (a[0] === "take") return w.person.takeKey() ? "key taken" : "cannot take the key (lid shut or key gone)";
      if (a[0] === "return") return w.person.returnKey() ? "key returned" : "cannot return the key (lid shut or key there)";
      return undefined;
    },
  },
  {
    name: "jam",
    args: "on|off | at <0..1>",
    help: "seize the bolt now, free it, or seize it when it reaches a position",
    run: (w, a) => {
      if (a[0] === "on" || a[0] === "off") return (w.latch.jam(a[0] === "on"), "bolt " + (a[0] === "on" ? "jammed" : "free"));
      if (a[0] === "at" && num(a, 1) >= 0 && num(a, 1) <= 1) return (w.latch.jamAt(num(a, 1)), "bolt will jam at " + num(a, 1));
      return undefined;
    },
  },
  {
    name: "stick",
    args: "<n>",
    help: "static friction holds the bolt for the next n drives",
    run: (w, a) => (num(a, 0) >= 0 ? (w.latch.stick(num(a, 0)), "bolt sticks for " + Math.floor(num(a, 0)) + " drives") : undefined),
  },
  {
    name: "bolt",
    args: "<0..1>",
    help: "force the bolt by hand to a position (0 retracted, 1 thrown)",
    run: (w, a) => (num(a, 0) >= 0 && num(a, 0) <= 1 ? (w.latch.force(num(a, 0)), "bolt forced to " + num(a, 0)) : undefined),
  },
  {
    name: "switch",
    args: "bolt|lid|key true|false|ok",
    help: "a switch fails stuck at a logical level, or is repaired",
    run: (w, a) => {
      const s = switchOf(w, a[0]);
      if (s && (a[1] === "true" || a[1] === "false")) return (s.stick(a[1] === "true"), a[0] + " switch stuck " + a[1]);
      if (s && a[1] === "ok") return (s.stick(undefined), a[0] + " switch repaired");
      return undefined;
    },
  },
  {
    name: "bounce",
    args: "bolt|lid|key true|false",
    help: "the contact chatters, then lands on a level",
    run: (w, a) => {
      const s = switchOf(w, a[0]);
      if (s && (a[1] === "true" || a[1] === "false")) return (s.bounce(a[1] === "true"), a[0] + " switch bouncing to " + a[1]);
      return undefined;
    },
  },
  {
    name: "battery",
    args: "<mV>",
    help: "the cell's resting voltage (the box refuses to drive below 3400)",
    run: (w, a) => (num(a, 0) > 0 && num(a, 0) < 10000 ? (w.battery.setMillivolts(num(a, 0)), "battery " + num(a, 0) + " mV at rest") : undefined),
  },
  {
    name: "shake",
    args: "<peak mg> [ms] [period ms]",
    help: "accelerometer bursts (one knock without ms)",
    run: (w, a) => {
      const peak = num(a, 0);
      const ms = a[1] === undefined ? 0 : num(a, 1);
      const period = a[2] === undefined ? 100 : num(a, 2);
      if (!(peak >= 0 && ms >= 0 && period > 0) || a.length > 3) return undefined;
      return (w.motion.shake(peak, ms, period), "shaking at " + peak + " mg for " + ms + " ms");
    },
  },
  {
    name: "status",
    args: "",
    help: "where everything physically is",
    run: (w, a) => (a.length ? undefined : worldLine(w)),
  },
];

/** "name args   help" lines, aligned. */
export function helpLines<C>(list: Array<Command<C>>): string[] {
  const heads = list.map((c) => (c.args ? c.name + " " + c.args : c.name));
  const width = Math.max(...heads.map((h) => h.length)) + 3;
  return list.map((c, i) => heads[i] + " ".repeat(width - heads[i].length) + c.help);
}

export function usageOf<C>(c: Command<C>): string {
  return "usage: " + (c.args ? c.name + " " + c.args : c.name) + "   (" + c.help + ")";
}

/** Splits a line into words; a command name is matched case-insensitively. */
export function words(line: string): string[] {
  return line.trim().split(/\s+/).filter((w) => w !== "");
}

/**
 * Runs one line against a command list. Never throws for bad input: wrong
 * arguments answer with the command's usage, an unknown name with the list
 * of names.
 */
export async function execute<C>(list: Array<Command<C>>, ctx: C, line: string): Promise<Answer> {
  const a = words(line);
  if (!a.length) return { ok: true, text: "" };
  const c = list.find((x) => x.name === a[0].toLowerCase());
  if (!c) return { ok: false, text: "error: unknown command " + JSON.stringify(a[0]) + "; the commands are " + list.map((x) => x.name).join(", ") + " (help lists their arguments)" };
  try {
    const r = await c.run(ctx, a.slice(1));
    if (r === undefined) return { ok: false, text: "error: " + usageOf(c) };
    return { ok: !/^error/.test(r), text: r };
  } catch (e) {
    return { ok: false, text: "error: " + ((e as Error).message || String(e)) };
  }
}

/** The synchronous form for world commands only (every world command answers at once). */
export function executeWorld(w: SimWorld, line: string): string {
  const a = words(line);
  const c = WORLD_COMMANDS.find((x) => a.length > 0 && x.name === a[0].toLowerCase());
  if (!c) return "error: unknown command (" + line.trim() + "); the commands are " + WORLD_COMMANDS.map((x) => x.name).join(", ");
  const r = c.run(w, a.slice(1));
  return typeof r === "string" ? r : "error: " + usageOf(c);
}
