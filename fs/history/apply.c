/*
** apply: a batch of saves becomes tree updates on the newest commit's tree,
** then one commit (commit.c).
** Must never: merge two saves of one path, or touch a path no save names.
*/
#include "fs/history/internal.h"
#include "fs/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/content.h"

/* ---- applying a batch to the tree ---- */

struct updates {
	git_tree_update *u;
	char **owned;                     /* paths allocated here */
	size_t n, cap, nowned;
	int err;
};

static void upd_add(struct updates *up, git_tree_update_t action, const char *path,
                    const git_oid *oid, git_filemode_t mode, bool own)
{
	if (up->err)
		return;
	if (up->n == up->cap) {
		size_t cap = up->cap ? up->cap * 2 : 64;
		git_tree_update *u = realloc(up->u, cap * sizeof *u);
		char **o = realloc(up->owned, cap * sizeof *o);
		if (u)
			up->u = u;
		if (o)
			up->owned = o;
		if (!u || !o) {
			up->err = -ENOMEM;
			return;
		}
		up->cap = cap;
	}
	git_tree_update *x = &up->u[up->n++];
	memset(x, 0, sizeof *x);
	x->action = action;
	x->path = path;
	x->filemode = mode;
	if (oid)
		x->id = *oid;
	if (own)
		up->owned[up->nowned++] = (char *)path;
}

static void upd_free(struct updates *up)
{
	for (size_t i = 0; i < up->nowned; i++)
		free(up->owned[i]);
	free(up->owned);
	free(up->u);
}

/* The newest commit's tree, parsed only when a save needs one of its
** entries: a plain save never does, and a big root costs to parse. */
struct base {
	struct rfs_history *h;
	bool have;                        /* there is a newest commit */
	git_oid oid;
	git_tree *tree;                   /* NULL until needed */
	int err;
};

static git_tree *base_tree(struct base *b)
{
	if (!b->tree && b->have && !b->err && git_tree_lookup(&b->tree, b->h->repo, &b->oid) < 0)
		b->err = -EIO;
	return b->tree;
}

static int entry_at(struct base *base, const char *path, git_tree_entry **e)
{
	*e = NULL;
	git_tree *t = path[0] ? base_tree(base) : NULL;
	if (!t)
		return -ENOENT;
	int rc = git_tree_entry_bypath(e, t, path);
	return rc == GIT_ENOTFOUND ? -ENOENT : rc < 0 ? -EIO : 0;
}

/* A one-chunk version's blob is chunk 0 of a longer file only when it was
** a full chunk: a shorter one (an empty file's bare header, say) lacks
** bytes the daemon had no reason to mark as written. */
static bool whole_chunk0(struct rfs_history *h, const git_tree_entry *prev)
{
	size_t len;
	git_object_t type;
	return git_tree_entry_type(prev) == GIT_OBJECT_BLOB &&
	       git_odb_read_header(&len, &type, h->odb, git_tree_entry_id(prev)) == 0 &&
	       len == RFS_HEADER_SIZE + h->chunk_bytes;
}

/* A chunk the capture did not read and the previous version lacks (the
** daemon's ranges missed a write): taken from live/ now, better late than
** absent, but only from the same file. Fails when the file is gone, or
** another file has its name: then the save is dropped alone. */
struct fill {
	struct rfs_history *h;
	const char *cpath;
	const uint8_t *file_id;
	int fd;
	uint64_t size;
	uint8_t *buf;
};

