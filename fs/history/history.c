/*
** history: open/create history.git, capture saves, commit them on a
** committer thread, pack and move the ref forward (see history.h).
** Must never: write plaintext or clear names into git, move the ref backwards,
** or let two saves of one path share a commit.
*/
#include "fs/history/internal.h"
#include "fs/faultpoint.h"
#include "fs/log.h"
#include <git2/sys/repository.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "crypto/content.h"
#include "crypto/encoding.h"
#include "crypto/names.h"

#define SPILL_BYTES (32u << 20)          /* pack the stage beyond this much */
#define PACK_DELAY_MS 1000               /* newest commit reaches the ref within this */
#define MAX_BATCH 256                    /* saves per commit, at most */
#define MAX_SCAN 1024                    /* queued saves looked at for one batch */
#define LINGER_MS 10                     /* a save waits this long for others to share its commit */
#define MAX_PACKS 12                     /* more small packs than this are merged */
#define BIG_PACK (1ull << 30)            /* packs this big are not merged (but by gc) */
#define TREE_CACHE_LIMIT (4u << 20)      /* trees up to this size stay parsed in memory */
#define OBJECT_CACHE_MAX (64u << 20)     /* all parsed objects libgit2 keeps, at most */
#define PACK_WINDOW (32u << 20)          /* libgit2 maps packs this much at a time */
#define PACK_MAPPED_MAX (32u << 20)      /* and unmaps the oldest windows beyond this */
#define MAX_DEFERRED 32                  /* big saves captured by the committer, at most */
#define DEFER_BLOCKS 256                 /* saves writing more blocks are captured by the committer */
#define CATCHUP_MS 1000                  /* history behind (full disk): first retry after this */
#define CATCHUP_MAX_MS 16000             /* then doubling up to this (each may read all of live/) */

/* ---- capture: ciphertext from live/ into the stage ---- */

/* The folder holding cpath's last component, and that component: live/
** itself for a path short enough for one openat, else the parent opened
** one component at a time (a folder's cipher path may pass PATH_MAX). The
** caller closes *dir unless it is live_fd. */
static int live_parent(struct rfs_history *h, const char *cpath, int *dir, const char **base)
{
	*dir = h->v->live_fd;
	*base = cpath[0] ? cpath : ".";
	if (strlen(cpath) < PATH_MAX / 2)
		return 0;
	const char *slash = strrchr(cpath, '/');
	if (!slash)
		return 0;
	int fd = h->v->live_fd;
	const char *p = cpath;
	char name[NAME_MAX + 1];
	while (p < slash) {
		const char *end = strchr(p, '/');
		size_t len = (size_t)(end - p);
		if (len > NAME_MAX) {
			if (fd != h->v->live_fd)
				close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(name, p, len);
		name[len] = 0;
		int next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		if (fd != h->v->live_fd)
			close(fd);
		if (next < 0)
			return -err;
		fd = next;
		p = end + 1;
	}
	*dir = fd;
	*base = slash + 1;
	return 0;
}

/* O_NOATIME: reading a file into history is not a user reading it, and
** the mount shows live/'s atimes. Only the owner (or CAP_FOWNER) may ask:
** EPERM otherwise, and then the open goes ahead without it. */
int rfs_h_open_live(struct rfs_history *h, const char *cpath, int flags)
{
	int dir;
	const char *p;
	int rc = live_parent(h, cpath, &dir, &p);
	if (rc < 0)
		return rc;
	flags |= O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
	int fd = openat(dir, p, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dir, p, flags);
	rc = fd < 0 ? -errno : fd;
	if (dir != h->v->live_fd)
		close(dir);
	return rc;
}

int rfs_h_stat_live(struct rfs_history *h, const char *cpath, struct stat *st)
{
	int dir;
	const char *p;
	int rc = live_parent(h, cpath, &dir, &p);
	if (rc == 0 && fstatat(dir, p, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (dir != h->v->live_fd)
		close(dir);
	return rc;
}

ssize_t rfs_h_readlink_live(struct rfs_history *h, const char *cpath, char *buf, size_t len)
{
	int dir;
	const char *p;
	ssize_t rc = live_parent(h, cpath, &dir, &p);
	if (rc == 0 && (rc = readlinkat(dir, p, buf, len)) < 0)
		rc = -errno;
	if (dir != h->v->live_fd)
		close(dir);
	return rc;
}

/* Hashed once with the pack writer's SHA-1 (hardware when the CPU has it;
** libgit2's collision-detecting one is several times slower, and a
** ciphertext chosen by no one needs no collision detection). */
static int write_blob(struct rfs_history *h, const void *data, size_t len, git_oid *oid)
{
	rfs_object_id(oid, GIT_OBJECT_BLOB, data, len);
	if (h->hash_only)                    /* verify: compare, never store */
		return 0;
	if (!h->stage)
		return git_odb_write(oid, h->odb, data, len, GIT_OBJECT_BLOB) < 0 ? -EIO : 0;
	int rc = rfs_stage_put_new(h->stage, oid, GIT_OBJECT_BLOB, data, len);
	return rc == 0 && rfs_stage_bytes(h->stage) > SPILL_BYTES ? rfs_stage_spill(h->stage) : rc;
}

static uint64_t chunk_count(const struct rfs_history *h, uint64_t size)
{
	uint64_t first = RFS_HEADER_SIZE + h->chunk_bytes;
	return size <= first ? 1 : 1 + (size - first + h->chunk_bytes - 1) / h->chunk_bytes;
}

/* Chunk k covers [start, start+len) of the ciphertext: chunk 0 carries the header. */
static void chunk_span(const struct rfs_history *h, uint64_t k, uint64_t size, uint64_t *start,
                       size_t *len)
{
	uint64_t s = k == 0 ? 0 : RFS_HEADER_SIZE + k * h->chunk_bytes;
	uint64_t e = RFS_HEADER_SIZE + (k + 1) * h->chunk_bytes;
	if (e > size)
		e = size;
	*start = s;
	*len = (size_t)(e > s ? e - s : 0);
}

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;             /* shrank under us: the caller holds no lock */
		done += (size_t)n;
	}
	return 0;
}

/* Whether [start, start + len) of fd is one hole (reads as zeros without
** being stored). A file system without SEEK_DATA says "all data": false. */
static bool span_is_hole(int fd, uint64_t start, size_t len)
{
	off_t data = lseek(fd, (off_t)start, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO;           /* no data from start to the end */
	return (uint64_t)data >= start + len;
}

/* A hole chunk is len zero bytes: its blob is the same for every hole of
** that length, so it is hashed once per length and stored when missing. */
static int hole_blob(struct rfs_history *h, uint8_t *buf, size_t len, git_oid *oid)
{
	if (!h->hole_known || h->hole_len != len) {
		memset(buf, 0, len);
		rfs_object_id(&h->hole_oid, GIT_OBJECT_BLOB, buf, len);
		h->hole_len = len;
		h->hole_known = true;
	}
	*oid = h->hole_oid;
	if (h->hash_only || git_odb_exists(h->odb, oid))
		return 0;                        /* not cached as written: gc may drop it */
	memset(buf, 0, len);
	return write_blob(h, buf, len, oid);
}

static int capture_chunk(struct rfs_history *h, int fd, uint64_t size, uint64_t k, uint8_t *buf,
                         git_oid *oid)
{
	uint64_t start;
	size_t len;
	chunk_span(h, k, size, &start, &len);
	if (len && span_is_hole(fd, start, len))
		return hole_blob(h, buf, len, oid);
	int rc = read_full(fd, buf, len, start);
	return rc < 0 ? rc : write_blob(h, buf, len, oid);
}

/* A save of this many bytes or more goes straight into a pack of its own:
** staged, its chunks would sit in memory until the stage spills, and many
** small spills of one big save would be merged over and over. */
#define STREAM_BYTES (8u << 20)

/* Chunks idx[0..n) (NULL: 0..n-1) of the file, their blob ids into oids. */
static int capture_chunks(struct rfs_history *h, int fd, uint64_t size, const uint64_t *idx,
                          size_t n, uint8_t *buf, git_oid *oids)
{
	int rc = 0;
	if (n * h->chunk_bytes < STREAM_BYTES || !h->stage || h->hash_only || !h->packs) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = capture_chunk(h, fd, size, idx ? idx[i] : i, buf, &oids[i]);
		return rc;
	}
	bool *hole = calloc(n, sizeof *hole);
	if (!hole)
		return -ENOMEM;
	size_t data = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t start;
		size_t len;
		chunk_span(h, idx ? idx[i] : i, size, &start, &len);
		hole[i] = len && span_is_hole(fd, start, len);
		data += !hole[i];
	}
	struct rfs_pack_stream *s = NULL;
	rc = data ? rfs_pack_stream_open(h->packs, data, &s) : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t start;
		size_t len;
		chunk_span(h, idx ? idx[i] : i, size, &start, &len);
		if (hole[i]) {
			rc = hole_blob(h, buf, len, &oids[i]);
		} else if ((rc = read_full(fd, buf, len, start)) == 0) {
			rfs_object_id(&oids[i], GIT_OBJECT_BLOB, buf, len);
			rc = rfs_pack_stream_put(s, &oids[i], GIT_OBJECT_BLOB, buf, len);
		}
	}
	if (s) {
		int crc = rfs_pack_stream_close(s, rc == 0);
		rc = rc ? rc : crc;
	}
	free(hole);
	return rc;
}

static int marker_oid(struct rfs_history *h, git_oid *oid)
{
	return write_blob(h, RFS_CHUNK_MARKER_TEXT, sizeof RFS_CHUNK_MARKER_TEXT - 1, oid);
}

/* The chunk tree of a file whose every chunk is in oids[0..n). */
static int chunk_tree_of(struct rfs_history *h, const git_oid *oids, uint64_t n, git_oid *out)
{
	uint64_t *idx = malloc((size_t)n * sizeof *idx);
	git_oid mk;
	int rc = idx ? marker_oid(h, &mk) : -ENOMEM;
	for (uint64_t k = 0; rc == 0 && k < n; k++)
		idx[k] = k;
	if (rc == 0)
		rc = rfs_chunk_tree_update(h, NULL, n, idx, oids, (size_t)n, &mk, NULL, NULL, out);
	free(idx);
	return rc;
}

static int capture_file_whole(struct rfs_history *h, int fd, struct rfs_capture *cap)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t n = chunk_count(h, size);
	/* A small file needs a small buffer (most saves are small files). */
	uint8_t *buf = malloc(n == 1 && size ? (size_t)size : RFS_HEADER_SIZE + h->chunk_bytes);
	if (!buf)
		return -ENOMEM;
	int rc = 0;
	cap->state = CAP_ENTRY;
	cap->csize = size;
	cap->csize_known = true;
	if (n == 1) {
		cap->mode = GIT_FILEMODE_BLOB;
		rc = capture_chunk(h, fd, size, 0, buf, &cap->oid);
	} else {
		git_oid *oids = calloc((size_t)n, sizeof *oids);
		cap->mode = GIT_FILEMODE_TREE;
		rc = oids ? capture_chunks(h, fd, size, NULL, (size_t)n, buf, oids) : -ENOMEM;
		if (rc == 0)
			rc = chunk_tree_of(h, oids, n, &cap->oid);
		free(oids);
	}
	free(buf);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t sort_unique(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	return u;
}

/* The chunk holding ciphertext byte off. */
static uint64_t chunk_of(const struct rfs_history *h, uint64_t off)
{
	return off < RFS_HEADER_SIZE ? 0 : (off - RFS_HEADER_SIZE) / h->chunk_bytes;
}

