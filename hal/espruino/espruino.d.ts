/*
 * The Espruino globals the bindings use. Only hal/espruino/ may name them
 * (test/boundaries.test.ts enforces it); the Node-side tsconfig excludes
 * this folder, so these never clash with Node's own typings.
 */
interface EspruinoWatchEvent {
  state: boolean;
  time: number;
}
interface EspruinoStorage {
  read(name: string): string | undefined;
  readArrayBuffer(name: string): ArrayBuffer | undefined;
  readJSON(name: string, noExceptions?: boolean): any;
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean;
  erase(name: string): void;
  list(re?: RegExp): string[];
  getFree(): number;
  getStats(): { totalBytes: number; freeBytes: number; fileBytes: number; fileCount: number; trashBytes: number; trashCount: number };
  compact(): void;
}
declare const E: {
  CRC32(data: Uint8Array | string): number;
  /** A function calling machine code at addr (Thumb: addr | 1), with at most 4 arguments ("int(int,int,int,int)"). */
  nativeCall(addr: number, signature: string): (...args: number[]) => number;
  /** With flat = true, the address of a flat buffer's bytes, 0 for anything not flat. */
  getAddressOf(v: any, flat: boolean): number;
  convolve(a: Float64Array, b: Float64Array, offset: number): number;
  hwRand(): number;
  enableWatchdog(timeout: number, isAuto?: boolean): void;
  kickWatchdog(): void;
  /** A string that points at flash without copying it (what Storage.read returns for a mapped file). */
  memoryArea(addr: number, length: number): string;
  /** The sum of an array's elements, in one native call. */
  sum(values: ArrayLike<number>): number;
  /** An ArrayBuffer over a string's bytes, without copying them. */
  toArrayBuffer(s: string): ArrayBuffer;
};
declare const NRF: {
  setServices(services: any, options: any): void;
  updateServices(services: any): void;
  setAdvertising(data: any, options: any): void;
  /** Absent from some builds (and from the test fake), hence optional. */
  setTxPower?: (dbm: number) => void;
  setSecurity(options: any): void;
  getSecurityStatus(): { connected: boolean; encrypted: boolean };
  disconnect(): void;
  on(event: string, cb: (arg?: any) => void): void;
};
declare const Serial1: {
  setup(baud: number, options: any): void;
  on(event: "data", cb: (data: string) => void): void;
  write(data: string): void;
};
declare const I2C1: {
  setup(options: any): void;
  writeTo(addr: number, data: number[] | Uint8Array): void;
  readFrom(addr: number, n: number): Uint8Array;
};
declare const KEYBOX_BUILD: { pins: any; firmware: any; native?: { ed25519?: { sha256: string; bytes: number; scratchBytes: number } } } | undefined;
declare function require(name: string): any;
declare function digitalWrite(pin: string | string[], value: number | boolean): void;
declare function digitalRead(pin: string): number;
declare function pinMode(pin: string, mode: string): void;
declare function analogRead(pin: string): number;
declare function analogWrite(pin: string, value: number, options?: { freq: number }): void;
declare function setWatch(cb: (e: EspruinoWatchEvent) => void, pin: string, options: any): number;
declare function clearWatch(id: number): void;
declare function getTime(): number;
declare function setTime(seconds: number): void;
declare function setTimeout(cb: () => void, ms: number): number;
declare function setInterval(cb: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function clearInterval(id: number): void;
declare const console: { log(...args: any[]): void };
declare function atob(base64: string): string;
