/*
** recfs gc VAULT: pack every history object into one uncompressed pack.
** Must never: rewrite history, or open a mounted vault (its daemon packs instead).
*/
#include <stdio.h>
#include <string.h>
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"
#include "tools/progress.h"
#include "fs/escape.h"

static const struct cli_help gc_help = {
	"VAULT [--passphrase-file FILE]",
	"Pack and compact history.git: every reachable object into one pack; loose\n"
	"objects and older packs are removed. History is never rewritten.\n",
};

static int gc_run(struct cli_ctx *ctx)
{
	struct progress *bar = progress_start("gc", 0, 0);
	struct rfs_progress sink = progress_sink(bar);
	int rc = hcli_gc(&ctx->hist, &sink);

	progress_end(bar);

	if (rc < 0) {
		cli_error("gc of %s failed: %s (history is unchanged)", ctx->argv[0], strerror(-rc));
		return CLI_FAIL;
	}
	printf("%s: history packed\n", rfs_escape_line(ctx->argv[0]));
	return CLI_OK;
}

const struct cli_command cmd_gc = {
	.help = &gc_help, .args = { 1, 1, "VAULT" }, .run = gc_run,
};
