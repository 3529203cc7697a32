/* Unit tests of fs/mount: what the daemon sets up for itself before it serves. */
#include <criterion/criterion.h>
#include <sys/resource.h>

#include "fs/mount.h"

/* The sanitizer runtimes raise the limit themselves at start, so the test
** lowers it first: only rfs_mount_raise_fd_limit can bring it back. */
Test(mount, the_fd_limit_is_raised_to_the_hard_limit)
{
	struct rlimit before, low, after;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &before), 0);
	if (before.rlim_max <= 64)
		cr_skip_test("the hard limit (%llu) leaves nothing to raise",
		             (unsigned long long)before.rlim_max);
	low = before;
	low.rlim_cur = 64;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rfs_mount_raise_fd_limit();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &after), 0);
	cr_assert_geq(after.rlim_max, before.rlim_max);
	cr_assert_eq(after.rlim_cur, after.rlim_max, "soft limit %llu, hard %llu",
	             (unsigned long long)after.rlim_cur, (unsigned long long)after.rlim_max);
}

/* Root could raise its hard limit to the kernel's nr_open; the daemon must
** not need to, and must leave the admin's hard limit as it found it. */
Test(mount, the_hard_fd_limit_is_left_alone)
{
	struct rlimit before, low, after;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &before), 0);
	if (before.rlim_max <= 64)
		cr_skip_test("the hard limit (%llu) is too low to lower",
		             (unsigned long long)before.rlim_max);
	low.rlim_cur = 64;
	low.rlim_max = before.rlim_max > 4096 ? 4096 : before.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rfs_mount_raise_fd_limit();
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &after), 0);
	cr_assert_eq(after.rlim_max, low.rlim_max, "hard limit %llu, was %llu",
	             (unsigned long long)after.rlim_max, (unsigned long long)low.rlim_max);
	cr_assert_eq(after.rlim_cur, low.rlim_max);
}
