import { EventBus, BoxEvent } from "../../firmware/events";
import { BleHandler, BleService, BleServiceConfig, HolderProof, RequestKind } from "../../firmware/ble/service";
import { VirtualClock } from "../../sim/clock";
import { SimBle } from "../../sim/hw/ble";
import { SimFlash } from "../../sim/hw/flash";
import { crc32, SimRandom } from "../../sim/hw/system";
import { Phone } from "../../sim/ble/phone";

/** Stand-ins for minted grants: opaque binary to the BLE layer (the 0x01 byte keeps them from reading as base64). */
export const GOOD = Uint8Array.from(Buffer.concat([Buffer.from([0x01, 0xb7]), Buffer.from("good-grant-signed-by-the-owner-01234")]));
export const BAD = Uint8Array.from(Buffer.concat([Buffer.from([0x01, 0xb7]), Buffer.from("bad-grant-with-a-forged-signature-01")]));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/**
 * The lead's wiring in miniature: a decision that takes verifyMs, grants GOOD
 * and refuses everything else with "bad_signature", and a latch that reports
 * unlocking, then open, through service.progress as main will.
 */
export class ScriptedBox implements BleHandler {
  latch = "locked";
  calls: Array<{ kind: RequestKind; grant: Uint8Array; at: number; holder?: HolderProof; screened?: boolean }> = [];
  /** The gatekeeper's screen, when a test gives the box one (main's wiring has it). */
  screen?: (kind: RequestKind, grant: Uint8Array) => string;
  service: BleService | undefined;
  /** When set, the decision never answers (a reset strikes during the check). */
  hang = false;
  /** Answer inside request() itself, as a synchronous AccessControl.present would. */
  sync = false;
  /** request() throws (a bug in the wiring): the service must answer, not crash. */
  throws = false;

  constructor(
    private readonly clock: VirtualClock,
    readonly verifyMs = 300,
    /** Reasons by the grant's hex, overriding the defaults. */
    readonly reasons: { [grantHex: string]: string } = {},
  ) {}

  request(kind: RequestKind, grant: Uint8Array, cb: (reason: string) => void, holder?: HolderProof, screened?: boolean): void {
    this.calls.push({ kind, grant: grant.slice(), at: this.clock.monotonic(), holder, screened });
    if (this.hang) return;
    if (this.throws) throw new Error("wiring bug");
    const key = hex(grant);
    const reason = this.reasons[key] !== undefined ? this.reasons[key] : key === hex(GOOD) ? "granted" : "bad_signature";
    const decide = () => {
      cb(reason);
      if (reason !== "granted") return;
      const [moving, end] = kind === "unlock" ? ["unlocking", "open"] : ["locking", "locked"];
      this.move(moving);
      this.clock.after(800, () => this.move(end));
    };
    if (this.sync) decide();
    else this.clock.after(this.verifyMs, decide);
  }

  state() {
    return { latch: this.latch, key: true, lid: "closed" };
  }

  private move(s: string): void {
    this.latch = s;
    if (this.service) this.service.progress(s);
  }
}

export { Phone } from "../../sim/ble/phone";

export interface Rig {
  clock: VirtualClock;
  ble: SimBle;
  flash: SimFlash;
  box: ScriptedBox;
  service: BleService;
  events: BoxEvent[];
  phone(): Phone;
  /** A chip reset: the same clock, radio and flash, a new service. */
  reboot(): Rig;
}

export function rig(
  config: Partial<BleServiceConfig> = {},
  flash = new SimFlash(),
  reasons: { [g: string]: string } = {},
  hw?: { clock: VirtualClock; ble: SimBle },
): Rig {
  const clock = hw ? hw.clock : new VirtualClock();
  const ble = hw ? hw.ble : new SimBle({ clock });
  const events: BoxEvent[] = [];
  const bus = new EventBus({ now: () => ({ t: 0, m: clock.monotonic() }) });
  bus.on((e) => events.push(e));
  const box = new ScriptedBox(clock, 300, reasons);
  const service = new BleService({
    ble,
    clock,
    events: bus,
    flash,
    crc32,
    random: new SimRandom({ seed: 7 }),
    config: { boxId: "KB-TEST01", devMode: false, firmwareVersion: "0.1.0", ...config },
    handler: box,
  });
  box.service = service;
  const r: Rig = {
    clock,
    ble,
    flash,
    box,
    service,
    events,
    phone: () => new Phone(ble, clock),
    // What SimBox does on a reset: timers and RAM gone (the old service is never closed), the radio reset.
    reboot: () => {
      clock.clearAll();
      ble.powerOn();
      return rig(config, flash, reasons, { clock, ble });
    },
  };
  return r;
}

export function bleEvents(events: BoxEvent[], reason?: string): BoxEvent[] {
  return events.filter((e) => e.type === "ble" && (reason === undefined || e.reason === reason));
}
