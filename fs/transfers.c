/*
** transfers: see transfers.h. The log is kept like the retention journal: read whole, checked,
** and grown by one line per entry through rfs_live_append_file (one save in history, the
** caller's), one append at a time.
*/
#include "fs/transfers.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/live_restore.h"
#include "fs/log.h"
#include "fs/ops.h"
#include "fs/retention.h"
#include "policy/policy.h"

#define LOG_MAX ((64u << 20) - 2)      /* the longest log read */
#define FIXED_FIELDS 14                /* seq .. receipt, before the two lists */
#define SHA512_HEX 128
#define KEY_ID_HEX 16

/* One append at a time: each reads the log's end to number its line. */
static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const kind_names[] = { NULL, "archive", "close-service", "confirmed",
                                          "disposal" };

const char *rfs_transfer_kind_name(enum rfs_transfer_kind k)
{
	return k >= RFS_TRANSFER_ARCHIVE && k <= RFS_TRANSFER_DISPOSAL ? kind_names[k] : NULL;
}

/* What the strings of a list point into: the text, and each line's fields. */
struct keep {
	char *text;
	char ***fields;
	size_t n;
};

void rfs_transfers_free(struct rfs_transfer_list *list)
{
	struct keep *k = list ? list->keep : NULL;

	if (!list)
		return;
	for (size_t i = 0; k && i < k->n; i++)
		free(k->fields[i]);
	if (k) {
		free(k->fields);
		free(k->text);
		free(k);
	}
	free(list->entries);
	free(list->ends);
	free(list);
}

/* A SHA-512 in lower case, as sha512sum prints it; a key id in upper case, as minisign does. */
#define LOWER_HEX "0123456789abcdef"
#define UPPER_HEX "0123456789ABCDEF"
static bool is_hex(const char *s, size_t len, const char *digits)
{
	return strlen(s) == len && strspn(s, digits) == len;
}

/* minisign prints a key id without leading zeros; logs written before that kept all 16. */
static bool is_key_id(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= KEY_ID_HEX && strspn(s, UPPER_HEX) == len;
}

/* A decimal count of at most max, no sign, no leading zero. */
static bool count_of(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || (s[0] == '0' && s[1]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > max)
		return false;
	*out = v;
	return true;
}

static const char *or_null(const char *s)
{
	return *s ? s : NULL;
}

/* Check and take the decoded fields of line number seq. NULL, or what is wrong. */
static const char *take_line(char **f, int n, uint64_t seq, struct rfs_transfer *t)
{
	struct rfs_timestamp ts;
	struct rfs_date d;
	uint64_t v, nr, nrec;

	if (n < FIXED_FIELDS + 2)
		return "too few fields";
	if (!count_of(f[0], UINT64_MAX, &v) || v != seq)
		return "its number is not the one after the line before";
	for (v = RFS_TRANSFER_ARCHIVE; v <= RFS_TRANSFER_DISPOSAL && strcmp(f[1], kind_names[v]); v++)
		;
	if (v > RFS_TRANSFER_DISPOSAL)
		return "unknown kind";
	t->kind = (enum rfs_transfer_kind)v;
	if (rfs_date_timestamp_parse(f[2], strlen(f[2]), &ts) < 0)
		return "its time is not a timestamp";
	if (*f[3] && rfs_date_parse(f[3], strlen(f[3]), &d) < 0)
		return "its date (on) is not YYYY-MM-DD";
	if (!*f[4] || !*f[6])
		return "no login or no path";
	if (*f[8] && !is_hex(f[8], SHA512_HEX, LOWER_HEX))
		return "its sha512 is not 128 lower-case hex digits";
	if (*f[9] && !is_key_id(f[9]))
		return "its key id is not 1 to 16 upper-case hex digits";
	if (!count_of(f[FIXED_FIELDS], (uint64_t)n, &nr) ||
	    FIXED_FIELDS + 1 + nr >= (uint64_t)n ||
	    !count_of(f[FIXED_FIELDS + 1 + nr], (uint64_t)n, &nrec) ||
	    FIXED_FIELDS + 2 + nr + nrec != (uint64_t)n)
		return "its counts of recipients and records do not match its fields";
	t->seq = seq;
	t->when = ts.unix_seconds;
	t->on = or_null(f[3]);
	t->login = f[4];
	t->name = f[5];
	t->path = f[6];
	t->file = or_null(f[7]);
	t->sha512 = or_null(f[8]);
	t->key_id = or_null(f[9]);
	t->pubkey = or_null(f[10]);
	t->to = or_null(f[11]);
	t->note = or_null(f[12]);
	t->receipt = or_null(f[13]);
	t->n_recipients = (size_t)nr;
	t->recipients = (const char *const *)&f[FIXED_FIELDS + 1];
	t->n_records = (size_t)nrec;
	t->records = (const char *const *)&f[FIXED_FIELDS + 2 + nr];
	return NULL;
}