static int fill_from_live(void *arg, uint64_t k, git_oid *oid)
{
	struct fill *f = arg;
	if (f->fd < 0) {
		uint8_t hdr[RFS_HEADER_SIZE];
		struct rfs_header hd;
		struct stat st;
		f->fd = rfs_capture_open_live(f->h, f->cpath, 0);
		if (f->fd < 0)
			return f->fd;
		if (fstat(f->fd, &st) < 0)
			return -errno;
		if (pread(f->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
		    rfs_content_header_parse(&hd, hdr, sizeof hdr) < 0 || memcmp(hd.file_id, f->file_id, 16))
			return -ESTALE;              /* another file now has the name */
		f->size = (uint64_t)st.st_size;
		if (!(f->buf = malloc(RFS_HEADER_SIZE + f->h->chunk_bytes)))
			return -ENOMEM;
	}
	if (k >= rfs_capture_chunk_count(f->h, f->size))
		return -ESTALE;                  /* live/ is shorter than the save: not this version */
	return rfs_capture_chunk(f->h, f->fd, f->size, k, f->buf, oid);
}

/* Merge captured chunks with the previous version's chunk tree. */
static int apply_chunks(struct rfs_history *h, struct base *base, const struct rfs_pending *p,
                        git_oid *out)
{
	const struct rfs_capture *c = &p->cap;
	git_tree_entry *prev = NULL;
	const git_oid *prev_top = NULL;
	uint64_t *idx = c->cidx;
	git_oid *oids = c->coid, mk;
	size_t n = c->ncap;
	int rc = rfs_capture_marker_oid(h, &mk);
	if (rc == 0 && entry_at(base, p->cpath, &prev) == 0) {
		if (rfs_objects_is_chunked(h->repo, prev) && rfs_capture_chunked_v2(h, git_tree_entry_id(prev)))
			prev_top = git_tree_entry_id(prev);
		else if (whole_chunk0(h, prev) && (!n || idx[0] != 0)) {
			/* the one-chunk version is chunk 0 */
			idx = malloc((n + 1) * sizeof *idx);
			oids = malloc((n + 1) * sizeof *oids);
			if (!idx || !oids) {
				rc = -ENOMEM;
			} else {
				idx[0] = 0;
				oids[0] = *git_tree_entry_id(prev);
				memcpy(idx + 1, c->cidx, n * sizeof *idx);
				memcpy(oids + 1, c->coid, n * sizeof *oids);
				n++;
			}
		}
	}
	struct fill f = { h, p->cpath, p->ev.file_id, -1, 0, NULL };
	if (rc == 0)
		rc = rfs_tree_chunk_update(h, prev_top, c->nchunks, idx, oids, n, &mk, fill_from_live, &f,
		                           out);
	if (f.fd >= 0)
		close(f.fd);
	free(f.buf);
	if (idx != c->cidx)
		free(idx);
	if (oids != c->coid)
		free(oids);
	git_tree_entry_free(prev);
	return rc;
}

static void side_update(struct updates *up, struct base *base, const char *cpath,
                        const struct rfs_capture *c, bool remove)
{
	if (!cpath || !rfs_capture_path_is_long(cpath))
		return;
	char *sp = rfs_capture_side_path(cpath);
	if (!sp) {
		up->err = -ENOMEM;
		return;
	}
	git_tree_entry *e = NULL;
	bool exists = entry_at(base, sp, &e) == 0;
	git_tree_entry_free(e);
	if (!remove && c && c->has_side)
		upd_add(up, GIT_TREE_UPDATE_UPSERT, sp, &c->side, GIT_FILEMODE_BLOB, true);
	else if (remove && exists)
		upd_add(up, GIT_TREE_UPDATE_REMOVE, sp, NULL, 0, true);
	else
		free(sp);
}

/* The side entry of cpath's attributes (docs/HISTORY.md) as read when the save was recorded:
** their blob, or none (removed when the base has one). x NULL: removed. */
static void xattrs_update(struct rfs_history *h, struct updates *up, struct base *base,
                          const char *cpath, bool is_dir, const struct rfs_pending_xattrs *x)
{
	if (up->err || (x && !x->known))
		return;
	char *sp = rfs_xattrs_side_path(cpath, is_dir);
	git_tree_entry *e = NULL;
	git_oid oid;
	if (!sp) {
		up->err = -ENOMEM;
	} else if (x && x->blob) {
		up->err = rfs_capture_write_blob(h, x->blob, x->len, &oid);
		if (!up->err)
			upd_add(up, GIT_TREE_UPDATE_UPSERT, sp, &oid, GIT_FILEMODE_BLOB, true);
		else
			free(sp);
	} else if (entry_at(base, sp, &e) == 0) {
		upd_add(up, GIT_TREE_UPDATE_REMOVE, sp, NULL, 0, true);
	} else {
		free(sp);
	}
	git_tree_entry_free(e);
}

static bool is_file_entry(struct rfs_history *h, const git_tree_entry *e)
{
	return e && git_tree_entry_filemode(e) != GIT_FILEMODE_LINK &&
	       (git_tree_entry_type(e) == GIT_OBJECT_BLOB || rfs_objects_is_chunked(h->repo, e));
}

static void apply_move(struct rfs_history *h, struct updates *up, struct base *base,
                       const struct rfs_pending *p)
{
	git_tree_entry *from = NULL, *to = NULL;
	entry_at(base, p->cpath_old, &from);
	entry_at(base, p->cpath, &to);
	if (p->ev.kind == RFS_SAVE_EXCHANGED) {
		if (from && to) {
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, git_tree_entry_id(from),
			        git_tree_entry_filemode(from), false);
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath_old, git_tree_entry_id(to),
			        git_tree_entry_filemode(to), false);
			/* a folder's own attributes went with it; a file's are as read */
			bool ff = is_file_entry(h, from), tf = is_file_entry(h, to);
			if (ff || tf) {
				xattrs_update(h, up, base, p->cpath, false, ff ? &p->xa : NULL);
				xattrs_update(h, up, base, p->cpath_old, false, tf ? &p->xa_old : NULL);
			}
		}
	} else if (from) {
		upd_add(up, GIT_TREE_UPDATE_REMOVE, p->cpath_old, NULL, 0, false);
		upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, git_tree_entry_id(from),
		        git_tree_entry_filemode(from), false);
		side_update(up, base, p->cpath_old, NULL, true);
		side_update(up, base, p->cpath, &p->cap, false);
		if (is_file_entry(h, from)) {
			xattrs_update(h, up, base, p->cpath_old, false, NULL);
			xattrs_update(h, up, base, p->cpath, false, &p->xa);
		}
	} else {
		/* The source was never recorded: take the target from live/ now, and a file's
		** attributes from the same descriptor (those read at the rename may be another
		** file's by now); nothing, not even attributes, when it is gone. */
		struct rfs_capture c = { 0 };
		struct rfs_pending_xattrs now = { 0 };
		int fd = p->ev.type == RFS_OBJ_FILE ? rfs_capture_open_live(h, p->cpath, 0) : -1;
		struct stat st;
		bool file = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		if (rfs_capture_entry(h, fd, p->cpath, &c) == 0) {
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, &c.oid, c.mode, false);
			if (file && rfs_pending_xattrs_read(h, p->cpath, fd, &now) < 0)
				now.known = false;
			if (file)
				xattrs_update(h, up, base, p->cpath, false, now.known ? &now : NULL);
		}
		free(now.blob);
		if (fd >= 0)
			close(fd);
	}
	git_tree_entry_free(from);
	git_tree_entry_free(to);
}

