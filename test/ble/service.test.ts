import fc from "fast-check";
import { encodeFrames } from "../../firmware/ble/framing";
import {
  LAYOUT,
  MSG_LOCK,
  MSG_PROGRESS,
  MSG_STATE,
  MSG_UNLOCK,
  MSG_CHALLENGE,
  parseInfo,
  requestMessage,
  Response,
} from "../../firmware/ble/protocol";
import { backoffMs, BleService, COST_KNOWN, COST_VERIFY } from "../../firmware/ble/service";
import { EventBus } from "../../firmware/events";
import { VirtualClock } from "../../sim/clock";
import { SimBle } from "../../sim/hw/ble";
import { SimFlash } from "../../sim/hw/flash";
import { crc32, SimRandom } from "../../sim/hw/system";
import { BAD, bleEvents, GOOD, rig, ScriptedBox } from "./helpers";

function results(rs: Response[]) {
  return rs.filter((r) => r.type === "result").map((r) => (r as { reason: string }).reason);
}
function progress(rs: Response[]) {
  return rs.filter((r) => r.type === "progress").map((r) => (r as { state: string }).state);
}

describe("BleService: publishing and advertising", () => {
  it("publishes the layout with the console off outside devMode, on in devMode", () => {
    const r = rig();
    expect(r.ble.layout).toEqual(LAYOUT);
    expect(r.ble.consoleExposed).toBe(false);
    const d = rig({ devMode: true });
    expect(d.ble.consoleExposed).toBe(true);
  });

  it("advertises the box id and whether it can take a request, never whether it is open, and keeps info and advertising current", () => {
    const r = rig();
    expect(r.ble.advertisement).toEqual({ name: "Keybox KB-TEST01", manufacturerData: Uint8Array.of(0xff, 0xff, 1, 1) });
    expect(parseInfo(r.ble.info)).toEqual({ protocol: 1, state: "ready", boxId: "KB-TEST01", version: "" });
    r.service.progress("unlocking");
    expect(r.ble.advertisement!.manufacturerData).toEqual(Uint8Array.of(0xff, 0xff, 1, 3));
    expect(parseInfo(r.ble.info)!.state).toBe("busy");
    r.service.progress("open");
    // open looks exactly like locked to a passer-by
    expect(r.ble.advertisement!.manufacturerData).toEqual(Uint8Array.of(0xff, 0xff, 1, 1));
    expect(parseInfo(r.ble.info)).toEqual({ protocol: 1, state: "ready", boxId: "KB-TEST01", version: "" });
    r.service.progress("fault");
    expect(r.ble.advertisement!.manufacturerData).toEqual(Uint8Array.of(0xff, 0xff, 1, 1));
  });

  it("validates its options before doing anything", () => {
    const clock = new VirtualClock();
    const ble = new SimBle({ clock });
    const events = new EventBus({ now: () => ({ t: 0, m: 0 }) });
    const handler = new ScriptedBox(clock);
    const base = { ble, clock, events, flash: new SimFlash(), crc32, random: new SimRandom(), handler, config: { boxId: "KB1", devMode: false } };
    expect(() => new BleService({ ...base, config: { boxId: "", devMode: false } })).toThrow("ble_service_config");
    expect(() => new BleService({ ...base, flash: undefined })).toThrow("ble_service_options");
    expect(() => new BleService({ ...base, random: undefined as unknown as SimRandom })).toThrow("ble_service_options");
    expect(() => new BleService({ ...base, config: { boxId: "KB1", devMode: false, backoffBaseMs: 0 } })).toThrow("ble_service_config");
    expect(ble.layout).toBeUndefined();
    const s = new BleService(base);
    s.close();
    s.close();
    expect(clock.pending()).toBe(0);
  });
});

