/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alloc.c - the in-segment TLSF allocator (libshmcache/src/alloc.c).
 *
 * Every test works on an "arena": a malloc'ed buffer standing in for the
 * segment, with the control block near its start and the managed region
 * from REGION_OFF to the end, so any read outside the region is caught by
 * AddressSanitizer or valgrind. The long random tests replay alloc/free
 * sequences against a reference model (the live [offset, offset + size)
 * intervals plus a per-granule ownership map) and compare the two.
 * The corruption tests know the block layout drawn in alloc.c:
 *
 *   header (8 bytes, at payload - 8): word 0 = bit 31 free | payload granules,
 *                                     word 1 = granule of the previous block
 *   free block payload:               word 0 = next free, word 1 = prev free
 *
 * Environment: SHMCACHE_TEST_SEED (one extra random run; a seed from the
 * clock is printed when unset), SHMCACHE_TEST_OPS (operations per random
 * run, default 150000).
 */
#include "harness.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_time.h>
#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#elif defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define HAVE_MMAP 1
#endif

#define CTRL_OFF   64u           /* where the control block lives */
#define REGION_OFF 4096u         /* where the managed region starts */
#define GRAN       8u
#define FREE_BIT   0x80000000u
#define WHY_SIZE   512

/* ck_assert records a mark point (a file write) even when it passes; hot
 * loops use this instead, which costs nothing until it fails. */
#define REQUIRE(cond, ...) \
    do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

/* ------------------------------------------------------------------------
 * Arena and small helpers
 * ---------------------------------------------------------------------- */

typedef struct arena_t {
    unsigned char *base;
    sc_alloc_sh_t *a;
    apr_uint64_t begin, end;     /* region, bytes from base */
    sc_alloc_t al;               /* bound to [begin, end) */
} arena_t;

static apr_status_t free_buffer(void *p)
{
    free(p);
    return APR_SUCCESS;
}

/* A fresh arena with a region of region_bytes, filled with garbage first
 * so nothing relies on zeroed memory. Freed at teardown. */
static void arena_make(arena_t *ar, apr_uint64_t region_bytes)
{
    ar->begin = REGION_OFF;
    ar->end = REGION_OFF + region_bytes;
    ar->base = malloc((size_t)ar->end);
    ck_assert_ptr_nonnull(ar->base);
    memset(ar->base, 0xA5, (size_t)ar->end);
    apr_pool_cleanup_register(th_pool, ar->base, free_buffer, apr_pool_cleanup_null);
    ar->a = (sc_alloc_sh_t *)(void *)(ar->base + CTRL_OFF);
    ck_assert_uint_le(CTRL_OFF + sizeof(sc_alloc_sh_t), REGION_OFF);
    th_ok(sc_alloc_init(&ar->al, ar->base, ar->a, ar->begin, ar->end));
}

static apr_uint64_t region_bytes(const arena_t *ar)
{
    return ar->end - ar->begin;
}

static apr_uint64_t xmalloc(arena_t *ar, apr_uint64_t n)
{
    apr_uint64_t p = 0;

    th_ok(sc_alloc_malloc_locked(&ar->al, n, &p));
    return p;
}

static void xfree(arena_t *ar, apr_uint64_t p)
{
    th_ok(sc_alloc_free_locked(&ar->al, p));
}

/* The allocator passes its own check. */
static void assert_consistent(arena_t *ar)
{
    char why[WHY_SIZE];
    apr_status_t rv = sc_alloc_check_locked(&ar->al, why, sizeof why);

    ck_assert_msg(rv == APR_SUCCESS, "check failed: %s", why);
}

/* The check finds a problem and says something about it. */
static void assert_check_fails(arena_t *ar)
{
    char why[WHY_SIZE] = "";

    th_status(sc_alloc_check_locked(&ar->al, why, sizeof why), SHMCACHE_ECORRUPT);
    ck_assert_msg(strlen(why) > 10, "check gave no reason: '%s'", why);
}

/* Word i (0 or 1) of the header of the block at payload. */
static apr_uint32_t *hdr(arena_t *ar, apr_uint64_t payload, int i)
{
    return (apr_uint32_t *)(void *)(ar->base + payload - GRAN) + i;
}

/* Word i of a free block's links (0 = next free, 1 = prev free). */
static apr_uint32_t *links(arena_t *ar, apr_uint64_t payload, int i)
{
    return (apr_uint32_t *)(void *)(ar->base + payload) + i;
}

static apr_uint64_t granule_of(apr_uint64_t payload)
{
    return payload / GRAN - 1;   /* the header's granule */
}

/* Every block in address order; returns how many (at most max). */
static int walk_all(arena_t *ar, sc_alloc_block_t *out, int max)
{
    apr_uint64_t cursor = 0;
    sc_alloc_block_t b;
    int n = 0;

    do {
        th_ok(sc_alloc_walk_locked(&ar->al, &cursor, &b));
        REQUIRE(n < max, "walk: more than %d blocks", max);
        out[n++] = b;
    } while (cursor != 0);
    return n;
}

static sc_alloc_stats_t stats_of(arena_t *ar)
{
    sc_alloc_stats_t st;

    sc_alloc_stats_locked(&ar->al, &st);
    return st;
}

/* The allocator's class of g payload granules (mirrors alloc.c). */
static void class_of(apr_uint64_t g, unsigned *fl, unsigned *sl)
{
    unsigned f = 0;

    if (g < SC_ALLOC_SL_COUNT) {
        *fl = 0;
        *sl = (unsigned)g;
        return;
    }
    while ((g >> (f + 1)) != 0)
        f++;
    *fl = f - SC_ALLOC_SL_LOG2 + 1;
    *sl = (unsigned)(g >> (f - SC_ALLOC_SL_LOG2)) - SC_ALLOC_SL_COUNT;
}

/* Smallest class lower bound >= g: a free block of at least this many
 * granules guarantees that a request of g granules succeeds. */
static apr_uint64_t fit_bound(apr_uint64_t g)
{
    unsigned f = 0;
    apr_uint64_t step;

    if (g < SC_ALLOC_SL_COUNT)
        return g;
    while ((g >> (f + 1)) != 0)
        f++;
    step = (apr_uint64_t)1 << (f - SC_ALLOC_SL_LOG2);
    return (g + step - 1) / step * step;
}

/* Lower bound of the class holding g granules. */
static apr_uint64_t class_floor(apr_uint64_t g)
{
    unsigned f = 0;
    apr_uint64_t step;

    if (g < SC_ALLOC_SL_COUNT)
        return g;
    while ((g >> (f + 1)) != 0)
        f++;
    step = (apr_uint64_t)1 << (f - SC_ALLOC_SL_LOG2);
    return g / step * step;
}

/* A private copy of the whole buffer, to prove nothing changed. */
static unsigned char *snapshot(arena_t *ar)
{
    unsigned char *s = apr_palloc(th_pool, (apr_size_t)ar->end);

    memcpy(s, ar->base, (size_t)ar->end);
    return s;
}

static void assert_unchanged(arena_t *ar, const unsigned char *snap)
{
    ck_assert_msg(memcmp(snap, ar->base, (size_t)ar->end) == 0,
                  "the allocator changed memory on a refused call");
}

