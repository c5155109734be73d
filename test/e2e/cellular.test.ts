/**
 * The owner's side over a real broker (mosquitto, started here on a
 * loopback port): the whole simulated box reaches it through the BG96
 * emulator's real TCP bridge. The owner pushes a grant, revokes another,
 * unlocks remotely, and sees every event once and in order, including the
 * ones the box recorded while the modem had no coverage.
 */
import mqtt from "mqtt";
import { SimBox } from "../../sim/box";
import { VirtualClock } from "../../sim/clock";
import { EventFollower, WireEvent } from "../../sim/owner/follow";
import { makeCommand, signCommand } from "../../sim/owner/sign";
import { topicsFor } from "../../firmware/uplink/topics";
import { PERM_LOCK, PERM_UNLOCK } from "../../firmware/grants/codec";
import { Phone } from "../ble/helpers";
import { MSG_UNLOCK } from "../../firmware/ble/protocol";
import { findMosquitto, freePort, Mosquitto } from "../mqtt/mosquitto";
import { mint, testKey, T0 } from "../grants/helpers";

const BOX = "KB-CELL01";
const owner = testKey(11);
const topics = topicsFor(BOX);
const bin = findMosquitto();
if (!bin && process.env.CI) throw new Error("mosquitto is not installed: .ci/run installs it from Debian's packages");
const maybe = bin ? describe : describe.skip;

/**
 * Advances virtual time in small steps until cond holds, yielding a few real
 * milliseconds per step so bytes can cross the real sockets (box -> broker ->
 * owner). Bounded in both virtual and real time.
 */
async function runUntil(clock: VirtualClock, cond: () => boolean, o: { stepMs?: number; maxVirtualMs?: number; realTimeoutMs?: number } = {}): Promise<void> {
  const step = o.stepMs === undefined ? 50 : o.stepMs;
  const start = clock.monotonic();
  const end = Date.now() + (o.realTimeoutMs === undefined ? 20000 : o.realTimeoutMs);
  while (!cond()) {
    if (clock.monotonic() - start > (o.maxVirtualMs === undefined ? 600000 : o.maxVirtualMs)) throw new Error("runUntil: virtual time limit");
    if (Date.now() > end) throw new Error("runUntil: real time limit");
    clock.advance(step);
    await new Promise((r) => setTimeout(r, 2));
  }
}

