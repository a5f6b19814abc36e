#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzing lane: builds the libFuzzer targets of fuzz/ with Debian's clang
# (ASan + UBSan + libFuzzer, fuzz/build.sh), replays every input that once
# crashed (fuzz/regressions/TARGET/), then fuzzes each target for a bounded
# time from its committed seed corpus (fuzz/corpus/TARGET/). Fails when a
# target crashes, hangs (-timeout), leaks, breaks an invariant or fails to
# build. See fuzz/README.md.
#
#   SHMCACHE_FUZZ_SECONDS   seconds per target (default 60)
#   SHMCACHE_FUZZ_TARGETS   which targets (default: segment units snapshot module)
#   SHMCACHE_FUZZ_BUILD     build directory (default build-fuzz); the grown
#                           corpora and any crash artifacts stay under it
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh clang libclang-rt-14-dev

secs=${SHMCACHE_FUZZ_SECONDS:-60}
targets=${SHMCACHE_FUZZ_TARGETS:-"segment units snapshot module"}
build=${SHMCACHE_FUZZ_BUILD:-build-fuzz}
work=$build/work
mkdir -p "$work/artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/shmcache-fuzz-ci.XXXXXX")
[ -d /dev/shm ] && [ -w /dev/shm ] && {
  rmdir "$scratch"; scratch=$(mktemp -d /dev/shm/shmcache-fuzz-ci.XXXXXX); }
trap 'rm -rf "$scratch"' EXIT
export SHMCACHE_FUZZ_DIR=$scratch   # segment and snapshot files go here

CC=clang JOBS=$(nproc) fuzz/build.sh "$build"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=()
for t in $targets; do
  bin=$build/fuzz_$t
  echo "=== fuzz_$t ==="
  if [ ! -x "$bin" ]; then
    echo "fuzz_$t was not built" >&2
    status=1
    summary+=("fuzz_$t: NOT BUILT")
    continue
  fi
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    if ! "$bin" -timeout=10 fuzz/regressions/"$t"/* >"$work/$t.regress.log" 2>&1; then
      tail -40 "$work/$t.regress.log"
      echo "fuzz_$t: a regression input fails again" >&2
      status=1
      summary+=("fuzz_$t: REGRESSION")
      continue
    fi
  fi
  mkdir -p "$work/$t"
  rc=0
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
    "$work/$t" "fuzz/corpus/$t" >"$work/$t.log" 2>&1 || rc=$?
  last=$(grep -E '^#[0-9]+.*cov: ' "$work/$t.log" | tail -1 || true)
  runs=$(sed -nE 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  line="fuzz_$t: ${secs}s, ${runs:-?} runs, $(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' <<<"$last" || echo 'no coverage line')"
  if [ "$rc" -ne 0 ]; then
    grep -E 'shmcache-fuzz:|ERROR:|SUMMARY:|runtime error|artifact_prefix|Test unit written' \
      "$work/$t.log" | head -20
    tail -60 "$work/$t.log"
    line="$line: FAILED (exit $rc, artifacts in $work/artifacts)"
    status=1
  fi
  echo "$line"
  summary+=("$line")
done
echo "=== fuzz summary ==="
printf '%s\n' "${summary[@]}"
exit "$status"
