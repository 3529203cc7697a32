/*
** progress: the status line of long commands (see progress.h).
**
** Owns: the decision to draw (stderr a terminal, or RECFS_PROGRESS=1; RECFS_PROGRESS=0 never),
** the rate limit (10 redraws a second), and the line's format:
**   archive  1,234/5,000 files  512 MiB/1.0 GiB  85 MiB/s  0:07 left
**   gc  1,234/5,000 objects packed  ...    (a unit of fs/progress.h; a new unit, a new phase)
**   restore  512 MiB/2.0 GiB  85 MiB/s  0:18 left    (unit "": bytes only)
** Must never: write to stdout (but the command's own lines handed to progress_report), write
** anything when not drawing, or leave its line on the terminal after progress_end.
*/
#include "tools/progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 100000000LL       /* at most 10 redraws a second */
#define RATE_AFTER_NS 200000000LL   /* a rate over less time says nothing */
#define CLEAR_EOL "\033[K"

struct progress {
	bool draw, drawn;
	char what[24];
	char unit[32];                  /* of the items; "" none; "files" at first */
	FILE *report, *report_to;       /* progress_report's stream, and where it writes */
	uint64_t total_items, total_bytes, items, bytes;
	int64_t start_ns, last_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool should_draw(void)
{
	const char *force = getenv("RECFS_PROGRESS");

	if (force != NULL && strcmp(force, "1") == 0)
		return true;
	if (force != NULL && strcmp(force, "0") == 0)
		return false;
	return isatty(STDERR_FILENO) == 1;
}

/* 1234567 -> "1,234,567". */
static void fmt_count(char *out, size_t size, uint64_t n)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t o = 0;

	for (int i = 0; i < len && o + 2 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

/* Bytes in B, KiB, MiB or GiB: one decimal below 10, whole above ("1.0 GiB", "512 MiB"); the
** next unit from 1000 on, so a number never takes four digits ("1.0 GiB", not "1023 MiB"). */
static void fmt_bytes(char *out, size_t size, double b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (b >= 999.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		b /= 1024;
		u++;
	}
	if (u == 0 || b >= 9.95)
		snprintf(out, size, "%.0f %s", b, units[u]);
	else
		snprintf(out, size, "%.1f %s", b, units[u]);
}

/* "0:07", "12:34", "1:02:03". */
static void fmt_time(char *out, size_t size, uint64_t s)
{
	if (s >= 3600)
		snprintf(out, size, "%" PRIu64 ":%02u:%02u", s / 3600, (unsigned)(s / 60 % 60), (unsigned)(s % 60));
	else
		snprintf(out, size, "%u:%02u", (unsigned)(s / 60), (unsigned)(s % 60));
}

static size_t terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

static void put(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* a status line is not worth failing over */
		s += n;
		len -= (size_t)n;
	}
}

/* Appends to a line of cap bytes; a line too long is cut, never overrun. */
static void add(char *line, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap - 1 ? *len + (size_t)n : cap - 1;
}

static void draw(struct progress *p, int64_t now)
{
	char line[256 + sizeof(CLEAR_EOL)], a[32], b[32], rate[32], left[32];
	const size_t cap = sizeof(line) - sizeof(CLEAR_EOL) + 1;
	double secs = (double)(now - p->start_ns) / 1e9;
	size_t len = 0, width;
	bool one = (p->total_items > 0 ? p->total_items : p->items) == 1;
	/* One item: its unit's first word without its plural s ("1 file in live/"). */
	int word = (int)strcspn(p->unit, " "), cut = one && word > 1 && p->unit[word - 1] == 's';

	/* Bytes unless the work counts none (a disposal counts records). */
	bool bytes = p->bytes > 0 || p->total_bytes > 0 || !p->unit[0];

	add(line, cap, &len, "\r%s", p->what);
	fmt_count(a, sizeof(a), p->items);
	if (!p->unit[0]) {
		/* bytes only */
	} else if (p->total_items > 0) {
		fmt_count(b, sizeof(b), p->total_items);
		add(line, cap, &len, "  %s/%s %.*s%s", a, b, word - cut, p->unit, p->unit + word);
	} else {
		add(line, cap, &len, "  %s %.*s%s", a, word - cut, p->unit, p->unit + word);
	}
	fmt_bytes(a, sizeof(a), (double)p->bytes);
	if (bytes && p->total_bytes > 0) {
		fmt_bytes(b, sizeof(b), (double)p->total_bytes);
		add(line, cap, &len, "  %s/%s", a, b);
	} else if (bytes) {
		add(line, cap, &len, "  %s", a);
	}
	if (now - p->start_ns >= RATE_AFTER_NS) {
		double bps = (double)p->bytes / secs, ips = (double)p->items / secs, eta = -1;

		fmt_bytes(rate, sizeof(rate), bps);
		if (bytes)
			add(line, cap, &len, "  %s/s", rate);
		else
			add(line, cap, &len, ips < 9.95 ? "  %.1f %.*s/s" : "  %.0f %.*s/s", ips, word, p->unit);
		/* Time left from bytes when their total is known, else from files. */
		if (p->total_bytes > 0 && bps > 0)
			eta = (double)(p->total_bytes > p->bytes ? p->total_bytes - p->bytes : 0) / bps;
		else if (p->total_items > 0 && ips > 0)
			eta = (double)(p->total_items > p->items ? p->total_items - p->items : 0) / ips;
		if (eta >= 0 && eta < 1e7) {
			fmt_time(left, sizeof(left), (uint64_t)(eta + 0.5));
			add(line, cap, &len, "  %s left", left);
		}
	}
	/* A line that wraps cannot be redrawn with \r: keep it inside the terminal (len counts
	** the \r, so the last column stays free). */
	width = terminal_width();
	if (width > 1 && len > width)
		len = width;
	memcpy(line + len, CLEAR_EOL, sizeof(CLEAR_EOL));
	put(line, len + sizeof(CLEAR_EOL) - 1);
	p->drawn = true;
	p->last_ns = now;
}

struct progress *progress_start(const char *what, uint64_t total_items, uint64_t total_bytes)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->draw = should_draw();
	snprintf(p->what, sizeof(p->what), "%s", what != NULL ? what : "");
	snprintf(p->unit, sizeof(p->unit), "files");
	p->total_items = total_items;
	p->total_bytes = total_bytes;
	p->start_ns = now_ns();
	return p;
}

