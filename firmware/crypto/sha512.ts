/**
 * SHA-512 (FIPS 180-4) for the verifier. Uses the board's native SHA-512 when
 * main hands one in (see useAccel in ed25519.ts); otherwise a JavaScript
 * version that works on 32-bit halves of each 64-bit word, because
 * Espruino has no 64-bit integers and doubles only hold 53 bits exactly.
 * Message words are big-endian; the digest is the 8 state words big-endian.
 */

let nativeSha512: ((data: Uint8Array) => Uint8Array) | undefined;

/** Installs (or, with undefined, removes) a native SHA-512. */
export function useNativeSha512(fn: ((data: Uint8Array) => Uint8Array) | undefined): void {
  nativeSha512 = fn;
}

/** SHA-512 of data: native when available, else JavaScript. */
export function sha512(data: Uint8Array): Uint8Array {
  if (nativeSha512) return nativeSha512(data);
  return sha512js(data);
}

const KH = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  0xca273ece, 0xd186b8c7, 0xeada7dd6, 0xf57d4f7f, 0x06f067aa, 0x0a637dc5, 0x113f9804, 0x1b710b35,
  0x28db77f5, 0x32caab7b, 0x3c9ebe0a, 0x431d67c4, 0x4cc5d4be, 0x597f299c, 0x5fcb6fab, 0x6c44198c
]);
const KL = new Uint32Array([
  0xd728ae22, 0x23ef65cd, 0xec4d3b2f, 0x8189dbbc, 0xf348b538, 0xb605d019, 0xaf194f9b, 0xda6d8118,
  0xa3030242, 0x45706fbe, 0x4ee4b28c, 0xd5ffb4e2, 0xf27b896f, 0x3b1696b1, 0x25c71235, 0xcf692694,
  0x9ef14ad2, 0x384f25e3, 0x8b8cd5b5, 0x77ac9c65, 0x592b0275, 0x6ea6e483, 0xbd41fbd4, 0x831153b5,
  0xee66dfab, 0x2db43210, 0x98fb213f, 0xbeef0ee4, 0x3da88fc2, 0x930aa725, 0xe003826f, 0x0a0e6e70,
  0x46d22ffc, 0x5c26c926, 0x5ac42aed, 0x9d95b3df, 0x8baf63de, 0x3c77b2a8, 0x47edaee6, 0x1482353b,
  0x4cf10364, 0xbc423001, 0xd0f89791, 0x0654be30, 0xd6ef5218, 0x5565a910, 0x5771202a, 0x32bbd1b8,
  0xb8d2d0c8, 0x5141ab53, 0xdf8eeb99, 0xe19b48a8, 0xc5c95a63, 0xe3418acb, 0x7763e373, 0xd6b2b8a3,
  0x5defb2fc, 0x43172f60, 0xa1f0ab72, 0x1a6439ec, 0x23631e28, 0xde82bde9, 0xb2c67915, 0xe372532b,
  0xea26619c, 0x21c0c207, 0xcde0eb1e, 0xee6ed178, 0x72176fba, 0xa2c898a6, 0xbef90dae, 0x131c471b,
  0x23047d84, 0x40c72493, 0x15c9bebc, 0x9c100d4c, 0xcb3e42b6, 0xfc657e2a, 0x3ad6faec, 0x4a475817
]);

// Working state, reused by every call: no allocation per block.
const HH = new Uint32Array(8);
const HL = new Uint32Array(8);
const WH = new Uint32Array(80);
const WL = new Uint32Array(80);
const BLOCK = new Uint8Array(128);
const IVH = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const IVL = [0xf3bcc908, 0x84caa73b, 0xfe94f82b, 0x5f1d36f1, 0xade682d1, 0x2b3e6c1f, 0xfb41bd6b, 0x137e2179];
const TWO32 = 4294967296;

