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

/** True for an array, from any realm (ES5 Array.isArray, which Espruino has). */
export function isList(x: unknown): x is unknown[] {
  return Array.isArray(x);
}
