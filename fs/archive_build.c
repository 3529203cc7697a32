/*
** archive_build: see archive_build.h. In order: flush history; the records
** under PATH and their facts (retention listing, the register's destroyed
** stubs); the events of the vault's log under PATH, which give each record
** its versions (one per commit that touched it, its folder followed across
** renames); with history, each record's OCFL object, version by version,
** each file keyed by its git object id; the records as they stand, walked in
** live/ in name order, a file keyed by its newest version's id so that the
** bag stores it as a hard link; the tag files; the signature.
*/
#include "fs/archive_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/minisign.h"
#include "crypto/secmem.h"
#include "fs/cfile.h"
#include "fs/escape.h"
#include "fs/history/bytes.h"
#include "fs/live_restore.h"
#include "fs/ops_internal.h"
#include "fs/register.h"
#include "fs/retention.h"
#include "fs/walk.h"

#ifndef RECFS_VERSION
#define RECFS_VERSION "unknown"
#endif

#define STREAM_CHUNK (1u << 20)
#define MESSAGE_MAX 2000                  /* of one version's message, then "and N more" */
#define REGISTER_MAX (((size_t)1 << 31) - 2)

/* ---- small helpers ---------------------------------------------------------- */

/* Whether p is under (or is) dir; both clear, from the mount's root, "/a/b". */
static bool under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return p[0] == '/';
	return !strncmp(p, dir, n) && (p[n] == '/' || !p[n]);
}

static int strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- the events under PATH ---------------------------------------------------- */

struct ev {
	uint64_t seq;
	char rev[RFS_REV_HEX + 1];
	int64_t time;
	int tz;
	char *login, *name, *host, *path, *path_old;
	enum rfs_save_kind kind;
	enum rfs_obj_type type;
	uint8_t file_id[16];
	int64_t mtime;
	uint64_t size;
};

struct evs {
	struct ev *v;
	size_t n, cap;
	const char *top;                      /* PATH, "/Telecare" */
	int err;
};

static char *dup0(const char *s)
{
	return strdup(s ? s : "");
}

/* Newest first, as the log gives them; kept: under PATH at either end, or a rename of a
** folder that holds PATH (so a record's folder is followed when PATH itself moved). */
static int take_event(const struct rfs_version *v, void *arg)
{
	struct evs *e = arg;
	bool mine;

	if (v->destroyed || !v->path[0])
		return 0;                         /* a destroyed event names nothing: never content */
	mine = under(v->path, e->top) || (v->path_old[0] && under(v->path_old, e->top)) ||
	       ((v->kind == RFS_SAVE_RENAMED || v->kind == RFS_SAVE_EXCHANGED) &&
	        v->type == RFS_OBJ_DIR && under(e->top, v->path));
	if (!mine)
		return 0;
	if (rfs_bytes_grow(&e->v, &e->cap, e->n, sizeof(*e->v), 256) < 0)
		return e->err = -ENOMEM;
	struct ev *x = &e->v[e->n++];

	memset(x, 0, sizeof(*x));
	x->seq = v->seq;
	memcpy(x->rev, v->rev, sizeof(x->rev));
	x->time = v->time;
	x->tz = v->tz_offset;
	x->kind = v->kind;
	x->type = v->type;
	memcpy(x->file_id, v->file_id, 16);
	x->mtime = v->mtime.tv_sec;
	x->size = v->kind == RFS_SAVE_DELETED ? 0 : v->size;
	x->login = dup0(v->login);
	x->name = dup0(v->full_name);
	x->host = dup0(v->host);
	x->path = dup0(v->path);
	x->path_old = dup0(v->path_old);
	if (!x->login || !x->name || !x->host || !x->path || !x->path_old)
		return e->err = -ENOMEM;
	return 0;
}

static void evs_free(struct evs *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].login);
		free(e->v[i].name);
		free(e->v[i].host);
		free(e->v[i].path);
		free(e->v[i].path_old);
	}
	free(e->v);
}

/* ---- records ------------------------------------------------------------------ */

/* One commit that touched a record: events [first, first + count) of the log (newest first). */
struct version {
	size_t first, count;
	char *path;                           /* the record's clear path at that commit */
};

struct rec {
	char *path;                           /* clear, "/Telecare/alarm-1" */
	char *rel;                            /* under PATH: "alarm-1"; "" when PATH is the record */
	bool held;
	struct version *versions;             /* oldest first */
	size_t nversions;
	struct rfs_history_listing last;      /* its newest version's state */
	int64_t *last_mtime;                  /* per entry of last */
};

/* A file of live/ under PATH: its mtime there, which history does not keep (a touch is no
** version) and the bag gives its current bytes. */
struct live_file {
	char *path;                           /* clear, "/Telecare/a/b.txt" */
	int64_t mtime;
	uint64_t size;
};

/* One row of records.csv / records.json: its fields, in the order of row_cols. */
enum { R_PATH, R_CLASS, R_PROPERTIES, R_CLOSED, R_HOLDS, R_DUE, R_ACTION, R_AUTHORITY, R_STATE,
       R_DISPOSAL, ROW_FIELDS };
static const char *const row_cols[ROW_FIELDS] = { "path", "class", "properties", "closed",
	"holds", "due", "action", "authority", "state", "disposal" };
struct row {
	char *v[ROW_FIELDS];
};

struct build {
	struct rfs_fs *fs;
	const struct rfs_archive_request *req;
	struct rfs_archive_outcome *out;
	char *err;
	size_t errsz;
	char top[PATH_MAX];                   /* PATH, "/Telecare" */
	const char *name;                     /* its last component */
	struct rec *recs;
	size_t nrecs;
	struct row *rows;
	size_t nrows, rows_cap;
	char *organisation, *policy_text;
	struct evs evs;
	int64_t state_time;
	struct rfs_bag *bag;
	uint64_t total_files, total_bytes;
	struct live_file *live_files;         /* every file under PATH as it stands, by path */
	size_t n_live, live_cap;
	struct timespec last_progress;
	/* the file being read (history or live/) */
	const char *rev, *clear;
	const struct rfs_walk_entry *live;
	uint64_t live_size;
	struct ahead *ahead;                  /* the disk read-ahead of the current files */
};

