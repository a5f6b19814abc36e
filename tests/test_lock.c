/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_lock.c - the in-segment reader/writer lock (lock.h), on its own.
 *
 * The tests do not need the rest of the library: each one makes a plain
 * shared file mapping at a th_path() path holding a lock region
 * (sc_lock_region_size, sc_lock_init) followed by a small test area of
 * shared counters. Helper processes (this binary re-executed) map the same
 * file and attach their own handles. Holders are killed with SIGKILL or
 * stopped with SIGSTOP to show crash recovery and that a live holder is
 * never robbed. Lock timeouts are short (TIMEOUT_MS) to keep the suite
 * fast; a live holder is waited for 10 timeouts (lock.c LIVE_FACTOR). The
 * timed recovery tests use the default timeout (1000 ms) instead: dead
 * holders must cost the next locker well under it (RECOVERY_BOUND_MS), and
 * print what they measured.
 */
#include "harness.h"
#include "lock.h"
#include "os.h"

#include <apr_file_io.h>
#include <apr_mmap.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#ifndef SIGKILL
#define SIGKILL 9                  /* apr_proc_kill terminates on Windows */
#endif

#define TIMEOUT_MS 200u
#define LIVE_WAIT_MS (10u * TIMEOUT_MS)   /* lock.c LIVE_FACTOR */
#define WORDS 8

/* After the lock region, at a page boundary: what the tests share. */
typedef struct area_t {
    _Atomic uint32_t ready;        /* helpers attached and waiting */
    _Atomic uint32_t go;           /* parent: start */
    _Atomic uint32_t stop;         /* parent: stop looping */
    _Atomic uint32_t held;         /* helpers that hold the lock */
    _Atomic uint32_t inside;       /* readers inside a read section now */
    _Atomic uint32_t max_inside;   /* most readers inside at once */
    _Atomic uint32_t torn;         /* read sections that saw a torn state */
    _Atomic uint32_t recovered;    /* SC_LOCK_RECOVERED returns */
    _Atomic uint32_t failures;     /* other unexpected statuses */
    _Atomic uint32_t done;         /* helpers finished */
    _Atomic uint64_t reads;        /* read sections completed */
    _Atomic uint32_t child_slot;   /* fork test: the child's slot */
    _Atomic uint32_t child_rv;     /* fork test: the child's statuses */
    uint64_t counter;              /* plain: written under the write lock */
    uint64_t words[WORDS];         /* all == counter, under the write lock */
} area_t;

/* One mapping of a test lock file. */
typedef struct map_t {
    apr_file_t *file;
    apr_mmap_t *mm;
    sc_lock_sh_t *sh;
    area_t *area;
} map_t;

static apr_uint64_t area_offset(apr_uint32_t nslots)
{
    return (sc_lock_region_size(nslots) + 4095) & ~(apr_uint64_t)4095;
}

/* Map path (create it for nslots first when nslots != 0). */
static apr_status_t map_open(map_t *m, const char *path, apr_uint32_t nslots,
                             apr_pool_t *pool)
{
    apr_int32_t flags = APR_FOPEN_READ | APR_FOPEN_WRITE;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_uint64_t size = area_offset(nslots) + sizeof(area_t);

    if (nslots != 0)
        flags |= APR_FOPEN_CREATE | APR_FOPEN_EXCL;
    rv = apr_file_open(&m->file, path, flags, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                       pool);
    if (rv == APR_SUCCESS && nslots != 0)
        rv = apr_file_trunc(m->file, (apr_off_t)size);
    if (rv == APR_SUCCESS)
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, m->file);
    if (rv == APR_SUCCESS)
        rv = apr_mmap_create(&m->mm, m->file, 0, (apr_size_t)fi.size,
                             APR_MMAP_READ | APR_MMAP_WRITE, pool);
    if (rv != APR_SUCCESS)
        return rv;
    m->sh = m->mm->mm;
    if (nslots != 0)
        sc_lock_init(m->sh, nslots);
    m->area = (area_t *)((char *)m->mm->mm + area_offset(m->sh->nslots));
    return APR_SUCCESS;
}

/* A fresh lock file for the current test. */
static map_t *make_lock(const char *tag, apr_uint32_t nslots, const char **path)
{
    map_t *m = apr_pcalloc(th_pool, sizeof *m);

    *path = th_path(tag);
    th_ok(map_open(m, *path, nslots, th_pool));
    return m;
}

static sc_lock_t *attach_ok(map_t *m, apr_uint32_t timeout_ms)
{
    sc_lock_t *l = apr_pcalloc(th_pool, sizeof *l);

    th_ok(sc_lock_attach(l, m->sh, m->sh->nslots, timeout_ms));
    return l;
}

/* Loads for assertions (so a failure message shows the expression). */
static uint32_t u32(_Atomic uint32_t *v)
{
    return atomic_load(v);
}

static uint64_t u64(_Atomic uint64_t *v)
{
    return atomic_load(v);
}

static apr_uint32_t ms_since(apr_time_t t0)
{
    return (apr_uint32_t)((apr_time_now() - t0) / 1000);
}

/* Poll until *v >= want; 1 if it got there within limit_ms. */
static int wait_for(_Atomic uint32_t *v, uint32_t want, apr_uint32_t limit_ms)
{
    apr_time_t end = apr_time_now() + (apr_time_t)limit_ms * 1000;

    while (atomic_load(v) < want)
        if (apr_time_now() > end)
            return 0;
        else
            apr_sleep(1000);
    return 1;
}

static void note_max(_Atomic uint32_t *max, uint32_t v)
{
    uint32_t cur = atomic_load(max);

    while (v > cur && !atomic_compare_exchange_weak(max, &cur, v))
        ;
}

static void spawn(apr_proc_t *p, const char *helper, const char *path,
                  const char *a1, const char *a2, const char *a3)
{
    const char *args[6] = {path, a1, a2, a3, NULL};
    th_spawn(p, helper, args);
}

static void kill_and_reap(apr_proc_t *p, int sig)
{
    apr_proc_kill(p, sig);
    th_wait(p);
}

static const char *num(long v)
{
    return apr_ltoa(th_pool, v);
}

/* ---------------------------------------------------------------------
 * Critical sections shared by threads and helper processes
 * ------------------------------------------------------------------- */

/* Under the write lock: bump counter and every word, one at a time, so a
 * reader without exclusion would see them differ. */
