/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_evict.c - eviction quality: the hit ratio of the real cache
 * against simulated LRU, FIFO, CLOCK, SIEVE, S3-FIFO and ARC holding the
 * same number of objects, on real traces and synthetic ones, in one run.
 *
 * For each trace (evict_traces.h) and each cache size (a fraction of the
 * trace's distinct objects; caches under 10 objects are skipped) the
 * program replays the trace cache-aside (get, and set on a miss) into a
 * segment sized to hold exactly that many equal-size entries
 * (evict_shm.h), and into each simulator (evict_sim.h). Hit ratios count
 * every request, as libCacheSim does. It prints one row per cell, then the
 * gap of the real cache to the best simulated policy and to CLOCK, and the
 * targets the eviction work is judged by (over the real traces other than
 * the pure loop lirs_loop):
 *
 *   - on average over the cells, at least the best policy of the cell;
 *   - never more than 2 points below the best in any cell;
 *   - never more than 1 point below CLOCK in any cell.
 *
 * "Best" is the best of LRU, CLOCK, SIEVE, S3-FIFO and ARC (FIFO is shown
 * for reference). Before the table, the simulators are checked against
 * libCacheSim's published miss counts (evict_validate.h) when the
 * cloudPhysicsIO trace is among those run.
 *
 * With --expiry it also checks that expired entries are reclaimed before
 * live ones are evicted.
 */
#include "common.h"
#include "evict_shm.h"
#include "evict_sim.h"
#include "evict_traces.h"
#include "evict_validate.h"
#include "hist.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <apr_time.h>

#ifndef BENCH_REPO_DIR
#define BENCH_REPO_DIR "."
#endif

#define MAX_LIST 16
#define MAX_TRACES 32
#define MIN_CACHE 10
#define TARGET_BEST_WORST (-0.02)
#define TARGET_CLOCK_WORST (-0.01)
#define LOOP_TRACE "lirs_loop"
#define VALIDATE_TRACE "cloudPhysicsIO"

typedef struct config_t {
    const char *traces_dir;
    const char *only[MAX_TRACES];       /* --trace names, none = all */
    int nonly;
    double fractions[MAX_LIST];
    int nfractions;
    uint64_t keys, requests, scan_every, scan_len, seed;
    double alphas[MAX_LIST];
    int nalphas;
    int synthetic, real, scan, expiry, validate;
    const char *path, *json;
} config_t;

/* One cell of the table. */
typedef struct cell_t {
    const char *trace;
    int real, target;           /* real trace; counted by the targets */
    uint32_t objects;
    uint64_t requests;
    double fraction;
    uint64_t wanted;            /* objects x fraction */
    uint64_t entries;           /* what every policy got (see evict_shm.h) */
    double hit[EVICT_NPOLICIES];
    uint64_t sim_hits[EVICT_NPOLICIES];
    double shm;
    int best;                   /* policy index of the best */
    evict_shm_plan_t plan;
    evict_shm_result_t res;
} cell_t;

typedef struct table_t {
    cell_t *cells;
    int n, cap;
} table_t;

/* The policies "best" is taken over. */
static int counts_for_best(int p)
{
    return p != EVICT_FIFO;
}

/* ------------------------------------------------------------------------
 * One cell
 * ---------------------------------------------------------------------- */

/* Run the simulators and the real cache on t with n entries into c.
 * Returns 0 on a failure (reported). */
static int run_cell(cell_t *c, const evict_trace_t *t, double fraction,
                    uint64_t n, const config_t *cfg, apr_pool_t *pool)
{
    int p;

    memset(c, 0, sizeof *c);
    c->trace = t->name;
    c->objects = t->nobj;
    c->requests = t->n;
    c->fraction = fraction;
    c->wanted = n;
    c->best = EVICT_LRU;
    if (evict_shm_plan(&c->plan, n, cfg->path, pool) != APR_SUCCESS)
        return 0;
    c->entries = n = c->plan.entries;
    for (p = 0; p < EVICT_NPOLICIES; p++) {
        if (!evict_sim_run((evict_policy_e)p, t, n, 0, &c->sim_hits[p])) {
            fprintf(stderr, "bench_evict: out of memory simulating %s\n",
                    evict_policy_name((evict_policy_e)p));
            return 0;
        }
        c->hit[p] = (double)c->sim_hits[p] / (double)t->n;
        if (counts_for_best(p) && c->hit[p] > c->hit[c->best])
            c->best = p;
    }
    if (evict_shm_replay(&c->plan, t, cfg->path, &c->res, pool)
        != APR_SUCCESS)
        return 0;
    c->shm = (double)c->res.hits / (double)t->n;
    return 1;
}

static void print_header(void)
{
    int p;

    printf("%-18s %8s %6s %7s ", "trace", "objects", "size", "entries");
    for (p = 0; p < EVICT_NPOLICIES; p++)
        printf(" %7s", evict_policy_name((evict_policy_e)p));
    printf(" %8s %8s %7s %8s %7s\n", "shmcache", "best", "-best", "-CLOCK",
           "hits-CL");
}

static void print_cell(const cell_t *c)
{
    int p;

    printf("%-18s %8" PRIu32 " %5.1f%% %7" PRIu64 "%s", c->trace,
           c->objects, c->fraction * 100, c->entries,
           c->entries != c->wanted ? "*" : " ");
    for (p = 0; p < EVICT_NPOLICIES; p++)
        printf(" %7.4f", c->hit[p]);
    printf(" %8.4f %8s %+7.4f %+8.4f %+7" PRId64 "\n", c->shm,
           evict_policy_name((evict_policy_e)c->best),
           c->shm - c->hit[c->best], c->shm - c->hit[EVICT_CLOCK],
           (int64_t)c->res.hits - (int64_t)c->sim_hits[EVICT_CLOCK]);
    fflush(stdout);
}

static cell_t *table_add(table_t *tb)
{
    if (tb->n == tb->cap) {
        int nc = tb->cap ? tb->cap * 2 : 64;
        cell_t *cells = realloc(tb->cells, (size_t)nc * sizeof *cells);
        if (cells == NULL)
            return NULL;
        tb->cells = cells;
        tb->cap = nc;
    }
    return &tb->cells[tb->n];
}

/* All cells of one trace. Returns 0 on a failure. */
static int run_trace(table_t *tb, const evict_trace_t *t, int real,
                     const config_t *cfg, apr_pool_t *pool)
{
    int fi;

    for (fi = 0; fi < cfg->nfractions; fi++) {
        uint64_t n = (uint64_t)((double)t->nobj * cfg->fractions[fi]);
        cell_t *c;
        if (n < MIN_CACHE)
            continue;
        c = table_add(tb);
        if (c == NULL || !run_cell(c, t, cfg->fractions[fi], n, cfg, pool))
            return 0;
        c->real = real;
        c->target = real && strcmp(t->name, LOOP_TRACE) != 0;
        tb->n++;
        print_cell(c);
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Summary
 * ---------------------------------------------------------------------- */

typedef struct gap_t {
    int cells, below;           /* cells; cells below the limit */
    double sum, worst;
    const cell_t *worst_cell;
} gap_t;

/* Gaps of the cells selected by (real, target) filters: against the best
 * (vs_clock 0) or CLOCK; below counts cells under limit. */
static gap_t gaps(const table_t *tb, int only_target, int vs_clock,
                  double limit)
{
    gap_t g;
    int i;

    memset(&g, 0, sizeof g);
    for (i = 0; i < tb->n; i++) {
        const cell_t *c = &tb->cells[i];
        double d = c->shm - c->hit[vs_clock ? EVICT_CLOCK : c->best];
        if (only_target && !c->target)
            continue;
        if (g.cells == 0 || d < g.worst) {
            g.worst = d;
            g.worst_cell = c;
        }
        g.sum += d;
        g.cells++;
        if (d < limit - 1e-12)
            g.below++;
    }
    return g;
}

static void print_gap(const char *what, const gap_t *g)
{
    if (g->cells == 0)
        return;
    printf("  shmcache - %-6s average %+.4f over %d cells, worst %+.4f "
           "(%s at %g%%)\n", what, g->sum / g->cells, g->cells, g->worst,
           g->worst_cell->trace, g->worst_cell->fraction * 100);
}

/* Print the summary and the targets. */
static void print_summary(const table_t *tb)
{
    gap_t all_b = gaps(tb, 0, 0, TARGET_BEST_WORST);
    gap_t all_c = gaps(tb, 0, 1, TARGET_CLOCK_WORST);
    gap_t tb_b = gaps(tb, 1, 0, TARGET_BEST_WORST);
    gap_t tb_c = gaps(tb, 1, 1, TARGET_CLOCK_WORST);
    int same = 0, i;

    for (i = 0; i < tb->n; i++)
        same += tb->cells[i].res.hits == tb->cells[i].sim_hits[EVICT_CLOCK];
    printf("\nall cells (best = best of LRU, CLOCK, SIEVE, S3-FIFO, ARC); "
           "shmcache hits equal simulated CLOCK's in %d of %d:\n", same,
           tb->n);
    print_gap("best:", &all_b);
    print_gap("CLOCK:", &all_c);
    if (tb_b.cells == 0) {
        printf("targets: no cell of the real traces other than %s was "
               "run\n", LOOP_TRACE);
        return;
    }
    printf("real traces other than %s:\n", LOOP_TRACE);
    print_gap("best:", &tb_b);
    print_gap("CLOCK:", &tb_c);
    printf("targets:\n");
    printf("  %-4s average of (shmcache - best) >= 0: %+.4f\n",
           tb_b.sum / tb_b.cells >= 0 ? "PASS" : "FAIL",
           tb_b.sum / tb_b.cells);
    printf("  %-4s no cell more than 2 points below the best: worst %+.4f, "
           "%d of %d cells below\n", tb_b.below ? "FAIL" : "PASS",
           tb_b.worst, tb_b.below, tb_b.cells);
    printf("  %-4s no cell more than 1 point below CLOCK: worst %+.4f, %d "
           "of %d cells below\n", tb_c.below ? "FAIL" : "PASS", tb_c.worst,
           tb_c.below, tb_c.cells);
}

/* ------------------------------------------------------------------------
 * Expired entries first
 * ---------------------------------------------------------------------- */

enum { EXP_KEY = 16, EXP_VALUE = 100 };

typedef struct expiry_t {
    int ran;
    uint64_t filled, expiring, inserted;
    uint64_t evicted_live, reclaimed_expired, live_lost;
} expiry_t;

/* Never-expiring (odd) keys below cap still present. */
static uint64_t live_present(shmcache_t *c, uint64_t cap)
{
    char key[EXP_KEY];
    shmcache_meta_t m;
    uint64_t i, n = 0;

    for (i = 1; i < cap; i += 2) {
        bench_key(key, EXP_KEY, i);
        if (shmcache_get_meta(c, key, EXP_KEY, &m) == APR_SUCCESS)
            n++;
    }
    return n;
}

/* Fill a cache with entries alternating TTL 1 s and no expiry, wait for
 * the first half to expire, then store new entries needing less room than
 * the expired ones hold: ideally nothing live is evicted. */
static void expiry_check(const config_t *cfg, expiry_t *x, apr_pool_t *pool)
{
    shmcache_t *cache;
    shmcache_stats_t st0, st1;
    char key[EXP_KEY], val[EXP_VALUE];
    uint64_t foot = bench_entry_footprint(EXP_KEY, EXP_VALUE, pool);
    uint64_t cap, i;

    memset(x, 0, sizeof *x);
    memset(val, 'v', sizeof val);
    if (foot == 0 || bench_cache_create_data(&cache, cfg->path, 2u << 20, 0,
                                             0, pool) != APR_SUCCESS)
        return;
    shmcache_stats(cache, &st0);
    cap = st0.data_size / foot * 97 / 100;
    for (i = 0; i < cap; i++) {
        bench_key(key, EXP_KEY, i);
        shmcache_set(cache, key, EXP_KEY, val, EXP_VALUE,
                     (i & 1) ? SHMCACHE_TTL_FOREVER : 1, NULL);
    }
    shmcache_stats(cache, &st0);
    x->filled = st0.items;
    x->expiring = (cap + 1) / 2;
    apr_sleep(apr_time_from_msec(2200));
    x->inserted = x->expiring * 8 / 10;
    for (i = 0; i < x->inserted; i++) {
        bench_key(key, EXP_KEY, cap + i);
        shmcache_set(cache, key, EXP_KEY, val, EXP_VALUE,
                     SHMCACHE_TTL_FOREVER, NULL);
    }
    shmcache_stats(cache, &st1);
    x->evicted_live = st1.evictions - st0.evictions;
    x->reclaimed_expired = st1.expirations - st0.expirations;
    /* counted without reading them before: a read marks them visited */
    x->live_lost = cap / 2 - live_present(cache, cap);
    x->ran = 1;
    shmcache_close(cache);
    shmcache_remove(cfg->path, pool);
}

/* ------------------------------------------------------------------------
 * JSON
 * ---------------------------------------------------------------------- */

static void json_cell(FILE *f, const cell_t *c)
{
    int p;

    fprintf(f, "{\"trace\": ");
    bench_json_str(f, c->trace);
    fprintf(f, ", \"real\": %s, \"target\": %s, \"objects\": %" PRIu32
            ", \"requests\": %" PRIu64 ", \"fraction\": %.4f, \"entries\": %"
            PRIu64 ", \"hit\": {", c->real ? "true" : "false",
            c->target ? "true" : "false", c->objects, c->requests,
            c->fraction, c->entries);
    for (p = 0; p < EVICT_NPOLICIES; p++) {
        fprintf(f, "%s", p ? ", " : "");
        bench_json_str(f, evict_policy_name((evict_policy_e)p));
        fprintf(f, ": %.6f", c->hit[p]);
    }
    fprintf(f, "}, \"hit_shmcache\": %.6f, \"best\": ", c->shm);
    bench_json_str(f, evict_policy_name((evict_policy_e)c->best));
    fprintf(f, ", \"diff\": %.6f, \"diff_clock\": %.6f, \"hits_shmcache\": %"
            PRIu64 ", \"hits_clock\": %" PRIu64 ", \"value_size\": %u, "
            "\"segment_size\": %" PRIu64 ", \"evictions\": %" PRIu64
            ", \"items_end\": %" PRIu64 ", \"seconds\": %.3f, \"set_ns\": "
            "{\"p50\": %" PRIu64 ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64
            "}}", c->shm - c->hit[c->best], c->shm - c->hit[EVICT_CLOCK],
            c->res.hits, c->sim_hits[EVICT_CLOCK], c->plan.value_size,
            (uint64_t)c->plan.seg_size, c->res.evictions, c->res.items_end,
            c->res.seconds, hist_percentile(&c->res.set_ns, 50),
            hist_percentile(&c->res.set_ns, 99.9), c->res.set_ns.max);
}

static void json_write(const char *path, const config_t *cfg,
                       const table_t *tb, const evict_validation_t *v,
                       const expiry_t *x, double seconds)
{
    gap_t b = gaps(tb, 1, 0, TARGET_BEST_WORST);
    gap_t c = gaps(tb, 1, 1, TARGET_CLOCK_WORST);
    FILE *f = fopen(path, "w");
    int i, p;

    if (f == NULL) {
        fprintf(stderr, "bench_evict: cannot write %s\n", path);
        return;
    }
    fprintf(f, "{\n  \"program\": \"bench_evict\",\n  \"config\": "
            "{\"traces_dir\": ");
    bench_json_str(f, cfg->traces_dir);
    fprintf(f, ", \"keys\": %" PRIu64 ", \"requests\": %" PRIu64
            ", \"scan_every\": %" PRIu64 ", \"scan_len\": %" PRIu64
            ", \"warmup\": 0},\n  \"seconds\": %.1f,\n  \"results\": [",
            cfg->keys, cfg->requests, cfg->scan_every, cfg->scan_len,
            seconds);
    for (i = 0; i < tb->n; i++) {
        fprintf(f, "%s\n    ", i ? "," : "");
        json_cell(f, &tb->cells[i]);
    }
    fprintf(f, "\n  ]");
    if (b.cells)
        fprintf(f, ",\n  \"targets\": {\"cells\": %d, \"avg_diff_best\": "
                "%.6f, \"worst_diff_best\": %.6f, \"worst_diff_clock\": "
                "%.6f, \"avg_ok\": %s, \"best_ok\": %s, \"clock_ok\": %s}",
                b.cells, b.sum / b.cells, b.worst, c.worst,
                b.sum / b.cells >= 0 ? "true" : "false",
                b.below ? "false" : "true", c.below ? "false" : "true");
    if (v->ran) {
        fprintf(f, ",\n  \"validation\": {");
        for (p = 0; p < EVICT_NPOLICIES; p++) {
            fprintf(f, "%s", p ? ", " : "");
            bench_json_str(f, evict_policy_name((evict_policy_e)p));
            fprintf(f, ": {\"misses\": [");
            for (i = 0; i < EVICT_VALIDATE_SIZES; i++)
                fprintf(f, "%s%" PRIu64, i ? ", " : "", v->ours[p][i]);
            fprintf(f, "], \"exact\": %s}", v->published[p] == NULL ? "null"
                    : v->exact[p] ? "true" : "false");
        }
        fprintf(f, "}");
    }
    if (x->ran)
        fprintf(f, ",\n  \"expiry\": {\"filled\": %" PRIu64 ", "
                "\"inserted_after_expiry\": %" PRIu64 ", "
                "\"expired_reclaimed\": %" PRIu64 ", \"live_evicted\": %"
                PRIu64 ", \"live_lost\": %" PRIu64 "}", x->filled,
                x->inserted, x->reclaimed_expired, x->evicted_live,
                x->live_lost);
    fprintf(f, "\n}\n");
    fclose(f);
}

/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs(
"usage: bench_evict [options]\n"
"  -t, --traces DIR      real traces (default: the repository's\n"
"                        ../shared/traces); absent ones are skipped\n"
"  -T, --trace LIST      run only these traces: real trace names (e.g.\n"
"                        lirs_multi2,cloudPhysicsIO), zipf, scan\n"
"  -F, --sizes LIST      cache sizes as fractions of each trace's distinct\n"
"                        objects (default 0.001,0.01,0.1,0.5; caches under\n"
"                        10 objects are skipped)\n"
"      --no-real         leave out the real traces\n"
"      --no-synthetic    leave out the Zipf and scan traces\n"
"      --no-validate     skip the check against libCacheSim's figures\n"
"  -k, --keys N          Zipf universe in keys (default 200k)\n"
"  -n, --requests N      requests per synthetic trace (default 10 x keys)\n"
"  -a, --alphas LIST     Zipf exponents (default 0.8,0.99)\n"
"      --no-scan         leave out the scan-polluted Zipf trace\n"
"      --scan-every N    Zipf requests between scans (default keys/2)\n"
"      --scan-len N      ids per scan (default keys/10)\n"
"      --expiry          also check that expired entries go first (2 s)\n"
"  -f, --path PATH       segment path\n"
"  -j, --json FILE       write the results as JSON\n"
"      --seed N\n", f);
}

enum { OPT_NO_SCAN = 256, OPT_SCAN_EVERY, OPT_SCAN_LEN, OPT_EXPIRY, OPT_SEED,
       OPT_NO_REAL, OPT_NO_SYNTH, OPT_NO_VALIDATE, OPT_FRACTIONS };

/* Split a comma list of names into cfg->only. 0 when too many. */
static int parse_names(config_t *c, const char *arg, apr_pool_t *pool)
{
    char *s = apr_pstrdup(pool, arg), *tok, *save = NULL;

    for (tok = apr_strtok(s, ",", &save); tok;
         tok = apr_strtok(NULL, ",", &save)) {
        if (c->nonly == MAX_TRACES)
            return 0;
        c->only[c->nonly++] = tok;
    }
    return c->nonly > 0;
}

static void defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    c->keys = 200000;
    c->alphas[0] = 0.8;
    c->alphas[1] = 0.99;
    c->nalphas = 2;
    c->fractions[0] = 0.001;
    c->fractions[1] = 0.01;
    c->fractions[2] = 0.1;
    c->fractions[3] = 0.5;
    c->nfractions = 4;
    c->synthetic = c->real = c->scan = c->validate = 1;
    c->seed = 42;
}

/* Apply option ch with argument arg. 0 when malformed. */
static int apply(config_t *c, int ch, const char *arg, apr_pool_t *pool)
{
    switch (ch) {
    case 't': c->traces_dir = arg; return 1;
    case 'T': return parse_names(c, arg, pool);
    case 'F': case OPT_FRACTIONS:
        return bench_parse_double_list(arg, c->fractions, MAX_LIST,
                                       &c->nfractions);
    case OPT_NO_REAL: c->real = 0; return 1;
    case OPT_NO_SYNTH: c->synthetic = 0; return 1;
    case OPT_NO_VALIDATE: c->validate = 0; return 1;
    case 'k': return bench_parse_u64(arg, &c->keys);
    case 'n': return bench_parse_u64(arg, &c->requests);
    case 'a':
        return bench_parse_double_list(arg, c->alphas, MAX_LIST, &c->nalphas);
    case OPT_NO_SCAN: c->scan = 0; return 1;
    case OPT_SCAN_EVERY: return bench_parse_u64(arg, &c->scan_every);
    case OPT_SCAN_LEN: return bench_parse_u64(arg, &c->scan_len);
    case OPT_EXPIRY: c->expiry = 1; return 1;
    case 'f': c->path = arg; return 1;
    case 'j': c->json = arg; return 1;
    case OPT_SEED: return bench_parse_u64(arg, &c->seed);
    case 'h': usage(stdout); exit(0);
    default: return 0;
    }
}

static int parse_args(config_t *c, int argc, const char *const *argv,
                      apr_pool_t *pool)
{
    static const apr_getopt_option_t opts[] = {
        { "traces", 't', 1, "" }, { "trace", 'T', 1, "" },
        { "sizes", 'F', 1, "" }, { "fractions", OPT_FRACTIONS, 1, "" },
        { "no-real", OPT_NO_REAL, 0, "" },
        { "no-synthetic", OPT_NO_SYNTH, 0, "" },
        { "no-validate", OPT_NO_VALIDATE, 0, "" },
        { "keys", 'k', 1, "" }, { "requests", 'n', 1, "" },
        { "alphas", 'a', 1, "" }, { "no-scan", OPT_NO_SCAN, 0, "" },
        { "scan-every", OPT_SCAN_EVERY, 1, "" },
        { "scan-len", OPT_SCAN_LEN, 1, "" }, { "expiry", OPT_EXPIRY, 0, "" },
        { "path", 'f', 1, "" }, { "json", 'j', 1, "" },
        { "seed", OPT_SEED, 1, "" }, { "help", 'h', 0, "" },
        { NULL, 0, 0, NULL }
    };
    apr_getopt_t *g;
    const char *arg;
    int ch;
    apr_status_t rv;

    defaults(c);
    apr_getopt_init(&g, pool, argc, argv);
    while ((rv = apr_getopt_long(g, opts, &ch, &arg)) == APR_SUCCESS)
        if (!apply(c, ch, arg, pool))
            return 0;
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
    if (c->traces_dir == NULL)
        c->traces_dir = BENCH_REPO_DIR "/../shared/traces";
    return 1;
}

/* Whether --trace selects name (everything when it was not given). */
static int selected(const config_t *c, const char *name)
{
    int i;

    if (c->nonly == 0)
        return 1;
    for (i = 0; i < c->nonly; i++)
        if (strcmp(c->only[i], name) == 0)
            return 1;
    return 0;
}

/* Every --trace name must be a real trace, "zipf" or "scan". */
static int names_known(const config_t *c)
{
    int i;

    for (i = 0; i < c->nonly; i++)
        if (evict_trace_file_find(c->only[i]) == NULL
            && strcmp(c->only[i], "zipf") != 0
            && strcmp(c->only[i], "scan") != 0) {
            fprintf(stderr, "bench_evict: unknown trace %s\n", c->only[i]);
            return 0;
        }
    return 1;
}

/* ------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------- */

/* Load and run every selected real trace. Returns 0 on a failure. */
static int run_real(table_t *tb, const config_t *cfg, apr_pool_t *pool)
{
    int i, n, missing = 0;
    const evict_trace_file_t *files = evict_trace_files(&n);

    for (i = 0; i < n; i++) {
        evict_trace_t t;
        apr_status_t rv;
        if (!selected(cfg, files[i].name))
            continue;
        rv = evict_trace_load(&t, cfg->traces_dir, &files[i], pool);
        if (rv == APR_ENOENT) {
            missing++;
            continue;
        }
        if (rv != APR_SUCCESS)
            return 0;
        if (!run_trace(tb, &t, 1, cfg, pool)) {
            evict_trace_free(&t);
            return 0;
        }
        evict_trace_free(&t);
    }
    if (missing)
        printf("(%d trace%s not found in %s: skipped)\n", missing,
               missing > 1 ? "s" : "", cfg->traces_dir);
    return 1;
}

/* Check the simulators on the trace with sizes, when it is selected and
 * present. Returns 0 on a failure. */
static int run_validation(const config_t *cfg, evict_validation_t *v,
                          apr_pool_t *pool)
{
    const evict_trace_file_t *f = evict_trace_file_find(VALIDATE_TRACE);
    evict_trace_t t;
    apr_status_t rv;
    int ok;

    if (!cfg->validate || !cfg->real || !selected(cfg, f->name))
        return 1;
    rv = evict_trace_load(&t, cfg->traces_dir, f, pool);
    if (rv == APR_ENOENT)
        return 1;
    if (rv != APR_SUCCESS)
        return 0;
    ok = evict_validate(v, &t);
    if (ok) {
        evict_validate_print(v, stdout);
        if (t.size_changes)
            printf("  (%" PRIu64 " requests changed their object's size; "
                   "the first size is kept)\n", t.size_changes);
        printf("\n");
    }
    evict_trace_free(&t);
    return ok;
}

/* Generate and run the synthetic traces. Returns 0 on a failure. */
static int run_synthetic(table_t *tb, const config_t *cfg, apr_pool_t *pool)
{
    int ai, ok = 1;

    for (ai = 0; ok && ai <= cfg->nalphas; ai++) {
        int scan = ai == cfg->nalphas;
        double alpha = scan ? 0.99 : cfg->alphas[ai];
        evict_trace_t t;
        if ((scan && (!cfg->scan || !selected(cfg, "scan")))
            || (!scan && !selected(cfg, "zipf")))
            continue;
        if (!evict_trace_synthetic(&t, cfg->keys, cfg->requests, alpha, scan,
                                   cfg->scan_every, cfg->scan_len, cfg->seed,
                                   pool)) {
            fprintf(stderr, "bench_evict: out of memory for a trace\n");
            return 0;
        }
        ok = run_trace(tb, &t, 0, cfg, pool);
        evict_trace_free(&t);
    }
    return ok;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    config_t cfg;
    table_t tb;
    evict_validation_t v;
    expiry_t x;
    uint64_t t0 = bench_now_ns();
    double seconds;
    int ok = 1;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&pool, NULL);
    if (!parse_args(&cfg, argc, argv, pool) || !names_known(&cfg)) {
        usage(stderr);
        return 2;
    }
    memset(&tb, 0, sizeof tb);
    memset(&v, 0, sizeof v);
    memset(&x, 0, sizeof x);
    ok = run_validation(&cfg, &v, pool);
    printf("eviction quality: hit ratios over all requests (cache-aside), "
           "every policy given the same number of equal-size entries\n");
    print_header();
    if (ok && cfg.real)
        ok = run_real(&tb, &cfg, pool);
    if (ok && cfg.synthetic)
        ok = run_synthetic(&tb, &cfg, pool);
    if (tb.n)
        print_summary(&tb);
    if (ok && cfg.expiry) {
        expiry_check(&cfg, &x, pool);
        if (x.ran)
            printf("expiry: %" PRIu64 " entries (half with TTL 1 s), after "
                   "expiry %" PRIu64 " new sets: %" PRIu64 " expired "
                   "reclaimed, %" PRIu64 " live evicted (%" PRIu64
                   " never-expiring entries lost)\n", x.filled, x.inserted,
                   x.reclaimed_expired, x.evicted_live, x.live_lost);
    }
    seconds = (double)(bench_now_ns() - t0) / 1e9;
    printf("run time %.1f s\n", seconds);
    if (cfg.json)
        json_write(cfg.json, &cfg, &tb, &v, &x, seconds);
    free(tb.cells);
    apr_pool_destroy(pool);
    apr_terminate();
    return ok ? 0 : 3;
}
