/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_alloc.c - the segment allocator (sc_alloc, TLSF, libshmcache/src/
 * alloc.c) against APR-util's apr_rmm, on the same traces, in the same
 * process and the same run.
 *
 * Throughput: 10,000 live blocks of 16 B..16 KiB in a 256 MiB buffer; each
 * step frees a random live block and allocates a new block of a random size
 * in its place. Both allocators replay one pre-generated trace (same seed);
 * ops/s counts mallocs and frees of the timed steady-state phase.
 *
 * Utilization: a 64 MiB buffer is filled with the same size mix, and when
 * an allocation does not fit, random live blocks are freed until it does.
 * After the first such eviction and a warm-up, the figure is the mean of
 * (live requested bytes / buffer bytes) right after each allocation.
 * The buffer bytes include each allocator's own control block.
 *
 * Every figure is the median of --runs runs (default 5); utilization runs
 * use seeds seed, seed+1, ... Sizes are uniform over 16..16384 bytes, or
 * log-uniform (many small blocks, few large) with --dist log.
 *
 * usage: bench_alloc [--json] [--runs N] [--steps N] [--seed N]
 *                    [--dist uniform|log]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_rmm.h>
#include <apr_time.h>

#include "shmcache.h"
#include "alloc.h"

#define LIVE_BLOCKS   10000u
#define MIN_SIZE      16u
#define MAX_SIZE      16384u
#define TPUT_BUFFER   ((apr_size_t)256 << 20)
#define UTIL_BUFFER   ((apr_size_t)64 << 20)
#define UTIL_WARMUP   10000u
#define UTIL_MEASURE  20000u
#define CTRL_BYTES    4096u    /* sc_alloc control block area */
#define MAX_RUNS      15
#define GOAL_RATIO    20.0
#define GOAL_UTIL     0.85

/* ------------------------------------------------------------------------
 * Random numbers and sizes
 * ---------------------------------------------------------------------- */

