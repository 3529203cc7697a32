/* Unit tests of fs/cfile: plaintext reads and writes on a real ciphertext
** file, with a real key from a real vault's key store (crypto/content.h has
** the layout these tests poke at). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/content.h"
#include "fs/cfile.h"
#include "tests/fs/fs_fixture.h"

struct test_cfile {
	struct test_vault t;
	char path[128];
	uint8_t *key;              /* secure memory */
	struct rfs_cfile cf;
};

/* A new, empty ciphertext file top/file with a fresh id and key. */
static void cfile_make(struct test_cfile *c)
{
	int fd;

	test_vault_make(&c->t, true);
	snprintf(c->path, sizeof(c->path), "%s/file", c->t.top);
	fd = open(c->path, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	c->key = sodium_malloc(32);
	cr_assert_not_null(c->key);
	memset(&c->cf, 0, sizeof(c->cf));
	cr_assert_eq(rfs_cfile_init(c->t.v->ks, fd, c->key, c->cf.file_id), 0);
	c->cf.fd = fd;
	c->cf.key = c->key;
}

static void cfile_remove(struct test_cfile *c)
{
	close(c->cf.fd);
	sodium_free(c->key);
	test_vault_remove(&c->t);
}

/* Forget everything but the backing file, and load it again as a mount would. */
static int cfile_reload(struct test_cfile *c)
{
	const char *why;
	int rc;

	memset(c->key, 0, 32);
	rc = rfs_cfile_load(c->t.v->ks, c->cf.fd, c->key, c->cf.file_id, &c->cf.hdr_flags, &why);
	if (rc == 0)
		rc = rfs_cfile_stat_size(c->cf.fd, &c->cf.size);
	return rc;
}

static void pattern(uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((off + i) * 7 + 1);
}

static void write_pattern(struct test_cfile *c, size_t len, uint64_t off)
{
	uint8_t *buf = malloc(len);

	pattern(buf, len, off);
	cr_assert_eq(rfs_cfile_write(&c->cf, buf, len, off), (ssize_t)len);
	free(buf);
}

/* A new file of three full blocks (the pattern at each offset). */
static void cfile_make_three_blocks(struct test_cfile *c)
{
	cfile_make(c);
	write_pattern(c, 3 * RFS_BLOCK_SIZE, 0);
}

/* Read len bytes at off into a malloc'd copy; *got is what the read returned. */
static uint8_t *read_copy(struct test_cfile *c, size_t len, uint64_t off, ssize_t *got)
{
	const uint8_t *p;
	uint8_t *copy = calloc(1, len + 1);

	*got = rfs_cfile_read(&c->cf, len, off, &p);
	if (*got > 0)
		memcpy(copy, p, (size_t)*got);
	return copy;
}

/* What a read of len bytes at off returns: a count, or -errno. */
static ssize_t read_result(struct test_cfile *c, size_t len, uint64_t off)
{
	ssize_t n;

	free(read_copy(c, len, off, &n));
	return n;
}

/* The file holds want[0..len) at off. */
static void assert_reads(struct test_cfile *c, uint64_t off, const uint8_t *want, size_t len)
{
	ssize_t n;
	uint8_t *got = read_copy(c, len, off, &n);

	cr_assert_eq(n, (ssize_t)len, "read %zd of %zu bytes at %llu", n, len, (unsigned long long)off);
	cr_assert_arr_eq(got, want, len);
	free(got);
}

static off_t backing_size(const struct test_cfile *c)
{
	struct stat st;

	cr_assert_eq(fstat(c->cf.fd, &st), 0);
	return st.st_size;
}

static void flip_byte(const struct test_cfile *c, off_t at)
{
	uint8_t b;

	cr_assert_eq(pread(c->cf.fd, &b, 1, at), 1);
	b ^= 0x01;
	cr_assert_eq(pwrite(c->cf.fd, &b, 1, at), 1);
}

Test(cfile, a_write_across_block_boundaries_reads_back_and_survives_a_reload)
{
	struct test_cfile c;
	uint8_t want[20000];
	uint8_t *got;
	ssize_t n;

	cfile_make(&c);
	write_pattern(&c, 10000, 4000);           /* blocks 0 to 3, both ends partial */
	cr_assert_eq(c.cf.size, 14000);
	cr_assert_eq(backing_size(&c), (off_t)rfs_content_cipher_size(14000));
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, 14000);
	cr_assert(c.cf.hdr_flags & RFS_HDR_NONEMPTY);
	got = read_copy(&c, sizeof(want), 0, &n);
	cr_assert_eq(n, 14000, "a read stops at the end of the file");
	memset(want, 0, 4000);
	pattern(want + 4000, 10000, 4000);
	cr_assert_arr_eq(got, want, 14000);
	free(got);
	/* One byte either side of a boundary, read alone. */
	assert_reads(&c, RFS_BLOCK_SIZE - 1, want + RFS_BLOCK_SIZE - 1, 2);
	got = read_copy(&c, 10, 14000, &n);
	cr_assert_eq(n, 0, "at the end a read returns 0");
	free(got);
	cfile_remove(&c);
}

