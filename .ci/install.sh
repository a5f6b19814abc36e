#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI lane "install" (issues 9, 19): first `cmake --install --prefix` into a
# temporary prefix, and a small program built against it through
# PKG_CONFIG_PATH (shmcache.pc is relocated: its prefix is the one
# installed to), and one of the second tier (.ci/tier-check.sh: built with
# pkg-config shmcache-tier and with find_package, run against memcached);
# then `cmake --install` into /usr/local on this machine,
# and use what was installed the way a user would:
#   - the files are where a Debian admin / C developer looks for them;
#   - examples/worker_pool.c built with `cc $(pkg-config --cflags --libs
#     shmcache)` against the installed library, and run;
#   - examples/CMakeLists.txt (find_package(shmcache)) built and run, shared
#     and static;
#   - shmcache(3) and shmcache-cli(1) (compressed) render without groff
#     warnings, shmcache_get(3) and the other functions' links lead to
#     shmcache(3); the licence files and bash completion are installed;
#   - `a2enmod shmcache` + `apache2ctl configtest`, and examples/httpd.conf
#     passes `apache2 -t`;
# and finally removes every installed file (install_manifest.txt) and
# disables the module again, also when a step fails.
# Needs root (it writes /usr/local, /usr/lib/apache2, /etc/apache2).
# Build dir: $SHMCACHE_INSTALL_BUILD (default /tmp/build-pkg-install).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${SHMCACHE_INSTALL_BUILD:-/tmp/build-pkg-install}
prefix=/usr/local
work=$(mktemp -d /tmp/shmcache-install.XXXXXX)
jobs=${SHMCACHE_JOBS:-2}
t0=$(date +%s)
step() { echo "--- install: $* ($(( $(date +%s) - t0 ))s)"; }
fail() { echo "install: FAILED: $*" >&2; exit 1; }
# `cmd | contains PATTERN`: like grep -q, but reads all its input first
# (with pipefail, grep -q exiting early can kill cmd with SIGPIPE)
contains() { local in; in=$(cat); grep -q "$@" <<<"$in"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install: needs root (writes $prefix and /etc/apache2); skipped" >&2
  exit 0
fi

# directories that exist before: the uninstall removes only the ones it made
find $prefix /etc/apache2 "$(apxs -q LIBEXECDIR)" /var/lib/apache2 -xdev -type d 2>/dev/null \
  | sort > "$work/dirs-before"
was_enabled=0
[ -e /etc/apache2/mods-enabled/shmcache.load ] && was_enabled=1
cleanup() {
  local rc=$?
  set +e
  if [ "$was_enabled" = 0 ]; then
    # --purge: no disabled_by_admin/shmcache marker either, then the marker
    # directories that a2enmod/a2dismod made (the packages lane compares
    # /var/lib/apache2 before and after)
    a2dismod -q -p -f shmcache >/dev/null 2>&1
    find /var/lib/apache2 -mindepth 1 -type d -empty | sort | comm -23 - "$work/dirs-before" \
      | while IFS= read -r d; do rmdir -- "$d"; done
  fi
  if [ -f "$build/install_manifest.txt" ]; then
    xargs -d '\n' rm -f -- < "$build/install_manifest.txt"
    # parents of the installed files, deepest first, that were not there
    while IFS= read -r f; do
      d=$(dirname "$f")
      while [ "$d" != / ] && [ "$d" != . ]; do echo "$d"; d=$(dirname "$d"); done
    done < "$build/install_manifest.txt" | sort -u | comm -23 - "$work/dirs-before" \
      | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- \
      | while IFS= read -r d; do rmdir -- "$d" 2>/dev/null; done
    ldconfig
  fi
  rm -rf "$work"
  [ "$rc" = 0 ] && echo "--- install: removed everything installed ($(( $(date +%s) - t0 ))s)"
  exit $rc
}
trap cleanup EXIT

step "configure + build ($build, prefix $prefix)"
rm -rf "$build"
timeout 300 cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=$prefix \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMCACHE_BUILD_TESTS=OFF \
  -DSHMCACHE_BUILD_BENCH=OFF >"$work/configure.log" || { cat "$work/configure.log"; fail configure; }
timeout 600 cmake --build "$build" -j"$jobs" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail build; }

step "cmake --install --prefix $work/prefix (runtime, dev), pkg-config from there"
# only the library's components: the module's files go where httpd looks,
# whatever the prefix
rel=$work/prefix
for comp in runtime dev; do
  timeout 120 cmake --install "$build" --prefix "$rel" --component "$comp" >>"$work/install-rel.log"
