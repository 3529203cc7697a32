/*
** inode: the daemon's table of FUSE inodes, keyed by the backing file's
** (st_dev, st_ino), each holding an O_PATH descriptor of its file in live/.
**
** Owns: lookup counts (FUSE's nlookup), the name tree (parent, clear name,
** backing name; used to give history its paths), lazily loaded per-inode
** secrets (directory id, content key) and the content lock.
** Must never: free an inode the kernel still knows, or a parent a child points at.
*/
#ifndef RECFS_FS_INODE_H
#define RECFS_FS_INODE_H

#include <fuse_lowlevel.h>
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
	int fd;                        /* O_PATH | O_NOFOLLOW */
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

struct rfs_itable {
	pthread_mutex_t mu;
	struct rfs_inode **buckets;
	size_t nbuckets, count;
	struct rfs_inode root;
};

/* root_fd: O_PATH descriptor of live/ (taken over). 0 or -errno. */
int rfs_itable_init(struct rfs_itable *t, int root_fd);
void rfs_itable_destroy(struct rfs_itable *t);

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
