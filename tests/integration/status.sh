#!/bin/bash
# status: recfs status (issue 13, must hold 7) on an unmounted and a mounted vault, as text
# and as --json read by python3's json: an unmounted vault gives its key slot labels, the
# size and packs of history and its newest revision, and says the rest needs a mount; a
# mounted one adds where, since when and by whom, the saves waiting, the last commit with
# its author, the policy's revision and the holds in force, and these change after saves, a
# policy load and a hold. Another local user gets the status without the last commit's
# author; a path that is no vault is refused; status is no use of a mount for -o idle.
# Must never: run outside its temp folder; it uses the numeric uid 60011 through setpriv.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"

# field JSONFILE EXPR: python3 evaluates EXPR on the parsed object d.
field() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

check "status of an unmounted vault" recfs status "$V"
text=$(cat "$IT_TMP/.check.out")
assert_match "it says it is not mounted" "^mounted: +no" "$text"
assert_match "it gives the key slot labels" "^key slots: +1: " "$text"
assert_match "it says the rest needs a mount" "known once it is mounted" "$text"
recfs status "$V" --json >"$IT_TMP/s0.json" || not_ok "status --json of an unmounted vault"
assert_eq "--json: not mounted" False "$(field "$IT_TMP/s0.json" 'd["mounted"]')"
assert_eq "--json: no saves waiting known" None "$(field "$IT_TMP/s0.json" 'd["pending_saves"]')"
assert_eq "--json: one key slot" 1 "$(field "$IT_TMP/s0.json" 'len(d["keyslots"])')"
assert_eq "--json: a new vault has no history yet" "None 0 0" \
	"$(field "$IT_TMP/s0.json" '" ".join(str(d[k]) for k in ("last_commit", "history_bytes", "packs"))')"
check_fails "a folder that is no vault is refused" recfs status "$IT_TMP"

mount_vault "$V" "$M" -o idle=1h
recfs status "$M" --json >"$IT_TMP/s1.json" || not_ok "status --json of a mount"
assert_eq "--json: mounted" True "$(field "$IT_TMP/s1.json" 'd["mounted"]')"
assert_eq "--json: where" "$M" "$(field "$IT_TMP/s1.json" 'd["mountpoint"]')"
assert_eq "--json: by whom" "$(id -un) $(id -u)" "$(field "$IT_TMP/s1.json" 'd["mounted_by"] + " " + str(d["mounted_by_uid"])')"
assert_match "--json: since when" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T" "$(field "$IT_TMP/s1.json" 'd["mounted_at"]')"
assert_eq "--json: the idle time" 3600 "$(field "$IT_TMP/s1.json" 'd["idle_seconds"]')"
assert_eq "--json: no policy yet" None "$(field "$IT_TMP/s1.json" 'd["policy_load"]')"
assert_eq "--json: no holds yet" "0 []" "$(field "$IT_TMP/s1.json" 'str(d["holds_in_force"]) + " " + str(d["holds"])')"

mkdir -p "$M/Cases/smith"
for i in 1 2 3; do echo "note $i" >"$M/Cases/smith/n$i"; done
recfs status "$M/Cases" --json >"$IT_TMP/s2.json" || not_ok "status --json inside a mount"
assert_eq "--json: saves waiting is a count" True "$(field "$IT_TMP/s2.json" 'isinstance(d["pending_saves"], int) and d["pending_saves"] >= 0')"
recfs flush "$M"
cat >"$IT_TMP/policy.conf" <<'POL'
organisation = Anytown Council
[class case]
records   = Cases/*
retain    = 6 years after closed
then      = destroy
authority = Case rule 1
POL
check "a policy loads" recfs policy load "$M" "$IT_TMP/policy.conf"
check "a hold on smith" recfs hold add "$M/Cases/smith" --name complaint-4 --authority "Complaint 4"
recfs flush "$M"
recfs status "$V" --json >"$IT_TMP/s3.json" || not_ok "status --json of a mounted vault by its folder"
assert_eq "--json: no saves waiting after a flush" 0 "$(field "$IT_TMP/s3.json" 'd["pending_saves"]')"
assert_eq "--json: the hold in force" "1 ['complaint-4']" "$(field "$IT_TMP/s3.json" 'str(d["holds_in_force"]) + " " + str(d["holds"])')"
assert_eq "--json: a policy revision" True "$(field "$IT_TMP/s3.json" 'isinstance(d["policy_load"], int)')"
assert_match "--json: the last commit" "^[0-9a-f]{40}$" "$(field "$IT_TMP/s3.json" 'd["last_commit"]["rev"]')"
assert_eq "--json: the last commit's author" "$(id -un)" "$(field "$IT_TMP/s3.json" 'd["last_commit"]["login"]')"
assert_eq "--json: history has bytes and packs" True "$(field "$IT_TMP/s3.json" 'd["history_bytes"] > 0 and d["packs"] > 0')"
echo "one more" >"$M/other"      # Cases/smith is held now
recfs flush "$M"
recfs status "$M" --json >"$IT_TMP/s3b.json"
assert_eq "--json: a save moves the last commit on" True \
	"$(python3 -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); print(a["last_commit"]["rev"] != b["last_commit"]["rev"] and b["history_bytes"] > a["history_bytes"])' "$IT_TMP/s3.json" "$IT_TMP/s3b.json")"
cp "$IT_TMP/s3b.json" "$IT_TMP/s3.json"
check "status as text of a mount" recfs status "$M"
text=$(cat "$IT_TMP/.check.out")
assert_match "text: where and by whom" "^mounted: +at $M since .* by $(id -un)" "$text"
assert_match "text: the hold" "^holds in force: 1: complaint-4" "$text"
assert_match "text: the last commit" "^last commit: +[0-9a-f]{12}  .* by $(id -un)" "$text"

chmod o+x "$V"            # other users reach the control socket (README, Retention)
if (cd / && setpriv --reuid=60011 --regid=60011 --clear-groups "$RECFS" status "$M" --json) >"$IT_TMP/s4.json" 2>"$IT_TMP/s4.err"; then
	assert_eq "another user: the holds" "['complaint-4']" "$(field "$IT_TMP/s4.json" 'd["holds"]')"
	assert_eq "another user: no author of the last commit" None "$(field "$IT_TMP/s4.json" 'd["last_commit"]["login"]')"
	assert_eq "another user: recfs.conf (0600) is not theirs to read" None "$(field "$IT_TMP/s4.json" 'd["keyslots"]')"
else
	not_ok "another user may ask for the status: $(cat "$IT_TMP/s4.err")"
fi
umount_vault "$M" "$V"
recfs status "$V" --json >"$IT_TMP/s5.json" || not_ok "status --json after the unmount"
assert_eq "after the unmount: not mounted, the same newest revision, history on disk" "False True True" \
	"$(field "$IT_TMP/s5.json" 'str(d["mounted"]) + " " + str(d["last_commit"]["rev"] == "'"$(field "$IT_TMP/s3.json" 'd["last_commit"]["rev"]')"'") + " " + str(d["history_bytes"] > 0 and d["packs"] > 0)')"

# Asking for the status is no use: a mount with -o idle=2s goes all the same.
mount_vault "$V" "$M" -o idle=2s
for i in $(seq 1 20); do
	recfs status "$M" >/dev/null 2>&1
	is_mounted "$M" || break
	sleep 0.2
done
check "a mount asked for its status every 0.2 s still unmounts when idle" not_mounted "$M"
finish
