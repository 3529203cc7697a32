/*
** recfs demo [DIR]: make, mount and fill a demo vault, then say what to try.
**
** Owns: the demo folder layout (DIR/vault, DIR/mnt, DIR/passphrase,
** DIR/archive), the demo passphrase, writing demo_records' saves THROUGH the
** mount, the way staff would, and then telling its retention story with the
** recfs commands a records manager would run (policy load of the schedule in
** tools/demo_policy.conf, set, close, hold add). Its one touch of live/
** itself: the .dirid mtime of each folder it made (a record's created date)
** becomes the time of the back-dated save that made it.
** Must never: delete anything but a previous demo vault (and only with
** --force), pretend the passphrase file is anything but a demo shortcut,
** change anything in live/ but those times, or leave the schedule or any
** record's name in clear outside the mount (the schedule goes to 'policy
** load' through a memfd).
*/
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/io.h"
#include "fs/mount.h"
#include "fs/control.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/demo_policy.h"
#include "tools/demo_records.h"
#include "tools/mounts.h"
#include "tools/passphrase.h"

#define DEMO_DEFAULT_DIR "recfs-demo"
#define DEMO_EXAMPLE_FILE "adult-social-care/cases/ASC-2021-0147 Margaret Hollis/care-plan.md"

static const struct cli_help demo_help = {
	"[DIR] [--force] [--insecure-fast-kdf]",
	"Make a demo vault holding the records of Northmoor Borough Council, a fictional\n"
	"council: adult social care case files, home-care contracts, and the records of a\n"
	"telecare alarm service that has closed. Everything in it is invented.\n"
	"\n"
	"Then it loads the council's retention schedule (a copy of the example in\n"
	"docs/POLICY.md), records which cases closed and which contracts ended when, and\n"
	"places a hold and a public inquiry's moratorium, so that 'recfs due' and\n"
	"'recfs dispose --dry-run' have something to show.\n"
	"\n"
	"DIR (default: ./" DEMO_DEFAULT_DIR ") gets:\n"
	"  DIR/vault       the encrypted vault\n"
	"  DIR/passphrase  its DEMO passphrase, in a file so that you can try the commands\n"
	"  DIR/mnt         where the vault is mounted; the records are written through it\n"
	"  DIR/archive     where the schedule's 'then = archive' writes its archives\n"
	"\n"
	"  --force              unmount and replace an earlier demo vault in DIR\n"
	"  --insecure-fast-kdf  derive the key cheaply (faster; for tests only)\n"
	"  -h, --help           show this help\n",
};

/* A folder the demo made, and the time of the save that made it. */
struct made_folder {
	ino_t ino;
	time_t when;
};

struct demo_paths {
	const char *dir;
	char *vault, *mnt, *passfile, *archive;
	char mnt_abs[PATH_MAX];
	char vault_abs[PATH_MAX];
	struct made_folder *made;
	size_t made_count, made_cap;
};

static int make_folder(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	cli_error("cannot create the folder %s: %s", path, strerror(errno));
	return -1;
}

static int remember_folder(struct demo_paths *paths, const char *path, time_t when)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (paths->made_count == paths->made_cap) {
		size_t cap = paths->made_cap ? 2 * paths->made_cap : 64;
		struct made_folder *grown = realloc(paths->made, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		paths->made = grown;
		paths->made_cap = cap;
	}
	paths->made[paths->made_count++] = (struct made_folder){ st.st_ino, when };
	return 0;
}

/* mkdir -p of the folders above mnt/rel_path; each new one is remembered with when. */
static int make_parents(struct demo_paths *paths, const char *rel_path, time_t when)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", paths->mnt_abs, rel_path);
	int rc = 0;

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + strlen(paths->mnt_abs) + 1; rc == 0 && (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0750) == 0)
			rc = remember_folder(paths, path, when);
		else if (errno != EEXIST)
			rc = -errno;
		*p = '/';
	}
	return rc;
}

/* The folders the demo made, and the mount's own, share inode numbers with their backing
** folders in live/ (the mount passes st_ino through). nftw gives its callback no context. */
static const struct demo_paths *dating;

