#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI lane "packages" (issues 9, 19): build the Debian packages with CPack
#   libshmcache0 libshmcache-dev libapache2-mod-shmcache shmcache-tools
# check them with lintian (any error fails the lane; warnings are printed),
# install them with apt on this machine, use them as an admin and a C
# developer would, purge them, and check that nothing is left:
#   - the shared library is known to ldconfig, pkg-config and CMake find
#     it without any path; examples/worker_pool.c builds with pkg-config
#     and with find_package(shmcache), and runs; so does the second tier
#     (.ci/tier-check.sh, against memcached);
#   - shmcache-cli works (create, set, get, incr, stats --json, check,
#     remove), its bash completion completes, `man shmcache_get` and the
#     other functions find shmcache(3);
#   - the module package enabled mod_shmcache; the admin enables cache,
#     cache_socache and cgid and docs/INSTALL.md's shmcache-pages.conf (read
#     from that page); a copy of the system's /etc/apache2 on a private
#     port serves a slow CGI page twice, the second time from the cache;
#   - a private httpd from examples/httpd.conf with the packaged module
#     serves the status page, a key through the HTTP key API, a cached CGI;
#   - apt-get purge with the module and shmcache-pages.conf still enabled:
#     `apache2ctl configtest` still passes; after the admin's own changes
#     are undone, a listing of /etc/apache2, /var/lib/apache2 and /usr
#     (find) equals the one taken before the install.
# Needs root and apt. The .debs stay in $build (artifacts, with lintian.txt,
# listing-before.txt, listing-after.txt, listing-installed.diff and
# listing-purged.diff); their list with sizes is printed at the end. Build dir: $SHMCACHE_PACKAGES_BUILD (default
# /tmp/build-pkg-deb). Writes /etc/apache2 (a2enmod, a2enconf): run it
# alone, after the install lane.
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
listing() {
  find /etc/apache2 /var/lib/apache2 /usr -xdev -printf '%y %m %p %l\n' 2>/dev/null | LC_ALL=C sort
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
# dpkg-shlibdeps (CPack's Depends) and lintian, when missing
scripts/deps.sh dpkg-dev lintian

# what this lane changes as the admin, undone by undo_admin
cgi=/usr/lib/cgi-bin/shmcache-packages-slow
pages_conf=/etc/apache2/conf-available/shmcache-pages.conf
admin_mods=()
conf_made=0
httpd_pids=()
seg_dir=/dev/shm/shmcache-httpd
seg_made=0
stop_httpds() {
  local pid
  for pid in "${httpd_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  httpd_pids=()
  return 0
}
undo_admin() {
  local m
  if [ "$conf_made" = 1 ]; then
    a2disconf -q -p -f shmcache-pages >/dev/null 2>&1 || true
    rm -f "$pages_conf"
    conf_made=0
  fi
  for m in "${admin_mods[@]}"; do a2dismod -q -p -f "$m" >/dev/null 2>&1 || true; done
  admin_mods=()
  rm -f "$cgi"
  # the marker directories that this lane's a2enmod/a2enconf (admin) made;
  # the package's own (disabled_by_maint) are its postrm's business
  if [ -f "$work/dirs-before" ]; then
    find /var/lib/apache2 -mindepth 2 -maxdepth 2 -type d -name '*_by_admin' -empty | LC_ALL=C sort \
      | comm -23 - "$work/dirs-before" | while IFS= read -r d; do rmdir -- "$d" || true; done
  fi
  return 0
}
cleanup() {
  local rc=$?
  set +e
  stop_httpds
  [ "$seg_made" = 1 ] && rm -rf "$seg_dir"
  installed=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 && installed+=("$p"); done
  if [ ${#installed[@]} -gt 0 ]; then
    apt_get purge "${installed[@]}" >"$work/purge.log" 2>&1 || cat "$work/purge.log"
  fi
  if [ -e /etc/apache2/mods-enabled/shmcache.load ] || [ -L /etc/apache2/mods-enabled/shmcache.load ]; then
    echo "packages: shmcache still enabled after purge (prerm)" >&2
    a2dismod -q -p -f shmcache >/dev/null; rm -f /etc/apache2/mods-enabled/shmcache.load
    rc=1
  fi
  undo_admin
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

step "lintian $(lintian --version | cut -d' ' -f2)"
# root: lintian says it would rather not; the packages are only read
timeout 600 lintian "${debs[@]}" >"$work/lintian.log" 2>&1 || true
grep -v 'running with root privileges' "$work/lintian.log" | tee "$build/lintian.txt" | sed 's/^/  /'
grep -q '^E: ' "$work/lintian.log" && fail "lintian reports errors"
echo "  lintian: $(grep -c '^E: ' "$work/lintian.log") errors, $(grep -c '^W: ' "$work/lintian.log") warnings"

# whatever apt would pull in with the packages is installed first, so the
# listing below compares only what the packages themselves bring
deps=$(apt-get -s install "${debs[@]}" 2>/dev/null | sed -n 's/^Inst \([^ ]*\) .*/\1/p' \
  | grep -vxF -f <(printf '%s\n' "${pkgs[@]}") || true)
if [ -n "$deps" ]; then
  step "dependencies first: $(tr '\n' ' ' <<<"$deps")"
  # shellcheck disable=SC2086
  apt_get install --no-install-recommends $deps >"$work/deps.log" 2>&1 || { cat "$work/deps.log"; fail "dependencies"; }
fi

step "listing of /etc/apache2 /var/lib/apache2 /usr before the install"
listing > "$work/before"
find /var/lib/apache2 -mindepth 1 -type d | LC_ALL=C sort > "$work/dirs-before"
was_enabled=()
for m in cache cache_socache cgid; do
  a2query -q -m "$m" 2>/dev/null && was_enabled+=("$m")
done
echo "  $(wc -l < "$work/before") entries"

step "apt-get install ${debs[*]##*/}"
apt_get install "${debs[@]}" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }
# what the install added to the listing (an artifact: $build/listing-installed.diff)
listing | diff "$work/before" - > "$build/listing-installed.diff" || true
echo "  the listing gained $(grep -c '^> ' "$build/listing-installed.diff") entries, lost $(grep -c '^< ' "$build/listing-installed.diff")"
a2query -q -m shmcache || fail "libapache2-mod-shmcache did not enable the module (postinst)"
[ -e /var/lib/apache2/module/enabled_by_maint/shmcache ] \
  || fail "the module is not recorded as enabled by the package (apache2-maintscript-helper)"

step "library, pkg-config, CMake package"
ldconfig -p | contains "libshmcache.so.0 " \
  || { ldconfig -p | grep shmcache; dpkg -L libshmcache0; fail "ldconfig does not know libshmcache.so.0"; }
env -u PKG_CONFIG_PATH pkg-config --exists shmcache || fail "pkg-config shmcache"
[ "$(env -u PKG_CONFIG_PATH pkg-config --variable=prefix shmcache)" = /usr ] || fail "shmcache.pc: prefix is not /usr"
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
dpkg -L libshmcache-dev | contains '/libshmcache_tier\.a$' || fail "libshmcache-dev without libshmcache_tier.a"
.ci/tier-check.sh || fail "the packaged tier (pkg-config shmcache-tier, shmcache::shmcache_tier)"

step "documents: man pages, copyright, changelog, bash completion"
man -w shmcache >/dev/null && man -w shmcache-cli >/dev/null || fail "man pages"
for f in shmcache_get shmcache_set shmcache_open shmcache_strerror; do
  man -w "$f" | contains /usr/share/man/man3/shmcache.3.gz || fail "man $f does not find shmcache(3)"
done
for p in "${pkgs[@]}"; do
  head -1 "/usr/share/doc/$p/copyright" | contains '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
    || fail "$p: no machine-readable copyright"
  grep -q '^License: Apache-2.0' "/usr/share/doc/$p/copyright" || fail "$p: copyright without Apache-2.0"
  zcat "/usr/share/doc/$p/changelog.gz" | head -1 | contains "^shmcache ($(dpkg-query -W -f='${Version}' "$p"))" \
    || fail "$p: changelog.gz does not start with this version"
done
# bash completion, as bash-completion calls it (COMP_* set; with or
# without the bash-completion package's helpers)
complete_cli() {
  # complete_cli WORD... : the completions of the last word
  bash -c '
    [ -r /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
    . /usr/share/bash-completion/completions/shmcache-cli
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _shmcache_cli shmcache-cli "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' complete "$@" | sort | tr '\n' ' '
}
[ "$(complete_cli shmcache-cli st)" = "stats " ] || fail "completion of 'st': $(complete_cli shmcache-cli st)"
[ "$(complete_cli shmcache-cli --all)" = "--allow-foreign-owner " ] || fail "completion of '--all'"
[ "$(complete_cli shmcache-cli -f /etc/apache2/apache2.co)" = "/etc/apache2/apache2.conf " ] \
  || fail "completion of -f: $(complete_cli shmcache-cli -f /etc/apache2/apache2.co)"
[ "$(complete_cli shmcache-cli -f x stats --j)" = "--json " ] || fail "completion of stats --j"
# every command of `shmcache-cli --help` is completed
cmds=$(/usr/bin/shmcache-cli --help | sed -n '/^commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' | sort | tr '\n' ' ')
[ -n "$cmds" ] && [ "$(complete_cli shmcache-cli '')" = "$cmds" ] \
  || fail "completion of commands: '$(complete_cli shmcache-cli '')' vs --help: '$cmds' (update shmcache-cli/shmcache-cli.bash-completion)"

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

step "admin: a2enmod cache cache_socache cgid, INSTALL.md's shmcache-pages.conf, configtest"
for m in cache cache_socache cgid; do
  [[ " ${was_enabled[*]} " == *" $m "* ]] || admin_mods=("$m" "${admin_mods[@]}")
done
a2enmod -q shmcache cache cache_socache cgid >/dev/null
# the conf file exactly as docs/INSTALL.md gives it
sed -n "/^cat > \/etc\/apache2\/conf-available\/shmcache-pages.conf <<'CONF'$/,/^CONF$/p" docs/INSTALL.md \
  | sed '1d;$d' > "$work/shmcache-pages.conf"
grep -q '^<IfModule shmcache_module>' "$work/shmcache-pages.conf" || fail "no shmcache-pages.conf in docs/INSTALL.md"
[ -e "$pages_conf" ] && fail "$pages_conf exists already"
conf_made=1
cp "$work/shmcache-pages.conf" "$pages_conf"
a2enconf -q shmcache-pages >/dev/null
timeout 60 apache2ctl configtest >"$work/configtest.log" 2>&1 || true
grep -q "Syntax OK" "$work/configtest.log" || { cat "$work/configtest.log"; fail configtest; }

step "the system's configuration (a copy, on a private port) caches a slow CGI in shmcache"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
chmod 755 "$work"
conf=$work/etc-apache2
cp -a /etc/apache2 "$conf"
sys_port=$(port)
printf 'Listen 127.0.0.1:%s\nServerName 127.0.0.1\n' "$sys_port" > "$conf/ports.conf"
rm -f "$conf"/sites-enabled/*
mkdir -p "$work/sys/run/socks" "$work/sys/lock" "$work/sys/log"
chown www-data "$work/sys/run/socks" "$work/sys/lock"
chmod -R go+rX "$work/sys"
cat > "$cgi" <<'CGI'
#!/bin/sh
# a slow backend (installed by .ci/packages.sh, removed after it)
sleep 0.5
body="rendered at $(date +%s%N) by $$"
printf 'Content-Type: text/plain\r\nContent-Length: %d\r\nCache-Control: max-age=60\r\n\r\n%s' "${#body}" "$body"
CGI
chmod 755 "$cgi"
( set +u -a; . /etc/apache2/envvars
  export APACHE_RUN_DIR=$work/sys/run APACHE_PID_FILE=$work/sys/run/apache2.pid
  export APACHE_LOCK_DIR=$work/sys/lock APACHE_LOG_DIR=$work/sys/log
  exec setsid timeout 120 apache2 -d "$conf" -DFOREGROUND ) >"$work/sys/stdout.log" 2>&1 &
httpd_pids+=($!)
sys=http://127.0.0.1:$sys_port
up=0
for _ in $(seq 150); do
  curl -s -o /dev/null "$sys/" && { up=1; break; }
  sleep 0.1
done
[ "$up" = 1 ] || { cat "$work/sys/stdout.log" "$work/sys/log/error.log"; fail "httpd (system configuration) does not answer"; }
c() { curl -s --max-time 10 "$@" || true; }
first=$(c -D "$work/s1" "$sys/cgi-bin/${cgi##*/}")
second=$(c -D "$work/s2" "$sys/cgi-bin/${cgi##*/}")
echo "  1st: $(grep -i '^X-Cache:' "$work/s1" | tr -d '\r') body '$first'"
echo "  2nd: $(grep -i '^X-Cache:' "$work/s2" | tr -d '\r') body '$second'"
[[ "$first" == "rendered at "* ]] && grep -qi '^HTTP/1.1 200' "$work/s1" \
  || { cat "$work/s1" "$work/sys/log/error.log" "$work/sys/stdout.log"; fail "CGI through the system configuration"; }
[ "$first" = "$second" ] && grep -qi '^X-Cache: HIT' "$work/s2" \
  || { cat "$work/s1" "$work/s2" "$work/sys/log/error.log"; fail "the second response is not from the cache"; }
c "$sys/shmcache-status?auto" | contains '^CacheType' || fail "recipe's status page"
timeout 10 /usr/bin/shmcache-cli --allow-foreign-owner -f "$work/sys/run/shmcache-pages.cache" keys \
  | contains "cgi-bin/${cgi##*/}" || fail "the cached page is not in the shmcache segment"
stop_httpds

step "private httpd from examples/httpd.conf with the packaged module"
export SC_ROOT=$work/httpd SC_PORT
SC_PORT=$(port)
mkdir -p "$SC_ROOT/run" "$SC_ROOT/htdocs" "$SC_ROOT/cgi"
chmod 755 "$SC_ROOT"
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
httpd_pids+=($!)
base=http://127.0.0.1:$SC_PORT
up=0
for _ in $(seq 150); do
  curl -s -o /dev/null "$base/" && { up=1; break; }
  sleep 0.1
done
[ "$up" = 1 ] || { cat "$SC_ROOT/stdout.log" "$SC_ROOT/error.log"; fail "httpd (examples/httpd.conf) does not answer"; }
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
stop_httpds
[ "$seg_made" = 1 ] && { rm -rf "$seg_dir"; seg_made=0; }

step "packages"
for f in "${debs[@]}"; do
  printf '  %-45s %8s bytes  Installed-Size %5s KiB  Depends: %s\n' "${f##*/}" \
    "$(stat -c %s "$f")" "$(dpkg-deb -f "$f" Installed-Size)" "$(dpkg-deb -f "$f" Depends)"
done

step "apt-get purge, the module and shmcache-pages.conf still enabled"
apt_get purge "${pkgs[@]}" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "apt-get purge"; }
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 && fail "$p still installed"
done
[ -e /etc/apache2/mods-enabled/shmcache.load ] || [ -L /etc/apache2/mods-enabled/shmcache.load ] \
  && fail "shmcache still enabled after purge"
left=$(find /var/lib/apache2 /etc/apache2 -name 'shmcache*' ! -name 'shmcache-pages*')
[ -z "$left" ] || fail "left after purge: $left"
timeout 60 apache2ctl configtest >"$work/configtest.log" 2>&1 || true
grep -q "Syntax OK" "$work/configtest.log" \
  || { cat "$work/configtest.log"; fail "apache2ctl configtest after purge"; }
echo "  apache2ctl configtest after purge: Syntax OK (shmcache-pages.conf enabled)"

step "the admin's changes undone; listing after the purge"
undo_admin
listing > "$work/after"
cp "$work/before" "$build/listing-before.txt"
cp "$work/after" "$build/listing-after.txt"
if ! diff "$work/before" "$work/after" > "$build/listing-purged.diff"; then
  sed 's/^/  /' "$build/listing-purged.diff"
  fail "the listing after the purge differs from the one before the install"
fi
echo "  $(wc -l < "$work/after") entries, no difference"
step "passed"
