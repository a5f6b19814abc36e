/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_lease.c - leases against stampedes: one caller computes a missing
 * value, the others wait for it or are served the stale one; a dead
 * holder's lease is taken over at once; an abandoned one lapses; nested
 * get-or-compute works and refuses its own key; a failed computation
 * reaches every caller that waited for it.
 *
 * Herds are real processes (this binary re-executed as helpers), each with
 * several threads, all on one segment. The number of computations is
 * counted in the cache itself (shmcache_incr of a counter key by the
 * compute callback), so it counts across processes.
 */
#include "harness.h"

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <signal.h>
#endif
#ifndef SIGKILL
#define SIGKILL 9
#endif

#define HERD_PROCS 8
#define HERD_THREADS 4             /* 8 x 4 = 32 callers */
#define COMPUTE_MS 300
#define VALUE "the computed value"

static void options(shmcache_options_t *o)
{
    shmcache_options_init(o);
    o->size = 1 << 20;
}

static apr_uint64_t counter(shmcache_t *c, const char *name)
{
    apr_uint64_t n = 0;
    char buf[32];
    apr_size_t len;

    if (shmcache_get_buf(c, name, strlen(name), buf, sizeof buf - 1, &len,
                         NULL) == APR_SUCCESS) {
        buf[len] = '\0';
        n = (apr_uint64_t)apr_atoi64(buf);
    }
    return n;
}

/* ------------------------------------------------------------------------
 * Compute callbacks
 * ---------------------------------------------------------------------- */

typedef struct compute_t {
    shmcache_t *cache;
    apr_uint64_t herd;             /* callers to wait for (key "arrived") */
    apr_uint32_t ms;               /* how long a computation takes */
    apr_uint32_t stale_ttl;
    int fail;                      /* return an error instead of a value */
} compute_t;

/* Count the computation in the cache, wait (at most 30 s) until the whole
 * herd has arrived (process starts are slow under Wine: a caller that
 * came after a failed computation would rightly start a new one), take
 * cb->ms more, return VALUE. */
