#!/bin/bash
# crash: the daemon is killed with SIGKILL at different moments of a workload
# (issue 4, must hold 5). After each kill and a new mount: every file closed
# or fsync'd before the kill is in the mount and in history with its bytes,
# the recovery is a commit of its own, git fsck and recfs verify pass.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt VIEW=$IT_TMP/view
make_vault "$V"
mount_vault "$V" "$M"

declare -A WANT   # path in the vault (no leading /) -> sha256 of what was closed or fsync'd
RECOVERIES=0      # rounds in which history lagged live/ at the kill

vlog() {
	recfs log "$@" --json-lines -n 1000000 2>/dev/null
}

jfield() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

# The seq of the newest commit (0 for none).
head_seq() {
	recfs log "$M" --json-lines -n 1 2>/dev/null | sed -n 's/.*"seq":\([0-9]*\).*/\1/p' | head -n1 | grep . || echo 0
}

# want REL: remember the content REL has now (it was just closed or fsync'd).
want() {
	WANT[$1]=$(sha256sum <"$2" | cut -d' ' -f1)
}

# live_lag VAULT: how many files of live/ differ from the newest commit's
# tree (which mirrors live/ name for name; a chunk tree is its chunks joined,
# see docs/HISTORY.md). Computed with git alone, read-only.
live_lag() {
	local gd=$1/history.git c
	git --git-dir="$gd" ls-tree -r --format='%(objectmode) %(objectname) %(path)' HEAD |
		awk '$1 != "120000" { print $2, $3 }' >"$IT_TMP/head.lst"
	for c in $(sed -n 's|^[0-9a-f]* \(.*\)/\.recfs-chunks$|\1|p' "$IT_TMP/head.lst"); do
		grep " $c/[0-9a-f]*$" "$IT_TMP/head.lst" | sort -k2 | cut -d' ' -f1 |
			while read -r b; do git --git-dir="$gd" cat-file blob "$b"; done |
			git hash-object --stdin | sed "s|\$| $c|" >>"$IT_TMP/head.lst"
		sed -i "\| $c/|d" "$IT_TMP/head.lst"
	done
	(cd "$1/live" && find . -type f -printf '%P\n' | sort >"$IT_TMP/live.paths" &&
		git hash-object --stdin-paths <"$IT_TMP/live.paths" | paste -d' ' - "$IT_TMP/live.paths") >"$IT_TMP/live.lst"
	sort "$IT_TMP/head.lst" -o "$IT_TMP/head.lst"
	sort "$IT_TMP/live.lst" -o "$IT_TMP/live.lst"
	comm -3 "$IT_TMP/head.lst" "$IT_TMP/live.lst" | awk '{ print $2 }' | sort -u | wc -l
}

# kill_daemon: SIGKILL the daemon, lazily unmount, check the vault as the
# crash left it (git fsck, recfs verify) and count where history lags live/.
kill_daemon() {
	local pid
	pid=$(daemon_pid "$M")
	kill -9 "$pid" || not_ok "kill -9 of the daemon $pid"
	wait "$pid" 2>/dev/null
	fusermount3 -uz "$M" 2>/dev/null
	check_daemon_log "$M"
	check "the killed daemon's lock is released" wait_unlocked "$V"
	check "git fsck --strict passes on the vault as the crash left it" \
		git --git-dir="$V/history.git" fsck --strict
	LAGGED=$(live_lag "$V")
	echo "# history lagged live/ at $LAGGED file(s) at the kill"
	recfs verify "$V" --passphrase-file "$V.pass" >"$IT_TMP/verify.crash" 2>&1
	assert_eq "before recovery, verify finds nothing wrong but a lagging live/" 0 \
		"$(grep -v -e 'live/ differs' -e '^recovered after a crash' "$IT_TMP/verify.crash" | grep -vc 'commits,.*checked')"
	if [ "$LAGGED" -gt 0 ]; then
		check "before recovery, verify reports that live/ differs from the newest commit" \
			grep -q 'live/ differs from the newest commit' "$IT_TMP/verify.crash"
	fi
}

# count_unlike DIR WHAT: how many files of WANT are not under DIR with the
# bytes remembered (each one named).
count_unlike() {
	local rel bad=0
	for rel in "${!WANT[@]}"; do
		[ "$(sha256sum <"$1/$rel" 2>/dev/null | cut -d' ' -f1)" = "${WANT[$rel]}" ] || {
			bad=$((bad + 1))
			echo "# $rel is not $2 as closed" >&2
		}
	done
	echo "$bad"
}

