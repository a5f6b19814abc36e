#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# build-httpd.sh - cross-build Apache httpd 2.4 for Windows (mingw-w64)
# from Debian's apache2 source package, against the APR and APR-util that
# win32/build-deps.sh built, with PCRE2 from Debian's pcre2 source (static,
# no JIT). Only what mod_shmcache's Windows test needs is built: httpd.exe,
# libhttpd.dll and a handful of modules.
#
#   win32/build-httpd.sh key DEPS                 print the cache key
#   win32/build-httpd.sh build DEPS PREFIX WORK   build into PREFIX
#
# DEPS is build-deps.sh's prefix (read only). What lands in PREFIX:
#   bin/httpd.exe bin/libhttpd.dll          the server (WinNT MPM built in)
#   lib/libhttpd.dll.a                      import library for modules
#   modules/mod_*.so                        the modules listed in MODULES
#   include/*.h                             httpd's headers, os.h,
#                                           ap_config_layout.h, mod_cache.h,
#                                           mod_status.h (what a module
#                                           built outside httpd includes)
#   conf/mime.types                         for TypesConfig
#   VERSIONS                                what was built from what
#
# httpd's CMakeLists.txt is written for MSVC; the mingw-only fixes below
# fail loudly when their target text is gone (a new upstream version):
#   - run gen_test_char by target name, so CMake wraps it in the toolchain's
#     emulator (Wine);
#   - no .rc version resources (windres rejects their token pasting) and no
#     /base: linker flags (link.exe syntax);
#   - no "lib" prefix on libhttpd and the modules (else liblibhttpd.dll);
#   - include/ap_config.h includes ap_config_auto.h whenever __MINGW32__ is
#     defined, and Debian's reproducible_builds.diff needs BUILD_DATETIME:
#     one generated ap_config_auto.h (in the build tree, first on the
#     include path) answers both and defines nothing else, as for MSVC;
#   - server/main.c keeps rsaenh.dll loaded before ap_init_rng(): APR's
#     Windows random source acquires and releases a crypto context per call,
#     and Wine loads and unloads the provider DLL each time (about 3,000
#     times, 50-90 s of CPU per start). On Windows the extra reference
#     changes nothing.
# PCRE2: static (PCRE2_STATIC), 8-bit only, no JIT, no pcre2grep.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=build-deps.sh
. "$HERE/build-deps.sh"

# Modules the Windows test loads (mod_ssl is left out: OpenSSL would be one
# more cross build of several minutes).
MODULES="mod_authz_core mod_authz_host mod_authn_core mod_auth_basic mod_authn_file
mod_authz_user mod_authn_socache mod_cache mod_cache_socache mod_mime mod_status
mod_log_config mod_socache_shmcb"

cmd_httpd_key() {
    local deps=$1 p
    {
        for p in apache2 pcre2; do
            printf '%s %s\n' "$p" "$(candidate_versions "$p" | tr '\n' ' ')"
        done
        echo "$MODULES"
        cat "$deps/VERSIONS"
        sha256sum "$HERE/build-httpd.sh" "$HERE/build-deps.sh" "$TOOLCHAIN" | cut -d' ' -f1
        x86_64-w64-mingw32-gcc-posix -dumpfullversion 2>/dev/null || true
    } | sha256sum | cut -c1-16
}

build_pcre2() {
    local s
    s=$(fetch pcre2)
    cmake_cross "$s" "$WORK/b-pcre2" -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON \
        -DPCRE2_BUILD_PCRE2_8=ON -DPCRE2_BUILD_PCRE2_16=OFF -DPCRE2_BUILD_PCRE2_32=OFF \
        -DPCRE2_SUPPORT_JIT=OFF -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_BUILD_TESTS=OFF \
        -DPCRE2_SUPPORT_LIBBZ2=OFF -DPCRE2_SUPPORT_LIBZ=OFF -DPCRE2_SUPPORT_LIBEDIT=OFF \
        -DPCRE2_SUPPORT_LIBREADLINE=OFF -DCMAKE_INSTALL_PREFIX="$PCRE"
    build_install "$WORK/b-pcre2"
    [ -f "$PCRE/lib/libpcre2-8.a" ] || die "pcre2: no libpcre2-8.a"
}

patch_httpd() {
    local s=$1
    patch_sed "$s/CMakeLists.txt" 'COMMAND $<TARGET_FILE:gen_test_char> >' \
        's|COMMAND $<TARGET_FILE:gen_test_char> >|COMMAND gen_test_char >|'
    patch_sed "$s/CMakeLists.txt" ' build/win32/httpd.rc)$' 's| build/win32/httpd.rc)$|)|'
    patch_sed "$s/CMakeLists.txt" '^ *LINK_FLAGS /base:' 's|^\( *\)LINK_FLAGS /base:.*$|\1LINK_FLAGS ""|'
    cat >>"$s/CMakeLists.txt" <<'EOF'
# mingw-w64 (win32/build-httpd.sh): no "lib" prefix
SET_TARGET_PROPERTIES(libhttpd ${install_modules} PROPERTIES PREFIX "" IMPORT_PREFIX "")
EOF
    patch_sed "$s/server/main.c" '^    ap_init_rng(ap_pglobal);$' \
        's|^    ap_init_rng(ap_pglobal);$|#ifdef WIN32\n    /* keep the crypto provider loaded across apr_generate_random_bytes\n     * calls (Wine unloads it after each; see win32/build-httpd.sh) */\n    LoadLibraryA("rsaenh.dll");\n#endif\n    ap_init_rng(ap_pglobal);|'
    grep -q 'server_built\[\] = BUILD_DATETIME' "$s/server/buildmark.c" \
        || die "buildmark.c no longer uses BUILD_DATETIME"
}

