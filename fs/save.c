/*
** save: see save.h. Each save becomes one struct rfs_save for
** rfs_history_record (fs/history/queue.c); the rest of the path is history's.
*/
#include "fs/save.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/content.h"
#include "fs/faultpoint.h"
#include "fs/log.h"
#include "fs/ops_internal.h"

static enum rfs_obj_type obj_type_of(mode_t mode)
{
	return S_ISDIR(mode) ? RFS_OBJ_DIR : S_ISLNK(mode) ? RFS_OBJ_SYMLINK : RFS_OBJ_FILE;
}

/* Remember blocks [first, first+count) as written since the last save. Content lock held. */
static void mark_written(struct rfs_inode *in, uint64_t first, uint64_t count)
{
	uint64_t lo = first, hi = first + count;
	size_t i;

	in->dirty = true;
	for (i = 0; i < in->nranges; i++) {
		struct rfs_range *r = &in->ranges[i];

		if (first <= r->first + r->count && r->first <= hi) {
			uint64_t end = r->first + r->count > hi ? r->first + r->count : hi;

			r->first = r->first < first ? r->first : first;
			r->count = end - r->first;
			return;
		}
	}
	if (in->nranges < sizeof(in->ranges) / sizeof(in->ranges[0])) {
		in->ranges[in->nranges++] = (struct rfs_range){ first, count };
		return;
	}
	for (i = 0; i < in->nranges; i++) {
		lo = in->ranges[i].first < lo ? in->ranges[i].first : lo;
		hi = in->ranges[i].first + in->ranges[i].count > hi ?
		     in->ranges[i].first + in->ranges[i].count : hi;
	}
	in->ranges[0] = (struct rfs_range){ lo, hi - lo };
	in->nranges = 1;
}

static uint64_t block_of(uint64_t offset)
{
	return offset / RFS_BLOCK_SIZE;
}

void rfs_save_before_write(struct rfs_fs *fs, struct rfs_inode *in, uint64_t off)
{
	rfs_history_before_write(fs->history, in->file_id, block_of(off));
}

void rfs_save_wrote(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	uint64_t last;

	if (!fs->history || in->size == 0)
		return;
	last = block_of(in->size - 1);
	/* One run of unsaved blocks up to the last: a file written to its end. */
	if (in->nranges == 1 && in->ranges[0].first + in->ranges[0].count == last + 1)
		rfs_history_wrote(fs->history, in->file_id, fd, in->ranges[0].first, last);
	else
		rfs_history_wrote(fs->history, in->file_id, fd, UINT64_MAX, last);
}

void rfs_save_mark_write(struct rfs_inode *in, uint64_t off, uint64_t n)
{
	if (in->size > 0 && block_of(in->size - 1) < block_of(off))
		mark_written(in, block_of(in->size - 1), 1);   /* resealed: no longer last */
	mark_written(in, block_of(off), block_of(off + n - 1) - block_of(off) + 1);
}

void rfs_save_mark_resize(struct rfs_inode *in, uint64_t old_size, uint64_t new_size)
{
	if (old_size > 0)
		mark_written(in, block_of(old_size - 1), 1);
	if (new_size > 0)
		mark_written(in, block_of(new_size - 1), 1);
	in->dirty = true;
}

/* The id history follows an entry by: a file's id, a folder's dirid, if known. */
static void identity_of(const struct rfs_inode *in, uint8_t id[16])
{
	if (in && in->key)
		memcpy(id, in->file_id, 16);
	else if (in && in->dirid_ok)
		memcpy(id, in->dirid, 16);
}

/* identity_of, loading what is not yet known: a folder's .dirid (which may
** heal a bare folder), or a file's id from its content header. A file opened
** since the mount, or a folder listed, costs nothing; zeros stay for an empty
** file (no header) or an unreadable one, and history then follows its path. */
static void identity_load(struct rfs_fs *fs, struct rfs_inode *in, uint8_t id[16])
{
	uint8_t hdr[RFS_HEADER_SIZE];
	struct rfs_header hd;
	bool noatime;
	int fd;

	identity_of(in, id);
	if (!in || in->key || in->dirid_ok)
		return;
	if (S_ISDIR(in->type)) {
		rfs_ops_dirid(fs, in, id);
		return;
	}
	if (!S_ISREG(in->type) || (fd = rfs_ops_open_backing(fs, in, O_RDONLY, &noatime)) < 0)
		return;
	if (pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
	    rfs_content_header_parse(&hd, hdr, sizeof(hdr)) == 0)
		memcpy(id, hd.file_id, 16);
	close(fd);
}