int rfs_transfers_parse(const char *text, size_t len, struct rfs_transfer_list **out, char *err,
                        size_t errsz)
{
	struct rfs_transfer_list *l = calloc(1, sizeof(*l));
	struct keep *k = calloc(1, sizeof(*k));
	size_t lines = 0, done = 0;
	int rc = 0;

	*out = NULL;
	if (err && errsz)
		err[0] = '\0';
	if (!l || !k || !(k->text = malloc(len + 1))) {
		free(l);
		free(k);
		return -ENOMEM;
	}
	l->keep = k;
	memcpy(k->text, text, len);
	k->text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	l->entries = calloc(lines + 1, sizeof(*l->entries));
	l->ends = calloc(lines + 1, sizeof(*l->ends));
	k->fields = calloc(lines + 1, sizeof(*k->fields));
	if (!l->entries || !l->ends || !k->fields)
		rc = -ENOMEM;
	for (char *line = k->text; rc == 0 && done < len; l->count++) {
		char *nl = memchr(line, '\n', len - done);
		size_t tabs = 0, ll;
		const char *why = NULL;
		int n;

		if (!nl) {
			why = "it does not end in a line feed (cut short)";
		} else if (memchr(line, '\0', (size_t)(nl - line))) {
			why = "it holds a NUL byte";
		} else {
			ll = (size_t)(nl - line);
			for (size_t i = 0; i < ll; i++)
				tabs += line[i] == '\t';
			if (!(k->fields[k->n] = calloc(tabs + 2, sizeof(char *)))) {
				rc = -ENOMEM;
				break;
			}
			k->n++;
			n = rfs_control_split_fields(line, k->fields[k->n - 1], (int)tabs + 1);
			why = n < 0 ? "a bad %XX escape"
			            : take_line(k->fields[k->n - 1], n, l->count + 1, &l->entries[l->count]);
		}
		if (why) {
			if (err)
				snprintf(err, errsz, "line %zu: %s", l->count + 1, why);
			rc = -EINVAL;
			break;
		}
		done += ll + 1;
		l->ends[l->count] = done;
		line = nl + 1;
	}
	if (rc < 0) {
		rfs_transfers_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

/* The log of fs's live tree: -ENOENT when there is none. */
static int read_log(struct rfs_fs *fs, struct rfs_transfer_list **list, size_t *len, char *err,
                    size_t errsz)
{
	char *text = NULL, why[128];
	int rc = rfs_live_read_whole(fs, RFS_TRANSFERS_PATH, LOG_MAX, &text, len);

	if (rc == 0)
		rc = rfs_transfers_parse(text, *len, list, why, sizeof(why));
	if (rc == -EINVAL) {
		snprintf(err, errsz, "the transfer log /%s of %s does not parse (%s): nothing is "
		         "appended to it; run 'recfs verify' and see its history with 'recfs log'",
		         RFS_TRANSFERS_PATH, fs->v->path, why);
		rfs_log(LOG_ERR, "%s", err);
	} else if (rc < 0 && rc != -ENOENT) {
		snprintf(err, errsz, "the transfer log /%s of %s cannot be read: %s", RFS_TRANSFERS_PATH,
		         fs->v->path, strerror(-rc));
	}
	free(text);
	return rc;
}

int rfs_transfers_list(struct rfs_fs *fs, struct rfs_transfer_list **list)
{
	char err[512];
	size_t len;
	int rc = read_log(fs, list, &len, err, sizeof(err));

	if (rc == -ENOENT) {
		*list = calloc(1, sizeof(**list));
		rc = *list ? 0 : -ENOMEM;
	}
	return rc;
}

const struct rfs_transfer *rfs_transfers_find(const struct rfs_transfer_list *list, const char *hex)
{
	for (size_t i = list->count; i-- > 0;) {
		const struct rfs_transfer *t = &list->entries[i];

		if (t->kind != RFS_TRANSFER_CONFIRMED && t->sha512 && !strcmp(t->sha512, hex))
			return t;
	}
	return NULL;
}

static void put(FILE *f, const char *s)
{
	fputc('\t', f);
	rfs_control_put_field(f, s ? s : "");
}

/* The person's name: the mount's for the mounting user, else the passwd gecos's first part,
** else the login. */
static void name_of(struct rfs_fs *fs, const struct rfs_peer *peer, char *out, size_t outsz)
{
	struct passwd pw, *pwp = NULL;
	char buf[1024];

	if (peer->mounter && fs->retention && *rfs_retention_mounter(fs->retention)->full_name) {
		snprintf(out, outsz, "%s", rfs_retention_mounter(fs->retention)->full_name);
		return;
	}
	if (getpwnam_r(peer->login, &pw, buf, sizeof(buf), &pwp) == 0 && pwp && pw.pw_gecos &&
	    *pw.pw_gecos)
		snprintf(out, outsz, "%.*s", (int)strcspn(pw.pw_gecos, ","), pw.pw_gecos);
	else
		snprintf(out, outsz, "%s", peer->login);
}

char *rfs_transfers_line(const struct rfs_transfer *t)
{
	char *line = NULL, num[24], stamp[RFS_TIMESTAMP_TEXT_SIZE] = "";
	time_t tt = (time_t)t->when;
	struct tm tm;
	struct rfs_timestamp ts = { t->when, localtime_r(&tt, &tm) ? (int32_t)tm.tm_gmtoff : 0 };
	size_t len = 0;
	FILE *f = rfs_date_timestamp_format(ts, stamp) < 0 ? NULL : open_memstream(&line, &len);

	if (!f)
		return NULL;
	fprintf(f, "%llu", (unsigned long long)t->seq);
	put(f, rfs_transfer_kind_name(t->kind));
	put(f, stamp);
	put(f, t->on);
	put(f, t->login);
	put(f, t->name);
	put(f, t->path);
	put(f, t->file);
	put(f, t->sha512);
	put(f, t->key_id);
	put(f, t->pubkey);
	put(f, t->to);
	put(f, t->note);
	put(f, t->receipt);
	snprintf(num, sizeof(num), "%zu", t->n_recipients);
	put(f, num);
	for (size_t i = 0; i < t->n_recipients; i++)
		put(f, t->recipients[i]);
	snprintf(num, sizeof(num), "%zu", t->n_records);
	put(f, num);
	for (size_t i = 0; i < t->n_records; i++)
		put(f, t->records[i]);
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(line);
		return NULL;
	}
	return line;
}

/* Every string an entry must have, and the ones that must be what they say. */
static const char *check_entry(const struct rfs_transfer *t)
{
	struct rfs_date d;

	if (!rfs_transfer_kind_name(t->kind))
		return "an unknown kind of transfer";
	if (!t->path || !*t->path)
		return "no path";
	if (t->on && *t->on && rfs_date_parse(t->on, strlen(t->on), &d) < 0)
		return "a date that is not YYYY-MM-DD";
	if (t->sha512 && *t->sha512 && !is_hex(t->sha512, SHA512_HEX, LOWER_HEX))
		return "a sha512 that is not 128 lower-case hex digits";
	if (t->key_id && *t->key_id && !is_key_id(t->key_id))
		return "a key id that is not 1 to 16 upper-case hex digits (as minisign prints it)";
	return NULL;
}

int rfs_transfers_append(struct rfs_fs *fs, const struct rfs_peer *peer, struct rfs_transfer *t,
                         char *err, size_t errsz)
{
	struct rfs_transfer_list *list = NULL;
	struct rfs_who storage;
	const struct rfs_who *who = fs->retention ? rfs_retention_author(fs->retention, peer, &storage)
	                                          : NULL;
	char name[256], *line = NULL;
	const char *bad = check_entry(t);
	size_t len = 0;
	int rc;

	if (bad) {
		snprintf(err, errsz, "a transfer log entry with %s", bad);
		return -EINVAL;
	}
	if (fs->read_only || !fs->history) {
		snprintf(err, errsz, "%s is mounted read-only: the transfer log /%s cannot be written, "
		         "so nothing was recorded", fs->v->path, RFS_TRANSFERS_PATH);
		return -EROFS;
	}
	pthread_mutex_lock(&append_lock);
	rc = read_log(fs, &list, &len, err, errsz);
	if (rc == -ENOENT)
		len = 0;
	if (rc == 0 || rc == -ENOENT) {
		name_of(fs, peer, name, sizeof(name));
		t->seq = (list ? list->count : 0) + 1;
		t->when = (int64_t)time(NULL);
		t->login = peer->login;
		t->name = name;
		rc = (line = rfs_transfers_line(t)) ? 0 : -ENOMEM;
		if (rc == 0 && len > 0)
			rc = rfs_live_append_file(fs, RFS_TRANSFERS_PATH, line, strlen(line), who);
		else if (rc == 0)
			rc = rfs_live_write_file(fs, RFS_TRANSFERS_PATH, line, strlen(line), who);
		if (rc < 0)
			snprintf(err, errsz, "the transfer log /%s of %s could not be written (%s): "
			         "nothing was recorded", RFS_TRANSFERS_PATH, fs->v->path, strerror(-rc));
		else
			rfs_retention_guard(fs->retention);
	}
	pthread_mutex_unlock(&append_lock);
	if (rc < 0)
		rfs_log(LOG_ERR, "%s", err);
	t->name = NULL;                       /* it was ours, and goes out of scope here */
	free(line);
	rfs_transfers_free(list);
	return rc;
}
