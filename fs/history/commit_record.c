/*
** commit_record: the sealed record in each commit message: who saved what and
** when, serialised and sealed under keys->history, bound to the vault and the
** commit's tree (see commit_record.h and docs/HISTORY.md).
** Must never: emit a clear path outside the sealed bytes.
*/
#include "fs/history/commit_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/encoding.h"
#include "crypto/names.h"
#include "crypto/seal.h"
#include "crypto/secmem.h"

#define RECORD_AD_LABEL "recfs-commit-v1"

char *rfs_record_str(const char *s)
{
	return strdup(s ? s : "");
}

void rfs_record_who_encode(struct rfs_bytes *b, const struct rfs_record *r)
{
	rfs_bytes_u64(b, (uint64_t)r->time_sec);
	rfs_bytes_u32(b, r->time_nsec);
	rfs_bytes_u32(b, (uint32_t)r->tz_minutes);
	rfs_bytes_str(b, r->login);
	rfs_bytes_str(b, r->full_name);
	rfs_bytes_str(b, r->host);
}

void rfs_record_who_decode(struct rfs_reader *rd, struct rfs_record *r)
{
	r->time_sec = (int64_t)rfs_bytes_read_u64(rd);
	r->time_nsec = rfs_bytes_read_u32(rd);
	r->tz_minutes = (int32_t)rfs_bytes_read_u32(rd);
	r->login = rfs_bytes_read_str(rd);
	r->full_name = rfs_bytes_read_str(rd);
	r->host = rfs_bytes_read_str(rd);
}

#define PATH_AD_LABEL "recfs-path-v2"

bool rfs_record_id_is_zero(const uint8_t id[16])
{
	static const uint8_t z[16];
	return !memcmp(id, z, 16);
}

uint8_t rfs_record_version_of(const struct rfs_vault *v)
{
	return v->format >= 3 ? RFS_RECORD_VERSION_2 : RFS_RECORD_VERSION;
}

int rfs_record_folder_key(struct rfs_vault *v, const uint8_t dir[16], enum rfs_folder_purpose p,
                          struct rfs_folder_key *out)
{
	out->held = NULL;
	if (rfs_record_id_is_zero(dir)) {
		out->key = p == RFS_HKEY_PATH ? v->keys->history : v->keys->index;
		return 0;
	}
	const struct rfs_folder_keys *fk;
	int rc = rfs_vault_folder_keys_get(v, dir, &fk);
	if (rc < 0)
		return rc;
	out->held = fk;
	out->key = p == RFS_HKEY_PATH ? fk->path : fk->tag;
	return 0;
}

void rfs_record_folder_key_put(struct rfs_vault *v, struct rfs_folder_key *k)
{
	if (k->held)
		rfs_vault_folder_keys_put(v, k->held);
	k->held = NULL;
	k->key = NULL;
}

static void path_ad(uint8_t ad[sizeof PATH_AD_LABEL - 1 + 32], const uint8_t vault_id[16],
                    const uint8_t dir[16])
{
	memcpy(ad, PATH_AD_LABEL, sizeof PATH_AD_LABEL - 1);
	memcpy(ad + sizeof PATH_AD_LABEL - 1, vault_id, 16);
	memcpy(ad + sizeof PATH_AD_LABEL - 1 + 16, dir, 16);
}

/* Seal "str path || str extra" under dir's path key into *out. */
static int seal_one(struct rfs_vault *v, const uint8_t dir[16], const char *path, const char *extra,
                    struct rfs_sealed_path *out)
{
	struct rfs_bytes pl = { 0 };
	rfs_bytes_str(&pl, path);
	rfs_bytes_str(&pl, extra);
	if (pl.err) {
		int err = pl.err;
		rfs_bytes_free(&pl);
		return err;
	}
	struct rfs_folder_key fk;
	int rc = rfs_record_folder_key(v, dir, RFS_HKEY_PATH, &fk);
	if (rc == 0 && !(out->p = malloc(pl.len + RFS_SEAL_OVERHEAD)))
		rc = -ENOMEM;
	if (rc == 0) {
		uint8_t ad[sizeof PATH_AD_LABEL - 1 + 32];
		path_ad(ad, v->conf.vault_id, dir);
		rfs_seal(out->p, pl.p, pl.len, ad, sizeof ad, fk.key);
		out->len = pl.len + RFS_SEAL_OVERHEAD;
	}
	if (fk.held || rc == 0)
		rfs_record_folder_key_put(v, &fk);
	rfs_bytes_free(&pl);
	return rc;
}

