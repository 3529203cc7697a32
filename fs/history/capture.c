/*
** capture: ciphertext from live/ into the stage. A save's file, folder or
** symlink becomes blobs (a chunked file: only the chunks a save wrote) and
** the trees that hold them, staged for the next commit.
** Must never: read plaintext, take the queue's decisions (queue.c), or write
** a commit.
*/
#include "fs/history/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/io.h"
#include "crypto/names.h"

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
int rfs_capture_open_live(struct rfs_history *h, const char *cpath, int flags)
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

int rfs_capture_stat_live(struct rfs_history *h, const char *cpath, struct stat *st)
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

ssize_t rfs_capture_readlink_live(struct rfs_history *h, const char *cpath, char *buf, size_t len)
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
int rfs_capture_write_blob(struct rfs_history *h, const void *data, size_t len, git_oid *oid)
{
	rfs_sha1_object_id(oid, GIT_OBJECT_BLOB, data, len);
	if (h->hash_only)                    /* verify: compare, never store */
		return 0;
	if (!h->stage)
		return git_odb_write(oid, h->odb, data, len, GIT_OBJECT_BLOB) < 0 ? -EIO : 0;
	int rc = rfs_stage_put_new(h->stage, oid, GIT_OBJECT_BLOB, data, len);
	return rc == 0 && rfs_stage_bytes(h->stage) > SPILL_BYTES ? rfs_stage_spill(h->stage) : rc;
}

uint64_t rfs_capture_chunk_count(const struct rfs_history *h, uint64_t size)
{
	uint64_t first = RFS_HEADER_SIZE + h->chunk_bytes;
	return size <= first ? 1 : 1 + (size - first + h->chunk_bytes - 1) / h->chunk_bytes;
}

/* Chunk k covers [start, start+len) of the ciphertext: chunk 0 carries the header. */
void rfs_capture_chunk_span(const struct rfs_history *h, uint64_t k, uint64_t size, uint64_t *start,
                            size_t *len)
{
	uint64_t s = k == 0 ? 0 : RFS_HEADER_SIZE + k * h->chunk_bytes;
	uint64_t e = RFS_HEADER_SIZE + (k + 1) * h->chunk_bytes;
	if (e > size)
		e = size;
	*start = s;
	*len = (size_t)(e > s ? e - s : 0);
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
		rfs_sha1_object_id(&h->hole_oid, GIT_OBJECT_BLOB, buf, len);
		h->hole_len = len;
		h->hole_known = true;
	}
	*oid = h->hole_oid;
	if (h->hash_only || git_odb_exists(h->odb, oid))
		return 0;                        /* not cached as written: gc may drop it */
	memset(buf, 0, len);
	return rfs_capture_write_blob(h, buf, len, oid);
}

int rfs_capture_chunk(struct rfs_history *h, int fd, uint64_t size, uint64_t k, uint8_t *buf,
                      git_oid *oid)
{
	uint64_t start;
	size_t len;
	rfs_capture_chunk_span(h, k, size, &start, &len);
	if (len && span_is_hole(fd, start, len))
		return hole_blob(h, buf, len, oid);
	int rc = rfs_io_pread_all(fd, buf, len, start);
	return rc < 0 ? rc : rfs_capture_write_blob(h, buf, len, oid);
}

/* A save of this many bytes or more goes straight into a pack of its own:
** staged, its chunks would sit in memory until the stage spills, and many
** small spills of one big save would be merged over and over. */
#define STREAM_BYTES (8u << 20)

/* The chunks a stream packed while the file was written (stream.c), and the
** rest after them into its spool. -ENOENT: no stream fits; another failure
** left nothing: the caller captures every chunk itself. */
static int stream_rest(struct rfs_history *h, int fd, uint64_t size, const uint64_t *idx,
                       size_t n, uint8_t *buf, git_oid *oids)
{
	struct rfs_pack_stream *s;
	size_t have;
	int rc = rfs_stream_take(h, fd, idx, n, oids, &s, &have);
	if (rc < 0)
		return rc;
	for (size_t i = have; i < n && rc == 0; i++) {
		uint64_t start;
		size_t len;
		rfs_capture_chunk_span(h, idx ? idx[i] : i, size, &start, &len);
		if (len && span_is_hole(fd, start, len)) {
			rc = hole_blob(h, buf, len, &oids[i]);
		} else if ((rc = rfs_io_pread_all(fd, buf, len, start)) == 0) {
			rfs_sha1_object_id(&oids[i], GIT_OBJECT_BLOB, buf, len);
			rc = rfs_pack_spool_put(s, &oids[i], GIT_OBJECT_BLOB, buf, len);
		}
	}
	bool keep = rc == 0 && rfs_pack_spool_count(s) > 0;
	int crc = rfs_pack_stream_close(s, keep);
	return rc ? rc : keep ? crc : -ENOENT;
}