/* Whether a chunked tree entry is of this format (a format-1 one is not:
** its chunks are named and nested otherwise). */
static bool chunked_v2(struct rfs_history *h, const git_oid *tree)
{
	git_tree *t = NULL;
	if (git_tree_lookup(&t, h->repo, tree) < 0)
		return false;
	const git_tree_entry *m = git_tree_entry_byname(t, RFS_CHUNK_MARKER);
	git_blob *b = NULL;
	bool yes = m && git_blob_lookup(&b, h->repo, git_tree_entry_id(m)) == 0 &&
	           git_blob_rawsize(b) == sizeof RFS_CHUNK_MARKER_TEXT - 1 &&
	           !memcmp(git_blob_rawcontent(b), RFS_CHUNK_MARKER_TEXT, sizeof RFS_CHUNK_MARKER_TEXT - 1);
	git_blob_free(b);
	git_tree_free(t);
	return yes;
}

/* Ciphertext size of a version in git (a blob or a chunk tree). */
static int version_size(struct rfs_history *h, const git_tree_entry *e, uint64_t *csize)
{
	size_t len;
	git_object_t type;
	if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		return git_odb_read_header(&len, &type, h->odb, git_tree_entry_id(e)) == 0 ? (*csize = len, 0)
		                                                                         : -EIO;
	unsigned depth;
	uint64_t n;
	git_oid last;
	if (!chunked_v2(h, git_tree_entry_id(e)) ||
	    rfs_chunk_tree_shape(h, git_tree_entry_id(e), &depth, &n, &last) < 0 ||
	    git_odb_read_header(&len, &type, h->odb, &last) < 0)
		return -EIO;
	*csize = n < 2 ? len : RFS_HEADER_SIZE + (n - 1) * h->chunk_bytes + len;
	return 0;
}

/* cpath's entry in the newest commit. -ENOENT when there is none. */
static int head_entry(struct rfs_history *h, const char *cpath, git_tree_entry **e)
{
	*e = NULL;
	if (!h->head_seq || !cpath[0])
		return -ENOENT;
	git_commit *c = NULL;
	git_tree *t = NULL;
	int rc = git_commit_lookup(&c, h->repo, &h->head) < 0 || git_commit_tree(&t, c) < 0 ? -EIO : 0;
	if (rc == 0) {
		int g = git_tree_entry_bypath(e, t, cpath);
		rc = g == GIT_ENOTFOUND ? -ENOENT : g < 0 ? -EIO : 0;
	}
	git_tree_free(t);
	git_commit_free(c);
	return rc;
}

static bool saves_conflict(const struct rfs_pending *a, const struct rfs_pending *b);

/* The ciphertext size of the version before a save of cpath (file id),
** recorded before seq: a save queued or being committed, else the newest
** commit; 0 when there is none. false: unknown (capture the whole file).
** Caller holds git_lock. */
static bool prev_size(struct rfs_history *h, const char *cpath, const uint8_t id[16],
                      uint64_t seq, uint64_t *csize)
{
	struct rfs_pending probe = { .cpath = (char *)cpath };
	memcpy(probe.ev.file_id, id, 16);
	const struct rfs_pending *last = NULL;
	bool known = false;
	pthread_mutex_lock(&h->q_lock);
	struct rfs_pending *lists[2] = { h->committing, h->q_head };
	for (int l = 0; l < 2; l++)
		for (const struct rfs_pending *p = lists[l]; p; p = p->next)
			if (p->seq < seq && (!last || p->seq > last->seq) && saves_conflict(&probe, p))
				last = p;
	if (last) {
		bool content = last->ev.kind == RFS_SAVE_CREATED || last->ev.kind == RFS_SAVE_SAVED ||
		               last->ev.kind == RFS_SAVE_RESTORED;
		known = content && last->ev.type == RFS_OBJ_FILE && !strcmp(last->cpath, cpath) &&
		        !memcmp(last->ev.file_id, id, 16) && last->cap.csize_known &&
		        (last->cap.state == CAP_ENTRY || last->cap.state == CAP_CHUNKS);
		*csize = last->cap.csize;
	}
	pthread_mutex_unlock(&h->q_lock);
	if (last)
		return known;
	git_tree_entry *e = NULL;
	int rc = head_entry(h, cpath, &e);
	*csize = 0;
	if (rc == 0)
		rc = version_size(h, e, csize);
	git_tree_entry_free(e);
	return rc == 0 || rc == -ENOENT;
}

/* Only the chunks holding the written blocks, and those the size change
** moved (from the old or new end, whichever is first, to the new end); the
** rest is the previous version's, reused at commit time. prev: the
** previous version's ciphertext size, UINT64_MAX when unknown (all chunks). */
static int capture_file_ranges(struct rfs_history *h, int fd, const struct rfs_range *ranges,
                               size_t nranges, uint64_t prev, struct rfs_capture *cap)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t n = chunk_count(h, size);
	if (n == 1 || prev == UINT64_MAX)
		return capture_file_whole(h, fd, cap);
	uint64_t per = h->v->conf.chunk_blocks ? h->v->conf.chunk_blocks : 1;
	uint64_t from = prev == size ? n : chunk_of(h, prev < size ? prev : size);
	if (from == 0)
		return capture_file_whole(h, fd, cap);
	uint64_t want = n - from;            /* ranges are disjoint: at most n more, and one a range */
	for (size_t i = 0; i < nranges; i++)
		if (ranges[i].count && ranges[i].first / per < n)
			want += (ranges[i].count / per + 2 < n ? ranges[i].count / per + 2 : n);
	uint64_t *idx = malloc((size_t)want * sizeof *idx);
	if (!idx)
		return -ENOMEM;
	size_t m = 0;
	for (uint64_t k = from; k < n; k++)
		idx[m++] = k;
	for (size_t i = 0; i < nranges; i++) {
		if (!ranges[i].count)
			continue;
		uint64_t a = ranges[i].first / per, b = (ranges[i].first + ranges[i].count - 1) / per;
		for (uint64_t k = a; k <= b && k < n && m < want; k++)
			idx[m++] = k;
	}
	size_t u = sort_unique(idx, m);
	cap->coid = calloc(u ? u : 1, sizeof *cap->coid);
	uint8_t *buf = malloc(RFS_HEADER_SIZE + h->chunk_bytes);
	int rc = cap->coid && buf ? capture_chunks(h, fd, size, idx, u, buf, cap->coid) : -ENOMEM;
	free(buf);
	cap->state = CAP_CHUNKS;
	cap->cidx = idx;
	cap->ncap = u;
	cap->nchunks = n;
	cap->csize = size;
	cap->csize_known = true;
	return rc;
}

static int capture_symlink(struct rfs_history *h, const char *cpath, struct rfs_capture *cap)
{
	char target[8192];
	ssize_t n = rfs_h_readlink_live(h, cpath, target, sizeof target);
	if (n < 0)
		return (int)n;
	cap->state = CAP_ENTRY;
	cap->mode = GIT_FILEMODE_LINK;
	return write_blob(h, target, (size_t)n, &cap->oid);
}

static int capture_dir(struct rfs_history *h, const char *cpath, git_oid *out);

/* Capture whatever is at cpath in live/ whole: file, folder (recursively) or symlink. */
int rfs_h_capture_entry(struct rfs_history *h, int fd, const char *cpath, struct rfs_capture *cap)
{
	struct stat st;
	int src = fd >= 0 ? (fstat(fd, &st) < 0 ? -errno : 0) : rfs_h_stat_live(h, cpath, &st);
	if (src < 0)
		return src;
	if (S_ISLNK(st.st_mode))
		return capture_symlink(h, cpath, cap);
	if (S_ISDIR(st.st_mode)) {
		cap->state = CAP_ENTRY;
		cap->mode = GIT_FILEMODE_TREE;
		return capture_dir(h, cpath, &cap->oid);
	}
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	int own = fd < 0 ? rfs_h_open_live(h, cpath, 0) : fd;
	if (own < 0)
		return own;
	int rc = capture_file_whole(h, own, cap);
	if (fd < 0)
		close(own);
	return rc;
}

static int capture_dir(struct rfs_history *h, const char *cpath, git_oid *out)
{
	int dfd = rfs_h_open_live(h, cpath, O_DIRECTORY);
	if (dfd < 0)
		return dfd;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	git_treebuilder *bld = NULL;
	int rc = git_treebuilder_new(&bld, h->repo, NULL) < 0 ? -EIO : 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t len = strlen(cpath) + strlen(de->d_name) + 2;
		char *child = malloc(len);
		if (!child) {
			rc = -ENOMEM;
			break;
		}
		snprintf(child, len, "%s%s%s", cpath, cpath[0] ? "/" : "", de->d_name);
		struct rfs_capture cap = { 0 };
		rc = rfs_h_capture_entry(h, -1, child, &cap);
		free(child);
		if (rc == -EPERM) {              /* not recordable (e.g. a FIFO): skip */
			rc = 0;
			continue;
		}
		if (rc == 0 && git_treebuilder_insert(NULL, bld, de->d_name, &cap.oid, cap.mode) < 0)
			rc = -EIO;
	}
	closedir(d);
	if (rc == 0 && git_treebuilder_write(out, bld) < 0)
		rc = -EIO;
	git_treebuilder_free(bld);
	return rc;
}

static bool path_is_long(const char *cpath)
{
	const char *base = strrchr(cpath, '/');
	return rfs_name_is_long(base ? base + 1 : cpath);
}

static char *side_path(const char *cpath)
{
	size_t n = strlen(cpath) + sizeof RFS_LONG_SUFFIX;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s", cpath, RFS_LONG_SUFFIX);
	return s;
}

static int capture_side(struct rfs_history *h, const char *cpath, struct rfs_capture *cap)
{
	if (!cpath || !path_is_long(cpath))
		return 0;
	char *sp = side_path(cpath);
	if (!sp)
		return -ENOMEM;
	struct rfs_capture side = { 0 };
	int rc = rfs_h_capture_entry(h, -1, sp, &side);
	free(sp);
	if (rc == 0) {
		cap->has_side = true;
		cap->side = side.oid;
	}
	return rc;
}

/* The file to read a save from: the daemon's fd reopened (through /proc,
** which works for an unlinked file too) without atime updates; else its
** fd as it is; else cpath opened. The caller closes it unless it is s->fd. */
static int save_fd(struct rfs_history *h, const struct rfs_save *s)
{
	if (s->fd < 0)
		return rfs_h_open_live(h, s->cipher_path, 0);
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
	int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOATIME);
	return fd < 0 ? s->fd : fd;
}

static int capture_save(struct rfs_history *h, const struct rfs_save *s, struct rfs_capture *cap)
{
	int rc = 0, fd = -1;
	switch (s->kind) {
	case RFS_SAVE_CREATED:
	case RFS_SAVE_SAVED:
	case RFS_SAVE_RESTORED:
	case RFS_SAVE_RECOVERED:
		if (s->type == RFS_OBJ_DIR && s->kind == RFS_SAVE_SAVED)
			return 0;                /* fsync of a folder: nothing to capture */
		if (s->type != RFS_OBJ_FILE) {
			rc = rfs_h_capture_entry(h, -1, s->cipher_path, cap);
			break;
		}
		if ((fd = save_fd(h, s)) < 0)
			return fd;
		if (s->kind == RFS_SAVE_SAVED && s->ranges) {
			uint64_t prev;
			if (!prev_size(h, s->cipher_path, s->file_id, UINT64_MAX, &prev))
				prev = UINT64_MAX;
			rc = capture_file_ranges(h, fd, s->ranges, s->nranges, prev, cap);
		}
		else
			rc = rfs_h_capture_entry(h, fd, s->cipher_path, cap);
		if (fd != s->fd)
			close(fd);
		break;
	case RFS_SAVE_RENAMED:
		break;                           /* the entry moves; only its side file is new */
	default:
		return 0;
	}
	return rc < 0 ? rc : capture_side(h, s->cipher_path, cap);
}

