/**
 * The device build: TypeScript (tsconfig.device.json, ES5) -> one rollup
 * IIFE -> X.prototype aliased once per class (aliasPrototypes) -> terser for
 * ES5 -> the Espruino gate. Terser hoists function
 * declarations and var declarations to the top of every scope, which is what
 * makes the output correct on an interpreter that hoists neither; the gate
 * then proves it on the syntax tree.
 */
import * as fs from "fs";
import * as path from "path";
import * as acorn from "acorn";
import { rollup } from "rollup";
import { minify, MinifyOptions } from "terser";
import * as ts from "typescript";
import { checkBundle, GateReport } from "./gate";
import { measureJsVars } from "./jsvars";
import { MANGLE_REGEX, markPrivateMembers } from "./mangle";
import { INSTALLER_GLOBAL } from "./flash";
import { buildBlob, currentBlob, MAX_BLOB_BYTES } from "./native/build";

export const ROOT = path.resolve(__dirname, "..");
const DEVICE_OUT = path.join(ROOT, "build", "device");

export interface BundleOptions {
  /** A .ts module under firmware/ or hal/, relative to the project root. */
  entry: string;
  /** Global var that receives the entry's exports (omit for an entry run for its side effects). */
  globalName?: string;
  /** JavaScript placed before the bundle (e.g. build-time configuration). */
  prelude?: string;
  /** false keeps it readable (for debugging); the flashed bundle is always minified. */
  minify?: boolean;
}

let compiled = false;

/**
 * Compiles firmware/ and hal/ to ES5 modules under build/device (once per
 * process), with the private members marked for renaming (tools/mangle.ts).
 */
export function compileDevice(): void {
  if (compiled) return;
  fs.rmSync(DEVICE_OUT, { recursive: true, force: true });
  const configFile = path.join(ROOT, "tsconfig.device.json");
  const read = ts.readConfigFile(configFile, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, configFile);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const result = program.emit(undefined, undefined, undefined, false, { before: [markPrivateMembers(program)] });
  const problems = ts.getPreEmitDiagnostics(program).concat(result.diagnostics);
  if (problems.length)
    throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" }));
  compiled = true;
}

/** Bundles one device module into ES5 source that the Espruino interpreter can run. */
export async function bundle(options: BundleOptions): Promise<string> {
  compileDevice();
  const input = path.join(DEVICE_OUT, options.entry.replace(/\.ts$/, ".js"));
  if (!fs.existsSync(input)) throw new Error("no compiled module for " + options.entry);
  return bundleCompiled(input, options);
}

/**
 * The firmware's pipeline from an ES5 module already compiled: rollup into
 * one IIFE, X.prototype aliased, terser. Tests that bundle a part of the
 * firmware use it with transpileDeviceTo, so they run the same pipeline
 * without racing the whole build in build/.
 */
export async function bundleCompiled(input: string, options: { globalName?: string; prelude?: string; minify?: boolean } = {}): Promise<string> {
  const build = await rollup({
    input,
    onwarn(w) {
      if (w.code === "CIRCULAR_DEPENDENCY") throw new Error("circular import: " + w.message);
      process.stderr.write("rollup: " + w.message + "\n");
    },
  });
  const out = await build.generate({
    format: "iife",
    name: options.globalName,
    esModule: false,
    generatedCode: "es5",
    strict: false,
  });
  await build.close();
  let code = aliasPrototypes((options.prelude || "") + out.output[0].code);
  if (options.minify !== false) {
    const min = await minify(code, deviceTerserOptions());
    if (!min.code) throw new Error("terser produced nothing");
    code = min.code;
  }
  return code;
}

/** Transpiles firmware/ and hal/ to ES5 modules under dir, file by file, as the device build does. */
export function transpileDeviceTo(dir: string): void {
  const walk = (rel: string): string[] =>
    fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true }).flatMap((e) => {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) return walk(r);
      return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [r] : [];
    });
  for (const f of [...walk("firmware"), ...walk("hal")]) {
    const js = ts.transpileModule(fs.readFileSync(path.join(ROOT, f), "utf8"), {
      compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.ES2015, removeComments: true },
    }).outputText;
    const dest = path.join(dir, f.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, js);
  }
}

/**
 * Terser for ES5 and an interpreter that hoists nothing: hoist_funs and
 * hoist_vars are what make the output correct there (the gate checks it).
 * No unsafe_* and no pure_getters: the firmware has getters, and float
 * arithmetic in the crypto code must not be re-associated.
 */
export const TERSER_OPTIONS: MinifyOptions = {
  ecma: 5,
  ie8: false,
  // lhs_constants: with it (and sequences) on, the bundle's unlock path went wrong in the 2v29
  // interpreter (test/e2e/bundle.test.ts with ESPRUINO_BIN caught it; turning either off fixed it,
  // and sequences off makes terser leave bare vars after code). The construct is not isolated yet.
  compress: { hoist_funs: true, hoist_vars: true, passes: 3, keep_fargs: false, toplevel: false, lhs_constants: false },
  mangle: { toplevel: false },
  format: { ascii_only: true },
};

