/**
 * The cache of verified grants in the real interpreter (ESPRUINO_BIN): its
 * index is an object whose key order must be its age order there too (and
 * it deletes outside its for-in loops: Espruino's for-in ends at a deletion
 * of the key it is on). Filled far past its capacity, the cache keeps
 * exactly its newest entries, finds them, forgets by id, and replays the
 * same from its journal.
 */
import { bundleForEspruino, RAM_FLASH_JS, runInEspruino } from "../espruino/run";

let code = "";
const bin = process.env.ESPRUINO_BIN;

beforeAll(async () => {
  if (bin) code = await bundleForEspruino([["firmware/crypto/verified-cache.ts", "VC"]]);
}, 120000);

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
  expect(runInEspruino(bin!, code + "\n" + DRIVE, "CACHE")).toEqual({ found: [8, 9, 10, 11], after: [8, 9, 11], size: 3, replayed: [8, 9, 11], mayHave: true, never: false });
});
