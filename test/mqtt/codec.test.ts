import fc from "fast-check";
import * as mqttPacket from "mqtt-packet";
import { encode, Packet, Parser, E_LENGTH, E_TOO_BIG, E_FLAGS, E_QOS, E_UTF8, E_PROTOCOL, E_ID, E_TYPE, utf8Encode, utf8Decode } from "../../firmware/mqtt/codec";

/** Strings that survive a UTF-8 round trip (no lone surrogates). */
const text = (min: number, max: number) =>
  fc
    .oneof(fc.string({ minLength: min, maxLength: max }), fc.string({ unit: "binary", minLength: min, maxLength: max }))
    .filter((s) => Buffer.from(s, "utf8").toString("utf8") === s);
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const id = fc.integer({ min: 1, max: 65535 });
const qos = fc.integer({ min: 0, max: 2 });

const arbPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc
    .record({
      clientId: text(1, 23),
      keepalive: fc.integer({ min: 0, max: 65535 }),
      clean: fc.boolean(),
      will: fc.option(fc.record({ topic: text(1, 30), payload: bytes(40), qos, retain: fc.boolean() }), { nil: undefined }),
      username: fc.option(text(0, 20), { nil: undefined }),
      password: fc.option(bytes(20), { nil: undefined }),
    })
    .map((r) => {
      const p: Packet = { cmd: "connect", clientId: r.clientId, keepalive: r.keepalive, clean: r.clean };
      if (r.will) p.will = r.will;
      if (r.username !== undefined) {
        p.username = r.username;
        if (r.password !== undefined) p.password = r.password;
      }
      return p;
    }),
  fc.record({ sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }).map((r): Packet => ({ cmd: "connack", ...r })),
  fc
    .record({ topic: text(1, 40), payload: bytes(300), qos, dup: fc.boolean(), retain: fc.boolean(), messageId: id })
    .map((r): Packet => {
      const p: Packet = { cmd: "publish", topic: r.topic, payload: r.payload, qos: r.qos, dup: r.dup, retain: r.retain };
      if (r.qos > 0) p.messageId = r.messageId;
      return p;
    }),
  id.map((m): Packet => ({ cmd: "puback", messageId: m })),
  id.map((m): Packet => ({ cmd: "unsuback", messageId: m })),
  fc
    .record({ messageId: id, subscriptions: fc.array(fc.record({ topic: text(1, 30), qos }), { minLength: 1, maxLength: 4 }) })
    .map((r): Packet => ({ cmd: "subscribe", ...r })),
  fc
    .record({ messageId: id, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 5 }) })
    .map((r): Packet => ({ cmd: "suback", ...r })),
  fc
    .record({ messageId: id, unsubscriptions: fc.array(text(1, 30), { minLength: 1, maxLength: 4 }) })
    .map((r): Packet => ({ cmd: "unsubscribe", ...r })),
  fc.constantFrom<Packet>({ cmd: "pingreq" }, { cmd: "pingresp" }, { cmd: "disconnect" }),
);

/** Our packet as mqtt-packet's object. */
function toRef(p: Packet): any {
  switch (p.cmd) {
    case "connect": {
      const r: any = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: p.clientId, keepalive: p.keepalive, clean: p.clean };
      if (p.will) r.will = { topic: p.will.topic, payload: Buffer.from(p.will.payload), qos: p.will.qos, retain: p.will.retain };
      if (p.username !== undefined) r.username = p.username;
      if (p.password !== undefined) r.password = Buffer.from(p.password);
      return r;
    }
    case "publish":
      return { ...p, payload: Buffer.from(p.payload) };
    default:
      return { ...p };
  }
}