void progress_set_total(struct progress *p, uint64_t total_items, uint64_t total_bytes)
{
	if (p == NULL)
		return;
	p->total_items = total_items;
	p->total_bytes = total_bytes;
}

void progress_update(struct progress *p, uint64_t items, uint64_t bytes)
{
	int64_t now;

	if (p == NULL)
		return;
	p->items = items;
	p->bytes = bytes;
	if (!p->draw)
		return;
	now = now_ns();
	if (!p->drawn || now - p->last_ns >= REDRAW_NS)
		draw(p, now);
}

void progress_end(struct progress *p)
{
	if (p == NULL)
		return;
	if (p->report != NULL)
		fclose(p->report);   /* its last lines, then the clear below */
	progress_clear(p);
	free(p);
}

static void sink_note(void *arg, const char *unit, uint64_t items, uint64_t bytes,
                      uint64_t total_items, uint64_t total_bytes)
{
	struct progress *p = arg;

	if (unit == NULL)
		unit = "files";
	if (strncmp(p->unit, unit, sizeof(p->unit) - 1) != 0) {
		snprintf(p->unit, sizeof(p->unit), "%s", unit);   /* a new phase: drawn now */
		p->start_ns = now_ns();
		p->last_ns = 0;
	}
	progress_set_total(p, total_items, total_bytes);
	progress_update(p, items, bytes);
}

struct rfs_progress progress_sink(struct progress *p)
{
	struct rfs_progress s = { NULL, p };

	if (p != NULL && p->draw)
		s.fn = sink_note;
	return s;
}

void progress_clear(struct progress *p)
{
	if (p != NULL && p->drawn) {
		put("\r" CLEAR_EOL, sizeof("\r" CLEAR_EOL) - 1);
		p->drawn = false;
	}
}

/* A line for progress_report's stream: the progress line goes first (drawn again at the
** next update). */
static ssize_t report_write(void *cookie, const char *buf, size_t len)
{
	struct progress *p = cookie;

	progress_clear(p);
	if (fwrite(buf, 1, len, p->report_to) != len || fflush(p->report_to) != 0)
		return -1;
	return (ssize_t)len;
}

FILE *progress_report(struct progress *p, FILE *out)
{
	cookie_io_functions_t io = { .write = report_write };

	if (p == NULL || !p->draw)
		return out;
	if (p->report == NULL) {
		fflush(out);
		p->report_to = out;
		p->report = fopencookie(p, "w", io);
		if (p->report != NULL)
			setvbuf(p->report, NULL, _IOLBF, 0);
	}
	return p->report;
}
