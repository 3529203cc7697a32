#!/usr/bin/env bash
# completion: packaging/recfs.bash-completion, sourced by a non-interactive bash, on the demo.
#
# Owns: checking what Tab offers, through _recfs with COMP_WORDS and COMP_CWORD set as bash sets
# them: the commands, a command's subcommands and options (the same as its man page's, both from
# the binary), files inside the mount, a file's revisions for --rev (its `recfs log`), the holds
# in force for `hold release`, and the record classes for `hold add --class`.
# Must never: depend on the revisions' values (it compares them with `recfs log`), or on the
# day it runs.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
DEMO=$IT_TMP/demo
MNT=$DEMO/mnt
IT_MOUNTS+=("$MNT")
recfs demo "$DEMO" --insecure-fast-kdf >"$IT_TMP/demo.out" 2>&1 ||
	die "recfs demo failed: $(tail -c 800 "$IT_TMP/demo.out")"

# complete CWORD WORD...: what Tab offers with the cursor on WORD number CWORD (WORD 0 is
# recfs), one a line, sorted, run in the mount as a user would.
complete_at() {
	local cword=$1
	shift
	(cd "$MNT" && bash -c '
		. "$1"; shift
		COMP_CWORD=$1; shift
		COMP_WORDS=("$@")
		_recfs
		printf "%s\n" "${COMPREPLY[@]}"' completion "$SRC/packaging/recfs.bash-completion" \
		"$cword" "$RECFS" "$@") | sort
}
words() { printf '%s\n' "$@" | sort; }
offers() { assert_eq "$1" "$3" "$2"; }   # DESC GOT WANT

offers "recfs <Tab> offers every command" \
	"$(complete_at 1 "")" "$(words $("$RECFS" --complete commands) --help --version)"
assert_match "recfs <Tab> offers close-service and hold" '(^| )close-service .*(^| )hold ' \
	"$(complete_at 1 "" | tr '\n' ' ')"
offers "recfs ho<Tab> is hold" "$(complete_at 1 ho)" "hold"
offers "recfs hold <Tab> offers its subcommands" "$(complete_at 2 hold "")" "$(words add list release)"
offers "recfs mount --<Tab> offers mount's options" \
	"$(complete_at 2 mount --)" \
	"$(words --foreground --debug --options --at --author --threads --accept-history-state \
	         --passphrase-file --help)"
offers "recfs log --j<Tab> is --json or --json-lines" "$(complete_at 2 log --j)" "$(words --json --json-lines)"

CASE="adult-social-care/cases/ASC-2022-0311 Derek Ashworth"   # a fixed-date demo case
[ -d "$MNT/$CASE" ] || die "the demo has no $CASE"
offers "recfs log <path Tab> offers the files in the mount" \
	"$(complete_at 2 log "$CASE/")" "$(cd "$MNT" && compgen -f -- "$CASE/" | sort)"
assert_match "... among them the case's care plan" "/care-plan\.md\$" "$(complete_at 2 log "$CASE/")"

FILE="$CASE/care-plan.md"
revs=$(cd "$MNT" && recfs log "$FILE" | cut -d' ' -f1 | sort)
[ "$(echo "$revs" | wc -l)" -ge 2 ] || not_ok "recfs log lists the care plan's versions: $revs"
offers "recfs show FILE --rev <Tab> offers FILE's revisions" \
	"$(complete_at 4 show "$FILE" --rev "")" "$revs"
offers "recfs diff --rev <Tab> FILE (FILE after, quoted with backslashes) too" \
	"$(complete_at 3 diff --rev "" "$(printf '%s' "$FILE" | sed 's/ /\\ /g')")" "$revs"
first=$(echo "$revs" | head -1)
offers "recfs restore FILE --rev ${first:0:8}<Tab> completes it" \
	"$(complete_at 4 restore "$FILE" --rev "${first:0:8}")" "$first"

offers "recfs hold release o<Tab> offers the hold in force" \
	"$(complete_at 3 hold release o)" "ombudsman-complaint"
offers "recfs hold release VAULT h<Tab>: the hold, and the folder beside it" \
	"$(complete_at 4 hold release . h)" "$(words heatherbank-inquiry home-care-contracts)"
check "recfs hold release a hold" \
	bash -c "cd '$MNT' && '$RECFS' hold release ombudsman-complaint --reason 'complaint closed'"
offers "... and once released it is not offered" "$(complete_at 3 hold release o)" ""
offers "recfs hold add --class <Tab> offers the policy's classes" \
	"$(complete_at 4 hold add --class "")" \
	"$(words adult-social-care-case provider-contract contract-under-seal unsuccessful-tender \
	         closed-service)"
offers "recfs hold add --class p<Tab> with VAULT after it" \
	"$(complete_at 4 hold add --class p "$MNT" --name x)" "provider-contract"
offers "recfs due --as-of <Tab> offers nothing (a date)" "$(complete_at 3 due --as-of "")" ""
offers "recfs init V --passphrase-file <Tab> offers files" \
	"$(complete_at 4 init V --passphrase-file README)" "README.txt"

umount_vault "$MNT" "$DEMO/vault"
finish