/* xorshift64*: deterministic and the same on every platform. */
static apr_uint64_t rnd(apr_uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static apr_uint64_t rnd_below(apr_uint64_t *s, apr_uint64_t n)
{
    return rnd(s) % n;
}

/* Request sizes: mostly small, some medium, a few large. */
static apr_uint64_t rnd_size(apr_uint64_t *s)
{
    apr_uint64_t r = rnd_below(s, 100);

    if (r < 60)
        return 1 + rnd_below(s, 64);
    if (r < 92)
        return 65 + rnd_below(s, 960);
    return 1025 + rnd_below(s, 7168);
}

/* ------------------------------------------------------------------------
 * Reference model
 * ---------------------------------------------------------------------- */

typedef struct live_t {
    apr_uint64_t off, req, usable;
    unsigned char tag;
} live_t;

typedef struct model_t {
    arena_t *ar;
    live_t *live;
    int n, cap;
    unsigned char *owned;        /* per region granule: 1 = in a live block */
    apr_uint64_t used_bytes;     /* sum of usable sizes */
    apr_uint64_t seed, ops;
} model_t;

static void model_make(model_t *m, arena_t *ar, int cap, apr_uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->ar = ar;
    m->cap = cap;
    m->live = apr_pcalloc(th_pool, sizeof(live_t) * (apr_size_t)cap);
    m->owned = apr_pcalloc(th_pool, (apr_size_t)(region_bytes(ar) / GRAN));
    m->seed = seed;
}

/* Mark [header, end of payload) of a block as owned (or not). */
static void model_own(model_t *m, const live_t *l, unsigned char to)
{
    apr_uint64_t g = (l->off - GRAN - m->ar->begin) / GRAN;
    apr_uint64_t last = (l->off + l->usable - m->ar->begin) / GRAN;

    for (; g < last; g++) {
        REQUIRE(m->owned[g] != to, "seed %" APR_UINT64_T_FMT " op %" APR_UINT64_T_FMT
                      ": block at %" APR_UINT64_T_FMT " overlaps another live block",
                      m->seed, m->ops, l->off);
        m->owned[g] = to;
    }
}

static void model_add(model_t *m, apr_uint64_t off, apr_uint64_t req)
{
    live_t *l;

    REQUIRE(m->n < m->cap, "model full");
    l = &m->live[m->n++];
    l->off = off;
    l->req = req;
    l->usable = sc_alloc_usable_locked(&m->ar->al, off);
    l->tag = (unsigned char)(m->ops * 7 + 1);
    REQUIRE(off % SC_ALLOC_ALIGN == 0, "payload %" APR_UINT64_T_FMT " misaligned", off);
    REQUIRE(off >= m->ar->begin + GRAN && off + l->usable <= m->ar->end,
                  "payload %" APR_UINT64_T_FMT " outside the region", off);
    REQUIRE(l->usable >= req, "usable %" APR_UINT64_T_FMT " < requested %"
                  APR_UINT64_T_FMT, l->usable, req);
    model_own(m, l, 1);
    memset(m->ar->base + off, l->tag, (size_t)l->usable);
    m->used_bytes += l->usable;
}

/* The ends of a payload still hold the tag written at allocation. */
static void model_verify_data(model_t *m, const live_t *l)
{
    apr_uint64_t i, n = l->usable < 16 ? l->usable : 16;

    for (i = 0; i < n; i++) {
        REQUIRE(m->ar->base[l->off + i] == l->tag
                      && m->ar->base[l->off + l->usable - 1 - i] == l->tag,
                      "seed %" APR_UINT64_T_FMT ": live payload at %" APR_UINT64_T_FMT
                      " was overwritten", m->seed, l->off);
    }
}

static void model_remove(model_t *m, int i)
{
    live_t *l = &m->live[i];

    model_verify_data(m, l);
    xfree(m->ar, l->off);
    model_own(m, l, 0);
    m->used_bytes -= l->usable;
    *l = m->live[--m->n];
}

static int by_offset(const void *x, const void *y)
{
    const live_t *a = x, *b = y;

    return a->off < b->off ? -1 : a->off > b->off;
}

/* ENOMEM is only allowed when no free block guarantees a fit. */
static void model_check_enomem(model_t *m, apr_uint64_t req)
{
    apr_uint64_t cursor = 0, bound = fit_bound((req + GRAN - 1) / GRAN) * GRAN;
    sc_alloc_block_t b;

    do {
        th_ok(sc_alloc_walk_locked(&m->ar->al, &cursor, &b));
        REQUIRE(!b.is_free || b.size < bound, "seed %" APR_UINT64_T_FMT
                      ": malloc(%" APR_UINT64_T_FMT ") said ENOMEM with a free block of %"
                      APR_UINT64_T_FMT " bytes at %" APR_UINT64_T_FMT,
                      m->seed, req, b.size, b.payload);
    } while (cursor != 0);
}

/* largest_free is a real free block within one class step of the largest,
 * and a malloc of it succeeds. */
static void model_check_largest(model_t *m, apr_uint64_t max_free)
{
    sc_alloc_stats_t st = stats_of(m->ar);
    apr_uint64_t p;

    ck_assert_uint_le(st.largest_free, max_free);
    ck_assert_uint_ge(st.largest_free, class_floor(max_free / GRAN) * GRAN);
    if (st.largest_free > 0) {
        th_ok(sc_alloc_malloc_locked(&m->ar->al, st.largest_free, &p));
        xfree(m->ar, p);
    }
}

/* Full comparison: the check passes, the walk shows exactly the model's
 * live blocks in address order, and the counters add up. */
static void model_compare(model_t *m)
{
    sc_alloc_stats_t st;
    apr_uint64_t cursor = 0, blocks = 0, free_bytes = 0, max_free = 0;
    sc_alloc_block_t b;
    int i = 0;

    assert_consistent(m->ar);
    qsort(m->live, (size_t)m->n, sizeof(live_t), by_offset);
    do {
        th_ok(sc_alloc_walk_locked(&m->ar->al, &cursor, &b));
        blocks++;
        if (b.is_free) {
            free_bytes += b.size;
            max_free = b.size > max_free ? b.size : max_free;
            continue;
        }
        REQUIRE(i < m->n && m->live[i].off == b.payload && m->live[i].usable == b.size,
                      "seed %" APR_UINT64_T_FMT " op %" APR_UINT64_T_FMT ": walk found used "
                      "block %" APR_UINT64_T_FMT " the model does not have",
                      m->seed, m->ops, b.payload);
        i++;
    } while (cursor != 0);
    ck_assert_int_eq(i, m->n);
    st = stats_of(m->ar);
    ck_assert_uint_eq(st.used_blocks, (apr_uint64_t)m->n);
    ck_assert_uint_eq(st.used_bytes, m->used_bytes);
    ck_assert_uint_eq(st.free_bytes, free_bytes);
    ck_assert_uint_eq(st.used_bytes + st.free_bytes + blocks * SC_ALLOC_OVERHEAD,
                      region_bytes(m->ar));
    model_check_largest(m, max_free);
}

/* One random step: allocate (more likely while few blocks are live) or
 * free a random live block. */
static void model_step(model_t *m, apr_uint64_t *rs)
{
    apr_uint64_t req, p = 0;
    apr_status_t rv;
    sc_alloc_stats_t before;

    m->ops++;
    if (m->n > 0 && (m->n >= m->cap || rnd_below(rs, 100) < 45)) {
        model_remove(m, (int)rnd_below(rs, (apr_uint64_t)m->n));
        return;
    }
    req = rnd_size(rs);
    before = stats_of(m->ar);
    rv = sc_alloc_malloc_locked(&m->ar->al, req, &p);
    if (rv == APR_SUCCESS) {
        model_add(m, p, req);
        return;
    }
    th_status(rv, SHMCACHE_ENOMEM);
    REQUIRE(stats_of(m->ar).free_bytes == before.free_bytes, "ENOMEM changed the free bytes");
    model_check_enomem(m, req);
    if (m->n > 0)
        model_remove(m, (int)rnd_below(rs, (apr_uint64_t)m->n));
}

/* Run ops random steps from seed, comparing every 997 steps, then free
 * everything and expect one free block again. */
static void model_run(apr_uint64_t seed, apr_uint64_t ops)
{
    arena_t ar;
    model_t m;
    apr_uint64_t rs = seed * 0x9E3779B97F4A7C15ull + 1, i;
    sc_alloc_block_t b[4];

    arena_make(&ar, 1u << 20);
    model_make(&m, &ar, 8192, seed);
    for (i = 0; i < ops; i++) {
        model_step(&m, &rs);
        if (i % 997 == 0)
            model_compare(&m);
    }
    model_compare(&m);
    while (m.n > 0)
        model_remove(&m, (int)rnd_below(&rs, (apr_uint64_t)m.n));
    ck_assert_int_eq(walk_all(&ar, b, 4), 1);
    ck_assert_uint_eq(b[0].size, region_bytes(&ar) - SC_ALLOC_OVERHEAD);
    assert_consistent(&ar);
}

/* ------------------------------------------------------------------------
 * Initialisation and sizes
 * ---------------------------------------------------------------------- */

START_TEST(init_makes_the_region_one_free_block)
{
    arena_t ar;
    sc_alloc_block_t b[4];
    sc_alloc_stats_t st;

    arena_make(&ar, 65536);
    ck_assert_int_eq(walk_all(&ar, b, 4), 1);
    ck_assert_uint_eq(b[0].payload, ar.begin + SC_ALLOC_OVERHEAD);
    ck_assert_uint_eq(b[0].size, 65536 - SC_ALLOC_OVERHEAD);
    ck_assert(b[0].is_free);
    st = stats_of(&ar);
    ck_assert_uint_eq(st.free_blocks, 1);
    ck_assert_uint_eq(st.used_blocks, 0);
    ck_assert_uint_eq(st.used_bytes, 0);
    ck_assert_uint_eq(st.free_bytes, 65536 - SC_ALLOC_OVERHEAD);
    ck_assert_uint_eq(st.largest_free, 65536 - SC_ALLOC_OVERHEAD);
    assert_consistent(&ar);
}
END_TEST

START_TEST(init_refuses_a_region_too_small_or_too_large)
{
    static apr_uint64_t buf[32];          /* 256 bytes, 8-aligned */
    sc_alloc_sh_t a;
    sc_alloc_t al;

    th_status(sc_alloc_init(&al, buf, &a, 64, 72), SHMCACHE_ESIZE);    /* 8 bytes */
    th_status(sc_alloc_init(&al, buf, &a, 64, 64), SHMCACHE_ESIZE);
    th_status(sc_alloc_init(&al, buf, &a, 128, 64), SHMCACHE_ESIZE);
    th_status(sc_alloc_init(&al, buf, &a, 64, 79), SHMCACHE_ESIZE);    /* rounds to 8 */
    th_status(sc_alloc_init(&al, buf, &a, 64, SHMCACHE_LIMIT_SIZE + 8), SHMCACHE_ESIZE);
    th_ok(sc_alloc_init(&al, buf, &a, 64, 80));                         /* 16: one block */
    ck_assert_uint_eq(a.free_bytes, 8);
}
END_TEST

START_TEST(init_rounds_an_unaligned_or_zero_begin_inwards)
{
    static apr_uint64_t buf[32];          /* 256 bytes, 8-aligned */
    sc_alloc_sh_t a;
    sc_alloc_t al;
    apr_uint64_t cursor = 0;
    sc_alloc_block_t b;

    th_ok(sc_alloc_init(&al, buf, &a, 0, 256));
    th_ok(sc_alloc_walk_locked(&al, &cursor, &b));
    ck_assert_uint_eq(b.payload, 16);     /* granule 0 means "none" */
    ck_assert_uint_eq(b.size, 256 - 16);
    th_ok(sc_alloc_init(&al, buf, &a, 13, 251));
    cursor = 0;
    th_ok(sc_alloc_walk_locked(&al, &cursor, &b));
    ck_assert_uint_eq(b.payload, 24);
    ck_assert_uint_eq(b.size, 248 - 24);
    ck_assert_uint_eq(cursor, 0);
    th_ok(sc_alloc_check_locked(&al, NULL, 0));
}
END_TEST

START_TEST(bind_rounds_like_init_and_bounds_ok_sees_a_moved_bound)
{
    static apr_uint64_t buf[64];          /* 512 bytes, 8-aligned */
    sc_alloc_sh_t a;
    sc_alloc_t al, al2;

    th_ok(sc_alloc_init(&al, buf, &a, 64, 512));
    ck_assert(sc_alloc_bounds_ok(&al));
    th_ok(sc_alloc_bind(&al2, buf, &a, 57, 519));   /* the same after rounding */
    ck_assert_uint_eq(al2.begin, al.begin);
    ck_assert_uint_eq(al2.end, al.end);
    ck_assert(sc_alloc_bounds_ok(&al2));
    th_ok(sc_alloc_bind(&al2, buf, &a, 72, 512));
    ck_assert(!sc_alloc_bounds_ok(&al2));
    a.end++;                                        /* another process wrote it */
    ck_assert(!sc_alloc_bounds_ok(&al));
    th_status(sc_alloc_check_locked(&al, NULL, 0), SHMCACHE_ECORRUPT);
    th_ok(sc_alloc_rebuild_locked(&al, NULL, NULL)); /* rebuild restores it */
    ck_assert(sc_alloc_bounds_ok(&al));
    th_ok(sc_alloc_check_locked(&al, NULL, 0));
    th_ok(sc_alloc_init(&al, buf, &a, 0, 512));
    ck_assert_uint_eq(al.begin, 1);                 /* begin 0 means granule 1 */
    th_ok(sc_alloc_bind(&al2, buf, &a, 8, 512));
    ck_assert(sc_alloc_bounds_ok(&al2));
}
END_TEST

START_TEST(block_bytes_is_the_header_plus_whole_granules)
{
    arena_t ar;
    apr_uint64_t n, p, q;

    ck_assert_uint_eq(sc_alloc_block_bytes(0), 16);
    ck_assert_uint_eq(sc_alloc_block_bytes(1), 16);
    ck_assert_uint_eq(sc_alloc_block_bytes(8), 16);
    ck_assert_uint_eq(sc_alloc_block_bytes(9), 24);
    ck_assert_uint_eq(sc_alloc_block_bytes(1000), 1008);
    ck_assert_uint_eq(sc_alloc_block_bytes(~(apr_uint64_t)0), ~(apr_uint64_t)0);
    arena_make(&ar, 1u << 16);
    for (n = 1; n < 300; n += 7) {
        p = xmalloc(&ar, n);
        q = xmalloc(&ar, 1);
        ck_assert_uint_eq(q - p, sc_alloc_block_bytes(n));
        ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p) + SC_ALLOC_OVERHEAD,
                          sc_alloc_block_bytes(n));
        xfree(&ar, p);
        xfree(&ar, q);
    }
    assert_consistent(&ar);
}
END_TEST

