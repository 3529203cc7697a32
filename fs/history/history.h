/*
** history: every save of live/ as a signed, encrypted commit in VAULT/history.git.
**
** Owns: history.git (objects, refs/heads/main, the recfs/ side files: signed
** head record and the keyed event index), recovery of history after a crash,
** and the read side (log, show, restore, materialise, verify, gc).
** Must never: write plaintext or a clear name to history.git (clear paths
** exist only inside the encrypted commit record and the encrypted index),
** move refs/heads/main backwards, or rewrite a commit. docs/HISTORY.md is the format.
**
** Threads: rfs_history_record/flush/restore may be called from any thread.
** The daemon calls rfs_history_record while it holds the file's lock: the
** bytes are captured before it returns, except for a big save (more than one
** chunk to read), which keeps the file open and is captured by the committer
** thread or by rfs_history_before_write, whichever comes first; the commit
** follows on the committer thread (saves of different paths may share a
** commit, two saves of one path never do). Read functions may run
** concurrently with the committer.
*/
#ifndef RECFS_FS_HISTORY_H
#define RECFS_FS_HISTORY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include "fs/progress.h"
#include "fs/vault.h"

#define RFS_HISTORY_REF "refs/heads/main"
#define RFS_REV_HEX 40                /* a revision is a commit id in hex */

struct rfs_history;                   /* opaque */

/* Who saves: the person who mounted. Copied at open. */
struct rfs_who {
	const char *login;                /* passwd login name */
	const char *full_name;            /* passwd gecos (or --author / vault config) */
	const char *host;                 /* gethostname() */
};

/* What happened (part of the format: never renumber). */
enum rfs_save_kind {
	RFS_SAVE_CREATED = 1,             /* create, mkdir, symlink */
	RFS_SAVE_SAVED = 2,               /* close after write, fsync, truncate */
	RFS_SAVE_RENAMED = 3,             /* rename (a folder moves with its subtree) */
	RFS_SAVE_DELETED = 4,             /* unlink, rmdir */
	RFS_SAVE_RESTORED = 5,            /* restore of an earlier version */
	RFS_SAVE_MODE = 6,                /* chmod, chown */
	RFS_SAVE_PROPERTY = 7,            /* xattr set or removed */
	RFS_SAVE_EXCHANGED = 8,           /* rename(RENAME_EXCHANGE): the two entries swap */
	RFS_SAVE_RECOVERED = 9,           /* written by recovery at open, never by the daemon */
};

enum rfs_obj_type {
	RFS_OBJ_FILE = 1,
	RFS_OBJ_DIR = 2,
	RFS_OBJ_SYMLINK = 3,
};

/* Plaintext blocks [first, first + count) written since the last save. */
struct rfs_range {
	uint64_t first;
	uint64_t count;
};

/* One save, as the daemon describes it. All strings are borrowed for the call.
** cipher paths are backing paths relative to live/ ("" is the root,
** "AbC.../XyZ..." below it; a long name is its ".L<hash>" backing name: the
** ".n" side file and a folder's ".dirid" are captured automatically). */
struct rfs_save {
	enum rfs_save_kind kind;
	enum rfs_obj_type type;
	const char *cipher_path;          /* the entry now (DELETED: the entry that went) */
	const char *cipher_path_old;      /* RENAMED / EXCHANGED: the other entry, else NULL */
	const char *clear_path;           /* "/cases/smith/notes.odt" style, from the mount root */
	const char *clear_path_old;       /* RENAMED / EXCHANGED, else NULL */
	uint8_t file_id[16];              /* file: header file id; folder: its dirid; symlink: zeros */
	uint8_t dir[16];                  /* vault format 3: dirid of clear_path's parent folder (zeros: the root itself) */
	uint8_t dir_old[16];              /* vault format 3: dirid of clear_path_old's parent, else zeros */
	mode_t mode;                      /* full st_mode (type bits included) */
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	uint64_t size;                    /* plaintext size (files), 0 otherwise */
	const struct rfs_range *ranges;   /* SAVED: blocks written since last save; NULL = whole file */
	size_t nranges;
	const char *property;             /* PROPERTY: the xattr name (clear), else NULL */
	const char *restored_from;        /* RESTORED: revision hex, else NULL */
	int fd;                           /* -1, or an open fd on the ciphertext file (read with pread) */
	bool fd_noatime;                  /* fd is readable and opened O_NOATIME: read it as it is */
	const struct stat *st;            /* NULL, or fd's stat after its last change: not taken again */
	const uint8_t *bytes;             /* CREATED file: NULL, or its whole ciphertext (nbytes), */
	size_t nbytes;                    /*   written by the caller just now: not read back */
	const struct rfs_who *who;        /* who saved it (its commit holds only its author's saves);
	                                     NULL: the handle's attribution */
	bool fresh_folder;                /* CREATED folder just made by mkdir: it holds nothing but
	                                     its .dirid (file_id), so its capture reads nothing */
};