/* ---- the queue ---- */

static void blob_release(struct rfs_history *h, struct rfs_pending *p)
{
	if (!p->blob)
		return;
	__atomic_sub_fetch(&h->blob_bytes, p->blob_len, __ATOMIC_ACQ_REL);
	free(p->blob);
	p->blob = NULL;
}

static void pending_free(struct rfs_history *h, struct rfs_pending *p)
{
	if (!p)
		return;
	blob_release(h, p);
	rfs_event_clear(&p->ev);
	free(p->cpath);
	free(p->cpath_old);
	free(p->cap.cidx);
	free(p->cap.coid);
	if (p->dfd >= 0)
		close(p->dfd);
	free(p->ranges);
	free(p);
}

static struct rfs_pending *pending_new(struct rfs_history *h, const struct rfs_save *s)
{
	struct rfs_pending *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->dfd = -1;
	struct rfs_event *e = &p->ev;
	e->kind = (uint8_t)s->kind;
	e->type = (uint8_t)s->type;
	memcpy(e->file_id, s->file_id, 16);
	e->mode = (uint32_t)s->mode;
	e->uid = (uint32_t)s->uid;
	e->gid = (uint32_t)s->gid;
	e->mtime_sec = (int64_t)s->mtime.tv_sec;
	e->mtime_nsec = (uint32_t)s->mtime.tv_nsec;
	e->size = s->size;
	e->path = rfs_strdup0(s->clear_path);
	e->path_old = rfs_strdup0(s->clear_path_old);
	e->restored_from = rfs_strdup0(s->restored_from);
	e->property = rfs_strdup0(s->property);
	p->cpath = rfs_strdup0(s->cipher_path);
	p->cpath_old = s->cipher_path_old ? strdup(s->cipher_path_old) : NULL;
	if (!e->path || !e->path_old || !e->restored_from || !e->property || !p->cpath ||
	    (s->cipher_path_old && !p->cpath_old)) {
		pending_free(h, p);
		return NULL;
	}
	return p;
}

static bool valid_save(const struct rfs_save *s)
{
	if (!s || !s->cipher_path || s->cipher_path[0] == '/' || s->kind < RFS_SAVE_CREATED ||
	    s->kind > RFS_SAVE_RECOVERED || s->type < RFS_OBJ_FILE || s->type > RFS_OBJ_SYMLINK)
		return false;
	bool two = s->kind == RFS_SAVE_RENAMED || s->kind == RFS_SAVE_EXCHANGED;
	return !two || (s->cipher_path_old && s->cipher_path_old[0] != '/');
}

/* ---- small saves: read here, staged by the committer ----
** A commit being written holds the repository lock for a millisecond or
** more; a create or a close that waited for it would wait in the caller's
** syscall. A save of one chunk is read and hashed without the lock instead,
** and the committer stages its blob before it builds the commit. */
#define SMALL_SAVE_MAX (256u << 10)
#define SMALL_QUEUED_MAX (64u << 20)      /* beyond this, saves wait for the lock again */

static bool capture_small(struct rfs_history *h, const struct rfs_save *s, struct rfs_pending *p)
{
	if (s->type != RFS_OBJ_FILE || s->kind == RFS_SAVE_RENAMED || path_is_long(s->cipher_path))
		return false;
	int fd = save_fd(h, s);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= SMALL_SAVE_MAX;
	size_t len = ok ? (size_t)st.st_size : 0;
	if (ok && __atomic_add_fetch(&h->blob_bytes, len, __ATOMIC_ACQ_REL) > SMALL_QUEUED_MAX) {
		__atomic_sub_fetch(&h->blob_bytes, len, __ATOMIC_ACQ_REL);
		ok = false;
	}
	uint8_t *buf = ok ? malloc(len ? len : 1) : NULL;
	if (ok && (!buf || read_full(fd, buf, len, 0) < 0)) {
		__atomic_sub_fetch(&h->blob_bytes, len, __ATOMIC_ACQ_REL);
		free(buf);
		ok = false;
	}
	if (fd != s->fd)
		close(fd);
	if (!ok)
		return false;
	p->cap.state = CAP_ENTRY;
	p->cap.csize = len;
	p->cap.csize_known = true;
	if (chunk_count(h, len) == 1) {
		rfs_object_id(&p->cap.oid, GIT_OBJECT_BLOB, buf, len);
		p->cap.mode = GIT_FILEMODE_BLOB;
	} else {
		p->cap.mode = GIT_FILEMODE_TREE;   /* its chunks and tree: the committer's */
	}
	p->blob = buf;
	p->blob_len = len;
	return true;
}

/* A small file of several chunks read whole: its chunk blobs and tree. */
static int stage_small_chunked(struct rfs_history *h, struct rfs_pending *p)
{
	uint64_t n = chunk_count(h, p->blob_len);
	git_oid *oids = calloc((size_t)n, sizeof *oids);
	int rc = oids ? 0 : -ENOMEM;
	for (uint64_t k = 0; k < n && rc == 0; k++) {
		uint64_t start;
		size_t len;
		chunk_span(h, k, p->blob_len, &start, &len);
		rc = write_blob(h, p->blob + start, len, &oids[k]);
	}
	if (rc == 0)
		rc = chunk_tree_of(h, oids, n, &p->cap.oid);
	free(oids);
	return rc;
}

/* With the repository lock: every small blob of the batch into the stage. */
static int stage_small(struct rfs_history *h, struct rfs_pending *batch, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++, batch = batch->next) {
		if (batch->blob && rc == 0 && batch->cap.mode == GIT_FILEMODE_TREE)
			rc = stage_small_chunked(h, batch);
		else if (batch->blob && rc == 0)
			rc = rfs_stage_put_new(h->stage, &batch->cap.oid, GIT_OBJECT_BLOB, batch->blob,
			                       batch->blob_len);
		blob_release(h, batch);
	}
	return rc;
}

/* ---- deferred capture: big saves are read by the committer ----
** A save whose capture reads more than one chunk keeps an fd on the file
** (the same inode even if it is renamed or unlinked meanwhile) and is read
** when its batch is committed. The daemon calls rfs_history_before_write
** before it changes the file, which captures it then: each version still
** holds the bytes of its save. */

