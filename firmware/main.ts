import { CACHE_ENTRIES, firmwareJournals } from "./storage-plan";
import { Flash, Hal } from "../hal";
import { Config, checkConfig, FIRMWARE_VERSION, PROVISION_FILE } from "./config";
import { EventBus } from "./events";
import { Heartbeat } from "./heartbeat";
import { BatteryMonitor } from "./power/battery";
import { WatchdogFeeder } from "./power/watchdog";
import { LatchController } from "./latch/controller";
import { TamperService } from "./tamper/service";
import { AccessControl } from "./grants/access";
import { parseProvisioning } from "./grants/provision";
import { pickCrc32 } from "./store/crc32";
import { useAccel, verify } from "./crypto/ed25519";
import { publicKeyIsValid } from "./crypto/ed25519-ref";
import { BleService } from "./ble/service";
import { Gatekeeper } from "./gatekeeper";
import { VerifiedCache } from "./crypto/verified-cache";
import { PreVerifier } from "./preverify";
import { Settings } from "./settings";
import { RemoteCommands } from "./remote";
import { Bg96 } from "./cellular/bg96";
import { openUplink, openWallClock } from "./uplink/wire";
import { NetworkTimeSync } from "./time/netsync";
import { loadTables } from "./keytables";
import { blobsFirst } from "./codearea/tables";
import { LinkSchedule } from "./uplink/schedule";
import { StorageUpkeep } from "./store/upkeep";
import { openPool } from "./store/pagefiles";
import { moveJournals } from "./store/migrate";

export interface Status {
  boxId: string;
  version: string;
  latch: string;
  /** Why the latch is in its state; in fault, the fault. */
  latchReason: string;
  /** In fault, the command that leaves it (see LatchStatus.wayOut); "" otherwise. */
  wayOut: string;
  lidClosed: boolean;
  keyPresent: boolean;
  batteryMv: number;
  keys: number;
}

/** A running box: what start() hands back to the platform's entry point. */
export interface Keybox {
  readonly events: EventBus;
  readonly access: AccessControl;
  readonly latch: LatchController;
  status(): Status;
  close(): void;
}

/**
 * Wires the services onto a HAL and starts them. The latch comes first: it
 * stops the motor and learns where the bolt really is, so a reset never
 * moves the latch; everything that can ask it to move comes after.
 */
