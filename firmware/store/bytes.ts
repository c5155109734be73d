/**
 * True for a Uint8Array, including one made in another JavaScript realm (a
 * Node Buffer seen from a jest sandbox fails instanceof but is one). The
 * duck test avoids Object.prototype.toString, which Espruino cannot look up.
 */
export function isBytes(x: unknown): x is Uint8Array {
  if (x instanceof Uint8Array) return true;
  var o = x as { BYTES_PER_ELEMENT?: unknown; length?: unknown; subarray?: unknown; constructor?: { name?: unknown } };
  return (
    !!o &&
    typeof o === "object" &&
    o.BYTES_PER_ELEMENT === 1 &&
    typeof o.length === "number" &&
    typeof o.subarray === "function" &&
    !!o.constructor &&
    (o.constructor.name === "Uint8Array" || o.constructor.name === "Buffer")
  );
}

declare function btoa(data: string): string;

/**
 * An exact string key for the bytes of b, for comparing or caching by
 * content. On the board it is one native call: Espruino's btoa reads a
 * typed array's bytes (base64 of them), about a fifth of a join's cost, and
 * a grant's way to the motor compares or keys grants several times. In
 * Node, btoa takes the array's string (its join) and encodes that: exact
 * too. Only the same bytes give the same key, in either.
 */
export function bytesKey(b: Uint8Array): string {
  return btoa(b as unknown as string);
}

/** True for an array, from any realm (ES5 Array.isArray, which Espruino has). */
export function isList(x: unknown): x is unknown[] {
  return Array.isArray(x);
}

/** Writes v as an unsigned 32-bit little-endian integer at p. */
export function putU32le(d: Uint8Array, p: number, v: number): void {
  d[p] = v & 0xff;
  d[p + 1] = (v >>> 8) & 0xff;
  d[p + 2] = (v >>> 16) & 0xff;
  d[p + 3] = (v >>> 24) & 0xff;
}

/** The unsigned 32-bit little-endian integer at p. */
export function getU32le(d: Uint8Array, p: number): number {
  return (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0;
}

/** Writes v as an unsigned 32-bit big-endian integer at p. */
export function putU32be(d: Uint8Array, p: number, v: number): void {
  d[p] = (v >>> 24) & 0xff;
  d[p + 1] = (v >>> 16) & 0xff;
  d[p + 2] = (v >>> 8) & 0xff;
  d[p + 3] = v & 0xff;
}

/** The unsigned 32-bit big-endian integer at p. */
export function getU32be(d: Uint8Array, p: number): number {
  return ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
}
