/*
** test_xattrs: the user.* attributes of each version in history (fs/history/xattrs.c): kept
** per version, opened only for their own file, refused when a byte is flipped or the blob is
** put beside another file, and put back on a file sealed for it.
** Real vaults (fixture.h), real sealing, real git. Must never: leave a vault outside /tmp.
*/
#include <criterion/criterion.h>
#include <sys/xattr.h>

#include "fs/history/internal.h"
#include "tests/history/fixture.h"

static char live_path[512];

static const char *live_of(struct fx *x, const char *backing)
{
	snprintf(live_path, sizeof live_path, "%s/live/%s", x->dir, backing);
	return live_path;
}

/* user.NAME = VALUE on live/<backing>, sealed as the daemon seals it (FORMAT.md 7). */
static void set_attr(struct fx *x, const char *backing, const uint8_t id[16], const char *name,
                     const char *value)
{
	uint8_t dirid[16], ct[256];
	const struct rfs_folder_keys *fk;
	char bname[300] = "user.";
	cr_assert_eq(fx_root_dirid(x, dirid), 0);
	cr_assert_eq(rfs_vault_folder_keys_get(x->v, dirid, &fk), 0);
	cr_assert_gt(rfs_name_xattr_seal(bname + 5, sizeof bname - 5, name, &fk->entries), 0);
	cr_assert_eq(rfs_name_xattr_value_seal(ct, (const uint8_t *)value, strlen(value), id, bname + 5,
	                                       &fk->entries), 0);
	rfs_vault_folder_keys_put(x->v, fk);
	cr_assert_eq(setxattr(live_of(x, backing), bname, ct, strlen(value) + RFS_BLOCK_OVERHEAD, 0), 0,
	             "setxattr on %s: %s (the test needs user xattrs in /tmp)", live_path, strerror(errno));
}

/* A file "name" in live/'s root with its id; recorded as created. */
static void make_file(struct fx *x, const char *name, char backing[256], uint8_t id[16])
{
	uint8_t *key = rfs_secmem_key_alloc();
	char clear[64];
	cr_assert_eq(fx_backing(x, name, backing), 0);
	cr_assert_eq(fx_write_file(x, backing, (const uint8_t *)"text", 4, id, key, 1), 0);
	rfs_secmem_key_free(key);
	snprintf(clear, sizeof clear, "/%s", name);
	cr_assert_eq(fx_record(x, RFS_SAVE_CREATED, backing, clear, id, 4, NULL, 0), 0);
}

static void property(struct fx *x, const char *backing, const char *clear, const uint8_t id[16])
{
	struct rfs_save s = { .kind = RFS_SAVE_PROPERTY, .type = RFS_OBJ_FILE, .cipher_path = backing,
	                      .clear_path = clear, .mode = S_IFREG | 0640, .property = "user.k", .fd = -1 };
	memcpy(s.file_id, id, 16);
	cr_assert_eq(rfs_history_record(x->h, &s), 0);
}

static void head(struct fx *x, char rev[RFS_REV_HEX + 1])
{
	uint64_t seq;
	cr_assert_eq(rfs_history_flush(x->h), 0);
	cr_assert_eq(rfs_history_head(x->h, rev, &seq), 0);
}

/* A file "name" of live/'s root with user.k = value, committed: rev is that version. */
static void file_with_attr(struct fx *x, const char *name, char backing[256], uint8_t id[16],
                           const char *value, char rev[RFS_REV_HEX + 1])
{
	char clear[64];
	snprintf(clear, sizeof clear, "/%s", name);
	make_file(x, name, backing, id);
	set_attr(x, backing, id, "k", value);
	property(x, backing, clear, id);
	head(x, rev);
}

static void want_value(struct fx *x, const char *rev, const char *clear, const char *name,
                       const char *value)
{
	struct rfs_xattr_set set;
	cr_assert_eq(rfs_history_xattrs(x->h, rev, clear, &set), 0);
	cr_assert(set.recorded, "a new history keeps attributes");
	cr_assert_eq(set.count, 1);
	cr_assert_str_eq(set.v[0].name, name);
	cr_assert_eq(set.v[0].len, strlen(value));
	cr_assert_arr_eq(set.v[0].value, value, strlen(value));
	rfs_history_xattrs_free(&set);
}

/* The keys a file of the root folder's attributes are sealed with (borrowed until put). */
static const struct rfs_folder_keys *root_keys(struct fx *x)
{
	uint8_t dirid[16];
	const struct rfs_folder_keys *fk;
	cr_assert_eq(fx_root_dirid(x, dirid), 0);
	cr_assert_eq(rfs_vault_folder_keys_get(x->v, dirid, &fk), 0);
	return fk;
}

