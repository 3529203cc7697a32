/*
** recfs fsck VAULT [--json]: authenticate every name, header and block of live/.
**
** Owns: the command line, the report (text lines, or one JSON object through tools/output) and
** the summary; the check is rfs_fsck.
** Must never: run while the vault is mounted (it would report saves in
** flight as damage), or modify the vault.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/fsck.h"
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/progress.h"

static const struct cli_help fsck_help = {
	"VAULT [--json] [--passphrase-file FILE]",
	"Check every file of an unmounted VAULT: each name, header and block must\n"
	"authenticate. Prints one line per damaged file, by its clear path, then a summary.\n"
	"\n"
	"Also lists what killed processes left behind (temporary pack files, copies\n"
	"made by 'recfs mount --at'): not damage; the next mount or 'recfs gc' removes them.\n"
	"\n"
	"Exit status: 0 nothing damaged; 1 damage found; 2 the check could not run.\n"
	"\n"
	"  --json                  the report as one JSON object (fields in docs/JSON.md)\n"
	"  --passphrase-file FILE  read the passphrase from the first line of FILE\n"
	"                          ('-' is standard input)\n"
	"  -h, --help              show this help\n",
};

static bool json;

static const struct cli_option fsck_options[] = { CLI_FLAG("json", 'j', &json), { 0 } };

/* The findings of --json: an array inside the report object. */
static const char *const finding_fields[] = {
	"kind", "?problem", "path", "detail", "#bytes", "#disposal",
};

static void print_finding(void *arg, const struct rfs_fsck_finding *f)
{
	struct rfs_output *o = arg;
	char bytes[24] = "", disposal[24] = "";

	if (o->format == RFS_OUTPUT_TEXT) {
		if (!strcmp(f->kind, "leftover"))
			fprintf(o->f, "leftover: %s (%llu bytes): %s\n", f->path,
			        (unsigned long long)f->bytes, f->detail);
		else
			fprintf(o->f, "%s: %s: %s\n", f->kind, rfs_escape_line(f->path), f->detail);
		return;
	}
	if (!strcmp(f->kind, "leftover"))
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)f->bytes);
	if (f->disposal)
		snprintf(disposal, sizeof(disposal), "%llu", (unsigned long long)f->disposal);
	rfs_output_row(o, (const char *const[]){ f->kind, strcmp(f->kind, "corrupt") ? "false" : "true",
	                                         f->path, f->detail, bytes, disposal });
}

static int fsck_run(struct cli_ctx *ctx)
{
	struct rfs_fsck_result res = { 0 };
	const char *vault = ctx->argv[0];
	struct progress *bar = progress_start("fsck", 0, 0);
	struct rfs_progress sink = progress_sink(bar);
	struct rfs_output o = { .f = progress_report(bar, stdout), .format = RFS_OUTPUT_TEXT };
	int rc = -ENOMEM;

	if (o.f && json)
		rfs_output_report_begin(&o, o.f, vault, finding_fields, 6);
	if (o.f)
		rc = rfs_fsck(ctx->vault, print_finding, &o, &res, &sink);
	progress_end(bar);

	if (json && o.f) {
		o.f = stdout;          /* progress_end closed the report stream */
		rfs_output_end(&o);
		printf(", \"complete\": %s, \"files\": %lu, \"folders\": %lu, \"symlinks\": %lu, "
		       "\"blocks\": %lu, \"problems\": %lu, \"destroyed\": %lu, \"leftovers\": %lu, "
		       "\"leftover_bytes\": %llu}\n", rc < 0 ? "false" : "true", res.files, res.dirs,
		       res.symlinks, res.blocks, res.bad, res.destroyed, res.leftovers,
		       (unsigned long long)res.leftover_bytes);
	}
	if (rc < 0) {
		fflush(stdout);
		cli_error("the check of %s stopped: %s", vault, strerror(-rc));
		return CLI_FAIL;
	}
	if (json)
		return res.bad ? CLI_PROBLEMS : CLI_OK;
	printf("%s: %lu files, %lu folders, %lu symlinks, %lu blocks checked; %lu damaged", rfs_escape_line(vault),
	       res.files, res.dirs, res.symlinks, res.blocks, res.bad);
	if (res.destroyed)
		printf("; %lu keys destroyed by disposals (not damage)", res.destroyed);
	if (res.leftovers)
		printf("; %lu leftovers of killed processes (%llu bytes)", res.leftovers,
		       (unsigned long long)res.leftover_bytes);
	printf("\n");
	return res.bad ? CLI_PROBLEMS : CLI_OK;
}

const struct cli_command cmd_fsck = {
	.help = &fsck_help, .options = fsck_options, .args = { 1, 1, "VAULT" }, .run = fsck_run,
};
