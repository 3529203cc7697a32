/*
** pack: the packs of objects/pack as one ODB backend, the uncompressed pack
** writer (trees as deltas; a spool's bytes hashed and written directly by a
** thread of its own), their consolidation, and the reader that verify and
** gc read each object with once (see pack.h).
** Must never: write loose objects, remove a pack whose objects are not in another,
** or copy a delta into a pack without its base.
*/
#include "fs/history/pack.h"
#include "fs/history/sha1.h"
#include "fs/history/bytes.h"
#include "crypto/io.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>
#include <unistd.h>
#include <git2/sys/odb_backend.h>
#include <libdeflate.h>
#include <zlib.h>

/* ---- the packs backend: libgit2's pack backend, rescanned only on change ---- */

struct rfs_packs {
	git_odb_backend parent;
	git_odb_backend *inner;           /* libgit2's pack backend over objects/pack */
	char *objdir, *packdir;
	struct timespec seen;             /* mtime of objects/pack at the last scan */
};

static git_odb_backend *inner_of(git_odb_backend *be) { return ((struct rfs_packs *)be)->inner; }

static int pk_read(void **buf, size_t *len, git_object_t *type, git_odb_backend *be,
                   const git_oid *oid)
{
	git_odb_backend *in = inner_of(be);
	return in->read(buf, len, type, in, oid);
}

static int pk_read_prefix(git_oid *out, void **buf, size_t *len, git_object_t *type,
                          git_odb_backend *be, const git_oid *prefix, size_t n)
{
	git_odb_backend *in = inner_of(be);
	return in->read_prefix(out, buf, len, type, in, prefix, n);
}

static int pk_read_header(size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
	git_odb_backend *in = inner_of(be);
	return in->read_header(len, type, in, oid);
}

static int pk_exists(git_odb_backend *be, const git_oid *oid)
{
	git_odb_backend *in = inner_of(be);
	return in->exists(in, oid);
}

static int pk_exists_prefix(git_oid *out, git_odb_backend *be, const git_oid *prefix, size_t n)
{
	git_odb_backend *in = inner_of(be);
	return in->exists_prefix(out, in, prefix, n);
}

static int pk_foreach(git_odb_backend *be, git_odb_foreach_cb cb, void *arg)
{
	git_odb_backend *in = inner_of(be);
	return in->foreach(in, cb, arg);
}

static int pk_freshen(git_odb_backend *be, const git_oid *oid)
{
	git_odb_backend *in = inner_of(be);
	return in->freshen(in, oid);
}

static bool packdir_changed(struct rfs_packs *p, bool remember)
{
	struct stat st;
	if (stat(p->packdir, &st) < 0)
		return true;
	bool changed = st.st_mtim.tv_sec != p->seen.tv_sec || st.st_mtim.tv_nsec != p->seen.tv_nsec;
	if (remember)
		p->seen = st.st_mtim;
	return changed;
}

/* libgit2 calls this on every lookup miss: rescan only when objects/pack changed. */
static int pk_refresh(git_odb_backend *be)
{
	struct rfs_packs *p = (struct rfs_packs *)be;
	if (!packdir_changed(p, true))
		return 0;
	return p->inner->refresh(p->inner);
}

/* After writing a pack: the folder's mtime may not have ticked, so always rescan. */
static void packs_rescan(struct rfs_packs *p)
{
	packdir_changed(p, true);
	p->inner->refresh(p->inner);
}

static void pk_free(git_odb_backend *be)
{
	struct rfs_packs *p = (struct rfs_packs *)be;
	p->inner->free(p->inner);
	free(p->objdir);
	free(p->packdir);
	free(p);
}

static int new_inner(struct rfs_packs *p, git_odb_backend **out)
{
	packdir_changed(p, true);        /* the backend scans objects/pack as it is now */
	return git_odb_backend_pack(out, p->objdir) < 0 ? -EIO : 0;
}

/* Before every write (a folder's tree at mkdir) libgit2 asks each backend to
** freshen the id, and the loose backend's answer is a failing utimensat on
** objects/xx/...: nothing is written loose, so it says "not here" at once. An
** object an older tool wrote loose is then staged again, which costs only its
** bytes in the next pack. */
static int loose_freshen(git_odb_backend *be, const git_oid *oid)
{
	(void)be;
	(void)oid;
	return GIT_ENOTFOUND;
}

int rfs_pack_attach(git_odb *odb, const char *objects_dir, struct rfs_packs **out)
{
	struct rfs_packs *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->objdir = strdup(objects_dir);
	if (!p->objdir || asprintf(&p->packdir, "%s/pack", objects_dir) < 0) {
		free(p->objdir);
		free(p);
		return -ENOMEM;
	}
	int rc = new_inner(p, &p->inner);
	if (rc < 0) {
		free(p->packdir);
		free(p->objdir);
		free(p);
		return rc;
	}
	p->parent.version = GIT_ODB_BACKEND_VERSION;
	p->parent.read = pk_read;
	p->parent.read_prefix = pk_read_prefix;
	p->parent.read_header = pk_read_header;
	p->parent.exists = pk_exists;
	p->parent.exists_prefix = pk_exists_prefix;
	p->parent.foreach = pk_foreach;
	p->parent.freshen = pk_freshen;
	p->parent.refresh = pk_refresh;
	p->parent.free = pk_free;
	git_odb_backend *loose = NULL;    /* read only: nothing is written loose */
	if (git_odb_add_backend(odb, &p->parent, 2) < 0) {
		pk_free(&p->parent);
		return -EIO;
	}
	if (git_odb_backend_loose(&loose, objects_dir, 0, 0, 0, 0) == 0)
		loose->freshen = loose_freshen;
	if (!loose || git_odb_add_backend(odb, loose, 1) < 0) {
		if (loose)
			loose->free(loose);
		return -EIO;                 /* p is owned by odb now */
	}
	*out = p;
	return 0;
}

int rfs_pack_reload(struct rfs_packs *p)
{
	git_odb_backend *fresh = NULL;
	int rc = new_inner(p, &fresh);
	if (rc < 0)
		return rc;
	p->inner->free(p->inner);
	p->inner = fresh;
	return 0;
}

/* ---- pack stream: objects as zlib stored blocks ---- */

#define OUT_BUF (512u << 10)              /* a pack's writes and its seal's reads */
#define DIRECT_ALIGN 4096                 /* of a spool's buffer, for O_DIRECT */

/* CRC-32 (IEEE, reflected), which pack index v2 keeps per object, and the
** Adler-32 of each zlib stream: libdeflate's (PCLMUL, AVX2), 2 to 7 times
** zlib's here; they run over every byte of every pack. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	return libdeflate_crc32(crc, p, n);
}

struct pack_entry {                      /* 32 bytes: one per object of a pack written */
	git_oid oid;
	uint32_t crc;
	uint64_t offset;
};

struct out_writer;

struct pack_out {
	int fd;
	struct rfs_sha1 sha;
	uint8_t *buf;
	size_t used;
	uint64_t off;                     /* bytes of pack so far */
	bool crc_known;                   /* a raw entry: its CRC comes from its old index */
	uint32_t crc;                     /* of the object being written */
	bool unhashed;                    /* bytes not for the SHA-1 (an index's own checksum) */
	bool direct;                      /* fd is O_DIRECT: whole buffers only, at multiples of OUT_BUF */
	struct out_writer *w;             /* a spool's: while direct, it hashes and writes whole buffers */
	int err;
};

/* The rest of o's writes through the page cache (a tail, a header, a trailer). */
static void fd_buffered(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_DIRECT))
		fcntl(fd, F_SETFL, fl & ~O_DIRECT);
}

/* ---- a spool's writer ----
** A spool's thread (stream.c) hashes each chunk for its id. The pack's own
** SHA-1 over the same bytes, and the writes, are a writer thread's: it takes
** each full buffer in order, hashes it and submits it to the disk (Linux AIO,
** O_DIRECT), so up to WRITER_BUFS - 1 buffers are on their way while the
** spool's thread fills the next. A segment's file is first given its size
** (sparse), so that no write extends it: ext4 waits for an extending direct
** write even under AIO. Its tail, header and trailer then go through the page
** cache, after the file is cut back to what was written. A direct write the
** file or the device refuses (EINVAL), or a short one, is written again through
** the page cache, and so is the rest: a spool never fails for it. */
#define WRITER_BUFS 4

struct out_writer {
	struct pack_out *o;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint8_t *bufs[WRITER_BUFS];
	struct iocb cbs[WRITER_BUFS];      /* cbs[i] writes bufs[i] */
	bool submitted[WRITER_BUFS];       /* cbs[i] is in flight (the writer's own) */
	uint8_t *spare[WRITER_BUFS];       /* free buffers, under mu */
	size_t nspare;
	uint8_t *jobs[WRITER_BUFS];        /* full buffers, oldest first, under mu */
	size_t njobs;
	size_t inflight;                   /* taken by the writer, not yet done, under mu */
	uint64_t at;                       /* where the next buffer goes, under mu */
	aio_context_t aio;                 /* 0: writes are synchronous */
	bool buffered;                     /* through the page cache from now on */
	bool quit;
	int err;
	pthread_t thread;
};

