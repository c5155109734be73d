import { Clock, Handle, Modem } from "../../hal";

/**
 * The AT command layer over the modem's UART and power key.
 *
 * Byte format (3GPP TS 27.007 / V.250 as the BG96 speaks it): the host sends
 * "AT...\r"; the modem answers with lines framed by CR LF ("\r\nOK\r\n"). A
 * reply is zero or more information lines ("+CSQ: 20,99") ended by one final
 * result: OK, ERROR, "+CME ERROR: <n>", "+CMS ERROR: <n>" or a
 * command-specific final such as "SEND OK". Unsolicited result codes (URCs,
 * "+QIURC: ...", "RDY") may arrive at any time, even between the lines of a
 * reply. Two exceptions break the line framing: the send prompt, the bytes
 * "> " with no line end, after which the host writes raw payload; and raw
 * payload announced by an information line ("+QIRD: <n>\r\n" then exactly n
 * bytes, any values, CR and LF included). Lines end with CR, LF or CR LF;
 * leading and trailing spaces are insignificant; empty lines are dropped.
 * Strings are binary: one char per byte.
 *
 * Contract: one command in flight, the rest queued (bounded). Every command's
 * callback runs exactly once and never synchronously, with undefined or one
 * of the error codes below. A modem that misses `hangAfter` commands in a row
 * is declared hung and power-cycled through its power key, with back-off.
 *
 * Errors: at_error (ERROR), cme_<n> / cms_<n> (numeric +CME/+CMS ERROR),
 * cme_text (non-numeric), at_timeout (no final result in time), at_busy
 * (queue full), at_off (modem known to be off or asleep), at_hung (dropped
 * because the modem was declared hung), at_reboot (the modem rebooted by
 * itself mid-command), at_bad_raw (raw payload length unusable), at_closed.
 */

/** What a command got back: information lines, the final result, raw payload. */
export interface AtReply {
  lines: string[];
  final: string;
  payload: string;
}

export type AtCallback = (err: string | undefined, reply: AtReply) => void;

export interface AtCommandOptions {
  /** Ms to wait for the final result (default 2000; the manual's maximum response time). */
  timeoutMs?: number;
  /** Payload written after the "> " prompt (AT+QISEND). */
  data?: string;
  /** Information-line prefix announcing raw payload of the length that follows it ("+QIRD:"). */
  raw?: string;
  /** Information-line prefix that belongs to this command even when a URC handler claims it. */
  expect?: string;
  /** Extra final results that end the command without error ("SEND OK", "SEND FAIL"). */
  finals?: string[];
}

export type AtState = "off" | "booting" | "on" | "recovering" | "closed";

export interface AtOptions {
  modem: Modem;
  clock: Clock;
  /** Commands missed in a row that mean the modem hung (default 3). */
  hangAfter?: number;
  /** Power-key pulse length: the BG96 turns on after >= 500 ms and off after >= 650 ms (default 800). */
  pulseMs?: number;
  /** How long to wait for the boot URC after a pulse (default 15000; BG96 typically 5-10 s). */
  bootMs?: number;
  /** Line the modem prints when its UART is ready after power-on (default "RDY"). */
  readyLine?: string;
  /** Line the modem prints as its last word before power-off (default "POWERED DOWN"). */
  downLine?: string;
  /**
   * After a timeout, the next command waits until the UART has been quiet
   * this long (default 1000), so a late reply is not taken for the next
   * command's. A reply later than that still can be: AT has no request ids.
   */
  settleMs?: number;
  /** First and largest delay between power-cycle attempts of a hung modem (default 5 s, 10 min). */
  backoffMs?: number;
  backoffMaxMs?: number;
  /** Queue bound (default 16). */
  maxQueue?: number;
  /** State changes, with a reason code (hang, recovered, recover_failed, reboot, boot, probe, off). */
  onState?: (state: AtState, reason: string) => void;
}

interface Cmd {
  text: string;
  o: AtCommandOptions;
  cb: AtCallback;
  lines: string[];
  payload: string;
  prompted: boolean;
  timer: Handle | undefined;
}

interface Waiter {
  lines: string[];
  cb: (line: string | undefined) => void;
  timer: Handle;
}

interface Urc {
  prefix: string;
  cb: (line: string) => void;
}

const MAX_LINE = 1024;
const MAX_RAW = 4096;

function numberAfter(line: string, prefix: string): number {
  const m = /^\s*(\d+)/.exec(line.substr(prefix.length));
  return m ? parseInt(m[1], 10) : -1;
}

