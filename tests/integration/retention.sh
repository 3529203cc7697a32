#!/bin/bash
# retention: the example schedule (tests/policy/anytown.conf) in a real mount (issue 11, items
# 1, 2, 3, 6 and the roles): policy check/load/show with their errors; records, why and due
# with made-up dates; a locked record, a held record and a class-and-date moratorium refuse
# cp over a file, mv, rm, a vim-style save, truncate, chmod, touch and setfattr, and read
# fine; /.recfs/retention refuses root's writes; recfs why and the daemon log name each
# refusal; a user outside the records-manager role gets EACCES for hold release and set but
# may list; the journal's history shows who placed and released a hold; a format-2 vault
# refuses every change of retention state; root's saves during jsmith's changes stay root's; a
# record with state, and a folder above records that holds some, refuse a rename (an exchange
# too), a restore --vault into a locked record is refused, and the listing follows renames
# and new records; a load
# section (parallel untars, set, hold add, ls -lR, records, due, 50 classes); a journal that
# no longer reads refuses every change. Every --json output is parsed.
# Must never: run outside its temp folder; it makes the account jsmith (the policy's
# records-manager) only when there is none, and removes it again.
. "$(dirname "$0")/lib.sh"
stay_off_midnight

CONF=$IT_TMP/anytown.conf   # the example with root (who mounts here) a records manager: a named role is its members' only
sed 's/^records-manager = @recordsteam, jsmith/&, root/' "$(dirname "$0")/../policy/anytown.conf" >"$CONF"
V=$IT_TMP/vault M=$IT_TMP/mnt
PROBE=$POSIX_PROBE
make_vault "$V"
mount_vault "$V" "$M"
chmod o+x "$V"            # other users reach the control socket (README, Retention)

json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; }
probe() { "$PROBE" op "$@" 2>&1; }
as_nobody() { (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups "$RECFS" "$@" 2>&1); }

mkdir -p "$M/cases/smith/letters" "$M/cases/jones" "$M/cases/brown" "$M/contracts/acme" \
	"$M/contracts/sealed/deed1" "$M/tenders/unsuccessful/t1" "$M/misc"
echo "dear smith" >"$M/cases/smith/letters/1.txt"
echo "jones notes" >"$M/cases/jones/notes.txt"
echo "brown notes" >"$M/cases/brown/notes.txt"
echo "acme terms" >"$M/contracts/acme/terms.txt"
echo "loose" >"$M/misc/loose.txt"

# ---- policy check, load, show ----
out=$(recfs policy check "$CONF" 2>&1)
assert_eq "policy check of the example exits 0" 0 $?
assert_match "policy check counts its classes" "4 classes" "$out"
printf 'organisation = X\n[class broken]\nrecords = cases/*\nretain = 8 yeers after closed\nthen = maybe\n' >"$IT_TMP/bad.conf"
out=$(recfs policy check "$IT_TMP/bad.conf" 2>&1)
assert_eq "policy check of a bad file exits 1" 1 $?
assert_match "each error has FILE:LINE:COLUMN (retain)" "bad.conf:4:[0-9]+:" "$out"
assert_match "each error has FILE:LINE:COLUMN (then)" "bad.conf:5:[0-9]+:" "$out"
out=$(recfs policy load "$M" "$IT_TMP/bad.conf" 2>&1)
assert_eq "policy load of a bad file fails" 2 $?
assert_match "policy load shows the errors with line and column" "bad.conf:4:[0-9]+:" "$out"
check_fails "no policy is in force after a bad load" test -e "$M/.recfs/retention/policy.conf"
out=$(recfs policy nonsense 2>&1)
assert_eq "a wrong subcommand exits 2" 2 $?
check "policy load of the example" recfs policy load "$M" "$CONF"
out=$(recfs policy show "$M")
assert_eq "policy show prints the policy in force" "$(cat "$CONF")" "$out"

