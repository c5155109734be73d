import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkBundle } from "../../tools/gate";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";

const bin = process.env.ESPRUINO_BIN;

/** The uplink stack (codec, client, outbox, commands, wall clock) as one ES5 bundle, through the firmware's own pipeline. */
async function bundleUplink(dir: string): Promise<string> {
  transpileDeviceTo(dir);
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
  return bundleCompiled(entry, { globalName: "K" });
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
