/*
** bytes: growable byte buffers, a reader over bytes, and array growth:
** the lowest layer of fs/history (see bytes.c).
** Must never: include another fs/history header.
*/
#ifndef RECFS_FS_HISTORY_BYTES_H
#define RECFS_FS_HISTORY_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; wiped on free (it may hold clear paths). */
struct rfs_bytes {
	uint8_t *p;
	size_t len, cap;
	int err;
};
void rfs_bytes_put(struct rfs_bytes *b, const void *data, size_t n);
void rfs_bytes_u8(struct rfs_bytes *b, uint8_t v);
void rfs_bytes_u32(struct rfs_bytes *b, uint32_t v);
void rfs_bytes_u64(struct rfs_bytes *b, uint64_t v);
void rfs_bytes_str(struct rfs_bytes *b, const char *s);
void rfs_bytes_free(struct rfs_bytes *b);

/* A reader over bytes; any overrun sets err. */
struct rfs_reader {
	const uint8_t *p;
	size_t len, off;
	int err;
};
uint8_t rfs_bytes_read_u8(struct rfs_reader *r);
uint32_t rfs_bytes_read_u32(struct rfs_reader *r);
uint64_t rfs_bytes_read_u64(struct rfs_reader *r);
void rfs_bytes_read(struct rfs_reader *r, void *out, size_t n);
char *rfs_bytes_read_str(struct rfs_reader *r);  /* heap, NUL-terminated */

/* Make room for one more element in the array *vp (n used, *cap allocated,
** elem bytes each; first capacity first): doubles it when full. 0 or -ENOMEM. */
int rfs_bytes_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t first);

#endif
