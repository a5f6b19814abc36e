/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_lock.c - the in-segment reader/writer lock (libshmcache/src/lock.c)
 * against a process-shared pthread_rwlock_t living in the same shared
 * mapping, measured in the same run:
 *
 *   1. uncontended read lock + unlock (and write lock + unlock), ns;
 *   2. read-lock throughput of 2 processes divided by 1 process (scaling:
 *      2.0 is perfect on 2 cores; a shared lock word makes it collapse).
 *      Each process also reports its CPU time: "overlap" is the share of
 *      the run during which both really ran (on a loaded machine the wall
 *      ratio cannot exceed 1 + overlap), and "per CPU-second" divides the
 *      work by the CPU time, so cache-line contention shows as a drop;
 *   3. how long a writer waits for the lock while 2 reader processes take
 *      the read lock back to back: p50 / p99 / max over --samples tries.
 *      glibc's default rwlock prefers readers, so its writer is bounded by
 *      a 1 s timedwrlock and the timeouts are counted.
 *
 * Every figure is the median of --runs runs (default 5). --json prints one
 * JSON object instead of the table. Helper processes are this binary
 * re-executed ("--child ..."); they meet the parent in one file mapping.
 *
 * usage: bench_lock [--runs N] [--seconds S] [--samples N] [--json]
 */
#include "common.h"
#include "hist.h"
#include "lock.h"

#include <apr_file_io.h>
#include <apr_mmap.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSLOTS 16
#define UNCONTENDED_ITERS 5000000L
#define WRITER_LIMIT_NS 1000000000ull   /* pthread writer: give up at 1 s */

enum { SC, PT };                        /* which lock */
static const char *const kind_name[] = {"sc_lock", "pthread_rwlock"};

/* After the lock region, on its own page: the baseline and the flags. */
typedef struct area_t {
    pthread_rwlock_t rw;                /* process-shared baseline */
    char pad0[64];
    _Atomic uint32_t ready, go, stop;
    char pad1[64];
    uint64_t data[8];                   /* what the readers read */
} area_t;

typedef struct bench_map_t {
    sc_lock_sh_t *sh;
    area_t *area;
} bench_map_t;

typedef struct opts_t {
    int runs, json;
    double seconds;
    int samples;
    const char *exe;
} opts_t;

/* ---------------------------------------------------------------------
 * The shared mapping
 * ------------------------------------------------------------------- */

static apr_uint64_t area_off(void)
{
    return (sc_lock_region_size(NSLOTS) + 4095) & ~(apr_uint64_t)4095;
}

/* Map path; the creator also initialises both locks. */
static int map_file(bench_map_t *m, const char *path, int create,
                    apr_pool_t *pool)
{
    apr_int32_t fl = APR_FOPEN_READ | APR_FOPEN_WRITE;
    apr_uint64_t size = area_off() + sizeof(area_t);
    apr_file_t *f;
    apr_mmap_t *mm;

    if (create)
        fl |= APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE;
    if (apr_file_open(&f, path, fl, APR_FPROT_UREAD | APR_FPROT_UWRITE, pool)
        || (create && apr_file_trunc(f, (apr_off_t)size))
        || apr_mmap_create(&mm, f, 0, (apr_size_t)size,
                           APR_MMAP_READ | APR_MMAP_WRITE, pool))
        return 0;
    m->sh = mm->mm;
    m->area = (area_t *)((char *)mm->mm + area_off());
    if (create) {
        pthread_rwlockattr_t a;
        sc_lock_init(m->sh, NSLOTS);
        pthread_rwlockattr_init(&a);
        pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_rwlock_init(&m->area->rw, &a);
        pthread_rwlockattr_destroy(&a);
    }
    return 1;
}

static void die(const char *what, apr_status_t rv)
{
    fprintf(stderr, "bench_lock: %s: %s\n", what, bench_strerror(rv));
    exit(1);
}

/* ---------------------------------------------------------------------
 * One read section and one write section, for either lock
 * ------------------------------------------------------------------- */

static uint64_t read_section(int kind, sc_lock_t *l, area_t *a)
{
    uint64_t v;

    if (kind == SC) {
        apr_status_t rv = sc_lock_rdlock(l);
        if (rv != APR_SUCCESS)
            die("rdlock", rv);
    }
    else
        pthread_rwlock_rdlock(&a->rw);
    v = a->data[0] + a->data[3];
    if (kind == SC)
        sc_lock_rdunlock(l);
    else
        pthread_rwlock_unlock(&a->rw);
    return v;
}

/* Take the write lock, bump the data, release; returns ns waited, or
 * WRITER_LIMIT_NS if the pthread writer gave up. */
