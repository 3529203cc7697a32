#!/bin/bash
# keys: a keyslot per person and a recovery key (recfs key list/add/remove/recovery), unmounted
# and while the vault is mounted: a new passphrase opens the vault, a removed one no longer
# does, the last slot is never removed, a duplicate label and a ninth slot are refused, the
# recovery key is printed once, stored nowhere, and opens the vault through
# --recovery-key-file (typed back in lower case with spaces) while the mount goes on working.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt P=$IT_TMP/vault.pass
make_vault "$V"
printf 'bob passphrase\n' >"$IT_TMP/bob"
printf 'carol passphrase\n' >"$IT_TMP/carol"
opens() { recfs fsck "$V" --passphrase-file "$1" >/dev/null 2>&1; }
fast=--insecure-fast-kdf

# Unmounted.
list=$(recfs key list "$V")
assert_match "key list shows slot 0 with its label, cost and time" \
	'^0  [A-Za-z0-9._@-]+  argon2id13  1  8192  20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$list"
check "key add bob after the first passphrase" \
	recfs key add "$V" --label bob --passphrase-file "$P" --new-passphrase-file "$IT_TMP/bob" $fast
check "bob's passphrase opens the vault" opens "$IT_TMP/bob"
check_fails "a second slot labelled bob is refused" \
	recfs key add "$V" --label bob --passphrase-file "$P" --new-passphrase-file "$IT_TMP/carol" $fast
assert_match "the refusal names the label" "already has a keyslot labelled bob" "$(cat "$IT_TMP/.check.out")"
check_fails "key add with a wrong passphrase is refused" \
	recfs key add "$V" --label eve --passphrase-file "$IT_TMP/carol" --new-passphrase-file "$IT_TMP/carol" $fast
json=$(recfs key list "$V" --json)
assert_eq "key list --json parses and has two slots" "0 bob" \
	"$(printf '%s' "$json" | python3 -c 'import json,sys; print(" ".join(str(s["slot"]) if i == 0 else s["label"] for i, s in enumerate(json.load(sys.stdin))))')"

# A vault made before the 'added' field: listed as unknown, and still opens.
sed -i 's/ added=[0-9]*//' "$V/recfs.conf"
assert_match "a slot without 'added' shows unknown" '^1  bob  .*unknown$' "$(recfs key list "$V")"
check "a recfs.conf without 'added' still opens" opens "$P"

check_fails "removing bob with bob's own passphrase is refused (it must open a slot that stays)" \
	recfs key remove "$V" --label bob --passphrase-file "$IT_TMP/bob"
check "remove bob with the first passphrase" recfs key remove "$V" --label bob --passphrase-file "$P"
check_fails "bob's passphrase no longer opens the vault" opens "$IT_TMP/bob"
check_fails "the last slot is never removed" recfs key remove "$V" --slot 0 --passphrase-file "$P"
assert_match "the refusal says it is the last" "last keyslot" "$(cat "$IT_TMP/.check.out")"
check "the first passphrase still opens" opens "$P"

# The recovery key, unmounted.
recfs key recovery "$V" --passphrase-file "$P" >"$IT_TMP/rec.out" 2>&1 || not_ok "key recovery: $(cat "$IT_TMP/rec.out")"
key=$(grep -Eo '[A-Z2-7]{4}(-[A-Z2-7]{4}){13}' "$IT_TMP/rec.out")
assert_eq "the recovery key is printed once, 14 groups of 4" 1 "$(grep -Ec '[A-Z2-7]{4}(-[A-Z2-7]{4}){13}' "$IT_TMP/rec.out")"
printf '%s\n' "$key" | tr 'A-Z-' 'a-z ' >"$IT_TMP/rk"      # typed back: lower case, spaces
assert_match "its slot is labelled recovery" '^1  recovery  argon2id13  1  8192  ' "$(recfs key list "$V")"
check "fsck opens the vault with --recovery-key-file" recfs fsck "$V" --recovery-key-file "$IT_TMP/rk"
first=${key:0:1}; [ "$first" = A ] && other=B || other=A
bad=$other${key:1}
printf '%s\n' "$bad" >"$IT_TMP/rk.bad"
check_fails "a mistyped recovery key is caught by its check group" recfs fsck "$V" --recovery-key-file "$IT_TMP/rk.bad"
noraw=$(printf '%s' "$key" | tr -d -)
if grep -rqiF -e "$noraw" -e "$key" "$V" 2>/dev/null; then not_ok "the recovery key is stored in the vault"
else ok "the recovery key is stored nowhere in the vault"; fi
assert_eq "recfs.conf holds only wrapped keys: no passphrase" 0 \
	"$(grep -cF -e "$(cat "$P")" -e 'bob passphrase' "$V/recfs.conf")"
