# SPDX-License-Identifier: Apache-2.0
# toolchain-mingw64.cmake - cross-compile for 64-bit Windows with Debian's
# mingw-w64 (the POSIX-threads flavour of gcc), and run what was built
# (try_run, custom commands, ctest) under Wine.
#
#   cmake -S . -B /tmp/build-win \
#         -DCMAKE_TOOLCHAIN_FILE=win32/toolchain-mingw64.cmake \
#         -DSHMCACHE_DEPS_PREFIX=$HOME/.cache/shmcache-win32/<key>/prefix
#
# The dependencies (APR, APR-util, Check, xxHash) come from
# win32/build-deps.sh, which uses this same file. Wine needs to find their
# DLLs and the mingw runtime: set WINEPATH (.ci/windows.sh does), or copy
# the DLLs beside the executables.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(SC_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${SC_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${SC_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${SC_MINGW_TRIPLE}-windres)
set(CMAKE_AR ${SC_MINGW_TRIPLE}-gcc-ar-posix CACHE FILEPATH "ar")
set(CMAKE_RANLIB ${SC_MINGW_TRIPLE}-gcc-ranlib-posix CACHE FILEPATH "ranlib")

# Headers and libraries only from the mingw sysroot and the dependency
# prefix; programs (pkg-config excepted, see below) from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${SC_MINGW_TRIPLE})
if(SHMCACHE_DEPS_PREFIX)
  list(APPEND CMAKE_FIND_ROOT_PATH ${SHMCACHE_DEPS_PREFIX})
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The build machine's pkg-config would report Linux libraries.
set(PKG_CONFIG_EXECUTABLE "" CACHE FILEPATH "no pkg-config when cross-compiling")
set(ENV{PKG_CONFIG_LIBDIR} "")

# Run Windows programs under Wine. The 64-bit loader directly: Debian's
# /usr/bin/wine wrapper looks for a 32-bit Wine first and nags without it.
find_program(SC_WINE NAMES wine64 PATHS /usr/lib/wine NO_DEFAULT_PATH)
if(NOT SC_WINE)
  find_program(SC_WINE NAMES wine64 wine)
endif()
if(SC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SC_WINE})
endif()

# Pass the prefix on to try_compile projects, which re-read this file.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SHMCACHE_DEPS_PREFIX)
