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
  /**
   * Strict Ed25519 verification (RFC 8032, exactly as firmware/crypto) in
   * machine code: whether signature (64 bytes) is valid for publicKey (32)
   * given digest = SHA-512(R || A || message) (64), or undefined when the
   * call could not be made (then the firmware verifies in JavaScript).
   */
  ed25519?(signature: Uint8Array, publicKey: Uint8Array, digest: Uint8Array): boolean | undefined;
  /** Why ed25519 is absent on a platform that could have it (the board): recorded at boot. */
  ed25519Missing?: string;
}