done
pcdir=$(dirname "$(find "$rel" -name shmcache.pc | head -1)")
[ -f "$pcdir/shmcache.pc" ] || fail "no shmcache.pc under $rel"
[ "$pcdir" = "$rel/lib/pkgconfig" ] || [[ "$pcdir" == "$rel"/lib/*/pkgconfig ]] || fail "shmcache.pc in $pcdir"
libdir=$(dirname "$pcdir")
pc() { PKG_CONFIG_PATH=$pcdir pkg-config "$@" shmcache; }
echo "  PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs shmcache: $(pc --cflags --libs)"
[ "$(pc --variable=prefix)" = "$rel" ] || fail "shmcache.pc: prefix=$(pc --variable=prefix), not $rel"
pc --cflags | contains -- "-I$rel/include" || fail "pkg-config --cflags: $(pc --cflags)"
pc --libs | contains -- "-L$libdir " || fail "pkg-config --libs: $(pc --libs)"
cat > "$work/prefix-check.c" <<'C'
/* built against the relocated install: create, set, get, remove */
#include <apr_general.h>
#include <shmcache.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
    apr_pool_t *pool;
    shmcache_t *cache;
    shmcache_options_t opts;
    char path[64], buf[16];
    apr_size_t len = 0;
    apr_status_t rv;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    snprintf(path, sizeof path, "/dev/shm/shmcache-prefix-%ld.cache", (long)getpid());
    shmcache_options_init(&opts);
    opts.size = 1 << 20;
    rv = shmcache_create(&cache, path, &opts, pool);
    if (rv == APR_SUCCESS)
        rv = shmcache_set(cache, "k", 1, "relocated", 9, 0, NULL);
    if (rv == APR_SUCCESS)
        rv = shmcache_get_buf(cache, "k", 1, buf, sizeof buf, &len, NULL);
    if (rv == APR_SUCCESS)
        shmcache_close(cache);
    shmcache_remove(path, pool);
    if (rv != APR_SUCCESS || len != 9 || memcmp(buf, "relocated", 9) != 0) {
        char err[128];
        printf("failed: %s\n", shmcache_strerror(rv, err, sizeof err));
        return 1;
    }
    printf("ok: %.*s\n", (int)len, buf);
    apr_terminate();
    return 0;
}
C
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$work/prefix-check" "$work/prefix-check.c" \
  $(pc --cflags --libs) -Wl,-rpath,"$libdir" || fail "prefix-check does not build against $rel"
ldd "$work/prefix-check" | contains "libshmcache.so.0 => $libdir/libshmcache.so.0" \
  || { ldd "$work/prefix-check"; fail "prefix-check does not use $libdir/libshmcache.so.0"; }
out=$(timeout 30 "$work/prefix-check") || fail "prefix-check: $out"
echo "  prefix-check: $out"
[ "$out" = "ok: relocated" ] || fail "prefix-check: $out"
# the second tier from the same prefix: pkg-config shmcache-tier and
# find_package(shmcache) -> shmcache::shmcache_tier, run against memcached
.ci/tier-check.sh "$rel" || fail "the tier from $rel"
rm -rf "$rel"

step "cmake --install"
timeout 120 cmake --install "$build" >"$work/install.log"
ldconfig
apxs_libexec=$(apxs -q LIBEXECDIR)
for f in $prefix/lib/libshmcache.so.0 $prefix/lib/libshmcache.so $prefix/lib/libshmcache.a \
         $prefix/lib/libshmcache_tier.a $prefix/include/shmcache_tier.h \
         $prefix/include/shmcache.h $prefix/include/mod_shmcache.h \
         $prefix/lib/pkgconfig/shmcache.pc $prefix/lib/pkgconfig/shmcache-tier.pc \
         $prefix/lib/cmake/shmcache/shmcache-config.cmake \
         $prefix/lib/cmake/shmcache/shmcache-config-version.cmake \
         $prefix/lib/cmake/shmcache/shmcache-targets.cmake \
         $prefix/bin/shmcache-cli $prefix/share/man/man1/shmcache-cli.1.gz \
         $prefix/share/man/man3/shmcache.3.gz $prefix/share/man/man3/shmcache_get.3.gz \
         $prefix/share/bash-completion/completions/shmcache-cli \
         $prefix/share/doc/libshmcache0/copyright $prefix/share/doc/libshmcache-dev/copyright \
         $prefix/share/doc/shmcache-tools/copyright $prefix/share/doc/libapache2-mod-shmcache/copyright \
         "$apxs_libexec/mod_shmcache.so" \
         /etc/apache2/mods-available/shmcache.load /etc/apache2/mods-available/shmcache.conf; do
  [ -e "$f" ] || fail "not installed: $f"
done
soname=$(readelf -d $prefix/lib/libshmcache.so | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libshmcache.so.0 ] || fail "SONAME is '$soname'"
ldconfig -p | contains "libshmcache.so.0 .*$prefix/lib/libshmcache.so.0" \
  || fail "ldconfig does not know $prefix/lib/libshmcache.so.0"

step "man pages render, one link per function"
for m in $prefix/share/man/man3/shmcache.3.gz $prefix/share/man/man1/shmcache-cli.1.gz; do
  warn=$(zcat "$m" | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1 || true)
  [ -z "$warn" ] || fail "groff warnings in $m: $warn"
done
# every public function of shmcache.h has its link to shmcache(3)
funcs=$(grep -ozE 'SHMCACHE_DECLARE\([^)]*\)[[:space:]*]*shmcache_[a-z0-9_]+[[:space:]]*\(' \
  libshmcache/include/shmcache.h | tr '\0' '\n' | grep -oE 'shmcache_[a-z0-9_]+' | sort -u)
[ "$(wc -l <<<"$funcs")" -ge 10 ] || fail "functions of shmcache.h: $funcs"
for f in $funcs; do
  [ "$(readlink "$prefix/share/man/man3/$f.3.gz")" = shmcache.3.gz ] || fail "no man link $f.3.gz"
done
man -M $prefix/share/man -w 3 shmcache_get | contains "man3/shmcache.3.gz" || fail "man -w shmcache_get"

step "example with pkg-config"
# no PKG_CONFIG_PATH: Debian's pkg-config searches $prefix/lib/pkgconfig
unset PKG_CONFIG_PATH
[ "$(pkg-config --modversion shmcache)" = "$(sed -n 's/^project(shmcache VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)" ] \
  || fail "pkg-config --modversion shmcache"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$work/worker_pool" examples/worker_pool.c \
  $(pkg-config --cflags --libs shmcache)
ldd "$work/worker_pool" | contains "libshmcache.so.0 => $prefix/lib/libshmcache.so.0" \
  || { ldd "$work/worker_pool"; fail "worker_pool does not use the installed library"; }
out=$(timeout 60 "$work/worker_pool" -w 6 -n 3000)
echo "$out"
[[ "$out" == "ok: 6 workers, 18000 requests, 64 pages cached,"* ]] || fail "worker_pool: $out"
# static, as pkg-config --static describes it
# shellcheck disable=SC2046
cc -o "$work/worker_pool_static" examples/worker_pool.c \
  $(pkg-config --cflags shmcache) $prefix/lib/libshmcache.a $(pkg-config --static --libs-only-l shmcache | sed 's/-lshmcache//')
out=$(timeout 60 "$work/worker_pool_static" -w 2 -n 500)
[[ "$out" == "ok: 2 workers, 1000 requests,"* ]] || fail "worker_pool (static): $out"

step "example with find_package(shmcache)"
timeout 120 cmake -S examples -B "$work/cmake-example" -DCMAKE_PREFIX_PATH=$prefix \
  >"$work/example-configure.log" || { cat "$work/example-configure.log"; fail "find_package(shmcache)"; }
timeout 300 cmake --build "$work/cmake-example" -j"$jobs" >"$work/example-build.log" 2>&1 \
  || { cat "$work/example-build.log"; fail "example build"; }
for exe in worker_pool worker_pool_static; do
  out=$(timeout 60 "$work/cmake-example/$exe" -w 3 -n 1000)
  [[ "$out" == "ok: 3 workers, 3000 requests,"* ]] || fail "$exe: $out"
done

step "installed shmcache-cli"
seg=/dev/shm/shmcache-install-$$.cache
$prefix/bin/shmcache-cli --version >/dev/null
$prefix/bin/shmcache-cli -f "$seg" create >/dev/null
$prefix/bin/shmcache-cli -f "$seg" set greeting hello >/dev/null
[ "$($prefix/bin/shmcache-cli -f "$seg" get greeting)" = hello ] || fail "shmcache-cli get"
$prefix/bin/shmcache-cli -f "$seg" remove >/dev/null 2>&1 || rm -f "$seg"

step "a2enmod shmcache + apache2ctl configtest"
a2enmod -q shmcache >/dev/null
[ -L /etc/apache2/mods-enabled/shmcache.load ] || fail "a2enmod shmcache"
timeout 60 apache2ctl configtest >"$work/configtest.log" 2>&1 || true
cat "$work/configtest.log"
grep -q "Syntax OK" "$work/configtest.log" || fail "apache2ctl configtest"
timeout 30 apache2ctl -M 2>/dev/null | contains shmcache_module || fail "shmcache_module not loaded"
if [ "$was_enabled" = 0 ]; then
  a2dismod -q -p shmcache >/dev/null
fi

step "examples/httpd.conf passes apache2 -t"
mkdir -p "$work/httpd/run" "$work/httpd/htdocs" "$work/httpd/cgi"
shm_made=0
if [ ! -d /dev/shm/shmcache-httpd ]; then
  mkdir /dev/shm/shmcache-httpd; shm_made=1
fi
SC_ROOT=$work/httpd SC_PORT=18080 timeout 60 apache2 -t -f "$src/examples/httpd.conf" \
  >"$work/httpd-t.log" 2>&1 || true
[ "$shm_made" = 1 ] && rmdir /dev/shm/shmcache-httpd
cat "$work/httpd-t.log"
grep -q "Syntax OK" "$work/httpd-t.log" || fail "examples/httpd.conf"

step "passed"