enum {
	RFS_HISTORY_READONLY = 1,         /* no committer, no recovery: for log/show/verify */
	RFS_HISTORY_NO_RECOVERY = 2,      /* writable, but skip the live/ comparison at open
	                                     (history is then behind: it catches up while open) */
	RFS_HISTORY_ACCEPT_STATE = 4,     /* writable: accept a ref behind the signed head record,
	                                     on another history or missing, and a live/ changed
	                                     since a clean close (mount --accept-history-state) */
};

/* Open VAULT/history.git, creating it when missing (not with READONLY).
** Writable opens run recovery: live/ is compared with the newest commit and
** any difference is committed as one RFS_SAVE_RECOVERED commit. who may be
** NULL for READONLY. err gets a one-line reason. 0 or -errno. */
int rfs_history_open(struct rfs_vault *v, const struct rfs_who *who, unsigned flags,
                     struct rfs_history **out, char *err, size_t errsz);

/* Capture a save (a snapshot of the changed chunks: now, or for a big save
** later, see rfs_history_before_write); the commit follows on the committer thread. 0 or -errno (-EIO: the file
** could not be read; nothing was recorded). */
int rfs_history_record(struct rfs_history *h, const struct rfs_save *s);

/* Before the file with this header file id is written or truncated in place
** from block from_block on (0 for a truncate; the caller holds the file's
** lock): capture now every save of it still waiting to be read, so each
** version keeps the bytes of its save, and end its stream if the change
** reaches what the stream packed. Cheap when none waits. Not needed when
** the file is replaced by a rename. */
void rfs_history_before_write(struct rfs_history *h, const uint8_t file_id[16], uint64_t from_block);

/* After a write reached the file (its lock held, fd open on it): blocks
** [first_block, last_block] are all it holds unsaved and last_block is its
** last (first_block UINT64_MAX: its unsaved blocks are not one run to the
** end). A big file written so gets its chunks packed as they are sealed
** (stream.c), and its save does not read them again. */
void rfs_history_wrote(struct rfs_history *h, const uint8_t file_id[16], int fd,
                       uint64_t first_block, uint64_t last_block);

/* Returns once everything recorded so far is committed, packed and the ref
** moved (durable). 0 or -errno (the first committer error, if any). */
int rfs_history_flush(struct rfs_history *h);

/* While held (on: +1, off: -1), queued saves wait for the hold to end (or a flush, or 5 s)
** before they are committed, so that a burst that belongs together (a folder restore)
** shares as few commits as the batching rules allow rather than one per save. */
void rfs_history_hold(struct rfs_history *h, bool on);

/* For recfs demo only: attribute the saves recorded from now on to who, at time when (seconds since the epoch; 0 = the real clock). Flushes what is queued first, so earlier saves keep their own attribution. */
int rfs_history_set_attribution(struct rfs_history *h, const struct rfs_who *who, int64_t when);

/* Flush, stop the committer, mark a clean close, free. NULL is allowed. */
void rfs_history_close(struct rfs_history *h);

/* ---- read side (works on READONLY and writable handles) ---- */

