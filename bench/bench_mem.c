/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_mem.c - how much of the segment holds data.
 *
 * 1. Overhead per entry: for each key:value size pair, insert N items into
 *    an empty cache and read shmcache_stats. The bytes an entry occupies
 *    in the data region (its allocator payload, the block header and the
 *    padding) are measured as the fall of bytes_free per item, so no block
 *    header size is assumed; bytes_used / items (payload only) is shown
 *    too. Overhead = occupied - key - value. The bucket array lives outside
 *    the data region; its share (4 bytes per bucket / items) is printed
 *    apart.
 * 2. Steady-state utilization: a cache of --size bytes of data region is
 *    filled with sets of random keys whose values are 16 B .. 16 KiB
 *    (log-uniform by default, so every size class is exercised; --uniform
 *    for uniform), far past full, then sampled while sets continue:
 *    utilization = live bytes / data_size, where live bytes is the sum of
 *    key + value length of every entry present, counted with
 *    shmcache_iterate(SHMCACHE_ITER_KEYS_ONLY).
 */
#include "common.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>

#define MAX_PAIRS 8

typedef struct config_t {
    uint64_t kv[MAX_PAIRS][2];
    int npairs;
    uint64_t items;                /* per overhead measurement (max) */
    uint64_t size;                 /* data region for utilization */
    uint64_t vmin, vmax;
    unsigned key_size;
    double fill_factor, sample_factor;
    int samples, uniform;
    const char *path, *json;
    uint64_t seed;
} config_t;

typedef struct over_t {
    uint64_t key, value, items;
    double occupied, payload, overhead, buckets_share;
} over_t;

typedef struct util_t {
    int n;
    double util[64], used[64], frag[64];
    uint64_t items[64];
    uint64_t data_size, sets, evictions;
    double mean, min;
    double mean_value;
} util_t;

/* ------------------------------------------------------------------------
 * Overhead per entry
 * ---------------------------------------------------------------------- */

static int overhead(const config_t *c, uint64_t k, uint64_t v, over_t *o,
                    apr_pool_t *pool)
{
    shmcache_options_t opt;
    shmcache_stats_t st0, st1;
    shmcache_t *cache;
    char *key = malloc(k + 1), *val = malloc(v + 1);
    uint64_t n = c->items, i;
    apr_status_t rv;

    /* at most 256 MiB of entries */
    if (n * (k + v + 64) > (256u << 20))
        n = (256u << 20) / (k + v + 64);
    memset(val, 'v', v);
    shmcache_options_init(&opt);
    opt.size = n * (k + v + 64) * 5 / 4 + (8u << 20);
    opt.buckets = (apr_uint32_t)bench_pow2_at_least(n);
    opt.slots = 8;
    if (v > opt.max_value)
        opt.max_value = (apr_uint32_t)v;
    if (k > opt.max_key)
        opt.max_key = (apr_uint32_t)k;
    shmcache_remove(c->path, pool);
    rv = shmcache_create(&cache, c->path, &opt, pool);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "bench_mem: create %s: %s\n", c->path,
                bench_strerror(rv));
        free(key);
        free(val);
        return 0;
    }
    shmcache_stats(cache, &st0);
    for (i = 0; i < n; i++) {
        if (!bench_key(key, (unsigned)k, i))
            break;
        if (shmcache_set(cache, key, k, val, v, SHMCACHE_TTL_FOREVER, NULL)
            != APR_SUCCESS)
            break;
    }
    shmcache_stats(cache, &st1);
    o->key = k;
    o->value = v;
    o->items = st1.items;
    if (st1.items > 0 && st1.evictions == 0) {
        o->occupied = (double)(st0.bytes_free - st1.bytes_free)
                      / (double)st1.items;
        o->payload = (double)st1.bytes_used / (double)st1.items;
        o->overhead = o->occupied - (double)(k + v);
        o->buckets_share = 4.0 * st1.buckets / (double)st1.items;
    }
    shmcache_close(cache);
    shmcache_remove(c->path, pool);
    free(key);
    free(val);
    return st1.items > 0 && st1.evictions == 0;
}

