/*
** internal: the state shared by the history modules. Not a public contract.
** Must never: be included outside fs/history and tests/history.
*/
#ifndef RECFS_FS_HISTORY_INTERNAL_H
#define RECFS_FS_HISTORY_INTERNAL_H

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <git2.h>
#include "fs/history/history.h"
#include "fs/history/pack.h"
#include "fs/history/sha1.h"
#include "fs/history/stage.h"
#include "fs/history/commit_record.h"

#define RFS_SIDE_DIR "recfs"            /* history.git/recfs: head record, index, clean mark */
#define RFS_CHUNK_MARKER ".recfs-chunks" /* entry that makes a tree a chunked file */
#define RFS_CHUNK_MARKER_TEXT "recfs chunked file 2\n"     /* history format 2 */
#define RFS_CHUNK_MARKER_TEXT_V1 "recfs chunked file 1\n"  /* format 1: refused */
#define RFS_CHUNK_FANOUT 64             /* children of each chunk tree node */
#define RFS_CHUNK_DEPTH_MAX 12          /* 64^11 chunks exceed any file */
#define RFS_SIG_FIELD "recfs-sig"
#define RFS_SIG_NAME "recfs"
#define RFS_SIG_EMAIL "recfs@invalid"

/* Where and when a writable open was (recover.c): the kernel's boot id, the
** unique id of the mount holding live/, CLOCK_REALTIME and REALTIME - BOOTTIME. */
struct rfs_since {
	char boot[37];
	uint64_t mnt;
	int64_t real_ns, off_ns;
};

/* What record() captured for one save. */
struct rfs_capture {
	/* CAP_DEFERRED: nothing read yet; the pending keeps an fd on the file
	** and its ranges, read by the committer (or rfs_history_before_write). */
	enum { CAP_NONE, CAP_ENTRY, CAP_CHUNKS, CAP_DEFERRED } state;
	git_oid oid;                      /* CAP_ENTRY */
	git_filemode_t mode;
	uint64_t nchunks;                 /* CAP_CHUNKS: chunk count now */
	size_t ncap;                      /* CAP_CHUNKS: chunks captured */
	uint64_t *cidx;
	git_oid *coid;
	uint64_t csize;                   /* files: ciphertext size of this version */
	bool csize_known;
	bool uses_prev;                   /* CAP_CHUNKS: the rest is the previous version's */
	bool has_side;                    /* a long name's ".n" side file */
	git_oid side;
};

struct rfs_pending {
	struct rfs_pending *next;
	uint64_t seq;                     /* 1 + saves recorded before it */
	struct timespec queued;           /* CLOCK_MONOTONIC, when recorded */
	struct rfs_event ev;
	char *cpath, *cpath_old;          /* cipher paths */
	struct rfs_capture cap;
	int dfd;                          /* CAP_DEFERRED: the file to read (else -1) */
	struct rfs_range *ranges;         /* CAP_DEFERRED: blocks written; NULL = whole file */
	size_t nranges;
	bool claimed;                     /* CAP_DEFERRED: a thread is capturing it (q_lock) */
	int cap_err;                      /* the deferred capture failed: the save is dropped */
	bool dropped;                     /* left out of its batch's commit (logged) */
	uint8_t *blob;                    /* a small save read without the lock: the committer */
	size_t blob_len;                  /* stages it (cap.oid is already its id) */
	bool fresh_folder;                /* blob is a new folder's dirid: the committer stages its
	                                     tree (its one entry, .dirid) and sets cap.oid */
	char *login, *full_name, *host;   /* rfs_save.who, copied; NULL: the handle's attribution */
	struct rfs_pending_xattrs {       /* read at record time (xattrs.c), staged by the committer */
		bool known;               /* read: the side entry becomes blob (NULL: removed) */
		uint8_t *blob;
		size_t len;
	} xa, xa_old;                     /* of cpath, and of cpath_old (an exchange) */
};

struct rfs_tree_cache;
struct rfs_batch_index;