/* One event of one version, as shown by `recfs log`. */
struct rfs_version {
	char rev[RFS_REV_HEX + 1];
	uint64_t seq;                     /* 1 for the first commit, +1 each commit */
	int64_t time;                     /* commit time, seconds since the epoch */
	int tz_offset;                    /* minutes east of UTC */
	const char *login, *full_name, *host;
	enum rfs_save_kind kind;
	enum rfs_obj_type type;
	const char *path;                 /* clear; "" when destroyed */
	const char *path_old;             /* "" unless renamed / exchanged (or destroyed) */
	const char *restored_from;        /* "" unless restored */
	const char *property;             /* "" unless property */
	uint8_t file_id[16];
	uint32_t mode, uid, gid;
	struct timespec mtime;
	uint64_t size;
	uint8_t dir[16];                  /* vault format 3: the parent folder's dirid of path */
	bool destroyed;                   /* its folder's key is gone: path, path_old, property "" */
	uint64_t disposal;                /* destroyed: the disposal that listed it (0: not listed) */
};

/* Called newest first; the strings live until the callback returns.
** Return non-zero to stop (that value is returned by the walker). */
typedef int (*rfs_version_cb)(const struct rfs_version *ver, void *arg);

/* Every event touching clear_path (following the file across renames), or
** every event when clear_path is NULL, newest first, at most limit (0 = all).
** Uses the keyed index (rebuilt from history when missing). 0 or -errno. */
int rfs_history_log(struct rfs_history *h, const char *clear_path, size_t limit,
                    rfs_version_cb cb, void *arg);

/* Resolve "HEAD", a revision hex prefix (>= 7), or an ISO 8601 local date
** ("2023-03-31", "2023-03-31T14:05", "2023-03-31 14:05:09") to the newest
** commit at or before it. 0, -ENOENT (no such commit), -EINVAL (unparsable). */
int rfs_history_resolve(struct rfs_history *h, const char *rev_or_date, char rev[RFS_REV_HEX + 1]);

/* What clear_path was at rev: type, size, file id, mode (from the latest
** event at or before rev). 0, -ENOENT (no such path at rev), -errno.
** Destroyed by a disposal (a folder on its way whose key is gone, or its own
** key gone and listed): 0 with destroyed set, disposal N (0: a key missing
** that no VAULT/disposed list names) and, for a folder, its dirid in dir. */
int rfs_history_stat(struct rfs_history *h, const char *rev, const char *clear_path,
                     struct rfs_version *out);

/* Write the plaintext of clear_path at rev to out_fd (a symlink gives its
** target). 0, -ENOENT, -EISDIR, -EKEYREVOKED (destroyed by a disposal: a
** folder on its way or its own key, listed in VAULT/disposed/<N>; see
** rfs_history_stat), -EKEYREJECTED (key shredded, no disposal lists it),
** -EIO (fails to authenticate). */
int rfs_history_read(struct rfs_history *h, const char *rev, const char *clear_path, int out_fd);

/* ---- user.* extended attributes of a version ---- */

struct rfs_xattr {
	char name[256];                   /* clear, "user.NAME" */
	uint8_t *value;                   /* clear; wiped by rfs_history_xattrs_free */
	size_t len;
};
struct rfs_xattr_set {
	bool recorded;                    /* the version keeps attributes (history written since
	                                     they are kept); false: unknown, count 0 */
	size_t count;
	struct rfs_xattr *v;              /* sorted by name (strcmp) */
};

/* The user.* attributes clear_path ("/" the root folder) had at rev, opened under the keys of
** its folder. 0, -ENOENT, -EKEYREVOKED (destroyed by a disposal), -EIO (do not authenticate:
** logged). A symlink has none. */
int rfs_history_xattrs(struct rfs_history *h, const char *rev, const char *clear_path,
                       struct rfs_xattr_set *out);
void rfs_history_xattrs_free(struct rfs_xattr_set *s);

/* Make set the user.* attributes of the file or folder fd of live/ (a folder: is_dir), sealed
** for it there: dir is the id of the folder holding the file (a folder: its own id). The
** current set is removed first. A set not recorded leaves fd as it is. 0 or -errno. */
int rfs_history_xattrs_apply(struct rfs_vault *v, int fd, bool is_dir, const uint8_t dir[16],
                             const struct rfs_xattr_set *set);

/* ---- for the archive of a service (fs/archive_build.c) ---- */

