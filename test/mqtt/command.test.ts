import fc from "fast-check";
import nacl from "tweetnacl";
import { SimFlash } from "../../sim/hw/flash";
import { Journal } from "../../firmware/store/journal";
import { crc32 } from "../../firmware/store/crc32";
import { Command, CommandGuard, decodeCommand, encodeCommandBody, signedMessage, COMMAND_DOMAIN } from "../../firmware/uplink/command";
import { TimeState } from "../../firmware/time/wallclock";
import { makeCommand, signCommand, timeArg } from "../../sim/owner/sign";

const NOW = 1750000000;
const issuer = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(7));
const stranger = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(9));

function guardOn(flash: SimFlash, time: () => TimeState, maxIds?: number) {
  return new CommandGuard({
    boxId: "KB-1",
    verify: (sig, msg, pk) => nacl.sign.detached.verify(msg, sig, pk),
    issuerKey: (id) => (id === 3 ? issuer.publicKey : undefined),
    time,
    log: new Journal({ flash, prefix: "cmd", segmentBytes: 512, maxSegments: 2, crc32 }),
    maxTtlS: 3600,
    maxIds,
  });
}

const known = (now: number) => () => ({ known: true, now });

function cmd(over: Partial<Command> = {}): Command {
  return { ...makeCommand({ kind: "unlock", keyId: 3, boxId: "KB-1", now: NOW, ttlS: 600 }), ...over };
}

describe("signed command codec", () => {
  const arbCmd = fc.record({
    kind: fc.constantFrom("grant", "revoke", "unlock", "config", "time"),
    keyId: fc.integer({ min: 1, max: 65535 }),
    boxId: fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/),
    id: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString("hex")),
    expiry: fc.integer({ min: 0, max: 0xffffffff }),
    argLen: fc.integer({ min: 1, max: 300 }),
  }).map((r): Command => {
    const len = r.kind === "time" ? 4 : r.kind === "unlock" ? 0 : r.kind === "revoke" ? (r.argLen % 2 ? 12 : 2) : r.argLen;
    return { kind: r.kind as Command["kind"], keyId: r.keyId, boxId: r.boxId, id: r.id, expiry: r.expiry, arg: new Uint8Array(len).fill(len & 255) };
  });

  test("decode(encode(c)) is c, and any trailing or missing byte is refused", () => {
    fc.assert(
      fc.property(arbCmd, (c) => {
        const body = encodeCommandBody(c) as Uint8Array;
        const wire = new Uint8Array(body.length + 64);
        wire.set(body); // the codec does no cryptography: any 64 bytes stand in for the signature
        const p = decodeCommand(wire);
        expect(typeof p).not.toBe("string");
        if (typeof p === "string") return;
        expect(p.cmd).toEqual(c);
        const more = new Uint8Array(wire.length + 1);
        more.set(wire);
        expect(decodeCommand(more)).toBe("cmd_trailing");
        expect(typeof decodeCommand(wire.subarray(0, wire.length - 1))).toBe("string");
      }),
      { numRuns: 300 },
    );
  });

  test("random bytes never throw and yield a specific code", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), (b) => {
        const p = decodeCommand(b);
        if (typeof p === "string") expect(p).toMatch(/^cmd_[a-z_]+$/);
      }),
      { numRuns: 1000 },
    );
  });

  test("the signature covers the domain prefix: a signature over the bare body does not verify", () => {
    const c = cmd();
    const body = encodeCommandBody(c) as Uint8Array;
    expect(Buffer.from(signedMessage(body).subarray(0, COMMAND_DOMAIN.length)).toString()).toBe(COMMAND_DOMAIN);
    const bare = nacl.sign.detached(body, issuer.secretKey);
    const wire = new Uint8Array(body.length + 64);
    wire.set(body);
    wire.set(bare, body.length);
    expect(guardOn(new SimFlash(), known(NOW)).admit(wire, { id: "" })).toBe("cmd_signature");
  });
});

describe("CommandGuard", () => {
  test("admits a good command once; a replay does nothing, even after a reboot", () => {
    const flash = new SimFlash();
    const c = cmd();
    const wire = signCommand(c, issuer.secretKey);
    const out = { id: "" };
    expect(guardOn(flash, known(NOW)).admit(wire, out)).toEqual(c);
    expect(out.id).toBe(c.id);
    const g2 = guardOn(flash, known(NOW + 10)); // reboot: the id is remembered in flash
    expect(g2.admit(wire, { id: "" })).toBe("cmd_replay");
  });

  test("each refusal has its own code", () => {
    const g = guardOn(new SimFlash(), known(NOW));
    const admit = (c: Command, key = issuer.secretKey) => g.admit(signCommand(c, key), { id: "" });
    expect(admit(cmd({ boxId: "KB-2" }))).toBe("cmd_box");
    expect(admit(cmd({ keyId: 4 }))).toBe("cmd_key");
    expect(admit(cmd(), stranger.secretKey)).toBe("cmd_signature");
    expect(admit(cmd({ expiry: NOW - 1 }))).toBe("cmd_expired");
    expect(admit(cmd({ expiry: NOW + 7200 }))).toBe("cmd_ttl");
    const tampered = signCommand(cmd({ kind: "grant", arg: new Uint8Array([1, 2, 3]) }), issuer.secretKey);
    tampered[tampered.length - 65] ^= 1; // last argument byte
    expect(g.admit(tampered, { id: "" })).toBe("cmd_signature");
  });

  test("with the clock unknown only a time command is judged, against the time it carries", () => {
    const g = guardOn(new SimFlash(), () => ({ known: false, now: 0 }));
    expect(g.admit(signCommand(cmd(), issuer.secretKey), { id: "" })).toBe("cmd_clock_unknown");
    const t = makeCommand({ kind: "time", keyId: 3, boxId: "KB-1", now: NOW, ttlS: 300, arg: timeArg(NOW) });
    expect(g.admit(signCommand(t, issuer.secretKey), { id: "" })).toEqual(t);
    const far = makeCommand({ kind: "time", keyId: 3, boxId: "KB-1", now: NOW, ttlS: 7200, arg: timeArg(NOW) });
    expect(g.admit(signCommand(far, issuer.secretKey), { id: "" })).toBe("cmd_ttl");
  });

  test("remembered ids are bounded: expired ones are pruned, unexpired ones are never forgotten", () => {
    let now = NOW;
    const g = guardOn(new SimFlash(), () => ({ known: true, now }), 4);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      const w = signCommand(cmd({ expiry: now + 100 }), issuer.secretKey);
      sent.push(w);
      expect(typeof g.admit(w, { id: "" })).toBe("object");
    }
    expect(g.admit(signCommand(cmd({ expiry: now + 100 }), issuer.secretKey), { id: "" })).toBe("cmd_replay_store");
    for (const w of sent) expect(g.admit(w, { id: "" })).toBe("cmd_replay");
    now += 101; // all four expired: room again, and the old ones are refused as expired
    expect(typeof g.admit(signCommand(cmd({ expiry: now + 100 }), issuer.secretKey), { id: "" })).toBe("object");
    for (const w of sent) expect(g.admit(w, { id: "" })).toBe("cmd_expired");
  });
});
