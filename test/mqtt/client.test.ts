import { VirtualClock } from "../../sim/clock";
import { SimRandom } from "../../sim/hw/system";
import { MqttClient, MqttClientOptions } from "../../firmware/mqtt/client";
import { encode } from "../../firmware/mqtt/codec";
import { MemNetwork } from "./memsocket";

const enc = (s: string) => new Uint8Array(Buffer.from(s));

function setup(extra: Partial<MqttClientOptions> = {}) {
  const clock = new VirtualClock();
  const net = new MemNetwork(clock);
  const received: Array<{ topic: string; payload: string; done: () => void }> = [];
  const states: string[] = [];
  const client = new MqttClient({
    clock,
    random: new SimRandom({ seed: 7 }),
    connect: net.factory,
    clientId: "kb-TEST",
    keepaliveS: 60,
    pingTimeoutMs: 10000,
    backoffMinMs: 2000,
    backoffMaxMs: 60000,
    will: { topic: "kb/TEST/status", payload: enc("offline"), qos: 1, retain: true },
    subscriptions: [{ topic: "kb/TEST/cmd", qos: 1 }],
    onMessage: (topic, payload, done) => received.push({ topic, payload: Buffer.from(payload).toString(), done }),
    onState: (s, r) => states.push(s + ":" + r),
    ...extra,
  });
  return { clock, net, client, received, states };
}

/** Runs until the client has sent CONNECT on a new socket and answers it. */
function accept(t: ReturnType<typeof setup>, sessionPresent: boolean) {
  const before = t.net.sockets.length;
  for (let i = 0; i < 10000 && !(t.net.sockets.length > before && t.net.last.of("connect").length); i++) t.clock.advance(50);
  const s = t.net.last;
  expect(s.of("connect").length).toBe(1);
  s.reply({ cmd: "connack", sessionPresent, returnCode: 0 });
  t.clock.advance(20);
  return s;
}

