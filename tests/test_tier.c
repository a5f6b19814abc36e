/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tier.c - the second tier against real memcached and Redis servers.
 *
 * Each test starts its servers (Debian's memcached and redis-server) on
 * 127.0.0.1 with free ports, under `setpriv --pdeathsig KILL` so that a
 * test process that dies takes them along, and kills them at teardown.
 * Two segments stand for two machines ("A" and "B"), each with its own
 * tier over the same L2. The L2 tests run twice: over two memcached
 * instances (keys spread by the ring) and over one Redis.
 *
 * Server-side connection counts come from the servers themselves
 * (memcached `stats` curr_connections, Redis `INFO` connected_clients),
 * read with the same APR-util clients on a connection of their own.
 */
#include "harness.h"
#include "shmcache_tier.h"
#include "tier_private.h"

#include <apr_file_io.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETPRIV_BIN "/usr/bin/setpriv"
#define MEMCACHED_BIN "/usr/bin/memcached"
#define REDIS_BIN "/usr/bin/redis-server"

/* ------------------------------------------------------------------------
 * L2 servers
 * ---------------------------------------------------------------------- */

typedef struct l2srv_t {
    sc_l2_kind_e kind;
    int port;
    apr_proc_t proc;
    int running;
} l2srv_t;

static l2srv_t servers[2];
static int nservers;
static sc_l2_kind_e kind_under_test;

static int free_port(void)
{
    apr_socket_t *s;
    apr_sockaddr_t *sa;
    int port = 0;

    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, th_pool) != APR_SUCCESS
        || apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, th_pool) != APR_SUCCESS)
        return 0;
    if (apr_socket_bind(s, sa) == APR_SUCCESS
        && apr_socket_addr_get(&sa, APR_LOCAL, s) == APR_SUCCESS)
        port = sa->port;
    apr_socket_close(s);
    return port;
}

static int port_answers(int port)
{
    apr_socket_t *s;
    apr_sockaddr_t *sa;
    apr_status_t rv;

    if (apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, (apr_port_t)port, 0, th_pool)
        || apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, th_pool))
        return 0;
    apr_socket_timeout_set(s, apr_time_from_msec(200));
    rv = apr_socket_connect(s, sa);
    apr_socket_close(s);
    return rv == APR_SUCCESS;
}

/* Start s (on s->port, or a free one) and wait until it accepts. */
static void l2_start(l2srv_t *s)
{
    apr_procattr_t *attr;
    const char *argv[24];
    char *port;
    int i = 0, tries;

    if (!s->port)
        s->port = free_port();
    port = apr_itoa(th_pool, s->port);
    argv[i++] = SETPRIV_BIN;
    argv[i++] = "--pdeathsig";
    argv[i++] = "KILL";
    argv[i++] = "--";
    if (s->kind == SC_L2_MEMCACHE) {
        argv[i++] = MEMCACHED_BIN;
        argv[i++] = "-u"; argv[i++] = "root";
        argv[i++] = "-l"; argv[i++] = "127.0.0.1";
        argv[i++] = "-p"; argv[i++] = port;
        argv[i++] = "-U"; argv[i++] = "0";
        argv[i++] = "-t"; argv[i++] = "1";
    } else {
        argv[i++] = REDIS_BIN;
        argv[i++] = "--port"; argv[i++] = port;
        argv[i++] = "--bind"; argv[i++] = "127.0.0.1";
        argv[i++] = "--save"; argv[i++] = "";
        argv[i++] = "--appendonly"; argv[i++] = "no";
        argv[i++] = "--protected-mode"; argv[i++] = "no";
        argv[i++] = "--loglevel"; argv[i++] = "warning";
    }
    argv[i] = NULL;
    th_ok(apr_procattr_create(&attr, th_pool));
    th_ok(apr_procattr_io_set(attr, APR_NO_PIPE, APR_NO_FILE, APR_NO_FILE));
    th_ok(apr_procattr_cmdtype_set(attr, APR_PROGRAM));
    th_ok(apr_proc_create(&s->proc, argv[0], argv, NULL, attr, th_pool));
    s->running = 1;
    for (tries = 0; tries < 250 && !port_answers(s->port); tries++)
        apr_sleep(apr_time_from_msec(20));
    ck_assert_msg(tries < 250, "%s did not start on port %d", argv[4], s->port);
}