# ---- made-up dates: set and close with past dates ----
check "close a case 9 years ago" recfs close "$M/cases/smith" --on 2017-03-01
check "set a contract's end 7 years ago" recfs set "$M/contracts/acme" end=2019-06-30
check "set a deed's end" recfs set "$M/contracts/sealed/deed1/" end=2010-01-31
out=$(recfs set "$M/cases/jones" end=2023-02-30 2>&1)
assert_eq "set refuses a day that does not exist (exit 2)" 2 $?
out=$(recfs set "$M/cases/jones" end 2>&1)
assert_eq "set refuses KEY without =DATE (exit 2)" 2 $?
out=$(recfs set "$M/misc/loose.txt" end=2020-01-01 2>&1)
assert_eq "set refuses a path no class covers" 2 $?
assert_match "and says so" "not a record" "$out"
out=$(recfs close "$M/cases/jones" --on yesterday 2>&1)
assert_eq "close refuses a bad --on (exit 2)" 2 $?
assert_eq "the property is the folder's read-only xattr" 2019-06-30 \
	"$(getfattr --only-values -n user.recfs.end "$M/contracts/acme" 2>/dev/null)"
assert_eq "user.recfs.* cannot be set by hand" EPERM \
	"$(setfattr -n user.recfs.end -v 2000-01-01 "$M/contracts/acme" 2>&1 >/dev/null | grep -q 'not permitted' && echo EPERM)"

out=$(recfs records "$M" --json)
assert_eq "records --json exits 0" 0 $?
printf '%s' "$out" | json_ok && ok "records --json is JSON" || not_ok "records --json is not JSON: $out"
rec() { printf '%s' "$out" | python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['path']=='$1'][0]; v=r['$2']; print(json.dumps(v) if isinstance(v, bool) else v)"; }
assert_eq "a case is of its class" adult-social-care-case "$(rec /cases/smith class)"
assert_eq "the closed case is due 8 years after closing" 2025-03-01 "$(rec /cases/smith due)"
assert_eq "the closed case is locked" true "$(rec /cases/smith locked)"
assert_eq "an open case has no due date" "" "$(rec /cases/jones due)"
assert_eq "the most specific pattern wins" contract-under-seal "$(rec /contracts/sealed/deed1 class)"
assert_eq "a deed is due 12 years after its end" 2022-01-31 "$(rec /contracts/sealed/deed1 due)"
assert_eq "the contract's property is listed" end=2019-06-30 "$(rec /contracts/acme properties)"
assert_eq "an unclassified path is listed" unclassified "$(rec /misc kind)"
out=$(recfs records "$M")
assert_match "records (text) says no trigger date" "/cases/jones .*no trigger date" "$out"
out=$(recfs records "$M" --csv)
assert_match "records --csv has its header line" "^kind,path,class,created" "$out"
out=$(recfs records "$M" --json --csv 2>&1)
assert_eq "--json with --csv is a usage error" 2 $?

out=$(recfs due "$M" --json)
printf '%s' "$out" | json_ok && ok "due --json is JSON" || not_ok "due --json is not JSON: $out"
assert_match "the old case waits for review" '"/cases/smith", "class": "adult-social-care-case", "step": "review"' "$out"
assert_match "the ended contract is archived" '"/contracts/acme", "class": "provider-contract", "step": "archive"' "$out"
out=$(recfs due "$M" --as-of 2099-01-01)
assert_match "--as-of shows the tender due a year after it was made" "/tenders/unsuccessful/t1 .*destroy" "$out"
out=$(recfs due "$M")
[[ "$out" != *"/tenders/unsuccessful/t1"* ]] && ok "the tender is not due today" || not_ok "the tender is due today: $out"
out=$(recfs due "$M" --as-of 2024-13-01 2>&1)
assert_eq "due refuses a bad --as-of" 2 $?

