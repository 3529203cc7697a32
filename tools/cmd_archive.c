/*
** recfs archive PATH --out FILE: the records under a folder of a mount as one signed BagIt
** bag in a pax tarball (with --history, each record's versions as an OCFL object inside),
** made by the mount's daemon (fs/archive_build.h) into FILE.part, which this command made
** and passed; then FILE.minisig and VAULTNAME.pub beside it. `recfs archive verify FILE`
** checks one (tools/archive_verify_cli.h).
** Must never: leave FILE.part behind or FILE half made, write over a file that is there,
** put FILE inside a mount or a vault (the archive's plaintext would rest there).
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/bag.h"
#include "crypto/age.h"
#include "crypto/io.h"
#include "fs/control.h"
#include "fs/escape.h"
#include "fs/mountinfo.h"
#include "tools/archive_verify_cli.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/progress.h"
#include "tools/retention_cli.h"

static const struct cli_help archive_help = {
	"PATH --out FILE.tar[.gz|.zst][.age] [--history] [--recipient age1...]... [--note TEXT]\n"
	"       recfs archive verify FILE [--identity FILE] [--pubkey FILE] [--json]",
	"Write the records under PATH, a folder of a mounted vault, as one BagIt bag in a\n"
	"pax tarball: data/records/ holds them as they stand; with --history each record\n"
	"(as the retention policy defines records; else each folder of PATH) is also an\n"
	"OCFL object under data/history/, one version per saved version. The tag files\n"
	"records.csv and records.json give each record's class, dates, holds and\n"
	"authority, and retention-schedule.conf the policy. The tarball is signed with\n"
	"the vault's archive key: FILE.minisig and VAULTNAME.pub are written beside it,\n"
	"and the archive goes into the transfer log (recfs transfers).\n"
	"\n"
	"  --out FILE         the tarball: .tar, .tar.gz (or .tgz), .tar.zst, each\n"
	"                     optionally + .age; it must not exist, nor be in a mount or vault\n"
	"  --history          add every record's history as OCFL objects\n"
	"  --recipient age1.. encrypt to this age X25519 recipient (repeat for more);\n"
	"                     FILE must then end in .age\n"
	"  --note TEXT        one line for bag-info.txt (Internal-Sender-Description)\n"
	"\n"
	"recfs archive verify FILE checks an archive with no vault at all:\n"
	"  --identity FILE    age identity file (age-keygen's) to decrypt FILE.age\n"
	"  --pubkey FILE      the signing key (default: a *.pub beside FILE)\n"
	"  --json             the report as JSON\n"
	"\n"
	"Exit status of archive: 0 done; 2 nothing was written (the reason is printed).\n"
	"Of verify: 0 valid; 1 content; 2 usage or FILE cannot be opened; 3 unreadable;\n"
	"4 signature; 5 decryption.\n",
};

#define MAX_RECIPIENTS 64

static const char *out_opt, *note, *identity, *pubkey;
static bool history, json;
static const char *recipients[MAX_RECIPIENTS];
static size_t n_recipients;

/* FILE.part while it is being made: removed if a signal stops the command. */
static char part_path[PATH_MAX + NAME_MAX + 8];