static void l2_stop(l2srv_t *s)
{
    int code;
    apr_exit_why_e why;

    if (!s->running)
        return;
    apr_proc_kill(&s->proc, SIGKILL);
    apr_proc_wait(&s->proc, &code, &why, APR_WAIT);
    s->running = 0;
    while (port_answers(s->port))
        apr_sleep(apr_time_from_msec(10));
}

static const char *l2_url(void)
{
    const char *url = kind_under_test == SC_L2_MEMCACHE ? "memcache://" : "redis://";
    int i;

    for (i = 0; i < nservers; i++)
        url = apr_psprintf(th_pool, "%s%s127.0.0.1:%d", url, i ? "," : "",
                           servers[i].port);
    return url;
}

/* Connections the server has open, as the server counts them (our own
 * stats connection included). */
static long server_conns(const l2srv_t *s)
{
    apr_pool_t *p;
    long n = -1;

    apr_pool_create(&p, th_pool);
    if (s->kind == SC_L2_MEMCACHE) {
        apr_memcache_server_t *ms;
        apr_memcache_stats_t *st;
        if (apr_memcache_server_create(p, "127.0.0.1", (apr_port_t)s->port, 0, 1, 1,
                                       60000000, &ms) == APR_SUCCESS
            && apr_memcache_stats(ms, p, &st) == APR_SUCCESS)
            n = (long)st->curr_connections - 1;
    } else {
        apr_redis_server_t *rs;
        apr_redis_stats_t *st;
        if (apr_redis_server_create(p, "127.0.0.1", (apr_port_t)s->port, 0, 1, 1,
                                    60000000, 1, &rs) == APR_SUCCESS
            && apr_redis_stats(rs, p, &st) == APR_SUCCESS)
            n = (long)st->connected_clients - 1;
    }
    apr_pool_destroy(p);    /* closes the stats connection */
    return n;
}

/* ------------------------------------------------------------------------
 * Fixtures: two "machines", each a segment with its own tier
 * ---------------------------------------------------------------------- */

static shmcache_t *seg_a, *seg_b;

static shmcache_t *segment(const char *tag)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = 2 << 20;
    o.max_key = 2048;
    o.max_value = 64 * 1024;
    th_ok(shmcache_create(&c, th_path(tag), &o, th_pool));
    return c;
}

static void tier_opts(shmcache_tier_options_t *o)
{
    shmcache_tier_options_init(o);
    o->url = l2_url();
    /* generous for the tests of meaning (a loaded CI machine, sanitizers);
     * the tests of failure set the default 50 ms themselves */
    o->timeout_ms = 1000;
    o->l1_ttl = 1;
    o->breaker_failures = 3;
    o->breaker_ms = 300;
}

static shmcache_tier_t *tier_on(shmcache_t *seg, const shmcache_tier_options_t *o)
{
    shmcache_tier_t *t;
    th_ok(shmcache_tier_create(&t, seg, o, th_pool));
    return t;
}

static void setup_kind(sc_l2_kind_e kind)
{
    int i;

    th_setup();
    kind_under_test = kind;
    nservers = kind == SC_L2_MEMCACHE ? 2 : 1;
    memset(servers, 0, sizeof(servers));
    for (i = 0; i < nservers; i++) {
        servers[i].kind = kind;
        l2_start(&servers[i]);
    }
    seg_a = segment("tierA");
    seg_b = segment("tierB");
}

static void teardown_l2(void)
{
    int i;

    for (i = 0; i < nservers; i++)
        l2_stop(&servers[i]);
    th_teardown();
}

static void setup_plain(void)
{
    th_setup();
}

/* the L2 tests run once per kind: loop index 0 memcached, 1 Redis */
static void setup_for(int i)
{
    setup_kind(i == 0 ? SC_L2_MEMCACHE : SC_L2_REDIS);
}

static const char *tget(shmcache_tier_t *t, const char *key)
{
    void *v;
    apr_size_t n;
    apr_status_t rv = shmcache_tier_get(t, key, strlen(key), &v, &n, th_pool);

    if (rv == SHMCACHE_NOTFOUND)
        return NULL;
    th_ok(rv);
    return v;
}

static apr_status_t tset(shmcache_tier_t *t, const char *key, const char *value)
{
    return shmcache_tier_set(t, key, strlen(key), value, strlen(value), 60);
}

static double ms_since(apr_time_t start)
{
    return (double)(apr_time_now() - start) / 1000.0;
}

/* ------------------------------------------------------------------------
 * Ring and keys (no servers)
 * ---------------------------------------------------------------------- */

