/*
** index: history.git/recfs/index, the keyed event index behind a fast `log PATH`
** and the enumeration of a folder's subtree for a disposal.
**
** An append-only file: magic "RFSIDX1\n" (vault format 2) or "RFSIDX2\n"
** (format 3), then one record per event:
**   u32le len | u8 ntags | ntags * tag[16] | nonce[24] | XChaCha20-Poly1305(payload)
** v1 tags: BLAKE2b-128(keys->index, "p" || clear path) for the path and the
** old path of a rename, "f" || file id. v2 tags: "d" || parent dirid (and the
** old parent's), "f" || file id under keys->index, "p" || path under the
** parent folder's tag key. The payload is the commit id, its sealed-record
** header and the event (v2: with its sealed paths). Lookups go through a hash
** of every tag. Derived data: rebuilt from history when missing or damaged,
** caught up when behind the ref. Beside it, index.tags: the same lookups on
** the disk, so that the daemon's `log PATH` reads its path's events only.
** Must never: hold a clear path or anything but keyed tags in clear, or tag
** a path of format 3 under a key that outlives its folder.
*/
#include "fs/history/internal.h"
#include "crypto/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/seal.h"
#include "crypto/secmem.h"
#include "crypto/tag.h"

#define INDEX_FILE "index"
#define TAGS_FILE "index.tags"              /* the tag table on disk (below) */
#define TAGS_MAGIC "RFSTAGS1"
#define INDEX_MAGIC "RFSIDX1\n"              /* vault format 2 */
#define INDEX_MAGIC_V2 "RFSIDX2\n"           /* vault format 3 */
#define TAG 16
#define NONCE RFS_SEAL_NONCE
#define MAC RFS_SEAL_TAG

static void tag_with(const uint8_t key[32], char kind, const void *data, size_t len, uint8_t out[TAG])
{
	struct rfs_tag t;
	rfs_tag_init(&t, key, 32, TAG);
	rfs_tag_update(&t, &kind, 1);
	rfs_tag_update(&t, data, len);
	rfs_tag_final(&t, out);
}

static void tag_of(struct rfs_history *h, char kind, const void *data, size_t len, uint8_t out[TAG])
{
	tag_with(h->v->keys->index, kind, data, len, out);
}

/* v2: the tag of a clear path under its parent folder's tag key. 0 or -ENOENT (key gone). */
static int path_tag(struct rfs_history *h, const uint8_t dir[16], const char *path, uint8_t out[TAG])
{
	struct rfs_folder_key fk;
	int rc = rfs_record_folder_key(h->v, dir, RFS_HKEY_TAG, &fk);
	if (rc < 0)
		return rc;
	tag_with(fk.key, 'p', path, strlen(path), out);
	rfs_record_folder_key_put(h->v, &fk);
	return 0;
}

static bool id_is_zero(const uint8_t id[16])
{
	return rfs_record_id_is_zero(id);
}

static uint8_t index_version(struct rfs_history *h)
{
	return rfs_record_version_of(h->v);
}

/* The tags of event e. v1: "p" path, "p" old path, "f" id, under the index key.
** v2: "d" parent dirid (first: always there), "d" old parent, "f" id under the
** index key, then "p" path and old path under their folders' tag keys (left
** out when a folder's key is gone). */
static size_t event_tags(struct rfs_history *h, const struct rfs_event *e, uint8_t tags[5][TAG])
{
	size_t n = 0;
	bool old = e->path_old && (e->path_old[0] || e->spath_old.p);
	if (index_version(h) == RFS_RECORD_VERSION_2) {
		tag_of(h, 'd', e->dir, 16, tags[n++]);
		if (old && memcmp(e->dir_old, e->dir, 16))
			tag_of(h, 'd', e->dir_old, 16, tags[n++]);
		if (!id_is_zero(e->file_id))
			tag_of(h, 'f', e->file_id, 16, tags[n++]);
		if (!e->destroyed && e->path[0] && path_tag(h, e->dir, e->path, tags[n]) == 0)
			n++;
		if (old && !e->destroyed_old && e->path_old[0] &&
		    path_tag(h, e->dir_old, e->path_old, tags[n]) == 0)
			n++;
		return n;
	}
	tag_of(h, 'p', e->path, strlen(e->path), tags[n++]);
	if (old)
		tag_of(h, 'p', e->path_old, strlen(e->path_old), tags[n++]);
	if (!id_is_zero(e->file_id))
		tag_of(h, 'f', e->file_id, 16, tags[n++]);
	return n;
}

static void encode_event(struct rfs_history *h, struct rfs_bytes *out, const git_oid *rev,
                         const struct rfs_record *r, size_t i)
{
	const struct rfs_event *e = &r->events[i];
	struct rfs_bytes pl = { 0 };
	rfs_bytes_put(&pl, rev->id, GIT_OID_RAWSZ);
	rfs_bytes_u64(&pl, r->seq);
	rfs_record_who_encode(&pl, r);
	rfs_bytes_u32(&pl, (uint32_t)i);
	rfs_bytes_u32(&pl, (uint32_t)r->nevents);
	rfs_record_event_encode(&pl, e, index_version(h));
	if (pl.err) {
		out->err = pl.err;
		rfs_bytes_free(&pl);
		return;
	}
	uint8_t tags[5][TAG];
	uint8_t ntags = (uint8_t)event_tags(h, e, tags);
	size_t ctlen = pl.len + MAC;
	uint8_t *ct = malloc(NONCE + ctlen);
	if (!ct) {
		out->err = -ENOMEM;
		rfs_bytes_free(&pl);
		return;
	}
	rfs_seal(ct, pl.p, pl.len, tags[0], TAG, h->v->keys->index);
	rfs_bytes_free(&pl);
	rfs_bytes_u32(out, (uint32_t)(1 + ntags * TAG + NONCE + ctlen));
	rfs_bytes_u8(out, ntags);
	rfs_bytes_put(out, tags, (size_t)ntags * TAG);
	rfs_bytes_put(out, ct, NONCE + ctlen);
	free(ct);
}

int rfs_index_encode_commit(struct rfs_history *h, struct rfs_bytes *b, const git_oid *rev,
                            const struct rfs_record *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		encode_event(h, b, rev, r, i);
	return b->err;
}

/* One parsed record. */
struct irec {
	const uint8_t *p;                 /* the ntags byte */
	size_t len;
};

struct index_view {
	struct rfs_bytes file;            /* the file's bytes, then caught-up records */
	struct irec *recs;
	size_t n, cap;
	size_t valid_len;                 /* bytes of the file up to the last whole record */
	bool damaged;
};

static int view_parse(struct index_view *iv, size_t from)
{
	size_t off = from;
	while (off + 4 <= iv->file.len) {
		const uint8_t *p = iv->file.p + off;
		size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
		if (len < 1 + NONCE + MAC || off + 4 + len > iv->file.len)
			break;
		size_t ntags = p[4];
		if (!ntags || 1 + ntags * TAG + NONCE + MAC > len) {
			iv->damaged = true;
			break;
		}
		if (rfs_bytes_grow(&iv->recs, &iv->cap, iv->n, sizeof *iv->recs, 1024) < 0)
			return -ENOMEM;
		iv->recs[iv->n++] = (struct irec){ p + 4, len };
		off += 4 + len;
	}
	iv->valid_len = off;
	return 0;
}

/* Decrypt record i into r (one event) and its commit id; v2 with paths: its
** sealed paths opened too (a destroyed folder's are ""). 0 or -EIO. */
static int view_open_as(struct rfs_history *h, const struct irec *x, git_oid *rev, struct rfs_record *r,
                        bool paths)
{
	size_t ntags = x->p[0];
	const uint8_t *nonce = x->p + 1 + ntags * TAG;
	size_t ctlen = x->len - 1 - ntags * TAG - NONCE;
	uint8_t *pl = malloc(ctlen);
	if (!pl)
		return -ENOMEM;
	memset(r, 0, sizeof *r);
	if (rfs_seal_open(pl, nonce, NONCE + ctlen, x->p + 1, TAG, h->v->keys->index) != 0) {
		free(pl);
		return -EIO;
	}
	struct rfs_reader rd = { pl, ctlen - MAC, 0, 0 };
	rfs_bytes_read(&rd, rev->id, GIT_OID_RAWSZ);
	r->seq = rfs_bytes_read_u64(&rd);
	rfs_record_who_decode(&rd, r);
	rfs_bytes_read_u32(&rd);
	rfs_bytes_read_u32(&rd);
	r->version = index_version(h);
	r->events = calloc(1, sizeof *r->events);
	if (r->events && !rd.err && rfs_record_event_decode(&rd, r->events, r->version) == 0)
		r->nevents = 1;
	else
		rd.err = rd.err ? rd.err : -EIO;
	if (!rd.err && paths && r->version == RFS_RECORD_VERSION_2)
		rd.err = rfs_record_paths_open(h->v, r->events);
	rfs_secmem_wipe(pl, ctlen);
	free(pl);
	if (rd.err)
		rfs_record_clear(r);
	return rd.err;
}

