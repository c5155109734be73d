/**
 * The native verifier's part of `npm run bench`: the blob's size, its
 * instructions per verification counted exactly on QEMU's Cortex-M4
 * (qemu.ts), the time that makes at 64 MHz for a stated cycles-per-
 * instruction assumption, and the board estimate of a grant's way from the
 * complete message to the motor command (path.ts): the flashed firmware's
 * own JavaScript on that way, timed in the x86 Espruino interpreter
 * (ESPRUINO_BIN) without the time inside the Linux build's file-backed
 * Storage writes, scaled by the x86-to-nRF52840 factor; plus the flash
 * programming of those writes (words x the nRF52840's 41 us); plus the
 * native check for a grant never seen (a grant seen before is answered by
 * the cache of verified grants: one native SHA-256 and a look-up).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { currentBlob, MAX_BLOB_BYTES } from "./build";
import { countInstructions, qemuMissing } from "./qemu";
import { buildFirmware } from "../build";
import { benchPath, canCount, referenceLoop, REFERENCE_LOOP } from "./path";
import { FIGURES } from "../../sim/energy/figures";

/** Cortex-M4 at 64 MHz (nRF52840). */
export const CLOCK_HZ = 64e6;
/**
 * Cycles per instruction assumed for the estimate: the verifier is mostly
 * SMLAL/UMULL (1 cycle), loads (2, or 1 when pipelined) and register ALU
 * operations (1), with few taken branches; flash wait states are hidden by
 * the nRF52840's instruction cache. 1.25 is the estimate, 1.0 to 1.6 the
 * range reported beside it.
 */
export const CPI = 1.25;
export const CPI_RANGE: [number, number] = [1.0, 1.6];
/** The x86 Linux interpreter against an nRF52840 (../shared/espruino.md): 40x for integer code. */
export const BOARD_FACTOR: [number, number] = [40, 100];
/** The reference loop's iterations a second on the x86 interpreter those factors are stated against (../shared/espruino.md). */
export const REFERENCE_LOOP_PER_SECOND = 340000;

/**
 * A way's board time from its x86 instructions: the way is worth so many
 * iterations of the reference loop, which the board runs
 * REFERENCE_LOOP_PER_SECOND / factor times a second ([at 40x, at 100x]),
 * plus the flash programming and the native check it waits for.
 */
export function countedEstimate(pathInstructions: number, loopInstructions: number, flashMs: number, nativeMs: number): [number, number] {
  const ms = (factor: number) => ((pathInstructions / loopInstructions) * factor * 1000) / REFERENCE_LOOP_PER_SECOND + flashMs + nativeMs;
  return [ms(BOARD_FACTOR[0]), ms(BOARD_FACTOR[1])];
}

/** The same from x86 ms, with this interpreter's speed scaled to the reference loop's 340,000 iterations a second. */
export function scaledEstimate(x86Ms: number, loopPerSecond: number, flashMs: number, nativeMs: number): [number, number] {
  const ms = (factor: number) => ((x86Ms * loopPerSecond) / REFERENCE_LOOP_PER_SECOND) * factor + flashMs + nativeMs;
  return [ms(BOARD_FACTOR[0]), ms(BOARD_FACTOR[1])];
}

export interface NativeBench {
  blobBytes: number;
  budgetBytes: number;
  sha256: string;
  /** Instructions per call, for each bench case (valid ones first). */
  instructions: number[];
  validInstructions: number;
  cpi: number;
  msAt64MHz: number;
  msRange: [number, number];
  /** x86 interpreter ms of the firmware's JavaScript from the complete grant message to the motor command (least of the runs; native check answered at once). */
  pathMsX86NeverSeen?: number;
  pathMsX86SeenBefore?: number;
  /** x86 instructions the interpreter executes on a fresh grant's way (valgrind, when installed): the same on every run, unlike the ms. */
  pathInstructionsNeverSeen?: number;
  /** Flash writes before the motor starts (never seen), the 32-bit words they program, and the ms that and any page erase take on the nRF52840. */
  writesBeforeMotor?: number;
  wordsBeforeMotor?: number;
  erasesBeforeMotor?: number;
  flashMs?: number;
  /** Board estimates, ms, [at 40x, at 100x], from this interpreter's ms as they are. */
  grantToMotorNeverSeen?: [number, number];
  grantToMotorSeenBefore?: [number, number];
  /** The reference loop in this interpreter: iterations a second (best of 5) and, with valgrind, x86 instructions per iteration. */
  loopPerSecond?: number;
  loopInstructions?: number;
  /**
   * The same estimates with this interpreter's speed put on the footing the
   * factors are stated on: x86 ms x (loop rate here / 340,000) x 40..100,
   * and, with valgrind, the count in loop iterations at 8,500..3,400 a
   * second (the same on every run) for a never-seen grant.
   */
  scaledNeverSeen?: [number, number];
  scaledSeenBefore?: [number, number];
  countedNeverSeen?: [number, number];
}

