#!/bin/bash
# dispose: recfs dispose end to end with the example schedule (tests/policy/anytown.conf,
# its archive folder moved into the temp folder) in a real mount (issue 11, items 4, 5, 9):
# a case closed 9 years ago is due for review and dispose destroys nothing until an
# approver's --approve, then destroys it and names the approver and the runner; a review may
# instead extend a case (--extend: its due date moves, journalled); a held case
# and a case under a class-and-date moratorium stay; a contract ended 7 years ago is archived
# as a signed bag (tar -tvf, sha512sum -c, minisign -V, the bytes as they were) and then destroyed, and a missing or
# read-only archive folder, or one inside the vault, stops it with nothing destroyed, and an
# archive of that name already there is kept (the new one is -2); --dry-run --json and --csv
# give the plan; a user outside the roles can neither dispose nor approve, nor can the user
# who mounted when the approver role does not name it; the register's policy revision is the
# commit that show --rev gives the policy from, and the certificate keeps the organisation and
# authority in force at the disposal; recfs verify counts the destroyed keys in its summary;
# the register and the certificate verify (openssl), a changed
# register line makes recfs disposals and recfs verify fail; every other record is intact,
# recfs verify and git fsck --strict pass; a marker in the record's file names, folder names,
# contents, old versions and renamed names is found by no recfs command (log --json, show
# of every version, mount --at every revision, fsck, verify) nor by grep -r of the vault;
# a vault of format 2 refuses dispose; and a power cut between the disposal's commit and its
# shred is finished at the next mount.
# Must never: run outside its temp folder; it makes the accounts and groups the policy names
# (jsmith, @recordsteam, @informationgovernance) and two of its own only when there are none,
# and removes them again.
. "$(dirname "$0")/lib.sh"

CONF=$(dirname "$0")/../policy/anytown.conf
V=$IT_TMP/vault M=$IT_TMP/m ARCH=$IT_TMP/archive
MARK=qzv${RANDOM}mark
stay_off_midnight
TODAY=$(date +%F) Y9=$(date -d '9 years ago' +%F) Y7=$(date -d '7 years ago' +%F)
Y2=$(date -d '2 years ago' +%F)
# root (who mounts here) is named a records manager: a role the policy names is its members' only.
sed "s|/srv/records/archive|$ARCH|; s|^records-manager = @recordsteam, jsmith|&, root|" "$CONF" >"$IT_TMP/policy.conf"

