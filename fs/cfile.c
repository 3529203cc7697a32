/*
** cfile: plaintext I/O on one ciphertext file. See cfile.h and crypto/content.h.
**
** Writes keep two facts true at every syscall boundary that can be reached
** without a crash: the last block is sealed final, all others are full. Space
** is reserved with fallocate before anything is overwritten, so ENOSPC leaves
** the old file intact.
*/
#include "fs/cfile.h"
#include "fs/faultpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/content.h"

#define RFS_MAX_PLAIN_SIZE (UINT64_C(1) << 52)

/* One scratch buffer per thread, grown on demand: a FUSE request is <= 1 MiB. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

struct scratch {
	size_t cap;
	uint8_t *buf;
};

static void scratch_free(void *p)
{
	struct scratch *s = p;

	free(s->buf);
	free(s);
}

static void scratch_init(void)
{
	(void)pthread_key_create(&scratch_key, scratch_free);
}

static uint8_t *scratch(size_t n)
{
	struct scratch *s;

	pthread_once(&scratch_once, scratch_init);
	s = pthread_getspecific(scratch_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	if (s->cap < n) {
		uint8_t *nb = realloc(s->buf, n);

		if (!nb)
			return NULL;
		s->buf = nb;
		s->cap = n;
	}
	return s->buf;
}

static int pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;      /* shorter than the size says: truncated */
		done += (size_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Reserve space so that a later overwrite cannot fail half way with ENOSPC. */
static int reserve(int fd, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS)
		return 0;
	return -errno;
}

static uint64_t last_block(uint64_t size)
{
	return (size - 1) / RFS_BLOCK_SIZE;
}

/* Plaintext length of block i in a file of size bytes (i <= last_block). */
static size_t block_len(uint64_t size, uint64_t i)
{
	uint64_t rest = size - i * RFS_BLOCK_SIZE;

	return rest < RFS_BLOCK_SIZE ? (size_t)rest : RFS_BLOCK_SIZE;
}

int rfs_cfile_stat_size(int fd, uint64_t *size)
{
	struct stat st;
	bool valid;

	if (fstat(fd, &st) != 0)
		return -errno;
	*size = rfs_plain_size((uint64_t)st.st_size, &valid);
	return valid ? 0 : -EIO;
}

/* The header of fd and its key, authenticated; the size is not looked at. */
static int load_header(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                       uint8_t file_id_out[RFS_FILE_ID_SIZE], uint16_t *flags_out,
                       const char **why)
{
	uint8_t hdr[RFS_HEADER_SIZE];
	struct rfs_header h;
	int rc;

	*why = "header missing or cut short";
	rc = pread_full(fd, hdr, sizeof(hdr), 0);
	if (rc < 0)
		return rc;
	*why = "unknown or damaged header";
	rc = rfs_header_parse(&h, hdr, sizeof(hdr));
	if (rc < 0)
		return rc;
	*why = "content key missing (destroyed by disposal?)";
	rc = rfs_keystore_load(ks, h.file_id, key_out);
	if (rc == -EIO)
		*why = "content key entry does not authenticate";
	if (rc < 0)
		return rc;
	*why = "header does not authenticate";
	if (rfs_header_verify(hdr, key_out) != 0)
		return -EIO;
	memcpy(file_id_out, h.file_id, RFS_FILE_ID_SIZE);
	*flags_out = h.flags;
	*why = NULL;
	return 0;
}

int rfs_cfile_load(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                   uint8_t file_id_out[RFS_FILE_ID_SIZE], uint16_t *flags_out, const char **why)
{
	struct stat st;
	uint64_t size;
	uint16_t flags;
	int rc;

	*why = NULL;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (st.st_size == 0)
		return -ENODATA;      /* an empty file that has no header yet (FORMAT.md 5) */
	rc = load_header(ks, fd, key_out, file_id_out, &flags, why);
	if (rc < 0)
		return rc;
	*why = "file cut short or extended";
	rc = rfs_cfile_stat_size(fd, &size);
	if (rc < 0)
		return rc;
	if (((flags & RFS_HDR_NONEMPTY) != 0) != (size > 0))
		return -EIO;
	*flags_out = flags;
	*why = NULL;
	return 0;
}