struct rfs_history {
	struct rfs_vault *v;
	unsigned flags;
	git_repository *repo;
	git_odb *odb;
	struct rfs_stage *stage;          /* NULL on READONLY handles */
	struct rfs_packs *packs;          /* objects/pack (owned by odb) */
	pthread_mutex_t git_lock;         /* every libgit2 call on repo */
	pthread_mutex_t pack_lock;        /* taken before git_lock: merging or removing packs */
	                                  /* lock order: pack_lock, git_lock, q_lock */
	char *login, *full_name, *host;   /* who commits (rfs_history_set_attribution may change it) */
	int64_t fixed_time;               /* demo attribution: commit time; 0 = the real clock */
	uint64_t chunk_bytes;             /* conf.chunk_blocks * RFS_SLOT_SIZE */
	int side_fd;                      /* history.git/recfs */
	char *packdir;                    /* history.git/objects/pack */

	git_oid head;                     /* newest commit (may be ahead of the ref) */
	uint64_t head_seq;                /* 0: no commit yet */
	git_oid ref_head;                 /* what refs/heads/main points to */
	bool have_ref;
	struct rfs_bytes index_pending;   /* index records of commits not yet behind the ref */

	pthread_t thread;
	bool thread_started;
	pthread_t packer;                 /* merges packs (pack_wanted, pack_cond under q_lock) */
	bool packer_started, pack_wanted, packer_stop;
	pthread_cond_t pack_cond;
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond, q_done;
	struct rfs_pending *q_head, *q_tail;
	size_t q_len;                     /* saves queued (q_lock) */
	struct rfs_batch_index *batch_index;   /* the committer's, for rfs_queue_take_batch */
	struct timespec last_batch;       /* CLOCK_MONOTONIC, when the committer last took a batch */
	struct rfs_pending *inflight;     /* the batch whose deferred saves the committer captures */
	struct rfs_pending *committing;   /* the batch taken, until committed (set under q_lock,
	                                  ** cleared under git_lock and q_lock): gc keeps its
	                                  ** objects; a capture counts its saves as before it */
	unsigned n_deferred;              /* pendings in CAP_DEFERRED (atomic; changed under q_lock) */
	uint8_t (*lost)[16];              /* files whose newest save never reached the tree (q_lock): */
	size_t n_lost, lost_cap;          /* their next saves are read whole (rfs_queue_lost) */
	bool lost_all;                    /* the set could not grow: every file is in it */
	size_t blob_bytes;                /* of pendings' small blobs, not yet staged (atomic) */
	pthread_cond_t cap_cond;          /* a deferred capture finished (q_lock) */
	uint64_t n_recorded, n_committed, n_durable;
	bool flush_wanted, stop;
	unsigned held;                    /* rfs_history_hold: saves wait to share commits (q_lock) */
	int error;                        /* the first failure since history last caught up */
	bool behind;                      /* live/ may hold saves history lacks: recover before clean */
	bool after_crash;                 /* opened after a real crash (a dirty head record): recovery
	                                  ** may reseal what a power cut left half done */
	uint64_t catchups;                /* catch-up attempts made (q_lock) */
	bool catchup_wanted;              /* a flush asks for one now */
	long catchup_ms;                  /* until the next one */
	struct timespec last_catchup;
	struct timespec first_unpacked;
	bool unpacked;
	bool hash_only;                   /* capture hashes blobs without storing them (verify) */
	bool keep_xattrs;                 /* captures of live/ folders hold attributes (xattrs.c): a
	                                  ** writable handle, or a newest commit that has them */
	bool xattrs_upgrade;              /* this open records live/'s attributes into older history */
	struct rfs_since open_at;         /* this writable open (recover.c); open_known: it is */
	bool open_known;
	struct rfs_index_tags *tags;      /* index.tags, once a lookup used it (index.c; git_lock) */
	uint64_t tags_changes;            /* writes to index.tags so far (git_lock): a sync covers those before it */
	bool since_ok;                    /* recovery may take every entry of live/ unchanged since */
	int64_t since_ns;                 /* since_ns (ctime) from the newest commit's tree */
	struct rfs_tree_cache *tcache;    /* raw trees written or read last (tree.c) */
	struct rfs_disposed *disposed;    /* ids each VAULT/disposed/<N> lists (disposed.c) */
	pthread_rwlock_t disposed_lock;
	pthread_mutex_t stream_lock;      /* streams (stream.c); the innermost lock: none is */
	struct rfs_stream *streams;       /* taken while it is held */
	unsigned nstreams;                /* atomic */
	bool hole_known;                  /* hole_oid: the blob of hole_len zero bytes */
	size_t hole_len;
	git_oid hole_oid;
};

