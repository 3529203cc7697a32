/*
** ops: see ops.h. The table of FUSE operations, the connection's settings
** (op_init), the file system's setup, and the helpers every handler family
** shares (ops_internal.h): folder ids, sealed names, the plaintext view of
** attributes, new entries, whole-or-nothing files.
**
** Modelled on libfuse's passthrough_ll, but an inode holds no descriptor of
** its own: each operation borrows one from the inode table (inode_fd ...
** inode_fd_done), cached or reopened through the parent, so a vault of
** millions of files needs no more descriptors than a small one, renames of
** folders cost nothing, and no path is re-resolved from the root.
** Must never: grow handlers of its own; they go to ops_attr.c, ops_file.c,
** ops_dir.c or ops_xattr.c by family.
*/
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "fs/closer.h"
#include "fs/faultpoint.h"
#include "fs/history/history.h"
#include "fs/log.h"
#include "fs/ops_internal.h"
#include "fs/save.h"

/* Log a problem with a file by its clear path (the daemon's own log only). */
void rfs_ops_log_inode(struct rfs_fs *fs, struct rfs_inode *in, const char *what)
{
	char *path = rfs_inode_path(&fs->it, in, true);

	rfs_log(LOG_ERR, "/%s: %s", path ? path : "(deleted file)", what);
	free(path);
}

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

int rfs_ops_new_dirid(struct rfs_fs *fs, int dirfd, uint8_t dirid[RFS_DIRID_SIZE])
{
	int rc = rfs_vault_new_folder_id(fs->v, dirid);

	return rc < 0 ? rc : rfs_dname_write_dirid(dirfd, dirid);
}

int rfs_ops_dirid(struct rfs_fs *fs, struct rfs_inode *dir, uint8_t out[RFS_DIRID_SIZE])
{
	bool healed = false;
	int rc = 0;

	pthread_mutex_lock(&dir->mu);
	if (!dir->dirid_ok) {
		int dfd = inode_fd(fs, dir);

		rc = dfd < 0 ? dfd : rfs_dname_read_dirid(dfd, dir->dirid);
		if (rc == -ENOENT && dfd >= 0 && rfs_dname_folder_empty(dfd, false) == 0 &&
		    rfs_ops_new_dirid(fs, dfd, dir->dirid) == 0) {
			rc = rfs_dname_read_dirid(dfd, dir->dirid);
			healed = true;
		}
		if (dfd >= 0) {
			rc = rc < 0 ? -EIO : 0;
			inode_fd_done(fs, dir);
		}
		dir->dirid_ok = rc == 0;
	}
	pthread_mutex_unlock(&dir->mu);
	if (rc == -EIO && rebuild_dirid(fs, dir) == 0) {
		rfs_ops_log_inode(fs, dir, "folder id was damaged or empty; rebuilt from history");
		rc = 0;
		healed = true;               /* history records the folder whole again */
	} else if (rc == -EIO) {
		rfs_ops_log_inode(fs, dir, "folder id missing or unreadable; run 'recfs fsck'");
	}
	if (rc == 0) {
		pthread_mutex_lock(&dir->mu);
		memcpy(out, dir->dirid, RFS_DIRID_SIZE);
		pthread_mutex_unlock(&dir->mu);
	}
	if (rc == 0 && healed)            /* history records the folder as it is now */
		rfs_save_inode(fs, dir, RFS_SAVE_CREATED, NULL);
	return rc;
}

int rfs_ops_folder_keys(struct rfs_fs *fs, struct rfs_inode *dir,
                        const struct rfs_folder_keys **fk)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	int rc = rfs_ops_dirid(fs, dir, dirid);

	if (rc == 0)
		rc = rfs_vault_folder_keys_get(fs->v, dirid, fk);
	if (rc == -ENOENT) {
		rfs_ops_log_inode(fs, dir, "folder key destroyed (disposed of): its names cannot be read");
		rc = -EIO;
	}
	return rc;
}

