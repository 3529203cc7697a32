#!/bin/bash
# powercut: the vault on a loop-mounted ext4 image, the power cut at chosen
# moments (EXT4_IOC_SHUTDOWN with NOLOGFLUSH), then journal replay and a new
# mount. Every file whose fsync returned must read back intact, every folder
# whose fsyncdir returned must list its entries, and recfs verify and git fsck
# must pass. One scenario per defect of the power-cut issue.
# Must never: cut any file system but its own image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/powercut_lib.sh"

pc_setup 256
pc_hold_writeback

# A new folder's .dirid must be durable before mkdir replies: a file fsync'd in
# a folder made seconds before the cut reads back, and the folder lists.
pc_mount
pc_mkdir case1
pc_write case1/notes.txt 5000
pc_write notes-root.txt 100
pc_cut    # at once: before history's own syncs could make the folder durable
pc_mount
pc_check_promises "new folder, then a cut"
check "the new folder lists after the cut" ls "$PC_M/case1"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "new folder, then a cut"

# history.git made at the first mount: its HEAD and config must be durable,
# or git refuses the repository after an early cut (checked above by git fsck).

pc_new_vault keys
# A key must be durable before the ref that needs it moves: a file closed
# without fsync, then `recfs flush`, then the cut. History must not hold a
# version whose key is gone, and recovery must not turn live/'s older state
# into a newer, wrong version.
pc_mount
printf 'closed, flushed, never fsyncd\n' >"$PC_M/flushed.txt"
check "recfs flush before the cut" recfs flush "$PC_M"
pc_cut
pc_mount
assert_eq "a flushed file is there after the cut" "closed, flushed, never fsyncd" "$(cat "$PC_M/flushed.txt" 2>&1)"
assert_match "its version is in history" 'flushed.txt' "$(recfs log "$PC_M/flushed.txt" 2>&1)"
rev=$(recfs log "$PC_M/flushed.txt" --json-lines -n 1 2>/dev/null | sed -n 's/.*"rev":"\([0-9a-f]*\)".*/\1/p')
assert_eq "recfs show of its version" "closed, flushed, never fsyncd" "$(recfs show "$PC_M/flushed.txt" --rev "$rev" 2>&1)"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "flush, then a cut"

pc_new_vault otrunc
# O_TRUNC then a rewrite (cp onto a file, > redirection, editors saving in
# place): an fsync'd file rewritten in place must never become unopenable.
pc_mount
pc_write report.odt 20000 1
sleep 1
python3 - "$PC_M/report.odt" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, os.urandom(30000)); os.close(fd)
PY
sleep 2
pc_cut
pc_mount
pc_forget report.odt   # rewritten without fsync: old or new content, but readable
check "a file rewritten with O_TRUNC opens after the cut" cat "$PC_M/report.odt"
check "and can be opened with O_TRUNC again" sh -c ": >'$PC_M/report.odt'"
umount_vault "$PC_M" "$PC_V"

# An fsync'd file whose name is over 175 bytes (a .L….n side file) stays listed.
pc_new_vault longnames
long=$(printf 'L%.0s' $(seq 1 200))
pc_mount
pc_write "$long.txt" 3000
sleep 2
pc_cut
pc_mount
pc_check_promises "long names, then a cut"
assert_match "the long name is listed" "$long" "$(ls "$PC_M")"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "long names, then a cut"

pc_new_vault append
# An append reseals the old last block "not final" in place before the size
# grows. Reproduce the cut between the two exactly: the resealed page reaches
# the disk (sync_file_range on the backing file: data, no journal commit), the
# new size does not. The fsync'd 8 KiB must read back, and the next mount
# reseals the block final again.
pc_mount
pc_write grows.bin 8192 7
# Every save so far is committed, so no history syncfs can make the append
# durable behind the test's back; the appender keeps its descriptor open (no
# close, no save) until the cut.
"$RECFS" flush "$PC_M" || die "recfs flush failed"
python3 - "$PC_M/grows.bin" "$IT_TMP/appended" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, os.urandom(4096))                        # no fsync, no close
open(sys.argv[2], "w").close()
time.sleep(120)
PY
appender=$!
on_exit "kill $appender 2>/dev/null"
for _ in $(seq 1 200); do [ -e "$IT_TMP/appended" ] && break; sleep 0.05; done
[ -e "$IT_TMP/appended" ] || die "the appender never wrote"
ct=$(find "$PC_V/live" -type f -size $((60 + 3 * 4136))c | head -1)
[ -n "$ct" ] || die "no 3-block ciphertext file for grows.bin"
python3 - "$ct" <<'PY' || die "sync_file_range of the backing file failed"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
fd = os.open(sys.argv[1], os.O_RDONLY)
# slots 0 and 1 (the old last block, resealed "not final"); WAIT_BEFORE|WRITE|WAIT_AFTER
if libc.sync_file_range(fd, 0, 60 + 2 * 4136, 1 | 2 | 4) != 0:
    sys.exit("sync_file_range: %s" % os.strerror(ctypes.get_errno()))
