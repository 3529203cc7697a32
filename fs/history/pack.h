/*
** pack: the packs of objects/pack, and writing objects into one pack
** (zlib "stored" blocks: ciphertext does not compress) with its .idx; a tree
** goes in as a delta against an earlier version in the same pack.
**
** Owns: objects/pack as one ODB backend, rescanned only when it changed; the
** pack writer and stream; spools, as chains of segment packs; merging small
** packs; leftovers of a killed writer.
** Must never: write loose objects, drop an object before it is packed, or
** write a delta whose base is not an earlier entry of the same pack.
** Not thread-safe: the caller serialises all repository access.
*/
#ifndef RECFS_FS_HISTORY_PACK_H
#define RECFS_FS_HISTORY_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <git2.h>

/* ---- the packs of objects/pack, as one ODB backend ----
** libgit2's own pack backend rescans objects/pack on every lookup miss,
** and every new object is a miss (git_odb_write checks it exists first):
** with P packs that rescan costs O(P^2). This wrapper forwards to it but
** rescans only when the folder changed, and can drop removed packs. */
struct rfs_packs;

/* Add the packs of objects_dir (and its loose objects, read only) to odb. */
int rfs_pack_attach(git_odb *odb, const char *objects_dir, struct rfs_packs **out);

/* Forget every pack and load objects/pack again (after packs were removed). */
int rfs_pack_reload(struct rfs_packs *p);

/* Keep objects/pack at a few small packs: when more than max_packs are
** smaller than small bytes, merge the smallest ones (enough to leave max/2
** of those, then each pack left under big bytes is at least twice the size
** of all smaller ones together) into one new pack, then remove them. Packs
** of big bytes or more are left alone. The merged pack is durable before
** any old one goes; reads keep working from the old packs meanwhile. Call
** without the repository lock held; relock is called (and released) around
** removing the old packs and reloading, so the caller can take its own lock
** there. 0 (also when nothing to do) or -errno. */
int rfs_pack_consolidate(struct rfs_packs *p, size_t max_packs, uint64_t small, uint64_t big,
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
long rfs_pack_count(const struct rfs_packs *p);

/* One object for the generic pack writer. Either type, data and len (the
** object itself), or raw: data and len are a whole pack entry copied from
** another pack (never a delta), whose CRC-32 is crc. A tree given as an
** object may be written as a delta against a tree written before it. */
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
struct rfs_pack_odb_list {
	git_odb *odb;
	const git_oid *list;
	git_odb_object *cur;
};
int rfs_pack_odb_list_source(void *arg, size_t i, struct rfs_pack_obj *obj);

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

/* The bytes of objects in one segment of a spool. */
#define RFS_PACK_SEGMENT (64ull << 20)

/* A spool: a pack stream whose object count is not known when it opens (a
** file being written, packed as its chunks arrive). It is written as a chain
** of packs of about 64 MiB each (segments), each hashed as it is written and
** finished (fsync'd, as tmp_ files) by the put that fills it;
** rfs_pack_stream_close reads back only the last, partial one to hash it,
** then moves them all into place (keep) or removes them. put: 0 or -errno. */
int rfs_pack_spool_open(struct rfs_packs *packs, struct rfs_pack_stream **out);
int rfs_pack_spool_put(struct rfs_pack_stream *s, const git_oid *oid, git_object_t type,
                       const void *data, size_t len);
size_t rfs_pack_spool_count(const struct rfs_pack_stream *s);
/* The ids of the first n objects put (n <= count), in the order they were put. */
void rfs_pack_spool_oids(const struct rfs_pack_stream *s, git_oid *out, size_t n);

/* Whether the packs hold oid. */
bool rfs_pack_has(struct rfs_packs *p, const git_oid *oid);

/* A reader for verify and gc, which read each object once: every packed object's place
** in one table (from the indexes, about 48 bytes an object), each object read with one
** pread (a delta: one a link of its chain), inflated and checked against its id with the
** SHA-1 above. No mapped windows, no search through each pack's index in turn. Sees the
** packs there at open; an object it cannot give (not in them, a thin delta, a damaged
** entry) is for libgit2 to read and name.
** read: 0 and the object in out (reused from call to call); -ENOENT not in the packs;
** -EIO any other failure. Not for two threads at once. */
struct rfs_pack_reader;
struct rfs_pack_buf {
	uint8_t *p;
	size_t len, cap;
};
struct rfs_pack_reader_counts {
	uint64_t objects, bytes;          /* entries read, and their bytes in the packs */
	uint64_t inflated;                /* bytes of objects they held */
};
int rfs_pack_reader_open(struct rfs_packs *p, struct rfs_pack_reader **out);
int rfs_pack_reader_read(struct rfs_pack_reader *r, const git_oid *oid, git_object_t *type,
                         struct rfs_pack_buf *out);
bool rfs_pack_reader_has(const struct rfs_pack_reader *r, const git_oid *oid);
const struct rfs_pack_reader_counts *rfs_pack_reader_counts(const struct rfs_pack_reader *r);
void rfs_pack_reader_close(struct rfs_pack_reader *r);

#endif
