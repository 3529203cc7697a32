/* Unit tests of fs/vault: creating a vault, opening it with its passphrase,
** and the lock that keeps a second writer out; on real folders under /tmp. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fs/fs_fixture.h"

static int open_vault(const char *path, const char *pass, int flags, struct rfs_vault **v,
                      char err[256])
{
	err[0] = '\0';
	return rfs_vault_open(path, pass, strlen(pass), flags, v, err, 256);
}

static bool is_dir(const char *top, const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", top, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

Test(vault, a_new_vault_has_its_folders_and_opens_with_its_passphrase)
{
	struct test_vault t;
	char err[256];

	test_vault_make(&t, false);
	cr_assert(is_dir(t.path, RFS_KEYS_DIR));
	cr_assert(is_dir(t.path, RFS_LIVE_DIR));
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, 0, &t.v, err), 0, "%s", err);
	cr_assert_not_null(t.v->keys);
	cr_assert_not_null(t.v->ks);
	cr_assert_eq(t.v->path[0], '/', "the vault's path is absolute: %s", t.v->path);
	cr_assert_eq(t.v->lock_fd, -1, "opened without RFS_OPEN_LOCK, it holds no lock");
	test_vault_remove(&t);
}

Test(vault, a_wrong_passphrase_is_refused_and_opens_nothing)
{
	struct test_vault t;
	struct rfs_vault *v = NULL;
	char err[256];

	test_vault_make(&t, false);
	cr_assert_eq(open_vault(t.path, "correct horse battery stapler", 0, &v, err), -EACCES);
	cr_assert_null(v);
	cr_assert_eq(open_vault(t.path, "", 0, &v, err), -EACCES);
	cr_assert_null(v);
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, 0, &t.v, err), 0, "%s", err);
	test_vault_remove(&t);
}

Test(vault, a_locked_vault_cannot_be_locked_again_until_it_is_closed)
{
	struct test_vault t;
	struct rfs_vault *second = NULL, *reader = NULL;
	char err[256];

	test_vault_make(&t, false);
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, RFS_OPEN_LOCK, &t.v, err), 0, "%s", err);
	cr_assert_geq(t.v->lock_fd, 0);
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, RFS_OPEN_LOCK, &second, err), -EBUSY);
	cr_assert_neq(err[0], '\0', "the refusal says who holds the lock");
	/* Readers (recfs log, show) need no lock. */
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, 0, &reader, err), 0, "%s", err);
	cr_assert_eq(rfs_vault_lock(reader, err, sizeof(err)), -EBUSY);
	rfs_vault_close(t.v);
	t.v = NULL;
	cr_assert_eq(rfs_vault_lock(reader, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, RFS_OPEN_LOCK, &second, err), -EBUSY);
	rfs_vault_close(reader);
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, RFS_OPEN_LOCK, &second, err), 0, "%s", err);
	rfs_vault_close(second);
	test_vault_remove(&t);
}

Test(vault, the_lock_note_names_the_daemon_and_its_mount_point)
{
	struct test_vault t;
	char err[256], path[160], note[256] = "";
	ssize_t n;
	int fd;

	test_vault_make(&t, false);
	cr_assert_eq(open_vault(t.path, TEST_PASSPHRASE, RFS_OPEN_LOCK, &t.v, err), 0, "%s", err);
	cr_assert_eq(rfs_vault_lock_note(t.v, 4242, "/mnt/records"), 0);
	snprintf(path, sizeof(path), "%s/%s", t.path, RFS_LOCK_NAME);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	n = read(fd, note, sizeof(note) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	cr_assert_str_eq(note, "4242\n/mnt/records\n");
	test_vault_remove(&t);
}

Test(vault, the_settings_are_read_without_a_passphrase)
{
	struct test_vault t;
	struct rfs_conf conf;
	char err[256] = "";

	test_vault_make(&t, false);
	cr_assert_eq(rfs_vault_read_conf(t.path, &conf, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(conf.slots[0].label, "test");
	test_vault_remove(&t);
}

Test(vault, a_vault_is_made_only_in_a_new_or_empty_folder)
{
	struct test_vault t;
	struct rfs_kdf kdf;
	char path[160];

	test_vault_make(&t, false);
	rfs_keyslot_kdf_insecure_fast(&kdf);
	cr_assert_eq(rfs_vault_create(t.path, "x", 1, &kdf, "again"), -EEXIST, "not over a vault");
	snprintf(path, sizeof(path), "%s/full", t.top);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/full/letter.txt", t.top);
	test_write_file(path, "dear", 4);
	snprintf(path, sizeof(path), "%s/full", t.top);
	cr_assert_eq(rfs_vault_create(path, "x", 1, &kdf, "x"), -EEXIST, "not over files");
	snprintf(path, sizeof(path), "%s/empty", t.top);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(rfs_vault_create(path, "x", 1, &kdf, "x"), 0, "an empty folder will do");
	snprintf(path, sizeof(path), "%s/no/such/parent", t.top);
	cr_assert_eq(rfs_vault_create(path, "x", 1, &kdf, "x"), -ENOENT);
	test_vault_remove(&t);
}

Test(vault, what_is_not_a_vault_does_not_open)
{
	struct test_vault t;
	struct rfs_vault *v = NULL;
	char err[256], path[160];

	test_vault_make(&t, false);
	snprintf(path, sizeof(path), "%s/missing", t.top);
	cr_assert_eq(open_vault(path, TEST_PASSPHRASE, 0, &v, err), -ENOENT);
	snprintf(path, sizeof(path), "%s/plain", t.top);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_lt(open_vault(path, TEST_PASSPHRASE, 0, &v, err), 0);
	cr_assert_null(v);
	/* A recfs.conf that is not one: the library says which line is wrong. */
	snprintf(path, sizeof(path), "%s/plain/" RFS_CONF_NAME, t.top);
	test_write_file(path, "this is not a vault\n", 20);
	snprintf(path, sizeof(path), "%s/plain", t.top);
	cr_assert_lt(open_vault(path, TEST_PASSPHRASE, 0, &v, err), 0);
	cr_assert_null(v);
	cr_assert_neq(err[0], '\0');
	test_vault_remove(&t);
}