START_TEST(adding_a_server_moves_few_keys_and_none_between_the_others)
{
    const char *names[4] = { "10.0.0.1:11211", "10.0.0.2:11211",
                             "10.0.0.3:11211", "10.0.0.4:11211" };
    sc_tier_ring_t *r3, *r4;
    int i, moved = 0, counts[3] = { 0, 0, 0 };
    char key[32];

    th_ok(sc_tier_ring_build(&r3, names, 3, th_pool));
    th_ok(sc_tier_ring_build(&r4, names, 4, th_pool));
    for (i = 0; i < 30000; i++) {
        int len = snprintf(key, sizeof(key), "key:%d", i);
        apr_uint32_t a = sc_tier_ring_pick(r3, key, (apr_size_t)len);
        apr_uint32_t b = sc_tier_ring_pick(r4, key, (apr_size_t)len);
        counts[a]++;
        if (a != b) {
            moved++;
            ck_assert_msg(b == 3, "key %s moved from server %u to old server %u", key, a, b);
        }
    }
    /* ideal 1/4; a modulo hash would move 3/4 */
    ck_assert_msg(moved > 30000 * 15 / 100 && moved < 30000 * 35 / 100,
                  "%d of 30000 keys moved", moved);
    for (i = 0; i < 3; i++)
        ck_assert_msg(counts[i] > 30000 / 5, "server %d got only %d keys", i, counts[i]);
}
END_TEST

START_TEST(any_key_maps_to_a_short_printable_l2_key)
{
    char out[SC_TIER_KEY_MAX + 1], out2[SC_TIER_KEY_MAX + 1];
    char big[5000];
    apr_size_t n, i;

    n = sc_tier_key_map("p:", "plain-key", 9, out);
    ck_assert_str_eq(out, "p:plain-key");
    ck_assert_uint_eq(n, 11);
    memset(big, 'x', sizeof(big));
    big[10] = ' ';
    big[20] = '\0';
    big[30] = '\n';
    n = sc_tier_key_map("", big, sizeof(big), out);
    ck_assert_uint_le(n, 250);
    for (i = 0; i < n; i++)
        ck_assert(out[i] > 0x20 && out[i] < 0x7f);
    big[4999] = 'y';
    sc_tier_key_map("", big, sizeof(big), out2);
    ck_assert_str_ne(out, out2);
    /* a kept key never looks like a hashed one */
    sc_tier_key_map("", "~abc", 4, out);
    ck_assert_uint_eq(strlen(out), 33);
}
END_TEST

START_TEST(options_are_checked_before_anything_connects)
{
    shmcache_tier_options_t o;
    const char *why = NULL;

    shmcache_tier_options_init(&o);
    o.url = "http://x";
    th_status(shmcache_tier_options_check(&o, &why, th_pool), SHMCACHE_EINVAL);
    ck_assert_ptr_nonnull(why);
    o.url = "memcache://a:11211,b:99999";
    th_status(shmcache_tier_options_check(&o, &why, th_pool), SHMCACHE_EINVAL);
    o.url = "redis://a,b:7000";
    th_ok(shmcache_tier_options_check(&o, &why, th_pool));
    th_ok(shmcache_tier_pool_parse(&o, "1,2,4,500"));
    ck_assert_uint_eq(o.pool_min, 1);
    ck_assert_uint_eq(o.pool_ttl_ms, 500);
    th_status(shmcache_tier_pool_parse(&o, "1,x"), SHMCACHE_EINVAL);
    th_ok(shmcache_tier_pool_parse(&o, "4,2,8"));
    th_status(shmcache_tier_options_check(&o, &why, th_pool), SHMCACHE_EINVAL);
    th_ok(shmcache_tier_pool_parse(&o, "0,2,8"));
    o.invalidate_ms = 5;
    th_status(shmcache_tier_options_check(&o, &why, th_pool), SHMCACHE_EINVAL);
    o.invalidate_ms = 50;
    th_ok(shmcache_tier_options_check(&o, &why, th_pool));
}
END_TEST

/* ------------------------------------------------------------------------
 * Two machines sharing an L2
 * ---------------------------------------------------------------------- */