static long aio_setup(unsigned n, aio_context_t *ctx) { return syscall(SYS_io_setup, n, ctx); }
static long aio_destroy(aio_context_t ctx) { return syscall(SYS_io_destroy, ctx); }
static long aio_submit(aio_context_t ctx, long n, struct iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, n, cbs);
}
static long aio_getevents(aio_context_t ctx, long min, long max, struct io_event *ev)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

static size_t buf_index(const struct out_writer *w, const uint8_t *buf)
{
	size_t i = 0;
	while (w->bufs[i] != buf)
		i++;
	return i;
}

/* A buffer done with (written, or given up on an error): back to the spares. */
static void buf_done(struct out_writer *w, uint8_t *buf, int rc)
{
	pthread_mutex_lock(&w->mu);
	if (rc < 0 && !w->err)
		w->err = rc;
	w->inflight--;
	w->spare[w->nspare++] = buf;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

/* A direct write of buf at at came back with res (bytes, or -errno): an
** error, or what it left undone (refused, short) again through the page cache. */
static int write_rest(struct out_writer *w, const uint8_t *buf, long long res, uint64_t at)
{
	if (res == OUT_BUF)
		return 0;
	if (res < 0 && res != -EINVAL && res != -EINTR)
		return (int)res;
	if (!w->buffered) {
		fd_buffered(w->o->fd);
		w->buffered = true;
	}
	size_t done = res > 0 ? (size_t)res : 0;
	return rfs_io_pwrite_all(w->o->fd, buf + done, OUT_BUF - done, at + done);
}

/* Reap at least min of the writes in flight. */
static void writer_reap(struct out_writer *w, long min)
{
	struct io_event ev[WRITER_BUFS];
	long n = aio_getevents(w->aio, min, WRITER_BUFS, ev);
	int err = -errno;
	for (long i = 0; i < n; i++) {
		uint8_t *buf = (uint8_t *)(uintptr_t)ev[i].data;
		size_t k = buf_index(w, buf);
		w->submitted[k] = false;
		buf_done(w, buf, write_rest(w, buf, (long long)ev[i].res, (uint64_t)w->cbs[k].aio_offset));
	}
	if (n >= 0 || err == -EINTR)
		return;
	/* Cannot happen with a valid context. Its writes are waited for and given
	** up on, so that a drain ends with the error; later writes are synchronous. */
	aio_destroy(w->aio);
	w->aio = 0;
	for (size_t k = 0; k < WRITER_BUFS; k++)
		if (w->submitted[k]) {
			w->submitted[k] = false;
			buf_done(w, w->bufs[k], err);
		}
}

/* buf, the next OUT_BUF bytes of the pack at at: submitted, or written now. */
static void writer_put(struct out_writer *w, uint8_t *buf, uint64_t at)
{
	if (w->aio && !w->buffered) {
		struct iocb *cb = &w->cbs[buf_index(w, buf)];
		memset(cb, 0, sizeof *cb);
		cb->aio_data = (uint64_t)(uintptr_t)buf;
		cb->aio_lio_opcode = IOCB_CMD_PWRITE;
		cb->aio_fildes = (uint32_t)w->o->fd;
		cb->aio_buf = (uint64_t)(uintptr_t)buf;
		cb->aio_nbytes = OUT_BUF;
		cb->aio_offset = (int64_t)at;
		if (aio_submit(w->aio, 1, &cb) == 1) {
			w->submitted[buf_index(w, buf)] = true;
			return;
		}
	}
	ssize_t n = w->buffered ? 0 : pwrite(w->o->fd, buf, OUT_BUF, (off_t)at);
	buf_done(w, buf, write_rest(w, buf, n < 0 ? -errno : (long long)n, at));
}

static void *writer_main(void *arg)
{
	struct out_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (!w->njobs && w->inflight) {
			pthread_mutex_unlock(&w->mu);
			writer_reap(w, 1);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (!w->njobs) {
			if (w->quit)
				break;
			pthread_cond_wait(&w->cond, &w->mu);
			continue;
		}
		uint8_t *buf = w->jobs[0];
		memmove(w->jobs, w->jobs + 1, --w->njobs * sizeof *w->jobs);
		w->inflight++;                /* a drain waits for its hash too */
		uint64_t at = w->at;
		w->at += OUT_BUF;
		bool failed = w->err != 0;
		pthread_mutex_unlock(&w->mu);
		rfs_sha1_update(&w->o->sha, buf, OUT_BUF);
		if (failed)
			buf_done(w, buf, 0);
		else
			writer_put(w, buf, at);
		if (w->aio)
			writer_reap(w, 0);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static struct out_writer *writer_start(struct pack_out *o)
{
	struct out_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->o = o;
	for (size_t i = 0; i < WRITER_BUFS; i++) {
		void *b = NULL;
		if (posix_memalign(&b, DIRECT_ALIGN, OUT_BUF) != 0)
			goto fail;
		w->bufs[i] = b;
		w->spare[w->nspare++] = b;
	}
	if (aio_setup(WRITER_BUFS, &w->aio) < 0)
		w->aio = 0;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) == 0)
		return w;
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	if (w->aio)
		aio_destroy(w->aio);
fail:
	for (size_t i = 0; i < WRITER_BUFS; i++)
		free(w->bufs[i]);
	free(w);
	return NULL;
}

/* Wait until every buffer given is written; their error, if any, becomes
** o's. Returns the bytes they hold, from the start of the segment. */
static uint64_t writer_drain(struct pack_out *o)
{
	struct out_writer *w = o->w;
	pthread_mutex_lock(&w->mu);
	while (w->njobs || w->inflight)
		pthread_cond_wait(&w->cond, &w->mu);
	if (w->err && !o->err)
		o->err = w->err;
	uint64_t at = w->at;
	w->at = 0;
	w->err = 0;
	w->buffered = false;
	pthread_mutex_unlock(&w->mu);
	return at;
}

/* o's full buffer to the writer; o goes on in a spare one. */
static void writer_give(struct pack_out *o)
{
	struct out_writer *w = o->w;
	pthread_mutex_lock(&w->mu);
	while (!w->nspare)
		pthread_cond_wait(&w->cond, &w->mu);
	if (w->err && !o->err)
		o->err = w->err;
	w->jobs[w->njobs++] = o->buf;
	o->buf = w->spare[--w->nspare];
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static void writer_stop(struct pack_out *o)
{
	struct out_writer *w = o->w;
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	if (w->aio)
		aio_destroy(w->aio);
	for (size_t i = 0; i < WRITER_BUFS; i++)
		free(w->bufs[i]);
	free(w);
	o->w = NULL;
	o->buf = NULL;
}

/* While the writer has o (direct), its buffers' SHA-1 is taken there, as
** they are written; a tail is hashed here, after the writer is done. */
static bool out_deferred(const struct pack_out *o)
{
	return o->w && o->direct;
}

static void out_flush(struct pack_out *o)
{
	if (out_deferred(o)) {
		if (o->used == OUT_BUF) {
			writer_give(o);
			o->used = 0;
			return;
		}
		/* the rest through the page cache, after what was written: the
		** file cut back from the size it was given (spool_put) */
		uint64_t at = writer_drain(o);
		rfs_sha1_update(&o->sha, o->buf, o->used);
		fd_buffered(o->fd);
		o->direct = false;
		if (!o->err && (ftruncate(o->fd, (off_t)at) < 0 || lseek(o->fd, (off_t)at, SEEK_SET) < 0))
			o->err = -errno;
	}
	if (o->used && !o->err)
		o->err = rfs_io_write_all(o->fd, o->buf, o->used);
	o->used = 0;
}

static void out_put(struct pack_out *o, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (!o->unhashed && !out_deferred(o))
		rfs_sha1_update(&o->sha, p, n);
	if (!o->crc_known)
		o->crc = crc32_update(o->crc, p, n);
	o->off += n;
	while (n) {
		size_t take = OUT_BUF - o->used < n ? OUT_BUF - o->used : n;
		memcpy(o->buf + o->used, p, take);
		o->used += take;
		p += take;
		n -= take;
		if (o->used == OUT_BUF)
			out_flush(o);
	}
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* An entry: its header (type 1-4, or 6 with ofs, the distance back to its
** base), then data as zlib stored blocks. */
static void put_entry(struct pack_out *o, unsigned type, uint64_t ofs, const uint8_t *data,
                      size_t len)
{
	uint8_t hdr[32];
	size_t n = 0;
	size_t rest = len >> 4;
	hdr[n++] = (uint8_t)((rest ? 0x80 : 0) | (type & 7) << 4 | (len & 15));
	while (rest) {
		hdr[n++] = (uint8_t)((rest >> 7 ? 0x80 : 0) | (rest & 0x7f));
		rest >>= 7;
	}
	if (type == GIT_OBJECT_OFS_DELTA) {     /* git's offset: big-endian, 7 bits, each more byte +1 */
		uint8_t b[10];
		size_t k = sizeof b;
		b[--k] = (uint8_t)(ofs & 0x7f);
		while (ofs >>= 7)
			b[--k] = (uint8_t)(0x80 | (--ofs & 0x7f));
		memcpy(hdr + n, b + k, sizeof b - k);
		n += sizeof b - k;
	}
	hdr[n++] = 0x78;                         /* zlib: deflate, 32 KiB window */
	hdr[n++] = 0x01;                         /* level 0, check bits */
	out_put(o, hdr, n);
	size_t off = 0;
	do {
		size_t blk = len - off < 65535 ? len - off : 65535;
		uint8_t b[5] = { off + blk == len ? 1 : 0, (uint8_t)blk, (uint8_t)(blk >> 8),
		                 (uint8_t)~blk, (uint8_t)(~blk >> 8) };
		out_put(o, b, 5);
		out_put(o, data + off, blk);
		off += blk;
	} while (off < len);
	uint8_t ad[4];
	put_be32(ad, libdeflate_adler32(1, data, len));
	out_put(o, ad, 4);
}

static void put_object(struct pack_out *o, git_object_t type, const uint8_t *data, size_t len)
{
	put_entry(o, (unsigned)type, 0, data, len);
}

/* ---- tree deltas ----
** A save writes again every tree on its path, and two versions of a tree
** differ in one entry: each tree is packed as an OFS_DELTA against the last
** tree of the same pack that shares its first or its last entry (name and
** id, so folders whose first entry is each one's .dirid are told apart) when
** that saves at least half. Two versions share a prefix and a suffix, so the
** delta is a copy, an insert and a copy: no general diff. A base is always an
** earlier entry of the same pack. */

#define DELTA_DEPTH 50                    /* git's: a read inflates a chain of at most this */
#define DELTA_SLOTS 512                   /* bases remembered, by entry hash */
#define DELTA_MIN 256                     /* smaller trees are written whole */
#define DELTA_MAX_TREE (1u << 20)
#define DELTA_CACHE (4u << 20)            /* bytes of bases held; past it, all are forgotten */

struct delta_base {
	unsigned refs;                    /* slots naming it */
	unsigned depth;                   /* deltas under it: 0 for a whole object */
	uint64_t offset;
	size_t len;
	uint8_t data[];
};

struct delta_slot {
	uint64_t key;
	struct delta_base *b;
};

struct delta_state {
	struct delta_slot slot[DELTA_SLOTS];
	size_t held;                      /* bytes of bases */
	uint8_t *buf;                     /* the delta being built */
	size_t cap;
};

static void base_unref(struct delta_state *d, struct delta_base *b)
{
	if (b && --b->refs == 0) {
		d->held -= b->len;
		free(b);
	}
}

static void delta_free(struct delta_state *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < DELTA_SLOTS; i++)
		base_unref(d, d->slot[i].b);
	free(d->buf);
	free(d);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h | 1;                     /* 0 is an empty slot */
}

/* Hashes of the first and the last entry ("mode name\0" and the id) of a
** tree; 0 for a tree that does not parse. */
static void tree_keys(const uint8_t *t, size_t len, uint64_t key[2])
{
	key[0] = key[1] = 0;
	size_t at = 0, last = 0;
	bool first = true;
	while (at < len) {
		const uint8_t *nul = memchr(t + at, 0, len - at);
		if (!nul || (size_t)(nul - t) + 1 + 20 > len)
			return;
		size_t end = (size_t)(nul - t) + 1 + 20;
		if (first)
			key[0] = fnv1a(t + at, end - at);
		first = false;
		last = at;
		at = end;
	}
	if (!first)
		key[1] = fnv1a(t + last, len - last) ^ 0x9e3779b97f4a7c15ull;
}

static void varint(uint8_t *p, size_t *n, size_t v)
{
	do {
		p[(*n)++] = (uint8_t)((v >= 0x80 ? 0x80 : 0) | (v & 0x7f));
		v >>= 7;
	} while (v);
}

/* A copy of base[off, off + len) (len <= 0x10000), in git's delta encoding. */
static void delta_copy(uint8_t *p, size_t *n, size_t off, size_t len)
{
	size_t op = (*n)++;
	uint8_t flags = 0x80;
	for (unsigned i = 0; i < 4; i++)
		if (off >> (8 * i) & 0xff) {
			flags |= (uint8_t)(1u << i);
			p[(*n)++] = (uint8_t)(off >> (8 * i));
		}
	if (len != 0x10000)               /* no size bytes: 0x10000 */
		for (unsigned i = 0; i < 3; i++)
			if (len >> (8 * i) & 0xff) {
				flags |= (uint8_t)(0x10u << i);
				p[(*n)++] = (uint8_t)(len >> (8 * i));
			}
	p[op] = flags;
}

/* The delta of t against b (prefix and suffix copied, the middle inserted)
** into d->buf; its length, or 0 when it would not save half of t. */
static size_t delta_make(struct delta_state *d, const struct delta_base *b, const uint8_t *t,
                         size_t len)
{
	size_t most = b->len < len ? b->len : len, pre = 0, suf = 0;
	while (pre < most && b->data[pre] == t[pre])
		pre++;
	while (suf < most - pre && b->data[b->len - 1 - suf] == t[len - 1 - suf])
		suf++;
	size_t mid = len - pre - suf;
	size_t copies = (pre + 0xffff) / 0x10000 + (suf + 0xffff) / 0x10000;
	size_t bound = 20 + copies * 8 + mid + (mid + 126) / 127;
	if (bound >= len / 2)
		return 0;
	if (bound > d->cap) {
		size_t c = bound < 4096 ? 4096 : bound;
		uint8_t *nb = realloc(d->buf, c);
		if (!nb)
			return 0;
		d->buf = nb;
		d->cap = c;
	}
	size_t n = 0;
	varint(d->buf, &n, b->len);
	varint(d->buf, &n, len);
	for (size_t off = 0; off < pre; off += 0x10000)
		delta_copy(d->buf, &n, off, pre - off < 0x10000 ? pre - off : 0x10000);
	for (size_t off = 0; off < mid; off += 127) {
		size_t k = mid - off < 127 ? mid - off : 127;
		d->buf[n++] = (uint8_t)k;
		memcpy(d->buf + n, t + pre + off, k);
		n += k;
	}
	for (size_t off = 0; off < suf; off += 0x10000)
		delta_copy(d->buf, &n, b->len - suf + off, suf - off < 0x10000 ? suf - off : 0x10000);
	return n;
}

/* Remember tree t (at offset, depth deltas deep) as the base for its keys. */
static void delta_remember(struct delta_state *d, const uint64_t key[2], uint64_t offset,
                           unsigned depth, const uint8_t *t, size_t len)
{
	if (d->held + len > DELTA_CACHE)
		for (size_t i = 0; i < DELTA_SLOTS; i++) {
			base_unref(d, d->slot[i].b);
			d->slot[i] = (struct delta_slot){ 0, NULL };
		}
	struct delta_base *b = malloc(sizeof *b + len);
	if (!b)
		return;                      /* no base: the next version is written whole */
	*b = (struct delta_base){ .refs = 0, .depth = depth, .offset = offset, .len = len };
	memcpy(b->data, t, len);
	d->held += len;
	for (int k = 0; k < 2; k++) {
		if (!key[k])
			continue;
		struct delta_slot *s = &d->slot[key[k] % DELTA_SLOTS];
		if (s->b == b) {              /* both keys in one slot */
			s->key = key[k];
			continue;
		}
		base_unref(d, s->b);
		*s = (struct delta_slot){ key[k], b };
		b->refs++;
	}
	if (!b->refs) {
		d->held -= len;
		free(b);
	}
}

static int by_entry_oid(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct pack_entry *)a)->oid, &((const struct pack_entry *)b)->oid);
}