# after_crash ROUND SEQ: mount again and check everything in WANT, the
# recovery commit (newer than SEQ), git and verify.
after_crash() {
	local round=$1 seq0=$2 recs rev
	mount_vault "$V" "$M"
	assert_eq "$round: all ${#WANT[@]} files closed or fsync'd before the kills are in the mount, byte for byte" \
		0 "$(count_unlike "$M" "in the mount")"

	vlog "$M" | awk -v s="$seq0" -F'"seq":' '{ split($2, a, ","); if (a[1] + 0 > s) print }' >"$IT_TMP/new.json"
	recs=$(grep -c '"what":"recovered"' "$IT_TMP/new.json")
	if [ "$LAGGED" -gt 0 ]; then
		RECOVERIES=$((RECOVERIES + 1))
		check "$round: history lagged at the kill, so a 'recovered' version follows it ($recs)" test "$recs" -gt 0
		for rev in $(grep '"what":"recovered"' "$IT_TMP/new.json" | jfield rev | sort -u); do
			assert_eq "$round: recovery commit ${rev:0:12} is a commit of its own (only recovered/deleted)" 0 \
				"$(grep "\"rev\":\"$rev\"" "$IT_TMP/new.json" | grep -vc '"what":"\(recovered\|deleted\)"')"
		done
	else
		assert_eq "$round: history was complete at the kill, so no recovery commit" 0 "$recs"
	fi

	# history: the newest commit, mounted as a read-only view, holds every file
	check "$round: flush" recfs flush "$M"
	mount_vault "$V" "$VIEW" --at HEAD
	assert_eq "$round: all ${#WANT[@]} files are in the newest commit of history, byte for byte" \
		0 "$(count_unlike "$VIEW" "in the newest commit")"
	check "$round: umount of the view" recfs umount "$VIEW"
	wait "$(daemon_pid "$VIEW")"
	check_daemon_log "$VIEW"

	umount_vault "$M" "$V"
	check "$round: git fsck --strict passes after the recovery" git --git-dir="$V/history.git" fsck --strict
	check "$round: recfs verify passes after the recovery" recfs verify "$V" --passphrase-file "$V.pass"
	fsck_clean "$V" "after the recovery ($round)"
	mount_vault "$V" "$M"
}

# log_has REL: recfs log lists REL, and its newest version's content is WANT[REL].
log_has() {
	local rev
	rev=$(vlog "$M/$1" | head -n1 | jfield rev)
	[ -n "$rev" ] && [ "$(recfs show "$M/$1" --rev "$rev" | sha256sum | cut -d' ' -f1)" = "${WANT[$1]}" ]
}

# ---- round 1: right after a batch of closes ----
mkdir -p "$M/batch"
printf 'kept\n' >"$M/batch/old"
want batch/old "$M/batch/old"
check "round 1: flush the first file" recfs flush "$M"
seq0=$(head_seq)
for i in $(seq 1 60); do
	head -c $((i * 97)) /dev/urandom >"$IT_TMP/src"
	cp "$IT_TMP/src" "$M/batch/f$i"
	want "batch/f$i" "$IT_TMP/src"
done
printf 'overwritten\n' >"$M/batch/old"
want batch/old "$M/batch/old"
kill_daemon
after_crash "round 1 (after a batch of closes)" "$seq0"
check "round 1: recfs log lists the last file closed, with its content" log_has batch/f60
check "round 1: recfs log lists the overwritten file, with its content" log_has batch/old

# ---- round 2: in the middle of tar -x of a tree ----
SRC=$IT_TMP/tree
# 40 folders of 25 files: enough that the kill, polled every 50 ms once 150 entries are listed,
# lands inside tar -x now that a mkdir waits on no sync (with 12, tar could end between two polls).
for d in $(seq 1 40); do
	mkdir -p "$SRC/dir$d/sub"
	for f in $(seq 1 25); do
		head -c $(((d * 25 + f) * 37 % 9000)) /dev/urandom >"$SRC/dir$d/sub/file$f"
	done
