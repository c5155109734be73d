/**
 * Issue 11 point 5 and issue 13 point 6, on the whole simulated box: the
 * phone hears "granted" only once the latch's motor started, else the real
 * reason; a use is spent only when the box opened; below the delivery
 * threshold the owner's admin grant still opens, down to the reserve.
 */
import { SimBox } from "../../sim/box";
import { bootedBox } from "./installed";
import { Phone } from "../ble/helpers";
import { MSG_LOCK, MSG_UNLOCK } from "../../firmware/ble/protocol";
import { PERM_ADMIN, PERM_LOCK, PERM_UNLOCK } from "../../firmware/grants/codec";
import { mint, testKey, T0 } from "../grants/helpers";

const BOX = "KB-HRD001";
const owner = testKey(7);

function newBox(): SimBox {
  return bootedBox(BOX, owner);
}

function grant(id: string, perms = PERM_UNLOCK | PERM_LOCK, uses = 1) {
  return mint(owner, { boxId: BOX, grantId: id, notBefore: T0, notAfter: T0 + 86400, perms, uses });
}

/** Presents a grant and returns the first answer the phone gets (result reason or error code) and when, in ms after the request. */
function present(box: SimBox, g: Uint8Array, type = MSG_UNLOCK, during?: () => void) {
  const phone = new Phone(box.ble, box.clock);
  expect(phone.connect(true)).toBe(true);
  box.run(100);
  phone.send(type, g);
  if (during) during();
  box.run(6000);
  const all = phone.take();
  const r = all.find((m) => m.type === "result" || m.type === "error") as { reason?: string; code?: string } | undefined;
  phone.drop();
  box.run(100);
  return { reason: r ? r.reason || r.code : undefined, progress: all.filter((m) => m.type === "progress").map((m) => (m as { state: string }).state) };
}

describe("granted only once the latch started; a use only for a box that opened", () => {
  it("the battery sags during the motor's cool-down: the phone hears low_battery and the single-use grant is not spent", () => {
    const box = newBox();
    const many = grant("00000000000000b1", PERM_UNLOCK | PERM_LOCK, 255);
    expect(present(box, many).reason).toBe("granted");
    const g = grant("00000000000000b2");
    // relock, and ask to open again while the motor is still cooling down after the relock
    const phone = new Phone(box.ble, box.clock);
    expect(phone.connect(true)).toBe(true);
    box.run(100);
    phone.send(MSG_LOCK, many);
    for (let i = 0; i < 300 && box.firmware!.status().latch !== "locked"; i++) box.run(10);
    expect(box.firmware!.status().latch).toBe("locked");
    phone.take();
    phone.send(MSG_UNLOCK, g);
    box.run(60); // decided; the motor rests out its cool-down before it may start
    box.battery.setMillivolts(3300);
    box.run(3000);
    const r = phone.take().find((m) => m.type === "result") as { reason: string } | undefined;
    let answer = { reason: r ? r.reason : undefined };
    phone.drop();
    box.run(100);
    expect(answer.reason).toBe("low_battery");
    expect(box.firmware!.access.usesOf("00000000000000b2")).toBe(0);
    expect(box.firmware!.status().latch).toBe("locked");
    const b2 = box.events.filter((e) => e.type === "access" && e.d && e.d.g === "00000000000000b2").map((e) => e.reason);
    expect(b2).toEqual(["low_battery"]);
    // with a good battery the same grant still opens, once
    box.battery.setMillivolts(3900);
    box.run(200_000);
    answer = present(box, g);
    expect(answer.reason).toBe("granted");
    expect(box.firmware!.access.usesOf("00000000000000b2")).toBe(1);
  });

  it("a jammed bolt: the motor started (granted), the box never opened, and the use is given back", () => {
    const box = newBox();
    box.latch.jam(true);
    const g = grant("00000000000000c1");
    const answer = present(box, g);
    expect(answer.reason).toBe("granted");
    box.run(20_000);
    expect(box.firmware!.status().latch).toBe("fault");
    expect(box.firmware!.access.usesOf("00000000000000c1")).toBe(0);
    expect(box.events.some((e) => e.type === "access" && e.reason === "use_refunded")).toBe(true);
    // the events say it in order: the latch moved, then the decision, then the refund
    const story = box.events.filter((e) => e.type === "access" || e.type === "latch").map((e) => e.type + ":" + e.reason);
    expect(story.indexOf("latch:unlocking")).toBeLessThan(story.indexOf("access:granted"));
    expect(story.indexOf("access:granted")).toBeLessThan(story.indexOf("access:use_refunded"));
  });
});

describe("a flat battery keeps a reserve for the owner", () => {
  it("below the delivery threshold a delivery is refused, the owner is told, and the owner's admin grant opens for one last cycle", () => {
    const box = newBox();
    box.battery.setMillivolts(3460); // under deliveryMv 3500, over reserveMv 3430
    box.run(4 * 60_000); // the monitor's median of three samples
    expect(box.events.some((e) => e.type === "power" && e.reason === "battery_reserve")).toBe(true);
    expect(present(box, grant("00000000000000d1")).reason).toBe("low_battery");
    expect(box.firmware!.access.usesOf("00000000000000d1")).toBe(0);
    expect(box.events.some((e) => e.type === "power" && e.reason === "reserve_kept")).toBe(true);
    const admin = grant("00000000000000d2", PERM_UNLOCK | PERM_LOCK | PERM_ADMIN, 5);
    const opened = present(box, admin);
    expect(opened.reason).toBe("granted");
    expect(box.firmware!.status().latch).toBe("open");
    // and it relocks (lock is allowed down to the motor's own floor)
    expect(present(box, admin, MSG_LOCK).reason).toBe("granted");
    expect(box.firmware!.status().latch).toBe("locked");
    // below the reserve nobody opens: the motor could not finish a cycle and relock
    box.battery.setMillivolts(3410);
    expect(present(box, admin).reason).toBe("low_battery");
  });
});
