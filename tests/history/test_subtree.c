/*
** test_subtree: vault format 3's record v2 / index v2 on the history side.
** rfs_history_subtree lists every file id and folder id ever inside a folder
** (moved in, deleted, in subfolders) and none that moved out and live
** elsewhere; after those ids are shredded and VAULT/disposed/1 lists them,
** nothing inside the folder can be read or looked up (log, stat, read,
** materialise), verify counts them as destroyed and finds no problem, and
** every other file reads as before. Real vault, real git, real key store.
*/
#include <criterion/criterion.h>
#include "crypto/encoding.h"
#include "fs/history/internal.h"
#include "tests/history/fixture.h"

#define MARKER "ZEBRA42"

/* A format-3 history on a new vault: folder ids are key store entries, the root's too. */
static void new3(struct fx *x)
{
	struct rfs_kdf kdf;
	memset(x, 0, sizeof *x);
	cr_assert_eq(rfs_secmem_init(), 0);
	snprintf(x->dir, sizeof x->dir, "/tmp/recfs-sub-XXXXXX");
	cr_assert(mkdtemp(x->dir));
	rfs_keyslot_kdf_insecure_fast(&kdf);
	cr_assert_eq(rfs_vault_create(x->dir, "pw", 2, &kdf, "test"), 0);
	cr_assert_eq(fx_open_vault(x), 0);
	if (x->v->format < 3) {           /* a vault made before format 3: make it one */
		x->v->format = 3;
		uint8_t root[16], *key = rfs_secmem_key_alloc();
		cr_assert_eq(rfs_keystore_create(x->v->ks, root, key), 0);
		rfs_secmem_key_free(key);
		int fd = openat(x->v->live_fd, RFS_DIRID_FILE, O_WRONLY | O_TRUNC);
		cr_assert(fd >= 0 && write(fd, root, 16) == 16);
		close(fd);
	}
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	cr_assert_eq(rfs_history_open(x->v, &who, 0, &x->h, NULL, 0), 0);
}

struct ent {
	char cpath[2048];                 /* backing path in live/ ("" the root) */
	char clear[1024];
	uint8_t id[16];
	enum rfs_obj_type type;
};

static void save(struct fx *x, enum rfs_save_kind kind, const struct ent *e, const uint8_t dir[16],
                 const struct ent *old, const uint8_t dir_old[16])
{
	struct rfs_save s = { .kind = kind, .type = e->type, .cipher_path = e->cpath, .clear_path = e->clear,
	                      .cipher_path_old = old ? old->cpath : NULL,
	                      .clear_path_old = old ? old->clear : NULL,
	                      .mode = e->type == RFS_OBJ_DIR ? S_IFDIR | 0755 : S_IFREG | 0640, .fd = -1 };
	memcpy(s.file_id, e->id, 16);
	memcpy(s.dir, dir, 16);
	if (dir_old)
		memcpy(s.dir_old, dir_old, 16);
	cr_assert_eq(rfs_history_record(x->h, &s), 0, "%s", e->clear);
}

/* Where name goes in folder parent: its sealed backing path and clear path. */
static void place(struct fx *x, const struct ent *parent, const char *name, struct ent *e)
{
	char text[RFS_ENC_NAME_MAX + 1], backing[256];
	cr_assert_eq(rfs_vault_name_seal(x->v, parent->id, name, text, sizeof text) >= 0, 1);
	cr_assert(!rfs_name_backing(backing, text), "test names are short");
	cr_assert(strlen(parent->cpath) + strlen(backing) + 2 < sizeof e->cpath);
	cr_assert(strlen(parent->clear) + strlen(name) + 2 < sizeof e->clear);
	char cpath[sizeof e->cpath + 256], clear[sizeof e->clear + 256];
	snprintf(cpath, sizeof cpath, "%s%s%s", parent->cpath, parent->cpath[0] ? "/" : "", backing);
	snprintf(clear, sizeof clear, "%s/%s", parent->clear[1] ? parent->clear : "", name);
	memcpy(e->cpath, cpath, sizeof e->cpath);
	memcpy(e->clear, clear, sizeof e->clear);
}

