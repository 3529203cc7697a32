/*
** batch: which queued saves may share one commit (rfs_queue_take_batch). A
** save joins the batch when it conflicts with no save taken or left before
** it; the conflict test looks the save's paths and file id up in hash sets
** of those saves, so a batch costs the length of its paths, not a pass over
** every save taken and left for each save.
** Must never: decide otherwise than the pairwise rule (saves_conflict below),
** which stays as the fallback when the sets cannot grow.
*/
#include "fs/history/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BATCH 256                    /* saves per commit, at most */
#define MAX_SCAN 1024                    /* queued saves looked at for one batch */

/* One pass, no strlen: equal, or one is the other's folder ("" is the root). */
static bool path_overlaps(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	if (!a[0] || !b[0])
		return true;                     /* the root overlaps everything */
	while (*a && *a == *b) {
		a++;
		b++;
	}
	/* equal, or one is the other's folder */
	return (!*a && (!*b || *b == '/')) || (!*b && *a == '/');
}

static bool zero_id(const uint8_t id[16])
{
	static const uint8_t z[16];
	return !memcmp(id, z, 16);
}

bool rfs_batch_saves_conflict(const struct rfs_pending *a, const struct rfs_pending *b)
{
	if (!zero_id(a->ev.file_id) && !memcmp(a->ev.file_id, b->ev.file_id, 16))
		return true;
	return path_overlaps(a->cpath, b->cpath) || path_overlaps(a->cpath, b->cpath_old) ||
	       path_overlaps(a->cpath_old, b->cpath) || path_overlaps(a->cpath_old, b->cpath_old);
}

static bool same_author(const struct rfs_pending *a, const struct rfs_pending *b)
{
	if (!a->login || !b->login)
		return !a->login && !b->login;
	return !strcmp(a->login, b->login) && !strcmp(a->full_name, b->full_name) &&
	       !strcmp(a->host, b->host);
}

/* ---- the sets: open addressing; a slot is empty unless its gen is the batch's ---- */

struct slot {
	uint64_t hash;
	const uint8_t *key;              /* into a queued save's path or file id */
	uint32_t len;
	uint32_t gen;
};

struct set {
	struct slot *s;
	size_t cap, n;                   /* cap: a power of two */
};

struct rfs_batch_index {
	struct set paths;                /* every path of the saves so far */
	struct set folders;              /* every folder of those paths: a prefix before a '/' */
	struct set ids;                  /* their file ids but zeros */
	uint32_t gen;
	bool root, any;                  /* one of the paths is "" (the root); there is a path */
};

static uint64_t hash_more(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;   /* FNV-1a */
	return h;
}

#define HASH_START 0xcbf29ce484222325ull

static bool set_has(const struct set *t, uint32_t gen, uint64_t h, const uint8_t *k, size_t len)
{
	if (!t->cap)
		return false;
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct slot *s = &t->s[i];
		if (s->gen != gen)
			return false;
		if (s->hash == h && s->len == len && !memcmp(s->key, k, len))
			return true;
	}
}

static void set_put_slot(struct set *t, uint32_t gen, uint64_t h, const uint8_t *k, size_t len)
{
	size_t i = h & (t->cap - 1);
	while (t->s[i].gen == gen)
		i = (i + 1) & (t->cap - 1);
	t->s[i] = (struct slot){ h, k, (uint32_t)len, gen };
	t->n++;
}

/* Keep the load under a half. 0, or -ENOMEM with t as it was. */
static int set_room(struct set *t, uint32_t gen)
{
	if (2 * (t->n + 1) <= t->cap)
		return 0;
	size_t cap = t->cap ? 2 * t->cap : 1024;
	struct slot *s = calloc(cap, sizeof *s), *old = t->s;
	if (!s)
		return -ENOMEM;
	size_t oldcap = t->cap;
	t->s = s;
	t->cap = cap;
	t->n = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].gen == gen)
			set_put_slot(t, gen, old[i].hash, old[i].key, old[i].len);
	free(old);
	return 0;
}

static int set_put(struct set *t, uint32_t gen, uint64_t h, const uint8_t *k, size_t len)
{
	if (set_has(t, gen, h, k, len))
		return 0;
	int rc = set_room(t, gen);
	if (rc == 0)
		set_put_slot(t, gen, h, k, len);
	return rc;
}

/* Whether path overlaps a path in the sets (path_overlaps with each of them). */
static bool index_overlaps(const struct rfs_batch_index *x, const char *path)
{
	if (!path)
		return false;
	if (!path[0])
		return x->any;                   /* the root overlaps every path */
	if (x->root)
		return true;
	const uint8_t *p = (const uint8_t *)path;
	uint64_t h = HASH_START;
	size_t i = 0;
	for (; p[i]; i++) {
		/* a path in the sets that is a folder of this one */
		if (p[i] == '/' && i && set_has(&x->paths, x->gen, h, p, i))
			return true;
		h = hash_more(h, p + i, 1);
	}
	/* the same path, or one of the paths is inside this one */
	return set_has(&x->paths, x->gen, h, p, i) || set_has(&x->folders, x->gen, h, p, i);
}