check_fails "recfs passwd does not turn the recovery key into a passphrase" \
	recfs passwd "$V" --recovery-key-file "$IT_TMP/rk" --new-passphrase-file "$IT_TMP/carol"

# Mounted: the commands (one opened by the recovery key) change recfs.conf under the mount.
PASSFILE=$P mount_vault "$V" "$M"
L=$M/.recfs/retention/keyslots
# bob was added and removed unmounted: the mount sees only what differs (the recovery slot).
assert_eq "the mount recorded the change made unmounted, by unknown" \
	"unknown recovery-added 1 recovery|" \
	"$(cut -f2- "$L" | tr '\t\n' ' |')"
echo one >"$M/a.txt"
check "key add carol while mounted, opened by the recovery key" \
	recfs key add "$V" --label carol --recovery-key-file "$IT_TMP/rk" --new-passphrase-file "$IT_TMP/carol" $fast
check "key recovery while mounted adds recovery-2" recfs key recovery "$V" --passphrase-file "$IT_TMP/carol"
assert_match "recovery-2 is listed" '  recovery-2  ' "$(recfs key list "$V")"
for i in 4 5 6 7; do
	printf 'p%s\n' $i >"$IT_TMP/p$i"
	recfs key add "$V" --label "u$i" --passphrase-file "$P" --new-passphrase-file "$IT_TMP/p$i" $fast >/dev/null 2>&1 ||
		not_ok "key add u$i"
done
check_fails "a ninth slot is refused" \
	recfs key add "$V" --label u8 --passphrase-file "$P" --new-passphrase-file "$IT_TMP/carol" $fast
assert_match "the refusal says the table is full" "8 keyslots" "$(cat "$IT_TMP/.check.out")"
check "key remove --slot 4 while mounted" recfs key remove "$V" --slot 4 --passphrase-file "$IT_TMP/carol"
echo two >>"$M/a.txt"
assert_eq "the changes made mounted are recorded with who made them" \
	"root added 2 carol|root recovery-added 3 recovery-2|root added 4 u4|root added 5 u5|root added 6 u6|root added 7 u7|root removed 4 u4|" \
	"$(tail -n 7 "$L" | cut -f2- | tr '\t\n' ' |')"
assert_match "each change is a save in recfs log" '  saved  .*/\.recfs/retention/keyslots' "$(recfs log "$M" | grep -m1 keyslots)"
check_fails "the keyslot log cannot be written through the mount" sh -c "echo forged >>'$L'"
if grep -qF -e "$(cat "$P")" -e 'passphrase' -e "$noraw" "$L"; then not_ok "a secret is in the keyslot log"
else ok "no passphrase or recovery key in the keyslot log"; fi
assert_eq "the mount still works after the slot changes" "one two" "$(tr '\n' ' ' <"$M/a.txt" | sed 's/ $//')"
umount_vault "$M" "$V"

# Unmounted again: mount by the recovery key itself.
"$RECFS" mount "$V" "$M" --recovery-key-file "$IT_TMP/rk" -f >"$M.rk.log" 2>&1 &
IT_MOUNTS+=("$M"); IT_DAEMONS+=($!)
for i in $(seq 1 100); do is_mounted "$M" && break; sleep 0.1; done
assert_eq "mount --recovery-key-file opens the vault" "one two" "$(tr '\n' ' ' <"$M/a.txt" 2>/dev/null | sed 's/ $//')"
assert_eq "a remount finds nothing new to record" 8 "$(wc -l <"$L")"
umount_vault "$M" "$V"
check "carol's passphrase opens the vault" opens "$IT_TMP/carol"
finish
