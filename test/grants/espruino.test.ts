/**
 * The access service as the device runs it: compiled to ES5, bundled and
 * minified like the firmware, passed through the Espruino gate, then run in
 * the Espruino-like sandbox (no Map/Set/Symbol/BigInt, no Array.from, ...):
 * provision, a granted unlock, a replay refused, a reboot on the same flash.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkBundle } from "../../tools/gate";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";
import { createSandbox } from "../../tools/sandbox";
import { SimFlash } from "../../sim/hw/flash";
import { T0, testKey, mint } from "./helpers";

let out = "";
let code = "";

/** The firmware's own pipeline, into a private directory so this test never races the whole build in build/. */
function bundleOne(entry: string, name: string): Promise<string> {
  return bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
}

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-grants-build-"));
  transpileDeviceTo(out);
  code = [
    // The binding's fixes for Espruino's built-ins come first, as in the firmware's entry.
    (await bundleOne("hal/espruino/lang.ts", "LANG")) + "\nLANG.fixBuiltins();",
    await bundleOne("firmware/grants/access.ts", "AC"),
    await bundleOne("firmware/events.ts", "EV"),
    await bundleOne("firmware/store/crc32.ts", "CR"),
    await bundleOne("firmware/crypto/ed25519.ts", "ED"),
  ].join("\n");
}, 120000);

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

describe("grants on the Espruino gate and sandbox", () => {
  test("the bundle passes the gate", () => {
    expect(checkBundle(code).errors).toEqual([]);
  });

  test("provision, unlock once, replay refused, reboot keeps the count", () => {
    const k = testKey(5);
    const grant = mint(k, { grantId: "5555555555555555" });
    const sb = createSandbox();
    sb.run(code);
    const ctx = sb.context as { [k: string]: unknown };
    ctx.flash = new SimFlash();
    ctx.grantHex = Buffer.from(grant).toString("hex");
    ctx.pkHex = Buffer.from(k.publicKey).toString("hex");
    ctx.T = T0 + 60;
    const result = sb.run(`
      function hex(s) { var b = new Uint8Array(s.length / 2); for (var i = 0; i < b.length; i++) b[i] = parseInt(s.substr(i * 2, 2), 16); return b; }
      var log = [];
      // The host's SimFlash, with reads copied into this realm's Uint8Array as Storage.read would give.
      var fl = { create: function (n, z) { return flash.create(n, z); }, writeAt: function (n, o, d) { return flash.writeAt(n, o, d); },
        read: function (n) { var d = flash.read(n); return d ? new Uint8Array(d) : d; }, erase: function (n) { flash.erase(n); },
        list: function (p) { return flash.list(p).slice(); }, free: function () { return flash.free(); }, compact: function () { flash.compact(); } };
      function boot() {
        var events = new EV.EventBus({ now: function () { return { t: T, m: 0 }; } });
        events.on(function (e) { log.push(e.type + ":" + e.reason); });
        var clock = { wall: function () { return T; }, monotonic: function () { return 0; } };
        return new AC.AccessControl({ flash: fl, clock: clock, events: events, crc32: CR.crc32, verify: ED.verify, boxId: "KB-000001" });
      }
      var ac = boot();
      var r = [ac.provisionKeys([{ id: 5, publicKey: hex(pkHex) }]).ok];
      var g = hex(grantHex);
      r.push(ac.present(g, { action: "unlock", channel: "ble" }).ok);
      r.push(ac.present(g, { action: "unlock", channel: "ble" }).reason);
      ac.close();
      ac = boot();
      r.push(ac.present(g, { action: "unlock", channel: "ble" }).reason);
      g[24] ^= 1;
      r.push(ac.present(g, { action: "unlock", channel: "ble" }).reason);
      JSON.stringify({ r: r, log: log });
    `) as string;
    expect(JSON.parse(result)).toEqual({
      r: [true, true, "used_up", "used_up", "bad_signature"],
      log: ["grants:keys", "access:granted", "access:used_up", "access:used_up", "access:bad_signature"],
    });
  });
});