/** Maps a final result line to an error code: "" for success, undefined when it is not a final. */
export function finalCode(line: string, extra: string[] | undefined): string | undefined {
  if (line === "OK") return "";
  if (line === "ERROR") return "at_error";
  if (line.indexOf("+CME ERROR:") === 0 || line.indexOf("+CMS ERROR:") === 0) {
    const n = numberAfter(line, "+CME ERROR:");
    if (n < 0) return "cme_text";
    return (line.charAt(2) === "M" && line.charAt(3) === "S" ? "cms_" : "cme_") + n;
  }
  if (extra) for (let i = 0; i < extra.length; i++) if (line === extra[i]) return "";
  return undefined;
}

export class At {
  private readonly o: AtOptions;
  private readonly data: Handle;
  private st: AtState = "off";
  private queue: Cmd[] = [];
  private cur: Cmd | undefined;
  private buf = "";
  private skipLf = false;
  private rawLeft = 0;
  private urcs: Urc[] = [];
  private waiters: Waiter[] = [];
  private missed = 0;
  private pausedUntil = 0;
  private pump: Handle | undefined;
  private backoff = 0;
  private recoverTimer: Handle | undefined;
  private healing = false;
  /** Lines nobody wanted (stray finals, unknown unsolicited lines, overlong lines): for diagnostics. */
  stray = 0;

  constructor(options: AtOptions) {
    if (!options || !options.modem || !options.clock) throw new Error("at_options");
    this.o = options;
    this.data = options.modem.onData((chunk) => this.feed(chunk));
  }

  state(): AtState {
    return this.st;
  }

  private isClosed(): boolean {
    return this.st === "closed";
  }

  /**
   * Queues a command (without its trailing CR). cb runs once, never
   * synchronously. Fails fast with at_off while the modem is off or asleep
   * and with at_hung while it is being power-cycled.
   */
  cmd(text: string, options: AtCommandOptions | undefined, cb: AtCallback): void {
    const st = this.st;
    const refuse = st === "closed" ? "at_closed" : st === "recovering" || this.healing ? "at_hung" : st === "off" || st === "booting" ? "at_off" : this.queue.length >= this.limit() ? "at_busy" : "";
    if (refuse) {
      this.later(cb, refuse, emptyReply());
      return;
    }
    this.enqueue(text, options, cb);
  }

  /** Routes every line starting with prefix, whenever it arrives, to cb. Several handlers may share a prefix. */
  on(prefix: string, cb: (line: string) => void): Handle {
    const u: Urc = { prefix: prefix, cb: cb };
    this.urcs.push(u);
    return {
      cancel: () => {
        this.urcs = this.urcs.filter((x) => x !== u);
      },
    };
  }

  /** Holds the power key for pulseMs, then calls cb (never synchronously). After close() it only calls back. */
  pulse(cb: () => void): void {
    if (this.isClosed()) {
      this.o.clock.after(0, cb);
      return;
    }
    this.o.modem.setPowerKey(true);
    this.o.clock.after(this.opt(this.o.pulseMs, 800), () => {
      this.o.modem.setPowerKey(false);
      cb();
    });
  }

  /** Calls cb with the first of lines seen within ms, or undefined. */
  waitLine(lines: string[], ms: number, cb: (line: string | undefined) => void): Handle {
    if (this.isClosed()) ms = 0;
    const w: Waiter = {
      lines: lines,
      cb: cb,
      timer: this.o.clock.after(ms, () => {
        this.dropWaiter(w);
        cb(undefined);
      }),
    };
    this.waiters.push(w);
    return {
      cancel: () => {
        w.timer.cancel();
        this.dropWaiter(w);
      },
    };
  }

  /**
   * Brings the modem to "on". With probe, an "AT" answered OK proves it is
   * already on. Otherwise: pulse; a ready line means it was off and is now
   * on; the down line or silence means it was on (or hung) and is now off,
   * so pulse again and wait for the ready line. Errors: at_no_boot, at_closed.
   */
  boot(probe: boolean, cb: (err?: string) => void): void {
    const st = this.st;
    if (st === "closed" || st === "recovering" || st === "booting") {
      this.later(cb, st === "closed" ? "at_closed" : st === "recovering" || this.healing ? "at_hung" : "at_busy");
      return;
    }
    this.power(probe, probe ? "probe" : "boot", cb);
  }

