import { BLE_JOURNAL } from "../storage-plan";
import { Ble, BleLink, Clock, Flash, Handle, Random } from "../../hal";
import { Journal } from "../store/journal";
import { EventBus, EventValue } from "../events";
import { advertise } from "./advertising";
import { FailureStore, RecordLog } from "./attempts";
import { encodeFrames, Reassembler } from "./framing";
import {
  CHALLENGE_BYTES,
  coarseOf,
  CoarseState,
  errorMessage,
  ERR_BUSY,
  ERR_MALFORMED,
  ERR_NO_CHALLENGE,
  ERR_RATE,
  ERR_STORE,
  ERR_TOO_MANY,
  ERR_UNENCRYPTED,
  ERR_UNKNOWN,
  GRANTED,
  infoValue,
  LAYOUT,
  MAX_REQUEST,
  MSG_CHALLENGE,
  MSG_CHALLENGE_REPLY,
  MSG_LOCK,
  MSG_PROGRESS,
  MSG_STATE,
  MSG_STATE_REPLY,
  MSG_UNLOCK,
  REASSEMBLY_TIMEOUT_MS,
  resultMessage,
  splitGrantRequest,
  textMessage,
} from "./protocol";

export type RequestKind = "unlock" | "lock";

/** A bound grant's proof of presence: the holder key's signature over this connection's challenge (the grants engine's HolderProof). */
export interface HolderProof {
  challenge: Uint8Array;
  signature: Uint8Array;
}

/** What the box does with requests: the access decision and the latch, wired by main. */
export interface BleHandler {
  /**
   * Decide on a grant and, when it allows, act on the latch. cb is called
   * exactly once with the decision's reason code: "granted" (GRANTED) when the
   * request was granted and the latch was told to move, else the refusal.
   * screened: screen() was asked about these bytes in this same call and
   * refused nothing, so the checks it made need not run again (a grant
   * waits on them before the motor).
   */
  request(kind: RequestKind, grant: Uint8Array, cb: (reasonCode: string) => void, holder?: HolderProof, screened?: boolean): void;
  /** The state a phone may read: at least the latch state. */
  state(): { latch: string; [key: string]: EventValue };
  /**
   * Optional: what deciding a request would cost, without deciding it (the
   * gatekeeper's screen): "verify" when only a signature verification can
   * tell, "known" for a grant verified before, else the cheap refusal's
   * reason. Without it every grant request counts as a verification.
   */
  screen?(kind: RequestKind, grant: Uint8Array): string;
}

/** screen()'s answer for a grant that needs a signature verification: the only kind the box-wide budget is for. */
export const COST_VERIFY = "verify";
/** screen()'s answer for a grant verified before: served without a verification, whatever the budget. */
export const COST_KNOWN = "known";

export interface BleServiceConfig {
  boxId: string;
  devMode: boolean;
  firmwareVersion?: string;
  /** Drop a connection with no complete, accepted request for this long. */
  idleMs?: number;
  /** Failed grants (box-wide) allowed before back-off starts. */
  freeFailures?: number;
  /** First back-off step; doubles with every further failure. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Failed grants on one connection before it is dropped. */
  connFailures?: number;
  /** Broken frames or refused requests on one connection before it is dropped. */
  connErrors?: number;
  /** Requests of any kind per connection: a bucket of this many, refilled one per requestRefillMs. */
  requestBurst?: number;
  requestRefillMs?: number;
  /**
   * Link and refusal events (connected, frame errors, rate_limited, ...) a
   * bucket of this many, refilled one per eventRefillMs; beyond it they are
   * counted and reported in one "suppressed" event (n: how many, last: the
   * latest reason) when the bucket refills, so a flood of junk cannot
   * flood the event log. Decisions are always reported. The defaults (12,
   * one more every 2 hours) let a busy hour of deliveries through in full
   * and hold a stranger's endless junk to 12 events a day: each event costs
   * the outbox's flash (and the owner's data plan) about 130 bytes.
   */
  eventBurst?: number;
  eventRefillMs?: number;
  /** Refusal reasons that are not the phone's fault (low battery, latch busy): neither counted nor reset. */
  neutralReasons?: string[];
}

export interface BleServiceOptions {
  ble: Ble;
  clock: Clock;
  events: EventBus;
  /** Where the failure count lives: a journal "ble~*" of 2 x 256 bytes is opened on it (about 28 records between rewrites). */
  flash?: Flash;
  /** Or a record log given directly (a firmware/store Journal, or a test's). One of flash or log is required. */
  log?: RecordLog;
  crc32: (data: Uint8Array) => number;
  /** Hardware randomness for holder challenges. */
  random: Random;
  config: BleServiceConfig;
  handler: BleHandler;
}