os.close(fd)
PY
pc_cut
kill "$appender" 2>/dev/null; wait "$appender" 2>/dev/null
pc_mount
pc_check_promises "an append cut short"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "an append cut short"

pc_new_vault otrunc_other
# The same rewrite, then an fsync of ANOTHER file at once: its journal commit
# holds the O_TRUNC but not the new blocks (data=ordered does not write the
# delayed allocations of other inodes). The file must open (old, new or empty
# content, never EIO), and `: > file` must work on it.
pc_mount
pc_write report.odt 20000 1
python3 - "$PC_M/report.odt" "$PC_M/other.txt" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, os.urandom(30000)); os.close(fd)         # no fsync
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"other\n"); os.fsync(fd); os.close(fd)
PY
pc_cut
pc_mount
pc_forget report.odt
check "an O_TRUNC rewrite, another file's fsync, a cut: the file opens" cat "$PC_M/report.odt"
check "and : > file works on it" sh -c ": >'$PC_M/report.odt'"
check "and it can be written again" sh -c "printf again >'$PC_M/report.odt' && grep -qx again '$PC_M/report.odt'"
assert_eq "the other file's fsync held" other "$(cat "$PC_M/other.txt" 2>&1)"
umount_vault "$PC_M" "$PC_V"

pc_new_vault zerobyte
# A 0-byte backing file (what a cut between an O_TRUNC's ftruncate and its
# header can leave) is an empty file (FORMAT.md 5): it reads as empty, and a
# write gives it a header and a key.
pc_mount
printf 'twelve bytes' >"$PC_M/zero.txt"
umount_vault "$PC_M" "$PC_V"
ct=$(find "$PC_V/live" -type f ! -name .dirid -size $((60 + 12 + 40))c | head -1)
[ -n "$ct" ] || die "no ciphertext file of 112 bytes for zero.txt"
truncate -s 0 "$ct"
pc_mount --accept-history-state   # changed while closed, on purpose
assert_eq "a 0-byte backing file reads as empty" "" "$(cat "$PC_M/zero.txt" 2>&1)"
assert_eq "and its size is 0" 0 "$(stat -c %s "$PC_M/zero.txt" 2>&1)"
check "and it can be written" sh -c "printf 'new text' >>'$PC_M/zero.txt'"
assert_eq "what was written reads back" "new text" "$(cat "$PC_M/zero.txt" 2>&1)"
umount_vault "$PC_M" "$PC_V"
pc_mount
assert_eq "and after a remount" "new text" "$(cat "$PC_M/zero.txt" 2>&1)"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a 0-byte backing file"

pc_new_vault dirid_rebuild
# A damaged or empty .dirid is rebuilt from history, where its 16 bytes are kept.
pc_mount
pc_mkdir case9
pc_write case9/kept.txt 3000
check "flush before the damage" recfs flush "$PC_M"
umount_vault "$PC_M" "$PC_V"
did=$(find "$PC_V/live" -mindepth 2 -name .dirid | head -1)
[ -n "$did" ] || die "no .dirid of a folder in live/"
: >"$did"     # what a cut before the fix left: the file, no bytes
mount_vault "$PC_V" "$PC_M" --accept-history-state
pc_check_promises "an empty .dirid"
check "the folder lists again" ls "$PC_M/case9"
assert_eq "the .dirid holds 16 bytes again" 16 "$(stat -c %s "$did")"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "an empty .dirid"

finish