/* A save's path, one file per step; each exports functions named for it:
**   queue.c    rfs_queue_*: record a save, batch the queue, committer and packer threads
**   apply.c    rfs_apply_*: a batch becomes tree updates, then one commit
**   commit.c   rfs_commit_*: commit text and signature, head record, publish (ref forward)
**   capture.c  rfs_capture_*: ciphertext from live/ into the stage
**   history.c  rfs_history_*: open, check, close, attribution
** Layers, top down; a file calls only files in layers below its own
** (README, "Code layout"): verify | history, restore | queue | apply,
** recover | capture, commit, read | index, tree | objects, stage, stream |
** commit_record, pack | bytes, sha1. */

/* objects.c: the lower layer's reads of history.git (uses no module above). */
bool rfs_objects_is_chunked(git_repository *repo, const git_tree_entry *e);
int rfs_objects_read_record(struct rfs_history *h, const git_oid *oid, struct rfs_record *r);

/* stream.c: big files' chunks packed while they are written */
struct rfs_stream;
/* After a write (the file's lock held): blocks [first_block, last_block] are
** every block written since the file's last save and last_block its last
** (first_block UINT64_MAX: written otherwise, which ends its stream). Starts
** or feeds the file's stream. */
void rfs_stream_wrote(struct rfs_history *h, const uint8_t id[16], int fd, uint64_t first_block,
                      uint64_t last_block);
/* Before blocks from from_block on change (the file's lock held): ends the
** file's stream if they reach what it holds. */
void rfs_stream_before_write(struct rfs_history *h, const uint8_t id[16], uint64_t from_block);
/* End the stream of id, if any (its save captured without it). */
void rfs_stream_drop(struct rfs_history *h, const uint8_t id[16]);
/* The stream of fd's file, if the save's chunks idx[0..n) (NULL: 0..n-1)
** begin with what it packed and follow on: *have chunk ids into oids and
** its spool, to put the rest into and close. -ENOENT: none (any stream of
** the file that does not fit is ended). */
int rfs_stream_take(struct rfs_history *h, int fd, const uint64_t *idx, size_t n, git_oid *oids,
                    struct rfs_pack_stream **spool, size_t *have);
void rfs_stream_close_all(struct rfs_history *h);

/* capture.c */
#define SPILL_BYTES (32u << 20)          /* pack the stage beyond this much */
/* Open cpath ("" = the root) in live/ read-only, without touching its atime. fd or -errno. */
int rfs_capture_open_live(struct rfs_history *h, const char *cpath, int flags);
/* lstat of cpath in live/ (any depth). 0 or -errno. */
int rfs_capture_stat_live(struct rfs_history *h, const char *cpath, struct stat *st);
ssize_t rfs_capture_readlink_live(struct rfs_history *h, const char *cpath, char *buf, size_t len);
/* Capture whatever is at cpath in live/ whole: file, folder (recursively) or symlink. */
int rfs_capture_entry(struct rfs_history *h, int fd, const char *cpath, struct rfs_capture *cap);
/* "cpath/name" ("name" at the root), malloc'd; NULL when out of memory. */
char *rfs_capture_child(const char *cpath, const char *name);
/* Into bld (the tree of the live/ folder d at cpath): its attributes' side entries, read from
** live/ (and, at the root, the marker that history keeps them). 0 or -errno. */
int rfs_capture_dir_xattrs(struct rfs_history *h, DIR *d, const char *cpath, git_treebuilder *bld);
/* Stage a blob (hashed with the pack writer's SHA-1). */
int rfs_capture_write_blob(struct rfs_history *h, const void *data, size_t len, git_oid *oid);
uint64_t rfs_capture_chunk_count(const struct rfs_history *h, uint64_t size);
/* Chunk k covers [start, start+len) of the ciphertext: chunk 0 carries the header. */
void rfs_capture_chunk_span(const struct rfs_history *h, uint64_t k, uint64_t size, uint64_t *start,
                            size_t *len);
/* Chunk k of the file (size bytes) into the stage; buf holds one chunk. */
int rfs_capture_chunk(struct rfs_history *h, int fd, uint64_t size, uint64_t k, uint8_t *buf,
                      git_oid *oid);
