/*
** archive_pax: see archive_pax.h.
*/
#include "fs/archive_pax.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/io.h"

struct rfs_pax {
	struct archive *a;
	int dirfd, fd;
	char *name, *part;
	char *path;                    /* the file being written, for its manifest line */
	uint64_t left;                 /* its bytes still to come */
	struct rfs_sha512 sum;
	FILE *manifest;                /* "HEX  path" lines */
	char *manifest_text;
	size_t manifest_len;
};

int rfs_pax_start(const char *dir, const char *name, struct rfs_pax **out, char *err,
                  size_t errsz)
{
	struct rfs_pax *p = calloc(1, sizeof(*p));
	int rc = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		rc = -errno;
		snprintf(err, errsz, "the archive folder %s cannot be opened: %s", dir, strerror(-rc));
		free(p);
		return rc;
	}
	p->name = strdup(name);
	if (p->name && asprintf(&p->part, "%s.part", name) < 0)
		p->part = NULL;
	p->manifest = open_memstream(&p->manifest_text, &p->manifest_len);
	p->a = archive_write_new();
	if (!p->name || !p->part || !p->manifest || !p->a)
		rc = -ENOMEM;
	if (rc == 0 && faccessat(p->dirfd, name, F_OK, 0) == 0)
		rc = -EEXIST;
	if (rc == 0 && (p->fd = openat(p->dirfd, p->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	                               0600)) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errsz, "the archive folder %s cannot take %s: %s", dir, name,
		         strerror(-rc));
		rfs_pax_abort(p);
		return rc;
	}
	if (archive_write_set_format_pax(p->a) != ARCHIVE_OK ||
	    archive_write_open_fd(p->a, p->fd) != ARCHIVE_OK) {
		snprintf(err, errsz, "the archive %s/%s cannot be started: %s", dir, name,
		         archive_error_string(p->a));
		rfs_pax_abort(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

static int put_entry(struct rfs_pax *p, const char *path, mode_t mode, uid_t uid, gid_t gid,
                     struct timespec mtime, uint64_t size, const char *target)
{
	struct archive_entry *e = archive_entry_new();
	int rc;

	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname_utf8(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, mtime.tv_sec, mtime.tv_nsec);
	archive_entry_set_size(e, (la_int64_t)size);
	if (target)
		archive_entry_set_symlink_utf8(e, target);
	rc = archive_write_header(p->a, e) == ARCHIVE_OK ? 0 : -EIO;
	archive_entry_free(e);
	return rc;
}

int rfs_pax_folder(struct rfs_pax *p, const char *path, mode_t mode, uid_t uid, gid_t gid,
                   struct timespec mtime)
{
	return put_entry(p, path, S_IFDIR | (mode & 07777), uid, gid, mtime, 0, NULL);
}

int rfs_pax_symlink(struct rfs_pax *p, const char *path, const char *target, uid_t uid,
                    gid_t gid, struct timespec mtime)
{
	return put_entry(p, path, S_IFLNK | 0777, uid, gid, mtime, 0, target);
}

int rfs_pax_file(struct rfs_pax *p, const char *path, mode_t mode, uid_t uid, gid_t gid,
                 struct timespec mtime, uint64_t size)
{
	int rc = put_entry(p, path, S_IFREG | (mode & 07777), uid, gid, mtime, size, NULL);

	if (rc < 0)
		return rc;
	free(p->path);
	p->path = strdup(path);
	p->left = size;
	rfs_sha512_init(&p->sum);
	return p->path ? 0 : -ENOMEM;
}

int rfs_pax_data(struct rfs_pax *p, const void *buf, size_t len)
{
	if (len > p->left)
		return -EIO;             /* more than the header promised: the file grew */
	if (archive_write_data(p->a, buf, len) != (la_ssize_t)len)
		return -EIO;
	rfs_sha512_update(&p->sum, buf, len);
	p->left -= len;
	return 0;
}

/* sha512sum's line: a name holding '\' or a line break is written escaped
** with a leading '\', as GNU coreutils does. */
static void put_manifest_line(FILE *f, const uint8_t sum[RFS_SHA512_SIZE], const char *path)
{
	char hex[2 * RFS_SHA512_SIZE + 1];
	bool escape = strpbrk(path, "\\\n") != NULL;

	rfs_hex_encode(hex, sum, RFS_SHA512_SIZE);
	fprintf(f, "%s%s  ", escape ? "\\" : "", hex);
	for (; *path; path++) {
		if (escape && *path == '\\')
			fputs("\\\\", f);
		else if (escape && *path == '\n')
			fputs("\\n", f);
		else
			fputc(*path, f);
	}
	fputc('\n', f);
}

int rfs_pax_file_end(struct rfs_pax *p)
{
	uint8_t sum[RFS_SHA512_SIZE];

	if (p->left != 0)
		return -EIO;             /* fewer bytes than the header promised: the file shrank */
	rfs_sha512_final(&p->sum, sum);
	put_manifest_line(p->manifest, sum, p->path);
	return ferror(p->manifest) ? -ENOMEM : 0;
}

static void pax_free(struct rfs_pax *p)
{
	if (p->a)
		archive_write_free(p->a);
	if (p->fd >= 0)
		close(p->fd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	if (p->manifest)
		fclose(p->manifest);
	free(p->manifest_text);
	free(p->name);
	free(p->part);
	free(p->path);
	free(p);
}

int rfs_pax_finish(struct rfs_pax *p)
{
	struct timespec now;
	int rc = fflush(p->manifest) == 0 ? 0 : -ENOMEM;

	clock_gettime(CLOCK_REALTIME, &now);
	if (rc == 0)
		rc = put_entry(p, RFS_PAX_MANIFEST, S_IFREG | 0644, 0, 0, now, p->manifest_len, NULL);
	if (rc == 0 && archive_write_data(p->a, p->manifest_text, p->manifest_len) !=
	                       (la_ssize_t)p->manifest_len)
		rc = -EIO;
	if (rc == 0 && archive_write_close(p->a) != ARCHIVE_OK)
		rc = -EIO;
	if (rc == 0 && fsync(p->fd) != 0)
		rc = -errno;
	/* Never over an archive already there (one made since rfs_pax_start looked): -EEXIST. */
	if (rc == 0 && renameat2(p->dirfd, p->part, p->dirfd, p->name, RENAME_NOREPLACE) != 0)
		rc = -errno;
	if (rc == -EINVAL)             /* a filesystem without RENAME_NOREPLACE: look, then rename */
		rc = faccessat(p->dirfd, p->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? -EEXIST
		     : renameat(p->dirfd, p->part, p->dirfd, p->name) != 0 ? -errno : 0;
	if (rc == 0)
		rc = rfs_io_fsync_dir(p->dirfd, ".");
	if (rc < 0) {
		rfs_pax_abort(p);
		return rc;
	}
	pax_free(p);
	return 0;
}

void rfs_pax_abort(struct rfs_pax *p)
{
	if (!p)
		return;
	if (p->fd >= 0 && p->part)
		(void)unlinkat(p->dirfd, p->part, 0);
	pax_free(p);
}
