/*
** stage: the in-memory staging object store, a libgit2 ODB backend of the
** highest priority, so every object history writes lands here first, until
** it is spilled into one pack (see stage.h).
** Must never: write loose objects, or drop an object before it is packed.
*/
#include "fs/history/stage.h"
#include "fs/history/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <git2/sys/odb_backend.h>

/* ---- the staging backend ---- */

struct staged {
	git_oid oid;
	git_object_t type;
	size_t len;
	uint8_t *data;
};

struct rfs_stage {
	git_odb_backend parent;
	struct staged *objs;              /* insertion order */
	size_t n, cap;
	uint32_t *slots;                  /* open addressing: index+1 into objs, 0 = empty */
	size_t nslots;
	size_t bytes;
	struct rfs_packs *packs;          /* where spills go (NULL: never spilled) */
};

static size_t oid_hash(const git_oid *oid)
{
	size_t h;
	memcpy(&h, oid->id, sizeof h);
	return h;
}

static struct staged *stage_find(struct rfs_stage *st, const git_oid *oid)
{
	if (!st->nslots)
		return NULL;
	for (size_t i = oid_hash(oid) & (st->nslots - 1);; i = (i + 1) & (st->nslots - 1)) {
		uint32_t s = st->slots[i];
		if (!s)
			return NULL;
		if (git_oid_equal(&st->objs[s - 1].oid, oid))
			return &st->objs[s - 1];
	}
}

static void slot_insert(struct rfs_stage *st, size_t idx)
{
	size_t i = oid_hash(&st->objs[idx].oid) & (st->nslots - 1);
	while (st->slots[i])
		i = (i + 1) & (st->nslots - 1);
	st->slots[i] = (uint32_t)(idx + 1);
}

static int stage_grow(struct rfs_stage *st)
{
	if (rfs_bytes_grow(&st->objs, &st->cap, st->n, sizeof *st->objs, 1024) < 0)
		return -ENOMEM;
	if ((st->n + 1) * 2 > st->nslots) {
		size_t ns = st->nslots ? st->nslots * 2 : 4096;
		uint32_t *s = calloc(ns, sizeof *s);
		if (!s)
			return -ENOMEM;
		free(st->slots);
		st->slots = s;
		st->nslots = ns;
		for (size_t i = 0; i < st->n; i++)
			slot_insert(st, i);
	}
	return 0;
}

/* Chunks (1 MiB) get pages of their own: freed, they go back to the
** system at once, where malloc would keep them in its arena and the
** daemon's resident memory would stay at its peak after a big save. */
#define STAGE_MMAP_MIN (128u << 10)

static uint8_t *stage_alloc(size_t len)
{
	if (len < STAGE_MMAP_MIN)
		return malloc(len ? len : 1);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void stage_release(uint8_t *p, size_t len)
{
	if (len < STAGE_MMAP_MIN)
		free(p);
	else if (p)
		munmap(p, len);
}

static int be_write(git_odb_backend *be, const git_oid *oid, const void *data, size_t len,
                    git_object_t type)
{
	struct rfs_stage *st = (struct rfs_stage *)be;
	if (stage_find(st, oid))
		return 0;
	if (stage_grow(st) < 0)
		return GIT_ERROR;
	uint8_t *copy = stage_alloc(len);
	if (!copy)
		return GIT_ERROR;
	memcpy(copy, data, len);
	st->objs[st->n] = (struct staged){ *oid, type, len, copy };
	slot_insert(st, st->n);
	st->n++;
	st->bytes += len;
	return 0;
}

static int be_read(void **buf, size_t *len, git_object_t *type, git_odb_backend *be,
                   const git_oid *oid)
{
	struct staged *o = stage_find((struct rfs_stage *)be, oid);
	if (!o)
		return GIT_ENOTFOUND;
	*buf = git_odb_backend_data_alloc(be, o->len ? o->len : 1);
	if (!*buf)
		return GIT_ERROR;
	memcpy(*buf, o->data, o->len);
	*len = o->len;
	*type = o->type;
	return 0;
}

static int be_read_header(size_t *len, git_object_t *type, git_odb_backend *be, const git_oid *oid)
{
	struct staged *o = stage_find((struct rfs_stage *)be, oid);
	if (!o)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int be_exists(git_odb_backend *be, const git_oid *oid)
{
	return stage_find((struct rfs_stage *)be, oid) != NULL;
}

static void stage_clear(struct rfs_stage *st)
{
	for (size_t i = 0; i < st->n; i++)
		stage_release(st->objs[i].data, st->objs[i].len);
	st->n = 0;
	st->bytes = 0;
	if (st->slots)
		memset(st->slots, 0, st->nslots * sizeof *st->slots);
}

static void be_free(git_odb_backend *be)
{
	struct rfs_stage *st = (struct rfs_stage *)be;
	stage_clear(st);
	free(st->objs);
	free(st->slots);
	free(st);
}

int rfs_stage_attach(git_odb *odb, struct rfs_packs *packs, struct rfs_stage **out)
{
	struct rfs_stage *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->packs = packs;
	st->parent.version = GIT_ODB_BACKEND_VERSION;
	st->parent.read = be_read;
	st->parent.read_header = be_read_header;
	st->parent.write = be_write;
	st->parent.exists = be_exists;
	st->parent.free = be_free;
	if (git_odb_add_backend(odb, &st->parent, 1000) < 0) {
		free(st);
		return -EIO;
	}
	*out = st;
	return 0;
}

int rfs_stage_put(struct rfs_stage *st, const git_oid *oid, git_object_t type, const void *data,
                  size_t len)
{
	return be_write(&st->parent, oid, data, len, type) < 0 ? -ENOMEM : 0;
}

size_t rfs_stage_bytes(const struct rfs_stage *st) { return st->bytes; }
size_t rfs_stage_count(const struct rfs_stage *st) { return st->n; }

static int stage_source(void *arg, size_t i, struct rfs_pack_obj *obj)
{
	struct rfs_stage *st = arg;
	obj->oid = st->objs[i].oid;
	obj->type = st->objs[i].type;
	obj->data = st->objs[i].data;
	obj->len = st->objs[i].len;
	return 0;
}

int rfs_stage_put_new(struct rfs_stage *st, const git_oid *oid, git_object_t type,
                      const void *data, size_t len)
{
	if (stage_find(st, oid) || (st->packs && rfs_pack_has(st->packs, oid)))
		return 0;
	return rfs_stage_put(st, oid, type, data, len);
}

int rfs_stage_spill(struct rfs_stage *st)
{
	if (!st->packs)
		return -EROFS;
	int rc = rfs_pack_write(st->packs, st->n, stage_source, st, NULL);
	if (rc == 0)
		stage_clear(st);
	return rc;
}