int rfs_capture_marker_oid(struct rfs_history *h, git_oid *oid);
/* The chunk tree of a file whose every chunk is in oids[0..n). */
int rfs_capture_chunk_tree_of(struct rfs_history *h, const git_oid *oids, uint64_t n, git_oid *out);
/* Whether a chunked tree entry is of this format (format 1 is not). */
bool rfs_capture_chunked_v2(struct rfs_history *h, const git_oid *tree);
/* Ciphertext size of a version in git (a blob or a chunk tree). */
int rfs_capture_version_size(struct rfs_history *h, const git_tree_entry *e, uint64_t *csize);
/* Only the chunks holding the written blocks (and those the size change
** moved); prev: the previous version's ciphertext size, UINT64_MAX: unknown. */
int rfs_capture_file_ranges(struct rfs_history *h, int fd, const struct rfs_range *ranges,
                            size_t nranges, uint64_t prev, struct rfs_capture *cap);
bool rfs_capture_path_is_long(const char *cpath);   /* its name needs a ".n" side file */
char *rfs_capture_side_path(const char *cpath);     /* heap */
int rfs_capture_side(struct rfs_history *h, const char *cpath, struct rfs_capture *cap);
/* A small save's blob, read by the queue without the repository lock: freed
** (and no longer counted), or into the stage with the lock for every save of
** a batch. */
void rfs_capture_blob_release(struct rfs_history *h, struct rfs_pending *p);
int rfs_capture_stage_small(struct rfs_history *h, struct rfs_pending *batch, size_t n);

/* queue.c */
#define CATCHUP_MS 1000                  /* history behind (full disk): first retry after this */
void rfs_queue_pending_free(struct rfs_history *h, struct rfs_pending *p);
/* p, a save of a file's content, will not reach the tree (dropped, or its batch failed): the
** daemon's next save of the file holds only the changes since p, so it is read whole. */
void rfs_queue_lost(struct rfs_history *h, const struct rfs_pending *p);
/* At p's commit: whether p was read as changes to a version that was lost (drop p too). A
** whole version of the file makes it whole again. */
bool rfs_queue_depends_on_lost(struct rfs_history *h, const struct rfs_pending *p);

/* batch.c. Whether two saves may not share a commit: one file id (but zeros), or one path
** equal to or inside the other (either side's path or old path). */
bool rfs_batch_saves_conflict(const struct rfs_pending *a, const struct rfs_pending *b);
/* Take the next commit's saves off h's queue into *out, in record order (q_lock held):
** each that conflicts with no save taken or left before it, one author, a root save alone.
** Their number. */
size_t rfs_queue_take_batch(struct rfs_history *h, struct rfs_pending **out);
void rfs_batch_index_free(struct rfs_batch_index *x);
void *rfs_queue_packer(void *arg);      /* thread: merges packs while commits go on */
void *rfs_queue_committer(void *arg);   /* thread: takes batches, commits, publishes */

/* apply.c */
/* Commit a batch. 0, or -errno: the whole batch failed. *dropped_err: the
** first error of a save left out alone (0: none). */
int rfs_apply_batch(struct rfs_history *h, struct rfs_pending *batch, size_t n, int *dropped_err);

/* commit.c */
/* who: the author of every event (NULL: the handle's attribution). */
int rfs_commit_create(struct rfs_history *h, const git_oid *tree, struct rfs_event *events,
                      size_t n, const struct rfs_who *who, git_oid *out);
int rfs_commit_publish(struct rfs_history *h);
/* Pack what is staged (git_lock held). */
int rfs_commit_spill(struct rfs_history *h);
/* The publish, after the caller spilled the stage and then made live/ and keys/
** durable without git_lock (rfs_commit_vault_durable) when the head was at
** head_seq and index.tags at tags_changes: a newer commit is spilled and synced
** here, a newer table is not called durable. */
int rfs_commit_publish_synced(struct rfs_history *h, uint64_t head_seq, uint64_t tags_changes);
/* Parse and check history.git/recfs/head. 0, -ENOENT, -EBADMSG (bad signature or form). */
int rfs_commit_read_head_record(struct rfs_history *h, uint64_t *seq, git_oid *oid);
#define RFS_LIVE_DIGEST 32               /* BLAKE2b of live/'s entries and their stat, at a clean close */
struct rfs_head_rec {
	unsigned version;                 /* 1 (no state: never clean) or 2 */
	uint64_t seq;                     /* 0: a new history, no commit yet */
	git_oid oid;
	bool clean;                       /* closed cleanly: every save committed and durable */
	uint8_t digest[RFS_LIVE_DIGEST];  /* clean: live/ as it was left */
};
int rfs_commit_read_head(struct rfs_history *h, struct rfs_head_rec *r);
int rfs_commit_write_head_record(struct rfs_history *h, bool clean,
                                 const uint8_t digest[RFS_LIVE_DIGEST]);
