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
#define MAX_VALUE_TRIES 64

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
 * after all, the probe starts over one store at a time. */
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
 * metadata (mostly 4 bytes a bucket) in at most half the segment. */
static apr_uint64_t seg_min(apr_uint32_t b)
{
    apr_uint64_t s = 2 * ((apr_uint64_t)b * 4 + 64 * 1024);
    s = (s + PAGE - 1) / PAGE * PAGE;
    return s < SHMCACHE_MIN_SIZE ? SHMCACHE_MIN_SIZE : s;
}

/* Round up to whole pages, and to at least pl's smallest segment. */
static apr_uint64_t seg_round(const evict_shm_plan_t *pl, apr_uint64_t s)
{
    apr_uint64_t m = seg_min(pl->buckets);
    s = (s + PAGE - 1) / PAGE * PAGE;
    return s < m ? m : s;
}

/* For value size v: the smallest segment holding at least n entries (*hi)
 * and what it holds (*hi_cap). pr0 is a probe of some segment with v. */
static apr_status_t smallest_fit(evict_shm_plan_t *pl, uint64_t n,
                                 const probe_t *pr0, apr_uint64_t size0,
                                 const char *path, apr_uint64_t *hi,
                                 uint64_t *hi_cap, apr_pool_t *pool)
{
    apr_uint64_t lo = 0, s = size0, per = pr0->per_entry ? pr0->per_entry
                                                          : 64;
    probe_t pr = *pr0;
    apr_status_t rv = APR_SUCCESS;

    /* bracket: lo holds fewer than n (0 = unknown), s at least n */
    while (pr.cap < n) {
        lo = s;
        s = seg_round(pl, s + (n - pr.cap) * per + PAGE);
        rv = probe(&pr, path, s, pl->buckets, pl->value_size, n, pool);
        pl->probes++;
        if (rv != APR_SUCCESS)
            return rv;
    }
    *hi = s;
    *hi_cap = pr.cap;
    if (*hi_cap == n)
        return APR_SUCCESS;
    if (lo == 0 && s > seg_min(pl->buckets)) {
        /* below s: step down by the surplus (at least a page) */
        while (*hi > seg_min(pl->buckets)) {
            apr_uint64_t d = (*hi_cap - n) * per / PAGE * PAGE;
            s = seg_round(pl, *hi > d + PAGE ? *hi - (d > PAGE ? d : PAGE)
                                             : 0);
            rv = probe(&pr, path, s, pl->buckets, pl->value_size, n, pool);
            pl->probes++;
            if (rv != APR_SUCCESS)
                return rv;
            if (pr.cap < n) {
                lo = s;
                break;
            }
            *hi = s;
            *hi_cap = pr.cap;
            if (*hi_cap == n)
                return APR_SUCCESS;
        }
    }
    /* bisect in pages between lo (too small) and hi */
    while (lo != 0 && *hi - lo > PAGE) {
        s = lo + (*hi - lo) / PAGE / 2 * PAGE;
        rv = probe(&pr, path, s, pl->buckets, pl->value_size, n, pool);
        pl->probes++;
        if (rv != APR_SUCCESS)
            return rv;
        if (pr.cap < n)
            lo = s;
        else {
            *hi = s;
            *hi_cap = pr.cap;
        }
    }
    return APR_SUCCESS;
}

apr_status_t evict_shm_plan(evict_shm_plan_t *pl, uint64_t n,
                            const char *path, apr_pool_t *pool)
{
    probe_t pr;
    apr_uint64_t size, hi;
    uint64_t hi_cap;
    int tries;
    apr_status_t rv;

    memset(pl, 0, sizeof *pl);
    pl->entries = n;
    pl->buckets = (apr_uint32_t)bench_pow2_at_least(2 * n);
    pl->value_size = MIN_VALUE;
    size = seg_min(pl->buckets);
    rv = probe(&pr, path, size, pl->buckets, pl->value_size, n, pool);
    pl->probes++;
    if (rv != APR_SUCCESS)
        return rv;
    if (pr.cap > n) {
        /* the smallest segment holds too many: larger values, so that n
         * of them need about 1.25 times its data region */
        apr_uint64_t over = pr.per_entry - MIN_VALUE;
        apr_uint64_t v = pr.data_size * 5 / 4 / n;
        pl->value_size = (unsigned)(v > over + MIN_VALUE ? v - over
                                                         : MIN_VALUE);
    }
    else
        size = seg_round(pl, pr.meta + n * pr.per_entry);
    for (tries = 0; tries < MAX_VALUE_TRIES; tries++) {
        rv = probe(&pr, path, size, pl->buckets, pl->value_size, n, pool);
        pl->probes++;
        if (rv == APR_SUCCESS)
            rv = smallest_fit(pl, n, &pr, size, path, &hi, &hi_cap, pool);
        if (rv != APR_SUCCESS)
            return rv;
        if (hi_cap == n) {
            pl->seg_size = hi;
            rv = probe(&pr, path, hi, pl->buckets, pl->value_size, n, pool);
            pl->data_size = pr.data_size;
            return rv;
        }
        pl->value_size += VALUE_STEP;
        size = hi;
    }
    fprintf(stderr, "bench_evict: no segment holds exactly %llu entries "
            "(tried values up to %u bytes)\n", (unsigned long long)n,
            pl->value_size);
    return APR_EGENERAL;
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