static void on_signal(int sig)
{
	if (part_path[0])
		unlink(part_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int archive_option(struct cli_ctx *ctx, int opt, char *arg)
{
	if (n_recipients == MAX_RECIPIENTS) {
		cli_error("at most %d recipients", MAX_RECIPIENTS);
		return cli_usage_error();
	}
	recipients[n_recipients++] = arg;
	return CLI_OK;
}

static bool verifying(const struct cli_ctx *ctx)
{
	return ctx->argc >= 1 && !strcmp(ctx->argv[0], "verify");
}

static int archive_check(const struct cli_ctx *ctx)
{
	bool verify = verifying(ctx);

	if (verify && (ctx->argc != 2 || out_opt || history || n_recipients || note)) {
		cli_error(ctx->argc != 2 ? "verify takes one FILE"
		          : "verify takes --identity, --pubkey and --json only");
		return cli_usage_error();
	}
	if (!verify && (ctx->argc != 1 || identity || pubkey || json)) {
		cli_error(ctx->argc != 1 ? "archive takes one PATH"
		          : "--identity, --pubkey and --json go with 'recfs archive verify'");
		return cli_usage_error();
	}
	if (!verify && !out_opt) {
		cli_error("--out FILE is needed: where the tarball goes");
		return cli_usage_error();
	}
	if (note && strpbrk(note, "\r\n")) {
		cli_error("--note must be one line (it goes into bag-info.txt)");
		return cli_usage_error();
	}
	return CLI_OK;
}

/* What the daemon answered. */
struct answer {
	struct progress *bar;
	char sha512[129], key_id[17];
	uint64_t bytes, files, payload, objects, versions;
	size_t records;
	char *held, *left;                  /* lines, '\n' after each */
	size_t held_len, left_len, n_held;
	char *signature, *pubkey;
};

static int add_line(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *g = realloc(*buf, *len + n + 2);

	if (!g)
		return -ENOMEM;
	memcpy(g + *len, s, n);
	g[*len + n] = '\n';
	g[*len + n + 1] = '\0';
	*buf = g;
	*len += n + 1;
	return 0;
}

static int archive_line(char **fld, int n, void *arg)
{
	struct answer *a = arg;

	struct rfs_progress sink = progress_sink(a->bar);

	if (rfs_control_progress_line(fld, n, &sink)) {
		/* drawn */
	} else if (!strcmp(fld[0], "key") && n == 2) {
		snprintf(a->key_id, sizeof(a->key_id), "%s", fld[1]);
	} else if (!strcmp(fld[0], "sha512") && n == 2) {
		snprintf(a->sha512, sizeof(a->sha512), "%s", fld[1]);
	} else if (!strcmp(fld[0], "size") && n == 6) {
		a->bytes = strtoull(fld[1], NULL, 10);
		a->files = strtoull(fld[2], NULL, 10);
		a->payload = strtoull(fld[3], NULL, 10);
		a->objects = strtoull(fld[4], NULL, 10);
		a->versions = strtoull(fld[5], NULL, 10);
	} else if (!strcmp(fld[0], "record") && n == 2) {
		a->records++;
	} else if (!strcmp(fld[0], "held") && n == 2) {
		a->n_held++;
		return add_line(&a->held, &a->held_len, fld[1]);
	} else if (!strcmp(fld[0], "left") && n == 2) {
		return add_line(&a->left, &a->left_len, fld[1]);
	} else if (!strcmp(fld[0], "signature") && n == 2) {
		free(a->signature);
		return (a->signature = strdup(fld[1])) ? 0 : -ENOMEM;
	} else if (!strcmp(fld[0], "pubkey") && n == 2) {
		free(a->pubkey);
		return (a->pubkey = strdup(fld[1])) ? 0 : -ENOMEM;
	}
	return 0;
}

/* text as dir/name, new (O_EXCL), durable. 0 or -errno. */
static int write_new(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), rc;

	if (fd < 0)
		return -errno;
	rc = rfs_io_write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dfd, name, 0);
	return rc;
}

/* 1 when dir/name holds exactly text, 0 when absent, -EEXIST when it holds something else. */
static int same_file(int dfd, const char *name, const char *text)
{
	char buf[4096];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= 0 && (size_t)n == strlen(text) && !memcmp(buf, text, (size_t)n) ? 1 : -EEXIST;
}

/* Whether real (a resolved folder) is inside a recfs mount or inside the vault. */
static const char *forbidden_place(const char *real, const char *vault)
{
	struct rfs_mount_entry m;
	char rv[PATH_MAX];
	size_t n;

	if (rfs_mountinfo_find(real, true, &m) == 0 && !strcmp(m.fstype, RFS_FSTYPE))
		return "inside a recfs mount";
	if (realpath(vault, rv)) {
		n = strlen(rv);
		if (!strncmp(real, rv, n) && (real[n] == '/' || !real[n]))
			return "inside the vault";
	}
	return NULL;
}

static const char *human(uint64_t b, char *buf, size_t size)
{
	if (b < 1024)
		snprintf(buf, size, "%" PRIu64 " bytes", b);
	else if (b < (1u << 20))
		snprintf(buf, size, "%.1f KiB", b / 1024.0);
	else if (b < (1u << 30))
		snprintf(buf, size, "%.1f MiB", b / 1048576.0);
	else
		snprintf(buf, size, "%.2f GiB", b / 1073741824.0);
	return buf;
}