interface Limits {
  idleMs: number;
  freeFailures: number;
  baseMs: number;
  maxMs: number;
  connFailures: number;
  connErrors: number;
  burst: number;
  refillMs: number;
  eventBurst: number;
  eventRefillMs: number;
}

interface Session {
  link: BleLink;
  rx: Reassembler;
  idle: Handle | undefined;
  errors: number;
  failures: number;
  nextAllowed: number;
  tokens: number;
  tokenAt: number;
  /** Set after a granted request: latch progress is forwarded to this phone, and STATE answers in full. */
  watching: boolean;
  /** A grant from this session is being decided. */
  waiting: boolean;
  /** The challenge given to this phone, until its next grant request. */
  challenge: Uint8Array | undefined;
  /** false once dropped or disconnected: nothing more is sent or accepted. */
  open: boolean;
}

/** Prefix of the journal files holding the failure count. */
export const JOURNAL_PREFIX = BLE_JOURNAL.prefix;
const DROP_GRACE_MS = 250;

function pick(v: number | undefined, d: number): number {
  return v === undefined ? d : v;
}

/** Back-off after n consecutive failures: 0 for the free ones, then base, 2 base, 4 base ... up to max. */
export function backoffMs(n: number, free: number, base: number, max: number): number {
  if (n <= free) return 0;
  const d = base * Math.pow(2, Math.min(n - free - 1, 30));
  return d < max ? d : max;
}

/**
 * The GATT service a driver's phone talks to (protocol.ts describes the
 * protocol). It owns link security and rate limiting; the handler owns the
 * decision. Nothing reaches the handler from an unencrypted link (outside
 * devMode), from a rate-limited phone, or while another grant is being
 * decided. The box-wide failure count is charged in flash BEFORE a grant is
 * checked, so neither a reboot nor a power cut during the check gives an
 * attacker a free attempt; a reboot restarts the back-off wait in full.
 */
export class BleService {
  private readonly o: BleServiceOptions;
  private readonly lim: Limits;
  private readonly store: FailureStore;
  private readonly handles: Handle[] = [];
  private readonly neutral: { [reason: string]: boolean } = {};
  private session: Session | undefined;
  private failures: number;
  private blockedUntil: number;
  private pending = false;
  private tag = 0;
  private coarse: CoarseState | undefined;
  private closed = false;
  private journal: Journal | undefined;
  private noiseTokens: number;
  private noiseAt: number;
  private suppressed = 0;

  constructor(options: BleServiceOptions) {
    const o = options;
    if (!o || !o.ble || !o.clock || !o.events || !(o.log || o.flash) || typeof o.crc32 !== "function" || !o.random || !o.handler || !o.config)
      throw new Error("ble_service_options");
    const c = o.config;
    if (typeof c.boxId !== "string" || c.boxId.length < 1 || c.boxId.length > 32 || typeof c.devMode !== "boolean")
      throw new Error("ble_service_config");
    const lim: Limits = {
      idleMs: pick(c.idleMs, 30000),
      freeFailures: pick(c.freeFailures, 2),
      baseMs: pick(c.backoffBaseMs, 2000),
      maxMs: pick(c.backoffMaxMs, 300000),
      connFailures: pick(c.connFailures, 3),
      connErrors: pick(c.connErrors, 8),
      burst: pick(c.requestBurst, 5),
      refillMs: pick(c.requestRefillMs, 1000),
      eventBurst: pick(c.eventBurst, 12),
      eventRefillMs: pick(c.eventRefillMs, 7200000),
    };
    if (!(lim.idleMs > 0 && lim.freeFailures >= 0 && lim.baseMs > 0 && lim.maxMs >= lim.baseMs && lim.connFailures >= 1))
      throw new Error("ble_service_config");
    if (!(lim.connErrors >= 1 && lim.burst >= 1 && lim.refillMs > 0 && lim.eventBurst >= 1 && lim.eventRefillMs > 0))
      throw new Error("ble_service_config");
    this.o = o;
    this.lim = lim;
    const n = c.neutralReasons || [];
    for (let i = 0; i < n.length; i++) this.neutral[n[i]] = true;
    if (!o.log) this.journal = new Journal({ flash: o.flash as Flash, prefix: JOURNAL_PREFIX, segmentBytes: BLE_JOURNAL.segmentBytes, maxSegments: BLE_JOURNAL.maxSegments, crc32: o.crc32 });
    this.store = new FailureStore({ log: o.log || (this.journal as Journal) });
    this.failures = this.store.load();
    this.noiseTokens = lim.eventBurst;
    this.noiseAt = o.clock.monotonic();
    this.blockedUntil = o.clock.monotonic() + backoffMs(this.failures, lim.freeFailures, lim.baseMs, lim.maxMs);

    const self = this;
    o.ble.publish(LAYOUT, { console: c.devMode });
    this.progress(this.latchState());
    this.handles.push(o.ble.onConnect(function (link) {
      self.connected(link);
    }));
    this.handles.push(o.ble.onSecured(function (link) {
      const s = self.session;
      if (!s || !s.open) return;
      s.link = link;
      self.noise("secured", { enc: link.encrypted });
    }));
    this.handles.push(o.ble.onDisconnect(function () {
      self.disconnected();
    }));
    this.handles.push(o.ble.onWrite(function (frame) {
      self.written(frame);
    }));
  }

