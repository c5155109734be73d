import * as fc from "fast-check";
import { At, AtOptions, AtReply, AtState, finalCode } from "../../firmware/cellular/at";
import { VirtualClock } from "../../sim/clock";
import { ModemPeer, SimModemWire } from "../../sim/hw/modem";

/** The far end for scripted tests: records what the host wrote and how it drove the power key. */
class Script implements ModemPeer {
  written = "";
  key: Array<{ at: number; on: boolean }> = [];
  onWrite: ((s: string) => void) | undefined;
  constructor(
    readonly wire: SimModemWire,
    readonly clock: VirtualClock,
  ) {
    wire.attach(this);
  }
  received(d: string): void {
    this.written += d;
    if (this.onWrite) this.onWrite(d);
  }
  powerKey(asserted: boolean): void {
    this.key.push({ at: this.clock.monotonic(), on: asserted });
  }
  send(...chunks: string[]): void {
    for (const c of chunks) this.wire.feed(c);
  }
}

interface Rig {
  clock: VirtualClock;
  s: Script;
  at: At;
  states: Array<[AtState, string]>;
}

/** An At already "on" (booted through a probe answered OK). */
function rig(opts: Partial<AtOptions> = {}): Rig {
  const clock = new VirtualClock();
  const wire = new SimModemWire({ clock });
  const s = new Script(wire, clock);
  const states: Array<[AtState, string]> = [];
  const at = new At(Object.assign({ modem: wire, clock, onState: (st: AtState, r: string) => states.push([st, r]) }, opts));
  s.onWrite = (d) => {
    if (d === "AT\r") s.send("\r\nOK\r\n");
  };
  let booted: string | undefined = "pending";
  at.boot(true, (e) => (booted = e));
  clock.advance(10);
  expect(booted).toBeUndefined();
  expect(at.state()).toBe("on");
  s.onWrite = undefined;
  s.written = "";
  return { clock, s, at, states };
}

type Result = { err: string | undefined; reply: AtReply; calls: number; sync: boolean };

function run(r: Rig, text: string, o: Parameters<At["cmd"]>[1]): Result {
  const res: Result = { err: "never", reply: { lines: [], final: "", payload: "" }, calls: 0, sync: false };
  let inCall = true;
  r.at.cmd(text, o, (err, reply) => {
    res.calls++;
    res.err = err;
    res.reply = reply;
    if (inCall) res.sync = true;
  });
  inCall = false;
  return res;
}

describe("finalCode", () => {
  test("maps every final result to a specific code", () => {
    expect(finalCode("OK", undefined)).toBe("");
    expect(finalCode("ERROR", undefined)).toBe("at_error");
    expect(finalCode("+CME ERROR: 10", undefined)).toBe("cme_10");
    expect(finalCode("+CMS ERROR: 500", undefined)).toBe("cms_500");
    expect(finalCode("+CME ERROR: SIM not inserted", undefined)).toBe("cme_text");
    expect(finalCode("SEND FAIL", ["SEND OK", "SEND FAIL"])).toBe("");
    expect(finalCode("SEND FAIL", undefined)).toBeUndefined();
    expect(finalCode("+CSQ: 1,2", undefined)).toBeUndefined();
  });
});

