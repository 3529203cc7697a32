/*
** fsck: see fsck.h. A depth-first walk of live/ with the same decoders the
** daemon uses, so what fsck passes the mount can read.
*/
#include "fs/fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "fs/cfile.h"
#include "fs/dname.h"
#include "fs/escape.h"
#include "fs/xowner.h"
#include "fs/history/history.h"

#define FSCK_STEP_BLOCKS 256      /* blocks checked between two progress reports: 1 MiB */

struct walk {
	struct rfs_vault *v;
	rfs_fsck_report_fn report;
	void *arg;
	struct rfs_fsck_result *res;
	uint8_t (*disposed)[RFS_DIRID_SIZE];   /* ids VAULT/disposed/N lists, read at the first need */
	uint64_t *disposal;                    /* ... and the disposal number of each */
	size_t ndisposed;
	bool disposed_read;
	const struct rfs_progress *progress;
	uint64_t bytes, total_files, total_bytes;
};

/* The files of live/ and their bytes, for the totals of a progress line: names and sizes
** only (the walk that checks them finds the same folders in the cache). */
static void count_live(int dirfd, uint64_t *files, uint64_t *bytes, int depth)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* not dup: its own offset */
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	struct stat st;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    rfs_name_is_internal(de->d_name) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			(*files)++;
			*bytes += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode) && depth < 256) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				count_live(sub, files, bytes, depth + 1);
				close(sub);
			}
		}
	}
	closedir(dp);
}

/* A finding about the entry at path (relative to live/, "" for the root). */
static void finding(struct walk *w, const char *kind, const char *path, const char *what,
                   uint64_t disposal)
{
	char clear[PATH_MAX + 2];

	snprintf(clear, sizeof(clear), "/%s", path);
	w->report(w->arg, &(struct rfs_fsck_finding){ .kind = kind, .path = clear, .detail = what,
	                                              .disposal = disposal });
}

static void problem(struct walk *w, const char *path, const char *what)
{
	finding(w, "corrupt", path, what, 0);
	w->res->bad++;
}

