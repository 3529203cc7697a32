#!/usr/bin/env bash
# many_files.sh: a vault of many more files than the daemon may hold descriptors.
#
# Owns: the daemon under a hard open-file limit of 4,096 that it cannot raise
# (set on the running daemon with prlimit, after it started), a tree of 20,000
# files walked three times with find, ls -lR, cat and stat, then dd, recfs
# flush and recfs log. No EMFILE, "Too many open files" or protocol error may
# appear anywhere, and the daemon's descriptors must stay far below the limit.
# Must never: raise a limit, or depend on the kernel's inode cache being warm or cold.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault
M=$IT_TMP/mnt
ERR=$IT_TMP/errors.txt
FOLDERS=40
PER_FOLDER=500           # 20,000 files: five times the limit
LIMIT=4096
: >"$ERR"

make_vault "$V"

# Cap the running daemon itself: a limit set before it starts, root's daemon could raise.
mount_limited() {
	local pid
	mount_vault "$V" "$M"
	pid=$(daemon_pid "$M")
	prlimit --pid "$pid" --nofile=$LIMIT:$LIMIT || die "prlimit on the daemon ($pid) failed"
	assert_eq "the daemon's open-file limit is $LIMIT:$LIMIT" "$LIMIT $LIMIT" \
		"$(awk '/^Max open files/ { print $4, $5 }' "/proc/$pid/limits")"
}

# run DESC CMD...: CMD must succeed; its stderr is kept for the error scan at the end.
run() {
	local desc=$1 rc
	shift
	"$@" 2>>"$ERR" >"$IT_TMP/.run.out"
	rc=$?
	if [ $rc -eq 0 ]; then ok "$desc"; else not_ok "$desc (exit $rc: $(tail -c 300 "$ERR" | tr '\n' '|'))"; fi
}

daemon_fds() {
	ls "/proc/$(daemon_pid "$M")/fd" | wc -l
}

make_tree() {
	local d i
	for d in $(seq 1 $FOLDERS); do
		mkdir -p "$M/tree/d$d" || return 1
		for i in $(seq 1 $PER_FOLDER); do
			printf '%s/%s\n' "$d" "$i" >"$M/tree/d$d/f$i" || return 1
		done
	done
}

walk() {
	local n
	n=$(find "$M/tree" -type f -name 'f*' 2>>"$ERR" | wc -l)
	assert_eq "find $1 sees every file" $((FOLDERS * PER_FOLDER)) "$n"
	n=$(ls -lR "$M/tree" 2>>"$ERR" | grep -c ' f[0-9]*$')
	assert_eq "ls -lR $1 lists every file" $((FOLDERS * PER_FOLDER)) "$n"
	n=$(find "$M/tree" -type f -name 'f*' -exec cat {} + 2>>"$ERR" | wc -l)
	assert_eq "cat $1 reads every file" $((FOLDERS * PER_FOLDER)) "$n"
	n=$(find "$M/tree" -type f -name 'f*' -exec stat -c %s {} + 2>>"$ERR" | grep -c '^[0-9]')
	assert_eq "stat $1 answers for every file" $((FOLDERS * PER_FOLDER)) "$n"
	echo "# walk $1: ${SECONDS}s since start"
	assert_eq "$M/tree/d$FOLDERS/f$PER_FOLDER $1 holds its own text" "$FOLDERS/$PER_FOLDER" \
		"$(cat "$M/tree/d$FOLDERS/f$PER_FOLDER" 2>>"$ERR")"
}

# ---- made under the limit, walked while the kernel knows every inode ----
mount_limited
run "$((FOLDERS * PER_FOLDER)) files in $FOLDERS folders are created" make_tree
echo "# made: ${SECONDS}s since start"
walk "(warm)"
fds=$(daemon_fds)
[ "$fds" -lt $((LIMIT / 2)) ] && ok "the daemon holds $fds descriptors for $((FOLDERS * PER_FOLDER)) known files" ||
	not_ok "the daemon holds $fds descriptors (want fewer than $((LIMIT / 2)))"

# A file and a folder removed while open stay reachable through their handles, however
# much the descriptor cache turns over meanwhile.
mkdir "$M/gone-dir" && echo "still here" >"$M/gone-file"
exec 3<>"$M/gone-file" 4<"$M/gone-dir"
find "$M/tree" -type f -name 'f*' -exec cat {} + >/dev/null 2>>"$ERR"
rm "$M/gone-file" && rmdir "$M/gone-dir"
run "fchmod of a removed file still open" chmod 600 /proc/self/fd/3
assert_eq "and it still reads" "still here" "$(cat <&3 2>>"$ERR")"
run "fchmod of a removed folder still open" chmod 700 /proc/self/fd/4
exec 3>&- 4<&-

# Folder renames still cost nothing, and the files below still open.
run "a folder of $PER_FOLDER files is renamed" mv "$M/tree/d1" "$M/tree/renamed"
assert_eq "a file in the renamed folder reads back" "1/$PER_FOLDER" "$(cat "$M/tree/renamed/f$PER_FOLDER" 2>>"$ERR")"
run "and is renamed back" mv "$M/tree/renamed" "$M/tree/d1"

# dd opens, writes and saves files across the tree; flush and log see them.
dd_all() {
	local d
	for d in $(seq 1 $FOLDERS); do
		dd if=/dev/zero of="$M/tree/d$d/dd.bin" bs=4k count=4 conv=fsync status=none || return 1
		dd if="$M/tree/d$d/f$d" of=/dev/null status=none || return 1
	done
}
run "dd writes a file in each folder and reads another" dd_all
run "recfs flush" recfs flush "$M"
run "recfs log of a dd-written file" recfs log "$M/tree/d$FOLDERS/dd.bin"
assert_match "recfs log shows its save" 'dd\.bin' "$(cat "$IT_TMP/.run.out")"
run "recfs log of the vault" recfs log "$M" -n 50
umount_vault "$M" "$V"

# ---- a fresh daemon under the limit: everything is reached again from the root ----
mount_limited
walk "(after remount)"
sync
echo 2 >/proc/sys/vm/drop_caches 2>/dev/null   # the kernel forgets; the daemon must forget too
walk "(after the kernel dropped its caches)"
run "dd again" dd_all
run "recfs flush again" recfs flush "$M"
fds=$(daemon_fds)
[ "$fds" -lt $((LIMIT / 2)) ] && ok "after remount the daemon holds $fds descriptors" ||
	not_ok "after remount the daemon holds $fds descriptors (want fewer than $((LIMIT / 2)))"
run "rm -rf of the whole tree" rm -rf "$M/tree"
umount_vault "$M" "$V"

if grep -Eqi 'too many open files|protocol error|EMFILE' "$ERR" "$M".daemon.log.done 2>/dev/null; then
	not_ok "no EMFILE or protocol error anywhere: $(grep -Ehi -m5 'too many open files|protocol error|EMFILE' "$ERR" "$M".daemon.log.done | tr '\n' '|')"
else
	ok "no EMFILE, 'Too many open files' or protocol error anywhere"
fi
finish
