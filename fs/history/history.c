/*
** history: open and create history.git, check its state against live/ and
** the signed head record (rollback, vanished history, clean close), start and
** stop the committer, and who commits (attribution). A save's own path is
** capture.c, queue.c, apply.c, commit.c (see internal.h).
** Must never: write plaintext or clear names into git, move the ref backwards,
** or start the committer on a history it has not checked.
*/
#include "fs/history/internal.h"
#include "fs/faultpoint.h"
#include "fs/log.h"
#include <git2/sys/repository.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/tag.h"

#define TREE_CACHE_LIMIT (4u << 20)      /* trees up to this size stay parsed in memory */
#define OBJECT_CACHE_MAX (64u << 20)     /* all parsed objects libgit2 keeps, at most */
#define PACK_WINDOW (32u << 20)          /* libgit2 maps packs this much at a time */
#define PACK_MAPPED_MAX (32u << 20)      /* and unmaps the oldest windows beyond this */

/* ---- open / close ---- */

static int load_head(struct rfs_history *h)
{
	git_reference *ref = NULL;
	int rc = git_reference_lookup(&ref, h->repo, RFS_HISTORY_REF);
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return -EIO;
	const git_oid *target = git_reference_target(ref);
	if (target) {
		h->ref_head = h->head = *target;
		h->have_ref = true;
	}
	git_reference_free(ref);
	if (!h->have_ref)
		return 0;
	struct rfs_record r;
	rc = rfs_objects_read_record(h, &h->head, &r);
	if (rc < 0 && (h->flags & RFS_HISTORY_READONLY)) {
		h->head_seq = UINT64_MAX;        /* unreadable head: verify says why */
		return 0;
	}
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	h->head_seq = r.seq;
	rfs_record_clear(&r);
	/* Whether the newest commit keeps attributes: live/ is compared with it in kind. */
	git_commit *c = NULL;
	git_tree *root = NULL;
	if (git_commit_lookup(&c, h->repo, &h->head) == 0 && git_commit_tree(&root, c) == 0)
		h->keep_xattrs = git_tree_entry_byname(root, RFS_XATTRS_MARKER) != NULL;
	git_tree_free(root);
	git_commit_free(c);
	return 0;
}

/* The repository's objects: staged (writable handles), then packs, then
** loose ones (read only). Replaces libgit2's default object store, whose
** pack list is rescanned on every miss. */
int rfs_history_open_odb(struct rfs_history *h)
{
	char *objdir = NULL;
	if (asprintf(&objdir, "%s/%s/objects", h->v->path, RFS_HISTORY_DIR) < 0)
		return -ENOMEM;
	int rc = git_odb_new(&h->odb) < 0 ? -EIO : 0;
	if (rc == 0)
		rc = rfs_pack_attach(h->odb, objdir, &h->packs);
	free(objdir);
	if (rc == 0 && git_repository_set_odb(h->repo, h->odb) < 0)
		rc = -EIO;
	if (rc == 0 && !(h->flags & RFS_HISTORY_READONLY))
		rc = rfs_stage_attach(h->odb, h->packs, &h->stage);
	return rc;
}

static int sync_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || syncfs(fd) != 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	return rc;
}