/* Read every VAULT/disposed/<N>: the 16-byte ids disposal N destroyed. */
static void read_disposed(struct walk *w)
{
	int dfd = openat(w->v->dirfd, "disposed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *de;

	w->disposed_read = true;
	if (!dp) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		char *end;
		unsigned long long n = strtoull(de->d_name, &end, 10);
		uint8_t id[RFS_DIRID_SIZE];
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end)
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		while (fd >= 0 && read(fd, id, sizeof(id)) == (ssize_t)sizeof(id)) {
			void *ids = realloc(w->disposed, (w->ndisposed + 1) * sizeof(*w->disposed));
			void *nums = ids ? realloc(w->disposal, (w->ndisposed + 1) * sizeof(*w->disposal)) : NULL;

			if (ids)
				w->disposed = ids;
			if (!nums)
				break;
			w->disposal = nums;
			memcpy(w->disposed[w->ndisposed], id, sizeof(id));
			w->disposal[w->ndisposed++] = n;
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(dp);
}

/* The disposal that destroyed id, or 0. */
static uint64_t disposed_by(struct walk *w, const uint8_t id[RFS_DIRID_SIZE])
{
	if (!w->disposed_read)
		read_disposed(w);
	for (size_t i = 0; i < w->ndisposed; i++)
		if (memcmp(w->disposed[i], id, RFS_DIRID_SIZE) == 0)
			return w->disposal[i];
	return 0;
}

/* A key that is absent: destroyed by a disposal that lists id, else corrupt. */
static void key_absent(struct walk *w, const char *path, const uint8_t id[RFS_DIRID_SIZE],
                       const char *what)
{
	uint64_t n = disposed_by(w, id);

	if (n == 0) {
		problem(w, path, what);
		return;
	}
	char line[64];

	snprintf(line, sizeof(line), "key destroyed by disposal %llu", (unsigned long long)n);
	finding(w, "destroyed", path, line, n);
	w->res->destroyed++;
}

static int read_small(int dirfd, const char *name, void *buf, size_t cap, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		return -EIO;
	*len = (size_t)n;
	return 0;
}

static void check_file(struct walk *w, int dirfd, const char *backing, const char *path)
{
	int fd = openat(dirfd, backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint8_t *key = rfs_secmem_key_alloc();
	struct rfs_cfile cf = { .fd = fd };
	const char *why = NULL;
	uint64_t bad = 0, base = w->bytes;
	char what[128];
	int rc;

	w->res->files++;
	if (fd < 0 || !key) {
		problem(w, path, fd < 0 ? "cannot open" : "out of memory");
		goto out;
	}
	rc = rfs_cfile_load(w->v->ks, fd, key, cf.file_id, &cf.hdr_flags, &why);
	if (rc == -ENODATA)
		goto out;               /* 0 bytes: an empty file (FORMAT.md 5) */
	if (rc == -ENOENT && w->v->format >= 3) {
		key_absent(w, path, cf.file_id, why ? why : strerror(-rc));
		goto out;
	}
	if (rc < 0) {
		problem(w, path, why ? why : strerror(-rc));
		goto out;
	}
	cf.key = key;
	if (rfs_cfile_stat_size(fd, &cf.size) < 0) {
		problem(w, path, "size is not that of any content (cut short?)");
		goto out;
	}
	/* A MiB at a time, so a progress line moves inside a large file. */
	for (uint64_t at = 0, n = 1; n > 0; at += n) {
		if (rfs_cfile_check_blocks(&cf, at, FSCK_STEP_BLOCKS, &n, &bad) < 0) {
			snprintf(what, sizeof(what), "block %llu does not authenticate (tampered or "
			         "damaged)", (unsigned long long)bad);
			problem(w, path, what);
			break;
		}
		rfs_progress_note(w->progress, NULL, w->res->files - 1,
		                  base + RFS_HEADER_SIZE + (at + n) * RFS_SLOT_SIZE, w->total_files,
		                  w->total_bytes);
	}
	w->res->blocks += cf.size ? (cf.size - 1) / RFS_BLOCK_SIZE + 1 : 0;
out:
	rfs_secmem_key_free(key);
	if (fd >= 0) {
		struct stat st;

		if (rfs_progress_watched(w->progress) && fstat(fd, &st) == 0)
			w->bytes = base + (uint64_t)st.st_size;
		close(fd);
	}
	rfs_progress_note(w->progress, NULL, w->res->files, w->bytes, w->total_files, w->total_bytes);
}

/* Every user.* attribute: its name opens, and its value opens on this file
** or folder under this name (the AD binds both, FORMAT.md section 7). */
static void check_xattrs(struct walk *w, int dirfd, const char *backing, const char *path,
                         bool is_dir, const struct rfs_xattr_keys *xk)
{
	char p[PATH_MAX], list[65536];
	uint8_t owner[RFS_XATTR_OWNER_SIZE];
	bool have_owner;
	ssize_t n;
	char *q;

	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dirfd, backing);
	n = llistxattr(p, list, sizeof(list));
	have_owner = n > 0 && rfs_xattr_owner_of(p, is_dir, owner) == 0;
	for (q = list; n > 0 && q < list + n; q += strlen(q) + 1) {
		char clear[256], what[320];
		uint8_t *ct, *plain;
		ssize_t len;

		if (strncmp(q, "user.", 5) != 0)
			continue;
		if (rfs_name_xattr_open(clear, sizeof(clear), q + 5, xk) < 0) {
			problem(w, path, "an extended attribute name does not authenticate");
			continue;
		}
		len = lgetxattr(p, q, NULL, 0);
		ct = len >= 0 ? malloc((size_t)len + 1) : NULL;
		plain = len >= 0 ? malloc((size_t)len + 1) : NULL;
		if (ct && plain)
			len = lgetxattr(p, q, ct, (size_t)len);
		if (!ct || !plain || len < (ssize_t)RFS_BLOCK_OVERHEAD || !have_owner ||
		    rfs_name_xattr_value_open(plain, ct, (size_t)len, owner, q + 5, xk) < 0) {
			char shown[4 * sizeof(clear)];

			snprintf(what, sizeof(what), "extended attribute user.%.200s: value does not "
			         "authenticate (tampered, or moved from another file)",
			         rfs_escape(shown, sizeof(shown), clear));
			problem(w, path, what);
		} else {
			rfs_secmem_wipe(plain, (size_t)len - RFS_BLOCK_OVERHEAD);
		}
		free(ct);
		free(plain);
	}
}

static int walk_dir(struct walk *w, int dirfd, const char *path);

static void check_entry(struct walk *w, int dirfd, const struct rfs_folder_keys *fk,
                        const char *backing, const char *dir_path)
{
	char clear[256], path[PATH_MAX];
	struct stat st;

	if (rfs_dname_open(fk, dirfd, backing, clear) < 0) {
		snprintf(path, sizeof(path), "%s%s[sealed name %s]", dir_path, *dir_path ? "/" : "",
		         backing);
		problem(w, path, "name does not authenticate");
		return;
	}
	snprintf(path, sizeof(path), "%s%s%s", dir_path, *dir_path ? "/" : "", clear);
	if (fstatat(dirfd, backing, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		problem(w, path, "cannot stat");
		return;
	}
	if (S_ISREG(st.st_mode)) {
		check_file(w, dirfd, backing, path);
	} else if (S_ISLNK(st.st_mode)) {
		char text[PATH_MAX], target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, backing, text, sizeof(text) - 1);

		w->res->symlinks++;
		if (n >= 0)
			text[n] = '\0';
		if (n < 0 || rfs_name_target_open(target, sizeof(target), text, fk) < 0)
			problem(w, path, "symbolic link target does not authenticate");
		return;
	} else if (S_ISDIR(st.st_mode)) {
		int sub = openat(dirfd, backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

		if (sub < 0) {
			problem(w, path, "cannot open folder");
			return;
		}
		walk_dir(w, sub, path);
		close(sub);
		return;           /* walk_dir checks the folder's own xattrs under its keys */
	} else {
		problem(w, path, "not a file, folder or symbolic link");
		return;
	}
	check_xattrs(w, dirfd, backing, path, false, &fk->entries);
}

static int walk_dir(struct walk *w, int dirfd, const char *path)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	const struct rfs_folder_keys *fk;
	size_t len = 0;
	int fd = dup(dirfd), rc;
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	w->res->dirs++;
	if (!dp) {
		if (fd >= 0)
			close(fd);
		problem(w, path, "cannot list folder");
		return -EIO;
	}
	if (read_small(dirfd, RFS_DIRID_FILE, dirid, sizeof(dirid), &len) < 0 ||
	    len != sizeof(dirid)) {
		/* A mkdir cut short by a crash: nothing inside, nothing lost; the mount gives it an id. */
		if (len == 0 && rfs_dname_folder_empty(dirfd, false) == 0) {
			closedir(dp);
			return 0;
		}
		problem(w, path, "folder id (.dirid) missing: names inside cannot be read");
		closedir(dp);
		return 0;
	}
	rc = rfs_vault_folder_keys_get(w->v, dirid, &fk);
	if (rc < 0) {
		if (rc == -ENOENT)
			key_absent(w, path, dirid, "folder key missing: names inside cannot be read");
		else
			problem(w, path, "folder key does not authenticate: names inside cannot be read");
		closedir(dp);
		return rc == -ENOMEM ? rc : 0;
	}
	if (*path)
		check_xattrs(w, dirfd, ".", path, true, &fk->own);
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    rfs_name_is_internal(de->d_name))
			continue;
		check_entry(w, dirfd, fk, de->d_name, path);
	}
	rfs_vault_folder_keys_put(w->v, fk);
	closedir(dp);
	return 0;
}

