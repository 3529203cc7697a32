/*
** passphrase: reading secrets from a file or the terminal (see passphrase.h).
**
** Reads one byte at a time with read(2): the line ends at the first newline,
** so nothing past it is consumed from a shared stdin, and no stdio buffer
** ever holds a copy. Must never: leave echo off, even on Ctrl-C.
*/
#include "tools/passphrase.h"
#include "tools/recovery_key.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct rfs_secret *secret_alloc(void)
{
	struct rfs_secret *s = sodium_malloc(sizeof(*s));

	if (s)
		sodium_memzero(s, sizeof(*s));
	return s;
}

void rfs_secret_free(struct rfs_secret *s)
{
	if (s)
		sodium_free(s);   /* wipes before freeing */
}

/* Read up to the first newline (or EOF) into s. A "\r\n" ending is dropped
** whole, for files written on Windows. 0, -EINTR, -ENAMETOOLONG, -errno. */
static int read_line(int fd, struct rfs_secret *s)
{
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0)
			return -errno;
		if (n == 0 || c == '\n')
			break;
		if (s->len == RFS_PASSPHRASE_MAX)
			return -ENAMETOOLONG;
		s->text[s->len++] = c;
	}
	if (s->len > 0 && s->text[s->len - 1] == '\r')
		s->text[--s->len] = '\0';
	s->text[s->len] = '\0';
	return 0;
}

static int read_from_file(const char *file, struct rfs_secret *s, char *err, size_t errsz)
{
	bool is_stdin = strcmp(file, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errsz, "cannot read passphrase file %s: %s", file, strerror(-rc));
		return rc;
	}
	rc = read_line(fd, s);
	if (!is_stdin)
		close(fd);
	if (rc == -ENAMETOOLONG)
		snprintf(err, errsz, "the first line of %s is longer than %d bytes; a passphrase must be shorter",
		         is_stdin ? "standard input" : file, RFS_PASSPHRASE_MAX);
	else if (rc < 0)
		snprintf(err, errsz, "cannot read passphrase from %s: %s",
		         is_stdin ? "standard input" : file, strerror(-rc));
	return rc;
}

/* The terminal state to restore if a signal arrives while echo is off. */
static volatile sig_atomic_t caught_signal;

static void note_signal(int sig)
{
	caught_signal = sig;
}

static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
#define N_PROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/* Read one line from the terminal with echo off. Signals interrupt the read
** (no SA_RESTART); echo is restored first, then the signal is re-raised. */
static int read_from_tty(const char *prompt, struct rfs_secret *s, char *err, size_t errsz)
{
	struct sigaction catch = { .sa_handler = note_signal }, old[N_PROMPT_SIGNALS];
	struct termios saved, quiet;
	int fd, rc;

	if (!isatty(STDIN_FILENO)) {
		snprintf(err, errsz, "standard input is not a terminal, so no passphrase can be asked for; "
		         "give one with --passphrase-file FILE ('-' reads standard input)");
		return -ENOTTY;
	}
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || tcgetattr(fd, &saved) < 0) {
		rc = -errno;
		snprintf(err, errsz, "cannot use the terminal to ask for a passphrase (%s); "
		         "give one with --passphrase-file FILE", strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	caught_signal = 0;
	sigemptyset(&catch.sa_mask);
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &catch, &old[i]);

	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	rc = tcsetattr(fd, TCSAFLUSH, &quiet) < 0 ? -errno : 0;
	if (rc == 0) {
		if (write(fd, prompt, strlen(prompt)) < 0)
			rc = -errno;
		else
			rc = read_line(fd, s);
		tcsetattr(fd, TCSAFLUSH, &saved);
		if (write(fd, "\n", 1) < 0) {
			/* the newline is cosmetic */
		}
	}
	close(fd);
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &old[i], NULL);
	if (caught_signal) {
		sodium_memzero(s, sizeof(*s));
		raise(caught_signal);
		snprintf(err, errsz, "interrupted while asking for the passphrase");
		return -EINTR;
	}
	if (rc == -ENAMETOOLONG)
		snprintf(err, errsz, "passphrase longer than %d bytes", RFS_PASSPHRASE_MAX);
	else if (rc < 0)
		snprintf(err, errsz, "cannot read the passphrase from the terminal: %s", strerror(-rc));
	return rc;
}

static const char *recovery_file;

void rfs_secret_use_recovery_key(const char *file)
{
	recovery_file = file;
}

bool rfs_secret_recovery_in_use(void)
{
	return recovery_file != NULL;
}

static int secret_read(const char *file, const char *prompt, struct rfs_secret **out,
                       char *err, size_t errsz);

int rfs_secret_read(const char *file, const char *prompt, struct rfs_secret **out,
                    char *err, size_t errsz)
{
	struct rfs_secret *typed;
	int rc;

	if (!recovery_file)
		return secret_read(file, prompt, out, err, errsz);
	*out = NULL;
	rc = secret_read(recovery_file, NULL, &typed, err, errsz);
	if (rc < 0)
		return rc;
	rc = rfs_recovery_key_parse(typed->text, typed->len, out, err, errsz);
	rfs_secret_free(typed);
	if (rc == -EINVAL) {
		size_t used = strlen(err);

		snprintf(err + used, errsz - used, " (in %s)", recovery_file);
	}
	return rc;
}

static int secret_read(const char *file, const char *prompt, struct rfs_secret **out,
                       char *err, size_t errsz)
{
	struct rfs_secret *s = secret_alloc();
	int rc;

	*out = NULL;
	if (!s) {
		snprintf(err, errsz, "out of locked memory for the passphrase");
		return -ENOMEM;
	}
	rc = file ? read_from_file(file, s, err, errsz) : read_from_tty(prompt, s, err, errsz);
	if (rc < 0) {
		rfs_secret_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int rfs_secret_read_new(const char *file, const char *prompt, struct rfs_secret **out,
                        char *err, size_t errsz)
{
	struct rfs_secret *first, *again = NULL;
	int rc = secret_read(file, prompt, &first, err, errsz);

	*out = NULL;
	if (rc < 0)
		return rc;
	if (first->len == 0) {
		if (file)
			snprintf(err, errsz, "an empty passphrase is not allowed (the first line of %s is empty)",
			         strcmp(file, "-") ? file : "standard input");
		else
			snprintf(err, errsz, "an empty passphrase is not allowed");
		rfs_secret_free(first);
		return -EINVAL;
	}
	if (!file) {
		rc = secret_read(NULL, "Repeat the passphrase: ", &again, err, errsz);
		if (rc == 0 && (again->len != first->len ||
		                sodium_memcmp(again->text, first->text, first->len) != 0)) {
			snprintf(err, errsz, "the two passphrases differ; try again");
			rc = -EINVAL;
		}
		rfs_secret_free(again);
		if (rc < 0) {
			rfs_secret_free(first);
			return rc;
		}
	}
	*out = first;
	return 0;
}
