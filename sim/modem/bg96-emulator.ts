import * as net from "net";
import { Handle } from "../../hal";
import { VirtualClock } from "../clock";
import { ModemPeer, SimModemWire } from "../hw/modem";

/**
 * A Quectel BG96 on the far end of SimModemWire, speaking the AT dialect of
 * the BG96 AT Commands Manual and TCP/IP Application Note (buffer access
 * mode) with delays on the virtual clock, its TCP sockets bridged to real
 * Node sockets.
 *
 * Real I/O happens in real time while the firmware runs on virtual time:
 * every real socket event (connected, data, closed) is queued onto the
 * virtual clock with after(0), so it reaches the firmware on the next
 * advance(). Tests drive both with runUntil() below, or await io() (no real
 * connect/write/close outstanding) and then advance the clock.
 *
 * Faults: coverage ("none" = searching, "denied"), dropSocket (remote peer
 * gone: +QIURC "closed"), slow(ms) extra reply latency, garble(n) corrupts
 * the next n replies, hang() stops answering until power-cycled through the
 * power key, reboot() restarts it spontaneously, sim(false) removes the SIM.
 *
 * Power: AT+CPSMS (requested periodic TAU T3412 and active time T3324) and
 * AT+CEDRXS (requested eDRX cycle, LTE-M value table of 3GPP TS 24.008
 * 10.5.5.32) are honoured. The radio side keeps an RRC state: any data
 * (attach, PDP activation, a socket opened, sent or received) makes it
 * "connected" until the network's inactivity timer (rrcInactivityMs) releases
 * it; only then does T3324 run towards PSM. Data for the box that arrives
 * while the radio is idle waits for the next paging occasion (the DRX or
 * eDRX cycle). In PSM the modem wakes by itself for each periodic TAU
 * (counted in taus). radio() reports all this for the energy model.
 */

export type Coverage = "home" | "roaming" | "none" | "denied";

/**
 * What the TCP bridge needs of a socket: net.Socket's events (connect,
 * data, error, close) and calls. The default is a real net.Socket; a soak
 * passes an in-process network so that it runs deterministically.
 */
export interface BridgeSocket {
  on(event: "connect" | "close" | "error", cb: () => void): unknown;
  on(event: "data", cb: (b: Buffer) => void): unknown;
  once(event: "close", cb: () => void): unknown;
  connect(port: number, host: string): unknown;
  write(data: Buffer, cb: () => void): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
}

export interface Bg96Delays {
  /** Reply latency of an ordinary command. */
  cmd: number;
  /** Power-key release to "RDY". */
  boot: number;
  /** "RDY" to "APP RDY". */
  app: number;
  /** "APP RDY" to registered (network search and attach). */
  register: number;
  /** AT+QIACT=1 to OK. */
  pdp: number;
  /** Virtual latency added to a real TCP connect. */
  open: number;
  /** Data written after the prompt to "SEND OK". */
  send: number;
  /** AT+QPOWD or power-key off to "POWERED DOWN". */
  down: number;
  /** Power-key pulse in PSM to "RDY". */
  wake: number;
}

export interface Bg96EmulatorOptions {
  wire: SimModemWire;
  clock: VirtualClock;
  coverage?: Coverage;
  rat?: "ltem" | "nbiot";
  /** AT+CSQ <rssi> 0..31 (default 20, i.e. -73 dBm). */
  rssi?: number;
  /** What the network reports as the time, in Unix seconds (default 2026-01-01 plus virtual time). */
  networkTime?: () => number;
  /** Whether the network grants PSM when asked (default true). */
  psmGranted?: boolean;
  /** Hosts the bridge may reach (default: loopback only). */
  allowHost?: (host: string) => boolean;
  delays?: Partial<Bg96Delays>;
  /** Split every reply into chunks of at most this many bytes (default: whole). */
  chunk?: number;
  seed?: number;
  /** Line-level trace of both directions, for people. */
  trace?: (dir: "<" | ">", text: string) => void;
  /** Makes the sockets the bridge opens (default: real TCP). */
  socket?: () => BridgeSocket;
  /** The network releases the RRC connection after this long without data (default 10 s, an estimate of common network settings). */
  rrcInactivityMs?: number;
  /** Idle-mode paging cycle without eDRX (default 1.28 s, the usual LTE default DRX). */
  drxMs?: number;
}

