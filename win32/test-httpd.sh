#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test-httpd.sh - mod_shmcache in a real httpd.exe under the WinNT MPM,
# run under Wine from Linux (.ci/windows.sh calls it after the test suite).
# tests/test_httpd.c and test_httpd_api.c cannot port (fork, signals,
# apache2ctl); this drives the Windows binaries from outside instead:
# httpd.exe and shmcache-cli.exe run under Wine, HTTP requests come from
# curl on the Linux side (Wine processes listen on the host's loopback).
#
#   win32/test-httpd.sh BUILD HTTPD_PREFIX
#
# BUILD is the cross build (mod_shmcache/mod_shmcache.so,
# shmcache-cli/shmcache-cli.exe); HTTPD_PREFIX is win32/build-httpd.sh's.
# The caller sets WINE, WINEPREFIX and WINEPATH (APR's DLLs and the gcc
# runtime); HTTPD_PREFIX/bin is added here. SHMCACHE_HTTPD_KEEP=1 keeps
# the test directory.
#
# What is checked, in one httpd run (a generated httpd.conf on 127.0.0.1):
#   1. the status page and ?json (valid JSON, the caches listed);
#   2. the key API with 32 concurrent clients (PUT, GET, DELETE, POST
#      ?incr on one shared counter: no lost update), all served by the one
#      child process, not the parent;
#   3. shmcache-cli.exe, a separate process, reads what httpd wrote, and
#      httpd serves what the CLI wrote; check is clean;
#   4. the segment's DACL: protected, httpd's account and Administrators
#      only (Wine does not store file DACLs: there, only that the module
#      set it without an error);
#   5. a graceful restart (the apPID_restart event): a new child process,
#      the contents kept;
#   6. the child killed (taskkill /F): the parent starts a new child, which
#      reuses the segment; check is clean, the contents kept;
#   7. mod_cache_socache over shmcache: (a second request is a HIT, also
#      for an object of 300 KB) and mod_authn_socache over a declared
#      cache (the second login is served from it);
#   8. a clean shutdown (the apPID_shutdown event).
# mod_ssl is not built (OpenSSL would be one more cross build).
set -uo pipefail

BUILD=${1:?usage: $0 BUILD HTTPD_PREFIX}
HPREFIX=${2:?usage: $0 BUILD HTTPD_PREFIX}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WINE=${WINE:-/usr/lib/wine/wine64}
export WINEPATH="Z:$HPREFIX/bin;${WINEPATH:-}"
MOD=$BUILD/mod_shmcache/mod_shmcache.so
CLI=$BUILD/shmcache-cli/shmcache-cli.exe
T=$BUILD/httpd-test
FAILS=0
T0=$(date +%s)
HTTPD_JOB=

