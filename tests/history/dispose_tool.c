/*
** dispose_tool: for the integration tests only, what a disposal does to an
** unmounted vault once the record has left live/: list every id ever inside
** the folder at PATH (rfs_history_subtree), write VAULT/disposed/N (fsync'd,
** then renamed in), and shred each listed key. Prints "files folders versions
** count kept".
** Must never: be installed, or run on a mounted vault (it takes the lock).
** Usage: dispose_tool VAULT PASSFILE PATH N
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/io.h"
#include "crypto/secmem.h"
#include "fs/history/history.h"
#include "fs/vault.h"

struct found {
	uint8_t dirid[16];
	bool ok;
};

static int newest_folder(const struct rfs_version *v, void *arg)
{
	struct found *f = arg;
	if (v->type != RFS_OBJ_DIR)
		return 0;
	memcpy(f->dirid, v->file_id, 16);
	f->ok = true;
	return 1;
}

static int write_list(struct rfs_vault *v, const char *n, const struct rfs_subtree *s)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "disposed/.%s.tmp", n);
	if (mkdirat(v->dirfd, "disposed", 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(v->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = rfs_io_write_all(fd, s->ids, s->count * 16);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	char name[64];
	snprintf(name, sizeof name, "disposed/%s", n);
	if (rc == 0 && renameat(v->dirfd, tmp, v->dirfd, name) < 0)
		rc = -errno;
	return rc == 0 ? rfs_io_fsync_dir(v->dirfd, "disposed") : rc;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: dispose_tool VAULT PASSFILE PATH N\n");
		return 2;
	}
	char pass[512] = "", err[512] = "";
	FILE *pf = fopen(argv[2], "r");
	if (!pf || !fgets(pass, sizeof pass, pf)) {
		fprintf(stderr, "cannot read %s\n", argv[2]);
		return 2;
	}
	fclose(pf);
	pass[strcspn(pass, "\n")] = 0;
	struct rfs_vault *v = NULL;
	struct rfs_history *h = NULL;
	struct rfs_subtree s = { 0 };
	struct found f = { { 0 }, false };
	int rc = rfs_secmem_init() < 0 ? -EIO : 0;
	if (rc == 0)
		rc = rfs_vault_open(argv[1], pass, strlen(pass), RFS_OPEN_LOCK, &v, err, sizeof err);
	if (rc == 0)
		rc = rfs_history_open(v, NULL, RFS_HISTORY_READONLY, &h, err, sizeof err);
	if (rc == 0 && (rc = rfs_history_log(h, argv[3], 0, newest_folder, &f)) > 0)
		rc = 0;                           /* the callback stopped at the newest */
	if (rc == 0 && !f.ok)
		rc = -ENOENT;
	if (rc == 0)
		rc = rfs_history_subtree(h, f.dirid, &s);
	if (rc == 0)
		rc = write_list(v, argv[4], &s);
	for (size_t i = 0; rc == 0 && i < s.count; i++) {
		int d = rfs_keystore_destroy(v->ks, s.ids[i]);
		rc = d == -ENOENT ? 0 : d;
	}
	if (rc == 0)
		printf("%zu %zu %zu %zu %zu\n", s.files, s.folders, s.versions, s.count, s.kept);
	else
		fprintf(stderr, "dispose_tool: %s: %s %s\n", argv[3], strerror(-rc), err);
	rfs_subtree_free(&s);
	rfs_history_close(h);
	rfs_vault_close(v);
	return rc == 0 ? 0 : 1;
}