static int open_repo(struct rfs_history *h, bool create)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", h->v->path, RFS_HISTORY_DIR) < 0)
		return -ENOMEM;
	if (asprintf(&h->packdir, "%s/objects/pack", path) < 0) {
		h->packdir = NULL;
		free(path);
		return -ENOMEM;
	}
	int rc = git_repository_open_bare(&h->repo, path);
	if (rc == GIT_ENOTFOUND && create) {
		git_repository_init_options o;
		git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		o.initial_head = "main";
		o.description = "recfs history (ciphertext)";
		rc = git_repository_init_ext(&h->repo, path, &o);
		/* HEAD, config and the folders git just made must survive a power
		** cut, or git refuses the repository; one syncfs covers them all. */
		if (rc == 0 && sync_tree(path) < 0)
			rc = -1;
	}
	free(path);
	if (rc == GIT_ENOTFOUND)
		return -ENOENT;
	if (rc < 0)
		return -EIO;
	if ((rc = rfs_history_open_odb(h)) < 0)
		return rc;
	if (mkdirat(h->v->dirfd, RFS_HISTORY_DIR "/" RFS_SIDE_DIR, 0700) < 0 && errno != EEXIST &&
	    create)
		return -errno;
	h->side_fd = openat(h->v->dirfd, RFS_HISTORY_DIR "/" RFS_SIDE_DIR,
	                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->side_fd < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static char *dup_who(const char *s, const char *fallback)
{
	return strdup(s && s[0] ? s : fallback);
}

/* ---- the vault's state at open: rollback, vanished history, clean close ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry below dfd, in name order, with what any change to it changes
** (inode, type, size, mtime, ctime: ctime cannot be set back without the
** clock). Equal digests mean live/ was not touched since the clean close. */
static int digest_dir(struct rfs_tag *g, int dfd, int depth)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* not dup: its own offset */
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rfs_bytes_grow(&names, &cap, n, sizeof *names, 64) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (!(names[n] = strdup(de->d_name)))
			rc = -ENOMEM;
		else
			n++;
	}
	closedir(d);
	if (rc == 0 && n)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct stat st;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		int64_t f[8] = { (int64_t)st.st_ino, st.st_mode, st.st_size, st.st_mtim.tv_sec,
		                 st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec, depth };
		rfs_tag_update(g, names[i], strlen(names[i]) + 1);
		rfs_tag_update(g, f, sizeof f);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = sub < 0 ? -errno : digest_dir(g, sub, depth + 1);
			if (sub >= 0)
				close(sub);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int live_digest(struct rfs_history *h, uint8_t out[RFS_LIVE_DIGEST])
{
	struct rfs_tag g;
	rfs_tag_init(&g, h->v->conf.vault_id, sizeof h->v->conf.vault_id, RFS_LIVE_DIGEST);
	int rc = digest_dir(&g, h->v->live_fd, 0);
	rfs_tag_final(&g, out);
	return rc;
}

