#!/bin/bash
# history_destroyed: vault format 3's history after a disposal (docs/HISTORY.md,
# record v2 / index v2). A record (/cases/smith) gets a marker in its file
# names, folder names, contents, old versions, renamed names, a link target
# and an xattr; it leaves the mount (rm -rf, as a disposal's deletions), and
# the test tool lists every id ever inside it (rfs_history_subtree), writes
# VAULT/disposed/1 and shreds them. Then no recfs command (log, log --json,
# show of every revision, mount --at of every revision, fsck, verify) shows
# the marker, grep finds it nowhere in the vault, the record's own path stays
# (the stub), every other file's history is intact, and recfs verify and git
# fsck --strict pass.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

[ -x "${DISPOSE_TOOL:-}" ] || die "set DISPOSE_TOOL to the dispose_tool test program"
V=$IT_TMP/vault M=$IT_TMP/mnt P=$IT_TMP/vault.pass MK=ZEBRA42Marker
make_vault "$V"
mount_vault "$V" "$M"
R=$M/cases/smith
fill() {
	mkdir -p "$R/old-$MK" "$M/cases/jones" || return 1
	printf 'first %s\n' "$MK" >"$R/notes-$MK.txt"
	recfs flush "$M" >/dev/null || return 1
	printf 'second %s\n' "$MK" >"$R/notes-$MK.txt"           # an old version
	printf 'letter %s\n' "$MK" >"$R/old-$MK/letter.txt"
	recfs flush "$M" >/dev/null || return 1
	mv "$R/old-$MK/letter.txt" "$R/old-$MK/renamed-$MK.txt"  # a renamed name
	ln -s "target-$MK" "$R/link-$MK"
	setfattr -n "user.$MK" -v "$MK" "$R/notes-$MK.txt"
	printf 'kept v1\n' >"$M/cases/jones/kept.txt"
	recfs flush "$M" >/dev/null || return 1
	printf 'kept v2\n' >"$M/cases/jones/kept.txt"
	recfs flush "$M" >/dev/null
}
check "a record with the marker in names, contents, old versions, renames, a link, an xattr" fill
check "the marker is in history before the disposal" \
	sh -c "'$RECFS' log --vault '$V' --passphrase-file '$P' -n 1000 2>/dev/null | grep -q '$MK'"
check "the record leaves the mount (the disposal's deletions)" rm -rf "$R"
check "flush" recfs flush "$M"
umount_vault "$M" "$V"

OUT=$("$DISPOSE_TOOL" "$V" "$P" /cases/smith 1 2>&1)
check "the disposal's ids are listed and shredded: $OUT" test -s "$V/disposed/1"
read -r FILES FOLDERS VERSIONS COUNT KEPT <<<"$OUT"
assert_eq "files inside (notes, letter; a link has no id, its versions count)" 2 "${FILES:-}"
assert_eq "folders inside (the record and old-)" 2 "${FOLDERS:-}"
assert_eq "ids listed: every file and folder (the link has none of its own)" 4 "${COUNT:-}"
assert_eq "nothing moved out, nothing kept" 0 "${KEPT:-}"
assert_eq "the list is 16 bytes per id" $((16 * ${COUNT:-0})) "$(stat -c %s "$V/disposed/1")"

hist() { recfs "$@" --vault "$V" --passphrase-file "$P"; }
LOG=$(hist log -n 100000 2>&1)
JSON=$(hist log --json-lines -n 100000 2>&1)
check "log shows no marker" sh -c "! printf '%s' \"\$1\" | grep -q '$MK'" _ "$LOG"
check "log --json-lines shows no marker" sh -c "! printf '%s' \"\$1\" | grep -q '$MK'" _ "$JSON"
assert_match "log names the disposal instead" "destroyed \(disposal 1\)" "$LOG"
assert_match "log --json-lines marks them destroyed" '"destroyed":true,"disposal":1' "$JSON"
assert_match "the record's own path is the stub that stays" "/cases/smith$" "$LOG"
assert_match "every other file's history is intact" "/cases/jones/kept.txt" "$LOG"
assert_eq "kept.txt's history is whole (created, saved, saved)" 3 "$(hist log /cases/jones/kept.txt 2>/dev/null | wc -l)"
GUESS=$(hist log "/cases/smith/notes-$MK.txt" 2>/dev/null)
assert_eq "log of a guessed path inside the record finds nothing at all" "" "$GUESS"

