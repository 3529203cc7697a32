/*
** test_subtree: vault format 3's index v2 and rfs_history_subtree: every
** file id and folder id ever inside a folder (moved in, deleted, in
** subfolders), and none that moved out and lives elsewhere. Real vault,
** real git; saves recorded the way the daemon records them.
*/
#include <criterion/criterion.h>
#include "tests/history/fixture.h"

/* A format-3 history on a new vault. */
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
	x->v->format = 3;                 /* folder keys from the key store, the root's too */
	uint8_t root[16], *key = rfs_secmem_key_alloc();
	cr_assert_eq(rfs_keystore_create(x->v->ks, root, key), 0);
	rfs_secmem_key_free(key);
	int fd = openat(x->v->live_fd, RFS_DIRID_FILE, O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0 && write(fd, root, 16) == 16);
	close(fd);
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	cr_assert_eq(rfs_history_open(x->v, &who, 0, &x->h, NULL, 0), 0);
}

struct ent {
	char backing[256];
	uint8_t id[16];
};

static void save(struct fx *x, enum rfs_save_kind kind, enum rfs_obj_type type, const char *backing,
                 const char *clear, const uint8_t id[16], const uint8_t dir[16],
                 const char *old_backing, const char *old_clear, const uint8_t dir_old[16])
{
	struct rfs_save s = { .kind = kind, .type = type, .cipher_path = backing, .clear_path = clear,
	                      .cipher_path_old = old_backing, .clear_path_old = old_clear,
	                      .mode = type == RFS_OBJ_DIR ? S_IFDIR | 0755 : S_IFREG | 0640, .fd = -1 };
	memcpy(s.file_id, id, 16);
	memcpy(s.dir, dir, 16);
	if (dir_old)
		memcpy(s.dir_old, dir_old, 16);
	cr_assert_eq(rfs_history_record(x->h, &s), 0, "%s", clear);
}

static void file(struct fx *x, struct ent *e, const char *name, const char *clear, const uint8_t dir[16])
{
	uint8_t *key = rfs_secmem_key_alloc();
	cr_assert_eq(fx_backing(x, name, e->backing), 0);
	cr_assert_eq(fx_write_file(x, e->backing, (const uint8_t *)clear, strlen(clear), e->id, key, 1), 0);
	rfs_secmem_key_free(key);
	save(x, RFS_SAVE_CREATED, RFS_OBJ_FILE, e->backing, clear, e->id, dir, NULL, NULL, NULL);
}

static void folder(struct fx *x, struct ent *e, const char *name, const char *clear, const uint8_t dir[16])
{
	uint8_t *key = rfs_secmem_key_alloc();
	cr_assert_eq(rfs_keystore_create(x->v->ks, e->id, key), 0);
	rfs_secmem_key_free(key);
	cr_assert_eq(fx_backing(x, name, e->backing), 0);
	cr_assert_eq(mkdirat(x->v->live_fd, e->backing, 0755), 0);
	char p[300];
	snprintf(p, sizeof p, "%s/%s", e->backing, RFS_DIRID_FILE);
	int fd = openat(x->v->live_fd, p, O_WRONLY | O_CREAT, 0400);
	cr_assert(fd >= 0 && write(fd, e->id, 16) == 16);
	close(fd);
	save(x, RFS_SAVE_CREATED, RFS_OBJ_DIR, e->backing, clear, e->id, dir, NULL, NULL, NULL);
}

static bool listed(const struct rfs_subtree *s, const uint8_t id[16])
{
	for (size_t i = 0; i < s->count; i++)
		if (!memcmp(s->ids[i], id, 16))
			return true;
	return false;
}

struct seen { int n; int at_a; };

static int seen_cb(const struct rfs_version *v, void *arg)
{
	struct seen *s = arg;
	s->n++;
	s->at_a += !strcmp(v->path, "/cases/smith/a.txt");
	return 0;
}