static void apply_one(struct rfs_history *h, struct updates *up, struct base *base,
                      struct rfs_pending *p)
{
	git_tree_entry *e = NULL;
	switch (p->ev.kind) {
	case RFS_SAVE_DELETED:
		if (entry_at(base, p->cpath, &e) == 0)
			upd_add(up, GIT_TREE_UPDATE_REMOVE, p->cpath, NULL, 0, false);
		git_tree_entry_free(e);
		side_update(up, base, p->cpath, NULL, true);
		if (p->ev.type == RFS_OBJ_FILE)
			xattrs_update(h, up, base, p->cpath, false, NULL);
		return;
	case RFS_SAVE_RENAMED:
	case RFS_SAVE_EXCHANGED:
		apply_move(h, up, base, p);
		return;
	default:
		break;
	}
	if (p->cap.state == CAP_CHUNKS) {
		git_oid oid;
		int rc = apply_chunks(h, base, p, &oid);
		if (rc < 0)
			up->err = rc;
		else
			upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, &oid, GIT_FILEMODE_TREE, false);
	} else if (p->cap.state == CAP_ENTRY) {
		if (!p->cpath[0]) {
			up->err = -EINVAL;           /* the root is replaced by the caller, not upserted */
			return;
		}
		upd_add(up, GIT_TREE_UPDATE_UPSERT, p->cpath, &p->cap.oid, p->cap.mode, false);
	}
	side_update(up, base, p->cpath, &p->cap, false);
	xattrs_update(h, up, base, p->cpath, p->ev.type == RFS_OBJ_DIR, &p->xa);
}

