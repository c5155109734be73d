/**
 * The device build's own transforms: aliasing X.prototype in TypeScript's ES5
 * class output must leave every program's behaviour as it was (checked by
 * running both versions in a vm, on hand-written and generated samples), and
 * the minified bundle must still pass the Espruino gate.
 */
import * as fc from "fast-check";
import * as vm from "vm";
import { aliasPrototypes, bundle } from "../tools/build";
import { checkBundle } from "../tools/gate";

/** Runs a script that leaves its findings in `out` and returns them as JSON text. */
function observe(code: string): string {
  const ctx = vm.createContext({ out: [] as unknown[] });
  try {
    vm.runInContext(code, ctx, { timeout: 2000 });
  } catch (e) {
    (ctx.out as unknown[]).push("threw " + String((e as Error).message));
  }
  return JSON.stringify(ctx.out);
}

const count = (s: string, re: RegExp) => (s.match(re) || []).length;

const CLASS_SAMPLE = `
var Counter = (function () {
    function Counter(start) { this.n = start; }
    Counter.prototype.inc = function () { this.n++; return this; };
    Counter.prototype.add = function (k) { this.n += k; return this; };
    Object.defineProperty(Counter.prototype, "double", {
        get: function () { return this.n * 2; },
        enumerable: false,
        configurable: true
    });
    Counter.prototype.tag = "counter";
    Counter.prototype.show = function () { return this.tag + ":" + this.n; };
    return Counter;
}());
var Other = (function () {
    function Other() {}
    Other.prototype.a = function () { return 1; };
    Other.prototype.b = function () { return 2; };
    return Other;
}());
var c = new Counter(3).inc().add(4);
out.push(c.n, c.double, c.show(), Object.keys(Counter.prototype), new Other().a() + new Other().b());
out.push(Object.getOwnPropertyDescriptor(Counter.prototype, "double").enumerable);
`;

describe("aliasPrototypes", () => {
  it("shortens a TypeScript-style class and keeps what it does", () => {
    const after = aliasPrototypes(CLASS_SAMPLE);
    expect(observe(after)).toBe(observe(CLASS_SAMPLE));
    expect(observe(after)).toBe(JSON.stringify([8, 16, "counter:8", ["inc", "add", "tag", "show"], 3, false]));
    // Inside the class definitions one X.prototype per class is left: the alias itself.
    const classes = after.slice(0, after.indexOf("var c = "));
    expect(count(classes, /\bCounter\.prototype\b/g)).toBe(1);
    expect(count(classes, /\bOther\.prototype\b/g)).toBe(1);
    expect(after).toMatch(/var Counter\$p = Counter\.prototype;/);
  });

  it("does not carry an alias across anything that could replace the prototype", () => {
    const src = `
function X() {}
X.prototype.a = function () { return "a1"; };
X.prototype.b = function () { return "b1"; };
X.prototype = { z: function () { return "z"; } };
X.prototype.c = function () { return "c2"; };
X.prototype.d = function () { return "d2"; };
function swap() { X.prototype = { w: 1 }; return function () { return "e"; }; }
X.prototype.e = swap();
X.prototype.f = function () { return "f3"; };
out.push(Object.keys(X.prototype), new X().z === undefined);
`;
    const after = aliasPrototypes(src);
    expect(observe(after)).toBe(observe(src));
    expect(observe(src)).toBe(JSON.stringify([["w", "f"], true]));
  });

  it("picks an alias name that the program does not already use", () => {
    const src = `
var X$p = "mine";
function X() {}
X.prototype.a = function () { return 1; };
X.prototype.b = function () { return 2; };
out.push(X$p, new X().a() + new X().b());
`;
    const after = aliasPrototypes(src);
    expect(after).toMatch(/var X\$p1 = X\.prototype;/);
    expect(observe(after)).toBe(observe(src));
  });

  it("leaves single definitions and computed members alone", () => {
    const src = `function X() {}\nX.prototype.a = function () { return 1; };\nX.prototype["b"] = 2;\nout.push(new X().a(), new X().b);\n`;
    expect(aliasPrototypes(src)).toBe(src);
  });

  it("keeps behaviour on generated sequences of class-building statements", () => {
    // Each statement defines a member, replaces or mutates a prototype, or reads one;
    // aliasing must never change what the program ends up with.
    const stmt = fc.oneof(
      fc.record({ k: fc.constant("method" as const), cls: fc.constantFrom("A", "B"), name: fc.constantFrom("m", "n", "o", "p") , v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant("value" as const), cls: fc.constantFrom("A", "B"), name: fc.constantFrom("m", "q"), v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant("getter" as const), cls: fc.constantFrom("A", "B"), name: fc.constantFrom("g", "h"), v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant("replace" as const), cls: fc.constantFrom("A", "B"), name: fc.constant(""), v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant("call" as const), cls: fc.constantFrom("A", "B"), name: fc.constantFrom("m", "r"), v: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant("read" as const), cls: fc.constantFrom("A", "B"), name: fc.constantFrom("m", "g"), v: fc.integer({ min: 0, max: 9 }) }),
    );
    const render = (s: { k: string; cls: string; name: string; v: number }): string => {
      switch (s.k) {
        case "method": return `${s.cls}.prototype.${s.name} = function () { return ${s.v}; };`;
        case "value": return `${s.cls}.prototype.${s.name} = ${s.v};`;
        case "getter": return `Object.defineProperty(${s.cls}.prototype, "${s.name}", { get: function () { return ${s.v}; }, enumerable: true, configurable: true });`;
        case "replace": return `${s.cls}.prototype = { v: ${s.v} };`;
        case "call": return `${s.cls}.prototype.${s.name} = mutate(${s.cls}, ${s.v});`;
        default: return `out.push(typeof ${s.cls}.prototype.${s.name});`;
      }
    };
    fc.assert(
      fc.property(fc.array(stmt, { minLength: 1, maxLength: 14 }), fc.boolean(), (stmts, wrap) => {
        let body = stmts.map(render).join("\n");
        body =
          "function A() {}\nfunction B() {}\nfunction mutate(C, v) { if (v % 2) C.prototype = { v: v }; return v; }\n" +
          body +
          "\nout.push(Object.keys(A.prototype), Object.keys(B.prototype), JSON.stringify(new A()), new A().g, new B().h, A.prototype.v, B.prototype.v);";
        const src = wrap ? "(function () {\n" + body + "\n})();" : body;
        expect(observe(aliasPrototypes(src))).toBe(observe(src));
      }),
      { numRuns: 300 },
    );
  });
});

describe("the minified device bundle", () => {
  it("aliases prototypes and passes the Espruino gate", async () => {
    const code = await bundle({ entry: "firmware/events.ts", globalName: "EV" });
    expect(checkBundle(code).errors).toEqual([]);
    const readable = await bundle({ entry: "firmware/events.ts", globalName: "EV", minify: false });
    expect(readable).toMatch(/var \w+\$p\d* = \w+\.prototype;/);
    // The minified module still works: an EventBus delivers events until the listener cancels.
    const ctx = vm.createContext({ seen: [] as unknown[] });
    vm.runInContext(
      code +
        ";var bus=new EV.EventBus({now:function(){return {t:7,m:9};}});" +
        "var h=bus.on(function(e){seen.push(e);});bus.emit('latch','locked',{n:1});h.cancel();bus.emit('latch','open');",
      ctx,
    );
    expect(JSON.parse(JSON.stringify(ctx.seen))).toEqual([{ type: "latch", reason: "locked", t: 7, m: 9, d: { n: 1 } }]);
  }, 120000);
});
