/*
** recfs show PATH (--rev REV | --at DATE) [-o FILE]: one version's content.
** Must never: write to the vault, or leave a partial -o FILE behind on failure.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"

static const struct cli_help show_help = {
	"PATH (--rev REV | --at DATE) [--vault VAULT] [-o FILE] [--passphrase-file FILE]",
	"Write the content PATH had in one version to standard output (or FILE).\n"
	"DATE is ISO 8601 local time: 2023-03-31 (end of that day) or 2023-03-31T14:05.\n"
	"\n"
	"  --rev REV      a revision from 'recfs log' (7 or more hex digits) or HEAD\n"
	"  --at DATE      the newest version at or before DATE\n"
	"  --vault VAULT  the vault is not mounted: PATH is relative to its root\n"
	"  -o FILE        write to FILE instead of standard output\n"
	"  --passphrase-file FILE, -h/--help\n"
	"\n"
	"A path a disposal destroyed prints \"PATH: destroyed on DATE under class X\n"
	"(disposal N)\" and exits 1.\n",
};

static const char *rev, *at, *outfile;

static int show_run(struct cli_ctx *ctx)
{
	struct hcli *x = &ctx->hist;
	char hex[RFS_REV_HEX + 1];

	if (hcli_revision(x, rev, at, hex) != CLI_OK)
		return CLI_FAIL;
	int fd = outfile ? open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : STDOUT_FILENO;
	int rc = fd < 0 ? CLI_FAIL : CLI_OK;
	if (fd < 0)
		cli_error("cannot create %s: %s", outfile, strerror(errno));
	int err = fd < 0 ? 0 : hcli_read(x, hex, fd);
	if (err < 0) {
		hcli_report(x, hex, err);
		rc = err == -EKEYREVOKED ? CLI_PROBLEMS : CLI_FAIL;   /* destroyed: exit 1, never ciphertext */
		if (outfile)
			unlink(outfile);
	}
	if (outfile && fd >= 0 && close(fd) < 0 && rc == CLI_OK) {
		cli_error("cannot write %s: %s", outfile, strerror(errno));
		rc = CLI_FAIL;
	}
	return rc;
}

static const struct cli_option show_options[] = {
	CLI_VALUE("rev", 'r', &rev), CLI_VALUE("at", 'a', &at), CLI_VALUE(NULL, 'o', &outfile), { 0 },
};

const struct cli_command cmd_show = {
	.help = &show_help, .shortopts = "o:", .options = show_options, .args = { 1, 1, "PATH" },
	.run = show_run,
};
