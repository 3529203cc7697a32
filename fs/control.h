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
** The socket is open to every local user (0666); the daemon reads each peer's credentials
** (uid, login, groups) and serves a peer who is neither the mounting user nor root only the
** read-only verbs (ping and the public verbs of the tables, such as records); everything
** else answers EACCES. The verbs of the retention tables (fs/retention_ctl.c, fs/dispose*)
** are served from tables, one line per verb.
** Must never: serve a verb that changes anything to a peer whose uid is not the mounting
** user's or root (the retention verbs check the policy's roles instead: fs/retention.h); let
** unmount wait on a client (rfs_control_stop shuts every connection down and
** waits only for work already under way).
*/
#ifndef RECFS_FS_CONTROL_H
#define RECFS_FS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "fs/history/history.h"
#include "fs/progress.h"

#define RFS_CONTROL_NAME "control"

struct rfs_fs;
struct rfs_control;

/* Who sent a request, from SO_PEERCRED. */
#define RFS_PEER_MAX_GROUPS 64
#define RFS_PEER_NAME_SIZE 64
struct rfs_peer {
	uid_t uid;
	bool owner;                       /* the mounting user or root: the old verbs */
	bool mounter;                     /* the mounting user: a role the policy does not name */
	char login[RFS_PEER_NAME_SIZE];   /* passwd name, or "uid N" */
	size_t ngroups;
	char groups[RFS_PEER_MAX_GROUPS][RFS_PEER_NAME_SIZE];   /* names of its groups */
};

/* One verb of a table: fld[0] is the verb, fld[1..n) its fields (min..max of them, max -1:
** any number); passed_fd is -1 or a descriptor the client passed (closed by the caller).
** serve writes data lines then exactly one rfs_control_reply or rfs_control_refuse. */
enum rfs_verb_access {
	RFS_VERB_OWNER,                   /* the mounting user and root only */
	RFS_VERB_PUBLIC,                  /* every local user: read-only verbs */
	RFS_VERB_ROLE,                    /* serve checks the policy's roles itself */
};
struct rfs_control_verb {
	const char *name;
	int min_fields, max_fields;
	enum rfs_verb_access access;
	void (*serve)(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
	              int passed_fd, FILE *out);
};

/* Server side, for the tables: a percent-encoded field (no tab before it); the final
** "ok[\textra]" or "err" line for rc; an "err" line for rc < 0 with a message of one's own. */
void rfs_control_put_field(FILE *f, const char *s);
/* Split line (changed in place, ends at its first '\n') into at most max decoded fields.
** The count, or -EINVAL (bad %XX, more than max). */
int rfs_control_split_fields(char *line, char **fields, int max);
void rfs_control_reply(FILE *f, int rc, const char *extra);
void rfs_control_refuse(FILE *f, int rc, const char *message);

/* Server side, for a long verb: its progress as data lines
**   p ITEMS BYTES TOTAL_ITEMS TOTAL_BYTES [UNIT]
** on out, at most one per RFS_CONTROL_TICK_MS (and at once when the unit changes, a new
** phase). The returned rfs_progress points at t, which must outlive the work. */
#define RFS_CONTROL_TICK_MS 200
struct rfs_control_ticker {
	FILE *out;
	int64_t last_ms;
	char unit[32];
};
struct rfs_progress rfs_control_ticker(struct rfs_control_ticker *t, FILE *out);

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
/* Client side: when fld is a "p" line, hand it to to (may be NULL) and return 1; else 0. */
int rfs_control_progress_line(char **fld, int n, const struct rfs_progress *to);

/* Ask the daemon to restore (see rfs_live_restore in fs/live_restore.h), verify, gc; the
** daemon's progress goes to progress (may be NULL) while it works. */
int rfs_control_restore(const char *vault_path, const char *rev, const char *source,
                       const char *target, mode_t mode, uid_t uid, gid_t gid,
                       const struct rfs_progress *progress);
int rfs_control_verify(const char *vault_path, FILE *report, struct rfs_verify_result *res,
                       const struct rfs_progress *progress);
int rfs_control_gc(const char *vault_path, const struct rfs_progress *progress);
/* The daemon's recent log lines (fs/log.h), oldest first, one per line to out. */
int rfs_control_daemon_log(const char *vault_path, FILE *out);
/* recfs demo only (the daemon refuses it otherwise): saves from now on are
** attributed to that person, at time when (0: the real clock). */
int rfs_control_attribute(const char *vault_path, const char *login, const char *full_name,
                         const char *host, int64_t when);

/* One call of any verb: args[0] is the verb, args[1..nargs) its fields. cb gets each data
** line split into decoded fields (fld[0] the line's tag); a negative return stops. msg (may
** be NULL) gets the daemon's message when it refuses. 0, or -errno (the daemon's). */
typedef int (*rfs_control_line_cb)(char **fld, int n, void *arg);
int rfs_control_call(const char *vault_path, int pass_fd, const char *const *args, size_t nargs,
                     rfs_control_line_cb cb, void *arg, char *msg, size_t msgsz);

/* The same, but cb gets each line as it arrives (a long verb's progress lines), so a slow
** cb holds the daemon's thread up: only for verbs whose client draws as it reads. */
int rfs_control_call_live(const char *vault_path, int pass_fd, const char *const *args,
                          size_t nargs, rfs_control_line_cb cb, void *arg, char *msg, size_t msgsz);

/* The verbs of fs/retention_ctl.c. */
extern const struct rfs_control_verb rfs_retention_verbs[];
/* The verb status (fs/status_ctl.c). */
extern const struct rfs_control_verb rfs_status_verbs[];
/* The verb archive (fs/archive_ctl.c). */
extern const struct rfs_control_verb rfs_archive_verbs[];
/* The verb xattrs (fs/xattrs_ctl.c), and its client: the user.* attributes of clear_path at
** rev, as rfs_history_xattrs gives them (free with rfs_history_xattrs_free). */
extern const struct rfs_control_verb rfs_xattrs_verbs[];
int rfs_control_xattrs(const char *vault_path, const char *rev, const char *clear_path,
                       struct rfs_xattr_set *set);
/* The verb keyslot-event (fs/keyslots_ctl.c, fs/keyslots.h). */
extern const struct rfs_control_verb rfs_keyslots_verbs[];

#endif
