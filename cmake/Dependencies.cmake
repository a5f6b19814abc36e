# Finds APR, APR-util, xxHash and Check and makes imported targets:
#   shmcache::apr  shmcache::aprutil  shmcache::xxhash  shmcache::check
# On Debian they come from pkg-config. A cross build (win32/) may set
# SHMCACHE_DEPS_PREFIX to a prefix holding include/ and lib/ instead.
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