int rfs_record_paths_seal(struct rfs_vault *v, struct rfs_event *e)
{
	int rc = 0;
	if (!e->spath.p)
		rc = seal_one(v, e->dir, e->path, e->property, &e->spath);
	if (rc == 0 && !e->spath_old.p && e->path_old[0])
		rc = seal_one(v, e->dir_old, e->path_old, "", &e->spath_old);
	return rc;
}

/* Open one sealed path into *path (and *extra). 0, -ENOENT (key gone), -EIO. */
static int open_one(struct rfs_vault *v, const uint8_t dir[16], const struct rfs_sealed_path *sp,
                    char **path, char **extra)
{
	if (sp->len < RFS_SEAL_OVERHEAD)
		return -EIO;
	struct rfs_folder_key fk;
	int rc = rfs_record_folder_key(v, dir, RFS_HKEY_PATH, &fk);
	if (rc < 0)
		return rc;
	size_t plen = sp->len - RFS_SEAL_OVERHEAD;
	uint8_t *plain = malloc(plen ? plen : 1);
	uint8_t ad[sizeof PATH_AD_LABEL - 1 + 32];
	path_ad(ad, v->conf.vault_id, dir);
	rc = !plain ? -ENOMEM : rfs_seal_open(plain, sp->p, sp->len, ad, sizeof ad, fk.key) ? -EIO : 0;
	rfs_record_folder_key_put(v, &fk);
	if (rc == 0) {
		struct rfs_reader rd = { plain, plen, 0, 0 };
		char *p = rfs_bytes_read_str(&rd), *x = rfs_bytes_read_str(&rd);
		rc = rd.err ? rd.err : !p || !x ? -ENOMEM : 0;
		if (rc == 0 && (!p[0] || p[0] != '/'))
			rc = -EIO;
		if (rc == 0) {
			free(*path);
			*path = p;
			if (extra) {
				free(*extra);
				*extra = x;
			} else {
				free(x);
			}
		} else {
			free(p);
			free(x);
		}
	}
	if (plain)
		rfs_secmem_wipe(plain, plen);
	free(plain);
	return rc;
}

int rfs_record_paths_open(struct rfs_vault *v, struct rfs_event *e)
{
	int rc = open_one(v, e->dir, &e->spath, &e->path, &e->property);
	if (rc == -ENOENT) {
		e->destroyed = true;
		rc = 0;
	}
	if (rc == 0 && e->spath_old.p) {
		rc = open_one(v, e->dir_old, &e->spath_old, &e->path_old, NULL);
		if (rc == -ENOENT) {
			e->destroyed_old = true;
			rc = 0;
		}
	}
	return rc;
}

static void sealed_encode(struct rfs_bytes *b, const struct rfs_sealed_path *sp)
{
	rfs_bytes_u32(b, (uint32_t)sp->len);
	if (sp->len)
		rfs_bytes_put(b, sp->p, sp->len);
}

static void sealed_decode(struct rfs_reader *r, struct rfs_sealed_path *sp)
{
	uint32_t len = rfs_bytes_read_u32(r);
	if (r->err || len > r->len - r->off) {
		r->err = r->err ? r->err : -EIO;
		return;
	}
	if (!len)
		return;
	sp->p = malloc(len);
	if (!sp->p) {
		r->err = -ENOMEM;
		return;
	}
	rfs_bytes_read(r, sp->p, len);
	sp->len = len;
}

void rfs_record_event_encode(struct rfs_bytes *b, const struct rfs_event *e, uint8_t version)
{
	rfs_bytes_u8(b, e->kind);
	rfs_bytes_u8(b, e->type);
	rfs_bytes_put(b, e->file_id, 16);
	rfs_bytes_u32(b, e->mode);
	rfs_bytes_u32(b, e->uid);
	rfs_bytes_u32(b, e->gid);
	rfs_bytes_u64(b, (uint64_t)e->mtime_sec);
	rfs_bytes_u32(b, e->mtime_nsec);
	rfs_bytes_u64(b, e->size);
	if (version == RFS_RECORD_VERSION_2) {
		if (!e->spath.p) {
			b->err = b->err ? b->err : -EINVAL;   /* never a clear path in a v2 record */
			return;
		}
		rfs_bytes_put(b, e->dir, 16);
		sealed_encode(b, &e->spath);
		rfs_bytes_put(b, e->dir_old, 16);
		sealed_encode(b, &e->spath_old);
		rfs_bytes_str(b, e->restored_from);
		return;
	}
	rfs_bytes_str(b, e->path);
	rfs_bytes_str(b, e->path_old);
	rfs_bytes_str(b, e->restored_from);
	rfs_bytes_str(b, e->property);
}

