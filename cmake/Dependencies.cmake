# SPDX-License-Identifier: Apache-2.0
# Finds APR, APR-util, xxHash and Check and makes imported targets:
#   shmcache::apr  shmcache::aprutil  shmcache::xxhash  shmcache::check
# On Debian they come from pkg-config. A cross build (win32/) may set
# SHMCACHE_DEPS_PREFIX to a prefix holding include/ and lib/ instead.
#
# Windows (MSVC with vcpkg, or mingw-w64): when SHMCACHE_DEPS_PREFIX is set,
# or pkg-config is missing or does not know the packages, the libraries are
# looked up by file name in SHMCACHE_DEPS_PREFIX and CMake's search path
# (CMAKE_PREFIX_PATH, the vcpkg toolchain's installed tree). xxHash is then
# used header-only (XXH_INLINE_ALL); a static APR (apr-1.lib / libapr-1.a
# without a DLL import library) gets APR_DECLARE_STATIC and its system
# libraries.
set(SHMCACHE_DEPS_PREFIX "" CACHE PATH
  "prefix with the dependencies for a Windows build (win32/build-deps.sh)")

# --- Windows / cross builds: by file name under a prefix ------------------
# sc_import(<target> HEADER <h> NAMES <lib names, preferred first>
#           [STATIC_FILES <file names that mean a static library>]
#           [STATIC_DEFS <defs>] [STATIC_LIBS <system libs>]
#           [STATIC_FIND <names of one more library a static one needs>]
#           [LIBS <libs>])
function(sc_import target)
  cmake_parse_arguments(I "" "HEADER"
    "NAMES;STATIC_FILES;STATIC_DEFS;STATIC_LIBS;STATIC_FIND;LIBS" ${ARGN})
  string(MAKE_C_IDENTIFIER ${target} var)
  set(hints)
  if(SHMCACHE_DEPS_PREFIX)
    set(hints HINTS ${SHMCACHE_DEPS_PREFIX})
  endif()
  find_path(${var}_INCLUDE_DIR ${I_HEADER} ${hints}
    PATH_SUFFIXES include include/apr-1 include/apr-1.0)
  find_library(${var}_LIBRARY NAMES ${I_NAMES} ${hints} PATH_SUFFIXES lib)
  if(NOT ${var}_INCLUDE_DIR OR NOT ${var}_LIBRARY)
    message(FATAL_ERROR "${target}: ${I_HEADER} or library (${I_NAMES}) "
      "not found; set SHMCACHE_DEPS_PREFIX (mingw: "
      "win32/build-deps.sh) or use the vcpkg toolchain (win32/README.md)")
  endif()
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION ${${var}_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${${var}_INCLUDE_DIR})
  get_filename_component(found_name ${${var}_LIBRARY} NAME)
  set(libs ${I_LIBS})
  if(found_name IN_LIST I_STATIC_FILES)
    set_property(TARGET ${target} APPEND PROPERTY
      INTERFACE_COMPILE_DEFINITIONS ${I_STATIC_DEFS})
    list(APPEND libs ${I_STATIC_LIBS})
    if(I_STATIC_FIND)
      find_library(${var}_STATIC_DEP NAMES ${I_STATIC_FIND} ${hints} PATH_SUFFIXES lib)
      if(${var}_STATIC_DEP)
        list(APPEND libs ${${var}_STATIC_DEP})
      endif()
    endif()
  endif()
  if(libs)
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES ${libs})
  endif()
  message(STATUS "${target}: ${${var}_LIBRARY}")
endfunction()