/* Whether s is a big save to defer; if so p keeps an fd and the ranges and
** counts in n_deferred. false: capture now as usual. */
static bool try_defer(struct rfs_history *h, const struct rfs_save *s, struct rfs_pending *p)
{
	if (s->kind != RFS_SAVE_SAVED || s->type != RFS_OBJ_FILE)
		return false;
	if (s->ranges) {
		uint64_t blocks = 0;
		for (size_t i = 0; i < s->nranges; i++)
			blocks += s->ranges[i].count;
		if (blocks <= DEFER_BLOCKS)
			return false;
	}
	if (__atomic_add_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL) > MAX_DEFERRED) {
		__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	int fd = save_fd(h, s);
	if (fd >= 0 && fd == s->fd)
		fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
	struct stat st;
	bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	          chunk_count(h, (uint64_t)st.st_size) > 1;
	if (ok && s->ranges && s->nranges) {
		p->ranges = malloc(s->nranges * sizeof *p->ranges);
		ok = p->ranges != NULL;
		if (ok)
			memcpy(p->ranges, s->ranges, s->nranges * sizeof *p->ranges);
		p->nranges = s->nranges;
	}
	if (!ok) {
		if (fd >= 0)
			close(fd);
		free(p->ranges);
		p->ranges = NULL;
		p->nranges = 0;
		__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	p->dfd = fd;
	p->cap.state = CAP_DEFERRED;
	return true;
}

/* Capture p (claimed by the caller, no lock held) and publish the result.
** Returns with q_lock held. */
static void capture_deferred(struct rfs_history *h, struct rfs_pending *p)
{
	struct rfs_capture c = { 0 };
	pthread_mutex_lock(&h->git_lock);
	uint64_t prev = UINT64_MAX;
	if (p->ranges && !prev_size(h, p->cpath, p->ev.file_id, p->seq, &prev))
		prev = UINT64_MAX;
	int rc = p->ranges ? capture_file_ranges(h, p->dfd, p->ranges, p->nranges, prev, &c)
	                   : rfs_h_capture_entry(h, p->dfd, p->cpath, &c);
	if (rc == 0 && rfs_stage_bytes(h->stage) > SPILL_BYTES)
		rc = rfs_stage_spill(h->stage);
	/* q_lock before git_lock goes: gc (which holds both) sees the objects
	** just packed on p, never in between. */
	pthread_mutex_lock(&h->q_lock);
	pthread_mutex_unlock(&h->git_lock);
	close(p->dfd);
	p->dfd = -1;
	free(p->ranges);
	p->ranges = NULL;
	if (rc == 0) {
		c.has_side = p->cap.has_side;
		c.side = p->cap.side;
		p->cap = c;
	} else {
		free(c.cidx);
		free(c.coid);
		p->cap.state = CAP_NONE;
		p->cap_err = rc;
	}
	p->claimed = false;
	__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
	pthread_cond_broadcast(&h->cap_cond);
}

static bool id_matches(const struct rfs_pending *p, const uint8_t *id)
{
	return !id || !memcmp(p->ev.file_id, id, 16);
}

/* Capture every deferred save of id (NULL: all) in list (q_lock held, may
** be released meanwhile); waits for those another thread captures.
** list_of: where the list is (re-read after each wait: the queue changes). */
static void capture_deferred_of(struct rfs_history *h, struct rfs_pending *const *list_a,
                                struct rfs_pending *const *list_b, const uint8_t *id)
{
	for (;;) {
		struct rfs_pending *mine = NULL;
		bool busy = false;
		struct rfs_pending *const *lists[2] = { list_a, list_b };
		for (int l = 0; l < 2 && !mine; l++)
			for (struct rfs_pending *p = lists[l] ? *lists[l] : NULL; p && !mine; p = p->next)
				if (p->cap.state == CAP_DEFERRED && id_matches(p, id)) {
					if (p->claimed)
						busy = true;
					else
						mine = p;
				}
		if (mine) {
			mine->claimed = true;
			pthread_mutex_unlock(&h->q_lock);
			capture_deferred(h, mine);   /* returns with q_lock held */
		} else if (busy) {
			pthread_cond_wait(&h->cap_cond, &h->q_lock);
		} else {
			return;
		}
	}
}

void rfs_history_before_write(struct rfs_history *h, const uint8_t file_id[16])
{
	if (!h || __atomic_load_n(&h->n_deferred, __ATOMIC_ACQUIRE) == 0)
		return;
	pthread_mutex_lock(&h->q_lock);
	capture_deferred_of(h, &h->q_head, &h->inflight, file_id);
	pthread_mutex_unlock(&h->q_lock);
}

int rfs_history_record(struct rfs_history *h, const struct rfs_save *s)
{
	if (!h || !h->stage)
		return -EROFS;
	if (!valid_save(s))
		return -EINVAL;
	struct rfs_pending *p = pending_new(h, s);
	if (!p)
		return -ENOMEM;
	/* Deletes, mode and property changes capture nothing: they need not wait
	** for the committer's lock (an rm -rf would otherwise go at its pace). */
	bool captures = s->kind == RFS_SAVE_CREATED || s->kind == RFS_SAVE_SAVED ||
	                s->kind == RFS_SAVE_RESTORED || s->kind == RFS_SAVE_RECOVERED ||
	                s->kind == RFS_SAVE_RENAMED;
	int rc = 0;
	bool git_held = false;           /* kept until p is queued: gc then sees its objects */
	if (captures && capture_small(h, s, p)) {
		/* staged by the committer */
	} else if (captures && try_defer(h, s, p)) {
		if (path_is_long(s->cipher_path)) {  /* a long name's side file: small, now */
			pthread_mutex_lock(&h->git_lock);
			git_held = true;
			rc = capture_side(h, s->cipher_path, &p->cap);
		}
		if (rc < 0)
			__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
	} else if (captures) {
		pthread_mutex_lock(&h->git_lock);
		git_held = true;
		rc = capture_save(h, s, &p->cap);
		if (rc == 0 && rfs_stage_bytes(h->stage) > SPILL_BYTES)
			rc = rfs_stage_spill(h->stage);
	}
	if (rc < 0) {
		if (git_held)
			pthread_mutex_unlock(&h->git_lock);
		pending_free(h, p);
		pthread_mutex_lock(&h->q_lock);
		h->behind = true;                /* in live/, not in history: the committer catches up */
		if (!h->error)
			h->error = rc;
		pthread_cond_signal(&h->q_cond);
		pthread_mutex_unlock(&h->q_lock);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &p->queued);
	pthread_mutex_lock(&h->q_lock);
	if (git_held)
		pthread_mutex_unlock(&h->git_lock);
	/* Only the first save of a batch wakes the committer: it then lingers
	** on a timer, and a wake-up per save would cost a context switch each. */
	bool first = !h->q_head;
	if (h->q_tail)
		h->q_tail->next = p;
	else
		h->q_head = p;
	h->q_tail = p;
	p->seq = ++h->n_recorded;
	if (first)
		pthread_cond_signal(&h->q_cond);
	pthread_mutex_unlock(&h->q_lock);
	return 0;
}

/* ---- batching: which saves may share one commit ---- */

static bool path_overlaps(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	size_t la = strlen(a), lb = strlen(b);
	if (!la || !lb)
		return true;                     /* the root overlaps everything */
	size_t n = la < lb ? la : lb;
	if (strncmp(a, b, n))
		return false;
	return la == lb || (la < lb ? b[la] == '/' : a[lb] == '/');
}

static bool zero_id(const uint8_t id[16])
{
	static const uint8_t z[16];
	return !memcmp(id, z, 16);
}

static bool saves_conflict(const struct rfs_pending *a, const struct rfs_pending *b)
{
	if (!zero_id(a->ev.file_id) && !memcmp(a->ev.file_id, b->ev.file_id, 16))
		return true;
	return path_overlaps(a->cpath, b->cpath) || path_overlaps(a->cpath, b->cpath_old) ||
	       path_overlaps(a->cpath_old, b->cpath) || path_overlaps(a->cpath_old, b->cpath_old);
}

/* ---- applying a batch to the tree ---- */

struct updates {
	git_tree_update *u;
	char **owned;                     /* paths allocated here */
	size_t n, cap, nowned;
	int err;
};

static void upd_add(struct updates *up, git_tree_update_t action, const char *path,
                    const git_oid *oid, git_filemode_t mode, bool own)
{
	if (up->err)
		return;
	if (up->n == up->cap) {
		size_t cap = up->cap ? up->cap * 2 : 64;
		git_tree_update *u = realloc(up->u, cap * sizeof *u);
		char **o = realloc(up->owned, cap * sizeof *o);
		if (u)
			up->u = u;
		if (o)
			up->owned = o;
		if (!u || !o) {
			up->err = -ENOMEM;
			return;
		}
		up->cap = cap;
	}
	git_tree_update *x = &up->u[up->n++];
	memset(x, 0, sizeof *x);
	x->action = action;
	x->path = path;
	x->filemode = mode;
	if (oid)
		x->id = *oid;
	if (own)
		up->owned[up->nowned++] = (char *)path;
}

static void upd_free(struct updates *up)
{
	for (size_t i = 0; i < up->nowned; i++)
		free(up->owned[i]);
	free(up->owned);
	free(up->u);
}

/* The newest commit's tree, parsed only when a save needs one of its
** entries: a plain save never does, and a big root costs to parse. */
struct base {
	struct rfs_history *h;
	bool have;                        /* there is a newest commit */
	git_oid oid;
	git_tree *tree;                   /* NULL until needed */
	int err;
};

static git_tree *base_tree(struct base *b)
{
	if (!b->tree && b->have && !b->err && git_tree_lookup(&b->tree, b->h->repo, &b->oid) < 0)
		b->err = -EIO;
	return b->tree;
}

static int entry_at(struct base *base, const char *path, git_tree_entry **e)
{
	*e = NULL;
	git_tree *t = path[0] ? base_tree(base) : NULL;
	if (!t)
		return -ENOENT;
	int rc = git_tree_entry_bypath(e, t, path);
	return rc == GIT_ENOTFOUND ? -ENOENT : rc < 0 ? -EIO : 0;
}

bool rfs_h_is_chunked(git_repository *repo, const git_tree_entry *e)
{
	if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
		return false;
	git_tree *t = NULL;
	if (git_tree_lookup(&t, repo, git_tree_entry_id(e)) < 0)
		return false;
	bool yes = git_tree_entry_byname(t, RFS_CHUNK_MARKER) != NULL;
	git_tree_free(t);
	return yes;
}

/* A one-chunk version's blob is chunk 0 of a longer file only when it was
** a full chunk: a shorter one (an empty file's bare header, say) lacks
** bytes the daemon had no reason to mark as written. */
static bool whole_chunk0(struct rfs_history *h, const git_tree_entry *prev)
{
	size_t len;
	git_object_t type;
	return git_tree_entry_type(prev) == GIT_OBJECT_BLOB &&
	       git_odb_read_header(&len, &type, h->odb, git_tree_entry_id(prev)) == 0 &&
	       len == RFS_HEADER_SIZE + h->chunk_bytes;
}

/* A chunk the capture did not read and the previous version lacks (the
** daemon's ranges missed a write): taken from live/ now, better late than
** absent. Fails when the file is gone: then the save is dropped alone. */
struct fill {
	struct rfs_history *h;
	const char *cpath;
	int fd;
	uint64_t size;
	uint8_t *buf;
};

static int fill_from_live(void *arg, uint64_t k, git_oid *oid)
{
	struct fill *f = arg;
	if (f->fd < 0) {
		struct stat st;
		f->fd = rfs_h_open_live(f->h, f->cpath, 0);
		if (f->fd < 0)
			return f->fd;
		if (fstat(f->fd, &st) < 0)
			return -errno;
		f->size = (uint64_t)st.st_size;
		if (!(f->buf = malloc(RFS_HEADER_SIZE + f->h->chunk_bytes)))
			return -ENOMEM;
	}
	if (k >= chunk_count(f->h, f->size))
		return -ESTALE;                  /* live/ is shorter than the save: not this version */
	return capture_chunk(f->h, f->fd, f->size, k, f->buf, oid);
}

/* Merge captured chunks with the previous version's chunk tree. */
static int apply_chunks(struct rfs_history *h, struct base *base, const struct rfs_pending *p,
                        git_oid *out)
{
	const struct rfs_capture *c = &p->cap;
	git_tree_entry *prev = NULL;
	const git_oid *prev_top = NULL;
	uint64_t *idx = c->cidx;
	git_oid *oids = c->coid, mk;
	size_t n = c->ncap;
	int rc = marker_oid(h, &mk);
	if (rc == 0 && entry_at(base, p->cpath, &prev) == 0) {
		if (rfs_h_is_chunked(h->repo, prev) && chunked_v2(h, git_tree_entry_id(prev)))
			prev_top = git_tree_entry_id(prev);
		else if (whole_chunk0(h, prev) && (!n || idx[0] != 0)) {
			/* the one-chunk version is chunk 0 */
			idx = malloc((n + 1) * sizeof *idx);
			oids = malloc((n + 1) * sizeof *oids);
			if (!idx || !oids) {
				rc = -ENOMEM;
			} else {
				idx[0] = 0;
				oids[0] = *git_tree_entry_id(prev);
				memcpy(idx + 1, c->cidx, n * sizeof *idx);
				memcpy(oids + 1, c->coid, n * sizeof *oids);
				n++;
			}
		}
	}
	struct fill f = { h, p->cpath, -1, 0, NULL };
	if (rc == 0)
		rc = rfs_chunk_tree_update(h, prev_top, c->nchunks, idx, oids, n, &mk, fill_from_live, &f,
		                           out);
	if (f.fd >= 0)
		close(f.fd);
	free(f.buf);
	if (idx != c->cidx)
		free(idx);
	if (oids != c->coid)
		free(oids);
	git_tree_entry_free(prev);
	return rc;
}

static void side_update(struct updates *up, struct base *base, const char *cpath,
                        const struct rfs_capture *c, bool remove)
{
	if (!cpath || !path_is_long(cpath))
		return;
	char *sp = side_path(cpath);
	if (!sp) {
		up->err = -ENOMEM;
		return;
	}
	git_tree_entry *e = NULL;
	bool exists = entry_at(base, sp, &e) == 0;
	git_tree_entry_free(e);
	if (!remove && c && c->has_side)
		upd_add(up, GIT_TREE_UPDATE_UPSERT, sp, &c->side, GIT_FILEMODE_BLOB, true);
	else if (remove && exists)
		upd_add(up, GIT_TREE_UPDATE_REMOVE, sp, NULL, 0, true);
	else
		free(sp);
}

static void apply_move(struct rfs_history *h, struct updates *up, struct base *base,
                       const struct rfs_pending *p)
{
	git_tree_entry *from = NULL, *to = NULL;
	entry_at(base, p->cpath_old, &from);
	entry_at(base, p->cpath, &to);
	if (p->ev.kind == RFS_SAVE_EXCHANGED) {
		if (from && to) {
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, git_tree_entry_id(from),
			        git_tree_entry_filemode(from), false);
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath_old, git_tree_entry_id(to),
			        git_tree_entry_filemode(to), false);
		}
	} else if (from) {
		upd_add(up, GIT_TREE_UPDATE_REMOVE, p->cpath_old, NULL, 0, false);
		upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, git_tree_entry_id(from),
		        git_tree_entry_filemode(from), false);
		side_update(up, base, p->cpath_old, NULL, true);
		side_update(up, base, p->cpath, &p->cap, false);
	} else {
		/* The source was never recorded: take the target from live/ now. */
		struct rfs_capture c = { 0 };
		if (rfs_h_capture_entry(h, -1, p->cpath, &c) == 0)
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, &c.oid, c.mode, false);
	}
	git_tree_entry_free(from);
	git_tree_entry_free(to);
}

