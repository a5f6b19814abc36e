/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_crash.c - processes die at any instant; the cache stays correct.
 *
 * Worker processes (this binary re-executed) hammer one cache through the
 * public API with mixed operations. Every value carries its key and a
 * checksum, and every value a worker reads is verified: a wrong or torn
 * value is counted in a shared report file and fails the test. The test
 * kills workers with SIGKILL at random moments, and at named fault points
 * reached deterministically (fault.h: the fault-injection build stops a
 * process with SHMCACHE_FAULT=name at that point, the test kills it there):
 * holding the write lock, holding a read lock, in the middle of a set that
 * allocates, in the middle of an eviction, while claiming a lock slot, and
 * while creating the segment. After each kill the test's own handle must
 * get through a set and a get within PROGRESS_MS, and the survivors must
 * keep counting operations; at the end shmcache_check must pass and every
 * stored value must verify.
 *
 * CI runs a few hundred kills (about a minute). SHMCACHE_SOAK_KILLS=N
 * runs N random kills and N/4 rounds of fault points instead.
 */
#include "harness.h"

#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_mmap.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#ifndef SIGKILL
#define SIGKILL 9                  /* apr_proc_kill terminates on Windows */
#endif

#define NWORKERS 3
#define MAX_REPORTS 8              /* workers + the fault-point worker */
#define FAULT_WORKER NWORKERS      /* its report index */
#define TIMEOUT_MS 200u            /* lock_timeout_ms of every handle */
#define PROGRESS_MS 3000u          /* a survivor's operation, at worst */
#define NKEYS 1500
#define MAXVAL 3000
#define VALUE_MAGIC 0x5343u        /* "SC" */

/* Default kill counts (SHMCACHE_SOAK_KILLS overrides). */
#define RANDOM_KILLS 300
#define FAULT_ROUNDS 6             /* every fault point this many times */

/* ---------------------------------------------------------------------
 * The shared report: what workers saw, one cache line each
 * ------------------------------------------------------------------- */

typedef struct wreport_t {
    _Atomic uint64_t ops;          /* operations finished */
    _Atomic uint64_t wrong;        /* values that failed verification */
    _Atomic uint64_t errors;       /* unexpected statuses */
    _Atomic uint64_t timeouts;     /* SHMCACHE_ETIMEDOUT */
    _Atomic int32_t last_error;    /* the last unexpected status */
    uint32_t pad[7];
} wreport_t;

typedef struct report_t {
    _Atomic uint32_t stop;         /* parent: workers, finish */
    uint32_t pad[15];
    wreport_t w[MAX_REPORTS];
} report_t;

static report_t *map_report(const char *path, int create)
{
    apr_file_t *f;
    apr_mmap_t *mm;
    apr_int32_t flags = APR_FOPEN_READ | APR_FOPEN_WRITE;

    if (create)
        flags |= APR_FOPEN_CREATE | APR_FOPEN_EXCL;
    if (apr_file_open(&f, path, flags, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                      th_pool) != APR_SUCCESS)
        return NULL;
    if (create && apr_file_trunc(f, sizeof(report_t)) != APR_SUCCESS)
        return NULL;
    if (apr_mmap_create(&mm, f, 0, sizeof(report_t),
                        APR_MMAP_READ | APR_MMAP_WRITE, th_pool) != APR_SUCCESS)
        return NULL;
    return mm->mm;
}

static uint64_t total_ops(report_t *r)
{
    uint64_t n = 0;
    int i;

    for (i = 0; i < MAX_REPORTS; i++)
        n += atomic_load(&r->w[i].ops);
    return n;
}

/* ---------------------------------------------------------------------
 * Self-verifying values: magic, key length, key, sequence, filler, and
 * XXH64 of everything before it
 * ------------------------------------------------------------------- */

