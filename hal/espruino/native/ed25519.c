/*
 * Strict Ed25519 verification (RFC 8032 section 5.1.7) for the Cortex-M4,
 * written for Keybox from the RFC; see ed25519.h for the contract.
 *
 * Field elements mod p = 2^255 - 19 are ten signed 32-bit limbs in radix
 * 2^25.5: limb i holds bits [pos(i), pos(i+1)) with pos(i) = ceil(25.5 i),
 * so even limbs are 26 bits wide and odd ones 25. Products are 64-bit
 * column sums (the Cortex-M4 multiplies 32x32->64 and accumulates in one
 * cycle); 2^255 = 19 (mod p) folds the upper columns down, and a product of
 * two odd limbs lands one bit above its column, hence a factor 2.
 *
 * Limb bounds, the one thing to keep in mind when editing: a "carried"
 * element (any fe_mul/fe_sq output) has limbs in [0, 2^w), limb 1 a hair
 * above. Call a sum/difference of carried elements "alpha" times that
 * bound. The products below stay in int64 when alpha(f) * alpha(g) <= 16
 * (the largest column has 267 times 2^52 alpha(f) alpha(g) in it, below
 * 2^63); every call site keeps alpha(f) * alpha(g) <= 6.
 *
 * Scalar multiplication: [S]B - [k]A as one interleaved sliding-window
 * (wNAF) loop: S in width 6 with 16 odd multiples of B precomputed in
 * flash (base-table.h, made by the host tool from this same code), k in
 * width 5 with 8 odd multiples of -A made per call in the caller's
 * scratch buffer. The result is encoded canonically and compared with R.
 *
 * Everything is static and position independent: the blob runs wherever
 * it is installed. No function here is called with a struct copy or a
 * zeroing idiom that a compiler could turn into memset/memcpy.
 */
#include "ed25519.h"

typedef int32_t fe[10];

/* Extended coordinates: x = X/Z, y = Y/Z, x y = T/Z. */
typedef struct {
  fe X, Y, Z, T;
} ge;

/* A point ready to be added: Y+X, Y-X, Z, 2 d T. */
typedef struct {
  fe ypx, ymx, z, t2d;
} ge_cached;

/* An affine point ready to be added (Z = 1): y+x, y-x, 2 d x y. */
typedef struct {
  fe ypx, ymx, xy2d;
} ge_niels;

static const int32_t FE_D[10] = {56195235, 13857412, 51736253, 6949390, 114729, 24766616, 60832955, 30306712, 48412415, 21499315};
static const int32_t FE_D2[10] = {45281625, 27714825, 36363642, 13898781, 229458, 15978800, 54557047, 27058993, 29715967, 9444199};
static const int32_t FE_SQRTM1[10] = {34513072, 25610706, 9377949, 3500415, 12389472, 33281959, 41962654, 31548777, 326685, 11406482};

/* ---- field arithmetic ---- */

static inline __attribute__((always_inline)) void fe_copy(fe h, const fe f) {
  for (int i = 0; i < 10; i++) h[i] = f[i];
}

static inline __attribute__((always_inline)) void fe_set(fe h, int32_t v) {
  h[0] = v;
  for (int i = 1; i < 10; i++) h[i] = 0;
}

static inline __attribute__((always_inline)) void fe_add(fe h, const fe f, const fe g) {
  for (int i = 0; i < 10; i++) h[i] = f[i] + g[i];
}

static inline __attribute__((always_inline)) void fe_sub(fe h, const fe f, const fe g) {
  for (int i = 0; i < 10; i++) h[i] = f[i] - g[i];
}

static inline __attribute__((always_inline)) void fe_neg(fe h, const fe f) {
  for (int i = 0; i < 10; i++) h[i] = -f[i];
}

/*
 * Column k of a product, plus the carry from column k-1, gives limb k (its
 * low w bits) and the carry into column k+1 (floor division). The carry out
 * of limb 9 is worth 2^255 = 19 and goes back into limbs 0 and 1.
 */
