/*
** live_restore: reaching a file by its clear path from outside a FUSE
** request, on the mounted vault: recfs restore through the daemon, and the
** vault's own settings files.
**
** Owns: the path walk from the mount's root (each folder on the way holds one
** lookup until the walk ends; fs/folder_restore.c walks with it too), and
** putting a version from history back into live/ whole: a file rebuilt beside
** itself and renamed over, or a deleted file revived with its old ciphertext,
** then recorded as one save, unless retention refuses it; the same
** whole-file write and the append for the daemon's own state files (fs/retention.c), each
** save attributed to the user it is made for.
** Must never: replace a file that a handle has open for writing (EBUSY), or
** report a restore before its content is durable.
*/
#ifndef RECFS_FS_LIVE_RESTORE_H
#define RECFS_FS_LIVE_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include "fs/ops.h"
#include "fs/progress.h"

/* recfs restore on a mounted vault: write the content source had at rev as
** the newest version of target (clear paths from the mount root), making
** missing folders, with mode/uid/gid for what it creates; the kernel's caches
** are told. Recorded as "restored from rev". progress (may be NULL) is told of the bytes
** read (authenticated) and then written, of twice the file's size. 0, -EPERM (retention
** refuses a change there: a locked or held record; logged), -EBUSY, -errno. */
int rfs_live_restore(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                     mode_t mode, uid_t uid, gid_t gid, const struct rfs_progress *progress);

/* The same for a file of a folder restore (fs/folder_restore.c): with mtime, the file also
** takes mode, owner and *mtime, as history kept them, before its save records it; fresh: a
** file absent now is made with a new id and key, not revived with its old ones (which a
** file elsewhere still uses: it was moved away with its folder). */
int rfs_live_restore_as(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                        mode_t mode, uid_t uid, gid_t gid, const struct timespec *mtime,
                        bool fresh, const struct rfs_progress *progress);

/* The folder of the last component of clear_path, walked from the mount's root (each folder
** on the way held, made when missing and make is set, as a restore makes them): dir with
** one lookup and its descriptor dirfd, last the last component. End it with
** rfs_live_walk_done, also after a failure. 0 or -errno. */
struct rfs_live_dir {
	struct rfs_inode *dir;
	int dirfd;
	const char *last;
	struct walk *walk;
};
int rfs_live_walk(struct rfs_fs *fs, const char *clear_path, bool make, uid_t uid, gid_t gid,
                  struct rfs_live_dir *out);
void rfs_live_walk_done(struct rfs_fs *fs, struct rfs_live_dir *d);

/* Read up to cap-1 bytes of the file at clear_path (from the vault's root)
** into buf, NUL-terminated: the vault's own settings, kept as an encrypted
** record. Returns the length, or -errno (-ENOENT when there is none). */
int rfs_live_read_file(struct rfs_fs *fs, const char *clear_path, char *buf, size_t cap);
/* The whole plaintext of the file at clear_path in *text (malloc'd to its size, NUL-terminated;
** the caller frees it), its length in *len. 0, -ENOENT, -EFBIG (longer than limit), -errno. */
int rfs_live_read_whole(struct rfs_fs *fs, const char *clear_path, size_t limit, char **text,
                        size_t *len);

/* Write len bytes as the whole new content of the file at clear_path (from the vault's root),
** making it and missing folders (the daemon's own ids) when absent; one save of the whole file
** (and one "created" for a new file), the kernel's caches told. The retention state
** (fs/retention.c) is written this way, never through FUSE. 0 or -errno (-EBUSY: a handle
** has it open for writing). */
int rfs_live_write_file(struct rfs_fs *fs, const char *clear_path, const char *data, size_t len,
                        const struct rfs_who *who);

/* Append len bytes to the existing file at clear_path: one write at its end through the cfile
** layer, made durable, then one save of the blocks it changed, committed as who's (NULL: the
** mount's). The journal of fs/retention.c grows this way. 0, -ENOENT (no such file), -EBUSY,
** -errno. */
int rfs_live_append_file(struct rfs_fs *fs, const char *clear_path, const char *data, size_t len,
                         const struct rfs_who *who);

#endif
