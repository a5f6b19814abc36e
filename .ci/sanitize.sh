#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ASan+UBSan build of the library, CLI and tests, running the whole ctest
# suite; then a TSan build running the threaded tests. The Apache module
# is left out of these builds: a sanitized .so cannot be loaded into the
# uninstrumented apache2 binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh clang libclang-rt-14-dev

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
# Timing bounds of the soak and tamper tests are judged in the release suite;
# under a sanitizer every call is several times slower, so they get room.
export SHMCACHE_SOAK_LATENCY_SCALE=5
export SHMCACHE_TAMPER_MARGIN_MS=2500
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DSHMCACHE_SANITIZE=address,undefined -DSHMCACHE_BUILD_MODULE=OFF \
  -DSHMCACHE_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$(nproc)"
(cd build-asan && ctest --output-on-failure)

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug \
  -DSHMCACHE_SANITIZE=thread -DSHMCACHE_BUILD_MODULE=OFF \
  -DSHMCACHE_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)"
(cd build-tsan && ctest --output-on-failure -R 'test_(lock|multiprocess|api)$')
