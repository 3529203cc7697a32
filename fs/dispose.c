/*
** dispose: see dispose.h. The steps of one disposal on the daemon's side of
** live/: its archive (fs/archive_build.h, put in place here), its ids and
** counts and its removal (walks of the record's tree, fs/walk.h), the list
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
#include "crypto/encoding.h"
#include "fs/archive_build.h"
#include "fs/cfile.h"
#include "fs/history/bytes.h"
#include "fs/log.h"
#include "fs/ops_internal.h"
#include "fs/register.h"
#include "fs/save.h"
#include "fs/transfers.h"
#include "fs/walk.h"

/* ---- the archive ---------------------------------------------------------- */

/* Whether dir is the vault folder or inside it, where a clear byte must never rest. */
static bool inside_vault(struct rfs_fs *fs, const char *dir)
{
	char real[PATH_MAX], vault[PATH_MAX];
	size_t n;

	if (!realpath(dir, real) || !realpath(fs->v->path, vault))
		return false;               /* a missing folder: the open says so */
	n = strlen(vault);
	return !strncmp(real, vault, n) && (real[n] == '/' || !real[n]);
}

/* text as dir/name, whole and durable (through name.part): never over another file. */
static int put_file(int dfd, const char *name, const char *text)
{
	char part[NAME_MAX + 8];
	int fd, rc;

	snprintf(part, sizeof(part), "%s.part", name);
	fd = openat(dfd, part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = rfs_io_write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && faccessat(dfd, name, F_OK, 0) == 0)
		rc = -EEXIST;
	if (rc == 0 && renameat(dfd, part, dfd, name) != 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dfd, part, 0);
	return rc;
}

/* VAULTNAME.pub beside the archives, once; one already there must be this key. */
static int put_pubkey(struct rfs_fs *fs, int dfd, const char *text)
{
	const char *base = strrchr(fs->v->path, '/');
	char name[NAME_MAX + 1], have[4096];
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "%s.pub", base && base[1] ? base + 1 : fs->v->path);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? put_file(dfd, name, text) : -errno;
	n = read(fd, have, sizeof(have) - 1);
	close(fd);
	return n >= 0 && (size_t)n == strlen(text) && !memcmp(have, text, (size_t)n) ? 0 : -EEXIST;
}

int rfs_dispose_archive(struct rfs_fs *fs, const struct rfs_peer *peer, const char *path,
                        const char *dir, const char *name, char *err, size_t errsz)
{
	struct rfs_archive_request req = { .path = path, .history = true, .compress = RFS_BAG_PLAIN,
	                                   .out_fd = -1 };
	struct rfs_archive_outcome o = { 0 };
	char part[NAME_MAX + 1], sig[NAME_MAX + 1], file[PATH_MAX], sha[129];
	int dfd = -1, rc = 0;
	bool made = false;

	if (inside_vault(fs, dir)) {
		snprintf(err, errsz, "the archive folder %s is inside the vault %s, where the archive's "
		         "clear bytes would rest: choose a folder outside it", dir, fs->v->path);
		return -EINVAL;
	}
	snprintf(part, sizeof(part), "%s.part", name);
	snprintf(sig, sizeof(sig), "%s.minisig", name);
	snprintf(file, sizeof(file), "%s/%s", dir, name);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		snprintf(err, errsz, "the archive folder %s cannot be opened: %s (make it, or name "
		         "another in the policy)", dir, strerror(errno));
		return rc;
	}
	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(dfd, sig, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		rc = -EEXIST;                   /* the caller picks the next name */
	if (rc == 0 && (req.out_fd = openat(dfd, part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		rc = -errno;
		snprintf(err, errsz, "the archive %s/%s cannot be made: %s", dir, part, strerror(errno));
	}
	made = rc == 0;
	if (rc == 0)
		rc = rfs_archive_build(fs, &req, &o, err, errsz);
	/* The signature first: an archive under its final name always has one. */
	if (rc == 0 && fsync(req.out_fd) != 0)
		rc = -errno;
	if (rc == 0)
		rc = put_file(dfd, sig, o.signature);
	if (rc == 0 && renameat(dfd, part, dfd, name) != 0) {
		rc = -errno;
		unlinkat(dfd, sig, 0);
	}
	if (rc == 0) {
		made = false;
		(void)put_pubkey(fs, dfd, o.pubkey);   /* a key file of another vault stays */
		rc = rfs_io_fsync_dir(dfd, ".");
	}
	if (rc < 0 && !err[0])
		snprintf(err, errsz, "the archive %s or its signature could not be made durable: %s",
		         file, strerror(-rc));
	if (rc == 0) {
		struct rfs_transfer t = { .kind = RFS_TRANSFER_DISPOSAL, .path = path, .file = file,
		                          .sha512 = sha, .key_id = o.key_id,
		                          .records = (const char *const *)o.records,
		                          .n_records = o.n_records };
		char pk[128] = "", *nl;

		rfs_hex_encode(sha, o.bag.sha512, 64);
		nl = strchr(o.pubkey, '\n');     /* the key is the second line of the file */
		if (nl)
			snprintf(pk, sizeof(pk), "%.*s", (int)strcspn(nl + 1, "\n"), nl + 1);
		t.pubkey = pk;
		rc = rfs_transfers_append(fs, peer, &t, err, errsz);
	}
	rfs_archive_outcome_free(&o);
	if (req.out_fd >= 0)
		close(req.out_fd);
	if (made)
		unlinkat(dfd, part, 0);
	close(dfd);
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
static int collect_entry(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before, void *arg)
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
	struct rfs_walk_at *r = malloc(sizeof(*r));
	int rc = r ? rfs_walk_get(fs, path, r) : -ENOMEM;

	if (rc == 0)
		rc = rfs_ops_dirid(fs, r->top.in, dirid);
	if (r)
		rfs_walk_put(fs, r);
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
	struct rfs_walk_at *r = malloc(sizeof(*r));
	int rc = r ? rfs_walk_get(fs, path, r) : -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = rfs_walk_visit(fs, &r->top, collect_entry, &c);
	if (rc == 0)
		rc = rfs_ops_dirid(fs, r->top.in, top);
	if (r)
		rfs_walk_put(fs, r);
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
static int unlink_backing(const struct rfs_walk_entry *e)
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
static int remove_entry(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before, void *arg)
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
	return rfs_walk_record(fs, path, remove_entry, (void *)who);
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
