/**
 * The code area: flash outside Storage that the interpreter leaves free
 * (require("Flash").getFree() on the board), where the firmware's slots and
 * native blobs live. Storage's compaction never moves it, so what is mapped
 * from it stays valid for as long as the box runs. It is NOR flash: a page
 * is erased to 0xFF as a whole, a write can only clear bits, and writes are
 * whole 4-byte words at word-aligned addresses.
 */
export interface CodeArea {
  /** Bytes in one erase page (4096 on the nRF52840). */
  readonly pageBytes: number;
  /** The free range [start, end) this interpreter leaves, or undefined when it reports none. */
  freeRange(): { start: number; end: number } | undefined;
  /** Erases the page that starts at addr. false outside the free range or off a page boundary. */
  erasePage(addr: number): boolean;
  /** Programs data at addr (each bit can only go from 1 to 0). false when unaligned or outside the free range. */
  write(addr: number, data: Uint8Array): boolean;
  /** A copy of length bytes at addr. */
  read(addr: number, length: number): Uint8Array;
  /** A read-only view of length bytes at addr, without copying: on the board it points into flash. */
  map(addr: number, length: number): Uint8Array;
  /**
   * Whether every byte of [addr, addr + length) reads erased (0xFF): what a
   * write must find before it programs, checked without a byte loop in the
   * interpreter (one native call on the board), since a journal append asks
   * before the motor of an unlock may start.
   */
  blank(addr: number, length: number): boolean;
  /**
   * write() where blank() holds, in one call: false, with nothing
   * programmed, when unaligned, outside the free range or not all erased.
   * A journal append programs this way before an unlock's motor starts.
   */
  program(addr: number, data: Uint8Array): boolean;
}
