/**
 * The desktop simulator's session: the box, its pace, and the commands a
 * person gives it, the same from the prompt and from the web page. Also what
 * both show: an event as a line, the status as lines, and a snapshot of the
 * whole box for the page's drawing.
 */
import { BoxEvent } from "../firmware/events";
import { SimBox } from "./box";
import { Answer, Command, execute, helpLines, WORLD_COMMANDS, worldLine } from "./commands";
import { Pace, MAX_RATE } from "./pace";
import { parseDuration, readBlob, UsageError } from "./issuer/files";
import { run as runDriver } from "./driver/main";
import type { Coverage } from "./modem/bg96-emulator";
import type { SimWorld } from "./hw/person";

export interface DeskOptions {
  box: SimBox;
  pace: Pace;
  /** The radio socket a presented grant goes through, as a phone's would (absent: no radio). */
  radio?: { host: string; port: number };
  /** Unix seconds of the world's true time at virtual time 0 (the network's clock). */
  epochS: number;
  /** Called by the quit command (the prompt's). */
  onQuit?: () => void;
}

/** What the page draws: the box's parts as they physically are, and what the firmware thinks. */
export interface Snapshot {
  boxId: string;
  version: string;
  powered: boolean;
  latch: { state: string; reason: string; wayOut: string } | null;
  bolt: { position: number; motor: string; jammed: boolean; switchClosed: boolean };
  lid: { open: boolean; switchClosed: boolean };
  key: { inside: boolean; switchClosed: boolean };
  led: boolean;
  buzzerHz: number;
  battery: { mv: number; restMv: number };
  modem: { power: string; coverage: string; link: boolean };
  time: { wall: number; monotonic: number; rate: number };
  /** More status lines from other parts of the simulator (see Desk.statusLines). */
  extra: string[];
  events: number;
}

const WAY_OUT_HINT: { [wayOut: string]: string } = {
  lock: "clear the cause (jam off, switch bolt ok, close the lid), then lock: `grant FILE lock` here, or keybox-driver lock --grant FILE with a grant that allows lock",
};

/** One event as a line: time, type, reason, fields; a fault adds its way out in words. */
export function formatEvent(e: BoxEvent): string {
  const when = e.t > 0 ? new Date(e.t * 1000).toISOString().slice(11, 19) : "+" + (e.m / 1000).toFixed(1) + "s";
  let s = "[" + when + "] " + e.type + " " + e.reason + (e.d ? " " + JSON.stringify(e.d) : "");
  const out = e.d && typeof e.d.wayOut === "string" ? WAY_OUT_HINT[e.d.wayOut] : undefined;
  if (out) s += "\n    way out: " + out;
  return s;
}

function adapt(c: Command<SimWorld>): Command<Desk> {
  return { name: c.name, args: c.args, help: c.help, run: (d, a) => c.run(d.box, a) };
}

const COVERAGES = ["none", "home", "roaming", "denied"];

const DESK_COMMANDS: Array<Command<Desk>> = WORLD_COMMANDS.filter((c) => c.name !== "status")
  .map(adapt)
  .concat([
    {
      name: "power",
      args: "cut|on",
      help: "cut the power, or restore it (the box boots again from its Storage)",
      run: (d, a) => {
        if (a.length !== 1) return undefined;
        if (a[0] === "cut") return d.box.firmware ? (d.box.powerCut(), "power cut") : "the power is already off";
        if (a[0] === "on") return (d.box.reboot("power restored"), "power restored: the box booted");
        return undefined;
      },
    },
    {
      name: "coverage",
      args: "none|home|roaming|denied",
      help: "the modem loses the network, or finds it (at home, roaming, or refused)",
      run: (d, a) => {
        if (a.length !== 1 || COVERAGES.indexOf(a[0]) < 0) return undefined;
        d.coverage = a[0];
        d.box.cellular.setCoverage(a[0] as Coverage);
        return "cellular coverage: " + a[0];
      },
    },
    {
      name: "grant",
      args: "<file|base64> [unlock|lock]",
      help: "present a grant at the box as a driver's phone does (over the simulated radio)",
      run: (d, a) => {
        if (a.length < 1 || a.length > 2 || (a[1] !== undefined && a[1] !== "unlock" && a[1] !== "lock")) return undefined;
        return d.present(a[0], a[1] === "lock" ? "lock" : "unlock");
      },
    },
    {
      name: "time",
      args: "[pause | run [speed] | advance <duration>]",
      help: "the box's clock: pause it, run it (1 = real time, up to " + MAX_RATE + "), or jump ahead (90s, 30m, 2h)",
      run: async (d, a) => {
        if (a.length === 0) return d.timeLine();
        if (a[0] === "pause" && a.length === 1) return (d.pace.setRate(0), "time paused; " + d.timeLine());
        if (a[0] === "run" && a.length <= 2) {
          const rate = a[1] === undefined ? 1 : Number(a[1].replace(/x$/, ""));
          if (!d.pace.setRate(rate) || a[1] === "") return undefined;
          return "time runs at " + rate + "x; " + d.timeLine();
        }
        if (a[0] === "advance" && a.length === 2) {
          let ms: number;
          try {
            ms = /^\d+ms$/.test(a[1]) ? Number(a[1].slice(0, -2)) : parseDuration(a[1], "advance") * 1000;
          } catch (e) {
            if (e instanceof UsageError) return undefined;
            throw e;
          }
          await d.pace.advance(ms);
          return "advanced " + a[1] + "; " + d.timeLine();
        }
        return undefined;
      },
    },
    {
      name: "status",
      args: "",
      help: "the latch (with why, and the way out of a fault), the parts, the modem, the time",
      run: (d, a) => (a.length ? undefined : d.statusText()),
    },
    {
      name: "events",
      args: "[n]",
      help: "the last n events (default all)",
      run: (d, a) => {
        const n = a[0] === undefined ? Infinity : Number(a[0]);
        if (a.length > 1 || !(n >= 0)) return undefined;
        const list = d.box.events.slice(n === Infinity ? 0 : Math.max(0, d.box.events.length - n));
        return list.length ? list.map(formatEvent).join("\n") : "no events yet";
      },
    },
    {
      name: "help",
      args: "[command]",
      help: "every command with its arguments, or one command's",
      run: (_d, a) => {
        if (a.length === 0) return helpLines(DESK_COMMANDS).join("\n");
        const c = DESK_COMMANDS.filter((x) => x.name === a[0]);
        return c.length && a.length === 1 ? helpLines(c).join("\n") : undefined;
      },
    },
    {
      name: "quit",
      args: "",
      help: "stop the simulator (its Storage stays in the state folder); Ctrl-C does the same",
      promptOnly: true,
      run: (d, a) => {
        if (a.length) return undefined;
        if (d.onQuit) d.onQuit();
        return "bye";
      },
    },
  ]);

