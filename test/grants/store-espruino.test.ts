/**
 * The grant store's pruning in the real interpreter (ESPRUINO_BIN):
 * Espruino's for-in ends at a deletion of the key it is on, so a loop that
 * deletes what it walks forgets one entry and stops. forgetExpired must
 * forget every use count and revocation past its time at once, and a new
 * key set must drop every revocation of a key that went.
 */
import { bundleForEspruino, RAM_FLASH_JS, runInEspruino } from "../espruino/run";
import { testKey, T0 } from "./helpers";

let code = "";
const bin = process.env.ESPRUINO_BIN;

beforeAll(async () => {
  if (bin) code = await bundleForEspruino([["firmware/grants/store.ts", "GS"]]);
}, 120000);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

(bin ? test : test.skip)("forgetExpired forgets every expired count and revocation at once; a new key set drops every revocation of a key that went", () => {
  const keys = [1, 2, 3].map((i) => testKey(i));
  const drive = `
${RAM_FLASH_JS}
var T0 = ${T0};
function pk(h) { var b = new Uint8Array(32); for (var i = 0; i < 32; i++) b[i] = parseInt(h.substr(i * 2, 2), 16); return b; }
var keys = [${keys.map((k) => `{ id: ${k.id}, publicKey: pk("${hex(k.publicKey)}") }`).join(", ")}];
var s = new GS.GrantStore({ flash: flash, crc32: crc });
var r = [s.setKeys(keys)];
function id(i) { return ("000000000000000" + (256 + i).toString(16)).slice(-16); }
for (var i = 0; i < 10; i++) r.push(s.recordUse(id(i), 1, T0 + i * 86400), s.settleUse(id(i), 1));
for (var i = 0; i < 6; i++) r.push(s.revokeGrant(id(100 + i), T0 + i * 86400));
for (var i = 0; i < 3; i++) r.push(s.revokeKey(keys[i].id));
var forgot = s.forgetExpired(T0 + 7 * 86400);
var left = [];
for (var i = 0; i < 10; i++) left.push(s.usesOf(id(i)));
var counts = s.counts();
r.push(s.setKeys([keys[0]]));
var after = s.counts();
print("STORE " + JSON.stringify({ errors: r.filter(function (x) { return x !== undefined; }), forgot: forgot, left: left, counts: counts, after: after }));
`;
  expect(runInEspruino(bin!, code + "\n" + drive, "STORE")).toEqual({
    errors: [],
    // more than two days past their time a week on: the counts of days 0..4, the revocations of days 0..4
    forgot: 10,
    left: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    counts: { keys: 3, revokedGrants: 1, revokedKeys: 3, counters: 5 },
    after: { keys: 1, revokedGrants: 1, revokedKeys: 1, counters: 5 },
  });
});
