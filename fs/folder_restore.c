/*
** folder_restore: see folder_restore.h. The folder's tree at the revision and at the newest
** commit (both sorted by path, parents first) are walked side by side; each entry is then
** checked by retention, and only when none is refused is anything changed: folders made,
** files given back through rfs_live_restore_as (so whatever per-file restore brings back,
** a folder restore brings back too), links made, and last the folders' own modes and mtimes,
** deepest first (an entry made inside a folder changes its mtime).
*/
#include "fs/folder_restore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/names.h"
#include "crypto/secmem.h"
#include "fs/cfile.h"
#include "fs/history/history.h"
#include "fs/live_restore.h"
#include "fs/ops_internal.h"
#include "fs/retention.h"
#include "fs/save.h"

/* One entry of the folder at the revision, with what stands at its place now. */
struct item {
	const struct rfs_history_entry *then;
	const struct rfs_history_entry *now;   /* the same path at the newest commit, or NULL */
	mode_t mode;                           /* as history kept them (its newest event at rev) */
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
};

struct job {
	struct rfs_fs *fs;
	struct rfs_history *h;
	const char *rev, *source, *target;
	char head[RFS_REV_HEX + 1];
	struct rfs_history_listing then, now;
	struct item *items, self;              /* self: the folder itself (then NULL) */
	bool self_exists;                      /* the folder is there now */
	rfs_folder_restore_note_fn note;
	void *arg;
	struct rfs_folder_restore_counts *n;
	char *msg;
	size_t msgsz;
};

static void join(char out[PATH_MAX], const char *dir, const char *rel)
{
	size_t len = strlen(dir);

	while (len > 0 && dir[len - 1] == '/')
		len--;
	snprintf(out, PATH_MAX, "%.*s%s%s", (int)len, dir, *rel ? "/" : "", rel);
	if (!out[0])
		snprintf(out, PATH_MAX, "/");
}

static void say(struct job *j, enum rfs_fr_note what, const char *rel)
{
	char path[PATH_MAX];

	join(path, j->target, rel);
	if (j->note)
		j->note(j->arg, what, path);
}

static int fail(struct job *j, const char *rel, int rc)
{
	char path[PATH_MAX];

	join(path, j->target, rel);
	if (j->msg && j->msgsz && !j->msg[0])
		snprintf(j->msg, j->msgsz, "%s: %s", path, strerror(-rc));
	return rc;
}

/* The mode, owner and mtime of rel at the revision. */
static int kept_attrs(struct job *j, const char *rel, struct item *it)
{
	struct rfs_version ver;
	char path[PATH_MAX];
	int rc;

	join(path, j->source, rel);
	rc = rfs_history_stat(j->h, j->rev, path, &ver);
	if (rc == 0 && ver.destroyed)
		rc = -EKEYREVOKED;
	if (rc < 0)
		return rc;
	it->mode = ver.mode;
	it->uid = ver.uid;
	it->gid = ver.gid;
	it->mtime = ver.mtime;
	return 0;
}

/* Pair the two listings; name what exists now but not then (the topmost of it only). */
static int plan(struct job *j)
{
	const char *kept_dir = NULL;
	size_t a = 0, b = 0, kept_len = 0;
	int rc = 0;

	j->items = calloc(j->then.count ? j->then.count : 1, sizeof(*j->items));
	if (!j->items)
		return -ENOMEM;
	while (rc == 0 && (a < j->then.count || b < j->now.count)) {
		const struct rfs_history_entry *t = a < j->then.count ? &j->then.entries[a] : NULL;
		const struct rfs_history_entry *w = b < j->now.count ? &j->now.entries[b] : NULL;
		int cmp = !t ? 1 : !w ? -1 : strcmp(t->path, w->path);

		if (cmp > 0) {                    /* only now: left in place */
			bool inside = kept_dir && !strncmp(w->path, kept_dir, kept_len) &&
			              w->path[kept_len] == '/';

			if (!inside) {
				say(j, RFS_FR_KEPT, w->path);
				j->n->kept++;
				kept_dir = w->path;
				kept_len = strlen(w->path);
			}
			b++;
			continue;
		}
		j->items[a].then = t;
		j->items[a].now = cmp == 0 ? w : NULL;
		rc = kept_attrs(j, t->path, &j->items[a]);
		if (rc < 0)
			return fail(j, t->path, rc);
		a++;
		b += cmp == 0;
	}
	return kept_attrs(j, "", &j->self);
}

