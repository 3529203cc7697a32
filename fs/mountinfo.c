/*
** mountinfo: the mount table as /proc/self/mountinfo gives it (see mountinfo.h).
** Must never: touch the last component of a path (a dead FUSE mount point
** answers ENOTCONN, and the daemon's own mount point waits for its loop).
*/
#include "fs/mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rfs_mountinfo_abspath(const char *path, char out[PATH_MAX])
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

/* Fields: id parent MAJ:MIN root MOUNTPOINT opts [optional...] - FSTYPE SOURCE superopts */
static int parse_mountinfo_line(char *line, struct rfs_mount_entry *e)
{
	char *save = NULL, *field, *dev = NULL, *mountpoint = NULL, *fstype = NULL, *source = NULL;
	int index = 0;
	int after_dash = -1;

	for (field = strtok_r(line, " \n", &save); field; field = strtok_r(NULL, " \n", &save), index++) {
		if (index == 2)
			dev = field;
		else if (index == 4)
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
	if (!dev || !mountpoint || !fstype || !source)
		return -EINVAL;
	snprintf(e->dev, sizeof(e->dev), "%s", dev);
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

int rfs_mountinfo_find(const char *path, bool contains, struct rfs_mount_entry *out)
{
	char abs[PATH_MAX], *line = NULL;
	size_t cap = 0, best_len = 0;
	struct rfs_mount_entry *e;
	int rc = rfs_mountinfo_abspath(path, abs);
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

