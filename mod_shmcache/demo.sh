#!/bin/bash
# demo.sh - build mod_shmcache and shmcache-cli, start a real httpd on
# 127.0.0.1 with one cache, the status page and the key API, print what to
# try, and stop cleanly on Ctrl-C (or after $DEMO_SECONDS seconds if set).
#
#   mod_shmcache/demo.sh [PORT]          (default port: 8080)
#
# Needs Debian's apache2 and apache2-dev (apxs), cmake, and the library's
# build dependencies. Everything lives in a temporary directory that is
# removed on exit; the build goes to $BUILD_DIR (default ./build-demo).
set -eu
# job control: httpd gets its own process group (prefork signals its
# whole group when it stops; that must not be this script)
set -m

PORT=${1:-8080}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC/build-demo}
HTTPD=${HTTPD:-$(command -v apache2 || command -v httpd || echo /usr/sbin/apache2)}
MODDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)

echo "== building into $BUILD_DIR"
cmake -S "$SRC" -B "$BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" -j2 --target mod_shmcache shmcache-cli >/dev/null
MODULE=$BUILD_DIR/mod_shmcache/mod_shmcache.so
CLI=$BUILD_DIR/shmcache-cli/shmcache-cli

DIR=$(mktemp -d /tmp/shmcache-demo-XXXXXX)
SEGDIR=/dev/shm
[ -w /dev/shm ] || SEGDIR=$DIR
SEG=$SEGDIR/shmcache-demo-$$.cache
chmod 755 "$DIR"
mkdir -p "$DIR/run" "$DIR/htdocs"
USERCONF=
CLIAS=
if [ "$(id -u)" = 0 ]; then
    USERCONF="User nobody
Group nogroup"
    CLIAS="setpriv --reuid=nobody --regid=nogroup --clear-groups "
fi
cat > "$DIR/httpd.conf" <<EOF
ServerRoot $DIR
DefaultRuntimeDir $DIR/run
PidFile $DIR/run/httpd.pid
ErrorLog $DIR/error.log
LogLevel warn shmcache:info
Listen 127.0.0.1:$PORT
ServerName 127.0.0.1
DocumentRoot $DIR/htdocs
$USERCONF
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_host_module $MODDIR/mod_authz_host.so
LoadModule shmcache_module $MODULE
ShmcacheCache demo $SEG size=16M ttl=1h
<Location /shmcache-status>
    SetHandler shmcache-status
    Require local
</Location>
<Location /kv>
    SetHandler shmcache-api
    ShmcacheAPICache demo
    Require local
</Location>
EOF

PID=
cleanup() {
    trap - INT TERM EXIT
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        echo; echo "== stopping httpd (pid $PID)"
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    "$CLI" -f "$SEG" --allow-foreign-owner remove >/dev/null 2>&1 || rm -f "$SEG"
    rm -rf "$DIR"
}
trap cleanup INT TERM EXIT

"$HTTPD" -t -f "$DIR/httpd.conf"
"$HTTPD" -f "$DIR/httpd.conf" -DFOREGROUND &
PID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/shmcache-status?auto"; do
    i=$((i + 1))
    if [ $i -ge 100 ] || ! kill -0 "$PID" 2>/dev/null; then
        echo "httpd did not start:"; cat "$DIR/error.log"; exit 1
    fi
    sleep 0.1
done

cat <<EOF

== httpd $PID listens on 127.0.0.1:$PORT with mod_shmcache (cache 'demo' at $SEG)

  status:   http://127.0.0.1:$PORT/shmcache-status
            http://127.0.0.1:$PORT/shmcache-status?auto
            http://127.0.0.1:$PORT/shmcache-status?json
  store:    curl -X PUT --data-binary 'hello' 'http://127.0.0.1:$PORT/kv/greeting?ttl=300'
  read:     curl -i http://127.0.0.1:$PORT/kv/greeting
  count:    curl -X POST 'http://127.0.0.1:$PORT/kv/visits?incr&initial=1'
  delete:   curl -X DELETE http://127.0.0.1:$PORT/kv/greeting
  from outside httpd, the same cache:
            $CLIAS$CLI -f $SEG get greeting
            $CLIAS$CLI -f $SEG stats

  error log: $DIR/error.log        Ctrl-C stops httpd and removes everything.
EOF

if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
else
    wait "$PID" || true
fi
