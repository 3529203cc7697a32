/*
** tag: keyed BLAKE2b over parts fed one after another, for the history
** index's path and file tags and the digest of live/ at a clean close; and
** comparing tags in constant time.
**
** Owns: the only keyed hashing outside names.c.
** Must never: compare a tag with memcmp (use rfs_tag_equal).
*/
#ifndef RECFS_CRYPTO_TAG_H
#define RECFS_CRYPTO_TAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RFS_TAG_MIN 16u                  /* tag and key sizes, bytes */
#define RFS_TAG_MAX 64u

/* The hash state; opaque (libsodium's, kept here so callers need no <sodium.h>). */
struct rfs_tag {
	_Alignas(64) uint8_t opaque[384];
	size_t outlen;
};

/* Start a tag of outlen bytes (RFS_TAG_MIN..RFS_TAG_MAX) under key
** (keylen RFS_TAG_MIN..RFS_TAG_MAX bytes). */
void rfs_tag_init(struct rfs_tag *t, const uint8_t *key, size_t keylen, size_t outlen);
void rfs_tag_update(struct rfs_tag *t, const void *data, size_t len);
/* The tag (outlen bytes, as given to rfs_tag_init); the state is wiped. */
void rfs_tag_final(struct rfs_tag *t, uint8_t *out);

/* a and b (len bytes each) are equal, in time that depends on len only. */
bool rfs_tag_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
