/*
** retention: see retention.h. The state is the fold of /.recfs/retention/journal; the rules
** are policy/'s. The live tree is read straight from live/ (names opened with the folder's
** keys) so that a listing needs no FUSE request and no inode of the kernel's.
*/
#include "fs/retention.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/keyslot.h"
#include "fs/dname.h"
#include "fs/live_restore.h"
#include "fs/log.h"
#include "fs/ops_internal.h"

#define JOURNAL_MAX ((64u << 20) - 2)   /* the longest journal read at mount */
#define MAX_JOURNAL_FIELDS 128
#define RULE_SIZE 400

/* What the journal says of one record (kept sorted by path). */
struct rec_state {
	char *path;
	struct rfs_date closed;
	size_t nprops;
	struct rfs_record_property *props;   /* names owned */
	bool approved;
	struct rfs_date extended_until;
	bool sealed;                         /* locked for good by close-service */
	struct rfs_date sealed_on;
};

/* A hold and what the journal says of it; h's strings point into the owned copies. */
struct held {
	struct rfs_hold h;
	char **paths;
	char *placed_by, *placed_at, *released_by, *released_at, *reason;
};

/* One record of the records table: what a listing cannot get from the journal. */
struct table_rec {
	char *path;
	size_t class_index;
	struct rfs_date created;
};

struct rfs_retention {
	struct rfs_fs *fs;
	bool active;                  /* a policy is in force */
	bool checks;                  /* active, or the state folder is there (the transfer log of
	                                 an archive with no policy): the FUSE checks run; read
	                                 without the lock (one branch) */
	bool unreadable;              /* policy.conf or the journal failed to read at mount */
	pthread_rwlock_t lock;        /* everything below */
	pthread_mutex_t change;       /* one change at a time, from check to saved */
	struct rfs_policy *policy;
	char *policy_text;
	uint64_t policy_rev;
	size_t journal_len;           /* the journal grows by appends of one line */
	uint64_t seq;
	struct rec_state *recs;       /* in the order the journal first names them */
	size_t nrecs, caprecs;
	size_t *rec_slots;            /* open addressing on path: index + 1 into recs, 0 = empty */
	size_t nslots;                /* a power of two, at least twice nrecs */
	struct held *holds;
	size_t nholds;
	struct rfs_hold *hview;       /* holds[i].h side by side, as policy/ takes them */
	bool any_hold_in_force;       /* some hold is not released */
	bool any_sealed;              /* some record is locked for good */
	char login[RFS_PEER_NAME_SIZE], full_name[256], host[256];
	struct rfs_who mounter;
	/* The records of live/ under the policy in force, with their created dates: a listing is
	** a pass over it. live_gen counts the changes of live/ that may add, remove or move a
	** record (bumped before each such FUSE request, atomic); the table is good while table_gen
	** equals it and table_policy is the policy in force. */
	struct table_rec *table;      /* sorted by path */
	size_t table_count;
	char **table_unclassified;    /* sorted */
	size_t table_unclassified_count;
	const struct rfs_policy *table_policy;
	uint64_t table_gen, live_gen;
	int64_t last_change_ms;       /* CLOCK_MONOTONIC of the last bump (atomic) */
};

/* A FUSE request bumps live_gen before it acts: a walk begun within this long after a bump
** may miss what that request then did, so its table is used once and walked again next. */
#define QUIET_MS 1000

static unsigned vault_format(const struct rfs_vault *v)
{
	return v->format;
}

/* ---- small helpers ---- */

/* n strings of v, then v (NULL is allowed). */
static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int32_t local_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	return localtime_r(&tt, &tm) ? (int32_t)tm.tm_gmtoff : 0;
}

struct rfs_date rfs_retention_today(void)
{
	/* Per thread, for a minute: the checks of the FUSE handlers read it on every request. */
	static __thread int64_t until;
	static __thread struct rfs_date day;
	int64_t now = (int64_t)time(NULL);

	if (now >= until) {
		day = RFS_DATE_NONE;
		(void)rfs_date_from_unix(now, local_offset(now), &day);
		until = now + 60 - now % 60;
	}
	return day;
}

static void now_stamp(char out[RFS_TIMESTAMP_TEXT_SIZE])
{
	int64_t now = (int64_t)time(NULL);
	struct rfs_timestamp t = { now, local_offset(now) };

	if (rfs_date_timestamp_format(t, out) < 0)
		snprintf(out, RFS_TIMESTAMP_TEXT_SIZE, "1970-01-01T00:00:00Z");
}

static struct rfs_date date_of_unix(int64_t t)
{
	struct rfs_date d = RFS_DATE_NONE;

	(void)rfs_date_from_unix(t, local_offset(t), &d);
	return d;
}

static struct rfs_date parse_date(const char *s)
{
	struct rfs_date d = RFS_DATE_NONE;

	if (s && *s && rfs_date_parse(s, strlen(s), &d) < 0)
		d = RFS_DATE_NONE;
	return d;
}

static struct rfs_date stamp_date(const char *s)
{
	struct rfs_timestamp t;
	struct rfs_date d = RFS_DATE_NONE;

	if (s && rfs_date_timestamp_parse(s, strlen(s), &t) == 0)
		(void)rfs_date_timestamp_local_date(t, &d);
	return d;
}

static const char *date_text(struct rfs_date d, char buf[RFS_DATE_TEXT_SIZE])
{
	if (!rfs_date_is_set(d) || rfs_date_format(d, buf) < 0)
		buf[0] = '\0';
	return buf;
}

/* path without its leading and trailing '/', in place. */
static char *trim_path(char *path)
{
	size_t len;

	while (*path == '/')
		path++;
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		path[--len] = '\0';
	return path;
}

static bool is_state_path(const char *path, size_t len)
{
	size_t dl = sizeof(RFS_RETENTION_DIR) - 1;

	return len >= dl && !memcmp(path, RFS_RETENTION_DIR, dl) && (len == dl || path[dl] == '/');
}

/* ---- the state ---- */

