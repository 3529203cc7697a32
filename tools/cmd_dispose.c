/*
** recfs dispose [VAULT]: destroy the records due today, through the mount's daemon
** (fs/dispose.h); --dry-run shows what would go; --approve and --extend are an
** approver's review decisions.
** Must never: ask for any day but today unless --dry-run; open the vault itself.
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/control.h"
#include "fs/escape.h"
#include "fs/mountinfo.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/progress.h"
#include "tools/retention_cli.h"

static const struct cli_help dispose_help = {
	"[VAULT] [--dry-run [--as-of DATE] [--json|--csv]] [--approve RECORD]... [--reason TEXT]\n"
	"       recfs dispose [VAULT] --extend RECORD --until DATE --reason TEXT",
	"Destroy every record of the mounted vault that is due today and free to go:\n"
	"every version of it, its names and paths included, leaving a signed line in\n"
	"the disposal register (recfs disposals). A held record is never disposed; a\n"
	"review class waits for --approve; an archive class is first written to the\n"
	"policy's archive folder, and if that fails nothing of it is destroyed.\n"
	"Needs the records-manager role; --approve and --extend need the approver role.\n"
	"VAULT is the vault, its mount point or a path inside it (default: the current folder).\n"
	"\n"
	"  --dry-run          only show what would go (and why the rest stays)\n"
	"  --as-of DATE       with --dry-run: as of that day (YYYY-MM-DD)\n"
	"  --json, --csv      with --dry-run: the plan as JSON or CSV (fields path, class,\n"
	"                     step, trigger, due, hold, as recfs due gives them)\n"
	"  --approve RECORD   approve the destruction of a record due for review\n"
	"                     (RECORD from the mount's root, or a path inside the mount)\n"
	"  --extend RECORD    keep a record due for review until --until DATE\n"
	"  --reason TEXT      the review's reason (journalled and in the register)\n"
	"\n"
	"Exit status: 0 done; 1 a record due could not be disposed (held, awaiting\n"
	"approval, or its archive failed); 2 nothing could be done.\n",
};

static bool dry_run, json, csv;
static const char *as_of = "", *reason = "", *extend = "", *until = "";
static char *approve;                  /* comma-separated record paths */
static size_t approve_len;

/* RECORD as a path from the mount's root: a path that names something inside a recfs
** mount loses the mount point; anything else is taken as written. Leading and trailing
** '/' go. */
static char *record_path(const char *arg)
{
	char abs[PATH_MAX], *out;
	struct rfs_mount_entry m;
	const char *p = arg;
	size_t n;

	if ((arg[0] == '/' || access(arg, F_OK) == 0) && rfs_mountinfo_abspath(arg, abs) == 0 &&
	    rfs_mountinfo_find(abs, true, &m) == 0 && !strcmp(m.fstype, RFS_FSTYPE))
		p = abs + strlen(m.mountpoint);
	while (*p == '/')
		p++;
	out = strdup(p);
	for (n = out ? strlen(out) : 0; n > 0 && out[n - 1] == '/'; n--)
		out[n - 1] = '\0';
	return out;
}

static int dispose_option(struct cli_ctx *ctx, int opt, char *arg)
{
	size_t n = strlen(arg);
	char *grown = realloc(approve, approve_len + n + 2);

	if (!grown)
		return CLI_FAIL;
	approve = grown;
	if (approve_len)
		approve[approve_len++] = '\x01';   /* made absolute once the mount is known */
	memcpy(approve + approve_len, arg, n + 1);
	approve_len += n;
	return CLI_OK;
}

static int dispose_check(const struct cli_ctx *ctx)
{
	if (*as_of && !dry_run) {
		cli_error("--as-of goes with --dry-run only: a disposal runs as of today");
		return cli_usage_error();
	}
	if ((json || csv) && !dry_run) {
		cli_error("--json and --csv go with --dry-run only");
		return cli_usage_error();
	}
	if (*extend && (!*until || !*reason)) {
		cli_error("--extend needs --until DATE and --reason TEXT");
		return cli_usage_error();
	}
	return CLI_OK;
}

struct tally {
	struct rfs_output o;
	unsigned skipped;
	struct progress *bar;
};