/* splitmix64: small, seeded, the same everywhere. */
static apr_uint64_t rng_next(apr_uint64_t *s)
{
    apr_uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static apr_uint64_t rng_below(apr_uint64_t *s, apr_uint64_t n)
{
    return rng_next(s) % n;
}

/* One request size of the chosen distribution. */
static apr_size_t draw_size(apr_uint64_t *s, int log_dist)
{
    double u;

    if (!log_dist)
        return MIN_SIZE + (apr_size_t)rng_below(s, MAX_SIZE - MIN_SIZE + 1);
    u = (double)(rng_next(s) >> 11) / 9007199254740992.0;   /* [0, 1) */
    return (apr_size_t)(MIN_SIZE * pow((double)MAX_SIZE / MIN_SIZE, u));
}

/* ------------------------------------------------------------------------
 * The two allocators behind one small interface (offsets, 0 = failure)
 * ---------------------------------------------------------------------- */

typedef struct heap_t {
    const char *name;
    unsigned char *base;
    apr_size_t size;
    sc_alloc_sh_t *sc;            /* sc_alloc: control block in the buffer */
    sc_alloc_t al;                /* bound to the region after it */
    apr_rmm_t *rmm;               /* apr_rmm: its own header in the buffer */
    apr_pool_t *pool;
} heap_t;

static int sc_init(heap_t *h)
{
    h->sc = (sc_alloc_sh_t *)(void *)h->base;
    return sc_alloc_init(&h->al, h->base, h->sc, CTRL_BYTES, h->size) == APR_SUCCESS;
}

static apr_uint64_t sc_malloc(heap_t *h, apr_size_t n)
{
    apr_uint64_t p;

    return sc_alloc_malloc_locked(&h->al, n, &p) == APR_SUCCESS ? p : 0;
}

static void sc_free(heap_t *h, apr_uint64_t p)
{
    sc_alloc_free_locked(&h->al, p);
}

static int rmm_init(heap_t *h)
{
    if (h->pool != NULL)
        apr_pool_clear(h->pool);
    else if (apr_pool_create(&h->pool, NULL) != APR_SUCCESS)
        return 0;
    return apr_rmm_init(&h->rmm, NULL, h->base, h->size, h->pool) == APR_SUCCESS;
}

static apr_uint64_t rmm_malloc(heap_t *h, apr_size_t n)
{
    return apr_rmm_malloc(h->rmm, n);
}

static void rmm_free(heap_t *h, apr_uint64_t p)
{
    apr_rmm_free(h->rmm, (apr_rmm_off_t)p);
}

typedef struct heap_ops_t {
    const char *name;
    int (*init)(heap_t *h);
    apr_uint64_t (*malloc_fn)(heap_t *h, apr_size_t n);
    void (*free_fn)(heap_t *h, apr_uint64_t p);
} heap_ops_t;

static const heap_ops_t SC_OPS = {"sc_alloc", sc_init, sc_malloc, sc_free};
static const heap_ops_t RMM_OPS = {"apr_rmm", rmm_init, rmm_malloc, rmm_free};

/* ------------------------------------------------------------------------
 * Throughput
 * ---------------------------------------------------------------------- */

/* The trace: LIVE_BLOCKS initial sizes, then steps of (slot, size). */
typedef struct trace_t {
    apr_size_t *fill;
    apr_uint32_t *slot;
    apr_size_t *size;
    apr_uint32_t steps;
} trace_t;

static void trace_make(trace_t *t, apr_uint32_t steps, apr_uint64_t seed, int log_dist)
{
    apr_uint64_t s = seed;
    apr_uint32_t i;

    t->steps = steps;
    t->fill = malloc(sizeof *t->fill * LIVE_BLOCKS);
    t->slot = malloc(sizeof *t->slot * steps);
    t->size = malloc(sizeof *t->size * steps);
    if (t->fill == NULL || t->slot == NULL || t->size == NULL) {
        fprintf(stderr, "bench_alloc: out of memory for the trace\n");
        exit(1);
    }
    for (i = 0; i < LIVE_BLOCKS; i++)
        t->fill[i] = draw_size(&s, log_dist);
    for (i = 0; i < steps; i++) {
        t->slot[i] = (apr_uint32_t)rng_below(&s, LIVE_BLOCKS);
        t->size[i] = draw_size(&s, log_dist);
    }
}

/* Replay the trace on a fresh heap; returns timed ops per second, and
 * counts allocations that failed (should be none). */
static double tput_run(const heap_ops_t *ops, heap_t *h, const trace_t *t,
                       apr_uint64_t *live, apr_uint64_t *failures)
{
    apr_uint32_t i;
    apr_time_t t0, t1;
    apr_uint64_t ops_done = 0;

    if (!ops->init(h)) {
        fprintf(stderr, "bench_alloc: %s init failed\n", ops->name);
        exit(1);
    }
    for (i = 0; i < LIVE_BLOCKS; i++)
        live[i] = ops->malloc_fn(h, t->fill[i]);
    t0 = apr_time_now();
    for (i = 0; i < t->steps; i++) {
        apr_uint64_t *p = &live[t->slot[i]];
        if (*p != 0) {
            ops->free_fn(h, *p);
            ops_done++;
        }
        *p = ops->malloc_fn(h, t->size[i]);
        ops_done++;
        *failures += *p == 0;
    }
    t1 = apr_time_now();
    return (double)ops_done / ((double)(t1 - t0 > 0 ? t1 - t0 : 1) / 1e6);
}

/* ------------------------------------------------------------------------
 * Utilization
 * ---------------------------------------------------------------------- */

/* One utilization run (see the top of the file); returns the mean. */
static double util_run(const heap_ops_t *ops, heap_t *h, apr_uint64_t seed, int log_dist)
{
    apr_uint32_t cap = (apr_uint32_t)(h->size / MIN_SIZE);
    apr_uint64_t *off = malloc(sizeof *off * cap), s = seed, p, live_req = 0;
    apr_size_t *req = malloc(sizeof *req * cap), n;
    apr_uint32_t count = 0, k, after = 0;
    double sum = 0;
    int evicting = 0;

    if (off == NULL || req == NULL || !ops->init(h)) {
        fprintf(stderr, "bench_alloc: %s utilization setup failed\n", ops->name);
        exit(1);
    }
    while (after < UTIL_WARMUP + UTIL_MEASURE) {
        n = draw_size(&s, log_dist);
        while ((p = ops->malloc_fn(h, n)) == 0 && count > 0) {
            k = (apr_uint32_t)rng_below(&s, count);
            ops->free_fn(h, off[k]);
            live_req -= req[k];
            off[k] = off[--count];
            req[k] = req[count];
            evicting = 1;
        }
        if (p == 0 || count >= cap)
            break;
        off[count] = p;
        req[count++] = n;
        live_req += n;
        if (evicting && ++after > UTIL_WARMUP)
            sum += (double)live_req / (double)h->size;
    }
    free(off);
    free(req);
    return after > UTIL_WARMUP ? sum / (after - UTIL_WARMUP) : 0;
}

/* ------------------------------------------------------------------------
 * Driver
 * ---------------------------------------------------------------------- */

typedef struct options_t {
    int json, runs, log_dist;
    apr_uint32_t steps;
    apr_uint64_t seed;
} options_t;

typedef struct result_t {
    double sc_ops, rmm_ops, ratio, sc_util, rmm_util;
    apr_uint64_t failures;
    int check_ok;
} result_t;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_alloc [--json] [--runs N] [--steps N] [--seed N] "
            "[--dist uniform|log]\n");
    exit(2);
}