  /**
   * Main calls this on every latch state change: it refreshes the info
   * characteristic and advertising, and tells a phone whose request was
   * granted how the latch is moving.
   */
  progress(latch: string): void {
    const self = this;
    // While a grant is on its way to the motor, the radio's updates wait with the events (firmware/events.ts).
    this.o.events.later(function () {
      self.showProgress(latch);
    });
  }

  private showProgress(latch: string): void {
    if (this.closed) return;
    const coarse = coarseOf(latch);
    if (coarse !== this.coarse) {
      this.coarse = coarse;
      const c = this.o.config;
      this.o.ble.setInfo(infoValue(c.boxId, coarse));
      advertise(this.o.ble, c.boxId, coarse);
    }
    const s = this.session;
    if (s && s.open && s.watching) {
      this.send(s, textMessage(MSG_PROGRESS, latch));
      this.restartIdle(s);
    }
  }

  /** Box-wide consecutive failed grants, and ms until the next grant is accepted (for status and tests). */
  limits(): { failures: number; waitMs: number } {
    const w = this.blockedUntil - this.o.clock.monotonic();
    return { failures: this.failures, waitMs: w > 0 ? w : 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.handles.length; i++) this.handles[i].cancel();
    if (this.session) this.endSession(this.session);
    this.session = undefined;
    if (this.journal) this.journal.close();
  }

  private latchState(): string {
    try {
      return this.o.handler.state().latch;
    } catch (e) {
      return "fault";
    }
  }

  private connected(link: BleLink): void {
    if (this.session) this.endSession(this.session);
    const self = this;
    const now = this.o.clock.monotonic();
    const s: Session = {
      link: link,
      rx: new Reassembler({
        clock: this.o.clock,
        crc32: this.o.crc32,
        maxBytes: MAX_REQUEST,
        timeoutMs: REASSEMBLY_TIMEOUT_MS,
        onTimeout: function (code) {
          if (s.open) self.refuse(s, code, 0);
        },
      }),
      idle: undefined,
      errors: 0,
      failures: 0,
      nextAllowed: 0,
      tokens: this.lim.burst,
      tokenAt: now,
      watching: false,
      waiting: false,
      challenge: undefined,
      open: true,
    };
    this.session = s;
    this.noise("connected", { enc: link.encrypted });
    this.restartIdle(s);
  }

  private disconnected(): void {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    this.endSession(s);
    this.noise("disconnected", s.waiting ? { midRequest: true } : undefined);
  }

  private endSession(s: Session): void {
    s.open = false;
    s.rx.close();
    if (s.idle) s.idle.cancel();
    s.idle = undefined;
  }

  /**
   * Stops listening to s at once, and disconnects a moment later so the
   * notifications already queued (the reason it is dropped) reach the phone.
   */
  private drop(s: Session, why: string): void {
    if (!s.open) return;
    this.endSession(s);
    this.noise("dropped", { why: why });
    const self = this;
    this.o.clock.after(DROP_GRACE_MS, function () {
      if (self.session === s) self.o.ble.disconnect();
    });
  }

  private restartIdle(s: Session): void {
    if (s.idle) s.idle.cancel();
    const self = this;
    s.idle = this.o.clock.after(this.lim.idleMs, function () {
      s.idle = undefined;
      if (!s.open) return;
      if (s.waiting) self.restartIdle(s);
      else self.drop(s, "idle");
    });
  }

  private written(frame: Uint8Array): void {
    const s = this.session;
    if (!s || !s.open) return;
    const r = s.rx.push(frame);
    if (r === undefined) return;
    if (typeof r === "string") this.refuse(s, r, 0);
    else this.message(s, r);
  }

