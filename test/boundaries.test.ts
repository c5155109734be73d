/**
 * The device boundary: firmware/ may import only hal/ interfaces and its own
 * modules, and only hal/espruino/ may name Espruino's globals.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(rel));
    else if (e.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** Every module specifier a file imports, requires or re-exports. */
function importsOf(file: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(path.resolve(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) found.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.arguments.length === 1 && ts.isStringLiteral(n.arguments[0])) {
      const callee = n.expression.getText();
      if (callee === "require" || n.expression.kind === ts.SyntaxKind.ImportKeyword) found.push((n.arguments[0] as ts.StringLiteral).text);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return found;
}

/** Identifiers a file uses as free names (not property names, not declarations). */
function namesUsed(file: string): Set<string> {
  const src = ts.createSourceFile(file, fs.readFileSync(path.resolve(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const names = new Set<string>();
  const visit = (n: ts.Node) => {
    if (ts.isIdentifier(n)) {
      const p = n.parent;
      const isProperty = (ts.isPropertyAccessExpression(p) && p.name === n) || (ts.isPropertyAssignment(p) && p.name === n) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p) || ts.isPropertyDeclaration(p);
      if (!isProperty) names.add(n.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return names;
}

const firmware = filesUnder("firmware");
const halInterfaces = filesUnder("hal").filter((f) => !f.startsWith(path.join("hal", "espruino")));
const ESPRUINO_GLOBALS = ["digitalWrite", "digitalRead", "pinMode", "setWatch", "clearWatch", "analogRead", "analogWrite", "NRF", "Serial1", "I2C1", "E", "getTime", "setTime", "setTimeout", "setInterval", "require", "KEYBOX_BUILD"];
const NODE_ONLY = ["Buffer", "process", "__dirname", "setImmediate", "TextEncoder"];

describe("firmware boundary", () => {
  it("has firmware modules to check", () => {
    expect(firmware.length).toBeGreaterThan(3);
  });

  it.each(firmware)("%s imports only hal/ interfaces and firmware/", (file) => {
    for (const spec of importsOf(file)) {
      expect(spec.startsWith(".")).toBe(true);
      const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
      const ok = target.startsWith("firmware" + path.sep) || target === "hal" || (target.startsWith("hal" + path.sep) && !target.startsWith(path.join("hal", "espruino")));
      if (!ok) throw new Error(file + " imports " + spec + " (" + target + ")");
    }
  });

  it.each([...firmware, ...halInterfaces])("%s names no Espruino or Node global", (file) => {
    const used = namesUsed(file);
    const bad = [...ESPRUINO_GLOBALS, ...NODE_ONLY].filter((g) => used.has(g));
    expect(bad).toEqual([]);
  });

  it.each(firmware)("%s does not extend Error (Espruino cannot call super on it)", (file) => {
    expect(fs.readFileSync(path.join(ROOT, file), "utf8")).not.toMatch(/extends\s+Error\b/);
  });

  it("the checker catches a Node import and an Espruino global", () => {
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "probe-"));
    const probe = path.join(dir, "bad.ts");
    try {
      fs.writeFileSync(probe, 'import * as fs from "fs";\nimport { SimBox } from "../../sim/box";\ndigitalWrite("D1", 1);\n');
      expect(importsOf(probe)).toEqual(["fs", "../../sim/box"]);
      expect(namesUsed(probe).has("digitalWrite")).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