/* Pack index v2 of the (sorted) entries: fan-out, ids, CRCs, offsets,
** checksums, written through o (o->buf, whose bytes it may overwrite) a
** section at a time: its size grows with the entries, its buffer does not. */
static int write_index(struct pack_out *o, const struct pack_entry *e, size_t n,
                       const uint8_t pack_sum[20])
{
	uint8_t w[8];
	uint32_t k = 0, bi = 0;
	rfs_sha1_init(&o->sha);
	o->unhashed = false;
	o->crc_known = true;
	o->used = 0;
	o->off = 0;
	put_be32(w, 0xff744f63u);                /* "\377tOc" */
	put_be32(w + 4, 2);
	out_put(o, w, 8);
	for (unsigned f = 0; f < 256; f++) {
		while (k < n && e[k].oid.id[0] <= f)
			k++;
		put_be32(w, k);
		out_put(o, w, 4);
	}
	for (size_t i = 0; i < n; i++)
		out_put(o, e[i].oid.id, 20);
	for (size_t i = 0; i < n; i++) {
		put_be32(w, e[i].crc);
		out_put(o, w, 4);
	}
	for (size_t i = 0; i < n; i++) {
		bool big = e[i].offset >= 0x80000000u;
		put_be32(w, big ? 0x80000000u | bi++ : (uint32_t)e[i].offset);
		out_put(o, w, 4);
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].offset < 0x80000000u)
			continue;
		put_be32(w, (uint32_t)(e[i].offset >> 32));
		put_be32(w + 4, (uint32_t)e[i].offset);
		out_put(o, w, 8);
	}
	out_put(o, pack_sum, 20);
	uint8_t sum[20];
	rfs_sha1_final(&o->sha, sum);
	o->unhashed = true;
	out_put(o, sum, 20);
	out_flush(o);
	return o->err;
}

