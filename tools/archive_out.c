/*
** archive_out: see archive_out.h.
*/
#include "tools/archive_out.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/bag.h"
#include "crypto/io.h"
#include "fs/mountinfo.h"
#include "tools/cli.h"

int archive_out_open(const char *file, size_t n_recipients, struct archive_out *o)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	enum rfs_bag_compress c;
	bool age_suffix;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (rfs_bag_compress_of(base, &c, &age_suffix) < 0) {
		cli_error("%s: name the archive FILE.tar, .tar.gz, .tgz or .tar.zst (then .age when "
		          "it is encrypted with --recipient)", file);
		return CLI_FAIL;
	}
	if (age_suffix != (n_recipients > 0)) {
		cli_error(n_recipients ? "%s: an archive encrypted with --recipient is named "
		                         "FILE.tar...age"
		                       : "%s ends in .age: give --recipient age1... to encrypt it", file);
		return CLI_FAIL;
	}
	if (rfs_mountinfo_abspath(file, o->path) < 0) {
		cli_error("%s: %s", file, strerror(errno));
		return CLI_FAIL;
	}
	o->fd = open(o->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		cli_error(errno == EEXIST ? "%s exists already: an archive is never written over a file"
		                          : "cannot make %s: %s", file, strerror(errno));
		return CLI_FAIL;
	}
	return CLI_OK;
}

static bool number(const char *s, uint64_t *out)
{
	char *end;

	*out = strtoull(s, &end, 10);
	return *s && !*end;
}

bool archive_out_line(struct archive_out *o, char **fld, int n)
{
	if (!strcmp(fld[0], "signature") && n == 2) {
		free(o->signature);
		o->signature = strdup(fld[1]);
	} else if (!strcmp(fld[0], "pubkey") && n == 2) {
		free(o->pubkey);
		o->pubkey = strdup(fld[1]);
	} else if (!strcmp(fld[0], "archive") && n == 7 && strlen(fld[1]) == 128 &&
	           strlen(fld[2]) == 16) {
		memcpy(o->sha512, fld[1], 129);
		memcpy(o->key_id, fld[2], 17);
		o->finished = number(fld[3], &o->bytes) && number(fld[4], &o->files) &&
		              number(fld[5], &o->objects) && number(fld[6], &o->versions);
	} else if (!strcmp(fld[0], "left-out") && n == 2) {
		cli_warn("left out of the archive: %s", fld[1]);
	} else {
		return false;
	}
	return true;
}

/* Write text to path (0644), made new or replaced. */
static int write_beside(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : rfs_io_write_all(fd, text, strlen(text));

	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		cli_error("cannot write %s: %s", path, strerror(-rc));
	return rc;
}

int archive_out_close(struct archive_out *o)
{
	char side[PATH_MAX + 16];
	int rc = CLI_OK;

	if (o->fd >= 0 && o->finished && fsync(o->fd) != 0) {
		cli_error("cannot write %s: %s", o->path, strerror(errno));
		o->finished = false;
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (!o->finished || !o->signature || !o->pubkey) {
		if (o->path[0])
			unlink(o->path);
		rc = o->finished ? CLI_FAIL : CLI_OK;   /* no archive: the caller says why */
	} else {
		snprintf(side, sizeof(side), "%s.minisig", o->path);
		rc = write_beside(side, o->signature) < 0 ? CLI_FAIL : CLI_OK;
		snprintf(side, sizeof(side), "%s.pub", o->path);
		if (rc == CLI_OK && write_beside(side, o->pubkey) < 0)
			rc = CLI_FAIL;
	}
	free(o->signature);
	free(o->pubkey);
	o->signature = o->pubkey = NULL;
	return rc;
}
