/*
 * alloc.c - the TLSF allocator that lives inside the segment (contract in
 * alloc.h).
 *
 * The managed region is cut into physical blocks that tile it exactly.
 * Free blocks sit on one of SC_ALLOC_FL_COUNT x SC_ALLOC_SL_COUNT
 * doubly-linked free lists, one per size class (a power of two split into
 * 16 linear steps); two bitmaps say which lists are non-empty, so malloc
 * finds a block with a probe of at most FIT_PROBES blocks of the request's
 * own class and then two find-first-set operations, and free coalesces
 * with both physical neighbours, all in O(1). Every link is a 32-bit count
 * of 8-byte granules from the segment base (0 = none), so any process can
 * use the allocator wherever it mapped the segment.
 *
 * Nothing read from the segment is trusted: before a block is used, its
 * header is checked against the region bounds and against its physical
 * neighbours (the previous block must end where it starts, the next block
 * must point back at it), and list links are checked in both directions.
 * Every mutating call validates everything it will touch before it writes
 * anything, so a corrupt segment yields SHMCACHE_ECORRUPT with nothing
 * changed. Walks are bounded by the region size. The control block's own
 * region bounds (begin, end) are the one thing taken on trust here: every
 * caller first checks them against the region it validated at attach
 * (sc_alloc_bounds_ok), since another process may overwrite them later.
 *
 * Crash consistency: the physical chain is defined by block sizes alone,
 * and every change to it is a single 32-bit store (new headers are written
 * in free space before the store that makes them reachable), so a writer
 * killed at any point leaves a chain that sc_alloc_rebuild_locked can turn
 * back into a consistent allocator.
 *
 * Sizes: a block's payload is at most SIZE_MASK granules (16 GiB - 8), so
 * a region larger than that (up to the format's 32 GiB) starts as several
 * maximal free blocks, and two adjacent free blocks are coalesced only when
 * the result still fits in one header. A region ending at exactly 32 GiB
 * loses its last granule (granule 2^32 cannot be named in 32 bits).
 *
 * Block layout (each box is one 32-bit word; h is the header's granule):
 *
 *        granule h                       granule h+1             h+1+size
 *        +--------------+---------------+-------------+-----------+--- - -+
 *   used | F=0 | size   | prev_phys     | payload: size granules ...       |
 *        +--------------+---------------+-------------+-----------+--- - -+
 *   free | F=1 | size   | prev_phys     | next_free   | prev_free | 0xDB..|
 *        +--------------+---------------+-------------+-----------+--- - -+
 *         bit 31 = F     granule of the   granules of the neighbours on
 *         bits 0-30 =    previous block   this block's free list
 *         payload        (0 for the first) (0 = none); poisoned tail in
 *         granules                         debug builds
 *
 * The header is SC_ALLOC_OVERHEAD (8) bytes; the payload follows it, so
 * payloads are 8-byte aligned whenever the base is. A free block needs one
 * payload granule for its links, so the smallest block is 16 bytes.
 */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>

#include "shmcache.h"
#include "alloc.h"

#define GRAN        ((apr_uint64_t)SC_ALLOC_ALIGN)
#define FREE_BIT    0x80000000u
#define SIZE_MASK   0x7FFFFFFFu        /* also the largest payload, granules */
#define MIN_BLOCK   2u                 /* header + one payload granule */
#define LAST_GRAN   0xFFFFFFFFu        /* highest granule a u32 can name */
#define FL_COUNT    SC_ALLOC_FL_COUNT
#define SL_LOG2     SC_ALLOC_SL_LOG2
#define SL_COUNT    SC_ALLOC_SL_COUNT
#define SL_MASK     ((apr_uint32_t)((1ull << SL_COUNT) - 1))
#define FIT_PROBES  4u                 /* nodes examined in a request's own class */
#define POISON_BYTE 0xDB

/* ------------------------------------------------------------------------
 * Bit scans
 * ---------------------------------------------------------------------- */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(SC_ALLOC_PORTABLE_BITOPS)

/* Index of the highest set bit of x (x != 0). */
static unsigned fls32(apr_uint32_t x)
{
    return 31u - (unsigned)__builtin_clz(x);
}

/* Index of the lowest set bit of x (x != 0). */
static unsigned ffs32(apr_uint32_t x)
{
    return (unsigned)__builtin_ctz(x);
}

#elif defined(_MSC_VER) && !defined(SC_ALLOC_PORTABLE_BITOPS)
#include <intrin.h>

/* Index of the highest set bit of x (x != 0). */
static unsigned fls32(apr_uint32_t x)
{
    unsigned long i;
    _BitScanReverse(&i, x);
    return (unsigned)i;
}

/* Index of the lowest set bit of x (x != 0). */
static unsigned ffs32(apr_uint32_t x)
{
    unsigned long i;
    _BitScanForward(&i, x);
    return (unsigned)i;
}

#else

/* Portable fallbacks: binary search for the highest bit. */
static unsigned fls32(apr_uint32_t x)
{
    unsigned n = 0;

    if (x >> 16) { n += 16; x >>= 16; }
    if (x >> 8)  { n += 8;  x >>= 8; }
    if (x >> 4)  { n += 4;  x >>= 4; }
    if (x >> 2)  { n += 2;  x >>= 2; }
    return n + (x >> 1);
}

/* Index of the lowest set bit of x (x != 0): the highest of x's lowest. */
static unsigned ffs32(apr_uint32_t x)
{
    return fls32(x & (0u - x));
}

