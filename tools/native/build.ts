/**
 * Builds the native Ed25519 verifier (hal/espruino/native/ed25519.c) two
 * ways from the same source:
 * - the blob the board runs: Debian's arm-none-eabi-gcc, Thumb-2 for the
 *   Cortex-M4, linked as one position-independent run of code and
 *   constants with the entry at offset 0 (dist/ed25519.bin, its SHA-256 in
 *   dist/ed25519.bin.sha256 and dist/ed25519.json). It is linked at two
 *   addresses and must come out byte for byte the same (nothing in it
 *   depends on where it is installed), must have no GOT, data or bss (the
 *   linker script asserts it) and must fit MAX_BLOB_BYTES;
 * - the host program for `npm run -s ed25519-check` (build/native/ed25519-host).
 * Without arm-none-eabi-gcc the blob is skipped with a reason: the firmware
 * then runs the JavaScript verifier and says so.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "../..");
export const NATIVE_SRC = path.join(ROOT, "hal/espruino/native");
export const BUILD_DIR = path.join(ROOT, "build/native");
export const BLOB_FILE = path.join(ROOT, "dist/ed25519.bin");
export const MANIFEST_FILE = path.join(ROOT, "dist/ed25519.json");
/** The ceiling for the blob: code and tables. */
export const MAX_BLOB_BYTES = 8192;
/** The E.nativeCall signature the blob is called with. */
export const SIGNATURE = "int(int,int,int,int)";

const SOURCES = ["ed25519.c", "ed25519.h", "base-table.h", "blob.ld"].map((f) => path.join(NATIVE_SRC, f));

export const ARM_CFLAGS = [
  "-mcpu=cortex-m4",
  "-mthumb",
  "-mfloat-abi=soft",
  "-Os",
  "-std=gnu99",
  "-ffreestanding",
  "-fno-builtin",
  // Loops that clear or copy must not become calls to a memset/memcpy the blob does not have.
  "-fno-tree-loop-distribute-patterns",
  "-fPIE",
  "-mpic-data-is-text-relative",
  "-fvisibility=hidden",
  "-ffunction-sections",
  "-fdata-sections",
  "-fno-common",
  "-fstack-usage",
  "-Wall",
  "-Wextra",
  "-Werror",
];

export interface BlobManifest {
  file: string;
  bytes: number;
  sha256: string;
  /** Bytes the caller's scratch buffer must have (any alignment). */
  scratchBytes: number;
  /** The entry is the first instruction: call (address | 1). */
  entryOffset: number;
  signature: string;
  /** Largest stack frame of one function, from -fstack-usage (the whole chain is measured on QEMU). */
  largestFrame: { name: string; bytes: number };
  compiler: string;
}

export class NativeBuildError extends Error {}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8" });
  if (r.error) throw new NativeBuildError(cmd + ": " + r.error.message);
  if (r.status !== 0) throw new NativeBuildError(cmd + " " + args.join(" ") + " failed:\n" + r.stderr + r.stdout);
  return r.stdout;
}

/** The first line of `tool --version`, or undefined when the tool is not installed. */
export function toolVersion(tool: string): string | undefined {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split("\n")[0].trim();
}

/** Bytes of scratch the C asks for (ED25519_SCRATCH_BYTES in ed25519.h). */
export function scratchBytes(): number {
  const m = /#define ED25519_SCRATCH_BYTES (\d+)/.exec(fs.readFileSync(path.join(NATIVE_SRC, "ed25519.h"), "utf8"));
  if (!m) throw new NativeBuildError("ed25519.h does not define ED25519_SCRATCH_BYTES");
  return Number(m[1]);
}

function linkAt(obj: string, base: number, out: string): Buffer {
  const elf = out + ".elf";
  run("arm-none-eabi-gcc", ["-nostdlib", "-nostartfiles", "-static", "-Wl,--gc-sections", "-Wl,-T," + path.join(NATIVE_SRC, "blob.ld"), "-Wl,--defsym=BLOB_BASE=0x" + base.toString(16), obj, "-o", elf]);
  run("arm-none-eabi-objcopy", ["-O", "binary", "-j", ".text", elf, out]);
  return fs.readFileSync(out);
}

function largestFrame(suFile: string): { name: string; bytes: number } {
  let best = { name: "", bytes: 0 };
  for (const line of fs.readFileSync(suFile, "utf8").split("\n")) {
    const m = /:([A-Za-z_0-9]+)\t(\d+)\t/.exec(line);
    if (m && Number(m[2]) > best.bytes) best = { name: m[1], bytes: Number(m[2]) };
  }
  return best;
}

