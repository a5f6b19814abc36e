/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_common.h - what the shmcache fuzz targets share: APR set-up once, a
 * private scratch directory on a memory filesystem, whole-file writes, and
 * a way to fail loudly (abort, which libFuzzer reports with the input).
 *
 * fuzz_common.c also interposes mmap/munmap (Linux): every shared file
 * mapping (the segment) is placed between PROT_NONE guard regions, so an
 * access even one byte outside the file crashes instead of reading a
 * neighbouring mapping. ASan does not watch mmap'ed memory; this does.
 */
#ifndef SC_FUZZ_COMMON_H
#define SC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

/* apr_initialize once; a process-lifetime pool. */
apr_pool_t *fz_global_pool(void);

/* A directory of this process (under $SHMCACHE_FUZZ_DIR, /dev/shm or
 * /tmp), removed with its files at exit. */
const char *fz_dir(void);

/* dir/name in the global pool. */
const char *fz_path(const char *name);

/* Replace the file at path with len bytes of data (mode 0600). */
void fz_write_file(const char *path, const void *data, size_t len);

/* Read the whole file at path into malloc'ed memory; *len gets its size. */
unsigned char *fz_read_file(const char *path, size_t *len);

/* The input after its selector byte data[0], as a C string in p (which
 * is cleared first): *len gets its length (a NUL inside ends the string
 * but not *len). NULL when size is 0 or above max. */
char *fz_cstring(apr_pool_t *p, const uint8_t *data, size_t size, size_t max,
                 size_t *len);

/* Report a broken invariant and abort (libFuzzer saves the input). */
void fz_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

#endif /* SC_FUZZ_COMMON_H */
