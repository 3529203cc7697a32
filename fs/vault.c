/*
** vault: see vault.h.
*/
#include "fs/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/io.h"
#include "crypto/names.h"
#include "crypto/random.h"
#include "crypto/secmem.h"
#include "fs/dname.h"

/* A new id from the key store whose entry's key is the folder key, durable. */
static int new_folder_id(struct rfs_keystore *ks, uint8_t dirid[RFS_DIRID_SIZE])
{
	uint8_t *key = rfs_secmem_alloc(RFS_FOLDER_KEY_SIZE);
	int rc = key ? rfs_keystore_create(ks, dirid, key) : -ENOMEM;

	rfs_secmem_free(key);
	return rc < 0 ? rc : rfs_keystore_sync(ks, dirid);
}

int rfs_vault_new_folder_id(struct rfs_vault *v, uint8_t dirid[RFS_DIRID_SIZE])
{
	if (v->format < 3) {
		rfs_random_bytes(dirid, RFS_DIRID_SIZE);
		return 0;
	}
	return new_folder_id(v->ks, dirid);
}

int rfs_vault_new_folder_ids(struct rfs_vault *v, uint8_t (*dirids)[RFS_DIRID_SIZE], size_t n)
{
	uint8_t *key;
	int rc = 0;

	if (v->format < 3) {
		for (size_t i = 0; i < n; i++)
			rfs_random_bytes(dirids[i], RFS_DIRID_SIZE);
		return 0;
	}
	if (!(key = rfs_secmem_alloc(RFS_FOLDER_KEY_SIZE)))
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = rfs_keystore_create(v->ks, dirids[i], key);
	rfs_secmem_free(key);
	return rc < 0 ? rc : rfs_keystore_sync_many(v->ks, (const uint8_t (*)[RFS_FILE_ID_SIZE])dirids, n);
}

static int write_new_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

static bool dir_is_empty(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool empty = fd >= 0 && rfs_dname_folder_empty(fd, false) == 0;

	if (fd >= 0)
		close(fd);
	return empty;
}

/* The root folder's id: format 3 a keystore entry (its key the root's folder
** key, durable before the .dirid names it), format 2 random. */
static int root_folder_id(int keys_fd, const struct rfs_keys *keys, unsigned format,
                          uint8_t dirid[RFS_DIRID_SIZE])
{
	struct rfs_keystore *ks;
	int rc;

	if (format < 3) {
		rfs_random_bytes(dirid, RFS_DIRID_SIZE);
		return 0;
	}
	rc = rfs_keystore_open(&ks, keys_fd, keys, format);
	if (rc < 0)
		return rc;
	rc = new_folder_id(ks, dirid);
	rfs_keystore_close(ks);
	return rc;
}

