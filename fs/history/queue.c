/*
** queue: the saves between the FUSE operation and the commit. Records a save
** (rfs_history_record), reads small and big saves (before_write), has the
** queue grouped into batches (batch.c), and runs the committer and packer
** threads and flush.
** Must never: let two saves of one path, or saves of two authors, share a commit, or drop a save
** without a log line saying so.
*/
#include "fs/history/internal.h"
#include "fs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crypto/io.h"

#define PACK_DELAY_MS 1000               /* newest commit reaches the ref within this */
#define LINGER_MS 10                     /* a save waits this long for others to share its commit */
#define PACE_QUEUED 512                  /* past this many queued saves, commits follow on at once */
#define HOLD_MAX_MS 5000                 /* and at most this long while history is held */
#define MAX_PACKS 12                     /* more small packs than this are merged */
#define BIG_PACK (1ull << 30)            /* packs this big are not merged (but by gc) */
/* Only packs under half a spool segment start a merge: a big file's segments
** (32 for 2 GiB) are merged only into history at least half their size. */
#define SMALL_PACK (RFS_PACK_SEGMENT / 2)
#define MAX_DEFERRED 32                  /* big saves captured by the committer, at most */
#define DEFER_BLOCKS 256                 /* saves writing more blocks are captured by the committer */
#define CATCHUP_MAX_MS 16000             /* then doubling up to this (each may read all of live/) */

/* cpath's entry in the newest commit. -ENOENT when there is none. */
static int head_entry(struct rfs_history *h, const char *cpath, git_tree_entry **e)
{
	*e = NULL;
	if (!h->head_seq || !cpath[0])
		return -ENOENT;
	git_commit *c = NULL;
	git_tree *t = NULL;
	int rc = git_commit_lookup(&c, h->repo, &h->head) < 0 || git_commit_tree(&t, c) < 0 ? -EIO : 0;
	if (rc == 0) {
		int g = git_tree_entry_bypath(e, t, cpath);
		rc = g == GIT_ENOTFOUND ? -ENOENT : g < 0 ? -EIO : 0;
	}
	git_tree_free(t);
	git_commit_free(c);
	return rc;
}

/* ---- lost versions: their file's next save is read whole (q_lock) ---- */

static bool of_content(const struct rfs_pending *p)
{
	static const uint8_t zero[16];
	return p->ev.type == RFS_OBJ_FILE && memcmp(p->ev.file_id, zero, 16) &&
	       (p->ev.kind == RFS_SAVE_CREATED || p->ev.kind == RFS_SAVE_SAVED ||
	        p->ev.kind == RFS_SAVE_RESTORED || p->ev.kind == RFS_SAVE_RECOVERED);
}

static size_t lost_find(const struct rfs_history *h, const uint8_t id[16])
{
	size_t i = 0;
	while (i < h->n_lost && memcmp(h->lost[i], id, 16))
		i++;
	return i;
}

static bool is_lost(const struct rfs_history *h, const uint8_t id[16])
{
	return h->lost_all || lost_find(h, id) < h->n_lost;
}

