#!/usr/bin/env bash
# CI lane "packages" (issue 9): build the Debian packages with CPack
#   libshmcache0 libshmcache-dev libapache2-mod-shmcache shmcache-tools
# install them with apt on this machine, use them as an admin and a C
# developer would, then remove them (also when a step fails):
#   - the shared library is known to ldconfig, pkg-config and CMake find
#     it without any path;
#   - examples/worker_pool.c builds with pkg-config and with
#     find_package(shmcache), and runs;
#   - shmcache-cli (and its man page) works: create, set, get, incr, stats
#     --json, check, remove;
#   - a2enmod shmcache + apache2ctl configtest; a private httpd started
#     from examples/httpd.conf with the installed module serves the status
#     page, a key through the HTTP API, and a CGI response cached by
#     mod_cache_socache in a shmcache cache (second request is a HIT);
#   - a2dismod shmcache, apt-get purge.
# Needs root and apt. The .debs stay in $build (artifacts); their list with
# sizes is printed at the end. Build dir: $SHMCACHE_PACKAGES_BUILD (default
# /tmp/build-pkg-deb).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${SHMCACHE_PACKAGES_BUILD:-/tmp/build-pkg-deb}
jobs=${SHMCACHE_JOBS:-2}
pkgs=(libshmcache0 libshmcache-dev libapache2-mod-shmcache shmcache-tools)
work=$(mktemp -d /tmp/shmcache-packages.XXXXXX)
t0=$(date +%s)
step() { echo "--- packages: $* ($(( $(date +%s) - t0 ))s)"; }
fail() { echo "packages: FAILED: $*" >&2; exit 1; }
# `cmd | contains PATTERN`: like grep -q, but reads all its input first
# (with pipefail, grep -q exiting early can kill cmd with SIGPIPE)
contains() { local in; in=$(cat); grep -q "$@" <<<"$in"; }
apt_get() {
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -y -q \
    -o DPkg::Lock::Timeout=300 "$@"
}

if [ "$(id -u)" -ne 0 ]; then
  echo "packages: needs root (apt); skipped" >&2
  exit 0
fi
for p in "${pkgs[@]}"; do
  if dpkg -s "$p" >/dev/null 2>&1; then
    fail "$p is installed already; remove it first (this lane removes what it installs)"
  fi
done
command -v dpkg-shlibdeps >/dev/null || apt_get install --no-install-recommends dpkg-dev >/dev/null

httpd_pid=
seg_dir=/dev/shm/shmcache-httpd
seg_made=0
cleanup() {
  local rc=$?
  set +e
  if [ -n "$httpd_pid" ]; then
    kill -TERM "$httpd_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$httpd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$httpd_pid" 2>/dev/null
  fi
  [ "$seg_made" = 1 ] && rm -rf "$seg_dir"
  installed=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 && installed+=("$p"); done
  if [ ${#installed[@]} -gt 0 ]; then
    # the module is still enabled: the package's prerm must disable it
    apt_get purge "${installed[@]}" >"$work/purge.log" 2>&1 || cat "$work/purge.log"
  fi
  if [ -e /etc/apache2/mods-enabled/shmcache.load ] || [ -L /etc/apache2/mods-enabled/shmcache.load ]; then
    echo "packages: shmcache still enabled after purge (prerm)" >&2
    a2dismod -q -f shmcache >/dev/null; rm -f /etc/apache2/mods-enabled/shmcache.load
    rc=1
  fi
  for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 && { echo "packages: $p still installed" >&2; rc=1; }
  done
  rm -rf "$work"
  [ "$rc" = 0 ] && echo "--- packages: removed ($(( $(date +%s) - t0 ))s)"
  exit $rc
}
trap cleanup EXIT

step "configure + build ($build, prefix /usr)"
rm -rf "$build"
timeout 300 cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMCACHE_BUILD_TESTS=OFF \
  -DSHMCACHE_BUILD_BENCH=OFF >"$work/configure.log" || { cat "$work/configure.log"; fail configure; }
timeout 600 cmake --build "$build" -j"$jobs" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail build; }

step "cpack -G DEB"
(cd "$build" && timeout 300 cpack -G DEB) >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail cpack; }
debs=()
for p in "${pkgs[@]}"; do
  f=$(ls "$build/${p}_"*.deb 2>/dev/null | head -1)
  [ -n "$f" ] || fail "no package $p"
  debs+=("$f")
done
dpkg-deb -f "$build"/libapache2-mod-shmcache_*.deb Depends | contains apache2-api- \
  || fail "libapache2-mod-shmcache does not depend on the httpd module API"
dpkg-deb -f "$build"/shmcache-tools_*.deb Depends | contains libapr1 \
  || fail "shmcache-tools: no Depends from dpkg-shlibdeps"
dpkg-deb -f "$build"/libshmcache-dev_*.deb Depends | contains "libshmcache0 (=" \
  || fail "libshmcache-dev does not depend on libshmcache0"

step "apt-get install ${debs[*]##*/}"
apt_get install "${debs[@]}" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }

step "library, pkg-config, CMake package"
ldconfig -p | contains "libshmcache.so.0 " \
  || { ldconfig -p | grep shmcache; dpkg -L libshmcache0; fail "ldconfig does not know libshmcache.so.0"; }
env -u PKG_CONFIG_PATH pkg-config --exists shmcache || fail "pkg-config shmcache"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$work/worker_pool" examples/worker_pool.c \
  $(env -u PKG_CONFIG_PATH pkg-config --cflags --libs shmcache)
ldd "$work/worker_pool" | contains -E "libshmcache.so.0 => (/usr)?/lib/" || fail "worker_pool: not the packaged library"
out=$(timeout 60 "$work/worker_pool" -w 4 -n 2000)
echo "$out"
[[ "$out" == "ok: 4 workers, 8000 requests,"* ]] || fail "worker_pool: $out"
timeout 120 cmake -S examples -B "$work/cmake-example" >"$work/example.log" 2>&1 \
  && timeout 300 cmake --build "$work/cmake-example" -j"$jobs" >>"$work/example.log" 2>&1 \
  || { cat "$work/example.log"; fail "find_package(shmcache) example"; }
out=$(timeout 60 "$work/cmake-example/worker_pool_static" -w 2 -n 500)
[[ "$out" == "ok: 2 workers, 1000 requests,"* ]] || fail "worker_pool_static: $out"
man -w shmcache >/dev/null && man -w shmcache-cli >/dev/null || fail "man pages"

step "shmcache-cli smoke test"
seg=/dev/shm/shmcache-packages-$$.cache
cli() { timeout 30 /usr/bin/shmcache-cli -f "$seg" "$@"; }
cli create >/dev/null
cli set greeting hello >/dev/null
[ "$(cli get greeting)" = hello ] || fail "cli get"
cli incr hits >/dev/null 2>&1 || true
cli stats --json | contains '"items"' || fail "cli stats --json"
cli check >/dev/null || fail "cli check"
cli get missing >/dev/null 2>&1 && fail "cli get of a missing key succeeded"
cli remove >/dev/null

step "a2enmod shmcache + apache2ctl configtest"
a2enmod -q shmcache >/dev/null
timeout 60 apache2ctl configtest >"$work/configtest.log" 2>&1 || true
grep -q "Syntax OK" "$work/configtest.log" || { cat "$work/configtest.log"; fail configtest; }

step "private httpd from examples/httpd.conf with the packaged module"
export SC_ROOT=$work/httpd SC_PORT
SC_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$SC_ROOT/run" "$SC_ROOT/htdocs" "$SC_ROOT/cgi"
chmod 755 "$work" "$SC_ROOT"
if [ ! -d "$seg_dir" ]; then mkdir "$seg_dir"; seg_made=1; fi
cat > "$SC_ROOT/cgi/slow" <<'CGI'
#!/bin/sh
sleep 0.3
body="rendered at $(date +%s%N)"
printf 'Content-Type: text/plain\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n\r\n%s' "${#body}" "$body"
CGI
chmod 755 "$SC_ROOT/cgi/slow"
setsid timeout 120 apache2 -f "$src/examples/httpd.conf" -DFOREGROUND \
  >"$SC_ROOT/stdout.log" 2>&1 &
httpd_pid=$!
base=http://127.0.0.1:$SC_PORT
for _ in $(seq 100); do
  curl -s -o /dev/null "$base/" && break
  sleep 0.1
done
c() { curl -s --max-time 10 "$@"; }
c "$base/shmcache-status?json" | contains '"pages"' \
  || { cat "$SC_ROOT/error.log" "$SC_ROOT/stdout.log"; fail "status ?json"; }
c "$base/shmcache-status?auto" | contains '^CacheType' || fail "status ?auto"
c -X PUT --data-binary hello "$base/kv/greeting" >/dev/null
[ "$(c "$base/kv/greeting")" = hello ] || fail "HTTP key API"
first=$(c -D "$work/h1" "$base/cgi/slow")
second=$(c -D "$work/h2" "$base/cgi/slow")
[ "$first" = "$second" ] && grep -qi '^X-Cache: HIT' "$work/h2" \
  || { cat "$work/h1" "$work/h2" "$SC_ROOT/error.log"; fail "CGI response not served from the cache"; }
[ "$(timeout 10 /usr/bin/shmcache-cli --allow-foreign-owner -f "$seg_dir/sessions.cache" get greeting)" = hello ] \
  || fail "shmcache-cli does not see the key stored through httpd"
kill -TERM "$httpd_pid"; wait "$httpd_pid" 2>/dev/null || true; httpd_pid=

step "packages"
for f in "${debs[@]}"; do
  printf '  %-45s %8s bytes  Installed-Size %5s KiB  Depends: %s\n' "${f##*/}" \
    "$(stat -c %s "$f")" "$(dpkg-deb -f "$f" Installed-Size)" "$(dpkg-deb -f "$f" Depends)"
done
step "passed"