function(sc_deps_from_prefix)
  if(SHMCACHE_DEPS_PREFIX)
    list(APPEND CMAKE_PREFIX_PATH ${SHMCACHE_DEPS_PREFIX})
  endif()
  # DLL import libraries first (libapr-1.lib, libapr-1.dll.a), then static
  # ones (apr-1.lib, libapr-1.a), as APR's own Windows build names them
  sc_import(shmcache::apr HEADER apr.h
    NAMES libapr-1.dll.a libapr-1 apr-1 libapr-1.a
    STATIC_FILES apr-1.lib libapr-1.a
    STATIC_DEFS APR_DECLARE_STATIC STATIC_LIBS ws2_32 mswsock rpcrt4)
  sc_import(shmcache::aprutil HEADER apu.h
    NAMES libaprutil-1.dll.a libaprutil-1 aprutil-1 libaprutil-1.a
    STATIC_FILES aprutil-1.lib libaprutil-1.a
    STATIC_DEFS APU_DECLARE_STATIC
    STATIC_FIND libexpatMD libexpatMT libexpat expat LIBS shmcache::apr)
  find_path(SC_XXHASH_INCLUDE_DIR xxhash.h
    HINTS ${SHMCACHE_DEPS_PREFIX} PATH_SUFFIXES include)
  if(NOT SC_XXHASH_INCLUDE_DIR)
    message(FATAL_ERROR "shmcache::xxhash: xxhash.h not found")
  endif()
  add_library(shmcache::xxhash INTERFACE IMPORTED)
  set_target_properties(shmcache::xxhash PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${SC_XXHASH_INCLUDE_DIR}
    INTERFACE_COMPILE_DEFINITIONS XXH_INLINE_ALL)
  if(SHMCACHE_BUILD_TESTS)
    # vcpkg installs Check's CMake package: its targets carry what Check
    # needs on MSVC. Otherwise (the mingw prefix) by file name, static Check
    # preferred: the test binaries then need no check DLL.
    if(NOT SHMCACHE_DEPS_PREFIX)
      find_package(check CONFIG QUIET)
    endif()
    if(TARGET Check::check OR TARGET Check::checkShared)
      add_library(shmcache::check INTERFACE IMPORTED)
      if(TARGET Check::check)
        set_property(TARGET shmcache::check PROPERTY INTERFACE_LINK_LIBRARIES Check::check)
      else()
        set_property(TARGET shmcache::check PROPERTY INTERFACE_LINK_LIBRARIES Check::checkShared)
      endif()
      message(STATUS "shmcache::check: Check's CMake package (${check_DIR})")
    else()
      sc_import(shmcache::check HEADER check.h
        NAMES libcheck.a check checkDynamic)
    endif()
  endif()
endfunction()

# Imported targets are directory-scoped: the functions above create them in
# this (the top) directory's scope, which every subdirectory sees.
if(WIN32 AND NOT SHMCACHE_DEPS_PREFIX)
  # MSYS2 and the like ship the .pc files: use them when all are there
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    set(sc_pc_modules apr-1 apr-util-1 libxxhash)
    if(SHMCACHE_BUILD_TESTS)
      list(APPEND sc_pc_modules check)
    endif()
    pkg_check_modules(SC_PC_PROBE QUIET ${sc_pc_modules})
  endif()
  if(NOT SC_PC_PROBE_FOUND)
    set(SC_DEPS_FROM_PREFIX ON)
  endif()
elseif(SHMCACHE_DEPS_PREFIX)
  set(SC_DEPS_FROM_PREFIX ON)
endif()

if(SC_DEPS_FROM_PREFIX)
  sc_deps_from_prefix()
else()
  # Debian: pkg-config
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(APR REQUIRED IMPORTED_TARGET apr-1)
  pkg_check_modules(APRUTIL REQUIRED IMPORTED_TARGET apr-util-1)
  pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
  add_library(shmcache::apr ALIAS PkgConfig::APR)
  add_library(shmcache::aprutil ALIAS PkgConfig::APRUTIL)
  add_library(shmcache::xxhash ALIAS PkgConfig::XXHASH)
  if(SHMCACHE_BUILD_TESTS)
    pkg_check_modules(CHECK REQUIRED IMPORTED_TARGET check)
    add_library(shmcache::check ALIAS PkgConfig::CHECK)
  endif()
endif()
