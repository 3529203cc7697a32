#!/bin/bash
# options: mount options (issue 3, must hold 2). Mounted by root with
# allow_other,default_permissions, other users get the same answers as on
# ext4: the same sequence of operations by three unprivileged users runs on a
# plain ext4 folder and on the mount, and the transcripts must be identical.
# Without allow_other other users are kept out. -o noatime is passed on, and
# readahead is widened at the first open. A daemon started with a soft limit
# of 1,024 descriptors still serves a folder of 3,000 files. With
# -o ro every write is EROFS.
# Must never: run outside its temp folder; it uses numeric uids 60001-60003
# through setpriv and creates no accounts.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt REF=$IT_TMP/ext4
UA=60001 UB=60002 UG=60003 GRP=100
PROBE=$IT_TMP/posix_probe
cp "$POSIX_PROBE" "$PROBE" && chmod 755 "$PROBE" || die "copy posix_probe"
[ "$(stat -f -c %T "$IT_TMP")" = ext2/ext3 ] || echo "# note: reference folder is on $(stat -f -c %T "$IT_TMP"), not ext4"
make_vault "$V"
mount_vault "$V" "$M" -o allow_other,default_permissions
mkdir -p "$REF"

as_user() { # UID [extra setpriv args] -- CMD...
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}

setup_tree() {
	local r=$1
	chmod 755 "$r" &&
		printf 'public\n' >"$r/pub" && chmod 644 "$r/pub" &&
		printf 'private\n' >"$r/priv" && chmod 600 "$r/priv" &&
		mkdir -m 700 "$r/privdir" && printf 'x\n' >"$r/privdir/file" &&
		mkdir -m 755 "$r/rodir" &&
		mkdir "$r/sticky" && chmod 1777 "$r/sticky" &&
		printf 'root\n' >"$r/sticky/rootfile" && chmod 666 "$r/sticky/rootfile" &&
		printf 'group\n' >"$r/grp" && chown "0:$GRP" "$r/grp" && chmod 640 "$r/grp" &&
		mkdir "$r/sgid" && chown "0:$GRP" "$r/sgid" && chmod 2775 "$r/sgid"
}

# The same operations, in the same order, by the same users; one line each.
run_ops() {
	local r=$1
	op() { # USER OP PATH [ARG]
		local who=$1 uid groups=(--clear-groups)
		shift
		case $who in
		A) uid=$UA ;;
		B) uid=$UB ;;
		G) uid=$UG groups=(--groups "$GRP") ;;
		esac
		local path=$r/$2
		local arg=${3:-}
		[ "$1" = rename ] && arg=$r/$3
		printf '%s %s %s %s -> %s\n' "$who" "$1" "$2" "${3:-}" \
			"$(cd / && umask 022 && setpriv --reuid=$uid --regid=$uid "${groups[@]}" \
				"$PROBE" op "$1" "$path" "$arg" 2>&1)"
	}
	op A read pub
	op A open-write pub
	op A write pub x
	op A read priv
	op A list privdir
	op A stat privdir/file
	op A list rodir
	op A create rodir/new
	op A mkdir rodir/newdir
	op A unlink pub
	op A create sticky/a-file
	op A owner sticky/a-file
	op B unlink sticky/a-file
	op B rename sticky/a-file sticky/moved
	op B write sticky/a-file x
	op A unlink sticky/rootfile
	op A rename sticky/rootfile sticky/mine
	op A write sticky/rootfile x
	op A chown sticky/a-file 0
	op A chown sticky/a-file "$UA"
	op A chmod pub 777
	op A chmod sticky/a-file 600
	op A owner sticky/a-file
	op B read sticky/a-file
	op A utime-set pub
	op A utime-now pub
	op A utime-now sticky/rootfile
	op A utime-set sticky/a-file
	op A truncate pub 0
	op A setxattr pub
	op A setxattr sticky/a-file
	op A mkdir sticky/adir
	op B rmdir sticky/adir
	op B create sticky/adir/b
	op A rename sticky/a-file rodir/stolen
	op A symlink sticky/alink target
	op B unlink sticky/alink
	op G read grp
	op A read grp
	op G write grp x
	op G create sgid/gfile
	op G owner sgid/gfile
	op A create sgid/afile
	op G mkdir sgid/gdir
	op G owner sgid/gdir
	op A unlink sticky/a-file
	op A rmdir sticky/adir
}