static size_t path_hash(const char *s)
{
	size_t h = 1469598103934665603u;       /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

/* The slot of path: its record's, or the empty one where it would go. */
static size_t *rec_slot(struct rfs_retention *r, const char *path)
{
	size_t mask = r->nslots - 1, i = path_hash(path) & mask;

	while (r->rec_slots[i] && strcmp(r->recs[r->rec_slots[i] - 1].path, path) != 0)
		i = (i + 1) & mask;
	return &r->rec_slots[i];
}

static struct rec_state *rec_find(struct rfs_retention *r, const char *path)
{
	size_t *slot = r->nrecs ? rec_slot(r, path) : NULL;

	return slot && *slot ? &r->recs[*slot - 1] : NULL;
}

/* Room for one more record in the hash (rehashed when half full). */
static int rec_slots_grow(struct rfs_retention *r)
{
	size_t n = r->nslots ? r->nslots : 128;
	size_t *old = r->rec_slots;

	if (2 * (r->nrecs + 1) <= r->nslots)
		return 0;
	while (2 * (r->nrecs + 1) > n)
		n *= 2;
	if (!(r->rec_slots = calloc(n, sizeof(size_t)))) {
		r->rec_slots = old;
		return -ENOMEM;
	}
	free(old);
	r->nslots = n;
	for (size_t i = 0; i < r->nrecs; i++)
		*rec_slot(r, r->recs[i].path) = i + 1;
	return 0;
}

static struct rec_state *rec_get(struct rfs_retention *r, const char *path)
{
	struct rec_state *s = rec_find(r, path);

	if (s)
		return s;
	if (rec_slots_grow(r) < 0)
		return NULL;
	if (r->nrecs == r->caprecs) {
		size_t cap = r->caprecs ? r->caprecs * 2 : 64;
		struct rec_state *n = realloc(r->recs, cap * sizeof(*n));

		if (!n)
			return NULL;
		r->recs = n;
		r->caprecs = cap;
	}
	s = &r->recs[r->nrecs];
	*s = (struct rec_state){ .path = strdup(path) };
	if (!s->path)
		return NULL;
	*rec_slot(r, path) = ++r->nrecs;
	return s;
}

static int rec_set_prop(struct rec_state *s, const char *key, struct rfs_date d)
{
	struct rfs_record_property *n;

	for (size_t i = 0; i < s->nprops; i++) {
		if (!strcmp(s->props[i].name, key)) {
			s->props[i].date = d;
			return 0;
		}
	}
	n = realloc(s->props, (s->nprops + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->props = n;
	n[s->nprops].name = strdup(key);
	n[s->nprops].date = d;
	if (!n[s->nprops].name)
		return -ENOMEM;
	s->nprops++;
	return 0;
}

static void held_free(struct held *h)
{
	strings_free(h->paths, h->h.record_count);
	free((char *)h->h.name);
	free((char *)h->h.authority);
	free((char *)h->h.class_name);
	free(h->placed_by);
	free(h->placed_at);
	free(h->released_by);
	free(h->released_at);
	free(h->reason);
}

static struct held *hold_find(struct rfs_retention *r, const char *name, bool active_only)
{
	for (size_t i = r->nholds; i-- > 0;) {
		if (!strcmp(r->holds[i].h.name, name) &&
		    (!active_only || !rfs_date_is_set(r->holds[i].h.released)))
			return &r->holds[i];
	}
	return NULL;
}

static void state_clear(struct rfs_retention *r)
{
	for (size_t i = 0; i < r->nrecs; i++) {
		for (size_t j = 0; j < r->recs[i].nprops; j++)
			free((char *)r->recs[i].props[j].name);
		free(r->recs[i].props);
		free(r->recs[i].path);
	}
	free(r->recs);
	r->recs = NULL;
	r->nrecs = r->caprecs = 0;
	free(r->rec_slots);
	r->rec_slots = NULL;
	r->nslots = 0;
	for (size_t i = 0; i < r->nholds; i++)
		held_free(&r->holds[i]);
	free(r->holds);
	r->holds = NULL;
	r->nholds = 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* hold-add fields: name authority until class from to path...; fld after the first four. */
static int fold_hold_add(struct rfs_retention *r, char **f, int n, const char *who,
                         const char *stamp)
{
	struct held h = { 0 }, *nh;

	if (n < 6)
		return -EINVAL;
	h.h.name = strdup(f[0]);
	h.h.authority = strdup(f[1]);
	h.h.until = parse_date(f[2]);
	h.h.scope = *f[3] ? RFS_HOLD_CLASS : RFS_HOLD_RECORDS;
	h.h.class_name = dup_or_null(f[3]);
	h.h.created_from = parse_date(f[4]);
	h.h.created_to = parse_date(f[5]);
	h.h.placed = stamp_date(stamp);
	h.placed_by = strdup(who);
	h.placed_at = strdup(stamp);
	h.paths = calloc((size_t)(n - 6) + 1, sizeof(char *));
	if (!h.paths || !h.h.name || !h.h.authority || !h.placed_by || !h.placed_at) {
		held_free(&h);
		return -ENOMEM;
	}
	for (int i = 6; i < n; i++) {
		if (!(h.paths[h.h.record_count] = strdup(f[i]))) {
			held_free(&h);
			return -ENOMEM;
		}
		h.h.record_count++;
	}
	h.h.records = (const char *const *)h.paths;
	nh = realloc(r->holds, (r->nholds + 1) * sizeof(*nh));
	if (!nh) {
		held_free(&h);
		return -ENOMEM;
	}
	r->holds = nh;
	r->holds[r->nholds++] = h;
	return 0;
}

/* Apply one decoded journal line (seq, stamp, who, action, fields...). */
static int fold_line(struct rfs_retention *r, char **f, int n)
{
	const char *action;
	struct rec_state *s;

	if (n < 4)
		return -EINVAL;
	r->seq = strtoull(f[0], NULL, 10);
	action = f[3];
	if (!strcmp(action, "policy-load")) {
		r->policy_rev = r->seq;
	} else if (!strcmp(action, "set") && n >= 7 && (n - 5) % 2 == 0) {
		if (!(s = rec_get(r, f[4])))
			return -ENOMEM;
		for (int i = 5; i + 1 < n; i += 2) {
			int rc = rec_set_prop(s, f[i], parse_date(f[i + 1]));

			if (rc < 0)
				return rc;
		}
	} else if (!strcmp(action, "close") && n == 6) {
		if (!(s = rec_get(r, f[4])))
			return -ENOMEM;
		s->closed = parse_date(f[5]);
	} else if (!strcmp(action, "lock") && n == 6) {
		/* close-service: closed on f[5] (empty: it keeps its closure), locked for good */
		if (!(s = rec_get(r, f[4])))
			return -ENOMEM;
		if (*f[5])
			s->closed = parse_date(f[5]);
		s->sealed = r->any_sealed = true;
		s->sealed_on = stamp_date(f[1]);
	} else if (!strcmp(action, "hold-add")) {
		return fold_hold_add(r, f + 4, n - 4, f[2], f[1]);
	} else if (!strcmp(action, "hold-release") && n >= 6) {
		struct held *h = hold_find(r, f[4], true);

		if (h) {
			h->h.released = stamp_date(f[1]);
			h->released_by = strdup(f[2]);
			h->released_at = strdup(f[1]);
			h->reason = strdup(f[5]);
		}
	} else if (!strcmp(action, "review-approve") && n >= 5) {
		if (!(s = rec_get(r, f[4])))
			return -ENOMEM;
		s->approved = true;
	} else if (!strcmp(action, "review-extend") && n >= 6) {
		if (!(s = rec_get(r, f[4])))
			return -ENOMEM;
		s->extended_until = parse_date(f[5]);
		s->approved = false;
	} else if (!strcmp(action, "dispose") && n >= 6 && (s = rec_find(r, f[5]))) {
		/* disposed (fields N, path, class): a new record at that path starts afresh */
		for (size_t i = 0; i < s->nprops; i++)
			free((char *)s->props[i].name);
		s->nprops = 0;
		s->closed = s->extended_until = RFS_DATE_NONE;
		s->approved = s->sealed = false;
	}
	return 0;     /* an action of a later version: kept in the journal, no state here */
}

/* The holds side by side for policy/ (write lock held, or not yet shared). */
static void rebuild_hold_view(struct rfs_retention *r)
{
	struct rfs_hold *v = realloc(r->hview, (r->nholds + 1) * sizeof(*v));

	if (!v)
		return;             /* the old view stays; nholds is only ever larger */
	r->hview = v;
	r->any_hold_in_force = false;
	for (size_t i = 0; i < r->nholds; i++) {
		v[i] = r->holds[i].h;
		r->any_hold_in_force |= !rfs_date_is_set(v[i].released);
	}
}

/* Fold every line of text (len bytes, NUL-terminated). */
static void fold_text(struct rfs_retention *r, char *text)
{
	char *line, *save = NULL, *fld[MAX_JOURNAL_FIELDS];
	unsigned lineno = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int n = rfs_control_split_fields(line, fld, MAX_JOURNAL_FIELDS);

		lineno++;
		if (n < 0 || fold_line(r, fld, n) < 0)
			rfs_log(LOG_WARNING, "retention journal line %u does not parse; ignored", lineno);
	}
	rebuild_hold_view(r);
}

/* ---- reading live/ ---- */

/* Open the folder name (clear) in dirfd. 0 or -errno. */
static int open_child(struct rfs_fs *fs, int dirfd, const char *name, int flags, int *out,
                      struct stat *st)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	const struct rfs_folder_keys *fk = NULL;
	struct rfs_sealed_name sn;
	int rc = rfs_dname_read_dirid(dirfd, dirid);

	if (rc == 0)
		rc = rfs_vault_folder_keys_get(fs->v, dirid, &fk);
	if (rc == 0)
		rc = rfs_dname_seal(fk, name, &sn);
	rfs_vault_folder_keys_put(fs->v, fk);
	if (rc == 0 && fstatat(dirfd, sn.backing, st, AT_SYMLINK_NOFOLLOW) != 0)
		rc = -errno;
	if (rc == 0 && (*out = openat(dirfd, sn.backing, flags | O_CLOEXEC | O_NOFOLLOW)) < 0)
		rc = -errno;
	return rc;
}

/* Open the entry at path (relative to the root, "" is the root) read-only. */
static int open_path(struct rfs_fs *fs, const char *path, int *out, struct stat *st)
{
	char *copy = strdup(path), *comp, *save = NULL;
	int fd = openat(fs->v->live_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (!copy || fd < 0)
		rc = !copy ? -ENOMEM : -errno;
	if (rc == 0 && fstat(fd, st) != 0)
		rc = -errno;
	for (comp = rc ? NULL : strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int next = -1;

		rc = open_child(fs, fd, comp, O_RDONLY, &next, st);
		close(fd);
		fd = -1;
		if (rc < 0)
			break;
		fd = next;
	}
	free(copy);
	if (rc < 0 && fd >= 0)
		close(fd);
	if (rc == 0)
		*out = fd;
	return rc;
}

/* A record's created day: its folder's .dirid mtime (a file record: its mtime). */
static struct rfs_date created_of(int fd, const struct stat *st)
{
	struct stat ds;

	if (S_ISDIR(st->st_mode) && fstatat(fd, ".dirid", &ds, 0) == 0)
		return date_of_unix(ds.st_mtim.tv_sec);
	return date_of_unix(st->st_mtim.tv_sec);
}

/* The newest mtime of anything inside the folder fd (recursively), at least *newest. */
static void newest_in(int fd, int64_t *newest, unsigned depth)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (!rfs_name_is_internal(e->d_name) && st.st_mtim.tv_sec > *newest)
			*newest = st.st_mtim.tv_sec;
		if (S_ISDIR(st.st_mode) && depth < 64) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

			if (sub >= 0) {
				newest_in(sub, newest, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
}

static struct rfs_date modified_of(int fd, const struct stat *st)
{
	int64_t newest = st->st_mtim.tv_sec;

	if (S_ISDIR(st->st_mode))
		newest_in(fd, &newest, 0);
	return date_of_unix(newest);
}

/* ---- facts and judgments (read lock held) ---- */

static void fill_facts(struct rfs_retention *r, struct rfs_retention_record *rec,
                       const struct rfs_policy *p)
{
	struct rec_state *s = rec_find(r, rec->path);
	struct rfs_record_facts *f = &rec->facts;

	f->path = rec->path;
	f->class_index = rec->class_index;
	if (s) {
		f->closed = s->closed;
		f->properties = s->props;
		f->property_count = s->nprops;
		f->extended_until = s->extended_until;
		f->approved = s->approved;
		rec->sealed = s->sealed;
		rec->sealed_on = s->sealed_on;
	}
	(void)rfs_holds_record_trigger(p, f, &rec->trigger);
	if (rfs_holds_record_due(p, f, &rec->due) < 0)
		rec->due = RFS_DATE_NONE;
}

/* Whether the record is locked and which holds hold it on day. */
static void judge_record(struct rfs_retention *r, struct rfs_retention_record *rec,
                         const struct rfs_policy *p, const struct rfs_hold *holds, size_t nholds,
                         struct rfs_date day)
{
	size_t used = 0;

	rec->locked = rec->sealed || rfs_holds_record_locked(p, &rec->facts, day) == 1;
	rec->hold = -1;
	rec->holds[0] = '\0';
	for (size_t i = 0; i < nholds; i++) {
		if (rfs_holds_record_held(p, &rec->facts, &holds[i], 1, day) != 0)
			continue;
		if (rec->hold < 0)
			rec->hold = (int)i;
		used += (size_t)snprintf(rec->holds + used, used < sizeof(rec->holds) ?
		                         sizeof(rec->holds) - used : 0, "%s%s", used ? "," : "",
		                         holds[i].name);
		if (used >= sizeof(rec->holds))
			used = sizeof(rec->holds) - 1;
	}
	(void)r;
}

/* The holds as policy/ takes them. */
static struct rfs_hold *holds_view(struct rfs_retention *r)
{
	struct rfs_hold *v = calloc(r->nholds + 1, sizeof(*v));

	for (size_t i = 0; v && i < r->nholds; i++)
		v[i] = r->holds[i].h;
	return v;
}

/* Does a class hold with a creation range cover records of this class? */
static bool needs_created(struct rfs_retention *r, const struct rfs_policy *p, size_t cls)
{
	for (size_t i = 0; i < r->nholds; i++) {
		const struct rfs_hold *h = &r->holds[i].h;

		if (h->scope == RFS_HOLD_CLASS && rfs_date_is_set(h->created_from) && h->class_name &&
		    !strcmp(h->class_name, p->classes[cls].name))
			return true;
	}
	return false;
}

static bool table_good(struct rfs_retention *r, const struct rfs_policy *p)
{
	return r->table_policy && r->table_policy == p &&
	       r->table_gen == __atomic_load_n(&r->live_gen, __ATOMIC_ACQUIRE);
}

static int table_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct table_rec *)a)->path, ((const struct table_rec *)b)->path);
}