/* live/ and keys/ durable (one syncfs) before history may point at them. */
int rfs_commit_vault_durable(struct rfs_history *h);

/* history.c */
int rfs_history_open_odb(struct rfs_history *h);   /* odb, packs, stage (writable) for h->repo */
/* No ref (nor head record), yet live/ holds more than a new vault's root. */
bool rfs_history_vanished(struct rfs_history *h);

/* disposed.c */
struct rfs_disposed;
void rfs_disposed_close(struct rfs_history *h);

/* index.c */
int rfs_index_encode_commit(struct rfs_history *h, struct rfs_bytes *b, const git_oid *rev,
                            const struct rfs_record *r);
int rfs_index_append(struct rfs_history *h, const struct rfs_bytes *b);
int rfs_index_sync(struct rfs_history *h);   /* writable: catch the file up with the ref */
/* index.tags caught up with the index file (a writable handle's close: every
** writer leaves a table the next open can believe). 0 or -errno. */
int rfs_index_tags_update(struct rfs_history *h);
/* Everything written before now is durable (a syncfs, git_lock held): a table
** changed by this process is marked durable ('D') again, unsynced. */
void rfs_index_tags_synced(struct rfs_history *h);
/* Close index.tags, made durable (with the index it covers) when this process changed it. */
void rfs_index_tags_close(struct rfs_history *h);

/* tree.c */
/* Apply updates (UPSERT / REMOVE by path, like git_tree_create_updated; an
** entry may change between blob and tree) to tree base (NULL: empty) and
** write the result. A folder left empty is removed, except the root. */
int rfs_tree_update(struct rfs_history *h, const git_oid *base, const git_tree_update *updates,
                    size_t n, git_oid *out);
void rfs_tree_cache_free(struct rfs_tree_cache *c);
/* Chunk trees (format 2): depth for n chunks; the depth, chunk count and
** last chunk blob of a chunk tree. */
unsigned rfs_tree_chunk_depth(uint64_t n);
int rfs_tree_chunk_child_pos(const char *name, size_t len);   /* "00".."3f": 0..63; else -1 */
int rfs_tree_chunk_shape(struct rfs_history *h, const git_oid *top, unsigned *depth, uint64_t *n,
                         git_oid *last);
/* A chunk neither updated nor in the base: its blob id, or -errno. */
typedef int (*rfs_tree_chunk_fill_cb)(void *arg, uint64_t k, git_oid *oid);
/* Write the chunk tree of a file of n chunks: chunks idx[0..nidx) (sorted,
** unique; NULL: chunks 0..nidx-1) become oids[], the rest come from base (a chunk tree; NULL:
** none), else from fill. marker: the marker blob. Trees go to the stage. */
int rfs_tree_chunk_update(struct rfs_history *h, const git_oid *base, uint64_t n,
                          const uint64_t *idx, const git_oid *oids, size_t nidx,
                          const git_oid *marker, rfs_tree_chunk_fill_cb fill, void *arg,
                          git_oid *out);

/* recover.c */
int rfs_recover(struct rfs_history *h);
/* Differences between two trees, one call per file, folder or symlink
** (chunks and side files map to their owner). what: 'A'dded 'D'eleted 'M'odified. */
typedef int (*rfs_recover_diff_cb)(struct rfs_history *h, const char *cpath, char what, void *arg);
int rfs_recover_tree_diff(struct rfs_history *h, git_tree *a, git_tree *b, rfs_recover_diff_cb cb,
                          void *arg);