# ---- a locked record refuses every change and reads fine ----
L=$M/cases/smith/letters/1.txt
assert_eq "a locked file reads fine" "dear smith" "$(cat "$L")"
echo "other" >"$IT_TMP/other.txt"
check_fails "cp over a locked file is refused" cp "$IT_TMP/other.txt" "$L"
check_fails "mv of a locked file is refused" mv "$L" "$M/cases/smith/2.txt"
check_fails "rm of a locked file is refused" rm -f "$L"
check_fails "a vim-style save (temp file, rename over) is refused" \
	sh -c "echo x >'$M/cases/smith/letters/.1.txt.swp'"
assert_eq "renaming a file over a locked one is refused" EPERM "$(probe rename "$M/misc/loose.txt" "$L")"
check_fails "truncate of a locked file is refused" truncate -s 0 "$L"
check_fails "chmod of a locked file is refused" chmod 600 "$L"
check_fails "touch of a locked file is refused" touch "$L"
check_fails "setfattr on a locked file is refused" setfattr -n user.note -v x "$L"
check_fails "rm -r of the locked record is refused" rm -rf "$M/cases/smith"
assert_eq "after all that, the locked file is unchanged" "dear smith" "$(cat "$L")"
out=$(recfs why "$L")
assert_match "why explains the lock in one sentence" "locked because it was closed on 2017-03-01" "$out"
out=$(recfs log --daemon "$M")
assert_match "the daemon log names the refusal, who and the rule" \
	"refused \(EPERM\) truncate of /cases/smith/letters/1.txt by root \(uid 0\): record /cases/smith is locked" "$out"

# ---- a held record: the same ----
H=$M/cases/jones/notes.txt
out=$(recfs hold add "$M/cases/jones" --name smith-v-council --authority "High Court claim 2026/123" 2>&1)
assert_eq "hold add exits 0" 0 $?
assert_match "hold add shows the new hold" "smith-v-council .*High Court claim" "$out"
out=$(recfs hold add "$M/cases/jones" --name smith-v-council --authority again 2>&1)
assert_eq "a second hold of the same name is refused" 2 $?
out=$(recfs hold add "$M/cases/jones" --name x 2>&1)
assert_eq "a hold without --authority is a usage error" 2 $?
assert_eq "a held file reads fine" "jones notes" "$(cat "$H")"
check_fails "cp over a held file is refused" cp "$IT_TMP/other.txt" "$H"
check_fails "rm of a held file is refused" rm -f "$H"
check_fails "truncate of a held file is refused" truncate -s 0 "$H"
check_fails "chmod of a held file is refused" chmod 600 "$H"
check_fails "touch of a held file is refused" touch "$H"
check_fails "setfattr on a held file is refused" setfattr -n user.note -v x "$H"
check_fails "a new file in the held record is refused" sh -c "echo x >'$M/cases/jones/new.txt'"
assert_eq "renaming out of the held record is refused" EPERM "$(probe rename "$H" "$M/misc/notes.txt")"
out=$(recfs why "$H")
assert_match "why names the hold and its authority" "held by hold smith-v-council \(High Court claim 2026/123\)" "$out"

# ---- a class-and-date moratorium ----
today=$(date +%Y-%m-%d)
check "a moratorium on cases created from 2000 to today" recfs hold add --class adult-social-care-case \
	--created-between "2000-01-01..$today" "$M" --name covid-inquiry --authority "COVID-19 Inquiry"
check_fails "a case under the moratorium refuses a write" sh -c "echo x >>'$M/cases/brown/notes.txt'"
out=$(recfs why "$M/cases/brown/notes.txt")
assert_match "why names the moratorium" "held by hold covid-inquiry" "$out"
check "a contract is not under the moratorium" sh -c "echo more >>'$M/contracts/acme/terms.txt'"
check "a moratorium on cases created long ago" recfs hold add --class adult-social-care-case \
	--created-between 1990-01-01..1999-12-31 "$M" --name old-inquiry --authority "An old inquiry"
