#!/bin/bash
# user_unit: the systemd user unit recfs@.service and its script recfs-user-mount (issue 13,
# must hold 6), from the tree, nothing installed. systemd-analyze verify passes on the unit and
# complains about a broken copy; the script refuses every config file that is not right (no
# VAULT, no MOUNTPOINT, unknown key, relative path, a passphrase file others can read...) with
# exit 2 and one line naming the file, before anything is mounted; start mounts as ExecStart
# would, with PASSPHRASE_FILE or with systemd-ask-password's answer piped into recfs (never in
# its argv or environment), and stop unmounts with every save committed.
# systemd-ask-password is a stub here: a real one would wait 90 s for an agent.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
LIB=$IT_TMP/lib HOME_DIR=$IT_TMP/home CONF_DIR=$IT_TMP/home/.config/recfs
mkdir -p "$LIB" "$CONF_DIR" "$IT_TMP/bin" "$IT_TMP/runtime"
chmod 700 "$IT_TMP/runtime"
# The unit and its script as meson configures them, but pointing at this build.
sed "s#@BINDIR@#$(dirname "$RECFS")#" "$SRC/packaging/recfs-user-mount" >"$LIB/recfs-user-mount"
chmod 755 "$LIB/recfs-user-mount"
sed "s#@HELPERDIR@#$LIB#" "$SRC/packaging/recfs@.service" >"$IT_TMP/recfs@.service"
HELPER=$LIB/recfs-user-mount

# --- systemd-analyze verify -----------------------------------------------------------------
verify() {
	XDG_RUNTIME_DIR=$IT_TMP/runtime systemd-analyze verify --user --man=no "$1" 2>&1
}
out=$(verify "$IT_TMP/recfs@.service")
assert_eq "systemd-analyze verify --user passes on recfs@.service, with no complaint" "" "$out"
mkdir "$IT_TMP/broken"
sed 's/^Type=forking/Type=forked/' "$IT_TMP/recfs@.service" >"$IT_TMP/broken/recfs@.service"
assert_match "and complains about a copy with a bad Type=" "service type" "$(verify "$IT_TMP/broken/recfs@.service")"
assert_match "the unit runs the script with the instance name" \
	"^ExecStart=$LIB/recfs-user-mount start %i$" "$(grep ^ExecStart= "$IT_TMP/recfs@.service")"
assert_match "the unit is wanted at login" "^WantedBy=default.target$" "$(cat "$IT_TMP/recfs@.service")"

# --- the script refuses a config that is not right ------------------------------------------
# As the user manager runs it: a clean environment with HOME and a PATH.
unit_run() {
	env -i HOME="$HOME_DIR" PATH="$IT_TMP/bin:/usr/bin:/bin" "$HELPER" "$@"
}
V=$IT_TMP/vault M=$HOME_DIR/Records
make_vault "$V"
chmod 600 "$V.pass"
CONF=$CONF_DIR/rec.conf

# refuses NAME WHY CONFIG-TEXT: start must exit 2, with one line, and mount nothing.
refuses() {
	local what=$1 why=$2 rc
	printf '%s\n' "$3" >"$CONF"
	unit_run start rec >"$IT_TMP/out" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$IT_TMP/out")" -eq 1 ] && grep -Eq -- "$why" "$IT_TMP/out"; then
		ok "refused: $what ($(cat "$IT_TMP/out"))"
	else
		not_ok "refused: $what (exit $rc, want 2 and one line matching /$why/: $(tr '\n' '|' <"$IT_TMP/out"))"
	fi
	not_mounted "$M" || not_ok "a refused config mounted $M"
}
rm -f "$CONF"
unit_run start rec >"$IT_TMP/out" 2>&1
assert_eq "no config file: exit 2" 2 "$?"
assert_match "which names the file to write" "$CONF does not exist" "$(cat "$IT_TMP/out")"
refuses "no VAULT" "rec.conf has no VAULT= line" "MOUNTPOINT=~/Records"
refuses "no MOUNTPOINT" "rec.conf has no MOUNTPOINT= line" "VAULT=$V"
refuses "an unknown key" "line 3: unknown key 'VALUT'" "$(printf 'VAULT=%s\n\nVALUT=x\nMOUNTPOINT=%s' "$V" "$M")"
refuses "a line that is not KEY=VALUE" "line 1: 'mount it please' is not KEY=VALUE" "mount it please"
refuses "a relative VAULT" "VAULT=vault is not an absolute path" "$(printf 'VAULT=vault\nMOUNTPOINT=%s' "$M")"
chmod 644 "$V.pass"
refuses "a passphrase file others can read" "can be read by other users .*chmod 600" \
	"$(printf 'VAULT=%s\nMOUNTPOINT=%s\nPASSPHRASE_FILE=%s' "$V" "$M" "$V.pass")"
