#!/bin/bash
# removals: an UNLINK or RMDIR is answered before the removed file is freed. The last close of a
# removed entry frees its blocks on the backing file system, and with ext4's discard (or no
# journal) it waits for the disk; the daemon holds the entry open across its unlinkat and leaves
# that close to its closer threads (fs/closer.h). Counted with strace on the daemon: at least
# one close per removed entry is made by a closer thread (none on main). The delete is still an
# event in history (log shows it, restore brings the file back). Without strace the count is
# skipped.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"
PID=$(daemon_pid "$M")

closers=$(grep -lx recfs-closer /proc/"$PID"/task/*/comm 2>/dev/null | sed 's|/proc/[0-9]*/task/\([0-9]*\)/comm|\1|')
assert_eq "the daemon runs 4 closer threads" 4 "$(printf '%s\n' $closers | grep -c .)"

mkdir -p "$M/a/b"
for i in $(seq 1 30); do head -c 9000 /dev/urandom >"$M/a/f$i"; done
for i in $(seq 1 5); do head -c 5000 /dev/urandom >"$M/a/b/g$i"; done
ln -s f1 "$M/a/link"
cp "$M/a/f7" "$IT_TMP/f7.want"
check "flush before the removal" recfs flush "$M"
ENTRIES=38   # 35 files, a link, 2 folders

if ! command -v strace >/dev/null; then
	ok "# skip: no strace here, so the closes are not counted"
	rm -rf "${M:?}/a"
else
	strace -f -e trace=close -p "$PID" -o "$IT_TMP/strace.out" 2>"$IT_TMP/strace.err" &
	SPID=$!
	for i in $(seq 1 100); do   # "Process N attached with M threads"
		grep -q attached "$IT_TMP/strace.err" && break
		sleep 0.1
	done
	rm -rf "${M:?}/a"
	stat -f "$M" >/dev/null   # statfs waits for the closer
	sleep 0.5
	kill -INT "$SPID"
	wait "$SPID" 2>/dev/null
	by_closer=0
	for t in $closers; do
		by_closer=$((by_closer + $(grep -cE "^$t +close\\(" "$IT_TMP/strace.out")))  # strace pads the TID
	done
	if [ "$by_closer" -ge "$ENTRIES" ]; then
		ok "rm -rf of $ENTRIES entries: $by_closer last closes made by the closer threads, after the replies"
	else
		not_ok "rm -rf of $ENTRIES entries: only $by_closer closes by the closer threads (want at least $ENTRIES; $(grep -c 'close(' "$IT_TMP/strace.out") closes in all; $(head -c 300 "$IT_TMP/strace.err" | tr '\n' '|'))"
	fi
fi
check "rm -rf removed the tree" test ! -e "$M/a"

# The delete is an event in history, and the file comes back.
log=$(recfs log "$M/a/f7" --json-lines -n 100 2>&1)
assert_match "log lists the removed file's delete" '"what":"deleted"' "$(printf '%s\n' "$log" | head -1)"
rev=$(printf '%s\n' "$log" | sed -n 2p | sed -n 's/.*"rev":"\([^"]*\)".*/\1/p')
check "restore brings the removed file back" recfs restore "$M/a/f7" --rev "$rev"
check "with its content" cmp "$IT_TMP/f7.want" "$M/a/f7"

umount_vault "$M" "$V"
fsck_clean "$V" "after the removals"
finish
