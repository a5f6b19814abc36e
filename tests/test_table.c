/*
 * test_table.c - the table under pressure: eviction when full, expired
 * entries first, hot entries kept, the largest item still fitting, hash
 * seeds and chain lengths, and corruption reported rather than followed.
 */
#include "harness.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

static shmcache_t *make(apr_uint64_t size, apr_uint32_t max_value)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = size;
    o.max_value = max_value;
    th_ok(shmcache_create(&c, th_path("table"), &o, th_pool));
    return c;
}

static void assert_checks(shmcache_t *c, const char *phase)
{
    char why[512];

    ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS,
                  "check failed after %s: %s", phase, why);
}

static apr_status_t put(shmcache_t *c, const char *key, apr_size_t vlen,
                        apr_uint32_t ttl)
{
    static char buf[200000];

    memset(buf, key[0], vlen);
    return shmcache_set(c, key, strlen(key), buf, vlen, ttl, NULL);
}

static int has(shmcache_t *c, const char *key)
{
    shmcache_meta_t m;
    return shmcache_get_meta(c, key, strlen(key), &m) == APR_SUCCESS;
}

/* A get (which marks the entry as recently read); the result is unused. */
static void read_key(shmcache_t *c, const char *key)
{
    char buf[1024];
    apr_size_t n;

    shmcache_get_buf(c, key, strlen(key), buf, sizeof buf, &n, NULL);
}

START_TEST(a_cache_filled_far_beyond_its_size_keeps_accepting_sets)
{
    shmcache_t *c = make(1 << 20, 150000);
    shmcache_stats_t st;
    apr_uint32_t s = 12345;
    int i;

    /* phase 1: small values, 20x the cache */
    for (i = 0; i < 200000; i++)
        th_ok(put(c, apr_psprintf(th_pool, "small-%d", i), 100, 0));
    assert_checks(c, "small values");
    ck_assert(has(c, "small-199999"));
    /* phase 2: large values */
    for (i = 0; i < 400; i++)
        th_ok(put(c, apr_psprintf(th_pool, "large-%d", i), 100000, 0));
    assert_checks(c, "large values");
    ck_assert(has(c, "large-399"));
    /* phase 3: mixed sizes, with deletes */
    for (i = 0; i < 50000; i++) {
        apr_size_t len;
        s = s * 1103515245u + 12345u;
        len = (s >> 8) % 20000;
        if (i % 4 == 3)
            shmcache_delete(c, "mixed-x", 7);
        th_ok(put(c, apr_psprintf(th_pool, "mixed-%d", i % 3000), len, 0));
    }
    assert_checks(c, "mixed values");
    /* phase 4: the largest value the cache allows */
    th_ok(put(c, "max", 150000, 0));
    ck_assert(has(c, "max"));
    assert_checks(c, "largest value");
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_gt(st.evictions, 100000);
    ck_assert_uint_eq(st.set_failures, 0);
    shmcache_close(c);
}
END_TEST

START_TEST(expired_entries_are_reclaimed_before_live_ones)
{
    shmcache_t *c = make(1 << 20, 4096);
    shmcache_stats_t st;
    int i, n = 0, added;

    /* fill to just below the first eviction, alternating expiring and
     * permanent entries */
    for (i = 0; ; i++) {
        th_ok(put(c, apr_psprintf(th_pool, "%c-%d", i % 2 ? 'L' : 'E', i), 1000,
                  i % 2 ? 0 : 1));
        th_ok(shmcache_stats(c, &st));
        if (st.largest_free < 4000)
            break;
        n++;
    }
    ck_assert_uint_eq(st.evictions, 0);
    apr_sleep(apr_time_from_msec(2100));
    /* new entries that fit in the expired ones' room */
    for (added = 0; added < n / 3; added++)
        th_ok(put(c, apr_psprintf(th_pool, "N-%d", added), 1000, 0));
    th_ok(shmcache_stats(c, &st));
    ck_assert_msg(st.evictions == 0, "%" APR_UINT64_T_FMT " live entries "
                  "evicted while expired ones were there", st.evictions);
    ck_assert_uint_ge(st.expirations, (apr_uint64_t)(n / 3));
    for (i = 1; i <= n; i += 2)
        ck_assert_msg(has(c, apr_psprintf(th_pool, "L-%d", i)), "L-%d lost", i);
    assert_checks(c, "expiry");
    shmcache_close(c);
}
END_TEST

