/*
** dispose: see dispose.h. The steps of one disposal on the daemon's side of
** live/: the walk of a record's tree through the inode table (so the kernel's
** caches stay honest), its archive, its ids and counts, its removal, the list
** VAULT/disposed/N and the shred. The verbs are fs/dispose_ctl.c's.
*/
#include "fs/dispose.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/io.h"
#include "crypto/secmem.h"
#include "fs/archive_pax.h"
#include "fs/cfile.h"
#include "fs/history/bytes.h"
#include "fs/log.h"
#include "fs/ops_internal.h"
#include "fs/register.h"
#include "fs/save.h"

#define STREAM_CHUNK (1u << 20)

/* ---- the record's tree in live/ ------------------------------------------- */

/* One entry met by walk_tree; in holds one lookup of ours for the visit. */
struct tree_entry {
	struct rfs_inode *dir, *in;        /* its folder, and itself */
	int dirfd;                         /* the folder's descriptor (O_PATH) */
	const char *name, *backing;        /* in dir: clear and on disk */
	const char *path;                  /* clear, from the mount's root: "cases/smith/a.txt" */
	struct stat st;                    /* the plaintext view (rfs_ops_make_entry) */
};

/* before: called on the way down (a folder before what it holds); else on the
** way up (a folder after it). 0 to go on, or -errno to stop. */
typedef int (*tree_fn)(struct rfs_fs *fs, const struct tree_entry *e, bool before, void *arg);

static int visit(struct rfs_fs *fs, const struct tree_entry *e, tree_fn fn, void *arg);

/* Every entry of the folder e->in, depth first. */
static int walk_folder(struct rfs_fs *fs, const struct tree_entry *e, tree_fn fn, void *arg)
{
	const struct rfs_folder_keys *fk = NULL;
	int pfd, dfd, rc = rfs_ops_folder_keys(fs, e->in, &fk);
	struct dirent *d;
	DIR *dp = NULL;

	if (rc < 0)
		return rc;
	if ((pfd = inode_fd(fs, e->in)) < 0) {
		rfs_vault_folder_keys_put(fs->v, fk);
		return pfd;
	}
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(dp = fdopendir(dfd)))
		rc = -errno;
	while (rc == 0 && (errno = 0, d = readdir(dp)) != NULL) {
		struct fuse_entry_param fe;
		struct tree_entry child = { .dir = e->in, .dirfd = pfd, .backing = d->d_name };
		char clear[256], *path = NULL;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    rfs_name_is_internal(d->d_name))
			continue;
		rc = rfs_dname_open(fk, dirfd(dp), d->d_name, clear);
		if (rc == 0)
			rc = rfs_ops_make_entry(fs, e->in, pfd, clear, d->d_name, &fe, &child.in);
		if (rc == 0 && asprintf(&path, "%s/%s", e->path, clear) < 0)
			rc = -ENOMEM;
		if (rc == 0) {
			child.name = clear;
			child.path = path;
			child.st = fe.attr;
			rc = visit(fs, &child, fn, arg);
		}
		if (child.in)
			rfs_inode_forget(&fs->it, child.in, 1);
		free(path);
	}
	if (rc == 0 && errno)
		rc = -errno;
	if (dp)
		closedir(dp);
	else if (dfd >= 0)
		close(dfd);
	inode_fd_done(fs, e->in);
	rfs_vault_folder_keys_put(fs->v, fk);
	return rc;
}

static int visit(struct rfs_fs *fs, const struct tree_entry *e, tree_fn fn, void *arg)
{
	int rc = fn(fs, e, true, arg);

	if (rc == 0 && S_ISDIR(e->st.st_mode))
		rc = walk_folder(fs, e, fn, arg);
	return rc < 0 ? rc : fn(fs, e, false, arg);
}

/* The record at path ("cases/smith"): its folder's inode and its parent's,
** each with one lookup of ours (record_put drops them). -ENOENT when absent. */
struct record_at {
	struct rfs_inode *held[64];
	size_t nheld;
	struct tree_entry top;
	char name[256], backing[256];
};