/**
 * Compiles and checks the blob, writes dist/ed25519.bin, .bin.sha256 and
 * .json. Returns the manifest, or { skipped } naming why there is none
 * (no cross compiler). Any other failure throws NativeBuildError.
 */
export function buildBlob(): BlobManifest | { skipped: string } {
  const compiler = toolVersion("arm-none-eabi-gcc");
  if (!compiler) return { skipped: "arm-none-eabi-gcc is not installed (Debian: apt-get install gcc-arm-none-eabi)" };
  const dir = path.join(BUILD_DIR, "arm");
  fs.mkdirSync(dir, { recursive: true });
  const obj = path.join(dir, "ed25519.o");
  run("arm-none-eabi-gcc", [...ARM_CFLAGS, "-I", NATIVE_SRC, "-c", path.join(NATIVE_SRC, "ed25519.c"), "-o", obj]);
  const a = linkAt(obj, 0, path.join(dir, "blob-at-0.bin"));
  const b = linkAt(obj, 0x81000, path.join(dir, "blob-at-81000.bin"));
  if (!a.equals(b)) throw new NativeBuildError("the blob is not position independent: linked at 0 and at 0x81000 it differs");
  if (a.length > MAX_BLOB_BYTES) throw new NativeBuildError("the blob is " + a.length + " bytes, over the " + MAX_BLOB_BYTES + "-byte budget");
  fs.mkdirSync(path.dirname(BLOB_FILE), { recursive: true });
  fs.writeFileSync(BLOB_FILE, a);
  const sha256 = createHash("sha256").update(a).digest("hex");
  fs.writeFileSync(BLOB_FILE + ".sha256", sha256 + "  " + path.basename(BLOB_FILE) + "\n");
  const manifest: BlobManifest = {
    file: path.relative(ROOT, BLOB_FILE),
    bytes: a.length,
    sha256,
    scratchBytes: scratchBytes(),
    entryOffset: 0,
    signature: SIGNATURE,
    largestFrame: largestFrame(path.join(dir, "ed25519.su")),
    compiler,
  };
  fs.writeFileSync(MANIFEST_FILE, JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/**
 * The blob's manifest for the firmware build, building the blob only when
 * a source is newer than dist/ed25519.json; undefined without the cross
 * compiler (the firmware then runs the JavaScript verifier and says why).
 */
export function currentBlob(): BlobManifest | undefined {
  if (!stale(MANIFEST_FILE, SOURCES) && fs.existsSync(BLOB_FILE)) {
    const m = JSON.parse(fs.readFileSync(MANIFEST_FILE, "utf8")) as BlobManifest;
    if (createHash("sha256").update(fs.readFileSync(BLOB_FILE)).digest("hex") === m.sha256) return m;
  }
  const r = buildBlob();
  return "skipped" in r ? undefined : r;
}

function stale(target: string, inputs: string[]): boolean {
  if (!fs.existsSync(target)) return true;
  const t = fs.statSync(target).mtimeMs;
  return inputs.some((f) => fs.statSync(f).mtimeMs > t);
}

const HOST_INPUTS = [...SOURCES, ...["host.c", "sha512.c", "sha512.h"].map((f) => path.join(__dirname, f))];

/** Builds (when a source is newer) the host check program and returns its path; throws without gcc. */
export function buildHost(options: { generator?: boolean } = {}): string {
  const out = path.join(BUILD_DIR, options.generator ? "ed25519-table-gen" : "ed25519-host");
  if (!stale(out, HOST_INPUTS)) return out;
  if (!toolVersion("gcc")) throw new NativeBuildError("gcc is not installed: the host check needs it (Debian: apt-get install gcc libc6-dev)");
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const defs = options.generator ? ["-DED25519_GENERATE_TABLE", "-DED25519_HOST_TOOLS", "-Wno-unused-function"] : [];
  run("gcc", ["-O2", "-std=gnu99", "-Wall", "-Wextra", "-Werror", ...defs, "-I", NATIVE_SRC, path.join(__dirname, "host.c"), path.join(__dirname, "sha512.c"), path.join(NATIVE_SRC, "ed25519.c"), "-o", out]);
  return out;
}

/** The base table's C source as the generator makes it from ed25519.c. */
export function generateBaseTable(): string {
  return run(buildHost({ generator: true }), ["--base-table"]);
}

if (require.main === module) {
  try {
    const r = buildBlob();
    if ("skipped" in r) process.stdout.write("native verifier blob skipped: " + r.skipped + "\n");
    else process.stdout.write(r.file + ": " + r.bytes + " bytes, sha256 " + r.sha256 + "\n");
  } catch (e) {
    process.stderr.write(String(e instanceof Error ? e.message : e) + "\n");
    process.exit(1);
  }
}
