/*
** recover: bring history in line with live/ at open (after a crash), and
** the tree comparison that verify shares; the signed mark (history.git/recfs/
** since) that lets a recovery after a killed daemon look only at what changed.
** Must never: change live/ (but, after a real crash only, to put right a
** file a power cut left half written: rfs_cfile_after_crash writes its undo
** entry back, reseals, or cuts a torn tail); commit anything but what live/
** holds, nor a file, name or link target of live/ that does not authenticate.
*/
#include "fs/history/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/encoding.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "crypto/sign.h"
#include "fs/cfile.h"
#include "fs/log.h"

int rfs_recover_capture_live(struct rfs_history *h, git_oid *tree)
{
	struct rfs_capture cap = { 0 };
	int rc = rfs_capture_entry(h, -1, "", &cap);
	if (rc == 0)
		*tree = cap.oid;
	return rc;
}

/* ---- what changed since the last open: a kill needs no capture of all of live/ ----
** Every change to an entry of live/ sets its ctime to the clock, which nothing
** sets back but the clock itself; a new, removed or renamed entry sets its
** folder's. So while the file system holding live/ stays mounted (its page
** cache, which holds every write whether synced or not, survives a killed
** daemon) an entry whose ctime, and whose folder's ctime, are older than the
** open that last made history hold live/ is as that history has it. A power
** cut, a reboot or a remount loses writes their ctimes reached the disk
** without (and the reverse), and changes the boot id or the mount's unique
** id: then live/ is captured whole, as always. The mark is signed, so no one
** without the vault's key can make a recovery skip a file. */

#define SINCE_FILE "since"
#define SINCE_MAGIC "recfs-since-v1"
#define SINCE_SIGNED (14 + 16 + 36 + 3 * 8)
#define SINCE_SLACK_NS 2000000000ll       /* coarse timestamps, a small step of the clock */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U  /* Linux 6.8: never reused while the system runs */
#endif

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Where and when this is: 0, or -ENOTSUP when the kernel cannot say. */
static int since_now(struct rfs_history *h, struct rfs_since *s)
{
	memset(s, 0, sizeof *s);
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, s->boot, 36);
	if (fd >= 0)
		close(fd);
	struct statx stx;
	if (n != 36 || statx(h->v->live_fd, "", AT_EMPTY_PATH, STATX_MNT_ID_UNIQUE, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return -ENOTSUP;
	s->boot[36] = 0;
	s->mnt = stx.stx_mnt_id;
	s->real_ns = clock_ns(CLOCK_REALTIME);
	s->off_ns = s->real_ns - clock_ns(CLOCK_BOOTTIME);
	return 0;
}

static void since_signed(struct rfs_history *h, const struct rfs_since *s, uint8_t out[SINCE_SIGNED])
{
	uint64_t v[3] = { s->mnt, (uint64_t)s->real_ns, (uint64_t)s->off_ns };
	memcpy(out, SINCE_MAGIC, 14);
	memcpy(out + 14, h->v->conf.vault_id, 16);
	memcpy(out + 30, s->boot, 36);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++)
			out[66 + 8 * k + i] = (uint8_t)(v[k] >> (8 * i));
}

