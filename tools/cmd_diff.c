/*
** recfs diff PATH --rev A [--rev B]: a unified diff of two versions (B
** defaults to the newest), or a one-line note for binary files.
** Must never: write plaintext to disk. Both versions are decrypted into memfds
** (anonymous memory, gone when the process dies, even by SIGKILL) and diff(1)
** reads them through /proc/self/fd/N; nothing is created under TMPDIR or /tmp.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/commands.h"
#include "fs/escape.h"
#include "tools/history_cli.h"

static const struct cli_help diff_help = {
	"PATH --rev A [--rev B] [--vault VAULT] [--passphrase-file FILE]",
	"Show what changed in PATH between revision A and revision B (default: the\n"
	"newest version) as a unified diff. Binary files are only said to differ.\n"
	"\n"
	"Exit status: 0 the same; 1 different; 2 failure.\n",
};

static bool is_binary(int fd)
{
	char buf[8192];
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	return n > 0 && memchr(buf, 0, (size_t)n) != NULL;
}

/* Decrypt one version into a fresh memfd, left open across exec (no
** MFD_CLOEXEC) so that diff/cmp can read it as /proc/self/fd/N. */
static int extract(struct hcli *x, const char *spec, const char *label, char hex[RFS_REV_HEX + 1],
                   int *fd, char path[32])
{
	if (hcli_revision(x, spec, NULL, hex) != CLI_OK)
		return CLI_FAIL;
	*fd = memfd_create(label, 0);
	if (*fd < 0) {
		cli_error("cannot make an in-memory file for %s: %s", x->clear, strerror(errno));
		return CLI_FAIL;
	}
	snprintf(path, 32, "/proc/self/fd/%d", *fd);
	int rc = hcli_read(x, hex, *fd);
	if (rc == -ENOENT) {
		return CLI_OK;                   /* absent in that version: diff against empty */
	} else if (rc < 0) {
		hcli_report(x, hex, rc);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static const char *revs[2] = { NULL, "HEAD" };
static int nrev;

static int diff_option(struct cli_ctx *ctx, int opt, char *arg)
{
	if (nrev == 2) {   /* --rev, its only option */
		cli_error("at most two --rev");
		return cli_usage_error();
	}
	revs[nrev++] = arg;
	return CLI_OK;
}

static int diff_check(const struct cli_ctx *ctx)
{
	if (!nrev) {
		cli_error("--rev A is required");
		return cli_usage_error();
	}
	return CLI_OK;
}

static int diff_run(struct cli_ctx *ctx)
{
	struct hcli *x = &ctx->hist;
	char a[32] = "", b[32] = "", hex[2][RFS_REV_HEX + 1];
	int fds[2] = { -1, -1 }, rc = hcli_require_history(x);
	if (rc == CLI_OK)
		rc = extract(x, revs[0], "recfs-diff-a", hex[0], &fds[0], a);
	if (rc == CLI_OK)
		rc = extract(x, revs[1], "recfs-diff-b", hex[1], &fds[1], b);
	if (rc == CLI_OK && (is_binary(fds[0]) || is_binary(fds[1]))) {
		char *argv_cmp[] = { "cmp", "-s", a, b, NULL };
		int same = cli_run(argv_cmp) == 0;
		if (!same)
			printf("Binary files %s at %.12s and %.12s differ\n", rfs_escape_line(x->clear), hex[0], hex[1]);
		rc = same ? CLI_OK : CLI_PROBLEMS;
	} else if (rc == CLI_OK) {
		char la[4 * PATH_MAX + 40], lb[4 * PATH_MAX + 40];
		snprintf(la, sizeof la, "%s@%.12s", rfs_escape_line(x->clear), hex[0]);
		snprintf(lb, sizeof lb, "%s@%.12s", rfs_escape_line(x->clear), hex[1]);
		fflush(stdout);
		char *argv_diff[] = { "diff", "-u", "--label", la, "--label", lb, a, b, NULL };
		int st = cli_run(argv_diff);
		rc = st == 0 ? CLI_OK : st == 1 ? CLI_PROBLEMS : CLI_FAIL;
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static const struct cli_option diff_options[] = { CLI_HOOK("rev", 'r', required_argument), { 0 } };

const struct cli_command cmd_diff = {
	.help = &diff_help, .options = diff_options, .args = { 1, 1, "PATH" }, .option = diff_option,
	.check = diff_check, .run = diff_run,
};