static uint64_t write_section(int kind, sc_lock_t *l, area_t *a)
{
    uint64_t t0 = bench_now_ns(), waited;

    if (kind == SC) {
        apr_status_t rv = sc_lock_wrlock(l);
        if (rv != APR_SUCCESS)
            die("wrlock", rv);
    }
    else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_rwlock_timedwrlock(&a->rw, &ts) == ETIMEDOUT)
            return WRITER_LIMIT_NS;
    }
    waited = bench_now_ns() - t0;
    a->data[0]++;
    a->data[3]++;
    if (kind == SC)
        sc_lock_wrunlock(l);
    else
        pthread_rwlock_unlock(&a->rw);
    return waited;
}

/* Write lock + unlock with nothing else timed (uncontended cost). */
static void write_plain(int kind, sc_lock_t *l, area_t *a)
{
    if (kind == SC) {
        apr_status_t rv = sc_lock_wrlock(l);
        if (rv != APR_SUCCESS)
            die("wrlock", rv);
    }
    else
        pthread_rwlock_wrlock(&a->rw);
    a->data[0]++;
    if (kind == SC)
        sc_lock_wrunlock(l);
    else
        pthread_rwlock_unlock(&a->rw);
}

/* ---------------------------------------------------------------------
 * Children: "--child tput KIND PATH SECONDS" counts read sections for
 * SECONDS after go; "--child load KIND PATH" reads back to back until
 * stop. Both print their count.
 * ------------------------------------------------------------------- */

/* CPU time of this process, ns. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int child_main(int argc, const char *const *argv, apr_pool_t *pool)
{
    bench_map_t m;
    sc_lock_t l;
    int kind, tput;
    uint64_t n = 0, end, sink = 0, cpu0;
    apr_status_t rv;

    if (argc < 5 || !map_file(&m, argv[4], 0, pool))
        return 2;
    tput = strcmp(argv[2], "tput") == 0;
    kind = strcmp(argv[3], "sc") == 0 ? SC : PT;
    if ((rv = sc_lock_attach(&l, m.sh, m.sh->nslots, 60000)) != APR_SUCCESS)
        die("attach", rv);
    atomic_fetch_add(&m.area->ready, 1);
    while (!atomic_load(&m.area->go))
        ;
    end = bench_now_ns() + (uint64_t)(tput ? atof(argv[5]) * 1e9 : 0);
    cpu0 = cpu_ns();
    for (;;) {
        int i;
        for (i = 0; i < 256; i++)
            sink += read_section(kind, &l, m.area);
        n += 256;
        if (tput ? bench_now_ns() >= end : atomic_load(&m.area->stop) != 0)
            break;
    }
    sc_lock_detach(&l);
    printf("%llu %llu %llu\n", (unsigned long long)n,
           (unsigned long long)(cpu_ns() - cpu0), (unsigned long long)(sink & 1));
    fflush(stdout);
    return 0;
}

/* Start n children of mode/kind on path and wait until they are ready. */
static void start_children(bench_helper_t *h, int n, const char *mode,
                           int kind, const char *path, const opts_t *o,
                           area_t *a, apr_pool_t *pool)
{
    const char *argv[7];
    int i;

    atomic_store(&a->ready, 0);
    atomic_store(&a->go, 0);
    atomic_store(&a->stop, 0);
    argv[0] = o->exe;
    argv[1] = "--child";
    argv[2] = mode;
    argv[3] = kind == SC ? "sc" : "pt";
    argv[4] = path;
    argv[5] = apr_psprintf(pool, "%g", o->seconds);
    argv[6] = NULL;
    for (i = 0; i < n; i++) {
        apr_status_t rv = bench_helper_start(&h[i], o->exe, argv, pool);
        if (rv != APR_SUCCESS)
            die("start helper", rv);
    }
    while (atomic_load(&a->ready) < (uint32_t)n)
        apr_sleep(1000);
}

/* Collect the children's counts (and their CPU time, ns, in *cpu). */
static uint64_t finish_children(bench_helper_t *h, int n, uint64_t *cpu)
{
    char line[128], *end;
    uint64_t total = 0, c = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (bench_helper_read(&h[i], line, sizeof line) == APR_SUCCESS) {
            total += strtoull(line, &end, 10);
            c += strtoull(end, NULL, 10);
        }
        bench_helper_finish(&h[i]);
    }
    if (cpu != NULL)
        *cpu = c;
    return total;
}

/* ---------------------------------------------------------------------
 * The three measurements
 * ------------------------------------------------------------------- */

/* ns per lock + unlock, no contention; write != 0 measures the write
 * lock. */
