/*
** cfile: plaintext I/O on one ciphertext file. See cfile.h and crypto/content.h.
**
** Writes keep two facts true at every syscall boundary that can be reached
** without a crash: the last block is sealed final, all others are full. Space
** is reserved with fallocate before anything is overwritten, so ENOSPC leaves
** the old file intact. A small append (tar's, a log's) skips the fallocate, whose
** cost was most of a small write's: what it overwrites lies inside the old
** length and needs no new space, so a failure puts the old last slot back and
** cuts the file to its old length, then the write is tried again reserved.
** A partial last block that a change of size rewrites
** in place gets an undo entry first (fs/undo.h): a power cut between the
** writeback of that block and the commit of the new size must not make bytes
** that were durable unreadable.
*/
#include "fs/cfile.h"
#include "fs/closer.h"
#include "fs/faultpoint.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "crypto/content.h"
#include "crypto/io.h"
#include "crypto/secmem.h"

#define RFS_MAX_PLAIN_SIZE (UINT64_C(1) << 52)

/* One scratch buffer per thread, grown on demand: a FUSE request is <= 1 MiB. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

struct scratch {
	size_t cap;
	uint8_t *buf;
};

/* Between rfs_cfile_share_begin and _end (the FUSE read and write handlers),
** a request bigger than SHARED_MIN borrows one of SHARED_N buffers lent to
** all threads instead of growing the thread's own: the kernel hands requests
** to the workers in turn, so each worker's buffer grew to 1 MiB and stayed.
** A borrower waits while all are lent; no deadlock: a buffer is taken after
** the inode's lock and given back without taking any lock but shared_mu.
** The mount's read hook borrows them too (rfs_cfile_lend), never the last
** free one: its borrowers may wait for an inode's lock while they hold it. */
#define SHARED_N 3
#define SHARED_MIN (128u << 10)

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shared_cv = PTHREAD_COND_INITIALIZER;
static struct scratch shared[SHARED_N];
static bool shared_lent[SHARED_N];
static _Thread_local bool share_on;
static _Thread_local int share_slot = -1;  /* the buffer this thread holds, or -1 */

void rfs_cfile_share_begin(void)
{
	share_on = true;
}

void rfs_cfile_share_end(void)
{
	share_on = false;
	if (share_slot < 0)
		return;
	pthread_mutex_lock(&shared_mu);
	shared_lent[share_slot] = false;
	pthread_cond_signal(&shared_cv);
	pthread_mutex_unlock(&shared_mu);
	share_slot = -1;
}

static uint8_t *grow(struct scratch *s, size_t n)
{
	if (s->cap < n) {
		uint8_t *nb = realloc(s->buf, n);

		if (!nb)
			return NULL;
		s->buf = nb;
		s->cap = n;
	}
	return s->buf;
}

static uint8_t *shared_scratch(size_t n)
{
	if (share_slot < 0) {
		int i;

		pthread_mutex_lock(&shared_mu);
		for (;;) {
			for (i = 0; i < SHARED_N && shared_lent[i]; i++)
				;
			if (i < SHARED_N)
				break;
			pthread_cond_wait(&shared_cv, &shared_mu);
		}
		shared_lent[i] = true;
		pthread_mutex_unlock(&shared_mu);
		share_slot = i;
	}
	return grow(&shared[share_slot], n);
}

uint8_t *rfs_cfile_lend(size_t n)
{
	uint8_t *b = NULL;
	int i, nfree = 0, pick = -1;

	pthread_mutex_lock(&shared_mu);
	for (i = 0; i < SHARED_N; i++) {
		if (shared_lent[i])
			continue;
		nfree++;
		if (pick < 0 || shared[i].cap > shared[pick].cap)   /* one already grown */
			pick = i;
	}
	if (nfree >= 2 && (b = grow(&shared[pick], n)) != NULL)
		shared_lent[pick] = true;
	pthread_mutex_unlock(&shared_mu);
	return b;
}

void rfs_cfile_give(uint8_t *b)
{
	pthread_mutex_lock(&shared_mu);
	for (int i = 0; i < SHARED_N; i++) {
		if (shared_lent[i] && shared[i].buf == b) {
			shared_lent[i] = false;
			pthread_cond_signal(&shared_cv);
			break;
		}
	}
	pthread_mutex_unlock(&shared_mu);
}

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

	if (share_on && n > SHARED_MIN)
		return shared_scratch(n);
	pthread_once(&scratch_once, scratch_init);
	s = pthread_getspecific(scratch_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	return grow(s, n);
}

