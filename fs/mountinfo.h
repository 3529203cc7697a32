/*
** mountinfo: the mount table. A recfs mount has fstype fuse.recfs and the
** absolute vault path as its source.
** Owns: reading and unescaping /proc/self/mountinfo.
** Must never: stat a mount point (see mountinfo.c).
*/
#ifndef RECFS_FS_MOUNTINFO_H
#define RECFS_FS_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>

#define RFS_FSTYPE "fuse.recfs"

struct rfs_mount_entry {
	char mountpoint[PATH_MAX];   /* absolute, unescaped */
	char source[PATH_MAX];       /* for recfs: the absolute vault path */
	char fstype[64];
	char dev[32];                /* "major:minor", as in /sys/class/bdi */
};

/* Absolute form of path without touching the last component (a dead FUSE
** mount point answers ENOTCONN to stat). 0 or -errno. */
int rfs_mountinfo_abspath(const char *path, char out[PATH_MAX]);

/* The mount whose mount point is path, exactly (contains == false), or the
** innermost recfs mount holding path (contains == true).
** 0, -ENOENT (not mounted / not inside a recfs mount), -errno. */
int rfs_mountinfo_find(const char *path, bool contains, struct rfs_mount_entry *out);

#endif
