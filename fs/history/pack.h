/*
** pack: the in-memory staging object store and the uncompressed pack writer.
**
** Owns: a custom libgit2 ODB backend (highest priority, so every object the
** history writes lands here first), and turning its objects into one pack
** in objects/pack (zlib "stored" blocks: ciphertext does not compress) via
** git_odb_write_pack, which also writes the .idx.
** Must never: write loose objects, or drop an object before it is packed.
** Not thread-safe: the caller serialises all repository access.
*/
#ifndef RECFS_FS_HISTORY_PACK_H
#define RECFS_FS_HISTORY_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <git2.h>

struct rfs_stage;

/* Create the staging backend and add it to odb (it owns the backend).
** packdir is objects/pack of the repository (copied). */
int rfs_stage_attach(git_odb *odb, const char *packdir, struct rfs_stage **out);

/* Bytes of object data held. */
size_t rfs_stage_bytes(const struct rfs_stage *st);
size_t rfs_stage_count(const struct rfs_stage *st);

/* Write every staged object to one pack, then forget them. 0 or -errno. */
int rfs_stage_spill(struct rfs_stage *st, git_odb *odb);

/* Object source for the generic pack writer: the i-th object, read into a
** buffer owned by the callee until the next call. */
typedef int (*rfs_pack_source)(void *arg, size_t i, git_oid *oid, git_object_t *type,
                               const void **data, size_t *len);

/* Write n objects as one pack (and its .idx) into packdir; name gets the
** pack's hex name (pack-<name>.pack) when not NULL. 0 or -errno. */
int rfs_pack_write(git_odb *odb, const char *packdir, size_t n, rfs_pack_source src, void *arg,
                   char name[41]);

/* SHA-1 (the pack trailer is part of git's format; not used for security). */
struct rfs_sha1 {
	uint32_t h[5];
	uint64_t len;
	uint8_t buf[64];
	size_t used;
};
void rfs_sha1_init(struct rfs_sha1 *s);
void rfs_sha1_update(struct rfs_sha1 *s, const void *data, size_t n);
void rfs_sha1_final(struct rfs_sha1 *s, uint8_t out[20]);

#endif
