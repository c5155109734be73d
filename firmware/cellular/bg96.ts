import { Clock, Handle, Modem } from "../../hal";
import { ByteSocket } from "../net/socket";
import { At, AtOptions, AtReply, AtState } from "./at";
import { BUILD_YEAR, SERVICE_YEARS } from "../time/epoch";

/**
 * The Quectel BG96 driver, from the BG96 AT Commands Manual and TCP/IP
 * Application Note. It brings the modem up in levels, each only as far as a
 * caller needs: 1 = powered and configured (echo off, numeric CME errors,
 * +CEREG URCs with access technology, SIM ready, PSM and eDRX requests), 2 =
 * registered on LTE-M or NB-IoT (+CEREG stat 1 home or 5 roaming), 3 = PDP
 * context 1 active. Sockets are TCP in buffer access mode: AT+QIOPEN, then
 * the URC +QIOPEN: <id>,<err>; incoming data is announced by
 * +QIURC: "recv",<id> and fetched with AT+QIRD=<id>,1500 until it returns
 * 0 bytes; AT+QISEND=<id>,<n> takes n <= 1460 bytes after the "> " prompt.
 *
 * Power policy: nothing keeps the modem on. After idleMs with no socket and
 * no request, or when the uplink calls sleep(), sockets are closed and the
 * modem either drops into PSM by itself (when psm is configured and the
 * network grants it: "PSM POWER DOWN") or is switched off with AT+QPOWD=1
 * ("POWERED DOWN"). The next request wakes or boots it through the power key.
 *
 * Error codes given to callbacks: bad_host, bad_port, no_socket (all 12 in
 * use), sim_absent, sim_pin, sim_error, reg_denied, reg_timeout, pdp_failed,
 * sock_open_<n> (Quectel error, e.g. 565 DNS, 566 connect failed),
 * sock_open_timeout, sock_closed, sock_send_failed, time_unknown,
 * no_service, bad_reply, closed, sleep_aborted (sleep() overtaken by a
 * request), modem_hung / modem_reset / modem_off / modem_psm / pdp_lost
 * (what ended a socket or an open in progress), and the AT layer's codes
 * (at_timeout, at_hung, at_off, at_no_boot, cme_<n>, ...).
 *
 * Events (type "modem"): power_off and psm, each summing up the session
 * it ends {why, from: "boot"|"psm", awake_s, reg: "home"|"roaming"|"",
 * rat, pdp: true once the data context came up}; reg_lost, reg_denied,
 * reg_timeout, sim_error, pdp_lost, hang, recovered, recover_failed,
 * reboot. The routine steps of a session (power on, registration, the data
 * context) are log lines: the owner hears them in the summary, and the
 * event outbox, which every event costs flash, does not carry four records
 * a wake for them.
 */

export interface EventSink {
  emit(type: string, reason: string, d?: { [key: string]: string | number | boolean }): unknown;
}

export interface Bg96Options {
  modem: Modem;
  clock: Clock;
  /** Access point name (default "": the network's default). */
  apn?: string;
  user?: string;
  password?: string;
  /** Radio access: LTE-M, NB-IoT or both, LTE-M first (default "both"; AT+QCFG="iotopmode"). */
  rat?: "ltem" | "nbiot" | "both";
  /** Request PSM with this periodic TAU and active time; undefined powers the modem off when idle. */
  psm?: { tauSeconds: number; activeSeconds: number };
  /** Request this eDRX cycle in seconds while idle (AT+CEDRXS, LTE-M); undefined or 0 turns eDRX off. */
  edrxSeconds?: number;
  /** Give up waiting for registration after this long (default 180 s). */
  registerMs?: number;
  /** Sleep after this long with no socket and no request (default 60 s; 0 = only on sleep()). */
  idleMs?: number;
  events?: EventSink;
  log?: (line: string) => void;
  /** AT-layer timings (tests shorten them). */
  at?: Partial<Pick<AtOptions, "hangAfter" | "pulseMs" | "bootMs" | "settleMs" | "backoffMs" | "backoffMaxMs">>;
}

export interface Bg96Status {
  power: "unknown" | "off" | "psm" | "on";
  registered: boolean;
  rat: "ltem" | "nbiot" | "";
  pdp: boolean;
  sockets: number;
}

export interface Signal {
  /** Received signal strength in dBm (from +CSQ). */
  rssi: number;
  /** LTE-M / NB-IoT details from +QCSQ when the modem gives them. */
  rat: string;
  rsrp?: number;
  sinr?: number;
  rsrq?: number;
}