/* Chunks idx[0..n) (NULL: 0..n-1) of the file, their blob ids into oids. */
static int capture_chunks(struct rfs_history *h, int fd, uint64_t size, const uint64_t *idx,
                          size_t n, uint8_t *buf, git_oid *oids)
{
	int rc = 0;
	if (n * h->chunk_bytes < STREAM_BYTES || !h->stage || h->hash_only || !h->packs) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = rfs_capture_chunk(h, fd, size, idx ? idx[i] : i, buf, &oids[i]);
		return rc;
	}
	if (stream_rest(h, fd, size, idx, n, buf, oids) == 0)
		return 0;
	bool *hole = calloc(n, sizeof *hole);
	if (!hole)
		return -ENOMEM;
	size_t data = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t start;
		size_t len;
		rfs_capture_chunk_span(h, idx ? idx[i] : i, size, &start, &len);
		hole[i] = len && span_is_hole(fd, start, len);
		data += !hole[i];
	}
	struct rfs_pack_stream *s = NULL;
	rc = data ? rfs_pack_stream_open(h->packs, data, &s) : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t start;
		size_t len;
		rfs_capture_chunk_span(h, idx ? idx[i] : i, size, &start, &len);
		if (hole[i]) {
			rc = hole_blob(h, buf, len, &oids[i]);
		} else if ((rc = rfs_io_pread_all(fd, buf, len, start)) == 0) {
			rfs_sha1_object_id(&oids[i], GIT_OBJECT_BLOB, buf, len);
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

int rfs_capture_marker_oid(struct rfs_history *h, git_oid *oid)
{
	return rfs_capture_write_blob(h, RFS_CHUNK_MARKER_TEXT, sizeof RFS_CHUNK_MARKER_TEXT - 1, oid);
}

/* The chunk tree of a file whose every chunk is in oids[0..n). */
int rfs_capture_chunk_tree_of(struct rfs_history *h, const git_oid *oids, uint64_t n, git_oid *out)
{
	git_oid mk;
	int rc = rfs_capture_marker_oid(h, &mk);
	if (rc == 0)
		rc = rfs_tree_chunk_update(h, NULL, n, NULL, oids, (size_t)n, &mk, NULL, NULL, out);
	return rc;
}

static int capture_file_whole(struct rfs_history *h, int fd, struct rfs_capture *cap)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t n = rfs_capture_chunk_count(h, size);
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
		rc = rfs_capture_chunk(h, fd, size, 0, buf, &cap->oid);
	} else {
		git_oid *oids = calloc((size_t)n, sizeof *oids);
		cap->mode = GIT_FILEMODE_TREE;
		rc = oids ? capture_chunks(h, fd, size, NULL, (size_t)n, buf, oids) : -ENOMEM;
		if (rc == 0)
			rc = rfs_capture_chunk_tree_of(h, oids, n, &cap->oid);
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
bool rfs_capture_chunked_v2(struct rfs_history *h, const git_oid *tree)
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
int rfs_capture_version_size(struct rfs_history *h, const git_tree_entry *e, uint64_t *csize)
{
	size_t len;
	git_object_t type;
	if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		return git_odb_read_header(&len, &type, h->odb, git_tree_entry_id(e)) == 0 ? (*csize = len, 0)
		                                                                         : -EIO;
	unsigned depth;
	uint64_t n;
	git_oid last;
	if (!rfs_capture_chunked_v2(h, git_tree_entry_id(e)) ||
	    rfs_tree_chunk_shape(h, git_tree_entry_id(e), &depth, &n, &last) < 0 ||
	    git_odb_read_header(&len, &type, h->odb, &last) < 0)
		return -EIO;
	*csize = n < 2 ? len : RFS_HEADER_SIZE + (n - 1) * h->chunk_bytes + len;
	return 0;
}

/* Only the chunks holding the written blocks, and those the size change
** moved (from the old or new end, whichever is first, to the new end); the
** rest is the previous version's, reused at commit time. prev: the
** previous version's ciphertext size, UINT64_MAX when unknown (all chunks). */
int rfs_capture_file_ranges(struct rfs_history *h, int fd, const struct rfs_range *ranges,
                            size_t nranges, uint64_t prev, struct rfs_capture *cap)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t n = rfs_capture_chunk_count(h, size);
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
	cap->uses_prev = true;
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
	ssize_t n = rfs_capture_readlink_live(h, cpath, target, sizeof target);
	if (n < 0)
		return (int)n;
	cap->state = CAP_ENTRY;
	cap->mode = GIT_FILEMODE_LINK;
	return rfs_capture_write_blob(h, target, (size_t)n, &cap->oid);
}

