/*
** sha1: git's object ids and pack trailers (git's format, not security).
** Must never: be used to authenticate anything.
*/
#ifndef RECFS_FS_HISTORY_SHA1_H
#define RECFS_FS_HISTORY_SHA1_H

#include <stddef.h>
#include <stdint.h>
#include <git2.h>

/* SHA-1 (the pack trailer is part of git's format; not used for security).
** Opaque: libcrypto's SHA_CTX, held by value (no allocation per object). */
struct rfs_sha1 {
	_Alignas(8) unsigned char ctx[96];
};
void rfs_sha1_init(struct rfs_sha1 *s);
void rfs_sha1_update(struct rfs_sha1 *s, const void *data, size_t n);
void rfs_sha1_final(struct rfs_sha1 *s, uint8_t out[20]);
/* The git object id of data as an object of type ("<type> <len>\0" || data). */
void rfs_sha1_object_id(git_oid *out, git_object_t type, const void *data, size_t len);

#endif
