# lib.sh: shared helpers for the recfs integration tests (sourced by each script).
#
# Owns: one temp folder per script under /tmp, vault creation, mount and
# umount (daemon in the foreground with its stderr kept, so sanitizer reports
# are caught), assertions that record failures, and the per-script summary.
# Must never: leave a mount, a daemon or a temp folder behind, or touch any
# path outside its temp folder. Cleanup always runs (trap on EXIT).
#
# Environment: RECFS (the recfs binary, required), POSIX_PROBE (the helper
# program; defaults to the one in RECFS's build tree).

set -u
IT_NAME=$(basename "$0" .sh)

if [ -z "${RECFS:-}" ]; then
	echo "$IT_NAME: set RECFS=/path/to/recfs" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	echo "1..0 # SKIP $IT_NAME needs root and /dev/fuse"
	exit 77
fi
: "${POSIX_PROBE:=$(dirname "$RECFS")/../tests/integration/posix_probe}"

IT_TMP=$(mktemp -d "/tmp/recfs-it-$IT_NAME.XXXXXX")
chmod 755 "$IT_TMP"   # other users (multiuser tests) must reach mount points below it
IT_PASS=0
IT_FAIL=0
IT_MOUNTS=()          # mount points to force-unmount on exit
IT_DAEMONS=()         # pids of foreground daemons we started
IT_ON_EXIT=()         # extra cleanup commands, run last-in first-out
IT_CMD_TIMEOUT=${IT_CMD_TIMEOUT:-120}

ok() {
	IT_PASS=$((IT_PASS + 1))
	echo "ok - $*"
}

not_ok() {
	IT_FAIL=$((IT_FAIL + 1))
	echo "not ok - $*"
}

# Fatal: setup failed, the rest of the script cannot run.
die() {
	not_ok "$*"
	echo "# $IT_NAME: stopped early: $*"
	exit 1
}

# flip_byte FILE OFFSET: change that byte, always (a fixed value written over random
# bytes is a no-op 1 time in 256, and the damage a test expects then never happens).
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$b" ] || die "flip_byte: $1 has no byte at offset $2"
	printf "\\x$(printf %02x $((b ^ 0x40)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# stay_off_midnight: for a test that compares the dates the daemon writes with the day it
# started on. In the last 10 minutes of a day it waits for the next, which cannot then change
# while the test runs.
stay_off_midnight() {
	local left=$(($(date -d 'tomorrow 00:00' +%s) - $(date +%s)))
	[ "$left" -gt 600 ] && return 0
	echo "# $IT_NAME: waiting ${left} s for midnight to pass"
	sleep $((left + 1))
}

# fault_delays MNT NAME: how often MNT's daemon has been held at fault point NAME
# (RECFS_FAULT_DELAY=NAME:MS, a build with -Dfault_points=true).
fault_delays() {
	grep -c "fault point $2: a delay" "$1.daemon.log"
}

# wait_fault_delay MNT NAME BEFORE: until the daemon has been held there once more than BEFORE.
wait_fault_delay() {
	for _ in $(seq 1 100); do
		[ "$(fault_delays "$1" "$2")" -gt "$3" ] && return 0
		sleep 0.05
	done
	die "the daemon never reached fault point $2: built without -Dfault_points=true?"
}

# check DESC CMD...: CMD must exit 0. Its output is shown on failure.
check() {
	local desc=$1 rc
	shift
	"$@" >"$IT_TMP/.check.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc: $(tail -c 600 "$IT_TMP/.check.out" | tr '\n' '|'))"
	fi
	return $rc
}

# check_fails DESC CMD...: CMD must exit non-zero (and not be killed by a signal or timeout).
check_fails() {
	local desc=$1 rc
	shift
	"$@" >"$IT_TMP/.check.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -lt 124 ]; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc, want a clean failure: $(tail -c 600 "$IT_TMP/.check.out" | tr '\n' '|'))"
	fi
}

# assert_eq DESC WANT GOT
assert_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1 (want '$2', got '$3')"
	fi
}

# assert_match DESC REGEX TEXT (extended regex, case-insensitive)
assert_match() {
	if printf '%s' "$3" | grep -Eqi -- "$2"; then
		ok "$1"
	else
		not_ok "$1 (no match for /$2/ in '$(printf '%s' "$3" | head -c 400 | tr '\n' '|')')"
	fi
}

# Run recfs with a timeout, so a hang fails the test instead of blocking it.
recfs() {
	timeout -k 5 "$IT_CMD_TIMEOUT" "$RECFS" "$@"
}

is_mounted() {
	local m
	m=$(realpath -m "$1")
	awk -v m="$m" '$2 == m { found = 1 } END { exit !found }' /proc/mounts
}

not_mounted() {
	! is_mounted "$1"
}

# The vault's lock is free once no daemon holds it (flock, as in fs/vault.h).
vault_unlocked() {
	[ -e "$1/lock" ] || return 0
	flock -n -s "$1/lock" true
}

wait_unlocked() {
	local i
	for i in $(seq 1 100); do
		vault_unlocked "$1" && return 0
		sleep 0.1
	done
	return 1
}

# make_vault VAULT [PASSFILE]: init a vault (fast KDF) with a random passphrase
# in PASSFILE (default VAULT.pass) unless PASSFILE already exists.
make_vault() {
	local vault=$1 pf=${2:-$1.pass}
	[ -s "$pf" ] || head -c 24 /dev/urandom | base64 >"$pf"
	recfs init "$vault" --passphrase-file "$pf" --insecure-fast-kdf >"$IT_TMP/.init.out" 2>&1 ||
		die "recfs init $vault failed: $(cat "$IT_TMP/.init.out")"
	[ -f "$vault/recfs.conf" ] && [ -d "$vault/live" ] || die "recfs init made no recfs.conf/live in $vault"
}

