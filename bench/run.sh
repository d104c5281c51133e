#!/bin/sh
# bench/run.sh: `make bench`. Installs the peers it can, builds the bench's
# child program (bench/stamp.c), runs every benchmark and writes
# bench/RESULTS.md. Benchmarks print figures; they are not tests (no
# pass/fail): a peer that is missing is skipped with a note in its table.
#
#   BENCH_QUICK=1   a fast pass: fewer repetitions, smaller sizes
#   BENCH_ONLY="supervise output api watch idle"   run a subset
#   BENCH_NO_INSTALL=1   never install anything
#
# Peers: Debian's supervisor, runit, entr, inotify-tools, wrk and hyperfine
# (apt-get, as root), and pm2 and nodemon from npm into bench/work/
# node_modules (git-ignored).
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=bench/work
ONLY=${BENCH_ONLY:-supervise output api watch idle ui}
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

note() { printf 'bench: %s\n' "$*" >&2; }

install_peers() {
  debs="supervisor runit entr inotify-tools wrk hyperfine"
  missing=""
  for p in $debs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
      grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && [ -z "${BENCH_NO_INSTALL:-}" ]; then
      note "installing$missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null 2>&1 || true
      apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        note "apt-get could not install all of:$missing (those peers are skipped)"
    else
      note "not installing$missing (not root): those peers are skipped;"
      note "  to include them: sudo apt-get install -y$missing"
    fi
  fi
  if [ ! -x $WORK/node_modules/.bin/pm2 ] ||
     [ ! -x $WORK/node_modules/.bin/nodemon ]; then
    if [ -n "${BENCH_NO_INSTALL:-}" ]; then
      note "BENCH_NO_INSTALL: pm2 and nodemon are skipped"
    elif command -v npm >/dev/null 2>&1; then
      note "installing pm2 and nodemon into $WORK/node_modules"
      mkdir -p $WORK
      [ -f $WORK/package.json ] || echo '{"private": true}' > $WORK/package.json
      (cd $WORK && npm install --no-audit --no-fund --loglevel=error \
        pm2 nodemon >/dev/null) ||
        note "npm could not install pm2/nodemon: those peers are skipped"
    else
      note "npm not found: pm2 and nodemon are skipped"
      [ "$(id -u)" = 0 ] && [ -z "${BENCH_NO_INSTALL:-}" ] &&
        apt-get install -y -qq --no-install-recommends npm >/dev/null 2>&1 &&
        (cd $WORK && npm install --no-audit --no-fund --loglevel=error \
          pm2 nodemon >/dev/null) && note "installed npm, pm2 and nodemon"
    fi
  fi
}

install_peers
mkdir -p $WORK/bin $WORK/results
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
  -o $WORK/bin/stamp bench/stamp.c || { note "cannot build bench/stamp.c"; exit 1; }
[ -x ./tend ] || { note "./tend is missing: run make"; exit 1; }

# 1000 runners, 500 SSE clients: raise the descriptor limit when allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# A run of an earlier, interrupted bench may have left a pm2 daemon.
PM2_HOME=$PWD/$WORK/pm2home $WORK/node_modules/.bin/pm2 kill >/dev/null 2>&1 || true
rm -rf $WORK/run
# Only the benchmarks run now replace their tables (BENCH_ONLY keeps the
# others' latest tables in RESULTS.md); a full run starts from nothing.
if [ -z "${BENCH_ONLY:-}" ]; then
  rm -rf $WORK/results
  mkdir -p $WORK/results
fi
for b in $ONLY; do rm -f $WORK/results/*-"$b".md $WORK/results/*-"$b".headline.jsonl; done

[ -n "${BENCH_QUICK:-}" ] && note "BENCH_QUICK: fewer repetitions, smaller sizes"
for b in $ONLY; do
  note "== $b"
  if [ "$b" = ui ]; then
    # The browser UI (issue 6): real daemon, Debian's headless Chromium.
    if scripts/browser-deps.sh >&2; then
      lines=100000
      [ -n "${BENCH_QUICK:-}" ] && lines=20000
      out=$(TEND_BIN=$PWD/tend node bench/ui_bench.mjs --lines $lines) ||
        note "ui: the benchmark failed; going on"
      printf '%s\n' "$out"
      { printf '### browser UI: %s lines of output\n\n```\n%s\n```\n\n' \
          "$lines" "$out"
        printf 'Issue 6 targets: under 2 s and under 100 MiB of JS heap.\n'
      } > $WORK/results/6-ui.md
    else
      note "ui: no chromium/playwright-core; skipped"
    fi
    continue
  fi
  (cd bench && "$PYTHON" "$b.py") || note "$b: the benchmark failed (see above); going on"
done
(cd bench && "$PYTHON" report.py "$START" "$LOAD0")
rm -rf $WORK/run
