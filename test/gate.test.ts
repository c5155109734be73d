/**
 * The Espruino gate on the artifact that is flashed: dist/keybox.js is built
 * here, checked statically, and booted in a sandbox with only Espruino's
 * globals (and, when ESPRUINO_BIN names a Linux build of the interpreter,
 * in the interpreter itself).
 */
import { bootFromStorage, runScript, writeStorage } from "../tools/espruino-run";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFirmware, BuildResult } from "../tools/build";
import { checkBundle } from "../tools/gate";
import { createSandbox, FAKE_WORLD } from "../tools/sandbox";

let built: BuildResult;
let code: string;

beforeAll(async () => {
  built = await buildFirmware();
  code = fs.readFileSync(built.file, "utf8");
}, 120000);

describe("the flashed bundle", () => {
  it("passes the static gate", () => {
    expect(built.gate.errors).toEqual([]);
    expect(built.bytes).toBe(Buffer.byteLength(code));
  });

  it("is minified: no comments, no long runs of whitespace", () => {
    expect(code).not.toMatch(/\/\*\*|\n\s*\/\//);
    expect(code.length / code.split("\n").length).toBeGreaterThan(500);
  });

  it("boots in an Espruino-only sandbox: locked, advertising, heartbeat", () => {
    const sb = createSandbox((hw) => {
      hw.level["D34"] = 0; // bolt switch, active low: thrown
    });
    sb.run(code);
    sb.hw.advance(10);
    expect(sb.hw.logs.join("\n")).toMatch(/latch locked/);
    const adv = sb.hw.nrf.advertising[sb.hw.nrf.advertising.length - 1];
    expect(adv.options.name).toMatch(/^Keybox /);
    expect(adv.options.manufacturerData).toEqual([1, 1]);
    const ledWrites = () => sb.hw.writes.filter((w) => w.pin === "D12").length;
    const before = ledWrites();
    sb.hw.advance(61000); // two heartbeats at the default 30 s
    expect(ledWrites() - before).toBeGreaterThanOrEqual(4);
    expect(sb.hw.writes.filter((w) => (w.pin === "D19" || w.pin === "D20") && w.value === 1)).toEqual([]);
  });

  it("turns Espruino's BLE console off and requires LE Secure Connections", () => {
    const sb = createSandbox();
    sb.run(code);
    sb.hw.advance(10);
    expect(sb.hw.nrf.services).not.toBeNull();
    expect(sb.hw.nrf.serviceOptions.uart).toBe(false);
    expect(sb.hw.nrf.security).toEqual(expect.objectContaining({ lesc: 1 }));
  });

  it("leaves the console on only when Storage's keybox.json asks for development mode", () => {
    const sb = createSandbox((hw) => {
      hw.files!["keybox.json"] = new Uint8Array(Buffer.from(JSON.stringify({ boxId: "KB-DEV0001", devMode: true })));
    });
    sb.run(code);
    sb.hw.advance(10);
    expect(sb.hw.nrf.serviceOptions.uart).toBe(true);
    expect(sb.hw.nrf.advertising[sb.hw.nrf.advertising.length - 1].options.name).toContain("KB-DEV0001");
  });

  it("reports an open latch when the bolt switch says retracted", () => {
    const sb = createSandbox((hw) => {
      hw.level["D34"] = 1;
      hw.level["D33"] = 1; // lid open: the box must not relock it
    });
    sb.run(code);
    sb.hw.advance(10);
    expect(sb.hw.logs.join("\n")).toMatch(/latch open/);
    // advertised as ready, exactly like a locked box: a passer-by cannot tell it is open (issue 13 point 5)
    expect(sb.hw.nrf.advertising[sb.hw.nrf.advertising.length - 1].options.manufacturerData).toEqual([1, 1]);
  });

  const bin = process.env.ESPRUINO_BIN;
  (bin ? it : it.skip)("boots from Storage in the real interpreter named by ESPRUINO_BIN", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-gate-"));
    try {
      // From Storage, as the board boots it (a device-sized interpreter could not hold the text).
      expect(writeStorage(bin!, dir, { ".bootcde": new Uint8Array(Buffer.from(code, "latin1")) })).toBe(true);
      const out = runScript(bin!, dir, FAKE_WORLD + "\n" + bootFromStorage(".bootcde") + "\n__hw.advance(61000);print('LED ' + __hw.writes.filter(function(w){return w.pin==='D12';}).length);\n");
      expect(out).not.toMatch(/Uncaught|SyntaxError|ReferenceError/);
      expect(out).toMatch(/latch locked/);
      expect(Number(/LED (\d+)/.exec(out)![1])).toBeGreaterThanOrEqual(4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the gate itself", () => {
  const bad: Array<[string, string, RegExp]> = [
    ["TypeScript's CommonJS export before the declaration", 'exports.f = f; function f() { return 1; }', /exports|function f declared after/],
    ["a call before a function declaration", "var x = g(); function g() { return 1; }", /function g declared after code/],
    ["a nested declaration after code", "function outer() { var a = 1; function inner() {} return inner; }", /function inner declared after/],
    ["a bare var after code", "function f(n) { for (var i = 0; i < n; i++) { var acc; acc = i; } return acc; }", /bare var acc/],
    ["a bare var shadowing a parameter", "function f(a) { var a; return a; }", /re-declares parameter a/],
    ["Map", "var m = new Map();", /uses Map/],
    ["Symbol", "var s = Symbol('x');", /uses Symbol/],
    ["Array.from", "var a = Array.from([1]);", /Array.from/],
    ["Uint8Array.from", "var a = Uint8Array.from([1]);", /Uint8Array.from/],
    ["Math.imul", "var a = Math.imul(2, 3);", /Math.imul/],
    ["Object.freeze", "var a = Object.freeze({});", /Object.freeze/],
    ["Number.isFinite", "var a = Number.isFinite(1);", /Number.isFinite/],
    ["Math.trunc", "var a = Math.trunc(1.5);", /Math.trunc/],
    ["Array.prototype lookups", "function f() { return Array.prototype.slice.call(arguments); }", /Array.prototype.slice is undefined/],
    ["copyWithin", "var a = new Uint8Array(4); a.copyWithin(0, 1);", /copyWithin/],
    ["a counted regular-expression quantifier", "var ok = /^[0-9a-f]{16}$/.test(s);", /\{n,m\} quantifier/],
    ["labelled continue", "outer: for (var i = 0; i < 2; i++) { continue outer; }", /labelled/],
    ["ES2015 syntax", "let x = 1;", /not ES5/],
    ["arrow functions", "var f = () => 1;", /not ES5/],
  ];
  it.each(bad)("rejects %s", (_name, src, why) => {
    const errors = checkBundle(src).errors;
    expect(errors.join("\n")).toMatch(why);
  });

  it("accepts hoisted declarations, for-in heads and locals that shadow missing globals", () => {
    const ok = "function f(o) { var k, n; function g() { return n; } n = 0; for (var j in o) n++; return g(); } var Map = 1; var r = f({ a: 1 }) + Map; Object.prototype.hasOwnProperty.call({}, 'a');";
    expect(checkBundle(ok).errors).toEqual([]);
  });
});
