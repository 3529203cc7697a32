/*
** bag: see bag.h.
*/
#include "archive/bag.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/ocfl.h"
#include "archive/tar_out.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"

#define BUF_MAX (1u << 20)       /* a file up to this is read once: digest, then store */
#define LINK_HOPS 40             /* links followed to find what one names, as Linux does */
#define NONE SIZE_MAX

/* A string (or byte string) to index map: open addressing, keys copied. */
struct map_ent {
	char *k;
	size_t klen;
	uint64_t h;
	size_t v;
};
struct map {
	struct map_ent *e;
	size_t cap, n;
};

static uint64_t map_hash(const void *k, size_t n)
{
	const unsigned char *p = k;
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

static struct map_ent *map_slot(struct map_ent *e, size_t cap, const void *k, size_t klen,
                                uint64_t h)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!e[i].k || (e[i].h == h && e[i].klen == klen && memcmp(e[i].k, k, klen) == 0))
			return &e[i];
}

static bool map_get(const struct map *m, const void *k, size_t klen, size_t *v)
{
	struct map_ent *s;

	if (!m->cap)
		return false;
	s = map_slot(m->e, m->cap, k, klen, map_hash(k, klen));
	if (s->k)
		*v = s->v;
	return s->k != NULL;
}

/* Adds k (absent) with v. 0 or -ENOMEM. */
static int map_put(struct map *m, const void *k, size_t klen, size_t v)
{
	uint64_t h = map_hash(k, klen);
	struct map_ent *s;

	if (2 * (m->n + 1) > m->cap) {
		size_t nc = m->cap ? 2 * m->cap : 64;
		struct map_ent *ne = calloc(nc, sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->e[i].k)
				*map_slot(ne, nc, m->e[i].k, m->e[i].klen, m->e[i].h) = m->e[i];
		free(m->e);
		m->e = ne;
		m->cap = nc;
	}
	s = map_slot(m->e, m->cap, k, klen, h);
	if (!(s->k = malloc(klen ? klen : 1)))
		return -ENOMEM;
	memcpy(s->k, k, klen);
	s->klen = klen;
	s->h = h;
	s->v = v;
	m->n++;
	return 0;
}

/* Sets k to v, adding it when absent. 0 or -ENOMEM. */
static int map_set(struct map *m, const void *k, size_t klen, size_t v)
{
	struct map_ent *s;

	if (!m->cap)
		return map_put(m, k, klen, v);
	s = map_slot(m->e, m->cap, k, klen, map_hash(k, klen));
	if (!s->k)
		return map_put(m, k, klen, v);
	s->v = v;
	return 0;
}

static void map_free(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->e[i].k);
	free(m->e);
}

/* One content seen in the bag (one per digest). */
struct content {
	uint8_t digest[64];
	uint64_t size;
	char *hist;                    /* tar path of its first copy in an OCFL object, or NULL */
	mode_t hist_mode;
	int64_t hist_mtime;
	uint64_t object;               /* the last object that stored it (from 1), 0 none */
	size_t ocfl_idx;               /* its index in that object's inventory */
};

enum kind { K_FOLDER, K_FILE, K_LINK };
/* One entry of the tar, by its path in the bag. */
struct ent {
	enum kind kind;
	size_t content;                /* K_FILE */
	char *target;                  /* K_LINK: what it names, from data/records (no "..") */
};

/* One line of manifest-sha512.txt: a file's content, or a link's (known at the end). */
struct mline {
	char *path;                    /* "data/..." */
	size_t content, ent;           /* content NONE: a link, resolved through ent */
};

struct rfs_bag {
	struct rfs_tar *t;
	int rc;                        /* the error after which the tar is broken: sticky */
	char err[512];
	char *name, *org, *extid, *agent, *note;
	int64_t st;
	struct map paths, keys, digests;
	struct map sizes;              /* sizes of stored content: see may_equal */
	struct ent *ents;
	size_t n_ents, cap_ents;
	struct content *cons;
	size_t n_cons, cap_cons;
	struct mline *man;
	size_t n_man, cap_man;
	uint8_t bagit_sum[64];
	FILE *tags;                    /* tag files' lines of the tag manifest */
	char *tags_text;
	size_t tags_len;
	uint64_t tag_bytes;
	uint8_t *buf;                  /* BUF_MAX: a small file between its digest and its store */
	struct rfs_ocfl *ocfl;         /* the open object */
	char *odir;                    /* its folder, "data/history/R" */
	uint64_t objects, versions;
	unsigned version;              /* the open version's number, 0 none */
	uint64_t files_done, bytes_done;
};

