/*
** mount: see mount.h. Options follow libfuse's passthrough_hp: 1 MiB writes,
** long entry/attribute timeouts (this daemon is the only writer), a
** multithreaded loop with one /dev/fuse clone per thread. The INIT reply
** passes through init_io_writev, which gives the kernel the flags op_init
** asked for and libfuse 3.14 leaves out, FUSE_HANDLE_KILLPRIV_V2, and
** FUSE_DIRECT_IO_ALLOW_MMAP when offered (rfs_ops_file_allow_uncached_creators); each
** request passes through init_io_read, which tells the handlers whether the
** kernel asked for setuid and setgid to be cleared (libfuse 3.14 drops those
** bits before a handler sees them), and reads a WRITE's data into a buffer
** the workers share, laid out for sealing in place (read_request).
** Must never: change any message to or from the kernel but the INIT reply.
*/
#include "fs/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <linux/magic.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "crypto/content.h"
#include "fs/cfile.h"
#include "fs/control.h"
#include "fs/dispose.h"
#include "fs/history/history.h"
#include "fs/idle.h"
#include "fs/live_restore.h"
#include "fs/log.h"
#include "fs/mountinfo.h"
#include "fs/ops.h"
#include "fs/keyslots.h"
#include "fs/retention.h"
#include "fs/spares.h"

int rfs_mount_check_mountpoint(const char *mountpoint, char *err, size_t errsz)
{
	char parent[PATH_MAX];
	struct stat st, pst;

	if (stat(mountpoint, &st) != 0) {
		int e = errno;

		if (e == ENOTCONN)
			snprintf(err, errsz, "%s is a dead mount; run 'fusermount3 -u %s' first",
			         mountpoint, mountpoint);
		else if (e == ENOENT)
			snprintf(err, errsz, "mount point %s does not exist; create it with 'mkdir'",
			         mountpoint);
		else
			snprintf(err, errsz, "mount point %s: %s", mountpoint, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "mount point %s is not a folder", mountpoint);
		return -ENOTDIR;
	}
	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", mountpoint) >= sizeof(parent)) {
		snprintf(err, errsz, "mount point %s: path too long", mountpoint);
		return -ENAMETOOLONG;
	}
	if (stat(parent, &pst) == 0 && (pst.st_dev != st.st_dev || pst.st_ino == st.st_ino)) {
		snprintf(err, errsz, "%s is already a mount point; unmount it first", mountpoint);
		return -EBUSY;
	}
	return 0;
}

static int build_args(struct fuse_args *args, const struct rfs_vault *v,
                      const struct rfs_mount_opts *o)
{
	char *fsname = NULL;
	int rc = 0;

	if (fuse_opt_add_arg(args, "recfs") != 0)
		return -ENOMEM;
	if (asprintf(&fsname, "fsname=%s%s%s", v->path, o->snapshot_rev ? "@" : "",
	             o->snapshot_rev ? o->snapshot_rev : "") < 0)
		return -ENOMEM;
	{
		char *opts = NULL;

		if (fuse_opt_add_opt_escaped(&opts, fsname) != 0 ||
		    fuse_opt_add_opt(&opts, "subtype=recfs") != 0 ||
		    (o->read_only && fuse_opt_add_opt(&opts, "ro") != 0) ||
		    (o->fuse_opts && *o->fuse_opts && fuse_opt_add_opt(&opts, o->fuse_opts) != 0) ||
		    fuse_opt_add_arg(args, "-o") != 0 || fuse_opt_add_arg(args, opts) != 0)
			rc = -ENOMEM;
		free(opts);
	}
	free(fsname);
	if (rc == 0 && o->debug && fuse_opt_add_arg(args, "-d") != 0)
		rc = -ENOMEM;
	return rc;
}

/* Who saves: the user who mounted, named from passwd, unless the vault's own
** .recfs/authors (an encrypted record, "LOGIN Full Name" lines) or --author
** says otherwise (--author wins). */
struct who_buf {
	struct rfs_who who;
	char login[64], full[256], host[256];
};

