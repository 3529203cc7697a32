#!/bin/bash
# syscalls: what the daemon asks the kernel for the load of a tar x, counted with strace on the
# daemon (skipped without strace): 30 files written as tar writes them (10,240-byte records) in
# 3 new folders, then a flush. Block nonces come from a per-thread pool (crypto/random.c), so
# far fewer getrandom calls than blocks sealed (at least one per block before); an append after
# the old last block reserves space in one fallocate (two before: 270 for these 180 WRITEs, as
# the kernel ends a record that starts inside a page at the page's end); and no object is looked for
# as a loose file in history.git/objects (a failing utimensat per commit and per new folder
# before). The files read back and `recfs verify` is clean.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"
PID=$(daemon_pid "$M")
head -c 40960 /dev/urandom >"$IT_TMP/src"
# 4 records of 10,240 bytes per file: 10 blocks, and at most 6 WRITEs (3 records start inside a page)
FILES=30 WRITES=$((30 * 6)) BLOCKS=$((30 * 10))

if ! command -v strace >/dev/null; then
	ok "# skip: no strace here, so the calls are not counted"
else
	strace -f -e trace=getrandom,fallocate,utimensat -p "$PID" -o "$IT_TMP/strace.out" \
		2>"$IT_TMP/strace.err" &
	SPID=$!
	for i in $(seq 1 100); do   # "Process N attached with M threads"
		grep -q attached "$IT_TMP/strace.err" && break
		sleep 0.1
	done
	for d in a b c; do
		mkdir "$M/$d"
		for i in $(seq 1 10); do
			dd if="$IT_TMP/src" of="$M/$d/f$i" bs=10240 status=none
		done
	done
	check "flush" recfs flush "$M"
	sleep 0.3
	kill -INT "$SPID"
	wait "$SPID" 2>/dev/null
	n_random=$(grep -c 'getrandom(' "$IT_TMP/strace.out")
	n_falloc=$(grep -c 'fallocate(' "$IT_TMP/strace.out")
	n_loose=$(grep -c 'utimensat(.*history.git/objects/' "$IT_TMP/strace.out")
	if [ "$n_random" -lt $((BLOCKS / 2)) ]; then
		ok "$BLOCKS blocks sealed with $n_random getrandom calls"
	else
		not_ok "$BLOCKS blocks sealed with $n_random getrandom calls (want fewer than $((BLOCKS / 2)))"
	fi
	if [ "$n_falloc" -le "$WRITES" ]; then
		ok "at most $WRITES appending writes reserved space with $n_falloc fallocate calls"
	else
		not_ok "at most $WRITES appending writes reserved space with $n_falloc fallocate calls (want at most one each)"
	fi
	assert_eq "no object looked for as a loose file in history.git/objects" 0 "$n_loose"
fi
for d in a b c; do
	check "$d/f10 reads back" cmp "$IT_TMP/src" "$M/$d/f10"
done
log=$(recfs log "$M/b/f3" --json-lines -n 10 2>&1)
assert_match "log lists the file's save" '"what":"saved"' "$log"
umount_vault "$M" "$V"
check "verify is clean" recfs verify "$V" --passphrase-file "$V.pass"
fsck_clean "$V" "after the writes"
finish
