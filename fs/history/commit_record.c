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

void rfs_record_event_encode(struct rfs_bytes *b, const struct rfs_event *e)
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
	rfs_bytes_str(b, e->path);
	rfs_bytes_str(b, e->path_old);
	rfs_bytes_str(b, e->restored_from);
	rfs_bytes_str(b, e->property);
}

int rfs_record_event_decode(struct rfs_reader *r, struct rfs_event *e)
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
	e->path = rfs_bytes_read_str(r);
	e->path_old = rfs_bytes_read_str(r);
	e->restored_from = rfs_bytes_read_str(r);
	e->property = rfs_bytes_read_str(r);
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
	e->path = e->path_old = e->restored_from = e->property = NULL;
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

int rfs_record_seal(const struct rfs_record *r, const struct rfs_keys *k,
                    const uint8_t vault_id[16], const git_oid *tree, char **msg)
{
	struct rfs_bytes b = { 0 };
	rfs_bytes_u8(&b, RFS_RECORD_VERSION);
	rfs_bytes_u64(&b, r->seq);
	rfs_bytes_put(&b, r->parent.id, GIT_OID_RAWSZ);
	rfs_record_who_encode(&b, r);
	rfs_bytes_u32(&b, (uint32_t)r->nevents);
	for (size_t i = 0; i < r->nevents; i++)
		rfs_record_event_encode(&b, &r->events[i]);
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

int rfs_record_open(struct rfs_record *r, const char *msg, const struct rfs_keys *k,
                    const uint8_t vault_id[16], const git_oid *tree)
{
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
	if (rfs_bytes_read_u8(&rd) != RFS_RECORD_VERSION)
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
			if (rfs_record_event_decode(&rd, &r->events[i]) == 0)
				r->nevents++;
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
}