static apr_status_t slow_compute(void *baton, const void *key,
                                 apr_size_t key_len, void **value,
                                 apr_size_t *value_len, apr_uint32_t *ttl,
                                 apr_uint32_t *stale_ttl, apr_pool_t *pool)
{
    compute_t *cb = baton;
    apr_uint64_t one = 1;
    int i;

    (void)key;
    (void)key_len;
    shmcache_incr(cb->cache, "computations", 12, 1, &one, 0, NULL);
    for (i = 0; i < 3000 && counter(cb->cache, "arrived") < cb->herd; i++)
        apr_sleep(apr_time_from_msec(10));
    apr_sleep(apr_time_from_msec(cb->ms));
    if (cb->fail)
        return APR_EGENERAL;
    *value = apr_pstrdup(pool, VALUE);
    *value_len = strlen(VALUE);
    *ttl = 60;
    *stale_ttl = cb->stale_ttl;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Helpers (child processes)
 * ---------------------------------------------------------------------- */

typedef struct herd_thread_t {
    compute_t cb;
    const char *key;
    apr_uint32_t wait_ms;
    int bad;                       /* wrong value or status */
    apr_interval_time_t slowest;
} herd_thread_t;

static void *APR_THREAD_FUNC herd_thread(apr_thread_t *thd, void *data)
{
    herd_thread_t *h = data;
    shmcache_lease_opts_t o;
    apr_pool_t *pool;
    void *v;
    apr_size_t n;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv;

    apr_pool_create(&pool, NULL);
    shmcache_lease_opts_init(&o);
    o.wait_ms = h->wait_ms;
    {
        apr_uint64_t one = 1;      /* a missing counter starts at initial */
        shmcache_incr(h->cb.cache, "arrived", 7, 1, &one, 0, NULL);
    }
    rv = shmcache_get_or_compute(h->cb.cache, h->key, strlen(h->key), &o,
                                 slow_compute, &h->cb, &v, &n, NULL, pool);
    h->slowest = apr_time_now() - t0;
    if (h->cb.fail)
        h->bad = rv != SHMCACHE_ECOMPUTE && rv != APR_EGENERAL;
    else
        h->bad = (rv != APR_SUCCESS && rv != SHMCACHE_STALE)
                 || n != strlen(VALUE) || memcmp(v, VALUE, n) != 0;
    if (h->bad)
        fprintf(stderr, "herd: status %d\n", (int)rv);
    apr_pool_destroy(pool);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

/* Helper: path key threads compute_ms stale_ttl fail wait_ms herd. Starts
 * threads that all get-or-compute key at once; exits 0 when every one got
 * what it should, 1 otherwise; prints its slowest call in ms. */
static int h_herd(int argc, const char *const *argv)
{
    herd_thread_t h[16];
    apr_thread_t *t[16];
    shmcache_t *c;
    apr_status_t ts;
    apr_interval_time_t slowest = 0;
    int i, n, bad = 0;

    if (argc < 8 || shmcache_attach(&c, argv[0], NULL, th_pool) != APR_SUCCESS)
        return 2;
    n = atoi(argv[2]);
    for (i = 0; i < n && i < 16; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].cb.cache = c;
        h[i].cb.ms = (apr_uint32_t)atoi(argv[3]);
        h[i].cb.stale_ttl = (apr_uint32_t)atoi(argv[4]);
        h[i].cb.fail = atoi(argv[5]);
        h[i].cb.herd = (apr_uint64_t)atoi(argv[7]);
        h[i].key = argv[1];
        h[i].wait_ms = (apr_uint32_t)atoi(argv[6]);
        if (apr_thread_create(&t[i], NULL, herd_thread, &h[i], th_pool)
            != APR_SUCCESS)
            return 2;
    }
    for (i = 0; i < n && i < 16; i++) {
        apr_thread_join(&ts, t[i]);
        bad += h[i].bad;
        if (h[i].slowest > slowest)
            slowest = h[i].slowest;
    }
    printf("slowest %ld ms\n", (long)apr_time_as_msec(slowest));
    shmcache_close(c);
    return bad == 0 ? 0 : 1;
}

/* Helper: path key. Takes key's lease and never completes it (parks until
 * killed); prints "leased" once it holds it. */
static int h_holder(int argc, const char *const *argv)
{
    shmcache_t *c;
    apr_uint64_t token;
    void *v;
    apr_size_t n;

    if (argc < 2 || shmcache_attach(&c, argv[0], NULL, th_pool) != APR_SUCCESS)
        return 2;
    if (shmcache_lease_get(c, argv[1], strlen(argv[1]), NULL, &v, &n, NULL,
                           &token, th_pool) != SHMCACHE_LEASED)
        return 3;
    printf("leased\n");
    fflush(stdout);
    for (;;)
        apr_sleep(apr_time_from_sec(1));
    return 0;
}

const th_helper_t test_helpers[] = {
    {"herd", h_herd},
    {"holder", h_holder},
    {NULL, NULL}
};

/* ------------------------------------------------------------------------
 * The test's side
 * ---------------------------------------------------------------------- */

/* Start HERD_PROCS herd helpers on key and wait for them all; fails the
 * test when one reports a wrong answer. */
static void run_herd(const char *path, const char *key, int compute_ms,
                     int stale_ttl, int fail)
{
    apr_proc_t procs[HERD_PROCS];
    const char *args[9];
    int i;

    args[0] = path;
    args[1] = key;
    args[2] = apr_itoa(th_pool, HERD_THREADS);
    args[3] = apr_itoa(th_pool, compute_ms);
    args[4] = apr_itoa(th_pool, stale_ttl);
    args[5] = apr_itoa(th_pool, fail);
    args[6] = "20000";
    args[7] = apr_itoa(th_pool, HERD_PROCS * HERD_THREADS);
    args[8] = NULL;
    for (i = 0; i < HERD_PROCS; i++)
        th_spawn(&procs[i], "herd", args);
    for (i = 0; i < HERD_PROCS; i++)
        ck_assert_int_eq(th_wait(&procs[i]), 0);
}

START_TEST(a_herd_of_32_callers_computes_a_missing_value_exactly_once)
{
    const char *p = th_path("herd");
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    char why[256];

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    run_herd(p, "popular", COMPUTE_MS, 0, 0);
    ck_assert_uint_eq(counter(c, "computations"), 1);
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.leases_granted, 1);
    ck_assert_uint_ge(st.lease_waits, 1);
    ck_assert_uint_eq(st.lease_timeouts, 0);
    ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS, "%s", why);
    shmcache_close(c);
}
END_TEST