static void folder(struct fx *x, const struct ent *parent, const char *name, struct ent *e)
{
	uint8_t *key = rfs_secmem_key_alloc();
	cr_assert_eq(rfs_keystore_create(x->v->ks, e->id, key), 0);
	rfs_secmem_key_free(key);
	e->type = RFS_OBJ_DIR;
	place(x, parent, name, e);
	cr_assert_eq(mkdirat(x->v->live_fd, e->cpath, 0755), 0);
	char p[2100];
	snprintf(p, sizeof p, "%s/%s", e->cpath, RFS_DIRID_FILE);
	int fd = openat(x->v->live_fd, p, O_WRONLY | O_CREAT, 0400);
	cr_assert(fd >= 0 && write(fd, e->id, 16) == 16);
	close(fd);
	save(x, RFS_SAVE_CREATED, e, parent->id, NULL, NULL);
}

static uint8_t *keys[32];
static size_t nkeys;

static void write_content(struct fx *x, struct ent *e, const char *text, bool fresh, uint8_t **key)
{
	if (fresh)
		*key = keys[nkeys++] = rfs_secmem_key_alloc();
	cr_assert_eq(fx_write_file(x, e->cpath, (const uint8_t *)text, strlen(text), e->id, *key, fresh), 0);
}

static void file(struct fx *x, const struct ent *parent, const char *name, const char *text, struct ent *e,
                 uint8_t **key)
{
	e->type = RFS_OBJ_FILE;
	place(x, parent, name, e);
	write_content(x, e, text, true, key);
	save(x, RFS_SAVE_CREATED, e, parent->id, NULL, NULL);
}

static void move(struct fx *x, struct ent *e, const struct ent *from, const struct ent *to, const char *name)
{
	struct ent old = *e;
	place(x, to, name, e);
	cr_assert_eq(renameat(x->v->live_fd, old.cpath, x->v->live_fd, e->cpath), 0);
	save(x, RFS_SAVE_RENAMED, e, to->id, &old, from->id);
}

static void delete(struct fx *x, const struct ent *e, const struct ent *parent)
{
	char p[2100];
	if (e->type == RFS_OBJ_DIR) {
		snprintf(p, sizeof p, "%s/%s", e->cpath, RFS_DIRID_FILE);
		cr_assert_eq(unlinkat(x->v->live_fd, p, 0), 0);
	}
	cr_assert_eq(unlinkat(x->v->live_fd, e->cpath, e->type == RFS_OBJ_DIR ? AT_REMOVEDIR : 0), 0);
	save(x, RFS_SAVE_DELETED, e, parent->id, NULL, NULL);
}

static bool listed(const struct rfs_subtree *s, const uint8_t id[16])
{
	for (size_t i = 0; i < s->count; i++)
		if (!memcmp(s->ids[i], id, 16))
			return true;
	return false;
}

struct seen {
	int n, destroyed, marker, other;
	uint64_t disposal;
	char revs[128][41];
};

static int seen_cb(const struct rfs_version *v, void *arg)
{
	struct seen *s = arg;
	if (s->n < 128)
		snprintf(s->revs[s->n], 41, "%s", v->rev);
	s->n++;
	s->destroyed += v->destroyed;
	if (v->destroyed)
		s->disposal = v->disposal;
	s->marker += strstr(v->path, MARKER) || strstr(v->path_old, MARKER) || strstr(v->property, MARKER);
	s->other += !strcmp(v->path, "/cases/other.txt");
	return 0;
}

/* The tree of the vault that the tests build:
**   /cases/smith (the record) with a.txt (saved twice), old/b.txt, d.txt
**   (deleted), e.txt (moved in from /cases), m.txt (moved out: kept), u/
**   with u.txt (moved out whole: kept); /cases/other.txt outside. */
struct world {
	struct ent root, cases, smith, old, a, b, d, e, m, u_dir, u, other;
	uint8_t *ka, *kb, *kd, *ke, *km, *ku, *ko;
};

