/*
** read: the read side of history: resolve revisions and dates, find a clear
** path in a commit's tree, reassemble and decrypt content, materialise a
** commit, restore into live/ when the vault is not mounted.
** Must never: return bytes that did not authenticate, or write outside the
** target it was given.
*/
#include "fs/history/internal.h"
#include "fs/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/io.h"
#include "crypto/keystore.h"
#include "crypto/names.h"
#include "crypto/secmem.h"

/* -ENODATA: the object is not in history.git at all (missing, not damaged). */
static int read_blob(struct rfs_history *h, const git_oid *oid, git_blob **out)
{
	int rc = git_blob_lookup(out, h->repo, oid);
	return rc == GIT_ENOTFOUND ? -ENODATA : rc < 0 ? -EIO : 0;
}

int rfs_read_dirid_of(struct rfs_history *h, git_tree *dir, uint8_t dirid[16])
{
	const git_tree_entry *e = git_tree_entry_byname(dir, RFS_DIRID_FILE);
	git_blob *b = NULL;
	if (!e || read_blob(h, git_tree_entry_id(e), &b) < 0)
		return -EIO;
	int rc = git_blob_rawsize(b) == 16 ? 0 : -EIO;
	if (rc == 0)
		memcpy(dirid, git_blob_rawcontent(b), 16);
	git_blob_free(b);
	return rc;
}

/* The sealed text of a backing name: itself, or a long name's ".n" file. */
static int sealed_text(struct rfs_history *h, git_tree *dir, const char *backing, char *out, size_t outsz)
{
	if (!rfs_name_is_long(backing)) {
		snprintf(out, outsz, "%s", backing);
		return 0;
	}
	char side[300];
	snprintf(side, sizeof side, "%s%s", backing, RFS_LONG_SUFFIX);
	const git_tree_entry *e = git_tree_entry_byname(dir, side);
	git_blob *b = NULL;
	if (!e || read_blob(h, git_tree_entry_id(e), &b) < 0)
		return -EIO;
	size_t n = (size_t)git_blob_rawsize(b);
	int rc = n < outsz ? 0 : -EIO;
	if (rc == 0) {
		memcpy(out, git_blob_rawcontent(b), n);
		out[n] = 0;
		out[strcspn(out, "\n")] = 0;
	}
	git_blob_free(b);
	return rc;
}

char *rfs_read_clear_of(struct rfs_history *h, git_tree *root, const char *cpath)
{
	size_t cap = strlen(cpath) * 2 + 260, len = 0;
	char *clear = malloc(cap), *copy = strdup(cpath);
	git_tree *dir = root;
	int rc = clear && copy ? 0 : -ENOMEM;
	if (rc == 0)
		clear[0] = 0;
	char *save = NULL;
	for (char *c = copy ? strtok_r(copy, "/", &save) : NULL; c && rc == 0; c = strtok_r(NULL, "/", &save)) {
		uint8_t dirid[16];
		char text[RFS_ENC_NAME_MAX + 1], name[256];
		rc = rfs_read_dirid_of(h, dir, dirid);
		if (rc == 0)
			rc = sealed_text(h, dir, c, text, sizeof text);
		if (rc == 0 && rfs_vault_name_open(h->v, dirid, text, name, sizeof name) < 0)
			rc = -EIO;
		if (rc == 0 && len + strlen(name) + 2 > cap)
			rc = -ENAMETOOLONG;
		if (rc == 0)
			len += (size_t)snprintf(clear + len, cap - len, "/%s", name);
		const git_tree_entry *e = rc == 0 ? git_tree_entry_byname(dir, c) : NULL;
		git_tree *next = NULL;
		if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE)
			git_tree_lookup(&next, h->repo, git_tree_entry_id(e));
		if (dir != root)
			git_tree_free(dir);
		dir = next;
		if (!dir)
			break;                       /* the last component */
	}
	if (dir && dir != root)
		git_tree_free(dir);
	free(copy);
	if (rc == 0 && len == 0)
		snprintf(clear, cap, "/");
	if (rc < 0) {
		free(clear);
		return NULL;
	}
	return clear;
}

int rfs_read_resolve_clear(struct rfs_history *h, git_tree *root, const char *clear_path,
                           char *cpath, size_t cpathsz, git_tree_entry **out, uint8_t gone[16])
{
	char *copy = strdup(clear_path), *save = NULL;
	if (!copy)
		return -ENOMEM;
	git_tree *dir = root;
	git_tree_entry *found = NULL;
	size_t len = 0;
	int rc = 0;
	cpath[0] = 0;
	for (char *c = strtok_r(copy, "/", &save); c && rc == 0; c = strtok_r(NULL, "/", &save)) {
		if (found) {                     /* the previous component must be a folder */
			bool folder = git_tree_entry_type(found) == GIT_OBJECT_TREE &&
			              !rfs_objects_is_chunked(h->repo, found);
			git_tree *next = NULL;
			if (!folder || git_tree_lookup(&next, h->repo, git_tree_entry_id(found)) < 0)
				rc = folder ? -EIO : -ENOTDIR;
			git_tree_entry_free(found);
			found = NULL;
			if (dir != root)
				git_tree_free(dir);
			dir = next;
			if (rc < 0)
				break;
		}
		uint8_t dirid[16];
		char text[RFS_ENC_NAME_MAX + 1], backing[256];
		rc = rfs_read_dirid_of(h, dir, dirid);
		int sealed = rc == 0 ? rfs_vault_name_seal(h->v, dirid, c, text, sizeof text) : 0;
		if (sealed == -ENOENT) {          /* the folder's key was destroyed: nothing in it can be found */
			rc = -EKEYREVOKED;
			if (gone)
				memcpy(gone, dirid, 16);
		} else if (sealed < 0) {
			rc = -EINVAL;
		}
		if (rc < 0)
			break;
		rfs_name_backing(backing, text);
		const git_tree_entry *e = git_tree_entry_byname(dir, backing);
		if (!e) {
			rc = -ENOENT;
			break;
		}
		if (git_tree_entry_dup(&found, e) < 0 || len + strlen(backing) + 2 > cpathsz) {
			rc = -ENAMETOOLONG;
			break;
		}
		len += (size_t)snprintf(cpath + len, cpathsz - len, "%s%s", len ? "/" : "", backing);
	}
	if (dir != root)
		git_tree_free(dir);
	free(copy);
	if (rc == 0 && !found)
		rc = -EISDIR;                    /* the root itself */
	if (rc < 0) {
		git_tree_entry_free(found);
		return rc;
	}
	*out = found;
	return 0;
}

/* ---- revisions and dates ---- */

