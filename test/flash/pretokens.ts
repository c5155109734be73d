/**
 * The tests' view of pretokenised code: the reader (tools/pretokens.ts) and
 * the token stream of a program, to compare the two token for token.
 */
import * as acorn from "acorn";
export { detokenise } from "../../tools/pretokens";

/** The token stream of a program: kind and value (strings by value, numbers by value, the rest as written). */
export function tokens(code: string): string[] {
  const out: string[] = [];
  for (const t of acorn.tokenizer(code, { ecmaVersion: 5 })) {
    const label = t.type.label;
    const value = (t as unknown as { value: unknown }).value;
    if (label === "string") out.push("s:" + JSON.stringify(value));
    else if (label === "num") out.push("n:" + String(value));
    else out.push(label + ":" + code.slice(t.start, t.end));
  }
  return out;
}

/** How many bytes of the stored text are tokens (>= 128). */
export function tokenBytes(stored: string): number {
  let n = 0;
  for (let i = 0; i < stored.length; i++) if (stored.charCodeAt(i) >= 128) n++;
  return n;
}
