# SPDX-License-Identifier: Apache-2.0
# Build-time step (cmake -P) for libshmcache's man pages:
#   OUT/shmcache.3.gz     PAGE compressed with GZIP -9n (reproducible bytes)
#   OUT/man3-links.txt    one name per line: every public function declared
#                         in HEADER, one header or several separated by
#                         '|' (SHMCACHE_DECLARE(type) shmcache_xxx(...)),
#                         each installed as a link xxx.3.gz -> shmcache.3.gz
# Called by libshmcache/CMakeLists.txt with -DGZIP= -DPAGE= -DHEADER= -DOUT=.
foreach(v GZIP PAGE HEADER OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "ShmcacheManPages.cmake: -D${v}= missing")
  endif()
endforeach()
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${GZIP}" -9 -n -c "${PAGE}"
  OUTPUT_FILE "${OUT}/shmcache.3.gz" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${PAGE}: ${rc}")
endif()

string(REPLACE "|" ";" headers "${HEADER}")
set(text "")
foreach(h IN LISTS headers)
  file(READ "${h}" one)
  string(APPEND text "${one}")
endforeach()
# the declarations, also when the name goes on the line after the type
string(REGEX MATCHALL "SHMCACHE_DECLARE\\([^)]*\\)[ \t\r\n*]*shmcache_[a-z0-9_]+[ \t\r\n]*\\("
  decls "${text}")
set(names)
foreach(d IN LISTS decls)
  string(REGEX MATCH "shmcache_[a-z0-9_]+" n "${d}")
  list(APPEND names "${n}")
endforeach()
list(REMOVE_DUPLICATES names)
list(SORT names)
list(LENGTH names count)
if(count LESS 10)
  message(FATAL_ERROR "ShmcacheManPages.cmake: only ${count} functions found in ${HEADER}")
endif()
list(JOIN names "\n" content)

file(WRITE "${OUT}/man3-links.txt" "${content}\n")