/* The dirid of folder dir, where an event's path is sealed (format 3); zeros
** when dir is NULL (the root's own events) or its id is not known. */
static void folder_of(const struct rfs_inode *dir, uint8_t out[16])
{
	memset(out, 0, 16);
	if (dir && dir->dirid_ok)
		memcpy(out, dir->dirid, 16);
}

/* The dirid of in's parent folder now (table lock: a rename may move it). */
static void parent_folder_of(struct rfs_fs *fs, const struct rfs_inode *in, uint8_t out[16])
{
	pthread_mutex_lock(&fs->it.mu);
	folder_of(in->parent, out);
	pthread_mutex_unlock(&fs->it.mu);
}

/* A save takes its paths and its place in history's queue together: a rename
** (fs->save_order written, rfs_save_rename_begin) waits until no save stands
** between the two, so none records a path that a rename has just changed.
** A save inside another (a folder id healed on the way) takes it once. */
static _Thread_local int order_depth;

static void order_enter(struct rfs_fs *fs)
{
	if (order_depth++ == 0)
		pthread_rwlock_rdlock(&fs->save_order);
}

static void order_leave(struct rfs_fs *fs)
{
	if (--order_depth == 0)
		pthread_rwlock_unlock(&fs->save_order);
}

void rfs_save_rename_begin(struct rfs_fs *fs)
{
	pthread_rwlock_wrlock(&fs->save_order);
	order_depth++;
}

void rfs_save_rename_end(struct rfs_fs *fs)
{
	order_depth--;
	pthread_rwlock_unlock(&fs->save_order);
}

void rfs_save_paths_free(struct rfs_save_paths *p)
{
	free(p->clear);
	free(p->cipher);
	p->clear = p->cipher = NULL;
}

/* Paths of the entry name/backing in dir. */
static int entry_paths(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                       const char *backing, struct rfs_save_paths *p)
{
	char *dc = rfs_inode_path(&fs->it, dir, true), *dk = rfs_inode_path(&fs->it, dir, false);
	int rc = 0;

	p->clear = p->cipher = NULL;
	folder_of(dir, p->dir);
	if (!dc || !dk)
		rc = -ENOENT;
	else if (asprintf(&p->clear, "%s%s/%s", *dc ? "/" : "", dc, name) < 0 ||
	         asprintf(&p->cipher, "%s%s%s", dk, *dk ? "/" : "", backing) < 0)
		rc = -ENOMEM;
	if (rc < 0) {
		p->clear = p->cipher = NULL;
	}
	free(dc);
	free(dk);
	return rc;
}

static int inode_paths(struct rfs_fs *fs, struct rfs_inode *in, struct rfs_save_paths *p)
{
	char *c = rfs_inode_path(&fs->it, in, true);

	p->clear = NULL;
	p->cipher = rfs_inode_path(&fs->it, in, false);
	if (c && asprintf(&p->clear, "/%s", c) < 0)
		p->clear = NULL;
	free(c);
	if (!p->clear || !p->cipher) {
		rfs_save_paths_free(p);
		return -ENOENT;
	}
	return 0;
}