/** mqtt-packet's parsed object reduced to our shape. */
function fromRef(r: any): Packet {
  const u8 = (b: Buffer) => new Uint8Array(b);
  switch (r.cmd) {
    case "connect": {
      const p: Packet = { cmd: "connect", clientId: r.clientId, keepalive: r.keepalive, clean: r.clean };
      if (r.will) p.will = { topic: r.will.topic, payload: u8(r.will.payload), qos: r.will.qos, retain: r.will.retain };
      if (r.username !== undefined) p.username = r.username;
      if (r.password !== undefined) p.password = u8(r.password);
      return p;
    }
    case "connack":
      return { cmd: "connack", sessionPresent: r.sessionPresent, returnCode: r.returnCode };
    case "publish": {
      const p: Packet = { cmd: "publish", topic: r.topic, payload: u8(r.payload), qos: r.qos, dup: r.dup, retain: r.retain };
      if (r.qos > 0) p.messageId = r.messageId;
      return p;
    }
    case "puback":
    case "unsuback":
      return { cmd: r.cmd, messageId: r.messageId };
    case "subscribe":
      return { cmd: "subscribe", messageId: r.messageId, subscriptions: r.subscriptions.map((s: any) => ({ topic: s.topic, qos: s.qos })) };
    case "suback":
      return { cmd: "suback", messageId: r.messageId, granted: r.granted };
    case "unsubscribe":
      return { cmd: "unsubscribe", messageId: r.messageId, unsubscriptions: r.unsubscriptions };
    default:
      return { cmd: r.cmd };
  }
}

function refParse(bytes: Uint8Array): any[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const out: any[] = [];
  const errors: Error[] = [];
  parser.on("packet", (p: any) => out.push(p));
  parser.on("error", (e: Error) => errors.push(e));
  parser.parse(Buffer.from(bytes));
  if (errors.length) throw errors[0];
  return out;
}

