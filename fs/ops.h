/*
** ops: the FUSE low-level operations over live/.
**
** Owns: the translation of every file system call into operations on
** ciphertext files and encrypted names in live/, and the points where a save
** becomes a version.
** Must never: let a plaintext name or byte reach live/, or answer with bytes
** that did not authenticate (those reads are EIO and one log line).
*/
#ifndef RECFS_FS_OPS_H
#define RECFS_FS_OPS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "fs/inode.h"
#include "fs/vault.h"

struct rfs_history;

struct rfs_fs {
	struct rfs_vault *v;
	struct rfs_itable it;
	struct rfs_history *history;   /* NULL: no versioning (read-only views) */
	struct fuse_session *se;
	bool read_only;
	bool as_root;                  /* daemon runs as root: give new files the caller's ids */
	double timeout;                /* entry and attribute cache, seconds */
};

extern const struct fuse_lowlevel_ops rfs_ops;

/* Prepare the file system state for v (borrowed). 0 or -errno. */
int rfs_fs_init(struct rfs_fs *fs, struct rfs_vault *v, bool read_only);
void rfs_fs_destroy(struct rfs_fs *fs);

/* Label the next content save of the known inode whose backing st_ino is ino
** as "restored from rev" (recfs restore on a mounted vault). 0 or -ENOENT. */
int rfs_fs_label_restore(struct rfs_fs *fs, ino_t ino, const char *rev);

#endif