/* Hand one save to history. stat_fd/stat_name give the entry's metadata
** (fstatat; stat_name "" with AT_EMPTY_PATH), stat_fd -1 when it is gone. */
static void record(struct rfs_fs *fs, struct rfs_save *s, int stat_fd, const char *stat_name)
{
	struct stat own;
	const struct stat *st = s->st;   /* the caller's, taken after its last change */
	int rc;

	if (!fs->history || !s->clear_path || !s->cipher_path)
		return;
	if (!st && stat_fd >= 0 &&
	    fstatat(stat_fd, stat_name, &own, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		st = &own;
	if (st) {
		bool valid;

		s->mode = st->st_mode;
		s->uid = st->st_uid;
		s->gid = st->st_gid;
		s->mtime = st->st_mtim;
		s->type = obj_type_of(st->st_mode);
		if (S_ISREG(st->st_mode))
			s->size = rfs_content_plain_size((uint64_t)st->st_size, &valid);
	}
	s->st = st;                      /* history need not stat the file again */
	rc = rfs_history_record(fs->history, s);
	if (rc < 0)
		rfs_log(LOG_ERR, "%s: could not record this version (%s); run 'recfs verify'",
		        s->clear_path, strerror(-rc));
}

void rfs_save_created(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                      const char *backing, const uint8_t id[16], int fd)
{
	rfs_save_created_as(fs, dir, name, backing, id, fd, NULL);
}

void rfs_save_created_file(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                           const char *backing, const uint8_t id[16], int fd,
                           const struct stat *st, const uint8_t *bytes, size_t nbytes)
{
	struct rfs_save s = { .kind = RFS_SAVE_CREATED, .fd = fd, .fd_noatime = true, .st = st,
	                      .bytes = bytes, .nbytes = nbytes };
	struct rfs_save_paths p;

	if (!fs->history)
		return;
	order_enter(fs);
	if (entry_paths(fs, dir, name, backing, &p) == 0) {
		s.clear_path = p.clear;
		s.cipher_path = p.cipher;
		memcpy(s.file_id, id, sizeof(s.file_id));
		folder_of(dir, s.dir);
		record(fs, &s, -1, "");
		rfs_save_paths_free(&p);
	}
	order_leave(fs);
}

static void save_created(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const uint8_t id[16], int fd,
                         const struct rfs_who *who, bool fresh_folder)
{
	struct rfs_save s = { .kind = RFS_SAVE_CREATED, .fd = fd, .who = who,
	                      .fresh_folder = fresh_folder };
	struct rfs_save_paths p;
	int dfd;

	if (!fs->history)
		return;
	order_enter(fs);
	if (entry_paths(fs, dir, name, backing, &p) == 0) {
		s.clear_path = p.clear;
		s.cipher_path = p.cipher;
		if (id)
			memcpy(s.file_id, id, sizeof(s.file_id));
		folder_of(dir, s.dir);
		dfd = inode_fd(fs, dir);
		record(fs, &s, dfd, backing);
		if (dfd >= 0)
			inode_fd_done(fs, dir);
		rfs_save_paths_free(&p);
	}
	order_leave(fs);
}

void rfs_save_created_as(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const uint8_t id[16], int fd,
                         const struct rfs_who *who)
{
	save_created(fs, dir, name, backing, id, fd, who, false);
}

void rfs_save_made_folder(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                          const char *backing, const uint8_t dirid[16])
{
	save_created(fs, dir, name, backing, dirid, -1, NULL, true);
}

void rfs_save_inode(struct rfs_fs *fs, struct rfs_inode *in, enum rfs_save_kind kind,
                    const char *property)
{
	rfs_save_inode_st(fs, in, kind, property, NULL);
}

void rfs_save_inode_st(struct rfs_fs *fs, struct rfs_inode *in, enum rfs_save_kind kind,
                       const char *property, const struct stat *st)
{
	struct rfs_save s = { .kind = kind, .property = property, .fd = -1, .st = st };
	struct rfs_save_paths p;
	int fd = -1;

	if (!fs->history)
		return;
	identity_load(fs, in, s.file_id);   /* first: a healed folder id saves on its own */
	order_enter(fs);
	if (inode_paths(fs, in, &p) == 0) {
		s.clear_path = p.clear;
		s.cipher_path = p.cipher;
		parent_folder_of(fs, in, s.dir);
		if (!st)
			fd = inode_fd(fs, in);
		record(fs, &s, fd, "");
		if (fd >= 0)
			inode_fd_done(fs, in);
		rfs_save_paths_free(&p);
	}
	order_leave(fs);
}

static void save_content(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime,
                         const struct rfs_who *who);

void rfs_save_content(struct rfs_fs *fs, struct rfs_inode *in, int fd)
{
	save_content(fs, in, fd, false, NULL);
}

void rfs_save_content_as(struct rfs_fs *fs, struct rfs_inode *in, int fd, const struct rfs_who *who)
{
	save_content(fs, in, fd, false, who);
}

static void save_content(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime,
                         const struct rfs_who *who)
{
	struct rfs_save s = { .kind = RFS_SAVE_SAVED, .type = RFS_OBJ_FILE, .fd = fd,
	                      .fd_noatime = noatime, .who = who };
	struct rfs_save_paths p;

	if (in->restored_from[0]) {       /* set by rfs_save_restored */
		s.kind = RFS_SAVE_RESTORED;
		s.restored_from = in->restored_from;
	}
	if (fs->history && in->parent) {
		order_enter(fs);
		if (inode_paths(fs, in, &p) == 0) {
			s.clear_path = p.clear;
			s.cipher_path = p.cipher;
			memcpy(s.file_id, in->file_id, sizeof(s.file_id));
			parent_folder_of(fs, in, s.dir);
			s.ranges = in->nranges ? in->ranges : NULL;
			s.nranges = in->nranges;
			RFS_FAULT_POINT("save_paths", fs->v->dirfd);   /* a rename waits from here */
			record(fs, &s, fd, "");
			rfs_save_paths_free(&p);
		}
		order_leave(fs);
	}
	in->dirty = false;
	in->trunc_only = false;
	in->nranges = 0;
	in->restored_from[0] = '\0';
}

void rfs_save_deleted(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                      const char *backing, const struct stat *st, struct rfs_inode *victim)
{
	rfs_save_deleted_as(fs, dir, name, backing, st, victim, NULL);
}

void rfs_save_deleted_as(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                         const char *backing, const struct stat *st, struct rfs_inode *victim,
                         const struct rfs_who *who)
{
	struct rfs_save s = { .kind = RFS_SAVE_DELETED, .type = obj_type_of(st->st_mode), .fd = -1,
	                      .who = who };
	struct rfs_save_paths p;

	if (!fs->history)
		return;
	s.mode = st->st_mode;
	s.uid = st->st_uid;
	s.gid = st->st_gid;
	s.mtime = st->st_mtim;
	identity_of(victim, s.file_id);
	order_enter(fs);
	if (entry_paths(fs, dir, name, backing, &p) == 0) {
		s.clear_path = p.clear;
		s.cipher_path = p.cipher;
		folder_of(dir, s.dir);
		record(fs, &s, -1, NULL);
		rfs_save_paths_free(&p);
	}
	order_leave(fs);
}

int rfs_save_rename_paths(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                          const char *backing, struct rfs_inode *to_dir, const char *newname,
                          const char *to_backing, struct rfs_save_paths *from,
                          struct rfs_save_paths *to)
{
	from->clear = from->cipher = to->clear = to->cipher = NULL;
	if (!fs->history)
		return -ENOENT;
	if (entry_paths(fs, dir, name, backing, from) < 0 ||
	    entry_paths(fs, to_dir, newname, to_backing, to) < 0) {
		rfs_save_paths_free(from);
		return -ENOENT;
	}
	return 0;
}

void rfs_save_renamed(struct rfs_fs *fs, bool exchange, struct rfs_save_paths *from,
                      struct rfs_save_paths *to, struct rfs_inode *moved, int stat_fd,
                      const char *stat_name)
{
	struct rfs_save s = { .kind = exchange ? RFS_SAVE_EXCHANGED : RFS_SAVE_RENAMED, .fd = -1 };

	s.clear_path = to->clear;
	s.cipher_path = to->cipher;
	s.clear_path_old = from->clear;
	s.cipher_path_old = from->cipher;
	memcpy(s.dir, to->dir, 16);
	memcpy(s.dir_old, from->dir, 16);
	identity_load(fs, moved, s.file_id);
	record(fs, &s, stat_fd, stat_name);
	rfs_save_paths_free(from);
	rfs_save_paths_free(to);
}

/* at_flush: see rfs_save_at_flush. */
static void save_if_dirty(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime,
                          bool at_flush)
{
	pthread_rwlock_wrlock(&in->content);
	if (in->dirty && !(at_flush && in->trunc_only))
		save_content(fs, in, fd, noatime, NULL);
	pthread_rwlock_unlock(&in->content);
}

void rfs_save_at_flush(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime)
{
	save_if_dirty(fs, in, fd, noatime, true);
}

void rfs_save_at_fsync(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime)
{
	save_if_dirty(fs, in, fd, noatime, false);
}

void rfs_save_at_release(struct rfs_fs *fs, struct rfs_inode *in, int fd, bool noatime)
{
	if (in->dirty && !(in->trunc_only && in->nopen > 0))
		save_content(fs, in, fd, noatime, NULL);
}

void rfs_save_unsaved_writes(struct rfs_fs *fs, struct rfs_inode *in, int dfd, const char *backing)
{
	bool noatime = true;
	int fd;

	if (!fs->history || !in->dirty)
		return;
	fd = openat(dfd, backing, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM) {   /* O_NOATIME needs ownership, as in rfs_ops_open_backing */
		noatime = false;
		fd = openat(dfd, backing, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {                     /* the save at its close records the writes */
		rfs_log(LOG_WARNING, "cannot open a file being renamed or removed to save it first: %s",
		        strerror(errno));
		return;
	}
	save_content(fs, in, fd, noatime, NULL);
	close(fd);
}

void rfs_save_restored(struct rfs_fs *fs, struct rfs_inode *in, int fd, const char *rev)
{
	pthread_rwlock_wrlock(&in->content);
	in->dirty = true;
	in->nranges = 0;              /* the whole file */
	memcpy(in->restored_from, rev, RFS_REV_HEX + 1);
	rfs_save_content(fs, in, fd);
	pthread_rwlock_unlock(&in->content);
}
