/* SPDX-License-Identifier: Apache-2.0 */
/*
 * evict_shm.c - sizing a segment to exactly N entries, and replaying a
 * trace into it (see evict_shm.h for the method).
 */
#include "evict_shm.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "shmcache.h"

#define PAGE 4096u
#define KEY_LEN 8u
#define MIN_VALUE 16u
#define VALUE_STEP 8u
#define VALUE_SEARCH 4096     /* value sizes looked at (arithmetic only) */
#define VERIFY_TRIES 8        /* of those, segments created to check */
#define MAX_SEGMENT ((apr_uint64_t)512 << 20)  /* larger values stop there */

static void key_of(unsigned char key[KEY_LEN], uint64_t id)
{
    unsigned i;
    for (i = 0; i < KEY_LEN; i++)
        key[i] = (unsigned char)(id >> (8 * i));
}

/* Create the segment of (size, buckets, value) at path, replacing any. */
static apr_status_t create(shmcache_t **c, const char *path,
                           apr_uint64_t size, apr_uint32_t buckets,
                           unsigned value, apr_pool_t *pool)
{
    shmcache_options_t o;

    shmcache_options_init(&o);
    o.size = size;
    o.buckets = buckets;
    o.max_key = KEY_LEN;
    o.max_value = value;
    o.slots = 8;
    o.default_ttl = 0;
    shmcache_remove(path, pool);
    return shmcache_create(c, path, &o, pool);
}

/* Store key id with a value of len bytes (content irrelevant). */
static apr_status_t store(shmcache_t *c, uint64_t id, const char *val,
                          unsigned len)
{
    unsigned char key[KEY_LEN];

    key_of(key, id);
    return shmcache_set(c, key, KEY_LEN, val, len, SHMCACHE_TTL_DEFAULT,
                        NULL);
}

typedef struct probe_t {
    uint64_t cap;               /* entries before the first eviction, or
                                   limit + 1 when more fit */
    apr_uint64_t data_size;
    apr_uint64_t per_entry;     /* bytes_free fall per entry */
    apr_uint64_t meta;          /* segment size - data region */
} probe_t;

/* Fill a fresh segment with distinct keys until a store evicts; count the
 * stores before it (at most limit + 1). Stores go in blind batches a little
 * smaller than the largest free block can take, and one at a time near the
 * end, with the eviction counter read after each; should a batch evict
 * after all, the probe starts over one store at a time. With the
 * environment variable BENCH_EVICT_DEBUG set, each probe is logged. */
static apr_status_t probe(probe_t *p, const char *path, apr_uint64_t size,
                          apr_uint32_t buckets, unsigned value,
                          uint64_t limit, apr_pool_t *pool)
{
    shmcache_t *c = NULL;
    shmcache_stats_t st;
    char *val = calloc(1, value);
    apr_uint64_t free0;
    uint64_t i = 0;
    int careful = 0;
    apr_status_t rv = APR_ENOMEM;

    if (val == NULL)
        goto done;
again:
    rv = create(&c, path, size, buckets, value, pool);
    if (rv == APR_SUCCESS)
        rv = shmcache_stats(c, &st);
    if (rv != APR_SUCCESS)
        goto done;
    p->data_size = st.data_size;
    p->meta = st.size - st.data_size;
    p->per_entry = 0;
    free0 = st.bytes_free;
    for (i = 0; i <= limit;) {
        uint64_t batch = 1, k;
        if (!careful && i >= 16 && p->per_entry)
            batch = st.largest_free / p->per_entry;
        batch = batch > 2 ? batch - 2 : 1;
        if (batch > limit + 1 - i)
            batch = limit + 1 - i;
        for (k = 0; k < batch && rv == APR_SUCCESS; k++)
            rv = store(c, i + k, val, value);
        if (rv == APR_SUCCESS)
            rv = shmcache_stats(c, &st);
        if (rv != APR_SUCCESS)
            goto done;
        if (st.evictions > 0) {
            if (batch > 1) {
                shmcache_close(c);
                careful = 1;
                goto again;
            }
            break;
        }
        i += batch;
        p->per_entry = (free0 - st.bytes_free) / i;
    }
    p->cap = i;
    if (getenv("BENCH_EVICT_DEBUG"))
        fprintf(stderr, "probe size %llu data %llu value %u cap %llu "
                "per %llu\n", (unsigned long long)size,
                (unsigned long long)p->data_size, value,
                (unsigned long long)p->cap,
                (unsigned long long)p->per_entry);
done:
    if (rv != APR_SUCCESS)
        fprintf(stderr, "bench_evict: sizing probe (segment %llu bytes, "
                "%u-byte values, %u buckets) at %s: %s\n",
                (unsigned long long)size, value, (unsigned)buckets, path,
                bench_strerror(rv));
    if (c != NULL)
        shmcache_close(c);
    shmcache_remove(path, pool);
    free(val);
    return rv;
}

/* Smallest segment worth trying with b buckets: the library wants its
 * metadata (mostly 8 bytes a bucket: the bucket and its ghost slot) in at
 * most half the segment. */
static apr_uint64_t seg_min(apr_uint32_t b)
{
    apr_uint64_t s = 2 * ((apr_uint64_t)b * 8 + 64 * 1024);
    s = (s + PAGE - 1) / PAGE * PAGE;
    return s < SHMCACHE_MIN_SIZE ? SHMCACHE_MIN_SIZE : s;
}

static uint64_t round_up(uint64_t x, uint64_t to)
{
    return (x + to - 1) / to * to;
}

/* Probe the segment of data region d (meta more in all) with value size
 * v. Record it in pl when it holds exactly n (*found = 1) or, when exact
 * is 0, when its capacity is nearer to n than pl's. Returns the probe's
 * status. */