/* Capture all of live/ (writable: into the stage; hash_only: hashes only). */
int rfs_recover_capture_live(struct rfs_history *h, git_oid *tree);
/* At a writable open, before anything reads live/: note where and when it is
** (h->open_at), and whether the mark the last open left allows the recovery to
** look only at what changed since (h->since_ok); that mark is removed. */
void rfs_recover_since_begin(struct rfs_history *h);
/* Once history holds live/ (recovered or closed cleanly): leave this open's mark. */
void rfs_recover_since_end(struct rfs_history *h);

/* read.c */
/* Clear path ("/a/b") of a cipher path in tree; heap; NULL when it does not open. */
char *rfs_read_clear_of(struct rfs_history *h, git_tree *root, const char *cpath);
/* -EKEYREVOKED: a folder on the way was destroyed (its dirid into gone, when not NULL). */
int rfs_read_resolve_clear(struct rfs_history *h, git_tree *root, const char *clear_path,
                           char *cpath, size_t cpathsz, git_tree_entry **out, uint8_t gone[16]);
int rfs_read_dirid_of(struct rfs_history *h, git_tree *dir, uint8_t dirid[16]);
/* The dirid of the folder at cpath ("" the root) in tree root. 0, -ENOENT. */
int rfs_read_dirid_in_tree(struct rfs_history *h, git_tree *root, const char *cpath, uint8_t dirid[16]);
/* Format 3: the dirid of cpath's parent folder in root into dir (zeros for the root itself). */
void rfs_read_parent_dirid(struct rfs_history *h, git_tree *root, const char *cpath, uint8_t dir[16]);
/* The root tree of the commit rev names (caller holds git_lock). 0, -ENOENT, -EINVAL, -EIO. */
int rfs_read_root_at(struct rfs_history *h, const char *rev, git_tree **root);
/* The header file id of a file's version (a blob or chunk tree): its xattrs' owner. */
int rfs_read_file_id(struct rfs_history *h, const git_tree_entry *e, uint8_t id[16]);

/* xattrs.c: a version's user.* attributes, a side blob in its tree (docs/HISTORY.md) */
#define RFS_XATTRS_SIDE ".X"               /* ".X" a folder's own (in its tree), ".X<backing>" a file's */
#define RFS_XATTRS_MARKER ".recfs-xattrs"  /* in the root tree: this version keeps attributes */
#define RFS_XATTRS_MAGIC "recfs xattrs 1\n"
/* A side entry or the marker (never a name of live/). */
bool rfs_xattrs_is_side(const char *name);
/* The tree path of the side blob of cpath (a folder's: inside it; a file's: beside it). Heap. */
char *rfs_xattrs_side_path(const char *cpath, bool is_dir);
/* The cipher path a side entry belongs to ("" the root), or NULL when path is none. Heap. */
char *rfs_xattrs_owner_of_side(const char *path);
/* The user.* attributes of the object at path in live/, as stored there, as a side blob
** (sorted, deterministic); *blob NULL when it has none. 0 or -errno. */
int rfs_xattrs_from_live(const char *path, uint8_t **blob, size_t *len);
/* Those of the file or folder at cpath (open as have, or -1) into x (queue.c): x->known
** when read; a link or an entry gone holds none. 0 or -errno. */
int rfs_pending_xattrs_read(struct rfs_history *h, const char *cpath, int have,
                            struct rfs_pending_xattrs *x);
/* Open every name and value of a side blob bound to owner under xk. 0, -EIO, -ENOMEM. */
int rfs_xattrs_open(const uint8_t *blob, size_t len, const uint8_t owner[16],
                    const struct rfs_xattr_keys *xk, struct rfs_xattr_set *out);
/* materialise: the side blob's sealed attributes, as they are, onto name in dirfd ("": dirfd
** itself), when it was made (a file left out has none to take). Errors are ignored: a view
** without them still shows content. */
void rfs_xattrs_put_raw(struct rfs_history *h, const git_oid *blob, int dirfd, const char *name);
/* verify: every side blob of folder tree t (dirid) must open for its owner; bad per failure. */
typedef int (*rfs_xattrs_bad_fn)(void *arg, const git_oid *blob, const char *why);
int rfs_xattrs_check_tree(struct rfs_history *h, git_tree *t, const uint8_t dirid[16],
                          rfs_xattrs_bad_fn bad, void *arg);

#endif
