/**
 * The desktop simulator: a whole key box on this machine, in real time.
 * A person plays the world from the prompt (open the lid, take the key,
 * shake the box, cut the power) and watches the box's events.
 */
import { parseArgs } from "node:util";
import * as readline from "readline";
import { RealTimeDriver } from "./clock";
import { SimBox } from "./box";
import { BoxEvent } from "../firmware/events";

const DEMO_BOX_ID = "KB-DEMO01";

interface Command {
  help: string;
  run(box: SimBox, args: string[]): string | void;
}

/** What a person can do to the simulated world, one line each. */
const COMMANDS: { [name: string]: Command } = {
  status: { help: "status                 the box's own report", run: (b) => JSON.stringify(b.firmware ? b.firmware.status() : "powered off") },
  lid: { help: "lid open|close         open or close the lid (as far as the bolt allows)", run: (b, a) => lid(b, a[0]) },
  key: { help: "key out|in             take the car key or put it back", run: (b, a) => (a[0] === "out" ? b.key.set(false) : b.key.set(true)) },
  shake: { help: "shake [mg] [ms]        shake the box (default 1500 mg for 2000 ms)", run: (b, a) => b.motion.shake(num(a[0], 1500), num(a[1], 2000)) },
  jam: { help: "jam on|off             seize or free the bolt", run: (b, a) => b.latch.jam(a[0] === "on") },
  force: { help: "force                  pry the bolt back with a crowbar", run: (b) => b.latch.force(0) },
  battery: { help: "battery <mV>           set the cell's resting voltage", run: (b, a) => b.battery.setMillivolts(num(a[0], 3900)) },
  power: { help: "power cut|on           cut the power, or restore it (the box reboots)", run: (b, a) => powerCmd(b, a[0]) },
  events: { help: "events                 every event so far", run: (b) => b.events.map(formatEvent).join("\n") },
};

function lid(box: SimBox, what: string | undefined): string | void {
  if (what === "close") return box.lid.set(true);
  if (box.latch.where() > 0.05) return "the lid will not open: the bolt holds it";
  box.lid.set(false);
}

function powerCmd(box: SimBox, what: string | undefined): string {
  if (what === "cut") {
    box.powerCut();
    return "power cut";
  }
  box.reboot("power restored");
  return "power restored, box rebooted";
}

function num(s: string | undefined, dflt: number): number {
  const n = s === undefined ? NaN : Number(s);
  return Number.isFinite(n) ? n : dflt;
}

export function formatEvent(e: BoxEvent): string {
  const when = e.t > 0 ? new Date(e.t * 1000).toISOString().slice(11, 19) : "+" + (e.m / 1000).toFixed(1) + "s";
  return "[" + when + "] " + e.type + " " + e.reason + (e.d ? " " + JSON.stringify(e.d) : "");
}

function main(): void {
  const { values } = parseArgs({
    options: {
      box: { type: "string", default: DEMO_BOX_ID },
      "run-for-ms": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write("usage: npm start -- [--box ID] [--run-for-ms N]\n");
    return;
  }
  const box = new SimBox({
    config: { boxId: values.box },
    wallAtBoot: Date.now() / 1000,
    onLog: (line) => process.stdout.write("  log: " + line + "\n"),
  });
  const fw = box.boot();
  let printed = 0;
  const flushEvents = () => {
    for (; printed < box.events.length; printed++) process.stdout.write(formatEvent(box.events[printed]) + "\n");
  };
  process.stdout.write(
    [
      "Keybox simulator: box " + fw.status().boxId + ", firmware " + fw.status().version,
      "  type 'help' for what you can do to the box; events print as they happen",
      "",
    ].join("\n")
  );

  const budget = values["run-for-ms"];
  if (budget !== undefined) {
    box.run(Number(budget));
    flushEvents();
    process.stdout.write("status " + JSON.stringify(box.firmware ? box.firmware.status() : null) + "\n");
    box.close();
    return;
  }

  const driver = new RealTimeDriver({
    clock: box.clock,
    onError: (e) => process.stdout.write("firmware error: " + String(e) + "\n"),
  });
  const events = setInterval(flushEvents, 50);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: "keybox> " });
  rl.prompt();
  rl.on("line", (line) => {
    const [name, ...args] = line.trim().split(/\s+/);
    if (!name) return rl.prompt();
    if (name === "quit" || name === "exit") return rl.close();
    if (name === "help") {
      process.stdout.write(Object.keys(COMMANDS).map((k) => "  " + COMMANDS[k].help).join("\n") + "\n  quit\n");
      return rl.prompt();
    }
    const cmd = COMMANDS[name];
    const out = cmd ? cmd.run(box, args) : "unknown command '" + name + "' (try help)";
    if (typeof out === "string" && out) process.stdout.write(out + "\n");
    rl.prompt();
  });
  rl.on("close", () => {
    clearInterval(events);
    driver.close();
    box.close();
    process.stdout.write("\nbye\n");
    process.exit(0);
  });
}

main();
