/*
** walk: a folder's tree in live/, depth first through the inode table (so the
** kernel's caches stay honest), each folder's entries in the order of their
** clear names (byte order: the same tree always walks the same way). The
** disposal's archive, count and removal, and the archive of a service, walk
** records with it.
** Owns: the lookups it takes for a visit and gives back after it.
** Must never: hand out an entry whose name did not open (it stops with the
** error), or keep a lookup once the visit of an entry is over.
*/
#ifndef RECFS_FS_WALK_H
#define RECFS_FS_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "fs/ops.h"

/* One entry met by the walk; in holds one lookup of ours for the visit. */
struct rfs_walk_entry {
	struct rfs_inode *dir, *in;        /* its folder, and itself */
	int dirfd;                         /* the folder's descriptor (O_PATH) */
	const char *name, *backing;        /* in dir: clear and on disk */
	const char *path;                  /* clear, from the mount's root: "cases/smith/a.txt" */
	struct stat st;                    /* the plaintext view (rfs_ops_make_entry) */
};

/* before: called on the way down (a folder before what it holds); else on the
** way up (a folder after it). 0 to go on, RFS_WALK_SKIP (before a folder) to
** leave out what it holds, or -errno to stop. */
#define RFS_WALK_SKIP 1
typedef int (*rfs_walk_fn)(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before,
                           void *arg);

/* The folder at path ("cases/smith"): its inode and its parent's, each with one lookup of
** ours (rfs_walk_put drops them). -ENOENT when absent, -ENOTDIR when not a folder. */
struct rfs_walk_at {
	struct rfs_inode *held[64];
	size_t nheld;
	struct rfs_walk_entry top;
	char name[256], backing[256];
};
int rfs_walk_get(struct rfs_fs *fs, const char *path, struct rfs_walk_at *r);
void rfs_walk_put(struct rfs_fs *fs, struct rfs_walk_at *r);

/* fn for e, then (a folder) for everything in it, depth first. */
int rfs_walk_visit(struct rfs_fs *fs, const struct rfs_walk_entry *e, rfs_walk_fn fn, void *arg);
/* Walk the folder at path, itself included, with fn. */
int rfs_walk_record(struct rfs_fs *fs, const char *path, rfs_walk_fn fn, void *arg);

#endif
