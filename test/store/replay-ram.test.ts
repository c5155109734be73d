/**
 * What a boot's replay leaves in RAM, in the real interpreter (ESPRUINO_BIN):
 * Espruino keeps a function's whole scope alive for as long as any closure
 * made in it lives, so records replayed in a constructor or factory that
 * also makes a timer or a store's closures would stay in RAM for the life of
 * the box. The wall clock replays a record an hour and the latch's marker
 * two a drive; after weeks those held about 1,400 of the board's 12,500
 * JsVars. Each is built here over replayed records (300 floors, 120
 * markers, as many as the marker's journal holds) and must hold no more
 * than a small, fixed amount once built.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";
import { RAM_FLASH_JS } from "../espruino/run";

let code = "";
let out = "";

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-replay-build-"));
  transpileDeviceTo(out);
  const one = (entry: string, name: string) => bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
  code = [await one("firmware/time/wallclock.ts", "W"), await one("firmware/latch/marker.ts", "M"), await one("firmware/store/journal.ts", "J")].join("\n");
}, 120000);

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const N = 300;
const MN = 120;

const DRIVE = `
var N = ${N}, MN = ${MN};
// A clock that keeps its timers' callbacks, as the board's does.
var kept = [];
var clock = { wall: function () { return 1767225600; }, monotonic: function () { return 0; },
  after: function (ms, fn) { kept.push(fn); return { cancel: function () {} }; }, every: function (ms, fn) { kept.push(fn); return { cancel: function () {} }; } };
// The replay of a time journal: N floor records, fresh arrays as a journal's records() gives them.
var timeLog = { records: function () { var r = []; for (var i = 0; i < N; i++) r.push(new Uint8Array([0x69, 0x55, 0x00, i & 255])); return r; },
  append: function () { return true; }, rewrite: function () { return true; } };
// A flash in RAM for the marker's journal, filled with N marker records.
${RAM_FLASH_JS}
// as many as the marker's journal holds (2048 bytes, 16 a record)
var j = new J.Journal({ flash: flash, crc32: crc, prefix: "latch", segmentBytes: 2048, maxSegments: 1 });
for (var i = 0; i < MN; i++) if (!j.append(M.encodeMarker(i % 2 ? undefined : { dir: "open", n: 0 }))) throw new Error("marker journal full at " + i);
j.close();
j = undefined;
var held = [];
var m0 = process.memory().usage;
held.push(new W.WallClock({ clock: clock, log: timeLog }));
var m1 = process.memory().usage;
held.push(M.journalMarker({ flash: flash, crc32: crc, prefix: "latch" }));
var m2 = process.memory().usage;
print("HELD " + (m1 - m0) + " " + (m2 - m1) + " " + (held[1].read() ? "driving" : "clear"));
`;

describe("a boot's replay in the real interpreter", () => {
  const bin = process.env.ESPRUINO_BIN;
  (bin ? it : it.skip)("the wall clock and the drive marker keep none of the records they replayed", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-replay-"));
    try {
      fs.writeFileSync(path.join(dir, "run.js"), code + "\n" + DRIVE);
      const r = spawnSync(bin!, ["run.js"], { cwd: dir, input: "", encoding: "latin1", timeout: 60000 });
      const m = /HELD (-?\d+) (-?\d+) (\w+)/.exec(r.stdout || "");
      expect(m).not.toBeNull();
      // the newest record (i = 119) clears the marker
      expect(m![3]).toBe("clear");
      // each record replayed costs two JsVars or more: held, the 300 would take 600 or more, the 120
      // 240 or more (the marker's store itself holds about 60)
      expect(Number(m![1])).toBeLessThan(N / 2);
      expect(Number(m![2])).toBeLessThan(MN);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