let deviceOptions: MinifyOptions | undefined;

/** TERSER_OPTIONS plus the renaming of the firmware's private members (tools/mangle.ts). */
export function deviceTerserOptions(): MinifyOptions {
  if (!deviceOptions) {
    const mangle = Object.assign({}, TERSER_OPTIONS.mangle as object, {
      properties: { regex: MANGLE_REGEX },
    });
    deviceOptions = Object.assign({}, TERSER_OPTIONS, { mangle });
  }
  return deviceOptions;
}

type AstNode = acorn.Node & { [k: string]: any };

/**
 * TypeScript's ES5 classes spell `X.prototype.m = function () {...}` once per
 * method. Within a run of consecutive statements that only define methods
 * (assignments of function expressions or literals to X.prototype.name, or
 * Object.defineProperty(X.prototype, "name", {get/set/value: function or
 * literal})), nothing runs that could rebind X or X.prototype, so
 * `var X$p = X.prototype;` placed before the run, with every X.prototype in it
 * read from X$p, is the same program; minified, `t.prototype.` becomes `e.`.
 * Runs of one statement are left alone (the alias would not pay for itself).
 */
export function aliasPrototypes(code: string): string {
  const ast = acorn.parse(code, { ecmaVersion: 5, sourceType: "script" }) as AstNode;
  const used = new Set<string>();
  const edits: { start: number; end: number; text: string }[] = [];
  const visitAll = (n: AstNode, f: (n: AstNode) => void): void => {
    if (!n || typeof n.type !== "string") return;
    f(n);
    for (const k of Object.keys(n)) {
      const v = n[k];
      if (Array.isArray(v)) v.forEach((c) => c && typeof c.type === "string" && visitAll(c, f));
      else if (v && typeof v.type === "string") visitAll(v, f);
    }
  };
  visitAll(ast, (n) => {
    if (n.type === "Identifier") used.add(n.name);
  });
  const fresh = (base: string): string => {
    let name = base + "$p", i = 0;
    while (used.has(name)) name = base + "$p" + ++i;
    used.add(name);
    return name;
  };
  const isProto = (n: AstNode): string | undefined =>
    n && n.type === "MemberExpression" && !n.computed && n.property.name === "prototype" && n.object.type === "Identifier"
      ? (n.object.name as string)
      : undefined;
  const inert = (n: AstNode): boolean => n.type === "FunctionExpression" || (n.type === "Literal" && !(n as any).regex);
  /** The class whose prototype the statement defines a member on, and the X.prototype node; undefined if it is anything else. */
  const methodDef = (s: AstNode): { owner: string; proto: AstNode } | undefined => {
    if (s.type !== "ExpressionStatement") return undefined;
    const e = s.expression;
    if (e.type === "AssignmentExpression" && e.operator === "=" && e.left.type === "MemberExpression" && !e.left.computed && inert(e.right)) {
      const owner = isProto(e.left.object);
      return owner ? { owner, proto: e.left.object } : undefined;
    }
    if (e.type === "CallExpression" && e.arguments.length === 3) {
      const c = e.callee, [target, key, desc] = e.arguments as AstNode[];
      const owner = isProto(target);
      if (!owner || c.type !== "MemberExpression" || c.computed || c.object.type !== "Identifier" || c.object.name !== "Object" || c.property.name !== "defineProperty") return undefined;
      if (key.type !== "Literal" || typeof key.value !== "string" || desc.type !== "ObjectExpression") return undefined;
      const plain = (desc.properties as AstNode[]).every((p) => p.kind === "init" && !p.computed && inert(p.value));
      return plain ? { owner, proto: target } : undefined;
    }
    return undefined;
  };
  const scanList = (body: AstNode[]): void => {
    let i = 0;
    while (i < body.length) {
      const first = methodDef(body[i]);
      if (!first) {
        i++;
        continue;
      }
      const run: AstNode[] = [first.proto];
      let j = i + 1;
      for (; j < body.length; j++) {
        const d = methodDef(body[j]);
        if (!d || d.owner !== first.owner) break;
        run.push(d.proto);
      }
      if (run.length >= 2) {
        const alias = fresh(first.owner);
        edits.push({ start: body[i].start, end: body[i].start, text: "var " + alias + " = " + first.owner + ".prototype;\n" });
        for (const p of run) edits.push({ start: p.start, end: p.end, text: alias });
      }
      i = j;
    }
  };
  visitAll(ast, (n) => {
    if (n.type === "Program") scanList(n.body);
    else if (n.type === "BlockStatement") scanList(n.body);
    else if (n.type === "SwitchCase") scanList(n.consequent);
  });
  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = code;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

export interface PinConfig {
  [key: string]: unknown;
}

/** The build-time configuration placed in front of the firmware: the pin map and defaults. */
export function devicePrelude(configPath = path.join(ROOT, "espruino.config.json")): string {
  const cfg = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, "utf8")) : {};
  // The native verifier's hash: the firmware calls an installed blob only when its bytes hash to this.
  const blob = currentBlob();
  const native = blob ? { ed25519: { sha256: blob.sha256, bytes: blob.bytes, scratchBytes: blob.scratchBytes } } : null;
  const embedded = { pins: cfg.pins || null, firmware: cfg.firmware || null, native: native };
  return "var KEYBOX_BUILD=" + JSON.stringify(embedded) + ";\n";
}

