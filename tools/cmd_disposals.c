/*
** recfs disposals [VAULT] [--json|--csv] [--certificate N]: the disposal register,
** checked line by line (hash chain and signatures), or the signed certificate of one
** disposal.
** Must never: show a register whose check failed without saying so (exit 1), or a
** certificate from one.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/control.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/retention_cli.h"

static const struct cli_help disposals_help = {
	"[VAULT] [--json|--csv] [--certificate N]",
	"List the disposal register of the mounted vault: one line per disposal, with\n"
	"the record's path, class, rule, policy revision, trigger and due dates, who\n"
	"approved it and who ran it, the review, and how many files, folders and\n"
	"versions were destroyed. Every line's hash, its link to the line before and\n"
	"its signature by the vault's key are checked; a problem is one line on\n"
	"stderr. Anyone who can reach the vault may read it. VAULT is the vault, its mount\n"
	"point or a path inside it (default: the current folder).\n"
	"\n"
	"  --json, --csv       the listing as JSON or CSV (fields in docs/JSON.md)\n"
	"  --certificate N     print the certificate of destruction of disposal N: text,\n"
	"                      the vault's public key (PEM) and a signature that\n"
	"                      'openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin\n"
	"                      -in TEXT -sigfile SIG' checks (SIG: the base64 decoded)\n"
	"\n"
	"Exit status: 0 the register checks; 1 it does not; 2 it could not be read.\n",
};

static bool json, csv;
static const char *certificate;

struct listing {
	struct rfs_output o;
	unsigned long problems;
};

static int disposal_line(char **fld, int n, void *arg)
{
	struct listing *l = arg;

	if (!strcmp(fld[0], "disposal") && n == 16) {
		char path[PATH_MAX + 2];
		const char *row[15];

		/* The register keeps the path from the mount's root; every listing starts it with '/'. */
		memcpy(row, fld + 1, sizeof(row));
		snprintf(path, sizeof(path), "%s%s", fld[3][0] == '/' ? "" : "/", fld[3]);
		row[2] = path;
		rfs_output_row(&l->o, row);
	}
	else if (!strcmp(fld[0], "problem") && n == 2) {
		cli_error("%s", fld[1]);
		l->problems++;
	}
	return 0;
}

static int certificate_line(char **fld, int n, void *arg)
{
	if (!strcmp(fld[0], "c") && n == 2)
		printf("%s\n", fld[1]);
	return 0;
}

static int disposals_run(struct cli_ctx *ctx)
{
	static const char *const fields[] = {
		"#number", "@date", "path", "class", "rule", "policy_revision", "trigger", "due",
		"approved_by", "run_by", "review", "#files", "#folders", "#versions", "entry_hash",
	};
	enum rfs_output_format format;
	struct listing l = { 0 };
	struct rcli_target t;
	int rc;

	if (rcli_format(json, csv, &format) != CLI_OK ||
	    rcli_find(ctx->argc ? ctx->argv[0] : ".", &t) != CLI_OK)
		return CLI_FAIL;
	if (certificate) {
		const char *args[] = { "certificate", certificate };

		return rcli_call(t.vault, -1, args, 2, certificate_line, NULL);
	}
	rfs_output_begin(&l.o, stdout, format, fields, sizeof(fields) / sizeof(fields[0]));
	rc = rcli_call(t.vault, -1, (const char *[]){ "disposals" }, 1, disposal_line, &l);
	if (rfs_output_end(&l.o) < 0 && rc == CLI_OK) {
		cli_error("cannot write the listing");
		rc = CLI_FAIL;
	}
	return rc != CLI_OK ? rc : l.problems ? CLI_PROBLEMS : CLI_OK;
}

static const struct cli_option disposals_options[] = {
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'C', &csv),
	CLI_VALUE("certificate", 'N', &certificate),
	{ 0 },
};

const struct cli_command cmd_disposals = {
	.help = &disposals_help, .options = disposals_options, .args = { 0, 1, "[VAULT]" },
	.run = disposals_run,
};
