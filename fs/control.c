/*
** control: see control.h.
*/
#include "fs/control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/io.h"
#include "fs/history/bytes.h"
#include "fs/dispose.h"
#include "fs/folder_restore.h"
#include "fs/live_restore.h"
#include "fs/log.h"
#include "fs/ops.h"
#include "fs/retention.h"
#include "fs/transfers.h"

#define MAX_FIELDS 128
#define MAX_REQUEST 65536
/* Each client has its own thread, so one that is slow, idle or hostile holds
** up only itself; beyond this many at once a client is told EBUSY. */
#define MAX_CLIENTS 8
/* A request must arrive whole within this; a reply that the client does not
** read for this long is abandoned. */
#define REQUEST_TIMEOUT_MS 5000
#define SEND_TIMEOUT_S 10

struct rfs_control {
	struct rfs_fs *fs;
	int sock;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t mu;               /* clients, nclients, stopping */
	pthread_cond_t idle;              /* signalled when a client thread ends */
	int clients[MAX_CLIENTS];         /* connected sockets, -1 for a free place */
	int nclients;
	bool stopping;
};

struct client {
	struct rfs_control *c;
	int place;                        /* index into c->clients */
	int conn;
	bool broken;                      /* a send failed or timed out: send no more */
};

/* ---- wire format ---------------------------------------------------------- */

void rfs_control_put_field(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '%' || *s == '\t' || *s == '\n' || *s == '\r')
			fprintf(f, "%%%02X", (unsigned char)*s);
		else
			fputc(*s, f);
	}
}

#define put_field rfs_control_put_field

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int rfs_control_split_fields(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;

	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		char *end = strchr(p, '\t'), *r, *w;

		if (end)
			*end = '\0';
		for (r = w = p; *r; r++, w++) {
			if (*r == '%') {
				int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);

				if (lo < 0)
					return -EINVAL;
				*w = (char)(hi * 16 + lo);
				r += 2;
			} else {
				*w = *r;
			}
		}
		*w = '\0';
		fields[n++] = p;
		if (!end)
			return n;
		p = end + 1;
	}
	return -EINVAL;
}

static int split_fields(char *line, char *fields[MAX_FIELDS])
{
	return rfs_control_split_fields(line, fields, MAX_FIELDS);
}

static void put_version(FILE *f, const struct rfs_version *v)
{
	char id[33];

	rfs_hex_encode(id, v->file_id, 16);
	fprintf(f, "v\t%s\t%" PRIu64 "\t%" PRId64 "\t%d\t", v->rev, v->seq, v->time, v->tz_offset);
	put_field(f, v->login ? v->login : "");
	fputc('\t', f);
	put_field(f, v->full_name ? v->full_name : "");
	fputc('\t', f);
	put_field(f, v->host ? v->host : "");
	fprintf(f, "\t%d\t%d\t", (int)v->kind, (int)v->type);
	put_field(f, v->path ? v->path : "");
	fputc('\t', f);
	put_field(f, v->path_old ? v->path_old : "");
	fputc('\t', f);
	put_field(f, v->restored_from ? v->restored_from : "");
	fputc('\t', f);
	put_field(f, v->property ? v->property : "");
	fprintf(f, "\t%s\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%lld\t%ld\t%" PRIu64 "\t%d\t%" PRIu64 "\n",
	        id, v->mode, v->uid, v->gid, (long long)v->mtime.tv_sec, v->mtime.tv_nsec, v->size,
	        (int)v->destroyed, v->disposal);
}

static int get_version(char **fld, int n, struct rfs_version *v)
{
	if (n != 23 || strcmp(fld[0], "v") != 0 || strlen(fld[1]) != RFS_REV_HEX)
		return -EPROTO;
	memset(v, 0, sizeof(*v));
	memcpy(v->rev, fld[1], RFS_REV_HEX + 1);
	v->seq = strtoull(fld[2], NULL, 10);
	v->time = strtoll(fld[3], NULL, 10);
	v->tz_offset = atoi(fld[4]);
	v->login = fld[5];
	v->full_name = fld[6];
	v->host = fld[7];
	v->kind = (enum rfs_save_kind)atoi(fld[8]);
	v->type = (enum rfs_obj_type)atoi(fld[9]);
	v->path = fld[10];
	v->path_old = fld[11];
	v->restored_from = fld[12];
	v->property = fld[13];
	if (rfs_hex_decode(v->file_id, 16, fld[14]) < 0)
		return -EPROTO;
	v->mode = (uint32_t)strtoul(fld[15], NULL, 10);
	v->uid = (uint32_t)strtoul(fld[16], NULL, 10);
	v->gid = (uint32_t)strtoul(fld[17], NULL, 10);
	v->mtime.tv_sec = (time_t)strtoll(fld[18], NULL, 10);
	v->mtime.tv_nsec = strtol(fld[19], NULL, 10);
	v->size = strtoull(fld[20], NULL, 10);
	v->destroyed = atoi(fld[21]) != 0;          /* vault format 3: destroyed by disposal fld[22] */
	v->disposal = strtoull(fld[22], NULL, 10);
	return 0;
}

