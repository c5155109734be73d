import { Clock } from "./clock";
import { Input } from "./input";
import { Latch } from "./latch";
import { Motion, Battery } from "./sensors";
import { Flash } from "./flash";
import { CodeArea } from "./codearea";
import { Ble } from "./ble";
import { Modem } from "./modem";
import { Watchdog, Random, Led, Buzzer, Accel } from "./system";

export * from "./types";
export * from "./clock";
export * from "./input";
export * from "./latch";
export * from "./sensors";
export * from "./flash";
export * from "./codearea";
export * from "./ble";
export * from "./modem";
export * from "./system";

/** Everything the firmware may touch. Built once per platform, handed to firmware/main. */
export interface Hal {
  clock: Clock;
  latch: Latch;
  lid: Input;
  key: Input;
  motion: Motion;
  battery: Battery;
  flash: Flash;
  /** The flash outside Storage where the firmware and native blobs live (absent where a platform has none). */
  codeArea?: CodeArea;
  ble: Ble;
  modem: Modem;
  watchdog: Watchdog;
  random: Random;
  led: Led;
  buzzer: Buzzer;
  accel: Accel;
  /** A line for people (console); owner-facing facts are events, not logs. */
  log(line: string): void;
}
