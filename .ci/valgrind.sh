#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# valgrind memcheck of the unit tests (and the helper processes they
# start): zero errors and zero definite leaks, or the lane fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh valgrind
[ -d build ] || ./test.sh -N >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
export SHMCACHE_TEST_SECONDS=1
for t in test_alloc test_api test_segment test_table test_multiprocess; do
  [ -x "build/tests/$t" ] || continue
  echo "--- valgrind $t"
  # CK_FORK=no: one process per binary (helpers are separate execs, traced)
  CK_FORK=no CK_DEFAULT_TIMEOUT=600 valgrind --quiet --error-exitcode=9 \
    --leak-check=full --errors-for-leak-kinds=definite \
    --trace-children=yes --child-silent-after-fork=yes \
    "build/tests/$t"
done
