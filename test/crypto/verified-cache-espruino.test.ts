/**
 * The cache of verified grants in the real interpreter (ESPRUINO_BIN): its
 * index is an object whose key order must be its age order there too (and
 * it deletes outside its for-in loops: Espruino's for-in ends at a deletion
 * of the key it is on). Filled far past its capacity, the cache keeps
 * exactly its newest entries, finds them, forgets by id, and replays the
 * same from its journal.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";
import { RAM_FLASH_JS } from "../espruino/ram-flash";

let code = "";
let out = "";
const bin = process.env.ESPRUINO_BIN;

beforeAll(async () => {
  if (!bin) return;
  out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-vc-build-"));
  transpileDeviceTo(out);
  const one = (entry: string, name: string) => bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
  code = [await one("hal/espruino/lang.ts", "LANG") + "\nLANG.fixBuiltins();", await one("firmware/crypto/verified-cache.ts", "VC")].join("\n");
}, 120000);

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const DRIVE = `
${RAM_FLASH_JS}
var hash = function (d) { return new Uint8Array(require("crypto").SHA256(d)); };
function grant(n) { var g = new Uint8Array(80); for (var i = 0; i < 80; i++) g[i] = (n * 31 + i * 7) & 255; return g; }
var c = new VC.VerifiedCache({ capacity: 4, flash: flash, crc32: crc, hash: hash });
for (var i = 0; i < 12; i++) c.remember(grant(i), "g" + i, 1, 5000);
var found = [];
for (var i = 0; i < 12; i++) if (c.has(grant(i), 1)) found.push(i);
c.forgetGrant("g10");
var after = [];
for (var i = 0; i < 12; i++) if (c.has(grant(i), 1)) after.push(i);
var size = c.size();
c.close();
var d = new VC.VerifiedCache({ capacity: 4, flash: flash, crc32: crc, hash: hash });
var replayed = [];
for (var i = 0; i < 12; i++) if (d.has(grant(i), 1)) replayed.push(i);
print("CACHE " + JSON.stringify({ found: found, after: after, size: size, replayed: replayed, mayHave: d.mayHave(grant(11), 1), never: d.mayHave(grant(3), 1) }));
`;

(bin ? test : test.skip)("filled past its capacity in Espruino, the cache keeps, finds, forgets and replays its newest entries", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-vc-"));
  try {
    fs.writeFileSync(path.join(dir, "run.js"), code + "\n" + DRIVE);
    const r = spawnSync(bin!, ["run.js"], { cwd: dir, input: "", encoding: "latin1", timeout: 60000 });
    const m = /CACHE (.*)/.exec(r.stdout || "");
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1])).toEqual({ found: [8, 9, 10, 11], after: [8, 9, 11], size: 3, replayed: [8, 9, 11], mayHave: true, never: false });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