out=$(recfs hold list "$M" --json)
printf '%s' "$out" | json_ok && ok "hold list --json is JSON" || not_ok "hold list --json is not JSON: $out"
assert_match "the moratorium covers today's cases" '"name": "covid-inquiry".*"records": 3[,}]' "$(printf '%s' "$out" | tr -d '\n')"
assert_match "the old moratorium covers none" '"name": "old-inquiry".*"records": 0[,}]' "$(printf '%s' "$out" | tr -d '\n')"
check "release the moratorium" recfs hold release "$M" covid-inquiry --reason "inquiry reported"
check "the case under it takes writes again" sh -c "echo x >>'$M/cases/brown/notes.txt'"
out=$(recfs hold release "$M" covid-inquiry --reason again 2>&1)
assert_eq "releasing a released hold fails" 2 $?
out=$(recfs hold release "$M" old-inquiry 2>&1)
assert_eq "a release without --reason is a usage error" 2 $?

# ---- EXDEV across record boundaries (format 3) ----
assert_eq "a rename from one record into another is EXDEV" EXDEV \
	"$(probe rename "$M/cases/brown/notes.txt" "$M/contracts/acme/notes.txt")"
assert_eq "a rename out of a record is EXDEV" EXDEV \
	"$(probe rename "$M/cases/brown/notes.txt" "$M/misc/notes.txt")"
assert_eq "a rename inside one record is fine" OK \
	"$(probe rename "$M/cases/brown/notes.txt" "$M/cases/brown/notes2.txt")"

# ---- /.recfs/retention refuses root ----
S=$M/.recfs/retention
assert_eq "root cannot write the journal" EPERM "$(probe write "$S/journal" x)"
assert_eq "root cannot truncate the policy" EPERM "$(probe truncate "$S/policy.conf" 0)"
assert_eq "root cannot delete the journal" EPERM "$(probe unlink "$S/journal")"
assert_eq "root cannot rename the journal away" EPERM "$(probe rename "$S/journal" "$M/misc/j")"
assert_eq "root cannot add a file there" EPERM "$(probe create "$S/extra")"
assert_eq "root cannot chmod the journal" EPERM "$(probe chmod "$S/journal" 600)"
assert_eq "root cannot set an xattr on the journal" EPERM "$(probe setxattr "$S/journal")"
assert_eq "root cannot remove the state folder" EPERM "$(probe rmdir "$S")"
assert_match "the journal reads fine" "policy-load" "$(cat "$S/journal")"
out=$(recfs why "$S/journal")
assert_match "why explains the state folder" "changes only through recfs commands" "$out"

# ---- roles: nobody may list, not change ----
out=$(as_nobody records "$M" --json)
assert_eq "another user may run records" 0 $?
printf '%s' "$out" | json_ok && ok "and gets JSON" || not_ok "records --json for nobody is not JSON: $out"
out=$(as_nobody due "$M" --json)
assert_eq "another user may run due" 0 $?
printf '%s' "$out" | json_ok && ok "due --json for nobody is JSON" || not_ok "due for nobody: $out"
out=$(as_nobody why "$M/cases/jones/notes.txt")
assert_match "another user may run why" "held by hold smith-v-council" "$out"
out=$(as_nobody hold list "$M" --csv)
assert_match "another user may run hold list" "smith-v-council" "$out"
out=$(as_nobody hold release "$M" smith-v-council --reason "I say so")
assert_eq "another user cannot release a hold" 2 $?
assert_match "and is told why" "not in the records-manager role" "$out"
out=$(as_nobody set "$M/cases/jones" end=2020-01-01)
assert_eq "another user cannot set a property" 2 $?
out=$(as_nobody close "$M/cases/jones")
assert_eq "another user cannot close a record" 2 $?
out=$(as_nobody policy load "$M" "$CONF")
assert_eq "another user cannot load a policy" 2 $?
out=$(as_nobody flush "$M")
assert_eq "another user cannot use an old verb (flush)" 2 $?
assert_match "it is refused with EACCES" "ermission denied" "$out"
out=$(as_nobody log --daemon "$M")
assert_eq "another user cannot read the daemon's log" 2 $?
assert_match "the hold is still in force" "smith-v-council" "$(recfs hold list "$M")"