static void progress(struct build *b, bool force)
{
	struct timespec now;
	uint64_t files, bytes;

	if (!b->req->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - b->last_progress.tv_sec) * 1000 +
	              (now.tv_nsec - b->last_progress.tv_nsec) / 1000000 < 200)
		return;
	b->last_progress = now;
	rfs_bag_progress(b->bag, &files, &bytes);
	b->req->progress(b->req->progress_arg, files, bytes,
	                 b->total_files > files ? b->total_files : files,
	                 b->total_bytes > bytes ? b->total_bytes : bytes);
}

static const char *action_name(enum rfs_action a)
{
	return a == RFS_ACTION_DESTROY ? "destroy" : a == RFS_ACTION_REVIEW ? "review" : "archive";
}

static void date_text(struct rfs_date d, char t[RFS_DATE_TEXT_SIZE])
{
	if (!rfs_date_is_set(d) || rfs_date_format(d, t) < 0)
		t[0] = '\0';
}

/* A row of these values (NULL: ""), copied. */
static int row_add(struct build *b, const char *const v[ROW_FIELDS])
{
	struct row *w;
	bool ok = true;

	if (rfs_bytes_grow(&b->rows, &b->rows_cap, b->nrows, sizeof(*b->rows), 16) < 0)
		return -ENOMEM;
	w = &b->rows[b->nrows++];
	for (size_t i = 0; i < ROW_FIELDS; i++)
		ok &= (w->v[i] = strdup(v[i] ? v[i] : "")) != NULL;
	return ok ? 0 : -ENOMEM;
}

static int row_live(struct build *b, const struct rfs_retention_listing *l,
                    const struct rfs_retention_record *r)
{
	const struct rfs_policy_class *c = &l->policy->classes[r->class_index];
	char path[PATH_MAX], closed[RFS_DATE_TEXT_SIZE], due[RFS_DATE_TEXT_SIZE], *props = NULL;
	size_t plen = 0;
	FILE *f = open_memstream(&props, &plen);
	int rc;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < r->facts.property_count; i++) {
		char t[RFS_DATE_TEXT_SIZE];

		date_text(r->facts.properties[i].date, t);
		fprintf(f, "%s%s=%s", i ? ";" : "", r->facts.properties[i].name, t);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/%s", r->path);
	date_text(r->facts.closed, closed);
	date_text(r->due, due);
	rc = row_add(b, (const char *const[ROW_FIELDS]){ path, c->name, props, closed, r->holds, due,
	                                                 action_name(c->then), c->authority, "live",
	                                                 NULL });
	free(props);
	return rc;
}

/* A record no class covers (each folder of PATH when no policy does): its path only. */
static int row_unclassified(struct build *b, const char *path)
{
	return row_add(b, (const char *const[ROW_FIELDS]){ [R_PATH] = path, [R_STATE] = "live" });
}

/* The register's destroyed records under PATH: stubs only. */
static int rows_destroyed(struct build *b)
{
	struct rfs_register reg = { 0 };
	char *text = NULL;
	size_t len = 0;
	int rc = rfs_live_read_whole(b->fs, RFS_REGISTER_PATH, REGISTER_MAX, &text, &len);

	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = rfs_register_load(text, len, b->fs->v->keys, &reg, NULL);
	for (size_t i = 0; rc == 0 && i < reg.count; i++) {
		const struct rfs_register_entry *e = &reg.entries[i];
		char path[PATH_MAX], number[24];

		snprintf(path, sizeof(path), "%s%s", *e->path == '/' ? "" : "/", e->path);
		snprintf(number, sizeof(number), "%" PRIu64, e->number);
		if (under(path, b->top))
			rc = row_add(b, (const char *const[ROW_FIELDS]){ path, e->class_name, NULL, NULL,
			                                                 NULL, e->due, "destroyed",
			                                                 e->authority, "destroyed",
			                                                 number });
	}
	rfs_register_free(&reg);
	free(text);
	return rc;
}

static int rec_add(struct build *b, const char *path, bool held)
{
	struct rec *nv = realloc(b->recs, (b->nrecs + 1) * sizeof(*b->recs));
	size_t n = strlen(b->top);

	if (!nv)
		return -ENOMEM;
	b->recs = nv;
	memset(&nv[b->nrecs], 0, sizeof(*nv));
	nv[b->nrecs].held = held;
	nv[b->nrecs].path = strdup(path);
	nv[b->nrecs].rel = strdup(strlen(path) > n ? path + n + 1 : "");
	b->nrecs++;
	return nv[b->nrecs - 1].path && nv[b->nrecs - 1].rel ? 0 : -ENOMEM;
}

/* e's path under PATH ("" for PATH itself); e->path has no leading '/'. */
static const char *rel_of_entry(const struct build *b, const struct rfs_walk_entry *e)
{
	const char *rel = e->path + strlen(b->top + 1);

	return *rel == '/' ? rel + 1 : rel;
}