static double uncontended(int kind, int write, sc_lock_t *l, area_t *a)
{
    volatile uint64_t sink = 0;
    uint64_t t0 = bench_now_ns();
    long i;

    for (i = 0; i < UNCONTENDED_ITERS; i++) {
        if (write)
            write_plain(kind, l, a);
        else
            sink += read_section(kind, l, a);
    }
    return (double)(bench_now_ns() - t0) / (double)UNCONTENDED_ITERS;
}

typedef struct tput_t {
    double per_s;                  /* read sections per wall second */
    double per_cpu_s;              /* per CPU second of the processes */
    double overlap;                /* 2 processes: share of time both ran */
} tput_t;

/* Read sections per second of nprocs processes together. */
static tput_t throughput(int kind, int nprocs, const char *path,
                         const opts_t *o, area_t *a, apr_pool_t *pool)
{
    bench_helper_t h[2];
    uint64_t cpu, n;
    tput_t t;

    start_children(h, nprocs, "tput", kind, path, o, a, pool);
    atomic_store(&a->go, 1);
    n = finish_children(h, nprocs, &cpu);
    t.per_s = (double)n / o->seconds;
    t.per_cpu_s = cpu > 0 ? (double)n / ((double)cpu / 1e9) : 0;
    t.overlap = (double)cpu / 1e9 / o->seconds - 1.0;
    if (t.overlap < 0)
        t.overlap = 0;
    return t;
}

typedef struct wait_figures_t {
    double p50_us, p99_us, max_us, timeouts;
} wait_figures_t;

/* A writer every millisecond while 2 processes read back to back. */
static wait_figures_t writer_wait(int kind, sc_lock_t *l, const char *path,
                                  const opts_t *o, area_t *a,
                                  apr_pool_t *pool)
{
    bench_helper_t h[2];
    hist_t *hist = calloc(1, sizeof *hist);
    wait_figures_t f = {0, 0, 0, 0};
    int i;

    hist_init(hist);
    start_children(h, 2, "load", kind, path, o, a, pool);
    atomic_store(&a->go, 1);
    apr_sleep(20000);
    for (i = 0; i < o->samples; i++) {
        uint64_t ns = write_section(kind, l, a);
        if (ns >= WRITER_LIMIT_NS)
            f.timeouts++;
        hist_record(hist, ns);
        apr_sleep(1000);
    }
    atomic_store(&a->stop, 1);
    finish_children(h, 2, NULL);
    f.p50_us = (double)hist_percentile(hist, 50) / 1e3;
    f.p99_us = (double)hist_percentile(hist, 99) / 1e3;
    f.max_us = (double)hist->max / 1e3;
    free(hist);
    return f;
}

/* ---------------------------------------------------------------------
 * Runs, medians, output
 * ------------------------------------------------------------------- */

#define MAX_RUNS 64

/* The figures of one run, per lock kind. */
enum {
    RD_NS, WR_NS,                  /* uncontended, ns per lock+unlock */
    T1, T1_CPU, T2, T2_CPU, OVERLAP, /* read sections per s, 1 and 2 procs */
    W_P50, W_P99, W_MAX, W_TIMEOUTS, /* writer wait, us */
    NFIG
};

typedef struct figures_t {
    double v[2][NFIG];
} figures_t;

static void one_run(figures_t *f, sc_lock_t *l, const char *path,
                    const opts_t *o, area_t *a, apr_pool_t *pool)
{
    tput_t t1, t2;
    wait_figures_t w;
    int k;

    for (k = SC; k <= PT; k++) {
        double *v = f->v[k];
        v[RD_NS] = uncontended(k, 0, l, a);
        v[WR_NS] = uncontended(k, 1, l, a);
        t1 = throughput(k, 1, path, o, a, pool);
        t2 = throughput(k, 2, path, o, a, pool);
        v[T1] = t1.per_s;
        v[T1_CPU] = t1.per_cpu_s;
        v[T2] = t2.per_s;
        v[T2_CPU] = t2.per_cpu_s;
        v[OVERLAP] = t2.overlap;
        w = writer_wait(k, l, path, o, a, pool);
        v[W_P50] = w.p50_us;
        v[W_P99] = w.p99_us;
        v[W_MAX] = w.max_us;
        v[W_TIMEOUTS] = w.timeouts;
    }
}

/* Median over the runs of figure fig of lock kind k. */
static double med(const figures_t *runs, int n, int k, int fig)
{
    double v[MAX_RUNS];
    int i;

    for (i = 0; i < n; i++)
        v[i] = runs[i].v[k][fig];
    return bench_median(v, n);
}

/* One table row: label, then the median for each kind, then sc/pt. */
static void row(const figures_t *runs, int n, const char *label, int fig,
                double scale, int ratio)
{
    double sc = med(runs, n, SC, fig) * scale, pt = med(runs, n, PT, fig) * scale;

    printf("%-44s %14.2f %14.2f", label, sc, pt);
    if (ratio && pt > 0)
        printf(" %8.2f", sc / pt);
    printf("\n");
}

