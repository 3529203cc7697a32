/*
** digest: see digest.h. libsodium's SHA-2 and base64 (ORIGINAL variant).
** Must never: hand out a digest of part of the data as the whole.
*/
#include "crypto/digest.h"

#include <errno.h>
#include <sodium.h>

_Static_assert(sizeof(crypto_hash_sha512_state) <= sizeof(((struct rfs_sha512 *)0)->opaque),
               "SHA-512 state fits");
_Static_assert(RFS_SHA256_SIZE == crypto_hash_sha256_BYTES, "SHA-256 size");
_Static_assert(RFS_SHA512_SIZE == crypto_hash_sha512_BYTES, "SHA-512 size");

void rfs_sha256(uint8_t out[RFS_SHA256_SIZE], const void *data, size_t len)
{
	crypto_hash_sha256(out, data, len);
}

void rfs_sha512_init(struct rfs_sha512 *s)
{
	crypto_hash_sha512_init((crypto_hash_sha512_state *)s->opaque);
}

void rfs_sha512_update(struct rfs_sha512 *s, const void *data, size_t len)
{
	crypto_hash_sha512_update((crypto_hash_sha512_state *)s->opaque, data, len);
}

void rfs_sha512_final(struct rfs_sha512 *s, uint8_t out[RFS_SHA512_SIZE])
{
	crypto_hash_sha512_final((crypto_hash_sha512_state *)s->opaque, out);
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
