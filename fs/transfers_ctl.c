/*
** transfers_ctl: the control verbs of transfers (close-service, transfer-confirm, transfers),
** served from the table rfs_transfers_verbs.
**
**   close-service PATH "" ON TO NOTE     (the checks alone) -> record PATH HOLDS
**   close-service PATH FILE ON TO NOTE   (after the archive verb wrote FILE) -> record PATH HOLDS
**   transfer-confirm SHA512 FILE RECEIPT ON  -> record PATH, entry SEQ
**   transfers -> transfer LINE  (each entry as the log holds it: fs/transfers.h)
**
** Owns: close-service's checks (role, policy, records under PATH) and, once the archive verb
** (fs/archive_ctl.c) has written and logged the archive, the closure and lock of every record
** in one save and the close-service entry; the confirmation of a transfer (the dated property
** 'transferred' of each record of the entry).
** Must never: close records without an archive of them in the log, dispose of or release
** anything, or serve a verb that changes anything as RFS_VERB_PUBLIC.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fs/control.h"
#include "fs/ops.h"
#include "fs/retention.h"
#include "fs/transfers.h"

#define MSG_SIZE 1024

static void put_tab(FILE *out, const char *s)
{
	fputc('\t', out);
	rfs_control_put_field(out, s ? s : "");
}

static const char *or_null(const char *s)
{
	return *s ? s : NULL;
}

/* Answer rc: with msg when there is one. */
static void finish(FILE *out, int rc, const char *msg)
{
	if (rc < 0 && *msg)
		rfs_control_refuse(out, rc, msg);
	else
		rfs_control_reply(out, rc, NULL);
}

/* rec (without its leading '/') is p or is under p ("/a/b", "a/b/", "" the root). A record that
** only holds p is not: close-service closes whole records, and archives what it closes. */
static bool covers(const char *rec, const char *p)
{
	size_t pl;

	p += strspn(p, "/");
	for (pl = strlen(p); pl > 0 && p[pl - 1] == '/'; pl--)
		;
	return !pl || (!strncmp(rec, p, pl) && (rec[pl] == '\0' || rec[pl] == '/'));
}

/* The records close-service closes: each "/path", and its holds today ("" none). */
struct closing {
	char **paths, **holds;
	size_t n;
};

static void closing_free(struct closing *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->paths[i]);
		free(c->holds[i]);
	}
	free(c->paths);
	free(c->holds);
}

/* Before the archive: the caller may close records here, and path holds some. */
static int find_records(struct rfs_fs *fs, const struct rfs_peer *peer, const char *path,
                        struct closing *c, char *msg, size_t msgsz)
{
	struct rfs_retention *r = fs->retention;
	struct rfs_retention_listing l;
	uint64_t rev;
	int rc = rfs_retention_change_refusal(r, fs->v->path, msg, msgsz);

	if (rc == 0 && !rfs_retention_may(r, peer, RFS_ROLE_RECORDS_MANAGER)) {
		snprintf(msg, msgsz, "%s is not in the records-manager role of the policy in force: "
		         "close-service closes records", peer->login);
		rc = -EACCES;
	}
	if (rc == 0 && !rfs_retention_policy_text(r, &rev)) {
		snprintf(msg, msgsz, "no retention policy is loaded: close-service closes the records "
		         "of a service, as the policy defines them ('recfs policy load' first; 'recfs "
		         "archive' makes an archive alone)");
		rc = -ENOENT;
	}
	if (rc == 0)
		rc = rfs_retention_list(r, rfs_retention_today(), &l);
	if (rc == 0) {
		c->paths = calloc(l.count + 1, sizeof(char *));
		c->holds = calloc(l.count + 1, sizeof(char *));
		rc = c->paths && c->holds ? 0 : -ENOMEM;
		for (size_t i = 0; rc == 0 && i < l.count; i++) {
			const struct rfs_retention_record *rec = &l.records[i];

			if (!covers(rec->path, path))
				continue;
			if (asprintf(&c->paths[c->n], "/%s", rec->path) < 0) {
				rc = -ENOMEM;
				break;
			}
			if (!(c->holds[c->n++] = strdup(rec->holds)))
				rc = -ENOMEM;
		}
		rfs_retention_listing_end(&l);
	}
	if (rc == 0 && c->n == 0) {
		snprintf(msg, msgsz, "%s holds no whole record of the policy in force, so there is "
		         "nothing to close: give a record, or a folder above records ('recfs records' "
		         "lists them; 'recfs archive' makes an archive alone)", path);
		rc = -ENOENT;
	}
	return rc;
}