/* One entry of a folder's tree at a revision. */
struct rfs_history_entry {
	char *path;                       /* clear, relative to the folder listed: "letters/b.pdf" */
	enum rfs_obj_type type;
	uint32_t mode;                    /* S_IFREG|0644 (0755 executable), S_IFDIR|0755, S_IFLNK|0777;
	                                     the events hold the mode as saved, and the mtime */
	uint64_t size;                    /* plaintext (files) */
	uint8_t file_id[16];              /* files: the header's file id (zeros: an empty file) */
	char oid[RFS_REV_HEX + 1];        /* the entry's git object id: equal ids, equal bytes */
};
struct rfs_history_listing {
	size_t count;
	struct rfs_history_entry *entries;   /* sorted by path (strcmp): parents first */
};

/* Every entry under the folder clear_dir ("/" the root) at rev, recursively. A folder whose
** key a disposal destroyed, and a file whose own key it destroyed, are left out (their names
** and content are gone). 0, -ENOENT (no such folder at rev, or destroyed), -ENOTDIR, -errno. */
int rfs_history_list(struct rfs_history *h, const char *rev, const char *clear_dir,
                     struct rfs_history_listing *out);
void rfs_history_listing_free(struct rfs_history_listing *l);

/* The plaintext of the file clear_path at rev, given to put piece by piece (at most one
** block at a time: no whole file in memory). As rfs_history_read, and -ELOOP for a link. */
typedef int (*rfs_history_put_fn)(void *arg, const void *buf, size_t len);
int rfs_history_read_plain(struct rfs_history *h, const char *rev, const char *clear_path,
                           rfs_history_put_fn put, void *arg);

/* The plaintext size of the file clear_path at rev, from object headers (no content read):
** for the total of a progress line. 0, -errno as rfs_history_read, -EIO (no valid size). */
int rfs_history_plain_size(struct rfs_history *h, const char *rev, const char *clear_path,
                           uint64_t *size);

/* Write the ciphertext of clear_path at rev (chunks reassembled) to out_fd. */
int rfs_history_read_cipher(struct rfs_history *h, const char *rev, const char *clear_path,
                            int out_fd);

/* The folder id that the newest commit holds for the folder at cipher path
** cpath ("" for the root): what a damaged or empty .dirid is rebuilt from.
** 0, -ENOENT (no such folder in history), -EIO. */
int rfs_history_dirid_at(struct rfs_history *h, const char *cpath, uint8_t dirid[16]);

/* Offline restore (vault not mounted, writable handle): put the content of
** source at rev (the file's path then: it may have been renamed since) back into
** live/ at clear_path (recreating missing parent folders) and record a RESTORED
** version. The mount daemon instead writes the plaintext from rfs_history_read
** through its own write path and records RESTORED. progress (may be NULL) is
** told of the bytes authenticated, of the file's size. */
int rfs_history_restore(struct rfs_history *h, const char *source, const char *clear_path,
                        const char *rev, const struct rfs_progress *progress);

/* Write the whole ciphertext tree of rev into dir (must be empty or
** missing) in the layout of live/, with modes and mtimes from the index, so
** the daemon can mount it read-only. A folder whose key was destroyed, and a
** file whose key a disposal destroyed, are left out (no error). 0 or -errno. */
int rfs_history_materialise(struct rfs_history *h, const char *rev, const char *dir);

/* A folder VAULT/at-<rev>-XXXXXX for a `mount --at` view of rev, held
** (flock) by the returned fd for as long as any copy of it stays open: a
** view's folder that no process holds is a leftover of a killed one. dir
** gets its path. fd or -errno. */
int rfs_history_view_dir(struct rfs_vault *v, const char *rev, char dir[PATH_MAX]);

/* One leftover of a killed process: its path relative to the vault, and bytes. */
typedef void (*rfs_leftover_fn)(void *arg, const char *path, uint64_t bytes);

/* Leftovers of killed processes: temporary and half-published files in
** history.git/objects/pack (only looked for when the caller holds the
** vault lock: a running daemon's are in use), and `mount --at` folders that
** no view holds. fn per leftover (may be NULL); remove: delete them too.
** The number found, or -errno. */
long rfs_history_leftovers(struct rfs_vault *v, bool remove, rfs_leftover_fn fn, void *arg);

