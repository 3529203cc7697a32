/*
** log: see log.h.
*/
#include "fs/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static bool use_syslog;

void rfs_log_to_syslog(void)
{
	openlog("recfs", LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

void rfs_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		fputs("recfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
