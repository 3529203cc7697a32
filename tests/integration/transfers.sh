#!/bin/bash
# transfers: a closed service's records leave the vault (issue 12, items 8, 9 and 10) in a real
# mount: recfs close-service archives a service folder with its history, encrypted to an age
# key, then closes every record in it (one closed already keeps its date) and locks it for
# good (writes answer EPERM, recfs why and recfs records say so), and reports the held one,
# which recfs dispose never destroys; the transfer log (recfs transfers --json, parsed by
# python3) has the archive and the close-service, naming the file, its SHA-512, the signing
# key, the recipient, the receiver and the records, and recfs log shows each entry as one
# line; recfs transfer confirm sets the dated property 'transferred' that the class counts
# from, and refuses a file the log does not name and a second confirmation; a user outside the
# records-manager role is refused both and leaves no file behind, and so is a records manager
# who did not mount (recfs archive, which close-service runs, is the mounting user's); the
# archive is checked with the standard tools (age -d, tar, sha512sum -c, minisign -Vm) and
# recfs archive verify; and the demo's telecare service is archived with the one command the
# README shows, and checked the same way.
# Must never: run outside its temp folder; it makes the account rfsclerk only when there is
# none, and removes it again.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt OUT=$IT_TMP/out
mkdir -p "$OUT" && chmod 1777 "$OUT"     # nobody may make a file there: the daemon refuses it
cat >"$IT_TMP/policy.conf" <<'EOF'
organisation = Testshire Council

[roles]
records-manager = root, rfsclerk

