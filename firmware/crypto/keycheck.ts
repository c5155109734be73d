import { bytesKey, isBytes } from "../store/bytes";

/*
 * The y coordinates (32 bytes little-endian, sign bit clear) of the eight
 * points of small order on edwards25519: the identity (y = 1), the point of
 * order 2 (y = -1), the two of order 4 (y = 0) and the four of order 8
 * (two y values, each with both signs of x). A public key that is one of
 * them is satisfied by signatures made without any secret: with the
 * all-zero key a grant was forged in five tries. Written as hex, lower
 * case, so the table costs a few string bytes instead of an array.
 */
var SMALL_ORDER_Y = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
];

function yHex(pk: Uint8Array): string {
  var s = "";
  for (var i = 0; i < 32; i++) {
    var b = i === 31 ? pk[i] & 0x7f : pk[i];
    s += (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}

/**
 * The cheap half of a public key check, for every place a key enters the
 * box (provisioning, key sets, holder keys inside grants): 32 bytes, a
 * canonical y (< 2^255 - 19) and not one of the small-order points. It costs
 * a few string compares; whether y is on the curve at all is found by the
 * full decode (crypto/ed25519-ref.ts publicKeyIsValid) where a key is
 * trusted, and by the verifier on every use.
 */
export function keyIsSane(pk: Uint8Array): boolean {
  if (!isBytes(pk) || pk.length !== 32) return false;
  if ((pk[31] & 0x7f) === 0x7f) {
    var high = true;
    for (var i = 30; i > 0 && high; i--) if (pk[i] !== 0xff) high = false;
    if (high && pk[0] >= 0xed) return false;
  }
  return SMALL_ORDER_Y.indexOf(yHex(pk)) < 0;
}

/** Equal bytes (keys, digests): what anything derived from a key is keyed by, rather than the key's id. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  // a key each (one native call on the board) costs less than a loop over the bytes; === compares typed arrays by value in Espruino, byte by byte and slower still
  return !!a && !!b && a.length === b.length && bytesKey(a) === bytesKey(b);
}