START_TEST(a_value_set_on_a_is_read_on_b)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    shmcache_tier_stats_t st;

    setup_for(_i);
    tier_opts(&o);
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    th_ok(tset(a, "greeting", "hello from A"));
    ck_assert_str_eq(tget(b, "greeting"), "hello from A");
    ck_assert_str_eq(tget(b, "greeting"), "hello from A");
    shmcache_tier_stats(b, &st);
    ck_assert_uint_eq(st.l2_hits, 1);       /* then from B's own L1 */
    ck_assert_uint_eq(st.l1_hits, 1);
    ck_assert_ptr_null(tget(b, "never-set"));
    /* the L1 copy on B lives at most l1_ttl */
    {
        shmcache_meta_t m;
        th_ok(shmcache_get_meta(seg_b, "greeting", 8, &m));
        ck_assert_uint_le(m.ttl, 1);
    }
    th_status(shmcache_tier_cas(a, "greeting", 8, "x", 1, 0, 1, NULL), APR_ENOTIMPL);
    teardown_l2();
}
END_TEST

START_TEST(a_delete_on_a_is_seen_by_b_within_the_l1_ttl)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    apr_time_t start;
    double bound_ms;

    setup_for(_i);
    tier_opts(&o);
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    th_ok(tset(a, "doomed", "v"));
    ck_assert_str_eq(tget(b, "doomed"), "v");      /* now in B's L1 */
    th_ok(shmcache_tier_delete(a, "doomed", 6));
    ck_assert_ptr_null(tget(a, "doomed"));
    start = apr_time_now();
    while (tget(b, "doomed") != NULL && ms_since(start) < 5000)
        apr_sleep(apr_time_from_msec(20));
    /* l1_ttl plus one second of TTL rounding */
    bound_ms = o.l1_ttl * 1000.0 + 1000.0 + 100.0;
    ck_assert_msg(ms_since(start) <= bound_ms, "B saw the delete after %.0f ms (bound %.0f)",
                  ms_since(start), bound_ms);
    teardown_l2();
}
END_TEST

/* Wait until B's get of key answers want (NULL: a miss); the ms it took,
 * or -1 after limit_ms. */
static double ms_until(shmcache_tier_t *b, const char *key, const char *want,
                       double limit_ms)
{
    apr_time_t start = apr_time_now();
    const char *v;

    for (;;) {
        v = tget(b, key);
        if (want ? v && strcmp(v, want) == 0 : v == NULL)
            return ms_since(start);
        if (ms_since(start) > limit_ms)
            return -1;
        apr_sleep(apr_time_from_msec(2));
    }
}

START_TEST(with_invalidation_a_write_on_a_drops_b_s_copy_at_once)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    shmcache_tier_stats_t sa, sb;
    double set_ms, del_ms, incr_ms;
    apr_uint64_t n;

    setup_for(_i);
    tier_opts(&o);
    o.l1_ttl = 60;                  /* without the channel: stale for 60 s */
    o.invalidate_ms = 20;
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    apr_sleep(apr_time_from_msec(100));     /* both pollers know the log */
    th_ok(tset(a, "news", "old"));
    ck_assert_str_eq(tget(b, "news"), "old");  /* now in B's L1 */
    ck_assert_str_eq(tget(b, "news"), "old");
    th_ok(tset(a, "news", "new"));
    set_ms = ms_until(b, "news", "new", 2000);
    th_ok(shmcache_tier_delete(a, "news", 4));
    del_ms = ms_until(b, "news", NULL, 2000);
    th_ok(shmcache_tier_incr(a, "count", 5, 1, &(apr_uint64_t){10}, 0, &n));
    ck_assert_str_eq(tget(b, "count"), "10");
    th_ok(shmcache_tier_incr(a, "count", 5, 1, NULL, 0, &n));
    incr_ms = ms_until(b, "count", "11", 2000);
    printf("invalidation (%s): set seen after %.1f ms, delete %.1f ms, incr %.1f ms\n",
           _i == 0 ? "memcached" : "redis", set_ms, del_ms, incr_ms);
    /* 100 ms is the goal (poll 20 ms + two L2 calls); a loaded CI machine
     * gets slack, the 60 s of l1_ttl are far away either way */
    ck_assert_msg(set_ms >= 0 && set_ms < 500, "set seen after %.1f ms", set_ms);
    ck_assert_msg(del_ms >= 0 && del_ms < 500, "delete seen after %.1f ms", del_ms);
    ck_assert_msg(incr_ms >= 0 && incr_ms < 500, "incr seen after %.1f ms", incr_ms);
    shmcache_tier_stats(a, &sa);
    shmcache_tier_stats(b, &sb);
    ck_assert_uint_ge(sa.inval_sent, 4);
    ck_assert_uint_ge(sb.inval_applied, 3);
    ck_assert_uint_eq(sa.inval_lost + sb.inval_lost, 0);
    /* A's own announcements do not drop A's fresh copy */
    th_ok(tset(a, "mine", "kept"));
    apr_sleep(apr_time_from_msec(100));
    shmcache_tier_stats(a, &sa);
    ck_assert_str_eq(tget(a, "mine"), "kept");
    {
        shmcache_tier_stats_t sa2;
        shmcache_tier_stats(a, &sa2);
        ck_assert_uint_eq(sa2.l1_hits, sa.l1_hits + 1);
    }
    teardown_l2();
}
END_TEST