Test(subtree, lists_every_id_ever_inside_and_keeps_what_moved_out)
{
	struct fx x;
	new3(&x);
	uint8_t root[16];
	cr_assert_eq(fx_root_dirid(&x, root), 0);
	struct ent cases, smith, old, a, b, d, e, m, u_dir, u, other;
	folder(&x, &cases, "cases", "/cases", root);
	folder(&x, &smith, "smith", "/cases/smith", cases.id);
	file(&x, &a, "a.txt", "/cases/smith/a.txt", smith.id);
	save(&x, RFS_SAVE_SAVED, RFS_OBJ_FILE, a.backing, "/cases/smith/a.txt", a.id, smith.id, NULL, NULL, NULL);
	folder(&x, &old, "old", "/cases/smith/old", smith.id);
	file(&x, &b, "b.txt", "/cases/smith/old/b.txt", old.id);
	file(&x, &d, "d.txt", "/cases/smith/d.txt", smith.id);
	save(&x, RFS_SAVE_DELETED, RFS_OBJ_FILE, d.backing, "/cases/smith/d.txt", d.id, smith.id, NULL, NULL, NULL);
	file(&x, &e, "e.txt", "/cases/e.txt", cases.id);           /* moved in */
	save(&x, RFS_SAVE_RENAMED, RFS_OBJ_FILE, e.backing, "/cases/smith/e.txt", e.id, smith.id,
	     e.backing, "/cases/e.txt", cases.id);
	file(&x, &m, "m.txt", "/cases/smith/m.txt", smith.id);     /* moved out: kept */
	save(&x, RFS_SAVE_RENAMED, RFS_OBJ_FILE, m.backing, "/cases/m.txt", m.id, cases.id,
	     m.backing, "/cases/smith/m.txt", smith.id);
	folder(&x, &u_dir, "u", "/cases/smith/u", smith.id);       /* a folder moved out, with a file */
	file(&x, &u, "u.txt", "/cases/smith/u/u.txt", u_dir.id);
	save(&x, RFS_SAVE_RENAMED, RFS_OBJ_DIR, u_dir.backing, "/cases/u", u_dir.id, cases.id,
	     u_dir.backing, "/cases/smith/u", smith.id);
	file(&x, &other, "other.txt", "/cases/other.txt", cases.id);
	cr_assert_eq(rfs_history_flush(x.h), 0);

	struct rfs_subtree s;
	cr_assert_eq(rfs_history_subtree(x.h, smith.id, &s), 0);
	cr_assert_eq(s.count, 6, "listed %zu", s.count);
	const struct ent *in[] = { &smith, &a, &old, &b, &d, &e };
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		cr_assert(listed(&s, in[i]->id), "id %zu inside is not listed", i);
	const struct ent *out[] = { &m, &u_dir, &u, &other, &cases };
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		cr_assert(!listed(&s, out[i]->id), "id %zu outside is listed", i);
	cr_assert_eq(s.kept, 3, "kept %zu", s.kept);
	cr_assert_eq(s.folders, 2);
	cr_assert_eq(s.files, 4);
	cr_assert_eq(s.versions, 9, "versions %zu", s.versions);
	rfs_subtree_free(&s);

	/* A leaf folder: only itself. */
	cr_assert_eq(rfs_history_subtree(x.h, old.id, &s), 0);
	cr_assert_eq(s.count, 2);
	rfs_subtree_free(&s);

	/* log PATH on index v2 finds a path through the folders that stood at its parents. */
	struct seen sn = { 0 };
	cr_assert_eq(rfs_history_log(x.h, "/cases/smith/a.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 2, "log found %d events", sn.n);
	cr_assert_eq(sn.at_a, 2);
	sn = (struct seen){ 0 };
	cr_assert_eq(rfs_history_log(x.h, "/cases/m.txt", 0, seen_cb, &sn), 0);
	cr_assert_eq(sn.n, 2, "a renamed file's log has both events, got %d", sn.n);
	sn = (struct seen){ 0 };
	cr_assert_eq(rfs_history_log(x.h, NULL, 0, seen_cb, &sn), 0);
	cr_assert_gt(sn.n, 15);
	fx_free(&x);
}
