/**
 * The device build renames the firmware's private members (tools/mangle.ts):
 * exactly the uses TypeScript resolves to a private or protected field or
 * method get the mark, never a public member, an interface member or an
 * object's key of the same name, and the program behaves as before once
 * terser has shortened the marked names.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as vm from "vm";
import * as ts from "typescript";
import { minify } from "terser";
import { markPrivateMembers, MARK } from "../tools/mangle";
import { deviceTerserOptions } from "../tools/build";

const SOURCE = `
interface Options { count: number; label: string }
class Meter {
  private count: number;
  protected label: string;
  public shown = 0;
  private get twice(): number { return this.count * 2; }
  constructor(o: Options) { this.count = o.count; this.label = o.label; }
  private bump(by: number): void { this.count += by; }
  merge(other: Meter): void { other.bump(this.count); }
  report(): { count: number; label: string; twice: number } {
    this.shown++;
    return { count: this.count, label: this.label, twice: this.twice };
  }
}
var a = new Meter({ count: 2, label: "a" });
var b = new Meter({ count: 5, label: "b" });
a.merge(b);
var out = [b.report(), a.report(), (JSON.parse('{"count":1}') as { count: number }).count];
`;

function compile(source: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mangle-"));
  const file = path.join(dir, "m.ts");
  fs.writeFileSync(file, source);
  const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES5, lib: ["lib.es5.d.ts"], strict: true, noEmit: false, outDir: dir, types: [] };
  const program = ts.createProgram({ rootNames: [file], options });
  expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);
  let js = "";
  program.emit(undefined, (name, text) => {
    if (name.endsWith(".js")) js = text;
  }, undefined, false, { before: [markPrivateMembers(program)] });
  fs.rmSync(dir, { recursive: true, force: true });
  return js;
}

function run(js: string): unknown {
  const ctx = vm.createContext({});
  vm.runInContext(js, ctx);
  return JSON.parse(JSON.stringify(vm.runInContext("out", ctx)));
}

describe("private member renaming", () => {
  const js = compile(SOURCE);

  it("marks private and protected fields and methods, on this and on another instance", () => {
    expect(js).toContain("this.count" + MARK);
    expect(js).toContain("this.label" + MARK);
    expect(js).toContain("other.bump" + MARK + "(");
    expect(js).toContain(".bump" + MARK + " = function");
  });

  it("leaves public members, accessors, interface members and object keys alone", () => {
    expect(js).toContain("this.shown++");
    expect(js).toMatch(/defineProperty\(Meter\.prototype, "twice"/);
    expect(js).toContain("o.count;");
    expect(js).toContain("o.label;");
    expect(js).toContain("{ count: this.count" + MARK);
    expect(js).toContain("JSON.parse('{\"count\":1}').count]");
  });

  it("behaves the same once terser has shortened the marked names", async () => {
    const expected = [{ count: 7, label: "b", twice: 14 }, { count: 2, label: "a", twice: 4 }, 1];
    expect(run(js)).toEqual(expected);
    const min = (await minify(js, deviceTerserOptions())).code as string;
    expect(min).not.toContain(MARK);
    expect(min).not.toMatch(/\.bump\b/);
    expect(run(min)).toEqual(expected);
  });

  it("stops the build when a private member's name is read from a value typed any", () => {
    expect(() => compile(SOURCE.replace("other.bump(this.count)", "(other as any).bump(this.count)"))).toThrow(/"bump" is a private member's name, read from a value typed any/);
  });

  it("stops the build when a private member is reached through a string", () => {
    expect(() => compile(SOURCE.replace("other.bump(this.count)", 'other["bump"](this.count)'))).toThrow(/private member "bump" reached through a string/);
  });
});
