/*
** posix_probe: syscall-level checks of a mounted recfs folder.
**
**   posix_probe write DIR     run every check in DIR, leave DIR/persist behind
**   posix_probe verify DIR    after a remount: DIR/persist still holds what write left
**   posix_probe op OP PATH [ARG...]   one syscall; prints OK or the errno name
**
** Owns: the POSIX checks of issue 3 ("Must hold" 2) that need syscalls rather
** than programs. Every expectation is computed here from fixed seeds; nothing
** is hard-coded from a previous run.
** Must never: touch anything outside the folder it is given, or hang (alarm).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static unsigned passes, failures;

static void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	if (ok)
		passes++;
	else
		failures++;
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "E?";
}

/* expr must succeed (not return -1). */
#define CHECK_OK(expr, ...) do { \
	errno = 0; long r_ = (long)(expr); int e_ = errno; \
	if (r_ == -1) { char d_[256]; snprintf(d_, sizeof d_, __VA_ARGS__); \
		report(false, "%s: failed with %s", d_, errname(e_)); } \
	else report(true, __VA_ARGS__); } while (0)

/* expr must fail with errno err. */
#define CHECK_ERR(expr, err, ...) do { \
	errno = 0; long r_ = (long)(expr); int e_ = errno; char d_[256]; \
	snprintf(d_, sizeof d_, __VA_ARGS__); \
	report(r_ == -1 && e_ == (err), "%s: expect %s, got %ld %s", d_, errname(err), r_, \
	       r_ == -1 ? errname(e_) : "(success)"); } while (0)

#define CHECK(cond, ...) report((cond), __VA_ARGS__)

/* ---------- deterministic content ---------- */

static uint8_t pat(uint64_t off, uint32_t seed)
{
	uint64_t z = off + ((uint64_t)seed << 40) + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint8_t)(z ^ (z >> 31));
}

static void fill(uint8_t *buf, uint64_t off, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33) % n;
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static bool pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return true;
}

/* Read up to len bytes at off; returns bytes read or -1 (errno kept). */
static ssize_t pread_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Write a file of size bytes of pattern seed (in odd-sized chunks). */
static bool write_pattern_file(const char *path, uint64_t size, uint32_t seed)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	uint8_t buf[7777];
	bool ok = true;
	for (uint64_t off = 0; ok && off < size; off += sizeof buf) {
		size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
		fill(buf, off, n, seed);
		ok = pwrite_all(fd, buf, n, (off_t)off);
	}
	return close(fd) == 0 && ok;
}

/* Compare the whole file with an expected buffer; describe the first difference. */
static bool file_equals(const char *path, const uint8_t *want, size_t size, char *why, size_t whysz)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(why, whysz, "open: %s", errname(errno));
		return false;
	}
	uint8_t *got = xmalloc(size + 1);
	ssize_t n = pread_all(fd, got, size + 1, 0);
	int e = errno;
	close(fd);
	bool ok = false;
	if (n < 0)
		snprintf(why, whysz, "read: %s", errname(e));
	else if ((size_t)n != size)
		snprintf(why, whysz, "read %zd bytes, want %zu", n, size);
	else if (memcmp(got, want, size) != 0) {
		size_t i = 0;
		while (got[i] == want[i])
			i++;
		snprintf(why, whysz, "first difference at byte %zu", i);
	} else {
		ok = true;
		snprintf(why, whysz, "ok");
	}
	free(got);
	return ok;
}

static bool pattern_file_ok(const char *path, uint64_t size, uint32_t seed, char *why, size_t whysz)
{
	uint8_t *want = xmalloc(size);
	fill(want, 0, size, seed);
	bool ok = file_equals(path, want, size, why, whysz);
	free(want);
	return ok;
}

static void check_pattern_file(const char *path, uint64_t size, uint32_t seed)
{
	char why[128];
	bool ok = pattern_file_ok(path, size, seed, why, sizeof why);
	CHECK(ok, "%s holds its %" PRIu64 " bytes (%s)", path, size, why);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	bool ok = pwrite_all(fd, s, strlen(s), 0);
	return close(fd) == 0 && ok;
}

static bool file_is_str(const char *path, const char *s)
{
	char why[128];
	return file_equals(path, (const uint8_t *)s, strlen(s), why, sizeof why);
}

static off_t size_of(const char *path)
{
	struct stat st = { 0 };
	return lstat(path, &st) == 0 ? st.st_size : -1;
}

static bool exists(const char *path)
{
	struct stat st = { 0 };
	return lstat(path, &st) == 0;
}

/* ---------- open flags ---------- */

