/*
** retention_cli: what the retention commands (policy, records, why, due, set, close, hold)
** share: finding the daemon of a vault from a VAULT, a mount point or a path inside a mount,
** one control call with its refusal printed, and the --json/--csv choice.
** Must never: open the vault itself (the daemon is the one writer and holds the keys).
*/
#ifndef RECFS_TOOLS_RETENTION_CLI_H
#define RECFS_TOOLS_RETENTION_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "fs/control.h"
#include "tools/output.h"

struct rcli_target {
	char vault[PATH_MAX];       /* the vault whose daemon serves it */
	char path[PATH_MAX];        /* the path inside the mount, "/..." ("/" for the root); "" when
	                               arg was the vault itself */
};

/* arg is a VAULT (mounted), its mount point, or a path inside the mount. Prints what is wrong.
** CLI_OK or CLI_FAIL. */
int rcli_find(const char *arg, struct rcli_target *t);

/* One call (args[0] is the verb). Each data line goes to cb. A refusal is printed with the
** daemon's reason. CLI_OK, or CLI_FAIL (printed). */
/* rcli_call_live: the same, each line given to cb as it comes (a long verb's progress). */
int rcli_call_live(const char *vault, int pass_fd, const char *const *args, size_t nargs,
                   rfs_control_line_cb cb, void *arg);
int rcli_call(const char *vault, int pass_fd, const char *const *args, size_t nargs,
              rfs_control_line_cb cb, void *arg);

/* --json / --csv, both refused. CLI_OK or CLI_FAIL (printed). */
int rcli_format(bool json, bool csv, enum rfs_output_format *out);

/* A listing verb: find the daemon of where, call, and print each data line's row through
** tools/output (cb gets the struct rfs_output * as its arg). CLI_OK or CLI_FAIL (printed). */
int rcli_list(const char *where, bool json, bool csv, const char *const *args, size_t nargs,
              const char *const *fields, size_t nfields, rfs_control_line_cb cb);

/* A date YYYY-MM-DD, or an error printed naming what. CLI_OK or CLI_FAIL. */
int rcli_date(const char *what, const char *text);

#endif