static void summary(const struct answer *a, const char *file, const char *dir, const char *base,
                    const char *pubname, const char *bagname, bool age)
{
	char h1[32], h2[32];

	printf("archived %s (%s)\n", file, human(a->bytes, h1, sizeof(h1)));
	printf("  records    %zu", a->records);
	if (a->n_held)
		printf(" (%zu under a hold: archived, since copying is not destruction)", a->n_held);
	printf("\n");
	if (a->n_held)
		for (const char *p = a->held; p && *p; p += strcspn(p, "\n") + 1)
			printf("    held     %.*s\n", (int)strcspn(p, "\n"), p);
	printf("  files      %" PRIu64 " in the payload (%s)\n", a->files, human(a->payload, h2, sizeof(h2)));
	if (a->objects)
		printf("  history    %" PRIu64 " OCFL object%s, %" PRIu64 " version%s\n", a->objects,
		       a->objects == 1 ? "" : "s", a->versions, a->versions == 1 ? "" : "s");
	for (const char *p = a->left; p && *p; p += strcspn(p, "\n") + 1)
		printf("  left out   %.*s\n", (int)strcspn(p, "\n"), p);
	printf("  sha512     %s\n", a->sha512);
	printf("  signed     by key %s: %s.minisig, public key %s/%s\n", a->key_id, base, dir, pubname);
	printf("check it with:\n");
	printf("  cd %s\n", cli_shell_quote(dir));
	printf("  minisign -Vm %s -p %s\n", cli_shell_quote(base), cli_shell_quote(pubname));
	if (age)
		printf("  age -d -i KEY %s | tar -xf -\n", cli_shell_quote(base));
	else
		printf("  tar -xf %s\n", cli_shell_quote(base));
	printf("  (cd %s && sha512sum -c manifest-sha512.txt && sha512sum -c tagmanifest-sha512.txt)\n",
	       cli_shell_quote(bagname));
	printf("  %s archive verify %s%s\n", cli_program, cli_shell_quote(base),
	       age ? " --identity KEY" : "");
}

