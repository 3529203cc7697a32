/* Unit tests of fs/inode's descriptor cache, on a real folder tree under /tmp:
** bounded however many inodes are known, reopened through the parent after a
** folder rename, never handing out another file's descriptor, and keeping an
** unlinked file reachable while its descriptor is in use. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/inode.h"

static char top[64];
static int top_fd = -1;
static struct rfs_itable it;

static void setup(void)
{
	snprintf(top, sizeof(top), "/tmp/recfs-unit-inode.XXXXXX");
	cr_assert_not_null(mkdtemp(top));
	top_fd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(top_fd, 0);
	cr_assert_eq(rfs_inode_table_init(&it, top_fd), 0);
}

static void teardown(void)
{
	char cmd[128];

	rfs_inode_table_destroy(&it);     /* closes top_fd */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(inode, .init = setup, .fini = teardown);

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Make dir/name (a file, or a folder when folder is set) and look it up. */
static struct rfs_inode *make(struct rfs_inode *dir, const char *name, bool folder)
{
	struct rfs_inode *in = NULL;
	struct stat st;
	int dfd = rfs_inode_get_fd(&it, dir);

	cr_assert_geq(dfd, 0);
	if (folder) {
		cr_assert_eq(mkdirat(dfd, name, 0700), 0, "mkdir %s: %s", name, strerror(errno));
	} else {
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		cr_assert_geq(fd, 0, "create %s: %s", name, strerror(errno));
		cr_assert_eq(write(fd, name, strlen(name)), (ssize_t)strlen(name));
		close(fd);
	}
	cr_assert_eq(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert_eq(rfs_inode_lookup(&it, dir, name, name, &st, &in), 0);
	rfs_inode_put_fd(&it, dir);
	return in;
}

/* The descriptor the cache gives for in is in's own file. */
static void assert_reaches(struct rfs_inode *in)
{
	struct stat st;
	int fd = rfs_inode_get_fd(&it, in);

	cr_assert_geq(fd, 0, "no descriptor: %s", strerror(-fd));
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert(st.st_dev == in->dev && st.st_ino == in->ino, "another file's descriptor");
	rfs_inode_put_fd(&it, in);
}

Test(inode, thousands_of_known_files_hold_a_bounded_number_of_descriptors)
{
	enum { FOLDERS = 5, FILES = 1000 };
	static struct rfs_inode *files[FOLDERS * FILES];
	struct rfs_inode *dirs[FOLDERS];
	size_t before = open_fds(), i, j;
	char name[32];

	for (i = 0; i < FOLDERS; i++) {
		snprintf(name, sizeof(name), "d%zu", i);
		dirs[i] = make(&it.root, name, true);
		for (j = 0; j < FILES; j++) {
			snprintf(name, sizeof(name), "f%zu", j);
			files[i * FILES + j] = make(dirs[i], name, false);
		}
	}
	for (i = 0; i < FOLDERS * FILES; i++)
		assert_reaches(files[i]);
	cr_assert_leq(rfs_inode_table_cached_fds(&it), it.fd_cap, "%zu cached, bound %zu",
	              rfs_inode_table_cached_fds(&it), it.fd_cap);
	cr_assert_leq(open_fds(), before + it.fd_cap, "%zu descriptors open for %d known files",
	              open_fds() - before, FOLDERS * FILES);
	for (i = 0; i < FOLDERS * FILES; i++)
		rfs_inode_forget(&it, files[i], 1);
	for (i = 0; i < FOLDERS; i++)
		rfs_inode_forget(&it, dirs[i], 1);
	cr_assert_eq(rfs_inode_table_cached_fds(&it), 0);
	cr_assert_eq(it.count, 0);
}

Test(inode, a_file_is_reached_again_after_its_folder_was_renamed)
{
	struct rfs_inode *dir = make(&it.root, "old", true), *f = make(dir, "f", false);

	it.fd_cap = 0;                 /* nothing unused stays cached */
	assert_reaches(f);
	cr_assert_eq(rfs_inode_table_cached_fds(&it), 0);
	cr_assert_eq(renameat(top_fd, "old", top_fd, "new"), 0);
	rfs_inode_rename(&it, dir, &it.root, "new", "new");
	assert_reaches(f);
	rfs_inode_forget(&it, f, 1);
	rfs_inode_forget(&it, dir, 1);
}

Test(inode, a_name_that_now_names_another_file_gives_no_descriptor)
{
	struct rfs_inode *a = make(&it.root, "a", false), *b = make(&it.root, "b", false);

	it.fd_cap = 0;
	/* Swapped on disk, not (yet) in the tree: "a" is b's file now. */
	cr_assert_eq(renameat2(top_fd, "a", top_fd, "b", RENAME_EXCHANGE), 0);
	cr_assert_eq(rfs_inode_get_fd(&it, a), -ENOENT);
	rfs_inode_rename(&it, a, &it.root, "b", "b");
	rfs_inode_rename(&it, b, &it.root, "a", "a");
	assert_reaches(a);
	assert_reaches(b);
	rfs_inode_forget(&it, a, 1);
	rfs_inode_forget(&it, b, 1);
}

Test(inode, an_unlinked_file_in_use_stays_reachable)
{
	struct rfs_inode *f = make(&it.root, "f", false), *g = make(&it.root, "g", false);
	int held = rfs_inode_get_fd(&it, f);

	it.fd_cap = 0;
	cr_assert_geq(held, 0);
	cr_assert_eq(unlinkat(top_fd, "f", 0), 0);
	rfs_inode_rename(&it, f, NULL, NULL, NULL);
	assert_reaches(g);             /* the cache turns over */
	assert_reaches(f);             /* still the descriptor in use */
	rfs_inode_put_fd(&it, f);
	assert_reaches(f);             /* kept: nothing could open it again */
	rfs_inode_forget(&it, f, 1);
	cr_assert_eq(unlinkat(top_fd, "g", 0), 0);
	rfs_inode_rename(&it, g, NULL, NULL, NULL);
	cr_assert_eq(rfs_inode_get_fd(&it, g), -ENOENT, "unlinked and not in use: gone");
	rfs_inode_forget(&it, g, 1);
	cr_assert_eq(it.count, 0);
}

Test(inode, a_deep_folder_is_reached_from_the_root)
{
	enum { DEPTH = 300 };
	static struct rfs_inode *chain[DEPTH];
	struct rfs_inode *dir = &it.root;
	int i;

	for (i = 0; i < DEPTH; i++)
		dir = chain[i] = make(dir, "d", true);
	it.fd_cap = 0;
	assert_reaches(&it.root);      /* its release closes every unused descriptor */
	cr_assert_eq(rfs_inode_table_cached_fds(&it), 0);
	assert_reaches(chain[DEPTH - 1]);
	/* The kernel forgets the folders on the way; the deepest still holds them. */
	for (i = 0; i < DEPTH - 1; i++)
		rfs_inode_forget(&it, chain[i], 1);
	assert_reaches(chain[DEPTH - 1]);
	rfs_inode_forget(&it, chain[DEPTH - 1], 1);
	cr_assert_eq(it.count, 0);
	cr_assert_eq(rfs_inode_table_cached_fds(&it), 0);
}