/* What retention says of every change the restore would make, before it makes one. */
static int check(struct job *j)
{
	char rule[512], path[PATH_MAX];

	for (size_t i = 0; i <= j->then.count; i++) {
		const struct item *it = i < j->then.count ? &j->items[i] : &j->self;
		const char *rel = it->then ? it->then->path : "";
		bool exists = it->then ? it->now != NULL : j->self_exists;
		enum rfs_retention_op op = !exists ? RFS_RET_CREATE
		                           : it->then && it->then->type == RFS_OBJ_FILE ? RFS_RET_WRITE
		                                                                        : RFS_RET_SETATTR;
		int rc;

		join(path, j->target, rel);
		rc = rfs_retention_check_path(j->fs->retention, path, exists, op, rule, sizeof(rule));
		if (rc < 0) {
			if (j->msg && j->msgsz)
				snprintf(j->msg, j->msgsz, "%s: refused, nothing restored: %s", path, rule);
			return rc;
		}
	}
	return 0;
}

static bool same_xattrs(const struct rfs_xattr_set *a, const struct rfs_xattr_set *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->v[i].name, b->v[i].name) || a->v[i].len != b->v[i].len ||
		    (a->v[i].len && memcmp(a->v[i].value, b->v[i].value, a->v[i].len)))
			return false;
	return true;
}

/* Give fd (dir the id that seals its attributes: its folder's, or a folder's own) the user.*
** attributes of it at the revision when they differ from the newest commit's. 1 when it
** changed them (apply_attrs then records the save), 0 when they were as they were, -errno. */
static int apply_xattrs(struct job *j, int fd, bool is_dir, const uint8_t dir[16],
                        const struct item *it)
{
	struct rfs_xattr_set then = { 0 }, now = { 0 };
	char src[PATH_MAX], dst[PATH_MAX];
	const char *rel = it->then ? it->then->path : "";
	int rc;

	join(src, j->source, rel);
	join(dst, j->target, rel);
	rc = rfs_history_xattrs(j->h, j->rev, src, &then);
	if (rc == 0 && then.recorded && rfs_history_xattrs(j->h, j->head, dst, &now) == 0 &&
	    now.recorded && same_xattrs(&then, &now))
		then.recorded = false;           /* as they were: nothing to do */
	if (rc == 0 && then.recorded && (rc = rfs_history_xattrs_apply(j->fs->v, fd, is_dir, dir, &then)) == 0)
		rc = 1;
	rfs_history_xattrs_free(&then);
	rfs_history_xattrs_free(&now);
	return rc == -ENOENT ? 0 : rc;
}

/* Give in (fd open on it) the mode and mtime of it when they differ, and record one version
** of it when they did or its attributes were changed (xattrs, from apply_xattrs): a property
** save then, which keeps the attributes, the mode and the mtime at once. */
static int apply_attrs(struct rfs_fs *fs, struct rfs_inode *in, int fd, const struct item *it,
                       int xattrs)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, it->mtime };
	struct stat st;
	char p[64];

	if (xattrs < 0)
		return xattrs;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH) != 0)
		return -errno;
	bool same = (st.st_mode & 07777) == (it->mode & 07777) &&
	            st.st_mtim.tv_sec == it->mtime.tv_sec && st.st_mtim.tv_nsec == it->mtime.tv_nsec;
	if (same && !xattrs)
		return 0;
	proc_path(p, fd);
	if (!same && (chmod(p, it->mode & 07777) != 0 || utimensat(AT_FDCWD, p, tv, 0) != 0))
		return -errno;
	if (xattrs)
		rfs_save_inode(fs, in, RFS_SAVE_PROPERTY, "user.*");   /* the whole set */
	else
		rfs_save_inode(fs, in, RFS_SAVE_MODE, NULL);
	(void)fuse_lowlevel_notify_inval_inode(fs->se, rfs_ino_of(&fs->it, in), -1, 0);
	return 0;
}