/* The mark the last open left: 0 when it is there and its signature holds. */
static int since_read(struct rfs_history *h, struct rfs_since *s)
{
	char line[300], b64[100];
	int fd = h->side_fd < 0 ? -1 : openat(h->side_fd, SINCE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd < 0 ? -1 : read(fd, line, sizeof line - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -ENOENT;
	line[n] = 0;
	memset(s, 0, sizeof *s);
	if (sscanf(line, "recfs-since 1 %36s %" SCNu64 " %" SCNd64 " %" SCNd64 " %99s", s->boot, &s->mnt,
	           &s->real_ns, &s->off_ns, b64) != 5 || strlen(s->boot) != 36)
		return -EBADMSG;
	uint8_t msg[SINCE_SIGNED], sig[RFS_SIGNATURE_SIZE];
	if (rfs_b64_decode(sig, sizeof sig, b64, strlen(b64)) != (long)sizeof sig)
		return -EBADMSG;
	since_signed(h, s, msg);
	return rfs_sign_verify(sig, msg, sizeof msg, h->v->keys);
}

void rfs_recover_since_begin(struct rfs_history *h)
{
	struct rfs_since last;
	h->open_known = since_now(h, &h->open_at) == 0;
	h->since_ok = h->open_known && since_read(h, &last) == 0 && !strcmp(last.boot, h->open_at.boot) &&
	              last.mnt == h->open_at.mnt && last.real_ns <= h->open_at.real_ns &&
	              h->open_at.off_ns >= last.off_ns - SINCE_SLACK_NS / 2;   /* no step back */
	h->since_ns = h->since_ok ? last.real_ns - SINCE_SLACK_NS : 0;
	if (h->side_fd >= 0)
		unlinkat(h->side_fd, SINCE_FILE, 0);   /* it spoke of the last open only */
}

void rfs_recover_since_end(struct rfs_history *h)
{
	h->since_ok = false;
	if (!h->open_known || h->side_fd < 0 || h->behind || h->error)
		return;
	uint8_t msg[SINCE_SIGNED], sig[RFS_SIGNATURE_SIZE];
	since_signed(h, &h->open_at, msg);
	rfs_sign(sig, msg, sizeof msg, h->v->keys);
	char b64[100], line[300];
	rfs_b64_encode(b64, sig, sizeof sig);
	int n = snprintf(line, sizeof line, "recfs-since 1 %s %" PRIu64 " %" PRId64 " %" PRId64 " %s\n",
	                 h->open_at.boot, h->open_at.mnt, h->open_at.real_ns, h->open_at.off_ns, b64);
	/* No fsync: it only counts while the file system stays mounted, and so does its page cache. */
	int fd = openat(h->side_fd, SINCE_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && write(fd, line, (size_t)n) != n)
		unlinkat(h->side_fd, SINCE_FILE, 0);
	if (fd >= 0)
		close(fd);
}

static bool changed_since(const struct rfs_history *h, const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000ll + st->st_ctim.tv_nsec >= h->since_ns;
}

/* Whether old entry e can stand for the unchanged live/ entry st. */
static bool entry_fits(struct rfs_history *h, const git_tree_entry *e, const struct stat *st)
{
	git_filemode_t m = git_tree_entry_filemode(e);
	if (S_ISLNK(st->st_mode))
		return m == GIT_FILEMODE_LINK;
	return S_ISREG(st->st_mode) &&
	       (m == GIT_FILEMODE_BLOB || (m == GIT_FILEMODE_TREE && rfs_objects_is_chunked(h->repo, e)));
}

/* Whether live/'s folder cpath has the id (.dirid) that old's folder had:
** the same folder, not another moved in under its name. */
static bool same_folder(struct rfs_history *h, const char *cpath, git_tree *old)
{
	const git_tree_entry *e = git_tree_entry_byname(old, RFS_DIRID_FILE);
	git_blob *b = NULL;
	if (!e || git_blob_lookup(&b, h->repo, git_tree_entry_id(e)) < 0)
		return false;
	char path[PATH_MAX];
	uint8_t id[64];
	snprintf(path, sizeof path, "%s%s%s", cpath, cpath[0] ? "/" : "", RFS_DIRID_FILE);
	int fd = strlen(cpath) + sizeof RFS_DIRID_FILE + 1 < sizeof path ? rfs_capture_open_live(h, path, 0) : -1;
	ssize_t n = fd < 0 ? -1 : read(fd, id, sizeof id);
	if (fd >= 0)
		close(fd);
	bool same = n >= 0 && (size_t)n == git_blob_rawsize(b) && !memcmp(id, git_blob_rawcontent(b), (size_t)n);
	git_blob_free(b);
	return same;
}

/* live/'s folder cpath as a tree: what changed since h->since_ns captured,
** the rest taken from old (the same folder in the newest commit). */
static int capture_changed(struct rfs_history *h, const char *cpath, git_tree *old, git_oid *out)
{
	int dfd = rfs_capture_open_live(h, cpath, O_DIRECTORY);
	if (dfd < 0)
		return dfd;
	struct stat dst;
	DIR *d = fstat(dfd, &dst) == 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int err = -errno;
		close(dfd);
		return err;
	}
	bool names_same = !changed_since(h, &dst);   /* no entry made, removed or renamed here */
	git_treebuilder *bld = NULL;
	int rc = git_treebuilder_new(&bld, h->repo, NULL) < 0 ? -EIO : 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *child = rfs_capture_child(cpath, de->d_name);
		struct stat st;
		if (!child) {
			rc = -ENOMEM;
			break;
		}
		const git_tree_entry *e = git_tree_entry_byname(old, de->d_name);
		git_tree *sub = NULL;
		struct rfs_capture cap = { 0 };
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
		} else if (S_ISDIR(st.st_mode) && e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
		           !rfs_objects_is_chunked(h->repo, e) &&
		           git_tree_lookup(&sub, h->repo, git_tree_entry_id(e)) == 0 &&
		           (names_same || same_folder(h, child, sub))) {
			cap.mode = GIT_FILEMODE_TREE;
			rc = capture_changed(h, child, sub, &cap.oid);
		} else if (e && names_same && !changed_since(h, &st) && entry_fits(h, e, &st)) {
			cap.oid = *git_tree_entry_id(e);
			cap.mode = git_tree_entry_filemode(e);
		} else if ((rc = rfs_capture_entry(h, -1, child, &cap)) == -EPERM) {
			rc = 0;                      /* not recordable (e.g. a FIFO): skipped, as ever */
			cap.mode = 0;
		}
		git_tree_free(sub);
		free(child);
		if (rc == 0 && cap.mode && git_treebuilder_insert(NULL, bld, de->d_name, &cap.oid, cap.mode) < 0)
			rc = -EIO;
	}
	if (rc == 0 && h->keep_xattrs)       /* attributes are read again whole: they are small */
		rc = rfs_capture_dir_xattrs(h, d, cpath, bld);
	closedir(d);
	if (rc == 0 && git_treebuilder_write(out, bld) < 0)
		rc = -EIO;
	git_treebuilder_free(bld);
	return rc;
}

