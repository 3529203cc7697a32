/*
** commit: the commit text with its sealed record and signature, the signed
** head record (the newest commit, and whether the vault closed cleanly), and
** publish: pack, keys/ and live/ durable, then the ref forward.
** Must never: move the ref backwards, or point it at data not yet durable.
*/
#include "fs/faultpoint.h"
#include "fs/history/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crypto/encoding.h"
#include "crypto/sign.h"

/* ---- commits: sealed record, signature, head ---- */

static int32_t local_tz_minutes(time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	return (int32_t)(tm.tm_gmtoff / 60);
}

/* The commit without its signature, byte for byte as git_commit_create_buffer
** writes it, NUL-terminated; built here so the (maybe large) root tree need
** not be read back and parsed. */
static void commit_text(struct rfs_bytes *b, const git_oid *tree, const git_oid *parent, int64_t t,
                        int tz, const char *msg)
{
	char hex[GIT_OID_HEXSZ + 1], line[160];
	rfs_bytes_put(b, line, (size_t)snprintf(line, sizeof line, "tree %s\n",
	                                        git_oid_tostr(hex, sizeof hex, tree)));
	if (parent)
		rfs_bytes_put(b, line, (size_t)snprintf(line, sizeof line, "parent %s\n",
		                                        git_oid_tostr(hex, sizeof hex, parent)));
	int off = tz < 0 ? -tz : tz;
	for (int i = 0; i < 2; i++)
		rfs_bytes_put(b, line, (size_t)snprintf(line, sizeof line, "%s %s <%s> %lld %c%02d%02d\n",
		                                        i ? "committer" : "author", RFS_SIG_NAME,
		                                        RFS_SIG_EMAIL, (long long)t, tz < 0 ? '-' : '+',
		                                        off / 60, off % 60));
	rfs_bytes_put(b, "\n", 1);
	rfs_bytes_put(b, msg, strlen(msg) + 1);
}

/* The signed commit, byte for byte as git_commit_create_with_signature writes
** it: the signature field after the header's last line, before the blank line. Staged directly: libgit2's write would first look for
** the new id as a loose file (a failing utimensat), rescan objects/pack and
** hash it again. text: NUL-terminated, as commit_text makes it. */
static int write_signed(struct rfs_history *h, const struct rfs_bytes *text, const char *sig,
                        git_oid *out)
{
	if (!h->stage)
		return git_commit_create_with_signature(out, h->repo, (const char *)text->p, sig,
		                                        RFS_SIG_FIELD) < 0 ? -EIO : 0;
	const char *t = (const char *)text->p, *end = strstr(t, "\n\n");
	if (!end)
		return -EIO;
	size_t head = (size_t)(end - t) + 1;
	struct rfs_bytes b = { 0 };
	rfs_bytes_put(&b, t, head);
	rfs_bytes_put(&b, RFS_SIG_FIELD " ", strlen(RFS_SIG_FIELD) + 1);
	rfs_bytes_put(&b, sig, strlen(sig));
	rfs_bytes_put(&b, "\n", 1);
	rfs_bytes_put(&b, t + head, text->len - 1 - head);
	int rc = b.err;
	if (rc == 0) {
		rfs_sha1_object_id(out, GIT_OBJECT_COMMIT, b.p, b.len);
		rc = rfs_stage_put_new(h->stage, out, GIT_OBJECT_COMMIT, b.p, b.len);
	}
	rfs_bytes_free(&b);
	return rc;
}

int rfs_commit_create(struct rfs_history *h, const git_oid *tree_oid, struct rfs_event *events,
                      size_t n, const struct rfs_who *who, git_oid *out)
{
	struct timespec now = { .tv_sec = (time_t)h->fixed_time };
	if (!h->fixed_time)
		clock_gettime(CLOCK_REALTIME, &now);
	struct rfs_record r = {
		.seq = h->head_seq + 1,
		.time_sec = now.tv_sec,
		.time_nsec = (uint32_t)now.tv_nsec,
		.tz_minutes = local_tz_minutes(now.tv_sec),
		.login = who ? (char *)who->login : h->login,     /* read only */
		.full_name = who ? (char *)who->full_name : h->full_name,
		.host = who ? (char *)who->host : h->host,
		.nevents = n, .events = events,
		.version = rfs_record_version_of(h->v),
	};
	if (h->head_seq)
		r.parent = h->head;
	char *msg = NULL;
	int rc = rfs_record_seal(&r, h->v, tree_oid, &msg);
	if (rc < 0)
		return rc;
	struct rfs_bytes buf = { 0 };
	commit_text(&buf, tree_oid, h->head_seq ? &h->head : NULL, now.tv_sec, r.tz_minutes, msg);
	free(msg);
	if (buf.err) {
		rfs_bytes_free(&buf);
		return buf.err;
	}
	uint8_t sig[RFS_SIGNATURE_SIZE];
	rfs_sign(sig, buf.p, buf.len - 1, h->v->keys);
	char sigtext[8 + 90];
	memcpy(sigtext, "ed25519 ", 8);
	rfs_b64_encode(sigtext + 8, sig, sizeof sig);
	rc = write_signed(h, &buf, sigtext, out);
	rfs_bytes_free(&buf);
	if (rc == 0)
		rc = rfs_index_encode_commit(h, &h->index_pending, out, &r);
	if (rc == 0) {
		h->head = *out;
		h->head_seq = r.seq;
	}
	return rc;
}