/* A temporary file in packdir (git's own tmp_ prefix: git gc removes strays). */
static int tmp_file(const char *packdir, const char *prefix, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/%s_XXXXXX", packdir, prefix);
	int fd = mkostemp(path, O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int sync_close(int fd)
{
	int rc = fchmod(fd, 0444) < 0 || fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* The pack, then its index, moved into place: an index means a whole pack. */
static int move_pack(const char *packdir, const char *tpack, const char *tidx, const char *hex)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/pack-%s.pack", packdir, hex);
	if (rename(tpack, path) < 0)
		return -errno;
	snprintf(path, sizeof path, "%s/pack-%s.idx", packdir, hex);
	return rename(tidx, path) < 0 ? -errno : 0;
}

static int sync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = fsync(dfd) < 0 ? -errno : 0;
	close(dfd);
	return rc;
}

static int publish_pack(const char *packdir, const char *tpack, const char *tidx, const char *hex)
{
	int rc = move_pack(packdir, tpack, tidx, hex);
	return rc ? rc : sync_dir(packdir);
}

/* A pack being written: its object count is fixed when it is opened (the
** header comes first, and the trailer hashes it). A spool is a chain of such
** packs, its segments (see rfs_pack_spool_open). */
struct spool_seg {                       /* a segment finished, not yet published */
	char *tpack, *tidx;
	char hex[41];
};

struct rfs_pack_stream {
	const char *packdir;
	struct rfs_packs *packs;          /* told of the pack when it is kept; may be NULL */
	char tpack[PATH_MAX];             /* the pack being written (o.fd >= 0) */
	struct pack_out o;
	struct pack_entry *e;             /* a spool: every segment's entries, in the order put */
	size_t n, count;                  /* entries put; n when the open pack is full */
	size_t cap;                       /* a spool: entries allocated */
	size_t first;                     /* a spool: the open segment's first entry */
	uint64_t seg_bytes;               /* a spool: bytes of objects a segment holds; 0: not one */
	uint64_t synced;                  /* a spool: bytes of the segment whose writeback was started */
	struct spool_seg *segs;           /* a spool: its finished segments */
	size_t nsegs, segs_cap;
	struct delta_state *delta;        /* the trees written, as bases; NULL until the first */
};

/* A new pack of count objects in s->o: a tmp_ file, its header put. */
static int pack_begin(struct rfs_pack_stream *s, size_t count)
{
	if (count > UINT32_MAX)
		return -EFBIG;
	if ((s->o.fd = tmp_file(s->packdir, "tmp_pack", s->tpack)) < 0) {
		int rc = s->o.fd;
		s->o.fd = -1;
		return rc;
	}
	s->o.off = 0;
	s->o.used = 0;
	s->o.unhashed = false;
	/* A spool's chunks are not read again before it is sealed: written
	** directly, they cost no copy into the page cache, nor its writeback. */
	int fl = s->seg_bytes ? fcntl(s->o.fd, F_GETFL) : -1;
	s->o.direct = fl >= 0 && fcntl(s->o.fd, F_SETFL, fl | O_DIRECT) == 0;
	uint8_t hdr[12] = { 'P', 'A', 'C', 'K' };
	put_be32(hdr + 4, 2);
	put_be32(hdr + 8, (uint32_t)count);
	rfs_sha1_init(&s->o.sha);
	out_put(&s->o, hdr, 12);
	return 0;
}

static int stream_open(const char *packdir, size_t count, struct rfs_pack_stream *s)
{
	memset(s, 0, sizeof *s);
	s->packdir = packdir;
	s->count = count;
	s->o.fd = -1;
	s->e = calloc(count ? count : 1, sizeof *s->e);
	s->o.buf = malloc(OUT_BUF);
	int rc = !s->e || !s->o.buf ? -ENOMEM : pack_begin(s, count);
	if (rc < 0) {
		free(s->e);
		free(s->o.buf);
	}
	return rc;
}
/* A tree, whole or as a delta against an earlier tree of s (see "tree deltas"). */
static void put_tree(struct rfs_pack_stream *s, uint64_t offset, const uint8_t *t, size_t len)
{
	uint64_t key[2] = { 0, 0 };
	if (len >= DELTA_MIN && len <= DELTA_MAX_TREE) {
		if (!s->delta)
			s->delta = calloc(1, sizeof *s->delta);
		if (s->delta)
			tree_keys(t, len, key);
	}
	struct delta_state *d = s->delta;
	const struct delta_base *best = NULL;
	size_t best_len = 0;
	for (int k = 0; k < 2 && key[0]; k++) {
		const struct delta_slot *sl = &d->slot[key[k] % DELTA_SLOTS];
		if (!key[k] || sl->key != key[k] || !sl->b || sl->b->depth >= DELTA_DEPTH ||
		    (k == 1 && sl->b == best))
			continue;
		size_t n = delta_make(d, sl->b, t, len);
		if (n && (!best || n < best_len)) {
			best = sl->b;
			best_len = n;
		}
	}
	unsigned depth = 0;
	if (best) {
		/* delta_make's buffer holds the last one made: make the best one again if it was not */
		if (delta_make(d, best, t, len) != best_len)
			best = NULL;
	}
	if (best) {
		depth = best->depth + 1;
		put_entry(&s->o, GIT_OBJECT_OFS_DELTA, offset - best->offset, d->buf, best_len);
	} else {
		put_object(&s->o, GIT_OBJECT_TREE, t, len);
	}
	if (key[0] || key[1])
		delta_remember(d, key, offset, depth, t, len);
}

/* Entries get their offsets and CRCs; errors stay in s->o.err. */
static void stream_put(struct rfs_pack_stream *s, const struct rfs_pack_obj *obj)
{
	if (s->o.err)
		return;
	if (s->n == s->count) {
		s->o.err = -EINVAL;          /* more objects than the header says */
		return;
	}
	struct pack_entry *e = &s->e[s->n++];
	e->oid = obj->oid;
	e->offset = s->o.off;
	s->o.crc_known = obj->raw;
	s->o.crc = obj->raw ? obj->crc : 0;
	if (obj->raw)
		out_put(&s->o, obj->data, obj->len);
	else if (obj->type == GIT_OBJECT_TREE)
		put_tree(s, e->offset, obj->data, obj->len);
	else
		put_object(&s->o, obj->type, obj->data, obj->len);
	e->crc = s->o.crc;
}

/* The open pack, all put and hashed: its trailer, then the index of e[0..n)
** (sorted here), both fsync'd as tmp_ files; hex gets the pack's name. The
** pack's fd is closed; on failure the index is removed (the pack is the caller's). */
static int pack_end(struct rfs_pack_stream *s, struct pack_entry *e, size_t n,
                    char tidx[PATH_MAX], char hex[41])
{
	uint8_t sum[20];
	out_flush(&s->o);
	rfs_sha1_final(&s->o.sha, sum);
	int rc = s->o.err ? s->o.err : rfs_io_write_all(s->o.fd, sum, 20);
	int crc = rc == 0 ? sync_close(s->o.fd) : close(s->o.fd);
	s->o.fd = -1;
	rc = rc ? rc : crc;
	int ifd = rc == 0 ? tmp_file(s->packdir, "tmp_idx", tidx) : rc;
	if (ifd < 0)
		return ifd;
	qsort(e, n, sizeof *e, by_entry_oid);
	s->o.fd = ifd;
	rc = write_index(&s->o, e, n, sum);
	crc = sync_close(ifd);
	s->o.fd = -1;
	rc = rc ? rc : crc;
	if (rc < 0)
		unlink(tidx);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	return rc;
}

/* Keep (rc == 0): trailer, index, both fsync'd and moved into place, the
** folder fsync'd. Otherwise, or on any failure, nothing is left behind. */
static int stream_finish(struct rfs_pack_stream *s, int rc, char name[41])
{
	char tidx[PATH_MAX], hex[41];
	if (rc == 0 && s->o.err)
		rc = s->o.err;               /* a write failed (ENOSPC...): say so, not a count mismatch */
	if (rc == 0 && s->n != s->count)
		rc = -EINVAL;
	if (rc == 0) {
		rc = pack_end(s, s->e, s->n, tidx, hex);
		if (rc == 0 && (rc = publish_pack(s->packdir, s->tpack, tidx, hex)) < 0)
			unlink(tidx);
		if (rc == 0 && name)
			memcpy(name, hex, 41);
	} else {
		close(s->o.fd);
	}
	if (rc < 0)
		unlink(s->tpack);
	else if (s->packs)
		packs_rescan(s->packs);
	free(s->e);
	free(s->o.buf);
	delta_free(s->delta);
	return rc;
}
/* Write n objects as one pack and its index into packdir; nothing else
** learns of it. Both are fsync'd, and the folder, before this returns. */
static int pack_write_to(const char *packdir, size_t n, rfs_pack_source src, void *arg,
                         char name[41])
{
	if (n == 0)
		return 0;
	struct rfs_pack_stream s;
	int rc = stream_open(packdir, n, &s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0 && !s.o.err; i++) {
		struct rfs_pack_obj obj = { .raw = false };
		if ((rc = src(arg, i, &obj)) == 0)
			stream_put(&s, &obj);
	}
	return stream_finish(&s, rc, name);
}

int rfs_pack_write(struct rfs_packs *packs, size_t n, rfs_pack_source src, void *arg, char name[41])
{
	int rc = pack_write_to(packs->packdir, n, src, arg, name);
	if (rc == 0)
		packs_rescan(packs);
	return rc;
}

int rfs_pack_stream_open(struct rfs_packs *packs, size_t count, struct rfs_pack_stream **out)
{
	struct rfs_pack_stream *s = malloc(sizeof *s);
	int rc = s ? stream_open(packs->packdir, count, s) : -ENOMEM;
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->packs = packs;
	*out = s;
	return 0;
}

int rfs_pack_stream_put(struct rfs_pack_stream *s, const git_oid *oid, git_object_t type,
                        const void *data, size_t len)
{
	struct rfs_pack_obj obj = { .oid = *oid, .type = type, .data = data, .len = len };
	stream_put(s, &obj);
	return s->o.err;
}

/* ---- spools: a chain of segment packs ----
** A spool's object count is not known until it closes, and a pack's header
** (which its trailer's SHA-1 covers) holds its count. So a spool is written
** as segments: each a pack whose count is fixed when its first object comes
** (the objects of seg_bytes bytes of that object's size), hashed as it is
** written, and finished (trailer and index fsync'd, still tmp_ files) by the
** thread whose put filled it. The close reads back only the last segment,
** partial, to hash it with its true count, then moves every segment into
** place with one fsync of the folder. A delta never crosses a segment. */

#define SPOOL_SYNC (8u << 20)

static void spool_forget(struct rfs_pack_stream *s, size_t from)
{
	for (size_t i = from; i < s->nsegs; i++) {
		unlink(s->segs[i].tidx);
		unlink(s->segs[i].tpack);
	}
}

/* The open segment, all put and hashed: finished and added to s->segs. */
static int seg_end(struct rfs_pack_stream *s)
{
	char tidx[PATH_MAX];
	size_t m = s->n - s->first;
	struct pack_entry *e = malloc(m * sizeof *e);   /* sorted for the index; s->e keeps the order */
	int rc = e ? rfs_bytes_grow(&s->segs, &s->segs_cap, s->nsegs, sizeof *s->segs, 4) : -ENOMEM;
	if (rc < 0) {
		writer_drain(&s->o);
		close(s->o.fd);
		s->o.fd = -1;
	} else {
		memcpy(e, s->e + s->first, m * sizeof *e);
		rc = pack_end(s, e, m, tidx, s->segs[s->nsegs].hex);
	}
	free(e);
	if (rc == 0) {
		struct spool_seg *g = &s->segs[s->nsegs];
		g->tpack = strdup(s->tpack);
		g->tidx = strdup(tidx);
		if (!g->tpack || !g->tidx) {
			free(g->tpack);
			free(g->tidx);
			unlink(tidx);
			rc = -ENOMEM;
		}
	}
	if (rc < 0)
		unlink(s->tpack);
	else
		s->nsegs++;
	delta_free(s->delta);
	s->delta = NULL;
	return rc;
}

/* The last segment, partial: its header gets the count put, and its SHA-1
** is taken by reading it back (from the disk, where it was written directly). */
static int seg_seal(struct rfs_pack_stream *s)
{
	out_flush(&s->o);
	if (s->o.err)
		return s->o.err;
	uint8_t hdr[12] = { 'P', 'A', 'C', 'K' };
	put_be32(hdr + 4, 2);
	put_be32(hdr + 8, (uint32_t)(s->n - s->first));
	if (pwrite(s->o.fd, hdr, 12, 0) != 12)
		return errno ? -errno : -EIO;
	s->count = s->n;
	rfs_sha1_init(&s->o.sha);
	for (uint64_t off = 0; off < s->o.off;) {
		size_t want = s->o.off - off < OUT_BUF ? (size_t)(s->o.off - off) : OUT_BUF;
		int rc = rfs_io_pread_all(s->o.fd, s->o.buf, want, (off_t)off);
		if (rc < 0)
			return rc;
		rfs_sha1_update(&s->o.sha, s->o.buf, want);
		off += want;
	}
	return 0;
}

static int spool_close(struct rfs_pack_stream *s, bool keep)
{
	int rc = keep ? s->o.err : -ECANCELED;
	if (s->o.fd >= 0) {
		if (rc == 0 && (rc = seg_seal(s)) == 0) {
			rc = seg_end(s);
		} else {
			writer_drain(&s->o);
			close(s->o.fd);
			unlink(s->tpack);
		}
	}
	size_t moved = 0;
	for (; rc == 0 && moved < s->nsegs; moved++) {
		const struct spool_seg *g = &s->segs[moved];
		if ((rc = move_pack(s->packdir, g->tpack, g->tidx, g->hex)) < 0)
			unlink(g->tidx);           /* a pack without its index: the next mount removes it */
	}
	if (rc == 0 && s->nsegs)
		rc = sync_dir(s->packdir);
	spool_forget(s, moved);
	if (rc == 0 && s->nsegs && s->packs)
		packs_rescan(s->packs);
	for (size_t i = 0; i < s->nsegs; i++) {
		free(s->segs[i].tpack);
		free(s->segs[i].tidx);
	}
	free(s->segs);
	free(s->e);
	writer_stop(&s->o);
	delta_free(s->delta);
	return rc;
}

int rfs_pack_stream_close(struct rfs_pack_stream *s, bool keep)
{
	int rc = s->seg_bytes ? spool_close(s, keep) : stream_finish(s, keep ? 0 : -ECANCELED, NULL);
	free(s);
	return keep ? rc : 0;
}

/* RECFS_TEST_SPOOL_SEGMENT (bytes): small segments, so that a test's file makes several. */
static uint64_t spool_segment(void)
{
	const char *t = getenv("RECFS_TEST_SPOOL_SEGMENT");
	char *end;
	unsigned long long v = t && *t ? strtoull(t, &end, 10) : 0;
	return v && !*end ? (uint64_t)v : RFS_PACK_SEGMENT;
}

int rfs_pack_spool_open(struct rfs_packs *packs, struct rfs_pack_stream **out)
{
	struct rfs_pack_stream *s = calloc(1, sizeof *s);
	if (!s || !(s->o.w = writer_start(&s->o))) {
		free(s);
		return -ENOMEM;
	}
	s->o.buf = s->o.w->spare[--s->o.w->nspare];
	s->packdir = packs->packdir;
	s->packs = packs;
	s->o.fd = -1;
	s->seg_bytes = spool_segment();
	*out = s;
	return 0;
}

int rfs_pack_spool_put(struct rfs_pack_stream *s, const git_oid *oid, git_object_t type,
                       const void *data, size_t len)
{
	if (s->o.err)
		return s->o.err;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pack_entry *e = cap > UINT32_MAX ? NULL : realloc(s->e, cap * sizeof *e);
		if (!e)
			return s->o.err = -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	if (s->o.fd < 0) {                    /* a new segment, its count from this object's size */
		uint64_t k = s->seg_bytes / (len ? len : 1);
		k = k ? k : 1;
		s->first = s->n;
		s->count = s->n + (size_t)(k < UINT32_MAX ? k : UINT32_MAX);
		s->synced = 0;
		int rc = pack_begin(s, s->count - s->first);
		if (rc < 0)
			return s->o.err = rc;
		/* its size at once (sparse, cut back at its end): then no direct
		** write extends it, and ext4 lets several be on their way at once */
		uint64_t size = 12 + (uint64_t)(s->count - s->first) * (len + 64);
		if (s->o.direct)
			(void)!ftruncate(s->o.fd, (off_t)((size + OUT_BUF - 1) / OUT_BUF * OUT_BUF));
	}
	int rc = rfs_pack_stream_put(s, oid, type, data, len);
	if (rc == 0 && s->n == s->count)
		rc = s->o.err = seg_end(s);   /* full: finished by the put that filled it */
	else if (rc == 0 && !s->o.direct && s->o.off - s->o.used >= s->synced + SPOOL_SYNC) {
		s->synced = s->o.off - s->o.used;    /* the segment's fsync then finds little left */
		sync_file_range(s->o.fd, 0, (off_t)s->synced, SYNC_FILE_RANGE_WRITE);
	}
	return rc;
}

size_t rfs_pack_spool_count(const struct rfs_pack_stream *s)
{
	return s->n;
}

void rfs_pack_spool_oids(const struct rfs_pack_stream *s, git_oid *out, size_t n)
{
	for (size_t i = 0; i < n && i < s->n; i++)
		out[i] = s->e[i].oid;
}

/* ---- consolidation: few packs, merged geometrically ---- */

struct pack_file {
	char name[64];                    /* "pack-<hex>" */
	uint64_t size;
};

static int by_size(const void *a, const void *b)
{
	uint64_t x = ((const struct pack_file *)a)->size, y = ((const struct pack_file *)b)->size;
	return x < y ? -1 : x > y;
}

/* Packs with both .idx and .pack in packdir. */
static int list_packs(const char *packdir, struct pack_file **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(packdir);
	if (!d)
		return -errno;
	size_t cap = 0;
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "pack-", 5) || len < 10 || len >= 60 ||
		    strcmp(de->d_name + len - 4, ".idx"))
			continue;
		struct pack_file f = { .size = 0 };
		snprintf(f.name, sizeof f.name, "%.*s", (int)(len - 4), de->d_name);
		char pack[80];
		struct stat st;
		snprintf(pack, sizeof pack, "%s.pack", f.name);
		if (fstatat(dirfd(d), pack, &st, 0) < 0)
			continue;                /* an .idx being written or left over */
		f.size = (uint64_t)st.st_size;
		if ((rc = rfs_bytes_grow(out, &cap, *n, sizeof **out, 16)) < 0)
			break;
		(*out)[(*n)++] = f;
	}
	closedir(d);
	return rc;
}