/* "YYYY-MM-DD" means the end of that day, "YYYY-MM-DDTHH:MM" the end of that
** minute, "YYYY-MM-DDTHH:MM:SS" that second; local time. */
static int parse_date(const char *s, time_t *out)
{
	int y, mo, d, hh = 23, mi = 59, ss = 59, n = 0, m = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -EINVAL;
	if (s[10]) {
		if ((s[10] != 'T' && s[10] != ' ') || sscanf(s + 11, "%2d:%2d%n", &hh, &mi, &m) != 2 || m != 5)
			return -EINVAL;
		if (s[16] && (s[16] != ':' || sscanf(s + 17, "%2d%n", &ss, &m) != 1 || m != 2 || s[19]))
			return -EINVAL;
	}
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    hh > 23 || mi > 59 || ss > 60)
		return -EINVAL;          /* 2023-02-30 is no day: never let mktime roll it over */
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = hh,
	                 .tm_min = mi, .tm_sec = ss, .tm_isdst = -1 };
	*out = mktime(&tm);
	return *out == (time_t)-1 ? -EINVAL : 0;
}

static bool looks_like_date(const char *s)
{
	return strlen(s) >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-';
}

static int resolve_locked(struct rfs_history *h, const char *spec, git_oid *out)
{
	if (!h->head_seq)
		return -ENOENT;
	if (spec && !spec[0])
		return -EINVAL;          /* an empty revision is a mistake, never "the newest" */
	if (!spec || !strcmp(spec, "HEAD")) {
		*out = h->head;
		return 0;
	}
	if (looks_like_date(spec)) {
		time_t when;
		if (parse_date(spec, &when) < 0)
			return -EINVAL;
		git_revwalk *w = NULL;
		if (git_revwalk_new(&w, h->repo) < 0 || git_revwalk_push(w, &h->head) < 0) {
			git_revwalk_free(w);
			return -EIO;
		}
		int rc = -ENOENT;
		git_oid oid;
		while (rc == -ENOENT && git_revwalk_next(&oid, w) == 0) {
			git_commit *c = NULL;
			if (git_commit_lookup(&c, h->repo, &oid) == 0 && git_commit_time(c) <= when) {
				*out = oid;
				rc = 0;
			}
			git_commit_free(c);
		}
		git_revwalk_free(w);
		return rc;
	}
	size_t len = strlen(spec);
	git_oid prefix;
	if (len < 4 || len > 40 || strspn(spec, "0123456789abcdef") != len ||
	    git_oid_fromstrn(&prefix, spec, len) < 0)
		return -EINVAL;
	git_object *obj = NULL;
	int rc = git_object_lookup_prefix(&obj, h->repo, &prefix, len, GIT_OBJECT_COMMIT);
	if (rc < 0)
		return rc == GIT_EAMBIGUOUS ? -EINVAL : -ENOENT;
	*out = *git_object_id(obj);
	git_object_free(obj);
	return 0;
}

int rfs_history_resolve(struct rfs_history *h, const char *rev_or_date, char rev[RFS_REV_HEX + 1])
{
	git_oid oid;
	pthread_mutex_lock(&h->git_lock);
	int rc = resolve_locked(h, rev_or_date, &oid);
	pthread_mutex_unlock(&h->git_lock);
	if (rc == 0)
		git_oid_tostr(rev, RFS_REV_HEX + 1, &oid);
	return rc;
}

/* The entry of clear_path at rev. Caller holds git_lock. -EKEYREVOKED: a
** folder on the way was destroyed (its id in gone, when not NULL). */
static int entry_at_rev_gone(struct rfs_history *h, const char *rev, const char *clear_path,
                             git_tree_entry **e, char *cpath, size_t cpathsz, uint8_t gone[16])
{
	git_oid oid;
	int rc = resolve_locked(h, rev, &oid);
	if (rc < 0)
		return rc;
	git_commit *c = NULL;
	git_tree *root = NULL;
	if (git_commit_lookup(&c, h->repo, &oid) < 0 || git_commit_tree(&root, c) < 0)
		rc = -EIO;
	if (rc == 0)
		rc = rfs_read_resolve_clear(h, root, clear_path, cpath, cpathsz, e, gone);
	git_tree_free(root);
	git_commit_free(c);
	return rc;
}

int rfs_read_root_at(struct rfs_history *h, const char *rev, git_tree **root)
{
	git_oid oid;
	int rc = resolve_locked(h, rev, &oid);
	git_commit *c = NULL;
	*root = NULL;
	if (rc == 0 && (git_commit_lookup(&c, h->repo, &oid) < 0 || git_commit_tree(root, c) < 0))
		rc = -EIO;
	git_commit_free(c);
	return rc;
}

static int entry_at_rev(struct rfs_history *h, const char *rev, const char *clear_path,
                        git_tree_entry **e, char *cpath, size_t cpathsz)
{
	return entry_at_rev_gone(h, rev, clear_path, e, cpath, cpathsz, NULL);
}

/* ---- content ---- */

/* Feed the ciphertext of an entry, piece by piece (one blob per chunk). */
typedef int (*piece_cb)(void *arg, const uint8_t *p, size_t n);

struct pieces {
	struct rfs_history *h;
	piece_cb cb;                      /* NULL: only add the chunk sizes to *size */
	void *arg;
	uint64_t *size;
};

static int piece_blob(struct pieces *w, const git_oid *oid)
{
	if (!w->cb) {
		size_t len;
		git_object_t type;
		int rc = git_odb_read_header(&len, &type, w->h->odb, oid);
		if (rc < 0 || type != GIT_OBJECT_BLOB)
			return rc == GIT_ENOTFOUND ? -ENODATA : -EIO;
		*w->size += len;
		return 0;
	}
	git_blob *b = NULL;
	int rc = read_blob(w->h, oid, &b);
	if (rc == 0)
		rc = w->cb(w->arg, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));
	git_blob_free(b);
	return rc;
}

/* One node of a chunk tree, level levels above the chunks: its children are
** named 00, 01, ... in order, all full but the last (all when full). */
static int piece_node(struct pieces *w, const git_oid *oid, unsigned level, bool full, bool top)
{
	git_tree *t = NULL;
	int rc = git_tree_lookup(&t, w->h->repo, oid);
	if (rc < 0)
		return rc == GIT_ENOTFOUND ? -ENODATA : -EIO;
	size_t n = 0, count = git_tree_entrycount(t);
	for (size_t i = 0; i < count && rc == 0; i++) {
		const char *name = git_tree_entry_name(git_tree_entry_byindex(t, i));
		if (top && name[0] == '.')
			continue;                    /* the marker */
		if (rfs_tree_chunk_child_pos(name, strlen(name)) != (int)n++)
			rc = -EIO;
	}
	if (rc == 0 && (n == 0 || n > RFS_CHUNK_FANOUT || (full && n != RFS_CHUNK_FANOUT)))
		rc = -EIO;
	size_t k = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		const git_tree_entry *c = git_tree_entry_byindex(t, i);
		if (top && git_tree_entry_name(c)[0] == '.')
			continue;
		bool last = ++k == n;
		if (level == 1)
			rc = git_tree_entry_type(c) == GIT_OBJECT_BLOB ? piece_blob(w, git_tree_entry_id(c)) : -EIO;
		else
			rc = git_tree_entry_type(c) == GIT_OBJECT_TREE
			     ? piece_node(w, git_tree_entry_id(c), level - 1, full || !last, false) : -EIO;
	}
	git_tree_free(t);
	return rc;
}

