/*
** digest: see digest.h. SHA-256 and base64 (ORIGINAL variant) from libsodium;
** SHA-512 from OpenSSL's libcrypto, whose assembly runs about 1.7 times as fast as
** libsodium's C on this kind of machine, and an archive hashes every byte twice with it
** (each file for the manifest, the whole tarball for the transfer log).
** Must never: hand out a digest of part of the data as the whole.
*/
/* The plain SHA512_* calls: the state fits in struct rfs_sha512, no allocation to leak
** when a caller stops before the final. OpenSSL 3 calls them deprecated, not removed. */
#define OPENSSL_API_COMPAT 10101
#include "crypto/digest.h"

#include <errno.h>
#include <openssl/sha.h>
#include <sodium.h>

_Static_assert(sizeof(SHA512_CTX) <= sizeof(((struct rfs_sha512 *)0)->opaque),
               "SHA-512 state fits");
_Static_assert(_Alignof(SHA512_CTX) <= 16, "SHA-512 state alignment");
_Static_assert(RFS_SHA256_SIZE == crypto_hash_sha256_BYTES, "SHA-256 size");
_Static_assert(RFS_SHA512_SIZE == crypto_hash_sha512_BYTES, "SHA-512 size");

void rfs_sha256(uint8_t out[RFS_SHA256_SIZE], const void *data, size_t len)
{
	crypto_hash_sha256(out, data, len);
}

void rfs_sha512_init(struct rfs_sha512 *s)
{
	SHA512_Init((SHA512_CTX *)s->opaque);
}

void rfs_sha512_update(struct rfs_sha512 *s, const void *data, size_t len)
{
	SHA512_Update((SHA512_CTX *)s->opaque, data, len);
}

void rfs_sha512_final(struct rfs_sha512 *s, uint8_t out[RFS_SHA512_SIZE])
{
	SHA512_Final(out, (SHA512_CTX *)s->opaque);
	sodium_memzero(s, sizeof(*s));
}

size_t rfs_b64_std_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) - 1;
}

size_t rfs_b64_std_encode(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, rfs_b64_std_len(n) + 1, in, n, sodium_base64_VARIANT_ORIGINAL);
	return rfs_b64_std_len(n);
}

long rfs_b64_std_decode(uint8_t *out, size_t outsz, const char *in, size_t len)
{
	size_t got = 0;
	const char *end = NULL;

	if (sodium_base642bin(out, outsz, in, len, NULL, &got, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 || end != in + len)
		return -EINVAL;
	return (long)got;
}