/* ------------------------------------------------------------------------
 * Address space without memory: sparse_reserve(size) gives size bytes of
 * zeros of which only the pages touched take memory, or NULL (and why on
 * stderr) where the system cannot; sparse_release gives them back. One
 * implementation per OS.
 * ---------------------------------------------------------------------- */

#if defined(_WIN32)
/* Windows: reserve, and commit each 64 KiB the code touches from a
 * vectored exception handler (a 32 GiB commit could exceed the commit
 * limit of a small machine; this touches a few pages). */
static unsigned char *sparse_base;
static apr_uint64_t sparse_size;
static void *sparse_handler;

static LONG WINAPI commit_on_touch(EXCEPTION_POINTERS *ep)
{
    const EXCEPTION_RECORD *er = ep->ExceptionRecord;
    unsigned char *a;

    if (er->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || er->NumberParameters < 2)
        return EXCEPTION_CONTINUE_SEARCH;
    a = (unsigned char *)er->ExceptionInformation[1];
    if (sparse_base == NULL || a < sparse_base || a >= sparse_base + sparse_size)
        return EXCEPTION_CONTINUE_SEARCH;
    a = (unsigned char *)((ULONG_PTR)a & ~(ULONG_PTR)0xFFFF);
    return VirtualAlloc(a, 0x10000, MEM_COMMIT, PAGE_READWRITE) != NULL
           ? EXCEPTION_CONTINUE_EXECUTION : EXCEPTION_CONTINUE_SEARCH;
}

static unsigned char *sparse_reserve(apr_uint64_t size)
{
    void *p = VirtualAlloc(NULL, (SIZE_T)size, MEM_RESERVE, PAGE_READWRITE);

    if (p == NULL) {
        fprintf(stderr, "sparse_reserve: VirtualAlloc(MEM_RESERVE) failed: %lu\n",
                (unsigned long)GetLastError());
        return NULL;
    }
    sparse_base = p;
    sparse_size = size;
    sparse_handler = AddVectoredExceptionHandler(1, commit_on_touch);
    return p;
}

static void sparse_release(unsigned char *p, apr_uint64_t size)
{
    (void)size;
    RemoveVectoredExceptionHandler(sparse_handler);
    sparse_base = NULL;
    VirtualFree(p, 0, MEM_RELEASE);
}
#elif defined(HAVE_MMAP) && defined(MAP_NORESERVE)
static unsigned char *sparse_reserve(apr_uint64_t size)
{
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED) {
        perror("sparse_reserve: mmap");
        return NULL;
    }
    return p;
}

static void sparse_release(unsigned char *p, apr_uint64_t size)
{
    munmap(p, (size_t)size);
}
#else
static unsigned char *sparse_reserve(apr_uint64_t size)
{
    (void)size;
    fprintf(stderr, "sparse_reserve: not implemented on this system\n");
    return NULL;
}

static void sparse_release(unsigned char *p, apr_uint64_t size)
{
    (void)p;
    (void)size;
}
#endif

