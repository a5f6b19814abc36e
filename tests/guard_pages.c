/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guard_pages.c - every shared file mapping of the process that links this
 * file lands in the middle of a PROT_NONE reservation (1 MiB each side), so
 * reading one byte outside a segment crashes at once instead of reading a
 * neighbour. Linux and Windows; elsewhere this file is empty.
 *
 * How, Linux: the library maps the segment with apr_mmap_create, and libapr
 * calls mmap() through the PLT, so these definitions in the executable
 * interpose. Only shared mappings of a file at no fixed address are
 * changed; the reservation is released by the matching munmap.
 *
 * How, Windows: apr_mmap_create calls MapViewOfFile through libapr's import
 * table, which a constructor here points at guarded_map (in every loaded
 * module that imports it: libapr-1.dll, or the executable when APR is
 * static). guarded_map finds 1 MiB + view + 1 MiB of free address space,
 * maps the view in its middle (MapViewOfFileEx) and reserves the two sides
 * PAGE_NOACCESS (VirtualAlloc MEM_RESERVE; the tail of the view's last
 * 64 KiB granule is inaccessible already). A view is never placed without
 * its guards: after a few lost races for the address it is mapped plainly
 * and counted as unguarded.
 *
 * guard_pages_active() says how many mappings are guarded right now, so a
 * test can tell the guards are really there. Linked by tests/test_hostile.c,
 * tests/test_tamper.c and the fuzz targets (fuzz/build.sh).
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

int guard_pages_active(void)
{
    int i, n = 0;

    for (i = 0; i < GUARD_MAX; i++)
        n += guards[i].map != NULL;
    return n;
}

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
#elif defined(_WIN32)
#include <windows.h>
#include <string.h>

#define GUARD_BYTES ((SIZE_T)1 << 20)       /* a multiple of 64 KiB */
#define GUARD_MAX 64
#define GRANULE ((SIZE_T)1 << 16)           /* allocation granularity */

typedef LPVOID (WINAPI map_fn)(HANDLE, DWORD, DWORD, DWORD, SIZE_T);
typedef BOOL (WINAPI unmap_fn)(LPCVOID);

static map_fn *real_map;
static unmap_fn *real_unmap;
static struct { char *map; char *low, *high; } guards[GUARD_MAX];
static volatile LONG unguarded;

int guard_pages_active(void)
{
    int i, n = 0;

    for (i = 0; i < GUARD_MAX; i++)
        n += guards[i].map != NULL;
    return n;
}

/* Map len bytes of m at a free spot with a reserved, inaccessible
 * GUARD_BYTES on each side, recorded in guards[]. NULL when the address
 * space race was lost (the caller retries) or the mapping failed. */
static LPVOID map_between_guards(HANDLE m, DWORD acc, DWORD hi, DWORD lo,
                                 SIZE_T len, int *hard_error)
{
    SIZE_T body = (len + GRANULE - 1) / GRANULE * GRANULE;
    char *r, *v, *g1, *g2;
    int i;

    r = VirtualAlloc(NULL, body + 2 * GUARD_BYTES, MEM_RESERVE, PAGE_NOACCESS);
    if (r == NULL)
        return NULL;
    VirtualFree(r, 0, MEM_RELEASE);     /* another thread may take it: retry */
    v = MapViewOfFileEx(m, acc, hi, lo, len, r + GUARD_BYTES);
    if (v == NULL) {
        *hard_error = GetLastError() != ERROR_INVALID_ADDRESS;
        return NULL;
    }
    g1 = VirtualAlloc(r, GUARD_BYTES, MEM_RESERVE, PAGE_NOACCESS);
    g2 = VirtualAlloc(v + body, GUARD_BYTES, MEM_RESERVE, PAGE_NOACCESS);
    for (i = 0; g1 != NULL && g2 != NULL && i < GUARD_MAX; i++) {
        if (guards[i].map == NULL) {
            guards[i].map = v;
            guards[i].low = g1;
            guards[i].high = g2;
            return v;
        }
    }
    if (g1 != NULL)
        VirtualFree(g1, 0, MEM_RELEASE);
    if (g2 != NULL)
        VirtualFree(g2, 0, MEM_RELEASE);
    real_unmap(v);
    *hard_error = (i == GUARD_MAX);
    return NULL;
}

