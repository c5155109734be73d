import { SimBox } from "../sim/box";

describe("the box on the simulator", () => {
  it("boots locked, reports it as an event, advertises its id and blinks a heartbeat", () => {
    const box = new SimBox({ config: { boxId: "KB-TEST01", heartbeatMs: 2000 } });
    const fw = box.boot();
    expect(fw.status()).toEqual(expect.objectContaining({ boxId: "KB-TEST01", latch: "locked", lidClosed: true, keyPresent: true }));
    box.run(0);
    expect(box.events.find((e) => e.type === "boot")).toEqual(expect.objectContaining({ reason: "locked", d: { version: fw.status().version, keys: 0, tables: 0 } }));
    expect(box.ble.advertisement!.name).toContain("KB-TEST01");
    expect(box.ble.consoleExposed).toBe(false);
    box.run(10_100);
    expect(box.led.history.filter((h) => h.on).length).toBe(5);
    expect(box.led.on).toBe(false);
    expect(box.latch.log.every((r) => r.direction === "stop")).toBe(true);
    expect(box.watchdog.enabledWith).toBeGreaterThan(0);
    box.close();
    expect(box.clock.pending()).toBe(0);
  });

  it("never drives the bolt open on boot: a retracted bolt with the lid shut is relocked", () => {
    const box = new SimBox();
    box.latch.force(0);
    box.run(100);
    const fw = box.boot();
    box.run(60_000);
    expect(box.latch.log.filter((r) => r.direction === "open")).toEqual([]);
    expect(fw.status().latch).toBe("locked");
    expect(box.latch.where()).toBeGreaterThanOrEqual(0.95);
    box.close();
  });

  it("refuses an unusable configuration with a specific code", () => {
    expect(() => new SimBox({ config: { boxId: "" } }).boot()).toThrow("config_box_id");
    expect(() => new SimBox({ config: { latch: { maxDriveMs: 5 } } }).boot()).toThrow("config_max_drive");
  });

  it("a watchdog bite reboots into a safe state with the bolt where it was", () => {
    const box = new SimBox();
    box.boot();
    box.run(1000);
    box.firmware!.close();
    box.run(31_000);
    expect(box.boots).toBe(2);
    box.run(1000);
    expect(box.firmware!.status().latch).toBe("locked");
    box.close();
  });
});
