/*
** history_bench: what a save costs in history.git, measured on real vaults.
**   cost per save (own commit each) at 1k, 10k, 100k files in the vault;
**   a 4 KiB change to a 1 GiB file (time and bytes added);
**   `log PATH` on 10,000 commits;
**   rfs_history_subtree of one record (1,000 files, 10 events each) as the
**   vault around it grows: its time should follow the record, not the vault.
** Usage: history_bench [max_files [min_files]]   (default 100000 1000). Prints figures.
** Environment: HB_FILES_ONLY=1 only the cost per save; HB_SUBTREE_ONLY=1 only
** the subtree; HB_RUNS=N saves per timed round (5 rounds, median reported);
** HB_GC=1 run gc before timing; HB_KEEP=DIR keeps the vault of max_files there (passphrase
** "pw"), for bench/scale.sh.
** Must never: run outside /tmp (it makes and removes its own vaults).
*/
#include <time.h>
#include "tests/history/fixture.h"

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_cb(const struct rfs_version *v, void *arg)
{
	(void)v;
	(*(long *)arg)++;
	return 0;
}


#define ROUNDS 5                          /* timed rounds; the median is reported */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "history_bench: %s: %s\n", what, strerror(-rc));
	exit(2);
}

static long keep_files = -1;        /* HB_KEEP: the vault of this many files is kept */

/* The vault of keep_files files goes to $HB_KEEP (passphrase "pw") for bench/scale.sh to mount;
** every other one is removed. */
static void keep_or_free(struct fx *x, long n)
{
	const char *keep = getenv("HB_KEEP");
	if (!keep || n != keep_files) {
		fx_free(x);
		return;
	}
	fx_close_history(x);
	rfs_vault_close(x->v);
	x->v = NULL;
	if (rename(x->dir, keep) < 0)
		die(keep, -errno);
	printf("kept the vault of %ld files at %s\n", n, keep);
}

/* Close history (its packer finishes) and open it again. */
static void reopen(struct fx *x)
{
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	fx_close_history(x);
	int rc = rfs_history_open(x->v, &who, 0, &x->h, NULL, 0);
	if (rc)
		die("reopen", rc);
}

/* A folder NAME in the folder at backing path PARENT ("" for the root; its dirid PDIRID, its
** clear path PCLEAR), made as the daemon makes it (its .dirid a new folder id). */
static void make_folder_in(struct fx *x, const char *parent, const uint8_t pdirid[16],
                           const char *pclear, const char *name, char backing[256], uint8_t dirid[16])
{
	char text[RFS_ENC_NAME_MAX + 1], b[256];
	int rc = 0;
	if (rfs_vault_name_seal(x->v, pdirid, name, text, sizeof text) < 0)
		die("seal", -EINVAL);
	rfs_name_backing(b, text);
	if (snprintf(backing, 256, "%s%s%s", parent, *parent ? "/" : "", b) >= 256)
		die("path", -ENAMETOOLONG);
	if (mkdirat(x->v->live_fd, backing, 0755) < 0)
		die("mkdir", -errno);
	if ((rc = rfs_vault_new_folder_id(x->v, dirid)))
		die("folder id", rc);
	int dfd = openat(x->v->live_fd, backing, O_RDONLY | O_DIRECTORY);
	int fd = openat(dfd, RFS_DIRID_FILE, O_WRONLY | O_CREAT, 0400);
	if (fd < 0 || write(fd, dirid, 16) != 16)
		die("dirid", -EIO);
	close(fd);
	close(dfd);
	char clear[300];
	snprintf(clear, sizeof clear, "%s/%s", pclear, name);
	struct rfs_save s = { .kind = RFS_SAVE_CREATED, .type = RFS_OBJ_DIR, .cipher_path = backing,
	                      .clear_path = clear, .mode = S_IFDIR | 0755, .fd = -1 };
	memcpy(s.file_id, dirid, 16);
	memcpy(s.dir, pdirid, 16);
	if ((rc = rfs_history_record(x->h, &s)))
		die("record dir", rc);
}

