/**
 * The owner's side of the cellular link: publish signed commands to a box
 * and follow its events.
 *
 *   npm run owner -- [options] grant <file>      push a grant token (binary file, or hex/base64 text)
 *   npm run owner -- [options] revoke <id> [until]  revoke a grant (16 hex digits; kept until the
 *                                                 grant's not-after, Unix s, default now + 90 days)
 *                                                 or an issuer key for good (key:<n>)
 *   npm run owner -- [options] unlock            open the box remotely, and wait until it opened,
 *                                                 faulted or was refused
 *   npm run owner -- [options] time [unix s]     set the box's clock (default: now)
 *   npm run owner -- [options] config <json>     change configuration
 *   npm run owner -- [options] follow [--from N] print each event once, in order (Ctrl-C stops);
 *                                                 --from 0 first replays every event the broker kept
 *                                                 (the simulator's embedded broker keeps the last 1000)
 *
 * Options: --broker mqtt://host:port (default mqtt://127.0.0.1:1883), --box <id>
 * (default KB-DEMO01), --key <file> issuer secret key, --key-id <n> (default 1,
 * or the file's keyId), --ttl <s> command lifetime (default 600), --timeout <s>
 * wait for the reply (default 120: verification on the device is slow),
 * --state <file> remember the last printed event (and this follower's broker
 * session) between follow runs. Each follower has its own client id, so any
 * number can follow one box.
 *
 * The key file holds the issuer's 64-byte tweetnacl secret key (seed || public
 * key) as hex or base64, or a JSON object with such a string (fields
 * secretKey, sk or secret) and optionally keyId; a 32-byte seed is accepted too.
 */
import * as fs from "fs";
import mqtt from "mqtt";
import nacl from "tweetnacl";
import { parseArgs } from "node:util";
import { CommandKind } from "../../firmware/uplink/command";
import { topicsFor } from "../../firmware/uplink/topics";
import { makeCommand, signCommand, timeArg } from "./sign";
import { EventFollower, formatWireEvent, WireEvent } from "./follow";
import { unlockOutcome, Outcome } from "./outcome";
import { explainRefusal } from "../driver/refusals";
import { randomBytes } from "crypto";

/** Decodes hex or base64 text. */
export function decodeText(s: string): Uint8Array | undefined {
  const t = s.trim();
  if (/^(0x)?[0-9a-fA-F]+$/.test(t) && t.replace(/^0x/, "").length % 2 === 0) return new Uint8Array(Buffer.from(t.replace(/^0x/, ""), "hex"));
  if (/^[A-Za-z0-9+/_-]+=*$/.test(t)) return new Uint8Array(Buffer.from(t, "base64"));
  return undefined;
}

export function loadIssuerKey(path: string): { secretKey: Uint8Array; keyId?: number } {
  const text = fs.readFileSync(path);
  const raw = text.toString("utf8").trim();
  let keyId: number | undefined;
  let candidates: string[] = [];
  if (raw.startsWith("{")) {
    const j = JSON.parse(raw);
    for (const f of ["secretKey", "sk", "secret", "seed", "privateKey"]) if (typeof j[f] === "string") candidates.push(j[f]);
    if (typeof j.keyId === "number") keyId = j.keyId;
    else if (typeof j.id === "number") keyId = j.id; // the issuer tool's key file (keybox-issuer-key/1)
  } else candidates = [raw];
  let bytes: Uint8Array | undefined;
  for (const c of candidates) {
    const b = decodeText(c);
    if (b && (b.length === 64 || b.length === 32)) {
      bytes = b;
      break;
    }
  }
  if (!bytes && (text.length === 64 || text.length === 32)) bytes = new Uint8Array(text);
  if (!bytes) throw new Error(path + ": no 64-byte Ed25519 secret key (or 32-byte seed) in hex or base64");
  const secretKey = bytes.length === 32 ? nacl.sign.keyPair.fromSeed(bytes).secretKey : bytes;
  return { secretKey, keyId };
}

