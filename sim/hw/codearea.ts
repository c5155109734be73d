import { CodeArea } from "../../hal/codearea";
import { PowerLoss } from "./flash";

export interface SimCodeAreaOptions {
  /** The free range the simulated interpreter reports; default the stock RAK5010 build's 0x81000-0xE2000. */
  start?: number;
  end?: number;
  pageBytes?: number;
  /** The free range's bytes as image() gave them: the desktop's state folder. */
  image?: Uint8Array;
}

/** The stock RAK5010 build's free flash (../shared/espruino-flash.md). */
export const RAK5010_FREE = { start: 0x81000, end: 0xe2000 };

/**
 * The code area as the nRF52840 has it: NOR flash in pages that erase to
 * 0xFF, writes that can only clear bits (programming a 1 over a 0 leaves
 * the 0, silently, as the chip does), whole words at word-aligned
 * addresses, and map() views that point into the same memory, so a view
 * taken before an erase or write sees it afterwards. Pages erased and bytes
 * programmed are counted for wear; cutAfter(n) lets n more bytes or pages
 * be programmed or erased and then stops the device mid-operation, as a
 * power cut would: PowerLoss is thrown (SimBox turns it into a power cut)
 * and every operation throws it until powerOn().
 */
export class SimCodeArea implements CodeArea {
  readonly pageBytes: number;
  readonly erases: { [page: number]: number } = {};
  programmed = 0;
  private readonly start: number;
  private readonly end: number;
  private readonly mem: Uint8Array;
  private budget = Infinity;
  private dead = false;
  /** Control: called the moment an injected cut strikes, before PowerLoss is thrown (see SimFlash.onPowerLoss). */
  onPowerLoss: (() => void) | undefined;

  constructor(options: SimCodeAreaOptions = {}) {
    this.start = options.start === undefined ? RAK5010_FREE.start : options.start;
    this.end = options.end === undefined ? RAK5010_FREE.end : options.end;
    this.pageBytes = options.pageBytes === undefined ? 4096 : options.pageBytes;
    if (this.start % this.pageBytes || this.end % this.pageBytes || this.end <= this.start) throw new Error("SimCodeArea: range must be whole pages");
    // A fresh chip's free flash reads erased.
    this.mem = new Uint8Array(this.end - this.start).fill(0xff);
    if (options.image) {
      if (options.image.length !== this.mem.length) throw new Error("SimCodeArea: the image holds " + options.image.length + " bytes, the free range " + this.mem.length);
      this.mem.set(options.image);
    }
  }

  /** A copy of the whole free range, for saving. */
  image(): Uint8Array {
    return this.mem.slice();
  }

  freeRange(): { start: number; end: number } {
    return { start: this.start, end: this.end };
  }

  erasePage(addr: number): boolean {
    if (addr % this.pageBytes || !this.inside(addr, this.pageBytes)) return false;
    this.spend(1);
    this.mem.fill(0xff, addr - this.start, addr - this.start + this.pageBytes);
    this.erases[addr] = (this.erases[addr] || 0) + 1;
    return true;
  }

  write(addr: number, data: Uint8Array): boolean {
    if (addr % 4 || data.length % 4 || !this.inside(addr, data.length)) return false;
    for (let i = 0; i < data.length; i++) {
      this.spend(1);
      this.mem[addr - this.start + i] &= data[i];
    }
    this.programmed += data.length;
    return true;
  }

  read(addr: number, length: number): Uint8Array {
    if (this.dead) throw new PowerLoss();
    return this.map(addr, length).slice();
  }

  map(addr: number, length: number): Uint8Array {
    if (!this.inside(addr, length)) throw new RangeError("SimCodeArea: 0x" + addr.toString(16) + "+" + length + " is outside the free flash");
    return this.mem.subarray(addr - this.start, addr - this.start + length);
  }

  blank(addr: number, length: number): boolean {
    const v = this.map(addr, length);
    for (let i = 0; i < v.length; i++) if (v[i] !== 0xff) return false;
    return true;
  }

  program(addr: number, data: Uint8Array): boolean {
    return this.inside(addr, data.length) && this.blank(addr, data.length) && this.write(addr, data);
  }

  /** Lets n more bytes be programmed (or pages erased), then throws as the power fails. */
  cutAfter(n: number): void {
    this.budget = n;
  }

  /** Power back: operations run to completion again. */
  powerOn(): void {
    this.budget = Infinity;
    this.dead = false;
  }

  private inside(addr: number, length: number): boolean {
    return addr >= this.start && length >= 0 && addr + length <= this.end;
  }

  private spend(n: number): void {
    if (this.dead) throw new PowerLoss();
    if (this.budget < n) {
      this.budget = 0;
      this.dead = true;
      if (this.onPowerLoss) this.onPowerLoss();
      throw new PowerLoss();
    }
    this.budget -= n;
  }
}
