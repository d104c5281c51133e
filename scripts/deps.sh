#!/bin/sh
# Installs the Debian packages tend needs to build, test and package. The
# Makefile runs it before every goal that builds (DEPS_SCRIPT). As root with
# apt-get it installs what is missing; otherwise it prints the exact command
# and fails, so that a fresh machine never half-builds.
set -eu
pkgs="gcc make pkg-config libuv1-dev libjansson-dev libmicrohttpd-dev \
libcurl4-openssl-dev libcriterion-dev python3 python3-pytest \
python3-pytest-xdist curl \
clang libclang-rt-14-dev python3-jsonschema mandoc zsh dpkg-dev prometheus \
libncurses-dev tmux clang-format clang-tools cppcheck"

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: no dpkg-query: tend's set-up expects Debian (bookworm);" \
    "install the equivalents of:" >&2
  echo "  $pkgs" >&2
  exit 1
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
    | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages. Run:" >&2
elif ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing packages, and no apt-get to install them. On Debian:" >&2
else
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  # Word splitting of $missing is wanted: one argument per package.
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing && exit 0
  echo "deps: apt-get failed. The command was:" >&2
fi
echo "  sudo apt-get install -y$missing" >&2
exit 1