static apr_uint32_t next_rand(apr_uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static apr_size_t make_value(unsigned char *buf, const char *key,
                             apr_size_t klen, apr_uint32_t seq,
                             apr_size_t filler)
{
    apr_size_t n = 0, i;
    XXH64_hash_t h;

    buf[n++] = VALUE_MAGIC >> 8;
    buf[n++] = VALUE_MAGIC & 0xFF;
    buf[n++] = (unsigned char)klen;
    memcpy(buf + n, key, klen);
    n += klen;
    memcpy(buf + n, &seq, sizeof seq);
    n += sizeof seq;
    for (i = 0; i < filler; i++)
        buf[n++] = (unsigned char)(seq + i * 31);
    h = XXH64(buf, n, 0);
    memcpy(buf + n, &h, sizeof h);
    return n + sizeof h;
}

/* Whether v is a well-formed value stored for key. */
static int value_ok(const unsigned char *v, apr_size_t vlen, const char *key,
                    apr_size_t klen)
{
    XXH64_hash_t h;
    apr_size_t head = 3 + klen + sizeof(apr_uint32_t);

    if (vlen < head + sizeof h || v[0] != (VALUE_MAGIC >> 8)
        || v[1] != (VALUE_MAGIC & 0xFF) || v[2] != klen
        || memcmp(v + 3, key, klen) != 0)
        return 0;
    memcpy(&h, v + vlen - sizeof h, sizeof h);
    return h == XXH64(v, vlen - sizeof h, 0);
}

static apr_size_t data_key(char *key, apr_uint32_t r)
{
    return (apr_size_t)snprintf(key, 32, "data-%u", r % NKEYS);
}

/* ---------------------------------------------------------------------
 * The worker: mixed operations, each result checked
 * ------------------------------------------------------------------- */

typedef struct worker_t {
    shmcache_t *cache;
    wreport_t *rep;
    apr_uint32_t seed;
    unsigned char vbuf[MAXVAL + 128];
    unsigned char got[MAXVAL + 128];
} worker_t;

/* Record a status: fine ones pass, a timeout or anything else counts. */
static void tally(worker_t *w, apr_status_t rv)
{
    if (rv == APR_SUCCESS || rv == SHMCACHE_NOTFOUND || rv == SHMCACHE_EXISTS
        || rv == SHMCACHE_EMISMATCH)
        return;
    if (rv == SHMCACHE_ETIMEDOUT) {
        atomic_fetch_add(&w->rep->timeouts, 1);
        return;
    }
    atomic_fetch_add(&w->rep->errors, 1);
    atomic_store(&w->rep->last_error, (int32_t)rv);
}

static void op_get(worker_t *w, const char *key, apr_size_t klen)
{
    apr_size_t vlen = 0;
    apr_status_t rv = shmcache_get_buf(w->cache, key, klen, w->got,
                                       sizeof w->got, &vlen, NULL);

    if (rv == APR_SUCCESS && !value_ok(w->got, vlen, key, klen)) {
        atomic_fetch_add(&w->rep->wrong, 1);
        fprintf(stderr, "worker: wrong value for %.*s (%lu bytes)\n",
                (int)klen, key, (unsigned long)vlen);
    }
    tally(w, rv);
}

static void op_store(worker_t *w, const char *key, apr_size_t klen,
                     apr_uint32_t r)
{
    apr_size_t vlen = make_value(w->vbuf, key, klen, r,
                                 next_rand(&w->seed) % MAXVAL);
    apr_uint32_t kind = r % 4;
    apr_status_t rv;

    if (kind == 0)
        rv = shmcache_add(w->cache, key, klen, w->vbuf, vlen, 0, NULL);
    else if (kind == 1)
        rv = shmcache_replace(w->cache, key, klen, w->vbuf, vlen, 0, NULL);
    else
        rv = shmcache_set(w->cache, key, klen, w->vbuf, vlen, 0, NULL);
    tally(w, rv);
}

static void op_cas(worker_t *w, const char *key, apr_size_t klen,
                   apr_uint32_t r)
{
    shmcache_meta_t meta;
    apr_size_t vlen;
    apr_status_t rv = shmcache_get_meta(w->cache, key, klen, &meta);

    if (rv == APR_SUCCESS) {
        vlen = make_value(w->vbuf, key, klen, r, r % 200);
        rv = shmcache_cas(w->cache, key, klen, w->vbuf, vlen, 0,
                          meta.version, NULL);
    }
    tally(w, rv);
}

static void op_incr(worker_t *w, apr_uint32_t r)
{
    char key[32];
    apr_uint64_t one = 1, res;
    apr_size_t klen = (apr_size_t)snprintf(key, sizeof key, "ctr-%u", r % 4);

    tally(w, shmcache_incr(w->cache, key, klen, 1, &one, 0, &res));
}

/* One operation of the mix. */
static void step(worker_t *w)
{
    char key[32];
    apr_uint32_t r = next_rand(&w->seed), op = r % 100;
    apr_size_t klen = data_key(key, r >> 8);

    if (op < 50)
        op_get(w, key, klen);
    else if (op < 80)
        op_store(w, key, klen, r);
    else if (op < 87)
        tally(w, shmcache_delete(w->cache, key, klen));
    else if (op < 92)
        op_cas(w, key, klen, r);
    else if (op < 97)
        op_incr(w, r);
    else
        tally(w, shmcache_touch(w->cache, key, klen, 60 + r % 60));
    atomic_fetch_add_explicit(&w->rep->ops, 1, memory_order_relaxed);
}

/* Arm fault point name (skip passes first) for this process, before the
 * library reads the environment. "-" arms nothing. */
static void arm_fault(const char *name, const char *skip, const char *file)
{
    if (strcmp(name, "-") == 0)
        return;
    apr_env_set("SHMCACHE_FAULT", name, th_pool);
    apr_env_set("SHMCACHE_FAULT_SKIP", skip, th_pool);
    apr_env_set("SHMCACHE_FAULT_FILE", file, th_pool);
}

static void options(shmcache_options_t *o)
{
    shmcache_options_init(o);
    o->size = 1 << 20;             /* small: sets evict all the time */
    o->max_value = MAXVAL + 128;
    o->slots = 32;                 /* dead slots must be reclaimed */
    o->lock_timeout_ms = TIMEOUT_MS;
}

/* Helper: cache report index seed fault skip faultfile. Works until the
 * report says stop (or until killed). */
static int h_worker(int argc, const char *const *argv)
{
    shmcache_options_t o;
    worker_t *w = calloc(1, sizeof *w);
    report_t *r;
    apr_status_t rv;

    if (argc < 7 || w == NULL || (r = map_report(argv[1], 0)) == NULL)
        return 2;
    arm_fault(argv[4], argv[5], argv[6]);
    w->rep = &r->w[atoi(argv[2])];
    w->seed = (apr_uint32_t)atol(argv[3]) | 1;
    options(&o);
    rv = shmcache_attach(&w->cache, argv[0], &o, th_pool);
    if (rv != APR_SUCCESS) {
        tally(w, rv);
        free(w);
        return 3;
    }
    while (!atomic_load(&r->stop))
        step(w);
    shmcache_close(w->cache);
    free(w);
    return 0;
}

/* Helper: cache fault skip faultfile. Creates the cache at path (armed,
 * so it stops half-way), then exits. */
static int h_creator(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c;

    if (argc < 4)
        return 2;
    arm_fault(argv[1], argv[2], argv[3]);
    options(&o);
    return shmcache_create(&c, argv[0], &o, th_pool) == APR_SUCCESS ? 0 : 3;
}

/* Helper: cache faultfile point. Attaches and stops at the fault point,
 * where it stays until killed: at lock.rd.held it sets "k" and reads it
 * back (the first read of an entry takes the read lock, to mark it
 * visited); at alloc.free.* it deletes "victim"; at alloc.init.* it
 * flushes; at any other writer's point it sets "w". */
static int h_parked(int argc, const char *const *argv)
{
    shmcache_options_t o;
    shmcache_t *c;
    void *v;
    apr_size_t n;

    if (argc < 3)
        return 2;
    /* armed before attach: the library reads the environment once, at the
     * first fault point it passes (neither attach nor a set passes
     * lock.rd.held; attach passes no writer's point) */
    arm_fault(argv[2], "0", argv[1]);
    options(&o);
    if (shmcache_attach(&c, argv[0], &o, th_pool) != APR_SUCCESS)
        return 3;
    if (strcmp(argv[2], "lock.rd.held") == 0) {
        if (shmcache_set(c, "k", 1, "v", 1, 0, NULL) != APR_SUCCESS)
            return 3;
        shmcache_get(c, "k", 1, &v, &n, NULL, th_pool);
    }
    else if (strncmp(argv[2], "alloc.free.", 11) == 0)
        shmcache_delete(c, "victim", 6);    /* frees its block */
    else if (strncmp(argv[2], "alloc.init.", 11) == 0)
        shmcache_flush(c);
    else
        shmcache_set(c, "w", 1, "v", 1, 0, NULL);
    return 4;                  /* not reached: parked at the fault point */
}

const th_helper_t test_helpers[] = {
    {"worker", h_worker},
    {"creator", h_creator},
    {"parked", h_parked},
    {NULL, NULL}
};

/* ---------------------------------------------------------------------
 * The test's side
 * ------------------------------------------------------------------- */

typedef struct run_t {
    const char *path;
    const char *report_path;
    report_t *report;
    shmcache_t *cache;             /* the test's own handle */
    apr_proc_t workers[NWORKERS];
    apr_uint32_t seed;
    unsigned kills, fault_kills, unreached;
    apr_uint32_t worst_ms;         /* slowest probe after a kill */
} run_t;

static void spawn_worker(run_t *run, apr_proc_t *p, int index,
                         const char *fault, long skip, const char *file)
{
    const char *args[8];

    args[0] = run->path;
    args[1] = run->report_path;
    args[2] = apr_itoa(th_pool, index);
    args[3] = apr_itoa(th_pool, (int)(next_rand(&run->seed) & 0x7FFFFFFF));
    args[4] = fault;
    args[5] = apr_ltoa(th_pool, skip);
    args[6] = file;
    args[7] = NULL;
    th_spawn(p, "worker", args);
}

static void kill_and_reap(apr_proc_t *p)
{
    apr_proc_kill(p, SIGKILL);
    th_wait(p);                    /* a zombie would still look alive */
}

static run_t *start_run(const char *tag)
{
    run_t *run = apr_pcalloc(th_pool, sizeof *run);
    shmcache_options_t o;
    int i;

    run->path = th_path(tag);
    run->report_path = th_path("report");
    run->report = map_report(run->report_path, 1);
    ck_assert_ptr_nonnull(run->report);
    run->seed = (apr_uint32_t)apr_time_now() | 1;
    options(&o);
    th_ok(shmcache_create(&run->cache, run->path, &o, th_pool));
    for (i = 0; i < NWORKERS; i++)
        spawn_worker(run, &run->workers[i], i, "-", 0, "-");
    return run;
}

/* The test's own set + get: must finish within PROGRESS_MS, and read back
 * what it wrote. */
static void probe(run_t *run)
{
    unsigned char v[256], got[256];
    char key[32];
    apr_size_t klen = (apr_size_t)snprintf(key, sizeof key, "probe-%u",
                                           run->kills % 16);
    apr_size_t vlen = make_value(v, key, klen, run->kills, 100), n = 0;
    apr_time_t t0 = apr_time_now();
    apr_uint32_t ms;
    apr_status_t rv;

    th_ok(shmcache_set(run->cache, key, klen, v, vlen, 0, NULL));
    rv = shmcache_get_buf(run->cache, key, klen, got, sizeof got, &n, NULL);
    ms = (apr_uint32_t)((apr_time_now() - t0) / 1000);
    if (ms > run->worst_ms)
        run->worst_ms = ms;
    ck_assert_msg(ms <= PROGRESS_MS, "a set and a get took %u ms", ms);
    /* evicted in between by a worker's set is possible, wrong is not */
    ck_assert_msg(rv == SHMCACHE_NOTFOUND
                  || (rv == APR_SUCCESS && value_ok(got, n, key, klen)),
                  "probe read back status %d", (int)rv);
}

/* The survivors keep working: their operation count moves within
 * PROGRESS_MS. */
static void survivors_progress(run_t *run)
{
    uint64_t before = total_ops(run->report);
    apr_time_t end = apr_time_now() + (apr_time_t)PROGRESS_MS * 1000;

    while (total_ops(run->report) < before + 10 && apr_time_now() < end)
        apr_sleep(1000);
    ck_assert_msg(total_ops(run->report) >= before + 10,
                  "workers made no progress in %u ms", PROGRESS_MS);
}

/* Kill one worker at a random moment, start a new one. */
static void random_kill(run_t *run)
{
    int i = (int)(next_rand(&run->seed) % NWORKERS);

    apr_sleep((apr_interval_time_t)(next_rand(&run->seed) % 20000));
    kill_and_reap(&run->workers[i]);
    run->kills++;
    probe(run);
    spawn_worker(run, &run->workers[i], i, "-", 0, "-");
}

/* Wait until the process armed with record file `file` has stopped at its
 * point; 1 if it did within limit_ms. */
static int reached(const char *file, apr_uint32_t limit_ms)
{
    apr_time_t end = apr_time_now() + (apr_time_t)limit_ms * 1000;
    apr_finfo_t fi;

    while (apr_time_now() < end) {
        if (apr_stat(&fi, file, APR_FINFO_SIZE, th_pool) == APR_SUCCESS
            && fi.size > 0)
            return 1;
        apr_sleep(1000);
    }
    return 0;
}

/* Start a worker armed at point `name` (passed skip times first), kill it
 * there, and check that the others get through. Returns 1 if the point was
 * reached. */
static int fault_kill(run_t *run, const char *name, long skip)
{
    const char *file = th_path("fault");
    apr_proc_t p;
    int hit;

    spawn_worker(run, &p, FAULT_WORKER, name, skip, file);
    hit = reached(file, 10000);
    kill_and_reap(&p);
    run->kills++;
    if (hit)
        run->fault_kills++;
    else
        run->unreached++;
    probe(run);
    survivors_progress(run);
    return hit;
}

/* A callback of shmcache_iterate: every stored value must verify. */
static int verify_entry(void *baton, const void *key, apr_size_t klen,
                        const void *value, apr_size_t vlen,
                        const shmcache_meta_t *meta)
{
    unsigned *wrong = baton;

    if (klen > 5 && memcmp(key, "data-", 5) == 0
        && !value_ok(value, vlen, key, klen))
        (*wrong)++;
    return 0;
}

/* Stop the workers; the worker reports, check and every value must be
 * clean. Prints the figures. */
static void finish_run(run_t *run, const char *what)
{
    shmcache_stats_t st;
    char why[512] = "";
    unsigned wrong = 0;
    uint64_t bad = 0, errors = 0, timeouts = 0;
    int i, last = 0;

    atomic_store(&run->report->stop, 1);
    for (i = 0; i < NWORKERS; i++)
        ck_assert_int_eq(th_wait(&run->workers[i]), 0);
    for (i = 0; i < MAX_REPORTS; i++) {
        bad += atomic_load(&run->report->w[i].wrong);
        errors += atomic_load(&run->report->w[i].errors);
        timeouts += atomic_load(&run->report->w[i].timeouts);
        if (atomic_load(&run->report->w[i].last_error) != 0)
            last = atomic_load(&run->report->w[i].last_error);
    }
    ck_assert_msg(shmcache_check(run->cache, why, sizeof why) == APR_SUCCESS,
                  "check: %s", why);
    th_ok(shmcache_iterate(run->cache, verify_entry, &wrong, 0));
    th_ok(shmcache_stats(run->cache, &st));
    printf("%s: %u kills (%u at fault points, %u points not reached), "
           "%" APR_UINT64_T_FMT " ops; recoveries %" APR_UINT64_T_FMT
           ", dead readers %" APR_UINT64_T_FMT ", repairs %" APR_UINT64_T_FMT
           ", resets %" APR_UINT64_T_FMT ", evictions %" APR_UINT64_T_FMT
           "; slowest probe %u ms\n", what, run->kills, run->fault_kills,
           run->unreached, total_ops(run->report), st.lock_recoveries,
           st.dead_readers, st.repairs, st.resets, st.evictions,
           run->worst_ms);
    fflush(stdout);
    ck_assert_msg(bad == 0, "%" APR_UINT64_T_FMT " wrong values read", bad);
    ck_assert_msg(wrong == 0, "%u wrong values stored", wrong);
    ck_assert_msg(errors == 0, "%" APR_UINT64_T_FMT " unexpected statuses,"
                  " the last %d", errors, last);
    ck_assert_msg(timeouts == 0, "%" APR_UINT64_T_FMT " lock timeouts",
                  timeouts);
    ck_assert_uint_gt(st.evictions, 0);
}

static long soak(long dflt)
{
    return th_env_long("SHMCACHE_SOAK_KILLS", dflt);
}

/* Whether file holds a line naming point (written by a parked process). */
static int fault_reached(const char *file, const char *point)
{
    apr_file_t *f;
    char buf[512];
    apr_size_t n = sizeof buf - 1;

    if (apr_file_open(&f, file, APR_FOPEN_READ, 0, th_pool) != APR_SUCCESS)
        return 0;
    apr_file_read(f, buf, &n);
    apr_file_close(f);
    buf[n] = '\0';
    return strstr(buf, point) != NULL;
}

/* Start the parked helper at point on the cache at p; returns once it
 * has stopped there. */
static void park(apr_proc_t *proc, const char *p, const char *point)
{
    const char *file = th_path(point);
    const char *args[] = {p, file, point, NULL};
    int i;

    th_spawn(proc, "parked", args);
    for (i = 0; i < 1000 && !fault_reached(file, point); i++)
        apr_sleep(10000);
    ck_assert_msg(fault_reached(file, point), "the helper never parked at %s",
                  point);
}

START_TEST(stats_name_the_processes_holding_read_locks)
{
    const char *p = th_path("holders");
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_proc_t reader;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    park(&reader, p, "lock.rd.held");
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.readers, 1);
    ck_assert_uint_eq(st.reader_pid_count, 1);
    ck_assert_int_eq((int)st.reader_pids[0], (int)reader.pid);
    ck_assert_int_eq((int)st.writer_pid, 0);
    apr_proc_kill(&reader, SIGKILL);
    th_wait(&reader);
    /* a write waits out the dead reader, drops its hold and goes on */
    th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.reader_pid_count, 0);
    ck_assert_uint_ge(st.dead_readers, 1);
    shmcache_close(c);
}
END_TEST