static void apply_one(struct rfs_history *h, struct updates *up, struct base *base,
                      struct rfs_pending *p)
{
	git_tree_entry *e = NULL;
	switch (p->ev.kind) {
	case RFS_SAVE_DELETED:
		if (entry_at(base, p->cpath, &e) == 0)
			upd_add(up, GIT_TREE_UPDATE_REMOVE, p->cpath, NULL, 0, false);
		git_tree_entry_free(e);
		side_update(up, base, p->cpath, NULL, true);
		return;
	case RFS_SAVE_RENAMED:
	case RFS_SAVE_EXCHANGED:
		apply_move(h, up, base, p);
		return;
	default:
		break;
	}
	if (p->cap.state == CAP_CHUNKS) {
		git_oid oid;
		int rc = apply_chunks(h, base, p, &oid);
		if (rc < 0)
			up->err = rc;
		else
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, &oid, GIT_FILEMODE_TREE, false);
	} else if (p->cap.state == CAP_ENTRY) {
		if (!p->cpath[0]) {
			up->err = -EINVAL;           /* the root is replaced by the caller, not upserted */
			return;
		}
		upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, &p->cap.oid, p->cap.mode, false);
	}
	side_update(up, base, p->cpath, &p->cap, false);
}

static int head_tree(struct rfs_history *h, struct base *out)
{
	*out = (struct base){ .h = h, .have = h->head_seq != 0 };
	if (!out->have)
		return 0;
	git_commit *c = NULL;
	if (git_commit_lookup(&c, h->repo, &h->head) < 0)
		return -EIO;
	out->oid = *git_commit_tree_id(c);
	git_commit_free(c);
	return 0;
}

/* A save that cannot be committed goes alone, with a line saying so; the
** rest of its batch is committed, and the next mount's recovery records
** the file as live/ then has it. */
static void drop_save(struct rfs_history *h, struct rfs_pending *p, int rc, int *first_err)
{
	rfs_log(LOG_ERR, "history: could not record a version of %s (%s); the others saved with it "
	        "are recorded, and the next mount records this file as it is then",
	        p->ev.path[0] ? p->ev.path : "/", strerror(-rc));
	p->dropped = true;
	if (!*first_err)
		*first_err = rc;
}

/* Commit a batch. 0, or -errno: the whole batch failed. *dropped_err: the
** first error of a save left out alone (0: none). */
static int apply_batch(struct rfs_history *h, struct rfs_pending *batch, size_t n, int *dropped_err)
{
	struct base base;
	int rc = head_tree(h, &base);
	struct updates up = { 0 };
	git_oid tree_oid;
	bool root_set = false;
	struct rfs_pending *p = batch;
	*dropped_err = 0;
	int staged = stage_small(h, batch, n);
	rc = rc ? rc : staged;
	p = batch;
	for (size_t i = 0; i < n && rc == 0; i++, p = p->next) {
		if (p->cap_err) {                /* a deferred capture failed */
			drop_save(h, p, p->cap_err, dropped_err);
		} else if (!p->cpath[0] && p->cap.state == CAP_ENTRY && p->cap.mode == GIT_FILEMODE_TREE) {
			tree_oid = p->cap.oid;       /* a whole-root capture (recovery): nothing else in batch */
			root_set = true;
		} else {
			size_t mark = up.n;
			apply_one(h, &up, &base, p);
			if (up.err && up.err != -ENOMEM && !base.err) {
				up.n = mark;             /* this save's updates go, the batch stays */
				drop_save(h, p, up.err, dropped_err);
				up.err = 0;
			}
		}
	}
	rc = rc ? rc : up.err ? up.err : base.err;
	size_t kept = 0;
	p = batch;
	for (size_t i = 0; i < n; i++, p = p->next)
		kept += !p->dropped;
	if (rc == 0 && !root_set && kept) {
		if (base.have && !up.n)
			tree_oid = base.oid;
		else
			rc = rfs_tree_update(h, base.have ? &base.oid : NULL, up.u, up.n, &tree_oid);
	}
	upd_free(&up);
	git_tree_free(base.tree);
	if (rc < 0 || !kept)
		return rc;
	struct rfs_event *ev = calloc(kept, sizeof *ev);
	if (!ev)
		return -ENOMEM;
	p = batch;
	size_t j = 0;
	for (size_t i = 0; i < n; i++, p = p->next)
		if (!p->dropped)
			ev[j++] = p->ev;             /* borrowed: the pendings own the strings */
	git_oid commit;
	rc = rfs_h_commit(h, &tree_oid, ev, kept, &commit);
	free(ev);
	return rc;
}

/* ---- commits: sealed record, signature, head ---- */

static int32_t local_tz_minutes(time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	return (int32_t)(tm.tm_gmtoff / 60);
}

/* The commit without its signature, byte for byte as git_commit_create_buffer
** writes it, NUL-terminated; built here so the (maybe large) root tree need
** not be read back and parsed. */
static void commit_text(struct rfs_bytes *b, const git_oid *tree, const git_oid *parent, int64_t t,
                        int tz, const char *msg)
{
	char hex[GIT_OID_HEXSZ + 1], line[160];
	rfs_bytes_put(b, line, (size_t)snprintf(line, sizeof line, "tree %s\n",
	                                        git_oid_tostr(hex, sizeof hex, tree)));
	if (parent)
		rfs_bytes_put(b, line, (size_t)snprintf(line, sizeof line, "parent %s\n",
		                                        git_oid_tostr(hex, sizeof hex, parent)));
	int off = tz < 0 ? -tz : tz;
	for (int i = 0; i < 2; i++)
		rfs_bytes_put(b, line, (size_t)snprintf(line, sizeof line, "%s %s <%s> %lld %c%02d%02d\n",
		                                        i ? "committer" : "author", RFS_SIG_NAME,
		                                        RFS_SIG_EMAIL, (long long)t, tz < 0 ? '-' : '+',
		                                        off / 60, off % 60));
	rfs_bytes_put(b, "\n", 1);
	rfs_bytes_put(b, msg, strlen(msg) + 1);
}

int rfs_h_commit(struct rfs_history *h, const git_oid *tree_oid, struct rfs_event *events, size_t n,
                 git_oid *out)
{
	struct timespec now = { .tv_sec = (time_t)h->fixed_time };
	if (!h->fixed_time)
		clock_gettime(CLOCK_REALTIME, &now);
	struct rfs_record r = {
		.seq = h->head_seq + 1,
		.time_sec = now.tv_sec,
		.time_nsec = (uint32_t)now.tv_nsec,
		.tz_minutes = local_tz_minutes(now.tv_sec),
		.login = h->login, .full_name = h->full_name, .host = h->host,
		.nevents = n, .events = events,
	};
	if (h->head_seq)
		r.parent = h->head;
	char *msg = NULL;
	int rc = rfs_record_seal(&r, h->v->keys, h->v->conf.vault_id, tree_oid, &msg);
	if (rc < 0)
		return rc;
	struct rfs_bytes buf = { 0 };
	commit_text(&buf, tree_oid, h->head_seq ? &h->head : NULL, now.tv_sec, r.tz_minutes, msg);
	free(msg);
	if (buf.err) {
		rfs_bytes_free(&buf);
		return buf.err;
	}
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, buf.p, buf.len - 1, h->v->keys->sign_sk);
	char sigtext[8 + 90];
	memcpy(sigtext, "ed25519 ", 8);
	rfs_b64_encode(sigtext + 8, sig, sizeof sig);
	rc = git_commit_create_with_signature(out, h->repo, (const char *)buf.p, sigtext,
	                                      RFS_SIG_FIELD) < 0 ? -EIO : 0;
	rfs_bytes_free(&buf);
	if (rc == 0)
		rc = rfs_index_encode_commit(h, &h->index_pending, out, &r);
	if (rc == 0) {
		h->head = *out;
		h->head_seq = r.seq;
	}
	return rc;
}

int rfs_h_read_commit_record(struct rfs_history *h, const git_oid *oid, struct rfs_record *r)
{
	git_commit *c = NULL;
	if (git_commit_lookup(&c, h->repo, oid) < 0)
		return -ENOENT;
	int rc = rfs_record_open(r, git_commit_message_raw(c), h->v->keys, h->v->conf.vault_id,
	                         git_commit_tree_id(c));
	git_commit_free(c);
	return rc;
}

/* ---- the signed head record: the newest ref written, and whether the vault was closed cleanly ---- */

#define HEAD_MAGIC_V1 "recfs-head-v1"
#define HEAD_MAGIC_V2 "recfs-head-v2"
#define HEAD_SIGNED_V2 (13 + 16 + 8 + 20 + 1 + RFS_LIVE_DIGEST)

static void head_signed_bytes(uint8_t *out, const char *magic, const uint8_t vault_id[16],
                              uint64_t seq, const git_oid *oid)
{
	memcpy(out, magic, 13);
	memcpy(out + 13, vault_id, 16);
	for (int i = 0; i < 8; i++)
		out[29 + i] = (uint8_t)(seq >> (8 * i));
	memcpy(out + 37, oid->id, 20);
}

/* v2 signs the state and live/'s digest too, so neither can be forged or
** dropped without the signing key. */
static void head_signed_v2(uint8_t out[HEAD_SIGNED_V2], const uint8_t vault_id[16],
                           const struct rfs_head_rec *r)
{
	head_signed_bytes(out, HEAD_MAGIC_V2, vault_id, r->seq, &r->oid);
	out[57] = r->clean ? 2 : 1;
	memcpy(out + 58, r->digest, RFS_LIVE_DIGEST);
}

/* temp + fsync + rename; on a full disk, overwrite in place when the line
** keeps its length (dirty and clean of one head do), which needs no new block. */
static int write_side_file(struct rfs_history *h, const char *name, const char *text, size_t n)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = openat(h->side_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : 0;
	if (rc == 0 && write(fd, text, n) != (ssize_t)n)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && renameat(h->side_fd, tmp, h->side_fd, name) < 0)
		rc = -errno;
	if (rc == 0)
		return fsync(h->side_fd) == 0 ? 0 : -errno;   /* the rename itself, durable */
	unlinkat(h->side_fd, tmp, 0);
	struct stat st;
	if ((rc != -ENOSPC && rc != -EDQUOT) || fstatat(h->side_fd, name, &st, 0) < 0 ||
	    (size_t)st.st_size != n)
		return rc;
	fd = openat(h->side_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return rc;
	int wrc = pwrite(fd, text, n, 0) == (ssize_t)n && fsync(fd) == 0 ? 0 : rc;
	close(fd);
	return wrc;
}

static int write_head_record(struct rfs_history *h, bool clean, const uint8_t digest[RFS_LIVE_DIGEST])
{
	struct rfs_head_rec r = { .seq = h->have_ref ? h->head_seq : 0, .clean = clean, .version = 2 };
	if (h->have_ref)
		r.oid = h->ref_head;
	if (digest)
		memcpy(r.digest, digest, RFS_LIVE_DIGEST);
	uint8_t msg[HEAD_SIGNED_V2], sig[crypto_sign_BYTES];
	head_signed_v2(msg, h->v->conf.vault_id, &r);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, h->v->keys->sign_sk);
	char hex[41], dig[64], b64[90], line[300];
	git_oid_tostr(hex, sizeof hex, &r.oid);
	rfs_b64_encode(dig, r.digest, RFS_LIVE_DIGEST);
	rfs_b64_encode(b64, sig, sizeof sig);
	int n = snprintf(line, sizeof line, "recfs-head 2 %llu %s %s %s %s\n",
	                 (unsigned long long)r.seq, hex, clean ? "clean" : "dirty", dig, b64);
	return write_side_file(h, "head", line, (size_t)n);
}

