/*
** bytes: growable byte buffers (wiped on free: they may hold clear paths),
** a bounds-checked reader over bytes, and growth of any array. The lowest
** layer of fs/history: it uses no other history module.
** Must never: free a buffer without wiping it, or read past the end.
*/
#include "fs/history/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/secmem.h"

void rfs_bytes_put(struct rfs_bytes *b, const void *data, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = malloc(cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p) {
			memcpy(p, b->p, b->len);
			rfs_secmem_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void rfs_bytes_u8(struct rfs_bytes *b, uint8_t v) { rfs_bytes_put(b, &v, 1); }

void rfs_bytes_u32(struct rfs_bytes *b, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	rfs_bytes_put(b, x, 4);
}

void rfs_bytes_u64(struct rfs_bytes *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	rfs_bytes_put(b, x, 8);
}

void rfs_bytes_str(struct rfs_bytes *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > 0xffff) {
		b->err = -ENAMETOOLONG;
		return;
	}
	uint8_t x[2] = { (uint8_t)n, (uint8_t)(n >> 8) };
	rfs_bytes_put(b, x, 2);
	rfs_bytes_put(b, s, n);
}

void rfs_bytes_free(struct rfs_bytes *b)
{
	if (b->p) {
		rfs_secmem_wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof *b);
}

void rfs_bytes_read(struct rfs_reader *r, void *out, size_t n)
{
	if (r->err || r->len - r->off < n) {
		r->err = -EIO;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

uint8_t rfs_bytes_read_u8(struct rfs_reader *r)
{
	uint8_t v;
	rfs_bytes_read(r, &v, 1);
	return v;
}

uint32_t rfs_bytes_read_u32(struct rfs_reader *r)
{
	uint8_t x[4];
	rfs_bytes_read(r, x, 4);
	return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

uint64_t rfs_bytes_read_u64(struct rfs_reader *r)
{
	return rfs_bytes_read_u32(r) | (uint64_t)rfs_bytes_read_u32(r) << 32;
}

char *rfs_bytes_read_str(struct rfs_reader *r)
{
	uint8_t x[2];
	rfs_bytes_read(r, x, 2);
	size_t n = (size_t)x[0] | (size_t)x[1] << 8;
	if (r->err || r->len - r->off < n) {
		r->err = -EIO;
		return NULL;
	}
	char *s = malloc(n + 1);
	if (!s) {
		r->err = -ENOMEM;
		return NULL;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = 0;
	r->off += n;
	return s;
}

int rfs_bytes_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t first)
{
	void **v = vp;
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : first;
	void *nv = realloc(*v, c * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}
