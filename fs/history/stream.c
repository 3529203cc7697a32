/*
** stream: a big file's chunks packed while it is being written, so that its
** save finds them in a pack already instead of reading the whole file back
** from live/ and writing it a second time after the fsync.
**
** A file written from its first unsaved block to its end (dd, cp, a
** download) gets a spool (rfs_pack_spool_open) once 8 MiB of its chunks are
** sealed for good: every chunk before the one holding the file's last block
** (a later append reseals only that block). A thread of the stream's own
** reads each sealed chunk back (from the page cache, it was just written),
** hashes it and appends it to the spool. The save that follows takes the
** spool (rfs_stream_take), packs the chunks it still lacks and closes it:
** the spool's segments of 64 MiB were finished as they filled, so only the
** last, partial one is read back, for its pack's trailer.
**
** Owns: the streams of a history (h->streams under h->stream_lock), their
** threads and spools.
** Must never: hand out a chunk that changed after it was sealed (a write
** before the sealed end and every truncate end the stream first, with the
** file's lock held, and wait for its thread), read plaintext, or leave a
** spool behind (a crash leaves tmp_pack_ and tmp_idx_ files, which the next mount removes).
*/
#include "fs/history/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/io.h"

#define STREAM_START (8u << 20)          /* sealed bytes before a file gets a stream */
#define MAX_STREAMS 2                    /* at once: one thread each, two cores */
#define STREAM_ROOM (64ull << 20)        /* free space a spool leaves to live/, at the least */
#define ROOM_EVERY 128                   /* chunks between two looks at the free space */
#define LIVE_SYNC (64u << 20)            /* bytes of live/ packed between two starts of its writeback */

struct rfs_stream {
	struct rfs_stream *next;           /* h->streams, under h->stream_lock */
	struct rfs_history *h;
	uint8_t id[16];                    /* the file's header id */
	dev_t dev;
	ino_t ino;
	int fd;                            /* read-only, no atime */
	uint64_t first;                    /* the first chunk the next save captures */
	pthread_mutex_t mu;                /* the fields below */
	pthread_cond_t cond;
	uint64_t sealed;                   /* chunks [first, sealed) will not change before the save */
	uint64_t done;                     /* chunks [first, done) are in the spool */
	bool stop;                         /* pack no more than sealed, then end */
	int err;
	struct rfs_pack_stream *spool;     /* holds chunks [first, done), in order */
	pthread_t thread;
};

/* Chunk k's span in the ciphertext, for a chunk that is whole (sealed). */
static void sealed_span(const struct rfs_history *h, uint64_t k, uint64_t *start, size_t *len)
{
	*start = k == 0 ? 0 : RFS_HEADER_SIZE + k * h->chunk_bytes;
	*len = (size_t)(k == 0 ? RFS_HEADER_SIZE + h->chunk_bytes : h->chunk_bytes);
}

static int pack_chunk(struct rfs_stream *st, uint64_t k, uint8_t *buf)
{
	git_oid oid;
	uint64_t start;
	size_t len;
	sealed_span(st->h, k, &start, &len);
	off_t data = lseek(st->fd, (off_t)start, SEEK_DATA);
	if (data < 0 || (uint64_t)data >= start + len)
		return -EAGAIN;                /* a hole: the capture stores those (not a stream's case) */
	int rc = rfs_io_pread_all(st->fd, buf, len, start);
	if (rc < 0)
		return rc;
	rfs_sha1_object_id(&oid, GIT_OBJECT_BLOB, buf, len);
	return rfs_pack_spool_put(st->spool, &oid, GIT_OBJECT_BLOB, buf, len);
}

