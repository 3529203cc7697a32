#!/bin/bash
# control: the daemon's control socket under hostile clients, and what the
# background daemon keeps (issue "Keep every promise under faults and hostile
# hands", items 1, 13, 16, 22).
#  1. recfs verify through the daemon reports exactly what verify of the
#     unmounted vault reports, with the same exit status.
# 13. the background daemon keeps its key memory locked (mlock is not
#     inherited across fork): every sodium_malloc'd mapping (marked don't-dump)
#     is Locked in /proc/PID/smaps.
# 16. a client that does not read its reply, and one that sends nothing, block
#     no other client; unmount never waits on them and lets go of the vault.
# 22. the background daemon's log lines can be read back from memory with
#     recfs log --daemon (by the mounting user only), go to stderr with -f,
#     and never reach a file.
# And: a flush and a log look up no user or group names; only the verbs of
#     the tables (roles, the register) do, so the NSS modules are not loaded
#     into the daemon by a flush (about 1 MiB of its peak memory).
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"

# A background daemon (no -f): its pid is the first line of VAULT/lock.
# mount_background VAULT MNT [recfs mount options...]
mount_background() {
	local vault=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	IT_MOUNTS+=("$mnt")
	set -- "$vault" "$mnt" "$@"
	recfs mount "$1" "$2" --passphrase-file "$1.pass" "${@:3}" >"$IT_TMP/.bgmount.out" 2>&1 ||
		die "background mount of $1 failed: $(cat "$IT_TMP/.bgmount.out")"
	is_mounted "$2" || die "background mount of $1 is not in /proc/mounts"
}

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# ---- 13: key memory locked in the background daemon -----------------------
mount_background "$V" "$M"
echo hello >"$M/first.txt" || die "write first.txt"
pid=$(head -1 "$V/lock")
[ -n "$pid" ] && [ -r "/proc/$pid/smaps" ] || die "no smaps for the daemon (pid '$pid')"
# The master key and subkeys live in one sodium_malloc block made read-only:
# an anonymous, accountable ("ac"), read-only, don't-dump ("dd") mapping of a
# page. The don't-dump flag survives fork; the lock does not. (Sanitizer
# shadow memory is don't-dump too, but never read-only and "nr", not "ac".)
# Prints "locked unlocked" counts of such mappings.
key_maps=$(awk '
	/^[0-9a-f]+-[0-9a-f]+ / { perms = $2; named = (NF >= 6) }
	/^Size:/ { size_kb = $2 }
	/^VmFlags:/ {
		if (!named && perms == "r--p" && $0 ~ / dd/ && $0 ~ / ac/ && size_kb < 1024) {
			if ($0 ~ / lo/) locked++; else unlocked++
		}
	}
	END { printf "%d %d\n", locked, unlocked }' "/proc/$pid/smaps")
read -r locked unlocked <<<"$key_maps"
[ "$locked" -ge 1 ] && [ "$unlocked" -eq 0 ] &&
	ok "background daemon: the key block is locked ($locked mapping)" ||
	not_ok "background daemon: key block mappings locked=$locked unlocked=$unlocked (want all locked)"
vmlck=$(awk '/^VmLck:/ { print $2 }' "/proc/$pid/status")
[ "${vmlck:-0}" -gt 0 ] && ok "background daemon: VmLck $vmlck kB" ||
	not_ok "background daemon: VmLck is ${vmlck:-?} kB (want > 0)"

# ---- 22: the background daemon's log, from memory -------------------------
# A file whose ciphertext is damaged makes the daemon log its clear path.
SECRET=damaged-$RANDOM-name.txt
head -c 10000 /dev/urandom >"$M/$SECRET" || die "write $SECRET"
check "umount (background)" recfs umount "$M"
ct=$(find "$V/live" -type f ! -name .dirid ! -name '*.n' -size 10180c)
[ "$(printf '%s' "$ct" | grep -c .)" = 1 ] || die "expected one 10180-byte ciphertext file, found '$ct'"
flip_byte "$ct" 2000
# The damage was done while the vault was closed: the mount refuses it unless told.
mount_background "$V" "$M" --accept-history-state
check_fails "reading the damaged file fails" cat "$M/$SECRET"
out=$(recfs log --daemon "$M" 2>&1)
rc=$?
assert_eq "recfs log --daemon exits 0" 0 "$rc"
assert_match "recfs log --daemon shows the daemon's line about the damaged file" "/$SECRET" "$out"
out=$(recfs log --daemon "$V" 2>&1)
assert_match "recfs log --daemon VAULT works too" "/$SECRET" "$out"
chmod 755 "$IT_TMP"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$RECFS" log --daemon "$M" 2>&1)
rc=$?
[ $rc -ne 0 ] && ! printf '%s' "$out" | grep -q "$SECRET" &&
	ok "another user cannot read the daemon's log" ||
	not_ok "another user read the daemon's log (exit $rc: $(printf '%s' "$out" | head -c 300))"
check "umount (background, log)" recfs umount "$M"
leak=$(grep -rlaF "$SECRET" "$V" 2>/dev/null)
assert_eq "no file in the vault holds the clear name" "" "$leak"

# With -f, the same line goes to the daemon's stderr.
mount_vault "$V" "$M"
check_fails "reading the damaged file fails (-f)" cat "$M/$SECRET"
out=$(recfs log --daemon "$M" 2>&1)
assert_match "recfs log --daemon works with -f" "/$SECRET" "$out"
assert_match "with -f the line is on the daemon's stderr" "/$SECRET" "$(cat "$M.daemon.log")"
rm -f "$M/$SECRET"

# ---- 1: verify through the daemon = verify of the unmounted vault ----------
for i in 1 2 3 4 5; do
	echo "version $i" >"$M/v$i.txt" || die "write v$i"
	recfs flush "$M" >/dev/null 2>&1 || die "flush $i"
done
H=$V/history.git
git --git-dir="$H" update-ref refs/heads/main "$(git --git-dir="$H" rev-parse refs/heads/main~2)" ||
	die "update-ref"
# first.txt ("hello\n", 106 bytes of ciphertext) is older than both moved-over commits.
victim=$(find "$V/live" -type f ! -name .dirid ! -name '*.n' -size 106c)
[ "$(printf '%s' "$victim" | grep -c .)" = 1 ] || die "expected one ciphertext of first.txt, found '$victim'"
rm -f "$victim"
remote_out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
remote_rc=$?
umount_vault "$M" "$V"
local_out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
local_rc=$?
nlines=$(printf '%s\n' "$local_out" | grep -vc 'problems$')
[ "$nlines" -ge 2 ] && ok "the broken vault has $nlines problem lines" ||
	not_ok "the vault is not broken enough to test (problem lines: $nlines: $local_out)"
assert_eq "verify through the daemon exits as verify unmounted" "$local_rc" "$remote_rc"
assert_eq "verify unmounted exits 1 (problems)" 1 "$local_rc"
assert_eq "verify through the daemon prints what verify unmounted prints" "$local_out" "$remote_out"

# ---- 16: hostile clients block no one, and not the unmount -----------------
V2=$IT_TMP/vault2 M2=$IT_TMP/mnt2
make_vault "$V2"
mount_vault "$V2" "$M2"
# Long paths make a log reply far larger than the socket and pipe buffers.
long=$(printf 'd%.0s' $(seq 1 200))
deep=$M2
for i in $(seq 1 14); do deep=$deep/$long$i; done
mkdir -p "$deep" || die "mkdir deep"
for i in $(seq 1 150); do : >"$deep/f$i" || die "create f$i"; done
head -c 2000000 /dev/urandom >"$M2/big.bin" || die "write big.bin"
check "flush (setup)" recfs flush "$M2"
"$RECFS" log "$M2" --json-lines -n 100000 | sleep 60 &
slow_pid=$!
# A version far larger than a pipe holds, shown into a pipe nobody reads.
"$RECFS" show "$M2/big.bin" | sleep 60 &
show_pid=$!
# An idle connection, and one that asks for the log and never reads it.
python3 - "$V2/control" "$IT_TMP/py.ready" <<'EOF' &
import socket, sys, time
idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); idle.connect(sys.argv[1])
mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); mute.connect(sys.argv[1])
mute.sendall(b"log\t\t100000\n")
open(sys.argv[2], "w").close()
time.sleep(60)
EOF
py_pid=$!
on_exit "kill $slow_pid $show_pid $py_pid"
for i in $(seq 1 100); do [ -e "$IT_TMP/py.ready" ] && break; sleep 0.1; done
[ -e "$IT_TMP/py.ready" ] || die "the idle and mute clients did not connect"
sleep 1
t0=$(ms_now)
check "flush while three clients do not read" timeout 10 "$RECFS" flush "$M2"
t1=$(ms_now)
[ $((t1 - t0)) -lt 5000 ] && ok "flush took $((t1 - t0)) ms" || not_ok "flush took $((t1 - t0)) ms (want < 5 s)"
out=$(timeout 10 "$RECFS" log "$M2" -n 1 2>&1)
assert_match "log while three clients do not read" '^[0-9a-f]{12} ' "$out"
t0=$(ms_now)
check "umount while three clients do not read" timeout 15 "$RECFS" umount "$M2"
t1=$(ms_now)
[ $((t1 - t0)) -lt 5000 ] && ok "umount took $((t1 - t0)) ms" || not_ok "umount took $((t1 - t0)) ms (want < 5 s)"
vault_unlocked "$V2" && ok "the vault is free after umount, readers still waiting" ||
	not_ok "the vault lock is still held after umount"