/* A row of one figure divided by another (per kind). */
static void row_ratio(const figures_t *runs, int n, const char *label,
                      int num, int den)
{
    printf("%-44s %14.2f %14.2f\n", label,
           med(runs, n, SC, num) / med(runs, n, SC, den),
           med(runs, n, PT, num) / med(runs, n, PT, den));
}

static void print_table(const figures_t *runs, int n, const opts_t *o)
{
    printf("bench_lock: median of %d runs (throughput %.1f s, %d writer "
           "samples)\n\n", n, o->seconds, o->samples);
    printf("%-44s %14s %14s %8s\n", "", kind_name[SC], kind_name[PT], "sc/pt");
    row(runs, n, "uncontended read lock+unlock (ns)", RD_NS, 1, 1);
    row(runs, n, "uncontended write lock+unlock (ns)", WR_NS, 1, 1);
    row(runs, n, "read sections, 1 process (M/s)", T1, 1e-6, 0);
    row(runs, n, "read sections, 2 processes (M/s)", T2, 1e-6, 0);
    row_ratio(runs, n, "scaling 2 processes / 1 (wall)", T2, T1);
    row(runs, n, "  overlap: share of time both ran", OVERLAP, 1, 0);
    row_ratio(runs, n, "  per CPU-second, 2 processes / 1", T2_CPU, T1_CPU);
    row(runs, n, "writer wait under 2 readers, p50 (us)", W_P50, 1, 0);
    row(runs, n, "writer wait under 2 readers, p99 (us)", W_P99, 1, 0);
    row(runs, n, "writer wait under 2 readers, max (us)", W_MAX, 1, 0);
    row(runs, n, "writer gave up after 1 s (count)", W_TIMEOUTS, 1, 0);
}

static void print_json(const figures_t *runs, int n, const opts_t *o)
{
    int k;

    printf("{\"bench\":\"lock\",\"runs\":%d,\"seconds\":%g,\"samples\":%d",
           n, o->seconds, o->samples);
    for (k = SC; k <= PT; k++) {
#define M(fig) med(runs, n, k, fig)
        printf(",\"%s\":{\"uncontended_read_ns\":%.2f,"
               "\"uncontended_write_ns\":%.2f,\"read_per_s_1proc\":%.0f,"
               "\"read_per_s_2proc\":%.0f,\"scaling_2_over_1\":%.3f,"
               "\"overlap\":%.3f,\"per_cpu_s_2_over_1\":%.3f,"
               "\"writer_wait_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,"
               "\"timeouts\":%.0f}}", kind_name[k], M(RD_NS), M(WR_NS),
               M(T1), M(T2), M(T2) / M(T1), M(OVERLAP),
               M(T2_CPU) / M(T1_CPU), M(W_P50), M(W_P99), M(W_MAX),
               M(W_TIMEOUTS));
#undef M
    }
    printf(",\"read_ratio_sc_over_pt\":%.3f}\n",
           med(runs, n, SC, RD_NS) / med(runs, n, PT, RD_NS));
}

static int parse_args(opts_t *o, int argc, const char *const *argv)
{
    int i;

    o->runs = 5;
    o->seconds = 1.0;
    o->samples = 500;
    o->json = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o->json = 1;
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            o->runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            o->seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            o->samples = atoi(argv[++i]);
        else
            return 0;
    }
    return o->runs >= 1 && o->runs <= MAX_RUNS && o->seconds > 0
        && o->samples > 0;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    figures_t runs[MAX_RUNS];
    bench_map_t m;
    sc_lock_t l;
    opts_t o;
    const char *path;
    apr_status_t rv;
    int i;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main(argc, argv, pool);
    if (!parse_args(&o, argc, argv)) {
        fprintf(stderr, "usage: bench_lock [--runs N] [--seconds S] "
                        "[--samples N] [--json]\n");
        return 2;
    }
    o.exe = bench_self_exe(argv[0], pool);
    path = bench_tmp_path("lock", pool);
    if (!map_file(&m, path, 1, pool))
        die("map", APR_EGENERAL);
    if ((rv = sc_lock_attach(&l, m.sh, m.sh->nslots, 60000)) != APR_SUCCESS)
        die("attach", rv);
    for (i = 0; i < o.runs; i++)
        one_run(&runs[i], &l, path, &o, m.area, pool);
    if (o.json)
        print_json(runs, o.runs, &o);
    else
        print_table(runs, o.runs, &o);
    sc_lock_detach(&l);
    apr_file_remove(path, pool);
    return 0;
}
