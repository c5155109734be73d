/**
 * The desktop simulator: a whole key box on this machine, in real time.
 * The firmware runs on simulated hardware; its radio is a local socket the
 * driver client connects to, its modem bridges to a real MQTT broker (an
 * embedded one by default), and a person plays the world from the prompt
 * or from the web page (sim/web), which share one command set (sim/desk.ts).
 * The box's Storage lives in a state folder between runs (sim/state.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "node:util";
import * as readline from "readline";
import { SimBox } from "./box";
import { BleSocketServer } from "./ble/server";
import { DEFAULT_BLE_PORT } from "./ble/wire";
import { startBroker, EmbeddedBroker } from "./broker";
import { Desk, formatEvent } from "./desk";
import { Pace } from "./pace";
import { openState, OpenedState, saveState } from "./state";
import { WebServer } from "./web/server";
import { EnergyMeter, describe } from "./energy/meter";

export { formatEvent };

const DEMO_DIR = path.join(__dirname, "demo");
const DEMO_PROVISION = path.join(DEMO_DIR, "provision.json");
const DEFAULT_WEB_PORT = 47011;
/** How often a changed Storage is written to the state folder (host ms). */
const SAVE_MS = 2000;

const USAGE = `usage: npm start -- [options]
  --provision FILE   the box's provisioning file (default: the demo, box KB-DEMO01, key sim/demo/issuer.key)
  --state DIR        where the box's Storage is kept between runs (default .sim-data/<box id>)
  --fresh            start a new box: forget what the state folder holds
  --seed N           a new box's random seed (default: random, so each new box has its own event stream)
  --web-port N       the page on http://127.0.0.1:N/ (default ${DEFAULT_WEB_PORT}; 0 picks a free one)
  --broker URL       the owner's MQTT broker, mqtt://host:port (default: an embedded broker)
  --mqtt-port N      port of the embedded broker (default 1883; 0 picks a free one)
  --no-broker        no broker: events queue in the box's flash
  --ble-port N       the simulated radio's socket for the driver client (default ${DEFAULT_BLE_PORT}; 0 picks one)
  --dev              development mode (console on BLE, unencrypted links accepted)
  --run-for-ms N     run N ms of simulated time at full speed, print the events and exit (keeps no state)
  --trace-modem      print the AT dialogue with the modem
`;

function die(line: string): never {
  process.stderr.write("keybox: " + line + "\n");
  process.exit(2);
}