function fail(msg: string): never {
  console.error("owner: " + msg);
  process.exit(2);
}

function connect(url: string, clientId: string, clean: boolean): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, clean, protocolVersion: 4, reconnectPeriod: 1000, connectTimeout: 10000 });
    c.once("connect", () => resolve(c));
    c.once("error", (e) => {
      c.end(true);
      const code = (e as NodeJS.ErrnoException).code;
      const why = code ? explainRefusal(code) : "";
      reject(new Error("cannot reach the broker at " + url + ": " + (why && why !== code ? why : e.message)));
    });
  });
}

/** A client id no other follower has (MQTT drops the older of two clients with one id). */
function followerId(box: string): string {
  return ("own-" + box).slice(0, 14) + "-" + randomBytes(4).toString("hex");
}

async function sendCommand(opts: { broker: string; box: string; key: string; keyId?: number; ttl: number; timeout: number }, kind: CommandKind, arg: Uint8Array): Promise<void> {
  const issuer = loadIssuerKey(opts.key);
  const keyId = opts.keyId !== undefined ? opts.keyId : issuer.keyId !== undefined ? issuer.keyId : 1;
  const cmd = makeCommand({ kind, keyId, boxId: opts.box, arg, ttlS: opts.ttl });
  const wire = signCommand(cmd, issuer.secretKey);
  const topics = topicsFor(opts.box);
  const client = await connect(opts.broker, "owner-cmd-" + cmd.id.slice(0, 8), true);
  // the outcome of an unlock is in the box's events, which may arrive before the reply
  const seen: WireEvent[] = [];
  let onEvent: ((e: WireEvent) => void) | undefined;
  client.on("message", (topic, payload) => {
    if (topic !== topics.events) return;
    try {
      const e = JSON.parse(payload.toString()) as WireEvent;
      seen.push(e);
      if (onEvent) onEvent(e);
    } catch (err) {
      // not an event
    }
  });
  if (kind === "unlock") await client.subscribeAsync(topics.events, { qos: 1 });
  const reply = new Promise<any>((resolve) => {
    client.on("message", (topic, payload) => {
      if (topic !== topics.reply) return;
      try {
        const r = JSON.parse(payload.toString());
        if (r.id === cmd.id) resolve(r);
      } catch (e) {
        // not a reply of ours
      }
    });
  });
  await client.subscribeAsync(topics.reply, { qos: 1 });
  await client.publishAsync(topics.cmd, Buffer.from(wire), { qos: 1 });
  console.log("sent " + kind + " command " + cmd.id + " (key " + keyId + ", expires " + new Date(cmd.expiry * 1000).toISOString() + ", " + wire.length + " bytes)");
  let timer: NodeJS.Timeout | undefined;
  const deadline = Date.now() + opts.timeout * 1000;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), opts.timeout * 1000)));
  const r = await Promise.race([reply, timeout]);
  if (!r) {
    await client.endAsync();
    console.log("no reply within " + opts.timeout + " s: the box is offline or still verifying; the broker keeps the command until it expires");
    process.exitCode = 1;
    return;
  }
  if (!r.ok) {
    if (timer) clearTimeout(timer);
    await client.endAsync();
    console.log("refused: " + explainRefusal(r.reason, { box: opts.box }));
    process.exitCode = 1;
    return;
  }
  if (kind !== "unlock") {
    if (timer) clearTimeout(timer);
    await client.endAsync();
    console.log("done: " + r.reason);
    return;
  }
  console.log("accepted: " + r.reason + "; waiting for the latch");
  const outcome = new Promise<Outcome>((resolve) => {
    const judge = (e: WireEvent) => {
      const o = unlockOutcome(e, cmd.id);
      if (o) resolve(o);
      else if (e.d && e.d.src === "mqtt:" + cmd.id && e.type === "latch") console.log("latch: " + e.reason);
    };
    onEvent = judge;
    for (const e of seen) judge(e);
  });
  if (timer) clearTimeout(timer);
  const left = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))));
  const o = await Promise.race([outcome, left]);
  if (timer) clearTimeout(timer);
  await client.endAsync();
  if (!o) {
    console.log("no outcome within " + opts.timeout + " s: the box accepted the unlock but its events have not said whether it opened (follow them: npm run owner -- follow --from 0)");
    process.exitCode = 1;
    return;
  }
  console.log(o.text);
  if (!o.ok) process.exitCode = 1;
}