  private power(probe: boolean, reason: string, cb: (err?: string) => void): void {
    this.setState("booting", reason);
    const ready = this.opt(this.o.readyLine, "RDY");
    const down = this.opt(this.o.downLine, "POWERED DOWN");
    const bootMs = this.opt(this.o.bootMs, 15000);
    // reason "probe" is reported only when the probe found the modem already on.
    const done = (err: string | undefined, why?: string) => {
      if (this.st === "closed") return cb("at_closed");
      if (err) this.setState("off", err);
      else {
        this.missed = 0;
        this.setState("on", why || (reason === "probe" ? "boot" : reason));
      }
      cb(err);
    };
    const second = () => {
      this.pulse(() => {
        if (this.isClosed()) return cb("at_closed");
        this.waitLine([ready], bootMs, (l) => done(l ? undefined : "at_no_boot"));
      });
    };
    const first = () => {
      this.pulse(() => {
        if (this.isClosed()) return cb("at_closed");
        this.waitLine([ready, down], bootMs, (l) => {
          if (l === ready) done(undefined);
          else second();
        });
      });
    };
    if (!probe) return first();
    this.enqueue("AT", { timeoutMs: 1000 }, (err) => {
      if (err === "at_closed") return cb(err);
      if (!err) done(undefined, "probe");
      else first();
    });
  }

  /** The modem was switched off or went to sleep: fail what is queued, refuse commands until boot(). */
  markOff(reason: string): void {
    if (this.st === "closed") return;
    this.failAll("at_off");
    this.setState("off", reason);
  }

