/*
** recfs records [VAULT] [--json|--csv], recfs why PATH, recfs due [VAULT] [--as-of DATE]
** [--json|--csv]: the read-only retention commands, for every local user who can reach the
** vault's control socket.
** Must never: change anything, or print a listing but through tools/output.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

static bool json, csv;
static const char *as_of;

/* due: the day, and the format. */
static const struct cli_option listing_options[] = {
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'C', &csv),
	CLI_VALUE("as-of", 'a', &as_of),
	{ 0 },
};
/* records takes --json and --csv, not --as-of; why takes no option. */
static const struct cli_option records_options[] = {
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'C', &csv),
	{ 0 },
};

/* ---- records ---- */

static const char *const record_fields[] = {
	"kind", "path", "class", "created", "modified", "closed", "trigger", "due", "?locked",
	"holds", "properties",
};
#define RECORD_FIELDS (sizeof(record_fields) / sizeof(record_fields[0]))

static int record_line(char **fld, int n, void *arg)
{
	struct rfs_output *o = arg;
	const char *row[RECORD_FIELDS] = { 0 };

	if (!strcmp(fld[0], "record") && n == 11) {
		row[0] = "record";
		for (size_t i = 1; i < RECORD_FIELDS; i++)
			row[i] = fld[i];
		if (o->format == RFS_OUTPUT_TEXT) {
			if (!*fld[6])
				row[7] = "no trigger date";
			row[8] = !strcmp(fld[8], "1") ? "locked" : "open";
		} else {
			row[8] = !strcmp(fld[8], "1") ? "true" : "false";
		}
	} else if (!strcmp(fld[0], "unclassified") && n == 2) {
		row[0] = "unclassified";
		row[1] = fld[1];
	} else {
		return 0;
	}
	rfs_output_row(o, row);
	return 0;
}

static int list_run(struct cli_ctx *ctx, const char *const *args, size_t nargs,
                    const char *const *fields, size_t nfields, rfs_control_line_cb cb)
{
	return rcli_list(ctx->argc ? ctx->argv[0] : ".", json, csv, args, nargs, fields, nfields, cb);
}

static int records_run(struct cli_ctx *ctx)
{
	return list_run(ctx, (const char *[]){ "records" }, 1, record_fields, RECORD_FIELDS,
	                record_line);
}

static const struct cli_help records_help = {
	"[VAULT] [--json|--csv]",
	"Every record of the mounted vault: its class, trigger dates, due date, lock, holds and\n"
	"dated properties; then every path that no class covers (never disposed of).\n"
	"VAULT is the vault, its mount point or a path inside it (default: the current folder).\n"
	"Any local user who can reach the vault may run it.\n"
	"  --json   a JSON array of objects (fields in docs/JSON.md)\n"
	"  --csv    CSV with a header line\n",
};

const struct cli_command cmd_records = {
	.help = &records_help, .options = records_options, .args = { 0, 1, "[VAULT]" },
	.run = records_run,
};

/* ---- due ---- */

static const char *const due_fields[] = { "path", "class", "step", "trigger", "due", "hold" };
#define DUE_FIELDS (sizeof(due_fields) / sizeof(due_fields[0]))

static int due_line(char **fld, int n, void *arg)
{
	if (!strcmp(fld[0], "due") && n == 7)
		rfs_output_row(arg, (const char *const *)fld + 1);
	return 0;
}

static int due_run(struct cli_ctx *ctx)
{
	if (as_of && rcli_date("--as-of", as_of) != CLI_OK)
		return CLI_FAIL;
	return list_run(ctx, (const char *[]){ "due", as_of ? as_of : "" }, 2, due_fields,
	                DUE_FIELDS, due_line);
}

static const struct cli_help due_help = {
	"[VAULT] [--as-of DATE] [--json|--csv]",
	"The records due for disposal today, or on DATE (a preview; holds are judged on that\n"
	"day): path, class, step (destroy, archive, review or held), trigger date, due date,\n"
	"and the hold that stops a held one.\n"
	"  --as-of DATE   YYYY-MM-DD\n"
	"  --json, --csv  as for recfs records\n",
};

const struct cli_command cmd_due = {
	.help = &due_help, .options = listing_options, .args = { 0, 1, "[VAULT]" },
	.run = due_run,
};

/* ---- why ---- */

static int why_line(char **fld, int n, void *arg)
{
	(void)arg;
	if (!strcmp(fld[0], "why") && n == 2)
		printf("%s\n", fld[1]);
	else if (!strcmp(fld[0], "record") && n == 11)
		printf("  record %s, class %s, created %s, closed %s, trigger %s, due %s%s%s%s%s%s\n",
		       fld[1], fld[2], *fld[3] ? fld[3] : "-", *fld[5] ? fld[5] : "-",
		       *fld[6] ? fld[6] : "none", *fld[7] ? fld[7] : "never (no trigger date)",
		       !strcmp(fld[8], "1") ? ", locked" : "", *fld[9] ? ", held by " : "", fld[9],
		       *fld[10] ? ", properties " : "", fld[10]);
	return 0;
}

static int why_run(struct cli_ctx *ctx)
{
	struct rcli_target t;

	if (rcli_find(ctx->argv[0], &t) != CLI_OK)
		return CLI_FAIL;
	if (!t.path[0]) {
		cli_error("%s: give a path inside the mount", ctx->argv[0]);
		return CLI_FAIL;
	}
	return rcli_call(t.vault, -1, (const char *[]){ "why", t.path }, 2, why_line, NULL);
}

static const struct cli_help why_help = {
	"PATH",
	"Which record PATH (inside a mount) belongs to, its class, rule and due date, and in\n"
	"one sentence why it is locked or held, or why not.\n",
};

const struct cli_command cmd_why = {
	.help = &why_help, .args = { 1, 1, "PATH" }, .run = why_run,
};