START_TEST(with_a_stale_value_nobody_waits_and_one_caller_refreshes)
{
    const char *p = th_path("stale");
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    void *v;
    apr_size_t n;
    apr_uint64_t token;
    shmcache_meta_t m;
    apr_proc_t procs[HERD_PROCS];
    const char *args[9];
    char out[64];
    int i;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    /* fresh for 1 s, then stale for 60 s */
    th_status(shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    th_ok(shmcache_lease_set(c, "k", 1, token, VALUE, strlen(VALUE), 1, 60));
    th_ok(shmcache_lease_get(c, "k", 1, NULL, &v, &n, &m, &token, th_pool));
    ck_assert(!m.stale);
    apr_sleep(apr_time_from_msec(2100));
    /* every caller is served the stale value at once: a computation of
     * COMPUTE_MS * 5 would show in the slowest call of any that waited */
    args[0] = p;
    args[1] = "k";
    args[2] = apr_itoa(th_pool, HERD_THREADS);
    args[3] = apr_itoa(th_pool, COMPUTE_MS * 5);
    args[4] = "60";
    args[5] = "0";
    args[6] = "20000";
    args[7] = apr_itoa(th_pool, HERD_PROCS * HERD_THREADS);
    args[8] = NULL;
    for (i = 0; i < HERD_PROCS; i++)
        th_spawn(&procs[i], "herd", args);
    for (i = 0; i < HERD_PROCS; i++)
        ck_assert_int_eq(th_wait(&procs[i]), 0);
    ck_assert_uint_eq(counter(c, "computations"), 1);
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.lease_waits, 0);
    ck_assert_uint_ge(st.stale_answers, 1);
    th_ok(shmcache_get_buf(c, "k", 1, out, sizeof out, &n, &m));
    ck_assert(!m.stale);           /* refreshed */
    shmcache_close(c);
}
END_TEST

/* Start a holder helper that takes key's lease; returns once it holds it
 * (the granted count went up). */
static void start_holder(apr_proc_t *proc, const char *path, const char *key)
{
    const char *args[3] = {path, key, NULL};
    shmcache_t *c;
    shmcache_stats_t st;
    apr_uint64_t before;
    int i;

    th_ok(shmcache_attach(&c, path, NULL, th_pool));
    th_ok(shmcache_stats(c, &st));
    before = st.leases_granted;
    th_spawn(proc, "holder", args);
    for (i = 0; i < 500; i++) {
        th_ok(shmcache_stats(c, &st));
        if (st.leases_granted > before)
            break;
        apr_sleep(apr_time_from_msec(10));
    }
    ck_assert_msg(st.leases_granted > before, "the holder never got its lease");
    shmcache_close(c);
}

START_TEST(a_killed_lease_holder_is_replaced_within_milliseconds)
{
    const char *p = th_path("dead");
    shmcache_options_t o;
    shmcache_lease_opts_t lo;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_proc_t holder;
    apr_uint64_t token;
    apr_time_t t0, took;
    void *v;
    apr_size_t n;
    char why[256];

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    start_holder(&holder, p, "k");
    shmcache_lease_opts_init(&lo);
    lo.wait_ms = 0;
    th_status(shmcache_lease_get(c, "k", 1, &lo, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_ELEASED);
    apr_proc_kill(&holder, SIGKILL);
    th_wait(&holder);
    t0 = apr_time_now();
    th_status(shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    took = apr_time_now() - t0;
    printf("lease of a killed holder taken over in %ld us (lease TTL 30 s)\n",
           (long)took);
    ck_assert_int_lt(took, apr_time_from_msec(100));
    th_ok(shmcache_lease_set(c, "k", 1, token, "v", 1, 60, 0));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.leases_dead, 1);
    ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS, "%s", why);
    shmcache_close(c);
}
END_TEST

