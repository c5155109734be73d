/**
 * The board's binding of the native verifier (hal/espruino/native/ed25519.ts
 * through espruinoAccel) and the firmware's use of it, compiled, bundled and
 * minified like the firmware and run in the Espruino-like sandbox. The
 * sandbox cannot run Thumb code, so its E.nativeCall runs the same C built
 * for the host (`npm run -s ed25519-check -- --digest`) on the bytes found
 * at the addresses the binding passes, as the board's blob reads them; the
 * blob's bytes are the real dist/ed25519.bin, so the hash check is the real
 * one.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkBundle } from "../../tools/gate";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";
import { createSandbox } from "../../tools/sandbox";
import { buildHost, currentBlob, toolVersion } from "../../tools/native/build";
import { RFC8032_VECTORS } from "../crypto/rfc8032-vectors";

const ARM = toolVersion("arm-none-eabi-gcc") && toolVersion("gcc");
const REQUIRE = process.env.KEYBOX_REQUIRE_NATIVE === "1";
const it = ARM || REQUIRE ? test : test.skip;
if (!ARM && !REQUIRE) process.stdout.write("skipped: the binding tests need gcc and arm-none-eabi-gcc\n");

const BLOB_AT = 0x81040;
let out = "";
let code = "";
let blob = new Uint8Array(0);
let sha256 = "";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

beforeAll(async () => {
  if (!ARM && !REQUIRE) return;
  const m = currentBlob();
  if (!m) throw new Error("no blob built");
  blob = new Uint8Array(fs.readFileSync(path.join(__dirname, "../..", m.file)));
  sha256 = m.sha256;
  buildHost();
  out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-native-build-"));
  transpileDeviceTo(out);
  const one = (entry: string, name: string) => bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
  code = [
    (await one("hal/espruino/lang.ts", "LANG")) + "\nLANG.fixBuiltins();",
    await one("hal/espruino/system.ts", "SYS"),
    await one("firmware/crypto/ed25519.ts", "ED"),
  ].join("\n");
}, 180000);

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

interface Board {
  sb: ReturnType<typeof createSandbox>;
  calls: Array<{ addr: number; signature: string; args: number[] }>;
}

/**
 * A sandbox with the build's blob hash in KEYBOX_BUILD, flat buffers at
 * made-up addresses, and a native call that runs the host C on what lies
 * at the addresses it is given.
 */
function board(o: { built?: boolean; flat?: boolean; nativeCall?: boolean } = {}): Board {
  const sb = createSandbox();
  const calls: Board["calls"] = [];
  const ctx = sb.context as { E: Record<string, unknown> };
  const flats: Array<{ at: number; view: Uint8Array }> = [];
  if (o.nativeCall !== false) {
    ctx.E.getAddressOf = (v: Uint8Array, flat: boolean) => {
      if (!flat || o.flat === false) return 0;
      let f = flats.find((x) => x.view === v);
      if (!f) flats.push((f = { at: 0x20003002 + 0x1000 * flats.length, view: v }));
      return f.at;
    };
    ctx.E.nativeCall = (addr: number, signature: string) => (...args: number[]) => {
      calls.push({ addr, signature, args });
      const bytes = (at: number, n: number) => {
        const f = flats.find((x) => at >= x.at && at + n <= x.at + x.view.length) as { at: number; view: Uint8Array };
        return toHex(f.view.subarray(at - f.at, at - f.at + n));
      };
      const line = bytes(args[0], 64) + " " + bytes(args[1], 32) + " " + bytes(args[2], 64) + "\n";
      const r = spawnSync(buildHost(), ["--digest"], { input: line, encoding: "utf8" });
      return Number(r.stdout.trim());
    };
  }
  const native = o.built === false ? "null" : JSON.stringify({ ed25519: { sha256, bytes: blob.length, scratchBytes: 2304 } });
  sb.run("var KEYBOX_BUILD={pins:null,firmware:null,native:" + native + "};");
  sb.run(code);
  return { sb, calls };
}