/* A chunk tree's marker: format 2, or a clear refusal of format 1. */
static int chunk_format(struct rfs_history *h, const git_oid *tree)
{
	git_tree *t = NULL;
	if (git_tree_lookup(&t, h->repo, tree) < 0)
		return -EIO;
	const git_tree_entry *m = git_tree_entry_byname(t, RFS_CHUNK_MARKER);
	git_blob *b = NULL;
	int rc = m ? read_blob(h, git_tree_entry_id(m), &b) : -EIO;
	size_t len = rc == 0 ? (size_t)git_blob_rawsize(b) : 0;
	const void *text = rc == 0 ? git_blob_rawcontent(b) : NULL;
	if (rc == 0 && !(len == sizeof RFS_CHUNK_MARKER_TEXT - 1 && !memcmp(text, RFS_CHUNK_MARKER_TEXT, len))) {
		rc = -EIO;
		if (len == sizeof RFS_CHUNK_MARKER_TEXT_V1 - 1 && !memcmp(text, RFS_CHUNK_MARKER_TEXT_V1, len)) {
			char hex[GIT_OID_HEXSZ + 1];
			rfs_log(LOG_ERR, "history: chunked file %s in %s/%s is of history format 1; this recfs "
			        "reads format 2 only (vaults of format 1 are refused at mount)",
			        git_oid_tostr(hex, sizeof hex, tree), h->v->path, RFS_HISTORY_DIR);
			rc = -EPROTONOSUPPORT;
		}
	}
	git_blob_free(b);
	git_tree_free(t);
	return rc;
}

static int walk_pieces(struct pieces *w, const git_tree_entry *e)
{
	if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		return piece_blob(w, git_tree_entry_id(e));
	unsigned depth;
	uint64_t n;
	int rc = chunk_format(w->h, git_tree_entry_id(e));
	if (rc == 0)
		rc = rfs_tree_chunk_shape(w->h, git_tree_entry_id(e), &depth, &n, NULL);
	return rc < 0 ? rc : piece_node(w, git_tree_entry_id(e), depth, false, true);
}

static int for_each_piece(struct rfs_history *h, const git_tree_entry *e, piece_cb cb, void *arg)
{
	struct pieces w = { h, cb, arg, NULL };
	return walk_pieces(&w, e);
}

/* The first chunk of a chunked file (its header): down the first children. */
static int first_chunk(struct rfs_history *h, const git_tree_entry *e, git_oid *out)
{
	*out = *git_tree_entry_id(e);
	for (unsigned d = 0; d <= RFS_CHUNK_DEPTH_MAX; d++) {
		git_tree *t = NULL;
		if (git_tree_lookup(&t, h->repo, out) < 0)
			return -EIO;
		const git_tree_entry *c = git_tree_entry_byname(t, "00");
		bool blob = c && git_tree_entry_type(c) == GIT_OBJECT_BLOB;
		if (c)
			*out = *git_tree_entry_id(c);
		git_tree_free(t);
		if (!c)
			return -EIO;
		if (blob)
			return 0;
	}
	return -EIO;
}

static int put_fd(void *arg, const uint8_t *p, size_t n)
{
	return rfs_io_write_all(*(int *)arg, p, n);
}

/* Streaming decryption: slots may straddle nothing (chunks hold whole slots),
** but keep a carry buffer so any piece size works. */
struct decrypt {
	struct rfs_history *h;
	int out_fd;
	rfs_history_put_fn put;           /* NULL: to out_fd */
	void *put_arg;
	uint64_t total, seen, slot;
	uint8_t *key;
	struct rfs_header hdr;
	uint8_t carry[RFS_SLOT_SIZE];
	size_t ncarry;
	bool have_hdr;
	uint8_t hbuf[RFS_HEADER_SIZE];
};

static int open_slot(struct decrypt *d, const uint8_t *ct, size_t len)
{
	uint8_t plain[RFS_BLOCK_SIZE];
	bool final = d->seen == d->total;
	if (!final && rfs_content_slot_is_hole(ct, len)) {
		memset(plain, 0, sizeof plain);
		len = RFS_SLOT_SIZE;
	} else if (len <= RFS_BLOCK_OVERHEAD ||
	           rfs_content_block_open(plain, ct, len, d->slot, final, d->hdr.file_id, d->key) < 0) {
		return -EIO;
	}
	d->slot++;
	int rc = d->put ? d->put(d->put_arg, plain, len - RFS_BLOCK_OVERHEAD)
	                : rfs_io_write_all(d->out_fd, plain, len - RFS_BLOCK_OVERHEAD);
	rfs_secmem_wipe(plain, sizeof plain);
	return rc;
}

static int start_key(struct decrypt *d)
{
	if (rfs_content_header_parse(&d->hdr, d->hbuf, RFS_HEADER_SIZE) < 0)
		return -EIO;
	d->key = rfs_secmem_key_alloc();
	if (!d->key)
		return -ENOMEM;
	int rc = rfs_keystore_load(d->h->v->ks, d->hdr.file_id, d->key);
	if (rc == -ENOENT)                   /* shredded: every version is noise now */
		return rfs_history_disposed_by(d->h, d->hdr.file_id) ? -EKEYREVOKED : -EKEYREJECTED;
	if (rc < 0)
		return rc;
	return rfs_content_header_verify(d->hbuf, d->key) < 0 ? -EIO : 0;
}

/* Move bytes from *p into buf until it holds want; returns how many moved. */
static size_t gather(uint8_t *buf, size_t *have, size_t want, const uint8_t **p, size_t *n)
{
	size_t take = want - *have < *n ? want - *have : *n;
	memcpy(buf + *have, *p, take);
	*have += take;
	*p += take;
	*n -= take;
	return take;
}

