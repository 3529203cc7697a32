#!/bin/bash
# stream: a big file's chunks are packed while it is written (fs/history/stream.c)
# and each version is still exactly what was saved: a file written to its end
# and saved, one appended to after a save, one rewritten inside what was packed
# or truncated before its save (the stream ends, the save reads live/), and a
# save followed by a write into it (the version keeps the saved bytes); a
# spool in several segment packs (a test size), read back at most one segment
# at the flush, and killed (-9) while streaming. Real mount, real git.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"
PACKS=$V/history.git/objects/pack

vlog() {
	recfs log "$@" --json-lines -n 100000 2>/dev/null
}
jfield() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}
# version_is MSG PATH N EXPECTED: the N-th newest version of PATH holds EXPECTED's bytes.
version_is() {
	local rev
	rev=$(vlog "$2" | grep '"what":"saved"' | sed -n "$3p" | jfield rev)
	rm -f "$IT_TMP/shown"
	if [[ -z $rev ]]; then
		not_ok "$1 (no saved version $3 of $2)"
	elif recfs show "$2" --rev "$rev" -o "$IT_TMP/shown" >/dev/null 2>&1 && cmp -s "$IT_TMP/shown" "$4"; then
		ok "$1"
	else
		not_ok "$1 (version $rev of $2 differs from what was saved)"
	fi
}
# write_py PATH ACTIONS...: one open file; each action is w:SRC (write SRC's bytes at
# the end), p:OFF:SRC (write SRC at OFF), t:SIZE (ftruncate), a (reopen to append),
# z (sleep 2 s), f (fsync; its time goes to $IT_TMP/fsync_at). The open's time goes to
# $IT_TMP/open_at.
write_py() {
	python3 - "$@" <<'EOF'
import os, sys, time
path, acts = sys.argv[1], sys.argv[2:]
open(os.environ['IT_TMP'] + '/open_at', 'w').write('%d\n' % time.time())
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
for a in acts:
    k, _, rest = a.partition(':')
    if k == 'w':
        data = open(rest, 'rb').read()
        os.lseek(fd, 0, os.SEEK_END)
        for i in range(0, len(data), 1 << 20):
            os.write(fd, data[i:i + (1 << 20)])
    elif k == 'p':
        off, src = rest.split(':')
        os.pwrite(fd, open(src, 'rb').read(), int(off))
    elif k == 't':
        os.ftruncate(fd, int(rest))
    elif k == 'z':
        time.sleep(2)
    elif k == 'f':
        t = time.time()
        os.fsync(fd)
        open(os.environ['IT_TMP'] + '/fsync_at', 'w').write('%d\n' % t)
os.close(fd)
EOF
}
# packed_before MSG MIN_BYTES: a pack of at least MIN_BYTES was begun (its birth
# time) after the last open and at least a second before the fsync that
# followed: its chunks were packed as they were written.
packed_before() {
	local at from p born found=0
	at=$(cat "$IT_TMP/fsync_at")
	from=$(cat "$IT_TMP/open_at")
	for p in "$PACKS"/pack-*.pack; do
		born=$(stat -c %W "$p")
		if [[ $born == 0 || $born == - ]]; then
			ok "$1 (skipped: no birth times on this file system)"
			return
		fi
		if (($(stat -c %s "$p") >= $2 && born >= from && born <= at - 1)); then found=1; fi
	done
	if ((found)); then ok "$1"; else not_ok "$1 (no pack of $2 bytes begun before the fsync at $at)"; fi
}

head -c $((10 << 20)) /dev/urandom >"$IT_TMP/a"
head -c $((9 << 20)) /dev/urandom >"$IT_TMP/b"
head -c 4096 /dev/urandom >"$IT_TMP/blk"
export IT_TMP

# ---- written to its end, then saved: packed while written ----
write_py "$M/one" "w:$IT_TMP/a" z f
check "flush after a 10 MiB file written and fsync'd" recfs flush "$M"
version_is "the streamed version holds the 10 MiB written" "$M/one" 1 "$IT_TMP/a"
packed_before "its chunks were packed before its fsync" $((10 << 20))

# ---- appended to after its save: the appended chunks stream ----
cat "$IT_TMP/a" "$IT_TMP/b" >"$IT_TMP/ab"
write_py "$M/one" "w:$IT_TMP/b" z f
check "flush after 9 MiB appended" recfs flush "$M"
version_is "the appended version holds all 19 MiB" "$M/one" 1 "$IT_TMP/ab"
version_is "the first version still holds its 10 MiB" "$M/one" 2 "$IT_TMP/a"
packed_before "the appended chunks were packed before the fsync" $((9 << 20))

# ---- a block rewritten inside what was packed, before the save ----
cp "$IT_TMP/a" "$IT_TMP/a_mid"
dd if="$IT_TMP/blk" of="$IT_TMP/a_mid" bs=4096 seek=256 conv=notrunc status=none
write_py "$M/mid" "w:$IT_TMP/a" z "p:$((1 << 20)):$IT_TMP/blk" f
check "flush after a rewrite inside the packed chunks" recfs flush "$M"
version_is "the version holds the rewritten block" "$M/mid" 1 "$IT_TMP/a_mid"

