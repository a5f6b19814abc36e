#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# .ci/windows.sh - the Windows CI lane, run on Debian: cross-build shmcache
# (library, CLI, tests, the Apache module; no benchmarks) with mingw-w64,
# run its test suite under Wine, then mod_shmcache in a real httpd.exe
# under the WinNT MPM (win32/test-httpd.sh). Called by .ci/run; runs on
# its own too:
#
#   .ci/windows.sh
#
# Steps: apt-get update and install what is missing (mingw-w64, wine,
# cmake, ninja, dpkg-dev); enable deb-src entries derived from the
# machine's own Debian apt sources (for apt-get source); build APR,
# APR-util, expat, Check and xxHash from their Debian source packages with
# win32/build-deps.sh, and httpd with PCRE2 with win32/build-httpd.sh, or
# reuse those builds from the cache; cross-build shmcache and mod_shmcache
# with win32/toolchain-mingw64.cmake; zip it with win32/package.sh and run
# the CLI from the unpacked zip; run ctest under Wine in a fresh Wine
# prefix of the lane's own; run win32/test-httpd.sh.
#
# Environment:
#   SHMCACHE_WIN32_CACHE   dependency cache (default ~/.cache/shmcache-win32):
#                          <key>/prefix is what build-deps.sh built; the key
#                          covers the Debian source versions, build-deps.sh,
#                          the toolchain file and the compiler version;
#                          <key>/httpd/<key2>/prefix is build-httpd.sh's
#                          (key2 adds apache2 and pcre2 and that script). A
#                          cached prefix is used only when it still matches
#                          the checksums recorded when it was built. CI may
#                          save and restore this directory between runs.
#   SHMCACHE_WIN32_BUILD   build directory (default build-win32 in the tree); the
#                          Wine prefix and the test segments live under it
#   SHMCACHE_JOBS          parallel build jobs (default 2)
#   SHMCACHE_CTEST_ARGS    extra ctest arguments (e.g. "-R test_lock")
#   SHMCACHE_WIN32_HTTPD   0 skips win32/test-httpd.sh (default 1)
#
# Nothing is skipped silently: test binaries left out under Wine are listed
# in WINE_SKIPS with their reason, and the lane prints every test case the
# sources compile only on Unix (#ifndef _WIN32 and the like). Every command
# that runs Wine is under `timeout` (a Wine process now and then fails to
# exit). Exit status: 0 when the build succeeded and every test that ran
# passed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SHMCACHE_WIN32_CACHE:-$HOME/.cache/shmcache-win32}
BUILD=${SHMCACHE_WIN32_BUILD:-$ROOT/build-win32}
JOBS=${SHMCACHE_JOBS:-2}
TOOLCHAIN=$ROOT/win32/toolchain-mingw64.cmake
T0=$(date +%s)

# Test binaries not run under Wine: "ctest name|reason". (test_httpd and
# test_httpd_api are not built for Windows: they fork and drive apache2ctl;
# win32/test-httpd.sh tests the module in httpd.exe instead.)
WINE_SKIPS=(
  "test_soak|a latency soak (a kill every 1-10 ms, every call under 1 s): under Wine a process start takes about 100 ms and the bounds would measure Wine, not the lock; it runs on Linux in the suite and the sanitizer lane"
)

say() { printf '\n== [windows %4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
die() { printf '== [windows %4ds] FAILED: %s\n' $(($(date +%s) - T0)) "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) for: $*"
    fi
}

# --- 1. tools ---------------------------------------------------------------
PKGS="mingw-w64 wine wine64 cmake ninja-build dpkg-dev ca-certificates"
can_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }
}

install_tools() {
    local p missing=
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing="$missing $p"
    done
    if ! can_root && [ -z "$missing" ]; then
        say "not root and no sudo: apt-get update skipped (every tool is installed)"
        return 0
    fi
    say "apt-get update"
    as_root timeout 300 apt-get update -q >"$BUILD.apt.log" 2>&1 \
        || { tail -20 "$BUILD.apt.log"; die "apt-get update"; }
    if [ -n "$missing" ]; then
        say "apt-get install$missing"
        as_root env DEBIAN_FRONTEND=noninteractive timeout 900 \
            apt-get install -y -q --no-install-recommends $missing >>"$BUILD.apt.log" 2>&1 \
            || { tail -20 "$BUILD.apt.log"; die "apt-get install"; }
    fi
}

