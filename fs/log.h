/*
** log: the daemon's one line per event, to stderr in the foreground and to
** syslog (LOG_DAEMON) once daemonised.
** Must never: log a key or a passphrase. Clear names only go to the mounting
** user's own terminal or log.
*/
#ifndef RECFS_FS_LOG_H
#define RECFS_FS_LOG_H

#include <syslog.h>

/* Switch from stderr to syslog (after fork to the background). */
void rfs_log_to_syslog(void);

void rfs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
