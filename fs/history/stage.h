/*
** stage: objects history writes, held in memory (a libgit2 ODB backend of
** the highest priority) until spilled into one pack.
** Must never: write loose objects, or drop an object before it is packed.
** Not thread-safe: the caller serialises all repository access.
*/
#ifndef RECFS_FS_HISTORY_STAGE_H
#define RECFS_FS_HISTORY_STAGE_H

#include <stddef.h>
#include <git2.h>
#include "fs/history/pack.h"

struct rfs_stage;

struct rfs_packs;

/* Create the staging backend and add it to odb (it owns the backend).
** Spills go to packs (NULL: a stage that never spills, e.g. for hashing). */
int rfs_stage_attach(git_odb *odb, struct rfs_packs *packs, struct rfs_stage **out);

/* Stage an object whose id the caller computed (rfs_sha1_object_id), without
** libgit2's second hash. Idempotent. 0 or -ENOMEM. */
int rfs_stage_put(struct rfs_stage *st, const git_oid *oid, git_object_t type, const void *data,
                  size_t len);

/* Stage oid unless the stage or the packs hold it already. Loose objects
** (only other tools leave them) are not looked for: a copy more is harmless,
** a file system lookup for every new object is not. 0 or -ENOMEM. */
int rfs_stage_put_new(struct rfs_stage *st, const git_oid *oid, git_object_t type,
                      const void *data, size_t len);

/* Bytes of object data held. */
size_t rfs_stage_bytes(const struct rfs_stage *st);
size_t rfs_stage_count(const struct rfs_stage *st);

/* Write every staged object to one pack, then forget them. 0 or -errno. */
int rfs_stage_spill(struct rfs_stage *st);

#endif