/* ------------------------------------------------------------------------
 * Steady-state utilization
 * ---------------------------------------------------------------------- */

static int sum_live(void *baton, const void *key, apr_size_t key_len,
                    const void *value, apr_size_t value_len,
                    const shmcache_meta_t *meta)
{
    apr_uint64_t *sum = baton;
    *sum += key_len + meta->value_len;
    (void)value_len;
    return 0;
}

static uint64_t value_size(const config_t *c, bench_rng_t *rng)
{
    if (c->uniform)
        return c->vmin + bench_rng_below(rng, c->vmax - c->vmin + 1);
    return (uint64_t)((double)c->vmin
                      * pow((double)c->vmax / (double)c->vmin,
                            bench_rng_double(rng)));
}

static int utilization(const config_t *c, util_t *u, apr_pool_t *pool)
{
    shmcache_t *cache;
    shmcache_stats_t st;
    bench_rng_t rng;
    char key[64], *val = malloc(c->vmax + 1);
    uint64_t universe, written = 0, next_sample, i, vsum = 0;
    double mean_v;
    apr_status_t rv;

    memset(u, 0, sizeof *u);
    memset(val, 'u', c->vmax);
    rv = bench_cache_create_data(&cache, c->path, c->size, 0,
                                 (apr_uint32_t)c->vmax, pool);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "bench_mem: create %s: %s\n", c->path,
                bench_strerror(rv));
        free(val);
        return 0;
    }
    shmcache_stats(cache, &st);
    u->data_size = st.data_size;
    bench_rng_seed(&rng, c->seed);
    /* enough distinct keys for 4 caches' worth */
    mean_v = c->uniform ? (double)(c->vmin + c->vmax) / 2
             : (double)(c->vmax - c->vmin) / log((double)c->vmax / c->vmin);
    universe = (uint64_t)(4.0 * (double)st.data_size
                          / (mean_v + c->key_size + 40)) + 1000;
    next_sample = (uint64_t)(c->fill_factor * (double)st.data_size);
    for (i = 0; u->n < c->samples; i++) {
        uint64_t v = value_size(c, &rng);
        bench_key(key, c->key_size, bench_rng_below(&rng, universe));
        rv = shmcache_set(cache, key, c->key_size, val, v,
                          SHMCACHE_TTL_FOREVER, NULL);
        if (rv != APR_SUCCESS) {
            fprintf(stderr, "bench_mem: set of %" PRIu64 " bytes failed on a "
                    "full cache: %s\n", v, bench_strerror(rv));
            break;
        }
        written += c->key_size + v;
        vsum += v;
        if (written >= next_sample) {
            apr_uint64_t live = 0;
            shmcache_iterate(cache, sum_live, &live, SHMCACHE_ITER_KEYS_ONLY);
            shmcache_stats(cache, &st);
            u->util[u->n] = (double)live / (double)st.data_size;
            u->used[u->n] = (double)st.bytes_used / (double)st.data_size;
            u->frag[u->n] = st.fragmentation;
            u->items[u->n] = st.items;
            u->n++;
            next_sample += (uint64_t)(c->sample_factor * (double)st.data_size);
        }
    }
    shmcache_stats(cache, &st);
    u->sets = i;
    u->evictions = st.evictions;
    u->mean_value = i ? (double)vsum / (double)i : 0;
    u->min = 1;
    for (i = 0; i < (uint64_t)u->n; i++) {
        u->mean += u->util[i] / u->n;
        if (u->util[i] < u->min)
            u->min = u->util[i];
    }
    shmcache_close(cache);
    shmcache_remove(c->path, pool);
    free(val);
    return u->n > 0;
}

