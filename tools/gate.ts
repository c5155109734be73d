/**
 * The Espruino gate: static checks that the flashed bundle only uses what
 * the interpreter has (../shared/espruino.md, plus what the Linux build of
 * 2v29 showed: built-in prototype methods cannot be looked up through
 * X.prototype (assigning one works), and regular expressions have no {n,m}
 * quantifier). It parses as ES5, names no missing built-in, and is shaped
 * for an interpreter that hoists nothing: in every scope, function
 * declarations and bare `var x;` come before any other statement, and
 * neither appears anywhere else.
 */
import * as acorn from "acorn";
import * as walk from "acorn-walk";

export interface GateReport {
  errors: string[];
}

const MISSING_GLOBALS = ["Map", "Set", "WeakMap", "WeakSet", "WeakRef", "Symbol", "Reflect", "Proxy", "BigInt", "module", "exports", "Buffer", "TextEncoder", "TextDecoder", "setImmediate", "queueMicrotask"];

const MISSING_STATICS: { [obj: string]: string[] } = {
  Array: ["from", "of"],
  Math: ["imul", "clz32", "fround", "trunc", "log2", "log10", "hypot", "cbrt", "expm1"],
  Number: ["isInteger", "isSafeInteger", "MAX_SAFE_INTEGER", "MIN_SAFE_INTEGER", "EPSILON", "isFinite", "isNaN", "parseInt", "parseFloat"],
  Object: ["freeze", "isFrozen", "getOwnPropertySymbols", "is"],
  String: ["fromCodePoint"],
  Promise: ["race", "allSettled", "any"],
  Error: ["captureStackTrace"],
};
const TYPED_ARRAYS = ["Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array"];
for (const t of TYPED_ARRAYS) MISSING_STATICS[t] = ["from", "of"];

/** X.prototype.m lookups fail on Espruino for these built-ins (measured on 2v29). */
const NO_PROTOTYPE_LOOKUP = ["Array", "String", "Function", "Number", "Boolean", "ArrayBuffer", "Promise", "Date", "RegExp"].concat(TYPED_ARRAYS);
const OBJECT_PROTOTYPE_OK = ["hasOwnProperty"];
const MISSING_METHODS = ["copyWithin"];

type Node = acorn.Node & { [k: string]: any };

export function checkBundle(code: string): GateReport {
  const errors: string[] = [];
  let ast: Node;
  try {
    ast = acorn.parse(code, { ecmaVersion: 5, sourceType: "script", locations: true }) as Node;
  } catch (e) {
    return { errors: ["not ES5: " + (e as Error).message] };
  }
  const at = (n: Node) => " at " + n.loc!.start.line + ":" + n.loc!.start.column;
  const declared = declaredNames(ast);
  const isFree = (name: string) => !declared.has(name);

  walk.ancestor(ast, {
    Identifier(node: Node, _state: unknown, ancestors: Node[]) {
      const parent = ancestors[ancestors.length - 2];
      if (!isReference(node, parent)) return;
      if (MISSING_GLOBALS.indexOf(node.name) >= 0 && isFree(node.name)) errors.push("uses " + node.name + ", which Espruino lacks" + at(node));
    },
    MemberExpression(node: Node, _state: unknown, ancestors: Node[]) {
      if (node.computed) return;
      const parent = ancestors[ancestors.length - 2];
      // Assigning X.prototype.m works on Espruino (hal/espruino/lang.ts relies on it); reading it does not.
      const assigned = parent && parent.type === "AssignmentExpression" && parent.left === node;
      const prop = node.property.name as string;
      const obj = node.object as Node;
      if (obj.type === "Identifier" && isFree(obj.name)) {
        const statics = MISSING_STATICS[obj.name];
        if (statics && statics.indexOf(prop) >= 0) errors.push("uses " + obj.name + "." + prop + ", which Espruino lacks" + at(node));
      }
      if (MISSING_METHODS.indexOf(prop) >= 0) errors.push("uses ." + prop + ", which Espruino lacks" + at(node));
      if (!assigned && obj.type === "MemberExpression" && !obj.computed && obj.property.name === "prototype" && obj.object.type === "Identifier" && isFree(obj.object.name)) {
        const owner = obj.object.name as string;
        if (NO_PROTOTYPE_LOOKUP.indexOf(owner) >= 0 || (owner === "Object" && OBJECT_PROTOTYPE_OK.indexOf(prop) < 0))
          errors.push(owner + ".prototype." + prop + " is undefined on Espruino" + at(node));
      }
    },
    Literal(node: Node) {
      // Measured on 2v29: /^a{2}$/.test("aa") is false. Counted quantifiers silently never match.
      if (node.regex && /\{\d+(,\d*)?\}/.test(node.regex.pattern)) errors.push("regular expression /" + node.regex.pattern + "/ uses a {n,m} quantifier, which Espruino does not support" + at(node));
    },
    LabeledStatement(node: Node) {
      errors.push("labelled statement (Espruino cannot break/continue to labels)" + at(node));
    },
  });

  checkScope(ast.body as Node[], [], errors, at);
  walk.full(ast, (node: Node) => {
    if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression") {
      const params = (node.params as Node[]).map((p) => p.name as string);
      checkScope(node.body.body as Node[], params, errors, at);
    }
  });
  return { errors };
}