# A user in the policy's records-manager role (jsmith) may release it.
made_user=
if ! id jsmith >/dev/null 2>&1; then
	useradd -M -N -s /usr/sbin/nologin jsmith 2>/dev/null && made_user=1
	on_exit "[ -n '$made_user' ] && userdel jsmith"
fi
if id jsmith >/dev/null 2>&1; then
	out=$( (cd / && setpriv --reuid=jsmith --regid="$(id -g jsmith)" --init-groups "$RECFS" hold release "$M" smith-v-council --reason "claim settled") 2>&1)
	assert_eq "jsmith (records-manager) may release the hold" 0 $?
	check "the released record takes writes again" sh -c "echo x >>'$H'"
	# Attribution: the mounting user's FUSE saves made while jsmith's changes are saved stay
	# the mounting user's (each state save carries its own author).
	python3 -c '
import sys, time
end = time.time() + 6
while time.time() < end:
    with open(sys.argv[1], "a") as f:
        f.write("x\n")
' "$M/misc/busy.txt" &
	busy=$!
	sleep 0.3
	for i in 1 2 3 4 5 6 7 8; do
		(cd / && setpriv --reuid=jsmith --regid="$(id -g jsmith)" --init-groups "$RECFS" set "$M/contracts/acme" "end=2019-06-0$i") >/dev/null 2>&1
	done
	wait "$busy"
	check "flush after the busy writes" recfs flush "$M"
	out=$(recfs log "$M/misc/busy.txt" --json-lines)
	check_fails "no save of root's file is credited to jsmith" grep -q '"login":"jsmith"' <<<"$out"
	out=$(recfs log "$M/.recfs/retention/journal" --json-lines)
	assert_match "jsmith's sets are saved as jsmith's" '"login":"jsmith"' "$out"
	check "the contract's end back" recfs set "$M/contracts/acme" end=2019-06-30
fi
[ -n "$made_user" ] && userdel jsmith 2>/dev/null

# ---- the audit trail ----
check "flush" recfs flush "$M"
j=$(cat "$S/journal")
assert_match "the journal names who placed the hold" "root\(0\)	hold-add	smith-v-council	High Court claim 2026/123" "$j"
assert_match "and who released the moratorium, with the reason" "root\(0\)	hold-release	covid-inquiry	inquiry reported" "$j"
out=$(recfs log "$S/journal" --json-lines)
assert_eq "recfs log of the journal exits 0" 0 $?
n=$(printf '%s\n' "$out" | grep -c '"what":"saved"')
[ "$n" -ge 8 ] && ok "each change is a version of the journal ($n)" || not_ok "only $n versions of the journal: $out"
if id jsmith >/dev/null 2>&1 || [ -n "$made_user" ]; then
	assert_match "the release by jsmith is saved as jsmith's" '"login":"jsmith"' "$out"
fi
out=$(recfs log "$S/policy.conf")
assert_match "the policy is versioned" "saved" "$out"
rev=$(recfs log "$S/policy.conf" --json-lines | head -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["rev"])')
out=$(recfs policy show "$M" --rev "$rev")
assert_eq "policy show --rev shows it as it was" "$(cat "$CONF")" "$out"

# ---- a policy that makes records due earlier needs --confirm ----
sed 's/retain    = 8 years after closed/retain    = 6 years after closed/' "$CONF" >"$IT_TMP/shorter.conf"
out=$(recfs policy load "$M" "$IT_TMP/shorter.conf" 2>&1)
assert_eq "a policy that makes records due earlier is refused" 2 $?
assert_match "it lists the record whose due date moves earlier" "earlier /cases/smith \(adult-social-care-case\): due 2025-03-01 -> 2023-03-01" "$out"
assert_eq "and nothing was loaded" "$(cat "$CONF")" "$(recfs policy show "$M")"
out=$(recfs policy load "$M" "$IT_TMP/shorter.conf" --confirm 2>&1)
assert_eq "with --confirm it loads" 0 $?
assert_match "the new due date is in force" "/cases/smith .*2023-03-01" "$(recfs records "$M")"