Test(cfile, an_overwrite_inside_a_block_keeps_the_bytes_around_it)
{
	struct test_cfile c;
	uint8_t want[3 * RFS_BLOCK_SIZE];

	cfile_make(&c);
	write_pattern(&c, sizeof(want), 0);
	cr_assert_eq(rfs_cfile_write(&c.cf, (const uint8_t *)"XYZ", 3, RFS_BLOCK_SIZE + 100), 3);
	pattern(want, sizeof(want), 0);
	memcpy(want + RFS_BLOCK_SIZE + 100, "XYZ", 3);
	assert_reads(&c, 0, want, sizeof(want));
	cfile_remove(&c);
}

Test(cfile, a_write_past_the_end_leaves_holes_that_read_as_zeros_and_take_no_space)
{
	struct test_cfile c;
	uint8_t slot[RFS_SLOT_SIZE], zeros[RFS_SLOT_SIZE] = { 0 }, *got;
	uint64_t far = 5 * RFS_BLOCK_SIZE + 10;
	ssize_t n;

	cfile_make(&c);
	write_pattern(&c, 100, 0);
	write_pattern(&c, 1, far);
	cr_assert_eq(c.cf.size, far + 1);
	/* Blocks 1 to 4 were never written: all-zero slots on disk, not sealed zeros. */
	for (uint64_t i = 1; i < 5; i++) {
		cr_assert_eq(pread(c.cf.fd, slot, sizeof(slot), (off_t)rfs_content_slot_offset(i)),
		             (ssize_t)sizeof(slot));
		cr_assert_arr_eq(slot, zeros, sizeof(slot), "block %llu is a hole", (unsigned long long)i);
	}
	cr_assert_eq(cfile_reload(&c), 0);
	got = read_copy(&c, (size_t)far + 1, 0, &n);
	cr_assert_eq(n, (ssize_t)far + 1);
	for (uint64_t i = 100; i < far; i++)
		cr_assert_eq(got[i], 0, "byte %llu of a hole", (unsigned long long)i);
	cr_assert_eq(got[far], (uint8_t)(far * 7 + 1));
	free(got);
	cfile_remove(&c);
}

Test(cfile, truncating_down_then_up_reads_zeros_past_the_old_cut)
{
	struct test_cfile c;
	uint8_t want[9000];

	cfile_make(&c);
	write_pattern(&c, 10000, 0);
	cr_assert_eq(rfs_cfile_truncate(&c.cf, 5000), 0);
	cr_assert_eq(backing_size(&c), (off_t)rfs_content_cipher_size(5000));
	cr_assert_eq(rfs_cfile_truncate(&c.cf, 9000), 0);
	cr_assert_eq(backing_size(&c), (off_t)rfs_content_cipher_size(9000));
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, 9000);
	pattern(want, 5000, 0);
	memset(want + 5000, 0, 4000);
	assert_reads(&c, 0, want, sizeof(want));
	/* Far past the end: only the new last block is written. */
	cr_assert_eq(rfs_cfile_truncate(&c.cf, 100 * RFS_BLOCK_SIZE), 0);
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, 100 * RFS_BLOCK_SIZE);
	assert_reads(&c, 100 * RFS_BLOCK_SIZE - 10, (uint8_t[10]){ 0 }, 10);
	cfile_remove(&c);
}