/* Whether the disk keeps room for live/ beside the spool: a file that fits
** in live/ must not fail to be written because history packs it early
** (history then catches up as on any full disk). */
static bool room_left(int fd)
{
	struct statvfs sv;
	return fstatvfs(fd, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize >= STREAM_ROOM;
}

static void *stream_main(void *arg)
{
	struct rfs_stream *st = arg;
	uint8_t *buf = malloc(RFS_HEADER_SIZE + st->h->chunk_bytes);
	uint64_t live_synced, span_start;
	size_t span_len;
	sealed_span(st->h, st->first, &live_synced, &span_len);
	pthread_mutex_lock(&st->mu);
	if (!buf)
		st->err = -ENOMEM;
	while (!st->err) {
		if (st->done >= st->sealed) {
			if (st->stop)
				break;
			pthread_cond_wait(&st->cond, &st->mu);
			continue;
		}
		uint64_t k = st->done;
		pthread_mutex_unlock(&st->mu);
		int rc = (k - st->first) % ROOM_EVERY == 0 && !room_left(st->fd) ? -ENOSPC : 0;
		if (rc == 0)
			rc = pack_chunk(st, k, buf);
		sealed_span(st->h, k, &span_start, &span_len);
		if (rc == 0 && span_start + span_len >= live_synced + LIVE_SYNC) {
			/* live/'s sealed pages will not change before the save: their
			** writeback starts now, beside the spool's, so the file's
			** fsync finds little left instead of all of it at once */
			sync_file_range(st->fd, (off_t)live_synced, (off_t)(span_start + span_len - live_synced),
			                SYNC_FILE_RANGE_WRITE);
			live_synced = span_start + span_len;
		}
		if (rc < 0) {                  /* its space goes back to live/ at once */
			rfs_pack_stream_close(st->spool, false);
			st->spool = NULL;
		}
		pthread_mutex_lock(&st->mu);
		if (rc < 0)
			st->err = rc;
		else
			st->done = k + 1;
	}
	pthread_mutex_unlock(&st->mu);
	free(buf);
	return NULL;
}

/* Stop st's thread once it has packed what is sealed (drain) or at once. */
static void stream_join(struct rfs_stream *st, bool drain)
{
	pthread_mutex_lock(&st->mu);
	st->stop = true;
	if (!drain)
		st->sealed = st->done;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->thread, NULL);
}

static void stream_free(struct rfs_stream *st)
{
	if (st->spool)
		rfs_pack_stream_close(st->spool, false);
	close(st->fd);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cond);
	free(st);
}

/* Take st out of the list (stream_lock held). */
static void unlink_stream(struct rfs_history *h, struct rfs_stream *st)
{
	for (struct rfs_stream **pp = &h->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			__atomic_sub_fetch(&h->nstreams, 1, __ATOMIC_ACQ_REL);
			return;
		}
}

static struct rfs_stream *find_id(struct rfs_history *h, const uint8_t id[16])
{
	for (struct rfs_stream *st = h->streams; st; st = st->next)
		if (!memcmp(st->id, id, 16))
			return st;
	return NULL;
}

static void stream_end(struct rfs_history *h, struct rfs_stream *st)
{
	unlink_stream(h, st);
	stream_join(st, false);
	stream_free(st);
}

static struct rfs_stream *stream_start(struct rfs_history *h, const uint8_t id[16], int fd,
                                       uint64_t first)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	struct rfs_stream *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->h = h;
	memcpy(st->id, id, 16);
	st->first = st->sealed = st->done = first;
	st->fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (st->fd < 0 && errno == EPERM)   /* not the owner: as capture does, without it */
		st->fd = open(proc, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (st->fd < 0 || fstat(st->fd, &sb) < 0 || rfs_pack_spool_open(h->packs, &st->spool) < 0) {
		if (st->fd >= 0)
			close(st->fd);
		free(st);
		return NULL;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cond, NULL);
	if (pthread_create(&st->thread, NULL, stream_main, st) != 0) {
		st->thread = 0;
		rfs_pack_stream_close(st->spool, false);
		close(st->fd);
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->cond);
		free(st);
		return NULL;
	}
	st->next = h->streams;
	h->streams = st;
	__atomic_add_fetch(&h->nstreams, 1, __ATOMIC_ACQ_REL);
	return st;
}