/* The created date of record path from the table, when the table is good (lock held). */
static bool table_created(struct rfs_retention *r, const struct rfs_policy *p, const char *path,
                         struct rfs_date *created)
{
	struct table_rec key = { .path = (char *)path }, *hit;

	if (!table_good(r, p) || !r->table_count)
		return false;
	hit = bsearch(&key, r->table, r->table_count, sizeof(key), table_rec_cmp);
	if (hit)
		*created = hit->created;
	return hit != NULL;
}

/* One record's facts from live/ (created, modified when needed). */
static void record_dates(struct rfs_retention *r, struct rfs_retention_record *rec,
                         const struct rfs_policy *p, bool all)
{
	struct stat st;
	int fd = -1;

	if (!all && !needs_created(r, p, rec->class_index) &&
	    p->classes[rec->class_index].trigger != RFS_TRIGGER_CREATED &&
	    p->classes[rec->class_index].trigger != RFS_TRIGGER_MODIFIED)
		return;
	if (!all && p->classes[rec->class_index].trigger != RFS_TRIGGER_MODIFIED &&
	    table_created(r, p, rec->path, &rec->facts.created))
		return;
	if (open_path(r->fs, rec->path, &fd, &st) < 0)
		return;
	rec->facts.created = created_of(fd, &st);
	if (all || p->classes[rec->class_index].trigger == RFS_TRIGGER_MODIFIED)
		rec->facts.modified = modified_of(fd, &st);
	close(fd);
}

/* ---- the checks ---- */

static const char *op_name(enum rfs_retention_op op)
{
	static const char *const names[] = { "write", "truncate", "change of attributes",
	                                     "change of extended attributes", "new entry", "delete",
	                                     "rename" };

	return names[op];
}

/* Whether path may be changed by op. self_counts: the record itself counts (not just what is
** inside it). 0 or -EPERM with the rule in rule. */
static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rfs_retention_live_changed(struct rfs_retention *r)
{
	if (!r)
		return;
	__atomic_store_n(&r->last_change_ms, monotonic_ms(), __ATOMIC_RELEASE);
	__atomic_add_fetch(&r->live_gen, 1, __ATOMIC_ACQ_REL);
}

/* The generation a walk begun now may be trusted for (one it can never equal when a change
** was too recent). */
static uint64_t walk_gen(struct rfs_retention *r)
{
	uint64_t gen = __atomic_load_n(&r->live_gen, __ATOMIC_ACQUIRE);

	if (monotonic_ms() - __atomic_load_n(&r->last_change_ms, __ATOMIC_ACQUIRE) < QUIET_MS)
		return gen - 1;
	return gen;
}

/* Before a request that may add, remove or move a record, or a container above records, or
** change a file record's date: the table is stale from now on (read lock held). */
static void note_live_change(struct rfs_retention *r, const struct rfs_classification *c,
                             size_t len, enum rfs_retention_op op)
{
	bool entry = op == RFS_RET_CREATE || op == RFS_RET_DELETE || op == RFS_RET_RENAME;
	bool is_record = c && c->place == RFS_PLACE_RECORD && c->record_len == len;

	if (is_record || (entry && (!c || c->place != RFS_PLACE_RECORD)))
		rfs_retention_live_changed(r);
}

static int judge_path(struct rfs_retention *r, const char *path, bool self_counts,
                      enum rfs_retention_op op, char *rule, size_t rulesz)
{
	size_t len = strlen(path);
	struct rfs_classification c;
	struct rfs_retention_record rec = { 0 };
	const struct rfs_hold *holds;
	char d[RFS_DATE_TEXT_SIZE];
	int rc = 0;

	if (is_state_path(path, len)) {
		snprintf(rule, rulesz, "/%s changes only through recfs commands", RFS_RETENTION_DIR);
		return -EPERM;
	}
	pthread_rwlock_rdlock(&r->lock);
	if (!r->policy)
		goto out;
	if (rfs_classify_path(r->policy, path, len, &c) < 0) {
		note_live_change(r, NULL, len, op);
		goto out;
	}
	note_live_change(r, &c, len, op);
	if (c.place != RFS_PLACE_RECORD || (c.record_len == len && !self_counts))
		goto out;
	/* Nothing can refuse it: a class that never locks, no hold in force, nothing sealed. */
	if (r->policy->classes[c.class_index].lock == RFS_LOCK_NEVER && !r->any_hold_in_force &&
	    !r->any_sealed)
		goto out;
	rec.path = strndup(path, c.record_len);
	rec.class_index = c.class_index;
	holds = r->hview;
	if (!rec.path || (r->nholds && !holds))
		goto out;
	record_dates(r, &rec, r->policy, false);
	fill_facts(r, &rec, r->policy);
	judge_record(r, &rec, r->policy, holds, r->nholds, rfs_retention_today());
	if (rec.hold >= 0) {
		snprintf(rule, rulesz, "record /%s is held by hold %s (%s)", rec.path,
		         holds[rec.hold].name, holds[rec.hold].authority);
		rc = -EPERM;
	} else if (rec.locked) {
		const struct rfs_policy_class *cl = &r->policy->classes[rec.class_index];

		if (rec.sealed)
			snprintf(rule, rulesz, "record /%s is locked for good: its service was closed "
			         "(recfs close-service) on %s", rec.path, date_text(rec.sealed_on, d));
		else if (cl->lock == RFS_LOCK_ALWAYS)
			snprintf(rule, rulesz, "record /%s is locked: class %s locks its records always",
			         rec.path, cl->name);
		else
			snprintf(rule, rulesz, "record /%s is locked: class %s locks its records when "
			         "closed, and it was closed on %s", rec.path, cl->name,
			         date_text(rec.facts.closed, d));
		rc = -EPERM;
	}
out:
	pthread_rwlock_unlock(&r->lock);
	free(rec.path);
	return rc;
}

static bool inactive(struct rfs_fs *fs)
{
	return !fs->retention || !__atomic_load_n(&fs->retention->checks, __ATOMIC_ACQUIRE);
}

int rfs_retention_check_path(struct rfs_retention *r, const char *path, bool self_counts,
                             enum rfs_retention_op op, char *rule, size_t rulesz)
{
	if (!r || !__atomic_load_n(&r->checks, __ATOMIC_ACQUIRE))
		return 0;
	while (*path == '/')
		path++;
	return judge_path(r, path, self_counts, op, rule, rulesz);
}

static void log_refusal(fuse_req_t req, enum rfs_retention_op op, const char *path,
                        const char *rule, int err)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct passwd pw, *pwp = NULL;
	char buf[1024];

	if (getpwuid_r(ctx->uid, &pw, buf, sizeof(buf), &pwp) != 0)
		pwp = NULL;
	rfs_log(LOG_NOTICE, "refused (%s) %s of /%s by %s (uid %u): %s", err == EXDEV ? "EXDEV" : "EPERM",
	        op_name(op), path, pwp ? pw.pw_name : "?", (unsigned)ctx->uid, rule);
}

/* path of in (or of in/name), malloc'd; NULL when in is gone. */
int rfs_retention_offline_begin(struct rfs_fs *fs, struct rfs_vault *v, struct rfs_history *h)
{
	int rc = rfs_ops_init(fs, v, false);

	if (rc < 0)
		return rc;
	fs->history = h;
	rc = rfs_retention_open(fs, NULL, &fs->retention);
	if (rc < 0)
		rfs_retention_offline_end(fs);
	return rc;
}

void rfs_retention_offline_end(struct rfs_fs *fs)
{
	rfs_retention_close(fs->retention);
	fs->retention = NULL;
	rfs_ops_destroy(fs);
}

