/* SHA-512 (FIPS 180-4) for the host tools only: the board hashes natively. */
#ifndef KEYBOX_SHA512_H
#define KEYBOX_SHA512_H
#include <stddef.h>
#include <stdint.h>
void sha512(uint8_t out[64], const uint8_t *data, size_t len);
#endif
