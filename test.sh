#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test: installs what is missing, builds into ./build, and runs
# the whole ctest suite (library, multi-process, crash, CLI, real httpd).
# Extra arguments go to ctest (e.g. -R test_api, or -j2).
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
cd build && ctest --output-on-failure "$@"