START_TEST(a_32_gib_region_is_cut_into_blocks_that_fit_a_header)
{
#if !defined(SHMCACHE_DEBUG)      /* debug builds poison every free byte */
    const apr_uint64_t size = SHMCACHE_LIMIT_SIZE;
    sc_alloc_sh_t a;
    sc_alloc_t al;
    unsigned char *base;
    apr_uint64_t cursor = 0, p1, p2, p3, total = 0, blocks = 0;
    sc_alloc_block_t b;
    char why[WHY_SIZE];

    if (sizeof(void *) < 8)
        return;
    base = sparse_reserve(size);
    if (base == NULL) {
        fprintf(stderr, "a_32_gib_region...: no 32 GiB of address space, skipped\n");
        return;
    }
    th_ok(sc_alloc_init(&al, base, &a, 4096, size));
    ck_assert_uint_eq(a.end, 0xFFFFFFFFu);         /* last granule clamped */
    do {
        th_ok(sc_alloc_walk_locked(&al, &cursor, &b));
        ck_assert(b.is_free);
        ck_assert_uint_le(b.size, (apr_uint64_t)0x7FFFFFFF * 8);
        total += b.size + SC_ALLOC_OVERHEAD;
        blocks++;
    } while (cursor != 0);
    ck_assert_uint_eq(blocks, 2);
    ck_assert_uint_eq(total, size - 8 - 4096);
    ck_assert_msg(sc_alloc_check_locked(&al, why, sizeof why) == APR_SUCCESS, "%s", why);
    /* the first block is exactly the largest payload: an exact fit */
    th_ok(sc_alloc_malloc_locked(&al, (apr_uint64_t)0x7FFFFFFF * 8, &p1));
    th_status(sc_alloc_malloc_locked(&al, (apr_uint64_t)0x7FFFFFFF * 8 + 1, &p2),
              SHMCACHE_ENOMEM);
    th_ok(sc_alloc_malloc_locked(&al, (apr_uint64_t)10 << 30, &p2));
    th_ok(sc_alloc_malloc_locked(&al, (apr_uint64_t)1 << 30, &p3));
    ck_assert_msg(sc_alloc_check_locked(&al, why, sizeof why) == APR_SUCCESS, "%s", why);
    th_ok(sc_alloc_free_locked(&al, p1));
    th_ok(sc_alloc_free_locked(&al, p3));
    th_ok(sc_alloc_free_locked(&al, p2));
    /* two free blocks side by side that one header cannot hold */
    ck_assert_uint_eq(a.free_blocks, 2);
    ck_assert_msg(sc_alloc_check_locked(&al, why, sizeof why) == APR_SUCCESS, "%s", why);
    th_ok(sc_alloc_rebuild_locked(&al, NULL, NULL));
    ck_assert_uint_eq(a.free_blocks, 2);
    ck_assert_msg(sc_alloc_check_locked(&al, why, sizeof why) == APR_SUCCESS, "%s", why);
    /* a free that makes exactly the largest payload still coalesces */
    cursor = 0;
    th_ok(sc_alloc_walk_locked(&al, &cursor, &b));
    th_ok(sc_alloc_walk_locked(&al, &cursor, &b));          /* the second block */
    th_ok(sc_alloc_malloc_locked(&al, b.size, &p2));
    ck_assert_uint_eq(p2, b.payload);
    th_ok(sc_alloc_malloc_locked(&al, 4096, &p1));
    ck_assert_uint_eq(p1, 4096 + 8);
    th_ok(sc_alloc_free_locked(&al, p1));
    th_ok(sc_alloc_free_locked(&al, p2));
    cursor = 0;
    th_ok(sc_alloc_walk_locked(&al, &cursor, &b));
    ck_assert_uint_eq(b.size, (apr_uint64_t)0x7FFFFFFF * 8);
    ck_assert_uint_eq(a.free_blocks, 2);
    sparse_release(base, size);
#endif
}
END_TEST

/* ------------------------------------------------------------------------
 * Allocation and freeing
 * ---------------------------------------------------------------------- */

START_TEST(malloc_returns_aligned_payloads_inside_the_region)
{
    arena_t ar;
    apr_uint64_t p, n;

    arena_make(&ar, 1u << 18);
    for (n = 1; n <= 2000; n += 13) {
        p = xmalloc(&ar, n);
        ck_assert_uint_eq(p % SC_ALLOC_ALIGN, 0);
        ck_assert_uint_ge(p, ar.begin + SC_ALLOC_OVERHEAD);
        ck_assert_uint_le(p + n, ar.end);
        ck_assert_uint_ge(sc_alloc_usable_locked(&ar.al, p), n);
        memset(ar.base + p, 0x5A, (size_t)n);
    }
    assert_consistent(&ar);
}
END_TEST

START_TEST(malloc_of_zero_bytes_gives_a_real_block)
{
    arena_t ar;
    apr_uint64_t p;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 0);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p), 8);
    xfree(&ar, p);
    assert_consistent(&ar);
}
END_TEST

START_TEST(freed_neighbours_coalesce_into_one_block)
{
    arena_t ar;
    apr_uint64_t p[5];
    sc_alloc_block_t b[8];
    int i;

    arena_make(&ar, 8192);
    for (i = 0; i < 5; i++)
        p[i] = xmalloc(&ar, 100);
    xfree(&ar, p[1]);
    xfree(&ar, p[3]);
    ck_assert_uint_eq(stats_of(&ar).free_blocks, 3);       /* 1, 3 and the tail */
    xfree(&ar, p[2]);                                      /* joins 1 and 3 */
    ck_assert_uint_eq(stats_of(&ar).free_blocks, 2);
    ck_assert_int_eq(walk_all(&ar, b, 8), 4);
    ck_assert_uint_eq(b[1].payload, p[1]);
    ck_assert(b[1].is_free);
    ck_assert_uint_eq(b[1].size, 3 * 104 + 2 * SC_ALLOC_OVERHEAD);
    ck_assert(!b[2].is_free);
    ck_assert_uint_eq(b[2].payload, p[4]);
    xfree(&ar, p[4]);                                      /* joins the run and the tail */
    ck_assert_int_eq(walk_all(&ar, b, 8), 2);
    xfree(&ar, p[0]);
    ck_assert_int_eq(walk_all(&ar, b, 8), 1);
    ck_assert_uint_eq(b[0].size, 8192 - SC_ALLOC_OVERHEAD);
    assert_consistent(&ar);
}
END_TEST

START_TEST(freeing_in_any_order_restores_one_free_block)
{
    arena_t ar;
    apr_uint64_t p[200], rs = 42, t;
    sc_alloc_block_t b[4];
    int i, j, round;

    arena_make(&ar, 1u << 17);
    for (round = 0; round < 20; round++) {
        for (i = 0; i < 200; i++)
            p[i] = xmalloc(&ar, 1 + rnd_below(&rs, 300));
        for (i = 199; i > 0; i--) {
            j = (int)rnd_below(&rs, (apr_uint64_t)i + 1);
            t = p[i], p[i] = p[j], p[j] = t;
        }
        for (i = 0; i < 200; i++)
            xfree(&ar, p[i]);
        ck_assert_int_eq(walk_all(&ar, b, 4), 1);
        assert_consistent(&ar);
    }
}
END_TEST

START_TEST(a_request_that_exactly_fits_the_only_free_block_succeeds)
{
    arena_t ar;
    apr_uint64_t p, q, whole = 65528;     /* 8191 granules: not a class boundary */

    arena_make(&ar, 65536);
    th_status(sc_alloc_malloc_locked(&ar.al, whole + 1, &p), SHMCACHE_ENOMEM);
    p = xmalloc(&ar, whole);
    ck_assert_uint_eq(p, ar.begin + SC_ALLOC_OVERHEAD);
    th_status(sc_alloc_malloc_locked(&ar.al, 1, &q), SHMCACHE_ENOMEM);
    ck_assert_uint_eq(stats_of(&ar).free_blocks, 0);
    ck_assert_uint_eq(stats_of(&ar).largest_free, 0);
    assert_consistent(&ar);
    xfree(&ar, p);
    p = xmalloc(&ar, whole - 8);          /* leftover too small for a block */
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p), whole);
    assert_consistent(&ar);
}
END_TEST

START_TEST(a_freed_hole_is_reused_by_a_request_of_the_same_size)
{
    arena_t ar;
    apr_uint64_t a, b, c, d, n;

    arena_make(&ar, 1u << 16);
    for (n = 1; n <= 120; n += 9) {       /* exact classes */
        a = xmalloc(&ar, 64);
        b = xmalloc(&ar, n);
        c = xmalloc(&ar, 64);
        xfree(&ar, b);
        d = xmalloc(&ar, n);
        ck_assert_uint_eq(d, b);
        xfree(&ar, a);
        xfree(&ar, c);
        xfree(&ar, d);
    }
    assert_consistent(&ar);
}
END_TEST