START_TEST(recently_read_entries_survive_eviction)
{
    shmcache_t *c = make(1 << 20, 4096);
    int i, j, hot_kept = 0, cold_kept = 0;

    for (i = 0; i < 100; i++)
        th_ok(put(c, apr_psprintf(th_pool, "hot-%d", i), 500, 0));
    /* write 5x the cache in cold keys while reading the hot ones */
    for (i = 0; i < 10000; i++) {
        th_ok(put(c, apr_psprintf(th_pool, "cold-%d", i), 500, 0));
        if (i % 20 == 0)
            for (j = 0; j < 100; j++)
                read_key(c, apr_psprintf(th_pool, "hot-%d", j));
    }
    for (i = 0; i < 100; i++)
        hot_kept += has(c, apr_psprintf(th_pool, "hot-%d", i));
    for (i = 0; i < 100; i++)
        cold_kept += has(c, apr_psprintf(th_pool, "cold-%d", 5000 + i));
    ck_assert_msg(hot_kept >= 90, "only %d of 100 hot keys kept", hot_kept);
    ck_assert_msg(hot_kept > cold_kept, "hot %d, cold %d", hot_kept, cold_kept);
    assert_checks(c, "hot set");
    shmcache_close(c);
}
END_TEST

START_TEST(the_largest_allowed_item_fits_and_one_byte_more_is_refused)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = SHMCACHE_MIN_SIZE;
    th_ok(shmcache_create(&c, th_path("tiny"), &o, th_pool));
    th_ok(shmcache_stats(c, &st));
    /* max_value was clamped to what fits: the limit is reported, not OOM */
    th_status(put(c, "big", st.max_value + 1, 0), SHMCACHE_EVALLEN);
    th_ok(put(c, "big", st.max_value, 0));
    assert_checks(c, "largest item");
    shmcache_close(c);
}
END_TEST

/* The 8-byte seed at offset 32 of the header. */
static apr_uint64_t read_seed(const char *path)
{
    apr_file_t *f;
    apr_uint64_t seed = 0;
    apr_size_t n = sizeof seed;
    apr_off_t off = 32;

    th_ok(apr_file_open(&f, path, APR_FOPEN_READ, 0, th_pool));
    apr_file_seek(f, APR_SET, &off);
    apr_file_read(f, &seed, &n);
    apr_file_close(f);
    return seed;
}

START_TEST(every_segment_gets_its_own_hash_seed)
{
    const char *a = th_path("seed-a"), *b = th_path("seed-b");
    shmcache_t *ca, *cb;

    th_ok(shmcache_create(&ca, a, NULL, th_pool));
    th_ok(shmcache_create(&cb, b, NULL, th_pool));
    ck_assert(read_seed(a) != read_seed(b));
    ck_assert(read_seed(a) != 0);
    shmcache_close(ca);
    shmcache_close(cb);
}
END_TEST

START_TEST(chains_stay_short_with_many_keys)
{
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    int i;

    shmcache_options_init(&o);
    o.size = 32 << 20;
    o.buckets = 65536;
    th_ok(shmcache_create(&c, th_path("chains"), &o, th_pool));
    for (i = 0; i < 65536; i++) {
        char k[16];
        snprintf(k, sizeof k, "%08d", i);
        th_ok(shmcache_set(c, k, 8, "v", 1, 0, NULL));
    }
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.items, 65536);
    ck_assert_uint_eq(st.buckets, 65536);
    ck_assert_msg(st.longest_chain <= 12, "longest chain %u", st.longest_chain);
    /* as many keys as buckets: some chain surely holds two or more */
    ck_assert_uint_ge(st.longest_chain, 2);
    th_ok(shmcache_flush(c));
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.longest_chain, 0);
    shmcache_close(c);
}
END_TEST

/* Overwrite every bucket of the segment at path with value. */
static void smash_buckets(const char *path, apr_uint32_t value)
{
    apr_file_t *f;
    apr_uint64_t off[2];
    apr_size_t n = sizeof off;
    apr_off_t at = 72;
    apr_uint64_t i;

    th_ok(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_WRITE, 0, th_pool));
    apr_file_seek(f, APR_SET, &at);
    apr_file_read(f, off, &n);       /* buckets_off, buckets_size */
    at = (apr_off_t)off[0];
    apr_file_seek(f, APR_SET, &at);
    for (i = 0; i < off[1] / 4; i++)
        apr_file_write_full(f, &value, 4, NULL);
    apr_file_close(f);
}

START_TEST(a_corrupted_bucket_is_reported_not_followed)
{
    const char *p = th_path("corrupt");
    shmcache_t *c;
    char why[512];
    void *v;
    apr_size_t n;
    int i;

    th_ok(shmcache_create(&c, p, NULL, th_pool));
    for (i = 0; i < 100; i++)
        th_ok(put(c, apr_psprintf(th_pool, "k%d", i), 10, 0));
    smash_buckets(p, 0xFFFFFFF0u);
    th_status(shmcache_get(c, "k1", 2, &v, &n, NULL, th_pool), SHMCACHE_ECORRUPT);
    th_status(shmcache_check(c, why, sizeof why), SHMCACHE_ECORRUPT);
    ck_assert_msg(strstr(why, "bucket") != NULL, "why: %s", why);
    smash_buckets(p, 0);
    th_status(shmcache_check(c, why, sizeof why), SHMCACHE_ECORRUPT);
    ck_assert_msg(strstr(why, "leaked") != NULL || strstr(why, "count") != NULL,
                  "why: %s", why);
    shmcache_close(c);
}
END_TEST