static void make_folder(struct fx *x, const char *name, char backing[256], uint8_t dirid[16])
{
	uint8_t root[16];
	if (fx_root_dirid(x, root) < 0)
		die("root dirid", -EIO);
	make_folder_in(x, "", root, "", name, backing, dirid);
}

/* A file's save, with its folder's dirid (what the daemon records in format 3). */
static int record_file(struct fx *x, enum rfs_save_kind kind, const char *backing, const char *clear,
                       const uint8_t id[16], uint64_t size, const uint8_t dir[16])
{
	struct rfs_save s = { .kind = kind, .type = RFS_OBJ_FILE, .cipher_path = backing,
	                      .clear_path = clear, .mode = S_IFREG | 0640, .size = size, .fd = -1 };
	memcpy(s.file_id, id, 16);
	memcpy(s.dir, dir, 16);
	return rfs_history_record(x->h, &s);
}

/* Vault with n one-block files in folders of 100, all in the root (so at
** 100k files the root tree has 1,000 entries and every commit rewrites it);
** then the cost of saves of one file with new content, each its own commit,
** the sealing of the new content included. HB_NESTED: the folders of 100 are
** r-NNNNN in groups g-NNN of 100 folders (a records estate: at 1M files no
** tree holds more than 100 entries). */
static void bench_files(long n)
{
	struct fx x;
	int rc = fx_new(&x);
	if (rc)
		die("vault", rc);
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[4096], dirid[16], dirid0[16] = { 0 }, id0[16], *key0 = rfs_secmem_key_alloc();
	memset(data, 'x', sizeof data);
	char name[64], dir[256], text[RFS_ENC_NAME_MAX + 1], b[256], path[600], first[600] = "";
	char group[256], clear0[160] = "", folder_clear[80];
	uint8_t group_dirid[16];
	bool nested = getenv("HB_NESTED") != NULL;
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		if (nested && i % 10000 == 0) {
			snprintf(name, sizeof name, "g-%03ld", i / 10000);
			make_folder(&x, name, group, group_dirid);
		}
		if (i % 100 == 0) {
			if (nested) {
				snprintf(name, sizeof name, "r-%05ld", i / 100);
				snprintf(folder_clear, sizeof folder_clear, "/g-%03ld", i / 10000);
				make_folder_in(&x, group, group_dirid, folder_clear, name, dir, dirid);
				snprintf(folder_clear, sizeof folder_clear, "/g-%03ld/r-%05ld", i / 10000, i / 100);
			} else {
				snprintf(name, sizeof name, "folder-%05ld", i / 100);
				make_folder(&x, name, dir, dirid);
				snprintf(folder_clear, sizeof folder_clear, "/%s", name);
			}
		}
		char fname[64], clear[160];
		snprintf(fname, sizeof fname, "file-%07ld.txt", i);
		snprintf(clear, sizeof clear, "%s/%s", folder_clear, fname);
		if (rfs_vault_name_seal(x.v, dirid, fname, text, sizeof text) < 0)
			die("seal", -EINVAL);
		rfs_name_backing(b, text);
		snprintf(path, sizeof path, "%s/%s", dir, b);
		if ((rc = fx_write_file(&x, path, data, sizeof data, id, key, 1)))
			die("write", rc);
		if ((rc = record_file(&x, RFS_SAVE_CREATED, path, clear, id, sizeof data, dirid)))
			die("record", rc);
		if (!first[0]) {
			snprintf(first, sizeof first, "%s", path);
			snprintf(clear0, sizeof clear0, "%s", clear);
			memcpy(id0, id, sizeof id0);
			memcpy(dirid0, dirid, sizeof dirid0);
			memcpy(key0, key, RFS_KEY_SIZE);
		}
	}
	if ((rc = rfs_history_flush(x.h)))
		die("flush", rc);
	double fill = now_s() - t0;
	if (getenv("HB_GC") && (rc = rfs_history_gc(x.h, NULL)))
		die("gc", rc);
	reopen(&x);        /* the fill's pack merging is done; merges during the rounds count */
	long packs_before = fx_count_packs(x.dir);
	int runs = getenv("HB_RUNS") ? atoi(getenv("HB_RUNS")) : 300;
	fprintf(stderr, "timing %d rounds of %d saves\n", ROUNDS, runs);
	double round_ms[ROUNDS];
	for (int k = 0; k < ROUNDS; k++) {
		t0 = now_s();
		for (int i = 0; i < runs; i++) {
			/* a real save: new content, so the file's blob, its folder and the root change */
			snprintf((char *)data, sizeof data, "round %d save %d", k, i);
			if ((rc = fx_write_file(&x, first, data, sizeof data, id0, key0, 0)) ||
			    (rc = record_file(&x, RFS_SAVE_SAVED, first, clear0, id0, sizeof data, dirid0)))
				die("save", rc);
		}
		if ((rc = rfs_history_flush(x.h)))
			die("flush", rc);
		round_ms[k] = (now_s() - t0) / runs * 1e3;
	}
	qsort(round_ms, ROUNDS, sizeof *round_ms, cmp_double);
	printf("%7ld files: created+recorded at %.0f files/s; one save = own commit: %.2f ms "
	       "(median of %d rounds of %d, %.2f-%.2f; %ld packs before, %ld after)\n", n, n / fill,
	       round_ms[ROUNDS / 2], ROUNDS, runs, round_ms[0], round_ms[ROUNDS - 1], packs_before,
	       fx_count_packs(x.dir));
	rfs_secmem_key_free(key);
	rfs_secmem_key_free(key0);
	keep_or_free(&x, n);
}