describe("MqttClient", () => {
  test("connects with a persistent session and last will, and subscribes only when the broker lost the session", () => {
    const t = setup();
    t.client.start();
    const s1 = accept(t, false);
    const c = s1.of("connect")[0];
    expect(c).toMatchObject({ clientId: "kb-TEST", clean: false, keepalive: 60 });
    expect(c.will && Buffer.from(c.will.payload).toString()).toBe("offline");
    expect(c.will).toMatchObject({ topic: "kb/TEST/status", qos: 1, retain: true });
    expect(s1.of("subscribe")).toEqual([{ cmd: "subscribe", messageId: expect.any(Number), subscriptions: [{ topic: "kb/TEST/cmd", qos: 1 }] }]);
    expect(t.client.up).toBe(true);
    s1.cut();
    const s2 = accept(t, true);
    expect(s2.of("subscribe")).toEqual([]);
    s2.cut();
    const s3 = accept(t, false);
    expect(s3.of("subscribe").length).toBe(1);
  });

  test("QoS 1 publish stays in flight across a drop and is sent again with DUP and the same id", () => {
    const t = setup();
    t.client.start();
    const s1 = accept(t, true);
    const acked: string[] = [];
    expect(t.client.publish({ topic: "e", payload: enc("one"), qos: 1, id: 17 }, (e) => acked.push(e || "ok"))).toBeUndefined();
    t.client.publish({ topic: "e", payload: enc("two"), qos: 1 }, (e) => acked.push(e || "ok2"));
    t.clock.advance(20);
    const p1 = s1.of("publish");
    expect(p1.map((p) => [p.messageId, p.dup])).toEqual([[17, false], [32768, false]]);
    s1.cut(); // no PUBACK reached us
    expect(t.client.pending).toBe(2);
    const s2 = accept(t, true);
    const p2 = s2.of("publish");
    expect(p2.map((p) => [p.messageId, p.dup, Buffer.from(p.payload).toString()])).toEqual([
      [17, true, "one"],
      [32768, true, "two"],
    ]);
    s2.reply({ cmd: "puback", messageId: 17 });
    s2.reply({ cmd: "puback", messageId: 32768 });
    t.clock.advance(20);
    expect(acked).toEqual(["ok", "ok2"]);
    expect(t.client.pending).toBe(0);
    // a duplicate PUBACK for a finished id changes nothing
    s2.reply({ cmd: "puback", messageId: 17 });
    t.clock.advance(20);
    expect(acked).toEqual(["ok", "ok2"]);
  });

  test("keep-alive sends PINGREQ when idle and drops the link when PINGRESP does not come", () => {
    const t = setup();
    t.client.start();
    const s1 = accept(t, true);
    t.clock.advance(30000);
    expect(s1.of("pingreq").length).toBe(0);
    t.clock.advance(30100);
    expect(s1.of("pingreq").length).toBe(1);
    s1.reply({ cmd: "pingresp" });
    t.clock.advance(61000);
    expect(s1.of("pingreq").length).toBe(2);
    expect(s1.closed).toBe(false);
    t.clock.advance(10500); // no PINGRESP this time
    expect(s1.closed).toBe(true);
    expect(t.states).toContain("down:mqtt_ping_timeout");
    accept(t, true);
    expect(t.client.up).toBe(true);
  });

  test("reconnects with jittered exponential back-off, reset only after a link that stayed up", () => {
    const t = setup({ stableMs: 60000 });
    t.net.failWith = "no_coverage";
    t.client.start();
    t.clock.advance(600000);
    const gaps = t.net.dialedAt.slice(1).map((at, i) => at - t.net.dialedAt[i] - 20);
    expect(gaps.length).toBeGreaterThan(5);
    for (let i = 0; i < gaps.length; i++) {
      const cap = Math.min(60000, 2000 * Math.pow(2, i));
      expect(gaps[i]).toBeGreaterThanOrEqual(cap / 2);
      expect(gaps[i]).toBeLessThanOrEqual(cap);
    }
    expect(new Set(gaps.slice(-4)).size).toBeGreaterThan(1); // jitter: capped gaps still differ
    t.net.failWith = undefined;
    let s = accept(t, true);
    let n = t.net.dialedAt.length;
    s.cut(); // up for an instant: not a good link, the back-off stays long
    t.clock.advance(2001);
    expect(t.net.dialedAt.length).toBe(n);
    s = accept(t, true);
    t.clock.advance(60000); // stayed up for stableMs
    n = t.net.dialedAt.length;
    s.cut();
    t.clock.advance(2001);
    expect(t.net.dialedAt.length).toBe(n + 1); // back to the shortest delay
  });

  test("a broker that accepts and drops the link at once gets a bounded number of attempts over 30 minutes", () => {
    const t = setup({ backoffMinMs: 2000, backoffMaxMs: 300000 });
    t.client.start();
    const end = 30 * 60000;
    let handled = 0;
    while (t.clock.monotonic() < end) {
      t.clock.advance(50);
      const s = t.net.last;
      if (t.net.sockets.length > handled && s && s.of("connect").length) {
        handled = t.net.sockets.length;
        s.reply({ cmd: "connack", sessionPresent: true, returnCode: 0 });
        t.clock.advance(30);
        s.reply(new Uint8Array([0xf0, 0x00])); // then garbage: the link drops
      }
    }
    const ups = t.states.filter((x) => x.indexOf("up:") === 0).length;
    // 2+4+...+256 s, then 150..300 s apart: at most 8 + 1290/150 + 1 attempts
    expect(ups).toBeGreaterThan(5);
    expect(ups).toBeLessThanOrEqual(18);
    expect(t.net.dialedAt.length).toBe(ups);
  });

  test("an oversized incoming PUBLISH is skipped and acknowledged without dropping the link", () => {
    const heads: Array<{ topic: string; head: string; size: number }> = [];
    const t = setup({
      onOversize: (topic, head, size, done) => {
        heads.push({ topic, head: Buffer.from(head).toString(), size });
        done();
      },
    });
    t.client.start();
    const s1 = accept(t, true);
    const big = enc("H".repeat(40) + "x".repeat(5000));
    const bytes = encode({ cmd: "publish", topic: "kb/TEST/cmd", payload: big, qos: 1, dup: false, retain: true, messageId: 9 }) as Uint8Array;
    // in pieces, as a modem delivers it, followed by a normal message
    for (let at = 0; at < bytes.length; at += 700) s1.reply(bytes.slice(at, at + 700));
    s1.reply({ cmd: "publish", topic: "kb/TEST/cmd", payload: enc("small"), qos: 1, dup: false, retain: false, messageId: 10 });
    t.clock.advance(50);
    expect(heads).toEqual([{ topic: "kb/TEST/cmd", head: "H".repeat(32), size: 5040 }]);
    expect(s1.of("puback").map((p) => p.messageId)).toEqual([9]);
    expect(t.received.map((r) => r.payload)).toEqual(["small"]);
    expect(s1.closed).toBe(false);
    expect(t.client.up).toBe(true);
    // without a handler it is acknowledged at once
    const u = setup();
    u.client.start();
    const s2 = accept(u, true);
    s2.reply(bytes);
    u.clock.advance(50);
    expect(s2.of("puback").map((p) => p.messageId)).toEqual([9]);
    expect(u.received).toEqual([]);
    expect(u.client.up).toBe(true);
  });

  test("incoming QoS 1: delivered once, PUBACK only after done(), redeliveries recognised", () => {
    const t = setup();
    t.client.start();
    const s1 = accept(t, true);
    const msg = { cmd: "publish" as const, topic: "kb/TEST/cmd", payload: enc("grant"), qos: 1, dup: false, retain: false, messageId: 5 };
    s1.reply(msg);
    t.clock.advance(20);
    expect(t.received.length).toBe(1);
    expect(s1.of("puback")).toEqual([]);
    s1.reply({ ...msg, dup: true }); // redelivered while still being processed
    t.clock.advance(20);
    expect(t.received.length).toBe(1);
    t.received[0].done();
    t.clock.advance(20);
    expect(s1.of("puback")).toEqual([{ cmd: "puback", messageId: 5 }]);
    s1.cut();
    const s2 = accept(t, true);
    s2.reply({ ...msg, dup: true }); // our PUBACK was lost: the broker tries again
    t.clock.advance(20);
    expect(t.received.length).toBe(1);
    expect(s2.of("puback")).toEqual([{ cmd: "puback", messageId: 5 }]);
    s2.reply({ ...msg, payload: enc("other"), dup: false }); // a new message reusing the id
    t.clock.advance(20);
    expect(t.received.map((r) => r.payload)).toEqual(["grant", "other"]);
  });

  test("garbage, a refused CONNACK and a silent broker each drop the link with a specific reason", () => {
    const t = setup();
    t.client.start();
    const s1 = accept(t, true);
    s1.reply(new Uint8Array([0xf0, 0x00]));
    t.clock.advance(20);
    expect(t.states).toContain("down:mqtt_type");
    expect(s1.closed).toBe(true);
    for (let i = 0; i < 200 && !(t.net.sockets.length > 1 && t.net.last.of("connect").length); i++) t.clock.advance(50);
    t.net.last.reply({ cmd: "connack", sessionPresent: false, returnCode: 5 });
    t.clock.advance(20);
    expect(t.states).toContain("down:mqtt_refused_5");
    for (let i = 0; i < 200 && !(t.net.sockets.length > 2 && t.net.last.of("connect").length); i++) t.clock.advance(50);
    t.clock.advance(30000);
    expect(t.states).toContain("down:mqtt_connack_timeout");
    expect(t.client.up).toBe(false);
  });

  test("QoS 0 while offline reports mqtt_offline; stop() sends DISCONNECT; close() leaves no timers", () => {
    const t = setup();
    const res: string[] = [];
    t.client.publish({ topic: "x", payload: enc("t"), qos: 0 }, (e) => res.push(e || "ok"));
    expect(res).toEqual([]); // never synchronously
    t.clock.advance(1);
    expect(res).toEqual(["mqtt_offline"]);
    t.client.start();
    const s = accept(t, true);
    t.client.stop();
    t.clock.advance(20);
    expect(s.of("disconnect").length).toBe(1);
    expect(t.client.up).toBe(false);
    t.client.close();
    t.client.close();
    expect(t.clock.pending()).toBe(0);
    expect(t.client.publish({ topic: "x", payload: enc("t"), qos: 1 })).toBe("mqtt_closed");
  });
});
