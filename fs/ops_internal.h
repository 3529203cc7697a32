/*
** ops_internal: what the FUSE handlers share, inside fs/ only.
**
** The handlers live by operation family: ops_attr.c (lookups and
** attributes), ops_file.c (file content), ops_dir.c (the namespace and
** folder listings), ops_xattr.c (extended attributes); ops.c holds the
** table and the helpers declared here. save.c and live_restore.c use them too.
** Owns: the request's file system and inode, the descriptor an operation
** borrows, file handles, and the helpers for names, attributes and new
** entries.
** Must never: be included outside fs/, or hold state of its own.
*/
#ifndef RECFS_FS_OPS_INTERNAL_H
#define RECFS_FS_OPS_INTERNAL_H

#include <stdio.h>
#include <sys/stat.h>

#include "fs/dname.h"
#include "fs/ops.h"

#define XATTR_USER "user."
#define XATTR_USER_LEN 5

struct rfs_fh {
	int fd;
	bool writer;                   /* counted in the inode's nwriters */
	bool noatime;                  /* fd was opened O_NOATIME (history reads it as it is) */
};

/* Every handler finds its file system here, which also marks it as in use (fs/idle.h). */
static inline struct rfs_fs *fs_of(fuse_req_t req)
{
	struct rfs_fs *fs = fuse_req_userdata(req);

	if (!atomic_load_explicit(&fs->used, memory_order_relaxed))
		atomic_store_explicit(&fs->used, true, memory_order_relaxed);
	return fs;
}

static inline struct rfs_inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	return rfs_inode_of(&fs_of(req)->it, ino);
}

static inline struct rfs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct rfs_fh *)(uintptr_t)fi->fh;
}

/* The backing file's descriptor (O_PATH) for this operation; every
** successful inode_fd is matched by one inode_fd_done. */
static inline int inode_fd(struct rfs_fs *fs, struct rfs_inode *in)
{
	return rfs_inode_get_fd(&fs->it, in);
}

static inline void inode_fd_done(struct rfs_fs *fs, struct rfs_inode *in)
{
	rfs_inode_put_fd(&fs->it, in);
}

static inline void proc_path(char out[64], int fd)
{
	snprintf(out, 64, "/proc/self/fd/%d", fd);
}

/* ---- ops_file.c ---- */

/* A descriptor for I/O on in's backing file (read-only for an O_RDONLY flags, else
** read-write), or -1 and errno. *noatime: opened O_NOATIME. */
int rfs_ops_open_backing(struct rfs_fs *fs, struct rfs_inode *in, int flags, bool *noatime);

/* ---- ops.c: shared helpers ---- */

/* Log a problem with a file by its clear path (the daemon's own log only). */
void rfs_ops_log_inode(struct rfs_fs *fs, struct rfs_inode *in, const char *what);

/* A new folder id (rfs_vault_new_folder_id) written as dirfd's .dirid. 0 or -errno. */
int rfs_ops_new_dirid(struct rfs_fs *fs, int dirfd, uint8_t dirid[RFS_DIRID_SIZE]);

/* A folder's id; a bare folder (a mkdir cut short by a crash) gets a new one,
** a damaged .dirid the one history keeps. 0 or -errno. */
int rfs_ops_dirid(struct rfs_fs *fs, struct rfs_inode *dir, uint8_t out[RFS_DIRID_SIZE]);

/* The keys of the folder dir (put them with rfs_vault_folder_keys_put); a
** folder whose key was destroyed is -EIO, logged. 0 or -errno. */
int rfs_ops_folder_keys(struct rfs_fs *fs, struct rfs_inode *dir,
                        const struct rfs_folder_keys **fk);

/* The keys of the folder in is in (its parent). 0, -ENOENT once unlinked (format 3), -errno. */
int rfs_ops_parent_keys(struct rfs_fs *fs, struct rfs_inode *in,
                        const struct rfs_folder_keys **fk);

/* The clear target (capacity PATH_MAX) of the symlink dirfd/path in the
** folder fk. Its length, -EIO, or -errno. */
int rfs_ops_open_target(struct rfs_fs *fs, const struct rfs_folder_keys *fk, int dirfd,
                        const char *path, char clear[PATH_MAX]);

/* name sealed for the folder dir. 0 or -errno. */
int rfs_ops_seal_name(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                      struct rfs_sealed_name *sn);

/* The plaintext view of in's attributes. 0 or -errno. */
int rfs_ops_stat_inode(struct rfs_fs *fs, struct rfs_inode *in, struct stat *st);
/* The same, and raw (or NULL) gets the backing file's own stat. */
int rfs_ops_stat_inode_raw(struct rfs_fs *fs, struct rfs_inode *in, struct stat *raw,
                           struct stat *st);

/* fstatat + inode lookup for a backing entry; fills e (one lookup on *out). */
int rfs_ops_make_entry(struct rfs_fs *fs, struct rfs_inode *parent, int dirfd, const char *name,
                       const char *backing, struct fuse_entry_param *e, struct rfs_inode **out);