Test(cfile, a_file_cut_at_a_block_boundary_does_not_read)
{
	struct test_cfile c;
	uint64_t bad = 0;

	cfile_make_three_blocks(&c);
	/* Drop the last slot: block 1 was sealed "not final", so the cut shows. */
	cr_assert_eq(ftruncate(c.cf.fd, (off_t)rfs_content_slot_offset(2)), 0);
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, 2 * RFS_BLOCK_SIZE);
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, RFS_BLOCK_SIZE), -EIO);
	cr_assert_eq(rfs_cfile_check(&c.cf, &bad), -EIO);
	cr_assert_eq(bad, 1);
	/* The block before it still reads. */
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, 0), RFS_BLOCK_SIZE);
	cfile_remove(&c);
}

Test(cfile, an_append_reseals_the_old_last_block_full_and_not_final)
{
	struct test_cfile c;
	uint8_t want[RFS_BLOCK_SIZE + 100];

	cfile_make(&c);
	write_pattern(&c, 1000, 0);
	write_pattern(&c, 100, RFS_BLOCK_SIZE);    /* block 1: block 0 stops being the last */
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, sizeof(want));
	cr_assert_eq(rfs_cfile_check(&c.cf, &(uint64_t){ 0 }), 0);
	pattern(want, 1000, 0);
	memset(want + 1000, 0, RFS_BLOCK_SIZE - 1000);
	pattern(want + RFS_BLOCK_SIZE, 100, RFS_BLOCK_SIZE);
	assert_reads(&c, 0, want, sizeof(want));
	cfile_remove(&c);
}

/* An append that fails half way (here at the file size limit, EFBIG) leaves
** the file as it was: its old last block, its length and its header. */
static void append_fails_and_leaves(size_t old_len, size_t add_len)
{
	struct test_cfile c;
	uint8_t *want = malloc(old_len ? old_len : 1), *more = malloc(add_len);
	struct stat before, after;

	cfile_make(&c);
	if (old_len)
		write_pattern(&c, old_len, 0);
	cr_assert_eq(fstat(c.cf.fd, &before), 0);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = { .rlim_cur = (rlim_t)before.st_size + RFS_SLOT_SIZE + 100,
	                      .rlim_max = RLIM_INFINITY };
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	pattern(more, add_len, old_len);
	cr_assert_eq(rfs_cfile_write(&c.cf, more, add_len, old_len), -EFBIG);
	lim.rlim_cur = RLIM_INFINITY;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(fstat(c.cf.fd, &after), 0);
	cr_assert_eq(after.st_size, before.st_size, "the failed append left %lld bytes, not %lld",
	             (long long)after.st_size, (long long)before.st_size);
	cr_assert_eq(c.cf.size, old_len);
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, old_len);
	cr_assert_eq(rfs_cfile_check(&c.cf, &(uint64_t){ 0 }), 0);
	pattern(want, old_len, 0);
	if (old_len)
		assert_reads(&c, 0, want, old_len);
	write_pattern(&c, add_len, old_len);           /* and the same append works after */
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, old_len + add_len);
	cr_assert_eq(rfs_cfile_check(&c.cf, &(uint64_t){ 0 }), 0);
	free(want);
	free(more);
	cfile_remove(&c);
}

Test(cfile, a_failed_append_after_a_partial_last_block_leaves_the_file_as_it_was)
{
	append_fails_and_leaves(RFS_BLOCK_SIZE + 1000, 5 * RFS_BLOCK_SIZE);
}

Test(cfile, a_failed_append_after_a_full_last_block_leaves_the_file_as_it_was)
{
	append_fails_and_leaves(2 * RFS_BLOCK_SIZE, 5 * RFS_BLOCK_SIZE);
}

Test(cfile, a_failed_first_write_leaves_an_empty_file)
{
	append_fails_and_leaves(0, 5 * RFS_BLOCK_SIZE);
}

Test(cfile, a_zero_byte_backing_file_is_an_empty_file)
{
	struct test_cfile c;
	uint64_t size = 1;
	const char *why;

	cfile_make(&c);
	cr_assert_eq(ftruncate(c.cf.fd, 0), 0);
	cr_assert_eq(rfs_cfile_stat_size(c.cf.fd, &size), 0);
	cr_assert_eq(size, 0);
	cr_assert_eq(rfs_cfile_load(c.t.v->ks, c.cf.fd, c.key, c.cf.file_id, &c.cf.hdr_flags, &why),
	             -ENODATA, "no header yet, and no key: an empty file");
	/* A header and no block is an empty file too. */
	cr_assert_eq(rfs_cfile_init(c.t.v->ks, c.cf.fd, c.key, c.cf.file_id), 0);
	cr_assert_eq(backing_size(&c), RFS_HEADER_SIZE);
	cr_assert_eq(cfile_reload(&c), 0);
	cr_assert_eq(c.cf.size, 0);
	cr_assert_eq(c.cf.hdr_flags & RFS_HDR_NONEMPTY, 0);
	cr_assert_eq(read_result(&c, 100, 0), 0);
	cfile_remove(&c);
}

