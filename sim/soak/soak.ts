/**
 * A box's life in virtual time: deliveries with fresh owner-signed grants
 * presented over the simulated radio, the owner's commands over MQTT,
 * coverage gaps, broker restarts, socket cuts, power cuts at random flash
 * writes and strangers' junk on the radio, with the promises the box makes
 * checked as it goes and at the end (see check() for each invariant).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import nacl from "tweetnacl";
import { World, OwnerEvent } from "./world";
import { Phone } from "../ble/phone";
import { run as issuer } from "../issuer/main";
import { KEY_FORMAT } from "../issuer/files";
import { makeCommand, signCommand } from "../owner/sign";
import { MSG_UNLOCK, MSG_STATE } from "../../firmware/ble/protocol";
import { BoxEvent } from "../../firmware/events";
import { Coverage } from "../modem/bg96-emulator";
import { SimRandom } from "../hw/system";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";

export const SOAK_BOX = "KB-SOAK01";
const DAY = 86400000;
const MIN = 60000;
/** 2026-06-01: where the calendar of a soak starts. */
const START = 1780272000;
/** The wear rating the budget derives from: 100 erases per page per year (a tenth of 10,000 over ten years). */
export const ERASES_PER_PAGE_YEAR = 100;
/** Events that may still wait in the box's outbox when a run ends (its journal holds fewer). */
const STILL_QUEUED = 64;

export interface SoakOptions {
  days: number;
  seed: number;
  /** Bytes of simulated Storage (default SimBox's). */
  flashCapacity?: number;
  /** A stranger's junk attempt every this many minutes, on top of the random ones (the junk-attack case). */
  junkEveryMin?: number;
  /** Deliveries a day, on average (default 3). */
  deliveriesPerDay?: number;
  /** Progress lines, for people. */
  progress?: (line: string) => void;
}

export interface SoakResult {
  days: number;
  seed: number;
  /** Events the box emitted (every boot). */
  events: number;
  deliveries: number;
  granted: number;
  refused: { [reason: string]: number };
  /** Events the owner received (first copies). */
  delivered: number;
  /** Events the owner was told were lost (loss records), plus any never received and not covered. */
  lost: number;
  /** What the loss records said was lost, by event type. */
  lostByType: { [type: string]: number };
  /** Emitted after the owner's latest event: still in the box's outbox when the run ended. */
  pending: number;
  storeFailures: number;
  bytesPerDay: number;
  /** Storage compactions: the firmware keeps its journals in the code area's pool, so none. */
  compactions: number;
  /** The most-erased page, by address (pool pages) or index (Storage pages). */
  mostErasedPage: { page: number; erases: number } | null;
  /** Erases a page may take in this run: ERASES_PER_PAGE_YEAR scaled to the run length. */
  wearBudget: number;
  faults: { powerCuts: number; coverageGaps: number; brokerRestarts: number; socketCuts: number; junk: number; ownerCommands: number };
  violations: string[];
  realMs: number;
}

