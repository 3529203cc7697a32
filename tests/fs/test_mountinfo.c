/* Unit tests of fs/mountinfo: finding mounts in /proc/self/mountinfo, whose
** fields escape space, tab, newline and backslash as octal (\040 ...), and
** making paths absolute without touching their last component. The mounts
** are real tmpfs mounts in a mount namespace of the test's own (root only). */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/mountinfo.h"
#include "tests/crypto/test_helpers.h"

/* A mount namespace of this test process alone: its mounts vanish with it. */
static void private_mounts(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0)
		cr_skip_test("needs root and mount namespaces");
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
}

#define DIR_SZ 256

static void make_dir(char out[DIR_SZ], const char *top, const char *name)
{
	snprintf(out, DIR_SZ, "%s/%s", top, name);
	cr_assert_eq(mkdir(out, 0700), 0, "mkdir %s", out);
}

Test(mountinfo, a_mount_point_and_source_with_escaped_characters_read_back_as_they_are)
{
	static const char *const odd[] = { "with space", "with\ttab", "with\nnewline", "back\\slash",
	                                   "all \t\n\\ four" };
	char top[64], dir[DIR_SZ];
	struct rfs_mount_entry m;

	private_mounts();
	test_make_tmpdir(top);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		make_dir(dir, top, odd[i]);
		cr_assert_eq(mount(odd[i], dir, "tmpfs", 0, "size=64k"), 0, "mount %s", dir);
		cr_assert_eq(rfs_mountinfo_find(dir, false, &m), 0, "find %s", dir);
		cr_assert_str_eq(m.mountpoint, dir);
		cr_assert_str_eq(m.source, odd[i]);
		cr_assert_str_eq(m.fstype, "tmpfs");
		cr_assert_neq(strchr(m.dev, ':'), NULL, "dev is MAJ:MIN, not %s", m.dev);
		cr_assert_eq(umount(dir), 0);
		cr_assert_eq(rfs_mountinfo_find(dir, false, &m), -ENOENT, "unmounted %s", dir);
	}
	test_remove_tree(top);
}

Test(mountinfo, the_last_mount_on_a_mount_point_is_the_one_found)
{
	char top[64], dir[DIR_SZ];
	struct rfs_mount_entry m;

	private_mounts();
	test_make_tmpdir(top);
	make_dir(dir, top, "m");
	cr_assert_eq(mount("first", dir, "tmpfs", 0, "size=64k"), 0);
	cr_assert_eq(mount("second", dir, "tmpfs", 0, "size=64k"), 0);
	cr_assert_eq(rfs_mountinfo_find(dir, false, &m), 0);
	cr_assert_str_eq(m.source, "second");
	cr_assert_eq(umount(dir), 0);
	cr_assert_eq(rfs_mountinfo_find(dir, false, &m), 0);
	cr_assert_str_eq(m.source, "first");
	cr_assert_eq(umount(dir), 0);
	test_remove_tree(top);
}

Test(mountinfo, only_recfs_mounts_hold_a_path)
{
	char top[64], dir[DIR_SZ], inside[DIR_SZ + 16];
	struct rfs_mount_entry m;

	private_mounts();
	test_make_tmpdir(top);
	make_dir(dir, top, "m");
	cr_assert_eq(mount("not-recfs", dir, "tmpfs", 0, "size=64k"), 0);
	snprintf(inside, sizeof(inside), "%s/a/b", dir);
	cr_assert_eq(rfs_mountinfo_find(inside, true, &m), -ENOENT, "a tmpfs is not a recfs mount");
	cr_assert_eq(rfs_mountinfo_find(dir, false, &m), 0, "but it is a mount point");
	cr_assert_eq(umount(dir), 0);
	test_remove_tree(top);
}

Test(mountinfo, a_path_is_made_absolute_without_resolving_its_last_component)
{
	char top[64], dir[DIR_SZ], link[DIR_SZ + 32], out[PATH_MAX], want[PATH_MAX], cwd[PATH_MAX];

	test_make_tmpdir(top);
	make_dir(dir, top, "real");
	snprintf(link, sizeof(link), "%s/link", top);
	cr_assert_eq(symlink(dir, link), 0);
	/* A symbolic link names itself; the folders above it are resolved. */
	cr_assert_eq(rfs_mountinfo_abspath(link, out), 0);
	cr_assert_str_eq(out, link);
	snprintf(want, sizeof(want), "%s/gone/deeper", dir);
	snprintf(link, sizeof(link), "%s/link/gone/deeper", top);
	cr_assert_eq(rfs_mountinfo_abspath(link, out), 0, "a path that does not exist (yet)");
	cr_assert_str_eq(out, want);
	snprintf(link, sizeof(link), "%s/real///", top);
	cr_assert_eq(rfs_mountinfo_abspath(link, out), 0);
	cr_assert_str_eq(out, dir, "trailing slashes go");
	snprintf(link, sizeof(link), "%s/real/..", top);
	cr_assert_eq(rfs_mountinfo_abspath(link, out), 0);
	cr_assert_str_eq(out, top);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(rfs_mountinfo_abspath("x", out), 0);
	snprintf(want, sizeof(want), "%s/x", dir);
	cr_assert_str_eq(out, want, "relative to the working folder");
	cr_assert_eq(rfs_mountinfo_abspath(".", out), 0);
	cr_assert_str_eq(out, dir);
	cr_assert_eq(chdir(cwd), 0);
	cr_assert_eq(rfs_mountinfo_abspath("", out), -ENAMETOOLONG);
	test_remove_tree(top);
}