struct rfs_verify_result {
	unsigned long commits, blobs, trees;
	unsigned long problems;           /* lines written to the report */
	unsigned long destroyed;          /* keys absent whose ids a VAULT/disposed list names: not problems */
	/* What the walk read (commits aside, which libgit2 reads): each tree and blob once,
	** and their bytes; trees whose side blobs of attributes were opened, each such tree
	** read once more through libgit2 for that (a side blob beside the same owner in a
	** folder of the same id is opened once, however many trees hold it). */
	unsigned long objects_read, xattr_trees;
	uint64_t bytes_read;
};

/* Check every commit signature and sealed record, the parent chain
** (changed / removed / reordered commits), the signed head record (ref moved
** backwards), that every object reachable is readable, and that live/
** matches the newest commit. One line per problem, e.g.
**   "forged signature on commit <rev>"
**   "changed commit <rev>: <what>"
**   "removed commit: <rev> (seq N) is missing before <rev>"
**   "reordered commits: <rev> (seq N) follows <rev> (seq M)"
**   "ref moved backwards: refs/heads/main is at seq N, the vault recorded seq M (<rev>)"
**   "corrupt object <oid> in commit <rev>: <libgit2 reason>"
**   "live/ differs from the newest commit at <cipher path>"
** A key (a file's, or a folder's in vault format 3) that is absent and whose
** id VAULT/disposed/<N> lists is destroyed content, not a problem: counted in
** destroyed, one line "destroyed (disposal N): K keys ..." per disposal; an
** absent key no list names stays a problem.
** progress (may be NULL) is told of the files of live/ checked, then of the objects
** (totals from the packs' indexes).
** Returns 0 when the walk completed (problems counted in res), or -errno. */
int rfs_history_verify(struct rfs_history *h, FILE *report, struct rfs_verify_result *res,
                       const struct rfs_progress *progress);

/* Repack every object into one uncompressed pack, remove loose objects and
** old packs. Never rewrites history. progress (may be NULL) is told of the objects listed,
** then of those packed. 0 or -errno. */
int rfs_history_gc(struct rfs_history *h, const struct rfs_progress *progress);

/* Saves recorded but not yet durable in history (what a flush would wait for). */
uint64_t rfs_history_pending(struct rfs_history *h);

/* The newest commit (hex) and its seq; -ENOENT for an empty history. */
int rfs_history_head(struct rfs_history *h, char rev[RFS_REV_HEX + 1], uint64_t *seq);

/* ---- vault format 3: disposals ---- */

/* What one disposal destroys: every file id and folder id ever inside a folder. */
struct rfs_subtree {
	size_t files, folders, versions;  /* ever inside, from history and live/ */
	size_t count;                     /* ids to shred */
	uint8_t (*ids)[16];               /* file ids and dirids, the root folder's included */
	size_t kept;                      /* ids left alone: live now outside the subtree */
};

/* Every file id and folder id that was ever inside the folder dirid,
** recursively, from the index ("d" tags: an event names its parent folder)
** plus live/ (a writable handle flushes first, so every save is in the
** index). An id whose newest event puts it outside the subtree and not
** deleted (moved out before a policy applied) is kept, not listed. Each
** lookup is hashed: the time follows the folder's events, plus one pass
** over the index's tags. 0, -EPROTONOSUPPORT (vault format 2), -errno. */
int rfs_history_subtree(struct rfs_history *h, const uint8_t dirid[16], struct rfs_subtree *out);
/* The same for n folders with one pass over the index (a disposal run of
** many records pays the pass once): out[i] for dirids[i]. On error every
** out[i] is freed. */
int rfs_history_subtrees(struct rfs_history *h, const uint8_t (*dirids)[16], size_t n,
                         struct rfs_subtree *out);
void rfs_subtree_free(struct rfs_subtree *s);

/* Disposal number whose VAULT/disposed/<N> lists id, or 0. Loaded at open,
** reloaded by rfs_history_disposed_reload (after a new list is written). */
uint64_t rfs_history_disposed_by(struct rfs_history *h, const uint8_t id[16]);
int rfs_history_disposed_reload(struct rfs_history *h);
/* When disposal N was made (its list's mtime), or 0 when unknown. */
int64_t rfs_history_disposed_when(struct rfs_history *h, uint64_t n);

/* Text of a kind for log output: "created", "saved", "renamed", ... */
const char *rfs_save_kind_name(enum rfs_save_kind kind);

#endif