describe("BleService: requests", () => {
  it("unlocks with a good grant: the decision, then the latch's progress", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(3000);
    const got = p.take();
    expect(got[0]).toEqual({ type: "result", request: MSG_UNLOCK, reason: "granted" });
    expect(progress(got)).toEqual(["locked", "unlocking", "open"]);
    expect(r.box.calls.map((c) => [c.kind, Buffer.from(c.grant).toString("hex")])).toEqual([["unlock", Buffer.from(GOOD).toString("hex")]]);
    // with no failures on record the back-off does not change: the access decision is the only event of it
    expect(bleEvents(r.events, "decision")).toEqual([]);
  });

  it("a grant after refused attempts clears the back-off, and says so", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, BAD);
    r.clock.advance(3000);
    p.drop();
    r.clock.advance(10_000);
    const q = r.phone();
    q.connect(true);
    r.clock.advance(20);
    q.send(MSG_UNLOCK, GOOD);
    r.clock.advance(3000);
    const d = bleEvents(r.events, "decision").map((e) => e.d);
    expect(d[d.length - 1]).toEqual({ kind: "unlock", reason: "granted", failures: 0 });
    expect(d.length).toBe(2);
  });

  it("answers a refused grant with the decision's reason code, and lock and state work", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_LOCK, BAD);
    r.clock.advance(1000);
    expect(p.take()).toEqual([{ type: "result", request: MSG_LOCK, reason: "bad_signature" }]);
    p.send(MSG_STATE);
    r.clock.advance(100);
    // no grant was granted on this link: the box id and readiness only
    expect(p.take()).toEqual([{ type: "state", state: { box: "KB-TEST01", ready: true } }]);
    expect(r.service.limits().failures).toBe(1);
    // after a granted request, the full state
    r.clock.advance(2500);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(1500);
    p.take();
    p.send(MSG_STATE);
    r.clock.advance(100);
    expect(p.take()).toEqual([{ type: "state", state: { latch: "open", key: true, lid: "closed", v: "0.1.0" } }]);
  });

  it("refuses every request on an unencrypted link outside devMode, until the link is secured", () => {
    const r = rig();
    const p = r.phone();
    p.connect(false);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    p.send(MSG_STATE);
    r.clock.advance(1000);
    expect(p.errors()).toEqual(["link_unencrypted", "link_unencrypted"]);
    expect(r.box.calls).toEqual([]);
    expect(bleEvents(r.events, "link_unencrypted").length).toBe(2);
    p.take();
    r.ble.secure();
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(3000);
    expect(results(p.take())).toEqual(["granted"]);
  });

  it("accepts an unencrypted link in devMode", () => {
    const r = rig({ devMode: true });
    const p = r.phone();
    p.connect(false);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(3000);
    expect(results(p.take())).toEqual(["granted"]);
  });

  it("works with a handler that answers synchronously, and survives one that throws", () => {
    const r = rig();
    r.box.sync = true;
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(2000);
    expect(results(p.received)).toEqual(["granted"]);
    expect(progress(p.received)).toEqual(["locked", "unlocking", "open"]);
    const t = rig();
    t.box.throws = true;
    const q = t.phone();
    q.connect(true);
    t.clock.advance(20);
    q.send(MSG_UNLOCK, GOOD);
    t.clock.advance(100);
    expect(results(q.received)).toEqual(["handler_error"]);
    expect(t.service.limits().failures).toBe(1);
  });

  it("answers malformed, unknown and concurrent requests with specific errors", () => {
    const r = rig({ requestBurst: 10, connErrors: 20 });
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.raw(Uint8Array.of(MSG_UNLOCK));
    p.raw(Uint8Array.of(MSG_STATE, 0));
    p.raw(Uint8Array.of(0x42, 1, 2));
    p.raw(Uint8Array.of(MSG_UNLOCK, 0, 0, 1)); // zero-length grant
    p.raw(Uint8Array.of(MSG_LOCK, 0, 3, 1, 2)); // shorter than it says
    p.raw(Uint8Array.of(MSG_LOCK, 0, 1, 1, 2)); // trailing bytes that are not a 64-byte proof
    p.raw(Uint8Array.of(MSG_CHALLENGE, 0));
    r.clock.advance(100);
    expect(p.errors()).toEqual(["msg_malformed", "msg_malformed", "msg_unknown", "msg_malformed", "msg_malformed", "msg_malformed", "msg_malformed"]);
    r.clock.advance(10000); // refill the request bucket
    p.take();
    p.send(MSG_UNLOCK, BAD);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(1000);
    const got = p.take();
    expect(got[0]).toEqual({ type: "error", code: "busy", retryMs: 0 });
    expect(results(got)).toEqual(["bad_signature"]);
    expect(r.box.calls.length).toBe(1);
  });

  it("passes a holder proof with this connection's challenge, once; a proof without a challenge is refused", () => {
    const r = rig({ freeFailures: 10 });
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    const proof = new Uint8Array(64).fill(0x5a);
    p.send(MSG_UNLOCK, BAD, proof);
    r.clock.advance(100);
    expect(p.take()).toEqual([{ type: "error", code: "no_challenge", retryMs: 0 }]);
    p.send(MSG_CHALLENGE);
    r.clock.advance(100);
    const ch = p.take();
    expect(ch.length).toBe(1);
    const challenge = (ch[0] as { challenge: Uint8Array }).challenge;
    expect(challenge.length).toBe(16);
    p.send(MSG_UNLOCK, BAD, proof);
    r.clock.advance(3000);
    expect(r.box.calls.length).toBe(1);
    expect(r.box.calls[0].holder).toEqual({ challenge, signature: proof });
    expect(r.box.calls[0].grant).toEqual(BAD);
    // the challenge is spent
    p.take();
    p.send(MSG_UNLOCK, BAD, proof);
    r.clock.advance(100);
    expect(p.errors()).toEqual(["no_challenge"]);
    // each challenge is fresh
    p.send(MSG_CHALLENGE);
    r.clock.advance(100);
    expect((p.received.find((m) => m.type === "challenge") as { challenge: Uint8Array }).challenge).not.toEqual(challenge);
  });

  it("never calls the handler for anything but a well-framed UNLOCK or LOCK, and passes its grant unchanged", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 60 }).map((m) => ({ kind: "msg" as const, m })),
            fc.uint8Array({ minLength: 0, maxLength: 22 }).map((f) => ({ kind: "frame" as const, f })),
          ),
          { maxLength: 12 },
        ),
        (items) => {
          const r = rig({ devMode: true, requestBurst: 100, connErrors: 1000, freeFailures: 1000 });
          const p = r.phone();
          p.connect(true);
          r.clock.advance(20);
          const sent: string[] = [];
          for (const it of items) {
            if (it.kind === "msg") {
              p.raw(it.m);
              const g = (it.m[1] << 8) | it.m[2];
              if ((it.m[0] === MSG_UNLOCK || it.m[0] === MSG_LOCK) && g > 0 && it.m.length === 3 + g)
                sent.push(Buffer.from(it.m).toString("hex"));
            } else p.frames([it.f]);
            r.clock.advance(400);
          }
          r.clock.advance(10000);
          for (const c of r.box.calls) {
            expect(c.holder).toBeUndefined(); // no challenge was ever asked for
            expect(sent).toContain(Buffer.from(requestMessage(c.kind === "unlock" ? MSG_UNLOCK : MSG_LOCK, c.grant)).toString("hex"));
          }
          r.service.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("BleService: rate limiting and back-off", () => {
  it("doubles the wait after every failed grant beyond the free ones, up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoffMs(n, 2, 2000, 300000))).toEqual([0, 0, 0, 2000, 4000, 8000, 16000, 300000]);
  });

  it("holds under a flood of bad grants from reconnecting phones, and the waits double", () => {
    const r = rig();
    const hour = 3600 * 1000;
    let phone = r.phone();
    const phones = [phone];
    let connects = 0;
    while (r.clock.monotonic() < hour) {
      if (!r.ble.isConnected()) {
        phone = r.phone();
        phones.push(phone);
        if (phone.connect(true)) connects++;
      }
      phone.send(MSG_UNLOCK, BAD);
      r.clock.advance(100);
    }
    // Reconnecting does not reset the box-wide back-off.
    const at = r.box.calls.map((c) => c.at);
    expect(connects).toBeGreaterThan(10);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    for (let i = 2; i < gaps.length; i++) {
      // attempt i+1 (1-based: failures so far = i+1) waits at least its back-off after the previous answer
      expect(gaps[i]).toBeGreaterThanOrEqual(backoffMs(i + 1, 2, 2000, 300000));
    }
    // 3 free, then 2+4+...+256 s (~8.5 min), then one per 5 minutes: about 3 + 8 + 11
    expect(at.length).toBeLessThanOrEqual(3 + 8 + 12);
    expect(at.length).toBeGreaterThanOrEqual(15);
    const limited = phones.reduce((n, p) => n + p.errors().filter((c) => c === "rate_limited").length, 0);
    expect(limited).toBeGreaterThan(1000);
    expect(r.service.limits().failures).toBe(at.length);
  });

  it("a flood of junk from reconnecting phones cannot flood the event log: the excess is counted, not lost", () => {
    const r = rig();
    const tenMin = 600 * 1000;
    let phone = r.phone();
    let refusals = 0;
    while (r.clock.monotonic() < tenMin) {
      if (!r.ble.isConnected()) {
        phone = r.phone();
        phone.connect(false);
      }
      phone.send(MSG_STATE);
      r.clock.advance(50);
      refusals = r.box.calls.length; // stays 0: nothing unencrypted reaches the handler
    }
    expect(refusals).toBe(0);
    // 12 at once, then one per 2 hours: the flood left 12 events, the rest only counted
    expect(bleEvents(r.events).length).toBeLessThanOrEqual(12);
    // two hours on, the next link event is the count of everything held back
    phone.drop();
    r.clock.advance(2 * 3600 * 1000);
    r.phone().connect(false);
    r.clock.advance(50);
    const ble = bleEvents(r.events);
    expect(ble.length).toBeLessThanOrEqual(13);
    expect(ble[ble.length - 1].reason).toBe("suppressed");
    const suppressed = bleEvents(r.events, "suppressed").reduce((n, e) => n + (e.d!.n as number), 0);
    const reported = ble.filter((e) => e.reason !== "suppressed").length;
    // every refusal and link event is either reported or counted
    expect(suppressed).toBeGreaterThan(1000);
    // the first few are reported as themselves
    expect(bleEvents(r.events, "link_unencrypted").length).toBeGreaterThan(3);
    expect(reported + suppressed).toBeGreaterThan(5000);
  });

  it("per connection: refuses bursts, and drops a phone after repeated failed grants", () => {
    const r = rig({ freeFailures: 100 });
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    for (let i = 0; i < 8; i++) p.send(MSG_STATE);
    r.clock.advance(100);
    const got = p.take();
    expect(got.filter((m) => m.type === "state").length).toBe(5);
    const limited = got.filter((m) => m.type === "error") as Array<{ code: string; retryMs: number }>;
    expect(limited.map((m) => m.code)).toEqual(["rate_limited", "rate_limited", "rate_limited"]);
    expect(limited[0].retryMs).toBeGreaterThan(0);
    r.clock.advance(5000);
    // three failed grants on one link: back-off per link, then the link is dropped
    p.send(MSG_UNLOCK, BAD);
    r.clock.advance(1000);
    p.send(MSG_UNLOCK, BAD);
    r.clock.advance(100);
    expect(p.errors()).toEqual(["rate_limited"]);
    r.clock.advance(2000);
    p.send(MSG_UNLOCK, BAD);
    r.clock.advance(5000);
    p.send(MSG_UNLOCK, BAD);
    r.clock.advance(1000);
    expect(results(p.received)).toEqual(["bad_signature", "bad_signature", "bad_signature"]);
    expect(p.errors()).toContain("too_many_errors");
    expect(p.disconnected).toBe(true);
    expect(bleEvents(r.events, "dropped").map((e) => e.d)).toEqual([{ why: "too_many_errors" }]);
  });

  it("survives a reboot: the count is in flash and the wait restarts in full", () => {
    let r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    for (let i = 0; i < 3; i++) {
      p.send(MSG_UNLOCK, BAD);
      r.clock.advance(2500 * (i + 1));
    }
    expect(r.box.calls.length).toBe(3);
    expect(r.service.limits().failures).toBe(3);
    r = r.reboot();
    expect(r.service.limits()).toEqual({ failures: 3, waitMs: 2000 });
    const q = r.phone();
    q.connect(true);
    r.clock.advance(20);
    q.send(MSG_UNLOCK, GOOD);
    r.clock.advance(100);
    expect(q.received[0]).toEqual({ type: "error", code: "rate_limited", retryMs: 2000 - 27 });
    expect(r.box.calls).toEqual([]);
    r.clock.advance(2000);
    q.send(MSG_UNLOCK, GOOD);
    r.clock.advance(3000);
    expect(results(q.received)).toEqual(["granted"]);
    // success resets the count, durably
    r = r.reboot();
    expect(r.service.limits()).toEqual({ failures: 0, waitMs: 0 });
  });

  it("after a reset only the new firmware answers, and the phone that was connected sees the link drop", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    const r2 = r.reboot();
    expect(r2.ble.consoleExposed).toBe(false);
    expect(parseInfo(r2.ble.info)!.boxId).toBe("KB-TEST01");
    r2.clock.advance(20);
    expect(p.disconnected).toBe(true);
    const q = r2.phone();
    q.connect(true);
    r2.clock.advance(20);
    q.send(MSG_STATE);
    r2.clock.advance(100);
    expect(q.received.length).toBe(1);
    expect(bleEvents(r.events, "connected").length).toBe(1);
    expect(bleEvents(r2.events, "connected").length).toBe(1);
  });

  it("charges an attempt before deciding: a reset during the check still counts it", () => {
    let r = rig({ freeFailures: 0 });
    r.box.hang = true;
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(100);
    expect(r.box.calls.length).toBe(1);
    r = r.reboot();
    expect(r.service.limits()).toEqual({ failures: 1, waitMs: 2000 });
  });

  it("tells the handler a request was screened only when its own screen answered for it in the same call", () => {
    const r = rig({ requestBurst: 100, connErrors: 1000, freeFailures: 1000 });
    const screens: Array<((kind: string, grant: Uint8Array) => string) | undefined> = [
      undefined,
      () => COST_VERIFY,
      () => {
        throw new Error("screen bug");
      },
      () => COST_KNOWN,
    ];
    for (const screen of screens) {
      r.box.screen = screen;
      const p = r.phone();
      p.connect(true);
      r.clock.advance(20);
      p.send(MSG_UNLOCK, BAD);
      r.clock.advance(400);
      p.drop();
      r.clock.advance(300000);
    }
    expect(r.box.calls.map((c) => c.screened)).toEqual([false, true, false, true]);
  });

  it("neutral reasons (not the phone's fault) neither count nor reset", () => {
    const r = rig({ neutralReasons: ["low_battery"] }, new SimFlash(), { [Buffer.from(GOOD).toString("hex")]: "low_battery" });
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, BAD);
    r.clock.advance(2500); // the per-link back-off after a failure
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(1000);
    expect(results(p.received)).toEqual(["bad_signature", "low_battery"]);
    expect(r.service.limits().failures).toBe(1);
    expect(r.reboot().service.limits().failures).toBe(1);
  });

  it("refuses grants when the attempt cannot be recorded (flash full)", () => {
    const flash = new SimFlash({ capacity: 4096 });
    expect(flash.create("full", 4096 - 32)).toBe(true);
    const r = rig({}, flash);
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(1000);
    expect(p.errors()).toEqual(["store_failed"]);
    expect(r.box.calls).toEqual([]);
  });
});