#define COLUMN_OUT(h, k, sum, c) \
  do { \
    int64_t s_ = (sum) + (c); \
    if ((k) & 1) { (h)[k] = (int32_t)(s_ & 0x1ffffff); (c) = s_ >> 25; } \
    else { (h)[k] = (int32_t)(s_ & 0x3ffffff); (c) = s_ >> 26; } \
  } while (0)

#define WRAP_OUT(h, c) \
  do { \
    int64_t s_ = (int64_t)(h)[0] + (c) * 19; \
    (h)[0] = (int32_t)(s_ & 0x3ffffff); \
    (h)[1] += (int32_t)(s_ >> 26); \
  } while (0)

/*
 * h = f g. Column k sums f_i g_j over i + j = k, and 19 times the sum over
 * i + j = k + 10; f_i is doubled when i and j are both odd. h may be f or g:
 * every input is read before h is written.
 */
static void fe_mul(fe h, const fe f, const fe g) {
  int32_t f2[10], o[10];
  int64_t c = 0;
#pragma GCC unroll 10
  for (int i = 0; i < 10; i++) f2[i] = (i & 1) ? 2 * f[i] : f[i];
#pragma GCC unroll 10
  for (int k = 0; k < 10; k++) {
    int64_t lo = 0, hi = 0;
#pragma GCC unroll 10
    for (int i = 0; i < 10; i++) {
      int j = k - i;
      int wrap = j < 0;
      if (wrap) j += 10;
      int64_t p = (int64_t)((i & 1) && (j & 1) ? f2[i] : f[i]) * g[j];
      if (wrap) hi += p;
      else lo += p;
    }
    COLUMN_OUT(o, k, lo + hi * 19, c);
  }
  WRAP_OUT(o, c);
  for (int i = 0; i < 10; i++) h[i] = o[i];
}

/* h = f^2: the cross products once, doubled; h may be f. */
static void fe_sq(fe h, const fe f) {
  int32_t f2[10], o[10];
  int64_t c = 0;
#pragma GCC unroll 10
  for (int i = 0; i < 10; i++) f2[i] = 2 * f[i];
#pragma GCC unroll 10
  for (int k = 0; k < 10; k++) {
    int64_t lo = 0, hi = 0;
#pragma GCC unroll 10
    for (int i = 0; i < 10; i++) {
#pragma GCC unroll 10
      for (int j = i; j < 10; j++) {
        int s = i + j;
        if (s != k && s != k + 10) continue;
        int both = (i & 1) && (j & 1);
        int64_t p;
        if (i == j) p = (int64_t)(both ? f2[i] : f[i]) * f[i];
        else p = (int64_t)f2[i] * (both ? f2[j] : f[j]);
        if (s == k) lo += p;
        else hi += p;
      }
    }
    COLUMN_OUT(o, k, lo + hi * 19, c);
  }
  WRAP_OUT(o, c);
  for (int i = 0; i < 10; i++) h[i] = o[i];
}

static void fe_sqn(fe h, const fe f, int n) {
  fe_sq(h, f);
  for (int i = 1; i < n; i++) fe_sq(h, h);
}

/* Bit offsets of the limbs. */
#define POS(i) (((i) * 51 + 1) >> 1)

/* The 255 low bits of s (bit 255 ignored) as limbs: each limb lies within 4 bytes. */
static void fe_frombytes(fe h, const uint8_t *s) {
#pragma GCC unroll 10
  for (int i = 0; i < 10; i++) {
    int pos = POS(i), at = pos >> 3;
    uint32_t v = s[at] | (uint32_t)s[at + 1] << 8 | (uint32_t)s[at + 2] << 16 | (uint32_t)s[at + 3] << 24;
    h[i] = (int32_t)((v >> (pos & 7)) & ((i & 1) ? 0x1ffffff : 0x3ffffff));
  }
}