check "set up the tree on ext4" setup_tree "$REF"
check "set up the same tree on the mount" setup_tree "$M"
run_ops "$REF" >"$IT_TMP/ops.ext4"
run_ops "$M" >"$IT_TMP/ops.recfs"
sed 's/^/# ext4: /' "$IT_TMP/ops.ext4"
if diff "$IT_TMP/ops.ext4" "$IT_TMP/ops.recfs" >"$IT_TMP/ops.diff"; then
	ok "$(wc -l <"$IT_TMP/ops.ext4") operations by other users give the same results as on ext4"
else
	not_ok "other users get different results than on ext4 (< ext4, > recfs): $(tr '\n' '|' <"$IT_TMP/ops.diff")"
fi
# The reference itself must show the checks biting, or the comparison proves nothing.
expect_line() {
	if grep -qxF -- "$1" "$IT_TMP/ops.recfs"; then ok "on recfs: $1"; else not_ok "on recfs, want: $1"; fi
}
expect_line "A read pub  -> OK"
expect_line "A open-write pub  -> EACCES"
expect_line "A read priv  -> EACCES"
expect_line "A create sticky/a-file  -> OK"
expect_line "A owner sticky/a-file  -> $UA:$UA 644"
expect_line "B unlink sticky/a-file  -> EPERM"
expect_line "A chown sticky/a-file 0 -> EPERM"
expect_line "G owner sgid/gfile  -> $UG:$GRP 644"
owners=$(stat -c '%u:%g %a' "$M/sgid/gfile" "$M/sgid/gdir" "$M/sticky/alink" 2>&1)
remount "$V" "$M" -o allow_other,default_permissions
assert_eq "files made by others keep their owners after remount" "$owners" \
	"$(stat -c '%u:%g %a' "$M/sgid/gfile" "$M/sgid/gdir" "$M/sticky/alink" 2>&1)"
umount_vault "$M" "$V"

# ---- without allow_other, other users are kept out ----
mount_vault "$V" "$M"
assert_eq "without allow_other another user cannot even stat the mount" EACCES \
	"$(as_user $UA "$PROBE" op stat "$M/pub")"
assert_eq "root (the mounting user) can" OK "$("$PROBE" op stat "$M/pub")"
umount_vault "$M" "$V"

