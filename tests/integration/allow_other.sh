#!/bin/bash
# allow_other: -o allow_other alone must not hand root's access to every local
# user (issue 4, item 9). Mounted by root with only allow_other, an ordinary
# user (numeric uid 60001 through setpriv; no account is made) cannot read a
# 0600 file of root's, write into root's 0755 folder, delete root's files or
# chmod them: allow_other implies default_permissions, as in gocryptfs. The
# help says what each -o option does.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt U=60001
PROBE=$IT_TMP/posix_probe
cp "$POSIX_PROBE" "$PROBE" && chmod 755 "$PROBE" || die "copy posix_probe"
make_vault "$V"
mount_vault "$V" "$M" -o allow_other

as_user() { (cd / && setpriv --reuid=$U --regid=$U --clear-groups "$PROBE" op "$@" 2>&1); }

chmod 755 "$M"
printf 'secret\n' >"$M/secret" && chmod 600 "$M/secret"
mkdir -m 755 "$M/rootdir" && printf 'x\n' >"$M/rootdir/file" && chmod 644 "$M/rootdir/file"
printf 'mine\n' >"$M/rootfile" && chmod 644 "$M/rootfile"

assert_match "/proc/mounts shows default_permissions" '(^|,)default_permissions(,|$)' \
	"$(awk -v m="$M" '$2 == m { print $4 }' /proc/mounts)"
assert_eq "the user can still read a 0644 file of root's" OK "$(as_user read "$M/rootfile")"
assert_eq "the user cannot read root's 0600 file" EACCES "$(as_user read "$M/secret")"
assert_eq "the user cannot create in root's 0755 folder" EACCES "$(as_user create "$M/rootdir/new")"
assert_eq "the user cannot make a folder in root's 0755 folder" EACCES "$(as_user mkdir "$M/rootdir/sub")"
assert_eq "the user cannot delete root's file" EACCES "$(as_user unlink "$M/rootdir/file")"
assert_eq "the user cannot write root's 0644 file" EACCES "$(as_user write "$M/rootfile" x)"
assert_eq "the user cannot chmod root's file" EPERM "$(as_user chmod "$M/rootfile" 666)"
assert_eq "root's files are untouched" "secret|x|mine|644" \
	"$(cat "$M/secret" "$M/rootdir/file" "$M/rootfile" | tr '\n' '|')$(stat -c %a "$M/rootfile")"
umount_vault "$M" "$V"

help=$(recfs mount --help 2>&1)
for o in ro rw allow_other default_permissions nonempty noatime; do
	assert_match "mount --help says what -o $o does" "^ +$o +[a-z(]" "$help"
done
assert_match "mount --help says allow_other implies default_permissions" \
	'allow_other .{0,160}implies default_permissions' \
	"$(printf '%s' "$help" | tr '\n' ' ' | tr -s ' ')"
finish
