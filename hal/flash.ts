/**
 * Espruino's Storage, reduced to what durable records need. A file is created
 * at a fixed size filled with 0xFF and then programmed in place: like NOR
 * flash, writeAt can only turn 1 bits to 0, so each byte is written once.
 * Nothing here is atomic: a power cut during create, writeAt or erase can
 * leave a partial result, which is why the firmware frames every record
 * with a sequence number and a CRC.
 */
export interface Flash {
  /** Allocates name with size bytes of 0xFF. false if it exists or there is no room. */
  create(name: string, size: number): boolean;
  /**
   * Programs data at offset inside an existing file. false on a bad range or
   * when any target byte was already programmed; offset 0 only while the
   * whole file is still blank (Espruino re-creates the file otherwise).
   */
  writeAt(name: string, offset: number, data: Uint8Array): boolean;
  /** The whole file, or undefined when it does not exist. Read-only: on the device it maps flash. */
  read(name: string): Uint8Array | undefined;
  erase(name: string): void;
  /** File names starting with prefix. */
  list(prefix: string): string[];
  /** Bytes that can still be allocated without compaction. */
  free(): number;
  /** Reclaims erased space; only call with good power (see espruino.md). */
  compact(): void;
}
