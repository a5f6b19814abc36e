#!/usr/bin/env bash
# CI lane "install" (issue 9): `cmake --install` into /usr/local on this
# machine, then use what was installed the way a user would:
#   - the files are where a Debian admin / C developer looks for them;
#   - examples/worker_pool.c built with `cc $(pkg-config --cflags --libs
#     shmcache)` against the installed library, and run;
#   - examples/CMakeLists.txt (find_package(shmcache)) built and run, shared
#     and static;
#   - shmcache(3) and shmcache-cli(1) render without groff warnings;
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
find $prefix /etc/apache2 "$(apxs -q LIBEXECDIR)" -xdev -type d 2>/dev/null \
  | sort > "$work/dirs-before"
was_enabled=0
[ -e /etc/apache2/mods-enabled/shmcache.load ] && was_enabled=1
cleanup() {
  local rc=$?
  set +e
  if [ "$was_enabled" = 0 ] && [ -e /etc/apache2/mods-enabled/shmcache.load ]; then
    a2dismod -q shmcache >/dev/null
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

step "cmake --install"
timeout 120 cmake --install "$build" >"$work/install.log"
ldconfig
apxs_libexec=$(apxs -q LIBEXECDIR)
for f in $prefix/lib/libshmcache.so.0 $prefix/lib/libshmcache.so $prefix/lib/libshmcache.a \
         $prefix/include/shmcache.h $prefix/include/mod_shmcache.h \
         $prefix/lib/pkgconfig/shmcache.pc \
         $prefix/lib/cmake/shmcache/shmcache-config.cmake \
         $prefix/lib/cmake/shmcache/shmcache-config-version.cmake \
         $prefix/lib/cmake/shmcache/shmcache-targets.cmake \
         $prefix/bin/shmcache-cli $prefix/share/man/man1/shmcache-cli.1 \
         $prefix/share/man/man3/shmcache.3 \
         "$apxs_libexec/mod_shmcache.so" \
         /etc/apache2/mods-available/shmcache.load /etc/apache2/mods-available/shmcache.conf; do
  [ -e "$f" ] || fail "not installed: $f"
done
soname=$(readelf -d $prefix/lib/libshmcache.so | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libshmcache.so.0 ] || fail "SONAME is '$soname'"
ldconfig -p | contains "libshmcache.so.0 .*$prefix/lib/libshmcache.so.0" \
  || fail "ldconfig does not know $prefix/lib/libshmcache.so.0"

step "man pages render"
for m in $prefix/share/man/man3/shmcache.3 $prefix/share/man/man1/shmcache-cli.1; do
  warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" 2>&1 || true)
  [ -z "$warn" ] || fail "groff warnings in $m: $warn"
done

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
  a2dismod -q shmcache >/dev/null
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