/* The folder at rel (made when missing, as restore makes folders), held in *d: d->dir is the
** folder itself. */
static int enter_folder(struct job *j, const char *rel, const struct item *it,
                        struct rfs_live_dir *d)
{
	char path[PATH_MAX], inside[PATH_MAX + 2];

	join(path, j->target, rel);
	snprintf(inside, sizeof(inside), "%s/.", strcmp(path, "/") ? path : "");
	return rfs_live_walk(j->fs, inside, true, it->uid, it->gid, d);
}

/* A file whose content is as it was gets only its attributes, mode and mtime back. */
static int fix_file_attrs(struct job *j, const struct item *it)
{
	struct rfs_live_dir d = { 0 };
	struct rfs_sealed_name sn;
	struct rfs_inode *in = NULL;
	struct stat st;
	char path[PATH_MAX];
	int rc, fd;

	join(path, j->target, it->then->path);
	rc = rfs_live_walk(j->fs, path, false, 0, 0, &d);
	if (rc == 0)
		rc = rfs_ops_seal_name(j->fs, d.dir, d.last, &sn);
	if (rc == 0 && fstatat(d.dirfd, sn.backing, &st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_inode_lookup(&j->fs->it, d.dir, d.last, sn.backing, &st, &in);
	if (rc == 0 && (fd = inode_fd(j->fs, in)) >= 0) {
		uint8_t dir[RFS_DIRID_SIZE];

		rc = rfs_ops_dirid(j->fs, d.dir, dir);
		if (rc == 0)
			rc = apply_attrs(j->fs, in, fd, it, apply_xattrs(j, fd, false, dir, it));
		inode_fd_done(j->fs, in);
	} else if (rc == 0) {
		rc = fd;
	}
	if (in)
		rfs_inode_forget(&j->fs->it, in, 1);
	rfs_live_walk_done(j->fs, &d);
	return rc;
}

/* Comparing the content of the file now with the one at the revision, a block at a time. */
struct compare {
	struct rfs_cfile cf;
	uint64_t off;
	bool differs;
};

static int compare_put(void *arg, const void *buf, size_t len)
{
	struct compare *c = arg;

	while (len > 0 && !c->differs) {
		const uint8_t *now;
		ssize_t got = rfs_cfile_read(&c->cf, len, c->off, &now);

		if (got < 0)
			return (int)got;
		if (got == 0 || memcmp(now, buf, (size_t)got)) {
			c->differs = true;
			break;
		}
		buf = (const uint8_t *)buf + got;
		len -= (size_t)got;
		c->off += (uint64_t)got;
	}
	return 0;
}

/* Whether the file at the item's place now has the content it had at the revision. */
static int same_content(struct job *j, const struct item *it, bool *same)
{
	struct rfs_live_dir d = { 0 };
	struct rfs_sealed_name sn;
	uint8_t *key;
	struct compare c = { .cf = { .fd = -1 } };
	char path[PATH_MAX], src[PATH_MAX];
	const char *why;
	int rc;

	*same = !strcmp(it->then->oid, it->now->oid);     /* equal ids, equal bytes */
	if (*same || it->then->size != it->now->size)
		return 0;
	c.cf.key = key = rfs_secmem_key_alloc();
	join(path, j->target, it->then->path);
	join(src, j->source, it->then->path);
	rc = key ? rfs_live_walk(j->fs, path, false, 0, 0, &d) : -ENOMEM;
	if (rc == 0)
		rc = rfs_ops_seal_name(j->fs, d.dir, d.last, &sn);
	if (rc == 0 && (c.cf.fd = openat(d.dirfd, sn.backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_cfile_load(j->fs->v->ks, c.cf.fd, key, c.cf.file_id, &c.cf.hdr_flags, &why);
	if (rc == 0)
		rc = rfs_cfile_stat_size(c.cf.fd, &c.cf.size);
	if (rc == -ENODATA) {                  /* 0 bytes now, and then too (same size) */
		*same = true;
		rc = 0;
	} else if (rc == 0) {
		rc = rfs_history_read_plain(j->h, j->rev, src, compare_put, &c);
		*same = rc == 0 && !c.differs && c.off == c.cf.size;
	}
	if (c.cf.fd >= 0)
		close(c.cf.fd);
	rfs_secmem_key_free(key);
	rfs_live_walk_done(j->fs, &d);
	return rc;
}

/* The newest event of one file id, or of the path it was at. */
struct newest {
	const uint8_t *id;
	const char *path;
	bool found;
	enum rfs_save_kind kind;
};

static int newest_of(const struct rfs_version *v, void *arg)
{
	struct newest *n = arg;

	/* An rm of a file the daemon never opened records no id: its path says which it was. */
	bool gone_here = v->kind == RFS_SAVE_DELETED && !strcmp(v->path, n->path);

	if (!gone_here && memcmp(v->file_id, n->id, sizeof(v->file_id)))
		return 0;
	n->found = true;
	n->kind = v->kind;
	return 1;                          /* newest first: this is it */
}

/* Whether the file the item held at the revision lives on elsewhere (its folder was renamed
** away): its newest event is not its deletion. Then it comes back with a new id and key, so
** that no two files share one (a disposal of either would destroy both). */
static bool lives_elsewhere(struct job *j, const struct item *it)
{
	static const uint8_t zero[16];
	char src[PATH_MAX];
	struct newest n = { .id = it->then->file_id, .path = src };

	if (!memcmp(it->then->file_id, zero, sizeof(zero)))
		return false;                  /* an empty file: no key */
	join(src, j->source, it->then->path);
	return rfs_history_log(j->h, src, 0, newest_of, &n) < 0 ||
	       (n.found && n.kind != RFS_SAVE_DELETED);
}

static int restore_file(struct job *j, const struct item *it)
{
	char path[PATH_MAX], src[PATH_MAX];
	bool same = false;
	int rc = 0;

	if (it->now && it->now->type != RFS_OBJ_FILE) {
		say(j, RFS_FR_LEFT, it->then->path);
		j->n->left++;
		return 0;
	}
	if (it->now)
		rc = same_content(j, it, &same);
	if (rc == 0 && same) {
		j->n->same++;
		rc = fix_file_attrs(j, it);
		return rc < 0 ? fail(j, it->then->path, rc) : 0;
	}
	join(path, j->target, it->then->path);
	join(src, j->source, it->then->path);
	if (rc == 0)
		rc = rfs_live_restore_as(j->fs, j->rev, src, path, it->mode, it->uid, it->gid,
		                         &it->mtime, !it->now && lives_elsewhere(j, it), NULL);
	if (rc == -EBUSY) {
		say(j, RFS_FR_BUSY, it->then->path);
		j->n->busy++;
		return 0;
	}
	if (rc < 0)
		return fail(j, it->then->path, rc);
	j->n->files++;
	return 0;
}

/* A link's target at rev (or now, at the newest commit) as text. */
static int link_target(struct job *j, const char *rev, const char *dir, const char *rel,
                       char out[PATH_MAX])
{
	char path[PATH_MAX];
	int mem = memfd_create("recfs-link", MFD_CLOEXEC), rc = mem < 0 ? -errno : 0;
	ssize_t got = 0;

	join(path, dir, rel);
	if (rc == 0)
		rc = rfs_history_read(j->h, rev, path, mem);
	if (rc == 0 && (got = pread(mem, out, PATH_MAX - 1, 0)) < 0)
		rc = -errno;
	if (mem >= 0)
		close(mem);
	if (rc == 0)
		out[got] = '\0';
	return rc;
}

static int make_link(struct job *j, const struct item *it, const char *target)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, it->mtime };
	struct rfs_live_dir d = { 0 };
	struct rfs_sealed_name sn;
	const struct rfs_folder_keys *fk = NULL;
	char path[PATH_MAX], text[PATH_MAX];
	int rc;

	join(path, j->target, it->then->path);
	rc = rfs_live_walk(j->fs, path, true, it->uid, it->gid, &d);
	if (rc == 0)
		rc = rfs_ops_seal_name(j->fs, d.dir, d.last, &sn);
	if (rc == 0 && (rc = rfs_ops_folder_keys(j->fs, d.dir, &fk)) >= 0) {
		rc = rfs_name_target_seal(text, sizeof(text), target, fk);
		rfs_vault_folder_keys_put(j->fs->v, fk);
	}
	if (rc >= 0)
		rc = rfs_dname_write_long(d.dirfd, &sn);
	if (rc >= 0 && symlinkat(text, d.dirfd, sn.backing) != 0)
		rc = -errno;
	if (rc >= 0) {
		/* The link is there: it is recorded either way; an owner or time it could not take
		** is this entry's failure. */
		rc = j->fs->as_root && fchownat(d.dirfd, sn.backing, it->uid, it->gid, AT_SYMLINK_NOFOLLOW) != 0
		     ? -errno : 0;
		if (utimensat(d.dirfd, sn.backing, tv, AT_SYMLINK_NOFOLLOW) != 0 && rc == 0)
			rc = -errno;
		rfs_save_created(j->fs, d.dir, d.last, sn.backing, NULL, -1);
		(void)fuse_lowlevel_notify_inval_entry(j->fs->se, rfs_ino_of(&j->fs->it, d.dir), d.last,
		                                       strlen(d.last));
	}
	rfs_live_walk_done(j->fs, &d);
	return rc;
}

static int restore_link(struct job *j, const struct item *it)
{
	char then[PATH_MAX], now[PATH_MAX];
	int rc = link_target(j, j->rev, j->source, it->then->path, then);

	if (rc == 0 && it->now && it->now->type == RFS_OBJ_SYMLINK)
		rc = link_target(j, j->head, j->target, it->then->path, now);
	if (rc == 0 && it->now) {             /* the same link stays; anything else is left */
		if (it->now->type == RFS_OBJ_SYMLINK && !strcmp(then, now)) {
			j->n->same++;
		} else {
			say(j, RFS_FR_LEFT, it->then->path);
			j->n->left++;
		}
		return 0;
	}
	if (rc == 0)
		rc = make_link(j, it, then);
	if (rc < 0)
		return fail(j, it->then->path, rc);
	j->n->links++;
	return 0;
}

/* Make the folders missing now, give every file and link back. */
static int restore_entries(struct job *j)
{
	struct rfs_live_dir d = { 0 };
	int rc = enter_folder(j, "", &j->self, &d);

	rfs_live_walk_done(j->fs, &d);
	if (rc < 0)
		return fail(j, "", rc);
	j->n->folders += !j->self_exists;
	for (size_t i = 0; i < j->then.count && rc == 0; i++) {
		const struct item *it = &j->items[i];

		if (it->then->type == RFS_OBJ_FILE) {
			rc = restore_file(j, it);
		} else if (it->then->type == RFS_OBJ_SYMLINK) {
			rc = restore_link(j, it);
		} else if (it->now && it->now->type != RFS_OBJ_DIR) {
			say(j, RFS_FR_LEFT, it->then->path);
			j->n->left++;
		} else {
			rc = enter_folder(j, it->then->path, it, &d);
			rfs_live_walk_done(j->fs, &d);
			if (rc < 0)
				rc = fail(j, it->then->path, rc);
			j->n->folders += !it->now;
		}
	}
	return rc;
}

/* The folders' own attributes, modes and mtimes, deepest first, the folder itself last. */
static int restore_folder_attrs(struct job *j)
{
	for (size_t i = j->then.count + 1; i-- > 0;) {
		const struct item *it = i < j->then.count ? &j->items[i] : &j->self;
		const char *rel = it->then ? it->then->path : "";
		struct rfs_live_dir d = { 0 };
		int rc;

		if (it->then && (it->then->type != RFS_OBJ_DIR || (it->now && it->now->type != RFS_OBJ_DIR)))
			continue;
		uint8_t dir[RFS_DIRID_SIZE];

		rc = enter_folder(j, rel, it, &d);
		if (rc == 0)
			rc = rfs_ops_dirid(j->fs, d.dir, dir);
		if (rc == 0)
			rc = apply_attrs(j->fs, d.dir, d.dirfd, it, apply_xattrs(j, d.dirfd, true, dir, it));
		rfs_live_walk_done(j->fs, &d);
		if (rc < 0)
			return fail(j, rel, rc);
	}
	return 0;
}

int rfs_folder_restore(struct rfs_fs *fs, const char *rev, const char *source, const char *target,
                       rfs_folder_restore_note_fn note, void *arg,
                       struct rfs_folder_restore_counts *n, char *msg, size_t msgsz)
{
	struct job j = { .fs = fs, .h = fs->history, .rev = rev, .source = source, .target = target,
	                 .note = note, .arg = arg, .n = n, .msg = msg, .msgsz = msgsz };
	struct rfs_version ver;
	uint64_t seq;
	int rc;

	memset(n, 0, sizeof(*n));
	if (msg && msgsz)
		msg[0] = '\0';
	if (!j.h || fs->read_only)
		return -EROFS;
	rc = rfs_history_flush(j.h);     /* the newest commit is live/ as it is */
	if (rc == 0)
		rc = rfs_history_stat(j.h, rev, source, &ver);
	if (rc == 0 && ver.destroyed)
		rc = -EKEYREVOKED;
	if (rc == 0 && ver.type != RFS_OBJ_DIR)
		rc = -ENOTDIR;
	if (rc == 0)
		rc = rfs_history_list(j.h, rev, source, &j.then);
	if (rc == 0)
		rc = rfs_history_head(j.h, j.head, &seq);
	if (rc == 0) {
		rc = rfs_history_list(j.h, j.head, target, &j.now);
		j.self_exists = rc == 0;
		if (rc == -ENOENT)           /* not there now: made again */
			rc = 0;
	}
	if (rc == 0)
		rc = plan(&j);
	if (rc == 0)
		rc = check(&j);
	/* Its saves wait for each other: as few commits as the batching rules allow. */
	rfs_history_hold(j.h, true);
	if (rc == 0)
		rc = restore_entries(&j);
	if (rc == 0)
		rc = restore_folder_attrs(&j);
	rfs_history_hold(j.h, false);
	rfs_retention_live_changed(fs->retention);
	if (rc == 0)
		rc = rfs_history_flush(j.h);   /* reported only once it is in history */
	free(j.items);
	rfs_history_listing_free(&j.then);
	rfs_history_listing_free(&j.now);
	return rc;
}

int rfs_folder_restore_offline(struct rfs_vault *v, struct rfs_history *h, const char *rev,
                               const char *source, const char *target,
                               rfs_folder_restore_note_fn note, void *arg,
                               struct rfs_folder_restore_counts *n, char *msg, size_t msgsz)
{
	struct rfs_fs fs;
	int rc = rfs_retention_offline_begin(&fs, v, h);

	if (rc < 0)
		return rc;
	rc = rfs_folder_restore(&fs, rev, source, target, note, arg, n, msg, msgsz);
	rfs_retention_offline_end(&fs);
	return rc;
}

/* ---- the verb ---- */

static const char *const note_names[] = { [RFS_FR_KEPT] = "kept", [RFS_FR_BUSY] = "busy",
                                          [RFS_FR_LEFT] = "left" };

const char *rfs_folder_restore_note_name(enum rfs_fr_note what)
{
	return note_names[what];
}

int rfs_folder_restore_note_of(const char *name)
{
	for (size_t k = 0; k < sizeof(note_names) / sizeof(note_names[0]); k++)
		if (!strcmp(name, note_names[k]))
			return (int)k;
	return -1;
}

static void put_note(void *arg, enum rfs_fr_note what, const char *path)
{
	fprintf(arg, "note\t%s\t", note_names[what]);
	rfs_control_put_field(arg, path);
	fputc('\n', arg);
}

static void serve_restore_folder(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld,
                                 int n, int passed_fd, FILE *out)
{
	struct rfs_folder_restore_counts c;
	char msg[PATH_MAX + 600];
	int rc = rfs_folder_restore(fs, fld[1], fld[2], fld[3], put_note, out, &c, msg, sizeof(msg));

	if (rc < 0 && msg[0]) {
		rfs_control_refuse(out, rc, msg);
		return;
	}
	if (rc == 0)
		fprintf(out, "done\t%zu\t%zu\t%zu\t%zu\t%zu\t%zu\t%zu\n", c.files, c.same,
		        c.folders, c.links, c.kept, c.busy, c.left);
	rfs_control_reply(out, rc, NULL);
}

const struct rfs_control_verb rfs_folder_restore_verbs[] = {
	{ "restore-folder", 3, 3, RFS_VERB_OWNER, serve_restore_folder },
	{ NULL, 0, 0, 0, NULL },
};
