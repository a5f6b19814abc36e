/*
 * guard_pages.c - every shared file mapping of the process that links this
 * file lands in the middle of a PROT_NONE reservation (1 MiB each side), so
 * reading one byte outside a segment crashes at once instead of reading a
 * neighbour. Linux only; elsewhere this file is empty.
 *
 * How: the library maps the segment with apr_mmap_create, and libapr calls
 * mmap() through the PLT, so these definitions in the executable
 * interpose. Only shared mappings of a file at no fixed address are
 * changed; the reservation is released by the matching munmap. Linked by
 * tests/test_hostile.c and by the fuzz targets (fuzz/build.sh).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#if defined(__linux__)
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GUARD_BYTES ((size_t)1 << 20)
#define GUARD_MAX 64

static struct { char *map; size_t span; } guards[GUARD_MAX];

static size_t page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (n + pg - 1) / pg * pg;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    size_t span;
    char *res;
    long m;
    int i;

    if (addr != NULL || fd < 0 || !(flags & MAP_SHARED) || len == 0)
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    span = page_round(len) + 2 * GUARD_BYTES;
    res = (char *)syscall(SYS_mmap, NULL, span, PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return MAP_FAILED;
    m = syscall(SYS_mmap, res + GUARD_BYTES, len, prot, flags | MAP_FIXED, fd, off);
    if (m == -1) {
        int e = errno;
        syscall(SYS_munmap, res, span);
        errno = e;
        return MAP_FAILED;
    }
    for (i = 0; i < GUARD_MAX; i++) {
        if (guards[i].map == NULL) {
            guards[i].map = res + GUARD_BYTES;
            guards[i].span = span;
            break;
        }
    }
    return res + GUARD_BYTES;
}

int munmap(void *addr, size_t len)
{
    int i;

    for (i = 0; i < GUARD_MAX; i++) {
        if (guards[i].map != NULL && guards[i].map == addr) {
            guards[i].map = NULL;
            return (int)syscall(SYS_munmap, (char *)addr - GUARD_BYTES,
                                guards[i].span);
        }
    }
    return (int)syscall(SYS_munmap, addr, len);
}
#endif
