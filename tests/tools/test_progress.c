/* Unit tests of tools/progress: silent off a terminal, the line's format and rate limit when
** forced, and drawing on a real pseudo-terminal. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tools/progress.h"

#define MiB (1024ull * 1024)
#define STARTS(s, lit) (strncmp((s), (lit), strlen(lit)) == 0)

static int saved_stderr = -1;

/* Points fd 2 at fd until restore_stderr. */
static void redirect_stderr(int fd)
{
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(saved_stderr, 0);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
}

static void restore_stderr(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
}

/* Everything fd holds from its start (a regular file) or has waiting (a pty master). */
static size_t drain(int fd, char *buf, size_t size, bool seek)
{
	size_t n = 0;
	ssize_t got;

	if (seek)
		lseek(fd, 0, SEEK_SET);
	while (n + 1 < size && (got = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
	return n;
}

static int temp_fd(void)
{
	FILE *f = tmpfile();

	cr_assert_not_null(f);
	return dup(fileno(f));
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
		n++;
	return n;
}

/* A whole run: a first draw, a burst the rate limit swallows, a draw with rate, the end. */
static void run_archive(void)
{
	struct progress *p = progress_start("archive", 5000, 1024 * MiB);

	progress_update(p, 1234, 512 * MiB);
	for (uint64_t i = 0; i < 1000; i++)
		progress_update(p, 1234 + i, 512 * MiB + i);
	usleep(250000);
	progress_update(p, 2500, 512 * MiB);
	progress_end(p);
}

Test(progress, nothing_at_all_when_stderr_is_not_a_terminal)
{
	char out[4096];
	int fd = temp_fd();

	unsetenv("RECFS_PROGRESS");
	redirect_stderr(fd);
	run_archive();
	restore_stderr();
	cr_assert_eq(drain(fd, out, sizeof(out), true), 0, "wrote: %s", out);
	close(fd);
}

Test(progress, forced_lines_are_rate_limited_formatted_and_cleared)
{
	char out[4096], *second;
	int fd = temp_fd();

	setenv("RECFS_PROGRESS", "1", 1);
	redirect_stderr(fd);
	run_archive();
	restore_stderr();
	drain(fd, out, sizeof(out), true);
	close(fd);
	cr_assert_eq(count(out, "\r"), 3, "two draws and the clear, not one per update: %s", out);
	/* The first draw comes before any rate can be known. */
	cr_assert(STARTS(out, "\rarchive  1,234/5,000 files  512 MiB/1.0 GiB\033[K\r"), "%s", out);
	second = out + 47;
	cr_assert(STARTS(second, "\rarchive  2,500/5,000 files  512 MiB/1.0 GiB  "), "%s", second);
	cr_assert(strstr(second, " GiB/s  ") != NULL || strstr(second, " MiB/s  ") != NULL, "%s", second);
	cr_assert(strstr(second, " left\033[K\r\033[K") != NULL, "%s", second);
	cr_assert_eq(strcmp(out + strlen(out) - 4, "\r\033[K"), 0, "the line is cleared at the end");
}

Test(progress, without_totals_no_time_left_and_no_output_without_updates)
{
	char out[4096];
	int fd = temp_fd();
	struct progress *p;

	setenv("RECFS_PROGRESS", "1", 1);
	redirect_stderr(fd);
	progress_end(progress_start("verify", 0, 0));   /* never updated: nothing to clear */
	p = progress_start("verify", 0, 0);
	progress_update(p, 1234567, 3584);
	usleep(250000);
	progress_update(p, 1234568, 999);
	progress_set_total(p, 2000000, 0);
	usleep(110000);
	progress_update(p, 1234569, 1023 * MiB);
	progress_end(p);
	restore_stderr();
	drain(fd, out, sizeof(out), true);
	close(fd);
	cr_assert(STARTS(out, "\rverify  1,234,567 files  3.5 KiB\033[K"), "%s", out);
	cr_assert(strstr(out, "\rverify  1,234,568 files  999 B  ") != NULL, "%s", out);
	cr_assert_eq(count(out, " left"), 1, "time left only once a total is known: %s", out);
	cr_assert(strstr(out, "\rverify  1,234,569/2,000,000 files  1.0 GiB  ") != NULL, "%s", out);
	/* NULL is a handle that does nothing. */
	progress_update(NULL, 1, 1);
	progress_set_total(NULL, 1, 1);
	progress_end(NULL);
}

struct reader { int fd; char *buf; size_t size, n; };

/* Reads the terminal while it is drawn on, so a chatty writer cannot fill it and block. */
static void *read_pty(void *arg)
{
	struct reader *r = arg;
	char sink[4096];
	ssize_t got;

	while ((got = read(r->fd, sink, sizeof(sink))) > 0) {
		size_t take = (size_t)got < r->size - 1 - r->n ? (size_t)got : r->size - 1 - r->n;

		memcpy(r->buf + r->n, sink, take);
		r->n += take;
	}
	r->buf[r->n] = '\0';
	return NULL;
}

/* A real pseudo-terminal of 40 columns as stderr. */
static size_t on_pty(const char *force, char *out, size_t size)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 40 };
	struct reader r = { .buf = out, .size = size };
	pthread_t t;
	int slave;

	cr_assert_eq(openpty(&r.fd, &slave, NULL, NULL, &ws), 0, "openpty: %s", strerror(errno));
	if (force != NULL)
		setenv("RECFS_PROGRESS", force, 1);
	else
		unsetenv("RECFS_PROGRESS");
	cr_assert_eq(pthread_create(&t, NULL, read_pty, &r), 0);
	redirect_stderr(slave);
	run_archive();
	restore_stderr();
	close(slave);   /* the last slave fd: the master reads EIO, and the reader ends */
	pthread_join(t, NULL);
	close(r.fd);
	return r.n;
}

