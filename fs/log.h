/*
** log: the daemon's one line per event, to stderr in the foreground, and
** always to a ring of the last RFS_LOG_LINES lines in memory, which the
** mounting user reads through the control socket (`recfs log --daemon`).
** Must never: log a key or a passphrase; write a line to a file (lines carry
** clear names: they go only to the mounting user's own terminal and to memory;
** syslog is not used, as it keeps them in /var/log).
*/
#ifndef RECFS_FS_LOG_H
#define RECFS_FS_LOG_H

#include <stddef.h>
#include <syslog.h>

#define RFS_LOG_LINES 400
#define RFS_LOG_LINE_MAX 512          /* longer lines are cut */

/* After the fork to the background: stderr is gone, keep lines in memory only. */
void rfs_log_detach(void);

/* Priorities are syslog's (LOG_ERR, LOG_WARNING, ...). */
void rfs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The lines in memory, oldest first, each "DATE LEVEL: message\n", in a
** malloc'd string (free it); NULL when out of memory. */
char *rfs_log_recent(void);

#endif
