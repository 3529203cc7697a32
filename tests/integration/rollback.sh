#!/bin/bash
# rollback: a rolled-back, replaced or vanished history is never accepted by a
# writable mount (issue "Keep every promise", item 10). The ref moved back two
# commits, moved to another history, deleted, or deleted with the signed head
# record: the mount refuses, names the problem, `recfs verify` and how to
# accept the state on purpose; nothing changes, gc keeps the commits the head
# record names. A ref one signed commit ahead of the record (a crash between
# the two writes) still mounts.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
G=(git --git-dir="$V/history.git")
make_vault "$V"
for i in 1 2 3 4; do
	mount_vault "$V" "$M"
	echo "version $i" >"$M/f$i"
	umount_vault "$M" "$V"
	# A copy that goes its own way after version 2: another history of the same vault.
	[ $i = 2 ] && cp -a "$V" "$IT_TMP/copy" && cp "$V.pass" "$IT_TMP/copy.pass"
done
mount_vault "$IT_TMP/copy" "$M"
echo "the copy's own" >"$M/other"
umount_vault "$M" "$IT_TMP/copy"
other=$(git --git-dir="$IT_TMP/copy/history.git" rev-parse HEAD)
cp -n "$IT_TMP/copy/history.git/objects/pack/"* "$V/history.git/objects/pack/"
HEAD0=$("${G[@]}" rev-parse HEAD)
N0=$("${G[@]}" rev-list --count HEAD)
cp "$V/history.git/recfs/head" "$IT_TMP/head.saved"

verify_out() {
	recfs verify "$V" --passphrase-file "$V.pass" 2>&1
}

# mount_refused DESC REGEX: a writable mount fails, says REGEX, names recfs
# verify and the way to accept the state; nothing is mounted, the ref is unchanged.
mount_refused() {
	local desc=$1 re=$2 ref out rc
	ref=$("${G[@]}" rev-parse -q --verify refs/heads/main)
	mkdir -p "$M"
	out=$(recfs mount "$V" "$M" --passphrase-file "$V.pass" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		not_ok "$desc: the writable mount was refused (it mounted)"
		is_mounted "$M" && { recfs umount "$M" || fusermount3 -uz "$M"; }
		wait_unlocked "$V"
	else
		ok "$desc: the writable mount was refused (exit $rc)"
	fi
	assert_match "$desc: the refusal names the problem" "$re" "$out"
	assert_match "$desc: the refusal names recfs verify" "recfs verify" "$out"
	assert_match "$desc: the refusal says how to accept the state" "accept-history-state" "$out"
	assert_eq "$desc: the refusal is one line" 1 "$(printf '%s\n' "$out" | grep -c .)"
	assert_eq "$desc: the ref did not move" "$ref" "$("${G[@]}" rev-parse -q --verify refs/heads/main)"
}

# 1. The ref moved back two commits.
"${G[@]}" update-ref refs/heads/main HEAD~2
assert_match "verify names the rollback" "ref moved backwards" "$(verify_out)"
mount_refused "ref two commits back" "moved backwards"
assert_match "verify still names the rollback after the refused mount" "ref moved backwards" "$(verify_out)"
recfs gc "$V" --passphrase-file "$V.pass" >/dev/null 2>&1
check "gc keeps the commit the head record names" "${G[@]}" cat-file -e "$HEAD0^{commit}"
check "a read-only mount still works" mount_vault "$V" "$M" -o ro
umount_vault "$M" "$V"
"${G[@]}" update-ref refs/heads/main "$HEAD0"
check "put back, the history verifies" recfs verify "$V" --passphrase-file "$V.pass"

# 2. The ref moved to another history (the copy's newest commit: signed, not a descendant).
"${G[@]}" update-ref refs/heads/main "$other"
mount_refused "ref on another history" "another history"
"${G[@]}" update-ref refs/heads/main "$HEAD0"

# 3. The ref deleted: history has vanished, never a new history.
"${G[@]}" update-ref -d refs/heads/main
mount_refused "ref deleted" "vanished|missing"
assert_eq "no new history was started" "" "$("${G[@]}" rev-parse -q --verify refs/heads/main)"
"${G[@]}" update-ref refs/heads/main "$HEAD0"

# 4. The ref and the signed head record deleted.
"${G[@]}" update-ref -d refs/heads/main
rm -f "$V/history.git/recfs/head" "$V/history.git/recfs/clean"
out=$(verify_out)
assert_match "verify names a vanished history" "vanished" "$out"
if printf '%s' "$out" | grep -q '0 commits, 0 problems'; then
	not_ok "verify must not call a vanished history empty: $out"
else
	ok "verify does not call a vanished history empty"
fi
mount_refused "ref and head record deleted" "vanished"
"${G[@]}" update-ref refs/heads/main "$HEAD0"
cp "$IT_TMP/head.saved" "$V/history.git/recfs/head"
check "put back, the history verifies" recfs verify "$V" --passphrase-file "$V.pass"

# 5. A crash between moving the ref and writing the head record leaves the
# ref one signed commit ahead of the record: that mounts.
cp "$V/history.git/recfs/head" "$IT_TMP/head.before"
mount_vault "$V" "$M"
echo "version 5" >"$M/f5"
umount_vault "$M" "$V"
[ "$("${G[@]}" rev-list --count HEAD)" -gt "$N0" ] && ok "the save made commits" || not_ok "the save made commits"
cp "$IT_TMP/head.before" "$V/history.git/recfs/head"
mount_vault "$V" "$M"
check "a ref one commit ahead of the record mounts, and the file is there" grep -qx "version 5" "$M/f5"
umount_vault "$M" "$V"
check "and the history verifies" recfs verify "$V" --passphrase-file "$V.pass"

# 6. Accepting a rolled-back state on purpose.
HEAD1=$("${G[@]}" rev-parse HEAD)
"${G[@]}" update-ref refs/heads/main HEAD~2
mount_refused "rolled back again" "moved backwards"
check "mount --accept-history-state accepts it" mount_vault "$V" "$M" --accept-history-state
echo "after" >"$M/f6"
umount_vault "$M" "$V"
check "the accepted history verifies" recfs verify "$V" --passphrase-file "$V.pass"
check "the next plain mount works" mount_vault "$V" "$M"
check "the file saved after accepting is there" grep -qx after "$M/f6"
umount_vault "$M" "$V"
check "git fsck passes" "${G[@]}" fsck --strict --no-dangling
[ "$HEAD1" != "$("${G[@]}" rev-parse HEAD)" ] && ok "history went on from the accepted state" ||
	not_ok "history went on from the accepted state"
finish