static int index_add_path(struct rfs_batch_index *x, const char *path)
{
	if (!path)
		return 0;
	x->any = true;
	if (!path[0]) {
		x->root = true;
		return 0;
	}
	const uint8_t *p = (const uint8_t *)path;
	uint64_t h = HASH_START;
	size_t i = 0;
	int rc = 0;
	for (; p[i] && rc == 0; i++) {
		if (p[i] == '/' && i)
			rc = set_put(&x->folders, x->gen, h, p, i);
		h = hash_more(h, p + i, 1);
	}
	return rc ? rc : set_put(&x->paths, x->gen, h, p, i);
}

static bool index_conflicts(const struct rfs_batch_index *x, const struct rfs_pending *p)
{
	const uint8_t *id = p->ev.file_id;
	if (!zero_id(id) && set_has(&x->ids, x->gen, hash_more(HASH_START, id, 16), id, 16))
		return true;
	return index_overlaps(x, p->cpath) || index_overlaps(x, p->cpath_old);
}

static int index_add(struct rfs_batch_index *x, const struct rfs_pending *p)
{
	const uint8_t *id = p->ev.file_id;
	int rc = index_add_path(x, p->cpath);
	if (rc == 0)
		rc = index_add_path(x, p->cpath_old);
	if (rc == 0 && !zero_id(id))
		rc = set_put(&x->ids, x->gen, hash_more(HASH_START, id, 16), id, 16);
	return rc;
}

/* Empty for a new batch: a new generation; every 2^32 batches the slots are cleared. */
static void index_reset(struct rfs_batch_index *x)
{
	if (++x->gen == 0) {
		struct set *sets[3] = { &x->paths, &x->folders, &x->ids };
		for (int i = 0; i < 3; i++)
			if (sets[i]->s)
				memset(sets[i]->s, 0, sets[i]->cap * sizeof *sets[i]->s);
		x->gen = 1;
	}
	x->paths.n = x->folders.n = x->ids.n = 0;
	x->root = x->any = false;
}

void rfs_batch_index_free(struct rfs_batch_index *x)
{
	if (!x)
		return;
	free(x->paths.s);
	free(x->folders.s);
	free(x->ids.s);
	free(x);
}

/* The pairwise rule, for when the sets could not grow. */
static bool scan_conflicts(const struct rfs_pending *p, const struct rfs_pending *taken,
                           struct rfs_pending *const *left, size_t nleft)
{
	for (const struct rfs_pending *q = taken; q; q = q->next)
		if (rfs_batch_saves_conflict(p, q))
			return true;
	for (size_t i = 0; i < nleft; i++)
		if (rfs_batch_saves_conflict(p, left[i]))
			return true;
	return false;
}

/* The saves of the next commit, in record order: every queued save that
** conflicts neither with one taken nor with an earlier one left waiting (so
** the saves of one path keep their order). Saves of different files thus
** share commits even when each file is saved twice in a row (create, then
** write). A save of the root goes alone. q_lock held. */
size_t rfs_queue_take_batch(struct rfs_history *h, struct rfs_pending **out)
{
	struct rfs_pending *taken = NULL, **tail = &taken, **pp = &h->q_head, *p, *last_left = NULL;
	struct rfs_pending *left[MAX_SCAN];
	size_t n = 0, nleft = 0;
	struct rfs_batch_index *x = h->batch_index;

	if (!x)
		x = h->batch_index = calloc(1, sizeof *x);
	bool indexed = x != NULL;            /* else, and once a set cannot grow: the scan */
	if (indexed)
		index_reset(x);
	while ((p = *pp) != NULL && n < MAX_BATCH && nleft < MAX_SCAN) {
		bool clash = !p->cpath[0] && (n || nleft);
		clash = clash || (taken && !same_author(p, taken));   /* one author per commit */
		if (!clash)
			clash = indexed ? index_conflicts(x, p) : scan_conflicts(p, taken, left, nleft);
		if (indexed && index_add(x, p) < 0)
			indexed = false;             /* p may be half in: the scan from here on */
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
	/* Nothing after the scan: the tail is the last save left. This holds too
	** when a root-folder save ended the batch as the queue's last (taking it
	** left the tail pointing at a save no longer queued). */
	if (!*pp)
		h->q_tail = last_left;
	h->q_len -= n;
	clock_gettime(CLOCK_MONOTONIC, &h->last_batch);
	*out = taken;
	return n;
}
