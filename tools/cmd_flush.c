/*
** recfs flush MOUNTPOINT: return once every save made so far is committed.
** Must never: open the vault itself (the daemon is the one writer).
*/
#include <stdio.h>
#include <string.h>

#include "fs/control.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/mounts.h"

static const struct cli_help flush_help = {
	"MOUNTPOINT",
	"Ask the daemon of the vault mounted at MOUNTPOINT (or any path inside it) to\n"
	"commit every save made so far to history, and wait until it has: packed,\n"
	"signed and on disk.\n",
};

static int flush_run(struct cli_ctx *ctx)
{
	const struct rfs_mount_entry *m = &ctx->mount;
	int rc;

	if (rfs_source_is_snapshot(m->source)) {
		cli_error("%s is a read-only view of history: nothing to flush", m->mountpoint);
		return CLI_FAIL;
	}
	rc = rfs_control_flush(m->source);
	if (rc < 0) {
		cli_error("the daemon of %s did not flush: %s", m->mountpoint, strerror(-rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

const struct cli_command cmd_flush = {
	.help = &flush_help, .args = { 1, 1, "MOUNTPOINT" }, .run = flush_run,
};
