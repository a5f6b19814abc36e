/*
 * bench_evict.c - eviction quality: hit ratio of shmcache's CLOCK
 * eviction against an exact LRU with the same memory budget, replayed on
 * the same traces in the same run.
 *
 * Traces (key ids; every request is cache-aside: get, and set on a miss):
 *   zipf A      --requests draws from a Zipf(A) law over --keys ids
 *               (rank -> id through a random permutation)
 *   scan        Zipf(0.99) with scans: every --scan-every requests a run
 *               of --scan-len ids that are never requested again
 * Cache sizes: each --fractions F sizes the cache's data region to F times
 * the working set in bytes (keys * the bytes one entry occupies). The LRU
 * is given exactly the data region shmcache got (shmcache_stats
 * data_size), and each LRU entry costs the same bytes as one shmcache
 * entry (key + value + entry header + block header + padding, measured
 * on a fresh cache in this run), so the two differ only in what they keep
 * (and shmcache additionally loses whatever the allocator cannot use).
 * Hit ratios count the requests after the first 10% (warm-up).
 *
 * Also measured on the shmcache side: latency of the sets that evict
 * (bounded work per set), and with --expiry a check that expired entries
 * are reclaimed before live ones are evicted.
 */
#include "common.h"
#include "hist.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#define MAX_LIST 8

typedef struct config_t {
    uint64_t keys, requests, scan_every, scan_len;
    unsigned key_size, value_size;
    double alphas[MAX_LIST];
    int nalphas;
    double fractions[MAX_LIST];
    int nfractions;
    int scan, expiry;
    const char *path, *json;
    uint64_t seed;
} config_t;

typedef struct trace_t {
    const char *name;
    double alpha;
    uint32_t *ids;
    uint64_t n, id_space;
} trace_t;

typedef struct result_t {
    const char *trace;
    double fraction;
    uint64_t budget, entries_lru;
    double hit_shm, hit_lru;
    uint64_t evictions, items_end;
    hist_t *set_hist;
    double seconds;
} result_t;

/* ------------------------------------------------------------------------
 * Traces
 * ---------------------------------------------------------------------- */

typedef struct zipf_t {
    double *cdf;
    uint32_t *perm;
    uint64_t n;
} zipf_t;

static int zipf_make(zipf_t *z, uint64_t n, double alpha, bench_rng_t *rng)
{
    double sum = 0;
    uint64_t i;

    z->n = n;
    z->cdf = malloc(n * sizeof *z->cdf);
    z->perm = malloc(n * sizeof *z->perm);
    if (!z->cdf || !z->perm)
        return 0;
    for (i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), alpha);
        z->cdf[i] = sum;
    }
    for (i = 0; i < n; i++) {
        z->cdf[i] /= sum;
        z->perm[i] = (uint32_t)i;
    }
    for (i = n - 1; i > 0; i--) {
        uint64_t j = bench_rng_below(rng, i + 1);
        uint32_t t = z->perm[i];
        z->perm[i] = z->perm[j];
        z->perm[j] = t;
    }
    return 1;
}

static uint32_t zipf_draw(const zipf_t *z, bench_rng_t *rng)
{
    double u = bench_rng_double(rng);
    uint64_t lo = 0, hi = z->n - 1;

    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return z->perm[lo];
}

static void zipf_free(zipf_t *z)
{
    free(z->cdf);
    free(z->perm);
}

static int trace_make(trace_t *t, const config_t *c, double alpha, int scan,
                      apr_pool_t *pool)
{
    bench_rng_t rng;
    zipf_t z;
    uint64_t i = 0, next_scan = c->scan_every, fresh = c->keys;

    bench_rng_seed(&rng, c->seed * 31 + (uint64_t)(alpha * 1000) + scan);
    if (!zipf_make(&z, c->keys, alpha, &rng))
        return 0;
    t->alpha = alpha;
    t->name = scan ? apr_psprintf(pool, "scan(zipf %.2f)", alpha)
                   : apr_psprintf(pool, "zipf %.2f", alpha);
    t->n = c->requests;
    t->ids = malloc(t->n * sizeof *t->ids);
    if (t->ids == NULL)
        return 0;
    while (i < t->n) {
        if (scan && i >= next_scan) {
            uint64_t j;
            for (j = 0; j < c->scan_len && i < t->n; j++)
                t->ids[i++] = (uint32_t)fresh++;
            next_scan = i + c->scan_every;
            continue;
        }
        t->ids[i++] = zipf_draw(&z, &rng);
    }
    t->id_space = fresh;
    zipf_free(&z);
    return 1;
}

