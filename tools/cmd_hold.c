/*
** recfs hold add (PATH... | --class CLASS [--created-between D..D] [VAULT]) --name NAME
** --authority TEXT [--until DATE]; hold release [VAULT] NAME --reason TEXT; hold list [VAULT]
** [--json|--csv]: legal holds and moratoria, asked of the daemon.
** Must never: send a hold whose dates it has not checked.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

static bool json, csv;
static const char *class_name, *between, *name, *authority, *until, *reason;

static const struct cli_option hold_options[] = {
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'C', &csv),
	CLI_VALUE("class", 'c', &class_name),
	CLI_VALUE("created-between", 'b', &between),
	CLI_VALUE("name", 'n', &name),
	CLI_VALUE("authority", 'a', &authority),
	CLI_VALUE("until", 'u', &until),
	CLI_VALUE("reason", 'r', &reason),
	{ 0 },
};

static const char *const hold_fields[] = {
	"name", "placed_by", "@placed_at", "authority", "scope", "covers", "until", "released_by",
	"@released_at", "reason", "#records",
};
#define HOLD_FIELDS (sizeof(hold_fields) / sizeof(hold_fields[0]))

static int hold_line(char **fld, int n, void *arg)
{
	if (!strcmp(fld[0], "hold") && n == 1 + (int)HOLD_FIELDS)
		rfs_output_row(arg, (const char *const *)fld + 1);
	return 0;
}

static int hold_add(struct cli_ctx *ctx)
{
	size_t npaths = (size_t)ctx->argc - 1, nargs = 7 + (class_name ? 0 : npaths);
	const char **args = calloc(nargs + 1, sizeof(char *));
	char from[16] = "", to[16] = "";
	struct rcli_target t, first = { 0 };
	struct rfs_output o;
	int rc = args ? CLI_OK : CLI_FAIL;

	if (rc == CLI_OK && (!name || !authority)) {
		cli_error("a hold needs --name NAME and --authority TEXT");
		rc = cli_usage_error();
	}
	if (rc == CLI_OK && (class_name ? npaths > 1 : npaths == 0)) {
		cli_error("give record paths, or --class CLASS (and optionally the vault), not both");
		rc = cli_usage_error();
	}
	if (rc == CLI_OK && between && !class_name) {
		cli_error("--created-between needs --class");
		rc = cli_usage_error();
	}
	if (rc == CLI_OK && between) {
		const char *dots = strstr(between, "..");

		if (!dots || dots - between != 10 || strlen(dots + 2) != 10) {
			cli_error("--created-between takes DATE..DATE");
			rc = cli_usage_error();
		} else {
			memcpy(from, between, 10);
			memcpy(to, dots + 2, 10);
			rc = rcli_date("--created-between", from);
			if (rc == CLI_OK)
				rc = rcli_date("--created-between", to);
		}
	}
	if (rc == CLI_OK && until)
		rc = rcli_date("--until", until);
	for (size_t i = 0; rc == CLI_OK && i < npaths; i++) {
		rc = rcli_find(ctx->argv[1 + i], &t);
		if (rc == CLI_OK && !class_name && !t.path[0]) {
			cli_error("%s: give record paths inside the mount", ctx->argv[1 + i]);
			rc = CLI_FAIL;
		}
		if (rc == CLI_OK && i > 0 && strcmp(t.vault, first.vault) != 0) {
			cli_error("%s is in another vault than %s", ctx->argv[1 + i], ctx->argv[1]);
			rc = CLI_FAIL;
		}
		if (rc == CLI_OK && i == 0)
			first = t;
		if (rc == CLI_OK && !class_name && !(args[7 + i] = strdup(t.path)))
			rc = CLI_FAIL;
	}
	if (rc == CLI_OK && npaths == 0)
		rc = rcli_find(".", &first);
	if (rc == CLI_OK) {
		args[0] = "hold-add";
		args[1] = name;
		args[2] = authority;
		args[3] = until ? until : "";
		args[4] = class_name ? class_name : "";
		args[5] = from;
		args[6] = to;
		rfs_output_begin(&o, stdout, RFS_OUTPUT_TEXT, hold_fields, HOLD_FIELDS);
		rc = rcli_call(first.vault, -1, args, nargs, hold_line, &o);
		(void)rfs_output_end(&o);
	}
	for (size_t i = 7; args && i < nargs; i++)
		free((char *)args[i]);
	free(args);
	return rc;
}

static int hold_run(struct cli_ctx *ctx)
{
	const char *sub = ctx->argv[0];
	int rest = ctx->argc - 1;
	struct rcli_target t;

	if (!strcmp(sub, "add"))
		return hold_add(ctx);
	if (!strcmp(sub, "release") && (rest == 1 || rest == 2)) {
		if (!reason || !*reason) {
			cli_error("a release needs --reason TEXT");
			return cli_usage_error();
		}
		if (rcli_find(rest == 2 ? ctx->argv[1] : ".", &t) != CLI_OK)
			return CLI_FAIL;
		return rcli_call(t.vault, -1,
		                 (const char *[]){ "hold-release", ctx->argv[rest], reason }, 3, NULL,
		                 NULL);
	}
	if (!strcmp(sub, "list") && rest <= 1)
		return rcli_list(rest == 1 ? ctx->argv[1] : ".", json, csv,
		                 (const char *[]){ "hold-list" }, 1, hold_fields, HOLD_FIELDS, hold_line);
	cli_error("usage: recfs hold add ... | release [VAULT] NAME --reason TEXT | list [VAULT]");
	return cli_usage_error();
}

static const struct cli_help hold_help = {
	"add PATH... --name NAME --authority TEXT [--until DATE]\n"
	"       recfs hold add --class CLASS [--created-between DATE..DATE] [VAULT] --name NAME\n"
	"                      --authority TEXT [--until DATE]\n"
	"       recfs hold release [VAULT] NAME --reason TEXT\n"
	"       recfs hold list [VAULT] [--json|--csv]",
	"A hold stops the disposal of the records it covers and freezes them (EPERM for\n"
	"every change) from the day it is placed, through --until DATE if given, until it is\n"
	"released. It covers the records that PATH... are in, or every record of CLASS\n"
	"(created between the two days, inclusive, with --created-between: a moratorium).\n"
	"add and release need the records-manager role; list is for every local user.\n"
	"VAULT is the vault, its mount point or a path inside it (default: the current folder).\n",
};

const struct cli_command cmd_hold = {
	.help = &hold_help, .options = hold_options, .args = { 1, 64, "add|release|list ..." },
	.run = hold_run,
};