/* Reserve space so that a later overwrite cannot fail half way with ENOSPC.
** A full disk first waits for the space of files just removed (fs/closer.h). */
static int reserve(int fd, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	for (bool drained = false;; drained = true) {
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
			return 0;
		int err = errno;
		if (err == EOPNOTSUPP || err == ENOSYS)
			return 0;
		if (err != ENOSPC || drained || !rfs_closer_drain())
			return -err;
	}
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
	*size = rfs_content_plain_size((uint64_t)st.st_size, &valid);
	return valid ? 0 : -EIO;
}

int rfs_cfile_load_header(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                       uint8_t file_id_out[RFS_FILE_ID_SIZE], uint16_t *flags_out,
                       const char **why)
{
	uint8_t hdr[RFS_HEADER_SIZE];
	struct rfs_header h;
	int rc;

	*why = "header missing or cut short";
	rc = rfs_io_pread_all(fd, hdr, sizeof(hdr), 0);
	if (rc < 0)
		return rc;
	*why = "unknown or damaged header";
	rc = rfs_content_header_parse(&h, hdr, sizeof(hdr));
	if (rc < 0)
		return rc;
	*why = "content key missing (destroyed by disposal?)";
	rc = rfs_keystore_load(ks, h.file_id, key_out);
	if (rc == -EIO)
		*why = "content key entry does not authenticate";
	if (rc < 0)
		return rc;
	*why = "header does not authenticate";
	if (rfs_content_header_verify(hdr, key_out) != 0)
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
	rc = rfs_cfile_load_header(ks, fd, key_out, file_id_out, &flags, why);
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

/* kept: NULL, or where the header's bytes go (written in full on success). */
static int write_header_kept(struct rfs_cfile *cf, uint16_t flags, uint8_t *kept)
{
	struct rfs_header h = { .version = RFS_CONTENT_VERSION, .flags = flags };
	uint8_t hdr[RFS_HEADER_SIZE];
	int rc;

	memcpy(h.file_id, cf->file_id, RFS_FILE_ID_SIZE);
	rfs_content_header_seal(hdr, &h, cf->key);
	rc = rfs_io_pwrite_all(cf->fd, hdr, sizeof(hdr), 0);
	if (rc == -ENOSPC && rfs_closer_drain())    /* as in reserve */
		rc = rfs_io_pwrite_all(cf->fd, hdr, sizeof(hdr), 0);
	if (rc == 0)
		cf->hdr_flags = flags;
	if (rc == 0 && kept)
		memcpy(kept, hdr, sizeof(hdr));
	return rc;
}

static int write_header(struct rfs_cfile *cf, uint16_t flags)
{
	return write_header_kept(cf, flags, NULL);
}

int rfs_cfile_init_as(int fd, const uint8_t *key, const uint8_t file_id[RFS_FILE_ID_SIZE])
{
	struct rfs_cfile cf = { .fd = fd, .key = key };

	memcpy(cf.file_id, file_id, RFS_FILE_ID_SIZE);
	return write_header(&cf, 0);
}

int rfs_cfile_init_kept(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                        uint8_t file_id_out[RFS_FILE_ID_SIZE], uint8_t *hdr_out)
{
	struct rfs_cfile cf = { .fd = fd, .key = key_out };
	int rc = rfs_keystore_create(ks, cf.file_id, key_out);

	if (rc < 0)
		return rc;
	memcpy(file_id_out, cf.file_id, RFS_FILE_ID_SIZE);
	return write_header_kept(&cf, 0, hdr_out);
}

int rfs_cfile_init(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                   uint8_t file_id_out[RFS_FILE_ID_SIZE])
{
	return rfs_cfile_init_kept(ks, fd, key_out, file_id_out, NULL);
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
		rc = rfs_cfile_load_header(ks, fd, key, cf.file_id, &flags, &why);
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
static int read_block(struct rfs_cfile *cf, uint64_t size, uint64_t i, uint8_t *out,
                      const uint8_t *kept_last)
{
	uint8_t ct[RFS_SLOT_SIZE];
	size_t len = block_len(size, i);
	bool final = i == last_block(size);
	int rc = 0;

	if (kept_last && final)
		memcpy(ct, kept_last, len + RFS_BLOCK_OVERHEAD);
	else
		rc = rfs_io_pread_all(cf->fd, ct, len + RFS_BLOCK_OVERHEAD, rfs_content_slot_offset(i));

	if (rc < 0)
		return rc;
	if (!final && rfs_content_slot_is_hole(ct, RFS_SLOT_SIZE)) {
		memset(out, 0, RFS_BLOCK_SIZE);
		return 0;
	}
	return rfs_content_block_open(out, ct, len + RFS_BLOCK_OVERHEAD, i, final, cf->file_id, cf->key);
}

/* Rewrite block i (read under old_size) with new length and final flag. */
static int reseal_block(struct rfs_cfile *cf, uint64_t old_size, uint64_t i, size_t new_len,
                        bool final, const uint8_t *kept_last)
{
	uint8_t plain[RFS_BLOCK_SIZE];
	uint8_t ct[RFS_SLOT_SIZE];
	size_t old_len = block_len(old_size, i);
	int rc = read_block(cf, old_size, i, plain, kept_last);

	if (rc < 0)
		return rc;
	if (new_len > old_len)
		memset(plain + old_len, 0, new_len - old_len);
	rfs_content_block_seal(ct, plain, new_len, i, final, cf->file_id, cf->key);
	rc = rfs_io_pwrite_all(cf->fd, ct, new_len + RFS_BLOCK_OVERHEAD, rfs_content_slot_offset(i));
	rfs_secmem_wipe(plain, sizeof(plain));
	return rc;
}

/* Before block i, as sealed in a file of old_size bytes, is rewritten in
** place: its undo entry. Every call that returns 0 is matched by undo_end. */
static int undo_begin(struct rfs_cfile *cf, uint64_t i, uint64_t old_size)
{
	return cf->undo ? rfs_undo_begin(cf->undo, cf->fd, cf->file_id, i, old_size) : 0;
}

static void undo_end(struct rfs_cfile *cf)
{
	if (cf->undo)
		rfs_undo_end(cf->undo);
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
	ct_len = (size_t)(rfs_content_slot_offset(b1) - rfs_content_slot_offset(b0)) + block_len(size, b1) +
	         RFS_BLOCK_OVERHEAD;
	ct = scratch(ct_len);
	if (!ct)
		return -ENOMEM;
	rc = rfs_io_pread_all(cf->fd, ct, ct_len, rfs_content_slot_offset(b0));
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
		if (i != last && rfs_content_slot_is_hole(slot, RFS_SLOT_SIZE)) {
			memset(ct + done, 0, n);
		} else {
			if (rfs_content_block_open_in_place(slot, blen + RFS_BLOCK_OVERHEAD, i, i == last,
			                                    cf->file_id, cf->key) != 0)
				return -EIO;
			memmove(ct + done, slot + RFS_BLOCK_NONCE + from, n);
		}
		done += n;
	}
	*out = ct;
	return (ssize_t)done;
}

/* An append that failed half way: the old length back (no new space needed
** to cut it) and the old last slot and header as they were. */
static void unwrite_append(struct rfs_cfile *cf, uint64_t old_size, uint16_t old_flags,
                           const uint8_t *kept_last)
{
	uint64_t old_len = rfs_content_cipher_size(old_size);
	int rc = ftruncate(cf->fd, (off_t)old_len) == 0 ? 0 : -errno;

	if (rc == 0 && old_size) {
		uint64_t at = rfs_content_slot_offset(last_block(old_size));
		rc = rfs_io_pwrite_all(cf->fd, kept_last, (size_t)(old_len - at), at);
	}
	if (rc == 0 && cf->hdr_flags != old_flags)
		rc = write_header(cf, old_flags);
	if (rc < 0)
		rfs_log(LOG_ERR, "a failed append could not be undone (%s): run 'recfs fsck'", strerror(-rc));
}

/* buf: len contiguous bytes; or slots (buf NULL, off a multiple of the block
** size): block i's bytes at slot i - b0's plaintext place, sealed in place.
** reserved: space reserved first; else an append, with a copy of the old last
** slot in kept_last (NULL for an empty file) to undo it with. */
static ssize_t write_once(struct rfs_cfile *cf, const uint8_t *buf, uint8_t *slots, size_t len,
                          uint64_t off, bool reserved, const uint8_t *kept_last)
{
	uint64_t old_size = cf->size, new_size, end, b0, b1, i, new_last, old_last = 0;
	bool reseal_old, in_place;
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

	out_len = (size_t)(rfs_content_slot_offset(b1) - rfs_content_slot_offset(b0)) + block_len(new_size, b1) +
	          RFS_BLOCK_OVERHEAD;
	out = slots ? slots : scratch(out_len);
	if (!out)
		return -ENOMEM;
	uint16_t old_flags = cf->hdr_flags;
	if (!reserved)
		rc = 0;
	else if (reseal_old && old_last + 1 == b0)   /* right after the old last block: one call */
		rc = reserve(cf->fd, rfs_content_slot_offset(old_last), RFS_SLOT_SIZE + out_len);
	else {
		rc = reserve(cf->fd, rfs_content_slot_offset(b0), out_len);
		if (rc == 0 && reseal_old)
			rc = reserve(cf->fd, rfs_content_slot_offset(old_last), RFS_SLOT_SIZE);
	}
	if (rc < 0)
		return rc;

	for (i = b0; i <= b1; i++) {
		uint8_t plain[RFS_BLOCK_SIZE];
		size_t blen = block_len(new_size, i);
		uint64_t bstart = i * RFS_BLOCK_SIZE;
		bool covered = off <= bstart && end >= bstart + blen;
		uint64_t cpy_from = off > bstart ? off : bstart;
		uint64_t cpy_to = end < bstart + blen ? end : bstart + blen;
		uint8_t *slot = out + (i - b0) * RFS_SLOT_SIZE;
		const uint8_t *src = slots ? slot + RFS_BLOCK_NONCE : buf + (cpy_from - off);

		if (covered) {
			rfs_content_block_seal(slot, src, blen, i, i == new_last, cf->file_id, cf->key);
			continue;
		}
		memset(plain, 0, sizeof(plain));
		if (old_size > 0 && i <= old_last) {
			rc = read_block(cf, old_size, i, plain, kept_last);
			if (rc < 0)
				return rc;
		}
		memcpy(plain + (cpy_from - bstart), src, (size_t)(cpy_to - cpy_from));
		rfs_content_block_seal(slot, plain, blen, i, i == new_last, cf->file_id, cf->key);
		rfs_secmem_wipe(plain, sizeof(plain));
	}

	if (old_size == 0 && !(cf->hdr_flags & RFS_HDR_NONEMPTY)) {
		rc = write_header(cf, cf->hdr_flags | RFS_HDR_NONEMPTY);
		if (rc < 0)
			return rc;
	}
	if (old_size == 0 && cf->undo)
		rfs_undo_fresh(cf->undo, cf->file_id);
	/* A partial last block grows in place: its old seal stops authenticating
	** at the old size the moment the new one reaches the disk. */
	in_place = old_size % RFS_BLOCK_SIZE != 0 && new_size > old_size;
	if (in_place && (rc = undo_begin(cf, old_last, old_size)) < 0)
		return rc;
	if (reseal_old)
		rc = reseal_block(cf, old_size, old_last, RFS_BLOCK_SIZE, false, kept_last);
	if (rc == 0)
		rc = rfs_io_pwrite_all(cf->fd, out, out_len, rfs_content_slot_offset(b0));
	if (rc < 0 && !reserved)
		unwrite_append(cf, old_size, old_flags, kept_last);
	if (in_place)
		undo_end(cf);
	if (rc < 0)
		return rc;
	cf->size = new_size;
	return (ssize_t)len;
}

#define APPEND_UNRESERVED_MAX (128u << 10)   /* tar's records, an office program's writes */

static ssize_t cfile_write(struct rfs_cfile *cf, const uint8_t *buf, uint8_t *slots, size_t len,
                           uint64_t off)
{
	uint64_t old_size = cf->size;
	/* Slots are sealed in place, so they cannot be written a second time. A big
	** append reserves first still: its fallocate costs little beside it, and a
	** 256 MiB stream written without it was 13 % slower to write and fsync. */
	bool append = !slots && len && len <= APPEND_UNRESERVED_MAX &&
	              off <= RFS_MAX_PLAIN_SIZE && len <= RFS_MAX_PLAIN_SIZE - off &&
	              off + len > old_size && (old_size == 0 || off / RFS_BLOCK_SIZE >= last_block(old_size));
	if (!append)
		return write_once(cf, buf, slots, len, off, true, NULL);
	uint8_t kept[RFS_SLOT_SIZE];
	if (old_size) {
		uint64_t last = last_block(old_size);
		int rc = rfs_io_pread_all(cf->fd, kept, block_len(old_size, last) + RFS_BLOCK_OVERHEAD,
		                          rfs_content_slot_offset(last));
		if (rc < 0)
			return rc;
	}
	ssize_t n = write_once(cf, buf, NULL, len, off, false, old_size ? kept : NULL);
	if (n == -ENOSPC || n == -EDQUOT)
		n = write_once(cf, buf, NULL, len, off, true, NULL);
	return n;
}

ssize_t rfs_cfile_write(struct rfs_cfile *cf, const uint8_t *buf, size_t len, uint64_t off)
{
	return cfile_write(cf, buf, NULL, len, off);
}

ssize_t rfs_cfile_write_slots(struct rfs_cfile *cf, uint8_t *slots, size_t len, uint64_t off)
{
	if (off % RFS_BLOCK_SIZE != 0)
		return -EINVAL;
	return cfile_write(cf, NULL, slots, len, off);
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
		/* The cut block is resealed before the file is cut: until the new
		** size is committed, its old seal is what the old size needs. */
		rc = undo_begin(cf, new_last, old_size);
		if (rc < 0)
			return rc;
		rc = reseal_block(cf, old_size, new_last, block_len(size, new_last), true, NULL);
		if (rc == 0 && ftruncate(cf->fd, (off_t)rfs_content_cipher_size(size)) != 0)
			rc = -errno;
		undo_end(cf);
		if (rc == 0)
			cf->size = size;
		return rc;
	}
	/* Growing: the gap becomes holes; only the old and new last blocks are written. */
	/* Reserve only the two slots written, not the gap: a sparse file stays sparse. */
	rc = reserve(cf->fd, rfs_content_slot_offset(new_last), RFS_SLOT_SIZE);
	if (rc == 0 && old_size > 0)
		rc = reserve(cf->fd, rfs_content_slot_offset(last_block(old_size)), RFS_SLOT_SIZE);
	if (rc < 0)
		return rc;
	if (old_size == 0) {
		rc = write_header(cf, cf->hdr_flags | RFS_HDR_NONEMPTY);
		if (rc < 0)
			return rc;
	} else {
		old_last = last_block(old_size);
		bool same = old_last == new_last, partial = old_size % RFS_BLOCK_SIZE != 0;

		if (partial && (rc = undo_begin(cf, old_last, old_size)) < 0)
			return rc;
		rc = reseal_block(cf, old_size, old_last,
		                  same ? block_len(size, new_last) : RFS_BLOCK_SIZE, same, NULL);
		if (partial)
			undo_end(cf);
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

		rfs_content_block_seal(ct, zeros, blen, new_last, true, cf->file_id, cf->key);
		rc = rfs_io_pwrite_all(cf->fd, ct, blen + RFS_BLOCK_OVERHEAD, rfs_content_slot_offset(new_last));
		if (rc < 0)
			return rc;
	}
	cf->size = size;
	return 0;
}