static void record_put(struct rfs_fs *fs, struct record_at *r)
{
	if (r->top.dirfd >= 0 && r->top.dir)
		inode_fd_done(fs, r->top.dir);
	while (r->nheld > 0)
		rfs_inode_forget(&fs->it, r->held[--r->nheld], 1);
}

static int record_get(struct rfs_fs *fs, const char *path, struct record_at *r)
{
	struct rfs_inode *dir = &fs->it.root;
	const char *p = path + (*path == '/');

	memset(r, 0, sizeof(*r));
	r->top.dirfd = -1;
	while (*p) {
		size_t n = strcspn(p, "/");
		struct fuse_entry_param fe;
		struct rfs_sealed_name sn;
		struct rfs_inode *child;
		int dfd, rc;

		if (n == 0 || n >= sizeof(r->name) || r->nheld == sizeof(r->held) / sizeof(r->held[0]))
			return -EINVAL;
		memcpy(r->name, p, n);
		r->name[n] = '\0';
		p += n + (p[n] == '/');
		rc = rfs_ops_seal_name(fs, dir, r->name, &sn);
		if (rc < 0)
			return rc;
		if ((dfd = inode_fd(fs, dir)) < 0)
			return dfd;
		rc = rfs_ops_make_entry(fs, dir, dfd, r->name, sn.backing, &fe, &child);
		if (rc < 0) {
			inode_fd_done(fs, dir);
			return rc;
		}
		r->held[r->nheld++] = child;
		if (!*p) {                           /* the record itself: its folder's fd stays held */
			snprintf(r->backing, sizeof(r->backing), "%s", sn.backing);
			r->top = (struct tree_entry){ dir, child, dfd, r->name, r->backing,
			                              path + (*path == '/'), fe.attr };
			return S_ISDIR(fe.attr.st_mode) ? 0 : -ENOTDIR;
		}
		inode_fd_done(fs, dir);
		dir = child;
	}
	return -EINVAL;
}

/* Walk the record at path with fn. */
static int walk_record(struct rfs_fs *fs, const char *path, tree_fn fn, void *arg)
{
	struct record_at *r = malloc(sizeof(*r));
	int rc = r ? record_get(fs, path, r) : -ENOMEM;

	if (rc == 0)
		rc = visit(fs, &r->top, fn, arg);
	if (r)
		record_put(fs, r);
	free(r);
	return rc;
}

/* ---- the archive ---------------------------------------------------------- */

