/*
** recfs mount VAULT MOUNTPOINT: unlock a vault and serve it through FUSE.
**
** Owns: the -o option list (ro, rw and nonempty are ours, the rest goes to
** FUSE; allow_other brings default_permissions with it), the checks
** made before asking for a passphrase, and starting the daemon.
** Must never: mount anything when the passphrase, the vault or the mount point
** is wrong, hide files or the vault under a mount, let other users in without
** the kernel's permission checks, or let the caller choose the FUSE
** fsname/subtype (umount finds recfs mounts by them).
*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/history/history.h"
#include "fs/idle.h"
#include "fs/mount.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/mounts.h"
#include "tools/passphrase.h"

static const struct cli_help mount_help = {
	"VAULT MOUNTPOINT [-f] [-d] [-o OPTIONS] [--passphrase-file FILE]",
	"Ask for the passphrase, unlock VAULT and show its records at MOUNTPOINT (an\n"
	"existing, empty folder outside the vault). Returns once the mount is up; the\n"
	"daemon keeps running until 'recfs umount MOUNTPOINT'.\n"
	"\n"
	"  -f, --foreground        stay in the foreground until unmounted\n"
	"  -d, --debug             print FUSE debug output (implies -f)\n"
	"  -o, --options OPTIONS  comma-separated mount options; may be repeated:\n"
	"      ro                    read-only: every change fails with EROFS\n"
	"      rw                    read-write (the default)\n"
	"      allow_other           let other local users in, with the same permission\n"
	"                            checks as on ext4 (it implies default_permissions);\n"
	"                            non-root needs user_allow_other in /etc/fuse.conf\n"
	"      default_permissions   the kernel checks modes and owners on every access\n"
	"      nonempty              mount over a folder that is not empty (its files are\n"
	"                            hidden until the unmount)\n"
	"      idle=DURATION         unmount after DURATION (30s, 15m, 2h, 1d) without use,\n"
	"                            with every save committed and the keys wiped; not while\n"
	"                            a file or a shell's folder is open there\n"
	"      noatime               accepted: reads never change a file's access time here\n"
	"      nosuid, nodev, noexec no set-user-ID programs, device files or programs\n"
	"      auto_unmount          unmount if the daemon dies\n"
	"      max_read=N            read requests of at most N bytes (4096 to 1048576)\n"
	"      other FUSE options are passed to FUSE; fsname and subtype are recfs's own\n"
	"  --at DATE|REV           show the whole vault read-only as it stood at DATE\n"
	"                          (2023-03-31 or 2023-03-31T14:05) or revision REV;\n"
	"                          works while the vault is mounted elsewhere\n"
	"  --author NAME           record saves as made by NAME (default: your full name\n"
	"                          and login from passwd)\n"
	"  --threads N             at most N worker threads (default: recfs chooses)\n"
	"  --accept-history-state  mount read-write although history was rolled back,\n"
	"                          replaced or removed, or live/ changed while closed\n"
	"                          (run 'recfs verify VAULT' first): history goes on from here\n"
	"  --passphrase-file FILE  read the passphrase from the first line of FILE\n"
	"                          ('-' is standard input)\n"
	"  -h, --help              show this help\n",
};

/* --at DATE|REV: mount a read-only view of history instead of live/. */
static const char *view_spec;

/* -o nonempty: the mount point may hold files (they are hidden until the unmount). */
static bool allow_nonempty;

/* Options recfs sets itself; a caller's value would hide the mount from umount. */
static bool option_is_reserved(const char *opt, size_t len)
{
	static const char *const reserved[] = { "fsname", "subtype" };

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		size_t n = strlen(reserved[i]);

		if (len >= n && strncmp(opt, reserved[i], n) == 0 && (len == n || opt[n] == '='))
			return true;
	}
	return false;
}

/* max_read=N: the kernel reads at most 1 MiB at a time anyway. */
#define MAX_READ_LIMIT (1u << 20)

