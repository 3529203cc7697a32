/*
** tar_out: see tar_out.h.
*/
#include "archive/tar_out.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/digest.h"
#include "crypto/io.h"
#include "crypto/age.h"
#include "crypto/minisign.h"

#define OUT_BUF (256u << 10)
#define OUT_BUFS 4               /* the most the writer holds: 1 MiB */

/* The last stage runs on a thread of its own: the final bytes' two hashes and the write(2)
** take about as long as all the rest (content digests, tar, compression, age). */
struct writer {
	pthread_t thread;
	bool running, done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *buf[OUT_BUFS];
	size_t len[OUT_BUFS];
	size_t first, count;           /* the full buffers, oldest first (under mu) */
	size_t cur, fill;              /* the one filling, (first + count) % OUT_BUFS; its bytes */
	int rc;                        /* the first write error */
	int fd;
	uint64_t bytes;
	off_t base;                    /* a regular file: where the writes began; else -1 */
	uint64_t started;              /* bytes whose writeback has been started */
	struct rfs_sha512 sha;
	struct rfs_minisign_hash b2;
};

struct rfs_tar {
	struct archive *a;
	int rc;                        /* the first error of the chain below libarchive */
	uint64_t left;                 /* of the open file entry, still to come */
	bool in_file;
	locale_t utf8;
	struct rfs_age_writer *age;    /* or NULL: not encrypted */
	struct writer w;
};

/* The caller fsyncs the whole file at the end. Started as the bytes come, the disk writes
** them while the rest is read and hashed, and that fsync finds little left to do (an
** archive of 1 GiB otherwise waited seconds for it); the wait for the range before the last
** keeps the dirty pages of the file to about two ranges. */
#define WRITE_BEHIND (8u << 20)

static void write_behind(struct writer *w)
{
	if (w->base < 0 || w->bytes - w->started < WRITE_BEHIND)
		return;
	if (w->started >= WRITE_BEHIND)
		(void)sync_file_range(w->fd, w->base + (off_t)(w->started - WRITE_BEHIND), WRITE_BEHIND,
		                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		                      SYNC_FILE_RANGE_WAIT_AFTER);
	(void)sync_file_range(w->fd, w->base + (off_t)w->started, (off_t)(w->bytes - w->started),
	                      SYNC_FILE_RANGE_WRITE);
	w->started = w->bytes;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		const uint8_t *buf;
		size_t len;
		int rc = 0;

		bool skip;

		while (w->count == 0 && !w->done)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->count == 0)
			break;
		buf = w->buf[w->first];
		len = w->len[w->first];
		skip = w->rc < 0;
		pthread_mutex_unlock(&w->mu);
		if (!skip && (rc = rfs_io_write_all(w->fd, buf, len)) == 0) {
			rfs_sha512_update(&w->sha, buf, len);
			rfs_minisign_hash_update(&w->b2, buf, len);
			w->bytes += len;
			write_behind(w);
		}
		pthread_mutex_lock(&w->mu);
		if (rc < 0 && w->rc == 0)
			w->rc = rc;
		w->first = (w->first + 1) % OUT_BUFS;
		w->count--;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Hands the filling buffer to the writer; waits for a free one. 0, or its write error. */
static int writer_flush(struct writer *w)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	w->len[w->cur] = w->fill;
	w->count++;
	w->cur = (w->cur + 1) % OUT_BUFS;
	w->fill = 0;
	pthread_cond_broadcast(&w->cv);
	while (w->count == OUT_BUFS)
		pthread_cond_wait(&w->cv, &w->mu);
	rc = w->rc;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* The last stage: what reaches the fd, hashed as it goes (on the writer's thread). */
static int sink(void *arg, const void *buf, size_t len)
{
	struct writer *w = &((struct rfs_tar *)arg)->w;
	const uint8_t *p = buf;
	int rc;

	while (len) {
		size_t n = OUT_BUF - w->fill < len ? OUT_BUF - w->fill : len;

		memcpy(w->buf[w->cur] + w->fill, p, n);
		w->fill += n;
		p += n;
		len -= n;
		if (w->fill == OUT_BUF && (rc = writer_flush(w)) < 0)
			return rc;
	}
	return 0;
}

static int writer_start(struct writer *w, int fd)
{
	struct stat st;

	w->fd = fd;
	w->base = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? lseek(fd, 0, SEEK_CUR) : -1;
	rfs_sha512_init(&w->sha);
	rfs_minisign_hash_init(&w->b2);
	for (int i = 0; i < OUT_BUFS; i++)
		if (!(w->buf[i] = malloc(OUT_BUF)))
			return -ENOMEM;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return -ENOMEM;
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return -ENOMEM;
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		return -EAGAIN;
	}
	w->running = true;
	return 0;
}