/* The newest archive entry of file, made by login, of path; and whether a close-service
** entry names the same tarball already. */
static const struct rfs_transfer *archive_entry(const struct rfs_transfer_list *l,
                                                const char *file, const char *login,
                                                const char *path, bool *used)
{
	const struct rfs_transfer *a = NULL;

	for (size_t i = l->count; i-- > 0 && !a;) {
		const struct rfs_transfer *t = &l->entries[i];

		if (t->kind == RFS_TRANSFER_ARCHIVE && t->file && !strcmp(t->file, file) &&
		    !strcmp(t->login, login) && !strcmp(t->path, path))
			a = t;
	}
	*used = false;
	for (size_t i = 0; a && i < l->count; i++) {
		const struct rfs_transfer *t = &l->entries[i];

		*used |= t->kind == RFS_TRANSFER_CLOSE_SERVICE && !strcmp(t->sha512, a->sha512);
	}
	return a;
}

/* close-service PATH "" ...: may PATH be closed (role, policy, records)? Then, once 'recfs
** archive --history' has written FILE: close PATH FILE ON TO NOTE closes and locks every record
** under PATH in one save and logs the close-service, with the archive's digest and key. */
static void serve_close_service(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld,
                                int n, int passed_fd, FILE *out)
{
	struct rfs_transfer_list *l = NULL;
	const struct rfs_transfer *a = NULL;
	struct rfs_date on = rfs_retention_today();
	struct closing c = { 0 };
	char msg[MSG_SIZE] = "", on_text[RFS_DATE_TEXT_SIZE];
	bool used = false;
	int rc = fs->retention ? 0 : -EROFS;

	(void)n, (void)passed_fd;
	if (rc < 0)
		snprintf(msg, sizeof(msg), "%s is mounted read-only: nothing can be closed", fs->v->path);
	if (rc == 0 && *fld[3] && rfs_date_parse(fld[3], strlen(fld[3]), &on) < 0) {
		snprintf(msg, sizeof(msg), "--on takes a date YYYY-MM-DD, not '%s'", fld[3]);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = find_records(fs, peer, fld[1], &c, msg, sizeof(msg));
	if (rc == 0 && !peer->owner) {
		/* The archive verb is the mounting user's and root's (fs/archive_ctl.c). */
		snprintf(msg, sizeof(msg), "close-service writes its archive with 'recfs archive', "
		         "which only the user who mounted %s, or root, may run", fs->v->path);
		rc = -EACCES;
	}
	if (rc == 0 && *fld[2] && (rc = rfs_transfers_list(fs, &l)) == -EINVAL)
		snprintf(msg, sizeof(msg), "the transfer log /%s does not parse: see 'recfs log "
		         "--daemon'", RFS_TRANSFERS_PATH);
	if (rc == 0 && *fld[2] && !(a = archive_entry(l, fld[2], peer->login, fld[1], &used))) {
		snprintf(msg, sizeof(msg), "the transfer log has no archive of %s by %s to %s: "
		         "close-service closes what 'recfs archive --history' wrote", fld[1],
		         peer->login, fld[2]);
		rc = -ENOENT;
	}
	if (rc == 0 && used) {
		snprintf(msg, sizeof(msg), "%s closed a service already", fld[2]);
		rc = -EEXIST;
	}
	if (rc == 0 && a)
		rc = rfs_retention_lock_records(fs->retention, peer, (const char *const *)c.paths, c.n,
		                                on, msg, sizeof(msg));
	if (rc == 0 && a) {
		struct rfs_transfer t = {
			.kind = RFS_TRANSFER_CLOSE_SERVICE, .on = on_text, .path = a->path,
			.file = a->file, .sha512 = a->sha512, .key_id = a->key_id, .pubkey = a->pubkey,
			.recipients = a->recipients, .n_recipients = a->n_recipients,
			.records = (const char *const *)c.paths, .n_records = c.n,
			.to = or_null(fld[4]), .note = or_null(fld[5]),
		};

		(void)rfs_date_format(on, on_text);
		rc = rfs_transfers_append(fs, peer, &t, msg, sizeof(msg));
	}
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		fputs("record", out);
		put_tab(out, c.paths[i]);
		put_tab(out, c.holds[i]);
		fputc('\n', out);
	}
	rfs_transfers_free(l);
	closing_free(&c);
	finish(out, rc, msg);
}

/* The confirmation of entry e's file, or NULL. */
static const struct rfs_transfer *confirmation_of(const struct rfs_transfer_list *l,
                                                  const struct rfs_transfer *e)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct rfs_transfer *t = &l->entries[i];

		if (t->kind == RFS_TRANSFER_CONFIRMED && t->sha512 && !strcmp(t->sha512, e->sha512))
			return t;
	}
	return NULL;
}