# show of every revision, of every path the record ever had
REVS=$(printf '%s\n' "$LOG" | awk '{print $1}' | sort -u)
PATHS="/cases/smith/notes-$MK.txt /cases/smith/old-$MK/letter.txt /cases/smith/old-$MK/renamed-$MK.txt /cases/smith/link-$MK"
leaks=0 destroyed=0
for rev in $REVS; do
	for p in $PATHS; do
		out=$(hist show "$p" --rev "$rev" 2>"$IT_TMP/show.err")
		rc=$?
		[ -z "$out" ] || leaks=$((leaks + 1))
		[ $rc -ne 0 ] || leaks=$((leaks + 1))
		grep -q "destroyed on .* (disposal 1)" "$IT_TMP/show.err" && [ $rc -eq 1 ] &&
			destroyed=$((destroyed + 1))
	done
done
assert_eq "show of every revision prints no content of the record" 0 "$leaks"
check "show says \"destroyed on DATE (disposal 1)\" and exits 1 where it stood ($destroyed)" test "$destroyed" -gt 3
assert_eq "show of kept.txt reads as before" "kept v2" "$(hist show /cases/jones/kept.txt --rev HEAD 2>&1)"

# mount --at every revision: the record is simply absent, and no noise
views=0 viewleaks=0
for rev in $REVS; do
	A=$IT_TMP/at-$rev
	mount_vault "$V" "$A" --at "$rev"
	views=$((views + 1))
	if ls -laR "$A" 2>&1 | grep -q "$MK" || grep -rqa "$MK" "$A" 2>/dev/null ||
		[ -e "$A/cases/smith" ]; then
		viewleaks=$((viewleaks + 1))
	fi
	cp "$A.daemon.log" "$IT_TMP/view.log" 2>/dev/null
	umount_vault "$A" "$V"
	if grep -Eiq 'authenticat|destroyed|error|cannot' "$IT_TMP/view.log"; then
		not_ok "mount --at ${rev}: the daemon logged: $(head -c 300 "$IT_TMP/view.log")"
	fi
done
assert_eq "mount --at of every revision ($views) shows nothing of the record" 0 "$viewleaks"

FSCK=$(recfs fsck "$V" --passphrase-file "$P" 2>&1)
check "fsck shows no marker" sh -c "! printf '%s' \"\$1\" | grep -q '$MK'" _ "$FSCK"
VERIFY=$(recfs verify "$V" --passphrase-file "$P" 2>&1)
VRC=$?
assert_eq "recfs verify passes (exit 0): $(printf '%s' "$VERIFY" | tail -n 3 | tr '\n' '|')" 0 "$VRC"
assert_match "verify counts the shredded keys as destroyed by disposal 1" "destroyed \(disposal 1\)" "$VERIFY"
check "verify shows no marker" sh -c "! printf '%s' \"\$1\" | grep -q '$MK'" _ "$VERIFY"
check "git fsck --strict passes" git --git-dir="$V/history.git" fsck --strict
check "grep -r finds the marker nowhere in the vault" sh -c "! grep -rqa '$MK' '$V'"

mount_vault "$V" "$M"
assert_eq "the other record reads as before" "kept v2" "$(cat "$M/cases/jones/kept.txt" 2>&1)"
check "the record is gone from the mount" test ! -e "$M/cases/smith"
# The same answers through the daemon (the vault is mounted: its control socket)
RLOG=$(recfs log --vault "$V" -n 100000 2>&1)
check "log through the daemon shows no marker" sh -c "! printf '%s' \"\$1\" | grep -q '$MK'" _ "$RLOG"
assert_match "log through the daemon names the disposal" "destroyed \(disposal 1\)" "$RLOG"
FIRST=$(printf '%s\n' "$RLOG" | awk '/destroyed/ {r = $1} END {print r}')
out=$(recfs show --vault "$V" "/cases/smith/notes-$MK.txt" --rev "$FIRST" 2>"$IT_TMP/show.err")
assert_eq "show through the daemon exits 1" 1 "$?"
assert_eq "show through the daemon prints nothing of it" "" "$out"
assert_match "show through the daemon says destroyed on DATE" "destroyed on [0-9-]+ \(disposal 1\)" \
	"$(cat "$IT_TMP/show.err")"
umount_vault "$M" "$V"
finish
