/*
** inode: see inode.h. A chained hash table under one mutex: lookups are a
** few hundred nanoseconds, far below the syscalls around them. Descriptors
** are cached in a least-recently-used list of those nobody is using; a miss
** walks up to the nearest ancestor with a descriptor (the root always has
** one) and opens down again, one openat per missing level.
*/
#include "fs/inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "fs/closer.h"

static size_t bucket_of(const struct rfs_itable *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

static void inode_init_locks(struct rfs_inode *in)
{
	pthread_mutex_init(&in->mu, NULL);
	pthread_rwlock_init(&in->content, NULL);
}

int rfs_inode_table_init(struct rfs_itable *t, int root_fd)
{
	struct rlimit rl;
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH) != 0)
		return -errno;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	pthread_rwlock_init(&t->names, NULL);
	/* Leave most of the limit to files open for I/O, git and FUSE. */
	t->fd_cap = RFS_FD_CACHE_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < t->fd_cap)
		t->fd_cap = rl.rlim_cur / 4 > 16 ? (size_t)(rl.rlim_cur / 4) : 16;
	t->root.cached_fd = root_fd;
	t->root.dev = st.st_dev;
	t->root.ino = st.st_ino;
	t->root.type = S_IFDIR;
	t->root.nlookup = 2;           /* never forgotten */
	t->root.name = strdup("");
	t->root.backing = strdup("");
	inode_init_locks(&t->root);
	return 0;
}

static void inode_free(struct rfs_inode *in)
{
	/* An unlinked file's last descriptor: its close frees the file (fs/closer.h). */
	rfs_closer_put(in->cached_fd);
	rfs_secmem_key_free(in->key);
	free(in->name);
	free(in->backing);
	pthread_mutex_destroy(&in->mu);
	pthread_rwlock_destroy(&in->content);
	free(in);
}

void rfs_inode_table_destroy(struct rfs_itable *t)
{
	size_t i;

	for (i = 0; i < t->nbuckets; i++) {
		struct rfs_inode *in = t->buckets[i], *next;

		for (; in; in = next) {
			next = in->hnext;
			inode_free(in);
		}
	}
	free(t->buckets);
	close(t->root.cached_fd);
	rfs_secmem_key_free(t->root.key);
	free(t->root.name);
	free(t->root.backing);
	pthread_mutex_destroy(&t->root.mu);
	pthread_rwlock_destroy(&t->root.content);
	pthread_rwlock_destroy(&t->names);
	pthread_mutex_destroy(&t->mu);
}

static void grow(struct rfs_itable *t)
{
	size_t n = t->nbuckets * 2, i;
	struct rfs_inode **nb = calloc(n, sizeof(*nb));
	struct rfs_inode **old = t->buckets;
	size_t oldn = t->nbuckets;

	if (!nb)
		return;                /* stay slower, still correct */
	t->buckets = nb;
	t->nbuckets = n;
	for (i = 0; i < oldn; i++) {
		struct rfs_inode *in = old[i], *next;

		for (; in; in = next) {
			size_t b = bucket_of(t, in->dev, in->ino);

			next = in->hnext;
			in->hnext = nb[b];
			nb[b] = in;
		}
	}
	free(old);
}

static struct rfs_inode *find_locked(struct rfs_itable *t, dev_t dev, ino_t ino)
{
	struct rfs_inode *in;

	if (dev == t->root.dev && ino == t->root.ino)
		return &t->root;
	for (in = t->buckets[bucket_of(t, dev, ino)]; in; in = in->hnext)
		if (in->dev == dev && in->ino == ino)
			return in;
	return NULL;
}

struct rfs_inode *rfs_inode_find(struct rfs_itable *t, dev_t dev, ino_t ino)
{
	struct rfs_inode *in;

	pthread_mutex_lock(&t->mu);
	in = find_locked(t, dev, ino);
	pthread_mutex_unlock(&t->mu);
	return in;
}

/* ---- the descriptor cache (table lock held) ---- */