say() { printf '[httpd-wine %4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
ok() { say "ok: $*"; }
bad() { say "FAIL: $*"; FAILS=$((FAILS + 1)); }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# Run a Windows program under Wine, bounded; CRs dropped.
wrun() {
    local secs=$1
    shift
    timeout -k 10 "$secs" "$WINE" "$@" 2>&1 | tr -d '\r'
    return "${PIPESTATUS[0]}"
}
cli() { wrun 60 "$CLI" -f "Z:$SEG/main.cache" "$@"; }
winctl() { wrun 30 "$T/sc-winctl.exe" "$@"; }

url() { printf 'http://127.0.0.1:%s%s' "$PORT" "$1"; }
# curl with a bound; prints the body
get() { curl -sS -m 30 "$@"; }
code() { curl -s -o /dev/null -m 30 -w '%{http_code}' "$@"; }

# --- setup -------------------------------------------------------------------
free_port() {
    local p
    for p in $(shuf -i 20000-45000 -n 50); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

write_conf() {
    local m
    {
        echo "ServerRoot \"Z:$HPREFIX\""
        echo "Listen 127.0.0.1:$PORT"
        echo "ServerName 127.0.0.1"
        echo "PidFile \"Z:$T/httpd.pid\""
        echo "ErrorLog \"Z:$T/error.log\""
        echo "LogLevel info shmcache:debug"
        echo "ThreadsPerChild 48"
        echo "MaxConnectionsPerChild 0"
        echo "AcceptFilter http none"
        echo "EnableSendfile off"
        echo "EnableMMAP off"
        for m in authz_core authz_host authn_core auth_basic authn_file authz_user \
                 authn_socache cache cache_socache mime status; do
            echo "LoadModule ${m}_module modules/mod_$m.so"
        done
        echo "LoadModule shmcache_module \"Z:$MOD\""
        echo "TypesConfig conf/mime.types"
        echo "DocumentRoot \"Z:$T/htdocs\""
        echo "<Directory \"Z:$T/htdocs\">"
        echo "  Require all granted"
        echo "</Directory>"
        echo "ShmcacheCache main \"Z:$SEG/main.cache\" size=4M"
        echo "<Location /kv>"
        echo "  SetHandler shmcache-api"
        echo "  ShmcacheAPICache main"
        echo "</Location>"
        echo "<Location /status>"
        echo "  SetHandler shmcache-status"
        echo "</Location>"
        echo "CacheEnable socache /static/"
        echo "CacheSocache \"shmcache:Z:$SEG/http.cache(4M)\""
        echo "CacheSocacheMaxSize 1000000"
        echo "CacheHeader on"
        echo "ShmcacheCache logins \"Z:$SEG/logins.cache\" size=1M"
        echo "AuthnCacheSOCache shmcache:logins"
        echo "<Location /private>"
        echo "  AuthType Basic"
        echo "  AuthName shmcache"
        echo "  AuthBasicProvider socache file"
        echo "  AuthUserFile \"Z:$T/htpasswd\""
        echo "  AuthnCacheProvideFor file"
        echo "  Require valid-user"
        echo "  SetHandler shmcache-status"
        echo "</Location>"
    } >"$T/httpd.conf"
}

setup() {
    rm -rf "$T"
    mkdir -p "$T/htdocs/static"
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        SEG=$(mktemp -d /dev/shm/shmcache-httpd.XXXXXX)
    else
        SEG=$(mktemp -d "$T/seg.XXXXXX")
    fi
    PORT=$(free_port) || { bad "no free port"; exit 1; }
    [ -f "$MOD" ] || { bad "no $MOD (module not built)"; exit 1; }
    x86_64-w64-mingw32-gcc-posix -O2 -Wall -o "$T/sc-winctl.exe" \
        "$ROOT/win32/sc-winctl.c" -ladvapi32 || { bad "cannot build sc-winctl"; exit 1; }
    head -c 300000 /dev/urandom | base64 -w 100 >"$T/htdocs/static/big.txt"
    echo "small static page" >"$T/htdocs/static/small.txt"
    # {SHA} works on every platform (apr_password_validate)
    printf 'user:{SHA}%s\n' "$(printf secret | openssl sha1 -binary | base64)" >"$T/htpasswd"
    write_conf
}

# --- httpd -------------------------------------------------------------------
start_httpd() {
    (cd "$T" && exec timeout -k 10 900 "$WINE" "$HPREFIX/bin/httpd.exe" \
        -f "Z:$T/httpd.conf" >"$T/console.log" 2>&1) &
    HTTPD_JOB=$!
    wait_up 180
}

# Wait until httpd answers on the port and its pid file names a parent
# with a child. Sets PARENT and CHILD (Windows pids).
wait_up() {
    local end=$(($(date +%s) + $1))
    PARENT= CHILD=
    while [ "$(date +%s)" -lt "$end" ]; do
        if [ -n "$HTTPD_JOB" ] && ! kill -0 "$HTTPD_JOB" 2>/dev/null; then
            return 1
        fi
        if [ -s "$T/httpd.pid" ] && [ "$(code "$(url /status)")" = 200 ]; then
            PARENT=$(tr -dc '0-9' <"$T/httpd.pid")
            CHILD=$(winctl children "$PARENT" | head -1)
            [ -n "$CHILD" ] && return 0
        fi
        sleep 1
    done
    return 1
}

# Wait for a child of PARENT other than $1 that serves requests.
wait_new_child() {
    local old=$1 end=$(($(date +%s) + $2)) c
    while [ "$(date +%s)" -lt "$end" ]; do
        c=$(winctl children "$PARENT" | grep -vx "$old" | head -1)
        if [ -n "$c" ] && [ "$(curl -s -m 10 -D - -o /dev/null "$(url /kv/k1)" \
                | tr -d '\r' | sed -n 's/^X-Shmcache-Pid: //ip')" = "$c" ]; then
            CHILD=$c
            return 0
        fi
        sleep 1
    done
    return 1
}

stop_httpd() {
    [ -n "$HTTPD_JOB" ] || return 0
    if [ -n "${PARENT:-}" ]; then
        winctl signal "$PARENT" shutdown >/dev/null
    fi
    for _ in $(seq 60); do
        kill -0 "$HTTPD_JOB" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$HTTPD_JOB" 2>/dev/null; then
        bad "httpd did not stop within 60 s of its shutdown event"
        kill "$HTTPD_JOB" 2>/dev/null
    fi
    wait "$HTTPD_JOB" 2>/dev/null
    HTTPD_JOB=
}

cleanup() {
    stop_httpd
    if [ "$FAILS" -ne 0 ] && [ -f "$T/error.log" ]; then
        say "error.log (last 60 lines):"
        tail -60 "$T/error.log" | tr -d '\r'
    fi
    rm -rf "${SEG:-/nonexistent-shmcache}"
    [ "${SHMCACHE_HTTPD_KEEP:-}" = 1 ] || [ "$FAILS" -ne 0 ] || rm -rf "$T"
}

# --- checks ------------------------------------------------------------------
# The file is one JSON document that names cache 'main'.
json_ok() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "main" in json.dumps(d) else 1)' "$1"
}
not() { ! "$@"; }
quiet() { "$@" >/dev/null 2>&1; }

