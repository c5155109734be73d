/**
 * Issue 16 point 5, the way a never-seen grant takes to the motor: only
 * what must come first runs before the motor starts (the back-off's charge,
 * the decision, the drive marker, the use written to flash); the events the
 * decision reports, the radio's updates and the answer "granted" follow on
 * the next tick, in the order they happened, with their own times. Nothing
 * is lost on the way: every event reaches its listeners.
 */
import { SimBox } from "../../sim/box";
import { SimCodeArea } from "../../sim/hw/codearea";
import { openPool } from "../../firmware/store/pagefiles";
import { crc32 } from "../../sim/hw/system";
import { Phone } from "../ble/helpers";
import { MSG_LOCK, MSG_UNLOCK } from "../../firmware/ble/protocol";
import { GrantStore } from "../../firmware/grants/store";
import { EventBus } from "../../firmware/events";
import { mint, malleate, testKey, T0 } from "../grants/helpers";
import { PERM_LOCK, PERM_UNLOCK } from "../../firmware/grants/codec";

const BOX = "KB-FIRST01";
const owner = testKey(9);

function newBox(): SimBox {
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
  const box = new SimBox({ config: { boxId: BOX }, provisioning, now: T0 + 3600 });
  box.boot();
  box.run(30_000);
  return box;
}

/** A box with a phone connected over an encrypted link, and how many events it has emitted so far. */
function connected(): { box: SimBox; phone: Phone; before: number } {
  const box = newBox();
  const phone = new Phone(box.ble, box.clock);
  expect(phone.connect(true)).toBe(true);
  box.run(100);
  return { box, phone, before: box.events.length };
}

const grant = (id: string) => mint(owner, { boxId: BOX, grantId: id, notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK, uses: 1 });

describe("a grant on its way to the motor", () => {
  it("the use is on flash and the motor turns before the events, the radio's updates and the answer, which follow in order", () => {
    const { box, phone, before } = connected();
    let atStart: { events: string[]; answers: string[]; uses: number; at: number } | undefined;
    const drive = box.latch.drive.bind(box.latch);
    box.latch.drive = (d) => {
      if (d === "open" && !atStart) {
        // What a power cut at this instant would leave: the use, read back from the journal pool as a reboot would.
        const pool = openPool(new SimCodeArea({ image: box.codeArea.image() }), crc32);
        if (typeof pool === "string") throw new Error(pool);
        const store = new GrantStore({ flash: pool, crc32 });
        atStart = {
          events: box.events.slice(before).map((e) => e.type + "/" + e.reason),
          answers: phone.take().map((m) => m.type),
          uses: store.usesOf("00000000000000f1"),
          at: box.clock.monotonic(),
        };
      }
      drive(d);
    };
    phone.send(MSG_UNLOCK, grant("00000000000000f1"));
    box.run(2000);
    expect(atStart).toBeDefined();
    expect(atStart!.uses).toBe(1);
    expect(atStart!.answers).toEqual([]);
    expect(atStart!.events).toEqual([]);
    const after = box.events.slice(before);
    const order = after.map((e) => e.type + "/" + e.reason);
    const unlocking = order.indexOf("latch/unlocking");
    const granted = order.indexOf("access/granted");
    expect(unlocking).toBeGreaterThanOrEqual(0);
    expect(granted).toBeGreaterThan(unlocking);
    // Stamped when they happened, not when they were delivered.
    expect(after[unlocking].m).toBeLessThanOrEqual(atStart!.at);
    const answers = phone.take();
    expect(answers.find((m) => m.type === "result")).toMatchObject({ reason: "granted" });
  });

  it("a motor that must first cool down does not hold the events back: they go out within 20 ms, before it starts", () => {
    const { box, phone } = connected();
    const g = mint(owner, { boxId: BOX, grantId: "00000000000000f3", notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK | PERM_LOCK, uses: 255 });
    phone.send(MSG_UNLOCK, g);
    for (let i = 0; i < 500 && box.firmware!.status().latch !== "open"; i++) box.run(5);
    expect(box.firmware!.status().latch).toBe("open");
    const before = box.events.length;
    const closes = () => box.latch.log.filter((l) => l.direction === "close").length;
    const closed = closes();
    phone.send(MSG_LOCK, g);
    let heard = -1;
    for (let t = 0; t < 400 && heard < 0; t += 5) {
      box.run(5);
      if (box.events.slice(before).some((e) => e.type === "latch" && e.reason === "locking")) heard = box.clock.monotonic();
    }
    expect(heard).toBeGreaterThan(0);
    // The event is out, the motor still cooling down.
    expect(closes()).toBe(closed);
    box.run(2000);
    expect(closes()).toBe(closed + 1);
    expect(box.events.slice(before).map((e) => e.type + "/" + e.reason)).toContain("access/granted");
  });

  it("a refusal is reported as before, with its reason, and the motor never runs", () => {
    const { box, phone, before } = connected();
    phone.send(MSG_UNLOCK, malleate(grant("00000000000000f2")));
    box.run(200);
    expect(box.events.slice(before).map((e) => e.type + "/" + e.reason)).toContain("access/bad_signature");
    expect(phone.take().find((m) => m.type === "result")).toMatchObject({ reason: "bad_signature" });
    box.run(2000);
    expect(box.latch.log.filter((l) => l.direction === "open")).toEqual([]);
  });
});

describe("the event bus's hold", () => {
  it("delivers what was emitted and asked for while held, in order, at the last release; nothing while held", () => {
    let t = 0;
    const bus = new EventBus({ now: () => ({ t: 0, m: t }) });
    const seen: string[] = [];
    bus.on((e) => seen.push(e.reason + "@" + e.m));
    bus.emit("x", "before");
    const outer = bus.hold();
    t = 1;
    bus.emit("x", "a");
    bus.later(() => seen.push("work"));
    const inner = bus.hold();
    t = 2;
    bus.emit("x", "b");
    outer();
    outer();
    expect(seen).toEqual(["before@0"]);
    inner();
    expect(seen).toEqual(["before@0", "a@1", "work", "b@2"]);
    bus.later(() => seen.push("now"));
    expect(seen[seen.length - 1]).toBe("now");
  });

  it("a listener that throws does not keep the rest: they go out at the next emit", () => {
    const bus = new EventBus({ now: () => ({ t: 0, m: 0 }) });
    const seen: string[] = [];
    let boom = true;
    bus.on((e) => {
      if (boom && e.reason === "a") {
        boom = false;
        throw new Error("listener");
      }
      seen.push(e.reason);
    });
    const release = bus.hold();
    bus.emit("x", "a");
    bus.emit("x", "b");
    expect(() => release()).toThrow("listener");
    expect(seen).toEqual([]);
    bus.emit("x", "c");
    expect(seen).toEqual(["b", "c"]);
  });
});