# ---- truncated while streaming, then written on ----
{ head -c $((5 << 20)) "$IT_TMP/a"; cat "$IT_TMP/b"; } >"$IT_TMP/a_cut"
write_py "$M/cut" "w:$IT_TMP/a" "t:$((5 << 20))" "w:$IT_TMP/b" f
check "flush after a truncate while streaming" recfs flush "$M"
version_is "the version holds the truncated file and what followed" "$M/cut" 1 "$IT_TMP/a_cut"

# ---- saved, then written into: the version keeps the saved bytes ----
cp "$IT_TMP/a" "$IT_TMP/a_after"
dd if="$IT_TMP/blk" of="$IT_TMP/a_after" bs=4096 seek=100 conv=notrunc status=none
write_py "$M/two" "w:$IT_TMP/a" f "p:$((100 * 4096)):$IT_TMP/blk" f
check "flush after a save and a write into it" recfs flush "$M"
version_is "the second version holds the later write" "$M/two" 1 "$IT_TMP/a_after"
version_is "the first version holds the bytes of its save" "$M/two" 2 "$IT_TMP/a"

# ---- written, never fsync'd, closed: the close is the save ----
write_py "$M/closed" "w:$IT_TMP/a"
check "flush after a close" recfs flush "$M"
version_is "the version saved by the close holds the 10 MiB" "$M/closed" 1 "$IT_TMP/a"

check "recfs verify on the mounted vault" recfs verify "$M"
check "git fsck --strict of history.git" git -C "$V/history.git" fsck --strict
umount_vault "$M" "$V"

# ---- segments: a spool is a chain of packs, each finished as it fills ----
# With 4 MiB segments (RECFS_TEST_SPOOL_SEGMENT, read by the daemon) a 20 MiB
# file makes 5 full segment packs and a partial one, and the flush reads back
# at most that last one to hash it: the bytes of the daemon's preads during the
# flush, counted with strace when there is one. A vault of its own, so that
# its few packs start no merge before they are counted.
SEG=$((4 << 20))
V2=$IT_TMP/vault2 P2=$IT_TMP/vault2/history.git/objects/pack
make_vault "$V2"
export RECFS_TEST_SPOOL_SEGMENT=$SEG
mount_vault "$V2" "$M"
unset RECFS_TEST_SPOOL_SEGMENT
head -c $((20 << 20)) /dev/urandom >"$IT_TMP/c"
before=$(ls "$P2" | grep -c '\.pack$')
if command -v strace >/dev/null; then
	strace -f -qq -y -e trace=pread64 -p "$(daemon_pid "$M")" -o "$IT_TMP/pread.out" &
	SPID=$!
	sleep 1
fi
write_py "$M/seg" "w:$IT_TMP/c" z f
check "flush after a 20 MiB file in 4 MiB segments" recfs flush "$M"
if [[ -n ${SPID:-} ]]; then
	kill "$SPID"
	wait "$SPID" 2>/dev/null
	# the bytes read back from the spool (a tmp_pack_ file) to hash it
	read=$(awk '/pread64\([0-9]+<[^>]*\/tmp_pack_/ && $NF ~ /^[0-9]+$/ { n += $NF } END { print n + 0 }' "$IT_TMP/pread.out")
	if ((read <= SEG)); then
		ok "the save read back at most one segment of its spool ($read bytes)"
	else
		not_ok "the save read back $read bytes of its spool, more than one segment of $SEG bytes"
	fi
else
	ok "# skip: no strace here, so the save's reads of its spool are not counted"
fi
after=$(ls "$P2" | grep -c '\.pack$')
if ((after - before >= 5)); then
	ok "the 20 MiB file is in $((after - before)) packs"
else
	not_ok "the 20 MiB file is in $((after - before)) packs, not 5 segments or more"
fi
# A full segment was written directly (O_DIRECT): its pages are not left in the
# page cache (only the tail after its last whole buffer, and the trailer, are).
if [[ $(stat -f -c %T "$P2") == tmpfs ]]; then
	ok "# skip: on tmpfs every file lives in the page cache"
else
	half=0 full=0
	for f in "$P2"/pack-*.pack; do
		size=$(stat -c %s "$f")
		((size >= SEG / 2)) || continue   # a full segment, not the partial last one
		res=$(fincore --bytes --noheadings --output RES "$f")
		echo "# $(basename "$f"): $res of $size bytes in the page cache"
		((res * 2 <= size)) && half=$((half + 1))
		full=$((full + 1))
	done
	assert_eq "each of the 5 full segments is at most half in the page cache" 5/5 "$half/$full"
