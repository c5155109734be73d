/**
 * Ed25519 verification benchmark (issue 7): the firmware's verifier as built
 * into the ES5 bundle versus tweetnacl's nacl.js, on the same valid and
 * invalid signatures, under Node and, when ESPRUINO_BIN names an Espruino
 * Linux binary, inside that interpreter. `npm run bench -- --json` prints one
 * JSON object. Not part of `npm test`. The headline figures use 8-tooth comb
 * tables; the "teeth" section measures every table size the issuer can
 * provision (5..8 teeth), trading Storage for time. The native verifier's
 * figures (tools/native/bench.ts) come last; `-- --native` prints only them.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createHash } from "crypto";
import { bundle, ROOT } from "./build";
import { benchNative, nativeLines } from "./native/bench";

const nacl = require("tweetnacl/nacl.js");

/** The comb table sizes the issuer can provision (`tables --teeth`). */
const TEETH = [8, 7, 6, 5];

interface Case {
  sig: Uint8Array;
  msg: Uint8Array;
  pk: Uint8Array;
  valid: boolean;
}

function seedBytes(label: string, n: number): Uint8Array {
  return new Uint8Array(createHash("sha512").update(label).digest().subarray(0, n));
}

/** Two valid signatures (grant-sized messages) and two invalid ones (one bit of S, one of the message). */
function makeCases(): Case[] {
  const kp = nacl.sign.keyPair.fromSeed(seedBytes("bench key", 32));
  const out: Case[] = [];
  for (let i = 0; i < 2; i++) {
    const msg = seedBytes("grant " + i, 40 + i * 20);
    const sig = nacl.sign.detached(msg, kp.secretKey);
    out.push({ sig, msg, pk: kp.publicKey, valid: true });
    const bad = new Uint8Array(sig);
    if (i === 0) bad[40] ^= 4;
    const badMsg = new Uint8Array(msg);
    if (i === 1) badMsg[3] ^= 1;
    out.push({ sig: bad, msg: badMsg, pk: kp.publicKey, valid: false });
  }
  return out;
}

interface Dev {
  useAccel(a: unknown): void;
  prepareKey(pk: Uint8Array, teeth?: number): Uint8Array;
  prepareBase(teeth?: number): Uint8Array;
  tableBytes(teeth: number): number;
  useBaseTable(t: Uint8Array): boolean;
  verifyPrepared(s: Uint8Array, m: Uint8Array, pk: Uint8Array, t: Uint8Array): boolean;
}

function timeIt(fn: () => void, minMs: number): number {
  let n = 0;
  const t0 = process.hrtime.bigint();
  let el = 0;
  do {
    fn();
    n++;
    el = Number(process.hrtime.bigint() - t0) / 1e6;
  } while (el < minMs);
  return el / n;
}

function b64(b: Uint8Array): string {
  return Buffer.from(b).toString("base64");
}

function u8expr(b: Uint8Array): string {
  return "u8(" + JSON.stringify(b64(b)) + ")";
}

const U8 = "function u8(s){var d=atob(s),r=new Uint8Array(d.length);for(var i=0;i<d.length;i++)r[i]=d.charCodeAt(i);return r;}";

function casesExpr(cases: Case[]): string {
  return "var CASES=[" + cases.map((c) => "[" + u8expr(c.sig) + "," + u8expr(c.msg) + "," + u8expr(c.pk) + "," + c.valid + "]").join(",") + "];";
}

/** Run 1: the tables go into Storage, as the firmware keeps them. */
function setupScript(base: Uint8Array, key: Uint8Array): string {
  return [U8, 'var S=require("Storage");S.erase("edB");S.erase("edK");', 'S.write("edB",' + u8expr(base) + ");", 'S.write("edK",' + u8expr(key) + ");", "print('BENCH '+JSON.stringify({free:S.getFree()}));"].join("\n");
}

