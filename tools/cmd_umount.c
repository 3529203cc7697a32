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

int cmd_umount(int argc, char **argv)
{
	static const struct option options[] = {
		{ "lazy", no_argument, NULL, 'z' },
		CLI_HELP_OPTION,
		{ 0 },
	};
	char err[CLI_ERRSZ];
	bool lazy = false;
	int c;

	while ((c = cli_next_option(argc, argv, "zh", options)) != -1) {
		switch (c) {
		case 'z': lazy = true; break;
		case 'h': return cli_print_help(&umount_help);
		default: return cli_usage_error();
		}
	}
	if (cli_check_args(argc - optind, argv + optind, 1, 1, "MOUNTPOINT") < 0)
		return CLI_FAIL;
	if (rfs_unmount_and_wait(argv[optind], lazy, UMOUNT_WAIT_SECONDS, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}
