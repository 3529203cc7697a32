/* Unit tests of fs/undo's record table, on a real vault folder under /tmp: IDs
** of format 3 share their last 8 bytes (the copy id), and 100,000 files of one
** copy still cost a constant time each (an untar freshens every file it makes);
** a file that was not written from empty is never taken for one that was. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/undo.h"

static char top[64];
static int top_fd = -1;
static struct rfs_undo *u;
static const uint8_t copy_id[8] = { 0x5a, 0x17, 0xc3, 0x09, 0xee, 0x42, 0x81, 0x3d };

static void setup(void)
{
	snprintf(top, sizeof(top), "/tmp/recfs-unit-undo.XXXXXX");
	cr_assert_not_null(mkdtemp(top));
	top_fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(top_fd, 0);
	cr_assert_eq(rfs_undo_open(top_fd, &u), 0);
}

static void teardown(void)
{
	char cmd[128];

	rfs_undo_close(u);
	close(top_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(undo, .init = setup, .fini = teardown);

/* The ID of slot s in this copy: slot (u64 le) then the copy id. */
static void id_of(uint64_t s, uint8_t id[16])
{
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(s >> (8 * i));
	memcpy(id + 8, copy_id, 8);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(undo, many_files_of_one_copy_cost_the_same_each)
{
	enum { N = 100000 };
	uint8_t id[16];
	double start = now(), took;

	for (uint64_t s = 1; s <= N; s++) {
		id_of(s, id);
		rfs_undo_fresh(u, id);
	}
	/* Each file written from empty is covered: no entry, no disk. */
	for (uint64_t s = 1; s <= N; s++) {
		id_of(s, id);
		cr_assert_eq(rfs_undo_begin(u, -1, id, 0, 100), 0);
		rfs_undo_end(u);
	}
	for (uint64_t s = 1; s <= N; s++) {
		id_of(s, id);
		rfs_undo_drop(u, id);
	}
	took = now() - start;
	/* In one chain (bytes 8 and 9 of the ID as the bucket) this took minutes. */
	cr_assert_lt(took, 10.0, "100,000 files of one copy took %.1f s", took);
	cr_assert_eq(faccessat(top_fd, RFS_UNDO_DIR, F_OK, 0), -1, "no entry was needed");
}

Test(undo, a_file_not_written_from_empty_gets_its_own_entry)
{
	uint8_t fresh[16], old[16], slot[60 + 4136];
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/file", top);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	memset(slot, 0xab, sizeof(slot));
	cr_assert_eq(write(fd, slot, sizeof(slot)), (ssize_t)sizeof(slot));
	for (uint64_t s = 1; s <= 2000; s++) {
		id_of(s, fresh);
		rfs_undo_fresh(u, fresh);
	}
	id_of(2001, old);                  /* same copy id, never freshened */
	cr_assert_eq(rfs_undo_begin(u, fd, old, 0, 100), 0);
	rfs_undo_end(u);
	snprintf(path, sizeof(path), "%s/%s", top, RFS_UNDO_DIR);
	cr_assert_eq(access(path, F_OK), 0, "the old file's entry was written");
	close(fd);
}
