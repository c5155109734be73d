/**
 * The access service as the device runs it: compiled to ES5, bundled and
 * minified like the firmware, passed through the Espruino gate, then run in
 * the Espruino-like sandbox (no Map/Set/Symbol/BigInt, no Array.from, ...):
 * provision, a granted unlock, a replay refused, a reboot on the same flash.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { rollup } from "rollup";
import { minify } from "terser";
import * as ts from "typescript";
import { checkBundle } from "../../tools/gate";
import { createSandbox } from "../../tools/sandbox";
import { SimFlash } from "../../sim/hw/flash";
import { T0, testKey, mint } from "./helpers";

const ROOT = path.resolve(__dirname, "../..");
let out = "";
let code = "";

function tsFiles(dir: string): string[] {
  const found: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory() && rel !== path.join("hal", "espruino")) found.push(...tsFiles(rel));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) found.push(rel);
  }
  return found;
}

async function bundleOne(entry: string, name: string): Promise<string> {
  const build = await rollup({ input: path.join(out, entry.replace(/\.ts$/, ".js")), onwarn: () => undefined });
  const gen = await build.generate({ format: "iife", name, esModule: false, generatedCode: "es5", strict: false });
  await build.close();
  const min = await minify(gen.output[0].code, {
    ecma: 5,
    compress: { hoist_funs: true, hoist_vars: true, passes: 2, keep_fargs: false, toplevel: false },
    mangle: { toplevel: false },
    format: { ascii_only: true },
  });
  return min.code as string;
}

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-grants-build-"));
  const files = [...tsFiles("firmware/grants"), ...tsFiles("firmware/store"), ...tsFiles("firmware/crypto"), "firmware/events.ts"];
  for (const f of [...files, ...tsFiles("hal")]) {
    const js = ts.transpileModule(fs.readFileSync(path.join(ROOT, f), "utf8"), {
      compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.ES2015, removeComments: true },
    }).outputText;
    const dest = path.join(out, f.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, js);
  }
  code = [
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
