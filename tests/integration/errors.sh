#!/bin/bash
# errors: clear errors (issue 3, must hold 6) and passphrase change. Each bad
# input gets a non-zero exit, exactly one line on stderr that says what is
# wrong, and leaves nothing mounted or locked.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt M2=$IT_TMP/mnt2
mkdir -p "$M" "$M2"
make_vault "$V"

# expect_error DESC REGEX CMD...: fails cleanly, one stderr line matching REGEX
# (case-insensitive), which never holds the passphrase.
expect_error() {
	local desc=$1 re=$2 rc lines msg
	shift 2
	"$@" >"$IT_TMP/err.out" 2>"$IT_TMP/err.err" </dev/null
	rc=$?
	lines=$(wc -l <"$IT_TMP/err.err")
	msg=$(head -c 300 "$IT_TMP/err.err" | tr '\n' '|')
	if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
		not_ok "$desc: exit $rc, want a clean non-zero exit (stderr: $msg)"
	elif [ "$lines" != 1 ]; then
		not_ok "$desc: $lines lines on stderr, want one: $msg"
	elif ! grep -Eqi -- "$re" "$IT_TMP/err.err"; then
		not_ok "$desc: message does not match /$re/: $msg"
	elif grep -qF -- "$(head -n1 "$V.pass")" "$IT_TMP/err.err" "$IT_TMP/err.out"; then
		not_ok "$desc: the passphrase appears in the output"
	else
		ok "$desc: exit $rc, '$(head -n1 "$IT_TMP/err.err")'"
	fi
}

nothing_mounted() {
	local m
	for m in "$@"; do
		! is_mounted "$m" || return 1
	done
	vault_unlocked "$V"
}

# ---- wrong passphrase ----
printf 'not the passphrase\n' >"$IT_TMP/wrong.pass"
expect_error "mount with a wrong passphrase" 'passphrase' recfs mount "$V" "$M" --passphrase-file "$IT_TMP/wrong.pass"
check "wrong passphrase: nothing mounted, vault not locked" nothing_mounted "$M"
expect_error "fsck with a wrong passphrase" 'passphrase' recfs fsck "$V" --passphrase-file "$IT_TMP/wrong.pass"
expect_error "passphrase file missing" 'passphrase|no such|missing|cannot' \
	recfs mount "$V" "$M" --passphrase-file "$IT_TMP/no-such-file"
check "missing passphrase file: nothing mounted" nothing_mounted "$M"

# ---- not a vault ----
mkdir -p "$IT_TMP/empty" "$IT_TMP/junk"
printf 'hello\n' >"$IT_TMP/junk/recfs.conf"
mkdir "$IT_TMP/junk/live"
printf 'x\n' >"$IT_TMP/plainfile"
expect_error "empty folder is not a vault" 'vault' recfs mount "$IT_TMP/empty" "$M" --passphrase-file "$V.pass"
expect_error "folder with a junk recfs.conf is not a vault" 'vault|recfs.conf' \
	recfs mount "$IT_TMP/junk" "$M" --passphrase-file "$V.pass"
expect_error "a regular file is not a vault" 'vault|folder|director' \
	recfs mount "$IT_TMP/plainfile" "$M" --passphrase-file "$V.pass"
expect_error "missing vault folder" 'no such|not exist|vault' \
	recfs mount "$IT_TMP/no-vault" "$M" --passphrase-file "$V.pass"
check "no mount left by the not-a-vault attempts" nothing_mounted "$M"
assert_eq "the empty folder was left empty" "" "$(ls -A "$IT_TMP/empty")"
expect_error "init over a non-empty folder" 'exist|empty' \
	recfs init "$IT_TMP/junk" --passphrase-file "$V.pass"
assert_eq "init left the non-empty folder alone" "hello" "$(cat "$IT_TMP/junk/recfs.conf")"
expect_error "fsck of a folder that is not a vault" 'vault' recfs fsck "$IT_TMP/empty" --passphrase-file "$V.pass"

# ---- mount points ----
expect_error "missing mount point" 'mount ?point|no such|not exist' \
	recfs mount "$V" "$IT_TMP/no-mnt" --passphrase-file "$V.pass"
expect_error "mount point is a file" 'director|folder|mount ?point' \
	recfs mount "$V" "$IT_TMP/plainfile" --passphrase-file "$V.pass"
check "failed mount-point checks left the vault unlocked" vault_unlocked "$V"

check "mount the vault" recfs mount "$V" "$M" --passphrase-file "$V.pass"
IT_MOUNTS+=("$M")
printf 'first vault\n' >"$M/which" || not_ok "write to the first mount"
V2=$IT_TMP/vault2
make_vault "$V2"
expect_error "mount point already mounted" 'mount' recfs mount "$V2" "$M" --passphrase-file "$V2.pass"
assert_eq "the first mount still serves the first vault" "first vault" "$(cat "$M/which" 2>&1)"
assert_eq "the second vault was not left locked" 0 "$(vault_unlocked "$V2"; echo $?)"
expect_error "vault already mounted elsewhere (lock)" 'mounted|lock|in use|busy' \
	recfs mount "$V" "$M2" --passphrase-file "$V.pass"