void rfs_control_refuse(FILE *f, int rc, const char *message)
{
	fprintf(f, "err\t%d\t", -rc);
	put_field(f, message);
	fputc('\n', f);
}

static void put_result(FILE *f, int rc, const char *extra)
{
	if (rc < 0)
		fprintf(f, "err\t%d\t%s\n", -rc, strerror(-rc));
	else if (extra)
		fprintf(f, "ok\t%s\n", extra);
	else
		fputs("ok\n", f);
}

void rfs_control_reply(FILE *f, int rc, const char *extra)
{
	put_result(f, rc, extra);
}

/* ---- server ------------------------------------------------------------------ */

static int64_t now_ms(void);

static void ticker_note(void *arg, const char *unit, uint64_t items, uint64_t bytes,
                        uint64_t total_items, uint64_t total_bytes)
{
	struct rfs_control_ticker *t = arg;
	int64_t now = now_ms();
	bool new_unit = strcmp(unit ? unit : "", t->unit) != 0;

	if (!new_unit && now - t->last_ms < RFS_CONTROL_TICK_MS)
		return;
	t->last_ms = now;
	snprintf(t->unit, sizeof(t->unit), "%s", unit ? unit : "");
	fprintf(t->out, "p\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64, items, bytes,
	        total_items, total_bytes);
	if (unit) {
		fputc('\t', t->out);
		put_field(t->out, unit);
	}
	fputc('\n', t->out);
	fflush(t->out);
}

struct rfs_progress rfs_control_ticker(struct rfs_control_ticker *t, FILE *out)
{
	memset(t, 0, sizeof(*t));
	t->out = out;                     /* the first report goes out at once */
	return (struct rfs_progress){ ticker_note, t };
}

/* The tables of verbs served beside the old ones, one line each. */
static const struct rfs_control_verb *const verb_tables[] = {
	rfs_retention_verbs,
	rfs_dispose_verbs,
	rfs_archive_verbs,
	rfs_transfers_verbs,
	rfs_status_verbs,
	rfs_keyslots_verbs,
	rfs_xattrs_verbs,
	rfs_folder_restore_verbs,
};

/* Verbs that every local user may reach (read-only ones; role verbs check roles then); any
** other answers EACCES to a peer that is neither the mounting user nor root. */
static bool verb_is_public(const char *verb, const struct rfs_control_verb *v)
{
	return v ? v->access != RFS_VERB_OWNER : !strcmp(verb, "ping");
}

static const struct rfs_control_verb *find_verb(const char *verb)
{
	for (size_t t = 0; t < sizeof(verb_tables) / sizeof(verb_tables[0]); t++) {
		for (const struct rfs_control_verb *v = verb_tables[t]; v->name; v++) {
			if (!strcmp(v->name, verb))
				return v;
		}
	}
	return NULL;
}

static int send_version(const struct rfs_version *v, void *arg)
{
	put_version(arg, v);
	return ferror((FILE *)arg) ? -EPIPE : 0;
}

static void serve_verify(struct rfs_history *h, FILE *out)
{
	struct rfs_control_ticker tick;
	struct rfs_progress progress = rfs_control_ticker(&tick, out);
	struct rfs_verify_result res;
	char *text = NULL, *line, *save = NULL, summary[128];
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int rc;

	if (!mem) {
		put_result(out, -ENOMEM, NULL);
		return;
	}
	rc = rfs_history_verify(h, mem, &res, &progress);
	fclose(mem);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		fputs("r\t", out);
		put_field(out, line);
		fputc('\n', out);
	}
	free(text);
	snprintf(summary, sizeof(summary), "%lu\t%lu\t%lu\t%lu\t%lu", res.commits, res.blobs,
	         res.trees, res.problems, res.destroyed);
	put_result(out, rc, rc < 0 ? NULL : summary);
}

/* The daemon's recent log lines, from memory (fs/log.h). */
static void serve_daemon_log(FILE *out)
{
	char *text = rfs_log_recent(), *line, *save = NULL;

	if (!text) {
		put_result(out, -ENOMEM, NULL);
		return;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		fputs("l\t", out);
		put_field(out, line);
		fputc('\n', out);
	}
	free(text);
	put_result(out, 0, NULL);
}

