/*
** recfs transfers [VAULT] [--json|--csv]: the transfer log: every archive, close-service,
** confirmation and disposal archive, oldest first, asked of the daemon.
** Must never: print a listing but through tools/output.
*/
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

static bool json, csv;

static const struct cli_option transfers_options[] = {
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'C', &csv),
	{ 0 },
};

static const char *const transfer_fields[] = {
	"seq", "kind", "when", "on", "login", "name", "path", "file", "sha512", "key_id", "pubkey",
	"recipients", "records", "to", "note", "receipt",
};
#define TRANSFER_FIELDS (sizeof(transfer_fields) / sizeof(transfer_fields[0]))

static int transfer_line(char **fld, int n, void *arg)
{
	if (!strcmp(fld[0], "transfer") && n == 1 + (int)TRANSFER_FIELDS)
		rfs_output_row(arg, (const char *const *)fld + 1);
	return 0;
}

static int transfers_run(struct cli_ctx *ctx)
{
	return rcli_list(ctx->argc ? ctx->argv[0] : ".", json, csv, (const char *[]){ "transfers" },
	                 1, transfer_fields, TRANSFER_FIELDS, transfer_line);
}

static const struct cli_help transfers_help = {
	"[VAULT] [--json|--csv]",
	"The transfer log of the mounted vault, oldest first: each archive, close-service,\n"
	"confirmation of a transfer and disposal's archive, with when, who, the folder, the\n"
	"file, its SHA-512, the signing key, the age recipients, the count of records, to whom,\n"
	"the note and the receipt.\n"
	"VAULT is the vault, its mount point or a path inside it (default: the current folder).\n"
	"Any local user who can reach the vault may run it.\n",
};

const struct cli_command cmd_transfers = {
	.help = &transfers_help, .options = transfers_options, .args = { 0, 1, "[VAULT]" },
	.run = transfers_run,
};