  /** Refuses with an error message; a connection that keeps failing is dropped. */
  private refuse(s: Session, code: string, retryMs: number): void {
    s.errors++;
    this.noise(code, retryMs > 0 ? { retryMs: Math.ceil(retryMs) } : undefined);
    this.send(s, errorMessage(code, retryMs));
    if (s.errors >= this.lim.connErrors) {
      this.send(s, errorMessage(ERR_TOO_MANY, 0));
      this.drop(s, ERR_TOO_MANY);
    }
  }

  private message(s: Session, m: Uint8Array): void {
    if (!s.link.encrypted && !this.o.config.devMode) return this.refuse(s, ERR_UNENCRYPTED, 0);
    const now = this.o.clock.monotonic();
    const refill = Math.floor((now - s.tokenAt) / this.lim.refillMs);
    if (refill > 0) {
      s.tokens = Math.min(this.lim.burst, s.tokens + refill);
      s.tokenAt += refill * this.lim.refillMs;
    }
    if (s.tokens < 1) return this.refuse(s, ERR_RATE, s.tokenAt + this.lim.refillMs - now);
    s.tokens--;
    switch (m[0]) {
      case MSG_STATE:
        if (m.length !== 1) return this.refuse(s, ERR_MALFORMED, 0);
        this.restartIdle(s);
        return this.sendState(s);
      case MSG_CHALLENGE:
        if (m.length !== 1) return this.refuse(s, ERR_MALFORMED, 0);
        return this.sendChallenge(s);
      case MSG_UNLOCK:
      case MSG_LOCK:
        return this.grantRequest(s, m);
      default:
        return this.refuse(s, ERR_UNKNOWN, 0);
    }
  }

  private sendState(s: Session): void {
    if (!s.watching) {
      // a stranger learns the box id and whether it can take a request, nothing more
      const ready = coarseOf(this.latchState()) === "ready" && !this.pending;
      return this.send(s, textMessage(MSG_STATE_REPLY, JSON.stringify({ box: this.o.config.boxId, ready: ready })));
    }
    let st: { [key: string]: EventValue };
    try {
      st = this.o.handler.state();
    } catch (e) {
      st = { latch: "fault" };
    }
    if (this.o.config.firmwareVersion !== undefined) st.v = this.o.config.firmwareVersion;
    let json = JSON.stringify(st);
    if (json.length > 400) json = JSON.stringify({ latch: st.latch });
    this.send(s, textMessage(MSG_STATE_REPLY, json));
  }

  private sendChallenge(s: Session): void {
    const c = this.o.random.bytes(CHALLENGE_BYTES);
    s.challenge = c;
    this.restartIdle(s);
    const m = new Uint8Array(1 + CHALLENGE_BYTES);
    m[0] = MSG_CHALLENGE_REPLY;
    m.set(c, 1);
    this.send(s, m);
  }

  private grantRequest(s: Session, m: Uint8Array): void {
    const parts = splitGrantRequest(m);
    // A challenge serves one grant request, whatever becomes of it.
    const challenge = s.challenge;
    s.challenge = undefined;
    if (!parts) return this.refuse(s, ERR_MALFORMED, 0);
    if (parts.proof && !challenge) return this.refuse(s, ERR_NO_CHALLENGE, 0);
    const holder = parts.proof && challenge ? { challenge: challenge, signature: parts.proof.slice() } : undefined;
    this.grant(s, m[0], parts.grant, holder);
  }

  private grant(s: Session, type: number, grant: Uint8Array, holder: HolderProof | undefined): void {
    if (this.pending) return this.refuse(s, ERR_BUSY, 0);
    const kind: RequestKind = type === MSG_UNLOCK ? "unlock" : "lock";
    const now = this.o.clock.monotonic();
    // Only a signature verification costs the box anything (seconds of CPU and battery):
    // junk, wrong boxes and expired or revoked grants are refused for free, and
    // back off only the link that sent them; a grant verified before is always served.
    let cost = COST_VERIFY;
    let screened = false;
    try {
      if (this.o.handler.screen) {
        cost = this.o.handler.screen(kind, grant);
        screened = true;
      }
    } catch (e) {
      cost = COST_VERIFY;
    }
    const charged = cost === COST_VERIFY;
    const wait = Math.max(charged ? this.blockedUntil - now : 0, s.nextAllowed - now);
    if (wait > 0) return this.refuse(s, ERR_RATE, wait);
    if (!charged && cost !== COST_KNOWN) return this.cheapRefusal(s, type, kind, cost);
    // Charge a verification durably before the decision: a reset during the check still counts it.
    if (charged) {
      if (!this.store.save(this.failures + 1)) return this.refuse(s, ERR_STORE, 0);
      this.failures++;
    }
    const before = this.blockedUntil;
    this.pending = true;
    s.waiting = true;
    const self = this;
    let answered = false;
    const cb = function (reason: string) {
      if (answered) return;
      answered = true;
      self.decided(s, type, kind, typeof reason === "string" && reason.length > 0 ? reason : "handler_error", before, charged);
    };
    try {
      this.o.handler.request(kind, grant.slice(), cb, holder, screened);
    } catch (e) {
      cb("handler_error");
    }
    // The link's idle time starts again from this request: after it, since a grant's motor may start inside it.
    if (s.open) this.restartIdle(s);
  }

