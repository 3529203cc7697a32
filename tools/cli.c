/*
** cli: shared helpers of the recfs command (see cli.h).
**
** Must never: print a secret, or exit; every failure is one line on stderr
** that names the path and says what to do.
*/
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/escape.h"
#include "tools/passphrase.h"

extern char **environ;

const char *cli_command = "";
const char *cli_program = "recfs";

static void print_prefixed(const char *kind, const char *fmt, va_list ap)
{
	char line[8192];   /* room for two long paths */

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One line, always: a path holding a newline or an escape sequence is
	** shown escaped (fs/escape.h), never raw on the terminal. */
	fprintf(stderr, "recfs: %s%s%s%s\n", cli_command, cli_command[0] ? ": " : "", kind,
	        rfs_escape_line(line));
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_prefixed("", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_prefixed("warning: ", fmt, ap);
	va_end(ap);
}

int cli_next_option(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char quiet_opts[64];
	int c;

	/* A leading ':' makes getopt report a missing argument as ':', silently. */
	snprintf(quiet_opts, sizeof(quiet_opts), ":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, quiet_opts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;

	const char *given = argv[optind - 1];

	if (c == ':')
		cli_error("option '%s' needs an argument", given);
	else if (optopt && strncmp(given, "--", 2) != 0)
		cli_error("unknown option '-%c'", optopt);
	else
		cli_error("unknown option '%s'", given);
	return '?';
}

int cli_print_help(const struct cli_help *help)
{
	printf("usage: recfs %s %s\n\n%s", cli_command, help->usage, help->text);
	return CLI_OK;
}

int cli_usage_error(void)
{
	fprintf(stderr, "see '%s %s --help'\n", cli_program, cli_command);
	return CLI_FAIL;
}

int cli_check_args(int count, char **args, int min, int max, const char *names)
{
	if (count < min)
		cli_error("expects %s", names);
	else if (count > max)
		cli_error("unexpected argument '%s' (expects %s)", args[max], names);
	else
		return 0;
	cli_usage_error();
	return -1;
}

char *cli_path_join(const char *dir, const char *name)
{
	char *out;
	size_t dl = strlen(dir);
	const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";

	if (asprintf(&out, "%s%s%s", dir, sep, name) < 0) {
		cli_error("out of memory");
		return NULL;
	}
	return out;
}

const char *cli_shell_quote(const char *s)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./=:@,+%";
	/* A few results may be alive in one printf; each is at most 4x + 3. */
	static char ring[4][4 * 4096 + 3];
	static unsigned next;
	char *out = ring[next++ % 4], *o = out;
	char *limit = out + sizeof(ring[0]) - 6;

	if (s[0] != '\0' && s[strspn(s, safe)] == '\0')
		return s;
	*o++ = '\'';
	for (const char *p = s; *p && o < limit; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

int cli_run(char *const argv[])
{
	pid_t pid;
	int rc;

	fflush(NULL);
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (rc != 0)
		return -rc;
	return cli_wait_child(pid);
}

int cli_wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

void cli_choose_kdf(bool insecure_fast, struct rfs_kdf *kdf)
{
	if (!insecure_fast) {
		rfs_keyslot_kdf_default(kdf);
		return;
	}
	rfs_keyslot_kdf_insecure_fast(kdf);
	cli_warn("--insecure-fast-kdf: this passphrase is cheap to guess; use it for tests only");
}

/* The daemon's note in VAULT/lock: "pid\nmountpoint\n". 0 or -errno. */
static int read_lock_note(const char *vault, long *pid, char *mountpoint, size_t mpsz)
{
	char *path = cli_path_join(vault, RFS_LOCK_NAME);
	char buf[4096 + 32];
	ssize_t n;
	int fd;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(path);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENODATA;
	buf[n] = '\0';

	char *nl = strchr(buf, '\n');

	*pid = strtol(buf, NULL, 10);
	mountpoint[0] = '\0';
	if (nl) {
		snprintf(mountpoint, mpsz, "%s", nl + 1);
		mountpoint[strcspn(mountpoint, "\n")] = '\0';
	}
	return 0;
}

bool cli_vault_is_locked(const char *vault)
{
	char *path = cli_path_join(vault, RFS_LOCK_NAME);
	bool locked = false;
	int fd;

	if (!path)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(path);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		locked = errno == EWOULDBLOCK;
	close(fd);
	return locked;
}

static void report_vault_busy(const char *path)
{
	char mountpoint[4096];
	long pid = 0;

	if (read_lock_note(path, &pid, mountpoint, sizeof(mountpoint)) == 0 && mountpoint[0])
		cli_error("%s is already mounted at %s (daemon pid %ld); unmount it first with "
		          "'%s umount %s'", path, mountpoint, pid, cli_program, cli_shell_quote(mountpoint));
	else
		cli_error("%s is in use by another recfs process (a mount, or a check); "
		          "unmount it or wait for it to finish", path);
}

void cli_report_vault_error(const char *path, int rc, const char *reason)
{
	const char *why = reason && reason[0] ? reason : strerror(-rc);
	struct stat st;

	if (rc == -ENOENT && stat(path, &st) == 0)
		rc = -ENOTDIR;   /* the folder exists; its recfs.conf does not */
	switch (rc) {
	case -ENOENT:
		cli_error("%s does not exist; create a vault with '%s init %s'", path, cli_program,
		          cli_shell_quote(path));
		break;
	case -ENOTDIR:
		cli_error("%s is not a recfs vault (%s); create one with '%s init NEW-FOLDER'", path,
		          stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? "no " RFS_CONF_NAME : "not a folder",
		          cli_program);
		break;
	case -EINVAL:            /* the library names the vault and the bad line */
	case -EPROTONOSUPPORT:   /* the library names both versions */
	case -EPERM:             /* the library names the file it may not read */
	case -EBADMSG:           /* the library names the setting that was changed */
		cli_error("%s", why);
		break;
	case -EACCES:
		cli_error("wrong passphrase for %s%s", path,
		          strcmp(cli_command, "mount") == 0 ? "; nothing was mounted" : "");
		break;
	case -EBUSY:
		report_vault_busy(path);
		break;
	default:
		cli_error("cannot open %s: %s", path, why);
		break;
	}
}

int cli_check_vault(const char *path, int flags)
{
	char err[CLI_ERRSZ] = "";
	struct rfs_conf conf;
	int rc = rfs_vault_read_conf(path, &conf, err, sizeof(err));

	if (rc == 0 && (flags & RFS_OPEN_LOCK) && cli_vault_is_locked(path))
		rc = -EBUSY;
	if (rc < 0) {
		cli_report_vault_error(path, rc, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_read_vault_passphrase(const char *path, const char *passfile, struct rfs_secret **out)
{
	char err[CLI_ERRSZ] = "", prompt[CLI_ERRSZ];

	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
	if (rfs_secret_read(passfile, prompt, out, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_open_vault(const char *path, const struct rfs_secret *pass, int flags, struct rfs_vault **out)
{
	char err[CLI_ERRSZ] = "";
	int rc = rfs_vault_open(path, pass->text, pass->len, flags, out, err, sizeof(err));

	if (rc < 0) {
		*out = NULL;
		cli_report_vault_error(path, rc, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_unlock_vault(const char *path, const char *passfile, int flags, struct rfs_vault **out)
{
	struct rfs_secret *pass;
	int rc;

	*out = NULL;
	if (cli_check_vault(path, flags) != CLI_OK ||
	    cli_read_vault_passphrase(path, passfile, &pass) != CLI_OK)
		return CLI_FAIL;
	rc = cli_open_vault(path, pass, flags, out);
	rfs_secret_free(pass);
	return rc;
}