static int make_vault_tree(int dfd, const char *pass, size_t passlen, const struct rfs_kdf *kdf,
                           const char *label, unsigned format)
{
	struct rfs_conf conf;
	struct rfs_keys *keys = NULL;
	uint8_t *master = rfs_secmem_alloc(RFS_MASTER_KEY_SIZE);
	uint8_t dirid[RFS_DIRID_SIZE];
	int keys_fd = -1, live_fd = -1, rc;

	if (!master)
		return -ENOMEM;
	rfs_random_bytes(master, RFS_MASTER_KEY_SIZE);
	rfs_keyslot_conf_init(&conf);
	conf.format_version = format;
	rc = rfs_keyslot_add(&conf, label, master, pass, passlen, kdf);
	if (rc >= 0) {
		keys = rfs_keys_derive(master);
		if (keys)
			rfs_keyslot_conf_seal(&conf, keys->conf);
		else
			rc = -ENOMEM;
	}
	rfs_secmem_free(master);
	if (rc < 0) {
		rfs_keys_free(keys);
		return rc;
	}
	if (mkdirat(dfd, RFS_KEYS_DIR, 0700) != 0 || mkdirat(dfd, RFS_LIVE_DIR, 0755) != 0) {
		rfs_keys_free(keys);
		return -errno;
	}
	keys_fd = openat(dfd, RFS_KEYS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	live_fd = openat(dfd, RFS_LIVE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (keys_fd < 0 || live_fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = rfs_keystore_format(keys_fd, format);
	if (rc == 0)
		rc = root_folder_id(keys_fd, keys, format, dirid);
	if (rc < 0)
		goto out;
	rc = write_new_file(live_fd, RFS_DIRID_FILE, dirid, sizeof(dirid), 0400);
	if (rc < 0)
		goto out;
	{
		char conf_path[64];

		snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d/%s", dfd, RFS_CONF_NAME);
		rc = rfs_keyslot_conf_write(conf_path, &conf);
	}
	if (rc == 0 && (fsync(keys_fd) != 0 || fsync(live_fd) != 0 || fsync(dfd) != 0))
		rc = -errno;
out:
	rfs_keys_free(keys);
	if (keys_fd >= 0)
		close(keys_fd);
	if (live_fd >= 0)
		close(live_fd);
	return rc;
}

static void remove_tree(const char *path)
{
	/* Only ever called on our own half-made temporary folder. */
	char *argv[] = { "rm", "-rf", "--", (char *)path, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	if (pid > 0) {
		int st;

		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
}

int rfs_vault_create(const char *path, const char *pass, size_t passlen,
                     const struct rfs_kdf *kdf, const char *slot_label)
{
	return rfs_vault_create_format(path, pass, passlen, kdf, slot_label, RFS_FORMAT_VERSION);
}

int rfs_vault_create_format(const char *path, const char *pass, size_t passlen,
                            const struct rfs_kdf *kdf, const char *slot_label, unsigned format)
{
	char tmp[PATH_MAX];
	struct stat st;
	int dfd, rc, n;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode) || !dir_is_empty(path))
			return -EEXIST;
	} else if (errno != ENOENT) {
		return -errno;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.recfs-init-XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	if (!mkdtemp(tmp))
		return -errno;
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		rmdir(tmp);
		return rc;
	}
	if (format < RFS_FORMAT_VERSION_MIN || format > RFS_FORMAT_VERSION) {
		close(dfd);
		rmdir(tmp);
		return -EPROTONOSUPPORT;
	}
	rc = make_vault_tree(dfd, pass, passlen, kdf, slot_label, format);
	close(dfd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		remove_tree(tmp);
		return rc;
	}
	{
		char parent[PATH_MAX];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", path);
		slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		else
			strcpy(parent, ".");
		(void)rfs_io_fsync_dir(AT_FDCWD, parent);
	}
	return 0;
}

int rfs_vault_read_conf(const char *path, struct rfs_conf *conf, char *err, size_t errsz)
{
	char conf_path[PATH_MAX];
	struct stat st;
	int rc;

	if (stat(path, &st) != 0) {
		rc = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "%s is not a recfs vault (not a folder)", path);
		return -ENOTDIR;
	}
	if ((size_t)snprintf(conf_path, sizeof(conf_path), "%s/%s", path, RFS_CONF_NAME) >=
	    sizeof(conf_path)) {
		snprintf(err, errsz, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	rc = rfs_keyslot_conf_read(conf_path, conf, err, errsz);
	if (rc == -EPERM) {
		char why[384];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errsz, "cannot read %s: %s", path, why);
	} else if (rc == -ENOENT)
		snprintf(err, errsz, "%s is not a recfs vault (no %s); create one with 'recfs init'",
		         path, RFS_CONF_NAME);
	else if (rc == -EINVAL) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errsz, "%s is not a usable recfs vault: %s", path, why);
	}
	return rc;
}

static int open_subdir(int dfd, const char *name, const char *vault, char *err, size_t errsz)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		snprintf(err, errsz, "%s is not a usable recfs vault: %s/: %s", vault, name,
		         strerror(errno));
	return fd;
}

int rfs_vault_lock(struct rfs_vault *v, char *err, size_t errsz)
{
	int fd = openat(v->dirfd, RFS_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errsz, "%s: cannot create lock file: %s", v->path, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char info[PATH_MAX + 32] = "";
		ssize_t n = pread(fd, info, sizeof(info) - 1, 0);
		char *nl;

		close(fd);
		if (n > 0) {
			info[n] = '\0';
			nl = strchr(info, '\n');
			if (nl) {
				*nl = '\0';
				nl = strchr(nl + 1, '\n');
				if (nl)
					*nl = '\0';
			}
			snprintf(err, errsz,
			         "%s is already mounted (daemon pid %s, at %s); run 'recfs umount' there first",
			         v->path, info, info + strlen(info) + 1);
		} else {
			snprintf(err, errsz, "%s is in use by another recfs process", v->path);
		}
		return -EBUSY;
	}
	v->lock_fd = fd;
	return 0;
}