static int head_tree(struct rfs_history *h, struct base *out)
{
	*out = (struct base){ .h = h, .have = h->head_seq != 0 };
	if (!out->have)
		return 0;
	git_commit *c = NULL;
	if (git_commit_lookup(&c, h->repo, &h->head) < 0)
		return -EIO;
	out->oid = *git_commit_tree_id(c);
	git_commit_free(c);
	return 0;
}

/* A save that cannot be committed goes alone, with a line saying so; the
** rest of its batch is committed, and the next mount's recovery records
** the file as live/ then has it. */
static void drop_save(struct rfs_history *h, struct rfs_pending *p, int rc, int *first_err)
{
	rfs_log(LOG_ERR, "history: could not record a version of %s (%s); the others saved with it "
	        "are recorded, and the next mount records this file as it is then",
	        p->ev.path[0] ? p->ev.path : "/", strerror(-rc));
	p->dropped = true;
	rfs_queue_lost(h, p);
	if (!*first_err)
		*first_err = rc;
}

/* Commit a batch. 0, or -errno: the whole batch failed. *dropped_err: the
** first error of a save left out alone (0: none). */
int rfs_apply_batch(struct rfs_history *h, struct rfs_pending *batch, size_t n, int *dropped_err)
{
	struct base base;
	int rc = head_tree(h, &base);
	struct updates up = { 0 };
	git_oid tree_oid;
	bool root_set = false;
	struct rfs_pending *p = batch;
	*dropped_err = 0;
	int staged = rfs_capture_stage_small(h, batch, n);
	rc = rc ? rc : staged;
	p = batch;
	for (size_t i = 0; i < n && rc == 0; i++, p = p->next) {
		int sealed = rfs_record_version_of(h->v) == RFS_RECORD_VERSION_2
		             ? rfs_record_paths_seal(h->v, &p->ev) : 0;
		if (p->cap_err) {                /* a deferred capture failed */
			drop_save(h, p, p->cap_err, dropped_err);
		} else if (sealed < 0) {         /* its folder's key is gone or unreadable */
			drop_save(h, p, sealed, dropped_err);
		} else if (!p->cpath[0] && p->cap.state == CAP_ENTRY && p->cap.mode == GIT_FILEMODE_TREE) {
			tree_oid = p->cap.oid;       /* a whole-root capture (recovery): nothing else in batch */
			root_set = true;
		} else if (rfs_queue_depends_on_lost(h, p)) {
			drop_save(h, p, -ESTALE, dropped_err);   /* its previous version is not there */
		} else {
			size_t mark = up.n;
			apply_one(h, &up, &base, p);
			if (up.err && up.err != -ENOMEM && !base.err) {
				up.n = mark;             /* this save's updates go, the batch stays */
				drop_save(h, p, up.err, dropped_err);
				up.err = 0;
			}
		}
	}
	rc = rc ? rc : up.err ? up.err : base.err;
	size_t kept = 0;
	p = batch;
	for (size_t i = 0; i < n; i++, p = p->next)
		kept += !p->dropped;
	if (rc == 0 && !root_set && kept) {
		if (base.have && !up.n)
			tree_oid = base.oid;
		else
			rc = rfs_tree_update(h, base.have ? &base.oid : NULL, up.u, up.n, &tree_oid);
	}
	upd_free(&up);
	git_tree_free(base.tree);
	if (rc < 0 || !kept)
		return rc;
	struct rfs_event *ev = calloc(kept, sizeof *ev);
	if (!ev)
		return -ENOMEM;
	p = batch;
	size_t j = 0;
	for (size_t i = 0; i < n; i++, p = p->next)
		if (!p->dropped)
			ev[j++] = p->ev;             /* borrowed: the pendings own the strings */
	git_oid commit;
	struct rfs_who who = { batch->login, batch->full_name, batch->host };  /* one per batch */
	rc = rfs_commit_create(h, &tree_oid, ev, kept, batch->login ? &who : NULL, &commit);
	free(ev);
	return rc;
}

