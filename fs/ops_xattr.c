/*
** ops_xattr: extended attributes. Only user.* is stored, with its name sealed
** and its value sealed to the file it belongs to, under the keys of the
** folder it is in (a folder's own: its own keys); a change is a save.
** Must never: store a name outside user.*, or answer a value that did not
** authenticate.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "fs/ops_internal.h"
#include "fs/retention.h"
#include "fs/save.h"
#include "fs/xowner.h"

/* Whether name is one recfs stores (user.*, not bare "user."): only those need keys. */
static bool is_user_name(const char *name)
{
	return strncmp(name, XATTR_USER, XATTR_USER_LEN) == 0 && name[XATTR_USER_LEN];
}

/* What a name recfs never stores reads as: absent inside user.*, and outside
** it "not supported", as on ext4 mounted without acl. Answered with no lock
** and no disk access. The answer matters for speed: ls -l asks every entry
** for security.selinux and system.posix_acl_access (the kernel caches
** neither), and coreutils stops asking for the rest of a device once the
** answer is EOPNOTSUPP, where ENODATA cost two round trips per entry. */
static int unsupported_name(const char *name)
{
	return strncmp(name, XATTR_USER, XATTR_USER_LEN) == 0 ? -ENODATA : -EOPNOTSUPP;
}

/* The keys of in's xattrs: a folder's own, a file's from the folder it is in.
** *fk is put with rfs_vault_folder_keys_put (NULL is allowed). */
static int xattr_keys(struct rfs_fs *fs, struct rfs_inode *in, const struct rfs_folder_keys **fk,
                      const struct rfs_xattr_keys **xk)
{
	int rc;

	*fk = NULL;
	if (in->type == S_IFDIR)
		rc = rfs_ops_folder_keys(fs, in, fk);
	else
		rc = rfs_ops_parent_keys(fs, in, fk);
	if (rc == 0)
		*xk = in->type == S_IFDIR ? &(*fk)->own : &(*fk)->entries;
	return rc;
}