static int dispose_line(char **fld, int n, void *arg)
{
	struct tally *t = arg;
	struct rfs_progress sink = progress_sink(t->bar);

	if (rfs_control_progress_line(fld, n, &sink))
		return 0;
	progress_clear(t->bar);             /* a line of its own, never mixed with the bar */
	if (!strcmp(fld[0], "would") && n == 7) {
		char *path = NULL;                 /* from the mount's root, with its '/', as due says */
		const char *row[] = { fld[1], fld[2], fld[3], fld[4], fld[5], fld[6] };

		if (fld[1][0] != '/' && asprintf(&path, "/%s", fld[1]) < 0)
			return -ENOMEM;
		if (path)
			row[0] = path;
		rfs_output_row(&t->o, row);
		free(path);
	} else if (!strcmp(fld[0], "disposed") && n == 8) {
		printf("disposal %s: %s (%s%s) destroyed: %s files, %s folders, %s versions\n", fld[1],
		       rfs_escape_line(fld[2]), fld[3], strcmp(fld[4], "archive") ? "" : ", archived first",
		       fld[5], fld[6], fld[7]);
	} else if (!strcmp(fld[0], "skipped") && n == 3) {
		printf("not disposed: %s: %s\n", rfs_escape_line(fld[1]), rfs_escape_line(fld[2]));
		t->skipped++;
	} else if (!strcmp(fld[0], "approved") && n == 2) {
		printf("approved for destruction: %s\n", rfs_escape_line(fld[1]));
	} else if (!strcmp(fld[0], "extended") && n == 3) {
		printf("kept until %s: %s\n", fld[2], rfs_escape_line(fld[1]));
	}
	return 0;
}

static int dispose_run(struct cli_ctx *ctx)
{
	static const char *const fields[] = { "path", "class", "step", "trigger", "due", "hold" };
	char *approved = calloc(1, 1), *ext = *extend ? record_path(extend) : strdup("");
	struct tally t = { 0 };
	struct rcli_target where;
	enum rfs_output_format format;
	int rc = approved && ext ? 0 : -ENOMEM;

	if (rcli_format(json, csv, &format) != CLI_OK ||
	    rcli_find(ctx->argc ? ctx->argv[0] : ".", &where) != CLI_OK) {
		free(approved);
		free(ext);
		return CLI_FAIL;
	}

	for (char *p = approve, *next; rc == 0 && p; p = next) {
		char *one, *grown;

		next = strchr(p, '\x01');
		if (next)
			*next++ = '\0';
		one = record_path(p);
		grown = one ? realloc(approved, strlen(approved) + strlen(one) + 2) : NULL;
		if (!grown) {
			free(one);
			rc = -ENOMEM;
			break;
		}
		approved = grown;
		if (*approved)
			strcat(approved, ",");
		strcat(approved, one);
		free(one);
	}
	const char *args[] = { "dispose", dry_run ? "1" : "0", as_of, reason, approved ? approved : "",
	                       ext ? ext : "", until };

	if (dry_run)
		rfs_output_begin(&t.o, stdout, format, fields, 6);
	if (!dry_run)
		t.bar = progress_start("dispose", 0, 0);
	struct rfs_progress drawn = progress_sink(t.bar);

	if (rc < 0)
		cli_error("out of memory");
	else if (rfs_progress_watched(&drawn))   /* lines as they come: the bar moves meanwhile */
		rc = rcli_call_live(where.vault, -1, args, 7, dispose_line, &t);
	else
		rc = rcli_call(where.vault, -1, args, 7, dispose_line, &t);
	progress_end(t.bar);
	if (dry_run)
		(void)rfs_output_end(&t.o);
	free(approved);
	free(ext);
	if (rc != CLI_OK)
		return CLI_FAIL;
	return t.skipped ? CLI_PROBLEMS : CLI_OK;
}

static void dispose_done(void)
{
	free(approve);
	approve = NULL;
}

static const struct cli_option dispose_options[] = {
	CLI_FLAG("dry-run", 'n', &dry_run),
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'C', &csv),
	CLI_VALUE("as-of", 'a', &as_of),
	CLI_HOOK("approve", 'A', required_argument),
	CLI_VALUE("reason", 'r', &reason),
	CLI_VALUE("extend", 'e', &extend),
	CLI_VALUE("until", 'u', &until),
	{ 0 },
};

const struct cli_command cmd_dispose = {
	.help = &dispose_help, .options = dispose_options, .args = { 0, 1, "[VAULT]" },
	.option = dispose_option, .check = dispose_check, .run = dispose_run, .done = dispose_done,
};
