/*
 * Where Espruino's built-ins differ from the ES5/ES2015 contract that the
 * firmware is compiled against, measured on 2v29: a typed array's slice()
 * returns a plain Array. Every such fix is installed here, once, before the
 * firmware runs, and only where the interpreter needs it.
 */
const TYPED: any[] = [Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array];

export function fixBuiltins(): void {
  for (let i = 0; i < TYPED.length; i++) {
    const T = TYPED[i];
    if (new T(1).slice(0) instanceof T) continue;
    T.prototype.slice = makeSlice(T);
  }
}

function makeSlice(T: any): (start?: number, end?: number) => any {
  return function (this: any, start?: number, end?: number) {
    return new T(this.subarray(start === undefined ? 0 : start, end === undefined ? this.length : end));
  };
}
