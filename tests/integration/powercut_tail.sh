#!/bin/bash
# powercut_tail: power cuts at the exact moment a file's last block has been
# rewritten in place but its new size has not been committed, and files torn
# by a cut before they were ever fsync'd. The vault sits on a loop-mounted
# ext4 image (powercut_lib.sh). A program keeps the file open across the cut,
# so no close saves it and no history commit syncs the vault first; the
# resealed pages are pushed to the disk with sync_file_range, which writes
# data and commits no journal: the size stays as it was.
# Must never: cut any file system but its own image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/powercut_lib.sh"

pc_setup 128
pc_hold_writeback
HOLDER=

# hold PATH PYTHON [BACKING]: open PATH (under the mount) read-write as fd, run
# PYTHON, and keep the file open until the cut (no close, so no save and no
# commit). With BACKING, a change that is a save of its own (a truncate):
# write BACKING's dirty pages (sync_file_range, no journal commit) and cut the
# power at once, before history's commit a few milliseconds later syncs the
# vault; pc_cut then finds it cut already.
hold() {
	# History's commit of earlier saves syncs the whole vault: let it happen first.
	check "recfs flush before $1 is held" recfs flush "$PC_M"
	rm -f "$IT_TMP/held"
	python3 - "$PC_M/$1" "$IT_TMP/held" "$2" "${3:-}" "$PC_DISK" <<'PY' &
import ctypes, fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
back = os.open(sys.argv[4], os.O_RDONLY) if sys.argv[4] else -1
disk = os.open(sys.argv[5], os.O_RDONLY | os.O_DIRECTORY) if back >= 0 else -1
exec(sys.argv[3])
if back >= 0:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    libc.sync_file_range(back, 0, 0, 1 | 2 | 4)
    os.close(back)
    fcntl.ioctl(disk, 0x8004587d, struct.pack("I", 2))   # EXT4_IOC_SHUTDOWN, NOLOGFLUSH
    os.close(disk)                                        # the image must unmount
open(sys.argv[2], "w").close()
time.sleep(300)
PY
	HOLDER=$!
	local i
	for i in $(seq 1 200); do
		[ -f "$IT_TMP/held" ] && return 0
		kill -0 "$HOLDER" 2>/dev/null || die "the program writing $1 failed"
		sleep 0.05
	done
	die "the program writing $1 did not get there"
}

# backing SIZE: the one ciphertext file of live/ that is SIZE bytes long.
backing() {
	local f
	f=$(find "$PC_V/live" -type f ! -name .dirid -size "$1c")
	[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" = 1 ] || die "no single backing file of $1 bytes"
	printf '%s\n' "$f"
}

# writeback FILE [LEN]: write FILE's dirty pages (its first LEN bytes; 0: all)
# to the disk and wait, committing no journal.
writeback() {
	python3 - "$1" "${2:-0}" <<'PY' || die "sync_file_range of $1 failed"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
fd = os.open(sys.argv[1], os.O_RDONLY)
if libc.sync_file_range(fd, 0, int(sys.argv[2]), 1 | 2 | 4) != 0:   # WAIT_BEFORE|WRITE|WAIT_AFTER
    sys.exit(os.strerror(ctypes.get_errno()))
PY
}

# power_cut: the power goes with the holder's file still open; the vault comes back.
power_cut() {
	pc_cut
	[ -n "$HOLDER" ] && { kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; }
	HOLDER=
	pc_mount
}

undo_entries() {
	find "$PC_V/undo" -type f 2>/dev/null | wc -l
}

# 1. An append into a partly filled last block reseals that block in place.
# 5,300 bytes fsync'd (block 1 holds 1,204), then 100 bytes appended: the
# resealed block 1 reaches the disk, the size 5,400 does not. The fsync'd
# bytes must read back (the next mount writes the undo entry back).
pc_mount
pc_write log.txt 5000 11
pc_append log.txt 300                     # a log: append, fsync
assert_eq "an fsync'd append leaves no undo entry behind" 0 "$(undo_entries)"
hold log.txt 'os.lseek(fd, 0, 2); os.write(fd, b"x" * 100)'
writeback "$(backing $((60 + 4136 + 1304 + 40)))"
power_cut
pc_check_promises "an append into a partial block, cut before its size"
assert_match "the mount says what it put back" "log.txt: its last block rewritten in place" \
	"$(cat "$PC_M.daemon.log")"

# 2. A shrinking truncate reseals the new last block, then cuts the file.
# 10,000 bytes fsync'd; truncated to 6,000; the resealed block 1 reaches the
# disk, the new size does not. The 10,000 bytes must read back.
pc_write cut.bin 10000 12
hold cut.bin 'os.ftruncate(fd, 6000)' "$(backing $((60 + 2 * 4136 + 1808 + 40)))"
power_cut
pc_check_promises "a shrinking truncate, cut before its size"
assert_match "the mount says what it put back" "cut.bin: its last block rewritten in place" \
	"$(cat "$PC_M.daemon.log")"

# 3. A file written and never fsync'd, torn by the cut: made empty and fsync'd
# (so its key is durable), then 5 blocks written, of which only the first two
# pages reach the disk, and another file's fsync commits the size those pages
# gave it (8,192 bytes of ciphertext: block 1 cut short). After the cut it
# opens and reads its first 4,096 bytes, and the log says so.
pc_write torn.bin 0
pc_forget torn.bin
hold torn.bin 'os.write(fd, bytes(range(256)) * 80 + b"tail")'
writeback "$(backing $((60 + 5 * 4136 + 4 + 40)))" 8192
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600); os.write(fd, b"x"); os.fsync(fd)' \
	"$PC_DISK/other"
power_cut
assert_eq "a torn file opens and reads the prefix that authenticates" \
	"$(python3 -c 'import hashlib; print(hashlib.sha256(bytes(range(256)) * 16).hexdigest())')" \
	"$(sha256sum <"$PC_M/torn.bin" 2>&1 | cut -c1-64)"
assert_match "the log names it, cut to its prefix" "torn.bin: cut to 4096 bytes by the power cut" \
	"$(cat "$PC_M.daemon.log")"
check "and it can be appended to" sh -c "printf more >>'$PC_M/torn.bin'"
pc_check_promises "after the torn file"
umount_vault "$PC_M" "$PC_V"
assert_eq "a clean unmount leaves no undo entry" 0 "$(undo_entries)"
pc_verify_clean "a torn tail, an undone append and truncate"

# 4. Damage that is not a tail (a bad block followed by good ones) is left as
# it is, and named: an fsync'd and flushed file, a cut, then a flipped byte in
# its block 0 before the next mount recovers.
pc_mount
pc_write middle.bin 9000 13
check "flush before the cut" recfs flush "$PC_M"
pc_cut
python3 - "$(backing $((60 + 2 * 4136 + 808 + 40)))" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 1]))
PY
pc_mount
check "a file damaged inside still reads as EIO, not cut" sh -c "! cat '$PC_M/middle.bin' >/dev/null 2>&1"
assert_eq "and keeps its size" 9000 "$(stat -c %s "$PC_M/middle.bin")"
assert_match "and the mount names it" "middle.bin: a block does not authenticate, and not only at its end" \
	"$(cat "$PC_M.daemon.log")"
umount_vault "$PC_M" "$PC_V"

finish
