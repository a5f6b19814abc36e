#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# build-deps.sh - build shmcache's Windows dependencies with mingw-w64 from
# Debian source packages, into one prefix.
#
#   win32/build-deps.sh key               print the cache key (see below)
#   win32/build-deps.sh build PREFIX WORK build into PREFIX, using WORK for
#                                         sources and build trees
#
# Needs: deb-src entries in the apt sources (apt-get source), dpkg-dev,
# cmake, ninja or make, mingw-w64 and wine (APR runs a generator program at
# build time; it runs under Wine via the toolchain file's emulator).
#
# What lands in PREFIX:
#   bin/libapr-1.dll bin/libaprutil-1.dll     APR 1.7 and APR-util 1.6 (DLLs,
#   lib/libapr-1.dll.a lib/libaprutil-1.dll.a  named as the MSVC builds name
#   include/apr*.h include/apu*.h              them)
#   include/arch/...                          APR's private headers that
#                                             httpd's Windows sources use
#   lib/libexpat.a                            expat, static, inside aprutil
#   lib/libcheck.a include/check*.h            Check, static
#   include/xxhash.h include/xxh3.h            xxHash, header-only
#   VERSIONS                                  what was built from what
#
# The patches below are mingw-only build fixes for these exact upstream
# versions (each fails loudly when its text is not found, so a new upstream
# version is noticed rather than half-patched):
#   APR 1.7.2
#   - run gen_test_char by target name, so CMake wraps it in the emulator;
#   - COM_NO_WINDOWS_H instead of MSVC's __wtypes_h__ trick around
#     <accctrl.h>/<aclapi.h> (mingw's wtypes.h pulls in OLE headers that
#     APR's NOUSER breaks);
#   - NET_IFINDEX/IF_NAMESIZE from <ifdef.h> (iphlpapi.h has the same OLE
#     problem), and include the late-loaded if_* declarations on mingw;
#   - leave out the .rc version resources (windres rejects their token
#     pasting);
#   - apr_atomic_init: mingw's headers make apr_arch_atomic.h select the
#     generic 64-bit atomics, which the Windows build does not compile;
#   - "ShellAPI.h" in lower case (case-sensitive file system);
#   - apr.h: APR_HAVE_STRCASECMP/STRNCASECMP on mingw, whose <string.h>
#     has them (else apr_general.h redefines them: a warning per file);
#   - apr_strtoi64 through _strtoi64 on mingw as on MSVC: the generic
#     fallback's overflow check relies on signed overflow, which gcc
#     optimises away (no ERANGE for "9223372036854775808");
#   - DLL and import library named libapr-1.dll / libapr-1.dll.a (CMake's
#     mingw rules would add another "lib"), static variants not built.
#   APR-util 1.6.3: the .rc exclusion and the DLL naming; expat static;
#     ODBC, LDAP and crypto off.
#   expat 2.5.0: XML_DTD defined as 1 (Debian's security patches test
#     "#if XML_DTD == 1"; the newest Debian revision may be missing from a
#     snapshot archive, so fetch falls back to older revisions).
#   Check 0.15.2, xxHash 0.8.1: no changes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLCHAIN=$HERE/toolchain-mingw64.cmake
JOBS=${SHMCACHE_JOBS:-2}
PACKAGES="apr apr-util expat check xxhash"

log() { printf '[build-deps] %s\n' "$*" >&2; }
die() { printf '[build-deps] error: %s\n' "$*" >&2; exit 1; }

# The source versions apt-get source would consider, newest first.
candidate_versions() {
    apt-cache showsrc --only-source "$1" 2>/dev/null \
        | sed -n 's/^Version: //p' | sort -u -r -V
}

# The cache key: source versions on offer, this script, the toolchain file
# and the compiler. Any change rebuilds.
cmd_key() {
    local p
    {
        for p in $PACKAGES; do
            printf '%s %s\n' "$p" "$(candidate_versions "$p" | tr '\n' ' ')"
        done
        sha256sum "$HERE/build-deps.sh" "$TOOLCHAIN" | cut -d' ' -f1
        x86_64-w64-mingw32-gcc-posix -dumpfullversion 2>/dev/null || true
    } | sha256sum | cut -c1-16
}

