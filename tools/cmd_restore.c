/*
** recfs restore PATH (--rev REV | --at DATE): make an earlier version the
** newest one; works for deleted files. On a mounted vault the content is
** written back through the mount, so the kernel's caches stay true and the
** daemon records the save as "restored from REV"; offline (--vault) the
** history library puts it back into live/. A folder comes back whole
** (fs/folder_restore.c: by the daemon, or offline over the locked vault).
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
#include "fs/folder_restore.h"
#include "fs/retention.h"
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
	"not restored (its later writes would be lost): close it first.\n"
	"A folder comes back whole, as it stood: its files, subfolders and links,\n"
	"with their modes and mtimes, also when it was deleted or renamed since. What\n"
	"is in it now but was not then is left in place and named; a file whose\n"
	"content is as it was gets no new version. A file renamed since (or under a\n"
	"folder renamed since) is found where it was then. Nothing in a locked or\n"
	"held record is restored, mounted or with --vault.\n",
};

static const char *const fr_why[] = {
	[RFS_FR_KEPT] = "is there now but was not then: left in place",
	[RFS_FR_BUSY] = "is open for writing: not restored; close it (or the program that has it "
	                "open) and restore the folder again",
	[RFS_FR_LEFT] = "is now of another type than then: left in place, not restored",
};

static void fr_note(void *arg, enum rfs_fr_note what, const char *path)
{
	cli_error("%s %s", rfs_escape_line(path), fr_why[what]);
}

/* A line of the daemon's restore-folder reply: a note, or the counts. */
static int fr_line(char **fld, int n, void *arg)
{
	struct rfs_folder_restore_counts *c = arg;
	int what = n == 3 && !strcmp(fld[0], "note") ? rfs_folder_restore_note_of(fld[1]) : -1;

	if (what >= 0) {
		fr_note(NULL, (enum rfs_fr_note)what, fld[2]);
	} else if (n == 8 && !strcmp(fld[0], "done")) {
		size_t *v[] = { &c->files, &c->same, &c->folders, &c->links, &c->kept, &c->busy,
		                &c->left };

		for (int k = 0; k < 7; k++)
			*v[k] = strtoul(fld[k + 1], NULL, 10);
	}
	return 0;
}

/* The folder x->clear as it stood at hex (at source then), through the daemon or offline. */
static int restore_folder(struct hcli *x, const char *hex, const char *source)
{
	struct rfs_folder_restore_counts c = { 0 };
	char msg[PATH_MAX + 600] = "";
	int rc;

	if (x->remote) {
		const char *args[] = { "restore-folder", hex, source, x->clear };

		rc = rfs_control_call(x->vault, -1, args, 4, fr_line, &c, msg, sizeof(msg));
	} else {
		rc = rfs_folder_restore_offline(x->v, x->h, hex, source, x->clear, fr_note, NULL, &c,
		                                msg, sizeof(msg));
	}
	if (rc < 0 && msg[0]) {
		cli_error("%s", rfs_escape_line(msg));
		return CLI_FAIL;
	}
	if (rc < 0) {
		hcli_report(x, hex, rc);
		return CLI_FAIL;
	}
	printf("%s restored from %.12s: %zu files given their old content, %zu as they were, "
	       "%zu folders and %zu links made again\n", rfs_escape_line(x->clear), hex, c.files,
	       c.same, c.folders, c.links);
	if (c.kept)
		printf("%zu entries there now but not then were left in place (named above)\n", c.kept);
	if (c.busy || c.left)
		cli_error("%s: %zu entries not restored (named above)", rfs_escape_line(x->clear),
		          c.busy + c.left);
	return c.busy || c.left ? CLI_FAIL : CLI_OK;
}

/* Whether x->clear was a folder at hex; its path then in source. */
static bool was_folder(struct hcli *x, const char *hex, char source[PATH_MAX])
{
	struct rfs_version ver;

	return hcli_locate(x, hex, source) == 0 && hcli_stat_at(x, hex, source, &ver) == 0 &&
	       ver.type == RFS_OBJ_DIR;
}

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
	char hex[RFS_REV_HEX + 1], source[PATH_MAX];
	struct progress *bar;
	struct rfs_progress sink;
	char rule[512] = "";
	int rc, err = 0;

	rc = hcli_revision(x, rev, at, hex);
	if (rc == CLI_OK && was_folder(x, hex, source))
		return restore_folder(x, hex, source);
	bar = progress_start("restore", 0, 0);
	sink = progress_sink(bar);
	if (rc == CLI_OK && x->remote)
		err = restore_through_mount(x, hex, &sink);
	else if (rc == CLI_OK &&   /* what the mount refuses, offline too: a locked or held record */
	         (err = rfs_retention_check_offline(x->v, x->h, x->clear, RFS_RET_WRITE, rule,
	                                            sizeof(rule))) == 0 &&
	         (err = hcli_locate(x, hex, source)) == 0)
		err = rfs_history_restore(x->h, source, x->clear, hex, &sink);
	if (err == 0 && rc == CLI_OK && !x->remote)
		err = rfs_history_flush(x->h);
	progress_end(bar);
	if (err == -EBUSY) {
		cli_error("%s is open for writing; close it (or the program that has it open) and "
		          "restore again", x->clear);
		rc = CLI_FAIL;
	} else if (err == -EPERM && rule[0]) {
		cli_error("%s: refused, nothing restored: %s", rfs_escape_line(x->clear), rule);
		rc = CLI_FAIL;
	} else if (err == -EPERM) {
		cli_error("%s: refused: it is in a locked or held record ('recfs why' says which and "
		          "why)", rfs_escape_line(x->clear));
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
