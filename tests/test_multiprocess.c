/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_multiprocess.c - many processes, and many threads of one process,
 * hammering one segment with mixed operations. Every value carries its key
 * and a checksum, so every reader verifies every value it reads: zero wrong
 * or torn values. Shared counters are incremented by everyone: the final
 * counts must equal the sum of all increments (no lost update).
 *
 * SHMCACHE_TEST_SECONDS sets how long each run hammers (default 3).
 */
#include "harness.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NKEYS 2000
#define NCOUNTERS 4
#define MAXVAL 3000

/* A value for key: key, its length byte, filler, then XXH64 of all
 * before it. */
static apr_size_t make_value(char *buf, const char *key, apr_size_t klen,
                             unsigned filler, apr_size_t extra)
{
    apr_size_t n = 0, i;
    XXH64_hash_t h;

    memcpy(buf, key, klen);
    n = klen;
    buf[n++] = (char)klen;
    for (i = 0; i < extra; i++)
        buf[n++] = (char)(filler + i);
    h = XXH64(buf, n, 0);
    memcpy(buf + n, &h, sizeof h);
    return n + sizeof h;
}

/* Whether value is a well-formed value for key. */
static int value_ok(const char *v, apr_size_t vlen, const char *key,
                    apr_size_t klen)
{
    XXH64_hash_t h;

    if (vlen < klen + 1 + sizeof h || memcmp(v, key, klen) != 0
        || (unsigned char)v[klen] != klen)
        return 0;
    memcpy(&h, v + vlen - sizeof h, sizeof h);
    return h == XXH64(v, vlen - sizeof h, 0);
}

/* What one worker did. */
typedef struct tally_t {
    apr_uint64_t ops, bad, incrs[NCOUNTERS];
    apr_uint64_t hits, misses;     /* gets answered found / not found */
    apr_status_t error;
} tally_t;

static apr_uint32_t next_rand(apr_uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* One step of the mixed workload. */
static void step(shmcache_t *c, apr_uint32_t *seed, char *vbuf, tally_t *t)
{
    char key[32], got[MAXVAL + 64];
    apr_size_t klen, vlen;
    apr_uint32_t r = next_rand(seed), op = r % 100;
    apr_status_t rv = APR_SUCCESS;

    klen = (apr_size_t)snprintf(key, sizeof key, "key-%u", (r >> 8) % NKEYS);
    if (op < 60) {
        rv = shmcache_get_buf(c, key, klen, got, sizeof got, &vlen, NULL);
        if (rv == APR_SUCCESS && !value_ok(got, vlen, key, klen))
            t->bad++;
        t->hits += rv == APR_SUCCESS;
        t->misses += rv == SHMCACHE_NOTFOUND;
    }
    else if (op < 85) {
        vlen = make_value(vbuf, key, klen, r, next_rand(seed) % MAXVAL);
        rv = shmcache_set(c, key, klen, vbuf, vlen, 0, NULL);
    }
    else if (op < 90) {
        rv = shmcache_delete(c, key, klen);
    }
    else {
        apr_uint64_t zero = 0, res;
        unsigned i = r % NCOUNTERS;
        klen = (apr_size_t)snprintf(key, sizeof key, "counter-%u", i);
        /* the initial value is stored as is: 1 counts this increment */
        zero = 1;
        rv = shmcache_incr(c, key, klen, 1, &zero, 0, &res);
        if (rv == APR_SUCCESS)
            t->incrs[i]++;
    }
    if (rv != APR_SUCCESS && rv != SHMCACHE_NOTFOUND && t->error == 0)
        t->error = rv;
    t->ops++;
}

static void hammer(shmcache_t *c, apr_uint32_t seed, long seconds, tally_t *t)
{
    apr_time_t end = apr_time_now() + apr_time_from_sec(seconds);
    char *vbuf = malloc(MAXVAL + 64);

    memset(t, 0, sizeof *t);
    seed |= 1;
    while (apr_time_now() < end) {
        int i;
        for (i = 0; i < 64; i++)
            step(c, &seed, vbuf, t);
    }
    free(vbuf);
}

/* Helper: hammer the cache at argv[0] for argv[1] seconds with seed
 * argv[2]; write "bad incr0 incr1 ..." to argv[3]. */
static int worker(int argc, const char *const *argv)
{
    shmcache_t *c;
    tally_t t;
    apr_file_t *f;
    int i;

    if (shmcache_attach(&c, argv[0], NULL, th_pool) != APR_SUCCESS)
        return 3;
    hammer(c, (apr_uint32_t)atol(argv[2]), atol(argv[1]), &t);
    shmcache_close(c);
    if (apr_file_open(&f, argv[3], APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                      APR_FPROT_OS_DEFAULT, th_pool) != APR_SUCCESS)
        return 4;
    apr_file_printf(f, "%" APR_UINT64_T_FMT " %d %" APR_UINT64_T_FMT
                    " %" APR_UINT64_T_FMT, t.bad, (int)t.error, t.hits,
                    t.misses);
    for (i = 0; i < NCOUNTERS; i++)
        apr_file_printf(f, " %" APR_UINT64_T_FMT, t.incrs[i]);
    apr_file_close(f);
    return t.bad == 0 && t.error == 0 ? 0 : 1;
}

static shmcache_t *make_cache(const char *path)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = 32 << 20;       /* large enough that nothing is evicted */
    th_ok(shmcache_create(&c, path, &o, th_pool));
    return c;
}

