/*
** live_restore: see live_restore.h. Restore on a mounted vault: a version
** from history written into live/ by the daemon, through its inode table,
** so that the kernel's caches stay honest and the restore is a save. (The
** offline restore, with no daemon, is fs/history/restore.c.)
*/
#include "fs/live_restore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/io.h"
#include "crypto/secmem.h"
#include "fs/cfile.h"
#include "fs/faultpoint.h"
#include "fs/history/history.h"
#include "fs/log.h"
#include "fs/ops_internal.h"
#include "fs/retention.h"
#include "fs/save.h"

/* Folder name in dir, made (with uid/gid, recorded as created) when missing
** and make is set; *child gets one lookup. */
static int enter_dir_at(struct rfs_fs *fs, struct rfs_inode *dir, int pfd, const char *name,
                        bool make, uid_t uid, gid_t gid, struct rfs_inode **child)
{
	struct rfs_sealed_name sn;
	struct stat st;
	int rc = rfs_ops_seal_name(fs, dir, name, &sn);

	if (rc < 0)
		return rc;
	if (fstatat(pfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		uint8_t dirid[RFS_DIRID_SIZE];
		int dfd = -1;

		if (errno != ENOENT || !make)
			return -errno;
		rc = rfs_dname_write_long(pfd, &sn);
		if (rc == 0 && mkdirat(pfd, sn.backing, 0755) != 0)
			rc = -errno;
		if (rc == 0 && (dfd = openat(pfd, sn.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			rc = -errno;
		if (rc == 0)
			rc = rfs_ops_new_dirid(fs, dfd, dirid);
		if (dfd >= 0)
			close(dfd);
		if (rc == 0 && fs->as_root && fchownat(pfd, sn.backing, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
		if (rc < 0)
			return rc;
		rfs_save_created(fs, dir, name, sn.backing, dirid, -1);
		(void)fuse_lowlevel_notify_inval_entry(fs->se, rfs_ino_of(&fs->it, dir), name,
		                                       strlen(name));
		if (fstatat(pfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return rfs_inode_lookup(&fs->it, dir, name, sn.backing, &st, child);
}

static int enter_dir(struct rfs_fs *fs, struct rfs_inode *dir, const char *name, bool make,
                     uid_t uid, gid_t gid, struct rfs_inode **child)
{
	int pfd = inode_fd(fs, dir), rc;

	if (pfd < 0)
		return pfd;
	rc = enter_dir_at(fs, dir, pfd, name, make, uid, gid, child);
	inode_fd_done(fs, dir);
	return rc;
}

/* A clear path walked from the root: the folders on the way each hold one
** lookup (walk_end drops them, also after a failed walk; start from a zeroed
** struct); the last component is left to the caller. */
struct walk {
	struct rfs_inode *held[PATH_MAX / 2];
	size_t nheld;
	struct rfs_inode *dir;             /* the folder of the last component */
	int dirfd;                         /* its descriptor, held while fd_held is set */
	struct rfs_inode *fd_held;
	const char *last;
	char *path;
};

static int walk_to_last(struct rfs_fs *fs, const char *clear_path, bool make, uid_t uid,
                        gid_t gid, struct walk *w)
{
	char *comp, *next, *save = NULL;
	int rc;

	w->nheld = 0;
	w->dir = &fs->it.root;
	w->last = NULL;
	w->path = strdup(clear_path);
	if (!w->path)
		return -ENOMEM;
	comp = strtok_r(w->path, "/", &save);
	if (!comp)
		return -EISDIR;
	for (; (next = strtok_r(NULL, "/", &save)) != NULL; comp = next) {
		if (w->nheld == sizeof(w->held) / sizeof(w->held[0]))
			return -ENAMETOOLONG;
		rc = enter_dir(fs, w->dir, comp, make, uid, gid, &w->held[w->nheld]);
		if (rc < 0)
			return rc;
		w->dir = w->held[w->nheld++];
	}
	if ((w->dirfd = inode_fd(fs, w->dir)) < 0)
		return w->dirfd;
	w->fd_held = w->dir;
	w->last = comp;
	return 0;
}

static void walk_end(struct rfs_fs *fs, struct walk *w)
{
	if (w->fd_held)
		inode_fd_done(fs, w->fd_held);
	while (w->nheld > 0)
		rfs_inode_forget(&fs->it, w->held[--w->nheld], 1);
	free(w->path);
}

/* Copy the sealed user.* attributes of one backing file to another. */
static void copy_xattrs(int from, int to)
{
	char list[4096], val[65536 + RFS_BLOCK_OVERHEAD], *q;
	ssize_t n = flistxattr(from, list, sizeof(list));

	for (q = list; n > 0 && q < list + n; q += strlen(q) + 1) {
		ssize_t vlen = strncmp(q, XATTR_USER, XATTR_USER_LEN) ? -1 : fgetxattr(from, q, val, sizeof(val));

		if (vlen >= 0)
			(void)fsetxattr(to, q, val, (size_t)vlen, 0);
	}
}

/* Rebuild an existing file beside itself with the content of src (size
** bytes), same id and key, then rename it over the original: the kernel
** sees a new inode, so no stale size or page survives. Returns the new fd. */
static int rebuild_file(struct rfs_fs *fs, int dirfd, const char *backing, const struct stat *st,
                        int src, uint64_t size, const struct rfs_progress *progress)
{
	uint8_t *key = rfs_secmem_key_alloc(), *buf = malloc(1u << 20);
	struct rfs_cfile cf = { .key = key };
	const char *why = NULL;
	int old = openat(dirfd, backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int fd = -1, rc = key && buf ? 0 : -ENOMEM;
	uint64_t off = 0;

	if (rc == 0 && old < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_cfile_load(fs->v->ks, old, key, cf.file_id, &cf.hdr_flags, &why);
	bool fresh = rc == -ENODATA;    /* 0 bytes: no key yet, make one */
	if (fresh)
		rc = 0;
	if (rc == 0 && (fd = rfs_ops_anon_file(dirfd, st->st_mode)) < 0)
		rc = fd;
	if (rc == 0)
		rc = fresh ? rfs_cfile_init(fs->v->ks, fd, key, cf.file_id)
		           : rfs_cfile_init_as(fd, key, cf.file_id);
	cf.fd = fd;
	cf.hdr_flags = 0;
	cf.size = 0;
	while (rc == 0 && off < size) {
		ssize_t n = pread(src, buf, 1u << 20, (off_t)off);
		ssize_t w = n <= 0 ? (n == 0 ? -EIO : -errno) : rfs_cfile_write(&cf, buf, (size_t)n, off);

		if (w < 0)
			rc = (int)w;
		else
			off += (uint64_t)w;
		rfs_progress_note(progress, "", 0, size + off, 0, 2 * size);
	}
	if (rc == 0 && fs->as_root && fchown(fd, st->st_uid, st->st_gid) < 0)
		rc = -errno;
	if (rc == 0) {
		copy_xattrs(old, fd);
		/* Restore reports success only for content a power cut keeps. */
		rc = fdatasync(fd) == 0 ? rfs_ops_link_over(fd, dirfd, backing) : -errno;
		if (rc == 0)
			rc = rfs_io_fsync_dir(dirfd, ".");
	}
	if (old >= 0)
		close(old);
	if (rc < 0 && fd >= 0)
		close(fd);
	rfs_secmem_key_free(key);
	free(buf);
	return rc < 0 ? rc : fd;
}

/* Bring a deleted file back as itself: its old ciphertext, same id and key. */
static int revive_file(struct rfs_fs *fs, int dirfd, const struct rfs_sealed_name *sn, mode_t mode,
                       uid_t uid, gid_t gid, const char *rev, const char *source)
{
	int fd = rfs_ops_anon_file(dirfd, mode);
	int rc = fd < 0 ? fd : rfs_dname_write_long(dirfd, sn);

	if (rc == 0)
		rc = rfs_history_read_cipher(fs->history, rev, source, fd);
	if (rc == 0 && fs->as_root && fchown(fd, uid, gid) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fdatasync(fd) == 0 ? rfs_ops_link_in(fd, dirfd, sn->backing) : -errno;
	if (rc == 0)
		rc = rfs_io_fsync_dir(dirfd, ".");
	if (rc < 0 && fd >= 0)
		close(fd);
	return rc < 0 ? rc : fd;
}

/* Lock old's content for its replacement by a restore, once no handle has it
** open for writing (a write through one would land in the replaced file and
** be lost). The kernel sends a release a little after close(2): wait up to a
** second for it. 0 with the content lock held, or -EBUSY. */
static int lock_unwritten(struct rfs_inode *old)
{
	for (int tries = 0;; tries++) {
		pthread_rwlock_wrlock(&old->content);
		if (old->nwriters == 0)
			return 0;
		pthread_rwlock_unlock(&old->content);
		if (tries == 100)
			return -EBUSY;
		usleep(10 * 1000);
	}
}

/* Replace the existing file sn in w->dir (stat st) with src; the old inode,
** when the kernel knows it, is marked replaced under its lock, so no writer
** can open it from now on. The new fd, or -errno. */
static int replace_file(struct rfs_fs *fs, struct walk *w, const struct rfs_sealed_name *sn,
                        const struct stat *st, int src, uint64_t size,
                        const struct rfs_progress *progress)
{
	struct rfs_inode *old = NULL;
	int fd, rc;

	if (!S_ISREG(st->st_mode))
		return S_ISDIR(st->st_mode) ? -EISDIR : -EEXIST;
	/* A lookup of our own keeps old alive while we hold it (we are not inside an op). */
	rc = rfs_inode_lookup(&fs->it, w->dir, w->last, sn->backing, st, &old);
	if (rc < 0)
		return rc;
	fd = rc = lock_unwritten(old);
	if (rc == 0) {
		fd = rebuild_file(fs, w->dirfd, sn->backing, st, src, size, progress);
		old->replaced = fd >= 0;
		pthread_rwlock_unlock(&old->content);
	}
	if (fd >= 0)
		rfs_inode_rename(&fs->it, old, NULL, NULL, NULL);   /* replaced */
	rfs_inode_forget(&fs->it, old, 1);
	return fd;
}

/* The file fd, just put at w->last: one save of all of it, "restored from rev" when rev is
** set. 0 or -errno. */
static int save_whole(struct rfs_fs *fs, struct walk *w, const struct rfs_sealed_name *sn, int fd,
                      const char *rev, const struct rfs_who *who)
{
	struct rfs_inode *in = NULL;
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? 0 : -errno;

	if (rc == 0)
		rc = rfs_inode_lookup(&fs->it, w->dir, w->last, sn->backing, &st, &in);
	if (rc < 0)
		return rc;
	rc = rfs_ops_file_load(fs, in, fd);
	if (rc == 0 && rev) {
		rfs_save_restored(fs, in, fd, rev);
	} else if (rc == 0) {
		pthread_rwlock_wrlock(&in->content);
		in->dirty = true;
		in->nranges = 0;             /* the whole file */
		rfs_save_content_as(fs, in, fd, who);
		pthread_rwlock_unlock(&in->content);
	}
	rfs_inode_forget(&fs->it, in, 1);
	return rc;
}

/* Close what a walk to one file held; returns rc. */
static int walk_done(struct rfs_fs *fs, struct walk *w, int fd, int src, int rc)
{
	if (fd >= 0)
		close(fd);
	if (src >= 0)
		close(src);
	if (w)
		walk_end(fs, w);
	free(w);
	return rc;
}

/* The plaintext read from history into the memfd that a restore writes back from. */
struct restore_read {
	int fd;
	const struct rfs_progress *progress;
	uint64_t size, done;
};

static int put_read(void *arg, const void *buf, size_t len)
{
	struct restore_read *r = arg;

	r->done += len;
	rfs_progress_note(r->progress, "", 0, r->done, 0, 2 * r->size);
	return rfs_io_write_all(r->fd, buf, len);
}

int rfs_live_restore(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                     mode_t mode, uid_t uid, gid_t gid, const struct rfs_progress *progress)
{
	return rfs_live_restore_as(fs, rev, source, target, mode, uid, gid, NULL, false, progress);
}

/* A folder restore's file takes the mode, owner and mtime history kept, before its save
** records them. */
static int set_kept_attrs(struct rfs_fs *fs, int fd, mode_t mode, uid_t uid, gid_t gid,
                          const struct timespec *mtime)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, *mtime };

	if ((fs->as_root && fchown(fd, uid, gid) != 0) || fchmod(fd, mode & 07777) != 0 ||
	    futimens(fd, tv) != 0)
		return -errno;
	return 0;
}

static int create_empty(struct rfs_fs *fs, struct walk *w, const struct rfs_sealed_name *sn,
                        const struct rfs_who *who);

/* The file sn, absent from w->dir, made anew (a new id and key) and given src's content. */
static int revive_fresh(struct rfs_fs *fs, struct walk *w, const struct rfs_sealed_name *sn,
                        int src, uint64_t size)
{
	struct stat st;
	int fd = create_empty(fs, w, sn, NULL);

	if (fd < 0)
		return fd;
	close(fd);
	if (fstatat(w->dirfd, sn->backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return replace_file(fs, w, sn, &st, src, size, NULL);
}

int rfs_live_restore_as(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                        mode_t mode, uid_t uid, gid_t gid, const struct timespec *mtime,
                        bool fresh, const struct rfs_progress *progress)
{
	struct rfs_sealed_name sn;
	struct walk *w = calloc(1, sizeof(*w));
	struct restore_read r = { -1, progress, 0, 0 };
	struct stat st;
	struct rfs_xattr_set xa = { 0 };
	uint8_t dirid[RFS_DIRID_SIZE];
	char rule[512];
	int src = -1, fd = -1, rc = 0;

	if (!fs->history || !w)
		rc = fs->history ? -ENOMEM : -EROFS;
	/* What retention refuses through the mount it refuses here: a locked or held record. */
	if (rc == 0 && (rc = rfs_retention_check_path(fs->retention, target, true, RFS_RET_WRITE,
	                                              rule, sizeof(rule))) < 0)
		rfs_log(LOG_NOTICE, "refused (EPERM) restore of %s: %s", target, rule);
	if (rc == 0 && (src = memfd_create("recfs-restore", MFD_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0 && rfs_progress_watched(progress))
		(void)rfs_history_plain_size(fs->history, rev, source, &r.size);
	r.fd = src;
	if (rc == 0)
		rc = rfs_history_read_plain(fs->history, rev, source, put_read, &r);
	if (rc == 0)    /* its user.* attributes replace the file's (fs/history/xattrs.c) */
		rc = rfs_history_xattrs(fs->history, rev, source, &xa);
	if (rc == 0 && fstat(src, &st) != 0)
		rc = -errno;
	if (rc == 0)
		rc = walk_to_last(fs, target, true, uid, gid, w);
	if (rc == 0)
		rc = rfs_ops_seal_name(fs, w->dir, w->last, &sn);
	if (rc == 0) {
		uint64_t size = (uint64_t)st.st_size;

		if (fstatat(w->dirfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) == 0)
			fd = replace_file(fs, w, &sn, &st, src, size, progress);
		else if (fresh)
			fd = revive_fresh(fs, w, &sn, src, size);
		else
			fd = revive_file(fs, w->dirfd, &sn, mode, uid, gid, rev, source);
		rfs_progress_note(progress, "", 0, 2 * size, 0, 2 * size);
		RFS_FAULT_POINT("restore_linked", fs->v->dirfd);
		rc = fd < 0 ? fd : 0;
		if (rc == 0 && (rc = rfs_ops_dirid(fs, w->dir, dirid)) == 0)
			rc = rfs_history_xattrs_apply(fs->v, fd, false, dirid, &xa);
		/* The kernel looks the name up again and finds the new file. */
		(void)fuse_lowlevel_notify_inval_entry(fs->se, rfs_ino_of(&fs->it, w->dir), w->last,
		                                       strlen(w->last));
		if (rc == 0 && mtime)
			rc = set_kept_attrs(fs, fd, mode, uid, gid, mtime);
		if (rc == 0)
			rc = save_whole(fs, w, &sn, fd, rev, NULL);
	}
	rfs_retention_live_changed(fs->retention);   /* it may have brought a record back */
	rfs_history_xattrs_free(&xa);
	return walk_done(fs, w, fd, src, rc);
}

int rfs_live_walk(struct rfs_fs *fs, const char *clear_path, bool make, uid_t uid, gid_t gid,
                  struct rfs_live_dir *out)
{
	struct walk *w = calloc(1, sizeof(*w));
	int rc = w ? walk_to_last(fs, clear_path, make, uid, gid, w) : -ENOMEM;

	out->walk = w;
	if (rc < 0) {
		rfs_live_walk_done(fs, out);
		return rc;
	}
	out->dir = w->dir;
	out->dirfd = w->dirfd;
	out->last = w->last;
	return 0;
}

void rfs_live_walk_done(struct rfs_fs *fs, struct rfs_live_dir *d)
{
	if (d->walk)
		walk_end(fs, d->walk);
	free(d->walk);
	d->walk = NULL;
}

/* Walk to the existing regular file at clear_path: its sealed name and stat. 0 or -errno. */
static int walk_to_file(struct rfs_fs *fs, const char *clear_path, struct walk *w,
                        struct rfs_sealed_name *sn, struct stat *st)
{
	int rc = walk_to_last(fs, clear_path, false, 0, 0, w);

	if (rc == 0)
		rc = rfs_ops_seal_name(fs, w->dir, w->last, sn);
	if (rc == 0 && fstatat(w->dirfd, sn->backing, st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	if (rc == 0 && !S_ISREG(st->st_mode))
		rc = -EINVAL;
	return rc;
}

/* Read the plaintext of clear_path: into buf (up to cap - 1 bytes), or, with whole, into a
** buffer of its exact size allocated here (-EFBIG past limit bytes). NUL-terminated. */
static ssize_t read_plain(struct rfs_fs *fs, const char *clear_path, char *buf, size_t cap,
                          char **whole, size_t limit)
{
	struct rfs_sealed_name sn;
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	ssize_t n = 0;
	int rc = w ? walk_to_file(fs, clear_path, w, &sn, &st) : -ENOMEM;

	if (rc == 0) {
		uint8_t *key = rfs_secmem_key_alloc();
		struct rfs_cfile cf = { .key = key };
		const char *why;

		cf.fd = openat(w->dirfd, sn.backing, O_RDONLY | O_CLOEXEC | O_NOATIME);
		rc = !key ? -ENOMEM : cf.fd < 0 ? -errno : 0;
		if (rc == 0)
			rc = rfs_cfile_load(fs->v->ks, cf.fd, key, cf.file_id, &cf.hdr_flags, &why);
		if (rc == -ENODATA)
			rc = 0;              /* 0 bytes: empty, size 0, nothing read */
		else if (rc == 0)
			rc = rfs_cfile_stat_size(cf.fd, &cf.size);
		if (rc == 0 && whole) {
			cap = (size_t)cf.size + 1;
			rc = cf.size > limit ? -EFBIG : (buf = *whole = malloc(cap)) ? 0 : -ENOMEM;
		}
		while (rc == 0 && (size_t)n < cap - 1) {   /* a read gives at most its scratch buffer */
			const uint8_t *clear;
			ssize_t got = rfs_cfile_read(&cf, cap - 1 - (size_t)n, (uint64_t)n, &clear);

			if (got < 0)
				rc = (int)got;
			if (got <= 0)
				break;
			memcpy(buf + n, clear, (size_t)got);
			n += got;
		}
		if (rc == 0)
			buf[n] = '\0';
		if (cf.fd >= 0)
			close(cf.fd);
		rfs_secmem_key_free(key);
	}
	if (w)
		walk_end(fs, w);
	free(w);
	if (rc < 0 && whole && buf) {
		free(buf);
		*whole = NULL;
	}
	return rc < 0 ? rc : n;
}

int rfs_live_read_file(struct rfs_fs *fs, const char *clear_path, char *buf, size_t cap)
{
	return (int)read_plain(fs, clear_path, buf, cap, NULL, 0);
}

int rfs_live_read_whole(struct rfs_fs *fs, const char *clear_path, size_t limit, char **text,
                        size_t *len)
{
	ssize_t n = read_plain(fs, clear_path, NULL, 0, text, limit);

	if (n < 0)
		return (int)n;
	*len = (size_t)n;
	return 0;
}

/* A new empty file sn in w->dir, recorded as created. The new fd, or -errno. */
static int create_empty(struct rfs_fs *fs, struct walk *w, const struct rfs_sealed_name *sn,
                        const struct rfs_who *who)
{
	uint8_t *key = rfs_secmem_key_alloc(), file_id[RFS_FILE_ID_SIZE];
	int fd = key ? rfs_ops_anon_file(w->dirfd, 0644) : -ENOMEM;
	int rc = fd < 0 ? fd : rfs_dname_write_long(w->dirfd, sn);

	if (rc == 0)
		rc = rfs_cfile_init(fs->v->ks, fd, key, file_id);
	if (rc == 0)
		rc = fdatasync(fd) == 0 ? rfs_ops_link_in(fd, w->dirfd, sn->backing) : -errno;
	if (rc == 0)
		rc = rfs_io_fsync_dir(w->dirfd, ".");
	if (rc == 0)
		rfs_save_created_as(fs, w->dir, w->last, sn->backing, file_id, fd, who);
	rfs_secmem_key_free(key);
	if (rc < 0 && fd >= 0)
		close(fd);
	return rc < 0 ? rc : fd;
}

int rfs_live_write_file(struct rfs_fs *fs, const char *clear_path, const char *data, size_t len,
                        const struct rfs_who *who)
{
	struct rfs_sealed_name sn;
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	int src = memfd_create("recfs-write", MFD_CLOEXEC), fd = -1;
	int rc = !w ? -ENOMEM : !fs->history ? -EROFS : src < 0 ? -errno : 0;

	if (rc == 0)
		rc = rfs_io_write_all(src, data, len);
	if (rc == 0)
		rc = walk_to_last(fs, clear_path, true, getuid(), getgid(), w);
	if (rc == 0)
		rc = rfs_ops_seal_name(fs, w->dir, w->last, &sn);
	if (rc == 0 && fstatat(w->dirfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = errno == ENOENT ? create_empty(fs, w, &sn, who) : -errno;
		if (rc >= 0)
			close(rc);
		if (rc >= 0)
			rc = fstatat(w->dirfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	}
	if (rc == 0)
		rc = fd = replace_file(fs, w, &sn, &st, src, len, NULL);
	if (rc >= 0) {
		(void)fuse_lowlevel_notify_inval_entry(fs->se, rfs_ino_of(&fs->it, w->dir), w->last,
		                                       strlen(w->last));
		rc = save_whole(fs, w, &sn, fd, NULL, who);
	}
	return walk_done(fs, w, fd, src, rc < 0 ? rc : 0);
}

/* Append len bytes at the end of in (loaded, fd open read-write), durable, then one save of
** the blocks written. Waits, like a restore, for no handle to have it open for writing. */
static int append_to(struct rfs_fs *fs, struct rfs_inode *in, int fd, const char *data,
                     size_t len, const struct rfs_who *who)
{
	struct rfs_cfile cf = { .fd = fd, .undo = fs->v->undo };
	uint64_t undo, end;
	ssize_t n;
	int rc = lock_unwritten(in);

	if (rc < 0)
		return rc;
	rfs_save_before_write(fs, in, in->size);
	cf.key = in->key;
	memcpy(cf.file_id, in->file_id, RFS_FILE_ID_SIZE);
	cf.hdr_flags = in->hdr_flags;
	cf.size = end = in->size;
	n = rfs_cfile_write(&cf, (const uint8_t *)data, len, end);
	rc = n < 0 ? (int)n : (size_t)n != len ? -EIO : 0;
	if (n > 0) {
		rfs_save_mark_write(in, end, (uint64_t)n);
		in->size = cf.size;
		in->hdr_flags = cf.hdr_flags;
		in->dirty = true;
	}
	/* As an fsync: the key first, then the content, then its undo entry is needless. */
	if (rc == 0)
		rc = rfs_keystore_sync(fs->v->ks, in->file_id);
	undo = rfs_undo_file_sync_begin(fs->v->undo, in->file_id);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	rfs_undo_file_sync_done(fs->v->undo, in->file_id, undo, rc == 0);
	if (in->dirty)
		rfs_save_content_as(fs, in, fd, who);
	pthread_rwlock_unlock(&in->content);
	return rc;
}

int rfs_live_append_file(struct rfs_fs *fs, const char *clear_path, const char *data, size_t len,
                         const struct rfs_who *who)
{
	struct rfs_sealed_name sn;
	struct rfs_inode *in = NULL;
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	int fd = -1, rc = !w ? -ENOMEM : !fs->history ? -EROFS : 0;

	if (rc == 0)
		rc = walk_to_file(fs, clear_path, w, &sn, &st);
	if (rc == 0 && (fd = openat(w->dirfd, sn.backing, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_inode_lookup(&fs->it, w->dir, w->last, sn.backing, &st, &in);
	if (rc == 0)
		rc = rfs_ops_file_load(fs, in, fd);
	if (rc == 0)
		rc = append_to(fs, in, fd, data, len, who);
	if (in) {
		/* The kernel's cached pages and size of it are stale now. */
		(void)fuse_lowlevel_notify_inval_inode(fs->se, rfs_ino_of(&fs->it, in), 0, 0);
		rfs_inode_forget(&fs->it, in, 1);
	}
	return walk_done(fs, w, fd, -1, rc);
}
