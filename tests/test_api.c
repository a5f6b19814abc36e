/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api.c - every public operation and every status it documents, on a
 * real segment.
 */
#include "harness.h"

#include <apr_strings.h>
#include <string.h>

static shmcache_t *cache;

/* A fresh 1 MiB cache with small limits so the limits are easy to hit. */
static shmcache_t *small_cache(apr_uint32_t max_key, apr_uint32_t max_value,
                               apr_uint32_t default_ttl)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.max_key = max_key;
    o.max_value = max_value;
    o.default_ttl = default_ttl;
    th_ok(shmcache_create(&c, th_path("api"), &o, th_pool));
    return c;
}

static void setup(void)
{
    th_setup();
    cache = small_cache(250, 4096, 0);
}

static void teardown(void)
{
    shmcache_close(cache);
    th_teardown();
}

/* The value stored under a NUL-terminated key, or NULL on a miss. */
static const char *get_str(const char *key)
{
    void *v;
    apr_size_t n;
    apr_status_t rv = shmcache_get(cache, key, strlen(key), &v, &n, NULL, th_pool);

    if (rv == SHMCACHE_NOTFOUND)
        return NULL;
    th_ok(rv);
    return v;
}

static apr_status_t set_str(const char *key, const char *value, apr_uint32_t ttl)
{
    return shmcache_set(cache, key, strlen(key), value, strlen(value), ttl, NULL);
}

START_TEST(a_set_value_is_returned_by_get)
{
    th_ok(set_str("alpha", "one", 0));
    ck_assert_str_eq(get_str("alpha"), "one");
}
END_TEST

START_TEST(set_replaces_the_previous_value)
{
    th_ok(set_str("k", "first", 0));
    th_ok(set_str("k", "second, longer value", 0));
    ck_assert_str_eq(get_str("k"), "second, longer value");
    th_ok(set_str("k", "3", 0));
    ck_assert_str_eq(get_str("k"), "3");
}
END_TEST

START_TEST(get_of_a_missing_key_is_notfound)
{
    void *v;
    apr_size_t n;
    th_status(shmcache_get(cache, "nope", 4, &v, &n, NULL, th_pool), SHMCACHE_NOTFOUND);
}
END_TEST

START_TEST(keys_and_values_are_binary_safe)
{
    const char key[] = {'a', 0, 'b', 0, (char)0xff};
    const char val[] = {0, 1, 2, 0, (char)0x80, 0};
    const char other[] = {'a', 0, 'b', 0, (char)0xfe};
    char buf[16];
    apr_size_t n;

    th_ok(shmcache_set(cache, key, sizeof key, val, sizeof val, 0, NULL));
    th_ok(shmcache_get_buf(cache, key, sizeof key, buf, sizeof buf, &n, NULL));
    ck_assert_uint_eq(n, sizeof val);
    ck_assert_mem_eq(buf, val, sizeof val);
    th_status(shmcache_get_buf(cache, other, sizeof other, buf, sizeof buf, &n, NULL),
              SHMCACHE_NOTFOUND);
}
END_TEST