int rfs_ops_parent_keys(struct rfs_fs *fs, struct rfs_inode *in,
                        const struct rfs_folder_keys **fk)
{
	static const uint8_t any_folder[RFS_DIRID_SIZE];
	struct rfs_inode *parent;
	char backing[NAME_MAX + 1];
	int rc;

	/* Format 2 seals targets and xattrs under vault-wide keys, whatever the
	** folder: no parent needed (a file unlinked while open keeps its xattrs). */
	if (fs->v->format < 3)
		return rfs_vault_folder_keys_get(fs->v, any_folder, fk);
	rc = rfs_inode_get_parent_fd(&fs->it, in, &parent, backing);
	if (rc < 0)
		return rc;
	rc = rfs_ops_folder_keys(fs, parent, fk);
	rfs_inode_put_fd(&fs->it, parent);
	return rc;
}

int rfs_ops_seal_name(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                      struct rfs_sealed_name *sn)
{
	const struct rfs_folder_keys *fk;
	int rc = rfs_ops_folder_keys(fs, dir, &fk);

	if (rc < 0)
		return rc;
	rc = rfs_dname_seal(fk, name, sn);
	rfs_vault_folder_keys_put(fs->v, fk);
	return rc;
}

int rfs_ops_open_target(struct rfs_fs *fs, const struct rfs_folder_keys *fk, int dirfd,
                        const char *path, char clear[PATH_MAX])
{
	char text[PATH_MAX];
	ssize_t n = readlinkat(dirfd, path, text, sizeof(text) - 1);
	int rc;

	(void)fs;
	if (n < 0)
		return -errno;
	text[n] = '\0';
	rc = rfs_name_target_open(clear, PATH_MAX, text, fk);
	return rc < 0 ? -EIO : rc;
}

/* The clear length of the symlink dirfd/path, which is in the folder dir
** (NULL: find it as in's parent). */
static int symlink_len(struct rfs_fs *fs, struct rfs_inode *dir, struct rfs_inode *in, int dirfd,
                       const char *path, size_t *len)
{
	const struct rfs_folder_keys *fk;
	char clear[PATH_MAX];
	int rc = dir ? rfs_ops_folder_keys(fs, dir, &fk) : rfs_ops_parent_keys(fs, in, &fk);

	if (rc < 0)
		return rc;
	rc = rfs_ops_open_target(fs, fk, dirfd, path, clear);
	rfs_vault_folder_keys_put(fs->v, fk);
	if (rc < 0)
		return rc;
	*len = (size_t)rc;
	return 0;
}

/* Turn the backing file's stat into the plaintext view. The entry is in the
** folder dir, or (dir NULL) is the inode in. */
static int plain_attr(struct rfs_fs *fs, struct rfs_inode *dir, struct rfs_inode *in, int dirfd,
                      const char *path, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		bool valid;
		uint64_t size = rfs_content_plain_size((uint64_t)st->st_size, &valid);
		uint64_t dense = (size + 4095) / 4096 * 8;

		/* A dense file reports what it would take on disk in clear; a sparse one scales down. */
		if ((uint64_t)st->st_blocks * 512 >= (uint64_t)st->st_size)
			st->st_blocks = (blkcnt_t)dense;
		else
			st->st_blocks = (blkcnt_t)((uint64_t)st->st_blocks * RFS_BLOCK_SIZE / RFS_SLOT_SIZE);
		st->st_size = (off_t)size;
	} else if (S_ISLNK(st->st_mode)) {
		size_t len = 0;
		int rc = symlink_len(fs, dir, in, dirfd, path, &len);

		if (rc < 0)
			return rc;
		st->st_size = (off_t)len;
	}
	return 0;
}

int rfs_ops_stat_inode(struct rfs_fs *fs, struct rfs_inode *in, struct stat *st)
{
	return rfs_ops_stat_inode_raw(fs, in, NULL, st);
}

int rfs_ops_stat_inode_raw(struct rfs_fs *fs, struct rfs_inode *in, struct stat *raw,
                           struct stat *st)
{
	int fd = inode_fd(fs, in), rc;

	if (fd < 0)
		return fd;
	rc = fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	if (rc == 0 && raw)
		*raw = *st;
	if (rc == 0)
		rc = plain_attr(fs, NULL, in, fd, "", st);
	inode_fd_done(fs, in);
	return rc;
}