int rfs_retention_check_offline(struct rfs_vault *v, struct rfs_history *h, const char *path,
                                enum rfs_retention_op op, char *rule, size_t rulesz)
{
	struct rfs_fs fs;
	int rc = rfs_retention_offline_begin(&fs, v, h);

	if (rc < 0)
		return rc;
	rc = rfs_retention_check_path(fs.retention, path, true, op, rule, rulesz);
	rfs_retention_offline_end(&fs);
	return rc;
}

static char *path_of(struct rfs_fs *fs, struct rfs_inode *in, const char *name)
{
	char *p = in ? rfs_inode_path(&fs->it, in, true) : NULL, *full;

	if (!p || !name)
		return p;
	if (asprintf(&full, "%s%s%s", p, *p ? "/" : "", name) < 0)
		full = NULL;
	free(p);
	return full;
}

static bool refuse_path(fuse_req_t req, char *path, bool self_counts, enum rfs_retention_op op)
{
	char rule[RULE_SIZE];
	int rc;

	if (!path)
		return false;         /* the handler finds the inode gone itself */
	rc = judge_path(fs_of(req)->retention, path, self_counts, op, rule, sizeof(rule));
	if (rc < 0) {
		log_refusal(req, op, path, rule, -rc);
		fuse_reply_err(req, -rc);
	}
	free(path);
	return rc < 0;
}

bool rfs_retention_refuse_ino(fuse_req_t req, fuse_ino_t ino, enum rfs_retention_op op)
{
	struct rfs_fs *fs = fs_of(req);

	if (inactive(fs))
		return false;
	return refuse_path(req, path_of(fs, inode_of(req, ino), NULL), true, op);
}

bool rfs_retention_refuse_open(fuse_req_t req, fuse_ino_t ino, int flags)
{
	if ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC))
		return false;
	return rfs_retention_refuse_ino(req, ino, flags & O_TRUNC ? RFS_RET_TRUNCATE : RFS_RET_WRITE);
}

bool rfs_retention_refuse_setattr(fuse_req_t req, fuse_ino_t ino, int to_set)
{
	return rfs_retention_refuse_ino(req, ino, to_set & FUSE_SET_ATTR_SIZE ? RFS_RET_TRUNCATE
	                                                                     : RFS_RET_SETATTR);
}

/* With no policy in force, a new name "retention" in /.recfs is still refused: nothing but
** the daemon makes the state folder. */
static bool new_state_name(struct rfs_fs *fs, struct rfs_inode *dir, const char *name)
{
	char *p;
	bool hit;

	if (strcmp(name, "retention") != 0)
		return false;
	p = path_of(fs, dir, NULL);
	hit = p && !strcmp(p, ".recfs");
	free(p);
	return hit;
}

bool rfs_retention_refuse_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
                                enum rfs_retention_op op)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *dir;

	if (inactive(fs)) {
		if (op != RFS_RET_CREATE || !new_state_name(fs, inode_of(req, parent), name))
			return false;
		log_refusal(req, op, RFS_RETENTION_DIR, "only the daemon makes the retention state", EPERM);
		fuse_reply_err(req, EPERM);
		return true;
	}
	dir = inode_of(req, parent);
	return refuse_path(req, path_of(fs, dir, name), op == RFS_RET_DELETE, op);
}

/* The record strictly holding path, as its length (0: none) and class; the record itself
** is not inside itself. */
static size_t inside_record(const struct rfs_policy *p, const char *path, size_t *cls)
{
	struct rfs_classification c;
	size_t len = strlen(path);

	if (rfs_classify_path(p, path, len, &c) < 0 || c.place != RFS_PLACE_RECORD ||
	    c.record_len == len)
		return 0;
	*cls = c.class_index;
	return c.record_len;
}

/* EXDEV when from and to are not inside the same record (format 3, policy in force). */
static bool crosses_records(struct rfs_retention *r, const char *from, const char *to)
{
	size_t fc = 0, tc = 0, fl, tl;
	bool crosses;

	if (vault_format(r->fs->v) < 3)
		return false;
	pthread_rwlock_rdlock(&r->lock);
	fl = r->policy ? inside_record(r->policy, from, &fc) : 0;
	tl = r->policy ? inside_record(r->policy, to, &tc) : 0;
	crosses = fl != tl || fc != tc || (fl && memcmp(from, to, fl) != 0);
	pthread_rwlock_unlock(&r->lock);
	return crosses;
}

/* Whether the journal names record path: dated properties, a closure, a review, or a hold
** on it by name (released or not: its history says what it held). Read lock held. */
static bool has_state(struct rfs_retention *r, const char *path)
{
	if (rec_find(r, path))
		return true;
	for (size_t i = 0; i < r->nholds; i++) {
		for (size_t j = 0; j < r->holds[i].h.record_count; j++) {
			if (!strcmp(r->holds[i].paths[j], path))
				return true;
		}
	}
	return false;
}

/* EPERM when from is a record itself whose journal names it: its state stays under its path,
** so a renamed record would leave its dates, closure and holds behind. */
static bool renames_state(struct rfs_retention *r, const char *from, char *rule, size_t rulesz)
{
	struct rfs_classification c;
	size_t len = strlen(from);
	bool refused = false;

	pthread_rwlock_rdlock(&r->lock);
	if (r->policy && rfs_classify_path(r->policy, from, len, &c) == 0 &&
	    c.place == RFS_PLACE_RECORD && c.record_len == len && has_state(r, from)) {
		snprintf(rule, rulesz, "record /%s has retention state (dates, closure, review or "
		         "holds) kept under its path: a record with state is not renamed", from);
		refused = true;
	}
	pthread_rwlock_unlock(&r->lock);
	return refused;
}

/* Whether the folder name in dir holds anything but its .dirid. */
static bool folder_holds_entries(struct rfs_fs *fs, struct rfs_inode *dir, const char *name)
{
	struct rfs_sealed_name sn;
	bool holds = false;
	int pfd, fd;

	if (!dir || rfs_ops_seal_name(fs, dir, name, &sn) < 0 || (pfd = inode_fd(fs, dir)) < 0)
		return false;
	fd = openat(pfd, sn.backing, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	inode_fd_done(fs, dir);
	if (fd >= 0) {
		holds = rfs_dname_folder_empty(fd, true) != 0;
		close(fd);
	}
	return holds;
}

/* EPERM when path (name in dir) is a folder above records that holds something: a rename
** would take every record below it out of its class, or away from the state and holds
** kept under its path, without a check of any of them. */
static bool moves_records(struct rfs_fs *fs, struct rfs_inode *dir, const char *name,
                          const char *path, char *rule, size_t rulesz)
{
	struct rfs_retention *r = fs->retention;
	struct rfs_classification c;
	bool container;

	pthread_rwlock_rdlock(&r->lock);
	container = r->policy && rfs_classify_path(r->policy, path, strlen(path), &c) == 0 &&
	            c.place == RFS_PLACE_CONTAINER;
	pthread_rwlock_unlock(&r->lock);
	if (!container || !folder_holds_entries(fs, dir, name))
		return false;
	snprintf(rule, rulesz, "/%s is a folder above records and holds some: renaming it would move "
	         "them out of their class and away from their state; ask the records manager", path);
	return true;
}

/* EPERM for a rename that would move records with it, or a record with state (either end of
** an exchange). */
static bool refuse_mover(fuse_req_t req, struct rfs_inode *dir, const char *name, const char *path)
{
	struct rfs_fs *fs = fs_of(req);
	char rule[RULE_SIZE];

	if (!path || (!renames_state(fs->retention, path, rule, sizeof(rule)) &&
	              !moves_records(fs, dir, name, path, rule, sizeof(rule))))
		return false;
	log_refusal(req, RFS_RET_RENAME, path, rule, EPERM);
	fuse_reply_err(req, EPERM);
	return true;
}

bool rfs_retention_refuse_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                                 fuse_ino_t newparent, const char *newname, bool exchange)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_inode *from_dir = inode_of(req, parent), *to_dir = inode_of(req, newparent);
	char *from, *to;
	bool refused;

	if (inactive(fs))
		return rfs_retention_refuse_entry(req, newparent, newname, RFS_RET_CREATE);
	from = path_of(fs, from_dir, name);
	to = path_of(fs, to_dir, newname);
	/* A lock or hold first: EPERM says more than EXDEV, and no copy is then tried. */
	if (refuse_path(req, from ? strdup(from) : NULL, true, RFS_RET_RENAME) ||
	    refuse_path(req, to ? strdup(to) : NULL, exchange, RFS_RET_RENAME) ||
	    refuse_mover(req, from_dir, name, from) ||
	    (exchange && refuse_mover(req, to_dir, newname, to))) {
		free(from);
		free(to);
		return true;
	}
	refused = from && to && crosses_records(fs->retention, from, to);
	if (refused) {
		log_refusal(req, RFS_RET_RENAME, from, "a rename across a record boundary: copy and "
		            "delete instead", EXDEV);
		fuse_reply_err(req, EXDEV);
	}
	free(from);
	free(to);
	return refused;
}

bool rfs_retention_refuse_xattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (inactive(fs_of(req)))
		return false;
	if (!strncmp(name, RFS_RETENTION_XATTR, sizeof(RFS_RETENTION_XATTR) - 1)) {
		log_refusal(req, RFS_RET_XATTR, name, "user.recfs.* attributes are set with recfs set",
		            EPERM);
		fuse_reply_err(req, EPERM);
		return true;
	}
	return rfs_retention_refuse_ino(req, ino, RFS_RET_XATTR);
}

