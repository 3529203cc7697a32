/*
** test_history: history.git round trips, batching, chunk reuse, git fsck,
** no clear text in objects, recovery, restore, materialise and verify's
** detection of each kind of tampering, the listing and reading the archive uses. Real
** vaults, real git.
*/
#include <criterion/criterion.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "fs/history/pack.h"
#include "tests/history/fixture.h"
#include "fs/history/internal.h"

struct count { int n; int saved; char first_rev[41]; char revs[64][41]; };

static int count_cb(const struct rfs_version *v, void *arg)
{
	struct count *c = arg;
	if (c->n < 64)
		snprintf(c->revs[c->n], 41, "%s", v->rev);
	c->n++;
	c->saved += v->kind == RFS_SAVE_SAVED;
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

Test(history, save_show_roundtrip_and_n_saves_n_versions)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[3][10000];
	cr_assert_eq(fx_backing(&x, "notes.txt", b), 0);
	for (int i = 0; i < 3; i++)
		fill(data[i], sizeof data[i], (unsigned)i + 1);
	/* Three saves of one file back to back: the same millisecond, three versions. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(fx_write_file(&x, b, data[i], sizeof data[i], id, key, i == 0), 0);
		cr_assert_eq(fx_record(&x, i ? RFS_SAVE_SAVED : RFS_SAVE_CREATED, b, "/notes.txt", id,
		                       sizeof data[i], NULL, 0), 0);
	}
	cr_assert_eq(rfs_history_flush(x.h), 0);
	struct count c = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/notes.txt", 0, count_cb, &c), 0);
	cr_assert_eq(c.n, 3, "3 saves must give 3 versions, got %d", c.n);
	cr_assert_eq(c.saved, 2);
	uint8_t out[20000];
	for (int i = 0; i < 3; i++) {          /* revs are newest first */
		long n = fx_show(&x, c.revs[2 - i], "/notes.txt", out, sizeof out);
		cr_assert_eq(n, (long)sizeof data[i], "version %d: %ld bytes", i, n);
		cr_assert(!memcmp(out, data[i], sizeof data[i]), "version %d differs", i);
	}
	cr_assert_eq(fx_show(&x, "HEAD", "/missing.txt", out, sizeof out), -ENOENT);
	struct rfs_version st;
	cr_assert_eq(rfs_history_stat(x.h, "HEAD", "/notes.txt", &st), 0);
	cr_assert_eq(st.size, sizeof data[2]);
	cr_assert_eq(st.mode & 07777, 0640);
	rfs_secmem_key_free(key);
	fx_free(&x);
}


Test(history, chunk_reuse_and_git_fsck_and_no_clear_text)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	size_t len = 4u << 20;                 /* 4 MiB: five chunks */
	uint8_t id[16], *key = rfs_secmem_key_alloc(), *data = malloc(len);
	fill(data, len, 9);
	memcpy(data + 1000, "CLEARMARKER-recfs", 17);
	cr_assert_eq(fx_backing(&x, "CLEARMARKER-name.odt", b), 0);
	cr_assert_eq(fx_write_file(&x, b, data, len, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/CLEARMARKER-name.odt", id, len, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	long before = fx_objects_bytes(x.dir);
	uint8_t blk[RFS_BLOCK_SIZE];
	fill(blk, sizeof blk, 77);
	cr_assert_eq(fx_write_block(&x, b, 600, blk, id, key), 0);
	memcpy(data + 600 * RFS_BLOCK_SIZE, blk, sizeof blk);
	struct rfs_range r = { 600, 1 };
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/CLEARMARKER-name.odt", id, len, &r, 1), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	long grew = fx_objects_bytes(x.dir) - before;
	/* One changed chunk (~1 MiB) plus the last chunk, trees and a commit. */
	cr_assert(grew < 2 * 1100000 + 64 * 1024, "a 4 KiB change added %ld bytes", grew);
	uint8_t *out = malloc(len);
	cr_assert_eq(fx_show(&x, "HEAD", "/CLEARMARKER-name.odt", out, len), (long)len);
	cr_assert(!memcmp(out, data, len));
	fx_close_history(&x);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git fsck --strict --no-progress", x.dir), 0);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git cat-file --batch-all-objects --batch | "
	                   "grep -a -c -e CLEARMARKER -e jsmith -e 'Jane Smith' -e laptop-7 >/dev/null", x.dir), 1,
	             "a clear marker was found in history objects");
	cr_assert_eq(fx_sh("grep -r -a -l -e CLEARMARKER -e jsmith %s/history.git >/dev/null", x.dir), 1,
	             "a clear marker was found in history.git");
	cr_assert_eq(fx_sh("test -z \"$(find %s/history.git/objects -type f -path '*/objects/[0-9a-f][0-9a-f]/*')\"", x.dir), 0,
	             "loose objects were written");
	free(out);
	free(data);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* Make a vault with n saves of one file, each its own commit; close history. */