export function start(hal: Hal, builtIn: Config): Keybox {
  const bad = checkConfig(builtIn);
  if (bad) throw new Error(bad);
  useAccel(hal.accel);
  const crc32 = pickCrc32(hal.accel);
  const events = new EventBus({
    now: function () {
      return { t: Math.floor(hal.clock.wall()), m: hal.clock.monotonic() };
    },
  });
  // The journals live in the code area's pool, which nothing compacts: a
  // power cut in a Storage compaction can make Espruino wipe Storage whole.
  // Storage keeps them only on a board whose free flash has no room for it.
  const journals = journalFlash(hal, crc32, events);
  // Every module writes through the upkeep's view, so that no compaction
  // happens at a bad time and none goes unseen.
  let latchRef: LatchController | undefined;
  const upkeep = new StorageUpkeep({
    flash: journals,
    clock: hal.clock,
    events: events,
    battery: hal.battery,
    minMv: builtIn.latch.minStartMv,
    busy: function () {
      const st = latchRef ? latchRef.state() : "locked";
      return st === "unlocking" || st === "locking";
    },
  });
  const flash = upkeep.flash;
  const settings = new Settings({ flash: flash, crc32: crc32 });
  const config = settings.apply(builtIn);
  // Which Ed25519 verifier decides grants, and why not the board's machine code when it does not (after start() returns, as the boot).
  hal.clock.after(0, function () {
    if (hal.accel.ed25519) events.emit("verifier", "native");
    else if (hal.accel.ed25519Missing) events.emit("verifier", "javascript", { why: hal.accel.ed25519Missing });
  });
  const latch = new LatchController({
    latch: hal.latch,
    lid: hal.lid,
    key: hal.key,
    battery: hal.battery,
    clock: hal.clock,
    events: events,
    flash: flash,
    crc32: crc32,
    config: config.latch,
    log: hal.log,
  });
  latchRef = latch;
  const watchdog = new WatchdogFeeder({ watchdog: hal.watchdog, clock: hal.clock });
  const tamper = new TamperService({ clock: hal.clock, motion: hal.motion, buzzer: hal.buzzer, led: hal.led, events: events, latch: latch, config: config.tamper });
  const heartbeat = new Heartbeat({
    clock: hal.clock,
    led: hal.led,
    periodMs: config.heartbeatMs,
    quiet: function () {
      return tamper.alarm.active();
    },
  });
  const battery = new BatteryMonitor({ battery: hal.battery, clock: hal.clock, events: events, reserveMv: config.latch.deliveryMv });
  const wallclock = openWallClock({ clock: hal.clock, flash: flash, crc32: crc32, events: events });
  const cache = new VerifiedCache({ capacity: CACHE_ENTRIES, flash: flash, crc32: crc32, hash: hal.accel.sha256 });
  let pre: PreVerifier | undefined;
  const access = new AccessControl({
    flash: flash,
    clock: hal.clock,
    events: events,
    crc32: crc32,
    verify: function (sig, msg, pk) {
      return pre ? pre.verify(sig, msg, pk) : verify(sig, msg, pk);
    },
    boxId: config.boxId,
    clockState: function () {
      return wallclock.state();
    },
    keyCheck: publicKeyIsValid,
  });
  pre = new PreVerifier({
    cache: cache,
    verify: verify,
    boxId: config.boxId,
    clock: hal.clock,
    events: events,
    issuerKey: function (id) {
      return access.issuerKey(id);
    },
    keyIds: function () {
      return access.keyIds();
    },
  });
  const preverify = pre;
  const keyOf = function (id: number) {
    return access.issuerKey(id);
  };
  // The verifier's tables from the code area, where Storage's compaction cannot move them; else from Storage.
  const tableFlash = blobsFirst({ flash: hal.flash, area: hal.codeArea, sha256: hal.accel.sha256 });
  // A new key set or a revoked key changes which verifier tables may be used;
  // a compaction may have moved the ones read from Storage (the verifier keeps views).
  const tablesSub = events.on(function (e) {
    if (e.type === "grants" && (e.reason === "keys" || e.reason === "revoked_key")) loadTables({ flash: tableFlash, crc32: crc32, keyIds: access.keyIds(), keyOf: keyOf });
  });
  const tablesMoved = upkeep.onCompacted(function () {
    loadTables({ flash: tableFlash, crc32: crc32, keyIds: access.keyIds(), keyOf: keyOf });
  });
  // A use spent for an opening that a reset cut short before the bolt moved is given back
  // (firmware/grants/store.ts, DONE): the latch reports the interrupted drive once, at its boot,
  // when its state is still what the bolt reads.
  const recoverySub = events.on(function (e) {
    if (e.type === "latch_recovery" && e.reason === "reset_mid_drive" && e.d && e.d.dir === "open") access.settlePending(latch.state() !== "locked");
  });
  const pruneGrants = upkeep.addJob(function () {
    access.prune();
    const now = wallclock.state();
    if (now.known) cache.prune(Math.floor(now.now));
  });
  const gate = new Gatekeeper({
    clock: hal.clock,
    access: access,
    latch: latch,
    battery: hal.battery,
    events: events,
    minStartMv: config.latch.minStartMv,
    reserveMv: config.latch.reserveMv,
    deliveryMv: config.latch.deliveryMv,
    known: function (g) {
      return preverify.knows(g);
    },
  });
  const ble = new BleService({
    ble: hal.ble,
    clock: hal.clock,
    events: events,
    flash: flash,
    crc32: crc32,
    random: hal.random,
    config: {
      boxId: config.boxId,
      devMode: config.devMode,
      firmwareVersion: FIRMWARE_VERSION,
      neutralReasons: ["low_battery", "busy", "already_open", "already_locked", "fault", "lid_open", "clock_unknown", "booting"],
    },
    handler: {
      request: function (kind, grant, cb, holder, screened) {
        gate.request(kind, grant, "ble", holder, cb, screened);
      },
      screen: function (kind, grant) {
        return gate.screen(kind, grant);
      },
      state: function () {
        const s = latch.status();
        return { latch: s.state, lid: s.lidClosed ? "closed" : "open", key: s.keyPresent ? "present" : "absent" };
      },
    },
  });
  const latchSub = latch.onState(function (state) {
    ble.progress(state);
  });
  const mp = config.modem;
  const cell = new Bg96({
    modem: hal.modem,
    clock: hal.clock,
    apn: config.apn,
    psm: mp.psmTauS > 0 ? { tauSeconds: mp.psmTauS, activeSeconds: mp.psmActiveS } : undefined,
    edrxSeconds: mp.edrxS,
    // Searching is the modem's costliest state; the duty cycle retries later rather than search on.
    registerMs: 60000,
    events: events,
    log: hal.log,
  });
  hal.ble.setRadio({ intervalMs: config.radio.advIntervalMs, txDbm: config.radio.txDbm });
  const remote = new RemoteCommands({
    access: access,
    latch: latch,
    gate: gate,
    settings: settings,
    config: config,
    pushGrant: function (g) {
      return preverify.push(g);
    },
  });
  const netTime = new NetworkTimeSync({
    clock: hal.clock,
    wallclock: wallclock,
    // Once the clock is known, every uplink session refreshes it (netTimeEveryMs): no separate modem wakes for time.
    refreshMs: 7 * 86400000,
    networkTime: function (cb) {
      cell.networkTime(cb);
    },
  });
  const broker = config.broker;
  const uplink = openUplink({
    clock: hal.clock,
    flash: flash,
    crc32: crc32,
    random: hal.random,
    events: events,
    boxId: config.boxId,
    wallclock: wallclock,
    connect: function (cb) {
      if (broker) cell.connect(broker.host, broker.port, cb);
      else cb("no_broker");
    },
    networkTime: function (cb) {
      cell.networkTime(cb);
    },
    verify: verify,
    issuerKey: function (id) {
      return access.issuerKey(id);
    },
    execute: function (cmd, done) {
      remote.execute(cmd, done);
    },
    telemetry: function () {
      return { bat: battery.millivolts(), sig: null, latch: latch.state() };
    },
    telemetryMs: config.telemetryMs,
    log: hal.log,
  });
  const schedule = broker
    ? new LinkSchedule({
        clock: hal.clock,
        events: events,
        idleMs: config.link.idleMs,
        pollMs: config.link.pollMs,
        pollMaxMs: config.link.pollMaxMs,
        batchMs: config.link.batchMs,
        link: {
          start: function () {
            uplink.start();
          },
          stop: function () {
            uplink.stop();
          },
          pending: function () {
            return uplink.outbox.size;
          },
          up: function () {
            return uplink.client.up;
          },
          sleep: function () {
            cell.sleep();
          },
        },
      })
    : undefined;


  // On the next tick, so whoever start() returns to hears the keys the box now trusts and the boot.
  hal.clock.after(0, function () {
    const keys = provision(hal, config, access, events);
    const tables = loadTables({ flash: tableFlash, crc32: crc32, keyIds: access.keyIds(), keyOf: keyOf });
    events.emit("boot", latch.state(), { version: FIRMWARE_VERSION, keys: keys, tables: tables.keys + (tables.base ? 1 : 0) });
    hal.log("keybox " + config.boxId + " v" + FIRMWARE_VERSION + " up, latch " + latch.state() + ", " + keys + " issuer key(s)");
  });
  return {
    events: events,
    access: access,
    latch: latch,
    status: function () {
      const s = latch.status();
      return {
        boxId: config.boxId,
        version: FIRMWARE_VERSION,
        latch: s.state,
        latchReason: s.reason,
        wayOut: s.wayOut,
        lidClosed: s.lidClosed,
        keyPresent: s.keyPresent,
        batteryMv: battery.millivolts(),
        keys: access.keyIds().length,
      };
    },
    close: function () {
      if (schedule) schedule.close();
      uplink.close();
      netTime.close();
      cell.close();
      tablesSub.cancel();
      tablesMoved.cancel();
      recoverySub.cancel();
      pruneGrants.cancel();
      preverify.close();
      wallclock.close();
      settings.close();
      latchSub.cancel();
      ble.close();
      access.close();
      battery.close();
      heartbeat.close();
      tamper.close();
      watchdog.close();
      latch.close();
      upkeep.close();
    },
  };
}