bool rfs_retention_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct rfs_fs *fs = fs_of(req);
	struct rfs_retention *r = fs->retention;
	const size_t pl = sizeof(RFS_RETENTION_XATTR) - 1;
	char *path, d[RFS_DATE_TEXT_SIZE] = "";
	struct rec_state *s;

	if (inactive(fs) || strncmp(name, RFS_RETENTION_XATTR, pl) != 0)
		return false;
	path = path_of(fs, inode_of(req, ino), NULL);
	pthread_rwlock_rdlock(&r->lock);
	s = path ? rec_find(r, path) : NULL;
	for (size_t i = 0; s && i < s->nprops; i++) {
		if (!strcmp(s->props[i].name, name + pl))
			date_text(s->props[i].date, d);
	}
	if (s && !strcmp(name + pl, "closed"))
		date_text(s->closed, d);
	pthread_rwlock_unlock(&r->lock);
	free(path);
	if (!d[0])
		fuse_reply_err(req, ENODATA);
	else if (size == 0)
		fuse_reply_xattr(req, strlen(d));
	else if (size < strlen(d))
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, d, strlen(d));
	return true;
}

/* ---- roles ---- */

bool rfs_retention_may(struct rfs_retention *r, const struct rfs_peer *peer, enum rfs_role role)
{
	const struct rfs_policy_role_members *m;
	bool ok = false;

	pthread_rwlock_rdlock(&r->lock);
	m = r->policy ? &r->policy->roles[role] : NULL;
	if (!m || !m->defined)
		ok = peer->mounter;          /* a role not named is the mounting user's alone */
	for (size_t i = 0; m && m->defined && i < m->count && !ok; i++) {
		if (!m->members[i].group) {
			ok = !strcmp(m->members[i].name, peer->login);
			continue;
		}
		for (size_t g = 0; g < peer->ngroups && !ok; g++)
			ok = !strcmp(m->members[i].name, peer->groups[g]);
	}
	pthread_rwlock_unlock(&r->lock);
	return ok;
}

int rfs_retention_change_refusal(struct rfs_retention *r, const char *vault_path, char *msg,
                                 size_t msgsz)
{
	if (r->unreadable) {
		/* A change now could replace a journal it cannot see: holds would be lost. */
		snprintf(msg, msgsz, "the retention state of %s (/%s, /%s) could not be read when it "
		         "was mounted, so nothing about retention may change: see 'recfs log --daemon', "
		         "run 'recfs fsck' on the unmounted vault, and mount it again", vault_path,
		         RFS_RETENTION_POLICY, RFS_RETENTION_JOURNAL);
		return -EIO;
	}
	if (vault_format(r->fs->v) >= 3)
		return 0;
	snprintf(msg, msgsz, "%s is vault format 2, whose names cannot be destroyed: make a new vault "
	         "with 'recfs init' and copy the files into its mount (README, 'Vaults of format 2')",
	         vault_path);
	return -EPROTONOSUPPORT;
}

/* ---- listing ---- */

struct lister {
	struct rfs_retention *r;
	const struct rfs_policy *p;
	struct rfs_retention_listing *out;
	size_t cap, ucap;
	int rc;
	bool modified;                /* compute modified dates (not for the table) */
};

static void add_unclassified(struct lister *l, const char *path)
{
	struct rfs_retention_listing *o = l->out;

	if (o->unclassified_count == l->ucap) {
		size_t cap = l->ucap ? l->ucap * 2 : 16;
		char **n = realloc(o->unclassified, cap * sizeof(*n));

		if (!n) {
			l->rc = -ENOMEM;
			return;
		}
		o->unclassified = n;
		l->ucap = cap;
	}
	if (!(o->unclassified[o->unclassified_count] = strdup(path)))
		l->rc = -ENOMEM;
	else
		o->unclassified_count++;
}

static void add_record(struct lister *l, const char *path, size_t cls, int fd,
                       const struct stat *st)
{
	struct rfs_retention_listing *o = l->out;
	struct rfs_retention_record *rec;

	if (o->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct rfs_retention_record *n = realloc(o->records, cap * sizeof(*n));

		if (!n) {
			l->rc = -ENOMEM;
			return;
		}
		o->records = n;
		l->cap = cap;
	}
	rec = &o->records[o->count];
	memset(rec, 0, sizeof(*rec));
	rec->path = strdup(path);
	if (!rec->path) {
		l->rc = -ENOMEM;
		return;
	}
	rec->class_index = cls;
	rec->facts.created = created_of(fd, st);
	if (l->modified && l->p->classes[cls].trigger == RFS_TRIGGER_MODIFIED)
		rec->facts.modified = modified_of(fd, st);
	o->count++;
}

/* Every entry of the folder fd (whose path is prefix), by classification. */
static void list_folder(struct lister *l, int fd, const char *prefix, unsigned depth)
{
	uint8_t dirid[RFS_DIRID_SIZE];
	const struct rfs_folder_keys *fk = NULL;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *e;

	if (!d || rfs_dname_read_dirid(dirfd(d), dirid) < 0 ||
	    rfs_vault_folder_keys_get(l->r->fs->v, dirid, &fk) < 0) {
		if (d)
			closedir(d);
		else if (dfd >= 0)
			close(dfd);
		return;
	}
	while (l->rc == 0 && (e = readdir(d)) != NULL) {
		char clear[256], *path;
		struct rfs_classification c;
		struct stat st;
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    rfs_name_is_internal(e->d_name) ||
		    rfs_dname_open(fk, dirfd(d), e->d_name, clear) < 0 ||
		    (!*prefix && !strcmp(clear, ".recfs")))
			continue;
		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", clear) < 0) {
			l->rc = -ENOMEM;
			break;
		}
		if (rfs_classify_path(l->p, path, strlen(path), &c) == 0 &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			bool dir = S_ISDIR(st.st_mode);

			sub = dir ? openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
			if (c.place == RFS_PLACE_RECORD)
				add_record(l, path, c.class_index, sub >= 0 ? sub : dirfd(d), &st);
			else if (c.place == RFS_PLACE_CONTAINER && sub >= 0 && depth < 64)
				list_folder(l, sub, path, depth + 1);
			else
				add_unclassified(l, path);
			if (sub >= 0)
				close(sub);
		}
		free(path);
	}
	closedir(d);
	rfs_vault_folder_keys_put(l->r->fs->v, fk);
}

static int rec_path_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rfs_retention_record *)a)->path,
	              ((const struct rfs_retention_record *)b)->path);
}

static int pstrcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void listing_free(struct rfs_retention_listing *l);

/* Facts and judgments of every record of out on day, under policy p (read lock held). */
static int judge_all(struct rfs_retention *r, const struct rfs_policy *p, struct rfs_date day,
                     struct rfs_retention_listing *out)
{
	out->policy = p;
	out->holds = holds_view(r);
	out->hold_count = r->nholds;
	if (!out->holds)
		return -ENOMEM;
	for (size_t i = 0; i < out->count; i++) {
		fill_facts(r, &out->records[i], p);
		judge_record(r, &out->records[i], p, out->holds, out->hold_count, day);
	}
	return 0;
}

/* Every record and unclassified path of live/ under policy p, sorted, with created dates
** (modified ones too when modified); read lock held. */
static int walk_live(struct rfs_retention *r, const struct rfs_policy *p, bool modified,
                     struct rfs_retention_listing *out)
{
	struct lister l = { r, p, out, 0, 0, 0, modified };
	int fd = openat(r->fs->v->live_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(out, 0, sizeof(*out));
	out->policy = p;
	if (fd < 0)
		return -errno;
	list_folder(&l, fd, "", 0);
	close(fd);
	if (out->count)
		qsort(out->records, out->count, sizeof(*out->records), rec_path_cmp);
	if (out->unclassified_count)
		qsort(out->unclassified, out->unclassified_count, sizeof(char *), pstrcmp);
	return l.rc;
}

/* List under policy p (one about to be loaded) from live/; read lock held. */
static int list_with(struct rfs_retention *r, const struct rfs_policy *p, struct rfs_date day,
                     struct rfs_retention_listing *out)
{
	int rc = walk_live(r, p, true, out);

	return rc < 0 ? rc : judge_all(r, p, day, out);
}

/* A listing of the policy in force from the table (good for it; read lock held): its records
** copied, modified dates found now for the classes that need them. */
static int list_from_table(struct rfs_retention *r, struct rfs_date day,
                           struct rfs_retention_listing *out)
{
	memset(out, 0, sizeof(*out));
	out->records = calloc(r->table_count + 1, sizeof(*out->records));
	out->unclassified = calloc(r->table_unclassified_count + 1, sizeof(char *));
	if (!out->records || !out->unclassified)
		return -ENOMEM;
	for (size_t i = 0; i < r->table_count; i++) {
		struct rfs_retention_record *rec = &out->records[i];

		if (!(rec->path = strdup(r->table[i].path)))
			return -ENOMEM;
		out->count++;
		rec->class_index = r->table[i].class_index;
		rec->facts.created = r->table[i].created;
		if (r->policy->classes[rec->class_index].trigger == RFS_TRIGGER_MODIFIED)
			record_dates(r, rec, r->policy, true);
	}
	for (size_t i = 0; i < r->table_unclassified_count; i++) {
		if (!(out->unclassified[i] = strdup(r->table_unclassified[i])))
			return -ENOMEM;
		out->unclassified_count++;
	}
	return judge_all(r, r->policy, day, out);
}

static void listing_free(struct rfs_retention_listing *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->records[i].path);
	free(l->records);
	strings_free(l->unclassified, l->unclassified_count);
	free(l->holds);
	memset(l, 0, sizeof(*l));
}

