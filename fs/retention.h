/*
** retention: the daemon's retention state and its enforcement in the mount.
**
** Owns: the state kept in /.recfs/retention/ of live/ (policy.conf: the policy in force;
** journal: one line per action, whose fold is the state), loaded at mount and changed only
** through the functions here (each change one save, attributed to the caller); the fold of
** the journal into dated properties, closures, holds, reviews and close-service's locks; the
** records of the live tree and their facts; the check every modifying FUSE handler makes (EPERM for a locked or
** held record and for anything under /.recfs/retention/, EXDEV for a rename across a record
** boundary in a format-3 vault), one daemon log line per refusal; roles.
** Must never: let a FUSE request change /.recfs/retention/ (root's neither); cost more than
** one branch per request when no policy is loaded and there is no state folder; hold the state lock while it waits on I/O
** of a FUSE request; put the pure rules anywhere but policy/ (it calls them, never copies).
*/
#ifndef RECFS_FS_RETENTION_H
#define RECFS_FS_RETENTION_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdio.h>

#include "fs/control.h"
#include "fs/history/history.h"
#include "policy/policy.h"

#define RFS_RETENTION_DIR ".recfs/retention"
#define RFS_RETENTION_POLICY ".recfs/retention/policy.conf"
#define RFS_RETENTION_JOURNAL ".recfs/retention/journal"
#define RFS_RETENTION_XATTR "user.recfs."

struct rfs_fs;
struct rfs_retention;

/* Read /.recfs/retention/ of fs's live tree (nothing there: no policy) and make the state.
** mounter is who mounted (copied). 0 or -errno (a journal that does not parse: -EINVAL). */
int rfs_retention_open(struct rfs_fs *fs, const struct rfs_who *mounter,
                       struct rfs_retention **out);
void rfs_retention_close(struct rfs_retention *r);

/* What a FUSE handler is about to do. */
enum rfs_retention_op {
	RFS_RET_WRITE,      /* write, open for writing */
	RFS_RET_TRUNCATE,   /* open(O_TRUNC), truncate */
	RFS_RET_SETATTR,    /* chmod, chown, utimens */
	RFS_RET_XATTR,      /* setxattr, removexattr */
	RFS_RET_CREATE,     /* create, mknod, mkdir, symlink, link: a new name */
	RFS_RET_DELETE,     /* unlink, rmdir */
	RFS_RET_RENAME,     /* rename, either end */
};

/* The one-line checks at the top of the handlers: when the operation is refused they reply
** (EPERM or EXDEV) and return true; the handler then returns at once. */
bool rfs_retention_refuse_ino(fuse_req_t req, fuse_ino_t ino, enum rfs_retention_op op);
bool rfs_retention_refuse_open(fuse_req_t req, fuse_ino_t ino, int flags);
bool rfs_retention_refuse_setattr(fuse_req_t req, fuse_ino_t ino, int to_set);
bool rfs_retention_refuse_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
                                enum rfs_retention_op op);
bool rfs_retention_refuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                                 fuse_ino_t newparent, const char *newname, bool exchange);
/* setxattr/removexattr: user.recfs.* is read-only (EPERM), else as rfs_retention_refuse_ino. */
bool rfs_retention_refuse_xattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* getxattr of user.recfs.KEY on a record's folder: its dated property KEY, read-only. True
** when it replied (the name is one of ours). */
bool rfs_retention_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);

/* The same check for a change made outside a FUSE request (a folder restore, before it
** changes anything): path "/a/b" or "a/b"; self_counts: the record itself counts, not just
** what is inside it. 0, or -EPERM with the rule in rule. */
int rfs_retention_check_path(struct rfs_retention *r, const char *path, bool self_counts,
                             enum rfs_retention_op op, char *rule, size_t rulesz);

/* An in-process file system over v (history h), its retention open (policy and journal
** read from v as a mount reads them), for a tool that has the vault locked with no mount;
** undone by rfs_retention_offline_end. 0 or -errno. */
int rfs_retention_offline_begin(struct rfs_fs *fs, struct rfs_vault *v, struct rfs_history *h);
void rfs_retention_offline_end(struct rfs_fs *fs);

/* The same for a tool that has the vault v (history h) open and locked, with no mount: the
** policy and journal are read from v as a mount reads them. 0, -EPERM with the rule in
** rule, or -errno (a journal that does not read refuses, as in a mount). */
int rfs_retention_check_offline(struct rfs_vault *v, struct rfs_history *h, const char *path,
                                enum rfs_retention_op op, char *rule, size_t rulesz);

/* ---- for the control verbs (fs/retention_ctl.c) ---- */

/* The caller may act in role: with the role named in the policy, its members only (the
** mounting user and root too need to be named); with it not named, the mounting user only. */
bool rfs_retention_may(struct rfs_retention *r, const struct rfs_peer *peer, enum rfs_role role);
/* Why no retention change may be made now, in msg: -EIO when policy.conf or the journal
** failed to read at mount (a change could replace what it cannot see), -EPROTONOSUPPORT in a
** format-2 vault; else 0. */
int rfs_retention_change_refusal(struct rfs_retention *r, const char *vault_path, char *msg,
                                 size_t msgsz);

/* A plan step as the verbs name it: destroy, archive, review or held (fs/retention_ctl.c). */
const char *rfs_retention_step_name(enum rfs_plan_step s);

/* The vault's local day now, and the timestamp of now with its offset. */
struct rfs_date rfs_retention_today(void);