# ---- noatime ----
mount_vault "$V" "$M" -o noatime
mount_opts() { awk -v m="$M" '$2 == m { print $4 }' /proc/mounts; }
assert_match "-o noatime shows in /proc/mounts" '(^|,)noatime(,|$)' "$(mount_opts)"
touch -a -d '2001-01-01 00:00:00' "$M/pub"
cat "$M/pub" >/dev/null
assert_eq "noatime: reading leaves atime alone" "$(date -d '2001-01-01 00:00:00' +%s)" "$(stat -c %X "$M/pub")"
# The kernel starts every FUSE mount at 128 KiB of readahead; root's daemon widens it at the
# first open so that streaming reads arrive 1 MiB at a time.
bdi=$(awk -v m="$M" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
if [ -w "/sys/class/bdi/$bdi/read_ahead_kb" ]; then
	assert_eq "the first open widened readahead to 4 MiB" 4096 "$(cat "/sys/class/bdi/$bdi/read_ahead_kb" 2>&1)"
else
	echo "# skip: /sys is read-only here, so readahead stays at the kernel's 128 KiB"
fi
umount_vault "$M" "$V"

# ---- many files under a low descriptor limit ----
# Started with the usual soft limit of 1,024, the daemon must still list and read a folder
# of 3,000 files (many_files.sh holds it to a hard limit of 4,096).
mount_vault "$V" "$M"
mkdir "$M/many" && (cd "$M/many" && for i in $(seq 3000); do printf '%s\n' "$i" >"f$i"; done)
umount_vault "$M" "$V"
old_limit=$(ulimit -Sn)
ulimit -Sn 1024
mount_vault "$V" "$M"
ulimit -Sn "$old_limit"
assert_eq "ls -l lists 3,000 files (daemon started with a soft limit of 1,024)" 3000 \
	"$(ls -l "$M/many" 2>&1 | grep -c ' f[0-9]*$')"
assert_eq "the last of them reads back" 3000 "$(cat "$M/many/f3000" 2>&1)"
assert_eq "find sees every one" 3000 "$(find "$M/many" -type f 2>&1 | grep -c '/f[0-9]*$')"
rm -rf "$M/many"
umount_vault "$M" "$V"

# ---- read-only ----
live_sum() { (cd "$V/live" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %Y' | sha256sum); }
before=$(live_sum)
mount_vault "$V" "$M" -o ro
assert_match "-o ro shows as ro in /proc/mounts" '(^|,)ro(,|$)' "$(mount_opts)"
assert_eq "ro: reading works" "public" "$(cat "$M/pub" 2>&1)"
for t in "create new" "write pub x" "open-write pub" "mkdir newdir" "unlink pub" "rmdir rodir" \
	"rename pub" "chmod pub 600" "chown pub 5" "truncate pub 0" "setxattr pub" "utime-now pub" "symlink ln x"; do
	set -- $t
	arg=${3:-}
	[ "$1" = rename ] && arg=$M/renamed
	assert_eq "ro: $1 fails with EROFS" EROFS "$("$PROBE" op "$1" "$M/$2" "$arg" 2>&1)"
done
check_fails "ro: cp into the mount fails" cp "$IT_TMP/ops.ext4" "$M/copied"
umount_vault "$M" "$V"
assert_eq "ro mount changed nothing in live/" "$before" "$(live_sum)"

# ---- setuid and setgid modes at create, as ext4 keeps them ----
# The daemon (root) gives a new file to its creator, and that chown cleared the bits: a file
# made with mode 4755 was 755. In a setgid folder of a group the creator is not in, the
# kernel strips setgid first, on both.
mount_vault "$V" "$M" -o allow_other
for d in "$M/suid" "$REF/suid" "$M/sgid" "$REF/sgid"; do mkdir -p "$d" && chmod 777 "$d"; done
chgrp 0 "$M/sgid" "$REF/sgid" && chmod 2777 "$M/sgid" "$REF/sgid"
modes() {
	as_user "$UA" /usr/bin/python3 -c '
import os, sys
for d in sys.argv[1:]:
    for m in (0o4755, 0o2755, 0o6700, 0o755):
        os.close(os.open(f"{d}/f{m:o}", os.O_CREAT | os.O_WRONLY, m))
    os.mknod(f"{d}/n6755", 0o100000 | 0o6755)' "$1/suid" "$1/sgid" &&
	(cd "$1" && stat -c '%n %a %u:%g' suid/* sgid/*)
}
want=$(modes "$REF")
assert_match "ext4 has them: 4755 in a plain folder" "^suid/f4755 4755 $UA:" "$want"
assert_eq "new files keep the setuid and setgid bits ext4 keeps" "$want" "$(modes "$M")"
umount_vault "$M" "$V"

# ---- max_read, and a daemon that stops before the kernel's INIT is answered ----
# libfuse 3.14 ended the session when INIT did not repeat max_read: the mount command said 0
# and the mount was gone half a second later, so what was written next landed in the bare
# folder, in clear.
mount_vault "$V" "$M" -o max_read=65536
assert_match "-o max_read=65536 mounts and shows in /proc/mounts" '(^|,)max_read=65536(,|$)' \
	"$(mount_opts)"
head -c 300000 /dev/urandom >"$IT_TMP/mr.src"
cp "$IT_TMP/mr.src" "$M/mr"
assert_eq "a 300,000-byte file reads back whole in 64 KiB reads" \
	"$(sha256sum <"$IT_TMP/mr.src")" "$(dd if="$M/mr" bs=1M iflag=direct status=none | sha256sum)"
umount_vault "$M" "$V"
out=$(recfs mount "$V" "$M" --passphrase-file "$V.pass" -o max_read=100 2>&1)
assert_eq "-o max_read=100 is refused (exit 2)" 2 $?
assert_match "... saying why" "max_read=100: N is a number of bytes from 4096" "$out"
# The daemon is killed while it waits at the point in its INIT (a build with
# -Dfault_points=true): the mount command, which waits for INIT too, must fail.
RECFS_FAULT_DELAY=init:3000 "$RECFS" mount "$V" "$M" --passphrase-file "$V.pass" \
	>"$IT_TMP/init.out" 2>&1 &
waiter=$!
daemon=
for _ in $(seq 1 100); do
	# the command, the child that waits for the mount, the daemon: the newest
	is_mounted "$M" && daemon=$(pgrep -n -f "mount $V $M" || true)
	[ -n "$daemon" ] && [ "$daemon" != "$waiter" ] && break
	sleep 0.05
done
[ -n "$daemon" ] || die "no daemon for the INIT test: $(cat "$IT_TMP/init.out")"
sleep 0.5
kill -9 "$daemon"
wait "$waiter"
assert_eq "a daemon killed in its INIT: the mount command fails (exit 2)" 2 $?
assert_match "... saying the daemon stopped" "the daemon stopped as the mount at .* started" \
	"$(cat "$IT_TMP/init.out")"
fusermount3 -uz "$M" 2>/dev/null
wait_unlocked "$V"
finish