int rfs_cfile_check_blocks(struct rfs_cfile *cf, uint64_t first, uint64_t n, uint64_t *checked,
                           uint64_t *bad_block)
{
	uint64_t i, end = cf->size == 0 ? 0 : last_block(cf->size) + 1;
	uint8_t plain[RFS_BLOCK_SIZE];
	int rc;

	*checked = 0;
	if (first >= end)
		return 0;
	if (n < end - first)
		end = first + n;
	for (i = first; i < end; i++) {
		rc = read_block(cf, cf->size, i, plain, NULL);
		if (rc < 0) {
			*bad_block = i;
			return -EIO;
		}
	}
	*checked = end - first;
	rfs_secmem_wipe(plain, sizeof(plain));
	return 0;
}

int rfs_cfile_check(struct rfs_cfile *cf, uint64_t *bad_block)
{
	uint64_t checked;

	return rfs_cfile_check_blocks(cf, 0, UINT64_MAX, &checked, bad_block);
}

/* ---- after a crash ------------------------------------------------------ */

/* Whether the len + 40 bytes at ct open as block i of this file, final or not. */
static bool opens_as(struct rfs_cfile *cf, const uint8_t *ct, size_t len, uint64_t i, bool final)
{
	uint8_t plain[RFS_BLOCK_SIZE];
	bool ok = rfs_content_block_open(plain, ct, len + RFS_BLOCK_OVERHEAD, i, final, cf->file_id,
	                                 cf->key) == 0;

	rfs_secmem_wipe(plain, sizeof(plain));
	return ok;
}