  /**
   * A grant refused by the checks that need no cryptography: answered at
   * once, charged to this link only, and reported through the event bucket
   * (a flood of junk neither wears the flash with events nor reaches the
   * handler), never to the box-wide budget.
   */
  private cheapRefusal(s: Session, type: number, kind: RequestKind, reason: string): void {
    const lim = this.lim;
    const now = this.o.clock.monotonic();
    this.noise(reason, { kind: kind, pre: true }, "access");
    this.send(s, resultMessage(type, reason));
    if (this.neutral[reason] === true) return;
    s.failures++;
    s.nextAllowed = now + backoffMs(s.failures, 0, lim.baseMs, lim.maxMs);
    if (s.failures >= lim.connFailures) {
      this.send(s, errorMessage(ERR_TOO_MANY, s.nextAllowed - now));
      this.drop(s, ERR_TOO_MANY);
    }
  }

  private decided(s: Session, type: number, kind: RequestKind, reason: string, before: number, charged: boolean): void {
    this.pending = false;
    s.waiting = false;
    const lim = this.lim;
    const now = this.o.clock.monotonic();
    let saved = true;
    // a grant to a box that had no failures before this attempt (charged, then cleared) changes
    // nothing here: the access decision is the event
    let quiet = false;
    if (reason === GRANTED) {
      quiet = this.failures === (charged ? 1 : 0);
      this.failures = 0;
      this.blockedUntil = 0;
      saved = this.store.save(0);
      s.failures = 0;
      s.nextAllowed = 0;
    } else if (this.neutral[reason] === true) {
      if (charged) {
        this.failures--;
        this.blockedUntil = before;
        saved = this.store.save(this.failures);
      }
    } else {
      if (charged) this.blockedUntil = now + backoffMs(this.failures, lim.freeFailures, lim.baseMs, lim.maxMs);
      s.failures++;
      s.nextAllowed = now + backoffMs(s.failures, 0, lim.baseMs, lim.maxMs);
    }
    if (!quiet) this.emit("decision", { kind: kind, reason: reason, failures: this.failures });
    // A stale, higher count in flash only makes the box stricter; say so and carry on.
    if (!saved) this.emit(ERR_STORE);
    if (this.closed || !s.open) return;
    this.send(s, resultMessage(type, reason));
    if (reason === GRANTED) {
      s.watching = true;
      this.send(s, textMessage(MSG_PROGRESS, this.latchState()));
      this.restartIdle(s);
    } else if (this.neutral[reason] !== true && s.failures >= lim.connFailures) {
      this.send(s, errorMessage(ERR_TOO_MANY, s.nextAllowed - now));
      this.drop(s, ERR_TOO_MANY);
    }
  }

  private send(s: Session, msg: Uint8Array): void {
    if (!s.open || this.session !== s) return;
    const frames = encodeFrames(msg, this.tag, this.o.crc32);
    this.tag = (this.tag + 1) & 0x3f;
    for (let i = 0; i < frames.length; i++) this.o.ble.notify(frames[i]);
  }

  /** Events that always go out: decisions and storage trouble. */
  private emit(reason: string, d?: { [key: string]: EventValue }): void {
    this.o.events.emit("ble", reason, d);
  }

  /** Link and refusal events, through the event bucket (see eventBurst). */
  private noise(reason: string, d?: { [key: string]: EventValue }, type?: string): void {
    const lim = this.lim;
    const now = this.o.clock.monotonic();
    const refill = Math.floor((now - this.noiseAt) / lim.eventRefillMs);
    if (refill > 0) {
      this.noiseTokens = Math.min(lim.eventBurst, this.noiseTokens + refill);
      this.noiseAt += refill * lim.eventRefillMs;
    }
    if (this.noiseTokens < 1) {
      this.suppressed++;
      return;
    }
    this.noiseTokens--;
    if (this.suppressed > 0) {
      // One event stands for the ones held back and this one.
      this.emit("suppressed", { n: this.suppressed + 1, last: reason });
      this.suppressed = 0;
      return;
    }
    if (type) this.o.events.emit(type, reason, d);
    else this.emit(reason, d);
  }
}