static void build(struct fx *x, struct world *w)
{
	memset(w, 0, sizeof *w);
	cr_assert_eq(fx_root_dirid(x, w->root.id), 0);
	snprintf(w->root.clear, sizeof w->root.clear, "/");
	w->root.type = RFS_OBJ_DIR;
	folder(x, &w->root, "cases", &w->cases);
	folder(x, &w->cases, "smith", &w->smith);
	file(x, &w->smith, MARKER "-a.txt", "first " MARKER, &w->a, &w->ka);
	cr_assert_eq(rfs_history_flush(x->h), 0);
	write_content(x, &w->a, "second " MARKER, false, &w->ka);
	save(x, RFS_SAVE_SAVED, &w->a, w->smith.id, NULL, NULL);
	folder(x, &w->smith, MARKER "-old", &w->old);
	file(x, &w->old, "b.txt", "b " MARKER, &w->b, &w->kb);
	file(x, &w->smith, "d.txt", "d", &w->d, &w->kd);
	cr_assert_eq(rfs_history_flush(x->h), 0);
	delete(x, &w->d, &w->smith);
	file(x, &w->cases, "e.txt", "e", &w->e, &w->ke);             /* moved in */
	cr_assert_eq(rfs_history_flush(x->h), 0);
	move(x, &w->e, &w->cases, &w->smith, MARKER "-e.txt");
	file(x, &w->smith, MARKER "-m.txt", "m", &w->m, &w->km);     /* moved out: kept */
	cr_assert_eq(rfs_history_flush(x->h), 0);
	move(x, &w->m, &w->smith, &w->cases, "m.txt");
	folder(x, &w->smith, "u", &w->u_dir);                        /* a folder moved out, with a file */
	file(x, &w->u_dir, "u.txt", "u", &w->u, &w->ku);
	cr_assert_eq(rfs_history_flush(x->h), 0);
	struct ent old_u = w->u_dir;
	move(x, &w->u_dir, &w->smith, &w->cases, "u");
	place(x, &w->u_dir, "u.txt", &w->u);                         /* its path under the new place */
	(void)old_u;
	file(x, &w->cases, "other.txt", "other", &w->other, &w->ko);
	cr_assert_eq(rfs_history_flush(x->h), 0);
}

/* A new format-3 vault holding the world, and the ids of its record. */
static void world_new(struct fx *x, struct world *w, struct rfs_subtree *s)
{
	new3(x);
	build(x, w);
	cr_assert_eq(rfs_history_subtree(x->h, w->smith.id, s), 0);
}

static void free_keys(void)
{
	for (size_t i = 0; i < nkeys; i++)
		rfs_secmem_key_free(keys[i]);
	nkeys = 0;
}

