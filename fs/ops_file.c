/*
** ops_file: file content. create, mknod, open (O_TRUNC), read, write, flush,
** release, fsync, and truncate for setattr: each through the file's
** ciphertext (fs/cfile.c) under its content lock, telling fs/save.c what
** changed and when a close or fsync is a save.
** Must never: answer with bytes that did not authenticate (EIO and one log
** line), or accept a write that reserved no space (ENOSPC, not a lost save).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/keystore.h"
#include "crypto/secmem.h"
#include "fs/cfile.h"
#include "fs/faultpoint.h"
#include "fs/log.h"
#include "fs/ops_internal.h"
#include "fs/retention.h"
#include "fs/save.h"

int rfs_ops_open_backing(struct rfs_fs *fs, struct rfs_inode *in, int flags, bool *noatime)
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
	*noatime = fd >= 0;
	if (fd < 0 && errno == EPERM)
		fd = open(p, bflags);   /* O_NOATIME needs ownership: a user mount of others' files */
	e = errno;
	inode_fd_done(fs, in);
	errno = e;
	return fd;
}

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
int rfs_ops_file_load(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	int rc = 0;

	pthread_mutex_lock(&in->mu);
	if (!in->key) {
		const char *why = NULL;
		uint8_t *key = rfs_secmem_key_alloc();

		if (!key) {
			rc = -ENOMEM;
		} else {
			rc = rfs_cfile_load(fs->v->ks, fd, key, in->file_id, &in->hdr_flags, &why);
			if (rc == -ENODATA)
				rc = init_empty(fs, fd, key, in);
			else if (rc == 0)
				in->key = key;
			if (in->key != key)
				rfs_secmem_key_free(key);    /* failed, or 0 bytes read-only: no key yet */
		}
		if (rc < 0 && why)
			rfs_ops_log_inode(fs, in, why);
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
		rfs_save_before_write(fs, in, 0);
	else if (!(key = rfs_secmem_key_alloc())) {
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
		rfs_ops_log_inode(fs, in, fresh ? "damaged file emptied by a truncation; it has a new key"
		                        : "damaged file emptied by a truncation");
	}
out:
	pthread_mutex_unlock(&in->mu);
	pthread_rwlock_unlock(&in->content);
	rfs_secmem_key_free(key);
	return rc;
}

int rfs_ops_file_set_size(struct rfs_fs *fs, struct rfs_inode *in, off_t size,
                          struct fuse_file_info *fi)
{
	struct rfs_cfile cf;
	int fd = fi ? fh_of(fi)->fd : -1;
	int own_fd = -1, rc;
	bool noatime;

	if (in->type == S_IFDIR)
		return -EISDIR;
	if (in->type != S_IFREG)
		return -EINVAL;
	if (size < 0)
		return -EINVAL;
	if (fd < 0) {
		own_fd = fd = rfs_ops_open_backing(fs, in, O_RDWR, &noatime);
		if (fd < 0)
			return -errno;
	}
	rc = rfs_ops_file_load(fs, in, fd);
	if (rc == -EIO && size == 0) {
		rc = reset_damaged(fs, in, fd);
		if (rc == 0) {
			pthread_rwlock_wrlock(&in->content);
			rfs_save_content(fs, in, fd);
			pthread_rwlock_unlock(&in->content);
		}
		goto out;
	}
	if (rc == 0 && !in->key)
		rc = -EBADF;       /* a 0-byte file through a read-only descriptor */
	if (rc == 0) {
		pthread_rwlock_wrlock(&in->content);
		rfs_save_before_write(fs, in, 0);
		cfile_of(in, fd, &cf);
		cf.undo = fs->v->undo;
		rc = rfs_cfile_truncate(&cf, (uint64_t)size);
		if (rc == 0 && cf.size != in->size) {
			rfs_save_mark_resize(in, in->size, cf.size);
			cfile_done(in, &cf);
			rfs_save_content(fs, in, fd);
		}
		pthread_rwlock_unlock(&in->content);
	}
out:
	if (own_fd >= 0)
		close(own_fd);
	return rc;
}

/* A handle holds its inode's descriptor too, until release: a file open for
** I/O stays reachable (getattr, setattr, xattrs) also once unlinked. */
static atomic_bool uncached_creators;

void rfs_ops_file_allow_uncached_creators(void)
{
	atomic_store(&uncached_creators, true);
}

/* counted: rfs_ops_file_open already counted this opener in nopen (see there). */
static int new_fh(struct rfs_fs *fs, struct fuse_file_info *fi, struct rfs_inode *in, int fd,
                  bool noatime, bool counted)
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
	fh->noatime = noatime;
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = 1;     /* every change to the file passes through this daemon */
	return 0;
}