static int capture_dir(struct rfs_history *h, const char *cpath, git_oid *out);

char *rfs_capture_child(const char *cpath, const char *name)
{
	size_t len = strlen(cpath) + strlen(name) + 2;
	char *child = malloc(len);
	if (child)
		snprintf(child, len, "%s%s%s", cpath, cpath[0] ? "/" : "", name);
	return child;
}

/* Capture whatever is at cpath in live/ whole: file, folder (recursively) or symlink. */
int rfs_capture_entry(struct rfs_history *h, int fd, const char *cpath, struct rfs_capture *cap)
{
	struct stat st;
	int src = fd >= 0 ? (fstat(fd, &st) < 0 ? -errno : 0) : rfs_capture_stat_live(h, cpath, &st);
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
	int own = fd < 0 ? rfs_capture_open_live(h, cpath, 0) : fd;
	if (own < 0)
		return own;
	int rc = capture_file_whole(h, own, cap);
	if (fd < 0)
		close(own);
	return rc;
}

/* The attributes of the object at path in live/ as the side entry name of bld (none: no entry). */
static int capture_xattrs(struct rfs_history *h, const char *path, git_treebuilder *bld,
                          const char *name)
{
	uint8_t *blob;
	size_t len;
	git_oid oid;
	int rc = rfs_xattrs_from_live(path, &blob, &len);
	if (rc == 0 && blob && (rc = rfs_capture_write_blob(h, blob, len, &oid)) == 0 &&
	    git_treebuilder_insert(NULL, bld, name, &oid, GIT_FILEMODE_BLOB) < 0)
		rc = -EIO;
	free(blob);
	return rc;
}

/* A folder's own attributes, and each of its files' beside it; the root also
** holds the marker that says this history keeps them (docs/HISTORY.md). */
int rfs_capture_dir_xattrs(struct rfs_history *h, DIR *d, const char *cpath,
                           git_treebuilder *bld)
{
	char path[64 + 300], side[sizeof RFS_XATTRS_SIDE + 256];
	git_oid oid;
	snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd(d));
	int rc = capture_xattrs(h, path, bld, RFS_XATTRS_SIDE);
	if (rc == 0 && !cpath[0] &&
	    ((rc = rfs_capture_write_blob(h, RFS_XATTRS_MAGIC, sizeof RFS_XATTRS_MAGIC - 1, &oid)) < 0 ||
	     git_treebuilder_insert(NULL, bld, RFS_XATTRS_MARKER, &oid, GIT_FILEMODE_BLOB) < 0))
		rc = rc < 0 ? rc : -EIO;
	rewinddir(d);
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' && (!rfs_name_is_long(de->d_name) || rfs_name_is_internal(de->d_name)))
			continue;                    /* ".", "..", .dirid, a long name's .n */
		if (de->d_type != DT_REG && (de->d_type != DT_UNKNOWN ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd(d), de->d_name);
		snprintf(side, sizeof side, "%s%s", RFS_XATTRS_SIDE, de->d_name);
		rc = capture_xattrs(h, path, bld, side);
	}
	return rc;
}

static int capture_dir(struct rfs_history *h, const char *cpath, git_oid *out)
{
	int dfd = rfs_capture_open_live(h, cpath, O_DIRECTORY);
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
		char *child = rfs_capture_child(cpath, de->d_name);
		if (!child) {
			rc = -ENOMEM;
			break;
		}
		struct rfs_capture cap = { 0 };
		rc = rfs_capture_entry(h, -1, child, &cap);
		free(child);
		if (rc == -EPERM) {              /* not recordable (e.g. a FIFO): skip */
			rc = 0;
			continue;
		}
		if (rc == 0 && git_treebuilder_insert(NULL, bld, de->d_name, &cap.oid, cap.mode) < 0)
			rc = -EIO;
	}
	if (rc == 0 && h->keep_xattrs)
		rc = rfs_capture_dir_xattrs(h, d, cpath, bld);
	closedir(d);
	if (rc == 0 && git_treebuilder_write(out, bld) < 0)
		rc = -EIO;
	git_treebuilder_free(bld);
	return rc;
}