/* live/ of a vault never mounted: the root's .dirid and nothing else. */
static bool live_is_new(struct rfs_history *h)
{
	int fd = openat(h->v->live_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	bool fresh = true;
	struct dirent *de;
	while (fresh && (de = readdir(d)))
		fresh = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		        !strcmp(de->d_name, RFS_DIRID_FILE);
	closedir(d);
	return fresh;
}

static bool has_packs(struct rfs_history *h)
{
	DIR *d = opendir(h->packdir);
	if (!d)
		return false;
	bool any = false;
	struct dirent *de;
	while (!any && (de = readdir(d)))
		any = !strncmp(de->d_name, "pack-", 5);
	closedir(d);
	return any;
}

bool rfs_history_vanished(struct rfs_history *h)
{
	return !h->have_ref && !live_is_new(h);
}

enum open_state { OPEN_NEW, OPEN_CLEAN, OPEN_DIRTY };

/* Check the ref against the signed head record before anything is written.
** 0 with *st, or -ESTALE with why (a ref behind the record, on another
** history or missing; a record missing, forged, or a history vanished). */
static int check_history_state(struct rfs_history *h, struct rfs_head_rec *rec,
                               enum open_state *st, char *why, size_t whysz)
{
	char a[41], b[41];
	int rc = rfs_commit_read_head(h, rec);
	*st = OPEN_DIRTY;
	if (h->have_ref)
		git_oid_tostr(a, sizeof a, &h->ref_head);
	if (rc == 0)
		git_oid_tostr(b, sizeof b, &rec->oid);
	if (rc == -EBADMSG) {
		snprintf(why, whysz, "its signed head record %s/%s/head does not verify (forged or damaged)",
		         RFS_HISTORY_DIR, RFS_SIDE_DIR);
	} else if (rc == -ENOENT && h->have_ref) {
		snprintf(why, whysz, "its signed head record %s/%s/head is missing (history removed or "
		         "replaced?)", RFS_HISTORY_DIR, RFS_SIDE_DIR);
	} else if (rc == -ENOENT) {
		if (live_is_new(h) && !has_packs(h)) {
			*st = OPEN_NEW;
			return 0;
		}
		snprintf(why, whysz, "history has vanished: %s and the signed head record are missing, "
		         "but live/ holds records", RFS_HISTORY_REF);
	} else if (rc < 0) {
		snprintf(why, whysz, "cannot read its signed head record: %s", strerror(-rc));
	} else if (!h->have_ref && rec->seq == 0) {
		return 0;                        /* a new history whose first commit is not written yet */
	} else if (!h->have_ref) {
		snprintf(why, whysz, "history has vanished: %s is missing, the vault recorded seq %llu (%s)",
		         RFS_HISTORY_REF, (unsigned long long)rec->seq, b);
	} else if (git_oid_equal(&h->ref_head, &rec->oid)) {
		*st = rec->clean ? OPEN_CLEAN : OPEN_DIRTY;
		return 0;
	} else if (rec->seq == 0 || git_graph_descendant_of(h->repo, &h->ref_head, &rec->oid) == 1) {
		return 0;                        /* ahead: a crash between moving the ref and the record */
	} else if (git_odb_exists(h->odb, &rec->oid)
	           ? git_graph_descendant_of(h->repo, &rec->oid, &h->ref_head) == 1
	           : h->head_seq < rec->seq) {
		snprintf(why, whysz, "ref moved backwards: %s is at seq %llu (%s), the vault recorded seq "
		         "%llu (%s)", RFS_HISTORY_REF, (unsigned long long)h->head_seq, a,
		         (unsigned long long)rec->seq, b);
	} else {
		snprintf(why, whysz, "ref moved to another history: the vault recorded %s (seq %llu), which "
		         "%s (%s) does not contain", b, (unsigned long long)rec->seq, RFS_HISTORY_REF, a);
	}
	return -ESTALE;
}

static int count_diff(struct rfs_history *h, const char *cpath, char what, void *arg)
{
	(void)h;
	(void)cpath;
	(void)what;
	(*(size_t *)arg)++;
	return 0;
}

/* The record says the vault was closed cleanly: live/ must be as it was
** left. Unchanged stat digest: 0 at once. Otherwise (a copy, a restore from
** backup) its content is compared with the newest commit: equal, 0; else
** -ESTALE (changed while closed: tampering), why says how much. */
static int clean_state_holds(struct rfs_history *h, const struct rfs_head_rec *rec, char *why,
                             size_t whysz)
{
	uint8_t now[RFS_LIVE_DIGEST];
	if (live_digest(h, now) == 0 && rfs_tag_equal(now, rec->digest, RFS_LIVE_DIGEST))
		return 0;
	pthread_mutex_lock(&h->git_lock);
	h->hash_only = true;
	git_oid live;
	int rc = rfs_recover_capture_live(h, &live);
	h->hash_only = false;
	git_commit *c = NULL;
	git_tree *old = NULL, *cur = NULL;
	size_t n = 0;
	if (rc == 0 && git_commit_lookup(&c, h->repo, &h->ref_head) < 0)
		rc = -EIO;
	if (rc == 0 && !git_oid_equal(&live, git_commit_tree_id(c))) {
		if (git_commit_tree(&old, c) == 0 && git_tree_lookup(&cur, h->repo, &live) == 0)
			rfs_recover_tree_diff(h, old, cur, count_diff, &n);
		snprintf(why, whysz, "live/ was changed while the vault was closed (%zu entr%s differ%s from "
		         "the newest commit): tampering, or files put back from elsewhere", n ? n : 1,
		         n > 1 ? "ies" : "y", n > 1 ? "" : "s");
		rc = -ESTALE;
	}
	git_tree_free(old);
	git_tree_free(cur);
	git_commit_free(c);
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

/* A clean close: every save committed and durable, history not behind
** live/. The signed record then says so, with live/'s digest. */
static void mark_clean(struct rfs_history *h)
{
	uint8_t digest[RFS_LIVE_DIGEST];
	if (!h->have_ref || h->error || h->behind || h->n_durable != h->n_recorded ||
	    live_digest(h, digest) < 0)
		return;
	int rc = rfs_commit_vault_durable(h);   /* "clean" promises live/ and keys/ as they are now */
	if (rc == 0)
		rc = rfs_commit_write_head_record(h, true, digest);
	RFS_FAULT_POINT("clean_marked", h->v->dirfd);
	if (rc < 0)
		rfs_log(LOG_WARNING, "history: cannot mark %s/%s as closed cleanly: %s; the next mount "
		        "compares live/ with history", h->v->path, RFS_HISTORY_DIR, strerror(-rc));
}

static bool disk_full(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT;
}

int rfs_history_open(struct rfs_vault *v, const struct rfs_who *who, unsigned flags,
                     struct rfs_history **out, char *err, size_t errsz)
{
	git_libgit2_init();
	struct rfs_history *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	bool ro = flags & RFS_HISTORY_READONLY;
	h->v = v;
	h->flags = flags;
	h->side_fd = -1;
	h->catchup_ms = CATCHUP_MS;
	h->chunk_bytes = (uint64_t)(v->conf.chunk_blocks ? v->conf.chunk_blocks : 15) * RFS_SLOT_SIZE;
	pthread_mutex_init(&h->git_lock, NULL);
	pthread_mutex_init(&h->pack_lock, NULL);
	pthread_mutex_init(&h->q_lock, NULL);
	pthread_mutex_init(&h->stream_lock, NULL);
	pthread_cond_init(&h->q_cond, NULL);
	pthread_cond_init(&h->q_done, NULL);
	pthread_cond_init(&h->pack_cond, NULL);
	pthread_cond_init(&h->cap_cond, NULL);
	pthread_rwlock_init(&h->disposed_lock, NULL);
	h->login = dup_who(who ? who->login : NULL, "unknown");
	h->full_name = dup_who(who ? who->full_name : NULL, "");
	h->host = dup_who(who ? who->host : NULL, "unknown");
	int rc = h->login && h->full_name && h->host ? 0 : -ENOMEM;
	const char *what = "cannot open";
	if (rc == 0) {
		if (!ro)
			git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
		/* Keep big trees parsed: a root folder of 1,000 entries is 70 KB, and
		** every commit reads the one before it (libgit2 caches only 4 KB). */
		git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)TREE_CACHE_LIMIT);
		git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)OBJECT_CACHE_MAX);
		/* libgit2 keeps up to 8 GiB of packs mapped (1 GiB windows) and
		** unmaps nothing below that: merging packs read 2 GiB of them into
		** the daemon's resident memory. Small windows, a small total. */
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)PACK_WINDOW);
		git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)PACK_MAPPED_MAX);
		/* Every id we put in a tree is one we just computed from bytes we
		** wrote (or, in verify, only hashed): libgit2's check that the object
		** exists would read the header of every chunk of a big save back. */
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
		rc = open_repo(h, !ro);
	}
	if (rc == 0 && (rc = rfs_history_disposed_reload(h)) < 0)
		what = "cannot read VAULT/disposed of";
	if (rc == 0 && (rc = load_head(h)) < 0)
		what = "cannot read the newest commit (run 'recfs verify') of";
	char why[400] = "";
	bool refused = false;
	if (rc == 0 && !ro)                  /* what killed daemons and views left behind */
		(void)rfs_history_leftovers(v, true, NULL, NULL);
	if (rc == 0 && !ro) {
		bool accept = flags & RFS_HISTORY_ACCEPT_STATE;
		bool skip = flags & RFS_HISTORY_NO_RECOVERY;
		struct rfs_head_rec rec;
		enum open_state st;
		if (h->side_fd >= 0)
			unlinkat(h->side_fd, "clean", 0);   /* the old, unsigned mark: never trusted */
		rfs_recover_since_begin(h);      /* before anything reads live/ */
		rc = check_history_state(h, &rec, &st, why, sizeof why);
		h->after_crash = rc == 0 && st == OPEN_DIRTY;   /* never when a state is accepted */
		if (rc == 0 && st == OPEN_CLEAN) {
			rc = clean_state_holds(h, &rec, why, sizeof why);
			skip = skip || rc == 0;
		}
		if (rc == -ESTALE && accept) {
			rfs_log(LOG_WARNING, "history: %s; accepted on purpose (--accept-history-state)", why);
			rc = 0;
		}
		refused = rc == -ESTALE;
		if (rc == 0 && !h->keep_xattrs && h->head_seq && !(flags & RFS_HISTORY_NO_RECOVERY)) {
			h->xattrs_upgrade = true;   /* history from before attributes were kept: */
			skip = false;               /* record them from live/ once, as a recovery does */
		}
		h->keep_xattrs = true;
		if (rc == 0) {               /* from here on a crash is a crash: the record says so */
			int wrc = rfs_commit_write_head_record(h, false, NULL);
			RFS_FAULT_POINT("head_written", v->dirfd);
			if (wrc < 0)
				rfs_log(LOG_WARNING, "history: cannot mark %s/%s as open: %s", v->path,
				        RFS_HISTORY_DIR, strerror(-wrc));
		}
		if (rc == 0 && (rc = rfs_index_sync(h)) < 0)
			what = "cannot update the history index of";
		if (rc == 0 && !skip && (rc = rfs_recover(h)) < 0)
			what = "cannot bring history in line with live/ in";
		if (disk_full(rc) && !skip) {
			/* A full disk must not lock people out: live/ is whole; history
			** catches up as soon as there is room (never marked clean before). */
			rfs_log(LOG_WARNING, "history: %s %s/%s: %s; history will catch up with live/ as soon "
			        "as there is room", what, v->path, RFS_HISTORY_DIR, strerror(-rc));
			h->error = rc;
			h->behind = true;
			rc = 0;
		}
		if (flags & RFS_HISTORY_NO_RECOVERY)
			h->behind = true;        /* recovery skipped: catch up while mounted */
		if (rc == 0)
			rfs_recover_since_end(h);   /* history holds live/ (unless behind) */
		if (rc == 0)
			rc = -pthread_create(&h->packer, NULL, rfs_queue_packer, h);
		h->packer_started = rc == 0;
		if (rc == 0)
			rc = -pthread_create(&h->thread, NULL, rfs_queue_committer, h);
		h->thread_started = rc == 0;
	}
	if (rc < 0 && refused) {
		if (err)
			snprintf(err, errsz, "history of %s/%s: %s; run 'recfs verify %s' to see what changed, "
			         "then mount with --accept-history-state to accept this state on purpose",
			         v->path, RFS_HISTORY_DIR, why, v->path);
		rfs_history_close(h);
		return rc;
	}
	if (rc < 0) {
		if (err)
			snprintf(err, errsz, "%s %s/%s: %s%s", what, v->path, RFS_HISTORY_DIR, strerror(-rc),
			         rc == -ENOENT ? " (no history yet: mount the vault once)" : "");
		rfs_history_close(h);
		return rc;
	}
	*out = h;
	return 0;
}