Test(cfile, truncating_to_zero_clears_the_nonempty_flag_and_a_cut_to_the_header_is_caught)
{
	struct test_cfile c;
	const char *why = NULL;

	cfile_make(&c);
	write_pattern(&c, 5000, 0);
	cr_assert(c.cf.hdr_flags & RFS_HDR_NONEMPTY);
	cr_assert_eq(rfs_cfile_truncate(&c.cf, 0), 0);
	cr_assert_eq(backing_size(&c), RFS_HEADER_SIZE);
	cr_assert_eq(cfile_reload(&c), 0, "emptied on purpose: a good empty file");
	cr_assert_eq(c.cf.hdr_flags & RFS_HDR_NONEMPTY, 0);
	/* Written again, then cut to the header by someone else: the flag says blocks must follow. */
	write_pattern(&c, 5000, 0);
	cr_assert_eq(ftruncate(c.cf.fd, RFS_HEADER_SIZE), 0);
	cr_assert_eq(rfs_cfile_load(c.t.v->ks, c.cf.fd, c.key, c.cf.file_id, &c.cf.hdr_flags, &why),
	             -EIO);
	cr_assert_not_null(why);
	cfile_remove(&c);
}

Test(cfile, a_tampered_block_reads_as_EIO_and_its_neighbours_still_read)
{
	struct test_cfile c;
	uint64_t bad = 0;

	cfile_make_three_blocks(&c);
	flip_byte(&c, (off_t)rfs_content_slot_offset(1) + RFS_BLOCK_NONCE + 17);
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, RFS_BLOCK_SIZE), -EIO);
	cr_assert_eq(read_result(&c, 3 * RFS_BLOCK_SIZE, 0), -EIO, "a read that spans the bad block fails whole");
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, 0), RFS_BLOCK_SIZE);
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, 2 * RFS_BLOCK_SIZE), RFS_BLOCK_SIZE);
	cr_assert_eq(rfs_cfile_check(&c.cf, &bad), -EIO);
	cr_assert_eq(bad, 1);
	/* A write into the bad block's neighbourhood must not launder it. */
	cr_assert_eq(rfs_cfile_write(&c.cf, (const uint8_t *)"x", 1, RFS_BLOCK_SIZE + 5), -EIO);
	cfile_remove(&c);
}

Test(cfile, swapped_blocks_do_not_read)
{
	struct test_cfile c;
	uint8_t a[RFS_SLOT_SIZE], b[RFS_SLOT_SIZE];

	cfile_make_three_blocks(&c);
	cr_assert_eq(pread(c.cf.fd, a, sizeof(a), (off_t)rfs_content_slot_offset(0)), (ssize_t)sizeof(a));
	cr_assert_eq(pread(c.cf.fd, b, sizeof(b), (off_t)rfs_content_slot_offset(1)), (ssize_t)sizeof(b));
	cr_assert_eq(pwrite(c.cf.fd, b, sizeof(b), (off_t)rfs_content_slot_offset(0)), (ssize_t)sizeof(b));
	cr_assert_eq(pwrite(c.cf.fd, a, sizeof(a), (off_t)rfs_content_slot_offset(1)), (ssize_t)sizeof(a));
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, 0), -EIO);
	cr_assert_eq(read_result(&c, RFS_BLOCK_SIZE, RFS_BLOCK_SIZE), -EIO);
	cfile_remove(&c);
}

Test(cfile, a_tampered_header_does_not_load)
{
	struct test_cfile c;
	const char *why = NULL;

	cfile_make(&c);
	write_pattern(&c, 100, 0);
	flip_byte(&c, 30);                         /* inside the header's nonce */
	cr_assert_eq(rfs_cfile_load(c.t.v->ks, c.cf.fd, c.key, c.cf.file_id, &c.cf.hdr_flags, &why),
	             -EIO);
	cr_assert_not_null(why);
	cfile_remove(&c);
}

