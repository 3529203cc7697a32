#!/usr/bin/env bash
# demo_retention: the demo vault's retention story, end to end, as README's walk shows it.
#
# Owns: checking that `recfs demo` loads its schedule (tools/demo_policy.conf) and leaves the
# records it promises: the case closed 9 years ago due for review, the contract that ended 7
# years ago due for archive, the unsuccessful tender due for destruction, the case under a
# named hold and the case under the moratorium held, and the case closed and the contract
# ended 2 years ago not due; `recfs due` (--json, parsed by python3) and `recfs dispose
# --dry-run` (its text, parsed by python3) say so, and the dry run destroys nothing.
# Must never: assert a time, or depend on the day it runs (the demo's dates count back from
# the current year).
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
DEMO=$IT_TMP/demo
MNT=$DEMO/mnt
stay_off_midnight
Y=$(date +%Y)
CASES=adult-social-care/cases
# Paths as the listings give them: from the mount's root, with a leading '/'.
CASES=/$CASES
CASE_DUE="$CASES/ASC-$((Y - 11))-0042 Harold Pickersgill"
CASE_HELD="$CASES/ASC-$((Y - 11))-0388 Violet Ackroyd"
CASE_MORATORIUM="$CASES/ASC-$((Y - 13))-0017 Winifred Stott"
CASE_RECENT="$CASES/ASC-$((Y - 5))-0261 Ronald Firth"
CONTRACT_DUE="/home-care-contracts/HC-$((Y - 13))-02 Dalesway Care Services Ltd"
CONTRACT_RECENT="/home-care-contracts/HC-$((Y - 6))-05 Calderbrook Care Ltd"
TENDER_DUE="/tenders/unsuccessful/TND-$((Y - 2))-04 Ashgrove Care night sitting bid"
DEED="/home-care-contracts/sealed/DEED-$((Y - 9))-01 Heatherbank House lease"

# Retention commands as a records manager types them, from inside the mount.
rm_cmd() {
	(cd "$MNT" && recfs "$@")
}

check "the demo's schedule in the source tree passes 'recfs policy check'" \
	recfs policy check "$SRC/tools/demo_policy.conf"

IT_MOUNTS+=("$MNT")
recfs demo "$DEMO" --insecure-fast-kdf >"$IT_TMP/demo.out" 2>&1 ||
	die "recfs demo failed: $(tail -c 800 "$IT_TMP/demo.out")"
ok "recfs demo made, filled and mounted the demo vault, and told its retention story"

# step_of FILE PATH: "STEP HOLD" that the listing in FILE gives PATH ("absent" if none): FILE
# is JSON (recfs due --json), or the text of recfs dispose --dry-run (fields separated by two
# spaces: path from the mount's root, class, step, trigger, due, hold).
step_of() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
try:
    rows = json.loads(text)
except ValueError:
    rows = []
    for line in text.splitlines():
        f = line.split("  ")
        if len(f) >= 3:
            rows.append({"path": "/" + f[0].lstrip("/"), "step": f[2], "hold": f[5] if len(f) > 5 else ""})
found = [r for r in rows if r.get("path") == sys.argv[2]]
print(" ".join([found[0]["step"], found[0].get("hold", "")]).strip() if found else "absent")
EOF
}

rm_cmd due --json >"$IT_TMP/due.json" 2>"$IT_TMP/due.err" ||
	die "recfs due --json failed: $(cat "$IT_TMP/due.err")"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$IT_TMP/due.json" ||
	die "recfs due --json is not JSON: $(head -c 400 "$IT_TMP/due.json")"
assert_eq "due: the case closed 9 years ago is due for review" "review" "$(step_of "$IT_TMP/due.json" "$CASE_DUE")"
assert_eq "due: the contract that ended 7 years ago is due for archive" "archive" "$(step_of "$IT_TMP/due.json" "$CONTRACT_DUE")"
assert_eq "due: the unsuccessful tender of 2 years ago (created by the demo's clock) is due for destruction" \
	"destroy" "$(step_of "$IT_TMP/due.json" "$TENDER_DUE")"
assert_eq "due: the case under the Ombudsman's hold is held, by that hold" "held ombudsman-complaint" \
	"$(step_of "$IT_TMP/due.json" "$CASE_HELD")"
assert_eq "due: the case opened in the moratorium's years is held, by the moratorium" "held heatherbank-inquiry" \
	"$(step_of "$IT_TMP/due.json" "$CASE_MORATORIUM")"
for p in "$CASE_RECENT" "$CONTRACT_RECENT" "$DEED"; do
	assert_eq "due: $p (closed or ended too recently) is not due" "absent" "$(step_of "$IT_TMP/due.json" "$p")"
