/*
** folder_restore: recfs restore of a folder: the whole folder as it stood at a revision, put
** back into live/ by the daemon (or, on an unmounted vault, by the same code over a vault
** opened for writing), one entry at a time through the per-file restore of
** fs/live_restore.c.
**
** Owns: the walk of the folder's tree at the revision and at the newest commit, what is
** restored and what is left (files that exist now but not then are left in place and
** named; a file whose content is the same gets no new version, only its mode and mtime
** back), the retention check of every entry before anything changes, the folders' own
** modes and mtimes (set last, deepest first), and the verb restore-folder.
** Must never: delete or overwrite something that is not what stood there (a folder where a
** file was, a file where a link was: left and named), change anything when retention refuses
** one entry, or hold more than one file's content in memory.
*/
#ifndef RECFS_FS_FOLDER_RESTORE_H
#define RECFS_FS_FOLDER_RESTORE_H

#include <stddef.h>

#include "fs/control.h"
#include "fs/ops.h"

/* What a folder restore says of one entry: RFS_FR_KEPT (exists now, not at the revision:
** left in place), RFS_FR_BUSY (a file open for writing: not restored, EBUSY), RFS_FR_LEFT
** (something of another type stands there now: left, not restored). path is the clear path
** from the mount's root. */
enum rfs_fr_note { RFS_FR_KEPT, RFS_FR_BUSY, RFS_FR_LEFT };
typedef void (*rfs_folder_restore_note_fn)(void *arg, enum rfs_fr_note what, const char *path);
/* A note's word on the control socket: kept, busy, left; and back (-1: none of them). */
const char *rfs_folder_restore_note_name(enum rfs_fr_note what);
int rfs_folder_restore_note_of(const char *name);

struct rfs_folder_restore_counts {
	size_t files;                     /* given their old content as a new version */
	size_t same;                      /* content as it was: no new version */
	size_t folders;                   /* made again */
	size_t links;                     /* symbolic links made again */
	size_t kept, busy, left;          /* as noted */
};

/* Put the folder source as it stood at rev back at target (clear paths from the mount's
** root; the same path unless it was renamed since): every file, subfolder and link, the
** files' content, modes and mtimes and the folders' modes and mtimes as history kept them.
** note (may be NULL) is told what is not restored. msg gets the reason of a failure, naming
** the path. 0 (see counts; busy files are not an error here), -EKEYREVOKED (a disposal
** destroyed the folder), -ENOTDIR (not a folder at rev), -EPERM (retention refuses an entry,
** before anything changed), -errno. */
int rfs_folder_restore(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                       rfs_folder_restore_note_fn note, void *arg,
                       struct rfs_folder_restore_counts *n, char *msg, size_t msgsz);

/* The same on an unmounted vault, whose history h is open for writing (the vault locked). */
int rfs_folder_restore_offline(struct rfs_vault *v, struct rfs_history *h, const char *rev,
                               const char *source, const char *target,
                               rfs_folder_restore_note_fn note, void *arg,
                               struct rfs_folder_restore_counts *n, char *msg, size_t msgsz);

/* restore-folder REV SOURCE TARGET -> note WHAT PATH (kept, busy, left) for each entry not
** restored, done FILES SAME FOLDERS LINKS KEPT BUSY LEFT, ok. */
extern const struct rfs_control_verb rfs_folder_restore_verbs[];

#endif
