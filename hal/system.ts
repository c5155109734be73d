/** The hardware watchdog: once enabled it resets the chip unless kicked. */
export interface Watchdog {
  enable(timeoutSeconds: number): void;
  kick(): void;
}

/** Hardware randomness (the nRF52 RNG on the device). */
export interface Random {
  bytes(n: number): Uint8Array;
}

export interface Led {
  set(on: boolean): void;
}

export interface Buzzer {
  /** Sounds at frequencyHz, or silences with 0. */
  tone(frequencyHz: number): void;
}

/**
 * Native helpers the interpreter may have. Each is optional: the firmware
 * falls back to JavaScript when the board lacks it (SHA-512 on nRF52832).
 */
export interface Accel {
  sha512?(data: Uint8Array): Uint8Array;
  sha256?(data: Uint8Array): Uint8Array;
  /** sum a[i] * b[(i + offset) % b.length], as E.convolve. */
  convolve?(a: Float64Array, b: Float64Array, offset: number): number;
  /** CRC-32 (IEEE) of data, as E.CRC32. */
  crc32?(data: Uint8Array): number;
}