/* An O_PATH descriptor of backing in dfd, if it is still the file of st; else -1. */
static int open_path_of(int dfd, const char *backing, const struct stat *st)
{
	int pfd = openat(dfd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat pst;

	if (pfd >= 0 && (fstat(pfd, &pst) != 0 || pst.st_dev != st->st_dev || pst.st_ino != st->st_ino)) {
		close(pfd);
		pfd = -1;
	}
	return pfd;
}

/* Make a new empty ciphertext file name in parent: its key, header and owner.
** On success *fd is open O_RDWR | O_NOATIME on it and key holds its content key;
** hdr (NULL, or RFS_HEADER_SIZE bytes) gets its header as written, st (or NULL)
** its stat after the last change made here, and *path_fd (or NULL) an O_PATH
** descriptor of it (-1 if none could be opened). */
static int make_file(struct rfs_fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, struct rfs_inode **dir, struct rfs_sealed_name *sn, int *fd,
                     uint8_t *key, uint8_t file_id[RFS_FILE_ID_SIZE], uint8_t *hdr,
                     struct stat *st, int *path_fd)
{
	int rc = rfs_ops_prepare_name(fs, req, parent, name, dir, sn), dfd;

	*fd = -1;
	if (path_fd)
		*path_fd = -1;
	if (rc < 0)
		return rc;
	if ((dfd = inode_fd(fs, *dir)) < 0)
		return dfd;
	/* By name, not O_TMPFILE and linkat (a fifth of a create's time): a crash
	** before the header leaves a 0-byte file, which is an empty file (FORMAT.md 5). */
	*fd = openat(dfd, sn->backing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOATIME, mode & 07777);
	if (*fd < 0) {
		rc = -errno;
		inode_fd_done(fs, *dir);
		return rc;
	}
	struct stat now;
	bool changed = false;

	rc = rfs_cfile_init_kept(fs->v->ks, *fd, key, file_id, hdr);
	if (rc == 0 && fstat(*fd, &now) != 0)   /* the file itself: no lookup by name */
		rc = -errno;
	if (rc == 0 && (rc = rfs_ops_give_to_caller(fs, req, *dir, sn->backing, &now)) > 0)
		rc = 0, changed = true;
	/* The caller's umask only, as in rfs_ops_anon_file; after the chown and the header's
	** write, which clear setuid and setgid (a write by an owner without CAP_FSETID). The
	** kernel has stripped the mode already where ext4 would. Most often the daemon's own
	** umask took nothing from it, and nothing cleared a bit: then no chmod. */
	if (rc == 0 && (changed || (now.st_mode & 07777) != (mode & 07777))) {
		if (fchmod(*fd, mode & 07777) != 0)
			rc = -errno;
		changed = true;
	}
	if (rc == 0 && changed && fstat(*fd, &now) != 0)
		rc = -errno;
	if (rc == 0 && st)
		*st = now;
	if (rc == 0 && path_fd)   /* for the descriptor cache: by name while dfd is held, */
		*path_fd = open_path_of(dfd, sn->backing, &now);   /* not a walk of /proc */
	if (rc < 0) {
		(void)unlinkat(dfd, sn->backing, 0);
		close(*fd);
		*fd = -1;
	}
	inode_fd_done(fs, *dir);
	return rc;
}

void rfs_ops_file_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                         struct fuse_file_info *fi)
{
	if (rfs_retention_refuse_entry(req, parent, name, RFS_RET_CREATE)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL, *in = NULL;
	struct rfs_sealed_name sn;
	struct fuse_entry_param e;
	struct stat st;
	uint8_t *key = rfs_secmem_key_alloc();
	uint8_t file_id[RFS_FILE_ID_SIZE], hdr[RFS_HEADER_SIZE];
	int fd = -1, path_fd = -1;
	int rc = key ? make_file(fs, req, parent, name, mode, &dir, &sn, &fd, key, file_id, hdr, &st,
	                         &path_fd)
	             : -ENOMEM;

	RFS_FAULT_POINT("file_created", fs->v->dirfd);      /* its key entry written, not yet durable */

	if (rc == 0)
		rc = rfs_ops_make_entry_of(fs, dir, name, sn.backing, &st, &e, &in);
	if (rc == 0) {
		rfs_inode_offer_fd(&fs->it, in, path_fd);  /* so new_fh opens no descriptor by name */
		path_fd = -1;
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
		rc = new_fh(fs, fi, in, fd, true, false);
		if (rc < 0)
			rfs_inode_forget(&fs->it, in, 1);
	}
	rfs_secmem_key_free(key);
	if (path_fd >= 0)
		close(path_fd);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, -rc);
		return;
	}
	rfs_save_created_file(fs, dir, name, sn.backing, file_id, fd, &st, hdr, sizeof(hdr));
	/* A write-only creator reads nothing back, so its writes need not pass through the
	** page cache. Through it, the kernel asks for security.capability (a GETXATTR) before
	** the first write to every file and splits each write at its pages. A caller without
	** CAP_FSETID still has its writes marked, and rfs_ops_file_write clears setuid and
	** setgid as before; other handles of the file keep their cache, which the kernel
	** drops where a direct write lands. */
	fi->direct_io = (fi->flags & O_ACCMODE) == O_WRONLY && atomic_load(&uncached_creators);
	fuse_reply_create(req, &e, fi);
}