/* A refusal: nothing was written, the bag goes on. */
__attribute__((format(printf, 3, 4)))
static int refuse(struct rfs_bag *b, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* A failure after the tar took some of it: every later call fails the same. */
static int broke(struct rfs_bag *b, int rc, const char *path)
{
	if (b->rc == 0) {
		b->rc = rc;
		if (rc == -ENOMEM)
			snprintf(b->err, sizeof(b->err), "no memory to archive %s", path);
		else if (rc != -EIO || !b->err[0])
			snprintf(b->err, sizeof(b->err), "%s cannot be archived: %s", path,
			         strerror(-rc));
	}
	return rc;
}

static bool utf8_ok(const char *s)
{
	for (const unsigned char *q = (const unsigned char *)s; *q;) {
		size_t n = rfs_ocfl_utf8_len(q);

		if (n == 0)
			return false;
		q += n;
	}
	return true;
}

/* A relative path without "", "." or ".." segments, in UTF-8. */
static bool valid_path(const char *p)
{
	const char *seg = p;

	if (!p || !*p || *p == '/' || !utf8_ok(p))
		return false;
	for (;;) {
		const char *end = strchrnul(seg, '/');
		size_t n = (size_t)(end - seg);

		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (!*end)
			return true;
		seg = end + 1;
	}
}

static char *join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static bool find(const struct rfs_bag *b, const char *path, size_t *ent)
{
	return map_get(&b->paths, path, strlen(path), ent);
}

/* Adds the entry path (relative to the bag's folder) to the index. */
static int add_ent(struct rfs_bag *b, const char *path, enum kind kind, size_t content,
                   char *target)
{
	struct ent *e;

	if (rfs_ocfl_grow((void **)&b->ents, b->n_ents, &b->cap_ents, sizeof(*e)) < 0 ||
	    map_put(&b->paths, path, strlen(path), b->n_ents) < 0)
		return -ENOMEM;
	e = &b->ents[b->n_ents++];
	e->kind = kind;
	e->content = content;
	e->target = target;
	return 0;
}

/* The folder path (from the bag's folder) and its parents, each once, as they first appear.
** -ENOTDIR when one is already something else. */
static int folder_at(struct rfs_bag *b, const char *path, int64_t mtime)
{
	const char *slash = strrchr(path, '/');
	char *tar;
	size_t e;
	int rc;

	if (find(b, path, &e))
		return b->ents[e].kind == K_FOLDER ? 0
		       : refuse(b, -ENOTDIR, "%s/%s is a folder and also a file or link", b->name, path);
	if (slash) {
		char *parent = strndup(path, (size_t)(slash - path));

		if (!parent)
			return -ENOMEM;
		rc = folder_at(b, parent, b->st);
		free(parent);
		if (rc < 0)
			return rc;
	}
	if (!(tar = join(b->name, path)))
		return -ENOMEM;
	rc = rfs_tar_folder(b->t, tar, mtime);
	free(tar);
	if (rc < 0)
		return broke(b, rc, path);
	rc = add_ent(b, path, K_FOLDER, NONE, NULL);
	return rc < 0 ? broke(b, rc, path) : 0;
}

/* A new entry's path is free and its parents are folders. */
static int make_room(struct rfs_bag *b, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent;
	size_t e;
	int rc;

	if (find(b, path, &e))
		return refuse(b, -EEXIST, "%s/%s is given twice", b->name, path);
	if (!slash)
		return 0;
	if (!(parent = strndup(path, (size_t)(slash - path))))
		return -ENOMEM;
	rc = folder_at(b, parent, b->st);
	free(parent);
	return rc;
}

static int man_add(struct rfs_bag *b, const char *path, size_t content, size_t ent)
{
	struct mline *m;

	if (rfs_ocfl_grow((void **)&b->man, b->n_man, &b->cap_man, sizeof(*m)) < 0)
		return -ENOMEM;
	m = &b->man[b->n_man];
	if (!(m->path = strdup(path)))
		return -ENOMEM;
	m->content = content;
	m->ent = ent;
	b->n_man++;
	return 0;
}

/* A file held in memory (bagit.txt, tag files, manifests, OCFL's own files). */
static int small_file(struct rfs_bag *b, const char *path, const void *data, size_t len,
                      int64_t mtime, uint8_t sum[64])
{
	struct rfs_sha512 sha;
	char *tar;
	int rc;

	if ((rc = make_room(b, path)) < 0)
		return rc;
	if (!(tar = join(b->name, path)))
		return broke(b, -ENOMEM, path);
	rc = rfs_tar_file_begin(b->t, tar, 0644, mtime, len);
	if (rc == 0)
		rc = rfs_tar_data(b->t, data, len);
	if (rc == 0)
		rc = rfs_tar_file_end(b->t);
	free(tar);
	if (rc == 0)
		rc = add_ent(b, path, K_FILE, NONE, NULL);
	if (rc < 0)
		return broke(b, rc, path);
	rfs_sha512_init(&sha);
	rfs_sha512_update(&sha, data, len);
	rfs_sha512_final(&sha, sum);
	return 0;
}

/* The content with this digest: found, or added. */
static int content_add(struct rfs_bag *b, const uint8_t d[64], uint64_t size, size_t *ci)
{
	struct content *c;

	if (map_get(&b->digests, d, 64, ci))
		return 0;
	if (rfs_ocfl_grow((void **)&b->cons, b->n_cons, &b->cap_cons, sizeof(*c)) < 0 ||
	    map_put(&b->digests, d, 64, b->n_cons) < 0)
		return -ENOMEM;
	c = &b->cons[b->n_cons];
	memset(c, 0, sizeof(*c));
	memcpy(c->digest, d, 64);
	c->size = size;
	*ci = b->n_cons++;
	return 0;
}

struct reader {
	struct rfs_bag *b;
	struct rfs_sha512 sha;
	uint64_t size, got;
	uint8_t *buf;                  /* keeps the bytes, or NULL */
	bool store;                    /* writes them to the tar */
	int rc, wrc;                   /* the first error; the tar's, when it was the tar */
};

static int put(void *arg, const void *buf, size_t len)
{
	struct reader *r = arg;

	if (r->rc < 0)
		return r->rc;
	if (len > r->size - r->got)
		return r->rc = -EIO;     /* more than its size: it changed */
	rfs_sha512_update(&r->sha, buf, len);
	if (r->buf)
		memcpy(r->buf + r->got, buf, len);
	if (r->store && (r->wrc = rfs_tar_data(r->b->t, buf, len)) < 0)
		return r->rc = r->wrc;
	r->got += len;
	return 0;
}

/* Reads a file once through its callback: its digest, and its bytes kept or stored. */
static int read_once(struct rfs_bag *b, const char *path, uint64_t size, rfs_bag_read_fn read,
                     void *arg, uint8_t *buf, bool store, uint8_t d[64])
{
	struct reader r = { .b = b, .size = size, .buf = buf, .store = store };
	int rc;

	rfs_sha512_init(&r.sha);
	rc = read(arg, put, &r);
	rfs_sha512_final(&r.sha, d);
	if (r.wrc < 0)
		return r.wrc;            /* not the file's fault: the caller says what failed */
	if (r.rc < 0)
		rc = r.rc;
	if (rc == 0 && r.got != size)
		rc = -EIO;
	if (rc == -EIO)
		snprintf(b->err, sizeof(b->err), "%s/%s changed while it was archived (its size "
		         "was %" PRIu64 " bytes): archive it again", b->name, path, size);
	else if (rc < 0)
		snprintf(b->err, sizeof(b->err), "%s/%s cannot be read: %s", b->name, path,
		         strerror(-rc));
	return rc;
}

/* Stored content can only equal a file of its size: the sizes of what this object stored
** (scope 'o': the last object that stored one of that size) and of what history stored
** (scope 'h'). A big file of a size not seen is stored as it is first read, not read twice. */
static bool may_equal(const struct rfs_bag *b, char scope, uint64_t size, size_t want)
{
	char k[1 + sizeof(size)];
	size_t v;

	k[0] = scope;
	memcpy(k + 1, &size, sizeof(size));
	return map_get(&b->sizes, k, sizeof(k), &v) && v == want;
}

static int stored_size(struct rfs_bag *b, uint64_t size)
{
	char k[1 + sizeof(size)];
	int rc;

	memcpy(k + 1, &size, sizeof(size));
	k[0] = 'o';
	if ((rc = map_set(&b->sizes, k, sizeof(k), b->objects)) < 0)
		return rc;
	k[0] = 'h';
	return map_set(&b->sizes, k, sizeof(k), 1);
}

/* The content of a file about to be archived: by its key when the bag has seen it, else read
** once for its digest (and kept in b->buf when it fits: *kept). Nothing is written. *ci NONE:
** a big file that cannot equal stored content (!may), left to store to digest as it goes. */
static int content_of(struct rfs_bag *b, const char *path, uint64_t size, const char *key,
                      bool may, rfs_bag_read_fn read, void *arg, size_t *ci, bool *kept)
{
	uint8_t d[64];
	int rc;

	*kept = false;
	*ci = NONE;
	if (key && map_get(&b->keys, key, strlen(key), ci)) {
		if (b->cons[*ci].size != size)
			return refuse(b, -EINVAL, "%s/%s: its key %s was given before for a size of "
			              "%" PRIu64 " bytes, now %" PRIu64, b->name, path, key,
			              b->cons[*ci].size, size);
		return 0;
	}
	if (!may && size > BUF_MAX)
		return 0;
	if (size <= BUF_MAX && !b->buf && !(b->buf = malloc(BUF_MAX)))
		return -ENOMEM;
	if ((rc = read_once(b, path, size, read, arg, size <= BUF_MAX ? b->buf : NULL, false, d)) < 0)
		return rc;
	*kept = size <= BUF_MAX;
	if ((rc = content_add(b, d, size, ci)) < 0 ||
	    (key && (rc = map_put(&b->keys, key, strlen(key), *ci)) < 0))
		return rc;
	return 0;
}

/* Stores the file path: content *ci from b->buf when kept, else read (again) and checked;
** *ci NONE: read once as it is stored, and its content found or added then. */
static int store(struct rfs_bag *b, const char *path, mode_t mode, int64_t mtime, size_t *ci,
                 bool kept, uint64_t size, const char *key, rfs_bag_read_fn read, void *arg)
{
	uint8_t d[64];
	char *tar = join(b->name, path);
	int rc;

	if (!tar)
		return broke(b, -ENOMEM, path);
	rc = rfs_tar_file_begin(b->t, tar, mode, mtime, size);
	free(tar);
	if (rc == 0 && kept)
		rc = rfs_tar_data(b->t, b->buf, size);
	else if (rc == 0 && (rc = read_once(b, path, size, read, arg, NULL, true, d)) == 0 &&
	         *ci != NONE && memcmp(d, b->cons[*ci].digest, 64) != 0)
		rc = refuse(b, -EIO, "%s/%s changed while it was archived (a second read gave "
		            "other bytes): archive it again", b->name, path);
	if (rc == 0)
		rc = rfs_tar_file_end(b->t);
	if (rc == 0 && *ci == NONE && (rc = content_add(b, d, size, ci)) == 0 && key)
		rc = map_put(&b->keys, key, strlen(key), *ci);
	return rc < 0 ? broke(b, rc, path) : 0;
}

int rfs_bag_compress_of(const char *name, enum rfs_bag_compress *c, bool *age_suffix)
{
	static const struct {
		const char *suffix;
		enum rfs_bag_compress c;
	} kinds[] = { { ".tar", RFS_BAG_PLAIN }, { ".tar.gz", RFS_BAG_GZIP },
	              { ".tgz", RFS_BAG_GZIP }, { ".tar.zst", RFS_BAG_ZSTD } };
	size_t n = strlen(name);

	*age_suffix = n > 4 && strcmp(name + n - 4, ".age") == 0;
	if (*age_suffix)
		n -= 4;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t l = strlen(kinds[i].suffix);

		if (n > l && memcmp(name + n - l, kinds[i].suffix, l) == 0) {
			*c = kinds[i].c;
			return 0;
		}
	}
	return -EINVAL;
}

