#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# package.sh - zip a Windows build of shmcache: the DLL, its import and
# static libraries, shmcache-cli.exe, every DLL they need that is not part
# of Windows, the public header, and mod_shmcache.so with a sample
# httpd.conf snippet when the build has the module.
#
#   win32/package.sh BUILD_DIR [OUTPUT.zip]
#
# BUILD_DIR is a configured and built Windows build tree (mingw-w64 cross
# build from .ci/windows.sh, or an MSVC build; for a multi-config MSVC
# tree set SHMCACHE_CONFIG, default Release). OUTPUT defaults to
# BUILD_DIR/shmcache-VERSION-win64.zip. Layout of the zip:
#
#   shmcache-VERSION-win64/bin/      shmcache-cli.exe, the shmcache DLL, the
#                                    DLLs they import (APR, APR-util,
#                                    winpthread, ...)
#   shmcache-VERSION-win64/lib/      import library and static library
#   shmcache-VERSION-win64/include/  shmcache.h, shmcache_status.h (need APR 1.7's headers),
#                                    mod_shmcache.h (for other modules)
#   shmcache-VERSION-win64/modules/  mod_shmcache.so and the DLLs it needs
#                                    that httpd does not ship (the mingw
#                                    runtime, for a mingw-w64 build)
#   shmcache-VERSION-win64/conf/     httpd-shmcache.conf, a sample to
#                                    Include from httpd.conf
#   shmcache-VERSION-win64/README.txt
#
# Which DLLs go in: with an objdump for PE files (x86_64-w64-mingw32-objdump
# or objdump), the imports of the binaries, followed recursively and looked
# up in SHMCACHE_DLL_PATH (directories separated by ':'), then beside the
# binaries; a DLL found in none of them is taken to be part of Windows.
# Without objdump (an MSVC build, where vcpkg has copied the DLLs beside
# the executables), every DLL beside shmcache-cli.exe goes in.
# Needs: bash, cmake (it writes the zip: `cmake -E tar --format=zip`).
set -euo pipefail

