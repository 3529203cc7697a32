#!/bin/bash
# powercut_random: power cuts at random moments of a mixed office workload
# (pc_workload.py: untar, office saves, appends, O_TRUNC rewrites, renames of
# files and folders, mkdir, deletes, recfs restore, gc and passwd on the
# mount). After each cut: the vault mounts (with the new passphrase if passwd
# returned), every promise the workload was given holds (fsync'd content,
# fsyncdir'd folders and deletions), recfs verify reports nothing the cut did
# not cause, and git fsck --strict passes. The same vault is carried on for
# PC_CARRY rounds (the next round starts from what the cut left), then a
# fresh one. PC_ROUNDS cuts in all; PC_SEED (printed) replays the choices;
# PC_KEEP=DIR keeps the image and logs of the first failing round there.
# Must never: cut any file system but its own image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/powercut_lib.sh"

ROUNDS=${PC_ROUNDS:-14}
CARRY=${PC_CARRY:-7}
SEED=${PC_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "# powercut_random: $ROUNDS rounds, a fresh vault every $CARRY, PC_SEED=$SEED"
WORKLOAD=$(dirname "$0")/pc_workload.py
export RECFS PASSFILE
pc_setup 768
files_checked=0 dirs_checked=0 gone_checked=0 ops=0 torn_deleted=0

# The cut also stops the workload and its children (tar, recfs passwd), as
# the power would: one still holding a file on the image would keep it from
# unmounting, and mounting it again would find the shut-down file system.
# pc_cut calls "$GODOWN"; here that is this function.
REAL_GODOWN=$GODOWN
cut_and_stop_workload() {
	"$REAL_GODOWN" "$@" || return
	[ -n "${wpid:-}" ] && kill -9 -- "-$wpid" 2>/dev/null
	return 0
}
GODOWN=cut_and_stop_workload

# random_between S LO HI: a reproducible random number for seed S.
random_between() {
	python3 -c "import random; print(round(random.Random($1).uniform($2, $3), 3))"
}

# mount_after_cut: the vault must mount. A passwd the cut interrupted may
# have changed the slot or not: then either passphrase may open it.
mount_after_cut() {
	pc_mount_quiet && return 0
	[ -f "$PASSFILE.new" ] || return 1
	mv "$PASSFILE.new" "$PASSFILE"
	echo "# a passwd was under way at the cut; its new passphrase opens the vault"
	pc_mount_quiet
}

# workload_failed_before CUT_TIME: the workload's error, if it came before the cut.
workload_failed_before() {
	local t
	t=$(sed -n 's/^pc_workload: failed at \([0-9.]*\):.*/\1/p' "$IT_TMP/work.out")
	[ -n "$t" ] && python3 -c "import sys; sys.exit(0 if $t < $1 else 1)"
}

# verify_after_cut WHEN: recfs verify may name only files the recovery found
# unreadable and left out of history (torn by the cut: never fsync'd, or the
# known gap above; the next round deletes them); git fsck --strict passes.
verify_after_cut() {
	local when=$1 torn problems
	torn=$(grep -c '(tampered or damaged); left out of history' "$PC_M.daemon.log.done")
	recfs verify "$PC_V" --passphrase-file "$PASSFILE" >"$IT_TMP/verify.out" 2>&1
	# A torn file that no commit held yet is named "only in live/", one that was, "content differs".
	problems=$(grep -vc -e '(content differs)$' -e '(only in live/)$' -e ' problems*$' -e '^recovered after a crash' "$IT_TMP/verify.out")
	if [ "$problems" = 0 ] && [ "$(grep -c -e '(content differs)$' -e '(only in live/)$' "$IT_TMP/verify.out")" -le "$torn" ]; then
		ok "$when: recfs verify names nothing but the $torn files the cut tore"
	else
		not_ok "$when: recfs verify ($torn torn files): $(tail -c 600 "$IT_TMP/verify.out" | tr '\n' '|')"
	fi
	check "$when: git fsck --strict" git -C "$PC_V/history.git" fsck --strict --no-dangling
}

# Found by this test: a folder (rm -r) or a chunked file deleted, the deletion
# fsyncdir'd, then the cut before history committed it. Recovery took the
# folder's .dirid (or the file's chunks) for a change of a folder that no
# longer exists, called it unreadable and kept it in history, so recfs verify
# named every file in it as missing from live/ for ever.
pc_mount
pc_mkdir case1
pc_write case1/a.txt 3000
pc_write case1/b.txt 70000
pc_write big.bin 200000
check "rm -r and unlink in flight: recfs flush" recfs flush "$PC_M"
rm -r "$PC_M/case1" && rm "$PC_M/big.bin" || not_ok "rm -r case1, rm big.bin failed"
python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY))' "$PC_M"
pc_forget case1/a.txt; pc_forget case1/b.txt; pc_forget big.bin
pc_cut
pc_mount
check "a folder and a chunked file deleted just before the cut are gone" \
	bash -c "! ls -d '$PC_M/case1' '$PC_M/big.bin' 2>/dev/null | grep ."
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "rm -r and unlink, then a cut"

