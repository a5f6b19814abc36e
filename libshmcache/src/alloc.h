/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.h - the offset-based allocator that lives inside the segment.
 *
 * A two-level segregated-fit (TLSF) allocator: malloc and free are O(1)
 * (two bitmap searches, no list scans), adjacent free blocks are coalesced
 * at once, and all metadata is in the segment, addressed by offsets, so
 * every process can use it wherever the segment is mapped.
 *
 * Addresses: every offset here is a byte offset from the segment base
 * (`base`), a multiple of SC_ALLOC_ALIGN. In the segment, offsets are
 * stored as 32-bit counts of 8-byte granules (so a region can span 32 GiB);
 * 0 means "none" (offset 0 is the segment header, never a block).
 *
 * Trust: the segment may be written by another process at any instant,
 * also while a call is inside it. The region bounds are never read from
 * the segment: the caller binds a process-local sc_alloc_t to the region
 * it validated at attach (sc_alloc_bind), and every call uses that copy.
 * Each block header word and list link read from the segment is loaded
 * once into a local, checked against those bounds, and only the local is
 * used; every write goes to an address computed from checked locals, so
 * it lands inside the region whatever the segment says. A bad value yields
 * SHMCACHE_ECORRUPT, never a wild access or an endless loop.
 *
 * Locking: every function that reads or writes the allocator is *_locked:
 * the caller holds the segment's write lock (sc_alloc_stats_locked and
 * sc_alloc_check_locked need at least the read lock).
 *
 * Debug builds (SHMCACHE_DEBUG) poison freed payloads with 0xDB.
 */
#ifndef SC_ALLOC_H
#define SC_ALLOC_H

#include <apr.h>
#include <apr_errno.h>

#define SC_ALLOC_ALIGN 8u          /* payload alignment and granule size */
#define SC_ALLOC_FL_COUNT 32u      /* first-level classes (powers of two) */
#define SC_ALLOC_SL_LOG2 4u        /* 16 second-level classes per power */
#define SC_ALLOC_SL_COUNT (1u << SC_ALLOC_SL_LOG2)

/* In the segment: the allocator's control block. */
typedef struct sc_alloc_sh_t {
    apr_uint32_t begin;            /* first granule of the managed region */
    apr_uint32_t end;              /* granule just past the region */
    apr_uint32_t fl_bitmap;        /* bit i: some list in class i non-empty */
    apr_uint32_t sl_bitmap[SC_ALLOC_FL_COUNT]; /* bit j: list [i][j] non-empty */
    apr_uint32_t heads[SC_ALLOC_FL_COUNT][SC_ALLOC_SL_COUNT]; /* free lists */
    apr_uint64_t used_bytes;       /* payload bytes of allocated blocks */
    apr_uint64_t free_bytes;       /* payload bytes of free blocks */
    apr_uint32_t used_blocks;
    apr_uint32_t free_blocks;
} sc_alloc_sh_t;

/* One physical block, as seen by sc_alloc_walk_locked. */
typedef struct sc_alloc_block_t {
    apr_uint64_t payload;          /* byte offset of the payload */
    apr_uint64_t size;             /* payload bytes (usable) */
    int is_free;
} sc_alloc_block_t;

/* Process-local: the allocator as this process uses it. begin and end
 * are granules, computed from the caller's trusted region (sc_alloc_bind)
 * and never re-read from the segment. */
typedef struct sc_alloc_t {
    char *base;                    /* segment base */
    sc_alloc_sh_t *sh;             /* control block, in the segment */
    apr_uint64_t begin, end;       /* managed granules [begin, end) */
} sc_alloc_t;

/* Figures for stats. */
typedef struct sc_alloc_stats_t {
    apr_uint64_t used_bytes, free_bytes, largest_free;
    apr_uint32_t used_blocks, free_blocks;
} sc_alloc_stats_t;

/* Per-block overhead in bytes (the block header). */
#define SC_ALLOC_OVERHEAD 8u

/* Bytes of region that a request of n payload bytes occupies. */
apr_uint64_t sc_alloc_block_bytes(apr_uint64_t n);

