/*
** tree: updating git trees by path on their raw bytes.
**
** Owns: rfs_tree_update (what git_tree_create_updated does, without building
** a libgit2 tree builder of every entry: a folder of 1,000 entries cost
** 0.5 ms a commit that way) and a small cache of the raw trees the committer
** wrote or read last, so the next commit starts from bytes it already has.
** Must never: write a tree git fsck --strict rejects (entries in git's order,
** no duplicate names, canonical modes), or keep an empty folder below the root.
** Not thread-safe: callers hold the repository lock.
*/
#include "fs/history/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TREE_CACHE_SLOTS 32

struct raw_tree {
	git_oid oid;
	uint8_t *data;
	size_t len;
};

struct rfs_tree_cache {
	struct raw_tree slot[TREE_CACHE_SLOTS];
	size_t next;                      /* ring: the oldest goes first */
};

void rfs_tree_cache_free(struct rfs_tree_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < TREE_CACHE_SLOTS; i++)
		free(c->slot[i].data);
	free(c);
}

static void cache_put(struct rfs_history *h, const git_oid *oid, const uint8_t *data, size_t len)
{
	if (!h->tcache && !(h->tcache = calloc(1, sizeof *h->tcache)))
		return;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;                      /* only a cache */
	memcpy(copy, data, len);
	struct raw_tree *s = &h->tcache->slot[h->tcache->next];
	h->tcache->next = (h->tcache->next + 1) % TREE_CACHE_SLOTS;
	free(s->data);
	*s = (struct raw_tree){ *oid, copy, len };
}

static const struct raw_tree *cache_find(struct rfs_history *h, const git_oid *oid)
{
	for (size_t i = 0; h->tcache && i < TREE_CACHE_SLOTS; i++)
		if (h->tcache->slot[i].data && git_oid_equal(&h->tcache->slot[i].oid, oid))
			return &h->tcache->slot[i];
	return NULL;
}

/* The raw bytes of tree oid: borrowed from the cache until the next cache_put. */
static int raw_get(struct rfs_history *h, const git_oid *oid, const uint8_t **data, size_t *len)
{
	const struct raw_tree *s = cache_find(h, oid);
	if (!s) {
		git_odb_object *o = NULL;
		if (git_odb_read(&o, h->odb, oid) < 0)
			return -EIO;
		bool tree = git_odb_object_type(o) == GIT_OBJECT_TREE;
		if (tree)
			cache_put(h, oid, git_odb_object_data(o), git_odb_object_size(o));
		git_odb_object_free(o);
		if (!tree)
			return -EIO;
		if (!(s = cache_find(h, oid)))
			return -ENOMEM;
	}
	*data = s->data;
	*len = s->len;
	return 0;
}

/* ---- entries ---- */

