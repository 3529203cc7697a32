/* Unit tests of fs/closer: a descriptor handed over is closed once, by a thread of the closer
** (not the caller) while it runs, and by the caller when none runs or the queue is full; a
** drain returns only when everything handed over before it is closed; a stop closes the rest.
** The closes of a removed file free its blocks: a drain makes its space free again. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs/closer.h"

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

Test(closer, closes_at_once_when_not_started)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	rfs_closer_put(fd);
	cr_assert(!is_open(fd), "without threads the caller closes it");
	cr_assert(!rfs_closer_drain(), "nothing was left to drain");
}

Test(closer, drain_waits_for_every_close)
{
	enum { N = 3 * RFS_CLOSER_MAX };
	static int fds[N];

	cr_assert_eq(rfs_closer_start(), 0);
	for (int i = 0; i < N; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fds[i], 0);
		rfs_closer_put(fds[i]);
	}
	rfs_closer_drain();
	for (int i = 0; i < N; i++)
		cr_assert(!is_open(fds[i]), "descriptor %d of %d still open after the drain", i, N);
	cr_assert(!rfs_closer_drain(), "a second drain has nothing to wait for");
	rfs_closer_stop();
}

Test(closer, stop_closes_the_rest_and_a_second_start_counts)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC), b;

	cr_assert_eq(rfs_closer_start(), 0);
	cr_assert_eq(rfs_closer_start(), 0);
	rfs_closer_put(a);
	rfs_closer_stop();               /* one start is left: still running */
	rfs_closer_drain();
	cr_assert(!is_open(a));
	b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rfs_closer_put(b);
	rfs_closer_stop();
	cr_assert(!is_open(b), "the last stop closed what it was given");
	b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rfs_closer_put(b);
	cr_assert(!is_open(b), "after the stop the caller closes it");
}

/* The close that frees an unlinked file's blocks is the closer's: before the drain its
** space is still in use, after it the space is free. */
Test(closer, drain_frees_the_space_of_a_removed_file)
{
	char dir[] = "/tmp/recfs-unit-closer.XXXXXX", path[64];
	static char buf[1 << 20];
	struct statvfs held, after;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	memset(buf, 'x', sizeof buf);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(rfs_closer_start(), 0);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(fstatvfs(fd, &held), 0);
	rfs_closer_put(fd);
	rfs_closer_drain();
	cr_assert_eq(statvfs(dir, &after), 0);
	rfs_closer_stop();
	rmdir(dir);
	/* 16 MiB came free (give or take what others on this disk wrote meanwhile). */
	cr_assert_gt((after.f_bfree - held.f_bfree) * after.f_bsize, 8u << 20,
	             "the drain left the removed file's blocks in use");
}