/* "user.<sealed>" for a clear "user.<name>"; -EOPNOTSUPP outside user.* */
static int xattr_backing(const struct rfs_xattr_keys *xk, const char *name, char *out, size_t outsz)
{
	int rc;

	if (strncmp(name, XATTR_USER, XATTR_USER_LEN) != 0 || !name[XATTR_USER_LEN])
		return -EOPNOTSUPP;
	memcpy(out, XATTR_USER, XATTR_USER_LEN);
	rc = rfs_name_xattr_seal(out + XATTR_USER_LEN, outsz - XATTR_USER_LEN, name + XATTR_USER_LEN,
	                         xk);
	if (rc < 0)
		return rc == -ENAMETOOLONG ? -ERANGE : rc;
	if (strlen(out) > XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

void rfs_ops_xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                       size_t size, int flags)
{
	if (rfs_retention_refuse_xattr(req, ino, name)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char bname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1], p[64];
	uint8_t *ct, owner[RFS_XATTR_OWNER_SIZE];
	const struct rfs_folder_keys *fk = NULL;
	const struct rfs_xattr_keys *xk = NULL;
	int rc = fs->read_only ? -EROFS : !is_user_name(name) ? -EOPNOTSUPP
	         : in->type == S_IFLNK ? -EPERM : xattr_keys(fs, in, &fk, &xk), fd;

	if (rc == 0)
		rc = xattr_backing(xk, name, bname, sizeof(bname));
	ct = rc < 0 ? NULL : malloc(size + RFS_BLOCK_OVERHEAD);
	if (rc == 0 && !ct)
		rc = -ENOMEM;
	if (rc < 0) {
		rfs_vault_folder_keys_put(fs->v, fk);
		fuse_reply_err(req, -rc);
		return;
	}
	if ((fd = inode_fd(fs, in)) < 0) {
		rc = -fd;
	} else {
		proc_path(p, fd);
		rc = -rfs_xattr_owner_of(p, in->type == S_IFDIR, owner);
		if (rc == 0)
			rc = -rfs_name_xattr_value_seal(ct, (const uint8_t *)value, size, owner,
			                           bname + XATTR_USER_LEN, xk);
		if (rc == 0)
			rc = setxattr(p, bname, ct, size + RFS_BLOCK_OVERHEAD, flags) == 0 ? 0 : errno;
		inode_fd_done(fs, in);
	}
	rfs_vault_folder_keys_put(fs->v, fk);
	free(ct);
	if (rc == 0)
		rfs_save_inode(fs, in, RFS_SAVE_PROPERTY, name);
	fuse_reply_err(req, rc);
}

void rfs_ops_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	if (rfs_retention_getxattr(req, ino, name, size)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char bname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1], p[64];
	uint8_t *ct = NULL, *plain = NULL, owner[RFS_XATTR_OWNER_SIZE];
	size_t plain_cap = 0;
	ssize_t n;
	const struct rfs_folder_keys *fk = NULL;
	const struct rfs_xattr_keys *xk = NULL;
	int rc = is_user_name(name) ? xattr_keys(fs, in, &fk, &xk) : unsupported_name(name), fd = -1;

	if (rc == 0)
		rc = xattr_backing(xk, name, bname, sizeof(bname));
	if (rc == -ERANGE)
		rc = -ENODATA;    /* too long to seal: never stored */
	if (rc == 0 && (fd = inode_fd(fs, in)) < 0)
		rc = fd;
	if (rc < 0)
		goto out;
	proc_path(p, fd);
	n = getxattr(p, bname, NULL, 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	ct = malloc((size_t)n + 1);
	plain_cap = (size_t)n + 1;
	plain = malloc(plain_cap);
	if (!ct || !plain) {
		rc = -ENOMEM;
		goto out;
	}
	n = getxattr(p, bname, ct, (size_t)n);
	if (n < (ssize_t)RFS_BLOCK_OVERHEAD || rfs_xattr_owner_of(p, in->type == S_IFDIR, owner) < 0 ||
	    rfs_name_xattr_value_open(plain, ct, (size_t)n, owner, bname + XATTR_USER_LEN, xk) < 0) {
		rfs_ops_log_inode(fs, in, "an extended attribute does not authenticate");
		rc = -EIO;
		goto out;
	}
	n -= RFS_BLOCK_OVERHEAD;
	if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		rc = -ERANGE;
	else
		fuse_reply_buf(req, (const char *)plain, (size_t)n);
out:
	if (fd >= 0)
		inode_fd_done(fs, in);
	rfs_vault_folder_keys_put(fs->v, fk);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	free(ct);
	if (plain)
		rfs_secmem_wipe(plain, plain_cap);   /* the value in clear */
	free(plain);
}

void rfs_ops_xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char p[64], *list = NULL, *out = NULL, *q;
	size_t used = 0;
	ssize_t n;
	const struct rfs_folder_keys *fk = NULL;
	const struct rfs_xattr_keys *xk = NULL;
	int rc = 0, fd = inode_fd(fs, in);

	if (fd < 0) {
		rc = -fd;
		goto reply;
	}
	proc_path(p, fd);
	n = listxattr(p, NULL, 0);
	if (n < 0) {
		rc = errno;
		goto reply;
	}
	list = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!list || !out) {
		rc = ENOMEM;
		goto reply;
	}
	n = listxattr(p, list, (size_t)n);
	if (n < 0) {
		rc = errno;
		goto reply;
	}
	for (q = list; q < list + n; q += strlen(q) + 1) {
		char clear[256];
		int len;

		if (strncmp(q, XATTR_USER, XATTR_USER_LEN) != 0)
			continue;
		if (!xk && (rc = -xattr_keys(fs, in, &fk, &xk)) != 0)
			goto reply;
		len = rfs_name_xattr_open(clear, sizeof(clear), q + XATTR_USER_LEN, xk);
		if (len < 0)
			continue;
		/* A clear name is never longer than its sealed form. */
		memcpy(out + used, XATTR_USER, XATTR_USER_LEN);
		memcpy(out + used + XATTR_USER_LEN, clear, (size_t)len + 1);
		used += XATTR_USER_LEN + (size_t)len + 1;
	}
	if (size == 0)
		fuse_reply_xattr(req, used);
	else if (used > size)
		rc = ERANGE;
	else
		fuse_reply_buf(req, out, used);
reply:
	if (fd >= 0)
		inode_fd_done(fs, in);
	rfs_vault_folder_keys_put(fs->v, fk);
	if (rc)
		fuse_reply_err(req, rc);
	free(list);
	free(out);
}

void rfs_ops_xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (rfs_retention_refuse_xattr(req, ino, name)) return;
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *in = inode_of(req, ino);
	char bname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1], p[64];
	const struct rfs_folder_keys *fk = NULL;
	const struct rfs_xattr_keys *xk = NULL;
	int rc = fs->read_only ? -EROFS : is_user_name(name) ? xattr_keys(fs, in, &fk, &xk) : -ENODATA, fd;

	if (rc == 0)
		rc = xattr_backing(xk, name, bname, sizeof(bname));
	rfs_vault_folder_keys_put(fs->v, fk);
	if (rc == -EOPNOTSUPP || rc == -ERANGE)
		rc = -ENODATA;
	if (rc == 0 && (fd = inode_fd(fs, in)) < 0)
		rc = fd;
	if (rc == 0) {
		proc_path(p, fd);
		rc = removexattr(p, bname) == 0 ? 0 : -errno;
		inode_fd_done(fs, in);
	}
	if (rc == 0)
		rfs_save_inode(fs, in, RFS_SAVE_PROPERTY, name);
	fuse_reply_err(req, -rc);
}

