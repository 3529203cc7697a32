/*
** recfs gc VAULT: pack every history object into one uncompressed pack.
** Must never: rewrite history, or open a mounted vault (its daemon packs instead).
*/
#include <stdio.h>
#include <string.h>
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"

static const struct cli_help gc_help = {
	"VAULT [--passphrase-file FILE]",
	"Pack and compact history.git: every reachable object into one pack; loose\n"
	"objects and older packs are removed. History is never rewritten.\n",
};

int cmd_gc(int argc, char **argv)
{
	static const struct option options[] = { CLI_PASSPHRASE_FILE_OPTION, CLI_HELP_OPTION, { 0 } };
	const char *passfile = NULL;
	int c;
	while ((c = cli_next_option(argc, argv, "h", options)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'h': return cli_print_help(&gc_help);
		default: return cli_usage_error();
		}
	}
	if (cli_check_args(argc - optind, argv + optind, 1, 1, "VAULT") < 0)
		return CLI_FAIL;
	struct hcli x;
	if (hcli_open(argv[optind], NULL, passfile, true, &x) != CLI_OK)
		return CLI_FAIL;
	int rc = hcli_gc(&x);
	hcli_close(&x);
	if (rc < 0) {
		cli_error("gc of %s failed: %s (history is unchanged)", argv[optind], strerror(-rc));
		return CLI_FAIL;
	}
	printf("%s: history packed\n", argv[optind]);
	return CLI_OK;
}
