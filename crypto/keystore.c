/*
** keystore: keys/, one wrapped content key per file, in slot files.
**
** A file ID is its slot number (u64 little-endian) followed by 8 random
** bytes (format 2) or this copy's copy id (format 3). Slot s is the entry at
** offset (s mod 65536) * 72 of the slot file s<s / 65536 as 8 hex digits> in
** keys/ (format 2) or keys/c<copy id>/ (format 3), so a lookup is one pread
** at any size and a new file costs one pwrite, not one more inode.
** Entry = nonce(24) || XChaCha20-Poly1305(key) with AD "recfs-key-v1" ||
** file id, under the keystore subkey; all zeros is a destroyed entry.
** Owns: creating, loading, syncing and destroying entries.
** Must never: write an unwrapped key anywhere, reuse a slot, or report
** success for a destroy that did not reach the disk.
*/
#include "crypto/keystore.h"
#include "crypto/random.h"
#include "crypto/io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_NONCE 24
#define ENTRY_AD_PREFIX "recfs-key-v1"
#define ENTRY_AD_LEN (sizeof(ENTRY_AD_PREFIX) - 1 + RFS_FILE_ID_SIZE)
#define SLOTS_PER_FILE 65536u
#define MAX_SLOT_FILES 65536u
/* keys/next: u64le, no slot at or above it was ever handed out. Raised this
** many slots at a time, so a new file costs an fsync only once per batch. */
#define NEXT_NAME "next"
#define NEXT_BATCH 4096u
#define COPY_NAME "copy"

_Static_assert(RFS_KEYSTORE_ENTRY_SIZE == ENTRY_NONCE + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "keystore entry layout");

struct rfs_keystore {
	int dirfd;                        /* keys/ */
	int slots_fd;                     /* this copy's slot files: keys/ or keys/c<copy id>/ */
	unsigned format;
	uint8_t copy[RFS_COPY_ID_SIZE];   /* format 3: this copy's id */
	const struct rfs_keys *keys;
	pthread_mutex_t mu;               /* next, fds */
	uint64_t next;                    /* the next free slot */
	uint64_t reserved;                /* durable in keys/next: slots below it may be in use */
	int next_fd;                      /* keys/next, -1 on a read-only vault */
	int *fds;                         /* open slot files, -1 when not yet */
	size_t nfds;
};

static uint64_t slot_of(const uint8_t id[RFS_FILE_ID_SIZE])
{
	uint64_t s = 0;

	for (int i = 7; i >= 0; i--)
		s = s << 8 | id[i];
	return s;
}