/* The same for the entry backing whose stat st (the backing file's) the
** caller took from the file itself. */
int rfs_ops_make_entry_of(struct rfs_fs *fs, struct rfs_inode *parent, const char *name,
                          const char *backing, const struct stat *st,
                          struct fuse_entry_param *e, struct rfs_inode **out);

/* New objects belong to the caller, as on a local disk, when the daemon is root. st (or
** NULL): the object's stat, so that one already the caller's is left as it is. 1 when it
** changed the owner, 0 when not, or -errno. */
int rfs_ops_give_to_caller(struct rfs_fs *fs, fuse_req_t req, struct rfs_inode *parent,
                           const char *backing, const struct stat *st);

/* An unnamed file in dirfd (O_TMPFILE, O_NOATIME) with exactly mode, to be linked in
** once filled; -EOPNOTSUPP where the backing file system has none. */
int rfs_ops_anon_file(int dirfd, mode_t mode);

/* Give the unnamed file fd the name dirfd/name (which must not exist). */
int rfs_ops_link_in(int fd, int dirfd, const char *name);

/* Put the unnamed file fd in place of dirfd/name, atomically. */
int rfs_ops_link_over(int fd, int dirfd, const char *name);

/* Before mkdir/symlink/create: seal name in parent, write its long-name side
** file. *dir is parent's inode. 0 or -errno (-EROFS on a read-only mount). */
int rfs_ops_prepare_name(struct rfs_fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
                         struct rfs_inode **dir, struct rfs_sealed_name *sn);

/* Finish mkdir/symlink/mknod whose step so far returned rc: owner (unless
** owned), entry, version, then the reply. id: mkdir's new folder id (not owned; the folder
** holds nothing else yet), create's and mknod's file id (owned), or NULL (symlink). */
void rfs_ops_finish_new_entry(fuse_req_t req, struct rfs_fs *fs, struct rfs_inode *dir,
                              const char *name, const struct rfs_sealed_name *sn, int rc,
                              bool owned, const uint8_t *id, int fd);

/* EPERM for what history cannot record (hard links, device nodes), logged once. */
void rfs_ops_refuse_special(fuse_req_t req, const char *what);

/* ---- ops_file.c: file content, used by setattr and online restore ---- */

/* Load the file's key and size once per inode; fd is open on the backing file.
** A 0-byte file opened read-only loads as empty with in->key still NULL. */
int rfs_ops_file_load(struct rfs_fs *fs, struct rfs_inode *in, int fd);

/* truncate(2): size through the handle fi, or a descriptor of its own. */
int rfs_ops_file_set_size(struct rfs_fs *fs, struct rfs_inode *in, off_t size,
                          struct fuse_file_info *fi);

/* ---- ops_attr.c: setuid and setgid (FUSE_HANDLE_KILLPRIV_V2) ---- */

/* If the kernel marked this request (a write, truncate or O_TRUNC open by a caller
** without CAP_FSETID): clear the file's setuid, and its setgid when group-executable
** or the caller is not in its group, through fd (any descriptor of it); a version,
** and the kernel's cached mode dropped. 0 or -errno. */
int rfs_ops_attr_kill_suidgid(fuse_req_t req, struct rfs_fs *fs, struct rfs_inode *in, int fd);

/* ---- ops_xattr.c: a file that moves to another folder (format 3) ---- */

/* Add each user.* attribute of the file at path that opens under from, sealed
** again under to (before the move). 0 or -errno (those added stay: drop them). */
int rfs_ops_xattr_reseal(const char *path, const struct rfs_xattr_keys *from,
                         const struct rfs_xattr_keys *to);
/* Remove the user.* attributes of path that open under keys (after the move:
** the old folder's; after a failed move: the new folder's). */
void rfs_ops_xattr_drop(const char *path, const struct rfs_xattr_keys *keys);

/* ---- the handlers, for the table in ops.c ---- */

void rfs_ops_attr_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_ops_attr_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void rfs_ops_attr_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void rfs_ops_attr_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_ops_attr_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                          struct fuse_file_info *fi);
void rfs_ops_attr_readlink(fuse_req_t req, fuse_ino_t ino);
void rfs_ops_attr_statfs(fuse_req_t req, fuse_ino_t ino);

void rfs_ops_file_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                         struct fuse_file_info *fi);
void rfs_ops_file_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                        dev_t rdev);
void rfs_ops_file_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_ops_file_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi);
void rfs_ops_file_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                        struct fuse_file_info *fi);
void rfs_ops_file_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_ops_file_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_ops_file_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

void rfs_ops_dir_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void rfs_ops_dir_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void rfs_ops_dir_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void rfs_ops_dir_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_ops_dir_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_ops_dir_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                        const char *newname, unsigned int flags);
void rfs_ops_dir_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_ops_dir_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                         struct fuse_file_info *fi);
void rfs_ops_dir_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                             struct fuse_file_info *fi);
void rfs_ops_dir_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_ops_dir_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                          struct fuse_file_info *fi);

void rfs_ops_xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                       size_t size, int flags);
void rfs_ops_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void rfs_ops_xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size);
void rfs_ops_xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