static int view_open(struct rfs_history *h, const struct irec *x, git_oid *rev, struct rfs_record *r)
{
	return view_open_as(h, x, rev, r, true);
}

static void view_free(struct index_view *iv)
{
	rfs_bytes_free(&iv->file);
	free(iv->recs);
}

static int read_index_file(struct rfs_history *h, struct rfs_bytes *b)
{
	if (h->side_fd < 0)
		return -ENOENT;
	int fd = openat(h->side_fd, INDEX_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (rc == 0) {
		size_t want = (size_t)st.st_size;
		uint8_t *p = malloc(want ? want : 1);
		size_t got = 0;
		while (p && got < want) {
			ssize_t n = read(fd, p + got, want - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (!p)
			rc = -ENOMEM;
		else {
			b->p = p;
			b->len = got;
			b->cap = want ? want : 1;
		}
	}
	close(fd);
	return rc;
}

/* Append the commits after `from` (all commits when NULL) up to the ref. */
static int encode_since(struct rfs_history *h, const git_oid *from, struct rfs_bytes *out)
{
	if (!h->have_ref)
		return 0;
	git_revwalk *w = NULL;
	if (git_revwalk_new(&w, h->repo) < 0)
		return -EIO;
	git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	int rc = git_revwalk_push(w, &h->ref_head) < 0 ? -EIO : 0;
	if (rc == 0 && from && git_revwalk_hide(w, from) < 0)
		rc = -ESTALE;
	git_oid oid;
	while (rc == 0 && git_revwalk_next(&oid, w) == 0) {
		struct rfs_record r;
		if (rfs_objects_read_record(h, &oid, &r) < 0)
			continue;                    /* verify reports it; the index skips it */
		rc = rfs_index_encode_commit(h, out, &oid, &r);
		rfs_record_clear(&r);
	}
	git_revwalk_free(w);
	return rc;
}

/* Load the index and bring it up to the ref in memory. *fresh tells the
** caller the file must be rewritten whole rather than appended to. */
static int view_load(struct rfs_history *h, struct index_view *iv, size_t *file_len, bool *fresh)
{
	memset(iv, 0, sizeof *iv);
	*fresh = false;
	int rc = read_index_file(h, &iv->file);
	const char *magic = index_version(h) == RFS_RECORD_VERSION_2 ? INDEX_MAGIC_V2 : INDEX_MAGIC;
	if (rc == 0 && (iv->file.len < 8 || memcmp(iv->file.p, magic, 8)))
		rc = -EBADMSG;
	if (rc == 0)
		rc = view_parse(iv, 8);
	git_oid last;
	bool have_last = false;
	if (rc == 0 && iv->n && !iv->damaged) {
		struct rfs_record r;
		if (view_open_as(h, &iv->recs[iv->n - 1], &last, &r, false) == 0) {
			have_last = r.events[0].kind != 0 && git_odb_exists(h->odb, &last);
			rfs_record_clear(&r);
		}
		if (!have_last)
			iv->damaged = true;
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || iv->damaged) {         /* missing or damaged: rebuild from history */
		view_free(iv);
		memset(iv, 0, sizeof *iv);
		rfs_bytes_put(&iv->file, magic, 8);
		iv->valid_len = 8;
		*fresh = true;
		have_last = false;
	}
	*file_len = iv->valid_len;
	iv->file.len = iv->valid_len;
	if (have_last && h->have_ref && git_oid_equal(&last, &h->ref_head))
		return 0;
	rc = encode_since(h, have_last ? &last : NULL, &iv->file);
	if (rc == -ESTALE) {                 /* the index saw commits the ref no longer has */
		iv->file.len = 8;
		*file_len = 8;
		*fresh = true;
		iv->n = 0;
		rc = encode_since(h, NULL, &iv->file);
	}
	if (rc == 0) {
		iv->n = 0;
		rc = view_parse(iv, 8);
	}
	return rc ? rc : iv->file.err;
}


int rfs_index_append(struct rfs_history *h, const struct rfs_bytes *b)
{
	if (!b->len)
		return b->err;
	int fd = openat(h->side_fd, INDEX_FILE, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = rfs_io_write_all(fd, b->p, b->len);
	close(fd);
	return rc;
}

static int sync_from_tags(struct rfs_history *h);

int rfs_index_sync(struct rfs_history *h)
{
	if (sync_from_tags(h) == 0)
		return 0;                        /* read only what index.tags does not cover */
	struct index_view iv;
	size_t file_len;
	bool fresh;
	int rc = view_load(h, &iv, &file_len, &fresh);
	if (rc == 0 && fresh) {
		rfs_index_tags_close(h);
		unlinkat(h->side_fd, TAGS_FILE, 0);   /* it spoke of the old file */
		int fd = openat(h->side_fd, INDEX_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		rc = fd < 0 ? -errno : rfs_io_write_all(fd, iv.file.p, iv.file.len);
		if (fd >= 0)
			close(fd);
		if (rc == 0 && renameat(h->side_fd, INDEX_FILE ".tmp", h->side_fd, INDEX_FILE) < 0)
			rc = -errno;
	} else if (rc == 0 && iv.file.len > file_len) {
		int fd = openat(h->side_fd, INDEX_FILE, O_WRONLY | O_CLOEXEC);
		rc = fd < 0 ? -errno : 0;
		if (rc == 0 && ftruncate(fd, (off_t)file_len) < 0)
			rc = -errno;
		if (rc == 0 && lseek(fd, 0, SEEK_END) >= 0)
			rc = rfs_io_write_all(fd, iv.file.p + file_len, iv.file.len - file_len);
		if (fd >= 0)
			close(fd);
	}
	view_free(&iv);
	return rc;
}

static bool rec_has(const struct irec *x, const uint8_t tag[TAG])
{
	for (size_t t = 0; t < x->p[0]; t++)
		if (!memcmp(x->p + 1 + t * TAG, tag, TAG))
			return true;
	return false;
}

/* ---- hashed lookups: every tag of every record, by tag ----
** Tags are keyed hashes, so their first bytes are the hash. One slot per
** distinct tag (open addressing) heads a chain of the (record, tag number)
** entries that carry it, so a tag shared by many events costs one probe. */
struct tag_table {
	uint32_t *slot;                   /* entry index + 1 of the chain's head; 0 = empty */
	size_t mask;
	uint64_t *entry;                  /* record index << 8 | tag number */
	uint32_t *next;                   /* entry index + 1 of the next in the chain; 0 = end */
};

static uint64_t tag_hash(const uint8_t *t)
{
	uint64_t v;
	memcpy(&v, t, sizeof v);
	return v;
}

static const uint8_t *entry_tag(const struct index_view *iv, uint64_t e)
{
	return iv->recs[e >> 8].p + 1 + (e & 0xff) * TAG;
}

static void table_free(struct tag_table *tt)
{
	free(tt->slot);
	free(tt->entry);
	free(tt->next);
	memset(tt, 0, sizeof *tt);
}

/* The slot of tag: where it is, or the empty one where it would go. */
static size_t table_slot(const struct index_view *iv, const struct tag_table *tt, const uint8_t *tag)
{
	size_t k = tag_hash(tag) & tt->mask;
	while (tt->slot[k] && memcmp(entry_tag(iv, tt->entry[tt->slot[k] - 1]), tag, TAG))
		k = (k + 1) & tt->mask;
	return k;
}

static int table_build(const struct index_view *iv, struct tag_table *tt)
{
	size_t ntags = 0;
	for (size_t i = 0; i < iv->n; i++)
		ntags += iv->recs[i].p[0];
	size_t size = 16;
	while (size < ntags + ntags / 2 + 1)
		size *= 2;
	memset(tt, 0, sizeof *tt);
	tt->slot = calloc(size, sizeof *tt->slot);
	tt->entry = malloc((ntags ? ntags : 1) * sizeof *tt->entry);
	tt->next = malloc((ntags ? ntags : 1) * sizeof *tt->next);
	if (!tt->slot || !tt->entry || !tt->next || ntags >= UINT32_MAX) {
		table_free(tt);
		return -ENOMEM;
	}
	tt->mask = size - 1;
	size_t n = 0;
	for (size_t i = 0; i < iv->n; i++)
		for (size_t t = 0; t < iv->recs[i].p[0]; t++, n++) {
			tt->entry[n] = (uint64_t)i << 8 | t;
			size_t k = table_slot(iv, tt, iv->recs[i].p + 1 + t * TAG);
			tt->next[n] = tt->slot[k];   /* newest first */
			tt->slot[k] = (uint32_t)n + 1;
		}
	return 0;
}

/* Record indexes holding tag, newest first, appended to *out (n used, *cap),
** the newest max distinct ones. 0 or -ENOMEM. */
static int table_find(const struct index_view *iv, const struct tag_table *tt, const uint8_t tag[TAG],
                      size_t **out, size_t *n, size_t *cap, size_t max)
{
	size_t from = *n, got = 0;
	for (uint32_t e = tt->slot[table_slot(iv, tt, tag)]; e && got < max; e = tt->next[e - 1]) {
		size_t i = (size_t)(tt->entry[e - 1] >> 8);
		if (*n > from && (*out)[*n - 1] == i)
			continue;                        /* the same record's other tag: repeats are side by side */
		if (rfs_bytes_grow(out, cap, *n, sizeof **out, 64) < 0)
			return -ENOMEM;
		(*out)[(*n)++] = i;
		got++;
	}
	return 0;
}

static int size_desc(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Sort newest first and drop repeats. */
static size_t recs_unique(size_t *v, size_t n)
{
	if (n == 0)
		return 0;                /* v may be NULL: qsort must not see it */
	qsort(v, n, sizeof *v, size_desc);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m || v[m - 1] != v[i])
			v[m++] = v[i];
	return m;
}

/* A set of 16-byte ids (folders, files), open addressing; grows. */
struct id_set {
	uint8_t (*id)[16];
	uint32_t *slot;                   /* index + 1 into id; 0 = empty */
	size_t n, cap, mask;
};

static void id_set_free(struct id_set *s)
{
	free(s->id);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

static long id_set_find(const struct id_set *s, const uint8_t id[16])
{
	if (!s->slot)
		return -1;
	for (size_t k = tag_hash(id) * 0x9e3779b97f4a7c15ull >> 32 & s->mask; s->slot[k]; k = (k + 1) & s->mask)
		if (!memcmp(s->id[s->slot[k] - 1], id, 16))
			return (long)s->slot[k] - 1;
	return -1;
}

/* The index of id in s, added when new (*added). -ENOMEM or >= 0. */
static long id_set_add(struct id_set *s, const uint8_t id[16], bool *added)
{
	long at = id_set_find(s, id);
	*added = at < 0;
	if (at >= 0)
		return at;
	if (2 * (s->n + 1) > s->mask + 1) {       /* grow the table, rehash */
		size_t size = s->slot ? 2 * (s->mask + 1) : 64;
		uint32_t *slot = calloc(size, sizeof *slot);
		if (!slot)
			return -ENOMEM;
		free(s->slot);
		s->slot = slot;
		s->mask = size - 1;
		for (size_t i = 0; i < s->n; i++) {
			size_t k = tag_hash(s->id[i]) * 0x9e3779b97f4a7c15ull >> 32 & s->mask;
			while (s->slot[k])
				k = (k + 1) & s->mask;
			s->slot[k] = (uint32_t)i + 1;
		}
	}
	if (rfs_bytes_grow(&s->id, &s->cap, s->n, sizeof *s->id, 64) < 0)
		return -ENOMEM;
	memcpy(s->id[s->n], id, 16);
	size_t k = tag_hash(id) * 0x9e3779b97f4a7c15ull >> 32 & s->mask;
	while (s->slot[k])
		k = (k + 1) & s->mask;
	s->slot[k] = (uint32_t)s->n + 1;
	return (long)s->n++;
}

/* ---- index.tags: the tag table on disk, for the daemon's lookups ----
** The table above, kept in a file beside the index so that a lookup reads a
** few slots and the chain of its own tag, not the whole index: caught up with
** the index's tail before each use and at every writable close, rebuilt whole
** when missing or not known good. Believed only when it says durable ('D': a
** close synced it with the index, or a commit's syncfs came after its last
** change); before a process changes it, it says 'V' on the disk (synced), so
** a crash or a power cut before the next sync leaves a file that is rebuilt.
**   header (TAGS_HDR bytes): magic, u64 covered (index bytes it covers), u64
**   nslots (a power of 2), u64 nentries, u64 last (offset of the last record
**   covered, 0: none), u8 state, the last record's nonce[16]
**   slots: nslots x u32: 1 + the newest entry whose tag falls in the slot (0: none)
**   entries: nentries x { u64 the tag's first 8 bytes, u64 record offset,
**   u32 1 + the next older entry of the slot (0: none), u32 0 }
** Holds nothing the index does not hold in clear (tag bytes, offsets). */

#define TAGS_HDR 64
#define TAGS_ENTRY 24
#define TAGS_SMALL 256                    /* a tail of fewer tags is added slot by slot */

struct rfs_index_tags {
	int fd;
	uint64_t covered, nslots, nentries, last;
	uint8_t state, fp[16];
};

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int tags_write_hdr(const struct rfs_index_tags *t, bool sync)
{
	uint8_t b[TAGS_HDR] = { 0 };
	memcpy(b, TAGS_MAGIC, 8);
	put64(b + 8, t->covered);
	put64(b + 16, t->nslots);
	put64(b + 24, t->nentries);
	put64(b + 32, t->last);
	b[40] = t->state;
	memcpy(b + 41, t->fp, 16);
	int rc = rfs_io_pwrite_all(t->fd, b, sizeof b, 0);
	return rc == 0 && sync && fdatasync(t->fd) < 0 ? -errno : rc;
}

#define HEAD_MAX 512                      /* most records: read whole with their length */
#define WIN 8192

/* A window on a file that a chain walk reads to lower offsets: a read that
** misses it reads what was asked, and when it ends near below the last read
** (within twice its bytes and WIN / 8: the walk's steps are close), twice
** that read's bytes (at most WIN), so a short or scattered walk reads what it
** did and a long close one a read per WIN bytes. Only for bytes that never
** change once written. */
struct win {
	uint64_t base;
	size_t len;
	uint8_t b[WIN];
};

/* pread_all through w (none: NULL). */
static int win_read(struct win *w, int fd, void *dst, size_t len, uint64_t off)
{
	if (!w || len > WIN)
		return rfs_io_pread_all(fd, dst, len, off);
	if (!w->len || off < w->base || off + len > w->base + w->len) {
		uint64_t end = off + len;
		bool near = w->len && end <= w->base + w->len && end + 2 * w->len + WIN / 8 >= w->base;
		size_t size = near ? (2 * w->len < WIN ? 2 * w->len : WIN) : len;
		if (size < len)
			size = len;
		uint64_t base = end > size ? end - size : 0;
		w->len = 0;
		if (rfs_io_pread_all(fd, w->b, (size_t)(end - base), base) < 0)
			return -EIO;
		w->base = base;
		w->len = (size_t)(end - base);
	}
	memcpy(dst, w->b + (off - w->base), len);
	return 0;
}

/* One whole record at off of the index (fd, size isize): its length after
** the length field into *len, its first bytes into head (headsz), and whether
** it parses as view_parse wants. One read (through w when not NULL). */
static bool index_record_at(int fd, struct win *w, uint64_t off, uint64_t isize, uint8_t *head,
                            size_t headsz, size_t *len)
{
	uint8_t b[4 + HEAD_MAX];                 /* one read: the length and the head */
	size_t want = 4 + (headsz < HEAD_MAX ? headsz : HEAD_MAX);
	if (off + 4 > isize)
		return false;
	if (want > isize - off)
		want = (size_t)(isize - off);
	if (win_read(w, fd, b, want, off) < 0)
		return false;
	*len = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
	if (*len < 1 + NONCE + MAC || off + 4 + *len > isize)
		return false;
	size_t n = *len < want - 4 ? *len : want - 4;
	memcpy(head, b + 4, n);
	return head[0] && 1 + head[0] * TAG + NONCE + MAC <= *len;
}

/* The nonce's first 16 bytes of the record whose ntags byte is p. */
static void record_fp(const uint8_t *p, uint8_t fp[16])
{
	memcpy(fp, p + 1 + p[0] * TAG, 16);
}

/* Each whole record of the index in [from, to), in order: cb(offset, ntags byte
** onwards, length). *end: where the last whole record ends. */
typedef int (*record_cb)(uint64_t off, const uint8_t *p, size_t len, void *arg);
static int for_records(int fd, uint64_t from, uint64_t to, record_cb cb, void *arg, uint64_t *end)
{
	size_t cap = 1u << 20, have = 0;
	uint8_t *buf = malloc(cap);
	uint64_t base = from, off = from;        /* buf holds [base, base + have) */
	int rc = buf ? 0 : -ENOMEM;
	while (rc == 0) {
		size_t at = (size_t)(off - base);
		if (at + 4 <= have) {
			const uint8_t *p = buf + at;
			size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
			if (len < 1 + NONCE + MAC || off + 4 + len > to)
				break;
			if (at + 4 + len <= have) {
				if (!p[4] || 1 + p[4] * TAG + NONCE + MAC > len)
					break;
				rc = cb(off, p + 4, len, arg);
				off += 4 + len;
				continue;
			}
			if (4 + len > cap) {             /* a record bigger than the buffer */
				uint8_t *nb = malloc(4 + len);
				if (!nb) {
					rc = -ENOMEM;
					break;
				}
				free(buf);
				buf = nb;
				cap = 4 + len;
				have = 0;
				base = off;
			}
		}
		memmove(buf, buf + (off - base), have - (size_t)(off - base));   /* keep the partial record */
		have -= (size_t)(off - base);
		base = off;
		uint64_t want = to - (base + have) < cap - have ? to - (base + have) : cap - have;
		if (!want)
			break;
		ssize_t n = pread(fd, buf + have, (size_t)want, (off_t)(base + have));
		if (n <= 0) {
			rc = n < 0 && errno != EINTR ? -errno : rc;
			if (n == 0 || errno != EINTR)
				break;
			continue;
		}
		have += (size_t)n;
	}
	free(buf);
	*end = off;
	return rc;
}

/* Adding entries: slots in memory (bulk) or on the file (a few). */
struct tags_add {
	struct rfs_index_tags *t;
	uint32_t *slots;                         /* NULL: read and write the file's */
	uint8_t *ebuf;                           /* entries not yet written */
	size_t elen, ecap;
	uint64_t ebase;                          /* entry number of ebuf's first */
	uint64_t last;
	uint8_t fp[16];
};

static uint64_t tags_entries_at(const struct rfs_index_tags *t)
{
	return TAGS_HDR + t->nslots * 4;
}

static int tags_flush_entries(struct tags_add *a)
{
	int rc = a->elen ? rfs_io_pwrite_all(a->t->fd, a->ebuf, a->elen,
	                              tags_entries_at(a->t) + a->ebase * TAGS_ENTRY) : 0;
	a->ebase += a->elen / TAGS_ENTRY;
	a->elen = 0;
	return rc;
}

static int tags_add_record(uint64_t off, const uint8_t *p, size_t len, void *arg)
{
	struct tags_add *a = arg;
	struct rfs_index_tags *t = a->t;
	(void)len;
	for (size_t i = 0; i < p[0]; i++) {
		if (t->nentries >= t->nslots || t->nentries >= UINT32_MAX - 1)
			return -EOVERFLOW;               /* full: rebuilt bigger */
		uint64_t tag8 = le64(p + 1 + i * TAG);
		uint64_t k = tag8 & (t->nslots - 1);
		uint8_t s[4];
		uint32_t head;
		if (a->slots) {
			head = a->slots[k];
		} else {
			int rc = rfs_io_pread_all(t->fd, s, 4, TAGS_HDR + k * 4);
			if (rc < 0)
				return rc;
			head = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
		}
		if (a->elen + TAGS_ENTRY > a->ecap) {
			int rc = tags_flush_entries(a);
			if (rc < 0)
				return rc;
		}
		uint8_t *e = a->ebuf + a->elen;
		put64(e, tag8);
		put64(e + 8, off);
		put64(e + 16, head);
		a->elen += TAGS_ENTRY;
		head = (uint32_t)++t->nentries;
		if (a->slots) {
			a->slots[k] = head;
		} else {
			int rc = tags_flush_entries(a);  /* the entry before the slot that names it */
			for (int b = 0; b < 4; b++)
				s[b] = (uint8_t)(head >> (8 * b));
			if (rc == 0)
				rc = rfs_io_pwrite_all(t->fd, s, 4, TAGS_HDR + k * 4);
			if (rc < 0)
				return rc;
		}
	}
	a->last = off;
	record_fp(p, a->fp);
	return 0;
}

/* Add the index's records in [t->covered, isize) to t; bulk: with the slots in memory. */
static int tags_catch_up(struct rfs_index_tags *t, int ifd, uint64_t isize, bool bulk)
{
	struct tags_add a = { .t = t, .ecap = 4096 * TAGS_ENTRY, .ebase = t->nentries, .last = t->last };
	memcpy(a.fp, t->fp, 16);
	a.ebuf = malloc(a.ecap);
	int rc = a.ebuf ? 0 : -ENOMEM;
	if (rc == 0 && bulk) {
		a.slots = malloc(t->nslots * 4);
		rc = !a.slots ? -ENOMEM : rfs_io_pread_all(t->fd, a.slots, t->nslots * 4, TAGS_HDR);
	}
	uint64_t end = t->covered;
	if (rc == 0)
		rc = for_records(ifd, t->covered, isize, tags_add_record, &a, &end);
	if (rc == 0)
		rc = tags_flush_entries(&a);
	if (rc == 0 && a.slots)
		rc = rfs_io_pwrite_all(t->fd, a.slots, t->nslots * 4, TAGS_HDR);
	if (rc == 0) {
		t->covered = end;
		t->last = a.last;
		memcpy(t->fp, a.fp, 16);
		rc = tags_write_hdr(t, false);
	}
	free(a.slots);
	free(a.ebuf);
	return rc;
}

/* A new table of the whole index (size isize), into TAGS_FILE. */
static int tags_rebuild(struct rfs_history *h, struct rfs_index_tags *t, int ifd, uint64_t isize)
{
	uint64_t nslots = 1024;
	while (nslots < isize / 16)
		nslots *= 2;                         /* a record holds at most 5 tags in >= 100 bytes */
	if (t->fd >= 0)
		close(t->fd);
	*t = (struct rfs_index_tags){ .covered = 8, .nslots = nslots, .state = 'V' };
	t->fd = openat(h->side_fd, TAGS_FILE ".tmp", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t->fd < 0)
		return -errno;
	int rc = ftruncate(t->fd, (off_t)tags_entries_at(t)) < 0 ? -errno : tags_write_hdr(t, true);
	if (rc == 0)
		rc = tags_catch_up(t, ifd, isize, true);
	if (rc == 0 && renameat(h->side_fd, TAGS_FILE ".tmp", h->side_fd, TAGS_FILE) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(h->side_fd, TAGS_FILE ".tmp", 0);
		close(t->fd);
		t->fd = -1;
	}
	return rc;
}

/* The table as it was left: 0 when it is whole, durable and covers the start
** of this index (t->fd open either way, -1 when there is none). */
static int tags_check(struct rfs_history *h, struct rfs_index_tags *t, int ifd, uint64_t isize)
{
	uint8_t b[TAGS_HDR], head[1 + 5 * TAG + NONCE];
	struct stat st;
	t->fd = openat(h->side_fd, TAGS_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (t->fd < 0 || fstat(t->fd, &st) < 0 || rfs_io_pread_all(t->fd, b, sizeof b, 0) < 0 ||
	    memcmp(b, TAGS_MAGIC, 8))
		return -EBADMSG;
	t->covered = le64(b + 8);
	t->nslots = le64(b + 16);
	t->nentries = le64(b + 24);
	t->last = le64(b + 32);
	t->state = b[40];
	memcpy(t->fp, b + 41, 16);
	size_t len;
	bool whole = t->state == 'D' && t->nslots >= 16 && !(t->nslots & (t->nslots - 1)) &&
	             t->nslots < (1ull << 40) && t->nentries < t->nslots &&
	             (uint64_t)st.st_size >= tags_entries_at(t) + t->nentries * TAGS_ENTRY &&
	             t->covered >= 8 && t->covered <= isize;
	if (whole && t->last) {                  /* still this index: the same last record */
		uint8_t fp[16];
		whole = index_record_at(ifd, NULL, t->last, isize, head, sizeof head, &len) && head[0] <= 5 &&
		        t->last + 4 + len == t->covered;
		if (whole) {
			record_fp(head, fp);
			whole = !memcmp(fp, t->fp, 16);
		}
	} else if (whole) {
		whole = t->covered == 8;
	}
	return whole ? 0 : -EBADMSG;
}

/* Before the first change to a durable table: 'V' on the disk, synced, so a
** crash or a power cut from here on leaves a table that is rebuilt. */
static int tags_dirty(struct rfs_index_tags *t)
{
	if (t->state == 'V')
		return 0;
	t->state = 'V';
	return tags_write_hdr(t, true);
}

/* The table, caught up with the index file ifd (writable handles; git_lock held). */
static int tags_ready(struct rfs_history *h, int ifd, struct rfs_index_tags **out)
{
	struct stat st;
	if ((h->flags & RFS_HISTORY_READONLY) || h->side_fd < 0 || fstat(ifd, &st) < 0)
		return -ENOTSUP;
	uint64_t isize = (uint64_t)st.st_size;
	struct rfs_index_tags *t = h->tags;
	int rc = 0;
	if (!t || t->covered != isize)
		h->tags_changes++;                   /* it may write: a sync begun before does not cover it */
	if (!t) {
		if (!(t = calloc(1, sizeof *t)))
			return -ENOMEM;
		h->tags = t;
		if (tags_check(h, t, ifd, isize) < 0)
			rc = tags_rebuild(h, t, ifd, isize);
	}
	if (rc == 0 && t->covered > isize)
		rc = tags_rebuild(h, t, ifd, isize);     /* the index was written anew */
	if (rc == 0 && t->covered < isize && (rc = tags_dirty(t)) == 0) {
		uint64_t tail = isize - t->covered;
		rc = tags_catch_up(t, ifd, isize, tail / 64 > TAGS_SMALL);
		if (rc == -EOVERFLOW)
			rc = tags_rebuild(h, t, ifd, isize);
	}
	if (rc < 0) {
		t->state = 0;                        /* left as it is: 'V' or gone, rebuilt next time */
		rfs_index_tags_close(h);
		return rc;
	}
	*out = t;
	return 0;
}

int rfs_index_tags_update(struct rfs_history *h)
{
	int ifd = h->side_fd < 0 ? -1 : openat(h->side_fd, INDEX_FILE, O_RDONLY | O_CLOEXEC);
	if (ifd < 0)
		return -ENOTSUP;
	struct rfs_index_tags *t;
	pthread_mutex_lock(&h->git_lock);
	int rc = tags_ready(h, ifd, &t);
	pthread_mutex_unlock(&h->git_lock);
	close(ifd);
	return rc;
}

void rfs_index_tags_synced(struct rfs_history *h)
{
	struct rfs_index_tags *t = h->tags;
	if (t && t->fd >= 0 && t->state == 'V') {
		t->state = 'D';                      /* no sync: a 'D' that does not reach the disk is a rebuild */
		if (tags_write_hdr(t, false) < 0)
			t->state = 'V';
	}
}

void rfs_index_tags_close(struct rfs_history *h)
{
	struct rfs_index_tags *t = h->tags;
	if (!t)
		return;
	h->tags = NULL;
	if (t->fd >= 0 && t->state == 'V' && fdatasync(t->fd) == 0) {
		t->state = 'D';                      /* what it covers is durable too: fsync'd before */
		int ifd = openat(h->side_fd, INDEX_FILE, O_RDONLY | O_CLOEXEC);
		if (ifd < 0 || fdatasync(ifd) < 0 || tags_write_hdr(t, true) < 0)
			t->state = 'V';
		if (ifd >= 0)
			close(ifd);
	}
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

/* Records (offsets) whose tags hold tag, newest first, appended to *out: the
** newest max distinct ones. */
static int tags_find(const struct rfs_index_tags *t, int ifd, const uint8_t tag[TAG], size_t **out,
                     size_t *n, size_t *cap, size_t max)
{
	size_t from = *n, got = 0;
	uint64_t tag8 = le64(tag), k = tag8 & (t->nslots - 1);
	uint8_t s[4], e[TAGS_ENTRY], head[1 + 5 * TAG];
	struct win *w = malloc(2 * sizeof *w);   /* the entries', the index's */
	if (!w)
		return -ENOMEM;
	w[0].len = w[1].len = 0;
	int rc = rfs_io_pread_all(t->fd, s, 4, TAGS_HDR + k * 4);
	uint64_t i = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 | (uint64_t)s[3] << 24;
	uint64_t prev = UINT64_MAX;
	while (rc == 0 && i && got < max) {
		if (i >= prev) {
			rc = -EBADMSG;                   /* a chain only goes back */
			break;
		}
		prev = i;
		if ((rc = win_read(&w[0], t->fd, e, sizeof e, tags_entries_at(t) + (i - 1) * TAGS_ENTRY)) < 0)
			break;
		bool newer = i > t->nentries;        /* added since t was taken: not ours to show */
		i = le64(e + 16);
		if (newer || le64(e) != tag8)
			continue;
		uint64_t off = le64(e + 8);
		size_t len;
		if (!index_record_at(ifd, &w[1], off, t->covered, head, sizeof head, &len) || head[0] > 5) {
			rc = -EBADMSG;
			break;
		}
		struct irec x = { head, len };
		if (!rec_has(&x, tag) || (*n > from && (*out)[*n - 1] == off))
			continue;                        /* another tag with the same first bytes, or a repeat */
		if (rfs_bytes_grow(out, cap, *n, sizeof **out, 64) < 0) {
			rc = -ENOMEM;
			break;
		}
		(*out)[(*n)++] = (size_t)off;
		got++;
	}
	free(w);
	return rc;
}

/* Load the index and its tag table (git_lock taken here). */
static int view_load_hashed(struct rfs_history *h, struct index_view *iv, struct tag_table *tt)
{
	size_t file_len;
	bool fresh;
	memset(tt, 0, sizeof *tt);
	pthread_mutex_lock(&h->git_lock);
	int rc = view_load(h, iv, &file_len, &fresh);
	pthread_mutex_unlock(&h->git_lock);
	if (rc == 0)
		rc = table_build(iv, tt);
	return rc;
}

/* Where `log PATH` finds records: the loaded index and its table (records by
** number), or the index file and index.tags (records by offset). Either way a
** greater id is a newer record. */
struct isrc {
	struct rfs_history *h;
	const struct index_view *iv;
	const struct tag_table *tt;
	const struct rfs_index_tags *t;
	int ifd;
};

/* The newest max distinct records holding tag, appended to *out. */
static int src_find_max(const struct isrc *s, const uint8_t tag[TAG], size_t **out, size_t *n, size_t *cap,
                        size_t max)
{
	return s->t ? tags_find(s->t, s->ifd, tag, out, n, cap, max)
	            : table_find(s->iv, s->tt, tag, out, n, cap, max);
}

static int src_find(const struct isrc *s, const uint8_t tag[TAG], size_t **out, size_t *n, size_t *cap)
{
	return src_find_max(s, tag, out, n, cap, SIZE_MAX);
}

/* Record id into x: whole, or (a long one from the file) its first HEAD_MAX
** bytes into head, which hold its tags; x->len is its whole length. Read
** through w when not NULL. */
static int src_head(const struct isrc *s, struct win *w, size_t id, uint8_t head[HEAD_MAX], struct irec *x)
{
	if (!s->t) {
		*x = s->iv->recs[id];
		return 0;
	}
	size_t len;
	if (!index_record_at(s->ifd, w, id, s->t->covered, head, HEAD_MAX, &len))
		return -EIO;
	*x = (struct irec){ head, len };
	return 0;
}

/* Decrypt record id, whose head src_head gave as x. */
static int src_open_head(const struct isrc *s, size_t id, const struct irec *x, git_oid *rev,
                         struct rfs_record *r, bool paths)
{
	if (!s->t || x->len <= HEAD_MAX)
		return view_open_as(s->h, x, rev, r, paths);
	uint8_t *p = malloc(x->len);
	int rc = !p ? -ENOMEM : rfs_io_pread_all(s->ifd, p, x->len, (uint64_t)id + 4);
	if (rc == 0)
		rc = view_open_as(s->h, &(struct irec){ p, x->len }, rev, r, paths);
	free(p);
	return rc;
}

static int src_open(const struct isrc *s, size_t id, git_oid *rev, struct rfs_record *r, bool paths)
{
	uint8_t head[HEAD_MAX];
	struct irec x;
	int rc = src_head(s, NULL, id, head, &x);
	return rc < 0 ? rc : src_open_head(s, id, &x, rev, r, paths);
}

/* Whether record x's clear tags hold one of set (of tags). An event has at
** most 5: a head that says more is not tested (its record is opened). */
static bool rec_has_any(const struct irec *x, const struct id_set *set)
{
	for (size_t t = 0; x->p[0] <= 5 && t < x->p[0]; t++)
		if (id_set_find(set, x->p + 1 + t * TAG) >= 0)
			return true;
	return false;
}

/* The ids (folders only, when dirs) of the events of records recs[0..n) into
** set, at most max of them. A record whose clear tags hold the 'f' tag of an
** id already in set adds nothing and is not decrypted. 0 or -ENOMEM. */
static int event_ids(const struct isrc *s, const size_t *recs, size_t n, bool dirs, size_t max,
                     struct id_set *set)
{
	struct id_set ftags = { 0 };             /* the 'f' tags of set's ids */
	uint8_t t[TAG];
	bool added;
	struct win *w = s->t ? malloc(sizeof *w) : NULL;   /* recs are newest first: lower offsets */
	int rc = s->t && !w ? -ENOMEM : 0;
	if (w)
		w->len = 0;
	for (size_t k = 0; rc == 0 && k < set->n; k++) {
		tag_of(s->h, 'f', set->id[k], 16, t);
		rc = id_set_add(&ftags, t, &added) < 0 ? -ENOMEM : 0;
	}
	for (size_t i = 0; rc == 0 && i < n && set->n < max; i++) {
		uint8_t head[HEAD_MAX];
		struct irec x;
		struct rfs_record r;
		git_oid rev;
		if (src_head(s, w, recs[i], head, &x) < 0 || rec_has_any(&x, &ftags) ||
		    src_open_head(s, recs[i], &x, &rev, &r, false) < 0)
			continue;
		const uint8_t *id = r.events[0].file_id;
		if ((!dirs || r.events[0].type == RFS_OBJ_DIR) && !id_is_zero(id)) {
			if (id_set_add(set, id, &added) < 0)
				rc = -ENOMEM;
			tag_of(s->h, 'f', id, 16, t);
			if (rc == 0 && added && id_set_add(&ftags, t, &added) < 0)
				rc = -ENOMEM;
		}
		rfs_record_clear(&r);
	}
	id_set_free(&ftags);
	free(w);
	return rc;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Whether the records recs[0..n) carry an id (a folder's, when dirs): one
** found at a path is followed by it. 0/1, or -ENOMEM. */
static int some_id(const struct isrc *s, const size_t *recs, size_t n, bool dirs)
{
	struct id_set one = { 0 };
	int rc = event_ids(s, recs, n, dirs, 1, &one);
	bool found = one.n > 0;
	id_set_free(&one);
	return rc < 0 ? rc : found;
}

/* The records of events of entries named name right inside folder c, found by
** the folder's 'd' tag: an entry whose folder was renamed above it holds its
** old path, which no path tag of the new one matches. */
static int named_in(const struct isrc *s, const uint8_t c[16], const char *name, size_t **recs,
                    size_t *n, size_t *cap)
{
	uint8_t t[TAG];
	size_t *kids = NULL, m = 0, mcap = 0;
	tag_of(s->h, 'd', c, 16, t);
	int rc = src_find(s, t, &kids, &m, &mcap);
	for (size_t i = 0; rc == 0 && i < m; i++) {
		struct rfs_record r;
		git_oid rev;
		if (src_open(s, kids[i], &rev, &r, true) < 0)
			continue;
		const struct rfs_event *e = &r.events[0];
		bool here = !memcmp(e->dir, c, 16) && e->path[0] && !strcmp(base_name(e->path), name);
		bool was = !memcmp(e->dir_old, c, 16) && e->path_old[0] &&
		           !strcmp(base_name(e->path_old), name);
		rfs_record_clear(&r);
		if (!here && !was)
			continue;
		if (rfs_bytes_grow(recs, cap, *n, sizeof **recs, 16) < 0)
			rc = -ENOMEM;
		else
			(*recs)[(*n)++] = kids[i];
	}
	free(kids);
	return rc;
}

/* Records of the events at clear_path under any folder of cands (v2). Their
** folder ids (type folder) go to next when next is not NULL. Below the root
** (deep), a folder whose events at the path carry no id is searched by name:
** the folder may have had another path then. */
static int v2_at_path(const struct isrc *s, const struct id_set *cands, const char *path, bool deep,
                      size_t **recs, size_t *n, size_t *cap, struct id_set *next)
{
	size_t from = *n;
	for (size_t c = 0; c < cands->n; c++) {
		uint8_t t[TAG];
		if (path_tag(s->h, cands->id[c], path, t) < 0)
			continue;                   /* destroyed: nothing inside can be tested */
		size_t was = *n;
		int rc = src_find(s, t, recs, n, cap);
		if (rc == 0 && deep && (rc = some_id(s, *recs + was, *n - was, next != NULL)) == 0)
			rc = named_in(s, cands->id[c], base_name(path), recs, n, cap);
		if (rc < 0)
			return rc;
	}
	return next ? event_ids(s, *recs + from, *n - from, true, SIZE_MAX, next) : 0;
}

/* v2: the records to show for clear_path: events at it (found through the
** folders that ever stood at each of its parents) and of every file found
** there, newest first; with a limit (not 0), only the newest limit of them,
** and *cut says whether some were left out. */
static int log_recs(const struct isrc *s, const char *clear_path, size_t limit, size_t **recs, size_t *n,
                    bool *cut)
{
	struct rfs_history *h = s->h;
	size_t cap = 0, nroot = 0, rcap = 0;
	size_t *root = NULL;
	static const uint8_t zero[16];
	uint8_t t[TAG];
	struct id_set cands = { 0 }, next = { 0 };
	*recs = NULL;
	*n = 0;
	tag_of(h, 'd', zero, 16, t);             /* the root's own events name its dirid */
	int rc = src_find(s, t, &root, &nroot, &rcap);
	if (rc == 0)
		rc = event_ids(s, root, nroot, true, SIZE_MAX, &cands);
	uint8_t root_id[16];
	bool added;
	if (rc == 0 && rfs_history_dirid_at(h, "", root_id) == 0 && id_set_add(&cands, root_id, &added) < 0)
		rc = -ENOMEM;
	if (rc == 0 && !strcmp(clear_path, "/")) {
		*recs = root;
		*n = nroot;
		cap = rcap;
		root = NULL;
	}
	free(root);
	char *copy = strdup(clear_path);
	if (!copy)
		rc = -ENOMEM;
	for (char *p = copy ? copy + 1 : NULL; rc == 0 && p && strcmp(clear_path, "/");) {
		char *slash = strchr(p, '/');
		if (!slash) {                       /* the last component: these are the events */
			rc = v2_at_path(s, &cands, copy, p != copy + 1, recs, n, &cap, NULL);
			break;
		}
		*slash = 0;
		size_t *found = NULL, m = 0, mcap = 0;
		rc = v2_at_path(s, &cands, copy, p != copy + 1, &found, &m, &mcap, &next);
		free(found);
		*slash = '/';
		id_set_free(&cands);
		cands = next;
		memset(&next, 0, sizeof next);
		if (!cands.n)
			break;
		p = slash + 1;
	}
	free(copy);
	id_set_free(&cands);
	id_set_free(&next);
	/* follow every file that ever stood there, across its renames */
	enum { MAX_FOLLOW = 64 };
	struct id_set follow = { 0 };
	size_t max = limit ? limit : SIZE_MAX;   /* the newest limit of a union: at most limit from each */
	*cut = false;
	if (rc == 0) {
		*n = recs_unique(*recs, *n);         /* newest first: the files found there last */
		rc = event_ids(s, *recs, *n, false, MAX_FOLLOW, &follow);
	}
	if (rc == 0 && *n > max) {                /* their ids known: only the newest are shown */
		*n = max;
		*cut = true;
	}
	for (size_t k = 0; rc == 0 && k < follow.n; k++) {
		size_t was = *n;
		tag_of(h, 'f', follow.id[k], 16, t);
		rc = src_find_max(s, t, recs, n, &cap, max);
		*cut |= *n - was == max;
	}
	id_set_free(&follow);
	if (rc == 0)
		*n = recs_unique(*recs, *n);
	if (rc == 0 && *n > max) {
		*n = max;
		*cut = true;
	}
	return rc;
}

/* log_recs; a record that does not open is passed over when shown, so a cut
** list holds the newest limit shown only when its first limit all open (else
** the whole list is found). */
static int v2_log_recs(const struct isrc *s, const char *clear_path, size_t limit, size_t **recs,
                       size_t *n)
{
	bool cut;
	int rc = log_recs(s, clear_path, limit, recs, n, &cut);
	for (size_t i = 0; rc == 0 && cut && i < *n; i++) {
		struct rfs_record r;
		git_oid rev;
		if (src_open(s, (*recs)[i], &rev, &r, true) == 0) {
			rfs_record_clear(&r);
			continue;
		}
		free(*recs);
		rc = log_recs(s, clear_path, 0, recs, n, &cut);
	}
	return rc;
}

static void version_of(struct rfs_history *h, struct rfs_version *ver, const struct rfs_record *r,
                       const git_oid *rev)
{
	rfs_record_version_fill(ver, r, &r->events[0], rev);
	if (ver->destroyed)
		ver->disposal = rfs_history_disposed_by(h, r->events[0].dir);
}

/* An event as a version to cb; cb's value. */
static int emit_version(struct rfs_history *h, const struct rfs_record *r, const git_oid *rev,
                        rfs_version_cb cb, void *arg, size_t *shown)
{
	struct rfs_version ver;
	version_of(h, &ver, r, rev);
	(*shown)++;
	return cb(&ver, arg);
}

static int emit(struct rfs_history *h, const struct irec *x, rfs_version_cb cb, void *arg, size_t *shown)
{
	struct rfs_record r;
	git_oid rev;
	if (view_open(h, x, &rev, &r) < 0)
		return 0;
	int rc = emit_version(h, &r, &rev, cb, arg, shown);
	rfs_record_clear(&r);
	return rc;
}

/* rfs_index_sync's short way: a durable index.tags vouches for the index up
** to what it covers (its last record is checked), so only the records after
** it are read, and the commits after the last of them appended (a mount after
** a clean close reads one record; after a kill, the commits since the last
** sync). -EAGAIN: the caller loads the whole index. */
static int sync_from_tags(struct rfs_history *h)
{
	const char *magic = index_version(h) == RFS_RECORD_VERSION_2 ? INDEX_MAGIC_V2 : INDEX_MAGIC;
	int ifd = h->have_ref && h->side_fd >= 0 ? openat(h->side_fd, INDEX_FILE, O_RDWR | O_CLOEXEC) : -1;
	struct rfs_index_tags t = { .fd = -1 };
	struct index_view iv = { 0 };
	struct stat st;
	char head[8];
	int rc = -EAGAIN;
	if (ifd < 0 || fstat(ifd, &st) < 0 || rfs_io_pread_all(ifd, head, 8, 0) < 0 || memcmp(head, magic, 8) ||
	    tags_check(h, &t, ifd, (uint64_t)st.st_size) < 0 || !t.last)
		goto out;
	size_t tail = (size_t)((uint64_t)st.st_size - t.covered);
	if (!(iv.file.p = malloc(tail ? tail : 1)))
		goto out;
	iv.file.len = iv.file.cap = tail;
	if (rfs_io_pread_all(ifd, iv.file.p, tail, t.covered) < 0 || view_parse(&iv, 0) < 0 || iv.damaged)
		goto out;
	git_oid last;
	struct rfs_record r;
	struct isrc s = { .h = h, .t = &t, .ifd = ifd };
	if ((iv.n ? view_open_as(h, &iv.recs[iv.n - 1], &last, &r, false) : src_open(&s, t.last, &last, &r, false)) < 0)
		goto out;
	bool known = r.events[0].kind != 0 && git_odb_exists(h->odb, &last);
	rfs_record_clear(&r);
	struct rfs_bytes more = { 0 };
	if (!known || (!git_oid_equal(&last, &h->ref_head) &&
	               (git_graph_descendant_of(h->repo, &h->ref_head, &last) != 1 ||
	                encode_since(h, &last, &more) < 0 || more.err))) {
		rfs_bytes_free(&more);
		goto out;                        /* not a commit of ours, or not behind the ref */
	}
	uint64_t end = t.covered + iv.valid_len;   /* a record cut short by the crash goes */
	rc = end < (uint64_t)st.st_size && ftruncate(ifd, (off_t)end) < 0 ? -errno : 0;
	if (rc == 0 && more.len)
		rc = rfs_io_pwrite_all(ifd, more.p, more.len, end);
	rfs_bytes_free(&more);
out:
	view_free(&iv);
	if (t.fd >= 0)
		close(t.fd);
	if (ifd >= 0)
		close(ifd);
	return rc;
}

/* The daemon's way: s->t points at snap, index.tags as it was when caught up
** (under git_lock) with an index that holds the ref, on descriptors of its
** own (s->ifd, snap->fd): a rebuild renames a new file in, the old one stays
** whole, and entries and records never change once written. -ENOTSUP: the
** caller loads the index. Undone with tags_snapshot_end. */
static int tags_snapshot(struct rfs_history *h, struct isrc *s, struct rfs_index_tags *snap)
{
	*s = (struct isrc){ .h = h, .ifd = h->side_fd < 0 ? -1 : openat(h->side_fd, INDEX_FILE, O_RDONLY | O_CLOEXEC) };
	*snap = (struct rfs_index_tags){ .fd = -1 };
	if (s->ifd < 0)
		return -ENOTSUP;
	struct rfs_index_tags *t = NULL;
	pthread_mutex_lock(&h->git_lock);
	int rc = tags_ready(h, s->ifd, &t) < 0 ? -ENOTSUP : 0;
	if (rc == 0) {
		*snap = *t;
		snap->fd = dup(t->fd);
		s->t = snap;
		git_oid last;
		struct rfs_record r;
		bool at_ref = h->have_ref ? snap->last && src_open(s, snap->last, &last, &r, false) == 0
		                            : !snap->last;
		if (h->have_ref && at_ref) {
			at_ref = git_oid_equal(&last, &h->ref_head);
			rfs_record_clear(&r);
		}
		rc = at_ref && snap->fd >= 0 ? 0 : -ENOTSUP;
	}
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

/* rc of a lookup in a snapshot: a damaged table (rc < 0, nothing shown yet)
** is dropped, a new one built next time, and -ENOTSUP says the index answers. */
static int tags_snapshot_end(struct isrc *s, struct rfs_index_tags *snap, int rc, bool shown)
{
	struct rfs_history *h = s->h;
	if (snap->fd >= 0)
		close(snap->fd);
	if (s->ifd >= 0)
		close(s->ifd);
	if (rc < 0 && rc != -ENOMEM && rc != -ENOTSUP && !shown) {
		pthread_mutex_lock(&h->git_lock);
		if (h->tags)
			h->tags->state = 0;
		rfs_index_tags_close(h);
		unlinkat(h->side_fd, TAGS_FILE, 0);
		pthread_mutex_unlock(&h->git_lock);
		rc = -ENOTSUP;
	}
	return rc;
}

/* The events of clear_path, or without one the vault's latest limit events
** (all when 0) from the end of index.tags: a record's tags are entries side
** by side, newest last. -ENOTSUP: the caller loads the index. */
static int v2_log_tags(struct rfs_history *h, const char *clear_path, size_t limit, rfs_version_cb cb,
                       void *arg)
{
	struct isrc s;
	struct rfs_index_tags snap;
	size_t *recs = NULL, n = 0, shown = 0;
	int rc = tags_snapshot(h, &s, &snap);
	if (rc == 0 && clear_path)           /* entries newer than snap are passed over */
		rc = v2_log_recs(&s, clear_path, limit, &recs, &n);
	enum { BATCH = 512 };
	uint8_t *eb = rc == 0 && !clear_path ? malloc(BATCH * TAGS_ENTRY) : NULL;
	if (rc == 0 && !clear_path && !eb)
		rc = -ENOMEM;
	uint64_t lo = 0, hi = 0, seen = 0;   /* eb holds entries [lo, hi) */
	for (uint64_t i = snap.nentries; rc == 0 && !clear_path && i > 0 && (!limit || shown < limit); i--) {
		if (i - 1 < lo || i > hi) {
			hi = i;
			lo = i > BATCH ? i - BATCH : 0;
			rc = rfs_io_pread_all(snap.fd, eb, (size_t)(hi - lo) * TAGS_ENTRY,
			                      tags_entries_at(&snap) + lo * TAGS_ENTRY);
		}
		uint64_t off = le64(eb + (i - 1 - lo) * TAGS_ENTRY + 8);
		if (rc < 0 || off == seen)
			continue;
		seen = off;
		struct rfs_record r;
		git_oid rev;
		if (src_open(&s, (size_t)off, &rev, &r, true) < 0)
			continue;
		rc = emit_version(h, &r, &rev, cb, arg, &shown);
		rfs_record_clear(&r);
	}
	free(eb);
	for (size_t i = 0; rc == 0 && i < n && (!limit || shown < limit); i++) {
		struct rfs_record r;
		git_oid rev;
		if (src_open(&s, recs[i], &rev, &r, true) < 0)
			continue;
		rc = emit_version(h, &r, &rev, cb, arg, &shown);
		rfs_record_clear(&r);
	}
	free(recs);
	return tags_snapshot_end(&s, &snap, rc, shown);
}

static int v2_log(struct rfs_history *h, const char *clear_path, size_t limit, rfs_version_cb cb,
                  void *arg)
{
	int rc = v2_log_tags(h, clear_path, limit, cb, arg);
	if (rc != -ENOTSUP)
		return rc;
	struct index_view iv;
	struct tag_table tt;
	rc = view_load_hashed(h, &iv, &tt);
	struct isrc s = { .h = h, .iv = &iv, .tt = &tt };
	size_t *recs = NULL, n = 0, shown = 0;
	if (rc == 0)
		rc = v2_log_recs(&s, clear_path, limit, &recs, &n);
	for (size_t i = 0; rc == 0 && i < n && (!limit || shown < limit); i++)
		rc = emit(h, &iv.recs[recs[i]], cb, arg, &shown);
	free(recs);
	table_free(&tt);
	view_free(&iv);
	return rc;
}

/* Events of clear_path (and of the file last found there), newest first. */
int rfs_history_log(struct rfs_history *h, const char *clear_path, size_t limit,
                    rfs_version_cb cb, void *arg)
{
	if (clear_path && index_version(h) == RFS_RECORD_VERSION_2)
		return v2_log(h, clear_path, limit, cb, arg);
	int trc = clear_path ? -ENOTSUP : v2_log_tags(h, NULL, limit, cb, arg);
	if (trc != -ENOTSUP)
		return trc;                      /* the latest: from the end of index.tags */
	pthread_mutex_lock(&h->git_lock);
	struct index_view iv;
	size_t file_len;
	bool fresh;
	int rc = view_load(h, &iv, &file_len, &fresh);
	pthread_mutex_unlock(&h->git_lock);
	/* Every file that ever stood at the path is followed, across its renames. */
	enum { MAX_FOLLOW = 64 };
	uint8_t tp[TAG], tf[MAX_FOLLOW][TAG];
	size_t nfollow = 0;
	if (rc == 0 && clear_path) {
		tag_of(h, 'p', clear_path, strlen(clear_path), tp);
		for (size_t i = iv.n; i-- > 0 && nfollow < MAX_FOLLOW;) {
			if (!rec_has(&iv.recs[i], tp))
				continue;
			struct rfs_record r;
			git_oid rev;
			if (view_open(h, &iv.recs[i], &rev, &r) == 0) {
				if (!id_is_zero(r.events[0].file_id)) {
					uint8_t t[TAG];
					bool seen = false;
					tag_of(h, 'f', r.events[0].file_id, 16, t);
					for (size_t k = 0; k < nfollow && !seen; k++)
						seen = !memcmp(tf[k], t, TAG);
					if (!seen)
						memcpy(tf[nfollow++], t, TAG);
				}
				rfs_record_clear(&r);
			}
		}
	}
	size_t shown = 0;
	for (size_t i = iv.n; rc == 0 && i-- > 0 && (!limit || shown < limit);) {
		bool match = !clear_path || rec_has(&iv.recs[i], tp);
		for (size_t k = 0; !match && k < nfollow; k++)
			match = rec_has(&iv.recs[i], tf[k]);
		if (match)
			rc = emit(h, &iv.recs[i], cb, arg, &shown);
	}
	view_free(&iv);
	return rc;
}

/* ---- the subtree of a folder, for a disposal ---- */

struct sub_node {
	uint8_t type;                     /* of its events */
	bool newest_known, deleted;
	uint8_t parent[16];               /* its newest event's parent folder */
	uint8_t state;                    /* 0 unknown, 1 being decided, 2 inside, 3 outside */
};

struct sub_walk {
	struct rfs_history *h;
	const struct isrc *s;
	struct id_set ids;                /* file ids and dirids ever inside */
	struct sub_node *node;            /* parallel to ids */
	size_t node_cap;
	struct id_set seen;               /* records (their id, little-endian) counted as versions */
	size_t versions;
};

/* Add id (of type) to the walk; new folders go on the queue (ids itself, by index). */
static int sub_add(struct sub_walk *w, const uint8_t id[16], uint8_t type)
{
	bool added;
	long at = id_set_add(&w->ids, id, &added);
	if (at < 0)
		return (int)at;
	if (added) {
		if (rfs_bytes_grow(&w->node, &w->node_cap, (size_t)at, sizeof *w->node, 64) < 0)
			return -ENOMEM;
		memset(&w->node[at], 0, sizeof w->node[at]);
	}
	if (type)
		w->node[at].type = type;
	return 0;
}

/* Events found by tag: new ids, and symlinks (no id) counted as versions. */
static int sub_events(struct sub_walk *w, char kind, const uint8_t id[16], bool add_ids)
{
	uint8_t t[TAG];
	size_t *recs = NULL, n = 0, cap = 0;
	tag_of(w->h, kind, id, 16, t);
	int rc = src_find(w->s, t, &recs, &n, &cap);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct rfs_record r;
		git_oid rev;
		if (src_open(w->s, recs[i], &rev, &r, false) < 0)
			continue;
		const struct rfs_event *e = &r.events[0];
		bool symlink = id_is_zero(e->file_id), first;
		uint8_t key[16] = { 0 };
		put64(key, recs[i]);
		if ((symlink || kind == 'f') && id_set_add(&w->seen, key, &first) < 0)
			rc = -ENOMEM;
		else if ((symlink || kind == 'f') && first)
			w->versions++;
		if (rc == 0 && add_ids && !symlink)
			rc = sub_add(w, e->file_id, e->type);
		rfs_record_clear(&r);
	}
	free(recs);
	return rc;
}

/* Its newest event (the greatest index record with its "f" tag). */
static int sub_newest(struct sub_walk *w, size_t k)
{
	uint8_t t[TAG];
	size_t *recs = NULL, n = 0, cap = 0;
	tag_of(w->h, 'f', w->ids.id[k], 16, t);
	int rc = src_find(w->s, t, &recs, &n, &cap);
	size_t newest = 0;
	for (size_t i = 0; i < n; i++)
		newest = recs[i] > newest ? recs[i] : newest;
	struct rfs_record r;
	git_oid rev;
	if (rc == 0 && n && src_open(w->s, newest, &rev, &r, false) == 0) {
		w->node[k].newest_known = true;
		w->node[k].deleted = r.events[0].kind == RFS_SAVE_DELETED;
		memcpy(w->node[k].parent, r.events[0].dir, 16);
		rfs_record_clear(&r);
	}
	free(recs);
	return rc;
}

/* Whether id k is inside the subtree now (or deleted): its newest parent chain
** reaches the subtree's folder (index 0). */
static bool sub_inside(struct sub_walk *w, size_t k)
{
	struct sub_node *nd = &w->node[k];
	if (k == 0 || nd->state == 2 || nd->state == 1)
		return true;                  /* a cycle cannot be live: count it in */
	if (nd->state == 3)
		return false;
	nd->state = 1;
	bool in = true;
	if (nd->newest_known && !nd->deleted) {
		long p = id_set_find(&w->ids, nd->parent);
		in = p >= 0 && sub_inside(w, (size_t)p);
	}
	nd->state = in ? 2 : 3;
	return in;
}

/* One folder's subtree, from the loaded index or index.tags. */
static int subtree_in(const struct isrc *s, const uint8_t dirid[16], struct rfs_subtree *out)
{
	memset(out, 0, sizeof *out);
	struct sub_walk w = { .h = s->h, .s = s };
	int rc = sub_add(&w, dirid, RFS_OBJ_DIR);
	/* Breadth first over folders: ids grows while it is walked. */
	for (size_t k = 0; rc == 0 && k < w.ids.n; k++)
		if (w.node[k].type == RFS_OBJ_DIR)
			rc = sub_events(&w, 'd', w.ids.id[k], true);
	for (size_t k = 1; rc == 0 && k < w.ids.n; k++)
		rc = sub_newest(&w, k);
	if (rc == 0 && !(out->ids = malloc((w.ids.n ? w.ids.n : 1) * sizeof *out->ids)))
		rc = -ENOMEM;
	for (size_t k = 0; rc == 0 && k < w.ids.n; k++) {
		if (!sub_inside(&w, k)) {
			out->kept++;
			continue;
		}
		memcpy(out->ids[out->count++], w.ids.id[k], 16);
		rc = sub_events(&w, 'f', w.ids.id[k], false);   /* its versions */
		out->folders += w.node[k].type == RFS_OBJ_DIR;
		out->files += w.node[k].type != RFS_OBJ_DIR;
	}
	out->versions = w.versions;
	if (rc < 0)
		rfs_subtree_free(out);
	id_set_free(&w.ids);
	free(w.node);
	id_set_free(&w.seen);
	return rc;
}

static int subtrees_from(const struct isrc *s, const uint8_t (*dirids)[16], size_t n, struct rfs_subtree *out)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = subtree_in(s, dirids[i], &out[i]);
	for (size_t i = 0; rc < 0 && i < n; i++)
		rfs_subtree_free(&out[i]);
	return rc;
}

int rfs_history_subtrees(struct rfs_history *h, const uint8_t (*dirids)[16], size_t n,
                         struct rfs_subtree *out)
{
	memset(out, 0, n * sizeof *out);
	if (index_version(h) != RFS_RECORD_VERSION_2)
		return -EPROTONOSUPPORT;          /* format 2 has no folder ids in its events */
	if (!(h->flags & RFS_HISTORY_READONLY)) {
		int rc = rfs_history_flush(h);    /* what live/ holds is in history and the index */
		if (rc < 0)
			return rc;
	}
	struct isrc s;
	struct rfs_index_tags snap;
	int rc = tags_snapshot(h, &s, &snap);       /* the daemon's: index.tags */
	if (rc == 0)
		rc = subtrees_from(&s, dirids, n, out);
	if ((rc = tags_snapshot_end(&s, &snap, rc, false)) != -ENOTSUP)
		return rc;
	struct index_view iv;
	struct tag_table tt;
	rc = view_load_hashed(h, &iv, &tt);
	s = (struct isrc){ .h = h, .iv = &iv, .tt = &tt };
	if (rc == 0)
		rc = subtrees_from(&s, dirids, n, out);
	table_free(&tt);
	view_free(&iv);
	return rc;
}

int rfs_history_subtree(struct rfs_history *h, const uint8_t dirid[16], struct rfs_subtree *out)
{
	return rfs_history_subtrees(h, (const uint8_t (*)[16])dirid, 1, out);
}

void rfs_subtree_free(struct rfs_subtree *s)
{
	if (!s)
		return;
	free(s->ids);
	memset(s, 0, sizeof *s);
}
