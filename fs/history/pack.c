/*
** pack: staging ODB backend and uncompressed pack writer (see pack.h).
*/
#include "fs/history/pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <git2/sys/odb_backend.h>

/* ---- SHA-1 (FIPS 180-4), only for the pack trailer git requires ---- */

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
		else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
		else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
		else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
		uint32_t t = rol32(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol32(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void rfs_sha1_init(struct rfs_sha1 *s)
{
	static const uint32_t iv[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
	                                0xC3D2E1F0u };
	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->used = 0;
}

void rfs_sha1_update(struct rfs_sha1 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	s->len += n;
	if (s->used) {
		size_t take = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used < 64)
			return;
		sha1_block(s->h, s->buf);
		s->used = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		sha1_block(s->h, p);
	memcpy(s->buf, p, n);
	s->used = n;
}

void rfs_sha1_final(struct rfs_sha1 *s, uint8_t out[20])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	rfs_sha1_update(s, pad, padlen + 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* ---- pack stream: objects as zlib stored blocks ---- */

#define OUT_BUF (1u << 20)

struct pack_out {
	git_indexer *idx;
	git_indexer_progress stats;
	struct rfs_sha1 sha;
	uint8_t *buf;
	size_t used;
	int err;
};

static void out_flush(struct pack_out *o)
{
	if (o->used && !o->err && git_indexer_append(o->idx, o->buf, o->used, &o->stats) < 0)
		o->err = -EIO;
	o->used = 0;
}

static void out_put(struct pack_out *o, const void *data, size_t n)
{
	const uint8_t *p = data;
	rfs_sha1_update(&o->sha, p, n);
	while (n) {
		size_t take = OUT_BUF - o->used < n ? OUT_BUF - o->used : n;
		memcpy(o->buf + o->used, p, take);
		o->used += take;
		p += take;
		n -= take;
		if (o->used == OUT_BUF)
			out_flush(o);
	}
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;
	while (n) {
		size_t run = n < 5552 ? n : 5552;   /* largest run without 32-bit overflow */
		n -= run;
		while (run--) { a += *p++; b += a; }
		a %= 65521u;
		b %= 65521u;
	}
	return b << 16 | a;
}

static void put_object(struct pack_out *o, git_object_t type, const uint8_t *data, size_t len)
{
	uint8_t hdr[16];
	size_t n = 0;
	size_t rest = len >> 4;
	hdr[n++] = (uint8_t)((rest ? 0x80 : 0) | ((unsigned)type & 7) << 4 | (len & 15));
	while (rest) {
		hdr[n++] = (uint8_t)((rest >> 7 ? 0x80 : 0) | (rest & 0x7f));
		rest >>= 7;
	}
	hdr[n++] = 0x78;                         /* zlib: deflate, 32 KiB window */
	hdr[n++] = 0x01;                         /* level 0, check bits */
	out_put(o, hdr, n);
	size_t off = 0;
	do {
		size_t blk = len - off < 65535 ? len - off : 65535;
		uint8_t b[5] = { off + blk == len ? 1 : 0, (uint8_t)blk, (uint8_t)(blk >> 8),
		                 (uint8_t)~blk, (uint8_t)(~blk >> 8) };
		out_put(o, b, 5);
		out_put(o, data + off, blk);
		off += blk;
	} while (off < len);
	uint8_t ad[4];
	put_be32(ad, adler32(data, len));
	out_put(o, ad, 4);
}

int rfs_pack_write(git_odb *odb, const char *packdir, size_t n, rfs_pack_source src, void *arg,
                   char name[41])
{
	if (n == 0)
		return 0;
	struct pack_out o = { 0 };
	o.buf = malloc(OUT_BUF);
	if (!o.buf)
		return -ENOMEM;
	git_indexer_options opts;
	git_indexer_options_init(&opts, GIT_INDEXER_OPTIONS_VERSION);
	if (git_indexer_new(&o.idx, packdir, 0444, odb, &opts) < 0) {
		free(o.buf);
		return -EIO;
	}
	rfs_sha1_init(&o.sha);
	uint8_t hdr[12] = { 'P', 'A', 'C', 'K' };
	put_be32(hdr + 4, 2);
	put_be32(hdr + 8, (uint32_t)n);
	out_put(&o, hdr, 12);
	for (size_t i = 0; i < n && !o.err; i++) {
		git_oid oid;
		git_object_t type;
		const void *data;
		size_t len;
		int rc = src(arg, i, &oid, &type, &data, &len);
		if (rc < 0) {
			o.err = rc;
			break;
		}
		put_object(&o, type, data, len);
	}
	uint8_t trailer[20];
	rfs_sha1_final(&o.sha, trailer);
	if (!o.err) {
		out_flush(&o);
		if (!o.err && git_indexer_append(o.idx, trailer, 20, &o.stats) < 0)
			o.err = -EIO;
		if (!o.err && git_indexer_commit(o.idx, &o.stats) < 0)
			o.err = -EIO;
		if (!o.err && name)
			snprintf(name, 41, "%s", git_indexer_name(o.idx));
	}
	git_indexer_free(o.idx);
	if (!o.err)
		git_odb_refresh(odb);
	free(o.buf);
	return o.err;
}

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
	char *packdir;
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
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		struct staged *o = realloc(st->objs, cap * sizeof *o);
		if (!o)
			return -ENOMEM;
		st->objs = o;
		st->cap = cap;
	}
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

static int be_write(git_odb_backend *be, const git_oid *oid, const void *data, size_t len,
                    git_object_t type)
{
	struct rfs_stage *st = (struct rfs_stage *)be;
	if (stage_find(st, oid))
		return 0;
	if (stage_grow(st) < 0)
		return GIT_ERROR;
	uint8_t *copy = malloc(len ? len : 1);
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
		free(st->objs[i].data);
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
	free(st->packdir);
	free(st);
}

int rfs_stage_attach(git_odb *odb, const char *packdir, struct rfs_stage **out)
{
	struct rfs_stage *st = calloc(1, sizeof *st);
	if (!st || !(st->packdir = strdup(packdir))) {
		free(st);
		return -ENOMEM;
	}
	st->parent.version = GIT_ODB_BACKEND_VERSION;
	st->parent.read = be_read;
	st->parent.read_header = be_read_header;
	st->parent.write = be_write;
	st->parent.exists = be_exists;
	st->parent.free = be_free;
	if (git_odb_add_backend(odb, &st->parent, 1000) < 0) {
		free(st->packdir);
		free(st);
		return -EIO;
	}
	*out = st;
	return 0;
}

size_t rfs_stage_bytes(const struct rfs_stage *st) { return st->bytes; }
size_t rfs_stage_count(const struct rfs_stage *st) { return st->n; }

static int stage_source(void *arg, size_t i, git_oid *oid, git_object_t *type, const void **data,
                        size_t *len)
{
	struct rfs_stage *st = arg;
	*oid = st->objs[i].oid;
	*type = st->objs[i].type;
	*data = st->objs[i].data;
	*len = st->objs[i].len;
	return 0;
}

int rfs_stage_spill(struct rfs_stage *st, git_odb *odb)
{
	int rc = rfs_pack_write(odb, st->packdir, st->n, stage_source, st, NULL);
	if (rc == 0)
		stage_clear(st);
	return rc;
}