export interface BenchCase {
  sig: Uint8Array;
  msg: Uint8Array;
  pk: Uint8Array;
  valid: boolean;
}

/** The native figures, or a sentence saying why there are none. */
export async function benchNative(cases: BenchCase[]): Promise<NativeBench | string> {
  const missing = qemuMissing();
  if (missing) return "native verifier not measured: " + missing;
  const blob = currentBlob();
  if (!blob) return "native verifier not measured: no blob was built";
  const calls = cases.map((c) => ({
    sig: c.sig,
    pk: c.pk,
    digest: new Uint8Array(createHash("sha512").update(Buffer.concat([c.sig.subarray(0, 32), c.pk, c.msg])).digest()),
  }));
  const counted = await countInstructions(calls);
  cases.forEach((c, i) => {
    if ((counted.results[i] === 1) !== c.valid) throw new Error("the blob disagrees with the bench case " + i);
  });
  const valid = counted.counts.filter((_, i) => cases[i].valid);
  const validInstructions = Math.round(valid.reduce((a, b) => a + b, 0) / valid.length);
  const ms = (cpi: number) => (validInstructions * cpi * 1000) / CLOCK_HZ;
  const r: NativeBench = {
    blobBytes: blob.bytes,
    budgetBytes: MAX_BLOB_BYTES,
    sha256: blob.sha256,
    instructions: counted.counts,
    validInstructions,
    cpi: CPI,
    msAt64MHz: ms(CPI),
    msRange: [ms(CPI_RANGE[0]), ms(CPI_RANGE[1])],
  };
  const bin = process.env.ESPRUINO_BIN;
  if (bin) {
    const fw = await buildFirmware();
    const p = benchPath(bin, { firmware: fw.file, blob: new Uint8Array(fs.readFileSync(path.join(__dirname, "../..", blob.file))) });
    const flashMs = p.words * FIGURES.flashWordWrite.value + p.erases * FIGURES.flashPageErase.value;
    r.pathMsX86NeverSeen = p.neverSeenMs;
    r.pathMsX86SeenBefore = p.seenBeforeMs;
    const counting = canCount();
    if (counting) r.pathInstructionsNeverSeen = benchPath(bin, { firmware: fw.file, blob: new Uint8Array(fs.readFileSync(path.join(__dirname, "../..", blob.file))), grants: 3, count: true }).neverSeenInstructions;
    const loop = referenceLoop(bin, counting);
    r.loopPerSecond = loop.perSecond;
    r.writesBeforeMotor = p.writes;
    r.wordsBeforeMotor = p.words;
    r.erasesBeforeMotor = p.erases;
    r.flashMs = flashMs;
    const est = (x86: number, native: number): [number, number] => [x86 * BOARD_FACTOR[0] + flashMs + native, x86 * BOARD_FACTOR[1] + flashMs + native];
    r.grantToMotorNeverSeen = est(p.neverSeenMs, r.msAt64MHz);
    r.grantToMotorSeenBefore = est(p.seenBeforeMs, 0);
    r.scaledNeverSeen = scaledEstimate(p.neverSeenMs, loop.perSecond, flashMs, r.msAt64MHz);
    r.scaledSeenBefore = scaledEstimate(p.seenBeforeMs, loop.perSecond, flashMs, 0);
    if (r.pathInstructionsNeverSeen && loop.instructions) {
      r.loopInstructions = loop.instructions;
      r.countedNeverSeen = countedEstimate(r.pathInstructionsNeverSeen, loop.instructions, flashMs, r.msAt64MHz);
    }
  }
  return r;
}