/* A get of an entry already read takes no lock: it answers while a
 * writer holds the writer word and drains the readers. Once that writer
 * starts changing the data (sequence odd), no get answers from the
 * segment without the lock: a live writer stopped there makes it time
 * out, and after its death the get recovers the lock and answers. */
START_TEST(gets_answer_without_the_lock_until_a_writer_changes_the_data)
{
    const char *p = th_path("optimistic");
    shmcache_options_t o;
    shmcache_t *c;
    apr_proc_t writer;
    char buf[8];
    apr_size_t n;
    apr_time_t t0;
    int i;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    th_ok(shmcache_set(c, "hot", 3, "v1", 2, 0, NULL));
    /* read until its frequency is at its top (three reads): from then on
     * a read writes nothing */
    for (i = 0; i < 3; i++)
        th_ok(shmcache_get_buf(c, "hot", 3, buf, sizeof buf, &n, NULL));
    th_ok(shmcache_set(c, "cold", 4, "v2", 2, 0, NULL));

    park(&writer, p, "lock.wr.claimed");
    t0 = apr_time_now();
    th_ok(shmcache_get_buf(c, "hot", 3, buf, sizeof buf, &n, NULL));
    ck_assert(n == 2 && memcmp(buf, "v1", 2) == 0);
    ck_assert_int_eq(shmcache_get_buf(c, "none", 4, buf, sizeof buf, &n, NULL),
                     SHMCACHE_NOTFOUND);
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(TIMEOUT_MS));
    /* a read that raises an entry's frequency takes the read lock */
    ck_assert_int_eq(shmcache_get_buf(c, "cold", 4, buf, sizeof buf, &n, NULL),
                     SHMCACHE_ETIMEDOUT);
    apr_proc_kill(&writer, SIGKILL);
    th_wait(&writer);

    park(&writer, p, "lock.wr.held");
    ck_assert_int_eq(shmcache_get_buf(c, "hot", 3, buf, sizeof buf, &n, NULL),
                     SHMCACHE_ETIMEDOUT);
    apr_proc_kill(&writer, SIGKILL);
    th_wait(&writer);
    memset(buf, 0, sizeof buf);
    th_ok(shmcache_get_buf(c, "hot", 3, buf, sizeof buf, &n, NULL));
    ck_assert(n == 2 && memcmp(buf, "v1", 2) == 0);
    shmcache_close(c);
}
END_TEST