/** What the radio is doing, for the energy model. */
export interface RadioState {
  power: "off" | "booting" | "on" | "psm";
  /** Registered (home or roaming). */
  registered: boolean;
  /** RRC connected (data moving or the inactivity timer running). */
  connected: boolean;
  /** eDRX cycle in ms while idle (0: plain DRX). */
  edrxMs: number;
  /** Requested PSM active time in seconds, when PSM is set. */
  psmActiveS: number | undefined;
}

/** eDRX cycle lengths in seconds for WB-S1 (LTE-M) by the 4-bit value of 3GPP TS 24.008 table 10.5.5.32. */
export const EDRX_WBS1_S = [5.12, 10.24, 20.48, 40.96, 61.44, 81.92, 102.4, 122.88, 143.36, 163.84, 327.68, 655.36, 1310.72, 2621.44, 5242.88, 10485.76];

type Power = "off" | "booting" | "on" | "psm";

interface Sock {
  id: number;
  s: BridgeSocket;
  state: "opening" | "open" | "closing";
  rx: string;
  told: boolean;
}

const DEFAULT_DELAYS: Bg96Delays = { cmd: 20, boot: 4800, app: 1500, register: 4000, pdp: 600, open: 80, send: 40, down: 1500, wake: 1000 };
const MAX_SEND = 1460;
const MAX_READ = 1500;

function two(n: number): string {
  return (n < 10 ? "0" : "") + n;
}

/** Decodes a 3GPP TS 24.008 GPRS Timer 2/3 string ("00100001") to seconds; undefined when deactivated. */
export function gprsTimer(bits: string, t3412: boolean): number | undefined {
  if (!/^[01]{8}$/.test(bits)) return undefined;
  const unit = parseInt(bits.substr(0, 3), 2);
  const v = parseInt(bits.substr(3), 2);
  const units = t3412 ? [600, 3600, 36000, 2, 30, 60, 1152000, -1] : [2, 60, 360, -1, -1, -1, -1, -1];
  const u = units[unit];
  return u < 0 ? undefined : u * v;
}

export class Bg96Emulator implements ModemPeer {
  readonly delays: Bg96Delays;
  /** Counts for tests: power-on boots, commands seen, garbled replies sent. */
  boots = 0;
  commands: string[] = [];
  power: Power = "off";
  hung = false;
  psmEntered = 0;
  /** Periodic tracking area updates done while in PSM. */
  taus = 0;
  /** Bytes carried over the air, both directions, and the number of separate transfers. */
  airBytes = 0;
  transfers = 0;
  /** The eDRX cycle requested with AT+CEDRXS (0 = off). */
  edrxMs = 0;
  private rrc = false;
  private sockets: (() => BridgeSocket) | undefined;
  private rrcTimer: Handle | undefined;
  private tauTimer: Handle | undefined;
  private readonly o: Bg96EmulatorOptions;
  private coverage: Coverage;
  private reg = 0;
  private cereg = 0;
  private echo = true;
  private pdp = false;
  private simIn = true;
  private psm: { tau: number; active: number } | undefined;
  private psmUrc = false;
  private psmTimer: Handle | undefined;
  private socks: Array<Sock | undefined> = [];
  private line = "";
  private sending: { id: number; left: number; data: string } | undefined;
  private keyAt = -1;
  private epoch = 0;
  private outAt = 0;
  private extra = 0;
  private garbles = 0;
  private rng: number;
  private pendingReal = 0;
  private timers: Handle[] = [];

  constructor(options: Bg96EmulatorOptions) {
    this.o = options;
    this.delays = Object.assign({}, DEFAULT_DELAYS, options.delays || {});
    this.coverage = options.coverage === undefined ? "home" : options.coverage;
    this.rng = (options.seed === undefined ? 12345 : options.seed) >>> 0 || 1;
    options.wire.attach(this);
  }

  // ---- control handles -------------------------------------------------------------

