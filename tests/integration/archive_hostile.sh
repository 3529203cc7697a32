#!/bin/bash
# archive_hostile.sh: `recfs archive verify` against good bags and hostile tarballs, all made by
# archive_gen.py (python's tarfile) and signed by the real minisign, encrypted by the real age:
# each gives its kind of problem and its exit code, with bounded memory (peak RSS from
# /usr/bin/time) and no byte written outside. The big ones stay fast: the 10 GB gzip bomb and a
# sparse 10 GiB file stop at the 500-fold expansion limit, the 100 MiB pax header at libarchive's
# header limit, and the manifest of 10 million lines streams (its lines are reported, the first
# 100 kept).
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
GEN=(python3 "$HERE/archive_gen.py")
VERIFY=("$RECFS" archive verify)
RSS_MAX_KB=${RSS_MAX_KB:-65536}   # 12 MiB under ASan, for inputs of 100 MiB to 10 GiB
W=$IT_TMP/work
mkdir -p "$W/run"
minisign -G -W -p "$W/vault.pub" -s "$W/vault.key" >/dev/null 2>&1 || die "minisign -G"

gen() {   # gen CASE FILE: write, and sign with the vault's key
	"${GEN[@]}" "$1" "$W/$2" || die "archive_gen.py $1"
	minisign -S -W -s "$W/vault.key" -m "$W/$2" -t "test $1" >/dev/null 2>&1 || die "minisign -S $2"
}

# run FILE [ARGS]: verify --json from a folder of its own; sets RC, OUT, RSS (KiB).
run() {
	local f=$1
	shift
	(cd "$W/run" && timeout -k 5 120 /usr/bin/time -f %M -o "$W/rss" \
		"${VERIFY[@]}" "$W/$f" --json "$@" >"$W/out" 2>"$W/err")
	RC=$?
	OUT=$(cat "$W/out")
	RSS=$(tail -1 "$W/rss")
}

kinds() {   # the problem kinds of the last run's JSON, sorted, unique
	python3 -c 'import json,sys; print(" ".join(sorted({p["kind"] for p in json.load(sys.stdin)["problems"]})))' <<<"$OUT"
}

field() {   # field EXPR: a value of the last run's JSON (python expression on r)
	python3 -c 'import json,sys; r = json.load(sys.stdin); print('"$1"')' <<<"$OUT"
}

# expect DESC KIND CODE FILE [ARGS]: the run exits CODE and reports KIND, within the RSS bound.
expect() {
	local desc=$1 kind=$2 code=$3
	shift 3
	run "$@"
	assert_eq "$desc: exit $code" "$code" "$RC"
	if [ "$kind" = none ]; then
		assert_eq "$desc: no problem" "0" "$(field 'r["problems_total"]')"
	else
		assert_match "$desc: reports $kind" "(^| )$kind( |$)" "$(kinds)"
	fi
	check "$desc: peak RSS ${RSS} KiB <= $RSS_MAX_KB" test "${RSS:-999999999}" -le "$RSS_MAX_KB"
}

# --- good bags, in each compression, and the report's fields
for f in valid.tar valid.tar.gz valid.tar.zst; do
	gen valid "$f"
	expect "$f" none 0 "$f"
done
assert_eq "JSON: ok, bag name, payload files, OCFL objects and versions" \
	"True Telecare 12 1 2" \
	"$(field 'r["ok"], r["bag"]["name"], r["bag"]["files"], r["ocfl"]["objects"], r["ocfl"]["versions"]')"
assert_eq "JSON: the signature checked, with minisign's trusted comment" "True True test valid" \
	"$(field 'r["signature"]["checked"], r["signature"]["ok"], r["signature"]["trusted_comment"]')"
check "the standard tools agree: minisign -V" minisign -Vm "$W/valid.tar" -p "$W/vault.pub" -q
out=$(cd "$W/run" && "${VERIFY[@]}" "$W/valid.tar")
assert_match "text: one summary line, valid" "valid.tar: valid; bag Telecare: 12 payload files" "$out"
assert_eq "no progress line when stderr is not a terminal" "" "$(cat "$W/err")"
RECFS_PROGRESS=1 "${VERIFY[@]}" "$W/valid.tar.gz" >/dev/null 2>"$W/progress"
assert_match "a progress line when asked (entries, bytes)" "verify +[0-9]+ files +[0-9.]+ [KMG]?i?B" \
	"$(tr '\r' '\n' <"$W/progress")"
gen sorted sorted.tar
expect "entries sorted, manifest first" none 0 sorted.tar

# --- each kind of damage
for c in changed missing extra malformed-line ocfl-mismatch; do
	gen "$c" "$c.tar"
done
expect "a changed byte" changed 1 changed.tar
expect "a missing file" missing 1 missing.tar
expect "an extra file" extra 1 extra.tar
expect "a malformed manifest line" manifest-malformed 1 malformed-line.tar
assert_match "it names the line" "line 3" "$(field 'r["problems"][0]["detail"]')"
expect "an OCFL inventory that does not match" ocfl-mismatch 1 ocfl-mismatch.tar
out=$(cd "$W/run" && "${VERIFY[@]}" "$W/changed.tar")
assert_match "text: KIND: PATH: detail" "^changed: Telecare/data/records/rota.csv: SHA-512 " "$out"

# --- hostile paths and links: reported, nothing written anywhere
for c in traversal-dotdot traversal-abs symlink-out; do
	gen "$c" "$c.tar"