static void bag_free(struct rfs_bag *b)
{
	if (!b)
		return;
	if (b->t)
		rfs_tar_abort(b->t);
	rfs_ocfl_free(b->ocfl);
	for (size_t i = 0; i < b->n_ents; i++)
		free(b->ents[i].target);
	for (size_t i = 0; i < b->n_cons; i++)
		free(b->cons[i].hist);
	for (size_t i = 0; i < b->n_man; i++)
		free(b->man[i].path);
	map_free(&b->paths);
	map_free(&b->keys);
	map_free(&b->digests);
	map_free(&b->sizes);
	free(b->ents);
	free(b->cons);
	free(b->man);
	if (b->tags)
		fclose(b->tags);
	free(b->tags_text);
	if (b->buf) {
		explicit_bzero(b->buf, BUF_MAX);
		free(b->buf);
	}
	free(b->odir);
	free(b->name);
	free(b->org);
	free(b->extid);
	free(b->agent);
	free(b->note);
	free(b);
}

/* A bag-info value: one line, or absent. */
static int info_value(const char *v, char **out)
{
	*out = NULL;
	if (!v)
		return 0;
	if (strpbrk(v, "\r\n"))
		return -EINVAL;
	return (*out = strdup(v)) ? 0 : -ENOMEM;
}