START_TEST(an_empty_value_is_a_value)
{
    void *v;
    apr_size_t n = 99;

    th_ok(shmcache_set(cache, "e", 1, NULL, 0, 0, NULL));
    th_ok(shmcache_get(cache, "e", 1, &v, &n, NULL, th_pool));
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(get_buf_reports_the_length_when_the_buffer_is_small)
{
    char buf[4];
    apr_size_t n = 0;

    th_ok(set_str("k", "0123456789", 0));
    th_status(shmcache_get_buf(cache, "k", 1, buf, sizeof buf, &n, NULL), SHMCACHE_EBUFSIZE);
    ck_assert_uint_eq(n, 10);
    th_status(shmcache_get_buf(cache, "k", 1, NULL, 0, &n, NULL), SHMCACHE_EBUFSIZE);
    ck_assert_uint_eq(n, 10);
}
END_TEST

START_TEST(add_refuses_an_existing_key)
{
    th_ok(shmcache_add(cache, "k", 1, "v1", 2, 0, NULL));
    th_status(shmcache_add(cache, "k", 1, "v2", 2, 0, NULL), SHMCACHE_EXISTS);
    ck_assert_str_eq(get_str("k"), "v1");
}
END_TEST

START_TEST(replace_refuses_a_missing_key)
{
    th_status(shmcache_replace(cache, "k", 1, "v", 1, 0, NULL), SHMCACHE_NOTFOUND);
    ck_assert_ptr_null(get_str("k"));
    th_ok(set_str("k", "old", 0));
    th_ok(shmcache_replace(cache, "k", 1, "new", 3, 0, NULL));
    ck_assert_str_eq(get_str("k"), "new");
}
END_TEST

START_TEST(cas_succeeds_only_on_the_current_version)
{
    apr_uint64_t v1, v2, v3;
    shmcache_meta_t meta;

    th_ok(shmcache_set(cache, "k", 1, "a", 1, 0, &v1));
    th_ok(shmcache_get_meta(cache, "k", 1, &meta));
    ck_assert_uint_eq(meta.version, v1);
    th_ok(shmcache_cas(cache, "k", 1, "b", 1, 0, v1, &v2));
    ck_assert_uint_ne(v1, v2);
    th_status(shmcache_cas(cache, "k", 1, "c", 1, 0, v1, &v3), SHMCACHE_EMISMATCH);
    ck_assert_str_eq(get_str("k"), "b");
    th_status(shmcache_cas(cache, "missing", 7, "c", 1, 0, v2, NULL), SHMCACHE_NOTFOUND);
}
END_TEST

START_TEST(every_write_gets_a_new_version)
{
    apr_uint64_t a, b, c;

    th_ok(shmcache_set(cache, "x", 1, "1", 1, 0, &a));
    th_ok(shmcache_set(cache, "y", 1, "1", 1, 0, &b));
    th_ok(shmcache_set(cache, "x", 1, "1", 1, 0, &c));
    ck_assert(a != b && b != c && a != c);
}
END_TEST

START_TEST(delete_removes_and_then_reports_notfound)
{
    th_ok(set_str("k", "v", 0));
    th_ok(shmcache_delete(cache, "k", 1));
    ck_assert_ptr_null(get_str("k"));
    th_status(shmcache_delete(cache, "k", 1), SHMCACHE_NOTFOUND);
}
END_TEST

START_TEST(incr_adds_and_decrement_stops_at_zero)
{
    apr_uint64_t r, init = 10;

    th_status(shmcache_incr(cache, "n", 1, 1, NULL, 0, &r), SHMCACHE_NOTFOUND);
    th_ok(shmcache_incr(cache, "n", 1, 5, &init, 0, &r));
    ck_assert_uint_eq(r, 10);        /* initial value stored as is */
    th_ok(shmcache_incr(cache, "n", 1, 5, &init, 0, &r));
    ck_assert_uint_eq(r, 15);
    ck_assert_str_eq(get_str("n"), "15");
    th_ok(shmcache_incr(cache, "n", 1, -100, NULL, 0, &r));
    ck_assert_uint_eq(r, 0);
    ck_assert_str_eq(get_str("n"), "0");
}
END_TEST

START_TEST(incr_wraps_past_the_largest_number)
{
    apr_uint64_t r;

    th_ok(set_str("n", "18446744073709551615", 0));
    th_ok(shmcache_incr(cache, "n", 1, 2, NULL, 0, &r));
    ck_assert_uint_eq(r, 1);
}
END_TEST

START_TEST(incr_refuses_a_value_that_is_not_a_number)
{
    apr_uint64_t r;

    th_ok(set_str("s", "12a", 0));
    th_status(shmcache_incr(cache, "s", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(set_str("s", "", 0));
    th_status(shmcache_incr(cache, "s", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(set_str("s", "18446744073709551616", 0));
    th_status(shmcache_incr(cache, "s", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    th_ok(set_str("s", "-1", 0));
    th_status(shmcache_incr(cache, "s", 1, 1, NULL, 0, &r), SHMCACHE_ENOTNUM);
    ck_assert_str_eq(get_str("s"), "-1");
}
END_TEST

START_TEST(incr_keeps_the_entry_expiry)
{
    shmcache_meta_t m;
    apr_uint64_t r;

    th_ok(set_str("n", "1", 100));
    th_ok(shmcache_incr(cache, "n", 1, 1, NULL, 0, &r));
    th_ok(shmcache_get_meta(cache, "n", 1, &m));
    ck_assert_uint_le(m.ttl, 100);
    ck_assert_uint_ge(m.ttl, 98);
}
END_TEST

START_TEST(get_after_expiry_is_a_miss)
{
    th_ok(set_str("short", "v", 1));
    th_ok(set_str("long", "v", 100));
    ck_assert_str_eq(get_str("short"), "v");
    apr_sleep(apr_time_from_msec(2100));
    ck_assert_ptr_null(get_str("short"));
    ck_assert_str_eq(get_str("long"), "v");
    /* an expired key can be added again */
    th_ok(shmcache_add(cache, "short", 5, "w", 1, 0, NULL));
}
END_TEST

START_TEST(the_default_ttl_applies_when_none_is_given)
{
    shmcache_meta_t m;

    shmcache_close(cache);
    cache = small_cache(250, 4096, 50);
    th_ok(set_str("d", "v", SHMCACHE_TTL_DEFAULT));
    th_ok(shmcache_get_meta(cache, "d", 1, &m));
    ck_assert_uint_le(m.ttl, 50);
    ck_assert_uint_ge(m.ttl, 49);
    ck_assert(m.expires > apr_time_now());
    th_ok(set_str("f", "v", SHMCACHE_TTL_FOREVER));
    th_ok(shmcache_get_meta(cache, "f", 1, &m));
    ck_assert_uint_eq(m.ttl, SHMCACHE_TTL_FOREVER);
    ck_assert(m.expires == 0);
}
END_TEST

START_TEST(touch_changes_the_ttl_but_not_the_value)
{
    shmcache_meta_t before, after;

    th_ok(set_str("t", "v", 1));
    th_ok(shmcache_get_meta(cache, "t", 1, &before));
    th_ok(shmcache_touch(cache, "t", 1, 100));
    th_ok(shmcache_get_meta(cache, "t", 1, &after));
    ck_assert_uint_ge(after.ttl, 99);
    ck_assert_uint_eq(after.version, before.version);
    apr_sleep(apr_time_from_msec(2100));
    ck_assert_str_eq(get_str("t"), "v");
    th_status(shmcache_touch(cache, "none", 4, 10), SHMCACHE_NOTFOUND);
    th_status(shmcache_touch(cache, "t", 1, SHMCACHE_TTL_MAX + 1), SHMCACHE_ETTL);
}
END_TEST

START_TEST(flush_empties_the_cache)
{
    shmcache_stats_t st;
    char why[256];

    th_ok(set_str("a", "1", 0));
    th_ok(set_str("b", "2", 0));
    th_ok(shmcache_flush(cache));
    ck_assert_ptr_null(get_str("a"));
    ck_assert_ptr_null(get_str("b"));
    th_ok(shmcache_stats(cache, &st));
    ck_assert_uint_eq(st.items, 0);
    ck_assert_uint_eq(st.flushes, 1);
    th_ok(shmcache_check(cache, why, sizeof why));
    th_ok(set_str("a", "again", 0));
    ck_assert_str_eq(get_str("a"), "again");
}
END_TEST

START_TEST(a_key_over_the_limit_is_refused)
{
    char key[300];
    void *v;
    apr_size_t n;

    memset(key, 'k', sizeof key);
    th_status(shmcache_set(cache, key, 251, "v", 1, 0, NULL), SHMCACHE_EKEYLEN);
    th_ok(shmcache_set(cache, key, 250, "v", 1, 0, NULL));
    th_status(shmcache_get(cache, key, 251, &v, &n, NULL, th_pool), SHMCACHE_EKEYLEN);
    th_status(shmcache_set(cache, key, 0, "v", 1, 0, NULL), SHMCACHE_EKEYLEN);
    th_status(shmcache_delete(cache, key, 251), SHMCACHE_EKEYLEN);
}
END_TEST

START_TEST(a_value_over_the_limit_is_refused_and_the_old_one_stays)
{
    char big[5000];

    memset(big, 'v', sizeof big);
    th_ok(set_str("k", "small", 0));
    th_status(shmcache_set(cache, "k", 1, big, 4097, 0, NULL), SHMCACHE_EVALLEN);
    ck_assert_str_eq(get_str("k"), "small");
    th_ok(shmcache_set(cache, "k", 1, big, 4096, 0, NULL));
}
END_TEST

START_TEST(a_ttl_over_the_limit_is_refused)
{
    th_status(set_str("k", "v", SHMCACHE_TTL_MAX + 1), SHMCACHE_ETTL);
    th_ok(set_str("k", "v", SHMCACHE_TTL_MAX));
}
END_TEST

START_TEST(long_keys_up_to_the_configured_limit_work)
{
    char key[65535];
    shmcache_t *big;
    shmcache_options_t o;
    void *v;
    apr_size_t n;

    shmcache_options_init(&o);
    o.size = 4 << 20;
    o.max_key = 65535;
    th_ok(shmcache_create(&big, th_path("bigkey"), &o, th_pool));
    memset(key, 'x', sizeof key);
    key[65534] = 'y';
    th_ok(shmcache_set(big, key, sizeof key, "v", 1, 0, NULL));
    th_ok(shmcache_get(big, key, sizeof key, &v, &n, NULL, th_pool));
    ck_assert_str_eq(v, "v");
    shmcache_close(big);
}
END_TEST

START_TEST(stats_count_the_operations)
{
    shmcache_stats_t st;
    apr_uint64_t r;

    th_ok(set_str("a", "1", 0));
    th_ok(shmcache_add(cache, "b", 1, "2", 1, 0, NULL));
    get_str("a");
    get_str("zz");
    th_ok(shmcache_delete(cache, "b", 1));
    th_ok(shmcache_incr(cache, "a", 1, 1, NULL, 0, &r));
    th_ok(shmcache_stats(cache, &st));
    ck_assert_uint_eq(st.sets, 1);
    ck_assert_uint_eq(st.adds, 1);
    ck_assert_uint_eq(st.gets, 2);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert_uint_eq(st.deletes, 1);
    ck_assert_uint_eq(st.incrs, 1);
    ck_assert_uint_eq(st.items, 1);
    ck_assert_uint_eq(st.attached, 1);
    ck_assert_uint_eq(st.max_key, 250);
    ck_assert_uint_eq(st.max_value, 4096);
    ck_assert(st.bytes_used > 0 && st.bytes_free > 0);
    ck_assert(st.largest_free <= st.bytes_free);
    ck_assert(st.bytes_used + st.bytes_free <= st.data_size);
}
END_TEST

/* iterate callback: count entries and check each value encodes its key. */
static int count_cb(void *baton, const void *key, apr_size_t klen,
                    const void *value, apr_size_t vlen,
                    const shmcache_meta_t *meta)
{
    int *n = baton;

    if (value != NULL && (vlen != klen + 1 || memcmp(value, key, klen) != 0))
        return -1;
    if (meta->value_len != klen + 1)
        return -2;
    (*n)++;
    return 0;
}

static int stop_cb(void *baton, const void *key, apr_size_t klen,
                   const void *value, apr_size_t vlen, const shmcache_meta_t *meta)
{
    int *n = baton;
    return ++*n == 3 ? 77 : 0;
}

START_TEST(iterate_visits_every_live_entry_once)
{
    int i, n = 0;

    for (i = 0; i < 500; i++) {
        char *k = apr_psprintf(th_pool, "key-%d", i);
        char *v = apr_psprintf(th_pool, "%s!", k);
        th_ok(set_str(k, v, 0));
    }
    th_ok(set_str("gone", "x", 1));
    apr_sleep(apr_time_from_msec(2100));
    th_ok(shmcache_iterate(cache, count_cb, &n, 0));
    ck_assert_int_eq(n, 500);
    n = 0;
    th_ok(shmcache_iterate(cache, count_cb, &n, SHMCACHE_ITER_KEYS_ONLY));
    ck_assert_int_eq(n, 500);
    n = 0;
    th_status(shmcache_iterate(cache, stop_cb, &n, 0), 77);
    ck_assert_int_eq(n, 3);
}
END_TEST

START_TEST(scan_walks_the_table_in_resumable_steps)
{
    apr_uint32_t cursor = 0;
    int i, n = 0, calls = 0;

    for (i = 0; i < 300; i++) {
        char *k = apr_psprintf(th_pool, "s%d", i);
        th_ok(set_str(k, apr_pstrcat(th_pool, k, "!", NULL), 0));
    }
    do {
        th_ok(shmcache_scan(cache, &cursor, 16, count_cb, &n, 0));
        calls++;
    } while (cursor != 0 && calls < 100000);
    ck_assert_int_eq(n, 300);
    ck_assert_int_gt(calls, 1);
}
END_TEST

START_TEST(check_passes_on_a_healthy_cache)
{
    char why[256];
    int i;

    for (i = 0; i < 200; i++)
        th_ok(set_str(apr_psprintf(th_pool, "c%d", i), "value", 0));
    for (i = 0; i < 200; i += 3)
        th_ok(shmcache_delete(cache, apr_psprintf(th_pool, "c%d", i),
                              strlen(apr_psprintf(th_pool, "c%d", i))));
    th_ok(shmcache_check(cache, why, sizeof why));
    ck_assert_str_eq(why, "");
}
END_TEST

START_TEST(strerror_explains_every_library_status)
{
    char buf[256];
    apr_status_t s;

    for (s = SHMCACHE_NOTFOUND; s <= SHMCACHE_LAST_STATUS; s++) {
        shmcache_strerror(s, buf, sizeof buf);
        ck_assert_msg(strlen(buf) > 10 && strstr(buf, "unknown") == NULL,
                      "status %d has no message", (int)s);
    }
    shmcache_strerror(APR_ENOENT, buf, sizeof buf);
    ck_assert(strlen(buf) > 5);
    shmcache_strerror(SHMCACHE_NOTFOUND, buf, 5);
    ck_assert_uint_eq(strlen(buf), 4);
}
END_TEST

START_TEST(open_creates_then_attaches)
{
    shmcache_t *a, *b;
    const char *p = th_path("open");
    void *v;
    apr_size_t n;

    th_ok(shmcache_open(&a, p, NULL, th_pool));
    th_ok(shmcache_open(&b, p, NULL, th_pool));
    th_ok(shmcache_set(a, "shared", 6, "yes", 3, 0, NULL));
    th_ok(shmcache_get(b, "shared", 6, &v, &n, NULL, th_pool));
    ck_assert_str_eq(v, "yes");
    ck_assert_str_eq(shmcache_path_get(b), p);
    th_ok(shmcache_close(a));
    th_ok(shmcache_close(b));
}
END_TEST

START_TEST(the_segment_outlives_its_handles)
{
    shmcache_t *a;
    const char *p = th_path("outlive");
    void *v;
    apr_size_t n;

    th_ok(shmcache_create(&a, p, NULL, th_pool));
    th_ok(shmcache_set(a, "k", 1, "kept", 4, 0, NULL));
    th_ok(shmcache_close(a));
    th_ok(shmcache_attach(&a, p, NULL, th_pool));
    th_ok(shmcache_get(a, "k", 1, &v, &n, NULL, th_pool));
    ck_assert_str_eq(v, "kept");
    th_ok(shmcache_close(a));
}
END_TEST

START_TEST(remove_refuses_while_attached_unless_forced)
{
    shmcache_t *a;
    const char *p = th_path("rm");
    apr_uint32_t n = 0;

    th_ok(shmcache_create(&a, p, NULL, th_pool));
    th_status(shmcache_remove_ex(p, 0, &n, th_pool), SHMCACHE_EBUSY);
    ck_assert_uint_eq(n, 1);
    th_ok(shmcache_close(a));
    th_ok(shmcache_remove_ex(p, 0, &n, th_pool));
    ck_assert_uint_eq(n, 0);
    th_status(shmcache_attach(&a, p, NULL, th_pool), APR_ENOENT);
    th_status(shmcache_remove(p, th_pool), APR_ENOENT);
}
END_TEST

/* The cache's file opened by a second, read-only handle. */
static shmcache_t *read_only_handle(void)
{
    shmcache_options_t o;
    shmcache_t *ro;

    shmcache_options_init(&o);
    o.read_only = 1;
    th_ok(shmcache_attach(&ro, shmcache_path_get(cache), &o, th_pool));
    return ro;
}

static apr_status_t compute_cb(void *baton, const void *key,
                               apr_size_t key_len, void **value,
                               apr_size_t *value_len, apr_uint32_t *ttl,
                               apr_uint32_t *stale_ttl, apr_pool_t *pool)
{
    *value = apr_pstrdup(pool, "computed");
    *value_len = 8;
    return APR_SUCCESS;
}

START_TEST(a_read_only_handle_refuses_every_write_and_changes_nothing)
{
    shmcache_t *ro;
    shmcache_stats_t before, after;
    shmcache_lease_opts_t lo;
    shmcache_repair_outcome_e outcome;
    apr_uint64_t one = 1, version, token;
    void *v;
    apr_size_t n;

    th_ok(set_str("k", "value", 0));
    th_ok(shmcache_stats(cache, &before));
    ro = read_only_handle();
    shmcache_lease_opts_init(&lo);
    th_status(shmcache_set(ro, "k", 1, "x", 1, 0, NULL), SHMCACHE_EREADONLY);
    th_status(shmcache_add(ro, "n", 1, "x", 1, 0, NULL), SHMCACHE_EREADONLY);
    th_status(shmcache_replace(ro, "k", 1, "x", 1, 0, NULL), SHMCACHE_EREADONLY);
    th_status(shmcache_cas(ro, "k", 1, "x", 1, 0, 1, &version),
              SHMCACHE_EREADONLY);
    th_status(shmcache_delete(ro, "k", 1), SHMCACHE_EREADONLY);
    th_status(shmcache_incr(ro, "c", 1, 1, &one, 0, NULL), SHMCACHE_EREADONLY);
    th_status(shmcache_touch(ro, "k", 1, 60), SHMCACHE_EREADONLY);
    th_status(shmcache_flush(ro), SHMCACHE_EREADONLY);
    th_status(shmcache_lease_get(ro, "m", 1, &lo, &v, &n, NULL, &token, th_pool),
              SHMCACHE_EREADONLY);
    th_status(shmcache_lease_set(ro, "m", 1, 0, "x", 1, 0, 0),
              SHMCACHE_EREADONLY);
    th_status(shmcache_lease_release(ro, "m", 1, 1, 1), SHMCACHE_EREADONLY);
    th_status(shmcache_get_or_compute(ro, "m", 1, &lo, compute_cb, NULL, &v,
                                      &n, NULL, th_pool),
              SHMCACHE_EREADONLY);
    th_status(shmcache_repair(ro, &outcome, NULL, 0), SHMCACHE_EREADONLY);
    th_status(shmcache_perms_set(ro, APR_FPROT_UREAD, (apr_uid_t)-1,
                                 (apr_gid_t)-1), SHMCACHE_EREADONLY);
    th_ok(shmcache_close(ro));
    ck_assert_str_eq(get_str("k"), "value");
    ck_assert_ptr_null(get_str("n"));
    ck_assert_ptr_null(get_str("m"));
    th_ok(shmcache_stats(cache, &after));
    ck_assert_uint_eq(after.sets, before.sets);
    ck_assert_uint_eq(after.items, before.items);
}
END_TEST

static int collect_cb(void *baton, const void *key, apr_size_t klen,
                      const void *value, apr_size_t vlen,
                      const shmcache_meta_t *meta)
{
    int *n = baton;

    (*n)++;
    return 0;
}

START_TEST(a_read_only_handle_reads_without_a_slot_or_counting)
{
    shmcache_t *ro;
    shmcache_stats_t w, r;
    shmcache_meta_t meta;
    char why[128], buf[16];
    apr_uint32_t cursor = 0;
    apr_size_t n;
    void *v;
    int seen = 0;

    th_ok(set_str("a", "one", 0));
    th_ok(set_str("b", "two", 0));
    ro = read_only_handle();
    th_ok(shmcache_get(ro, "a", 1, &v, &n, &meta, th_pool));
    ck_assert_str_eq(v, "one");
    ck_assert_uint_eq(meta.value_len, 3);
    th_status(shmcache_get(ro, "zz", 2, &v, &n, NULL, th_pool),
              SHMCACHE_NOTFOUND);
    th_ok(shmcache_get_buf(ro, "b", 1, buf, sizeof buf, &n, NULL));
    ck_assert_uint_eq(n, 3);
    th_ok(shmcache_get_meta(ro, "b", 1, &meta));
    th_ok(shmcache_iterate(ro, collect_cb, &seen, 0));
    ck_assert_int_eq(seen, 2);
    seen = 0;
    do {
        th_ok(shmcache_scan(ro, &cursor, 100, collect_cb, &seen, 0));
    } while (cursor != 0);
    ck_assert_int_eq(seen, 2);
    th_ok(shmcache_check(ro, why, sizeof why));
    ck_assert_str_eq(why, "");
    /* the writer's figures: the reader took no slot and counted nothing */
    th_ok(shmcache_stats(cache, &w));
    th_ok(shmcache_stats(ro, &r));
    ck_assert_uint_eq(w.attached, 1);
    ck_assert_uint_eq(r.attached, 1);
    ck_assert_uint_eq(w.gets, 0);
    ck_assert_uint_eq(r.items, 2);
    ck_assert_uint_eq(r.sets, w.sets);
    /* it sees what a writer stores afterwards */
    th_ok(set_str("a", "uno", 0));
    th_ok(shmcache_get(ro, "a", 1, &v, &n, NULL, th_pool));
    ck_assert_str_eq(v, "uno");
    th_ok(shmcache_close(ro));
}
END_TEST

START_TEST(read_only_never_creates)
{
    shmcache_options_t o;
    shmcache_t *c;
    const char *p = th_path("ronew");

    shmcache_options_init(&o);
    o.read_only = 1;
    th_status(shmcache_create(&c, p, &o, th_pool), SHMCACHE_EREADONLY);
    th_status(shmcache_open(&c, p, &o, th_pool), APR_ENOENT);
    th_status(shmcache_attach(&c, p, &o, th_pool), APR_ENOENT);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_set_value_is_returned_by_get);
    tcase_add_test(tc, set_replaces_the_previous_value);
    tcase_add_test(tc, get_of_a_missing_key_is_notfound);
    tcase_add_test(tc, keys_and_values_are_binary_safe);
    tcase_add_test(tc, an_empty_value_is_a_value);
    tcase_add_test(tc, get_buf_reports_the_length_when_the_buffer_is_small);
    tcase_add_test(tc, add_refuses_an_existing_key);
    tcase_add_test(tc, replace_refuses_a_missing_key);
    tcase_add_test(tc, cas_succeeds_only_on_the_current_version);
    tcase_add_test(tc, every_write_gets_a_new_version);
    tcase_add_test(tc, delete_removes_and_then_reports_notfound);
    tcase_add_test(tc, incr_adds_and_decrement_stops_at_zero);
    tcase_add_test(tc, incr_wraps_past_the_largest_number);
    tcase_add_test(tc, incr_refuses_a_value_that_is_not_a_number);
    tcase_add_test(tc, incr_keeps_the_entry_expiry);
    tcase_add_test(tc, get_after_expiry_is_a_miss);
    tcase_add_test(tc, the_default_ttl_applies_when_none_is_given);
    tcase_add_test(tc, touch_changes_the_ttl_but_not_the_value);
    tcase_add_test(tc, flush_empties_the_cache);
    tcase_add_test(tc, a_key_over_the_limit_is_refused);
    tcase_add_test(tc, a_value_over_the_limit_is_refused_and_the_old_one_stays);
    tcase_add_test(tc, a_ttl_over_the_limit_is_refused);
    tcase_add_test(tc, long_keys_up_to_the_configured_limit_work);
    tcase_add_test(tc, stats_count_the_operations);
    tcase_add_test(tc, iterate_visits_every_live_entry_once);
    tcase_add_test(tc, scan_walks_the_table_in_resumable_steps);
    tcase_add_test(tc, check_passes_on_a_healthy_cache);
    tcase_add_test(tc, strerror_explains_every_library_status);
    tcase_add_test(tc, open_creates_then_attaches);
    tcase_add_test(tc, a_read_only_handle_refuses_every_write_and_changes_nothing);
    tcase_add_test(tc, a_read_only_handle_reads_without_a_slot_or_counting);
    tcase_add_test(tc, read_only_never_creates);
    tcase_add_test(tc, the_segment_outlives_its_handles);
    tcase_add_test(tc, remove_refuses_while_attached_unless_forced);
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
