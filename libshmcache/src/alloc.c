/* SPDX-License-Identifier: Apache-2.0 */
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
 * Nothing read from the segment is trusted, not even at the next
 * instant: the region bounds are the caller's (sc_alloc_t, never re-read
 * from the control block); a block header is loaded once into a blk_t
 * (load_block) and checked against the bounds and against its physical
 * neighbours (the previous block must end where it starts, the next block
 * must point back at it); list links are loaded once into a node_t and
 * checked in both directions. Only those checked copies decide anything
 * afterwards, and every write goes to an address computed from them, so
 * it stays inside the region even if the segment changes meanwhile. Every
 * mutating call validates everything it will touch before it writes
 * anything, so a corrupt segment yields SHMCACHE_ECORRUPT with nothing
 * changed. Walks are bounded by the region size.
 *
 * Crash consistency: the physical chain is defined by block sizes alone,
 * and every change to it is a single 32-bit store (new headers are written
 * in free space before the store that makes them reachable), so a writer
 * killed at any point leaves sizes that tile the region. Back links and
 * free lists are derived data that such a writer may leave stale (a split
 * or a merge writes the size, then the next block's back link):
 * sc_alloc_rebuild_locked rebuilds all of them from the sizes. The fault
 * points alloc.* mark those windows for the crash tests.
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
#include "fault.h"

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
 * Raw access to the segment. Every granule passed here has been checked
 * against the bounds of the sc_alloc_t (hdr_in) by the caller.
 * ---------------------------------------------------------------------- */

/* The two 32-bit words at granule g. */
static apr_uint32_t *words(const sc_alloc_t *al, apr_uint64_t g)
{
    return (apr_uint32_t *)(al->base + (apr_size_t)(g * GRAN));
}

/* One load of a word another process may be writing: the compiler must
 * neither read it twice nor read it again later. */
static apr_uint32_t load32(const apr_uint32_t *p)
{
    return *(const volatile apr_uint32_t *)p;
}

/* Write size and flag in one store (the store that changes the chain). */
static void set_size(const sc_alloc_t *al, apr_uint64_t h, apr_uint64_t size,
                     int is_free)
{
    words(al, h)[0] = (apr_uint32_t)size | (is_free ? FREE_BIT : 0u);
}

/* Record prev as the physical predecessor of h. */
static void set_prev(const sc_alloc_t *al, apr_uint64_t h, apr_uint64_t prev)
{
    words(al, h)[1] = (apr_uint32_t)prev;
}

/* Erase a header absorbed by a merge, so a stale free of it is refused. */
static void clear_hdr(const sc_alloc_t *al, apr_uint64_t h)
{
    words(al, h)[0] = 0;
    words(al, h)[1] = 0;
}

/* The free-list links of the free block h (in its first payload granule,
 * inside the region whenever h is a checked block), each read once. */
static apr_uint64_t link_next(const sc_alloc_t *al, apr_uint64_t h)
{
    return load32(&words(al, h + 1)[0]);
}

static apr_uint64_t link_prev(const sc_alloc_t *al, apr_uint64_t h)
{
    return load32(&words(al, h + 1)[1]);
}

static void set_link_next(const sc_alloc_t *al, apr_uint64_t h, apr_uint64_t v)
{
    words(al, h + 1)[0] = (apr_uint32_t)v;
}

static void set_link_prev(const sc_alloc_t *al, apr_uint64_t h, apr_uint64_t v)
{
    words(al, h + 1)[1] = (apr_uint32_t)v;
}

/* The head of free list [fl][sl], read once. */
static apr_uint64_t head_of(const sc_alloc_t *al, unsigned fl, unsigned sl)
{
    return load32(&al->sh->heads[fl][sl]);
}

/* Debug builds fill n granules from granule g with POISON_BYTE, so a
 * use-after-free reads recognisable garbage. Release builds do nothing. */
static void poison(const sc_alloc_t *al, apr_uint64_t g, apr_uint64_t n)
{
#ifdef SHMCACHE_DEBUG
    memset(al->base + (apr_size_t)(g * GRAN), POISON_BYTE, (apr_size_t)(n * GRAN));
#else
    (void)al;
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

/* Class of a block of g payload granules (0 < g < 2^31): sizes below
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
 * Loading and checking what the segment says
 * ---------------------------------------------------------------------- */

/* A block header as loaded once (load_block): only this copy is used. */
typedef struct blk_t {
    apr_uint64_t h;                /* header granule */
    apr_uint64_t size;             /* payload granules, >= 1 */
    apr_uint64_t prev;             /* recorded previous block (unchecked) */
    int free;
} blk_t;

/* A free block's place on its list as node_ok checked it. */
typedef struct node_t {
    apr_uint64_t h;                /* the block */
    apr_uint64_t next, prev;       /* list neighbours; prev 0: h is head */
    unsigned fl, sl;               /* its class */
} node_t;

/* Granule just past block b. */
static apr_uint64_t end_of(const blk_t *b)
{
    return b->h + 1 + b->size;
}

/* Granule h can hold a block header followed by one payload granule. */
static int hdr_in(const sc_alloc_t *al, apr_uint64_t h)
{
    return h >= al->begin && h + MIN_BLOCK <= al->end;
}

/* Load the header at h once into *b. Returns 0 when h is not inside the
 * region or the block it describes has no payload or runs past the end. */
static int load_block(const sc_alloc_t *al, apr_uint64_t h, blk_t *b)
{
    apr_uint32_t w0, w1;

    if (!hdr_in(al, h))
        return 0;
    w0 = load32(&words(al, h)[0]);
    w1 = load32(&words(al, h)[1]);
    b->h = h;
    b->size = w0 & SIZE_MASK;
    b->prev = w1;
    b->free = (w0 & FREE_BIT) != 0;
    return b->size >= 1 && end_of(b) <= al->end;
}

/* Header granule of the block whose payload is at byte offset payload, or
 * 0 when that cannot be a payload of this region. */
static apr_uint64_t payload_hdr(const sc_alloc_t *al, apr_uint64_t payload)
{
    apr_uint64_t h;

    if (payload % GRAN != 0 || payload / GRAN == 0)
        return 0;
    h = payload / GRAN - 1;
    return hdr_in(al, h) ? h : 0;
}

/* Load block h into *b and check that it is a block of the physical
 * chain, as far as O(1) can tell: sane size, the previous block ends
 * exactly at h, and the next block (if any) is sane and points back. */
static int block_ok(const sc_alloc_t *al, apr_uint64_t h, blk_t *b)
{
    blk_t p, n;

    if (!load_block(al, h, b))
        return 0;
    if (h == al->begin ? b->prev != 0
                       : (b->prev >= h || !load_block(al, b->prev, &p)
                          || end_of(&p) != h))
        return 0;
    return end_of(b) == al->end
        || (load_block(al, end_of(b), &n) && n.prev == h);
}

/* Load the list links of the free block b into *nd and check that they
 * (or the list head) point back at it, so that it can be unlinked. */
static int node_ok(const sc_alloc_t *al, const blk_t *b, node_t *nd)
{
    nd->h = b->h;
    mapping(b->size, &nd->fl, &nd->sl);
    nd->next = link_next(al, b->h);
    nd->prev = link_prev(al, b->h);
    if (!b->free)
        return 0;
    if (nd->prev == 0 ? head_of(al, nd->fl, nd->sl) != b->h
                      : (!hdr_in(al, nd->prev) || link_next(al, nd->prev) != b->h))
        return 0;
    return nd->next == 0
        || (hdr_in(al, nd->next) && link_prev(al, nd->next) == b->h);
}

/* The list a block of size granules would be pushed on has a sane head. */
static int target_ok(const sc_alloc_t *al, apr_uint64_t size)
{
    unsigned fl, sl;
    apr_uint64_t head;

    mapping(size, &fl, &sl);
    head = head_of(al, fl, sl);
    return head == 0 || hdr_in(al, head);
}

/* ------------------------------------------------------------------------
 * Free lists. Callers have checked the nodes (node_ok, target_ok).
 * ---------------------------------------------------------------------- */

/* Take the free block nd describes off its list, clearing the bitmap bits
 * of a list that becomes empty. The links are loaded again here, once:
 * an earlier unlink in the same call may have changed them (two list
 * neighbours merged in one free), and node_ok checked them before any
 * write. A link that another process made point outside the region since
 * is not followed (check reports the damage; a rebuild mends it). */
static void unlink_node(const sc_alloc_t *al, const node_t *nd)
{
    sc_alloc_sh_t *a = al->sh;
    apr_uint64_t next = link_next(al, nd->h), prev = link_prev(al, nd->h);

    if (next != 0 && hdr_in(al, next))
        set_link_prev(al, next, prev);
    if (prev != 0) {
        if (hdr_in(al, prev))
            set_link_next(al, prev, next);
        return;
    }
    a->heads[nd->fl][nd->sl] = (apr_uint32_t)next;
    if (next == 0) {
        a->sl_bitmap[nd->fl] &= ~(1u << nd->sl);
        if (a->sl_bitmap[nd->fl] == 0)
            a->fl_bitmap &= ~(1u << nd->fl);
    }
}

/* Push the free block at h of size granules (header written) on its list.
 * The head is read once and checked: one that another process made bad
 * since target_ok is dropped rather than followed (check reports the lost
 * blocks; a rebuild restores them). */
static void push_node(const sc_alloc_t *al, apr_uint64_t h, apr_uint64_t size)
{
    sc_alloc_sh_t *a = al->sh;
    unsigned fl, sl;
    apr_uint64_t head;

    mapping(size, &fl, &sl);
    head = head_of(al, fl, sl);
    if (!hdr_in(al, head))
        head = 0;
    set_link_next(al, h, head);
    set_link_prev(al, h, 0);
    if (head != 0)
        set_link_prev(al, head, h);
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
static void make_free(const sc_alloc_t *al, apr_uint64_t h, apr_uint64_t size,
                      apr_uint64_t prev)
{
    set_prev(al, h, prev);
    set_size(al, h, size, 1);
    push_node(al, h, size);
    count_free(al->sh, size, 1);
}

/* ------------------------------------------------------------------------
 * Binding and formatting
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

/* The granule bounds of [begin, end) (see alloc.h). */
apr_status_t sc_alloc_bind(sc_alloc_t *al, void *base, sc_alloc_sh_t *sh,
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
    al->base = base;
    al->sh = sh;
    al->begin = b;
    al->end = e;
    return APR_SUCCESS;
}

/* Reset the control block to an empty allocator of al's region (bounds
 * recorded, no lists, zero counters). */
static void reset_control(const sc_alloc_t *al)
{
    memset(al->sh, 0, sizeof *al->sh);
    al->sh->begin = (apr_uint32_t)al->begin;
    al->sh->end = (apr_uint32_t)al->end;
}

/* Cut the region into maximal free blocks (one block unless the region
 * exceeds 16 GiB); never leave a tail too small for a block. */
static void carve(const sc_alloc_t *al)
{
    apr_uint64_t h = al->begin, prev = 0, rest, total;

    while (h < al->end) {
        rest = al->end - h;
        total = rest;
        if (total > (apr_uint64_t)SIZE_MASK + 1) {
            total = (apr_uint64_t)SIZE_MASK + 1;
            if (rest - total < MIN_BLOCK)
                total -= MIN_BLOCK;
        }
        make_free(al, h, total - 1, prev);
        prev = h;
        h += total;
    }
}

/* Bind, then make the region free blocks (see alloc.h). */
apr_status_t sc_alloc_init(sc_alloc_t *al, void *base, sc_alloc_sh_t *sh,
                           apr_uint64_t begin, apr_uint64_t end)
{
    apr_status_t rv = sc_alloc_bind(al, base, sh, begin, end);

    if (rv != APR_SUCCESS)
        return rv;
    reset_control(al);
    SC_FAULT_POINT("alloc.init.cleared");
    carve(al);
    return APR_SUCCESS;
}

/* The control block records al's bounds (see alloc.h). */
int sc_alloc_bounds_ok(const sc_alloc_t *al)
{
    return load32(&al->sh->begin) == al->begin
        && load32(&al->sh->end) == al->end;
}

/* ------------------------------------------------------------------------
 * malloc
 * ---------------------------------------------------------------------- */

/* Walk at most FIT_PROBES nodes of g's own class for a block of at least
 * g granules. The class may hold blocks smaller than g, so the rounded
 * search skips it, yet it holds the closest fits, and the only exact fit
 * when g is not a class boundary (e.g. the whole empty region). Returns
 * APR_SUCCESS, SHMCACHE_ENOMEM (none within the probes) or
 * SHMCACHE_ECORRUPT. */
static apr_status_t probe_class(const sc_alloc_t *al, apr_uint64_t g,
                                apr_uint64_t *found)
{
    unsigned fl, sl, i;
    apr_uint64_t h;
    blk_t b;

    mapping(g, &fl, &sl);
    h = head_of(al, fl, sl);
    for (i = 0; h != 0 && i < FIT_PROBES; i++) {
        if (!load_block(al, h, &b) || !b.free)
            return SHMCACHE_ECORRUPT;
        if (b.size >= g) {
            *found = h;
            return APR_SUCCESS;
        }
        h = link_next(al, h);
    }
    return SHMCACHE_ENOMEM;
}

/* Find the first non-empty list at or above class (*fl, *sl). Returns 1
 * (and the class), 0 when there is none, -1 when the bitmaps disagree. */
static int find_list(const sc_alloc_t *al, unsigned *fl, unsigned *sl)
{
    const sc_alloc_sh_t *a = al->sh;
    apr_uint32_t slmap = load32(&a->sl_bitmap[*fl]) & SL_MASK & (~0u << *sl);
    apr_uint32_t flmap;

    if (slmap == 0) {
        flmap = *fl + 1 < FL_COUNT
                    ? load32(&a->fl_bitmap) & (~0u << (*fl + 1)) : 0;
        if (flmap == 0)
            return 0;
        *fl = ffs32(flmap);
        slmap = load32(&a->sl_bitmap[*fl]) & SL_MASK;
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
static apr_status_t find_block(const sc_alloc_t *al, apr_uint64_t g,
                               apr_uint64_t *found)
{
    unsigned fl, sl;
    int r;
    apr_status_t rv = probe_class(al, g, found);

    if (rv != SHMCACHE_ENOMEM)
        return rv;
    mapping(round_to_class(g), &fl, &sl);
    r = find_list(al, &fl, &sl);
    if (r < 0)
        return SHMCACHE_ECORRUPT;
    if (r == 0)
        return SHMCACHE_ENOMEM;
    *found = head_of(al, fl, sl);
    return *found != 0 ? APR_SUCCESS : SHMCACHE_ECORRUPT;
}

/* The whole free block b (on its list as nd) goes to the request: its
 * leftover would be too small to stand alone. */
static void take_whole(const sc_alloc_t *al, const blk_t *b, const node_t *nd)
{
    unlink_node(al, nd);
    set_size(al, b->h, b->size, 0);
    count_free(al->sh, b->size, -1);
    count_used(al->sh, b->size, 1);
}

/* Give the free block at h to a request of g granules, returning the tail
 * (if it can stand alone) to the free lists, coalesced with a free next
 * block where one can be there (regions above 16 GiB only). Validates
 * everything before the first write. */
static apr_status_t take_block(const sc_alloc_t *al, apr_uint64_t h,
                               apr_uint64_t g)
{
    blk_t b, nb;
    node_t nd, nn;
    apr_uint64_t tail, rest, after;
    int merge_next = 0;

    if (!block_ok(al, h, &b) || !node_ok(al, &b, &nd) || b.size < g)
        return SHMCACHE_ECORRUPT;
    if (b.size - g < MIN_BLOCK) {
        take_whole(al, &b, &nd);
        return APR_SUCCESS;
    }
    tail = h + 1 + g;
    rest = b.size - g - 1;
    if (end_of(&b) < al->end && load_block(al, end_of(&b), &nb) && nb.free
        && can_merge(rest, nb.size)) {
        if (!node_ok(al, &nb, &nn))
            return SHMCACHE_ECORRUPT;
        merge_next = 1;
        rest += 1 + nb.size;
    }
    if (!target_ok(al, rest))
        return SHMCACHE_ECORRUPT;

    unlink_node(al, &nd);
    count_free(al->sh, b.size, -1);
    if (merge_next) {
        unlink_node(al, &nn);
        count_free(al->sh, nb.size, -1);
    }
    /* the tail's header first, in free space; then the one store that
     * links it into the chain; the back link after it comes last */
    set_prev(al, tail, h);
    set_size(al, tail, rest, 1);
    SC_FAULT_POINT("alloc.split.tail");
    set_size(al, h, g, 0);
    SC_FAULT_POINT("alloc.split.sized");
    if (merge_next)
        clear_hdr(al, nb.h);
    after = tail + 1 + rest;
    if (after < al->end)
        set_prev(al, after, tail);
    push_node(al, tail, rest);
    count_free(al->sh, rest, 1);
    count_used(al->sh, g, 1);
    return APR_SUCCESS;
}

/* Allocate size bytes (see alloc.h). A size of 0 is served as 1. */
apr_status_t sc_alloc_malloc_locked(const sc_alloc_t *al, apr_uint64_t size,
                                    apr_uint64_t *payload)
{
    apr_uint64_t g = granules_for(size), h = 0;
    apr_status_t rv;

    if (g > SIZE_MASK)
        return SHMCACHE_ENOMEM;
    rv = find_block(al, g, &h);
    if (rv == APR_SUCCESS)
        rv = take_block(al, h, g);
    if (rv == APR_SUCCESS)
        *payload = (h + 1) * GRAN;
    return rv;
}

/* ------------------------------------------------------------------------
 * free
 * ---------------------------------------------------------------------- */

/* The plan of a free: which neighbours merge, and the resulting block.
 * Every figure is a checked copy. */
typedef struct free_plan_t {
    blk_t blk;                     /* the block being freed */
    blk_t prev, next;              /* its physical neighbours, if merging */
    node_t prev_node, next_node;
    int merge_prev, merge_next;
    apr_uint64_t start, total;     /* the free block that results */
} free_plan_t;

/* Decide and validate a free of the used block p->blk (block_ok). */
static apr_status_t plan_free(const sc_alloc_t *al, free_plan_t *p)
{
    apr_uint64_t after = end_of(&p->blk);

    p->start = p->blk.h;
    p->total = p->blk.size;
    p->merge_prev = p->blk.h != al->begin
                    && load_block(al, p->blk.prev, &p->prev) && p->prev.free
                    && end_of(&p->prev) == p->blk.h
                    && can_merge(p->prev.size, p->total);
    if (p->merge_prev) {
        if (!node_ok(al, &p->prev, &p->prev_node))
            return SHMCACHE_ECORRUPT;
        p->start = p->prev.h;
        p->total += 1 + p->prev.size;
    }
    p->merge_next = after < al->end && load_block(al, after, &p->next)
                    && p->next.free && can_merge(p->total, p->next.size);
    if (p->merge_next) {
        if (!node_ok(al, &p->next, &p->next_node))
            return SHMCACHE_ECORRUPT;
        p->total += 1 + p->next.size;
    }
    return target_ok(al, p->total) ? APR_SUCCESS : SHMCACHE_ECORRUPT;
}

/* Carry out a validated plan: the size store that makes the merged block
 * first, then the back link after it. */
static void apply_free(const sc_alloc_t *al, const free_plan_t *p)
{
    apr_uint64_t after = p->start + 1 + p->total;

    count_used(al->sh, p->blk.size, -1);
    if (p->merge_prev) {
        unlink_node(al, &p->prev_node);
        count_free(al->sh, p->prev.size, -1);
    }
    if (p->merge_next) {
        unlink_node(al, &p->next_node);
        count_free(al->sh, p->next.size, -1);
    }
    poison(al, p->blk.h + 1, p->blk.size);
    SC_FAULT_POINT("alloc.free.unlinked");
    set_size(al, p->start, p->total, 1);
    SC_FAULT_POINT("alloc.free.sized");
    if (p->merge_prev)
        clear_hdr(al, p->blk.h);
    if (p->merge_next)
        clear_hdr(al, p->next.h);
    if (after < al->end)
        set_prev(al, after, p->start);
    push_node(al, p->start, p->total);
    count_free(al->sh, p->total, 1);
}

/* Free the block at payload (see alloc.h). */
apr_status_t sc_alloc_free_locked(const sc_alloc_t *al, apr_uint64_t payload)
{
    free_plan_t plan;
    apr_uint64_t h = payload_hdr(al, payload);
    apr_status_t rv;

    if (h == 0 || !block_ok(al, h, &plan.blk) || plan.blk.free)
        return SHMCACHE_ECORRUPT;
    rv = plan_free(al, &plan);
    if (rv == APR_SUCCESS)
        apply_free(al, &plan);
    return rv;
}

/* ------------------------------------------------------------------------
 * Looking at blocks
 * ---------------------------------------------------------------------- */

/* Usable bytes of the allocated block at payload, 0 if it is not one. */
apr_uint64_t sc_alloc_usable_locked(const sc_alloc_t *al, apr_uint64_t payload)
{
    apr_uint64_t h = payload_hdr(al, payload);
    blk_t b;

    if (h == 0 || !block_ok(al, h, &b) || b.free)
        return 0;
    return b.size * GRAN;
}

/* One step of the physical walk (see alloc.h). */
apr_status_t sc_alloc_walk_locked(const sc_alloc_t *al, apr_uint64_t *cursor,
                                  sc_alloc_block_t *blk)
{
    apr_uint64_t h = *cursor == 0 ? al->begin : payload_hdr(al, *cursor);
    blk_t b;

    if (h == 0 || !block_ok(al, h, &b))
        return SHMCACHE_ECORRUPT;
    blk->payload = (h + 1) * GRAN;
    blk->size = b.size * GRAN;
    blk->is_free = b.free;
    *cursor = end_of(&b) == al->end ? 0 : (end_of(&b) + 1) * GRAN;
    return APR_SUCCESS;
}

/* Largest free block, from the bitmaps: the biggest of the first
 * FIT_PROBES blocks of the largest non-empty class. Exact when that list
 * is that short, else within one class step (1/16) below the truth; a
 * malloc of the result always succeeds. 0 when the lists are broken. */
static apr_uint64_t largest_free(const sc_alloc_t *al)
{
    apr_uint32_t flmap = load32(&al->sh->fl_bitmap), slmap;
    unsigned fl, sl, i;
    apr_uint64_t h, best = 0;
    blk_t b;

    if (flmap == 0)
        return 0;
    fl = fls32(flmap);
    slmap = load32(&al->sh->sl_bitmap[fl]) & SL_MASK;
    if (slmap == 0)
        return 0;
    sl = fls32(slmap);
    h = head_of(al, fl, sl);
    for (i = 0; h != 0 && i < FIT_PROBES; i++) {
        if (!load_block(al, h, &b) || !b.free)
            return 0;
        if (b.size > best)
            best = b.size;
        h = link_next(al, h);
    }
    return best * GRAN;
}

/* Fill *st from the counters and the bitmaps (see alloc.h). */
void sc_alloc_stats_locked(const sc_alloc_t *al, sc_alloc_stats_t *st)
{
    const sc_alloc_sh_t *a = al->sh;

    st->used_bytes = a->used_bytes;
    st->free_bytes = a->free_bytes;
    st->used_blocks = a->used_blocks;
    st->free_blocks = a->free_blocks;
    st->largest_free = largest_free(al);
}

/* ------------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------- */

/* State of one sc_alloc_check_locked run. */
typedef struct check_t {
    const sc_alloc_t *al;
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

/* The control block records the bound region. */
static apr_status_t check_bounds(check_t *c)
{
    apr_uint32_t b = load32(&c->al->sh->begin), e = load32(&c->al->sh->end);

    if (b != c->al->begin || e != c->al->end)
        return fail(c, "allocator: its control block records region granules [%u, %u), "
                    "not the data region [%" APR_UINT64_T_FMT ", %" APR_UINT64_T_FMT
                    ") validated at attach", b, e, c->al->begin, c->al->end);
    return APR_SUCCESS;
}

/* fl bits match non-empty sl words; sl bits match non-empty lists. */
static apr_status_t check_bitmaps(check_t *c)
{
    const sc_alloc_sh_t *a = c->al->sh;
    apr_uint32_t flm = load32(&a->fl_bitmap), slm;
    apr_uint64_t head;
    unsigned fl, sl;

    for (fl = 0; fl < FL_COUNT; fl++) {
        slm = load32(&a->sl_bitmap[fl]);
        if ((slm & ~SL_MASK) != 0)
            return fail(c, "allocator: second-level bitmap %u has bits above class %u",
                        fl, SL_COUNT - 1);
        if (((flm >> fl) & 1u) != (slm != 0))
            return fail(c, "allocator: first-level bitmap bit %u is %s but second-level "
                        "bitmap %u is %s", fl, ((flm >> fl) & 1u) ? "set" : "clear",
                        fl, slm ? "non-zero" : "zero");
        for (sl = 0; sl < SL_COUNT; sl++) {
            head = head_of(c->al, fl, sl);
            if (((slm >> sl) & 1u) != (head != 0))
                return fail(c, "allocator: bitmap bit for free list [%u][%u] is %s but "
                            "the list head is %" APR_UINT64_T_FMT, fl, sl,
                            ((slm >> sl) & 1u) ? "set" : "clear", head);
        }
    }
    return APR_SUCCESS;
}

/* One free block met on the physical walk: not mergeable with a free
 * predecessor (prev, or NULL for the first block), and linked into its
 * class's list consistently. */
static apr_status_t check_free_block(check_t *c, const blk_t *b,
                                     const blk_t *prev)
{
    node_t nd;

    if (prev != NULL && prev->free && can_merge(prev->size, b->size))
        return fail(c, "allocator: free blocks at offsets %" APR_UINT64_T_FMT " and %"
                    APR_UINT64_T_FMT " are adjacent but not coalesced", off(prev->h),
                    off(b->h));
    if (!node_ok(c->al, b, &nd))
        return fail(c, "allocator: free block at offset %" APR_UINT64_T_FMT " is not "
                    "consistently linked into free list [%u][%u] (next %" APR_UINT64_T_FMT
                    ", prev %" APR_UINT64_T_FMT ")", off(b->h), nd.fl, nd.sl,
                    nd.next, nd.prev);
    c->free_blocks++;
    c->free_bytes += b->size * GRAN;
    c->chain_sum += mix(b->h);
    return APR_SUCCESS;
}

/* Blocks tile [begin, end) exactly, each header sane and linked back to
 * its predecessor. Terminates: every step advances at least 2 granules. */
static apr_status_t check_chain(check_t *c)
{
    const sc_alloc_t *al = c->al;
    apr_uint64_t h = al->begin, want_prev = 0;
    blk_t b, prev = {0, 0, 0, 0};
    apr_status_t rv = APR_SUCCESS;

    while (rv == APR_SUCCESS && h < al->end) {
        if (!hdr_in(al, h))
            return fail(c, "allocator: block at offset %" APR_UINT64_T_FMT " has no room "
                        "for a header before the region end", off(h));
        if (!load_block(al, h, &b))
            return fail(c, "allocator: block at offset %" APR_UINT64_T_FMT " has size %"
                        APR_UINT64_T_FMT " granules, which is zero or runs past the region "
                        "end", off(h), b.size);
        if (b.prev != want_prev)
            return fail(c, "allocator: block at offset %" APR_UINT64_T_FMT " says its "
                        "previous block is granule %" APR_UINT64_T_FMT ", it is %"
                        APR_UINT64_T_FMT, off(h), b.prev, want_prev);
        if (b.free) {
            rv = check_free_block(c, &b, want_prev != 0 ? &prev : NULL);
        } else {
            c->used_blocks++;
            c->used_bytes += b.size * GRAN;
        }
        prev = b;
        want_prev = h;
        h = end_of(&b);
    }
    return rv;
}

/* One node met on free list [fl][sl] after node prev; *next gets the
 * link to follow. */
static apr_status_t check_node(check_t *c, unsigned fl, unsigned sl,
                               apr_uint64_t h, apr_uint64_t prev,
                               apr_uint64_t *next)
{
    unsigned f, s;
    apr_uint64_t back;
    blk_t b;

    if (++c->listed > c->free_blocks)
        return fail(c, "allocator: the free lists hold more nodes than the %"
                    APR_UINT64_T_FMT " free blocks (a cycle, or a block listed twice); "
                    "seen on list [%u][%u] at granule %" APR_UINT64_T_FMT,
                    c->free_blocks, fl, sl, h);
    if (!block_ok(c->al, h, &b))
        return fail(c, "allocator: free list [%u][%u] links to granule %" APR_UINT64_T_FMT
                    ", which is not a block", fl, sl, h);
    if (!b.free)
        return fail(c, "allocator: free list [%u][%u] holds the used block at offset %"
                    APR_UINT64_T_FMT, fl, sl, off(h));
    mapping(b.size, &f, &s);
    if (f != fl || s != sl)
        return fail(c, "allocator: free block at offset %" APR_UINT64_T_FMT " of %"
                    APR_UINT64_T_FMT " granules is on list [%u][%u], its class is [%u][%u]",
                    off(h), b.size, fl, sl, f, s);
    back = link_prev(c->al, h);
    if (back != prev)
        return fail(c, "allocator: free block at offset %" APR_UINT64_T_FMT " has back "
                    "link %" APR_UINT64_T_FMT ", expected %" APR_UINT64_T_FMT,
                    off(h), back, prev);
    c->list_sum += mix(h);
    *next = link_next(c->al, h);
    return APR_SUCCESS;
}

/* Every list is a well-formed chain of free blocks of its class, and the
 * lists together hold exactly the free blocks of the chain. */
static apr_status_t check_lists(check_t *c)
{
    unsigned fl, sl;
    apr_uint64_t h, prev, next = 0;
    apr_status_t rv;

    for (fl = 0; fl < FL_COUNT; fl++) {
        for (sl = 0; sl < SL_COUNT; sl++) {
            prev = 0;
            for (h = head_of(c->al, fl, sl); h != 0; h = next) {
                rv = check_node(c, fl, sl, h, prev, &next);
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
    const sc_alloc_sh_t *a = c->al->sh;
    apr_uint32_t ublocks = a->used_blocks, fblocks = a->free_blocks;
    apr_uint64_t ubytes = a->used_bytes, fbytes = a->free_bytes;

    if (ublocks != c->used_blocks || fblocks != c->free_blocks)
        return fail(c, "allocator: counters say %u used and %u free blocks, the region has %"
                    APR_UINT64_T_FMT " and %" APR_UINT64_T_FMT, ublocks, fblocks,
                    c->used_blocks, c->free_blocks);
    if (ubytes != c->used_bytes || fbytes != c->free_bytes)
        return fail(c, "allocator: counters say %" APR_UINT64_T_FMT " used and %"
                    APR_UINT64_T_FMT " free bytes, the region has %" APR_UINT64_T_FMT
                    " and %" APR_UINT64_T_FMT, ubytes, fbytes, c->used_bytes,
                    c->free_bytes);
    return APR_SUCCESS;
}

/* Verify every invariant (see alloc.h). O(blocks); changes nothing. */
apr_status_t sc_alloc_check_locked(const sc_alloc_t *al, char *why,
                                   apr_size_t why_size)
{
    check_t c;
    apr_status_t rv;

    memset(&c, 0, sizeof c);
    c.al = al;
    c.why = why;
    c.why_size = why_size;
    if (why != NULL && why_size > 0)
        why[0] = '\0';
    rv = check_bounds(&c);
    if (rv == APR_SUCCESS)
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
static int chain_tiles(const sc_alloc_t *al)
{
    apr_uint64_t h = al->begin;
    blk_t b;

    while (h < al->end) {
        if (!load_block(al, h, &b))
            return 0;
        h = end_of(&b);
    }
    return 1;
}

/* State of one rebuild pass: the free run being grown and the last block
 * start (the predecessor of whatever comes next). */
typedef struct rebuild_t {
    apr_uint64_t run, run_size;    /* run == 0: no open run */
    apr_uint64_t run_prev;         /* the block before the run */
    apr_uint64_t prev;             /* the last block start */
} rebuild_t;

/* Push the open free run, if any, on its list and count it. */
static void close_run(const sc_alloc_t *al, rebuild_t *r)
{
    if (r->run != 0)
        make_free(al, r->run, r->run_size, r->run_prev);
    r->run = 0;
}

/* Add the free (or newly freed: was_used) block b to the run. */
static void add_free(const sc_alloc_t *al, rebuild_t *r, const blk_t *b,
                     int was_used)
{
    if (was_used)
        poison(al, b->h + 1, b->size);
    if (r->run != 0 && can_merge(r->run_size, b->size)) {
        r->run_size += 1 + b->size;
        set_size(al, r->run, r->run_size, 1);
        clear_hdr(al, b->h);
        return;
    }
    close_run(al, r);
    r->run = b->h;
    r->run_size = b->size;
    r->run_prev = r->prev;
    r->prev = b->h;
}

/* Rebuild the control block and the back links from the block sizes (see
 * alloc.h). is_live may be NULL: every used block is kept. */
apr_status_t sc_alloc_rebuild_locked(const sc_alloc_t *al,
                                     int (*is_live)(void *baton,
                                                    apr_uint64_t payload),
                                     void *baton)
{
    rebuild_t r = {0, 0, 0, 0};
    apr_uint64_t h;
    blk_t b;

    if (!chain_tiles(al))
        return SHMCACHE_ECORRUPT;
    reset_control(al);
    for (h = al->begin; h < al->end; h = end_of(&b)) {
        if (!load_block(al, h, &b))
            return SHMCACHE_ECORRUPT;   /* changed under us: tampering */
        if (b.free || (is_live != NULL && !is_live(baton, off(h)))) {
            add_free(al, &r, &b, !b.free);
            continue;
        }
        close_run(al, &r);
        set_prev(al, h, r.prev);
        r.prev = h;
        count_used(al->sh, b.size, 1);
    }
    close_run(al, &r);
    return APR_SUCCESS;
}
