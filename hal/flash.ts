/**
 * Espruino's Storage, reduced to what durable records need. A file is created
 * at a fixed size filled with 0xFF and then programmed in place: like NOR
 * flash, writeAt can only turn 1 bits to 0, so each byte is written once.
 * Nothing here is atomic: a power cut during create, writeAt or erase can
 * leave a partial result, which is why the firmware frames every record
 * with a sequence number and a CRC.
 *
 * Space, as Storage really keeps it (src/jsflash.c): files sit back to back;
 * an erased file stays where it was as trash; new files take the unused tail.
 * A create that does not fit in the tail compacts Storage by itself when the
 * trash would make room, and a compaction moves every file after the first
 * erased one, so a view from read() taken before it may be garbled after it.
 * The firmware decides when compaction may happen (firmware/store/upkeep.ts).
 */
export interface Flash {
  /**
   * Allocates name with size bytes of 0xFF. false if it exists or there is no
   * room even after compacting. May compact Storage first (see above).
   */
  create(name: string, size: number): boolean;
  /**
   * Programs data at offset inside an existing file. false on a bad range or
   * when any target byte was already programmed; offset 0 only while the
   * whole file is still blank (Espruino re-creates the file otherwise).
   */
  writeAt(name: string, offset: number, data: Uint8Array): boolean;
  /**
   * The whole file, or undefined when it does not exist. Read-only: on the
   * device it maps flash, and it is only good until the file is erased or a
   * compaction moves it.
   */
  read(name: string): Uint8Array | undefined;
  erase(name: string): void;
  /** File names starting with prefix. */
  list(prefix: string): string[];
  /** Bytes of the unused tail (Storage.getFree): the largest file's footprint that fits without compaction. */
  free(): number;
  /** The tail, the trash a compaction would give back, and the live files' footprint (Storage.getStats). */
  usage(): FlashUsage;
  /** Reclaims erased space; only call with good power (see espruino.md). Moves files: re-read views after it. */
  compact(): void;
}

/** Bytes of Storage by state; a file's footprint is a 32-byte header plus its size rounded up to 4. */
export interface FlashUsage {
  free: number;
  trash: number;
  files: number;
}