# Found by this test: a file never fsync'd that a cut left at 0 bytes (an
# empty file, FORMAT.md 5) is recovered into history as a 0-byte version,
# which recfs show and restore then refused ("does not authenticate").
pc_new_vault zero
pc_mount
printf 'twelve bytes' >"$PC_M/torn.txt"
umount_vault "$PC_M" "$PC_V"
ct=$(find "$PC_V/live" -type f ! -name .dirid -size $((60 + 12 + 40))c | head -1)
[ -n "$ct" ] && truncate -s 0 "$ct"    # what the cut leaves of it
pc_mount --accept-history-state
rev=$(recfs log "$PC_M/torn.txt" --json-lines -n 1 | sed -n 's/.*"rev":"\([0-9a-f]*\)".*"what":"recovered".*/\1/p')
assert_match "the 0-byte file is recovered into history" '^[0-9a-f]{40}$' "$rev"
check "recfs show reads the recovered 0-byte version" recfs show "$PC_M/torn.txt" --rev "$rev" -o "$IT_TMP/shown"
printf 'twelve bytes' >"$PC_M/torn.txt"
check "recfs restore brings the empty version back" recfs restore "$PC_M/torn.txt" --rev "$rev"
assert_eq "and the file is empty again" "" "$(cat "$PC_M/torn.txt" 2>&1)"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a recovered 0-byte version"

# Found by this test: a cut while the ref moved left libgit2's
# refs/heads/main.lock, and every later move of the ref failed on it, so
# history never caught up with live/. The next writable open removes it.
pc_new_vault reflock
pc_mount
pc_write first.txt 100
umount_vault "$PC_M" "$PC_V"
cp "$PC_V/history.git/refs/heads/main" "$PC_V/history.git/refs/heads/main.lock"
pc_mount
pc_write second.txt 100
check "a ref lock left by a cut: recfs flush" recfs flush "$PC_M"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a ref lock left by a cut"
pc_new_vault vault0

for round in $(seq 1 "$ROUNDS"); do
	s=$((SEED * 100 + round))
	if [ "$round" -gt 1 ] && [ $(((round - 1) % CARRY)) = 0 ]; then
		rm -f "$PASSFILE"
		pc_new_vault "vault$round"
	fi
	pc_mount
	PC_VAULT=$PC_V setsid python3 "$WORKLOAD" run "$PC_M" "$PC_PROMISES" 60 "$s" >"$IT_TMP/work.out" 2>&1 &
	wpid=$!
	for i in $(seq 1 300); do
		grep -q '^pc_workload: started' "$IT_TMP/work.out" && break
		kill -0 "$wpid" 2>/dev/null || break
		sleep 0.1
	done
	# the cut: at a random moment of the first seconds of the workload
	sleep "$(random_between "$s" 0.2 3.5)"
	cut_at=$(date +%s.%N)
	pc_cut
	wait "$wpid" 2>/dev/null
	set -- $(sed -n 's/^pc_workload: started, \([0-9]*\) unreadable.*/\1/p' "$IT_TMP/work.out") \
		$(grep -c '^pc_workload: op [0-9]* done' "$IT_TMP/work.out")
	torn_deleted=$((torn_deleted + ${1:-0})) ops=$((ops + ${2:-0}))
	if workload_failed_before "$cut_at"; then
		not_ok "round $round (seed $s): the workload failed before the cut: $(grep failed "$IT_TMP/work.out")"
	fi
	if ! mount_after_cut; then
		not_ok "round $round (seed $s): the vault does not mount after the cut: $(tail -c 600 "$PC_M.daemon.log" | tr '\n' '|')"
		break
	fi
	rm -f "$PASSFILE.new"
	out=$(python3 "$WORKLOAD" check "$PC_M" "$PC_PROMISES")
	printf '%s\n' "$out" | grep '^# '
	set -- $(printf '%s\n' "$out" | tail -n 1)    # BAD n FILES n DIRS n GONE n INFLIGHT n
	[ "${1:-}" = BAD ] || set -- BAD "the check failed ($out)" FILES 0 DIRS 0 GONE 0 INFLIGHT 0
	files_checked=$((files_checked + $4)) dirs_checked=$((dirs_checked + $6)) gone_checked=$((gone_checked + $8))
	if [ "$2" = 0 ]; then
		ok "round $round (seed $s): $4 files, $6 folders and $8 deletions promised, all hold"
	else
		not_ok "round $round (seed $s): $2 of $4 files, $6 folders and $8 deletions promised are broken"
	fi
	umount_vault "$PC_M" "$PC_V"
	verify_after_cut "round $round"
	if [ "$IT_FAIL" -gt 0 ] && [ -n "${PC_KEEP:-}" ]; then
		sync -f "$PC_DISK/." && cp --sparse=always "$PC_IMG" "$PC_KEEP/disk.img"
		cp "$PC_PROMISES" "$PASSFILE" "$IT_TMP/work.out" "$PC_M.daemon.log"* "$PC_KEEP/" 2>/dev/null
		echo "# kept the image of round $round in $PC_KEEP (vault $(basename "$PC_V"))"
		break
	fi
done

echo "# powercut_random: $ROUNDS cuts after $ops operations; checked $files_checked files, $dirs_checked folders, $gone_checked deletions; $torn_deleted never-fsync'd files torn by a cut (PC_SEED=$SEED)"
finish