describe("BleService: connections", () => {
  it("drops an idle connection, but not one whose grant is being decided", () => {
    const r = rig({ idleMs: 10000 });
    const p = r.phone();
    p.connect(true);
    r.clock.advance(9000);
    p.send(MSG_STATE);
    r.clock.advance(9000);
    expect(p.disconnected).toBe(false);
    r.clock.advance(1500);
    expect(p.disconnected).toBe(true);
    expect(bleEvents(r.events, "dropped").map((e) => e.d)).toEqual([{ why: "idle" }]);

    const slow = rig({ idleMs: 10000 });
    slow.box.hang = true;
    const q = slow.phone();
    q.connect(true);
    slow.clock.advance(20);
    q.send(MSG_UNLOCK, GOOD);
    slow.clock.advance(60000);
    expect(q.disconnected).toBe(false);
  });

  it("an idle phone that never secures its link is dropped too", () => {
    const r = rig({ idleMs: 10000 });
    const p = r.phone();
    p.connect(false);
    for (let i = 0; i < 5; i++) {
      r.clock.advance(2500);
      p.send(MSG_STATE);
    }
    r.clock.advance(100);
    expect(p.disconnected).toBe(true);
  });

  it("a disconnect mid-unlock: the decision stands, nothing is sent to nobody, the next phone is served", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    p.send(MSG_UNLOCK, GOOD);
    r.clock.advance(100); // the box is verifying
    p.drop();
    r.clock.advance(3000);
    expect(p.received).toEqual([]);
    expect(r.box.latch).toBe("open");
    expect(bleEvents(r.events, "disconnected")[0].d).toEqual({ midRequest: true });
    expect(r.box.calls.map((c) => c.kind)).toEqual(["unlock"]);
    const q = r.phone();
    expect(q.connect(true)).toBe(true);
    r.clock.advance(20);
    q.send(MSG_STATE);
    r.clock.advance(100);
    expect(q.received).toEqual([{ type: "state", state: { box: "KB-TEST01", ready: true } }]);
  });

  it("broken frames get specific errors; a phone that keeps sending them is dropped", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    const frames = encodeFrames(new Uint8Array(40).fill(MSG_UNLOCK), 4, crc32);
    p.frames([frames[1]]);
    p.frames([Uint8Array.of(0x12, 1, 2)]);
    p.frames([frames[0], frames[2]]);
    p.frames([frames[0]]);
    r.clock.advance(6000);
    expect(p.errors()).toEqual(["frame_order", "frame_garbled", "frame_order", "frame_timeout"]);
    for (let i = 0; i < 4; i++) p.frames([Uint8Array.of(0)]);
    r.clock.advance(500);
    expect(p.errors().slice(-2)).toEqual(["frame_garbled", "too_many_errors"]);
    expect(p.disconnected).toBe(true);
    expect(r.box.calls).toEqual([]);
  });

  it("progress goes only to the phone whose request was granted", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    r.service.progress("unlocking");
    r.clock.advance(100);
    expect(p.received).toEqual([]);
    p.send(MSG_LOCK, GOOD);
    r.clock.advance(3000);
    // the state at the decision, then every change (not the one before the request)
    expect(progress(p.received)).toEqual(["locked", "locking", "locked"]);
    expect(p.received.filter((m) => m.type === "progress").length).toBe(3);
    expect(p.received.every((m) => m.type !== "error")).toBe(true);
    expect(MSG_PROGRESS).toBe(0x82);
  });

  it("close() leaves no timer and ignores the radio afterwards", () => {
    const r = rig();
    const p = r.phone();
    p.connect(true);
    r.clock.advance(20);
    r.service.close();
    p.send(MSG_STATE);
    r.clock.advance(60000);
    expect(p.received).toEqual([]);
    expect(r.clock.pending()).toBe(0);
  });
});
