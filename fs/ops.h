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
	bool demo_attribution;         /* see rfs_mount_opts */
	double timeout;                /* entry and attribute cache, seconds */
	char bdi[32];                  /* the mount's "major:minor" in /sys/class/bdi, or "" */
	int readahead_widened;         /* once, at the first open (after INIT) */
};

extern const struct fuse_lowlevel_ops rfs_ops;

/* Prepare the file system state for v (borrowed). 0 or -errno. */
int rfs_fs_init(struct rfs_fs *fs, struct rfs_vault *v, bool read_only);
void rfs_fs_destroy(struct rfs_fs *fs);

/* Read up to cap-1 bytes of the file at clear_path (from the vault's root)
** into buf, NUL-terminated: the vault's own settings, kept as an encrypted
** record. Returns the length, or -errno (-ENOENT when there is none). */
int rfs_fs_read_file(struct rfs_fs *fs, const char *clear_path, char *buf, size_t cap);

/* The vault's author names: lines "LOGIN Full Name" (# comments allowed). */
#define RFS_AUTHORS_PATH ".recfs/authors"

/* recfs restore on a mounted vault: write the content source had at rev as
** the newest version of target (clear paths from the mount root), making
** missing folders, with mode/uid/gid for what it creates; the kernel's caches
** are told. Recorded as "restored from rev". 0 or -errno. */
int rfs_fs_restore(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                   mode_t mode, uid_t uid, gid_t gid);

#endif