# deb-src entries mirroring the machine's Debian "deb" entries: each deb822
# stanza (in *.sources) whose Types has deb and whose URIs name a Debian
# archive is copied with "Types: deb-src"; each one-line "deb ..." entry
# naming one becomes "deb-src ...". Third-party repositories are left out.
enable_deb_src() {
    local f d=/etc/apt/sources.list.d tmp
    if [ -n "$(apt-cache showsrc apr 2>/dev/null | head -1)" ]; then
        return 0
    fi
    say "enabling deb-src entries for apt-get source"
    tmp=$(mktemp -d)
    for f in "$d"/*.sources; do
        [ -f "$f" ] || continue
        case $f in *shmcache-deb-src*) continue ;; esac
        awk 'function flush() {
                 if (n && deb && uri && !off) {
                     for (i = 1; i <= n; i++) print (line[i] ~ /^Types:/ ? "Types: deb-src" : line[i])
                     print ""
                 }
                 n = deb = uri = off = 0
             }
             /^[ \t]*$/ { flush(); next }
             { line[++n] = $0 }
             /^Types:/ && / deb( |$)/ { deb = 1 }
             /^URIs:/ && /debian/ { uri = 1 }
             /^Enabled:[ \t]*no/ { off = 1 }
             END { flush() }' "$f" >>"$tmp/shmcache-deb-src.sources"
    done
    for f in /etc/apt/sources.list "$d"/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*deb[[:space:]]\(.*debian.*\)$/deb-src \1/p' "$f" \
            >>"$tmp/shmcache-deb-src.list"
    done
    for f in "$tmp"/*; do
        if [ -s "$f" ]; then as_root install -m 0644 "$f" "$d/"; fi
    done
    rm -rf "$tmp"
    as_root timeout 300 apt-get update -q >>"$BUILD.apt.log" 2>&1 || die "apt-get update"
    [ -n "$(apt-cache showsrc apr 2>/dev/null | head -1)" ] \
        || die "could not enable deb-src entries (no Debian archive in the apt sources?)"
}

# --- 2. dependencies (cached) ---------------------------------------------
# A cached prefix is trusted only if every file still has the checksum
# recorded when it was built (a run killed half-way, a corrupted restore).
cache_ok() {
    [ -f "$1/complete" ] && [ -f "$1/SHA256SUMS" ] \
        && (cd "$1/prefix" && sha256sum --quiet --strict -c ../SHA256SUMS >/dev/null 2>&1)
}

deps() {
    local key dir
    key=$("$ROOT/win32/build-deps.sh" key)
    dir=$CACHE/$key
    PREFIX=$dir/prefix
    mkdir -p "$CACHE"
    # one lane at a time builds or prunes the cache
    exec 8>"$CACHE/.lock"
    flock -w 1500 8 || die "the dependency cache $CACHE stays locked"
    if cache_ok "$dir"; then
        say "dependencies: cached ($dir: $(tr '\n' ',' <"$PREFIX/VERSIONS" | sed 's/,$//'))"
        flock -u 8
        return 0
    fi
    say "dependencies: building into $dir (key $key), about 3 minutes"
    rm -rf "$dir" "$dir.tmp"
    timeout 1200 "$ROOT/win32/build-deps.sh" build "$dir.tmp/prefix" "$dir.tmp/work" \
        || die "dependency build (logs: $dir.tmp/work/*.log)"
    rm -rf "$dir.tmp/work"
    (cd "$dir.tmp/prefix" && find . -type f -print0 | sort -z \
        | xargs -0 sha256sum >../SHA256SUMS)
    # the prefix path is baked into nothing we use (plain -I/-L), so it
    # survives the rename
    mv "$dir.tmp" "$dir"
    touch "$dir/complete"
    # other keys are dead weight
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
    flock -u 8
}

# httpd and PCRE2 (win32/build-httpd.sh) for the module and its test, in
# <deps key>/httpd/<httpd key>: they depend on that APR, and go with it.
httpd_deps() {
    local key dir
    key=$("$ROOT/win32/build-httpd.sh" key "$PREFIX")
    dir=$CACHE/$(basename "$(dirname "$PREFIX")")/httpd/$key
    HTTPD_PREFIX=$dir/prefix
    exec 8>"$CACHE/.lock"
    flock -w 1500 8 || die "the dependency cache $CACHE stays locked"
    if cache_ok "$dir"; then
        say "httpd: cached ($dir: $(tr '\n' ',' <"$HTTPD_PREFIX/VERSIONS" | sed 's/,$//'))"
        flock -u 8
        return 0
    fi
    say "httpd: building into $dir (key $key), about 3 minutes"
    rm -rf "$dir" "$dir.tmp"
    timeout 1500 "$ROOT/win32/build-httpd.sh" build "$PREFIX" "$dir.tmp/prefix" "$dir.tmp/work" \
        || die "httpd build (logs: $dir.tmp/work/*.log)"
    rm -rf "$dir.tmp/work"
    (cd "$dir.tmp/prefix" && find . -type f -print0 | sort -z \
        | xargs -0 sha256sum >../SHA256SUMS)
    mv "$dir.tmp" "$dir"
    touch "$dir/complete"
    find "$(dirname "$dir")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
    flock -u 8
}

# --- 3. Wine ----------------------------------------------------------------
WINE=/usr/lib/wine/wine64
wine_env() {
    [ -x "$WINE" ] || WINE=$(command -v wine64 || command -v wine) || die "no wine64"
    export WINEDEBUG=-all
    export WINEPREFIX=$BUILD/wineprefix
    export WINEARCH=win64
    export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono/Gecko install prompts
    unset DISPLAY WAYLAND_DISPLAY
    GCCDIR=$(dirname "$(x86_64-w64-mingw32-gcc-posix -print-libgcc-file-name)")
    # where Wine finds the DLLs: the dependencies, the gcc runtime, winpthread
    export WINEPATH="Z:$PREFIX/bin;Z:$GCCDIR;Z:/usr/x86_64-w64-mingw32/lib"
}

# A fresh prefix per run (about 10 s): nothing left over from another run,
# and no other lane's processes in our wineserver.
wine_prefix() {
    say "creating the Wine prefix $WINEPREFIX"
    rm -rf "$WINEPREFIX"
    mkdir -p "$WINEPREFIX"
    timeout 300 "$WINE" wineboot --init >/dev/null 2>&1 || die "wineboot"
    # a crashing test must exit (non-zero), not wait in winedbg
    timeout 60 "$WINE" reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
        /v Auto /t REG_SZ /d 0 /f >/dev/null 2>&1 || true
    timeout 60 "$WINE" reg delete 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
        /v Debugger /f >/dev/null 2>&1 || true
    timeout 60 wineserver -w >/dev/null 2>&1 || true
}

stop_wine() {
    if [ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ]; then
        timeout 30 wineserver -k >/dev/null 2>&1 || true
        rm -rf "$WINEPREFIX"
    fi
    if [ -n "${SEGDIR:-}" ]; then rm -rf "$SEGDIR"; fi
}

# --- 4. build ---------------------------------------------------------------
build() {
    say "configure ($BUILD)"
    mkdir -p "$BUILD"
    timeout 600 cmake -S "$ROOT" -B "$BUILD" -G Ninja \
        -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSHMCACHE_DEPS_PREFIX="$PREFIX" \
        -DSHMCACHE_BUILD_MODULE=ON \
        -DSHMCACHE_HTTPD_PREFIX="$HTTPD_PREFIX" \
        -DSHMCACHE_BUILD_BENCH=OFF \
        -DSHMCACHE_BUILD_TESTS=ON >"$BUILD.configure.log" 2>&1 \
        || { cat "$BUILD.configure.log"; die "configure"; }
    say "build"
    timeout 900 cmake --build "$BUILD" -j "$JOBS" >"$BUILD.build.log" 2>&1 \
        || { grep -E -B2 -A6 'error|FAILED' "$BUILD.build.log" | head -80; die "build"; }
    grep -E 'warning:' "$BUILD.build.log" | sort -u || true
}

# The zip of win32/package.sh must be enough on its own: its CLI runs from
# the unpacked zip with no WINEPATH.
package() {
    local out zip dir ver
    say "package (win32/package.sh)"
    out=$(SHMCACHE_DLL_PATH="$PREFIX/bin:$GCCDIR:/usr/x86_64-w64-mingw32/lib" \
          "$ROOT/win32/package.sh" "$BUILD") || { echo "$out"; die "package.sh"; }
    zip=${out%%$'\n'*}
    echo "$out"
    dir=$(mktemp -d "$BUILD/unzipped.XXXXXX")
    (cd "$dir" && cmake -E tar xf "$zip") || die "cannot unpack $zip"
    ver=$(cd "$dir" && env -u WINEPATH timeout 60 "$WINE" ./*/bin/shmcache-cli.exe --version 2>&1 \
          | tr -d '\r') || { echo "$ver"; die "shmcache-cli.exe from the zip does not run"; }
    rm -rf "$dir"
    echo "from the unpacked zip alone: $ver"
}

