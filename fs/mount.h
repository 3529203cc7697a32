/*
** mount: run the FUSE daemon for an open vault.
**
** Owns: FUSE session setup (options, capabilities, multithreaded loop),
** daemonising, and the orderly shutdown that leaves live/ consistent.
** Must never: print a clear name anywhere but the mounting user's terminal or
** the daemon's own log (syslog at LOG_DAEMON, only when the user asked with -o debug).
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
};

/* Check the mount point: exists, is a directory, is not already a mount point.
** 0 or -ENOENT / -ENOTDIR / -EBUSY; err gets the reason. */
int rfs_mountpoint_check(const char *mountpoint, char *err, size_t errsz);

/* Mount v at mountpoint and serve until unmounted. Takes ownership of v.
** Returns 0 after a clean unmount, or -errno (err gets the reason) when
** mounting failed; in the background case the parent returns 0 once the
** mount is up. */
int rfs_mount_run(struct rfs_vault *v, const char *mountpoint, const struct rfs_mount_opts *o,
                  char *err, size_t errsz);

#endif
