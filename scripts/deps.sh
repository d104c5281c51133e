#!/bin/sh
# Installs the Debian packages tend needs to build and test. As root it runs
# apt-get itself; otherwise it prints the exact command and fails, so that a
# fresh machine never half-builds.
set -eu
pkgs="gcc make pkg-config libuv1-dev libjansson-dev libmicrohttpd-dev \
libcurl4-openssl-dev libcriterion-dev python3 python3-pytest curl \
clang libclang-rt-14-dev python3-jsonschema mandoc zsh"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq $missing
else
  echo "deps: missing packages. Run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