# ---- the people of the policy's roles ----
made=()
make_group() { getent group "$1" >/dev/null || { groupadd "$1" && made+=("groupdel $1"); }; }
make_user() { # NAME [GROUP]
	id "$1" >/dev/null 2>&1 || { useradd -M -N -s /usr/sbin/nologin ${2:+-G "$2"} "$1" && made+=("userdel $1"); }
}
make_group recordsteam
make_group informationgovernance
make_user jsmith
make_user rfsann informationgovernance
make_user rfseve
on_exit 'for ((i = ${#made[@]} - 1; i >= 0; i--)); do ${made[$i]}; done'
as() { local u=$1; shift; (cd / && setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$RECFS" "$@" 2>&1); }

make_vault "$V"
mount_vault "$V" "$M"
chmod o+x "$V"

# ---- records: a case whose every name and version carries the marker ----
S=$M/cases/smith
mkdir -p "$S/letters-$MARK/$MARK-sub" "$M/cases/jones" "$M/cases/brown" "$M/cases/white" "$M/cases/green" \
	"$M/contracts/acme/schedules" "$M/keep"
echo "first $MARK version" >"$S/letters-$MARK/$MARK-note.txt"
echo "second version" >"$S/letters-$MARK/$MARK-note.txt"          # the old one held the marker
echo "body of $MARK" >"$S/letters-$MARK/$MARK-sub/deep.txt"
echo "draft" >"$S/$MARK-draft.txt" && mv "$S/$MARK-draft.txt" "$S/final.txt"   # renamed away
ln -s "target-$MARK" "$S/link"
echo "jones notes" >"$M/cases/jones/notes.txt"
echo "brown notes" >"$M/cases/brown/notes.txt"
echo "white notes" >"$M/cases/white/notes.txt"
echo "green notes" >"$M/cases/green/notes.txt"
head -c 300000 /dev/urandom >"$M/contracts/acme/terms.bin"
echo "schedule 1" >"$M/contracts/acme/schedules/s1.txt"
chmod 640 "$M/contracts/acme/schedules/s1.txt"
touch -d 2020-05-04T03:02:01 "$M/contracts/acme/schedules/s1.txt"
echo "unclassified" >"$M/keep/k.txt"
acme_sums=$(tree_sums "$M/contracts/acme" | sed 's| \./| contracts/acme/|')
acme_meta=$(stat -c '%a %Y' "$M/contracts/acme/schedules/s1.txt")
# A record's created day is its folder's .dirid mtime: brown was opened in 2016.
ino=$(stat -c %i "$M/cases/brown")
touch -d 2016-06-01 "$(find "$V/live" -inum "$ino")/.dirid"
check "recfs flush" recfs flush "$M"
out=$(recfs log "$M" --json-lines 2>&1)
assert_match "before the disposal recfs log shows the marker (the search below can fail)" "$MARK" "$out"

# ---- the schedule, the events, a hold and a moratorium ----
check "policy load" recfs policy load "$M" "$IT_TMP/policy.conf"
for c in smith jones brown green; do check "close $c 9 years ago" recfs close "$M/cases/$c" --on "$Y9"; done
check "close white 2 years ago" recfs close "$M/cases/white" --on "$Y2"
check "a contract ended 7 years ago" recfs set "$M/contracts/acme" "end=$Y7"
check "a hold on jones" recfs hold add "$M/cases/jones" --name complaint-17 --authority "Ombudsman complaint 17"
check "a moratorium on cases opened in 2016" recfs hold add --class adult-social-care-case \
	--created-between 2016-01-01..2016-12-31 "$M" --name iicsa --authority "IICSA section 21 notice"
old=$(recfs log "$S/final.txt" --json-lines | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["rev"])')
intact_before=$(tree_sums "$M/cases/jones"; tree_sums "$M/cases/brown"; tree_sums "$M/cases/white"; tree_sums "$M/cases/green"; tree_sums "$M/keep")

# ---- what is due ----
out=$(recfs dispose "$M" --dry-run 2>&1)
assert_eq "dispose --dry-run exits 0" 0 $?
assert_match "the case closed 9 years ago awaits review" "cases/smith +adult-social-care-case +review" "$out"
assert_match "the held case is shown held, by its hold" "cases/jones +adult-social-care-case +held .*complaint-17" "$out"
assert_match "the case under the moratorium is held by it" "cases/brown +adult-social-care-case +held .*iicsa" "$out"
assert_match "the contract is to be archived" "contracts/acme +provider-contract +archive" "$out"
check_fails "white (closed 2 years ago) is not due" grep -q white <<<"$out"
json=$(recfs dispose "$M" --dry-run --json 2>&1)
assert_eq "dispose --dry-run --json gives the plan with paths as due gives them" "review held" \
	"$(printf '%s' "$json" | python3 -c "
import json, sys
rows = {r['path']: r for r in json.load(sys.stdin)}
print(rows['/cases/smith']['step'], rows['/cases/jones']['step'])")"
out=$(recfs dispose "$M" --dry-run --csv 2>&1)
assert_eq "dispose --dry-run --csv starts with its header" "path,class,step,trigger,due,hold" "$(head -1 <<<"$out" | tr -d '\r')"
assert_match "and has the contract's row" "^/contracts/acme,provider-contract,archive," "$out"
out=$(recfs dispose "$M" --json 2>&1)
assert_eq "--json without --dry-run is a usage error (exit 2)" 2 $?
out=$(recfs dispose "$M" --as-of 2099-01-01 2>&1)
assert_eq "dispose never runs as of a later date (exit 2)" 2 $?

# ---- who may ----
out=$(as rfseve dispose "$M")
assert_eq "a user outside the roles cannot dispose (exit 2)" 2 $?
assert_match "and is told why" "rfseve is not in the records-manager role" "$out"
out=$(as rfseve dispose "$M" --approve cases/smith --reason x)
assert_eq "a user outside the roles cannot approve (exit 2)" 2 $?
out=$(as jsmith dispose "$M" --approve cases/smith --reason x)
assert_eq "a records manager who is no approver cannot approve (exit 2)" 2 $?
out=$(recfs dispose "$M" --approve cases/smith --reason x 2>&1)
assert_eq "nor can the user who mounted (root) when the approver role does not name it (exit 2)" 2 $?
assert_match "and is told why" "root is not in the approver role" "$out"
out=$(as rfseve disposals "$M")
assert_eq "but anyone may read the register" 0 $?

# ---- the archive folder missing, then read-only: nothing destroyed ----
out=$(as jsmith dispose "$M")
assert_eq "dispose with a review pending and no archive folder exits 1" 1 $?
assert_match "the missing archive folder is named" "contracts/acme: .*$ARCH" "$out"
assert_match "the case awaits approval" "cases/smith: awaiting approval" "$out"
check "nothing of the contract is destroyed" test -f "$M/contracts/acme/terms.bin"
check "nothing of the case is destroyed" test -f "$S/final.txt"
mkdir "$ARCH" && mount -t tmpfs -o ro,size=1m tmpfs "$ARCH" && on_exit "umount -l '$ARCH'"
out=$(as jsmith dispose "$M")
assert_match "a read-only archive folder stops the contract, named" "contracts/acme: .*$ARCH.*(Read-only|read-only)" "$out"
check "still nothing of the contract is destroyed" test -f "$M/contracts/acme/terms.bin"
umount "$ARCH"
mkdir "$V/in-vault"
sed "s|^archive .*|archive = $V/in-vault|" "$IT_TMP/policy.conf" >"$IT_TMP/policy-in-vault.conf"
check "a policy whose archive folder is inside the vault loads" recfs policy load "$M" "$IT_TMP/policy-in-vault.conf"
out=$(as jsmith dispose "$M")
assert_match "an archive folder inside the vault is refused (no clear byte rests there)" "contracts/acme: .*inside the vault" "$out"
assert_eq "nothing was written there" "" "$(ls -A "$V/in-vault")"
check "and nothing of the contract is destroyed" test -f "$M/contracts/acme/terms.bin"
rmdir "$V/in-vault"
check "the schedule as it was" recfs policy load "$M" "$IT_TMP/policy.conf"

# ---- the archive, then the destruction ----
EARLIER=$ARCH/provider-contract-contracts__acme-$TODAY.tar
echo "an earlier archive of that day" >"$EARLIER"
out=$(as jsmith dispose "$M")
assert_match "the contract is archived and destroyed" "disposal 1: contracts/acme \(provider-contract, archived first\) destroyed: 2 files, 2 folders" "$out"
TAR=$ARCH/provider-contract-contracts__acme-$TODAY-2.tar
check "a second archive of that day is named class-path-date-2.tar" test -f "$TAR"
assert_eq "and the earlier one is left as it was" "an earlier archive of that day" "$(cat "$EARLIER")"
list=$(tar -tvf "$TAR" 2>&1)
assert_match "tar -tvf lists its files with clear names, in the bag named after the record" \
	"acme/data/records/schedules/s1.txt" "$list"
assert_match "and its history as an OCFL object" "acme/data/history/acme/inventory.json" "$list"
mkdir "$IT_TMP/x" && tar -xf "$TAR" -C "$IT_TMP/x"
check "sha512sum -c checks the bag's manifests" sh -c "cd '$IT_TMP/x/acme' && sha512sum --quiet -c manifest-sha512.txt && sha512sum --quiet -c tagmanifest-sha512.txt"
check "minisign -V checks its signature with the vault's key beside it" \
	minisign -Vm "$TAR" -p "$ARCH/$(basename "$V").pub"
assert_eq "the archived bytes are the record's" "$acme_sums" "$(tree_sums "$IT_TMP/x/acme/data/records" | sed 's| \./| contracts/acme/|')"
assert_eq "the archived mtime is the record's" "${acme_meta#* }" "$(stat -c '%Y' "$IT_TMP/x/acme/data/records/schedules/s1.txt")"
check_fails "the contract is gone from the mount" test -e "$M/contracts/acme"
check "an archive of contracts/ after the disposal" recfs archive "$M/contracts" --out "$IT_TMP/contracts.tar" --history
assert_match "lists the destroyed contract as a stub, with its disposal" \
	"^/contracts/acme,provider-contract,.*,destroyed,Limitation Act 1980 s.5,destroyed,1$" \
	"$(tar -xOf "$IT_TMP/contracts.tar" contracts/records.csv | tr -d '\r')"
assert_eq "and holds nothing of it" "" "$(tar -tf "$IT_TMP/contracts.tar" | grep acme)"
check "the case is still there (no approval)" test -f "$S/final.txt"

# ---- a review may extend a record instead ----
UNTIL=$(date -d '1 year' +%F)
out=$(as rfsann dispose "$M" --extend cases/green --until "$TODAY" --reason "appeal")
assert_eq "an extension to today is refused (exit 2)" 2 $?
out=$(as rfsann dispose "$M" --extend cases/green --until "$UNTIL" --reason "appeal pending")
assert_eq "an approver extends a record due for review (exit 0)" 0 $?
assert_match "and is told until when" "kept until $UNTIL: /?cases/green" "$out"
out=$(recfs records "$M" --json)
assert_eq "the extension is its new due date" "$UNTIL" "$(printf '%s' "$out" | python3 -c "
import json, sys
print([r for r in json.load(sys.stdin) if r['path'].lstrip('/') == 'cases/green'][0]['due'])")"
check_fails "the extended record is no longer due" grep -q green <<<"$(recfs dispose "$M" --dry-run)"
check "the journal has the review-extend line" grep -q "review-extend.*cases/green.*$UNTIL.*appeal pending" "$M/.recfs/retention/journal"

# ---- approval, then the case goes ----
out=$(as rfsann dispose "$M" --approve cases/smith --reason "no further business need")
assert_eq "an approver approves (exit 0)" 0 $?
assert_match "and is told so" "approved for destruction: /?cases/smith" "$out"
check "an approval alone destroys nothing" test -f "$S/final.txt"
out=$(as jsmith dispose "$M")
assert_eq "dispose after the approval exits 1 (two held cases stay)" 1 $?
assert_match "the case is destroyed" "disposal 2: /?cases/smith \(adult-social-care-case\) destroyed" "$out"
assert_match "the held case is not" "cases/jones: held by the hold 'complaint-17'" "$out"
assert_match "the case under the moratorium is not" "cases/brown: held by the hold 'iicsa'" "$out"
check_fails "the case is gone from the mount" test -e "$S"
assert_eq "every other record is intact" "$intact_before" \
	"$(tree_sums "$M/cases/jones"; tree_sums "$M/cases/brown"; tree_sums "$M/cases/white"; tree_sums "$M/cases/green"; tree_sums "$M/keep")"

# ---- two records in one run (one pass over history's index for both) ----
for t in t1 t2; do
	mkdir -p "$M/tenders/unsuccessful/$t/sub" && echo "bid $t" >"$M/tenders/unsuccessful/$t/sub/bid.txt"
	d=$(find "$V/live" -inum "$(stat -c %i "$M/tenders/unsuccessful/$t")")
	touch -d "$Y2" "$d/.dirid"
	eval "dirid_$t=$(od -An -tx1 "$d/.dirid" | tr -d ' \n')"
done
out=$(as jsmith dispose "$M")
listed() { od -An -tx1 -w16 -v "$V/disposed/$1" | tr -d ' '; }
check "disposal 3 lists t1's folder" grep -qx "$dirid_t1" <<<"$(listed 3)"
check_fails "and not t2's" grep -qx "$dirid_t2" <<<"$(listed 3)"
check "disposal 4 lists t2's folder" grep -qx "$dirid_t2" <<<"$(listed 4)"
assert_match "one run disposes of both tenders (the first)" "disposal 3: /?tenders/unsuccessful/t1 \(unsuccessful-tender\) destroyed: 1 files, 2 folders" "$out"
assert_match "one run disposes of both tenders (the second)" "disposal 4: /?tenders/unsuccessful/t2 \(unsuccessful-tender\) destroyed: 1 files, 2 folders" "$out"
check_fails "both are gone" test -e "$M/tenders/unsuccessful/t1" -o -e "$M/tenders/unsuccessful/t2"

# ---- the register and the certificate ----
out=$(as rfseve disposals "$M" --json)
assert_eq "disposals --json exits 0 (the chain checks)" 0 $?
reg() { printf '%s' "$out" | python3 -c "import json,sys; print(json.load(sys.stdin)[$1]['$2'])"; }
assert_eq "disposal 2 names the approver" "rfsann($(id -u rfsann))" "$(reg 1 approved_by)"
assert_eq "and who ran it" "jsmith($(id -u jsmith))" "$(reg 1 run_by)"
assert_eq "and the review" "approved: no further business need" "$(reg 1 review)"
assert_eq "and its class" adult-social-care-case "$(reg 1 class)"
assert_eq "and its trigger" "$Y9" "$(reg 1 trigger)"
check_fails "the register holds no record content" grep -q "$MARK" <<<"$out"
prev=$(reg 1 policy_revision)
assert_eq "its policy revision is the commit of policy.conf as loaded (show --rev gives it)" \
	"$(cat "$IT_TMP/policy.conf")" "$(recfs show "$M/.recfs/retention/policy.conf" --rev "$prev" 2>&1)"
sed 's/^organisation .*/organisation = Othertown Council/; s/^authority = NHS .*/authority = a later code/' \
	"$IT_TMP/policy.conf" >"$IT_TMP/policy-later.conf"
check "a later policy with another organisation and authority loads" recfs policy load "$M" "$IT_TMP/policy-later.conf"
as rfseve disposals "$M" --certificate 2 >"$IT_TMP/cert" 2>&1
assert_eq "disposals --certificate 2 exits 0" 0 $?
assert_match "the certificate names the authority in force at the disposal" "authority: NHS Records Management Code" "$(cat "$IT_TMP/cert")"
assert_match "and the organisation then" "organisation: Anytown Council" "$(cat "$IT_TMP/cert")"
sed '/^public-key:$/,$d' "$IT_TMP/cert" >"$IT_TMP/cert.txt"
sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' "$IT_TMP/cert" >"$IT_TMP/cert.pem"
sed -n 's/^signature: //p' "$IT_TMP/cert" | base64 -d >"$IT_TMP/cert.sig"
check "openssl verifies the certificate" openssl pkeyutl -verify -pubin -inkey "$IT_TMP/cert.pem" \
	-rawin -in "$IT_TMP/cert.txt" -sigfile "$IT_TMP/cert.sig"
sed -i 's/^approved-by: .*/approved-by: somebody-else/' "$IT_TMP/cert.txt"
check_fails "openssl refuses a changed certificate" openssl pkeyutl -verify -pubin \
	-inkey "$IT_TMP/cert.pem" -rawin -in "$IT_TMP/cert.txt" -sigfile "$IT_TMP/cert.sig"

# ---- the stub in history; the marker nowhere ----
out=$(recfs log "$M" 2>&1)
assert_match "recfs log shows a destroyed version as destroyed, with disposal and class" \
	"destroyed \(disposal 2, class adult-social-care-case\)" "$out"
json=$(recfs log "$M" --json-lines 2>&1)
check_fails "recfs log --json-lines finds no marker" grep -q "$MARK" <<<"$json"
out=$(recfs show "$M/cases/smith/final.txt" --rev "$old" 2>&1)
assert_eq "show --rev of the destroyed path exits 1" 1 $?
assert_match "and says destroyed on DATE under class X" "destroyed on $TODAY under class adult-social-care-case" "$out"
check_fails "and prints no ciphertext" grep -qa "[^[:print:][:space:]]" <<<"$out"
revs=$(printf '%s\n' "$json" | python3 -c '
import json, sys
seen = []
for l in sys.stdin:
    r = json.loads(l)["rev"]
    if r not in seen: seen.append(r)
print("\n".join(seen))')
found=0 nrev=0 noisy=0
while read -r rev; do
	[ -n "$rev" ] || continue
	nrev=$((nrev + 1))
	# show of every path that revision names (the destroyed ones name none)
	for p in $(printf '%s\n' "$json" | python3 -c "
import json, sys
for l in sys.stdin:
    v = json.loads(l)
    if v['rev'] == '$rev' and v.get('path') and v.get('type', 'file') != 'dir': print(v['path'])"); do
		recfs show "$M$p" --rev "$rev" 2>&1 | grep -qa "$MARK" && found=$((found + 1))
	done
	mount_vault "$V" "$IT_TMP/at" --at "$rev"
	{ find "$IT_TMP/at" -print; find "$IT_TMP/at" -type f -exec cat {} + 2>/dev/null; \
	  find "$IT_TMP/at" -type l -exec readlink {} +; } 2>"$IT_TMP/at.err" | grep -qa "$MARK" && found=$((found + 1))
	[ -s "$IT_TMP/at.err" ] && noisy=$((noisy + 1))
	grep -qaE 'AddressSanitizer|runtime error' "$IT_TMP/at.daemon.log" && not_ok "mount --at $rev: daemon error"
	pid=$(daemon_pid "$IT_TMP/at")
	recfs umount "$IT_TMP/at" >/dev/null 2>&1 || not_ok "umount of the view at $rev"
	wait "$pid" || not_ok "the daemon of the view at $rev exited $?"
	check_daemon_log "$IT_TMP/at"
done <<<"$revs"
assert_eq "no show of any version and no mount --at of any of $nrev revisions finds the marker" 0 "$found"
assert_eq "mount --at of every revision shows no error for the destroyed records" 0 "$noisy"
out=$(recfs verify "$M" 2>&1)
assert_eq "recfs verify passes after the disposal" 0 $?
assert_match "verify lists the keys disposal 2 destroyed" "destroyed \(disposal 2\): [1-9][0-9]* keys" "$out"
assert_match "and its summary counts them" " [1-9][0-9]* keys destroyed by disposals" "$out"
mounted_count=$(sed -n 's/.* \([0-9]*\) keys destroyed by disposals.*/\1/p' <<<"$out")
check_fails "recfs verify shows no marker" grep -q "$MARK" <<<"$out"
check "git fsck --strict passes" git -C "$V/history.git" fsck --strict --no-dangling
reg_ino=$(stat -c %i "$M/.recfs/retention/register")
recfs disposals "$M" --csv >/dev/null
# a copy of the register with one line changed, as a file of its own (its ciphertext is moved below)
cat "$M/.recfs/retention/register" | sed '2s/\tjsmith(/\tnobody(/' >"$M/keep/forged"
forged_ino=$(stat -c %i "$M/keep/forged")
mkdir "$S" && echo "a new case at the old path" >"$S/new.txt"     # the next mount leaves it be
check "recfs flush" recfs flush "$M"
umount_vault "$M" "$V"
fsck_clean "$V" "after the disposals"
out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
assert_eq "recfs verify of the vault unmounted passes" 0 $?
assert_eq "and counts as many destroyed keys as through the mount" "$mounted_count" \
	"$(sed -n 's/.* \([0-9]*\) keys destroyed by disposals.*/\1/p' <<<"$out")"
out=$(grep -ra "$MARK" "$V" 2>&1)
assert_eq "grep -r of the vault finds no marker" "" "$out"

# ---- a changed register line: disposals and verify fail ----
cp "$(find "$V/live" -inum "$forged_ino")" "$(find "$V/live" -inum "$reg_ino")"
mount_vault "$V" "$M" --accept-history-state
check "a new record at a disposed record's path survives the next mount" test -s "$S/new.txt"
out=$(recfs disposals "$M" 2>&1)
assert_eq "recfs disposals fails on a changed register line (exit 1)" 1 $?
assert_match "and says which line" "disposal register: line 2: entry hash does not match" "$out"
out=$(recfs verify "$M" 2>&1)
assert_eq "recfs verify fails on a changed register line (exit 1)" 1 $?
assert_match "and names the register" "disposal register: line 2" "$out"
out=$(recfs dispose "$M" 2>&1)
check_fails "no disposal runs on a register that does not verify" grep -q "^disposal 3" <<<"$out"
umount_vault "$M" "$V"

# ---- a vault of format 2 cannot have its names destroyed: dispose refuses ----
V2=$IT_TMP/vault2 M2=$IT_TMP/m2
RECFS_TEST_FORMAT=2 make_vault "$V2" "$V.pass"
PASSFILE=$V.pass mount_vault "$V2" "$M2"
out=$(recfs dispose "$M2" 2>&1)
assert_eq "dispose on a vault of format 2 is refused (exit 2)" 2 $?
assert_match "with the reason and the way out" "vault format 2, whose names cannot be destroyed: make a new vault" "$out"
check "a dry run there still answers" recfs dispose "$M2" --dry-run
umount_vault "$M2" "$V2"

# ---- a power cut between the disposal's commit and its shred ----
. "$(dirname "$0")/powercut_lib.sh"
pc_setup 256
pc_new_vault crash
pc_mount
mkdir -p "$PC_M/tenders/unsuccessful/t1"
echo "tender $MARK" >"$PC_M/tenders/unsuccessful/t1/bid.txt"
ino=$(stat -c %i "$PC_M/tenders/unsuccessful/t1")
check "recfs flush" recfs flush "$PC_M"
umount_vault "$PC_M" "$PC_V"
touch -d "$Y2" "$(find "$PC_V/live" -inum "$ino")/.dirid"     # opened 2 years ago: due
pc_mount_cut_at dispose_committed
check "policy load (crash vault)" recfs policy load "$PC_M" "$IT_TMP/policy.conf"
rev=$(recfs log "$PC_M/tenders/unsuccessful/t1/bid.txt" --json-lines | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["rev"])')
out=$(recfs dispose "$PC_M" 2>&1)
pc_wait_cut dispose_committed
assert_match "the cut stops the disposal after its commit" "disposal 1 is in the register but was stopped" "$out"
pc_after_cut
# How many of the listed ids still have a key entry in keys/ (format 3: keys/c<copy>/s<slot/65536>).
keys_left() {
	python3 - "$PC_V" <<'PY2'
import os, struct, sys
v = sys.argv[1]
ids = open(os.path.join(v, "disposed", "1"), "rb").read()
left = 0
for i in range(0, len(ids), 16):
    slot = struct.unpack("<Q", ids[i:i + 8])[0]
    path = os.path.join(v, "keys", "c" + ids[i + 8:i + 16].hex(), "s%08x" % (slot // 65536))
    try:
        with open(path, "rb") as f:
            f.seek(slot % 65536 * 72)
            left += any(f.read(72))
    except FileNotFoundError:
        pass
print(left)
PY2
}
n=$(keys_left)
check "after the cut the listed keys are still there (the shred had not run): $n" test "$n" -gt 0
pc_mount
out=$(recfs show "$PC_M/tenders/unsuccessful/t1/bid.txt" --rev "$rev" 2>&1)
check_fails "after the next mount the old version opens no more" grep -q "tender $MARK" <<<"$out"
assert_eq "the next mount finished the shred: no listed key is left" 0 "$(keys_left)"
out=$(recfs disposals "$PC_M" 2>&1)
assert_match "the register names the disposal" "tenders/unsuccessful/t1 +unsuccessful-tender" "$out"
pc_verify_clean "after the finished disposal"
umount_vault "$PC_M" "$PC_V"
finish
