#!/bin/bash
# killpriv: the daemon takes over the clearing of setuid and setgid from the kernel
# (FUSE_HANDLE_KILLPRIV_V2, issue 14), so the kernel asks for security.capability only at a
# chown (and, for a file opened again, at its first write), not before every write, and
# rereads no mode before a chown. A new file's write-only creator writes past the page cache
# (the kernel's direct I/O): its writes are marked, and the daemon clears the bits too. The bits must go
# exactly as on the temp folder's own file system: a write, truncate or O_TRUNC open by
# a user without CAP_FSETID clears setuid, and setgid when group-executable or when the
# user is not in the file's group; root's writes keep them; a chown by root clears
# setuid and a group-executable setgid. Each case is run on both, and compared.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt U=60001
make_vault "$V"
as_user() { (cd / && setpriv --reuid=$U --regid=$U --clear-groups "$@" 2>&1); }
count() { awk -v s="$from" -v o="opcode: $1 " 'NR > s && index($0, o) { n++ } END { print n + 0 }' "$LOG"; }

# What it saves: a tar extract as root (owners kept: fchown per file). The kernel still asks
# for security.capability at each chown, but not at any write (tar creates each file
# write-only, so its writes bypass the page cache), and it no longer rereads the mode before
# a chown.
mount_vault "$V" "$M" -d
LOG=$M.daemon.log
assert_match "the INIT reply adds HANDLE_KILLPRIV_V2 (0x10000000)" \
	"INIT reply sent: flags=0x[13579bdf].* \(0x1[0-9a-f]{7} added\)" "$(grep 'INIT reply sent' "$LOG")"
mkdir -p "$IT_TMP/src/d"
for i in $(seq 1 20); do head -c $((i * 3000)) /dev/urandom >"$IT_TMP/src/d/f$i"; done
chown -R $U:$U "$IT_TMP/src"
tar -C "$IT_TMP/src" -cf "$IT_TMP/t.tar" d
from=$(wc -l <"$LOG")
tar -C "$M" -xf "$IT_TMP/t.tar"
check "recfs flush" recfs flush "$M"
writes=$(count WRITE) gx=$(count GETXATTR) ga=$(count GETATTR)
assert_eq "tar x of 20 files as root: the owners kept" "$U $U" "$(stat -c '%u %g' "$M/d/f20")"
check "the extracted file reads back" cmp "$IT_TMP/src/d/f20" "$M/d/f20"
if [ "$gx" -le 20 ] && [ "$writes" -ge 20 ]; then
	ok "tar x of 20 files, $writes WRITEs: $gx GETXATTR (the chowns), none for a write"
else
	not_ok "tar x of 20 files, $writes WRITEs: $gx GETXATTR requests (want at most 1 per file)"
fi
assert_eq "tar x of 20 files: no GETATTR before the chowns" 0 "$ga"
umount_vault "$M" "$V"

mount_vault "$V" "$M" -o allow_other

# cases DIR: make the files as root, then change them as the user and as root.
cases() {
	local d=$1 f
	mkdir -m 777 "$d"
	for f in w_u w_ug w_g_nox w_root t_u o_u c_ug c_g_nox; do printf 'abc' >"$d/$f"; done
	chmod 4777 "$d/w_u" "$d/w_root" "$d/t_u" "$d/o_u"
	chmod 6777 "$d/w_ug"
	chmod 2767 "$d/w_g_nox"
	chmod 6755 "$d/c_ug"
	chmod 2745 "$d/c_g_nox"
	as_user sh -c "printf x >>'$d/w_u'; printf x >>'$d/w_ug'; printf x >>'$d/w_g_nox'"
	printf x >>"$d/w_root"
	as_user truncate -s 1 "$d/t_u"
	as_user sh -c ": >'$d/o_u'"
	chown $U:$U "$d/c_ug" "$d/c_g_nox"
	# New files the user makes write-only with the bits, then writes (direct I/O here).
	as_user /usr/bin/python3 -c "
import os, sys
for name, mode in (('n_u', 0o4755), ('n_ug', 0o6775)):
    fd = os.open(sys.argv[1] + '/' + name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)
    os.write(fd, b'abc')
    os.close(fd)" "$d"
}
modes() { (cd "$1" && stat -c '%n %a %s' w_u w_ug w_g_nox w_root t_u o_u c_ug c_g_nox n_u n_ug | tr '\n' ' '); }

cases "$IT_TMP/ref"
cases "$M/k"
# The kernel caches a mode for a day and checks it at exec: the daemon must drop what it
# cached. A statx for the mode alone is answered from that cache unless it was dropped.
mode_only() {
	python3 - "$@" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
out = []
for p in sys.argv[1:]:
    if libc.statx(-100, p.encode(), 0, 0x2, buf) != 0:   # AT_FDCWD, STATX_MODE
        out.append("error")
    else:
        out.append("%o" % (int.from_bytes(buf.raw[28:30], "little") & 0o7777))
print(" ".join(out))
PY
}
assert_eq "the kernel's cached modes after a user's write and O_TRUNC open" "777 777 755" \
	"$(mode_only "$M/k/w_u" "$M/k/o_u" "$M/k/n_u")"
want=$(modes "$IT_TMP/ref")
assert_eq "a user's write, truncate and O_TRUNC open, root's write and chown: modes as on the host" \
	"$want" "$(modes "$M/k")"
assert_eq "setuid cleared by a user's write, kept by root's, cleared by a chown (host and mount)" \
	"w_u 777 4|w_root 4777 4|c_ug 755 3|n_u 755 3|n_ug 775 3" \
	"$(cd "$M/k" && stat -c '%n %a %s' w_u w_root c_ug n_u n_ug | paste -sd '|')"
check "recfs flush" recfs flush "$M"
assert_eq "the cleared modes are versions, as a chmod is (w_u and c_ug: chmod, then cleared)" "2 2" \
	"$(recfs log "$M/k/w_u" | grep -c 'mode changed') $(recfs log "$M/k/c_ug" | grep -c 'mode changed')"

umount_vault "$M" "$V"
finish