/* A stale value is served while a live holder refreshes it; once that
 * holder is killed, the next caller takes the refresh over at once. */
START_TEST(a_killed_refresher_of_a_stale_value_is_replaced_at_once)
{
    const char *p = th_path("stalekill");
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_proc_t holder;
    apr_uint64_t token;
    void *v;
    apr_size_t n;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    th_status(shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    th_ok(shmcache_lease_set(c, "k", 1, token, VALUE, strlen(VALUE), 1, 60));
    apr_sleep(apr_time_from_msec(2100));       /* stale now */
    start_holder(&holder, p, "k");             /* it refreshes, and hangs */
    th_status(shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_STALE);
    ck_assert(n == strlen(VALUE) && memcmp(v, VALUE, n) == 0);
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_ge(st.stale_answers, 1);
    apr_proc_kill(&holder, SIGKILL);
    th_wait(&holder);
    th_status(shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    ck_assert(v != NULL && n == strlen(VALUE));  /* with the stale value */
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.leases_dead, 1);
    shmcache_close(c);
}
END_TEST

typedef struct waiter_t {
    const char *path;
    apr_status_t rv;
    apr_time_t done;
} waiter_t;

/* A caller in a thread of this process, waiting up to 10 s for key "k". */
static void *APR_THREAD_FUNC waiter_thread(apr_thread_t *thd, void *data)
{
    waiter_t *w = data;
    shmcache_t *c;
    apr_pool_t *pool;
    apr_uint64_t token;
    void *v;
    apr_size_t n;

    apr_pool_create(&pool, NULL);
    w->rv = shmcache_attach(&c, w->path, NULL, pool);
    if (w->rv == APR_SUCCESS)
        w->rv = shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token, pool);
    w->done = apr_time_now();
    apr_pool_destroy(pool);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

START_TEST(a_waiter_wakes_within_milliseconds_when_the_holder_dies)
{
    const char *p = th_path("deadwait");
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_proc_t holder;
    apr_thread_t *t;
    apr_status_t ts;
    apr_time_t killed;
    waiter_t w = {NULL, -1, 0};

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    start_holder(&holder, p, "k");
    w.path = p;
    th_ok(apr_thread_create(&t, NULL, waiter_thread, &w, th_pool));
    apr_sleep(apr_time_from_msec(300));     /* the waiter is asleep by now */
    ck_assert_int_eq(w.done, 0);
    killed = apr_time_now();
    apr_proc_kill(&holder, SIGKILL);
    th_wait(&holder);
    apr_thread_join(&ts, t);
    th_status(w.rv, SHMCACHE_LEASED);
    printf("waiter took the dead holder's lease %ld us after the kill\n",
           (long)(w.done - killed));
    ck_assert_int_lt(w.done - killed, apr_time_from_msec(100));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.lease_waits, 1);
    ck_assert_uint_eq(st.leases_dead, 1);
    shmcache_close(c);
}
END_TEST