function compress(m: Uint8Array, off: number): void {
  let i: number, j: number, xh: number, xl: number, yh: number, yl: number, sh: number, sl: number;
  for (i = 0; i < 16; i++) {
    j = off + i * 8;
    WH[i] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3];
    WL[i] = (m[j + 4] << 24) | (m[j + 5] << 16) | (m[j + 6] << 8) | m[j + 7];
  }
  for (i = 16; i < 80; i++) {
    // sigma1(w[i-2]) = rotr19 ^ rotr61 ^ shr6
    xh = WH[i - 2];
    xl = WL[i - 2];
    sh = (((xh >>> 19) | (xl << 13)) ^ ((xl >>> 29) | (xh << 3)) ^ (xh >>> 6)) >>> 0;
    sl = (((xl >>> 19) | (xh << 13)) ^ ((xh >>> 29) | (xl << 3)) ^ ((xl >>> 6) | (xh << 26))) >>> 0;
    // sigma0(w[i-15]) = rotr1 ^ rotr8 ^ shr7
    yh = WH[i - 15];
    yl = WL[i - 15];
    sh += (((yh >>> 1) | (yl << 31)) ^ ((yh >>> 8) | (yl << 24)) ^ (yh >>> 7)) >>> 0;
    sl += (((yl >>> 1) | (yh << 31)) ^ ((yl >>> 8) | (yh << 24)) ^ ((yl >>> 7) | (yh << 25))) >>> 0;
    sl += WL[i - 7] + WL[i - 16];
    WH[i] = sh + WH[i - 7] + WH[i - 16] + Math.floor(sl / TWO32);
    WL[i] = sl;
  }
  let ah = HH[0], bh = HH[1], ch = HH[2], dh = HH[3], eh = HH[4], fh = HH[5], gh = HH[6], hh = HH[7];
  let al = HL[0], bl = HL[1], cl = HL[2], dl = HL[3], el = HL[4], fl = HL[5], gl = HL[6], hl = HL[7];
  let t1h: number, t1l: number, t2h: number, t2l: number;
  for (i = 0; i < 80; i++) {
    // T1 = h + Sigma1(e) + Ch(e,f,g) + K[i] + W[i]; Sigma1 = rotr14 ^ rotr18 ^ rotr41
    t1l =
      hl +
      ((((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23))) >>> 0) +
      (((el & fl) ^ (~el & gl)) >>> 0) +
      KL[i] +
      WL[i];
    t1h =
      hh +
      ((((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23))) >>> 0) +
      (((eh & fh) ^ (~eh & gh)) >>> 0) +
      KH[i] +
      WH[i] +
      Math.floor(t1l / TWO32);
    t1l = t1l >>> 0;
    // T2 = Sigma0(a) + Maj(a,b,c), its low carry left for the sums below; Sigma0 = rotr28 ^ rotr34 ^ rotr39
    t2l =
      ((((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25))) >>> 0) +
      (((al & bl) ^ (al & cl) ^ (bl & cl)) >>> 0);
    t2h =
      ((((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25))) >>> 0) +
      (((ah & bh) ^ (ah & ch) ^ (bh & ch)) >>> 0);
    hh = gh;
    hl = gl;
    gh = fh;
    gl = fl;
    fh = eh;
    fl = el;
    xl = dl + t1l;
    eh = (dh + t1h + Math.floor(xl / TWO32)) >>> 0;
    el = xl >>> 0;
    dh = ch;
    dl = cl;
    ch = bh;
    cl = bl;
    bh = ah;
    bl = al;
    xl = t1l + t2l;
    ah = (t1h + t2h + Math.floor(xl / TWO32)) >>> 0;
    al = xl >>> 0;
  }
  addState(0, ah, al);
  addState(1, bh, bl);
  addState(2, ch, cl);
  addState(3, dh, dl);
  addState(4, eh, el);
  addState(5, fh, fl);
  addState(6, gh, gl);
  addState(7, hh, hl);
}

function addState(i: number, h: number, l: number): void {
  const s = HL[i] + l;
  HH[i] = HH[i] + h + Math.floor(s / TWO32);
  HL[i] = s;
}

/** SHA-512 in JavaScript, whatever natives are installed (tests compare both). */
export function sha512js(data: Uint8Array): Uint8Array {
  let i: number;
  for (i = 0; i < 8; i++) {
    HH[i] = IVH[i];
    HL[i] = IVL[i];
  }
  const n = data.length;
  let off = 0;
  while (n - off >= 128) {
    compress(data, off);
    off += 128;
  }
  // Final block(s): 0x80, zeros, then the bit length as a 128-bit big-endian number.
  const rest = n - off;
  BLOCK.fill(0);
  for (i = 0; i < rest; i++) BLOCK[i] = data[off + i];
  BLOCK[rest] = 0x80;
  if (rest >= 112) {
    compress(BLOCK, 0);
    BLOCK.fill(0);
  }
  const bitsHi = Math.floor(n / 0x20000000); // n * 8 / 2^32
  const bitsLo = (n * 8) >>> 0;
  BLOCK[120] = bitsHi >>> 24;
  BLOCK[121] = bitsHi >>> 16;
  BLOCK[122] = bitsHi >>> 8;
  BLOCK[123] = bitsHi;
  BLOCK[124] = bitsLo >>> 24;
  BLOCK[125] = bitsLo >>> 16;
  BLOCK[126] = bitsLo >>> 8;
  BLOCK[127] = bitsLo;
  compress(BLOCK, 0);
  const out = new Uint8Array(64);
  for (i = 0; i < 8; i++) {
    out[i * 8] = HH[i] >>> 24;
    out[i * 8 + 1] = HH[i] >>> 16;
    out[i * 8 + 2] = HH[i] >>> 8;
    out[i * 8 + 3] = HH[i];
    out[i * 8 + 4] = HL[i] >>> 24;
    out[i * 8 + 5] = HL[i] >>> 16;
    out[i * 8 + 6] = HL[i] >>> 8;
    out[i * 8 + 7] = HL[i];
  }
  return out;
}
