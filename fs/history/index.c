/*
** index: history.git/recfs/index, the keyed event index behind a fast `log PATH`.
**
** An append-only file: magic "RFSIDX1\n", then one record per event:
**   u32le len | u8 ntags | ntags * tag[16] | nonce[24] | XChaCha20-Poly1305(payload)
** tag = BLAKE2b-128(key = keys->index, "p" || clear path) for the path (and the
** old path of a rename), and "f" || file id for the file id. The payload is the
** commit id, its sealed-record header and the event. Derived data: rebuilt
** from history when missing or damaged, caught up when behind the ref.
** Must never: hold a clear path or anything but keyed tags in clear.
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
#define INDEX_MAGIC "RFSIDX1\n"
#define TAG 16
#define NONCE RFS_SEAL_NONCE
#define MAC RFS_SEAL_TAG

static void tag_of(struct rfs_history *h, char kind, const void *data, size_t len, uint8_t out[TAG])
{
	struct rfs_tag t;
	rfs_tag_init(&t, h->v->keys->index, sizeof h->v->keys->index, TAG);
	rfs_tag_update(&t, &kind, 1);
	rfs_tag_update(&t, data, len);
	rfs_tag_final(&t, out);
}

static bool id_is_zero(const uint8_t id[16])
{
	static const uint8_t z[16];
	return !memcmp(id, z, 16);
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
	rfs_record_event_encode(&pl, e);
	if (pl.err) {
		out->err = pl.err;
		rfs_bytes_free(&pl);
		return;
	}
	uint8_t tags[3][TAG];
	uint8_t ntags = 0;
	tag_of(h, 'p', e->path, strlen(e->path), tags[ntags++]);
	if (e->path_old && e->path_old[0])
		tag_of(h, 'p', e->path_old, strlen(e->path_old), tags[ntags++]);
	if (!id_is_zero(e->file_id))
		tag_of(h, 'f', e->file_id, 16, tags[ntags++]);
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

/* Decrypt record i into r (one event) and its commit id. 0 or -EIO. */
static int view_open(struct rfs_history *h, const struct irec *x, git_oid *rev, struct rfs_record *r)
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
	r->events = calloc(1, sizeof *r->events);
	if (r->events && !rd.err && rfs_record_event_decode(&rd, r->events) == 0)
		r->nevents = 1;
	else
		rd.err = rd.err ? rd.err : -EIO;
	rfs_secmem_wipe(pl, ctlen);
	free(pl);
	if (rd.err)
		rfs_record_clear(r);
	return rd.err;
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
	if (rc == 0 && (iv->file.len < 8 || memcmp(iv->file.p, INDEX_MAGIC, 8)))
		rc = -EBADMSG;
	if (rc == 0)
		rc = view_parse(iv, 8);
	git_oid last;
	bool have_last = false;
	if (rc == 0 && iv->n && !iv->damaged) {
		struct rfs_record r;
		if (view_open(h, &iv->recs[iv->n - 1], &last, &r) == 0) {
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
		rfs_bytes_put(&iv->file, INDEX_MAGIC, 8);
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

int rfs_index_sync(struct rfs_history *h)
{
	struct index_view iv;
	size_t file_len;
	bool fresh;
	int rc = view_load(h, &iv, &file_len, &fresh);
	if (rc == 0 && fresh) {
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

/* Events of clear_path (and of the file last found there), newest first. */
int rfs_history_log(struct rfs_history *h, const char *clear_path, size_t limit,
                    rfs_version_cb cb, void *arg)
{
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
		if (!match)
			continue;
		struct rfs_record r;
		git_oid rev;
		if (view_open(h, &iv.recs[i], &rev, &r) < 0)
			continue;
		struct rfs_version ver;
		rfs_record_version_fill(&ver, &r, &r.events[0], &rev);
		rc = cb(&ver, arg);
		rfs_record_clear(&r);
		shown++;
	}
	view_free(&iv);
	return rc;
}