static apr_status_t try_plan(evict_shm_plan_t *pl, uint64_t n, uint64_t d,
                             unsigned v, apr_uint64_t meta, int exact,
                             const char *path, int *found, apr_pool_t *pool)
{
    probe_t pr;
    apr_status_t rv = probe(&pr, path, d + meta, pl->buckets, v, n + 64,
                            pool);

    pl->probes++;
    *found = 0;
    if (rv != APR_SUCCESS)
        return rv;
    if (pr.cap == n || (!exact && pr.cap > 0 && pr.cap <= n + 64
                        && (pl->seg_size == 0
                            || (pr.cap > n ? pr.cap - n : n - pr.cap)
                               < (pl->entries > n ? pl->entries - n
                                                  : n - pl->entries)))) {
        pl->entries = pr.cap;
        pl->seg_size = d + meta;
        pl->data_size = pr.data_size;
        pl->value_size = v;
        *found = pr.cap == n;
    }
    return APR_SUCCESS;
}

apr_status_t evict_shm_plan(evict_shm_plan_t *pl, uint64_t n,
                            const char *path, apr_pool_t *pool)
{
    probe_t pr;
    uint64_t f0, dmin, v0, k, d;
    int tries = 0, found = 0;
    apr_status_t rv;

    memset(pl, 0, sizeof *pl);
    pl->buckets = (apr_uint32_t)bench_pow2_at_least(2 * n);
    /* calibrate: entry footprint at the smallest value, the bytes the
     * layout takes before the data region, the smallest data region */
    rv = probe(&pr, path, seg_min(pl->buckets), pl->buckets, MIN_VALUE, 16,
               pool);
    pl->probes++;
    if (rv != APR_SUCCESS)
        return rv;
    f0 = pr.per_entry;
    dmin = pr.data_size;
    v0 = MIN_VALUE;
    if (n * f0 < dmin)
        v0 += round_up((dmin + n - 1) / n - f0, VALUE_STEP);
    /* a data region of whole pages holds exactly n entries of footprint F
     * when it lies in [n F, (n + 1) F): look for such a value size */
    for (k = 0; !found && k < VALUE_SEARCH && tries < VERIFY_TRIES; k++) {
        unsigned v = (unsigned)(v0 + k * VALUE_STEP);
        uint64_t f = f0 + (v - MIN_VALUE);
        d = round_up(n * f, PAGE);
        if (d + pr.meta > MAX_SEGMENT)
            break;
        if (d < dmin || d >= (n + 1) * f)
            continue;
        tries++;
        rv = try_plan(pl, n, d, v, pr.meta, 1, path, &found, pool);
        if (rv != APR_SUCCESS)
            return rv;
    }
    if (!found) {
        /* none near: the value v0 and the page count nearest to n */
        uint64_t f = f0 + (v0 - MIN_VALUE);
        unsigned probes = pl->probes;
        d = n * f / PAGE * PAGE;
        memset(pl, 0, sizeof *pl);
        pl->probes = probes;
        pl->buckets = (apr_uint32_t)bench_pow2_at_least(2 * n);
        if (d >= dmin)
            rv = try_plan(pl, n, d, (unsigned)v0, pr.meta, 0, path, &found,
                          pool);
        if (rv == APR_SUCCESS)
            rv = try_plan(pl, n, d + PAGE, (unsigned)v0, pr.meta, 0, path,
                          &found, pool);
        if (rv == APR_SUCCESS && pl->seg_size == 0) {
            fprintf(stderr, "bench_evict: cannot size a segment for %llu "
                    "entries\n", (unsigned long long)n);
            rv = APR_EGENERAL;
        }
    }
    return rv;
}

apr_status_t evict_shm_replay(const evict_shm_plan_t *pl,
                              const evict_trace_t *t, const char *path,
                              evict_shm_result_t *r, apr_pool_t *pool)
{
    shmcache_t *c = NULL;
    shmcache_stats_t st;
    char *val = calloc(1, pl->value_size), *buf = malloc(pl->value_size);
    unsigned char key[KEY_LEN];
    apr_size_t vlen;
    uint64_t i, t0;
    apr_status_t rv;

    memset(r, 0, sizeof *r);
    hist_init(&r->set_ns);
    rv = create(&c, path, pl->seg_size, pl->buckets, pl->value_size, pool);
    if (rv != APR_SUCCESS || val == NULL || buf == NULL)
        goto done;
    t0 = bench_now_ns();
    for (i = 0; i < t->n; i++) {
        key_of(key, t->ids[i]);
        rv = shmcache_get_buf(c, key, KEY_LEN, buf, pl->value_size, &vlen,
                              NULL);
        if (rv == APR_SUCCESS) {
            r->hits++;
            continue;
        }
        if (rv == SHMCACHE_NOTFOUND) {
            uint64_t s0 = bench_now_ns();
            rv = shmcache_set(c, key, KEY_LEN, val, pl->value_size,
                              SHMCACHE_TTL_DEFAULT, NULL);
            hist_record(&r->set_ns, bench_now_ns() - s0);
        }
        if (rv != APR_SUCCESS)
            break;
    }
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    if (rv == APR_SUCCESS)
        rv = shmcache_stats(c, &st);
    if (rv == APR_SUCCESS) {
        r->evictions = st.evictions;
        r->items_end = st.items;
    }
done:
    if (rv != APR_SUCCESS)
        fprintf(stderr, "bench_evict: replay of %s into %s: %s\n", t->name,
                path, bench_strerror(rv));
    if (c != NULL)
        shmcache_close(c);
    shmcache_remove(path, pool);
    free(val);
    free(buf);
    return rv;
}
