#!/bin/bash
# publish_nowait: while the committer makes live/ durable before it moves the
# ref (the syncfs of a publish, held here for DELAY ms by the fault point
# vault_sync: RECFS_FAULT_DELAY, a build with -Dfault_points=true), a save that
# takes the repository lock, a mid-sized file's close and a new symbolic link
# do not wait for it. Each returns seconds before the flush that waits for the
# publish; before the change they all returned with it. Their versions are in
# history after. Real mount, real git.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

DELAY=5000
V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
RECFS_FAULT_DELAY=vault_sync:$DELAY mount_vault "$V" "$M"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
delays() { fault_delays "$M" vault_sync; }

head -c 3M /dev/urandom >"$M/big.bin" || die "write big.bin"
check "the first flush (its publish waits at the fault point too)" recfs flush "$M"
[ "$(delays)" -ge 1 ] || die "the daemon never passed the delayed point: built without -Dfault_points=true?"

# A save, then a flush: its publish waits DELAY ms in front of the syncfs.
echo first >"$M/first.txt"
before=$(delays)
recfs flush "$M" >"$IT_TMP/flush.out" 2>&1 &
flush_pid=$!
wait_fault_delay "$M" vault_sync "$before"

# A one-block change to a 3 MiB file: captured at its close under the lock.
dd if=/dev/urandom of="$M/big.bin" bs=4096 count=1 seek=100 conv=notrunc status=none ||
	not_ok "dd of one block into big.bin"
big_done=$(now_ms)
head -c 600K /dev/urandom >"$M/mid.bin" || not_ok "write mid.bin"
mid_done=$(now_ms)
ln -s first.txt "$M/link" || not_ok "ln -s"
link_done=$(now_ms)
wait "$flush_pid"
flush_rc=$?
flush_done=$(now_ms)
assert_eq "the flush waited for the publish and succeeded" 0 "$flush_rc"
for what in "big.bin:$big_done" "mid.bin:$mid_done" "link:$link_done"; do
	ahead=$((flush_done - ${what#*:}))
	if [ "$ahead" -ge $((DELAY / 2)) ]; then
		ok "${what%%:*} was saved ${ahead} ms before the publish's sync ended"
	else
		not_ok "${what%%:*} waited for the publish's sync: done only ${ahead} ms before it ended"
	fi
done

check "a flush of the three saves" recfs flush "$M"
vlog() { recfs log "$1" --json-lines -n 100 2>/dev/null; }
assert_eq "big.bin has two saved versions" 2 "$(vlog "$M/big.bin" | grep -c '"what":"saved"')"
rev=$(vlog "$M/big.bin" | head -n1 | sed -n 's/.*"rev":"\([0-9a-f]*\)".*/\1/p')
assert_eq "the newest version of big.bin holds the changed block" "$(sha256sum <"$M/big.bin")" \
	"$(recfs show "$M/big.bin" --rev "$rev" 2>/dev/null | sha256sum)"
rev=$(vlog "$M/mid.bin" | head -n1 | sed -n 's/.*"rev":"\([0-9a-f]*\)".*/\1/p')
assert_eq "mid.bin's version is its content" "$(sha256sum <"$M/mid.bin")" \
	"$(recfs show "$M/mid.bin" --rev "$rev" 2>/dev/null | sha256sum)"
assert_match "the link is in history" '"what":"(created|saved)"' "$(vlog "$M/link")"

umount_vault "$M" "$V"
check "recfs verify" recfs verify "$V" --passphrase-file "$V.pass"
mount_vault "$V" "$M"
assert_eq "the link reads back after a remount" "first.txt" "$(readlink "$M/link")"
umount_vault "$M" "$V"
finish
