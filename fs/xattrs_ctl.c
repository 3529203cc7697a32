/*
** xattrs_ctl: the control verb xattrs, and its client, for recfs show --xattrs on a mounted
** vault.
**
**   xattrs REV PATH   (with a descriptor of a memfd or regular file) -> ok; the user.*
**                     attributes PATH had at REV written into the descriptor: u8 recorded
**                     (the version keeps them), u32le count, then per attribute str name
**                     ("user.NAME"), u32le length, the value in clear
**
** Owns: that encoding on both sides. Only the mounting user and root may ask (as for read).
** Must never: write into a pipe (a stalled reader would hold the daemon's thread), nor into a
** file the client did not pass, nor keep a clear value after the reply (wiped).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/io.h"
#include "crypto/secmem.h"
#include "fs/control.h"
#include "fs/history/bytes.h"
#include "fs/history/history.h"
#include "fs/ops.h"

static int encode(const struct rfs_xattr_set *set, int fd)
{
	struct rfs_bytes b = { 0 };
	int rc;

	rfs_bytes_u8(&b, set->recorded);
	rfs_bytes_u32(&b, (uint32_t)set->count);
	for (size_t i = 0; i < set->count; i++) {
		rfs_bytes_str(&b, set->v[i].name);
		rfs_bytes_u32(&b, (uint32_t)set->v[i].len);
		rfs_bytes_put(&b, set->v[i].value, set->v[i].len);
	}
	rc = b.err ? b.err : rfs_io_pwrite_all(fd, b.p, b.len, 0);
	rfs_bytes_free(&b);    /* wiped */
	return rc;
}

static void serve_xattrs(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                         int passed_fd, FILE *out)
{
	struct rfs_xattr_set set = { 0 };
	struct stat st;
	int rc = passed_fd < 0 || fstat(passed_fd, &st) != 0 || !S_ISREG(st.st_mode) ? -EBADF : 0;

	(void)peer;
	(void)n;
	if (rc == 0 && !fs->history)
		rc = -EROFS;
	if (rc == 0)
		rc = rfs_history_flush(fs->history);
	if (rc == 0)
		rc = rfs_history_xattrs(fs->history, fld[1], fld[2], &set);
	if (rc == 0)
		rc = encode(&set, passed_fd);
	rfs_control_reply(out, rc, NULL);
	rfs_history_xattrs_free(&set);
}

const struct rfs_control_verb rfs_xattrs_verbs[] = {
	{ "xattrs", 2, 2, RFS_VERB_OWNER, serve_xattrs },
	{ 0 },
};

static int decode(const uint8_t *p, size_t len, struct rfs_xattr_set *set)
{
	struct rfs_reader r = { .p = p, .len = len };
	bool recorded = rfs_bytes_read_u8(&r) != 0;
	uint32_t count = rfs_bytes_read_u32(&r);

	set->v = count && count <= 65536 ? calloc(count, sizeof(*set->v)) : NULL;
	if (count && !set->v)
		return -EIO;
	for (uint32_t i = 0; i < count && !r.err; i++) {
		struct rfs_xattr *x = &set->v[set->count];
		char *name = rfs_bytes_read_str(&r);
		uint32_t vlen = rfs_bytes_read_u32(&r);

		if (!name || strlen(name) >= sizeof(x->name) || r.err || vlen > r.len - r.off ||
		    !(x->value = malloc(vlen ? vlen : 1))) {
			free(name);
			return -EIO;
		}
		set->count++;
		strcpy(x->name, name);
		free(name);
		rfs_bytes_read(&r, x->value, vlen);
		x->len = vlen;
	}
	set->recorded = recorded;
	return r.err || r.off != r.len ? -EIO : 0;
}

static int on_ok(char **fld, int n, void *arg)
{
	(void)fld;
	(void)n;
	(void)arg;
	return 0;
}

int rfs_control_xattrs(const char *vault_path, const char *rev, const char *clear_path,
                       struct rfs_xattr_set *set)
{
	const char *args[] = { "xattrs", rev, clear_path };
	int mem = memfd_create("recfs-xattrs", MFD_CLOEXEC), rc = mem < 0 ? -errno : 0;
	struct stat st;
	uint8_t *buf = NULL;

	memset(set, 0, sizeof(*set));
	if (rc == 0)
		rc = rfs_control_call(vault_path, mem, args, 3, on_ok, NULL, NULL, 0);
	if (rc == 0 && fstat(mem, &st) != 0)
		rc = -errno;
	if (rc == 0 && !(buf = malloc((size_t)st.st_size + 1)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = rfs_io_pread_all(mem, buf, (size_t)st.st_size, 0);
	if (rc == 0)
		rc = decode(buf, (size_t)st.st_size, set);
	if (buf) {
		rfs_secmem_wipe(buf, (size_t)st.st_size);
		free(buf);
	}
	if (mem >= 0)
		close(mem);
	if (rc < 0)
		rfs_history_xattrs_free(set);
	return rc;
}