describe("AT layer against scripted replies", () => {
  test("info lines and OK; the echo is dropped", () => {
    const r = rig();
    const res = run(r, "AT+CSQ", {});
    expect(r.s.written).toBe("");
    r.clock.advance(0);
    expect(r.s.written).toBe("AT+CSQ\r");
    r.s.send("AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
    r.clock.advance(1);
    expect(res).toEqual({ err: undefined, reply: { lines: ["+CSQ: 20,99"], final: "OK", payload: "" }, calls: 1, sync: false });
  });

  test.each([
    ["ERROR", "at_error"],
    ["+CME ERROR: 10", "cme_10"],
    ["+CME ERROR: 563", "cme_563"],
    ["+CMS ERROR: 304", "cms_304"],
    ["+CME ERROR: SIM failure", "cme_text"],
  ])("final %s gives %s", (final, code) => {
    const r = rig();
    const res = run(r, "AT+X", {});
    r.clock.advance(1);
    r.s.send("\r\n" + final + "\r\n");
    r.clock.advance(1);
    expect(res.err).toBe(code);
    expect(res.calls).toBe(1);
  });

  test("one command in flight; the next is written only after the final result", () => {
    const r = rig();
    const a = run(r, "AT+A", {});
    const b = run(r, "AT+B", {});
    const c = run(r, "AT+C", {});
    r.clock.advance(5);
    expect(r.s.written).toBe("AT+A\r");
    r.s.send("\r\nOK\r\n");
    r.clock.advance(5);
    expect(r.s.written).toBe("AT+A\rAT+B\r");
    r.s.send("\r\nERROR\r\n");
    r.clock.advance(5);
    r.s.send("\r\nOK\r\n");
    r.clock.advance(5);
    expect(r.s.written).toBe("AT+A\rAT+B\rAT+C\r");
    expect([a.err, b.err, c.err]).toEqual([undefined, "at_error", undefined]);
  });

  test("a full queue refuses with at_busy, asynchronously", () => {
    const r = rig({ maxQueue: 2 });
    const list = [run(r, "AT+1", {}), run(r, "AT+2", {}), run(r, "AT+3", {})];
    expect(list[2].calls).toBe(0);
    r.clock.advance(0);
    expect(list[2]).toMatchObject({ err: "at_busy", calls: 1, sync: false });
  });

  test("timeout gives at_timeout; a late reply is not taken for the next command (quiet period)", () => {
    const r = rig({ settleMs: 500 });
    const a = run(r, "AT+SLOW", { timeoutMs: 1000 });
    const b = run(r, "AT+CSQ", {});
    r.clock.advance(1000);
    expect(a.err).toBe("at_timeout");
    r.clock.advance(100);
    r.s.send("\r\n+SLOW: 1\r\n\r\nOK\r\n");
    r.clock.advance(10);
    expect(b.calls).toBe(0);
    expect(r.s.written).toBe("AT+SLOW\r");
    // The late bytes at 1100 pushed the quiet period to 1600.
    r.clock.advance(400);
    expect(r.s.written).toBe("AT+SLOW\r");
    r.clock.advance(90);
    expect(r.s.written).toBe("AT+SLOW\rAT+CSQ\r");
    r.s.send("\r\n+CSQ: 5,99\r\n\r\nOK\r\n");
    r.clock.advance(1);
    expect(b.reply.lines).toEqual(["+CSQ: 5,99"]);
    expect(a.calls + b.calls).toBe(2);
    expect(r.at.stray).toBe(2);
  });

  test("a URC in the middle of a reply goes to its handler, not into the reply", () => {
    const r = rig();
    const urcs: string[] = [];
    r.at.on("+QIURC:", (l) => urcs.push(l));
    const res = run(r, "AT+CSQ", {});
    r.clock.advance(1);
    r.s.send('\r\n+CSQ: 20,99\r\n\r\n+QIURC: "recv",0\r\n\r\nOK\r\n');
    r.clock.advance(1);
    expect(res.reply.lines).toEqual(["+CSQ: 20,99"]);
    expect(urcs).toEqual(['+QIURC: "recv",0']);
  });

  test("expect claims a prefix a URC handler also wants; cancel stops a handler", () => {
    const r = rig();
    const urcs: string[] = [];
    const h = r.at.on("+CEREG:", (l) => urcs.push(l));
    const res = run(r, "AT+CEREG?", { expect: "+CEREG:" });
    r.clock.advance(1);
    r.s.send("\r\n+CEREG: 2,1\r\n\r\nOK\r\n\r\n+CEREG: 5\r\n");
    r.clock.advance(1);
    expect(res.reply.lines).toEqual(["+CEREG: 2,1"]);
    expect(urcs).toEqual(["+CEREG: 5"]);
    h.cancel();
    h.cancel();
    r.s.send("\r\n+CEREG: 1\r\n");
    r.clock.advance(1);
    expect(urcs).toEqual(["+CEREG: 5"]);
  });

  test("send prompt: the payload is written only after '> '", () => {
    const r = rig();
    const res = run(r, "AT+QISEND=0,4", { data: "\r\n>\x00", finals: ["SEND OK", "SEND FAIL"] });
    r.clock.advance(1);
    expect(r.s.written).toBe("AT+QISEND=0,4\r");
    r.s.send("\r\n>");
    r.clock.advance(1);
    expect(r.s.written).toBe("AT+QISEND=0,4\r\r\n>\x00");
    r.s.send(" \r\nSEND OK\r\n");
    r.clock.advance(1);
    expect(res).toMatchObject({ err: undefined, calls: 1 });
    expect(res.reply.final).toBe("SEND OK");
  });

  test("ERROR instead of a prompt ends the command without writing the payload", () => {
    const r = rig();
    const res = run(r, "AT+QISEND=0,4", { data: "DATA", finals: ["SEND OK"] });
    r.clock.advance(1);
    r.s.send("\r\nERROR\r\n");
    r.clock.advance(1);
    expect(res.err).toBe("at_error");
    expect(r.s.written).toBe("AT+QISEND=0,4\r");
  });

  test("an unusable raw length fails with at_bad_raw", () => {
    const r = rig();
    const res = run(r, "AT+QIRD=0,1500", { raw: "+QIRD:" });
    r.clock.advance(1);
    r.s.send("\r\n+QIRD: 99999\r\n");
    r.clock.advance(1);
    expect(res.err).toBe("at_bad_raw");
  });

  test("garbage while idle is counted and ignored; an overlong line is dropped", () => {
    const r = rig();
    r.s.send("\x00\xff#junk\r\n", "OK\r\n", "x".repeat(3000));
    r.clock.advance(1);
    expect(r.at.stray).toBe(3);
    const res = run(r, "AT", {});
    r.clock.advance(1);
    r.s.send("\r\nOK\r\n");
    r.clock.advance(1);
    expect(res.err).toBeUndefined();
  });

  // Every split of a reply into two or three chunks gives the same result.
  test("chunked at every boundary: raw payload with CR LF and '>' inside, URC before it", () => {
    const payload = "A\r\n>\xff\x00OK\r\n";
    const reply = '\r\n+QIURC: "recv",1\r\n\r\n+QIRD: ' + payload.length + "\r\n" + payload + "\r\n\r\nOK\r\n";
    const cuts: number[][] = [];
    for (let i = 1; i < reply.length; i++) {
      cuts.push([i]);
      for (let j = i + 1; j < reply.length; j += 3) cuts.push([i, j]);
    }
    for (const cut of cuts) {
      const r = rig();
      const urcs: string[] = [];
      r.at.on("+QIURC:", (l) => urcs.push(l));
      const res = run(r, "AT+QIRD=0,1500", { raw: "+QIRD:" });
      r.clock.advance(1);
      let last = 0;
      for (const c of cut.concat([reply.length])) {
        r.s.send(reply.substring(last, c));
        last = c;
        r.clock.advance(1);
      }
      expect(res.err).toBeUndefined();
      expect(res.reply.payload).toBe(payload);
      expect(res.calls).toBe(1);
      expect(urcs).toEqual(['+QIURC: "recv",1']);
    }
  });

  test("an unsolicited RDY (the modem rebooted) fails the command with at_reboot", () => {
    const r = rig();
    const res = run(r, "AT+CSQ", {});
    r.clock.advance(1);
    r.s.send("\r\nRDY\r\n");
    r.clock.advance(1);
    expect(res.err).toBe("at_reboot");
    expect(r.states[r.states.length - 1]).toEqual(["on", "reboot"]);
  });

  test("commands while off fail with at_off; close fails everything with at_closed, twice is safe", () => {
    const r = rig();
    r.at.markOff("test");
    const a = run(r, "AT", {});
    r.clock.advance(1);
    expect(a.err).toBe("at_off");
    const r2 = rig();
    const b = run(r2, "AT", {});
    r2.at.close();
    r2.at.close();
    r2.clock.advance(1);
    expect(b).toMatchObject({ err: "at_closed", calls: 1, sync: false });
    expect(r2.clock.pending()).toBe(0);
  });
});

describe("power key and hang recovery", () => {
  test("boot from off: probe fails, pulse >= 500 ms, RDY", () => {
    const clock = new VirtualClock();
    const wire = new SimModemWire({ clock });
    const s = new Script(wire, clock);
    const at = new At({ modem: wire, clock });
    let res: string | undefined = "pending";
    at.boot(true, (e) => (res = e));
    clock.advance(999);
    expect(s.key).toEqual([]);
    clock.advance(1);
    expect(s.key).toEqual([{ at: 1000, on: true }]);
    clock.advance(800);
    expect(s.key[1]).toEqual({ at: 1800, on: false });
    clock.advance(4000);
    s.send("\r\nRDY\r\n");
    clock.advance(1);
    expect(res).toBeUndefined();
    expect(at.state()).toBe("on");
  });

  test("close() in the middle of a boot ends it with at_closed, once, and releases the power key", () => {
    for (const when of [500, 1500, 5000]) {
      const clock = new VirtualClock();
      const wire = new SimModemWire({ clock });
      const s = new Script(wire, clock);
      const at = new At({ modem: wire, clock });
      const res: Array<string | undefined> = [];
      at.boot(true, (e) => res.push(e));
      clock.advance(when);
      at.close();
      clock.advance(60000);
      expect(res).toEqual(["at_closed"]);
      if (s.key.length) expect(s.key[s.key.length - 1].on).toBe(false);
      expect(clock.pending()).toBe(0);
    }
  });

  test("no RDY after two pulses: at_no_boot", () => {
    const clock = new VirtualClock();
    const wire = new SimModemWire({ clock });
    const s = new Script(wire, clock);
    const at = new At({ modem: wire, clock, bootMs: 10000 });
    let res: string | undefined = "pending";
    at.boot(false, (e) => (res = e));
    clock.advance(30000);
    expect(res).toBe("at_no_boot");
    expect(s.key.filter((k) => k.on).length).toBe(2);
    expect(at.state()).toBe("off");
  });

  test("a modem that stops answering is power-cycled, with back-off between failed attempts", () => {
    const r = rig({ hangAfter: 3, bootMs: 10000, backoffMs: 5000, backoffMaxMs: 20000 });
    const res = [run(r, "AT+A", {}), run(r, "AT+B", {}), run(r, "AT+C", {}), run(r, "AT+D", {})];
    r.clock.advance(2000 * 3 + 1000 * 2);
    expect(res.slice(0, 3).map((x) => x.err)).toEqual(["at_timeout", "at_timeout", "at_timeout"]);
    r.clock.advance(1);
    expect(res[3].err).toBe("at_hung");
    expect(r.at.state()).toBe("booting");
    expect(r.states).toContainEqual(["recovering", "hang"]);
    const late = run(r, "AT", {});
    r.clock.advance(1);
    expect(late.err).toBe("at_hung");
    // The modem never comes back: attempts at growing intervals.
    r.clock.advance(200000);
    const pulses = r.s.key.filter((k) => k.on).map((k) => k.at);
    expect(pulses.length).toBeGreaterThanOrEqual(6);
    const gaps: number[] = [];
    for (let i = 2; i + 1 < pulses.length; i += 2) gaps.push(pulses[i] - pulses[i - 1]);
    expect(gaps[1]).toBeGreaterThan(gaps[0]);
    expect(r.states.filter((x) => x[1] === "recover_failed").length).toBeGreaterThan(2);
    // Then it answers: the next attempt's RDY ends the recovery.
    r.s.onWrite = undefined;
    const before = r.s.key.length;
    r.clock.step();
    while (r.s.key.length === before || r.s.key[r.s.key.length - 1].on) r.clock.step();
    r.s.send("\r\nRDY\r\n");
    r.clock.advance(1);
    expect(r.at.state()).toBe("on");
    expect(r.states[r.states.length - 1]).toEqual(["on", "recovered"]);
    const ok = run(r, "AT", {});
    r.clock.advance(1);
    r.s.send("\r\nOK\r\n");
    r.clock.advance(1);
    expect(ok.err).toBeUndefined();
  });
});

describe("fuzz", () => {
  const piece = fc.oneof(
    fc.constantFrom("\r", "\n", "\r\n", ">", "> ", "OK", "ERROR", "+CME ERROR: 3", "+CME ERROR: x", "SEND OK", "RDY", "+QIRD: 3", "+QIRD: 0", '+QIURC: "recv",0', "AT+X", "\x00", "\xff"),
    fc.string({ maxLength: 8 }),
    fc.uint8Array({ maxLength: 8 }).map((a) => String.fromCharCode(...a)),
  );
  test("the line assembler never throws and every callback runs exactly once, never synchronously", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(piece, fc.nat(3000)), { maxLength: 40 }),
        fc.array(fc.constantFrom("plain", "raw", "prompt", "expect"), { minLength: 1, maxLength: 6 }),
        (chunks, kinds) => {
          const r = rig({ hangAfter: 100 });
          r.at.on("+QIURC:", () => undefined);
          const results = kinds.map((k) =>
            run(r, "AT+X", k === "raw" ? { raw: "+QIRD:" } : k === "prompt" ? { data: "abc", finals: ["SEND OK"] } : k === "expect" ? { expect: "+CME" } : {}),
          );
          for (const [c, dt] of chunks) {
            r.s.send(c);
            r.clock.advance(dt);
          }
          r.clock.advance(6 * 3100);
          for (const x of results) {
            expect(x.calls).toBe(1);
            expect(x.sync).toBe(false);
            expect(typeof x.err === "string" || x.err === undefined).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