bool rfs_capture_path_is_long(const char *cpath)
{
	const char *base = strrchr(cpath, '/');
	return rfs_name_is_long(base ? base + 1 : cpath);
}

char *rfs_capture_side_path(const char *cpath)
{
	size_t n = strlen(cpath) + sizeof RFS_LONG_SUFFIX;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s", cpath, RFS_LONG_SUFFIX);
	return s;
}

int rfs_capture_side(struct rfs_history *h, const char *cpath, struct rfs_capture *cap)
{
	if (!cpath || !rfs_capture_path_is_long(cpath))
		return 0;
	char *sp = rfs_capture_side_path(cpath);
	if (!sp)
		return -ENOMEM;
	struct rfs_capture side = { 0 };
	int rc = rfs_capture_entry(h, -1, sp, &side);
	free(sp);
	if (rc == 0) {
		cap->has_side = true;
		cap->side = side.oid;
	}
	return rc;
}

/* ---- small saves read by the queue without the lock, staged here by the committer ---- */

void rfs_capture_blob_release(struct rfs_history *h, struct rfs_pending *p)
{
	if (!p->blob)
		return;
	__atomic_sub_fetch(&h->blob_bytes, p->blob_len, __ATOMIC_ACQ_REL);
	free(p->blob);
	p->blob = NULL;
}

/* A small file of several chunks read whole: its chunk blobs and tree. */
static int stage_small_chunked(struct rfs_history *h, struct rfs_pending *p)
{
	uint64_t n = rfs_capture_chunk_count(h, p->blob_len);
	git_oid *oids = calloc((size_t)n, sizeof *oids);
	int rc = oids ? 0 : -ENOMEM;
	for (uint64_t k = 0; k < n && rc == 0; k++) {
		uint64_t start;
		size_t len;
		rfs_capture_chunk_span(h, k, p->blob_len, &start, &len);
		rc = rfs_capture_write_blob(h, p->blob + start, len, &oids[k]);
	}
	if (rc == 0)
		rc = rfs_capture_chunk_tree_of(h, oids, n, &p->cap.oid);
	free(oids);
	return rc;
}

/* A folder just made (capture_fresh_folder): the tree capture_dir makes of it, one entry,
** .dirid, a blob of its 16 bytes. Its own attributes: none yet, so no side entry. */
static int stage_fresh_folder(struct rfs_history *h, struct rfs_pending *p)
{
	git_treebuilder *bld = NULL;
	git_oid oid;
	int rc = rfs_capture_write_blob(h, p->blob, p->blob_len, &oid);
	if (rc == 0 && git_treebuilder_new(&bld, h->repo, NULL) < 0)
		rc = -EIO;
	if (rc == 0 && (git_treebuilder_insert(NULL, bld, RFS_DIRID_FILE, &oid, GIT_FILEMODE_BLOB) < 0 ||
	                git_treebuilder_write(&p->cap.oid, bld) < 0))
		rc = -EIO;
	git_treebuilder_free(bld);
	return rc;
}

/* With the repository lock: every small blob of the batch into the stage. */
int rfs_capture_stage_small(struct rfs_history *h, struct rfs_pending *batch, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++, batch = batch->next) {
		if (batch->blob && rc == 0 && batch->fresh_folder)
			rc = stage_fresh_folder(h, batch);
		else if (batch->blob && rc == 0 && batch->cap.mode == GIT_FILEMODE_TREE)
			rc = stage_small_chunked(h, batch);
		else if (batch->blob && rc == 0) {
			rfs_sha1_object_id(&batch->cap.oid, GIT_OBJECT_BLOB, batch->blob, batch->blob_len);
			rc = rfs_stage_put_new(h->stage, &batch->cap.oid, GIT_OBJECT_BLOB, batch->blob,
			                       batch->blob_len);
		}
		rfs_capture_blob_release(h, batch);
	}
	return rc;
}
