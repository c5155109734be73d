/**
 * Every current and duration the energy model uses, each with where it
 * comes from. "datasheet" figures are typical values from the part's own
 * document (section named); "estimate" figures are engineering estimates,
 * derived as stated, to be replaced by bench measurements of a real box.
 * Currents in mA, times in ms, charges in mC (mA x s).
 */
export interface Figure {
  value: number;
  unit: "mA" | "ms" | "mC" | "B/ms";
  kind: "datasheet" | "estimate";
  source: string;
}

function f(value: number, unit: Figure["unit"], kind: Figure["kind"], source: string): Figure {
  return { value, unit, kind, source };
}

const NRF_PS = "Nordic nRF52840 Product Specification v1.7";
const BG96_HD = "Quectel BG96 Hardware Design V1.x, 6.4 Current Consumption (LTE Cat M1, VBAT 3.8 V)";

export const FIGURES = {
  // ---- nRF52840 (DC/DC on, 3 V) -------------------------------------------------------
  /** CPU off between events, RAM retained, RTC on the 32 kHz clock: Espruino's idle. */
  mcuSleep: f(0.00316, "mA", "datasheet", NRF_PS + ", 5.2.1 Sleep: I_ON_RAMON_RTC (System ON, full RAM retention, wake on RTC)"),
  /** CPU running from flash at 64 MHz. */
  mcuRun: f(3.3, "mA", "datasheet", NRF_PS + ", 5.2.3 CPU running: I_CPU0 (CoreMark from flash, 64 MHz, DC/DC)"),
  /** Radio TX at 0 dBm, 1 Mbit/s BLE. */
  radioTx0: f(4.8, "mA", "datasheet", NRF_PS + ", 5.2.4 Radio transmitting/receiving: I_TX,0dBm,DCDC"),
  /** Radio TX at +8 dBm. */
  radioTx8: f(14.8, "mA", "datasheet", NRF_PS + ", 5.2.4 Radio transmitting/receiving: I_TX,8dBm,DCDC"),
  /** Radio RX, 1 Mbit/s BLE. */
  radioRx: f(4.6, "mA", "datasheet", NRF_PS + ", 5.2.4 Radio transmitting/receiving: I_RX,1M,DCDC"),
  /**
   * Radio-on time of one advertising channel: a 31-byte ADV_IND is
   * (1 + 4 + 2 + 31 + 3) bytes x 8 us = 328 us on air, plus the 140 us TX
   * ramp-up (RADIO tTXEN, default ramp-up).
   */
  advTxPerChannel: f(0.468, "ms", "estimate", "derived: Bluetooth Core 5.x LE 1M packet format and " + NRF_PS + ", 6.20 RADIO timing tTXEN"),
  /** Listening for a SCAN_REQ/CONNECT_IND after each ADV_IND (T_IFS 150 us plus the packet). */
  advRxPerChannel: f(0.2, "ms", "estimate", "derived: Bluetooth Core 5.x T_IFS = 150 us plus address match"),
  /** CPU and HFXO start-up around each advertising event (SoftDevice radio notification to sleep). */
  advCpuPerEvent: f(0.5, "ms", "estimate", "estimate of SoftDevice event processing at mcuRun"),
  /** Average while a central is connected (connection events every 7.5-30 ms, ~1 ms of radio each). */
  bleConnected: f(0.6, "mA", "estimate", "estimate: ~1 ms TX/RX at 4.7 mA per 7.5 ms connection event, Espruino's default fast interval"),
  /** One wake of the interpreter to run a timer callback (the JS, then back to sleep). */
  jsWake: f(2, "ms", "estimate", "estimate of Espruino's cost to wake and run a short JS callback at mcuRun"),
  /** Interpreting received modem bytes (Serial1 'data' events and the AT parser), per byte. */
  uartPerByte: f(0.02, "ms", "estimate", "estimate: Espruino handles UART data in JS, ~50 bytes per ms"),
  /** UARTE receiver and HFCLK held on while the modem's UART is in use. */
  uartOn: f(0.6, "mA", "estimate", "estimate: UARTE RX keeps the 64 MHz clock and EasyDMA on; Nordic DevZone reports ~0.5-1 mA"),
  /**
   * One E.convolve call of the Ed25519 field multiplication, with its
   * interpreted carry pass: the README's 5-11 s per verification over about
   * 920 multiplications of 16 calls each gives ~0.54 ms at the middle (8 s).
   */
  convolveCall: f(0.54, "ms", "estimate", "derived from the README's measured interpreter speed (5-11 s per verification)"),
  /** Programming one 32-bit flash word. */
  flashWordWrite: f(0.041, "ms", "datasheet", NRF_PS + ", 4.3.9 NVMC electrical specification: t_WRITE (max)"),
  /** Erasing one 4 KB flash page. */
  flashPageErase: f(85, "ms", "datasheet", NRF_PS + ", 4.3.9 NVMC electrical specification: t_ERASEPAGE (max)"),
  /** Current while the NVMC writes or erases (the CPU stalls). */
  flashActive: f(3.3, "mA", "estimate", "estimate: taken equal to mcuRun"),

  // ---- Quectel BG96, LTE-M -------------------------------------------------------------
  modemOff: f(0.01, "mA", "datasheet", BG96_HD + ": OFF state, power down (typ. ~10 uA)"),
  modemPsm: f(0.01, "mA", "datasheet", BG96_HD + ": PSM (typ. ~10 uA)"),
  /** Idle, registered, paging every 1.28 s. */
  modemIdleDrx: f(1.6, "mA", "estimate", BG96_HD + ": idle DRX = 1.28 s is of this order (1-2 mA); not re-checked against a copy"),
  /** The floor between paging occasions in eDRX (sleep with the baseband's RTC). */
  modemEdrxFloor: f(0.05, "mA", "estimate", "estimate: between PSM (10 uA) and DRX idle; the baseband sleeps between paging windows"),
  /** Charge of one paging occasion (listening window), from the DRX figure: (1.6 - 0.05) mA x 1.28 s. */
  modemPagingCharge: f(1.98, "mC", "estimate", "derived from modemIdleDrx and modemEdrxFloor"),
  /** Power-key to APP RDY, and waking from PSM. */
  modemBooting: f(30, "mA", "estimate", "estimate: baseband boot without RF"),
  /** Registered, RRC connected, no data moving (connected-mode DRX until the inactivity timer). */
  modemConnected: f(20, "mA", "estimate", "estimate: LTE-M connected-mode DRX between transfers"),
  /** Searching for a cell or attaching (receiver on most of the time). */
  modemSearching: f(40, "mA", "estimate", "estimate: continuous RX during band scan; " + BG96_HD + " lists RX-dominated states in the tens of mA"),
  /** Transmitting (LTE-M at a typical +10..+23 dBm). */
  modemTx: f(150, "mA", "estimate", BG96_HD + ": LTE Cat M1 data transfer reaches ~190 mA at 23 dBm; 150 mA taken as typical"),
  /** Air time of one transfer: scheduling request, grant, HARQ round trips. */
  modemTxBurst: f(20, "ms", "estimate", "estimate: a few 1 ms TTIs with repetitions and HARQ"),
  /** LTE-M uplink rate used for the per-byte air time. */
  modemBytesPerMs: f(37.5, "B/ms", "estimate", "estimate: 300 kbit/s effective LTE-M uplink"),
  /** One periodic TAU from PSM: wake, a few signalling transfers, the RRC tail, back to PSM. */
  modemTauCharge: f(350, "mC", "estimate", "estimate: ~2 s booting + ~10 s connected tail + 4 transfers"),

  // ---- the rest of the board ----------------------------------------------------------
  /** LIS3DH in low-power mode at 50 Hz (shock detection). */
  accel: f(0.006, "mA", "datasheet", "ST LIS3DH datasheet DocID17530 Rev 2, Table 12: low-power mode, 50 Hz, 6 uA"),
  /** Regulator quiescent current and the RAK5010's idle sensors (SHTC3, LPS22HB, OPT3001 in shutdown). */
  board: f(0.005, "mA", "estimate", "estimate: a few uA of regulator quiescent current plus sensors in power-down (each ~1 uA or less in their datasheets)"),
  /** The status LED through its resistor. */
  led: f(2, "mA", "estimate", "estimate: an indicator LED at ~2 mA from 3.3 V"),
  /** A magnetic buzzer at its rated voltage. */
  buzzer: f(30, "mA", "estimate", "estimate: small magnetic transducers draw 30-90 mA at rated voltage"),
  /** The latch motor: the simulator's motor model draws 250 mA running and 900 mA stalled (sim/hw/latch.ts), typical of a 6 V N20-class gear motor. */
  motorNote: f(0, "mA", "estimate", "sim/hw/latch.ts runningMa/stallMa: estimates for a small DC gear motor (N20 class: 100-300 mA running, ~1 A stall)"),
};

export type FigureName = keyof typeof FIGURES;

/** The battery: the cell the product documents, and how fast it loses charge on its own. */
export interface CellConfig {
  name: string;
  capacityMah: number;
  /** Self-discharge as a fraction of capacity per month (30.44 days). */
  selfDischargePerMonth: number;
}

/**
 * The default cell: a Panasonic NCR18650B Li-ion 18650 (datasheet: 3,350 mAh
 * typical, 3,200 mAh minimum, at 0.2 C to 2.5 V), with 2 %/month of
 * self-discharge (estimate: Li-ion loses 1-2 % a month at room temperature,
 * more when warm; Battery University BU-802b).
 */
export const DEFAULT_CELL: CellConfig = { name: "Panasonic NCR18650B Li-ion 18650", capacityMah: 3350, selfDischargePerMonth: 0.02 };
