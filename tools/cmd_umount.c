/*
** recfs umount MOUNTPOINT: unmount, then wait for the daemon to let go.
**
** Owns: the command line of umount; the work is rfs_unmount_and_wait.
** Must never: return before the vault can be opened again (or say why not).
*/
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/mounts.h"

#define UMOUNT_WAIT_SECONDS 60

static const struct cli_help umount_help = {
	"MOUNTPOINT [--lazy]",
	"Unmount the recfs vault mounted at MOUNTPOINT, then wait (up to 60 s) until its\n"
	"daemon has written everything and exited, so that the vault can be used at once.\n"
	"\n"
	"  -z, --lazy    detach now even if files are open; the daemon exits once they close\n"
	"  -h, --help    show this help\n",
};

static bool lazy;

static int umount_run(struct cli_ctx *ctx)
{
	char err[CLI_ERRSZ];

	if (rfs_unmount_and_wait(ctx->argv[0], lazy, UMOUNT_WAIT_SECONDS, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static const struct cli_option umount_options[] = { CLI_FLAG("lazy", 'z', &lazy), { 0 } };

const struct cli_command cmd_umount = {
	.help = &umount_help, .shortopts = "z", .options = umount_options, .args = { 1, 1, "MOUNTPOINT" },
	.run = umount_run,
};
