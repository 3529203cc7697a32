/*
** keyslots_ctl: the keyslot log, /.recfs/retention/keyslots of the live tree, and its verb
**
**   keyslot-event ACTION SLOT LABEL   (recfs key add/remove/recovery, recfs passwd, after
**                                      they rewrote recfs.conf) -> ok
**
** One line per change: when (ISO 8601, UTC), login, action (added, removed, recovery-added,
** passphrase-changed), slot (0..7), label; tab-separated, LF-ended. Appended as one save in
** history by the person who asked (as the transfer log is), under the protected state folder,
** so `recfs log` shows who changed which slot and when. Changes made while the vault was not
** mounted are found at the next mount (rfs_keyslots_reconcile), by "unknown".
** Must never: take or write a passphrase, a recovery key or a wrapped key (the verb has no
** field for one); rewrite an entry already written; serve a caller who is not the mounting
** user or root.
*/
#include <errno.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/keyslot.h"
#include "fs/control.h"
#include "fs/keyslots.h"
#include "fs/live_restore.h"
#include "fs/log.h"
#include "fs/ops.h"
#include "fs/retention.h"
#include "fs/vault.h"

#define KEYSLOTS_LOG ".recfs/retention/keyslots"

static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;

static bool action_is_known(const char *a)
{
	return !strcmp(a, "added") || !strcmp(a, "removed") || !strcmp(a, "recovery-added") ||
	       !strcmp(a, "passphrase-changed");
}

/* A label as recfs.conf allows it: 1..63 of A-Z a-z 0-9 . _ @ - (no tab, no newline). */
static bool label_is_plain(const char *l)
{
	size_t n = strlen(l);

	return n > 0 && n < 64 && strspn(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                    "0123456789._@-") == n;
}

static void iso_utc(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Append text (whole lines) to the log, making it when absent. 0 or -errno. */
static int log_append(struct rfs_fs *fs, const char *text, const struct rfs_who *who)
{
	int rc = rfs_live_append_file(fs, KEYSLOTS_LOG, text, strlen(text), who);

	if (rc == -ENOENT)
		rc = rfs_live_write_file(fs, KEYSLOTS_LOG, text, strlen(text), who);
	if (rc == 0 && fs->retention)
		rfs_retention_guard(fs->retention);
	if (rc < 0)
		rfs_log(LOG_ERR, "the keyslot log /%s of %s could not be written (%s)", KEYSLOTS_LOG,
		        fs->v->path, strerror(-rc));
	return rc;
}

/* What the log says of each slot now: its label, "" for none. */
static void log_state(char *text, char state[RFS_MAX_KEYSLOTS][64])
{
	for (char *line = text, *next; line && *line; line = next) {
		char *f[5];
		int n = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		for (char *p = line; n < 5 && p; n++) {
			f[n] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (n < 5 || strlen(f[3]) != 1 || f[3][0] < '0' || f[3][0] > '7')
			continue;
		if (!strcmp(f[2], "removed"))
			state[f[3][0] - '0'][0] = '\0';
		else if (!strcmp(f[2], "added") || !strcmp(f[2], "recovery-added"))
			snprintf(state[f[3][0] - '0'], 64, "%s", f[4]);
	}
}

static void put_entry(char *out, size_t outsz, time_t when, const char *action, int slot,
                      const char *label)
{
	char w[32];
	size_t used = strlen(out);

	iso_utc(when, w);
	snprintf(out + used, outsz - used, "%s\tunknown\t%s\t%d\t%s\n", w, action, slot, label);
}

int rfs_keyslots_reconcile(struct rfs_fs *fs)
{
	char state[RFS_MAX_KEYSLOTS][64] = { { 0 } }, err[256], *text = NULL, *path;
	char out[RFS_MAX_KEYSLOTS * 2 * 160] = "";
	struct rfs_conf conf;
	size_t len;
	int rc;

	if (fs->read_only || !fs->history)
		return 0;
	if (asprintf(&path, "%s/recfs.conf", fs->v->path) < 0)
		return -ENOMEM;
	rc = rfs_keyslot_conf_read(path, &conf, err, sizeof(err));
	free(path);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&append_lock);
	rc = rfs_live_read_whole(fs, KEYSLOTS_LOG, 1u << 20, &text, &len);
	if (conf.slots[0].in_use)       /* init's slot, unless the log says otherwise */
		snprintf(state[0], sizeof(state[0]), "%s", conf.slots[0].label);
	if (rc == 0)
		log_state(text, state);
	if (rc == 0 || rc == -ENOENT) {
		time_t now = time(NULL);

		for (int i = 0; i < RFS_MAX_KEYSLOTS; i++) {
			const struct rfs_keyslot *s = &conf.slots[i];
			const char *label = s->in_use ? s->label : "";

			if (!strcmp(state[i], label))
				continue;
			if (state[i][0])
				put_entry(out, sizeof(out), now, "removed", i, state[i]);
			if (s->in_use)
				put_entry(out, sizeof(out), s->added ? (time_t)s->added : now,
				          strncmp(label, "recovery", 8) ? "added" : "recovery-added", i, label);
		}
		rc = out[0] ? log_append(fs, out, NULL) : 0;
	}
	pthread_mutex_unlock(&append_lock);
	free(text);
	sodium_memzero(&conf, sizeof(conf));
	return rc;
}

static void serve_keyslot_event(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld,
                                int n, int passed_fd, FILE *out)
{
	struct rfs_who storage;
	const struct rfs_who *who = fs->retention ? rfs_retention_author(fs->retention, peer, &storage)
	                                          : NULL;
	char line[256], when[32];
	time_t now = time(NULL);
	int rc;

	if (!action_is_known(fld[1]) || strlen(fld[2]) != 1 || fld[2][0] < '0' || fld[2][0] > '7' ||
	    !label_is_plain(fld[3])) {
		rfs_control_refuse(out, -EINVAL, "a keyslot event needs an action, a slot 0..7 and a label");
		return;
	}
	if (fs->read_only || !fs->history) {
		rfs_control_refuse(out, -EROFS, "the vault is mounted read-only: the keyslot change "
		                   "was not recorded in history");
		return;
	}
	iso_utc(now, when);
	snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%s\n", when, peer->login, fld[1], fld[2], fld[3]);
	pthread_mutex_lock(&append_lock);
	rc = log_append(fs, line, who);
	pthread_mutex_unlock(&append_lock);
	rfs_control_reply(out, rc, NULL);
}

const struct rfs_control_verb rfs_keyslots_verbs[] = {
	{ "keyslot-event", 3, 3, RFS_VERB_OWNER, serve_keyslot_event },
	{ NULL, 0, 0, RFS_VERB_OWNER, NULL },
};
