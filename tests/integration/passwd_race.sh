#!/bin/bash
# passwd_race: two `recfs passwd` at once must never both report success while
# only one change survives (the second writer's leftover-temp path used to
# unlink the first writer's temp file). recfs.conf is updated under a lock on
# the vault folder, and a slot changed meanwhile is refused.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault
make_vault "$V" "$IT_TMP/p0"
cur=$IT_TMP/p0
lost=0 rounds=12
for r in $(seq 1 $rounds); do
	printf 'round %s first\n' "$r" >"$IT_TMP/a$r"
	printf 'round %s second\n' "$r" >"$IT_TMP/b$r"
	recfs passwd "$V" --passphrase-file "$cur" --new-passphrase-file "$IT_TMP/a$r" --insecure-fast-kdf \
		>"$IT_TMP/a$r.out" 2>&1 &
	pa=$!
	recfs passwd "$V" --passphrase-file "$cur" --new-passphrase-file "$IT_TMP/b$r" --insecure-fast-kdf \
		>"$IT_TMP/b$r.out" 2>&1 &
	pb=$!
	wait $pa; ra=$?
	wait $pb; rb=$?
	# Every command that said it changed the passphrase must be the one that opens the vault.
	opens() { recfs fsck "$V" --passphrase-file "$1" >/dev/null 2>&1; }
	ok_a=no ok_b=no
	opens "$IT_TMP/a$r" && ok_a=yes
	opens "$IT_TMP/b$r" && ok_b=yes
	if { [ $ra -eq 0 ] && [ $ok_a = no ]; } || { [ $rb -eq 0 ] && [ $ok_b = no ]; }; then
		lost=$((lost + 1))
		echo "# round $r: passwd exits $ra/$rb, new passphrases open: $ok_a/$ok_b"
	fi
	if [ $ok_a = yes ]; then cur=$IT_TMP/a$r; elif [ $ok_b = yes ]; then cur=$IT_TMP/b$r; fi
	if [ $ra -ne 0 ] && [ $rb -ne 0 ]; then
		not_ok "round $r: both passwd runs failed: $(cat "$IT_TMP/a$r.out" "$IT_TMP/b$r.out" | tr '\n' '|')"
	fi
done
assert_eq "no passwd reported success for a change that was lost ($rounds concurrent pairs)" 0 "$lost"
check "recfs.conf still opens with the surviving passphrase" recfs fsck "$V" --passphrase-file "$cur"
[ -e "$V/recfs.conf.tmp" ] && not_ok "a temp recfs.conf was left behind" || ok "no temp recfs.conf left behind"

finish