/* The file, folder or symlink a changed git path belongs to: a chunk of a
** chunked file, a folder's .dirid and a long name's .n map to their owner. */
static char *owner_path(struct rfs_history *h, git_tree *a, git_tree *b, const char *path)
{
	char *p = strdup(path);
	if (!p)
		return NULL;
	char *slash = strrchr(p, '/');
	const char *base = slash ? slash + 1 : p;
	if (!strcmp(base, RFS_DIRID_FILE)) {
		if (slash)
			*slash = 0;
		else
			p[0] = 0;
		return p;
	}
	if (rfs_xattrs_is_side(base)) {      /* attributes: of their file or folder */
		free(p);
		return rfs_xattrs_owner_of_side(path);
	}
	size_t bl = strlen(base), sl = strlen(RFS_LONG_SUFFIX);
	if (rfs_name_is_internal(base) && bl > sl && !strcmp(base + bl - sl, RFS_LONG_SUFFIX)) {
		p[strlen(p) - sl] = 0;
		return p;
	}
	/* Inside a chunked file? Its marker and chunk nodes ("00".."3f": no
	** sealed name is that short) sit up to RFS_CHUNK_DEPTH_MAX levels below it. */
	for (int up = 0; up <= RFS_CHUNK_DEPTH_MAX; up++) {
		slash = strrchr(p, '/');
		if (!slash || (rfs_tree_chunk_child_pos(slash + 1, strlen(slash + 1)) < 0 &&
		               strcmp(slash + 1, RFS_CHUNK_MARKER)))
			break;
		*slash = 0;
		git_tree_entry *e = NULL;
		bool chunked = false;
		git_tree *trees[2] = { a, b };
		for (int i = 0; i < 2 && !chunked; i++) {
			if (trees[i] && git_tree_entry_bypath(&e, trees[i], p) == 0) {
				chunked = rfs_objects_is_chunked(h->repo, e);
				git_tree_entry_free(e);
			}
		}
		if (chunked)
			return p;
	}
	return strcpy(p, path);
}

static bool tree_has(git_tree *t, const char *path)
{
	git_tree_entry *e = NULL;
	if (!t || !path[0] || git_tree_entry_bypath(&e, t, path) < 0)
		return false;
	git_tree_entry_free(e);
	return true;
}

struct diff_walk {
	struct rfs_history *h;
	git_tree *a, *b;
	rfs_recover_diff_cb cb;
	void *arg;
	char *last;
	int rc;
};