static int put_plain(void *arg, const uint8_t *p, size_t n)
{
	struct decrypt *d = arg;
	while (n) {
		if (!d->have_hdr) {
			d->seen += gather(d->hbuf, &d->ncarry, RFS_HEADER_SIZE, &p, &n);
			if (d->ncarry < RFS_HEADER_SIZE)
				continue;
			d->have_hdr = true;
			d->ncarry = 0;
			int rc = start_key(d);
			if (rc < 0)
				return rc;
			continue;
		}
		d->seen += gather(d->carry, &d->ncarry, RFS_SLOT_SIZE, &p, &n);
		if (d->ncarry == RFS_SLOT_SIZE || d->seen == d->total) {
			int rc = open_slot(d, d->carry, d->ncarry);
			d->ncarry = 0;
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Ciphertext size of an entry (from object headers, reading no content). */
static int entry_size_of(struct rfs_history *h, const git_tree_entry *e, uint64_t *size)
{
	*size = 0;
	struct pieces w = { h, NULL, NULL, size };
	return walk_pieces(&w, e);
}

/* Ciphertext size of an entry, 0 when it cannot be known. */
static uint64_t entry_size(struct rfs_history *h, const git_tree_entry *e)
{
	uint64_t total;
	return entry_size_of(h, e, &total) == 0 ? total : 0;
}

/* A symlink's target is sealed under the keys of the folder it is in. */
static int symlink_target(struct rfs_history *h, const git_tree_entry *e, const uint8_t dirid[16],
                          int out_fd)
{
	git_blob *b = NULL;
	int rc = read_blob(h, git_tree_entry_id(e), &b);
	char text[8192], target[4097];
	size_t n = rc == 0 ? (size_t)git_blob_rawsize(b) : 0;
	if (rc == 0 && n >= sizeof text)
		rc = -EIO;
	if (rc == 0) {
		memcpy(text, git_blob_rawcontent(b), n);
		text[n] = 0;
		int len = rfs_vault_target_open(h->v, dirid, text, target, sizeof target);
		rc = len < 0 ? -EIO : rfs_io_write_all(out_fd, (const uint8_t *)target, (size_t)len);
	}
	git_blob_free(b);
	return rc;
}

static int decrypt_entry(struct rfs_history *h, const git_tree_entry *e, int out_fd,
                         rfs_history_put_fn put, void *put_arg);

static int read_entry(struct rfs_history *h, const git_tree_entry *e, const uint8_t *dirid,
                      int out_fd, bool plain)
{
	if (!plain)
		return for_each_piece(h, e, put_fd, &out_fd);
	if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
		return dirid ? symlink_target(h, e, dirid, out_fd) : -EIO;
	return decrypt_entry(h, e, out_fd, NULL, NULL);
}

/* A file's plaintext, slot by slot, to out_fd or put. */
static int decrypt_entry(struct rfs_history *h, const git_tree_entry *e, int out_fd,
                         rfs_history_put_fn put, void *put_arg)
{
	if (git_tree_entry_type(e) == GIT_OBJECT_TREE && !rfs_objects_is_chunked(h->repo, e))
		return -EISDIR;
	struct decrypt *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->h = h;
	d->out_fd = out_fd;
	d->put = put;
	d->put_arg = put_arg;
	int rc = entry_size_of(h, e, &d->total);
	bool empty = rc == 0 && d->total == 0;   /* a 0-byte file is an empty file (FORMAT.md 5) */
	if (rc == 0 && !empty)
		rc = d->total < RFS_HEADER_SIZE ? -EIO : for_each_piece(h, e, put_plain, d);
	if (rc == 0 && !empty && (d->ncarry || !d->have_hdr))
		rc = -EIO;
	if (rc == 0 && d->total == RFS_HEADER_SIZE && (d->hdr.flags & RFS_HDR_NONEMPTY))
		rc = -EIO;                       /* cut back to the header */
	rfs_secmem_key_free(d->key);
	rfs_secmem_wipe(d, sizeof *d);
	free(d);
	return rc;
}

static int dirid_in_commit(struct rfs_history *h, git_commit *c, const char *cpath,
                           uint8_t dirid[16]);

/* The id of the folder that holds cpath at rev. 0 or -errno. */
static int parent_dirid_at(struct rfs_history *h, const char *rev, const char *cpath,
                           uint8_t dirid[16])
{
	char parent[8192];
	const char *slash = strrchr(cpath, '/');
	git_commit *c = NULL;
	git_oid oid;
	int rc = resolve_locked(h, rev, &oid);
	snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - cpath) : 0, cpath);
	if (rc == 0 && git_commit_lookup(&c, h->repo, &oid) < 0)
		rc = -EIO;
	if (rc == 0)
		rc = dirid_in_commit(h, c, parent, dirid);
	git_commit_free(c);
	return rc;
}

static int read_common(struct rfs_history *h, const char *rev, const char *clear_path, int out_fd,
                       bool plain)
{
	char cpath[8192];
	uint8_t dirid[16];
	git_tree_entry *e = NULL;
	pthread_mutex_lock(&h->git_lock);
	int rc = entry_at_rev(h, rev, clear_path, &e, cpath, sizeof cpath);
	bool have_dirid = rc == 0 && plain && git_tree_entry_filemode(e) == GIT_FILEMODE_LINK &&
	                  parent_dirid_at(h, rev, cpath, dirid) == 0;
	if (rc == 0)
		rc = read_entry(h, e, have_dirid ? dirid : NULL, out_fd, plain);
	git_tree_entry_free(e);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

int rfs_history_read(struct rfs_history *h, const char *rev, const char *clear_path, int out_fd)
{
	return read_common(h, rev, clear_path, out_fd, true);
}

int rfs_history_read_cipher(struct rfs_history *h, const char *rev, const char *clear_path,
                            int out_fd)
{
	return read_common(h, rev, clear_path, out_fd, false);
}

/* The folder at cpath in commit c, and its 16-byte .dirid: 0, or -ENOENT. */
int rfs_read_dirid_in_tree(struct rfs_history *h, git_tree *root, const char *cpath, uint8_t dirid[16])
{
	git_tree *dir = NULL;
	git_tree_entry *e = NULL;
	int rc = 0;
	if (cpath[0] &&
	    (git_tree_entry_bypath(&e, root, cpath) < 0 || git_tree_entry_type(e) != GIT_OBJECT_TREE ||
	     rfs_objects_is_chunked(h->repo, e) || git_tree_lookup(&dir, h->repo, git_tree_entry_id(e)) < 0))
		rc = -ENOENT;
	if (rc == 0 && rfs_read_dirid_of(h, dir ? dir : root, dirid) < 0)
		rc = -ENOENT;
	git_tree_free(dir);
	git_tree_entry_free(e);
	return rc;
}

void rfs_read_parent_dirid(struct rfs_history *h, git_tree *root, const char *cpath, uint8_t dir[16])
{
	memset(dir, 0, 16);
	if (!cpath[0])
		return;
	const char *slash = strrchr(cpath, '/');
	char parent[8192];
	size_t len = slash ? (size_t)(slash - cpath) : 0;
	if (len >= sizeof parent)
		return;
	memcpy(parent, cpath, len);
	parent[len] = 0;
	if (rfs_read_dirid_in_tree(h, root, parent, dir) < 0)
		memset(dir, 0, 16);
}

static int dirid_in_commit(struct rfs_history *h, git_commit *c, const char *cpath,
                           uint8_t dirid[16])
{
	git_tree *root = NULL;
	int rc = git_commit_tree(&root, c) < 0 ? -ENOENT : 0;
	if (rc == 0)
		rc = rfs_read_dirid_in_tree(h, root, cpath, dirid);
	git_tree_free(root);
	return rc;
}

int rfs_history_dirid_at(struct rfs_history *h, const char *cpath, uint8_t dirid[16])
{
	git_commit *c = NULL;
	int rc = -ENOENT;
	pthread_mutex_lock(&h->git_lock);
	if (h->head_seq && git_commit_lookup(&c, h->repo, &h->head) == 0) {
		/* The newest commit whose copy of it is whole: a recovery may have
		** recorded the damaged one since. Bounded: an id is never changed. */
		for (int n = 0; c && n < 4096; n++) {
			rc = dirid_in_commit(h, c, cpath, dirid);
			git_commit *parent = NULL;
			if (rc == 0 || git_commit_parentcount(c) == 0 || git_commit_parent(&parent, c, 0) < 0)
				break;
			git_commit_free(c);
			c = parent;
		}
	}
	git_commit_free(c);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

/* ---- stat: the tree says what is there; the newest event at or before rev
** for the path (or its file) says mode, owner and times ---- */

struct stat_find {
	uint64_t max_seq;
	struct rfs_version *out;
	bool found;
};

static int take_version(const struct rfs_version *v, void *arg)
{
	struct stat_find *f = arg;
	if (v->seq > f->max_seq)
		return 0;
	f->out->mode = v->mode;
	f->out->uid = v->uid;
	f->out->gid = v->gid;
	f->out->mtime = v->mtime;
	f->out->time = v->time;
	f->out->tz_offset = v->tz_offset;
	f->out->kind = v->kind;
	f->found = true;
	return 1;
}

int rfs_history_stat(struct rfs_history *h, const char *rev, const char *clear_path,
                     struct rfs_version *out)
{
	char cpath[8192];
	git_tree_entry *e = NULL;
	git_oid oid;
	struct rfs_record r = { 0 };
	memset(out, 0, sizeof *out);
	out->login = out->full_name = out->host = out->path_old = out->restored_from = out->property = "";
	out->path = clear_path;
	pthread_mutex_lock(&h->git_lock);
	uint8_t gone[16];
	int rc = resolve_locked(h, rev, &oid);
	if (rc == 0)
		rc = entry_at_rev_gone(h, rev, clear_path, &e, cpath, sizeof cpath, gone);
	if (rc == -EKEYREVOKED || rc == 0)
		rc = rfs_objects_read_record(h, &oid, &r) < 0 ? -EIO : rc;
	if (rc == -EKEYREVOKED) {            /* inside a destroyed folder: that, and nothing more */
		out->destroyed = true;
		out->disposal = rfs_history_disposed_by(h, gone);
		memcpy(out->dir, gone, 16);
		out->seq = r.seq;
		git_oid_tostr(out->rev, sizeof out->rev, &oid);
		rfs_record_clear(&r);
		pthread_mutex_unlock(&h->git_lock);
		out->path = "";
		return 0;
	}
	if (rc == 0) {
		git_filemode_t fm = git_tree_entry_filemode(e);
		bool chunked = fm == GIT_FILEMODE_TREE && rfs_objects_is_chunked(h->repo, e);
		out->type = fm == GIT_FILEMODE_LINK ? RFS_OBJ_SYMLINK
		            : fm == GIT_FILEMODE_TREE && !chunked ? RFS_OBJ_DIR : RFS_OBJ_FILE;
		if (out->type == RFS_OBJ_FILE) {
			bool valid;
			uint64_t csize = entry_size(h, e);
			out->size = rfs_content_plain_size(csize, &valid);
			uint8_t hdr[RFS_HEADER_SIZE];
			struct rfs_header hd;
			git_blob *b = NULL;
			git_oid first = *git_tree_entry_id(e);
			if ((!chunked || first_chunk(h, e, &first) == 0) && read_blob(h, &first, &b) == 0 &&
			    git_blob_rawsize(b) >= RFS_HEADER_SIZE) {
				memcpy(hdr, git_blob_rawcontent(b), RFS_HEADER_SIZE);
				if (rfs_content_header_parse(&hd, hdr, sizeof hdr) == 0)
					memcpy(out->file_id, hd.file_id, 16);
			}
			out->disposal = rfs_history_disposed_by(h, out->file_id);
			out->destroyed = out->disposal != 0;
			git_blob_free(b);
		}
		out->seq = r.seq;
		git_oid_tostr(out->rev, sizeof out->rev, &oid);
	}
	git_tree_entry_free(e);
	rfs_record_clear(&r);
	pthread_mutex_unlock(&h->git_lock);
	if (rc < 0)
		return rc;
	out->mode = out->type == RFS_OBJ_DIR ? S_IFDIR | 0755 : out->type == RFS_OBJ_SYMLINK ? S_IFLNK | 0777 : S_IFREG | 0644;
	struct stat_find f = { out->seq, out, false };
	rc = rfs_history_log(h, clear_path, 0, take_version, &f);
	out->kind = f.found ? out->kind : RFS_SAVE_RECOVERED;
	return rc < 0 ? rc : 0;
}

/* ---- materialise: a commit's ciphertext tree as a live/-shaped folder ---- */

struct meta {
	uint8_t id[16];
	size_t order;                     /* 0 = newest */
	uint32_t mode, uid, gid;
	struct timespec mtime;
};

struct meta_map {
	struct meta *m;
	size_t n, cap;
	uint64_t max_seq;
	int err;
};

static int meta_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static int collect_meta(const struct rfs_version *v, void *arg)
{
	struct meta_map *mm = arg;
	static const uint8_t zero[16];
	if (v->seq > mm->max_seq || !memcmp(v->file_id, zero, 16) || v->kind == RFS_SAVE_DELETED)
		return 0;
	if (rfs_bytes_grow(&mm->m, &mm->cap, mm->n, sizeof *mm->m, 256) < 0)
		return mm->err = -ENOMEM;
	struct meta *x = &mm->m[mm->n++];
	memcpy(x->id, v->file_id, 16);
	x->order = mm->n - 1;
	x->mode = v->mode;
	x->uid = v->uid;
	x->gid = v->gid;
	x->mtime = v->mtime;
	return 0;
}

static int meta_order_cmp(const void *a, const void *b)
{
	const struct meta *x = a, *y = b;
	int c = memcmp(x->id, y->id, 16);
	return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

/* Keep the newest event of each id, sorted by id for bsearch. */
static void meta_sort(struct meta_map *mm)
{
	qsort(mm->m, mm->n, sizeof *mm->m, meta_order_cmp);
	size_t u = 0;
	for (size_t i = 0; i < mm->n; i++)
		if (u == 0 || memcmp(mm->m[u - 1].id, mm->m[i].id, 16))
			mm->m[u++] = mm->m[i];
	mm->n = u;
}

static const struct meta *meta_find(const struct meta_map *mm, const uint8_t id[16])
{
	return mm->n ? bsearch(id, mm->m, mm->n, sizeof *mm->m, meta_cmp) : NULL;
}

static void apply_meta(const struct meta_map *mm, int dirfd, const char *name, const uint8_t id[16],
                       bool is_dir)
{
	const struct meta *m = meta_find(mm, id);
	mode_t mode = m ? (mode_t)(m->mode & 07777) : is_dir ? 0755 : 0644;
	/* Best effort: a view shows content first; a mode or owner it cannot set is no reason to stop. */
	int ignored = fchmodat(dirfd, name, mode, 0);
	if (m && geteuid() == 0)
		ignored = fchownat(dirfd, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW);
	(void)ignored;
	if (m) {
		struct timespec ts[2] = { m->mtime, m->mtime };
		utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	}
}

static int materialise_tree(struct rfs_history *h, git_tree *t, int dirfd, const struct meta_map *mm);

#define SKIPPED 1                        /* materialise_entry: destroyed, left out */

/* A folder whose key is gone: destroyed by a disposal (or lost: verify says which). */
static bool folder_destroyed(struct rfs_history *h, const uint8_t dirid[16])
{
	const struct rfs_folder_keys *fk;
	int rc = rfs_vault_folder_keys_get(h->v, dirid, &fk);
	if (rc == 0)
		rfs_vault_folder_keys_put(h->v, fk);
	return rc == -ENOENT;
}

static int materialise_entry(struct rfs_history *h, const git_tree_entry *e, int dirfd,
                             const struct meta_map *mm)
{
	const char *name = git_tree_entry_name(e);
	git_filemode_t fm = git_tree_entry_filemode(e);
	int rc = 0;
	if (rfs_xattrs_is_side(name))
		return 0;                        /* put on their owners once these are made */
	if (fm == GIT_FILEMODE_LINK) {
		git_blob *b = NULL;
		rc = read_blob(h, git_tree_entry_id(e), &b);
		char text[8192];
		size_t n = rc == 0 ? (size_t)git_blob_rawsize(b) : 0;
		if (rc == 0 && n < sizeof text) {
			memcpy(text, git_blob_rawcontent(b), n);
			text[n] = 0;
			rc = symlinkat(text, dirfd, name) < 0 ? -errno : 0;
		}
		git_blob_free(b);
		return rc;
	}
	if (fm == GIT_FILEMODE_TREE && !rfs_objects_is_chunked(h->repo, e)) {
		git_tree *sub = NULL;
		uint8_t id[16];
		rc = git_tree_lookup(&sub, h->repo, git_tree_entry_id(e)) < 0 ? -EIO : 0;
		bool have_id = rc == 0 && rfs_read_dirid_of(h, sub, id) == 0;
		if (have_id && folder_destroyed(h, id)) {
			git_tree_free(sub);
			return SKIPPED;              /* destroyed: absent from the view */
		}
		if (rc == 0 && mkdirat(dirfd, name, 0700) < 0)
			rc = -errno;
		int fd = rc == 0 ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (rc == 0 && fd < 0)
			rc = -errno;
		if (rc == 0)
			rc = materialise_tree(h, sub, fd, mm);
		if (rc == 0 && have_id)
			apply_meta(mm, dirfd, name, id, true);
		git_tree_free(sub);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = for_each_piece(h, e, put_fd, &fd);
	uint8_t hdr[RFS_HEADER_SIZE];
	struct rfs_header hd;
	bool internal = name[0] == '.' && !rfs_name_is_long(name);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	int rfd = rc == 0 && !internal ? openat(dirfd, name, O_RDONLY | O_CLOEXEC) : -1;
	bool destroyed = false;
	if (rfd >= 0 && pread(rfd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
	    rfs_content_header_parse(&hd, hdr, sizeof hdr) == 0) {
		destroyed = rfs_history_disposed_by(h, hd.file_id) != 0;
		apply_meta(mm, dirfd, name, hd.file_id, false);
	}
	if (rfd >= 0)
		close(rfd);
	if (destroyed) {                     /* its key was destroyed: absent from the view */
		unlinkat(dirfd, name, 0);
		return SKIPPED;
	}
	if (internal && fchmodat(dirfd, name, 0400, 0) < 0)
		rc = rc ? rc : -errno;
	return rc;
}

static int materialise_tree(struct rfs_history *h, git_tree *t, int dirfd, const struct meta_map *mm)
{
	int rc = 0;
	bool skipped_long = false;
	for (size_t i = 0; i < git_tree_entrycount(t) && rc >= 0; i++) {
		const char *name = git_tree_entry_name(git_tree_entry_byindex(t, i));
		rc = materialise_entry(h, git_tree_entry_byindex(t, i), dirfd, mm);
		skipped_long |= rc == SKIPPED && rfs_name_is_long(name);
	}
	/* The attributes of each file made, and of the folder, as live/ had them. */
	for (size_t i = 0; rc >= 0 && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(e);
		if (!strncmp(name, RFS_XATTRS_SIDE, sizeof RFS_XATTRS_SIDE - 1))
			rfs_xattrs_put_raw(h, git_tree_entry_id(e), dirfd, name + sizeof RFS_XATTRS_SIDE - 1);
	}
	/* A destroyed entry's long name leaves no ".n" side file behind (it may
	** sort before or after its entry). */
	for (size_t i = 0; skipped_long && rc >= 0 && i < git_tree_entrycount(t); i++) {
		const char *name = git_tree_entry_name(git_tree_entry_byindex(t, i));
		struct stat st;
		char side[300];
		snprintf(side, sizeof side, "%s%s", name, RFS_LONG_SUFFIX);
		if (rfs_name_is_long(name) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			unlinkat(dirfd, side, 0);
	}
	return rc < 0 ? rc : 0;
}

int rfs_history_materialise(struct rfs_history *h, const char *rev, const char *dir)
{
	char hex[RFS_REV_HEX + 1];
	int rc = rfs_history_resolve(h, rev, hex);
	if (rc < 0)
		return rc;
	git_oid oid;
	git_oid_fromstr(&oid, hex);
	struct rfs_record r;
	struct meta_map mm = { 0 };
	pthread_mutex_lock(&h->git_lock);
	rc = rfs_objects_read_record(h, &oid, &r);
	pthread_mutex_unlock(&h->git_lock);
	if (rc < 0)
		return rc;
	mm.max_seq = r.seq;
	rfs_record_clear(&r);
	rc = rfs_history_log(h, NULL, 0, collect_meta, &mm);
	rc = rc < 0 ? rc : mm.err;
	if (rc == 0)
		meta_sort(&mm);
	if (rc == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
		rc = -errno;
	int dfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && dfd < 0)
		rc = -errno;
	pthread_mutex_lock(&h->git_lock);
	git_commit *c = NULL;
	git_tree *root = NULL;
	if (rc == 0 && (git_commit_lookup(&c, h->repo, &oid) < 0 || git_commit_tree(&root, c) < 0))
		rc = -EIO;
	if (rc == 0)
		rc = materialise_tree(h, root, dfd, &mm);
	git_tree_free(root);
	git_commit_free(c);
	pthread_mutex_unlock(&h->git_lock);
	if (dfd >= 0)
		close(dfd);
	free(mm.m);
	return rc;
}

/* ---- views of `mount --at`, and what killed processes leave behind ---- */

#define VIEW_PREFIX "at-"

int rfs_history_view_dir(struct rfs_vault *v, const char *rev, char dir[PATH_MAX])
{
	for (int tries = 0; tries < 8; tries++) {
		snprintf(dir, PATH_MAX, "%s/" VIEW_PREFIX "%.12s-XXXXXX", v->path, rev);
		if (!mkdtemp(dir))
			return -errno;
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			int rc = -errno;
			rmdir(dir);
			return rc;
		}
		struct stat st;
		if (flock(fd, LOCK_EX) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0)
			return fd;
		close(fd);                   /* a cleaner took it for a leftover first: again */
	}
	return -EAGAIN;
}

/* Bytes of the files below name (in dirfd); remove: delete it all. */
static uint64_t tree_bytes(int at, const char *name, bool remove, int depth)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		if (remove)
			(void)unlinkat(at, name, 0);
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	}
	uint64_t sum = 0;
	int fd = depth < 256 ? openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0)
		close(fd);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sum += tree_bytes(dirfd(d), de->d_name, remove, depth + 1);
	if (d)
		closedir(d);
	if (remove)
		(void)unlinkat(at, name, AT_REMOVEDIR);
	return sum;
}

/* Folders of views that no process holds (see rfs_history_view_dir). */
static long view_leftovers(struct rfs_vault *v, bool remove, rfs_leftover_fn fn, void *arg)
{
	int fd = openat(v->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* an offset of its own */
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	long found = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, VIEW_PREFIX, strlen(VIEW_PREFIX)))
			continue;
		int vfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (vfd < 0)
			continue;
		if (flock(vfd, LOCK_EX | LOCK_NB) == 0) {     /* no view holds it */
			found++;
			uint64_t bytes = tree_bytes(dirfd(d), de->d_name, remove, 0);
			if (fn)
				fn(arg, de->d_name, bytes);
		}
		close(vfd);
	}
	closedir(d);
	return found;
}

struct pack_leftover {
	rfs_leftover_fn fn;
	void *arg;
};

static void on_pack_leftover(void *arg, const char *name, uint64_t bytes)
{
	struct pack_leftover *pl = arg;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/objects/pack/%s", RFS_HISTORY_DIR, name);
	if (pl->fn)
		pl->fn(pl->arg, path, bytes);
}

long rfs_history_leftovers(struct rfs_vault *v, bool remove, rfs_leftover_fn fn, void *arg)
{
	long found = 0;
	if (v->lock_fd >= 0) {
		char packdir[PATH_MAX];
		struct pack_leftover pl = { fn, arg };
		snprintf(packdir, sizeof packdir, "%s/%s/objects/pack", v->path, RFS_HISTORY_DIR);
		found = rfs_pack_leftovers(packdir, remove, on_pack_leftover, &pl);
		/* libgit2's lock of the ref, left by a daemon killed (or a power cut)
		** while the ref moved: every later move would fail on it for ever. */
		char ref_lock[PATH_MAX];
		snprintf(ref_lock, sizeof ref_lock, "%s/%s/%s.lock", v->path, RFS_HISTORY_DIR, RFS_HISTORY_REF);
		if (remove)
			(void)unlink(ref_lock);
	}
	long views = found < 0 ? 0 : view_leftovers(v, remove, fn, arg);
	return found < 0 ? found : views < 0 ? views : found + views;
}

/* ---- a folder's tree at a revision, and a version's plaintext to a callback
** (the archive of a service: fs/archive_build.c) ---- */

struct lister {
	struct rfs_history *h;
	struct rfs_history_listing *out;
	size_t cap;
	char path[8192];                  /* the folder being listed, relative ("" the top) */
};

static int list_add(struct lister *w, const char *rel, enum rfs_obj_type type, uint32_t mode,
                    uint64_t size, const uint8_t *file_id, const git_oid *oid)
{
	struct rfs_history_listing *l = w->out;
	if (rfs_bytes_grow(&l->entries, &w->cap, l->count, sizeof *l->entries, 64) < 0)
		return -ENOMEM;
	struct rfs_history_entry *e = &l->entries[l->count];
	memset(e, 0, sizeof *e);
	if (!(e->path = strdup(rel)))
		return -ENOMEM;
	l->count++;
	e->type = type;
	e->mode = mode;
	e->size = size;
	if (file_id)
		memcpy(e->file_id, file_id, 16);
	git_oid_tostr(e->oid, sizeof e->oid, oid);
	return 0;
}

/* A file's plaintext size and header file id, from the ciphertext's first bytes. */
static int file_facts(struct rfs_history *h, const git_tree_entry *e, uint64_t *size, uint8_t id[16])
{
	uint64_t csize;
	bool valid;
	int rc = entry_size_of(h, e, &csize);
	memset(id, 0, 16);
	if (rc < 0)
		return rc;
	*size = rfs_content_plain_size(csize, &valid);
	if (csize == 0)
		return 0;                        /* an empty file: no header, no key */
	git_oid first = *git_tree_entry_id(e);
	git_blob *b = NULL;
	struct rfs_header hd;
	if (rfs_objects_is_chunked(h->repo, e) && first_chunk(h, e, &first) < 0)
		return -EIO;
	rc = read_blob(h, &first, &b);
	if (rc == 0 && (git_blob_rawsize(b) < RFS_HEADER_SIZE ||
	                rfs_content_header_parse(&hd, git_blob_rawcontent(b), RFS_HEADER_SIZE) < 0))
		rc = -EIO;
	if (rc == 0)
		memcpy(id, hd.file_id, 16);
	git_blob_free(b);
	return rc;
}

int rfs_read_file_id(struct rfs_history *h, const git_tree_entry *e, uint8_t id[16])
{
	uint64_t size;
	static const uint8_t zero[16];
	int rc = file_facts(h, e, &size, id);
	return rc < 0 ? rc : memcmp(id, zero, 16) ? 0 : -EIO;   /* an empty file holds no id */
}

/* Every entry of folder t (recursively), names opened under its folder key. A folder
** whose key is gone, and a file whose key a disposal destroyed, are left out. */
static int list_tree(struct lister *w, git_tree *t)
{
	uint8_t dirid[16];
	size_t base = strlen(w->path);
	int rc = rfs_read_dirid_of(w->h, t, dirid);
	for (size_t i = 0; rc == 0 && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *backing = git_tree_entry_name(e);
		char text[RFS_ENC_NAME_MAX + 1], name[256];
		if (rfs_name_is_internal(backing) || rfs_xattrs_is_side(backing))
			continue;
		rc = sealed_text(w->h, t, backing, text, sizeof text);
		if (rc < 0)
			break;
		int o = rfs_vault_name_open(w->h->v, dirid, text, name, sizeof name);
		if (o == -ENOENT)
			return 0;                    /* the folder's key was destroyed: nothing of it */
		if (o < 0)
			return -EIO;
		if (base + strlen(name) + 2 > sizeof w->path)
			return -ENAMETOOLONG;
		snprintf(w->path + base, sizeof w->path - base, "%s%s", base ? "/" : "", name);
		git_filemode_t fm = git_tree_entry_filemode(e);
		if (fm == GIT_FILEMODE_LINK) {
			rc = list_add(w, w->path, RFS_OBJ_SYMLINK, S_IFLNK | 0777, 0, NULL, git_tree_entry_id(e));
		} else if (fm == GIT_FILEMODE_TREE && !rfs_objects_is_chunked(w->h->repo, e)) {
			git_tree *sub = NULL;
			rc = git_tree_lookup(&sub, w->h->repo, git_tree_entry_id(e)) < 0 ? -EIO : 0;
			if (rc == 0)
				rc = list_add(w, w->path, RFS_OBJ_DIR, S_IFDIR | 0755, 0, NULL, git_tree_entry_id(e));
			if (rc == 0)
				rc = list_tree(w, sub);
			git_tree_free(sub);
		} else {
			uint64_t size = 0;
			uint8_t id[16];
			static const uint8_t zero[16];
			rc = file_facts(w->h, e, &size, id);
			if (rc == 0 && (!memcmp(id, zero, 16) || !rfs_history_disposed_by(w->h, id)))
				rc = list_add(w, w->path, RFS_OBJ_FILE,
				              S_IFREG | (fm == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644), size,
				              id, git_tree_entry_id(e));
		}
		w->path[base] = 0;
	}
	return rc;
}

static int entry_path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rfs_history_entry *)a)->path,
	              ((const struct rfs_history_entry *)b)->path);
}

