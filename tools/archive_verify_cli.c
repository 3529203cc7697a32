/*
** archive_verify_cli: `recfs archive verify FILE [--identity FILE] [--pubkey FILE] [--json]`.
**
** Owns: reading the identity file (its keys stay in crypto/age's sodium_malloc memory), the
** progress line while FILE is read, and the report's two forms: text, one line per problem
** "KIND: PATH: detail" then a summary; JSON, one object whose field names docs/JSON.md lists.
** Must never: print a byte of the archive's content or of the identity, or print a path raw
** to the terminal (rfs_escape_line).
*/
#include "tools/archive_verify_cli.h"

#include "archive/verify.h"
#include "crypto/age.h"
#include "fs/escape.h"
#include "tools/output.h"
#include "tools/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct shown {                   /* what the progress line shows */
	struct progress *p;
	uint64_t entries, bytes;
};

static void on_progress(void *arg, uint64_t bytes_read, uint64_t total_bytes)
{
	struct shown *s = arg;
	s->bytes = bytes_read;
	progress_update(s->p, s->entries, s->bytes);
}

static void on_entries(void *arg, uint64_t entries)
{
	struct shown *s = arg;
	s->entries = entries;
	progress_update(s->p, s->entries, s->bytes);
}

static const char *what_exit(int code)
{
	switch (code) {
	case 0: return "valid";
	case 1: return "its content does not match its manifests";
	case 3: return "unreadable";
	case 4: return "its signature does not check";
	case 5: return "it cannot be decrypted";
	default: return "not verified";
	}
}

static void print_json(const char *file, const struct rfs_archive_report *r)
{
	FILE *f = stdout;
	fputs("{\"file\": ", f);
	rfs_escape_json(f, file);
	fprintf(f, ", \"ok\": %s, \"exit_code\": %d, \"encrypted\": %s,\n", r->exit_code ? "false" : "true",
	        r->exit_code, r->encrypted ? "true" : "false");
	fprintf(f, " \"signature\": {\"checked\": %s, \"ok\": %s, \"key_id\": ",
	        r->signature_checked ? "true" : "false", r->signed_ok ? "true" : "false");
	if (r->key_id[0])
		rfs_escape_json(f, r->key_id);
	else
		fputs("null", f);
	fputs(", \"trusted_comment\": ", f);
	if (r->trusted_comment)
		rfs_escape_json(f, r->trusted_comment);
	else
		fputs("null", f);
	fputs("},\n \"bag\": {\"name\": ", f);
	if (r->bag_name)
		rfs_escape_json(f, r->bag_name);
	else
		fputs("null", f);
	fprintf(f, ", \"files\": %" PRIu64 ", \"bytes\": %" PRIu64 "},\n", r->files, r->bytes);
	fprintf(f, " \"ocfl\": {\"objects\": %" PRIu64 ", \"versions\": %" PRIu64 "},\n \"problems\": [",
	        r->objects, r->versions);
	for (size_t i = 0; i < r->n_problems; i++) {
		const struct rfs_archive_problem *p = &r->problems[i];
		fprintf(f, "%s\n  {\"kind\": \"%s\", \"path\": ", i ? "," : "", rfs_archive_problem_name(p->kind));
		rfs_escape_json(f, p->path);
		fputs(", \"detail\": ", f);
		rfs_escape_json(f, p->detail);
		fputs("}", f);
	}
	fprintf(f, "%s],\n \"problems_total\": %" PRIu64 "}\n", r->n_problems ? "\n " : "",
	        r->problems_total);
}

static void print_text(const char *file, const struct rfs_archive_report *r)
{
	for (size_t i = 0; i < r->n_problems; i++) {
		const struct rfs_archive_problem *p = &r->problems[i];
		printf("%s: %s: %s\n", rfs_archive_problem_name(p->kind), rfs_escape_line(p->path),
		       rfs_escape_line(p->detail));
	}
	if (r->problems_total > r->n_problems)
		printf("... and %" PRIu64 " more problems (the first %zu are shown)\n",
		       r->problems_total - r->n_problems, r->n_problems);
	printf("%s: %s", rfs_escape_line(file), what_exit(r->exit_code));
	if (r->problems_total)
		printf(" (%" PRIu64 " problem%s)", r->problems_total, r->problems_total == 1 ? "" : "s");
	if (r->bag_name)
		printf("; bag %s: %" PRIu64 " payload file%s, %" PRIu64 " bytes", rfs_escape_line(r->bag_name),
		       r->files, r->files == 1 ? "" : "s", r->bytes);
	if (r->objects)
		printf("; %" PRIu64 " OCFL object%s, %" PRIu64 " versions", r->objects,
		       r->objects == 1 ? "" : "s", r->versions);
	if (r->encrypted)
		printf("; encrypted (age)");
	if (r->signed_ok)
		printf("; signed by key %s", r->key_id);
	printf("\n");
	if (r->signed_ok && r->trusted_comment)
		printf("trusted comment: %s\n", rfs_escape_line(r->trusted_comment));
}

int archive_verify_cli_run(const char *file, const char *identity_path, const char *pubkey_path,
                           bool json)
{
	struct stat st;
	if (stat(file, &st)) {
		fprintf(stderr, "recfs: archive verify: %s: %s\n", rfs_escape_line(file), strerror(errno));
		return 2;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "recfs: archive verify: %s: not a file; give the archive's path\n",
		        rfs_escape_line(file));
		return 2;
	}
	if (pubkey_path && access(pubkey_path, R_OK)) {
		fprintf(stderr, "recfs: archive verify: the public key %s: %s\n",
		        rfs_escape_line(pubkey_path), strerror(errno));
		return 2;
	}
	struct rfs_age_identities *ids = NULL;
	if (identity_path) {
		char err[512] = "";
		int rc = rfs_age_identities_read(identity_path, &ids, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "recfs: archive verify: the identity %s: %s\n",
			        rfs_escape_line(identity_path), err[0] ? err : strerror(-rc));
			return 2;
		}
	}
	struct shown shown = { .p = progress_start("verify", 0, (uint64_t)st.st_size) };
	struct rfs_archive_verify_options o = {
		.identities = ids, .pubkey_path = pubkey_path,
		.progress = on_progress, .progress_arg = &shown, .progress_entries = on_entries,
	};
	struct rfs_archive_report rep;
	int rc = rfs_archive_verify(file, &o, &rep);
	progress_end(shown.p);
	rfs_age_identities_free(ids);
	if (rc) {
		fprintf(stderr, "recfs: archive verify: %s: %s\n", rfs_escape_line(file), strerror(-rc));
		return 2;
	}
	if (json)
		print_json(file, &rep);
	else
		print_text(file, &rep);
	fflush(stdout);
	int code = rep.exit_code;
	rfs_archive_report_free(&rep);
	return code;
}