check "second mount point not mounted" not_mounted "$M2"
check "recfs umount" recfs umount "$M"
check "umount released the lock" vault_unlocked "$V"
expect_error "umount of a folder that is not mounted" 'not mounted|mount' recfs umount "$M"
expect_error "umount of a missing folder" 'no such|not exist|mount' recfs umount "$IT_TMP/no-mnt"

# ---- passwd ----
check "mount to write data" recfs mount "$V" "$M" --passphrase-file "$V.pass"
head -c 50000 /dev/urandom >"$IT_TMP/data"
cp "$IT_TMP/data" "$M/data" || not_ok "write data"
check "umount" recfs umount "$M"
head -c 24 /dev/urandom | base64 >"$IT_TMP/new.pass"
conf_before=$(sha256sum <"$V/recfs.conf")
expect_error "passwd with a wrong old passphrase" 'passphrase' \
	recfs passwd "$V" --passphrase-file "$IT_TMP/wrong.pass" --new-passphrase-file "$IT_TMP/new.pass"
assert_eq "failed passwd left recfs.conf unchanged" "$conf_before" "$(sha256sum <"$V/recfs.conf")"
live_before=$(cd "$V/live" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
check "recfs passwd" recfs passwd "$V" --passphrase-file "$V.pass" --new-passphrase-file "$IT_TMP/new.pass"
assert_eq "passwd re-encrypted nothing in live/" "$live_before" \
	"$(cd "$V/live" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)"
expect_error "old passphrase no longer mounts" 'passphrase' recfs mount "$V" "$M" --passphrase-file "$V.pass"
check "old passphrase: nothing mounted" nothing_mounted "$M"
check "new passphrase mounts" recfs mount "$V" "$M" --passphrase-file "$IT_TMP/new.pass"
check "data still readable after passwd" cmp "$IT_TMP/data" "$M/data"
check "umount" recfs umount "$M"
check "passphrase from standard input" bash -c "'$RECFS' mount '$V' '$M' --passphrase-file - <'$IT_TMP/new.pass'"
check "umount" recfs umount "$M"
PASSFILE=$IT_TMP/new.pass fsck_clean "$V" "after passwd"

# ---- unknown format version ----
cp "$V/recfs.conf" "$IT_TMP/conf.saved"
head -n1 "$V/recfs.conf" | grep -q '[0-9]' || not_ok "first line of recfs.conf has no version number"
sed -i '1s/[0-9][0-9]*/99/' "$V/recfs.conf"
expect_error "mount of an unknown format version" 'version' recfs mount "$V" "$M" --passphrase-file "$IT_TMP/new.pass"
check "unknown version: nothing mounted" nothing_mounted "$M"
expect_error "fsck of an unknown format version" 'version' recfs fsck "$V" --passphrase-file "$IT_TMP/new.pass"
cp "$IT_TMP/conf.saved" "$V/recfs.conf"
check "the same vault mounts again once the version is restored" \
	recfs mount "$V" "$M" --passphrase-file "$IT_TMP/new.pass"
check "umount" recfs umount "$M"

# ---- the daemon is killed: what was closed or fsync'd survives ----
export PASSFILE=$IT_TMP/new.pass
mount_vault "$V" "$M"
head -c 70000 /dev/urandom >"$IT_TMP/closed"
head -c 90000 /dev/urandom >"$IT_TMP/synced"
cp "$IT_TMP/closed" "$M/closed" || not_ok "write closed"
dd if="$IT_TMP/synced" of="$M/synced" bs=8k conv=fsync status=none || not_ok "write synced"
exec 7>>"$M/synced"   # a file still open when the daemon dies
pid=$(daemon_pid "$M")
kill -9 "$pid" && wait "$pid" 2>/dev/null
exec 7>&-
check_fails "after kill -9 the mount no longer answers" stat "$M/closed"
fusermount3 -uz "$M"
check "the dead daemon's lock is released" wait_unlocked "$V"
check "the vault mounts again after the crash" recfs mount "$V" "$M" --passphrase-file "$PASSFILE"
check "a file closed before the crash is intact" cmp "$IT_TMP/closed" "$M/closed"
check "a file fsync'd (and still open) at the crash is intact" cmp "$IT_TMP/synced" "$M/synced"
check "older data is intact" cmp "$IT_TMP/data" "$M/data"
check "umount" recfs umount "$M"
fsck_clean "$V" "after the crash"
mv "$M.daemon.log" "$M.daemon.log.killed" 2>/dev/null
finish
