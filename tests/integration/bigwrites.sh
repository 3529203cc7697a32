#!/bin/bash
# bigwrites: while big writes come, the read hook puts each request's bytes past its
# header into a buffer laid out one block per ciphertext slot (fs/mount.c), and a
# block-aligned write seals them there (rfs_cfile_write_slots). Every shape of write must read back and be saved
# exactly: 1 MiB writes, writes of odd sizes at aligned and unaligned offsets, a write
# into the middle of a block, overwrites inside the file, several writers at once; and
# requests that are not writes but carry more than their header (a 2,000-byte extended
# attribute, a 3,000-byte symlink target) must arrive whole. The daemon's resident memory
# after 64 MiB of 1 MiB writes is printed, not checked (figures go in bench/bench.sh).
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt U=60001
make_vault "$V"
mount_vault "$V" "$M" -o allow_other

# python3 writes PATH with os.pwrite: each action OFF:LEN (bytes from SRC at OFF).
pwrite_py() {
	python3 - "$@" <<'EOF'
import os, sys
path, src, acts = sys.argv[1], sys.argv[2], sys.argv[3:]
data = open(src, 'rb').read()
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
for a in acts:
    off, ln = (int(x) for x in a.split(':'))
    assert os.pwrite(fd, data[off:off + ln], off) == ln
os.fsync(fd)
os.close(fd)
EOF
}

head -c $((8 << 20)) /dev/urandom >"$IT_TMP/src"

# 1 MiB writes, block-aligned: the in-place path.
dd if="$IT_TMP/src" of="$M/aligned" bs=1M conv=fsync status=none
check "8 MiB in 1 MiB writes reads back" cmp "$IT_TMP/src" "$M/aligned"

# Odd sizes and offsets: aligned starts with a partial end, unaligned starts (copied back
# to libfuse's buffer), a write inside one block, one that spans two, one past the end.
pwrite_py "$M/odd" "$IT_TMP/src" 0:1000000 1000000:4096 1004096:123457 1127553:1 \
	1127554:8190 4096:100 8191:2 2000000:1048576 3048576:4095 3052671:1 7000000:1388608
python3 - "$IT_TMP/src" "$IT_TMP/odd.expect" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
e = bytearray(8 << 20)
for off, ln in ((0, 1000000), (1000000, 4096), (1004096, 123457), (1127553, 1), (1127554, 8190),
                (4096, 100), (8191, 2), (2000000, 1048576), (3048576, 4095), (3052671, 1),
                (7000000, 1388608)):
    e[off:off + ln] = d[off:off + ln]
open(sys.argv[2], 'wb').write(bytes(e[:8388608]))
EOF
check "odd sizes at odd offsets, with a hole, read back" cmp "$IT_TMP/odd.expect" "$M/odd"

# Overwrites inside the file: aligned (a block's end kept from before) and not.
cp "$IT_TMP/src" "$IT_TMP/over.expect"
head -c $((3 << 20)) /dev/urandom >"$IT_TMP/src2"
pwrite_py "$M/aligned" "$IT_TMP/src2" 1048576:1048570 2101248:5000 12345:40000
python3 - "$IT_TMP/src2" "$IT_TMP/over.expect" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
e = bytearray(open(sys.argv[2], 'rb').read())
for off, ln in ((1048576, 1048570), (2101248, 5000), (12345, 40000)):
    e[off:off + ln] = d[off:off + ln]
open(sys.argv[2], 'wb').write(bytes(e))
EOF
check "overwrites inside the file read back" cmp "$IT_TMP/over.expect" "$M/aligned"

# Eight writers at once (more writes in flight than buffers to lend).
pids=()
for w in 0 1 2 3 4 5 6 7; do
	dd if="$IT_TMP/src" of="$M/w$w" bs=$(((w + 1) * 131072)) conv=fsync status=none &
	pids+=($!)
done
wait "${pids[@]}"
bad=0
for w in 0 1 2 3 4 5 6 7; do cmp -s "$IT_TMP/src" "$M/w$w" || bad=$((bad + 1)); done
assert_eq "eight writers at once: every file reads back" 0 "$bad"

# After 3 s without a big write the workers read on their own again; the next big writes
# put the gate back up (the first lands in a worker's own buffer).
sleep 3
dd if="$IT_TMP/src" of="$M/again" bs=1M conv=fsync status=none
check "after a quiet spell, 8 MiB in 1 MiB writes reads back" cmp "$IT_TMP/src" "$M/again"

# Requests that are not writes but carry more than their header.
printf x >"$M/xa"
check "a 2,000-byte extended attribute reads back" python3 -c \
	"import os, sys; os.setxattr('$M/xa', 'user.big', bytes(range(250)) * 8);
sys.exit(os.getxattr('$M/xa', 'user.big') != bytes(range(250)) * 8)"
target=$(printf 'd%.0s' $(seq 1 3000))
ln -s "$target" "$M/longlink"
assert_eq "a 3,000-byte symlink target reads back" "$target" "$(readlink "$M/longlink")"

# A write by a user without CAP_FSETID clears setuid on the in-place path too.
printf abc >"$M/suid"
chmod 4777 "$M/suid"
(cd / && setpriv --reuid=$U --regid=$U --clear-groups \
	dd if="$IT_TMP/src" of="$M/suid" bs=1M count=2 conv=notrunc status=none)
assert_eq "a 1 MiB write by a user clears setuid" 777 "$(stat -c %a "$M/suid")"

# History holds what was saved.
check "recfs flush" recfs flush "$M"
# saved_is MSG PATH EXPECTED: the newest saved version of PATH holds EXPECTED's bytes.
saved_is() {
	local rev
	rev=$(recfs log "$2" --json-lines -n 100 2>/dev/null | grep '"what":"saved"' | head -n 1 |
		sed -n 's/.*"rev":"\([^"]*\)".*/\1/p')
	rm -f "$IT_TMP/shown"
	if [[ -n $rev ]] && recfs show "$2" --rev "$rev" -o "$IT_TMP/shown" >/dev/null 2>&1 &&
		cmp -s "$IT_TMP/shown" "$3"; then
		ok "$1"
	else
		not_ok "$1 (version '$rev' of $2 differs from what was saved)"
	fi
}
saved_is "the newest version of the overwritten file is what was written" "$M/aligned" "$IT_TMP/over.expect"
saved_is "the saved version of the odd writes is what was written" "$M/odd" "$IT_TMP/odd.expect"
saved_is "the saved version of a writer's file is what was written" "$M/w3" "$IT_TMP/src"

pid=$(daemon_pid "$M")
dd if=/dev/zero of="$M/big64" bs=1M count=64 conv=fsync status=none
echo "# daemon VmHWM after 64 MiB of 1 MiB writes: $(awk '/^VmHWM:/ { print $2, $3 }' /proc/"$pid"/status)"
rm -f "$M/big64"

umount_vault "$M" "$V"
mount_vault "$V" "$M"
check "after a remount, the odd writes read back" cmp "$IT_TMP/odd.expect" "$M/odd"
check "after a remount, the eight writers' files read back" cmp "$IT_TMP/src" "$M/w7"
umount_vault "$M" "$V"
finish