/*
 * The canonical 32 bytes of h (limbs within +-2^28). Adding 8p limb by limb
 * makes every limb positive; the sum becomes an integer below 2^259, folded
 * twice with 2^255 = 19 to below 2^255, and p subtracted once if it fits.
 */
static void fe_tobytes(uint8_t *out, const fe h) {
  uint32_t w[9];
  uint64_t acc = 0;
  int base = 0, o = 0;
  for (int i = 0; i < 10; i++) {
    int64_t p8 = i == 0 ? 8 * (0x3ffffff - 18) : (i & 1) ? 8 * 0x1ffffff : 8 * 0x3ffffff;
    acc += (uint64_t)((int64_t)h[i] + p8) << (POS(i) - base);
    while (o < 9 && (i == 9 || POS(i + 1) - base >= 32)) {
      w[o++] = (uint32_t)acc;
      acc >>= 32;
      base += 32;
    }
  }
  for (int round = 0; round < 2; round++) {
    uint64_t c = (uint64_t)19 * ((w[7] >> 31) | (w[8] << 1));
    w[7] &= 0x7fffffff;
    w[8] = 0;
    for (int i = 0; i < 8; i++) {
      c += w[i];
      w[i] = (uint32_t)c;
      c >>= 32;
    }
  }
  uint32_t u[8];
  uint64_t c = 19;
  for (int i = 0; i < 8; i++) {
    c += w[i];
    u[i] = (uint32_t)c;
    c >>= 32;
  }
  int ge_p = (int)(u[7] >> 31);
  u[7] &= 0x7fffffff;
  for (int i = 0; i < 8; i++) {
    uint32_t v = ge_p ? u[i] : w[i];
    for (int b = 0; b < 4; b++) out[4 * i + b] = (uint8_t)(v >> (8 * b));
  }
}

static int fe_equal(const fe f, const fe g) {
  uint8_t a[32], b[32];
  fe_tobytes(a, f);
  fe_tobytes(b, g);
  uint8_t d = 0;
  for (int i = 0; i < 32; i++) d |= (uint8_t)(a[i] ^ b[i]);
  return d == 0;
}

static int fe_iszero(const fe f) {
  uint8_t a[32];
  fe_tobytes(a, f);
  uint8_t d = 0;
  for (int i = 0; i < 32; i++) d |= a[i];
  return d == 0;
}

static int fe_isodd(const fe f) {
  uint8_t a[32];
  fe_tobytes(a, f);
  return a[0] & 1;
}

/*
 * z^(2^250 - 1) into h, and z^11 into z11: the common start of the
 * inversion and of the square root's exponent.
 */
static void fe_pow250(fe h, fe z11, const fe z) {
  fe a, b, c;
  fe_sq(a, z);            /* z^2 */
  fe_sqn(b, a, 2);        /* z^8 */
  fe_mul(b, b, z);        /* z^9 */
  fe_mul(z11, b, a);      /* z^11 */
  fe_sq(a, z11);          /* z^22 */
  fe_mul(a, a, b);        /* z^(2^5-1) */
  fe_sqn(b, a, 5);
  fe_mul(b, b, a);        /* 2^10-1 */
  fe_sqn(c, b, 10);
  fe_mul(c, c, b);        /* 2^20-1 */
  fe_sqn(h, c, 20);
  fe_mul(h, h, c);        /* 2^40-1 */
  fe_sqn(h, h, 10);
  fe_mul(a, h, b);        /* 2^50-1 */
  fe_sqn(b, a, 50);
  fe_mul(b, b, a);        /* 2^100-1 */
  fe_sqn(c, b, 100);
  fe_mul(c, c, b);        /* 2^200-1 */
  fe_sqn(c, c, 50);
  fe_mul(h, c, a);        /* 2^250-1 */
}