static void serve_transfer_confirm(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld,
                                   int n, int passed_fd, FILE *out)
{
	struct rfs_retention *r = fs->retention;
	struct rfs_transfer_list *l = NULL;
	const struct rfs_transfer *e = NULL, *done;
	struct rfs_date on = rfs_retention_today();
	char msg[MSG_SIZE] = "", on_text[RFS_DATE_TEXT_SIZE];
	int rc = r ? 0 : -EROFS;

	(void)n, (void)passed_fd;
	if (rc == 0 && *fld[4] && rfs_date_parse(fld[4], strlen(fld[4]), &on) < 0) {
		snprintf(msg, sizeof(msg), "--on takes a date YYYY-MM-DD, not '%s'", fld[4]);
		rc = -EINVAL;
	}
	if (rc == 0 && !*fld[3]) {
		snprintf(msg, sizeof(msg), "a confirmation needs --receipt TEXT: what the receiver "
		         "sent back (a reference, who checked it)");
		rc = -EINVAL;
	}
	if (rc == 0 && !rfs_retention_may(r, peer, RFS_ROLE_RECORDS_MANAGER)) {
		snprintf(msg, sizeof(msg), "%s is not in the records-manager role of the policy in "
		         "force: a confirmation sets the records' date 'transferred'", peer->login);
		rc = -EACCES;
	}
	if (rc == 0 && (rc = rfs_transfers_list(fs, &l)) == -EINVAL)
		snprintf(msg, sizeof(msg), "the transfer log /%s does not parse: see 'recfs log "
		         "--daemon'", RFS_TRANSFERS_PATH);
	if (rc == 0 && !(e = rfs_transfers_find(l, fld[1]))) {
		snprintf(msg, sizeof(msg), "%s (SHA-512 %.16s...) is in no entry of the transfer log "
		         "of %s: only a file that 'recfs archive' or 'recfs close-service' wrote from "
		         "this vault, unchanged, can be confirmed ('recfs transfers' lists them)",
		         fld[2], fld[1], fs->v->path);
		rc = -ENOENT;
	}
	if (rc == 0 && (done = confirmation_of(l, e))) {
		snprintf(msg, sizeof(msg), "%s was confirmed already, on %s by %s (receipt: %s)",
		         fld[2], done->on ? done->on : "?", done->login, done->receipt ? done->receipt : "");
		rc = -EEXIST;
	}
	for (size_t i = 0; rc == 0 && i < e->n_records; i++) {
		rc = rfs_retention_set(r, peer, e->records[i], (const char *[]){ "transferred" }, &on, 1,
		                       msg, sizeof(msg));
		if (rc == 0) {
			fputs("record", out);
			put_tab(out, e->records[i]);
			fputc('\n', out);
		}
	}
	if (rc == 0) {
		struct rfs_transfer t = {
			.kind = RFS_TRANSFER_CONFIRMED, .on = on_text, .path = e->path, .file = fld[2],
			.sha512 = e->sha512, .key_id = e->key_id, .pubkey = e->pubkey,
			.records = e->records, .n_records = e->n_records, .to = e->to, .receipt = fld[3],
		};
		char seq[24];

		(void)rfs_date_format(on, on_text);
		rc = rfs_transfers_append(fs, peer, &t, msg, sizeof(msg));
		snprintf(seq, sizeof(seq), "%" PRIu64, t.seq);
		if (rc == 0) {
			fputs("entry", out);
			put_tab(out, seq);
			fputc('\n', out);
		}
	}
	rfs_transfers_free(l);
	finish(out, rc, msg);
}

static void serve_transfers(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                            int passed_fd, FILE *out)
{
	struct rfs_transfer_list *l = NULL;
	int rc = rfs_transfers_list(fs, &l);

	(void)peer, (void)fld, (void)n, (void)passed_fd;
	for (size_t i = 0; rc == 0 && i < l->count; i++) {
		char *line = rfs_transfers_line(&l->entries[i]);

		if (!line) {
			rc = -ENOMEM;
			break;
		}
		fprintf(out, "transfer\t%s", line);
		free(line);
	}
	rfs_transfers_free(l);
	rfs_control_reply(out, rc, NULL);
}

const struct rfs_control_verb rfs_transfers_verbs[] = {
	{ "close-service", 5, 5, RFS_VERB_ROLE, serve_close_service },
	{ "transfer-confirm", 4, 4, RFS_VERB_ROLE, serve_transfer_confirm },
	{ "transfers", 0, 0, RFS_VERB_PUBLIC, serve_transfers },
	{ NULL, 0, 0, RFS_VERB_OWNER, NULL },
};