type Power = "unknown" | "off" | "psm" | "up" | "ready";

interface Waiter {
  level: number;
  cb: (err?: string) => void;
}

const MAX_CHUNK = 1460;

/** eDRX cycles for LTE-M (WB-S1) by their 4-bit value, 3GPP TS 24.008 table 10.5.5.32. */
const EDRX_S = [5.12, 10.24, 20.48, 40.96, 61.44, 81.92, 102.4, 122.88, 143.36, 163.84, 327.68, 655.36, 1310.72, 2621.44, 5242.88, 10485.76];

/** The AT+CEDRXS value for the longest LTE-M eDRX cycle not above seconds (the shortest when all are). */
export function edrxBits(seconds: number): string {
  let v = 0;
  for (let i = 0; i < EDRX_S.length; i++) if (EDRX_S[i] <= seconds + 0.001) v = i;
  return bits(v, 4);
}
const SOCKETS = 12;

/** Encodes seconds as a 3GPP TS 24.008 GPRS timer (T3412 extended or T3324), rounding up. */
export function gprsTimerBits(seconds: number, t3412: boolean): string {
  const units = t3412
    ? [
        [3, 2],
        [4, 30],
        [5, 60],
        [0, 600],
        [1, 3600],
        [2, 36000],
        [6, 1152000],
      ]
    : [
        [0, 2],
        [1, 60],
        [2, 360],
      ];
  for (let i = 0; i < units.length; i++) {
    const v = Math.ceil(seconds / units[i][1]);
    if (v <= 31) return bits(units[i][0], 3) + bits(v, 5);
  }
  return bits(units[units.length - 1][0], 3) + "11111";
}

function bits(v: number, n: number): string {
  let s = v.toString(2);
  while (s.length < n) s = "0" + s;
  return s;
}

function toBinary(d: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(d[i]);
  return s;
}

