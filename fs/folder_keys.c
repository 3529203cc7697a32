/*
** folder_keys: the keys of folders, by folder id, in a bounded cache.
**
** RFS_FOLDER_CACHE_ENTRIES entries in one sodium_malloc arena; which folder
** each holds, its users and its clock bit sit beside it in plain memory (ids
** are not secrets: they are in every .dirid). A miss loads the folder key
** from the key store (format 3) or copies the vault-wide keys (format 2) and
** derives into the arena; a full cache evicts by the clock, never an entry in
** use; when every entry is in use a caller waits for a put.
** Owns: every unwrapped folder key while the vault is open.
** Must never: hand out an entry that another folder may take before its put,
** keep a forgotten (shredded) folder's keys after its last put, or put a key
** anywhere but the arena.
*/
#include "fs/vault.h"

#include "crypto/secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NBUCKETS (RFS_FOLDER_CACHE_ENTRIES * 2)
#define NONE (-1)

struct entry_meta {
	uint8_t dirid[RFS_DIRID_SIZE];
	unsigned refs;               /* gets not yet put */
	bool used;                   /* holds dirid's keys */
	bool hashed;                 /* findable by dirid (false once forgotten) */
	bool recent;                 /* clock bit */
	int next;                    /* bucket chain */
};

struct rfs_folder_cache {
	pthread_mutex_t mu;
	pthread_cond_t freed;        /* an entry's refs fell to 0 */
	struct rfs_folder_keys *arena;   /* sodium_malloc, made at the first get */
	uint8_t *folder_key;         /* sodium_malloc scratch for one unwrapped key */
	pid_t arena_pid;             /* the arena is mlock'ed in this process */
	size_t hand;
	int buckets[NBUCKETS];
	struct entry_meta meta[RFS_FOLDER_CACHE_ENTRIES];
};

static size_t bucket_of(const uint8_t dirid[RFS_DIRID_SIZE])
{
	uint64_t a, b;

	memcpy(&a, dirid, 8);
	memcpy(&b, dirid + 8, 8);
	a ^= b * 0x9e3779b97f4a7c15ull;
	a ^= a >> 29;
	a *= 0xbf58476d1ce4e5b9ull;
	a ^= a >> 32;
	return (size_t)(a % NBUCKETS);
}

int rfs_folder_cache_open(struct rfs_vault *v)
{
	struct rfs_folder_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->freed, NULL);
	for (size_t i = 0; i < NBUCKETS; i++)
		c->buckets[i] = NONE;
	v->folders = c;
	return 0;
}

void rfs_folder_cache_close(struct rfs_vault *v)
{
	struct rfs_folder_cache *c = v->folders;

	if (!c)
		return;
	rfs_secmem_free(c->arena);           /* wipes */
	rfs_secmem_free(c->folder_key);
	pthread_cond_destroy(&c->freed);
	pthread_mutex_destroy(&c->mu);
	free(c);
	v->folders = NULL;
}

/* The arena, made (and locked in RAM in this process: a forked daemon does
** not inherit its parent's locks) on a miss. Under mu. 0 or -ENOMEM. */
static int arena_ready(struct rfs_folder_cache *c)
{
	size_t size = sizeof(*c->arena) * RFS_FOLDER_CACHE_ENTRIES;

	if (!c->arena) {
		c->arena = rfs_secmem_alloc(size);
		c->folder_key = rfs_secmem_alloc(RFS_FOLDER_KEY_SIZE);
		if (!c->arena || !c->folder_key) {
			rfs_secmem_free(c->arena);
			rfs_secmem_free(c->folder_key);
			c->arena = NULL;
			c->folder_key = NULL;
			return -ENOMEM;
		}
		c->arena_pid = getpid();
	} else if (c->arena_pid != getpid()) {
		/* The system call itself: sanitizer builds make mlock() a no-op. */
		(void)syscall(SYS_mlock, c->arena, size);
		c->arena_pid = getpid();
	}
	return 0;
}

static int find(struct rfs_folder_cache *c, const uint8_t dirid[RFS_DIRID_SIZE])
{
	for (int i = c->buckets[bucket_of(dirid)]; i != NONE; i = c->meta[i].next)
		if (memcmp(c->meta[i].dirid, dirid, RFS_DIRID_SIZE) == 0)
			return i;
	return NONE;
}

static void unhash(struct rfs_folder_cache *c, int i)
{
	int *p = &c->buckets[bucket_of(c->meta[i].dirid)];

	while (*p != i)
		p = &c->meta[*p].next;
	*p = c->meta[i].next;
	c->meta[i].hashed = false;
}

/* Wipe an entry nobody uses and make it free. */
static void release(struct rfs_folder_cache *c, int i)
{
	if (c->meta[i].hashed)
		unhash(c, i);
	rfs_secmem_wipe(&c->arena[i], sizeof(c->arena[i]));
	c->meta[i].used = false;
}

