/*
** recfs mount VAULT MOUNTPOINT: unlock a vault and serve it through FUSE.
**
** Owns: the -o option list (ro is ours, the rest goes to FUSE), the checks
** made before asking for a passphrase, and starting the daemon.
** Must never: mount anything when the passphrase, the vault or the mount point
** is wrong, or let the caller choose the FUSE fsname/subtype (umount finds
** recfs mounts by them).
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/mount.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/mounts.h"

static const struct cli_help mount_help = {
	"VAULT MOUNTPOINT [-f] [-d] [-o OPTIONS] [--passphrase-file FILE]",
	"Ask for the passphrase, unlock VAULT and show its records at MOUNTPOINT (an\n"
	"existing, empty folder). Returns once the mount is up; the daemon keeps running\n"
	"until 'recfs umount MOUNTPOINT'.\n"
	"\n"
	"  -f, --foreground        stay in the foreground until unmounted\n"
	"  -d, --debug             print FUSE debug output (implies -f)\n"
	"  -o OPTIONS              comma-separated mount options; may be repeated:\n"
	"                            ro                   read-only\n"
	"                            allow_other          let other users in (non-root needs\n"
	"                                                 user_allow_other in /etc/fuse.conf)\n"
	"                            default_permissions  the kernel checks modes and owners\n"
	"                            noatime, ...         other FUSE options, passed through\n"
	"  --threads N             at most N worker threads (default: recfs chooses)\n"
	"  --passphrase-file FILE  read the passphrase from the first line of FILE\n"
	"                          ('-' is standard input)\n"
	"  -h, --help              show this help\n",
};

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

int rfs_mount_serve(struct rfs_vault *v, const char *mountpoint, const struct rfs_mount_opts *o)
{
	char err[CLI_ERRSZ] = "";
	pid_t caller = getpid();
	int rc = rfs_mount_run(v, mountpoint, o, err, sizeof(err));

	if (getpid() != caller)      /* the daemon, after its unmount: never back into a command */
		exit(rc < 0 ? CLI_FAIL : CLI_OK);
	if (rc < 0) {
		cli_error("cannot mount at %s: %s", mountpoint, err[0] ? err : strerror(-rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option options[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "options", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 'T' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		CLI_HELP_OPTION,
		{ 0 },
	};
	struct rfs_mount_opts opts = { 0 };
	const char *passfile = NULL;
	char *fuse_opts = NULL, err[CLI_ERRSZ] = "", mountpoint[PATH_MAX];
	struct rfs_vault *v;
	int c, rc = CLI_FAIL;

	while ((c = cli_next_option(argc, argv, "fdo:h", options)) != -1) {
		switch (c) {
		case 'f': opts.foreground = true; break;
		case 'd': opts.debug = opts.foreground = true; break;
		case 'o':
			if (add_mount_options(optarg, &opts, &fuse_opts) < 0)
				goto out;
			break;
		case 'T':
			if (parse_threads(optarg, &opts.threads) < 0)
				goto out;
			break;
		case 'p': passfile = optarg; break;
		case 'h': rc = cli_print_help(&mount_help); goto out;
		default: rc = cli_usage_error(); goto out;
		}
	}
	if (cli_check_args(argc - optind, argv + optind, 2, 2, "VAULT MOUNTPOINT") < 0)
		goto out;
	const char *vault = argv[optind], *given_mountpoint = argv[optind + 1];

	opts.fuse_opts = fuse_opts;
	/* Check the mount point before asking for a passphrase; the daemon leaves
	** the working folder, so it gets the absolute path. */
	if (rfs_mountpoint_check(given_mountpoint, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		goto out;
	}
	if (!realpath(given_mountpoint, mountpoint)) {
		cli_error("cannot resolve %s: %s", given_mountpoint, strerror(errno));
		goto out;
	}
	if (cli_unlock_vault(vault, passfile, RFS_OPEN_LOCK, &v) != CLI_OK)
		goto out;
	rc = rfs_mount_serve(v, mountpoint, &opts);
out:
	free(fuse_opts);
	return rc;
}