START_TEST(repair_mends_damage_and_says_what_it_did)
{
    const char *p = th_path("repair");
    shmcache_repair_outcome_e what;
    shmcache_stats_t st;
    shmcache_t *c;
    char why[512];
    int i;

    th_ok(shmcache_create(&c, p, NULL, th_pool));
    for (i = 0; i < 100; i++)
        th_ok(put(c, apr_psprintf(th_pool, "k%d", i), 10, 0));
    th_ok(shmcache_repair(c, &what, why, sizeof why));
    ck_assert_int_eq(what, SHMCACHE_REPAIR_NONE);
    smash_buckets(p, 0);                /* every chain lost: leaked blocks */
    th_ok(shmcache_repair(c, &what, why, sizeof why));
    ck_assert_int_eq(what, SHMCACHE_REPAIR_MENDED);
    ck_assert_msg(strstr(why, "leaked") != NULL || strstr(why, "count") != NULL,
                  "why: %s", why);
    assert_checks(c, "repair");
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.items, 0);
    ck_assert_uint_eq(st.repairs, 1);
    ck_assert_uint_eq(st.resets, 0);
    th_ok(put(c, "after", 10, 0));
    shmcache_close(c);
}
END_TEST

/* Variable sizes: after the cache has been filled many times over with
 * items of 16 B to 16 KiB, an item of the largest allowed size still
 * finds contiguous room (the address-order eviction behind the queues),
 * each time. */
START_TEST(an_item_of_the_maximum_size_always_finds_room)
{
    shmcache_stats_t st;
    shmcache_t *c = make(4 << 20, 150000);   /* put() has 200000 bytes */
    apr_uint32_t r = 12345;
    int round, i;

    th_ok(shmcache_stats(c, &st));
    for (round = 0; round < 4; round++) {
        for (i = 0; i < 4000; i++) {
            r = r * 1103515245u + 12345u;
            th_ok(put(c, apr_psprintf(th_pool, "v%d-%d", round, i),
                      16 + (r >> 8) % 16384, 0));
        }
        th_ok(put(c, apr_psprintf(th_pool, "max%d", round), st.max_value, 0));
        ck_assert(has(c, apr_psprintf(th_pool, "max%d", round)));
        assert_checks(c, "a maximum-size item");
    }
    shmcache_close(c);
}
END_TEST

/* Scan resistance: a hot set that was read while on probation lives on
 * the main queue; a scan of keys read once, four times the cache, goes
 * through probation and leaves it there. */
START_TEST(a_scan_of_one_time_keys_does_not_push_out_the_hot_set)
{
    shmcache_stats_t st;
    shmcache_t *c = make(1 << 20, 1024);
    int i, n = 0, kept = 0, hot;

    for (i = 0; ; i++) {                /* how many 100-byte items fit */
        th_ok(put(c, apr_psprintf(th_pool, "fill%d", i), 100, 0));
        th_ok(shmcache_stats(c, &st));
        if (st.evictions > 0)
            break;
    }
    n = i;
    th_ok(shmcache_flush(c));
    hot = n / 2;
    for (i = 0; i < hot; i++) {
        const char *k = apr_psprintf(th_pool, "hot%d", i);
        th_ok(put(c, k, 100, 0));
        read_key(c, k);
    }
    for (i = 0; i < 4 * n; i++)
        th_ok(put(c, apr_psprintf(th_pool, "scan%d", i), 100, 0));
    for (i = 0; i < hot; i++)
        kept += has(c, apr_psprintf(th_pool, "hot%d", i));
    printf("scan resistance: %d of %d hot keys kept after a scan of %d "
           "one-time keys (cache of %d items)\n", kept, hot, 4 * n, n);
    ck_assert_int_ge(kept * 10, hot * 9);
    assert_checks(c, "a scan");
    shmcache_close(c);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("table");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_cache_filled_far_beyond_its_size_keeps_accepting_sets);
    tcase_add_test(tc, expired_entries_are_reclaimed_before_live_ones);
    tcase_add_test(tc, recently_read_entries_survive_eviction);
    tcase_add_test(tc, the_largest_allowed_item_fits_and_one_byte_more_is_refused);
    tcase_add_test(tc, every_segment_gets_its_own_hash_seed);
    tcase_add_test(tc, chains_stay_short_with_many_keys);
    tcase_add_test(tc, a_corrupted_bucket_is_reported_not_followed);
    tcase_add_test(tc, repair_mends_damage_and_says_what_it_did);
    tcase_add_test(tc, an_item_of_the_maximum_size_always_finds_room);
    tcase_add_test(tc, a_scan_of_one_time_keys_does_not_push_out_the_hot_set);
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
