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

# check_json NAME FILE: FILE is one JSON document whose fields are those docs/JSON.md lists
# under "## recfs NAME", of the types it gives.
check_json() {
	check "$1 --json: one JSON document with the documented fields and types" \
		python3 - "$DOC" "$1" "$2" <<'EOF'
import json, re, sys
doc, name, path = sys.argv[1:]
fields, section = [], None
for line in open(doc, encoding="utf-8"):
    if line.startswith("## "):
        section = line[3:].strip().removeprefix("recfs ")
    m = re.match(r"\| `([^`]+)` \| ([a-z ]+) \|", line)
    if m and section == name:
        fields.append((m.group(1), m.group(2).strip()))
assert fields, "docs/JSON.md lists no field under ## %s" % name
data = json.load(open(path, encoding="utf-8"))
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
day = re.compile(r"^\d{4}-\d\d-\d\d$")
def ok(v, t):
    if t.endswith(" or null"):
        return v is None or ok(v, t[:-8])
    return {"string": lambda: isinstance(v, str),
            "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
            "boolean": lambda: isinstance(v, bool),
            "timestamp": lambda: isinstance(v, str) and (v == "" or iso.match(v)),
            "date": lambda: isinstance(v, str) and (v == "" or day.match(v)),
            "object": lambda: isinstance(v, dict),
            "array": lambda: isinstance(v, list)}[t]()
def values(d, key):          # "a.b" and "a[].b": every value at that place
    out = [d]
    for part in key.split("."):
        nxt = []
        for o in out:
            if o is None:
                continue
            k, each = (part[:-2], True) if part.endswith("[]") else (part, False)
            assert k in o, "no field %s in %s" % (key, json.dumps(o)[:300])
            nxt.extend(o[k] if each else [o[k]])
        out = nxt
    return out
rows = data if isinstance(data, list) else [data]
assert rows, "%s gave nothing to check" % name
for r in rows:
    for key, t in fields:
        for v in values(r, key):
            assert ok(v, t), "%s: %s is %r, not %s" % (name, key, v, t)
    extra = set(r) - {k.split(".")[0].split("[")[0] for k, _ in fields}
    assert not extra, "%s: fields not in docs/JSON.md: %s" % (name, sorted(extra))
EOF
}

# check_csv NAME JSONFILE CSVFILE: the header is the JSON's field names, a row per object.
check_csv() {
	check "$1 --csv: RFC 4180, the JSON's fields, as many rows" python3 - "$2" "$3" <<'EOF'
import csv, json, sys
rows = json.load(open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[2], newline="", encoding="utf-8") as f:
    table = list(csv.reader(f, strict=True))
assert rows, "nothing to compare"
assert table[0] == list(rows[0].keys()), (table[0], list(rows[0].keys()))
assert len(table) - 1 == len(rows), (len(table) - 1, len(rows))
for r, t in zip(rows, table[1:]):
    assert len(t) == len(r), t
    want = ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in r.values()]
    assert t == want, (t, want)
EOF
}

