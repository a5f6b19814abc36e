# SPDX-License-Identifier: Apache-2.0
# test_httpd and test_httpd_api: mod_shmcache in a real httpd.
# test_httpd: the segments (many children, restarts, crashes, trust, the
# second tier); test_httpd_api: the configuration check, the status page,
# the key API and leases. Both link the shared fixture httpd_fixture.c.
# Needs the module (apxs) and an httpd binary (Debian: apache2); skipped
# with a message otherwise. tests/ is configured before mod_shmcache/, so
# the module's targets are named by generator expressions only.
if(WIN32 OR NOT SHMCACHE_BUILD_MODULE)
  return()
endif()
find_program(SHMCACHE_APXS NAMES apxs apxs2 PATHS /usr/bin /usr/sbin)
find_program(SHMCACHE_HTTPD NAMES apache2 httpd PATHS /usr/sbin /usr/local/apache2/bin)
if(NOT SHMCACHE_APXS OR NOT SHMCACHE_HTTPD)
  message(STATUS "test_httpd: apxs or apache2/httpd not found; httpd tests skipped")
  return()
endif()
execute_process(COMMAND ${SHMCACHE_APXS} -q LIBEXECDIR
  OUTPUT_VARIABLE SC_HTTPD_MODULES OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)

# One httpd test binary: the fixture, where httpd and the built modules are.
function(sc_httpd_test name)
  sc_test(${name} SOURCES httpd_fixture.c ${ARGN})
  target_compile_definitions(${name} PRIVATE
    SC_HTTPD_BIN="${SHMCACHE_HTTPD}"
    SC_HTTPD_MODULES="${SC_HTTPD_MODULES}"
    SC_MODULE_PATH="$<TARGET_FILE:mod_shmcache>"
    SC_EXAMPLE_MODULE_PATH="$<TARGET_FILE:mod_shmcache_example>"
    SC_CLI_PATH="$<TARGET_FILE:shmcache-cli>")
  add_dependencies(${name} mod_shmcache mod_shmcache_example shmcache-cli)
endfunction()

# FAULT: a helper parks inside the write lock (SHMCACHE_FAULT) to hold the
# parent at a graceful restart.
sc_httpd_test(test_httpd FAULT TIMEOUT 1500)
sc_httpd_test(test_httpd_api TIMEOUT 900)