static void table_free(struct rfs_retention *r)
{
	for (size_t i = 0; i < r->table_count; i++)
		free(r->table[i].path);
	free(r->table);
	strings_free(r->table_unclassified, r->table_unclassified_count);
	r->table = NULL;
	r->table_unclassified = NULL;
	r->table_count = r->table_unclassified_count = 0;
	r->table_policy = NULL;
}

/* The table becomes fresh's (sorted; its paths are taken, fresh is freed), as of live_gen gen
** under policy p. Out of memory: no table, the next listing walks again. */
static void table_adopt(struct rfs_retention *r, struct rfs_retention_listing *fresh,
                        const struct rfs_policy *p, uint64_t gen)
{
	struct table_rec *t = calloc(fresh->count + 1, sizeof(*t));

	for (size_t i = 0; t && i < fresh->count; i++) {
		t[i] = (struct table_rec){ fresh->records[i].path, fresh->records[i].class_index,
		                           fresh->records[i].facts.created };
		fresh->records[i].path = NULL;
	}
	pthread_rwlock_wrlock(&r->lock);
	table_free(r);
	if (t) {
		r->table = t;
		r->table_count = fresh->count;
		r->table_unclassified = fresh->unclassified;
		r->table_unclassified_count = fresh->unclassified_count;
		fresh->unclassified = NULL;
		fresh->unclassified_count = 0;
		r->table_policy = p;
		r->table_gen = gen;
	}
	pthread_rwlock_unlock(&r->lock);
	listing_free(fresh);
}

/* Make the table good for the policy in force: one walk of live/ when stale. Change mutex
** held (the policy stays), state lock not. 0, -ENOENT (no policy), -errno. */
static int table_refresh(struct rfs_retention *r)
{
	struct rfs_retention_listing fresh;
	uint64_t gen;
	int rc;

	pthread_rwlock_rdlock(&r->lock);
	if (table_good(r, r->policy)) {
		pthread_rwlock_unlock(&r->lock);
		return 0;
	}
	gen = walk_gen(r);
	rc = r->policy ? walk_live(r, r->policy, false, &fresh) : -ENOENT;
	pthread_rwlock_unlock(&r->lock);
	if (rc == 0)
		table_adopt(r, &fresh, r->policy, gen);
	else if (rc != -ENOENT)
		listing_free(&fresh);
	return rc;
}

/* The state stays read-locked while a listing is in use: its facts point into it. The
** listing's keep remembers the lock. */
int rfs_retention_list(struct rfs_retention *r, struct rfs_date day,
                       struct rfs_retention_listing *out)
{
	int rc;

	pthread_mutex_lock(&r->change);
	rc = table_refresh(r);
	pthread_mutex_unlock(&r->change);
	pthread_rwlock_rdlock(&r->lock);
	if (rc < 0 || !r->policy || r->table_policy != r->policy) {
		pthread_rwlock_unlock(&r->lock);
		memset(out, 0, sizeof(*out));
		return rc < 0 ? rc : !r->policy ? -ENOENT : -EAGAIN;
	}
	rc = list_from_table(r, day, out);
	out->keep = r;
	if (rc < 0) {
		listing_free(out);
		pthread_rwlock_unlock(&r->lock);
	}
	return rc;
}

/* Ends the use of a listing from rfs_retention_list/why (drops the read lock). */
static void listing_done(struct rfs_retention_listing *l)
{
	struct rfs_retention *r = l->keep;

	listing_free(l);
	if (r)
		pthread_rwlock_unlock(&r->lock);
}

int rfs_retention_why(struct rfs_retention *r, const char *path_in, char *sentence, size_t size,
                      struct rfs_retention_listing *one)
{
	char *copy = strdup(path_in ? path_in : ""), *path = copy ? trim_path(copy) : NULL;
	struct rfs_classification c;
	struct rfs_retention_record *rec;
	const struct rfs_policy_class *cl;
	char d1[RFS_DATE_TEXT_SIZE], d2[RFS_DATE_TEXT_SIZE];
	int rc = 0;

	memset(one, 0, sizeof(*one));
	if (!path)
		return -ENOMEM;
	pthread_rwlock_rdlock(&r->lock);
	if (is_state_path(path, strlen(path))) {
		snprintf(sentence, size, "/%s is the retention state: it changes only through recfs "
		         "commands, and no class covers it", path);
		rc = -ENOENT;
	} else if (!r->policy) {
		snprintf(sentence, size, "/%s: no retention policy is loaded", path);
		rc = -ENOENT;
	} else if (rfs_classify_path(r->policy, path, strlen(path), &c) < 0 ||
	           c.place != RFS_PLACE_RECORD) {
		snprintf(sentence, size, "/%s is not in a record: no class covers it, so it is never "
		         "disposed of and never locked", path);
		rc = -ENOENT;
	}
	if (rc < 0) {
		pthread_rwlock_unlock(&r->lock);
		free(copy);
		return rc;
	}
	one->records = calloc(1, sizeof(*one->records));
	one->holds = holds_view(r);
	one->policy = r->policy;
	one->hold_count = r->nholds;
	one->keep = r;
	rec = one->records;
	if (!rec || !one->holds || !(rec->path = strndup(path, c.record_len))) {
		listing_done(one);
		free(copy);
		return -ENOMEM;
	}
	one->count = 1;
	rec->class_index = c.class_index;
	record_dates(r, rec, r->policy, true);
	fill_facts(r, rec, r->policy);
	judge_record(r, rec, r->policy, one->holds, one->hold_count, rfs_retention_today());
	cl = &r->policy->classes[rec->class_index];
	if (rec->hold >= 0)
		snprintf(sentence, size, "/%s is in record /%s (class %s), which is held by hold %s "
		         "(%s): nothing in it may change and it is never disposed of", path, rec->path,
		         cl->name, one->holds[rec->hold].name, one->holds[rec->hold].authority);
	else if (rec->sealed)
		snprintf(sentence, size, "/%s is in record /%s (class %s), which is locked for good: "
		         "its service was closed (recfs close-service) on %s, the record closed on %s; "
		         "it can be read", path, rec->path, cl->name, date_text(rec->sealed_on, d1),
		         date_text(rec->facts.closed, d2));
	else if (rec->locked && cl->lock == RFS_LOCK_ALWAYS)
		snprintf(sentence, size, "/%s is in record /%s (class %s), which is locked because "
		         "class %s locks its records always; it can be read", path, rec->path, cl->name,
		         cl->name);
	else if (rec->locked)
		snprintf(sentence, size, "/%s is in record /%s (class %s), which is locked because it "
		         "was closed on %s and class %s locks its records when closed; it can be read",
		         path, rec->path, cl->name, date_text(rec->facts.closed, d1), cl->name);
	else if (!rfs_date_is_set(rec->due))
		snprintf(sentence, size, "/%s is in record /%s (class %s), which is not locked and "
		         "never due: no trigger date", path, rec->path, cl->name);
	else
		snprintf(sentence, size, "/%s is in record /%s (class %s), which is not locked; it is "
		         "due on %s (%s after %s)", path, rec->path, cl->name, date_text(rec->due, d1),
		         cl->retain.unit == RFS_DAYS ? "days" : cl->retain.unit == RFS_MONTHS ? "months"
		                                                                          : "years",
		         date_text(rec->trigger, d2));
	free(copy);
	return 0;
}

void rfs_retention_listing_end(struct rfs_retention_listing *l)
{
	listing_done(l);
}

int rfs_retention_holds(struct rfs_retention *r, const struct rfs_retention_listing *l,
                        int (*cb)(const struct rfs_retention_hold_info *h, void *arg), void *arg)
{
	int rc = 0;

	/* l was made by rfs_retention_list: the read lock is held already. */
	for (size_t i = 0; i < r->nholds && rc == 0; i++) {
		struct held *h = &r->holds[i];
		struct rfs_retention_hold_info info = { &h->h, h->placed_by, h->placed_at,
		                                        h->released_by, h->released_at, h->reason, 0 };

		for (size_t j = 0; l && j < l->count; j++) {
			const char *names = l->records[j].holds;
			size_t nl = strlen(h->h.name);

			for (const char *p = names; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
				if (!strncmp(p, h->h.name, nl) && (p[nl] == ',' || p[nl] == '\0')) {
					info.count++;
					break;
				}
			}
		}
		rc = cb(&info, arg);
	}
	return rc;
}

/* ---- changes ---- */

/* Percent-encoded journal line: seq stamp who action fields..., with its '\n'; seq is the
** journal's next, plus ahead (for the lines after it of the same change). */
static char *journal_line_ahead(struct rfs_retention *r, const struct rfs_peer *peer,
                                uint64_t ahead, const char *action, const char *const *fields,
                                size_t n)
{
	char stamp[RFS_TIMESTAMP_TEXT_SIZE], who[RFS_PEER_NAME_SIZE + 32], *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		return NULL;
	now_stamp(stamp);
	snprintf(who, sizeof(who), "%s(%u)", peer->login, (unsigned)peer->uid);
	fprintf(f, "%llu\t%s\t", (unsigned long long)(r->seq + 1 + ahead), stamp);
	rfs_control_put_field(f, who);
	fputc('\t', f);
	rfs_control_put_field(f, action);
	for (size_t i = 0; i < n; i++) {
		fputc('\t', f);
		rfs_control_put_field(f, fields[i] ? fields[i] : "");
	}
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(line);
		return NULL;
	}
	return line;
}

static char *journal_line(struct rfs_retention *r, const struct rfs_peer *peer,
                          const char *action, const char *const *fields, size_t n)
{
	return journal_line_ahead(r, peer, 0, action, fields, n);
}

