#!/bin/bash
# archive: recfs archive end to end in a real mount (issue 12, items 1-6, 8): a service folder
# whose records have names with spaces and UTF-8, several versions, a rename of a record's
# folder, a link inside and one pointing outside (reported, left out) and a hold, archived
# with and without --history as .tar, .tar.gz, .tar.zst and .tar.age; GNU tar lists and
# extracts each, sha512sum -c passes both manifests, every OCFL inventory's digests match
# its content (python3), one version per saved version with its user, content once per
# digest, the current files hard links into the objects, mtimes the versions' dates; two
# archives of the same state are byte-identical (after the first was logged); minisign -Vm
# with the written VAULT.pub; age -d -i KEY | tar -t; recfs archive verify; refusals
# (existing FILE, FILE inside the mount, bad recipient, .age without one, a bad suffix, a
# note of two lines) exit non-zero and leave no FILE.part; no plaintext marker on disk in
# the vault or the encrypted archive; and the daemon's peak memory stays bounded while it
# archives a few hundred MiB.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/m OUT=$IT_TMP/out
MARK=qzv${RANDOM}arc
VNAME=$(basename "$V")
mkdir -p "$OUT"
# Under ASan, freed memory waits in a quarantine (256 MiB by default): keep it small, so the
# daemon's peak RSS below says what it holds, not what it freed.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8:thread_local_quarantine_size_kb=256"
make_vault "$V"
mount_vault "$V" "$M"