typedef struct incr_arg_t {
    shmcache_tier_t *t;
    int n;
    int failures;
} incr_arg_t;

static void *APR_THREAD_FUNC incr_main(apr_thread_t *thd, void *data)
{
    incr_arg_t *a = data;
    apr_uint64_t r;
    int i;

    for (i = 0; i < a->n; i++)
        if (shmcache_tier_incr(a->t, "hits", 4, 1, NULL, 0, &r) != APR_SUCCESS)
            a->failures++;
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

START_TEST(increments_from_both_machines_add_up_exactly)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    shmcache_tier_stats_t sa, sb;
    incr_arg_t args[4];
    apr_thread_t *thr[4];
    apr_status_t trv;
    apr_uint64_t r, zero = 0;
    int i;

    setup_for(_i);
    tier_opts(&o);
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    th_ok(shmcache_tier_incr(a, "hits", 4, 1, &zero, 0, &r));
    ck_assert_uint_eq(r, 0);
    for (i = 0; i < 4; i++) {
        args[i].t = i < 2 ? a : b;
        args[i].n = 250;
        args[i].failures = 0;
        th_ok(apr_thread_create(&thr[i], NULL, incr_main, &args[i], th_pool));
    }
    for (i = 0; i < 4; i++) {
        apr_thread_join(&trv, thr[i]);
        ck_assert_int_eq(args[i].failures, 0);
    }
    th_ok(shmcache_tier_incr(b, "hits", 4, 0, NULL, 0, &r));
    ck_assert_uint_eq(r, 1000);
    shmcache_tier_stats(a, &sa);
    shmcache_tier_stats(b, &sb);
    ck_assert_uint_eq(sa.l2_errors + sa.l2_timeouts + sb.l2_errors + sb.l2_timeouts, 0);
    /* the result is in L1 too */
    ck_assert_str_eq(tget(b, "hits"), "1000");
    /* a value that is not a number: refused, and the breaker stays shut */
    th_ok(tset(a, "word", "text"));
    for (i = 0; i < 8; i++)
        th_status(shmcache_tier_incr(a, "word", 4, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    shmcache_tier_stats(a, &sa);
    ck_assert_uint_eq(sa.breaker_trips, 0);
    teardown_l2();
}
END_TEST

START_TEST(a_long_binary_key_works_across_machines)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    char key[1500];
    void *v;
    apr_size_t n, i;

    setup_for(_i);
    tier_opts(&o);
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    for (i = 0; i < sizeof(key); i++)
        key[i] = (char)(i * 7);         /* NULs, spaces, control bytes */
    th_ok(shmcache_tier_set(a, key, sizeof(key), "long", 4, 60));
    th_ok(shmcache_tier_get(b, key, sizeof(key), &v, &n, th_pool));
    ck_assert_uint_eq(n, 4);
    ck_assert(memcmp(v, "long", 4) == 0);
    /* a key differing in its last byte is another key */
    key[sizeof(key) - 1] ^= 1;
    th_status(shmcache_tier_get(b, key, sizeof(key), &v, &n, th_pool), SHMCACHE_NOTFOUND);
    teardown_l2();
}
END_TEST

START_TEST(add_replace_touch_and_neg_ttl_follow_l2)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    shmcache_tier_stats_t st;

    setup_for(_i);
    tier_opts(&o);
    o.neg_ttl = 30;
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    th_ok(shmcache_tier_add(a, "once", 4, "first", 5, 60));
    th_status(shmcache_tier_add(b, "once", 4, "second", 6, 60), SHMCACHE_EXISTS);
    th_status(shmcache_tier_replace(b, "nobody", 6, "x", 1, 60), SHMCACHE_NOTFOUND);
    th_ok(shmcache_tier_replace(b, "once", 4, "third", 5, 60));
    ck_assert_str_eq(tget(a, "once") , "first");    /* A's L1 copy, bounded */
    apr_sleep(apr_time_from_msec(2100));
    ck_assert_str_eq(tget(a, "once"), "third");
    th_ok(shmcache_tier_touch(a, "once", 4, 120));
    th_status(shmcache_tier_touch(a, "gone", 4, 120), SHMCACHE_NOTFOUND);
    /* neg_ttl: a miss is remembered, so B does not ask L2 again */
    ck_assert_ptr_null(tget(b, "absent"));
    ck_assert_ptr_null(tget(b, "absent"));
    shmcache_tier_stats(b, &st);
    ck_assert_uint_eq(st.neg_hits, 1);
    teardown_l2();
}
END_TEST