/* Fill c with n entries "keep-I" whose values name their key. */
static void fill_kept(shmcache_t *c, int n)
{
    char key[32], val[64];
    int i;

    for (i = 0; i < n; i++) {
        apr_size_t kl = (apr_size_t)snprintf(key, sizeof key, "keep-%d", i);
        apr_size_t vl = (apr_size_t)snprintf(val, sizeof val, "value of keep-%d", i);
        th_ok(shmcache_set(c, key, kl, val, vl, 0, NULL));
    }
}

/* Every "keep-I" of fill_kept is still there, with its own value. */
static void assert_all_kept(shmcache_t *c, int n)
{
    char key[32], val[64], got[64];
    apr_size_t glen;
    int i;

    for (i = 0; i < n; i++) {
        apr_size_t kl = (apr_size_t)snprintf(key, sizeof key, "keep-%d", i);
        apr_size_t vl = (apr_size_t)snprintf(val, sizeof val, "value of keep-%d", i);
        th_ok(shmcache_get_buf(c, key, kl, got, sizeof got, &glen, NULL));
        ck_assert(glen == vl && memcmp(got, val, vl) == 0);
    }
}

/* The allocator's own windows: a writer killed between the store that
 * changes a block's size and the next block's back link (a split of a
 * free block for a set; a free, merged or not, for a delete), or half-way
 * through formatting the region (a flush). The next operation repairs:
 * the allocator is rebuilt from the block sizes, nothing is reset, and
 * every entry the dead writer was not changing survives. */