static void t_open_flags(void)
{
	CHECK_ERR(open("nonexistent", O_RDONLY), ENOENT, "open missing file");
	int fd = open("f_create", O_WRONLY | O_CREAT | O_EXCL, 0640);
	CHECK(fd >= 0, "O_CREAT|O_EXCL creates a new file");
	struct stat st = { 0 };
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode),
	      "new file has mode 0640 (got %o)", fd >= 0 ? (unsigned)st.st_mode : 0u);
	CHECK(fd >= 0 && write(fd, "abc", 3) == 3, "write to new file");
	if (fd >= 0)
		close(fd);
	CHECK_ERR(open("f_create", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST, "O_EXCL on existing file");
	fd = open("f_create", O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0, "O_CREAT without O_EXCL opens an existing file");
	if (fd >= 0)
		close(fd);
	CHECK(file_is_str("f_create", "abc"), "O_CREAT of existing file keeps its content");

	fd = open("f_create", O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write(fd, "def", 3) == 3, "O_APPEND write");
	if (fd >= 0) {
		CHECK(pwrite(fd, "X", 1, 0) == 1, "pwrite on O_APPEND fd");
		close(fd);
	}
	/* Linux appends on pwrite with O_APPEND. */
	CHECK(file_is_str("f_create", "abcdefX"), "O_APPEND appends (content abcdefX)");

	int a = open("f_create", O_WRONLY | O_APPEND);
	int b = open("f_create", O_WRONLY | O_APPEND);
	bool wrote = a >= 0 && b >= 0 && write(a, "1", 1) == 1 && write(b, "22", 2) == 2 &&
	             write(a, "333", 3) == 3;
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	CHECK(wrote && file_is_str("f_create", "abcdefX122333"), "two O_APPEND fds interleave at the end");

	fd = open("f_create", O_RDWR | O_TRUNC);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties the file");
	if (fd >= 0)
		close(fd);
	CHECK(size_of("f_create") == 0 && file_is_str("f_create", ""), "O_TRUNC: size 0 on stat and read");

	fd = open("f_create", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "hello", 5) == 5 && lseek(fd, 0, SEEK_SET) == 0,
	      "O_RDWR write then seek");
	char buf[16] = { 0 };
	CHECK(fd >= 0 && read(fd, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0,
	      "read back through the same fd");
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_END) == 5, "SEEK_END on a small file");
	if (fd >= 0)
		close(fd);
	CHECK_ERR(open("f_create/x", O_RDONLY), ENOTDIR, "open below a file");
	CHECK_ERR(open("f_create", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file");
	CHECK_OK(unlink("f_create"), "unlink");
	CHECK_ERR(open("f_create", O_RDONLY), ENOENT, "unlinked file is gone");
	CHECK_ERR(unlink("f_create"), ENOENT, "unlink twice");
}

/* ---------- reads and writes at random offsets, against a model ---------- */

#define MODEL_MAX (300 * 1024)
#define MODEL_OPS 220
#define MODEL_SEED 0x5eed0001u

/* Apply the deterministic op sequence to the model (and to fd when >= 0).
** Returns false on the first failed syscall or mismatch. */
static bool model_run(uint8_t *model, size_t *size, int fd, const char *path, char *why, size_t whysz)
{
	rng_state = MODEL_SEED;
	*size = 0;
	uint8_t *buf = xmalloc(MODEL_MAX);
	bool ok = true;
	for (int op = 0; ok && op < MODEL_OPS; op++) {
		uint32_t kind = rnd(10);
		if (kind < 6) { /* write */
			size_t off = rnd(MODEL_MAX - 1);
			static const size_t edges[] = { 4095, 4096, 4097, 8191, 12288, 16380 };
			if (rnd(3) == 0)
				off = edges[rnd(6)] % (MODEL_MAX - 1);
			size_t len = 1 + rnd(rnd(2) ? 20000 : 300);
			if (off + len > MODEL_MAX)
				len = MODEL_MAX - off;
			fill(buf, off, len, (uint32_t)op);
			if (off > *size)
				memset(model + *size, 0, off - *size);
			memcpy(model + off, buf, len);
			if (off + len > *size)
				*size = off + len;
			if (fd >= 0 && !pwrite_all(fd, buf, len, (off_t)off)) {
				snprintf(why, whysz, "op %d pwrite(%zu, %zu): %s", op, off, len, errname(errno));
				ok = false;
			}
		} else if (kind < 8) { /* truncate up or down */
			size_t ns = rnd(MODEL_MAX);
			if (ns > *size)
				memset(model + *size, 0, ns - *size);
			*size = ns;
			int r = 0;
			if (fd >= 0)
				r = (op & 1) ? ftruncate(fd, (off_t)ns) : truncate(path, (off_t)ns);
			if (r) {
				snprintf(why, whysz, "op %d truncate(%zu): %s", op, ns, errname(errno));
				ok = false;
			}
		} else { /* read a random range, possibly past EOF (the model draws the same numbers) */
			size_t off = rnd(MODEL_MAX), len = 1 + rnd(20000);
			if (fd < 0)
				continue;
			ssize_t n = pread_all(fd, buf, len, (off_t)off);
			size_t want = off >= *size ? 0 : (*size - off < len ? *size - off : len);
			if (n < 0 || (size_t)n != want || memcmp(buf, model + off, want) != 0) {
				snprintf(why, whysz, "op %d pread(%zu, %zu) gave %zd, want %zu%s", op, off, len, n,
				         want, n == (ssize_t)want ? " (content differs)" : "");
				ok = false;
			}
		}
		struct stat st = { 0 };
		if (ok && fd >= 0 && (fstat(fd, &st) != 0 || (size_t)st.st_size != *size)) {
			snprintf(why, whysz, "op %d: st_size %jd, want %zu", op, (intmax_t)st.st_size, *size);
			ok = false;
		}
	}
	free(buf);
	return ok;
}

static void t_offsets(void)
{
	uint8_t *model = xmalloc(MODEL_MAX);
	size_t size;
	char why[160] = "ok";
	int fd = open("persist/model.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
	bool ok = fd >= 0 && model_run(model, &size, fd, "persist/model.bin", why, sizeof why);
	CHECK(ok, "%d random writes, truncates and reads match the model (%s)", MODEL_OPS, why);
	if (fd >= 0)
		close(fd);
	ok = file_equals("persist/model.bin", model, size, why, sizeof why);
	CHECK(ok, "model file read through a fresh fd (%s)", why);
	free(model);

	/* Shrink then grow: bytes past the shrink point must read as zeros. */
	fd = open("shrink_grow", O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t buf[12000];
	memset(buf, 'x', sizeof buf);
	bool wrote = fd >= 0 && pwrite_all(fd, buf, 10000, 0);
	CHECK(wrote && ftruncate(fd, 5000) == 0 && ftruncate(fd, 12000) == 0, "ftruncate down then up");
	memset(buf, 0xee, sizeof buf);
	ssize_t n = fd >= 0 ? pread_all(fd, buf, sizeof buf, 0) : -1;
	bool zeros = n == 12000 && all_zero(buf + 5000, 7000);
	for (int i = 0; zeros && i < 5000; i++)
		zeros = buf[i] == 'x';
	CHECK(zeros, "after shrink to 5000 and grow to 12000, bytes 5000.. read as zeros (read %zd)", n);
	if (fd >= 0)
		close(fd);
	CHECK_OK(truncate("shrink_grow", 4096), "truncate by path to 4096");
	CHECK(size_of("shrink_grow") == 4096, "size is 4096 after truncate");
	CHECK_OK(truncate("shrink_grow", 0), "truncate to 0");
	CHECK(size_of("shrink_grow") == 0, "size is 0 after truncate");
	CHECK_OK(truncate("shrink_grow", 8193), "truncate an empty file up to 8193");
	memset(buf, 0xee, sizeof buf);
	fd = open("shrink_grow", O_RDONLY);
	n = fd >= 0 ? pread_all(fd, buf, sizeof buf, 0) : -1;
	CHECK(n == 8193 && all_zero(buf, 8193), "grown empty file reads 8193 zeros (read %zd)", n);
	if (fd >= 0)
		close(fd);
	CHECK_ERR(truncate("nonexistent", 10), ENOENT, "truncate missing file");
	unlink("shrink_grow");
}

/* ---------- sparse files, files over 4 GiB, st_blocks ---------- */

#define BIG_OFF ((off_t)5 << 30)
#define BIG_LEN (1u << 20)

static void big_check(const char *when)
{
	int fd = open("persist/big", O_RDONLY);
	CHECK(fd >= 0, "%s: open the 5 GiB file", when);
	if (fd < 0)
		return;
	struct stat st = { 0 };
	off_t want = BIG_OFF - 100 + BIG_LEN;
	CHECK(fstat(fd, &st) == 0 && st.st_size == want, "%s: st_size of big file %jd (want %jd)", when,
	      (intmax_t)st.st_size, (intmax_t)want);
	CHECK(st.st_blocks * 512 < 64 * 1024 * 1024, "%s: sparse big file has small st_blocks (%jd)",
	      when, (intmax_t)st.st_blocks);
	CHECK(lseek(fd, 0, SEEK_END) == want, "%s: SEEK_END of big file", when);
	uint8_t *buf = xmalloc(BIG_LEN), *exp = xmalloc(BIG_LEN);
	fill(exp, 0, BIG_LEN, 77);
	ssize_t n = pread_all(fd, buf, BIG_LEN, BIG_OFF - 100);
	CHECK(n == BIG_LEN && memcmp(buf, exp, BIG_LEN) == 0, "%s: 1 MiB at 5 GiB - 100 reads back (%zd)",
	      when, n);
	static const off_t holes[] = { 0, 4096 * 3 - 5, ((off_t)4 << 30) - 10, BIG_OFF - 8192 - 100 };
	for (unsigned i = 0; i < sizeof holes / sizeof holes[0]; i++) {
		memset(buf, 0xaa, 8192);
		n = pread_all(fd, buf, 8192, holes[i]);
		CHECK(n == 8192 && all_zero(buf, 8192), "%s: hole at %jd reads zeros", when, (intmax_t)holes[i]);
	}
	n = pread_all(fd, buf, 4096, want - 10);
	CHECK(n == 10 && memcmp(buf, exp + BIG_LEN - 10, 10) == 0, "%s: read across EOF of big file gives 10 bytes",
	      when);
	free(buf);
	free(exp);
	close(fd);
}

static void t_sparse_big(void)
{
	int fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && pwrite(fd, "Z", 1, 1 << 20) == 1, "write one byte at 1 MiB in a new file");
	struct stat st = { 0 };
	if (fd >= 0)
		fsync(fd);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == (1 << 20) + 1, "sparse st_size is 1 MiB + 1");
	CHECK(fd >= 0 && st.st_blocks * 512 < 256 * 1024, "sparse file has small st_blocks (%jd)",
	      (intmax_t)st.st_blocks);
	uint8_t *buf = xmalloc((1 << 20) + 10);
	ssize_t n = fd >= 0 ? pread_all(fd, buf, (1 << 20) + 10, 0) : -1;
	CHECK(n == (1 << 20) + 1 && all_zero(buf, 1 << 20) && buf[1 << 20] == 'Z',
	      "sparse file reads zeros then Z (read %zd)", n);
	free(buf);
	if (fd >= 0)
		close(fd);
	unlink("sparse");

	CHECK(write_pattern_file("dense", 100 * 1024 + 7, 5), "write a dense 100 KiB file");
	CHECK(stat("dense", &st) == 0 && st.st_size == 100 * 1024 + 7 && st.st_blocks * 512 >= st.st_size &&
	      st.st_blocks * 512 < 2 * st.st_size,
	      "dense file: st_size plaintext and st_blocks*512 >= size (size %jd blocks %jd)",
	      (intmax_t)st.st_size, (intmax_t)st.st_blocks);
	unlink("dense");
	CHECK(write_pattern_file("small", 10, 5) && stat("small", &st) == 0 && st.st_size == 10,
	      "10-byte file has st_size 10 (not the ciphertext size)");
	unlink("small");

	fd = open("persist/big", O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t *b = xmalloc(BIG_LEN);
	fill(b, 0, BIG_LEN, 77);
	CHECK(fd >= 0 && pwrite_all(fd, b, BIG_LEN, BIG_OFF - 100), "write 1 MiB at 5 GiB - 100");
	free(b);
	CHECK(fd >= 0 && fsync(fd) == 0, "fsync the big file");
	if (fd >= 0)
		close(fd);
	big_check("before remount");
}

/* ---------- unlink of an open file ---------- */

static void t_unlink_open(void)
{
	CHECK(write_pattern_file("openunlink", 9000, 9), "write file to unlink while open");
	int fd = open("openunlink", O_RDWR);
	CHECK_OK(unlink("openunlink"), "unlink an open file");
	CHECK(!exists("openunlink"), "unlinked open file is gone from the namespace");
	uint8_t buf[9000], want[9000];
	fill(want, 0, sizeof want, 9);
	CHECK(fd >= 0 && pread_all(fd, buf, sizeof buf, 0) == 9000 && memcmp(buf, want, 9000) == 0,
	      "open fd still reads the unlinked file");
	CHECK(fd >= 0 && pwrite(fd, "q", 1, 9000) == 1, "open fd still writes the unlinked file");
	struct stat st = { 0 };
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 9001, "fstat of unlinked file");
	if (fd >= 0)
		close(fd);
	CHECK(write_pattern_file("openunlink", 100, 10), "a new file can take the unlinked name");
	check_pattern_file("openunlink", 100, 10);
	unlink("openunlink");
}

/* ---------- folders ---------- */

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	if (!d)
		return (size_t)-1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static void t_dirs(void)
{
	CHECK_OK(mkdir("d1", 0750), "mkdir");
	struct stat st = { 0 };
	CHECK(stat("d1", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
	      "new folder has mode 0750");
	CHECK(count_entries("d1") == 0, "new folder lists no entries (no internal files shown)");
	CHECK_ERR(mkdir("d1", 0755), EEXIST, "mkdir existing");
	CHECK_ERR(mkdir("nonexistent/x", 0755), ENOENT, "mkdir below a missing folder");
	CHECK(write_str("d1/f", "x"), "create a file in the folder");
	CHECK_ERR(rmdir("d1"), ENOTEMPTY, "rmdir of a non-empty folder");
	CHECK_ERR(rmdir("d1/f"), ENOTDIR, "rmdir of a file");
	CHECK_ERR(unlink("d1"), EISDIR, "unlink of a folder");
	CHECK_OK(mkdir("d1/sub", 0755), "mkdir nested");
	CHECK_OK(unlink("d1/f"), "unlink in folder");
	CHECK_ERR(rmdir("d1"), ENOTEMPTY, "rmdir of a folder holding only a folder");
	CHECK_OK(rmdir("d1/sub"), "rmdir nested");
	CHECK_OK(rmdir("d1"), "rmdir once empty");
	CHECK_ERR(rmdir("d1"), ENOENT, "rmdir missing folder");
	CHECK(!exists("d1"), "removed folder is gone");

	/* deep path */
	char path[4096] = "deep";
	bool ok = mkdir(path, 0755) == 0;
	for (int i = 0; ok && i < 30; i++) {
		strcat(path, "/level");
		ok = mkdir(path, 0755) == 0;
	}
	strcat(path, "/leaf");
	CHECK(ok && write_str(path, "leaf") && file_is_str(path, "leaf"), "31-level deep path");

	/* a folder with many entries: readdir must continue across getdents calls */
	CHECK_OK(mkdir("persist/many", 0755), "mkdir persist/many");
	ok = true;
	for (int i = 0; ok && i < 600; i++) {
		char name[200];
		snprintf(name, sizeof name, "persist/many/entry-%04d-with-a-rather-long-name-to-fill-buffers-"
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
		ok = write_str(name, name + 13);
	}
	CHECK(ok, "create 600 files in one folder");
}

static void many_check(const char *when)
{
	DIR *d = opendir("persist/many");
	bool seen[600] = { false };
	size_t n = 0, bad = 0, dup = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		int i;
		if (sscanf(e->d_name, "entry-%04d-", &i) == 1 && i >= 0 && i < 600) {
			dup += seen[i];
			seen[i] = true;
		} else {
			bad++;
		}
	}
	if (d)
		closedir(d);
	CHECK(d && n == 600 && bad == 0 && dup == 0,
	      "%s: readdir of 600-entry folder lists each once (n=%zu unknown=%zu dup=%zu)", when, n, bad, dup);
	char name[200];
	snprintf(name, sizeof name, "persist/many/entry-0599-with-a-rather-long-name-to-fill-buffers-"
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	CHECK(file_is_str(name, name + 13), "%s: last of 600 files holds its content", when);
}

/* ---------- rename ---------- */

static long renameat2_(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static void t_rename(void)
{
	CHECK(write_str("r_a", "AAA") && write_str("r_b", "BBBB"), "create rename sources");
	CHECK_OK(rename("r_a", "r_c"), "rename file to a new name");
	CHECK(!exists("r_a") && file_is_str("r_c", "AAA"), "renamed file: old name gone, content kept");
	CHECK_OK(rename("r_c", "r_b"), "rename file over an existing file");
	CHECK(!exists("r_c") && file_is_str("r_b", "AAA") && size_of("r_b") == 3,
	      "target replaced by the source (size 3)");
	CHECK(write_str("r_c", "CC"), "create r_c");
	CHECK_ERR(renameat2_("r_c", "r_b", RENAME_NOREPLACE), EEXIST, "RENAME_NOREPLACE over existing");
	CHECK(file_is_str("r_c", "CC") && file_is_str("r_b", "AAA"), "failed NOREPLACE changed nothing");
	CHECK_OK(renameat2_("r_c", "r_d", RENAME_NOREPLACE), "RENAME_NOREPLACE to a free name");
	CHECK(!exists("r_c") && file_is_str("r_d", "CC"), "NOREPLACE rename moved the file");
	CHECK_OK(renameat2_("r_b", "r_d", RENAME_EXCHANGE), "RENAME_EXCHANGE of two files");
	CHECK(file_is_str("r_b", "CC") && file_is_str("r_d", "AAA"), "EXCHANGE swapped contents");
	CHECK_ERR(renameat2_("r_b", "r_missing", RENAME_EXCHANGE), ENOENT, "RENAME_EXCHANGE with missing target");
	CHECK_ERR(rename("r_missing", "r_x"), ENOENT, "rename missing source");

	/* folders */
	CHECK(mkdir("rd", 0755) == 0 && mkdir("rd/sub", 0755) == 0 && write_str("rd/x", "xx") &&
	      write_pattern_file("rd/sub/y", 3 * 4096 + 5, 21), "create folder tree rd");
	CHECK_OK(rename("rd", "persist/renamed_dir"), "rename a folder across folders");
	CHECK(!exists("rd"), "old folder name gone");
	CHECK(file_is_str("persist/renamed_dir/x", "xx"), "renamed folder: file readable");
	check_pattern_file("persist/renamed_dir/sub/y", 3 * 4096 + 5, 21);
	CHECK(write_str("persist/renamed_dir/sub/new", "new"), "create inside renamed folder");
	CHECK(mkdir("empty", 0755) == 0 && mkdir("full", 0755) == 0 && write_str("full/f", "f"),
	      "create empty and non-empty folders");
	CHECK_ERR(rename("empty", "full"), ENOTEMPTY, "rename folder over non-empty folder");
	CHECK(mkdir("e2", 0755) == 0 && write_str("e2/in", "in"), "create e2");
	CHECK_OK(rename("e2", "empty"), "rename folder over empty folder");
	CHECK(file_is_str("empty/in", "in"), "content follows the folder");
	CHECK_ERR(rename("empty", "empty/in2"), EINVAL, "rename folder into itself");
	CHECK_ERR(rename("r_b", "full"), EISDIR, "rename file over folder");
	CHECK_ERR(rename("full", "r_b"), ENOTDIR, "rename folder over file");
	CHECK_OK(renameat2_("full", "r_b", RENAME_EXCHANGE), "RENAME_EXCHANGE of folder and file");
	struct stat st = { 0 };
	CHECK(stat("r_b", &st) == 0 && S_ISDIR(st.st_mode) && file_is_str("r_b/f", "f") &&
	      file_is_str("full", "CC"), "EXCHANGE swapped folder and file");
	/* rename over a file that is open: its fd still reads the old content */
	CHECK(write_str("r_old", "old content") && write_str("r_new", "new"), "create r_old and r_new");
	int ofd = open("r_old", O_RDONLY);
	CHECK(ofd >= 0 && rename("r_new", "r_old") == 0, "rename over a file that is open");
	char obuf[32] = { 0 };
	CHECK(ofd >= 0 && pread(ofd, obuf, sizeof obuf, 0) == 11 && !memcmp(obuf, "old content", 11),
	      "the open fd of the replaced file still reads its old content");
	if (ofd >= 0)
		close(ofd);
	CHECK(file_is_str("r_old", "new"), "the name now holds the new file");
	unlink("r_old");
	/* rename a file while it is open: the fd keeps working */
	int fd = open("r_d", O_RDWR);
	CHECK(fd >= 0 && rename("r_d", "r_e") == 0 && pwrite(fd, "Z", 1, 0) == 1,
	      "write through fd after rename");
	if (fd >= 0)
		close(fd);
	CHECK(file_is_str("r_e", "ZAA"), "write after rename landed in the renamed file");
	unlink("r_e");
	unlink("full");
	unlink("r_b/f");
	rmdir("r_b");
	unlink("empty/in");
	rmdir("empty");
}

/* ---------- symlinks ---------- */

/* Long enough to need several base64 lines' worth of ciphertext, short
** enough for any backing store (ext4 symlinks and xattrs cap near 4 KiB). */
#define LONG_TARGET 1000
static char long_target[LONG_TARGET + 1];

static void symlink_check(const char *when)
{
	char buf[5000];
	ssize_t n = readlink("persist/link", buf, sizeof buf);
	const char *t = "target/dir/\xc3\xbc../x";
	CHECK(n == (ssize_t)strlen(t) && memcmp(buf, t, (size_t)n) == 0, "%s: readlink (%zd)", when, n);
	struct stat st = { 0 };
	CHECK(lstat("persist/link", &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == (off_t)strlen(t),
	      "%s: lstat of symlink: S_ISLNK and st_size = target length (%jd)", when, (intmax_t)st.st_size);
	memset(long_target, 't', LONG_TARGET);
	n = readlink("persist/longlink", buf, sizeof buf);
	CHECK(n == LONG_TARGET && memcmp(buf, long_target, LONG_TARGET) == 0, "%s: readlink of %d-byte target (%zd)",
	      when, LONG_TARGET, n);
	CHECK(file_is_str("persist/reallink", "pointed-to"), "%s: following a symlink reads its target", when);
}

static void t_symlink(void)
{
	CHECK_OK(symlink("target/dir/\xc3\xbc../x", "persist/link"), "symlink");
	memset(long_target, 't', LONG_TARGET);
	CHECK_OK(symlink(long_target, "persist/longlink"), "symlink with a %d-byte target", LONG_TARGET);
	CHECK(write_str("persist/pointed", "pointed-to"), "create symlink target");
	CHECK_OK(symlink("pointed", "persist/reallink"), "symlink to a file");
	CHECK_ERR(symlink("x", "persist/link"), EEXIST, "symlink over existing name");
	CHECK_ERR(readlink("persist/pointed", long_target, 10), EINVAL, "readlink of a regular file");
	symlink_check("before remount");
}

/* ---------- metadata ---------- */

static const struct timespec META_TIMES[2] = { { 1500000000, 123456789 }, { 1600000000, 987654321 } };

static void meta_check(const char *when)
{
	struct stat st = { 0 };
	bool ok = stat("persist/meta", &st) == 0;
	CHECK(ok && (st.st_mode & 07777) == 0751, "%s: chmod 0751 kept (%o)", when, (unsigned)st.st_mode & 07777);
	CHECK(ok && st.st_uid == 1234 && st.st_gid == 5678, "%s: chown 1234:5678 kept (%u:%u)", when,
	      (unsigned)st.st_uid, (unsigned)st.st_gid);
	CHECK(ok && st.st_mtim.tv_sec == META_TIMES[1].tv_sec && st.st_mtim.tv_nsec == META_TIMES[1].tv_nsec,
	      "%s: mtime kept to the nanosecond (%jd.%09ld)", when, (intmax_t)st.st_mtim.tv_sec,
	      st.st_mtim.tv_nsec);
	CHECK(ok && st.st_atim.tv_sec == META_TIMES[0].tv_sec, "%s: atime kept (%jd)", when,
	      (intmax_t)st.st_atim.tv_sec);
	CHECK(stat("persist/metadir", &st) == 0 && (st.st_mode & 07777) == 01770 && st.st_uid == 42,
	      "%s: folder mode 01770 and owner 42 kept", when);
}

static void t_meta(void)
{
	CHECK(write_str("persist/meta", "meta"), "create meta file");
	CHECK_OK(chmod("persist/meta", 0751), "chmod");
	CHECK_OK(chown("persist/meta", 1234, 5678), "chown (as root)");
	struct stat st = { 0 }, st2 = { 0 };
	CHECK_OK(utimensat(AT_FDCWD, "persist/meta", META_TIMES, 0), "utimensat atime and mtime");
	CHECK(stat("persist/meta", &st) == 0, "stat after utimensat");
	/* mtime alone */
	struct timespec t2[2] = { { 0, UTIME_OMIT }, { 1700000000, 5 } };
	CHECK_OK(utimensat(AT_FDCWD, "persist/meta", t2, 0), "utimensat mtime alone (UTIME_OMIT atime)");
	CHECK(stat("persist/meta", &st2) == 0 && st2.st_mtim.tv_sec == 1700000000 && st2.st_mtim.tv_nsec == 5 &&
	      st2.st_atim.tv_sec == st.st_atim.tv_sec && st2.st_atim.tv_nsec == st.st_atim.tv_nsec,
	      "mtime changed alone, atime untouched (atime %jd.%09ld)", (intmax_t)st2.st_atim.tv_sec,
	      st2.st_atim.tv_nsec);
	struct timespec t3[2] = { { 1400000000, 0 }, { 0, UTIME_OMIT } };
	CHECK_OK(utimensat(AT_FDCWD, "persist/meta", t3, 0), "utimensat atime alone");
	CHECK(stat("persist/meta", &st2) == 0 && st2.st_mtim.tv_sec == 1700000000 && st2.st_atim.tv_sec == 1400000000,
	      "atime changed alone, mtime untouched");
	time_t before = time(NULL);
	CHECK_OK(utimensat(AT_FDCWD, "persist/meta", NULL, 0), "utimensat to now");
	CHECK(stat("persist/meta", &st2) == 0 && st2.st_mtim.tv_sec >= before - 2 && st2.st_mtim.tv_sec <= before + 2,
	      "UTIME_NOW sets mtime to now");
	CHECK_OK(utimensat(AT_FDCWD, "persist/meta", META_TIMES, 0), "utimensat back to fixed times");
	/* a write moves mtime and ctime forward */
	CHECK(write_str("persist/mtime", "a") && utimensat(AT_FDCWD, "persist/mtime", META_TIMES, 0) == 0,
	      "create mtime file with old times");
	int fd = open("persist/mtime", O_WRONLY);
	CHECK(fd >= 0 && write(fd, "b", 1) == 1 && close(fd) == 0, "write to it");
	CHECK(stat("persist/mtime", &st2) == 0 && st2.st_mtim.tv_sec >= before - 2, "write updates mtime (%jd)",
	      (intmax_t)st2.st_mtim.tv_sec);
	CHECK(stat("persist/meta", &st) == 0 && st.st_ctim.tv_sec >= before - 2, "chmod/utimens update ctime");
	/* symlink times with AT_SYMLINK_NOFOLLOW */
	CHECK_OK(utimensat(AT_FDCWD, "persist/link", META_TIMES, AT_SYMLINK_NOFOLLOW),
	         "utimensat AT_SYMLINK_NOFOLLOW on a symlink");
	CHECK(lstat("persist/link", &st) == 0 && st.st_mtim.tv_sec == META_TIMES[1].tv_sec,
	      "symlink mtime set");
	CHECK_OK(mkdir("persist/metadir", 0700), "mkdir metadir");
	CHECK_OK(chmod("persist/metadir", 01770), "chmod folder 01770");
	CHECK_OK(chown("persist/metadir", 42, -1), "chown folder, uid only");
	CHECK_OK(fchmod(fd = open("persist/mtime", O_RDONLY), 0600), "fchmod");
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600, "fchmod result");
	CHECK_OK(fchown(fd, 7, 8), "fchown");
	if (fd >= 0)
		close(fd);
	CHECK(stat("persist/mtime", &st) == 0 && st.st_uid == 7 && st.st_gid == 8, "fchown result");
	CHECK_ERR(chmod("nonexistent", 0644), ENOENT, "chmod missing file");
	meta_check("before remount");
}

static void t_statfs_fsync(void)
{
	struct statfs sf = { 0 };
	CHECK(statfs(".", &sf) == 0 && sf.f_bsize > 0 && sf.f_blocks > 0 && sf.f_bavail <= sf.f_blocks &&
	      sf.f_bfree <= sf.f_blocks && sf.f_namelen >= 255,
	      "statfs (bsize %ld blocks %lu avail %lu namelen %ld)", (long)sf.f_bsize, (unsigned long)sf.f_blocks,
	      (unsigned long)sf.f_bavail, (long)sf.f_namelen);
	int fd = open("fs", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "sync", 4) == 4, "write before fsync");
	CHECK_OK(fsync(fd), "fsync");
	CHECK_OK(fdatasync(fd), "fdatasync");
	if (fd >= 0)
		close(fd);
	unlink("fs");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK_OK(fsync(fd), "fsync of a folder");
	if (fd >= 0)
		close(fd);
	CHECK_OK(syncfs(fd = open(".", O_RDONLY)), "syncfs");
	if (fd >= 0)
		close(fd);
}

/* ---------- xattrs ---------- */

#define XATTR_BIG 1000

static void xattr_check(const char *when)
{
	char buf[8192];
	ssize_t n = getxattr("persist/x", "user.one", buf, sizeof buf);
	CHECK(n == 6 && !memcmp(buf, "value1", 6), "%s: getxattr user.one (%zd)", when, n);
	CHECK(getxattr("persist/x", "user.one", NULL, 0) == 6, "%s: getxattr size query", when);
	uint8_t big[XATTR_BIG];
	fill(big, 0, sizeof big, 44);
	n = getxattr("persist/x", "user.big", buf, sizeof buf);
	CHECK(n == XATTR_BIG && !memcmp(buf, big, XATTR_BIG), "%s: getxattr of %d-byte binary value (%zd)", when,
	      XATTR_BIG, n);
	n = getxattr("persist/x", "user.empty", buf, sizeof buf);
	CHECK(n == 0, "%s: empty xattr value (%zd)", when, n);
	n = listxattr("persist/x", buf, sizeof buf);
	int found = 0;
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(buf + i) + 1)
		found += !strcmp(buf + i, "user.one") + !strcmp(buf + i, "user.big") + !strcmp(buf + i, "user.empty") +
		         10 * !strcmp(buf + i, "user.gone");
	CHECK(found == 3, "%s: listxattr shows user.one, user.big, user.empty and not user.gone", when);
	CHECK_ERR(getxattr("persist/x", "user.gone", buf, sizeof buf), ENODATA, "%s: removed xattr", when);
}

static void t_xattr(void)
{
	CHECK(write_str("persist/x", "x"), "create xattr file");
	CHECK_ERR(getxattr("persist/x", "user.one", NULL, 0), ENODATA, "getxattr before set");
	CHECK_OK(setxattr("persist/x", "user.one", "v", 1, 0), "setxattr");
	CHECK_OK(setxattr("persist/x", "user.one", "value1", 6, XATTR_REPLACE), "setxattr XATTR_REPLACE");
	CHECK_ERR(setxattr("persist/x", "user.one", "v", 1, XATTR_CREATE), EEXIST, "XATTR_CREATE on existing");
	CHECK_ERR(setxattr("persist/x", "user.nope", "v", 1, XATTR_REPLACE), ENODATA, "XATTR_REPLACE on missing");
	uint8_t big[XATTR_BIG];
	fill(big, 0, sizeof big, 44);
	CHECK_OK(setxattr("persist/x", "user.big", big, sizeof big, 0), "setxattr %d bytes", XATTR_BIG);
	CHECK_OK(setxattr("persist/x", "user.empty", "", 0, 0), "setxattr empty value");
	CHECK_OK(setxattr("persist/x", "user.gone", "g", 1, 0), "setxattr user.gone");
	char small[2];
	CHECK_ERR(getxattr("persist/x", "user.one", small, sizeof small), ERANGE, "getxattr into small buffer");
	CHECK_OK(removexattr("persist/x", "user.gone"), "removexattr");
	CHECK_ERR(removexattr("persist/x", "user.gone"), ENODATA, "removexattr twice");
	CHECK_OK(setxattr("persist", "user.dirattr", "d", 1, 0), "setxattr on a folder");
	xattr_check("before remount");
}

/* ---------- locks ---------- */

static int child_exit(pid_t pid)
{
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static void t_locks(void)
{
	CHECK(write_str("lockfile", "0123456789"), "create lock file");
	int fd = open("lockfile", O_RDWR);
	CHECK_OK(flock(fd, LOCK_EX), "flock LOCK_EX");
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		int cfd = open("lockfile", O_RDWR);
		int r = flock(cfd, LOCK_EX | LOCK_NB);
		_exit(r == -1 && errno == EWOULDBLOCK ? 0 : 1);
	}
	CHECK(child_exit(pid) == 0, "second flock LOCK_EX|LOCK_NB from another process gets EWOULDBLOCK");
	CHECK_OK(flock(fd, LOCK_UN), "flock LOCK_UN");
	pid = fork();
	if (pid == 0) {
		alarm(20);
		int cfd = open("lockfile", O_RDWR);
		_exit(flock(cfd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
	}
	CHECK(child_exit(pid) == 0, "after unlock another process gets the flock");

	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	CHECK_OK(fcntl(fd, F_SETLK, &fl), "fcntl F_SETLK write lock on [0,100)");
	pid_t parent = getpid();
	pid = fork();
	if (pid == 0) {
		alarm(20);
		int cfd = open("lockfile", O_RDWR), bits = 0;
		struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 100 };
		if (!(fcntl(cfd, F_SETLK, &c) == -1 && (errno == EAGAIN || errno == EACCES)))
			bits |= 1;
		c = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 100 };
		if (fcntl(cfd, F_GETLK, &c) != 0 || c.l_type != F_WRLCK || c.l_pid != parent || c.l_start != 0)
			bits |= 2;
		c = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 100 };
		if (fcntl(cfd, F_SETLK, &c) != 0)
			bits |= 4;
		/* blocking wait: parent releases after 300 ms */
		c = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		if (fcntl(cfd, F_SETLKW, &c) != 0)
			bits |= 8;
		_exit(bits);
	}
	usleep(300 * 1000);
	fl.l_type = F_UNLCK;
	CHECK_OK(fcntl(fd, F_SETLK, &fl), "fcntl unlock");
	int bits = child_exit(pid);
	CHECK(bits >= 0 && !(bits & 1), "conflicting F_SETLK from another process fails with EAGAIN/EACCES");
	CHECK(bits >= 0 && !(bits & 2), "F_GETLK reports the holder's pid and range");
	CHECK(bits >= 0 && !(bits & 4), "non-overlapping F_SETLK succeeds");
	CHECK(bits >= 0 && !(bits & 8), "F_SETLKW waits, then gets the lock once released (exit %d)", bits);
	if (fd >= 0)
		close(fd);
	unlink("lockfile");
}

/* ---------- mmap ---------- */

#define MMAP_SIZE (3 * 4096 + 100)
static const size_t mmap_edits[][2] = { { 4000, 200 }, { 8190, 10 }, { 12288, 100 }, { 0, 1 } };

static void mmap_expected(uint8_t *want)
{
	fill(want, 0, MMAP_SIZE, 31);
	for (unsigned i = 0; i < sizeof mmap_edits / sizeof mmap_edits[0]; i++)
		fill(want + mmap_edits[i][0], mmap_edits[i][0], mmap_edits[i][1], 32);
}

static void t_mmap(void)
{
	CHECK(write_pattern_file("persist/mmap.bin", MMAP_SIZE, 31), "create mmap file");
	int fd = open("persist/mmap.bin", O_RDWR);
	uint8_t *m = fd >= 0 ? mmap(NULL, MMAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	CHECK(m != MAP_FAILED, "mmap MAP_SHARED read-write (%s)", m == MAP_FAILED ? errname(errno) : "ok");
	if (m == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return;
	}
	uint8_t *want = xmalloc(MMAP_SIZE);
	fill(want, 0, MMAP_SIZE, 31);
	CHECK(memcmp(m, want, MMAP_SIZE) == 0, "mmap read matches file content");
	for (unsigned i = 0; i < sizeof mmap_edits / sizeof mmap_edits[0]; i++)
		fill(m + mmap_edits[i][0], mmap_edits[i][0], mmap_edits[i][1], 32);
	CHECK_OK(msync(m, MMAP_SIZE, MS_SYNC), "msync MS_SYNC");
	munmap(m, MMAP_SIZE);
	close(fd);
	mmap_expected(want);
	char why[128];
	CHECK(file_equals("persist/mmap.bin", want, MMAP_SIZE, why, sizeof why), "mmap writes seen by read() (%s)",
	      why);
	fd = open("persist/mmap.bin", O_RDONLY);
	m = fd >= 0 ? mmap(NULL, MMAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	CHECK(m != MAP_FAILED && memcmp(m, want, MMAP_SIZE) == 0, "read-only private mmap sees the writes");
	if (m != MAP_FAILED)
		munmap(m, MMAP_SIZE);
	if (fd >= 0)
		close(fd);
	free(want);
}

/* A new file's write-only creator writes past the page cache (issue 14): a reader's
** cached pages and shared mapping of the same file must still show each write at once,
** including unaligned ones and one past the end. */
#define CREATOR_SIZE (3 * 4096)

static void t_creator_and_readers(void)
{
	int w = open("f_creator", O_WRONLY | O_CREAT | O_EXCL, 0644);
	uint8_t *want = xmalloc(CREATOR_SIZE + 100), got[CREATOR_SIZE + 100];

	fill(want, 0, CREATOR_SIZE, 41);
	CHECK(w >= 0 && pwrite_all(w, want, CREATOR_SIZE, 0), "write-only creator writes %d bytes",
	      CREATOR_SIZE);
	int r = open("f_creator", O_RDONLY);
	CHECK(r >= 0 && pread_all(r, got, CREATOR_SIZE, 0) == CREATOR_SIZE &&
	      memcmp(got, want, CREATOR_SIZE) == 0, "a reader sees the creator's writes");
	uint8_t *m = r >= 0 ? mmap(NULL, CREATOR_SIZE, PROT_READ, MAP_SHARED, r, 0) : MAP_FAILED;
	CHECK(m != MAP_FAILED, "the reader maps the file MAP_SHARED (%s)",
	      m == MAP_FAILED ? errname(errno) : "ok");
	CHECK(m != MAP_FAILED && memcmp(m, want, CREATOR_SIZE) == 0, "the mapping shows the file");
	/* Now change it through the creator: inside a cached page, across two, and past the end. */
	fill(want + 100, 100, 50, 42);
	fill(want + 4000, 4000, 300, 43);
	fill(want + CREATOR_SIZE, CREATOR_SIZE, 100, 44);
	bool wrote = w >= 0 && pwrite_all(w, want + 100, 50, 100) &&
	             pwrite_all(w, want + 4000, 300, 4000) &&
	             pwrite_all(w, want + CREATOR_SIZE, 100, CREATOR_SIZE);
	CHECK(wrote, "the creator writes again (3 ranges, one past the end)");
	CHECK(r >= 0 && pread_all(r, got, CREATOR_SIZE + 100, 0) == CREATOR_SIZE + 100 &&
	      memcmp(got, want, CREATOR_SIZE + 100) == 0,
	      "the reader's next read shows every new byte, none of its cached old ones");
	CHECK(m != MAP_FAILED && memcmp(m, want, CREATOR_SIZE) == 0,
	      "the reader's shared mapping shows the new bytes");
	if (m != MAP_FAILED)
		munmap(m, CREATOR_SIZE);
	if (w >= 0)
		close(w);
	if (r >= 0)
		close(r);
	char why[128];
	CHECK(file_equals("f_creator", want, CREATOR_SIZE + 100, why, sizeof why),
	      "after both close, the file holds the last writes (%s)", why);
	CHECK_OK(unlink("f_creator"), "unlink f_creator");
	free(want);
}

static void mmap_check(const char *when)
{
	uint8_t *want = xmalloc(MMAP_SIZE);
	mmap_expected(want);
	char why[128];
	CHECK(file_equals("persist/mmap.bin", want, MMAP_SIZE, why, sizeof why), "%s: mmap-written file (%s)",
	      when, why);
	free(want);
}

/* ---------- several processes at once ---------- */

#define CONC_PROCS 4
#define CONC_FILE_SIZE (300 * 1024 + 17)
#define CONC_REGION 50001u

static void conc_check(const char *when)
{
	for (int i = 0; i < CONC_PROCS; i++) {
		char name[64];
		snprintf(name, sizeof name, "persist/conc_%d", i);
		check_pattern_file(name, CONC_FILE_SIZE, 100 + (uint32_t)i);
	}
	uint8_t *want = xmalloc(CONC_PROCS * CONC_REGION);
	for (int i = 0; i < CONC_PROCS; i++)
		fill(want + i * CONC_REGION, i * CONC_REGION, CONC_REGION, 200 + (uint32_t)i);
	char why[128];
	CHECK(file_equals("persist/shared", want, CONC_PROCS * CONC_REGION, why, sizeof why),
	      "%s: file written by %d processes in separate regions (%s)", when, CONC_PROCS, why);
	free(want);
}

static void t_concurrent(void)
{
	CHECK(write_pattern_file("persist/stable", 200 * 1024, 300), "create stable file for readers");
	int sfd = open("persist/shared", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(sfd >= 0, "create shared file");
	if (sfd >= 0)
		close(sfd);
	pid_t pids[3 * CONC_PROCS];
	int np = 0;
	for (int i = 0; i < CONC_PROCS; i++) {
		pid_t p = fork();
		if (p == 0) { /* own file, odd chunks */
			alarm(120);
			char name[64];
			snprintf(name, sizeof name, "persist/conc_%d", i);
			_exit(write_pattern_file(name, CONC_FILE_SIZE, 100 + (uint32_t)i) ? 0 : 1);
		}
		pids[np++] = p;
		p = fork();
		if (p == 0) { /* own region of the shared file, 777-byte writes */
			alarm(120);
			int fd = open("persist/shared", O_WRONLY);
			uint8_t buf[777];
			bool ok = fd >= 0;
			for (size_t off = 0; ok && off < CONC_REGION; off += sizeof buf) {
				size_t n = CONC_REGION - off < sizeof buf ? CONC_REGION - off : sizeof buf;
				uint64_t at = (uint64_t)i * CONC_REGION + off;
				fill(buf, at, n, 200 + (uint32_t)i);
				ok = pwrite_all(fd, buf, n, (off_t)at);
			}
			_exit(ok && close(fd) == 0 ? 0 : 1);
		}
		pids[np++] = p;
		p = fork();
		if (p == 0) { /* reader of a stable file while others write */
			alarm(120);
			char why[128];
			for (int k = 0; k < 5; k++)
				if (!pattern_file_ok("persist/stable", 200 * 1024, 300, why, sizeof why))
					_exit(1);
			_exit(0);
		}
		pids[np++] = p;
	}
	int bad = 0;
	for (int i = 0; i < np; i++)
		bad += child_exit(pids[i]) != 0;
	CHECK(bad == 0, "%d writer and reader processes ran at once (%d failed)", np, bad);
	conc_check("before remount");
}

/* ---------- refused and odd names ---------- */

static void t_refused(void)
{
	CHECK(write_str("linksrc", "l"), "create link source");
	CHECK_ERR(link("linksrc", "hardlink"), EPERM, "hard link refused");
	CHECK(!exists("hardlink"), "no hard link left behind");
	CHECK_ERR(mknod("fifo", S_IFIFO | 0644, 0), EPERM, "mknod FIFO refused");
	CHECK_ERR(mkfifo("fifo2", 0644), EPERM, "mkfifo refused");
	CHECK_ERR(mknod("chardev", S_IFCHR | 0644, makedev(1, 3)), EPERM, "mknod char device refused");
	CHECK(!exists("fifo") && !exists("fifo2") && !exists("chardev"), "no special file left behind");
	unlink("linksrc");
}

#define N_NAMES 9
static void names_list(char names[N_NAMES][300])
{
	memset(names[0], 'a', 255);
	names[0][255] = 0; /* 255 bytes of ASCII */
	names[1][0] = 0;
	for (int i = 0; i < 85; i++)
		strcat(names[1], "\xe6\x97\xa5"); /* 255 bytes of UTF-8 */
	strcpy(names[2], "\xc3\x85se \xc3\x91" "and\xc3\xba \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82.txt");
	strcpy(names[3], ".dirid");
	strcpy(names[4], "report.n");
	strcpy(names[5], ".Lxyz");
	strcpy(names[6], "aGVsbG8td29ybGQ");
	strcpy(names[7], "name with spaces, 'quotes' & $ymbols;");
	memset(names[8], 'A', 254); /* looks like a sealed base64 name */
	names[8][254] = 0;
}

static void names_check(const char *when)
{
	char names[N_NAMES][300];
	names_list(names);
	for (int i = 0; i < N_NAMES; i++) {
		char path[4096];
		snprintf(path, sizeof path, "persist/names/%s", names[i]);
		CHECK(file_is_str(path, names[i]), "%s: name #%d (%zu bytes) holds its content", when, i,
		      strlen(names[i]));
	}
	DIR *d = opendir("persist/names");
	int n = 0, known = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		for (int i = 0; i < N_NAMES; i++)
			known += !strcmp(e->d_name, names[i]);
	}
	if (d)
		closedir(d);
	CHECK(n == N_NAMES && known == N_NAMES, "%s: readdir lists exactly the %d names (n=%d known=%d)", when,
	      N_NAMES, n, known);
}

static void t_names(void)
{
	char names[N_NAMES][300];
	names_list(names);
	CHECK_OK(mkdir("persist/names", 0755), "mkdir names");
	for (int i = 0; i < N_NAMES; i++) {
		char path[4096];
		snprintf(path, sizeof path, "persist/names/%s", names[i]);
		CHECK(write_str(path, names[i]), "create name #%d (%zu bytes)", i, strlen(names[i]));
	}
	char too_long[300], path[400];
	memset(too_long, 'b', 256);
	too_long[256] = 0;
	snprintf(path, sizeof path, "persist/names/%s", too_long);
	CHECK_ERR(open(path, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG, "256-byte name");
	CHECK_ERR(mkdir(path, 0755), ENAMETOOLONG, "256-byte folder name");
	/* rename between long and short names */
	snprintf(path, sizeof path, "persist/names/%s", names[0]);
	CHECK(rename(path, "persist/shortname") == 0 && rename("persist/shortname", path) == 0,
	      "rename a 255-byte name to a short one and back");
	char dir255[400];
	snprintf(dir255, sizeof dir255, "%s", names[1]);
	CHECK(mkdir(dir255, 0755) == 0 && snprintf(path, sizeof path, "%s/%s", dir255, names[0]) > 0 &&
	      write_str(path, "deep") && file_is_str(path, "deep"), "255-byte file in a 255-byte UTF-8 folder");
	unlink(path);
	CHECK_OK(rmdir(dir255), "rmdir 255-byte folder");
	names_check("before remount");
}

/* ---------- drivers ---------- */

static int finish(void)
{
	printf("# %u passed, %u failed\n", passes, failures);
	return failures ? 1 : 0;
}

static int run_write(void)
{
	umask(0);
	if (mkdir("persist", 0755) != 0) {
		perror("mkdir persist");
		return 2;
	}
	t_open_flags();
	t_offsets();
	t_sparse_big();
	t_unlink_open();
	t_dirs();
	many_check("before remount");
	t_rename();
	t_symlink();
	t_meta();
	t_statfs_fsync();
	t_xattr();
	t_locks();
	t_mmap();
	t_creator_and_readers();
	t_concurrent();
	t_refused();
	t_names();
	return finish();
}

static int run_verify(void)
{
	uint8_t *model = xmalloc(MODEL_MAX);
	size_t size;
	char why[160];
	model_run(model, &size, -1, NULL, why, sizeof why);
	bool ok = file_equals("persist/model.bin", model, size, why, sizeof why);
	CHECK(ok, "after remount: random-write file matches the model (%s)", why);
	free(model);
	meta_check("after remount"); /* before any read touches atime */
	big_check("after remount");
	CHECK(unlink("persist/big") == 0, "unlink the big file");
	check_pattern_file("persist/renamed_dir/sub/y", 3 * 4096 + 5, 21);
	CHECK(file_is_str("persist/renamed_dir/sub/new", "new"), "after remount: file made in renamed folder");
	symlink_check("after remount");
	xattr_check("after remount");
	mmap_check("after remount");
	conc_check("after remount");
	many_check("after remount");
	names_check("after remount");
	return finish();
}

/* ---------- single operations for the shell scripts ---------- */

static int print_result(long r)
{
	printf("%s\n", r == -1 ? errname(errno) : "OK");
	return 0;
}

static int run_op(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *op = argv[0], *p = argv[1], *arg = argc > 2 ? argv[2] : "";
	errno = 0;
	if (!strcmp(op, "read")) { /* open and read to EOF */
		int fd = open(p, O_RDONLY);
		if (fd < 0)
			return print_result(-1);
		char buf[65536];
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			;
		int e = errno;
		close(fd);
		errno = e;
		return print_result(n < 0 ? -1 : 0);
	}
	if (!strcmp(op, "open-write")) {
		int fd = open(p, O_WRONLY);
		if (fd >= 0)
			close(fd);
		return print_result(fd < 0 ? -1 : 0);
	}
	if (!strcmp(op, "write")) { /* open and write ARG at the start */
		int fd = open(p, O_WRONLY);
		long r = fd < 0 ? -1 : (long)write(fd, arg, strlen(arg));
		int e = errno;
		if (fd >= 0 && close(fd) != 0 && r != -1) {
			r = -1;
			e = errno;
		}
		errno = e;
		return print_result(r);
	}
	if (!strcmp(op, "create")) {
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0)
			close(fd);
		return print_result(fd < 0 ? -1 : 0);
	}
	if (!strcmp(op, "mkdir"))
		return print_result(mkdir(p, 0755));
	if (!strcmp(op, "rmdir"))
		return print_result(rmdir(p));
	if (!strcmp(op, "unlink"))
		return print_result(unlink(p));
	if (!strcmp(op, "rename"))
		return print_result(rename(p, arg));
	if (!strcmp(op, "exchange"))
		return print_result(renameat2_(p, arg, RENAME_EXCHANGE));
	if (!strcmp(op, "symlink"))
		return print_result(symlink(arg, p));
	if (!strcmp(op, "chmod"))
		return print_result(chmod(p, (mode_t)strtoul(arg, NULL, 8)));
	if (!strcmp(op, "chown"))
		return print_result(chown(p, (uid_t)atoi(arg), (gid_t)-1));
	if (!strcmp(op, "utime-now"))
		return print_result(utimensat(AT_FDCWD, p, NULL, 0));
	if (!strcmp(op, "utime-set"))
		return print_result(utimensat(AT_FDCWD, p, META_TIMES, 0));
	if (!strcmp(op, "truncate"))
		return print_result(truncate(p, atol(arg)));
	if (!strcmp(op, "setxattr"))
		return print_result(setxattr(p, "user.probe", "v", 1, 0));
	if (!strcmp(op, "removexattr"))
		return print_result(removexattr(p, "user.probe"));
	if (!strcmp(op, "list")) {
		DIR *d = opendir(p);
		if (!d)
			return print_result(-1);
		while (readdir(d))
			;
		closedir(d);
		return print_result(0);
	}
	if (!strcmp(op, "stat")) {
		struct stat st = { 0 };
		return print_result(stat(p, &st));
	}
	if (!strcmp(op, "owner")) {
		struct stat st = { 0 };
		if (stat(p, &st) != 0)
			return print_result(-1);
		printf("%u:%u %o\n", (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)st.st_mode & 07777);
		return 0;
	}
	fprintf(stderr, "posix_probe: unknown op %s\n", op);
	return 2;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "op"))
		return run_op(argc - 2, argv + 2);
	if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "verify"))) {
		fprintf(stderr, "usage: posix_probe write|verify DIR | posix_probe op OP PATH [ARG]\n");
		return 2;
	}
	if (chdir(argv[2]) != 0) {
		fprintf(stderr, "posix_probe: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	alarm(600); /* never hang a test run */
	return !strcmp(argv[1], "write") ? run_write() : run_verify();
}