maybe("the owner over a real MQTT broker", () => {
  let broker: Mosquitto;
  let client: mqtt.MqttClient;
  let box: SimBox;
  const follower = new EventFollower();
  const seen: WireEvent[] = [];
  const replies: Array<{ id: string; ok: boolean; reason: string }> = [];

  beforeAll(async () => {
    broker = new Mosquitto(bin!, await freePort());
    await broker.start();
    client = mqtt.connect("mqtt://127.0.0.1:" + broker.port, { clientId: "owner-e2e", clean: false, protocolVersion: 4, reconnectPeriod: 200 });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await client.subscribeAsync([topics.events, topics.reply], { qos: 1 });
    client.on("message", (topic, payload) => {
      if (topic === topics.events) seen.push(...follower.feed(payload));
      if (topic === topics.reply) replies.push(JSON.parse(payload.toString()));
    });
  }, 30000);

  afterAll(async () => {
    if (box) box.close();
    if (client) await client.endAsync();
    if (broker) await broker.stop();
  });

  /** Sends a signed command and advances the box until the owner has its reply. */
  async function command(kind: "grant" | "revoke" | "unlock", arg?: Uint8Array): Promise<{ ok: boolean; reason: string }> {
    const c = makeCommand({ kind, keyId: owner.id, boxId: BOX, arg, now: Math.floor(box.clock.wall()) });
    await client.publishAsync(topics.cmd, Buffer.from(signCommand(c, owner.secretKey)), { qos: 1 });
    try {
      await runUntil(box.clock, () => replies.some((r) => r.id === c.id), { realTimeoutMs: 20000, maxVirtualMs: 120000 });
    } catch (e) {
      throw new Error(kind + " got no reply; box events: " + box.events.map((x) => x.type + "/" + x.reason).join(" "));
    }
    return replies.find((r) => r.id === c.id)!;
  }

  function present(g: Uint8Array): string | undefined {
    const phone = new Phone(box.ble, box.clock);
    phone.connect(true);
    box.run(100);
    phone.send(MSG_UNLOCK, g);
    box.run(500);
    const r = phone.take().find((x) => x.type === "result") as { reason: string } | undefined;
    phone.drop();
    box.run(100);
    return r && r.reason;
  }

  it("pushes a grant, revokes another, unlocks remotely, and hears every event once, in order, across a coverage gap", async () => {
    const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
    // The MQTT path under test, not the field duty cycle: the link stays up a minute and retries every 15.
    const link = { idleMs: 60000, pollMs: 900000, pollMaxMs: 900000, batchMs: 300000 };
    box = new SimBox({ config: { boxId: BOX, link }, provisioning, broker: { host: "127.0.0.1", port: broker.port }, now: T0 + 600 });
    box.boot();
    await runUntil(box.clock, () => box.events.some((e) => e.type === "link" && e.reason === "up"), { realTimeoutMs: 20000 });

    const pushed = mint(owner, { boxId: BOX, grantId: "0000000000000c01", notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK | PERM_LOCK, uses: 2 });
    const doomed = mint(owner, { boxId: BOX, grantId: "0000000000000c02", notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK, uses: 2 });
    expect(await command("grant", pushed)).toEqual(expect.objectContaining({ ok: true }));
    const revokeArg = new Uint8Array(12);
    revokeArg.set(Buffer.from("0000000000000c02", "hex"), 0);
    new DataView(revokeArg.buffer).setUint32(8, T0 + 86400);
    expect(await command("revoke", revokeArg)).toEqual(expect.objectContaining({ ok: true }));
    expect(await command("unlock")).toEqual(expect.objectContaining({ ok: true }));
    await runUntil(box.clock, () => box.firmware!.status().latch === "open", { realTimeoutMs: 10000 });
    await runUntil(box.clock, () => box.firmware!.status().latch === "locked", { realTimeoutMs: 20000, maxVirtualMs: 120000 });

    // The modem loses coverage; the box keeps recording.
    box.cellular.setCoverage("none");
    await runUntil(box.clock, () => box.events.some((e) => e.type === "link" && e.reason === "down"), { realTimeoutMs: 20000, maxVirtualMs: 600000 });
    const before = seen.length;
    expect(present(doomed)).toBe("revoked");
    expect(present(pushed)).toBe("granted");
    box.run(35000);
    expect(box.firmware!.status().latch).toBe("locked");
    box.run(5000);
    expect(seen.length).toBe(before);

    // Coverage returns: everything recorded meanwhile arrives, once and in order.
    box.cellular.setCoverage("home");
    // The box abandoned its session while there was no network and tries again on its back-off (at most
    // 15 minutes here): until the modem powers up, nothing needs real I/O.
    const logsBefore = box.logs.length;
    for (let i = 0; i < 100 && !box.logs.slice(logsBefore).some((l) => /^modem power_on/.test(l)); i++) box.run(10_000);
    const last = () => box.events.length;
    await runUntil(box.clock, () => seen.length > 0 && seen[seen.length - 1].type === box.events[last() - 1].type && seen.length >= last() - 2, {
      realTimeoutMs: 30000,
      maxVirtualMs: 900000,
      stepMs: 200,
    });
    box.run(2000);
    await new Promise((r) => setTimeout(r, 300));

    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    expect(follower.waiting).toBe(0);
    const owned = seen.map((e) => e.type + "/" + e.reason);
    const local = box.events.map((e) => e.type + "/" + e.reason);
    expect(owned).toEqual(local.slice(0, owned.length));
    expect(owned.length).toBeGreaterThanOrEqual(local.length - 3);
    for (const must of ["grants/keys", "cmd/done", "grants/revoked_grant", "access/revoked", "access/granted", "link/down", "latch/open", "latch/locked"]) expect(owned).toContain(must);
    // The offline refusal and grant came after the link went down, and before it came back.
    const down = owned.indexOf("link/down");
    expect(owned.indexOf("access/revoked")).toBeGreaterThan(down);
  }, 120000);
});
