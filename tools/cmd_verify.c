/*
** recfs verify VAULT [--json]: check every signature, the chain of commits, every
** blob, and that live/ matches the newest commit.
** Owns: the command line, and the report as text or as one JSON object whose findings get a
** kind from the start of their line (the table below; docs/JSON.md lists the kinds).
** Must never: write to the vault.
*/
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"
#include "tools/output.h"
#include "tools/progress.h"

static const struct cli_help verify_help = {
	"VAULT [--json] [--passphrase-file FILE]",
	"Prove the history was not rewritten: every commit's signature and sealed\n"
	"record, the chain (changed, removed or reordered commits), the signed head\n"
	"(a ref moved backwards), every object, and live/ against the newest commit.\n"
	"One line per problem. A file a recovery after a crash brought back gets a\n"
	"line \"recovered after a crash in commit REV (DATE): PATH\", not a problem;\n"
	"so does each disposal: \"destroyed (disposal N): K keys ...\" (keys that\n"
	"VAULT/disposed/N lists are gone, as it recorded). A missing key no list\n"
	"names is a problem.\n"
	"\n"
	"Exit status: 0 no problem; 1 problems found; 2 the check could not run.\n"
	"\n"
	"  --json  the report as one JSON object (fields and kinds in docs/JSON.md)\n",
};

static bool json;

static const struct cli_option verify_options[] = { CLI_FLAG("json", 'j', &json), { 0 } };

/* The kind of a report line, by how it starts (fs/history/history.h and fs/register.h list
** the lines); the two that are not problems first. */
static const struct { const char *start, *kind; } kinds[] = {
	{ "recovered after a crash", "recovered" }, { "destroyed (disposal", "destroyed" },
	{ "forged signature", "forged_signature" }, { "unsigned commit", "unsigned_commit" },
	{ "changed commit", "changed_commit" }, { "removed commit", "removed_commit" },
	{ "reordered commits", "reordered_commits" }, { "missing object", "missing_object" },
	{ "corrupt object", "corrupt_object" }, { "content key", "content_key" },
	{ "folder key", "folder_key" }, { "signed head record", "head_record_missing" },
	{ "forged head record", "forged_head_record" }, { "ref moved", "ref_moved" },
	{ "HEAD points", "head_ref" }, { "history has vanished", "history_vanished" },
	{ "live/", "live_differs" }, { "disposal register", "register" },
};
#define NOT_PROBLEMS 2

static const char *const finding_fields[] = { "kind", "?problem", "path", "detail" };

/* One report line as a finding. Only a recovery names a clear path: "...(DATE): PATH[: what]". */
static void print_finding(struct rfs_output *o, const char *line)
{
	const char *kind = "other", *p;
	char path[4 * 4096] = "";
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strncmp(line, kinds[i].start, strlen(kinds[i].start))) {
			kind = kinds[i].kind;
			break;
		}
	if (i == 0 && (p = strstr(line, "): "))) {
		const char *what = strstr(p + 3, ": ");

		snprintf(path, sizeof(path), "%.*s", (int)(what ? (size_t)(what - p - 3) : strlen(p + 3)),
		         p + 3);
	}
	rfs_output_row(o, (const char *const[]){ kind, i < NOT_PROBLEMS ? "false" : "true", path, line });
}

static int verify_run(struct cli_ctx *ctx)
{
	struct rfs_verify_result res = { 0 };
	char *text = NULL;
	size_t len = 0;
	struct progress *bar = progress_start("verify", 0, 0);
	struct rfs_progress sink = progress_sink(bar);
	/* --json gathers the lines to print them as one object at the end */
	FILE *report = json ? open_memstream(&text, &len) : progress_report(bar, stdout);
	int rc = report ? hcli_verify(&ctx->hist, report, &res, &sink) : -ENOMEM;

	progress_end(bar);

	if (json && report) {
		struct rfs_output o;
		char *save = NULL;

		fclose(report);
		rfs_output_report_begin(&o, stdout, ctx->argv[0], finding_fields, 4);
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			print_finding(&o, l);
		rfs_output_end(&o);
		free(text);
		printf(", \"complete\": %s, \"commits\": %lu, \"trees\": %lu, \"blobs\": %lu, "
		       "\"destroyed\": %lu, \"problems\": %lu}\n", rc < 0 ? "false" : "true",
		       res.commits, res.trees, res.blobs, res.destroyed, res.problems);
	}
	if (rc < 0) {
		cli_error("the check of %s stopped: %s", ctx->argv[0], strerror(-rc));
		return CLI_FAIL;
	}
	if (json)
		return res.problems ? CLI_PROBLEMS : CLI_OK;
	printf("%s: %lu commits, %lu trees, %lu blobs checked; %lu keys destroyed by disposals; "
	       "%lu problems\n", rfs_escape_line(ctx->argv[0]), res.commits, res.trees, res.blobs,
	       res.destroyed, res.problems);
	return res.problems ? CLI_PROBLEMS : CLI_OK;
}

const struct cli_command cmd_verify = {
	.help = &verify_help, .options = verify_options, .args = { 1, 1, "VAULT" }, .run = verify_run,
};