# ---- a service and its records ----
T=$M/Telecare
Z="$T/alarm 1 – Zoë"
mkdir -p "$Z/letters" "$T/alarm-2" "$T/old name" "$M/Other"
echo "first $MARK" >"$Z/notes.txt"
recfs flush "$M" >/dev/null
first_mtime=$(stat -c %Y "$Z/notes.txt")
echo "second $MARK" >"$Z/notes.txt"
recfs flush "$M" >/dev/null
echo "third $MARK" >"$Z/notes.txt"
touch -d '2021-03-04 05:06:07' "$Z/notes.txt"
echo "same bytes" >"$Z/letters/a b.txt"
echo "same bytes" >"$Z/letters/ç copy.txt"
ln -s notes.txt "$Z/link to notes"
ln -s /etc/passwd "$T/alarm-2/outside"
echo "alarm two" >"$T/alarm-2/log.txt"
echo "renamed record" >"$T/old name/r.txt"
recfs flush "$M" >/dev/null
mv "$T/old name" "$T/new name"
echo "elsewhere" >"$M/Other/x.txt"
cat >"$IT_TMP/policy.conf" <<EOF
organisation = Anytown Council
[class telecare-alarm]
records   = Telecare/*
retain    = 6 years after closed
then      = destroy
authority = Telecare retention rule 4
EOF
check "a policy with a telecare class loads" recfs policy load "$M" "$IT_TMP/policy.conf"
check "a hold on alarm-2" recfs hold add "$T/alarm-2" --name complaint-9 --authority "Complaint 9"
zoe_mtime=$(stat -c %Y "$Z/notes.txt")
log_mtime=$(stat -c %Y "$T/alarm-2/log.txt")

# ---- the archive with history ----
out=$(recfs archive "$T" --out "$OUT/a.tar" --history --note "handover to Anytown Housing" 2>&1)
assert_eq "recfs archive --history exits 0" 0 $?
assert_match "it names the held record" "held +/Telecare/alarm-2" "$out"
assert_match "it reports the link pointing outside" "left out .*alarm-2/outside -> /etc/passwd" "$out"
assert_match "it prints the commands to check it" "minisign -Vm a.tar -p $VNAME.pub" "$out"
check "FILE.minisig is beside it" test -s "$OUT/a.tar.minisig"
check "VAULT.pub is beside it" test -s "$OUT/$VNAME.pub"
check_fails "no FILE.part is left" test -e "$OUT/a.tar.part"
check "minisign -Vm checks the signature with the written key" minisign -Vm "$OUT/a.tar" -p "$OUT/$VNAME.pub"
list=$(tar -tvf "$OUT/a.tar" 2>&1)
assert_match "GNU tar lists names with spaces and UTF-8" "Telecare/data/records/alarm 1 – Zoë/letters/ç copy.txt" "$list"
assert_match "the link inside is a link" "Telecare/data/records/alarm 1 – Zoë/link to notes -> notes.txt" "$list"
assert_eq "the link outside is left out" "" "$(grep outside <<<"$list")"
assert_match "the current file is a hard link into its object" \
	"^h.*Telecare/data/records/alarm 1 – Zoë/notes.txt link to Telecare/data/history/alarm 1 – Zoë/v" "$list"
assert_eq "no entry is absolute or has .." "" "$(tar -tf "$OUT/a.tar" | grep -E '^/|(^|/)\.\.(/|$)')"
X=$IT_TMP/x1
mkdir "$X" && tar -xf "$OUT/a.tar" -C "$X"
B=$X/Telecare
check "sha512sum -c passes the manifest" sh -c "cd '$B' && sha512sum --quiet -c manifest-sha512.txt"
check "sha512sum -c passes the tag manifest" sh -c "cd '$B' && sha512sum --quiet -c tagmanifest-sha512.txt"
assert_eq "the current bytes are the mount's" "third $MARK" "$(cat "$B/data/records/alarm 1 – Zoë/notes.txt")"
assert_eq "the current file's mtime is the mount's (a touch's)" "$zoe_mtime" "$(stat -c %Y "$B/data/records/alarm 1 – Zoë/notes.txt")"
assert_eq "and another's" "$log_mtime" "$(stat -c %Y "$B/data/records/alarm-2/log.txt")"
assert_match "bag-info has the organisation and the note" \
	"Source-Organization: Anytown Council.*Internal-Sender-Description: handover to Anytown Housing" \
	"$(tr '\n' ' ' <"$B/bag-info.txt")"
assert_match "records.csv has the held record, its class and authority" \
	"/Telecare/alarm-2,telecare-alarm,.*complaint-9.*Telecare retention rule 4" "$(cat "$B/records.csv")"
check "records.json is JSON with every record" python3 -c "
import json, sys
d = json.load(open('$B/records.json'))
paths = sorted(r['path'] for r in d['records'])
assert paths == ['/Telecare/alarm 1 – Zoë', '/Telecare/alarm-2', '/Telecare/new name'], paths
"
check "retention-schedule.conf is the policy" cmp "$B/retention-schedule.conf" "$IT_TMP/policy.conf"
cat >"$IT_TMP/ocfl.py" <<'EOF'
import hashlib, json, os, sys
bag, login = sys.argv[1], sys.argv[2]
hist = os.path.join(bag, 'data', 'history')
def sha(p):
    h = hashlib.sha512()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 16), b''):
            h.update(b)
    return h.hexdigest()
objs = {}
for d in sorted(os.listdir(hist)):
    o = os.path.join(hist, d)
    assert open(os.path.join(o, '0=ocfl_object_1.1')).read() == 'ocfl_object_1.1\n', d
    inv_p = os.path.join(o, 'inventory.json')
    inv = json.load(open(inv_p))
    side = open(inv_p + '.sha512').read().split()
    assert side[0] == sha(inv_p) and side[1] == 'inventory.json', d
    assert inv['digestAlgorithm'] == 'sha512' and inv['type'] == 'https://ocfl.io/1.1/spec/#inventory'
    head = inv['head']
    assert sha(os.path.join(o, head, 'inventory.json')) == side[0], 'head copy'
    for dig, paths in inv['manifest'].items():
        assert len(paths) == 1, ('content stored twice', dig, paths)
        assert sha(os.path.join(o, paths[0])) == dig, ('digest', paths[0])
    for v, ver in inv['versions'].items():
        assert ver['user']['address'].startswith('mailto:' + login + '@'), ver['user']
        assert ver['user']['name'], ver['user']
        assert ver['message'], ver
        for dig in ver['state']:
            assert dig in inv['manifest'], ('state digest not in manifest', v, dig)
    objs[d] = inv
print(json.dumps({d: [len(i['versions']), i['versions'][i['head']]['message']] for d, i in objs.items()}))
zoe = objs['alarm 1 – Zoë']
notes = []                                 # the content of notes.txt, version by version
for n in range(1, len(zoe['versions']) + 1):
    st = zoe['versions']['v%d' % n]['state']
    d = [d for d, p in st.items() if 'notes.txt' in p]
    if d and (not notes or notes[-1] != d[0]):
        notes.append(d[0])
path = lambda d: os.path.join(hist, 'alarm 1 – Zoë', zoe['manifest'][d][0])
notes = [d for d in notes if os.path.getsize(path(d))]   # created empty, then written
texts = [open(path(d)).read().split()[0] for d in notes]
assert texts == ['first', 'second', 'third'], texts
print(path(notes[0]))
same = [p for d, p in zoe['versions'][zoe['head']]['state'].items() if len(p) == 2]
assert same and sorted(same[0]) == ['letters/a b.txt', 'letters/ç copy.txt'], same
new = objs['new name']
assert new['versions'][new['head']]['message'] == 'renamed old name to new name', new['versions']
before = new['versions']['v%d' % (len(new['versions']) - 1)]  # under its old name: followed
assert ['r.txt'] in before['state'].values() and 'saved r.txt' in before['message'], before
EOF
out=$(python3 "$IT_TMP/ocfl.py" "$B" "$(id -un)" 2>&1)
assert_eq "every OCFL inventory matches its content, one version per save, content once per digest" 0 $?
echo "# $out" | head -1
v1=$(tail -1 <<<"$out")
ino1=$(stat -c %i "$B/data/records/alarm 1 – Zoë/notes.txt")
check "the current file is the same inode as its newest content in the object" sh -c \
	"find '$B/data/history' -inum $ino1 | grep -q content/notes.txt"
assert_eq "an old version's content has that version's mtime" "$first_mtime" "$(stat -c %Y "$v1" 2>&1)"

# ---- the same state again: byte for byte ----
check "a second archive of the same state" recfs archive "$T" --out "$OUT/b.tar" --history \
	--note "handover to Anytown Housing"
check "is byte-identical to the first (which the transfer log recorded since)" cmp "$OUT/a.tar" "$OUT/b.tar"
assert_match "the transfer log has both" "a.tar.*b.tar" "$(recfs transfers "$M" 2>&1 | tr '\n' ' ')"

# ---- without history, compressed, encrypted ----
check "without --history" recfs archive "$T" --out "$OUT/c.tar.gz"
check "gzip -t passes" gzip -t "$OUT/c.tar.gz"
mkdir "$IT_TMP/x2" && tar -xzf "$OUT/c.tar.gz" -C "$IT_TMP/x2"
assert_eq "without history, a file keeps its own mtime (a touch's)" "$zoe_mtime" \
	"$(stat -c %Y "$IT_TMP/x2/Telecare/data/records/alarm 1 – Zoë/notes.txt")"
assert_eq "without --history there is no data/history" "" "$(tar -tzf "$OUT/c.tar.gz" | grep data/history)"
check "a .tar.zst" recfs archive "$T" --out "$OUT/d.tar.zst" --history
check "GNU tar lists the .tar.zst" sh -c "tar --zstd -tf '$OUT/d.tar.zst' | grep -q 'Telecare/manifest-sha512.txt'"
age-keygen -o "$IT_TMP/key" 2>/dev/null
RCPT=$(age-keygen -y "$IT_TMP/key")
check "an .age archive to a recipient" recfs archive "$T" --out "$OUT/e.tar.age" --history --recipient "$RCPT"
check "age -d -i KEY | tar -t lists it" sh -c "age -d -i '$IT_TMP/key' '$OUT/e.tar.age' | tar -tf - | grep -q 'Telecare/bagit.txt'"
check "and its signature checks" minisign -Vm "$OUT/e.tar.age" -p "$OUT/$VNAME.pub"
if "$RECFS" archive verify --help >/dev/null 2>&1; then
	for f in a.tar c.tar.gz d.tar.zst; do
		check "recfs archive verify $f" recfs archive verify "$OUT/$f"
	done
	check "recfs archive verify e.tar.age --identity" recfs archive verify "$OUT/e.tar.age" --identity "$IT_TMP/key"
fi

# ---- progress only on a terminal (RECFS_PROGRESS=1 stands for one) ----
RECFS_PROGRESS=1 "$RECFS" archive "$T" --out "$OUT/p.tar" >/dev/null 2>"$IT_TMP/p.err"
assert_match "with a terminal, the progress line shows files and bytes" "archive +[0-9]+/[0-9]+ files" \
	"$(tr '\r' '\n' <"$IT_TMP/p.err")"
"$RECFS" archive "$T" --out "$OUT/q.tar" >/dev/null 2>"$IT_TMP/q.err"
assert_eq "without one, nothing of the kind" "" "$(cat "$IT_TMP/q.err")"

# ---- refusals: non-zero, nothing left ----
check_fails "an existing FILE is refused" recfs archive "$T" --out "$OUT/a.tar"
check_fails "FILE inside the mount is refused" recfs archive "$T" --out "$M/Other/in.tar"
check_fails "FILE inside the vault is refused" recfs archive "$T" --out "$V/in.tar"
check_fails "a bad recipient is refused" recfs archive "$T" --out "$OUT/f.tar.age" --recipient age1notakey
check_fails ".age without --recipient is refused" recfs archive "$T" --out "$OUT/g.tar.age"
check_fails "a suffix it does not know is refused" recfs archive "$T" --out "$OUT/h.zip"
check_fails "a note of two lines is refused" recfs archive "$T" --out "$OUT/i.tar" --note "$(printf 'a\nb')"
check_fails "--out is needed" recfs archive "$T"
assert_eq "no FILE.part nor refused FILE is left" "" \
	"$(ls "$OUT" "$M/Other" "$V" | grep -E '\.part$|^(in|f|g|h|i)\.')"

# ---- no plaintext at rest outside the mount ----
assert_eq "no file of the vault holds the marker" "" "$(grep -r -a -l -F -- "$MARK" "$V")"
assert_eq "the encrypted archive does not hold it" "" "$(grep -a -l -F -- "$MARK" "$OUT/e.tar.age")"
assert_eq "nor does any file of the temp folder but the plain archives and their extraction" "" \
	"$(grep -r -a -l -F --exclude-dir=x1 --exclude-dir=x2 --exclude='[abdpq].tar' --exclude=d.tar.zst \
	   --exclude=c.tar.gz --exclude='*.daemon.log*' --exclude=.check.out -- "$MARK" "$IT_TMP" |
	   grep -v "^$M/")"

# ---- memory: a few hundred MiB through a bounded daemon ----
mkdir -p "$M/Big/r1"
head -c 160M /dev/urandom >"$M/Big/r1/one.bin"
head -c 64M /dev/urandom >"$M/Big/r1/two.bin"
recfs flush "$M" >/dev/null
pid=$(daemon_pid "$M")
before=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status)
recfs archive "$M/Big" --out "$OUT/big.tar" --history >"$IT_TMP/big.out" 2>&1 &
apid=$!
# Saves go on while it runs, under PATH and elsewhere: none waits for the archive to end.
busy=0
for i in $(seq 1 20); do
	echo "save $i" >"$M/Other/busy.txt" && echo "line $i" >>"$M/Big/r1/grow.txt" && busy=$((busy + 1))
done
cat "$M/Big/r1/two.bin" >/dev/null
wait $apid
assert_eq "archive of 224 MiB with history, while 20 saves go on" "0 20" "$? $busy"
after=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status)
echo "# daemon VmHWM before ${before} kB, after ${after} kB"
assert_eq "the daemon's peak memory grew by less than 96 MiB" 1 "$([ $((after - before)) -lt 98304 ] && echo 1)"
assert_eq "and the tarball holds it all" 1 "$([ "$(stat -c %s "$OUT/big.tar")" -gt 234881024 ] && echo 1)"

# ---- stopped half way: nothing left, nothing logged ----
"$RECFS" archive "$M/Big" --out "$OUT/stopped.tar" --history >/dev/null 2>&1 &
apid=$!
for i in $(seq 1 50); do [ -e "$OUT/stopped.tar.part" ] && break; sleep 0.1; done
sleep 0.3
kill -INT $apid
wait $apid
assert_eq "a signal stops recfs archive non-zero" 1 "$([ $? -ne 0 ] && echo 1)"
for i in $(seq 1 300); do grep -q "output file was removed" "$M.daemon.log" && break; sleep 0.1; done
assert_eq "and leaves no FILE.part nor FILE" "" "$(ls "$OUT" | grep stopped)"
assert_match "the daemon says it did not log it" "stopped.tar|/Big: the output file was removed" "$(cat "$M.daemon.log")"
assert_eq "the transfer log has no entry for it" "" "$(recfs transfers "$M" 2>&1 | grep stopped)"

umount_vault "$M" "$V"
finish
