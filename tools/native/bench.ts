/**
 * The native verifier's part of `npm run bench`: the blob's size, its
 * instructions per verification counted exactly on QEMU's Cortex-M4
 * (qemu.ts), the time that makes at 64 MHz for a stated cycles-per-
 * instruction assumption, and the board estimate of a grant's way from the
 * complete message to the motor command: the firmware's own work measured
 * in the x86 Espruino interpreter (ESPRUINO_BIN, its CPU time) with the
 * signature check taken out, scaled by the x86-to-nRF52840 factor, plus the native check
 * for a grant never seen (a grant seen before is answered by the cache of
 * pre-verified grants: one native SHA-256 and a look-up).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { currentBlob, MAX_BLOB_BYTES } from "./build";
import { countInstructions, qemuMissing } from "./qemu";
import { bundleCompiled, transpileDeviceTo } from "../build";
import { mint, testKey, T0 } from "../../test/grants/helpers";
import { spawnSync } from "child_process";

/** Cortex-M4 at 64 MHz (nRF52840). */
export const CLOCK_HZ = 64e6;
/**
 * Cycles per instruction assumed for the estimate: the verifier is mostly
 * SMLAL/UMULL (1 cycle), loads (2, or 1 when pipelined) and register ALU
 * operations (1), with few taken branches; flash wait states are hidden by
 * the nRF52840's instruction cache. 1.25 is the estimate, 1.0 to 1.6 the
 * range reported beside it.
 */
export const CPI = 1.25;
export const CPI_RANGE: [number, number] = [1.0, 1.6];
/** The x86 Linux interpreter against an nRF52840 (../shared/espruino.md): 40x for integer code. */
export const BOARD_FACTOR: [number, number] = [40, 100];

export interface NativeBench {
  blobBytes: number;
  budgetBytes: number;
  sha256: string;
  /** Instructions per call, for each bench case (valid ones first). */
  instructions: number[];
  validInstructions: number;
  cpi: number;
  msAt64MHz: number;
  msRange: [number, number];
  /** x86 interpreter ms for the firmware's decision on a grant with the signature check taken out (flash in RAM). */
  decisionMsX86?: number;
  /** The same with the Linux build's emulated Storage (a file) as the flash. */
  decisionMsX86Storage?: number;
  /** Board estimates, ms, [at 40x, at 100x]. */
  grantToMotorNeverSeen?: [number, number];
  grantToMotorSeenBefore?: [number, number];
}

export interface BenchCase {
  sig: Uint8Array;
  msg: Uint8Array;
  pk: Uint8Array;
  valid: boolean;
}

const DECISIONS = 16;

/** CPU seconds (user + system) the interpreter spends on a script: wall time on a loaded machine says little. */
function cpuSeconds(bin: string, dir: string, script: string): { cpu: number; printed: string } {
  const file = path.join(dir, "run.js");
  fs.writeFileSync(file, script);
  const r = spawnSync("bash", ["-c", 'TIMEFORMAT="CPU %3U %3S"; time "$0" "$1"', bin, file], { cwd: dir, input: "", encoding: "latin1", timeout: 600000 });
  const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr || "");
  if (!m) throw new Error("no CPU time for the decision bench: " + (r.stderr || "").slice(-500));
  return { cpu: Number(m[1]) + Number(m[2]), printed: r.stdout || "" };
}

/**
 * The firmware's decision on fresh grants in the interpreter, verify()
 * answering true at once, CRC-32 native as on the board: ms of interpreter
 * CPU each, from the difference between DECISIONS decisions and none (both
 * runs load the code, provision a key and make one decision that creates
 * the journals). Flash in RAM (the Linux build's Storage is a file, far
 * slower to write than the nRF52840's flash) and, for comparison, Storage.
 */