Test(progress, draws_on_a_real_terminal_within_its_width)
{
	char out[4096], *line, *end;

	cr_assert_gt(on_pty(NULL, out, sizeof(out)), 0, "nothing drawn on a terminal");
	cr_assert(STARTS(out, "\rarchive  1,234/5,000 files  512 MiB/1.0\033[K"),
	          "cut to 40 columns: %s", out);
	for (line = out; (end = strstr(line, "\033[K")) != NULL; line = end + 3)
		cr_assert_leq(end - line, 40, "a line wider than the terminal: %s", line);
	cr_assert_eq(count(out, "\r"), 3);
	/* RECFS_PROGRESS=0 silences it even there. */
	cr_assert_eq(on_pty("0", out, sizeof(out)), 0, "wrote: %s", out);
}

Test(progress, long_times_left_count_hours)
{
	char out[4096], *left;
	unsigned h, m, s;
	int fd = temp_fd();
	struct progress *p;

	setenv("RECFS_PROGRESS", "1", 1);
	redirect_stderr(fd);
	p = progress_start("archive", 0, 1024 * 1024 * MiB);   /* 1 TiB at about 4 MiB/s */
	progress_update(p, 0, 0);
	usleep(250000);
	progress_update(p, 1, MiB);
	progress_end(p);
	restore_stderr();
	drain(fd, out, sizeof(out), true);
	close(fd);
	cr_assert(strstr(out, "\rarchive  1 file  1.0 MiB/1.0 TiB  ") != NULL, "%s", out);
	left = strstr(out, "/s  ");
	cr_assert_not_null(left, "%s", out);
	cr_assert_eq(sscanf(left, "/s  %u:%2u:%2u left", &h, &m, &s), 3, "%s", out);
	cr_assert(h >= 40 && m < 60 && s < 60, "%s", out);
}

/* What fs/ reports through progress_sink: units, phases, counts without bytes. */
Test(progress, a_sink_names_units_and_starts_each_phase_at_once)
{
	char out[4096];
	int fd = temp_fd();
	struct progress *p;
	struct rfs_progress s;

	setenv("RECFS_PROGRESS", "1", 1);
	redirect_stderr(fd);
	p = progress_start("gc", 0, 0);
	s = progress_sink(p);
	cr_assert_not_null(s.fn);
	rfs_progress_note(&s, "objects listed", 1, 100, 0, 0);
	rfs_progress_note(&s, "objects listed", 2, 200, 0, 0);       /* within 0.1 s: not drawn */
	rfs_progress_note(&s, "objects packed", 0, 0, 10, 200);      /* a new phase: drawn now */
	progress_end(p);
	p = progress_start("dispose", 0, 0);
	s = progress_sink(p);
	rfs_progress_note(&s, "records", 1, 0, 4, 0);
	usleep(250000);
	rfs_progress_note(&s, "records", 2, 0, 4, 0);
	progress_end(p);
	p = progress_start("restore", 0, 0);
	s = progress_sink(p);
	rfs_progress_note(&s, "", 0, 4096, 0, 8192);
	progress_end(p);
	restore_stderr();
	drain(fd, out, sizeof(out), true);
	close(fd);
	cr_assert(STARTS(out, "\rgc  1 object listed  100 B\033[K\rgc  0/10 objects packed  0 B/200 B\033[K\r\033[K"),
	          "%s", out);
	cr_assert(strstr(out, "\rdispose  1/4 records\033[K\rdispose  2/4 records  ") != NULL, "%s", out);
	cr_assert(strstr(out, " records/s  0:0") != NULL, "a count's rate and time left: %s", out);
	cr_assert(strstr(out, "\rrestore  4.0 KiB/8.0 KiB\033[K\r\033[K") != NULL, "bytes only: %s", out);
}

Test(progress, off_a_terminal_a_sink_is_empty_and_reports_go_straight_out)
{
	int fd = temp_fd();
	struct progress *p;
	struct rfs_progress s;

	unsetenv("RECFS_PROGRESS");
	redirect_stderr(fd);
	p = progress_start("fsck", 0, 0);
	s = progress_sink(p);
	cr_assert_null(s.fn, "the work must be able to skip what only a line needs");
	cr_assert_eq(progress_report(p, stdout), stdout);
	progress_end(p);
	restore_stderr();
	close(fd);
	s = progress_sink(NULL);
	cr_assert_null(s.fn);
}

Test(progress, a_report_line_takes_the_bar_away_first)
{
	char err[4096], text[256];
	int fd = temp_fd();
	FILE *out = tmpfile(), *r;
	struct progress *p;

	cr_assert_not_null(out);
	setenv("RECFS_PROGRESS", "1", 1);
	redirect_stderr(fd);
	p = progress_start("fsck", 3, 0);
	progress_update(p, 1, 10);
	r = progress_report(p, out);
	cr_assert_neq(r, out);
	fprintf(r, "corrupt: /a: block 0 does not authenticate\n");
	progress_update(p, 2, 20);      /* drawn again at once: the line was taken away */
	fprintf(r, "corrupt: /b: cannot open\n");
	progress_end(p);
	restore_stderr();
	drain(fd, err, sizeof(err), true);
	close(fd);
	rewind(out);
	text[fread(text, 1, sizeof(text) - 1, out)] = '\0';
	fclose(out);
	cr_assert_str_eq(text, "corrupt: /a: block 0 does not authenticate\ncorrupt: /b: cannot open\n");
	cr_assert_str_eq(err, "\rfsck  1/3 files  10 B\033[K\r\033[K\rfsck  2/3 files  20 B\033[K\r\033[K");
}
