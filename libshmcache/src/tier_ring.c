/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier_ring.c - the consistent-hash ring that picks a key's L2 server.
 *
 * Ketama-style: each server puts SC_RING_POINTS points on a 64-bit circle
 * at XXH3("host:port#i"); a key belongs to the first point at or after
 * XXH3(key). Adding a server to n takes about 1/(n+1) of the keys, all
 * from the others, and moves no key between the old servers.
 */
#include <stdlib.h>
#include <apr_strings.h>
#include <xxhash.h>
#include "tier_private.h"

#define SC_RING_POINTS 160

typedef struct ring_point_t {
    apr_uint64_t hash;
    apr_uint32_t server;
} ring_point_t;

struct sc_tier_ring_t {
    ring_point_t *points;
    apr_uint32_t npoints;
};

static int point_cmp(const void *a, const void *b)
{
    const ring_point_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->server < y->server ? -1 : x->server > y->server;
}

apr_status_t sc_tier_ring_build(sc_tier_ring_t **out, const char *const *names,
                                apr_uint32_t n, apr_pool_t *pool)
{
    sc_tier_ring_t *ring = apr_pcalloc(pool, sizeof(*ring));
    apr_uint32_t s, i, k = 0;
    char buf[300];

    ring->npoints = n * SC_RING_POINTS;
    ring->points = apr_palloc(pool, ring->npoints * sizeof(*ring->points));
    for (s = 0; s < n; s++) {
        for (i = 0; i < SC_RING_POINTS; i++) {
            int len = apr_snprintf(buf, sizeof(buf), "%s#%u", names[s], i);
            ring->points[k].hash = XXH3_64bits(buf, (size_t)len);
            ring->points[k].server = s;
            k++;
        }
    }
    qsort(ring->points, ring->npoints, sizeof(*ring->points), point_cmp);
    *out = ring;
    return APR_SUCCESS;
}

apr_uint32_t sc_tier_ring_pick(const sc_tier_ring_t *ring, const char *key,
                               apr_size_t len)
{
    apr_uint64_t h = XXH3_64bits(key, len);
    apr_uint32_t lo = 0, hi = ring->npoints;

    /* first point with hash >= h; past the last wraps to the first */
    while (lo < hi) {
        apr_uint32_t mid = lo + (hi - lo) / 2;
        if (ring->points[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return ring->points[lo == ring->npoints ? 0 : lo].server;
}