/* The counters must hold exactly the increments everyone made. */
static void assert_counters(shmcache_t *c, const apr_uint64_t *expect)
{
    int i;

    for (i = 0; i < NCOUNTERS; i++) {
        char key[32], buf[32];
        apr_size_t n;
        snprintf(key, sizeof key, "counter-%d", i);
        th_ok(shmcache_get_buf(c, key, strlen(key), buf, sizeof buf - 1, &n, NULL));
        buf[n] = '\0';
        ck_assert_msg(strtoull(buf, NULL, 10) == expect[i],
                      "counter-%d is %s, want %" APR_UINT64_T_FMT, i, buf, expect[i]);
    }
}

static void assert_healthy(shmcache_t *c)
{
    char why[512];
    shmcache_stats_t st;

    ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS, "check: %s", why);
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.evictions, 0);
}

START_TEST(processes_never_read_a_wrong_value_nor_lose_an_increment)
{
    enum { N = 4 };
    const char *p = th_path("mp");
    long secs = th_env_long("SHMCACHE_TEST_SECONDS", 3);
    shmcache_t *c = make_cache(p);
    apr_uint64_t expect[NCOUNTERS] = {0}, total_ops = 0, hits = 0, misses = 0;
    apr_proc_t procs[N];
    shmcache_stats_t st;
    const char *out[N];
    int i, j;

    for (i = 0; i < N; i++) {
        const char *args[5];
        out[i] = th_path("tally");
        args[0] = p;
        args[1] = apr_ltoa(th_pool, secs);
        args[2] = apr_itoa(th_pool, 1000 + i * 7919);
        args[3] = out[i];
        args[4] = NULL;
        th_spawn(&procs[i], "worker", args);
    }
    for (i = 0; i < N; i++)
        ck_assert_msg(th_wait(&procs[i]) == 0, "worker %d read a wrong value "
                      "or failed", i);
    for (i = 0; i < N; i++) {
        char *text;
        apr_size_t len;
        apr_file_t *f;
        char buf[256];
        unsigned long long bad, v, h, m;
        int err, off;
        th_ok(apr_file_open(&f, out[i], APR_FOPEN_READ, 0, th_pool));
        len = sizeof buf - 1;
        apr_file_read(f, buf, &len);
        buf[len] = '\0';
        apr_file_close(f);
        text = buf;
        ck_assert_int_eq(sscanf(text, "%llu %d %llu %llu%n", &bad, &err, &h,
                                &m, &off), 4);
        ck_assert_uint_eq(bad, 0);
        hits += h;
        misses += m;
        text += off;
        for (j = 0; j < NCOUNTERS; j++) {
            ck_assert_int_eq(sscanf(text, " %llu%n", &v, &off), 1);
            expect[j] += v;
            total_ops += v;
            text += off;
        }
    }
    ck_assert_msg(total_ops > 100, "workers did almost nothing");
    /* each process counted its own gets exactly, kept after it closed */
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.hits, hits);
    ck_assert_uint_eq(st.misses, misses);
    assert_counters(c, expect);
    assert_healthy(c);
    shmcache_close(c);
}
END_TEST

typedef struct thread_arg_t {
    shmcache_t *cache;
    apr_uint32_t seed;
    long seconds;
    tally_t tally;
} thread_arg_t;

static void *APR_THREAD_FUNC thread_main(apr_thread_t *thd, void *data)
{
    thread_arg_t *a = data;

    hammer(a->cache, a->seed, a->seconds, &a->tally);
    return NULL;
}

/* Gets counted by stats may fall short of the gets made by at most this
 * many when threads share a handle: the opening thread counts without a
 * locked add until another thread counts (shmcache.h, stats). */
#define SWITCH_SLACK 64u

START_TEST(threads_sharing_one_handle_never_read_a_wrong_value)
{
    enum { N = 4 };
    shmcache_t *c = make_cache(th_path("mt"));
    thread_arg_t args[N + 1];
    apr_thread_t *threads[N];
    apr_uint64_t expect[NCOUNTERS] = {0}, hits = 0, misses = 0;
    apr_status_t trv;
    shmcache_stats_t st;
    int i, j;

    for (i = 0; i <= N; i++) {
        args[i].cache = c;
        args[i].seed = 77 + (apr_uint32_t)i * 104729u;
        args[i].seconds = th_env_long("SHMCACHE_TEST_SECONDS", 3);
        if (i < N)
            th_ok(apr_thread_create(&threads[i], NULL, thread_main, &args[i],
                                    th_pool));
    }
    /* the thread that opened the handle works alongside */
    thread_main(NULL, &args[N]);
    for (i = 0; i <= N; i++) {
        if (i < N)
            apr_thread_join(&trv, threads[i]);
        ck_assert_uint_eq(args[i].tally.bad, 0);
        th_ok(args[i].tally.error);
        ck_assert_uint_gt(args[i].tally.ops, 100);
        for (j = 0; j < NCOUNTERS; j++)
            expect[j] += args[i].tally.incrs[j];
        hits += args[i].tally.hits;
        misses += args[i].tally.misses;
    }
    th_ok(shmcache_stats(c, &st));
    ck_assert_msg(st.hits <= hits && st.hits + SWITCH_SLACK >= hits
                  && st.misses <= misses && st.misses + SWITCH_SLACK >= misses,
                  "stats count %" APR_UINT64_T_FMT " hits and %" APR_UINT64_T_FMT
                  " misses; the threads made %" APR_UINT64_T_FMT " and %"
                  APR_UINT64_T_FMT, st.hits, st.misses, hits, misses);
    assert_counters(c, expect);
    assert_healthy(c);
    shmcache_close(c);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("multiprocess");
    TCase *tc = tcase_create("multiprocess");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, processes_never_read_a_wrong_value_nor_lose_an_increment);
    tcase_add_test(tc, threads_sharing_one_handle_never_read_a_wrong_value);
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {{"worker", worker}, {NULL, NULL}};