START_TEST(keys_spread_over_both_memcached_servers)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a;
    apr_memcache_server_t *ms;
    apr_memcache_stats_t *st;
    char key[32];
    int i;

    setup_kind(SC_L2_MEMCACHE);
    tier_opts(&o);
    a = tier_on(seg_a, &o);
    for (i = 0; i < 400; i++) {
        snprintf(key, sizeof(key), "spread:%d", i);
        th_ok(tset(a, key, "v"));
    }
    for (i = 0; i < 2; i++) {
        th_ok(apr_memcache_server_create(th_pool, "127.0.0.1", (apr_port_t)servers[i].port,
                                         0, 1, 1, 60000000, &ms));
        th_ok(apr_memcache_stats(ms, th_pool, &st));
        ck_assert_msg(st->curr_items > 100 && st->curr_items < 300,
                      "server %d holds %u of 400 keys", i, st->curr_items);
    }
    teardown_l2();
}
END_TEST

/* ------------------------------------------------------------------------
 * L2 failures
 * ---------------------------------------------------------------------- */

/* Gets (L1 misses) and sets on t: each must answer within limit_ms. */
static void calls_are_bounded(shmcache_tier_t *t, int n, double limit_ms, const char *what)
{
    char key[32];
    apr_time_t start;
    double worst = 0, ms;
    int i;

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s:%d", what, i);
        start = apr_time_now();
        ck_assert_ptr_null(tget(t, key));
        ms = ms_since(start);
        worst = ms > worst ? ms : worst;
        start = apr_time_now();
        th_ok(tset(t, key, "local"));
        ms = ms_since(start);
        worst = ms > worst ? ms : worst;
        ck_assert_str_eq(tget(t, key), "local");    /* L1 still serves */
    }
    printf("%s: the slowest of %d gets and sets took %.1f ms (limit %.0f)\n", what, n,
           worst, limit_ms);
    ck_assert_msg(worst <= limit_ms, "%s: a call took %.1f ms (limit %.0f)", what, worst, limit_ms);
}

START_TEST(with_every_server_stopped_calls_answer_and_the_tier_resumes)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a, *b;
    shmcache_tier_stats_t st;
    apr_time_t start;
    int i, ok = 0;

    setup_for(_i);
    tier_opts(&o);
    o.timeout_ms = 50;
    a = tier_on(seg_a, &o);
    b = tier_on(seg_b, &o);
    th_ok(tset(a, "before", "1"));
    for (i = 0; i < nservers; i++)
        l2_stop(&servers[i]);
    calls_are_bounded(a, 30, o.timeout_ms + 100.0, "down");
    shmcache_tier_stats(a, &st);
    ck_assert_msg(st.l2_errors + st.l2_timeouts >= o.breaker_failures,
                  "errors %" APR_UINT64_T_FMT " timeouts %" APR_UINT64_T_FMT,
                  st.l2_errors, st.l2_timeouts);
    ck_assert_uint_ge(st.breaker_trips, 1);
    ck_assert_uint_gt(st.l2_skipped, 0);
    ck_assert_uint_eq(st.servers, (apr_uint32_t)nservers);

    for (i = 0; i < nservers; i++)
        l2_start(&servers[i]);     /* same ports */
    start = apr_time_now();
    while (!ok && ms_since(start) < 5000) {
        char key[32];
        snprintf(key, sizeof(key), "after:%d", (int)ms_since(start));
        if (tset(a, key, "back") == APR_SUCCESS) {
            const char *v = tget(b, key);
            ok = v && strcmp(v, "back") == 0;
        }
        if (!ok)
            apr_sleep(apr_time_from_msec(50));
    }
    ck_assert_msg(ok, "the tier did not resume within 5 s of the restart");
    teardown_l2();
}
END_TEST