static int on_delta(const git_diff_delta *d, float progress, void *arg)
{
	struct diff_walk *w = arg;
	const char *path = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
	char *owner = owner_path(w->h, w->a, w->b, path);
	if (!owner)
		return w->rc = -ENOMEM;
	if (w->last && !strcmp(w->last, owner)) {
		free(owner);
		return 0;
	}
	free(w->last);
	w->last = owner;
	char what = 'M';
	/* A folder's .dirid, a chunk or a side file gone with its owner (rm -r,
	** unlink of a chunked file) deletes the owner; one that came with it adds it.
	** An owner in both trees changed type (a small file saved chunked: git
	** gives its blob as deleted): modified, never deleted. */
	if (d->status == GIT_DELTA_ADDED && !tree_has(w->a, owner))
		what = 'A';
	else if (d->status == GIT_DELTA_DELETED && !tree_has(w->b, owner))
		what = 'D';
	int rc = w->cb(w->h, owner, what, w->arg);
	return rc ? (w->rc = rc) : 0;
}

int rfs_recover_tree_diff(struct rfs_history *h, git_tree *a, git_tree *b, rfs_recover_diff_cb cb, void *arg)
{
	git_diff_options o;
	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	o.flags = GIT_DIFF_SKIP_BINARY_CHECK;
	git_diff *diff = NULL;
	if (git_diff_tree_to_tree(&diff, h->repo, a, b, &o) < 0)
		return -EIO;
	struct diff_walk w = { h, a, b, cb, arg, NULL, 0 };
	/* The deltas alone: git_diff_foreach would load both blobs of each
	** change, and verify hashes live/ without storing its blobs. */
	for (size_t i = 0; i < git_diff_num_deltas(diff) && !w.rc; i++)
		on_delta(git_diff_get_delta(diff, i), 0, &w);
	free(w.last);
	git_diff_free(diff);
	return w.rc;
}

/* Files a power cut left half written and recovery put right: cipher path, what was done. */
struct fix_note {
	char *cpath, *note;
};
struct fix_notes {
	struct fix_note *v;
	size_t n, cap;
};

static const char *note_of(const struct fix_notes *fn, const char *cpath)
{
	for (size_t i = 0; i < fn->n; i++)
		if (!strcmp(fn->v[i].cpath, cpath))
			return fn->v[i].note;
	return NULL;
}

static int note_add(struct fix_notes *fn, const char *cpath, const char *note)
{
	struct fix_note *f;

	if (rfs_bytes_grow(&fn->v, &fn->cap, fn->n, sizeof *fn->v, 8) < 0)
		return -ENOMEM;
	f = &fn->v[fn->n];
	f->cpath = strdup(cpath);
	f->note = f->cpath ? strdup(note) : NULL;
	if (!f->note) {
		free(f->cpath);
		return -ENOMEM;
	}
	fn->n++;
	return 0;
}

static void notes_free(struct fix_notes *fn)
{
	for (size_t i = 0; i < fn->n; i++) {
		free(fn->v[i].cpath);
		free(fn->v[i].note);
	}
	free(fn->v);
}

struct recovery {
	git_tree *old, *now;
	struct rfs_event *ev;
	size_t n, cap;
	char **bad;                       /* cipher paths left out: they do not authenticate */
	size_t nbad, bad_cap;
	bool repaired;                    /* a file of live/ was resealed: capture live/ again */
	struct fix_notes *notes;          /* what was put right, kept across that second pass */
};

/* What recovery says of a file it put right after a power cut (fs/cfile.h). */
static const char *fix_note(enum rfs_cfile_fix fix, uint64_t size, char *buf, size_t bufsz)
{
	if (fix == RFS_FIX_CUT)
		snprintf(buf, bufsz, "cut to %llu bytes by the power cut", (unsigned long long)size);
	else if (fix == RFS_FIX_UNDONE)
		snprintf(buf, bufsz, "its last block rewritten in place when the power cut came; "
		         "put back as it was last made durable (%llu bytes)", (unsigned long long)size);
	else
		snprintf(buf, bufsz, "a block's final mark left wrong by the power cut; resealed, "
		         "nothing lost");
	return buf;
}

