import nacl from "tweetnacl";
import { ConfigInput } from "../../firmware/config";
import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { MSG_UNLOCK, parseResponse, requestMessage, Response } from "../../firmware/ble/protocol";
import { encodeGrant, grantBody, grantMessage, PERM_LOCK, PERM_UNLOCK } from "../../firmware/grants/codec";
import { topicsFor } from "../../firmware/uplink/topics";
import { SimBox } from "../box";
import { crc32 } from "../hw/system";
import { makeCommand, signCommand } from "../owner/sign";
import { VirtualBroker } from "./broker";
import { CellConfig } from "./figures";
import { EnergyMeter, EnergyReport } from "./meter";

/**
 * A month (or any span) of a box's life in virtual time, for the energy
 * model: N deliveries a day at random times, each booked by the owner, who
 * pushes the driver's grant over MQTT between 1 and 12 hours before; the
 * driver's phone presents it over BLE, the latch opens, the driver opens
 * the lid, takes the key, brings it back 2-6 minutes later and closes the
 * lid, and the box relocks. The owner also sends other commands (a
 * revocation) at a stated rate. Coverage comes and goes in blocks whose
 * lengths are drawn from exponential distributions with a 12-hour mean
 * cycle, so that it is available the fraction F of the time. Everything is
 * seeded: the same options give the same run.
 */
export interface WorkloadOptions {
  deliveriesPerDay: number;
  days: number;
  /** Fraction of the time the network is available (0..1, default 1). */
  coverage?: number;
  /** Owner commands a day besides the grant pushes (default 1). */
  commandsPerDay?: number;
  seed?: number;
  /** Firmware configuration over the defaults (the power settings under test). */
  config?: ConfigInput;
  cell?: CellConfig;
}

export interface WorkloadResult {
  report: EnergyReport;
  deliveries: number;
  granted: number;
  commandsSent: number;
  commandsAcked: number;
  /** Longest and average wait of an owner command between sending and the box's acknowledgement, ms. */
  commandWaitMaxMs: number;
  commandWaitAvgMs: number;
  /** Longest delay from an access decision to its arrival at the broker, while coverage was up (ms). */
  accessDelayMaxMs: number;
  sessions: number;
}

const BOX = "KB-POWER1";
const START = 1780272000; // 2026-06-01T00:00:00Z
const DAY = 86400000;

