#!/bin/bash
# json: every command that lists or reports gives one JSON document with --json, and a
# spreadsheet's CSV with --csv (issue 13, item 9). A small vault gets records, a hold, a
# disposal and a transfer; then log, status, key list, records, due, hold list, disposals,
# transfers, dispose --dry-run, archive verify, fsck and verify run with --json, each parsed by
# python3's json module and checked against the fields docs/JSON.md lists (present, and of
# the type it gives), so the doc and the output cannot drift; each --csv is parsed by python3's
# csv module (the header is the JSON's field names, one row per JSON object). A record named
# with a quote, a comma, a newline and non-ASCII comes back exact through both. fsck and verify
# of a damaged vault report the damage as findings and keep their exit codes.
# The checks themselves are json_check.py, run once at the end.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

DOC=$(dirname "$0")/../../docs/JSON.md
V=$IT_TMP/vault M=$IT_TMP/mnt OUT=$IT_TMP/out
ODD=$'o"dd, n\xc3\xa4me\nline'           # a quote, a comma, non-ASCII and a newline
mkdir -p "$OUT"
cat >"$IT_TMP/policy.conf" <<'EOF'
organisation = Testshire Council

[roles]
records-manager = root

[class case]
records   = cases/*
retain    = 1 year after closed
then      = destroy
lock      = never
authority = Testshire records policy
EOF

# json NAME FILE ARGS...: recfs ARGS --json into FILE, to be checked against docs/JSON.md's
# "## recfs NAME" (json_check.py, at the end, in one python3 process); its exit code in RC.
json() {
	local name=$1 f=$2
	shift 2
	recfs "$@" --json >"$f" 2>"$f.err"
	RC=$?
	[ $RC -le 1 ] || not_ok "recfs $* --json failed: $(cat "$f.err")"
	printf 'json\t%s\t%s\n' "$name" "$f" >>"$OUT/manifest"
}

# both NAME ARGS...: recfs ARGS --json and --csv into $OUT/FILE.json and .csv (FILE: NAME with
# _ for what is not a letter), both to be checked.
both() {
	local name=$1 f
	f=$OUT/$(printf '%s' "$1" | tr -c 'a-z' _)
	shift
	json "$name" "$f.json" "$@"
	recfs "$@" --csv >"$f.csv" 2>"$f.err" || not_ok "recfs $* --csv failed: $(cat "$f.err")"
	printf 'csv\t%s\t%s\t%s\n' "$name" "$f.json" "$f.csv" >>"$OUT/manifest"
}

make_vault "$V"
mount_vault "$V" "$M"
mkdir -p "$M/cases/old" "$M/cases/held" "$M/cases/$ODD" "$M/services/s1"
echo "old notes" >"$M/cases/old/notes.txt"
echo "held notes" >"$M/cases/held/notes.txt"
echo "odd notes" >"$M/cases/$ODD/$ODD.txt"
echo "service" >"$M/services/s1/a.txt"
check "an archive (a transfer)" recfs archive "$M/services/s1" --out "$OUT/s1.tar"
check "policy load" recfs policy load "$M" "$IT_TMP/policy.conf"
check "close the old case long ago" recfs close "$M/cases/old" --on 2020-01-01
check "close the odd one too" recfs close "$M/cases/$ODD" --on 2020-01-01
check "hold the odd one" recfs hold add "$M/cases/$ODD" --name inquiry --authority "$ODD"
both due due "$M"
both "dispose --dry-run" dispose "$M" --dry-run
recfs dispose "$M" >"$OUT/dispose.out" 2>&1
assert_eq "dispose destroys the old case, keeps the held one (exit 1)" 1 $?
check "flush" recfs flush "$M"

both log log "$M/cases/$ODD/$ODD.txt"
recfs log "$M/cases/$ODD/$ODD.txt" --json-lines >"$OUT/log.lines" 2>&1
both records records "$M"
both "hold list" hold list "$M"
both disposals disposals "$M"
both transfers transfers "$M"
json status "$OUT/status.json" status "$M"
json "key list" "$OUT/key_list.json" key list "$V"
json "archive verify" "$OUT/archive_verify.json" archive verify "$OUT/s1.tar"
json verify "$OUT/verify_mounted.json" verify "$M"
ino=$(stat -c %i "$M/cases/held/notes.txt")     # its file in live/, damaged below
umount_vault "$M" "$V"

json fsck "$OUT/fsck.json" fsck "$V" --passphrase-file "$V.pass"
assert_eq "fsck --json of a sound vault exits 0" 0 $RC
json verify "$OUT/verify.json" verify "$V" --passphrase-file "$V.pass"
assert_eq "verify --json of a sound vault exits 0" 0 $RC

# Damage: the last byte of the held case's file. fsck and verify say so, and exit 1.
f=$(find "$V/live" -inum "$ino")
flip_byte "$f" $(($(stat -c %s "$f") - 1))
json fsck "$OUT/fsck_bad.json" fsck "$V" --passphrase-file "$V.pass"
assert_eq "fsck --json of a damaged vault exits 1" 1 $RC
json verify "$OUT/verify_bad.json" verify "$V" --passphrase-file "$V.pass"
assert_eq "verify --json of a damaged vault exits 1" 1 $RC

done=
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"# all checked") done=1 ;;
	*) not_ok "${line#not ok - }" ;;
	esac
done < <(python3 "$(dirname "$0")/json_check.py" "$DOC" "$OUT" "$ODD" 2>&1)
[ -n "$done" ] || not_ok "json_check.py did not run to its end"
finish
