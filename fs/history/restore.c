/*
** restore: put an earlier version back into live/ when the vault is not
** mounted (the daemon restores through its own write path instead).
** Must never: touch live/ before the old version has authenticated, or
** leave a half-written file under the record's name (temp file + rename).
*/
#include "fs/history/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/names.h"

#define RESTORE_TMP ".recfs-restore.tmp"

static int write_small(int dirfd, const char *name, const void *p, size_t n, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int rc = write(fd, p, n) == (ssize_t)n ? 0 : -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int live_dirid(int dirfd, uint8_t dirid[16])
{
	int fd = openat(dirfd, RFS_DIRID_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = read(fd, dirid, 16) == 16 ? 0 : -EIO;
	close(fd);
	return rc;
}

/* Backing name of clear name c in a live folder; writes the .n side file when long and asked. */
static int backing_in(struct rfs_history *h, int dirfd, const char *c, char backing[256],
                      bool write_side)
{
	uint8_t dirid[16];
	char text[RFS_ENC_NAME_MAX + 1];
	int rc = live_dirid(dirfd, dirid);
	if (rc < 0)
		return rc;
	if (rfs_vault_name_seal(h->v, dirid, c, text, sizeof text) < 0)
		return -EINVAL;
	bool is_long = rfs_name_backing(backing, text);
	if (is_long && write_side) {
		char side[300];
		snprintf(side, sizeof side, "%s%s", backing, RFS_LONG_SUFFIX);
		unlinkat(dirfd, side, 0);
		rc = write_small(dirfd, side, text, strlen(text), 0400);
	}
	return rc;
}

struct restore_ctx {
	struct rfs_history *h;
	char cpath[8192];
	size_t len;
	uint8_t dirid[16];                /* of the last folder created */
};

static void cpath_add(struct restore_ctx *x, const char *backing)
{
	x->len += (size_t)snprintf(x->cpath + x->len, sizeof x->cpath - x->len, "%s%s",
	                           x->len ? "/" : "", backing);
}

static int record_simple(struct rfs_history *h, enum rfs_save_kind kind, enum rfs_obj_type type,
                         const char *cpath, const char *clear, const char *rev, int fd,
                         const uint8_t id[16], uint64_t size)
{
	struct stat st;
	if (fstatat(h->v->live_fd, cpath, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct rfs_save s = {
		.kind = kind, .type = type, .cipher_path = cpath, .clear_path = clear,
		.mode = st.st_mode, .uid = st.st_uid, .gid = st.st_gid, .mtime = st.st_mtim,
		.restored_from = rev, .fd = fd, .size = size,
	};
	memcpy(s.file_id, id, 16);
	return rfs_history_record(h, &s);
}

/* Open (creating when missing) each parent folder of clear_path in live/. */
static int open_parents(struct restore_ctx *x, const char *clear_path, int *dirfd, char **last)
{
	char *copy = strdup(clear_path), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int fd = dup(x->h->v->live_fd), rc = fd < 0 ? -errno : 0;
	char clear[8192] = "";
	size_t clen = 0;
	char *c = strtok_r(copy, "/", &save);
	while (rc == 0 && c) {
		char *next = strtok_r(NULL, "/", &save);
		if (!next) {
			*last = strdup(c);
			rc = *last ? 0 : -ENOMEM;
			break;
		}
		char backing[256];
		clen += (size_t)snprintf(clear + clen, sizeof clear - clen, "/%s", c);
		rc = backing_in(x->h, fd, c, backing, false);
		bool created = false;
		if (rc == 0 && mkdirat(fd, backing, 0755) == 0) {
			uint8_t dirid[16];
			rc = rfs_vault_new_folder_id(x->h->v, dirid);
			int sub = rc < 0 ? -1 : openat(fd, backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			rc = rc < 0 ? rc : sub < 0 ? -errno : write_small(sub, RFS_DIRID_FILE, dirid, 16, 0400);
			memcpy(x->dirid, dirid, 16);
			if (sub >= 0)
				close(sub);
			if (rc == 0)
				rc = backing_in(x->h, fd, c, backing, true);
			created = true;
		} else if (rc == 0 && errno != EEXIST) {
			rc = -errno;
		}
		int sub = rc == 0 ? openat(fd, backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) : -1;
		if (rc == 0 && sub < 0)
			rc = -errno;
		close(fd);
		fd = sub;
		if (rc == 0)
			cpath_add(x, backing);
		if (rc == 0 && created)
			rc = record_simple(x->h, RFS_SAVE_CREATED, RFS_OBJ_DIR, x->cpath, clear, NULL, -1,
			                   x->dirid, 0);
		c = next;
	}
	free(copy);
	if (rc == 0 && !*last)
		rc = -EISDIR;
	if (rc < 0 && fd >= 0)
		close(fd);
	*dirfd = rc == 0 ? fd : -1;
	return rc;
}

/* The plaintext of the version read to authenticate it: only counted. */
struct authenticated {
	const struct rfs_progress *progress;
	uint64_t size, done;
};

static int count_plain(void *arg, const void *buf, size_t len)
{
	struct authenticated *a = arg;

	(void)buf;
	a->done += len;
	rfs_progress_note(a->progress, "", 0, a->done, 0, a->size);
	return 0;
}

int rfs_history_restore(struct rfs_history *h, const char *source, const char *clear_path,
                        const char *rev, const struct rfs_progress *progress)
{
	if (!h->stage)
		return -EROFS;
	struct rfs_version st;
	int rc = rfs_history_stat(h, rev, source, &st);
	if (rc < 0)
		return rc;
	if (st.destroyed)
		return -EKEYREVOKED;             /* a disposal destroyed it: nothing to put back */
	if (st.type == RFS_OBJ_DIR)
		return -EISDIR;
	if (st.type == RFS_OBJ_SYMLINK)
		return -EOPNOTSUPP;
	struct authenticated a = { progress, st.size, 0 };
	rc = rfs_history_read_plain(h, st.rev, source, count_plain, &a);   /* authenticates */
	struct rfs_xattr_set xa = { 0 };    /* its attributes, authenticated before live/ is touched */
	if (rc == 0)
		rc = rfs_history_xattrs(h, st.rev, source, &xa);
	if (rc < 0)
		return rc;
	struct restore_ctx x = { .h = h };
	int dirfd = -1;
	char *name = NULL, backing[256];
	rc = open_parents(&x, clear_path, &dirfd, &name);
	if (rc == 0)
		rc = backing_in(h, dirfd, name, backing, true);
	int fd = -1;
	if (rc == 0) {
		unlinkat(dirfd, RESTORE_TMP, 0);
		fd = openat(dirfd, RESTORE_TMP, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, st.mode & 07777);
		rc = fd < 0 ? -errno : rfs_history_read_cipher(h, st.rev, source, fd);
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, RESTORE_TMP, dirfd, backing) < 0)
		rc = -errno;
	if (rc < 0 && dirfd >= 0)
		unlinkat(dirfd, RESTORE_TMP, 0);
	uint8_t dirid[16];
	if (rc == 0 && (rc = live_dirid(dirfd, dirid)) == 0)
		rc = rfs_history_xattrs_apply(h->v, fd, false, dirid, &xa);
	rfs_history_xattrs_free(&xa);
	if (rc == 0) {
		cpath_add(&x, backing);
		rc = record_simple(h, RFS_SAVE_RESTORED, RFS_OBJ_FILE, x.cpath, clear_path, st.rev, fd,
		                   st.file_id, st.size);
	}
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	free(name);
	return rc;
}