/* One file's plaintext into the tarball, block by block from its ciphertext. */
static int stream_file(struct rfs_fs *fs, const struct tree_entry *e, struct rfs_pax *pax)
{
	uint8_t *key = rfs_secmem_key_alloc();
	struct rfs_cfile cf = { .key = key, .fd = -1 };
	const char *why = NULL;
	uint64_t off = 0;
	int rc = key ? 0 : -ENOMEM;

	pthread_rwlock_rdlock(&e->in->content);      /* no writer changes it half way */
	if (rc == 0 && (cf.fd = openat(e->dirfd, e->backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_cfile_load(fs->v->ks, cf.fd, key, cf.file_id, &cf.hdr_flags, &why);
	if (rc == -ENODATA)
		rc = 0;                                   /* 0 bytes: an empty file, no key yet */
	else if (rc == 0)
		rc = rfs_cfile_stat_size(cf.fd, &cf.size);
	if (rc == 0)
		rc = rfs_pax_file(pax, e->path, e->st.st_mode, e->st.st_uid, e->st.st_gid,
		                  e->st.st_mtim, cf.size);
	while (rc == 0 && off < cf.size) {
		const uint8_t *clear;
		ssize_t n = rfs_cfile_read(&cf, STREAM_CHUNK, off, &clear);

		rc = n < 0 ? (int)n : n == 0 ? -EIO : rfs_pax_data(pax, clear, (size_t)n);
		off += n > 0 ? (uint64_t)n : 0;
	}
	if (rc == 0)
		rc = rfs_pax_file_end(pax);
	pthread_rwlock_unlock(&e->in->content);
	if (cf.fd >= 0)
		close(cf.fd);
	rfs_secmem_key_free(key);
	return rc;
}

static int archive_entry(struct rfs_fs *fs, const struct tree_entry *e, bool before, void *arg)
{
	const struct rfs_folder_keys *fk;
	char target[PATH_MAX];
	int rc;

	if (!before)
		return 0;
	if (S_ISDIR(e->st.st_mode))
		return rfs_pax_folder(arg, e->path, e->st.st_mode, e->st.st_uid, e->st.st_gid,
		                      e->st.st_mtim);
	if (S_ISREG(e->st.st_mode))
		return stream_file(fs, e, arg);
	rc = rfs_ops_folder_keys(fs, e->dir, &fk);
	if (rc < 0)
		return rc;
	rc = rfs_ops_open_target(fs, fk, e->dirfd, e->backing, target);
	rfs_vault_folder_keys_put(fs->v, fk);
	return rc < 0 ? rc : rfs_pax_symlink(arg, e->path, target, e->st.st_uid, e->st.st_gid,
	                                     e->st.st_mtim);
}

/* Whether dir is the vault folder or inside it, where a clear byte must never rest. */
static bool inside_vault(struct rfs_fs *fs, const char *dir)
{
	char real[PATH_MAX], vault[PATH_MAX];
	size_t n;

	if (!realpath(dir, real) || !realpath(fs->v->path, vault))
		return false;               /* a missing folder: rfs_pax_start says so */
	n = strlen(vault);
	return !strncmp(real, vault, n) && (real[n] == '/' || !real[n]);
}

int rfs_dispose_archive(struct rfs_fs *fs, const char *path, const char *dir, const char *name,
                        char *err, size_t errsz)
{
	struct rfs_pax *pax;
	int rc;

	if (inside_vault(fs, dir)) {
		snprintf(err, errsz, "the archive folder %s is inside the vault %s, where the archive's "
		         "clear bytes would rest: choose a folder outside it", dir, fs->v->path);
		return -EINVAL;
	}
	rc = rfs_pax_start(dir, name, &pax, err, errsz);

	if (rc < 0)
		return rc;
	rc = walk_record(fs, path, archive_entry, pax);
	if (rc < 0) {
		snprintf(err, errsz, "the archive of %s could not be written: %s", path, strerror(-rc));
		rfs_pax_abort(pax);
		return rc;
	}
	rc = rfs_pax_finish(pax);
	if (rc < 0)
		snprintf(err, errsz, "the archive %s/%s could not be made durable: %s", dir, name,
		         strerror(-rc));
	return rc;
}

/* ---- ids and counts --------------------------------------------------------- */

void rfs_dispose_ids_free(struct rfs_dispose_ids *d)
{
	free(d->ids);
	memset(d, 0, sizeof(*d));
}

static int add_id(struct rfs_dispose_ids *d, const uint8_t id[16], size_t *cap)
{
	int rc = rfs_bytes_grow((char **)&d->ids, cap, d->count * 16, 16, 64 * 16);

	if (rc < 0)
		return rc;
	memcpy(d->ids[d->count++], id, 16);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Each id once, in order. */
static void ids_unique(struct rfs_dispose_ids *d)
{
	size_t n = 0;

	if (d->count)
		qsort(d->ids, d->count, 16, id_cmp);
	for (size_t i = 0; i < d->count; i++) {
		if (n == 0 || memcmp(d->ids[n - 1], d->ids[i], 16) != 0)
			memmove(d->ids[n++], d->ids[i], 16);
	}
	d->count = n;
}

struct collect {
	struct rfs_dispose_ids *d;
	size_t cap;                    /* bytes of d->ids */
	bool count_versions;           /* no index of folders to ask (format 2): count by path */
};

static int count_version(const struct rfs_version *v, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/* What live/ holds of the record now: its ids (some not yet in history's index). */
static int collect_entry(struct rfs_fs *fs, const struct tree_entry *e, bool before, void *arg)
{
	struct collect *c = arg;
	uint8_t id[16], *key;
	char *clear = NULL;
	int rc = 0;

	if (!before)
		return 0;
	if (c->count_versions && fs->history && asprintf(&clear, "/%s", e->path) >= 0) {
		(void)rfs_history_log(fs->history, clear, 0, count_version, &c->d->versions);
		free(clear);
	}
	if (S_ISDIR(e->st.st_mode)) {
		c->d->folders++;
		rc = rfs_ops_dirid(fs, e->in, id);
		return rc < 0 ? rc : add_id(c->d, id, &c->cap);
	}
	if (!S_ISREG(e->st.st_mode))
		return 0;
	c->d->files++;
	key = rfs_secmem_key_alloc();
	int fd = openat(e->dirfd, e->backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint16_t flags;
	const char *why;

	rc = !key ? -ENOMEM : fd < 0 ? -errno : 0;
	if (rc == 0)
		rc = rfs_cfile_load_header(fs->v->ks, fd, key, id, &flags, &why);
	if (rc == 0)
		rc = add_id(c->d, id, &c->cap);
	else if (rc == -ENODATA || rc == -ENOENT)
		rc = 0;                    /* an empty file has no key yet; a shredded one none left */
	if (fd >= 0)
		close(fd);
	rfs_secmem_key_free(key);
	return rc;
}

/* The folder id of the record at path. */
static int record_dirid(struct rfs_fs *fs, const char *path, uint8_t dirid[RFS_DIRID_SIZE])
{
	struct record_at *r = malloc(sizeof(*r));
	int rc = r ? record_get(fs, path, r) : -ENOMEM;

	if (rc == 0)
		rc = rfs_ops_dirid(fs, r->top.in, dirid);
	if (r)
		record_put(fs, r);
	free(r);
	return rc;
}

int rfs_dispose_subtrees(struct rfs_fs *fs, const char *const *paths, size_t n,
                         struct rfs_subtree *out)
{
	uint8_t (*dirids)[16] = calloc(n ? n : 1, 16);
	size_t *at = calloc(n ? n : 1, sizeof(*at)), found = 0;
	struct rfs_subtree *got = calloc(n ? n : 1, sizeof(*got));
	int rc = dirids && at && got ? 0 : -ENOMEM;

	memset(out, 0, n * sizeof(*out));
	if (rc == 0 && (fs->v->format < 3 || !fs->history))
		rc = -EPROTONOSUPPORT;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (record_dirid(fs, paths[i], dirids[found]) == 0)
			at[found++] = i;
	}
	if (rc == 0 && found)
		rc = rfs_history_subtrees(fs->history, (const uint8_t (*)[16])dirids, found, got);
	for (size_t k = 0; rc == 0 && k < found; k++)
		out[at[k]] = got[k];
	free(dirids);
	free(at);
	free(got);
	return rc;
}

int rfs_dispose_collect(struct rfs_fs *fs, const char *path, const struct rfs_subtree *pre,
                        struct rfs_dispose_ids *out)
{
	struct collect c = { out, 0, fs->v->format < 3 };
	struct rfs_subtree sub = { 0 };
	uint8_t top[RFS_DIRID_SIZE];
	struct record_at *r = malloc(sizeof(*r));
	int rc = r ? record_get(fs, path, r) : -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = visit(fs, &r->top, collect_entry, &c);
	if (rc == 0)
		rc = rfs_ops_dirid(fs, r->top.in, top);
	if (r)
		record_put(fs, r);
	free(r);
	/* Format 3: every id that was ever inside, from history's index of folders. */
	if (rc == 0 && !c.count_versions && fs->history && !pre)
		rc = rfs_history_subtree(fs->history, top, &sub);
	if (!pre)
		pre = &sub;
	for (size_t i = 0; rc == 0 && i < pre->count; i++)
		rc = add_id(out, pre->ids[i], &c.cap);
	if (rc == 0 && !c.count_versions && fs->history) {
		out->files = pre->files;
		out->folders = pre->folders;
		out->versions = pre->versions;
	}
	rfs_subtree_free(&sub);
	if (rc < 0)
		rfs_dispose_ids_free(out);
	else
		ids_unique(out);
	return rc;
}

/* ---- VAULT/disposed/N --------------------------------------------------------- */

static int list_dir(struct rfs_fs *fs, bool make)
{
	int fd;

	if (make && mkdirat(fs->v->dirfd, RFS_DISPOSED_DIR, 0700) == 0)
		(void)rfs_io_fsync_dir(fs->v->dirfd, ".");
	fd = openat(fs->v->dirfd, RFS_DISPOSED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int rfs_dispose_write_list(struct rfs_fs *fs, uint64_t n, const struct rfs_dispose_ids *d,
                           char hash[65])
{
	char name[24];
	int dfd = list_dir(fs, true), fd = -1, rc = dfd < 0 ? dfd : 0;

	snprintf(name, sizeof(name), "%" PRIu64, n);
	if (rc == 0 && (fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_io_write_all(fd, d->ids, d->count * 16);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_io_fsync_dir(dfd, ".");
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	rfs_register_hash_hex(d->ids, d->count * 16, hash);
	return rc;
}

int rfs_dispose_read_list(struct rfs_fs *fs, uint64_t n, struct rfs_dispose_ids *out)
{
	char name[24];
	struct stat st;
	int dfd = list_dir(fs, false), fd = -1, rc = dfd < 0 ? dfd : 0;

	memset(out, 0, sizeof(*out));
	snprintf(name, sizeof(name), "%" PRIu64, n);
	if (rc == 0 && (fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0 && fstat(fd, &st) != 0)
		rc = -errno;
	if (rc == 0 && st.st_size % 16)
		rc = -EIO;
	if (rc == 0 && st.st_size && !(out->ids = malloc((size_t)st.st_size)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = rfs_io_pread_all(fd, out->ids, (size_t)st.st_size, 0);
	if (rc == 0)
		out->count = (size_t)st.st_size / 16;
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (rc < 0)
		rfs_dispose_ids_free(out);
	return rc;
}

/* ---- removal and shred ---------------------------------------------------------- */

/* Remove e's backing entry (a folder: empty by now, but for its .dirid). */
static int unlink_backing(const struct tree_entry *e)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	int dfd, rc;

	if (!S_ISDIR(e->st.st_mode))
		return unlinkat(e->dirfd, e->backing, 0) == 0 ? 0 : -errno;
	dfd = openat(e->dirfd, e->backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	rc = rfs_dname_take_dirid(dfd, dirid);
	if (rc == 0 && unlinkat(e->dirfd, e->backing, AT_REMOVEDIR) != 0) {
		rc = -errno;
		if (rfs_dname_write_dirid(dfd, dirid) < 0)
			rfs_log(LOG_ERR, "dispose: could not put back a folder id: run 'recfs fsck'");
	}
	close(dfd);
	return rc;
}

/* Deepest first: each entry goes once what it held has gone, recorded as deleted. */
static int remove_entry(struct rfs_fs *fs, const struct tree_entry *e, bool before, void *arg)
{
	int rc;

	if (before)
		return 0;
	rc = unlink_backing(e);
	if (rc < 0)
		return rc;
	rfs_dname_remove_long(e->dirfd, e->backing);
	if (e->in->key)
		rfs_undo_drop(fs->v->undo, e->in->file_id);
	rfs_save_deleted_as(fs, e->dir, e->name, e->backing, &e->st, e->in, arg);
	rfs_inode_rename(&fs->it, e->in, NULL, NULL, NULL);
	if (fs->se)
		(void)fuse_lowlevel_notify_inval_entry(fs->se, rfs_ino_of(&fs->it, e->dir), e->name,
		                                       strlen(e->name));
	return 0;
}

int rfs_dispose_remove(struct rfs_fs *fs, const char *path, const struct rfs_who *who)
{
	return walk_record(fs, path, remove_entry, (void *)who);
}

int rfs_dispose_shred(struct rfs_fs *fs, const struct rfs_dispose_ids *d)
{
	int first = 0;

	for (size_t i = 0; i < d->count; i++) {
		int rc = rfs_keystore_destroy(fs->v->ks, d->ids[i]);

		if (rc < 0 && rc != -ENOENT && !first) {
			rfs_log(LOG_ERR, "dispose: a key could not be destroyed (%s)", strerror(-rc));
			first = rc;
		}
	}
	rfs_vault_folder_keys_forget(fs->v, (const uint8_t (*)[16])d->ids, d->count);
	if (fs->history)
		(void)rfs_history_disposed_reload(fs->history);
	return first;
}