function port(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(String(value)) || n > 65535) die(flag + " wants a port number 0..65535, got " + JSON.stringify(value));
  return n;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        provision: { type: "string" },
        state: { type: "string" },
        fresh: { type: "boolean", default: false },
        seed: { type: "string" },
        "web-port": { type: "string", default: String(DEFAULT_WEB_PORT) },
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
  } catch (e) {
    die((e as Error).message + "\n" + USAGE);
  }
  const values = parsed.values;
  if (values.help) return void process.stdout.write(USAGE);
  const provFile = values.provision || DEMO_PROVISION;
  let provText: string;
  let boxId: string;
  try {
    provText = fs.readFileSync(provFile, "utf8");
    boxId = JSON.parse(provText).boxId;
  } catch (e) {
    die("cannot read provisioning file " + provFile + ": " + (e as Error).message);
  }
  const quick = values["run-for-ms"] !== undefined;
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) die("--seed wants a whole number");
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const blePort = port(values["ble-port"], "--ble-port");
  const webPort = port(values["web-port"], "--web-port");

  // A quick run keeps no state: the same command gives the same events.
  let state: OpenedState | undefined;
  if (!quick) {
    try {
      state = openState({ dir: values.state || path.join(".sim-data", boxId), boxId, fresh: values.fresh, seed });
    } catch (e) {
      die((e as Error).message);
    }
  }

  let embedded: EmbeddedBroker | undefined;
  let broker: { host: string; port: number } | undefined;
  if (values.broker) {
    const m = /^mqtt:\/\/([^:/]+):(\d+)\/?$/.exec(values.broker);
    if (!m) die("--broker wants mqtt://host:port");
    broker = { host: m[1], port: Number(m[2]) };
  } else if (!values["no-broker"] && !quick) {
    try {
      embedded = await startBroker({ port: port(values["mqtt-port"], "--mqtt-port") });
    } catch (e) {
      die("cannot start the embedded broker on port " + values["mqtt-port"] + " (" + (e as Error).message + "); try --mqtt-port 0 or --broker");
    }
    broker = { host: embedded.host, port: embedded.port };
  }

  const restored = !!(state && state.storage);
  const nowS = state ? state.nowS : Date.now() / 1000;
  const box = new SimBox({
    // A person at the desktop expects the owner's commands to arrive while they watch: the modem
    // stays up for ten idle minutes and polls every 30 s, where a box in the field sleeps 3 s after
    // its session and collects commands every 2 to 6 hours (the energy model's `status` shows the cost).
    config: { boxId, devMode: values.dev, link: { idleMs: 600000, pollMs: 30000, pollMaxMs: 30000, batchMs: 5000 } },
    // A restored box has its provisioning in its own Storage already.
    provisioning: restored ? undefined : provText,
    flashImage: restored && state ? state.storage : undefined,
    codeAreaImage: restored && state ? state.codeArea : undefined,
    broker,
    now: nowS,
    seed: state ? state.runSeed : seed,
    onLog: (line) => process.stdout.write("  log: " + line + "\n"),
    onModemTrace: values["trace-modem"] ? (dir, text) => process.stdout.write("  modem " + dir + " " + JSON.stringify(text) + "\n") : undefined,
  });
  const meter = new EnergyMeter({ box });
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
    process.stdout.write(describe(meter.report()) + "\n");
    box.close();
    return;
  }
  const st = state as OpenedState;

  const radio = new BleSocketServer({ ble: box.ble, port: blePort });
  let ble: { host: string; port: number };
  try {
    ble = await radio.listen();
  } catch (e) {
    die("cannot open the radio socket on port " + blePort + " (" + (e as Error).message + "); try --ble-port");
  }
  let shutdown = () => undefined as void;
  const pace = new Pace({ run: (ms) => box.run(ms), onError: (e) => process.stdout.write("firmware error: " + String(e) + "\n") });
  const desk = new Desk({ box, pace, radio: ble, epochS: nowS, onQuit: () => shutdown() });
  const web = new WebServer({ desk, port: webPort });
  let page: { url: string };
  try {
    page = await web.listen();
  } catch (e) {
    die("cannot serve the web page on port " + webPort + " (" + (e as Error).message + "); try --web-port 0");
  }

  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r === "" || r.startsWith("..") ? path.resolve(p) : r;
  };
  const demoKey = path.join(DEMO_DIR, "issuer.key");
  const keyHint = provFile === DEMO_PROVISION ? rel(demoKey) : "YOUR.key";
  const brokerUrl = broker ? "mqtt://" + broker.host + ":" + broker.port : "";
  process.stdout.write(
    [
      "Keybox simulator: box " + boxId + ", firmware " + fw.status().version + (values.dev ? " (development mode)" : ""),
      restored
        ? "  restored from " + rel(st.dir) + " (run " + st.meta.runs + "): its Storage, used grants and events as it left them (--fresh starts over)"
        : "  a fresh box (seed " + st.meta.seed + "), kept in " + rel(st.dir) + " (restored next time; --fresh starts over)",
      restored ? "" : "  trusts the issuer keys in " + rel(provFile),
      "  web page:         " + page.url,
      "  radio (BLE) for the driver client: " + ble.host + ":" + ble.port,
      broker ? "  MQTT broker: " + brokerUrl + (embedded ? " (embedded)" : "") : "  no broker: events queue in flash",
      "",
      "  mint a grant:     npm run issuer -- mint --key " + keyHint + " --box " + boxId + " --out grant.kbg",
      "  open the box:     npx keybox-driver unlock --grant grant.kbg --port " + ble.port + "   (or: grant grant.kbg)",
      broker ? "  follow events:    npm run owner -- follow --from 0 --broker " + brokerUrl + " --box " + boxId : "",
      broker ? "  remote unlock:    npm run owner -- unlock --key " + keyHint + " --broker " + brokerUrl + " --box " + boxId : "",
      "  type 'help' for what you can do to the box; its events print below as they happen",
      "",
    ]
      .filter((l) => l !== "")
      .join("\n") + "\n"
  );

  let saved: Buffer | undefined;
  let savedArea: Buffer | undefined;
  const save = () => {
    const image = Buffer.from(box.flash.image());
    const area = Buffer.from(box.codeArea.image());
    if (saved && saved.equals(image) && savedArea && savedArea.equals(area)) return;
    try {
      saveState(st, image, desk.wall(), area);
      saved = image;
      savedArea = area;
    } catch (e) {
      process.stdout.write("cannot save the box's state in " + st.dir + ": " + (e as Error).message + "\n");
    }
  };
  save();
  const saver = setInterval(save, SAVE_MS);
  const ticker = setInterval(flushEvents, 50);
  let quitting = false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, prompt: "keybox> " });
  rl.prompt();
  rl.on("line", (line) => {
    rl.pause();
    void desk.execute(line).then((a) => {
      flushEvents();
      if (a.text) process.stdout.write(a.text + "\n");
      if (/^\s*status\s*$/i.test(line)) process.stdout.write(describe(meter.report()) + "\n");
      if (!quitting) {
        rl.resume();
        rl.prompt();
      }
    });
  });
  shutdown = () => {
    if (quitting) return;
    quitting = true;
    clearInterval(ticker);
    clearInterval(saver);
    pace.close();
    flushEvents();
    // the state as the power left it: whatever the firmware wrote is in Storage
    saved = undefined;
    save();
    box.close();
    void radio.close();
    void web.close();
    if (embedded) void embedded.close();
    rl.close();
    process.stdout.write("\nbye: the box's state is in " + rel(st.dir) + "\n");
    setTimeout(() => process.exit(0), 100);
  };
  rl.on("close", () => {
    // Typed quit, or Ctrl-D at a terminal, ends the session; without a terminal (a rig, a
    // background job) the box keeps running until it is signalled.
    if (process.stdin.isTTY) shutdown();
  });
  process.on("SIGINT", () => shutdown());
  process.on("SIGTERM", () => shutdown());
}

main().catch((e) => {
  process.stderr.write("keybox: " + ((e && e.stack) || e) + "\n");
  process.exit(1);
});
