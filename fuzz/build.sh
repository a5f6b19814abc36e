#!/usr/bin/env bash
# Build the libFuzzer targets of shmcache with clang:
#   fuzz/build.sh [OUTDIR]          (default /tmp/build-fuzz)
# Everything under test (the library, the CLI's parsers and snapshot
# reader, the module's parsers) is compiled with coverage instrumentation
# (-fsanitize=fuzzer-no-link) plus ASan and UBSan; each target links with
# -fsanitize=fuzzer. Needs clang and libclang-rt-14-dev (Debian), APR,
# APR-util, xxHash and, for fuzz_module, the httpd headers (apache2-dev).
# JOBS (default 2) compiles in parallel.
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
inc="-I$root/libshmcache/include -I$root/libshmcache/src -I$here"

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

# the library, instrumented, with debug poisoning of freed blocks
libobjs=()
for s in shmcache segment alloc table evict check lease lock strerror; do
  compile "$root/libshmcache/src/$s.c" "$out/obj/lib_$s.o" $inst $inc -DSHMCACHE_DEBUG
  libobjs+=("$out/obj/lib_$s.o")
done
compile "$root/libshmcache/src/unix/os.c" "$out/obj/lib_os.o" $inst $inc -DSHMCACHE_DEBUG
libobjs+=("$out/obj/lib_os.o")
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
if [ -f "$cli/units.c" ] && [ -f "$cli/util.c" ]; then
  compile "$cli/units.c" "$out/obj/cli_units.o" $inst $inc -I"$cli"
  compile "$cli/util.c" "$out/obj/cli_util.o" $inst $inc -I"$cli"
  compile "$here/fuzz_cli_stubs.c" "$out/obj/cli_stubs.o" $base $inc -I"$cli"
  compile "$here/fuzz_units.c" "$out/obj/fuzz_units.o" $base $inc -I"$cli"
  finish
  link fuzz_units "$out/obj/fuzz_units.o" "$out/obj/cli_units.o" "$out/obj/cli_util.o" \
    "$out/obj/cli_stubs.o"
fi

# (c) the snapshot reader of `shmcache-cli load`
if [ -f "$cli/snapshot.c" ]; then
  compile "$cli/snapshot.c" "$out/obj/cli_snapshot.o" $inst $inc -I"$cli"
  compile "$here/fuzz_snapshot.c" "$out/obj/fuzz_snapshot.o" $base $inc -I"$cli"
  finish
  link fuzz_snapshot "$out/obj/fuzz_snapshot.o" "$out/obj/cli_snapshot.o" \
    "$out/obj/cli_util.o" "$out/obj/cli_units.o" "$out/obj/cli_stubs.o"
fi

# (d) the module's directive parsers and the HTTP API's key decoding: the
# module's files are compiled into shims that expose their static parsers
# (fuzz_module_shims.c), against stub httpd functions (fuzz_httpd_stubs.c)
httpd_inc=$(apxs -q INCLUDEDIR 2>/dev/null || echo /usr/include/apache2)
mod="$root/mod_shmcache"
if [ -f "$httpd_inc/httpd.h" ] && [ -f "$mod/sc_api.c" ] && [ -f "$here/fuzz_module.c" ]; then
  minc="$inc -I$mod -I$httpd_inc"
  for s in api conf cache socache; do
    compile "$here/fuzz_module_shim_$s.c" "$out/obj/mod_shim_$s.o" $inst $minc
  done
  compile "$here/fuzz_httpd_stubs.c" "$out/obj/httpd_stubs.o" $base $minc
  # the second tier: the module's l2= options and its calls (sc_tier.c),
  # over the tier library (APR-util)
  compile "$mod/sc_tier.c" "$out/obj/mod_tier.o" $inst $minc
  tierobjs=("$out/obj/mod_tier.o")
  for t in "$root"/libshmcache/src/tier*.c; do
    compile "$t" "$out/obj/lib_$(basename "$t" .c).o" $inst $inc
    tierobjs+=("$out/obj/lib_$(basename "$t" .c).o")
  done
  compile "$here/fuzz_module.c" "$out/obj/fuzz_module.o" $base $minc
  finish
  link fuzz_module "$out/obj/fuzz_module.o" "$out/obj/mod_shim_api.o" \
    "$out/obj/mod_shim_conf.o" "$out/obj/mod_shim_cache.o" \
    "$out/obj/mod_shim_socache.o" "$out/obj/httpd_stubs.o" "${tierobjs[@]}"
fi