int rfs_record_event_decode(struct rfs_reader *r, struct rfs_event *e, uint8_t version)
{
	memset(e, 0, sizeof *e);
	e->kind = rfs_bytes_read_u8(r);
	e->type = rfs_bytes_read_u8(r);
	rfs_bytes_read(r, e->file_id, 16);
	e->mode = rfs_bytes_read_u32(r);
	e->uid = rfs_bytes_read_u32(r);
	e->gid = rfs_bytes_read_u32(r);
	e->mtime_sec = (int64_t)rfs_bytes_read_u64(r);
	e->mtime_nsec = rfs_bytes_read_u32(r);
	e->size = rfs_bytes_read_u64(r);
	if (version == RFS_RECORD_VERSION_2) {
		rfs_bytes_read(r, e->dir, 16);
		sealed_decode(r, &e->spath);
		rfs_bytes_read(r, e->dir_old, 16);
		sealed_decode(r, &e->spath_old);
		e->restored_from = rfs_bytes_read_str(r);
		e->path = rfs_record_str(NULL);
		e->path_old = rfs_record_str(NULL);
		e->property = rfs_record_str(NULL);
		if (!r->err && (!e->spath.p || !e->path || !e->path_old || !e->property))
			r->err = !e->spath.p ? -EIO : -ENOMEM;
	} else {
		e->path = rfs_bytes_read_str(r);
		e->path_old = rfs_bytes_read_str(r);
		e->restored_from = rfs_bytes_read_str(r);
		e->property = rfs_bytes_read_str(r);
	}
	if (r->err) {
		rfs_record_event_clear(e);
		return r->err;
	}
	return 0;
}

void rfs_record_event_clear(struct rfs_event *e)
{
	free(e->path);
	free(e->path_old);
	free(e->restored_from);
	free(e->property);
	free(e->spath.p);
	free(e->spath_old.p);
	e->path = e->path_old = e->restored_from = e->property = NULL;
	e->spath = e->spath_old = (struct rfs_sealed_path){ 0 };
}

void rfs_record_clear(struct rfs_record *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		rfs_record_event_clear(&r->events[i]);
	free(r->events);
	free(r->login);
	free(r->full_name);
	free(r->host);
	memset(r, 0, sizeof *r);
}

static void record_ad(uint8_t ad[sizeof RECORD_AD_LABEL - 1 + 16 + GIT_OID_RAWSZ],
                      const uint8_t vault_id[16], const git_oid *tree)
{
	memcpy(ad, RECORD_AD_LABEL, sizeof RECORD_AD_LABEL - 1);
	memcpy(ad + sizeof RECORD_AD_LABEL - 1, vault_id, 16);
	memcpy(ad + sizeof RECORD_AD_LABEL - 1 + 16, tree->id, GIT_OID_RAWSZ);
}

int rfs_record_seal(const struct rfs_record *r, struct rfs_vault *v, const git_oid *tree, char **msg)
{
	const struct rfs_keys *k = v->keys;
	const uint8_t *vault_id = v->conf.vault_id;
	struct rfs_bytes b = { 0 };
	uint8_t version = r->version ? r->version : RFS_RECORD_VERSION;
	for (size_t i = 0; version == RFS_RECORD_VERSION_2 && i < r->nevents && !b.err; i++)
		b.err = rfs_record_paths_seal(v, &r->events[i]);
	rfs_bytes_u8(&b, version);
	rfs_bytes_u64(&b, r->seq);
	rfs_bytes_put(&b, r->parent.id, GIT_OID_RAWSZ);
	rfs_record_who_encode(&b, r);
	rfs_bytes_u32(&b, (uint32_t)r->nevents);
	for (size_t i = 0; i < r->nevents; i++)
		rfs_record_event_encode(&b, &r->events[i], version);
	if (b.err) {
		int err = b.err;
		rfs_bytes_free(&b);
		return err;
	}
	size_t sealed_len = b.len + RFS_SEAL_OVERHEAD;
	uint8_t *sealed = malloc(sealed_len);
	char *text = malloc(rfs_b64_len(sealed_len) + 2);
	if (!sealed || !text) {
		free(sealed);
		free(text);
		rfs_bytes_free(&b);
		return -ENOMEM;
	}
	uint8_t ad[sizeof RECORD_AD_LABEL - 1 + 16 + GIT_OID_RAWSZ];
	record_ad(ad, vault_id, tree);
	rfs_seal(sealed, b.p, b.len, ad, sizeof ad, k->history);
	rfs_bytes_free(&b);
	size_t n = rfs_b64_encode(text, sealed, sealed_len);
	text[n] = '\n';
	text[n + 1] = 0;
	free(sealed);
	*msg = text;
	return 0;
}