/* The undo entry the crash left, written back when the block it holds no
** longer authenticates at the size on disk (disk_size) and the entry's does:
** at that size, or, when the entry's block was the last, at its own smaller
** size, to which the file is then cut (what lies past it was never synced).
** 0 when written back, -ENOENT when it does not apply, or -errno. */
static int apply_undo(struct rfs_cfile *cf, uint64_t disk_size)
{
	struct rfs_undo_entry e;
	uint8_t ct[RFS_SLOT_SIZE];
	uint64_t i;
	size_t len;
	int rc = cf->undo ? rfs_undo_leftover(cf->undo, cf->file_id, &e) : -ENOENT;

	if (rc < 0)
		return -ENOENT;
	i = e.index;
	if (disk_size < e.size || (disk_size > e.size && i != last_block(e.size)))
		return -ENOENT;
	len = block_len(disk_size, i);
	if (rfs_io_pread_all(cf->fd, ct, len + RFS_BLOCK_OVERHEAD, rfs_content_slot_offset(i)) == 0 &&
	    opens_as(cf, ct, len, i, i == last_block(disk_size)))
		return -ENOENT;              /* that block is whole: nothing to undo */
	if (!opens_as(cf, e.slot, e.slot_len - RFS_BLOCK_OVERHEAD, i, i == last_block(e.size)))
		return -ENOENT;
	rc = rfs_io_pwrite_all(cf->fd, e.slot, e.slot_len, rfs_content_slot_offset(i));
	if (rc == 0 && disk_size > e.size && ftruncate(cf->fd, (off_t)rfs_content_cipher_size(e.size)) != 0)
		rc = -errno;
	if (rc == 0 && fdatasync(cf->fd) != 0)
		rc = -errno;
	if (rc == 0)
		cf->size = e.size;
	return rc;
}

