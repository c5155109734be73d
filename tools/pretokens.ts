/**
 * A reader of Espruino's pretokenised code, written from the interpreter's
 * lexer (src/jslex.c), not from EspruinoTools: the sandbox uses it where the
 * interpreter would read pretokenised bytes (load() of .bootcde, the loader's
 * eval of a slot), and the tests use it to prove that what lands on the
 * board is the bundle, token for token.
 *
 * Byte format: source is ASCII; a byte 138 + i stands for TOKENS[i] (an
 * operator or reserved word; 138 is LEX_OPERATOR_START). 0xD1 len str and
 * 0xD2 lenLo lenHi str are raw strings, 0xD3 is the integer 0, 0xD4 b and
 * 0xD5 lo hi are signed 8- and 16-bit integers. Nothing else is >= 128.
 */
const TOKENS = [
  "==", "===", "!=", "!==", "<=", "<<", "<<=", ">=", ">>", ">>>", ">>=", ">>>=", "+=", "-=", "++", "--", "*=", "/=",
  "%=", "&=", "&&", "|=", "||", "^=", "=>",
  "if", "else", "do", "while", "for", "break", "continue", "function", "return", "var", "let", "const", "this",
  "throw", "try", "catch", "finally", "true", "false", "null", "undefined", "new", "in", "instanceof", "switch",
  "case", "default", "delete", "typeof", "void", "debugger", "class", "extends", "super", "static", "of",
];
const FIRST = 138;

/** Pretokenised text (one char per byte) back to JavaScript source. */
export function detokenise(stored: string): string {
  let out = "";
  for (let i = 0; i < stored.length; i++) {
    const c = stored.charCodeAt(i);
    if (c < 128) out += stored[i];
    else if (c === 0xd1) {
      const n = stored.charCodeAt(i + 1);
      out += " " + JSON.stringify(stored.substr(i + 2, n)) + " ";
      i += 1 + n;
    } else if (c === 0xd2) {
      const n = stored.charCodeAt(i + 1) | (stored.charCodeAt(i + 2) << 8);
      out += " " + JSON.stringify(stored.substr(i + 3, n)) + " ";
      i += 2 + n;
    } else if (c === 0xd3) out += " 0 ";
    else if (c === 0xd4) {
      out += " " + ((stored.charCodeAt(i + 1) << 24) >> 24) + " ";
      i += 1;
    } else if (c === 0xd5) {
      out += " " + (((stored.charCodeAt(i + 1) | (stored.charCodeAt(i + 2) << 8)) << 16) >> 16) + " ";
      i += 2;
    } else if (c >= FIRST && c < FIRST + TOKENS.length) out += " " + TOKENS[c - FIRST] + " ";
    else throw new Error("byte " + c + " at " + i + " is no Espruino token");
  }
  return out;
}