  /** Changes the radio situation; losing service drops the PDP context and every socket. */
  setCoverage(c: Coverage): void {
    this.coverage = c;
    if (this.power !== "on") return;
    if (c === "home" || c === "roaming") {
      if (this.reg !== 1 && this.reg !== 5) this.later(this.delays.register, () => this.setReg(c === "home" ? 1 : 5));
      return;
    }
    const wasUp = this.pdp;
    this.pdp = false;
    this.setReg(c === "denied" ? 3 : 2);
    if (wasUp) this.out('+QIURC: "pdpdeact",1', 0);
    for (let i = 0; i < this.socks.length; i++) this.remoteClosed(i);
  }

  /** The far end (or the network) drops socket id: +QIURC: "closed". */
  dropSocket(id: number): void {
    const k = this.socks[id];
    if (!k || k.state === "closing") return;
    this.destroy(k);
    this.remoteClosed(id);
  }

  /** Every reply from now on arrives ms later than usual. */
  slow(ms: number): void {
    this.extra = Math.max(0, ms);
  }

  /** Corrupts the next n replies. */
  garble(n: number): void {
    this.garbles = n;
  }

  /** The modem's firmware locks up: no answers, no URCs, until a power-key power cycle. */
  hang(): void {
    this.hung = true;
    this.epoch++;
  }

  /** A spontaneous restart (brown-out): sockets and PDP context gone, "RDY" again. */
  reboot(): void {
    this.shutdown();
    this.startBoot(this.delays.boot);
  }

  /**
   * The supply disappears (SimBox power cut): off at once, no last words,
   * sockets, PDP context, registration, a half-typed command and a held
   * power key all gone; what the BG96 keeps in NVRAM (the PSM request)
   * stays. Only a power-key pulse brings it back, as at any power-on.
   */
  powerLoss(): void {
    this.shutdown();
    this.power = "off";
    this.outAt = 0;
    this.keyAt = -1;
    this.reg = 0;
    this.cereg = 0;
    this.pdp = false;
    this.echo = true;
    this.psmUrc = false;
    this.socks = [];
  }

  /** Bridges TCP connections to sockets from factory instead of real ones (the energy run's broker on virtual time). */
  useSockets(factory: () => BridgeSocket): void {
    this.sockets = factory;
  }

  /** Inserts or removes the SIM. */
  sim(present: boolean): void {
    this.simIn = present;
  }