/** The tables memory-mapped from Storage (BASE, KEY) and the board's natives (acc), as the firmware finds them. */
const TABLES_AND_NATIVES = [
  'var S=require("Storage");',
  'var BASE=new Uint8Array(E.toArrayBuffer(S.read("edB")));var KEY=new Uint8Array(E.toArrayBuffer(S.read("edK")));',
  "var C=require('crypto');",
  "function sha(d){return new Uint8Array(C.SHA512(E.toArrayBuffer(E.toString(d))));}",
  "var acc={convolve:E.convolve};if(C.SHA512)acc.sha512=sha;",
];

/** Run 2: the bundle's verifier, tables memory-mapped from Storage (no RAM copy), natives installed. */
function fastScript(code: string, cases: Case[]): string {
  return [
    "process.memory();var u0=process.memory().usage;",
    code,
    "process.memory();var u1=process.memory().usage;",
    U8,
    casesExpr(cases),
    ...TABLES_AND_NATIVES,
    "ED.useAccel(acc);ED.useBaseTable(BASE);",
    "var ok=true,i,c,t,r;",
    "process.memory();var u2=process.memory().usage;",
    // Peak usage inside the verifier, sampled through the convolve hook (a separate, untimed run).
    "var peak=0,nc=0;ED.useAccel({convolve:function(a,b,o){if(++nc%100==0){var u=process.memory(false).usage;if(u>peak)peak=u;}return E.convolve(a,b,o);},sha512:acc.sha512});",
    "ED.verifyPrepared(CASES[0][0],CASES[0][1],CASES[0][2],KEY);",
    "ED.useAccel(acc);",
    // Timed with mapped tables (the Linux build reads its emulated flash through file I/O, slower than
    // the nRF52's memory-mapped flash) and with the same tables copied into RAM (the device-like case).
    "function run(K,N){var t=getTime();for(var n=0;n<N;n++)for(i=0;i<CASES.length;i++){c=CASES[i];r=ED.verifyPrepared(c[0],c[1],c[2],K);if(r!==c[3])ok=false;}return (getTime()-t)*1000/(N*CASES.length);}",
    "var msStorage=run(KEY,1);",
    "KEY=new Uint8Array(KEY);ED.useBaseTable(new Uint8Array(BASE));",
    "var ms=run(KEY,3);",
    "ED.useAccel({convolve:E.convolve});t=getTime();for(i=0;i<CASES.length;i++){c=CASES[i];r=ED.verifyPrepared(c[0],c[1],c[2],KEY);if(r!==c[3])ok=false;}",
    "var msJsSha=(getTime()-t)*1000/CASES.length;",
    "print('BENCH '+JSON.stringify({ms:ms,msStorage:msStorage,msJsSha:msJsSha,ok:ok,empty:u0,withCode:u1,ready:u2,peak:peak,total:process.memory().total,hasSha512:!!C.SHA512}));",
  ].join("\n");
}

/**
 * One teeth count (its tables already in Storage by setupScript): the
 * bundle's verifier with both tables copied into RAM and native helpers, as
 * the headline figure; the tables' teeth are read from their headers.
 */
function teethScript(code: string, cases: Case[], runs: number): string {
  return [
    code,
    U8,
    casesExpr(cases),
    ...TABLES_AND_NATIVES,
    "KEY=new Uint8Array(KEY);BASE=new Uint8Array(BASE);",
    "ED.useAccel(acc);var ok=ED.useBaseTable(BASE),i,c,r,n,t=getTime();",
    "for(n=0;n<" + runs + ";n++)for(i=0;i<CASES.length;i++){c=CASES[i];r=ED.verifyPrepared(c[0],c[1],c[2],KEY);if(r!==c[3])ok=false;}",
    "print('BENCH '+JSON.stringify({ms:(getTime()-t)*1000/(" + runs + "*CASES.length),ok:ok,teeth:KEY[3],bytes:KEY.length}));",
  ].join("\n");
}

/** Run 3: tweetnacl's nacl.js on the same cases. */
function naclScript(naclSrc: string, cases: Case[], runs: number): string {
  return [
    "var self={};",
    naclSrc,
    "var NACL=self.nacl;",
    U8,
    casesExpr(cases),
    "var ok=true,i,c,r,t=getTime();",
    "for(i=0;i<" + runs + ";i++){c=CASES[i%CASES.length];r=NACL.sign.detached.verify(c[1],c[0],c[2]);if(r!==c[3])ok=false;}",
    "print('BENCH '+JSON.stringify({ms:(getTime()-t)*1000/" + runs + ",ok:ok}));",
  ].join("\n");
}