int rfs_h_read_head(struct rfs_history *h, struct rfs_head_rec *r)
{
	char line[400];
	memset(r, 0, sizeof *r);
	if (h->side_fd < 0)
		return -ENOENT;
	int fd = openat(h->side_fd, "head", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n <= 0)
		return -EBADMSG;
	line[n] = 0;
	unsigned long long s;
	char hex[41], state[8], dig[100], b64[100];
	uint8_t sig[crypto_sign_BYTES], msg[HEAD_SIGNED_V2];
	size_t msglen;
	if (sscanf(line, "recfs-head 2 %llu %40s %7s %99s %99s", &s, hex, state, dig, b64) == 5) {
		r->version = 2;
		r->clean = !strcmp(state, "clean");
		if ((!r->clean && strcmp(state, "dirty")) || git_oid_fromstr(&r->oid, hex) < 0 ||
		    rfs_b64_decode(r->digest, RFS_LIVE_DIGEST, dig, strlen(dig)) != RFS_LIVE_DIGEST)
			return -EBADMSG;
		r->seq = s;
		head_signed_v2(msg, h->v->conf.vault_id, r);
		msglen = HEAD_SIGNED_V2;
	} else if (sscanf(line, "recfs-head 1 %llu %40s %99s", &s, hex, b64) == 3) {
		r->version = 1;                  /* older vaults: no state, so never "clean" */
		if (git_oid_fromstr(&r->oid, hex) < 0)
			return -EBADMSG;
		r->seq = s;
		head_signed_bytes(msg, HEAD_MAGIC_V1, h->v->conf.vault_id, s, &r->oid);
		msglen = 57;
	} else {
		return -EBADMSG;
	}
	if (rfs_b64_decode(sig, sizeof sig, b64, strlen(b64)) != (long)sizeof sig)
		return -EBADMSG;
	return crypto_sign_verify_detached(sig, msg, msglen, h->v->keys->sign_pk) ? -EBADMSG : 0;
}

int rfs_h_read_head_record(struct rfs_history *h, uint64_t *seq, git_oid *oid)
{
	struct rfs_head_rec r;
	int rc = rfs_h_read_head(h, &r);
	if (rc == 0) {
		*seq = r.seq;
		*oid = r.oid;
	}
	return rc;
}

/* Pack what is staged, move the ref forward to the newest commit, record
** the signed head and append the index. Caller holds git_lock. */
/* live/ and keys/ durable, before history may point at them: one syncfs
** covers every key entry, .dirid, long-name side file and ciphertext file
** (they live on the vault's file system), so a power cut never leaves history
** holding a version whose key or content live/ lost, nor live/ older than
** history (which recovery would commit as a newer, wrong version). */
static int vault_durable(struct rfs_history *h)
{
	uint64_t token = rfs_undo_vault_sync_begin(h->v->undo);
	int rc = syncfs(h->v->dirfd) == 0 ? 0 : -errno;

	rfs_undo_vault_sync_done(h->v->undo, token, rc == 0);   /* undo entries it made needless */
	return rc;
}

int rfs_h_publish(struct rfs_history *h)
{
	int rc = rfs_stage_bytes(h->stage) || rfs_stage_count(h->stage) ? rfs_stage_spill(h->stage) : 0;
	if (rc < 0 || !h->head_seq || (h->have_ref && git_oid_equal(&h->ref_head, &h->head)))
		return rc;
	if ((rc = vault_durable(h)) < 0)
		return rc;
	git_reference *ref = NULL;
	if (h->have_ref) {
		if (git_graph_descendant_of(h->repo, &h->head, &h->ref_head) != 1)
			return -ESTALE;              /* never move the ref sideways or back */
		rc = git_reference_create_matching(&ref, h->repo, RFS_HISTORY_REF, &h->head, 1,
		                                   &h->ref_head, "recfs") < 0 ? -ESTALE : 0;
	} else {
		rc = git_reference_create(&ref, h->repo, RFS_HISTORY_REF, &h->head, 0, "recfs") < 0
		     ? -EIO : 0;
	}
	git_reference_free(ref);
	if (rc < 0)
		return rc;
	h->ref_head = h->head;
	h->have_ref = true;
	rc = write_head_record(h, false, NULL);
	int irc = rfs_index_append(h, &h->index_pending);
	rfs_bytes_free(&h->index_pending);
	return rc < 0 ? rc : irc;
}

/* ---- the committer thread ---- */

/* The saves of the next commit, in record order: every queued save that
** conflicts neither with one taken nor with an earlier one left waiting (so
** the saves of one path keep their order). Saves of different files thus
** share commits even when each file is saved twice in a row (create, then
** write). A save of the root goes alone. q_lock held. */
static size_t take_batch(struct rfs_history *h, struct rfs_pending **out)
{
	struct rfs_pending *taken = NULL, **tail = &taken, **pp = &h->q_head, *p, *last_left = NULL;
	struct rfs_pending *left[MAX_SCAN];
	size_t n = 0, nleft = 0;

	while ((p = *pp) != NULL && n < MAX_BATCH && nleft < MAX_SCAN) {
		bool clash = !p->cpath[0] && (n || nleft);
		for (struct rfs_pending *q = taken; q && !clash; q = q->next)
			clash = saves_conflict(p, q);
		for (size_t i = 0; i < nleft && !clash; i++)
			clash = saves_conflict(p, left[i]);
		if (clash) {
			left[nleft++] = p;
			last_left = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;                   /* take it out of the queue */
		p->next = NULL;
		*tail = p;
		tail = &p->next;
		n++;
		if (!p->cpath[0])
			break;
	}
	if (!p)                              /* the scan reached the end: fix the tail */
		h->q_tail = last_left;
	*out = taken;
	return n;
}

/* Wait (q_lock held) while the oldest queued save is younger than LINGER_MS
** and no one waits on a flush: a burst of saves then shares commits. */
static void linger(struct rfs_history *h)
{
	for (;;) {
		struct timespec now, until;
		long waited;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - h->q_head->queued.tv_sec) * 1000 +
		         (now.tv_nsec - h->q_head->queued.tv_nsec) / 1000000;
		if (waited >= LINGER_MS || h->flush_wanted || h->stop)
			return;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (LINGER_MS - waited) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->q_cond, &h->q_lock, &until);
	}
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void git_relock(void *arg, int lock)
{
	struct rfs_history *h = arg;
	if (lock)
		pthread_mutex_lock(&h->git_lock);
	else
		pthread_mutex_unlock(&h->git_lock);
}

/* Every pack written adds one to objects/pack; merge them before lookups
** (one index search per pack) slow down. On the packer thread: saves and
** commits go on meanwhile; the repository lock is held only to swap packs. */
static void consolidate_packs(struct rfs_history *h)
{
	pthread_mutex_lock(&h->pack_lock);
	int rc = rfs_packs_consolidate(h->packs, MAX_PACKS, BIG_PACK, git_relock, h);
	pthread_mutex_unlock(&h->pack_lock);
	if (rc < 0)                      /* more packs than wanted, never fewer objects */
		rfs_log(LOG_WARNING, "history: could not merge packs in %s/%s: %s", h->v->path,
		        RFS_HISTORY_DIR, strerror(-rc));
}

static void publish_locked(struct rfs_history *h)
{
	uint64_t upto = h->n_committed;
	pthread_mutex_unlock(&h->q_lock);
	pthread_mutex_lock(&h->git_lock);
	int rc = rfs_h_publish(h);
	pthread_mutex_unlock(&h->git_lock);
	pthread_mutex_lock(&h->q_lock);
	if (rc < 0) {
		rfs_log(LOG_ERR, "history: could not publish commits: %s", strerror(-rc));
		h->error = rc;
	}
	h->n_durable = upto;
	h->unpacked = false;
	pthread_cond_broadcast(&h->q_done);
	if (rc == 0) {
		h->pack_wanted = true;       /* a pack more: the packer merges when there are too many */
		pthread_cond_signal(&h->pack_cond);
	}
}

/* The packer thread: merges packs while commits go on. */
static void *packer(void *arg)
{
	struct rfs_history *h = arg;
	pthread_mutex_lock(&h->q_lock);
	while (!h->packer_stop || h->pack_wanted) {   /* the last request is served too */
		if (!h->pack_wanted) {
			pthread_cond_wait(&h->pack_cond, &h->q_lock);
			continue;
		}
		h->pack_wanted = false;
		pthread_mutex_unlock(&h->q_lock);
		consolidate_packs(h);
		pthread_mutex_lock(&h->q_lock);
	}
	pthread_mutex_unlock(&h->q_lock);
	return NULL;
}

/* History failed (a full disk) or is behind live/: move the ref to what is
** staged and, when saves were lost on the way, recover live/ into history.
** On the committer, idle, q_lock held (dropped meanwhile). */
static void catch_up_locked(struct rfs_history *h)
{
	bool behind = h->behind;
	uint64_t upto = h->n_committed;
	pthread_mutex_unlock(&h->q_lock);
	pthread_mutex_lock(&h->git_lock);
	int rc = rfs_h_publish(h);
	pthread_mutex_unlock(&h->git_lock);
	if (rc == 0 && behind)
		rc = rfs_h_recover(h);
	pthread_mutex_lock(&h->q_lock);
	h->catchups++;
	clock_gettime(CLOCK_MONOTONIC, &h->last_catchup);
	if (rc == 0) {
		rfs_log(LOG_NOTICE, "history: caught up with live/ in %s/%s", h->v->path, RFS_HISTORY_DIR);
		h->error = 0;
		h->behind = false;
		h->catchup_ms = CATCHUP_MS;
		if (h->n_durable < upto)
			h->n_durable = upto;
		h->unpacked = false;
	} else {
		if (h->catchup_ms == CATCHUP_MS || rc != h->error)
			rfs_log(LOG_WARNING, "history: %s/%s is still behind live/: %s; retrying", h->v->path,
			        RFS_HISTORY_DIR, strerror(-rc));
		if (!h->error)
			h->error = rc;
		if (h->catchup_ms < CATCHUP_MAX_MS)
			h->catchup_ms *= 2;
	}
	pthread_cond_broadcast(&h->q_done);
}

static bool catch_up_due(struct rfs_history *h)
{
	return (h->error || h->behind) && (h->catchup_wanted || ms_since(&h->last_catchup) >= h->catchup_ms);
}