# ---- a vault of format 2: changes refused, listings empty ----
V2=$IT_TMP/vault2 M2=$IT_TMP/mnt2
RECFS_TEST_FORMAT=2 make_vault "$V2"
mount_vault "$V2" "$M2"
mkdir -p "$M2/cases/old"
out=$(recfs policy load "$M2" "$CONF" 2>&1)
assert_eq "policy load on a format-2 vault is refused" 2 $?
assert_match "with the message that says what to do" "is vault format 2, whose names cannot be destroyed: make a new vault with 'recfs init'" "$out"
assert_eq "records on a format-2 vault answers as with no policy" "[]" "$(recfs records "$M2" --json | tr -d '\n ')"
check "files of a format-2 vault still change" sh -c "echo x >'$M2/cases/old/a.txt'"
umount_vault "$M2" "$V2"

# ---- a record with retention state refuses a rename; the listing follows live/ ----
assert_eq "a record with dates refuses a rename (EPERM)" EPERM \
	"$(probe rename "$M/contracts/acme" "$M/contracts/acme2")"
assert_match "the daemon log says why" "record /contracts/acme has retention state .* is not renamed" \
	"$(recfs log --daemon "$M")"
assert_match "its state stays with it" "/contracts/acme .*2019-06-30" "$(recfs records "$M")"
assert_eq "a record with no state renames" OK \
	"$(probe rename "$M/tenders/unsuccessful/t1" "$M/tenders/unsuccessful/t2")"
# A folder above records moves them all: out of their class, away from their state and holds.
assert_eq "a folder above held and closed records refuses a rename (EPERM)" EPERM \
	"$(probe rename "$M/cases" "$M/cases-old")"
assert_match "the daemon log says why" "/cases is a folder above records and holds some" \
	"$(recfs log --daemon "$M")"
assert_eq "so does one above records with no state" EPERM \
	"$(probe rename "$M/tenders" "$M/tenders-old")"
assert_eq "and one level up, above a class's containers" EPERM \
	"$(probe rename "$M/tenders/unsuccessful" "$M/tenders/lost")"
assert_eq "an exchange that would move the folder is refused too" EPERM \
	"$(probe exchange "$M/misc" "$M/cases")"
assert_match "the closed record is still locked where it was" "record /cases/smith .* locked" "$(recfs why "$M/cases/smith" 2>&1)"
mkdir "$M/cases/jones/drafts"
assert_eq "a folder inside a record renames as before" OK \
	"$(probe rename "$M/cases/jones/drafts" "$M/cases/jones/old-drafts")"
out=$(recfs records "$M")
assert_match "records lists the new name" "/tenders/unsuccessful/t2" "$out"
check_fails "and not the old one" grep -q "/tenders/unsuccessful/t1" <<<"$out"
sleep 1.1                  # past the quiet time after a change: the next listing keeps its walk
recfs records "$M" >/dev/null
mkdir "$M/cases/newcase"
assert_match "a new record is listed at once" "/cases/newcase" "$(recfs records "$M")"
rmdir "$M/cases/newcase"
check_fails "a removed one is gone at once" grep -q "/cases/newcase" <<<"$(recfs records "$M")"
sleep 1.1
recfs records "$M" >/dev/null
assert_match "after a quiet second, the listing is the table's" "/tenders/unsuccessful/t2" "$(recfs records "$M")"