static int archive_run(struct cli_ctx *ctx)
{
	char abs[PATH_MAX], dirbuf[PATH_MAX], basebuf[NAME_MAX + 1], realdir[PATH_MAX];
	char file[PATH_MAX + NAME_MAX + 2], part[NAME_MAX + 8], sig[NAME_MAX + 16];
	char pubname[PATH_MAX + 8], msg[3 * PATH_MAX];
	const char *base, *why, *vault_base, *bagname;
	struct rcli_target where;
	enum rfs_bag_compress comp;
	struct answer a = { 0 };
	uint8_t pk[32];
	bool age_suffix;
	struct stat st;
	int dfd = -1, fd = -1, rc;

	if (verifying(ctx))
		return archive_verify_cli_run(ctx->argv[1], identity, pubkey, json);
	if (rcli_find(ctx->argv[0], &where) != CLI_OK)
		return CLI_FAIL;
	if (!where.path[0] || !strcmp(where.path, "/")) {
		cli_error("%s: give a folder inside the mount (a service's folder), not the whole vault",
		          ctx->argv[0]);
		return CLI_FAIL;
	}
	if (stat(ctx->argv[0], &st) != 0 || !S_ISDIR(st.st_mode)) {
		cli_error("%s is not a folder of the mount", ctx->argv[0]);
		return CLI_FAIL;
	}
	bagname = strrchr(where.path, '/') + 1;
	/* FILE: a new name in a folder outside every mount and vault. */
	if (rfs_mountinfo_abspath(out_opt, abs) < 0) {
		cli_error("%s: %s", out_opt, strerror(errno));
		return CLI_FAIL;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", abs);
	snprintf(basebuf, sizeof(basebuf), "%s", basename(abs));
	base = basebuf;
	if (!realpath(dirname(dirbuf), realdir)) {
		cli_error("%s: its folder cannot be found: %s", out_opt, strerror(errno));
		return CLI_FAIL;
	}
	if (rfs_bag_compress_of(base, &comp, &age_suffix) < 0) {
		cli_error("%s: the name must end in .tar, .tar.gz, .tgz or .tar.zst, optionally "
		          "followed by .age", out_opt);
		return CLI_FAIL;
	}
	if (age_suffix != (n_recipients > 0)) {
		cli_error(age_suffix ? "%s ends in .age: give --recipient age1... (whom it is for)"
		                     : "%s is encrypted to --recipient: name it %s.age", out_opt, out_opt);
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n_recipients; i++) {
		if (rfs_age_recipient_parse(recipients[i], pk) < 0) {
			cli_error("--recipient %s is not an age X25519 recipient (age1..., as age-keygen "
			          "prints it)", recipients[i]);
			return CLI_FAIL;
		}
	}
	if ((why = forbidden_place(realdir, where.vault))) {
		cli_error("%s is %s, where the archive's plaintext would rest: write it outside",
		          out_opt, why);
		return CLI_FAIL;
	}
	snprintf(file, sizeof(file), "%s/%s", realdir, base);
	snprintf(part, sizeof(part), "%s.part", base);
	snprintf(sig, sizeof(sig), "%s.minisig", base);
	vault_base = strrchr(where.vault, '/');
	vault_base = vault_base && vault_base[1] ? vault_base + 1 : where.vault;
	snprintf(pubname, sizeof(pubname), "%s.pub", vault_base);
	dfd = open(realdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cli_error("%s: %s", realdir, strerror(errno));
		return CLI_FAIL;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(dfd, sig, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		cli_error("%s%s is there already: an archive is never written over; choose another "
		          "name", file, fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 ? "" : ".minisig");
		close(dfd);
		return CLI_FAIL;
	}
	snprintf(part_path, sizeof(part_path), "%s/%s", realdir, part);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	fd = openat(dfd, part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		part_path[0] = '\0';          /* not ours to remove */
	if (fd < 0) {
		cli_error(errno == EEXIST ? "%s/%s is there: another archive is being made, or one was "
		          "stopped (remove it then)" : "%s/%s cannot be made: %s", realdir, part,
		          strerror(errno));
		close(dfd);
		return CLI_FAIL;
	}

	const char *args[6 + MAX_RECIPIENTS] = { "archive", where.path, file, history ? "1" : "0",
	                                         comp == RFS_BAG_GZIP ? "gzip"
	                                         : comp == RFS_BAG_ZSTD ? "zstd" : "plain",
	                                         note ? note : "" };

	for (size_t i = 0; i < n_recipients; i++)
		args[6 + i] = recipients[i];
	a.bar = progress_start("archive", 0, 0);
	rc = rfs_control_call_live(where.vault, fd, args, 6 + n_recipients, archive_line, &a, msg,
	                           sizeof(msg));
	progress_end(a.bar);
	/* The rest is quick and must not stop half way (FILE.minisig without FILE): a signal
	** now waits until it is done. */
	sigset_t stop, old;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	if (rc == 0 && (!a.signature || !a.pubkey || !a.sha512[0])) {
		snprintf(msg, sizeof(msg), "the daemon's answer lacks the signature");
		rc = -EPROTO;
	}
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
		snprintf(msg, sizeof(msg), "%s/%s could not be made durable: %s", realdir, part,
		         strerror(errno));
	}
	if (rc == 0 && (rc = same_file(dfd, pubname, a.pubkey)) < 0)
		snprintf(msg, sizeof(msg), "%s/%s is there with another key in it: move it away "
		         "(the archive's key must go beside it)", realdir, pubname);
	if (rc >= 0 && (rc = rc == 1 ? 0 : write_new(dfd, pubname, a.pubkey)) < 0)
		snprintf(msg, sizeof(msg), "%s/%s: %s", realdir, pubname, strerror(-rc));
	if (rc == 0 && (rc = write_new(dfd, sig, a.signature)) < 0)
		snprintf(msg, sizeof(msg), "%s/%s: %s", realdir, sig, strerror(-rc));
	if (rc == 0 && renameat(dfd, part, dfd, base) != 0) {
		rc = -errno;
		snprintf(msg, sizeof(msg), "%s could not be put in place: %s", file, strerror(errno));
		unlinkat(dfd, sig, 0);
	}
	if (rc == 0 && (rc = rfs_io_fsync_dir(dfd, ".")) < 0)
		snprintf(msg, sizeof(msg), "%s: the folder could not be made durable: %s", realdir,
		         strerror(-rc));
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlinkat(dfd, part, 0);
	part_path[0] = '\0';
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		if (rc == -ECONNREFUSED)
			cli_error("%s is not mounted (no daemon answers)", where.vault);
		else
			cli_error("%s not archived: %s", where.path, msg[0] ? msg : strerror(-rc));
	} else {
		summary(&a, file, realdir, base, pubname, bagname, age_suffix);
	}
	close(dfd);
	free(a.held);
	free(a.left);
	free(a.signature);
	free(a.pubkey);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

static const struct cli_option archive_options[] = {
	CLI_VALUE("out", 'o', &out_opt),
	CLI_FLAG("history", 'H', &history),
	CLI_HOOK("recipient", 'r', required_argument),
	CLI_VALUE("note", 'N', &note),
	CLI_VALUE("identity", 'i', &identity),
	CLI_VALUE("pubkey", 'P', &pubkey),
	CLI_FLAG("json", 'j', &json),
	{ 0 },
};

const struct cli_command cmd_archive = {
	.help = &archive_help, .options = archive_options, .args = { 1, 2, "PATH | verify FILE" },
	.option = archive_option, .check = archive_check, .run = archive_run,
};