int rfs_vault_lock_note(struct rfs_vault *v, pid_t pid, const char *mountpoint)
{
	char buf[PATH_MAX + 32];
	int n = snprintf(buf, sizeof(buf), "%ld\n%s\n", (long)pid, mountpoint ? mountpoint : "");

	if (v->lock_fd < 0)
		return -EBADF;
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	if (ftruncate(v->lock_fd, 0) != 0 || pwrite(v->lock_fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

int rfs_vault_open(const char *path, const char *pass, size_t passlen, int flags,
                   struct rfs_vault **out, char *err, size_t errsz)
{
	struct rfs_vault *v = calloc(1, sizeof(*v));
	uint8_t *master = NULL;
	int rc;

	if (!v)
		return -ENOMEM;
	v->dirfd = v->live_fd = v->keys_fd = v->lock_fd = -1;
	rc = rfs_vault_read_conf(path, &v->conf, err, errsz);
	if (rc < 0)
		goto fail;
	v->format = v->conf.format_version;
	v->path = realpath(path, NULL);
	if (!v->path) {
		rc = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	v->dirfd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dirfd < 0) {
		rc = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	v->live_fd = open_subdir(v->dirfd, RFS_LIVE_DIR, v->path, err, errsz);
	v->keys_fd = v->live_fd < 0 ? -1 : open_subdir(v->dirfd, RFS_KEYS_DIR, v->path, err, errsz);
	if (v->live_fd < 0 || v->keys_fd < 0) {
		rc = -EINVAL;
		goto fail;
	}
	if (flags & RFS_OPEN_LOCK) {
		rc = rfs_vault_lock(v, err, errsz);
		if (rc < 0)
			goto fail;
	}
	master = rfs_secmem_alloc(RFS_MASTER_KEY_SIZE);
	if (!master) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = rfs_keyslot_unlock(&v->conf, pass, passlen, master, &v->slot);
	if (rc == -EACCES) {
		snprintf(err, errsz, "wrong passphrase for %s", v->path);
		goto fail;
	}
	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot unlock: %s", v->path, strerror(-rc));
		goto fail;
	}
	v->keys = rfs_keys_derive(master);
	rfs_secmem_free(master);
	master = NULL;
	if (!v->keys) {
		rc = -ENOMEM;
		goto fail;
	}
	{
		/* Every setting that changes how bytes are read must be the one recfs wrote. */
		const char *bad = "?";

		if (rfs_keyslot_conf_authenticate(&v->conf, v->keys->conf, &bad) != 0) {
			snprintf(err, errsz, "%s/%s has been changed (setting %s does not authenticate); "
			         "restore it from a backup", v->path, RFS_CONF_NAME, bad);
			rc = -EBADMSG;
			goto fail;
		}
	}
	rc = rfs_keystore_open(&v->ks, v->keys_fd, v->keys, v->format);
	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot open key store: %s", v->path, strerror(-rc));
		goto fail;
	}
	rc = rfs_undo_open(v->dirfd, &v->undo);
	if (rc == 0)
		rc = rfs_folder_cache_open(v);
	if (rc < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	if (master)
		rfs_secmem_free(master);
	if (rc == -ENOMEM)
		snprintf(err, errsz, "out of memory (locked memory limit? see 'ulimit -l')");
	rfs_vault_close(v);
	return rc;
}

void rfs_vault_close(struct rfs_vault *v)
{
	if (!v)
		return;
	rfs_folder_cache_close(v);
	if (v->ks)
		rfs_keystore_close(v->ks);
	rfs_undo_close(v->undo);
	rfs_keys_free(v->keys);
	if (v->live_fd >= 0)
		close(v->live_fd);
	if (v->keys_fd >= 0)
		close(v->keys_fd);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	if (v->dirfd >= 0)
		close(v->dirfd);
	free(v->path);
	free(v);
}