/* Writes what is left (cancel: drops it) and ends the thread: 0, or the first write error. */
static int writer_stop(struct writer *w, bool cancel)
{
	if (!w->running)
		return w->rc;
	pthread_mutex_lock(&w->mu);
	if (w->fill) {
		w->len[w->cur] = w->fill;
		w->count++;
		w->fill = 0;
	}
	if (cancel && w->rc == 0)
		w->rc = -ECANCELED;
	w->done = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	w->running = false;
	return w->rc;
}

static la_ssize_t write_cb(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct rfs_tar *t = arg;
	int rc;

	if (t->rc < 0)
		return -1;
	if (t->age)
		rc = rfs_age_writer_write(t->age, buf, len);
	else
		rc = sink(t, buf, len);
	if (rc < 0) {
		t->rc = rc;
		archive_set_error(a, -rc, "%s", strerror(-rc));
		return -1;
	}
	return (la_ssize_t)len;
}

/* Our error when the chain below failed, else libarchive's as -EIO. */
static int fail(struct rfs_tar *t)
{
	return t->rc < 0 ? t->rc : -EIO;
}

static void tar_free(struct rfs_tar *t)
{
	if (!t)
		return;
	t->rc = -ECANCELED;              /* an unclosed archive's end goes nowhere */
	if (t->a)
		archive_write_free(t->a);
	writer_stop(&t->w, true);
	for (int i = 0; i < OUT_BUFS; i++)
		free(t->w.buf[i]);
	if (t->utf8)
		freelocale(t->utf8);
	if (t->age)
		rfs_age_writer_abort(t->age);
	free(t);
}

int rfs_tar_start(const struct rfs_bag_out *out, struct rfs_tar **tp, char *err, size_t errsz)
{
	struct rfs_tar *t = calloc(1, sizeof(*t));
	int r;

	*tp = NULL;
	if (!t || !(t->a = archive_write_new())) {
		free(t);
		snprintf(err, errsz, "no memory to start the archive");
		return -ENOMEM;
	}
	if ((r = writer_start(&t->w, out->fd)) < 0) {
		snprintf(err, errsz, "the archive's writer cannot start: %s", strerror(-r));
		tar_free(t);
		return r;
	}
	if (!(t->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0))) {
		snprintf(err, errsz, "the locale C.UTF-8 is missing: libarchive needs it for the "
		         "archive's UTF-8 names (install the C library's locales)");
		tar_free(t);
		return -ENOTSUP;
	}
	if (out->n_recipients > 0) {
		r = rfs_age_writer_start(out->recipients, out->n_recipients, sink, t, &t->age);
		if (r < 0) {
			snprintf(err, errsz, "the archive's encryption cannot start: %s", strerror(-r));
			tar_free(t);
			return r;
		}
	}
	r = archive_write_set_format_pax_restricted(t->a);
	if (r == ARCHIVE_OK && out->compress == RFS_BAG_GZIP) {
		r = archive_write_add_filter_gzip(t->a);
		/* No value turns the option off: no time of writing in the gzip header. */
		if (r == ARCHIVE_OK)
			r = archive_write_set_filter_option(t->a, "gzip", "timestamp", NULL);
	} else if (r == ARCHIVE_OK && out->compress == RFS_BAG_ZSTD) {
		r = archive_write_add_filter_zstd(t->a);
	} else if (r == ARCHIVE_OK && out->compress != RFS_BAG_PLAIN) {
		snprintf(err, errsz, "unknown compression %d", (int)out->compress);
		tar_free(t);
		return -EINVAL;
	}
	/* Compressed streams end where they end; a plain tar keeps tar's 10 KiB blocks. */
	if (r == ARCHIVE_OK && out->compress != RFS_BAG_PLAIN)
		r = archive_write_set_bytes_in_last_block(t->a, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open2(t->a, t, NULL, write_cb, NULL, NULL);
	if (r != ARCHIVE_OK) {
		r = fail(t);
		snprintf(err, errsz, "the archive cannot be started: %s",
		         archive_error_string(t->a) ? archive_error_string(t->a) : strerror(-r));
		tar_free(t);
		return r;
	}
	*tp = t;
	return 0;
}

