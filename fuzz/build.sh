#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer targets of shmcache with clang:
#   fuzz/build.sh [OUTDIR]          (default /tmp/build-fuzz)
# The library and the number words (common/units.c) are built by the
# project's own CMake, so their list of sources is CMake's alone; this
# script adds the code only a target needs (the CLI's parsers and snapshot
# reader, the module's sc_parse.c) and the harness. Everything under test is
# compiled with coverage instrumentation (-fsanitize=fuzzer-no-link) plus
# ASan and UBSan; each target links with -fsanitize=fuzzer. Needs clang and
# libclang-rt-14-dev (Debian), cmake, APR, APR-util, xxHash and, for
# fuzz_module, the httpd headers (apache2-dev). JOBS (default 2) compiles
# in parallel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-/tmp/build-fuzz}
CC=${CC:-clang}
jobs=${JOBS:-2}
mkdir -p "$out/obj"

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
base="-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Werror=implicit-function-declaration -Werror=int-conversion $san $(pkg-config --cflags apr-1 apr-util-1 libxxhash)"
inst="$base -fsanitize=fuzzer-no-link"
libs="$(pkg-config --libs apr-1 apr-util-1 libxxhash) -lpthread"
inc="-I$root/libshmcache/include -I$root/libshmcache/src -I$root/common -I$here"

# compile SRC into OBJ with FLAGS..., in the background (at most $jobs)
pending=()
compile() {
  local src=$1 obj=$2; shift 2
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  "$CC" "$@" -c "$src" -o "$obj" &
  pending+=($!)
}
finish() {
  local p
  for p in "${pending[@]}"; do wait "$p"; done
  pending=()
}

# the library and common/, instrumented, with debug poisoning of freed
# blocks: CMake's targets (SHMCACHE_SANITIZE adds ASan and UBSan and turns
# link-time optimisation off, as libFuzzer needs)
cmake -S "$root" -B "$out/cmake" -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_C_FLAGS_FUZZ="-g -O1 -fsanitize=fuzzer-no-link -DSHMCACHE_DEBUG" \
  -DSHMCACHE_SANITIZE=address,undefined -DSHMCACHE_BUILD_TESTS=OFF \
  -DSHMCACHE_BUILD_BENCH=OFF -DSHMCACHE_BUILD_MODULE=OFF >"$out/cmake.log"
cmake --build "$out/cmake" -j "$jobs" --target shmcache_static shmcache_units \
  >>"$out/cmake.log"
libobjs=("$out/cmake/libshmcache/libshmcache.a" "$out/cmake/common/libshmcache_units.a")
# harness code: not instrumented for coverage (its branches are not the
# code under test), but sanitized
compile "$here/fuzz_common.c" "$out/obj/fuzz_common.o" $base $inc
compile "$root/tests/guard_pages.c" "$out/obj/guard_pages.o" $base $inc
finish

link() {
  local name=$1; shift
  "$CC" $san -fsanitize=fuzzer "$@" "$out/obj/fuzz_common.o" "$out/obj/guard_pages.o" "${libobjs[@]}" \
    $libs -o "$out/$name"
  echo "built $out/$name"
}

# (a) attach + operations on a mutated segment image
compile "$here/fuzz_segment.c" "$out/obj/fuzz_segment.o" $inst $inc
finish
link fuzz_segment "$out/obj/fuzz_segment.o"

# (b) the CLI's number/unit parser and key escaping
cli="$root/shmcache-cli"
if [ -f "$cli/util.c" ]; then
  compile "$cli/util.c" "$out/obj/cli_util.o" $inst $inc -I"$cli"
  compile "$here/fuzz_cli_stubs.c" "$out/obj/cli_stubs.o" $base $inc -I"$cli"
  compile "$here/fuzz_units.c" "$out/obj/fuzz_units.o" $base $inc -I"$cli"
  finish
  link fuzz_units "$out/obj/fuzz_units.o" "$out/obj/cli_util.o" "$out/obj/cli_stubs.o"
fi

# (c) the snapshot reader of `shmcache-cli load`
if [ -f "$cli/snapshot.c" ]; then
  compile "$cli/snapshot.c" "$out/obj/cli_snapshot.o" $inst $inc -I"$cli"
  compile "$here/fuzz_snapshot.c" "$out/obj/fuzz_snapshot.o" $base $inc -I"$cli"
  finish
  link fuzz_snapshot "$out/obj/fuzz_snapshot.o" "$out/obj/cli_snapshot.o" \
    "$out/obj/cli_util.o" "$out/obj/cli_stubs.o"
fi

# (d) every word the module reads: mod_shmcache/sc_parse.c, linked as it
# is (it calls no httpd function; httpd's headers give it its types)
httpd_inc=$(apxs -q INCLUDEDIR 2>/dev/null || echo /usr/include/apache2)
mod="$root/mod_shmcache"
if [ -f "$httpd_inc/httpd.h" ] && [ -f "$mod/sc_parse.c" ]; then
  minc="$inc -I$mod -I$httpd_inc"
  compile "$mod/sc_parse.c" "$out/obj/mod_parse.o" $inst $minc
  compile "$here/fuzz_module.c" "$out/obj/fuzz_module.o" $base $minc
  finish
  link fuzz_module "$out/obj/fuzz_module.o" "$out/obj/mod_parse.o"
fi