  close(): void {
    if (this.st === "closed") return;
    this.setState("closed", "close");
    this.data.cancel();
    this.failAll("at_closed");
    // Waiters learn the line never came (asynchronously), so every boot() still calls back once.
    const ws = this.waiters;
    this.waiters = [];
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i];
      w.timer.cancel();
      this.o.clock.after(0, () => w.cb(undefined));
    }
    if (this.recoverTimer) this.recoverTimer.cancel();
    if (this.pump) this.pump.cancel();
    this.urcs = [];
  }

  private enqueue(text: string, options: AtCommandOptions | undefined, cb: AtCallback): void {
    this.queue.push({ text: text, o: options || {}, cb: cb, lines: [], payload: "", prompted: false, timer: undefined });
    this.schedule();
  }

  private limit(): number {
    return this.opt(this.o.maxQueue, 16);
  }

  private opt<T>(v: T | undefined, d: T): T {
    return v === undefined ? d : v;
  }

  private later(cb: AtCallback | ((err?: string) => void), err: string, reply?: AtReply): void {
    this.o.clock.after(0, () => (cb as AtCallback)(err, reply || emptyReply()));
  }

  private setState(s: AtState, reason: string): void {
    if (this.st === s && reason !== "reboot") return;
    this.st = s;
    if (this.o.onState) this.o.onState(s, reason);
  }

  private schedule(): void {
    if (this.cur || this.pump || !this.queue.length) return;
    const wait = Math.max(0, this.pausedUntil - this.o.clock.monotonic());
    this.pump = this.o.clock.after(wait, () => {
      this.pump = undefined;
      this.next();
    });
  }

  private next(): void {
    if (this.cur || !this.queue.length) return;
    if (this.pausedUntil > this.o.clock.monotonic()) return this.schedule();
    const c = this.queue.shift() as Cmd;
    this.cur = c;
    this.rawLeft = 0;
    c.timer = this.o.clock.after(this.opt(c.o.timeoutMs, 2000), () => this.timeout(c));
    this.o.modem.write(c.text + "\r");
  }

  private finish(c: Cmd, err: string | undefined, final: string): void {
    if (this.cur !== c) return;
    this.cur = undefined;
    this.rawLeft = 0;
    if (c.timer) c.timer.cancel();
    if (err !== "at_timeout") this.missed = 0;
    c.cb(err, { lines: c.lines, final: final, payload: c.payload });
    this.schedule();
  }

  private timeout(c: Cmd): void {
    if (this.cur !== c) return;
    this.missed++;
    this.pausedUntil = this.o.clock.monotonic() + this.opt(this.o.settleMs, 1000);
    this.buf = "";
    this.finish(c, "at_timeout", "");
    if (this.st !== "on") return;
    if (this.missed >= this.opt(this.o.hangAfter, 3)) return this.recover();
    // Find out now whether the modem is alive, not at the next request: probes chain until one is
    // answered or enough are missed to declare a hang.
    if (!this.queue.length && !this.cur) this.enqueue("AT", { timeoutMs: 1000 }, noop);
  }

  private failAll(err: string): void {
    const c = this.cur;
    if (c) {
      this.cur = undefined;
      this.rawLeft = 0;
      if (c.timer) c.timer.cancel();
      this.later(c.cb, err);
    }
    const q = this.queue;
    this.queue = [];
    for (let i = 0; i < q.length; i++) this.later(q[i].cb, err);
  }

  /** Power-cycles a hung modem, backing off between failed attempts. */
  private recover(): void {
    this.healing = true;
    this.setState("recovering", "hang");
    this.failAll("at_hung");
    const attempt = () => {
      this.recoverTimer = undefined;
      if (this.st !== "recovering") return;
      this.power(false, "recovered", (err) => {
        if (this.st === "closed") return;
        if (!err) {
          this.backoff = 0;
          this.healing = false;
          return;
        }
        const first = this.opt(this.o.backoffMs, 5000);
        this.backoff = this.backoff ? Math.min(this.backoff * 2, this.opt(this.o.backoffMaxMs, 600000)) : first;
        this.setState("recovering", "recover_failed");
        this.recoverTimer = this.o.clock.after(this.backoff, attempt);
      });
    };
    attempt();
  }

  private dropWaiter(w: Waiter): void {
    this.waiters = this.waiters.filter((x) => x !== w);
  }

  private feed(chunk: string): void {
    if (this.st === "closed") return;
    // After a timeout, wait for the line to go quiet: late bytes extend the pause.
    const now = this.o.clock.monotonic();
    if (!this.cur && this.pausedUntil > now) this.pausedUntil = now + this.opt(this.o.settleMs, 1000);
    const s = this.buf + chunk;
    this.buf = "";
    let i = 0;
    const n = s.length;
    while (i < n) {
      if (this.skipLf) {
        this.skipLf = false;
        if (s.charAt(i) === "\n") {
          i++;
          continue;
        }
      }
      if (this.rawLeft > 0) {
        const take = Math.min(this.rawLeft, n - i);
        const c = this.cur;
        if (c) c.payload += s.substr(i, take);
        i += take;
        this.rawLeft -= take;
        continue;
      }
      const cr = s.indexOf("\r", i);
      const lf = s.indexOf("\n", i);
      const e = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (e < 0) {
        const rest = s.substr(i);
        const c = this.cur;
        if (c && c.o.data !== undefined && !c.prompted && rest.charAt(0) === ">") {
          this.prompt(c);
          i++;
          continue;
        }
        if (rest.length > MAX_LINE) this.stray++;
        else this.buf = rest;
        break;
      }
      const line = s.substring(i, e).trim();
      i = e + 1;
      if (s.charAt(e) === "\r") this.skipLf = true;
      if (line.length) this.line(line);
      if (this.isClosed()) return;
    }
  }

  private prompt(c: Cmd): void {
    c.prompted = true;
    this.o.modem.write(c.o.data as string);
  }

  private line(l: string): void {
    const ws = this.waiters;
    let waited = false;
    for (let i = 0; i < ws.length; i++) {
      if (ws[i].lines.indexOf(l) >= 0) {
        const w = ws[i];
        w.timer.cancel();
        this.dropWaiter(w);
        waited = true;
        w.cb(l);
        break;
      }
    }
    if (!waited && this.st === "on" && l === this.opt(this.o.readyLine, "RDY")) {
      // The modem rebooted on its own (brown-out, crash): nothing sent before survives.
      this.failAll("at_reboot");
      this.setState("on", "reboot");
    }
    const c = this.cur;
    if (c) {
      if (l === c.text) return;
      if (c.o.data !== undefined && !c.prompted && l === ">") return this.prompt(c);
      if (c.o.expect && l.indexOf(c.o.expect) === 0) {
        c.lines.push(l);
        return;
      }
      if (c.o.raw && l.indexOf(c.o.raw) === 0) {
        c.lines.push(l);
        const len = numberAfter(l, c.o.raw);
        if (len < 0 || len > MAX_RAW) return this.finish(c, "at_bad_raw", "");
        this.rawLeft = len;
        return;
      }
      const code = finalCode(l, c.o.finals);
      if (code !== undefined) return this.finish(c, code || undefined, l);
    }
    if (this.urc(l)) return;
    if (c) c.lines.push(l);
    else this.stray++;
  }

  private urc(l: string): boolean {
    const us = this.urcs.slice();
    let hit = false;
    for (let i = 0; i < us.length; i++) {
      if (l.indexOf(us[i].prefix) === 0) {
        hit = true;
        us[i].cb(l);
      }
    }
    return hit;
  }
}

function noop(): void {
  /* a liveness probe's answer is its own reward */
}

function emptyReply(): AtReply {
  return { lines: [], final: "", payload: "" };
}
