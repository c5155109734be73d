/**
 * The desktop simulator: a whole key box on this machine, in real time.
 * The firmware runs on simulated hardware; its radio is a local socket the
 * driver client connects to, its modem bridges to a real MQTT broker (an
 * embedded one by default), and a person plays the world from the prompt.
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "node:util";
import * as readline from "readline";
import { RealTimeDriver } from "./clock";
import { SimBox } from "./box";
import { BoxEvent } from "../firmware/events";
import { BleSocketServer } from "./ble/server";
import { DEFAULT_BLE_PORT } from "./ble/wire";
import { startBroker, EmbeddedBroker } from "./broker";
import { poke, POKE_HELP } from "./hw/person";

const DEMO_DIR = path.join(__dirname, "demo");
const DEMO_PROVISION = path.join(DEMO_DIR, "provision.json");

export function formatEvent(e: BoxEvent): string {
  const when = e.t > 0 ? new Date(e.t * 1000).toISOString().slice(11, 19) : "+" + (e.m / 1000).toFixed(1) + "s";
  return "[" + when + "] " + e.type + " " + e.reason + (e.d ? " " + JSON.stringify(e.d) : "");
}

const USAGE = `usage: npm start -- [options]
  --provision FILE   the box's provisioning file (default: the demo, box KB-DEMO01, key sim/demo/issuer.key)
  --broker URL       the owner's MQTT broker, mqtt://host:port (default: an embedded broker)
  --mqtt-port N      port of the embedded broker (default 1883; 0 picks a free one)
  --no-broker        no broker: events queue in the box's flash
  --ble-port N       the simulated radio's socket for the driver client (default ${DEFAULT_BLE_PORT})
  --dev              development mode (console on BLE, unencrypted links accepted)
  --run-for-ms N     run N ms of simulated time at full speed, print the events and exit
  --trace-modem      print the AT dialogue with the modem
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      provision: { type: "string" },
      broker: { type: "string" },
      "mqtt-port": { type: "string", default: "1883" },
      "no-broker": { type: "boolean", default: false },
      "ble-port": { type: "string", default: String(DEFAULT_BLE_PORT) },
      dev: { type: "boolean", default: false },
      "run-for-ms": { type: "string" },
      "trace-modem": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return void process.stdout.write(USAGE);
  const provFile = values.provision || DEMO_PROVISION;
  let provText: string;
  let boxId: string;
  try {
    provText = fs.readFileSync(provFile, "utf8");
    boxId = JSON.parse(provText).boxId;
  } catch (e) {
    process.stderr.write("keybox: cannot read provisioning file " + provFile + ": " + (e as Error).message + "\n");
    process.exit(2);
  }
  const quick = values["run-for-ms"] !== undefined;

  let embedded: EmbeddedBroker | undefined;
  let broker: { host: string; port: number } | undefined;
  if (values.broker) {
    const m = /^mqtt:\/\/([^:/]+):(\d+)\/?$/.exec(values.broker);
    if (!m) {
      process.stderr.write("keybox: --broker wants mqtt://host:port\n");
      process.exit(2);
    }
    broker = { host: m[1], port: Number(m[2]) };
  } else if (!values["no-broker"] && !quick) {
    try {
      embedded = await startBroker({ port: Number(values["mqtt-port"]) });
    } catch (e) {
      process.stderr.write("keybox: cannot start the embedded broker on port " + values["mqtt-port"] + " (" + (e as Error).message + "); try --mqtt-port 0 or --broker\n");
      process.exit(2);
    }
    broker = { host: embedded.host, port: embedded.port };
  }

  const box = new SimBox({
    // A person at the desktop expects the owner's commands to arrive while they watch: the modem
    // stays up for ten idle minutes and polls every 30 s, where a box in the field sleeps after one
    // minute and polls every 15.
    config: { boxId, devMode: values.dev, link: { idleMs: 600000, pollMs: 30000, batchMs: 5000 } },
    provisioning: provText,
    broker,
    now: Date.now() / 1000,
    onLog: (line) => process.stdout.write("  log: " + line + "\n"),
    onModemTrace: values["trace-modem"] ? (dir, text) => process.stdout.write("  modem " + dir + " " + JSON.stringify(text) + "\n") : undefined,
  });
  const fw = box.boot();
  let printed = 0;
  const flushEvents = () => {
    for (; printed < box.events.length; printed++) process.stdout.write(formatEvent(box.events[printed]) + "\n");
  };

  if (quick) {
    process.stdout.write("Keybox simulator: box " + boxId + ", firmware " + fw.status().version + ", " + values["run-for-ms"] + " ms of simulated time\n");
    box.run(Number(values["run-for-ms"]));
    flushEvents();
    process.stdout.write("status " + JSON.stringify(box.firmware ? box.firmware.status() : null) + "\n");
    box.close();
    return;
  }

  const radio = new BleSocketServer({ ble: box.ble, port: Number(values["ble-port"]) });
  let ble: { host: string; port: number };
  try {
    ble = await radio.listen();
  } catch (e) {
    process.stderr.write("keybox: cannot open the radio socket on port " + values["ble-port"] + " (" + (e as Error).message + "); try --ble-port\n");
    process.exit(2);
  }
  const rel = (p: string) => path.relative(process.cwd(), p) || p;
  const demoKey = path.join(DEMO_DIR, "issuer.key");
  const keyHint = provFile === DEMO_PROVISION ? rel(demoKey) : "YOUR.key";
  process.stdout.write(
    [
      "Keybox simulator: box " + boxId + ", firmware " + fw.status().version + (values.dev ? " (development mode)" : ""),
      "  trusts the issuer keys in " + rel(provFile),
      "  radio (BLE) for the driver client: " + ble.host + ":" + ble.port,
      broker ? "  MQTT broker: mqtt://" + broker.host + ":" + broker.port + (embedded ? " (embedded)" : "") : "  no broker: events queue in flash",
      "",
      "  mint a grant:     npm run issuer -- mint --key " + keyHint + " --box " + boxId + " --out grant.kbg",
      "  open the box:     npx keybox-driver unlock --grant grant.kbg --port " + ble.port,
      broker ? "  follow events:    npm run owner -- follow --broker mqtt://" + broker.host + ":" + broker.port + " --box " + boxId : "",
      broker ? "  remote unlock:    npm run owner -- unlock --key " + keyHint + " --broker mqtt://" + broker.host + ":" + broker.port + " --box " + boxId : "",
      "  type 'help' for what you can do to the box; its events print below as they happen",
      "",
    ]
      .filter((l) => l !== "")
      .join("\n") + "\n"
  );

  const driver = new RealTimeDriver({ clock: box.clock, onError: (e) => process.stdout.write("firmware error: " + String(e) + "\n") });
  const ticker = setInterval(flushEvents, 50);
  let quitting = false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: "keybox> " });
  rl.prompt();
  rl.on("line", (line) => {
    const [name, arg] = line.trim().split(/\s+/);
    let out = "";
    if (!name) out = "";
    else if (name === "quit" || name === "exit") {
      quitting = true;
      return void rl.close();
    }
    else if (name === "help")
      out = POKE_HELP + "\ncoverage none|home             the modem loses or finds the network\npower cut|on                   cut the power, or restore it (the box reboots)\nbox                            the firmware's own status\nevents                         every event so far\nquit";
    else if (name === "coverage") {
      if (arg !== "none" && arg !== "home" && arg !== "roaming" && arg !== "denied") out = "coverage none|home|roaming|denied";
      else {
        box.cellular.setCoverage(arg);
        out = "cellular coverage: " + arg;
      }
    } else if (name === "box") out = JSON.stringify(box.firmware ? box.firmware.status() : "powered off");
    else if (name === "events") out = box.events.map(formatEvent).join("\n");
    else if (name === "power") {
      if (arg === "cut") {
        box.powerCut();
        out = "power cut";
      } else {
        box.reboot("power restored");
        out = "power restored: the box rebooted";
      }
    } else out = poke(box, line);
    if (out) process.stdout.write(out + "\n");
    rl.prompt();
  });
  const shutdown = () => {
    clearInterval(ticker);
    driver.close();
    box.close();
    void radio.close();
    if (embedded) void embedded.close();
    process.stdout.write("\nbye\n");
    setTimeout(() => process.exit(0), 100);
  };
  rl.on("close", () => {
    // Typed quit, or Ctrl-D at a terminal, ends the session; without a terminal (a rig, a
    // background job) the box keeps running until it is signalled.
    if (process.stdin.isTTY || quitting) shutdown();
  });
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((e) => {
  process.stderr.write("keybox: " + ((e && e.stack) || e) + "\n");
  process.exit(1);
});