static int write_header(struct rfs_cfile *cf, uint16_t flags)
{
	struct rfs_header h = { .version = RFS_CONTENT_VERSION, .flags = flags };
	uint8_t hdr[RFS_HEADER_SIZE];
	int rc;

	memcpy(h.file_id, cf->file_id, RFS_FILE_ID_SIZE);
	rfs_header_seal(hdr, &h, cf->key);
	rc = pwrite_full(cf->fd, hdr, sizeof(hdr), 0);
	if (rc == 0)
		cf->hdr_flags = flags;
	return rc;
}

int rfs_cfile_init_as(int fd, const uint8_t *key, const uint8_t file_id[RFS_FILE_ID_SIZE])
{
	struct rfs_cfile cf = { .fd = fd, .key = key };

	memcpy(cf.file_id, file_id, RFS_FILE_ID_SIZE);
	return write_header(&cf, 0);
}

int rfs_cfile_init(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                   uint8_t file_id_out[RFS_FILE_ID_SIZE])
{
	struct rfs_cfile cf = { .fd = fd, .key = key_out };
	int rc = rfs_keystore_create(ks, cf.file_id, key_out);

	if (rc < 0)
		return rc;
	memcpy(file_id_out, cf.file_id, RFS_FILE_ID_SIZE);
	return write_header(&cf, 0);
}

/* To 0 bytes first, then the empty header: not a cut to the header alone, which
** ext4 can commit before the header's rewrite (NONEMPTY with no block: EIO).
** ext4 treats what follows as a rewrite (auto_da_alloc), and a cut in between
** leaves 0 bytes: an empty file. */
static int empty_then_header(struct rfs_cfile *cf, uint16_t flags)
{
	if (ftruncate(cf->fd, 0) != 0)
		return -errno;
	RFS_FAULT_POINT("emptied", cf->fd);
	return write_header(cf, flags);
}

int rfs_cfile_reset(struct rfs_keystore *ks, int fd, uint8_t *key, uint8_t file_id[RFS_FILE_ID_SIZE],
                    bool have_key, bool *new_key)
{
	struct rfs_cfile cf = { .fd = fd, .key = key };
	const char *why;
	uint16_t flags;
	int rc = 0;

	*new_key = false;
	if (have_key) {
		memcpy(cf.file_id, file_id, RFS_FILE_ID_SIZE);
	} else {
		rc = load_header(ks, fd, key, cf.file_id, &flags, &why);
		if (rc == -EPROTONOSUPPORT || rc == -ENOMEM)
			return rc;    /* a newer format is not ours to overwrite */
		if (rc < 0) {
			/* No id that can be trusted: the emptied file is a new one. */
			rc = rfs_keystore_create(ks, cf.file_id, key);
			if (rc < 0)
				return rc;
			*new_key = true;
		}
	}
	rc = empty_then_header(&cf, 0);
	if (rc == 0)
		memcpy(file_id, cf.file_id, RFS_FILE_ID_SIZE);
	return rc;
}

/* Open block i of a file of the given size into out (block_len bytes). Holes read as zeros. */
static int read_block(struct rfs_cfile *cf, uint64_t size, uint64_t i, uint8_t *out)
{
	uint8_t ct[RFS_SLOT_SIZE];
	size_t len = block_len(size, i);
	bool final = i == last_block(size);
	int rc = pread_full(cf->fd, ct, len + RFS_BLOCK_OVERHEAD, rfs_slot_offset(i));

	if (rc < 0)
		return rc;
	if (!final && rfs_slot_is_hole(ct, RFS_SLOT_SIZE)) {
		memset(out, 0, RFS_BLOCK_SIZE);
		return 0;
	}
	return rfs_block_open(out, ct, len + RFS_BLOCK_OVERHEAD, i, final, cf->file_id, cf->key);
}

