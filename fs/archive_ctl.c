/*
** archive_ctl: the control verb archive, `recfs archive PATH --out FILE`:
**   archive PATH FILE HISTORY(0|1) COMPRESS(plain|gzip|zstd) NOTE [RECIPIENT...]
** with the descriptor of FILE.part passed (the client made it; the bag is written into it
** from offset 0). Data lines: "p FILES BYTES TOTAL_FILES TOTAL_BYTES" while it runs
** (rfs_control_ticker), then "key KEYID", "sha512 HEX", "size BYTES PAYLOAD_FILES PAYLOAD_BYTES OBJECTS
** VERSIONS", "record PATH", "held PATH", "left WHY", "signature TEXT", "pubkey TEXT", and
** "ok KEYID" once the transfer log has the entry.
** Owns: the verb, its checks, the transfer log entry of an archive.
** Must never: serve anyone but the mounting user and root (an archive copies all the
** content under PATH), or answer ok when the transfer log did not take the entry.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto/age.h"
#include "crypto/encoding.h"
#include "fs/archive_build.h"
#include "fs/control.h"
#include "fs/log.h"
#include "fs/transfers.h"

#define MAX_RECIPIENTS 64

static void put(FILE *out, const char *tag, const char *value)
{
	fputs(tag, out);
	fputc('\t', out);
	rfs_control_put_field(out, value);
	fputc('\n', out);
}

static void progress_line(void *arg, uint64_t files, uint64_t bytes, uint64_t total_files,
                          uint64_t total_bytes)
{
	rfs_progress_note(arg, NULL, files, bytes, total_files, total_bytes);
}

/* The key's base64 line: the second line of the public key file. */
static void pubkey_line(const char *text, char *out, size_t size)
{
	const char *nl = strchr(text, '\n');

	out[0] = '\0';
	if (nl)
		snprintf(out, size, "%.*s", (int)strcspn(nl + 1, "\r\n"), nl + 1);
}

static void serve_archive(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                          int passed_fd, FILE *out)
{
	uint8_t (*pks)[32] = calloc(MAX_RECIPIENTS, 32);
	struct rfs_control_ticker tick;
	struct rfs_progress progress = rfs_control_ticker(&tick, out);
	struct rfs_archive_request req = { .path = fld[1], .history = !strcmp(fld[3], "1"),
	                                   .note = *fld[5] ? fld[5] : NULL, .out_fd = passed_fd,
	                                   .progress = progress_line, .progress_arg = &progress };
	struct rfs_archive_outcome o;
	char err[1024], sha[129], pk[128], line[160];
	size_t nr = (size_t)(n - 6);
	int rc;

	if (!pks) {
		rfs_control_refuse(out, -ENOMEM, "out of memory");
		return;
	}
	if (passed_fd < 0 || fld[2][0] != '/' || nr > MAX_RECIPIENTS) {
		rfs_control_refuse(out, -EINVAL, passed_fd < 0 ? "no output file was passed"
		                   : nr > MAX_RECIPIENTS ? "at most 64 recipients"
		                   : "the output file's path must be absolute");
		free(pks);
		return;
	}
	if (!strcmp(fld[4], "plain"))
		req.compress = RFS_BAG_PLAIN;
	else if (!strcmp(fld[4], "gzip"))
		req.compress = RFS_BAG_GZIP;
	else if (!strcmp(fld[4], "zstd"))
		req.compress = RFS_BAG_ZSTD;
	else {
		rfs_control_refuse(out, -EINVAL, "compression is plain, gzip or zstd");
		free(pks);
		return;
	}
	for (size_t i = 0; i < nr; i++) {
		if (rfs_age_recipient_parse(fld[6 + i], pks[i]) < 0) {
			snprintf(err, sizeof(err), "'%s' is not an age X25519 recipient (age1...)",
			         fld[6 + i]);
			rfs_control_refuse(out, -EINVAL, err);
			free(pks);
			return;
		}
	}
	req.recipients = (const uint8_t (*)[32])pks;
	req.n_recipients = nr;
	rc = rfs_archive_build(fs, &req, &o, err, sizeof(err));
	free(pks);
	if (rc < 0) {
		rfs_log(LOG_WARNING, "archive: %s not archived: %s", fld[1], err);
		rfs_control_refuse(out, rc, err);
		return;
	}
	/* A client that gave up (Ctrl-C) removed FILE.part: an archive that no file holds is
	** never logged. */
	struct stat st;

	if (fstat(passed_fd, &st) == 0 && st.st_nlink == 0) {
		rfs_log(LOG_WARNING, "archive: %s: the output file was removed before the end: not "
		        "logged", fld[1]);
		rfs_control_refuse(out, -ECANCELED, "the output file was removed before the end");
		rfs_archive_outcome_free(&o);
		return;
	}
	rfs_hex_encode(sha, o.bag.sha512, 64);
	pubkey_line(o.pubkey, pk, sizeof(pk));
	struct rfs_transfer t = { .kind = RFS_TRANSFER_ARCHIVE, .path = fld[1], .file = fld[2],
	                          .sha512 = sha, .key_id = o.key_id, .pubkey = pk,
	                          .recipients = (const char *const *)fld + 6, .n_recipients = nr,
	                          .records = (const char *const *)o.records,
	                          .n_records = o.n_records, .note = req.note };

	rc = rfs_transfers_append(fs, peer, &t, err, sizeof(err));
	if (rc < 0) {
		char msg[1200];

		snprintf(msg, sizeof(msg), "the archive was made, but the transfer log did not take "
		         "its entry: %s", err);
		rfs_control_refuse(out, rc, msg);
		rfs_archive_outcome_free(&o);
		return;
	}
	put(out, "key", o.key_id);
	put(out, "sha512", sha);
	snprintf(line, sizeof(line), "size\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
	         "\t%" PRIu64 "\n", o.bag.bytes, o.bag.payload_files, o.bag.payload_bytes,
	         o.bag.objects, o.bag.versions);
	fputs(line, out);
	for (size_t i = 0; i < o.n_records; i++)
		put(out, "record", o.records[i]);
	for (size_t i = 0; i < o.n_held; i++)
		put(out, "held", o.held[i]);
	for (size_t i = 0; i < o.n_left_out; i++)
		put(out, "left", o.left_out[i]);
	put(out, "signature", o.signature);
	put(out, "pubkey", o.pubkey);
	rfs_log(LOG_INFO, "archive: %s archived to %s (%" PRIu64 " bytes, %zu records)", fld[1],
	        fld[2], o.bag.bytes, o.n_records);
	rfs_control_reply(out, 0, o.key_id);
	rfs_archive_outcome_free(&o);
}

const struct rfs_control_verb rfs_archive_verbs[] = {
	{ "archive", 5, -1, RFS_VERB_OWNER, serve_archive },
	{ NULL, 0, 0, 0, NULL },
};
