/*
** ops_dir: the namespace and folder listings. mkdir, symlink, link (refused),
** unlink, rmdir, rename, and opendir, readdir(plus), releasedir, fsyncdir.
** Every change to the namespace is a save (fs/save.c), recorded before the
** reply. Folder ids (.dirid) are fs/dname.c's; mkdir moves a folder made ahead
** (fs/spares.h) into place when there is one.
** Must never: list a name that did not authenticate, or leave a folder
** whose names no longer open (a removal that fails puts its id back).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/names.h"
#include "fs/closer.h"
#include "fs/log.h"
#include "fs/ops_internal.h"
#include "fs/retention.h"
#include "fs/save.h"
#include "fs/spares.h"

/* Make the backing folder of a new folder with its .dirid: a spare moved into place
** (fs/spares.h: its key and id were made durable ahead, so nothing here waits on a sync),
** or, when there is none, made now. pst: the parent's, or NULL. 0 or -errno. */
static int new_backing_dir(struct rfs_fs *fs, int pfd, const char *backing,
                           const struct stat *pst, uint8_t dirid[RFS_DIRID_SIZE])
{
	bool setgid = pst && (pst->st_mode & S_ISGID);
	struct rfs_spare sp;
	int dfd, rc;

	if (rfs_spares_take(fs->spares, &sp) == 0) {
		/* In a setgid folder the new one takes the folder's group; a daemon not run as
		** root gives no owners, so a spare of another group is no use there. */
		if (setgid && !fs->as_root && sp.gid != pst->st_gid) {
			rfs_spares_give_back(fs->spares, &sp);
		} else if (renameat2(rfs_spares_dirfd(fs->spares), sp.name, pfd, backing,
		                     RENAME_NOREPLACE) == 0) {
			memcpy(dirid, sp.dirid, RFS_DIRID_SIZE);
			/* A spare's times are its making's; a new folder's are now (POSIX). */
			return utimensat(pfd, backing, NULL, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
		} else {
			rc = errno;
			if (rc == EINVAL || rc == EXDEV || rc == ENOSYS || rc == EOPNOTSUPP)
				rfs_spares_disable(fs->spares);
			if (rc != ENOENT)           /* a spare gone from the disk is not given back */
				rfs_spares_give_back(fs->spares, &sp);
			if (rc == EEXIST)
				return -EEXIST;
		}
	}
	if (mkdirat(pfd, backing, 0700) != 0)
		return -errno;
	dfd = openat(pfd, backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = rfs_ops_new_dirid(fs, dfd, dirid);
	close(dfd);
	return rc;
}

void rfs_ops_dir_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	if (rfs_retention_refuse_entry(req, parent, name, RFS_RET_CREATE)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL;
	struct rfs_sealed_name sn;
	int rc = rfs_ops_prepare_name(fs, req, parent, name, &dir, &sn);
	uint8_t dirid[RFS_DIRID_SIZE];
	int pfd = -1;
	struct stat pst;
	bool have_pst = false;

	if (rc == 0 && (pfd = inode_fd(fs, dir)) < 0)
		rc = pfd;
	if (rc == 0) {
		have_pst = fstatat(pfd, "", &pst, AT_EMPTY_PATH) == 0;
		rc = new_backing_dir(fs, pfd, sn.backing, have_pst ? &pst : NULL, dirid);
	}
	if (rc == 0) {
		/* As on ext4: a folder made in a setgid folder is setgid too. */
		if (have_pst && (pst.st_mode & S_ISGID))
			mode |= S_ISGID;
		if (fchmodat(pfd, sn.backing, mode & 07777, 0) != 0)
			rc = -errno;
	}
	if (pfd >= 0)
		inode_fd_done(fs, dir);
	rfs_ops_finish_new_entry(req, fs, dir, name, &sn, rc, false, dirid, -1);
}

void rfs_ops_dir_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	if (rfs_retention_refuse_entry(req, parent, name, RFS_RET_CREATE)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL;
	struct rfs_sealed_name sn;
	const struct rfs_folder_keys *fk = NULL;
	char text[PATH_MAX];
	int rc = rfs_ops_prepare_name(fs, req, parent, name, &dir, &sn);

	if (rc >= 0 && (rc = rfs_ops_folder_keys(fs, dir, &fk)) >= 0) {
		rc = rfs_name_target_seal(text, sizeof(text), link, fk);
		rfs_vault_folder_keys_put(fs->v, fk);
	}
	if (rc >= 0 && (rc = inode_fd(fs, dir)) >= 0) {
		int dfd = rc;

		rc = symlinkat(text, dfd, sn.backing) == 0 ? 0 : -errno;
		inode_fd_done(fs, dir);
	}
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	rfs_ops_finish_new_entry(req, fs, dir, name, &sn, 0, false, NULL, -1);
}

void rfs_ops_dir_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	rfs_ops_refuse_special(req, "hard links are");
}

/* After a failed removal of a folder whose id was taken out: put it back,
** so that the folder's names still open. */
static void put_back_dirid(int dfd, const uint8_t dirid[RFS_DIRID_SIZE])
{
	if (rfs_dname_write_dirid(dfd, dirid) < 0)
		rfs_log(LOG_ERR, "could not restore a folder id: run 'recfs fsck'");
}

/* Remove the backing folder parent/backing, which must be empty but for its .dirid. */
static int remove_dir(int parent_fd, const char *backing)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	int dfd = openat(parent_fd, backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (dfd < 0)
		return -errno;
	rc = rfs_dname_take_dirid(dfd, dirid);
	if (rc == 0 && unlinkat(parent_fd, backing, AT_REMOVEDIR) != 0) {
		rc = -errno;
		put_back_dirid(dfd, dirid);
	}
	close(dfd);
	return rc;
}

/* unlink and rmdir: the entry goes, with its long-name side file, and the
** inode leaves the name tree (it lives on while open). The entry is held
** open across its removal, so that the close that frees it (and waits for
** the disk's discard) is the closer's, after the reply (fs/closer.h). */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, bool folder)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = inode_of(req, parent), *victim = NULL;
	struct rfs_sealed_name sn;
	struct stat st;
	int rc = fs->read_only ? -EROFS : rfs_ops_seal_name(fs, dir, name, &sn), dfd = -1, held = -1;

	if (rc == 0 && (dfd = inode_fd(fs, dir)) < 0)
		rc = dfd;
	if (rc == 0 && (held = openat(dfd, sn.backing, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0 && fstat(held, &st) != 0)
		rc = -errno;
	if (rc == 0 && !folder && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (rc == 0 && folder && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	/* A save of the victim that has taken its path is recorded first; one after the
	** removal finds it detached. Else history would hold it again at its old name. Writes
	** to it not saved yet (it is open) are saved first: after the removal no close can. */
	if (rc == 0 && (victim = rfs_inode_find(&fs->it, st.st_dev, st.st_ino)) != NULL) {
		pthread_rwlock_wrlock(&victim->content);
		if (!folder)
			rfs_save_unsaved_writes(fs, victim, dfd, sn.backing);
	}
	if (rc == 0)
		rc = folder ? remove_dir(dfd, sn.backing)
		            : unlinkat(dfd, sn.backing, 0) == 0 ? 0 : -errno;
	if (rc == 0) {
		rfs_dname_remove_long(dfd, sn.backing);
		if (victim && victim->key)
			rfs_undo_drop(fs->v->undo, victim->file_id);
		rfs_save_deleted(fs, dir, name, sn.backing, &st, victim);
		if (victim)
			rfs_inode_rename(&fs->it, victim, NULL, NULL, NULL);
	}
	if (victim)
		pthread_rwlock_unlock(&victim->content);
	if (dfd >= 0)
		inode_fd_done(fs, dir);
	fuse_reply_err(req, -rc);
	rfs_closer_put(held);
}

void rfs_ops_dir_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (rfs_retention_refuse_entry(req, parent, name, RFS_RET_DELETE)) return;
	remove_entry(req, parent, name, false);
}

void rfs_ops_dir_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (rfs_retention_refuse_entry(req, parent, name, RFS_RET_DELETE)) return;
	remove_entry(req, parent, name, true);
}

/* Format 3: what a file sealed under its folder's keys (its xattrs, a link's
** target) must be sealed again under the keys of the folder it moves to. */
struct rekey {
	const struct rfs_folder_keys *from, *to;
	bool moved_file, target_file;    /* regular files whose xattrs were resealed */
};

/* After the move: drop the old folder's copies (done) or the new folder's (failed). */
static void rekey_end(struct rekey *k, int from_fd, const struct rfs_sealed_name *from, int to_fd,
                      const struct rfs_sealed_name *to, bool done)
{
	char p[64 + 256];

	if (!k->from || !k->to)
		return;
	if (k->moved_file) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", done ? to_fd : from_fd,
		         done ? to->backing : from->backing);
		rfs_ops_xattr_drop(p, done ? &k->from->entries : &k->to->entries);
	}
	if (k->target_file) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", done ? from_fd : to_fd,
		         done ? from->backing : to->backing);
		rfs_ops_xattr_drop(p, done ? &k->to->entries : &k->from->entries);
	}
}

