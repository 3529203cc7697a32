/*
** recfs show PATH (--rev REV | --at DATE) [-o FILE] [--xattrs [--json]]: one version's
** content, or its user.* extended attributes (as getfattr -d prints them, or JSON).
** Must never: write to the vault, or leave a partial -o FILE behind on failure.
*/
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"
#include "tools/output.h"

static const struct cli_help show_help = {
	"PATH (--rev REV | --at DATE) [--vault VAULT] [-o FILE] [--xattrs [--json]] [--passphrase-file FILE]",
	"Write the content PATH had in one version to standard output (or FILE).\n"
	"DATE is ISO 8601 local time: 2023-03-31 (end of that day) or 2023-03-31T14:05.\n"
	"\n"
	"  --rev REV      a revision from 'recfs log' (7 or more hex digits) or HEAD\n"
	"  --at DATE      the newest version at or before DATE\n"
	"  --vault VAULT  the vault is not mounted: PATH is relative to its root\n"
	"  -o FILE        write to FILE instead of standard output\n"
	"  --xattrs       its user.* extended attributes instead, NAME=VALUE lines\n"
	"                 as getfattr -d prints them (a folder's too)\n"
	"  --json         with --xattrs: [{\"name\",\"value\",\"base64\"}] (value as\n"
	"                 text, base64 exact)\n"
	"  --passphrase-file FILE, -h/--help\n"
	"\n"
	"A path a disposal destroyed prints \"PATH: destroyed on DATE under class X\n"
	"(disposal N)\" and exits 1.\n",
};

static const char *rev, *at, *outfile;
static bool xattrs, json;

/* getfattr's default: a value with at most one byte in eight not printable is text, in
** quotes (\\ and \" escaped, NUL, LF and CR as \\ooo, a final NUL dropped), else 0s and
** base64. */
static void put_getfattr_value(FILE *f, const uint8_t *v, size_t len, const char *b64)
{
	size_t nonpr = 0;

	for (size_t i = 0; i < len; i++)
		nonpr += !isprint(v[i]);
	if (len < nonpr * 8) {
		fprintf(f, "0s%s", b64);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (v[i] == 0 && i == len - 1)
			break;
		if (v[i] == 0 || v[i] == '\n' || v[i] == '\r')
			fprintf(f, "\\%03o", v[i]);
		else if (v[i] == '\\' || v[i] == '"')
			fprintf(f, "\\%c", v[i]);
		else
			fputc(v[i], f);
	}
	fputc('"', f);
}

static int show_xattrs(struct hcli *x, const char *hex)
{
	struct rfs_xattr_set set;
	static const char *const fields[] = { "name", "value", "base64" };
	struct rfs_output o;
	int err = hcli_xattrs(x, hex, &set), rc = CLI_OK;

	if (err < 0) {
		hcli_report(x, hex, err);
		return err == -EKEYREVOKED ? CLI_PROBLEMS : CLI_FAIL;
	}
	if (json)
		rfs_output_begin(&o, stdout, RFS_OUTPUT_JSON, fields, 3);
	else if (set.count)
		printf("# file: %s\n", rfs_escape_line(x->clear[0] == '/' ? x->clear + 1 : x->clear));
	for (size_t i = 0; i < set.count; i++) {
		const struct rfs_xattr *a = &set.v[i];
		size_t b64len = sodium_base64_encoded_len(a->len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(b64len), *text = malloc(a->len + 1);

		if (!b64 || !text) {
			free(b64);
			free(text);
			rc = CLI_FAIL;
			break;
		}
		sodium_bin2base64(b64, b64len, a->value, a->len, sodium_base64_VARIANT_ORIGINAL);
		memcpy(text, a->value, a->len);
		text[a->len] = 0;
		if (json) {
			rfs_output_row(&o, (const char *const[]){ a->name, text, b64 });
		} else {
			fputs(rfs_escape_line(a->name), stdout);
			if (a->len) {
				fputc('=', stdout);
				put_getfattr_value(stdout, a->value, a->len, b64);
			}
			fputc('\n', stdout);
		}
		sodium_memzero(text, a->len + 1);
		sodium_memzero(b64, b64len);
		free(text);
		free(b64);
	}
	if (!json && set.count)
		fputc('\n', stdout);
	if (json && rfs_output_end(&o) < 0)
		rc = CLI_FAIL;
	if (!set.recorded)
		cli_error("%s: this version is from before recfs kept extended attributes in history; "
		          "none are known", x->clear);
	rfs_history_xattrs_free(&set);
	return rc;
}

static int show_run(struct cli_ctx *ctx)
{
	struct hcli *x = &ctx->hist;
	char hex[RFS_REV_HEX + 1];

	if (hcli_revision(x, rev, at, hex) != CLI_OK)
		return CLI_FAIL;
	if (xattrs)
		return show_xattrs(x, hex);
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
	CLI_VALUE("rev", 'r', &rev), CLI_VALUE("at", 'a', &at), CLI_VALUE(NULL, 'o', &outfile),
	CLI_FLAG("xattrs", 'x', &xattrs), CLI_FLAG("json", 'j', &json), { 0 },
};

static int show_check(const struct cli_ctx *ctx)
{
	(void)ctx;
	if ((json && !xattrs) || (xattrs && outfile)) {
		cli_error(json && !xattrs ? "--json goes with --xattrs"
		                          : "--xattrs prints to standard output: leave out -o");
		return cli_usage_error();
	}
	return CLI_OK;
}

const struct cli_command cmd_show = {
	.help = &show_help, .shortopts = "o:", .options = show_options, .args = { 1, 1, "PATH" },
	.check = show_check, .run = show_run,
};