/* Bind *al to the control block sh and the region [begin, end) (byte
 * offsets from base, the caller's own trusted figures, not values read from
 * the segment): begin is rounded up to a granule (and to at least granule
 * 1, since granule 0 means "none"), end rounded down, and an end of
 * exactly 32 GiB clamped to the last granule a 32-bit offset can name.
 * Reads and writes nothing in the segment. Returns SHMCACHE_ESIZE when the
 * region is too small for one block (16 bytes) or ends beyond 32 GiB. */
apr_status_t sc_alloc_bind(sc_alloc_t *al, void *base, sc_alloc_sh_t *sh,
                           apr_uint64_t begin, apr_uint64_t end);

/* sc_alloc_bind, then make the region one free block (several above 16
 * GiB) and reset the control block. Returns as sc_alloc_bind. */
apr_status_t sc_alloc_init(sc_alloc_t *al, void *base, sc_alloc_sh_t *sh,
                           apr_uint64_t begin, apr_uint64_t end);

/* Whether the control block in the segment still records al's bounds
 * (sc_alloc_check_locked reports a difference; the allocator itself never
 * uses the recorded ones). Reads each recorded bound once. */
int sc_alloc_bounds_ok(const sc_alloc_t *al);

/* Allocate size payload bytes (size > 0). *payload receives the byte
 * offset of an SC_ALLOC_ALIGN-aligned payload of at least size bytes.
 * Returns APR_SUCCESS; SHMCACHE_ENOMEM when no free block is large enough
 * now (nothing changed); SHMCACHE_ECORRUPT when the metadata is broken. */
apr_status_t sc_alloc_malloc_locked(const sc_alloc_t *al, apr_uint64_t size,
                                    apr_uint64_t *payload);

/* Free the block whose payload is at byte offset payload, coalescing it
 * with free neighbours. Returns APR_SUCCESS; SHMCACHE_ECORRUPT when
 * payload is not an allocated block of this region (double free, wild
 * offset) or the metadata is broken (nothing changed in that case). */
apr_status_t sc_alloc_free_locked(const sc_alloc_t *al, apr_uint64_t payload);

/* Usable payload bytes of the allocated block at payload, or 0 when
 * payload is not an allocated block. */
apr_uint64_t sc_alloc_usable_locked(const sc_alloc_t *al, apr_uint64_t payload);

/* Walk the blocks in physical (address) order. *cursor is a payload
 * offset; pass 0 to start at the first block. Fills *blk with the block
 * at *cursor and sets *cursor to the next block's payload, or to 0 after
 * the last block (so the walk can wrap around). Returns APR_SUCCESS or
 * SHMCACHE_ECORRUPT (bad cursor or block header). */
apr_status_t sc_alloc_walk_locked(const sc_alloc_t *al, apr_uint64_t *cursor,
                                  sc_alloc_block_t *blk);

/* Fill *st, largest_free included (found from the bitmaps and the head of
 * the largest non-empty class, so O(classes)). */
void sc_alloc_stats_locked(const sc_alloc_t *al, sc_alloc_stats_t *st);

/* Verify every invariant: blocks tile the region exactly; every header is
 * sane; no two free blocks are adjacent; every free block is on the free
 * list of its class exactly once, lists are doubly linked consistently,
 * bitmaps match the lists; counters match. On failure returns
 * SHMCACHE_ECORRUPT and writes a description into why (why_size bytes,
 * may be NULL). Changes nothing. */
apr_status_t sc_alloc_check_locked(const sc_alloc_t *al, char *why,
                                   apr_size_t why_size);

/* Rebuild the control block (recorded bounds, free lists, bitmaps,
 * counters) and every back link from the block sizes alone, coalescing
 * adjacent free blocks: after a writer died mid-change, whatever the
 * instant (every change keeps the sizes a tiling of the region). When
 * is_live is not NULL, is_live(baton, payload) says which allocated blocks
 * are still referenced; the others are freed. Returns APR_SUCCESS or
 * SHMCACHE_ECORRUPT when the sizes themselves do not tile the region (not
 * a state any writer leaves: damage; then only sc_alloc_init helps). */
apr_status_t sc_alloc_rebuild_locked(const sc_alloc_t *al,
                                     int (*is_live)(void *baton,
                                                    apr_uint64_t payload),
                                     void *baton);

#endif /* SC_ALLOC_H */