#endif

/* ------------------------------------------------------------------------
 * Raw access to the segment. h is always a granule already checked to lie
 * in the region (hdr_in) by the caller.
 * ---------------------------------------------------------------------- */

/* The two 32-bit words at granule g. */
static apr_uint32_t *words(void *base, apr_uint64_t g)
{
    return (apr_uint32_t *)((char *)base + (apr_size_t)(g * GRAN));
}

/* Payload granules of the block at h. */
static apr_uint64_t hdr_size(void *base, apr_uint64_t h)
{
    return words(base, h)[0] & SIZE_MASK;
}

/* True when the block at h is flagged free. */
static int hdr_free(void *base, apr_uint64_t h)
{
    return (words(base, h)[0] & FREE_BIT) != 0;
}

/* Granule of the block before h (0 for the first block). */
static apr_uint64_t hdr_prev(void *base, apr_uint64_t h)
{
    return words(base, h)[1];
}

/* Granule just past the block at h. */
static apr_uint64_t hdr_next(void *base, apr_uint64_t h)
{
    return h + 1 + hdr_size(base, h);
}

/* Write size and flag in one store (the store that changes the chain). */
static void set_size(void *base, apr_uint64_t h, apr_uint64_t size, int is_free)
{
    words(base, h)[0] = (apr_uint32_t)size | (is_free ? FREE_BIT : 0u);
}

/* Record prev as the physical predecessor of h. */
static void set_prev(void *base, apr_uint64_t h, apr_uint64_t prev)
{
    words(base, h)[1] = (apr_uint32_t)prev;
}

/* Erase a header absorbed by a merge, so a stale free of it is refused. */
static void clear_hdr(void *base, apr_uint64_t h)
{
    words(base, h)[0] = 0;
    words(base, h)[1] = 0;
}

/* Next block on the free list of the free block h (0 = none). */
static apr_uint64_t link_next(void *base, apr_uint64_t h)
{
    return words(base, h + 1)[0];
}

/* Previous block on the free list of the free block h (0 = h is the head). */
static apr_uint64_t link_prev(void *base, apr_uint64_t h)
{
    return words(base, h + 1)[1];
}

/* Set the free-list successor of h. */
static void set_link_next(void *base, apr_uint64_t h, apr_uint64_t v)
{
    words(base, h + 1)[0] = (apr_uint32_t)v;
}

/* Set the free-list predecessor of h. */
static void set_link_prev(void *base, apr_uint64_t h, apr_uint64_t v)
{
    words(base, h + 1)[1] = (apr_uint32_t)v;
}

/* Debug builds fill n granules from granule g with POISON_BYTE, so a
 * use-after-free reads recognisable garbage. Release builds do nothing. */
static void poison(void *base, apr_uint64_t g, apr_uint64_t n)
{
#ifdef SHMCACHE_DEBUG
    memset((char *)base + (apr_size_t)(g * GRAN), POISON_BYTE, (apr_size_t)(n * GRAN));
#else
    (void)base;
    (void)g;
    (void)n;
#endif
}

/* ------------------------------------------------------------------------
 * Size classes
 * ---------------------------------------------------------------------- */

/* Payload granules needed for n bytes (at least one, for the free links). */
static apr_uint64_t granules_for(apr_uint64_t n)
{
    return n == 0 ? 1 : (n - 1) / GRAN + 1;
}

/* Class of a block of g payload granules (0 < g < 2^32): sizes below
 * SL_COUNT map one to one onto fl 0; above, fl is the power of two and sl
 * the linear step inside it. */
static void mapping(apr_uint64_t g, unsigned *fl, unsigned *sl)
{
    unsigned f;

    if (g < SL_COUNT) {
        *fl = 0;
        *sl = (unsigned)g;
        return;
    }
    f = fls32((apr_uint32_t)g);
    *fl = f - SL_LOG2 + 1;
    *sl = (unsigned)(g >> (f - SL_LOG2)) - SL_COUNT;
}

/* g rounded up to the next class boundary (TLSF mapping_search), so that
 * every block of the class it maps to holds at least g granules. */
static apr_uint64_t round_to_class(apr_uint64_t g)
{
    if (g < SL_COUNT)
        return g;
    return g + ((1u << (fls32((apr_uint32_t)g) - SL_LOG2)) - 1);
}

/* True when free blocks of a and b payload granules, side by side, fit in
 * one header (always, for regions up to 16 GiB). */
static int can_merge(apr_uint64_t a, apr_uint64_t b)
{
    return a + 1 + b <= SIZE_MASK;
}

/* ------------------------------------------------------------------------
 * Validation of what the segment says
 * ---------------------------------------------------------------------- */

/* The control block's region bounds can hold at least one block. */
static int region_ok(const sc_alloc_sh_t *a)
{
    return a->begin >= 1 && a->end > a->begin && a->end - a->begin >= MIN_BLOCK;
}

/* Granule h can hold a block header followed by one payload granule. */
static int hdr_in(const sc_alloc_sh_t *a, apr_uint64_t h)
{
    return h >= a->begin && h + MIN_BLOCK <= a->end;
}

/* The block at h (hdr_in) has a payload and ends inside the region. */
static int span_ok(void *base, const sc_alloc_sh_t *a, apr_uint64_t h)
{
    apr_uint64_t size = hdr_size(base, h);

    return size >= 1 && h + 1 + size <= a->end;
}

