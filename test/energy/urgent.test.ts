/**
 * The power-saving duty cycle keeps its promise: with the modem asleep in
 * PSM, an access decision and a tamper alarm still reach the owner's broker
 * within seconds, while routine events wait for the batch.
 */
import nacl from "tweetnacl";
import { SimBox } from "../../sim/box";
import { VirtualBroker } from "../../sim/energy/broker";
import { deliver, mintGrant } from "../../sim/energy/workload";
import { topicsFor } from "../../firmware/uplink/topics";

const BOX = "KB-URG001";
const issuer = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(4));

function arrived(broker: VirtualBroker, type: string, since: number, reason?: string): number | undefined {
  const r = broker.received.find((m) => {
    if (m.at < since || m.topic !== topicsFor(BOX).events) return false;
    const e = JSON.parse(m.text);
    return e.type === type && (reason === undefined || e.reason === reason);
  });
  return r ? r.at : undefined;
}

describe("urgent events leave at once while the modem sleeps", () => {
  it("an access decision and a tamper alarm reach the broker in seconds; the lid and key events wait for the batch", () => {
    const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: 1, publicKey: Buffer.from(issuer.publicKey).toString("hex") }] });
    const box = new SimBox({ config: { boxId: BOX }, broker: { host: "127.0.0.1", port: 1883 }, provisioning, now: 1780272000 });
    const broker = new VirtualBroker({ clock: box.clock });
    box.cellular.useSockets(() => broker.socket());
    box.boot();
    box.run(600_000);
    expect(box.cellular.radio().power).toBe("psm");

    const t0 = box.clock.monotonic();
    deliver(box, mintGrant(issuer.secretKey, BOX, "00000000000000b1", Math.floor(box.clock.wall()) - 60), () => 0.5);
    box.run(60_000);
    const access = arrived(broker, "access", t0);
    expect(access).toBeDefined();
    expect((access as number) - t0).toBeLessThan(10_000);
    // The lid opened while that session was still up, so it went with it. The driver comes back minutes later:
    // those routine events go with the batch, within its 2 hours.
    box.run(3_600_000);
    const closed = box.events.find((e) => e.type === "lid" && e.reason === "closed");
    expect(closed).toBeDefined();
    expect(arrived(broker, "lid", t0, "closed")).toBeUndefined();
    expect(arrived(broker, "key", t0, "returned")).toBeUndefined();
    box.run(3_600_000 + 600_000);
    const lid = arrived(broker, "lid", t0, "closed");
    expect(lid).toBeDefined();
    expect((lid as number) - (closed as { m: number }).m).toBeLessThanOrEqual(2 * 3_600_000 + 30_000);
    expect(arrived(broker, "key", t0, "returned")).toBeDefined();

    // Asleep again; a sustained shock is a tamper alarm and leaves at once.
    box.run(600_000);
    expect(box.cellular.radio().power).toBe("psm");
    const t1 = box.clock.monotonic();
    box.motion.shake(3000, 6000);
    box.run(60_000);
    const tamper = arrived(broker, "tamper", t1);
    expect(tamper).toBeDefined();
    expect((tamper as number) - t1).toBeLessThan(15_000);
    box.close();
  });
});