/* The user.* names of the object at path (NUL-separated, malloc'd), or NULL
** (none, or an error: *rc). */
static char *user_names(const char *path, ssize_t *len, int *rc)
{
	ssize_t n = llistxattr(path, NULL, 0);
	char *list = n > 0 ? malloc((size_t)n) : NULL;

	*rc = n < 0 ? -errno : 0;
	if (n > 0 && !list)
		*rc = -ENOMEM;
	if (list && (n = llistxattr(path, list, (size_t)n)) < 0) {
		*rc = -errno;
		free(list);
		list = NULL;
	}
	*len = n;
	return list;
}

/* One attribute, sealed name and value, from under `from` to under `to`. */
static int reseal_one(const char *path, const char *bname, const uint8_t owner[RFS_XATTR_OWNER_SIZE],
                      const struct rfs_xattr_keys *from, const struct rfs_xattr_keys *to)
{
	char clear[256], nname[RFS_ENC_NAME_MAX + XATTR_USER_LEN + 1];
	ssize_t n = lgetxattr(path, bname, NULL, 0);
	size_t cap = n >= (ssize_t)RFS_BLOCK_OVERHEAD ? (size_t)n : 0;
	uint8_t *ct = cap ? malloc(cap * 2) : NULL;
	uint8_t *plain = ct ? ct + cap : NULL;
	int rc = ct ? 0 : n < 0 ? -errno : -EIO;

	if (rc == 0 && rfs_name_xattr_open(clear, sizeof(clear), bname + XATTR_USER_LEN, from) < 0)
		rc = -EIO;
	if (rc == 0 && (n = lgetxattr(path, bname, ct, cap)) < (ssize_t)RFS_BLOCK_OVERHEAD)
		rc = -EIO;
	if (rc == 0 && rfs_name_xattr_value_open(plain, ct, (size_t)n, owner, bname + XATTR_USER_LEN,
	                                         from) < 0)
		rc = -EIO;
	memcpy(nname, XATTR_USER, XATTR_USER_LEN);
	if (rc == 0 && rfs_name_xattr_seal(nname + XATTR_USER_LEN, sizeof(nname) - XATTR_USER_LEN, clear,
	                                   to) < 0)
		rc = -ERANGE;
	if (rc == 0)
		rc = -rfs_name_xattr_value_seal(ct, plain, (size_t)n - RFS_BLOCK_OVERHEAD, owner,
		                                nname + XATTR_USER_LEN, to);
	if (rc == 0 && lsetxattr(path, nname, ct, (size_t)n, 0) != 0)
		rc = -errno;
	if (ct)
		rfs_secmem_wipe(ct, cap * 2);
	free(ct);
	return rc;
}

int rfs_ops_xattr_reseal(const char *path, const struct rfs_xattr_keys *from,
                         const struct rfs_xattr_keys *to)
{
	uint8_t owner[RFS_XATTR_OWNER_SIZE];
	ssize_t len;
	int rc;
	char *list = user_names(path, &len, &rc), *q;

	if (!list)
		return rc;
	rc = rfs_xattr_owner_of(path, false, owner);
	for (q = list; rc == 0 && q < list + len; q += strlen(q) + 1) {
		char clear[256];

		if (strncmp(q, XATTR_USER, XATTR_USER_LEN) != 0 ||
		    rfs_name_xattr_open(clear, sizeof(clear), q + XATTR_USER_LEN, from) < 0)
			continue;            /* not one of from's: already damaged, or resealed */
		rc = reseal_one(path, q, owner, from, to);
	}
	free(list);
	return rc;
}

void rfs_ops_xattr_drop(const char *path, const struct rfs_xattr_keys *keys)
{
	ssize_t len;
	int rc;
	char *list = user_names(path, &len, &rc), *q;

	for (q = list; q && q < list + len; q += strlen(q) + 1) {
		char clear[256];

		if (strncmp(q, XATTR_USER, XATTR_USER_LEN) == 0 &&
		    rfs_name_xattr_open(clear, sizeof(clear), q + XATTR_USER_LEN, keys) >= 0)
			(void)lremovexattr(path, q);
	}
	free(list);
}