static const char BAGIT_TXT[] = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

int rfs_bag_start(const struct rfs_bag_info *info, const struct rfs_bag_out *out,
                  struct rfs_bag **bp, char *err, size_t errsz)
{
	struct rfs_bag *b = calloc(1, sizeof(*b));
	int rc;

	*bp = NULL;
	if (!b) {
		snprintf(err, errsz, "no memory to start the archive");
		return -ENOMEM;
	}
	if (!valid_path(info->name) || strchr(info->name, '/')) {
		snprintf(err, errsz, "the bag's name \"%s\" must be one folder name", info->name ? info->name : "");
		free(b);
		return -EINVAL;
	}
	rc = info_value(info->note, &b->note);
	if (rc == -EINVAL)
		snprintf(err, errsz, "the note must be one line (it is the bag's "
		         "Internal-Sender-Description): give it without line breaks");
	if (rc == 0 && ((rc = info_value(info->source_organization, &b->org)) < 0 ||
	                (rc = info_value(info->external_identifier, &b->extid)) < 0 ||
	                (rc = info_value(info->software_agent, &b->agent)) < 0) && rc == -EINVAL)
		snprintf(err, errsz, "the bag's organisation, identifier and software must each "
		         "be one line");
	if (rc == 0 && !(b->name = strdup(info->name)))
		rc = -ENOMEM;
	if (rc == 0 && !(b->tags = open_memstream(&b->tags_text, &b->tags_len)))
		rc = -ENOMEM;
	if (rc == -ENOMEM)
		snprintf(err, errsz, "no memory to start the archive");
	if (rc == 0)
		rc = rfs_tar_start(out, &b->t, err, errsz);
	if (rc < 0) {
		bag_free(b);
		return rc;
	}
	b->st = info->state_time;
	rc = rfs_tar_folder(b->t, b->name, b->st);
	if (rc == 0)
		rc = small_file(b, "bagit.txt", BAGIT_TXT, strlen(BAGIT_TXT), b->st, b->bagit_sum);
	if (rc == 0)
		rc = folder_at(b, "data", b->st);
	if (rc < 0) {
		snprintf(err, errsz, "the archive cannot be started: %s", strerror(-rc));
		bag_free(b);
		return rc;
	}
	b->tag_bytes = strlen(BAGIT_TXT);
	*bp = b;
	return 0;
}

/* Every call but these reports the sticky error first. */
#define CHECK(b)                                                                              \
	do {                                                                                  \
		if ((b)->rc < 0)                                                              \
			return (b)->rc;                                                       \
		(b)->err[0] = '\0';                                                           \
	} while (0)

