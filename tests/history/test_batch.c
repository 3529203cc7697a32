/*
** test_batch: the committer's batches (fs/history/batch.c) are the ones the
** pairwise rule makes: each queued save compared with every save taken and
** every save left. Queues of files in folders, folders themselves, renames
** (an old path too), the root, saves of one file id under two names, and two
** authors; the batches and their order must match save for save.
** Must never: touch a vault or the disk.
*/
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "fs/history/internal.h"

#define REF_MAX_BATCH 256
#define REF_MAX_SCAN 1024

/* The batching before the hash sets: the reference. */
static size_t ref_take_batch(struct rfs_pending **head, struct rfs_pending **out)
{
	struct rfs_pending *taken = NULL, **tail = &taken, **pp = head, *p;
	struct rfs_pending *left[REF_MAX_SCAN];
	size_t n = 0, nleft = 0;

	while ((p = *pp) != NULL && n < REF_MAX_BATCH && nleft < REF_MAX_SCAN) {
		bool clash = !p->cpath[0] && (n || nleft);
		if (!clash && taken) {
			bool a = p->login != NULL, b = taken->login != NULL;
			clash = a != b || (a && (strcmp(p->login, taken->login) ||
			                         strcmp(p->full_name, taken->full_name) ||
			                         strcmp(p->host, taken->host)));
		}
		for (struct rfs_pending *q = taken; q && !clash; q = q->next)
			clash = rfs_batch_saves_conflict(p, q);
		for (size_t i = 0; i < nleft && !clash; i++)
			clash = rfs_batch_saves_conflict(p, left[i]);
		if (clash) {
			left[nleft++] = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->next = NULL;
		*tail = p;
		tail = &p->next;
		n++;
		if (!p->cpath[0])
			break;
	}
	*out = taken;
	return n;
}

struct gen {
	uint64_t state;
};

static unsigned next(struct gen *g, unsigned n)
{
	g->state = g->state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(g->state >> 33) % n;
}

/* A cipher path: "" (the root) rarely, else 1-4 parts from a few names that
** share prefixes ("a", "ab", "a/b"), sometimes with a trailing or double slash. */
static char *some_path(struct gen *g, bool root_ok)
{
	static const char *parts[] = { "a", "ab", "b", "ba", "c", "a.x" };
	char buf[256] = "";
	if (root_ok && next(g, 40) == 0)
		return strdup("");
	unsigned depth = 1 + next(g, 4);
	for (unsigned i = 0; i < depth; i++) {
		if (i)
			strcat(buf, next(g, 30) == 0 ? "//" : "/");
		strcat(buf, parts[next(g, 6)]);
	}
	if (next(g, 50) == 0)
		strcat(buf, "/");
	return strdup(buf);
}

static struct rfs_pending *some_save(struct gen *g, uint64_t seq)
{
	struct rfs_pending *p = calloc(1, sizeof *p);
	cr_assert_not_null(p);
	p->seq = seq;
	p->dfd = -1;
	p->cpath = some_path(g, true);
	if (next(g, 5) == 0)                  /* a rename: the old path too */
		p->cpath_old = some_path(g, true);
	if (next(g, 3)) {                     /* a file id from a few (zeros: a link) */
		memset(p->ev.file_id, 0, 16);
		p->ev.file_id[next(g, 16)] = (uint8_t)(1 + next(g, 4));
	}
	if (next(g, 8) == 0) {                /* another author */
		p->login = strdup(next(g, 2) ? "jsmith" : "akhan");
		p->full_name = strdup("Someone");
		p->host = strdup("pc-1");
	}
	return p;
}

static void free_save(struct rfs_pending *p)
{
	free(p->cpath);
	free(p->cpath_old);
	free(p->login);
	free(p->full_name);
	free(p->host);
	free(p);
}

static struct rfs_pending *copy_save(const struct rfs_pending *s)
{
	struct rfs_pending *p = calloc(1, sizeof *p);
	cr_assert_not_null(p);
	p->seq = s->seq;
	p->dfd = -1;
	memcpy(p->ev.file_id, s->ev.file_id, 16);
	p->cpath = strdup(s->cpath);
	p->cpath_old = s->cpath_old ? strdup(s->cpath_old) : NULL;
	p->login = s->login ? strdup(s->login) : NULL;
	p->full_name = s->full_name ? strdup(s->full_name) : NULL;
	p->host = s->host ? strdup(s->host) : NULL;
	return p;
}

/* Queue n saves in h and in a copy for the reference, then take batches from both
** (more saves arriving between batches) until both are empty: the same each time. */
static void same_batches(uint64_t seed, size_t n, size_t arriving)
{
	struct gen g = { seed };
	struct rfs_history *h = calloc(1, sizeof *h);
	struct rfs_pending *ref = NULL, **ref_tail = &ref;
	uint64_t seq = 0;
	size_t batches = 0, saves = 0;
	cr_assert_not_null(h);

	for (;;) {
		size_t add = seq == 0 ? n : (seq < n + arriving * 8 ? arriving : 0);
		for (size_t i = 0; i < add; i++) {
			struct rfs_pending *p = some_save(&g, ++seq);
			if (h->q_tail)
				h->q_tail->next = p;
			else
				h->q_head = p;
			h->q_tail = p;
			h->q_len++;
			while (*ref_tail)
				ref_tail = &(*ref_tail)->next;
			*ref_tail = copy_save(p);
		}
		if (!h->q_head) {
			cr_assert_null(ref, "the reference has saves left after the queue is empty");
			break;
		}
		struct rfs_pending *mine, *theirs;
		size_t len = h->q_len;
		size_t a = rfs_queue_take_batch(h, &mine);
		size_t b = ref_take_batch(&ref, &theirs);
		ref_tail = &ref;
		cr_assert_eq(a, b, "seed %llu batch %zu: %zu saves, the reference %zu",
		             (unsigned long long)seed, batches, a, b);
		cr_assert_eq(h->q_len, len - a);
		for (struct rfs_pending *p = mine, *q = theirs; p || q;) {
			cr_assert(p && q && p->seq == q->seq, "seed %llu batch %zu: save %llu, the reference %llu",
			          (unsigned long long)seed, batches, p ? (unsigned long long)p->seq : 0ull,
			          q ? (unsigned long long)q->seq : 0ull);
			struct rfs_pending *pn = p->next, *qn = q->next;
			free_save(p);
			free_save(q);
			p = pn;
			q = qn;
		}
		/* the queue's tail is its last save */
		struct rfs_pending *last = NULL;
		for (struct rfs_pending *p = h->q_head; p; p = p->next)
			last = p;
		cr_assert(h->q_tail == last, "seed %llu batch %zu: the queue's tail is not its last save",
		          (unsigned long long)seed, batches);
		batches++;
		saves += a;
	}
	cr_assert_eq(saves, seq);
	cr_assert_gt(batches, 1);
	rfs_batch_index_free(h->batch_index);
	free(h);
}

Test(batch, the_same_batches_as_the_pairwise_rule_on_small_queues)
{
	for (uint64_t seed = 1; seed <= 300; seed++)
		same_batches(seed, 20 + seed % 40, 3);
}

Test(batch, the_same_batches_as_the_pairwise_rule_past_the_scan_and_batch_limits, .timeout = 120)
{
	for (uint64_t seed = 1000; seed < 1010; seed++)
		same_batches(seed, 3000, 200);
}

/* A hand-made queue: a file, its folder, a rename out of that folder, an
** unrelated file, the same file id under a new name, and the root. */
Test(batch, folders_renames_ids_and_the_root)
{
	struct { const char *path, *old; uint8_t id; } q[] = {
		{ "d/f", NULL, 1 },          /* 1: taken */
		{ "d", NULL, 0 },            /* 2: d/f's folder: left */
		{ "e/g", "d/h", 2 },         /* 3: moved out of d (left before): left, and in batch 2 */
		{ "x/y", NULL, 3 },          /* 4: taken */
		{ "z", NULL, 1 },            /* 5: d/f's id: left; in batch 2 with d */
		{ "dd/f", NULL, 4 },         /* 6: "dd" is not inside "d": taken */
		{ "", NULL, 0 },             /* 7: the root: left (not first) */
	};
	struct rfs_history *h = calloc(1, sizeof *h);
	cr_assert_not_null(h);
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		struct rfs_pending *p = calloc(1, sizeof *p);
		p->seq = i + 1;
		p->cpath = strdup(q[i].path);
		p->cpath_old = q[i].old ? strdup(q[i].old) : NULL;
		p->ev.file_id[0] = q[i].id;
		if (h->q_tail)
			h->q_tail->next = p;
		else
			h->q_head = p;
		h->q_tail = p;
		h->q_len++;
	}
	const uint64_t want[][8] = { { 1, 4, 6 }, { 2, 5 }, { 3 }, { 7 } };
	for (size_t b = 0; b < 4; b++) {
		struct rfs_pending *batch;
		size_t n = rfs_queue_take_batch(h, &batch), i = 0;
		for (struct rfs_pending *p = batch; p; i++) {
			cr_assert_eq(p->seq, want[b][i], "batch %zu, save %zu: %llu", b, i,
			             (unsigned long long)p->seq);
			struct rfs_pending *nx = p->next;
			free_save(p);
			p = nx;
		}
		cr_assert_eq(n, i);
		cr_assert(want[b][i] == 0 || i == 8);
	}
	cr_assert_null(h->q_head);
	cr_assert_eq(h->q_len, 0);
	rfs_batch_index_free(h->batch_index);
	free(h);
}