struct entry {
	const char *name;                 /* not NUL-terminated when borrowed from raw bytes */
	size_t namelen;
	uint32_t mode;
	git_oid oid;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static int entries_push(struct entries *es, const struct entry *e)
{
	if (rfs_bytes_grow(&es->v, &es->cap, es->n, sizeof *es->v, 64) < 0)
		return -ENOMEM;
	es->v[es->n++] = *e;
	return 0;
}

/* "<octal mode> <name>\0<20-byte id>" repeated. Names point into data. */
static int parse_tree(const uint8_t *data, size_t len, struct entries *es)
{
	size_t off = 0;
	while (off < len) {
		struct entry e = { .mode = 0 };
		while (off < len && data[off] >= '0' && data[off] <= '7')
			e.mode = e.mode * 8 + (uint32_t)(data[off++] - '0');
		if (off >= len || data[off++] != ' ')
			return -EIO;
		const uint8_t *nul = memchr(data + off, 0, len - off);
		if (!nul || (size_t)(nul - data) + 1 + GIT_OID_RAWSZ > len)
			return -EIO;
		e.name = (const char *)data + off;
		e.namelen = (size_t)(nul - (data + off));
		off = (size_t)(nul - data) + 1;
		git_oid_fromraw(&e.oid, data + off);
		off += GIT_OID_RAWSZ;
		if (entries_push(es, &e) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* git's order: names compared as if a folder's had a trailing '/'. */
static int git_order(const struct entry *a, const struct entry *b)
{
	size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
	int c = memcmp(a->name, b->name, n);
	if (c)
		return c;
	unsigned ca = a->namelen > n ? (unsigned char)a->name[n] : a->mode == GIT_FILEMODE_TREE ? '/' : 0;
	unsigned cb = b->namelen > n ? (unsigned char)b->name[n] : b->mode == GIT_FILEMODE_TREE ? '/' : 0;
	return (int)ca - (int)cb;
}

static int git_order_cmp(const void *a, const void *b) { return git_order(a, b); }

static struct entry *find(struct entries *es, const char *name, size_t len)
{
	for (size_t i = 0; i < es->n; i++)
		if (es->v[i].namelen == len && !memcmp(es->v[i].name, name, len))
			return &es->v[i];
	return NULL;
}

/* The mode in octal and a space, as git writes it ("40000 ", "100644 "). */
static size_t mode_text(uint32_t mode, char *out)
{
	char tmp[12];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + (mode & 7));
		mode >>= 3;
	} while (mode);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = ' ';
	return n + 1;
}

static int write_tree(struct rfs_history *h, const struct entries *es, git_oid *out)
{
	size_t len = 0;
	for (size_t i = 0; i < es->n; i++)
		len += 7 + es->v[i].namelen + 1 + GIT_OID_RAWSZ;
	uint8_t *buf = malloc(len ? len : 1), *p = buf;
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < es->n; i++) {
		const struct entry *e = &es->v[i];
		p += mode_text(e->mode, (char *)p);
		memcpy(p, e->name, e->namelen);
		p += e->namelen;
		*p++ = 0;
		memcpy(p, e->oid.id, GIT_OID_RAWSZ);
		p += GIT_OID_RAWSZ;
	}
	len = (size_t)(p - buf);
	/* Hashed once, here (libgit2 would hash it with its slower SHA-1). */
	rfs_sha1_object_id(out, GIT_OBJECT_TREE, buf, len);
	int rc = 0;
	if (!h->stage)
		rc = git_odb_write(out, h->odb, buf, len, GIT_OBJECT_TREE) < 0 ? -EIO : 0;
	else
		rc = rfs_stage_put_new(h->stage, out, GIT_OBJECT_TREE, buf, len);
	if (rc == 0)
		cache_put(h, out, buf, len);
	free(buf);
	return rc;
}

/* ---- updates ---- */

struct upd {
	const git_tree_update *u;
	const char *rest;                 /* the path below the tree being built */
};

static size_t first_len(const char *path)
{
	const char *slash = strchr(path, '/');
	return slash ? (size_t)(slash - path) : strlen(path);
}

/* Group by first component; stable within a group (the caller's order). */
static int by_first(const void *a, const void *b)
{
	const struct upd *x = a, *y = b;
	size_t lx = first_len(x->rest), ly = first_len(y->rest);
	int c = memcmp(x->rest, y->rest, lx < ly ? lx : ly);
	if (c)
		return c;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->u < y->u ? -1 : x->u > y->u;
}

static int update_level(struct rfs_history *h, const git_oid *base, struct upd *u, size_t n,
                        bool root, git_oid *out, bool *empty);

/* Apply one group (all updates whose path starts with the same name) to es. */
static int apply_group(struct rfs_history *h, struct entries *es, struct upd *g, size_t n)
{
	size_t len = first_len(g[0].rest);
	const char *name = g[0].rest;
	size_t deep = 0;
	for (size_t i = 0; i < n; i++) {
		if (g[i].rest[len] == '/') {
			g[deep].rest = g[i].rest + len + 1;
			g[deep++].u = g[i].u;
			continue;
		}
		struct entry *e = find(es, name, len);
		if (g[i].u->action == GIT_TREE_UPDATE_REMOVE) {
			if (e)
				*e = es->v[--es->n];  /* order is restored before writing */
			continue;
		}
		struct entry ne = { name, len, (uint32_t)g[i].u->filemode, g[i].u->id };
		if (e)
			*e = ne;
		else if (entries_push(es, &ne) < 0)
			return -ENOMEM;
	}
	if (!deep)
		return 0;
	struct entry *e = find(es, name, len);
	const git_oid *sub = e && e->mode == GIT_FILEMODE_TREE ? &e->oid : NULL;
	git_oid oid;
	bool gone;
	int rc = update_level(h, sub, g, deep, false, &oid, &gone);
	if (rc < 0)
		return rc;
	e = find(es, name, len);
	if (gone) {
		if (e)
			*e = es->v[--es->n];
		return 0;
	}
	struct entry ne = { name, len, GIT_FILEMODE_TREE, oid };
	if (e)
		*e = ne;
	else if (entries_push(es, &ne) < 0)
		return -ENOMEM;
	return 0;
}

static int update_level(struct rfs_history *h, const git_oid *base, struct upd *u, size_t n,
                        bool root, git_oid *out, bool *empty)
{
	struct entries es = { 0 };
	const uint8_t *data = NULL;
	size_t len = 0;
	int rc = base ? raw_get(h, base, &data, &len) : 0;
	uint8_t *copy = NULL;                /* names borrow these bytes while the cache moves on */
	if (rc == 0 && len && !(copy = malloc(len)))
		rc = -ENOMEM;
	if (rc == 0 && len) {
		memcpy(copy, data, len);
		rc = parse_tree(copy, len, &es);
	}
	size_t before = es.n;
	bool sorted = true;
	qsort(u, n, sizeof *u, by_first);
	for (size_t i = 0; i < n && rc == 0;) {
		size_t j = i + 1, l = first_len(u[i].rest);
		while (j < n && first_len(u[j].rest) == l && !memcmp(u[j].rest, u[i].rest, l))
			j++;
		rc = apply_group(h, &es, u + i, j - i);
		i = j;
	}
	/* Removals swap the last entry in and additions go at the end; a
	** changed mode can move an entry: check the order, sort when needed. */
	for (size_t i = 1; rc == 0 && i < es.n && sorted; i++)
		sorted = git_order(&es.v[i - 1], &es.v[i]) < 0;
	if (rc == 0 && (!sorted || es.n != before))
		qsort(es.v, es.n, sizeof *es.v, git_order_cmp);
	*empty = rc == 0 && es.n == 0 && !root;
	if (rc == 0 && !*empty)
		rc = write_tree(h, &es, out);
	free(es.v);
	free(copy);
	return rc;
}

int rfs_tree_update(struct rfs_history *h, const git_oid *base, const git_tree_update *updates,
                    size_t n, git_oid *out)
{
	struct upd *u = calloc(n ? n : 1, sizeof *u);
	if (!u)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		u[i] = (struct upd){ &updates[i], updates[i].path };
		if (!updates[i].path[0] || updates[i].path[0] == '/')
			rc = -EINVAL;
	}
	bool empty;
	if (rc == 0)
		rc = update_level(h, base, u, n, true, out, &empty);
	free(u);
	return rc;
}