/* No policy, or none of its records under PATH: each top-level folder of PATH (and not
** what they hold: the walk goes no deeper). */
static int top_folder(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before, void *arg)
{
	struct build *b = arg;
	char path[PATH_MAX];
	int rc;

	if (!before || !*rel_of_entry(b, e))
		return 0;
	if (!S_ISDIR(e->st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/%s", e->path);
	rc = rec_add(b, path, false);
	return rc < 0 ? rc : RFS_WALK_SKIP;
}

static int find_records(struct build *b)
{
	struct rfs_retention_listing l;
	struct rfs_retention_record *inside = NULL;
	uint64_t rev;
	const char *text;
	int rc = b->fs->retention ? rfs_retention_list(b->fs->retention, rfs_retention_today(), &l)
	                          : -ENOENT;

	if (rc == -ENOENT)
		rc = 0;
	else if (rc == 0) {
		if (l.policy->organisation && !(b->organisation = strdup(l.policy->organisation)))
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < l.count; i++) {
			struct rfs_retention_record *r = &l.records[i];
			char path[PATH_MAX];

			snprintf(path, sizeof(path), "/%s", r->path);
			if (under(b->top, path))
				inside = r;               /* PATH is this record, or inside it */
			else if (!under(path, b->top))
				continue;
			else
				rc = rec_add(b, path, r->hold >= 0);
			if (rc == 0 && (under(path, b->top) || inside == r))
				rc = row_live(b, &l, r);
		}
		if (rc == 0 && inside) {
			for (size_t i = 0; i < b->nrecs; i++) {
				free(b->recs[i].path);
				free(b->recs[i].rel);
			}
			b->nrecs = 0;
			rc = rec_add(b, b->top, inside->hold >= 0);
		}
		rfs_retention_listing_end(&l);
		if (rc == 0 && (text = rfs_retention_policy_text(b->fs->retention, &rev)) &&
		    !(b->policy_text = strdup(text)))
			rc = -ENOMEM;
	}
	if (rc == 0 && b->nrecs == 0) {
		rc = rfs_walk_record(b->fs, b->top + 1, top_folder, b);
		for (size_t i = 0; rc == 0 && i < b->nrecs; i++)
			rc = row_unclassified(b, b->recs[i].path);
	}
	if (rc == 0 && b->fs->retention)
		rc = rows_destroyed(b);
	for (size_t i = 0; rc == 0 && i < b->nrecs; i++) {
		rc = strv_add(&b->out->records, &b->out->n_records, b->recs[i].path);
		if (rc == 0 && b->recs[i].held)
			rc = strv_add(&b->out->held, &b->out->n_held, b->recs[i].path);
	}
	return rc;
}

/* The commits that touched r, oldest first, from the log (newest first): the record's path
** at each is followed back across renames of its folder and of the folders that hold it. */
static int find_versions(struct build *b, struct rec *r)
{
	char *cur = strdup(r->path);
	size_t i = 0, cap = 0;
	int rc = cur ? 0 : -ENOMEM;

	while (rc == 0 && i < b->evs.n) {
		size_t j = i;
		bool hit = false;
		char *at = strdup(cur);           /* the record's path after this commit */

		if (!at) {
			rc = -ENOMEM;
			break;
		}
		for (; j < b->evs.n && b->evs.v[j].seq == b->evs.v[i].seq; j++) {
			const struct ev *e = &b->evs.v[j];
			bool moved = (e->kind == RFS_SAVE_RENAMED || e->kind == RFS_SAVE_EXCHANGED) &&
			             e->type == RFS_OBJ_DIR && under(cur, e->path) && e->path_old[0];

			hit |= under(e->path, cur) || (e->path_old[0] && under(e->path_old, cur));
			if (moved) {
				char *old = NULL;

				if (asprintf(&old, "%s%s", e->path_old, cur + strlen(e->path)) < 0) {
					rc = -ENOMEM;
					break;
				}
				free(cur);
				cur = old;
			}
		}
		if (rc == 0 && hit) {
			rc = rfs_bytes_grow(&r->versions, &cap, r->nversions, sizeof(*r->versions), 16);
			if (rc == 0) {
				r->versions[r->nversions++] = (struct version){ i, j - i, at };
				at = NULL;
			}
		}
		free(at);
		i = j;
	}
	free(cur);
	for (size_t k = 0; k < r->nversions / 2; k++) {     /* oldest first */
		struct version t = r->versions[k];

		r->versions[k] = r->versions[r->nversions - 1 - k];
		r->versions[r->nversions - 1 - k] = t;
	}
	return rc;
}

/* ---- content to the bag ----------------------------------------------------------- */

/* A version's file, from history. */
static int read_history(void *arg, rfs_bag_put_fn put, void *put_arg)
{
	struct build *b = arg;

	return rfs_history_read_plain(b->fs->history, b->rev, b->clear, put, put_arg);
}

/* A file as it stands, block by block from its ciphertext in live/ (the caller holds its
** content lock, so no writer changes it between the bag's two reads). */
static int read_live(void *arg, rfs_bag_put_fn put, void *put_arg)
{
	struct build *b = arg;
	const struct rfs_walk_entry *e = b->live;
	uint8_t *key = rfs_secmem_key_alloc();
	struct rfs_cfile cf = { .key = key, .fd = -1 };
	const char *why = NULL;
	uint64_t off = 0;
	int rc = key ? 0 : -ENOMEM;

	if (rc == 0 && (cf.fd = openat(e->dirfd, e->backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = rfs_cfile_load(b->fs->v->ks, cf.fd, key, cf.file_id, &cf.hdr_flags, &why);
	if (rc == -ENODATA)
		rc = 0;                           /* 0 bytes: an empty file, no key yet */
	else if (rc == 0)
		rc = rfs_cfile_stat_size(cf.fd, &cf.size);
	if (rc == 0 && cf.size != b->live_size)
		rc = -EAGAIN;                     /* cannot be: the caller holds the file's lock */
	while (rc == 0 && off < cf.size) {
		const uint8_t *clear;
		ssize_t n = rfs_cfile_read(&cf, STREAM_CHUNK, off, &clear);

		rc = n < 0 ? (int)n : n == 0 ? -EIO : put(put_arg, clear, (size_t)n);
		off += n > 0 ? (uint64_t)n : 0;
	}
	if (cf.fd >= 0)
		close(cf.fd);
	rfs_secmem_key_free(key);
	return rc;
}

/* What the walk will read: for the progress line's totals. */
static int count_entry(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before, void *arg)
{
	struct build *b = arg;

	struct live_file *f;

	if (!before || !S_ISREG(e->st.st_mode))
		return 0;
	b->total_files++;
	b->total_bytes += (uint64_t)e->st.st_size;
	if (rfs_bytes_grow(&b->live_files, &b->live_cap, b->n_live, sizeof(*b->live_files), 64) < 0)
		return -ENOMEM;
	f = &b->live_files[b->n_live];
	if (asprintf(&f->path, "/%s", e->path) < 0)
		return -ENOMEM;
	f->mtime = e->st.st_mtim.tv_sec;
	f->size = (uint64_t)e->st.st_size;
	b->n_live++;
	return 0;
}

static int live_cmp(const void *a, const void *b)
{
	return strcmp(((const struct live_file *)a)->path, ((const struct live_file *)b)->path);
}

static const struct live_file *live_find(const struct build *b, const char *path)
{
	struct live_file key = { .path = (char *)path };

	return b->n_live ? bsearch(&key, b->live_files, b->n_live, sizeof(key), live_cmp) : NULL;
}

/* ---- history: one OCFL object per record --------------------------------------- */

/* A file's bytes keep one mtime for as long as they stay the same: the last one it had before
** its next save (a touch, a chmod, a rename change no bytes). That is the mtime its content
** gets in the object: the version that stores the bytes stores them once, with it, and a
** current file that links to them shows the mtime it has in the mount. */
struct epoch {
	uint8_t id[16];
	uint64_t seq;                         /* the save that gave the file these bytes */
	int64_t mtime;                        /* its mtime until the next save */
};

struct epochs {
	struct epoch *v;
	size_t n, cap;
};

static bool changes_bytes(enum rfs_save_kind k)
{
	return k == RFS_SAVE_CREATED || k == RFS_SAVE_SAVED || k == RFS_SAVE_RESTORED ||
	       k == RFS_SAVE_RECOVERED;
}

static int epoch_cmp(const void *a, const void *b)
{
	const struct epoch *x = a, *y = b;
	int c = memcmp(x->id, y->id, 16);

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The epochs of every file of r, from its events oldest first. */
static int epochs_of(const struct build *b, const struct rec *r, struct epochs *m)
{
	static const uint8_t zero[16];

	for (size_t k = 0; k < r->nversions; k++) {
		const struct version *v = &r->versions[k];

		for (size_t i = v->first + v->count; i-- > v->first;) {
			const struct ev *x = &b->evs.v[i];
			struct epoch *last = NULL;

			if (x->type != RFS_OBJ_FILE || x->kind == RFS_SAVE_DELETED ||
			    !memcmp(x->file_id, zero, 16))
				continue;
			for (size_t j = m->n; j-- > 0 && !last;)   /* the file's newest epoch */
				last = !memcmp(m->v[j].id, x->file_id, 16) ? &m->v[j] : NULL;
			if (last && !changes_bytes(x->kind)) {
				last->mtime = x->mtime;
				continue;
			}
			if (rfs_bytes_grow(&m->v, &m->cap, m->n, sizeof(*m->v), 64) < 0)
				return -ENOMEM;
			memcpy(m->v[m->n].id, x->file_id, 16);
			m->v[m->n].seq = x->seq;
			m->v[m->n++].mtime = x->mtime;
		}
	}
	if (m->n)
		qsort(m->v, m->n, sizeof(*m->v), epoch_cmp);
	return 0;
}

/* The mtime of file id's bytes at commit seq; dflt when its events do not say. */
static int64_t epoch_mtime(const struct epochs *m, const uint8_t id[16], uint64_t seq, int64_t dflt)
{
	size_t lo = 0, hi = m->n;
	struct epoch key;

	memcpy(key.id, id, 16);
	key.seq = seq;
	while (lo < hi) {                     /* the first epoch after (id, seq) */
		size_t mid = (lo + hi) / 2;

		if (epoch_cmp(&m->v[mid], &key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && !memcmp(m->v[lo - 1].id, id, 16) ? m->v[lo - 1].mtime : dflt;
}

/* A path of an event as the message names it: under the record, relative to it; the
** record itself, its name; elsewhere (moved in or out), from the mount's root. */
static const char *message_path(const char *p, const char *record)
{
	size_t n = strlen(record);

	if (!strcmp(p, record))
		return strrchr(p, '/') + 1;
	return under(p, record) ? p + n + 1 : p;
}

/* The version's message: what happened, oldest first, paths relative to the record. */
static void message_of(struct build *b, const struct version *v, char *out, size_t size)
{
	size_t len = 0, shown = 0;

	out[0] = '\0';
	for (size_t k = v->first + v->count; k-- > v->first;) {     /* oldest event first */
		const struct ev *e = &b->evs.v[k];
		const char *p = message_path(e->path, v->path), *o = e->path_old;
		int w;

		if (!under(e->path, v->path) && !(o[0] && under(o, v->path)))
			continue;
		if (o[0] && under(o, v->path))
			o = message_path(o, v->path);
		else if (o[0] && !strcmp(e->path, v->path))
			o = strrchr(o, '/') + 1;          /* the record's own folder renamed */
		if (len > MESSAGE_MAX) {
			shown++;
			continue;
		}
		if (o[0] && (e->kind == RFS_SAVE_RENAMED || e->kind == RFS_SAVE_EXCHANGED))
			w = snprintf(out + len, size - len, "%s%s %s to %s", len ? "; " : "",
			             rfs_save_kind_name(e->kind), o, p);
		else
			w = snprintf(out + len, size - len, "%s%s %s", len ? "; " : "",
			             rfs_save_kind_name(e->kind), p);
		len += w > 0 && (size_t)w < size - len ? (size_t)w : 0;
	}
	if (shown)
		snprintf(out + len, size - len, "; and %zu more", shown);
}

/* The current bytes of a file keep the mtime they have in the mount (history keeps no
** touch): the epoch of each file in the record's newest version ends with it. */
static void epochs_to_live(const struct build *b, const struct rec *r, struct epochs *m)
{
	const struct ev *head = &b->evs.v[r->versions[r->nversions - 1].first];

	for (size_t i = 0; i < r->last.count; i++) {
		const struct rfs_history_entry *e = &r->last.entries[i];
		const struct live_file *f;
		char *clear = NULL;

		if (e->type != RFS_OBJ_FILE || asprintf(&clear, "%s/%s", r->path, e->path) < 0)
			continue;
		f = live_find(b, clear);
		free(clear);
		if (!f || f->size != e->size)
			continue;                 /* changed since: no link to it either */
		for (size_t j = m->n; j-- > 0;) {
			if (!memcmp(m->v[j].id, e->file_id, 16) && m->v[j].seq <= head->seq) {
				m->v[j].mtime = f->mtime;
				break;
			}
		}
	}
}

static int object_of(struct build *b, struct rec *r)
{
	struct epochs mt = { 0 };
	char dir[PATH_MAX], id[PATH_MAX + 64];
	const struct version *newest = &r->versions[r->nversions - 1];
	bool begun = false, opened = false;
	int rc;

	snprintf(dir, sizeof(dir), "%s", *r->rel ? r->rel : b->name);
	/* Ids keep all 16 digits: they must not change with how a key id is shown. */
	snprintf(id, sizeof(id), "recfs:%016" PRIX64 ":%s", rfs_minisign_keyid_number(b->fs->v->keys->archive_key_id), r->path);
	rc = epochs_of(b, r, &mt);
	if (rc == 0)
		rc = rfs_history_list(b->fs->history, b->evs.v[newest->first].rev, newest->path, &r->last);
	if (rc == -ENOENT)
		rc = 0;                           /* deleted at its newest commit: an empty state */
	if (rc == 0)
		epochs_to_live(b, r, &mt);
	for (size_t k = 0; rc == 0 && k < r->nversions; k++) {
		const struct version *v = &r->versions[k];
		const struct ev *head = &b->evs.v[v->first];
		struct rfs_history_listing mine = { 0 }, *l = v == newest ? &r->last : &mine;
		char *msg = malloc(MESSAGE_MAX + 256), user[256], addr[512];

		if (!msg) {
			rc = -ENOMEM;
			break;
		}
		message_of(b, v, msg, MESSAGE_MAX + 256);
		snprintf(user, sizeof(user), "%s", *head->name ? head->name : head->login);
		snprintf(addr, sizeof(addr), "mailto:%s@%s", head->login, head->host);
		if (head->time > b->state_time)
			b->state_time = head->time;
		if (v != newest)
			rc = rfs_history_list(b->fs->history, head->rev, v->path, &mine);
		if (rc == -ENOENT)
			rc = 0;                   /* not there at that commit (deleted): an empty state */
		/* The object starts with the first commit at which the record holds a file: its
		** folders alone are no content (OCFL has no folders), and an object of no file
		** is not made at all. */
		for (size_t i = 0; rc == 0 && !begun && i < l->count; i++)
			begun = l->entries[i].type == RFS_OBJ_FILE;
		if (rc == 0 && begun && !opened) {
			rc = rfs_bag_object_begin(b->bag, dir, id);
			opened = rc == 0;
		}
		if (rc == 0 && !opened) {
			rfs_history_listing_free(&mine);
			free(msg);
			continue;
		}
		if (rc == 0)
			rc = rfs_bag_version_begin(b->bag, head->time, head->tz, user, addr, msg);
		b->rev = head->rev;
		for (size_t i = 0; rc == 0 && i < l->count; i++) {
			const struct rfs_history_entry *e = &l->entries[i];
			char *clear = NULL;

			if (e->type != RFS_OBJ_FILE)
				continue;             /* OCFL has no folders of its own, nor links */
			if (asprintf(&clear, "%s/%s", v->path, e->path) < 0) {
				rc = -ENOMEM;
				break;
			}
			b->clear = clear;
			rc = rfs_bag_version_file(b->bag, e->path,
			                          epoch_mtime(&mt, e->file_id, head->seq, head->time),
			                          e->size, e->oid, read_history, b);
			if (rc < 0)
				snprintf(b->err, b->errsz, "%s at %.12s: %s", clear, head->rev, strerror(-rc));
			free(clear);
			progress(b, false);
		}
		if (rc == 0)
			rc = rfs_bag_version_end(b->bag);
		if (rc == 0 && v == newest) {     /* kept for the records as they stand */
			r->last_mtime = calloc(l->count ? l->count : 1, sizeof(*r->last_mtime));
			for (size_t i = 0; r->last_mtime && i < l->count; i++)
				r->last_mtime[i] = epoch_mtime(&mt, l->entries[i].file_id, head->seq,
				                               head->time);
			rc = r->last_mtime ? 0 : -ENOMEM;
		}
		rfs_history_listing_free(&mine);
		free(msg);
	}
	if (rc == 0 && opened)
		rc = rfs_bag_object_end(b->bag);
	free(mt.v);
	return rc;
}

/* ---- the records as they stand --------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(a, ((const struct rfs_history_entry *)b)->path);
}

/* The key of the newest version of the file at clear path p, when live/ still has those bytes. */
static const char *key_of(struct build *b, const char *p, const struct stat *st)
{
	for (size_t i = 0; i < b->nrecs; i++) {
		struct rec *r = &b->recs[i];
		const struct rfs_history_entry *e;

		if (!r->last.count || !under(p, r->path) || !p[strlen(r->path)])
			continue;
		e = bsearch(p + strlen(r->path) + 1, r->last.entries, r->last.count,
		            sizeof(*r->last.entries), entry_cmp);
		if (e && e->type == RFS_OBJ_FILE && e->size == (uint64_t)st->st_size &&
		    r->last_mtime[e - r->last.entries] == st->st_mtim.tv_sec)
			return e->oid;
		return NULL;
	}
	return NULL;
}

static int left_out(struct build *b, const char *rel, const char *target)
{
	char *line = NULL;
	int rc;

	if (asprintf(&line, "%s/%s -> %s: the link points outside the archive, left out", b->top,
	             rel, target) < 0)
		return -ENOMEM;
	rc = strv_add(&b->out->left_out, &b->out->n_left_out, line);
	free(line);
	return rc;
}

/* ---- read-ahead ------------------------------------------------------------------ */

/* The current files are read one after another, each decrypted and hashed before the next
** is opened. A second walk of the same tree, on a thread of its own, asks the disk for each
** file's ciphertext (POSIX_FADV_WILLNEED) while the files before it are still being
** hashed, at most AHEAD_WINDOW ahead of the reader, so that the disk and the CPU work at
** once. It only hints: what it reads is ciphertext, into the page cache. */
#define AHEAD_WINDOW (64u << 20)

struct ahead {
	struct rfs_fs *fs;
	const char *path;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t asked, done;                 /* bytes hinted, and bytes the reader is past */
	bool stop;
};

static int ahead_entry(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before, void *arg)
{
	struct ahead *a = arg;
	bool stop;
	int fd;

	if (!before || !S_ISREG(e->st.st_mode))
		return 0;
	pthread_mutex_lock(&a->mu);
	while (!a->stop && a->asked > a->done + AHEAD_WINDOW)
		pthread_cond_wait(&a->cv, &a->mu);
	stop = a->stop;
	a->asked += (uint64_t)e->st.st_size;
	pthread_mutex_unlock(&a->mu);
	if (stop)
		return -ECANCELED;
	fd = openat(e->dirfd, e->backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
	return 0;
}

static void *ahead_main(void *arg)
{
	struct ahead *a = arg;

	(void)rfs_walk_record(a->fs, a->path, ahead_entry, a);
	return NULL;
}

/* NULL when it cannot start: the archive is only slower. */
static struct ahead *ahead_start(struct rfs_fs *fs, const char *path)
{
	struct ahead *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->fs = fs;
	a->path = path;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, ahead_main, a) != 0) {
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return NULL;
	}
	return a;
}

static void ahead_passed(struct ahead *a, uint64_t bytes)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->done += bytes;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static void ahead_stop(struct ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static int current_entry(struct rfs_fs *fs, const struct rfs_walk_entry *e, bool before, void *arg)
{
	struct build *b = arg;
	const char *rel = rel_of_entry(b, e);
	const struct rfs_folder_keys *fk;
	char target[PATH_MAX], clear[PATH_MAX];
	int rc;

	if (!before || !*rel)
		return 0;                         /* PATH itself is data/records/ */
	if (S_ISDIR(e->st.st_mode))
		return rfs_bag_folder(b->bag, rel, e->st.st_mode, e->st.st_mtim.tv_sec);
	if (S_ISREG(e->st.st_mode)) {
		struct stat now;
		int fd;

		snprintf(clear, sizeof(clear), "/%s", e->path);
		b->live = e;
		pthread_rwlock_rdlock(&e->in->content);     /* no writer changes it half way */
		/* Its size and mtime now, under the lock: a save since the lookup is in. */
		fd = openat(e->dirfd, e->backing, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		rc = fd < 0 ? -errno : rfs_cfile_stat_size(fd, &b->live_size);
		if (rc == 0 && fstat(fd, &now) != 0)
			rc = -errno;
		if (fd >= 0)
			close(fd);
		if (rc == 0) {
			now.st_size = (off_t)b->live_size;
			rc = rfs_bag_file(b->bag, rel, e->st.st_mode, now.st_mtim.tv_sec, b->live_size,
			                  b->req->history ? key_of(b, clear, &now) : NULL, read_live, b);
		}
		pthread_rwlock_unlock(&e->in->content);
		ahead_passed(b->ahead, (uint64_t)e->st.st_size);
		if (rc < 0)
			snprintf(b->err, b->errsz, "%s: %s", clear, strerror(-rc));
		progress(b, false);
		return rc;
	}
	if (!S_ISLNK(e->st.st_mode))
		return 0;
	rc = rfs_ops_folder_keys(fs, e->dir, &fk);
	if (rc < 0)
		return rc;
	rc = rfs_ops_open_target(fs, fk, e->dirfd, e->backing, target);
	rfs_vault_folder_keys_put(fs->v, fk);
	if (rc >= 0)
		rc = rfs_bag_symlink(b->bag, rel, target, e->st.st_mtim.tv_sec);
	return rc == -EXDEV ? left_out(b, rel, target) : rc < 0 ? rc : 0;
}

/* ---- tag files ------------------------------------------------------------------ */

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->v[R_PATH], ((const struct row *)b)->v[R_PATH]);
}

static int tag_text(struct build *b, const char *name, char *text, size_t len)
{
	return text ? rfs_bag_tag_file(b->bag, name, text, len) : -ENOMEM;
}

static int tag_files(struct build *b)
{
	char *csv = NULL, *json = NULL;
	size_t csv_len = 0, json_len = 0;
	FILE *c = open_memstream(&csv, &csv_len), *j = open_memstream(&json, &json_len);
	int rc = c && j ? 0 : -ENOMEM;

	if (b->nrows)
		qsort(b->rows, b->nrows, sizeof(*b->rows), row_cmp);
	for (size_t k = 0; c && k < ROW_FIELDS; k++) {
		rfs_escape_csv(c, row_cols[k]);
		fputs(k + 1 == ROW_FIELDS ? "\r\n" : ",", c);
	}
	if (j)
		fputs("{\n  \"records\": [", j);
	for (size_t i = 0; c && j && i < b->nrows; i++) {
		char *const *v = b->rows[i].v;

		fputs(i ? ",\n    {" : "\n    {", j);
		for (size_t k = 0; k < ROW_FIELDS; k++) {
			rfs_escape_csv(c, v[k]);
			fputs(k + 1 == ROW_FIELDS ? "\r\n" : ",", c);
			fprintf(j, "%s\n      ", k ? "," : "");
			rfs_escape_json(j, row_cols[k]);
			fputs(": ", j);
			if (k == R_DISPOSAL)
				fputs(*v[k] ? v[k] : "null", j);   /* a number */
			else
				rfs_escape_json(j, v[k]);
		}
		fputs("\n    }", j);
	}
	if (j)
		fputs(b->nrows ? "\n  ]\n}\n" : "]\n}\n", j);
	if (c)
		fclose(c);
	if (j)
		fclose(j);
	if (rc == 0)
		rc = tag_text(b, "records.csv", csv, csv_len);
	if (rc == 0)
		rc = tag_text(b, "records.json", json, json_len);
	if (rc == 0 && b->policy_text)
		rc = rfs_bag_tag_file(b->bag, "retention-schedule.conf", b->policy_text,
		                      strlen(b->policy_text));
	free(csv);
	free(json);
	return rc;
}

/* ---- signature --------------------------------------------------------------------- */

static int sign(struct build *b)
{
	const struct rfs_keys *k = b->fs->v->keys;
	char sha[129], stamp[RFS_TIMESTAMP_TEXT_SIZE] = "", *trusted = NULL, *untrusted = NULL;
	const char *vault = strrchr(b->fs->v->path, '/');
	int rc;

	vault = vault && vault[1] ? vault + 1 : b->fs->v->path;
	rfs_minisign_keyid_hex(k->archive_key_id, b->out->key_id);
	rfs_hex_encode(sha, b->out->bag.sha512, 64);
	(void)rfs_date_timestamp_format((struct rfs_timestamp){ b->state_time, 0 }, stamp);
	if (asprintf(&trusted, "recfs archive of %s as of %s sha512:%s", b->top, stamp, sha) < 0)
		trusted = NULL;
	if (asprintf(&untrusted, "signature from the archive key of recfs vault %s", vault) < 0)
		untrusted = NULL;
	rc = trusted && untrusted ? 0 : -ENOMEM;
	if (rc == 0)
		rc = rfs_minisign_sign(k->archive_sign_sk, k->archive_key_id, b->out->bag.blake2b512,
		                       untrusted, trusted, &b->out->signature);
	free(untrusted);
	untrusted = NULL;
	if (rc == 0 && asprintf(&untrusted, "archive key of recfs vault %s (minisign -Vm FILE -p %s.pub)",
	                        vault, vault) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = rfs_minisign_pubkey_text(k->archive_key_id, k->archive_sign_pk, untrusted,
		                              &b->out->pubkey);
	free(trusted);
	free(untrusted);
	return rc;
}

/* What the objects will store, for the progress line: each file's sizes once (a save that
** kept the size counts as the same bytes: a guess). */
static int history_guess(const struct build *b, uint64_t *files, uint64_t *bytes)
{
	struct epoch *v = calloc(b->evs.n ? b->evs.n : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->evs.n; i++) {
		const struct ev *e = &b->evs.v[i];

		if (e->type == RFS_OBJ_FILE && changes_bytes(e->kind) && e->size) {
			memcpy(v[n].id, e->file_id, 16);
			v[n++].seq = e->size;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), epoch_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !epoch_cmp(&v[i - 1], &v[i]))
			continue;
		(*files)++;
		*bytes += v[i].seq;
	}
	free(v);
	return 0;
}

/* ---- the whole ------------------------------------------------------------------- */

static int normalise(struct build *b, const char *path)
{
	size_t n = 0;

	for (const char *p = path; *p; p++) {
		if (*p == '/' && (n == 0 || b->top[n - 1] == '/'))
			continue;
		if (n + 2 >= sizeof(b->top))
			return -ENAMETOOLONG;
		if (n == 0)
			b->top[n++] = '/';
		b->top[n++] = *p;
	}
	while (n > 1 && b->top[n - 1] == '/')
		n--;
	b->top[n] = '\0';
	if (n <= 1)
		return -EINVAL;
	for (const char *s = b->top; s; s = strchr(s + 1, '/')) {
		if (!strncmp(s, "/./", 3) || !strcmp(s, "/.") || !strncmp(s, "/../", 4) ||
		    !strcmp(s, "/.."))
			return -EINVAL;
	}
	b->name = strrchr(b->top, '/') + 1;
	return 0;
}

static void build_free(struct build *b)
{
	for (size_t i = 0; i < b->nrecs; i++) {
		free(b->recs[i].path);
		free(b->recs[i].rel);
		for (size_t k = 0; k < b->recs[i].nversions; k++)
			free(b->recs[i].versions[k].path);
		free(b->recs[i].versions);
		rfs_history_listing_free(&b->recs[i].last);
		free(b->recs[i].last_mtime);
	}
	free(b->recs);
	for (size_t i = 0; i < b->nrows; i++) {
		for (size_t k = 0; k < ROW_FIELDS; k++)
			free(b->rows[i].v[k]);
	}
	free(b->rows);
	for (size_t i = 0; i < b->n_live; i++)
		free(b->live_files[i].path);
	free(b->live_files);
	free(b->organisation);
	free(b->policy_text);
	evs_free(&b->evs);
}

static int build_run(struct build *b)
{
	const struct rfs_archive_request *req = b->req;
	struct rfs_walk_at *at = malloc(sizeof(*at));
	char ext_id[PATH_MAX + 64], agent[64];
	uint64_t hist_files = 0, hist_bytes = 0;
	int rc = at ? rfs_walk_get(b->fs, b->top + 1, at) : -ENOMEM;

	if (at)
		rfs_walk_put(b->fs, at);
	free(at);
	if (rc < 0) {
		snprintf(b->err, b->errsz, "%s is not a folder of the mount: %s", b->top, strerror(-rc));
		return rc;
	}
	if (b->fs->history && (rc = rfs_history_flush(b->fs->history)) < 0) {
		snprintf(b->err, b->errsz, "history could not be flushed (%s): the archive would not "
		         "be the committed state; see 'recfs log --daemon'", strerror(-rc));
		return rc;
	}
	if ((rc = find_records(b)) < 0) {
		snprintf(b->err, b->errsz, "the records under %s could not be listed: %s", b->top,
		         strerror(-rc));
		return rc;
	}
	b->evs.top = b->top;
	if (b->fs->history) {
		rc = rfs_history_log(b->fs->history, NULL, 0, take_event, &b->evs);
		rc = rc < 0 ? rc : b->evs.err;
	}
	for (size_t i = 0; rc == 0 && i < b->evs.n; i++) {
		if (b->evs.v[i].time > b->state_time && under(b->evs.v[i].path, b->top))
			b->state_time = b->evs.v[i].time;
	}
	if (rc == 0 && req->history)
		rc = history_guess(b, &hist_files, &hist_bytes);
	for (size_t i = 0; rc == 0 && req->history && i < b->nrecs; i++)
		rc = find_versions(b, &b->recs[i]);
	if (rc == 0)
		rc = rfs_walk_record(b->fs, b->top + 1, count_entry, b);
	/* With history the current bytes are mostly links to what the objects stored. */
	b->total_files += hist_files;
	b->total_bytes = hist_bytes > b->total_bytes ? hist_bytes : b->total_bytes;
	if (rc == 0 && b->n_live)
		qsort(b->live_files, b->n_live, sizeof(*b->live_files), live_cmp);
	if (rc < 0) {
		snprintf(b->err, b->errsz, "the history of %s could not be read: %s", b->top,
		         strerror(-rc));
		return rc;
	}
	snprintf(ext_id, sizeof(ext_id), "recfs:%016" PRIX64 ":%s", rfs_minisign_keyid_number(b->fs->v->keys->archive_key_id), b->top);
	snprintf(agent, sizeof(agent), "recfs %s", RECFS_VERSION);
	struct rfs_bag_info info = { .name = b->name, .source_organization = b->organisation,
	                             .external_identifier = ext_id, .software_agent = agent,
	                             .note = req->note, .state_time = b->state_time };
	struct rfs_bag_out o = { .fd = req->out_fd, .compress = req->compress,
	                         .recipients = req->recipients, .n_recipients = req->n_recipients };

	if (lseek(req->out_fd, 0, SEEK_SET) < 0 && errno != ESPIPE) {
		rc = -errno;
		snprintf(b->err, b->errsz, "the output file cannot be written from its start: %s",
		         strerror(-rc));
		return rc;
	}
	rc = rfs_bag_start(&info, &o, &b->bag, b->err, b->errsz);
	if (rc < 0)
		return rc;
	progress(b, true);
	for (size_t i = 0; rc == 0 && req->history && i < b->nrecs; i++) {
		if (b->recs[i].nversions)
			rc = object_of(b, &b->recs[i]);
	}
	if (rc == 0) {
		b->ahead = ahead_start(b->fs, b->top + 1);
		rc = rfs_walk_record(b->fs, b->top + 1, current_entry, b);
		ahead_stop(b->ahead);
		b->ahead = NULL;
	}
	if (rc == 0)
		rc = tag_files(b);
	if (rc < 0) {
		if (!b->err[0])
			snprintf(b->err, b->errsz, "the archive of %s could not be written: %s", b->top,
			         strerror(-rc));
		rfs_bag_abort(b->bag);
		b->bag = NULL;
		return rc;
	}
	progress(b, true);
	rc = rfs_bag_finish(b->bag, &b->out->bag, b->err, b->errsz);
	b->bag = NULL;
	if (rc == 0 && (rc = sign(b)) < 0)
		snprintf(b->err, b->errsz, "the archive could not be signed: %s", strerror(-rc));
	return rc;
}

int rfs_archive_build(struct rfs_fs *fs, const struct rfs_archive_request *req,
                      struct rfs_archive_outcome *out, char *err, size_t errsz)
{
	struct build *b = calloc(1, sizeof(*b));
	int rc = b ? 0 : -ENOMEM;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (rc == 0) {
		b->fs = fs;
		b->req = req;
		b->out = out;
		b->err = err;
		b->errsz = errsz;
		if ((rc = normalise(b, req->path ? req->path : "")) < 0)
			snprintf(err, errsz, "'%s' is not a folder of the mount to archive (give a folder "
			         "below its root, such as /Telecare)", req->path ? req->path : "");
	}
	if (rc == 0 && req->history && !fs->history) {
		snprintf(err, errsz, "this mount keeps no history: archive without --history");
		rc = -EOPNOTSUPP;
	}
	if (rc == 0)
		rc = build_run(b);
	if (b)
		build_free(b);
	free(b);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errsz, "%s", strerror(-rc));
		rfs_archive_outcome_free(out);
	}
	return rc;
}

void rfs_archive_outcome_free(struct rfs_archive_outcome *o)
{
	free(o->signature);
	free(o->pubkey);
	strv_free(o->records, o->n_records);
	strv_free(o->held, o->n_held);
	strv_free(o->left_out, o->n_left_out);
	memset(o, 0, sizeof(*o));
}
