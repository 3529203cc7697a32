#!/usr/bin/env bash
# man.sh: the manual pages of the build are complete and render cleanly.
#
# Owns: checking that every command of the RFS_COMMAND list has its recfs-COMMAND(1), that each
# long option a command takes is on its page, that recfs(1) names every command, that each page
# renders under groff -ww without a warning, and that the hand-kept recfs-vault(5) agrees with
# docs/FORMAT.md (its format version, and each file it lists).
# Must never: need root, a vault or a mount; write outside its temp folder.
#
# Environment: RECFS (the recfs binary), MAN_DIR (the build's man/ folder), SOURCE_ROOT.
set -u
: "${RECFS:?set RECFS=/path/to/recfs}" "${MAN_DIR:?set MAN_DIR}" "${SOURCE_ROOT:?set SOURCE_ROOT}"
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
for tool in groff man; do
	command -v "$tool" >/dev/null || { echo "man.sh: $tool is missing: bash packaging/install-deps.sh" >&2; exit 1; }
done

# roff writes '-' as '\-'.
roff() { printf '%s' "$1" | sed 's/-/\\-/g'; }

renders() {   # PAGE: groff -ww says nothing, and man shows its NAME section
	local page=$1 warnings
	warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$warnings" ]; then
		not_ok "$(basename "$page") renders without warnings: $warnings"
	elif ! MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q '^NAME'; then
		not_ok "$(basename "$page"): man -l shows no NAME section"
	else
		ok "$(basename "$page") renders"
	fi
}

commands=$("$RECFS" --complete commands) || { not_ok "recfs --complete commands"; exit 1; }
[ "$(echo "$commands" | wc -l)" -ge 20 ] && ok "recfs lists its commands" || not_ok "recfs lists too few commands: $commands"
renders "$MAN_DIR/recfs.1"
for c in $commands; do
	page=$MAN_DIR/recfs-$c.1
	if [ ! -f "$page" ]; then
		not_ok "recfs $c has no page $page (man/meson.build makes one per RFS_COMMAND line)"
		continue
	fi
	grep -qxF "\\fB$(roff "$c")\\fR" "$MAN_DIR/recfs.1" || not_ok "recfs(1) does not name $c"
	missing=""
	for o in $("$RECFS" --complete options "$c"); do
		grep -qF -- "$(roff "$o")" "$page" || missing="$missing $o"
	done
	if [ -n "$missing" ]; then
		not_ok "recfs-$c.1 lacks$missing (say it in the command's help text)"
	else
		ok "recfs-$c.1 has each option of recfs $c"
	fi
	renders "$page"
done
renders "$MAN_DIR/recfs-policy.5"
for h in $(grep '^## ' "$SOURCE_ROOT/docs/POLICY.md" | sed 's/^## //' | tr ' a-z' '_A-Z'); do
	grep -qxF ".SH \"$(roff "${h//_/ }")\"" "$MAN_DIR/recfs-policy.5" ||
		not_ok "recfs-policy.5 lacks the section $h of docs/POLICY.md"
done

vault=$MAN_DIR/recfs-vault.5
renders "$vault"
format=$(sed -n 's/^# recfs vault format, version \([0-9]*\)$/\1/p' "$SOURCE_ROOT/docs/FORMAT.md")
grep -q "vaults of format version $format," "$vault" && ok "recfs-vault.5 says format $format" ||
	not_ok "recfs-vault.5 does not say format version $format, as docs/FORMAT.md does"
for f in $(sed -n 's/^\.I VAULT\/\([^/]*\)\/\{0,1\}$/\1/p' "$vault"); do
	grep -Eq "^  $f/? " "$SOURCE_ROOT/docs/FORMAT.md" && ok "recfs-vault.5's $f is in docs/FORMAT.md" ||
		not_ok "recfs-vault.5 lists $f, which docs/FORMAT.md's folder layout does not"
done
echo "# man: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