function accel(b: Board, found: { addr: number; bytes: Uint8Array } | string): Record<string, unknown> {
  const ctx = b.sb.context as { SYS: { espruinoAccel(find: () => unknown): Record<string, unknown> } };
  return ctx.SYS.espruinoAccel(() => found);
}

const V = RFC8032_VECTORS[2];

it("the bundle with the binding passes the Espruino gate", () => {
  expect(checkBundle(code).errors).toEqual([]);
});

it("an intact blob is bound and called as int(int,int,int,int) at its address | 1, with the signature, key, digest and scratch", () => {
  const b = board();
  const a = accel(b, { addr: BLOB_AT, bytes: blob });
  expect(a.ed25519Missing).toBeUndefined();
  const verify = a.ed25519 as (s: Uint8Array, p: Uint8Array, d: Uint8Array) => boolean;
  const sig = hex(V.signature), pk = hex(V.publicKey), msg = hex(V.message);
  const digest = new Uint8Array(createHash("sha512").update(Buffer.concat([sig.subarray(0, 32), pk, msg])).digest());
  expect(verify(sig, pk, digest)).toBe(true);
  const bad = new Uint8Array(sig);
  bad[40] ^= 1;
  expect(verify(bad, pk, digest)).toBe(false);
  expect(b.calls.length).toBe(2);
  for (const c of b.calls) {
    expect(c.addr).toBe(BLOB_AT | 1);
    expect(c.signature).toBe("int(int,int,int,int)");
    expect([c.args[1] - c.args[0], c.args[2] - c.args[0], c.args[3] - c.args[0]]).toEqual([64, 96, 160]);
  }
  // Wrong lengths never reach the machine code.
  expect(verify(sig.subarray(0, 63), pk, digest)).toBe(false);
  expect(b.calls.length).toBe(2);
});

it("the firmware's verify() runs through the native verifier once useAccel hands it in, and agrees with JavaScript", () => {
  const b = board();
  const a = accel(b, { addr: BLOB_AT, bytes: blob });
  const ED = (b.sb.context as { ED: { useAccel(a: unknown): void; verify(s: Uint8Array, m: Uint8Array, p: Uint8Array): boolean } }).ED;
  ED.useAccel(a);
  for (const v of RFC8032_VECTORS.slice(0, 3)) {
    expect(ED.verify(hex(v.signature), hex(v.message), hex(v.publicKey))).toBe(true);
    const m = new Uint8Array(hex(v.message).length + 1);
    m.set(hex(v.message));
    expect(ED.verify(hex(v.signature), m, hex(v.publicKey))).toBe(false);
  }
  expect(b.calls.length).toBe(6);
  // Without the native verifier the same verdicts come from JavaScript.
  ED.useAccel({ sha512: a.sha512 });
  expect(ED.verify(hex(V.signature), hex(V.message), hex(V.publicKey))).toBe(true);
  expect(b.calls.length).toBe(6);
});

it("a blob whose bytes are not this build's is never called, and the firmware is told why", () => {
  const b = board();
  const torn = new Uint8Array(blob);
  torn[1000] ^= 0x10;
  const a = accel(b, { addr: BLOB_AT, bytes: torn });
  expect(a.ed25519).toBeUndefined();
  expect(a.ed25519Missing).toBe("wrong_blob");
  expect(b.calls).toEqual([]);
});

it("every other reason not to call machine code is handed back instead of a verifier", () => {
  expect(accel(board(), "missing").ed25519Missing).toBe("missing");
  expect(accel(board(), "corrupt").ed25519Missing).toBe("corrupt");
  expect(accel(board({ built: false }), { addr: BLOB_AT, bytes: blob }).ed25519Missing).toBe("not_built");
  expect(accel(board({ nativeCall: false }), { addr: BLOB_AT, bytes: blob }).ed25519Missing).toBe("no_native_call");
  const noFlat = board({ flat: false });
  expect(accel(noFlat, { addr: BLOB_AT, bytes: blob }).ed25519Missing).toBe("no_flat_memory");
  expect(noFlat.calls).toEqual([]);
});