/* ------------------------------------------------------------------------
 * Exact LRU over integer ids with a byte budget
 * ---------------------------------------------------------------------- */

#define NIL 0xFFFFFFFFu

typedef struct lru_t {
    uint32_t *prev, *next;
    uint8_t *in;
    uint32_t head, tail;           /* head = most recent */
    uint64_t used, budget, cost, count;
} lru_t;

static int lru_init(lru_t *l, uint64_t id_space, uint64_t budget,
                    uint64_t cost)
{
    l->prev = malloc(id_space * sizeof *l->prev);
    l->next = malloc(id_space * sizeof *l->next);
    l->in = calloc(id_space, 1);
    l->head = l->tail = NIL;
    l->used = l->count = 0;
    l->budget = budget;
    l->cost = cost;
    return l->prev && l->next && l->in;
}

static void lru_unlink(lru_t *l, uint32_t id)
{
    if (l->prev[id] != NIL)
        l->next[l->prev[id]] = l->next[id];
    else
        l->head = l->next[id];
    if (l->next[id] != NIL)
        l->prev[l->next[id]] = l->prev[id];
    else
        l->tail = l->prev[id];
}

static void lru_push(lru_t *l, uint32_t id)
{
    l->prev[id] = NIL;
    l->next[id] = l->head;
    if (l->head != NIL)
        l->prev[l->head] = id;
    l->head = id;
    if (l->tail == NIL)
        l->tail = id;
}

/* One cache-aside request: 1 on a hit. */
static int lru_access(lru_t *l, uint32_t id)
{
    if (l->in[id]) {
        lru_unlink(l, id);
        lru_push(l, id);
        return 1;
    }
    if (l->cost > l->budget)
        return 0;
    while (l->used + l->cost > l->budget) {
        uint32_t v = l->tail;
        lru_unlink(l, v);
        l->in[v] = 0;
        l->used -= l->cost;
        l->count--;
    }
    l->in[id] = 1;
    lru_push(l, id);
    l->used += l->cost;
    l->count++;
    return 0;
}

static void lru_free(lru_t *l)
{
    free(l->prev);
    free(l->next);
    free(l->in);
}

/* ------------------------------------------------------------------------
 * Replays
 * ---------------------------------------------------------------------- */

static int replay(const config_t *c, const trace_t *t, double fraction,
                  uint64_t footprint, result_t *r, apr_pool_t *pool)
{
    uint64_t ws = c->keys * footprint, want = (uint64_t)(ws * fraction);
    uint64_t warm = t->n / 10, hits = 0, lru_hits = 0, i, t0;
    apr_uint32_t buckets;
    shmcache_t *cache;
    shmcache_stats_t st;
    char key[64], *val = malloc(c->value_size + 1), buf[64 * 1024];
    apr_size_t vlen;
    apr_status_t rv;
    lru_t lru;

    memset(val, 'v', c->value_size);
    buckets = (apr_uint32_t)bench_pow2_at_least(want / footprint + 1);
    rv = bench_cache_create_data(&cache, c->path, want, buckets,
                                 c->value_size > 1024 ? c->value_size : 0,
                                 pool);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "bench_evict: create %s: %s\n", c->path,
                bench_strerror(rv));
        free(val);
        return 0;
    }
    shmcache_stats(cache, &st);
    r->trace = t->name;
    r->fraction = fraction;
    r->budget = st.data_size;
    r->set_hist = apr_palloc(pool, sizeof(hist_t));
    hist_init(r->set_hist);

    t0 = bench_now_ns();
    for (i = 0; i < t->n; i++) {
        bench_key(key, c->key_size, t->ids[i]);
        rv = shmcache_get_buf(cache, key, c->key_size, buf, sizeof buf, &vlen,
                              NULL);
        if (rv == APR_SUCCESS) {
            if (i >= warm)
                hits++;
        }
        else {
            uint64_t s0 = bench_now_ns();
            rv = shmcache_set(cache, key, c->key_size, val, c->value_size,
                              SHMCACHE_TTL_FOREVER, NULL);
            hist_record(r->set_hist, bench_now_ns() - s0);
            if (rv != APR_SUCCESS) {
                fprintf(stderr, "bench_evict: set failed on a full cache: "
                        "%s\n", bench_strerror(rv));
                break;
            }
        }
    }
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    shmcache_stats(cache, &st);
    r->evictions = st.evictions;
    r->items_end = st.items;
    shmcache_close(cache);
    shmcache_remove(c->path, pool);
    free(val);

    if (!lru_init(&lru, t->id_space, r->budget, footprint)) {
        fprintf(stderr, "bench_evict: out of memory for the LRU\n");
        return 0;
    }
    for (i = 0; i < t->n; i++)
        if (lru_access(&lru, t->ids[i]) && i >= warm)
            lru_hits++;
    r->entries_lru = lru.budget / footprint;
    lru_free(&lru);
    r->hit_shm = (double)hits / (double)(t->n - warm);
    r->hit_lru = (double)lru_hits / (double)(t->n - warm);
    return 1;
}

