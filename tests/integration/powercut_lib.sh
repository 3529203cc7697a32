# powercut_lib.sh: a simulated power cut under a mounted vault (sourced after lib.sh).
#
# Owns: a loop-mounted ext4 image holding the vault, the cut itself (godown:
# EXT4_IOC_SHUTDOWN with NOLOGFLUSH, so nothing more reaches the disk; or the
# daemon's own fault point, RECFS_FAULT_CUT), and
# bringing the image back (kill the daemon, unmount both, mount the image again
# so its journal is replayed). Workloads log what the kernel promised durable
# (fsync returned) to a file OUTSIDE the image, and pc_check_promises reads
# every such file back.
# Must never: cut any file system but the test's own image.

: "${GODOWN:=$(dirname "$RECFS")/../tests/integration/godown}"
[ -x "$GODOWN" ] || die "no godown helper at $GODOWN"

PC_IMG=$IT_TMP/disk.img
PC_DISK=$IT_TMP/disk
PC_LOOP=
PC_V=$PC_DISK/vault
PC_M=$IT_TMP/mnt
PC_PROMISES=$IT_TMP/promises      # lines: sha256  path-relative-to-mount (after fsync returned)
export PASSFILE=$IT_TMP/vault.pass

pc_setup() {
	local mb=${1:-512}
	truncate -s "${mb}M" "$PC_IMG" || die "cannot make a disk image"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$PC_IMG" || die "mkfs.ext4 failed"
	PC_LOOP=$(losetup -f --show "$PC_IMG") || die "no loop device"
	on_exit "losetup -d '$PC_LOOP'"
	mkdir -p "$PC_DISK"
	mount -o data=ordered "$PC_LOOP" "$PC_DISK" || die "cannot mount the image"
	on_exit "umount -l '$PC_DISK'"
	pc_new_vault vault
}

# pc_hold_writeback: no periodic writeback (vm.dirty_writeback_centisecs = 0)
# until the test ends, so a window made exact with sync_file_range stays exact
# on a loaded machine: only what the test writes back reaches the disk. For the
# scenarios of one window, not for the random test (real writeback is part of
# what it cuts).
pc_hold_writeback() {
	local knob=/proc/sys/vm/dirty_writeback_centisecs old
	old=$(cat "$knob" 2>/dev/null) || { echo "# cannot read $knob: periodic writeback stays on"; return 0; }
	if echo 0 2>/dev/null >"$knob"; then
		on_exit "echo '$old' >'$knob'"
	else
		echo "# cannot set $knob (read-only /proc/sys?): periodic writeback stays on"
	fi
}

# pc_new_vault NAME: a fresh vault on the image for the next scenario, with
# nothing promised yet.
pc_new_vault() {
	PC_V=$PC_DISK/$1
	make_vault "$PC_V" "$PASSFILE"
	sync -f "$PC_DISK/."
	: >"$PC_PROMISES"
}

pc_mount() {
	mount_vault "$PC_V" "$PC_M" "$@"
}

# pc_cut: the power goes. Nothing written after this reaches the disk; the
# daemon dies with it; the image comes back as a reboot would find it.
pc_cut() {
	"$GODOWN" "$PC_DISK" || die "godown failed on $PC_DISK"
	pc_after_cut
}