/** The lines `npm run bench` prints for the native verifier. */
export function nativeLines(n: NativeBench | string): string[] {
  if (typeof n === "string") return [n];
  const f = (x: number) => x.toFixed(1);
  const lines = [
    "native: blob " + n.blobBytes + " bytes (budget " + n.budgetBytes + "), " + n.validInstructions.toLocaleString("en") + " instructions per verification on QEMU's Cortex-M4 (each case: " + n.instructions.join(", ") + ")",
    "native: " + f(n.msAt64MHz) + " ms per verification at 64 MHz assuming " + n.cpi + " cycles per instruction (" + f(n.msRange[0]) + ".." + f(n.msRange[1]) + " ms for " + CPI_RANGE.join("..") + ")",
  ];
  if (n.pathMsX86NeverSeen !== undefined && n.pathMsX86SeenBefore !== undefined && n.grantToMotorNeverSeen && n.grantToMotorSeenBefore)
    lines.push(
      "native: a grant from its complete BLE message to the motor command, the flashed firmware's JavaScript on the x86 interpreter: never seen " + f(n.pathMsX86NeverSeen) + " ms, seen before " + f(n.pathMsX86SeenBefore) +
        " ms (least of 7 runs; " + n.writesBeforeMotor + " flash writes before the motor, " + n.wordsBeforeMotor + " words, " + n.erasesBeforeMotor + " page erases, " + f(n.flashMs as number) + " ms on the nRF52840)",
      n.pathInstructionsNeverSeen
        ? "native: the same way for a never-seen grant, counted: " + n.pathInstructionsNeverSeen.toLocaleString("en") + " x86 instructions in the interpreter (valgrind; the fake board's timers, pins and flash left out; the same on every run)"
        : "native: install valgrind to count the instructions of a never-seen grant's way (the same on every run, unlike the ms)",
      "native: on the board (x86 ms x" + BOARD_FACTOR.join("..x") + " + flash programming + the native check), this interpreter's ms as they are: never seen " +
        f(n.grantToMotorNeverSeen[0]) + ".." + f(n.grantToMotorNeverSeen[1]) + " ms, seen before " + f(n.grantToMotorSeenBefore[0]) + ".." + f(n.grantToMotorSeenBefore[1]) + " ms",
    );
  if (n.loopPerSecond && n.scaledNeverSeen && n.scaledSeenBefore)
    lines.push(
      "native: the reference loop " + REFERENCE_LOOP + " runs " + n.loopPerSecond.toLocaleString("en") + " iterations/s in this interpreter (../shared/espruino.md states the factors against " + REFERENCE_LOOP_PER_SECOND.toLocaleString("en") + ")" +
        (n.loopInstructions ? ", " + n.loopInstructions.toLocaleString("en") + " x86 instructions each" : ""),
      "native: on the board, the x86 ms scaled to that loop (x" + (n.loopPerSecond / REFERENCE_LOOP_PER_SECOND).toFixed(2) + "): never seen " + f(n.scaledNeverSeen[0]) + ".." + f(n.scaledNeverSeen[1]) + " ms, seen before " + f(n.scaledSeenBefore[0]) + ".." + f(n.scaledSeenBefore[1]) + " ms",
    );
  if (n.countedNeverSeen && n.pathInstructionsNeverSeen && n.loopInstructions)
    lines.push(
      "native: on the board, counted (the never-seen way is " + (n.pathInstructionsNeverSeen / n.loopInstructions).toFixed(0) + " loop iterations; the board runs " + (REFERENCE_LOOP_PER_SECOND / BOARD_FACTOR[0]).toLocaleString("en") + ".." + (REFERENCE_LOOP_PER_SECOND / BOARD_FACTOR[1]).toLocaleString("en") +
        " a second; the same on every run): never seen " + f(n.countedNeverSeen[0]) + ".." + f(n.countedNeverSeen[1]) + " ms (target 150 ms)",
    );
  else lines.push("native: set ESPRUINO_BIN to estimate the time from a grant message to the motor command");
  return lines;
}