/* The peer's login and the names of its groups, for the verbs of the tables (roles, the
** register, the logs); a uid with no passwd entry keeps "uid N" and no groups. Only those
** verbs pay for it: the group lookup loads the NSS modules into the daemon, and a flush or
** a log does not need a name. */
static void peer_names(struct rfs_peer *p)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t gids[RFS_PEER_MAX_GROUPS];
	int ngids = RFS_PEER_MAX_GROUPS;

	if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return;
	snprintf(p->login, sizeof(p->login), "%s", pw.pw_name);
	if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ngids) < 0)
		ngids = RFS_PEER_MAX_GROUPS;           /* the first ones are enough to check */
	for (int i = 0; i < ngids && p->ngroups < RFS_PEER_MAX_GROUPS; i++) {
		struct group gr, *grp = NULL;

		if (getgrgid_r(gids[i], &gr, buf, sizeof(buf), &grp) == 0 && grp)
			snprintf(p->groups[p->ngroups++], sizeof(p->groups[0]), "%s", gr.gr_name);
	}
}

static void dispatch(struct rfs_control *c, struct rfs_peer *peer, char **fld, int n,
                     int passed_fd, FILE *out)
{
	struct rfs_history *h = c->fs->history;
	const char *verb = fld[0];
	const struct rfs_control_verb *table_verb = find_verb(verb);
	char rev[RFS_REV_HEX + 1];
	int rc;

	/* Asking whether the daemon is there, or how it is, is no use of the vault (fs/idle.h). */
	if (strcmp(verb, "ping") && strcmp(verb, "status") && strcmp(verb, "daemonlog"))
		atomic_store(&c->fs->used, true);
	if (!peer->owner && !verb_is_public(verb, table_verb)) {
		rfs_control_refuse(out, -EACCES, "only the user who mounted, or root, may do that");
	} else if (table_verb) {
		if (n - 1 < table_verb->min_fields || (table_verb->max_fields >= 0 &&
		                                       n - 1 > table_verb->max_fields)) {
			put_result(out, -EINVAL, NULL);
		} else {
			peer_names(peer);
			table_verb->serve(c->fs, peer, fld, n, passed_fd, out);
		}
	} else if (!strcmp(verb, "daemonlog") && n == 1) {
		serve_daemon_log(out);
	} else if (!h) {
		put_result(out, -EROFS, NULL);
	} else if (!strcmp(verb, "ping") && n == 1) {
		put_result(out, 0, NULL);
	} else if (!strcmp(verb, "flush") && n == 1) {
		put_result(out, rfs_history_flush(h), NULL);
	} else if (!strcmp(verb, "log") && n == 3) {
		rc = rfs_history_flush(h);
		rc = rc < 0 ? rc : rfs_history_log(h, *fld[1] ? fld[1] : NULL, strtoul(fld[2], NULL, 10),
		                     send_version, out);
		put_result(out, rc, NULL);
	} else if (!strcmp(verb, "resolve") && n == 2) {
		rc = rfs_history_flush(h);
		rc = rc < 0 ? rc : rfs_history_resolve(h, fld[1], rev);
		put_result(out, rc, rev);
	} else if (!strcmp(verb, "stat") && n == 3) {
		struct rfs_version v;

		rc = rfs_history_flush(h);
		rc = rc < 0 ? rc : rfs_history_stat(h, fld[1], fld[2], &v);
		if (rc == 0)
			put_version(out, &v);
		put_result(out, rc, NULL);
	} else if (!strcmp(verb, "read") && n == 3 && passed_fd >= 0) {
		struct stat st;

		/* Only a file (or memfd): a pipe whose reader stalls would hold this
		** thread, and the unmount, for as long as it likes. */
		rc = fstat(passed_fd, &st) != 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EBADF;
		rc = rc < 0 ? rc : rfs_history_flush(h);
		put_result(out, rc < 0 ? rc : rfs_history_read(h, fld[1], fld[2], passed_fd), NULL);
	} else if (!strcmp(verb, "restore") && n == 7) {
		struct rfs_control_ticker tick;
		struct rfs_progress progress = rfs_control_ticker(&tick, out);

		rc = rfs_history_flush(h);
		put_result(out, rc < 0 ? rc : rfs_live_restore(c->fs, fld[1], fld[2], fld[3],
		                                               (mode_t)strtoul(fld[4], NULL, 8),
		                                               (uid_t)strtoul(fld[5], NULL, 10),
		                                               (gid_t)strtoul(fld[6], NULL, 10),
		                                               &progress), NULL);
	} else if (!strcmp(verb, "verify") && n == 1) {
		rc = rfs_history_flush(h);
		if (rc < 0)
			put_result(out, rc, NULL);
		else
			serve_verify(h, out);
	} else if (!strcmp(verb, "attribute") && n == 5 && c->fs->demo_attribution) {
		struct rfs_who who = { fld[1], fld[2], fld[3] };

		put_result(out, rfs_history_set_attribution(h, &who, strtoll(fld[4], NULL, 10)), NULL);
	} else if (!strcmp(verb, "gc") && n == 1) {
		struct rfs_control_ticker tick;
		struct rfs_progress progress = rfs_control_ticker(&tick, out);

		rc = rfs_history_flush(h);
		put_result(out, rc < 0 ? rc : rfs_history_gc(h, &progress), NULL);
	} else {
		put_result(out, -EINVAL, NULL);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one request line and an optional passed descriptor, within
** REQUEST_TIMEOUT_MS in all (an idle or dribbling peer is dropped). */
static int read_request(int conn, char *buf, size_t cap, int *passed_fd)
{
	int64_t deadline = now_ms() + REQUEST_TIMEOUT_MS;
	size_t got = 0;

	*passed_fd = -1;
	while (got < cap - 1) {
		struct pollfd pfd = { conn, POLLIN, 0 };
		int64_t left = deadline - now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return -ETIMEDOUT;
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf + got, cap - 1 - got };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
		                      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -EPROTO;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			int fd;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			if (*passed_fd < 0)
				*passed_fd = fd;
			else
				close(fd);             /* one descriptor per request; never leak more */
		}
		got += (size_t)n;
		buf[got] = '\0';
		if (memchr(buf, '\n', got))
			return 0;
	}
	return -E2BIG;
}