static int put_header(struct rfs_tar *t, const char *path, mode_t mode, int64_t mtime,
                      uint64_t size, const char *hardlink, const char *symlink)
{
	struct archive_entry *e;
	locale_t old;
	int rc = 0;

	if (t->in_file)
		return -EIO;             /* the last file's data did not all come */
	if (!(e = archive_entry_new()))
		return -ENOMEM;
	archive_entry_set_pathname_utf8(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, (time_t)mtime, 0);
	archive_entry_set_size(e, (la_int64_t)size);
	if (hardlink)
		archive_entry_set_hardlink_utf8(e, hardlink);
	if (symlink)
		archive_entry_set_symlink_utf8(e, symlink);
	/* libarchive converts names through the thread's locale: UTF-8 names need a UTF-8
	** one, whatever locale the program runs in (this thread only, and only here). */
	old = uselocale(t->utf8);
	if (archive_write_header(t->a, e) != ARCHIVE_OK)
		rc = fail(t);
	uselocale(old);
	archive_entry_free(e);
	return rc;
}

static mode_t file_mode(mode_t mode)
{
	return S_IFREG | ((mode & 0111) ? 0755 : 0644);
}

int rfs_tar_folder(struct rfs_tar *t, const char *path, int64_t mtime)
{
	return put_header(t, path, S_IFDIR | 0755, mtime, 0, NULL, NULL);
}

int rfs_tar_file_begin(struct rfs_tar *t, const char *path, mode_t mode, int64_t mtime,
                       uint64_t size)
{
	int rc = put_header(t, path, file_mode(mode), mtime, size, NULL, NULL);

	if (rc == 0) {
		t->in_file = true;
		t->left = size;
	}
	return rc;
}

int rfs_tar_data(struct rfs_tar *t, const void *buf, size_t len)
{
	if (!t->in_file || len > t->left)
		return -EIO;             /* more than the header said */
	if (len && archive_write_data(t->a, buf, len) != (la_ssize_t)len)
		return fail(t);
	t->left -= len;
	return 0;
}

int rfs_tar_file_end(struct rfs_tar *t)
{
	if (!t->in_file || t->left != 0)
		return -EIO;             /* fewer than the header said */
	t->in_file = false;
	return archive_write_finish_entry(t->a) == ARCHIVE_OK ? 0 : fail(t);
}

int rfs_tar_hardlink(struct rfs_tar *t, const char *path, const char *target, mode_t mode,
                     int64_t mtime)
{
	return put_header(t, path, file_mode(mode), mtime, 0, target, NULL);
}

int rfs_tar_symlink(struct rfs_tar *t, const char *path, const char *target, int64_t mtime)
{
	return put_header(t, path, S_IFLNK | 0777, mtime, 0, NULL, target);
}

int rfs_tar_finish(struct rfs_tar *t, uint8_t sha512[64], uint8_t blake2b512[64],
                   uint64_t *bytes, char *err, size_t errsz)
{
	int rc = t->in_file ? -EIO : 0;

	if (rc == 0 && archive_write_close(t->a) != ARCHIVE_OK)
		rc = fail(t);
	if (rc == 0 && t->age) {
		rc = rfs_age_writer_finish(t->age);
		t->age = NULL;
	}
	if (rc == 0)
		rc = writer_stop(&t->w, false);
	if (rc < 0) {
		snprintf(err, errsz, "the archive cannot be completed: %s", strerror(-rc));
		tar_free(t);
		return rc;
	}
	rfs_sha512_final(&t->w.sha, sha512);
	rfs_minisign_hash_final(&t->w.b2, blake2b512);
	*bytes = t->w.bytes;
	tar_free(t);
	return 0;
}

void rfs_tar_abort(struct rfs_tar *t)
{
	tar_free(t);
}