# mount_vault VAULT MNT [recfs mount options...]: mount with the daemon in the
# foreground (-f) in the background of this shell, its stderr kept in
# MNT.daemon.log; wait until the mount shows in /proc/mounts. Passphrase file
# is VAULT.pass unless PASSFILE is set.
mount_vault() {
	local vault=$1 mnt=$2 pid i
	shift 2
	mkdir -p "$mnt"
	"$RECFS" mount "$vault" "$mnt" --passphrase-file "${PASSFILE:-$vault.pass}" -f "$@" \
		>"$mnt.daemon.log" 2>&1 &
	pid=$!
	IT_MOUNTS+=("$mnt")
	IT_DAEMONS+=("$pid")
	for i in $(seq 1 300); do
		is_mounted "$mnt" && { eval "IT_PID_$(mount_key "$mnt")=$pid"; return 0; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	die "mount of $vault on $mnt did not come up: $(tail -c 800 "$mnt.daemon.log")"
}

# Pid of the foreground daemon that mount_vault started on MNT.
daemon_pid() {
	eval "echo \${IT_PID_$(mount_key "$1"):-}"
}

# crash_daemon MNT VAULT: a crash: the daemon on MNT killed (-9), its mount torn
# down, and the vault's lock released.
crash_daemon() {
	local pid
	pid=$(daemon_pid "$1")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	fusermount3 -uz "$1" 2>/dev/null
	wait_unlocked "$2"
}

mount_key() {
	printf '%s' "$1" | md5sum | cut -c1-12
}

# umount_vault MNT VAULT: recfs umount; the daemon must exit 0, leave no
# sanitizer report, and have released the vault lock.
umount_vault() {
	local mnt=$1 vault=$2 key pid rc
	key=$(mount_key "$mnt")
	pid=$(daemon_pid "$mnt")
	if ! recfs umount "$mnt" >"$IT_TMP/.umount.out" 2>&1; then
		not_ok "recfs umount $mnt failed: $(cat "$IT_TMP/.umount.out")"
		fusermount3 -uz "$mnt" 2>/dev/null
	fi
	if is_mounted "$mnt"; then
		not_ok "$mnt still mounted after recfs umount"
		fusermount3 -uz "$mnt" 2>/dev/null
	fi
	if ! vault_unlocked "$vault"; then
		not_ok "vault lock still held right after recfs umount returned (umount must wait for the daemon)"
		wait_unlocked "$vault"
	fi
	if [ -n "$pid" ]; then
		wait "$pid"
		rc=$?
		eval "IT_PID_$key="
		[ $rc -eq 0 ] || not_ok "daemon for $mnt exited $rc: $(tail -c 800 "$mnt.daemon.log" | tr '\n' '|')"
	fi
	check_daemon_log "$mnt"
}

# A sanitizer report in a daemon's log is a failure, whatever the exit code.
check_daemon_log() {
	local log=$1.daemon.log
	[ -f "$log" ] || return 0
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault|Assertion' "$log"; then
		not_ok "daemon log $log has a sanitizer/crash report: $(grep -E -m3 -A3 'Sanitizer|runtime error' "$log" | tr '\n' '|')"
	fi
	mv "$log" "$log.done"
}

remount() {
	umount_vault "$2" "$1"
	mount_vault "$@"
}

# sha256 of every regular file under DIR, by relative path, sorted.
tree_sums() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# Type, mode, owner, size, mtime and link target of every entry under DIR.
tree_meta() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %U:%G %s %T@ %l\n' | sort)
}

# fsck_clean VAULT WHEN: recfs fsck exits 0 and reports nothing corrupt.
fsck_clean() {
	local rc
	recfs fsck "$1" --passphrase-file "${PASSFILE:-$1.pass}" >"$IT_TMP/fsck.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q '^corrupt' "$IT_TMP/fsck.out"; then
		ok "recfs fsck clean $2"
	else
		not_ok "recfs fsck clean $2 (exit $rc: $(head -c 400 "$IT_TMP/fsck.out" | tr '\n' '|'))"
	fi
}

# small_disk SIZE: a tmpfs of SIZE (e.g. 16m) at $SMALL inside the temp folder,
# for the full-disk tests; unmounted on exit.
small_disk() {
	SMALL=$IT_TMP/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size="$1" tmpfs "$SMALL" || die "cannot mount a tmpfs"
	on_exit "umount -l '$SMALL'"
}

on_exit() {
	IT_ON_EXIT+=("$*")
}

it_cleanup() {
	local m i
	for m in "${IT_MOUNTS[@]}"; do
		is_mounted "$m" && fusermount3 -uz "$m" 2>/dev/null
	done
	for pid in "${IT_DAEMONS[@]}"; do
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null
	done
	for ((i = ${#IT_ON_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${IT_ON_EXIT[$i]}" >/dev/null 2>&1
	done
	for m in "${IT_MOUNTS[@]}"; do
		[ -f "$m.daemon.log" ] && check_daemon_log "$m" >/dev/null
	done
	rm -rf "$IT_TMP"
}
trap it_cleanup EXIT

# Print the summary; exit non-zero on any failure.
finish() {
	echo "# $IT_NAME: $IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ] || exit 1
	exit 0
}
