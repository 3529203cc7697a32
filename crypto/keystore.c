/*
** keystore: keys/XX/<file id hex>, one wrapped content key per file.
**
** Owns: creating, loading, syncing and destroying entries; the 256 fan-out
** folders. Entry = nonce(24) || XChaCha20-Poly1305(key) with AD
** "recfs-key-v1" || file id, under the keystore subkey.
** Must never: write an unwrapped key anywhere, overwrite an existing entry
** (O_EXCL), or report success for a destroy that did not reach the disk.
*/
#include "crypto/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/encoding.h"

#define ENTRY_NONCE 24
#define ENTRY_AD_PREFIX "recfs-key-v1"
#define ENTRY_AD_LEN (sizeof(ENTRY_AD_PREFIX) - 1 + RFS_FILE_ID_SIZE)
#define CREATE_ATTEMPTS 4

_Static_assert(RFS_KEYSTORE_ENTRY_SIZE == ENTRY_NONCE + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "keystore entry layout");

struct rfs_keystore {
	int dirfd;
	const struct rfs_keys *keys;
};

int rfs_keystore_open(struct rfs_keystore **ks, int keys_dirfd, const struct rfs_keys *keys)
{
	struct rfs_keystore *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	s->dirfd = fcntl(keys_dirfd, F_DUPFD_CLOEXEC, 0);
	if (s->dirfd < 0) {
		int rc = -errno;
		free(s);
		return rc;
	}
	s->keys = keys;
	*ks = s;
	return 0;
}

void rfs_keystore_close(struct rfs_keystore *ks)
{
	if (ks == NULL)
		return;
	close(ks->dirfd);
	free(ks);
}

static int fsync_at(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, flags | O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int rfs_keystore_format(int keys_dirfd)
{
	char name[3];

	for (unsigned b = 0; b < 256; b++) {
		uint8_t byte = (uint8_t)b;
		struct stat st;

		rfs_hex_encode(name, &byte, 1);
		if (mkdirat(keys_dirfd, name, 0700) == 0)
			continue;
		if (errno != EEXIST)
			return -errno;
		if (fstatat(keys_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return fsync_at(keys_dirfd, ".", O_DIRECTORY);
}

void rfs_keystore_entry_name(char out[40], const uint8_t id[RFS_FILE_ID_SIZE])
{
	rfs_hex_encode(out, id, 1);
	out[2] = '/';
	rfs_hex_encode(out + 3, id, RFS_FILE_ID_SIZE);
}

static void folder_name(char out[3], const uint8_t id[RFS_FILE_ID_SIZE])
{
	rfs_hex_encode(out, id, 1);
}

static void entry_ad(uint8_t ad[ENTRY_AD_LEN], const uint8_t id[RFS_FILE_ID_SIZE])
{
	memcpy(ad, ENTRY_AD_PREFIX, sizeof(ENTRY_AD_PREFIX) - 1);
	memcpy(ad + sizeof(ENTRY_AD_PREFIX) - 1, id, RFS_FILE_ID_SIZE);
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write a new entry; -EEXIST if the id is taken. */
static int write_entry(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                       const uint8_t key[32])
{
	uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], ad[ENTRY_AD_LEN];
	char name[40];
	int fd, rc;

	entry_ad(ad, id);
	randombytes_buf(entry, ENTRY_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(entry + ENTRY_NONCE, NULL, key, 32, ad, sizeof(ad),
	                                           NULL, entry, ks->keys->keystore);
	rfs_keystore_entry_name(name, id);
	fd = openat(ks->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, entry, sizeof(entry));
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		unlinkat(ks->dirfd, name, 0);
	return rc;
}

int rfs_keystore_create(struct rfs_keystore *ks, uint8_t id_out[RFS_FILE_ID_SIZE],
                        uint8_t key_out[32])
{
	int rc = -EEXIST;

	crypto_aead_xchacha20poly1305_ietf_keygen(key_out);
	/* A 128-bit id collision is practically impossible; retrying is cheap. */
	for (int attempt = 0; attempt < CREATE_ATTEMPTS && rc == -EEXIST; attempt++) {
		randombytes_buf(id_out, RFS_FILE_ID_SIZE);
		rc = write_entry(ks, id_out, key_out);
	}
	if (rc != 0)
		sodium_memzero(key_out, 32);
	return rc;
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (int)got;
}

int rfs_keystore_load(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                      uint8_t key_out[32])
{
	uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE + 1], ad[ENTRY_AD_LEN];
	char name[40];
	int fd, n;

	rfs_keystore_entry_name(name, id);
	fd = openat(ks->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read_full(fd, entry, sizeof(entry));
	close(fd);
	if (n < 0)
		return n;
	if (n != RFS_KEYSTORE_ENTRY_SIZE)
		return -EIO;
	/* Zeros are what destroy writes before unlinking: already shredded. */
	if (sodium_is_zero(entry, RFS_KEYSTORE_ENTRY_SIZE))
		return -ENOENT;
	entry_ad(ad, id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key_out, NULL, NULL, entry + ENTRY_NONCE,
	                                               RFS_KEYSTORE_ENTRY_SIZE - ENTRY_NONCE, ad,
	                                               sizeof(ad), entry, ks->keys->keystore) != 0)
		return -EIO;
	return 0;
}

int rfs_keystore_sync(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE])
{
	char name[40], folder[3];
	int rc;

	rfs_keystore_entry_name(name, id);
	folder_name(folder, id);
	rc = fsync_at(ks->dirfd, name, 0);
	if (rc == 0)
		rc = fsync_at(ks->dirfd, folder, O_DIRECTORY);
	return rc;
}

int rfs_keystore_destroy(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE])
{
	static const uint8_t zeros[RFS_KEYSTORE_ENTRY_SIZE];
	char name[40], folder[3];
	int fd, rc;

	rfs_keystore_entry_name(name, id);
	folder_name(folder, id);
	fd = openat(ks->dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, zeros, sizeof(zeros));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc != 0)
		return rc;
	if (unlinkat(ks->dirfd, name, 0) != 0)
		return -errno;
	return fsync_at(ks->dirfd, folder, O_DIRECTORY);
}
