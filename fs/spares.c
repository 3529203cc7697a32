/*
** spares: see spares.h.
*/
#include "fs/spares.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/io.h"
#include "crypto/random.h"
#include "crypto/secmem.h"
#include "fs/dname.h"
#include "fs/log.h"

/* Kept ready. An untar makes a folder every ten or so files, and the maker makes one in
** about a millisecond, so a few dozen cover a burst; each costs a small inode and a slot. */
#define POOL 32
/* Made again once this few are left: in batches, so their key entries share a sync. */
#define LOW (POOL / 2)
#define RETRY_SECONDS 5

struct rfs_spares {
	struct rfs_vault *v;
	int dir_fd;                       /* VAULT/spare/ */
	pthread_mutex_t mu;               /* pool, n, stop, off */
	pthread_cond_t wake;              /* the maker's: a spare was taken, or stop */
	struct rfs_spare pool[POOL];
	size_t n;
	bool stop, off, started;
	pthread_t maker;
};

static void hex_name(char out[RFS_SPARE_NAME], char kind, const uint8_t r[8])
{
	out[0] = kind;
	for (int i = 0; i < 8; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", r[i]);
}

static bool is_spare_name(const char *name, char kind)
{
	if (name[0] != kind || strlen(name) != RFS_SPARE_NAME - 1)
		return false;
	return strspn(name + 1, "0123456789abcdef") == RFS_SPARE_NAME - 2;
}

/* Remove a spare that holds nothing but (maybe) its .dirid; anything more is left, named. */
static void remove_spare(int dir_fd, const char *name)
{
	int dfd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = dfd < 0 ? -errno : rfs_dname_folder_empty(dfd, true);

	if (rc == 0 && unlinkat(dfd, RFS_DIRID_FILE, 0) != 0 && errno != ENOENT)
		rc = -errno;
	if (dfd >= 0)
		close(dfd);
	if (rc == 0 && unlinkat(dir_fd, name, AT_REMOVEDIR) != 0)
		rc = -errno;
	if (rc < 0)
		rfs_log(LOG_WARNING, "spare folder %s/%s kept: %s", RFS_SPARE_DIR, name, strerror(-rc));
}

/* A ready spare found at mount: empty but for a .dirid whose key (format 3) opens. */
static int check_spare(struct rfs_spares *s, const char *name, struct rfs_spare *sp)
{
	int dfd = openat(s->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int rc = dfd < 0 ? -errno : rfs_dname_folder_empty(dfd, true);

	if (rc == 0)
		rc = rfs_dname_read_dirid(dfd, sp->dirid);
	if (rc == 0 && fstat(dfd, &st) != 0)
		rc = -errno;
	if (dfd >= 0)
		close(dfd);
	if (rc == 0 && s->v->format >= 3) {
		uint8_t *key = rfs_secmem_alloc(32);

		rc = key ? rfs_keystore_load(s->v->ks, sp->dirid, key) : -ENOMEM;
		rfs_secmem_free(key);
	}
	if (rc == 0) {
		snprintf(sp->name, sizeof(sp->name), "%s", name);
		sp->gid = st.st_gid;
	}
	return rc;
}

/* Take back the ready spares of an earlier mount; remove those cut short. */
static void scan(struct rfs_spares *s)
{
	int fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	char (*gone)[RFS_SPARE_NAME] = NULL;
	size_t ngone = 0;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		bool ready = is_spare_name(de->d_name, 'r');

		if (ready && s->n < POOL && check_spare(s, de->d_name, &s->pool[s->n]) == 0) {
			s->n++;
			continue;
		}
		if (!ready && !is_spare_name(de->d_name, 't'))
			continue;
		/* Cut short, damaged, or more than the pool holds: removed after the listing. */
		char (*g)[RFS_SPARE_NAME] = realloc(gone, (ngone + 1) * sizeof(*gone));

		if (!g)
			break;
		gone = g;
		snprintf(gone[ngone++], RFS_SPARE_NAME, "%s", de->d_name);
	}
	closedir(dp);
	for (size_t i = 0; i < ngone; i++)
		remove_spare(s->dir_fd, gone[i]);
	free(gone);
}

/* Make up to k spares: the folders first (so a full disk costs no key slot), their key
** entries made durable together, each .dirid made durable, then each given its ready name
** and the folder fsync'd once. 0 or -errno (none of this batch is ready). */
static int make_batch(struct rfs_spares *s, size_t k)
{
	uint8_t ids[POOL][RFS_DIRID_SIZE], r[POOL][8];
	struct rfs_spare made[POOL];
	char tmp[POOL][RFS_SPARE_NAME];
	size_t n = 0, renamed = 0;
	int rc = 0;

	for (; n < k; n++) {
		rfs_random_bytes(r[n], sizeof(r[n]));
		hex_name(tmp[n], 't', r[n]);
		hex_name(made[n].name, 'r', r[n]);
		if (mkdirat(s->dir_fd, tmp[n], 0700) != 0) {
			rc = -errno;
			break;
		}
	}
	if (n > 0)                        /* those made are used, even if the next one failed */
		rc = rfs_vault_new_folder_ids(s->v, ids, n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		int dfd = openat(s->dir_fd, tmp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		rc = dfd < 0 ? -errno : rfs_dname_write_dirid(dfd, ids[i]);
		if (rc == 0 && fstat(dfd, &st) != 0)
			rc = -errno;
		if (dfd >= 0)
			close(dfd);
		if (rc == 0) {
			memcpy(made[i].dirid, ids[i], RFS_DIRID_SIZE);
			made[i].gid = st.st_gid;
		}
	}
	while (rc == 0 && renamed < n) {
		if (renameat(s->dir_fd, tmp[renamed], s->dir_fd, made[renamed].name) != 0)
			rc = -errno;
		else
			renamed++;
	}
	if (rc == 0 && fsync(s->dir_fd) != 0)
		rc = -errno;
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			remove_spare(s->dir_fd, i < renamed ? made[i].name : tmp[i]);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n && s->n < POOL; i++)
		s->pool[s->n++] = made[i];
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void *maker(void *arg)
{
	struct rfs_spares *s = arg;
	bool said = false;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		size_t want = s->off || s->n > LOW ? 0 : POOL - s->n;
		int rc;

		if (want == 0) {
			pthread_cond_wait(&s->wake, &s->mu);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		rc = make_batch(s, want);
		pthread_mutex_lock(&s->mu);
		if (rc < 0 && !s->stop) {
			struct timespec t;

			if (!said)
				rfs_log(LOG_WARNING, "cannot make folders ahead (%s): mkdir makes its own, "
				        "retried every %d s", strerror(-rc), RETRY_SECONDS);
			said = true;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += RETRY_SECONDS;
			pthread_cond_timedwait(&s->wake, &s->mu, &t);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int rfs_spares_open(struct rfs_vault *v, struct rfs_spares **out)
{
	struct rfs_spares *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->v = v;
	if (mkdirat(v->dirfd, RFS_SPARE_DIR, 0700) == 0)
		(void)rfs_io_fsync_dir(v->dirfd, ".");
	s->dir_fd = openat(v->dirfd, RFS_SPARE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dir_fd < 0) {
		int rc = -errno;

		free(s);
		return rc;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	scan(s);
	if (pthread_create(&s->maker, NULL, maker, s) != 0)
		rfs_log(LOG_WARNING, "cannot start the thread that makes folders ahead");
	else
		s->started = true;
	*out = s;
	return 0;
}

void rfs_spares_close(struct rfs_spares *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->maker, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	close(s->dir_fd);
	free(s);
}

int rfs_spares_dirfd(const struct rfs_spares *s)
{
	return s->dir_fd;
}

int rfs_spares_take(struct rfs_spares *s, struct rfs_spare *out)
{
	int rc = -EAGAIN;

	if (!s)
		return rc;
	pthread_mutex_lock(&s->mu);
	if (s->n > 0 && !s->off) {
		*out = s->pool[--s->n];
		rc = 0;
		if (s->n == LOW)
			pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void rfs_spares_give_back(struct rfs_spares *s, const struct rfs_spare *sp)
{
	pthread_mutex_lock(&s->mu);
	if (s->n < POOL)
		s->pool[s->n++] = *sp;
	pthread_mutex_unlock(&s->mu);
}

void rfs_spares_disable(struct rfs_spares *s)
{
	pthread_mutex_lock(&s->mu);
	if (!s->off)
		rfs_log(LOG_NOTICE, "the vault's file system cannot move a folder made ahead into "
		        "place: mkdir makes its own");
	s->off = true;
	pthread_mutex_unlock(&s->mu);
}
