/*
** mount: see mount.h. Options follow libfuse's passthrough_hp: writeback
** cache, 1 MiB writes, long entry/attribute timeouts (this daemon is the only
** writer), a multithreaded loop with one /dev/fuse clone per thread.
*/
#include "fs/mount.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/log.h"
#include "fs/ops.h"

int rfs_mountpoint_check(const char *mountpoint, char *err, size_t errsz)
{
	char parent[PATH_MAX];
	struct stat st, pst;

	if (stat(mountpoint, &st) != 0) {
		int e = errno;

		if (e == ENOTCONN)
			snprintf(err, errsz, "%s is a dead mount; run 'fusermount3 -u %s' first",
			         mountpoint, mountpoint);
		else if (e == ENOENT)
			snprintf(err, errsz, "mount point %s does not exist; create it with 'mkdir'",
			         mountpoint);
		else
			snprintf(err, errsz, "mount point %s: %s", mountpoint, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "mount point %s is not a folder", mountpoint);
		return -ENOTDIR;
	}
	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", mountpoint) >= sizeof(parent)) {
		snprintf(err, errsz, "mount point %s: path too long", mountpoint);
		return -ENAMETOOLONG;
	}
	if (stat(parent, &pst) == 0 && (pst.st_dev != st.st_dev || pst.st_ino == st.st_ino)) {
		snprintf(err, errsz, "%s is already a mount point; unmount it first", mountpoint);
		return -EBUSY;
	}
	return 0;
}

static int build_args(struct fuse_args *args, const struct rfs_vault *v,
                      const struct rfs_mount_opts *o)
{
	char *fsname = NULL;
	int rc = 0;

	if (fuse_opt_add_arg(args, "recfs") != 0)
		return -ENOMEM;
	if (asprintf(&fsname, "fsname=%s", v->path) < 0)
		return -ENOMEM;
	{
		char *opts = NULL;

		if (fuse_opt_add_opt_escaped(&opts, fsname) != 0 ||
		    fuse_opt_add_opt(&opts, "subtype=recfs") != 0 ||
		    (o->read_only && fuse_opt_add_opt(&opts, "ro") != 0) ||
		    (o->fuse_opts && *o->fuse_opts && fuse_opt_add_opt(&opts, o->fuse_opts) != 0) ||
		    fuse_opt_add_arg(args, "-o") != 0 || fuse_opt_add_arg(args, opts) != 0)
			rc = -ENOMEM;
		free(opts);
	}
	free(fsname);
	if (rc == 0 && o->debug && fuse_opt_add_arg(args, "-d") != 0)
		rc = -ENOMEM;
	return rc;
}

int rfs_mount_run(struct rfs_vault *v, const char *mountpoint, const struct rfs_mount_opts *o,
                  char *err, size_t errsz)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	struct fuse_session *se = NULL;
	struct rfs_fs fs;
	char *abs_mnt = realpath(mountpoint, NULL);
	int rc;

	rc = rfs_fs_init(&fs, v, o->read_only);
	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot open live/: %s", v->path, strerror(-rc));
		free(abs_mnt);
		rfs_vault_close(v);
		return rc;
	}
	rc = build_args(&args, v, o);
	if (rc == 0) {
		se = fuse_session_new(&args, &rfs_ops, sizeof(rfs_ops), &fs);
		if (!se) {
			snprintf(err, errsz, "invalid mount options (see 'recfs mount --help')");
			rc = -EINVAL;
		}
	}
	if (rc == 0 && fuse_set_signal_handlers(se) != 0) {
		snprintf(err, errsz, "cannot install signal handlers");
		rc = -EIO;
	}
	if (rc == 0 && fuse_session_mount(se, mountpoint) != 0) {
		snprintf(err, errsz, "cannot mount at %s (is /dev/fuse available? see the log above)",
		         mountpoint);
		rc = -EIO;
	}
	if (rc < 0)
		goto out;
	fs.se = se;
	if (!o->foreground && !o->debug) {
		/* The parent exits 0 here once the mount is up; we carry on as the daemon. */
		fuse_daemonize(0);
		rfs_log_to_syslog();
	}
	(void)rfs_vault_lock_note(v, getpid(), abs_mnt ? abs_mnt : mountpoint);

	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		rc = -ENOMEM;
	} else {
		fuse_loop_cfg_set_clone_fd(cfg, 1);
		fuse_loop_cfg_set_max_threads(cfg, o->threads ? o->threads : 16);
		rc = fuse_session_loop_mt(se, cfg);
		if (rc != 0) {
			rfs_log(LOG_ERR, "the FUSE loop ended with an error (%d)", rc);
			rc = -EIO;
		}
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out:
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	fuse_opt_free_args(&args);
	rfs_fs_destroy(&fs);
	rfs_vault_close(v);
	free(abs_mnt);
	return rc;
}