static void parse(int argc, char **argv, options_t *o)
{
    int i;

    o->json = 0;
    o->runs = 5;
    o->steps = 40000;
    o->seed = 1;
    o->log_dist = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o->json = 1;
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            o->runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            o->steps = (apr_uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            o->seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dist") == 0 && i + 1 < argc)
            o->log_dist = strcmp(argv[++i], "log") == 0;
        else
            usage();
    }
    if (o->runs < 1 || o->runs > MAX_RUNS || o->steps == 0)
        usage();
}

/* A heap over a fresh buffer of size bytes. */
static void heap_make(heap_t *h, apr_size_t size)
{
    memset(h, 0, sizeof *h);
    h->size = size;
    h->base = malloc(size);
    if (h->base == NULL) {
        fprintf(stderr, "bench_alloc: cannot allocate %llu bytes\n", (unsigned long long)size);
        exit(1);
    }
    memset(h->base, 0, size);     /* no page faults inside the timed phase */
}

static void heap_drop(heap_t *h)
{
    if (h->pool != NULL)
        apr_pool_destroy(h->pool);
    free(h->base);
}

static void measure(const options_t *o, result_t *r)
{
    double sc_ops[MAX_RUNS], rmm_ops[MAX_RUNS], sc_util[MAX_RUNS], rmm_util[MAX_RUNS];
    apr_uint64_t *live = malloc(sizeof *live * LIVE_BLOCKS);
    heap_t sc, rmm;
    trace_t t;
    int i;

    trace_make(&t, o->steps, o->seed, o->log_dist);
    heap_make(&sc, TPUT_BUFFER);
    heap_make(&rmm, TPUT_BUFFER);
    r->failures = 0;
    for (i = 0; i < o->runs; i++) {        /* interleaved, so drift hits both */
        sc_ops[i] = tput_run(&SC_OPS, &sc, &t, live, &r->failures);
        rmm_ops[i] = tput_run(&RMM_OPS, &rmm, &t, live, &r->failures);
    }
    r->check_ok = sc_alloc_check_locked(&sc.al, NULL, 0) == APR_SUCCESS;
    heap_drop(&sc);
    heap_drop(&rmm);
    heap_make(&sc, UTIL_BUFFER);
    heap_make(&rmm, UTIL_BUFFER);
    for (i = 0; i < o->runs; i++) {
        sc_util[i] = util_run(&SC_OPS, &sc, o->seed + (apr_uint64_t)i, o->log_dist);
        rmm_util[i] = util_run(&RMM_OPS, &rmm, o->seed + (apr_uint64_t)i, o->log_dist);
    }
    r->check_ok &= sc_alloc_check_locked(&sc.al, NULL, 0) == APR_SUCCESS;
    heap_drop(&sc);
    heap_drop(&rmm);
    r->sc_ops = median(sc_ops, o->runs);
    r->rmm_ops = median(rmm_ops, o->runs);
    r->ratio = r->sc_ops / r->rmm_ops;
    r->sc_util = median(sc_util, o->runs);
    r->rmm_util = median(rmm_util, o->runs);
    free(live);
    free(t.fill);
    free(t.slot);
    free(t.size);
}

