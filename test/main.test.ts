import { SimBox } from "../sim/box";

describe("the first vertical slice on the simulator", () => {
  it("boots locked, reports it as an event, advertises its id and blinks a heartbeat", () => {
    const box = new SimBox({ config: { boxId: "KB-TEST01", heartbeatMs: 2000 } });
    const fw = box.boot();
    expect(fw.status()).toEqual(expect.objectContaining({ boxId: "KB-TEST01", latch: "locked" }));
    box.run(0);
    expect(box.events[0]).toEqual(expect.objectContaining({ type: "boot", reason: "locked" }));
    expect(box.ble.advertisement!.name).toBe("Keybox KB-TEST01");
    box.run(10_100);
    const blinks = box.led.history.filter((h) => h.on).length;
    expect(blinks).toBe(5);
    expect(box.led.on).toBe(false);
    expect(box.latch.log.every((r) => r.direction === "stop")).toBe(true);
    box.close();
    expect(box.clock.pending()).toBe(0);
  });

  it("learns an open bolt on boot and never drives the motor to change it", () => {
    const box = new SimBox();
    box.latch.force(0);
    box.run(100);
    const fw = box.boot();
    box.run(60_000);
    expect(fw.status().latch).not.toBe("locked");
    expect(box.latch.where()).toBe(0);
    box.close();
  });

  it("refuses an unusable configuration with a specific code", () => {
    const box = new SimBox({ config: { boxId: "" } });
    expect(() => box.boot()).toThrow("config_box_id");
  });
});