/* ---- chunk trees (docs/HISTORY.md, "Chunk trees") ----
** A file of n chunks is a tree of depth d (the least with F^d >= n): the
** top holds the marker and up to F children, each a subtree of the level
** below, down to leaf trees of chunk blobs; children are named by their
** position ("00".."3f"). Every child but the last of a node is full, so
** chunk k's path is the base-F digits of k. A save rewrites the chunks it
** changed and the trees above them: a few KiB, whatever the file's size. */

static const char *child_name(unsigned pos)
{
	static char names[RFS_CHUNK_FANOUT][3];
	static const char hex[] = "0123456789abcdef";
	if (!names[pos][0]) {                /* benign race: every writer writes the same bytes */
		names[pos][1] = hex[pos & 15];
		names[pos][0] = hex[pos >> 4];
	}
	return names[pos];
}

int rfs_tree_chunk_child_pos(const char *name, size_t len)
{
	if (len != 2)
		return -1;
	int v = 0;
	for (size_t i = 0; i < 2; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v < RFS_CHUNK_FANOUT ? v : -1;
}

unsigned rfs_tree_chunk_depth(uint64_t n)
{
	unsigned d = 1;
	for (uint64_t cover = RFS_CHUNK_FANOUT; cover < n; cover *= RFS_CHUNK_FANOUT)
		d++;
	return d;
}

static uint64_t span_of(unsigned level)    /* chunks under one node of this level */
{
	uint64_t s = 1;
	for (unsigned i = 0; i < level; i++)
		s *= RFS_CHUNK_FANOUT;
	return s;
}

/* The children of a node tree (the marker and anything else skipped). */
struct kids {
	git_oid oid[RFS_CHUNK_FANOUT];
	bool have[RFS_CHUNK_FANOUT];
	bool tree[RFS_CHUNK_FANOUT];
	unsigned n;                       /* 1 + the last position present, 0 if none */
};

static int read_kids(struct rfs_history *h, const git_oid *node, struct kids *k)
{
	memset(k, 0, sizeof *k);
	const uint8_t *data;
	size_t len;
	int rc = raw_get(h, node, &data, &len);
	struct entries es = { 0 };
	if (rc == 0)
		rc = parse_tree(data, len, &es);
	for (size_t i = 0; rc == 0 && i < es.n; i++) {
		int pos = rfs_tree_chunk_child_pos(es.v[i].name, es.v[i].namelen);
		if (pos < 0)
			continue;
		k->oid[pos] = es.v[i].oid;
		k->have[pos] = true;
		k->tree[pos] = es.v[i].mode == GIT_FILEMODE_TREE;
		if ((unsigned)pos + 1 > k->n)
			k->n = (unsigned)pos + 1;
	}
	free(es.v);
	return rc;
}

int rfs_tree_chunk_shape(struct rfs_history *h, const git_oid *top, unsigned *depth, uint64_t *n,
                         git_oid *last)
{
	struct kids k;
	git_oid node = *top;
	unsigned d = 0;
	uint64_t count = 0;
	int rc;
	/* Down the last child of each level: full subtrees before it. */
	for (;;) {
		if ((rc = read_kids(h, &node, &k)) < 0)
			return rc;
		if (!k.n || !k.have[k.n - 1])
			return -EIO;
		d++;
		count = count * RFS_CHUNK_FANOUT + (k.n - 1);
		node = k.oid[k.n - 1];
		if (!k.tree[k.n - 1])
			break;
		if (d > RFS_CHUNK_DEPTH_MAX)
			return -EIO;
	}
	*depth = d;
	*n = count + 1;
	if (last)
		*last = node;
	return 0;
}

struct chunk_update {
	struct rfs_history *h;
	uint64_t n, prev_n;               /* chunks now, and in the base */
	const uint64_t *idx;              /* sorted, unique; NULL: 0..nidx-1 */
	const git_oid *oids;
	size_t nidx;
	rfs_tree_chunk_fill_cb fill;
	void *arg;
	const git_oid *marker;
};

static size_t lower_bound(const uint64_t *v, size_t n, uint64_t x)
{
	if (!v)
		return x < n ? (size_t)x : n;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Node of this level covering chunks [first, first + F^level), from the
** base node (NULL: none) that is nlevel high (below level: it is child 00). */
static int node_update(struct chunk_update *cu, const git_oid *node, unsigned nlevel,
                       unsigned level, uint64_t first, bool top, git_oid *out)
{
	struct kids k;
	memset(&k, 0, sizeof k);
	int rc = 0;
	if (node && nlevel == level)
		rc = read_kids(cu->h, node, &k);
	uint64_t span = span_of(level - 1);
	struct entries es = { 0 };
	if (rc == 0 && top)
		rc = entries_push(&es, &(struct entry){ RFS_CHUNK_MARKER, sizeof RFS_CHUNK_MARKER - 1,
		                                        GIT_FILEMODE_BLOB, *cu->marker });
	for (unsigned c = 0; rc == 0 && c < RFS_CHUNK_FANOUT; c++) {
		uint64_t cf = first + c * span;
		if (cf >= cu->n)
			break;                       /* past the end: gone */
		struct entry e = { child_name(c), 2, level > 1 ? GIT_FILEMODE_TREE : GIT_FILEMODE_BLOB, { { 0 } } };
		size_t u = lower_bound(cu->idx, cu->nidx, cf);
		bool touched = u < cu->nidx && (cu->idx ? cu->idx[u] : u) < cf + span;
		if (level == 1) {
			if (touched)
				e.oid = cu->oids[u];
			else if (k.have[c] && !k.tree[c] && cf < cu->prev_n)
				e.oid = k.oid[c];
			else if (!cu->fill || (rc = cu->fill(cu->arg, cf, &e.oid)) < 0)
				rc = rc < 0 ? rc : -ENOENT;
		} else {
			const git_oid *sub = NULL;
			unsigned slevel = 0;
			bool grown = node && nlevel < level && c == 0;
			if (grown) {
				sub = node;              /* the base grew a level: it is our first child, */
				slevel = nlevel;         /* rewritten (a top's marker must not stay inside) */
			} else if (k.have[c] && k.tree[c]) {
				sub = &k.oid[c];
				slevel = level - 1;
			}
			bool whole = sub && !grown && slevel == level - 1 && cf + span <= cu->n && cf + span <= cu->prev_n;
			if (whole && !touched)
				e.oid = *sub;
			else
				rc = node_update(cu, sub, slevel, level - 1, cf, false, &e.oid);
		}
		if (rc == 0)
			rc = entries_push(&es, &e);
	}
	if (rc == 0)
		rc = write_tree(cu->h, &es, out);
	free(es.v);
	return rc;
}

int rfs_tree_chunk_update(struct rfs_history *h, const git_oid *base, uint64_t n,
                          const uint64_t *idx, const git_oid *oids, size_t nidx,
                          const git_oid *marker, rfs_tree_chunk_fill_cb fill, void *arg,
                          git_oid *out)
{
	struct chunk_update cu = { h, n, 0, idx, oids, nidx, fill, arg, marker };
	unsigned bdepth = 0, depth = rfs_tree_chunk_depth(n);
	git_oid node;
	int rc = 0;
	if (base && (rc = rfs_tree_chunk_shape(h, base, &bdepth, &cu.prev_n, NULL)) < 0)
		return rc;
	if (base)
		node = *base;
	/* Shrunk below a level: the base's first child is the new top. */
	while (base && bdepth > depth && rc == 0) {
		struct kids k;
		if ((rc = read_kids(h, &node, &k)) == 0 && (!k.have[0] || !k.tree[0]))
			rc = -EIO;
		if (rc == 0) {
			node = k.oid[0];
			bdepth--;
			uint64_t span = span_of(bdepth);
			cu.prev_n = cu.prev_n < span ? cu.prev_n : span;
		}
	}
	if (rc == 0)
		rc = node_update(&cu, base ? &node : NULL, bdepth, depth, 0, true, out);
	return rc;
}