/* The inode lookup and reply of e, whose attr holds the backing entry's stat. */
static int entry_of_stat(struct rfs_fs *fs, struct rfs_inode *parent, int dirfd, const char *name,
                         const char *backing, struct fuse_entry_param *e, struct rfs_inode **out)
{
	struct rfs_inode *in;
	int rc;

	if (!S_ISREG(e->attr.st_mode) && !S_ISDIR(e->attr.st_mode) && !S_ISLNK(e->attr.st_mode))
		return -EIO;
	rc = plain_attr(fs, parent, NULL, dirfd, backing, &e->attr);
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

/* fstatat + inode lookup for a backing entry; fills e. */
int rfs_ops_make_entry(struct rfs_fs *fs, struct rfs_inode *parent, int dirfd, const char *name,
                       const char *backing, struct fuse_entry_param *e, struct rfs_inode **out)
{
	memset(e, 0, sizeof(*e));
	if (fstatat(dirfd, backing, &e->attr, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	return entry_of_stat(fs, parent, dirfd, name, backing, e, out);
}

int rfs_ops_make_entry_of(struct rfs_fs *fs, struct rfs_inode *parent, const char *name,
                          const char *backing, const struct stat *st,
                          struct fuse_entry_param *e, struct rfs_inode **out)
{
	memset(e, 0, sizeof(*e));
	e->attr = *st;
	if (!S_ISREG(st->st_mode))
		return -EIO;                 /* a file's: a link's size would need its folder */
	return entry_of_stat(fs, parent, -1, name, backing, e, out);
}

/* New objects belong to the caller, as on a local disk, when the daemon is root. */
int rfs_ops_give_to_caller(struct rfs_fs *fs, fuse_req_t req, struct rfs_inode *parent,
                           const char *backing, const struct stat *st)
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
	if (st && st->st_uid == ctx->uid && st->st_gid == gid)
		rc = 0;                        /* root's own file: a chown would change only ctime */
	else
		rc = fchownat(pfd, backing, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) == 0 ? 1 : -errno;
	inode_fd_done(fs, parent);
	return rc;
}

/* An unnamed file in dirfd (O_TMPFILE): filled, then linked in, so a crash
** never leaves a file without its header. -EOPNOTSUPP where the backing file
** system has no O_TMPFILE. */
int rfs_ops_anon_file(int dirfd, mode_t mode)
{
	/* O_NOATIME: the daemon's own reads (history's, read-modify-write) keep the user's atime. */
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC | O_NOATIME, mode & 07777);

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

int rfs_ops_link_in(int fd, int dirfd, const char *name)
{
	char p[64];

	proc_path(p, fd);
	return linkat(AT_FDCWD, p, dirfd, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

/* Put fd (an O_TMPFILE file) in place of dirfd/name, atomically. */
int rfs_ops_link_over(int fd, int dirfd, const char *name)
{
	char tmp[64];
	uint8_t r[8];
	int rc;

	rfs_random_bytes(r, sizeof(r));
	snprintf(tmp, sizeof(tmp), "%s%02x%02x%02x%02x%02x%02x%02x%02x", RFS_TMP_PREFIX, r[0], r[1],
	         r[2], r[3], r[4], r[5], r[6], r[7]);
	rc = rfs_ops_link_in(fd, dirfd, tmp);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) != 0) {
		rc = -errno;
		(void)unlinkat(dirfd, tmp, 0);
	}
	return rc;
}

/* Common tail of mkdir/symlink/create: side file for a long name first. */
int rfs_ops_prepare_name(struct rfs_fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
                         struct rfs_inode **dir, struct rfs_sealed_name *sn)
{
	int rc;

	if (fs->read_only)
		return -EROFS;
	*dir = inode_of(req, parent);
	rc = rfs_ops_seal_name(fs, *dir, name, sn);
	if (rc == 0 && (rc = inode_fd(fs, *dir)) >= 0) {
		int dfd = rc;

		rc = rfs_dname_write_long(dfd, sn);
		inode_fd_done(fs, *dir);
	}
	return rc;
}

/* Finish mkdir/symlink/mknod: owner, entry, version, then the reply, so the
** version is recorded before the kernel can act on the new entry. */
void rfs_ops_finish_new_entry(fuse_req_t req, struct rfs_fs *fs, struct rfs_inode *dir,
                              const char *name, const struct rfs_sealed_name *sn, int rc,
                              bool owned, const uint8_t *id, int fd)
{
	struct fuse_entry_param e;
	struct rfs_inode *in = NULL;
	bool made_folder = id && !owned;
	int dfd = -1;

	if (rc == 0 && !owned && (rc = rfs_ops_give_to_caller(fs, req, dir, sn->backing, NULL)) > 0)
		rc = 0;
	if (rc == 0 && (rc = dfd = inode_fd(fs, dir)) >= 0) {
		rc = rfs_ops_make_entry(fs, dir, dfd, name, sn->backing, &e, made_folder ? &in : NULL);
		inode_fd_done(fs, dir);
	}
	if (rc == 0 && made_folder) {    /* mkdir: a folder of nothing but its .dirid */
		pthread_mutex_lock(&in->mu);  /* known now, so its first chmod costs no read */
		memcpy(in->dirid, id, RFS_DIRID_SIZE);
		in->dirid_ok = true;
		pthread_mutex_unlock(&in->mu);
		rfs_save_made_folder(fs, dir, name, sn->backing, id);
	} else if (rc == 0)
		rfs_save_created(fs, dir, name, sn->backing, id, fd);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void rfs_ops_refuse_special(fuse_req_t req, const char *what)
{
	static int said;

	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		rfs_log(LOG_NOTICE, "%s refused (EPERM): history cannot record them", what);
	fuse_reply_err(req, EPERM);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	const struct rfs_fs *fs = userdata;

	RFS_FAULT_POINT("init", fs->v->dirfd);   /* a daemon that dies here mounted nothing */
	/* libfuse 3.14 ends the session when INIT's max_read is not the option's. */
	if (fs->max_read)
		conn->max_read = fs->max_read;
	/* No writeback cache: with it, write(2) only fills the kernel's page cache and
	** never fails, so a full disk lost data silently while the kernel's size grew
	** past what was stored. Each write reaches rfs_ops_file_write, which reserves
	** its space first and answers ENOSPC, and the kernel counts only what was stored. */
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

int rfs_ops_init(struct rfs_fs *fs, struct rfs_vault *v, bool read_only)
{
	int root = openat(v->live_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rc;

	memset(fs, 0, sizeof(*fs));
	if (root < 0)
		return -errno;
	rc = rfs_inode_table_init(&fs->it, root);
	if (rc < 0) {
		close(root);
		return rc;
	}
	if (rfs_closer_start() < 0)
		rfs_log(LOG_WARNING, "could not start the threads that close removed files; "
		        "removals close them themselves");
	fs->v = v;
	fs->read_only = read_only;
	fs->as_root = geteuid() == 0;
	fs->timeout = 86400.0;
	/* Writers first: a rename waits for the saves under way, not for every save to come. */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->save_order, &ra);
	pthread_rwlockattr_destroy(&ra);
	return 0;
}

void rfs_ops_destroy(struct rfs_fs *fs)
{
	rfs_inode_table_destroy(&fs->it);
	rfs_closer_stop();
	pthread_rwlock_destroy(&fs->save_order);
}

const struct fuse_lowlevel_ops rfs_ops = {
	.init = op_init,
	.lookup = rfs_ops_attr_lookup,
	.forget = rfs_ops_attr_forget,
	.forget_multi = rfs_ops_attr_forget_multi,
	.getattr = rfs_ops_attr_getattr,
	.setattr = rfs_ops_attr_setattr,
	.readlink = rfs_ops_attr_readlink,
	.mknod = rfs_ops_file_mknod,
	.mkdir = rfs_ops_dir_mkdir,
	.unlink = rfs_ops_dir_unlink,
	.rmdir = rfs_ops_dir_rmdir,
	.symlink = rfs_ops_dir_symlink,
	.rename = rfs_ops_dir_rename,
	.link = rfs_ops_dir_link,
	.open = rfs_ops_file_open,
	.read = rfs_ops_file_read,
	.write = rfs_ops_file_write,
	.flush = rfs_ops_file_flush,
	.release = rfs_ops_file_release,
	.fsync = rfs_ops_file_fsync,
	.opendir = rfs_ops_dir_opendir,
	.readdir = rfs_ops_dir_readdir,
	.readdirplus = rfs_ops_dir_readdirplus,
	.releasedir = rfs_ops_dir_releasedir,
	.fsyncdir = rfs_ops_dir_fsyncdir,
	.statfs = rfs_ops_attr_statfs,
	.setxattr = rfs_ops_xattr_set,
	.getxattr = rfs_ops_xattr_get,
	.listxattr = rfs_ops_xattr_list,
	.removexattr = rfs_ops_xattr_remove,
	.create = rfs_ops_file_create,
};