/* h = 1/z = z^(p-2), p - 2 = 2^255 - 21. */
static void fe_invert(fe h, const fe z) {
  fe t, z11;
  fe_pow250(t, z11, z);
  fe_sqn(t, t, 5);        /* 2^255 - 32 */
  fe_mul(h, t, z11);
}

/* h = z^((p-5)/8), (p-5)/8 = 2^252 - 3. */
static void fe_pow22523(fe h, const fe z) {
  fe t, z11;
  fe_pow250(t, z11, z);
  fe_sqn(t, t, 2);        /* 2^252 - 4 */
  fe_mul(h, t, z);
}

/* ---- group ---- */

/* Decodes an encoded point (RFC 8032 5.1.3); 0 when it is not one. */
static int ge_decode(ge *p, const uint8_t *s) {
  /* y < p: the only 255-bit values that are not are p .. 2^255 - 1. */
  int big = (s[31] & 0x7f) == 0x7f && s[0] >= 0xed;
  for (int i = 1; i < 31 && big; i++) big = s[i] == 0xff;
  if (big) return 0;
  fe u, v, v3, x, chk;
  fe_frombytes(p->Y, s);
  fe_set(p->Z, 1);
  fe_sq(u, p->Y);
  fe_mul(v, u, FE_D);
  u[0] -= 1;              /* u = y^2 - 1 */
  v[0] += 1;              /* v = d y^2 + 1 */
  fe_sq(v3, v);
  fe_mul(v3, v3, v);      /* v^3 */
  fe_sq(x, v3);
  fe_mul(x, x, v);
  fe_mul(x, x, u);        /* u v^7 */
  fe_pow22523(x, x);
  fe_mul(x, x, v3);
  fe_mul(x, x, u);        /* candidate root u v^3 (u v^7)^((p-5)/8) */
  fe_sq(chk, x);
  fe_mul(chk, chk, v);
  if (!fe_equal(chk, u)) {
    fe_neg(u, u);
    if (!fe_equal(chk, u)) return 0;
    fe_mul(x, x, FE_SQRTM1);
  }
  int sign = s[31] >> 7;
  if (sign && fe_iszero(x)) return 0;
  if (fe_isodd(x) != sign) fe_neg(x, x);
  fe_copy(p->X, x);
  fe_mul(p->T, p->X, p->Y);
  return 1;
}

/* q = 2q (RFC 8032 5.1.4 doubling); T only when the next step adds. */
static void ge_dbl(ge *q, int want_t) {
  fe a, b, c, e, f, g, h;
  fe_sq(a, q->X);
  fe_sq(b, q->Y);
  fe_sq(c, q->Z);
  fe_add(c, c, c);        /* C = 2 Z^2, alpha 2 */
  fe_add(h, a, b);        /* H, alpha 2 */
  fe_add(e, q->X, q->Y);
  fe_sq(e, e);
  fe_sub(e, h, e);        /* E = H - (X+Y)^2, alpha 2 */
  fe_sub(g, a, b);        /* G, alpha 1 */
  fe_add(f, c, g);        /* F = C + G, alpha 3 */
  fe_mul(q->X, e, f);
  fe_mul(q->Y, g, h);
  if (want_t) fe_mul(q->T, e, h);
  fe_mul(q->Z, f, g);
}

/*
 * The end of an addition (RFC 8032 5.1.4) once A = (Y1-X1)(Y2-X2),
 * B = (Y1+X1)(Y2+X2), C = T1 2d T2 and D = 2 Z1 Z2 are known; neg adds the
 * negated point (the caller swapped Y2+X2 and Y2-X2, and C changes sign).
 */