int rfs_bag_object_begin(struct rfs_bag *b, const char *dir, const char *id)
{
	uint8_t sum[64];
	char *path;
	size_t e;
	int rc;

	CHECK(b);
	if (b->ocfl)
		return refuse(b, -EINVAL, "the object %s/%s is still open", b->name, b->odir);
	if (!valid_path(dir) || !id)
		return refuse(b, -EINVAL, "the history folder \"%s\" must be a relative path without "
		              "\".\" or \"..\", with an id", dir ? dir : "");
	if (!(path = join("data/history", dir)))
		return -ENOMEM;
	if (find(b, path, &e)) {
		rc = refuse(b, -EEXIST, "%s/%s is given twice", b->name, path);
		free(path);
		return rc;
	}
	b->odir = path;
	if ((rc = folder_at(b, path, b->st)) < 0 || (rc = rfs_ocfl_new(id, &b->ocfl)) < 0)
		goto fail;
	if (!(path = join(b->odir, RFS_OCFL_NAMASTE))) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = small_file(b, path, RFS_OCFL_NAMASTE_TEXT, strlen(RFS_OCFL_NAMASTE_TEXT), b->st, sum);
	if (rc == 0 && (rc = content_add(b, sum, strlen(RFS_OCFL_NAMASTE_TEXT), &e)) == 0)
		rc = man_add(b, path, e, NONE);
	free(path);
	if (rc < 0)
		goto fail;
	b->objects++;
	return 0;
fail:
	return broke(b, rc, b->odir);
}

int rfs_bag_version_begin(struct rfs_bag *b, int64_t created, int tz_offset_min,
                          const char *user_name, const char *user_address, const char *message)
{
	char *path;
	int rc;

	CHECK(b);
	if (!b->ocfl || b->version)
		return refuse(b, -EINVAL, "a version begins inside an object, after the last ended");
	rc = rfs_ocfl_version_begin(b->ocfl, created, tz_offset_min, user_name, user_address,
	                            message, &b->version);
	if (rc < 0)
		return broke(b, rc, b->odir);
	if (asprintf(&path, "%s/v%u", b->odir, b->version) < 0)
		return broke(b, -ENOMEM, b->odir);
	rc = folder_at(b, path, b->st);
	free(path);
	b->versions++;
	return rc;
}

/* Records the content path's content as its first copy in history, for links to it. */
static int note_hist(struct rfs_bag *b, size_t ci, const char *path, int64_t mtime)
{
	struct content *c = &b->cons[ci];

	if (c->hist)
		return 0;
	if (!(c->hist = join(b->name, path)))
		return -ENOMEM;
	c->hist_mode = 0644;
	c->hist_mtime = mtime;
	return 0;
}

int rfs_bag_version_file(struct rfs_bag *b, const char *logical, int64_t mtime, uint64_t size,
                         const char *key, rfs_bag_read_fn read, void *arg)
{
	struct content *c;
	char *cpath = NULL, *path = NULL;
	size_t ci;
	bool kept;
	int rc;

	CHECK(b);
	if (!b->version)
		return refuse(b, -EINVAL, "a version's file comes between its begin and end");
	if (!valid_path(logical))
		return refuse(b, -EINVAL, "the path \"%s\" in %s/%s must be relative, in UTF-8, "
		              "without \"\", \".\" or \"..\" segments", logical ? logical : "",
		              b->name, b->odir);
	if (asprintf(&cpath, "v%u/content/%s", b->version, logical) < 0 ||
	    !(path = join(b->odir, cpath))) {
		free(cpath);
		return -ENOMEM;
	}
	if ((rc = content_of(b, path, size, key, may_equal(b, 'o', size, b->objects), read, arg,
	                     &ci, &kept)) < 0)
		goto out;
	if (ci == NONE || b->cons[ci].object != b->objects) {
		/* New to this object: stored once, under the version that first has it. */
		if ((rc = make_room(b, path)) == 0 && (rc = store(b, path, 0644, mtime, &ci, kept,
		                                                  size, key, read, arg)) == 0) {
			c = &b->cons[ci];
			c->object = b->objects;
			if ((rc = rfs_ocfl_content(b->ocfl, c->digest, cpath, &c->ocfl_idx)) < 0 ||
			    (rc = add_ent(b, path, K_FILE, ci, NULL)) < 0 ||
			    (rc = man_add(b, path, ci, NONE)) < 0 ||
			    (rc = note_hist(b, ci, path, mtime)) < 0 ||
			    (rc = stored_size(b, size)) < 0)
				rc = broke(b, rc, path);
		}
	}
	if (rc == 0 && (rc = rfs_ocfl_state(b->ocfl, logical, b->cons[ci].ocfl_idx)) < 0)
		rc = broke(b, rc, path);
	if (rc == 0) {
		b->files_done++;
		b->bytes_done += size;
	}
out:
	free(cpath);
	free(path);
	return rc;
}

int rfs_bag_version_end(struct rfs_bag *b)
{
	int rc;

	CHECK(b);
	if (!b->version)
		return refuse(b, -EINVAL, "no version is open");
	rc = rfs_ocfl_version_end(b->ocfl);
	if (rc < 0) {
		b->rc = rc;
		snprintf(b->err, sizeof(b->err), "%s/%s/v%u lists a path %s", b->name, b->odir,
		         b->version, rc == -EEXIST ? "twice" : "that is also another's folder");
		return rc;
	}
	b->version = 0;
	return 0;
}