# --- 5. test ----------------------------------------------------------------
# Test cases the sources compile only on Unix: TCase additions inside
# #ifndef _WIN32 / #ifdef __linux__ / #ifdef SIGSTOP ... blocks, and tests
# part of whose body is inside one.
list_unix_only() {
    awk 'FNR == 1 { depth = 0; test = "" }
         /^START_TEST\(/ { test = $0; sub(/^START_TEST\(/, "", test); sub(/\).*/, "", test) }
         /^END_TEST/ { test = "" }
         /^[ \t]*#[ \t]*if/ {
             depth++
             cond[depth] = $0
             off[depth] = ($0 ~ /ifndef[ \t]+_WIN32/ || $0 ~ /!defined\(_WIN32\)/ \
                           || $0 ~ /ifdef[ \t]+(__linux__|__unix__|SIG[A-Z]+)/ \
                           || $0 ~ /if[ \t]+defined\(__linux__\)/)
             if (off[depth] && test != "" && !(FILENAME ":" test in seen)) {
                 seen[FILENAME ":" test] = 1
                 c = $0; sub(/^[ \t]*#[ \t]*/, "", c)
                 f = FILENAME; sub(/.*\//, "", f)
                 printf "  %s: %s (part of its body: %s)\n", f, test, c
             }
             next
         }
         /^[ \t]*#[ \t]*else/ { if (depth) off[depth] = !off[depth]; next }
         /^[ \t]*#[ \t]*endif/ { if (depth) depth--; next }
         /tcase_add_(loop_)?test/ {
             for (i = 1; i <= depth; i++) if (off[i]) {
                 t = $0; sub(/.*tcase_add_(loop_)?test[^,]*,[ \t]*/, "", t); sub(/[,)].*/, "", t)
                 c = cond[i]; sub(/^[ \t]*#[ \t]*/, "", c)
                 f = FILENAME; sub(/.*\//, "", f)
                 printf "  %s: %s (%s)\n", f, t, c
                 break
             }
         }' "$ROOT"/tests/test_*.c
}

run_tests() {
    local entry name reason skip excl= all rc=0
    all=$(cd "$BUILD" && timeout 120 ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')
    say "tests under Wine: $(echo $all)"
    echo "Not built for Windows: test_httpd, test_httpd_api (fork, signals, apache2ctl); win32/test-httpd.sh runs after the suite"
    echo "Test cases compiled only on Unix (not run on Windows or Wine):"
    list_unix_only
    for entry in ${WINE_SKIPS[@]+"${WINE_SKIPS[@]}"}; do
        name=${entry%%|*}
        reason=${entry#*|}
        for skip in $(echo "$all" | grep -E "^$name\$" || true); do
            printf 'SKIPPED under Wine: %s: %s\n' "$skip" "$reason"
            excl="${excl:+$excl|}^$skip\$"
        done
    done
    # segments on a memory file system when there is one, like on Linux;
    # absolute paths (Wine derives object names from the path as typed)
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        SEGDIR=$(mktemp -d /dev/shm/shmcache-wine.XXXXXX)
    else
        SEGDIR=$(mktemp -d "$BUILD/segments.XXXXXX")
    fi
    export SHMCACHE_TEST_DIR="Z:$SEGDIR"
    # each binary is bounded by its ctest TIMEOUT (tests/CMakeLists.txt), the
    # whole run by the outer timeout; Wine's CRLF line ends are dropped
    set +e
    (cd "$BUILD" && timeout -k 30 1200 ctest --output-on-failure -j 1 \
        ${excl:+-E "$excl"} ${SHMCACHE_CTEST_ARGS:-}) 2>&1 | tr -d '\r'
    rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}

# mod_shmcache in httpd.exe (WinNT MPM) under Wine: win32/test-httpd.sh.
run_httpd_test() {
    local rc=0
    say "mod_shmcache in httpd.exe under the WinNT MPM (win32/test-httpd.sh)"
    [ -f "$BUILD/mod_shmcache/mod_shmcache.so" ] || die "mod_shmcache.so was not built"
    set +e
    WINE=$WINE timeout -k 30 900 "$ROOT/win32/test-httpd.sh" "$BUILD" "$HTTPD_PREFIX"
    rc=$?
    set -e
    return "$rc"
}

main() {
    mkdir -p "$(dirname "$BUILD")"
    install_tools
    enable_deb_src
    deps
    httpd_deps
    wine_env
    trap stop_wine EXIT
    wine_prefix
    build
    package
    local rc=0
    run_tests || rc=$?
    if [ "${SHMCACHE_WIN32_HTTPD:-1}" != 0 ]; then
        run_httpd_test || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        say "FAILED: a test failed or timed out under Wine (exit $rc)"
        exit 1
    fi
    say "passed"
}

main "$@"