/* Append line to the journal (and write policy.conf first when policy_text), each a save
** committed as peer's, then fold the line in. Change mutex held. 0 or -errno. */
static int commit_change(struct rfs_retention *r, const struct rfs_peer *peer,
                         const char *policy_text, struct rfs_policy *policy, char *line)
{
	struct rfs_fs *fs = r->fs;
	struct rfs_who caller;
	const struct rfs_who *who = rfs_retention_author(r, peer, &caller);
	size_t ll = strlen(line);
	char *fold = strdup(line);
	int rc = fold ? 0 : -ENOMEM;

	if (rc == 0 && policy_text)
		rc = rfs_live_write_file(fs, RFS_RETENTION_POLICY, policy_text, strlen(policy_text), who);
	if (rc == 0 && r->journal_len > 0)
		rc = rfs_live_append_file(fs, RFS_RETENTION_JOURNAL, line, ll, who);
	else if (rc == 0)
		rc = rfs_live_write_file(fs, RFS_RETENTION_JOURNAL, line, ll, who);
	if (rc == 0) {
		pthread_rwlock_wrlock(&r->lock);
		r->journal_len += ll;
		if (policy) {
			rfs_policy_free(r->policy);
			free(r->policy_text);
			r->policy = policy;
			r->policy_text = strdup(policy_text);
			__atomic_store_n(&r->active, true, __ATOMIC_RELEASE);
			__atomic_store_n(&r->checks, true, __ATOMIC_RELEASE);
		}
		fold_text(r, fold);
		pthread_rwlock_unlock(&r->lock);
	} else {
		rfs_log(LOG_ERR, "retention state not saved: %s", strerror(-rc));
	}
	free(fold);
	return rc;
}

static int change(struct rfs_retention *r, const struct rfs_peer *peer, const char *action,
                  const char *const *fields, size_t n)
{
	char *line = journal_line(r, peer, action, fields, n);
	int rc = line ? commit_change(r, peer, NULL, NULL, line) : -ENOMEM;

	free(line);
	return rc;
}

int rfs_retention_journal_append(struct rfs_retention *r, const struct rfs_peer *peer,
                                 const char *action, const char *const *fields, size_t n)
{
	int rc;

	pthread_mutex_lock(&r->change);
	rc = change(r, peer, action, fields, n);
	pthread_mutex_unlock(&r->change);
	if (!strcmp(action, "dispose"))
		rfs_retention_live_changed(r);   /* its record leaves live/ */
	return rc;
}

/* Before a change: a policy in force, peer in the records-manager role, format 3. */
static int may_change(struct rfs_retention *r, const struct rfs_peer *peer, bool needs_policy,
                      char *msg, size_t msgsz)
{
	int rc = rfs_retention_change_refusal(r, r->fs->v->path, msg, msgsz);

	if (rc < 0)
		return rc;
	if (!rfs_retention_may(r, peer, RFS_ROLE_RECORDS_MANAGER)) {
		snprintf(msg, msgsz, "%s is not in the records-manager role of the policy in force",
		         peer->login);
		return -EACCES;
	}
	if (needs_policy && !__atomic_load_n(&r->active, __ATOMIC_ACQUIRE)) {
		snprintf(msg, msgsz, "no retention policy is loaded: 'recfs policy load' first");
		return -ENOENT;
	}
	return 0;
}

/* The record path holds (path, or the record it is inside); malloc'd, or NULL with msg. */
static char *record_of(struct rfs_retention *r, const char *path_in, char *msg, size_t msgsz)
{
	char *copy = strdup(path_in), *path = copy ? trim_path(copy) : NULL, *rec = NULL;
	struct rfs_classification c;

	pthread_rwlock_rdlock(&r->lock);
	if (path && r->policy && rfs_classify_path(r->policy, path, strlen(path), &c) == 0 &&
	    c.place == RFS_PLACE_RECORD && !is_state_path(path, strlen(path)))
		rec = strndup(path, c.record_len);
	else if (path)
		snprintf(msg, msgsz, "/%s is not a record or inside one: no class of the policy "
		         "covers it", path);
	pthread_rwlock_unlock(&r->lock);
	free(copy);
	return rec;
}

static bool property_name_ok(const char *k)
{
	size_t len = strlen(k);

	if (len == 0 || len > 64 || k[0] < 'a' || k[0] > 'z' || !strcmp(k, "created") ||
	    !strcmp(k, "modified") || !strcmp(k, "closed"))
		return false;
	return strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

int rfs_retention_set(struct rfs_retention *r, const struct rfs_peer *peer, const char *path,
                      const char *const *keys, const struct rfs_date *dates, size_t n,
                      char *msg, size_t msgsz)
{
	const char **fields = calloc(2 * n + 1, sizeof(char *));
	char (*texts)[RFS_DATE_TEXT_SIZE] = calloc(n + 1, sizeof(*texts));
	char *rec = NULL;
	int rc = fields && texts ? 0 : -ENOMEM;

	pthread_mutex_lock(&r->change);
	if (rc == 0)
		rc = may_change(r, peer, true, msg, msgsz);
	if (rc == 0 && !(rec = record_of(r, path, msg, msgsz)))
		rc = -EINVAL;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!property_name_ok(keys[i])) {
			snprintf(msg, msgsz, "'%s' is not a property name: lower-case letters, digits, "
			         "'-' and '_', starting with a letter (not created, modified or closed)",
			         keys[i]);
			rc = -EINVAL;
		} else if (rfs_date_format(dates[i], texts[i]) < 0) {
			rc = -EINVAL;
		}
		fields[1 + 2 * i] = keys[i];
		fields[2 + 2 * i] = texts[i];
	}
	if (rc == 0 && n == 0)
		rc = -EINVAL;
	if (rc == 0) {
		fields[0] = rec;
		rc = change(r, peer, "set", fields, 2 * n + 1);
	}
	pthread_mutex_unlock(&r->change);
	free(rec);
	free(fields);
	free(texts);
	return rc;
}

int rfs_retention_close_record(struct rfs_retention *r, const struct rfs_peer *peer,
                               const char *path, struct rfs_date on, char *msg, size_t msgsz)
{
	char d[RFS_DATE_TEXT_SIZE], *rec = NULL;
	int rc;

	pthread_mutex_lock(&r->change);
	rc = may_change(r, peer, true, msg, msgsz);
	if (rc == 0 && !(rec = record_of(r, path, msg, msgsz)))
		rc = -EINVAL;
	if (rc == 0 && rfs_date_format(on, d) < 0)
		rc = -EINVAL;
	if (rc == 0)
		rc = change(r, peer, "close", (const char *[]){ rec, d }, 2);
	pthread_mutex_unlock(&r->change);
	free(rec);
	return rc;
}