/* The name the vault's authors file gives login, into out; false if none. */
static bool vault_author(struct rfs_fs *fs, const char *login, char *out, size_t outsz)
{
	char text[16384], *line, *save = NULL;
	size_t len = strlen(login);

	if (rfs_live_read_file(fs, RFS_AUTHORS_PATH, text, sizeof(text)) <= 0)
		return false;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || strncmp(line, login, len) != 0 || (line[len] != ' ' && line[len] != '\t'))
			continue;
		line += len + strspn(line + len, " \t");
		if (!*line)
			continue;
		snprintf(out, outsz, "%s", line);
		return true;
	}
	return false;
}

static void who_of(struct rfs_fs *fs, const char *author, struct who_buf *w)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(w->login, sizeof(w->login), "%s", pw ? pw->pw_name : "unknown");
	snprintf(w->full, sizeof(w->full), "%s", pw && pw->pw_gecos ? pw->pw_gecos : "");
	w->full[strcspn(w->full, ",")] = '\0';
	if (author && *author)
		snprintf(w->full, sizeof(w->full), "%s", author);
	else
		(void)vault_author(fs, w->login, w->full, sizeof(w->full));
	if (gethostname(w->host, sizeof(w->host)) != 0)
		snprintf(w->host, sizeof(w->host), "unknown");
	w->host[sizeof(w->host) - 1] = '\0';
	w->who.login = w->login;
	w->who.full_name = w->full;
	w->who.host = w->host;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* The daemon keeps no descriptor per inode (fs/inode.h bounds its cache),
** but each file a program holds open costs one: with the usual soft limit
** of 1,024, a program holding 2,000 files would fail. Raise the soft limit
** to the hard one; never the hard limit itself, which is the admin's. */
void rfs_mount_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* libfuse 3.14 never puts FUSE_PARALLEL_DIROPS in its INIT reply (libfuse
** fixed that after 3.14), though op_init asks for it: the kernel then takes
** a folder's lock for each lookup and readdir, so two programs working in
** one folder wait for each other even though the daemon has eight workers.
** Lookups and listings are safe in parallel here (the inode table and the
** descriptor cache have their locks; a listing reads its own handle). So
** requests are read and replies written through these two functions, which
** add the flag to the INIT reply when the kernel offered it (and
** FUSE_HANDLE_KILLPRIV_V2: see kills_suidgid). */
static _Atomic uint64_t init_unique;   /* the INIT request's id, until its reply */
static _Atomic uint32_t init_offered;  /* the flags the kernel offered */
static _Atomic uint32_t init_offered2; /* ... and its flags2 (FUSE_INIT_EXT) */
/* Linux 6.6's flag (bit 36, in flags2), which the headers of Debian 12 lack: shared mmap of a
** direct I/O file, whose direct writes then drop the page cache they replace. */
#define INIT2_DIRECT_IO_ALLOW_MMAP (1u << (36 - 32))
static bool init_debug;                /* -d: say what was added */

/* With FUSE_HANDLE_KILLPRIV_V2 the kernel no longer clears setuid and setgid
** itself (nor asks for security.capability before each write and chown, nor
** rereads the mode before each chown): it marks a write, a truncate and an
** O_TRUNC open by a caller without CAP_FSETID, and the daemon clears them
** (rfs_ops_attr_kill_suidgid). A chown clears them on the backing file, as
** the daemon's own fchown does. Is request in (n bytes) so marked? */
static bool kills_suidgid(const struct fuse_in_header *in, ssize_t n)
{
	const void *arg = in + 1;
	size_t len = n > (ssize_t)sizeof(*in) ? (size_t)n - sizeof(*in) : 0;

	switch (in->opcode) {
	case FUSE_WRITE:
		return len >= sizeof(struct fuse_write_in) &&
		       (((const struct fuse_write_in *)arg)->write_flags & FUSE_WRITE_KILL_SUIDGID);
	case FUSE_SETATTR:
		return len >= sizeof(struct fuse_setattr_in) &&
		       (((const struct fuse_setattr_in *)arg)->valid & FATTR_KILL_SUIDGID);
	case FUSE_OPEN:
		return len >= sizeof(struct fuse_open_in) &&
		       (((const struct fuse_open_in *)arg)->open_flags & FUSE_OPEN_KILL_SUIDGID);
	default:
		return false;
	}
}