static int hardlink(struct rfs_bag *b, const char *path, const char *target, mode_t mode,
                    int64_t mtime)
{
	char *tar = join(b->name, path);
	int rc;

	if (!tar)
		return -ENOMEM;
	rc = rfs_tar_hardlink(b->t, tar, target, mode, mtime);
	free(tar);
	return rc;
}

int rfs_bag_object_end(struct rfs_bag *b)
{
	char *inv = NULL, *sidecar = NULL, *p[4] = { NULL };
	uint8_t sum[2][64];
	char hex[129];
	size_t len, ci[2];
	int64_t mtime;
	int rc;

	CHECK(b);
	if (!b->ocfl || b->version)
		return refuse(b, -EINVAL, "no object is open, or its version is");
	mtime = rfs_ocfl_head_created(b->ocfl);
	if ((rc = rfs_ocfl_inventory(b->ocfl, &inv, &len)) == -EINVAL) {
		b->rc = rc;
		snprintf(b->err, sizeof(b->err), "%s/%s has no version: an OCFL object needs one",
		         b->name, b->odir);
		return rc;
	}
	if (rc == 0 && (!(p[0] = join(b->odir, "inventory.json")) ||
	                !(p[1] = join(b->odir, "inventory.json.sha512")) ||
	                asprintf(&p[2], "%s/v%u/inventory.json", b->odir, rfs_ocfl_head(b->ocfl)) < 0 ||
	                asprintf(&p[3], "%s.sha512", p[2]) < 0))
		rc = -ENOMEM;
	if (rc == 0)
		rc = small_file(b, p[0], inv, len, mtime, sum[0]);
	if (rc == 0) {
		rfs_hex_encode(hex, sum[0], 64);
		if (asprintf(&sidecar, "%s  inventory.json\n", hex) < 0)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = small_file(b, p[1], sidecar, strlen(sidecar), mtime, sum[1]);
	for (int i = 0; i < 2 && rc == 0; i++) {
		char *target = join(b->name, p[i]);

		rc = target ? 0 : -ENOMEM;
		if (rc == 0 && (rc = make_room(b, p[2 + i])) == 0)
			rc = hardlink(b, p[2 + i], target, 0644, mtime);
		free(target);
		if (rc == 0)
			rc = content_add(b, sum[i], i ? strlen(sidecar) : len, &ci[i]);
		if (rc == 0 && (rc = add_ent(b, p[2 + i], K_FILE, ci[i], NULL)) == 0 &&
		    (rc = man_add(b, p[i], ci[i], NONE)) == 0)
			rc = man_add(b, p[2 + i], ci[i], NONE);
	}
	free(inv);
	free(sidecar);
	for (int i = 0; i < 4; i++)
		free(p[i]);
	if (rc < 0)
		return broke(b, rc, b->odir);
	rfs_ocfl_free(b->ocfl);
	b->ocfl = NULL;
	free(b->odir);
	b->odir = NULL;
	return 0;
}

/* The records' path in the bag, when rel may name one. */
static int records_path(struct rfs_bag *b, const char *rel, char **path)
{
	*path = NULL;
	if (b->ocfl)
		return refuse(b, -EINVAL, "the records come after the history's objects");
	if (!valid_path(rel))
		return refuse(b, -EINVAL, "the path \"%s\" must be relative, in UTF-8, without \"\", "
		              "\".\" or \"..\" segments", rel ? rel : "");
	return (*path = join("data/records", rel)) ? 0 : -ENOMEM;
}

int rfs_bag_folder(struct rfs_bag *b, const char *rel, mode_t mode, int64_t mtime)
{
	char *path;
	size_t e;
	int rc;

	(void)mode;                    /* folders are 0755 */
	CHECK(b);
	if ((rc = records_path(b, rel, &path)) < 0)
		return rc;
	if (find(b, path, &e) && b->ents[e].kind == K_FOLDER)
		rc = 0;                /* made already as a parent of an earlier entry */
	else if ((rc = make_room(b, path)) == 0)
		rc = folder_at(b, path, mtime);
	free(path);
	return rc;
}

int rfs_bag_file(struct rfs_bag *b, const char *rel, mode_t mode, int64_t mtime, uint64_t size,
                 const char *key, rfs_bag_read_fn read, void *arg)
{
	const struct content *c;
	char *path;
	size_t ci;
	bool kept;
	int rc;

	CHECK(b);
	if ((rc = records_path(b, rel, &path)) < 0)
		return rc;
	if ((rc = make_room(b, path)) < 0 ||
	    (rc = content_of(b, path, size, key, may_equal(b, 'h', size, 1), read, arg, &ci,
	                     &kept)) < 0)
		goto out;
	c = ci == NONE ? NULL : &b->cons[ci];
	/* Content that history stored is linked, when the link gives the same mode. */
	if (c && c->hist && !(mode & 0111) == !(c->hist_mode & 0111)) {
		if ((rc = hardlink(b, path, c->hist, c->hist_mode, c->hist_mtime)) < 0) {
			rc = broke(b, rc, path);
			goto out;
		}
	} else if ((rc = store(b, path, mode, mtime, &ci, kept, size, key, read, arg)) < 0) {
		goto out;
	}
	if ((rc = add_ent(b, path, K_FILE, ci, NULL)) < 0 || (rc = man_add(b, path, ci, NONE)) < 0)
		rc = broke(b, rc, path);
	b->files_done++;
	b->bytes_done += size;
out:
	free(path);
	return rc;
}

/* What a link at rel (from data/records) to target names, from data/records: only a relative
** target whose ".." segments all lead it and do not climb above data/records. A ".." after a
** name could climb out through another link (a/.. is not where a is when a is a link). */
static int link_names(const char *rel, const char *target, char **out)
{
	const char *slash = strrchr(rel, '/');
	size_t dlen = slash ? (size_t)(slash - rel) : 0, tlen = strlen(target);
	char *s = malloc(dlen + tlen + 2);
	size_t n;
	bool named = false;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	memcpy(s, rel, dlen);
	n = dlen;
	for (const char *seg = target; *seg;) {
		const char *end = strchrnul(seg, '/');
		size_t l = (size_t)(end - seg);

		if (l == 2 && seg[0] == '.' && seg[1] == '.') {
			char *up = memrchr(s, '/', n);

			if (named || n == 0) {
				free(s);
				return -EXDEV;
			}
			n = up ? (size_t)(up - s) : 0;
		} else if (l > 0 && !(l == 1 && seg[0] == '.')) {
			if (n)
				s[n++] = '/';
			memcpy(s + n, seg, l);
			n += l;
			named = true;
		}
		seg = *end ? end + 1 : end;
	}
	s[n] = '\0';
	*out = s;
	return 0;
}

int rfs_bag_symlink(struct rfs_bag *b, const char *rel, const char *target, int64_t mtime)
{
	char *path, *names = NULL, *tar = NULL;
	int rc;

	CHECK(b);
	if ((rc = records_path(b, rel, &path)) < 0)
		return rc;
	if (!target || !*target || *target == '/' || !utf8_ok(target))
		rc = refuse(b, -EXDEV, "the link %s/%s to \"%s\" is left out: its target is "
		            "absolute (or empty); only relative links inside the records are kept",
		            b->name, path, target ? target : "");
	else if ((rc = link_names(rel, target, &names)) == -EXDEV)
		rc = refuse(b, -EXDEV, "the link %s/%s to \"%s\" is left out: it leads out of the "
		            "records (or climbs with \"..\" after a name)", b->name, path, target);
	if (rc == 0 && (rc = make_room(b, path)) == 0) {
		if (!(tar = join(b->name, path)))
			rc = -ENOMEM;
		if (rc == 0 && (rc = rfs_tar_symlink(b->t, tar, target, mtime)) == 0 &&
		    (rc = add_ent(b, path, K_LINK, NONE, names)) == 0) {
			names = NULL;
			rc = man_add(b, path, NONE, b->n_ents - 1);
		}
		if (rc < 0)
			rc = broke(b, rc, path);
	}
	free(names);
	free(tar);
	free(path);
	return rc;
}

static bool reserved_tag(const char *name)
{
	return strcmp(name, "bagit.txt") == 0 || strcmp(name, "bag-info.txt") == 0 ||
	       strcmp(name, "data") == 0 || strncmp(name, "data/", 5) == 0 ||
	       strncmp(name, "manifest-", 9) == 0 || strncmp(name, "tagmanifest-", 12) == 0;
}

static void sum_line(FILE *f, const uint8_t sum[64], const char *path)
{
	char hex[129];

	rfs_hex_encode(hex, sum, 64);
	fprintf(f, "%s  ", hex);
	/* RFC 8493 2.1.3: CR, LF and % of a path percent-encoded. */
	for (; *path; path++) {
		if (*path == '\r')
			fputs("%0D", f);
		else if (*path == '\n')
			fputs("%0A", f);
		else if (*path == '%')
			fputs("%25", f);
		else
			fputc(*path, f);
	}
	fputc('\n', f);
}

int rfs_bag_tag_file(struct rfs_bag *b, const char *name, const void *data, size_t len)
{
	uint8_t sum[64];
	int rc;

	CHECK(b);
	if (!valid_path(name) || reserved_tag(name))
		return refuse(b, -EINVAL, "the tag file \"%s\" must be a relative path, not data/ "
		              "nor one of BagIt's own files", name ? name : "");
	if ((rc = small_file(b, name, data, len, b->st, sum)) < 0)
		return rc;
	sum_line(b->tags, sum, name);
	b->tag_bytes += len;
	return 0;
}

/* The entry that rel (from data/records, without "..") names, links followed; *cur (heap)
** its path without links. NONE: nothing, a name under a file, or too many links. */
static size_t walk(const struct rfs_bag *b, const char *rel, int *hops, char **cur)
{
	size_t e;

	if (!(*cur = strdup("data/records")) || !find(b, *cur, &e))
		return NONE;
	for (const char *seg = rel; *seg;) {
		const char *end = strchrnul(seg, '/');
		char *next;

		if (b->ents[e].kind != K_FOLDER ||
		    asprintf(&next, "%s/%.*s", *cur, (int)(end - seg), seg) < 0)
			return NONE;
		free(*cur);
		*cur = next;
		if (!find(b, *cur, &e))
			return NONE;
		if (b->ents[e].kind == K_LINK) {
			if (++*hops > LINK_HOPS)
				return NONE;
			free(*cur);
			if ((e = walk(b, b->ents[e].target, hops, cur)) == NONE)
				return NONE;
		}
		seg = *end ? end + 1 : end;
	}
	return e;
}

/* The content a link names, or NONE (a folder, nothing: not in the manifest). */
static size_t link_content(const struct rfs_bag *b, size_t link)
{
	char *cur = NULL;
	int hops = 0;
	size_t e = walk(b, b->ents[link].target, &hops, &cur);

	free(cur);
	return e != NONE && b->ents[e].kind == K_FILE ? b->ents[e].content : NONE;
}

/* Bag-Size: about how big the bag is, in the units people read. */
static void human_size(char *buf, size_t n, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, n, "%" PRIu64 " bytes", bytes);
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f %s", v, units[u]);
}