static int count_bad(void *arg, const git_oid *blob, const char *why)
{
	(void)blob;
	(void)why;
	(*(int *)arg)++;
	return 0;
}

Test(xattrs, every_version_keeps_its_values)
{
	struct fx x;
	char b[256], r1[RFS_REV_HEX + 1], r2[RFS_REV_HEX + 1];
	uint8_t id[16];
	cr_assert_eq(fx_new(&x), 0);
	file_with_attr(&x, "letter.txt", b, id, "first value", r1);
	set_attr(&x, b, id, "k", "second");
	property(&x, b, "/letter.txt", id);
	head(&x, r2);
	want_value(&x, r1, "/letter.txt", "user.k", "first value");
	want_value(&x, r2, "/letter.txt", "user.k", "second");
	struct rfs_verify_result res;
	FILE *report = tmpfile();
	cr_assert_eq(rfs_history_verify(x.h, report, &res, NULL), 0);
	cr_assert_eq(res.problems, 0, "verify: the tree holds what live/ holds");
	fclose(report);
	fx_free(&x);
}

Test(xattrs, blob_is_the_same_whenever_live_is)
{
	struct fx x;
	char b[256];
	uint8_t id[16], *one, *two;
	size_t n1, n2;
	cr_assert_eq(fx_new(&x), 0);
	make_file(&x, "a", b, id);
	set_attr(&x, b, id, "zeta", "1");
	set_attr(&x, b, id, "alpha", "2");
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, b), &one, &n1), 0);
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, b), &two, &n2), 0);
	cr_assert_eq(n1, n2);
	cr_assert_arr_eq(one, two, n1);
	cr_assert_arr_eq(one, RFS_XATTRS_MAGIC, sizeof RFS_XATTRS_MAGIC - 1);
	free(one);
	free(two);
	uint8_t *none = (uint8_t *)1;
	make_file(&x, "plain", b, id);
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, b), &none, &n1), 0);
	cr_assert_null(none, "a file without attributes has no blob");
	cr_assert_eq(n1, 0);
	fx_free(&x);
}

Test(xattrs, moved_to_another_file_does_not_open)
{
	struct fx x;
	char a[256], b[256], rev[RFS_REV_HEX + 1];
	uint8_t ida[16], idb[16], *blob;
	size_t len;
	struct rfs_xattr_set set;
	cr_assert_eq(fx_new(&x), 0);
	make_file(&x, "b", b, idb);
	file_with_attr(&x, "a", a, ida, "of a", rev);
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, a), &blob, &len), 0);
	const struct rfs_folder_keys *fk = root_keys(&x);
	cr_assert_eq(rfs_xattrs_open(blob, len, ida, &fk->entries, &set), 0);
	rfs_history_xattrs_free(&set);
	cr_assert_eq(rfs_xattrs_open(blob, len, idb, &fk->entries, &set), -EIO, "bound to its file");
	cr_assert_eq(rfs_xattrs_open(blob, len, ida, &fk->own, &set), -EIO, "a file's, not a folder's");
	rfs_vault_folder_keys_put(x.v, fk);
	free(blob);

	/* In a tree: a's blob put beside b, as verify walks it. */
	git_oid root_id, blob_id, forged;
	git_commit *c = NULL;
	git_tree *root = NULL, *t = NULL;
	git_treebuilder *bld = NULL;
	char sa[300], sb[300];
	snprintf(sa, sizeof sa, ".X%s", a);
	snprintf(sb, sizeof sb, ".X%s", b);
	cr_assert_eq(git_oid_fromstr(&root_id, rev), 0);
	cr_assert_eq(git_commit_lookup(&c, x.h->repo, &root_id), 0);
	cr_assert_eq(git_commit_tree(&root, c), 0);
	cr_assert_not_null(git_tree_entry_byname(root, sa), "a's side blob is beside it");
	cr_assert_null(git_tree_entry_byname(root, sb), "b has none");
	blob_id = *git_tree_entry_id(git_tree_entry_byname(root, sa));
	cr_assert_eq(git_treebuilder_new(&bld, x.h->repo, root), 0);
	cr_assert_eq(git_treebuilder_insert(NULL, bld, sb, &blob_id, GIT_FILEMODE_BLOB), 0);
	cr_assert_eq(git_treebuilder_write(&forged, bld), 0);
	cr_assert_eq(git_tree_lookup(&t, x.h->repo, &forged), 0);
	uint8_t dirid[16];
	cr_assert_eq(fx_root_dirid(&x, dirid), 0);
	int bad = 0;
	cr_assert_eq(rfs_xattrs_check_tree(x.h, root, dirid, count_bad, &bad), 0);
	cr_assert_eq(bad, 0, "the real tree checks");
	cr_assert_eq(rfs_xattrs_check_tree(x.h, t, dirid, count_bad, &bad), 0);
	cr_assert_eq(bad, 1, "the blob moved beside b is refused");
	git_tree_free(t);
	git_treebuilder_free(bld);
	git_tree_free(root);
	git_commit_free(c);
	fx_free(&x);
}