/* Before a move (or exchange: other is the target's stat) between folders:
** each regular file's xattrs also sealed for its new folder. A symbolic
** link would need a new inode for its target: EXDEV, so mv copies it. */
static int rekey_start(struct rfs_fs *fs, struct rfs_inode *from_dir, struct rfs_inode *to_dir,
                       struct rekey *k, int from_fd, const struct rfs_sealed_name *from,
                       const struct stat *from_st, int to_fd, const struct rfs_sealed_name *to,
                       const struct stat *other)
{
	char p[64 + 256];
	int rc = 0;

	if (S_ISLNK(from_st->st_mode) || (other && S_ISLNK(other->st_mode)))
		return -EXDEV;
	k->moved_file = S_ISREG(from_st->st_mode);
	k->target_file = other && S_ISREG(other->st_mode);
	if (!k->moved_file && !k->target_file)
		return 0;
	rc = rfs_ops_folder_keys(fs, from_dir, &k->from);
	if (rc == 0)
		rc = rfs_ops_folder_keys(fs, to_dir, &k->to);
	if (rc == 0 && k->from == k->to)
		k->moved_file = k->target_file = false;   /* one folder's keys (two links to it) */
	if (rc == 0 && k->moved_file) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", from_fd, from->backing);
		rc = rfs_ops_xattr_reseal(p, &k->from->entries, &k->to->entries);
	}
	if (rc == 0 && k->target_file) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", to_fd, to->backing);
		rc = rfs_ops_xattr_reseal(p, &k->to->entries, &k->from->entries);
	}
	if (rc < 0 && k->from && k->to)
		rekey_end(k, from_fd, from, to_fd, to, false);
	return rc;
}

