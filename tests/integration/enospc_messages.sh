#!/bin/bash
# enospc_messages: on a full disk every message says the disk is full, never
# "Invalid argument" (a failed pack write used to surface as EINVAL in flush,
# log and the daemon's own log).
# Must never: run outside its temp folder (the tmpfs is mounted inside it).
. "$(dirname "$0")/lib.sh"

M=$IT_TMP/mnt OUT=$IT_TMP/messages
small_disk 24m
V=$SMALL/vault
make_vault "$V"
export PASSFILE=$V.pass
mount_vault "$V" "$M"
for i in $(seq 1 40); do
	head -c 1000000 /dev/urandom >"$M/f$i" 2>>"$OUT" || break
done
head -c 9000000 /dev/urandom >"$M/big" 2>>"$OUT"   # a streamed save, its own pack
echo hi >"$M/small" 2>>"$OUT"
recfs flush "$M" >>"$OUT" 2>&1
recfs log "$M" >/dev/null 2>>"$OUT"
recfs log --daemon "$M" >>"$OUT" 2>&1
umount_vault "$M" "$V"
cat "$M.daemon.log.done" >>"$OUT" 2>/dev/null
assert_match "the messages say the disk is full" 'No space left on device' "$(cat "$OUT")"
assert_eq "no message says 'Invalid argument'" "" "$(grep -i 'invalid argument' "$OUT")"

finish
