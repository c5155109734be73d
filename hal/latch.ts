import { Input } from "./input";

/** Which way the H-bridge pushes the bolt; "stop" brakes and de-energises. */
export type Drive = "open" | "close" | "stop";

/**
 * The motor latch: an H-bridge that can only drive one way at a time, and the
 * bolt-position switch that says where the bolt really is. The binding makes
 * "open" and "close" mutually exclusive (it always passes through stop).
 */
export interface Latch {
  drive(direction: Drive): void;
  /** true while the bolt is fully thrown (locked). */
  readonly bolt: Input;
}