static void ge_add_tail(ge *q, const fe a, const fe b, const fe c, const fe d, int neg, int want_t) {
  fe e, f, g, h;
  fe_sub(e, b, a);        /* alpha 1 */
  fe_add(h, b, a);        /* alpha 2 */
  if (neg) {
    fe_add(f, d, c);
    fe_sub(g, d, c);
  } else {
    fe_sub(f, d, c);      /* alpha 2 */
    fe_add(g, d, c);      /* alpha 3 */
  }
  fe_mul(q->X, e, f);
  fe_mul(q->Y, g, h);
  if (want_t) fe_mul(q->T, e, h);
  fe_mul(q->Z, f, g);
}

/* q += p (or -p when neg); q needs T. */
static void ge_add_cached(ge *q, const ge_cached *p, int neg, int want_t) {
  fe a, b, c, d;
  fe_sub(a, q->Y, q->X);
  fe_mul(a, a, neg ? p->ypx : p->ymx);
  fe_add(b, q->Y, q->X);
  fe_mul(b, b, neg ? p->ymx : p->ypx);
  fe_mul(c, q->T, p->t2d);
  fe_mul(d, q->Z, p->z);
  fe_add(d, d, d);
  ge_add_tail(q, a, b, c, d, neg, want_t);
}

/* q += p (or -p when neg) for an affine p; q needs T. */
static void ge_add_niels(ge *q, const ge_niels *p, int neg, int want_t) {
  fe a, b, c, d;
  fe_sub(a, q->Y, q->X);
  fe_mul(a, a, neg ? p->ypx : p->ymx);
  fe_add(b, q->Y, q->X);
  fe_mul(b, b, neg ? p->ymx : p->ypx);
  fe_mul(c, q->T, p->xy2d);
  fe_add(d, q->Z, q->Z);
  ge_add_tail(q, a, b, c, d, neg, want_t);
}

static void ge_to_cached(ge_cached *r, const ge *p) {
  fe_add(r->ypx, p->Y, p->X);
  fe_sub(r->ymx, p->Y, p->X);
  fe_copy(r->z, p->Z);
  fe_mul(r->t2d, p->T, FE_D2);
}

/* The canonical encoding of p (RFC 8032 5.1.2). */
static void ge_encode(uint8_t *out, const ge *p) {
  fe zi, x, y;
  fe_invert(zi, p->Z);
  fe_mul(x, p->X, zi);
  fe_mul(y, p->Y, zi);
  fe_tobytes(out, y);
  out[31] |= (uint8_t)(fe_isodd(x) << 7);
}

static void ge_identity(ge *q) {
  fe_set(q->X, 0);
  fe_set(q->Y, 1);
  fe_set(q->Z, 1);
  fe_set(q->T, 0);
}

/* ---- scalars ---- */

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian words. */
static const uint32_t SC_L[8] = {0x5cf5d3ed, 0x5812631a, 0xa2f79cd6, 0x14def9de, 0, 0, 0, 0x10000000};

/* 1 when the 32 little-endian bytes at s are below L. */
static int sc_is_canonical(const uint8_t *s) {
  for (int i = 31; i >= 0; i--) {
    uint8_t l = (uint8_t)(SC_L[i >> 2] >> (8 * (i & 3)));
    if (s[i] != l) return s[i] < l;
  }
  return 0;
}

/*
 * out = the 512-bit little-endian h mod L, as 32 bytes. Its top 252 bits
 * are already below L; the other 260 are shifted in one at a time, with L
 * subtracted whenever the remainder reaches it.
 */