[class service-record]
records   = services/*/*
retain    = 1 year after transferred
then      = destroy
lock      = never
authority = Testshire records policy, closed services
EOF
# rfsclerk: a records manager who did not mount (made only when there is none, and removed)
id rfsclerk >/dev/null 2>&1 || { useradd -M -N -s /usr/sbin/nologin rfsclerk && on_exit 'userdel rfsclerk'; }
as_clerk() { (cd / && setpriv --reuid=rfsclerk --regid="$(id -g rfsclerk)" --init-groups "$RECFS" "$@" 2>&1); }
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; }
as_nobody() { (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups "$RECFS" "$@" 2>&1); }
# jq-like: field F of the record P in `recfs records --json`
rec() { recfs records "$M" --json | python3 -c "import json,sys; r=[x for x in json.load(sys.stdin) if x['path']=='$1']; v=r[0]['$2'] if r else 'absent'; print(json.dumps(v) if isinstance(v, bool) else v)"; }

make_vault "$V"
mount_vault "$V" "$M"
chmod o+x "$V"
T="$M/services/telecare"
mkdir -p "$T/client-a" "$T/client-b" "$T/client held" "$M/services/daycentre/d1"
for i in 1 2 3; do echo "visit $i" >>"$T/client-a/notes.txt"; done
echo "b's plan" >"$T/client-b/plan é.txt"
echo "c's notes" >"$T/client held/notes.txt"
echo "day centre" >"$M/services/daycentre/d1/register.txt"
# An archive with no policy in force makes the transfer log: FUSE may not change it then either.
check "recfs archive with no policy" recfs archive "$M/services/daycentre" --out "$OUT/plain.tar"
out=$(echo forged 2>&1 >>"$M/.recfs/retention/transfers")
assert_match "the transfer log refuses a write through the mount (no policy in force)" "not permitted" "$out"
check_fails "and a rename" mv "$M/.recfs/retention/transfers" "$M/.recfs/retention/t2"
check "policy load" recfs policy load "$M" "$IT_TMP/policy.conf"
check "close client-b earlier" recfs close "$T/client-b" --on 2022-01-01
check "hold one client" recfs hold add "$T/client held" --name complaint --authority "Ombudsman"
age-keygen -o "$IT_TMP/receiver.key" 2>/dev/null
RCPT=$(age-keygen -y "$IT_TMP/receiver.key")

# ---- refusals first: nothing is archived, closed or left behind ----
out=$(as_nobody close-service "$T" --out "$OUT/n.tar.age" --recipient "$RCPT")
assert_eq "close-service by a user outside the records-manager role fails (exit 2)" 2 $?
assert_match "and says it is the role" "records-manager" "$out"
check_fails "and leaves no file behind" test -e "$OUT/n.tar.age"
out=$(as_clerk close-service "$T" --out "$OUT/c.tar.age" --recipient "$RCPT")
assert_eq "a records manager who did not mount is refused (exit 2)" 2 $?
assert_match "since recfs archive is the mounting user's" "only the user who mounted" "$out"
check_fails "and leaves no file behind" test -e "$OUT/c.tar.age"
out=$(recfs close-service "$T" --out "$OUT/t.tar.gz" --recipient "$RCPT" 2>&1)
assert_eq "an encrypted archive not named .age is refused (exit 2)" 2 $?
out=$(recfs close-service "$T" --out "$OUT/t.tar.gz.age" 2>&1)
assert_eq "a .age name without --recipient is refused (exit 2)" 2 $?
out=$(recfs close-service "$M/services/nothing-here" --out "$OUT/e.tar" 2>&1)
assert_eq "a path with no records is refused (exit 2)" 2 $?
assert_match "and says so" "no whole record" "$out"
check_fails "and leaves no file behind" test -e "$OUT/e.tar"
mkdir -p "$T/client-a/sub"
out=$(recfs close-service "$T/client-a/sub" --out "$OUT/p.tar" 2>&1)
assert_eq "a folder inside a record is refused (exit 2): only whole records close" 2 $?
assert_match "and says so" "no whole record" "$out"
assert_eq "nothing was locked by the refusals" false "$(rec /services/telecare/client-a locked)"

# ---- close-service ----
F=$OUT/telecare.tar.gz.age
out=$(recfs close-service "$T" --out "$F" --recipient "$RCPT" --on 2023-03-31 \
	--to "Pennine Lifeline" --note "handover of the telecare service" 2>&1)
assert_eq "close-service exits 0" 0 $?
echo "$out" | sed 's/^/# /'
assert_match "it reports the held record" "held +/services/telecare/client held \(hold complaint\): closed" "$out"
assert_match "it says how many records it closed" "closed and locked for good: 3 records" "$out"
check "FILE is there" test -s "$F"
check "FILE.minisig and VAULT.pub beside it" test -s "$F.minisig" -a -s "$OUT/vault.pub"
assert_eq "client-a is closed on --on" 2023-03-31 "$(rec /services/telecare/client-a closed)"
assert_eq "client-b keeps its earlier closure" 2022-01-01 "$(rec /services/telecare/client-b closed)"
assert_eq "client-a is locked (the class never locks)" true "$(rec /services/telecare/client-a locked)"
assert_eq "the held client is locked" true "$(rec "/services/telecare/client held" locked)"
assert_eq "the other service is not" false "$(rec /services/daycentre/d1 locked)"
out=$(echo more 2>&1 >>"$T/client-a/notes.txt")
assert_match "a write to a locked record answers EPERM" "not permitted" "$out"
check_fails "mkdir in a locked record fails" mkdir "$T/client-a/new"
check_fails "rm in a locked record fails" rm "$T/client-b/plan é.txt"
assert_eq "a locked record reads" "visit 1" "$(head -1 "$T/client-a/notes.txt")"
check "the other service still takes writes" sh -c "echo x >>'$M/services/daycentre/d1/register.txt'"
out=$(recfs why "$T/client-a/notes.txt" 2>&1)
assert_match "recfs why says it is locked for good by close-service" "locked for good.*close-service" "$out"
assert_match "the daemon log names the refusal" "locked for good" "$(recfs log --daemon "$M" 2>&1)"

# ---- the archive, with the standard tools ----
X=$IT_TMP/x
mkdir -p "$X"
check "age -d decrypts it and tar extracts it" sh -c "age -d -i '$IT_TMP/receiver.key' '$F' | tar -xzf - -C '$X'"
check "sha512sum -c manifest-sha512.txt passes in the bag" sh -c "cd '$X/telecare' && sha512sum -c --quiet manifest-sha512.txt"
assert_eq "the current state is plain files" "$(printf 'visit 1\nvisit 2\nvisit 3')" \
	"$(cat "$X/telecare/data/records/client-a/notes.txt" 2>&1)"
check "minisign -Vm FILE -p VAULT.pub" minisign -Vm "$F" -p "$OUT/vault.pub"
check "recfs archive verify --identity" recfs archive verify "$F" --identity "$IT_TMP/receiver.key"

# ---- the transfer log ----
out=$(recfs transfers "$M" --json)
assert_eq "transfers --json exits 0" 0 $?
printf '%s' "$out" | json_ok && ok "transfers --json is JSON" || not_ok "transfers --json: $out"
field() { printf '%s' "$out" | python3 -c "import json,sys; print(json.load(sys.stdin)[$1]['$2'])"; }
assert_eq "three entries: the first archive, the close-service's archive, the close-service" \
	"archive archive close-service" "$(field 0 kind) $(field 1 kind) $(field 2 kind)"
assert_eq "the last two of the one file" "$(field 1 sha512)" "$(field 2 sha512)"
assert_eq "its sha512 is the file's" "$(sha512sum "$F" | cut -d' ' -f1)" "$(field -1 sha512)"
assert_eq "its file" "$F" "$(field -1 file)"
assert_eq "its recipient" "$RCPT" "$(field -1 recipients)"
assert_eq "its receiver" "Pennine Lifeline" "$(field -1 to)"
assert_eq "its records" 3 "$(field -1 records)"
assert_eq "its date" 2023-03-31 "$(field -1 on)"
assert_eq "who" root "$(field -1 login)"
# a minisign key is "Ed", the key id (8 bytes, little-endian), the key: the id as minisign prints it (%X)
keyid=$(sed -n 2p "$OUT/vault.pub" | python3 -c 'import base64,sys; print("%X" % int.from_bytes(base64.b64decode(sys.stdin.read())[2:10], "little"))')
assert_eq "its key id is the public key's" "$keyid" "$(field -1 key_id)"
assert_eq "its public key is the one beside FILE" "$(sed -n 2p "$OUT/vault.pub")" "$(field -1 pubkey)"
out=$(as_nobody transfers "$M" --csv)
assert_match "every local user may list it (CSV header)" "^seq,kind,when" "$out"
out=$(recfs log "$M" 2>&1)
assert_match "recfs log shows the entry as one line" \
	"closed the service /services/telecare \(3 records, closed 2023-03-31\), archived in $F for 1 recipient, for Pennine Lifeline, sha512 [0-9a-f]{12}.*key [0-9a-f]+" "$out"
assert_match "and the archive before it" "archived /services/telecare to $F for 1 recipient" "$out"

# ---- transfer confirm ----
head -c 1000 /dev/urandom >"$OUT/other.tar"
out=$(recfs transfer confirm "$OUT/other.tar" "$M" --receipt "R-1" 2>&1)
assert_eq "a file the log does not name is refused (exit 2)" 2 $?
assert_match "and says so" "no entry of the transfer log" "$out"
out=$(as_nobody transfer confirm "$F" "$M" --receipt "R-1")
assert_eq "a user outside the role cannot confirm (exit 2)" 2 $?
out=$(recfs transfer confirm "$F" "$M" 2>&1)
assert_eq "a confirmation needs --receipt (exit 2)" 2 $?
out=$(recfs transfer confirm "$F" "$M" --receipt "Pennine Lifeline receipt PL-0042" --on 2020-01-01 2>&1)
assert_eq "transfer confirm exits 0" 0 $?
assert_match "it names the records dated" "3 records dated transferred" "$out"
assert_match "recfs records shows transferred" "transferred=2020-01-01" \
	"$(rec /services/telecare/client-a properties)"
assert_eq "the class counts from it" 2021-01-01 "$(rec /services/telecare/client-a due)"
out=$(recfs transfer confirm "$F" "$M" --receipt "again" 2>&1)
assert_eq "a second confirmation is refused (exit 2)" 2 $?
assert_match "naming the first" "confirmed already.*PL-0042" "$out"
out=$(recfs transfers "$M" --json)
assert_eq "the log has the confirmation" confirmed "$(field -1 kind)"
assert_eq "with its receipt" "Pennine Lifeline receipt PL-0042" "$(field -1 receipt)"
assert_match "recfs log shows it" "confirmed the transfer of /services/telecare.*PL-0042" "$(recfs log "$M" 2>&1)"

check "an archive of the service as it stands (before the disposal)" \
	recfs archive "$T" --history --out "$OUT/copy.tar"
# ---- disposal: the held record stays ----
out=$(recfs dispose "$M" 2>&1)
assert_eq "dispose exits 1 (the held record stays)" 1 $?
assert_match "it destroys client-a" "destroyed.*client-a|client-a.*destroyed" "$out"
assert_match "and never the held one" "not disposed: services/telecare/client held: held" "$out"
check "the held record is still there" test -s "$T/client held/notes.txt"
check_fails "client-a is gone" test -e "$T/client-a"
out=$(recfs transfer confirm "$OUT/copy.tar" "$M" --receipt "copy received" --on 2021-06-01 2>&1)
assert_eq "a confirmation after some of its records were destroyed exits 0" 0 $?
assert_match "it dates none that is gone" "not dated: /services/telecare/client-a is not a record" "$out"
assert_match "and dates the one still there" "1 record dated transferred" "$out"
assert_match "the held record has the new date" "transferred=2021-06-01" \
	"$(rec "/services/telecare/client held" properties)"

umount_vault "$M" "$V"

# ---- the demo's one command ----
DEMO=$IT_TMP/demo
IT_MOUNTS+=("$DEMO/mnt")
recfs demo "$DEMO" --insecure-fast-kdf >"$IT_TMP/demo.out" 2>&1 ||
	die "recfs demo failed: $(tail -c 800 "$IT_TMP/demo.out")"
SVC="telecare-alarm-service (closed 2023)"
assert_match "the demo says how to close its telecare service" "close-service" "$(cat "$IT_TMP/demo.out")"
age-keygen -o "$DEMO/pennine-lifeline.key" 2>/dev/null
(cd "$DEMO" && recfs close-service "mnt/$SVC" --out telecare.tar.gz.age \
	--recipient "$(age-keygen -y pennine-lifeline.key)" --to "Pennine Lifeline" --on 2023-03-31) \
	>"$IT_TMP/demo-close.out" 2>&1
assert_eq "the demo's close-service exits 0" 0 $?
D=$DEMO/telecare.tar.gz.age
mkdir -p "$IT_TMP/dx"
check "age -d | tar -x of the demo's archive" sh -c "age -d -i '$DEMO/pennine-lifeline.key' '$D' | tar -xzf - -C '$IT_TMP/dx'"
check "sha512sum -c in the demo's bag" sh -c "cd '$IT_TMP/dx/$SVC' && sha512sum -c --quiet manifest-sha512.txt"
check "the closure notice is in it" test -s "$IT_TMP/dx/$SVC/data/records/service-closure-notice.txt"
check "minisign -Vm of the demo's archive" minisign -Vm "$D" -p "$DEMO/vault.pub"
check "recfs archive verify of the demo's archive" recfs archive verify "$D" --identity "$DEMO/pennine-lifeline.key"
assert_eq "its record is locked" true "$(M=$DEMO/mnt rec "/$SVC" locked)"
recfs umount "$DEMO/mnt" >/dev/null 2>&1

finish