void rfs_history_close(struct rfs_history *h)
{
	if (!h)
		return;
	if (h->thread_started) {
		rfs_history_flush(h);
		pthread_mutex_lock(&h->q_lock);
		h->stop = true;
		pthread_cond_signal(&h->q_cond);
		pthread_mutex_unlock(&h->q_lock);
		pthread_join(h->thread, NULL);
		mark_clean(h);
	}
	if (h->packer_started) {            /* after the committer: it may still ask for a merge */
		pthread_mutex_lock(&h->q_lock);
		h->packer_stop = true;
		pthread_cond_signal(&h->pack_cond);
		pthread_mutex_unlock(&h->q_lock);
		pthread_join(h->packer, NULL);
	}
	rfs_stream_close_all(h);            /* files written since their last save: nothing to keep */
	while (h->q_head) {
		struct rfs_pending *next = h->q_head->next;
		rfs_queue_pending_free(h, h->q_head);
		h->q_head = next;
	}
	if (h->thread_started && rfs_index_tags_update(h) < 0)
		rfs_log(LOG_WARNING, "history: cannot bring %s/%s/recfs/index.tags up to date: the next "
		        "'recfs log' rebuilds it", h->v->path, RFS_HISTORY_DIR);
	rfs_index_tags_close(h);
	rfs_bytes_free(&h->index_pending);
	rfs_tree_cache_free(h->tcache);
	rfs_disposed_close(h);
	git_odb_free(h->odb);
	git_repository_free(h->repo);
	if (h->side_fd >= 0)
		close(h->side_fd);
	free(h->packdir);
	free(h->login);
	free(h->full_name);
	free(h->host);
	rfs_batch_index_free(h->batch_index);
	free(h->lost);
	pthread_mutex_destroy(&h->git_lock);
	pthread_mutex_destroy(&h->pack_lock);
	pthread_mutex_destroy(&h->q_lock);
	pthread_mutex_destroy(&h->stream_lock);
	pthread_cond_destroy(&h->q_cond);
	pthread_cond_destroy(&h->q_done);
	pthread_cond_destroy(&h->pack_cond);
	pthread_cond_destroy(&h->cap_cond);
	free(h);
	git_libgit2_shutdown();
}