static void *committer(void *arg)
{
	struct rfs_history *h = arg;
	pthread_mutex_lock(&h->q_lock);
	for (;;) {
		if (h->q_head) {
			struct rfs_pending *batch;
			size_t n;

			linger(h);
			n = take_batch(h, &batch);
			/* gc keeps its objects, and a capture meanwhile counts it as before
			** itself, until it is committed */
			h->committing = batch;
			if (__atomic_load_n(&h->n_deferred, __ATOMIC_ACQUIRE)) {
				h->inflight = batch;     /* before_write looks here too */
				capture_deferred_of(h, &h->inflight, NULL, NULL);
				h->inflight = NULL;
			}
			pthread_mutex_unlock(&h->q_lock);
			pthread_mutex_lock(&h->git_lock);
			int dropped = 0;
			int rc = apply_batch(h, batch, n, &dropped);
			bool spill = rfs_stage_bytes(h->stage) > SPILL_BYTES;
			pthread_mutex_lock(&h->q_lock);
			h->committing = NULL;
			pthread_mutex_unlock(&h->q_lock);
			pthread_mutex_unlock(&h->git_lock);
			while (batch) {
				struct rfs_pending *next = batch->next;
				pending_free(h, batch);
				batch = next;
			}
			pthread_mutex_lock(&h->q_lock);
			/* Every failure is logged and reported to the next flush; none
			** stops the committer: later saves are committed as usual. */
			if (rc < 0) {
				const git_error *ge = git_error_last();

				rfs_log(LOG_ERR, "history: could not commit a batch of %zu saves: %s%s%s; "
				        "the next mount records them from live/", n, strerror(-rc),
				        ge ? ": " : "", ge ? ge->message : "");
			}
			if (rc < 0 || dropped) {
				h->error = rc < 0 ? rc : dropped;
				h->behind = true;        /* those saves are in live/ only: recover them */
			}
			/* Saves leave the queue out of order: what is committed is
			** everything recorded before the oldest save still queued. */
			h->n_committed = h->q_head ? h->q_head->seq - 1 : h->n_recorded;
			if (!h->unpacked) {
				h->unpacked = true;
				clock_gettime(CLOCK_MONOTONIC, &h->first_unpacked);
			}
			if (spill)
				publish_locked(h);
			continue;
		}
		if (h->unpacked && (h->flush_wanted || h->stop || ms_since(&h->first_unpacked) >= PACK_DELAY_MS)) {
			h->flush_wanted = false;
			publish_locked(h);
			continue;
		}
		if (catch_up_due(h)) {
			h->catchup_wanted = false;
			catch_up_locked(h);
			continue;
		}
		if (h->flush_wanted) {           /* nothing unpacked: already durable */
			h->flush_wanted = false;
			h->n_durable = h->n_committed;
			pthread_cond_broadcast(&h->q_done);
			continue;
		}
		if (h->stop)
			break;
		if (h->unpacked) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 50 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->q_cond, &h->q_lock, &until);
		} else if (h->error || h->behind) {  /* wake for the next catch-up */
			struct timespec until;
			long wait_ms = h->catchup_ms - ms_since(&h->last_catchup);
			clock_gettime(CLOCK_REALTIME, &until);
			wait_ms = wait_ms < 1 ? 1 : wait_ms;
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->q_cond, &h->q_lock, &until);
		} else {
			pthread_cond_wait(&h->q_cond, &h->q_lock);
		}
	}
	pthread_mutex_unlock(&h->q_lock);
	return NULL;
}

int rfs_history_flush(struct rfs_history *h)
{
	if (!h || !h->thread_started)
		return 0;
	pthread_mutex_lock(&h->q_lock);
	uint64_t target = h->n_recorded;
	if (h->error || h->behind) {         /* space may have been freed: try to catch up now */
		uint64_t tries = h->catchups;
		h->catchup_wanted = true;
		pthread_cond_signal(&h->q_cond);
		while (h->catchups == tries)
			pthread_cond_wait(&h->q_done, &h->q_lock);
	}
	while (h->n_durable < target && !h->error) {
		h->flush_wanted = true;
		pthread_cond_signal(&h->q_cond);
		pthread_cond_wait(&h->q_done, &h->q_lock);
	}
	int rc = h->error ? h->error : h->behind ? -EAGAIN : 0;
	pthread_mutex_unlock(&h->q_lock);
	return rc;
}

/* ---- open / close ---- */

static int load_head(struct rfs_history *h)
{
	git_reference *ref = NULL;
	int rc = git_reference_lookup(&ref, h->repo, RFS_HISTORY_REF);
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return -EIO;
	const git_oid *target = git_reference_target(ref);
	if (target) {
		h->ref_head = h->head = *target;
		h->have_ref = true;
	}
	git_reference_free(ref);
	if (!h->have_ref)
		return 0;
	struct rfs_record r;
	rc = rfs_h_read_commit_record(h, &h->head, &r);
	if (rc < 0 && (h->flags & RFS_HISTORY_READONLY)) {
		h->head_seq = UINT64_MAX;        /* unreadable head: verify says why */
		return 0;
	}
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	h->head_seq = r.seq;
	rfs_record_clear(&r);
	return 0;
}

/* The repository's objects: staged (writable handles), then packs, then
** loose ones (read only). Replaces libgit2's default object store, whose
** pack list is rescanned on every miss. */
int rfs_h_open_odb(struct rfs_history *h)
{
	char *objdir = NULL;
	if (asprintf(&objdir, "%s/%s/objects", h->v->path, RFS_HISTORY_DIR) < 0)
		return -ENOMEM;
	int rc = git_odb_new(&h->odb) < 0 ? -EIO : 0;
	if (rc == 0)
		rc = rfs_packs_attach(h->odb, objdir, &h->packs);
	free(objdir);
	if (rc == 0 && git_repository_set_odb(h->repo, h->odb) < 0)
		rc = -EIO;
	if (rc == 0 && !(h->flags & RFS_HISTORY_READONLY))
		rc = rfs_stage_attach(h->odb, h->packs, &h->stage);
	return rc;
}

static int sync_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || syncfs(fd) != 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	return rc;
}

static int open_repo(struct rfs_history *h, bool create)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", h->v->path, RFS_HISTORY_DIR) < 0)
		return -ENOMEM;
	if (asprintf(&h->packdir, "%s/objects/pack", path) < 0) {
		h->packdir = NULL;
		free(path);
		return -ENOMEM;
	}
	int rc = git_repository_open_bare(&h->repo, path);
	if (rc == GIT_ENOTFOUND && create) {
		git_repository_init_options o;
		git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		o.initial_head = "main";
		o.description = "recfs history (ciphertext)";
		rc = git_repository_init_ext(&h->repo, path, &o);
		/* HEAD, config and the folders git just made must survive a power
		** cut, or git refuses the repository; one syncfs covers them all. */
		if (rc == 0 && sync_tree(path) < 0)
			rc = -1;
	}
	free(path);
	if (rc == GIT_ENOTFOUND)
		return -ENOENT;
	if (rc < 0)
		return -EIO;
	if ((rc = rfs_h_open_odb(h)) < 0)
		return rc;
	if (mkdirat(h->v->dirfd, RFS_HISTORY_DIR "/" RFS_SIDE_DIR, 0700) < 0 && errno != EEXIST &&
	    create)
		return -errno;
	h->side_fd = openat(h->v->dirfd, RFS_HISTORY_DIR "/" RFS_SIDE_DIR,
	                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->side_fd < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static char *dup_who(const char *s, const char *fallback)
{
	return strdup(s && s[0] ? s : fallback);
}

/* ---- the vault's state at open: rollback, vanished history, clean close ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry below dfd, in name order, with what any change to it changes
** (inode, type, size, mtime, ctime: ctime cannot be set back without the
** clock). Equal digests mean live/ was not touched since the clean close. */
static int digest_dir(crypto_generichash_state *g, int dfd, int depth)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* not dup: its own offset */
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name)))
			rc = -ENOMEM;
		else
			n++;
	}
	closedir(d);
	if (rc == 0 && n)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		int64_t f[8] = { (int64_t)st.st_ino, st.st_mode, st.st_size, st.st_mtim.tv_sec,
		                 st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec, depth };
		crypto_generichash_update(g, (const uint8_t *)names[i], strlen(names[i]) + 1);
		crypto_generichash_update(g, (const uint8_t *)f, sizeof f);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = sub < 0 ? -errno : digest_dir(g, sub, depth + 1);
			if (sub >= 0)
				close(sub);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int live_digest(struct rfs_history *h, uint8_t out[RFS_LIVE_DIGEST])
{
	crypto_generichash_state g;
	crypto_generichash_init(&g, h->v->conf.vault_id, 16, RFS_LIVE_DIGEST);
	int rc = digest_dir(&g, h->v->live_fd, 0);
	crypto_generichash_final(&g, out, RFS_LIVE_DIGEST);
	return rc;
}

