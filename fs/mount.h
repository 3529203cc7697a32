/*
** mount: run the FUSE daemon for an open vault.
**
** Owns: FUSE session setup (options, capabilities, multithreaded loop),
** daemonising (the keys are mlocked again in the forked daemon), and the
** orderly shutdown that leaves live/ consistent.
** Must never: print a clear name anywhere but the mounting user's terminal or
** the daemon's own log (fs/log.h: in memory, and stderr with -f; never a file).
*/
#ifndef RECFS_FS_MOUNT_H
#define RECFS_FS_MOUNT_H

#include <stdbool.h>
#include "fs/vault.h"

struct rfs_mount_opts {
	bool foreground;             /* -f: stay in the foreground */
	bool debug;                  /* -d: FUSE debug output, implies foreground */
	bool read_only;              /* -o ro */
	const char *fuse_opts;       /* comma list passed to FUSE (allow_other, default_permissions,
	                                noatime, ...), may be NULL */
	unsigned threads;            /* max worker threads, 0 = default */
	unsigned max_read;           /* -o max_read=N (also in fuse_opts), 0 = FUSE's default */
	const char *author;          /* "Full Name <login>" or "Full Name": overrides passwd */
	const char *snapshot_dir;    /* serve this materialised history tree read-only instead
	                                of live/ (mount --at); it is removed at unmount */
	const char *snapshot_rev;    /* its revision: the mount's source reads VAULT@REV */
	bool accept_history_state;   /* --accept-history-state: take history as it is (see history.h) */
	unsigned idle_seconds;       /* -o idle=DURATION: unmount after this long unused (0: never) */
	bool demo_attribution;       /* recfs demo only: the control socket may set who saves
	                                and when (never offered by recfs mount) */
};

/* Check the mount point: exists, is a directory, is not already a mount point.
** 0 or -ENOENT / -ENOTDIR / -EBUSY; err gets the reason. */
int rfs_mount_check_mountpoint(const char *mountpoint, char *err, size_t errsz);

/* Raise this process's soft limit on open files to its hard limit, and
** leave the hard limit alone: each file open through the mount holds a
** descriptor in the daemon, but inodes the kernel merely knows do not. */
void rfs_mount_raise_fd_limit(void);

/* Mount v at mountpoint and serve until unmounted. Takes ownership of v.
** In the background case the process forks: the parent returns 0 once the
** mount is up (or -errno and err from the daemon when it could not start);
** the daemon returns when the vault is unmounted and history is flushed.
** In the foreground the call returns after the unmount. */
int rfs_mount_run(struct rfs_vault *v, const char *mountpoint, const struct rfs_mount_opts *o,
                  char *err, size_t errsz);

#endif
