/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_herd.c - the thundering herd: N processes keep asking for one key
 * whose value takes --compute-ms (50 ms) to compute and is stored with TTL
 * 1 (the library rounds a TTL up to whole seconds, so it lives 1 to 2 s),
 * for --seconds each run, starting from a stored value. Three ways to ask,
 * measured in the same run:
 *
 *   plain   shmcache_get_buf; on a miss compute and shmcache_set (no
 *           lease): the baseline, where every process that misses
 *           computes (the stampede);
 *   lease   shmcache_get_or_compute, stale_ttl 0: one process computes,
 *           the others wait for its value;
 *   swr     shmcache_get_or_compute, stale_ttl --stale (60 s): one process
 *           refreshes, the others are served the stale value at once
 *           (stale-while-revalidate).
 *
 * Each process asks every --interval-us (1000: a steady request rate, so
 * the callers that meet an expiry are a fixed share of all calls and show
 * in the high percentiles; back-to-back calls would bury them under
 * millions of hits). Figures per (way, N):
 *   - computations per expiry: every computation is tagged with the wall
 *     second it started in; the value expires at a second boundary and
 *     lives at least a second, so each second that saw a computation is
 *     one expiry. Mean and worst second (target: exactly 1 with a lease);
 *   - latency of every call, p50 / p99 / p99.9, and p99 / max of the
 *     calls that did not compute themselves (the herd: target with swr,
 *     the normal hit latency). A call that takes longer than the interval
 *     holds back the calls its process would have made meanwhile, so
 *     every sample is recorded with HdrHistogram's correction for that
 *     (hist_record_corrected): the figures are those of callers arriving
 *     at the steady rate, not only of the calls this loop got to make;
 *   - the library's lease_waits and stale_answers counters.
 *
 * Helper processes are this binary re-executed ("--child ..."); each
 * reports its computations and its latency histogram on stdout.
 *
 * usage: bench_herd [--procs 1,2,16] [--seconds S] [--compute-ms MS]
 *                   [--interval-us US] [--stale S] [--ways plain,lease,swr]
 */
#include "common.h"
#include "hist.h"

#include <apr_getopt.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROCS 64
#define MAX_COMPUTES 100000     /* per process and run */
#define KEY "popular"
#define KEY_LEN 7
#define VALUE_LEN 100

typedef enum { WAY_PLAIN, WAY_LEASE, WAY_SWR, WAY_COUNT } way_e;
static const char *const way_name[WAY_COUNT] = {"plain", "lease", "swr"};
static const char *const way_label[WAY_COUNT] = {
    "get + compute on miss + set (no lease)",
    "get_or_compute (lease)",
    "get_or_compute + stale-while-revalidate"};

typedef struct opts_t {
    uint64_t procs[8];
    int nprocs;
    int ways[WAY_COUNT];        /* 1 = run it */
    double seconds;
    apr_uint32_t compute_ms;
    apr_uint32_t interval_us;
    apr_uint32_t stale;
    const char *exe;
} opts_t;

/* What one (way, N) run gave. */
typedef struct result_t {
    uint64_t computations;
    uint64_t expiries;          /* seconds that saw a computation */
    uint64_t worst;             /* most computations in one of them */
    uint64_t errors;            /* calls that got neither value nor stale */
    uint64_t calls;
    hist_t lat;                 /* every call */
    hist_t herd;                /* the calls that did not compute */
    shmcache_stats_t st;
} result_t;

static void die(const char *what, apr_status_t rv)
{
    fprintf(stderr, "bench_herd: %s: %s\n", what, bench_strerror(rv));
    exit(1);
}

/* ------------------------------------------------------------------------
 * The child: ask for the key until the end time, report
 * ---------------------------------------------------------------------- */

typedef struct child_t {
    shmcache_t *cache;
    way_e way;
    apr_uint32_t compute_ms;
    apr_uint32_t stale;
    apr_time_t computed_at[MAX_COMPUTES];
    int computes;
    uint64_t errors;
} child_t;