/** Runs one script in the interpreter (cwd holds its emulated flash) and parses its BENCH line. */
function runEspruino(bin: string, dir: string, name: string, script: string): Record<string, number> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, script);
  const out = execFileSync(bin, [file], { cwd: dir, encoding: "utf8", input: "", timeout: 900000, maxBuffer: 1 << 24 });
  const line = out.split(/\r?\n/).find((l) => l.indexOf("BENCH ") >= 0);
  if (!line) throw new Error("no result from Espruino for " + name + ":\n" + out.slice(-2000));
  return JSON.parse(line.slice(line.indexOf("BENCH ") + 6));
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  if (process.argv.includes("--native")) {
    // Only the native verifier (QEMU's count and the board estimate), without the interpreter runs.
    const n = await benchNative(makeCases());
    process.stdout.write(json ? JSON.stringify({ native: n }) + "\n" : nativeLines(n).join("\n") + "\n");
    return;
  }
  const code = await bundle({ entry: "firmware/crypto/ed25519.ts", globalName: "ED", minify: true });
  // Same realm as the test data: instanceof Uint8Array must hold.
  const dev = new Function(code + "\nreturn ED;")() as Dev;
  const cases = makeCases();
  const t0 = Date.now();
  const base = dev.prepareBase();
  const baseMs = Date.now() - t0;
  const key = dev.prepareKey(cases[0].pk);
  dev.useBaseTable(base);
  const { simAccel } = require("../sim/hw/system");
  const node: Record<string, number> = {};
  for (const [name, accel] of [
    ["fastJs", undefined],
    ["fastNative", simAccel()],
  ] as Array<[string, unknown]>) {
    dev.useAccel(accel);
    for (const c of cases) if (dev.verifyPrepared(c.sig, c.msg, c.pk, key) !== c.valid) throw new Error("bundle verifier disagrees");
    node[name + "Ms"] = timeIt(() => {
      for (const c of cases) dev.verifyPrepared(c.sig, c.msg, c.pk, key);
    }, 500) / cases.length;
  }
  for (const c of cases) if (nacl.sign.detached.verify(c.msg, c.sig, c.pk) !== c.valid) throw new Error("nacl disagrees");
  node.naclMs = timeIt(() => {
    for (const c of cases) nacl.sign.detached.verify(c.msg, c.sig, c.pk);
  }, 500) / cases.length;
  node.ratio = node.naclMs / node.fastNativeMs;
  // Every table size the issuer can provision: base and key tables of the same teeth.
  const teeth: Record<string, Record<string, number | boolean>> = {};
  const teethTables: Record<string, [Uint8Array, Uint8Array]> = {};
  dev.useAccel(simAccel());
  for (const t of TEETH) {
    const tb = dev.prepareBase(t);
    const tk = dev.prepareKey(cases[0].pk, t);
    if (tb.length !== dev.tableBytes(t) || tk.length !== dev.tableBytes(t) || !dev.useBaseTable(tb)) throw new Error("bad " + t + "-tooth tables");
    for (const c of cases) if (dev.verifyPrepared(c.sig, c.msg, c.pk, tk) !== c.valid) throw new Error(t + "-tooth verifier disagrees");
    const ms = timeIt(() => {
      for (const c of cases) dev.verifyPrepared(c.sig, c.msg, c.pk, tk);
    }, 300) / cases.length;
    teeth[t] = { tableBytes: tk.length, storageBytesBasePlusOneKey: 2 * (tk.length + 4), nodeMs: ms };
    teethTables[t] = [tb, tk];
  }
  dev.useBaseTable(base);
  const report: Record<string, unknown> = {
    bundleBytes: code.length,
    tableBytesPerKey: key.length,
    baseTableBytes: base.length,
    prepareBaseMsNode: baseMs,
    node,
    teeth,
  };
  const bin = process.env.ESPRUINO_BIN;
  if (bin) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-bench-"));
    try {
      runEspruino(bin, dir, "setup.js", setupScript(base, key));
      const f = runEspruino(bin, dir, "fast.js", fastScript(code, cases));
      const naclSrc = fs.readFileSync(require.resolve("tweetnacl/nacl.js"), "utf8");
      const n = runEspruino(bin, dir, "nacl.js", naclScript(naclSrc, cases, Number(process.env.BENCH_NACL_RUNS || 4)));
      report.espruino = {
        binary: bin,
        fastMs: f.ms,
        fastMsJsSha512: f.msJsSha,
        fastMsTablesInEmulatedFlash: f.msStorage,
        naclMs: n.ms,
        ratio: n.ms / f.ms,
        correct: Boolean(f.ok) && Boolean(n.ok),
        jsVarsForCode: f.withCode - f.empty,
        jsVarsReadyToVerify: f.ready - f.empty,
        jsVarsPeakDuringVerify: f.peak - f.empty,
        jsVarsTotal: f.total,
        deviceEstimateMs: [f.ms * 40, f.ms * 100],
      };
      // All four teeth counts take well under a minute together (about 12 verifications each).
      for (const t of TEETH) {
        const [tb, tk] = teethTables[t];
        runEspruino(bin, dir, "setup" + t + ".js", setupScript(tb, tk));
        const r = runEspruino(bin, dir, "teeth" + t + ".js", teethScript(code, cases, 3));
        if (!r.ok || r.teeth !== t || r.bytes !== tk.length) throw new Error(t + "-tooth verifier in Espruino: " + JSON.stringify(r));
        teeth[t].espruinoMs = r.ms;
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  // The native verifier beside the interpreter's figures (issue 16).
  const native = await benchNative(cases);
  report.native = native;
  if (json) {
    process.stdout.write(JSON.stringify(report) + "\n");
    return;
  }
  const lines = [
    "bundle " + code.length + " bytes; table per key " + key.length + " bytes, base table " + base.length + " bytes",
    "node:  bundle verifier " + node.fastNativeMs.toFixed(3) + " ms (JS natives " + node.fastJsMs.toFixed(3) + " ms), nacl.js " + node.naclMs.toFixed(3) + " ms, ratio " + node.ratio.toFixed(1) + "x",
  ];
  const e = report.espruino as Record<string, number> | undefined;
  if (e) {
    lines.push(
      "espruino: bundle verifier " + e.fastMs.toFixed(1) + " ms, nacl.js " + e.naclMs.toFixed(0) + " ms, ratio " + e.ratio.toFixed(1) + "x" + (e.correct ? "" : " (WRONG RESULTS)"),
      "espruino: tables read from the Linux build's emulated flash " + e.fastMsTablesInEmulatedFlash.toFixed(1) + " ms; with JS SHA-512 instead of native " + e.fastMsJsSha512.toFixed(1) + " ms; estimate on nRF52840 " + (e.fastMs * 40 / 1000).toFixed(1) + ".." + (e.fastMs * 100 / 1000).toFixed(1) + " s",
      "espruino JsVars (above an empty interpreter): code " + e.jsVarsForCode + ", ready with tables mapped from Storage " + e.jsVarsReadyToVerify + ", peak while verifying " + e.jsVarsPeakDuringVerify + " (of " + e.jsVarsTotal + ")",
    );
  } else lines.push("espruino: set ESPRUINO_BIN to measure inside the interpreter");
  for (const t of TEETH) {
    const x = teeth[t] as Record<string, number>;
    lines.push(
      "teeth " + t + ": table " + x.tableBytes + " bytes (base + one key in Storage with CRCs " + x.storageBytesBasePlusOneKey + "), node " + x.nodeMs.toFixed(3) + " ms" +
        (x.espruinoMs === undefined ? "" : ", espruino " + x.espruinoMs.toFixed(1) + " ms"),
    );
  }
  lines.push(...nativeLines(native));
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
void ROOT;