/* A free entry, evicting by the clock; NONE when every entry is in use. */
static int take_free(struct rfs_folder_cache *c)
{
	for (size_t step = 0; step < 2 * RFS_FOLDER_CACHE_ENTRIES; step++) {
		size_t i = c->hand;
		struct entry_meta *m = &c->meta[i];

		c->hand = (c->hand + 1) % RFS_FOLDER_CACHE_ENTRIES;
		if (!m->used)
			return (int)i;
		if (m->refs > 0)
			continue;
		if (m->recent) {
			m->recent = false;
			continue;
		}
		release(c, (int)i);
		return (int)i;
	}
	return NONE;
}

/* Fill entry i with the keys of dirid. Under mu. */
static int load(struct rfs_vault *v, struct rfs_folder_cache *c, int i,
                const uint8_t dirid[RFS_DIRID_SIZE])
{
	int rc = 0;

	if (v->format < 3) {
		rfs_folder_keys_from_vault(&c->arena[i], dirid, v->keys);
		return 0;
	}
	rc = rfs_keystore_load(v->ks, dirid, c->folder_key);
	if (rc == 0)
		rfs_folder_keys_derive(&c->arena[i], dirid, c->folder_key);
	rfs_secmem_wipe(c->folder_key, RFS_FOLDER_KEY_SIZE);
	return rc;
}

int rfs_vault_folder_keys_get(struct rfs_vault *v, const uint8_t dirid[16],
                              const struct rfs_folder_keys **fk)
{
	struct rfs_folder_cache *c = v->folders;
	int i, rc = 0;

	pthread_mutex_lock(&c->mu);
	i = c->arena ? find(c, dirid) : NONE;
	if (i == NONE) {
		rc = arena_ready(c);
		while (rc == 0 && (i = find(c, dirid)) == NONE && (i = take_free(c)) == NONE)
			pthread_cond_wait(&c->freed, &c->mu);   /* every entry in use: wait for a put */
		if (rc == 0 && !c->meta[i].used) {
			rc = load(v, c, i, dirid);
			if (rc == 0) {
				struct entry_meta *m = &c->meta[i];
				size_t b = bucket_of(dirid);

				memcpy(m->dirid, dirid, RFS_DIRID_SIZE);
				m->used = m->hashed = true;
				m->refs = 0;
				m->next = c->buckets[b];
				c->buckets[b] = i;
			}
		}
	}
	if (rc == 0) {
		c->meta[i].refs++;
		c->meta[i].recent = true;
		*fk = &c->arena[i];
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void rfs_vault_folder_keys_put(struct rfs_vault *v, const struct rfs_folder_keys *fk)
{
	struct rfs_folder_cache *c = v->folders;
	int i;

	if (!fk)
		return;
	pthread_mutex_lock(&c->mu);
	i = (int)(fk - c->arena);
	if (--c->meta[i].refs == 0) {
		if (!c->meta[i].hashed)
			release(c, i);       /* forgotten while in use */
		pthread_cond_signal(&c->freed);
	}
	pthread_mutex_unlock(&c->mu);
}

void rfs_vault_folder_keys_forget(struct rfs_vault *v, const uint8_t (*ids)[16], size_t n)
{
	struct rfs_folder_cache *c = v->folders;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t k = 0; c->arena && k < n; k++) {
		int i = find(c, ids[k]);

		if (i == NONE)
			continue;
		if (c->meta[i].refs == 0)
			release(c, i);
		else
			unhash(c, i);        /* wiped at its last put */
	}
	pthread_mutex_unlock(&c->mu);
}

enum one_name { SEAL_NAME, OPEN_NAME, OPEN_TARGET };

static int one_name(struct rfs_vault *v, const uint8_t dirid[16], const char *in, char *out,
                    size_t outsz, enum one_name what)
{
	const struct rfs_folder_keys *fk;
	int rc = rfs_vault_folder_keys_get(v, dirid, &fk);

	if (rc < 0)
		return rc;
	if (what == SEAL_NAME)
		rc = rfs_name_seal(out, outsz, in, fk);
	else if (what == OPEN_NAME)
		rc = rfs_name_open(out, outsz, in, fk);
	else
		rc = rfs_name_target_open(out, outsz, in, fk);
	rfs_vault_folder_keys_put(v, fk);
	return rc;
}

int rfs_vault_name_seal(struct rfs_vault *v, const uint8_t dirid[16], const char *name,
                        char *out, size_t outsz)
{
	return one_name(v, dirid, name, out, outsz, SEAL_NAME);
}

int rfs_vault_name_open(struct rfs_vault *v, const uint8_t dirid[16], const char *text,
                        char *out, size_t outsz)
{
	return one_name(v, dirid, text, out, outsz, OPEN_NAME);
}

int rfs_vault_target_open(struct rfs_vault *v, const uint8_t dirid[16], const char *text,
                          char *out, size_t outsz)
{
	return one_name(v, dirid, text, out, outsz, OPEN_TARGET);
}
