import { Accel } from "../../hal";

/** A CRC-32 function: the journal and the codecs take one of these. */
export type Crc32 = (data: Uint8Array) => number;

var table: Uint32Array | undefined = undefined;

function makeTable(): Uint32Array {
  var t = new Uint32Array(256);
  for (var n = 0; n < 256; n++) {
    var c = n;
    for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/**
 * CRC-32 (IEEE 802.3, reflected, init and final xor 0xFFFFFFFF) as an
 * unsigned number: the same value as Espruino's E.CRC32, which returns
 * ~crc as an unsigned long (jswrap_espruino.c).
 */
export function crc32(data: Uint8Array): number {
  var t = table;
  if (!t) t = table = makeTable();
  var crc = 0xffffffff;
  for (var i = 0; i < data.length; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The board's native CRC-32 when it has one (E.CRC32), else the JavaScript one. */
export function pickCrc32(accel: Accel | undefined): Crc32 {
  var native = accel && accel.crc32;
  if (!native) return crc32;
  return function (d: Uint8Array): number {
    return native!(d) >>> 0;
  };
}