/* Header granule of the block whose payload is at byte offset payload, or
 * 0 when that cannot be a payload of this region. */
static apr_uint64_t payload_hdr(const sc_alloc_sh_t *a, apr_uint64_t payload)
{
    apr_uint64_t h;

    if (payload % GRAN != 0 || payload / GRAN == 0)
        return 0;
    h = payload / GRAN - 1;
    return hdr_in(a, h) ? h : 0;
}

/* True when h is a block of the physical chain, as far as O(1) can tell:
 * sane size, the previous block ends exactly at h, and the next block (if
 * any) is sane and points back at h. */
static int block_ok(void *base, const sc_alloc_sh_t *a, apr_uint64_t h)
{
    apr_uint64_t prev, next;

    if (!hdr_in(a, h) || !span_ok(base, a, h))
        return 0;
    prev = hdr_prev(base, h);
    if (h == a->begin ? prev != 0
                      : (!hdr_in(a, prev) || prev >= h || !span_ok(base, a, prev)
                         || hdr_next(base, prev) != h))
        return 0;
    next = hdr_next(base, h);
    return next == a->end
        || (hdr_in(a, next) && hdr_prev(base, next) == h && span_ok(base, a, next));
}

/* True when the free block at h can be unlinked safely: it is flagged
 * free, has a sane size, and its list neighbours (or the list head) point
 * back at it. */
static int node_ok(void *base, const sc_alloc_sh_t *a, apr_uint64_t h)
{
    apr_uint64_t nx, pv;
    unsigned fl, sl;

    if (!hdr_in(a, h) || !hdr_free(base, h) || !span_ok(base, a, h))
        return 0;
    mapping(hdr_size(base, h), &fl, &sl);
    nx = link_next(base, h);
    pv = link_prev(base, h);
    if (pv == 0 ? a->heads[fl][sl] != h
                : (!hdr_in(a, pv) || link_next(base, pv) != h))
        return 0;
    return nx == 0 || (hdr_in(a, nx) && link_prev(base, nx) == h);
}

/* The list a block of size granules would be pushed on has a sane head. */
static int target_ok(const sc_alloc_sh_t *a, apr_uint64_t size)
{
    unsigned fl, sl;
    apr_uint64_t head;

    mapping(size, &fl, &sl);
    head = a->heads[fl][sl];
    return head == 0 || hdr_in(a, head);
}

/* ------------------------------------------------------------------------
 * Free lists. Callers have validated the nodes (node_ok, target_ok).
 * ---------------------------------------------------------------------- */

/* Take the free block h off its list, clearing bitmap bits of a list
 * that becomes empty. */
static void unlink_node(void *base, sc_alloc_sh_t *a, apr_uint64_t h)
{
    apr_uint64_t nx = link_next(base, h), pv = link_prev(base, h);
    unsigned fl, sl;

    mapping(hdr_size(base, h), &fl, &sl);
    if (nx != 0)
        set_link_prev(base, nx, pv);
    if (pv != 0) {
        set_link_next(base, pv, nx);
        return;
    }
    a->heads[fl][sl] = (apr_uint32_t)nx;
    if (nx == 0) {
        a->sl_bitmap[fl] &= ~(1u << sl);
        if (a->sl_bitmap[fl] == 0)
            a->fl_bitmap &= ~(1u << fl);
    }
}

/* Push the free block at h (header already written) on its list. */
static void push_node(void *base, sc_alloc_sh_t *a, apr_uint64_t h)
{
    unsigned fl, sl;
    apr_uint64_t head;

    mapping(hdr_size(base, h), &fl, &sl);
    head = a->heads[fl][sl];
    set_link_next(base, h, head);
    set_link_prev(base, h, 0);
    if (head != 0)
        set_link_prev(base, head, h);
    a->heads[fl][sl] = (apr_uint32_t)h;
    a->sl_bitmap[fl] |= 1u << sl;
    a->fl_bitmap |= 1u << fl;
}

/* Account a free block of size granules (or remove one, sign < 0). */
static void count_free(sc_alloc_sh_t *a, apr_uint64_t size, int sign)
{
    if (sign > 0) {
        a->free_blocks++;
        a->free_bytes += size * GRAN;
    } else {
        a->free_blocks--;
        a->free_bytes -= size * GRAN;
    }
}

/* Account a used block of size granules (or remove one, sign < 0). */
static void count_used(sc_alloc_sh_t *a, apr_uint64_t size, int sign)
{
    if (sign > 0) {
        a->used_blocks++;
        a->used_bytes += size * GRAN;
    } else {
        a->used_blocks--;
        a->used_bytes -= size * GRAN;
    }
}

/* Make [h, h + 1 + size) a free block after prev and push it. */
static void make_free(void *base, sc_alloc_sh_t *a, apr_uint64_t h,
                      apr_uint64_t size, apr_uint64_t prev)
{
    set_prev(base, h, prev);
    set_size(base, h, size, 1);
    push_node(base, a, h);
    count_free(a, size, 1);
}

/* ------------------------------------------------------------------------
 * Public functions
 * ---------------------------------------------------------------------- */

/* Bytes of region taken by a request of n bytes: the header plus n rounded
 * up to whole granules (at least one). A block may keep up to one more
 * granule when the leftover is too small to stand alone. Saturates at
 * 2^64 - 1. */