static void bench_big(void)
{
	struct fx x;
	int rc = fx_new(&x);
	if (rc)
		die("vault", rc);
	size_t len = 1ul << 30;
	uint8_t id[16], *key = rfs_secmem_key_alloc(), *data = malloc(len);
	memset(data, 'm', len);
	char b[256];
	fx_backing(&x, "mailbox.pst", b);
	double t0 = now_s();
	if ((rc = fx_write_file(&x, b, data, len, id, key, 1)) ||
	    (rc = fx_record(&x, RFS_SAVE_CREATED, b, "/mailbox.pst", id, len, NULL, 0)) ||
	    (rc = rfs_history_flush(x.h)))
		die("1 GiB file", rc);
	double first = now_s() - t0;
	reopen(&x);                          /* packs settled: the merging thread is done */
	long before = fx_objects_bytes(x.dir);
	uint8_t blk[4096];
	memset(blk, 'n', sizeof blk);
	struct rfs_range r = { 131072, 1 };
	if ((rc = fx_write_block(&x, b, 131072, blk, id, key)))
		die("block", rc);
	t0 = now_s();
	if ((rc = fx_record(&x, RFS_SAVE_SAVED, b, "/mailbox.pst", id, len, &r, 1)) || (rc = rfs_history_flush(x.h)))
		die("save", rc);
	double save = now_s() - t0;
	reopen(&x);
	/* KiB: since history format 2 a 4 KiB change in the middle costs one
	** 62,040-byte chunk and its trees, not a 1 MiB chunk and the last one. */
	printf("1 GiB file: first version %.2f s; a 4 KiB change: %.1f ms (flush included), "
	       "history grew %.1f KiB\n", first, save * 1e3, (double)(fx_objects_bytes(x.dir) - before) / 1024);
	free(data);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

static void bench_log(void)
{
	struct fx x;
	int rc = fx_new(&x);
	if (rc)
		die("vault", rc);
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[100];
	memset(data, 'l', sizeof data);
	char b[256], c[256];
	fx_backing(&x, "often.txt", b);
	fx_backing(&x, "rare.txt", c);
	if ((rc = fx_write_file(&x, b, data, sizeof data, id, key, 1)))
		die("write", rc);
	uint8_t id2[16];
	if ((rc = fx_write_file(&x, c, data, sizeof data, id2, key, 1)))
		die("write", rc);
	fx_record(&x, RFS_SAVE_CREATED, c, "/rare.txt", id2, sizeof data, NULL, 0);
	for (int i = 0; i < 10000; i++)
		if ((rc = fx_record(&x, RFS_SAVE_SAVED, b, "/often.txt", id, sizeof data, NULL, 0)))
			die("record", rc);
	if ((rc = rfs_history_flush(x.h)))
		die("flush", rc);
	fx_close_history(&x);
	struct rfs_history *h;
	if ((rc = rfs_history_open(x.v, NULL, RFS_HISTORY_READONLY, &h, NULL, 0)))
		die("open", rc);
	long n1 = 0, n2 = 0;
	double t0 = now_s();
	rfs_history_log(h, "/rare.txt", 0, count_cb, &n1);
	double rare = now_s() - t0;
	t0 = now_s();
	rfs_history_log(h, "/often.txt", 0, count_cb, &n2);
	double often = now_s() - t0;
	printf("log on 10,001 commits: a path with %ld version: %.1f ms; a path with %ld versions: %.1f ms\n",
	       n1, rare * 1e3, n2, often * 1e3);
	rfs_history_close(h);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* One record: a folder of live/'s root with nfiles file ids, each with
** nevents events (mode changes: they capture nothing, so a big index is
** quick to make; the subtree reads only the index). */
static void make_record(struct fx *x, const char *name, long nfiles, int nevents, uint8_t dirid[16])
{
	char backing[256], clear[300];
	make_folder(x, name, backing, dirid);
	for (long f = 0; f < nfiles; f++) {
		uint8_t id[16];
		randombytes_buf(id, 16);
		snprintf(clear, sizeof clear, "/%s/f%ld.txt", name, f);
		for (int e = 0; e < nevents; e++) {
			struct rfs_save s = { .kind = RFS_SAVE_MODE, .type = RFS_OBJ_FILE, .cipher_path = backing,
			                      .clear_path = clear, .mode = S_IFREG | 0640, .fd = -1 };
			memcpy(s.file_id, id, 16);
			memcpy(s.dir, dirid, 16);
			int rc = rfs_history_record(x->h, &s);
			if (rc)
				die("record", rc);
		}
	}
}

static void bench_subtree(void)
{
	static const int others[] = { 0, 9, 49 };
	printf("subtree of one record (1,000 files x 10 events), the vault around it growing:\n");
	for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
		struct fx x;
		int rc = fx_new(&x);
		if (rc)
			die("vault", rc);
		uint8_t rec[16], other[16];
		make_record(&x, "record", 1000, 10, rec);
		for (int i = 0; i < others[k]; i++) {
			char name[32];
			snprintf(name, sizeof name, "other%d", i);
			make_record(&x, name, 1000, 10, other);
		}
		if ((rc = rfs_history_flush(x.h)))
			die("flush", rc);
		struct rfs_subtree st;
		double best = 1e9;
		for (int r = 0; r < 3; r++) {
			double t0 = now_s();
			if ((rc = rfs_history_subtree(x.h, rec, &st)))
				die("subtree", rc);
			double t = now_s() - t0;
			best = t < best ? t : best;
			if (st.count != 1001 || st.versions != 10001)
				die("subtree counts", -EPROTO);
			rfs_subtree_free(&st);
		}
		printf("  vault of %7d events: %zu ids, %6.3f s (best of 3)\n", (others[k] + 1) * 10000 + others[k] + 1,
		       (size_t)1001, best);
		fflush(stdout);
		fx_free(&x);
	}
}

int main(int argc, char **argv)
{
	if (getenv("HB_SUBTREE_ONLY")) {
		bench_subtree();
		return 0;
	}
	long max = argc > 1 ? atol(argv[1]) : 100000;
	long min = argc > 2 ? atol(argv[2]) : 1000;
	keep_files = max;
	for (long n = min; n <= max; n *= 10)
		bench_files(n);
	if (getenv("HB_FILES_ONLY"))
		return 0;
	bench_big();
	bench_log();
	bench_subtree();
	return 0;
}
