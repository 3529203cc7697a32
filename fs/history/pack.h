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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <git2.h>

struct rfs_stage;

struct rfs_packs;

/* Create the staging backend and add it to odb (it owns the backend).
** Spills go to packs (NULL: a stage that never spills, e.g. for hashing). */
int rfs_stage_attach(git_odb *odb, struct rfs_packs *packs, struct rfs_stage **out);

/* Stage an object whose id the caller computed (rfs_object_id), without
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

/* ---- the packs of objects/pack, as one ODB backend ----
** libgit2's own pack backend rescans objects/pack on every lookup miss,
** and every new object is a miss (git_odb_write checks it exists first):
** with P packs that rescan costs O(P^2). This wrapper forwards to it but
** rescans only when the folder changed, and can drop removed packs. */
struct rfs_packs;

/* Add the packs of objects_dir (and its loose objects, read only) to odb. */
int rfs_packs_attach(git_odb *odb, const char *objects_dir, struct rfs_packs **out);

/* Forget every pack and load objects/pack again (after packs were removed). */
int rfs_packs_reload(struct rfs_packs *p);

/* Keep objects/pack at a few small packs: when more than max_packs are
** smaller than big bytes, merge the smallest ones (so that each pack left is
** at least twice the size of all smaller ones together) into one new pack,
** then remove them. Packs of big bytes or more are left alone. The
** merged pack is durable before any old one goes; reads keep working from
** the old packs meanwhile. Call without the repository lock held; relock is
** called (and released) around removing the old packs and reloading, so
** the caller can take its own lock there. 0 (also when nothing to do) or -errno. */
int rfs_packs_consolidate(struct rfs_packs *p, size_t max_packs, uint64_t big,
                          void (*relock)(void *arg, int lock), void *arg);

/* Leftovers of a killed writer in packdir: its temporary files (tmp_pack_*,
** tmp_idx_*), and a pack or index whose other half is missing (killed
** between the two renames, or while gc removed packs). fn(arg, name, bytes)
** per file; remove: unlink it as well. Only while no one writes packs
** (the vault lock, and in a daemon pack_lock and git_lock, held).
** The number found, or -errno. */
long rfs_pack_leftovers(const char *packdir, bool remove,
                        void (*fn)(void *arg, const char *name, uint64_t bytes), void *arg);

/* Number of packs in objects/pack; -errno. */
long rfs_packs_count(const struct rfs_packs *p);

/* One object for the generic pack writer. Either type, data and len (the
** object itself), or raw: data and len are a whole pack entry copied from
** another pack (no deltas), whose CRC-32 is crc. */
struct rfs_pack_obj {
	git_oid oid;
	git_object_t type;
	const void *data;
	size_t len;
	bool raw;
	uint32_t crc;
};

/* Object source for the generic pack writer: the i-th object, its data
** owned by the callee until the next call. */
typedef int (*rfs_pack_source)(void *arg, size_t i, struct rfs_pack_obj *obj);

/* A source reading the listed objects from odb; cur holds the last one
** read (the caller frees it with git_odb_object_free). */
struct rfs_odb_list {
	git_odb *odb;
	const git_oid *list;
	git_odb_object *cur;
};
int rfs_odb_list_source(void *arg, size_t i, struct rfs_pack_obj *obj);

/* Write n objects as one pack (and its .idx) into packs' folder and make
** packs see it; name gets the pack's hex name (pack-<name>.pack) when not
** NULL. 0 or -errno. */
int rfs_pack_write(struct rfs_packs *packs, size_t n, rfs_pack_source src, void *arg,
                   char name[41]);

/* A pack written object by object, for a save too big to stage: count is
** how many objects will be put (the header comes first). close(keep) makes
** the pack durable and visible; close(!keep), or a put that failed, leaves
** nothing behind. put and close return 0 or -errno. */
struct rfs_pack_stream;
int rfs_pack_stream_open(struct rfs_packs *packs, size_t count, struct rfs_pack_stream **out);
int rfs_pack_stream_put(struct rfs_pack_stream *s, const git_oid *oid, git_object_t type,
                        const void *data, size_t len);
int rfs_pack_stream_close(struct rfs_pack_stream *s, bool keep);

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
/* The git object id of data as an object of type ("<type> <len>\0" || data). */
void rfs_object_id(git_oid *out, git_object_t type, const void *data, size_t len);

#endif