START_TEST(a_server_that_never_answers_costs_at_most_the_timeout)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a;
    shmcache_tier_stats_t st;
    apr_socket_t *hang;
    apr_sockaddr_t *sa;
    int port;

    setup_for(_i);
    port = free_port();
    th_ok(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, (apr_port_t)port, 0, th_pool));
    th_ok(apr_socket_create(&hang, APR_INET, SOCK_STREAM, APR_PROTO_TCP, th_pool));
    th_ok(apr_socket_opt_set(hang, APR_SO_REUSEADDR, 1));
    th_ok(apr_socket_bind(hang, sa));
    th_ok(apr_socket_listen(hang, 64));     /* accepts (backlog), never reads */
    tier_opts(&o);
    o.timeout_ms = 50;
    o.url = apr_psprintf(th_pool, "%s127.0.0.1:%d",
                         _i == 0 ? "memcache://" : "redis://", port);
    a = tier_on(seg_a, &o);
    calls_are_bounded(a, 20, o.timeout_ms + 100.0, "hang");
    shmcache_tier_stats(a, &st);
    ck_assert_uint_ge(st.l2_timeouts, o.breaker_failures);
    ck_assert_uint_ge(st.breaker_trips, 1);
    apr_socket_close(hang);     /* releases the workers stuck on it */
    teardown_l2();
}
END_TEST

/* ------------------------------------------------------------------------
 * The connection pool, counted by the servers
 * ---------------------------------------------------------------------- */

typedef struct load_arg_t {
    shmcache_tier_t *t;
    int id;
    atomic_int *stop;
} load_arg_t;

