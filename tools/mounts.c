/*
** mounts: unmounting and starting recfs mounts (see mounts.h).
**
** Must never: trust the lock file's pid to decide the daemon is gone; only a
** successful flock on VAULT/lock says that nobody owns the vault any more.
*/
#include "tools/mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fs/vault.h"
#include "tools/cli.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait until nobody holds VAULT/lock. 0, -ETIMEDOUT or -errno. */
static int wait_for_vault_lock(const char *vault, unsigned timeout_s)
{
	char *lock_path = cli_path_join(vault, RFS_LOCK_NAME);
	int fd, rc = -ETIMEDOUT;

	if (!lock_path)
		return -ENOMEM;
	fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(lock_path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (long waited_ms = 0; waited_ms <= (long)timeout_s * 1000; waited_ms += 50) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			rc = 0;
			break;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = -errno;
			break;
		}
		sleep_ms(50);
	}
	close(fd);
	return rc;
}

/* Undo the octal escapes (\040 ...) of a /proc/self/mountinfo field, in place. */
static void unescape_field(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The uid that mounted the FUSE file system at mountpoint (its user_id=
** option, as fusermount3 checks it), or -1 when it cannot be told. */
static long mount_owner(const char *mountpoint)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	long uid = -1;

	if (!f)
		return -1;
	while (uid < 0 && getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok = strtok_r(line, " \n", &save), *mnt = NULL, *opt;
		int i;

		for (i = 1; tok && i < 5; i++)
			tok = strtok_r(NULL, " \n", &save);
		mnt = tok;                              /* field 5: the mount point */
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		for (i = 0; tok && i < 3; i++)          /* "-", fstype, source */
			tok = strtok_r(NULL, " \n", &save);
		if (!mnt || !tok)
			continue;
		unescape_field(mnt);
		if (strcmp(mnt, mountpoint) != 0)
			continue;
		opt = strstr(tok, "user_id=");
		if (opt && (opt == tok || opt[-1] == ','))
			uid = strtol(opt + 8, NULL, 10);
	}
	free(line);
	fclose(f);
	return uid;
}

bool rfs_source_is_snapshot(const char *source)
{
	const char *at = strrchr(source, '@');

	return at && strlen(at + 1) == 40 && strspn(at + 1, "0123456789abcdef") == 40;
}

int rfs_unmount_and_wait(const char *mountpoint, bool lazy, unsigned timeout_s,
                         char *err, size_t errsz)
{
	struct rfs_mount_entry *e = malloc(sizeof(*e));
	int rc;

	if (!e) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	rc = rfs_mountinfo_find(mountpoint, false, e);
	if (rc == -ENOENT) {
		snprintf(err, errsz, "%s is not mounted", mountpoint);
	} else if (rc < 0) {
		snprintf(err, errsz, "cannot look %s up in the mount table: %s", mountpoint, strerror(-rc));
	} else if (strcmp(e->fstype, RFS_FSTYPE) != 0) {
		snprintf(err, errsz, "%s is not a recfs mount (it is %s); unmount it with umount(8)",
		         e->mountpoint, e->fstype);
		rc = -EINVAL;
	} else if (getuid() != 0 && mount_owner(e->mountpoint) >= 0 &&
	           mount_owner(e->mountpoint) != (long)getuid()) {
		snprintf(err, errsz, "%s was mounted by another user (uid %ld): only the user who "
		         "mounted it, or root, can unmount it; ask them, or run 'sudo recfs umount %s'",
		         e->mountpoint, mount_owner(e->mountpoint), cli_shell_quote(e->mountpoint));
		rc = -EPERM;
	} else {
		char *argv[5] = { "fusermount3", "-u" };
		int argc = 2, status;

		if (lazy)
			argv[argc++] = "-z";
		argv[argc++] = e->mountpoint;
		argv[argc] = NULL;
		status = cli_run(argv);

		if (status != 0) {
			if (status < 0)
				snprintf(err, errsz, "cannot run fusermount3 (%s); install the fuse3 package",
				         strerror(-status));
			else
				snprintf(err, errsz, "fusermount3 could not unmount %s; close the files open "
				         "there, or use --lazy", e->mountpoint);
			rc = -EBUSY;
		} else {
			/* A view of history (mount --at, source VAULT@REV) holds no lock. */
			rc = rfs_source_is_snapshot(e->source) ? 0 : wait_for_vault_lock(e->source, timeout_s);
			if (rc == -ETIMEDOUT)
				snprintf(err, errsz, "%s is unmounted, but its daemon still holds %s/%s after %u s; "
				         "wait for it before using the vault", e->mountpoint, e->source,
				         RFS_LOCK_NAME, timeout_s);
			else if (rc < 0)
				snprintf(err, errsz, "%s is unmounted, but %s/%s cannot be checked: %s",
				         e->mountpoint, e->source, RFS_LOCK_NAME, strerror(-rc));
		}
	}
	free(e);
	return rc;
}