function fromBinary(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Splits "+X: a,"b,c",d" after its prefix into fields, quotes removed (commas inside quotes kept). */
export function fields(line: string): string[] {
  const i = line.indexOf(":");
  const body = i < 0 ? "" : line.substr(i + 1);
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let j = 0; j < body.length; j++) {
    const c = body.charAt(j);
    if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim().length || out.length) out.push(cur.trim());
  return out;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function days(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Parses +CEREG read ("n,stat[,tac,ci,act]") or URC ("stat[,tac,ci,act]") form. */
export function parseCereg(line: string): { stat: number; act: number } | undefined {
  const i = line.indexOf(":");
  if (i < 0) return undefined;
  const raw = line.substr(i + 1).split(",");
  const f = fields(line);
  if (!f.length) return undefined;
  const read = raw.length >= 2 && /^\s*\d+\s*$/.test(raw[1]);
  const stat = parseInt(read ? f[1] : f[0], 10);
  const actField = read ? f[4] : f[3];
  const act = actField === undefined ? -1 : parseInt(actField, 10);
  if (!(stat >= 0 && stat <= 5)) return undefined;
  return { stat: stat, act: act >= 0 ? act : -1 };
}

/** Days in a month of the proleptic Gregorian calendar. */
function monthDays(y: number, m: number): number {
  if (m === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * The modem's time, "2026/01/31,12:00:05+04,0" (+QLTS: UTC, then the zone
 * in quarter hours and the daylight-saving hours) or "26/01/31,12:00:05+04"
 * (+CCLK: local time and its zone), to Unix seconds. Strict, because a
 * wrong time is worse than none: a real calendar date (no February 31),
 * a zone within ±14 h (±56 quarters), and a year inside the firmware's
 * service window, a two-digit year being read as the one year of that
 * window with those last digits (BUILD_YEAR - 1 .. BUILD_YEAR + SERVICE_YEARS).
 */
export function parseModemTime(text: string, local: boolean): number | undefined {
  const m = /^(\d\d\d\d|\d\d)\/(\d\d)\/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d\d?)?(,\d)?$/.exec(text);
  if (!m) return undefined;
  let y = parseInt(m[1], 10);
  const lo = BUILD_YEAR - 1;
  if (m[1].length === 2) y = lo + ((y - (lo % 100) + 100) % 100);
  const mo = parseInt(m[2], 10);
  const d = parseInt(m[3], 10);
  const h = parseInt(m[4], 10);
  const mi = parseInt(m[5], 10);
  const s = parseInt(m[6], 10);
  const q = m[7] ? parseInt(m[7], 10) : 0;
  if (y < lo || y > BUILD_YEAR + SERVICE_YEARS || mo < 1 || mo > 12 || d < 1 || d > monthDays(y, mo)) return undefined;
  if (h > 23 || mi > 59 || s > 59 || q < -56 || q > 56) return undefined;
  let t = days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  if (local) t -= q * 900;
  return t;
}

class Listeners<T> {
  list: Array<(v: T) => void> = [];
  add(cb: (v: T) => void): Handle {
    this.list.push(cb);
    return {
      cancel: () => {
        this.list = this.list.filter((c) => c !== cb);
      },
    };
  }
  emit(v: T): void {
    const l = this.list.slice();
    for (let i = 0; i < l.length; i++) l[i](v);
  }
}

interface Write {
  data: Uint8Array;
  off: number;
  tries: number;
  cb: ((err?: string) => void) | undefined;
}

/** One TCP connection through the modem, as the MQTT client's ByteSocket. */
class ModemSocket implements ByteSocket {
  state: "opening" | "open" | "closing" | "closed" = "opening";
  private readonly dataL = new Listeners<Uint8Array>();
  private readonly closeL = new Listeners<string>();
  private writes: Write[] = [];
  private sending = false;
  private reading = false;
  private again = false;
  private remoteGone = false;

  constructor(
    readonly id: number,
    private readonly d: Bg96,
  ) {}

  write(data: Uint8Array, cb?: (err?: string) => void): void {
    if (this.state !== "open") {
      if (cb) this.d.later(() => cb("sock_closed"));
      return;
    }
    this.writes.push({ data: data.slice(), off: 0, tries: 0, cb: cb });
    this.pump();
  }

  onData(cb: (data: Uint8Array) => void): Handle {
    return this.dataL.add(cb);
  }

  onClose(cb: (reason: string) => void): Handle {
    return this.closeL.add(cb);
  }

  close(): void {
    this.closeWith("local_close");
  }

  /** Closes on the modem's side for a reason other than the user's close(). */
  drop(reason: string): void {
    if (this.state === "opening") this.end(reason);
    else this.closeWith(reason);
  }

  private closeWith(reason: string): void {
    if (this.state !== "open" && this.state !== "opening") return;
    this.state = "closing";
    this.d.at.cmd("AT+QICLOSE=" + this.id, { timeoutMs: 11000 }, () => this.end(reason));
  }

  /** +QIURC: "recv": fetch until the modem's buffer is empty. */
  recv(): void {
    if (this.state === "closed") return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.again = false;
    this.d.at.cmd("AT+QIRD=" + this.id + ",1500", { raw: "+QIRD:", timeoutMs: 5000 }, (err, r) => {
      this.reading = false;
      if (this.state === "closed") return;
      if (err) {
        if (this.remoteGone) this.finishRemote();
        return;
      }
      const p = r.payload;
      if (p.length) this.dataL.emit(fromBinary(p));
      if (p.length || this.again) this.recv();
      else if (this.remoteGone) this.finishRemote();
    });
  }

  /** +QIURC: "closed": read what is left, then release the id. */
  remoteClosed(): void {
    if (this.state !== "open" || this.remoteGone) return;
    this.remoteGone = true;
    if (this.state === "open") this.state = "closing";
    if (!this.reading) this.recv();
  }

  private finishRemote(): void {
    this.d.at.cmd("AT+QICLOSE=" + this.id, { timeoutMs: 11000 }, () => this.end("remote_closed"));
  }

  /** Final: the id is free, pending writes fail, onClose fires once. */
  end(reason: string): void {
    if (this.state === "closed") return;
    this.state = "closed";
    const w = this.writes;
    this.writes = [];
    for (let i = 0; i < w.length; i++) {
      const cb = w[i].cb;
      if (cb) this.d.later(() => cb("sock_closed"));
    }
    this.d.released(this);
    this.closeL.emit(reason);
  }

  private pump(): void {
    if (this.sending || !this.writes.length || this.state !== "open") return;
    const w = this.writes[0];
    const n = Math.min(MAX_CHUNK, w.data.length - w.off);
    if (n <= 0) {
      this.writes.shift();
      const cb = w.cb;
      if (cb) this.d.later(() => cb(undefined));
      return this.pump();
    }
    this.sending = true;
    const payload = toBinary(w.data, w.off, w.off + n);
    this.d.at.cmd("AT+QISEND=" + this.id + "," + n, { data: payload, finals: ["SEND OK", "SEND FAIL"], timeoutMs: 10000 }, (err, r) => {
      this.sending = false;
      if (this.state !== "open") return;
      if (!err && r.final === "SEND OK") {
        w.off += n;
        w.tries = 0;
        return this.pump();
      }
      // SEND FAIL means the modem's send buffer is full: wait and retry a few times.
      if (!err && w.tries < 3) {
        w.tries++;
        this.sending = true;
        this.d.clock.after(1000, () => {
          this.sending = false;
          this.pump();
        });
        return;
      }
      // A byte stream with a hole is useless: fail the write and drop the connection.
      this.writes.shift();
      if (w.cb) w.cb("sock_send_failed");
      this.closeWith("sock_send_failed");
    });
  }
}

export class Bg96 {
  readonly at: At;
  readonly clock: Clock;
  private readonly o: Bg96Options;
  private pw: Power = "unknown";
  private reg = 0;
  private rat: "ltem" | "nbiot" | "" = "";
  private pdp = false;
  /** The session since the modem last powered on, for the summary its end emits. */
  private sess: { from: string; at: number; reg: string; pdp: boolean } | undefined;
  private socks: Array<ModemSocket | undefined> = [];
  private opening: { [id: number]: (err: string | undefined) => void } = {};
  private waiters: Waiter[] = [];
  private running = false;
  private sleeping = false;
  private sleepWaiters: Array<(err?: string) => void> = [];
  private psmWait: Handle | undefined;
  private idle: Handle | undefined;
  private urcs: Handle[] = [];
  private closed = false;
  private foundOn = false;

  constructor(options: Bg96Options) {
    if (!options || !options.modem || !options.clock) throw new Error("bg96_options");
    const p = options.psm;
    if (p && !(p.tauSeconds > 0 && p.activeSeconds >= 0)) throw new Error("bg96_psm");
    this.o = options;
    this.clock = options.clock;
    const t = options.at || {};
    this.at = new At({
      modem: options.modem,
      clock: options.clock,
      hangAfter: t.hangAfter,
      pulseMs: t.pulseMs,
      bootMs: t.bootMs,
      settleMs: t.settleMs,
      backoffMs: t.backoffMs,
      backoffMaxMs: t.backoffMaxMs,
      onState: (s, r) => this.atState(s, r),
    });
    const at = this.at;
    this.urcs.push(at.on("+QIURC:", (l) => this.qiurc(l)));
    this.urcs.push(at.on("+QIOPEN:", (l) => this.qiopen(l)));
    this.urcs.push(at.on("+CEREG:", (l) => this.cereg(l)));
    this.urcs.push(at.on("POWERED DOWN", () => this.wentDown("off")));
    this.urcs.push(at.on("PSM POWER DOWN", () => this.wentDown("psm")));
  }

  /** Opens a TCP connection, bringing the modem up as far as needed. cb runs once, never synchronously. */
  connect(host: string, port: number, cb: (err: string | undefined, socket?: ByteSocket) => void): void {
    if (typeof host !== "string" || host.length < 1 || host.length > 150 || !/^[A-Za-z0-9.:-]+$/.test(host)) return this.later(() => cb("bad_host"));
    if (typeof port !== "number" || !(port >= 1 && port <= 65535) || Math.floor(port) !== port) return this.later(() => cb("bad_port"));
    this.up(3, (err) => {
      if (err) return cb(err);
      let id = -1;
      for (let i = 0; i < SOCKETS; i++)
        if (!this.socks[i]) {
          id = i;
          break;
        }
      if (id < 0) return cb("no_socket");
      const s = new ModemSocket(id, this);
      this.socks[id] = s;
      let timer: Handle | undefined;
      let done = false;
      const finish = (e: string | undefined) => {
        if (done) return;
        done = true;
        if (timer) timer.cancel();
        delete this.opening[id];
        if (e) {
          s.state = "closed";
          // The manual: after +QIOPEN reports an error, AT+QICLOSE the id before reusing it.
          if (e.indexOf("sock_open_") === 0 && e !== "sock_open_timeout") this.at.cmd("AT+QICLOSE=" + id, { timeoutMs: 11000 }, noop);
          if (this.socks[id] === s) this.socks[id] = undefined;
          this.touch();
          return cb(e);
        }
        s.state = "open";
        cb(undefined, s);
      };
      this.opening[id] = finish;
      this.at.cmd('AT+QIOPEN=1,' + id + ',"TCP","' + host + '",' + port + ",0,0", { timeoutMs: 5000 }, (e) => {
        if (e) return finish(e);
        if (done) return;
        // The manual: wait up to 150 s for +QIOPEN, then close the id.
        timer = this.clock.after(150000, () => {
          this.at.cmd("AT+QICLOSE=" + id, { timeoutMs: 11000 }, noop);
          finish("sock_open_timeout");
        });
      });
    });
  }

  /** Network time (Unix seconds) from +QLTS, falling back to +CCLK. Needs registration. */
  networkTime(cb: (err: string | undefined, unixSeconds?: number) => void): void {
    this.up(2, (err) => {
      if (err) return cb(err);
      this.at.cmd("AT+QLTS=1", { timeoutMs: 2000, expect: "+QLTS:" }, (e, r) => {
        const q = !e && r.lines.length ? parseModemTime(fields(r.lines[0])[0] || "", false) : undefined;
        if (q !== undefined) {
          this.touch();
          return cb(undefined, q);
        }
        this.at.cmd("AT+CCLK?", { timeoutMs: 2000, expect: "+CCLK:" }, (e2, r2) => {
          this.touch();
          if (e2) return cb(e2);
          const c = r2.lines.length ? parseModemTime(fields(r2.lines[0])[0] || "", true) : undefined;
          if (c === undefined) return cb("time_unknown");
          cb(undefined, c);
        });
      });
    });
  }

  /** Signal quality of the serving cell; brings the modem up to registration (the modem reports 99 before). */
  signal(cb: (err: string | undefined, s?: Signal) => void): void {
    this.up(2, (err) => {
      if (err) return cb(err);
      this.at.cmd("AT+CSQ", { expect: "+CSQ:" }, (e, r) => {
        if (e) {
          this.touch();
          return cb(e);
        }
        const f = r.lines.length ? fields(r.lines[0]) : [];
        const csq = parseInt(f[0], 10);
        if (!(csq >= 0 && csq <= 99) || f.length < 2) {
          this.touch();
          return cb("bad_reply");
        }
        if (csq === 99) {
          this.touch();
          return cb("no_service");
        }
        const out: Signal = { rssi: -113 + 2 * Math.min(csq, 31), rat: this.rat };
        this.at.cmd("AT+QCSQ", { expect: "+QCSQ:" }, (e2, r2) => {
          this.touch();
          const g = !e2 && r2.lines.length ? fields(r2.lines[0]) : [];
          if (g.length >= 5) {
            out.rat = g[0] === "CAT-NB1" ? "nbiot" : g[0] === "CAT-M1" ? "ltem" : g[0];
            out.rsrp = parseInt(g[2], 10);
            out.sinr = parseInt(g[3], 10);
            out.rsrq = parseInt(g[4], 10);
          }
          cb(undefined, out);
        });
      });
    });
  }

  /**
   * Nothing needs sending: close every socket, then let the modem drop into
   * PSM (when configured) or switch it off. cb once the modem is asleep or off.
   */
  sleep(cb?: (err?: string) => void): void {
    if (cb) this.sleepWaiters.push(cb);
    if (this.sleeping) return;
    if (this.idle) this.idle.cancel();
    this.idle = undefined;
    if (this.pw === "off" || this.pw === "psm") return this.sleepDone(undefined);
    this.sleeping = true;
    let left = 1;
    const next = () => {
      if (--left > 0) return;
      this.goDown();
    };
    for (let i = 0; i < SOCKETS; i++) {
      const s = this.socks[i];
      if (s && s.state === "open") {
        left++;
        s.onClose(next);
        s.close();
      }
    }
    next();
  }

  status(): Bg96Status {
    let n = 0;
    for (let i = 0; i < SOCKETS; i++) if (this.socks[i]) n++;
    const pw = this.pw;
    return {
      power: pw === "up" || pw === "ready" ? "on" : pw,
      registered: this.reg === 1 || this.reg === 5,
      rat: this.rat,
      pdp: this.pdp,
      sockets: n,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < SOCKETS; i++) {
      const s = this.socks[i];
      if (s) s.end("closed");
    }
    this.failWaiters(0, "closed");
    if (this.idle) this.idle.cancel();
    if (this.psmWait) this.psmWait.cancel();
    for (let i = 0; i < this.urcs.length; i++) this.urcs[i].cancel();
    this.at.close();
  }

  // ---- used by ModemSocket ------------------------------------------------------

  later(fn: () => void): void {
    this.clock.after(0, fn);
  }

  released(s: ModemSocket): void {
    if (this.socks[s.id] === s) this.socks[s.id] = undefined;
    this.touch();
  }

  // ---- bring-up ------------------------------------------------------------------

  private level(): number {
    if (this.pw !== "ready") return 0;
    if (!(this.reg === 1 || this.reg === 5)) return 1;
    return this.pdp ? 3 : 2;
  }

  private up(level: number, cb: (err?: string) => void): void {
    if (this.closed) return this.later(() => cb("closed"));
    if (this.idle) this.idle.cancel();
    this.idle = undefined;
    if (this.psmWait && !this.sleeping) {
      this.psmWait.cancel();
      this.psmWait = undefined;
      this.sleepDone("sleep_aborted");
    }
    this.waiters.push({ level: level, cb: cb });
    if (!this.running && !this.sleeping) this.later(() => this.step());
  }

  private step(): void {
    if (this.running || this.sleeping || this.closed) return;
    const lv = this.level();
    const ready: Waiter[] = [];
    this.waiters = this.waiters.filter((w) => {
      if (w.level <= lv) ready.push(w);
      return w.level > lv;
    });
    for (let i = 0; i < ready.length; i++) ready[i].cb(undefined);
    if (!this.waiters.length) return;
    this.running = true;
    const next = (err?: string) => {
      this.running = false;
      if (err) {
        this.failWaiters(this.level(), err);
        this.touch();
        return;
      }
      this.step();
    };
    if (lv === 0) return this.bootAndInit(next);
    if (lv === 1) return this.register(next);
    this.activate(next);
  }

  private failWaiters(belowOrAt: number, err: string): void {
    const fail: Waiter[] = [];
    this.waiters = this.waiters.filter((w) => {
      if (w.level > belowOrAt) fail.push(w);
      return w.level <= belowOrAt;
    });
    for (let i = 0; i < fail.length; i++) fail[i].cb(err);
  }

  private bootAndInit(done: (err?: string) => void): void {
    const start = () => {
      const r = this.o.rat;
      const mode = r === "ltem" ? 0 : r === "nbiot" ? 1 : 2;
      const cmds = ["ATE0", "AT+CMEE=1", "AT+CEREG=2", 'AT+QCFG="iotopmode",' + mode + ",1", 'AT+QCFG="psm/urc",1', this.psmCommand(), this.edrxCommand()];
      // Found already on (the MCU restarted, not the modem): sockets and the context may be left over.
      if (this.foundOn) cmds.push("AT+QIDEACT=1");
      this.foundOn = false;
      let i = 0;
      const run = () => {
        if (i >= cmds.length) return this.sim(0, done);
        const c = cmds[i++];
        const deact = c === "AT+QIDEACT=1";
        this.at.cmd(c, { timeoutMs: deact ? 40000 : 2000 }, (err) => (err && !deact ? done(err) : run()));
      };
      run();
    };
    if (this.pw === "up") return start();
    const wasOff = this.pw;
    this.at.boot(true, (err) => {
      if (err) return done(err);
      this.pw = "up";
      this.reg = 0;
      this.pdp = false;
      this.sess = { from: wasOff === "psm" ? "psm" : "boot", at: this.o.clock.monotonic(), reg: "", pdp: false };
      this.note("power_on", wasOff === "psm" ? "psm" : "boot");
      start();
    });
  }

  private psmCommand(): string {
    const p = this.o.psm;
    if (!p) return "AT+CPSMS=0";
    return 'AT+CPSMS=1,,,"' + gprsTimerBits(p.tauSeconds, true) + '","' + gprsTimerBits(p.activeSeconds, false) + '"';
  }

  private edrxCommand(): string {
    const e = this.o.edrxSeconds;
    return e ? 'AT+CEDRXS=1,4,"' + edrxBits(e) + '"' : "AT+CEDRXS=0";
  }

  /** AT+CPIN?: the SIM may report busy (CME 14) for a few seconds after boot. */
  private sim(tries: number, done: (err?: string) => void): void {
    this.at.cmd("AT+CPIN?", { timeoutMs: 5000, expect: "+CPIN:" }, (err, r) => {
      if (err === "cme_14" && tries < 5) {
        this.clock.after(1000, () => this.sim(tries + 1, done));
        return;
      }
      const code = err === "cme_10" ? "sim_absent" : err ? (err.indexOf("cme_") === 0 ? "sim_error" : err) : simCode(r);
      if (code) {
        if (code.indexOf("sim_") === 0) this.emit("sim_error", code);
        return done(code);
      }
      this.pw = "ready";
      done();
    });
  }

  private register(done: (err?: string) => void): void {
    const limit = this.o.registerMs === undefined ? 180000 : this.o.registerMs;
    const until = this.clock.monotonic() + limit;
    let denied = 0;
    const poll = () => {
      this.at.cmd("AT+CEREG?", { expect: "+CEREG:" }, (err, r) => {
        if (err) return done(err);
        for (let i = 0; i < r.lines.length; i++) this.cereg(r.lines[i]);
        if (this.reg === 1 || this.reg === 5) return done();
        if (this.reg === 3 && ++denied >= 3) {
          this.emit("reg_denied", "cereg_3");
          return done("reg_denied");
        }
        if (this.clock.monotonic() >= until) {
          this.emit("reg_timeout", "stat_" + this.reg);
          return done("reg_timeout");
        }
        this.clock.after(2000, poll);
      });
    };
    poll();
  }

  private activate(done: (err?: string) => void): void {
    this.at.cmd("AT+QIACT?", { expect: "+QIACT:" }, (err, r) => {
      if (err) return done(err);
      for (let i = 0; i < r.lines.length; i++) {
        const f = fields(r.lines[i]);
        if (f[0] === "1" && f[1] === "1") {
          this.setPdp(true);
          return done();
        }
      }
      const q = (s: string | undefined) => '"' + (s === undefined ? "" : s).replace(/"/g, "") + '"';
      const o = this.o;
      const auth = o.user || o.password ? 1 : 0;
      this.at.cmd("AT+QICSGP=1,1," + q(o.apn) + "," + q(o.user) + "," + q(o.password) + "," + auth, {}, (e1) => {
        if (e1) return done(e1);
        this.at.cmd("AT+QIACT=1", { timeoutMs: 150000 }, (e2) => {
          if (e2) return done(e2 === "at_error" || e2.indexOf("cme_") === 0 ? "pdp_failed" : e2);
          this.setPdp(true);
          done();
        });
      });
    });
  }

  private setPdp(on: boolean): void {
    if (this.pdp === on) return;
    this.pdp = on;
    if (on) {
      if (this.sess) this.sess.pdp = true;
      this.note("pdp_up", "qiact");
    } else this.emit("pdp_lost", "pdpdeact");
  }

  // ---- going down ----------------------------------------------------------------

  private goDown(): void {
    if (this.closed) return;
    const p = this.o.psm;
    if (p && this.pw === "ready" && (this.reg === 1 || this.reg === 5)) {
      // The modem enters PSM by itself when T3324 runs out; give it that long plus a margin.
      this.psmWait = this.at.waitLine(["PSM POWER DOWN"], p.activeSeconds * 1000 + 15000, (l) => {
        this.psmWait = undefined;
        if (l) return; // wentDown("psm") handled it through the URC
        this.powerOff();
      });
      this.sleeping = false;
      this.flushAfterSleep();
      return;
    }
    this.powerOff();
  }

  private powerOff(): void {
    this.sleeping = true;
    const finish = () => {
      if (this.closed) return;
      this.setOff("off", "qpowd");
      this.sleeping = false;
      this.sleepDone(undefined);
      if (this.waiters.length) this.step();
    };
    if (this.at.state() !== "on") return finish();
    const w = this.at.waitLine(["POWERED DOWN"], 15000, (l) => {
      if (l) return finish();
      // No last word: force it with the power key (a modem that is on turns off).
      this.at.pulse(() => this.at.waitLine(["POWERED DOWN"], 15000, () => finish()));
    });
    this.at.cmd("AT+QPOWD=1", { timeoutMs: 2000 }, (err) => {
      if (err && err !== "at_timeout") {
        w.cancel();
        finish();
      }
    });
  }

  private flushAfterSleep(): void {
    if (this.waiters.length) this.step();
  }

  private sleepDone(err: string | undefined): void {
    const l = this.sleepWaiters;
    this.sleepWaiters = [];
    for (let i = 0; i < l.length; i++) {
      const cb = l[i];
      this.later(() => cb(err));
    }
  }

  private wentDown(kind: "off" | "psm"): void {
    // While the AT layer is booting, "POWERED DOWN" is part of its own power-key sequence.
    if (this.pw === "off" || this.pw === "psm" || this.at.state() !== "on") return;
    if (kind === "off" && this.sleeping) return; // powerOff() is waiting for exactly this
    this.setOff(kind, kind === "psm" ? "psm_urc" : "unexpected");
    if (kind === "psm") this.sleepDone(undefined);
  }

  private setOff(kind: "off" | "psm", reason: string): void {
    for (let i = 0; i < SOCKETS; i++) {
      const s = this.socks[i];
      if (s) s.end(kind === "psm" ? "modem_psm" : "modem_off");
    }
    this.pw = kind;
    if (kind === "off") {
      this.reg = 0;
      this.pdp = false;
    }
    this.at.markOff(kind);
    const e = this.sess;
    this.sess = undefined;
    const d: { [key: string]: string | number | boolean } = e
      ? { from: e.from, awake_s: Math.round((this.o.clock.monotonic() - e.at) / 1000), reg: e.reg, rat: this.rat, pdp: e.pdp }
      : {};
    this.emit(kind === "psm" ? "psm" : "power_off", reason, d);
  }

  /** Arms the idle timer when the modem is on and nothing needs it. */
  private touch(): void {
    if (this.idle) this.idle.cancel();
    this.idle = undefined;
    const ms = this.o.idleMs === undefined ? 60000 : this.o.idleMs;
    if (!ms || this.closed || this.sleeping || this.running || this.waiters.length) return;
    if (this.pw === "off" || this.pw === "psm" || this.psmWait) return;
    for (let i = 0; i < SOCKETS; i++) if (this.socks[i]) return;
    this.idle = this.clock.after(ms, () => {
      this.idle = undefined;
      this.sleep();
    });
  }

  // ---- URCs and AT-layer state ------------------------------------------------------

  private qiurc(l: string): void {
    const f = fields(l);
    const id = parseInt(f[1], 10);
    if (f[0] === "pdpdeact") {
      this.setPdp(false);
      // The modem keeps each socket in "closing" until AT+QICLOSE; without it the id stays taken (563).
      for (let i = 0; i < SOCKETS; i++) {
        const s = this.socks[i];
        if (s) s.drop("pdp_lost");
      }
      return;
    }
    const s = id >= 0 && id < SOCKETS ? this.socks[id] : undefined;
    if (!s) return;
    if (f[0] === "recv") s.recv();
    else if (f[0] === "closed") {
      if (s.state === "opening") {
        const o = this.opening[id];
        if (o) o("sock_open_closed");
      } else s.remoteClosed();
    }
  }

  private qiopen(l: string): void {
    const f = fields(l);
    const id = parseInt(f[0], 10);
    const code = parseInt(f[1], 10);
    const o = this.opening[id];
    if (o && code >= 0) o(code === 0 ? undefined : "sock_open_" + code);
  }

  private cereg(l: string): void {
    const c = parseCereg(l);
    if (!c) return;
    const was = this.reg === 1 || this.reg === 5;
    this.reg = c.stat;
    if (c.act === 8) this.rat = "ltem";
    else if (c.act === 9) this.rat = "nbiot";
    const now = this.reg === 1 || this.reg === 5;
    if (now && !was) {
      if (this.sess) this.sess.reg = c.stat === 5 ? "roaming" : "home";
      this.note("registered", (c.stat === 5 ? "roaming " : "home ") + this.rat);
    }
    if (!now && was) this.emit("reg_lost", "stat_" + c.stat);
  }

  private atState(s: AtState, reason: string): void {
    if (s === "on" && reason === "probe") this.foundOn = true;
    if (s === "recovering" && reason === "hang") {
      this.lost("modem_hung");
      this.pw = "unknown";
      this.emit("hang", "no_reply");
    } else if (s === "recovering" && reason === "recover_failed") {
      this.emit("recover_failed", "no_boot");
    } else if (s === "on" && reason === "recovered") {
      this.pw = "up";
      this.emit("recovered", "power_cycle");
      this.touch();
    } else if (s === "on" && reason === "reboot") {
      this.lost("modem_reset");
      this.pw = "up";
      this.emit("reboot", "rdy");
      this.touch();
    }
  }

  private lost(reason: string): void {
    this.reg = 0;
    this.pdp = false;
    for (let i = 0; i < SOCKETS; i++) {
      const s = this.socks[i];
      if (!s) continue;
      const o = s.state === "opening" ? this.opening[i] : undefined;
      if (o) o(reason);
      s.end(reason);
    }
  }

  /** A routine step: a log line for people; the session's summary carries it to the owner. */
  private note(reason: string, detail: string): void {
    if (this.o.log) this.o.log("modem " + reason + " " + detail);
  }

  private emit(reason: string, detail: string, d?: { [key: string]: string | number | boolean }): void {
    const data: { [key: string]: string | number | boolean } = d || {};
    data.why = detail;
    if (this.o.events) this.o.events.emit("modem", reason, data);
    if (this.o.log) this.o.log("modem " + reason + " " + detail);
  }
}

function noop(): void {
  /* closing a socket that failed to open: nothing to report */
}

function simCode(r: AtReply): string | undefined {
  const f = r.lines.length ? fields(r.lines[0]) : [];
  if (f[0] === "READY") return undefined;
  if (!f.length) return "bad_reply";
  return f[0].indexOf("PIN") >= 0 || f[0].indexOf("PUK") >= 0 ? "sim_pin" : "sim_error";
}
