/*
** recfs verify VAULT: check every signature, the chain of commits, every
** blob, and that live/ matches the newest commit.
** Must never: write to the vault.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"
#include "tools/progress.h"

static const struct cli_help verify_help = {
	"VAULT [--passphrase-file FILE]",
	"Prove the history was not rewritten: every commit's signature and sealed\n"
	"record, the chain (changed, removed or reordered commits), the signed head\n"
	"(a ref moved backwards), every object, and live/ against the newest commit.\n"
	"One line per problem. A file a recovery after a crash brought back gets a\n"
	"line \"recovered after a crash in commit REV (DATE): PATH\", not a problem;\n"
	"so does each disposal: \"destroyed (disposal N): K keys ...\" (keys that\n"
	"VAULT/disposed/N lists are gone, as it recorded). A missing key no list\n"
	"names is a problem.\n"
	"\n"
	"Exit status: 0 no problem; 1 problems found; 2 the check could not run.\n",
};

static int verify_run(struct cli_ctx *ctx)
{
	struct rfs_verify_result res;
	struct progress *bar = progress_start("verify", 0, 0);
	struct rfs_progress sink = progress_sink(bar);
	FILE *report = progress_report(bar, stdout);
	int rc = report ? hcli_verify(&ctx->hist, report, &res, &sink) : -ENOMEM;

	progress_end(bar);

	if (rc < 0) {
		cli_error("the check of %s stopped: %s", ctx->argv[0], strerror(-rc));
		return CLI_FAIL;
	}
	printf("%s: %lu commits, %lu trees, %lu blobs checked; %lu keys destroyed by disposals; "
	       "%lu problems\n", rfs_escape_line(ctx->argv[0]), res.commits, res.trees, res.blobs,
	       res.destroyed, res.problems);
	return res.problems ? CLI_PROBLEMS : CLI_OK;
}

const struct cli_command cmd_verify = {
	.help = &verify_help, .args = { 1, 1, "VAULT" }, .run = verify_run,
};
