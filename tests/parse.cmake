# SPDX-License-Identifier: Apache-2.0
# test_parse: the module's parsers (mod_shmcache/sc_parse.c) and the number
# words they share with the CLI (common/units.c), linked directly; no httpd
# runs, but sc_parse.c is compiled against httpd's headers (apxs), as the
# module is.
if(WIN32 OR NOT SHMCACHE_BUILD_MODULE)
  return()
endif()
find_program(SHMCACHE_APXS NAMES apxs apxs2 PATHS /usr/bin /usr/sbin)
if(SHMCACHE_APXS)
  execute_process(COMMAND ${SHMCACHE_APXS} -q INCLUDEDIR
    OUTPUT_VARIABLE sc_parse_httpd_inc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(NOT sc_parse_httpd_inc OR NOT EXISTS ${sc_parse_httpd_inc}/httpd.h)
  message(STATUS "test_parse: no httpd headers (apxs); parser tests skipped")
  return()
endif()
sc_test(test_parse SOURCES ${PROJECT_SOURCE_DIR}/mod_shmcache/sc_parse.c
  LIBS shmcache_units)
target_include_directories(test_parse PRIVATE ${PROJECT_SOURCE_DIR}/mod_shmcache
  ${sc_parse_httpd_inc}
  $<TARGET_PROPERTY:shmcache::aprutil,INTERFACE_INCLUDE_DIRECTORIES>)