/* A request's bytes past its first 80 (a WRITE's data) are read into one of
** the buffers fs/cfile.c lends, one block per ciphertext slot, so that the
** write seals them in place: not into the reading worker's own buffer (the
** kernel hands requests to the workers in turn, so each of the eight
** workers' 1 MiB buffers was filled by some write and stayed resident), nor
** through a second 1 MiB buffer for the ciphertext. One worker at a time
** waits in read (read_mu), holding one lent buffer; a block-aligned WRITE's
** handler keeps it until it has written the data (before its reply), or at
** the latest until its worker reads again. Any other request's bytes are
** copied back after its header. With no buffer lent, the read goes to the
** worker's buffer as before: nobody waits for one here. The gate (read_mu)
** is up only while big writes come (below). */
#define SIDE_SPLIT (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
#define SIDE_SLOTS 260     /* slots of one lent buffer, at most: 1 MiB + the header's page */

static pthread_mutex_t read_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local uint8_t *side_held;   /* the buffer this worker holds */

static void side_give(void)
{
	if (side_held)
		rfs_cfile_give(side_held);
	side_held = NULL;
}

/* libfuse cancels its workers while they read (at unmount): let go of both. */
static void read_cancelled(void *arg)
{
	(void)arg;
	side_give();
	pthread_mutex_unlock(&read_mu);
}

/* The len bytes laid out one block per slot, to dst. */
static void slots_gather(uint8_t *dst, const uint8_t *slots, size_t len)
{
	for (size_t k = 0; len > 0; k++) {
		size_t n = len < RFS_BLOCK_SIZE ? len : RFS_BLOCK_SIZE;

		memcpy(dst + k * RFS_BLOCK_SIZE, slots + k * RFS_SLOT_SIZE + RFS_BLOCK_NONCE, n);
		len -= n;
	}
}

/* The gate costs a second wakeup per request: it is only up while big writes
** come (one in the last GATE_QUIET seconds). A big write that a worker read on
** its own before the gate went up has its buffer's pages given back once done. */
#define GATE_BIG (128u << 10)
#define GATE_QUIET 2

static _Atomic bool gated;
static _Atomic int64_t last_big_write;        /* CLOCK_MONOTONIC_COARSE seconds */
static _Thread_local bool own_touched;        /* this worker's buffer took a big write */

static int64_t now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

static bool big_write(const struct fuse_in_header *in, ssize_t n)
{
	return n > (ssize_t)(SIDE_SPLIT + GATE_BIG) && in->opcode == FUSE_WRITE;
}

/* Give back the pages of buf past the header, zeroed when next touched. */
static void own_release(void *buf, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = ((uintptr_t)buf + SIDE_SPLIT + page - 1) & ~(page - 1);
	uintptr_t to = ((uintptr_t)buf + len) & ~(page - 1);

	if (to > from)
		(void)madvise((void *)from, to - from, MADV_DONTNEED);
	own_touched = false;
}

/* A read into the worker's own buffer, with the gate down: a big write puts it up. */
static ssize_t read_own(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (big_write(buf, n)) {
		last_big_write = now_coarse();
		gated = true;
		own_touched = true;
	}
	return n;
}