void rfs_queue_lost(struct rfs_history *h, const struct rfs_pending *p)
{
	if (!of_content(p))
		return;
	pthread_mutex_lock(&h->q_lock);
	if (lost_find(h, p->ev.file_id) == h->n_lost) {
		if (h->n_lost == h->lost_cap) {
			size_t cap = h->lost_cap ? 2 * h->lost_cap : 8;
			uint8_t (*more)[16] = realloc(h->lost, cap * sizeof *more);
			if (more) {
				h->lost = more;
				h->lost_cap = cap;
			}
		}
		if (h->n_lost < h->lost_cap) {
			memcpy(h->lost[h->n_lost], p->ev.file_id, 16);
			__atomic_store_n(&h->n_lost, h->n_lost + 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&h->lost_all, true, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&h->q_lock);
}

bool rfs_queue_depends_on_lost(struct rfs_history *h, const struct rfs_pending *p)
{
	if (!of_content(p) || (!__atomic_load_n(&h->n_lost, __ATOMIC_ACQUIRE) &&
	                       !__atomic_load_n(&h->lost_all, __ATOMIC_ACQUIRE)))
		return false;                    /* as always: nothing was lost */
	pthread_mutex_lock(&h->q_lock);
	size_t i = lost_find(h, p->ev.file_id);
	bool lost = h->lost_all || i < h->n_lost;
	bool depends = lost && p->cap.state == CAP_CHUNKS && p->cap.uses_prev;
	if (lost && !depends && i < h->n_lost) {       /* whole again */
		memcpy(h->lost[i], h->lost[h->n_lost - 1], 16);
		__atomic_store_n(&h->n_lost, h->n_lost - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&h->q_lock);
	return depends;
}

/* The ciphertext size of the version before a save of cpath (file id),
** recorded before seq: a save queued or being committed, else the newest
** commit; 0 when there is none. false: unknown (capture the whole file).
** Caller holds git_lock. */
static bool prev_size(struct rfs_history *h, const char *cpath, const uint8_t id[16],
                      uint64_t seq, uint64_t *csize)
{
	struct rfs_pending probe = { .cpath = (char *)cpath };
	memcpy(probe.ev.file_id, id, 16);
	const struct rfs_pending *last = NULL;
	bool known = false;
	pthread_mutex_lock(&h->q_lock);
	if (is_lost(h, id)) {
		pthread_mutex_unlock(&h->q_lock);
		return false;                    /* the daemon's ranges start after a lost version */
	}
	struct rfs_pending *lists[2] = { h->committing, h->q_head };
	for (int l = 0; l < 2; l++)
		for (const struct rfs_pending *p = lists[l]; p; p = p->next)
			if (p->seq < seq && (!last || p->seq > last->seq) && rfs_batch_saves_conflict(&probe, p))
				last = p;
	if (last) {
		bool content = last->ev.kind == RFS_SAVE_CREATED || last->ev.kind == RFS_SAVE_SAVED ||
		               last->ev.kind == RFS_SAVE_RESTORED;
		known = content && last->ev.type == RFS_OBJ_FILE && !strcmp(last->cpath, cpath) &&
		        !memcmp(last->ev.file_id, id, 16) && last->cap.csize_known &&
		        (last->cap.state == CAP_ENTRY || last->cap.state == CAP_CHUNKS);
		*csize = last->cap.csize;
	}
	pthread_mutex_unlock(&h->q_lock);
	if (last)
		return known;
	git_tree_entry *e = NULL;
	int rc = head_entry(h, cpath, &e);
	*csize = 0;
	if (rc == 0)
		rc = rfs_capture_version_size(h, e, csize);
	git_tree_entry_free(e);
	return rc == 0 || rc == -ENOENT;
}

/* The file to read a save from: the daemon's fd reopened (through /proc,
** which works for an unlinked file too) without atime updates; else its
** fd as it is; else cpath opened. The caller closes it unless it is s->fd. */
static int save_fd(struct rfs_history *h, const struct rfs_save *s)
{
	if (s->fd < 0)
		return rfs_capture_open_live(h, s->cipher_path, 0);
	if (s->fd_noatime)
		return s->fd;                    /* a read through it changes no atime already */
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
	int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOATIME);
	return fd < 0 ? s->fd : fd;
}

static int capture_save(struct rfs_history *h, const struct rfs_save *s, struct rfs_capture *cap)
{
	int rc = 0, fd = -1;
	switch (s->kind) {
	case RFS_SAVE_CREATED:
	case RFS_SAVE_SAVED:
	case RFS_SAVE_RESTORED:
	case RFS_SAVE_RECOVERED:
		if (s->type == RFS_OBJ_DIR && s->kind == RFS_SAVE_SAVED)
			return 0;                /* fsync of a folder: nothing to capture */
		if (s->type != RFS_OBJ_FILE) {
			rc = rfs_capture_entry(h, -1, s->cipher_path, cap);
			break;
		}
		if ((fd = save_fd(h, s)) < 0)
			return fd;
		if (s->kind == RFS_SAVE_SAVED && s->ranges) {
			uint64_t prev;
			if (!prev_size(h, s->cipher_path, s->file_id, UINT64_MAX, &prev))
				prev = UINT64_MAX;
			rc = rfs_capture_file_ranges(h, fd, s->ranges, s->nranges, prev, cap);
		}
		else
			rc = rfs_capture_entry(h, fd, s->cipher_path, cap);
		if (fd != s->fd)
			close(fd);
		break;
	case RFS_SAVE_RENAMED:
		break;                           /* the entry moves; only its side file is new */
	default:
		return 0;
	}
	return rc < 0 ? rc : rfs_capture_side(h, s->cipher_path, cap);
}

/* ---- the queue ---- */

void rfs_queue_pending_free(struct rfs_history *h, struct rfs_pending *p)
{
	if (!p)
		return;
	rfs_capture_blob_release(h, p);
	rfs_record_event_clear(&p->ev);
	free(p->cpath);
	free(p->cpath_old);
	free(p->cap.cidx);
	free(p->cap.coid);
	if (p->dfd >= 0)
		close(p->dfd);
	free(p->ranges);
	free(p->xa.blob);
	free(p->xa_old.blob);
	free(p->login);
	free(p->full_name);
	free(p->host);
	free(p);
}

/* Format 3, a save whose caller did not say which folder it is in: the
** dirid of cpath's parent in live/ (the root's own events keep zeros). */
static void parent_from_live(struct rfs_history *h, const char *cpath, const char *clear,
                             uint8_t dir[16])
{
	if (!cpath || !clear || !strcmp(clear, "/") || !rfs_record_id_is_zero(dir))
		return;
	char idfile[8192];
	const char *slash = strrchr(cpath, '/');
	int len = slash ? (int)(slash - cpath) : 0;
	if (snprintf(idfile, sizeof idfile, "%.*s%s%s", len, cpath, len ? "/" : "", RFS_DIRID_FILE) >=
	    (int)sizeof idfile)
		return;
	int fd = rfs_capture_open_live(h, idfile, 0);
	if (fd < 0)
		return;
	if (pread(fd, dir, 16, 0) != 16)
		memset(dir, 0, 16);
	close(fd);
}

static struct rfs_pending *pending_new(struct rfs_history *h, const struct rfs_save *s)
{
	struct rfs_pending *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->dfd = -1;
	struct rfs_event *e = &p->ev;
	e->kind = (uint8_t)s->kind;
	e->type = (uint8_t)s->type;
	memcpy(e->file_id, s->file_id, 16);
	memcpy(e->dir, s->dir, 16);
	memcpy(e->dir_old, s->dir_old, 16);
	if (rfs_record_version_of(h->v) == RFS_RECORD_VERSION_2) {
		parent_from_live(h, s->cipher_path, s->clear_path, e->dir);
		parent_from_live(h, s->cipher_path_old, s->clear_path_old, e->dir_old);
	}
	e->mode = (uint32_t)s->mode;
	e->uid = (uint32_t)s->uid;
	e->gid = (uint32_t)s->gid;
	e->mtime_sec = (int64_t)s->mtime.tv_sec;
	e->mtime_nsec = (uint32_t)s->mtime.tv_nsec;
	e->size = s->size;
	e->path = rfs_record_str(s->clear_path);
	e->path_old = rfs_record_str(s->clear_path_old);
	e->restored_from = rfs_record_str(s->restored_from);
	e->property = rfs_record_str(s->property);
	p->cpath = rfs_record_str(s->cipher_path);
	p->cpath_old = s->cipher_path_old ? strdup(s->cipher_path_old) : NULL;
	if (s->who) {
		p->login = rfs_record_str(s->who->login);
		p->full_name = rfs_record_str(s->who->full_name);
		p->host = rfs_record_str(s->who->host);
	}
	if (!e->path || !e->path_old || !e->restored_from || !e->property || !p->cpath ||
	    (s->cipher_path_old && !p->cpath_old) ||
	    (s->who && (!p->login || !p->full_name || !p->host))) {
		rfs_queue_pending_free(h, p);
		return NULL;
	}
	return p;
}

static bool valid_save(const struct rfs_save *s)
{
	if (!s || !s->cipher_path || s->cipher_path[0] == '/' || s->kind < RFS_SAVE_CREATED ||
	    s->kind > RFS_SAVE_RECOVERED || s->type < RFS_OBJ_FILE || s->type > RFS_OBJ_SYMLINK)
		return false;
	bool two = s->kind == RFS_SAVE_RENAMED || s->kind == RFS_SAVE_EXCHANGED;
	return !two || (s->cipher_path_old && s->cipher_path_old[0] != '/');
}

/* ---- attributes: read here, as live/ has them, staged by the committer ---- */

int rfs_pending_xattrs_read(struct rfs_history *h, const char *cpath, int have,
                            struct rfs_pending_xattrs *x)
{
	int fd = have >= 0 ? have : rfs_capture_open_live(h, cpath, 0);
	if (fd == -ELOOP || fd == -ENOENT)
		return 0;                        /* a link, or gone already: nothing to read */
	if (fd < 0)
		return fd;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int rc = rfs_xattrs_from_live(path, &x->blob, &x->len);
	x->known = rc == 0;
	if (fd != have)
		close(fd);
	return rc;
}

/* What changes a version's attributes: setting or removing one, a file made, restored or
** recovered, and a file moved (sealed again for its new folder). A folder's own move with
** it, and are in the tree captured for its creation. */
static int record_xattrs(struct rfs_history *h, const struct rfs_save *s, struct rfs_pending *p)
{
	bool file = s->type == RFS_OBJ_FILE;
	if (!h->keep_xattrs || !(s->kind == RFS_SAVE_PROPERTY ||
	    (file && (s->kind == RFS_SAVE_CREATED || s->kind == RFS_SAVE_RESTORED ||
	              s->kind == RFS_SAVE_RECOVERED || s->kind == RFS_SAVE_RENAMED ||
	              s->kind == RFS_SAVE_EXCHANGED))))
		return 0;
	/* A file the caller made in this request has no user.* attribute: none is
	** inherited (a default ACL gives system.* ones, which history does not keep). */
	if (s->kind == RFS_SAVE_CREATED && s->bytes) {
		p->xa.known = true;
		return 0;
	}
	bool two = s->kind == RFS_SAVE_RENAMED || s->kind == RFS_SAVE_EXCHANGED;
	int rc = rfs_pending_xattrs_read(h, s->cipher_path, two ? -1 : s->fd, &p->xa);
	if (rc == 0 && s->kind == RFS_SAVE_EXCHANGED)
		rc = rfs_pending_xattrs_read(h, s->cipher_path_old, -1, &p->xa_old);
	return rc;
}

/* ---- small saves: read here, staged by the committer ----
** A commit being written holds the repository lock for a millisecond or
** more; a create or a close that waited for it would wait in the caller's
** syscall, and a publish holds it for a pack's fsync. A save of up to 1 MiB
** (DEFER_BLOCKS: bigger saves are deferred) or a new symbolic link is read
** without the lock instead, and the committer hashes and stages its blobs
** before it builds the commit. */
#define SMALL_SAVE_MAX (1u << 20)
#define SMALL_QUEUED_MAX (64u << 20)      /* beyond this, saves wait for the lock again */

static bool capture_small(struct rfs_history *h, const struct rfs_save *s, struct rfs_pending *p)
{
	if (s->type != RFS_OBJ_FILE || s->kind == RFS_SAVE_RENAMED || rfs_capture_path_is_long(s->cipher_path))
		return false;
	/* A new file's bytes, from its creator: it wrote them before the kernel
	** knew the file, so nothing can have changed them since. */
	bool given = s->kind == RFS_SAVE_CREATED && s->bytes && s->nbytes <= SMALL_SAVE_MAX;
	int fd = given ? -1 : save_fd(h, s);
	if (!given && fd < 0)
		return false;
	struct stat own;
	const struct stat *st = s->st && s->fd >= 0 ? s->st : &own;   /* the caller's is fd's */
	bool ok = given || ((st != &own || fstat(fd, &own) == 0) && S_ISREG(st->st_mode) &&
	                    st->st_size <= SMALL_SAVE_MAX);
	size_t len = given ? s->nbytes : ok ? (size_t)st->st_size : 0;
	if (ok && __atomic_add_fetch(&h->blob_bytes, len, __ATOMIC_ACQ_REL) > SMALL_QUEUED_MAX) {
		__atomic_sub_fetch(&h->blob_bytes, len, __ATOMIC_ACQ_REL);
		ok = false;
	}
	uint8_t *buf = ok ? malloc(len ? len : 1) : NULL;
	if (ok && buf && given)
		memcpy(buf, s->bytes, len);
	else if (ok && (!buf || rfs_io_pread_all(fd, buf, len, 0) < 0)) {
		__atomic_sub_fetch(&h->blob_bytes, len, __ATOMIC_ACQ_REL);
		free(buf);
		ok = false;
	}
	if (fd >= 0 && fd != s->fd)
		close(fd);
	if (!ok)
		return false;
	p->cap.state = CAP_ENTRY;
	p->cap.csize = len;
	p->cap.csize_known = true;
	/* its blob's id, or its chunks and tree: the committer's, off the close */
	p->cap.mode = rfs_capture_chunk_count(h, len) == 1 ? GIT_FILEMODE_BLOB : GIT_FILEMODE_TREE;
	p->blob = buf;
	p->blob_len = len;
	return true;
}

/* A new symbolic link: its (sealed) target, read now; a link cannot change. */
static bool capture_small_symlink(struct rfs_history *h, const struct rfs_save *s,
                                  struct rfs_pending *p)
{
	if (s->type != RFS_OBJ_SYMLINK || s->kind != RFS_SAVE_CREATED ||
	    rfs_capture_path_is_long(s->cipher_path))
		return false;
	char target[8192];
	ssize_t n = rfs_capture_readlink_live(h, s->cipher_path, target, sizeof target);
	uint8_t *buf = n >= 0 && (size_t)n < sizeof target ? malloc(n ? (size_t)n : 1) : NULL;
	if (!buf)
		return false;                    /* captured under the lock, as before */
	memcpy(buf, target, (size_t)n);
	__atomic_add_fetch(&h->blob_bytes, (size_t)n, __ATOMIC_ACQ_REL);
	p->cap.state = CAP_ENTRY;
	p->cap.mode = GIT_FILEMODE_LINK;
	p->blob = buf;
	p->blob_len = (size_t)n;
	return true;
}

/* A folder mkdir just made holds only its .dirid, whose bytes the save carries: nothing to read,
** and no wait for the repository lock (which a commit being written holds). The committer
** stages the tree capture_dir would have made: one entry, .dirid (fs/history/capture.c). */
static bool capture_fresh_folder(struct rfs_history *h, const struct rfs_save *s,
                                 struct rfs_pending *p)
{
	if (!s->fresh_folder || s->type != RFS_OBJ_DIR || s->kind != RFS_SAVE_CREATED ||
	    rfs_capture_path_is_long(s->cipher_path))
		return false;
	uint8_t *buf = malloc(sizeof s->file_id);
	if (!buf)
		return false;
	memcpy(buf, s->file_id, sizeof s->file_id);
	__atomic_add_fetch(&h->blob_bytes, sizeof s->file_id, __ATOMIC_ACQ_REL);
	p->cap.state = CAP_ENTRY;
	p->cap.mode = GIT_FILEMODE_TREE;
	p->blob = buf;
	p->blob_len = sizeof s->file_id;
	p->fresh_folder = true;
	return true;
}

/* ---- deferred capture: big saves are read by the committer ----
** A save whose capture reads more than one chunk keeps an fd on the file
** (the same inode even if it is renamed or unlinked meanwhile) and is read
** when its batch is committed. The daemon calls rfs_history_before_write
** before it changes the file, which captures it then: each version still
** holds the bytes of its save. */

/* Whether s is a big save to defer; if so p keeps an fd and the ranges and
** counts in n_deferred. false: capture now as usual. */
static bool try_defer(struct rfs_history *h, const struct rfs_save *s, struct rfs_pending *p)
{
	if (s->kind != RFS_SAVE_SAVED || s->type != RFS_OBJ_FILE)
		return false;
	if (s->ranges) {
		uint64_t blocks = 0;
		for (size_t i = 0; i < s->nranges; i++)
			blocks += s->ranges[i].count;
		if (blocks <= DEFER_BLOCKS)
			return false;
	}
	if (__atomic_add_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL) > MAX_DEFERRED) {
		__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	int fd = save_fd(h, s);
	if (fd >= 0 && fd == s->fd)
		fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
	struct stat st;
	bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	          rfs_capture_chunk_count(h, (uint64_t)st.st_size) > 1;
	if (ok && s->ranges && s->nranges) {
		p->ranges = malloc(s->nranges * sizeof *p->ranges);
		ok = p->ranges != NULL;
		if (ok)
			memcpy(p->ranges, s->ranges, s->nranges * sizeof *p->ranges);
		p->nranges = s->nranges;
	}
	if (!ok) {
		if (fd >= 0)
			close(fd);
		free(p->ranges);
		p->ranges = NULL;
		p->nranges = 0;
		__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
		return false;
	}
	p->dfd = fd;
	p->cap.state = CAP_DEFERRED;
	return true;
}

/* Capture p (claimed by the caller, no lock held) and publish the result.
** Returns with q_lock held. */
static void capture_deferred(struct rfs_history *h, struct rfs_pending *p)
{
	struct rfs_capture c = { 0 };
	pthread_mutex_lock(&h->git_lock);
	uint64_t prev = UINT64_MAX;
	if (p->ranges && !prev_size(h, p->cpath, p->ev.file_id, p->seq, &prev))
		prev = UINT64_MAX;
	int rc = p->ranges ? rfs_capture_file_ranges(h, p->dfd, p->ranges, p->nranges, prev, &c)
	                   : rfs_capture_entry(h, p->dfd, p->cpath, &c);
	rfs_stream_drop(h, p->ev.file_id);   /* captured: a stream it did not use is stale */
	if (rc == 0 && rfs_stage_bytes(h->stage) > SPILL_BYTES)
		rc = rfs_stage_spill(h->stage);
	/* q_lock before git_lock goes: gc (which holds both) sees the objects
	** just packed on p, never in between. */
	pthread_mutex_lock(&h->q_lock);
	pthread_mutex_unlock(&h->git_lock);
	close(p->dfd);
	p->dfd = -1;
	free(p->ranges);
	p->ranges = NULL;
	if (rc == 0) {
		c.has_side = p->cap.has_side;
		c.side = p->cap.side;
		p->cap = c;
	} else {
		free(c.cidx);
		free(c.coid);
		p->cap.state = CAP_NONE;
		p->cap_err = rc;
	}
	p->claimed = false;
	__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
	pthread_cond_broadcast(&h->cap_cond);
}

static bool id_matches(const struct rfs_pending *p, const uint8_t *id)
{
	return !id || !memcmp(p->ev.file_id, id, 16);
}

/* Capture every deferred save of id (NULL: all) in list (q_lock held, may
** be released meanwhile); waits for those another thread captures.
** list_of: where the list is (re-read after each wait: the queue changes). */
static void capture_deferred_of(struct rfs_history *h, struct rfs_pending *const *list_a,
                                struct rfs_pending *const *list_b, const uint8_t *id)
{
	for (;;) {
		struct rfs_pending *mine = NULL;
		bool busy = false;
		struct rfs_pending *const *lists[2] = { list_a, list_b };
		for (int l = 0; l < 2 && !mine; l++)
			for (struct rfs_pending *p = lists[l] ? *lists[l] : NULL; p && !mine; p = p->next)
				if (p->cap.state == CAP_DEFERRED && id_matches(p, id)) {
					if (p->claimed)
						busy = true;
					else
						mine = p;
				}
		if (mine) {
			mine->claimed = true;
			pthread_mutex_unlock(&h->q_lock);
			capture_deferred(h, mine);   /* returns with q_lock held */
		} else if (busy) {
			pthread_cond_wait(&h->cap_cond, &h->q_lock);
		} else {
			return;
		}
	}
}

void rfs_history_before_write(struct rfs_history *h, const uint8_t file_id[16], uint64_t from_block)
{
	if (!h)
		return;
	if (__atomic_load_n(&h->n_deferred, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&h->q_lock);
		capture_deferred_of(h, &h->q_head, &h->inflight, file_id);  /* may use the stream */
		pthread_mutex_unlock(&h->q_lock);
	}
	rfs_stream_before_write(h, file_id, from_block);
}

void rfs_history_wrote(struct rfs_history *h, const uint8_t file_id[16], int fd,
                       uint64_t first_block, uint64_t last_block)
{
	rfs_stream_wrote(h, file_id, fd, first_block, last_block);
}

int rfs_history_record(struct rfs_history *h, const struct rfs_save *s)
{
	if (!h || !h->stage)
		return -EROFS;
	if (!valid_save(s))
		return -EINVAL;
	struct rfs_pending *p = pending_new(h, s);
	if (!p)
		return -ENOMEM;
	/* Deletes, mode and property changes capture nothing: they need not wait
	** for the committer's lock (an rm -rf would otherwise go at its pace). */
	bool captures = s->kind == RFS_SAVE_CREATED || s->kind == RFS_SAVE_SAVED ||
	                s->kind == RFS_SAVE_RESTORED || s->kind == RFS_SAVE_RECOVERED ||
	                s->kind == RFS_SAVE_RENAMED;
	int rc = 0;
	bool git_held = false;           /* kept until p is queued: gc then sees its objects */
	rc = record_xattrs(h, s, p);
	if (rc < 0) {
		/* as a capture that failed, below */
	} else if (captures && (capture_fresh_folder(h, s, p) || capture_small(h, s, p) ||
	                        capture_small_symlink(h, s, p))) {
		/* staged by the committer */
	} else if (captures && try_defer(h, s, p)) {
		if (rfs_capture_path_is_long(s->cipher_path)) {  /* a long name's side file: small, now */
			pthread_mutex_lock(&h->git_lock);
			git_held = true;
			rc = rfs_capture_side(h, s->cipher_path, &p->cap);
		}
		if (rc < 0)
			__atomic_sub_fetch(&h->n_deferred, 1, __ATOMIC_ACQ_REL);
	} else if (captures) {
		pthread_mutex_lock(&h->git_lock);
		git_held = true;
		rc = capture_save(h, s, &p->cap);
		rfs_stream_drop(h, s->file_id);  /* captured: a stream it did not use is stale */
		if (rc == 0 && rfs_stage_bytes(h->stage) > SPILL_BYTES)
			rc = rfs_stage_spill(h->stage);
	}
	if (rc < 0) {
		if (git_held)
			pthread_mutex_unlock(&h->git_lock);
		rfs_queue_lost(h, p);
		rfs_queue_pending_free(h, p);
		pthread_mutex_lock(&h->q_lock);
		h->behind = true;                /* in live/, not in history: the committer catches up */
		if (!h->error)
			h->error = rc;
		pthread_cond_signal(&h->q_cond);
		pthread_mutex_unlock(&h->q_lock);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &p->queued);
	pthread_mutex_lock(&h->q_lock);
	if (git_held)
		pthread_mutex_unlock(&h->git_lock);
	/* Only the first save of a batch wakes the committer: it then lingers
	** on a timer, and a wake-up per save would cost a context switch each. */
	bool first = !h->q_head;
	if (h->q_tail)
		h->q_tail->next = p;
	else
		h->q_head = p;
	h->q_tail = p;
	p->seq = ++h->n_recorded;
	h->q_len++;
	if (first)
		pthread_cond_signal(&h->q_cond);
	pthread_mutex_unlock(&h->q_lock);
	return 0;
}

/* ---- the committer thread ---- */

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Wait (q_lock held) while the oldest queued save is younger than LINGER_MS
** (HOLD_MAX_MS while history is held) and no one waits on a flush: a burst of
** saves then shares commits. While saves keep coming, the next batch also
** waits until LINGER_MS after the last one was taken: the saves of one file
** (tar x's create, chown, chmod, close) need one commit each, so without
** the pause every commit took one save of each file and little else. Not
** while many saves, captured bytes or deferred saves are queued: their memory
** and descriptors are bounded. */
static void linger(struct rfs_history *h)
{
	for (;;) {
		struct timespec now, until;
		long waited, wait_ms = h->held ? HOLD_MAX_MS : LINGER_MS;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = ms_between(&h->q_head->queued, &now);
		bool busy = h->q_len >= PACE_QUEUED ||
		            __atomic_load_n(&h->blob_bytes, __ATOMIC_ACQUIRE) > SMALL_QUEUED_MAX / 2 ||
		            __atomic_load_n(&h->n_deferred, __ATOMIC_ACQUIRE) >= MAX_DEFERRED / 2;
		long since_batch = ms_between(&h->last_batch, &now);
		if (!busy && since_batch < waited)
			waited = since_batch;
		if (waited >= wait_ms || h->flush_wanted || h->stop)
			return;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (wait_ms - waited) * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&h->q_cond, &h->q_lock, &until);
	}
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ms_between(t, &now);
}

static void git_relock(void *arg, int lock)
{
	struct rfs_history *h = arg;
	if (lock)
		pthread_mutex_lock(&h->git_lock);
	else
		pthread_mutex_unlock(&h->git_lock);
}

/* Every pack written adds one to objects/pack; merge them before lookups
** (one index search per pack) slow down. On the packer thread: saves and
** commits go on meanwhile; the repository lock is held only to swap packs. */
static void consolidate_packs(struct rfs_history *h)
{
	pthread_mutex_lock(&h->pack_lock);
	int rc = rfs_pack_consolidate(h->packs, MAX_PACKS, SMALL_PACK, BIG_PACK, git_relock, h);
	pthread_mutex_unlock(&h->pack_lock);
	if (rc < 0)                      /* more packs than wanted, never fewer objects */
		rfs_log(LOG_WARNING, "history: could not merge packs in %s/%s: %s", h->v->path,
		        RFS_HISTORY_DIR, strerror(-rc));
}

/* The committer's publish, with neither lock held. The stage is packed under
** git_lock, then live/ and keys/ are synced without it: a save that needs the
** lock meanwhile (a mid-sized file's capture) does not wait for the disk.
** Packing first keeps the sync after the pack's, as before (the other order
** made a flush after a 256 MiB write 2 to 6 times longer). */
static int publish_unlocked(struct rfs_history *h)
{
	pthread_mutex_lock(&h->git_lock);
	int rc = rfs_commit_spill(h);
	uint64_t head_seq = h->head_seq, tags_changes = h->tags_changes;
	pthread_mutex_unlock(&h->git_lock);
	if (rc == 0)
		rc = rfs_commit_vault_durable(h);
	pthread_mutex_lock(&h->git_lock);
	if (rc == 0)
		rc = rfs_commit_publish_synced(h, head_seq, tags_changes);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

static void publish_locked(struct rfs_history *h)
{
	uint64_t upto = h->n_committed;
	pthread_mutex_unlock(&h->q_lock);
	int rc = publish_unlocked(h);
	pthread_mutex_lock(&h->q_lock);
	if (rc < 0) {
		rfs_log(LOG_ERR, "history: could not publish commits: %s", strerror(-rc));
		h->error = rc;
	}
	h->n_durable = upto;
	h->unpacked = false;
	pthread_cond_broadcast(&h->q_done);
	if (rc == 0) {
		h->pack_wanted = true;       /* a pack more: the packer merges when there are too many */
		pthread_cond_signal(&h->pack_cond);
	}
}

/* The packer thread: merges packs while commits go on. */
void *rfs_queue_packer(void *arg)
{
	struct rfs_history *h = arg;
	pthread_setname_np(pthread_self(), "recfs-packer");   /* its CPU time apart (/proc/PID/task) */
	pthread_mutex_lock(&h->q_lock);
	while (!h->packer_stop || h->pack_wanted) {   /* the last request is served too */
		if (!h->pack_wanted) {
			pthread_cond_wait(&h->pack_cond, &h->q_lock);
			continue;
		}
		h->pack_wanted = false;
		pthread_mutex_unlock(&h->q_lock);
		consolidate_packs(h);
		pthread_mutex_lock(&h->q_lock);
	}
	pthread_mutex_unlock(&h->q_lock);
	return NULL;
}

/* History failed (a full disk) or is behind live/: move the ref to what is
** staged and, when saves were lost on the way, recover live/ into history.
** On the committer, idle, q_lock held (dropped meanwhile). */
static void catch_up_locked(struct rfs_history *h)
{
	bool behind = h->behind;
	uint64_t upto = h->n_committed;
	pthread_mutex_unlock(&h->q_lock);
	int rc = publish_unlocked(h);
	if (rc == 0 && behind)
		rc = rfs_recover(h);
	pthread_mutex_lock(&h->q_lock);
	h->catchups++;
	clock_gettime(CLOCK_MONOTONIC, &h->last_catchup);
	if (rc == 0) {
		rfs_log(LOG_NOTICE, "history: caught up with live/ in %s/%s", h->v->path, RFS_HISTORY_DIR);
		h->error = 0;
		h->behind = false;
		h->catchup_ms = CATCHUP_MS;
		if (h->n_durable < upto)
			h->n_durable = upto;
		h->unpacked = false;
	} else {
		if (h->catchup_ms == CATCHUP_MS || rc != h->error)
			rfs_log(LOG_WARNING, "history: %s/%s is still behind live/: %s; retrying", h->v->path,
			        RFS_HISTORY_DIR, strerror(-rc));
		if (!h->error)
			h->error = rc;
		if (h->catchup_ms < CATCHUP_MAX_MS)
			h->catchup_ms *= 2;
	}
	pthread_cond_broadcast(&h->q_done);
}

static bool catch_up_due(struct rfs_history *h)
{
	return (h->error || h->behind) && (h->catchup_wanted || ms_since(&h->last_catchup) >= h->catchup_ms);
}

void *rfs_queue_committer(void *arg)
{
	struct rfs_history *h = arg;
	pthread_setname_np(pthread_self(), "recfs-commit");
	pthread_mutex_lock(&h->q_lock);
	for (;;) {
		if (h->q_head) {
			struct rfs_pending *batch;
			size_t n;

			linger(h);
			n = rfs_queue_take_batch(h, &batch);
			/* gc keeps its objects, and a capture meanwhile counts it as before
			** itself, until it is committed */
			h->committing = batch;
			if (__atomic_load_n(&h->n_deferred, __ATOMIC_ACQUIRE)) {
				h->inflight = batch;     /* before_write looks here too */
				capture_deferred_of(h, &h->inflight, NULL, NULL);
				h->inflight = NULL;
			}
			pthread_mutex_unlock(&h->q_lock);
			pthread_mutex_lock(&h->git_lock);
			int dropped = 0;
			int rc = rfs_apply_batch(h, batch, n, &dropped);
			for (struct rfs_pending *q = batch; rc < 0 && q; q = q->next)
				rfs_queue_lost(h, q);    /* none of the batch is in the tree */
			bool spill = rfs_stage_bytes(h->stage) > SPILL_BYTES;
			pthread_mutex_lock(&h->q_lock);
			h->committing = NULL;
			pthread_mutex_unlock(&h->q_lock);
			pthread_mutex_unlock(&h->git_lock);
			while (batch) {
				struct rfs_pending *next = batch->next;
				rfs_queue_pending_free(h, batch);
				batch = next;
			}
			pthread_mutex_lock(&h->q_lock);
			/* Every failure is logged and reported to the next flush; none
			** stops the committer: later saves are committed as usual. */
			if (rc < 0) {
				const git_error *ge = git_error_last();

				rfs_log(LOG_ERR, "history: could not commit a batch of %zu saves: %s%s%s; "
				        "the next mount records them from live/", n, strerror(-rc),
				        ge ? ": " : "", ge ? ge->message : "");
			}
			if (rc < 0 || dropped) {
				h->error = rc < 0 ? rc : dropped;
				h->behind = true;        /* those saves are in live/ only: recover them */
			}
			/* Saves leave the queue out of order: what is committed is
			** everything recorded before the oldest save still queued. */
			h->n_committed = h->q_head ? h->q_head->seq - 1 : h->n_recorded;
			if (!h->unpacked) {
				h->unpacked = true;
				clock_gettime(CLOCK_MONOTONIC, &h->first_unpacked);
			}
			if (spill)
				publish_locked(h);
			continue;
		}
		if (h->unpacked && (h->flush_wanted || h->stop || ms_since(&h->first_unpacked) >= PACK_DELAY_MS)) {
			h->flush_wanted = false;
			publish_locked(h);
			continue;
		}
		if (catch_up_due(h)) {
			h->catchup_wanted = false;
			catch_up_locked(h);
			continue;
		}
		if (h->flush_wanted) {           /* nothing unpacked: already durable */
			h->flush_wanted = false;
			h->n_durable = h->n_committed;
			pthread_cond_broadcast(&h->q_done);
			continue;
		}
		if (h->stop)
			break;
		if (h->unpacked) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 50 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->q_cond, &h->q_lock, &until);
		} else if (h->error || h->behind) {  /* wake for the next catch-up */
			struct timespec until;
			long wait_ms = h->catchup_ms - ms_since(&h->last_catchup);
			clock_gettime(CLOCK_REALTIME, &until);
			wait_ms = wait_ms < 1 ? 1 : wait_ms;
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->q_cond, &h->q_lock, &until);
		} else {
			pthread_cond_wait(&h->q_cond, &h->q_lock);
		}
	}
	pthread_mutex_unlock(&h->q_lock);
	return NULL;
}

void rfs_history_hold(struct rfs_history *h, bool on)
{
	if (!h || !h->thread_started)
		return;
	pthread_mutex_lock(&h->q_lock);
	if (on)
		h->held++;
	else if (h->held && --h->held == 0)
		pthread_cond_signal(&h->q_cond);   /* the committer lingers no more */
	pthread_mutex_unlock(&h->q_lock);
}

int rfs_history_flush(struct rfs_history *h)
{
	if (!h || !h->thread_started)
		return 0;
	pthread_mutex_lock(&h->q_lock);
	uint64_t target = h->n_recorded;
	if (h->error || h->behind) {         /* space may have been freed: try to catch up now */
		uint64_t tries = h->catchups;
		h->catchup_wanted = true;
		pthread_cond_signal(&h->q_cond);
		while (h->catchups == tries)
			pthread_cond_wait(&h->q_done, &h->q_lock);
	}
	while (h->n_durable < target && !h->error) {
		h->flush_wanted = true;
		pthread_cond_signal(&h->q_cond);
		pthread_cond_wait(&h->q_done, &h->q_lock);
	}
	int rc = h->error ? h->error : h->behind ? -EAGAIN : 0;
	pthread_mutex_unlock(&h->q_lock);
	return rc;
}

