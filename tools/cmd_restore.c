/*
** recfs restore PATH (--rev REV | --at DATE): make an earlier version the
** newest one; works for deleted files. On a mounted vault the content is
** written back through the mount, so the kernel's caches stay true and the
** daemon records the save as "restored from REV"; offline (--vault) the
** history library puts it back into live/.
** Must never: open a mounted vault for writing.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/control.h"
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/history_cli.h"
#include "tools/progress.h"

static const struct cli_help restore_help = {
	"PATH (--rev REV | --at DATE) [--vault VAULT [--passphrase-file FILE]]",
	"Make the content PATH had at REV (or DATE) its newest version, as a new\n"
	"version; earlier versions stay. Works for deleted files: missing folders\n"
	"are made again. PATH is a path in a mounted vault, or with --vault a path\n"
	"relative to the vault's root. A file that a program has open for writing is\n"
	"not restored (its later writes would be lost): close it first.\n",
};

/* A symbolic link is made again through the mount; a file is rewritten by the
** daemon, which tells the kernel and records "restored from REV". */
static int restore_through_mount(struct hcli *x, const char *hex,
                                 const struct rfs_progress *progress)
{
	struct rfs_version ver;
	char source[PATH_MAX], target[PATH_MAX], path[2 * PATH_MAX];
	int rc = hcli_locate(x, hex, source);

	if (rc == 0)
		rc = hcli_stat_at(x, hex, source, &ver);
	if (rc < 0)
		return rc;
	if (ver.type == RFS_OBJ_DIR)
		return -EISDIR;
	if (ver.type == RFS_OBJ_FILE)
		return rfs_control_restore(x->vault, hex, source, x->clear, ver.mode, ver.uid, ver.gid,
		                           progress);
	if (!x->mountpoint[0])
		return -ENOENT;
	{
		int mem = memfd_create("recfs-restore", MFD_CLOEXEC);
		ssize_t n;

		rc = mem < 0 ? -errno : hcli_read_at(x, hex, source, mem);
		n = rc < 0 ? -1 : pread(mem, target, sizeof target - 1, 0);
		if (mem >= 0)
			close(mem);
		if (rc == 0 && n < 0)
			rc = -errno;
		if (rc < 0)
			return rc;
		target[n] = '\0';
	}
	snprintf(path, sizeof path, "%s%s", x->mountpoint, x->clear);
	if ((unlink(path) != 0 && errno != ENOENT) || symlink(target, path) != 0)
		return -errno;
	return rfs_control_flush(x->vault);
}

static const char *rev, *at;

static int restore_check(const struct cli_ctx *ctx)
{
	if (!rev && !at) {
		cli_error("say which version: --rev REV or --at DATE");
		return cli_usage_error();
	}
	return CLI_OK;
}

static int restore_run(struct cli_ctx *ctx)
{
	struct hcli *x = &ctx->hist;
	char hex[RFS_REV_HEX + 1];
	struct progress *bar = progress_start("restore", 0, 0);
	struct rfs_progress sink = progress_sink(bar);
	int rc, err = 0;

	rc = hcli_revision(x, rev, at, hex);
	if (rc == CLI_OK && x->remote)
		err = restore_through_mount(x, hex, &sink);
	else if (rc == CLI_OK)
		err = rfs_history_restore(x->h, x->clear, hex, &sink);
	if (err == 0 && rc == CLI_OK && !x->remote)
		err = rfs_history_flush(x->h);
	progress_end(bar);
	if (err == -EBUSY) {
		cli_error("%s is open for writing; close it (or the program that has it open) and "
		          "restore again", x->clear);
		rc = CLI_FAIL;
	} else if (err < 0) {
		hcli_report(x, hex, err);
		rc = CLI_FAIL;
	} else if (rc == CLI_OK) {
		printf("%s restored from %.12s\n", rfs_escape_line(x->clear), hex);
	}
	return rc;
}

static const struct cli_option restore_options[] = {
	CLI_VALUE("rev", 'r', &rev), CLI_VALUE("at", 'a', &at), { 0 },
};

const struct cli_command cmd_restore = {
	.help = &restore_help, .options = restore_options, .args = { 1, 1, "PATH" },
	.check = restore_check, .run = restore_run,
};
