/*
** undo: see undo.h. An entry is needed only while the state it protects may
** be the durable one: from the first in-place rewrite after a sync (or after
** the mount opened the file) until the next sync that covers the file. A
** file written from empty since the last sync needs none: nothing of it was
** promised. One rwlock orders the two sides: a writer holds it shared from
** its check to the end of its in-place write, a sync takes it exclusively to
** mark where it begins, so no in-place write straddles the start of a sync.
*/
#include "fs/undo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/io.h"
#include "crypto/encoding.h"
#include "fs/dname.h"
#include "fs/history/bytes.h"

#define UNDO_MAGIC "recfs-undo-1\0\0\0"          /* 16 bytes with its NUL */
#define UNDO_HEAD (16 + 8 + 8)
#define UNDO_BUCKETS 1024
#define ID_HEX (16 * 2 + 1)

struct undo_rec {
	struct undo_rec *next;
	uint8_t id[16];
	uint64_t epoch;                  /* the vault sync epoch it was made in */
	uint64_t seq;                    /* entries written for it (a sync's token) */
	uint64_t index;                  /* the block its entry holds (on_disk) */
	bool on_disk;                    /* an entry file exists, and is needed */
	bool stale;                      /* a sync of this file began since */
};

struct rfs_undo {
	pthread_rwlock_t order;          /* writers shared, sync starts exclusive */
	pthread_mutex_t mu;              /* the table, the folder */
	int vault_fd, dir_fd;
	uint64_t epoch;
	struct undo_rec *table[UNDO_BUCKETS];
	char (*left)[ID_HEX];            /* entries found at open: a crash left them */
	size_t nleft;
};

static void id_hex(char out[ID_HEX], const uint8_t id[16])
{
	rfs_hex_encode(out, id, 16);
}

