/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_shm.h - the real cache in the eviction benchmark: a segment that
 * holds exactly N equal-size entries, and the cache-aside replay of a
 * trace into it through the public API (shmcache.h) only.
 *
 * Entries: key = the dense object id as 8 bytes (little-endian), value =
 * value_size bytes, no TTL (the segment's default TTL is 0 = none), so
 * every entry costs the same and "N entries" means the same thing as a
 * simulated cache of N objects.
 *
 * Sizing (evict_shm_plan): the bytes an entry occupies are an allocator
 * detail this benchmark does not assume; they are measured. A probe
 * creates a segment and stores distinct keys until the first store that
 * evicts (stats.evictions moves); the stores before it are the capacity.
 * A first probe gives the footprint F of a 16-byte value (the fall of
 * bytes_free per entry) and the smallest data region the bucket count
 * allows. The data region is a whole number of pages, so a region of D
 * bytes holds exactly N entries when N F <= D < (N + 1) F; with F = 64 a
 * page moves the capacity by 64 entries, so the segment size alone cannot
 * reach every N. The value size is the second knob: each 8 more bytes of
 * value add 8 to F, and the first value size (from 16 up) for which a
 * whole number of pages falls in that interval is taken, then checked by
 * a probe of that segment (capacity exactly N). Small caches need larger
 * values (up to kilobytes) because a segment has a minimum size; so may
 * an unlucky N (when 8 N is close to a multiple of 4096, each step moves
 * the fit by a few bytes only: 80897 entries need 2 KiB values). Should
 * no value size fit exactly within 4096 steps, 8 checks or a 512 MiB
 * segment, the page
 * count nearest to N is taken and the plan says how many entries fit
 * (entries != N; the simulators are then given that count too).
 * The bucket array has at least 2N buckets, so chains stay short and the
 * data region, not the table, is what fills.
 */
#ifndef BENCH_EVICT_SHM_H
#define BENCH_EVICT_SHM_H

#include <stdint.h>

#include <apr_pools.h>

#include "evict_traces.h"
#include "hist.h"

typedef struct evict_shm_plan_t {
    uint64_t entries;           /* exactly this many entries fit (N, or
                                   the nearest to N that could be had) */
    apr_uint64_t seg_size;      /* segment size to create */
    apr_uint32_t buckets;
    unsigned value_size;
    apr_uint64_t data_size;     /* the data region that size gives */
    unsigned probes;            /* segments created to find the plan */
} evict_shm_plan_t;

typedef struct evict_shm_result_t {
    uint64_t hits;
    uint64_t evictions;         /* stats.evictions at the end */
    uint64_t items_end;         /* stats.items at the end */
    double seconds;             /* replay time */
    hist_t set_ns;              /* latency of the sets (most evict) */
} evict_shm_result_t;

/* Find a segment (size, buckets, value size) at path that holds exactly n
 * entries, or else the nearest count (pl->entries). Returns APR_SUCCESS;
 * APR_EGENERAL when nothing could be sized (message on stderr); a shmcache
 * status when a segment cannot be created. Leaves no segment behind. */
apr_status_t evict_shm_plan(evict_shm_plan_t *pl, uint64_t n,
                            const char *path, apr_pool_t *pool);

/* Replay t into a fresh segment made as pl says: for each request a get,
 * and on a miss a set. Fills *r. Returns APR_SUCCESS or the first failed
 * call's status (message on stderr). Removes the segment. */
apr_status_t evict_shm_replay(const evict_shm_plan_t *pl,
                              const evict_trace_t *t, const char *path,
                              evict_shm_result_t *r, apr_pool_t *pool);

#endif /* BENCH_EVICT_SHM_H */