export class Desk {
  readonly box: SimBox;
  readonly pace: Pace;
  coverage = "home";
  /**
   * Extra lines for `status` and the page (a battery-life estimate, ...):
   * each provider is asked every time the status is shown.
   */
  readonly statusLines: Array<() => string[]> = [];
  private readonly o: DeskOptions;

  constructor(options: DeskOptions) {
    if (!options || !options.box || !options.pace) throw new Error("Desk needs box and pace");
    this.o = options;
    this.box = options.box;
    this.pace = options.pace;
  }

  get onQuit(): (() => void) | undefined {
    return this.o.onQuit;
  }

  /** The commands with their arguments (the page builds its help from this). */
  commands(): Array<{ name: string; args: string; help: string; promptOnly: boolean }> {
    return DESK_COMMANDS.map((c) => ({ name: c.name, args: c.args, help: c.help, promptOnly: !!c.promptOnly }));
  }

  execute(line: string): Promise<Answer> {
    return execute(DESK_COMMANDS, this, line);
  }

  /** The world's true time now (what the network reports), Unix seconds. */
  wall(): number {
    return this.o.epochS + this.box.clock.monotonic() / 1000;
  }

  timeLine(): string {
    const r = this.pace.rate;
    return "box time " + new Date(this.wall() * 1000).toISOString().replace(/\.\d+Z$/, "Z") + ", " + (r === 0 ? "paused" : "running at " + r + "x");
  }

  statusText(): string {
    const fw = this.box.firmware;
    const lines: string[] = [];
    if (!fw) lines.push("power off (power on boots the box)");
    else {
      const s = fw.status();
      lines.push("box " + s.boxId + ", firmware " + s.version + ", " + s.keys + " issuer key(s)");
      lines.push("latch " + s.latch + " (" + s.latchReason + ")" + (s.wayOut ? "; way out: " + (WAY_OUT_HINT[s.wayOut] || s.wayOut) : ""));
    }
    lines.push(worldLine(this.box));
    lines.push("modem " + this.box.cellular.power + ", coverage " + this.coverage + (this.box.cellular.socketIds().length ? ", connected to the broker" : ""));
    lines.push(this.timeLine());
    for (const f of this.statusLines) for (const l of f()) lines.push(l);
    return lines.join("\n");
  }

  snapshot(): Snapshot {
    const b = this.box;
    const fw = b.firmware;
    const s = fw ? fw.status() : undefined;
    const extra: string[] = [];
    for (const f of this.statusLines) for (const l of f()) extra.push(l);
    return {
      boxId: s ? s.boxId : "",
      version: s ? s.version : "",
      powered: !!fw,
      latch: s ? { state: s.latch, reason: s.latchReason, wayOut: s.wayOut } : null,
      bolt: { position: b.latch.where(), motor: b.latch.driving(), jammed: b.latch.isJammed(), switchClosed: b.latch.bolt.read() },
      lid: { open: b.person.isLidOpen(), switchClosed: b.lid.read() },
      key: { inside: !b.person.hasKeyOut(), switchClosed: b.key.read() },
      led: b.led.on,
      buzzerHz: b.buzzer.frequency,
      battery: { mv: b.battery.millivolts(), restMv: b.battery.restMillivolts() },
      modem: { power: String(b.cellular.power), coverage: this.coverage, link: b.cellular.socketIds().length > 0 },
      time: { wall: this.wall(), monotonic: b.clock.monotonic(), rate: this.pace.rate },
      extra,
      events: b.events.length,
    };
  }

  /** Presents a grant (a file, or its base64) over the radio, as keybox-driver does; answers with the driver's lines. */
  async present(source: string, kind: "unlock" | "lock"): Promise<string> {
    const radio = this.o.radio;
    if (!radio) return "error: this simulator has no radio socket";
    let bytes: Uint8Array;
    try {
      bytes = readBlob(source);
    } catch (e) {
      return "error: " + (e as Error).message;
    }
    const lines: string[] = [];
    const code = await runDriver([kind, "--grant", "-", "--format", "binary", "--host", radio.host, "--port", String(radio.port)], {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      stdin: () => Buffer.from(bytes),
    });
    return (code === 0 ? "" : "error: ") + lines.filter((l) => !/^(connecting to|connected:|encrypted:)/.test(l)).join("\n");
  }
}
