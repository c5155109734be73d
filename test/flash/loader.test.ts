/**
 * The loader (.bootcde) as the board runs it: the built bundle
 * (tools/build.ts bundleLoader) evaluated on a board whose code area was
 * written by the slot writer, on every path: nothing installed, both slots
 * valid, the newest corrupt, both corrupt, a slot erased half-way. The
 * newest intact slot boots at global scope; otherwise the console says why
 * and no pin is driven. In the Espruino-only sandbox always (its fake of
 * require("Flash") and E.memoryArea); with ESPRUINO_BIN in the real
 * interpreter too, through a shim: the Linux build's Flash module works on
 * the same emulated file as Storage and its flash is not memory-mapped, so
 * there the slots are Storage files that the shim's Flash.read and
 * E.memoryArea read (Storage.read returns the same kind of flash-backed
 * string that E.memoryArea does on the board).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleLoader } from "../../tools/build";
import { checkBundle } from "../../tools/gate";
import { createSandbox, sandboxCodeArea } from "../../tools/sandbox";
import { codeAreaShim, runScript, shimFiles, writeStorage } from "../../tools/espruino-run";
import { CodeArea } from "../../hal/codearea";
import { SimCodeArea } from "../../sim/hw/codearea";
import { CodeAreaLayout, layoutFor, PAGE_BYTES, SLOT_HEADER_BYTES } from "../../firmware/codearea/layout";
import { SlotWriter } from "../../firmware/codearea/install";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const firmware = (name: string) =>
  new Uint8Array(Buffer.from(`var FW_NAME = "${name}"; print("firmware ${name} runs, loader gone: " + (KEYBOX_LOADER === undefined));` + "/*" + "pad ".repeat(3000) + "*/", "latin1"));
const A = firmware("A"), B = firmware("B");

let loader = "";
beforeAll(async () => {
  loader = await bundleLoader();
}, 300000);

function install(area: CodeArea, body: Uint8Array): void {
  const w = new SlotWriter({ area, sha256 });
  expect(w.begin(body.length)).toBeUndefined();
  for (let at = 0; at < body.length; at += 1024) expect(w.put(at, body.subarray(at, at + 1024))).toBe(true);
  expect(typeof w.commit(body.length, sha256(body))).toBe("object");
}

/** Clears one set bit in the body of a slot, as a flash fault would. */
function corrupt(area: CodeArea, slotAddr: number): void {
  const at = slotAddr + SLOT_HEADER_BYTES + 40;
  const w = area.read(at, 4);
  w[0] &= w[0] - 1;
  expect(area.write(at, w)).toBe(true);
}

interface Case {
  name: string;
  prepare(area: CodeArea, l: CodeAreaLayout): void;
  boots?: "A" | "B";
  log: string[];
}

const CASES: Case[] = [
  { name: "nothing installed", prepare: () => undefined, log: ["slot 0 passed over: erased", "slot 1 passed over: erased", "no firmware can boot: no slot holds an intact firmware; the box stays as it is until npm run flash installs one"] },
  { name: "both slots valid: the newest", prepare: (a) => (install(a, A), install(a, B)), boots: "B", log: ["booting slot 1, firmware version 2 (" + B.length + " bytes)"] },
  {
    name: "the newest corrupt: the older",
    prepare: (a, l) => (install(a, A), install(a, B), corrupt(a, l.slots[1])),
    boots: "A",
    log: ["slot 1 passed over: firmware version 2 does not match its SHA-256", "booting slot 0, firmware version 1 (" + A.length + " bytes)"],
  },
  {
    name: "both corrupt: none",
    prepare: (a, l) => (install(a, A), install(a, B), corrupt(a, l.slots[0]), corrupt(a, l.slots[1])),
    log: [
      "slot 1 passed over: firmware version 2 does not match its SHA-256",
      "slot 0 passed over: firmware version 1 does not match its SHA-256",
      "no firmware can boot: no slot holds an intact firmware; the box stays as it is until npm run flash installs one",
    ],
  },
  {
    name: "the newest erased half-way: the older",
    prepare: (a, l) => (install(a, A), install(a, B), a.erasePage(l.slots[1] + 2 * PAGE_BYTES), a.erasePage(l.slots[1] + 3 * PAGE_BYTES)),
    boots: "A",
    log: ["slot 1 passed over: firmware version 2 does not match its SHA-256", "booting slot 0, firmware version 1 (" + A.length + " bytes)"],
  },
  {
    name: "the older erased half-way from its header: the newest",
    prepare: (a, l) => (install(a, A), install(a, B), a.erasePage(l.slots[0])),
    boots: "B",
    log: ["slot 0 passed over: erased", "booting slot 1, firmware version 2 (" + B.length + " bytes)"],
  },
];

describe("the loader bundle", () => {
  test("is small, passes the Espruino gate and names no pin", () => {
    expect(checkBundle(loader).errors).toEqual([]);
    expect(loader.length).toBeLessThan(4096);
    expect(loader).not.toMatch(/digitalWrite|pinMode|analogWrite/);
  });

  for (const c of CASES)
    test("in the sandbox, " + c.name, () => {
      const sb = createSandbox();
      const area = sandboxCodeArea(sb);
      c.prepare(area, layoutFor(area.freeRange()) as CodeAreaLayout);
      sb.run(loader);
      const logs = sb.hw.logs;
      expect(logs.filter((l) => l.startsWith("keybox loader: ")).map((l) => l.slice(15))).toEqual(c.log);
      if (c.boots) {
        expect(logs).toContain(`firmware ${c.boots} runs, loader gone: true`);
        expect(sb.run("FW_NAME")).toBe(c.boots); // evaluated at global scope
      } else expect(logs.filter((l) => l.startsWith("firmware"))).toEqual([]);
      expect(sb.hw.writes).toEqual([]);
    });

  const bin = process.env.ESPRUINO_BIN;
  (bin ? test : test.skip)("in the real interpreter (ESPRUINO_BIN), through the Flash shim, on every path", () => {
    for (const c of CASES) {
      const area = new SimCodeArea();
      const l = layoutFor(area.freeRange()) as CodeAreaLayout;
      c.prepare(area, l);
      const files: { [n: string]: Uint8Array } = { ".bootcde": new Uint8Array(Buffer.from(loader, "latin1")), ".boot0": new Uint8Array(Buffer.from(codeAreaShim(l), "latin1")) };
      Object.assign(files, shimFiles((a, n) => area.read(a, n), l));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-loader-"));
      try {
        expect(writeStorage(bin!, dir, files)).toBe(true);
        const out = runScript(bin!, dir, "load();\n").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
        const lines = out.split("\n").map((x) => x.replace(/^>+/, "").trim());
        expect([c.name, lines.filter((x) => x.startsWith("keybox loader: ")).map((x) => x.slice(15))]).toEqual([c.name, c.log]);
        expect([c.name, lines.filter((x) => x.startsWith("firmware "))]).toEqual([c.name, c.boots ? [`firmware ${c.boots} runs, loader gone: true`] : []]);
        expect(out).not.toMatch(/Uncaught/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 120000);
});

