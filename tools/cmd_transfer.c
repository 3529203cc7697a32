/*
** recfs transfer confirm FILE [VAULT] --receipt TEXT [--on DATE]: the receiver has checked an
** archive this vault wrote: each record in it gets the dated property 'transferred' (which a
** class may use as its trigger), and the transfer log an entry with the receipt.
** Must never: send anything of FILE but its SHA-512 (computed here) and its path.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "fs/mountinfo.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

static const char *receipt, *on;

static const struct cli_option transfer_options[] = {
	CLI_VALUE("receipt", 'r', &receipt),
	CLI_VALUE("on", 'O', &on),
	{ 0 },
};

/* The SHA-512 of the file at path, as hex. CLI_OK or CLI_FAIL (printed). */
static int file_sha512(const char *path, char hex[2 * RFS_SHA512_SIZE + 1])
{
	static uint8_t buf[1 << 16];
	struct rfs_sha512 s;
	uint8_t d[RFS_SHA512_SIZE];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0;

	if (fd < 0) {
		cli_error("cannot open %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	rfs_sha512_init(&s);
	while ((got = read(fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR))
		if (got > 0)
			rfs_sha512_update(&s, buf, (size_t)got);
	close(fd);
	rfs_sha512_final(&s, d);
	if (got < 0) {
		cli_error("cannot read %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	rfs_hex_encode(hex, d, sizeof(d));
	return CLI_OK;
}

static int confirm_line(char **fld, int n, void *arg)
{
	size_t *records = arg;

	if (!strcmp(fld[0], "record") && n == 2) {
		printf("transferred: %s\n", fld[1]);
		(*records)++;
	}
	return 0;
}

static int transfer_run(struct cli_ctx *ctx)
{
	char hex[2 * RFS_SHA512_SIZE + 1], abs[PATH_MAX];
	struct rcli_target t;
	size_t records = 0;
	int rc;

	if (strcmp(ctx->argv[0], "confirm") != 0 || ctx->argc < 2 || ctx->argc > 3) {
		cli_error("usage: recfs transfer confirm FILE [VAULT] --receipt TEXT [--on DATE]");
		return cli_usage_error();
	}
	if (!receipt || !*receipt) {
		cli_error("a confirmation needs --receipt TEXT: what the receiver sent back");
		return cli_usage_error();
	}
	rc = on ? rcli_date("--on", on) : CLI_OK;
	if (rc == CLI_OK && rfs_mountinfo_abspath(ctx->argv[1], abs) < 0) {
		cli_error("%s: %s", ctx->argv[1], strerror(errno));
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK)
		rc = file_sha512(abs, hex);
	if (rc == CLI_OK)
		rc = rcli_find(ctx->argc == 3 ? ctx->argv[2] : ".", &t);
	if (rc == CLI_OK)
		rc = rcli_call(t.vault, -1,
		               (const char *[]){ "transfer-confirm", hex, abs, receipt, on ? on : "" },
		               5, confirm_line, &records);
	if (rc == CLI_OK)
		printf("confirmed: %s (sha512 %.16s...), %zu record%s dated transferred\n", abs, hex,
		       records, records == 1 ? "" : "s");
	return rc;
}

static const struct cli_help transfer_help = {
	"confirm FILE [VAULT] --receipt TEXT [--on DATE]",
	"The receiver of an archive that 'recfs archive' or 'recfs close-service' wrote has\n"
	"checked it: find FILE in the transfer log by its SHA-512, set the dated property\n"
	"'transferred' (DATE, default today) of each record in it, so that a class may keep\n"
	"records for 'N years after transferred', and log the confirmation with its receipt.\n"
	"A file the log does not name (another, or a changed one) is refused.\n"
	"VAULT is the vault, its mount point or a path inside it (default: the current folder).\n"
	"Needs the records-manager role.\n",
};

const struct cli_command cmd_transfer = {
	.help = &transfer_help, .options = transfer_options, .args = { 1, 3, "confirm FILE [VAULT]" },
	.run = transfer_run,
};
