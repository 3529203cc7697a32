/*
** disposed: which ids each disposal destroyed, read from VAULT/disposed/<N>
** (the concatenated 16-byte file ids and dirids that disposal N shreds,
** written before the shred, fsync'd). The reader of that seam: log, stat,
** read, materialise and verify ask it which disposal a missing key belongs to.
** Owns: the in-memory set id -> N, loaded at open and on reload.
** Must never: write VAULT/disposed (the disposal writes it), or treat an id
** it does not list as destroyed (a missing key it does not list is damage).
*/
#include "fs/history/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/io.h"

#define DISPOSED_DIR "disposed"
#define DISPOSED_MAX (1u << 30)            /* a list longer than this is not one */

struct disposed_entry {
	uint8_t id[16];
	uint64_t n;
};

struct rfs_disposed {
	struct disposed_entry *e;             /* open addressing; n == 0 is empty */
	size_t mask, count;
	uint64_t *lists;                      /* disposal numbers found, and their mtimes */
	int64_t *when;
	size_t nlists;
};

static size_t slot_of(const uint8_t id[16], size_t mask)
{
	uint64_t v;
	memcpy(&v, id, 8);                    /* a slot number: spread by the multiply */
	uint64_t w;
	memcpy(&w, id + 8, 8);
	return (size_t)(((v ^ w) * 0x9e3779b97f4a7c15ull) >> 20) & mask;
}

static int put(struct rfs_disposed *d, const uint8_t id[16], uint64_t n)
{
	if (2 * (d->count + 1) > d->mask + 1) {
		size_t size = d->e ? 2 * (d->mask + 1) : 256;
		struct disposed_entry *e = calloc(size, sizeof *e);
		if (!e)
			return -ENOMEM;
		for (size_t i = 0; d->e && i <= d->mask; i++) {
			if (!d->e[i].n)
				continue;
			size_t k = slot_of(d->e[i].id, size - 1);
			while (e[k].n)
				k = (k + 1) & (size - 1);
			e[k] = d->e[i];
		}
		free(d->e);
		d->e = e;
		d->mask = size - 1;
	}
	size_t k = slot_of(id, d->mask);
	while (d->e[k].n && memcmp(d->e[k].id, id, 16))
		k = (k + 1) & d->mask;
	if (!d->e[k].n)
		d->count++;
	if (!d->e[k].n || n < d->e[k].n)
		d->e[k] = (struct disposed_entry){ .n = n };
	memcpy(d->e[k].id, id, 16);
	return 0;
}

static void disposed_free(struct rfs_disposed *d)
{
	if (!d)
		return;
	free(d->e);
	free(d->lists);
	free(d->when);
	free(d);
}

/* One list file: its ids into d. A torn tail (not a whole id) is ignored. */
static int load_list(struct rfs_disposed *d, int dirfd, const char *name, uint64_t n)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : st.st_size > DISPOSED_MAX ? -EFBIG : 0;
	size_t len = rc == 0 ? (size_t)st.st_size : 0;
	uint8_t *p = rc == 0 ? malloc(len ? len : 1) : NULL;
	if (rc == 0 && !p)
		rc = -ENOMEM;
	if (rc == 0)
		rc = rfs_io_pread_all(fd, p, len, 0);
	for (size_t off = 0; rc == 0 && off + 16 <= len; off += 16)
		rc = put(d, p + off, n);
	if (rc == 0) {
		size_t cap = d->nlists;
		uint64_t *l = realloc(d->lists, (cap + 1) * sizeof *l);
		int64_t *w = l ? realloc(d->when, (cap + 1) * sizeof *w) : NULL;
		if (l)
			d->lists = l;
		if (w)
			d->when = w;
		if (!l || !w)
			rc = -ENOMEM;
		else {
			d->lists[d->nlists] = n;
			d->when[d->nlists++] = (int64_t)st.st_mtim.tv_sec;
		}
	}
	free(p);
	close(fd);
	return rc;
}

static int disposed_load(struct rfs_vault *v, struct rfs_disposed **out)
{
	*out = NULL;
	int dirfd = openat(v->dirfd, DISPOSED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	DIR *dir = fdopendir(dirfd);
	if (!dir) {
		close(dirfd);
		return -errno;
	}
	struct rfs_disposed *d = calloc(1, sizeof *d);
	int rc = d ? 0 : -ENOMEM;
	struct dirent *de;
	while (rc == 0 && (de = readdir(dir))) {
		char *end;
		unsigned long long n = strtoull(de->d_name, &end, 10);
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end)
			continue;                     /* "1", "2", ...: never a temporary file */
		rc = load_list(d, dirfd, de->d_name, (uint64_t)n);
	}
	closedir(dir);
	if (rc < 0) {
		disposed_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int rfs_history_disposed_reload(struct rfs_history *h)
{
	struct rfs_disposed *d;
	int rc = disposed_load(h->v, &d);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&h->disposed_lock);
	struct rfs_disposed *old = h->disposed;
	h->disposed = d;
	pthread_rwlock_unlock(&h->disposed_lock);
	disposed_free(old);
	return 0;
}

void rfs_disposed_close(struct rfs_history *h)
{
	disposed_free(h->disposed);
	h->disposed = NULL;
}

uint64_t rfs_history_disposed_by(struct rfs_history *h, const uint8_t id[16])
{
	uint64_t n = 0;
	pthread_rwlock_rdlock(&h->disposed_lock);
	const struct rfs_disposed *d = h->disposed;
	if (d && d->e)
		for (size_t k = slot_of(id, d->mask); d->e[k].n; k = (k + 1) & d->mask)
			if (!memcmp(d->e[k].id, id, 16)) {
				n = d->e[k].n;
				break;
			}
	pthread_rwlock_unlock(&h->disposed_lock);
	return n;
}

int64_t rfs_history_disposed_when(struct rfs_history *h, uint64_t n)
{
	int64_t when = 0;
	pthread_rwlock_rdlock(&h->disposed_lock);
	for (size_t i = 0; h->disposed && i < h->disposed->nlists; i++)
		if (h->disposed->lists[i] == n)
			when = h->disposed->when[i];
	pthread_rwlock_unlock(&h->disposed_lock);
	return when;
}