/* ------------------------------------------------------------------------
 * Expired entries first
 * ---------------------------------------------------------------------- */

typedef struct expiry_t {
    int ran;
    uint64_t filled, expiring, inserted;
    uint64_t evicted_live, reclaimed_expired, expired_left;
    uint64_t live_lost;
} expiry_t;

static int count_present(shmcache_t *c, const config_t *cfg, uint64_t from,
                         uint64_t to, int parity)
{
    char key[64];
    shmcache_meta_t m;
    uint64_t i;
    int n = 0;

    for (i = from; i < to; i++) {
        if ((int)(i & 1) != parity)
            continue;
        bench_key(key, cfg->key_size, i);
        if (shmcache_get_meta(c, key, cfg->key_size, &m) == APR_SUCCESS)
            n++;
    }
    return n;
}

/* Fill a cache with entries alternating TTL 1 s and no expiry, wait for
 * the first half to expire, then store new entries needing less room than
 * the expired ones hold: ideally nothing live is evicted. */
static void expiry_check(const config_t *c, uint64_t footprint, expiry_t *x,
                         apr_pool_t *pool)
{
    shmcache_t *cache;
    shmcache_stats_t st0, st1;
    char key[64], *val = calloc(1, c->value_size + 1);
    uint64_t cap, i, live_before;
    apr_status_t rv;

    memset(x, 0, sizeof *x);
    rv = bench_cache_create_data(&cache, c->path, 2u << 20, 0, 0, pool);
    if (rv != APR_SUCCESS) {
        free(val);
        return;
    }
    shmcache_stats(cache, &st0);
    cap = st0.data_size / footprint * 97 / 100;
    for (i = 0; i < cap; i++) {
        bench_key(key, c->key_size, i);
        shmcache_set(cache, key, c->key_size, val, c->value_size,
                     (i & 1) ? SHMCACHE_TTL_FOREVER : 1, NULL);
    }
    shmcache_stats(cache, &st0);
    x->filled = st0.items;
    x->expiring = (cap + 1) / 2;
    /* counted without reading them: a read would mark them visited */
    live_before = cap / 2;
    apr_sleep(apr_time_from_msec(2200));
    x->inserted = x->expiring * 8 / 10;
    for (i = 0; i < x->inserted; i++) {
        bench_key(key, c->key_size, cap + i);
        shmcache_set(cache, key, c->key_size, val, c->value_size,
                     SHMCACHE_TTL_FOREVER, NULL);
    }
    shmcache_stats(cache, &st1);
    x->evicted_live = st1.evictions - st0.evictions;
    x->reclaimed_expired = st1.expirations - st0.expirations;
    x->live_lost = live_before - (uint64_t)count_present(cache, c, 0, cap, 1);
    x->expired_left = st1.items > x->inserted + live_before - x->live_lost
                      ? st1.items - (x->inserted + live_before - x->live_lost)
                      : 0;
    x->ran = 1;
    shmcache_close(cache);
    shmcache_remove(c->path, pool);
    free(val);
}