static void write_section(area_t *a)
{
    uint64_t v = a->counter;
    int i;

    for (i = 0; i < WORDS; i++) {
        a->words[i] = v + 1;
        atomic_signal_fence(memory_order_seq_cst);
    }
    a->counter = v + 1;
}

/* Under the read lock: all words equal the counter. */
static void read_section(area_t *a)
{
    uint64_t v = a->counter;
    int i;

    for (i = 0; i < WORDS; i++)
        if (a->words[i] != v)
            atomic_fetch_add(&a->torn, 1);
    atomic_fetch_add(&a->reads, 1);
}

/* Take the write lock, treating a recovery as success after counting it. */
static apr_status_t wrlock_counting(sc_lock_t *l, area_t *a)
{
    apr_status_t rv = sc_lock_wrlock(l);

    if (rv == SC_LOCK_RECOVERED) {
        atomic_fetch_add(&a->recovered, 1);
        rv = APR_SUCCESS;
    }
    return rv;
}

/* Take the read lock; a recovery (write lock held) is counted, released,
 * and the read lock asked for again. */
static apr_status_t rdlock_counting(sc_lock_t *l, area_t *a)
{
    apr_status_t rv;

    while ((rv = sc_lock_rdlock(l)) == SC_LOCK_RECOVERED) {
        atomic_fetch_add(&a->recovered, 1);
        sc_lock_wrunlock(l);
    }
    return rv;
}

typedef struct worker_t {
    sc_lock_t *lock;
    area_t *area;
    long iterations;               /* writers: sections to do */
    apr_interval_time_t hold_us;   /* readers: time inside */
} worker_t;

static void *APR_THREAD_FUNC writer_thread(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    long i;

    for (i = 0; i < w->iterations; i++) {
        if (wrlock_counting(w->lock, w->area) != APR_SUCCESS) {
            atomic_fetch_add(&w->area->failures, 1);
            continue;
        }
        write_section(w->area);
        sc_lock_wrunlock(w->lock);
    }
    return NULL;
}

/* Reads until told to stop, and at least MIN_READS times (so that on a
 * loaded machine the readers still overlap the writers). */
#define MIN_READS 200

static void *APR_THREAD_FUNC reader_thread(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    long n;

    for (n = 0; n < MIN_READS || !atomic_load(&w->area->stop); n++) {
        if (rdlock_counting(w->lock, w->area) != APR_SUCCESS) {
            atomic_fetch_add(&w->area->failures, 1);
            continue;
        }
        read_section(w->area);
        if (w->hold_us > 0)
            apr_sleep(w->hold_us);
        sc_lock_rdunlock(w->lock);
    }
    return NULL;
}

/* Run nw writer threads and nr reader threads on one handle; readers stop
 * when the writers are done (or when area->stop is set elsewhere). */
static void run_threads(sc_lock_t *l, area_t *a, int nw, int nr, long iters,
                        apr_interval_time_t hold_us, apr_pool_t *pool)
{
    apr_thread_t *t[16];
    worker_t w = {l, a, iters, hold_us};
    apr_status_t trv;
    int i;

    for (i = 0; i < nr; i++)
        apr_thread_create(&t[nw + i], NULL, reader_thread, &w, pool);
    for (i = 0; i < nw; i++)
        apr_thread_create(&t[i], NULL, writer_thread, &w, pool);
    for (i = 0; i < nw; i++)
        apr_thread_join(&trv, t[i]);
    if (nw > 0)
        atomic_store(&a->stop, 1);
    for (i = 0; i < nr; i++)
        apr_thread_join(&trv, t[nw + i]);
}

/* ---------------------------------------------------------------------
 * Helpers (child processes): argv[0] is the lock file path
 * ------------------------------------------------------------------- */

static int helper_attach(map_t *m, sc_lock_t *l, const char *const *argv,
                         apr_uint32_t timeout_ms)
{
    if (map_open(m, argv[0], 0, th_pool) != APR_SUCCESS)
        return 0;
    return sc_lock_attach(l, m->sh, m->sh->nslots, timeout_ms) == APR_SUCCESS;
}

static void sleep_forever(void)
{
    for (;;)
        apr_sleep(apr_time_from_sec(60));
}

/* Take the lock (argv[1] "r" or "w"), say so, and keep it until killed. */
static int h_hold(int argc, const char *const *argv)
{
    map_t m;
    sc_lock_t l;
    apr_status_t rv;

    if (argc < 2 || !helper_attach(&m, &l, argv, 60000))
        return 2;
    rv = argv[1][0] == 'w' ? sc_lock_wrlock(&l) : sc_lock_rdlock(&l);
    if (rv != APR_SUCCESS)
        return 3;
    atomic_fetch_add(&m.area->held, 1);
    sleep_forever();
    return 0;
}

/* Read-lock, then wait inside until the other reader is inside too. */
static int h_overlap(int argc, const char *const *argv)
{
    map_t m;
    sc_lock_t l;
    uint32_t in;

    if (!helper_attach(&m, &l, argv, 60000))
        return 2;
    if (sc_lock_rdlock(&l) != APR_SUCCESS)
        return 3;
    in = atomic_fetch_add(&m.area->inside, 1) + 1;
    note_max(&m.area->max_inside, in);
    wait_for(&m.area->inside, 2, 10000);
    note_max(&m.area->max_inside, atomic_load(&m.area->inside));
    atomic_fetch_add(&m.area->done, 1);
    wait_for(&m.area->done, 2, 10000);   /* stay until both have looked */
    atomic_fetch_sub(&m.area->inside, 1);
    sc_lock_rdunlock(&l);
    return 0;
}

/* argv[1] writer threads x argv[2] sections, argv[3] reader threads. */
static int h_hammer(int argc, const char *const *argv)
{
    map_t m;
    sc_lock_t l;

    if (argc < 4 || !helper_attach(&m, &l, argv, 60000))
        return 2;
    atomic_fetch_add(&m.area->ready, 1);
    wait_for(&m.area->go, 1, 30000);
    run_threads(&l, m.area, atoi(argv[1]), atoi(argv[3]), atol(argv[2]), 0,
                th_pool);
    sc_lock_detach(&l);
    return atomic_load(&m.area->failures) == 0 ? 0 : 4;
}

/* argv[1] reader threads, each holding argv[2] us, until area->stop. */
static int h_stream(int argc, const char *const *argv)
{
    map_t m;
    sc_lock_t l;

    if (argc < 3 || !helper_attach(&m, &l, argv, 60000))
        return 2;
    atomic_fetch_add(&m.area->ready, 1);
    run_threads(&l, m.area, 0, atoi(argv[1]), 0, atol(argv[2]), th_pool);
    return 0;
}