static void print_table(const options_t *o, const result_t *r)
{
    printf("bench_alloc: %u live blocks, sizes %u B..%u KiB (%s), %u steps, seed %llu, "
           "median of %d runs\n\n", LIVE_BLOCKS, MIN_SIZE, MAX_SIZE / 1024,
           o->log_dist ? "log-uniform" : "uniform", o->steps, (unsigned long long)o->seed,
           o->runs);
    printf("  %-24s %14s %14s %10s  %s\n", "", "sc_alloc", "apr_rmm", "ratio", "goal");
    printf("  %-24s %14.0f %14.0f %9.1fx  >= %.0fx %s\n", "malloc+free ops/s",
           r->sc_ops, r->rmm_ops, r->ratio, GOAL_RATIO, r->ratio >= GOAL_RATIO ? "ok" : "MISSED");
    printf("  %-24s %13.1f%% %13.1f%% %10s  >= %.0f%% %s\n", "steady-state utilization",
           100 * r->sc_util, 100 * r->rmm_util, "", 100 * GOAL_UTIL,
           r->sc_util >= GOAL_UTIL ? "ok" : "MISSED");
    printf("\n  failed allocations in the throughput trace: %llu; sc_alloc check after "
           "the runs: %s\n", (unsigned long long)r->failures, r->check_ok ? "passed" : "FAILED");
}

static void print_json(const options_t *o, const result_t *r)
{
    printf("{\"bench\":\"alloc\",\"live_blocks\":%u,\"min_size\":%u,\"max_size\":%u,"
           "\"dist\":\"%s\",\"steps\":%u,\"seed\":%llu,\"runs\":%d,"
           "\"sc_alloc\":{\"ops_per_sec\":%.0f,\"utilization\":%.4f},"
           "\"apr_rmm\":{\"ops_per_sec\":%.0f,\"utilization\":%.4f},"
           "\"ratio\":%.2f,\"goal_ratio\":%.0f,\"goal_utilization\":%.2f,"
           "\"failed_allocations\":%llu,\"check\":%s,\"pass\":%s}\n",
           LIVE_BLOCKS, MIN_SIZE, MAX_SIZE, o->log_dist ? "log" : "uniform", o->steps,
           (unsigned long long)o->seed, o->runs, r->sc_ops, r->sc_util, r->rmm_ops,
           r->rmm_util, r->ratio, GOAL_RATIO, GOAL_UTIL, (unsigned long long)r->failures,
           r->check_ok ? "true" : "false",
           r->ratio >= GOAL_RATIO && r->sc_util >= GOAL_UTIL && r->check_ok ? "true" : "false");
}

int main(int argc, char **argv)
{
    options_t o;
    result_t r;

    parse(argc, argv, &o);
    if (apr_initialize() != APR_SUCCESS)
        return 1;
    measure(&o, &r);
    if (o.json)
        print_json(&o, &r);
    else
        print_table(&o, &r);
    apr_terminate();
    return r.check_ok ? 0 : 1;
}
