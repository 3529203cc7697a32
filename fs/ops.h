/*
** ops: the FUSE low-level operations over live/.
**
** Owns: the translation of every file system call into operations on
** ciphertext files and encrypted names in live/ (the handlers, by family, in
** ops_attr.c, ops_file.c, ops_dir.c and ops_xattr.c; what a save does is
** fs/save.c's), and the file system state they share.
** Must never: let a plaintext name or byte reach live/, or answer with bytes
** that did not authenticate (those reads are EIO and one log line).
*/
#ifndef RECFS_FS_OPS_H
#define RECFS_FS_OPS_H

#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/inode.h"
#include "fs/vault.h"

struct rfs_history;
struct rfs_retention;

struct rfs_fs {
	struct rfs_vault *v;
	struct rfs_itable it;
	struct rfs_history *history;   /* NULL: no versioning (read-only views) */
	struct rfs_retention *retention;   /* fs/retention.h; NULL on read-only views */
	struct fuse_session *se;
	bool read_only;
	bool as_root;                  /* daemon runs as root: give new files the caller's ids */
	bool demo_attribution;         /* see rfs_mount_opts */
	double timeout;                /* entry and attribute cache, seconds */
	unsigned max_read;             /* -o max_read=N, which INIT must repeat; 0: none given */
	char bdi[32];                  /* the mount's "major:minor" in /sys/class/bdi, or "" */
	int readahead_widened;         /* once, at the first open (after INIT) */
	atomic_bool used;              /* a request came since fs/idle.c last looked (fs_of sets it) */
	const char *mountpoint;        /* where it is mounted (the daemon's, for status), or NULL */
	int64_t mounted_at;            /* when (seconds since the epoch) */
	uid_t mounted_by;              /* the uid that mounted it */
	const char *mounted_login;     /* and its login (status; NULL on read-only mounts) */
	unsigned idle_seconds;         /* mount -o idle: unmounted after this long unused (0: never) */
	struct rfs_spares *spares;     /* folders made ahead for mkdir (fs/spares.h), or NULL */
	pthread_rwlock_t save_order;   /* fs/save.c: read by a save, written by a rename */
};

extern const struct fuse_lowlevel_ops rfs_ops;

/* Prepare the file system state for v (borrowed). 0 or -errno. */
int rfs_ops_init(struct rfs_fs *fs, struct rfs_vault *v, bool read_only);
void rfs_ops_destroy(struct rfs_fs *fs);

/* The mount's read hook: whether the request this thread reads next asks for setuid and
** setgid to be cleared (fs/mount.c; libfuse 3.14 does not pass the mark on). */
void rfs_ops_attr_note_kill(bool kill);

/* The mount's INIT hook: the kernel took FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6 and later),
** so it drops the cached pages a direct write replaces, and a new file's write-only
** creator may write past the page cache (rfs_ops_file_create). */
void rfs_ops_file_allow_uncached_creators(void);

/* The mount's read hook: where the data of the WRITE this thread reads next is, when not
** after its header in libfuse's buffer (fs/mount.c; NULL: there, as usual): laid out for
** rfs_cfile_write_slots, its offset a multiple of the block size; and what the handler
** calls once it is done with it, before it replies. */
void rfs_ops_file_note_data(void *data, void (*done)(void));

/* The vault's author names: lines "LOGIN Full Name" (# comments allowed). */
#define RFS_AUTHORS_PATH ".recfs/authors"

#endif