/** Splits bytes at the given cut points (fractions), feeding the pieces one by one. */
function feedChunks(parser: Parser, bytes: Uint8Array, cuts: number[]): { packets: Packet[]; err?: string } {
  const points = cuts.map((c) => Math.floor(c * bytes.length)).sort((a, b) => a - b);
  const packets: Packet[] = [];
  let last = 0;
  for (const at of points.concat([bytes.length])) {
    const err = parser.feed(bytes.subarray(last, at), packets);
    if (err) return { packets, err };
    last = at;
  }
  return { packets };
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

describe("MQTT codec against mqtt-packet", () => {
  test("encode produces mqtt-packet's bytes exactly", () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const ours = encode(p);
        expect(typeof ours).not.toBe("string");
        const ref = mqttPacket.generate(toRef(p), { protocolVersion: 4 });
        expect(Buffer.from(ours as Uint8Array).toString("hex")).toBe(ref.toString("hex"));
      }),
      { numRuns: 3000 },
    );
  });

  test("mqtt-packet parses what we encode back to the same packet", () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const parsed = refParse(encode(p) as Uint8Array);
        expect(parsed.length).toBe(1);
        expect(fromRef(parsed[0])).toEqual(p);
      }),
      { numRuns: 2000 },
    );
  });

  test("our parser decodes mqtt-packet's bytes, fed in arbitrary chunks, to the same packets", () => {
    fc.assert(
      fc.property(fc.array(arbPacket, { minLength: 1, maxLength: 5 }), cuts, (list, cut) => {
        const stream = Buffer.concat(list.map((p) => mqttPacket.generate(toRef(p), { protocolVersion: 4 })));
        const parser = new Parser({ maxPacket: 4096 });
        const r = feedChunks(parser, new Uint8Array(stream), cut);
        expect(r.err).toBeUndefined();
        expect(r.packets).toEqual(list);
      }),
      { numRuns: 2000 },
    );
  });

  test("random bytes never throw: whole packets or one specific error code", () => {
    const codes = [E_LENGTH, E_TOO_BIG, E_FLAGS, E_QOS, E_UTF8, E_PROTOCOL, E_ID, E_TYPE];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), cuts, (junk, cut) => {
        const parser = new Parser({ maxPacket: 128 });
        const r = feedChunks(parser, junk, cut);
        if (r.err !== undefined) {
          expect(codes).toContain(r.err);
          // once out of step, the parser refuses more input with the same code
          expect(parser.feed(new Uint8Array([0xc0, 0]), [])).toBe(r.err);
        }
        for (const p of r.packets) expect(typeof encode(p)).not.toBe("string");
      }),
      { numRuns: 3000 },
    );
  });

  test("mutated valid packets either parse like mqtt-packet or fail with a code", () => {
    fc.assert(
      fc.property(arbPacket, fc.nat(), fc.integer({ min: 0, max: 255 }), (p, where, value) => {
        const b = new Uint8Array(encode(p) as Uint8Array);
        b[where % b.length] = value;
        const parser = new Parser({ maxPacket: 4096 });
        const out: Packet[] = [];
        const err = parser.feed(b, out);
        if (err === undefined && out.length === 1) {
          // what we accept re-encodes to the very bytes it was parsed from
          const again = encode(out[0]) as Uint8Array;
          expect(Buffer.from(again).toString("hex")).toBe(Buffer.from(b.subarray(0, again.length)).toString("hex"));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("MQTT codec edge cases", () => {
  const feed = (bytes: number[], max = 4096) => {
    const out: Packet[] = [];
    const err = new Parser({ maxPacket: max }).feed(new Uint8Array(bytes), out);
    return { err, out };
  };

  test("remaining length uses at most four varint bytes", () => {
    expect(feed([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]).err).toBe(E_LENGTH);
    expect(feed([0x30, 0xff, 0xff, 0xff]).err).toBeUndefined(); // incomplete, waits
  });

  test("a packet larger than maxPacket is refused before buffering its body", () => {
    expect(feed([0x90, 0x80, 0x01], 64).err).toBe(E_TOO_BIG);
    expect(feed([0x30, 0x80, 0x01, 0x00, 0x70], 64).err).toBe(E_TOO_BIG); // a PUBLISH whose topic alone is too large
  });

  test("an oversized PUBLISH comes out as its head with its size, and the stream stays in step", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 300 }), fc.constantFrom(0, 1), (extra, chunk, qos) => {
        const payload = new Uint8Array(100 + extra).map((_, i) => i & 255);
        const big = encode({ cmd: "publish", topic: "t/x", payload, qos, dup: false, retain: false, messageId: qos ? 7 : undefined }) as Uint8Array;
        const next = encode({ cmd: "puback", messageId: 3 }) as Uint8Array;
        const all = new Uint8Array(big.length + next.length);
        all.set(big);
        all.set(next, big.length);
        const parser = new Parser({ maxPacket: 64 });
        const out: Packet[] = [];
        for (let at = 0; at < all.length; at += chunk) expect(parser.feed(all.subarray(at, at + chunk), out)).toBeUndefined();
        expect(out.length).toBe(2);
        const p = out[0] as any;
        expect(p).toMatchObject({ cmd: "publish", topic: "t/x", qos, oversize: payload.length });
        expect(Array.from(p.payload)).toEqual(Array.from(payload.subarray(0, 32)));
        expect(out[1]).toEqual({ cmd: "puback", messageId: 3 });
      }),
      { numRuns: 300 },
    );
  });

  test("header flags, qos 3, reserved types and bad protocol are specific errors", () => {
    expect(feed([0x82 & 0xf0, 0x05, 0, 1, 0, 1, 0x61]).err).toBe(E_FLAGS); // SUBSCRIBE without 0b0010
    expect(feed([0x36, 0x03, 0, 1, 0x61]).err).toBe(E_QOS);
    expect(feed([0xf0, 0x00]).err).toBe(E_TYPE);
    expect(feed([0x00, 0x00]).err).toBe(E_TYPE);
    expect(feed([0x10, 0x0c, 0, 4, 0x4d, 0x51, 0x49, 0x73, 4, 2, 0, 60, 0, 0]).err).toBe(E_PROTOCOL);
    expect(feed([0x40, 0x02, 0, 0]).err).toBe(E_ID);
    expect(feed([0x30, 0x04, 0, 2, 0xc0, 0x80]).err).toBe(E_UTF8); // overlong encoding
    expect(feed([0xc0, 0x01, 0x00]).err).toBe(E_LENGTH);
  });

  test("encode refuses what it cannot send", () => {
    expect(encode({ cmd: "publish", topic: "t", payload: new Uint8Array(0), qos: 1, dup: false, retain: false })).toBe(E_ID);
    expect(encode({ cmd: "publish", topic: "t", payload: new Uint8Array(0), qos: 3, dup: false, retain: false })).toBe(E_QOS);
    expect(encode({ cmd: "puback", messageId: 0 })).toBe(E_ID);
    expect(encode({ cmd: "connect", clientId: "", keepalive: 10, clean: false })).toBe("mqtt_field");
  });

  test("utf8 helpers agree with Buffer on well-formed text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 30 }), (s) => {
        const ours = utf8Encode(s);
        expect(Buffer.from(ours).equals(Buffer.from(s, "utf8"))).toBe(true);
        const back = Buffer.from(s, "utf8").toString("utf8");
        if (back === s) expect(utf8Decode(ours, 0, ours.length)).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });
});