/* ------------------------------------------------------------------------
 * Options and output
 * ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs(
"usage: bench_evict [options]\n"
"  -k, --keys N          Zipf universe (working set) in keys (default 200k)\n"
"  -n, --requests N      requests per trace (default 10 x keys)\n"
"  -K, --key-size N      key bytes (default 16)\n"
"  -V, --value-size N    value bytes (default 100)\n"
"  -a, --alphas LIST     Zipf exponents (default 0.8,0.99)\n"
"  -F, --fractions LIST  cache sizes as fractions of the working set\n"
"                        (default 0.01,0.1)\n"
"      --no-scan         leave out the scan-polluted trace\n"
"      --scan-every N    Zipf requests between scans (default keys/2)\n"
"      --scan-len N      ids per scan (default keys/10)\n"
"      --expiry          also check that expired entries go first (2 s)\n"
"  -f, --path PATH       segment path\n"
"  -j, --json FILE       write the results as JSON\n"
"      --seed N\n", f);
}

enum { OPT_NO_SCAN = 256, OPT_SCAN_EVERY, OPT_SCAN_LEN, OPT_EXPIRY, OPT_SEED };

static int parse_args(config_t *c, int argc, const char *const *argv,
                      apr_pool_t *pool)
{
    static const apr_getopt_option_t opts[] = {
        { "keys", 'k', 1, "" }, { "requests", 'n', 1, "" },
        { "key-size", 'K', 1, "" }, { "value-size", 'V', 1, "" },
        { "alphas", 'a', 1, "" }, { "fractions", 'F', 1, "" },
        { "no-scan", OPT_NO_SCAN, 0, "" },
        { "scan-every", OPT_SCAN_EVERY, 1, "" },
        { "scan-len", OPT_SCAN_LEN, 1, "" }, { "expiry", OPT_EXPIRY, 0, "" },
        { "path", 'f', 1, "" }, { "json", 'j', 1, "" },
        { "seed", OPT_SEED, 1, "" }, { "help", 'h', 0, "" },
        { NULL, 0, 0, NULL }
    };
    apr_getopt_t *g;
    const char *arg;
    int ch;
    uint64_t u;
    apr_status_t rv;

    memset(c, 0, sizeof *c);
    c->keys = 200000;
    c->key_size = 16;
    c->value_size = 100;
    c->alphas[0] = 0.8;
    c->alphas[1] = 0.99;
    c->nalphas = 2;
    c->fractions[0] = 0.01;
    c->fractions[1] = 0.1;
    c->nfractions = 2;
    c->scan = 1;
    c->seed = 1;
    apr_getopt_init(&g, pool, argc, argv);
    while ((rv = apr_getopt_long(g, opts, &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'k': if (!bench_parse_u64(arg, &c->keys)) return 0; break;
        case 'n': if (!bench_parse_u64(arg, &c->requests)) return 0; break;
        case 'K':
            if (!bench_parse_u64(arg, &u) || u > 250) return 0;
            c->key_size = (unsigned)u;
            break;
        case 'V':
            if (!bench_parse_u64(arg, &u) || u > (1u << 20)) return 0;
            c->value_size = (unsigned)u;
            break;
        case 'a':
            if (!bench_parse_double_list(arg, c->alphas, MAX_LIST, &c->nalphas))
                return 0;
            break;
        case 'F':
            if (!bench_parse_double_list(arg, c->fractions, MAX_LIST,
                                         &c->nfractions))
                return 0;
            break;
        case OPT_NO_SCAN: c->scan = 0; break;
        case OPT_SCAN_EVERY:
            if (!bench_parse_u64(arg, &c->scan_every)) return 0;
            break;
        case OPT_SCAN_LEN:
            if (!bench_parse_u64(arg, &c->scan_len)) return 0;
            break;
        case OPT_EXPIRY: c->expiry = 1; break;
        case 'f': c->path = arg; break;
        case 'j': c->json = arg; break;
        case OPT_SEED: c->seed = strtoull(arg, NULL, 10); break;
        case 'h': usage(stdout); exit(0);
        default: return 0;
        }
    }
    if (rv != APR_EOF || g->ind != argc || c->keys < 100)
        return 0;
    if (c->requests == 0)
        c->requests = c->keys * 10;
    if (c->scan_every == 0)
        c->scan_every = c->keys / 2;
    if (c->scan_len == 0)
        c->scan_len = c->keys / 10;
    if (c->path == NULL)
        c->path = bench_tmp_path("evict", pool);
    /* scan ids go past keys: the key must number them all */
    if (c->key_size < bench_key_min_size(c->keys + c->requests)) {
        fprintf(stderr, "bench_evict: --key-size too small for the ids\n");
        return 0;
    }
    return 1;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    config_t c;
    result_t res[MAX_LIST * (MAX_LIST + 1)];
    int nres = 0, ai, fi, ti, ntraces, i, worse = 0;
    trace_t traces[MAX_LIST + 1];
    uint64_t footprint;
    expiry_t x;
    FILE *f;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&pool, NULL);
    if (!parse_args(&c, argc, argv, pool)) {
        usage(stderr);
        return 2;
    }
    footprint = bench_entry_footprint(c.key_size, c.value_size, pool);
    if (footprint == 0) {
        fprintf(stderr, "bench_evict: cannot measure the entry footprint "
                "(cannot create a cache under %s?)\n", c.path);
        return 3;
    }
    printf("eviction quality: %" PRIu64 " keys of %u+%u bytes, %" PRIu64
           " B per entry (LRU charged the same), %" PRIu64 " requests per "
           "trace, hit ratios after 10%% warm-up\n", c.keys, c.key_size,
           c.value_size, footprint, c.requests);

    ntraces = 0;
    for (ai = 0; ai < c.nalphas; ai++)
        if (!trace_make(&traces[ntraces++], &c, c.alphas[ai], 0, pool))
            return 3;
    if (c.scan && !trace_make(&traces[ntraces++], &c, 0.99, 1, pool))
        return 3;

    printf("%-17s %6s %10s %8s %8s %9s %9s %8s %8s %9s %9s\n", "trace",
           "cache", "bytes", "shm ent", "LRU ent", "shmcache", "LRU", "diff",
           "set p50", "set p99.9", "set max");
    for (ti = 0; ti < ntraces; ti++)
        for (fi = 0; fi < c.nfractions; fi++) {
            result_t *r = &res[nres];
            if (!replay(&c, &traces[ti], c.fractions[fi], footprint, r, pool))
                continue;
            nres++;
            if (r->hit_shm < r->hit_lru)
                worse++;
            printf("%-17s %5.1f%% %10" PRIu64 " %8" PRIu64 " %8" PRIu64
                   " %9.4f %9.4f %+8.4f %8" PRIu64 " %9" PRIu64 " %9" PRIu64
                   "\n", r->trace, r->fraction * 100, r->budget,
                   r->items_end, r->entries_lru,
                   r->hit_shm, r->hit_lru, r->hit_shm - r->hit_lru,
                   hist_percentile(r->set_hist, 50),
                   hist_percentile(r->set_hist, 99.9), r->set_hist->max);
        }
    printf("shmcache at least LRU on %d of %d traces\n", nres - worse, nres);

    memset(&x, 0, sizeof x);
    if (c.expiry) {
        expiry_check(&c, footprint, &x, pool);
        if (x.ran)
            printf("expiry: %" PRIu64 " entries (half with TTL 1 s), after "
                   "expiry %" PRIu64 " new sets: %" PRIu64 " expired "
                   "reclaimed, %" PRIu64 " live evicted (%" PRIu64
                   " never-expiring entries lost), ~%" PRIu64 " expired "
                   "still held\n", x.filled, x.inserted, x.reclaimed_expired,
                   x.evicted_live, x.live_lost, x.expired_left);
    }

    if (c.json && (f = fopen(c.json, "w")) != NULL) {
        fprintf(f, "{\n  \"program\": \"bench_evict\",\n  \"config\": {"
                "\"keys\": %" PRIu64 ", \"requests\": %" PRIu64 ", "
                "\"key_size\": %u, \"value_size\": %u, \"entry_footprint\": %"
                PRIu64 ", \"scan_every\": %" PRIu64 ", \"scan_len\": %" PRIu64
                ", \"warmup\": 0.1},\n  \"results\": [", c.keys, c.requests,
                c.key_size, c.value_size, footprint, c.scan_every, c.scan_len);
        for (i = 0; i < nres; i++) {
            result_t *r = &res[i];
            fprintf(f, "%s\n    {\"trace\": ", i ? "," : "");
            bench_json_str(f, r->trace);
            fprintf(f, ", \"fraction\": %.4f, \"budget_bytes\": %" PRIu64
                    ", \"lru_entries\": %" PRIu64 ", \"hit_shmcache\": %.5f, "
                    "\"hit_lru\": %.5f, \"diff\": %.5f, \"evictions\": %"
                    PRIu64 ", \"items_end\": %" PRIu64 ", \"seconds\": %.2f, "
                    "\"set_ns\": {\"p50\": %" PRIu64 ", \"p99\": %" PRIu64
                    ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}}",
                    r->fraction, r->budget, r->entries_lru, r->hit_shm,
                    r->hit_lru, r->hit_shm - r->hit_lru, r->evictions,
                    r->items_end, r->seconds,
                    hist_percentile(r->set_hist, 50),
                    hist_percentile(r->set_hist, 99),
                    hist_percentile(r->set_hist, 99.9), r->set_hist->max);
        }
        fprintf(f, "\n  ]");
        if (x.ran)
            fprintf(f, ",\n  \"expiry\": {\"filled\": %" PRIu64 ", "
                    "\"inserted_after_expiry\": %" PRIu64 ", "
                    "\"expired_reclaimed\": %" PRIu64 ", \"live_evicted\": %"
                    PRIu64 ", \"live_lost\": %" PRIu64 "}", x.filled,
                    x.inserted, x.reclaimed_expired, x.evicted_live,
                    x.live_lost);
        fprintf(f, "\n}\n");
        fclose(f);
    }
    for (ti = 0; ti < ntraces; ti++)
        free(traces[ti].ids);
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}