START_TEST(a_writer_killed_inside_each_allocator_window_costs_no_other_entry)
{
    static const char *const points[] = {
        "alloc.split.tail", "alloc.split.sized", "alloc.free.unlinked",
        "alloc.free.sized", "alloc.init.cleared"
    };
    const int kept = 200;
    static char hole[2000];
    shmcache_options_t o;
    shmcache_stats_t st;
    unsigned i;

    options(&o);
    for (i = 0; i < sizeof points / sizeof points[0]; i++) {
        const char *p = th_path("allocwin");
        int flushing = strncmp(points[i], "alloc.init.", 11) == 0;
        shmcache_t *c;
        apr_proc_t writer;
        char why[256];

        th_ok(shmcache_create(&c, p, &o, th_pool));
        /* a free hole with used blocks on both sides: a set splits it,
         * the delete of "victim" merges with it, and neither change is at
         * the region's end, so each leaves a back link to fix */
        th_ok(shmcache_set(c, "hole", 4, hole, sizeof hole, 0, NULL));
        th_ok(shmcache_set(c, "victim", 6, "v", 1, 0, NULL));
        fill_kept(c, kept);
        th_ok(shmcache_delete(c, "hole", 4));
        park(&writer, p, points[i]);
        apr_proc_kill(&writer, SIGKILL);
        th_wait(&writer);
        th_ok(shmcache_set(c, "after", 5, "v", 1, 0, NULL));
        why[0] = '\0';
        ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS,
                      "%s: check after the repair: %s", points[i], why);
        th_ok(shmcache_stats(c, &st));
        ck_assert_msg(st.resets == 0, "%s: the cache was emptied", points[i]);
        ck_assert_msg(st.repairs == 1 && st.lock_recoveries == 1,
                      "%s: %" APR_UINT64_T_FMT " repairs, %" APR_UINT64_T_FMT
                      " recoveries", points[i], st.repairs, st.lock_recoveries);
        if (!flushing)
            assert_all_kept(c, kept);
        else
            ck_assert_uint_eq(st.items, 1);     /* the flush, then "after" */
        shmcache_close(c);
    }
}
END_TEST