static void sc_reduce(uint8_t *out, const uint8_t *h) {
  uint32_t r[8];
  for (int i = 0; i < 8; i++) {
    uint32_t v = 0;
    for (int b = 0; b < 4; b++) {
      int bit = 260 + 32 * i + 8 * b; /* bits [bit, bit+8) of h, 4-bit aligned */
      uint32_t byte = bit < 512 ? (uint32_t)(h[bit >> 3] >> 4) | (bit + 4 < 512 ? (uint32_t)(h[(bit >> 3) + 1] & 15) << 4 : 0) : 0;
      v |= byte << (8 * b);
    }
    r[i] = v;
  }
  for (int bit = 259; bit >= 0; bit--) {
    uint32_t in = (h[bit >> 3] >> (bit & 7)) & 1;
    for (int i = 7; i > 0; i--) r[i] = (r[i] << 1) | (r[i - 1] >> 31);
    r[0] = (r[0] << 1) | in;
    uint32_t t[8];
    int64_t borrow = 0;
    for (int i = 0; i < 8; i++) {
      borrow += (int64_t)r[i] - SC_L[i];
      t[i] = (uint32_t)borrow;
      borrow >>= 32;
    }
    if (borrow == 0)
      for (int i = 0; i < 8; i++) r[i] = t[i];
  }
  for (int i = 0; i < 32; i++) out[i] = (uint8_t)(r[i >> 2] >> (8 * (i & 3)));
}

/*
 * Width-w NAF of a 256-bit scalar: naf[i] odd with |naf[i]| < 2^(w-1), at
 * most one nonzero digit in any w consecutive ones, sum naf[i] 2^i = s.
 * naf holds 257 digits.
 */
static void sc_wnaf(int8_t *naf, const uint8_t *s, int w) {
  for (int i = 0; i < 257; i++) naf[i] = 0;
  int carry = 0;
  for (int i = 0; i < 257;) {
    int bit = i < 256 ? (s[i >> 3] >> (i & 7)) & 1 : 0;
    if (bit == carry) {
      i++;
      continue;
    }
    int word = carry;
    for (int b = 0; b < w; b++) {
      int at = i + b;
      if (at < 256) word += ((s[at >> 3] >> (at & 7)) & 1) << b;
    }
    if (word & (1 << (w - 1))) {
      naf[i] = (int8_t)(word - (1 << w));
      carry = 1;
    } else {
      naf[i] = (int8_t)word;
      carry = 0;
    }
    i += w;
  }
}

#ifndef ED25519_GENERATE_TABLE

#include "base-table.h"

#define A_WIDTH 5
#define A_POINTS (1 << (A_WIDTH - 2))

/* What lives in the caller's buffer rather than on the stack. */
struct scratch {
  ge_cached a[A_POINTS]; /* odd multiples 1, 3, .., 15 of -A */
  ge_cached two;         /* 2(-A) while they are made */
  ge p;                  /* -A, then the running odd multiple */
  ge_niels n;            /* the base table entry being added */
  int8_t naf_s[260];
  int8_t naf_k[260];
};

typedef char scratch_fits[sizeof(struct scratch) + 8 <= ED25519_SCRATCH_BYTES ? 1 : -1];

static void load_niels(ge_niels *p, int index) {
  const uint8_t *e = BASE_TABLE[index];
  fe_frombytes(p->ypx, e);
  fe_frombytes(p->ymx, e + 32);
  fe_frombytes(p->xy2d, e + 64);
}

__attribute__((section(".text.entry"), used))
uint32_t ed25519_verify(const uint8_t *sig, const uint8_t *pk, const uint8_t *digest, uint8_t *scratch) {
  struct scratch *w = (struct scratch *)(((uintptr_t)scratch + 7) & ~(uintptr_t)7);
  if (!sc_is_canonical(sig + 32)) return 0;
  ge q, *p = &w->p;
  if (!ge_decode(p, pk)) return 0;
  fe_neg(p->X, p->X);
  fe_neg(p->T, p->T);
  /* -A, 3(-A), .., 15(-A) */
  ge_to_cached(&w->a[0], p);
  fe_copy(q.X, p->X);
  fe_copy(q.Y, p->Y);
  fe_copy(q.Z, p->Z);
  ge_dbl(&q, 1);
  ge_to_cached(&w->two, &q);
  for (int i = 1; i < A_POINTS; i++) {
    ge_add_cached(p, &w->two, 0, 1);
    ge_to_cached(&w->a[i], p);
  }
  uint8_t k[32];
  sc_reduce(k, digest);
  sc_wnaf(w->naf_k, k, A_WIDTH);
  sc_wnaf(w->naf_s, sig + 32, BASE_WIDTH);
  int top = 256;
  while (top >= 0 && !w->naf_s[top] && !w->naf_k[top]) top--;
  ge_identity(&q);
  for (int i = top; i >= 0; i--) {
    int ds = w->naf_s[i], dk = w->naf_k[i];
    if (i != top) ge_dbl(&q, ds || dk);
    if (ds) {
      load_niels(&w->n, (ds < 0 ? -ds : ds) >> 1);
      ge_add_niels(&q, &w->n, ds < 0, dk != 0);
    }
    if (dk) ge_add_cached(&q, &w->a[(dk < 0 ? -dk : dk) >> 1], dk < 0, 0);
  }
  uint8_t enc[32];
  ge_encode(enc, &q);
  uint8_t d = 0;
  for (int i = 0; i < 32; i++) d |= (uint8_t)(enc[i] ^ sig[i]);
  return d == 0;
}

