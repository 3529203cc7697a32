/*
** inode: the daemon's table of FUSE inodes, keyed by the backing file's
** (st_dev, st_ino), and a bounded cache of O_PATH descriptors of their files
** in live/. An inode holds no descriptor of its own: one is opened on demand
** through its parent's descriptor and its backing name, checked to be the
** same file, and closed again when the cache is full and it is not in use.
**
** Owns: lookup counts (FUSE's nlookup), the name tree (parent, clear name,
** backing name; used to give history its paths and to reach a file again),
** the descriptor cache, lazily loaded per-inode secrets (directory id,
** content key) and the content lock.
** Must never: free an inode the kernel still knows, a parent a child points
** at, or a descriptor somebody is using; hold more cached descriptors than
** the cache's bound, beyond those in use and those of unlinked files in use.
*/
#ifndef RECFS_FS_INODE_H
#define RECFS_FS_INODE_H

#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "crypto/keystore.h"
#include "crypto/names.h"
#include "fs/history/history.h"

struct rfs_inode {
	struct rfs_inode *hnext;
	dev_t dev;
	ino_t ino;
	int cached_fd;                 /* table lock: O_PATH | O_NOFOLLOW, or -1; use rfs_inode_get_fd */
	unsigned fd_refs;              /* table lock: users of cached_fd (rfs_inode_get_fd) */
	bool in_lru;                   /* table lock: closable (cached, unused, attached) */
	struct rfs_inode *lru_prev, *lru_next;
	mode_t type;                   /* S_IFREG, S_IFDIR or S_IFLNK */
	uint64_t nlookup;              /* table lock */
	unsigned nchildren;            /* table lock: children whose parent is this */

	struct rfs_inode *parent;      /* table lock; NULL once unlinked */
	char *name;                    /* clear name; table lock */
	char *backing;                 /* on-disk name in parent; table lock */

	pthread_mutex_t mu;            /* lazily loaded fields below */
	bool dirid_ok;
	uint8_t dirid[RFS_DIRID_SIZE];
	uint8_t *key;                  /* secmem; NULL until loaded */
	uint8_t file_id[RFS_FILE_ID_SIZE];
	uint16_t hdr_flags;

	pthread_rwlock_t content;      /* readers vs writers of the file content */
	bool size_ok;                  /* under content (write) lock */
	uint64_t size;
	bool dirty;                    /* written since the last save (under content lock) */
	bool trunc_only;               /* ... by an open(O_TRUNC) alone, nothing written yet */
	unsigned nopen;                /* open file handles (under content lock) */
	unsigned nwriters;             /* ... of them open for writing (under content lock) */
	bool replaced;                 /* a restore put a new file in its place (content lock) */
	size_t nranges;                /* plaintext blocks written since the last save */
	struct rfs_range ranges[8];
	char restored_from[RFS_REV_HEX + 1];   /* "": next save is a plain save */
};

/* At most this many descriptors are cached unused (a quarter of the soft
** limit if that is lower): a hard limit of 4,096 serves any number of files. */
#define RFS_FD_CACHE_MAX 1024

struct rfs_itable {
	pthread_mutex_t mu;
	pthread_rwlock_t names;        /* rfs_inode_names_lock: a rename in flight */
	struct rfs_inode **buckets;
	size_t nbuckets, count;
	struct rfs_inode *lru_head, *lru_tail;   /* closable descriptors, most recent first */
	size_t nlru, nfds, fd_cap;              /* nfds: every cached descriptor */
	struct rfs_inode root;
};

/* root_fd: O_PATH descriptor of live/ (taken over). 0 or -errno. */
int rfs_inode_table_init(struct rfs_itable *t, int root_fd);
void rfs_inode_table_destroy(struct rfs_itable *t);

/* A descriptor (O_PATH | O_NOFOLLOW) of in's backing file, the caller's to use
** until rfs_inode_put_fd(t, in): cached, or opened again through the parent's
** descriptor and the backing name, and checked to be the same (st_dev, st_ino).
** While in use it is never closed, also after an unlink (so a file open for
** I/O stays reachable: hold one for as long as the handle). -ENOENT when in
** was unlinked and no descriptor was in use, or -errno. */
int rfs_inode_get_fd(struct rfs_itable *t, struct rfs_inode *in);
void rfs_inode_put_fd(struct rfs_itable *t, struct rfs_inode *in);

/* pfd is an O_PATH descriptor of in's file (a regular file the caller just made,
** checked against its stat; -1: none): cache it, unless one is cached, and take it
** over either way. Without one, the next use opens one. */
void rfs_inode_offer_fd(struct rfs_itable *t, struct rfs_inode *in, int pfd);

/* The descriptor of in's parent (put it with rfs_inode_put_fd(t, *parent))
** and in's backing name in it, for the calls that take no O_PATH descriptor
** (utimensat of a symbolic link). -ENOENT once unlinked. */
int rfs_inode_get_parent_fd(struct rfs_itable *t, struct rfs_inode *in,
                            struct rfs_inode **parent, char backing[NAME_MAX + 1]);

/* Held (for writing) from moving an entry on disk until rfs_inode_rename has
** moved it in the tree, so nothing reopens it meanwhile under its old name.
** No rfs_inode_get_fd may be called by the holder. */
void rfs_inode_names_lock(struct rfs_itable *t);
void rfs_inode_names_unlock(struct rfs_itable *t);

/* Descriptors the cache holds now (used or not). */
size_t rfs_inode_table_cached_fds(struct rfs_itable *t);

static inline struct rfs_inode *rfs_inode_of(struct rfs_itable *t, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &t->root : (struct rfs_inode *)(uintptr_t)ino;
}

static inline fuse_ino_t rfs_ino_of(struct rfs_itable *t, struct rfs_inode *in)
{
	return in == &t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

/* Find or make the inode of backing entry `backing` in parent, which the
** caller has just fstatat'ed into st; nlookup += 1, and its name becomes
** (parent, name, backing). 0 or -errno. */
int rfs_inode_lookup(struct rfs_itable *t, struct rfs_inode *parent, const char *name,
                     const char *backing, const struct stat *st, struct rfs_inode **out);

/* Drop n lookups; frees the inode (and parents) when nothing refers to it. */
void rfs_inode_forget(struct rfs_itable *t, struct rfs_inode *in, uint64_t n);

/* Whether in was unlinked (detached from the name tree). */
bool rfs_inode_unlinked(struct rfs_itable *t, struct rfs_inode *in);

/* Move an inode in the name tree (rename), or detach it (parent NULL: unlink). */
void rfs_inode_rename(struct rfs_itable *t, struct rfs_inode *in, struct rfs_inode *parent,
                      const char *name, const char *backing);

/* Find the inode of (dev, ino) without taking a lookup; NULL if unknown.
** Only valid while the caller holds the kernel's reference (inside an op). */
struct rfs_inode *rfs_inode_find(struct rfs_itable *t, dev_t dev, ino_t ino);

/* Path of in relative to live/, clear ("cases/a.txt") or backing (ciphertext
** names). malloc'd; NULL if detached or out of memory. "" for the root. */
char *rfs_inode_path(struct rfs_itable *t, struct rfs_inode *in, bool clear);

#endif