/* ---- the signed head record: the newest ref written, and whether the vault was closed cleanly ---- */

#define HEAD_MAGIC_V1 "recfs-head-v1"
#define HEAD_MAGIC_V2 "recfs-head-v2"
#define HEAD_SIGNED_V2 (13 + 16 + 8 + 20 + 1 + RFS_LIVE_DIGEST)

static void head_signed_bytes(uint8_t *out, const char *magic, const uint8_t vault_id[16],
                              uint64_t seq, const git_oid *oid)
{
	memcpy(out, magic, 13);
	memcpy(out + 13, vault_id, 16);
	for (int i = 0; i < 8; i++)
		out[29 + i] = (uint8_t)(seq >> (8 * i));
	memcpy(out + 37, oid->id, 20);
}

/* v2 signs the state and live/'s digest too, so neither can be forged or
** dropped without the signing key. */
static void head_signed_v2(uint8_t out[HEAD_SIGNED_V2], const uint8_t vault_id[16],
                           const struct rfs_head_rec *r)
{
	head_signed_bytes(out, HEAD_MAGIC_V2, vault_id, r->seq, &r->oid);
	out[57] = r->clean ? 2 : 1;
	memcpy(out + 58, r->digest, RFS_LIVE_DIGEST);
}

/* temp + fsync + rename; on a full disk, overwrite in place when the line
** keeps its length (dirty and clean of one head do), which needs no new block. */
static int write_side_file(struct rfs_history *h, const char *name, const char *text, size_t n)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = openat(h->side_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : 0;
	if (rc == 0 && write(fd, text, n) != (ssize_t)n)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && renameat(h->side_fd, tmp, h->side_fd, name) < 0)
		rc = -errno;
	if (rc == 0)
		return fsync(h->side_fd) == 0 ? 0 : -errno;   /* the rename itself, durable */
	unlinkat(h->side_fd, tmp, 0);
	struct stat st;
	if ((rc != -ENOSPC && rc != -EDQUOT) || fstatat(h->side_fd, name, &st, 0) < 0 ||
	    (size_t)st.st_size != n)
		return rc;
	fd = openat(h->side_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return rc;
	int wrc = pwrite(fd, text, n, 0) == (ssize_t)n && fsync(fd) == 0 ? 0 : rc;
	close(fd);
	return wrc;
}

int rfs_commit_write_head_record(struct rfs_history *h, bool clean,
                                 const uint8_t digest[RFS_LIVE_DIGEST])
{
	struct rfs_head_rec r = { .seq = h->have_ref ? h->head_seq : 0, .clean = clean, .version = 2 };
	if (h->have_ref)
		r.oid = h->ref_head;
	if (digest)
		memcpy(r.digest, digest, RFS_LIVE_DIGEST);
	uint8_t msg[HEAD_SIGNED_V2], sig[RFS_SIGNATURE_SIZE];
	head_signed_v2(msg, h->v->conf.vault_id, &r);
	rfs_sign(sig, msg, sizeof msg, h->v->keys);
	char hex[41], dig[64], b64[90], line[300];
	git_oid_tostr(hex, sizeof hex, &r.oid);
	rfs_b64_encode(dig, r.digest, RFS_LIVE_DIGEST);
	rfs_b64_encode(b64, sig, sizeof sig);
	int n = snprintf(line, sizeof line, "recfs-head 2 %llu %s %s %s %s\n",
	                 (unsigned long long)r.seq, hex, clean ? "clean" : "dirty", dig, b64);
	return write_side_file(h, "head", line, (size_t)n);
}

