/*
 * Strict Ed25519 verification (RFC 8032 section 5.1.7) for the Keybox board,
 * written for this project from the RFC. Freestanding: no libc, no heap, no
 * writable static data; it touches only the buffers it is handed and its
 * stack.
 *
 * The caller hashes: digest = SHA-512(R || A || message), 64 bytes, as the
 * board's native SHA-512 computes it. The verifier reduces it mod L itself.
 *
 * Strictness, the same as firmware/crypto/ed25519-ref.ts:
 *   - S (signature bytes 32..63, little-endian) must be < L;
 *   - A must decode: y < p, on the curve, and x = 0 only with sign bit 0;
 *     small-order and mixed-order keys are not refused by themselves;
 *   - the cofactorless equation: R must equal, byte for byte, the canonical
 *     encoding of [S]B - [k]A, so a non-canonical R never matches.
 */
#ifndef KEYBOX_ED25519_H
#define KEYBOX_ED25519_H

#include <stdint.h>

/*
 * Bytes of scratch the verifier needs (the caller's buffer may be at any
 * byte address: the verifier aligns it, which is what the 8 spare bytes are
 * for).
 */
#define ED25519_SCRATCH_BYTES 2304

/*
 * 1 when sig (64 bytes) is a valid signature by pk (32 bytes) of the message
 * whose SHA-512(R || A || message) is digest (64 bytes), else 0. scratch
 * must hold ED25519_SCRATCH_BYTES. Four word arguments: the form in which
 * Espruino's E.nativeCall(addr, "int(int,int,int,int)") calls it.
 */
uint32_t ed25519_verify(const uint8_t *sig, const uint8_t *pk, const uint8_t *digest, uint8_t *scratch);

#ifdef ED25519_HOST_TOOLS
/* Host only: writes the base point's table (the C source of base-table.h) with emit. */
void ed25519_write_base_table(void (*emit)(const char *text));
#endif

#endif