/* The computation: note when it started, take compute_ms (a database
 * query, a template: sleeping, not spinning, as a real one waits). */
static void compute(child_t *ch, char *value)
{
    if (ch->computes < MAX_COMPUTES)
        ch->computed_at[ch->computes++] = apr_time_now();
    apr_sleep(apr_time_from_msec(ch->compute_ms));
    memset(value, 'v', VALUE_LEN);
}

/* shmcache_compute_fn for the lease ways. */
static apr_status_t compute_fn(void *baton, const void *key, apr_size_t key_len,
                               void **value, apr_size_t *value_len,
                               apr_uint32_t *ttl, apr_uint32_t *stale_ttl,
                               apr_pool_t *pool)
{
    child_t *ch = baton;
    char *v = apr_palloc(pool, VALUE_LEN);

    (void)key;
    (void)key_len;
    compute(ch, v);
    *value = v;
    *value_len = VALUE_LEN;
    *ttl = 1;
    *stale_ttl = ch->way == WAY_SWR ? ch->stale : 0;
    return APR_SUCCESS;
}

/* The baseline: a plain get, and on a miss compute and set. */
static apr_status_t ask_plain(child_t *ch)
{
    char buf[VALUE_LEN];
    apr_size_t n;
    apr_status_t rv = shmcache_get_buf(ch->cache, KEY, KEY_LEN, buf, sizeof buf,
                                       &n, NULL);

    if (rv != SHMCACHE_NOTFOUND)
        return rv;
    compute(ch, buf);
    return shmcache_set(ch->cache, KEY, KEY_LEN, buf, VALUE_LEN, 1, NULL);
}

/* One call of the way under test. @return APR_SUCCESS or SHMCACHE_STALE
 * when a value came back. */
static apr_status_t ask(child_t *ch, apr_pool_t *scratch)
{
    shmcache_lease_opts_t o;
    void *v;
    apr_size_t n;

    if (ch->way == WAY_PLAIN)
        return ask_plain(ch);
    shmcache_lease_opts_init(&o);
    o.lease_ttl = 5;
    o.wait_ms = 10000;
    return shmcache_get_or_compute(ch->cache, KEY, KEY_LEN, &o, compute_fn, ch,
                                   &v, &n, NULL, scratch);
}

/* Sleep until t (microseconds since the epoch), if it is ahead. */
static void sleep_until(apr_time_t t)
{
    apr_time_t now = apr_time_now();

    if (t > now)
        apr_sleep(t - now);
}

/* --child WAY PATH START_US END_US COMPUTE_MS INTERVAL_US STALE: ask from
 * START to END, then print "c TIME_US" per computation, "errors N", the
 * latency histograms (all calls, calls that did not compute) and "end". */
static int child_main(int argc, const char *const *argv, apr_pool_t *pool)
{
    static child_t ch;
    apr_time_t start, end, next;
    apr_uint32_t interval;
    apr_pool_t *scratch;
    hist_t lat, herd;
    uint64_t calls = 0;
    apr_status_t rv;
    int i, before;

    if (argc < 9)
        return 2;
    for (i = 0; i < WAY_COUNT; i++)
        if (strcmp(argv[2], way_name[i]) == 0)
            ch.way = (way_e)i;
    start = (apr_time_t)apr_atoi64(argv[4]);
    end = (apr_time_t)apr_atoi64(argv[5]);
    ch.compute_ms = (apr_uint32_t)atoi(argv[6]);
    interval = (apr_uint32_t)atoi(argv[7]);
    ch.stale = (apr_uint32_t)atoi(argv[8]);
    if ((rv = shmcache_attach(&ch.cache, argv[3], NULL, pool)) != APR_SUCCESS)
        die("attach", rv);
    apr_pool_create(&scratch, pool);
    hist_init(&lat);
    hist_init(&herd);
    sleep_until(start);
    for (next = start; apr_time_now() < end; next += interval) {
        uint64_t t0 = bench_now_ns(), took;
        calls++;
        before = ch.computes;
        rv = ask(&ch, scratch);
        took = bench_now_ns() - t0;
        hist_record_corrected(&lat, took, (uint64_t)interval * 1000);
        if (ch.computes == before)
            hist_record_corrected(&herd, took, (uint64_t)interval * 1000);
        if (rv != APR_SUCCESS && rv != SHMCACHE_STALE)
            ch.errors++;
        apr_pool_clear(scratch);
        if (next + interval < apr_time_now())
            next = apr_time_now();      /* late (a computation): no burst */
        sleep_until(next + interval);
    }
    for (i = 0; i < ch.computes; i++)
        printf("c %" APR_TIME_T_FMT "\n", ch.computed_at[i]);
    printf("errors %" APR_UINT64_T_FMT "\ncalls %" APR_UINT64_T_FMT "\n",
           (apr_uint64_t)ch.errors, (apr_uint64_t)calls);
    hist_write(&lat, "lat", stdout);
    hist_write(&herd, "herd", stdout);
    printf("end\n");
    fflush(stdout);
    shmcache_close(ch.cache);
    return 0;
}

