/*
** ops: see ops.h. Modelled on libfuse's passthrough_ll, but an inode holds no
** descriptor of its own: each operation borrows one from the inode table
** (inode_fd ... inode_fd_done), cached or reopened through the parent, so a
** vault of millions of files needs no more descriptors than a small one,
** renames of folders cost nothing, and no path is re-resolved from the root.
*/
#include "fs/ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/encoding.h"
#include "crypto/secmem.h"
#include "fs/cfile.h"
#include "fs/dname.h"
#include "fs/faultpoint.h"
#include "fs/history/history.h"
#include "fs/log.h"
#include "fs/xowner.h"

#define XATTR_USER "user."
#define XATTR_USER_LEN 5

struct rfs_fh {
	int fd;
	bool writer;                   /* counted in the inode's nwriters */
};

struct rfs_dirh {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
};

static struct rfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct rfs_inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	return rfs_inode_of(&fs_of(req)->it, ino);
}

/* The backing file's descriptor (O_PATH) for this operation; every
** successful inode_fd is matched by one inode_fd_done. */
static int inode_fd(struct rfs_fs *fs, struct rfs_inode *in)
{
	return rfs_inode_get_fd(&fs->it, in);
}

static void inode_fd_done(struct rfs_fs *fs, struct rfs_inode *in)
{
	rfs_inode_put_fd(&fs->it, in);
}

static void proc_path(char out[64], int fd)
{
	snprintf(out, 64, "/proc/self/fd/%d", fd);
}

/* Log a problem with a file by its clear path (the daemon's own log only). */
static void log_inode(struct rfs_fs *fs, struct rfs_inode *in, const char *what)
{
	char *path = rfs_inode_path(&fs->it, in, true);

	rfs_log(LOG_ERR, "/%s: %s", path ? path : "(deleted file)", what);
	free(path);
}

/* ---- names ---------------------------------------------------------- */

static int new_dirid(int dfd, uint8_t dirid[RFS_DIRID_SIZE]);
static void note_inode(struct rfs_fs *fs, struct rfs_inode *in, enum rfs_save_kind kind,
                       const char *property);
static int reset_damaged(struct rfs_fs *fs, struct rfs_inode *in, int fd);

/* A folder whose .dirid is damaged or empty gets back the id history keeps
** for it (the names inside were sealed under it). 0 or -errno. */
static int rebuild_dirid(struct rfs_fs *fs, struct rfs_inode *dir)
{
	uint8_t id[RFS_DIRID_SIZE];
	char *cipher = fs->history && !fs->read_only ? rfs_inode_path(&fs->it, dir, false) : NULL;
	int dfd, rc = cipher ? rfs_history_dirid_at(fs->history, cipher, id) : -EROFS;

	free(cipher);
	if (rc < 0 || (dfd = inode_fd(fs, dir)) < 0)
		return rc < 0 ? rc : dfd;
	pthread_mutex_lock(&dir->mu);
	if (!dir->dirid_ok) {
		(void)unlinkat(dfd, RFS_DIRID_FILE, 0);
		rc = rfs_dname_write_dirid(dfd, id);
		if (rc == 0) {
			memcpy(dir->dirid, id, RFS_DIRID_SIZE);
			dir->dirid_ok = true;
		}
	}
	pthread_mutex_unlock(&dir->mu);
	inode_fd_done(fs, dir);
	return rc;
}

/* A folder's id; a bare folder (a mkdir cut short by a crash) gets a new one. */
static int dirid_of(struct rfs_fs *fs, struct rfs_inode *dir, uint8_t out[RFS_DIRID_SIZE])
{
	bool healed = false;
	int rc = 0;

	pthread_mutex_lock(&dir->mu);
	if (!dir->dirid_ok) {
		int dfd = inode_fd(fs, dir);
		int fd = dfd < 0 ? -1 : openat(dfd, RFS_DIRID_FILE, O_RDONLY | O_CLOEXEC);

		if (fd < 0 && dfd >= 0 && errno == ENOENT && rfs_dname_folder_empty(dfd, false) == 0 &&
		    new_dirid(dfd, dir->dirid) == 0) {
			fd = openat(dfd, RFS_DIRID_FILE, O_RDONLY | O_CLOEXEC);
			healed = true;
		}
		if (fd < 0 || read(fd, dir->dirid, RFS_DIRID_SIZE) != RFS_DIRID_SIZE)
			rc = dfd < 0 ? dfd : -EIO;
		else
			dir->dirid_ok = true;
		if (fd >= 0)
			close(fd);
		if (dfd >= 0)
			inode_fd_done(fs, dir);
	}
	pthread_mutex_unlock(&dir->mu);
	if (rc == -EIO && rebuild_dirid(fs, dir) == 0) {
		log_inode(fs, dir, "folder id was damaged or empty; rebuilt from history");
		rc = 0;
		healed = true;               /* history records the folder whole again */
	} else if (rc == -EIO) {
		log_inode(fs, dir, "folder id missing or unreadable; run 'recfs fsck'");
	}
	if (rc == 0) {
		pthread_mutex_lock(&dir->mu);
		memcpy(out, dir->dirid, RFS_DIRID_SIZE);
		pthread_mutex_unlock(&dir->mu);
	}
	if (rc == 0 && healed)            /* history records the folder as it is now */
		note_inode(fs, dir, RFS_SAVE_CREATED, NULL);
	return rc;
}

static int seal_name(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                     struct rfs_sealed_name *sn)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	int rc = dirid_of(fs, dir, dirid);

	return rc < 0 ? rc : rfs_dname_seal(fs->v->keys, dirid, name, sn);
}

/* ---- attributes ------------------------------------------------------- */

static int symlink_len(struct rfs_fs *fs, int dirfd, const char *path, size_t *len)
{
	char text[PATH_MAX], clear[PATH_MAX];
	ssize_t n = readlinkat(dirfd, path, text, sizeof(text) - 1);
	int rc;

	if (n < 0)
		return -errno;
	text[n] = '\0';
	rc = rfs_target_open(clear, sizeof(clear), text, fs->v->keys);
	if (rc < 0)
		return -EIO;
	*len = (size_t)rc;
	return 0;
}

/* Turn the backing file's stat into the plaintext view. */
static int plain_attr(struct rfs_fs *fs, int dirfd, const char *path, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		bool valid;
		uint64_t size = rfs_plain_size((uint64_t)st->st_size, &valid);
		uint64_t dense = (size + 4095) / 4096 * 8;

		/* A dense file reports what it would take on disk in clear; a sparse one scales down. */
		if ((uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size)
			st->st_blocks = (blkcnt_t)dense;
		else
			st->st_blocks = (blkcnt_t)((uint64_t)st->st_blocks * RFS_BLOCK_SIZE / RFS_SLOT_SIZE);
		st->st_size = (off_t)size;
	} else if (S_ISLNK(st->st_mode)) {
		size_t len = 0;
		int rc = symlink_len(fs, dirfd, path, &len);

		if (rc < 0)
			return rc;
		st->st_size = (off_t)len;
	}
	return 0;
}

static int stat_inode(struct rfs_fs *fs, struct rfs_inode *in, struct stat *st)
{
	int fd = inode_fd(fs, in), rc;

	if (fd < 0)
		return fd;
	rc = fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = plain_attr(fs, fd, "", st);
	inode_fd_done(fs, in);
	return rc;
}