static void make_chain(struct fx *x, int n)
{
	cr_assert_eq(fx_new(x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[5000];
	cr_assert_eq(fx_backing(x, "a.txt", b), 0);
	for (int i = 0; i < n; i++) {
		fill(data, sizeof data, (unsigned)i);
		cr_assert_eq(fx_write_file(x, b, data, sizeof data, id, key, i == 0), 0);
		cr_assert_eq(fx_record(x, RFS_SAVE_SAVED, b, "/a.txt", id, sizeof data, NULL, 0), 0);
		cr_assert_eq(rfs_history_flush(x->h), 0);
	}
	rfs_secmem_key_free(key);
	fx_close_history(x);
}

static char *verify_report(struct fx *x, unsigned long *problems)
{
	struct rfs_history *h;
	char err[256];
	cr_assert_eq(rfs_history_open(x->v, NULL, RFS_HISTORY_READONLY, &h, err, sizeof err), 0, "%s", err);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct rfs_verify_result res;
	cr_assert_eq(rfs_history_verify(h, f, &res, NULL), 0);
	fclose(f);
	*problems = res.problems;
	rfs_history_close(h);
	return buf;
}

/* Close the writable handle; verify must then find nothing wrong. */
static void close_and_verify_clean(struct fx *x)
{
	fx_close_history(x);
	unsigned long p;
	char *r = verify_report(x, &p);
	cr_assert_eq(p, 0, "%s", r);
	free(r);
}

static void git_rewrite(struct fx *x, const char *script)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cd %s/history.git && set -e && %s", x->dir, script);
	cr_assert_eq(system(cmd), 0, "tamper script failed: %s", script);
}

/* Shell helper: rewrite commit $1 with parent $2 (keeping its signature); prints the new id. */
#define REPARENT "rp() { git cat-file commit $1 | sed \"s/^parent .*/parent $2/\" | git hash-object -t commit -w --stdin; }; "

/* Tamper with history.git by script; verify must report expect. The ref
** is then put back where the signed head record says it was. */
static void expect_verify_finds(struct fx *x, const char *expect, const char *script)
{
	unsigned long p;
	git_rewrite(x, script);
	char *r = verify_report(x, &p);
	cr_assert(strstr(r, expect), "expected \"%s\", got: %s", expect, r);
	free(r);
	git_rewrite(x, "git update-ref refs/heads/main $(awk '{print $4}' recfs/head)");
}

Test(history, verify_clean_then_detects_each_tampering)
{
	struct fx x;
	make_chain(&x, 5);
	unsigned long p;
	char *r = verify_report(&x, &p);
	cr_assert_eq(p, 0, "clean history reported: %s", r);
	free(r);

	/* ref moved backwards */
	expect_verify_finds(&x, "ref moved backwards", "git update-ref refs/heads/main main~2");

	/* forged signature: the head commit signed by another key */
	expect_verify_finds(&x, "forged signature on commit",
	                    "H=$(git rev-parse main); "
	                    "N=$(git cat-file commit $H | sed 's/^recfs-sig ed25519 A/recfs-sig ed25519 B/;t;s/^recfs-sig ed25519 ./recfs-sig ed25519 A/' | "
	                    "git hash-object -t commit -w --stdin); git update-ref refs/heads/main $N");

	/* changed commit: its message altered (a first character of Z becomes Y, any
	** other becomes Z, so the rewrite always changes it) */
	expect_verify_finds(&x, "changed commit",
	                    "H=$(git rev-parse main); "
	                    "N=$(git cat-file commit $H | sed '$ {s/^Z/Y/;t;s/^./Z/}' | "
	                    "git hash-object -t commit -w --stdin); "
	                    "git update-ref refs/heads/main $N");

	/* removed commit: the head's parent skipped */
	expect_verify_finds(&x, "removed commit",
	                    REPARENT "N=$(rp $(git rev-parse main) $(git rev-parse main~2)); "
	                    "git update-ref refs/heads/main $N");

	/* reordered: main~1 and main~2 swapped */
	expect_verify_finds(&x, "reordered commits",
	                    REPARENT "A=$(git rev-parse main~3); B=$(git rev-parse main~2); "
	                    "C=$(git rev-parse main~1); D=$(git rev-parse main); "
	                    "C2=$(rp $C $A); B2=$(rp $B $C2); D2=$(rp $D $B2); git update-ref refs/heads/main $D2");

	/* corrupt blob: a byte in the middle of each pack becomes X, or Y if it was X */
	expect_verify_finds(&x, "corrupt object",
	                    "for p in objects/pack/*.pack; do s=$(stat -c %s $p); chmod u+w $p; "
	                    "b=$(dd if=$p bs=1 skip=$((s/2)) count=1 status=none); "
	                    "if [ \"$b\" = X ]; then c=Y; else c=X; fi; "
	                    "printf $c | dd of=$p bs=1 seek=$((s/2)) conv=notrunc status=none; done");
	fx_free(&x);
}

Test(history, recovery_commits_what_live_has)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[9000];
	fill(data, sizeof data, 5);
	cr_assert_eq(fx_backing(&x, "closed-before-kill.txt", b), 0);
	/* The signed head record of an open handle says "dirty": a SIGKILL leaves it so. */
	cr_assert_eq(fx_sh("cp %s/history.git/recfs/head %s/head.open", x.dir, x.dir), 0);
	fx_close_history(&x);
	/* Written to live/ while no history was recording, and no clean close:
	** what a SIGKILL leaves behind. */
	cr_assert_eq(fx_write_file(&x, b, data, sizeof data, id, key, 1), 0);
	cr_assert_eq(fx_sh("mv %s/head.open %s/history.git/recfs/head", x.dir, x.dir), 0);
	unsigned long lag;
	char *r = verify_report(&x, &lag);
	cr_assert(strstr(r, "live/ differs from the newest commit"), "verify missed the lag: %s", r);
	free(r);
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	cr_assert_eq(rfs_history_open(x.v, &who, 0, &x.h, NULL, 0), 0);
	struct count c = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/closed-before-kill.txt", 0, count_cb, &c), 0);
	cr_assert_eq(c.n, 1, "recovery must record the file once, got %d", c.n);
	uint8_t out[10000];
	cr_assert_eq(fx_show(&x, "HEAD", "/closed-before-kill.txt", out, sizeof out), (long)sizeof data);
	cr_assert(!memcmp(out, data, sizeof data));
	close_and_verify_clean(&x);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

Test(history, delete_then_restore_and_materialise_and_dates)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[7000];
	fill(data, sizeof data, 3);
	cr_assert_eq(fx_backing(&x, "contract.pdf", b), 0);
	cr_assert_eq(fx_write_file(&x, b, data, sizeof data, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/contract.pdf", id, sizeof data, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	char rev[41];
	cr_assert_eq(rfs_history_resolve(x.h, "HEAD", rev), 0);
	char at[41];
	cr_assert_eq(rfs_history_resolve(x.h, "2000-01-01", at), -ENOENT);
	cr_assert_eq(rfs_history_resolve(x.h, "2999-12-31T23:59", at), 0);
	cr_assert_str_eq(at, rev);
	cr_assert_eq(rfs_history_resolve(x.h, "31/12/2020", at), -EINVAL);

	cr_assert_eq(unlinkat(x.v->live_fd, b, 0), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_DELETED, b, "/contract.pdf", id, 0, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	uint8_t out[8000];
	cr_assert_eq(fx_show(&x, "HEAD", "/contract.pdf", out, sizeof out), -ENOENT);
	cr_assert_eq(rfs_history_restore(x.h, "/contract.pdf", "/contract.pdf", rev, NULL), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	cr_assert_eq(fx_show(&x, "HEAD", "/contract.pdf", out, sizeof out), (long)sizeof data);
	cr_assert(!memcmp(out, data, sizeof data));
	struct count c = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/contract.pdf", 0, count_cb, &c), 0);
	cr_assert_eq(c.n, 3);

	char dir[128];
	snprintf(dir, sizeof dir, "%s-mat", x.dir);
	cr_assert_eq(rfs_history_materialise(x.h, rev, dir), 0);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "cmp %s/%s %s/live/%s && test -f %s/.dirid", dir, b, x.dir, b, dir);
	cr_assert_eq(system(cmd), 0, "materialised tree differs from live/");
	nftw(dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* Every flush writes a pack; the committer merges them so lookups stay
** cheap. Nothing may be lost on the way: every version reads back. */
Test(history, many_packs_are_merged_and_every_version_survives)
{
	struct fx x;
	int n = 40;
	make_chain(&x, n);
	long packs = fx_count_packs(x.dir);
	cr_assert(packs >= 1 && packs <= 12, "%d flushes left %ld packs", n, packs);
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	cr_assert_eq(rfs_history_open(x.v, &who, 0, &x.h, NULL, 0), 0);
	struct count c = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/a.txt", 0, count_cb, &c), 0);
	cr_assert_eq(c.n, n);
	uint8_t data[5000], out[6000];
	for (int i = 0; i < n; i++) {          /* revs are newest first */
		fill(data, sizeof data, (unsigned)i);
		cr_assert_eq(fx_show(&x, c.revs[n - 1 - i], "/a.txt", out, sizeof out), (long)sizeof data);
		cr_assert(!memcmp(out, data, sizeof data), "version %d differs after merging packs", i);
	}
	cr_assert_eq(rfs_history_gc(x.h, NULL), 0);
	cr_assert_eq(fx_count_packs(x.dir), 1);
	cr_assert_eq(fx_show(&x, c.revs[n - 1], "/a.txt", out, sizeof out), (long)sizeof data);
	close_and_verify_clean(&x);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git fsck --strict --no-progress", x.dir), 0);
	fx_free(&x);
}

static void no_relock(void *arg, int lock)
{
	(void)arg;
	(void)lock;
}

/* XOR mask into the byte at offset at of the first pack that
** ls OPTS names (objects/pack/, FILTER after). */
static void flip_pack_byte(const char *objects, const char *opts, const char *filter, long at,
                           uint8_t mask)
{
	char cmd[1200], pack[800];
	snprintf(cmd, sizeof cmd, "ls %s %s/pack/*.pack %s", opts, objects, filter);
	FILE *ls = popen(cmd, "r");
	cr_assert(ls && fgets(pack, sizeof pack, ls));
	pclose(ls);
	pack[strcspn(pack, "\n")] = '\0';
	cr_assert_eq(chmod(pack, 0644), 0);
	int fd = open(pack, O_RDWR);
	uint8_t byte;
	cr_assert(fd >= 0 && pread(fd, &byte, 1, at) == 1);
	byte ^= mask;
	cr_assert(pwrite(fd, &byte, 1, at) == 1);
	close(fd);
}

/* Merging copies pack entries as they are, checked by the CRC-32 of the
** .idx: a damaged entry stops the merge, and the packs stay as they were. */
Test(history, a_merge_copies_no_damaged_entry)
{
	struct fx x;
	make_chain(&x, 40);
	char objects[600];
	snprintf(objects, sizeof objects, "%s/history.git/objects", x.dir);
	long packs = fx_count_packs(x.dir);
	cr_assert(packs >= 3, "need packs to merge, have %ld", packs);
	git_odb *odb = NULL;
	struct rfs_packs *p = NULL;
	cr_assert_eq(git_odb_new(&odb), 0);
	cr_assert_eq(rfs_pack_attach(odb, objects, &p), 0);

	/* Every bit of one byte inside the first object (a save's own blob) of
	** the smallest pack: past the 12-byte pack header and the object's header. */
	flip_pack_byte(objects, "-S", "| tail -n1", 40, 0xff);
	cr_assert_eq(fx_sh("cd %s/pack && sha1sum *.pack > ../../sums", objects), 0);
	cr_assert_lt(rfs_pack_consolidate(p, 2, UINT64_MAX, UINT64_MAX, no_relock, NULL), 0,
	             "a merge copied a damaged entry");
	cr_assert_eq(fx_count_packs(x.dir), packs, "packs were removed after a failed merge");
	cr_assert_eq(fx_sh("cd %s/pack && sha1sum --quiet -c ../../sums", objects), 0);
	cr_assert_eq(fx_sh("ls %s/pack | grep -q tmp_", objects), 1, "a temporary pack was left");
	git_odb_free(odb);
	fx_free(&x);
}

struct who_seen { int n; char login[4][16]; int64_t time[4]; uint64_t seq[4]; char rev[4][41]; };

static int who_cb(const struct rfs_version *v, void *arg)
{
	struct who_seen *w = arg;
	if (w->n < 4) {
		snprintf(w->login[w->n], sizeof w->login[0], "%s", v->login);
		w->time[w->n] = v->time;
		w->seq[w->n] = v->seq;
		snprintf(w->rev[w->n], 41, "%s", v->rev);
	}
	w->n++;
	return 0;
}

/* recfs demo: saves by other staff on other (even earlier) dates; the ref
** still only moves forward and verify still passes. */
Test(history, demo_attribution_sets_who_and_when)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), data[3000];
	cr_assert_eq(fx_backing(&x, "minutes.txt", b), 0);
	struct rfs_who alice = { "aturner", "Alice Turner", "council-pc-3" };
	struct rfs_who bob = { "bpatel", "Bob Patel", "council-pc-9" };
	const int64_t march = 1677672000, february = 1675252800;   /* 2023-03-01, 2023-02-01 12:00 UTC */
	for (int i = 0; i < 3; i++) {
		if (i == 0)
			cr_assert_eq(rfs_history_set_attribution(x.h, &alice, march), 0);
		if (i == 1)
			cr_assert_eq(rfs_history_set_attribution(x.h, &bob, february), 0);
		if (i == 2) {
			struct rfs_who me = { "jsmith", "Jane Smith", "laptop-7" };
			cr_assert_eq(rfs_history_set_attribution(x.h, &me, 0), 0);
		}
		fill(data, sizeof data, (unsigned)i + 40);
		cr_assert_eq(fx_write_file(&x, b, data, sizeof data, id, key, i == 0), 0);
		cr_assert_eq(fx_record(&x, i ? RFS_SAVE_SAVED : RFS_SAVE_CREATED, b, "/minutes.txt", id,
		                       sizeof data, NULL, 0), 0);
	}
	cr_assert_eq(rfs_history_flush(x.h), 0);
	struct who_seen w = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/minutes.txt", 0, who_cb, &w), 0);
	cr_assert_eq(w.n, 3);
	cr_assert_str_eq(w.login[0], "jsmith");
	cr_assert_str_eq(w.login[1], "bpatel");
	cr_assert_str_eq(w.login[2], "aturner");
	cr_assert_eq(w.time[1], february);
	cr_assert_eq(w.time[2], march);
	cr_assert(w.time[0] > march, "the real clock again after when = 0");
	cr_assert(w.seq[0] > w.seq[1] && w.seq[1] > w.seq[2], "seq must increase");
	cr_assert_eq(fx_sh("test \"$(git --git-dir=%s/history.git log -1 --format=%%ct %s)\" = %lld",
	                   x.dir, w.rev[1], (long long)february), 0, "git commit time is not the demo date");
	char at[41];
	cr_assert_eq(rfs_history_resolve(x.h, "2023-02-15", at), 0);
	cr_assert_str_eq(at, w.rev[1]);
	close_and_verify_clean(&x);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

static void sha1_hex(const void *data, size_t len, char hex[41])
{
	struct rfs_sha1 s;
	uint8_t d[20];
	rfs_sha1_init(&s);
	rfs_sha1_update(&s, data, len);
	rfs_sha1_final(&s, d);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The pack writer's SHA-1 (hardware or portable) against FIPS 180 vectors and sha1sum. */
Test(history, sha1_matches_known_vectors_and_sha1sum)
{
	char hex[41];
	sha1_hex("abc", 3, hex);
	cr_assert_str_eq(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	sha1_hex("", 0, hex);
	cr_assert_str_eq(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	size_t len = 1000000 + 37;             /* odd length: blocks, then a tail */
	uint8_t *buf = malloc(len);
	memset(buf, 'a', 1000000);
	sha1_hex(buf, 1000000, hex);
	cr_assert_str_eq(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	fill(buf, len, 11);
	struct rfs_sha1 s;                     /* fed in uneven pieces */
	rfs_sha1_init(&s);
	for (size_t off = 0, step = 1; off < len; off += step, step = step * 3 % 997 + 1)
		rfs_sha1_update(&s, buf + off, off + step > len ? len - off : step);
	uint8_t d[20];
	rfs_sha1_final(&s, d);
	char path[] = "/tmp/recfs-sha1-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
	close(fd);
	char cmd[128], want[41] = "";
	snprintf(cmd, sizeof cmd, "sha1sum %s", path);
	FILE *f = popen(cmd, "r");
	cr_assert(f && fscanf(f, "%40s", want) == 1);
	pclose(f);
	unlink(path);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	cr_assert_str_eq(hex, want);
	free(buf);
}

/* Seal only block i (the file's last) of live/<backing> over a header: the
** blocks before it are a hole. The plaintext size is i * block + n. */
static void write_sparse(struct fx *x, const char *backing, uint64_t i, const uint8_t *data,
                         size_t n, uint8_t id[16], uint8_t *key, int fresh)
{
	cr_assert_eq(fx_write_file(x, backing, NULL, 0, id, key, fresh), 0);
	struct rfs_header hd = { RFS_CONTENT_VERSION, RFS_HDR_NONEMPTY, { 0 } };
	memcpy(hd.file_id, id, 16);
	uint8_t hdr[RFS_HEADER_SIZE], slot[RFS_SLOT_SIZE];
	rfs_content_header_seal(hdr, &hd, key);
	rfs_content_block_seal(slot, data, n, i, true, id, key);
	int fd = openat(x->v->live_fd, backing, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
	cr_assert_eq(pwrite(fd, slot, n + RFS_BLOCK_OVERHEAD, (off_t)rfs_content_slot_offset(i)),
	             (ssize_t)(n + RFS_BLOCK_OVERHEAD));
	close(fd);
}

/* CPU seconds of this process (all threads): unlike wall time, another
** program's disk or CPU load does not move it. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

Test(history, sparse_file_save_costs_what_it_holds)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), tail[100];
	fill(tail, sizeof tail, 3);
	cr_assert_eq(fx_backing(&x, "sparse.img", b), 0);
	uint64_t last = (4ull << 30) / RFS_BLOCK_SIZE;      /* a 4 GiB hole, then 100 bytes */
	write_sparse(&x, b, last, tail, sizeof tail, id, key, 1);
	long before = fx_objects_bytes(x.dir);
	double t0 = cpu_s();
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/sparse.img", id,
	                       last * RFS_BLOCK_SIZE + sizeof tail, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	double took = cpu_s() - t0;
	long grew = fx_objects_bytes(x.dir) - before;
	/* Reading and hashing 4 GiB of zeros took 15 s of CPU under ASan. */
	cr_assert(took < 3.0, "saving a 4 GiB hole took %.1f s of CPU", took);
	cr_assert(grew < 4 * 1100000, "a 4 GiB hole added %ld bytes to history", grew);
	/* Every hole chunk is the one blob git itself gives a chunk of zero bytes. */
	cr_assert_eq(fx_sh("cd %s && test \"$(git --git-dir=history.git ls-tree -r HEAD:%s | awk '{print $3}' | "
	                   "sort | uniq -c | sort -n | tail -1 | awk '{print $2}')\" = "
	                   "\"$(head -c %llu /dev/zero | git hash-object --stdin)\"", x.dir, b,
	                   (unsigned long long)(RFS_SLOT_SIZE * x.v->conf.chunk_blocks)), 0,
	             "the hole chunks are not the zero blob");
	close_and_verify_clean(&x);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* n buffers of len bytes, each filled from its own seed. */
static void new_contents(uint8_t **data, int n, size_t len, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		data[i] = malloc(len);
		cr_assert(data[i]);
		fill(data[i], len, seed + (unsigned)i);
	}
}

/* Packs holding exactly n objects. */
static long packs_of(struct fx *x, int n)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "for i in %s/history.git/objects/pack/*.idx; do "
	         "git show-index < $i | wc -l; done | grep -cx %d", x->dir, n);
	return fx_sh_number(cmd);
}

/* A save of many chunks goes into a pack of its own, written as it is read
** (the stage would hold it all in memory); every version still reads back. */
Test(history, a_big_save_streams_into_its_own_pack, .timeout = 120)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint64_t per = x.v->conf.chunk_blocks;
	size_t len = 3072 * RFS_BLOCK_SIZE - 100;       /* 12 MiB: past the streaming size */
	int nch = (int)((3072 + per - 1) / per);
	uint8_t id[16], *key = rfs_secmem_key_alloc(), *data[2], *out = malloc(len + 1);
	new_contents(data, 2, len, 70);
	cr_assert_eq(fx_backing(&x, "big.bin", b), 0);
	cr_assert_eq(fx_write_file(&x, b, data[0], len, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/big.bin", id, len, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	cr_assert_eq(packs_of(&x, nch), 1, "the %d chunks are not one pack of their own", nch);
	/* Rewritten whole, with the written ranges the daemon would give. */
	cr_assert_eq(fx_write_file(&x, b, data[1], len, id, key, 0), 0);
	struct rfs_range r = { 0, (len + RFS_BLOCK_SIZE - 1) / RFS_BLOCK_SIZE };
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/big.bin", id, len, &r, 1), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	cr_assert_eq(packs_of(&x, nch), 2, "the second save is not a pack of its own");
	struct count c = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/big.bin", 0, count_cb, &c), 0);
	cr_assert_eq(c.n, 2);
	for (int i = 0; i < 2; i++) {            /* revs are newest first */
		cr_assert_eq(fx_show(&x, c.revs[1 - i], "/big.bin", out, len + 1), (long)len);
		cr_assert(!memcmp(out, data[i], len), "version %d differs", i);
	}
	close_and_verify_clean(&x);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git fsck --strict --no-progress", x.dir), 0);
	for (int i = 0; i < 2; i++)
		free(data[i]);
	free(out);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

Test(history, empty_file_grown_past_one_chunk_by_one_block)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint8_t id[16], *key = rfs_secmem_key_alloc(), blk[RFS_BLOCK_SIZE];
	fill(blk, sizeof blk, 4);
	cr_assert_eq(fx_backing(&x, "grown.bin", b), 0);
	cr_assert_eq(fx_write_file(&x, b, NULL, 0, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/grown.bin", id, 0, NULL, 0), 0);
	/* The daemon marks only the block written: the empty file had no last block. */
	uint64_t i = 1000;                      /* chunk 3 */
	write_sparse(&x, b, i, blk, sizeof blk, id, key, 0);
	struct rfs_range r = { i, 1 };
	uint64_t size = (i + 1) * RFS_BLOCK_SIZE;
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/grown.bin", id, size, &r, 1), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	uint8_t *out = malloc(size + 1), *want = calloc(1, size);
	memcpy(want + i * RFS_BLOCK_SIZE, blk, sizeof blk);
	cr_assert_eq(fx_show(&x, "HEAD", "/grown.bin", out, size + 1), (long)size);
	cr_assert(!memcmp(out, want, size), "the grown file's version differs from what was saved");
	free(out);
	free(want);
	close_and_verify_clean(&x);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

static int oldest_cb(const struct rfs_version *v, void *arg)
{
	struct rfs_version *o = arg;
	*o = *v;                                /* newest first: the last call is the oldest */
	o->path = !strcmp(v->path, "/") ? "/" : "other";
	return 0;
}

Test(history, a_new_vaults_first_commit_is_the_root_created)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	struct rfs_version o = { .kind = 0 };
	cr_assert_eq(rfs_history_log(x.h, NULL, 0, oldest_cb, &o), 0);
	cr_assert_eq(o.seq, 1);
	cr_assert_str_eq(o.path, "/");
	cr_assert_eq(o.kind, RFS_SAVE_CREATED, "first commit is '%s'", rfs_save_kind_name(o.kind));
	cr_assert_eq(o.type, RFS_OBJ_DIR);
	fx_free(&x);
}

/* A big save is read by the committer, not by rfs_history_record: the
** file is captured before it is overwritten (rfs_history_before_write) or
** read through the kept fd when it is replaced by a rename. */
Test(history, big_saves_are_captured_later_but_keep_their_bytes, .timeout = 120)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256], c[256], tmp[256];
	size_t len = 3u << 20;                 /* 3 MiB: four chunks */
	uint64_t nblocks = (len + RFS_BLOCK_SIZE - 1) / RFS_BLOCK_SIZE;
	uint8_t id[16], id2[16], *key = rfs_secmem_key_alloc(), *key2 = rfs_secmem_key_alloc(), *data[4];
	new_contents(data, 4, len, 40);
	cr_assert_eq(fx_backing(&x, "big.bin", b), 0);
	cr_assert_eq(fx_write_file(&x, b, data[0], len, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/big.bin", id, len, NULL, 0), 0);
	/* Save 2: every block written. With the repository lock held here the
	** committer cannot capture it: record returns without reading it. */
	cr_assert_eq(fx_write_file(&x, b, data[1], len, id, key, 0), 0);
	struct rfs_range r = { 0, nblocks };
	pthread_mutex_lock(&x.h->git_lock);
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/big.bin", id, len, &r, 1), 0);
	cr_assert_eq(__atomic_load_n(&x.h->n_deferred, __ATOMIC_ACQUIRE), 1u, "the big save was not deferred");
	pthread_mutex_unlock(&x.h->git_lock);
	/* Overwritten in place: captured first. */
	rfs_history_before_write(x.h, id, 0);
	cr_assert_eq(__atomic_load_n(&x.h->n_deferred, __ATOMIC_ACQUIRE), 0u);
	cr_assert_eq(fx_write_file(&x, b, data[2], len, id, key, 0), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/big.bin", id, len, NULL, 0), 0);
	rfs_history_before_write(x.h, id2, 0);    /* another file: nothing to do */
	/* Another file saved big, then replaced by a rename (no before_write needed). */
	cr_assert_eq(fx_backing(&x, "other.bin", c), 0);
	cr_assert_eq(fx_backing(&x, "other.tmp", tmp), 0);
	cr_assert_eq(fx_write_file(&x, c, data[3], len, id2, key2, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, c, "/other.bin", id2, len, NULL, 0), 0);
	cr_assert_eq(fx_write_file(&x, tmp, data[0], len, id2, key2, 0), 0);
	cr_assert_eq(renameat(x.v->live_fd, tmp, x.v->live_fd, c), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, c, "/other.bin", id2, len, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	cr_assert_eq(__atomic_load_n(&x.h->n_deferred, __ATOMIC_ACQUIRE), 0u);

	struct count cb = { 0 }, cc = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/big.bin", 0, count_cb, &cb), 0);
	cr_assert_eq(cb.n, 3, "3 saves must give 3 versions, got %d", cb.n);
	cr_assert_eq(rfs_history_log(x.h, "/other.bin", 0, count_cb, &cc), 0);
	cr_assert_eq(cc.n, 2, "2 saves must give 2 versions, got %d", cc.n);
	uint8_t *out = malloc(len + 1);
	for (int i = 0; i < 3; i++) {          /* revs are newest first */
		cr_assert_eq(fx_show(&x, cb.revs[2 - i], "/big.bin", out, len + 1), (long)len);
		cr_assert(!memcmp(out, data[i], len), "version %d of big.bin differs from its save", i);
	}
	cr_assert_eq(fx_show(&x, cc.revs[1], "/other.bin", out, len + 1), (long)len);
	cr_assert(!memcmp(out, data[3], len), "the first version of other.bin differs from its save");
	cr_assert_eq(fx_show(&x, cc.revs[0], "/other.bin", out, len + 1), (long)len);
	cr_assert(!memcmp(out, data[0], len), "the second version of other.bin differs from its save");
	free(out);
	for (int i = 0; i < 4; i++)
		free(data[i]);
	close_and_verify_clean(&x);
	rfs_secmem_key_free(key);
	rfs_secmem_key_free(key2);
	fx_free(&x);
}

/* ---- history format 2: chunk trees of several levels ---- */

/* Seal full block i of live/<backing> from model (final: the file's last). */
static void put_block(struct fx *x, const char *backing, uint64_t i, const uint8_t *model, bool final,
                      const uint8_t id[16], const uint8_t *key)
{
	uint8_t slot[RFS_SLOT_SIZE];
	rfs_content_block_seal(slot, model + i * RFS_BLOCK_SIZE, RFS_BLOCK_SIZE, i, final, id, key);
	int fd = openat(x->v->live_fd, backing, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, slot, sizeof slot, (off_t)rfs_content_slot_offset(i)), (ssize_t)sizeof slot);
	close(fd);
}

static int truncate_at(struct fx *x, const char *backing, uint64_t size)
{
	int fd = openat(x->v->live_fd, backing, O_WRONLY);
	int rc = fd >= 0 && ftruncate(fd, (off_t)size) == 0 ? 0 : -EIO;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* live/<backing> cut to blocks [0, nb), block nb - 1 sealed as the last. */
static void cut_to(struct fx *x, const char *backing, uint64_t nb, const uint8_t *model,
                   const uint8_t id[16], const uint8_t *key)
{
	cr_assert_eq(truncate_at(x, backing, rfs_content_slot_offset(nb)), 0);
	put_block(x, backing, nb - 1, model, true, id, key);
}

/* The newest version of path reads back as the model's first nb blocks. */
static void expect_version(struct fx *x, const char *path, const uint8_t *model, uint64_t nb, const char *what)
{
	size_t len = nb * RFS_BLOCK_SIZE;
	uint8_t *out = malloc(len + 1);
	cr_assert_eq(fx_show(x, "HEAD", path, out, len + 1), (long)len, "%s: wrong size", what);
	cr_assert(!memcmp(out, model, len), "%s: the version differs from what was saved", what);
	free(out);
}

/* The type of HEAD:<backing>/<sub> in git ("blob", "tree", or "" when missing). */
static bool git_type_is(struct fx *x, const char *backing, const char *sub, const char *type)
{
	return fx_sh("test \"$(git --git-dir=%s/history.git cat-file -t HEAD:%s%s 2>/dev/null)\" = '%s'",
	             x->dir, backing, sub, type) == 0;
}

/* A file grows from one level of chunk tree to three, is written in the
** middle, and shrinks back to two levels and to one blob; every version
** reads back as saved, holes stay holes, and git fsck --strict passes. */
Test(history, chunk_trees_grow_and_shrink_across_levels, .timeout = 120)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint64_t per = x.v->conf.chunk_blocks, maxb = 4100 * per + 1;
	uint8_t id[16], *key = rfs_secmem_key_alloc(), *model = calloc(maxb, RFS_BLOCK_SIZE);
	cr_assert_eq(per, 15, "new vaults must have 15-block chunks");
	cr_assert_eq(fx_backing(&x, "grows.db", b), 0);
	/* v1: 40 blocks, three chunks (a small save read whole). */
	fill(model, 40 * RFS_BLOCK_SIZE, 11);
	cr_assert_eq(fx_write_file(&x, b, model, 40 * RFS_BLOCK_SIZE, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/grows.db", id, 40 * RFS_BLOCK_SIZE, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	expect_version(&x, "/grows.db", model, 40, "three chunks");
	cr_assert(git_type_is(&x, b, "/02", "blob"), "a file of three chunks is not one leaf tree");
	/* v2: one block at chunk 100: two levels, a hole in between. */
	uint64_t last = 40 - 1, nb;
	struct steps { uint64_t block; const char *what, *probe, *type; } grow[] = {
		{ 100 * per + 3, "grown to two levels", "/01/24", "blob" },
		{ 4100 * per, "grown to three levels", "/01/00/04", "blob" },
	};
	for (size_t g = 0; g < 2; g++) {
		uint64_t blk = grow[g].block;
		put_block(&x, b, last, model, false, id, key);   /* the old last block is last no more */
		fill(model + blk * RFS_BLOCK_SIZE, RFS_BLOCK_SIZE, 20 + (unsigned)g);
		put_block(&x, b, blk, model, true, id, key);
		struct rfs_range r[2] = { { last, 1 }, { blk, 1 } };
		nb = blk + 1;
		cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/grows.db", id, nb * RFS_BLOCK_SIZE, r, 2), 0);
		cr_assert_eq(rfs_history_flush(x.h), 0);
		expect_version(&x, "/grows.db", model, nb, grow[g].what);
		cr_assert(git_type_is(&x, b, grow[g].probe, grow[g].type), "%s: no %s at %s", grow[g].what,
		          grow[g].type, grow[g].probe);
		last = blk;
		if (g == 0) {                         /* a write in the middle, at chunk 46 */
			long before = fx_objects_bytes(x.dir);
			fill(model + 700 * RFS_BLOCK_SIZE, RFS_BLOCK_SIZE, 30);
			put_block(&x, b, 700, model, false, id, key);
			struct rfs_range m = { 700, 1 };
			cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/grows.db", id, nb * RFS_BLOCK_SIZE, &m, 1), 0);
			cr_assert_eq(rfs_history_flush(x.h), 0);
			expect_version(&x, "/grows.db", model, nb, "written in the middle");
			long grew = fx_objects_bytes(x.dir) - before;
			cr_assert(grew < 62100 + 24 * 1024, "a one-block write in the middle added %ld bytes", grew);
		}
	}
	/* v5: cut to 1200 blocks (chunk 80): two levels again. */
	nb = 1200;
	memset(model + nb * RFS_BLOCK_SIZE, 0, (maxb - nb) * RFS_BLOCK_SIZE);
	cut_to(&x, b, nb, model, id, key);
	struct rfs_range c1 = { nb - 1, 1 };
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/grows.db", id, nb * RFS_BLOCK_SIZE, &c1, 1), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	expect_version(&x, "/grows.db", model, nb, "cut to two levels");
	cr_assert(git_type_is(&x, b, "/01/0f", "blob"), "cut to 1200 blocks: not two levels");
	/* v6: cut to 10 blocks: one chunk, one blob. */
	nb = 10;
	memset(model + nb * RFS_BLOCK_SIZE, 0, 1200 * RFS_BLOCK_SIZE - nb * RFS_BLOCK_SIZE);
	cut_to(&x, b, nb, model, id, key);
	struct rfs_range c2 = { nb - 1, 1 };
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/grows.db", id, nb * RFS_BLOCK_SIZE, &c2, 1), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	expect_version(&x, "/grows.db", model, nb, "cut to one chunk");
	cr_assert(git_type_is(&x, b, "", "blob"), "a file of one chunk is not a blob");
	struct count cnt = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/grows.db", 0, count_cb, &cnt), 0);
	cr_assert_eq(cnt.n, 6);
	close_and_verify_clean(&x);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git fsck --strict --no-progress", x.dir), 0);
	free(model);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* Item 8: a 4 KiB save into a 1 GiB file adds at most 64 KiB of blobs plus
** the trees on its path (was a whole 1 MiB chunk, and the last chunk too). */
Test(history, a_4k_save_into_a_1gib_file_adds_at_most_64k_plus_its_trees, .timeout = 120)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	uint64_t nb = (1ull << 30) / RFS_BLOCK_SIZE;
	uint8_t id[16], *key = rfs_secmem_key_alloc(), blk[RFS_BLOCK_SIZE];
	fill(blk, sizeof blk, 5);
	cr_assert_eq(fx_backing(&x, "mailbox.pst", b), 0);
	write_sparse(&x, b, nb - 1, blk, sizeof blk, id, key, 1);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/mailbox.pst", id, nb * RFS_BLOCK_SIZE, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	long before = fx_objects_bytes(x.dir);
	fill(blk, sizeof blk, 6);
	cr_assert_eq(fx_write_block(&x, b, nb / 2, blk, id, key), 0);
	struct rfs_range r = { nb / 2, 1 };
	cr_assert_eq(fx_record(&x, RFS_SAVE_SAVED, b, "/mailbox.pst", id, nb * RFS_BLOCK_SIZE, &r, 1), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	long grew = fx_objects_bytes(x.dir) - before;
	/* The chunk (62,040 bytes), three chunk trees of at most 64 entries,
	** the root tree, the commit, and the pack's and index's framing. */
	cr_assert(grew <= 64 * 1024 + 12 * 1024, "a 4 KiB save into a 1 GiB file added %ld bytes", grew);
	cr_assert_eq(fx_sh("test $(git --git-dir=%s/history.git cat-file -s HEAD:%s/00) -lt 4096", x.dir, b), 0,
	             "a chunk tree node of a 1 GiB file is not a few KiB");
	fx_close_history(&x);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git fsck --strict --no-progress", x.dir), 0);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* A chunked file of history format 1 is refused, not misread. */
Test(history, a_format1_chunk_tree_is_refused_clearly)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b[256];
	size_t len = 100 * RFS_BLOCK_SIZE;
	uint8_t id[16], *key = rfs_secmem_key_alloc(), *data = malloc(len);
	fill(data, len, 8);
	cr_assert_eq(fx_backing(&x, "old.bin", b), 0);
	cr_assert_eq(fx_write_file(&x, b, data, len, id, key, 1), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b, "/old.bin", id, len, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	/* The same chunks under a format-1 marker, committed as the next version. */
	pthread_mutex_lock(&x.h->git_lock);
	git_commit *c = NULL;
	git_tree *root = NULL;
	git_tree_entry *e = NULL;
	git_treebuilder *tb = NULL, *rb = NULL;
	git_oid mk, ft, rt, out;
	cr_assert_eq(git_commit_lookup(&c, x.h->repo, &x.h->head), 0);
	cr_assert_eq(git_commit_tree(&root, c), 0);
	cr_assert_eq(git_tree_entry_bypath(&e, root, b), 0);
	git_tree *ftree = NULL;
	cr_assert_eq(git_tree_lookup(&ftree, x.h->repo, git_tree_entry_id(e)), 0);
	cr_assert_eq(git_treebuilder_new(&tb, x.h->repo, NULL), 0);
	cr_assert_eq(git_blob_create_from_buffer(&mk, x.h->repo, RFS_CHUNK_MARKER_TEXT_V1,
	                                         sizeof RFS_CHUNK_MARKER_TEXT_V1 - 1), 0);
	cr_assert_eq(git_treebuilder_insert(NULL, tb, RFS_CHUNK_MARKER, &mk, GIT_FILEMODE_BLOB), 0);
	for (size_t i = 0; i < git_tree_entrycount(ftree); i++) {
		const git_tree_entry *ce = git_tree_entry_byindex(ftree, i);
		char name[16];
		if (git_tree_entry_name(ce)[0] == '.')
			continue;
		snprintf(name, sizeof name, "%08x", (unsigned)i - 1);
		cr_assert_eq(git_treebuilder_insert(NULL, tb, name, git_tree_entry_id(ce), GIT_FILEMODE_BLOB), 0);
	}
	cr_assert_eq(git_treebuilder_write(&ft, tb), 0);
	cr_assert_eq(git_treebuilder_new(&rb, x.h->repo, root), 0);
	cr_assert_eq(git_treebuilder_insert(NULL, rb, b, &ft, GIT_FILEMODE_TREE), 0);
	cr_assert_eq(git_treebuilder_write(&rt, rb), 0);
	struct rfs_event ev = { .kind = RFS_SAVE_SAVED, .type = RFS_OBJ_FILE, .path = "/old.bin",
	                        .path_old = "", .restored_from = "", .property = "", .size = len };
	memcpy(ev.file_id, id, 16);
	cr_assert_eq(rfs_commit_create(x.h, &rt, &ev, 1, NULL, &out), 0);
	free(ev.spath.p);                 /* format 3 sealed its path into the event */
	free(ev.spath_old.p);
	cr_assert_eq(rfs_commit_publish(x.h), 0);
	git_treebuilder_free(tb);
	git_treebuilder_free(rb);
	git_tree_free(ftree);
	git_tree_entry_free(e);
	git_tree_free(root);
	git_commit_free(c);
	pthread_mutex_unlock(&x.h->git_lock);
	uint8_t *buf = malloc(len + 1);
	cr_assert_eq(fx_show(&x, "HEAD", "/old.bin", buf, len + 1), -EPROTONOSUPPORT,
	             "a format-1 chunk tree was not refused with EPROTONOSUPPORT");
	free(buf);
	free(data);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* For the archive: a folder's tree at a revision, and a version's plaintext to a callback. */
struct gather { uint8_t buf[20000]; size_t len; size_t calls, biggest; };

static int gather_put(void *arg, const void *p, size_t n)
{
	struct gather *g = arg;
	if (g->len + n > sizeof g->buf)
		return -ENOSPC;
	memcpy(g->buf + g->len, p, n);
	g->len += n;
	g->calls++;
	g->biggest = n > g->biggest ? n : g->biggest;
	return 0;
}

Test(history, list_a_folder_at_a_revision_and_read_a_version_to_a_callback)
{
	struct fx x;
	cr_assert_eq(fx_new(&x), 0);
	char b1[256], b2[256];
	uint8_t id1[16], id2[16], *key = rfs_secmem_key_alloc(), one[9000], two[100];
	fill(one, sizeof one, 5);
	fill(two, sizeof two, 6);
	cr_assert_eq(fx_backing(&x, "b.txt", b1), 0);
	cr_assert_eq(fx_backing(&x, "a é.txt", b2), 0);
	cr_assert_eq(fx_write_file(&x, b1, one, sizeof one, id1, key, true), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b1, "/b.txt", id1, sizeof one, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	char first[RFS_REV_HEX + 1];
	cr_assert_eq(rfs_history_resolve(x.h, "HEAD", first), 0);
	cr_assert_eq(fx_write_file(&x, b2, two, sizeof two, id2, key, true), 0);
	cr_assert_eq(fx_record(&x, RFS_SAVE_CREATED, b2, "/a é.txt", id2, sizeof two, NULL, 0), 0);
	cr_assert_eq(rfs_history_flush(x.h), 0);

	struct rfs_history_listing l;
	cr_assert_eq(rfs_history_list(x.h, "HEAD", "/", &l), 0);
	cr_assert_eq(l.count, 2);
	cr_assert_str_eq(l.entries[0].path, "a é.txt", "sorted by clear name");
	cr_assert_str_eq(l.entries[1].path, "b.txt");
	cr_assert_eq(l.entries[1].type, RFS_OBJ_FILE);
	cr_assert_eq(l.entries[1].size, sizeof one);
	cr_assert(!memcmp(l.entries[1].file_id, id1, 16), "the header's file id");
	cr_assert_eq(strlen(l.entries[1].oid), 40);
	char oid[41];
	snprintf(oid, sizeof oid, "%s", l.entries[1].oid);
	rfs_history_listing_free(&l);
	cr_assert_eq(rfs_history_list(x.h, first, "/", &l), 0);
	cr_assert_eq(l.count, 1, "the first commit has b.txt only");
	cr_assert_str_eq(l.entries[0].oid, oid, "unchanged bytes keep their entry id");
	rfs_history_listing_free(&l);
	cr_assert_eq(rfs_history_list(x.h, "HEAD", "/missing", &l), -ENOENT);
	cr_assert_eq(rfs_history_list(x.h, "HEAD", "/b.txt", &l), -ENOTDIR);

	struct gather *g = calloc(1, sizeof *g);
	cr_assert_eq(rfs_history_read_plain(x.h, first, "/b.txt", gather_put, g), 0);
	cr_assert_eq(g->len, sizeof one);
	cr_assert(!memcmp(g->buf, one, sizeof one));
	cr_assert(g->calls > 1 && g->biggest <= RFS_BLOCK_SIZE, "a block at a time, not the file");
	cr_assert_eq(rfs_history_read_plain(x.h, first, "/a é.txt", gather_put, g), -ENOENT);
	free(g);
	rfs_secmem_key_free(key);
	fx_free(&x);
}

/* Versions of a tree of 100 entries, one entry's id changed in each: the pack
** writer packs them as deltas (git verify-pack says so, depth at most 50), and
** libgit2, git and the pack reader of verify and gc all read every version,
** before and after a merge of packs; a damaged delta is refused by the reader. */
#define TV_ENTRIES 100
#define TV_VERSIONS 120

struct tree_versions {
	uint8_t t[TV_VERSIONS][TV_ENTRIES * 80];
	size_t len;
	git_oid oid[TV_VERSIONS];
	size_t from;                       /* the source gives versions from..from+n */
};

static void tree_versions_make(struct tree_versions *tv)
{
	size_t n = 0;
	for (int e = 0; e < TV_ENTRIES; e++) {
		n += (size_t)sprintf((char *)tv->t[0] + n, "100644 sealed-name-of-entry-%03d-abcdefghijklmnop", e) + 1;
		for (int k = 0; k < 20; k++)
			tv->t[0][n++] = (uint8_t)(e * 7 + k);
	}
	tv->len = n;
	for (int v = 1; v < TV_VERSIONS; v++) {
		memcpy(tv->t[v], tv->t[v - 1], n);
		size_t at = (size_t)(v * 37 % TV_ENTRIES) * (n / TV_ENTRIES) + (n / TV_ENTRIES) - 20;
		tv->t[v][at] = (uint8_t)v;            /* one entry's id */
		tv->t[v][at + 1] ^= 0x5a;
	}
	for (int v = 0; v < TV_VERSIONS; v++)
		rfs_sha1_object_id(&tv->oid[v], GIT_OBJECT_TREE, tv->t[v], n);
}

static int tree_versions_source(void *arg, size_t i, struct rfs_pack_obj *obj)
{
	struct tree_versions *tv = arg;
	*obj = (struct rfs_pack_obj){ .oid = tv->oid[tv->from + i], .type = GIT_OBJECT_TREE,
	                              .data = tv->t[tv->from + i], .len = tv->len };
	return 0;
}

static void tree_versions_read_all(struct rfs_packs *p, git_odb *odb, const struct tree_versions *tv)
{
	struct rfs_pack_reader *r = NULL;
	struct rfs_pack_buf buf = { 0 };
	cr_assert_eq(rfs_pack_reader_open(p, &r), 0);
	for (int v = TV_VERSIONS - 1; v >= 0; v--) {
		git_object_t type;
		cr_assert_eq(rfs_pack_reader_read(r, &tv->oid[v], &type, &buf), 0, "the reader, version %d", v);
		cr_assert(type == GIT_OBJECT_TREE && buf.len == tv->len && !memcmp(buf.p, tv->t[v], tv->len),
		          "the reader gave other bytes for version %d", v);
		git_odb_object *o = NULL;
		cr_assert_eq(git_odb_read(&o, odb, &tv->oid[v]), 0, "libgit2, version %d", v);
		cr_assert(git_odb_object_size(o) == tv->len && !memcmp(git_odb_object_data(o), tv->t[v], tv->len));
		git_odb_object_free(o);
	}
	free(buf.p);
	rfs_pack_reader_close(r);
}

/* A bare repository in a new temporary folder (dir: its mkdtemp template),
** objects its objects folder, an object database with our pack backend on it. */
static void bare_packs(char *dir, char objects[100], git_odb **odb, struct rfs_packs **p)
{
	cr_assert(mkdtemp(dir));
	snprintf(objects, 100, "%s/objects", dir);
	cr_assert_eq(fx_sh("git init -q --bare %s", dir), 0);
	cr_assert_eq(git_odb_new(odb), 0);
	cr_assert_eq(rfs_pack_attach(*odb, objects, p), 0);
}

Test(history, tree_versions_are_packed_as_deltas_and_read_back)
{
	static struct tree_versions tv;
	tree_versions_make(&tv);
	char dir[] = "/tmp/recfs-tv-XXXXXX", objects[100];
	git_odb *odb = NULL;
	struct rfs_packs *p = NULL;
	bare_packs(dir, objects, &odb, &p);
	for (int k = 0; k < 3; k++) {        /* three packs, for the merge below */
		tv.from = (size_t)k * (TV_VERSIONS / 3);
		cr_assert_eq(rfs_pack_write(p, TV_VERSIONS / 3, tree_versions_source, &tv, NULL), 0);
	}
	char cmd[400];
	snprintf(cmd, sizeof cmd, "for i in %s/pack/*.idx; do git verify-pack -v $i; done | "
	         "awk '$2 == \"tree\" && NF == 7 { n++; if ($6 > d) d = $6 } END { print n * 100 + d }'",
	         objects);
	long nd = fx_sh_number(cmd);
	cr_assert(nd / 100 >= TV_VERSIONS - 4, "%ld trees of %d packed as deltas", nd / 100, TV_VERSIONS);
	cr_assert(nd % 100 <= 50, "a delta chain of %ld", nd % 100);
	tree_versions_read_all(p, odb, &tv);

	/* Merged into one pack: the deltas are made again against bases in it. */
	cr_assert_eq(rfs_pack_consolidate(p, 2, UINT64_MAX, UINT64_MAX, no_relock, NULL), 0);
	cr_assert_eq(rfs_pack_count(p), 1, "the three packs were not merged");
	tree_versions_read_all(p, odb, &tv);
	cr_assert_eq(fx_sh("git verify-pack %s/pack/*.idx", objects), 0);

	/* One byte of the deepest delta changed: the reader refuses that version. */
	snprintf(cmd, sizeof cmd, "git verify-pack -v %s/pack/*.idx | awk '$2 == \"tree\" && NF == 7 && "
	         "$6 > d { d = $6; at = $5 + $4 - 6; id = $1 } END { print at, id }'", objects);
	FILE *vp = popen(cmd, "r");
	long at = -1;
	char hex[41] = "";
	cr_assert(vp && fscanf(vp, "%ld %40s", &at, hex) == 2);
	pclose(vp);
	git_oid damaged;
	cr_assert(at > 0 && git_oid_fromstr(&damaged, hex) == 0);
	flip_pack_byte(objects, "", "", at, 0x01);
	struct rfs_pack_reader *r = NULL;
	struct rfs_pack_buf buf = { 0 };
	git_object_t type;
	cr_assert_eq(rfs_pack_reader_open(p, &r), 0);
	cr_assert_lt(rfs_pack_reader_read(r, &damaged, &type, &buf), 0,
	             "the reader gave a version whose delta was damaged");
	free(buf.p);
	rfs_pack_reader_close(r);
	git_odb_free(odb);
	fx_sh("rm -rf %s", dir);
}

/* Blobs of odd lengths (an Adler-32's and a CRC-32's tail bytes, one byte
** either side of a stored block) in one pack, and a spool of segments small
** enough (RECFS_TEST_SPOOL_SEGMENT) that 9 blobs make 5 packs, the last one
** partial: git verify-pack (zlib's inflate checks each Adler-32, index-pack
** each CRC-32 of the .idx) passes on every pack, libgit2 reads every blob,
** and a spool closed unkept leaves no file behind. */
Test(history, odd_lengths_and_spool_segments_pass_git_verify_pack)
{
	static const size_t odd[] = { 1, 3, 7, 15, 65535, 65536, 65537, 131071, 200003 };
	enum { NODD = sizeof odd / sizeof odd[0], NSPOOL = 9 };
	static uint8_t data[NODD + NSPOOL][200003];
	git_oid oid[NODD + NSPOOL];
	size_t len[NODD + NSPOOL];
	for (size_t i = 0; i < NODD + NSPOOL; i++) {
		len[i] = i < NODD ? odd[i] : 100001 + 2 * (i - NODD);
		fill(data[i], len[i], (unsigned)i + 11);
		rfs_sha1_object_id(&oid[i], GIT_OBJECT_BLOB, data[i], len[i]);
	}
	char dir[] = "/tmp/recfs-odd-XXXXXX", objects[100];
	git_odb *odb = NULL;
	struct rfs_packs *p = NULL;
	bare_packs(dir, objects, &odb, &p);

	struct rfs_pack_stream *s = NULL;
	cr_assert_eq(rfs_pack_stream_open(p, NODD, &s), 0);
	for (size_t i = 0; i < NODD; i++)
		cr_assert_eq(rfs_pack_stream_put(s, &oid[i], GIT_OBJECT_BLOB, data[i], len[i]), 0);
	cr_assert_eq(rfs_pack_stream_close(s, true), 0);

	setenv("RECFS_TEST_SPOOL_SEGMENT", "300000", 1);     /* two blobs of 100 KB a segment */
	cr_assert_eq(rfs_pack_spool_open(p, &s), 0);
	for (size_t i = NODD; i < NODD + NSPOOL; i++)
		cr_assert_eq(rfs_pack_spool_put(s, &oid[i], GIT_OBJECT_BLOB, data[i], len[i]), 0);
	cr_assert_eq(rfs_pack_spool_count(s), NSPOOL);
	git_oid back[NSPOOL];
	rfs_pack_spool_oids(s, back, NSPOOL);
	for (size_t i = 0; i < NSPOOL; i++)
		cr_assert(git_oid_equal(&back[i], &oid[NODD + i]), "the spool's id %zu is not the one put", i);
	cr_assert_eq(fx_sh("test $(ls %s/pack | grep -c '^pack-') -eq 2", objects), 0,
	             "a segment was moved into place before the close");
	cr_assert_eq(rfs_pack_stream_close(s, true), 0);
	cr_assert_eq(rfs_pack_count(p), 1 + (NSPOOL + 1) / 2, "the spool is not %d segments", (NSPOOL + 1) / 2);

	cr_assert_eq(rfs_pack_spool_open(p, &s), 0);            /* unkept: every segment goes */
	for (size_t i = NODD; i < NODD + NSPOOL; i++)
		cr_assert_eq(rfs_pack_spool_put(s, &oid[i], GIT_OBJECT_BLOB, data[i], len[i]), 0);
	cr_assert_eq(rfs_pack_stream_close(s, false), 0);
	unsetenv("RECFS_TEST_SPOOL_SEGMENT");
	cr_assert_eq(fx_sh("! ls %s/pack | grep -q '^tmp_'", objects), 0, "an unkept spool left files");
	cr_assert_eq(rfs_pack_count(p), 1 + (NSPOOL + 1) / 2);

	cr_assert_eq(fx_sh("for i in %s/pack/*.idx; do git verify-pack $i || exit 1; done", objects), 0);
	for (size_t i = 0; i < NODD + NSPOOL; i++) {
		git_odb_object *o = NULL;
		cr_assert_eq(git_odb_read(&o, odb, &oid[i]), 0, "libgit2 cannot read blob %zu", i);
		cr_assert(git_odb_object_size(o) == len[i] && !memcmp(git_odb_object_data(o), data[i], len[i]));
		git_odb_object_free(o);
	}
	git_odb_free(odb);
	fx_sh("rm -rf %s", dir);
}

/* Only packs under the small size start a merge: 14 packs of 100 KB beside 3
** tiny ones (a big file's segments beside a few saves) are left as they are;
** 13 tiny ones are merged into one, and the big ones stay out of that merge,
** far under half their size. */
struct one_blob {
	const uint8_t *data;
	size_t len;
	git_oid oid;
};

static int one_blob_source(void *arg, size_t i, struct rfs_pack_obj *obj)
{
	struct one_blob *b = arg;
	(void)i;
	*obj = (struct rfs_pack_obj){ .oid = b->oid, .type = GIT_OBJECT_BLOB, .data = b->data, .len = b->len };
	return 0;
}

static void write_one_blob(struct rfs_packs *p, uint8_t *buf, size_t len, unsigned seed)
{
	fill(buf, len, seed);
	struct one_blob b = { buf, len, { { 0 } } };
	rfs_sha1_object_id(&b.oid, GIT_OBJECT_BLOB, buf, len);
	cr_assert_eq(rfs_pack_write(p, 1, one_blob_source, &b, NULL), 0);
}

Test(history, packs_over_the_small_size_start_no_merge)
{
	static uint8_t buf[100000];
	char dir[] = "/tmp/recfs-small-XXXXXX", objects[100];
	git_odb *odb = NULL;
	struct rfs_packs *p = NULL;
	bare_packs(dir, objects, &odb, &p);
	for (unsigned i = 0; i < 14; i++)
		write_one_blob(p, buf, sizeof buf, 100 + i);
	for (unsigned i = 0; i < 3; i++)
		write_one_blob(p, buf, 100, 200 + i);
	cr_assert_eq(rfs_pack_consolidate(p, 12, 50000, UINT64_MAX, no_relock, NULL), 0);
	cr_assert_eq(rfs_pack_count(p), 17, "packs over the small size started a merge");
	for (unsigned i = 0; i < 10; i++)
		write_one_blob(p, buf, 100, 300 + i);
	cr_assert_eq(rfs_pack_consolidate(p, 12, 50000, UINT64_MAX, no_relock, NULL), 0);
	cr_assert_eq(rfs_pack_count(p), 14 + 1, "the 13 small packs were not merged into one");
	cr_assert_eq(fx_sh("test $(find %s/pack -name '*.pack' -size +90k | wc -l) -eq 14", objects), 0,
	             "a pack of 100 KB was merged with the small ones");
	cr_assert_eq(fx_sh("for i in %s/pack/*.idx; do git verify-pack $i || exit 1; done", objects), 0);
	git_odb_free(odb);
	fx_sh("rm -rf %s", dir);
}