static void *APR_THREAD_FUNC load_main(apr_thread_t *thd, void *data)
{
    load_arg_t *a = data;
    apr_pool_t *p;
    char key[32];
    void *v;
    apr_size_t n;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; !atomic_load(a->stop) && i < 400; i++) {
        snprintf(key, sizeof(key), "load:%d:%d", a->id, i);
        shmcache_tier_set(a->t, key, strlen(key), "v", 1, 60);
        shmcache_delete(shmcache_tier_l1(a->t), key, strlen(key));
        shmcache_tier_get(a->t, key, strlen(key), &v, &n, p);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

START_TEST(many_threads_never_open_more_than_max_and_idle_ones_close)
{
    shmcache_tier_options_t o;
    shmcache_tier_t *a;
    apr_thread_t *thr[16];
    load_arg_t args[16];
    atomic_int stop = 0;
    long base[2], peak[2] = { 0, 0 }, now;
    apr_status_t trv;
    apr_time_t start;
    int i, s, alive;

    setup_for(_i);
    for (s = 0; s < nservers; s++)
        base[s] = server_conns(&servers[s]);
    tier_opts(&o);
    o.timeout_ms = 2000;
    th_ok(shmcache_tier_pool_parse(&o, "0,1,3,200"));
    a = tier_on(seg_a, &o);
    for (i = 0; i < 16; i++) {
        args[i].t = a;
        args[i].id = i;
        args[i].stop = &stop;
        th_ok(apr_thread_create(&thr[i], NULL, load_main, &args[i], th_pool));
    }
    start = apr_time_now();
    do {
        for (s = 0; s < nservers; s++) {
            now = server_conns(&servers[s]) - base[s];
            peak[s] = now > peak[s] ? now : peak[s];
        }
        alive = ms_since(start) < 3000;
    } while (alive);
    atomic_store(&stop, 1);
    for (i = 0; i < 16; i++)
        apr_thread_join(&trv, thr[i]);
    for (s = 0; s < nservers; s++)
        fprintf(stderr, "pool: %s server %d: peak %ld connections from 16 threads "
                "(max 3)\n", kind_under_test == SC_L2_MEMCACHE ? "memcached" : "redis",
                s, peak[s]);
    for (s = 0; s < nservers; s++) {
        ck_assert_msg(peak[s] <= 3, "server %d saw %ld connections (max 3)", s, peak[s]);
        ck_assert_msg(peak[s] >= 2, "server %d saw only %ld connections: no load?", s, peak[s]);
    }
    /* idle beyond smax (1) close after ttl (200 ms) */
    apr_sleep(apr_time_from_msec(1500));
    for (s = 0; s < nservers; s++) {
        now = server_conns(&servers[s]) - base[s];
        fprintf(stderr, "pool: server %d: %ld connections 1.5 s after the load "
                "(smax 1, ttl 200 ms)\n", s, now);
        ck_assert_msg(now <= 1, "server %d: %ld idle connections left (smax 1)", s, now);
    }
    teardown_l2();
}
END_TEST

/* ------------------------------------------------------------------------
 * shmcache-cli --l2
 * ---------------------------------------------------------------------- */

static int cli(const char *path, const char *url, const char *const *args, char **out)
{
    const char *argv[16];
    int i = 0, j;

    argv[i++] = SC_CLI_PATH;
    argv[i++] = "-f";
    argv[i++] = path;
    argv[i++] = "--l2";
    argv[i++] = url;
    argv[i++] = "--l1-ttl";
    argv[i++] = "1";
    for (j = 0; args[j]; j++)
        argv[i++] = args[j];
    argv[i] = NULL;
    return th_run(argv, NULL, 0, out, NULL, NULL);
}

START_TEST(the_cli_goes_through_the_tier_with_l2)
{
    const char *pa, *pb, *url;
    const char *set[] = { "set", "cli-key", "from the cli", NULL };
    const char *get[] = { "get", "cli-key", NULL };
    const char *incr[] = { "incr", "cli-n", "2", "--init", "10", NULL };
    const char *incr2[] = { "incr", "cli-n", "5", NULL };
    const char *del[] = { "del", "cli-key", NULL };
    const char *stats[] = { "stats", "--json", NULL };
    char *out;
    apr_time_t start;
    int i;

    setup_for(_i);
    url = l2_url();
    pa = shmcache_path_get(seg_a);
    pb = shmcache_path_get(seg_b);
    ck_assert_int_eq(cli(pa, url, set, &out), 0);
    ck_assert_int_eq(cli(pb, url, get, &out), 0);
    ck_assert_str_eq(out, "from the cli");
    ck_assert_int_eq(cli(pa, url, incr, &out), 0);
    ck_assert_str_eq(out, "10\n");
    ck_assert_int_eq(cli(pb, url, incr2, &out), 0);
    ck_assert_str_eq(out, "15\n");
    ck_assert_int_eq(cli(pb, url, stats, &out), 0);
    ck_assert_msg(strstr(out, "\"l2\": {") && strstr(out, "\"up\": true"), "%s", out);
    ck_assert_int_eq(cli(pa, url, del, &out), 0);
    apr_sleep(apr_time_from_msec(2100));    /* B's L1 copy expires */
    ck_assert_int_eq(cli(pb, url, get, &out), 1);
    /* L2 down: the CLI still answers from L1, at once */
    for (i = 0; i < nservers; i++)
        l2_stop(&servers[i]);
    start = apr_time_now();
    ck_assert_int_eq(cli(pa, url, set, &out), 0);
    ck_assert_int_eq(cli(pa, url, get, &out), 0);
    ck_assert_str_eq(out, "from the cli");
    ck_assert_int_eq(cli(pa, url, stats, &out), 0);
    ck_assert_msg(strstr(out, "\"up\": false"), "%s", out);
    ck_assert_msg(ms_since(start) < 1500, "the CLI took %.0f ms with L2 down",
                  ms_since(start));
    teardown_l2();
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("tier");
    TCase *tc = tcase_create("ring");
    TCase *l2 = tcase_create("l2");

    tcase_add_checked_fixture(tc, setup_plain, th_teardown);
    tcase_add_test(tc, adding_a_server_moves_few_keys_and_none_between_the_others);
    tcase_add_test(tc, any_key_maps_to_a_short_printable_l2_key);
    tcase_add_test(tc, options_are_checked_before_anything_connects);
    suite_add_tcase(s, tc);

    /* the fixture is per kind, so each test sets up and tears down itself */
    tcase_set_timeout(l2, 60);
    tcase_add_loop_test(l2, a_value_set_on_a_is_read_on_b, 0, 2);
    tcase_add_loop_test(l2, a_delete_on_a_is_seen_by_b_within_the_l1_ttl, 0, 2);
    tcase_add_loop_test(l2, with_invalidation_a_write_on_a_drops_b_s_copy_at_once, 0, 2);
    tcase_add_loop_test(l2, increments_from_both_machines_add_up_exactly, 0, 2);
    tcase_add_loop_test(l2, a_long_binary_key_works_across_machines, 0, 2);
    tcase_add_loop_test(l2, add_replace_touch_and_neg_ttl_follow_l2, 0, 2);
    tcase_add_test(l2, keys_spread_over_both_memcached_servers);
    tcase_add_loop_test(l2, with_every_server_stopped_calls_answer_and_the_tier_resumes, 0, 2);
    tcase_add_loop_test(l2, a_server_that_never_answers_costs_at_most_the_timeout, 0, 2);
    tcase_add_loop_test(l2, many_threads_never_open_more_than_max_and_idle_ones_close, 0, 2);
    tcase_add_loop_test(l2, the_cli_goes_through_the_tier_with_l2, 0, 2);
    suite_add_tcase(s, l2);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