export async function decisionMs(bin: string): Promise<{ ms: number; msStorage: number }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-bench-native-"));
  try {
    transpileDeviceTo(out);
    const one = (entry: string, name: string) => bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
    const k = testKey(5);
    const grants = [];
    for (let i = 0; i <= DECISIONS; i++) grants.push(Buffer.from(mint(k, { grantId: (0x1000 + i).toString(16).padStart(16, "0") })).toString("hex"));
    const code = [
      // Each run starts from an empty Storage (the Linux build keeps it in a file between runs).
      "require('Storage').eraseAll();",
      (await one("hal/espruino/lang.ts", "LANG")) + "\nLANG.fixBuiltins();",
      await one("firmware/grants/access.ts", "AC"),
      await one("firmware/events.ts", "EV"),
      await one("hal/espruino/flash.ts", "FL"),
      "function hex(s){var b=new Uint8Array(s.length/2);for(var i=0;i<b.length;i++)b[i]=parseInt(s.substr(i*2,2),16);return b;}",
      "var T=" + (T0 + 60) + ";",
      "var events=new EV.EventBus({now:function(){return {t:T,m:0};}});",
      "var clock={wall:function(){return T;},monotonic:function(){return 0;}};",
      "var F={};function RamFlash(){}",
      "RamFlash.prototype={create:function(n,z){var b=new Uint8Array(z);b.fill(255);F[n]=b;return true;},writeAt:function(n,o,d){if(!F[n])return false;F[n].set(d,o);return true;},",
      "read:function(n){return F[n];},erase:function(n){delete F[n];},list:function(p){return Object.keys(F).filter(function(k){return k.indexOf(p)===0;});},free:function(){return 1e6;},compact:function(){}};",
      "var ac=new AC.AccessControl({flash:FLASH,clock:clock,events:events,crc32:function(d){return E.CRC32(d)>>>0;},verify:function(){return true;},boxId:'KB-000001'});",
      "ac.provisionKeys([{id:5,publicKey:hex(" + JSON.stringify(Buffer.from(k.publicKey).toString("hex")) + ")}]);",
      "var G=" + JSON.stringify(grants) + ",ok=ac.present(hex(G[0]),{action:'unlock',channel:'ble'}).ok;",
      "for(var i=1;i<=N;i++)if(!ac.present(hex(G[i]),{action:'unlock',channel:'ble'}).ok)ok=false;",
      "print('BENCH '+JSON.stringify({ok:ok}));",
    ].join("\n");
    const per = (flash: string) => {
      const run = (n: number) => {
        const r = cpuSeconds(bin, out, "var N=" + n + ";\n" + code.replace("FLASH", flash));
        if (!/BENCH \{"ok":true\}/.test(r.printed)) throw new Error("the decision bench's grants were refused:\n" + r.printed.slice(-1500));
        return r.cpu;
      };
      return ((run(DECISIONS) - run(0)) * 1000) / DECISIONS;
    };
    return { ms: per("new RamFlash()"), msStorage: per("new FL.EspruinoFlash()") };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The native figures, or a sentence saying why there are none. */
export async function benchNative(cases: BenchCase[]): Promise<NativeBench | string> {
  const missing = qemuMissing();
  if (missing) return "native verifier not measured: " + missing;
  const blob = currentBlob();
  if (!blob) return "native verifier not measured: no blob was built";
  const calls = cases.map((c) => ({
    sig: c.sig,
    pk: c.pk,
    digest: new Uint8Array(createHash("sha512").update(Buffer.concat([c.sig.subarray(0, 32), c.pk, c.msg])).digest()),
  }));
  const counted = await countInstructions(calls);
  cases.forEach((c, i) => {
    if ((counted.results[i] === 1) !== c.valid) throw new Error("the blob disagrees with the bench case " + i);
  });
  const valid = counted.counts.filter((_, i) => cases[i].valid);
  const validInstructions = Math.round(valid.reduce((a, b) => a + b, 0) / valid.length);
  const ms = (cpi: number) => (validInstructions * cpi * 1000) / CLOCK_HZ;
  const r: NativeBench = {
    blobBytes: blob.bytes,
    budgetBytes: MAX_BLOB_BYTES,
    sha256: blob.sha256,
    instructions: counted.counts,
    validInstructions,
    cpi: CPI,
    msAt64MHz: ms(CPI),
    msRange: [ms(CPI_RANGE[0]), ms(CPI_RANGE[1])],
  };
  const bin = process.env.ESPRUINO_BIN;
  if (bin) {
    const m = await decisionMs(bin);
    const d = m.ms;
    r.decisionMsX86 = d;
    r.decisionMsX86Storage = m.msStorage;
    r.grantToMotorNeverSeen = [d * BOARD_FACTOR[0] + r.msAt64MHz, d * BOARD_FACTOR[1] + r.msAt64MHz];
    r.grantToMotorSeenBefore = [d * BOARD_FACTOR[0], d * BOARD_FACTOR[1]];
  }
  return r;
}

/** The lines `npm run bench` prints for the native verifier. */
export function nativeLines(n: NativeBench | string): string[] {
  if (typeof n === "string") return [n];
  const f = (x: number) => x.toFixed(1);
  const lines = [
    "native: blob " + n.blobBytes + " bytes (budget " + n.budgetBytes + "), " + n.validInstructions.toLocaleString("en") + " instructions per verification on QEMU's Cortex-M4 (each case: " + n.instructions.join(", ") + ")",
    "native: " + f(n.msAt64MHz) + " ms per verification at 64 MHz assuming " + n.cpi + " cycles per instruction (" + f(n.msRange[0]) + ".." + f(n.msRange[1]) + " ms for " + CPI_RANGE.join("..") + ")",
  ];
  if (n.decisionMsX86 !== undefined && n.grantToMotorNeverSeen && n.grantToMotorSeenBefore)
    lines.push(
      "native: the firmware's decision without the signature check " + f(n.decisionMsX86) + " ms on the x86 interpreter (" + f(n.decisionMsX86Storage as number) + " ms writing the Linux build's file-backed Storage); grant message to motor command on the board (x" + BOARD_FACTOR.join("..x") + "): never seen " +
        f(n.grantToMotorNeverSeen[0]) + ".." + f(n.grantToMotorNeverSeen[1]) + " ms, seen before " + f(n.grantToMotorSeenBefore[0]) + ".." + f(n.grantToMotorSeenBefore[1]) + " ms",
    );
  else lines.push("native: set ESPRUINO_BIN to estimate the time from a grant message to the motor command");
  return lines;
}