START_TEST(workers_killed_at_random_moments_never_read_a_wrong_value)
{
    run_t *run = start_run("random");
    long n = soak(RANDOM_KILLS), i;

    apr_sleep(100000);
    for (i = 0; i < n; i++)
        random_kill(run);
    finish_run(run, "random kills");
}
END_TEST

/* The points where a death leaves the most behind. */
static const char *const lock_and_table_points[] = {
    "lock.wr.held",             /* holding the write lock */
    "lock.wr.claimed",          /* writer word taken, readers draining */
    "lock.rd.held",             /* holding a read lock */
    "table.set.allocated",      /* a set that has allocated, not linked */
    "table.set.filled",
    "table.set.linked",
    "table.evict.chosen",       /* in the middle of an eviction */
    "table.unlinked",           /* entry unlinked, not yet freed */
    NULL
};

START_TEST(workers_killed_at_each_lock_and_table_fault_point_are_recovered)
{
    run_t *run = start_run("points");
    long rounds = soak(FAULT_ROUNDS * 4) / 4, i;
    shmcache_stats_t st;
    unsigned writes = 0, reads = 0;
    int k;

    apr_sleep(100000);
    for (i = 0; i < rounds; i++) {
        for (k = 0; lock_and_table_points[k] != NULL; k++) {
            const char *name = lock_and_table_points[k];
            int hit = fault_kill(run, name, next_rand(&run->seed) % 8);
            ck_assert_msg(hit, "%s was never reached", name);
            if (strncmp(name, "lock.rd", 7) == 0)
                reads++;
            else
                writes++;
            random_kill(run);
        }
    }
    th_ok(shmcache_stats(run->cache, &st));
    /* each death under the write lock is taken over exactly once */
    ck_assert_uint_ge(st.lock_recoveries, writes);
    ck_assert_uint_ge(st.dead_readers, reads);
    finish_run(run, "fault points");
}
END_TEST

