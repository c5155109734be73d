/**
 * Runs the exact blob from dist/ed25519.bin on QEMU's Cortex-M4
 * (`qemu-system-arm -M mps2-an386`) through the harness in qemu/, which
 * calls it as E.nativeCall does (see qemu/harness.c for the case file's
 * format). QEMU loads the blob's bytes unchanged at the board's free-flash
 * start, 0x81000.
 *
 * countInstructions runs QEMU one instruction per block with every
 * executed block logged (-singlestep -d exec,nochain), streams that log
 * through a pipe and counts, per call, the instructions whose address lies
 * inside the blob: the blob calls nothing outside itself, so that is every
 * instruction from its entry to its return. QEMU's timers do not count
 * under -icount, so instructions are the measure.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BLOB_FILE, BUILD_DIR, NativeBuildError, toolVersion } from "./build";

export const BLOB_ADDR = 0x81000;
const CASES_ADDR = 0x21000000;
const MAX_CASES = 20000;
const HARNESS_DIR = path.join(__dirname, "qemu");

/** The inputs of one call: what the firmware hands the blob. */
export interface BlobCall {
  sig: Uint8Array;
  pk: Uint8Array;
  /** SHA-512(R || A || message). */
  digest: Uint8Array;
}

/** Why QEMU cannot run here (a missing tool), or undefined when it can. */
export function qemuMissing(): string | undefined {
  if (!toolVersion("arm-none-eabi-gcc")) return "arm-none-eabi-gcc is not installed";
  if (!toolVersion("qemu-system-arm")) return "qemu-system-arm is not installed";
  return undefined;
}