# ---- under load: parallel untars, set, hold add, ls -lR and listings at once (50 classes) ----
V3=$IT_TMP/vault3 M3=$IT_TMP/mnt3
make_vault "$V3"
mount_vault "$V3" "$M3"
{
	echo "organisation = Stress"
	echo "[roles]"
	echo "records-manager = root"
	for i in $(seq 1 50); do
		printf '[class c%d]\nrecords = d%d/*\nretain = %d years after end\nthen = review\nlock = when closed\n' "$i" "$i" "$i"
	done
} >"$IT_TMP/fifty.conf"
check "a 50-class policy loads" recfs policy load "$M3" "$IT_TMP/fifty.conf"
mkdir -p "$IT_TMP/src/a/b" && for i in $(seq 1 300); do echo "file $i" >"$IT_TMP/src/a/f$i"; echo "$i" >"$IT_TMP/src/a/b/g$i"; done
tar -C "$IT_TMP/src" -cf "$IT_TMP/src.tar" a
pids=()
for d in 1 2 3; do
	( for r in 1 2; do mkdir -p "$M3/d$d/r$r" && tar -C "$M3/d$d/r$r" -xf "$IT_TMP/src.tar" 2>/dev/null; done ) &   # d2: held part way
	pids+=($!)
done
( for i in $(seq 1 20); do ls -lR "$M3" >/dev/null 2>&1; done ) & pids+=($!)
( for i in $(seq 1 20); do recfs records "$M3" >/dev/null 2>&1; recfs due "$M3" >/dev/null 2>&1; done ) & pids+=($!)
( for i in $(seq 1 9); do recfs set "$M3/d4/r$i" "end=2020-01-0$i" >/dev/null 2>&1; done ) & pids+=($!)
( mkdir -p "$M3/d4"; for i in $(seq 1 9); do mkdir -p "$M3/d4/r$i"; done
  recfs hold add --class c2 --created-between 2000-01-01..2100-01-01 "$M3" --name stress \
	--authority "stress" >/dev/null 2>&1 ) & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
check "the daemon lived through it" recfs flush "$M3"
n=$(find "$M3/d1" -type f | wc -l)
assert_eq "every untarred file is there" 1200 "$n"
assert_match "the listing has the records made meanwhile" "/d4/r9" "$(recfs records "$M3")"
umount_vault "$M3" "$V3"

# ---- the state survives a remount; offline, a restore into a locked record is refused ----
umount_vault "$M" "$V"
first=$(recfs log --vault "$V" --passphrase-file "$V.pass" /cases/smith/letters/1.txt | tail -n1 | cut -c1-12)
out=$(recfs restore --vault "$V" --passphrase-file "$V.pass" /cases/smith/letters/1.txt --rev "$first" 2>&1)
assert_eq "restore --vault of a file in a locked record fails" 2 $?
assert_match "... and names the record and why" "refused, nothing restored: record /cases/smith is locked" "$out"
mount_vault "$V" "$M"
assert_eq "the locked file is as it was" "dear smith" "$(cat "$L")"
assert_match "after a remount the closure and the due date are back" "/cases/smith .*2023-03-01 .*locked" "$(recfs records "$M")"
check_fails "and the record is still locked" touch "$L"

# ---- a journal that does not read refuses every change (a change would replace it) ----
touch "$IT_TMP/before-set"
sleep 1
check "a last set" recfs set "$M/contracts/acme" end=2019-06-30
umount_vault "$M" "$V"
J=$(find "$V/live" -type f -newer "$IT_TMP/before-set" ! -name '.*' | head -1)
check "the journal's backing file is found" test -n "$J"
printf 'XXXXXXXX' | dd of="$J" bs=1 seek=200 conv=notrunc status=none
mount_vault "$V" "$M" --accept-history-state
check_fails "a set is refused when the journal does not read" \
	recfs set "$M/contracts/acme" end=2019-07-31
assert_match "and says why" "could not be read when it was mounted" \
	"$(recfs set "$M/contracts/acme" end=2019-07-31 2>&1)"
assert_match "a hold release is refused too" "could not be read when it was mounted" \
	"$(recfs hold release "$M" smith-v-council --reason x 2>&1)"
assert_match "and a disposal" "could not be read when it was mounted" "$(recfs dispose "$M" 2>&1)"
assert_match "the daemon log names the journal" "journal could not be read" "$(recfs log --daemon "$M")"
umount_vault "$M" "$V"
finish