check_status() {
    get "$(url /status)" >"$T/status.html"
    check "status page lists cache 'main'" grep -q main "$T/status.html"
    get "$(url '/status?json')" >"$T/status.json"
    check "status ?json is valid JSON naming 'main'" json_ok "$T/status.json"
}

# 32 clients at once: each PUTs its key, reads it back, bumps a shared
# counter 10 times and deletes every other key.
client() {
    local i=$1 n
    [ "$(code -X PUT --data-binary "value-$i" "$(url "/kv/k$i")")" = 204 ] || return 1
    [ "$(get "$(url "/kv/k$i")")" = "value-$i" ] || return 2
    for n in $(seq 10); do
        code -X POST "$(url '/kv/counter?incr&initial=1')" | grep -qx 200 || return 3
    done
    if [ $((i % 2)) -eq 0 ]; then
        [ "$(code -X DELETE "$(url "/kv/k$i")")" = 204 ] || return 4
        [ "$(code "$(url "/kv/k$i")")" = 404 ] || return 5
    fi
    curl -s -m 30 -D - -o /dev/null "$(url "/kv/k1")" | tr -d '\r' \
        | sed -n 's/^X-Shmcache-Pid: //ip' >"$T/pid.$i"
}

check_api() {
    local i pids rc=0 pidset n
    # k1 first: the counter starts from a known state
    code -X DELETE "$(url /kv/counter)" >/dev/null
    pids=()
    for i in $(seq 32); do
        client "$i" >"$T/client.$i.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { rc=$?; say "client $((i + 1)) failed at step $rc"; }
    done
    check "32 concurrent clients: PUT, GET, POST ?incr, DELETE" test "$rc" -eq 0
    n=$(get "$(url /kv/counter)")
    check "no lost increment: counter is 320 ($n)" test "$n" = 320
    pidset=$(cat "$T"/pid.* 2>/dev/null | sort -u | tr '\n' ' ')
    check "every request served by the one child ($CHILD), not the parent ($PARENT): $pidset" \
        test "$pidset" = "$CHILD "
}

check_cli() {
    local out
    out=$(cli get k1)
    check "shmcache-cli.exe reads what httpd wrote (k1 -> '$out')" test "$out" = value-1
    check "shmcache-cli.exe set" quiet cli set from-cli written-by-cli
    check "httpd serves what the CLI wrote" \
        test "$(get "$(url /kv/from-cli)")" = written-by-cli
    out=$(cli check)
    check "shmcache-cli.exe check is clean ($(echo "$out" | head -1))" quiet cli check
    cli stats >"$T/stats.txt" 2>&1
}

