#!/bin/sh
# Installs what the browser tests need: Debian's chromium (apt-get when root;
# otherwise the exact command is printed and the script fails) and the
# pinned playwright-core in tests/browser/node_modules (npm ci against the
# committed package-lock.json). Nothing else is downloaded: playwright-core
# drives the system chromium, it never fetches a browser build of its own.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "browser-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq $missing
  else
    echo "browser-deps: missing packages. Run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi

if [ ! -d "$root/tests/browser/node_modules/playwright-core" ]; then
  echo "browser-deps: installing playwright-core in tests/browser"
  cd "$root/tests/browser"
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
fi