# Fetch and unpack package $1 into $SRC, trying its versions newest first:
# on a snapshot archive the newest .dsc listed may be missing (expat's
# security update is), and then an older one is used. Prints the directory.
fetch() {
    local pkg=$1 v dir
    for v in $(candidate_versions "$pkg"); do
        rm -rf "$SRC/dl-$pkg" && mkdir -p "$SRC/dl-$pkg"
        if (cd "$SRC/dl-$pkg" &&
            timeout 300 apt-get source -qq --download-only "$pkg=$v" >/dev/null 2>&1); then
            (cd "$SRC/dl-$pkg" && timeout 300 dpkg-source -q --no-check -x ./*.dsc src >/dev/null) \
                || die "cannot unpack $pkg $v"
            echo "$pkg $v" >>"$SRC/VERSIONS"
            log "$pkg $v"
            echo "$SRC/dl-$pkg/src"
            return 0
        fi
        log "$pkg $v: not downloadable, trying an older version"
    done
    die "no source package for $pkg (are deb-src entries enabled?)"
}

# Replace literal-free sed expression in a file, failing when it matches
# nothing. usage: patch_sed FILE MATCH-REGEX SED-EXPR
patch_sed() {
    grep -q -e "$2" "$1" || die "patch target not found in $1: $2"
    sed -i -e "$3" "$1"
}

cmake_cross() {
    local src=$1 bld=$2
    shift 2
    timeout 600 cmake -S "$src" -B "$bld" -G "$GENERATOR" \
        -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$PREFIX" \
        -DSHMCACHE_DEPS_PREFIX="$PREFIX" \
        "$@" >"$bld.configure.log" 2>&1 \
        || { tail -40 "$bld.configure.log" >&2; die "configure failed: $src"; }
}

build_install() {
    local bld=$1
    timeout 900 cmake --build "$bld" -j "$JOBS" >"$bld.build.log" 2>&1 \
        || { grep -E -A3 'error|FAILED' "$bld.build.log" | head -60 >&2; die "build failed: $bld"; }
    timeout 300 cmake --install "$bld" >"$bld.install.log" 2>&1 \
        || { tail -20 "$bld.install.log" >&2; die "install failed: $bld"; }
}

build_apr() {
    local s
    s=$(fetch apr)
    patch_sed "$s/CMakeLists.txt" 'COMMAND $<TARGET_FILE:gen_test_char> >' \
        's|COMMAND $<TARGET_FILE:gen_test_char> >|COMMAND gen_test_char >|'
    patch_sed "$s/CMakeLists.txt" ' libapr.rc)$' 's| libapr.rc)$|)|'
    # static and app libraries: not needed, not built, not installed
    patch_sed "$s/CMakeLists.txt" '^ADD_LIBRARY(apr-1 STATIC ' \
        's|^ADD_LIBRARY(\(apr-1\|libaprapp-1\|aprapp-1\) STATIC |ADD_LIBRARY(\1 STATIC EXCLUDE_FROM_ALL |'
    patch_sed "$s/CMakeLists.txt" '^SET(install_targets ${install_targets} apr-1)$' \
        '/^SET(install_targets ${install_targets} \(apr-1\|libaprapp-1\|aprapp-1\))$/d'
    echo 'SET_TARGET_PROPERTIES(libapr-1 PROPERTIES PREFIX "" IMPORT_PREFIX "")' >>"$s/CMakeLists.txt"
    patch_sed "$s/include/arch/win32/apr_private.h" '^#define __wtypes_h__$' \
        's|^#define __wtypes_h__$|#define COM_NO_WINDOWS_H|; s|^#undef __wtypes_h__$|#undef COM_NO_WINDOWS_H|'
    patch_sed "$s/file_io/win32/filestat.c" '^#include <aclapi.h>$' \
        's|^#include <aclapi.h>$|#define COM_NO_WINDOWS_H\n#include <aclapi.h>\n#undef COM_NO_WINDOWS_H|'
    patch_sed "$s/include/arch/win32/apr_arch_misc.h" '^struct apr_other_child_rec_t {$' \
        '/^struct apr_other_child_rec_t {$/i /* mingw-w64: iphlpapi.h drags in OLE headers that NOUSER breaks;\n * take only what the late-loaded if_nametoindex/if_indextoname need. */\n#if defined(HAVE_IF_INDEXTONAME) \&\& defined(__MINGW32__)\n#include <ifdef.h>\n#ifndef IF_NAMESIZE\n#define IF_NAMESIZE IF_MAX_STRING_SIZE\n#endif\n#ifndef NETIOAPI_API_\n#define NETIOAPI_API_ WINAPI\n#endif\n#endif\n'
    patch_sed "$s/network_io/unix/sockaddr.c" '^#if defined(HAVE_IF_INDEXTONAME) && defined(_MSC_VER)$' \
        's|^#if defined(HAVE_IF_INDEXTONAME) \&\& defined(_MSC_VER)$|#if defined(HAVE_IF_INDEXTONAME) \&\& (defined(_MSC_VER) \|\| defined(__MINGW32__))|'
    patch_sed "$s/atomic/win32/apr_atomic.c" '^#if defined (NEED_ATOMICS_GENERIC64)$' \
        's|^#if defined (NEED_ATOMICS_GENERIC64)$|#if defined (NEED_ATOMICS_GENERIC64) \&\& !defined(__MINGW32__)|'
    patch_sed "$s/misc/win32/apr_app.c" '"ShellAPI.h"' 's|"ShellAPI.h"|"shellapi.h"|'
    # apr_strtoi64/apr_strtoff: use _strtoi64 on mingw as on MSVC; APR's
    # generic fallback detects overflow through signed overflow, which gcc
    # optimises away (apr_strtoi64("9223372036854775808") returned 0, no ERANGE)
    patch_sed "$s/include/arch/win32/apr_private.h" '^#if _MSC_VER >= 1300 && _INTEGRAL_MAX_BITS >= 64 && !defined(_WIN32_WCE)$' \
        's|^#if _MSC_VER >= 1300 \&\& _INTEGRAL_MAX_BITS >= 64 \&\& !defined(_WIN32_WCE)$|#if (_MSC_VER >= 1300 \&\& _INTEGRAL_MAX_BITS >= 64 \&\& !defined(_WIN32_WCE)) \|\| defined(__MINGW32__)|'
    # mingw's <string.h> has strcasecmp/strncasecmp (as macros): without
    # this, apr_general.h redefines them and every file including APR warns
    patch_sed "$s/include/apr.hwc" '^#define APR_HAVE_STRCASECMP     0$' \
        's|^#define APR_HAVE_STR\(N\?\)CASECMP \( *\)0$|#ifdef __MINGW32__\n#define APR_HAVE_STR\1CASECMP \21\n#else\n#define APR_HAVE_STR\1CASECMP \20\n#endif|'
    cmake_cross "$s" "$WORK/b-apr" -DINSTALL_PDB=OFF -DAPR_INSTALL_PRIVATE_H=ON
    build_install "$WORK/b-apr"
}

build_expat() {
    local s
    s=$(fetch expat)
    # Debian's CVE-2024-8176 backport tests "#if XML_DTD == 1", as the
    # autotools build defines it; the CMake build defines it empty
    patch_sed "$s/expat/expat_config.h.cmake" '^#cmakedefine XML_DTD$' \
        's|^#cmakedefine XML_DTD$|#cmakedefine XML_DTD 1|'
    cmake_cross "$s/expat" "$WORK/b-expat" -DEXPAT_SHARED_LIBS=OFF \
        -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF -DEXPAT_BUILD_TESTS=OFF \
        -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_PKGCONFIG=OFF
    build_install "$WORK/b-expat"
}

build_aprutil() {
    local s
    s=$(fetch apr-util)
    patch_sed "$s/CMakeLists.txt" ' libaprutil.rc)$' 's| libaprutil.rc)$|)|'
    patch_sed "$s/CMakeLists.txt" '^ADD_LIBRARY(aprutil-1 STATIC ' \
        's|^ADD_LIBRARY(aprutil-1 STATIC |ADD_LIBRARY(aprutil-1 STATIC EXCLUDE_FROM_ALL |'
    patch_sed "$s/CMakeLists.txt" '^SET(install_targets ${install_targets} aprutil-1)$' \
        '/^SET(install_targets ${install_targets} aprutil-1)$/d'
    echo 'SET_TARGET_PROPERTIES(libaprutil-1 PROPERTIES PREFIX "" IMPORT_PREFIX "")' >>"$s/CMakeLists.txt"
    cmake_cross "$s" "$WORK/b-aprutil" -DINSTALL_PDB=OFF \
        -DAPU_HAVE_CRYPTO=OFF -DAPU_HAVE_ODBC=OFF -DAPR_HAS_LDAP=OFF \
        -DAPR_INCLUDE_DIR="$PREFIX/include" \
        -DAPR_LIBRARIES="$PREFIX/lib/libapr-1.dll.a" \
        -DEXPAT_INCLUDE_DIR="$PREFIX/include" \
        -DEXPAT_LIBRARY="$PREFIX/lib/libexpat.a"
    build_install "$WORK/b-aprutil"
}

build_check() {
    local s
    s=$(fetch check)
    cmake_cross "$s" "$WORK/b-check" -DCHECK_ENABLE_TESTS=OFF -DBUILD_TESTING=OFF \
        -DCHECK_ENABLE_SUBUNIT=OFF -DENABLE_MEMORY_LEAKING_TESTS=OFF \
        -DBUILD_SHARED_LIBS=OFF
    build_install "$WORK/b-check"
}

build_xxhash() {
    local s
    s=$(fetch xxhash)
    install -m 0644 "$s/xxhash.h" "$PREFIX/include/"
    [ -f "$s/xxh3.h" ] && install -m 0644 "$s/xxh3.h" "$PREFIX/include/"
    return 0
}

cmd_build() {
    PREFIX=$1
    WORK=$2
    SRC=$WORK/src
    rm -rf "$PREFIX" "$WORK"
    mkdir -p "$PREFIX/include" "$PREFIX/lib" "$PREFIX/bin" "$SRC"
    : >"$SRC/VERSIONS"
    if command -v ninja >/dev/null; then GENERATOR=Ninja; else GENERATOR="Unix Makefiles"; fi
    # gen_test_char runs under Wine during the APR build
    export WINEDEBUG=${WINEDEBUG:--all}
    export WINEPREFIX=$WORK/wineprefix        # its own: killed at exit
    trap 'timeout 30 wineserver -k >/dev/null 2>&1 || true' EXIT
    build_apr
    build_expat
    build_aprutil
    build_check
    build_xxhash
    cp "$SRC/VERSIONS" "$PREFIX/VERSIONS"
    for f in bin/libapr-1.dll bin/libaprutil-1.dll lib/libapr-1.dll.a \
             lib/libaprutil-1.dll.a lib/libcheck.a include/apr.h include/apu.h \
             include/check.h include/xxhash.h; do
        [ -f "$PREFIX/$f" ] || die "missing after build: $PREFIX/$f"
    done
    log "done: $PREFIX"
}

# Sourced (win32/build-httpd.sh uses fetch, patch_sed, cmake_cross and
# build_install): define only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case ${1:-} in
        key) cmd_key ;;
        build) [ $# -eq 3 ] || die "usage: $0 build PREFIX WORK"; cmd_build "$2" "$3" ;;
        *) echo "usage: $0 key | build PREFIX WORK" >&2; exit 2 ;;
    esac
fi