export function runWorkload(o: WorkloadOptions): WorkloadResult {
  const seed = o.seed === undefined ? 1 : o.seed;
  const rnd = xorshift(seed);
  const coverage = o.coverage === undefined ? 1 : Math.max(0, Math.min(1, o.coverage));
  const commandsPerDay = o.commandsPerDay === undefined ? 1 : o.commandsPerDay;
  const issuer = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill((seed * 7 + 3) & 0xff));
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: 1, publicKey: Buffer.from(issuer.publicKey).toString("hex") }] });
  const box = new SimBox({
    config: Object.assign({ boxId: BOX }, o.config || {}),
    broker: { host: "127.0.0.1", port: 1883 },
    provisioning,
    tables: true,
    // Larger than the board's Storage: until Storage upkeep reclaims old records, a month of deliveries would fill 200 KB.
    flashCapacity: 4 * 1024 * 1024,
    now: START,
    seed,
  });
  const broker = new VirtualBroker({ clock: box.clock });
  box.cellular.useSockets(() => broker.socket());
  const meter = new EnergyMeter({ box, cell: o.cell });
  box.boot();
  const clock = box.clock;
  const clientId = ("kb-" + BOX).substr(0, 23);
  const topics = topicsFor(BOX);
  const wallNow = () => Math.floor(START + clock.monotonic() / 1000);
  let covered = true;

  // Coverage blocks.
  if (coverage < 1) {
    const cycle = 12 * 3600000;
    const flip = (on: boolean) => {
      covered = on;
      box.cellular.setCoverage(on ? "home" : "none");
      const mean = on ? cycle * coverage : cycle * (1 - coverage);
      clock.after(Math.max(60000, -Math.log(1 - rnd()) * mean), () => flip(!on));
    };
    if (coverage <= 0) box.cellular.setCoverage("none");
    else clock.after(Math.max(60000, -Math.log(1 - rnd()) * cycle * coverage), () => flip(false));
  }

  let commandsSent = 0;
  const send = (kind: "grant" | "revoke", arg: Uint8Array) => {
    const c = makeCommand({ kind, keyId: 1, boxId: BOX, arg, ttlS: 86000, now: wallNow(), id: hex16(rnd) });
    broker.publish(clientId, topics.cmd, signCommand(c, issuer.secretKey));
    commandsSent++;
  };

  // Deliveries and commands, day by day (the first hour is left to boot and time).
  let deliveries = 0;
  let granted = 0;
  let grantSeq = 0;
  const pending: { [id: string]: Uint8Array } = {};
  const pastGrants: string[] = [];
  for (let d = 0; d < o.days; d++) {
    const times: number[] = [];
    for (let i = 0; i < o.deliveriesPerDay; i++) times.push(d * DAY + 3600000 + rnd() * (DAY - 2 * 3600000));
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] < 900000) times[i] = times[i - 1] + 900000;
    for (const at of times) {
      const lead = 3600000 + rnd() * 11 * 3600000;
      const grantId = hex16(rnd, ++grantSeq);
      const bookAt = Math.max(0, at - lead);
      clock.after(bookAt, () => {
        const nb = wallNow() - 60;
        const g = mintGrant(issuer.secretKey, BOX, grantId, nb);
        pending[grantId] = g;
        send("grant", g);
      });
      clock.after(at, () => {
        deliveries++;
        deliver(box, pending[grantId], rnd);
        pastGrants.push(grantId);
      });
    }
    for (let i = 0; i < commandsPerDay; i++) {
      clock.after(d * DAY + rnd() * DAY, () => {
        const id = pastGrants.length ? pastGrants[Math.floor(rnd() * pastGrants.length)] : hex16(rnd);
        const arg = new Uint8Array(12);
        for (let k = 0; k < 8; k++) arg[k] = parseInt(id.substr(k * 2, 2), 16);
        const until = wallNow() + 86400;
        arg[8] = (until >>> 24) & 255;
        arg[9] = (until >>> 16) & 255;
        arg[10] = (until >>> 8) & 255;
        arg[11] = until & 255;
        send("revoke", arg);
      });
    }
  }
  // Access decisions reaching the owner: how long after the event did it arrive?
  let accessDelayMaxMs = 0;
  const accessAt: number[] = [];
  box.firmware!.events.on((e) => {
    if (e.type === "access" && e.reason === "granted") granted++;
    if (e.type === "access" && covered) accessAt.push(clock.monotonic());
  });
  let seen = 0;
  clock.observe(() => {
    while (seen < broker.received.length) {
      const r = broker.received[seen++];
      if (r.topic === topics.events && r.text.indexOf('"access"') >= 0 && accessAt.length) {
        accessDelayMaxMs = Math.max(accessDelayMaxMs, r.at - (accessAt.shift() as number));
      }
    }
  });

  box.run(o.days * DAY);
  const report = meter.report();
  meter.close();
  const waits = broker.delivered.map((x) => x.waitedMs);
  const result: WorkloadResult = {
    report,
    deliveries,
    granted,
    commandsSent,
    commandsAcked: broker.delivered.length,
    commandWaitMaxMs: waits.length ? Math.max.apply(null, waits) : 0,
    commandWaitAvgMs: waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : 0,
    accessDelayMaxMs,
    sessions: broker.connects,
  };
  box.close();
  return result;
}

/** One delivery: the phone presents the grant and, when it is granted, the driver takes the key and brings it back. */
export function deliver(box: SimBox, grant: Uint8Array | undefined, rnd: () => number): void {
  if (!grant) return;
  const got: Response[] = [];
  const rx = new Reassembler({ clock: box.clock, crc32, maxBytes: MAX_FRAMED, timeoutMs: 5000, onTimeout: () => undefined });
  const ok = box.ble.connect(
    {
      notify: (f) => {
        const r = rx.push(f);
        if (r && typeof r !== "string") got.push(parseResponse(r));
      },
      disconnected: () => undefined,
    },
    true,
  );
  if (!ok) return;
  box.clock.after(200, () => {
    for (const f of encodeFrames(requestMessage(MSG_UNLOCK, grant), 0, crc32)) box.ble.write(f);
  });
  box.clock.after(3000, () => {
    box.ble.drop();
    rx.close();
    const r = got.find((x) => x.type === "result") as { reason: string } | undefined;
    if (!r || r.reason !== "granted") return;
    box.person.openLid();
    const away = 120000 + rnd() * 240000;
    box.clock.after(2000, () => box.person.takeKey());
    box.clock.after(2000 + away, () => {
      box.person.returnKey();
      box.clock.after(3000, () => box.person.closeLid());
    });
  });
}

/** A one-use unlock-and-lock grant for boxId valid for two days from notBefore, signed by issuer key 1. */
export function mintGrant(secretKey: Uint8Array, boxId: string, grantId: string, notBefore: number): Uint8Array {
  const fields = { boxId, grantId, keyId: 1, notBefore, notAfter: notBefore + 2 * 86400, perms: PERM_UNLOCK | PERM_LOCK, uses: 1 };
  return encodeGrant(fields, nacl.sign.detached(grantMessage(grantBody(fields)), secretKey));
}

function hex16(rnd: () => number, salt = 0): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += Math.floor((rnd() * 16 + salt) % 16).toString(16);
  return s;
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
