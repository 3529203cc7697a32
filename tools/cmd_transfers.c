/*
** recfs transfers [VAULT] [--json|--csv]: the transfer log: every archive, close-service,
** confirmation and disposal archive, oldest first, asked of the daemon.
** Must never: print a listing but through tools/output.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	"#seq", "kind", "@when", "on", "login", "name", "path", "file", "sha512", "key_id", "pubkey",
	"recipients", "#records", "to", "note", "receipt",
};
#define TRANSFER_FIELDS (sizeof(transfer_fields) / sizeof(transfer_fields[0]))

/* A log line (fs/transfers.h): 14 fields, the recipients counted, the records counted. */
static int transfer_line(char **fld, int n, void *arg)
{
	const char *row[TRANSFER_FIELDS];
	char *rcpt = NULL;
	size_t len = 0, nr;
	FILE *f;

	if (strcmp(fld[0], "transfer") != 0 || n < 17 || (nr = strtoul(fld[15], NULL, 10)) > (size_t)n - 17)
		return 0;
	if (!(f = open_memstream(&rcpt, &len)))
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		fprintf(f, "%s%s", i ? " " : "", fld[16 + i]);
	fclose(f);
	for (size_t i = 0; i < 11; i++)
		row[i] = fld[1 + i];                 /* seq .. pubkey */
	row[11] = rcpt;
	row[12] = fld[16 + nr];                  /* the count of records */
	row[13] = fld[12];                       /* to, note, receipt */
	row[14] = fld[13];
	row[15] = fld[14];
	rfs_output_row(arg, row);
	free(rcpt);
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