apr_uint64_t sc_alloc_block_bytes(apr_uint64_t n)
{
    if (n > ~(apr_uint64_t)0 - 2 * GRAN)
        return ~(apr_uint64_t)0;
    return (granules_for(n) + 1) * GRAN;
}

/* Cut [begin, end) granules into maximal free blocks (one block unless the
 * region exceeds 16 GiB); never leave a tail too small for a block. */
static void carve(void *base, sc_alloc_sh_t *a)
{
    apr_uint64_t h = a->begin, prev = 0, rest, total;

    while (h < a->end) {
        rest = a->end - h;
        total = rest;
        if (total > (apr_uint64_t)SIZE_MASK + 1) {
            total = (apr_uint64_t)SIZE_MASK + 1;
            if (rest - total < MIN_BLOCK)
                total -= MIN_BLOCK;
        }
        make_free(base, a, h, total - 1, prev);
        prev = h;
        h += total;
    }
}

/* Make [begin, end) one free block (see alloc.h). begin is rounded up to a
 * granule and to at least granule 1 (granule 0 means "none"); end is
 * rounded down, and an end of exactly 32 GiB is clamped to the last
 * granule a 32-bit offset can name. Returns APR_SUCCESS or SHMCACHE_ESIZE
 * (end beyond 32 GiB, or fewer than 16 bytes to manage). */
apr_status_t sc_alloc_init(void *base, sc_alloc_sh_t *a,
                           apr_uint64_t begin, apr_uint64_t end)
{
    apr_uint64_t b, e;

    if (end > SHMCACHE_LIMIT_SIZE || begin >= end)
        return SHMCACHE_ESIZE;
    b = (begin + GRAN - 1) / GRAN;
    if (b == 0)
        b = 1;
    e = end / GRAN;
    if (e > LAST_GRAN)
        e = LAST_GRAN;
    if (e < b + MIN_BLOCK)
        return SHMCACHE_ESIZE;
    memset(a, 0, sizeof *a);
    a->begin = (apr_uint32_t)b;
    a->end = (apr_uint32_t)e;
    carve(base, a);
    return APR_SUCCESS;
}

/* The bounds sc_alloc_init would set for [begin, end), compared with the
 * control block's (see alloc.h). */
int sc_alloc_bounds_ok(const sc_alloc_sh_t *a, apr_uint64_t begin,
                       apr_uint64_t end)
{
    apr_uint64_t b = (begin + GRAN - 1) / GRAN, e = end / GRAN;

    if (b == 0)
        b = 1;
    if (e > LAST_GRAN)
        e = LAST_GRAN;
    return a->begin == b && a->end == e;
}

/* Walk at most FIT_PROBES nodes of g's own class for a block of at least
 * g granules. The class may hold blocks smaller than g, so the rounded
 * search skips it, yet it holds the closest fits, and the only exact fit
 * when g is not a class boundary (e.g. the whole empty region). Returns
 * APR_SUCCESS, SHMCACHE_ENOMEM (none within the probes) or
 * SHMCACHE_ECORRUPT. */
static apr_status_t probe_class(void *base, const sc_alloc_sh_t *a,
                                apr_uint64_t g, apr_uint64_t *found)
{
    unsigned fl, sl, i;
    apr_uint64_t h;

    mapping(g, &fl, &sl);
    h = a->heads[fl][sl];
    for (i = 0; h != 0 && i < FIT_PROBES; i++) {
        if (!hdr_in(a, h) || !hdr_free(base, h) || !span_ok(base, a, h))
            return SHMCACHE_ECORRUPT;
        if (hdr_size(base, h) >= g) {
            *found = h;
            return APR_SUCCESS;
        }
        h = link_next(base, h);
    }
    return SHMCACHE_ENOMEM;
}

/* Find the first non-empty list at or above class (*fl, *sl). Returns 1
 * (and the class), 0 when there is none, -1 when the bitmaps disagree. */
static int find_list(const sc_alloc_sh_t *a, unsigned *fl, unsigned *sl)
{
    apr_uint32_t slmap = a->sl_bitmap[*fl] & SL_MASK & (~0u << *sl);
    apr_uint32_t flmap;

    if (slmap == 0) {
        flmap = *fl + 1 < FL_COUNT ? a->fl_bitmap & (~0u << (*fl + 1)) : 0;
        if (flmap == 0)
            return 0;
        *fl = ffs32(flmap);
        slmap = a->sl_bitmap[*fl] & SL_MASK;
        if (slmap == 0)
            return -1;
    }
    *sl = ffs32(slmap);
    return 1;
}

/* A free block of at least g granules: first a bounded probe of g's own
 * class (its blocks are the tightest fits), then the standard TLSF good
 * fit, the head of the smallest class above g's rounded size, where every
 * block fits. Both steps are O(1). The probe costs nothing in speed and
 * brings steady-state utilization up to apr_rmm's best fit (bench_alloc). */
static apr_status_t find_block(void *base, const sc_alloc_sh_t *a,
                               apr_uint64_t g, apr_uint64_t *found)
{
    unsigned fl, sl;
    int r;
    apr_status_t rv = probe_class(base, a, g, found);

    if (rv != SHMCACHE_ENOMEM)
        return rv;
    mapping(round_to_class(g), &fl, &sl);
    r = find_list(a, &fl, &sl);
    if (r < 0)
        return SHMCACHE_ECORRUPT;
    if (r == 0)
        return SHMCACHE_ENOMEM;
    *found = a->heads[fl][sl];
    return *found != 0 ? APR_SUCCESS : SHMCACHE_ECORRUPT;
}

