/* Unit tests of fs/dname: folder entry names on disk (sealed names, the side
** file of a long one, folder ids), in a real folder under /tmp with real keys. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/io.h"
#include "fs/dname.h"
#include "tests/crypto/test_helpers.h"

struct folder {
	char top[64];
	int fd;
	struct rfs_keys *k;
	uint8_t dirid[RFS_DIRID_SIZE];
	struct rfs_folder_keys *fk;    /* format 2: the vault-wide keys, for dirid */
};

static void folder_make(struct folder *f)
{
	f->k = test_random_keys();
	test_make_tmpdir(f->top);
	f->fd = open(f->top, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(f->fd, 0);
	randombytes_buf(f->dirid, sizeof(f->dirid));
	f->fk = sodium_malloc(sizeof(*f->fk));
	cr_assert_not_null(f->fk);
	rfs_folder_keys_from_vault(f->fk, f->dirid, f->k);
}

static void folder_remove(struct folder *f)
{
	close(f->fd);
	test_remove_tree(f->top);
	sodium_free(f->fk);
	rfs_keys_free(f->k);
}

/* Seal name, create its backing entry (and side file), open it back. */
static void create_entry(struct folder *f, const char *name, struct rfs_sealed_name *sn)
{
	int fd;

	cr_assert_eq(rfs_dname_seal(f->fk, name, sn), 0);
	cr_assert_eq(rfs_dname_write_long(f->fd, sn), 0);
	fd = openat(f->fd, sn->backing, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0, "backing name %s", sn->backing);
	close(fd);
}

static bool entry_exists(const struct folder *f, const char *name)
{
	struct stat st;

	return fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void long_name(char out[201])
{
	memset(out, 'x', 200);
	memcpy(out, "Minutes of the ", 15);
	out[200] = '\0';
}

Test(dname, a_short_name_is_its_sealed_text_and_opens_back)
{
	struct folder f;
	struct rfs_sealed_name sn;
	char clear[256];

	folder_make(&f);
	create_entry(&f, "care-plan.md", &sn);
	cr_assert_not(sn.is_long);
	cr_assert_str_eq(sn.backing, sn.text);
	cr_assert_null(strstr(sn.backing, "care"), "no clear text in %s", sn.backing);
	cr_assert_eq(rfs_dname_open(f.fk, f.fd, sn.backing, clear), 0);
	cr_assert_str_eq(clear, "care-plan.md");
	folder_remove(&f);
}

Test(dname, a_name_seals_differently_in_another_folder)
{
	struct folder f;
	struct rfs_sealed_name a, b;
	uint8_t other_id[RFS_DIRID_SIZE];
	struct rfs_folder_keys *other;
	char clear[256];

	folder_make(&f);
	other = sodium_malloc(sizeof(*other));
	cr_assert_not_null(other);
	memcpy(other_id, f.dirid, sizeof(other_id));
	other_id[0] ^= 1;
	rfs_folder_keys_from_vault(other, other_id, f.k);
	cr_assert_eq(rfs_dname_seal(f.fk, "report.pdf", &a), 0);
	cr_assert_eq(rfs_dname_seal(f.fk, "report.pdf", &b), 0);
	cr_assert_str_eq(a.backing, b.backing, "the same folder: the same backing name");
	cr_assert_eq(rfs_dname_seal(other, "report.pdf", &b), 0);
	cr_assert_str_neq(a.backing, b.backing);
	/* Moved into the other folder as is, it does not open there. */
	create_entry(&f, "report.pdf", &a);
	cr_assert_eq(rfs_dname_open(other, f.fd, a.backing, clear), -EIO);
	sodium_free(other);
	folder_remove(&f);
}

Test(dname, a_long_name_is_hashed_with_its_sealed_text_beside_it)
{
	struct folder f;
	struct rfs_sealed_name sn;
	char name[201], clear[256], side[300];

	folder_make(&f);
	long_name(name);
	create_entry(&f, name, &sn);
	cr_assert(sn.is_long);
	cr_assert_gt(strlen(sn.text), 255);
	cr_assert_eq(strlen(sn.backing), RFS_LONG_NAME_LEN);
	cr_assert_eq(strncmp(sn.backing, RFS_LONG_PREFIX, strlen(RFS_LONG_PREFIX)), 0);
	snprintf(side, sizeof(side), "%s" RFS_LONG_SUFFIX, sn.backing);
	cr_assert(entry_exists(&f, side), "the side file %s", side);
	cr_assert_eq(rfs_dname_open(f.fk, f.fd, sn.backing, clear), 0);
	cr_assert_str_eq(clear, name);
	rfs_dname_remove_long(f.fd, sn.backing);
	cr_assert_not(entry_exists(&f, side));
	cr_assert_lt(rfs_dname_open(f.fk, f.fd, sn.backing, clear), 0,
	             "without its side file a long name cannot be opened");
	folder_remove(&f);
}

Test(dname, a_tampered_side_file_does_not_open)
{
	struct folder f;
	struct rfs_sealed_name sn;
	char name[201], clear[256], side[300];
	char c;
	int fd;

	folder_make(&f);
	long_name(name);
	create_entry(&f, name, &sn);
	snprintf(side, sizeof(side), "%s" RFS_LONG_SUFFIX, sn.backing);
	fd = openat(f.fd, side, O_RDWR);
	if (fd < 0) {
		cr_assert_eq(fchmodat(f.fd, side, 0600, 0), 0);
		fd = openat(f.fd, side, O_RDWR);
	}
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, 40), 1);
	c = c == 'A' ? 'B' : 'A';
	cr_assert_eq(pwrite(fd, &c, 1, 40), 1);
	close(fd);
	cr_assert_eq(rfs_dname_open(f.fk, f.fd, sn.backing, clear), -EIO);
	folder_remove(&f);
}