int rfs_history_set_attribution(struct rfs_history *h, const struct rfs_who *who, int64_t when)
{
	if (!h || !h->stage || !who)
		return -EINVAL;
	int rc = rfs_history_flush(h);
	if (rc < 0)
		return rc;
	char *login = dup_who(who->login, "unknown"), *full = dup_who(who->full_name, "");
	char *host = dup_who(who->host, "unknown");
	if (!login || !full || !host) {
		free(login);
		free(full);
		free(host);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->git_lock);   /* the committer reads these under it */
	free(h->login);
	free(h->full_name);
	free(h->host);
	h->login = login;
	h->full_name = full;
	h->host = host;
	h->fixed_time = when;
	pthread_mutex_unlock(&h->git_lock);
	return 0;
}

uint64_t rfs_history_pending(struct rfs_history *h)
{
	uint64_t n;

	pthread_mutex_lock(&h->q_lock);
	n = h->n_recorded > h->n_durable ? h->n_recorded - h->n_durable : 0;
	pthread_mutex_unlock(&h->q_lock);
	return n;
}

int rfs_history_head(struct rfs_history *h, char rev[RFS_REV_HEX + 1], uint64_t *seq)
{
	pthread_mutex_lock(&h->git_lock);
	int rc = h->head_seq ? 0 : -ENOENT;
	if (rc == 0) {
		git_oid_tostr(rev, RFS_REV_HEX + 1, &h->head);
		if (seq)
			*seq = h->head_seq;
	}
	pthread_mutex_unlock(&h->git_lock);
	return rc;
}

const char *rfs_save_kind_name(enum rfs_save_kind kind)
{
	static const char *const names[] = {
		[RFS_SAVE_CREATED] = "created", [RFS_SAVE_SAVED] = "saved",
		[RFS_SAVE_RENAMED] = "renamed", [RFS_SAVE_DELETED] = "deleted",
		[RFS_SAVE_RESTORED] = "restored", [RFS_SAVE_MODE] = "mode changed",
		[RFS_SAVE_PROPERTY] = "property changed", [RFS_SAVE_EXCHANGED] = "exchanged",
		[RFS_SAVE_RECOVERED] = "recovered",
	};
	return kind >= RFS_SAVE_CREATED && kind <= RFS_SAVE_RECOVERED ? names[kind] : "unknown";
}

