/*
** recfs set PATH KEY=DATE... and recfs close PATH [--on DATE]: a record's dated properties
** and its closed event, asked of the daemon (records-manager role).
** Must never: send a date it has not checked, or a KEY=DATE pair without its '='.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

static const char *on;

static const struct cli_option close_options[] = {
	CLI_VALUE("on", 'o', &on),
	{ 0 },
};

static int set_run(struct cli_ctx *ctx)
{
	size_t pairs = (size_t)ctx->argc - 1, nargs = 2 + 2 * pairs;
	const char **args = calloc(nargs, sizeof(char *));
	struct rcli_target t;
	int rc = CLI_OK;

	if (!args) {
		cli_error("out of memory");
		return CLI_FAIL;
	}
	args[0] = "set";
	for (size_t i = 0; i < pairs && rc == CLI_OK; i++) {
		char *kv = ctx->argv[1 + i], *eq = strchr(kv, '=');

		if (!eq || eq == kv) {
			cli_error("'%s' is not KEY=DATE", kv);
			rc = cli_usage_error();
			break;
		}
		*eq = '\0';
		args[2 + 2 * i] = kv;
		args[3 + 2 * i] = eq + 1;
		rc = rcli_date(kv, eq + 1);
	}
	if (rc == CLI_OK)
		rc = rcli_find(ctx->argv[0], &t);
	if (rc == CLI_OK && !t.path[0]) {
		cli_error("%s: give the record's path inside the mount", ctx->argv[0]);
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK) {
		args[1] = t.path;
		rc = rcli_call(t.vault, -1, args, nargs, NULL, NULL);
	}
	free(args);
	return rc;
}

static const struct cli_help set_help = {
	"PATH KEY=DATE...",
	"Set dated properties of the record PATH (inside a mount) is in, such as end=2023-08-31;\n"
	"a class's 'retain = N years after KEY' counts from it. Shown as the read-only\n"
	"extended attribute user.recfs.KEY of the record's folder. Records-manager role.\n",
};

const struct cli_command cmd_set = {
	.help = &set_help, .args = { 2, 64, "PATH KEY=DATE..." }, .run = set_run,
};

static int close_run(struct cli_ctx *ctx)
{
	struct rcli_target t;

	if (on && rcli_date("--on", on) != CLI_OK)
		return CLI_FAIL;
	if (rcli_find(ctx->argv[0], &t) != CLI_OK)
		return CLI_FAIL;
	if (!t.path[0]) {
		cli_error("%s: give the record's path inside the mount", ctx->argv[0]);
		return CLI_FAIL;
	}
	return rcli_call(t.vault, -1, (const char *[]){ "close", t.path, on ? on : "" }, 3, NULL,
	                 NULL);
}

static const struct cli_help close_help = {
	"PATH [--on DATE]",
	"Record the closed event of the record PATH is in: today, or on DATE (YYYY-MM-DD).\n"
	"A class with 'lock = when closed' locks it from that day. Records-manager role.\n",
};

const struct cli_command cmd_close = {
	.help = &close_help, .options = close_options, .args = { 1, 1, "PATH" },
	.run = close_run,
};
