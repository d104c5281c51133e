#!/bin/sh
# Builds tend's Debian package from a staged install:
#
#   scripts/deb.sh DIR
#
# DIR/debian/tend is the package root, already filled by `make install`'s
# list with PREFIX=/usr (the Makefile's deb target does that). This script
# does what debhelper would: strips the binary, compresses the man pages,
# computes Depends with dpkg-shlibdeps from the libraries the binary really
# links (nothing hard-coded), writes DEBIAN/control and DEBIAN/md5sums, and
# builds DIR/tend_<version>_<arch>.deb with root as the owner of every
# file. The version is what `tend version` prints, made Debian-valid.
set -eu

me=${0##*/}
fail() {
  echo "$me: $*" >&2
  exit 1
}
[ $# -eq 1 ] || {
  echo "usage: $me DIR" >&2
  exit 2
}
dir=$1
root=$dir/debian/tend
bin=$root/usr/bin/tend
[ -x "$bin" ] || fail "$bin is missing: run make deb, which stages it"
for tool in dpkg dpkg-deb dpkg-shlibdeps strip gzip md5sum; do
  command -v "$tool" >/dev/null 2>&1 \
    || fail "$tool not found: run scripts/deps.sh (dpkg-dev, binutils)"
done

# "tend 0.1.0" -> 0.1.0. A native package version may hold only
# [A-Za-z0-9.+~] and must start with a digit; '-' and '_' become '~' (a
# pre-release, which sorts before the release), anything else is dropped.
raw=$("$bin" version) || fail "$bin version failed"
version=$(printf '%s\n' "${raw#tend }" | head -n 1 | tr '_-' '~~' \
  | tr -cd 'A-Za-z0-9.+~')
case $version in
  [0-9]*) ;;
  *) fail "'$raw' (from tend version) holds no Debian version" ;;
esac
arch=$(dpkg --print-architecture)

maintainer=${DEB_MAINTAINER:-}
if [ -z "$maintainer" ] && [ -n "${DEBFULLNAME:-}" ] \
  && [ -n "${DEBEMAIL:-}" ]; then
  maintainer="$DEBFULLNAME <$DEBEMAIL>"
fi
if [ -z "$maintainer" ]; then
  maintainer=$(git var GIT_COMMITTER_IDENT 2>/dev/null \
    | sed 's/^\(.*>\).*$/\1/') || maintainer=""
fi
case $maintainer in
  *?' <'?*@?*'>') ;;
  *) fail "no maintainer: set DEB_MAINTAINER='Name <mail@example.org>'" ;;
esac

# What debhelper's dh_strip and dh_installman would do.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$bin"
find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9nf {} +
find "$root" -type d -exec chmod 0755 {} +

# dpkg-shlibdeps reads debian/control (the package names) from the current
# folder and finds the package root by its DEBIAN folder.
mkdir -p "$root/DEBIAN"
printf 'Source: tend\n\nPackage: tend\nArchitecture: any\n' \
  >"$dir/debian/control"
depends=$(cd "$dir" && dpkg-shlibdeps -O -edebian/tend/usr/bin/tend) \
  || fail "dpkg-shlibdeps failed"
depends=${depends#shlibs:Depends=}
[ -n "$depends" ] || fail "dpkg-shlibdeps found no dependencies"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: tend
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: supervisor for a tree of commands, in the manner of Erlang/OTP
 tend keeps a tree of commands alive the way Erlang/OTP supervisors keep
 processes alive (restart strategies, intensity, backoff), shows their
 output live in the terminal, a browser and an HTTP API, keeps every byte
 of it on disk as JSON, and restarts or triggers commands when files
 change. One JSON config file, one small C daemon.
EOF
(cd "$root" && find . -type f ! -path './DEBIAN/*' | sed 's|^\./||' \
  | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

rm -f "$dir"/tend_*.deb
deb=$dir/tend_${version}_${arch}.deb
dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
echo "deb: $deb"
echo "  Version: $version  Depends: $depends"