/* Whether name in dirfd lacks its other half: "pack-X.pack" without
** "pack-X.idx", or the reverse. */
static bool half_pack(int dirfd, const char *name)
{
	size_t len = strlen(name);
	const char *other = len > 10 && !strcmp(name + len - 5, ".pack") ? ".idx"
	                  : len > 9 && !strcmp(name + len - 4, ".idx") ? ".pack" : NULL;
	if (strncmp(name, "pack-", 5) || !other)
		return false;
	char twin[NAME_MAX + 2];
	size_t stem = len - (strcmp(other, ".idx") ? 4 : 5);
	if (stem + strlen(other) >= sizeof twin)
		return false;
	snprintf(twin, sizeof twin, "%.*s%s", (int)stem, name, other);
	return faccessat(dirfd, twin, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

long rfs_pack_leftovers(const char *packdir, bool remove,
                        void (*fn)(void *arg, const char *name, uint64_t bytes), void *arg)
{
	DIR *d = opendir(packdir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	long found = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (strncmp(n, "tmp_pack_", 9) && strncmp(n, "tmp_idx_", 8) && !half_pack(dirfd(d), n))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		found++;
		if (fn)
			fn(arg, n, (uint64_t)st.st_size);
		if (remove)
			(void)unlinkat(dirfd(d), n, 0);
	}
	closedir(d);
	return found;
}

long rfs_pack_count(const struct rfs_packs *p)
{
	struct pack_file *v;
	size_t n;
	int rc = list_packs(p->packdir, &v, &n);
	free(v);
	return rc < 0 ? rc : (long)n;
}

/* One object of a pack being merged: where its entry is, so packs are read
** in file order and entries copied as they are, checked by their CRC. */
struct merge_obj {
	git_oid oid;
	uint32_t pack;
	uint32_t crc;
	uint64_t offset;
	uint64_t len;                     /* of the whole entry */
};

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Append the objects listed by a pack index (v2) to *v. 0 or -errno. */
static int read_index(const char *path, uint32_t pack, struct merge_obj **v, size_t *n,
                      size_t *cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	size_t len = (size_t)st.st_size;
	const uint8_t *b = len >= 8 + 1024 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (b == MAP_FAILED)
		return -EIO;
	int rc = memcmp(b, "\377tOc", 4) || get_be32(b + 4) != 2 ? -EIO : 0;
	size_t count = rc ? 0 : get_be32(b + 8 + 255 * 4);
	if (8 + 1024 + count * 28 + 40 > len) {
		rc = -EIO;
		count = 0;
	}
	const uint8_t *ids = b + 8 + 1024, *crcs = ids + count * 20, *offs = crcs + count * 4;
	const uint8_t *big = offs + count * 4;
	for (size_t i = 0; i < count && rc == 0; i++) {
		uint64_t off = get_be32(offs + 4 * i);
		if (off & 0x80000000u) {
			size_t at = (size_t)(big - b) + 8 * (off & 0x7fffffffu);
			if (at + 8 + 40 > len) {
				rc = -EIO;
				break;
			}
			off = (uint64_t)get_be32(b + at) << 32 | get_be32(b + at + 4);
		}
		if ((rc = rfs_bytes_grow(v, cap, *n, sizeof **v, 4096)) < 0)
			break;
		struct merge_obj *m = &(*v)[(*n)++];
		memcpy(m->oid.id, ids + 20 * i, 20);
		m->pack = pack;
		m->crc = get_be32(crcs + 4 * i);
		m->offset = off;
	}
	munmap((void *)b, len);
	return rc;
}

static int by_oid(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct merge_obj *)a)->oid, &((const struct merge_obj *)b)->oid);
}

