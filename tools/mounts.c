/*
** mounts: recfs mounts in /proc/self/mountinfo, and unmounting (see mounts.h).
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

int rfs_mount_abspath(const char *path, char out[PATH_MAX])
{
	char head[PATH_MAX], tail[PATH_MAX] = "";
	size_t len = strlen(path);

	if (len == 0 || len >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(head, path, len + 1);
	/* Resolve the longest part that exists (the rest may be deleted, or a
	** dead mount answering ENOTCONN), then add the rest as written. The last
	** component is never resolved: a symbolic link names itself. */
	for (bool first = true;; first = false) {
		char *slash;
		const char *base;

		while (len > 1 && head[len - 1] == '/')
			head[--len] = '\0';
		if (!first && realpath(head, out))
			break;
		if (first && (!strcmp(head, "/") || !strcmp(head, ".") || !strcmp(head, "..") ||
		              (len >= 3 && !strcmp(head + len - 3, "/..")) ||
		              (len >= 2 && !strcmp(head + len - 2, "/.")))) {
			if (!realpath(head, out))
				return -errno;
			break;
		}
		slash = strrchr(head, '/');
		base = slash ? slash + 1 : head;
		if (!strcmp(base, ".") || !strcmp(base, "..") || !*base)
			return -ENOENT;
		if (strlen(base) + 1 + strlen(tail) >= sizeof(tail))
			return -ENAMETOOLONG;
		memmove(tail + strlen(base) + 1, tail, strlen(tail) + 1);
		tail[0] = '/';
		memcpy(tail + 1, base, strlen(base));
		if (!slash) {
			strcpy(head, ".");
		} else if (slash == head) {
			strcpy(head, "/");
		} else {
			*slash = '\0';
		}
		len = strlen(head);
	}
	if (strcmp(out, "/") == 0 && tail[0])
		out[0] = '\0';
	if (strlen(out) + strlen(tail) >= PATH_MAX)
		return -ENAMETOOLONG;
	strcat(out, tail);
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo octal. */
static void unescape_into(const char *field, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = field; *p && o + 1 < outsz; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			out[o++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

/* Fields: id parent maj:min root MOUNTPOINT opts [optional...] - FSTYPE SOURCE superopts */
static int parse_mountinfo_line(char *line, struct rfs_mount_entry *e)
{
	char *save = NULL, *field, *mountpoint = NULL, *fstype = NULL, *source = NULL;
	int index = 0;
	int after_dash = -1;

	for (field = strtok_r(line, " \n", &save); field; field = strtok_r(NULL, " \n", &save), index++) {
		if (index == 4)
			mountpoint = field;
		else if (index > 5 && after_dash < 0 && strcmp(field, "-") == 0)
			after_dash = 0;
		else if (after_dash == 0) {
			fstype = field;
			after_dash = 1;
		} else if (after_dash == 1) {
			source = field;
			break;
		}
	}
	if (!mountpoint || !fstype || !source)
		return -EINVAL;
	unescape_into(mountpoint, e->mountpoint, sizeof(e->mountpoint));
	unescape_into(source, e->source, sizeof(e->source));
	unescape_into(fstype, e->fstype, sizeof(e->fstype));
	return 0;
}

/* Is path equal to dir or below it? */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int rfs_mount_find(const char *path, bool contains, struct rfs_mount_entry *out)
{
	char abs[PATH_MAX], *line = NULL;
	size_t cap = 0, best_len = 0;
	struct rfs_mount_entry *e;
	int rc = rfs_mount_abspath(path, abs);
	FILE *f;

	if (rc < 0)
		return rc;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	e = malloc(sizeof(*e));
	if (!e) {
		fclose(f);
		return -ENOMEM;
	}
	rc = -ENOENT;
	/* Later lines are mounted on top of earlier ones: the last match wins. */
	while (getline(&line, &cap, f) > 0) {
		if (parse_mountinfo_line(line, e) < 0)
			continue;
		if (!contains && strcmp(e->mountpoint, abs) == 0) {
			*out = *e;
			rc = 0;
		} else if (contains && strcmp(e->fstype, RFS_FSTYPE) == 0 &&
		           path_within(abs, e->mountpoint) && strlen(e->mountpoint) >= best_len) {
			best_len = strlen(e->mountpoint);
			*out = *e;
			rc = 0;
		}
	}
	free(line);
	free(e);
	fclose(f);
	return rc;
}

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
	rc = rfs_mount_find(mountpoint, false, e);
	if (rc == -ENOENT) {
		snprintf(err, errsz, "%s is not mounted", mountpoint);
	} else if (rc < 0) {
		snprintf(err, errsz, "cannot look %s up in the mount table: %s", mountpoint, strerror(-rc));
	} else if (strcmp(e->fstype, RFS_FSTYPE) != 0) {
		snprintf(err, errsz, "%s is not a recfs mount (it is %s); unmount it with umount(8)",
		         e->mountpoint, e->fstype);
		rc = -EINVAL;
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
