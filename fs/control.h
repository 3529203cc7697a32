/*
** control: the mount daemon's control socket, VAULT/control, and its client.
**
** Owns: the wire protocol by which `recfs` commands ask a running daemon to
** flush, read history, label a restore, verify and gc, so that a mounted vault
** has one writer and needs no second passphrase. Requests are one line of
** tab-separated, percent-encoded fields; replies are data lines then
** "ok[\t...]" or "err\t<errno>\t<message>". File content never crosses the
** socket: the client passes an open descriptor (SCM_RIGHTS) to write into.
** Each client is served by its own thread (at most 8 at once), reads of a
** request and writes of a reply time out, and a client reads its whole reply
** before using it: one slow, idle or hostile client holds up no other.
** Must never: serve a peer whose uid is not the mounting user's or root; let
** unmount wait on a client (rfs_control_stop shuts every connection down and
** waits only for work already under way).
*/
#ifndef RECFS_FS_CONTROL_H
#define RECFS_FS_CONTROL_H

#include <stdio.h>
#include <sys/types.h>

#include "fs/history/history.h"

#define RFS_CONTROL_NAME "control"

struct rfs_fs;
struct rfs_control;

/* Bind VAULT/control and serve it from a thread. 0 or -errno. */
int rfs_control_start(struct rfs_fs *fs, struct rfs_control **out);
/* Stop serving and remove the socket. NULL is allowed. */
void rfs_control_stop(struct rfs_control *c);

/* ---- client: each call is one connection to the daemon of vault_path ---- */

/* 0 when a daemon answers on vault_path's control socket, else -errno
** (-ECONNREFUSED / -ENOENT: not mounted). */
int rfs_control_ping(const char *vault_path);
int rfs_control_flush(const char *vault_path);
int rfs_control_log(const char *vault_path, const char *clear_path, size_t limit,
                   rfs_version_cb cb, void *arg);
int rfs_control_resolve(const char *vault_path, const char *rev_or_date,
                       char rev[RFS_REV_HEX + 1]);
/* out's strings point into a static buffer valid until the next call. */
int rfs_control_stat(const char *vault_path, const char *rev, const char *clear_path,
                    struct rfs_version *out);
int rfs_control_read(const char *vault_path, const char *rev, const char *clear_path, int out_fd);
/* Ask the daemon to restore (see rfs_live_restore in fs/live_restore.h). */
int rfs_control_restore(const char *vault_path, const char *rev, const char *source,
                       const char *target, mode_t mode, uid_t uid, gid_t gid);
int rfs_control_verify(const char *vault_path, FILE *report, struct rfs_verify_result *res);
int rfs_control_gc(const char *vault_path);
/* The daemon's recent log lines (fs/log.h), oldest first, one per line to out. */
int rfs_control_daemon_log(const char *vault_path, FILE *out);
/* recfs demo only (the daemon refuses it otherwise): saves from now on are
** attributed to that person, at time when (0: the real clock). */
int rfs_control_attribute(const char *vault_path, const char *login, const char *full_name,
                         const char *host, int64_t when);

#endif
