#!/bin/bash
# save_order: a save that has taken its paths (held there for DELAY ms by the fault point
# save_paths: RECFS_FAULT_DELAY, a build with -Dfault_points=true) and a rename of the
# folder above it, or of the file itself, or the file's removal, reach history in one
# order: the rename or the removal waits for the save. The newest commit (`mount --at
# HEAD`) then holds the file once, where live/ has it, and `recfs verify` finds live/ as
# the newest commit has it. Before the change the save came after the rename with the old
# path, or after the removal: the view held a ghost at the old path and verify reported
# "missing from live/".
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

DELAY=1500
V=$IT_TMP/vault M=$IT_TMP/mnt VIEW=$IT_TMP/view
make_vault "$V"
RECFS_FAULT_DELAY=save_paths:$DELAY mount_vault "$V" "$M"
delays() { fault_delays "$M" save_paths; }

mkdir -p "$M/top/old" "$M/files"
check "flush" recfs flush "$M"
wait_delayed() { wait_fault_delay "$M" save_paths "$1"; }

# held_save_then_mv TEXT FILE FROM TO WHAT: TEXT written to FILE in the background; once its
# save waits at the point, FROM is renamed to TO.
held_save_then_mv() {
	local before writer
	before=$(delays)
	echo "$1" >"$2" &
	writer=$!
	wait_delayed "$before"
	check "$5 is renamed while the save waits at the point" mv "$3" "$4"
	wait "$writer"
}
held_save_then_mv "saved while its folder moves" "$M/top/old/f" "$M/top/old" "$M/top/new" "the folder"
held_save_then_mv "saved while it moves" "$M/files/a" "$M/files/a" "$M/files/b" "the file"
# And an unlink of the file being saved: the removal waits for the save, so history has the
# version and then the removal. Before the change the save came after the removal, at the
# removed name: the newest commit held a file live/ did not (and a file made again at that
# name was recorded over it, its chunks mixed with the removed file's).
before=$(delays)
echo "saved while it is removed" >"$M/files/gone" &
writer=$!
wait_delayed "$before"
check "the file is removed while its save waits at the point" rm "$M/files/gone"
wait "$writer"
check "flush" recfs flush "$M"
log=$(recfs log "$M/files/gone" 2>&1)
assert_match "its log ends (newest first) with the removal" "deleted" "$(head -n 1 <<<"$log")"
assert_match "... after its version" "saved +26 +/files/gone" "$log"

mount_vault "$V" "$VIEW" --at HEAD
assert_eq "the newest commit holds what live/ holds, each file once" \
	"$(cd "$M" && find . -mindepth 1 | sort)" "$(cd "$VIEW" && find . -mindepth 1 | sort)"
assert_eq "... with its content" "saved while its folder moves" "$(cat "$VIEW/top/new/f" 2>&1)"
check "umount of the view" recfs umount "$VIEW"
wait "$(daemon_pid "$VIEW")"
check_daemon_log "$VIEW"
umount_vault "$M" "$V"
out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
assert_eq "recfs verify finds no problem" 0 $?
assert_match "... and says so" " 0 problems" "$out"

# ---- a rename of a file with writes not saved yet (no delay) ----
# The rename moves the version live/ holds: its writes are saved at the old name first. Before
# the change the rename moved the last saved version (100 bytes) while its log line gave live/'s
# size (5000), and `show --rev` of it disagreed with the log. The same for both files of a
# RENAME_EXCHANGE.
mount_vault "$V" "$M"
check "files renamed and exchanged while open with unsaved writes" python3 - "$M/files" <<'PY'
import ctypes, os, sys
d = sys.argv[1]
def written(name, text, n):
    with open(f"{d}/{name}", "wb") as f:
        f.write(text * n)
written("r1", b"A", 100)
fd = os.open(f"{d}/r1", os.O_RDWR)
os.pwrite(fd, b"B" * 5000, 0)
os.rename(f"{d}/r1", f"{d}/r2")
os.close(fd)
written("x1", b"C", 10)
written("x2", b"D", 20)
fds = [os.open(f"{d}/x1", os.O_RDWR), os.open(f"{d}/x2", os.O_RDWR)]
os.pwrite(fds[0], b"E" * 3000, 0)
os.pwrite(fds[1], b"F" * 4000, 0)
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, f"{d}/x1".encode(), -100, f"{d}/x2".encode(), 2) != 0:  # RENAME_EXCHANGE
    sys.exit(f"renameat2: {os.strerror(ctypes.get_errno())}")
for fd in fds:
    os.close(fd)
PY
check "flush" recfs flush "$M"
# sizes FILE: "REV logged-size shown-size" for each version in FILE's log, shown at the
# path its log line names (an exchange's line names where the file went).
sizes() {
	recfs log "$1" --json-lines | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("size") is not None and e.get("path"):
        print(e["rev"], e["size"], e["path"])' | while read -r rev size path; do
		echo "$rev $size $(recfs show "$M$path" --rev "$rev" | wc -c)"
	done
}
for f in r2 x1 x2; do
	bad=$(sizes "$M/files/$f" | awk '$2 != $3')
	assert_eq "every version of $f in the log has the size of its content" "" "$bad"
done
assert_match "the rename's version is the renamed file's content" "^B{5000}\$" \
	"$(recfs show "$M/files/r2" --rev "$(recfs log "$M/files/r2" | awk '/renamed from/ { print $1; exit }')")"
assert_match "... saved at the old name first" "saved +5000 +/files/r1" "$(recfs log "$M/files/r2")"
assert_match "an exchanged file's version is its content" "^E{3000}\$" \
	"$(recfs show "$M/files/x2" --rev "$(recfs log "$M/files/x2" | awk '/exchanged|renamed/ { print $1; exit }')")"

# A file removed while open with writes not saved yet: after the removal no close can save
# them, so they are saved first. Before the change its newest version was the one before.
check "a file removed while open with unsaved writes" python3 - "$M/files/u" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(b"A" * 100)
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"U" * 7000, 0)
os.unlink(sys.argv[1])
os.close(fd)
PY
check "flush" recfs flush "$M"
log=$(recfs log "$M/files/u")
assert_match "its log ends with the removal" "deleted" "$(head -n 1 <<<"$log")"
assert_match "... after a version of its unsaved writes" "saved +7000 +/files/u" "$(sed -n 2p <<<"$log")"
assert_match "... which holds them" "^U{7000}\$" \
	"$(recfs show "$M/files/u" --rev "$(sed -n 2p <<<"$log" | cut -d' ' -f1)")"
# The same for a file a rename replaces.
check "a file replaced by a rename while open with unsaved writes" python3 - "$M/files" <<'PY'
import os, sys
d = sys.argv[1]
for name, text in (("t", b"A"), ("s", b"S")):
    with open(f"{d}/{name}", "wb") as f:
        f.write(text * 100)
fd = os.open(f"{d}/t", os.O_RDWR)
os.pwrite(fd, b"T" * 6000, 0)
os.rename(f"{d}/s", f"{d}/t")
os.close(fd)
PY
check "flush" recfs flush "$M"
rev=$(recfs log "$M/files/t" | awk '/saved +6000 +\/files\/t/ { print $1; exit }')
assert_match "the replaced file's unsaved writes are a version" "^T{6000}\$" \
	"$(recfs show "$M/files/t" --rev "${rev:-none}" 2>&1)"
umount_vault "$M" "$V"
finish
