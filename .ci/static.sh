#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static analysis lane: clang-tidy (checks chosen and explained in
# .clang-tidy at the repository root) and cppcheck (warning, style,
# performance and portability; suppressions with their reasons in
# .ci/cppcheck-suppressions.txt) over every C file of libshmcache/,
# common/, shmcache-cli/ and mod_shmcache/. Zero findings, or the lane
# fails.
#
# clang-tidy compiles each file with the flags CMake would use: a
# compile_commands.json from its own configure-only build directory
# (SHMCACHE_STATIC_BUILD, default build-static). Findings that another
# owner has been told about and that are waiting for their fix may be
# listed in .ci/static-baseline.txt ("path check-or-id" per line); they
# are printed but do not fail the lane. The list should be empty.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh clang clang-tidy cppcheck

build=${SHMCACHE_STATIC_BUILD:-build-static}
jobs=${JOBS:-$(nproc)}
baseline=.ci/static-baseline.txt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DCMAKE_BUILD_TYPE=Debug -DSHMCACHE_BUILD_TESTS=OFF \
  -DSHMCACHE_BUILD_BENCH=OFF -DSHMCACHE_BUILD_MODULE=ON >/dev/null
# every C file of the three parts that the build compiles
python3 - "$build/compile_commands.json" >"$out/files" <<'EOF'
import json, os, sys
root = os.getcwd()
seen = set()
for e in json.load(open(sys.argv[1])):
    f = os.path.relpath(os.path.join(e["directory"], e["file"]), root)
    if f.split(os.sep)[0] in ("libshmcache", "common", "shmcache-cli", "mod_shmcache"):
        seen.add(f)
print("\n".join(sorted(seen)))
EOF
for part in libshmcache common shmcache-cli mod_shmcache; do
  grep -q "^$part/" "$out/files" || {
    echo "static: no $part sources in the compile database (apxs missing?)" >&2
    exit 1
  }
done
echo "static: $(wc -l <"$out/files") files"

is_baselined() {   # path check
  [ -f "$baseline" ] && grep -v '^#' "$baseline" | grep -qx "$1 $2"
}

status=0

# ---- clang-tidy ----------------------------------------------------------
xargs -a "$out/files" -P "$jobs" -I{} sh -c \
  'clang-tidy -p "$1" --quiet "$2" >"$3/tidy.$(echo "$2" | tr / _)" 2>/dev/null || true' \
  _ "$build" {} "$out"
cat "$out"/tidy.* >"$out/tidy" 2>/dev/null || true
# "path:line:col: warning|error: message [check,-warnings-as-errors]"
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$out/tidy" | sort -u \
  >"$out/tidy.findings" || true
tidy_new=0
while IFS= read -r line; do
  file=$(realpath --relative-to=. "${line%%:*}" 2>/dev/null || echo "${line%%:*}")
  check=$(sed -E 's/.*\[([^],]+)[],].*/\1/' <<<"$line")
  if is_baselined "$file" "$check"; then
    echo "clang-tidy (baseline, known): ${line#"$PWD"/}"
  else
    echo "clang-tidy: ${line#"$PWD"/}"
    tidy_new=$((tidy_new + 1))
  fi
done <"$out/tidy.findings"
echo "static: clang-tidy: $tidy_new finding(s)"
[ "$tidy_new" -eq 0 ] || status=1

# ---- cppcheck ------------------------------------------------------------
# The project's own headers only: APR/httpd headers are not analysed
# (cppcheck cannot configure their macro layers), one Linux configuration.
cppcheck --enable=warning,style,performance,portability --std=c11 \
  --library=posix --inline-suppr --quiet -j "$jobs" \
  -D__linux__ -D__GNUC__ -DSHMCACHE_BUILDING \
  -I libshmcache/include -I libshmcache/src -I common -I shmcache-cli -I mod_shmcache \
  --suppressions-list=.ci/cppcheck-suppressions.txt \
  --template='{file}:{line}: {severity}: {message} [{id}]' \
  $(grep -v '/win32/' "$out/files") 2>"$out/cppcheck" || true
cpp_new=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  file=${line%%:*}
  id=$(sed -E 's/.*\[([^]]+)\]$/\1/' <<<"$line")
  if is_baselined "$file" "$id"; then
    echo "cppcheck (baseline, known): $line"
  else
    echo "cppcheck: $line"
    cpp_new=$((cpp_new + 1))
  fi
done <"$out/cppcheck"
echo "static: cppcheck: $cpp_new finding(s)"
[ "$cpp_new" -eq 0 ] || status=1

exit "$status"
