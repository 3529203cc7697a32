#!/bin/sh
# install-deps.sh: install the Debian 12 packages that recfs needs to build,
# run, test, benchmark and package (debhelper ... lintian: the Debian package and
# its checks; systemd: systemd-analyze for the user unit).
#
# Owns: the list of packages. Idempotent: installs only what is missing, and
# runs `apt-get update` only when something is. Works as root, or through sudo.
# Must never: change anything but installed packages (no config files, no
# sources.list), or install recommended extras.
#
# Usage: packaging/install-deps.sh [--check]
#   --check   only list what is missing; exit 1 if anything is
set -eu

PACKAGES="
build-essential meson ninja-build pkg-config
libfuse3-dev fuse3 libsodium-dev libgit2-dev zlib1g-dev libdeflate-dev libcriterion-dev
git rsync attr tar gzip xz-utils zstd xxd
gocryptfs securefs age
e2fsprogs util-linux procps psmisc coreutils findutils diffutils file time python3
clang libarchive-dev openssl libssl-dev minisign
groff-base man-db
debhelper dpkg-dev fakeroot lintian systemd
"

check_only=no
case "${1:-}" in
	--check) check_only=yes ;;
	"") ;;
	-h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "install-deps.sh: unknown option '$1'; see '$0 --help'" >&2; exit 2 ;;
esac

is_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=""
for p in $PACKAGES; do
	is_installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "install-deps.sh: all recfs dependencies are installed"
	exit 0
fi
echo "install-deps.sh: missing:$missing"
[ "$check_only" = yes ] && exit 1

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "install-deps.sh: run this as root, or install sudo" >&2
	exit 2
fi

export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086  # the list is meant to split into words
$as_root apt-get install -y -qq --no-install-recommends $missing

still=""
for p in $missing; do
	is_installed "$p" || still="$still $p"
done
if [ -n "$still" ]; then
	echo "install-deps.sh: could not install:$still" >&2
	exit 1
fi
echo "install-deps.sh: installed:$missing"
