#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# .ci/tier-check.sh [PREFIX]: can a program use the installed second tier?
# Builds .ci/tier-check.c twice against the shmcache installed in PREFIX
# (default: where pkg-config and CMake look without help, e.g. the
# packages): with `pkg-config --cflags --libs shmcache-tier`, and with a
# CMake project that links shmcache::shmcache_tier from
# find_package(shmcache); starts memcached on a free loopback port and runs
# both (a value set through one segment's tier is read through another's,
# from memcached). Used by .ci/install.sh and .ci/packages.sh. Needs
# memcached (scripts/deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
prefix=${1:-}
work=$(mktemp -d /tmp/shmcache-tier-check.XXXXXX)
mc_pid=
fail() { echo "tier-check: FAILED: $*" >&2; exit 1; }
cleanup() {
  local rc=$?
  [ -n "$mc_pid" ] && { kill "$mc_pid" 2>/dev/null; wait "$mc_pid" 2>/dev/null; }
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

pc_env=()
cmake_args=()
rpath=()
if [ -n "$prefix" ]; then
  pcdir=$(dirname "$(find "$prefix" -name shmcache-tier.pc | head -1)")
  [ -f "$pcdir/shmcache-tier.pc" ] || fail "no shmcache-tier.pc under $prefix"
  pc_env=(PKG_CONFIG_PATH="$pcdir")
  cmake_args=(-DCMAKE_PREFIX_PATH="$prefix")
else
  pc_env=(-u PKG_CONFIG_PATH)
fi
pc() { env "${pc_env[@]}" pkg-config "$@" shmcache-tier; }
pc --exists || fail "pkg-config shmcache-tier"
libdir=$(pc --variable=libdir)
[ -f "$libdir/libshmcache_tier.a" ] || fail "no $libdir/libshmcache_tier.a"
[ -n "$prefix" ] && rpath=("-Wl,-rpath,$libdir")
echo "  pkg-config --cflags --libs shmcache-tier: $(pc --cflags --libs)"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$work/tier-check-pc" "$src/.ci/tier-check.c" \
  $(pc --cflags --libs) "${rpath[@]}" || fail "tier-check does not build with pkg-config"

cat > "$work/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(tier_check LANGUAGES C)
find_package(shmcache 0.1 REQUIRED)
add_executable(tier-check-cmake "$src/.ci/tier-check.c")
target_link_libraries(tier-check-cmake PRIVATE shmcache::shmcache_tier)
CMAKE
{ cmake -S "$work" -B "$work/build" "${cmake_args[@]}" \
    && cmake --build "$work/build"; } >"$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log"; fail "tier-check does not build with find_package(shmcache)"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=()
[ "$(id -u)" -eq 0 ] && user=(-u nobody)
memcached "${user[@]}" -l 127.0.0.1 -p "$port" -U 0 -t 1 &
mc_pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.05
done
for exe in tier-check-pc build/tier-check-cmake; do
  out=$(timeout 30 "$work/$exe" "memcache://127.0.0.1:$port") || fail "$exe: $out"
  echo "  $exe: $out"
done