START_TEST(a_lease_never_completed_lapses_after_its_ttl)
{
    const char *p = th_path("lapse");
    shmcache_options_t o;
    shmcache_lease_opts_t lo;
    shmcache_t *c;
    apr_uint64_t token, token2;
    apr_time_t t0;
    void *v;
    apr_size_t n;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    shmcache_lease_opts_init(&lo);
    lo.lease_ttl = 1;
    lo.wait_ms = 0;
    th_status(shmcache_lease_get(c, "k", 1, &lo, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    /* this process is alive and holds it: another thread of it waits */
    th_status(shmcache_lease_get(c, "k", 1, &lo, &v, &n, NULL, &token2,
                                 th_pool), SHMCACHE_ELEASED);
    lo.wait_ms = 5000;
    t0 = apr_time_now();
    th_status(shmcache_lease_get(c, "k", 1, &lo, &v, &n, NULL, &token2,
                                 th_pool), SHMCACHE_LEASED);
    ck_assert_uint_ne(token2, token);
    /* lapses between 1 and 2 whole seconds after it was taken */
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(2500));
    shmcache_close(c);
}
END_TEST

typedef struct nest_t {
    shmcache_t *cache;
    const char *inner;             /* key the callback asks for, or NULL */
    apr_status_t inner_rv;
} nest_t;

static apr_status_t nested_compute(void *baton, const void *key,
                                   apr_size_t key_len, void **value,
                                   apr_size_t *value_len, apr_uint32_t *ttl,
                                   apr_uint32_t *stale_ttl, apr_pool_t *pool)
{
    nest_t *nb = baton;
    nest_t leaf = {nb->cache, NULL, 0};
    void *v = NULL;
    apr_size_t n = 0;

    (void)ttl;
    (void)stale_ttl;
    if (nb->inner != NULL)
        nb->inner_rv = shmcache_get_or_compute(nb->cache, nb->inner,
                                               strlen(nb->inner), NULL,
                                               nested_compute, &leaf, &v, &n,
                                               NULL, pool);
    *value = apr_psprintf(pool, "%.*s(%.*s)", (int)key_len, (const char *)key,
                          (int)n, v != NULL ? (const char *)v : "");
    *value_len = strlen(*value);
    return APR_SUCCESS;
}

START_TEST(nested_get_or_compute_works_and_refuses_its_own_key)
{
    const char *p = th_path("nest");
    shmcache_options_t o;
    shmcache_t *c;
    nest_t nb;
    void *v;
    apr_size_t n;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    nb.cache = c;
    nb.inner = "b";
    nb.inner_rv = -1;
    th_ok(shmcache_get_or_compute(c, "a", 1, NULL, nested_compute, &nb, &v,
                                  &n, NULL, th_pool));
    th_ok(nb.inner_rv);
    ck_assert_str_eq(v, "a(b())");
    th_ok(shmcache_get_buf(c, "b", 1, v, 16, &n, NULL));
    /* a callback that asks for its own key gets a status, not a deadlock */
    nb.inner = "c";
    th_ok(shmcache_get_or_compute(c, "c", 1, NULL, nested_compute, &nb, &v,
                                  &n, NULL, th_pool));
    th_status(nb.inner_rv, SHMCACHE_ERECURSE);
    ck_assert_str_eq(v, "c()");
    shmcache_close(c);
}
END_TEST

START_TEST(a_failed_computation_reaches_every_waiter_and_stores_nothing)
{
    const char *p = th_path("fail");
    shmcache_options_t o;
    shmcache_t *c;
    void *v;
    apr_size_t n;
    char buf[8];

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    run_herd(p, "doomed", COMPUTE_MS, 0, 1);
    ck_assert_uint_eq(counter(c, "computations"), 1);
    th_status(shmcache_get_buf(c, "doomed", 6, buf, sizeof buf, &n, NULL),
              SHMCACHE_NOTFOUND);
    /* a later caller takes a new lease */
    {
        apr_uint64_t token;
        th_status(shmcache_lease_get(c, "doomed", 6, NULL, &v, &n, NULL,
                                     &token, th_pool), SHMCACHE_LEASED);
    }
    shmcache_close(c);
}
END_TEST

/* A callback whose value is longer than the cache's max_value. */
static apr_status_t too_long(void *baton, const void *key, apr_size_t key_len,
                             void **value, apr_size_t *value_len,
                             apr_uint32_t *ttl, apr_uint32_t *stale_ttl,
                             apr_pool_t *pool)
{
    (void)baton; (void)key; (void)key_len; (void)ttl; (void)stale_ttl;
    *value_len = 4096;
    *value = apr_pcalloc(pool, *value_len);
    return APR_SUCCESS;
}

START_TEST(a_computed_value_that_cannot_be_stored_frees_its_lease)
{
    const char *p = th_path("unstorable");
    shmcache_options_t o;
    shmcache_lease_opts_t lo;
    shmcache_t *c;
    apr_uint64_t token;
    void *v;
    apr_size_t n;

    options(&o);
    o.max_value = 1024;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    th_status(shmcache_get_or_compute(c, "k", 1, NULL, too_long, NULL, &v, &n,
                                      NULL, th_pool), SHMCACHE_EVALLEN);
    ck_assert_uint_eq(n, 4096);     /* the caller still has its value */
    /* nobody is left waiting for a value that will never come */
    shmcache_lease_opts_init(&lo);
    lo.wait_ms = 0;
    th_status(shmcache_lease_get(c, "k", 1, &lo, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    th_ok(shmcache_lease_release(c, "k", 1, token, 1));
    th_status(shmcache_lease_release(c, "k", 1, token, 1), SHMCACHE_NOTFOUND);
    shmcache_close(c);
}
END_TEST

static int count_entry(void *baton, const void *key, apr_size_t key_len,
                       const void *value, apr_size_t value_len,
                       const shmcache_meta_t *meta)
{
    (void)key;
    (void)key_len;
    (void)value;
    (void)value_len;
    (void)meta;
    ++*(int *)baton;
    return 0;
}

START_TEST(leases_are_not_values_for_the_other_calls)
{
    const char *p = th_path("hidden");
    shmcache_options_t o;
    shmcache_t *c;
    apr_uint64_t token;
    void *v;
    apr_size_t n;
    char buf[8];
    int seen = 0;

    options(&o);
    th_ok(shmcache_create(&c, p, &o, th_pool));
    th_status(shmcache_lease_get(c, "k", 1, NULL, &v, &n, NULL, &token,
                                 th_pool), SHMCACHE_LEASED);
    th_status(shmcache_get_buf(c, "k", 1, buf, sizeof buf, &n, NULL),
              SHMCACHE_NOTFOUND);
    th_status(shmcache_delete(c, "k", 1), SHMCACHE_NOTFOUND);
    th_status(shmcache_replace(c, "k", 1, "x", 1, 60, NULL), SHMCACHE_NOTFOUND);
    th_ok(shmcache_iterate(c, count_entry, &seen, 0));
    ck_assert_int_eq(seen, 0);
    th_ok(shmcache_check(c, NULL, 0));
    th_ok(shmcache_lease_set(c, "k", 1, token, "v", 1, 60, 0));
    th_ok(shmcache_iterate(c, count_entry, &seen, 0));
    ck_assert_int_eq(seen, 1);     /* the value; the lease is gone */
    th_status(shmcache_lease_release(c, "k", 1, token, 0), SHMCACHE_NOTFOUND);
    th_ok(shmcache_check(c, NULL, 0));
    shmcache_close(c);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("lease");
    TCase *tc = tcase_create("lease");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_herd_of_32_callers_computes_a_missing_value_exactly_once);
    tcase_add_test(tc, with_a_stale_value_nobody_waits_and_one_caller_refreshes);
    tcase_add_test(tc, a_killed_lease_holder_is_replaced_within_milliseconds);
    tcase_add_test(tc, a_waiter_wakes_within_milliseconds_when_the_holder_dies);
    tcase_add_test(tc, a_killed_refresher_of_a_stale_value_is_replaced_at_once);
    tcase_add_test(tc, a_lease_never_completed_lapses_after_its_ttl);
    tcase_add_test(tc, nested_get_or_compute_works_and_refuses_its_own_key);
    tcase_add_test(tc, a_failed_computation_reaches_every_waiter_and_stores_nothing);
    tcase_add_test(tc, leases_are_not_values_for_the_other_calls);
    tcase_add_test(tc, a_computed_value_that_cannot_be_stored_frees_its_lease);
    suite_add_tcase(s, tc);
    return s;
}