done
expect "../ in a name" unsafe-path 1 traversal-dotdot.tar
expect "an absolute name" unsafe-path 1 traversal-abs.tar
expect "a link out of the bag" unsafe-link 1 symlink-out.tar
assert_eq "verify wrote nothing (its folder is empty, no x beside it)" "0 0" \
	"$(ls -A "$W/run" | wc -l) $(ls "$W" | grep -cx x)"

# --- hostile sizes: bounded memory, a clear message, quickly
gen pax-huge pax-huge.tar.gz
expect "a 100 MiB pax header" limit 3 pax-huge.tar.gz
gen gzip-bomb bomb.tar.gz
start=$SECONDS
expect "a gzip bomb (10 GiB of zeros in $(($(stat -c %s "$W/bomb.tar.gz") >> 20)) MiB)" limit 3 bomb.tar.gz
check "the bomb stopped within 30 s" test $((SECONDS - start)) -le 30
assert_match "it says why" "compression bomb" "$(field 'r["problems"][0]["detail"]')"
# a sparse file: 10 GiB of holes in a few hundred bytes of GNU tar (holes count as read)
mkdir -p "$W/sparse/Telecare/data"
printf 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n' >"$W/sparse/Telecare/bagit.txt"
truncate -s 10G "$W/sparse/Telecare/data/holes.bin" && echo x >>"$W/sparse/Telecare/data/holes.bin"
tar --sparse -czf "$W/sparse.tar.gz" -C "$W/sparse" Telecare || die "tar --sparse"
rm -rf "$W/sparse"
minisign -S -W -s "$W/vault.key" -m "$W/sparse.tar.gz" >/dev/null 2>&1
expect "a sparse file of 10 GiB of holes" limit 3 sparse.tar.gz
gen manifest-huge huge.tar.gz
expect "a manifest of 10 million lines" missing 1 huge.tar.gz
assert_eq "all counted, the first 100 kept" "True 100" \
	"$(field 'r["problems_total"] >= 10000000, len(r["problems"])')"
rm -f "$W/huge.tar.gz" "$W/bomb.tar.gz" "$W/pax-huge.tar.gz"

# --- truncated: plain and gzip, at several offsets (each re-signed: only the cut is wrong)
size=$(stat -c %s "$W/valid.tar")
for off in 700 1054 5000 12000; do
	head -c "$off" "$W/valid.tar" >"$W/cut.tar"
	minisign -S -W -s "$W/vault.key" -m "$W/cut.tar" >/dev/null 2>&1
	expect "valid.tar ($size bytes) cut at $off" truncated 3 cut.tar
done
size=$(stat -c %s "$W/valid.tar.gz")
for off in 40 $((size / 2)) $((size - 4)); do
	head -c "$off" "$W/valid.tar.gz" >"$W/cut.tar.gz"
	minisign -S -W -s "$W/vault.key" -m "$W/cut.tar.gz" >/dev/null 2>&1
	expect "valid.tar.gz ($size bytes) cut at $off" truncated 3 cut.tar.gz
done
head -c 30000 /dev/urandom >"$W/noise.tar"
minisign -S -W -s "$W/vault.key" -m "$W/noise.tar" >/dev/null 2>&1
expect "random bytes" not-an-archive 3 noise.tar

# --- signatures
cp "$W/valid.tar" "$W/tampered.tar"
cp "$W/valid.tar.minisig" "$W/tampered.tar.minisig"
flip_byte "$W/tampered.tar" $(($(stat -c %s "$W/tampered.tar") - 1))
expect "a bad signature (a byte of the tar's padding changed)" bad-signature 4 tampered.tar
check_fails "minisign -V agrees" minisign -Vm "$W/tampered.tar" -p "$W/vault.pub" -q
cp "$W/valid.tar" "$W/unsigned.tar"
expect "no FILE.minisig" no-signature 4 unsigned.tar
mkdir -p "$W/alone"
cp "$W/valid.tar" "$W/valid.tar.minisig" "$W/alone/"
expect "no key beside it" no-signature 4 alone/valid.tar
expect "the key given with --pubkey" none 0 alone/valid.tar --pubkey "$W/vault.pub"

# --- age, encrypted by the real age tool
age-keygen -o "$W/id.txt" 2>/dev/null && age-keygen -o "$W/other.txt" 2>/dev/null || die "age-keygen"
age -r "$(age-keygen -y "$W/id.txt")" -o "$W/enc.tar.gz.age" "$W/valid.tar.gz" || die "age -e"
minisign -S -W -s "$W/vault.key" -m "$W/enc.tar.gz.age" >/dev/null 2>&1
expect "age: the right identity" none 0 enc.tar.gz.age --identity "$W/id.txt"
assert_eq "JSON: encrypted" "True" "$(field 'r["encrypted"]')"
expect "age: a wrong identity" wrong-identity 5 enc.tar.gz.age --identity "$W/other.txt"
expect "age: no identity" no-identity 5 enc.tar.gz.age
check "the standard tools agree: age -d | tar -t" \
	bash -c "age -d -i '$W/id.txt' '$W/enc.tar.gz.age' | tar -tz >/dev/null"

# --- usage
run absent.tar
assert_eq "a file that is not there: exit 2" 2 "$RC"
assert_match "it says so" "absent.tar: No such file" "$(cat "$W/err")"

finish