Test(cfile, after_a_crash_a_file_cut_at_a_block_boundary_is_resealed_and_reads)
{
	struct test_cfile c;
	enum rfs_cfile_fix fix = RFS_FIX_NONE;
	uint8_t want[2 * RFS_BLOCK_SIZE];
	const char *why;

	cfile_make_three_blocks(&c);
	cr_assert_eq(ftruncate(c.cf.fd, (off_t)rfs_content_slot_offset(2)), 0);
	cr_assert_eq(rfs_cfile_load_header(c.t.v->ks, c.cf.fd, c.key, c.cf.file_id, &c.cf.hdr_flags,
	                                   &why), 0);
	cr_assert_eq(rfs_cfile_after_crash(&c.cf, &fix), 0);
	cr_assert_eq(fix, RFS_FIX_RESEALED);
	cr_assert_eq(c.cf.size, sizeof(want));
	pattern(want, sizeof(want), 0);
	assert_reads(&c, 0, want, sizeof(want));
	cfile_remove(&c);
}

/* 8 threads, each with a file of its own, write and read 1 MiB at a time
** between rfs_cfile_share_begin and _end, as the FUSE handlers do. */
#define SHARE_THREADS 8
#define SHARE_LEN (1u << 20)
#define SHARE_ROUNDS 12

struct share_worker {
	struct test_cfile *c;          /* for the vault's key store */
	struct rfs_cfile cf;
	uint8_t key[32];
	const uint8_t *seen[SHARE_ROUNDS];   /* the buffer of each read */
	int bad;
};

static void *share_work(void *arg)
{
	struct share_worker *w = arg;
	uint8_t *buf = malloc(SHARE_LEN);

	for (int r = 0; r < SHARE_ROUNDS && buf; r++) {
		uint64_t off = (uint64_t)r * SHARE_LEN;
		const uint8_t *p = NULL;

		pattern(buf, SHARE_LEN, off + (uint64_t)w->cf.fd);
		rfs_cfile_share_begin();
		w->bad += rfs_cfile_write(&w->cf, buf, SHARE_LEN, off) != (ssize_t)SHARE_LEN;
		rfs_cfile_share_end();
		rfs_cfile_share_begin();
		w->bad += rfs_cfile_read(&w->cf, SHARE_LEN, off, &p) != (ssize_t)SHARE_LEN ||
		          memcmp(p, buf, SHARE_LEN) != 0;
		w->seen[r] = p;
		rfs_cfile_share_end();
	}
	w->bad += !buf;
	free(buf);
	return NULL;
}

Test(cfile, big_requests_of_many_threads_share_a_few_buffers_and_read_back_right)
{
	struct test_cfile c;
	struct share_worker w[SHARE_THREADS];
	pthread_t th[SHARE_THREADS];
	const uint8_t *distinct[SHARE_THREADS * SHARE_ROUNDS];
	size_t nd = 0;

	cfile_make(&c);
	for (int i = 0; i < SHARE_THREADS; i++) {
		char path[160];
		int fd;

		memset(&w[i], 0, sizeof(w[i]));
		w[i].c = &c;
		snprintf(path, sizeof(path), "%s/share%d", c.t.top, i);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		cr_assert_geq(fd, 0);
		cr_assert_eq(rfs_cfile_init(c.t.v->ks, fd, w[i].key, w[i].cf.file_id), 0);
		w[i].cf.fd = fd;
		w[i].cf.key = w[i].key;
	}
	for (int i = 0; i < SHARE_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, share_work, &w[i]), 0);
	for (int i = 0; i < SHARE_THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(w[i].bad, 0, "thread %d: a write or read failed or read back wrong", i);
		for (int r = 0; r < SHARE_ROUNDS; r++) {
			size_t k = 0;

			while (k < nd && distinct[k] != w[i].seen[r])
				k++;
			if (k == nd)
				distinct[nd++] = w[i].seen[r];
		}
		close(w[i].cf.fd);
	}
	/* fs/cfile.c lends 3 (SHARED_N); a buffer per thread would be 8. */
	cr_assert_leq(nd, 3, "%zu buffers held big reads of %d threads", nd, SHARE_THREADS);
	cfile_remove(&c);
}
