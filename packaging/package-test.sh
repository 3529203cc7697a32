#!/usr/bin/env bash
# packaging/package-test.sh: build the Debian package from this tree, check it with lintian,
# install it, and use recfs from the INSTALLED files only: the demo, a mount through an
# /etc/fstab line and through `mount -t fuse.recfs`, the systemd user unit's script run the
# way the unit runs it, and `systemd-analyze verify` of the installed unit.
#
# Owns: the package checks of CI (.ci/run runs it after the test suite) and its verdict line.
# Must never: change the checkout (the package is built in a copy under /tmp), leave a mount,
# a daemon, a line in /etc/fstab, the package (unless it was installed before) or a temp
# folder behind, or report success when a check failed.
#
# Usage: packaging/package-test.sh   (as root, on Debian 12, after packaging/install-deps.sh)
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ME=package-test
SYS_PATH=/usr/sbin:/usr/bin:/sbin:/bin   # the installed files only: no build folder

if [ "$(id -u)" -ne 0 ]; then
	echo "$ME: run this as root: it installs the package and mounts through /etc/fstab" >&2
	exit 2
fi
for tool in dpkg-buildpackage lintian systemd-analyze; do
	command -v "$tool" >/dev/null || { echo "$ME: $tool is missing; run packaging/install-deps.sh" >&2; exit 2; }
done

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
section() { printf '\n==== %s ====\n' "$*"; }
# check DESC CMD...: CMD must exit 0; its output is shown when it does not.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc (exit $?)"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
	fi
}

WORK=$(mktemp -d /tmp/recfs-package-test.XXXXXX)
chmod 755 "$WORK"
FSTAB_MARK="recfs-package-test-$$"
MOUNTS=()
was_installed=no
[ "$(dpkg-query -W -f='${Status}' recfs 2>/dev/null)" = "install ok installed" ] && was_installed=yes
installed_here=no

cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			PATH=$SYS_PATH recfs umount "$m" >/dev/null 2>&1 || umount -l "$m" 2>/dev/null || true
		fi
	done
	if grep -q "$FSTAB_MARK" /etc/fstab 2>/dev/null; then
		sed -i "/$FSTAB_MARK/d" /etc/fstab
	fi
	if [ "$installed_here" = yes ] && [ "$was_installed" = no ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq recfs >/dev/null 2>&1 || dpkg --purge recfs >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

verdict() {
	local total=$((PASS + FAIL))
	if [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]; then
		echo "$ME: all $total checks passed"
		exit 0
	fi
	echo "$ME: FAILED, $FAIL of $total checks failed"
	exit 1
}
stop() { not_ok "$*"; echo "# $ME: stopped early: $*"; verdict; }

section "build the package in a copy of the tree"
mkdir "$WORK/src"
# The files the checkout has (tracked, and new ones not ignored), never its build folders.
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$WORK/src"
else
	tar -C "$REPO" --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$WORK/src"
fi
start=$(date +%s)
if (cd "$WORK/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
else
	tail -n 40 "$WORK/build.log" | sed 's/^/#   /'
	stop "dpkg-buildpackage -us -uc -b failed (last lines above)"
fi
debs=("$WORK"/recfs_*.deb)
changes=("$WORK"/recfs_*.changes)
[ -f "${debs[0]}" ] && [ -f "${changes[0]}" ] || stop "no recfs_*.deb and .changes in $WORK"
echo "# built $(basename "${debs[0]}") and $(basename "${changes[0]}")"

section "lintian"
# Run as nobody (lintian warns about root); every tag down to info is shown, an error fails.
chmod -R a+rX "$WORK"
if command -v setpriv >/dev/null; then
	as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp)
else
	as_nobody=()
fi
lint_out=$("${as_nobody[@]}" lintian -I --fail-on error "${debs[0]}" "${changes[0]}" 2>&1)
lint_rc=$?
[ -n "$lint_out" ] && printf '%s\n' "$lint_out" | sed 's/^/#   /'
if [ $lint_rc -eq 0 ] && ! grep -q '^E:' <<<"$lint_out"; then
	ok "lintian reports no error on the .deb and the .changes ($(grep -c '^W:' <<<"$lint_out") warnings)"
else
	not_ok "lintian reports errors (exit $lint_rc)"
fi

section "install the package"
if (cd "$WORK" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$(basename "${debs[0]}")") \
	>"$WORK/install.log" 2>&1; then
	installed_here=yes
	ok "apt-get install ./$(basename "${debs[0]}")"
else
	tail -n 20 "$WORK/install.log" | sed 's/^/#   /'
	stop "apt-get install of the package failed"
fi

# From here on, only what the package installed: PATH has no build folder.
export PATH=$SYS_PATH
hash -r
for f in /usr/bin/recfs /usr/sbin/mount.fuse.recfs /usr/sbin/mount.recfs /usr/lib/recfs/recfs-user-mount \
	/usr/lib/systemd/user/recfs@.service /usr/share/bash-completion/completions/recfs \
	/usr/share/man/man1/recfs.1.gz /usr/share/man/man1/recfs-mount.1.gz /usr/share/man/man5/recfs-policy.5.gz \
	/usr/share/man/man8/mount.fuse.recfs.8.gz; do
	[ -e "$f" ] && dpkg -S "$f" >/dev/null 2>&1 || missing="${missing:-} $f"
done
check "the package installs recfs, the mount helper, the unit, its script, man pages and completion" \
	test -z "${missing:-}"
[ -z "${missing:-}" ] || echo "#   missing:$missing"
check "command -v recfs is /usr/bin/recfs" test "$(command -v recfs)" = /usr/bin/recfs
check "man finds recfs-mount(1) and mount.fuse.recfs(8)" \
	bash -c 'man -w recfs-mount >/dev/null && man -w mount.fuse.recfs >/dev/null'

section "recfs demo"
mkdir "$WORK/demo"
MOUNTS+=("$WORK/demo/recfs-demo/mnt")
if (cd "$WORK/demo" && recfs demo </dev/null) >"$WORK/demo.log" 2>&1; then
	ok "recfs demo in $WORK/demo"
else
	not_ok "recfs demo failed (exit $?)"
	tail -n 20 "$WORK/demo.log" | sed 's/^/#   /'
fi
check "the demo's mount shows its records" test -n "$(ls -A "$WORK/demo/recfs-demo/mnt" 2>/dev/null)"
check "recfs umount of the demo" recfs umount "$WORK/demo/recfs-demo/mnt"

section "a mount through /etc/fstab"
vault=$WORK/vault
mnt=$WORK/mnt
pass=$WORK/passphrase
mkdir "$mnt"
(umask 077; echo "package test passphrase" >"$pass")
check "recfs init" recfs init "$vault" --passphrase-file "$pass" --insecure-fast-kdf
MOUNTS+=("$mnt")
echo "$vault $mnt fuse.recfs passphrase_file=$pass,noauto,noatime 0 0 # $FSTAB_MARK" >>/etc/fstab
check "mount $mnt (its /etc/fstab line, through mount.fuse.recfs)" mount "$mnt"
check "the fstab mount is a recfs mount" test "$(findmnt -n -o FSTYPE "$mnt")" = fuse.recfs
check "write a file into it" bash -c "echo 'minutes of the meeting' >'$mnt/minutes.txt'"
check "recfs umount $mnt" recfs umount "$mnt"
check "recfs log shows the save" bash -c \
	"recfs log --vault '$vault' --passphrase-file '$pass' | grep -q minutes.txt"
sed -i "/$FSTAB_MARK/d" /etc/fstab
check "the fstab line is gone" bash -c "! grep -q '$FSTAB_MARK' /etc/fstab"
check "mount -t fuse.recfs VAULT MOUNTPOINT -o passphrase_file=FILE,ro" \
	mount -t fuse.recfs "$vault" "$mnt" -o "passphrase_file=$pass,ro"
check "the read-only mount shows the file" grep -q 'minutes of the meeting' "$mnt/minutes.txt"
check "recfs umount of the read-only mount" recfs umount "$mnt"

section "the systemd user unit"
helper=/usr/lib/recfs/recfs-user-mount
home=$WORK/home
mkdir -p "$home/.config/recfs"
cat >"$home/.config/recfs/records.conf" <<EOF
# as a user would write it
VAULT=$vault
MOUNTPOINT=~/Records
PASSPHRASE_FILE=$pass
OPTIONS=noatime
EOF
unit_env=(env -i HOME="$home" PATH=/usr/bin:/bin)   # what a user manager gives its services
MOUNTS+=("$home/Records")
check "$helper start records (as ExecStart runs it)" "${unit_env[@]}" "$helper" start records
check "the unit's mount is up at ~/Records" mountpoint -q "$home/Records"
check "write a file into it" bash -c "echo 'a letter' >'$home/Records/letter.txt'"
check "$helper stop records (as ExecStop runs it)" "${unit_env[@]}" "$helper" stop records
check "the unit's mount is gone" bash -c "! mountpoint -q '$home/Records'"
check "recfs log shows the save, committed before the stop returned" bash -c \
	"recfs log --vault '$vault' --passphrase-file '$pass' | grep -q letter.txt"
check "a second stop is a no-op" "${unit_env[@]}" "$helper" stop records
runtime=$WORK/runtime
mkdir -m 700 "$runtime"
sa_out=$(XDG_RUNTIME_DIR=$runtime systemd-analyze verify --user --man=no /usr/lib/systemd/user/recfs@.service 2>&1)
sa_rc=$?
if [ $sa_rc -eq 0 ] && [ -z "$sa_out" ]; then
	ok "systemd-analyze verify --user of the installed recfs@.service: no complaint"
else
	not_ok "systemd-analyze verify of the installed unit (exit $sa_rc)"
	printf '%s\n' "$sa_out" | sed 's/^/#   /'
fi

verdict