int rfs_commit_read_head(struct rfs_history *h, struct rfs_head_rec *r)
{
	char line[400];
	memset(r, 0, sizeof *r);
	if (h->side_fd < 0)
		return -ENOENT;
	int fd = openat(h->side_fd, "head", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n <= 0)
		return -EBADMSG;
	line[n] = 0;
	unsigned long long s;
	char hex[41], state[8], dig[100], b64[100];
	uint8_t sig[RFS_SIGNATURE_SIZE], msg[HEAD_SIGNED_V2];
	size_t msglen;
	if (sscanf(line, "recfs-head 2 %llu %40s %7s %99s %99s", &s, hex, state, dig, b64) == 5) {
		r->version = 2;
		r->clean = !strcmp(state, "clean");
		if ((!r->clean && strcmp(state, "dirty")) || git_oid_fromstr(&r->oid, hex) < 0 ||
		    rfs_b64_decode(r->digest, RFS_LIVE_DIGEST, dig, strlen(dig)) != RFS_LIVE_DIGEST)
			return -EBADMSG;
		r->seq = s;
		head_signed_v2(msg, h->v->conf.vault_id, r);
		msglen = HEAD_SIGNED_V2;
	} else if (sscanf(line, "recfs-head 1 %llu %40s %99s", &s, hex, b64) == 3) {
		r->version = 1;                  /* older vaults: no state, so never "clean" */
		if (git_oid_fromstr(&r->oid, hex) < 0)
			return -EBADMSG;
		r->seq = s;
		head_signed_bytes(msg, HEAD_MAGIC_V1, h->v->conf.vault_id, s, &r->oid);
		msglen = 57;
	} else {
		return -EBADMSG;
	}
	if (rfs_b64_decode(sig, sizeof sig, b64, strlen(b64)) != (long)sizeof sig)
		return -EBADMSG;
	return rfs_sign_verify(sig, msg, msglen, h->v->keys);
}

int rfs_commit_read_head_record(struct rfs_history *h, uint64_t *seq, git_oid *oid)
{
	struct rfs_head_rec r;
	int rc = rfs_commit_read_head(h, &r);
	if (rc == 0) {
		*seq = r.seq;
		*oid = r.oid;
	}
	return rc;
}

/* Pack what is staged, move the ref forward to the newest commit, record
** the signed head and append the index. Caller holds git_lock. */
/* live/ and keys/ durable, before history may point at them: one syncfs
** covers every key entry, .dirid, long-name side file and ciphertext file
** (they live on the vault's file system), so a power cut never leaves history
** holding a version whose key or content live/ lost, nor live/ older than
** history (which recovery would commit as a newer, wrong version). */
int rfs_commit_vault_durable(struct rfs_history *h)
{
	uint64_t token = rfs_undo_vault_sync_begin(h->v->undo);
	RFS_FAULT_POINT("vault_sync", h->v->dirfd);
	int rc = syncfs(h->v->dirfd) == 0 ? 0 : -errno;

	rfs_undo_vault_sync_done(h->v->undo, token, rc == 0);   /* undo entries it made needless */
	return rc;
}

int rfs_commit_spill(struct rfs_history *h)
{
	return rfs_stage_bytes(h->stage) || rfs_stage_count(h->stage) ? rfs_stage_spill(h->stage) : 0;
}

/* synced: the caller spilled the stage and synced live/ after the newest commit
** was made; what was staged since belongs to later commits and waits. */
static int publish(struct rfs_history *h, bool synced, bool tags_synced)
{
	int rc = synced ? 0 : rfs_commit_spill(h);
	if (rc < 0 || !h->head_seq || (h->have_ref && git_oid_equal(&h->ref_head, &h->head)))
		return rc;
	if (!synced && (rc = rfs_commit_vault_durable(h)) < 0)
		return rc;
	if (!synced || tags_synced)
		rfs_index_tags_synced(h);        /* the table and the index it covers went with it */
	git_reference *ref = NULL;
	if (h->have_ref) {
		if (git_graph_descendant_of(h->repo, &h->head, &h->ref_head) != 1)
			return -ESTALE;              /* never move the ref sideways or back */
		rc = git_reference_create_matching(&ref, h->repo, RFS_HISTORY_REF, &h->head, 1,
		                                   &h->ref_head, "recfs") < 0 ? -ESTALE : 0;
	} else {
		rc = git_reference_create(&ref, h->repo, RFS_HISTORY_REF, &h->head, 0, "recfs") < 0
		     ? -EIO : 0;
	}
	git_reference_free(ref);
	if (rc < 0)
		return rc;
	h->ref_head = h->head;
	h->have_ref = true;
	rc = rfs_commit_write_head_record(h, false, NULL);
	int irc = rfs_index_append(h, &h->index_pending);
	rfs_bytes_free(&h->index_pending);
	return rc < 0 ? rc : irc;
}

int rfs_commit_publish(struct rfs_history *h)
{
	return publish(h, false, false);
}

int rfs_commit_publish_synced(struct rfs_history *h, uint64_t head_seq, uint64_t tags_changes)
{
	return publish(h, h->head_seq == head_seq, h->tags_changes == tags_changes);
}