#else

/* The base table's window: 2^(w-2) entries of 96 bytes (w = 6: 1,536 bytes). */
#define BASE_WIDTH 6

/*
 * The table of odd multiples B, 3B, .., (2^(w-1) - 1)B, as C source: each
 * entry is y+x, y-x and 2 d x y of the affine point, 32 canonical bytes each.
 */
void ed25519_write_base_table(void (*emit)(const char *text)) {
  static const char hexd[] = "0123456789abcdef";
  static const uint8_t b_enc[32] = {0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};
  const int width = BASE_WIDTH, count = 1 << (width - 2);
  char line[96];
  ge p, q;
  ge_cached two;
  ge_decode(&p, b_enc);
  fe_copy(q.X, p.X);
  fe_copy(q.Y, p.Y);
  fe_copy(q.Z, p.Z);
  ge_dbl(&q, 1);
  ge_to_cached(&two, &q);
  emit("/* Generated by `npm run -s ed25519-check -- --base-table` from ed25519.c: do not edit. */\n");
  emit("/* Odd multiples B, 3B, 5B, .. of the base point: y+x, y-x, 2dxy, 32 bytes each (little-endian, canonical). */\n");
  line[0] = 0;
  emit("#define BASE_WIDTH ");
  line[0] = (char)('0' + width);
  line[1] = '\n';
  line[2] = 0;
  emit(line);
  emit("static const uint8_t BASE_TABLE[1 << (BASE_WIDTH - 2)][96] = {\n");
  for (int j = 0; j < count; j++) {
    fe zi, x, y, v;
    uint8_t bytes[96];
    fe_invert(zi, p.Z);
    fe_mul(x, p.X, zi);
    fe_mul(y, p.Y, zi);
    fe_add(v, y, x);
    fe_tobytes(bytes, v);
    fe_sub(v, y, x);
    fe_tobytes(bytes + 32, v);
    fe_mul(v, x, y);
    fe_mul(v, v, FE_D2);
    fe_tobytes(bytes + 64, v);
    for (int line = 0; line < 6; line++) {
      char text[16 * 6 + 8];
      int o = 0;
      text[o++] = ' ';
      text[o++] = ' ';
      if (line == 0) text[o++] = '{';
      else text[o++] = ' ';
      for (int b = 0; b < 16; b++) {
        uint8_t x8 = bytes[16 * line + b];
        text[o++] = '0';
        text[o++] = 'x';
        text[o++] = hexd[x8 >> 4];
        text[o++] = hexd[x8 & 15];
        if (b < 15 || line < 5) text[o++] = ',';
      }
      if (line == 5) text[o++] = '}', text[o++] = ',';
      text[o++] = '\n';
      text[o] = 0;
      emit(text);
    }
    ge_add_cached(&p, &two, 0, 1);
  }
  emit("};\n");
}

#endif