/* Replies go out through send(): MSG_NOSIGNAL, so a peer that hung up is an
** error and not a SIGPIPE, and SO_SNDTIMEO bounds how long one write waits. */
static ssize_t conn_write(void *cookie, const char *buf, size_t len)
{
	struct client *cl = cookie;
	size_t done = 0;

	while (done < len && !cl->broken) {
		ssize_t n = send(cl->conn, buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			cl->broken = true;     /* the rest of the reply fails at once, not after a timeout each */
		else
			done += (size_t)n;
	}
	return done ? (ssize_t)done : -1;
}

/* Who is at the other end, from the socket's peer credentials: its uid, and whether it
** mounted the vault or is root. Its login is "uid N" until peer_names. */
static int read_peer(int conn, struct rfs_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(p, 0, sizeof(*p));
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -errno;
	p->uid = cred.uid;
	p->mounter = cred.uid == getuid();
	p->owner = cred.uid == 0 || p->mounter;
	snprintf(p->login, sizeof(p->login), "uid %u", (unsigned)cred.uid);
	return 0;
}

static void serve_one(struct rfs_control *c, struct client *cl)
{
	static const cookie_io_functions_t io = { .write = conn_write };
	struct timeval send_timeout = { SEND_TIMEOUT_S, 0 };
	struct rfs_peer *peer = malloc(sizeof(*peer));
	char *buf, *fld[MAX_FIELDS];
	int passed_fd = -1, n;
	FILE *out;

	if (!peer || read_peer(cl->conn, peer) < 0) {
		free(peer);
		return;
	}
	(void)setsockopt(cl->conn, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
	buf = malloc(MAX_REQUEST);
	out = buf ? fopencookie(cl, "w", io) : NULL;
	if (out && read_request(cl->conn, buf, MAX_REQUEST, &passed_fd) == 0 &&
	    (n = split_fields(buf, fld)) > 0)
		dispatch(c, peer, fld, n, passed_fd, out);
	else if (out)
		put_result(out, -EPROTO, NULL);
	if (out)
		fclose(out);
	if (passed_fd >= 0)
		close(passed_fd);
	free(buf);
	free(peer);
}

static void *client_thread(void *arg)
{
	struct client *cl = arg;
	struct rfs_control *c = cl->c;

	serve_one(c, cl);
	/* Closed under the lock, so that rfs_control_stop never shuts down a
	** descriptor number that has been reused. */
	pthread_mutex_lock(&c->mu);
	close(cl->conn);
	c->clients[cl->place] = -1;
	c->nclients--;
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->mu);
	free(cl);
	return NULL;
}

/* Serve conn from a thread of its own; when MAX_CLIENTS are already being
** served (or the thread cannot start), say EBUSY without waiting and hang up. */
static void start_client(struct rfs_control *c, int conn)
{
	static const char busy[] = "err\t16\tthe daemon is serving too many commands; retry\n";
	struct client *cl = malloc(sizeof(*cl));
	pthread_attr_t attr;
	int place = -1;

	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < MAX_CLIENTS && place < 0 && !c->stopping; i++) {
		if (c->clients[i] < 0)
			place = i;
	}
	if (cl && place >= 0) {
		*cl = (struct client){ c, place, conn, false };
		c->clients[place] = conn;
		c->nclients++;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&(pthread_t){ 0 }, &attr, client_thread, cl) != 0) {
			c->clients[place] = -1;
			c->nclients--;
			place = -1;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&c->mu);
	if (place < 0) {
		(void)send(conn, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(conn);
		free(cl);
	}
}

