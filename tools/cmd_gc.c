/*
** recfs gc VAULT: pack every history object into one uncompressed pack.
** Must never: rewrite history, or open a mounted vault (its daemon packs instead).
*/
#include <stdio.h>
#include <string.h>
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"
#include "fs/escape.h"

static const struct cli_help gc_help = {
	"VAULT [--passphrase-file FILE]",
	"Pack and compact history.git: every reachable object into one pack; loose\n"
	"objects and older packs are removed. History is never rewritten.\n",
};

int cmd_gc(int argc, char **argv)
{
	struct hcli x;
	int status = hcli_open_vault_argv(argc, argv, &gc_help, true, &x);
	if (status >= 0)
		return status;
	int rc = hcli_gc(&x);
	hcli_close(&x);
	if (rc < 0) {
		cli_error("gc of %s failed: %s (history is unchanged)", argv[optind], strerror(-rc));
		return CLI_FAIL;
	}
	printf("%s: history packed\n", rfs_esc(argv[optind]));
	return CLI_OK;
}