export interface BuildResult {
  file: string;
  bytes: number;
  gate: GateReport;
  jsVars: { value: number; how: string };
}

/** Builds dist/keybox.js, the file that is flashed, and checks it; progress hears each step as it starts. */
export async function buildFirmware(progress: (step: string) => void = () => undefined): Promise<BuildResult> {
  progress("compiling firmware/ and hal/ to ES5 (tsconfig.device.json), bundling with rollup, minifying with terser");
  const code = await bundle({ entry: "hal/espruino/entry.ts", prelude: devicePrelude() });
  progress("checking the bundle with the Espruino gate");
  const gate = checkBundle(code);
  const file = path.join(ROOT, "dist", "keybox.js");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  const bytes = Buffer.byteLength(code);
  progress("measuring the JsVars it holds once booted");
  return { file, bytes, gate, jsVars: measureJsVars(code) };
}

/** The global the loader bundle's exports land in; the trailer clears it once it is used. */
export const LOADER_GLOBAL = "KEYBOX_LOADER";
/**
 * Evaluates the slot the loader picked at global scope (eval runs in the
 * caller's scope on Espruino), so the firmware's top-level vars are globals
 * as they were in .bootcde; the loader's own functions, whose bodies sit in
 * Storage, are dropped first so nothing keeps pointing into Storage.
 */
export const LOADER_TRAILER =
  "\nvar KEYBOX_FW=" + LOADER_GLOBAL + ".pick();" + LOADER_GLOBAL + "=undefined;" +
  'if(KEYBOX_FW!==undefined)try{eval(KEYBOX_FW)}catch(e){console.log("keybox loader: the firmware stopped at boot: "+e)}\n';

/** The loader (.bootcde): hal/espruino/loader.ts and the trailer that boots what it picks. */
export async function bundleLoader(): Promise<string> {
  return (await bundle({ entry: "hal/espruino/loader.ts", globalName: LOADER_GLOBAL })) + LOADER_TRAILER;
}

export interface LoaderResult {
  file: string;
  bytes: number;
  gate: GateReport;
}

/** Builds dist/loader.js, the only code the box keeps in Storage, and checks it. */
export async function buildLoader(): Promise<LoaderResult> {
  const code = await bundleLoader();
  const file = path.join(ROOT, "dist", "loader.js");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  return { file, bytes: Buffer.byteLength(code), gate: checkBundle(code) };
}


/** Builds dist/installer.js, which the flasher sends ahead of the firmware to write the code area, and checks it. */
export async function buildInstaller(): Promise<LoaderResult> {
  const code = await bundle({ entry: "hal/espruino/installer.ts", globalName: INSTALLER_GLOBAL });
  const file = path.join(ROOT, "dist", "installer.js");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  return { file, bytes: Buffer.byteLength(code), gate: checkBundle(code) };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const r = await buildFirmware((step) => process.stdout.write("build: " + step + " ... (" + ((Date.now() - t0) / 1000).toFixed(0) + " s)\n"));
  const loader = await buildLoader();
  const installer = await buildInstaller();
  for (const b of [r, loader, installer]) {
    if (!b.gate.errors.length) continue;
    process.stderr.write("Espruino gate failed for " + path.relative(ROOT, b.file) + ":\n  " + b.gate.errors.join("\n  ") + "\n");
    process.exit(1);
  }
  process.stdout.write(path.relative(ROOT, r.file) + ": " + r.bytes + " bytes, ~" + r.jsVars.value + " JsVars once booted (" + r.jsVars.how + ")\n");
  process.stdout.write(path.relative(ROOT, loader.file) + ": " + loader.bytes + " bytes (.bootcde); " + path.relative(ROOT, installer.file) + ": " + installer.bytes + " bytes (sent by npm run flash)\n");
  // The native Ed25519 verifier (issue 16); without an Arm compiler the firmware keeps the JavaScript verifier.
  const native = buildBlob();
  if ("skipped" in native) process.stdout.write("native verifier blob skipped: " + native.skipped + "; the firmware will use the JavaScript verifier\n");
  else process.stdout.write(native.file + ": native verifier, " + native.bytes + " bytes (budget " + MAX_BLOB_BYTES + "), sha256 " + native.sha256 + "\n");
  // Both areas of the board as the flasher will count them (espruino.config.json's board and storage plan).
  // The bundles are built either way; a configuration the flasher cannot read only loses the report.
  const flash = await import("./flash");
  flash.installNetworkGuard();
  try {
    const s = flash.resolveSettings({ dryRun: true, force: false, verbose: false, help: false, blobs: [] });
    process.stdout.write((await flash.budgetReport(s)).text + "\n");
  } catch (e) {
    if (!(e instanceof flash.FlashError)) throw e;
    process.stdout.write("Budget not computed: " + e.message + "\n");
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write((e && e.stack) || String(e));
    process.stderr.write("\n");
    process.exit(1);
  });
}
