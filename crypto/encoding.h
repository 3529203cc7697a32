/*
** encoding: URL-safe base64 without padding, and lower-case hex.
**
** Owns: the text forms of binary values in names, recfs.conf and keys/.
** Must never: accept non-canonical input (decode rejects what encode would not produce).
*/
#ifndef RECFS_CRYPTO_ENCODING_H
#define RECFS_CRYPTO_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Length of the base64url text for n bytes (no padding, no NUL). */
size_t rfs_b64_len(size_t n);

/* Encode n bytes; out must hold rfs_b64_len(n) + 1. Returns the text length. */
size_t rfs_b64_encode(char *out, const uint8_t *in, size_t n);

/* Decode text of length len into out (capacity outsz). Returns the byte count,
** or -EINVAL for bad characters or non-canonical text, -ENAMETOOLONG if it does not fit. */
long rfs_b64_decode(uint8_t *out, size_t outsz, const char *in, size_t len);

/* Hex: out holds 2n+1. */
void rfs_hex_encode(char *out, const uint8_t *in, size_t n);

/* Decode exactly 2n hex characters into n bytes. 0 or -EINVAL. */
int rfs_hex_decode(uint8_t *out, size_t n, const char *in);

#endif