static void lru_remove(struct rfs_itable *t, struct rfs_inode *in)
{
	if (!in->in_lru)
		return;
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else
		t->lru_head = in->lru_next;
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		t->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
	in->in_lru = false;
	t->nlru--;
}

/* Put in on the list of closable descriptors, or take it off: closable when
** cached, unused and still in the name tree (an unlinked file cannot be
** reached again). A use moves it to the front. */
static void lru_settle(struct rfs_itable *t, struct rfs_inode *in)
{
	bool closable = in != &t->root && in->cached_fd >= 0 && in->fd_refs == 0 && in->parent;

	lru_remove(t, in);
	if (!closable)
		return;
	in->lru_prev = NULL;
	in->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = in;
	else
		t->lru_tail = in;
	t->lru_head = in;
	in->in_lru = true;
	t->nlru++;
}

/* Close the least recently used unused descriptors beyond keep. */
static void trim_locked(struct rfs_itable *t, size_t keep)
{
	while (t->nlru > keep) {
		struct rfs_inode *victim = t->lru_tail;

		lru_remove(t, victim);
		close(victim->cached_fd);
		victim->cached_fd = -1;
		t->nfds--;
	}
}

static void reap_locked(struct rfs_itable *t, struct rfs_inode *in);

static void unref_locked(struct rfs_itable *t, struct rfs_inode *in)
{
	if (--in->fd_refs > 0)
		return;
	lru_settle(t, in);
	trim_locked(t, t->fd_cap);
	reap_locked(t, in);
}

