/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_table.c - the table: the largest item still fitting, hash seeds and
 * chain lengths, and corruption reported rather than followed. Eviction
 * (room, expiry first, the policy) is tested in test_evict.c.
 */
#include "harness.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdio.h>
#include <string.h>

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
    th_status(th_put_filled(c, "big", st.max_value + 1, 0), SHMCACHE_EVALLEN);
    th_ok(th_put_filled(c, "big", st.max_value, 0));
    th_check_passes(c, "largest item");
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
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "k%d", i), 10, 0));
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
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "k%d", i), 10, 0));
    th_ok(shmcache_repair(c, &what, why, sizeof why));
    ck_assert_int_eq(what, SHMCACHE_REPAIR_NONE);
    smash_buckets(p, 0);                /* every chain lost: leaked blocks */
    th_ok(shmcache_repair(c, &what, why, sizeof why));
    ck_assert_int_eq(what, SHMCACHE_REPAIR_MENDED);
    ck_assert_msg(strstr(why, "leaked") != NULL || strstr(why, "count") != NULL,
                  "why: %s", why);
    th_check_passes(c, "repair");
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.items, 0);
    ck_assert_uint_eq(st.repairs, 1);
    ck_assert_uint_eq(st.resets, 0);
    th_ok(th_put_filled(c, "after", 10, 0));
    shmcache_close(c);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("table");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_largest_allowed_item_fits_and_one_byte_more_is_refused);
    tcase_add_test(tc, every_segment_gets_its_own_hash_seed);
    tcase_add_test(tc, chains_stay_short_with_many_keys);
    tcase_add_test(tc, a_corrupted_bucket_is_reported_not_followed);
    tcase_add_test(tc, repair_mends_damage_and_says_what_it_did);
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