/* Give the free block at h to a request of g granules, returning the tail
 * (if it can stand alone) to the free lists, coalesced with a free next
 * block where one can be there (regions above 16 GiB only). Validates
 * everything before the first write. */
static apr_status_t take_block(void *base, sc_alloc_sh_t *a, apr_uint64_t h,
                               apr_uint64_t g)
{
    apr_uint64_t size, next, tail, rest;
    int merge_next = 0;

    if (!block_ok(base, a, h) || !node_ok(base, a, h) || hdr_size(base, h) < g)
        return SHMCACHE_ECORRUPT;
    size = hdr_size(base, h);
    next = hdr_next(base, h);
    if (size - g < MIN_BLOCK) {
        unlink_node(base, a, h);
        set_size(base, h, size, 0);
        count_free(a, size, -1);
        count_used(a, size, 1);
        return APR_SUCCESS;
    }
    tail = h + 1 + g;
    rest = size - g - 1;
    if (next < a->end && hdr_free(base, next) && can_merge(rest, hdr_size(base, next))) {
        if (!node_ok(base, a, next))
            return SHMCACHE_ECORRUPT;
        merge_next = 1;
        rest += 1 + hdr_size(base, next);
    }
    if (!target_ok(a, rest))
        return SHMCACHE_ECORRUPT;

    unlink_node(base, a, h);
    count_free(a, size, -1);
    if (merge_next) {
        unlink_node(base, a, next);
        count_free(a, hdr_size(base, next), -1);
    }
    /* the tail's header first, in free space; then the one store that
     * links it into the chain */
    set_prev(base, tail, h);
    set_size(base, tail, rest, 1);
    set_size(base, h, g, 0);
    if (merge_next)
        clear_hdr(base, next);
    next = tail + 1 + rest;
    if (next < a->end)
        set_prev(base, next, tail);
    push_node(base, a, tail);
    count_free(a, rest, 1);
    count_used(a, g, 1);
    return APR_SUCCESS;
}

/* Allocate size bytes (see alloc.h). A size of 0 is served as 1. */
apr_status_t sc_alloc_malloc_locked(void *base, sc_alloc_sh_t *a,
                                    apr_uint64_t size, apr_uint64_t *payload)
{
    apr_uint64_t g = granules_for(size), h = 0;
    apr_status_t rv;

    if (!region_ok(a))
        return SHMCACHE_ECORRUPT;
    if (g > SIZE_MASK)
        return SHMCACHE_ENOMEM;
    rv = find_block(base, a, g, &h);
    if (rv == APR_SUCCESS)
        rv = take_block(base, a, h, g);
    if (rv == APR_SUCCESS)
        *payload = (h + 1) * GRAN;
    return rv;
}

/* The plan of a free: which neighbours merge, and the resulting block. */
typedef struct free_plan_t {
    apr_uint64_t h, size;          /* the block being freed */
    apr_uint64_t prev, next;       /* its physical neighbours */
    int merge_prev, merge_next;
    apr_uint64_t start, total;     /* the free block that results */
} free_plan_t;

/* Decide and validate a free of the used block at p->h (block_ok). */
static apr_status_t plan_free(void *base, const sc_alloc_sh_t *a, free_plan_t *p)
{
    p->size = hdr_size(base, p->h);
    p->prev = hdr_prev(base, p->h);
    p->next = hdr_next(base, p->h);
    p->start = p->h;
    p->total = p->size;
    p->merge_prev = p->prev != 0 && hdr_free(base, p->prev)
                    && can_merge(hdr_size(base, p->prev), p->total);
    if (p->merge_prev) {
        if (!node_ok(base, a, p->prev))
            return SHMCACHE_ECORRUPT;
        p->start = p->prev;
        p->total += 1 + hdr_size(base, p->prev);
    }
    p->merge_next = p->next < a->end && hdr_free(base, p->next)
                    && can_merge(p->total, hdr_size(base, p->next));
    if (p->merge_next) {
        if (!node_ok(base, a, p->next))
            return SHMCACHE_ECORRUPT;
        p->total += 1 + hdr_size(base, p->next);
    }
    return target_ok(a, p->total) ? APR_SUCCESS : SHMCACHE_ECORRUPT;
}

/* Carry out a validated plan. */
static void apply_free(void *base, sc_alloc_sh_t *a, const free_plan_t *p)
{
    apr_uint64_t after = p->start + 1 + p->total;

    count_used(a, p->size, -1);
    if (p->merge_prev) {
        unlink_node(base, a, p->prev);
        count_free(a, hdr_size(base, p->prev), -1);
    }
    if (p->merge_next) {
        unlink_node(base, a, p->next);
        count_free(a, hdr_size(base, p->next), -1);
    }
    poison(base, p->h + 1, p->size);
    set_size(base, p->start, p->total, 1);
    if (p->merge_prev)
        clear_hdr(base, p->h);
    if (p->merge_next)
        clear_hdr(base, p->next);
    if (after < a->end)
        set_prev(base, after, p->start);
    push_node(base, a, p->start);
    count_free(a, p->total, 1);
}