# Wine 8 accepts SetSecurityInfo on a file and reports success, but keeps
# nothing (no user.wine.sd attribute is written) and reads back a DACL made
# up from the Unix mode. There, what can be checked is that the module set
# the DACL without an error for every cache; the DACL itself needs a real
# Windows machine (the Unix mode Wine gives the file is its own affair).
check_dacl() {
    local out dacl self attrs
    out=$(winctl dacl "Z:$SEG/main.cache")
    dacl=$(echo "$out" | sed -n 's/^dacl //p')
    self=$(echo "$out" | sed -n 's/^self //p')
    attrs=$(python3 -c 'import os,sys; print(" ".join(os.listxattr(sys.argv[1])))' "$SEG/main.cache" 2>/dev/null)
    say "segment DACL as read back: $dacl (httpd's account: $self)"
    if [[ $dacl != D:P* ]] && [[ $attrs != *wine.sd* ]] && "$WINE" --version 2>/dev/null | grep -q '^wine-'; then
        say "note: Wine kept no DACL (no user.wine.sd); checking the module's part only"
        check "the module set the DACL of every cache without an error" \
            test "$(grep -c 'SC00905' "$T/error.log")" -ge 3 -a "$(grep -c 'SC0090[234]' "$T/error.log")" -eq 0
        return 0
    fi
    check "DACL is protected (no inherited entries)" \
        bash -c "[[ '$dacl' == D:P* ]]"
    check "DACL grants Administrators (BA) and httpd's account" \
        bash -c "[[ '$dacl' == *';;;BA)'* && '$dacl' == *';;;$self)'* ]]"
    check "DACL has exactly these two entries" \
        test "$(echo "$dacl" | grep -o '(A;' | wc -l)" -eq 2
}

check_restart() {
    local old=$CHILD
    winctl signal "$PARENT" restart >/dev/null
    check "graceful restart: a new child process replaces $old" wait_new_child "$old" 180
    check "graceful restart keeps the contents (k1)" \
        test "$(get "$(url /kv/k1)")" = value-1
    check "graceful restart keeps what the CLI wrote" \
        test "$(get "$(url /kv/from-cli)")" = written-by-cli
}

check_kill() {
    local old=$CHILD
    wrun 30 taskkill /F /PID "$old" >/dev/null
    check "child $old killed (taskkill /F) is replaced" wait_new_child "$old" 180
    check "the new child reuses the segment (k1 kept)" \
        test "$(get "$(url /kv/k1)")" = value-1
    check "check is clean after the kill" quiet cli check
    check "the killed child is gone" not winctl alive "$old"
}

check_socache() {
    local f h1 h2
    for f in small.txt big.txt; do
        h1=$(curl -s -m 30 -D - -o "$T/body1" "$(url "/static/$f")" | tr -d '\r' | sed -n 's/^X-Cache: //ip')
        h2=$(curl -s -m 30 -D - -o "$T/body2" "$(url "/static/$f")" | tr -d '\r' | sed -n 's/^X-Cache: //ip')
        check "mod_cache_socache over shmcache: second /static/$f is a HIT (first '$h1', second '$h2')" \
            bash -c "[[ '$h2' == HIT* ]] && cmp -s '$T/body1' '$T/body2' && cmp -s '$T/body1' '$T/htdocs/static/$f'"
    done
    check "status shows the socache instance's hits" \
        bash -c "curl -sS -m 30 '$(url '/status?auto')' | grep -A40 'socache:cache-socache' | grep -Eq 'CacheRetrieveHitCount: [1-9]'"
    for f in 1 2; do
        check "login $f with mod_authn_socache" \
            test "$(code -u user:secret "$(url /private)")" = 200
    done
    check "a wrong password is refused" test "$(code -u user:nope "$(url /private)")" = 401
    check "mod_authn_socache stored in and hit shmcache:logins" \
        bash -c "s=\$(curl -sS -m 30 '$(url '/status?auto')'); echo \"\$s\" | grep -A40 '^Cache: logins\|logins' | grep -Eq 'CacheStoreCount: [1-9]' && echo \"\$s\" | grep -A40 'logins' | grep -Eq 'CacheRetrieveHitCount: [1-9]'"
}

main() {
    trap cleanup EXIT
    setup
    say "httpd.exe (WinNT MPM) on 127.0.0.1:$PORT, segments in $SEG"
    local t=$(date +%s)
    if ! start_httpd; then
        bad "httpd.exe did not start (console: $(tail -5 "$T/console.log" | tr -d '\r' | tr '\n' ' '))"
        exit 1
    fi
    ok "httpd.exe started in $(($(date +%s) - t)) s: parent $PARENT, child $CHILD"
    check_status
    check_api
    check_cli
    check_dacl
    check_restart
    check_kill
    check_socache
    stop_httpd
    check "httpd.exe stopped on its shutdown event" test -z "$HTTPD_JOB"
    if grep -q 'SC00[0-9]*.*\(error\|crit\)' "$T/error.log" 2>/dev/null; then
        say "mod_shmcache errors in error.log:"
        grep 'SC00' "$T/error.log" | grep -i 'error\|crit' | tr -d '\r' | head
    fi
    if [ "$FAILS" -ne 0 ]; then
        say "$FAILS check(s) failed"
        exit 1
    fi
    say "all checks passed"
}

main "$@"