static int by_place(const void *a, const void *b)
{
	const struct merge_obj *x = a, *y = b;
	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int read_object(git_odb *odb, const git_oid *oid, git_odb_object **cur,
                       struct rfs_pack_obj *obj)
{
	git_odb_object_free(*cur);
	*cur = NULL;
	if (git_odb_read(cur, odb, oid) < 0)
		return -EIO;                 /* also a hash mismatch: never copy a corrupt object */
	obj->oid = *oid;
	obj->type = git_odb_object_type(*cur);
	obj->data = git_odb_object_data(*cur);
	obj->len = git_odb_object_size(*cur);
	return 0;
}

int rfs_pack_odb_list_source(void *arg, size_t i, struct rfs_pack_obj *obj)
{
	struct rfs_pack_odb_list *m = arg;
	return read_object(m->odb, &m->list[i], &m->cur, obj);
}

/* How many of the packs (sorted by size) to merge: enough to get the small
** ones (the first n_small) back to max/2, then more while the next pack is
** under twice what is merged, so each pack is rewritten only when the
** history behind it has doubled. */
static size_t merge_count(const struct pack_file *v, size_t n, size_t n_small, size_t max_packs)
{
	size_t k = n_small - max_packs / 2;
	uint64_t sum = 0;
	for (size_t i = 0; i < k; i++)
		sum += v[i].size;
	while (k < n && v[k].size < 2 * sum)
		sum += v[k++].size;
	return k;
}

/* Entries of the packs being merged, read through a buffer in file order. */
struct merge_src {
	git_odb *odb;                     /* for an entry that is not a whole object */
	git_odb_object *cur;
	const struct merge_obj *objs;
	const int *fds;
	uint8_t *buf;
	size_t cap;
	uint32_t pack;
	uint64_t start, end;              /* the part of pack that buf holds */
	uint8_t *tree;                    /* a tree, inflated for the writer to delta */
	size_t tcap;
	z_stream z;
	bool z_ready;
};

#define MERGE_READ (1u << 20)

static int entry_header(const uint8_t *raw, size_t len, unsigned *type, uint64_t *size,
                        size_t *at, uint64_t *ofs, git_oid *ref);
static int inflate_exact(z_stream *z, bool *ready, const uint8_t *raw, size_t len, size_t at,
                         uint8_t *out, size_t size);
static int room(uint8_t **p, size_t *cap, size_t n);

/* A whole tree entry of a merged pack as an object, checked against its id. */
static int merge_tree(struct merge_src *m, const struct merge_obj *e, const uint8_t *raw,
                      struct rfs_pack_obj *obj)
{
	unsigned t;
	uint64_t size, ofs;
	size_t at;
	git_oid ref, id;
	if (entry_header(raw, (size_t)e->len, &t, &size, &at, &ofs, &ref) < 0 ||
	    room(&m->tree, &m->tcap, size ? (size_t)size : 1) < 0 ||
	    inflate_exact(&m->z, &m->z_ready, raw, (size_t)e->len, at, m->tree, (size_t)size) < 0)
		return -EIO;
	rfs_sha1_object_id(&id, GIT_OBJECT_TREE, m->tree, (size_t)size);
	if (!git_oid_equal(&id, &e->oid))
		return -EIO;
	*obj = (struct rfs_pack_obj){ .oid = e->oid, .type = GIT_OBJECT_TREE, .data = m->tree,
	                              .len = (size_t)size };
	return 0;
}

static int merge_source(void *arg, size_t i, struct rfs_pack_obj *obj)
{
	struct merge_src *m = arg;
	const struct merge_obj *e = &m->objs[i];
	if (e->len < 2 || e->len > SIZE_MAX / 2)
		return -EIO;
	if (e->pack != m->pack || e->offset < m->start || e->offset + e->len > m->end) {
		size_t want = e->len > MERGE_READ ? (size_t)e->len : MERGE_READ;
		if (want > m->cap) {
			uint8_t *nb = realloc(m->buf, want);
			if (!nb)
				return -ENOMEM;
			m->buf = nb;
			m->cap = want;
		}
		ssize_t got = pread(m->fds[e->pack], m->buf, want, (off_t)e->offset);
		if (got < (ssize_t)e->len)
			return got < 0 ? -errno : -EIO;
		m->pack = e->pack;
		m->start = e->offset;
		m->end = e->offset + (uint64_t)got;
	}
	const uint8_t *raw = m->buf + (e->offset - m->start);
	unsigned type = raw[0] >> 4 & 7;
	if (type < GIT_OBJECT_COMMIT || type > GIT_OBJECT_TAG)   /* a delta: copy the object */
		return read_object(m->odb, &e->oid, &m->cur, obj);
	if (crc32_update(0, raw, (size_t)e->len) != e->crc)
		return -EIO;                 /* never copy a damaged entry */
	if (type == GIT_OBJECT_TREE)      /* a tree: inflated, so the writer can delta it */
		return merge_tree(m, e, raw, obj);
	obj->oid = e->oid;
	obj->data = raw;
	obj->len = (size_t)e->len;
	obj->raw = true;
	obj->crc = e->crc;
	return 0;
}

/* Every entry's place (pack << 40 | offset), for finding a delta's base. */
#define PLACE_PACKS (1u << 24)
#define PLACE_OFFSETS (1ull << 40)

/* The objects of packs v[0..k) of packdir (each .pack opened into fds[i]; with odb, each
** pack added to it as a backend of its own), with where each entry is and how long:
** sorted by id, one entry per id. */
static int pack_table(const char *packdir, const struct pack_file *v, size_t k, int *fds,
                      git_odb *odb, struct merge_obj **out, size_t *nout, uint64_t **places,
                      size_t *nplaces)
{
	struct merge_obj *objs = NULL;
	size_t n = 0, cap = 0, u = 0;
	int rc = 0;
	for (size_t i = 0; i < k && rc == 0; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s.pack", packdir, v[i].name);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = -errno;
			break;
		}
		snprintf(path, sizeof path, "%s/%s.idx", packdir, v[i].name);
		git_odb_backend *be = NULL;
		if (odb && (git_odb_backend_one_pack(&be, path) < 0 || git_odb_add_backend(odb, be, 1) < 0)) {
			if (be)
				be->free(be);
			rc = -EIO;
		}
		if (rc == 0)
			rc = read_index(path, (uint32_t)i, &objs, &n, &cap);
	}
	if (rc == 0 && n) {
		/* An entry ends where the next begins, or at the pack's checksum. */
		qsort(objs, n, sizeof *objs, by_place);
		for (size_t i = 0; i < n; i++) {
			uint64_t end = i + 1 < n && objs[i + 1].pack == objs[i].pack ? objs[i + 1].offset
			                                                           : v[objs[i].pack].size - 20;
			objs[i].len = end > objs[i].offset ? end - objs[i].offset : 0;
		}
		if (places && k > PLACE_PACKS) {
			rc = -EFBIG;
		} else if (places && !(*places = malloc(n * sizeof **places))) {
			rc = -ENOMEM;
		}
		for (size_t i = 0; places && rc == 0 && i < n; i++) {
			if (objs[i].offset >= PLACE_OFFSETS) {
				rc = -EFBIG;
				break;
			}
			(*places)[i] = (uint64_t)objs[i].pack << 40 | objs[i].offset;
		}
		if (places)
			*nplaces = n;
	}
	if (rc == 0 && n) {
		qsort(objs, n, sizeof *objs, by_oid);
		for (size_t i = 0; i < n; i++)
			if (u == 0 || !git_oid_equal(&objs[u - 1].oid, &objs[i].oid))
				objs[u++] = objs[i];
	}
	if (rc < 0) {
		free(objs);
		objs = NULL;
		u = 0;
		if (places) {
			free(*places);
			*places = NULL;
		}
	}
	*out = objs;
	*nout = u;
	return rc;
}