/* Reseal full block i, which opens with the other final flag, with this one. */
static int reseal_final(struct rfs_cfile *cf, uint64_t i, bool final)
{
	uint8_t ct[RFS_SLOT_SIZE], plain[RFS_BLOCK_SIZE];
	int rc = rfs_io_pread_all(cf->fd, ct, sizeof(ct), rfs_content_slot_offset(i));

	if (rc == 0 && rfs_content_block_open(plain, ct, sizeof(ct), i, !final, cf->file_id, cf->key) != 0)
		rc = -EIO;
	if (rc == 0) {
		rfs_content_block_seal(ct, plain, RFS_BLOCK_SIZE, i, final, cf->file_id, cf->key);
		rc = rfs_io_pwrite_all(cf->fd, ct, sizeof(ct), rfs_content_slot_offset(i));
	}
	rfs_secmem_wipe(plain, sizeof(plain));
	return rc;
}

/* The longest prefix of whole blocks that authenticate: whole slots that open
** (a full block with either final flag: an append's or a truncation's reseal
** may not have reached the disk), zero slots inside it (holes), and a partial
** last block that opens final. -EIO when a block that opens follows one that
** does not (not a torn tail). *keep_size is the prefix's plaintext size. */
static int whole_prefix(struct rfs_cfile *cf, uint64_t cipher_size, uint64_t *keep_size)
{
	uint64_t n = cipher_size - RFS_HEADER_SIZE, full = n / RFS_SLOT_SIZE, i;
	size_t rem = (size_t)(n % RFS_SLOT_SIZE);
	uint64_t nslots = full + (rem > RFS_BLOCK_OVERHEAD), keep = 0;
	bool torn = false;

	for (i = 0; i < nslots; i++) {
		uint8_t ct[RFS_SLOT_SIZE];
		size_t len = i < full ? RFS_BLOCK_SIZE : rem - RFS_BLOCK_OVERHEAD;
		bool good, hole;

		if (rfs_io_pread_all(cf->fd, ct, len + RFS_BLOCK_OVERHEAD, rfs_content_slot_offset(i)) < 0)
			return -EIO;
		hole = len == RFS_BLOCK_SIZE && rfs_content_slot_is_hole(ct, RFS_SLOT_SIZE);
		good = !hole && (opens_as(cf, ct, len, i, true) ||
		                 (len == RFS_BLOCK_SIZE && opens_as(cf, ct, len, i, false)));
		if (good && torn)
			return -EIO;             /* damage inside the file, not a torn tail */
		if (good)
			keep = i * RFS_BLOCK_SIZE + len;
		else if (!hole)
			torn = true;
	}
	/* Zero slots at the end are space reserved and never written, not holes. */
	*keep_size = keep;
	return 0;
}