done
head -c 1500000 /dev/urandom >"$SRC/dir6/big-two-chunks"   # past one history chunk
(cd "$SRC" && tar -cf "$IT_TMP/tree.tar" .)
seq0=$(head_seq)
mkdir "$M/untar"
tar -xvf "$IT_TMP/tree.tar" -C "$M/untar" >"$IT_TMP/tar.list" 2>"$IT_TMP/tar.err" &
tarpid=$!
for i in $(seq 1 300); do
	[ "$(wc -l <"$IT_TMP/tar.list")" -ge 150 ] && break
	kill -0 "$tarpid" 2>/dev/null || break
	sleep 0.05
done
kill_daemon
wait "$tarpid"
tarrc=$?
listed=$(wc -l <"$IT_TMP/tar.list")
echo "# round 2: tar had listed $listed entries at the kill (exit $tarrc)"
check "round 2: the kill came in the middle of tar -x (tar failed)" test "$tarrc" -ne 0
# tar names each member before extracting it and goes on naming members
# after the kill, failing each: every listed regular file before the first
# one tar reported failing was written and closed before the kill.
grep -o '^tar: \./[^:]*' "$IT_TMP/tar.err" | sed 's|^tar: \./||' | head -n1 >"$IT_TMP/first.err"
check "round 2: tar reported the first member it failed on ($(cat "$IT_TMP/first.err"))" test -s "$IT_TMP/first.err"
n=0
while read -r rel; do
	rel=${rel#./}
	rel=${rel%/}      # tar lists a folder as "./dir8/" and names it "./dir8" when it fails
	[ "$rel" = "$(cat "$IT_TMP/first.err")" ] && break
	[ -f "$SRC/$rel" ] || continue
	WANT["untar/$rel"]=$(sha256sum <"$SRC/$rel" | cut -d' ' -f1)
	last=untar/$rel
	n=$((n + 1))
done <"$IT_TMP/tar.list"
check "round 2: at least 50 files were closed before the kill ($n)" test "$n" -ge 50
after_crash "round 2 (in the middle of tar -x)" "$seq0"
check "round 2: recfs log lists the last file tar closed ($last), with its content" log_has "$last"

# ---- round 3: right after fsync of a file still open ----
seq0=$(head_seq)
mkdir -p "$M/open"
head -c 200000 /dev/urandom >"$IT_TMP/synced"
exec 7>"$M/open/synced"
cat "$IT_TMP/synced" >&7
sync "$M/open/synced" || not_ok "round 3: fsync (sync FILE) of the open file"
printf 'closed before the kill\n' >"$M/open/closed"
want open/closed "$M/open/closed"
rm "$M/batch/f1" && unset 'WANT[batch/f1]'
mv "$M/batch/f2" "$M/open/moved" && WANT[open/moved]=${WANT[batch/f2]} && unset 'WANT[batch/f2]'
head -c 5000 /dev/urandom >&7   # written after the fsync, never closed: no promise
kill_daemon
exec 7>&-
after_crash "round 3 (after fsync of a file still open)" "$seq0"
check_fails "round 3: a file deleted before the kill stays deleted" stat "$M/batch/f1"
check_fails "round 3: a file renamed before the kill is gone from its old name" stat "$M/batch/f2"
size=$(stat -c %s "$M/open/synced")
check "round 3: the open file holds at least what was fsync'd ($size bytes)" test "$size" -ge 200000
cmp -s -n 200000 "$IT_TMP/synced" "$M/open/synced"
assert_eq "round 3: the fsync'd bytes of the open file are intact" 0 "$?"
# Bytes written after the fsync may or may not survive; the fsync'd ones must,
# in live/ and in history (as the fsync's version or in the recovered one).
rev=$(vlog "$M/open/synced" | head -n1 | jfield rev)
echo "# round 3: the newest version of the fsync'd file: $(vlog "$M/open/synced" | head -n1 | jfield what), $(vlog "$M/open/synced" | head -n1 | sed 's/.*"size":\([0-9]*\).*/\1/') bytes"
recfs show "$M/open/synced" --rev "${rev:-none}" 2>&1 | cmp -s -n 200000 - "$IT_TMP/synced"
assert_eq "round 3: the newest version of the fsync'd file in history begins with the bytes fsync'd" 0 "$?"

# ---- round 4: during a burst of overwrites of one file ----
# Each save rewrites the same 13 bytes in place (no truncation), so the file
# always holds one whole save; the one read just before the kill was closed.
seq0=$(head_seq)
printf 'burst %06d\n' 0 >"$M/burst"
(for i in $(seq 1 100000); do
	printf 'burst %06d\n' "$i" | dd of="$M/burst" conv=notrunc status=none || break
done) 2>/dev/null &
burst=$!
sleep 1
seen=$(cat "$M/burst")
kill_daemon
wait "$burst"
after_crash "round 4 (during overwrites of one file)" "$seq0"
content=$(cat "$M/burst" 2>&1)
echo "# round 4: read '$seen' just before the kill; the file holds '$content'"
check "round 4: the file holds one whole save" grep -Eqx 'burst [0-9]{6}' <<<"$content"
check "round 4: ... no older than the one read just before the kill" test "${content#burst }" \> "${seen#burst }" -o "$content" = "$seen"
assert_eq "round 4: history's newest version of the file is what the mount shows" "$content" \
	"$(recfs show "$M/burst" --rev "$(vlog "$M/burst" | head -n1 | jfield rev)" 2>&1)"

check "history lagged live/ at the kill at least once, so recovery was exercised ($RECOVERIES rounds)" test "$RECOVERIES" -ge 1
umount_vault "$M" "$V"
check "git fsck --strict at the end" git --git-dir="$V/history.git" fsck --strict
check "recfs verify at the end" recfs verify "$V" --passphrase-file "$V.pass"
fsck_clean "$V" "at the end"

# ---- a kill between mkdir and its .dirid leaves a bare folder: it must heal ----
B=$IT_TMP/bare
make_vault "$B"
mount_vault "$B" "$IT_TMP/bm"
mkdir "$IT_TMP/bm/cut-short"
cp "$B/history.git/recfs/head" "$IT_TMP/head.open"   # says "dirty", as a kill leaves it
umount_vault "$IT_TMP/bm" "$B"
cp "$IT_TMP/head.open" "$B/history.git/recfs/head"
bare_dirid=$(find "$B/live" -mindepth 2 -name .dirid)
check "the test made exactly one sub-folder id to remove" test "$(printf '%s\n' "$bare_dirid" | grep -c .)" = 1
rm -f "$bare_dirid"
fsck_clean "$B" "with a bare folder (nothing inside, nothing lost)"
mount_vault "$B" "$IT_TMP/bm"
check "a bare folder takes new files" sh -c "echo healed > '$IT_TMP/bm/cut-short/f'"
assert_eq "... and reads them back" "healed" "$(cat "$IT_TMP/bm/cut-short/f" 2>&1)"
umount_vault "$IT_TMP/bm" "$B"
check "recfs verify after the folder healed" recfs verify "$B" --passphrase-file "$B.pass"
fsck_clean "$B" "after the folder healed"

# ---- a kill after a file became a folder and a symlink a big file ----
# Each kept its name and changed type in git (blob to tree). The newest
# version of each is what live/ holds: "recovered" after a recovery, or the
# mkdir and the save when the ref moved before the kill; never "deleted".
T=$IT_TMP/types
make_vault "$T"
mount_vault "$T" "$IT_TMP/tm"
head -c 9000000 /dev/urandom >"$IT_TMP/nine"
echo hi >"$IT_TMP/tm/x"
ln -s target "$IT_TMP/tm/l"
recfs flush "$IT_TMP/tm" >/dev/null
rm "$IT_TMP/tm/x" "$IT_TMP/tm/l"
mkdir "$IT_TMP/tm/x"
cp "$IT_TMP/nine" "$IT_TMP/tm/l"
crash_daemon "$IT_TMP/tm" "$T"
mount_vault "$T" "$IT_TMP/tm"
newest_x=$(vlog "$IT_TMP/tm/x" | head -n1) newest_l=$(vlog "$IT_TMP/tm/l" | head -n1)
echo "# after the kill: $newest_x / $newest_l"
assert_match "the file that became a folder: its newest version is the folder" \
	'"what":"(recovered|created)".*"mode":"0755"' "$newest_x"
assert_match "the symlink that became a 9 MB file: its newest version is the file" \
	'"what":"(recovered|saved)".*"size":9000000,' "$newest_l"
umount_vault "$IT_TMP/tm" "$T"
finish