Test(xattrs, a_flipped_byte_does_not_open)
{
	struct fx x;
	char a[256];
	uint8_t id[16], *blob;
	size_t len;
	struct rfs_xattr_set set;
	cr_assert_eq(fx_new(&x), 0);
	make_file(&x, "a", a, id);
	set_attr(&x, a, id, "k", "value");
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, a), &blob, &len), 0);
	const struct rfs_folder_keys *fk = root_keys(&x);
	size_t name_at = sizeof RFS_XATTRS_MAGIC - 1 + 4 + 2;   /* magic, count, name length */
	size_t places[] = { len - 1, len - 20, name_at, name_at + 3 };
	for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
		blob[places[i]] ^= 0x01;
		cr_assert_eq(rfs_xattrs_open(blob, len, id, &fk->entries, &set), -EIO, "byte %zu flipped",
		             places[i]);
		blob[places[i]] ^= 0x01;
	}
	cr_assert_eq(rfs_xattrs_open(blob, len - 1, id, &fk->entries, &set), -EIO, "cut short");
	cr_assert_eq(rfs_xattrs_open(blob, len, id, &fk->entries, &set), 0);
	rfs_history_xattrs_free(&set);
	rfs_vault_folder_keys_put(x.v, fk);
	free(blob);
	fx_free(&x);
}

Test(xattrs, applied_back_sealed_for_the_file_it_lands_on)
{
	struct fx x;
	char a[256], c[256], rev[RFS_REV_HEX + 1];
	uint8_t ida[16], idc[16], dirid[16], *blob;
	size_t len;
	struct rfs_xattr_set set, back;
	cr_assert_eq(fx_new(&x), 0);
	file_with_attr(&x, "a", a, ida, "kept", rev);
	make_file(&x, "c", c, idc);
	set_attr(&x, c, idc, "other", "replaced");
	cr_assert_eq(rfs_history_xattrs(x.h, rev, "/a", &set), 0);
	int fd = open(live_of(&x, c), O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fx_root_dirid(&x, dirid), 0);
	cr_assert_eq(rfs_history_xattrs_apply(x.v, fd, false, dirid, &set), 0);
	close(fd);
	rfs_history_xattrs_free(&set);
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, c), &blob, &len), 0);
	const struct rfs_folder_keys *fk = root_keys(&x);
	cr_assert_eq(rfs_xattrs_open(blob, len, idc, &fk->entries, &back), 0, "sealed for c now");
	rfs_vault_folder_keys_put(x.v, fk);
	cr_assert_eq(back.count, 1, "the set replaced c's own");
	cr_assert_str_eq(back.v[0].name, "user.k");
	cr_assert_arr_eq(back.v[0].value, "kept", 4);
	rfs_history_xattrs_free(&back);
	free(blob);
	fx_free(&x);
}

