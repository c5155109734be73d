import { CodeArea } from "../codearea";
import { topFreeRange } from "../../firmware/codearea/layout";

/**
 * The code area on the board: Espruino's Flash module over the free flash
 * that Flash.getFree() reports, mapped with E.memoryArea. Flash.write would
 * accept unaligned data by reading back and merging the edge words; the
 * interface asks for whole words so that the simulator and the board agree
 * on what one write programs.
 */
export class EspruinoCodeArea implements CodeArea {
  readonly pageBytes = 4096;
  private readonly f: any = require("Flash");
  /** What the interpreter leaves free does not change while it runs: asked once, not at every journal write. */
  private readonly range: { start: number; end: number } | undefined = topFreeRange(this.f.getFree());

  freeRange(): { start: number; end: number } | undefined {
    return this.range;
  }

  erasePage(addr: number): boolean {
    if (addr % this.pageBytes || !this.inside(addr, this.pageBytes)) return false;
    try {
      this.f.erasePage(addr);
    } catch (e) {
      return false;
    }
    return true;
  }

  write(addr: number, data: Uint8Array): boolean {
    if (addr % 4 || data.length % 4 || !this.inside(addr, data.length)) return false;
    try {
      this.f.write(data, addr);
    } catch (e) {
      return false;
    }
    return true;
  }

  read(addr: number, length: number): Uint8Array {
    return this.f.read(length, addr);
  }

  map(addr: number, length: number): Uint8Array {
    return new Uint8Array(E.toArrayBuffer(E.memoryArea(addr, length)));
  }

  blank(addr: number, length: number): boolean {
    // a byte sums to 255 only when erased, so the sum of length bytes reaches 255 * length only when all are
    return E.sum(this.map(addr, length)) === 255 * length;
  }

  program(addr: number, data: Uint8Array): boolean {
    // blank() and write() without calling them: a journal append waits on every call before an unlock's motor
    const n = data.length;
    if (addr % 4 || n % 4 || !this.inside(addr, n) || E.sum(new Uint8Array(E.toArrayBuffer(E.memoryArea(addr, n)))) !== 255 * n) return false;
    try {
      this.f.write(data, addr);
    } catch (e) {
      return false;
    }
    return true;
  }

  private inside(addr: number, length: number): boolean {
    const r = this.range;
    return r !== undefined && addr >= r.start && addr + length <= r.end;
  }
}
