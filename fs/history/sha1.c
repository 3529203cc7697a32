/*
** sha1: SHA-1 for git object ids and the pack trailer git requires (see
** sha1.h), from libcrypto: its assembly (the CPU's SHA instructions where it
** has them) is twice as fast as the intrinsics recfs had, and every byte of
** every pack goes through SHA-1 twice (the object id, the trailer).
** Must never: be used where security depends on it (git's format needs it).
*/
#define OPENSSL_SUPPRESS_DEPRECATED       /* SHA1_*: no allocation per object, unlike EVP */
#include "fs/history/sha1.h"

#include <stdio.h>
#include <string.h>
#include <openssl/sha.h>

_Static_assert(sizeof(SHA_CTX) <= sizeof(((struct rfs_sha1 *)0)->ctx), "struct rfs_sha1 too small");

void rfs_sha1_init(struct rfs_sha1 *s)
{
	SHA1_Init((SHA_CTX *)s->ctx);
}

void rfs_sha1_update(struct rfs_sha1 *s, const void *data, size_t n)
{
	SHA1_Update((SHA_CTX *)s->ctx, data, n);
}

void rfs_sha1_final(struct rfs_sha1 *s, uint8_t out[20])
{
	SHA1_Final(out, (SHA_CTX *)s->ctx);
}

void rfs_sha1_object_id(git_oid *out, git_object_t type, const void *data, size_t len)
{
	char hdr[64];
	int n = snprintf(hdr, sizeof hdr, "%s %zu", git_object_type2string(type), len);
	struct rfs_sha1 s;
	rfs_sha1_init(&s);
	rfs_sha1_update(&s, hdr, (size_t)n + 1);
	rfs_sha1_update(&s, data, len);
	uint8_t id[20];
	rfs_sha1_final(&s, id);
	git_oid_fromraw(out, id);
}