/* ------------------------------------------------------------------------
 * The parent: one run per (way, N), a table
 * ---------------------------------------------------------------------- */

/* Read one child's report into r; per-second computation counts go to
 * seconds (apr_time_t second -> count). @return 1 when complete. */
static int read_report(bench_helper_t *h, result_t *r, apr_hash_t *seconds,
                       apr_pool_t *pool)
{
    char line[256];
    hist_t got, *into = NULL;
    int done = 0;

    while (bench_helper_read(h, line, sizeof line) == APR_SUCCESS) {
        if (into == NULL && strncmp(line, "hist ", 5) == 0) {
            into = strncmp(line, "hist herd ", 10) == 0 ? &r->herd : &r->lat;
            hist_init(&got);
        }
        if (into != NULL) {
            hist_read_line(&got, line, &done);
            if (done) {
                hist_merge(into, &got);
                into = NULL;
            }
        } else if (line[0] == 'c' && line[1] == ' ') {
            apr_time_t *sec = apr_palloc(pool, sizeof *sec);
            uint64_t *n;
            *sec = apr_time_sec((apr_time_t)apr_atoi64(line + 2));
            n = apr_hash_get(seconds, sec, sizeof *sec);
            if (n == NULL) {
                n = apr_pcalloc(pool, sizeof *n);
                apr_hash_set(seconds, sec, sizeof *sec, n);
            }
            ++*n;
            r->computations++;
        } else if (strncmp(line, "errors ", 7) == 0) {
            r->errors += (uint64_t)apr_atoi64(line + 7);
        } else if (strncmp(line, "calls ", 6) == 0) {
            r->calls += (uint64_t)apr_atoi64(line + 6);
        } else if (strcmp(line, "end") == 0) {
            return 1;
        }
    }
    return 0;
}

/* Count the expiries (seconds with a computation) and the worst one. */
static void count_expiries(result_t *r, apr_hash_t *seconds, apr_pool_t *pool)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(pool, seconds); hi; hi = apr_hash_next(hi)) {
        uint64_t *n = apr_hash_this_val(hi);
        r->expiries++;
        if (*n > r->worst)
            r->worst = *n;
    }
}

/* Store the key as a computation would have, so a run measures
 * expiries and not the first fill (which has no stale value to serve). */
static void warm(shmcache_t *c, way_e way, const opts_t *o)
{
    char v[VALUE_LEN];
    apr_status_t rv;

    memset(v, 'v', sizeof v);
    rv = shmcache_lease_set(c, KEY, KEY_LEN, 0, v, sizeof v, 1,
                            way == WAY_SWR ? o->stale : 0);
    if (rv != APR_SUCCESS)
        die("warm", rv);
}

