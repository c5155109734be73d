/**
 * The board estimate of a grant's way to the motor (`npm run bench --
 * --native`): its arithmetic, and, in the real interpreter (ESPRUINO_BIN),
 * that the bench's own harness runs the flashed firmware to the motor for
 * every grant, timed and counted, and times the reference loop.
 */
import * as fs from "fs";
import * as path from "path";
import { countedEstimate, scaledEstimate, REFERENCE_LOOP_PER_SECOND, BOARD_FACTOR } from "../../tools/native/bench";
import { benchPath, canCount, referenceLoop } from "../../tools/native/path";
import { buildFirmware } from "../../tools/build";
import { buildBlob, currentBlob } from "../../tools/native/build";

test("a way is worth so many reference-loop iterations, which the board runs at 340,000 / 40 to / 100 a second", () => {
  expect(REFERENCE_LOOP_PER_SECOND).toBe(340000);
  expect(BOARD_FACTOR).toEqual([40, 100]);
  // 850 iterations: 100 ms at 8,500 a second, 250 ms at 3,400; then the flash and the native check
  const [lo, hi] = countedEstimate(850 * 50000, 50000, 0.7, 27);
  expect(lo).toBeCloseTo(100 + 0.7 + 27, 6);
  expect(hi).toBeCloseTo(250 + 0.7 + 27, 6);
  // an interpreter running the loop at half the reference speed takes twice the x86 ms for the same way
  expect(scaledEstimate(4, 170000, 0.7, 27)).toEqual(scaledEstimate(2, 340000, 0.7, 27));
  expect(scaledEstimate(2.5, 340000, 0, 0)).toEqual([100, 250]);
});

const bin = process.env.ESPRUINO_BIN;
(bin ? test : test.skip)(
  "in the real interpreter the bench runs every grant to the motor, counts the way, and times the reference loop",
  async () => {
    const fw = await buildFirmware();
    const built = currentBlob() || buildBlob();
    if ("skipped" in built) throw new Error(built.skipped);
    const blob = built;
    const bytes = new Uint8Array(fs.readFileSync(path.join(__dirname, "../..", blob.file)));
    const timed = benchPath(bin as string, { firmware: fw.file, blob: bytes, grants: 2 });
    expect(timed.neverSeen.length).toBe(2);
    expect(timed.neverSeenMs).toBeGreaterThan(0);
    expect(timed.writes).toBe(3);
    const loop = referenceLoop(bin as string, canCount());
    expect(loop.perSecond).toBeGreaterThan(1000);
    if (canCount()) {
      expect(loop.instructions).toBeGreaterThan(1000);
      const counted = benchPath(bin as string, { firmware: fw.file, blob: bytes, grants: 1, count: true });
      expect(counted.neverSeenInstructions).toBeGreaterThan(1e6);
    }
  },
  600000,
);