static void info_line(FILE *f, const char *label, const char *value)
{
	if (value)
		fprintf(f, "%s: %s\n", label, value);
}

/* manifest-sha512.txt's text; the payload's count and bytes. */
static int manifest_text(struct rfs_bag *b, char **text, size_t *len, uint64_t *files,
                         uint64_t *bytes)
{
	FILE *f = open_memstream(text, len);

	if (!f)
		return -ENOMEM;
	*files = *bytes = 0;
	for (size_t i = 0; i < b->n_man; i++) {
		size_t ci = b->man[i].content;

		if (ci == NONE && (ci = link_content(b, b->man[i].ent)) == NONE)
			continue;        /* a link to a folder, or to nothing */
		sum_line(f, b->cons[ci].digest, b->man[i].path);
		(*files)++;
		*bytes += b->cons[ci].size;
	}
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

static int bag_info_text(struct rfs_bag *b, uint64_t files, uint64_t bytes, char **text,
                         size_t *len)
{
	FILE *f = open_memstream(text, len);
	time_t st = (time_t)b->st;
	char date[16], oxum[48], size[32];
	struct tm tm;

	if (!f)
		return -ENOMEM;
	gmtime_r(&st, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	snprintf(oxum, sizeof(oxum), "%" PRIu64 ".%" PRIu64, bytes, files);
	human_size(size, sizeof(size), bytes + b->tag_bytes);
	info_line(f, "Source-Organization", b->org);
	info_line(f, "Bagging-Date", date);
	info_line(f, "Bag-Software-Agent", b->agent);
	info_line(f, "External-Identifier", b->extid);
	info_line(f, "Internal-Sender-Description", b->note);
	info_line(f, "Payload-Oxum", oxum);
	info_line(f, "Bag-Size", size);
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

int rfs_bag_finish(struct rfs_bag *b, struct rfs_bag_result *res, char *err, size_t errsz)
{
	char *man = NULL, *info = NULL, *tagman = NULL;
	size_t man_len, info_len, tagman_len = 0;
	uint8_t man_sum[64], info_sum[64], tagman_sum[64];
	uint64_t files = 0, bytes = 0;
	FILE *f = NULL;
	int rc = b->rc;

	memset(res, 0, sizeof(*res));
	if (rc == 0 && (b->ocfl || b->version))
		rc = refuse(b, -EINVAL, "the object %s/%s was not ended", b->name, b->odir);
	if (rc == 0 && (rc = manifest_text(b, &man, &man_len, &files, &bytes)) == 0)
		rc = small_file(b, "manifest-sha512.txt", man, man_len, b->st, man_sum);
	if (rc == 0)
		b->tag_bytes += man_len;
	if (rc == 0 && (rc = bag_info_text(b, files, bytes, &info, &info_len)) == 0)
		rc = small_file(b, "bag-info.txt", info, info_len, b->st, info_sum);
	if (rc == 0 && (fflush(b->tags) != 0 || !(f = open_memstream(&tagman, &tagman_len))))
		rc = -ENOMEM;
	if (rc == 0) {
		sum_line(f, b->bagit_sum, "bagit.txt");
		sum_line(f, info_sum, "bag-info.txt");
		sum_line(f, man_sum, "manifest-sha512.txt");
		fwrite(b->tags_text, 1, b->tags_len, f);
	}
	if (f && fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = small_file(b, "tagmanifest-sha512.txt", tagman, tagman_len, b->st, tagman_sum);
	if (rc == 0) {
		rc = rfs_tar_finish(b->t, res->sha512, res->blake2b512, &res->bytes, err, errsz);
		b->t = NULL;
	} else {
		snprintf(err, errsz, "%s", b->err[0] ? b->err : strerror(-rc));
	}
	if (rc == 0) {
		res->payload_files = files;
		res->payload_bytes = bytes;
		res->objects = b->objects;
		res->versions = b->versions;
	}
	free(man);
	free(info);
	free(tagman);
	bag_free(b);
	return rc;
}

void rfs_bag_abort(struct rfs_bag *b)
{
	bag_free(b);
}

void rfs_bag_progress(const struct rfs_bag *b, uint64_t *files, uint64_t *payload_bytes)
{
	*files = b->files_done;
	*payload_bytes = b->bytes_done;
}

const char *rfs_bag_error(const struct rfs_bag *b)
{
	return b->err;
}