static int parse_max_read(const char *s, size_t len, unsigned *out)
{
	char digits[16];
	unsigned long n;

	if (len == 0 || len >= sizeof(digits) || strspn(s, "0123456789") < len)
		return -1;
	memcpy(digits, s, len);
	digits[len] = '\0';
	n = strtoul(digits, NULL, 10);
	if (n < 4096 || n > MAX_READ_LIMIT)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Add one -o argument: "ro"/"rw" set read_only, the rest are appended to
** *fuse_opts (a malloc'd comma list). 0, or -1 after printing why. */
static int add_mount_options(const char *list, struct rfs_mount_opts *o, char **fuse_opts)
{
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len == 2 && strncmp(p, "ro", 2) == 0) {
			o->read_only = true;
		} else if (len == 2 && strncmp(p, "rw", 2) == 0) {
			o->read_only = false;
		} else if (len == 8 && strncmp(p, "nonempty", 8) == 0) {
			allow_nonempty = true;        /* ours: libfuse 3 no longer knows it */
		} else if (len >= 5 && strncmp(p, "idle=", 5) == 0) {
			char dur[32];

			snprintf(dur, sizeof(dur), "%.*s", (int)(len - 5), p + 5);
			if (len - 5 >= sizeof(dur) || rfs_idle_parse(dur, &o->idle_seconds) < 0) {
				cli_error("-o %.*s: DURATION is a number with s, m, h or d (30s, 15m, 2h), "
				          "from 1 s to 365 days", (int)len, p);
				return -1;
			}
		} else if (len >= 9 && strncmp(p, "max_read=", 9) == 0 &&   /* kept, and passed on */
		           parse_max_read(p + 9, len - 9, &o->max_read) < 0) {
			cli_error("-o %.*s: N is a number of bytes from 4096 to %u", (int)len, p,
			          MAX_READ_LIMIT);
			return -1;
		} else if (option_is_reserved(p, len)) {
			cli_error("-o %.*s cannot be set: recfs names its mounts itself", (int)len, p);
			return -1;
		} else if (len > 0) {
			size_t old = *fuse_opts ? strlen(*fuse_opts) : 0;
			char *grown = realloc(*fuse_opts, old + len + 2);

			if (!grown) {
				cli_error("out of memory");
				return -1;
			}
			if (old)
				grown[old++] = ',';
			memcpy(grown + old, p, len);
			grown[old + len] = '\0';
			*fuse_opts = grown;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Whether the comma list has the option name (alone or as name=...). */
static bool has_option(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");

		if (len >= n && strncmp(p, name, n) == 0 && (len == n || p[n] == '='))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Without default_permissions nobody checks modes: the daemon, often root,
** would do what any user asked. So allow_other implies it, as in gocryptfs. */
static int imply_default_permissions(struct rfs_mount_opts *o, char **fuse_opts)
{
	if (!has_option(*fuse_opts, "allow_other") || has_option(*fuse_opts, "default_permissions"))
		return 0;
	return add_mount_options("default_permissions", o, fuse_opts);
}

/* A mount must not hide files, nor the vault from its own daemon: refuse a
** mount point that is the vault, lies inside it or holds it, and (without -o
** nonempty) one that is not empty. Both paths are resolved. 0 or -1 after
** printing why. */
static int check_mount_place(const char *vault, const char *abs_mountpoint)
{
	char abs_vault[PATH_MAX];
	size_t nv, nm = strlen(abs_mountpoint);
	struct dirent *e;
	DIR *d;

	if (realpath(vault, abs_vault)) {
		nv = strlen(abs_vault);
		if (strcmp(abs_vault, abs_mountpoint) == 0) {
			cli_error("mount point %s is the vault folder itself; mount it on an empty folder "
			          "outside the vault", abs_mountpoint);
			return -1;
		}
		if (nm > nv && strncmp(abs_mountpoint, abs_vault, nv) == 0 && abs_mountpoint[nv] == '/') {
			cli_error("mount point %s is inside the vault %s; mount it on an empty folder "
			          "outside the vault", abs_mountpoint, abs_vault);
			return -1;
		}
		if (strcmp(abs_mountpoint, "/") == 0 ||
		    (nv > nm && strncmp(abs_vault, abs_mountpoint, nm) == 0 && abs_vault[nm] == '/')) {
			cli_error("mount point %s holds the vault %s, which the mount would hide; mount it "
			          "on an empty folder outside the vault", abs_mountpoint, abs_vault);
			return -1;
		}
	}
	if (allow_nonempty)
		return 0;
	d = opendir(abs_mountpoint);
	if (!d) {
		cli_error("cannot read mount point %s: %s; check its permissions", abs_mountpoint,
		          strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL && (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")))
		;
	closedir(d);
	if (e) {
		cli_error("mount point %s is not empty: the mount would hide its files; use an empty "
		          "folder, or add -o nonempty", abs_mountpoint);
		return -1;
	}
	return 0;
}

static int parse_threads(const char *s, unsigned *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || end == s || n < 1 || n > 1024) {
		cli_error("--threads wants a number from 1 to 1024, not '%s'", s);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* For --at: materialise the revision's ciphertext tree inside the vault
** (ciphertext only; removed at unmount) and point o at it. */
static int prepare_view(struct rfs_vault *v, const char *spec, struct rfs_mount_opts *o,
                        char rev[RFS_REV_HEX + 1], char dir[PATH_MAX])
{
	struct rfs_history *h = NULL;
	char err[CLI_ERRSZ] = "";
	int rc = rfs_history_open(v, NULL, RFS_HISTORY_READONLY, &h, err, sizeof(err));

	if (rc < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	rc = rfs_history_resolve(h, spec, rev);
	if (rc < 0) {
		cli_error(rc == -EINVAL ? "'%s' is neither a revision nor a date (2023-03-31 or "
		                          "2023-03-31T14:05)" : "no version at or before %s in history",
		          spec);
		rfs_history_close(h);
		return CLI_FAIL;
	}
	/* Held open (and so locked) until the daemon exits: a killed view's
	** folder is then the next mount's or gc's to remove. */
	int hold = rfs_history_view_dir(v, rev, dir);
	if (hold < 0) {
		cli_error("cannot make a folder for the view in %s: %s", v->path, strerror(-hold));
		rfs_history_close(h);
		return CLI_FAIL;
	}
	rc = rfs_history_materialise(h, rev, dir);
	rfs_history_close(h);
	if (rc < 0) {
		cli_error("cannot rebuild %s as it stood at %.12s: %s", v->path, rev, strerror(-rc));
		close(hold);
		(void)rfs_history_leftovers(v, true, NULL, NULL);   /* the half-built view */
		return CLI_FAIL;
	}
	(void)chmod(dir, 0755);   /* the view's root, like live/ */
	o->snapshot_dir = dir;
	o->snapshot_rev = rev;
	o->read_only = true;
	return CLI_OK;
}

/* Unlock and mount in this process, wiping the passphrase once it has
** served. The daemon itself never returns from here into a command. */
static int unlock_and_run(const char *vault, struct rfs_secret *pass, const char *mountpoint,
                          const struct rfs_mount_opts *o)
{
	char err[CLI_ERRSZ] = "", rev[RFS_REV_HEX + 1], dir[PATH_MAX];
	struct rfs_mount_opts opts = *o;
	struct rfs_vault *v;
	pid_t caller = getpid();
	int rc = cli_open_vault(vault, pass, view_spec ? 0 : RFS_OPEN_LOCK, &v);

	rfs_secret_free(pass);
	if (rc != CLI_OK)
		return CLI_FAIL;
	if (view_spec && prepare_view(v, view_spec, &opts, rev, dir) != CLI_OK) {
		rfs_vault_close(v);
		return CLI_FAIL;
	}
	rc = rfs_mount_run(v, mountpoint, &opts, err, sizeof(err));
	if (getpid() != caller)      /* the daemon, after its unmount */
		exit(rc < 0 ? CLI_FAIL : CLI_OK);
	if (rc < 0) {
		cli_error("cannot mount %s at %s: %s", vault, mountpoint, err[0] ? err : strerror(-rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_mount_start(const char *vault, const char *passfile, const char *mountpoint,
                    const struct rfs_mount_opts *o)
{
	char err[CLI_ERRSZ] = "", abs_mountpoint[PATH_MAX];
	struct rfs_secret *pass;
	pid_t child;

	/* Everything that can be checked is checked before the passphrase. */
	if (rfs_mount_check_mountpoint(mountpoint, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	if (!realpath(mountpoint, abs_mountpoint)) {   /* the daemon leaves the working folder */
		cli_error("cannot resolve %s: %s", mountpoint, strerror(errno));
		return CLI_FAIL;
	}
	if (cli_check_vault(vault, view_spec ? 0 : RFS_OPEN_LOCK) != CLI_OK ||
	    check_mount_place(vault, abs_mountpoint) < 0 ||
	    cli_read_vault_passphrase(vault, passfile, &pass) != CLI_OK)
		return CLI_FAIL;
	if (o->foreground || o->debug)
		return unlock_and_run(vault, pass, abs_mountpoint, o);
	/* The daemon detaches from a child, so that this process can go on once
	** the mount is up (the child exits 0) or has failed (it printed why). */
	fflush(NULL);
	child = fork();
	if (child == 0)
		_exit(unlock_and_run(vault, pass, abs_mountpoint, o));
	rfs_secret_free(pass);
	if (child < 0) {
		cli_error("cannot start the mount daemon: %s", strerror(errno));
		return CLI_FAIL;
	}
	return cli_wait_child(child) == 0 ? CLI_OK : CLI_FAIL;
}

/* What the options ask for; fuse_opts is a malloc'd comma list, or NULL. */
static struct rfs_mount_opts opts;
static char *fuse_opts;

static int mount_option(struct cli_ctx *ctx, int opt, char *arg)
{
	switch (opt) {
	case 'd': opts.debug = opts.foreground = true; break;
	case 'o': return add_mount_options(arg, &opts, &fuse_opts) < 0 ? CLI_FAIL : CLI_OK;
	case 'T': return parse_threads(arg, &opts.threads) < 0 ? CLI_FAIL : CLI_OK;
	}
	return CLI_OK;
}

static int mount_run(struct cli_ctx *ctx)
{
	if (imply_default_permissions(&opts, &fuse_opts) < 0)
		return CLI_FAIL;
	opts.fuse_opts = fuse_opts;
	return cmd_mount_start(ctx->argv[0], ctx->passfile, ctx->argv[1], &opts);
}

static void mount_done(void)
{
	free(fuse_opts);
	fuse_opts = NULL;
}

static const struct cli_option mount_options[] = {
	CLI_FLAG("foreground", 'f', &opts.foreground),
	CLI_HOOK("debug", 'd', no_argument),
	CLI_HOOK("options", 'o', required_argument),
	CLI_VALUE("at", 'A', &view_spec),
	CLI_VALUE("author", 'U', &opts.author),
	CLI_HOOK("threads", 'T', required_argument),
	CLI_FLAG("accept-history-state", 'S', &opts.accept_history_state),
	{ 0 },
};

const struct cli_command cmd_mount = {
	.help = &mount_help, .shortopts = "fdo:", .options = mount_options,
	.args = { 2, 2, "VAULT MOUNTPOINT" }, .option = mount_option, .run = mount_run,
	.done = mount_done,
};