/* Every object of packs v[0..k) written into one new pack, in the order
** the packs hold them; each entry is copied as it is. */
static int merge_packs(struct rfs_packs *p, const struct pack_file *v, size_t k, char name[41])
{
	struct merge_src m = { .pack = UINT32_MAX };
	struct merge_obj *objs = NULL;
	size_t u = 0;
	int *fds = malloc(k * sizeof *fds);
	int rc = fds && git_odb_new(&m.odb) == 0 ? 0 : -ENOMEM;
	for (size_t i = 0; fds && i < k; i++)
		fds[i] = -1;
	if (rc == 0)
		rc = pack_table(p->packdir, v, k, fds, m.odb, &objs, &u, NULL, NULL);
	if (rc == 0) {
		if (u)
			qsort(objs, u, sizeof *objs, by_place);
		m.objs = objs;
		m.fds = fds;
		rc = pack_write_to(p->packdir, u, merge_source, &m, name);
	}
	git_odb_object_free(m.cur);
	git_odb_free(m.odb);
	for (size_t i = 0; fds && i < k; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(objs);
	free(m.buf);
	free(m.tree);
	if (m.z_ready)
		inflateEnd(&m.z);
	return rc;
}

/* ---- the reader: every packed object found in one table, read with one pread ---- */

struct chain_link {                      /* a delta of the chain being read: its data in r->deltas */
	size_t at, len;
};

struct rfs_pack_reader {
	struct merge_obj *objs;           /* sorted by id */
	size_t n, k;
	int *fds;
	uint64_t *psize;                  /* each pack's size */
	uint64_t *places;                 /* every entry, pack << 40 | offset, sorted */
	size_t nplaces;
	uint8_t *raw;                     /* the entry being read */
	size_t rawcap;
	uint8_t *deltas, *tmp;            /* a chain's deltas, inflated; a delta's result */
	size_t dcap, tcap;
	struct chain_link *links;
	size_t lcap;
	z_stream z;
	bool z_ready;
	struct rfs_pack_reader_counts counts;
};

int rfs_pack_reader_open(struct rfs_packs *p, struct rfs_pack_reader **out)
{
	struct rfs_pack_reader *r = calloc(1, sizeof *r);
	struct pack_file *v = NULL;
	size_t k = 0;
	int rc = r ? list_packs(p->packdir, &v, &k) : -ENOMEM;
	if (rc == 0 && k && (!(r->fds = malloc(k * sizeof *r->fds)) ||
	                     !(r->psize = malloc(k * sizeof *r->psize))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < k; i++) {
		r->fds[i] = -1;
		r->psize[i] = v[i].size;
	}
	if (rc == 0) {
		r->k = k;
		rc = pack_table(p->packdir, v, k, r->fds, NULL, &r->objs, &r->n, &r->places,
		                &r->nplaces);
	}
	free(v);
	if (rc < 0) {
		rfs_pack_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static const struct merge_obj *reader_find(const struct rfs_pack_reader *r, const git_oid *oid)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = git_oid_cmp(&r->objs[mid].oid, oid);
		if (c == 0)
			return &r->objs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool rfs_pack_reader_has(const struct rfs_pack_reader *r, const git_oid *oid)
{
	return r && reader_find(r, oid) != NULL;
}

/* Room for n bytes in *p (capacity *cap). */
static int room(uint8_t **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	size_t c = *cap ? *cap : 65536;
	while (c < n)
		c *= 2;
	uint8_t *np = realloc(*p, c);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = c;
	return 0;
}

/* The entry at offset of pack (a delta's base): its length, or 0 if no entry starts there. */
static uint64_t place_len(const struct rfs_pack_reader *r, uint32_t pack, uint64_t offset)
{
	uint64_t key = (uint64_t)pack << 40 | offset;
	size_t lo = 0, hi = r->nplaces;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->places[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->nplaces || r->places[lo] != key)
		return 0;
	uint64_t end = lo + 1 < r->nplaces && r->places[lo + 1] >> 40 == pack
	             ? r->places[lo + 1] & (PLACE_OFFSETS - 1) : r->psize[pack] - 20;
	return end > offset ? end - offset : 0;
}

/* An entry's header: type, inflated size, and where its zlib stream starts;
** a delta's base: back ofs bytes (OFS_DELTA), or by id (REF_DELTA). */
static int entry_header(const uint8_t *raw, size_t len, unsigned *type, uint64_t *size,
                        size_t *at, uint64_t *ofs, git_oid *ref)
{
	size_t i = 1, shift = 4;
	*type = raw[0] >> 4 & 7;
	*size = raw[0] & 15;
	for (uint8_t b = raw[0]; b & 0x80; shift += 7) {
		if (i >= len || shift > 57)
			return -EIO;
		b = raw[i++];
		*size |= (uint64_t)(b & 0x7f) << shift;
	}
	if (*type == GIT_OBJECT_OFS_DELTA) {
		if (i >= len)
			return -EIO;
		uint8_t b = raw[i++];
		*ofs = b & 0x7f;
		while (b & 0x80) {
			if (i >= len || *ofs >> 56)
				return -EIO;
			b = raw[i++];
			*ofs = ((*ofs + 1) << 7) | (b & 0x7f);
		}
	} else if (*type == GIT_OBJECT_REF_DELTA) {
		if (i + 20 > len)
			return -EIO;
		memcpy(ref->id, raw + i, 20);
		i += 20;
	} else if (*type < GIT_OBJECT_COMMIT || *type > GIT_OBJECT_TAG) {
		return -EIO;
	}
	if (*size > SIZE_MAX / 2)
		return -EIO;
	*at = i;
	return 0;
}

/* Inflate raw[at, len) into out, which must come out exactly size bytes. */
static int inflate_exact(z_stream *z, bool *ready, const uint8_t *raw, size_t len, size_t at,
                         uint8_t *out, size_t size)
{
	if (!*ready) {
		if (inflateInit(z) != Z_OK)
			return -ENOMEM;
		*ready = true;
	} else if (inflateReset(z) != Z_OK) {
		return -EIO;
	}
	if (len - at > UINT_MAX || size > UINT_MAX)
		return -EIO;
	z->next_in = (Bytef *)raw + at;
	z->avail_in = (uInt)(len - at);
	z->next_out = out;
	z->avail_out = (uInt)size;
	int zr = inflate(z, Z_FINISH);
	return zr == Z_STREAM_END && z->total_out == size ? 0 : -EIO;
}

static int delta_varint(const uint8_t *d, size_t len, size_t *at, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0;; shift += 7) {
		if (*at >= len || shift > 57)
			return -EIO;
		uint8_t b = d[(*at)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
}

/* git's delta d applied to base, into *out (capacity *cap); the result's length in *olen. */
static int delta_apply(const uint8_t *base, size_t blen, const uint8_t *d, size_t dlen,
                       uint8_t **out, size_t *cap, size_t *olen)
{
	size_t at = 0;
	uint64_t bsz, rsz;
	if (delta_varint(d, dlen, &at, &bsz) < 0 || delta_varint(d, dlen, &at, &rsz) < 0 ||
	    bsz != blen || rsz > SIZE_MAX / 2 || room(out, cap, rsz ? (size_t)rsz : 1) < 0)
		return -EIO;
	size_t n = 0;
	while (at < dlen) {
		uint8_t op = d[at++];
		if (op & 0x80) {
			uint64_t off = 0, sz = 0;
			for (unsigned i = 0; i < 4; i++)
				if (op & 1u << i) {
					if (at >= dlen)
						return -EIO;
					off |= (uint64_t)d[at++] << (8 * i);
				}
			for (unsigned i = 0; i < 3; i++)
				if (op & 0x10u << i) {
					if (at >= dlen)
						return -EIO;
					sz |= (uint64_t)d[at++] << (8 * i);
				}
			if (!sz)
				sz = 0x10000;
			if (off > blen || sz > blen - off || sz > rsz - n)
				return -EIO;
			memcpy(*out + n, base + off, (size_t)sz);
			n += (size_t)sz;
		} else if (op) {
			if (op > dlen - at || op > rsz - n)
				return -EIO;
			memcpy(*out + n, d + at, op);
			at += op;
			n += op;
		} else {
			return -EIO;             /* opcode 0 is reserved */
		}
	}
	if (n != rsz)
		return -EIO;
	*olen = n;
	return 0;
}

#define CHAIN_MAX 10000                   /* a longer chain is a loop, or no pack of ours */

int rfs_pack_reader_read(struct rfs_pack_reader *r, const git_oid *oid, git_object_t *type,
                         struct rfs_pack_buf *out)
{
	const struct merge_obj *e = r ? reader_find(r, oid) : NULL;
	if (!e)
		return -ENOENT;
	uint32_t pack = e->pack;
	uint64_t offset = e->offset, elen = e->len;
	size_t nlinks = 0, dused = 0;
	unsigned t;
	uint64_t size;
	size_t at;
	/* Down the chain to a whole object, each delta inflated on the way. */
	for (;;) {
		if (elen < 2 || elen > SIZE_MAX / 2 || room(&r->raw, &r->rawcap, (size_t)elen) < 0)
			return -EIO;
		ssize_t got = pread(r->fds[pack], r->raw, (size_t)elen, (off_t)offset);
		if (got != (ssize_t)elen)
			return -EIO;
		r->counts.bytes += (uint64_t)got;
		uint64_t ofs = 0;
		git_oid ref;
		if (entry_header(r->raw, (size_t)elen, &t, &size, &at, &ofs, &ref) < 0)
			return -EIO;
		if (t != GIT_OBJECT_OFS_DELTA && t != GIT_OBJECT_REF_DELTA)
			break;
		if (nlinks == CHAIN_MAX || rfs_bytes_grow(&r->links, &r->lcap, nlinks, sizeof *r->links, 16) < 0 ||
		    room(&r->deltas, &r->dcap, dused + (size ? (size_t)size : 1)) < 0 ||
		    inflate_exact(&r->z, &r->z_ready, r->raw, (size_t)elen, at, r->deltas + dused,
		                  (size_t)size) < 0)
			return -EIO;
		r->links[nlinks++] = (struct chain_link){ dused, (size_t)size };
		dused += (size_t)size;
		if (t == GIT_OBJECT_OFS_DELTA) {
			if (ofs == 0 || ofs > offset)
				return -EIO;
			offset -= ofs;
			elen = place_len(r, pack, offset);
		} else {
			const struct merge_obj *b = reader_find(r, &ref);
			if (!b)
				return -EIO;             /* a thin pack's base: libgit2's to say */
			pack = b->pack;
			offset = b->offset;
			elen = b->len;
		}
	}
	if (room(&out->p, &out->cap, size ? (size_t)size : 1) < 0 ||
	    inflate_exact(&r->z, &r->z_ready, r->raw, (size_t)elen, at, out->p, (size_t)size) < 0)
		return -EIO;
	size_t len = (size_t)size;
	/* Up the chain: each delta applied to what the one below gave. */
	while (nlinks--) {
		const struct chain_link *l = &r->links[nlinks];
		size_t nlen;
		if (delta_apply(out->p, len, r->deltas + l->at, l->len, &r->tmp, &r->tcap, &nlen) < 0)
			return -EIO;
		uint8_t *swap = out->p;
		size_t scap = out->cap;
		out->p = r->tmp;
		out->cap = r->tcap;
		r->tmp = swap;
		r->tcap = scap;
		len = nlen;
	}
	r->counts.objects++;
	r->counts.inflated += len;
	git_oid id;
	rfs_sha1_object_id(&id, (git_object_t)t, out->p, len);
	if (!git_oid_equal(&id, oid))
		return -EIO;                 /* damaged: libgit2 says how */
	out->len = len;
	*type = (git_object_t)t;
	return 0;
}

const struct rfs_pack_reader_counts *rfs_pack_reader_counts(const struct rfs_pack_reader *r)
{
	return &r->counts;
}

void rfs_pack_reader_close(struct rfs_pack_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->fds && i < r->k; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	if (r->z_ready)
		inflateEnd(&r->z);
	free(r->fds);
	free(r->psize);
	free(r->places);
	free(r->objs);
	free(r->raw);
	free(r->deltas);
	free(r->tmp);
	free(r->links);
	free(r);
}

int rfs_pack_consolidate(struct rfs_packs *p, size_t max_packs, uint64_t small, uint64_t big,
                          void (*relock)(void *arg, int lock), void *arg)
{
	struct pack_file *v;
	size_t n;
	int rc = list_packs(p->packdir, &v, &n);
	if (rc == 0) {
		qsort(v, n, sizeof *v, by_size);
		while (n && v[n - 1].size >= big)
			n--;                     /* big packs stay as they are (gc merges them) */
	}
	size_t n_small = 0;              /* only these start a merge */
	while (rc == 0 && n_small < n && v[n_small].size < small)
		n_small++;
	if (rc < 0 || n_small <= max_packs || max_packs < 2) {
		free(v);
		return rc;
	}
	size_t k = merge_count(v, n, n_small, max_packs);
	char name[41] = "";
	rc = merge_packs(p, v, k, name);  /* durable (fsync'd) before anything goes */
	if (rc == 0) {
		char keep[64];
		snprintf(keep, sizeof keep, "pack-%s", name);
		relock(arg, 1);
		for (size_t i = 0; i < k; i++) {
			if (!strcmp(v[i].name, keep))
				continue;            /* the same objects again: the same pack */
			char f[PATH_MAX];
			snprintf(f, sizeof f, "%s/%s.idx", p->packdir, v[i].name);
			unlink(f);
			snprintf(f, sizeof f, "%s/%s.pack", p->packdir, v[i].name);
			unlink(f);
		}
		rc = rfs_pack_reload(p);
		relock(arg, 0);
	}
	free(v);
	return rc;
}

bool rfs_pack_has(struct rfs_packs *p, const git_oid *oid)
{
	return pk_exists(&p->parent, oid) != 0;
}