void rfs_ops_file_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                        dev_t rdev)
{
	if (rfs_retention_refuse_entry(req, parent, name, RFS_RET_CREATE)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir = NULL;
	struct rfs_sealed_name sn;
	uint8_t *key;
	uint8_t file_id[RFS_FILE_ID_SIZE];
	int fd = -1, rc;

	if (!S_ISREG(mode)) {
		rfs_ops_refuse_special(req, "device nodes, FIFOs and sockets are");
		return;
	}
	/* mknod(S_IFREG) is a create that leaves no file open. */
	key = rfs_secmem_key_alloc();
	rc = key ? make_file(fs, req, parent, name, mode, &dir, &sn, &fd, key, file_id, NULL, NULL, NULL)
	         : -ENOMEM;
	rfs_secmem_key_free(key);
	rfs_ops_finish_new_entry(req, fs, dir, name, &sn, rc, true, file_id, fd);
	if (fd >= 0)
		close(fd);
}

/* O_TRUNC: empty the file now; the save is recorded when it is closed. */
static int truncate_on_open(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	struct rfs_cfile cf;
	int rc = rfs_ops_file_load(fs, in, fd);

	if (rc == -EIO)
		return reset_damaged(fs, in, fd);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&in->content);
	if (in->size > 0) {
		rfs_save_before_write(fs, in, 0);
		cfile_of(in, fd, &cf);
		rc = rfs_cfile_truncate(&cf, 0);
		if (rc == 0) {
			rfs_save_mark_resize(in, in->size, 0);
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

void rfs_ops_file_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (rfs_retention_refuse_open(req, ino, fi->flags)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	int fd, rc;
	bool noatime;

	widen_readahead(fs);

	if (fs->read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fd = rfs_ops_open_backing(fs, in, fi->flags, &noatime);
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
	rc = trunc ? rfs_ops_attr_kill_suidgid(req, fs, in, fd) : 0;   /* no CAP_FSETID */
	if (rc == 0)
		rc = trunc ? truncate_on_open(fs, in, fd)   /* loads, or empties a damaged file */
		           : rfs_ops_file_load(fs, in, fd);
	if (rc == 0)
		rc = new_fh(fs, fi, in, fd, noatime, trunc);
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

static void log_if_tampered(struct rfs_fs *fs, struct rfs_inode *in, ssize_t n)
{
	if (n == -EIO)
		rfs_ops_log_inode(fs, in, "a block fails authentication (tampered or damaged); run 'recfs fsck'");
}

void rfs_ops_file_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	struct rfs_cfile cf;
	const uint8_t *clear = NULL;
	ssize_t n;

	pthread_rwlock_rdlock(&in->content);
	cfile_of(in, fh_of(fi)->fd, &cf);
	rfs_cfile_share_begin();
	n = rfs_cfile_read(&cf, size, (uint64_t)off, &clear);
	pthread_rwlock_unlock(&in->content);
	log_if_tampered(fs, in, n);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, (const char *)clear, (size_t)n);
	rfs_cfile_share_end();
}

/* Set by the mount's read hook for the request this worker handles next. */
static _Thread_local void *write_data;
static _Thread_local void (*write_data_done)(void);

void rfs_ops_file_note_data(void *data, void (*done)(void))
{
	write_data = data;
	write_data_done = done;
}

/* Lent back before the reply: the next write may arrive as soon as it is sent. */
static void write_data_release(void)
{
	if (write_data && write_data_done)
		write_data_done();
	write_data = NULL;
	write_data_done = NULL;
}

void rfs_ops_file_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
	if (rfs_retention_refuse_ino(req, ino, RFS_RET_WRITE)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	struct rfs_cfile cf;
	ssize_t n;

	if (fs->read_only) {
		write_data_release();
		fuse_reply_err(req, EROFS);
		return;
	}
	n = rfs_ops_attr_kill_suidgid(req, fs, in, fh_of(fi)->fd);   /* a caller without CAP_FSETID */
	if (n < 0) {
		write_data_release();
		fuse_reply_err(req, (int)-n);
		return;
	}
	pthread_rwlock_wrlock(&in->content);
	rfs_save_before_write(fs, in, (uint64_t)off);
	cfile_of(in, fh_of(fi)->fd, &cf);
	cf.undo = fs->v->undo;
	if (write_data) {
		n = rfs_cfile_write_slots(&cf, write_data, size, (uint64_t)off);
	} else {
		rfs_cfile_share_begin();
		n = rfs_cfile_write(&cf, (const uint8_t *)buf, size, (uint64_t)off);
		rfs_cfile_share_end();
	}
	write_data_release();
	if (n > 0) {
		rfs_save_mark_write(in, (uint64_t)off, (uint64_t)n);
		cfile_done(in, &cf);
		in->trunc_only = false;
		rfs_save_wrote(fs, in, fh_of(fi)->fd);
	}
	pthread_rwlock_unlock(&in->content);
	log_if_tampered(fs, in, n);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void rfs_ops_file_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	rfs_save_at_flush(fs_of(req), inode_of(req, ino), fh_of(fi)->fd, fh_of(fi)->noatime);
	fuse_reply_err(req, 0);
}

void rfs_ops_file_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_fh *fh = fh_of(fi);
	struct rfs_inode *in = inode_of(req, ino);

	pthread_rwlock_wrlock(&in->content);
	in->nopen--;
	in->nwriters -= fh->writer;
	rfs_save_at_release(fs_of(req), in, fh->fd, fh->noatime);
	pthread_rwlock_unlock(&in->content);
	close(fh->fd);
	free(fh);
	inode_fd_done(fs_of(req), in);
	fuse_reply_err(req, 0);
}

void rfs_ops_file_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
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
	rfs_save_at_fsync(fs, in, fd, fh_of(fi)->noatime);
	fuse_reply_err(req, -rc);
}