/**
 * Where the journals are kept: the pool, after moving in what an earlier
 * firmware kept in Storage; Storage itself when there is no pool, or when
 * the move could not finish (then it is tried again at the next boot). Each
 * outcome other than the plain pool is an event with its reason, after
 * start() returns.
 */
function journalFlash(hal: Hal, crc32: (d: Uint8Array) => number, events: EventBus): Flash {
  const pool = openPool(hal.codeArea, crc32);
  let why = "";
  let d: { [k: string]: string | number } = {};
  let flash: Flash = hal.flash;
  if (typeof pool === "string") {
    why = "journals_in_storage";
    d = { why: pool };
  } else {
    const m = moveJournals({ from: hal.flash, to: pool, crc32: crc32, journals: firmwareJournals() });
    if (!m.ok) {
      why = "journals_in_storage";
      d = { why: "move_unfinished" };
    } else {
      flash = pool;
      if (m.moved > 0 || m.lost.length > 0) {
        why = "journals_moved";
        d = { moved: m.moved, lost: m.lost.join(",") };
      }
    }
  }
  if (why)
    hal.clock.after(0, function () {
      events.emit("storage", why, d);
    });
  return flash;
}

/**
 * Loads the owner's provisioning file, if any, into the key store. A file
 * for another box, or one that does not parse, is refused with an event and
 * changes nothing: the keys already trusted stay trusted. Returns how many
 * issuer keys the box trusts.
 */
function provision(hal: Hal, config: Config, access: AccessControl, events: EventBus): number {
  const bytes = hal.flash.read(PROVISION_FILE);
  if (bytes) {
    let text = "";
    for (let i = 0; i < bytes.length && bytes[i] !== 0xff; i++) text += String.fromCharCode(bytes[i]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      parsed = undefined;
    }
    const p = parseProvisioning(parsed);
    if (typeof p === "string") events.emit("provision", p, {});
    else if (p.boxId !== config.boxId) events.emit("provision", "wrong_box", { box: p.boxId });
    else {
      const r = access.provisionKeys(p.keys);
      if (!r.ok) events.emit("provision", r.reason, {});
    }
  }
  return access.keyIds().length;
}