  /** Open sockets by id, for tests. */
  socketIds(): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.socks.length; i++) if (this.socks[i]) ids.push(i);
    return ids;
  }

  /** What the radio is doing now (for the energy model). */
  radio(): RadioState {
    return { power: this.power, registered: this.registered(), connected: this.power === "on" && this.rrc, edrxMs: this.edrxMs, psmActiveS: this.psm ? this.psm.active : undefined };
  }

  /** Resolves when no real connect, write or close is outstanding (bounded by timeoutMs of real time). */
  io(timeoutMs = 2000): Promise<void> {
    return waitReal(() => this.pendingReal === 0, timeoutMs);
  }

  /** Detaches from the wire and closes every real socket. */
  close(): void {
    this.shutdown();
    this.power = "off";
    this.o.wire.attach(undefined);
  }

  // ---- the wires ---------------------------------------------------------------

  powerKey(asserted: boolean): void {
    const now = this.o.clock.monotonic();
    if (asserted) {
      this.keyAt = now;
      return;
    }
    if (this.keyAt < 0) return;
    const held = now - this.keyAt;
    this.keyAt = -1;
    if (this.power === "off" && held >= 500) {
      this.startBoot(this.delays.boot);
    } else if (this.power === "psm" && held >= 500) {
      this.power = "booting";
      this.later(this.delays.wake, () => {
        this.power = "on";
        this.out("RDY", 0);
        // Still registered, unless the network went away while it slept: then it searches.
        const c = this.coverage;
        const e = this.epoch;
        if (this.registered() && c !== "home" && c !== "roaming") {
          this.pdp = false;
          this.setReg(c === "denied" ? 3 : 2);
        } else if (!this.registered() && (c === "home" || c === "roaming"))
          this.later(this.delays.register, () => {
            if (e === this.epoch && this.coverage === c) this.setReg(c === "home" ? 1 : 5);
          });
        this.armPsm();
      });
    } else if (this.power === "on" && held >= 650) {
      const silent = this.hung;
      this.shutdown();
      this.power = "booting";
      this.later(this.delays.down, () => {
        if (!silent) this.outNow("POWERED DOWN");
        this.power = "off";
      });
    }
  }

  received(data: string): void {
    if (this.power !== "on" || this.hung) return;
    this.touch();
    let i = 0;
    while (i < data.length) {
      const s = this.sending;
      if (s) {
        const take = Math.min(s.left, data.length - i);
        s.data += data.substr(i, take);
        s.left -= take;
        i += take;
        if (s.left === 0) {
          this.sending = undefined;
          this.deliver(s.id, s.data);
        }
        continue;
      }
      const c = data.charAt(i++);
      if (c === "\r") {
        const l = this.line;
        this.line = "";
        if (this.o.trace) this.o.trace(">", l);
        if (this.echo) this.out(l, 0, true);
        if (l.length) this.command(l);
      } else if (c !== "\n") {
        this.line += c;
        if (this.line.length > 2048) this.line = "";
      }
    }
  }

  // ---- commands ----------------------------------------------------------------

  private command(l: string): void {
    this.commands.push(l);
    const up = l.toUpperCase();
    if (up.substr(0, 2) !== "AT") return this.out("ERROR");
    const c = up.substr(2);
    const arg = l.substr(2);
    let m: RegExpExecArray | null;
    if (c === "") return this.out("OK");
    if (c === "E0" || c === "E1") {
      this.echo = c === "E1";
      return this.out("OK");
    }
    if (c === "I") return this.out("Quectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK");
    if ((m = /^\+CMEE=([012])$/.exec(c))) return this.out("OK");
    if (c === "+CFUN?") return this.out("+CFUN: 1\r\n\r\nOK");
    if (c === "+CPIN?") return this.out(this.simIn ? "+CPIN: READY\r\n\r\nOK" : "+CME ERROR: 10");
    if ((m = /^\+C(E?)REG=([012])$/.exec(c))) {
      if (m[1]) this.cereg = parseInt(m[2], 10);
      return this.out("OK");
    }
    if (c === "+CEREG?") return this.out("+CEREG: " + this.cereg + "," + this.regText(this.cereg) + "\r\n\r\nOK");
    if (c === "+CREG?") return this.out("+CREG: 0," + this.reg + "\r\n\r\nOK");
    if (c === "+CSQ") return this.out("+CSQ: " + (this.registered() ? this.rssi() : 99) + ",99\r\n\r\nOK");
    if (c === "+QCSQ") {
      if (!this.registered()) return this.out('+QCSQ: "NOSERVICE"\r\n\r\nOK');
      const dbm = -113 + 2 * this.rssi();
      return this.out('+QCSQ: "' + this.ratName() + '",' + dbm + "," + (dbm - 20) + ",120," + -10 + "\r\n\r\nOK");
    }
    if (c === "+QNWINFO") {
      if (!this.registered()) return this.out('+QNWINFO: No Service\r\n\r\nOK');
      return this.out('+QNWINFO: "' + this.ratName() + '","26201","LTE BAND 20",6300\r\n\r\nOK');
    }
    if (c.indexOf("+QCFG=") === 0) {
      if (/^\+QCFG="PSM\/URC",1$/.test(c)) this.psmUrc = true;
      return this.out("OK");
    }
    if ((m = /^\+QICSGP=1,1,"[^"]*","[^"]*","[^"]*",[0-3]$/.exec(c))) return this.out("OK");
    if (c === "+QIACT?") return this.out((this.pdp ? '+QIACT: 1,1,1,"10.64.0.2"\r\n\r\n' : "") + "OK");
    if (c === "+QIACT=1") {
      if (!this.registered()) return this.out("ERROR", this.delays.pdp);
      this.pdp = true;
      this.air(0);
      return this.out("OK", this.delays.pdp);
    }
    if (c === "+QIDEACT=1") {
      this.pdp = false;
      for (let i = 0; i < this.socks.length; i++) this.closeSock(i);
      return this.out("OK", this.delays.pdp);
    }
    if ((m = /^\+QIOPEN=1,(\d+),"TCP","([^"]+)",(\d+)(,\d+)?(,[012])?$/i.exec(arg))) return this.open(parseInt(m[1], 10), m[2], parseInt(m[3], 10));
    if ((m = /^\+QISEND=(\d+),(\d+)$/.exec(c))) return this.send(parseInt(m[1], 10), parseInt(m[2], 10));
    if ((m = /^\+QIRD=(\d+)(,(\d+))?$/.exec(c))) return this.read(parseInt(m[1], 10), m[3] === undefined ? MAX_READ : parseInt(m[3], 10));
    if ((m = /^\+QICLOSE=(\d+)(,\d+)?$/.exec(c))) {
      const id = parseInt(m[1], 10);
      if (id > 11) return this.out("ERROR");
      this.closeSock(id);
      return this.out("OK");
    }
    if (c === "+QPOWD" || (m = /^\+QPOWD=([01])$/.exec(c))) {
      if (c !== "+QPOWD=0") this.out("OK");
      this.shutdownSockets();
      this.power = "booting";
      this.later(this.delays.down, () => {
        this.outNow("POWERED DOWN");
        this.shutdown();
        this.power = "off";
      });
      return;
    }
    if (c === "+CCLK?") {
      if (!this.registered()) return this.out('+CCLK: "80/01/06,00:00:11+00"\r\n\r\nOK');
      return this.out('+CCLK: "' + this.timeText(false) + '"\r\n\r\nOK');
    }
    if ((m = /^\+QLTS(=([012]))?$/.exec(c))) {
      if (!this.registered()) return this.out('+QLTS: ""\r\n\r\nOK');
      return this.out('+QLTS: "' + this.timeText(true) + '"\r\n\r\nOK');
    }
    if (c === "+CPSMS=0") {
      this.psm = undefined;
      this.armPsm();
      return this.out("OK");
    }
    if ((m = /^\+CPSMS=1,,,"([01]{8})","([01]{8})"$/.exec(c))) {
      const tau = gprsTimer(m[1], true);
      const act = gprsTimer(m[2], false);
      if (tau === undefined || act === undefined) return this.out("+CME ERROR: 50");
      this.psm = { tau: tau, active: act };
      this.armPsm();
      return this.out("OK");
    }
    if ((m = /^\+CEDRXS=([0-3])(,([45]))?(,"([01]{4})")?$/.exec(c))) {
      const mode = parseInt(m[1], 10);
      if (mode === 0 || mode === 3) this.edrxMs = 0;
      else if (m[5] !== undefined) this.edrxMs = Math.round(EDRX_WBS1_S[parseInt(m[5], 2)] * 1000);
      return this.out("OK");
    }
    if (c === "+CEDRXS?") return this.out("+CEDRXS: " + (this.edrxMs ? '4,"' + edrxBits(this.edrxMs) + '"' : "") + "\r\n\r\nOK");
    if (c === "+CPSMS?") return this.out("+CPSMS: " + (this.psm ? 1 : 0) + "\r\n\r\nOK");
    this.out("ERROR");
  }

  private open(id: number, host: string, port: number): void {
    if (id > 11 || port < 1 || port > 65535) return this.out("ERROR");
    this.out("OK");
    if (this.socks[id]) return this.out("+QIOPEN: " + id + ",563", this.delays.open);
    if (!this.pdp) return this.out("+QIOPEN: " + id + ",561", this.delays.open);
    const allow = this.o.allowHost || ((h: string) => h === "localhost" || /^127\./.test(h) || h === "::1");
    if (!allow(host)) return this.out("+QIOPEN: " + id + ",565", this.delays.open);
    const make = this.sockets || this.o.socket;
    const s: BridgeSocket = make ? make() : new net.Socket();
    this.air(0);
    const k: Sock = { id: id, s: s, state: "opening", rx: "", told: false };
    this.socks[id] = k;
    this.pendingReal++;
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        this.pendingReal--;
      }
    };
    s.on("connect", () => {
      settle();
      this.o.clock.after(0, () => {
        if (this.socks[id] !== k) return;
        k.state = "open";
        this.out("+QIOPEN: " + id + ",0", this.delays.open);
      });
    });
    s.on("data", (b: Buffer) => {
      const text = b.toString("latin1");
      this.o.clock.after(0, () => this.arrive(k, text));
    });
    s.on("error", () => {
      /* reported through close */
    });
    s.on("close", () => {
      const wasOpening = !settled;
      settle();
      this.o.clock.after(0, () => {
        if (this.socks[id] !== k) return;
        if (wasOpening || k.state === "opening") {
          this.socks[id] = undefined;
          this.out("+QIOPEN: " + id + ",566", this.delays.open);
        } else if (k.state === "open") {
          this.remoteClosed(id);
        }
      });
    });
    s.connect(port, host);
  }

  private send(id: number, len: number): void {
    const k = this.socks[id];
    if (!k || k.state !== "open" || len < 1 || len > MAX_SEND) return this.out("ERROR");
    this.out("> ", 0, false, true);
    this.sending = { id: id, left: len, data: "" };
  }

  private deliver(id: number, data: string): void {
    const k = this.socks[id];
    if (!k || k.state !== "open") return this.out("SEND FAIL", this.delays.send);
    this.pendingReal++;
    this.air(data.length);
    k.s.write(Buffer.from(data, "latin1"), () => this.pendingReal--);
    this.out("SEND OK", this.delays.send);
  }

  private read(id: number, max: number): void {
    const k = this.socks[id];
    if (!k || id > 11) return this.out("ERROR");
    if (max === 0) return this.out("+QIRD: 0,0," + k.rx.length + "\r\n\r\nOK");
    const n = Math.min(max, MAX_READ, k.rx.length);
    const data = k.rx.substr(0, n);
    k.rx = k.rx.substr(n);
    if (!k.rx.length) k.told = false;
    this.out("+QIRD: " + n + "\r\n" + data + (n ? "\r\n" : "") + "\r\nOK");
  }

  private arrive(k: Sock, text: string): void {
    if (this.socks[k.id] !== k) return;
    // Idle: the network pages the modem at its next paging occasion, then the data flows.
    const wait = this.pagingDelay();
    if (wait > 0) {
      this.later(wait, () => this.arrive(k, text));
      return;
    }
    this.air(text.length);
    k.rx += text;
    this.touch();
    if (!k.told) {
      k.told = true;
      this.out('+QIURC: "recv",' + k.id, 0);
    }
  }

  private remoteClosed(id: number): void {
    const k = this.socks[id];
    if (!k || k.state === "closing") return;
    const wasOpening = k.state === "opening";
    k.state = "closing";
    this.destroy(k);
    if (wasOpening) {
      this.socks[id] = undefined;
      this.out("+QIOPEN: " + id + ",566", 0);
    } else this.out('+QIURC: "closed",' + id, 0);
  }

  private closeSock(id: number): void {
    const k = this.socks[id];
    if (!k) return;
    this.socks[id] = undefined;
    this.destroy(k);
  }

  private destroy(k: Sock): void {
    if (k.s.destroyed) return;
    this.pendingReal++;
    k.s.once("close", () => this.pendingReal--);
    k.s.destroy();
  }

  // ---- power, registration, PSM ---------------------------------------------------

  private startBoot(delay: number): void {
    this.power = "booting";
    this.hung = false;
    this.echo = true;
    this.cereg = 0;
    this.reg = 0;
    this.pdp = false;
    this.psmUrc = false;
    const e = ++this.epoch;
    this.later(delay, () => {
      if (e !== this.epoch) return;
      this.boots++;
      this.power = "on";
      this.outAt = 0;
      this.out("RDY", 0);
      this.later(this.delays.app, () => {
        if (e !== this.epoch) return;
        this.out("+CFUN: 1\r\n\r\n+CPIN: " + (this.simIn ? "READY" : "NOT INSERTED") + "\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n\r\nAPP RDY", 0);
        if (!this.simIn) return;
        this.setReg(2);
        this.later(this.delays.register, () => {
          if (e !== this.epoch) return;
          const c = this.coverage;
          this.setReg(c === "home" ? 1 : c === "roaming" ? 5 : c === "denied" ? 3 : 2);
        });
      });
    });
  }

  private shutdown(): void {
    this.epoch++;
    this.shutdownSockets();
    this.sending = undefined;
    this.line = "";
    this.hung = false;
    if (this.psmTimer) this.psmTimer.cancel();
    this.stopRadio();
    for (let i = 0; i < this.timers.length; i++) this.timers[i].cancel();
    this.timers = [];
  }

  private shutdownSockets(): void {
    for (let i = 0; i < this.socks.length; i++) this.closeSock(i);
  }

  private setReg(stat: number): void {
    if (stat === this.reg) return;
    this.reg = stat;
    if (this.registered()) this.air(0);
    if (this.cereg > 0) this.out("+CEREG: " + this.regText(this.cereg), 0);
    this.armPsm();
  }

  private registered(): boolean {
    return this.reg === 1 || this.reg === 5;
  }

  private regText(n: number): string {
    const head = "" + this.reg;
    if (n < 2 || !this.registered()) return head;
    return head + ',"1A2B","01A2D001",' + (this.o.rat === "nbiot" ? 9 : 8);
  }

  private ratName(): string {
    return this.o.rat === "nbiot" ? "CAT-NB1" : "CAT-M1";
  }

  private rssi(): number {
    return this.o.rssi === undefined ? 20 : this.o.rssi;
  }

  private timeText(gmtWithYear4: boolean): string {
    const t = this.o.networkTime ? this.o.networkTime() : 1767225600 + this.o.clock.monotonic() / 1000;
    const d = new Date(Math.floor(t) * 1000);
    const date = (gmtWithYear4 ? d.getUTCFullYear() : two(d.getUTCFullYear() % 100)) + "/" + two(d.getUTCMonth() + 1) + "/" + two(d.getUTCDate());
    const time = two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds());
    return date + "," + time + "+00" + (gmtWithYear4 ? ",0" : "");
  }

  /** Any activity restarts the PSM active timer (T3324); open sockets keep the modem awake. */
  private touch(): void {
    this.armPsm();
  }

  private armPsm(): void {
    if (this.psmTimer) this.psmTimer.cancel();
    this.psmTimer = undefined;
    const p = this.psm;
    if (!p || this.power !== "on" || !this.registered() || this.o.psmGranted === false || this.rrc) return;
    this.psmTimer = this.o.clock.after(p.active * 1000, () => {
      this.psmTimer = undefined;
      if (this.power !== "on" || this.hung || this.socketIds().length || this.sending) return;
      if (this.psmUrc) this.outNow("PSM POWER DOWN");
      this.psmEntered++;
      this.epoch++;
      this.power = "psm";
      this.scheduleTau(p.tau);
    });
  }

  /** In PSM the modem wakes by itself every T3412 for a periodic TAU, unseen by the MCU. */
  private scheduleTau(tauS: number): void {
    if (this.tauTimer) this.tauTimer.cancel();
    this.tauTimer = this.o.clock.after(tauS * 1000, () => {
      this.tauTimer = undefined;
      if (this.power !== "psm") return;
      this.taus++;
      this.scheduleTau(tauS);
    });
  }

  /** Data on the air: the RRC connection is (re)established and held until the inactivity timer runs out. */
  private air(bytes: number): void {
    this.airBytes += bytes;
    this.transfers++;
    this.rrc = true;
    if (this.psmTimer) this.psmTimer.cancel();
    this.psmTimer = undefined;
    if (this.rrcTimer) this.rrcTimer.cancel();
    const ms = this.o.rrcInactivityMs === undefined ? 10000 : this.o.rrcInactivityMs;
    this.rrcTimer = this.o.clock.after(ms, () => {
      this.rrcTimer = undefined;
      this.rrc = false;
      this.armPsm();
    });
  }

  private stopRadio(): void {
    this.rrc = false;
    if (this.rrcTimer) this.rrcTimer.cancel();
    this.rrcTimer = undefined;
    if (this.tauTimer) this.tauTimer.cancel();
    this.tauTimer = undefined;
  }

  /** Time until the next paging occasion when the radio is idle; 0 when connected. */
  private pagingDelay(): number {
    if (this.rrc || this.power !== "on") return 0;
    const cycle = this.edrxMs || (this.o.drxMs === undefined ? 1280 : this.o.drxMs);
    const into = this.o.clock.monotonic() % cycle;
    return into === 0 ? 0 : cycle - into;
  }

  // ---- output --------------------------------------------------------------------

  private later(ms: number, fn: () => void): void {
    const h = this.o.clock.after(ms, () => {
      this.timers = this.timers.filter((t) => t !== h);
      fn();
    });
    this.timers.push(h);
  }

  private random(): number {
    let x = this.rng;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 4294967296;
  }

  private outNow(text: string): void {
    this.emit("\r\n" + text + "\r\n");
  }

  /** Sends a reply framed as the BG96 frames it, in order, after delay (plus any injected slowness). */
  private out(text: string, delay?: number, isEcho = false, bare = false): void {
    const e = this.epoch;
    let framed = isEcho ? text + "\r" : bare ? "\r\n" + text : "\r\n" + text + "\r\n";
    if (!isEcho && this.garbles > 0) {
      this.garbles--;
      framed = this.corrupt(framed);
    }
    const now = this.o.clock.monotonic();
    const at = Math.max(now + (delay === undefined ? this.delays.cmd : delay) + this.extra, this.outAt);
    this.outAt = at;
    this.o.clock.after(at - now, () => {
      if (e !== this.epoch || this.hung) return;
      this.emit(framed);
    });
  }

  private corrupt(s: string): string {
    const junk = String.fromCharCode(0xff, 0x00, 0x1b) + "#" + String.fromCharCode(0x80 + Math.floor(this.random() * 0x7f));
    const cut = 2 + Math.floor(this.random() * Math.max(1, s.length - 4));
    return s.substr(0, cut) + junk + s.substr(cut + 1);
  }

  private emit(framed: string): void {
    if (this.o.trace) this.o.trace("<", framed);
    const max = this.o.chunk;
    if (!max || max >= framed.length) return this.o.wire.feed(framed);
    let i = 0;
    while (i < framed.length) {
      const n = 1 + Math.floor(this.random() * max);
      this.o.wire.feed(framed.substr(i, n));
      i += n;
    }
  }
}