void rfs_stream_wrote(struct rfs_history *h, const uint8_t id[16], int fd, uint64_t first_block,
                      uint64_t last_block)
{
	if (!h || !h->stage || !h->packs || h->hash_only)
		return;
	uint64_t per = h->v->conf.chunk_blocks ? h->v->conf.chunk_blocks : 1;
	uint64_t first = first_block / per, sealed = last_block / per;
	pthread_mutex_lock(&h->stream_lock);
	struct rfs_stream *st = find_id(h, id);
	if (st && (first_block == UINT64_MAX || st->first != first)) {
		stream_end(h, st);               /* written otherwise than from first to the end */
		st = NULL;
	} else if (!st && first_block != UINT64_MAX && sealed > first &&
	           (sealed - first) * h->chunk_bytes >= STREAM_START && h->nstreams < MAX_STREAMS) {
		st = stream_start(h, id, fd, first);
	}
	if (st) {
		pthread_mutex_lock(&st->mu);
		if (sealed > st->sealed) {
			st->sealed = sealed;
			pthread_cond_signal(&st->cond);
		}
		pthread_mutex_unlock(&st->mu);
	}
	pthread_mutex_unlock(&h->stream_lock);
}

void rfs_stream_before_write(struct rfs_history *h, const uint8_t id[16], uint64_t from_block)
{
	if (!h || !__atomic_load_n(&h->nstreams, __ATOMIC_ACQUIRE))
		return;
	uint64_t per = h->v->conf.chunk_blocks ? h->v->conf.chunk_blocks : 1;
	pthread_mutex_lock(&h->stream_lock);
	struct rfs_stream *st = find_id(h, id);
	if (st) {
		pthread_mutex_lock(&st->mu);
		bool sealed_changes = from_block / per < st->sealed;
		pthread_mutex_unlock(&st->mu);
		if (sealed_changes)
			stream_end(h, st);
	}
	pthread_mutex_unlock(&h->stream_lock);
}

void rfs_stream_drop(struct rfs_history *h, const uint8_t id[16])
{
	if (!h || !__atomic_load_n(&h->nstreams, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&h->stream_lock);
	struct rfs_stream *st = find_id(h, id);
	if (st)
		stream_end(h, st);
	pthread_mutex_unlock(&h->stream_lock);
}

int rfs_stream_take(struct rfs_history *h, int fd, const uint64_t *idx, size_t n, git_oid *oids,
                    struct rfs_pack_stream **spool, size_t *have)
{
	struct stat sb;
	if (!__atomic_load_n(&h->nstreams, __ATOMIC_ACQUIRE) || fstat(fd, &sb) < 0)
		return -ENOENT;
	pthread_mutex_lock(&h->stream_lock);
	struct rfs_stream *st = h->streams;
	while (st && (st->dev != sb.st_dev || st->ino != sb.st_ino))
		st = st->next;
	if (st)
		unlink_stream(h, st);
	pthread_mutex_unlock(&h->stream_lock);
	if (!st)
		return -ENOENT;
	stream_join(st, true);
	/* The save must want exactly the chunks from the stream's first on. */
	bool fits = !st->err && st->done - st->first <= n &&
	            rfs_pack_spool_count(st->spool) == st->done - st->first;
	for (size_t i = 0; fits && i < n; i++)
		fits = (idx ? idx[i] : i) == st->first + i;
	if (!fits) {
		stream_free(st);
		return -ENOENT;
	}
	*have = (size_t)(st->done - st->first);
	rfs_pack_spool_oids(st->spool, oids, *have);
	*spool = st->spool;
	st->spool = NULL;
	stream_free(st);
	return 0;
}

void rfs_stream_close_all(struct rfs_history *h)
{
	pthread_mutex_lock(&h->stream_lock);
	while (h->streams)
		stream_end(h, h->streams);
	pthread_mutex_unlock(&h->stream_lock);
}
