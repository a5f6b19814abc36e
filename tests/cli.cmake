# SPDX-License-Identifier: Apache-2.0
# test_cli: runs the real shmcache-cli binary through th_run.
# cli_json.c checks what --json prints; the number parser
# (common/units.c) is linked in too, to test it as a pure function.
sc_test(test_cli TIMEOUT 900 SOURCES cli_json.c LIBS shmcache_units)
target_include_directories(test_cli PRIVATE ${PROJECT_SOURCE_DIR}/shmcache-cli)
target_compile_definitions(test_cli PRIVATE
  SHMCACHE_CLI_PATH="$<TARGET_FILE:shmcache-cli>")
add_dependencies(test_cli shmcache-cli)