/* The files a rename moves or replaces (the moved one, and the one at the new name),
** content-locked for the whole rename, in address order; each with writes not saved yet is
** saved at its name first. No write comes between that save and the rename's record, so the
** version the rename moves is live/'s, its size and times in the log are its content's, and
** a file it replaces keeps what was written to it. */
struct moving {
	struct rfs_inode *in[2];
};

static struct rfs_inode *file_in_memory(struct rfs_fs *fs, const struct stat *st)
{
	return S_ISREG(st->st_mode) ? rfs_inode_find(&fs->it, st->st_dev, st->st_ino) : NULL;
}

static void moving_lock(struct rfs_fs *fs, struct moving *m, int from_fd, const char *from_backing,
                        const struct stat *from_st, int to_fd, const char *to_backing,
                        const struct stat *to_st)
{
	struct rfs_inode *a = file_in_memory(fs, from_st), *b = to_st ? file_in_memory(fs, to_st) : NULL;

	if (b == a)
		b = NULL;                    /* two names of one file */
	m->in[0] = a && b && b < a ? b : a;
	m->in[1] = m->in[0] == a ? b : a;
	for (int i = 0; i < 2; i++)
		if (m->in[i])
			pthread_rwlock_wrlock(&m->in[i]->content);
	if (a)
		rfs_save_unsaved_writes(fs, a, from_fd, from_backing);
	if (b)
		rfs_save_unsaved_writes(fs, b, to_fd, to_backing);
}

static void moving_unlock(struct moving *m)
{
	for (int i = 1; i >= 0; i--)
		if (m->in[i])
			pthread_rwlock_unlock(&m->in[i]->content);
}