/* Take the lock once (argv[1] "r" or "w") after area->go, counting a
 * recovery; then release it. */
static int h_contend(int argc, const char *const *argv)
{
    map_t m;
    sc_lock_t l;
    apr_status_t rv;

    if (argc < 2 || !helper_attach(&m, &l, argv, TIMEOUT_MS))
        return 2;
    atomic_fetch_add(&m.area->ready, 1);
    wait_for(&m.area->go, 1, 30000);
    if (argv[1][0] == 'w') {
        rv = wrlock_counting(&l, m.area);
        if (rv == APR_SUCCESS)
            sc_lock_wrunlock(&l);
    } else {
        rv = rdlock_counting(&l, m.area);
        if (rv == APR_SUCCESS)
            sc_lock_rdunlock(&l);
    }
    sc_lock_detach(&l);
    return rv == APR_SUCCESS ? 0 : 5;
}

/* Attach argv[1] handles, say so, and sleep until killed. */
static int h_attach_many(int argc, const char *const *argv)
{
    map_t m;
    sc_lock_t l[16];
    int i, n = argc > 1 ? atoi(argv[1]) : 1;

    if (map_open(&m, argv[0], 0, th_pool) != APR_SUCCESS || n > 16)
        return 2;
    for (i = 0; i < n; i++)
        if (sc_lock_attach(&l[i], m.sh, m.sh->nslots, 60000) != APR_SUCCESS)
            return 3;
    atomic_fetch_add(&m.area->held, 1);
    sleep_forever();
    return 0;
}

/* Exit at once: gives the tests the pid of a dead process. */
static int h_exit(int argc, const char *const *argv)
{
    return 0;
}

const th_helper_t test_helpers[] = {
    {"hold", h_hold},
    {"overlap", h_overlap},
    {"hammer", h_hammer},
    {"stream", h_stream},
    {"contend", h_contend},
    {"attach_many", h_attach_many},
    {"exit", h_exit},
    {NULL, NULL}
};

/* ---------------------------------------------------------------------
 * Basics
 * ------------------------------------------------------------------- */

START_TEST(region_is_whole_cache_lines_and_starts_free)
{
    const char *path;
    map_t *m = make_lock("basic", 16, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    sc_lock_stats_t st;

    ck_assert_uint_eq(sizeof(sc_slot_sh_t), SC_CACHE_LINE);
    ck_assert_uint_eq(sc_lock_region_size(16) % SC_CACHE_LINE, 0);
    ck_assert_uint_eq(sc_lock_region_size(16),
                      sizeof(sc_lock_sh_t) + 16 * SC_CACHE_LINE);
    ck_assert_uint_eq(m->sh->nslots, 16);
    sc_lock_stats(l, &st);
    ck_assert_uint_eq(st.attached, 1);
    ck_assert_uint_eq(st.readers, 0);
    ck_assert_uint_eq(st.writer_pid, 0);
    ck_assert_uint_eq(st.recoveries + st.dead_readers, 0);
}
END_TEST

START_TEST(attach_claims_distinct_slots_and_detach_frees_them)
{
    const char *path;
    map_t *m = make_lock("slots", 8, &path);
    sc_lock_t *a = attach_ok(m, TIMEOUT_MS), *b = attach_ok(m, TIMEOUT_MS);
    sc_lock_t *c = attach_ok(m, TIMEOUT_MS), *d;

    ck_assert_uint_ne(a->slot, b->slot);
    ck_assert_uint_ne(b->slot, c->slot);
    ck_assert_uint_ne(a->slot, c->slot);
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, NULL), 3);
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, a), 2);
    sc_lock_detach(b);
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, NULL), 2);
    ck_assert_uint_eq(u32(&m->sh->hwm), 3);
    d = attach_ok(m, TIMEOUT_MS);
    ck_assert_uint_lt(d->slot, 3);      /* the freed slot is reused */
    ck_assert_ptr_eq(sc_lock_my_slot(d), &d->slots[d->slot]);
}
END_TEST

START_TEST(bad_slot_count_in_the_region_is_refused)
{
    const char *path;
    map_t *m = make_lock("badslots", 8, &path);
    sc_lock_t l;

    m->sh->nslots = 0;
    th_status(sc_lock_attach(&l, m->sh, m->sh->nslots, TIMEOUT_MS), SHMCACHE_ECORRUPT);
    m->sh->nslots = SHMCACHE_LIMIT_SLOTS + 1;
    th_status(sc_lock_attach(&l, m->sh, m->sh->nslots, TIMEOUT_MS), SHMCACHE_ECORRUPT);
}
END_TEST