/* One run: a fresh cache holding the key, nprocs children asking it. */
static void one_run(result_t *r, way_e way, int nprocs, const opts_t *o,
                    apr_pool_t *parent)
{
    bench_helper_t h[MAX_PROCS];
    apr_pool_t *pool;
    apr_hash_t *seconds;
    shmcache_options_t so;
    shmcache_t *c;
    const char *path, *argv[10];
    apr_time_t start;
    apr_status_t rv;
    int i;

    apr_pool_create(&pool, parent);
    memset(r, 0, sizeof *r);
    hist_init(&r->lat);
    hist_init(&r->herd);
    seconds = apr_hash_make(pool);
    path = bench_tmp_path("herd", pool);
    shmcache_remove(path, pool);
    shmcache_options_init(&so);
    so.size = 1 << 20;
    if ((rv = shmcache_create(&c, path, &so, pool)) != APR_SUCCESS)
        die("create", rv);
    warm(c, way, o);
    /* children start together, after all of them are up */
    start = apr_time_now() + apr_time_from_msec(300 + 30 * nprocs);
    argv[0] = o->exe;
    argv[1] = "--child";
    argv[2] = way_name[way];
    argv[3] = path;
    argv[4] = apr_psprintf(pool, "%" APR_TIME_T_FMT, start);
    argv[5] = apr_psprintf(pool, "%" APR_TIME_T_FMT,
                           start + (apr_time_t)(o->seconds * APR_USEC_PER_SEC));
    argv[6] = apr_itoa(pool, (int)o->compute_ms);
    argv[7] = apr_itoa(pool, (int)o->interval_us);
    argv[8] = apr_itoa(pool, (int)o->stale);
    argv[9] = NULL;
    for (i = 0; i < nprocs; i++)
        if ((rv = bench_helper_start(&h[i], o->exe, argv, pool)) != APR_SUCCESS)
            die("start a child", rv);
    for (i = 0; i < nprocs; i++) {
        if (!read_report(&h[i], r, seconds, pool))
            die("a child's report", APR_EGENERAL);
        bench_helper_finish(&h[i]);
    }
    count_expiries(r, seconds, pool);
    if ((rv = shmcache_stats(c, &r->st)) != APR_SUCCESS)
        die("stats", rv);
    shmcache_close(c);
    shmcache_remove(path, pool);
    apr_pool_destroy(pool);
}

static void print_header(const opts_t *o)
{
    printf("herd: one key, value computed in %u ms, TTL 1 s (swr: then "
           "stale for %u s); each process asks every %u us for %.0f s\n\n",
           o->compute_ms, o->stale, o->interval_us, o->seconds);
    printf("%-40s %5s %6s %8s %13s %9s %8s %8s %9s %10s %10s %6s %6s %6s\n",
           "", "", "", "", "", "", "all calls", "", "", "herd (did", "not "
           "compute)", "", "", "");
    printf("%-40s %5s %6s %8s %13s %9s %8s %8s %9s %10s %10s %6s %6s %6s\n",
           "way", "procs", "comps", "expiries", "comps/expiry", "calls",
           "p50 us", "p99 us", "p99.9 us", "p99 us", "max ms", "waits",
           "stale", "errors");
}

static void print_row(way_e way, int nprocs, const result_t *r)
{
    char per[32];

    apr_snprintf(per, sizeof per, "%.2f (max %" APR_UINT64_T_FMT ")",
                 r->expiries ? (double)r->computations / (double)r->expiries
                             : 0.0, (apr_uint64_t)r->worst);
    printf("%-40s %5d %6" APR_UINT64_T_FMT " %8" APR_UINT64_T_FMT
           " %13s %9" APR_UINT64_T_FMT " %8.1f %8.1f %9.1f %10.1f %10.2f %6"
           APR_UINT64_T_FMT " %6" APR_UINT64_T_FMT " %6" APR_UINT64_T_FMT "\n",
           way_label[way], nprocs, (apr_uint64_t)r->computations,
           (apr_uint64_t)r->expiries, per, (apr_uint64_t)r->calls,
           hist_percentile(&r->lat, 50) / 1e3,
           hist_percentile(&r->lat, 99) / 1e3,
           hist_percentile(&r->lat, 99.9) / 1e3,
           hist_percentile(&r->herd, 99) / 1e3, r->herd.max / 1e6,
           r->st.lease_waits, r->st.stale_answers, (apr_uint64_t)r->errors);
    fflush(stdout);
}