static void *control_thread(void *arg)
{
	struct rfs_control *c = arg;

	for (;;) {
		struct pollfd pfd[2] = { { c->sock, POLLIN, 0 }, { c->stop[0], POLLIN, 0 } };
		int conn;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		conn = accept4(c->sock, NULL, NULL, SOCK_CLOEXEC);
		if (conn >= 0)
			start_client(c, conn);
	}
	return NULL;
}

static int socket_path(struct sockaddr_un *addr, int vault_dirfd)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", vault_dirfd,
	         RFS_CONTROL_NAME);
	return 0;
}

int rfs_control_start(struct rfs_fs *fs, struct rfs_control **out)
{
	struct rfs_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un addr;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	c->fs = fs;
	c->stop[0] = c->stop[1] = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		c->clients[i] = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->idle, NULL);
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->sock < 0 || pipe2(c->stop, O_CLOEXEC) != 0) {
		rc = -errno;
		goto fail;
	}
	socket_path(&addr, fs->v->dirfd);
	(void)unlinkat(fs->v->dirfd, RFS_CONTROL_NAME, 0);
	if (bind(c->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    fchmodat(fs->v->dirfd, RFS_CONTROL_NAME, 0666, 0) != 0 || listen(c->sock, 16) != 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&c->thread, NULL, control_thread, c);
	if (rc < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c->sock >= 0)
		close(c->sock);
	if (c->stop[0] >= 0) {
		close(c->stop[0]);
		close(c->stop[1]);
	}
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return rc;
}

void rfs_control_stop(struct rfs_control *c)
{
	if (!c)
		return;
	if (write(c->stop[1], "x", 1) == 1)
		pthread_join(c->thread, NULL);
	/* Never wait on a client: wake every thread blocked on its peer (the
	** read or write fails at once), and wait only for the work in hand. */
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (c->clients[i] >= 0)
			(void)shutdown(c->clients[i], SHUT_RDWR);
	}
	while (c->nclients > 0)
		pthread_cond_wait(&c->idle, &c->mu);
	pthread_mutex_unlock(&c->mu);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->mu);
	close(c->sock);
	close(c->stop[0]);
	close(c->stop[1]);
	(void)unlinkat(c->fs->v->dirfd, RFS_CONTROL_NAME, 0);
	free(c);
}

/* ---- client ---------------------------------------------------------------- */

struct call {
	int sock;
	char *reply;                      /* the whole reply, read by call_drain */
	FILE *in;                         /* reads reply */
	char *line;
	size_t cap;
	char *fld[MAX_FIELDS];
	int n;
};

static int call_start(struct call *k, const char *vault_path, int pass_fd, const char *verb, ...)
	__attribute__((sentinel));

/* Read the whole reply (the daemon hangs up after it) before any of it is
** used: however slowly the caller consumes it (recfs log | less), the
** daemon's thread is free at once. */
static int call_drain(struct call *k)
{
	size_t len = 0, cap = 0, got;
	int rc;

	do {       /* until a read stops short of the room it had: the daemon hung up */
		rc = rfs_bytes_grow(&k->reply, &cap, len, 1, 65536);
		if (rc == 0)
			rc = rfs_io_read_upto(k->sock, k->reply + len, cap - len, &got);
		if (rc < 0)
			return rc;
		len += got;
	} while (len == cap);
	if (len == 0)
		return -EPROTO;
	k->in = fmemopen(k->reply, len, "r");
	return k->in ? 0 : -ENOMEM;
}