START_TEST(malloc_fails_with_enomem_and_changes_nothing_when_full)
{
    arena_t ar;
    apr_uint64_t p, q;
    unsigned char *snap;

    arena_make(&ar, 4096);
    while (sc_alloc_malloc_locked(&ar.al, 200, &p) == APR_SUCCESS)
        ;
    snap = snapshot(&ar);
    th_status(sc_alloc_malloc_locked(&ar.al, 200, &q), SHMCACHE_ENOMEM);
    th_status(sc_alloc_malloc_locked(&ar.al, (apr_uint64_t)1 << 40, &q),
              SHMCACHE_ENOMEM);
    th_status(sc_alloc_malloc_locked(&ar.al, ~(apr_uint64_t)0, &q), SHMCACHE_ENOMEM);
    assert_unchanged(&ar, snap);
    assert_consistent(&ar);
}
END_TEST

START_TEST(a_fragmented_region_refuses_a_request_larger_than_every_hole)
{
    arena_t ar;
    apr_uint64_t p[64], q;
    sc_alloc_stats_t st;
    int i;

    arena_make(&ar, 64 * 136);
    for (i = 0; i < 64; i++)
        p[i] = xmalloc(&ar, 128);
    for (i = 0; i < 64; i += 2)
        xfree(&ar, p[i]);
    st = stats_of(&ar);
    ck_assert_uint_eq(st.free_blocks, 32);
    ck_assert_uint_eq(st.free_bytes, 32 * 128);
    ck_assert_uint_eq(st.largest_free, 128);
    th_status(sc_alloc_malloc_locked(&ar.al, 129, &q), SHMCACHE_ENOMEM);
    q = xmalloc(&ar, 128);                   /* a hole fits exactly */
    xfree(&ar, q);
    xfree(&ar, p[31]);                       /* 30, 31, 32 become one */
    ck_assert_uint_eq(stats_of(&ar).largest_free, 3 * 128 + 2 * SC_ALLOC_OVERHEAD);
    q = xmalloc(&ar, 3 * 128 + 2 * SC_ALLOC_OVERHEAD);
    ck_assert_uint_eq(q, p[30]);
    assert_consistent(&ar);
}
END_TEST

START_TEST(largest_free_is_the_largest_free_block)
{
    arena_t ar;
    apr_uint64_t p[40];
    int i;

    arena_make(&ar, 1u << 16);
    for (i = 0; i < 40; i++)
        p[i] = xmalloc(&ar, 8 * (apr_uint64_t)(i + 1));
    xfree(&ar, p[39]);                       /* merges with the tail */
    ck_assert_uint_eq(stats_of(&ar).largest_free, stats_of(&ar).free_bytes);
    p[39] = xmalloc(&ar, stats_of(&ar).largest_free);     /* no tail left */
    ck_assert_uint_eq(stats_of(&ar).free_blocks, 0);
    for (i = 0; i < 30; i += 3)
        xfree(&ar, p[i]);                    /* holes of 8, 32, 56, ... 224 bytes */
    ck_assert_uint_eq(stats_of(&ar).largest_free, 8 * 28);
    xfree(&ar, p[1]);                        /* joins p[0]: 32 bytes, still 224 */
    ck_assert_uint_eq(stats_of(&ar).largest_free, 8 * 28);
    xfree(&ar, p[28]);                       /* joins the 224-byte hole of p[27] */
    ck_assert_uint_eq(stats_of(&ar).largest_free, 8 * (28 + 29) + SC_ALLOC_OVERHEAD);
    assert_consistent(&ar);
}
END_TEST

START_TEST(largest_free_is_exact_when_the_top_class_holds_few_blocks)
{
    arena_t ar;
    apr_uint64_t p[8], q;
    static const apr_uint64_t granules[4] = {64, 67, 65, 66};   /* one class */
    int i;

    arena_make(&ar, 1u << 14);
    for (i = 0; i < 4; i++) {
        p[2 * i] = xmalloc(&ar, granules[i] * 8);
        p[2 * i + 1] = xmalloc(&ar, 8);
    }
    xmalloc(&ar, stats_of(&ar).largest_free);   /* no tail */
    xfree(&ar, p[2]);                           /* 67: pushed first, ends last */
    xfree(&ar, p[0]);
    xfree(&ar, p[4]);
    xfree(&ar, p[6]);
    ck_assert_uint_eq(stats_of(&ar).free_blocks, 4);
    ck_assert_uint_eq(stats_of(&ar).largest_free, 67 * 8);
    q = xmalloc(&ar, 67 * 8);
    ck_assert_uint_eq(q, p[2]);
    ck_assert_uint_eq(stats_of(&ar).largest_free, 66 * 8);
    assert_consistent(&ar);
}
END_TEST

START_TEST(largest_free_stays_within_a_class_step_under_random_use)
{
    model_run(7, 40000);   /* model_compare checks largest_free every 997 ops */
}
END_TEST

/* ------------------------------------------------------------------------
 * Walking
 * ---------------------------------------------------------------------- */

START_TEST(walk_visits_every_block_once_in_address_order)
{
    arena_t ar;
    apr_uint64_t p[100], rs = 3, expect;
    sc_alloc_block_t b[256];
    int i, n;

    arena_make(&ar, 1u << 16);
    for (i = 0; i < 100; i++)
        p[i] = xmalloc(&ar, 1 + rnd_below(&rs, 200));
    for (i = 0; i < 100; i += 3)
        xfree(&ar, p[i]);
    n = walk_all(&ar, b, 256);
    expect = ar.begin + SC_ALLOC_OVERHEAD;
    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(b[i].payload, expect);   /* tiles, in order, no repeats */
        ck_assert(i == 0 || !(b[i].is_free && b[i - 1].is_free));
        expect = b[i].payload + b[i].size + SC_ALLOC_OVERHEAD;
    }
    ck_assert_uint_eq(expect, ar.end + SC_ALLOC_OVERHEAD);
    ck_assert_uint_eq((apr_uint64_t)n, stats_of(&ar).used_blocks + stats_of(&ar).free_blocks);
    for (i = 1; i < 100; i++)                   /* every live block is seen */
        if (i % 3 != 0) {
            int j, seen = 0;
            for (j = 0; j < n; j++)
                seen += b[j].payload == p[i] && !b[j].is_free;
            ck_assert_int_eq(seen, 1);
        }
}
END_TEST

START_TEST(walk_rejects_a_cursor_that_is_not_a_block)
{
    arena_t ar;
    apr_uint64_t p, q, cursor;
    sc_alloc_block_t b;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 256);
    q = xmalloc(&ar, 8);
    memset(ar.base + p, 0, 256);
    cursor = p + 64;                                 /* inside a payload */
    th_status(sc_alloc_walk_locked(&ar.al, &cursor, &b), SHMCACHE_ECORRUPT);
    cursor = p + 3;
    th_status(sc_alloc_walk_locked(&ar.al, &cursor, &b), SHMCACHE_ECORRUPT);
    cursor = ar.end + 8;
    th_status(sc_alloc_walk_locked(&ar.al, &cursor, &b), SHMCACHE_ECORRUPT);
    cursor = 8;
    th_status(sc_alloc_walk_locked(&ar.al, &cursor, &b), SHMCACHE_ECORRUPT);
    cursor = q;
    th_ok(sc_alloc_walk_locked(&ar.al, &cursor, &b));
    ck_assert_uint_eq(b.payload, q);
    xfree(&ar, q);                                   /* q merges into the tail */
    cursor = q;
    th_ok(sc_alloc_walk_locked(&ar.al, &cursor, &b));   /* q heads the tail */
    ck_assert(b.is_free);
    ck_assert_uint_eq(cursor, 0);
    xfree(&ar, p);                                   /* q's header is absorbed */
    cursor = q;
    th_status(sc_alloc_walk_locked(&ar.al, &cursor, &b), SHMCACHE_ECORRUPT);
}
END_TEST

/* ------------------------------------------------------------------------
 * The reference model
 * ---------------------------------------------------------------------- */