int rfs_retention_lock_records(struct rfs_retention *r, const struct rfs_peer *peer,
                               const char *const *paths, size_t n, struct rfs_date on,
                               char *msg, size_t msgsz)
{
	char d[RFS_DATE_TEXT_SIZE], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = f ? 0 : -ENOMEM;

	pthread_mutex_lock(&r->change);
	if (rc == 0)
		rc = may_change(r, peer, true, msg, msgsz);
	if (rc == 0 && rfs_date_format(on, d) < 0)
		rc = -EINVAL;
	/* One line per record, all in one save: they are closed and locked together or not at all. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *rec = record_of(r, paths[i], msg, msgsz), *line = NULL;
		struct rec_state *s;
		bool closed;

		if (!rec) {
			rc = -EINVAL;
			break;
		}
		pthread_rwlock_rdlock(&r->lock);
		s = rec_find(r, rec);
		closed = s && rfs_date_is_set(s->closed);
		pthread_rwlock_unlock(&r->lock);
		line = journal_line_ahead(r, peer, i, "lock", (const char *[]){ rec, closed ? "" : d }, 2);
		if (!line)
			rc = -ENOMEM;
		else
			fputs(line, f);
		free(line);
		free(rec);
	}
	if (f && fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0 && n > 0)
		rc = commit_change(r, peer, NULL, NULL, text);
	pthread_mutex_unlock(&r->change);
	free(text);
	return rc;
}

static bool hold_name_ok(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                         "0123456789._-") == len;
}

int rfs_retention_hold_add(struct rfs_retention *r, const struct rfs_peer *peer,
                           const struct rfs_hold *hold, char *msg, size_t msgsz)
{
	size_t n = 6 + hold->record_count;
	const char **f = calloc(n, sizeof(char *));
	char **recs = calloc(hold->record_count + 1, sizeof(char *));
	char until[RFS_DATE_TEXT_SIZE], from[RFS_DATE_TEXT_SIZE], to[RFS_DATE_TEXT_SIZE];
	int rc = f && recs ? 0 : -ENOMEM;

	pthread_mutex_lock(&r->change);
	if (rc == 0)
		rc = may_change(r, peer, true, msg, msgsz);
	if (rc == 0 && !hold_name_ok(hold->name)) {
		snprintf(msg, msgsz, "'%s' is not a hold name: 1 to 64 letters, digits, '.', '_', '-'",
		         hold->name);
		rc = -EINVAL;
	}
	pthread_rwlock_rdlock(&r->lock);
	if (rc == 0 && hold_find(r, hold->name, true)) {
		snprintf(msg, msgsz, "a hold named %s is in force already", hold->name);
		rc = -EEXIST;
	}
	if (rc == 0 && hold->scope == RFS_HOLD_CLASS &&
	    !rfs_policy_find_class(r->policy, hold->class_name)) {
		snprintf(msg, msgsz, "the policy in force has no class %s", hold->class_name);
		rc = -EINVAL;
	}
	pthread_rwlock_unlock(&r->lock);
	if (rc == 0 && hold->scope == RFS_HOLD_RECORDS && hold->record_count == 0)
		rc = -EINVAL;
	for (size_t i = 0; rc == 0 && hold->scope == RFS_HOLD_RECORDS && i < hold->record_count; i++) {
		if (!(recs[i] = record_of(r, hold->records[i], msg, msgsz)))
			rc = -EINVAL;
		f[6 + i] = recs[i];
	}
	if (rc == 0) {
		f[0] = hold->name;
		f[1] = hold->authority;
		f[2] = date_text(hold->until, until);
		f[3] = hold->scope == RFS_HOLD_CLASS ? hold->class_name : "";
		f[4] = date_text(hold->created_from, from);
		f[5] = date_text(hold->created_to, to);
		rc = change(r, peer, "hold-add", f, hold->scope == RFS_HOLD_CLASS ? 6 : n);
	}
	pthread_mutex_unlock(&r->change);
	strings_free(recs, hold->record_count);
	free(f);
	return rc;
}

int rfs_retention_hold_release(struct rfs_retention *r, const struct rfs_peer *peer,
                               const char *name, const char *reason, char *msg, size_t msgsz)
{
	int rc;

	pthread_mutex_lock(&r->change);
	rc = may_change(r, peer, true, msg, msgsz);
	pthread_rwlock_rdlock(&r->lock);
	if (rc == 0 && !hold_find(r, name, true)) {
		snprintf(msg, msgsz, "no hold named %s is in force", name);
		rc = -ENOENT;
	}
	pthread_rwlock_unlock(&r->lock);
	if (rc == 0 && !*reason) {
		snprintf(msg, msgsz, "a release needs a reason");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = change(r, peer, "hold-release", (const char *[]){ name, reason }, 2);
	pthread_mutex_unlock(&r->change);
	return rc;
}

/* Each record whose due date differs between the two listings (both sorted by path). */
static int report_moves(const struct rfs_retention_listing *old,
                        const struct rfs_retention_listing *neu, rfs_retention_moved_cb cb,
                        void *arg, bool *any_earlier)
{
	size_t i = 0;
	int rc = 0;

	for (size_t j = 0; j < neu->count && rc == 0; j++) {
		const struct rfs_retention_record *n = &neu->records[j], *o = NULL;
		struct rfs_date od = RFS_DATE_NONE;
		bool earlier;

		while (old && i < old->count && strcmp(old->records[i].path, n->path) < 0)
			i++;
		if (old && i < old->count && !strcmp(old->records[i].path, n->path))
			o = &old->records[i];
		if (o)
			od = o->due;
		if (rfs_date_cmp(od, n->due) == 0)
			continue;
		/* With no policy in force nothing was ever due: a first load moves, never advances. */
		earlier = old && rfs_date_is_set(n->due) &&
		          (!rfs_date_is_set(od) || rfs_date_cmp(n->due, od) < 0);
		*any_earlier |= earlier;
		rc = cb ? cb(earlier, n->path, neu->policy->classes[n->class_index].name, od, n->due, arg)
		        : 0;
	}
	return rc;
}

int rfs_retention_load_policy(struct rfs_retention *r, const struct rfs_peer *peer,
                              const char *text, size_t len, bool confirm,
                              struct rfs_policy_report *report, rfs_retention_moved_cb cb,
                              void *arg, char *msg, size_t msgsz)
{
	struct rfs_policy *p = NULL;
	struct rfs_retention_listing old = { 0 }, neu = { 0 };
	char *copy = NULL, *line = NULL;
	bool earlier = false;
	uint64_t neu_gen = 0;
	int rc;

	pthread_mutex_lock(&r->change);
	rc = may_change(r, peer, false, msg, msgsz);
	if (rc == 0 && (rc = rfs_policy_parse(text, len, &p, report)) < 0)
		snprintf(msg, msgsz, "the policy has errors");
	if (rc == 0 && !(copy = strndup(text, len)))
		rc = -ENOMEM;
	if (rc == 0) {
		struct rfs_date today = rfs_retention_today();

		uint64_t gen = walk_gen(r);

		rc = r->policy ? table_refresh(r) : 0;
		pthread_rwlock_rdlock(&r->lock);
		if (rc == 0 && r->policy)
			rc = list_from_table(r, today, &old);
		if (rc == 0)
			rc = list_with(r, p, today, &neu);
		neu_gen = gen;
		if (rc == 0)
			rc = report_moves(r->policy ? &old : NULL, &neu, cb, arg, &earlier);
		pthread_rwlock_unlock(&r->lock);
		listing_free(&old);
	}
	if (rc == 0 && earlier && !confirm) {
		snprintf(msg, msgsz, "the new policy makes records due earlier: nothing loaded; "
		         "load it with --confirm to accept");
		rc = -ECANCELED;
	}
	if (rc == 0 && !(line = journal_line(r, peer, "policy-load", NULL, 0)))
		rc = -ENOMEM;
	if (rc == 0) {
		const struct rfs_policy *loaded = p;

		rc = commit_change(r, peer, copy, p, line);
		if (rc == 0) {
			p = NULL;          /* the state's now */
			table_adopt(r, &neu, loaded, neu_gen);   /* its walk is the new table */
		}
	}
	listing_free(&neu);
	pthread_mutex_unlock(&r->change);
	rfs_policy_free(p);
	free(copy);
	free(line);
	return rc;
}

const struct rfs_who *rfs_retention_author(struct rfs_retention *r, const struct rfs_peer *peer,
                                           struct rfs_who *storage)
{
	/* The demo sets who saves for the whole mount; otherwise each save names its author. */
	if (r->fs->demo_attribution || !strcmp(peer->login, r->login))
		return NULL;
	*storage = (struct rfs_who){ peer->login, peer->login, r->host };
	return storage;
}

void rfs_retention_guard(struct rfs_retention *r)
{
	struct stat st;
	int fd = -1;

	if (!r || __atomic_load_n(&r->checks, __ATOMIC_ACQUIRE))
		return;
	if (open_path(r->fs, RFS_RETENTION_DIR, &fd, &st) == 0) {
		close(fd);
		__atomic_store_n(&r->checks, true, __ATOMIC_RELEASE);
	}
}

const struct rfs_who *rfs_retention_mounter(struct rfs_retention *r)
{
	return &r->mounter;
}

const char *rfs_retention_policy_text(struct rfs_retention *r, uint64_t *rev)
{
	*rev = r->policy_rev;
	return r->policy_text;
}

/* ---- open and close ---- */

/* The file's text, or NULL: not there (*failed false), or unreadable or longer than limit
** (*failed true, and a log line). */
static char *read_state_file(struct rfs_fs *fs, const char *clear_path, size_t limit, size_t *len,
                             bool *failed)
{
	char *text = NULL;
	int rc = rfs_live_read_whole(fs, clear_path, limit, &text, len);

	if (rc < 0 && rc != -ENOENT) {
		rfs_log(LOG_ERR, "/%s could not be read: %s; retention changes are refused until it "
		        "reads", clear_path, strerror(-rc));
		*failed = true;
	}
	return rc < 0 ? NULL : text;
}

int rfs_retention_open(struct rfs_fs *fs, const struct rfs_who *mounter,
                       struct rfs_retention **out)
{
	struct rfs_retention *r = calloc(1, sizeof(*r));
	struct rfs_policy_report report;
	size_t plen = 0, jlen = 0;
	char *ptext, *jtext;

	if (!r)
		return -ENOMEM;
	r->fs = fs;
	pthread_rwlock_init(&r->lock, NULL);
	pthread_mutex_init(&r->change, NULL);
	snprintf(r->login, sizeof(r->login), "%s", mounter && mounter->login ? mounter->login : "");
	snprintf(r->full_name, sizeof(r->full_name), "%s",
	         mounter && mounter->full_name ? mounter->full_name : "");
	snprintf(r->host, sizeof(r->host), "%s", mounter && mounter->host ? mounter->host : "");
	r->mounter = (struct rfs_who){ r->login, r->full_name, r->host };
	ptext = read_state_file(fs, RFS_RETENTION_POLICY, RFS_POLICY_MAX_TEXT, &plen,
	                        &r->unreadable);
	if (ptext && rfs_policy_parse(ptext, plen, &r->policy, &report) < 0) {
		rfs_log(LOG_ERR, "/%s does not parse (line %u): no policy in force, and retention "
		        "changes are refused", RFS_RETENTION_POLICY, report.count ? report.diags[0].line : 0);
		r->policy = NULL;
		r->unreadable = true;
	}
	/* Its length even with no policy in force: the next change appends to it, never
	** replaces it. */
	jtext = read_state_file(fs, RFS_RETENTION_JOURNAL, JOURNAL_MAX, &jlen, &r->unreadable);
	if (jtext)
		r->journal_len = jlen;
	if (r->policy) {
		r->policy_text = ptext;
		ptext = NULL;
		if (jtext)
			fold_text(r, jtext);
		r->active = true;
	}
	rfs_retention_guard(r);
	free(jtext);
	free(ptext);
	*out = r;
	return 0;
}

void rfs_retention_close(struct rfs_retention *r)
{
	if (!r)
		return;
	state_clear(r);
	table_free(r);
	free(r->hview);
	rfs_policy_free(r->policy);
	free(r->policy_text);
	pthread_rwlock_destroy(&r->lock);
	pthread_mutex_destroy(&r->change);
	free(r);
}