/* Whether the live/ file or symlink at cpath authenticates (header, key,
** every block; a link's target). NULL when it does, else why not. After a
** real crash a file a power cut left half written is put right first
** (rfs_cfile_after_crash): *repaired, and note says what was done. */
static const char *live_fails(struct rfs_history *h, const char *cpath, const char *clear,
                              bool *repaired, char *note, size_t notesz)
{
	struct stat st;
	if (rfs_capture_stat_live(h, cpath, &st) < 0)
		return "cannot be read";
	if (S_ISLNK(st.st_mode)) {
		char text[8192], target[8192], id_file[8192];
		const char *slash = strrchr(cpath, '/');
		uint8_t dirid[16];
		ssize_t n = rfs_capture_readlink_live(h, cpath, text, sizeof text - 1);
		if (n >= 0)
			text[n] = 0;
		/* The target is sealed under the keys of the folder the link is in. */
		snprintf(id_file, sizeof id_file, "%.*s%s%s", slash ? (int)(slash - cpath) : 0, cpath,
		         slash ? "/" : "", RFS_DIRID_FILE);
		int dfd = n < 0 ? -1 : rfs_capture_open_live(h, id_file, 0);
		if (dfd >= 0 && read(dfd, dirid, sizeof dirid) != (ssize_t)sizeof dirid)
			n = -1;
		if (dfd >= 0)
			close(dfd);
		return n < 0 || dfd < 0 || rfs_vault_target_open(h->v, dirid, text, target, sizeof target) < 0
		       ? "its link target does not authenticate" : NULL;
	}
	if (!S_ISREG(st.st_mode))
		return NULL;
	int fd = rfs_capture_open_live(h, cpath, O_RDWR);   /* O_RDWR: a power cut's leftovers are put right */
	if (fd < 0)
		fd = rfs_capture_open_live(h, cpath, 0);
	uint8_t *key = rfs_secmem_key_alloc();
	struct rfs_cfile cf = { .fd = fd, .key = key, .undo = h->v->undo };
	const char *why = NULL;
	enum rfs_cfile_fix fix;
	uint64_t bad;
	int rc = fd < 0 || !key ? 0 : rfs_cfile_load(h->v->ks, fd, key, cf.file_id, &cf.hdr_flags, &why);
	if (fd < 0 || !key)
		why = fd < 0 ? "cannot be read" : "out of memory";
	else if (rc == -ENODATA)
		why = NULL;                    /* 0 bytes: an empty file (FORMAT.md 5) */
	else if (rc < 0)
		why = why ? why : "its header or key does not authenticate";
	else if (rfs_cfile_stat_size(fd, &cf.size) < 0)
		why = "its size is not that of any content (cut short?)";
	else if (rfs_cfile_check(&cf, &bad) < 0)
		why = "a block does not authenticate";
	const char *why_load = why;
	if (why && h->after_crash && fd >= 0 && key && (rc == 0 || (rc == -EIO &&
	    rfs_cfile_load_header(h->v->ks, fd, key, cf.file_id, &cf.hdr_flags, &why_load) == 0))) {
		if (rfs_cfile_after_crash(&cf, &fix) < 0) {
			why = "a block does not authenticate, and not only at its end";
		} else {
			why = NULL;
			*repaired = fix != RFS_FIX_NONE;
			if (fix != RFS_FIX_NONE)
				rfs_log(LOG_NOTICE, "history: %s: %s", clear, fix_note(fix, cf.size, note, notesz));
			if (fix == RFS_FIX_RESEALED)
				note[0] = 0;           /* nothing lost: the version is as it was saved */
		}
	}
	rfs_secmem_key_free(key);
	if (fd >= 0)
		close(fd);
	return why;
}

