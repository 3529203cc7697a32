#!/bin/bash
# mountpoint: mount points that would hide files (issue 4, item 18). A
# non-empty folder is refused unless -o nonempty is given (as FUSE 2 did),
# and the vault folder itself, a folder inside it, or a folder that holds the
# vault is refused always; each refusal is one line naming the folder, and
# nothing is left mounted.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

IT_CMD_TIMEOUT=30      # a mount over its own vault could hang: fail instead
V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"

# try DESC WANT-REGEX MOUNTPOINT [options...]: recfs mount must fail, say WANT, mount nothing.
try() {
	local desc=$1 want=$2 mp=$3 out real
	shift 3
	real=$(realpath -m "$mp")
	IT_MOUNTS+=("$real")
	out=$(recfs mount "$V" "$mp" --passphrase-file "$V.pass" "$@" 2>&1)
	local rc=$?
	if is_mounted "$real"; then
		fusermount3 -uz "$real"
		wait_unlocked "$V"
		not_ok "$desc: it was mounted (exit $rc: $out)"
		return
	fi
	assert_eq "$desc: refused with exit 2" 2 "$rc"
	assert_match "$desc: the message says why" "$want" "$out"
	assert_eq "$desc: one line" 1 "$(printf '%s\n' "$out" | wc -l)"
}

mkdir -p "$M" && printf 'underneath\n' >"$M/hidden"
try "a non-empty mount point" "$M.* not empty.*-o nonempty" "$M"
check "with -o nonempty it mounts" recfs mount "$V" "$M" --passphrase-file "$V.pass" -o nonempty
IT_MOUNTS+=("$M")
check "... and the mount works" sh -c "echo hello >'$M/new' && [ \"\$(cat '$M/new')\" = hello ]"
check "recfs umount" recfs umount "$M"
wait_unlocked "$V"
assert_eq "the files underneath are there again" underneath "$(cat "$M/hidden" 2>&1)"

try "the vault folder itself" "$V.* vault" "$V"
try "the vault folder itself with -o nonempty" "$V.* vault" "$V" -o nonempty
mkdir -p "$V/inside"
try "an empty folder inside the vault" "inside.* vault" "$V/inside"
try "live/ inside the vault" "live.* vault" "$V/live" -o nonempty
try "a folder that holds the vault" "$IT_TMP.* vault" "$IT_TMP" -o nonempty
ln -s "$V/inside" "$IT_TMP/link"
try "a symbolic link to a folder inside the vault" "vault" "$IT_TMP/link"
rmdir "$V/inside"
check "recfs fsck is clean after all that" recfs fsck "$V" --passphrase-file "$V.pass"

mkdir -p "$IT_TMP/empty"
mount_vault "$V" "$IT_TMP/empty"
check "an empty folder outside the vault still mounts" test -d "$IT_TMP/empty"
umount_vault "$IT_TMP/empty" "$V"
finish