fi
version_is "the version in segments holds the 20 MiB written" "$M/seg" 1 "$IT_TMP/c"
cat "$IT_TMP/c" "$IT_TMP/a" >"$IT_TMP/ca"
write_py "$M/seg" "w:$IT_TMP/a" z f
check "flush after 10 MiB appended in segments" recfs flush "$M"
version_is "the appended version holds all 30 MiB" "$M/seg" 1 "$IT_TMP/ca"
version_is "the first version still holds its 20 MiB" "$M/seg" 2 "$IT_TMP/c"
check "recfs verify of the vault in segments" recfs verify "$M"
check "git fsck --strict of its history.git" git -C "$V2/history.git" fsck --strict
for f in "$P2"/pack-*.idx; do
	git verify-pack "$f" >/dev/null 2>&1 || not_ok "git verify-pack $f"
done
ok "git verify-pack of every pack"

# ---- killed (-9) while it streams: the next mount removes every segment ----
python3 - "$M/killed" "$IT_TMP/c" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
data = open(sys.argv[2], 'rb').read()
try:
    for i in range(0, len(data), 1 << 20):
        os.write(fd, data[i:i + (1 << 20)])
    time.sleep(60)
except OSError:
    pass
PY
WPID=$!
for i in $(seq 1 300); do
	(($(ls "$P2" | grep -c '^tmp_idx_') >= 2)) && break
	sleep 0.1
done
assert_eq "finished segments wait as tmp_ files while the file streams" yes \
	"$( (($(ls "$P2" | grep -c '^tmp_idx_') >= 2)) && echo yes)"
crash_daemon "$M" "$V2"
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null
export RECFS_TEST_SPOOL_SEGMENT=$SEG
mount_vault "$V2" "$M"
unset RECFS_TEST_SPOOL_SEGMENT
assert_eq "the next mount removes every tmp_ file of the killed stream" 0 "$(ls "$P2" | grep -c '^tmp_')"
check "recfs verify after the kill" recfs verify "$M"
check "git fsck --strict after the kill" git -C "$V2/history.git" fsck --strict
umount_vault "$M" "$V2"

# ---- the disk fills while a spool is written: it leaves nothing behind ----
# A 12 MiB file streams into 4 MiB segments on a 160 MiB tmpfs; once two are
# finished the disk is filled (ballast beside the vault, 64 KiB left) and the
# file is fsync'd and closed: the spool's next write fails (ENOSPC) in the
# middle of a segment. The flush says the disk is full; once space is freed
# the next flush saves the file whole and no tmp_ file is left.
small_disk 160m
SV=$SMALL/vault SM=$IT_TMP/smnt SPACKS=$SMALL/vault/history.git/objects/pack
make_vault "$SV"
export RECFS_TEST_SPOOL_SEGMENT=$SEG
mount_vault "$SV" "$SM"
unset RECFS_TEST_SPOOL_SEGMENT
head -c $((12 << 20)) /dev/urandom >"$IT_TMP/d"
python3 - "$SM/full" "$IT_TMP/d" "$IT_TMP/go" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
data = open(sys.argv[2], 'rb').read()
for i in range(0, len(data), 1 << 20):
    os.write(fd, data[i:i + (1 << 20)])
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
try:
    os.fsync(fd)
    os.close(fd)
except OSError:
    pass
PY
WPID=$!
for i in $(seq 1 300); do
	(($(ls "$SPACKS" | grep -c '^tmp_idx_') >= 2)) && break
	sleep 0.1
done
assert_eq "two segments of the spool are finished before the disk fills" yes \
	"$( (($(ls "$SPACKS" | grep -c '^tmp_idx_') >= 2)) && echo yes)"
dd if=/dev/zero of="$SMALL/ballast" bs=64k status=none 2>/dev/null
truncate -s -65536 "$SMALL/ballast"            # 64 KiB left, as history_full leaves
touch "$IT_TMP/go"
wait "$WPID"
out=$(recfs flush "$SM" 2>&1)
rc=$?
echo "# flush on the full disk: $out"
[ $rc -ne 0 ] && ok "the flush fails while the spool cannot be written" ||
	not_ok "the flush fails while the spool cannot be written (it succeeded)"
assert_match "its error says the disk is full" "no space|disk is full" "$out"
rm -f "$SMALL/ballast"
check "once space is freed, the flush succeeds" recfs flush "$SM"
assert_eq "the failed spool left no tmp_ file" 0 "$(ls "$SPACKS" | grep -c '^tmp_')"
check "recfs verify after the full disk" recfs verify "$SM"
check "git fsck --strict after the full disk" git -C "$SV/history.git" fsck --strict
umount_vault "$SM" "$SV"
recfs show --vault "$SV" --passphrase-file "$SV.pass" /full --rev HEAD >"$IT_TMP/shown" 2>&1
check "history's newest /full holds the 12 MiB written" cmp -s "$IT_TMP/shown" "$IT_TMP/d"

if ls "$PACKS" | grep -q '^tmp_'; then
	not_ok "a spool was left behind: $(ls "$PACKS" | grep '^tmp_' | tr '\n' ' ')"
else
	ok "no spool left in objects/pack after the unmount"
fi
check "recfs verify on the unmounted vault" recfs verify "$V" --passphrase-file "$V.pass"
finish