int rfs_history_list(struct rfs_history *h, const char *rev, const char *clear_dir,
                     struct rfs_history_listing *out)
{
	struct lister *w = calloc(1, sizeof *w);
	char cpath[8192];
	git_oid oid;
	git_commit *c = NULL;
	git_tree *root = NULL, *t = NULL;
	git_tree_entry *e = NULL;
	memset(out, 0, sizeof *out);
	if (!w)
		return -ENOMEM;
	w->h = h;
	w->out = out;
	pthread_mutex_lock(&h->git_lock);
	int rc = resolve_locked(h, rev, &oid);
	if (rc == 0 && (git_commit_lookup(&c, h->repo, &oid) < 0 || git_commit_tree(&root, c) < 0))
		rc = -EIO;
	if (rc == 0 && clear_dir[strspn(clear_dir, "/")]) {
		rc = rfs_read_resolve_clear(h, root, clear_dir, cpath, sizeof cpath, &e, NULL);
		if (rc == -EKEYREVOKED)
			rc = -ENOENT;                /* destroyed: as good as absent */
		if (rc == 0 && (git_tree_entry_type(e) != GIT_OBJECT_TREE || rfs_objects_is_chunked(h->repo, e)))
			rc = -ENOTDIR;
		if (rc == 0 && git_tree_lookup(&t, h->repo, git_tree_entry_id(e)) < 0)
			rc = -EIO;
	}
	if (rc == 0)
		rc = list_tree(w, t ? t : root);
	git_tree_free(t);
	git_tree_entry_free(e);
	git_tree_free(root);
	git_commit_free(c);
	pthread_mutex_unlock(&h->git_lock);
	free(w);
	if (rc == 0 && out->count)
		qsort(out->entries, out->count, sizeof *out->entries, entry_path_cmp);
	if (rc < 0)
		rfs_history_listing_free(out);
	return rc;
}