START_TEST(random_sequences_match_a_reference_model)
{
    static const apr_uint64_t seeds[] = {1, 0xC0FFEE, 20240601};
    apr_uint64_t ops = (apr_uint64_t)th_env_long("SHMCACHE_TEST_OPS", 150000);
    size_t i;

    for (i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        model_run(seeds[i], ops);
}
END_TEST

START_TEST(a_random_sequence_from_the_environment_seed_matches_the_model)
{
    apr_uint64_t seed = (apr_uint64_t)th_env_long("SHMCACHE_TEST_SEED", 0);
    apr_uint64_t ops = (apr_uint64_t)th_env_long("SHMCACHE_TEST_OPS", 150000);

    if (seed == 0) {
        seed = (apr_uint64_t)apr_time_now() % 1000000007u;
        fprintf(stderr, "test_alloc: SHMCACHE_TEST_SEED=%llu\n", (unsigned long long)seed);
    }
    model_run(seed, ops);
}
END_TEST

/* ------------------------------------------------------------------------
 * Corruption
 * ---------------------------------------------------------------------- */

/* Blocks A F1 B F2 C F3 D + tail, the Fi free, same class, so list
 * [class of 96 bytes] holds F3 -> F2 -> F1 (pushed last first). */
static void three_holes(arena_t *ar, apr_uint64_t *used, apr_uint64_t *hole)
{
    int i;

    arena_make(ar, 8192);
    for (i = 0; i < 3; i++) {
        used[i] = xmalloc(ar, 40);
        hole[i] = xmalloc(ar, 96);
    }
    used[3] = xmalloc(ar, 40);
    for (i = 0; i < 3; i++)
        xfree(ar, hole[i]);
    assert_consistent(ar);
}

START_TEST(check_reports_a_flipped_header_size)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];

    three_holes(&ar, used, hole);
    *hdr(&ar, used[1], 0) ^= 0x4;
    assert_check_fails(&ar);
    *hdr(&ar, used[1], 0) ^= 0x4;
    *hdr(&ar, hole[1], 0) ^= 0x100000;      /* far past the end */
    assert_check_fails(&ar);
    *hdr(&ar, hole[1], 0) ^= 0x100000;
    assert_consistent(&ar);
}
END_TEST

START_TEST(free_refuses_a_block_whose_size_was_flipped)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];
    apr_uint32_t flipped;
    unsigned char *snap;

    three_holes(&ar, used, hole);
    flipped = *hdr(&ar, used[1], 0) + 1;
    *hdr(&ar, used[1], 0) = flipped;
    snap = snapshot(&ar);
    th_status(sc_alloc_free_locked(&ar.al, used[1]), SHMCACHE_ECORRUPT);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, used[1]), 0);
    *hdr(&ar, used[1], 0) = 0x7FFFFFFF;
    th_status(sc_alloc_free_locked(&ar.al, used[1]), SHMCACHE_ECORRUPT);
    *hdr(&ar, used[1], 0) = 0;
    th_status(sc_alloc_free_locked(&ar.al, used[1]), SHMCACHE_ECORRUPT);
    *hdr(&ar, used[1], 0) = flipped;        /* as in the snapshot */
    assert_unchanged(&ar, snap);
}
END_TEST

START_TEST(malloc_reports_a_broken_free_list_link)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3], p;
    unsigned char *snap;

    three_holes(&ar, used, hole);
    /* the head of the list is hole[2]; its next must be hole[1] */
    ck_assert_uint_eq(*links(&ar, hole[2], 0), granule_of(hole[1]));
    *links(&ar, hole[2], 0) = 0xFFFFFF00u;               /* wild */
    snap = snapshot(&ar);
    th_status(sc_alloc_malloc_locked(&ar.al, 96, &p), SHMCACHE_ECORRUPT);
    assert_unchanged(&ar, snap);
    assert_check_fails(&ar);
    *links(&ar, hole[2], 0) = (apr_uint32_t)granule_of(used[0]);   /* a used block */
    th_status(sc_alloc_malloc_locked(&ar.al, 96, &p), SHMCACHE_ECORRUPT);
    assert_check_fails(&ar);
    /* freeing used[2] would merge with hole[2]: refused too */
    th_status(sc_alloc_free_locked(&ar.al, used[2]), SHMCACHE_ECORRUPT);
    *links(&ar, hole[2], 0) = (apr_uint32_t)granule_of(hole[1]);
    assert_consistent(&ar);
}
END_TEST

START_TEST(check_reports_a_broken_back_link)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];

    three_holes(&ar, used, hole);
    ck_assert_uint_eq(*links(&ar, hole[1], 1), granule_of(hole[2]));
    *links(&ar, hole[1], 1) = (apr_uint32_t)granule_of(hole[0]);
    assert_check_fails(&ar);
    /* freeing used[1] merges with hole[1], whose links no longer agree */
    th_status(sc_alloc_free_locked(&ar.al, used[1]), SHMCACHE_ECORRUPT);
}
END_TEST

START_TEST(check_reports_a_cycle_in_a_free_list)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];

    three_holes(&ar, used, hole);
    ck_assert_uint_eq(*links(&ar, hole[0], 0), 0);       /* the tail of the list */
    *links(&ar, hole[0], 0) = (apr_uint32_t)granule_of(hole[2]);
    assert_check_fails(&ar);
    *links(&ar, hole[2], 1) = (apr_uint32_t)granule_of(hole[0]);   /* a perfect ring */
    assert_check_fails(&ar);
}
END_TEST

START_TEST(check_and_malloc_report_a_flipped_bitmap_bit)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3], p;
    unsigned fl, sl, tfl, tsl;

    three_holes(&ar, used, hole);
    class_of(96 / 8, &fl, &sl);
    /* clear the bit of a non-empty list */
    ar.a->sl_bitmap[fl] ^= 1u << sl;
    assert_check_fails(&ar);
    ar.a->sl_bitmap[fl] ^= 1u << sl;
    /* set the bit of an empty list between the request and the tail */
    class_of(500, &tfl, &tsl);
    ck_assert_uint_eq(ar.a->heads[tfl][tsl], 0);
    ar.a->sl_bitmap[tfl] |= 1u << tsl;
    ar.a->fl_bitmap |= 1u << tfl;
    assert_check_fails(&ar);
    th_status(sc_alloc_malloc_locked(&ar.al, 400 * 8, &p), SHMCACHE_ECORRUPT);
    ar.a->sl_bitmap[tfl] &= ~(1u << tsl);
    ar.a->fl_bitmap &= ~(1u << tfl);
    assert_consistent(&ar);
    /* an fl bit with no sl bits, below the tail's class */
    ck_assert_uint_eq(ar.a->sl_bitmap[5], 0);
    ar.a->fl_bitmap |= 1u << 5;
    assert_check_fails(&ar);
    th_status(sc_alloc_malloc_locked(&ar.al, 1000, &p), SHMCACHE_ECORRUPT);
    ar.a->fl_bitmap &= ~(1u << 5);
    /* a bit above the 16 second-level classes */
    ar.a->sl_bitmap[fl] |= 1u << 20;
    assert_check_fails(&ar);
}
END_TEST

START_TEST(check_reports_a_list_head_outside_the_region)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3], p;
    unsigned fl, sl;

    three_holes(&ar, used, hole);
    class_of(96 / 8, &fl, &sl);
    ar.a->heads[fl][sl] = 0xFFFFFFF0u;
    assert_check_fails(&ar);
    th_status(sc_alloc_malloc_locked(&ar.al, 96, &p), SHMCACHE_ECORRUPT);
    ar.a->heads[fl][sl] = 3;                             /* before the region */
    assert_check_fails(&ar);
    th_status(sc_alloc_malloc_locked(&ar.al, 96, &p), SHMCACHE_ECORRUPT);
}
END_TEST

START_TEST(check_reports_two_adjacent_free_blocks)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3], g;
    unsigned fl, sl;

    three_holes(&ar, used, hole);
    /* make used[1] (40 bytes, followed by hole[1]) free and listed */
    g = granule_of(used[1]);
    *hdr(&ar, used[1], 0) |= FREE_BIT;
    class_of(5, &fl, &sl);
    ck_assert_uint_eq(ar.a->heads[fl][sl], 0);
    ar.a->heads[fl][sl] = (apr_uint32_t)g;
    ar.a->sl_bitmap[fl] |= 1u << sl;
    ar.a->fl_bitmap |= 1u << fl;
    *links(&ar, used[1], 0) = 0;
    *links(&ar, used[1], 1) = 0;
    ar.a->used_blocks--;
    ar.a->free_blocks++;
    ar.a->used_bytes -= 40;
    ar.a->free_bytes += 40;
    {
        char why[WHY_SIZE] = "";
        th_status(sc_alloc_check_locked(&ar.al, why, sizeof why), SHMCACHE_ECORRUPT);
        ck_assert_msg(strstr(why, "adjacent") != NULL, "unexpected reason: %s", why);
    }
}
END_TEST