chmod 600 "$V.pass"
refuses "a passphrase file given in OPTIONS" "as PASSPHRASE_FILE=, not in OPTIONS" \
	"$(printf 'VAULT=%s\nMOUNTPOINT=%s\nOPTIONS=passphrase_file=%s' "$V" "$M" "$V.pass")"
unit_run start ../rec >"$IT_TMP/out" 2>&1
assert_eq "an instance name with a / is refused with exit 2" 2 "$?"

# --- start and stop, with a passphrase file -------------------------------------------------
cat >"$CONF" <<EOF
# the records of the team
VAULT="$V"
MOUNTPOINT=~/Records
PASSPHRASE_FILE=$V.pass
OPTIONS=noatime
EOF
assert_eq "check reads the config, ~ expanded and quotes dropped" \
	"rec: VAULT=$V MOUNTPOINT=$M passphrase from $V.pass OPTIONS=noatime" "$(unit_run check rec 2>&1)"
IT_MOUNTS+=("$M")
check "start (as ExecStart runs it) mounts the vault, making the mount point" unit_run start rec
check "it is mounted at ~/Records" is_mounted "$M"
echo "the agenda" >"$M/agenda.txt" || not_ok "write into the unit's mount"
# Enough saves that their commits outlast the unmount itself: stop must wait for them.
mkdir "$M/minutes" && for i in $(seq 1 200); do echo "item $i" >"$M/minutes/$i.txt"; done
head -c 4M /dev/urandom >"$M/scan.pdf"
check "stop (as ExecStop runs it)" unit_run stop rec
check "it is unmounted" not_mounted "$M"
assert_eq "the mount point it made is its owner's only" 700 "$(stat -c %a "$M")"
check "the daemon had exited when stop returned" vault_unlocked "$V"
recfs log --vault "$V" --passphrase-file "$V.pass" >"$IT_TMP/log" 2>&1
assert_match "the last save was committed before stop returned" "saved +4194304 +/scan.pdf" "$(cat "$IT_TMP/log")"
check "stop when it is not mounted does nothing and succeeds" unit_run stop rec

# --- start with systemd-ask-password ---------------------------------------------------------
# The stub answers as an agent would, on its standard output, and notes its own argv.
cat >"$IT_TMP/bin/systemd-ask-password" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >"$IT_TMP/asked"
cat "$V.pass"
EOF
chmod 755 "$IT_TMP/bin/systemd-ask-password"
printf 'VAULT=%s\nMOUNTPOINT=%s\n' "$V" "$M" >"$CONF"
check "start without PASSPHRASE_FILE asks through systemd-ask-password" unit_run start rec
check "and mounts the vault with its answer" is_mounted "$M"
assert_match "the question names the vault" "--id=recfs:rec Passphrase for the recfs vault $V:" "$(cat "$IT_TMP/asked")"
pass=$(cat "$V.pass")
leaked=no
for pid in $(pgrep -f "mount $V $M"); do
	grep -qaF -- "$pass" "/proc/$pid/cmdline" "/proc/$pid/environ" 2>/dev/null && leaked=yes
done
assert_eq "the passphrase is in no argv or environment of the mount" no "$leaked"
check "stop" unit_run stop rec
check "it is unmounted" not_mounted "$M"

# An agent that is not there (systemd before 257 in a user service): a line that says what to do.
printf '#!/bin/sh\necho "Failed to query password: Permission denied" >&2\nexit 1\n' >"$IT_TMP/bin/systemd-ask-password"
unit_run start rec >"$IT_TMP/out" 2>&1
rc=$?
assert_eq "with no password agent, start fails" 1 $((rc != 0))
assert_match "and says to set PASSPHRASE_FILE=" "set PASSPHRASE_FILE= in $CONF" "$(cat "$IT_TMP/out")"
check "nothing was mounted" not_mounted "$M"
finish