Test(dname, a_forged_short_name_does_not_open)
{
	struct folder f;
	struct rfs_sealed_name sn;
	char clear[256];

	folder_make(&f);
	cr_assert_eq(rfs_dname_seal(f.fk, "budget.xlsx", &sn), 0);
	sn.backing[3] = sn.backing[3] == 'A' ? 'B' : 'A';
	cr_assert_eq(rfs_dname_open(f.fk, f.fd, sn.backing, clear), -EIO);
	folder_remove(&f);
}

Test(dname, names_that_cannot_be_entries_are_refused)
{
	struct folder f;
	struct rfs_sealed_name sn;
	char name[300];

	folder_make(&f);
	cr_assert_eq(rfs_dname_seal(f.fk, ".", &sn), -EINVAL);
	cr_assert_eq(rfs_dname_seal(f.fk, "..", &sn), -EINVAL);
	cr_assert_eq(rfs_dname_seal(f.fk, "a/b", &sn), -EINVAL);
	cr_assert_eq(rfs_dname_seal(f.fk, "", &sn), -EINVAL);
	memset(name, 'n', 256);
	name[256] = '\0';
	cr_assert_eq(rfs_dname_seal(f.fk, name, &sn), -ENAMETOOLONG);
	name[255] = '\0';
	cr_assert_eq(rfs_dname_seal(f.fk, name, &sn), 0, "255 bytes is NAME_MAX: allowed");
	folder_remove(&f);
}

Test(dname, a_folder_id_is_written_once)
{
	struct folder f;
	uint8_t got[RFS_DIRID_SIZE];
	int fd;

	folder_make(&f);
	cr_assert_eq(rfs_dname_write_dirid(f.fd, f.dirid), 0);
	cr_assert_eq(rfs_dname_write_dirid(f.fd, f.dirid), -EEXIST);
	fd = openat(f.fd, RFS_DIRID_FILE, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	cr_assert_arr_eq(got, f.dirid, sizeof(got));
	cr_assert_eq(rfs_io_fsync_dir(f.fd, "."), 0);
	folder_remove(&f);
}

Test(dname, a_folder_with_only_its_id_is_empty_when_asked_so)
{
	struct folder f;
	struct rfs_sealed_name sn;

	folder_make(&f);
	cr_assert_eq(rfs_dname_folder_empty(f.fd, false), 0);
	cr_assert_eq(rfs_dname_write_dirid(f.fd, f.dirid), 0);
	cr_assert_eq(rfs_dname_folder_empty(f.fd, true), 0);
	cr_assert_eq(rfs_dname_folder_empty(f.fd, false), -ENOTEMPTY);
	create_entry(&f, "letter.odt", &sn);
	cr_assert_eq(rfs_dname_folder_empty(f.fd, true), -ENOTEMPTY);
	folder_remove(&f);
}

/* A power cut between a long name's durable side file and its create leaves the side file
** alone; the folder must still be removable, and a side file whose entry exists must stay. */
Test(dname, a_side_file_without_its_entry_does_not_keep_a_folder_from_going)
{
	struct folder f;
	struct rfs_sealed_name kept, lost;
	char name[201], side[300];
	uint8_t got[RFS_DIRID_SIZE];

	folder_make(&f);
	cr_assert_eq(rfs_dname_write_dirid(f.fd, f.dirid), 0);
	long_name(name);
	create_entry(&f, name, &kept);
	name[0] = 'z';
	create_entry(&f, name, &lost);
	cr_assert_eq(unlinkat(f.fd, lost.backing, 0), 0);      /* the cut lost the entry */
	cr_assert_eq(rfs_dname_take_dirid(f.fd, got), -ENOTEMPTY, "a real entry is still there");
	snprintf(side, sizeof(side), "%s" RFS_LONG_SUFFIX, kept.backing);
	cr_assert(entry_exists(&f, side), "the side file of an entry that exists stays");
	cr_assert_eq(unlinkat(f.fd, kept.backing, 0), 0);
	rfs_dname_remove_long(f.fd, kept.backing);
	cr_assert_eq(rfs_dname_take_dirid(f.fd, got), 0, "only an orphaned side file is left");
	cr_assert_arr_eq(got, f.dirid, sizeof(got));
	snprintf(side, sizeof(side), "%s" RFS_LONG_SUFFIX, lost.backing);
	cr_assert_not(entry_exists(&f, side));
	folder_remove(&f);
}