/* One record of the live tree with what the daemon knows of it. */
struct rfs_retention_record {
	char *path;
	size_t class_index;
	struct rfs_record_facts facts;   /* facts.path == path; its arrays are the record's */
	struct rfs_date trigger, due;
	bool locked;
	bool sealed;                      /* locked for good by close-service, on sealed_on */
	struct rfs_date sealed_on;
	int hold;                         /* index into the holds, or -1 */
	char holds[512];                  /* the names of the holds that hold it, comma-separated */
};

/* Every record and every unclassified path of the live tree (unclassified: the topmost
** path that no class covers), sorted by path. The state stays read-locked (its facts point
** into it) until rfs_retention_listing_end. 0, -ENOENT (no policy), -errno. */
struct rfs_retention_listing {
	size_t count;
	struct rfs_retention_record *records;
	size_t unclassified_count;
	char **unclassified;
	const struct rfs_policy *policy;  /* valid until rfs_retention_listing_free */
	struct rfs_hold *holds;           /* copies of the holds, valid as above */
	size_t hold_count;
	void *keep;                       /* what those point into */
};
int rfs_retention_list(struct rfs_retention *r, struct rfs_date day,
                       struct rfs_retention_listing *out);
void rfs_retention_listing_end(struct rfs_retention_listing *l);

/* live/ changed outside a FUSE request (a restore, a disposal's removal): the next listing
** walks it again. NULL is allowed. */
void rfs_retention_live_changed(struct rfs_retention *r);

/* The record that holds path ("" or "/x/y"), with facts; *sentence explains in one sentence
** whether and why it is locked or held; *one is a listing of that record alone (end it with
** rfs_retention_listing_end). 0, -ENOENT (not in a record: *sentence says so, nothing to end). */
int rfs_retention_why(struct rfs_retention *r, const char *path, char *sentence, size_t size,
                      struct rfs_retention_listing *one);

/* Holds as the daemon keeps them, for hold-list. */
struct rfs_retention_hold_info {
	const struct rfs_hold *hold;
	const char *placed_by, *placed_at, *released_by, *released_at, *reason;
	size_t count;                     /* records it holds today */
};
/* cb for each hold in the order placed; l (from rfs_retention_list, still held) gives the counts. */
int rfs_retention_holds(struct rfs_retention *r, const struct rfs_retention_listing *l,
                        int (*cb)(const struct rfs_retention_hold_info *h, void *arg), void *arg);

/* ---- changes: each appends one journal line (and writes policy.conf for a load), saved in
** history as the caller's; msg gets a reason for a refusal ---- */

/* Load text as the policy: -EINVAL with diagnostics in report; earlier(...) is called for
** each record whose due date moves (earlier or later), and with earlier dues and !confirm
** nothing is stored: -ECANCELED. */
typedef int (*rfs_retention_moved_cb)(bool earlier, const char *path, const char *class_name,
                                      struct rfs_date old_due, struct rfs_date new_due, void *arg);
int rfs_retention_load_policy(struct rfs_retention *r, const struct rfs_peer *peer,
                              const char *text, size_t len, bool confirm,
                              struct rfs_policy_report *report, rfs_retention_moved_cb cb,
                              void *arg, char *msg, size_t msgsz);
int rfs_retention_set(struct rfs_retention *r, const struct rfs_peer *peer, const char *path,
                      const char *const *keys, const struct rfs_date *dates, size_t n,
                      char *msg, size_t msgsz);
int rfs_retention_close_record(struct rfs_retention *r, const struct rfs_peer *peer,
                               const char *path, struct rfs_date on, char *msg, size_t msgsz);
/* close-service: each record of paths (a record, or a path inside one) is closed on `on` (one
** closed already keeps its date) and locked for good: changes are refused as a class with
** lock = always refuses them, whatever the class; disposal still follows the policy, and
** holds. One journal line per record, all in one save. */
int rfs_retention_lock_records(struct rfs_retention *r, const struct rfs_peer *peer,
                               const char *const *paths, size_t n, struct rfs_date on,
                               char *msg, size_t msgsz);
/* A hold on records (paths) or on a class (class_name, optional created range). */
int rfs_retention_hold_add(struct rfs_retention *r, const struct rfs_peer *peer,
                           const struct rfs_hold *hold, char *msg, size_t msgsz);
int rfs_retention_hold_release(struct rfs_retention *r, const struct rfs_peer *peer,
                               const char *name, const char *reason, char *msg, size_t msgsz);
/* Append one journal line of action with fields (the disposal: dispose, review-approve, review-extend);
** the fold applies the review lines. */
int rfs_retention_journal_append(struct rfs_retention *r, const struct rfs_peer *peer,
                                 const char *action, const char *const *fields, size_t n);
/* The state folder was made (the transfer log's first entry, with no policy in force): from now
** on FUSE requests are checked, so nothing under /.recfs/retention/ changes but through recfs. */
void rfs_retention_guard(struct rfs_retention *r);
/* Who mounted: history's author of what nobody else asked for. */
const struct rfs_who *rfs_retention_mounter(struct rfs_retention *r);
/* The author of a save made for peer, built in storage: NULL (the mount's own attribution)
** for the mounting user and in the demo, else peer's login. */
const struct rfs_who *rfs_retention_author(struct rfs_retention *r, const struct rfs_peer *peer,
                                           struct rfs_who *storage);
/* The policy text in force (NULL: none) and the journal seq of its load (its revision). */
const char *rfs_retention_policy_text(struct rfs_retention *r, uint64_t *rev);

#endif