START_TEST(processes_killed_while_claiming_a_slot_do_not_use_up_the_slots)
{
    run_t *run = start_run("claims");
    long i, n = soak(40) / 4 + 30;   /* more than the 32 slots */

    for (i = 0; i < n; i++)
        ck_assert(fault_kill(run, "lock.attach.claiming", 0));
    finish_run(run, "slot claims");
}
END_TEST

/* A creator stopped at point `name` and killed there leaves a path that
 * the next opener can create and use. */
static void creator_dies_at(const char *name)
{
    const char *path = th_path("create"), *file = th_path("fault");
    const char *args[5] = {path, name, "0", file, NULL};
    shmcache_options_t o;
    shmcache_t *c;
    apr_proc_t p;
    apr_finfo_t fi;
    char why[256];

    th_spawn(&p, "creator", args);
    ck_assert_msg(reached(file, 10000), "%s was never reached", name);
    kill_and_reap(&p);
    th_status(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_ENOENT);
    options(&o);
    th_ok(shmcache_open(&c, path, &o, th_pool));
    th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
    ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS, "%s", why);
    th_ok(shmcache_close(c));
    /* the dead creator's half-built file is gone */
    th_status(apr_stat(&fi, apr_psprintf(th_pool, "%s.init.%d", path,
                                         (int)p.pid), APR_FINFO_TYPE, th_pool),
              APR_ENOENT);
}