/* ------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs(
"usage: bench_mem [options]\n"
"  -p, --pairs LIST      key:value sizes for the overhead\n"
"                        (default 16:100,16:1000,16:4096,64:100,250:16)\n"
"  -n, --items N         items per overhead measurement (default 100k)\n"
"  -s, --size BYTES      data region for utilization (default 64MiB)\n"
"      --vmin N --vmax N value sizes for utilization (default 16, 16384)\n"
"      --uniform         uniform value sizes (default log-uniform)\n"
"      --fill X          fill X times the data region before sampling\n"
"                        (default 4)\n"
"      --samples N       samples, each after 0.25 data regions more\n"
"                        (default 8)\n"
"  -f, --path PATH       segment path\n"
"  -j, --json FILE       write the results as JSON\n", f);
}

enum { OPT_VMIN = 256, OPT_VMAX, OPT_UNIFORM, OPT_FILL, OPT_SAMPLES };

static int parse_pairs(const char *s, config_t *c)
{
    char buf[256], *tok, *save = NULL, *colon;

    c->npairs = 0;
    apr_cpystrn(buf, s, sizeof buf);
    for (tok = apr_strtok(buf, ",", &save); tok;
         tok = apr_strtok(NULL, ",", &save)) {
        colon = strchr(tok, ':');
        if (colon == NULL || c->npairs == MAX_PAIRS)
            return 0;
        *colon = '\0';
        if (!bench_parse_u64(tok, &c->kv[c->npairs][0])
            || !bench_parse_u64(colon + 1, &c->kv[c->npairs][1])
            || c->kv[c->npairs][0] < 8 || c->kv[c->npairs][0] > 65535)
            return 0;
        c->npairs++;
    }
    return c->npairs > 0;
}

static int parse_args(config_t *c, int argc, const char *const *argv,
                      apr_pool_t *pool)
{
    static const apr_getopt_option_t opts[] = {
        { "pairs", 'p', 1, "" }, { "items", 'n', 1, "" },
        { "size", 's', 1, "" }, { "vmin", OPT_VMIN, 1, "" },
        { "vmax", OPT_VMAX, 1, "" }, { "uniform", OPT_UNIFORM, 0, "" },
        { "fill", OPT_FILL, 1, "" }, { "samples", OPT_SAMPLES, 1, "" },
        { "path", 'f', 1, "" }, { "json", 'j', 1, "" },
        { "help", 'h', 0, "" }, { NULL, 0, 0, NULL }
    };
    apr_getopt_t *g;
    const char *arg;
    int ch;
    apr_status_t rv;

    memset(c, 0, sizeof *c);
    parse_pairs("16:100,16:1000,16:4096,64:100,250:16", c);
    c->items = 100000;
    c->size = 64u << 20;
    c->vmin = 16;
    c->vmax = 16384;
    c->key_size = 16;
    c->fill_factor = 4;
    c->sample_factor = 0.25;
    c->samples = 8;
    c->seed = 1;
    apr_getopt_init(&g, pool, argc, argv);
    while ((rv = apr_getopt_long(g, opts, &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'p': if (!parse_pairs(arg, c)) return 0; break;
        case 'n': if (!bench_parse_u64(arg, &c->items)) return 0; break;
        case 's': if (!bench_parse_u64(arg, &c->size)) return 0; break;
        case OPT_VMIN: if (!bench_parse_u64(arg, &c->vmin)) return 0; break;
        case OPT_VMAX: if (!bench_parse_u64(arg, &c->vmax)) return 0; break;
        case OPT_UNIFORM: c->uniform = 1; break;
        case OPT_FILL: c->fill_factor = atof(arg); break;
        case OPT_SAMPLES: c->samples = atoi(arg); break;
        case 'f': c->path = arg; break;
        case 'j': c->json = arg; break;
        case 'h': usage(stdout); exit(0);
        default: return 0;
        }
    }
    if (rv != APR_EOF || g->ind != argc || c->vmin < 1 || c->vmax < c->vmin
        || c->samples < 1 || c->samples > 64 || c->items < 1)
        return 0;
    if (c->path == NULL)
        c->path = bench_tmp_path("mem", pool);
    return 1;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    config_t c;
    over_t o[MAX_PAIRS];
    util_t u;
    int i, ok[MAX_PAIRS], have_u;
    FILE *f;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&pool, NULL);
    if (!parse_args(&c, argc, argv, pool)) {
        usage(stderr);
        return 2;
    }
    printf("overhead per entry (data region; bucket array apart)\n");
    printf("%5s %6s %8s %9s %9s %9s %11s\n", "key", "value", "items",
           "occupied", "payload", "overhead", "bucket arr");
    for (i = 0; i < c.npairs; i++) {
        ok[i] = overhead(&c, c.kv[i][0], c.kv[i][1], &o[i], pool);
        if (ok[i])
            printf("%5" PRIu64 " %6" PRIu64 " %8" PRIu64 " %9.1f %9.1f %9.1f "
                   "%11.1f\n", o[i].key, o[i].value, o[i].items, o[i].occupied,
                   o[i].payload, o[i].overhead, o[i].buckets_share);
        else
            printf("%5" PRIu64 " %6" PRIu64 "  (failed)\n", c.kv[i][0],
                   c.kv[i][1]);
    }

    have_u = utilization(&c, &u, pool);
    if (have_u) {
        printf("\nsteady-state utilization: %" PRIu64 " B data region, values "
               "%" PRIu64 "..%" PRIu64 " B %s (mean %.0f), %" PRIu64 " sets, %"
               PRIu64 " evictions\n", u.data_size, c.vmin, c.vmax,
               c.uniform ? "uniform" : "log-uniform", u.mean_value, u.sets,
               u.evictions);
        printf("%6s %9s %11s %9s %9s\n", "sample", "items", "live/data",
               "used/data", "frag");
        for (i = 0; i < u.n; i++)
            printf("%6d %9" PRIu64 " %10.2f%% %8.2f%% %9.3f\n", i, u.items[i],
                   u.util[i] * 100, u.used[i] * 100, u.frag[i]);
        printf("utilization mean %.2f%%, min %.2f%%\n", u.mean * 100,
               u.min * 100);
    }

    if (c.json && (f = fopen(c.json, "w")) != NULL) {
        int first = 1;
        fprintf(f, "{\n  \"program\": \"bench_mem\",\n  \"overhead\": [");
        for (i = 0; i < c.npairs; i++) {
            if (!ok[i])
                continue;
            fprintf(f, "%s\n    {\"key\": %" PRIu64 ", \"value\": %" PRIu64
                    ", \"items\": %" PRIu64 ", \"occupied\": %.2f, "
                    "\"payload\": %.2f, \"overhead\": %.2f, "
                    "\"bucket_bytes_per_item\": %.2f}", first ? "" : ",",
                    o[i].key, o[i].value, o[i].items, o[i].occupied,
                    o[i].payload, o[i].overhead, o[i].buckets_share);
            first = 0;
        }
        fprintf(f, "\n  ]");
        if (have_u) {
            fprintf(f, ",\n  \"utilization\": {\"data_size\": %" PRIu64
                    ", \"vmin\": %" PRIu64 ", \"vmax\": %" PRIu64 ", "
                    "\"distribution\": \"%s\", \"sets\": %" PRIu64 ", "
                    "\"evictions\": %" PRIu64 ", \"mean\": %.4f, \"min\": "
                    "%.4f, \"samples\": [", u.data_size, c.vmin, c.vmax,
                    c.uniform ? "uniform" : "log-uniform", u.sets,
                    u.evictions, u.mean, u.min);
            for (i = 0; i < u.n; i++)
                fprintf(f, "%s{\"live\": %.4f, \"used\": %.4f, \"frag\": "
                        "%.4f, \"items\": %" PRIu64 "}", i ? ", " : "",
                        u.util[i], u.used[i], u.frag[i], u.items[i]);
            fprintf(f, "]}");
        }
        fprintf(f, "\n}\n");
        fclose(f);
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}