START_TEST(check_reports_counters_that_do_not_add_up)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];

    three_holes(&ar, used, hole);
    ar.a->used_bytes += 8;
    assert_check_fails(&ar);
    ar.a->used_bytes -= 8;
    ar.a->free_blocks++;
    assert_check_fails(&ar);
    ar.a->free_blocks--;
    assert_consistent(&ar);
}
END_TEST

START_TEST(check_reports_a_stale_previous_block_link)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];

    three_holes(&ar, used, hole);
    *hdr(&ar, used[2], 1) += 1;
    assert_check_fails(&ar);
    th_status(sc_alloc_free_locked(&ar.al, used[2]), SHMCACHE_ECORRUPT);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, used[2]), 0);
}
END_TEST

START_TEST(double_free_is_refused_and_changes_nothing)
{
    arena_t ar;
    apr_uint64_t p[4];
    unsigned char *snap;
    int i;

    arena_make(&ar, 4096);
    for (i = 0; i < 4; i++)
        p[i] = xmalloc(&ar, 64);
    xfree(&ar, p[1]);                       /* a lone free block */
    snap = snapshot(&ar);
    th_status(sc_alloc_free_locked(&ar.al, p[1]), SHMCACHE_ECORRUPT);
    assert_unchanged(&ar, snap);
    xfree(&ar, p[2]);                       /* absorbed into p[1] */
    snap = snapshot(&ar);
    th_status(sc_alloc_free_locked(&ar.al, p[2]), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, p[1]), SHMCACHE_ECORRUPT);
    assert_unchanged(&ar, snap);
    xfree(&ar, p[0]);                       /* p[1] is absorbed into p[0] */
    snap = snapshot(&ar);
    th_status(sc_alloc_free_locked(&ar.al, p[1]), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, p[0]), SHMCACHE_ECORRUPT);
    assert_unchanged(&ar, snap);
    assert_consistent(&ar);
}
END_TEST

START_TEST(free_refuses_wild_offsets_and_changes_nothing)
{
    arena_t ar;
    apr_uint64_t p, q, wild[] = {0, 1, 4, 8, REGION_OFF - 8, REGION_OFF, REGION_OFF + 4};
    unsigned char *snap;
    size_t i;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 512);
    q = xmalloc(&ar, 64);
    memset(ar.base + p, 0, 512);
    /* a forged used header inside p's payload, claiming p as its predecessor */
    *(apr_uint32_t *)(void *)(ar.base + p + 248) = 2;
    *(apr_uint32_t *)(void *)(ar.base + p + 252) = (apr_uint32_t)granule_of(p);
    snap = snapshot(&ar);
    for (i = 0; i < sizeof wild / sizeof wild[0]; i++)
        th_status(sc_alloc_free_locked(&ar.al, wild[i]), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, p + 8), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, p + 256), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, ar.end), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, ar.end - 8), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, ~(apr_uint64_t)7), SHMCACHE_ECORRUPT);
    th_status(sc_alloc_free_locked(&ar.al, (apr_uint64_t)1 << 40), SHMCACHE_ECORRUPT);
    assert_unchanged(&ar, snap);
    xfree(&ar, q);
    xfree(&ar, p);
    assert_consistent(&ar);
}
END_TEST

START_TEST(usable_is_zero_for_anything_but_an_allocated_block)
{
    arena_t ar;
    apr_uint64_t p, q;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 100);
    q = xmalloc(&ar, 100);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p), 104);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p + 8), 0);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, 0), 0);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, ar.end + 64), 0);
    xfree(&ar, p);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p), 0);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, q + 112), 0);  /* the tail */
}
END_TEST

START_TEST(bounds_recorded_in_the_control_block_are_never_followed)
{
    /* the control block lives in the segment, where another process can
     * rewrite it at any instant: the allocator uses only the bounds it
     * was bound to; check reports the difference and rebuild restores it */
    arena_t ar;
    apr_uint64_t p, q, cursor = 0;
    sc_alloc_block_t b;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 64);
    ar.a->begin = ar.a->end;
    ar.a->end = 0xFFFFFFFFu;
    assert_check_fails(&ar);
    q = xmalloc(&ar, 8);
    ck_assert_uint_lt(q, ar.end);
    xfree(&ar, p);
    th_ok(sc_alloc_walk_locked(&ar.al, &cursor, &b));
    ck_assert_uint_eq(b.payload, ar.begin + SC_ALLOC_OVERHEAD);
    th_ok(sc_alloc_rebuild_locked(&ar.al, NULL, NULL));
    assert_consistent(&ar);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, q), 8);
}
END_TEST

/* Flip one byte of metadata, then use the allocator: nothing may crash,
 * and when the check passes, nothing else may find corruption either. */
static void flip_and_use(apr_uint64_t *rs)
{
    arena_t ar;
    apr_uint64_t live[64], p = 0, cursor = 0, target, blocks = 0;
    sc_alloc_block_t b;
    int n = 0, i, check_ok;
    apr_status_t rv;
    unsigned char *meta;

    arena_make(&ar, 16384);
    for (i = 0; i < 60; i++) {
        if (n > 0 && rnd_below(rs, 3) == 0) {
            int k = (int)rnd_below(rs, (apr_uint64_t)n);
            xfree(&ar, live[k]);
            live[k] = live[--n];
        } else if (sc_alloc_malloc_locked(&ar.al, rnd_size(rs) % 700 + 1, &p)
                   == APR_SUCCESS) {
            live[n++] = p;
        }
    }
    do {
        th_ok(sc_alloc_walk_locked(&ar.al, &cursor, &b));
        blocks++;
    } while (cursor != 0);
    if (rnd_below(rs, 3) == 0) {
        /* the control block past begin/end (those are trusted, see alloc.c) */
        meta = (unsigned char *)ar.a + 8;
        target = rnd_below(rs, sizeof(sc_alloc_sh_t) - 8);
    } else {
        /* a header or the first payload granule of a random block */
        target = rnd_below(rs, blocks);
        cursor = 0;
        do
            th_ok(sc_alloc_walk_locked(&ar.al, &cursor, &b));
        while (target-- > 0);
        meta = ar.base + b.payload - 8;
        target = rnd_below(rs, 16);
    }
    meta[target] ^= (unsigned char)(1u << rnd_below(rs, 8));
    check_ok = sc_alloc_check_locked(&ar.al, NULL, 0) == APR_SUCCESS;
    for (i = 0; i < 40; i++) {
        if (n > 0 && rnd_below(rs, 2) == 0) {
            int k = (int)rnd_below(rs, (apr_uint64_t)n);
            rv = sc_alloc_free_locked(&ar.al, live[k]);
            live[k] = live[--n];
        } else {
            rv = sc_alloc_malloc_locked(&ar.al, rnd_size(rs) % 700 + 1, &p);
            if (rv == APR_SUCCESS && n < 64)
                live[n++] = p;
        }
        REQUIRE(!(check_ok && rv == SHMCACHE_ECORRUPT),
                      "the check passed but a later call found corruption");
        sc_alloc_usable_locked(&ar.al, p);
    }
    if (check_ok)
        assert_consistent(&ar);
    else
        sc_alloc_check_locked(&ar.al, NULL, 0);
}

START_TEST(random_byte_flips_never_crash_and_the_check_sees_what_calls_see)
{
    apr_uint64_t rs = 0x5EED;
    int i;

    for (i = 0; i < 3000; i++)
        flip_and_use(&rs);
}
END_TEST

/* ------------------------------------------------------------------------
 * Rebuild
 * ---------------------------------------------------------------------- */

typedef struct liveset_t {
    apr_uint64_t *p;
    int n;
} liveset_t;

static int in_liveset(void *baton, apr_uint64_t payload)
{
    liveset_t *s = baton;
    int i;

    for (i = 0; i < s->n; i++)
        if (s->p[i] == payload)
            return 1;
    return 0;
}

START_TEST(rebuild_restores_a_consistent_allocator)
{
    arena_t ar;
    model_t m;
    apr_uint64_t rs = 99, keep[8192];
    liveset_t set = {keep, 0};
    int i;

    arena_make(&ar, 1u << 18);
    model_make(&m, &ar, 8192, 99);
    for (i = 0; i < 5000; i++)
        model_step(&m, &rs);
    for (i = 0; i < m.n; i++)
        keep[set.n++] = m.live[i].off;
    /* trash everything but the block sizes */
    memset(ar.a->heads, 0x77, sizeof ar.a->heads);
    memset(ar.a->sl_bitmap, 0x33, sizeof ar.a->sl_bitmap);
    ar.a->fl_bitmap = 0x5555;
    ar.a->used_bytes = 12345;
    ar.a->free_blocks = 7;
    *hdr(&ar, m.live[0].off, 1) ^= 0x40;
    assert_check_fails(&ar);
    th_ok(sc_alloc_rebuild_locked(&ar.al, in_liveset, &set));
    model_compare(&m);                        /* same live blocks, data intact */
    for (i = 0; i < m.n; i++)
        model_verify_data(&m, &m.live[i]);
    for (i = 0; i < 20000; i++)               /* and it keeps working */
        model_step(&m, &rs);
    model_compare(&m);
}
END_TEST

