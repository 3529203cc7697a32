/*
** recfs fsck VAULT: authenticate every name, header and block of live/.
**
** Owns: the command line and the summary; the check is rfs_fsck.
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
#include "tools/progress.h"

static const struct cli_help fsck_help = {
	"VAULT [--passphrase-file FILE]",
	"Check every file of an unmounted VAULT: each name, header and block must\n"
	"authenticate. Prints one line per damaged file, by its clear path, then a summary.\n"
	"\n"
	"Also lists what killed processes left behind (temporary pack files, copies\n"
	"made by 'recfs mount --at'): not damage; the next mount or 'recfs gc' removes them.\n"
	"\n"
	"Exit status: 0 nothing damaged; 1 damage found; 2 the check could not run.\n"
	"\n"
	"  --passphrase-file FILE  read the passphrase from the first line of FILE\n"
	"                          ('-' is standard input)\n"
	"  -h, --help              show this help\n",
};

static int fsck_run(struct cli_ctx *ctx)
{
	struct rfs_fsck_result res = { 0 };
	const char *vault = ctx->argv[0];
	struct progress *bar = progress_start("fsck", 0, 0);
	struct rfs_progress sink = progress_sink(bar);
	FILE *report = progress_report(bar, stdout);
	int rc = report ? rfs_fsck(ctx->vault, report, &res, &sink) : -ENOMEM;

	progress_end(bar);

	if (rc < 0) {
		fflush(stdout);
		cli_error("the check of %s stopped: %s", vault, strerror(-rc));
		return CLI_FAIL;
	}
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
	.help = &fsck_help, .args = { 1, 1, "VAULT" }, .run = fsck_run,
};
