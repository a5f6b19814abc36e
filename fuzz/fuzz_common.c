/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_common.c - shared pieces of the fuzz targets (see fuzz_common.h),
 * (the guard-page mmap interposer is tests/guard_pages.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Guard pages around every segment mapping: tests/guard_pages.c, linked
 * into every target (fuzz/build.sh). */

/* ------------------------------------------------------------------------
 * Process set-up and files
 * ---------------------------------------------------------------------- */
static apr_pool_t *global_pool;
static char dir_path[4096];

static void remove_dir(void)
{
    DIR *d = opendir(dir_path);
    struct dirent *e;
    char p[8192];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir_path, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir_path);
}

apr_pool_t *fz_global_pool(void)
{
    if (global_pool == NULL) {
        if (apr_initialize() != APR_SUCCESS)
            fz_fail("apr_initialize failed");
        if (apr_pool_create(&global_pool, NULL) != APR_SUCCESS)
            fz_fail("apr_pool_create failed");
    }
    return global_pool;
}

const char *fz_dir(void)
{
    const char *base = getenv("SHMCACHE_FUZZ_DIR");
    struct stat st;

    if (dir_path[0] != '\0')
        return dir_path;
    if (base == NULL || *base == '\0')
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir_path, sizeof dir_path, "%s/shmcache-fuzz-XXXXXX", base);
    if (mkdtemp(dir_path) == NULL)
        fz_fail("mkdtemp %s: %s", dir_path, strerror(errno));
    atexit(remove_dir);
    return dir_path;
}

const char *fz_path(const char *name)
{
    return apr_pstrcat(fz_global_pool(), fz_dir(), "/", name, NULL);
}

void fz_write_file(const char *path, const void *data, size_t len)
{
    const char *p = data;
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        fz_fail("create %s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            fz_fail("write %s: %s", path, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

unsigned char *fz_read_file(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0)
        fz_fail("open %s: %s", path, strerror(errno));
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        fz_fail("out of memory");
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            fz_fail("read %s: %s", path, strerror(errno));
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return buf;
}

char *fz_cstring(apr_pool_t *p, const uint8_t *data, size_t size, size_t max,
                 size_t *len)
{
    char *s;

    if (size < 1 || size > max)
        return NULL;
    apr_pool_clear(p);
    *len = size - 1;
    s = apr_palloc(p, *len + 1);
    memcpy(s, data + 1, *len);
    s[*len] = '\0';
    return s;
}

void fz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("shmcache-fuzz: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
