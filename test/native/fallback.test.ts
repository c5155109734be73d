/**
 * The flashed firmware with the native verifier in the code area's blob
 * region, as `npm run flash` installs it by default, booted by the loader in
 * the Espruino-only sandbox: an intact blob decides grants (the box reports
 * `verifier native`); a blob whose bytes went bad in flash, or one from
 * another build, is never called: the box reports `verifier javascript`
 * with why, and the same grant still opens through the JavaScript verifier
 * (no tables: the sandbox runs at Node's speed). The sandbox cannot run
 * Thumb code, so its E.nativeCall runs the same C built for the host on the
 * bytes at the addresses the binding passes (as test/native/binding.test.ts).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { bundleLoader } from "../../tools/build";
import { bundleNativeSha256 } from "../../tools/flash";
import { buildHost, toolVersion } from "../../tools/native/build";
import { createSandbox, Sandbox, sandboxCodeArea } from "../../tools/sandbox";
import { BLOB_NATIVE, ED25519_BLOB_NAME, encodeBlob, findBlob } from "../../firmware/codearea/blobs";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";
import { testKey } from "../grants/helpers";
import { installCodeArea, installedBox, MECHANICS, phoneScript, reasons, responses, sha256, storageScript, unlockFrames, unlockGrant } from "../e2e/installed";

const ROOT = path.join(__dirname, "../..");
const ARM = toolVersion("arm-none-eabi-gcc") && toolVersion("gcc");
const REQUIRE = process.env.KEYBOX_REQUIRE_NATIVE === "1";
const it = ARM || REQUIRE ? test : test.skip;
if (!ARM && !REQUIRE) process.stdout.write("skipped: the fallback tests need gcc and arm-none-eabi-gcc\n");

const BOX = "KB-NATIVE1";
const owner = testKey(33);
let code = "";
let loader = "";
let blob = new Uint8Array(0);
let files: { [name: string]: Uint8Array } = {};
let setup = "";
let pool: Uint8Array = new Uint8Array(0);

beforeAll(async () => {
  if (!ARM && !REQUIRE) return;
  // What npm test's build wrote: the firmware that calls the blob whose hash it carries.
  code = fs.readFileSync(path.join(ROOT, "dist/keybox.js"), "latin1");
  const sha = bundleNativeSha256(code);
  if (!sha) throw new Error("dist/keybox.js was built without the native verifier");
  blob = new Uint8Array(fs.readFileSync(path.join(ROOT, "dist/ed25519.bin")));
  expect(Buffer.from(sha256(blob)).toString("hex")).toBe(sha);
  loader = await bundleLoader();
  buildHost();
  const box = installedBox(BOX, owner, false);
  files = Object.assign({ ".bootcde": new Uint8Array(Buffer.from(loader, "latin1")) }, box.files);
  setup = box.setup;
  pool = box.pool;
}, 300000);

/** E.getAddressOf and E.nativeCall as the board has them, the machine code run by the host build of the same C. */
function nativeCalls(sb: Sandbox): { calls: number } {
  const ctx = sb.context as { E: Record<string, unknown> };
  const flats: Array<{ at: number; view: Uint8Array }> = [];
  const seen = { calls: 0 };
  ctx.E.getAddressOf = (v: Uint8Array, flat: boolean) => {
    if (!flat) return 0;
    let f = flats.find((x) => x.view === v);
    if (!f) flats.push((f = { at: 0x20003002 + 0x1000 * flats.length, view: v }));
    return f.at;
  };
  ctx.E.nativeCall = () => (...args: number[]) => {
    seen.calls++;
    const bytes = (at: number, n: number) => {
      const f = flats.find((x) => at >= x.at && at + n <= x.at + x.view.length) as { at: number; view: Uint8Array };
      return Buffer.from(f.view.subarray(at - f.at, at - f.at + n)).toString("hex");
    };
    const r = spawnSync(buildHost(), ["--digest"], { input: bytes(args[0], 64) + " " + bytes(args[1], 32) + " " + bytes(args[2], 64) + "\n", encoding: "utf8" });
    return Number(r.stdout.trim());
  };
  return seen;
}

/** The "verifier" events the box stored for the owner (its outbox journal, in the code area's journal pool): reason and why. */
function verifierEvents(sb: Sandbox): string[] {
  const area = sandboxCodeArea(sb);
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  const text = Buffer.from(area.read(l.pool, l.poolBytes)).toString("latin1");
  const out: string[] = [];
  const re = /"type":"verifier","reason":"(\w+)"[^\n]*?(?:"d":\{"why":"(\w+)"\})?\}/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] + (m[2] ? " " + m[2] : ""));
  return out;
}

/** Installs the box with this blob region image, boots it and presents one fresh grant. */
function boot(image: Uint8Array | undefined, spoil?: (sb: Sandbox) => void) {
  const sb = createSandbox((hw) => {
    hw.level["D34"] = 0; // bolt thrown
  });
  const native = nativeCalls(sb);
  sb.run(MECHANICS);
  sb.run(storageScript(files));
  installCodeArea(sandboxCodeArea(sb), code, pool, image);
  if (spoil) spoil(sb);
  sb.run(setup);
  sb.run("load();");
  sb.run(phoneScript([unlockFrames(unlockGrant(owner, BOX))]));
  return Object.assign(responses(sb.hw.logs.join("\n")), { events: verifierEvents(sb), native, sb });
}

const entry = (body: Uint8Array) => encodeBlob(BLOB_NATIVE, ED25519_BLOB_NAME, body, sha256(body));

it("an intact blob decides the grant natively, and the box says so", () => {
  const r = boot(entry(blob));
  expect(r.events).toEqual(["native"]);
  expect(reasons(r.answers)).toEqual(["granted"]);
  expect(r.motor).toContain("D19=1");
  expect(r.native.calls).toBe(1);
});

it("a blob whose bytes went bad in flash is never called: the box reports why and verifies in JavaScript", () => {
  const r = boot(entry(blob), (sb) => {
    // One bit of the body cleared in place, as a flash cell that lost its charge.
    const area = sandboxCodeArea(sb);
    const b = findBlob({ area, name: ED25519_BLOB_NAME, sha256 });
    if (typeof b === "string") throw new Error(b);
    const at = (b.addr + 1000) & ~3;
    const word = area.read(at, 4);
    const i = word.findIndex((x) => x !== 0);
    word[i] &= word[i] - 1;
    expect(area.write(at, word)).toBe(true);
  });
  expect(r.events).toEqual(["javascript corrupt"]);
  expect(reasons(r.answers)).toEqual(["granted"]);
  expect(r.motor).toContain("D19=1");
  expect(r.native.calls).toBe(0);
});

it("a blob from another build (intact, but not the bytes this firmware was built with) is never called", () => {
  const other = new Uint8Array(blob);
  other[2000] ^= 0x40;
  const r = boot(entry(other));
  expect(r.events).toEqual(["javascript wrong_blob"]);
  expect(reasons(r.answers)).toEqual(["granted"]);
  expect(r.native.calls).toBe(0);
});

it("a box flashed without the blob says it is missing", () => {
  const r = boot(undefined);
  expect(r.events).toEqual(["javascript missing"]);
  expect(reasons(r.answers)).toEqual(["granted"]);
});
