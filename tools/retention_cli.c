/*
** retention_cli: see retention_cli.h.
*/
#include "tools/retention_cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/mountinfo.h"
#include "policy/policy.h"
#include "tools/cli.h"
#include "tools/mounts.h"

int rcli_find(const char *arg, struct rcli_target *t)
{
	char abs[PATH_MAX], sock[PATH_MAX + 16];
	struct rfs_mount_entry m;
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (rfs_mountinfo_abspath(arg, abs) < 0) {
		cli_error("%s: %s", arg, strerror(errno));
		return CLI_FAIL;
	}
	if (rfs_mountinfo_find(abs, true, &m) == 0 && !strcmp(m.fstype, RFS_FSTYPE)) {
		size_t ml = strlen(m.mountpoint);

		if (rfs_source_is_snapshot(m.source)) {
			cli_error("%s is a read-only view of history: it has no retention state", arg);
			return CLI_FAIL;
		}
		snprintf(t->vault, sizeof(t->vault), "%s", m.source);
		snprintf(t->path, sizeof(t->path), "/%s", abs + ml + (abs[ml] == '/'));
		return CLI_OK;
	}
	snprintf(sock, sizeof(sock), "%s/%s", abs, RFS_CONTROL_NAME);
	if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		snprintf(t->vault, sizeof(t->vault), "%s", abs);
		return CLI_OK;
	}
	cli_error("%s is not a mounted recfs vault, nor inside the mount of one", arg);
	return CLI_FAIL;
}

static int call(const char *vault, int pass_fd, const char *const *args, size_t nargs,
                rfs_control_line_cb cb, void *arg, bool live)
{
	char msg[1024];
	int rc = live ? rfs_control_call_live(vault, pass_fd, args, nargs, cb, arg, msg, sizeof(msg))
	              : rfs_control_call(vault, pass_fd, args, nargs, cb, arg, msg, sizeof(msg));

	if (rc == 0)
		return CLI_OK;
	if (rc == -ECONNREFUSED)
		cli_error("%s is not mounted (no daemon answers)", vault);
	else if (*msg && strcmp(msg, strerror(-rc)) != 0)
		cli_error("%s", msg);
	else if (rc == -EACCES)
		cli_error("refused: you may not do that on %s (permission denied)", vault);
	else
		cli_error("%s", strerror(-rc));
	return CLI_FAIL;
}

int rcli_call(const char *vault, int pass_fd, const char *const *args, size_t nargs,
              rfs_control_line_cb cb, void *arg)
{
	return call(vault, pass_fd, args, nargs, cb, arg, false);
}

int rcli_call_live(const char *vault, int pass_fd, const char *const *args, size_t nargs,
                   rfs_control_line_cb cb, void *arg)
{
	return call(vault, pass_fd, args, nargs, cb, arg, true);
}

int rcli_format(bool json, bool csv, enum rfs_output_format *out)
{
	if (rfs_output_choose(json, csv, out) < 0) {
		cli_error("--json and --csv cannot both be given");
		return CLI_FAIL;
	}
	return CLI_OK;
}

int rcli_date(const char *what, const char *text)
{
	struct rfs_date d;

	if (rfs_date_parse(text, strlen(text), &d) == 0)
		return CLI_OK;
	cli_error("%s: '%s' is not a date YYYY-MM-DD", what, text);
	return CLI_FAIL;
}

int rcli_list(const char *where, bool json, bool csv, const char *const *args, size_t nargs,
              const char *const *fields, size_t nfields, rfs_control_line_cb cb)
{
	enum rfs_output_format fmt;
	struct rcli_target t;
	struct rfs_output o;
	int rc;

	if (rcli_format(json, csv, &fmt) != CLI_OK || rcli_find(where, &t) != CLI_OK)
		return CLI_FAIL;
	rfs_output_begin(&o, stdout, fmt, fields, nfields);
	rc = rcli_call(t.vault, -1, args, nargs, cb, &o);
	if (rfs_output_end(&o) < 0 && rc == CLI_OK) {
		cli_error("cannot write the listing");
		rc = CLI_FAIL;
	}
	return rc;
}