d2=$(daemon_pid "$M2")
for i in $(seq 1 100); do kill -0 "$d2" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$d2" 2>/dev/null; then
	not_ok "the daemon of $M2 did not exit after umount"
	fusermount3 -uz "$M2" 2>/dev/null
	kill "$d2"
else
	wait "$d2"
	assert_eq "the daemon of $M2 exits 0" 0 "$?"
fi
eval "IT_PID_$(mount_key "$M2")="
check_daemon_log "$M2"
mount_vault "$V2" "$M2"
check "the vault mounts again" test -d "$deep"
umount_vault "$M2" "$V2"
kill "$slow_pid" "$show_pid" "$py_pid" 2>/dev/null

# ---- names looked up only by the verbs that need them ---------------------
# names_read OUT CMD...: the daemon's opens of the user and group databases
# while CMD runs, one line each (empty when none).
names_read() {
	local out=$1
	shift
	strace -f -qq -e trace=open,openat -p "$(daemon_pid "$M2")" -o "$out" &
	local tracer=$!
	sleep 0.5
	"$@" >/dev/null 2>&1
	sleep 0.3
	kill "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	grep -E '"/etc/(passwd|group|nsswitch\.conf)"' "$out" || true
}
if command -v strace >/dev/null; then
	mount_vault "$V2" "$M2"
	echo more >"$M2/names.txt" || die "write names.txt"
	opened=$(names_read "$IT_TMP/names.flush" "$RECFS" flush "$M2"; names_read "$IT_TMP/names.log" "$RECFS" log "$M2" -n 1)
	assert_eq "flush and log open no user or group database" "" "$opened"
	opened=$(names_read "$IT_TMP/names.records" "$RECFS" records "$M2")
	[ -n "$opened" ] && ok "records (a verb of the tables) still looks up the caller's names" ||
		not_ok "records opened none of /etc/passwd, /etc/group: the check above cannot fail"
	umount_vault "$M2" "$V2"
else
	ok "# skip: no strace here, so the daemon's name lookups are not watched"
fi

finish
