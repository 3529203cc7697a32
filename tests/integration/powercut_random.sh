#!/bin/bash
# powercut_random: many power cuts at random moments of a mixed office
# workload (pc_workload.py). After each: the vault mounts, every file whose
# fsync returned reads back intact, recfs verify and git fsck --strict pass.
# PC_ROUNDS (default 6) cuts; PC_SEED fixes the randomness (printed, to replay).
# Must never: cut any file system but its own image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/powercut_lib.sh"

ROUNDS=${PC_ROUNDS:-6}
SEED=${PC_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "# powercut_random: $ROUNDS rounds, PC_SEED=$SEED"
WORKLOAD=$(dirname "$0")/pc_workload.py
pc_setup 768

for round in $(seq 1 "$ROUNDS"); do
	s=$((SEED * 100 + round))
	pc_mount
	python3 "$WORKLOAD" "$PC_M" "$PC_PROMISES" 30 "$s" >"$IT_TMP/work.out" 2>&1 &
	wpid=$!
	# cut somewhere in the first seconds of the workload, at a random ms
	sleep "$(python3 -c "import random; r=random.Random($s); print(round(r.uniform(0.3, 4.0), 3))")"
	pc_cut
	wait "$wpid" 2>/dev/null
	if pc_mount_quiet; then
		pc_check_promises "round $round (seed $s)"
		umount_vault "$PC_M" "$PC_V"
		pc_verify_clean "round $round"
	else
		not_ok "round $round (seed $s): the vault does not mount after the cut: $(tail -c 600 "$PC_M.daemon.log" | tr '\n' '|')"
		break
	fi
done

finish