static void on_leftover(void *arg, const char *path, uint64_t bytes)
{
	struct walk *w = arg;
	bool view = !strchr(path, '/');
	char where[2 * PATH_MAX + 2], what[PATH_MAX + 128];

	snprintf(where, sizeof(where), "%s/%s", w->v->path, path);
	snprintf(what, sizeof(what), "%s; the next mount or 'recfs gc %s' removes it",
	         view ? "the copy of a revision a killed 'recfs mount --at' made"
	              : "a pack file a killed recfs daemon was writing", w->v->path);
	w->report(w->arg, &(struct rfs_fsck_finding){ .kind = "leftover", .path = where,
	                                              .detail = what, .bytes = bytes });
	w->res->leftovers++;
	w->res->leftover_bytes += bytes;
}

int rfs_fsck(struct rfs_vault *v, rfs_fsck_report_fn report, void *arg,
             struct rfs_fsck_result *res, const struct rfs_progress *progress)
{
	struct walk w = { .v = v, .report = report, .arg = arg, .res = res, .progress = progress };

	memset(res, 0, sizeof(*res));
	if (rfs_progress_watched(progress))
		count_live(v->live_fd, &w.total_files, &w.total_bytes, 0);
	int rc = walk_dir(&w, v->live_fd, "");
	long left = rc == 0 ? rfs_history_leftovers(v, false, on_leftover, &w) : 0;

	free(w.disposed);
	free(w.disposal);
	return rc < 0 ? rc : left < 0 ? (int)left : 0;
}
