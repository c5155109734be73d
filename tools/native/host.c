/*
 * The native verifier compiled for the host (`npm run -s ed25519-check`).
 * Reads one case per line on standard input, "signatureHex messageHex
 * publicKeyHex" separated by single spaces or tabs (the message may be
 * empty: two separators in a row), and prints 1 (valid) or 0 for each,
 * one per line, nothing else on standard output. A line that is not three
 * hex fields of the right lengths is a 0, as a malformed grant is.
 *
 * With --digest each line is instead "signatureHex publicKeyHex
 * digestHex", the digest being SHA-512(R || A || message): the arguments
 * the board's binding hands the blob (the binding's tests call it so).
 *
 * With --base-table it instead prints base-table.h (built with
 * ED25519_GENERATE_TABLE, from the same field and group code).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ed25519.h"
#include "sha512.h"

#ifdef ED25519_GENERATE_TABLE
static void emit(const char *text) { fputs(text, stdout); }
int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--base-table") == 0) {
    ed25519_write_base_table(emit);
    return 0;
  }
  fprintf(stderr, "usage: %s --base-table\n", argv[0]);
  return 2;
}
#else

static int nibble(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes the hex in s[0..n) into out; the byte count, or -1. */
static long unhex(uint8_t *out, const char *s, size_t n) {
  if (n & 1) return -1;
  for (size_t i = 0; i < n; i += 2) {
    int a = nibble(s[i]), b = nibble(s[i + 1]);
    if (a < 0 || b < 0) return -1;
    out[i / 2] = (uint8_t)(a * 16 + b);
  }
  return (long)(n / 2);
}

static int verify_line(char *line, size_t len, uint8_t *buf, int digest_given) {
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  size_t start[3], end[3];
  int field = 0;
  start[0] = 0;
  for (size_t i = 0; i < len; i++) {
    if (line[i] == ' ' || line[i] == '\t') {
      if (field == 2) return 0;
      end[field++] = i;
      start[field] = i + 1;
    }
  }
  if (field != 2) return 0;
  end[2] = len;
  /* buf: R || A || message for the hash, the signature kept apart. */
  uint8_t sig[64], pk[32], digest[64];
  static uint8_t scratch[ED25519_SCRATCH_BYTES];
  if (unhex(sig, line + start[0], end[0] - start[0]) != 64) return 0;
  if (digest_given) {
    if (unhex(pk, line + start[1], end[1] - start[1]) != 32) return 0;
    if (unhex(digest, line + start[2], end[2] - start[2]) != 64) return 0;
    return (int)ed25519_verify(sig, pk, digest, scratch);
  }
  if (unhex(pk, line + start[2], end[2] - start[2]) != 32) return 0;
  long m = unhex(buf + 64, line + start[1], end[1] - start[1]);
  if (m < 0) return 0;
  memcpy(buf, sig, 32);
  memcpy(buf + 32, pk, 32);
  sha512(digest, buf, 64 + (size_t)m);
  return (int)ed25519_verify(sig, pk, digest, scratch);
}

int main(int argc, char **argv) {
  int digest_given = argc == 2 && strcmp(argv[1], "--digest") == 0;
  if (argc > 1 && !digest_given) {
    fprintf(stderr, "usage: %s [--digest] < cases\n", argv[0]);
    return 2;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint8_t *buf = NULL;
  size_t bufcap = 0;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    if (bufcap < (size_t)n / 2 + 64) {
      bufcap = (size_t)n / 2 + 64;
      buf = realloc(buf, bufcap);
      if (!buf) return 1;
    }
    putchar(verify_line(line, (size_t)n, buf, digest_given) ? '1' : '0');
    putchar('\n');
  }
  free(line);
  free(buf);
  return 0;
}
#endif
