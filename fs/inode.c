/*
** inode: see inode.h. A chained hash table under one mutex: lookups are a
** few hundred nanoseconds, far below the syscalls around them.
*/
#include "fs/inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/secmem.h"

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

int rfs_itable_init(struct rfs_itable *t, int root_fd)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH) != 0)
		return -errno;
	pthread_mutex_init(&t->mu, NULL);
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->root.fd = root_fd;
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
	if (in->fd >= 0)
		close(in->fd);
	rfs_key_free(in->key);
	free(in->name);
	free(in->backing);
	pthread_mutex_destroy(&in->mu);
	pthread_rwlock_destroy(&in->content);
	free(in);
}

void rfs_itable_destroy(struct rfs_itable *t)
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
	close(t->root.fd);
	rfs_key_free(t->root.key);
	free(t->root.name);
	free(t->root.backing);
	pthread_mutex_destroy(&t->root.mu);
	pthread_rwlock_destroy(&t->root.content);
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
	int fd, rc = 0;

	pthread_mutex_lock(&t->mu);
	in = find_locked(t, st->st_dev, st->st_ino);
	if (in) {
		in->nlookup++;
		if (in != &t->root && (in->parent != parent || !in->name || strcmp(in->name, name)))
			(void)set_name_locked(in, parent, name, backing);
		pthread_mutex_unlock(&t->mu);
		*out = in;
		return 0;
	}
	pthread_mutex_unlock(&t->mu);

	fd = openat(parent->fd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	in = calloc(1, sizeof(*in));
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	in->fd = fd;
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

void rfs_inode_forget(struct rfs_itable *t, struct rfs_inode *in, uint64_t n)
{
	pthread_mutex_lock(&t->mu);
	if (in == &t->root) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	while (in && in != &t->root && in->nlookup == 0 && in->nchildren == 0) {
		struct rfs_inode *parent = in->parent;

		unhash_locked(t, in);
		if (parent)
			parent->nchildren--;
		in->parent = NULL;
		inode_free(in);
		in = parent;
	}
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
	pthread_mutex_lock(&t->mu);
	(void)set_name_locked(in, parent, name, backing);
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