/* live/ of a vault never mounted: the root's .dirid and nothing else. */
static bool live_is_new(struct rfs_history *h)
{
	int fd = openat(h->v->live_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	bool fresh = true;
	struct dirent *de;
	while (fresh && (de = readdir(d)))
		fresh = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		        !strcmp(de->d_name, RFS_DIRID_FILE);
	closedir(d);
	return fresh;
}

static bool has_packs(struct rfs_history *h)
{
	DIR *d = opendir(h->packdir);
	if (!d)
		return false;
	bool any = false;
	struct dirent *de;
	while (!any && (de = readdir(d)))
		any = !strncmp(de->d_name, "pack-", 5);
	closedir(d);
	return any;
}

bool rfs_h_history_vanished(struct rfs_history *h)
{
	return !h->have_ref && !live_is_new(h);
}

enum open_state { OPEN_NEW, OPEN_CLEAN, OPEN_DIRTY };

/* Check the ref against the signed head record before anything is written.
** 0 with *st, or -ESTALE with why (a ref behind the record, on another
** history or missing; a record missing, forged, or a history vanished). */
static int check_history_state(struct rfs_history *h, struct rfs_head_rec *rec,
                               enum open_state *st, char *why, size_t whysz)
{
	char a[41], b[41];
	int rc = rfs_h_read_head(h, rec);
	*st = OPEN_DIRTY;
	if (h->have_ref)
		git_oid_tostr(a, sizeof a, &h->ref_head);
	if (rc == 0)
		git_oid_tostr(b, sizeof b, &rec->oid);
	if (rc == -EBADMSG) {
		snprintf(why, whysz, "its signed head record %s/%s/head does not verify (forged or damaged)",
		         RFS_HISTORY_DIR, RFS_SIDE_DIR);
	} else if (rc == -ENOENT && h->have_ref) {
		snprintf(why, whysz, "its signed head record %s/%s/head is missing (history removed or "
		         "replaced?)", RFS_HISTORY_DIR, RFS_SIDE_DIR);
	} else if (rc == -ENOENT) {
		if (live_is_new(h) && !has_packs(h)) {
			*st = OPEN_NEW;
			return 0;
		}
		snprintf(why, whysz, "history has vanished: %s and the signed head record are missing, "
		         "but live/ holds records", RFS_HISTORY_REF);
	} else if (rc < 0) {
		snprintf(why, whysz, "cannot read its signed head record: %s", strerror(-rc));
	} else if (!h->have_ref && rec->seq == 0) {
		return 0;                        /* a new history whose first commit is not written yet */
	} else if (!h->have_ref) {
		snprintf(why, whysz, "history has vanished: %s is missing, the vault recorded seq %llu (%s)",
		         RFS_HISTORY_REF, (unsigned long long)rec->seq, b);
	} else if (git_oid_equal(&h->ref_head, &rec->oid)) {
		*st = rec->clean ? OPEN_CLEAN : OPEN_DIRTY;
		return 0;
	} else if (rec->seq == 0 || git_graph_descendant_of(h->repo, &h->ref_head, &rec->oid) == 1) {
		return 0;                        /* ahead: a crash between moving the ref and the record */
	} else if (git_odb_exists(h->odb, &rec->oid)
	           ? git_graph_descendant_of(h->repo, &rec->oid, &h->ref_head) == 1
	           : h->head_seq < rec->seq) {
		snprintf(why, whysz, "ref moved backwards: %s is at seq %llu (%s), the vault recorded seq "
		         "%llu (%s)", RFS_HISTORY_REF, (unsigned long long)h->head_seq, a,
		         (unsigned long long)rec->seq, b);
	} else {
		snprintf(why, whysz, "ref moved to another history: the vault recorded %s (seq %llu), which "
		         "%s (%s) does not contain", b, (unsigned long long)rec->seq, RFS_HISTORY_REF, a);
	}
	return -ESTALE;
}

static int count_diff(struct rfs_history *h, const char *cpath, char what, void *arg)
{
	(void)h;
	(void)cpath;
	(void)what;
	(*(size_t *)arg)++;
	return 0;
}

/* The record says the vault was closed cleanly: live/ must be as it was
** left. Unchanged stat digest: 0 at once. Otherwise (a copy, a restore from
** backup) its content is compared with the newest commit: equal, 0; else
** -ESTALE (changed while closed: tampering), why says how much. */
static int clean_state_holds(struct rfs_history *h, const struct rfs_head_rec *rec, char *why,
                             size_t whysz)
{
	uint8_t now[RFS_LIVE_DIGEST];
	if (live_digest(h, now) == 0 && !sodium_memcmp(now, rec->digest, RFS_LIVE_DIGEST))
		return 0;
	pthread_mutex_lock(&h->git_lock);
	h->hash_only = true;
	git_oid live;
	int rc = rfs_h_capture_live(h, &live);
	h->hash_only = false;
	git_commit *c = NULL;
	git_tree *old = NULL, *cur = NULL;
	size_t n = 0;
	if (rc == 0 && git_commit_lookup(&c, h->repo, &h->ref_head) < 0)
		rc = -EIO;
	if (rc == 0 && !git_oid_equal(&live, git_commit_tree_id(c))) {
		if (git_commit_tree(&old, c) == 0 && git_tree_lookup(&cur, h->repo, &live) == 0)
			rfs_h_tree_diff(h, old, cur, count_diff, &n);
		snprintf(why, whysz, "live/ was changed while the vault was closed (%zu entr%s differ%s from "
		         "the newest commit): tampering, or files put back from elsewhere", n ? n : 1,
		         n > 1 ? "ies" : "y", n > 1 ? "" : "s");
		rc = -ESTALE;
	}
	git_tree_free(old);
	git_tree_free(cur);
	git_commit_free(c);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

/* A clean close: every save committed and durable, history not behind
** live/. The signed record then says so, with live/'s digest. */
static void mark_clean(struct rfs_history *h)
{
	uint8_t digest[RFS_LIVE_DIGEST];
	if (!h->have_ref || h->error || h->behind || h->n_durable != h->n_recorded ||
	    live_digest(h, digest) < 0)
		return;
	int rc = vault_durable(h);           /* "clean" promises live/ and keys/ as they are now */
	if (rc == 0)
		rc = write_head_record(h, true, digest);
	RFS_FAULT_POINT("clean_marked", h->v->dirfd);
	if (rc < 0)
		rfs_log(LOG_WARNING, "history: cannot mark %s/%s as closed cleanly: %s; the next mount "
		        "compares live/ with history", h->v->path, RFS_HISTORY_DIR, strerror(-rc));
}

static bool disk_full(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT;
}

int rfs_history_open(struct rfs_vault *v, const struct rfs_who *who, unsigned flags,
                     struct rfs_history **out, char *err, size_t errsz)
{
	git_libgit2_init();
	struct rfs_history *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	bool ro = flags & RFS_HISTORY_READONLY;
	h->v = v;
	h->flags = flags;
	h->side_fd = -1;
	h->catchup_ms = CATCHUP_MS;
	h->chunk_bytes = (uint64_t)(v->conf.chunk_blocks ? v->conf.chunk_blocks : 15) * RFS_SLOT_SIZE;
	pthread_mutex_init(&h->git_lock, NULL);
	pthread_mutex_init(&h->pack_lock, NULL);
	pthread_mutex_init(&h->q_lock, NULL);
	pthread_cond_init(&h->q_cond, NULL);
	pthread_cond_init(&h->q_done, NULL);
	pthread_cond_init(&h->pack_cond, NULL);
	pthread_cond_init(&h->cap_cond, NULL);
	h->login = dup_who(who ? who->login : NULL, "unknown");
	h->full_name = dup_who(who ? who->full_name : NULL, "");
	h->host = dup_who(who ? who->host : NULL, "unknown");
	int rc = h->login && h->full_name && h->host ? 0 : -ENOMEM;
	const char *what = "cannot open";
	if (rc == 0) {
		if (!ro)
			git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		/* Keep big trees parsed: a root folder of 1,000 entries is 70 KB, and
		** every commit reads the one before it (libgit2 caches only 4 KB). */
		git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)TREE_CACHE_LIMIT);
		git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)OBJECT_CACHE_MAX);
		/* libgit2 keeps up to 8 GiB of packs mapped (1 GiB windows) and
		** unmaps nothing below that: merging packs read 2 GiB of them into
		** the daemon's resident memory. Small windows, a small total. */
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)PACK_WINDOW);
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)PACK_MAPPED_MAX);
		/* Every id we put in a tree is one we just computed from bytes we
		** wrote (or, in verify, only hashed): libgit2's check that the object
		** exists would read the header of every chunk of a big save back. */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
		rc = open_repo(h, !ro);
	}
	if (rc == 0 && (rc = load_head(h)) < 0)
		what = "cannot read the newest commit (run 'recfs verify') of";
	char why[400] = "";
	bool refused = false;
	if (rc == 0 && !ro)                  /* what killed daemons and views left behind */
		(void)rfs_history_leftovers(v, true, NULL, NULL);
	if (rc == 0 && !ro) {
		bool accept = flags & RFS_HISTORY_ACCEPT_STATE;
		bool skip = flags & RFS_HISTORY_NO_RECOVERY;
		struct rfs_head_rec rec;
		enum open_state st;
		if (h->side_fd >= 0)
			unlinkat(h->side_fd, "clean", 0);   /* the old, unsigned mark: never trusted */
		rc = check_history_state(h, &rec, &st, why, sizeof why);
		h->after_crash = rc == 0 && st == OPEN_DIRTY;   /* never when a state is accepted */
		if (rc == 0 && st == OPEN_CLEAN) {
			rc = clean_state_holds(h, &rec, why, sizeof why);
			skip = skip || rc == 0;
		}
		if (rc == -ESTALE && accept) {
			rfs_log(LOG_WARNING, "history: %s; accepted on purpose (--accept-history-state)", why);
			rc = 0;
		}
		refused = rc == -ESTALE;
		if (rc == 0) {               /* from here on a crash is a crash: the record says so */
			int wrc = write_head_record(h, false, NULL);
			RFS_FAULT_POINT("head_written", v->dirfd);
			if (wrc < 0)
				rfs_log(LOG_WARNING, "history: cannot mark %s/%s as open: %s", v->path,
				        RFS_HISTORY_DIR, strerror(-wrc));
		}
		if (rc == 0 && (rc = rfs_index_sync(h)) < 0)
			what = "cannot update the history index of";
		if (rc == 0 && !skip && (rc = rfs_h_recover(h)) < 0)
			what = "cannot bring history in line with live/ in";
		if (disk_full(rc) && !skip) {
			/* A full disk must not lock people out: live/ is whole; history
			** catches up as soon as there is room (never marked clean before). */
			rfs_log(LOG_WARNING, "history: %s %s/%s: %s; history will catch up with live/ as soon "
			        "as there is room", what, v->path, RFS_HISTORY_DIR, strerror(-rc));
			h->error = rc;
			h->behind = true;
			rc = 0;
		}
		if (flags & RFS_HISTORY_NO_RECOVERY)
			h->behind = true;        /* recovery skipped: catch up while mounted */
		if (rc == 0)
			rc = -pthread_create(&h->packer, NULL, packer, h);
		h->packer_started = rc == 0;
		if (rc == 0)
			rc = -pthread_create(&h->thread, NULL, committer, h);
		h->thread_started = rc == 0;
	}
	if (rc < 0 && refused) {
		if (err)
			snprintf(err, errsz, "history of %s/%s: %s; run 'recfs verify %s' to see what changed, "
			         "then mount with --accept-history-state to accept this state on purpose",
			         v->path, RFS_HISTORY_DIR, why, v->path);
		rfs_history_close(h);
		return rc;
	}
	if (rc < 0) {
		if (err)
			snprintf(err, errsz, "%s %s/%s: %s%s", what, v->path, RFS_HISTORY_DIR, strerror(-rc),
			         rc == -ENOENT ? " (no history yet: mount the vault once)" : "");
		rfs_history_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void rfs_history_close(struct rfs_history *h)
{
	if (!h)
		return;
	if (h->thread_started) {
		rfs_history_flush(h);
		pthread_mutex_lock(&h->q_lock);
		h->stop = true;
		pthread_cond_signal(&h->q_cond);
		pthread_mutex_unlock(&h->q_lock);
		pthread_join(h->thread, NULL);
		mark_clean(h);
	}
	if (h->packer_started) {            /* after the committer: it may still ask for a merge */
		pthread_mutex_lock(&h->q_lock);
		h->packer_stop = true;
		pthread_cond_signal(&h->pack_cond);
		pthread_mutex_unlock(&h->q_lock);
		pthread_join(h->packer, NULL);
	}
	while (h->q_head) {
		struct rfs_pending *next = h->q_head->next;
		pending_free(h, h->q_head);
		h->q_head = next;
	}
	rfs_bytes_free(&h->index_pending);
	rfs_tree_cache_free(h->tcache);
	git_odb_free(h->odb);
	git_repository_free(h->repo);
	if (h->side_fd >= 0)
		close(h->side_fd);
	free(h->packdir);
	free(h->login);
	free(h->full_name);
	free(h->host);
	pthread_mutex_destroy(&h->git_lock);
	pthread_mutex_destroy(&h->pack_lock);
	pthread_mutex_destroy(&h->q_lock);
	pthread_cond_destroy(&h->q_cond);
	pthread_cond_destroy(&h->q_done);
	pthread_cond_destroy(&h->pack_cond);
	pthread_cond_destroy(&h->cap_cond);
	free(h);
	git_libgit2_shutdown();
}

int rfs_history_set_attribution(struct rfs_history *h, const struct rfs_who *who, int64_t when)
{
	if (!h || !h->stage || !who)
		return -EINVAL;
	int rc = rfs_history_flush(h);
	if (rc < 0)
		return rc;
	char *login = dup_who(who->login, "unknown"), *full = dup_who(who->full_name, "");
	char *host = dup_who(who->host, "unknown");
	if (!login || !full || !host) {
		free(login);
		free(full);
		free(host);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->git_lock);   /* the committer reads these under it */
	free(h->login);
	free(h->full_name);
	free(h->host);
	h->login = login;
	h->full_name = full;
	h->host = host;
	h->fixed_time = when;
	pthread_mutex_unlock(&h->git_lock);
	return 0;
}

int rfs_history_head(struct rfs_history *h, char rev[RFS_REV_HEX + 1], uint64_t *seq)
{
	pthread_mutex_lock(&h->git_lock);
	int rc = h->head_seq ? 0 : -ENOENT;
	if (rc == 0) {
		git_oid_tostr(rev, RFS_REV_HEX + 1, &h->head);
		if (seq)
			*seq = h->head_seq;
	}
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

const char *rfs_save_kind_name(enum rfs_save_kind kind)
{
	static const char *const names[] = {
		[RFS_SAVE_CREATED] = "created", [RFS_SAVE_SAVED] = "saved",
		[RFS_SAVE_RENAMED] = "renamed", [RFS_SAVE_DELETED] = "deleted",
		[RFS_SAVE_RESTORED] = "restored", [RFS_SAVE_MODE] = "mode changed",
		[RFS_SAVE_PROPERTY] = "property changed", [RFS_SAVE_EXCHANGED] = "exchanged",
		[RFS_SAVE_RECOVERED] = "recovered",
	};
	return kind >= RFS_SAVE_CREATED && kind <= RFS_SAVE_RECOVERED ? names[kind] : "unknown";
}