/**
 * One scope's statement list: declarations Espruino would not hoist must
 * lead it. Declarations nested in blocks of this scope are errors.
 */
function checkScope(body: Node[], params: string[], errors: string[], at: (n: Node) => string): void {
  let i = 0;
  while (i < body.length && body[i].type === "ExpressionStatement" && body[i].directive !== undefined) i++;
  // The prologue: function declarations and bare declarators, up to the first
  // declarator with a value (its bare predecessors in the same var are fine).
  let firstInit = -1;
  for (; i < body.length; i++) {
    const s = body[i];
    if (s.type === "FunctionDeclaration") continue;
    if (s.type !== "VariableDeclaration") break;
    const decls = s.declarations as Node[];
    for (let k = 0; k < decls.length && firstInit < 0; k++) {
      if (decls[k].init !== null) firstInit = k;
      else if (params.indexOf(decls[k].id.name) >= 0) errors.push("bare var re-declares parameter " + decls[k].id.name + at(decls[k]));
    }
    if (firstInit >= 0) break;
  }
  const rest: Node[] = [];
  if (firstInit >= 0) rest.push(...(body[i].declarations as Node[]).slice(firstInit));
  rest.push(...body.slice(firstInit >= 0 ? i + 1 : i));
  for (const s of rest) {
    walkScope(s, (n) => {
      if (n.type === "FunctionDeclaration") errors.push("function " + n.id.name + " declared after code that may call it (Espruino does not hoist)" + at(n));
      if (n.type === "VariableDeclarator" && n.init === null) errors.push("bare var " + n.id.name + " re-declares on Espruino (give it a value or hoist it)" + at(n));
    });
  }
}

/** Visits a statement and its sub-statements without entering nested functions; for-in heads are exempt. */
function walkScope(node: Node, visit: (n: Node) => void): void {
  if (!node || typeof node.type !== "string") return;
  visit(node);
  if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression") return;
  for (const key of Object.keys(node)) {
    if (key === "loc") continue;
    if (node.type === "ForInStatement" && key === "left") continue;
    const v = node[key];
    if (Array.isArray(v)) v.forEach((c) => c && typeof c.type === "string" && walkScope(c, visit));
    else if (v && typeof v.type === "string") walkScope(v, visit);
  }
}

function declaredNames(ast: Node): Set<string> {
  const names = new Set<string>();
  walk.full(ast, (n: Node) => {
    if (n.type === "VariableDeclarator") names.add(n.id.name);
    if ((n.type === "FunctionDeclaration" || n.type === "FunctionExpression") && n.id) names.add(n.id.name);
    if (n.type === "FunctionDeclaration" || n.type === "FunctionExpression") for (const p of n.params as Node[]) names.add(p.name);
    if (n.type === "CatchClause" && n.param) names.add(n.param.name);
  });
  return names;
}

function isReference(node: Node, parent: Node | undefined): boolean {
  if (!parent) return true;
  if (parent.type === "MemberExpression" && parent.property === node && !parent.computed) return false;
  if (parent.type === "Property" && parent.key === node && !parent.computed) return false;
  if (parent.type === "VariableDeclarator" && parent.id === node) return false;
  if ((parent.type === "FunctionDeclaration" || parent.type === "FunctionExpression") && parent.id === node) return false;
  if (parent.type === "LabeledStatement" || parent.type === "BreakStatement" || parent.type === "ContinueStatement") return false;
  return true;
}
