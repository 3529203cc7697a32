/*
** tag: keyed BLAKE2b (crypto_generichash) behind struct rfs_tag (see tag.h).
** Must never: finish a tag of another length than it was started with.
*/
#include "crypto/tag.h"

#include <sodium.h>

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(((struct rfs_tag *)0)->opaque),
               "struct rfs_tag holds libsodium's state");
_Static_assert(RFS_TAG_MIN >= crypto_generichash_BYTES_MIN && RFS_TAG_MAX <= crypto_generichash_BYTES_MAX &&
               RFS_TAG_MIN >= crypto_generichash_KEYBYTES_MIN && RFS_TAG_MAX <= crypto_generichash_KEYBYTES_MAX,
               "tag and key sizes");

static crypto_generichash_state *state_of(struct rfs_tag *t)
{
	return (crypto_generichash_state *)(void *)t->opaque;
}

void rfs_tag_init(struct rfs_tag *t, const uint8_t *key, size_t keylen, size_t outlen)
{
	t->outlen = outlen;
	crypto_generichash_init(state_of(t), key, keylen, outlen);
}

void rfs_tag_update(struct rfs_tag *t, const void *data, size_t len)
{
	crypto_generichash_update(state_of(t), data, len);
}

void rfs_tag_final(struct rfs_tag *t, uint8_t *out)
{
	crypto_generichash_final(state_of(t), out, t->outlen);
	sodium_memzero(t->opaque, sizeof t->opaque);
}

bool rfs_tag_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}