static int date_backing_folder(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_D)
		return 0;
	for (size_t i = 0; i < dating->made_count; i++) {
		if (dating->made[i].ino != st->st_ino)
			continue;
		const struct timespec times[2] = { { dating->made[i].when, 0 }, { dating->made[i].when, 0 } };
		char *dirid = cli_path_join(path, ".dirid");
		int rc = dirid ? utimensat(AT_FDCWD, dirid, times, AT_SYMLINK_NOFOLLOW) : -1;

		free(dirid);
		return rc < 0 ? -1 : 0;
	}
	return 0;
}

/* A record's created date is its folder's .dirid mtime (README, Retention). The demo's
** history is back-dated, so each folder it made gets the date of the save that made it: the
** one change the demo makes in live/ itself (a time, never content or a name). */
static int date_made_folders(const struct demo_paths *paths)
{
	char *live = cli_path_join(paths->vault_abs, RFS_LIVE_DIR);
	int rc;

	if (!live)
		return -ENOMEM;
	dating = paths;
	rc = nftw(live, date_backing_folder, 16, FTW_PHYS | FTW_MOUNT) == 0 ? 0 : -EIO;
	dating = NULL;
	if (rc < 0)
		cli_error("cannot date the demo's folders in %s: %s", live, strerror(errno));
	free(live);
	return rc;
}

/* One save, as an office program would make it: open, write, close; then the
** document's date. Issue 4 can record save->staff as the author here. */
static int write_save(const struct demo_save *save, void *ctx)
{
	struct demo_paths *paths = ctx;
	char *path = cli_path_join(paths->mnt_abs, save->path);
	const struct timespec times[2] = { { save->when, 0 }, { save->when, 0 } };
	int fd, rc;

	if (!path)
		return -ENOMEM;
	/* The demo's history tells a story: who saved each document, and when. */
	rc = rfs_control_attribute(paths->vault_abs, save->staff, save->staff_name,
	                          "northmoor-ws01", (int64_t)save->when);
	if (rc == 0)
		rc = make_parents(paths, save->path, save->when);
	fd = rc < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (rc == 0 && fd < 0)
		rc = -errno;
	if (fd >= 0) {
		rc = rfs_io_write_all(fd, save->data, save->len);
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
	}
	if (rc == 0 && utimensat(AT_FDCWD, path, times, 0) < 0)
		rc = -errno;
	if (rc < 0)
		cli_error("cannot write %s through the mount: %s", path, strerror(-rc));
	free(path);
	return rc;
}

