/*
 * Runs the exact blob that the board installs, on QEMU's Cortex-M4, the
 * way Espruino's E.nativeCall(addr | 1, "int(int,int,int,int)") calls it:
 * jsnative.c casts the address to uint32_t (*)(size_t, size_t, size_t,
 * size_t) and calls it with the four words in r0-r3.
 *
 * QEMU loads the blob's bytes at BLOB_ADDR (the start of the board's free
 * flash) and the cases at CASES_ADDR. Case file: "KBX1", the case count
 * (u32 little-endian), then per case the signature (64 bytes), the public
 * key (32) and SHA-512(R || A || message) (64), as the firmware hands them
 * over. Each case is copied to buffers two bytes past a word boundary, like
 * the data of Espruino's flat strings, and the scratch buffer too.
 *
 * Prints "RESULTS <one 0/1 per case>" and "STACK <bytes>" (the deepest
 * stack the blob used over all cases, from a painted stack), then exits
 * through semihosting.
 */
#include <stdint.h>
#include "../../../hal/espruino/native/ed25519.h"

#ifndef BLOB_ADDR
#define BLOB_ADDR 0x00081000u
#endif
#define CASES_ADDR 0x21000000u
#define MAX_CASES 20000
#define PAINT_WORDS 2048
#define PAINT 0xdeadbeefu

typedef uint32_t (*native_fn)(uint32_t, uint32_t, uint32_t, uint32_t);

static int semihost(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void print(const char *s) { semihost(0x04, s); /* SYS_WRITE0 */ }

static void exit_qemu(int ok) {
  semihost(0x18, (const void *)(ok ? 0x20026u : 0x20024u)); /* SYS_EXIT */
  for (;;) {
  }
}

static char results[MAX_CASES + 16];
static uint32_t inbuf[(64 + 32 + 64) / 4 + 4];
static uint32_t scratchbuf[ED25519_SCRATCH_BYTES / 4 + 4];

/* Paints the stack below this frame, calls the blob, returns how deep the paint was disturbed. */
static __attribute__((noinline)) uint32_t call_blob(uint32_t *result, uint8_t *sig, uint8_t *pk, uint8_t *digest, uint8_t *scratch) {
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  volatile uint32_t *low = (volatile uint32_t *)((sp & ~3u) - 4 * PAINT_WORDS);
  for (int i = 0; i < PAINT_WORDS - 16; i++) low[i] = PAINT;
  native_fn fn = (native_fn)(BLOB_ADDR | 1u);
  *result = fn((uint32_t)sig, (uint32_t)pk, (uint32_t)digest, (uint32_t)scratch);
  int i = 0;
  while (i < PAINT_WORDS - 16 && low[i] == PAINT) i++;
  return (uint32_t)(sp & ~3u) - (uint32_t)&low[i];
}

static void put_number(char *out, uint32_t v) {
  char tmp[12];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *out++ = tmp[--n];
  *out = 0;
}

int main(void) {
  const uint8_t *in = (const uint8_t *)CASES_ADDR;
  if (in[0] != 'K' || in[1] != 'B' || in[2] != 'X' || in[3] != '1') {
    print("no cases loaded\n");
    exit_qemu(0);
  }
  uint32_t count = in[4] | (uint32_t)in[5] << 8 | (uint32_t)in[6] << 16 | (uint32_t)in[7] << 24;
  if (count > MAX_CASES) {
    print("too many cases\n");
    exit_qemu(0);
  }
  uint8_t *buf = (uint8_t *)inbuf + 2;
  uint8_t *scratch = (uint8_t *)scratchbuf + 2;
  uint32_t deepest = 0;
  const char *head = "RESULTS ";
  uint32_t o = 0;
  while (head[o]) results[o] = head[o], o++;
  for (uint32_t c = 0; c < count; c++) {
    const uint8_t *src = in + 8 + 160 * c;
    for (int i = 0; i < 160; i++) buf[i] = src[i];
    uint32_t r;
    uint32_t used = call_blob(&r, buf, buf + 64, buf + 96, scratch);
    if (used > deepest) deepest = used;
    results[o++] = r == 1 ? '1' : r == 0 ? '0' : '?';
  }
  results[o++] = '\n';
  results[o] = 0;
  print(results);
  char line[32] = "STACK ";
  put_number(line + 6, deepest);
  print(line);
  print("\n");
  exit_qemu(1);
  return 0;
}