START_TEST(uncontended_locking_never_sleeps_or_counts_a_wait)
{
    const char *path;
    map_t *m = make_lock("uncontended", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    sc_lock_stats_t st;
    int i;

    for (i = 0; i < 10000; i++) {
        th_ok(sc_lock_rdlock(l));
        th_ok(sc_lock_rdlock(l));       /* nested reads of one thread */
        sc_lock_rdunlock(l);
        sc_lock_rdunlock(l);
        th_ok(sc_lock_wrlock(l));
        sc_lock_wrunlock(l);
    }
    sc_lock_stats(l, &st);
    ck_assert_uint_eq(st.read_waits + st.write_waits, 0);
    ck_assert_uint_eq(st.readers, 0);
    ck_assert_uint_eq(u32(&m->sh->writer), 0);
    ck_assert_uint_eq(u32(&m->sh->writer_sleepers) + u32(&m->sh->drain_sleepers), 0);
}
END_TEST

/* The write sequence of optimistic reads: even with no writer, odd only
 * while a writer holds the lock (a reader never moves it), and every
 * write hold moves it, so a read that saw one value before and after
 * cannot have overlapped a writer. */
START_TEST(the_write_sequence_is_odd_exactly_while_a_writer_holds)
{
    const char *path;
    map_t *m = make_lock("seq", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS), *r = attach_ok(m, TIMEOUT_MS);
    uint64_t s0 = sc_lock_seq_begin(r), s1, s2;

    ck_assert_uint_eq(s0 & 1u, 0);
    ck_assert(sc_lock_seq_valid(r, s0));
    th_ok(sc_lock_rdlock(l));
    sc_lock_rdunlock(l);
    ck_assert(sc_lock_seq_valid(r, s0));    /* readers do not move it */
    th_ok(sc_lock_wrlock(l));
    s1 = sc_lock_seq_begin(r);
    ck_assert_uint_eq(s1 & 1u, 1);
    ck_assert(!sc_lock_seq_valid(r, s0));
    ck_assert(!sc_lock_seq_valid(r, s1));   /* odd is never valid */
    sc_lock_wrunlock(l);
    s2 = sc_lock_seq_begin(r);
    ck_assert_uint_eq(s2 & 1u, 0);
    ck_assert_uint_ne(s2, s0);
    ck_assert(sc_lock_seq_valid(r, s2));
    ck_assert_uint_eq(sc_lock_seq_settle(r), s2);
    /* a second writer's hold moves it again */
    th_ok(sc_lock_wrlock(r));
    sc_lock_wrunlock(r);
    ck_assert(!sc_lock_seq_valid(l, s2));
}
END_TEST

START_TEST(stats_name_the_writer_and_count_the_readers)
{
    const char *path;
    map_t *m = make_lock("stats", 8, &path);
    sc_lock_t *a = attach_ok(m, TIMEOUT_MS), *b = attach_ok(m, TIMEOUT_MS);
    sc_lock_stats_t st;

    th_ok(sc_lock_rdlock(a));
    th_ok(sc_lock_rdlock(b));
    sc_lock_stats(a, &st);
    ck_assert_uint_eq(st.readers, 2);
    sc_lock_rdunlock(a);
    sc_lock_rdunlock(b);
    th_ok(sc_lock_wrlock(b));
    sc_lock_stats(a, &st);
    ck_assert_uint_eq(st.writer_pid, b->self.pid);
    sc_lock_wrunlock(b);
    atomic_fetch_add(&sc_lock_my_slot(a)->hits, 5);
    atomic_fetch_add(&sc_lock_my_slot(a)->misses, 3);
    sc_lock_detach(a);                  /* its counters are retired */
    sc_lock_stats(b, &st);
    ck_assert_uint_eq(st.hits, 5);
    ck_assert_uint_eq(st.misses, 3);
    ck_assert_uint_eq(st.attached, 1);
}
END_TEST

/* ---------------------------------------------------------------------
 * Sharing and exclusion
 * ------------------------------------------------------------------- */

START_TEST(readers_in_two_processes_hold_the_lock_at_once)
{
    const char *path;
    map_t *m = make_lock("overlap", 8, &path);
    apr_proc_t p1, p2;

    spawn(&p1, "overlap", path, NULL, NULL, NULL);
    spawn(&p2, "overlap", path, NULL, NULL, NULL);
    ck_assert_int_eq(th_wait(&p1), 0);
    ck_assert_int_eq(th_wait(&p2), 0);
    ck_assert_uint_eq(u32(&m->area->max_inside), 2);
}
END_TEST

START_TEST(writer_excludes_readers_and_writers_across_processes_and_threads)
{
    const char *path;
    map_t *m = make_lock("hammer", 16, &path);
    apr_proc_t p[3];
    long iters = th_env_long("SHMCACHE_LOCK_ITERS", 3000);
    int i;

    for (i = 0; i < 3; i++)
        spawn(&p[i], "hammer", path, "2", num(iters), "1");
    ck_assert(wait_for(&m->area->ready, 3, 30000));
    atomic_store(&m->area->go, 1);
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(th_wait(&p[i]), 0);
    ck_assert_uint_eq(m->area->counter, 3 * 2 * (uint64_t)iters);
    ck_assert_uint_eq(u32(&m->area->torn), 0);
    ck_assert_uint_gt(u64(&m->area->reads), 0);
    ck_assert_uint_eq(u32(&m->sh->writer), 0);
}
END_TEST

START_TEST(threads_sharing_one_handle_exclude_each_other)
{
    const char *path;
    map_t *m = make_lock("threads", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    long iters = th_env_long("SHMCACHE_LOCK_ITERS", 3000);

    run_threads(l, m->area, 4, 3, iters, 0, th_pool);
    ck_assert_uint_eq(m->area->counter, 4 * (uint64_t)iters);
    ck_assert_uint_eq(u32(&m->area->torn), 0);
    ck_assert_uint_eq(u32(&m->area->failures), 0);
    ck_assert_uint_eq(u32(&sc_lock_my_slot(l)->readers), 0);
}
END_TEST

START_TEST(writer_behind_a_stream_of_readers_gets_in_within_a_bound)
{
    const char *path;
    map_t *m = make_lock("fair", 8, &path);
    sc_lock_t *l = attach_ok(m, 60000);
    apr_proc_t p1, p2;
    apr_uint32_t worst = 0, ms;
    uint64_t before;
    int i;

    /* 2 processes x 2 threads, each holding the read lock 2 ms at a time,
     * back to back: some reader always holds it */
    spawn(&p1, "stream", path, "2", "2000", NULL);
    spawn(&p2, "stream", path, "2", "2000", NULL);
    ck_assert(wait_for(&m->area->ready, 2, 30000));
    apr_sleep(100000);
    before = atomic_load(&m->area->reads);
    for (i = 0; i < 20; i++) {
        apr_time_t t0 = apr_time_now();
        th_ok(sc_lock_wrlock(l));
        ms = ms_since(t0);
        write_section(m->area);
        sc_lock_wrunlock(l);
        worst = ms > worst ? ms : worst;
        apr_sleep(5000);
    }
    /* the readers kept going between the writes */
    ck_assert_uint_ge(u64(&m->area->reads), before + 20);
    atomic_store(&m->area->stop, 1);
    ck_assert_int_eq(th_wait(&p1), 0);
    ck_assert_int_eq(th_wait(&p2), 0);
    /* a read section is 2 ms: the writer waits for the ones in progress */
    ck_assert_msg(worst < 1000, "writer waited %u ms", worst);
    ck_assert_uint_eq(u32(&m->area->torn), 0);
}
END_TEST

/* Take the write lock with l, start a helper reader on the lock at path,
 * and return once it has gone to sleep behind the writer (plus settle_ms
 * for it to be well inside its sleep). */
static void reader_asleep_behind(sc_lock_t *l, map_t *m, const char *path,
                                 apr_proc_t *p, int settle_ms)
{
    th_ok(sc_lock_wrlock(l));
    spawn(p, "hold", path, "r", NULL, NULL);
    while (atomic_load(&m->sh->writer_sleepers) == 0)
        apr_sleep(1000);
    apr_sleep(apr_time_from_msec(settle_ms));
}

START_TEST(waiters_wake_promptly_when_the_writer_unlocks)
{
    const char *path;
    map_t *m = make_lock("wake", 8, &path);
    sc_lock_t *l = attach_ok(m, 60000);
    apr_proc_t p;
    apr_time_t t0;
    apr_uint32_t ms;

    /* the helper's timeout is 60 s, so it sleeps in 1 s slices: without a
     * wake it would get the lock about a second after it fell asleep */
    reader_asleep_behind(l, m, path, &p, 100);
    t0 = apr_time_now();
    sc_lock_wrunlock(l);
    ck_assert(wait_for(&m->area->held, 1, 5000));
    ms = ms_since(t0);
    kill_and_reap(&p, SIGKILL);
    ck_assert_msg(ms < 400, "woken after %u ms", ms);
}
END_TEST

/* ---------------------------------------------------------------------
 * Crash recovery
 * ------------------------------------------------------------------- */

START_TEST(reader_killed_while_holding_is_dropped_after_the_timeout)
{
    const char *path;
    map_t *m = make_lock("deadreader", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    sc_lock_stats_t st;
    apr_proc_t p;
    apr_time_t t0;
    apr_uint32_t ms;

    spawn(&p, "hold", path, "r", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    kill_and_reap(&p, SIGKILL);
    t0 = apr_time_now();
    th_ok(sc_lock_wrlock(l));           /* dead readers need no repair */
    ms = ms_since(t0);
    sc_lock_wrunlock(l);
    ck_assert_msg(ms < 3 * TIMEOUT_MS + 200, "blocked %u ms", ms);
    sc_lock_stats(l, &st);
    ck_assert_uint_eq(st.dead_readers, 1);
    ck_assert_uint_eq(st.recoveries, 0);
    ck_assert_uint_eq(st.readers, 0);
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, l), 0);
}
END_TEST

START_TEST(writer_killed_while_holding_is_recovered_by_exactly_one_taker)
{
    const char *path;
    map_t *m = make_lock("deadwriter", 16, &path);
    sc_lock_t *l;
    sc_lock_stats_t st;
    apr_proc_t holder, c[4];
    apr_time_t t0;
    int i;

    spawn(&holder, "hold", path, "w", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    for (i = 0; i < 4; i++)
        spawn(&c[i], "contend", path, i % 2 ? "w" : "r", NULL, NULL);
    ck_assert(wait_for(&m->area->ready, 4, 30000));
    atomic_store(&m->area->go, 1);
    apr_sleep(50000);                   /* the contenders are waiting */
    t0 = apr_time_now();
    kill_and_reap(&holder, SIGKILL);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(th_wait(&c[i]), 0);
    ck_assert_uint_lt(ms_since(t0), 3 * TIMEOUT_MS + 500);
    ck_assert_uint_eq(u32(&m->area->recovered), 1);
    l = attach_ok(m, TIMEOUT_MS);
    sc_lock_stats(l, &st);
    ck_assert_uint_eq(st.recoveries, 1);
    ck_assert_uint_eq(st.writer_pid, 0);
    th_ok(sc_lock_wrlock(l));
    sc_lock_wrunlock(l);
    ck_assert_uint_eq(u32(&m->sh->writer_sleepers) + u32(&m->sh->drain_sleepers), 0);
}
END_TEST

START_TEST(a_killed_writer_not_yet_reaped_is_recovered)
{
    const char *path;
    map_t *m = make_lock("zombie", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    apr_proc_t holder;
    apr_time_t t0;

    spawn(&holder, "hold", path, "w", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    /* killed but not waited for: a zombie still answers kill(pid, 0) and
     * keeps its start time, yet holds nothing (Windows: the process object
     * lives on while our handle to it is open) */
    apr_proc_kill(&holder, SIGKILL);
    apr_sleep(100000);
    t0 = apr_time_now();
    th_status(sc_lock_wrlock(l), SC_LOCK_RECOVERED);
    sc_lock_wrunlock(l);
    ck_assert_uint_lt(ms_since(t0), 3 * TIMEOUT_MS + 500);
    th_wait(&holder);
}
END_TEST

START_TEST(writer_killed_while_draining_readers_is_recovered)
{
    const char *path;
    map_t *m = make_lock("drainkill", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    apr_proc_t p;

    th_ok(sc_lock_rdlock(l));
    spawn(&p, "hold", path, "w", NULL, NULL);
    while (atomic_load(&m->sh->writer) == 0)   /* claimed, now draining */
        apr_sleep(1000);
    kill_and_reap(&p, SIGKILL);
    sc_lock_rdunlock(l);
    th_status(sc_lock_wrlock(l), SC_LOCK_RECOVERED);
    sc_lock_wrunlock(l);
    th_ok(sc_lock_rdlock(l));
    sc_lock_rdunlock(l);
    ck_assert_uint_eq(u64(&m->sh->recoveries), 1);
}
END_TEST

START_TEST(reader_finds_a_dead_writer_and_gets_the_write_lock_to_repair)
{
    const char *path;
    map_t *m = make_lock("rdrecover", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    apr_proc_t p;

    spawn(&p, "hold", path, "w", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    kill_and_reap(&p, SIGKILL);
    th_status(sc_lock_rdlock(l), SC_LOCK_RECOVERED);
    ck_assert_uint_eq(u32(&m->sh->writer), l->slot + 1);   /* write lock held */
    sc_lock_wrunlock(l);
    th_ok(sc_lock_rdlock(l));
    sc_lock_rdunlock(l);
}
END_TEST

/* With the default lock timeout, dead holders cost the next locker
 * milliseconds, not a timeout each: a dead process is seen dead at once.
 * The bound is the library's target, not a tolerance. */
#define RECOVERY_BOUND_MS 250u

/* Start `readers` helpers holding read locks and, with writer, one that
 * claims the writer word behind them (or holds it, with no readers); kill
 * them all, the writer first. Then time, on a fresh handle with the
 * default timeout, the write lock (or the read lock, with read); *rv
 * receives its status, the lock is released. Returns the time in ms. */
static apr_uint32_t lock_after_deaths(map_t *m, const char *path, int readers,
                                      int writer, int read, apr_status_t *rv)
{
    apr_proc_t p[8];
    sc_lock_t *l;
    apr_time_t t0;
    apr_uint32_t ms;
    int i, n = 0;

    for (i = 0; i < readers; i++)
        spawn(&p[n++], "hold", path, "r", NULL, NULL);
    ck_assert(wait_for(&m->area->held, (uint32_t)readers, 10000));
    if (writer) {
        spawn(&p[n++], "hold", path, "w", NULL, NULL);
        t0 = apr_time_now();
        while (atomic_load(&m->sh->writer) == 0 && ms_since(t0) < 10000)
            apr_sleep(1000);               /* claimed: held or draining */
        ck_assert_uint_ne(u32(&m->sh->writer), 0);
    }
    for (i = n - 1; i >= 0; i--)
        kill_and_reap(&p[i], SIGKILL);
    l = attach_ok(m, SHMCACHE_DEFAULT_LOCK_TIMEOUT_MS);
    t0 = apr_time_now();
    *rv = read ? sc_lock_rdlock(l) : sc_lock_wrlock(l);
    ms = ms_since(t0);
    if (*rv == SC_LOCK_RECOVERED || (*rv == APR_SUCCESS && !read))
        sc_lock_wrunlock(l);
    else if (*rv == APR_SUCCESS)
        sc_lock_rdunlock(l);
    return ms;
}

static void print_recovery(const char *what, apr_uint32_t ms)
{
    printf("lock recovery, %s: %u ms (bound %u ms, lock timeout %u ms)\n",
           what, ms, RECOVERY_BOUND_MS, SHMCACHE_DEFAULT_LOCK_TIMEOUT_MS);
    fflush(stdout);
}

START_TEST(dead_writer_costs_the_next_writer_milliseconds)
{
    const char *path;
    map_t *m = make_lock("fastwriter", 8, &path);
    apr_status_t rv;
    apr_uint32_t ms = lock_after_deaths(m, path, 0, 1, 0, &rv);

    print_recovery("one dead writer, next write lock", ms);
    th_status(rv, SC_LOCK_RECOVERED);
    ck_assert_msg(ms < RECOVERY_BOUND_MS, "took %u ms", ms);
}
END_TEST

START_TEST(dead_writer_costs_the_next_reader_milliseconds)
{
    const char *path;
    map_t *m = make_lock("fastreader", 8, &path);
    apr_status_t rv;
    apr_uint32_t ms = lock_after_deaths(m, path, 0, 1, 1, &rv);

    print_recovery("one dead writer, next read lock", ms);
    th_status(rv, SC_LOCK_RECOVERED);
    ck_assert_msg(ms < RECOVERY_BOUND_MS, "took %u ms", ms);
}
END_TEST

START_TEST(dead_reader_costs_the_next_writer_milliseconds)
{
    const char *path;
    map_t *m = make_lock("fastdrain", 8, &path);
    apr_status_t rv;
    apr_uint32_t ms = lock_after_deaths(m, path, 1, 0, 0, &rv);

    print_recovery("one dead reader, next write lock", ms);
    th_ok(rv);
    ck_assert_uint_eq(u64(&m->sh->dead_readers), 1);
    ck_assert_msg(ms < RECOVERY_BOUND_MS, "took %u ms", ms);
}
END_TEST

START_TEST(three_dead_readers_and_a_dead_writer_cost_the_next_writer_milliseconds)
{
    const char *path;
    map_t *m = make_lock("fastall", 8, &path);
    apr_status_t rv;
    apr_uint32_t ms = lock_after_deaths(m, path, 3, 1, 0, &rv);

    print_recovery("three dead readers and a dead writer, next write lock", ms);
    th_status(rv, SC_LOCK_RECOVERED);
    ck_assert_uint_eq(u64(&m->sh->dead_readers), 3);
    ck_assert_msg(ms < RECOVERY_BOUND_MS, "took %u ms", ms);
}
END_TEST

#ifdef SIGSTOP
START_TEST(stopped_writer_is_never_robbed)
{
    const char *path;
    map_t *m = make_lock("stopped", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    apr_proc_t p;
    apr_time_t t0;
    apr_uint32_t ms;

    spawn(&p, "hold", path, "w", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    apr_proc_kill(&p, SIGSTOP);
    t0 = apr_time_now();
    th_status(sc_lock_rdlock(l), SHMCACHE_ETIMEDOUT);
    ms = ms_since(t0);
    th_status(sc_lock_wrlock(l), SHMCACHE_ETIMEDOUT);
    ck_assert_uint_eq(u64(&m->sh->recoveries), 0);
    ck_assert_uint_ne(u32(&m->sh->writer), l->slot + 1);
    apr_proc_kill(&p, SIGCONT);
    kill_and_reap(&p, SIGKILL);
    ck_assert_msg(ms >= LIVE_WAIT_MS - 50 && ms < LIVE_WAIT_MS + 1000,
                  "gave up after %u ms", ms);
}
END_TEST
#endif

START_TEST(sleeping_reader_is_never_robbed)
{
    const char *path;
    map_t *m = make_lock("livereader", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    apr_proc_t p;

    spawn(&p, "hold", path, "r", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    th_status(sc_lock_wrlock(l), SHMCACHE_ETIMEDOUT);
    ck_assert_uint_eq(u64(&m->sh->dead_readers), 0);
    ck_assert_uint_eq(u32(&m->sh->writer), 0);        /* given back */
    th_ok(sc_lock_rdlock(l));                    /* readers still welcome */
    sc_lock_rdunlock(l);
    kill_and_reap(&p, SIGKILL);
}
END_TEST

START_TEST(reused_pid_with_another_start_time_counts_as_dead)
{
    const char *path;
    map_t *m = make_lock("reused", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    sc_slot_sh_t *fake = (sc_slot_sh_t *)(m->sh + 1);
    apr_uint32_t r = l->slot == 1 ? 2 : 1, w = r + 1;

    ck_assert_msg(l->self.start != 0, "sc_os_proc_self gave no start time:"
                  " pid reuse cannot be told apart");
    /* our pid, another start time, holding a read lock */
    fake[r].pid = l->self.pid;
    fake[r].start = l->self.start + 1;
    fake[r].readers = 1;
    fake[r].state = SC_SLOT_ACTIVE;
    m->sh->hwm = 4;
    th_ok(sc_lock_wrlock(l));
    sc_lock_wrunlock(l);
    ck_assert_uint_eq(u64(&m->sh->dead_readers), 1);
    ck_assert_uint_eq(fake[r].state, SC_SLOT_FREE);
    /* and one holding the write lock */
    fake[w].pid = l->self.pid;
    fake[w].start = l->self.start + 7;
    fake[w].state = SC_SLOT_ACTIVE;
    m->sh->writer = w + 1;
    th_status(sc_lock_rdlock(l), SC_LOCK_RECOVERED);
    sc_lock_wrunlock(l);
    ck_assert_uint_eq(u64(&m->sh->recoveries), 1);
    ck_assert_uint_eq(fake[w].state, SC_SLOT_FREE);
    /* the same pid with the right start time is alive */
    fake[w].pid = l->self.pid;
    fake[w].start = l->self.start;
    fake[w].state = SC_SLOT_ACTIVE;
    m->sh->writer = w + 1;
    th_status(sc_lock_rdlock(l), SHMCACHE_ETIMEDOUT);
}
END_TEST

START_TEST(full_slots_give_eslots_and_dead_slots_are_reclaimed)
{
    const char *path;
    map_t *m = make_lock("full", 8, &path);
    sc_lock_t extra;
    apr_proc_t p;
    int i;

    for (i = 0; i < 6; i++)
        attach_ok(m, TIMEOUT_MS);
    spawn(&p, "attach_many", path, "2", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    th_status(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS), SHMCACHE_ESLOTS);
    sc_lock_detach(&extra);             /* harmless on a failed handle */
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, NULL), 8);
    kill_and_reap(&p, SIGKILL);
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, NULL), 6);
    attach_ok(m, TIMEOUT_MS);
    attach_ok(m, TIMEOUT_MS);
    th_status(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS), SHMCACHE_ESLOTS);
    ck_assert_uint_eq(sc_lock_count_attached(m->sh, m->sh->nslots, NULL), 8);
}
END_TEST

START_TEST(dead_writers_slot_is_kept_until_its_lock_is_recovered)
{
    const char *path;
    map_t *m = make_lock("deadwslot", 8, &path);
    sc_lock_t *first = attach_ok(m, TIMEOUT_MS), extra;
    apr_proc_t p;
    int i;

    for (i = 0; i < 6; i++)
        attach_ok(m, TIMEOUT_MS);
    spawn(&p, "hold", path, "w", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    kill_and_reap(&p, SIGKILL);
    th_status(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS), SHMCACHE_ESLOTS);
    th_status(sc_lock_wrlock(first), SC_LOCK_RECOVERED);
    sc_lock_wrunlock(first);
    th_ok(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS));
}
END_TEST

START_TEST(slot_left_half_claimed_by_a_dead_process_is_reclaimed)
{
    const char *path;
    map_t *m = make_lock("halfclaim", 8, &path);
    sc_slot_sh_t *slots = (sc_slot_sh_t *)(m->sh + 1);
    sc_lock_t extra;
    apr_proc_t p;
    apr_time_t t0;
    int i;

    spawn(&p, "exit", path, NULL, NULL, NULL);
    ck_assert_int_eq(th_wait(&p), 0);
    for (i = 0; i < 6; i++)
        attach_ok(m, TIMEOUT_MS);
    /* slot 6: claimed by a process that died before writing its pid;
     * slot 7: by one that died after writing it */
    slots[6].state = SC_SLOT_CLAIMING;
    slots[7].state = SC_SLOT_CLAIMING;
    slots[7].pid = (apr_uint32_t)p.pid;
    slots[7].start = 1;
    t0 = apr_time_now();
    th_ok(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS));
    ck_assert_uint_ge(ms_since(t0), TIMEOUT_MS - 20);  /* after a grace */
    th_ok(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS));
    th_status(sc_lock_attach(&extra, m->sh, m->sh->nslots, TIMEOUT_MS), SHMCACHE_ESLOTS);
}
END_TEST

START_TEST(sleeper_count_of_a_killed_waiter_is_given_back_with_its_slot)
{
    const char *path;
    map_t *m = make_lock("sleepers", 8, &path);
    sc_lock_t *l = attach_ok(m, 60000);
    apr_proc_t p;
    int i;

    reader_asleep_behind(l, m, path, &p, 20);
    kill_and_reap(&p, SIGKILL);
    sc_lock_wrunlock(l);
    ck_assert_uint_eq(u32(&m->sh->writer_sleepers), 1);  /* leaked */
    for (i = 0; i < 6; i++)             /* fill up; the next reclaims */
        attach_ok(m, TIMEOUT_MS);
    attach_ok(m, TIMEOUT_MS);
    ck_assert_uint_eq(u32(&m->sh->writer_sleepers), 0);
}
END_TEST

#ifndef _WIN32
START_TEST(forked_child_gets_a_slot_of_its_own)
{
    const char *path;
    map_t *m = make_lock("fork", 8, &path);
    sc_lock_t *l = attach_ok(m, TIMEOUT_MS);
    sc_slot_sh_t *mine = sc_lock_my_slot(l);
    pid_t pid;
    int status = 0;

    th_ok(sc_lock_rdlock(l));           /* held across the fork */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        apr_status_t a, b;
        sc_lock_rdunlock(l);            /* the parent's hold: not ours */
        a = sc_lock_rdlock(l);
        atomic_store(&m->area->child_slot, l->slot);
        sc_lock_rdunlock(l);
        b = sc_lock_wrlock(l);          /* the parent reads: must wait */
        atomic_store(&m->area->child_rv, a == APR_SUCCESS
                     && b == SHMCACHE_ETIMEDOUT ? 1 : 2);
        sc_lock_detach(l);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_uint_eq(u32(&m->area->child_rv), 1);
    ck_assert_uint_ne(u32(&m->area->child_slot), l->slot);
    ck_assert_uint_eq(u32(&mine->readers), 1);
    ck_assert_uint_eq(u32(&mine->pid), (apr_uint32_t)getpid());
    ck_assert_uint_eq(u32(&mine->state), SC_SLOT_ACTIVE);
    sc_lock_rdunlock(l);
    th_ok(sc_lock_wrlock(l));
    sc_lock_wrunlock(l);
}
END_TEST
#endif

/* A read-only lock (a read-only handle's) claims no slot, refuses every
 * lock call, and writes not one byte of the region. */
START_TEST(read_only_lock_takes_no_slot_and_writes_nothing)
{
    const char *path;
    map_t *m = make_lock("ronly", 8, &path);
    apr_size_t len = (apr_size_t)sc_lock_region_size(8);
    void *before = apr_pmemdup(th_pool, m->sh, len);
    sc_lock_t ro;
    sc_proc_id_t who;
    sc_lock_stats_t st;
    uint64_t seq = 1;

    th_ok(sc_lock_attach_read_only(&ro, m->sh, m->sh->nslots, TIMEOUT_MS));
    th_status(sc_lock_rdlock(&ro), SHMCACHE_EREADONLY);
    th_status(sc_lock_wrlock(&ro), SHMCACHE_EREADONLY);
    th_status(sc_lock_self(&ro, &who), SHMCACHE_EREADONLY);
    ck_assert_ptr_null(sc_lock_my_slot(&ro));
    sc_lock_count_get(&ro, 1);
    sc_lock_rdunlock(&ro);
    sc_lock_wrunlock(&ro);
    th_ok(sc_lock_seq_await(&ro, apr_time_now() + 1000000, &seq));
    ck_assert_uint_eq(seq, u64(&m->sh->seq));
    ck_assert(sc_lock_seq_valid(&ro, seq));
    sc_lock_stats(&ro, &st);
    ck_assert_uint_eq(st.attached, 0);
    sc_lock_detach(&ro);
    ck_assert_int_eq(memcmp(before, m->sh, len), 0);
    th_status(sc_lock_attach_read_only(&ro, m->sh, 0, TIMEOUT_MS),
              SHMCACHE_ECORRUPT);
}
END_TEST

/* A reader that may not write cannot recover a writer's lock: a live
 * writer is waited for until the deadline (ETIMEDOUT), a dead one that
 * left the sequence odd is reported at once (EABANDONED), and after a
 * writable handle recovers it the reader reads again. */
START_TEST(read_only_reader_times_out_on_a_live_writer_and_reports_a_dead_one)
{
    const char *path;
    map_t *m = make_lock("roabandon", 8, &path);
    sc_lock_t *w = attach_ok(m, TIMEOUT_MS), ro;
    apr_proc_t holder;
    apr_time_t t0;
    uint64_t seq;

    th_ok(sc_lock_attach_read_only(&ro, m->sh, m->sh->nslots, TIMEOUT_MS));
    th_ok(sc_lock_wrlock(w));           /* a live writer: this process */
    t0 = apr_time_now();
    th_status(sc_lock_seq_await(&ro, t0 + TIMEOUT_MS * 1000, &seq),
              SHMCACHE_ETIMEDOUT);
    ck_assert_uint_ge(ms_since(t0), TIMEOUT_MS - 5);
    ck_assert_uint_lt(ms_since(t0), 3 * TIMEOUT_MS);
    sc_lock_wrunlock(w);
    th_ok(sc_lock_seq_await(&ro, apr_time_now() + 1000000, &seq));

    spawn(&holder, "hold", path, "w", NULL, NULL);
    ck_assert(wait_for(&m->area->held, 1, 10000));
    kill_and_reap(&holder, SIGKILL);
    ck_assert_uint_eq(u64(&m->sh->seq) & 1u, 1);
    t0 = apr_time_now();
    th_status(sc_lock_seq_await(&ro, t0 + 10 * TIMEOUT_MS * 1000, &seq),
              SHMCACHE_EABANDONED);
    ck_assert_uint_lt(ms_since(t0), TIMEOUT_MS / 2);
    th_status(sc_lock_wrlock(w), SC_LOCK_RECOVERED);
    sc_lock_wrunlock(w);
    th_ok(sc_lock_seq_await(&ro, apr_time_now() + 1000000, &seq));
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("lock");
    TCase *basic = tcase_create("basic");
    TCase *excl = tcase_create("exclusion");
    TCase *crash = tcase_create("crash");

    tcase_add_checked_fixture(basic, th_setup, th_teardown);
    tcase_set_timeout(basic, 120);
    tcase_add_test(basic, region_is_whole_cache_lines_and_starts_free);
    tcase_add_test(basic, attach_claims_distinct_slots_and_detach_frees_them);
    tcase_add_test(basic, bad_slot_count_in_the_region_is_refused);
    tcase_add_test(basic, uncontended_locking_never_sleeps_or_counts_a_wait);
    tcase_add_test(basic, the_write_sequence_is_odd_exactly_while_a_writer_holds);
    tcase_add_test(basic, stats_name_the_writer_and_count_the_readers);
    tcase_add_test(basic, read_only_lock_takes_no_slot_and_writes_nothing);
#ifndef _WIN32
    tcase_add_test(basic, forked_child_gets_a_slot_of_its_own);
#endif
    suite_add_tcase(s, basic);

    tcase_add_checked_fixture(excl, th_setup, th_teardown);
    tcase_set_timeout(excl, 120);
    tcase_add_test(excl, readers_in_two_processes_hold_the_lock_at_once);
    tcase_add_test(excl, writer_excludes_readers_and_writers_across_processes_and_threads);
    tcase_add_test(excl, threads_sharing_one_handle_exclude_each_other);
    tcase_add_test(excl, writer_behind_a_stream_of_readers_gets_in_within_a_bound);
    tcase_add_test(excl, waiters_wake_promptly_when_the_writer_unlocks);
    suite_add_tcase(s, excl);

    tcase_add_checked_fixture(crash, th_setup, th_teardown);
    tcase_set_timeout(crash, 120);
    tcase_add_test(crash, reader_killed_while_holding_is_dropped_after_the_timeout);
    tcase_add_test(crash, writer_killed_while_holding_is_recovered_by_exactly_one_taker);
    tcase_add_test(crash, read_only_reader_times_out_on_a_live_writer_and_reports_a_dead_one);
    tcase_add_test(crash, a_killed_writer_not_yet_reaped_is_recovered);
    tcase_add_test(crash, writer_killed_while_draining_readers_is_recovered);
    tcase_add_test(crash, reader_finds_a_dead_writer_and_gets_the_write_lock_to_repair);
    tcase_add_test(crash, dead_writer_costs_the_next_writer_milliseconds);
    tcase_add_test(crash, dead_writer_costs_the_next_reader_milliseconds);
    tcase_add_test(crash, dead_reader_costs_the_next_writer_milliseconds);
    tcase_add_test(crash, three_dead_readers_and_a_dead_writer_cost_the_next_writer_milliseconds);
#ifdef SIGSTOP
    tcase_add_test(crash, stopped_writer_is_never_robbed);
#endif
    tcase_add_test(crash, sleeping_reader_is_never_robbed);
    tcase_add_test(crash, reused_pid_with_another_start_time_counts_as_dead);
    tcase_add_test(crash, full_slots_give_eslots_and_dead_slots_are_reclaimed);
    tcase_add_test(crash, dead_writers_slot_is_kept_until_its_lock_is_recovered);
    tcase_add_test(crash, slot_left_half_claimed_by_a_dead_process_is_reclaimed);
    tcase_add_test(crash, sleeper_count_of_a_killed_waiter_is_given_back_with_its_slot);
    suite_add_tcase(s, crash);
    return s;
}
