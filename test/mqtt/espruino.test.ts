import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { rollup } from "rollup";
import { minify } from "terser";
import { checkBundle } from "../../tools/gate";

const ROOT = path.resolve(__dirname, "../..");
const bin = process.env.ESPRUINO_BIN;

/** The uplink stack (codec, client, outbox, commands, wall clock) as one ES5 bundle, built the way tools/build.ts builds the firmware. */
async function bundleUplink(dir: string): Promise<string> {
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const files = ["firmware/uplink/wire.ts", "firmware/mqtt/codec.ts"].map((f) => path.join(ROOT, f));
  // the device compiler settings, limited to the uplink's modules
  const config = path.join(dir, "tsconfig.json");
  fs.writeFileSync(config, JSON.stringify({ extends: path.join(ROOT, "tsconfig.device.json"), compilerOptions: { outDir: dir, rootDir: ROOT }, files, include: [] }));
  execFileSync(process.execPath, [tsc, "-p", config], { cwd: ROOT });
  const entry = path.join(dir, "entry.js");
  fs.writeFileSync(
    entry,
    [
      'export { encode, Parser } from "./firmware/mqtt/codec.js";',
      'export { Uplink } from "./firmware/uplink/uplink.js";',
      'export { WallClock } from "./firmware/time/wallclock.js";',
      'export { openUplink, openWallClock } from "./firmware/uplink/wire.js";',
    ].join("\n"),
  );
  const build = await rollup({ input: entry });
  const out = await build.generate({ format: "iife", name: "K", esModule: false, generatedCode: "es5", strict: false });
  await build.close();
  const min = await minify(out.output[0].code, {
    ecma: 5,
    compress: { hoist_funs: true, hoist_vars: true, passes: 2, keep_fargs: false, toplevel: false },
    mangle: { toplevel: false },
    format: { ascii_only: true },
  });
  return min.code as string;
}

(bin ? describe : describe.skip)("the uplink stack on the Espruino interpreter (ESPRUINO_BIN)", () => {
  test("passes the bundle gate and runs a whole connect / publish / ack / command cycle", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-uplink-esp-"));
    try {
      const code = await bundleUplink(dir);
      expect(checkBundle(code).errors).toEqual([]);
      const file = path.join(dir, "run.js");
      fs.writeFileSync(file, code + "\n" + fs.readFileSync(path.join(__dirname, "espruino", "scenario.js"), "utf8"));
      const r = spawnSync(bin as string, [file], { cwd: dir, input: "", encoding: "latin1", timeout: 60000 });
      const outText = r.stdout || "";
      expect(outText).toContain("ALL OK");
      expect(outText).not.toMatch(/FAIL|Uncaught|ERROR/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});