static ssize_t read_request(int fd, void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	size_t nslots = len > SIDE_SPLIT ? (len - SIDE_SPLIT + RFS_BLOCK_SIZE - 1) / RFS_BLOCK_SIZE : 0;
	struct iovec iov[1 + SIDE_SLOTS];
	bool through_gate;
	ssize_t n;

	side_give();    /* the request this worker handled last is done */
	rfs_ops_file_note_data(NULL, NULL);
	if (own_touched)
		own_release(buf, len);
	if (nslots == 0 || nslots > SIDE_SLOTS)
		return read(fd, buf, len);
	if (!gated)
		return read_own(fd, buf, len);
	pthread_mutex_lock(&read_mu);
	pthread_cleanup_push(read_cancelled, NULL);
	through_gate = gated;     /* it may have come down while this worker waited */
	side_held = through_gate ? rfs_cfile_lend(nslots * RFS_SLOT_SIZE) : NULL;
	if (side_held) {
		size_t left = len - SIDE_SPLIT;

		iov[0] = (struct iovec){ .iov_base = buf, .iov_len = SIDE_SPLIT };
		for (size_t k = 0; k < nslots; k++) {
			size_t seg = left < RFS_BLOCK_SIZE ? left : RFS_BLOCK_SIZE;

			iov[k + 1] = (struct iovec){
				.iov_base = side_held + k * RFS_SLOT_SIZE + RFS_BLOCK_NONCE,
				.iov_len = seg,
			};
			left -= seg;
		}
		n = readv(fd, iov, (int)(1 + nslots));
	} else if (through_gate) {
		n = read(fd, buf, len);
	}
	pthread_cleanup_pop(0);
	pthread_mutex_unlock(&read_mu);
	if (!through_gate)
		return read_own(fd, buf, len);
	if (big_write(in, n))
		last_big_write = now_coarse();
	else if (now_coarse() - last_big_write > GATE_QUIET)
		gated = false;
	if (!side_held)           /* none to lend: more writes at once than buffers */
		return n;
	if (n > (ssize_t)SIDE_SPLIT && in->opcode == FUSE_WRITE &&
	    ((const struct fuse_write_in *)(in + 1))->offset % RFS_BLOCK_SIZE == 0) {
		rfs_ops_file_note_data(side_held, side_give);
		return n;
	}
	if (n > (ssize_t)SIDE_SPLIT)
		slots_gather((uint8_t *)buf + SIDE_SPLIT, side_held, (size_t)n - SIDE_SPLIT);
	side_give();
	return n;
}

static ssize_t init_io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read_request(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	/* The worker that read a request handles it before it reads the next. */
	rfs_ops_attr_note_kill(n > 0 && kills_suidgid(in, n));
	if (n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags2)) &&
	    in->opcode == FUSE_INIT) {
		const struct fuse_init_in *arg = (const void *)(in + 1);

		init_offered = arg->flags;
		init_offered2 = (arg->flags & FUSE_INIT_EXT) ? arg->flags2 : 0;
		init_unique = in->unique;
	}
	return n;
}

static ssize_t init_io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;

	(void)userdata;
	if (init_unique && out->unique == init_unique) {
		init_unique = 0;
		if (out->error == 0 && count >= 2 &&
		    iov[1].iov_len >= offsetof(struct fuse_init_out, max_background)) {
			struct fuse_init_out *arg = iov[1].iov_base;
			uint32_t add = init_offered & (FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV_V2) &
			               ~arg->flags;

			arg->flags |= add;
			if ((arg->flags & FUSE_INIT_EXT) &&
			    iov[1].iov_len >= offsetof(struct fuse_init_out, flags2) + sizeof(arg->flags2) &&
			    (init_offered2 & INIT2_DIRECT_IO_ALLOW_MMAP)) {
				arg->flags2 |= INIT2_DIRECT_IO_ALLOW_MMAP;
				rfs_ops_file_allow_uncached_creators();
			}
			if (init_debug)
				fprintf(stderr, "   INIT reply sent: flags=0x%08x (0x%08x added) "
				        "flags2=0x%08x\n", arg->flags, add,
				        (arg->flags & FUSE_INIT_EXT) ? arg->flags2 : 0);
		}
	}
	return writev(fd, iov, count);
}

static const struct fuse_custom_io init_io = {
	.read = init_io_read,
	.writev = init_io_writev,
};

/* What the daemon tells the waiting parent. */
struct start_status {
	int rc;
	char err[512];
};

