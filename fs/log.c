/*
** log: see log.h.
*/
#include "fs/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
#define STAMP_MAX 48                  /* "DATE LEVEL: " */
static char ring[RFS_LOG_LINES][STAMP_MAX + RFS_LOG_LINE_MAX];
static size_t ring_next;              /* total lines ever logged; next slot is % RFS_LOG_LINES */
static bool detached;

void rfs_log_detach(void)
{
	detached = true;
}

static const char *level_name(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: case LOG_INFO: return "info";
	default: return "debug";
	}
}

void rfs_log(int priority, const char *fmt, ...)
{
	char msg[RFS_LOG_LINE_MAX], when[32];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line each, whatever a clear name holds. */
	for (char *p = msg; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	if (!detached)
		fprintf(stderr, "recfs: %s\n", msg);
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
	pthread_mutex_lock(&ring_lock);
	snprintf(ring[ring_next % RFS_LOG_LINES], sizeof(ring[0]), "%s %s: %s", when,
	         level_name(priority), msg);
	ring_next++;
	pthread_mutex_unlock(&ring_lock);
}

char *rfs_log_recent(void)
{
	char *text = malloc(sizeof(ring) + RFS_LOG_LINES + 1), *w = text;
	size_t first;

	if (!text)
		return NULL;
	pthread_mutex_lock(&ring_lock);
	first = ring_next > RFS_LOG_LINES ? ring_next - RFS_LOG_LINES : 0;
	for (size_t i = first; i < ring_next; i++) {
		const char *line = ring[i % RFS_LOG_LINES];
		size_t len = strlen(line);

		memcpy(w, line, len);
		w += len;
		*w++ = '\n';
	}
	pthread_mutex_unlock(&ring_lock);
	*w = '\0';
	return text;
}