/** The scenario's dice: the simulator's seeded generator, so a run is repeatable. */
class Dice {
  private readonly r: SimRandom;
  constructor(seed: number) {
    this.r = new SimRandom({ seed: (seed * 2654435761) >>> 0 });
  }
  next(): number {
    const b = this.r.bytes(4);
    return (((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3]) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Log-uniform between lo and hi: gaps of minutes are common, gaps of days rare. */
  spread(lo: number, hi: number): number {
    return Math.round(Math.exp(Math.log(lo) + this.next() * (Math.log(hi) - Math.log(lo))));
  }
  hex16(): string {
    let s = "";
    while (s.length < 16) s += this.int(0, 15).toString(16);
    return s === "0000000000000000" ? "0000000000000001" : s;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/**
 * What a violation breaks: grant (a valid grant refused for an undocumented
 * reason, or a revoked one opened), junk (a stranger moved the latch), lost
 * (an event neither delivered nor covered by a loss record), altered (an
 * event delivered changed, or one the box never emitted), store (Storage
 * failed), wear (erases over the budget), fault (an error escaped the
 * firmware, or a dead boot ran), keyloss (a valid grant refused for an
 * unknown key: the box lost the owner's provisioning, for good when a power
 * cut inside a compaction made the boot check erase all of Storage).
 */
export type Invariant = "grant" | "junk" | "lost" | "altered" | "store" | "wear" | "fault" | "keyloss";

/** The kind of a violation line. */
export function invariantOf(violation: string): Invariant {
  return violation.slice(1, violation.indexOf("]")) as Invariant;
}

interface Action {
  at: number;
  seq: number;
  what: string;
  run: () => void;
}

/** Reasons a valid grant may be refused without breaking a promise, with why. */
const DOCUMENTED: { [reason: string]: string } = {
  power_cut: "the power went during the attempt",
  unlatched_at_cut: "the power went after the bolt had left: the box was open to the driver, the use spent",
  powered_off: "the box had no power for the whole of the driver's visit",
  revoked: "the owner revoked it first",
  box_open: "the box was already open (a remote unlock)",
};

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const t0 = Date.now();
  const dice = new Dice(o.seed);
  const kp = nacl.sign.keyPair.fromSeed(dice.bytes(32));
  const keyId = 1;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-soak-"));
  const keyFile = path.join(dir, "owner.key");
  fs.writeFileSync(keyFile, JSON.stringify({ format: KEY_FORMAT, id: keyId, publicKey: Buffer.from(kp.publicKey).toString("hex"), secretKey: Buffer.from(kp.secretKey).toString("hex") }));
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: SOAK_BOX, keys: [{ id: keyId, publicKey: Buffer.from(kp.publicKey).toString("hex") }] });
  const w = new World({ boxId: SOAK_BOX, config: { boxId: SOAK_BOX }, provisioning, now: START, seed: o.seed, flashCapacity: o.flashCapacity });
  const box = w.box;
  const clock = box.clock;
  const trueNow = () => START + clock.monotonic() / 1000;
  const violations: string[] = [];
  const violate = (kind: Invariant, v: string) => {
    if (violations.length < 200) violations.push("[" + kind + "] day " + (clock.monotonic() / DAY).toFixed(2) + ": " + v);
  };
  const refused: { [r: string]: number } = {};
  const faults = { powerCuts: 0, coverageGaps: 0, brokerRestarts: 0, socketCuts: 0, junk: 0, ownerCommands: 0 };
  let deliveries = 0;
  let granted = 0;
  let outageUntil = -1;

  const mint = (grantId: string, from: number, until: number): Uint8Array => {
    let out = "";
    const code = issuer(["mint", "--key", keyFile, "--box", SOAK_BOX, "--from", String(from), "--until", String(until), "--uses", "1", "--id", grantId], {
      out: (l) => (out += l),
      err: () => undefined,
      now: () => Math.floor(trueNow()),
    });
    if (code !== 0) throw new Error("issuer mint failed");
    return new Uint8Array(Buffer.from(out.trim(), "base64"));
  };

  const command = (kind: "grant" | "revoke" | "unlock", arg?: Uint8Array): string => {
    const c = makeCommand({ kind, keyId, boxId: SOAK_BOX, arg, now: Math.floor(trueNow()), ttlS: 23 * 3600, id: dice.hex16() });
    w.publish(w.topics.cmd, signCommand(c, kp.secretKey));
    faults.ownerCommands++;
    return c.id;
  };

  // ---- the agenda -----------------------------------------------------------------
  const agenda: Action[] = [];
  let seqNo = 0;
  const plan = (at: number, what: string, run: () => void) => {
    agenda.push({ at, seq: seqNo++, what, run });
  };

  const power = () => {
    // a power cut struck (the flash's cutAfter, inside the firmware): the box stays dark a while
    if (box.powered || outageUntil >= 0) return;
    faults.powerCuts++;
    const dark = dice.spread(5000, 30 * MIN);
    outageUntil = clock.monotonic() + dark;
    clock.after(dark, () => {
      outageUntil = -1;
      box.reboot("power restored");
    });
  };

  /** The driver at the box: connect, present, and open the lid when granted. Returns the outcome. */
  const present = (grant: Uint8Array): string => {
    const bootsBefore = box.boots;
    const phone = new Phone(box.ble, clock);
    if (!phone.connect(true)) return box.powered ? "radio_busy" : "powered_off";
    w.run(300);
    phone.send(MSG_UNLOCK, grant);
    let reason: string | undefined;
    w.until(() => {
      const r = phone.received.find((x) => x.type === "result" || x.type === "error") as { type: string; reason?: string; code?: string } | undefined;
      if (r) reason = r.reason || r.code;
      return reason !== undefined || phone.disconnected;
    }, 30000, 100);
    phone.drop();
    w.run(200);
    // the bolt left before the power went: the driver could open the lid, and the use is spent
    if (box.boots !== bootsBefore || !box.powered) return box.latch.bolt.read() ? "power_cut" : "unlatched_at_cut";
    return reason === undefined ? "no_answer" : reason;
  };

  const visit = (grant: Uint8Array, expect: "open" | "revoked", tries: number) => {
    if (!box.powered || outageUntil >= 0) {
      if (tries < 20) return plan(clock.monotonic() + 3 * MIN, "driver waits for power", () => visit(grant, expect, tries + 1));
      return count("powered_off", expect);
    }
    const st = box.firmware ? box.firmware.status().latch : "";
    if (st !== "locked" && tries < 20) return plan(clock.monotonic() + MIN, "driver waits for the box to lock", () => visit(grant, expect, tries + 1));
    const askedAt = clock.monotonic();
    let r = present(grant);
    if (r === "already_open") r = "box_open";
    if ((r === "rate_limited" || r === "busy" || r === "radio_busy" || r === "booting" || r === "power_cut") && tries < 20) {
      // a driver tries again a little later, as the app tells them to
      return plan(clock.monotonic() + 2 * MIN, "driver retries after " + r, () => visit(grant, expect, tries + 1));
    }
    count(r, expect);
    if (r === "granted") {
      const bootsBefore = box.boots;
      const opened = w.until(() => !!box.firmware && box.firmware.status().latch === "open", 10000, 100);
      if (!opened && box.boots === bootsBefore && box.powered) {
        const since = box.events.filter((e) => e.m >= askedAt);
        const why = since.filter((e) => e.type === "latch_refused")[0] || since.filter((e) => e.type === "latch").slice(-1)[0];
        violate(why && /store/.test(why.reason) ? "store" : "grant", "the phone was told granted but the box never opened" + (why ? " (" + why.type + "/" + why.reason + ")" : ""));
      }
      if (opened && box.person.openLid()) {
        w.run(dice.int(10, 90) * 1000);
        if (dice.chance(0.5) && box.person.takeKey()) {
          w.run(dice.int(5, 60) * 1000);
          box.person.returnKey();
        }
        w.run(dice.int(5, 30) * 1000);
        box.person.closeLid();
      }
    }
  };

  const storageWipes = () => box.flash.stats().wipes;
  const count = (r: string, expect: "open" | "revoked") => {
    if (expect === "open") deliveries++;
    if (r === "granted") {
      if (expect === "revoked") violate("grant", "a revoked grant opened the box");
      else granted++;
      return;
    }
    refused[r] = (refused[r] || 0) + 1;
    if (expect === "revoked" && r === "revoked") return;
    if (DOCUMENTED[r] !== undefined) return;
    if (r === "unknown_key") violate("keyloss", "a valid grant was refused: " + r + (storageWipes() > 0 ? " (Storage was wiped at a boot)" : ""));
    else violate(/store/.test(r) ? "store" : "grant", "a valid grant was refused: " + r);
  };

  const delivery = (day0: number) => {
    const at = day0 + dice.int(7 * 60, 20 * 60) * MIN;
    plan(at, "delivery", () => {
      const now = Math.floor(trueNow());
      const g = mint(dice.hex16(), now - 300, now + 4 * 3600);
      const pushed = dice.chance(0.5);
      if (pushed) command("grant", g);
      plan(clock.monotonic() + dice.int(5, 120) * MIN, "driver arrives", () => visit(g, "open", 0));
    });
  };

  const cancelled = (day0: number) => {
    plan(day0 + dice.int(8 * 60, 18 * 60) * MIN, "cancelled delivery", () => {
      const now = Math.floor(trueNow());
      const id = dice.hex16();
      const g = mint(id, now - 300, now + 6 * 3600);
      command("grant", g);
      const arg = new Uint8Array(12);
      arg.set(Buffer.from(id, "hex"), 0);
      new DataView(arg.buffer).setUint32(8, now + 6 * 3600);
      plan(clock.monotonic() + dice.int(10, 30) * MIN, "owner revokes", () => {
        const cid = command("revoke", arg);
        // the driver comes anyway; the promise holds once the box confirmed the revocation
        plan(clock.monotonic() + 90 * MIN, "revoked driver arrives", () => {
          const reply = w.owner.replies.get(cid);
          if (reply && reply.ok) visit(g, "revoked", 0);
        });
      });
    });
  };

  let coverageEnds = -1;
  const coverageOut = () => coverageEnds > clock.monotonic();
  const gap = (day0: number) => {
    plan(day0 + dice.int(0, 24 * 60 - 1) * MIN, "coverage gap", () => {
      if (coverageOut()) return;
      const long = dice.spread(5 * MIN, 3 * DAY);
      faults.coverageGaps++;
      coverageEnds = clock.monotonic() + long;
      const kind: Coverage = dice.chance(0.8) ? "none" : "denied";
      box.cellular.setCoverage(kind);
      plan(coverageEnds, "coverage back", () => box.cellular.setCoverage("home"));
    });
  };

  const brokerRestart = (day0: number) => {
    plan(day0 + dice.int(0, 24 * 60 - 1) * MIN, "broker restart", () => {
      faults.brokerRestarts++;
      w.net.down(true);
      w.broker.restart();
      plan(clock.monotonic() + dice.spread(10000, 20 * MIN), "broker back", () => w.net.down(false));
    });
  };

  const socketCut = (day0: number) => {
    plan(day0 + dice.int(0, 24 * 60 - 1) * MIN, "socket cut", () => {
      if (w.net.connections === 0) return;
      faults.socketCuts++;
      if (dice.chance(0.5)) w.net.cutAll();
      else for (const id of box.cellular.socketIds()) box.cellular.dropSocket(id);
    });
  };

  const powerCut = (day0: number) => {
    plan(day0 + dice.int(0, 24 * 60 - 1) * MIN, "power cut armed", () => {
      if (!box.powered) return;
      // strikes inside the nth byte (or page erase) the firmware programs from now, in the journal
      // pool or in Storage: a write, a rewrite, a page erase or a compaction
      const n = dice.int(0, 6000);
      box.codeArea.cutAfter(n);
      box.flash.cutAfter(n);
      const losses = box.powerLosses.length;
      const boots = box.boots;
      plan(clock.monotonic() + DAY / 2, "power cut between writes", () => {
        // nothing was written for half a day (Storage full, or a quiet box): the power goes anyway
        if (box.powerLosses.length !== losses || box.boots !== boots || !box.powered) return;
        box.codeArea.cutAfter(Infinity);
        box.flash.cutAfter(Infinity);
        box.powerCut();
        power();
      });
    });
  };

  const junk = (at: number) => {
    plan(at, "junk", () => {
      if (!box.powered) return;
      faults.junk++;
      const drives = box.latch.log.filter((d) => d.direction === "open").length;
      const from = box.events.length;
      const phone = new Phone(box.ble, clock);
      if (!phone.connect(dice.chance(0.8))) return;
      w.run(300);
      const kind = dice.int(0, 3);
      if (kind === 0) phone.frames([dice.bytes(dice.int(1, 20)), dice.bytes(20)]);
      else if (kind === 1) {
        const now = Math.floor(trueNow());
        const g = mint(dice.hex16(), now - 60, now + 3600);
        g[g.length - 1 - dice.int(0, 40)] ^= 1 << dice.int(0, 7);
        phone.send(MSG_UNLOCK, g);
      } else if (kind === 2) phone.send(MSG_UNLOCK, dice.bytes(dice.int(20, 140)));
      else phone.send(MSG_STATE);
      w.run(dice.int(500, 6000));
      phone.drop();
      w.run(200);
      const meanwhile = box.events.slice(from);
      // the owner's own unlock may land while a stranger fiddles: that drive is the owner's
      const owners = meanwhile.some((e) => e.type === "cmd" && e.reason === "done" && !!e.d && e.d.kind === "unlock");
      if (box.latch.log.filter((d) => d.direction === "open").length !== drives && !owners)
        violate("junk", "junk on the radio moved the latch (meanwhile: " + meanwhile.map((e) => e.type + "/" + e.reason).join(", ") + ")");
    });
  };

  for (let d = 0; d < o.days; d++) {
    const day0 = d * DAY;
    const n = Math.max(0, Math.round((o.deliveriesPerDay === undefined ? 3 : o.deliveriesPerDay) + (dice.next() - 0.5) * 3));
    for (let i = 0; i < n; i++) delivery(day0);
    if (dice.chance(0.3)) cancelled(day0);
    if (dice.chance(0.25)) plan(day0 + dice.int(8 * 60, 22 * 60) * MIN, "remote unlock", () => void command("unlock"));
    if (dice.chance(0.35)) gap(day0);
    if (dice.chance(0.25)) brokerRestart(day0);
    if (dice.chance(0.6)) socketCut(day0);
    if (dice.chance(0.3)) powerCut(day0);
    const j = dice.int(0, 4);
    for (let i = 0; i < j; i++) junk(day0 + dice.int(0, 24 * 60 - 1) * MIN + 7);
    if (o.junkEveryMin) for (let t = day0 + 3 * MIN; t < day0 + DAY; t += o.junkEveryMin * MIN) junk(t);
  }
  agenda.sort((a, b) => a.at - b.at || a.seq - b.seq);

  // ---- the run ---------------------------------------------------------------------
  w.onPowerLoss = power;
  box.boot();
  const end = o.days * DAY;
  let day = 0;
  const queue = agenda.splice(0);
  while (queue.length || clock.monotonic() < end) {
    const next = queue.length ? queue[0] : undefined;
    const target = next ? Math.min(next.at, end) : end;
    if (next && next.at > end) {
      queue.splice(0);
      continue;
    }
    // run in slices so a power cut (or the day's housekeeping) is noticed promptly
    while (clock.monotonic() < target) {
      w.run(Math.min(target - clock.monotonic(), 10 * MIN));
      const today = Math.floor(clock.monotonic() / DAY);
      if (today !== day) {
        day = today;
        housekeeping();
        if (o.progress && day % 30 === 0) o.progress("day " + day + ": " + box.events.length + " events, " + w.owner.events.size + " epoch(s), " + ((Date.now() - t0) / 1000).toFixed(1) + " s");
      }
    }
    if (!next) break;
    queue.shift();
    next.run();
    // actions planned while running join the queue in time order
    if (agenda.length) {
      for (const a of agenda.splice(0)) insert(queue, a);
    }
  }

  function housekeeping(): void {
    // the simulator's own records of a long run (LED changes, the UART transcript), not the box's
    box.led.history.splice(0);
    box.buzzer.history.splice(0);
    box.modem.sent = "";
    box.cellular.commands.splice(0);
    box.latch.log.splice(0, Math.max(0, box.latch.log.length - 50));
  }

  // ---- the end: the world settles, everything owed reaches the owner ------------------
  box.codeArea.cutAfter(Infinity);
  box.flash.cutAfter(Infinity);
  if (!box.powered && outageUntil < 0) box.reboot("power restored");
  w.run(Math.max(0, outageUntil - clock.monotonic()) + 1000);
  box.cellular.setCoverage("home");
  w.net.down(false);
  const owed = () => received(w).length >= box.events.length;
  w.until(owed, 6 * 3600000, 60000);
  w.run(10 * MIN);

  const r = check(w, box.events, new Set(box.powerLosses), violate);
  const stats = box.flash.stats();
  // 100 a year, pro rata, and two erases more: a short run is dominated by the first pages every journal takes
  const wearBudget = (ERASES_PER_PAGE_YEAR * o.days) / 365 + 2;
  // Every page the firmware may erase: the journal pool's and Storage's (which it should leave alone).
  const l = layoutFor(box.codeArea.freeRange()) as CodeAreaLayout;
  let most: { page: number; erases: number } | null = null;
  const consider = (page: number, n: number) => {
    if (!most || n > most.erases) most = { page, erases: n };
  };
  for (let a = l.pool; a < l.pool + l.poolBytes; a += box.codeArea.pageBytes) consider(a, box.codeArea.erases[a] || 0);
  stats.eraseCounts.forEach((n, page) => consider(page, n));
  const mostErased = most as { page: number; erases: number } | null;
  const erases = mostErased ? mostErased.erases : 0;
  if (erases > wearBudget) violate("wear", "page " + (mostErased as { page: number }).page + " erased " + erases + " times, budget " + wearBudget.toFixed(1) + " for " + o.days + " days");
  for (const f of w.faults) violate("fault", f);
  const storeFailures = countStoreFailures(box.events, box.logs);
  if (storeFailures > 0) violate("store", "Storage failed " + storeFailures + " time(s): " + storeExamples(box.events, box.logs).join(", "));
  fs.rmSync(dir, { recursive: true, force: true });
  w.close();
  return {
    days: o.days,
    seed: o.seed,
    events: box.events.length,
    deliveries,
    granted,
    refused,
    delivered: r.delivered,
    lost: r.lost,
    lostByType: r.lostByType,
    pending: r.pending,
    storeFailures,
    bytesPerDay: Math.round((box.flash.programmed + box.codeArea.programmed) / o.days),
    compactions: stats.compactions,
    mostErasedPage: mostErased,
    wearBudget: Math.round(wearBudget * 10) / 10,
    faults,
    violations,
    realMs: Date.now() - t0,
  };
}

function insert(q: Action[], a: Action): void {
  let i = q.length;
  while (i > 0 && (q[i - 1].at > a.at || (q[i - 1].at === a.at && q[i - 1].seq > a.seq))) i--;
  q.splice(i, 0, a);
}

function received(w: World): OwnerEvent[] {
  const out: OwnerEvent[] = [];
  w.owner.events.forEach((m) => m.forEach((e) => out.push(e)));
  return out;
}

const STORE = /store/;

function countStoreFailures(events: BoxEvent[], logs: string[]): number {
  return events.filter((e) => STORE.test(e.reason) || (e.type === "outbox" && e.reason === "unsaved")).length + logs.filter((l) => STORE.test(l)).length;
}

function storeExamples(events: BoxEvent[], logs: string[]): string[] {
  const seen: { [k: string]: number } = {};
  for (const e of events) if (STORE.test(e.reason) || (e.type === "outbox" && e.reason === "unsaved")) seen[e.type + "/" + e.reason] = (seen[e.type + "/" + e.reason] || 0) + 1;
  for (const l of logs) if (STORE.test(l)) seen["log: " + l.replace(/ for .*/, "")] = (seen["log: " + l.replace(/ for .*/, "")] || 0) + 1;
  return Object.keys(seen).map((k) => k + " x" + seen[k]);
}

/**
 * The owner's side of the promise: per epoch, every sequence number from the
 * first to the last arrived, or lies in the range of a loss record
 * ("outbox"/"overflow" {to}); redeliveries are identical (World's Owner);
 * every event the box emitted arrived, or is counted by a loss record of its
 * type, or died in the instant of a power cut before it could be stored.
 */
function check(
  w: World,
  emitted: BoxEvent[],
  cutAt: Set<number>,
  violate: (kind: Invariant, v: string) => void,
): { delivered: number; lost: number; lostByType: { [t: string]: number }; pending: number } {
  let delivered = 0;
  let lostByRecords = 0;
  const lostByType: { [t: string]: number } = {};
  let untyped = 0;
  const got: { [k: string]: number } = {};
  const epochs = Array.from(w.owner.events.keys());
  if (epochs.length > 1) violate("lost", "the outbox started " + (epochs.length - 1) + " new epoch(s): its store was lost");
  for (const ep of epochs) {
    const m = w.owner.events.get(ep)!;
    const seqs = Array.from(m.keys()).sort((x, y) => x - y);
    // loss records: "overflow" stands for its own number up to d.to, "lost" for the numbers d.from..d.to
    const covered: Array<[number, number]> = [];
    for (const s of seqs) {
      const e = m.get(s)!;
      delivered++;
      const d = e.d;
      if (e.type === "outbox" && d && typeof d.lost === "number") {
        if (typeof d.to === "number") covered.push([typeof d.from === "number" ? d.from : s, d.to]);
        lostByRecords += d.lost;
        for (const k in d) if (k !== "lost" && k !== "to" && k !== "from" && typeof d[k] === "number") lostByType[k] = (lostByType[k] || 0) + (d[k] as number);
        if (e.reason === "unsaved") untyped += d.lost;
      } else {
        const key = e.type + "/" + e.reason + "/" + e.t + "/" + e.m;
        got[key] = (got[key] || 0) + 1;
      }
    }
    const first = epochs.length > 1 && ep !== epochs[0] ? seqs[0] : 1;
    const holes: string[] = [];
    let start = -1;
    for (let s = first; s <= seqs[seqs.length - 1] + 1; s++) {
      const ok = s > seqs[seqs.length - 1] || m.has(s) || covered.some((r) => s >= r[0] && s <= r[1]);
      if (!ok && start < 0) start = s;
      if (ok && start >= 0) {
        holes.push(start + (s - 1 > start ? ".." + (s - 1) : ""));
        start = -1;
      }
    }
    if (holes.length) violate("lost", "epoch " + ep + ": events " + holes.slice(0, 5).join(", ") + (holes.length > 5 ? " and " + (holes.length - 5) + " more ranges" : "") + " never reached the owner and no loss record covers them");
  }
  for (const a of w.owner.altered) violate("altered", "event " + a + " arrived twice with different contents");
  // every emitted event: received, or accounted for
  const missing: { [t: string]: number } = {};
  let cutLost = 0;
  let pending = 0;
  // what the box emitted after the owner's latest event may still wait in its outbox (the box sleeps)
  let latest = -1;
  w.owner.events.forEach((m) => m.forEach((e) => (latest = Math.max(latest, e.m))));
  for (const e of emitted) {
    const key = e.type + "/" + e.reason + "/" + e.t + "/" + e.m;
    if (got[key]) {
      got[key]--;
      continue;
    }
    if (e.m > latest) {
      pending++;
      missing[e.type] = (missing[e.type] || 0) + 1;
      continue;
    }
    if (cutAt.has(e.m)) {
      cutLost++;
      continue;
    }
    missing[e.type] = (missing[e.type] || 0) + 1;
  }
  // an outbox holds a few dozen events: more than that after the owner's last one is a box that stopped delivering
  if (pending > STILL_QUEUED) {
    violate("lost", pending + " events emitted after the owner's last one (" + (latest / DAY).toFixed(2) + " days in) never arrived: the box stopped delivering");
  } else {
    for (const e of emitted) if (e.m > latest && missing[e.type]) missing[e.type]--;
  }
  const recorded: { [t: string]: number } = Object.assign({}, lostByType);
  let unexplained = 0;
  for (const t in missing) {
    const covered = Math.min(missing[t], lostByType[t] || 0);
    lostByType[t] = (lostByType[t] || 0) - covered;
    const left = missing[t] - covered;
    const byUntyped = Math.min(left, untyped);
    untyped -= byUntyped;
    if (left - byUntyped > 0) {
      unexplained += left - byUntyped;
      violate("lost", left - byUntyped + " " + t + " event(s) never reached the owner, and no loss record counts them");
    }
  }
  // an event emitted at the very moment a power cut struck reaches the owner from the outbox, though the
  // cut stopped the box before the simulator heard it
  const strays = Object.keys(got).filter((k) => got[k] > 0 && k.indexOf("outbox/") !== 0 && !cutAt.has(+k.split("/")[3]));
  if (strays.length) violate("altered", strays.length + " event(s) reached the owner that the box never emitted, e.g. " + strays[0]);
  return { delivered, lost: lostByRecords + unexplained + cutLost, lostByType: recorded, pending: pending > STILL_QUEUED ? 0 : pending };
}

/** The table for people. */
export function table(r: SoakResult): string {
  const rows: Array<[string, string]> = [
    ["days / seed", r.days + " / " + r.seed],
    ["events emitted", String(r.events)],
    ["deliveries", String(r.deliveries)],
    ["granted", String(r.granted)],
  ];
  const reasons = Object.keys(r.refused).sort();
  for (const k of reasons) rows.push(["refused: " + k + (DOCUMENTED[k] ? " (documented)" : ""), String(r.refused[k])]);
  rows.push(["events delivered to the owner", String(r.delivered)]);
  rows.push(["events lost (loss records + unexplained)", String(r.lost)]);
  const lt = Object.keys(r.lostByType).filter((k) => r.lostByType[k] > 0);
  if (lt.length) rows.push(["  of which loss records count", lt.map((k) => k + " " + r.lostByType[k]).join(", ")]);
  rows.push(["events still queued at the end", String(r.pending)]);
  rows.push(["store failures", String(r.storeFailures)]);
  rows.push(["bytes programmed per day", String(r.bytesPerDay)]);
  rows.push(["Storage compactions", String(r.compactions)]);
  const m = r.mostErasedPage;
  rows.push(["most-erased page", m === null ? "none" : (m.page >= 4096 ? "0x" + m.page.toString(16) : "Storage page " + m.page) + ": " + m.erases + " erases"]);
  rows.push(["wear budget per page", String(r.wearBudget)]);
  const f = r.faults;
  rows.push(["faults injected", "power cuts " + f.powerCuts + ", coverage gaps " + f.coverageGaps + ", broker restarts " + f.brokerRestarts + ", socket cuts " + f.socketCuts + ", junk " + f.junk + ", owner commands " + f.ownerCommands]);
  rows.push(["violations", String(r.violations.length)]);
  rows.push(["real time", (r.realMs / 1000).toFixed(1) + " s"]);
  const width = Math.max(...rows.map((x) => x[0].length));
  const lines = rows.map(([k, v]) => k.padEnd(width) + "  " + v);
  for (const v of r.violations.slice(0, 30)) lines.push("  ! " + v);
  if (r.violations.length > 30) lines.push("  ! ... " + (r.violations.length - 30) + " more");
  return lines.join("\n");
}
