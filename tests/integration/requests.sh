#!/bin/bash
# requests: the FUSE requests the kernel sends for ls -l and rm -rf (issue 14), counted in the
# daemon's debug output (recfs mount -d), which are deterministic. ls -l asks each entry for
# security.selinux and system.posix_acl_access: recfs answers "not supported" for every name
# outside user.*, so ls stops asking after the first entry (2 GETXATTRs for a whole listing,
# not 2 per entry), while user.* attributes still read, and a missing one is "no such
# attribute". rm -rf is one UNLINK per file: no SETATTR of cached times after it. Lookups in
# one folder reach the daemon in parallel (the INIT flag libfuse 3.14 leaves out).
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M" -d
LOG=$M.daemon.log

# count OPCODE FROM: requests of that opcode logged after line FROM.
count() {
	awk -v s="$2" -v o="opcode: $1 " 'NR > s && index($0, o) { n++ } END { print n + 0 }' "$LOG"
}
# Wait until the daemon has logged all it was sent (FORGETs come after a command returns).
settle() {
	local a b
	a=$(wc -l <"$LOG")
	while sleep 0.3; b=$(wc -l <"$LOG"); [ "$a" != "$b" ]; do a=$b; done
}

mkdir -p "$M/a/b"
for i in $(seq 1 30); do echo "file $i" >"$M/a/f$i"; done
for i in $(seq 1 10); do echo "file $i" >"$M/a/b/g$i"; done
ln -s f1 "$M/a/link"
check "a user.* attribute is stored" setfattr -n user.colour -v blue "$M/a/f1"

settle
from=$(wc -l <"$LOG")
ls -lR "$M/a" >"$IT_TMP/ls.out"
settle
assert_eq "ls -lR lists all 42 entries" 42 "$(grep -c '^[-dl]' "$IT_TMP/ls.out")"
got=$(count GETXATTR "$from")
if [ "$got" -le 2 ]; then ok "ls -lR of 42 entries: $got GETXATTR in all, not 2 per entry"
else not_ok "ls -lR of 42 entries sent $got GETXATTR requests (want at most 2)"; fi
assert_eq "ls -lR shows no ACL mark (+) on any entry" 0 "$(grep -c '^[-dl]\S*+ ' "$IT_TMP/ls.out")"

# The answers behind it: "not supported" outside user.*, "no such attribute" inside it.
getfattr -n security.selinux "$M/a/f2" >"$IT_TMP/ga.out" 2>&1
assert_match "security.selinux: not supported" "Operation not supported" "$(cat "$IT_TMP/ga.out")"
getfattr -n system.posix_acl_access "$M/a" >"$IT_TMP/ga.out" 2>&1
assert_match "system.posix_acl_access: not supported" "Operation not supported" "$(cat "$IT_TMP/ga.out")"
getfattr -n user.missing "$M/a/f2" >"$IT_TMP/ga.out" 2>&1
assert_match "a missing user.* attribute: no such attribute" "No such attribute" "$(cat "$IT_TMP/ga.out")"
assert_eq "a stored user.* attribute reads back" blue "$(getfattr --absolute-names --only-values -n user.colour "$M/a/f1" 2>&1)"
check "cp -a copies the files out (their ACLs read as none)" cp -a "$M/a" "$IT_TMP/copy"
assert_eq "cp -a kept the user.* attribute" blue "$(getfattr --absolute-names --only-values -n user.colour "$IT_TMP/copy/f1" 2>&1)"

settle
from=$(wc -l <"$LOG")
rm -rf "${M:?}/a"
settle
assert_eq "rm -rf: one UNLINK per file and link" 41 "$(count UNLINK "$from")"
assert_eq "rm -rf: no SETATTR (cached times are not written back after an unlink)" 0 "$(count SETATTR "$from")"
check "rm -rf removed the tree" test ! -e "$M/a"

# INIT: libfuse 3.14 leaves FUSE_PARALLEL_DIROPS out of its reply; recfs adds it, so lookups
# in one folder reach the daemon's workers at once. Lookups of names not there (each one new)
# from 8 threads: without the flag the kernel sends one at a time, always. The reply adds
# FUSE_HANDLE_KILLPRIV_V2 too (its behaviour: killpriv.sh).
assert_match "the INIT reply adds PARALLEL_DIROPS and HANDLE_KILLPRIV_V2 (0x10040000)" "INIT reply sent: flags=.*0x10040000 added" "$(cat "$LOG")"
mkdir "$M/q"
most=0
for try in 1 2 3; do
	settle
	from=$(wc -l <"$LOG")
	python3 - "$M/q" "$try" <<'PY'
import os, sys, threading
def look(t):
    for i in range(100):
        try: os.stat("%s/none-%s-%d-%d" % (sys.argv[1], sys.argv[2], t, i))
        except FileNotFoundError: pass
threads = [threading.Thread(target=look, args=(t,)) for t in range(8)]
for t in threads: t.start()
for t in threads: t.join()
PY
	settle
	most=$(awk -v s="$from" 'NR <= s { next } /opcode: LOOKUP/ { split($2, a, ","); u[a[1]] = 1; if (++open > max) max = open; next }
		/^   unique: / { split($2, a, ","); if (a[1] in u) { delete u[a[1]]; open-- } } END { print max + 0 }' "$LOG")
	[ "$most" -ge 2 ] && break
done
if [ "$most" -ge 2 ]; then ok "lookups in one folder reach the daemon in parallel ($most at once)"
else not_ok "lookups in one folder reached the daemon one at a time (3 tries of 8 threads)"; fi

umount_vault "$M" "$V"
finish