# pc_after_cut: the rest of a cut that already happened (godown, or a fault
# point inside the daemon): the daemon dies, the image comes back.
pc_after_cut() {
	local pid
	pid=$(daemon_pid "$PC_M")
	[ -n "$pid" ] && { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	eval "IT_PID_$(mount_key "$PC_M")="
	fusermount3 -uz "$PC_M" 2>/dev/null
	[ -f "$PC_M.daemon.log" ] && mv "$PC_M.daemon.log" "$PC_M.daemon.log.cut"
	umount "$PC_DISK" || umount -l "$PC_DISK" || die "cannot unmount the cut image"
	mount -o data=ordered "$PC_LOOP" "$PC_DISK" || die "cannot mount the image again after the cut"
}

# pc_promise PATH: the file at PATH (under the mount) was fsync'd with this content.
pc_promise() {
	(cd "$PC_M" && sha256sum -- "$1") >>"$PC_PROMISES"
}

# pc_forget PATH: PATH's promised content may now be lost (truncated, replaced).
pc_forget() {
	printf -- '-  %s\n' "$1" >>"$PC_PROMISES"
}

# pc_check_promises WHEN: every file still promised (its last line is a sum,
# not "-") reads back with that content.
pc_check_promises() {
	local when=$1 out
	out=$(python3 - "$PC_M" "$PC_PROMISES" <<'PY'
import hashlib, os, sys
mount, promises = sys.argv[1], sys.argv[2]
last = {}
for line in open(promises, encoding="utf-8", errors="surrogateescape"):
    line = line.rstrip("\n")
    if not line: continue
    sum_, path = line.split("  ", 1)
    last[path] = sum_
bad = n = 0
for path, want in sorted(last.items()):
    if want == "-": continue
    n += 1
    try:
        with open(os.path.join(mount, path), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        got = str(e)
    if got != want:
        bad += 1
        if bad <= 5: print("# %s: want %s, got %s" % (path[:80], want[:16], got[:120]))
print("%d %d" % (bad, n))
PY
)
	printf '%s\n' "$out" | sed '$d'
	set -- $(printf '%s\n' "$out" | tail -n 1)
	[ "$1" = 0 ] && ok "$when: all $2 fsync'd files read back intact" ||
		not_ok "$when: $1 of $2 fsync'd files lost or wrong after the cut"
}

# pc_verify_clean WHEN: recfs verify and git fsck --strict after the cut.
pc_verify_clean() {
	local when=$1
	check "$when: recfs verify" recfs verify "$PC_V" --passphrase-file "$PASSFILE"
	check "$when: git fsck --strict" git -C "$PC_V/history.git" fsck --strict --no-dangling
}

# pc_write PATH SIZE [SEED]: write SIZE pseudo-random bytes to PATH under the
# mount (created or replaced in place), fsync it and its folder, then promise it.
pc_write() {
	python3 - "$PC_M/$1" "$2" "${3:-$RANDOM}" <<'PY' || { not_ok "pc_write $1 failed"; return 1; }
import os, random, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(seed).randbytes(size)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data) if size else None
os.fsync(fd); os.close(fd)
d = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
os.fsync(d); os.close(d)
PY
	pc_promise "$1"
}

# pc_append PATH SIZE: append SIZE bytes to PATH, fsync, promise.
pc_append() {
	python3 - "$PC_M/$1" "$2" <<'PY' || { not_ok "pc_append $1 failed"; return 1; }
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, os.urandom(int(sys.argv[2]))); os.fsync(fd); os.close(fd)
PY
	pc_promise "$1"
}

# pc_mkdir PATH: mkdir, fsync the new folder and its parent.
pc_mkdir() {
	python3 - "$PC_M/$1" <<'PY' || { not_ok "pc_mkdir $1 failed"; return 1; }
import os, sys
os.mkdir(sys.argv[1])
for p in (sys.argv[1], os.path.dirname(sys.argv[1])):
    d = os.open(p, os.O_RDONLY | os.O_DIRECTORY); os.fsync(d); os.close(d)
PY
}

# pc_mount_quiet: like pc_mount, but a mount that does not come up is
# returned as a failure (its log is in $PC_M.daemon.log), not fatal.
pc_mount_quiet() {
	local pid i
	mkdir -p "$PC_M"
	"$RECFS" mount "$PC_V" "$PC_M" --passphrase-file "$PASSFILE" -f >"$PC_M.daemon.log" 2>&1 &
	pid=$!
	IT_MOUNTS+=("$PC_M")
	IT_DAEMONS+=("$pid")
	for i in $(seq 1 300); do
		is_mounted "$PC_M" && { eval "IT_PID_$(mount_key "$PC_M")=$pid"; return 0; }
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# pc_mount_cut_at NAME[:N] [mount args]: mount with the daemon's fault point
# NAME armed (RECFS_FAULT_CUT; a build with -Dfault_points=true): its N-th pass
# cuts the power to the image, and the daemon carries on as after a real cut.
pc_mount_cut_at() {
	local point=$1
	shift
	RECFS_FAULT_CUT=$point pc_mount "$@"
}

# pc_wait_cut NAME [SECS]: wait until the daemon's log says fault point NAME
# cut the power; fatal if it never does (the window under test was not hit).
pc_wait_cut() {
	local i
	for i in $(seq 1 $((${2:-30} * 10))); do
		grep -qs "fault point $1: power cut done" "$PC_M.daemon.log" && return 0
		sleep 0.1
	done
	die "fault point $1 never cut the power (a build without -Dfault_points=true?): $(tail -c 600 "$PC_M.daemon.log" | tr '\n' '|')"
}

# pc_slots DIR: the key-slot number (file id bytes 0..7, FORMAT.md) of every
# ciphertext file under DIR (a vault's live/), one a line.
pc_slots() {
	python3 - "$1" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f == ".dirid" or f.startswith(".L"): continue
        try:
            with open(os.path.join(root, f), "rb") as fh: h = fh.read(12)
        except OSError: continue
        if len(h) == 12 and h[0:2] == b"\x01\x00":
            print(int.from_bytes(h[4:12], "little"))
PY
}

# pc_fill_disk: fill the image to the last block (root's reserve too): one big
# file, then small ones until even those fail. pc_fill_disk's files are
# $PC_DISK/fill*.
pc_fill_disk() {
	dd if=/dev/zero of="$PC_DISK/fill" bs=1M 2>/dev/null
	python3 - "$PC_DISK/fill" <<'PY'
import os, sys
for i in range(100000):
    try:
        with open("%s.%d" % (sys.argv[1], i), "wb") as f: f.write(b"\0" * 4096)
    except OSError:
        break
PY
	sync -f "$PC_DISK/."
}