static void event_from_live(struct rfs_history *h, const char *cpath, struct rfs_event *e)
{
	struct stat st;
	if (rfs_capture_stat_live(h, cpath, &st) < 0)
		return;
	e->mode = st.st_mode;
	e->uid = st.st_uid;
	e->gid = st.st_gid;
	e->mtime_sec = st.st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
	e->type = S_ISDIR(st.st_mode) ? RFS_OBJ_DIR : S_ISLNK(st.st_mode) ? RFS_OBJ_SYMLINK : RFS_OBJ_FILE;
	if (e->type == RFS_OBJ_FILE) {
		bool valid;
		e->size = rfs_content_plain_size((uint64_t)st.st_size, &valid);
	}
	char id_file[4096];
	snprintf(id_file, sizeof id_file, "%s%s%s", cpath, cpath[0] ? "/" : "",
	         e->type == RFS_OBJ_DIR ? RFS_DIRID_FILE : "");
	int fd = rfs_capture_open_live(h, e->type == RFS_OBJ_DIR ? id_file : cpath, 0);
	if (fd < 0)
		return;
	uint8_t buf[RFS_HEADER_SIZE];
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	close(fd);
	struct rfs_header hd;
	if (e->type == RFS_OBJ_DIR && n >= 16)
		memcpy(e->file_id, buf, 16);
	else if (e->type == RFS_OBJ_FILE && n > 0 && rfs_content_header_parse(&hd, buf, (size_t)n) == 0)
		memcpy(e->file_id, hd.file_id, 16);
}

static int on_recovered(struct rfs_history *h, const char *cpath, char what, void *arg)
{
	struct recovery *r = arg;
	if (rfs_bytes_grow(&r->ev, &r->cap, r->n, sizeof *r->ev, 16) < 0)
		return -ENOMEM;
	char *clear = rfs_read_clear_of(h, what == 'D' ? r->old : r->now, cpath);
	char note[200] = "";
	const char *why = what == 'D' || !cpath[0] ? NULL
	                  : !clear ? "its name does not authenticate"
	                  : live_fails(h, cpath, clear, &r->repaired, note, sizeof note);
	if (!why && note[0] && note_add(r->notes, cpath, note) < 0) {
		free(clear);
		return -ENOMEM;
	}
	if (why) {                           /* never signed into history: named, left out */
		if (rfs_bytes_grow(&r->bad, &r->bad_cap, r->nbad, sizeof *r->bad, 8) < 0 ||
		    !(r->bad[r->nbad] = strdup(cpath))) {
			free(clear);
			return -ENOMEM;
		}
		r->nbad++;
		rfs_log(LOG_WARNING, "history: %s: %s (tampered or damaged); left out of history, which "
		        "keeps the version before; run 'recfs fsck %s'", clear ? clear : cpath, why,
		        h->v->path);
		free(clear);
		return 0;
	}
	struct rfs_event *e = &r->ev[r->n++];
	memset(e, 0, sizeof *e);
	e->kind = what == 'D' ? RFS_SAVE_DELETED : RFS_SAVE_RECOVERED;
	e->type = RFS_OBJ_FILE;
	if (what != 'D')
		event_from_live(h, cpath, e);
	rfs_read_parent_dirid(h, what == 'D' ? r->old : r->now, cpath, e->dir);
	const struct rfs_folder_keys *fk;
	int gone = h->v->format >= 3 && !rfs_record_id_is_zero(e->dir)
	           ? rfs_vault_folder_keys_get(h->v, e->dir, &fk) : 1;
	if (gone == 0)
		rfs_vault_folder_keys_put(h->v, fk);
	if (gone == -ENOENT) {               /* inside a destroyed folder: nothing to record */
		free(clear);
		r->n--;
		return 0;
	}
	e->path = clear ? clear : rfs_record_str(cpath);
	e->path_old = rfs_record_str(NULL);
	e->restored_from = rfs_record_str(NULL);
	e->property = rfs_record_str(note_of(r->notes, cpath));   /* what recovery did to it, if anything */
	return e->path && e->path_old && e->restored_from && e->property ? 0 : -ENOMEM;
}

/* live/ of a vault just made: the root folder's id and nothing else. */
static bool fresh_vault(const git_tree *live)
{
	size_t n = git_tree_entrycount(live) - (git_tree_entry_byname(live, RFS_XATTRS_MARKER) != NULL);
	return n == 1 && git_tree_entry_byname(live, RFS_DIRID_FILE);
}