/* Free the block at payload (see alloc.h). */
apr_status_t sc_alloc_free_locked(void *base, sc_alloc_sh_t *a,
                                  apr_uint64_t payload)
{
    free_plan_t plan;
    apr_status_t rv = SHMCACHE_ECORRUPT;

    if (!region_ok(a))
        goto done;
    plan.h = payload_hdr(a, payload);
    if (plan.h == 0 || !block_ok(base, a, plan.h) || hdr_free(base, plan.h))
        goto done;
    rv = plan_free(base, a, &plan);
    if (rv == APR_SUCCESS)
        apply_free(base, a, &plan);
done:
    return rv;
}

/* Usable bytes of the allocated block at payload, 0 if it is not one. */
apr_uint64_t sc_alloc_usable_locked(void *base, const sc_alloc_sh_t *a,
                                    apr_uint64_t payload)
{
    apr_uint64_t h;

    if (!region_ok(a))
        return 0;
    h = payload_hdr(a, payload);
    if (h == 0 || !block_ok(base, a, h) || hdr_free(base, h))
        return 0;
    return hdr_size(base, h) * GRAN;
}

/* One step of the physical walk (see alloc.h). */
apr_status_t sc_alloc_walk_locked(void *base, const sc_alloc_sh_t *a,
                                  apr_uint64_t *cursor, sc_alloc_block_t *blk)
{
    apr_uint64_t h, next;

    if (!region_ok(a))
        return SHMCACHE_ECORRUPT;
    h = *cursor == 0 ? a->begin : payload_hdr(a, *cursor);
    if (h == 0 || !block_ok(base, a, h))
        return SHMCACHE_ECORRUPT;
    blk->payload = (h + 1) * GRAN;
    blk->size = hdr_size(base, h) * GRAN;
    blk->is_free = hdr_free(base, h);
    next = hdr_next(base, h);
    *cursor = next == a->end ? 0 : (next + 1) * GRAN;
    return APR_SUCCESS;
}

/* Largest free block, from the bitmaps: the biggest of the first
 * FIT_PROBES blocks of the largest non-empty class. Exact when that list
 * is that short, else within one class step (1/16) below the truth; a
 * malloc of the result always succeeds. 0 when the lists are broken. */
static apr_uint64_t largest_free(void *base, const sc_alloc_sh_t *a)
{
    unsigned fl, sl, i;
    apr_uint64_t h, best = 0;

    if (!region_ok(a) || a->fl_bitmap == 0)
        return 0;
    fl = fls32(a->fl_bitmap);
    if ((a->sl_bitmap[fl] & SL_MASK) == 0)
        return 0;
    sl = fls32(a->sl_bitmap[fl] & SL_MASK);
    h = a->heads[fl][sl];
    for (i = 0; h != 0 && i < FIT_PROBES; i++) {
        if (!hdr_in(a, h) || !hdr_free(base, h) || !span_ok(base, a, h))
            return 0;
        if (hdr_size(base, h) > best)
            best = hdr_size(base, h);
        h = link_next(base, h);
    }
    return best * GRAN;
}

/* Fill *st from the counters and the bitmaps (see alloc.h). */
void sc_alloc_stats_locked(void *base, const sc_alloc_sh_t *a,
                           sc_alloc_stats_t *st)
{
    st->used_bytes = a->used_bytes;
    st->free_bytes = a->free_bytes;
    st->used_blocks = a->used_blocks;
    st->free_blocks = a->free_blocks;
    st->largest_free = largest_free(base, a);
}

/* ------------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------- */

/* State of one sc_alloc_check_locked run. */
typedef struct check_t {
    void *base;
    const sc_alloc_sh_t *a;
    char *why;
    apr_size_t why_size;
    apr_uint64_t used_blocks, free_blocks, used_bytes, free_bytes;
    apr_uint64_t chain_sum, list_sum;  /* order-free hashes of free blocks */
    apr_uint64_t listed;               /* nodes seen on the lists */
} check_t;

/* Record the first problem (printf-style) and return SHMCACHE_ECORRUPT. */
static apr_status_t fail(check_t *c, const char *fmt, ...)
{
    va_list ap;

    if (c->why != NULL && c->why_size > 0) {
        va_start(ap, fmt);
        apr_vsnprintf(c->why, c->why_size, fmt, ap);
        va_end(ap);
    }
    return SHMCACHE_ECORRUPT;
}

/* Mix a granule into 64 well-spread bits (splitmix64 finaliser), so sums of
 * them identify a set of blocks. */
