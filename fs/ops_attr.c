/*
** ops_attr: lookups and attributes. lookup, forget, getattr, setattr (mode,
** owner, times; size through ops_file.c), readlink, statfs.
** The clearing of setuid and setgid that the kernel leaves to the daemon
** (FUSE_HANDLE_KILLPRIV_V2, fs/mount.c) on a write, truncate or chown.
** Must never: answer a symbolic link's target that did not authenticate, or
** make chown or utimens a version (DESIGN.md: chmod is one; so is a mode
** change that a write or a chown brings, as when the kernel sent it).
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "fs/closer.h"
#include "fs/ops_internal.h"
#include "fs/retention.h"
#include "fs/save.h"

/* Set by the mount's read hook for the request this worker handles next. */
static _Thread_local bool kill_suidgid;

void rfs_ops_attr_note_kill(bool kill)
{
	kill_suidgid = kill;
}

/* chmod through a descriptor that may be O_PATH (fchmod refuses those). */
static int chmod_fd(int fd, mode_t mode)
{
	char p[64];

	proc_path(p, fd);
	return chmod(p, mode) == 0 ? 0 : -errno;
}

/* Is the caller of req in group gid (its file system gid or a supplementary one)? */
static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The mode a file keeps after a write, truncate or chown that clears setuid and setgid:
** setuid always, setgid when group-executable or when the caller is not in the file's
** group and lacks CAP_FSETID (the kernel's setattr_should_drop_suidgid; without group
** execute, setgid marks mandatory locking, which the file's group keeps). fsetid: the
** caller may hold CAP_FSETID (the kernel does not say; taken for root). */
static mode_t without_suidgid(fuse_req_t req, const struct stat *st, bool fsetid)
{
	mode_t mode = st->st_mode & 07777 & ~(mode_t)S_ISUID;

	if ((mode & S_ISGID) &&
	    ((mode & S_IXGRP) || !(fsetid || caller_in_group(req, st->st_gid))))
		mode &= ~(mode_t)S_ISGID;
	return mode;
}

/* A mode change the daemon made on its own: a version, as a chmod is, and the kernel,
** which caches the mode for a day and checks it at exec, told to ask again. */
static void mode_changed(struct rfs_fs *fs, struct rfs_inode *in)
{
	rfs_save_inode(fs, in, RFS_SAVE_MODE, NULL);
	(void)fuse_lowlevel_notify_inval_inode(fs->se, rfs_ino_of(&fs->it, in), -1, 0);
}

/* The same; *fresh: st holds fd's stat, still current (nothing was changed). */
static int kill_suidgid_st(fuse_req_t req, struct rfs_fs *fs, struct rfs_inode *in, int fd,
                           struct stat *st, bool *fresh)
{
	mode_t mode;
	int rc;

	*fresh = false;
	if (!kill_suidgid || in->type != S_IFREG)
		return 0;
	kill_suidgid = false;
	if (fstat(fd, st) != 0)
		return -errno;
	mode = without_suidgid(req, st, false);   /* the kernel's mark: no CAP_FSETID */
	if (mode == (st->st_mode & 07777)) {
		*fresh = true;
		return 0;
	}
	if ((rc = chmod_fd(fd, mode)) == 0)
		mode_changed(fs, in);
	return rc;
}

int rfs_ops_attr_kill_suidgid(fuse_req_t req, struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	struct stat st;
	bool fresh;

	return kill_suidgid_st(req, fs, in, fd, &st, &fresh);
}

void rfs_ops_attr_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = inode_of(req, parent);
	struct fuse_entry_param e;
	struct rfs_sealed_name sn;
	int rc = rfs_ops_seal_name(fs, dir, name, &sn), dfd;

	if (rc == 0 && (rc = dfd = inode_fd(fs, dir)) >= 0) {
		rc = rfs_ops_make_entry(fs, dir, dfd, name, sn.backing, &e, NULL);
		inode_fd_done(fs, dir);
	}
	if (rc == -ENOENT) {
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->timeout;   /* we are the only writer: cache the miss */
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void rfs_ops_attr_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	rfs_inode_forget(&fs_of(req)->it, inode_of(req, ino), nlookup);
	fuse_reply_none(req);
}

void rfs_ops_attr_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		rfs_inode_forget(&fs_of(req)->it, inode_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

void rfs_ops_attr_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct stat st;
	int rc = rfs_ops_stat_inode(fs, inode_of(req, ino), &st);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static int set_times(struct rfs_fs *fs, struct rfs_inode *in, struct stat *attr, int to_set,
                     int fd)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	char p[64];
	int rc;

	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	if (fd >= 0)
		return futimens(fd, tv) == 0 ? 0 : -errno;
	if (in->type == S_IFLNK) {
		/* O_PATH descriptors do not take times: go through the parent. */
		struct rfs_inode *parent;
		char backing[NAME_MAX + 1];
		int pfd = rfs_inode_get_parent_fd(&fs->it, in, &parent, backing);

		if (pfd < 0)
			return pfd;
		rc = utimensat(pfd, backing, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
		inode_fd_done(fs, parent);
		return rc;
	}
	if ((fd = inode_fd(fs, in)) < 0)
		return fd;
	proc_path(p, fd);
	rc = utimensat(AT_FDCWD, p, tv, 0) == 0 ? 0 : -errno;
	inode_fd_done(fs, in);
	return rc;
}

/* A chown of a file clears setuid, and setgid as without_suidgid says (the kernel's
** chown_common). The backing file system did it already for most (the daemon's own
** fchown); this makes the rest. A mode that changed is a version, as when the kernel
** sent it with the chown: *to_set gains FUSE_SET_ATTR_MODE. */
static int chown_dropped(fuse_req_t req, int fd, const struct stat *before, int *to_set)
{
	mode_t want = without_suidgid(req, before, fuse_req_ctx(req)->uid == 0);
	struct stat now;

	if (want == (before->st_mode & 07777))
		return 0;
	*to_set |= FUSE_SET_ATTR_MODE;
	if (fstat(fd, &now) != 0)
		return -errno;
	if ((now.st_mode & 07777) == want)
		return 0;
	return chmod_fd(fd, want);
}

void rfs_ops_attr_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                          struct fuse_file_info *fi)
{
	if (rfs_retention_refuse_setattr(req, ino, to_set)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	struct stat st, kst;
	bool kfresh = false;          /* kst: the file's stat, still current (a chown's kill mark) */
	int rc = 0, ifd = -1;

	if (fs->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) ||
	     kill_suidgid) && (ifd = inode_fd(fs, in)) < 0)
		rc = ifd;
	if (rc == 0)       /* a truncate by a caller without CAP_FSETID */
		rc = kill_suidgid_st(req, fs, in, ifd, &kst, &kfresh);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE)) {
		if (in->type == S_IFLNK) {
			rc = -EOPNOTSUPP;
		} else if (!kfresh && fstatat(ifd, "", &kst, AT_EMPTY_PATH) != 0) {
			rc = -errno;
		} else if ((kst.st_mode & 07777) == (attr->st_mode & 07777)) {
			to_set &= ~FUSE_SET_ATTR_MODE;      /* no change, no version */
			kfresh = true;
		} else {
			rc = chmod_fd(ifd, attr->st_mode & 07777);
			kfresh = false;
		}
	}
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		bool file = in->type == S_IFREG && (kfresh || fstat(ifd, &kst) == 0);

		if (fchownat(ifd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
			rc = -errno;
		else if (file)
			rc = chown_dropped(req, ifd, &kst, &to_set);
	}
	if (ifd >= 0)
		inode_fd_done(fs, in);
	/* chmod is a version, and so is setting a given mtime (touch -d, cp -a, tar x), recorded
	** as a mode change after the times are set, so that a folder restore brings them back;
	** chown and utimens to now are not (DESIGN.md, issue 4), but a version records the owner
	** and times of its moment. */
	bool stamp = (to_set & FUSE_SET_ATTR_MTIME) && !(to_set & FUSE_SET_ATTR_MTIME_NOW);
	bool later = to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	                       FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW);
	/* A save that the reply's stat follows at once takes that stat: one fstatat, not two. */
	bool save_last = false;
	struct stat raw;

	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE) && !stamp) {
		if (later)
			rfs_save_inode(fs, in, RFS_SAVE_MODE, NULL);
		else
			save_last = true;
	}
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = rfs_ops_file_set_size(fs, in, attr->st_size, fi);
	/* CTIME comes only from the kernel writing back the times it caches; for
	** a file just unlinked (every rm does this) nobody will read them again. */
	if (rc == 0 && (to_set & FUSE_SET_ATTR_CTIME) && rfs_inode_unlinked(&fs->it, in))
		to_set &= ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME);
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	                          FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		rc = set_times(fs, in, attr, to_set,
		               fi && in->type == S_IFREG ? fh_of(fi)->fd : -1);
	if (rc == 0 && stamp && (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MODE)))
		save_last = true;
	if (rc == 0) {
		rc = rfs_ops_stat_inode_raw(fs, in, &raw, &st);
		if (save_last)     /* a stat that failed: the save takes its own, as before */
			rfs_save_inode_st(fs, in, RFS_SAVE_MODE, NULL, rc == 0 ? &raw : NULL);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

void rfs_ops_attr_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char clear[PATH_MAX];
	const struct rfs_folder_keys *fk = NULL;
	int fd, n = rfs_ops_parent_keys(fs, in, &fk);

	if (n == 0 && (n = fd = inode_fd(fs, in)) >= 0) {
		n = rfs_ops_open_target(fs, fk, fd, "", clear);
		inode_fd_done(fs, in);
	}
	rfs_vault_folder_keys_put(fs->v, fk);
	if (n < 0 && n != -EIO) {
		fuse_reply_err(req, -n);
		return;
	}
	if (n < 0) {
		rfs_ops_log_inode(fs, in, "symbolic link target does not authenticate");
		fuse_reply_err(req, EIO);
		return;
	}
	fuse_reply_readlink(req, clear);
}

void rfs_ops_attr_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	rfs_closer_drain();                 /* the space of files just removed counts as free */
	if (fstatvfs(fs_of(req)->v->live_fd, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}