/* Connect and send the request args[0..nargs) (args[0] is the verb). */
static int call_send_argv(struct call *k, const char *vault_path, int pass_fd,
                          const char *const *args, size_t nargs)
{
	struct sockaddr_un addr;
	char *req = NULL;
	size_t reqlen = 0;
	FILE *f;
	int dfd, rc = 0;

	memset(k, 0, sizeof(*k));
	k->sock = -1;
	dfd = open(vault_path, O_PATH | O_DIRECTORY | O_CLOEXEC);   /* o+x on VAULT is enough */
	if (dfd < 0)
		return -errno;
	k->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socket_path(&addr, dfd);
	if (k->sock < 0 || connect(k->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		rc = errno == ENOENT ? -ECONNREFUSED : -errno;
	close(dfd);
	if (rc < 0)
		return rc;
	f = open_memstream(&req, &reqlen);
	if (!f)
		return -ENOMEM;
	fputs(args[0], f);
	for (size_t i = 1; i < nargs; i++) {
		fputc('\t', f);
		put_field(f, args[i] ? args[i] : "");
	}
	fputc('\n', f);
	fclose(f);
	{
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { req, reqlen };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (pass_fd >= 0) {
			struct cmsghdr *cm;

			memset(cbuf, 0, sizeof(cbuf));
			msg.msg_control = cbuf;
			msg.msg_controllen = sizeof(cbuf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
		}
		if (sendmsg(k->sock, &msg, MSG_NOSIGNAL) != (ssize_t)reqlen)
			rc = -EPIPE;
	}
	free(req);
	return rc;
}

/* The same, then read the whole reply. */
static int call_start_argv(struct call *k, const char *vault_path, int pass_fd,
                           const char *const *args, size_t nargs)
{
	int rc = call_send_argv(k, vault_path, pass_fd, args, nargs);

	return rc < 0 ? rc : call_drain(k);
}

static int call_start(struct call *k, const char *vault_path, int pass_fd, const char *verb, ...)
{
	const char *args[MAX_FIELDS];
	size_t nargs = 0;
	va_list ap;
	const char *arg;

	args[nargs++] = verb;
	va_start(ap, verb);
	while ((arg = va_arg(ap, const char *)) != NULL && nargs < MAX_FIELDS)
		args[nargs++] = arg;
	va_end(ap);
	return call_start_argv(k, vault_path, pass_fd, args, nargs);
}

/* Next reply line split into k->fld; returns 1 for a data line, 0 for "ok", -errno. */
static int call_next(struct call *k)
{
	if (!k->in || getline(&k->line, &k->cap, k->in) <= 0)
		return -EPROTO;
	k->n = split_fields(k->line, k->fld);
	if (k->n <= 0)
		return -EPROTO;
	if (!strcmp(k->fld[0], "ok"))
		return 0;
	if (!strcmp(k->fld[0], "err"))
		return k->n >= 2 && atoi(k->fld[1]) > 0 ? -atoi(k->fld[1]) : -EIO;
	return 1;
}

static void call_end(struct call *k)
{
	if (k->in)
		fclose(k->in);
	if (k->sock >= 0)
		close(k->sock);
	free(k->reply);
	free(k->line);
}

/* Skip to the end of a reply whose data lines the caller does not want. */
static int call_finish(struct call *k)
{
	int rc;

	while ((rc = call_next(k)) == 1)
		;
	return rc;
}

/* A call whose reply is just ok or err. */
static int simple_call(const char *vault_path, int pass_fd, const char *verb, const char *a,
                       const char *b)
{
	struct call k;
	int rc = call_start(&k, vault_path, pass_fd, verb, a, b, (const char *)NULL);

	if (rc == 0)
		rc = call_finish(&k);
	call_end(&k);
	return rc;
}

/* Connect, send, and make k->in the reply: read whole first (call_drain), or with live each
** line as it comes (the caller shows progress while the daemon works). 0 or -errno (k ended). */
static int call_begin(struct call *k, const char *vault_path, int pass_fd, const char *const *args,
                      size_t nargs, bool live)
{
	int rc;

	if (nargs == 0 || nargs > MAX_FIELDS)
		return -EINVAL;
	rc = live ? call_send_argv(k, vault_path, pass_fd, args, nargs)
	          : call_start_argv(k, vault_path, pass_fd, args, nargs);
	if (rc == 0 && live) {
		int fd = dup(k->sock);

		k->in = fd < 0 ? NULL : fdopen(fd, "r");
		if (!k->in) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
		}
	}
	if (rc < 0)
		call_end(k);
	return rc;
}

int rfs_control_progress_line(char **fld, int n, const struct rfs_progress *to)
{
	if (n < 5 || n > 6 || strcmp(fld[0], "p"))
		return 0;
	rfs_progress_note(to, n == 6 ? fld[5] : NULL, strtoull(fld[1], NULL, 10),
	                  strtoull(fld[2], NULL, 10), strtoull(fld[3], NULL, 10),
	                  strtoull(fld[4], NULL, 10));
	return 1;
}

/* A call whose reply is progress lines, then ok or err: drawn as they come. */
static int progress_call(const char *vault_path, const char *const *args, size_t nargs,
                         const struct rfs_progress *progress)
{
	struct call k;
	int rc = call_begin(&k, vault_path, -1, args, nargs, true);

	if (rc < 0)
		return rc;
	while ((rc = call_next(&k)) == 1)
		rfs_control_progress_line(k.fld, k.n, progress);   /* other lines: not for us */
	call_end(&k);
	return rc;
}

int rfs_control_ping(const char *vault_path)
{
	return simple_call(vault_path, -1, "ping", NULL, NULL);
}

int rfs_control_flush(const char *vault_path)
{
	return simple_call(vault_path, -1, "flush", NULL, NULL);
}

int rfs_control_attribute(const char *vault_path, const char *login, const char *full_name,
                         const char *host, int64_t when)
{
	char num[32];
	struct call k;
	int rc;

	snprintf(num, sizeof(num), "%lld", (long long)when);
	rc = call_start(&k, vault_path, -1, "attribute", login, full_name, host, num,
	                (const char *)NULL);
	if (rc == 0)
		rc = call_finish(&k);
	call_end(&k);
	return rc;
}

int rfs_control_daemon_log(const char *vault_path, FILE *out)
{
	struct call k;
	int rc = call_start(&k, vault_path, -1, "daemonlog", (const char *)NULL);

	while (rc == 0 && (rc = call_next(&k)) == 1) {
		if (k.n == 2 && !strcmp(k.fld[0], "l"))
			fprintf(out, "%s\n", k.fld[1]);
		rc = 0;
	}
	call_end(&k);
	return rc;
}

int rfs_control_gc(const char *vault_path, const struct rfs_progress *progress)
{
	const char *args[] = { "gc" };

	return progress_call(vault_path, args, 1, progress);
}

/* Copy all of from (from its start) to out. 0 or -errno. */
static int copy_out(int from, int out)
{
	char buf[65536];
	ssize_t n;

	if (lseek(from, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(from, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		int rc = rfs_io_write_all(out, buf, (size_t)n);

		if (rc < 0)
			return rc;
	}
	return 0;
}

int rfs_control_read(const char *vault_path, const char *rev, const char *clear_path, int out_fd)
{
	struct stat st;
	int mem, rc;

	if (fstat(out_fd, &st) == 0 && S_ISREG(st.st_mode))
		return simple_call(vault_path, out_fd, "read", rev, clear_path);
	/* The daemon writes only into files (a stalled pipe must not hold it):
	** a pipe or terminal is fed from memory here. */
	mem = memfd_create("recfs-read", MFD_CLOEXEC);
	if (mem < 0)
		return -errno;
	rc = simple_call(vault_path, mem, "read", rev, clear_path);
	if (rc == 0)
		rc = copy_out(mem, out_fd);
	close(mem);
	return rc;
}

int rfs_control_restore(const char *vault_path, const char *rev, const char *source,
                       const char *target, mode_t mode, uid_t uid, gid_t gid,
                       const struct rfs_progress *progress)
{
	char m[16], u[16], g[16];
	const char *args[] = { "restore", rev, source, target, m, u, g };

	snprintf(m, sizeof(m), "%o", (unsigned)mode & 07777);
	snprintf(u, sizeof(u), "%u", (unsigned)uid);
	snprintf(g, sizeof(g), "%u", (unsigned)gid);
	return progress_call(vault_path, args, 7, progress);
}

int rfs_control_log(const char *vault_path, const char *clear_path, size_t limit,
                   rfs_version_cb cb, void *arg)
{
	struct call k;
	char num[32];
	int rc;

	snprintf(num, sizeof(num), "%zu", limit);
	rc = call_start(&k, vault_path, -1, "log", clear_path ? clear_path : "", num,
	                (const char *)NULL);
	while (rc == 0 && (rc = call_next(&k)) == 1) {
		struct rfs_version v;

		rc = get_version(k.fld, k.n, &v);
		if (rc == 0)
			rc = cb(&v, arg);      /* non-zero: the caller has seen enough */
	}
	call_end(&k);
	return rc;
}

int rfs_control_resolve(const char *vault_path, const char *rev_or_date,
                       char rev[RFS_REV_HEX + 1])
{
	struct call k;
	int rc = call_start(&k, vault_path, -1, "resolve", rev_or_date, (const char *)NULL);

	if (rc == 0) {
		rc = call_finish(&k);
		if (rc == 0 && (k.n != 2 || strlen(k.fld[1]) != RFS_REV_HEX))
			rc = -EPROTO;
		if (rc == 0)
			memcpy(rev, k.fld[1], RFS_REV_HEX + 1);
	}
	call_end(&k);
	return rc;
}

/* Copy s into keep at *used; the copy outlives the call that read it. */
static const char *keep_str(char *keep, size_t cap, size_t *used, const char *s)
{
	size_t len = strlen(s) + 1;
	char *dst = keep + *used;

	if (*used + len > cap)
		return "";
	memcpy(dst, s, len);
	*used += len;
	return dst;
}

int rfs_control_stat(const char *vault_path, const char *rev, const char *clear_path,
                    struct rfs_version *out)
{
	static char keep[MAX_REQUEST];
	struct call k;
	bool got = false;
	int rc = call_start(&k, vault_path, -1, "stat", rev, clear_path, (const char *)NULL);

	while (rc == 0 && (rc = call_next(&k)) == 1) {
		size_t used = 0;

		rc = get_version(k.fld, k.n, out);
		if (rc < 0)
			break;
		out->login = keep_str(keep, sizeof(keep), &used, out->login);
		out->full_name = keep_str(keep, sizeof(keep), &used, out->full_name);
		out->host = keep_str(keep, sizeof(keep), &used, out->host);
		out->path = keep_str(keep, sizeof(keep), &used, out->path);
		out->path_old = keep_str(keep, sizeof(keep), &used, out->path_old);
		out->restored_from = keep_str(keep, sizeof(keep), &used, out->restored_from);
		out->property = keep_str(keep, sizeof(keep), &used, out->property);
		got = true;
	}
	if (rc == 0 && !got)
		rc = -EPROTO;
	call_end(&k);
	return rc;
}

int rfs_control_verify(const char *vault_path, FILE *report, struct rfs_verify_result *res,
                       const struct rfs_progress *progress)
{
	const char *args[] = { "verify" };
	struct call k;
	char *text = NULL;
	size_t len = 0;
	FILE *kept = open_memstream(&text, &len);
	int rc = kept ? call_begin(&k, vault_path, -1, args, 1, true) : -ENOMEM;

	memset(res, 0, sizeof(*res));
	if (rc < 0) {
		if (kept)
			fclose(kept);
		free(text);
		return rc;
	}
	/* Progress as it comes; every report line kept until the reply has ended, so a slow
	** reader of the report (recfs verify | less) never holds the daemon's thread. */
	while ((rc = call_next(&k)) == 1) {
		if (k.n == 2 && !strcmp(k.fld[0], "r"))
			fprintf(kept, "%s\n", k.fld[1]);
		else
			rfs_control_progress_line(k.fld, k.n, progress);
	}
	fclose(kept);
	if (text)
		fputs(text, report);
	free(text);
	if (rc == 0 && k.n >= 5) {
		res->commits = strtoul(k.fld[1], NULL, 10);
		res->blobs = strtoul(k.fld[2], NULL, 10);
		res->trees = strtoul(k.fld[3], NULL, 10);
		res->problems = strtoul(k.fld[4], NULL, 10);
		res->destroyed = k.n >= 6 ? strtoul(k.fld[5], NULL, 10) : 0;
	}
	call_end(&k);
	return rc;
}

static int call_any(const char *vault_path, int pass_fd, const char *const *args, size_t nargs,
                    rfs_control_line_cb cb, void *arg, char *msg, size_t msgsz, bool live)
{
	struct call k;
	int rc = call_begin(&k, vault_path, pass_fd, args, nargs, live);

	if (msg && msgsz)
		msg[0] = '\0';
	if (rc < 0)
		return rc;
	while ((rc = call_next(&k)) == 1) {
		rc = cb ? cb(k.fld, k.n, arg) : 0;
		if (rc < 0)
			break;
	}
	if (rc < 0 && k.n >= 3 && !strcmp(k.fld[0], "err") && msg && msgsz)
		snprintf(msg, msgsz, "%s", k.fld[2]);
	call_end(&k);
	return rc;
}

int rfs_control_call(const char *vault_path, int pass_fd, const char *const *args, size_t nargs,
                     rfs_control_line_cb cb, void *arg, char *msg, size_t msgsz)
{
	return call_any(vault_path, pass_fd, args, nargs, cb, arg, msg, msgsz, false);
}

int rfs_control_call_live(const char *vault_path, int pass_fd, const char *const *args,
                          size_t nargs, rfs_control_line_cb cb, void *arg, char *msg, size_t msgsz)
{
	return call_any(vault_path, pass_fd, args, nargs, cb, arg, msg, msgsz, true);
}
