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

int cmd_flush(int argc, char **argv)
{
	static const struct option options[] = { CLI_HELP_OPTION, { 0 } };
	struct rfs_mount_entry m;
	char abs[PATH_MAX];
	int c, rc;

	while ((c = cli_next_option(argc, argv, "h", options)) != -1) {
		if (c == 'h')
			return cli_print_help(&flush_help);
		return cli_usage_error();
	}
	if (cli_check_args(argc - optind, argv + optind, 1, 1, "MOUNTPOINT") < 0)
		return CLI_FAIL;
	if (rfs_mountinfo_abspath(argv[optind], abs) < 0 || rfs_mountinfo_find(abs, true, &m) != 0 ||
	    strcmp(m.fstype, RFS_FSTYPE) != 0) {
		cli_error("%s is not inside a mounted recfs vault", argv[optind]);
		return CLI_FAIL;
	}
	if (rfs_source_is_snapshot(m.source)) {
		cli_error("%s is a read-only view of history: nothing to flush", m.mountpoint);
		return CLI_FAIL;
	}
	rc = rfs_remote_flush(m.source);
	if (rc < 0) {
		cli_error("the daemon of %s did not flush: %s", m.mountpoint, strerror(-rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}
