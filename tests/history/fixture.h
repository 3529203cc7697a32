/*
** fixture: real vaults for the history tests, written the way the daemon
** writes live/ (real keys, real content sealing, real names), and a real git.
** Never mocks. Must never: leave a vault outside /tmp.
*/
#ifndef RECFS_TESTS_HISTORY_FIXTURE_H
#define RECFS_TESTS_HISTORY_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "fs/history/history.h"
#include "fs/vault.h"

struct fx {
	char dir[64];                     /* the vault */
	struct rfs_vault *v;
	struct rfs_history *h;
};

static inline int fx_rm(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st; (void)f; (void)w;
	return remove(p);
}

static inline int fx_open_vault(struct fx *x)
{
	char err[256];
	return rfs_vault_open(x->dir, "pw", 2, RFS_OPEN_LOCK, &x->v, err, sizeof err);
}

/* A new vault in /tmp; history opened writable. 0 or -errno. */
static inline int fx_new(struct fx *x)
{
	struct rfs_kdf kdf;
	memset(x, 0, sizeof *x);
	if (rfs_secmem_init() < 0)
		return -EIO;
	snprintf(x->dir, sizeof x->dir, "/tmp/recfs-hist-XXXXXX");
	if (!mkdtemp(x->dir))
		return -errno;
	rfs_keyslot_kdf_insecure_fast(&kdf);
	int rc = rfs_vault_create(x->dir, "pw", 2, &kdf, "test");
	if (rc == 0)
		rc = fx_open_vault(x);
	struct rfs_who who = { "jsmith", "Jane Smith", "laptop-7" };
	if (rc == 0)
		rc = rfs_history_open(x->v, &who, 0, &x->h, NULL, 0);
	return rc;
}

static inline void fx_close_history(struct fx *x)
{
	rfs_history_close(x->h);
	x->h = NULL;
}

static inline void fx_free(struct fx *x)
{
	fx_close_history(x);
	rfs_vault_close(x->v);
	x->v = NULL;
	nftw(x->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int fx_root_dirid(struct fx *x, uint8_t dirid[16])
{
	int fd = openat(x->v->live_fd, RFS_DIRID_FILE, O_RDONLY);
	int rc = fd >= 0 && read(fd, dirid, 16) == 16 ? 0 : -EIO;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The backing name of a clear name in live/'s root. */
static inline int fx_backing(struct fx *x, const char *name, char backing[256])
{
	uint8_t dirid[16];
	char text[RFS_ENC_NAME_MAX + 1];
	if (fx_root_dirid(x, dirid) < 0 || rfs_vault_name_seal(x->v, dirid, name, text, sizeof text) < 0)
		return -EIO;
	rfs_name_backing(backing, text);
	return 0;
}

/* Seal plaintext into live/<backing> (whole file), with the given id/key
** (new ones when *fresh). */
static inline int fx_write_file(struct fx *x, const char *backing, const uint8_t *data, size_t len,
                                uint8_t id[16], uint8_t *key, int fresh)
{
	if (fresh && rfs_keystore_create(x->v->ks, id, key) < 0)
		return -EIO;
	int fd = openat(x->v->live_fd, backing, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	struct rfs_header hd = { RFS_CONTENT_VERSION, len ? RFS_HDR_NONEMPTY : 0, { 0 } };
	memcpy(hd.file_id, id, 16);
	uint8_t hdr[RFS_HEADER_SIZE], slot[RFS_SLOT_SIZE];
	rfs_content_header_seal(hdr, &hd, key);
	int rc = pwrite(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr ? 0 : -EIO;
	uint64_t nblocks = (len + RFS_BLOCK_SIZE - 1) / RFS_BLOCK_SIZE;
	for (uint64_t i = 0; i < nblocks && rc == 0; i++) {
		size_t n = len - i * RFS_BLOCK_SIZE < RFS_BLOCK_SIZE ? len - i * RFS_BLOCK_SIZE : RFS_BLOCK_SIZE;
		rfs_content_block_seal(slot, data + i * RFS_BLOCK_SIZE, n, i, i + 1 == nblocks, id, key);
		if (pwrite(fd, slot, n + RFS_BLOCK_OVERHEAD, (off_t)rfs_content_slot_offset(i)) != (ssize_t)(n + RFS_BLOCK_OVERHEAD))
			rc = -EIO;
	}
	close(fd);
	return rc;
}

/* Re-seal one full block i (not the last) of live/<backing>. */
static inline int fx_write_block(struct fx *x, const char *backing, uint64_t i, const uint8_t *data,
                                 const uint8_t id[16], const uint8_t *key)
{
	uint8_t slot[RFS_SLOT_SIZE];
	rfs_content_block_seal(slot, data, RFS_BLOCK_SIZE, i, false, id, key);
	int fd = openat(x->v->live_fd, backing, O_WRONLY);
	if (fd < 0)
		return -errno;
	int rc = pwrite(fd, slot, sizeof slot, (off_t)rfs_content_slot_offset(i)) == (ssize_t)sizeof slot ? 0 : -EIO;
	close(fd);
	return rc;
}

static inline int fx_record(struct fx *x, enum rfs_save_kind kind, const char *backing,
                            const char *clear, const uint8_t id[16], uint64_t size,
                            const struct rfs_range *r, size_t nr)
{
	struct rfs_save s = { .kind = kind, .type = RFS_OBJ_FILE, .cipher_path = backing,
	                      .clear_path = clear, .mode = S_IFREG | 0640, .size = size,
	                      .ranges = r, .nranges = nr, .fd = -1 };
	if (id)
		memcpy(s.file_id, id, 16);
	return rfs_history_record(x->h, &s);
}

/* Run a shell command; its exit status. */
static inline int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int fx_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The number a shell command prints; -1 when it prints none. */
static inline long fx_sh_number(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	long n = -1;
	if (f && fscanf(f, "%ld", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

/* Bytes under history.git/objects. */
static inline long fx_objects_bytes(const char *vault)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "du -sb %s/history.git/objects | cut -f1", vault);
	return fx_sh_number(cmd);
}

/* Packs (.pack files) in history.git/objects/pack; -1 when unreadable. */
static inline long fx_count_packs(const char *vault)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "ls %s/history.git/objects/pack | grep -c '\\.pack$'", vault);
	return fx_sh_number(cmd);
}

/* Read the plaintext of path at rev into buf; returns the length or -errno. */
static inline long fx_show(struct fx *x, const char *rev, const char *path, uint8_t *buf, size_t cap)
{
	char tmpl[] = "/tmp/recfs-show-XXXXXX";
	int fd = mkstemp(tmpl);
	unlink(tmpl);
	int rc = rfs_history_read(x->h, rev, path, fd);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	long n = pread(fd, buf, cap, 0);
	close(fd);
	return n;
}

#endif
