/*
** digest: SHA-256 and SHA-512, and standard base64 (RFC 4648 section 4, with
** padding): the forms that tools outside recfs check (sha512sum, openssl).
**
** Owns: the unkeyed hashes of the disposal register and of archive manifests,
** and the base64 of signatures and PEM keys that openssl reads.
** Must never: be used where a key is meant (keyed hashing is tag.h's), or
** accept base64 that encode would not have produced.
*/
#ifndef RECFS_CRYPTO_DIGEST_H
#define RECFS_CRYPTO_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define RFS_SHA256_SIZE 32u
#define RFS_SHA512_SIZE 64u

void rfs_sha256(uint8_t out[RFS_SHA256_SIZE], const void *data, size_t len);

/* SHA-512 fed in parts; the state is opaque (libsodium's). */
struct rfs_sha512 {
	_Alignas(16) uint8_t opaque[256];
};
void rfs_sha512_init(struct rfs_sha512 *s);
void rfs_sha512_update(struct rfs_sha512 *s, const void *data, size_t len);
void rfs_sha512_final(struct rfs_sha512 *s, uint8_t out[RFS_SHA512_SIZE]);

/* Length of the padded base64 text of n bytes (no NUL). */
size_t rfs_b64_std_len(size_t n);
/* Encode n bytes; out holds rfs_b64_std_len(n) + 1. Returns the text length. */
size_t rfs_b64_std_encode(char *out, const uint8_t *in, size_t n);
/* Decode len characters into out (capacity outsz): the byte count, or -EINVAL. */
long rfs_b64_std_decode(uint8_t *out, size_t outsz, const char *in, size_t len);

#endif