START_TEST(rebuild_frees_blocks_that_are_no_longer_live_and_coalesces_them)
{
    arena_t ar;
    apr_uint64_t p[50], keep[50];
    liveset_t set = {keep, 0};
    sc_alloc_block_t b[128];
    int i, n;

    arena_make(&ar, 1u << 14);
    for (i = 0; i < 50; i++)
        p[i] = xmalloc(&ar, 100);
    for (i = 0; i < 50; i++)
        if (i % 5 == 0)
            keep[set.n++] = p[i];
    th_ok(sc_alloc_rebuild_locked(&ar.al, in_liveset, &set));
    assert_consistent(&ar);
    n = walk_all(&ar, b, 128);
    ck_assert_int_eq(n, 20);                  /* 10 kept, 10 merged runs */
    ck_assert_uint_eq(stats_of(&ar).used_blocks, 10);
    for (i = 0; i < 50; i++)
        ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, p[i]) != 0, i % 5 == 0);
    ck_assert_uint_eq(b[1].size, 4 * 104 + 3 * 8);          /* blocks 1-4 */
    ck_assert_uint_eq(stats_of(&ar).largest_free,           /* 46-49 + the tail */
                      region_bytes(&ar) - 46 * 112 - SC_ALLOC_OVERHEAD);
}
END_TEST

START_TEST(rebuild_repairs_a_writer_that_died_mid_split)
{
    arena_t ar;
    apr_uint64_t p, q, g, tail, size;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 64);
    /* take_block stopped after writing the tail header and shrinking the
     * block, before fixing the lists and the counters */
    q = p + 72;                                /* the free block after p */
    g = granule_of(q);
    size = *hdr(&ar, q, 0) & ~FREE_BIT;
    tail = g + 1 + 10;
    *(apr_uint32_t *)(void *)(ar.base + tail * 8) = FREE_BIT | (apr_uint32_t)(size - 11);
    *(apr_uint32_t *)(void *)(ar.base + tail * 8 + 4) = (apr_uint32_t)g;
    *hdr(&ar, q, 0) = 10;                      /* used, 80 bytes */
    assert_check_fails(&ar);
    th_ok(sc_alloc_rebuild_locked(&ar.al, NULL, NULL));
    assert_consistent(&ar);
    ck_assert_uint_eq(stats_of(&ar).used_blocks, 2);
    ck_assert_uint_eq(sc_alloc_usable_locked(&ar.al, q), 80);
    {
        apr_uint64_t keep[1] = {p};
        liveset_t set = {keep, 1};
        th_ok(sc_alloc_rebuild_locked(&ar.al, in_liveset, &set));
    }
    assert_consistent(&ar);
    ck_assert_uint_eq(stats_of(&ar).free_blocks, 1);
    ck_assert_uint_eq(stats_of(&ar).largest_free, 4096 - 72 - 8);
}
END_TEST

START_TEST(rebuild_refuses_a_broken_physical_chain)
{
    arena_t ar;
    apr_uint64_t used[4], hole[3];
    unsigned char *snap;

    three_holes(&ar, used, hole);
    *hdr(&ar, used[2], 0) = 0;
    snap = snapshot(&ar);
    th_status(sc_alloc_rebuild_locked(&ar.al, NULL, NULL), SHMCACHE_ECORRUPT);
    assert_unchanged(&ar, snap);
    *hdr(&ar, used[2], 0) = 0x40000;
    th_status(sc_alloc_rebuild_locked(&ar.al, NULL, NULL), SHMCACHE_ECORRUPT);
    /* the only way out: start over */
    th_ok(sc_alloc_init(&ar.al, ar.base, ar.a, ar.begin, ar.end));
    assert_consistent(&ar);
}
END_TEST

#ifdef SHMCACHE_DEBUG
START_TEST(freed_payloads_are_poisoned_in_debug_builds)
{
    arena_t ar;
    apr_uint64_t p, q, i;

    arena_make(&ar, 4096);
    p = xmalloc(&ar, 256);
    q = xmalloc(&ar, 8);
    memset(ar.base + p, 0, 256);
    xfree(&ar, p);
    for (i = 8; i < 256; i++)                 /* the first 8 bytes hold links */
        ck_assert_uint_eq(ar.base[p + i], 0xDB);
    (void)q;
}
END_TEST
#endif

/* ------------------------------------------------------------------------ */

Suite *test_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc;

    tc = tcase_create("init");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, init_makes_the_region_one_free_block);
    tcase_add_test(tc, init_refuses_a_region_too_small_or_too_large);
    tcase_add_test(tc, init_rounds_an_unaligned_or_zero_begin_inwards);
    tcase_add_test(tc, bind_rounds_like_init_and_bounds_ok_sees_a_moved_bound);
    tcase_add_test(tc, block_bytes_is_the_header_plus_whole_granules);
    tcase_add_test(tc, a_32_gib_region_is_cut_into_blocks_that_fit_a_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("malloc_free");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, malloc_returns_aligned_payloads_inside_the_region);
    tcase_add_test(tc, malloc_of_zero_bytes_gives_a_real_block);
    tcase_add_test(tc, freed_neighbours_coalesce_into_one_block);
    tcase_add_test(tc, freeing_in_any_order_restores_one_free_block);
    tcase_add_test(tc, a_request_that_exactly_fits_the_only_free_block_succeeds);
    tcase_add_test(tc, a_freed_hole_is_reused_by_a_request_of_the_same_size);
    tcase_add_test(tc, malloc_fails_with_enomem_and_changes_nothing_when_full);
    tcase_add_test(tc, a_fragmented_region_refuses_a_request_larger_than_every_hole);
    tcase_add_test(tc, largest_free_is_the_largest_free_block);
    tcase_add_test(tc, largest_free_is_exact_when_the_top_class_holds_few_blocks);
    tcase_add_test(tc, largest_free_stays_within_a_class_step_under_random_use);
#ifdef SHMCACHE_DEBUG
    tcase_add_test(tc, freed_payloads_are_poisoned_in_debug_builds);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, walk_visits_every_block_once_in_address_order);
    tcase_add_test(tc, walk_rejects_a_cursor_that_is_not_a_block);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 600);      /* long runs; slow under sanitizers */
    tcase_add_test(tc, random_sequences_match_a_reference_model);
    tcase_add_test(tc, a_random_sequence_from_the_environment_seed_matches_the_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("corruption");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, check_reports_a_flipped_header_size);
    tcase_add_test(tc, free_refuses_a_block_whose_size_was_flipped);
    tcase_add_test(tc, malloc_reports_a_broken_free_list_link);
    tcase_add_test(tc, check_reports_a_broken_back_link);
    tcase_add_test(tc, check_reports_a_cycle_in_a_free_list);
    tcase_add_test(tc, check_and_malloc_report_a_flipped_bitmap_bit);
    tcase_add_test(tc, check_reports_a_list_head_outside_the_region);
    tcase_add_test(tc, check_reports_two_adjacent_free_blocks);
    tcase_add_test(tc, check_reports_counters_that_do_not_add_up);
    tcase_add_test(tc, check_reports_a_stale_previous_block_link);
    tcase_add_test(tc, double_free_is_refused_and_changes_nothing);
    tcase_add_test(tc, free_refuses_wild_offsets_and_changes_nothing);
    tcase_add_test(tc, usable_is_zero_for_anything_but_an_allocated_block);
    tcase_add_test(tc, bounds_recorded_in_the_control_block_are_never_followed);
    tcase_add_test(tc, random_byte_flips_never_crash_and_the_check_sees_what_calls_see);
    suite_add_tcase(s, tc);

    tc = tcase_create("rebuild");
    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, rebuild_restores_a_consistent_allocator);
    tcase_add_test(tc, rebuild_frees_blocks_that_are_no_longer_live_and_coalesces_them);
    tcase_add_test(tc, rebuild_repairs_a_writer_that_died_mid_split);
    tcase_add_test(tc, rebuild_refuses_a_broken_physical_chain);
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