function harness(): string {
  const out = path.join(BUILD_DIR, "harness.elf");
  const srcs = ["startup.S", "harness.c", "harness.ld"].map((f) => path.join(HARNESS_DIR, f));
  const inputs = [...srcs, path.join(__dirname, "../../hal/espruino/native/ed25519.h")];
  if (fs.existsSync(out) && inputs.every((f) => fs.statSync(f).mtimeMs <= fs.statSync(out).mtimeMs)) return out;
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const r = spawnSync(
    "arm-none-eabi-gcc",
    ["-mcpu=cortex-m4", "-mthumb", "-O2", "-ffreestanding", "-nostdlib", "-nostartfiles", "-Wall", "-Wextra", "-Werror", "-DBLOB_ADDR=0x" + BLOB_ADDR.toString(16) + "u", "-T", srcs[2], srcs[0], srcs[1], "-o", out],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new NativeBuildError("harness build failed:\n" + r.stderr);
  return out;
}

function caseFile(calls: BlobCall[]): Buffer {
  const out = Buffer.alloc(8 + 160 * calls.length);
  out.write("KBX1", 0, "latin1");
  out.writeUInt32LE(calls.length, 4);
  calls.forEach((c, i) => {
    if (c.sig.length !== 64 || c.pk.length !== 32 || c.digest.length !== 64) throw new Error("case " + i + " has wrong lengths");
    out.set(c.sig, 8 + 160 * i);
    out.set(c.pk, 8 + 160 * i + 64);
    out.set(c.digest, 8 + 160 * i + 96);
  });
  return out;
}

function qemuArgs(elf: string, blob: string, cases: string): string[] {
  return [
    "-M", "mps2-an386", "-display", "none", "-monitor", "none", "-serial", "none",
    // Semihosting output to standard output (QEMU 7.2 writes it to standard error otherwise).
    "-chardev", "stdio,id=semihost", "-semihosting-config", "enable=on,target=native,chardev=semihost",
    "-kernel", elf,
    "-device", "loader,file=" + blob + ",addr=0x" + BLOB_ADDR.toString(16),
    "-device", "loader,file=" + cases + ",addr=0x" + CASES_ADDR.toString(16),
  ];
}

function withCaseFile<T>(calls: BlobCall[], fn: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-qemu-"));
  try {
    const file = path.join(dir, "cases.bin");
    fs.writeFileSync(file, caseFile(calls));
    return fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Verdicts (1/0) of the blob for each call, and the deepest stack it used, in bytes. */
export function runBlob(calls: BlobCall[], blob = BLOB_FILE): { results: number[]; stackBytes: number } {
  const elf = harness();
  const results: number[] = [];
  let stackBytes = 0;
  for (let at = 0; at < calls.length; at += MAX_CASES) {
    const batch = calls.slice(at, at + MAX_CASES);
    const out = withCaseFile(batch, (file) => {
      const r = spawnSync("qemu-system-arm", qemuArgs(elf, blob, file), { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 1 << 26, timeout: 600000 });
      if (r.status !== 0) throw new Error("QEMU failed (status " + r.status + "): " + r.stderr + r.stdout.slice(0, 400));
      return r.stdout;
    });
    const m = /RESULTS ([01?]*)\n/.exec(out);
    const s = /STACK (\d+)/.exec(out);
    if (!m || !s || m[1].length !== batch.length) throw new Error("QEMU harness printed no complete result: " + out.slice(0, 400));
    for (const ch of m[1]) {
      if (ch === "?") throw new Error("the blob returned something other than 0 or 1");
      results.push(Number(ch));
    }
    stackBytes = Math.max(stackBytes, Number(s[1]));
  }
  return { results, stackBytes };
}

/** Instructions the blob executed for each call, counted exactly from QEMU's execution log. */
export function countInstructions(calls: BlobCall[], blob = BLOB_FILE): Promise<{ counts: number[]; results: number[] }> {
  const elf = harness();
  const size = fs.statSync(blob).size;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-qemu-"));
  const file = path.join(dir, "cases.bin");
  fs.writeFileSync(file, caseFile(calls));
  // The log goes through a named pipe: Node's own stdio pipes are sockets, which QEMU cannot open as a log file.
  const fifo = path.join(dir, "trace");
  const mk = spawnSync("mkfifo", [fifo]);
  if (mk.status !== 0) throw new NativeBuildError("mkfifo failed");
  return new Promise((resolve, reject) => {
    const q = spawn("qemu-system-arm", [...qemuArgs(elf, blob, file), "-singlestep", "-d", "exec,nochain", "-D", fifo], { stdio: ["ignore", "pipe", "pipe"] });
    const counts: number[] = [];
    let out = "";
    let err = "";
    let rest = "";
    let logDone = false;
    let status: number | null | undefined;
    q.stdout.setEncoding("utf8");
    q.stdout.on("data", (d: string) => (out += d));
    q.stderr.setEncoding("utf8");
    q.stderr.on("data", (d: string) => (err += d));
    const log = fs.createReadStream(fifo, { encoding: "latin1", highWaterMark: 1 << 20 });
    log.on("data", (chunk) => {
      const text = rest + (chunk as string);
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) break;
        // "Trace 0: 0x7f.. [flags/pc/..] name": the guest pc is the second field in brackets.
        if (text.startsWith("Trace", start)) {
          const slash = text.indexOf("/", start);
          const pc = parseInt(text.slice(slash + 1, slash + 9), 16);
          if (pc >= BLOB_ADDR && pc < BLOB_ADDR + size) {
            if (pc === BLOB_ADDR) counts.push(0);
            counts[counts.length - 1]++;
          }
        }
        start = nl + 1;
      }
      rest = text.slice(start);
    });
    const finish = () => {
      if (status !== undefined && status !== 0 && !logDone) {
        // QEMU stopped before it wrote (or even opened) its log.
        logDone = true;
        try {
          // Unblocks our reader if it is still waiting for a writer to open the pipe.
          fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
        } catch (e) {
          // Nobody was waiting.
        }
        log.destroy();
      }
      if (!logDone || status === undefined) return;
      fs.rmSync(dir, { recursive: true, force: true });
      const m = /RESULTS ([01?]*)\n/.exec(out);
      if (status !== 0 || !m) return reject(new Error("QEMU failed (status " + status + "): " + err + out.slice(0, 400)));
      if (counts.length !== calls.length) return reject(new Error("counted " + counts.length + " calls for " + calls.length + " cases"));
      resolve({ counts, results: Array.from(m[1], Number) });
    };
    log.on("end", () => {
      logDone = true;
      finish();
    });
    log.on("error", reject);
    q.on("error", reject);
    q.on("close", (code) => {
      status = code;
      finish();
    });
  });
}