/* From now on saves are the demo user's own, at the real time again. */
static int attribute_to_self(const struct demo_paths *paths)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "unknown", name[256] = "";

	(void)gethostname(host, sizeof(host) - 1);
	if (pw && pw->pw_gecos)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(pw->pw_gecos, ","), pw->pw_gecos);
	return rfs_control_attribute(paths->vault_abs, pw ? pw->pw_name : "unknown", name, host, 0);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0) {
		cli_error("cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* --force: unmount DIR/mnt if a recfs vault is mounted there, then delete
** DIR/vault, but only if it is a recfs vault (has recfs.conf). */
static int remove_old_demo(const struct demo_paths *paths)
{
	struct rfs_mount_entry *mounted = malloc(sizeof(*mounted));
	char err[CLI_ERRSZ] = "";
	struct rfs_conf conf;
	int rc = mounted ? rfs_mountinfo_find(paths->mnt, false, mounted) : -ENOMEM;

	free(mounted);
	if (rc == 0 && rfs_unmount_and_wait(paths->mnt, false, 60, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return -1;
	}
	rc = rfs_vault_read_conf(paths->vault, &conf, err, sizeof(err));
	if (rc < 0 && rc != -EPROTONOSUPPORT) {
		cli_error("%s is not a recfs vault (%s); remove it yourself if it is safe to", paths->vault,
		          err[0] ? err : strerror(-rc));
		return -1;
	}
	if (cli_vault_is_locked(paths->vault)) {
		cli_error("%s is in use (mounted somewhere other than %s?); unmount it first", paths->vault,
		          paths->mnt);
		return -1;
	}
	if (nftw(paths->vault, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return -1;
	return 0;
}

/* A fresh random demo passphrase, written to DIR/passphrase (0600). */
static int write_demo_passphrase(const char *passfile, const char *vault)
{
	unsigned char random_bytes[9];
	char *pass = sodium_malloc(64);
	int fd, rc = 0;

	if (!pass) {
		cli_error("out of locked memory");
		return -1;
	}
	randombytes_buf(random_bytes, sizeof(random_bytes));
	memcpy(pass, "northmoor-demo-", 16);
	sodium_bin2hex(pass + 15, 64 - 15, random_bytes, sizeof(random_bytes));
	sodium_memzero(random_bytes, sizeof(random_bytes));

	unlink(passfile);
	fd = open(passfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    dprintf(fd, "%s\n# The DEMO passphrase of %s, kept in a file so that the demo can be\n"
	            "# scripted. A real vault's passphrase never belongs in a file.\n", pass, vault) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	sodium_free(pass);
	if (rc < 0)
		cli_error("cannot write %s: %s", passfile, strerror(-rc));
	return rc;
}

/* Create the vault from the passphrase file, as `recfs init` would. */
static int create_vault(const struct demo_paths *paths, bool fast_kdf)
{
	char err[CLI_ERRSZ];
	struct rfs_secret *pass;
	struct rfs_kdf kdf;
	int rc;

	cli_choose_kdf(fast_kdf, &kdf);
	rc = rfs_secret_read(paths->passfile, NULL, &pass, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s", err);
		return -1;
	}
	rc = rfs_vault_create(paths->vault, pass->text, pass->len, &kdf, "demo");
	rfs_secret_free(pass);
	if (rc < 0)
		cli_error("cannot create the vault %s: %s", paths->vault, strerror(-rc));
	return rc;
}

static int mount_demo(struct demo_paths *paths)
{
	const struct rfs_mount_opts opts = { .demo_attribution = true };

	if (make_folder(paths->mnt) < 0)
		return -1;
	if (!realpath(paths->mnt, paths->mnt_abs)) {
		cli_error("cannot resolve %s: %s", paths->mnt, strerror(errno));
		return -1;
	}
	if (cmd_mount_start(paths->vault, paths->passfile, paths->mnt, &opts) != CLI_OK)
		return -1;
	if (!realpath(paths->vault, paths->vault_abs)) {
		cli_error("cannot resolve %s: %s", paths->vault, strerror(errno));
		return -1;
	}
	return 0;
}

/* Run this recfs program as a records manager would type it, from inside the mount; its
** output is quiet, its errors are not. extra_fd, when not -1, is passed on as descriptor 3.
** 0, or -EIO when it failed (it said why on stderr). */
static int run_recfs(const struct demo_paths *paths, const char *const args[], int extra_fd)
{
	char *argv[16] = { (char *)cli_program };
	int status, n = 1;
	pid_t pid;

	for (; args[n - 1] && n < 15; n++)
		argv[n] = (char *)args[n - 1];
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int quiet = open("/dev/null", O_WRONLY);

		/* dup2 onto 3 clears close-on-exec; a descriptor that is 3 already keeps it. */
		if (quiet < 0 || dup2(quiet, STDOUT_FILENO) < 0 || chdir(paths->mnt_abs) < 0 ||
		    (extra_fd >= 0 && (extra_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(extra_fd, 3)) < 0))
			_exit(127);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	cli_error("'%s %s' failed", cli_program, args[0]);
	return -EIO;
}

/* Whether the comma-separated members in value[0..len) name login. */
static bool role_names(const char *value, size_t len, const char *login)
{
	size_t n = strlen(login);

	for (const char *p = value, *end = value + len; p < end;) {
		p += strspn(p, " \t,");
		size_t word = strcspn(p, " \t,");

		if (p + word > end)
			word = (size_t)(end - p);
		if (word == n && !memcmp(p, login, n))
			return true;
		p += word;
	}
	return false;
}

/* One line of the schedule as the demo loads it: 'archive' is DIR/archive, and login is a
** member of both roles (so the walk in README works for whoever runs the demo). */
static void adapt_policy_line(FILE *out, const char *line, size_t len, const char *archive,
                              const char *login)
{
	const char *key = line + strspn(line, " \t");
	size_t key_len = strcspn(key, " \t=");
	const char *comment = NULL, *eq = memchr(line, '=', len);

	for (const char *p = eq ? eq : line; p && p < line + len; p++)
		if (*p == '#' && p > line && (p[-1] == ' ' || p[-1] == '\t')) {
			comment = p;
			break;
		}
	if (!eq || *key == '#') {
		fprintf(out, "%.*s\n", (int)len, line);
	} else if (key_len == 7 && !strncmp(key, "archive", 7)) {
		fprintf(out, "archive      = %s    # the demo's own archive folder\n", archive);
	} else if ((key_len == 15 && !strncmp(key, "records-manager", 15)) ||
	           (key_len == 8 && !strncmp(key, "approver", 8))) {
		size_t value_len = (size_t)((comment ? comment : line + len) - line);

		while (value_len > 0 && (line[value_len - 1] == ' ' || line[value_len - 1] == '\t'))
			value_len--;
		if (role_names(eq + 1, (size_t)(line + value_len - eq - 1), login))
			fprintf(out, "%.*s\n", (int)len, line);
		else
			fprintf(out, "%.*s, %s%s%.*s\n", (int)value_len, line, login, comment ? "    " : "",
			        comment ? (int)(line + len - comment) : 0, comment ? comment : "");
	} else {
		fprintf(out, "%.*s\n", (int)len, line);
	}
}

/* The demo's schedule, adapted, in a memfd (never a file at rest), positioned at 0. */
static int demo_policy_memfd(const char *archive, const char *login)
{
	int fd = memfd_create("recfs-demo-policy", MFD_CLOEXEC);
	int copy = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
	FILE *out = copy < 0 ? NULL : fdopen(copy, "w");
	int rc = 0;

	if (!out) {
		rc = -errno;
		if (copy >= 0)
			close(copy);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (const char *line = demo_policy_text; *line;) {
		size_t len = strcspn(line, "\n");

		adapt_policy_line(out, line, len, archive, login);
		line += len + (line[len] == '\n');
	}
	if (fclose(out) != 0 || lseek(fd, 0, SEEK_SET) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int load_demo_policy(const struct demo_paths *paths)
{
	struct passwd *pw = getpwuid(getuid());
	char archive[PATH_MAX];
	const char *const load[] = { "policy", "load", "/dev/fd/3", NULL };
	int fd, rc;

	if (make_folder(paths->archive) < 0)
		return -EIO;
	if (!realpath(paths->archive, archive)) {
		cli_error("cannot resolve %s: %s", paths->archive, strerror(errno));
		return -errno;
	}
	fd = demo_policy_memfd(archive, pw ? pw->pw_name : "root");
	if (fd < 0) {
		cli_error("cannot prepare the demo's schedule: %s", strerror(-fd));
		return fd;
	}
	rc = run_recfs(paths, load, fd);
	close(fd);
	return rc;
}

/* One step of the retention story, as the recfs command that does it. */
static int run_action(const struct demo_action *a, void *ctx)
{
	const struct demo_paths *paths = ctx;
	char *record = a->path[0] ? cli_path_join(paths->mnt_abs, a->path) : NULL;
	char setting[96], range[2 * DEMO_DATE_SIZE + 2];
	int rc = -ENOMEM;

	if (a->path[0] && !record)
		return -ENOMEM;
	snprintf(setting, sizeof(setting), "%s=%s", a->key ? a->key : "", a->date);
	snprintf(range, sizeof(range), "%s..%s", a->from, a->to);
	switch (a->kind) {
	case DEMO_SET:
		rc = run_recfs(paths, (const char *const[]){ "set", record, setting, NULL }, -1);
		break;
	case DEMO_CLOSE:
		rc = run_recfs(paths, (const char *const[]){ "close", record, "--on", a->date, NULL }, -1);
		break;
	case DEMO_HOLD_RECORD:
		rc = run_recfs(paths, (const char *const[]){ "hold", "add", record, "--name", a->hold_name,
		                                             "--authority", a->authority, NULL }, -1);
		break;
	case DEMO_HOLD_CLASS:
		rc = run_recfs(paths, (const char *const[]){ "hold", "add", "--class", a->class_name,
		                                             "--created-between", range, "--name", a->hold_name,
		                                             "--authority", a->authority, NULL }, -1);
		break;
	}
	free(record);
	return rc;
}

/* The telecare service passes to another provider (README, "The demo"): its receiver's age
** key, the one command, the checks, the receiver's confirmation. */
static void print_transfer_walk(const struct demo_paths *paths)
{
	const char *prog = cli_program;
	char key[PATH_MAX], out[PATH_MAX], service[PATH_MAX];

	snprintf(key, sizeof(key), "%s/pennine-lifeline.key", paths->dir);
	snprintf(out, sizeof(out), "%s/telecare.tar.gz.age", paths->dir);
	snprintf(service, sizeof(service), "%s/" DEMO_CLOSED_SERVICE, paths->mnt);
	printf("\nThe telecare service's records pass to Pennine Lifeline:\n");
	printf("  age-keygen -o %s      # the receiver's key\n", cli_shell_quote(key));
	printf("  %s close-service %s --out %s --recipient \"$(age-keygen -y %s)\" "
	       "--to 'Pennine Lifeline' --on 2023-03-31\n", prog, cli_shell_quote(service),
	       cli_shell_quote(out), cli_shell_quote(key));
	printf("  %s archive verify %s --identity %s\n", prog, cli_shell_quote(out),
	       cli_shell_quote(key));
	printf("  %s transfer confirm %s %s --receipt 'Pennine Lifeline: checked, ref PL-0042'\n",
	       prog, cli_shell_quote(out), cli_shell_quote(paths->mnt));   /* four quotes at most */
	printf("  %s transfers %s\n", prog, cli_shell_quote(paths->mnt));
}

/* The records manager's walk (README, "The demo"). */
static void print_retention_walk(const struct demo_paths *paths, int this_year)
{
	char due[128], held[128], path[PATH_MAX];
	const char *prog = cli_program, *mnt = cli_shell_quote(paths->mnt);

	demo_records_story_cases(this_year, due, held);
	printf("The records manager's walk:\n");
	printf("  %s policy show %s      # the schedule in force\n", prog, mnt);
	printf("  %s records %s          # every record: class, dates, due date, lock, holds\n", prog, mnt);
	printf("  %s due %s              # what is due today (--as-of DATE for another day)\n", prog, mnt);
	snprintf(path, sizeof(path), "%s/%s", paths->mnt, held);
	printf("  %s why %s\n", prog, cli_shell_quote(path));
	printf("  %s hold list %s\n", prog, mnt);
	printf("  %s dispose %s --dry-run\n", prog, mnt);
	printf("  %s dispose %s --approve %s --reason 'reviewed: no further need'\n", prog, mnt,
	       cli_shell_quote(due));
	printf("  %s disposals %s\n", prog, mnt);
	printf("  %s disposals %s --certificate 1\n", prog, mnt);
	print_transfer_walk(paths);
}

static void print_what_to_try(const struct demo_paths *paths, int this_year)
{
	char example[PATH_MAX];
	const char *prog = cli_program;

	snprintf(example, sizeof(example), "%s/%s", paths->mnt, DEMO_EXAMPLE_FILE);
	printf("\nThe demo vault is ready and mounted. Everything in it is FICTIONAL: Northmoor\n"
	       "Borough Council, its staff, service users and providers are invented.\n\n"
	       "  %-12s %s   (encrypted, as it sits on disk)\n"
	       "  %-12s %s   (the same records as ordinary folders)\n"
	       "  %-12s %s   (a DEMO passphrase; never keep a real one in a file)\n\n",
	       "vault", paths->vault, "mounted at", paths->mnt, "passphrase", paths->passfile);
	printf("Try:\n");
	printf("  ls -lR %s\n", cli_shell_quote(paths->mnt));
	printf("  cat %s\n", cli_shell_quote(example));
	printf("  echo '- 2024-01-09: phone call, all well' >> %s\n", cli_shell_quote(example));
	printf("  %s log %s        # every version: who, when, what\n", prog, cli_shell_quote(example));
	printf("  %s show %s --at 2022-01-01\n", prog, cli_shell_quote(example));
	printf("  %s diff %s --rev REV1 --rev REV2   # revisions from the log\n", prog,
	       cli_shell_quote(example));
	printf("  %s log %s | head    # the council's recent activity\n", prog,
	       cli_shell_quote(paths->mnt));
	printf("  mkdir -p /tmp/then && %s mount %s /tmp/then --at 2021-12-31 --passphrase-file %s\n",
	       prog, cli_shell_quote(paths->vault), cli_shell_quote(paths->passfile));
	printf("  %s verify %s        # signatures and chain of history\n", prog,
	       cli_shell_quote(paths->mnt));
	snprintf(example, sizeof(example), "%s/" RFS_LIVE_DIR, paths->vault);
	printf("  find %s | head        # names are encrypted\n", cli_shell_quote(example));
	printf("  grep -r Hollis %s || echo 'no clear text at rest'\n", cli_shell_quote(paths->vault));
	printf("  %s umount %s\n", prog, cli_shell_quote(paths->mnt));
	printf("  %s fsck %s --passphrase-file %s\n", prog, cli_shell_quote(paths->vault),
	       cli_shell_quote(paths->passfile));
	printf("  %s mount %s %s --passphrase-file %s\n", prog, cli_shell_quote(paths->vault),
	       cli_shell_quote(paths->mnt), cli_shell_quote(paths->passfile));
	printf("\n");
	print_retention_walk(paths, this_year);
}

static int run_demo(struct demo_paths *paths, bool force, bool fast_kdf)
{
	time_t now = time(NULL);
	struct tm today;
	struct stat st;
	int rc;

	if (make_folder(paths->dir) < 0)
		return CLI_FAIL;
	if (lstat(paths->vault, &st) == 0) {
		if (!force) {
			cli_error("%s already exists; mount it with '%s mount %s %s --passphrase-file %s', "
			          "or replace it with '%s demo --force %s'", paths->vault, cli_program,
			          cli_shell_quote(paths->vault), cli_shell_quote(paths->mnt),
			          cli_shell_quote(paths->passfile), cli_program, cli_shell_quote(paths->dir));
			return CLI_FAIL;
		}
		if (remove_old_demo(paths) < 0)
			return CLI_FAIL;
	}
	if (write_demo_passphrase(paths->passfile, paths->vault) < 0 || create_vault(paths, fast_kdf) < 0)
		return CLI_FAIL;
	printf("Created the demo vault %s.\n", paths->vault);
	if (mount_demo(paths) < 0)
		return CLI_FAIL;
	printf("Mounted it at %s; writing the records of Northmoor Borough Council through the mount...\n",
	       paths->mnt);
	fflush(stdout);
	localtime_r(&now, &today);
	rc = demo_records_generate(today.tm_year + 1900, write_save, paths);
	if (rc == 0)
		rc = attribute_to_self(paths);
	if (rc == 0)
		rc = date_made_folders(paths);
	if (rc < 0) {
		cli_error("filling the demo vault stopped (%s); it is still mounted at %s",
		          strerror(-rc), paths->mnt);
		return CLI_FAIL;
	}
	printf("Loading the council's retention schedule; closing cases, ending contracts, placing holds...\n");
	rc = load_demo_policy(paths);
	if (rc == 0)
		rc = demo_records_retention(today.tm_year + 1900, run_action, paths);
	if (rc < 0) {
		cli_error("the demo's retention story stopped (%s); the vault is still mounted at %s",
		          strerror(-rc), paths->mnt);
		return CLI_FAIL;
	}
	print_what_to_try(paths, today.tm_year + 1900);
	return CLI_OK;
}

static bool force, fast_kdf;

static int demo_run(struct cli_ctx *ctx)
{
	struct demo_paths paths = { 0 };
	int rc = CLI_FAIL;

	paths.dir = ctx->argc > 0 ? ctx->argv[0] : DEMO_DEFAULT_DIR;
	paths.vault = cli_path_join(paths.dir, "vault");
	paths.mnt = cli_path_join(paths.dir, "mnt");
	paths.passfile = cli_path_join(paths.dir, "passphrase");
	paths.archive = cli_path_join(paths.dir, "archive");
	if (paths.vault && paths.mnt && paths.passfile && paths.archive)
		rc = run_demo(&paths, force, fast_kdf);
	free(paths.made);
	free(paths.archive);
	free(paths.vault);
	free(paths.mnt);
	free(paths.passfile);
	return rc;
}

static const struct cli_option demo_options[] = {
	CLI_FLAG("force", 'F', &force), CLI_FLAG("insecure-fast-kdf", 'k', &fast_kdf), { 0 },
};

const struct cli_command cmd_demo = {
	.help = &demo_help, .options = demo_options, .args = { 0, 1, "[DIR]" }, .run = demo_run,
};