int rfs_record_open(struct rfs_record *r, const char *msg, struct rfs_vault *v, const git_oid *tree)
{
	const struct rfs_keys *k = v->keys;
	const uint8_t *vault_id = v->conf.vault_id;
	memset(r, 0, sizeof *r);
	size_t len = strcspn(msg, "\n");
	size_t cap = len;
	uint8_t *sealed = malloc(cap ? cap : 1);
	if (!sealed)
		return -ENOMEM;
	long n = rfs_b64_decode(sealed, cap, msg, len);
	if (n < (long)RFS_SEAL_OVERHEAD + 1) {
		free(sealed);
		return -EIO;
	}
	size_t plen = (size_t)n - RFS_SEAL_OVERHEAD;
	uint8_t *plain = malloc(plen);
	if (!plain) {
		free(sealed);
		return -ENOMEM;
	}
	uint8_t ad[sizeof RECORD_AD_LABEL - 1 + 16 + GIT_OID_RAWSZ];
	record_ad(ad, vault_id, tree);
	int rc = rfs_seal_open(plain, sealed, (size_t)n, ad, sizeof ad, k->history);
	free(sealed);
	if (rc != 0) {
		free(plain);
		return -EIO;
	}
	struct rfs_reader rd = { plain, plen, 0, 0 };
	r->version = rfs_bytes_read_u8(&rd);
	if (r->version != rfs_record_version_of(v))
		rd.err = -EPROTONOSUPPORT;
	r->seq = rfs_bytes_read_u64(&rd);
	rfs_bytes_read(&rd, r->parent.id, GIT_OID_RAWSZ);
	rfs_record_who_decode(&rd, r);
	uint32_t nev = rfs_bytes_read_u32(&rd);
	if (!rd.err && nev <= plen / 40) {
		r->events = calloc(nev ? nev : 1, sizeof *r->events);
		if (!r->events)
			rd.err = -ENOMEM;
		for (uint32_t i = 0; i < nev && !rd.err; i++)
			if (rfs_record_event_decode(&rd, &r->events[i], r->version) == 0)
				r->nevents++;
	for (size_t i = 0; i < r->nevents && !rd.err && r->version == RFS_RECORD_VERSION_2; i++)
		rd.err = rfs_record_paths_open(v, &r->events[i]);
	} else if (!rd.err) {
		rd.err = -EIO;
	}
	rfs_secmem_wipe(plain, plen);
	free(plain);
	if (rd.err) {
		rfs_record_clear(r);
		return rd.err;
	}
	return 0;
}

void rfs_record_version_fill(struct rfs_version *v, const struct rfs_record *r,
                             const struct rfs_event *e, const git_oid *rev)
{
	memset(v, 0, sizeof *v);
	git_oid_tostr(v->rev, sizeof v->rev, rev);
	v->seq = r->seq;
	v->time = r->time_sec;
	v->tz_offset = r->tz_minutes;
	v->login = r->login;
	v->full_name = r->full_name;
	v->host = r->host;
	v->kind = (enum rfs_save_kind)e->kind;
	v->type = (enum rfs_obj_type)e->type;
	v->path = e->path;
	v->path_old = e->path_old;
	v->restored_from = e->restored_from;
	v->property = e->property;
	memcpy(v->file_id, e->file_id, 16);
	v->mode = e->mode;
	v->uid = e->uid;
	v->gid = e->gid;
	v->mtime.tv_sec = (time_t)e->mtime_sec;
	v->mtime.tv_nsec = (long)e->mtime_nsec;
	v->size = e->size;
	memcpy(v->dir, e->dir, 16);
	v->destroyed = e->destroyed;
}