/* "c" + the copy id in hex: the slot folder of a format-3 copy. */
static void copy_folder(char out[18], const uint8_t copy[RFS_COPY_ID_SIZE])
{
	out[0] = 'c';
	for (int i = 0; i < RFS_COPY_ID_SIZE; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", copy[i]);
}

void rfs_keystore_entry_locate(const struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                               char name[RFS_KEYSTORE_NAME_MAX], uint64_t *offset)
{
	uint64_t s = slot_of(id);
	unsigned file = (unsigned)((s / SLOTS_PER_FILE) & 0xffffffffu);

	if (ks->format >= 3) {
		char folder[18];

		copy_folder(folder, id + 8);
		snprintf(name, RFS_KEYSTORE_NAME_MAX, "%s/s%08x", folder, file);
	} else {
		snprintf(name, RFS_KEYSTORE_NAME_MAX, "s%08x", file);
	}
	*offset = (s % SLOTS_PER_FILE) * RFS_KEYSTORE_ENTRY_SIZE;
}

void rfs_keystore_copy_id(const struct rfs_keystore *ks, uint8_t out[RFS_COPY_ID_SIZE])
{
	memcpy(out, ks->copy, RFS_COPY_ID_SIZE);
}

/* The first free slot: after the last entry of the last slot file. */
static int find_next(int dirfd, uint64_t *next)
{
	uint64_t file = 0;
	struct stat st;
	char name[16];

	*next = 0;
	for (;; file++) {
		snprintf(name, sizeof(name), "s%08x", (unsigned)file);
		if (fstatat(dirfd, name, &st, 0) != 0)
			return errno == ENOENT ? 0 : -errno;
		*next = file * SLOTS_PER_FILE +
		        ((uint64_t)st.st_size + RFS_KEYSTORE_ENTRY_SIZE - 1) / RFS_KEYSTORE_ENTRY_SIZE;
		if (file + 1 == MAX_SLOT_FILES)
			return 0;
	}
}

/* keys/next: the durable bound of handed-out slots. A slot file's tail can be
** lost in a power cut, its size then undercounts; this bound does not. */
static int read_reserved(struct rfs_keystore *s)
{
	uint8_t b[8];
	size_t n;
	int rc;

	s->next_fd = openat(s->slots_fd, NEXT_NAME, O_RDWR | O_CLOEXEC);
	if (s->next_fd < 0 && (errno == EACCES || errno == EROFS))
		s->next_fd = openat(s->slots_fd, NEXT_NAME, O_RDONLY | O_CLOEXEC);
	if (s->next_fd < 0)
		return errno == ENOENT ? 0 : -errno;   /* made at the first new file */
	rc = rfs_io_pread_upto(s->next_fd, b, sizeof(b), 0, &n);
	if (rc < 0)
		return rc;
	s->reserved = 0;
	if (n == sizeof(b))
		for (int i = 7; i >= 0; i--)
			s->reserved = s->reserved << 8 | b[i];
	return 0;
}

/* Make slots below bound durable as handed out: one 8-byte write (within one
** sector, so a cut leaves the old or the new value) and an fdatasync. */
static int write_reserved(struct rfs_keystore *s, uint64_t bound)
{
	uint8_t b[8];

	if (s->next_fd < 0) {
		s->next_fd = openat(s->slots_fd, NEXT_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->next_fd < 0 || fsync(s->slots_fd) != 0)
			return -errno;
	}
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(bound >> (8 * i));
	if (pwrite(s->next_fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) || fdatasync(s->next_fd) != 0)
		return errno ? -errno : -EIO;
	s->reserved = bound;
	return 0;
}

/* Format 3: this copy's id (keys/copy) and slot folder. 0, -EIO, -errno. */
static int open_copy(struct rfs_keystore *s)
{
	char folder[18];
	size_t n = 0;
	int fd = openat(s->dirfd, COPY_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

	if (fd < 0)
		return errno == ENOENT ? -EIO : -errno;
	rc = rfs_io_pread_upto(fd, s->copy, sizeof(s->copy), 0, &n);
	close(fd);
	if (rc == 0 && n != sizeof(s->copy))
		rc = -EIO;
	if (rc < 0)
		return rc;
	copy_folder(folder, s->copy);
	s->slots_fd = openat(s->dirfd, folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return s->slots_fd < 0 ? -errno : 0;
}

int rfs_keystore_open(struct rfs_keystore **ks, int keys_dirfd, const struct rfs_keys *keys,
                      unsigned format)
{
	struct rfs_keystore *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return -ENOMEM;
	s->next_fd = -1;
	s->slots_fd = -1;
	s->format = format;
	s->dirfd = fcntl(keys_dirfd, F_DUPFD_CLOEXEC, 0);
	rc = s->dirfd < 0 ? -errno : 0;
	if (rc == 0 && format >= 3)
		rc = open_copy(s);
	else if (rc == 0 && (s->slots_fd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = find_next(s->slots_fd, &s->next);
	if (rc == 0)
		rc = read_reserved(s);
	if (rc < 0) {
		if (s->next_fd >= 0)
			close(s->next_fd);
		if (s->slots_fd >= 0)
			close(s->slots_fd);
		if (s->dirfd >= 0)
			close(s->dirfd);
		free(s);
		return rc;
	}
	/* Every slot below the durable bound may have been given to a file whose
	** entry a cut then lost: never hand those out again. */
	if (s->reserved > s->next)
		s->next = s->reserved;
	pthread_mutex_init(&s->mu, NULL);
	s->keys = keys;
	*ks = s;
	return 0;
}

void rfs_keystore_close(struct rfs_keystore *ks)
{
	if (ks == NULL)
		return;
	/* Give back the unused rest of the batch, so each mount does not skip
	** 4096 slots; every slot handed out is below next. */
	if (ks->next < ks->reserved && ks->next_fd >= 0 &&
	    (fcntl(ks->next_fd, F_GETFL) & O_ACCMODE) == O_RDWR)
		(void)write_reserved(ks, ks->next);
	for (size_t i = 0; i < ks->nfds; i++)
		if (ks->fds[i] >= 0)
			close(ks->fds[i]);
	free(ks->fds);
	pthread_mutex_destroy(&ks->mu);
	if (ks->next_fd >= 0)
		close(ks->next_fd);
	close(ks->slots_fd);
	close(ks->dirfd);
	free(ks);
}

int rfs_keystore_format(int keys_dirfd, unsigned format)
{
	uint8_t copy[RFS_COPY_ID_SIZE];
	char folder[18];
	int fd, rc = 0;

	if (fcntl(keys_dirfd, F_GETFD) < 0)
		return -errno;
	if (format < 3)
		return 0;
	randombytes_buf(copy, sizeof(copy));
	fd = openat(keys_dirfd, COPY_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	rc = rfs_io_pwrite_all(fd, copy, sizeof(copy), 0);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	copy_folder(folder, copy);
	if (rc == 0 && (mkdirat(keys_dirfd, folder, 0700) != 0 || fsync(keys_dirfd) != 0))
		rc = -errno;
	return rc;
}

/* The slot file of id, opened once and kept. create: make it if missing.
** -ENOENT when it does not exist and create is false. */
static int slot_file(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE], bool create,
                     uint64_t *offset)
{
	char name[RFS_KEYSTORE_NAME_MAX], *base;
	size_t file;
	int fd, rc = 0;

	rfs_keystore_entry_locate(ks, id, name, offset);
	file = (size_t)(slot_of(id) / SLOTS_PER_FILE);
	if (file >= MAX_SLOT_FILES)
		return -ENOENT;
	/* Another copy's entries come with sync (docs/FORMAT.md, "Copies"): none yet. */
	if (ks->format >= 3 && memcmp(id + 8, ks->copy, RFS_COPY_ID_SIZE) != 0)
		return -ENOENT;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	pthread_mutex_lock(&ks->mu);
	if (file >= ks->nfds) {
		size_t n = file + 16;
		int *grown = realloc(ks->fds, n * sizeof(*grown));

		if (!grown) {
			pthread_mutex_unlock(&ks->mu);
			return -ENOMEM;
		}
		for (size_t i = ks->nfds; i < n; i++)
			grown[i] = -1;
		ks->fds = grown;
		ks->nfds = n;
	}
	fd = ks->fds[file];
	if (fd < 0) {
		fd = openat(ks->slots_fd, base, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
		if (fd < 0 && (errno == EACCES || errno == EROFS) && !create)
			fd = openat(ks->slots_fd, base, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rc = -errno;
		else
			ks->fds[file] = fd;
	}
	pthread_mutex_unlock(&ks->mu);
	return rc < 0 ? rc : fd;
}

static void entry_ad(uint8_t ad[ENTRY_AD_LEN], const uint8_t id[RFS_FILE_ID_SIZE])
{
	memcpy(ad, ENTRY_AD_PREFIX, sizeof(ENTRY_AD_PREFIX) - 1);
	memcpy(ad + sizeof(ENTRY_AD_PREFIX) - 1, id, RFS_FILE_ID_SIZE);
}


/* The next slot to hand out, with keys/next raised first when it is reached. */
static int take_slot(struct rfs_keystore *ks, uint64_t *slot)
{
	int rc = 0;

	pthread_mutex_lock(&ks->mu);
	if (ks->next >= ks->reserved)
		rc = write_reserved(ks, ks->next + NEXT_BATCH);
	if (rc == 0)
		*slot = ks->next++;
	pthread_mutex_unlock(&ks->mu);
	if (rc == 0 && *slot / SLOTS_PER_FILE >= MAX_SLOT_FILES)
		rc = -ENOSPC;
	return rc;
}

int rfs_keystore_create(struct rfs_keystore *ks, uint8_t id_out[RFS_FILE_ID_SIZE],
                        uint8_t key_out[32])
{
	uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], ad[ENTRY_AD_LEN];
	uint64_t slot = 0, offset;
	int fd, rc = take_slot(ks, &slot);

	if (rc < 0)
		return rc;
	for (int i = 0; i < 8; i++)
		id_out[i] = (uint8_t)(slot >> (8 * i));
	if (ks->format >= 3)
		memcpy(id_out + 8, ks->copy, RFS_COPY_ID_SIZE);
	else
		randombytes_buf(id_out + 8, RFS_FILE_ID_SIZE - 8);
	fd = slot_file(ks, id_out, true, &offset);
	if (fd < 0)
		return fd;
	crypto_aead_xchacha20poly1305_ietf_keygen(key_out);
	entry_ad(ad, id_out);
	rfs_random_nonce(entry, ENTRY_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(entry + ENTRY_NONCE, NULL, key_out, 32, ad,
	                                           sizeof(ad), NULL, entry, ks->keys->keystore);
	rc = rfs_io_pwrite_all(fd, entry, sizeof(entry), offset);
	if (rc != 0)
		sodium_memzero(key_out, 32);
	return rc;
}

/* Read the entry of id: 0, -ENOENT (never written, or destroyed), -errno. */
static int read_entry(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                      uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], int *fd_out, uint64_t *offset)
{
	int fd = slot_file(ks, id, false, offset), rc;
	size_t n;

	if (fd < 0)
		return fd;
	rc = rfs_io_pread_upto(fd, entry, RFS_KEYSTORE_ENTRY_SIZE, *offset, &n);
	if (rc < 0)
		return rc;
	if (n == 0 || sodium_is_zero(entry, n))
		return -ENOENT;
	if (n != RFS_KEYSTORE_ENTRY_SIZE)
		return -EIO;
	*fd_out = fd;
	return 0;
}

static int open_entry(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                      const uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], uint8_t key_out[32])
{
	uint8_t ad[ENTRY_AD_LEN];

	entry_ad(ad, id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key_out, NULL, NULL, entry + ENTRY_NONCE,
	                                               RFS_KEYSTORE_ENTRY_SIZE - ENTRY_NONCE, ad,
	                                               sizeof(ad), entry, ks->keys->keystore) != 0)
		return -EIO;
	return 0;
}

int rfs_keystore_load(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                      uint8_t key_out[32])
{
	uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE];
	uint64_t offset;
	int fd, rc = read_entry(ks, id, entry, &fd, &offset);

	return rc < 0 ? rc : open_entry(ks, id, entry, key_out);
}

int rfs_keystore_sync(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE])
{
	uint64_t offset;
	int fd = slot_file(ks, id, false, &offset);

	if (fd < 0)
		return fd;
	if (fdatasync(fd) != 0 || fsync(ks->slots_fd) != 0)
		return -errno;
	return 0;
}

int rfs_keystore_sync_many(struct rfs_keystore *ks, const uint8_t (*ids)[RFS_FILE_ID_SIZE], size_t n)
{
	int last = -1;

	/* One fdatasync per slot file and one fsync of the folder for the whole batch. */
	for (size_t i = 0; i < n; i++) {
		uint64_t offset;
		int fd = slot_file(ks, ids[i], false, &offset);

		if (fd < 0)
			return fd;
		if (fd != last && fdatasync(fd) != 0)
			return -errno;
		last = fd;
	}
	return n && fsync(ks->slots_fd) != 0 ? -errno : 0;
}

int rfs_keystore_destroy(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE])
{
	static const uint8_t zeros[RFS_KEYSTORE_ENTRY_SIZE];
	uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], *key = sodium_malloc(32);
	uint64_t offset;
	int fd, rc = key ? read_entry(ks, id, entry, &fd, &offset) : -ENOMEM;

	/* Only the entry of this very id is destroyed: a slot given to another
	** file (another random half) does not open under id, and is left alone. */
	if (rc == 0)
		rc = open_entry(ks, id, entry, key);
	sodium_free(key);
	if (rc < 0)
		return rc;
	rc = rfs_io_pwrite_all(fd, zeros, sizeof(zeros), offset);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	sodium_memzero(entry, sizeof(entry));
	return rc;
}
