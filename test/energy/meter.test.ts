/**
 * The energy model's accounting: a known sequence of part states, played on
 * the simulated parts without firmware, must cost what the cited figures and
 * the parts' documented timings say, each derived here by hand.
 */
import { SimBox } from "../../sim/box";
import { EnergyMeter } from "../../sim/energy/meter";
import { FIGURES } from "../../sim/energy/figures";

const MC_PER_MAH = 3600;

function near(actualMah: number | undefined, expectedMc: number): void {
  expect(actualMah).toBeDefined();
  const got = (actualMah as number) * MC_PER_MAH;
  expect(Math.abs(got - expectedMc)).toBeLessThanOrEqual(Math.max(1e-6, Math.abs(expectedMc) * 0.01));
}

describe("energy model accounting", () => {
  it("charges each part's states for exactly the time it spends in them", () => {
    const box = new SimBox({});
    const meter = new EnergyMeter({ box });
    const c = box.clock;
    // The world acts inside timers, as a person or the firmware would: the meter samples after each.
    c.after(0, () => box.ble.setRadio({ intervalMs: 1000, txDbm: 0 }));
    c.after(0, () => box.ble.advertise("Keybox T", new Uint8Array([0xff, 0xff, 1, 1])));
    c.after(0, () => box.led.set(true));
    c.after(10_000, () => box.led.set(false));
    c.after(2_000, () => box.buzzer.tone(2000));
    c.after(3_000, () => box.buzzer.tone(0));
    c.after(1_000, () => box.latch.drive("open"));
    c.after(1_200, () => box.latch.drive("stop")); // half the 400 ms stroke: running, never stalled
    c.after(0, () => box.modem.setPowerKey(true));
    c.after(600, () => box.modem.setPowerKey(false));
    box.run(30_000);
    const r = meter.report();
    const F = FIGURES;
    const s = 30;
    near(r.byActivity["nrf52840.sleep"], F.mcuSleep.value * s);
    near(r.byActivity["board.quiescent"], F.board.value * s);
    near(r.byActivity["accelerometer.low-power"], F.accel.value * s);
    near(r.byActivity["led.on"], F.led.value * 10);
    near(r.byActivity["buzzer.on"], F.buzzer.value * 1);
    near(r.byActivity["motor.drive"], 250 * 0.2); // sim/hw/latch.ts runningMa for 200 ms
    // Three channels a second: TX and RX windows at the radio's currents, plus the CPU's share.
    const advUc = 3 * F.advTxPerChannel.value * F.radioTx0.value + 3 * F.advRxPerChannel.value * F.radioRx.value + F.advCpuPerEvent.value * F.mcuRun.value;
    near(r.byActivity["nrf52840.advertising"], (advUc / 1000) * s);
    // The BG96 emulator's documented delays: released at 0.6 s, RDY 4.8 s later, APP RDY 1.5 s after that,
    // registered 4 s later (one transfer on the air), RRC released 10 s after, then idle with DRX.
    near(r.byActivity["bg96.off"], F.modemOff.value * 0.6);
    near(r.byActivity["bg96.booting"], F.modemBooting.value * 4.8);
    near(r.byActivity["bg96.searching"], F.modemSearching.value * 5.5);
    near(r.byActivity["bg96.connected"], F.modemConnected.value * 10);
    near(r.byActivity["bg96.idle-drx"], F.modemIdleDrx.value * (30 - 0.6 - 4.8 - 5.5 - 10));
    near(r.byActivity["bg96.transmit"], (F.modemTxBurst.value * F.modemTx.value) / 1000);
    near(r.byActivity["nrf52840.uart"], F.uartOn.value * (30 - 0.6));
    // Life on the cell: capacity over the average current plus self-discharge.
    const selfMa = (r.capacityMah * 0.02) / (30.44 * 24);
    const avgMa = r.chargeMah / (30 / 3600);
    expect(r.averageMa).toBeCloseTo(avgMa, 9);
    expect(r.selfDischargeMa).toBeCloseTo(selfMa, 9);
    expect(r.lifeDays).toBeCloseTo(r.capacityMah / (avgMa + selfMa) / 24, 6);
    expect(r.byPart["self-discharge"]).toBeCloseTo(selfMa * (30 / 3600), 9);
    meter.close();
    box.close();
  });

  it("counts what the firmware does in bursts: interpreter wakes, and signature checks by their E.convolve calls", () => {
    const box = new SimBox({});
    const meter = new EnergyMeter({ box });
    // Three firmware timers due at two distinct instants: two wakes of the interpreter.
    box.hal.clock.after(100, () => undefined);
    box.hal.clock.after(100, () => undefined);
    box.hal.clock.after(200, () => undefined);
    const conv = box.hal.accel.convolve!;
    const a = new Float64Array(16).fill(1);
    for (let i = 0; i < 1000; i++) conv(a, a, i % 16);
    box.run(1000);
    const r = meter.report();
    near(r.byActivity["nrf52840.cpu"], (2 * FIGURES.jsWake.value * FIGURES.mcuRun.value) / 1000);
    near(r.byActivity["nrf52840.verify"], (1000 * FIGURES.convolveCall.value * FIGURES.mcuRun.value) / 1000);
    meter.close();
    box.close();
  });
});
