#!/bin/sh
# tests/fuzz/run.sh SECONDS [TARGET...]: runs each libFuzzer target of
# build/fuzz/ for SECONDS (make fuzz / make fuzz-smoke call it from the
# repository root), then prints one line per target: runs, execs/s, corpus
# size and the verdict.
#
# Per target: the checked-in reproducers tests/fuzz/crashes/<target>-* are
# replayed first (each was a bug; each must pass now); then the fuzzer runs
# on a working corpus build/fuzz/corpus/<target>/ (kept between runs, so
# long runs build on each other) seeded from tests/fuzz/corpus/<target>/,
# never writing to the checked-in seeds. A crash, leak, timeout (FUZZ_TIMEOUT
# seconds per input, default 1) or broken property is saved as
# build/fuzz/crashes/<target>-crash-<sha1> and fails the run.
set -u

secs=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...]}
shift
targets=${*:-config config_pos glob jsonl sse routes}
B=build/fuzz
timeout_s=${FUZZ_TIMEOUT:-1}
status=0
summary=""

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Largest input per target: big enough for a real config or request, small
# enough to keep each input fast.
max_len() {
  case $1 in
    config) echo 8192 ;;
    glob) echo 512 ;;
    routes) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

for t in $targets; do
  bin=$B/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  work=$B/corpus/$t
  log=$B/fuzz_$t.log
  dict=""
  [ -f tests/fuzz/dict/$t.dict ] && dict="-dict=tests/fuzz/dict/$t.dict"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing (make fuzz-bins)" >&2
    exit 2
  fi
  mkdir -p "$work" "$B/crashes"

  # Regressions: every saved reproducer must pass.
  for r in tests/fuzz/crashes/"$t"-*; do
    [ -f "$r" ] || continue
    if ! "$bin" -timeout="$timeout_s" "$r" >"$log" 2>&1; then
      echo "fuzz: $t: the reproducer $r fails again:" >&2
      tail -n 30 "$log" >&2
      status=1
      summary="$summary$(printf '%-8s REGRESSION %s' "$t" "$r")
"
      continue 2
    fi
  done

  echo "== fuzz_$t: ${secs}s"
  # shellcheck disable=SC2086 # $dict is one optional word
  timeout $((secs + 120)) "$bin" -max_total_time="$secs" \
    -timeout="$timeout_s" -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -print_final_stats=1 -artifact_prefix="$B/crashes/$t-" $dict \
    "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  files=$(find "$work" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    verdict=ok
  else
    verdict="FAILED (exit $rc)"
    status=1
    echo "fuzz: $t failed; the last lines of $log:" >&2
    grep -a -v '^#[0-9]' "$log" | tail -n 40 >&2
    ls -1 "$B"/crashes/"$t"-* 2>/dev/null | sed 's/^/fuzz: saved /' >&2
  fi
  summary="$summary$(printf '%-8s %10s runs %8s exec/s %6s corpus  %s' \
    "$t" "${runs:-?}" "${rate:-?}" "$files" "$verdict")
"
done

echo "== fuzz summary (${secs}s per target)"
printf '%s' "$summary"
exit $status