static apr_uint64_t mix(apr_uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Byte offset of the payload of block h, as callers know it. */
static apr_uint64_t off(apr_uint64_t h)
{
    return (h + 1) * GRAN;
}

/* fl bits match non-empty sl words; sl bits match non-empty lists. */
static apr_status_t check_bitmaps(check_t *c)
{
    const sc_alloc_sh_t *a = c->a;
    unsigned fl, sl;
    apr_uint32_t slm;

    for (fl = 0; fl < FL_COUNT; fl++) {
        slm = a->sl_bitmap[fl];
        if ((slm & ~SL_MASK) != 0)
            return fail(c, "allocator: second-level bitmap %u has bits above class %u",
                        fl, SL_COUNT - 1);
        if (((a->fl_bitmap >> fl) & 1u) != (slm != 0))
            return fail(c, "allocator: first-level bitmap bit %u is %s but second-level "
                        "bitmap %u is %s", fl, ((a->fl_bitmap >> fl) & 1u) ? "set" : "clear",
                        fl, slm ? "non-zero" : "zero");
        for (sl = 0; sl < SL_COUNT; sl++)
            if (((slm >> sl) & 1u) != (a->heads[fl][sl] != 0))
                return fail(c, "allocator: bitmap bit for free list [%u][%u] is %s but the "
                            "list head is %u", fl, sl, ((slm >> sl) & 1u) ? "set" : "clear",
                            a->heads[fl][sl]);
    }
    return APR_SUCCESS;
}

/* One free block met on the physical walk: not mergeable with a free
 * predecessor, and linked into its class's list consistently. */
static apr_status_t check_free_block(check_t *c, apr_uint64_t h,
                                     apr_uint64_t prev, int prev_free)
{
    unsigned fl, sl;

    if (prev_free && can_merge(hdr_size(c->base, prev), hdr_size(c->base, h)))
        return fail(c, "allocator: free blocks at offsets %" APR_UINT64_T_FMT " and %"
                    APR_UINT64_T_FMT " are adjacent but not coalesced", off(prev), off(h));
    if (!node_ok(c->base, c->a, h)) {
        mapping(hdr_size(c->base, h), &fl, &sl);
        return fail(c, "allocator: free block at offset %" APR_UINT64_T_FMT " is not "
                    "consistently linked into free list [%u][%u] (next %" APR_UINT64_T_FMT
                    ", prev %" APR_UINT64_T_FMT ")", off(h), fl, sl,
                    link_next(c->base, h), link_prev(c->base, h));
    }
    c->free_blocks++;
    c->free_bytes += hdr_size(c->base, h) * GRAN;
    c->chain_sum += mix(h);
    return APR_SUCCESS;
}

/* Blocks tile [begin, end) exactly, each header sane and linked back to
 * its predecessor. Terminates: every step advances at least 2 granules. */
static apr_status_t check_chain(check_t *c)
{
    const sc_alloc_sh_t *a = c->a;
    apr_uint64_t h = a->begin, prev = 0;
    int prev_free = 0;
    apr_status_t rv = APR_SUCCESS;

    while (rv == APR_SUCCESS && h < a->end) {
        if (!hdr_in(a, h))
            return fail(c, "allocator: block at offset %" APR_UINT64_T_FMT " has no room "
                        "for a header before the region end", off(h));
        if (!span_ok(c->base, a, h))
            return fail(c, "allocator: block at offset %" APR_UINT64_T_FMT " has size %"
                        APR_UINT64_T_FMT " granules, which is zero or runs past the region "
                        "end", off(h), hdr_size(c->base, h));
        if (hdr_prev(c->base, h) != prev)
            return fail(c, "allocator: block at offset %" APR_UINT64_T_FMT " says its "
                        "previous block is granule %" APR_UINT64_T_FMT ", it is %"
                        APR_UINT64_T_FMT, off(h), hdr_prev(c->base, h), prev);
        if (hdr_free(c->base, h)) {
            rv = check_free_block(c, h, prev, prev_free);
        } else {
            c->used_blocks++;
            c->used_bytes += hdr_size(c->base, h) * GRAN;
        }
        prev_free = hdr_free(c->base, h);
        prev = h;
        h = hdr_next(c->base, h);
    }
    return rv;
}

/* One node met on free list [fl][sl] after node prev. */
static apr_status_t check_node(check_t *c, unsigned fl, unsigned sl,
                               apr_uint64_t h, apr_uint64_t prev)
{
    unsigned f, s;

    if (++c->listed > c->free_blocks)
        return fail(c, "allocator: the free lists hold more nodes than the %"
                    APR_UINT64_T_FMT " free blocks (a cycle, or a block listed twice); "
                    "seen on list [%u][%u] at granule %" APR_UINT64_T_FMT,
                    c->free_blocks, fl, sl, h);
    if (!block_ok(c->base, c->a, h))
        return fail(c, "allocator: free list [%u][%u] links to granule %" APR_UINT64_T_FMT
                    ", which is not a block", fl, sl, h);
    if (!hdr_free(c->base, h))
        return fail(c, "allocator: free list [%u][%u] holds the used block at offset %"
                    APR_UINT64_T_FMT, fl, sl, off(h));
    mapping(hdr_size(c->base, h), &f, &s);
    if (f != fl || s != sl)
        return fail(c, "allocator: free block at offset %" APR_UINT64_T_FMT " of %"
                    APR_UINT64_T_FMT " granules is on list [%u][%u], its class is [%u][%u]",
                    off(h), hdr_size(c->base, h), fl, sl, f, s);
    if (link_prev(c->base, h) != prev)
        return fail(c, "allocator: free block at offset %" APR_UINT64_T_FMT " has back "
                    "link %" APR_UINT64_T_FMT ", expected %" APR_UINT64_T_FMT,
                    off(h), link_prev(c->base, h), prev);
    c->list_sum += mix(h);
    return APR_SUCCESS;
}

/* Every list is a well-formed chain of free blocks of its class, and the
 * lists together hold exactly the free blocks of the chain. */
static apr_status_t check_lists(check_t *c)
{
    unsigned fl, sl;
    apr_uint64_t h, prev;
    apr_status_t rv;

    for (fl = 0; fl < FL_COUNT; fl++) {
        for (sl = 0; sl < SL_COUNT; sl++) {
            prev = 0;
            for (h = c->a->heads[fl][sl]; h != 0; h = link_next(c->base, h)) {
                rv = check_node(c, fl, sl, h, prev);
                if (rv != APR_SUCCESS)
                    return rv;      /* h is not safe to follow */
                prev = h;
            }
        }
    }
    if (c->listed != c->free_blocks || c->list_sum != c->chain_sum)
        return fail(c, "allocator: the free lists hold %" APR_UINT64_T_FMT " blocks, not "
                    "the same as the %" APR_UINT64_T_FMT " free blocks of the region",
                    c->listed, c->free_blocks);
    return APR_SUCCESS;
}

/* The control block's counters match what the walk found. */
static apr_status_t check_counters(check_t *c)
{
    const sc_alloc_sh_t *a = c->a;

    if (a->used_blocks != c->used_blocks || a->free_blocks != c->free_blocks)
        return fail(c, "allocator: counters say %u used and %u free blocks, the region has %"
                    APR_UINT64_T_FMT " and %" APR_UINT64_T_FMT, a->used_blocks,
                    a->free_blocks, c->used_blocks, c->free_blocks);
    if (a->used_bytes != c->used_bytes || a->free_bytes != c->free_bytes)
        return fail(c, "allocator: counters say %" APR_UINT64_T_FMT " used and %"
                    APR_UINT64_T_FMT " free bytes, the region has %" APR_UINT64_T_FMT
                    " and %" APR_UINT64_T_FMT, a->used_bytes, a->free_bytes,
                    c->used_bytes, c->free_bytes);
    return APR_SUCCESS;
}

/* Verify every invariant (see alloc.h). O(blocks); changes nothing. */
apr_status_t sc_alloc_check_locked(void *base, const sc_alloc_sh_t *a,
                                   char *why, apr_size_t why_size)
{
    check_t c;
    apr_status_t rv;

    memset(&c, 0, sizeof c);
    c.base = base;
    c.a = a;
    c.why = why;
    c.why_size = why_size;
    if (why != NULL && why_size > 0)
        why[0] = '\0';
    if (!region_ok(a))
        return fail(&c, "allocator: region granules [%u, %u) are not a region",
                    a->begin, a->end);
    rv = check_bitmaps(&c);
    if (rv == APR_SUCCESS)
        rv = check_chain(&c);
    if (rv == APR_SUCCESS)
        rv = check_lists(&c);
    if (rv == APR_SUCCESS)
        rv = check_counters(&c);
    return rv;
}

/* ------------------------------------------------------------------------
 * Rebuild
 * ---------------------------------------------------------------------- */

/* The block sizes alone tile [begin, end) exactly. */
static int chain_tiles(void *base, const sc_alloc_sh_t *a)
{
    apr_uint64_t h = a->begin;

    while (h < a->end) {
        if (!hdr_in(a, h) || !span_ok(base, a, h))
            return 0;
        h = hdr_next(base, h);
    }
    return 1;
}

/* State of one rebuild pass: the free run being grown and the last block
 * start (the predecessor of whatever comes next). */
typedef struct rebuild_t {
    apr_uint64_t run, run_size;    /* run == 0: no open run */
    apr_uint64_t prev;
} rebuild_t;

/* Push the open free run, if any, on its list and count it. */
static void close_run(void *base, sc_alloc_sh_t *a, rebuild_t *r)
{
    if (r->run != 0)
        make_free(base, a, r->run, r->run_size, hdr_prev(base, r->run));
    r->run = 0;
}

/* Add the free (or newly freed) block at h of size granules to the run. */
static void add_free(void *base, sc_alloc_sh_t *a, rebuild_t *r,
                     apr_uint64_t h, apr_uint64_t size, int was_used)
{
    if (was_used)
        poison(base, h + 1, size);
    if (r->run != 0 && can_merge(r->run_size, size)) {
        r->run_size += 1 + size;
        set_size(base, r->run, r->run_size, 1);
        clear_hdr(base, h);
        return;
    }
    close_run(base, a, r);
    set_prev(base, h, r->prev);
    set_size(base, h, size, 1);
    r->run = h;
    r->run_size = size;
    r->prev = h;
}

/* Rebuild lists, bitmaps, counters and back links from the block sizes
 * (see alloc.h). is_live may be NULL: every used block is kept. */
apr_status_t sc_alloc_rebuild_locked(void *base, sc_alloc_sh_t *a,
                                     int (*is_live)(void *baton,
                                                    apr_uint64_t payload),
                                     void *baton)
{
    rebuild_t r = {0, 0, 0};
    apr_uint64_t h, size, next;
    int is_free;

    if (!region_ok(a) || !chain_tiles(base, a))
        return SHMCACHE_ECORRUPT;
    memset(a->heads, 0, sizeof a->heads);
    memset(a->sl_bitmap, 0, sizeof a->sl_bitmap);
    a->fl_bitmap = 0;
    a->used_bytes = a->free_bytes = 0;
    a->used_blocks = a->free_blocks = 0;
    for (h = a->begin; h < a->end; h = next) {
        size = hdr_size(base, h);
        next = h + 1 + size;
        is_free = hdr_free(base, h);
        if (is_free || (is_live != NULL && !is_live(baton, off(h)))) {
            add_free(base, a, &r, h, size, !is_free);
            continue;
        }
        close_run(base, a, &r);
        set_prev(base, h, r.prev);
        r.prev = h;
        count_used(a, size, 1);
    }
    close_run(base, a, &r);
    return APR_SUCCESS;
}