async function follow(opts: { broker: string; box: string; state?: string; from?: number }): Promise<void> {
  const topics = topicsFor(opts.box);
  let saved: { epoch?: number; last?: number; clientId?: string } = {};
  if (opts.state && fs.existsSync(opts.state)) saved = JSON.parse(fs.readFileSync(opts.state, "utf8"));
  const f = new EventFollower(opts.from === undefined ? saved : {});
  // With a state file, a persistent session under a remembered id: events published while this
  // tool was away are queued by the broker. Without one, a clean session under a new id.
  const clientId = saved.clientId || followerId(opts.box);
  const save = () => {
    if (opts.state) fs.writeFileSync(opts.state, JSON.stringify(Object.assign({ clientId }, f.state())));
  };
  const client = await connect(opts.broker, clientId, !opts.state);
  client.on("connect", () => console.log("[broker] connected"));
  client.on("offline", () => console.log("[broker] offline, retrying"));
  let gapTimer: NodeJS.Timeout | undefined;
  // live events wait while a replay is asked for, then follow it (the follower drops what both carry)
  let buffered: Buffer[] | undefined = opts.from === undefined ? undefined : [];
  const live = (payload: Buffer) => {
    for (const e of f.feed(payload)) console.log(formatWireEvent(e));
  };
  client.on("message", (topic, payload) => {
    if (topic === topics.events) {
      if (buffered) return void buffered.push(payload);
      live(payload);
      if (f.waiting && !gapTimer)
        gapTimer = setTimeout(() => {
          gapTimer = undefined;
          const r = f.flushGaps();
          if (r.skipped.length) console.log("[gap] events #" + r.skipped[0] + "..#" + r.skipped[r.skipped.length - 1] + " never arrived");
          for (const e of r.events) console.log(formatWireEvent(e));
          save();
        }, 10000);
      save();
    } else if (topic === topics.reply) console.log("[reply] " + payload.toString());
    else if (topic === topics.status) console.log("[status] " + payload.toString());
    else if (topic === topics.telemetry) console.log("[telemetry] " + payload.toString());
  });
  await client.subscribeAsync({ [topics.events]: { qos: 1 }, [topics.reply]: { qos: 1 }, [topics.status]: { qos: 1 }, [topics.telemetry]: { qos: 0 } });
  if (opts.from !== undefined) {
    const from = opts.from;
    const replayTo = "kb/" + opts.box + "/replay/" + clientId;
    let answered = false;
    const release = () => {
      const waiting = buffered || [];
      buffered = undefined;
      for (const p of waiting) live(p);
      save();
    };
    client.on("message", (topic, payload) => {
      if (topic !== replayTo || answered) return;
      answered = true;
      let list: string[] = [];
      try {
        list = JSON.parse(payload.toString()).events || [];
      } catch (e) {
        list = [];
      }
      if (!list.length) console.log("[replay] the broker kept no events of " + opts.box + " from #" + from);
      else {
        const first = JSON.parse(list[0]) as WireEvent;
        f.startAt(first.ep, Math.max(from, first.seq));
        console.log("[replay] " + list.length + " event(s) the broker kept, from #" + first.seq);
        for (const text of list) for (const e of f.feed(text)) console.log(formatWireEvent(e));
      }
      release();
    });
    await client.subscribeAsync(replayTo, { qos: 1 });
    setTimeout(() => {
      if (answered) return;
      answered = true;
      console.log("[replay] this broker keeps no history (only the simulator's embedded broker does): following from the next event");
      release();
    }, 3000).unref();
    await client.publishAsync("kb/" + opts.box + "/replay", JSON.stringify({ from, to: replayTo }), { qos: 1 });
  }
  console.log("following " + opts.box + " on " + opts.broker + " as " + clientId + " (Ctrl-C to stop)");
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      broker: { type: "string", default: "mqtt://127.0.0.1:1883" },
      box: { type: "string", default: "KB-DEMO01" },
      key: { type: "string" },
      "key-id": { type: "string" },
      ttl: { type: "string", default: "600" },
      timeout: { type: "string", default: "120" },
      state: { type: "string" },
      from: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [cmd, a1] = positionals;
  if (values.help || !cmd) {
    console.log(fs.readFileSync(__filename, "utf8").split("*/")[0].replace(/^\/\*\*?/, "").replace(/^ \* ?/gm, ""));
    return;
  }
  if (cmd === "follow") {
    const from = values.from === undefined ? undefined : Number(values.from);
    if (from !== undefined && !(Number.isInteger(from) && from >= 0)) fail("--from wants an event number (0 = the oldest the broker kept)");
    return follow({ broker: values.broker!, box: values.box!, state: values.state, from });
  }
  if (!values.key) fail("--key <issuer secret key file> is required to sign commands");
  const keyId = values["key-id"] === undefined ? undefined : Number(values["key-id"]);
  if (keyId !== undefined && !(keyId >= 1 && keyId <= 65535)) fail("--key-id must be 1..65535");
  const ttl = Number(values.ttl);
  if (!(ttl > 0 && ttl <= 86400)) fail("--ttl must be 1..86400 seconds (the box refuses longer lifetimes)");
  const opts = { broker: values.broker!, box: values.box!, key: values.key, keyId, ttl, timeout: Number(values.timeout) || 120 };
  switch (cmd) {
    case "grant": {
      if (!a1) fail("grant <file>");
      const buf = fs.readFileSync(a1);
      const asText = decodeText(buf.toString("utf8"));
      return sendCommand(opts, "grant", asText && asText.length > 64 ? asText : new Uint8Array(buf));
    }
    case "revoke": {
      if (!a1) fail("revoke <grant id: 16 hex digits> | key:<issuer key id>");
      if (a1.startsWith("key:")) {
        const k = Number(a1.slice(4));
        if (!(k >= 1 && k <= 65535)) fail("key id must be 1..65535");
        return sendCommand(opts, "revoke", new Uint8Array([k >> 8, k & 255]));
      }
      if (!/^[0-9a-fA-F]{16}$/.test(a1)) fail("a grant id is 16 hex digits");
      const until = positionals[2] === undefined ? Math.floor(Date.now() / 1000) + 90 * 86400 : Number(positionals[2]);
      if (!(until > 0 && until <= 0xffffffff)) fail("until must be Unix seconds");
      const arg = new Uint8Array(12);
      arg.set(Buffer.from(a1.toLowerCase(), "hex"), 0);
      arg.set(timeArg(until), 8);
      return sendCommand(opts, "revoke", arg);
    }
    case "unlock":
      return sendCommand(opts, "unlock", new Uint8Array(0));
    case "time":
      return sendCommand(opts, "time", timeArg(a1 === undefined ? Date.now() / 1000 : Number(a1)));
    case "config": {
      if (!a1) fail("config <json object>");
      let j: unknown;
      try {
        j = JSON.parse(a1);
      } catch (e) {
        fail("config: not JSON");
      }
      if (!j || typeof j !== "object" || Array.isArray(j)) fail("config must be a JSON object");
      return sendCommand(opts, "config", new Uint8Array(Buffer.from(JSON.stringify(j))));
    }
    default:
      fail("unknown command " + cmd + " (grant, revoke, unlock, time, config, follow)");
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => fail(e && e.message ? e.message : String(e)));
}