done
assert_eq "due: exactly those five records are due" 5 \
	"$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$IT_TMP/due.json")"

# The text form names the same records.
rm_cmd due >"$IT_TMP/due.txt" 2>&1
assert_match "due (text) names the case due for review" "ASC-$((Y - 11))-0042 Harold Pickersgill" "$(cat "$IT_TMP/due.txt")"

# A dry run exits 1 when a due record stays (held, or awaiting approval), never 2.
rm_cmd dispose --dry-run >"$IT_TMP/dry.txt" 2>"$IT_TMP/dry.err"
rc=$?
[ $rc -le 1 ] || die "recfs dispose --dry-run failed (exit $rc): $(cat "$IT_TMP/dry.err")"
assert_eq "dry run: the case closed 9 years ago awaits approval" review "$(step_of "$IT_TMP/dry.txt" "$CASE_DUE")"
assert_eq "dry run: the contract that ended 7 years ago would be archived" archive \
	"$(step_of "$IT_TMP/dry.txt" "$CONTRACT_DUE")"
assert_eq "dry run: the tender would be destroyed" destroy "$(step_of "$IT_TMP/dry.txt" "$TENDER_DUE")"
assert_eq "dry run: the held case is held" "held ombudsman-complaint" "$(step_of "$IT_TMP/dry.txt" "$CASE_HELD")"
assert_eq "dry run: the moratorium's case is held" "held heatherbank-inquiry" \
	"$(step_of "$IT_TMP/dry.txt" "$CASE_MORATORIUM")"
for p in "$CASE_RECENT" "$CONTRACT_RECENT" "$DEED"; do
	assert_eq "dry run: $p is not listed" "absent" "$(step_of "$IT_TMP/dry.txt" "$p")"
done
for p in "$CASE_DUE" "$CONTRACT_DUE" "$TENDER_DUE" "$CASE_HELD" "$CASE_MORATORIUM"; do
	check "dry run destroyed nothing: $p still reads" test -s "$(find "$MNT/$p" -type f | head -1)"
done
check "dry run archived nothing" test -z "$(ls -A "$DEMO/archive")"

# What the records listing says of them.
rm_cmd records --json >"$IT_TMP/records.json" 2>"$IT_TMP/records.err" ||
	die "recfs records --json failed: $(cat "$IT_TMP/records.err")"
field_of() {   # field_of PATH FIELD: that field of PATH's row in recfs records --json
	python3 - "$IT_TMP/records.json" "$1" "$2" <<'EOF'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r.get("path") == sys.argv[2]]
print(str(rows[0].get(sys.argv[3], "?")).lower() if rows else "absent")
EOF
}
assert_eq "records: the 9-year case's class" adult-social-care-case "$(field_of "$CASE_DUE" class)"
assert_eq "records: it closed 9 years ago" "$((Y - 9))-05-02" "$(field_of "$CASE_DUE" closed)"
assert_eq "records: it is locked (closed, lock = when closed)" true "$(field_of "$CASE_DUE" locked)"
assert_eq "records: the tender's created date follows the demo's clock" "$((Y - 2))-02-10" \
	"$(field_of "$TENDER_DUE" created)"
assert_eq "records: the contract's end date" "$((Y - 7))-03-31" \
	"$(python3 -c 'import json,sys
r=[r for r in json.load(open(sys.argv[1])) if r.get("path")==sys.argv[2]]
print(r[0].get("trigger") if r else "absent")' "$IT_TMP/records.json" "$CONTRACT_DUE")"
assert_match "records: the closed telecare service is a record, with no trigger until its transfer" \
	"record  /telecare-alarm-service \\(closed 2023\\)  closed-service  .*no trigger date" \
	"$(rm_cmd records 2>&1)"

# The holds and the reason in one sentence.
rm_cmd hold list --json >"$IT_TMP/holds.json" 2>&1
assert_eq "hold list: the named hold and the moratorium" "heatherbank-inquiry ombudsman-complaint" \
	"$(python3 -c 'import json,sys; print(" ".join(sorted(h["name"] for h in json.load(open(sys.argv[1])))))' "$IT_TMP/holds.json")"
assert_match "why: the held case names its hold" "ombudsman-complaint" "$(rm_cmd why "$MNT/$CASE_HELD" 2>&1)"
assert_match "why: the moratorium's case names the moratorium" "heatherbank-inquiry" \
	"$(rm_cmd why "$MNT/$CASE_MORATORIUM" 2>&1)"

# A closed case is locked in the mount: it reads, and refuses a change.
check "the closed case reads" cat "$MNT/$CASE_DUE/care-plan.md"
check_fails "the closed case refuses an append" sh -c "echo more >>'$MNT/$CASE_DUE/care-plan.md'"

umount_vault "$MNT" "$DEMO/vault"
finish