void rfs_history_listing_free(struct rfs_history_listing *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->entries[i].path);
	free(l->entries);
	memset(l, 0, sizeof *l);
}

int rfs_history_plain_size(struct rfs_history *h, const char *rev, const char *clear_path,
                           uint64_t *size)
{
	char cpath[8192];
	git_tree_entry *e = NULL;
	bool valid = false;
	pthread_mutex_lock(&h->git_lock);
	int rc = entry_at_rev(h, rev, clear_path, &e, cpath, sizeof cpath);
	*size = rc == 0 ? rfs_content_plain_size(entry_size(h, e), &valid) : 0;
	git_tree_entry_free(e);
	pthread_mutex_unlock(&h->git_lock);
	return rc < 0 ? rc : valid ? 0 : -EIO;
}

int rfs_history_read_plain(struct rfs_history *h, const char *rev, const char *clear_path,
                           rfs_history_put_fn put, void *arg)
{
	char cpath[8192];
	git_tree_entry *e = NULL;
	pthread_mutex_lock(&h->git_lock);
	int rc = entry_at_rev(h, rev, clear_path, &e, cpath, sizeof cpath);
	if (rc == 0 && git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
		rc = -ELOOP;                     /* a link has no content to give */
	if (rc == 0)
		rc = decrypt_entry(h, e, -1, put, arg);
	git_tree_entry_free(e);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}
