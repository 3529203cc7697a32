/*
** save: the first step of a save's path. What the daemon does when a FUSE
** operation is a save (close after writing, fsync, truncate, a change to the
** namespace or to metadata): it tells history, which captures, queues,
** applies and commits (fs/history/).
**
** Owns: which blocks of a file were written since its last save, the rules
** for when a close or fsync is a save, and turning one save into the clear
** and sealed paths, metadata and id that rfs_history_record takes.
** Must never: merge two saves of one file into one version, lose a save
** silently (a failure is a log line naming the file), or touch a file's
** content.
*/
#ifndef RECFS_FS_SAVE_H
#define RECFS_FS_SAVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/history/history.h"
#include "fs/ops.h"

/* A clear path ("/cases/a.txt") and its backing path relative to live/. */
struct rfs_save_paths {
	char *clear;
	char *cipher;
	uint8_t dir[16];                  /* the dirid of the folder it is in (format 3 seals under it) */
};

void rfs_save_paths_free(struct rfs_save_paths *p);

/* ---- what changed, content lock held ---- */

/* Before in's content changes from byte off on (0: a truncate): history
** keeps what its last save captured. */
void rfs_save_before_write(struct rfs_fs *fs, struct rfs_inode *in, uint64_t off);

/* After a write reached in's backing file fd (rfs_save_mark_write done):
** history may pack the chunks it sealed for good while the file is written. */
void rfs_save_wrote(struct rfs_fs *fs, struct rfs_inode *in, int fd);

/* A write of n bytes at off reached the backing file. */
void rfs_save_mark_write(struct rfs_inode *in, uint64_t off, uint64_t n);

/* The size changed from old_size to new_size: the blocks whose seal changed. */
void rfs_save_mark_resize(struct rfs_inode *in, uint64_t old_size, uint64_t new_size);

/* ---- saves of content ---- */

/* One version of in's content with the blocks written since its last save
** (a restore's, when rfs_save_restored set it up). Content lock held. */
void rfs_save_content(struct rfs_fs *fs, struct rfs_inode *in, int fd);
/* The same, committed as who's (the daemon's own writes for a caller; NULL: the mount's). */
void rfs_save_content_as(struct rfs_fs *fs, struct rfs_inode *in, int fd, const struct rfs_who *who);

/* noatime, below: fd is readable and was opened O_NOATIME (history reads it as it is). */

/* close(2) through a handle (flush), which may not be the last one: shells
** dup2 and close the fd of "> file" before writing, so an open(O_TRUNC)
** alone waits for the writes. */
void rfs_save_at_flush(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime);

/* fsync: what was written is a version. */
void rfs_save_at_fsync(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime);

/* The release of a handle, already uncounted from in->nopen; content lock
** held. The last close saves; an earlier handle's late release does not save
** an open(O_TRUNC) made through another handle before its writes arrive. */
void rfs_save_at_release(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime);

/* A file about to be renamed or removed (backing in the folder dfd): its writes not saved
** yet are a version at its name now, so a rename moves the version live/ holds and a removal
** follows it. Content lock held (and before rfs_save_rename_begin). */
void rfs_save_unsaved_writes(struct rfs_fs *fs, struct rfs_inode *in, int dfd, const char *backing);

/* The whole of in, just rebuilt or revived by a restore: "restored from rev". */
void rfs_save_restored(struct rfs_fs *fs, struct rfs_inode *in, int fd, const char *rev);

/* ---- saves of the namespace and metadata ---- */

/* create, mkdir, symlink, mknod: the new entry name/backing in dir, with the
** id history follows it by (NULL for a symlink), fd open on it or -1. */
void rfs_save_created(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                      const char *backing, const uint8_t id[16], int fd);
/* create: the file made just now, fd open on it (readable, O_NOATIME), st its
** stat after its last change, bytes (nbytes) its whole ciphertext as written. */
void rfs_save_created_file(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                           const char *backing, const uint8_t id[16], int fd,
                           const struct stat *st, const uint8_t *bytes, size_t nbytes);
/* mkdir: the same for a folder just made, holding nothing but its .dirid (dirid): history
** builds its version from dirid and reads nothing (rfs_save.fresh_folder). */
void rfs_save_made_folder(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                          const char *backing, const uint8_t dirid[16]);
void rfs_save_created_as(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const uint8_t id[16], int fd,
                         const struct rfs_who *who);

/* An event on an existing inode: mode changed, property changed, a folder
** recorded whole again. */
void rfs_save_inode(struct rfs_fs *fs, struct rfs_inode *in, enum rfs_save_kind kind,
                    const char *property);
/* The same with st, in's backing stat taken after its last change (NULL: stat it). */
void rfs_save_inode_st(struct rfs_fs *fs, struct rfs_inode *in, enum rfs_save_kind kind,
                       const char *property, const struct stat *st);

/* unlink, rmdir: the entry name/backing in dir went; st is what it was. */
void rfs_save_deleted(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                      const char *backing, const struct stat *st, struct rfs_inode *victim);
/* The same, committed as who's (a disposal run for a caller; NULL: the mount's). */
void rfs_save_deleted_as(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const struct stat *st, struct rfs_inode *victim,
                         const struct rfs_who *who);

/* A rename's paths, its move and its record, between these two: no save takes
** its paths or its place in history's queue in between (fs/save.c). */
void rfs_save_rename_begin(struct rfs_fs *fs);
void rfs_save_rename_end(struct rfs_fs *fs);

/* rename from (dir, name) to (to_dir, newname): the paths, taken before the
** move. 0, or -ENOENT with nothing to free (no history, or a path is gone). */
int rfs_save_rename_paths(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                          const char *backing, struct rfs_inode *to_dir, const char *newname,
                          const char *to_backing, struct rfs_save_paths *from,
                          struct rfs_save_paths *to);

/* After the move: the rename (or exchange) of moved; frees from and to. */
void rfs_save_renamed(struct rfs_fs *fs, bool exchange, struct rfs_save_paths *from,
                      struct rfs_save_paths *to, struct rfs_inode *moved, int stat_fd,
                      const char *stat_name);

#endif
