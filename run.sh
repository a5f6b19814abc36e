#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: installs what is missing, builds, and starts a real Apache
# httpd on 127.0.0.1 with mod_shmcache loaded, one cache declared at
# $SHMCACHE_FILE (default /dev/shm/shmcache.default), the status page and
# the key API enabled for local clients. It then stores a value through
# HTTP, reads it back with shmcache-cli attached to the same segment from
# outside httpd, prints the URLs and commands to try, and serves until
# Ctrl-C, when it stops httpd cleanly.
#
#   PORT=8080            port on 127.0.0.1 (the next free one is used if taken)
#   SHMCACHE_FILE=PATH   the cache's segment file
#   RUN_SECONDS=N        stop by itself after N seconds (0 = wait for Ctrl-C)
set -euo pipefail
# job control: httpd gets a process group of its own (prefork and event
# signal their whole group when they stop; that must not be this script)
set -m
cd "$(dirname "$0")"
top=$PWD
port=${PORT:-8080}
cache=${SHMCACHE_FILE:-/dev/shm/shmcache.default}

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cli=$top/build/shmcache-cli/shmcache-cli
module=$top/build/mod_shmcache/mod_shmcache.so
[ -f "$module" ] || { echo "run.sh: the module was not built ($module)" >&2; exit 1; }

# a free port, starting at $port
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

dir=$(mktemp -d /tmp/shmcache-run.XXXXXX)
mods=/usr/lib/apache2/modules
# As root, httpd's children run as www-data: the segment stays root's,
# with group www-data and mode 0660, so the children and root's CLI attach.
owner=""
if [ "$(id -u)" -eq 0 ]; then
  owner="mode=0660 user=root group=www-data"
  user_lines="User www-data
Group www-data"
  chown www-data "$dir"
else
  user_lines=""
fi
cat >"$dir/httpd.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/error.log"
LogLevel warn
$user_lines
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule authz_host_module $mods/mod_authz_host.so
LoadModule shmcache_module $module
ShmcacheCache default $cache size=64M $owner
<Location /shmcache-status>
    SetHandler shmcache-status
    Require local
</Location>
<Location /shmcache-api>
    SetHandler shmcache-api
    Require local
</Location>
CONF

/usr/sbin/apache2 -f "$dir/httpd.conf" -DFOREGROUND &
httpd=$!
stop() {
  trap - INT TERM EXIT
  if kill -0 "$httpd" 2>/dev/null; then
    kill -TERM "$httpd" 2>/dev/null || true
    wait "$httpd" 2>/dev/null || true
  fi
  echo "httpd stopped; the cache stays at $cache (remove it with: $cli -f $cache remove)"
  rm -rf "$dir"
}
trap stop INT TERM EXIT

base=http://127.0.0.1:$port
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$base/shmcache-status?auto" && break
  kill -0 "$httpd" 2>/dev/null || { cat "$dir/error.log" >&2; exit 1; }
  sleep 0.1
done

# the value goes in through HTTP and comes out through the CLI
curl -fs -X PUT --data-binary "hello from httpd" "$base/shmcache-api/greeting" >/dev/null
from_cli=$("$cli" -f "$cache" get greeting)
"$cli" -f "$cache" set from-cli "hello from the CLI" >/dev/null
from_http=$(curl -fs "$base/shmcache-api/from-cli")

cat <<EOF

mod_shmcache is serving on $base (httpd pid $httpd), cache at $cache
  set through HTTP, read by the CLI: "$from_cli"
  set by the CLI, read through HTTP: "$from_http"

Try:
  $base/shmcache-status          status page (also ?auto and ?json)
  curl -X PUT --data-binary VALUE $base/shmcache-api/KEY
  curl $base/shmcache-api/KEY
  $cli -f $cache stats
  $cli -f $cache keys

Ctrl-C stops httpd.
EOF
"$cli" -f "$cache" stats

if [ "${RUN_SECONDS:-0}" -gt 0 ]; then
  sleep "$RUN_SECONDS"
else
  wait "$httpd"
fi