/* The tree of live/ with each entry that did not authenticate put back as
** the newest commit had it (or left out when it is new). */
static int leave_out_bad(struct rfs_history *h, struct recovery *r, git_oid *tree)
{
	git_tree_update *up = calloc(r->nbad, sizeof *up);
	git_tree_entry **old = calloc(r->nbad, sizeof *old);
	int rc = up && old ? 0 : -ENOMEM;
	for (size_t i = 0; i < r->nbad && rc == 0; i++) {
		up[i].path = r->bad[i];
		if (r->old && git_tree_entry_bypath(&old[i], r->old, r->bad[i]) == 0) {
			up[i].action = GIT_TREE_UPDATE_UPSERT;
			up[i].id = *git_tree_entry_id(old[i]);
			up[i].filemode = git_tree_entry_filemode(old[i]);
		} else {
			up[i].action = GIT_TREE_UPDATE_REMOVE;
		}
	}
	git_oid fixed;
	if (rc == 0 && (rc = rfs_tree_update(h, tree, up, r->nbad, &fixed)) == 0)
		*tree = fixed;
	for (size_t i = 0; old && i < r->nbad; i++)
		git_tree_entry_free(old[i]);
	free(old);
	free(up);
	return rc;
}

static void recovery_free(struct recovery *r)
{
	for (size_t i = 0; i < r->n; i++)
		rfs_record_event_clear(&r->ev[i]);
	for (size_t i = 0; i < r->nbad; i++)
		free(r->bad[i]);
	free(r->bad);
	free(r->ev);
	git_tree_free(r->old);
	git_tree_free(r->now);
}

int rfs_recover(struct rfs_history *h)
{
	pthread_mutex_lock(&h->git_lock);
	bool again = true;                   /* once more after a repair changed live/ */
	bool crash = h->after_crash;
	struct fix_notes notes = { 0 };
start:;
	git_oid now_oid;
	struct recovery r = { .notes = &notes };
	int rc = 0;
	if (h->head_seq) {
		git_commit *c = NULL;
		if (git_commit_lookup(&c, h->repo, &h->head) < 0 || git_commit_tree(&r.old, c) < 0)
			rc = -EIO;
		git_commit_free(c);
	}
	if (rc == 0)
		rc = h->since_ok && r.old ? capture_changed(h, "", r.old, &now_oid)
		                          : rfs_recover_capture_live(h, &now_oid);
	if (rc == 0 && git_tree_lookup(&r.now, h->repo, &now_oid) < 0)
		rc = -EIO;
	if (rc == 0 && r.old && git_oid_equal(git_tree_id(r.old), &now_oid))
		goto out;                        /* history already holds live/ */
	if (rc == 0 && r.old)
		rc = rfs_recover_tree_diff(h, r.old, r.now, on_recovered, &r);
	if (rc == 0 && r.repaired && again) {
		again = false;
		recovery_free(&r);
		goto start;
	}
	if (rc == 0 && r.nbad)
		rc = leave_out_bad(h, &r, &now_oid);
	if (rc == 0 && r.old && git_oid_equal(git_tree_id(r.old), &now_oid))
		goto out;                        /* all that differed was left out */
	if (rc == 0 && !r.n)
		rc = on_recovered(h, "", 'M', &r);   /* first commit, or a change with no owner */
	if (rc == 0 && !r.old && fresh_vault(r.now))
		r.ev[0].kind = RFS_SAVE_CREATED;     /* a new vault, not one recovered */
	git_oid commit;
	if (rc == 0)
		rc = rfs_commit_create(h, &now_oid, r.ev, r.n, NULL, &commit);
	if (rc == 0)
		rc = rfs_commit_publish(h);
	size_t files = 0;
	for (size_t i = 0; rc == 0 && r.old && i < r.n; i++)
		files += r.ev[i].kind == RFS_SAVE_RECOVERED && r.ev[i].type == RFS_OBJ_FILE;
	if (rc == 0)
		h->after_crash = false;          /* what a crash left is dealt with */
	if (rc == 0 && r.old) {
		char hex[GIT_OID_HEXSZ + 1];
		rfs_log(LOG_NOTICE, "history: recovered %zu file%s that history lacked (%s), "
		        "in commit %.12s; 'recfs log' lists them as \"recovered\"", files,
		        files == 1 ? "" : "s", crash ? "after a crash" : h->xattrs_upgrade
		        ? "their extended attributes, kept in history from now on" : "it was behind",
		        git_oid_tostr(hex, sizeof hex, &commit));
	if (rc == 0)
		h->xattrs_upgrade = false;
	}
out:
	if (rc == 0 && crash)
		rfs_undo_drop_leftovers(h->v->undo);   /* what the crash left is dealt with */
	recovery_free(&r);
	notes_free(&notes);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}