void rfs_ops_dir_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                        const char *newname, unsigned int flags)
{
	if (rfs_retention_refuse_rename(req, parent, name, newparent, newname,
	                                flags & RENAME_EXCHANGE)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *from_dir = inode_of(req, parent), *to_dir = inode_of(req, newparent);
	struct rfs_inode *moved = NULL, *target = NULL;
	struct rfs_save_paths from_paths, to_paths;
	struct rfs_sealed_name from, to;
	struct stat from_st, to_st;
	bool exchange = flags & RENAME_EXCHANGE, have_target, same, have_paths;
	uint8_t target_dirid[RFS_DIRID_SIZE];
	struct rekey keys = { 0 };
	struct moving moving = { { NULL, NULL } };
	int rc = 0, from_fd = -1, to_fd = -1, tdfd = -1;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		rc = -EINVAL;
	else if (fs->read_only)
		rc = -EROFS;
	if (rc == 0)
		rc = rfs_ops_seal_name(fs, from_dir, name, &from);
	if (rc == 0)
		rc = rfs_ops_seal_name(fs, to_dir, newname, &to);
	/* Both folders' descriptors for the whole rename: none is opened under the names lock. */
	if (rc == 0 && (from_fd = inode_fd(fs, from_dir)) < 0)
		rc = from_fd;
	if (rc == 0 && (to_fd = inode_fd(fs, to_dir)) < 0)
		rc = to_fd;
	if (rc == 0 && fstatat(from_fd, from.backing, &from_st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	if (rc < 0)
		goto out;
	same = from_dir == to_dir && strcmp(from.backing, to.backing) == 0;
	have_target = fstatat(to_fd, to.backing, &to_st, AT_SYMLINK_NOFOLLOW) == 0;
	if (same)
		goto out;
	if (!exchange && (rc = rfs_dname_write_long(to_fd, &to)) < 0)
		goto out;
	/* An empty target folder still holds its .dirid: take it out of the way. */
	if (!exchange && !(flags & RENAME_NOREPLACE) && have_target && S_ISDIR(to_st.st_mode) &&
	    S_ISDIR(from_st.st_mode)) {
		tdfd = openat(to_fd, to.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = tdfd < 0 ? -errno : rfs_dname_take_dirid(tdfd, target_dirid);
		if (rc < 0)
			goto out;
	}
	moving_lock(fs, &moving, from_fd, from.backing, &from_st, to_fd, to.backing,
	            have_target ? &to_st : NULL);
	/* No save between here and the record: the xattrs resealed for the new folder and
	** the paths of everything below the moved entry change together. */
	rfs_save_rename_begin(fs);
	if (from_dir != to_dir && fs->v->format >= 3) {
		rc = rekey_start(fs, from_dir, to_dir, &keys, from_fd, &from, &from_st, to_fd, &to,
		                 exchange && have_target ? &to_st : NULL);
		if (rc < 0) {
			rfs_save_rename_end(fs);
			goto out;
		}
	}
	have_paths = rfs_save_rename_paths(fs, from_dir, name, from.backing, to_dir, newname,
	                                   to.backing, &from_paths, &to_paths) == 0;
	/* From the move on disk to the move in the tree, nothing reopens by name. */
	rfs_inode_names_lock(&fs->it);
	if (renameat2(from_fd, from.backing, to_fd, to.backing, flags) != 0) {
		rc = -errno;
		rfs_inode_names_unlock(&fs->it);
		if (have_paths) {
			rfs_save_paths_free(&from_paths);
			rfs_save_paths_free(&to_paths);
		}
		if (tdfd >= 0)
			put_back_dirid(tdfd, target_dirid);
		rekey_end(&keys, from_fd, &from, to_fd, &to, false);
		rfs_save_rename_end(fs);
		goto out;
	}
	moved = rfs_inode_find(&fs->it, from_st.st_dev, from_st.st_ino);
	if (have_target)
		target = rfs_inode_find(&fs->it, to_st.st_dev, to_st.st_ino);
	if (moved)
		rfs_inode_rename(&fs->it, moved, to_dir, newname, to.backing);
	if (target) {
		if (exchange)
			rfs_inode_rename(&fs->it, target, from_dir, name, from.backing);
		else
			rfs_inode_rename(&fs->it, target, NULL, NULL, NULL);
	}
	rfs_inode_names_unlock(&fs->it);
	rekey_end(&keys, from_fd, &from, to_fd, &to, true);
	if (!exchange)
		rfs_dname_remove_long(from_fd, from.backing);
	if (have_paths)
		rfs_save_renamed(fs, exchange, &from_paths, &to_paths, moved, to_fd, to.backing);
	rfs_save_rename_end(fs);
out:
	moving_unlock(&moving);
	rfs_vault_folder_keys_put(fs->v, keys.from);
	rfs_vault_folder_keys_put(fs->v, keys.to);
	if (tdfd >= 0)
		close(tdfd);
	if (to_fd >= 0)
		inode_fd_done(fs, to_dir);
	if (from_fd >= 0)
		inode_fd_done(fs, from_dir);
	fuse_reply_err(req, -rc);
}

struct rfs_dirh {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
};

void rfs_ops_dir_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	uint8_t dirid[RFS_DIRID_SIZE];
	struct rfs_dirh *d = calloc(1, sizeof(*d));
	int fd, rc = rfs_ops_dirid(fs, in, dirid);

	if (!d || rc < 0) {
		free(d);
		fuse_reply_err(req, d ? -rc : ENOMEM);
		return;
	}
	/* Like a file handle, a folder handle holds the inode's descriptor until
	** releasedir: a folder removed while open stays reachable. */
	if ((fd = inode_fd(fs, in)) >= 0) {
		int ifd = fd;

		fd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		errno = -fd;
		in = NULL;
	}
	d->dp = fd < 0 ? NULL : fdopendir(fd);
	if (!d->dp) {
		rc = errno;
		if (fd >= 0)
			close(fd);
		if (in)
			inode_fd_done(fs, in);
		free(d);
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                       struct fuse_file_info *fi, bool plus)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = inode_of(req, ino);
	struct rfs_dirh *d = (struct rfs_dirh *)(uintptr_t)fi->fh;
	const struct rfs_folder_keys *fk = NULL;
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int dfd = dirfd(d->dp), err = 0;

	if (!buf || rfs_ops_folder_keys(fs, dir, &fk) < 0) {
		free(buf);
		fuse_reply_err(req, buf ? EIO : ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		char clear[256];
		const char *shown;
		off_t next;
		size_t entsize;
		struct fuse_entry_param e;
		bool dot;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		next = d->entry->d_off;
		dot = !strcmp(d->entry->d_name, ".") || !strcmp(d->entry->d_name, "..");
		shown = d->entry->d_name;
		if (!dot && rfs_name_is_internal(d->entry->d_name))
			goto skip;
		if (!dot) {
			if (rfs_dname_open(fk, dfd, d->entry->d_name, clear) < 0) {
				rfs_ops_log_inode(fs, dir, "a name in this folder does not authenticate; run 'recfs fsck'");
				goto skip;
			}
			shown = clear;
		}
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->entry->d_ino;
		e.attr.st_mode = (mode_t)d->entry->d_type << 12;
		if (plus) {
			struct rfs_inode *child = NULL;

			if (!dot && rfs_ops_make_entry(fs, dir, dfd, clear, d->entry->d_name, &e, &child) < 0)
				goto skip;
			entsize = fuse_add_direntry_plus(req, p, rem, shown, &e, next);
			if (entsize > rem) {
				if (child)
					rfs_inode_forget(&fs->it, child, 1);
				break;
			}
		} else {
			entsize = fuse_add_direntry(req, p, rem, shown, &e.attr, next);
			if (entsize > rem)
				break;
		}
		p += entsize;
		rem -= entsize;
skip:
		d->entry = NULL;
		d->offset = next;
	}
	rfs_vault_folder_keys_put(fs->v, fk);
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void rfs_ops_dir_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                         struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, false);
}

void rfs_ops_dir_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                             struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, true);
}

void rfs_ops_dir_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_dirh *d = (struct rfs_dirh *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	inode_fd_done(fs_of(req), inode_of(req, ino));
	fuse_reply_err(req, 0);
}

void rfs_ops_dir_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct rfs_dirh *d = (struct rfs_dirh *)(uintptr_t)fi->fh;
	int fd = dirfd(d->dp);

	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno);
}