/* A comma-separated subset of plain,lease,swr. @return 1, 0 if malformed. */
static int parse_ways(const char *s, int *ways)
{
    char *copy = strdup(s), *tok, *last;
    int i, ok = 1, found;

    memset(ways, 0, sizeof(int) * WAY_COUNT);
    for (tok = apr_strtok(copy, ",", &last); tok && ok;
         tok = apr_strtok(NULL, ",", &last)) {
        for (found = 0, i = 0; i < WAY_COUNT; i++)
            if (strcmp(tok, way_name[i]) == 0)
                ways[i] = found = 1;
        ok = found;
    }
    free(copy);
    return ok;
}

/* Options with apr_getopt_long. @return 1, or 0 on a usage error. */
static int parse_args(opts_t *o, int argc, const char *const *argv,
                      apr_pool_t *pool)
{
    static const apr_getopt_option_t opts[] = {
        {"procs", 'p', 1, NULL}, {"seconds", 'd', 1, NULL},
        {"compute-ms", 'c', 1, NULL}, {"interval-us", 'i', 1, NULL},
        {"stale", 's', 1, NULL}, {"ways", 'w', 1, NULL}, {NULL, 0, 0, NULL}};
    apr_getopt_t *os;
    const char *arg;
    uint64_t v;
    int ch, i;
    apr_status_t rv;

    o->procs[0] = 1, o->procs[1] = 2, o->procs[2] = 16, o->nprocs = 3;
    o->seconds = 5;
    o->compute_ms = 50;
    o->interval_us = 1000;
    o->stale = 60;
    for (i = 0; i < WAY_COUNT; i++)
        o->ways[i] = 1;
    apr_getopt_init(&os, pool, argc, argv);
    while ((rv = apr_getopt_long(os, opts, &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'p':
            if (!bench_parse_u64_list(arg, o->procs, 8, &o->nprocs))
                return 0;
            break;
        case 'd': o->seconds = atof(arg); break;
        case 'c': if (!bench_parse_u64(arg, &v)) return 0;
                  o->compute_ms = (apr_uint32_t)v; break;
        case 'i': if (!bench_parse_u64(arg, &v) || v == 0) return 0;
                  o->interval_us = (apr_uint32_t)v; break;
        case 's': if (!bench_parse_u64(arg, &v) || v == 0) return 0;
                  o->stale = (apr_uint32_t)v; break;
        case 'w': if (!parse_ways(arg, o->ways)) return 0; break;
        }
    }
    if (rv != APR_EOF || o->seconds <= 0)
        return 0;
    for (i = 0; i < o->nprocs; i++)
        if (o->procs[i] < 1 || o->procs[i] > MAX_PROCS)
            return 0;
    return 1;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    result_t r;
    opts_t o;
    int w, i;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main(argc, argv, pool);
    if (!parse_args(&o, argc, argv, pool)) {
        fprintf(stderr, "usage: bench_herd [--procs 1,2,16] [--seconds S] "
                        "[--compute-ms MS] [--interval-us US] [--stale S] "
                        "[--ways plain,lease,swr]\n");
        return 2;
    }
    o.exe = bench_self_exe(argv[0], pool);
    print_header(&o);
    for (w = 0; w < WAY_COUNT; w++)
        for (i = 0; w < WAY_COUNT && o.ways[w] && i < o.nprocs; i++) {
            one_run(&r, (way_e)w, (int)o.procs[i], &o, pool);
            print_row((way_e)w, (int)o.procs[i], &r);
        }
    return 0;
}