/* Rewrite block i (read under old_size) with new length and final flag. */
static int reseal_block(struct rfs_cfile *cf, uint64_t old_size, uint64_t i, size_t new_len,
                        bool final)
{
	uint8_t plain[RFS_BLOCK_SIZE];
	uint8_t ct[RFS_SLOT_SIZE];
	size_t old_len = block_len(old_size, i);
	int rc = read_block(cf, old_size, i, plain);

	if (rc < 0)
		return rc;
	if (new_len > old_len)
		memset(plain + old_len, 0, new_len - old_len);
	rfs_block_seal(ct, plain, new_len, i, final, cf->file_id, cf->key);
	rc = pwrite_full(cf->fd, ct, new_len + RFS_BLOCK_OVERHEAD, rfs_slot_offset(i));
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

ssize_t rfs_cfile_read(struct rfs_cfile *cf, size_t len, uint64_t off, const uint8_t **out)
{
	uint64_t size = cf->size, last, b0, b1, i;
	uint8_t *ct;
	size_t ct_len, done = 0;
	int rc;

	if (off >= size || len == 0)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	last = last_block(size);
	b0 = off / RFS_BLOCK_SIZE;
	b1 = (off + len - 1) / RFS_BLOCK_SIZE;
	ct_len = (size_t)(rfs_slot_offset(b1) - rfs_slot_offset(b0)) + block_len(size, b1) +
	         RFS_BLOCK_OVERHEAD;
	ct = scratch(ct_len);
	if (!ct)
		return -ENOMEM;
	rc = pread_full(cf->fd, ct, ct_len, rfs_slot_offset(b0));
	if (rc < 0)
		return rc;
	/* Each block is opened where it lies, then moved down to its place:
	** plaintext i never reaches past slot i, so nothing unread is overwritten. */
	for (i = b0; i <= b1; i++) {
		uint8_t *slot = ct + (i - b0) * RFS_SLOT_SIZE;
		size_t blen = block_len(size, i);
		uint64_t bstart = i * RFS_BLOCK_SIZE;
		size_t from = off > bstart ? (size_t)(off - bstart) : 0;
		size_t n = blen - from;

		if (n > len - done)
			n = len - done;
		if (i != last && rfs_slot_is_hole(slot, RFS_SLOT_SIZE)) {
			memset(ct + done, 0, n);
		} else {
			if (rfs_block_open_in_place(slot, blen + RFS_BLOCK_OVERHEAD, i, i == last,
			                            cf->file_id, cf->key) != 0)
				return -EIO;
			memmove(ct + done, slot + RFS_BLOCK_NONCE + from, n);
		}
		done += n;
	}
	*out = ct;
	return (ssize_t)done;
}

ssize_t rfs_cfile_write(struct rfs_cfile *cf, const uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t old_size = cf->size, new_size, end, b0, b1, i, new_last, old_last = 0;
	bool reseal_old;
	uint8_t *out;
	size_t out_len;
	int rc;

	if (len == 0)
		return 0;
	if (off > RFS_MAX_PLAIN_SIZE || len > RFS_MAX_PLAIN_SIZE - off)
		return -EFBIG;
	end = off + len;
	new_size = end > old_size ? end : old_size;
	new_last = last_block(new_size);
	b0 = off / RFS_BLOCK_SIZE;
	b1 = (end - 1) / RFS_BLOCK_SIZE;
	if (old_size > 0)
		old_last = last_block(old_size);
	/* The old last block stops being last: it must be resealed full and not final. */
	reseal_old = old_size > 0 && old_last != new_last && old_last < b0;

	out_len = (size_t)(rfs_slot_offset(b1) - rfs_slot_offset(b0)) + block_len(new_size, b1) +
	          RFS_BLOCK_OVERHEAD;
	out = scratch(out_len);
	if (!out)
		return -ENOMEM;
	rc = reserve(cf->fd, rfs_slot_offset(b0), out_len);
	if (rc == 0 && reseal_old)
		rc = reserve(cf->fd, rfs_slot_offset(old_last), RFS_SLOT_SIZE);
	if (rc < 0)
		return rc;

	for (i = b0; i <= b1; i++) {
		uint8_t plain[RFS_BLOCK_SIZE];
		size_t blen = block_len(new_size, i);
		uint64_t bstart = i * RFS_BLOCK_SIZE;
		bool covered = off <= bstart && end >= bstart + blen;
		uint64_t cpy_from = off > bstart ? off : bstart;
		uint64_t cpy_to = end < bstart + blen ? end : bstart + blen;

		if (covered) {
			rfs_block_seal(out + (i - b0) * RFS_SLOT_SIZE, buf + (bstart - off), blen, i,
			               i == new_last, cf->file_id, cf->key);
			continue;
		}
		memset(plain, 0, sizeof(plain));
		if (old_size > 0 && i <= old_last) {
			rc = read_block(cf, old_size, i, plain);
			if (rc < 0)
				return rc;
		}
		memcpy(plain + (cpy_from - bstart), buf + (cpy_from - off), (size_t)(cpy_to - cpy_from));
		rfs_block_seal(out + (i - b0) * RFS_SLOT_SIZE, plain, blen, i, i == new_last,
		               cf->file_id, cf->key);
		sodium_memzero(plain, sizeof(plain));
	}

	if (old_size == 0 && !(cf->hdr_flags & RFS_HDR_NONEMPTY)) {
		rc = write_header(cf, cf->hdr_flags | RFS_HDR_NONEMPTY);
		if (rc < 0)
			return rc;
	}
	if (reseal_old) {
		rc = reseal_block(cf, old_size, old_last, RFS_BLOCK_SIZE, false);
		if (rc < 0)
			return rc;
	}
	rc = pwrite_full(cf->fd, out, out_len, rfs_slot_offset(b0));
	if (rc < 0)
		return rc;
	cf->size = new_size;
	return (ssize_t)len;
}

int rfs_cfile_truncate(struct rfs_cfile *cf, uint64_t size)
{
	uint64_t old_size = cf->size, new_last, old_last;
	int rc;

	if (size == old_size)
		return 0;
	if (size > RFS_MAX_PLAIN_SIZE)
		return -EFBIG;
	if (size == 0) {
		cf->size = 0;
		return empty_then_header(cf, cf->hdr_flags & ~RFS_HDR_NONEMPTY);
	}
	new_last = last_block(size);
	if (size < old_size) {
		rc = reseal_block(cf, old_size, new_last, block_len(size, new_last), true);
		if (rc < 0)
			return rc;
		if (ftruncate(cf->fd, (off_t)rfs_cipher_size(size)) != 0)
			return -errno;
		cf->size = size;
		return 0;
	}
	/* Growing: the gap becomes holes; only the old and new last blocks are written. */
	/* Reserve only the two slots written, not the gap: a sparse file stays sparse. */
	rc = reserve(cf->fd, rfs_slot_offset(new_last), RFS_SLOT_SIZE);
	if (rc == 0 && old_size > 0)
		rc = reserve(cf->fd, rfs_slot_offset(last_block(old_size)), RFS_SLOT_SIZE);
	if (rc < 0)
		return rc;
	if (old_size == 0) {
		rc = write_header(cf, cf->hdr_flags | RFS_HDR_NONEMPTY);
		if (rc < 0)
			return rc;
	} else {
		old_last = last_block(old_size);
		bool same = old_last == new_last;

		rc = reseal_block(cf, old_size, old_last,
		                  same ? block_len(size, new_last) : RFS_BLOCK_SIZE, same);
		if (rc < 0)
			return rc;
		if (same) {
			cf->size = size;
			return 0;
		}
	}
	{
		uint8_t zeros[RFS_BLOCK_SIZE] = { 0 };
		uint8_t ct[RFS_SLOT_SIZE];
		size_t blen = block_len(size, new_last);

		rfs_block_seal(ct, zeros, blen, new_last, true, cf->file_id, cf->key);
		rc = pwrite_full(cf->fd, ct, blen + RFS_BLOCK_OVERHEAD, rfs_slot_offset(new_last));
		if (rc < 0)
			return rc;
	}
	cf->size = size;
	return 0;
}

int rfs_cfile_check(struct rfs_cfile *cf, uint64_t *bad_block)
{
	uint64_t i, nblocks;
	uint8_t plain[RFS_BLOCK_SIZE];
	int rc;

	if (cf->size == 0)
		return 0;
	nblocks = last_block(cf->size) + 1;
	for (i = 0; i < nblocks; i++) {
		rc = read_block(cf, cf->size, i, plain);
		if (rc < 0) {
			*bad_block = i;
			return -EIO;
		}
	}
	sodium_memzero(plain, sizeof(plain));
	return 0;
}

int rfs_cfile_repair_cut_append(struct rfs_cfile *cf)
{
	uint8_t ct[RFS_SLOT_SIZE], plain[RFS_BLOCK_SIZE];
	uint64_t last;
	int rc;

	/* Only a full last block can have been resealed "not final" for an append
	** whose growth a power cut then lost; a partial one cannot be told apart. */
	if (cf->size == 0 || cf->size % RFS_BLOCK_SIZE != 0)
		return -EIO;
	last = last_block(cf->size);
	rc = pread_full(cf->fd, ct, sizeof(ct), rfs_slot_offset(last));
	if (rc < 0)
		return rc;
	if (rfs_block_open(plain, ct, sizeof(ct), last, false, cf->file_id, cf->key) != 0)
		return -EIO;
	rfs_block_seal(ct, plain, RFS_BLOCK_SIZE, last, true, cf->file_id, cf->key);
	sodium_memzero(plain, sizeof(plain));
	rc = pwrite_full(cf->fd, ct, sizeof(ct), rfs_slot_offset(last));
	if (rc == 0 && fdatasync(cf->fd) != 0)
		rc = -errno;
	return rc;
}