static void report_start(int fd, int rc, const char *err)
{
	struct start_status st = { .rc = rc };

	if (fd < 0)
		return;
	snprintf(st.err, sizeof(st.err), "%s", err ? err : "");
	if (write(fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
		rfs_log(LOG_ERR, "could not tell the starting command the mount's status");
	close(fd);
}

/* Run the file system. report_fd >= 0: we are the forked daemon; say how
** starting went on it, then detach from the terminal. */
static int serve(struct rfs_vault *v, const char *mountpoint, const struct rfs_mount_opts *o,
                 char *err, size_t errsz, int report_fd)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	struct fuse_session *se = NULL;
	struct rfs_history *history = NULL;
	struct rfs_control *control = NULL;
	struct rfs_idle *idle = NULL;
	struct rfs_mount_opts opts = *o;
	struct rfs_fs fs;
	struct who_buf who;
	struct rfs_mount_entry mounted;
	char *abs_mnt = realpath(mountpoint, NULL);
	bool fs_ready = false;
	int rc = 0;

	/* A fixed threshold: glibc would otherwise raise it after the first big
	** free, and every thread's arena would keep its 1 MiB buffers for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	rfs_mount_raise_fd_limit();
	/* Memory locks do not survive fork: lock the keys again in the daemon. */
	if (report_fd >= 0 && (rc = rfs_keys_lock(v->keys)) < 0) {
		snprintf(err, errsz, "cannot lock the keys in memory: %s (locked memory limit? see "
		         "'ulimit -l')", strerror(-rc));
		goto out;
	}
	if (opts.snapshot_dir) {
		int fd = open(opts.snapshot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			rc = -errno;
			snprintf(err, errsz, "%s: %s", opts.snapshot_dir, strerror(errno));
			goto out;
		}
		close(v->live_fd);
		v->live_fd = fd;
		opts.read_only = true;
	}
	rc = rfs_ops_init(&fs, v, opts.read_only);
	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot open live/: %s", v->path, strerror(-rc));
		goto out;
	}
	fs_ready = true;
	fs.mountpoint = abs_mnt ? abs_mnt : mountpoint;
	fs.mounted_at = (int64_t)time(NULL);
	fs.mounted_by = getuid();
	fs.idle_seconds = opts.idle_seconds;
	fs.max_read = opts.max_read;
	if (!opts.read_only) {
		who_of(&fs, opts.author, &who);
		fs.mounted_login = who.login;
		unsigned hflags = opts.accept_history_state ? RFS_HISTORY_ACCEPT_STATE : 0;
		rc = rfs_history_open(v, &who.who, hflags, &history, err, errsz);
		if (rc < 0 && rc != -ENOMEM &&
		    rfs_history_open(v, &who.who, hflags | RFS_HISTORY_NO_RECOVERY, &history, NULL, 0) == 0) {
			/* A full disk must not lock people out of their records: serve
			** live/ (which is whole) and catch history up at the next mount. */
			rfs_log(LOG_WARNING, "warning: %s; mounted anyway: history will catch up with "
			        "live/ at the next mount (free some space first)", err);
			rc = 0;
		}
		if (rc < 0)
			goto out;
		fs.history = history;
		fs.demo_attribution = opts.demo_attribution;
		rc = rfs_retention_open(&fs, &who.who, &fs.retention);
		if (rc < 0) {
			snprintf(err, errsz, "%s: cannot read the retention state: %s", v->path,
			         strerror(-rc));
			goto out;
		}
		if (rfs_dispose_finish(&fs) < 0)    /* a disposal a crash stopped: finished now */
			rfs_log(LOG_ERR, "a disposal stopped by a crash could not be finished: see above");
		if (rfs_keyslots_reconcile(&fs) < 0)   /* keyslot changes made while unmounted */
			rfs_log(LOG_ERR, "keyslot changes made while unmounted were not recorded: see above");
		if (rfs_spares_open(v, &fs.spares) < 0)
			rfs_log(LOG_WARNING, "cannot keep folders made ahead in %s/%s: mkdir makes its own",
			        v->path, RFS_SPARE_DIR);
		rc = rfs_control_start(&fs, &control);
		if (rc < 0) {
			snprintf(err, errsz, "%s: cannot open the control socket: %s", v->path,
			         strerror(-rc));
			goto out;
		}
	}
	rc = build_args(&args, v, &opts);
	if (rc == 0) {
		se = fuse_session_new(&args, &rfs_ops, sizeof(rfs_ops), &fs);
		if (!se) {
			snprintf(err, errsz, "invalid mount options (see 'recfs mount --help')");
			rc = -EINVAL;
		}
	}
	if (rc == 0 && fuse_set_signal_handlers(se) != 0) {
		snprintf(err, errsz, "cannot install signal handlers");
		rc = -EIO;
	}
	if (rc == 0 && fuse_session_mount(se, mountpoint) != 0) {
		snprintf(err, errsz, "cannot mount at %s (is /dev/fuse there, and the folder yours?)",
		         mountpoint);
		rc = -EIO;
	}
	init_debug = opts.debug;
	if (rc == 0 && fuse_session_custom_io(se, &init_io, fuse_session_fd(se)) != 0) {
		snprintf(err, errsz, "cannot set up the FUSE connection at %s", mountpoint);
		fuse_session_unmount(se);
		rc = -EIO;
	}
	if (rc < 0)
		goto out;
	fs.se = se;
	/* Not a stat of the mount point: that would wait for the loop not yet running. */
	if (abs_mnt && rfs_mountinfo_find(abs_mnt, false, &mounted) == 0)
		snprintf(fs.bdi, sizeof(fs.bdi), "%s", mounted.dev);
	(void)rfs_vault_lock_note(v, getpid(), abs_mnt ? abs_mnt : mountpoint);
	if (report_fd >= 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		report_start(report_fd, 0, NULL);
		report_fd = -1;
		rfs_log_detach();
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
		if (chdir("/") != 0)
			rfs_log(LOG_WARNING, "cannot change to /");
	}

	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		rc = -ENOMEM;
	} else {
		fuse_loop_cfg_set_clone_fd(cfg, 1);
		/* Each worker holds two 1 MiB buffers (the request, and its
		** ciphertext): 8 keep a few cores busy and the daemon small. */
		fuse_loop_cfg_set_max_threads(cfg, opts.threads ? opts.threads : 8);
		if (opts.idle_seconds && rfs_idle_start(&fs, fs.mountpoint, opts.idle_seconds, &idle) < 0)
			rfs_log(LOG_ERR, "cannot watch %s for idleness: it stays mounted until "
			        "'recfs umount'", fs.mountpoint);
		rc = fuse_session_loop_mt(se, cfg);
		rfs_idle_stop(idle);
		if (rc < 0)
			rfs_log(LOG_ERR, "the FUSE loop ended with an error (%s)", strerror(-rc));
		rc = rc < 0 ? rc : 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out:
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	/* After the unmount no save can arrive: flush what is queued, then let go of the lock. */
	rfs_control_stop(control);
	if (fs_ready)
		rfs_spares_close(fs.spares);
	rfs_history_close(history);
	fuse_opt_free_args(&args);
	if (fs_ready) {
		rfs_retention_close(fs.retention);
		rfs_ops_destroy(&fs);
	}
	if (opts.snapshot_dir)
		(void)nftw(opts.snapshot_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	report_start(report_fd, rc, err);
	rfs_vault_close(v);
	free(abs_mnt);
	return rc;
}

/* The daemon says it started before the kernel's INIT, which can still fail (libfuse
** then ends the session and unmounts). A statfs waits for INIT: unless it reaches this
** mount, say so, so that no one writes into the bare folder in clear. */
static int answers(const char *mountpoint, char *err, size_t errsz)
{
	struct statfs sf;

	if (statfs(mountpoint, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC)
		return 0;
	snprintf(err, errsz, "the daemon stopped as the mount at %s started (run 'recfs mount "
	         "--foreground' to see why: a FUSE option it refused?)", mountpoint);
	return -EIO;
}

int rfs_mount_run(struct rfs_vault *v, const char *mountpoint, const struct rfs_mount_opts *o,
                  char *err, size_t errsz)
{
	struct start_status st;
	int pipefd[2];
	pid_t pid;
	ssize_t n;

	if (o->foreground || o->debug)
		return serve(v, mountpoint, o, err, errsz, -1);
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		snprintf(err, errsz, "cannot start the daemon: %s", strerror(errno));
		rfs_vault_close(v);
		return -EIO;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errsz, "cannot start the daemon: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		rfs_vault_close(v);
		return -EIO;
	}
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		return serve(v, mountpoint, o, err, errsz, pipefd[1]);
	}
	/* The parent: the daemon holds the lock and the keys now; drop our copies. */
	close(pipefd[1]);
	rfs_vault_close(v);
	do
		n = read(pipefd[0], &st, sizeof(st));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n != (ssize_t)sizeof(st)) {
		snprintf(err, errsz, "the mount daemon stopped while starting (see the system log)");
		return -EIO;
	}
	if (st.rc < 0) {
		snprintf(err, errsz, "%s", st.err);
		return st.rc;
	}
	return answers(mountpoint, err, errsz);
}