/* A format 3 ID is slot (8 bytes) then the copy id, the same for every file of
** a copy: the bucket comes from both halves, mixed (bytes 8 and 9 alone put
** every file of a vault in one chain, and each write of an untar walked all of
** them). */
static size_t bucket_of(const uint8_t id[16])
{
	uint64_t a, b;

	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	a = (a ^ b * 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
	return (size_t)(a >> 32) % UNDO_BUCKETS;
}

static struct undo_rec **slot_of(struct rfs_undo *u, const uint8_t id[16])
{
	struct undo_rec **p = &u->table[bucket_of(id)];

	while (*p && memcmp((*p)->id, id, 16) != 0)
		p = &(*p)->next;
	return p;
}

/* The record of id, made (with epoch) when there is none; NULL when out of memory. mu held. */
static struct undo_rec *rec_get(struct rfs_undo *u, const uint8_t id[16], uint64_t epoch)
{
	struct undo_rec **p = slot_of(u, id);

	if (!*p && (*p = calloc(1, sizeof(**p)))) {
		memcpy((*p)->id, id, 16);
		(*p)->epoch = epoch;
	}
	return *p;
}

static void rec_remove(struct rfs_undo *u, struct undo_rec **p)
{
	struct undo_rec *r = *p;
	char name[ID_HEX];

	if (r->on_disk && u->dir_fd >= 0) {
		id_hex(name, r->id);
		(void)unlinkat(u->dir_fd, name, 0);    /* a stale entry left behind is harmless */
	}
	*p = r->next;
	free(r);
}

int rfs_undo_open(int vault_fd, struct rfs_undo **out)
{
	struct rfs_undo *u = calloc(1, sizeof(*u));
	pthread_rwlockattr_t a;
	DIR *d;
	struct dirent *de;

	if (!u)
		return -ENOMEM;
	u->vault_fd = fcntl(vault_fd, F_DUPFD_CLOEXEC, 0);
	if (u->vault_fd < 0) {
		free(u);
		return -errno;
	}
	pthread_rwlockattr_init(&a);
	/* A sync must not wait behind a stream of appends. */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&u->order, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&u->mu, NULL);
	u->epoch = 1;
	u->dir_fd = openat(vault_fd, RFS_UNDO_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (u->dir_fd >= 0) {
		int fd = fcntl(u->dir_fd, F_DUPFD_CLOEXEC, 0);

		d = fd < 0 ? NULL : fdopendir(fd);
		size_t cap = 0;

		while (d && (de = readdir(d))) {
			if (strlen(de->d_name) != ID_HEX - 1 || strspn(de->d_name, "0123456789abcdef") !=
			                                          ID_HEX - 1)
				continue;
			if (rfs_bytes_grow(&u->left, &cap, u->nleft, sizeof(*u->left), 16) < 0)
				break;
			memcpy(u->left[u->nleft++], de->d_name, ID_HEX);
		}
		if (d)
			closedir(d);
		else if (fd >= 0)
			close(fd);
	}
	*out = u;
	return 0;
}

void rfs_undo_close(struct rfs_undo *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < UNDO_BUCKETS; i++) {
		while (u->table[i]) {
			struct undo_rec *r = u->table[i];

			u->table[i] = r->next;
			free(r);                  /* entries stay: the last sync removed the needless */
		}
	}
	free(u->left);
	if (u->dir_fd >= 0)
		close(u->dir_fd);
	close(u->vault_fd);
	pthread_rwlock_destroy(&u->order);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

/* The folder, made at the first entry; its own entry in VAULT made durable once. mu held. */
static int undo_dir(struct rfs_undo *u)
{
	if (u->dir_fd >= 0)
		return u->dir_fd;
	if (mkdirat(u->vault_fd, RFS_UNDO_DIR, 0700) != 0 && errno != EEXIST)
		return -errno;
	int rc = rfs_io_fsync_dir(u->vault_fd, ".");
	if (rc < 0)
		return rc;
	u->dir_fd = openat(u->vault_fd, RFS_UNDO_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return u->dir_fd >= 0 ? u->dir_fd : -errno;
}

static size_t slot_len_of(uint64_t index, uint64_t size)
{
	uint64_t rest = size - index * RFS_BLOCK_SIZE;

	return (rest < RFS_BLOCK_SIZE ? (size_t)rest : RFS_BLOCK_SIZE) + RFS_BLOCK_OVERHEAD;
}

/* The entry for id: the slot of block index as fd holds it now, made durable. */
static int write_entry(int dir_fd, int fd, const uint8_t id[16], uint64_t index, uint64_t size)
{
	uint8_t buf[UNDO_HEAD + RFS_SLOT_SIZE];
	size_t len = slot_len_of(index, size);
	char name[ID_HEX];
	int efd, rc;

	memcpy(buf, UNDO_MAGIC, 16);
	for (int i = 0; i < 8; i++) {
		buf[16 + i] = (uint8_t)(index >> (8 * i));
		buf[24 + i] = (uint8_t)(size >> (8 * i));
	}
	rc = rfs_io_pread_all(fd, buf + UNDO_HEAD, len, rfs_content_slot_offset(index));
	if (rc < 0)
		return rc;
	id_hex(name, id);
	efd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (efd < 0)
		return -errno;
	rc = rfs_io_pwrite_all(efd, buf, UNDO_HEAD + len, 0);
	if (rc == 0 && fdatasync(efd) != 0)
		rc = -errno;
	close(efd);
	return rc;
}

int rfs_undo_begin(struct rfs_undo *u, int fd, const uint8_t id[16], uint64_t index, uint64_t size)
{
	struct undo_rec *r;
	int rc = 0, dir;

	pthread_rwlock_rdlock(&u->order);
	pthread_mutex_lock(&u->mu);
	r = *slot_of(u, id);
	/* Covered: nothing synced since this file's entry (an entry for this block
	** or one before it holds the durable state), or since it was written from
	** empty (nothing of it was durable). */
	if (r && r->epoch == u->epoch && !r->stale && (!r->on_disk || r->index <= index)) {
		pthread_mutex_unlock(&u->mu);
		return 0;
	}
	r = rec_get(u, id, 0);
	dir = r ? undo_dir(u) : -ENOMEM;
	pthread_mutex_unlock(&u->mu);
	/* The entry on disk may still protect a state that is durable: make the
	** file's present state durable before the entry stops describing it. */
	rc = dir < 0 ? dir : r->on_disk && fdatasync(fd) != 0 ? -errno : 0;
	if (rc == 0)
		rc = write_entry(dir, fd, id, index, size);
	if (rc < 0) {
		pthread_rwlock_unlock(&u->order);   /* r->on_disk as it was: an old entry still counts */
		return rc;
	}
	r->epoch = u->epoch;
	r->stale = false;
	r->on_disk = true;
	r->index = index;
	r->seq++;
	return 0;
}

void rfs_undo_end(struct rfs_undo *u)
{
	pthread_rwlock_unlock(&u->order);
}

void rfs_undo_fresh(struct rfs_undo *u, const uint8_t id[16])
{
	pthread_rwlock_rdlock(&u->order);
	pthread_mutex_lock(&u->mu);
	(void)rec_get(u, id, u->epoch);     /* out of memory: the next rewrite makes an entry */
	pthread_mutex_unlock(&u->mu);
	pthread_rwlock_unlock(&u->order);
}

uint64_t rfs_undo_file_sync_begin(struct rfs_undo *u, const uint8_t id[16])
{
	struct undo_rec *r;
	uint64_t token = 0;

	if (!u)
		return 0;
	pthread_rwlock_wrlock(&u->order);
	r = *slot_of(u, id);
	if (r) {
		r->stale = true;             /* in-place writes from now on need their own entry */
		token = r->seq;
	}
	pthread_rwlock_unlock(&u->order);
	return token;
}

void rfs_undo_file_sync_done(struct rfs_undo *u, const uint8_t id[16], uint64_t token, bool ok)
{
	struct undo_rec **p;

	if (!u)
		return;

	pthread_rwlock_wrlock(&u->order);
	p = slot_of(u, id);
	if (*p && (*p)->seq == token) {      /* no entry written since the sync began */
		if (ok)
			rec_remove(u, p);
		else
			(*p)->stale = false;         /* not durable after all: the entry still counts */
	}
	pthread_rwlock_unlock(&u->order);
}

uint64_t rfs_undo_vault_sync_begin(struct rfs_undo *u)
{
	uint64_t token;

	if (!u)
		return 0;
	pthread_rwlock_wrlock(&u->order);
	token = u->epoch++;
	pthread_rwlock_unlock(&u->order);
	return token;
}

void rfs_undo_vault_sync_done(struct rfs_undo *u, uint64_t token, bool ok)
{
	if (!u)
		return;
	pthread_rwlock_wrlock(&u->order);
	for (size_t i = 0; i < UNDO_BUCKETS; i++) {
		struct undo_rec **p = &u->table[i];

		while (*p) {
			if ((*p)->epoch > token) {
				p = &(*p)->next;             /* made after the sync began */
			} else if (ok) {
				rec_remove(u, p);
			} else {
				(*p)->epoch = u->epoch;      /* not durable after all: still counts */
				p = &(*p)->next;
			}
		}
	}
	pthread_rwlock_unlock(&u->order);
}

void rfs_undo_drop(struct rfs_undo *u, const uint8_t id[16])
{
	struct undo_rec **p;

	if (!u)
		return;

	pthread_rwlock_wrlock(&u->order);
	p = slot_of(u, id);
	if (*p)
		rec_remove(u, p);
	pthread_rwlock_unlock(&u->order);
}

int rfs_undo_leftover(struct rfs_undo *u, const uint8_t id[16], struct rfs_undo_entry *e)
{
	uint8_t buf[UNDO_HEAD + RFS_SLOT_SIZE + 1];
	char name[ID_HEX];
	size_t n;
	int fd, rc;

	if (u->dir_fd < 0)
		return -ENOENT;
	id_hex(name, id);
	fd = openat(u->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = rfs_io_pread_upto(fd, buf, sizeof(buf), 0, &n);
	close(fd);
	if (rc < 0)
		return rc;
	if (n < UNDO_HEAD + RFS_BLOCK_OVERHEAD + 1 || memcmp(buf, UNDO_MAGIC, 16) != 0)
		return -EIO;
	e->index = e->size = 0;
	for (int i = 7; i >= 0; i--) {
		e->index = e->index << 8 | buf[16 + i];
		e->size = e->size << 8 | buf[24 + i];
	}
	if (e->size == 0 || e->index > (e->size - 1) / RFS_BLOCK_SIZE ||
	    slot_len_of(e->index, e->size) != n - UNDO_HEAD)
		return -EIO;
	e->slot_len = n - UNDO_HEAD;
	memcpy(e->slot, buf + UNDO_HEAD, e->slot_len);
	return 0;
}

void rfs_undo_drop_leftovers(struct rfs_undo *u)
{
	if (!u)
		return;
	pthread_rwlock_wrlock(&u->order);
	for (size_t i = 0; i < u->nleft && u->dir_fd >= 0; i++) {
		uint8_t id[16];
		struct undo_rec *r = NULL;

		if (rfs_hex_decode(id, sizeof(id), u->left[i]) == 0)
			r = *slot_of(u, id);
		if (!r || !r->on_disk)           /* not one this mount has written since */
			(void)unlinkat(u->dir_fd, u->left[i], 0);
	}
	free(u->left);
	u->left = NULL;
	u->nleft = 0;
	pthread_rwlock_unlock(&u->order);
}