int rfs_cfile_after_crash(struct rfs_cfile *cf, enum rfs_cfile_fix *fix)
{
	struct stat st;
	uint64_t disk_size, keep, i, last;
	bool valid, nonempty = cf->hdr_flags & RFS_HDR_NONEMPTY;
	int rc;

	*fix = RFS_FIX_NONE;
	if (fstat(cf->fd, &st) != 0)
		return -errno;
	if ((uint64_t)st.st_size < RFS_HEADER_SIZE)
		return -EIO;
	disk_size = rfs_content_plain_size((uint64_t)st.st_size, &valid);
	cf->size = valid ? disk_size : 0;
	if (valid && nonempty == (disk_size > 0) && rfs_cfile_check(cf, &i) == 0)
		return 0;
	if (valid && nonempty && (rc = apply_undo(cf, disk_size)) != -ENOENT) {
		if (rc < 0)
			return rc;
		*fix = RFS_FIX_UNDONE;
		if (rfs_cfile_check(cf, &i) == 0)
			return 0;
		if (fstat(cf->fd, &st) != 0)     /* damaged elsewhere too: on to the tail */
			return -errno;
		disk_size = cf->size;
	}
	rc = whole_prefix(cf, (uint64_t)st.st_size, &keep);
	if (rc < 0)
		return rc;
	if (!valid || keep < disk_size || keep == 0)
		*fix = RFS_FIX_CUT;
	else if (*fix == RFS_FIX_NONE)
		*fix = RFS_FIX_RESEALED;
	if (keep == 0) {
		/* Nothing authenticates: an empty file (FORMAT.md 5). */
		rc = empty_then_header(cf, cf->hdr_flags & ~RFS_HDR_NONEMPTY);
		if (rc == 0 && fdatasync(cf->fd) != 0)
			rc = -errno;
		cf->size = 0;
		return rc;
	}
	/* Cut first, then reseal: a cut in between leaves blocks that open with
	** the other final flag, which the next recovery reseals in turn. */
	uint64_t keep_bytes = rfs_content_cipher_size(keep);

	if (keep_bytes < (uint64_t)st.st_size && ftruncate(cf->fd, (off_t)keep_bytes) != 0)
		return -errno;
	if (fdatasync(cf->fd) != 0)
		return -errno;
	cf->size = keep;
	last = last_block(keep);
	for (i = 0; i <= last; i++) {
		uint8_t ct[RFS_SLOT_SIZE];
		bool final = i == last;

		if (final && keep % RFS_BLOCK_SIZE != 0)
			break;                   /* a partial last block: it opened final */
		rc = rfs_io_pread_all(cf->fd, ct, sizeof(ct), rfs_content_slot_offset(i));
		if (rc == 0 && !rfs_content_slot_is_hole(ct, sizeof(ct)) &&
		    !opens_as(cf, ct, RFS_BLOCK_SIZE, i, final))
			rc = reseal_final(cf, i, final);
		if (rc < 0)
			return rc;
	}
	if (!nonempty && (rc = write_header(cf, cf->hdr_flags | RFS_HDR_NONEMPTY)) < 0)
		return rc;
	if (fdatasync(cf->fd) != 0)
		return -errno;
	return rfs_cfile_check(cf, &i) == 0 ? 0 : -EIO;
}