# ap_config_auto.h for mingw: BUILD_DATETIME from debian/changelog (as
# Debian's rules do), nothing else.
write_config_auto() {
    local s=$1 bld=$2 when
    when=$(cd "$s" && dpkg-parsechangelog -S Date 2>/dev/null || date -u -R)
    when=$(date -u -d "$when" '+%b %e %Y %H:%M:%S')
    mkdir -p "$bld"
    cat >"$bld/ap_config_auto.h" <<EOF
/* generated by win32/build-httpd.sh: mingw-w64 takes ap_config.h's
 * autoconf branch; what MSVC builds get from os/win32/os.h suffices */
#define BUILD_DATETIME "$when"
EOF
}

install_httpd() {
    local s=$1 bld=$2 m h
    mkdir -p "$PREFIX/bin" "$PREFIX/lib" "$PREFIX/modules" "$PREFIX/include" "$PREFIX/conf"
    install -m 0755 "$bld/httpd.exe" "$bld/libhttpd.dll" "$PREFIX/bin/"
    install -m 0644 "$bld/libhttpd.dll.a" "$PREFIX/lib/"
    for m in $MODULES; do
        install -m 0755 "$bld/$m.so" "$PREFIX/modules/"
    done
    install -m 0644 "$s"/include/*.h "$PREFIX/include/"
    rm -f "$PREFIX/include/ap_config_auto.h"
    install -m 0644 "$bld/ap_config_auto.h" "$bld/ap_config_layout.h" "$PREFIX/include/"
    for h in os/win32/os.h modules/cache/mod_cache.h modules/cache/cache_common.h \
             modules/core/mod_so.h modules/core/mod_watchdog.h \
             modules/generators/mod_status.h modules/loggers/mod_log_config.h; do
        install -m 0644 "$s/$h" "$PREFIX/include/"
    done
    install -m 0644 "$s/docs/conf/mime.types" "$PREFIX/conf/"
}

cmd_httpd_build() {
    local deps=$1 s bld
    PREFIX=$2
    WORK=$3
    SRC=$WORK/src
    PCRE=$WORK/pcre2
    rm -rf "$PREFIX" "$WORK"
    mkdir -p "$PREFIX" "$SRC"
    : >"$SRC/VERSIONS"
    if command -v ninja >/dev/null; then GENERATOR=Ninja; else GENERATOR="Unix Makefiles"; fi
    export WINEDEBUG=${WINEDEBUG:--all}
    export WINEPREFIX=$WORK/wineprefix        # gen_test_char runs under Wine
    trap 'timeout 30 wineserver -k >/dev/null 2>&1 || true' EXIT
    [ -f "$deps/include/arch/win32/apr_arch_misc.h" ] \
        || die "$deps has no APR private headers (rebuild it with this build-deps.sh)"
    build_pcre2
    s=$(fetch apache2)
    patch_httpd "$s"
    bld=$WORK/b-httpd
    write_config_auto "$s" "$bld"
    # cmake_cross would point CMAKE_INSTALL_PREFIX at PREFIX; httpd's
    # CMakeLists also derives default library paths from it: point it at
    # DEPS, install by hand
    PREFIX_SAVED=$PREFIX
    PREFIX=$deps
    cmake_cross "$s" "$bld" -DINSTALL_PDB=OFF -DINSTALL_MANUAL=OFF \
        -DAPR_INCLUDE_DIR="$deps/include" \
        "-DAPR_LIBRARIES=$deps/lib/libapr-1.dll.a;$deps/lib/libaprutil-1.dll.a" \
        -DPCRE_INCLUDE_DIR="$PCRE/include" \
        -DPCRE_LIBRARIES="$PCRE/lib/libpcre2-8.a" \
        "-DPCRE_CFLAGS=-DHAVE_PCRE2 -DPCRE2_STATIC" \
        -DCMAKE_DISABLE_FIND_PACKAGE_PCRE2=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON \
        -DCMAKE_DISABLE_FIND_PACKAGE_LibXml2=ON -DCMAKE_DISABLE_FIND_PACKAGE_Lua51=ON \
        -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON \
        -DCMAKE_C_FLAGS="-I$bld"
    PREFIX=$PREFIX_SAVED
    # shellcheck disable=SC2086
    timeout 900 cmake --build "$bld" -j "$JOBS" --target httpd libhttpd $MODULES \
        >"$bld.build.log" 2>&1 \
        || { grep -E -A3 'error|FAILED' "$bld.build.log" | head -60 >&2; die "httpd build failed"; }
    install_httpd "$s" "$bld"
    cp "$SRC/VERSIONS" "$PREFIX/VERSIONS"
    log "done: $PREFIX"
}

case ${1:-} in
    key) [ $# -eq 2 ] || die "usage: $0 key DEPS"; cmd_httpd_key "$2" ;;
    build) [ $# -eq 4 ] || die "usage: $0 build DEPS PREFIX WORK"; cmd_httpd_build "$2" "$3" "$4" ;;
    *) echo "usage: $0 key DEPS | build DEPS PREFIX WORK" >&2; exit 2 ;;
esac
