/*
** mounts: finding recfs mounts in the mount table, and unmounting them.
**
** Owns: reading /proc/self/mountinfo (a recfs mount has fstype fuse.recfs and
** the absolute vault path as its source), and the unmount that waits until
** the daemon has let go of VAULT/lock, so the next command can open the vault.
** Must never: unmount anything that is not a recfs mount, or go through a shell.
*/
#ifndef RECFS_TOOLS_MOUNTS_H
#define RECFS_TOOLS_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>

#define RFS_FSTYPE "fuse.recfs"

struct rfs_mount_entry {
	char mountpoint[PATH_MAX];   /* absolute, unescaped */
	char source[PATH_MAX];       /* for recfs: the absolute vault path */
	char fstype[64];
};

/* Absolute form of path without touching the last component (a dead FUSE
** mount point answers ENOTCONN to stat). 0 or -errno. */
int rfs_mount_abspath(const char *path, char out[PATH_MAX]);

/* The mount whose mount point is path, exactly (contains == false), or the
** innermost recfs mount holding path (contains == true).
** 0, -ENOENT (not mounted / not inside a recfs mount), -errno. */
int rfs_mount_find(const char *path, bool contains, struct rfs_mount_entry *out);

/* Unmount the recfs mount at mountpoint (fusermount3 -u, -z when lazy), then
** wait up to timeout_s seconds until VAULT/lock is free. Prints nothing;
** err gets one line. 0, -ENOENT (not mounted), -EINVAL (not a recfs mount),
** -EBUSY (fusermount3 failed), -ETIMEDOUT (daemon still running), -errno. */
int rfs_unmount_and_wait(const char *mountpoint, bool lazy, unsigned timeout_s,
                         char *err, size_t errsz);

/* True for the source of a `recfs mount --at` view: "VAULT@<40 hex>". */
bool rfs_source_is_snapshot(const char *source);

struct rfs_mount_opts;

/* Everything `recfs mount` does after parsing: check the mount point and the
** vault, read the passphrase (passfile or terminal), then unlock and mount.
** In the background case a child process unlocks and mounts while this one
** waits, so the caller carries on (and can print) once the mount is up.
** Every failure is printed. Returns CLI_OK, or CLI_FAIL with nothing mounted. */
int rfs_mount_start(const char *vault, const char *passfile, const char *mountpoint,
                    const struct rfs_mount_opts *o);

#endif