die() { printf 'package.sh: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 BUILD_DIR [OUTPUT.zip]"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$(cd "$1" && pwd)
CONFIG=${SHMCACHE_CONFIG:-Release}
[ -f "$BUILD/CMakeCache.txt" ] || die "$BUILD is not a CMake build tree"

VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
[ -n "$VERSION" ] || VERSION=$(sed -n 's/^project(shmcache VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
NAME=shmcache-$VERSION-win64
OUT=${2:-$BUILD/$NAME.zip}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

# The first file called one of the names under dir (a multi-config tree
# puts them under CONFIG/).
find_built() {
    local dir=$1 n f
    shift
    for n in "$@"; do
        for f in "$dir/$n" "$dir/$CONFIG/$n"; do
            if [ -f "$f" ]; then echo "$f"; return 0; fi
        done
    done
    return 1
}

CLI=$(find_built "$BUILD/shmcache-cli" shmcache-cli.exe) || die "no shmcache-cli.exe in $BUILD"
DLL=$(find_built "$BUILD/libshmcache" libshmcache.dll shmcache.dll) \
    || die "no shmcache DLL in $BUILD/libshmcache"
IMPLIB=$(find_built "$BUILD/libshmcache" libshmcache.dll.a shmcache.lib) || IMPLIB=
STATIC=$(find_built "$BUILD/libshmcache" libshmcache_static.a shmcache_static.lib) || STATIC=
MODULE=$(find_built "$BUILD/mod_shmcache" mod_shmcache.so) || MODULE=

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/$NAME
mkdir -p "$PKG/bin" "$PKG/lib" "$PKG/include"
cp "$CLI" "$DLL" "$PKG/bin/"
for f in $IMPLIB $STATIC; do cp "$f" "$PKG/lib/"; done
cp "$ROOT/libshmcache/include/shmcache.h" "$ROOT/libshmcache/include/shmcache_status.h" "$PKG/include/"

# The DLL names a PE file imports (none if objdump cannot read it).
OBJDUMP=$(command -v x86_64-w64-mingw32-objdump || command -v objdump || true)
imports() {
    if [ -n "$OBJDUMP" ]; then
        "$OBJDUMP" -p "$1" 2>/dev/null | sed -n 's/^[[:space:]]*DLL Name: //p' | tr -d '\r'
    fi
}
if [ -n "$(imports "$CLI")" ]; then
    IFS=: read -r -a SEARCH <<<"${SHMCACHE_DLL_PATH:-}"
    SEARCH+=("$(dirname "$CLI")" "$(dirname "$DLL")")
    # case-insensitive lookup of a DLL name in the search path
    locate_dll() {
        local d f
        for d in "${SEARCH[@]}"; do
            [ -n "$d" ] && [ -d "$d" ] || continue
            f=$(find "$d" -maxdepth 1 -type f -iname "$1" -print -quit)
            if [ -n "$f" ]; then echo "$f"; return 0; fi
        done
        return 1
    }
    queue=("$PKG/bin/$(basename "$CLI")" "$PKG/bin/$(basename "$DLL")")
    while [ ${#queue[@]} -gt 0 ]; do
        bin=${queue[0]}
        queue=("${queue[@]:1}")
        for dll in $(imports "$bin"); do
            if [ -n "$(find "$PKG/bin" -maxdepth 1 -iname "$dll" -print -quit)" ]; then
                continue
            fi
            if src=$(locate_dll "$dll"); then
                cp "$src" "$PKG/bin/"
                queue+=("$PKG/bin/$(basename "$src")")
            fi
        done
    done
else
    for f in "$(dirname "$CLI")"/*.dll; do
        [ -f "$f" ] && cp -n "$f" "$PKG/bin/"
    done
fi

# The module, beside the DLLs it imports that httpd does not ship (httpd
# loads a module with LOAD_WITH_ALTERED_SEARCH_PATH: the module's own
# directory is searched for them); libhttpd, APR and APR-util are httpd's.
if [ -n "$MODULE" ]; then
    mkdir -p "$PKG/modules" "$PKG/conf"
    cp "$MODULE" "$PKG/modules/"
    cp "$ROOT/mod_shmcache/mod_shmcache.h" "$PKG/include/"
    cp "$HERE/httpd-shmcache.conf" "$PKG/conf/"
    for dll in $(imports "$MODULE"); do
        case $(echo "$dll" | tr 'A-Z' 'a-z') in
            libhttpd.dll|libapr-1.dll|libaprutil-1.dll) continue ;;
        esac
        if [ -n "$(find "$PKG/bin" -maxdepth 1 -iname "$dll" -print -quit)" ]; then
            cp "$(find "$PKG/bin" -maxdepth 1 -iname "$dll" -print -quit)" "$PKG/modules/"
        elif src=$(locate_dll "$dll" 2>/dev/null); then
            cp "$src" "$PKG/modules/"
        fi
    done
fi

cat >"$PKG/README.txt" <<EOF
shmcache $VERSION for 64-bit Windows

bin\\shmcache-cli.exe     the admin tool: shmcache-cli -f PATH COMMAND ...
bin\\*.dll                the shmcache library and the DLLs it needs
lib\\                     import library: to use the DLL, compile with
                         SHMCACHE_SHARED defined and link it; static
                         library: compile without SHMCACHE_SHARED, link it
                         and APR
include\\shmcache.h       the API (it includes APR 1.7 headers)
modules\\mod_shmcache.so the Apache httpd 2.4 module (when built): copy it
                         and the DLLs beside it to httpd's modules\\ folder
conf\\httpd-shmcache.conf a sample configuration: Include it from
                         httpd.conf after editing the paths

A cache is named by a file path (for example C:\\ProgramData\\app\\cache.shm);
every process that can open the file can attach to it. See the project's
README.md and win32/README.md for the Windows notes.
EOF

rm -f "$OUT"
(cd "$STAGE" && cmake -E tar cf "$OUT" --format=zip "$NAME")
echo "$OUT"
(cd "$STAGE" && find "$NAME" -type f | sort)