static LPVOID WINAPI guarded_map(HANDLE m, DWORD acc, DWORD hi, DWORD lo,
                                 SIZE_T len)
{
    LPVOID v;
    int tries, hard = 0;

    if (len == 0)               /* "the whole file": length unknown here */
        return real_map(m, acc, hi, lo, len);
    for (tries = 0; tries < 16 && !hard; tries++) {
        v = map_between_guards(m, acc, hi, lo, len, &hard);
        if (v != NULL)
            return v;
    }
    InterlockedIncrement(&unguarded);
    return real_map(m, acc, hi, lo, len);
}

static BOOL WINAPI guarded_unmap(LPCVOID addr)
{
    BOOL ok = real_unmap(addr);
    int i;

    for (i = 0; ok && i < GUARD_MAX; i++) {
        if (guards[i].map != NULL && guards[i].map == addr) {
            VirtualFree(guards[i].low, 0, MEM_RELEASE);
            VirtualFree(guards[i].high, 0, MEM_RELEASE);
            guards[i].map = NULL;
            break;
        }
    }
    return ok;
}

/* Point every import of function name in module mod at hook; *orig gets
 * what the table held (the same kernel32 entry everywhere). Returns the
 * number of slots changed. */
static int patch_imports(HMODULE mod, const char *name, void *hook, void **orig)
{
    BYTE *base = (BYTE *)mod;
    IMAGE_NT_HEADERS *nt = (IMAGE_NT_HEADERS *)(base + ((IMAGE_DOS_HEADER *)base)->e_lfanew);
    IMAGE_DATA_DIRECTORY d = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    IMAGE_IMPORT_DESCRIPTOR *imp;
    int n = 0;

    if (d.VirtualAddress == 0)
        return 0;
    for (imp = (IMAGE_IMPORT_DESCRIPTOR *)(base + d.VirtualAddress); imp->Name; imp++) {
        IMAGE_THUNK_DATA *nm = (IMAGE_THUNK_DATA *)(base + (imp->OriginalFirstThunk
                               ? imp->OriginalFirstThunk : imp->FirstThunk));
        IMAGE_THUNK_DATA *at = (IMAGE_THUNK_DATA *)(base + imp->FirstThunk);
        for (; nm->u1.AddressOfData; nm++, at++) {
            IMAGE_IMPORT_BY_NAME *ibn;
            DWORD old;
            if (IMAGE_SNAP_BY_ORDINAL(nm->u1.Ordinal))
                continue;
            ibn = (IMAGE_IMPORT_BY_NAME *)(base + nm->u1.AddressOfData);
            if (strcmp((const char *)ibn->Name, name) != 0)
                continue;
            if (!VirtualProtect(&at->u1.Function, sizeof at->u1.Function,
                                PAGE_READWRITE, &old))
                continue;
            *orig = (void *)at->u1.Function;
            at->u1.Function = (ULONG_PTR)hook;
            VirtualProtect(&at->u1.Function, sizeof at->u1.Function, old, &old);
            n++;
        }
    }
    return n;
}

/* Before main: hook the mapping calls of APR, wherever it lives. */
static void install_guards(void)
{
    HMODULE mods[] = {GetModuleHandleA("libapr-1.dll"), GetModuleHandleA(NULL)};
    void *m = NULL, *u = NULL;
    int i;

    for (i = 0; i < 2; i++) {
        if (mods[i] == NULL)
            continue;
        patch_imports(mods[i], "MapViewOfFile", (void *)guarded_map, &m);
        patch_imports(mods[i], "UnmapViewOfFile", (void *)guarded_unmap, &u);
    }
    real_map = m != NULL ? (map_fn *)m : MapViewOfFile;
    real_unmap = u != NULL ? (unmap_fn *)u : UnmapViewOfFile;
}

#if defined(_MSC_VER)
#pragma section(".CRT$XCU", read)
static void __cdecl install_guards_crt(void) { install_guards(); }
__declspec(allocate(".CRT$XCU")) static void (__cdecl *guards_ctor)(void) = install_guards_crt;
#else
__attribute__((constructor)) static void install_guards_ctor(void) { install_guards(); }
#endif
#else
/* no guards on this system */
int guard_pages_active(void)
{
    return -1;
}
#endif