/** The 4-bit AT+CEDRXS value of an LTE-M eDRX cycle in ms. */
function edrxBits(ms: number): string {
  let best = 0;
  for (let i = 0; i < EDRX_WBS1_S.length; i++) if (Math.abs(EDRX_WBS1_S[i] * 1000 - ms) < Math.abs(EDRX_WBS1_S[best] * 1000 - ms)) best = i;
  let b = best.toString(2);
  while (b.length < 4) b = "0" + b;
  return b;
}

/** Resolves when cond() holds, polling in real time; rejects after timeoutMs. */
export function waitReal(cond: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + timeoutMs;
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() > end) return reject(new Error("waitReal: timed out"));
      setTimeout(poll, 2);
    };
    poll();
  });
}

/**
 * Advances the virtual clock in steps, letting real socket I/O happen in
 * between, until cond() holds. Throws when maxVirtualMs of virtual time or
 * realTimeoutMs of real time pass first.
 */
export async function runUntil(
  clock: VirtualClock,
  cond: () => boolean,
  options: { stepMs?: number; maxVirtualMs?: number; realTimeoutMs?: number } = {},
): Promise<void> {
  const step = options.stepMs === undefined ? 50 : options.stepMs;
  const maxV = options.maxVirtualMs === undefined ? 600000 : options.maxVirtualMs;
  const end = Date.now() + (options.realTimeoutMs === undefined ? 10000 : options.realTimeoutMs);
  const start = clock.monotonic();
  while (!cond()) {
    if (clock.monotonic() - start > maxV) throw new Error("runUntil: virtual time limit");
    if (Date.now() > end) throw new Error("runUntil: real time limit");
    clock.advance(step);
    await new Promise((r) => setImmediate(r));
  }
}