# both NAME ARGS...: recfs ARGS --json and --csv into $OUT/FILE.json and .csv (FILE: NAME with
# _ for what is not a letter), both checked.
both() {
	local name=$1 f
	f=$OUT/$(printf '%s' "$1" | tr -c 'a-z' _)
	shift
	recfs "$@" --json >"$f.json" 2>"$f.err" || not_ok "recfs $* --json failed: $(cat "$f.err")"
	check_json "$name" "$f.json"
	recfs "$@" --csv >"$f.csv" 2>"$f.err" || not_ok "recfs $* --csv failed: $(cat "$f.err")"
	check_csv "$name" "$f.json" "$f.csv"
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

both log log "$M"
both log log "$M/cases/$ODD/$ODD.txt"
recfs log "$M/cases/$ODD/$ODD.txt" --json-lines >"$OUT/log.lines" 2>&1
check "log --json-lines: one object a line, as in --json" python3 - "$OUT/log.json" "$OUT/log.lines" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert lines == json.load(open(sys.argv[1], encoding="utf-8"))[:len(lines)] and lines
EOF
both records records "$M"
both "hold list" hold list "$M"
both disposals disposals "$M"
both transfers transfers "$M"
recfs status "$M" --json >"$OUT/status.json" 2>&1
check_json status "$OUT/status.json"
recfs key list "$V" --json >"$OUT/key_list.json" 2>&1
check_json "key list" "$OUT/key_list.json"
recfs archive verify "$OUT/s1.tar" --json >"$OUT/archive_verify.json" 2>&1
check_json "archive verify" "$OUT/archive_verify.json"
recfs verify "$M" --json >"$OUT/verify_mounted.json" 2>&1
check_json verify "$OUT/verify_mounted.json"

check "the odd name comes back exact in records (JSON and CSV)" python3 - "$OUT" "/cases/$ODD" <<'EOF'
import csv, json, sys
out, odd = sys.argv[1:]
assert odd in [r["path"] for r in json.load(open(out + "/records.json", encoding="utf-8"))]
with open(out + "/records.csv", newline="", encoding="utf-8") as f:
    assert odd in [r["path"] for r in csv.DictReader(f)]
with open(out + "/hold_list.csv", newline="", encoding="utf-8") as f:
    assert [r["authority"] for r in csv.DictReader(f)] == [odd.split("/")[-1]]
EOF
check "and in log (JSON and CSV)" python3 - "$OUT" "/cases/$ODD/$ODD.txt" <<'EOF'
import csv, json, sys
out, odd = sys.argv[1:]
assert {r["path"] for r in json.load(open(out + "/log.json", encoding="utf-8"))} == {odd}
with open(out + "/log.csv", newline="", encoding="utf-8") as f:
    assert {r["path"] for r in csv.DictReader(f)} == {odd}
EOF
check "the disposal is a destroyed record in the log, a disposal in the register" python3 - "$OUT" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1] + "/disposals.json"))
assert [(r["number"], r["path"], r["files"]) for r in d] == [(1, "/cases/old", 1)], d
assert json.load(open(sys.argv[1] + "/hold_list.json"))[0]["records"] == 1
t = json.load(open(sys.argv[1] + "/transfers.json"))
assert [(r["seq"], r["kind"]) for r in t] == [(1, "archive")], t
EOF

umount_vault "$M" "$V"
recfs fsck "$V" --passphrase-file "$V.pass" --json >"$OUT/fsck.json" 2>"$OUT/fsck.err"
assert_eq "fsck --json of a sound vault exits 0" 0 $?
check_json fsck "$OUT/fsck.json"
recfs verify "$V" --passphrase-file "$V.pass" --json >"$OUT/verify.json" 2>"$OUT/verify.err"
assert_eq "verify --json of a sound vault exits 0" 0 $?
check_json verify "$OUT/verify.json"
check "both are complete; verify lists the destroyed keys as findings that are not problems" \
	python3 - "$OUT" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1] + "/fsck.json"))
assert f["complete"] and f["problems"] == 0 and f["findings"] == [] and f["files"] > 0, f
v = json.load(open(sys.argv[1] + "/verify.json"))
assert v["complete"] and v["problems"] == 0 and v["destroyed"] > 0, v
assert [(x["kind"], x["problem"]) for x in v["findings"]] == [("destroyed", False)], v
EOF

# Damage: the last byte of the held case's file. fsck and verify say so, exit 1.
mount_vault "$V" "$M"
ino=$(stat -c %i "$M/cases/held/notes.txt")
umount_vault "$M" "$V"
f=$(find "$V/live" -inum "$ino")
printf 'X' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 1)) conv=notrunc 2>/dev/null
recfs fsck "$V" --passphrase-file "$V.pass" --json >"$OUT/fsck_bad.json" 2>"$OUT/fsck.err"
assert_eq "fsck --json of a damaged vault exits 1" 1 $?
check_json fsck "$OUT/fsck_bad.json"
recfs verify "$V" --passphrase-file "$V.pass" --json >"$OUT/verify_bad.json" 2>"$OUT/verify.err"
assert_eq "verify --json of a damaged vault exits 1" 1 $?
check_json verify "$OUT/verify_bad.json"
check "fsck names the file by its clear path, verify says live/ differs" python3 - "$OUT" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1] + "/fsck_bad.json"))
assert [(x["kind"], x["path"]) for x in f["findings"] if x["problem"]] == [("corrupt", "/cases/held/notes.txt")], f
assert f["problems"] == 1, f
v = json.load(open(sys.argv[1] + "/verify_bad.json"))
kinds = {x["kind"] for x in v["findings"] if x["problem"]}
assert "live_differs" in kinds and v["problems"] == len([x for x in v["findings"] if x["problem"]]), v
EOF
finish