/* fstatat + inode lookup for a backing entry; fills e. */
static int make_entry(struct rfs_fs *fs, struct rfs_inode *parent, int dirfd, const char *name,
                      const char *backing, struct fuse_entry_param *e, struct rfs_inode **out)
{
	struct rfs_inode *in;
	int rc;

	memset(e, 0, sizeof(*e));
	if (fstatat(dirfd, backing, &e->attr, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISREG(e->attr.st_mode) && !S_ISDIR(e->attr.st_mode) && !S_ISLNK(e->attr.st_mode))
		return -EIO;
	rc = plain_attr(fs, dirfd, backing, &e->attr);
	if (rc < 0)
		return rc;
	rc = rfs_inode_lookup(&fs->it, parent, name, backing, &e->attr, &in);
	if (rc < 0)
		return rc;
	e->ino = rfs_ino_of(&fs->it, in);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	if (out)
		*out = in;
	return 0;
}

/* New objects belong to the caller, as on a local disk, when the daemon is root. */
static int give_to_caller(struct rfs_fs *fs, fuse_req_t req, struct rfs_inode *parent,
                          const char *backing)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst;
	gid_t gid = ctx->gid;
	int pfd, rc = 0;

	if (!fs->as_root)
		return 0;
	if ((pfd = inode_fd(fs, parent)) < 0)
		return pfd;
	if (fstatat(pfd, "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID))
		gid = pst.st_gid;
	if (fchownat(pfd, backing, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	inode_fd_done(fs, parent);
	return rc;
}

/* ---- whole-or-nothing files --------------------------------------------- */

/* An unnamed file in dirfd (O_TMPFILE): filled, then linked in, so a crash
** never leaves a file without its header. -EOPNOTSUPP where the backing file
** system has no O_TMPFILE. */
static int anon_file(int dirfd, mode_t mode)
{
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 07777);

	if (fd < 0)
		return errno == EISDIR || errno == EINVAL ? -EOPNOTSUPP : -errno;
	/* The kernel applied the caller's umask already; the daemon's own must not apply too. */
	if (fchmod(fd, mode & 07777) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int link_in(int fd, int dirfd, const char *name)
{
	char p[64];

	proc_path(p, fd);
	return linkat(AT_FDCWD, p, dirfd, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

/* Put fd (an O_TMPFILE file) in place of dirfd/name, atomically. */
static int link_over(int fd, int dirfd, const char *name)
{
	char tmp[64];
	uint8_t r[8];
	int rc;

	randombytes_buf(r, sizeof(r));
	snprintf(tmp, sizeof(tmp), "%s%02x%02x%02x%02x%02x%02x%02x%02x", RFS_TMP_PREFIX, r[0], r[1],
	         r[2], r[3], r[4], r[5], r[6], r[7]);
	rc = link_in(fd, dirfd, tmp);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) != 0) {
		rc = -errno;
		(void)unlinkat(dirfd, tmp, 0);
	}
	return rc;
}

/* ---- content keys ------------------------------------------------------ */

/* A 0-byte backing file is an empty file with no header (a cut between an
** O_TRUNC's ftruncate and its header, FORMAT.md 5). Opened for writing, it
** gets a header and a new key now; read-only, it reads as empty and keeps
** no key (in->key stays NULL). in->mu held. */
static int init_empty(struct rfs_fs *fs, int fd, uint8_t *key, struct rfs_inode *in)
{
	int fl = fcntl(fd, F_GETFL);
	int rc;

	if (fl < 0)
		return -errno;
	if (fs->read_only || (fl & O_ACCMODE) == O_RDONLY)
		return 0;
	rc = rfs_cfile_init(fs->v->ks, fd, key, in->file_id);
	if (rc == 0) {
		in->key = key;
		in->hdr_flags = 0;
	}
	return rc;
}

/* Load the file's key and size once per inode. fd is open on the backing file.
** A 0-byte file opened read-only loads as empty with in->key still NULL. */
static int ensure_loaded(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	int rc = 0;

	pthread_mutex_lock(&in->mu);
	if (!in->key) {
		const char *why = NULL;
		uint8_t *key = rfs_key_alloc();

		if (!key) {
			rc = -ENOMEM;
		} else {
			rc = rfs_cfile_load(fs->v->ks, fd, key, in->file_id, &in->hdr_flags, &why);
			if (rc == -ENODATA)
				rc = init_empty(fs, fd, key, in);
			else if (rc == 0)
				in->key = key;
			if (in->key != key)
				rfs_key_free(key);    /* failed, or 0 bytes read-only: no key yet */
		}
		if (rc < 0 && why)
			log_inode(fs, in, why);
		if (rc == -ENOENT || rc == -EPROTONOSUPPORT)
			rc = -EIO;
	}
	pthread_mutex_unlock(&in->mu);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&in->content);
	if (!in->size_ok) {
		rc = rfs_cfile_stat_size(fd, &in->size);
		in->size_ok = rc == 0;
	}
	pthread_rwlock_unlock(&in->content);
	return rc;
}

static void cfile_of(struct rfs_inode *in, int fd, struct rfs_cfile *cf)
{
	cf->fd = fd;
	cf->key = in->key;
	memcpy(cf->file_id, in->file_id, RFS_FILE_ID_SIZE);
	cf->hdr_flags = in->hdr_flags;
	cf->size = in->size;
}

/* After a write or truncate: keep what cfile learnt. Content lock held. */
static void cfile_done(struct rfs_inode *in, const struct rfs_cfile *cf)
{
	in->size = cf->size;
	in->hdr_flags = cf->hdr_flags;
}

/* ---- versions ---------------------------------------------------------- */

static enum rfs_obj_type obj_type_of(mode_t mode)
{
	return S_ISDIR(mode) ? RFS_OBJ_DIR : S_ISLNK(mode) ? RFS_OBJ_SYMLINK : RFS_OBJ_FILE;
}

/* Remember blocks [first, first+count) as written since the last save. Content lock held. */
static void mark_written(struct rfs_inode *in, uint64_t first, uint64_t count)
{
	uint64_t lo = first, hi = first + count;
	size_t i;

	in->dirty = true;
	for (i = 0; i < in->nranges; i++) {
		struct rfs_range *r = &in->ranges[i];

		if (first <= r->first + r->count && r->first <= hi) {
			uint64_t end = r->first + r->count > hi ? r->first + r->count : hi;

			r->first = r->first < first ? r->first : first;
			r->count = end - r->first;
			return;
		}
	}
	if (in->nranges < sizeof(in->ranges) / sizeof(in->ranges[0])) {
		in->ranges[in->nranges++] = (struct rfs_range){ first, count };
		return;
	}
	for (i = 0; i < in->nranges; i++) {
		lo = in->ranges[i].first < lo ? in->ranges[i].first : lo;
		hi = in->ranges[i].first + in->ranges[i].count > hi ?
		     in->ranges[i].first + in->ranges[i].count : hi;
	}
	in->ranges[0] = (struct rfs_range){ lo, hi - lo };
	in->nranges = 1;
}

static uint64_t block_of(uint64_t offset)
{
	return offset / RFS_BLOCK_SIZE;
}

/* After a size change from old_size to new_size: the blocks whose seal changed. */
static void mark_resize(struct rfs_inode *in, uint64_t old_size, uint64_t new_size)
{
	if (old_size > 0)
		mark_written(in, block_of(old_size - 1), 1);
	if (new_size > 0)
		mark_written(in, block_of(new_size - 1), 1);
	in->dirty = true;
}

/* The id history follows an entry by: a file's id, a folder's dirid, if known. */
static void identity_of(const struct rfs_inode *in, uint8_t id[16])
{
	if (in && in->key)
		memcpy(id, in->file_id, 16);
	else if (in && in->dirid_ok)
		memcpy(id, in->dirid, 16);
}

struct paths {
	char *clear;                   /* "/cases/a.txt" */
	char *cipher;                  /* backing path relative to live/ */
};

static void paths_free(struct paths *p)
{
	free(p->clear);
	free(p->cipher);
	p->clear = p->cipher = NULL;
}

/* Paths of the entry name/backing in dir. */
static int entry_paths(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                       const char *backing, struct paths *p)
{
	char *dc = rfs_inode_path(&fs->it, dir, true), *dk = rfs_inode_path(&fs->it, dir, false);
	int rc = 0;

	p->clear = p->cipher = NULL;
	if (!dc || !dk)
		rc = -ENOENT;
	else if (asprintf(&p->clear, "%s%s/%s", *dc ? "/" : "", dc, name) < 0 ||
	         asprintf(&p->cipher, "%s%s%s", dk, *dk ? "/" : "", backing) < 0)
		rc = -ENOMEM;
	if (rc < 0) {
		p->clear = p->cipher = NULL;
	}
	free(dc);
	free(dk);
	return rc;
}

static int inode_paths(struct rfs_fs *fs, struct rfs_inode *in, struct paths *p)
{
	char *c = rfs_inode_path(&fs->it, in, true);

	p->clear = NULL;
	p->cipher = rfs_inode_path(&fs->it, in, false);
	if (c && asprintf(&p->clear, "/%s", c) < 0)
		p->clear = NULL;
	free(c);
	if (!p->clear || !p->cipher) {
		paths_free(p);
		return -ENOENT;
	}
	return 0;
}

/* Hand one save to history. stat_fd/stat_name give the entry's metadata
** (fstatat; stat_name "" with AT_EMPTY_PATH), stat_fd -1 when it is gone. */
static void record(struct rfs_fs *fs, struct rfs_save *s, int stat_fd, const char *stat_name)
{
	struct stat st;
	int rc;

	if (!fs->history || !s->clear_path || !s->cipher_path)
		return;
	if (stat_fd >= 0 &&
	    fstatat(stat_fd, stat_name, &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0) {
		bool valid;

		s->mode = st.st_mode;
		s->uid = st.st_uid;
		s->gid = st.st_gid;
		s->mtime = st.st_mtim;
		s->type = obj_type_of(st.st_mode);
		if (S_ISREG(st.st_mode))
			s->size = rfs_plain_size((uint64_t)st.st_size, &valid);
	}
	rc = rfs_history_record(fs->history, s);
	if (rc < 0)
		rfs_log(LOG_ERR, "%s: could not record this version (%s); run 'recfs verify'",
		        s->clear_path, strerror(-rc));
}

/* create, mkdir, symlink, mknod: the new entry name/backing in dir. */
static void note_created(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const uint8_t id[16], int fd)
{
	struct rfs_save s = { .kind = RFS_SAVE_CREATED, .fd = fd };
	struct paths p;
	int dfd;

	if (!fs->history || entry_paths(fs, dir, name, backing, &p) < 0)
		return;
	s.clear_path = p.clear;
	s.cipher_path = p.cipher;
	if (id)
		memcpy(s.file_id, id, sizeof(s.file_id));
	dfd = inode_fd(fs, dir);
	record(fs, &s, dfd, backing);
	if (dfd >= 0)
		inode_fd_done(fs, dir);
	paths_free(&p);
}

/* An event on an existing inode: mode changed, property changed. */
static void note_inode(struct rfs_fs *fs, struct rfs_inode *in, enum rfs_save_kind kind,
                       const char *property)
{
	struct rfs_save s = { .kind = kind, .property = property, .fd = -1 };
	struct paths p;
	int fd;

	if (!fs->history || inode_paths(fs, in, &p) < 0)
		return;
	s.clear_path = p.clear;
	s.cipher_path = p.cipher;
	identity_of(in, s.file_id);
	fd = inode_fd(fs, in);
	record(fs, &s, fd, "");
	if (fd >= 0)
		inode_fd_done(fs, in);
	paths_free(&p);
}

/* A save of a file's content (close after writing, fsync, truncate): one
** version with the blocks written since the last save. Content lock held. */
static void note_content_saved(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	struct rfs_save s = { .kind = RFS_SAVE_SAVED, .type = RFS_OBJ_FILE, .fd = fd };
	struct paths p;

	if (in->restored_from[0]) {       /* set by rfs_fs_restore */
		s.kind = RFS_SAVE_RESTORED;
		s.restored_from = in->restored_from;
	}
	if (fs->history && in->parent && inode_paths(fs, in, &p) == 0) {
		s.clear_path = p.clear;
		s.cipher_path = p.cipher;
		memcpy(s.file_id, in->file_id, sizeof(s.file_id));
		s.ranges = in->nranges ? in->ranges : NULL;
		s.nranges = in->nranges;
		record(fs, &s, fd, "");
		paths_free(&p);
	}
	in->dirty = false;
	in->trunc_only = false;
	in->nranges = 0;
	in->restored_from[0] = '\0';
}

/* unlink, rmdir: the entry name/backing in dir went; st is what it was. */
static void note_deleted(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const struct stat *st, struct rfs_inode *victim)
{
	struct rfs_save s = { .kind = RFS_SAVE_DELETED, .type = obj_type_of(st->st_mode), .fd = -1 };
	struct paths p;

	if (!fs->history || entry_paths(fs, dir, name, backing, &p) < 0)
		return;
	s.clear_path = p.clear;
	s.cipher_path = p.cipher;
	s.mode = st->st_mode;
	s.uid = st->st_uid;
	s.gid = st->st_gid;
	s.mtime = st->st_mtim;
	identity_of(victim, s.file_id);
	record(fs, &s, -1, NULL);
	paths_free(&p);
}

/* rename: from (dir, name) to (to_dir, newname); computed before the move. */
static int rename_paths(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                        const char *backing, struct rfs_inode *to_dir, const char *newname,
                        const char *to_backing, struct paths *from, struct paths *to)
{
	from->clear = from->cipher = to->clear = to->cipher = NULL;
	if (!fs->history)
		return -ENOENT;
	if (entry_paths(fs, dir, name, backing, from) < 0 ||
	    entry_paths(fs, to_dir, newname, to_backing, to) < 0) {
		paths_free(from);
		return -ENOENT;
	}
	return 0;
}

static void note_renamed(struct rfs_fs *fs, bool exchange, struct paths *from, struct paths *to,
                         struct rfs_inode *moved, int stat_fd, const char *stat_name)
{
	struct rfs_save s = { .kind = exchange ? RFS_SAVE_EXCHANGED : RFS_SAVE_RENAMED, .fd = -1 };

	s.clear_path = to->clear;
	s.cipher_path = to->cipher;
	s.clear_path_old = from->clear;
	s.cipher_path_old = from->cipher;
	identity_of(moved, s.file_id);
	record(fs, &s, stat_fd, stat_name);
	paths_free(from);
	paths_free(to);
}

/* ---- lookups and attributes --------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* No writeback cache: with it, write(2) only fills the kernel's page cache and
	** never fails, so a full disk lost data silently while the kernel's size grew
	** past what was stored. Each write reaches op_write, which reserves its space
	** first and answers ENOSPC, and the kernel counts only what was stored. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* open(O_TRUNC) + write + close is one save, not a truncate and then a save. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Always readdirplus: rm -rf and find then need no lookup per entry. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->max_write = 1u << 20;
	conn->time_gran = 1;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = inode_of(req, parent);
	struct fuse_entry_param e;
	struct rfs_sealed_name sn;
	int rc = seal_name(fs, dir, name, &sn), dfd;

	if (rc == 0 && (rc = dfd = inode_fd(fs, dir)) >= 0) {
		rc = make_entry(fs, dir, dfd, name, sn.backing, &e, NULL);
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

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	rfs_inode_forget(&fs_of(req)->it, inode_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		rfs_inode_forget(&fs_of(req)->it, inode_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct stat st;
	int rc = stat_inode(fs, inode_of(req, ino), &st);

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

/* A descriptor for I/O on in's backing file, or -1 and errno. */
static int open_backing(struct rfs_fs *fs, struct rfs_inode *in, int flags)
{
	char p[64];
	int acc = flags & O_ACCMODE;

	int bflags = (acc == O_RDONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd, pfd = inode_fd(fs, in), e;

	if (pfd < 0) {
		errno = -pfd;
		return -1;
	}
	proc_path(p, pfd);
	/* Partial blocks are read-modify-write, and the writeback cache reads too.
	** Our own reads must not touch the atime that the user sees. */
	fd = open(p, bflags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(p, bflags);   /* O_NOATIME needs ownership: a user mount of others' files */
	e = errno;
	inode_fd_done(fs, in);
	errno = e;
	return fd;
}

static int set_size(struct rfs_fs *fs, struct rfs_inode *in, off_t size, struct fuse_file_info *fi)
{
	struct rfs_cfile cf;
	int fd = fi ? ((struct rfs_fh *)(uintptr_t)fi->fh)->fd : -1;
	int own_fd = -1, rc;

	if (in->type == S_IFDIR)
		return -EISDIR;
	if (in->type != S_IFREG)
		return -EINVAL;
	if (size < 0)
		return -EINVAL;
	if (fd < 0) {
		own_fd = fd = open_backing(fs, in, O_RDWR);
		if (fd < 0)
			return -errno;
	}
	rc = ensure_loaded(fs, in, fd);
	if (rc == -EIO && size == 0) {
		rc = reset_damaged(fs, in, fd);
		if (rc == 0) {
			pthread_rwlock_wrlock(&in->content);
			note_content_saved(fs, in, fd);
			pthread_rwlock_unlock(&in->content);
		}
		goto out;
	}
	if (rc == 0 && !in->key)
		rc = -EBADF;       /* a 0-byte file through a read-only descriptor */
	if (rc == 0) {
		pthread_rwlock_wrlock(&in->content);
		rfs_history_before_write(fs->history, in->file_id);
		cfile_of(in, fd, &cf);
		cf.undo = fs->v->undo;
		rc = rfs_cfile_truncate(&cf, (uint64_t)size);
		if (rc == 0 && cf.size != in->size) {
			mark_resize(in, in->size, cf.size);
			cfile_done(in, &cf);
			note_content_saved(fs, in, fd);
		}
		pthread_rwlock_unlock(&in->content);
	}
out:
	if (own_fd >= 0)
		close(own_fd);
	return rc;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	struct stat st;
	char p[64];
	int rc = 0, ifd = -1;

	if (fs->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if ((to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    (ifd = inode_fd(fs, in)) < 0)
		rc = ifd;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE)) {
		if (in->type == S_IFLNK) {
			rc = -EOPNOTSUPP;
		} else if (fstatat(ifd, "", &st, AT_EMPTY_PATH) != 0) {
			rc = -errno;
		} else if ((st.st_mode & 07777) == (attr->st_mode & 07777)) {
			to_set &= ~FUSE_SET_ATTR_MODE;      /* no change, no version */
		} else {
			proc_path(p, ifd);
			if (chmod(p, attr->st_mode & 07777) != 0)
				rc = -errno;
		}
	}
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(ifd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
			rc = -errno;
	}
	if (ifd >= 0)
		inode_fd_done(fs, in);
	/* chmod is a version; chown and utimens are not (DESIGN.md, issue 4), but a
	** version records the owner and times of its moment. */
	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE))
		note_inode(fs, in, RFS_SAVE_MODE, NULL);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = set_size(fs, in, attr->st_size, fi);
	/* CTIME comes only from the kernel writing back the times it caches; for
	** a file just unlinked (every rm does this) nobody will read them again. */
	if (rc == 0 && (to_set & FUSE_SET_ATTR_CTIME) && rfs_inode_unlinked(&fs->it, in))
		to_set &= ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME);
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	                          FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		rc = set_times(fs, in, attr, to_set,
		               fi && in->type == S_IFREG ? ((struct rfs_fh *)(uintptr_t)fi->fh)->fd : -1);
	if (rc == 0)
		rc = stat_inode(fs, in, &st);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char text[PATH_MAX], clear[PATH_MAX];
	int fd = inode_fd(fs, in);
	ssize_t n = fd < 0 ? fd : readlinkat(fd, "", text, sizeof(text) - 1);

	if (n < 0 && fd >= 0)
		n = -errno;
	if (fd >= 0)
		inode_fd_done(fs, in);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	text[n] = '\0';
	if (rfs_target_open(clear, sizeof(clear), text, fs->v->keys) < 0) {
		log_inode(fs, in, "symbolic link target does not authenticate");
		fuse_reply_err(req, EIO);
		return;
	}
	fuse_reply_readlink(req, clear);
}

/* ---- namespace ----------------------------------------------------------- */

/* Common tail of mkdir/symlink/create: side file for a long name first. */
static int prepare_name(struct rfs_fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
                        struct rfs_inode **dir, struct rfs_sealed_name *sn)
{
	int rc;

	if (fs->read_only)
		return -EROFS;
	*dir = inode_of(req, parent);
	rc = seal_name(fs, *dir, name, sn);
	if (rc == 0 && (rc = inode_fd(fs, *dir)) >= 0) {
		int dfd = rc;

		rc = rfs_dname_write_long(dfd, sn);
		inode_fd_done(fs, *dir);
	}
	return rc;
}

/* Finish mkdir/symlink/mknod: owner, entry, version, then the reply, so the
** version is recorded before the kernel can act on the new entry. */
static void finish_new_entry(fuse_req_t req, struct rfs_fs *fs, struct rfs_inode *dir,
                             const char *name, const struct rfs_sealed_name *sn, int rc, bool owned,
                             const uint8_t *id, int fd)
{
	struct fuse_entry_param e;

	int dfd = -1;

	if (rc == 0 && !owned)
		rc = give_to_caller(fs, req, dir, sn->backing);
	if (rc == 0 && (rc = dfd = inode_fd(fs, dir)) >= 0) {
		rc = make_entry(fs, dir, dfd, name, sn->backing, &e, NULL);
		inode_fd_done(fs, dir);
	}
	if (rc == 0)
		note_created(fs, dir, name, sn->backing, id, fd);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static int new_dirid(int dfd, uint8_t dirid[RFS_DIRID_SIZE])
{
	randombytes_buf(dirid, RFS_DIRID_SIZE);
	return rfs_dname_write_dirid(dfd, dirid);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL;
	struct rfs_sealed_name sn;
	int rc = prepare_name(fs, req, parent, name, &dir, &sn);
	uint8_t dirid[RFS_DIRID_SIZE];
	int dfd = -1, pfd = -1;

	if (rc == 0 && (pfd = inode_fd(fs, dir)) < 0)
		rc = pfd;
	if (rc == 0 && mkdirat(pfd, sn.backing, 0700) != 0)
		rc = -errno;
	if (rc == 0) {
		dfd = openat(pfd, sn.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = new_dirid(dfd, dirid);
	if (rc == 0) {
		struct stat pst;

		/* As on ext4: a folder made in a setgid folder is setgid too. */
		if (fstatat(pfd, "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID))
			mode |= S_ISGID;
		if (fchmod(dfd, mode & 07777) != 0)
			rc = -errno;
	}
	if (dfd >= 0)
		close(dfd);
	if (pfd >= 0)
		inode_fd_done(fs, dir);
	finish_new_entry(req, fs, dir, name, &sn, rc, false, dirid, -1);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL;
	struct rfs_sealed_name sn;
	char text[PATH_MAX];
	int rc = rfs_target_seal(text, sizeof(text), link, fs->v->keys);

	if (rc >= 0)
		rc = prepare_name(fs, req, parent, name, &dir, &sn);
	if (rc >= 0 && (rc = inode_fd(fs, dir)) >= 0) {
		int dfd = rc;

		rc = symlinkat(text, dfd, sn.backing) == 0 ? 0 : -errno;
		inode_fd_done(fs, dir);
	}
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	finish_new_entry(req, fs, dir, name, &sn, 0, false, NULL, -1);
}

static void refuse_special(fuse_req_t req, const char *what)
{
	static int said;

	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		rfs_log(LOG_NOTICE, "%s refused (EPERM): history cannot record them", what);
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	refuse_special(req, "hard links are");
}

/* Remove the backing folder parent/backing, which must be empty but for its .dirid. */
static int remove_dir(int parent_fd, const char *backing)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	int dfd = openat(parent_fd, backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int fd, rc;

	if (dfd < 0)
		return -errno;
	rc = rfs_dname_folder_empty(dfd, true);
	if (rc == 0) {
		fd = openat(dfd, RFS_DIRID_FILE, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, dirid, sizeof(dirid)) != (ssize_t)sizeof(dirid))
			rc = -EIO;
		if (fd >= 0)
			close(fd);
	}
	if (rc == 0 && unlinkat(dfd, RFS_DIRID_FILE, 0) != 0)
		rc = -errno;
	if (rc == 0 && unlinkat(parent_fd, backing, AT_REMOVEDIR) != 0) {
		rc = -errno;
		/* Put the id back so that the folder's names still open. */
		if (rfs_dname_write_dirid(dfd, dirid) < 0)
			rfs_log(LOG_ERR, "could not restore a folder id: run 'recfs fsck'");
	}
	close(dfd);
	return rc;
}

/* unlink and rmdir: the entry goes, with its long-name side file, and the
** inode leaves the name tree (it lives on while open). */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, bool folder)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = inode_of(req, parent), *victim;
	struct rfs_sealed_name sn;
	struct stat st;
	int rc = fs->read_only ? -EROFS : seal_name(fs, dir, name, &sn), dfd = -1;

	if (rc == 0 && (dfd = inode_fd(fs, dir)) < 0)
		rc = dfd;
	if (rc == 0 && fstatat(dfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	if (rc == 0 && !folder && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (rc == 0 && folder && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (rc == 0)
		rc = folder ? remove_dir(dfd, sn.backing)
		            : unlinkat(dfd, sn.backing, 0) == 0 ? 0 : -errno;
	if (rc == 0) {
		rfs_dname_remove_long(dfd, sn.backing);
		victim = rfs_inode_find(&fs->it, st.st_dev, st.st_ino);
		if (victim && victim->key)
			rfs_undo_drop(fs->v->undo, victim->file_id);
		note_deleted(fs, dir, name, sn.backing, &st, victim);
		if (victim)
			rfs_inode_rename(&fs->it, victim, NULL, NULL, NULL);
	}
	if (dfd >= 0)
		inode_fd_done(fs, dir);
	fuse_reply_err(req, -rc);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, true);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *from_dir = inode_of(req, parent), *to_dir = inode_of(req, newparent);
	struct rfs_inode *moved = NULL, *target = NULL;
	struct paths from_paths, to_paths;
	struct rfs_sealed_name from, to;
	struct stat from_st, to_st;
	bool exchange = flags & RENAME_EXCHANGE, have_target, same, have_paths;
	uint8_t target_dirid[RFS_DIRID_SIZE];
	int rc = 0, from_fd = -1, to_fd = -1, tdfd = -1, fd;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		rc = -EINVAL;
	else if (fs->read_only)
		rc = -EROFS;
	if (rc == 0)
		rc = seal_name(fs, from_dir, name, &from);
	if (rc == 0)
		rc = seal_name(fs, to_dir, newname, &to);
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
		fd = -1;
		rc = tdfd < 0 ? -errno : rfs_dname_folder_empty(tdfd, true);
		if (rc == 0) {
			fd = openat(tdfd, RFS_DIRID_FILE, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || read(fd, target_dirid, RFS_DIRID_SIZE) != RFS_DIRID_SIZE)
				rc = -EIO;
		}
		if (rc == 0 && unlinkat(tdfd, RFS_DIRID_FILE, 0) != 0)
			rc = -errno;
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			goto out;
	}
	have_paths = rename_paths(fs, from_dir, name, from.backing, to_dir, newname, to.backing,
	                          &from_paths, &to_paths) == 0;
	/* From the move on disk to the move in the tree, nothing reopens by name. */
	rfs_inode_names_lock(&fs->it);
	if (renameat2(from_fd, from.backing, to_fd, to.backing, flags) != 0) {
		rc = -errno;
		rfs_inode_names_unlock(&fs->it);
		if (have_paths) {
			paths_free(&from_paths);
			paths_free(&to_paths);
		}
		if (tdfd >= 0 && rfs_dname_write_dirid(tdfd, target_dirid) < 0)
			rfs_log(LOG_ERR, "could not restore a folder id: run 'recfs fsck'");
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
	if (!exchange)
		rfs_dname_remove_long(from_fd, from.backing);
	if (have_paths)
		note_renamed(fs, exchange, &from_paths, &to_paths, moved, to_fd, to.backing);
out:
	if (tdfd >= 0)
		close(tdfd);
	if (to_fd >= 0)
		inode_fd_done(fs, to_dir);
	if (from_fd >= 0)
		inode_fd_done(fs, from_dir);
	fuse_reply_err(req, -rc);
}

/* ---- files ---------------------------------------------------------------- */

/* A handle holds its inode's descriptor too, until release: a file open for
** I/O stays reachable (getattr, setattr, xattrs) also once unlinked. */
/* counted: op_open already counted this opener in nopen (see there). */
static int new_fh(struct rfs_fs *fs, struct fuse_file_info *fi, struct rfs_inode *in, int fd,
                  bool counted)
{
	struct rfs_fh *fh = malloc(sizeof(*fh));
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	int pin = fh ? inode_fd(fs, in) : -ENOMEM;

	if (pin < 0) {
		free(fh);
		return pin;
	}
	pthread_rwlock_wrlock(&in->content);
	if (writer && in->replaced) {
		/* A restore put a new file at this name: writes here would reach no one.
		** ESTALE makes the kernel look the name up again and open the new file. */
		pthread_rwlock_unlock(&in->content);
		inode_fd_done(fs, in);
		free(fh);
		return -ESTALE;
	}
	in->nopen += !counted;
	in->nwriters += writer;
	pthread_rwlock_unlock(&in->content);
	fh->fd = fd;
	fh->writer = writer;
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = 1;     /* every change to the file passes through this daemon */
	return 0;
}

static struct rfs_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct rfs_fh *)(uintptr_t)fi->fh;
}

/* Make a new empty ciphertext file name in parent: its key, header and owner.
** On success *fd is open O_RDWR on it and key holds its content key. */
static int make_file(struct rfs_fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, struct rfs_inode **dir, struct rfs_sealed_name *sn, int *fd,
                     uint8_t *key, uint8_t file_id[RFS_FILE_ID_SIZE])
{
	int rc = prepare_name(fs, req, parent, name, dir, sn), dfd;
	bool anon, linked;

	*fd = -1;
	if (rc < 0)
		return rc;
	if ((dfd = inode_fd(fs, *dir)) < 0)
		return dfd;
	*fd = anon_file(dfd, mode);
	anon = *fd >= 0;
	if (*fd == -EOPNOTSUPP)
		*fd = openat(dfd, sn->backing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (*fd < 0) {
		rc = *fd == -1 ? -errno : *fd;
		inode_fd_done(fs, *dir);
		*fd = -1;
		return rc;
	}
	linked = !anon;
	if (!anon && fchmod(*fd, mode & 07777) != 0)   /* the caller's umask only, as in anon_file */
		rc = -errno;
	if (rc == 0)
		rc = rfs_cfile_init(fs->v->ks, *fd, key, file_id);
	if (rc == 0 && anon) {
		rc = link_in(*fd, dfd, sn->backing);
		linked = rc == 0;
	}
	if (rc == 0)
		rc = give_to_caller(fs, req, *dir, sn->backing);
	if (rc < 0) {
		if (linked)
			(void)unlinkat(dfd, sn->backing, 0);
		close(*fd);
		*fd = -1;
	}
	inode_fd_done(fs, *dir);
	return rc;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL, *in = NULL;
	struct rfs_sealed_name sn;
	struct fuse_entry_param e;
	uint8_t *key = rfs_key_alloc();
	uint8_t file_id[RFS_FILE_ID_SIZE];
	int fd = -1;
	int rc = key ? make_file(fs, req, parent, name, mode, &dir, &sn, &fd, key, file_id) : -ENOMEM;
	int dfd;

	RFS_FAULT_POINT("file_created", fs->v->dirfd);      /* its key entry written, not yet durable */

	if (rc == 0 && (rc = dfd = inode_fd(fs, dir)) >= 0) {
		rc = make_entry(fs, dir, dfd, name, sn.backing, &e, &in);
		inode_fd_done(fs, dir);
	}
	if (rc == 0) {
		pthread_mutex_lock(&in->mu);
		if (!in->key) {
			in->key = key;
			key = NULL;
			memcpy(in->file_id, file_id, RFS_FILE_ID_SIZE);
			in->hdr_flags = 0;
		}
		pthread_mutex_unlock(&in->mu);
		pthread_rwlock_wrlock(&in->content);
		in->size = 0;
		in->size_ok = true;
		pthread_rwlock_unlock(&in->content);
		rc = new_fh(fs, fi, in, fd, false);
		if (rc < 0)
			rfs_inode_forget(&fs->it, in, 1);
	}
	rfs_key_free(key);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, -rc);
		return;
	}
	note_created(fs, dir, name, sn.backing, file_id, fd);
	fuse_reply_create(req, &e, fi);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL;
	struct rfs_sealed_name sn;
	uint8_t *key;
	uint8_t file_id[RFS_FILE_ID_SIZE];
	int fd = -1, rc;

	if (!S_ISREG(mode)) {
		refuse_special(req, "device nodes, FIFOs and sockets are");
		return;
	}
	/* mknod(S_IFREG) is a create that leaves no file open. */
	key = rfs_key_alloc();
	rc = key ? make_file(fs, req, parent, name, mode, &dir, &sn, &fd, key, file_id) : -ENOMEM;
	rfs_key_free(key);
	finish_new_entry(req, fs, dir, name, &sn, rc, true, file_id, fd);
	if (fd >= 0)
		close(fd);
}

/* Empty a file that does not load (EIO: damaged, cut short, key gone):
** O_TRUNC and truncate to 0 discard the content anyway, so it gets a fresh
** header, keeping its id and key when they still authenticate. Reads of the
** damaged file stay EIO: only a truncation to empty gets past it. */
static int reset_damaged(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	uint8_t *key = NULL;
	bool have, fresh = false;
	int rc;

	pthread_rwlock_wrlock(&in->content);
	pthread_mutex_lock(&in->mu);
	have = in->key != NULL;
	if (have)
		rfs_history_before_write(fs->history, in->file_id);
	else if (!(key = rfs_key_alloc())) {
		rc = -ENOMEM;
		goto out;
	}
	rc = rfs_cfile_reset(fs->v->ks, fd, have ? in->key : key, in->file_id, have, &fresh);
	if (rc == -EPROTONOSUPPORT)
		rc = -EIO;
	if (rc == 0) {
		if (!have) {
			in->key = key;
			key = NULL;
		}
		in->hdr_flags = 0;
		in->size = 0;
		in->size_ok = true;
		in->dirty = true;
		in->nranges = 0;         /* the whole file */
		in->trunc_only = true;
		log_inode(fs, in, fresh ? "damaged file emptied by a truncation; it has a new key"
		                        : "damaged file emptied by a truncation");
	}
out:
	pthread_mutex_unlock(&in->mu);
	pthread_rwlock_unlock(&in->content);
	rfs_key_free(key);
	return rc;
}

/* O_TRUNC: empty the file now; the save is recorded when it is closed. */
static int truncate_on_open(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	struct rfs_cfile cf;
	int rc = ensure_loaded(fs, in, fd);

	if (rc == -EIO)
		return reset_damaged(fs, in, fd);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&in->content);
	if (in->size > 0) {
		rfs_history_before_write(fs->history, in->file_id);
		cfile_of(in, fd, &cf);
		rc = rfs_cfile_truncate(&cf, 0);
		if (rc == 0) {
			mark_resize(in, in->size, 0);
			cfile_done(in, &cf);
			in->trunc_only = true;
		}
	}
	pthread_rwlock_unlock(&in->content);
	return rc;
}

/* The kernel caps a FUSE mount's readahead at 128 KiB when the connection
** starts, so a streaming read arrives as one 128 KiB request at a time. A
** wider window sends 1 MiB requests, several at once, decrypted in parallel.
** Only root may widen it; anyone else keeps the default. */
#define READAHEAD_KB "4096"

static void widen_readahead(struct rfs_fs *fs)
{
	char path[80];
	int fd;

	/* A load first: every open passes here, and an exchange would write. */
	if (!fs->bdi[0] || __atomic_load_n(&fs->readahead_widened, __ATOMIC_ACQUIRE) ||
	    __atomic_exchange_n(&fs->readahead_widened, 1, __ATOMIC_ACQ_REL))
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", fs->bdi);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, READAHEAD_KB, strlen(READAHEAD_KB)) < 0)
		rfs_log(LOG_DEBUG, "cannot widen readahead (%s): %s", path, strerror(errno));
	close(fd);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	int fd, rc;

	widen_readahead(fs);

	if (fs->read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = open_backing(fs, in, fi->flags);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	bool trunc = (fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY;
	/* Counted before the truncate: the late release of an earlier handle
	** (the previous `> file`) must see this opener, or it would save the
	** file emptied, before this handle's writes arrive. */
	if (trunc) {
		pthread_rwlock_wrlock(&in->content);
		in->nopen++;
		pthread_rwlock_unlock(&in->content);
	}
	rc = trunc ? truncate_on_open(fs, in, fd)   /* loads, or empties a damaged file */
	           : ensure_loaded(fs, in, fd);
	if (rc == 0)
		rc = new_fh(fs, fi, in, fd, trunc);
	if (rc < 0) {
		if (trunc) {
			pthread_rwlock_wrlock(&in->content);
			in->nopen--;
			pthread_rwlock_unlock(&in->content);
		}
		close(fd);
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	struct rfs_cfile cf;
	const uint8_t *clear = NULL;
	ssize_t n;

	pthread_rwlock_rdlock(&in->content);
	cfile_of(in, fh_of(fi)->fd, &cf);
	n = rfs_cfile_read(&cf, size, (uint64_t)off, &clear);
	pthread_rwlock_unlock(&in->content);
	if (n == -EIO)
		log_inode(fs, in, "a block fails authentication (tampered or damaged); run 'recfs fsck'");
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, (const char *)clear, (size_t)n);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	struct rfs_cfile cf;
	ssize_t n;

	if (fs->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_rwlock_wrlock(&in->content);
	rfs_history_before_write(fs->history, in->file_id);
	cfile_of(in, fh_of(fi)->fd, &cf);
	cf.undo = fs->v->undo;
	n = rfs_cfile_write(&cf, (const uint8_t *)buf, size, (uint64_t)off);
	if (n > 0) {
		if (in->size > 0 && block_of(in->size - 1) < block_of((uint64_t)off))
			mark_written(in, block_of(in->size - 1), 1);   /* resealed: no longer last */
		mark_written(in, block_of((uint64_t)off),
		             block_of((uint64_t)off + (uint64_t)n - 1) - block_of((uint64_t)off) + 1);
		cfile_done(in, &cf);
		in->trunc_only = false;
	}
	pthread_rwlock_unlock(&in->content);
	if (n == -EIO)
		log_inode(fs, in, "a block fails authentication (tampered or damaged); run 'recfs fsck'");
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* at_flush: a close(2) that may not be the last (shells dup2 and close the
** fd of "> file" before writing): an open(O_TRUNC) alone waits for the writes. */
static void save_if_dirty(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool at_flush)
{
	pthread_rwlock_wrlock(&in->content);
	if (in->dirty && !(at_flush && in->trunc_only))
		note_content_saved(fs, in, fd);
	pthread_rwlock_unlock(&in->content);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	save_if_dirty(fs_of(req), inode_of(req, ino), fh_of(fi)->fd, true);
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fh *fh = fh_of(fi);
	struct rfs_inode *in = inode_of(req, ino);

	/* The last close saves; an earlier handle's late release must not save an
	** open(O_TRUNC) made through another handle before its writes arrive. */
	pthread_rwlock_wrlock(&in->content);
	in->nopen--;
	in->nwriters -= fh->writer;
	if (in->dirty && !(in->trunc_only && in->nopen > 0))
		note_content_saved(fs_of(req), in, fh->fd);
	pthread_rwlock_unlock(&in->content);
	close(fh->fd);
	free(fh);
	inode_fd_done(fs_of(req), in);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	int fd = fh_of(fi)->fd;
	/* The key first: durable content whose key a cut lost would read as shredded. */
	int rc = in->key ? rfs_keystore_sync(fs->v->ks, in->file_id) : 0;
	uint64_t undo = in->key ? rfs_undo_file_sync_begin(fs->v->undo, in->file_id) : 0;

	RFS_FAULT_POINT("fsync_key_synced", fs->v->dirfd);
	if (rc == 0 && (datasync ? fdatasync(fd) : fsync(fd)) != 0)
		rc = -errno;
	if (in->key)                   /* durable now: its undo entry is needless */
		rfs_undo_file_sync_done(fs->v->undo, in->file_id, undo, rc == 0);
	save_if_dirty(fs, in, fd, false);
	fuse_reply_err(req, -rc);
}

/* ---- folders ---------------------------------------------------------------- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	uint8_t dirid[RFS_DIRID_SIZE];
	struct rfs_dirh *d = calloc(1, sizeof(*d));
	int fd, rc = dirid_of(fs, in, dirid);

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
	uint8_t dirid[RFS_DIRID_SIZE];
	char *buf = malloc(size), *p = buf;
	size_t rem = size;
	int dfd = dirfd(d->dp), err = 0;

	if (!buf || dirid_of(fs, dir, dirid) < 0) {
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
			if (rfs_dname_open(fs->v->keys, dfd, dirid, d->entry->d_name, clear) < 0) {
				log_inode(fs, dir, "a name in this folder does not authenticate; run 'recfs fsck'");
				goto skip;
			}
			shown = clear;
		}
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->entry->d_ino;
		e.attr.st_mode = (mode_t)d->entry->d_type << 12;
		if (plus) {
			struct rfs_inode *child = NULL;

			if (!dot && make_entry(fs, dir, dfd, clear, d->entry->d_name, &e, &child) < 0)
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
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                           struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_dirh *d = (struct rfs_dirh *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	inode_fd_done(fs_of(req), inode_of(req, ino));
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct rfs_dirh *d = (struct rfs_dirh *)(uintptr_t)fi->fh;
	int fd = dirfd(d->dp);

	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(fs_of(req)->v->live_fd, &sv) != 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes ------------------------------------------------------ */

/* "user.<sealed>" for a clear "user.<name>"; -EOPNOTSUPP outside user.* */
static int xattr_backing(struct rfs_fs *fs, const char *name, char *out, size_t outsz)
{
	int rc;

	if (strncmp(name, XATTR_USER, XATTR_USER_LEN) != 0 || !name[XATTR_USER_LEN])
		return -EOPNOTSUPP;
	memcpy(out, XATTR_USER, XATTR_USER_LEN);
	rc = rfs_xattr_name_seal(out + XATTR_USER_LEN, outsz - XATTR_USER_LEN, name + XATTR_USER_LEN,
	                         fs->v->keys);
	if (rc < 0)
		return rc == -ENAMETOOLONG ? -ERANGE : rc;
	if (strlen(out) > XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char bname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1], p[64];
	uint8_t *ct, owner[RFS_XATTR_OWNER_SIZE];
	int rc = fs->read_only ? -EROFS : xattr_backing(fs, name, bname, sizeof(bname)), fd;

	if (rc == 0 && in->type == S_IFLNK)
		rc = -EPERM;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	ct = malloc(size + RFS_BLOCK_OVERHEAD);
	if (!ct) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if ((fd = inode_fd(fs, in)) < 0) {
		rc = -fd;
	} else {
		proc_path(p, fd);
		rc = -rfs_xattr_owner_of(p, in->type == S_IFDIR, owner);
		if (rc == 0)
			rc = -rfs_xattr_value_seal(ct, (const uint8_t *)value, size, owner,
			                           bname + XATTR_USER_LEN, fs->v->keys);
		if (rc == 0)
			rc = setxattr(p, bname, ct, size + RFS_BLOCK_OVERHEAD, flags) == 0 ? 0 : errno;
		inode_fd_done(fs, in);
	}
	free(ct);
	if (rc == 0)
		note_inode(fs, in, RFS_SAVE_PROPERTY, name);
	fuse_reply_err(req, rc);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char bname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1], p[64];
	uint8_t *ct = NULL, *plain = NULL, owner[RFS_XATTR_OWNER_SIZE];
	ssize_t n;
	int rc = xattr_backing(fs, name, bname, sizeof(bname)), fd = -1;

	if (rc == -EOPNOTSUPP || rc == -ERANGE)
		rc = -ENODATA;    /* nothing outside user.* is ever stored */
	if (rc == 0 && (fd = inode_fd(fs, in)) < 0)
		rc = fd;
	if (rc < 0)
		goto out;
	proc_path(p, fd);
	n = getxattr(p, bname, NULL, 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	ct = malloc((size_t)n + 1);
	plain = malloc((size_t)n + 1);
	if (!ct || !plain) {
		rc = -ENOMEM;
		goto out;
	}
	n = getxattr(p, bname, ct, (size_t)n);
	if (n < (ssize_t)RFS_BLOCK_OVERHEAD || rfs_xattr_owner_of(p, in->type == S_IFDIR, owner) < 0 ||
	    rfs_xattr_value_open(plain, ct, (size_t)n, owner, bname + XATTR_USER_LEN, fs->v->keys) < 0) {
		log_inode(fs, in, "an extended attribute does not authenticate");
		rc = -EIO;
		goto out;
	}
	n -= RFS_BLOCK_OVERHEAD;
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		rc = -ERANGE;
	else
		fuse_reply_buf(req, (const char *)plain, (size_t)n);
out:
	if (fd >= 0)
		inode_fd_done(fs, in);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	free(ct);
	if (plain)
		sodium_memzero(plain, 1);
	free(plain);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char p[64], *list = NULL, *out = NULL, *q;
	size_t used = 0;
	ssize_t n;
	int rc = 0, fd = inode_fd(fs, in);

	if (fd < 0) {
		rc = -fd;
		goto reply;
	}
	proc_path(p, fd);
	n = listxattr(p, NULL, 0);
	if (n < 0) {
		rc = errno;
		goto reply;
	}
	list = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!list || !out) {
		rc = ENOMEM;
		goto reply;
	}
	n = listxattr(p, list, (size_t)n);
	if (n < 0) {
		rc = errno;
		goto reply;
	}
	for (q = list; q < list + n; q += strlen(q) + 1) {
		char clear[256];
		int len;

		if (strncmp(q, XATTR_USER, XATTR_USER_LEN) != 0)
			continue;
		len = rfs_xattr_name_open(clear, sizeof(clear), q + XATTR_USER_LEN, fs->v->keys);
		if (len < 0)
			continue;
		/* A clear name is never longer than its sealed form. */
		memcpy(out + used, XATTR_USER, XATTR_USER_LEN);
		memcpy(out + used + XATTR_USER_LEN, clear, (size_t)len + 1);
		used += XATTR_USER_LEN + (size_t)len + 1;
	}
	if (size == 0)
		fuse_reply_xattr(req, used);
	else if (used > size)
		rc = ERANGE;
	else
		fuse_reply_buf(req, out, used);
reply:
	if (fd >= 0)
		inode_fd_done(fs, in);
	if (rc)
		fuse_reply_err(req, rc);
	free(list);
	free(out);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char bname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1], p[64];
	int rc = fs->read_only ? -EROFS : xattr_backing(fs, name, bname, sizeof(bname)), fd;

	if (rc == -EOPNOTSUPP || rc == -ERANGE)
		rc = -ENODATA;
	if (rc == 0 && (fd = inode_fd(fs, in)) < 0)
		rc = fd;
	if (rc == 0) {
		proc_path(p, fd);
		rc = removexattr(p, bname) == 0 ? 0 : -errno;
		inode_fd_done(fs, in);
	}
	if (rc == 0)
		note_inode(fs, in, RFS_SAVE_PROPERTY, name);
	fuse_reply_err(req, -rc);
}

/* ---- setup ------------------------------------------------------------------------ */

int rfs_fs_init(struct rfs_fs *fs, struct rfs_vault *v, bool read_only)
{
	int root = openat(v->live_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rc;

	memset(fs, 0, sizeof(*fs));
	if (root < 0)
		return -errno;
	rc = rfs_itable_init(&fs->it, root);
	if (rc < 0) {
		close(root);
		return rc;
	}
	fs->v = v;
	fs->read_only = read_only;
	fs->as_root = geteuid() == 0;
	fs->timeout = 86400.0;
	return 0;
}

/* Folder name in dir, made (with uid/gid, recorded as created) when missing
** and make is set; *child gets one lookup. */
static int enter_dir_at(struct rfs_fs *fs, struct rfs_inode *dir, int pfd, const char *name,
                        bool make, uid_t uid, gid_t gid, struct rfs_inode **child)
{
	struct rfs_sealed_name sn;
	struct stat st;
	int rc = seal_name(fs, dir, name, &sn);

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
			rc = new_dirid(dfd, dirid);
		if (dfd >= 0)
			close(dfd);
		if (rc == 0 && fs->as_root)
			(void)fchownat(pfd, sn.backing, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (rc < 0)
			return rc;
		note_created(fs, dir, name, sn.backing, dirid, -1);
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

/* Record the whole of in, just rebuilt or revived, as "restored from rev". */
static int record_restore(struct rfs_fs *fs, struct rfs_inode *in, int fd, const char *rev)
{
	int rc = ensure_loaded(fs, in, fd);

	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&in->content);
	in->dirty = true;
	in->nranges = 0;              /* the whole file */
	memcpy(in->restored_from, rev, RFS_REV_HEX + 1);
	note_content_saved(fs, in, fd);
	pthread_rwlock_unlock(&in->content);
	return 0;
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
                        int src, uint64_t size)
{
	uint8_t *key = rfs_key_alloc(), *buf = malloc(1u << 20);
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
	if (rc == 0 && (fd = anon_file(dirfd, st->st_mode)) < 0)
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
	}
	if (rc == 0) {
		if (fs->as_root)
			(void)fchown(fd, st->st_uid, st->st_gid);
		copy_xattrs(old, fd);
		/* Restore reports success only for content a power cut keeps. */
		rc = fdatasync(fd) == 0 ? link_over(fd, dirfd, backing) : -errno;
		if (rc == 0)
			rc = rfs_dname_fsync(dirfd, ".");
	}
	if (old >= 0)
		close(old);
	if (rc < 0 && fd >= 0)
		close(fd);
	rfs_key_free(key);
	free(buf);
	return rc < 0 ? rc : fd;
}

/* Bring a deleted file back as itself: its old ciphertext, same id and key. */
static int revive_file(struct rfs_fs *fs, int dirfd, const struct rfs_sealed_name *sn, mode_t mode,
                       uid_t uid, gid_t gid, const char *rev, const char *source)
{
	int fd = anon_file(dirfd, mode);
	int rc = fd < 0 ? fd : rfs_dname_write_long(dirfd, sn);

	if (rc == 0)
		rc = rfs_history_read_cipher(fs->history, rev, source, fd);
	if (rc == 0 && fs->as_root)
		(void)fchown(fd, uid, gid);
	if (rc == 0)
		rc = fdatasync(fd) == 0 ? link_in(fd, dirfd, sn->backing) : -errno;
	if (rc == 0)
		rc = rfs_dname_fsync(dirfd, ".");
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
                        const struct stat *st, int src, uint64_t size)
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
		fd = rebuild_file(fs, w->dirfd, sn->backing, st, src, size);
		old->replaced = fd >= 0;
		pthread_rwlock_unlock(&old->content);
	}
	if (fd >= 0)
		rfs_inode_rename(&fs->it, old, NULL, NULL, NULL);   /* replaced */
	rfs_inode_forget(&fs->it, old, 1);
	return fd;
}

int rfs_fs_restore(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                   mode_t mode, uid_t uid, gid_t gid)
{
	struct rfs_inode *in = NULL;
	struct rfs_sealed_name sn;
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	int src = -1, fd = -1, rc = 0;

	if (!fs->history || !w)
		rc = fs->history ? -ENOMEM : -EROFS;
	if (rc == 0 && (src = memfd_create("recfs-restore", MFD_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_history_read(fs->history, rev, source, src);
	if (rc == 0 && fstat(src, &st) != 0)
		rc = -errno;
	if (rc == 0)
		rc = walk_to_last(fs, target, true, uid, gid, w);
	if (rc == 0)
		rc = seal_name(fs, w->dir, w->last, &sn);
	if (rc == 0) {
		uint64_t size = (uint64_t)st.st_size;

		if (fstatat(w->dirfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) == 0)
			fd = replace_file(fs, w, &sn, &st, src, size);
		else
			fd = revive_file(fs, w->dirfd, &sn, mode, uid, gid, rev, source);
		RFS_FAULT_POINT("restore_linked", fs->v->dirfd);
		rc = fd < 0 ? fd : 0;
		/* The kernel looks the name up again and finds the new file. */
		(void)fuse_lowlevel_notify_inval_entry(fs->se, rfs_ino_of(&fs->it, w->dir), w->last,
		                                       strlen(w->last));
		if (rc == 0 && fstat(fd, &st) != 0)
			rc = -errno;
		if (rc == 0)
			rc = rfs_inode_lookup(&fs->it, w->dir, w->last, sn.backing, &st, &in);
		if (rc == 0) {
			rc = record_restore(fs, in, fd, rev);
			rfs_inode_forget(&fs->it, in, 1);
		}
	}
	if (fd >= 0)
		close(fd);
	if (src >= 0)
		close(src);
	if (w)
		walk_end(fs, w);
	free(w);
	return rc;
}

int rfs_fs_read_file(struct rfs_fs *fs, const char *clear_path, char *buf, size_t cap)
{
	struct rfs_sealed_name sn;
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	ssize_t n = 0;
	int rc = w ? walk_to_last(fs, clear_path, false, 0, 0, w) : -ENOMEM;

	if (rc == 0)
		rc = seal_name(fs, w->dir, w->last, &sn);
	if (rc == 0 && fstatat(w->dirfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	if (rc == 0 && !S_ISREG(st.st_mode))
		rc = -EINVAL;
	if (rc == 0) {
		uint8_t *key = rfs_key_alloc();
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
		if (rc == 0)
		if (rc == 0) {
			const uint8_t *clear;

			n = rfs_cfile_read(&cf, cap - 1, 0, &clear);
			if (n > 0)
				memcpy(buf, clear, (size_t)n);
		}
		if (rc == 0 && n < 0)
			rc = (int)n;
		if (rc == 0)
			buf[n] = '\0';
		if (cf.fd >= 0)
			close(cf.fd);
		rfs_key_free(key);
	}
	if (w)
		walk_end(fs, w);
	free(w);
	return rc < 0 ? rc : (int)n;
}

void rfs_fs_destroy(struct rfs_fs *fs)
{
	rfs_itable_destroy(&fs->it);
}

const struct fuse_lowlevel_ops rfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
};