Test(subtree, lists_every_id_ever_inside_and_keeps_what_moved_out)
{
	struct fx x;
	struct world w;
	struct rfs_subtree s;
	world_new(&x, &w, &s);
	cr_assert_eq(s.count, 6, "listed %zu", s.count);
	const struct ent *in[] = { &w.smith, &w.a, &w.old, &w.b, &w.d, &w.e };
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		cr_assert(listed(&s, in[i]->id), "%s inside is not listed", in[i]->clear);
	const struct ent *out[] = { &w.m, &w.u_dir, &w.u, &w.other, &w.cases, &w.root };
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		cr_assert(!listed(&s, out[i]->id), "%s outside is listed", out[i]->clear);
	cr_assert_eq(s.kept, 3, "kept %zu", s.kept);
	cr_assert_eq(s.folders, 2);
	cr_assert_eq(s.files, 4);
	/* smith 1, a 2, old 1, b 1, d 2, e 2 */
	cr_assert_eq(s.versions, 9, "versions %zu", s.versions);
	rfs_subtree_free(&s);
	/* Many records with one pass over the index: the same answers. */
	uint8_t both[2][16];
	struct rfs_subtree two[2];
	memcpy(both[0], w.old.id, 16);
	memcpy(both[1], w.smith.id, 16);
	cr_assert_eq(rfs_history_subtrees(x.h, (const uint8_t (*)[16])both, 2, two), 0);
	cr_assert_eq(two[0].count, 2, "a leaf folder: itself and b.txt");
	cr_assert_eq(two[1].count, 6);
	cr_assert_eq(two[1].versions, 9);
	rfs_subtree_free(&two[0]);
	rfs_subtree_free(&two[1]);

	/* log PATH on index v2 finds a path through the folders that stood at its parents. */
	struct seen sn = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/cases/smith/" MARKER "-a.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 2, "log found %d events", sn.n);
	memset(&sn, 0, sizeof sn);
	cr_assert_eq(rfs_history_log(x.h, "/cases/m.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 2, "a renamed file's log has both its events, got %d", sn.n);
	memset(&sn, 0, sizeof sn);
	/* Saved at /cases/smith/u/u.txt before its folder moved: found through the folder by name. */
	cr_assert_eq(rfs_history_log(x.h, "/cases/u/u.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 1, "u.txt's log under its folder's new place has its creation, got %d", sn.n);
	memset(&sn, 0, sizeof sn);
	cr_assert_eq(rfs_history_log(x.h, "/cases/u/none.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 0, "a name never in the folder has no events, got %d", sn.n);
	cr_assert_eq(fx_sh("head -c 8 %s/history.git/recfs/index | grep -q RFSIDX2", x.dir), 0,
	             "format 3 writes index version 2");
	free_keys();
	fx_free(&x);
}

static int grep_count(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "grep -r -a -c '" MARKER "' %s | awk -F: '{s+=$NF} END {print s+0}'", dir);
	return (int)fx_sh_number(cmd);
}

Test(subtree, after_its_keys_are_shredded_nothing_inside_reads_and_the_rest_does, .timeout = 120)
{
	struct fx x;
	struct world w;
	struct rfs_subtree s;
	/* The disposal: the record leaves live/ as deletions, one commit, then its ids are shredded. */
	world_new(&x, &w, &s);
	delete(&x, &w.b, &w.old);
	delete(&x, &w.old, &w.smith);
	delete(&x, &w.a, &w.smith);
	delete(&x, &w.e, &w.smith);
	delete(&x, &w.smith, &w.cases);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	struct seen before = { 0 };
	cr_assert_eq(rfs_history_log(x.h, NULL, 0, seen_cb, &before), 0);
	cr_assert_gt(before.marker, 0, "the marker must be readable before the shred");
	cr_assert_eq(fx_sh("mkdir -p %s/disposed", x.dir), 0);
	char list[300];
	snprintf(list, sizeof list, "%s/disposed/1", x.dir);
	int fd = open(list, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0 && write(fd, s.ids, s.count * 16) == (ssize_t)(s.count * 16) && fsync(fd) == 0);
	close(fd);
	for (size_t i = 0; i < s.count; i++)
		cr_assert_eq(rfs_keystore_destroy(x.v->ks, s.ids[i]), 0);
	rfs_vault_folder_keys_forget(x.v, (const uint8_t (*)[16])s.ids, s.count);
	cr_assert_eq(rfs_history_disposed_reload(x.h), 0);
	cr_assert_eq(rfs_history_disposed_by(x.h, w.a.id), 1);
	cr_assert_eq(rfs_history_disposed_by(x.h, w.other.id), 0);

	/* log: every event inside is "destroyed (disposal 1)" with no path; the rest as before. */
	struct seen all = { 0 };
	cr_assert_eq(rfs_history_log(x.h, NULL, 0, seen_cb, &all), 0);
	cr_assert_eq(all.n, before.n, "every event is still listed");
	cr_assert_eq(all.marker, 0, "no event shows a path inside the record");
	cr_assert_gt(all.destroyed, 8, "%d destroyed", all.destroyed);
	cr_assert_eq(all.disposal, 1);
	cr_assert_eq(all.other, 1);
	struct seen guess = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/cases/smith/" MARKER "-a.txt", 0, seen_cb, &guess), 0);
	cr_assert_eq(guess.n, 0, "a guessed path inside finds nothing at all");
	guess = (struct seen){ 0 };
	cr_assert_eq(rfs_history_log(x.h, "/cases/smith", 0, seen_cb, &guess), 0);
	cr_assert_eq(guess.n, 2, "the record's own name is the stub: created and deleted");

	/* stat, read and materialise of every revision. */
	char view[300];
	for (int i = 0; i < all.n && i < 128; i++) {
		struct rfs_version st;
		uint8_t buf[256];
		int rc = rfs_history_stat(x.h, all.revs[i], "/cases/smith/" MARKER "-a.txt", &st);
		cr_assert(rc == -ENOENT || (rc == 0 && st.destroyed && st.disposal == 1),
		          "stat at %s: %d", all.revs[i], rc);
		long n = fx_show(&x, all.revs[i], "/cases/smith/" MARKER "-a.txt", buf, sizeof buf);
		cr_assert(n == -ENOENT || n == -EKEYREVOKED, "read at %s: %ld", all.revs[i], n);
		snprintf(view, sizeof view, "%s-view-%d", x.dir, i);
		cr_assert_eq(rfs_history_materialise(x.h, all.revs[i], view), 0, "materialise %s", all.revs[i]);
		char cmd[600];
		/* No .dirid of a listed folder, no file of a listed id in the view. */
		for (size_t k = 0; k < s.count; k++) {
			char hex[33];
			rfs_hex_encode(hex, s.ids[k], 16);
			snprintf(cmd, sizeof cmd, "find %s -type f -exec sh -c 'od -An -tx1 -N16 \"$1\" 2>/dev/null | "
			         "tr -d \" \\n\"; echo' _ {} \\; | grep -c %s", view, hex);
			cr_assert_eq(fx_sh_number(cmd), 0, "a destroyed id is in the view of %s", all.revs[i]);
		}
		fx_sh("rm -rf %s", view);
	}
	uint8_t buf[64];
	cr_assert_eq(fx_show(&x, "HEAD", "/cases/other.txt", buf, sizeof buf), 5);
	cr_assert_eq(fx_show(&x, "HEAD", "/cases/m.txt", buf, sizeof buf), 1, "a file moved out is kept");
	cr_assert_eq(fx_show(&x, "HEAD", "/cases/u/u.txt", buf, sizeof buf), 1, "a folder moved out is kept");

	/* verify: the shredded keys are destroyed content, not problems; git agrees. */
	char *text = NULL;
	size_t len = 0;
	FILE *rep = open_memstream(&text, &len);
	struct rfs_verify_result res;
	cr_assert_eq(rfs_history_verify(x.h, rep, &res, NULL), 0);
	fclose(rep);
	cr_assert_eq(res.problems, 0, "verify: %s", text);
	cr_assert_gt(res.destroyed, 0);
	cr_assert(strstr(text, "destroyed (disposal 1)"), "%s", text);
	free(text);
	cr_assert_eq(fx_sh("git --git-dir=%s/history.git fsck --strict >/dev/null 2>&1", x.dir), 0);
	fx_close_history(&x);
	cr_assert_eq(grep_count(x.dir), 0, "the marker is in the vault's bytes");

	/* A key missing that no list names is still a problem. */
	cr_assert_eq(unlink(list), 0);
	cr_assert_eq(rfs_history_open(x.v, NULL, RFS_HISTORY_READONLY, &x.h, NULL, 0), 0);
	cr_assert_eq(rfs_history_verify(x.h, NULL, &res, NULL), 0);
	cr_assert_gt(res.problems, 0);
	cr_assert_eq(res.destroyed, 0);
	rfs_subtree_free(&s);
	free_keys();
	fx_free(&x);
}

Test(subtree, a_format2_vault_keeps_record_and_index_version_1)
{
	struct fx x;
	struct rfs_kdf kdf;
	memset(&x, 0, sizeof x);
	cr_assert_eq(rfs_secmem_init(), 0);
	snprintf(x.dir, sizeof x.dir, "/tmp/recfs-sub2-XXXXXX");
	cr_assert(mkdtemp(x.dir));
	rfs_keyslot_kdf_insecure_fast(&kdf);
	cr_assert_eq(rfs_vault_create_format(x.dir, "pw", 2, &kdf, "test", 2), 0);
	cr_assert_eq(fx_open_vault(&x), 0);
	cr_assert_eq(x.v->format, 2u);
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	cr_assert_eq(rfs_history_open(x.v, &who, 0, &x.h, NULL, 0), 0);
	struct ent root = { .clear = "/", .type = RFS_OBJ_DIR }, dir, f;
	uint8_t *key = NULL;
	cr_assert_eq(fx_root_dirid(&x, root.id), 0);
	cr_assert_eq(rfs_vault_new_folder_id(x.v, dir.id), 0);
	dir.type = RFS_OBJ_DIR;
	place(&x, &root, "cases", &dir);
	cr_assert_eq(mkdirat(x.v->live_fd, dir.cpath, 0755), 0);
	char p[2100];
	snprintf(p, sizeof p, "%s/%s", dir.cpath, RFS_DIRID_FILE);
	int fd = openat(x.v->live_fd, p, O_WRONLY | O_CREAT, 0400);
	cr_assert(fd >= 0 && write(fd, dir.id, 16) == 16);
	close(fd);
	save(&x, RFS_SAVE_CREATED, &dir, root.id, NULL, NULL);
	file(&x, &dir, "notes.txt", "notes", &f, &key);
	cr_assert_eq(rfs_history_flush(x.h), 0);
	struct seen sn = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/cases/notes.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 1);
	struct rfs_subtree s;
	cr_assert_eq(rfs_history_subtree(x.h, dir.id, &s), -EPROTONOSUPPORT,
	             "format 2 names cannot be destroyed: no subtree");
	struct rfs_record r;
	git_oid head;
	char hex[RFS_REV_HEX + 1];
	uint64_t seq;
	cr_assert_eq(rfs_history_head(x.h, hex, &seq), 0);
	git_oid_fromstr(&head, hex);
	cr_assert_eq(rfs_objects_read_record(x.h, &head, &r), 0);
	cr_assert_eq(r.version, RFS_RECORD_VERSION, "format 2 writes record version 1");
	cr_assert_str_eq(r.events[0].path, "/cases/notes.txt");
	rfs_record_clear(&r);
	cr_assert_eq(fx_sh("head -c 8 %s/history.git/recfs/index | grep -q RFSIDX1", x.dir), 0);
	free_keys();
	fx_free(&x);
}