/* Open backing in the folder pfd, and check that it is still (dev, ino): a
** name the tree has not caught up with must not hand out another file. */
static int open_child(int pfd, const char *backing, dev_t dev, ino_t ino)
{
	struct stat st;
	int fd = openat(pfd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_dev != dev || st.st_ino != ino) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* A miss: reference in and each ancestor up to the nearest with a
** descriptor, then open down from it. Table lock held, dropped around each
** openat (the references keep every inode on the way and its descriptor).
** Returns in's descriptor with one reference taken, or -errno and none. */
static int reach_locked(struct rfs_itable *t, struct rfs_inode *in)
{
	struct rfs_inode *small[16], **chain = small, *p;
	size_t n = 0, cap = sizeof(small) / sizeof(small[0]), i, done = 0;
	char backing[NAME_MAX + 1];
	int rc = 0, fd;

	for (p = in;; p = p->parent) {
		if (!p) {
			rc = -ENOENT;  /* unlinked on the way, and nobody kept a descriptor */
			break;
		}
		if (n == cap) {
			struct rfs_inode **bigger = malloc(2 * cap * sizeof(*bigger));

			if (!bigger) {
				rc = -ENOMEM;
				break;
			}
			memcpy(bigger, chain, n * sizeof(*chain));
			if (chain != small)
				free(chain);
			chain = bigger;
			cap *= 2;
		}
		p->fd_refs++;
		lru_remove(t, p);
		chain[n++] = p;
		if (p->cached_fd >= 0)
			break;
	}
	/* chain[n - 1] has a descriptor; each chain[i - 1] is a child of chain[i]. */
	for (i = n > 0 ? n - 1 : 0; rc == 0 && i > 0; i--) {
		struct rfs_inode *child = chain[i - 1];
		bool retried = false;

		if (child->cached_fd >= 0)
			continue;
		if (child->parent != chain[i] || strlen(child->backing) > NAME_MAX) {
			rc = -ENOENT;
			break;
		}
		strcpy(backing, child->backing);
again:
		pthread_mutex_unlock(&t->mu);
		fd = open_child(chain[i]->cached_fd, backing, child->dev, child->ino);
		pthread_mutex_lock(&t->mu);
		if ((fd == -EMFILE || fd == -ENFILE) && !retried) {
			trim_locked(t, 0);      /* programs hold many files: give ours back */
			retried = true;
			goto again;
		}
		if (fd < 0) {
			rc = fd;
		} else if (child->cached_fd >= 0) {
			close(fd);              /* another thread opened it meanwhile */
		} else {
			child->cached_fd = fd;
			t->nfds++;
		}
	}
	if (rc == 0) {
		rc = in->cached_fd;
		done = 1;               /* in keeps its reference: the caller's */
	}
	for (i = done; i < n; i++)
		unref_locked(t, chain[i]);
	if (chain != small)
		free(chain);
	trim_locked(t, t->fd_cap);
	return rc;
}

int rfs_inode_get_fd(struct rfs_itable *t, struct rfs_inode *in)
{
	int fd;

	pthread_mutex_lock(&t->mu);
	if (in->cached_fd >= 0) {
		in->fd_refs++;
		lru_remove(t, in);
		fd = in->cached_fd;
		pthread_mutex_unlock(&t->mu);
		return fd;
	}
	pthread_mutex_unlock(&t->mu);
	/* By name: no rename may be half done (moved on disk, not yet in the tree). */
	pthread_rwlock_rdlock(&t->names);
	pthread_mutex_lock(&t->mu);
	fd = reach_locked(t, in);
	pthread_mutex_unlock(&t->mu);
	pthread_rwlock_unlock(&t->names);
	return fd;
}

void rfs_inode_put_fd(struct rfs_itable *t, struct rfs_inode *in)
{
	pthread_mutex_lock(&t->mu);
	unref_locked(t, in);
	pthread_mutex_unlock(&t->mu);
}

void rfs_inode_offer_fd(struct rfs_itable *t, struct rfs_inode *in, int pfd)
{
	if (pfd < 0)
		return;
	pthread_mutex_lock(&t->mu);
	if (in->cached_fd >= 0 || !in->parent) {
		close(pfd);                  /* one is cached already */
	} else {
		in->cached_fd = pfd;
		t->nfds++;
		if (in->fd_refs == 0)
			lru_settle(t, in);
		trim_locked(t, t->fd_cap);
	}
	pthread_mutex_unlock(&t->mu);
}

int rfs_inode_get_parent_fd(struct rfs_itable *t, struct rfs_inode *in,
                            struct rfs_inode **parent, char backing[NAME_MAX + 1])
{
	struct rfs_inode *p;
	int fd;

	pthread_mutex_lock(&t->mu);
	p = in->parent;
	if (!p || in == &t->root || strlen(in->backing) > NAME_MAX) {
		pthread_mutex_unlock(&t->mu);
		return -ENOENT;
	}
	strcpy(backing, in->backing);
	p->fd_refs++;                  /* keeps p while the lock is dropped */
	lru_remove(t, p);
	pthread_mutex_unlock(&t->mu);
	fd = rfs_inode_get_fd(t, p);
	rfs_inode_put_fd(t, p);
	if (fd >= 0)
		*parent = p;
	return fd;
}

void rfs_inode_names_lock(struct rfs_itable *t)
{
	pthread_rwlock_wrlock(&t->names);
}

void rfs_inode_names_unlock(struct rfs_itable *t)
{
	pthread_rwlock_unlock(&t->names);
}

size_t rfs_inode_table_cached_fds(struct rfs_itable *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->nfds;
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* Set the name tree links; table lock held. Returns -ENOMEM leaving in unchanged. */
static int set_name_locked(struct rfs_inode *in, struct rfs_inode *parent, const char *name,
                           const char *backing)
{
	char *n = NULL, *b = NULL;

	if (parent) {
		n = strdup(name);
		b = strdup(backing);
		if (!n || !b) {
			free(n);
			free(b);
			return -ENOMEM;
		}
		parent->nchildren++;
	}
	if (in->parent)
		in->parent->nchildren--;   /* never reaches zero while the kernel knows it */
	free(in->name);
	free(in->backing);
	in->parent = parent;
	in->name = n;
	in->backing = b;
	return 0;
}

int rfs_inode_lookup(struct rfs_itable *t, struct rfs_inode *parent, const char *name,
                     const char *backing, const struct stat *st, struct rfs_inode **out)
{
	struct rfs_inode *in;
	int rc = 0;

	pthread_mutex_lock(&t->mu);
	in = find_locked(t, st->st_dev, st->st_ino);
	if (in) {
		in->nlookup++;
		if (in != &t->root && (in->parent != parent || !in->name || strcmp(in->name, name))) {
			(void)set_name_locked(in, parent, name, backing);
			lru_settle(t, in);
		}
		pthread_mutex_unlock(&t->mu);
		*out = in;
		return 0;
	}
	pthread_mutex_unlock(&t->mu);

	/* No descriptor: rfs_inode_get_fd opens one when an operation needs it. */
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->cached_fd = -1;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->type = st->st_mode & S_IFMT;
	in->nlookup = 1;
	inode_init_locks(in);

	pthread_mutex_lock(&t->mu);
	{
		struct rfs_inode *raced = find_locked(t, st->st_dev, st->st_ino);

		if (raced) {
			raced->nlookup++;
			pthread_mutex_unlock(&t->mu);
			inode_free(in);
			*out = raced;
			return 0;
		}
	}
	rc = set_name_locked(in, parent, name, backing);
	if (rc == 0) {
		size_t b = bucket_of(t, in->dev, in->ino);

		in->hnext = t->buckets[b];
		t->buckets[b] = in;
		if (++t->count > t->nbuckets)
			grow(t);
	}
	pthread_mutex_unlock(&t->mu);
	if (rc < 0) {
		inode_free(in);
		return rc;
	}
	*out = in;
	return 0;
}

static void unhash_locked(struct rfs_itable *t, struct rfs_inode *in)
{
	struct rfs_inode **pp = &t->buckets[bucket_of(t, in->dev, in->ino)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == in) {
			*pp = in->hnext;
			t->count--;
			return;
		}
	}
}

/* Free in, then each parent, for as long as nothing refers to them. Table lock held. */
static void reap_locked(struct rfs_itable *t, struct rfs_inode *in)
{
	while (in && in != &t->root && in->nlookup == 0 && in->nchildren == 0 && in->fd_refs == 0) {
		struct rfs_inode *parent = in->parent;

		unhash_locked(t, in);
		lru_remove(t, in);
		if (in->cached_fd >= 0)
			t->nfds--;
		if (parent)
			parent->nchildren--;
		in->parent = NULL;
		inode_free(in);
		in = parent;
	}
}

void rfs_inode_forget(struct rfs_itable *t, struct rfs_inode *in, uint64_t n)
{
	pthread_mutex_lock(&t->mu);
	if (in == &t->root) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	reap_locked(t, in);
	pthread_mutex_unlock(&t->mu);
}

bool rfs_inode_unlinked(struct rfs_itable *t, struct rfs_inode *in)
{
	pthread_mutex_lock(&t->mu);
	bool gone = in != &t->root && !in->parent;
	pthread_mutex_unlock(&t->mu);
	return gone;
}

void rfs_inode_rename(struct rfs_itable *t, struct rfs_inode *in, struct rfs_inode *parent,
                      const char *name, const char *backing)
{
	struct rfs_inode *old;

	pthread_mutex_lock(&t->mu);
	old = in->parent;
	(void)set_name_locked(in, parent, name, backing);
	lru_settle(t, in);             /* unlinked: its descriptor is the only way to it */
	if (old != parent)
		reap_locked(t, old);   /* a folder the kernel forgot, left with no child */
	pthread_mutex_unlock(&t->mu);
}

char *rfs_inode_path(struct rfs_itable *t, struct rfs_inode *in, bool clear)
{
	size_t len = 0;
	struct rfs_inode *p;
	char *out = NULL;

	pthread_mutex_lock(&t->mu);
	for (p = in; p != &t->root; p = p->parent) {
		if (!p || !p->parent)
			goto done;
		len += strlen(clear ? p->name : p->backing) + (len > 0);
	}
	out = malloc(len + 1);
	if (!out)
		goto done;
	out[len] = '\0';
	for (p = in; p != &t->root; p = p->parent) {
		const char *c = clear ? p->name : p->backing;
		size_t l = strlen(c);

		len -= l;
		memcpy(out + len, c, l);
		if (len > 0)
			out[--len] = '/';
	}
done:
	pthread_mutex_unlock(&t->mu);
	return out;
}