START_TEST(creator_killed_while_creating_the_segment_leaves_a_usable_path)
{
    long i, n = soak(12) / 12 + 2;

    for (i = 0; i < n; i++) {
        creator_dies_at("segment.create.init");
        creator_dies_at("segment.create.ready");
    }
}
END_TEST

START_TEST(a_live_creator_stopped_half_way_does_not_block_another_opener)
{
    const char *path = th_path("create"), *file = th_path("fault");
    const char *args[5] = {path, "segment.create.init", "0", file, NULL};
    shmcache_options_t o;
    shmcache_t *c;
    apr_proc_t p;

    th_spawn(&p, "creator", args);
    ck_assert(reached(file, 10000));
    options(&o);
    th_ok(shmcache_open(&c, path, &o, th_pool));   /* while it is alive */
    th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
    kill_and_reap(&p);
    th_ok(shmcache_check(c, NULL, 0));
    th_ok(shmcache_close(c));
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("crash");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, stats_name_the_processes_holding_read_locks);
    tcase_add_test(tc, gets_answer_without_the_lock_until_a_writer_changes_the_data);
    tcase_add_test(tc, a_writer_killed_inside_each_allocator_window_costs_no_other_entry);
    tcase_add_test(tc, workers_killed_at_random_moments_never_read_a_wrong_value);
    tcase_add_test(tc, workers_killed_at_each_lock_and_table_fault_point_are_recovered);
    tcase_add_test(tc, processes_killed_while_claiming_a_slot_do_not_use_up_the_slots);
    tcase_add_test(tc, creator_killed_while_creating_the_segment_leaves_a_usable_path);
    tcase_add_test(tc, a_live_creator_stopped_half_way_does_not_block_another_opener);
    suite_add_tcase(s, tc);
    return s;
}