/* History written before attributes were kept: its newest commit without the marker nor side
** entries (made here as older recfs made it). It still reads; its versions' attributes are
** unknown, not empty; the next writable open records live/'s once. */
Test(xattrs, older_history_reads_and_is_caught_up_once)
{
	struct fx x;
	char a[256], old[RFS_REV_HEX + 1], now[RFS_REV_HEX + 1];
	uint8_t id[16];
	cr_assert_eq(fx_new(&x), 0);
	file_with_attr(&x, "a", a, id, "from before", old);

	/* The same tree less what this addition writes, committed as the next version. */
	git_oid rev, tree;
	git_commit *c = NULL;
	char side[300];
	snprintf(side, sizeof side, ".X%s", a);
	git_tree_update up[2] = {
		{ .action = GIT_TREE_UPDATE_REMOVE, .path = RFS_XATTRS_MARKER },
		{ .action = GIT_TREE_UPDATE_REMOVE, .path = side },
	};
	pthread_mutex_lock(&x.h->git_lock);
	cr_assert_eq(git_oid_fromstr(&rev, old), 0);
	cr_assert_eq(git_commit_lookup(&c, x.h->repo, &rev), 0);
	cr_assert_eq(rfs_tree_update(x.h, git_commit_tree_id(c), up, 2, &tree), 0);
	git_commit_free(c);
	struct rfs_event ev = { .kind = RFS_SAVE_MODE, .type = RFS_OBJ_FILE, .mode = S_IFREG | 0640 };
	memcpy(ev.file_id, id, 16);
	ev.path = rfs_record_str("/a");
	ev.path_old = rfs_record_str(NULL);
	ev.restored_from = rfs_record_str(NULL);
	ev.property = rfs_record_str(NULL);
	cr_assert_eq(fx_root_dirid(&x, ev.dir), 0);
	if (rfs_record_version_of(x.v) == RFS_RECORD_VERSION_2)
		cr_assert_eq(rfs_record_paths_seal(x.v, &ev), 0);
	git_oid commit;
	cr_assert_eq(rfs_commit_create(x.h, &tree, &ev, 1, NULL, &commit), 0);
	cr_assert_eq(rfs_commit_publish(x.h), 0);
	rfs_record_event_clear(&ev);
	pthread_mutex_unlock(&x.h->git_lock);
	char older[RFS_REV_HEX + 1];
	git_oid_tostr(older, sizeof older, &commit);

	struct rfs_xattr_set set;
	cr_assert_eq(rfs_history_xattrs(x.h, older, "/a", &set), 0, "older history still reads");
	cr_assert(!set.recorded, "its attributes are unknown");
	cr_assert_eq(set.count, 0);
	uint8_t *key = rfs_secmem_key_alloc(), cid[16];
	char b[256];
	cr_assert_eq(fx_backing(&x, "b", b), 0);
	cr_assert_eq(fx_write_file(&x, b, (const uint8_t *)"b", 1, cid, key, 1), 0);
	rfs_secmem_key_free(key);
	int fd = open(live_of(&x, b), O_RDONLY);
	uint8_t dirid[16];
	cr_assert_eq(fx_root_dirid(&x, dirid), 0);
	set_attr(&x, b, cid, "mine", "stays");
	cr_assert_eq(rfs_history_xattrs_apply(x.v, fd, false, dirid, &set), 0);
	close(fd);
	uint8_t *blob;
	size_t len;
	cr_assert_eq(rfs_xattrs_from_live(live_of(&x, b), &blob, &len), 0);
	cr_assert_not_null(blob, "a set not recorded leaves the file's own as it is");
	free(blob);
	unlink(live_of(&x, b));

	/* The next writable open records live/'s attributes, once. */
	fx_close_history(&x);
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	cr_assert_eq(rfs_history_open(x.v, &who, 0, &x.h, NULL, 0), 0);
	head(&x, now);
	cr_assert_str_neq(now, older, "a commit recorded them");
	want_value(&x, now, "/a", "user.k", "from before");
	fx_close_history(&x);
	cr_assert_eq(rfs_history_open(x.v, &who, 0, &x.h, NULL, 0), 0);
	char again[RFS_REV_HEX + 1];
	head(&x, again);
	cr_assert_str_eq(again, now, "only once");
	fx_free(&x);
}

/* verify of a vault whose commits share most of their trees: each tree and blob is read
** once, and a side blob that 21 versions of its folder hold is opened once, not 21 times. */
Test(xattrs, verify_reads_each_object_once)
{
	struct fx x;
	char a[256], b[256], rev[RFS_REV_HEX + 1];
	uint8_t ida[16], idb[16];
	cr_assert_eq(fx_new(&x), 0);
	file_with_attr(&x, "a", a, ida, "of a", rev);
	for (int i = 0; i < 20; i++) {   /* each its own commit: the root's tree changes, a's side blob stays */
		char name[16];
		snprintf(name, sizeof name, "f%02d", i);
		make_file(&x, name, b, idb);
		head(&x, rev);
	}
	struct rfs_verify_result res;
	FILE *report = tmpfile();
	cr_assert_eq(rfs_history_verify(x.h, report, &res, NULL), 0);
	cr_assert_eq(res.problems, 0);
	cr_assert_geq(res.commits, 21);
	cr_assert_geq(res.trees, 21, "every commit has a root tree of its own");
	cr_assert_eq(res.objects_read, res.trees + res.blobs,
	             "each tree and blob read once: %lu read, %lu trees, %lu blobs", res.objects_read,
	             res.trees, res.blobs);
	cr_assert_eq(res.xattr_trees, 1, "a's side blob opened once, not once per tree (%lu)",
	             res.xattr_trees);
	cr_assert_gt(res.bytes_read, 0);
	fclose(report);
	fx_free(&x);
}
