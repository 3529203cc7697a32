/*
** history_cli: what the history subcommands (log, show, diff, restore,
** verify, gc) share: finding the vault and clear path of PATH, opening the
** history, and one-line errors.
** Must never: open a mounted vault for writing (the daemon is the one writer).
*/
#ifndef RECFS_TOOLS_HISTORY_CLI_H
#define RECFS_TOOLS_HISTORY_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include "fs/history/history.h"

struct hcli {
	struct rfs_vault *v;
	struct rfs_history *h;
	char vault[PATH_MAX];
	char clear[PATH_MAX];             /* "/a/b" from the vault root; "/" for none */
	char mountpoint[PATH_MAX];        /* when mounted */
	bool mounted;                     /* PATH was given inside a mount */
	bool remote;                      /* a daemon serves this vault: ask it, no passphrase */
	char *register_text;              /* the disposal register at HEAD, read once (NULL: not yet) */
	bool register_read;
};

/* PATH inside a mount, or (with vault set) relative to the vault's root.
** path may be NULL (whole vault). writable: lock the vault (refused when
** mounted). Prints what is wrong. CLI_OK or CLI_FAIL. */
int hcli_open(const char *vault, const char *path, const char *passfile, bool writable,
              struct hcli *x);
void hcli_close(struct hcli *x);

/* The history operations, through the daemon when x->remote, else directly. */
int hcli_log(struct hcli *x, const char *clear_path, size_t limit, rfs_version_cb cb, void *arg);
int hcli_resolve(struct hcli *x, const char *spec, char out[RFS_REV_HEX + 1]);
/* Where x->clear was at rev, following the file across renames (recfs log
** lists its versions under their paths of the time). 0 or -ENOENT. */
int hcli_locate(struct hcli *x, const char *rev, char path[PATH_MAX]);
int hcli_stat(struct hcli *x, const char *rev, struct rfs_version *out);
/* The same at a path already located (no second walk of the log).
** -EKEYREVOKED (out filled: destroyed, disposal) when a disposal destroyed it. */
int hcli_stat_at(struct hcli *x, const char *rev, const char *path, struct rfs_version *out);
int hcli_read_at(struct hcli *x, const char *rev, const char *path, int out_fd);
int hcli_read(struct hcli *x, const char *rev, int out_fd);
/* The user.* attributes x->clear had at rev (free with rfs_history_xattrs_free). */
int hcli_xattrs(struct hcli *x, const char *rev, struct rfs_xattr_set *out);
int hcli_verify(struct hcli *x, FILE *report, struct rfs_verify_result *res,
                const struct rfs_progress *progress);
int hcli_gc(struct hcli *x, const struct rfs_progress *progress);

/* The revision of --rev or --at (exactly one may be set; neither = HEAD). Prints. */
int hcli_revision(struct hcli *x, const char *rev, const char *at, char out[RFS_REV_HEX + 1]);

/* "recfs: cmd: PATH at REV: reason" with a hint for the common errnos;
** -EKEYREVOKED: "PATH: destroyed on DATE under class X (disposal N)". */
void hcli_report(struct hcli *x, const char *rev, int rc);

/* What a disposal destroyed, for people: "destroyed (disposal N, class X)"
** (with_date: "destroyed on DATE under class X (disposal N)"). The date is
** when VAULT/disposed/N was written; the class comes from the disposal
** register when it names N. n 0: a key missing that no disposal lists. */
void hcli_destroyed_text(struct hcli *x, uint64_t n, bool with_date, char *out, size_t outsz);
/* Read the disposal register now (once): before a walk whose callback may ask
** hcli_destroyed_text, since a mounted vault's daemon answers one request at a time. */
void hcli_register_load(struct hcli *x);

#define HCLI_VAULT_OPTION { "vault", required_argument, NULL, 'V' }

/* CLI_OK when clear path x->clear (not "/") has at least one version in
** history; else prints "no version of PATH in history" and returns CLI_FAIL. */
int hcli_require_history(struct hcli *x);

#endif
