/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_evict.c - eviction (libshmcache/src/evict.c, the policy in table.h,
 * Eviction), by behaviour: room (a full cache keeps accepting sets, an
 * item of the maximum size always finds room, the region stays used),
 * expiry (expired entries go first), policy (read entries survive, scans
 * pass through probation, the ghost admits a key back soon after its
 * eviction but not one back late, probation's share adapts) and
 * verification (check flags an impossible probation target, repair mends
 * it).
 */
#include "harness.h"
#include "segment.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------- */

/* A fresh cache of size bytes at *path (set when path is not NULL);
 * buckets 0 is the library's default. */
static shmcache_t *make_at(const char **path, apr_uint64_t size,
                           apr_uint32_t max_value, apr_uint32_t buckets)
{
    shmcache_options_t o;
    shmcache_t *c;
    const char *p = th_path("evict");

    shmcache_options_init(&o);
    o.size = size;
    o.max_value = max_value;
    o.buckets = buckets;
    th_ok(shmcache_create(&c, p, &o, th_pool));
    if (path != NULL)
        *path = p;
    return c;
}

static shmcache_t *make(apr_uint64_t size, apr_uint32_t max_value)
{
    return make_at(NULL, size, max_value, 0);
}

static int has(shmcache_t *c, const char *key)
{
    shmcache_meta_t m;
    return shmcache_get_meta(c, key, strlen(key), &m) == APR_SUCCESS;
}

/* A get (which raises the entry's frequency); the result is unused. */
static void read_key(shmcache_t *c, const char *key)
{
    char buf[1024];
    apr_size_t n;

    shmcache_get_buf(c, key, strlen(key), buf, sizeof buf, &n, NULL);
}

/* How many entries of vlen-byte values fit in c before the first
 * eviction; leaves c empty. */
static int capacity(shmcache_t *c, apr_size_t vlen)
{
    shmcache_stats_t st;
    int i;

    for (i = 0; ; i++) {
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "fill%d", i), vlen, 0));
        th_ok(shmcache_stats(c, &st));
        if (st.evictions > 0)
            break;
    }
    th_ok(shmcache_flush(c));
    return i;
}

/* Set count keys "<prefix><i>" of vlen-byte values, never read again (a
 * scan). */
static void scan(shmcache_t *c, const char *prefix, int count,
                 apr_size_t vlen)
{
    int i;

    for (i = 0; i < count; i++)
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "%s%d", prefix, i), vlen, 0));
}

/* Set hot keys "hot<i>" and read each once: they go to main when they
 * reach probation's old end. */
static void hot_set(shmcache_t *c, int hot, apr_size_t vlen)
{
    int i;

    for (i = 0; i < hot; i++) {
        const char *k = apr_psprintf(th_pool, "hot%d", i);
        th_ok(th_put_filled(c, k, vlen, 0));
        read_key(c, k);
    }
}

/* Read or write the 8 bytes at offset off of the segment file at path. */
static apr_uint64_t peek64(const char *path, apr_off_t off)
{
    apr_file_t *f;
    apr_uint64_t v = 0;
    apr_size_t n = sizeof v;

    th_ok(apr_file_open(&f, path, APR_FOPEN_READ, 0, th_pool));
    th_ok(apr_file_seek(f, APR_SET, &off));
    th_ok(apr_file_read_full(f, &v, n, &n));
    apr_file_close(f);
    return v;
}

static void poke64(const char *path, apr_off_t off, apr_uint64_t v)
{
    apr_file_t *f;

    th_ok(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_WRITE, 0,
                        th_pool));
    th_ok(apr_file_seek(f, APR_SET, &off));
    th_ok(apr_file_write_full(f, &v, sizeof v, NULL));
    apr_file_close(f);
}

#define TARGET_OFF ((apr_off_t)offsetof(sc_header_sh_t, queues.target))

/* ------------------------------------------------------------------------
 * Room
 * ---------------------------------------------------------------------- */

START_TEST(a_cache_filled_far_beyond_its_size_keeps_accepting_sets)
{
    shmcache_t *c = make(1 << 20, 150000);
    shmcache_stats_t st;
    apr_uint32_t s = 12345;
    int i;

    /* phase 1: small values, 20x the cache */
    for (i = 0; i < 200000; i++)
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "small-%d", i), 100, 0));
    th_check_passes(c, "small values");
    ck_assert(has(c, "small-199999"));
    /* phase 2: large values */
    for (i = 0; i < 400; i++)
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "large-%d", i), 100000, 0));
    th_check_passes(c, "large values");
    ck_assert(has(c, "large-399"));
    /* phase 3: mixed sizes, with deletes */
    for (i = 0; i < 50000; i++) {
        apr_size_t len;
        s = s * 1103515245u + 12345u;
        len = (s >> 8) % 20000;
        if (i % 4 == 3)
            shmcache_delete(c, "mixed-x", 7);
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "mixed-%d", i % 3000), len, 0));
    }
    th_check_passes(c, "mixed values");
    /* phase 4: the largest value the cache allows */
    th_ok(th_put_filled(c, "max", 150000, 0));
    ck_assert(has(c, "max"));
    th_check_passes(c, "largest value");
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_gt(st.evictions, 100000);
    ck_assert_uint_eq(st.set_failures, 0);
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
    shmcache_t *c = make(4 << 20, 150000);   /* th_put_filled() has 200000 bytes */
    apr_uint32_t r = 12345;
    int round, i;

    th_ok(shmcache_stats(c, &st));
    for (round = 0; round < 4; round++) {
        for (i = 0; i < 4000; i++) {
            r = r * 1103515245u + 12345u;
            th_ok(th_put_filled(c, apr_psprintf(th_pool, "v%d-%d", round, i),
                      16 + (r >> 8) % 16384, 0));
        }
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "max%d", round), st.max_value, 0));
        ck_assert(has(c, apr_psprintf(th_pool, "max%d", round)));
        th_check_passes(c, "a maximum-size item");
    }
    shmcache_close(c);
}
END_TEST

/* Variable sizes: once full, the data region stays at least 95% used
 * (evicting by queue order frees scattered blocks; a store evicts only
 * until its item fits), sampled after every one of 40000 stores of 16 B to
 * 16 KiB. */
START_TEST(a_full_cache_of_mixed_sizes_stays_at_least_95_percent_used)
{
    shmcache_stats_t st;
    shmcache_t *c = make(4 << 20, 150000);
    apr_uint32_t r = 777;
    double worst = 1.0;
    int i;

    for (i = 0; i < 60000; i++) {
        r = r * 1103515245u + 12345u;
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "m%d", i), 16 + (r >> 8) % 16384,
                  0));
        th_ok(shmcache_stats(c, &st));
        if (i >= 20000) {          /* full for a long while by then */
            double used = 1.0 - (double)st.bytes_free / (double)st.data_size;
            if (used < worst)
                worst = used;
        }
    }
    printf("utilization: at least %.2f%% of the data region used over "
           "40000 stores of 16 B..16 KiB\n", worst * 100);
    ck_assert_msg(worst >= 0.95, "utilization fell to %.4f", worst);
    th_check_passes(c, "mixed sizes");
    shmcache_close(c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Expiry
 * ---------------------------------------------------------------------- */

START_TEST(expired_entries_are_reclaimed_before_live_ones)
{
    shmcache_t *c = make(1 << 20, 4096);
    shmcache_stats_t st;
    int i, n = 0, added;

    /* fill to just below the first eviction, alternating expiring and
     * permanent entries */
    for (i = 0; ; i++) {
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "%c-%d", i % 2 ? 'L' : 'E', i), 1000,
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
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "N-%d", added), 1000, 0));
    th_ok(shmcache_stats(c, &st));
    ck_assert_msg(st.evictions == 0, "%" APR_UINT64_T_FMT " live entries "
                  "evicted while expired ones were there", st.evictions);
    ck_assert_uint_ge(st.expirations, (apr_uint64_t)(n / 3));
    for (i = 1; i <= n; i += 2)
        ck_assert_msg(has(c, apr_psprintf(th_pool, "L-%d", i)), "L-%d lost", i);
    th_check_passes(c, "expiry");
    shmcache_close(c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Policy
 * ---------------------------------------------------------------------- */

START_TEST(recently_read_entries_survive_eviction)
{
    shmcache_t *c = make(1 << 20, 4096);
    int i, j, hot_kept = 0, cold_kept = 0;

    for (i = 0; i < 100; i++)
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "hot-%d", i), 500, 0));
    /* write 5x the cache in cold keys while reading the hot ones */
    for (i = 0; i < 10000; i++) {
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "cold-%d", i), 500, 0));
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
    th_check_passes(c, "hot set");
    shmcache_close(c);
}
END_TEST

/* Scan resistance: a hot set that was read while on probation lives on
 * the main queue; a scan of keys read once, four times the cache, goes
 * through probation and leaves it there. */
START_TEST(a_scan_of_one_time_keys_does_not_push_out_the_hot_set)
{
    shmcache_t *c = make(1 << 20, 1024);
    int i, n = capacity(c, 100), kept = 0, hot = n / 2;

    hot_set(c, hot, 100);
    scan(c, "scan", 4 * n, 100);
    for (i = 0; i < hot; i++)
        kept += has(c, apr_psprintf(th_pool, "hot%d", i));
    printf("scan resistance: %d of %d hot keys kept after a scan of %d "
           "one-time keys (cache of %d items)\n", kept, hot, 4 * n, n);
    ck_assert_int_ge(kept * 10, hot * 9);
    th_check_passes(c, "a scan");
    shmcache_close(c);
}
END_TEST

/* The ghost and adaptation tests: a segment with many more ghost slots
 * (buckets) than entries, so that another key rarely takes a remembered
 * key's slot meanwhile. */
#define GHOST_SEGMENT (2 << 20)
#define GHOST_BUCKETS (1 << 16)
#define GHOST_VALUE 1000

/* Set key k (never read), then one-time keys until k has been evicted
 * (from probation). */
static void evict_unread(shmcache_t *c, const char *k, const char *prefix,
                         int limit)
{
    int i;

    th_ok(th_put_filled(c, k, GHOST_VALUE, 0));
    for (i = 0; i < limit && has(c, k); i++)
        th_ok(th_put_filled(c, apr_psprintf(th_pool, "%s%d", prefix, i), GHOST_VALUE,
                  0));
    ck_assert_msg(!has(c, k), "%s not evicted after %d sets", k, limit);
}

/* The ghost: a key set again right after it was evicted from probation
 * (unread) is admitted straight to main, so a scan of twice the cache
 * that follows does not evict it; a key set again only after more
 * probation evictions than the ghost's window (twice the entries cached)
 * starts on probation again, and that scan evicts it. */
START_TEST(the_ghost_admits_a_key_back_soon_but_not_one_back_late)
{
    shmcache_t *c = make_at(NULL, GHOST_SEGMENT, 4096, GHOST_BUCKETS);
    int n = capacity(c, GHOST_VALUE);

    hot_set(c, n / 8, GHOST_VALUE);     /* main: n / 8 entries */
    scan(c, "warm", n, GHOST_VALUE);
    evict_unread(c, "soon", "a", 4 * n);
    th_ok(th_put_filled(c, "soon", GHOST_VALUE, 0));
    scan(c, "b", 2 * n, GHOST_VALUE);
    ck_assert_msg(has(c, "soon"), "a key back right after its eviction "
                  "did not outlive a scan (it was not admitted to main)");
    evict_unread(c, "late", "c", 4 * n);
    scan(c, "d", 4 * n, GHOST_VALUE);   /* the window is about 2 n */
    th_ok(th_put_filled(c, "late", GHOST_VALUE, 0));
    scan(c, "e", 2 * n, GHOST_VALUE);
    ck_assert_msg(!has(c, "late"), "a key back long after its eviction "
                  "was admitted to main");
    th_check_passes(c, "ghost");
    shmcache_close(c);
}
END_TEST

/* Twenty rounds of cache-aside over the keys "cyc0".."cyc<len-1>": a
 * missing one is set; with busy, a present one is read and a one-time key
 * is set after each step. */
static void cycle(shmcache_t *c, int len, int busy)
{
    int r, i;

    for (r = 0; r < 20; r++)
        for (i = 0; i < len; i++) {
            const char *k = apr_psprintf(th_pool, "cyc%d", i);
            if (!has(c, k))
                th_ok(th_put_filled(c, k, GHOST_VALUE, 0));
            else if (busy)
                read_key(c, k);
            if (busy)
                th_ok(th_put_filled(c, apr_psprintf(th_pool, "once%d-%d", r, i),
                          GHOST_VALUE, 0));
        }
}

/* Probation's share adapts: with main holding most of the cache, keys
 * that come back soon after leaving probation (a cycle twice as long as
 * probation holds, shorter than the cache) raise its target from the
 * initial tenth of the data region, never past 90%; a flush starts over
 * from the tenth. */
START_TEST(keys_back_soon_from_probation_grow_its_share)
{
    const char *path;
    shmcache_stats_t st;
    shmcache_t *c = make_at(&path, GHOST_SEGMENT, 4096, GHOST_BUCKETS);
    int n = capacity(c, GHOST_VALUE);
    apr_uint64_t target, tenth;

    th_ok(shmcache_stats(c, &st));
    tenth = st.data_size / 100 * 10;
    ck_assert_uint_eq(peek64(path, TARGET_OFF), 0);
    hot_set(c, n * 85 / 100, GHOST_VALUE);
    scan(c, "warm", n / 4, GHOST_VALUE);
    cycle(c, n * 3 / 10, 0);
    target = peek64(path, TARGET_OFF);
    printf("adaptation: probation target %" APR_UINT64_T_FMT " bytes "
           "(initial %" APR_UINT64_T_FMT ", data %" APR_UINT64_T_FMT ")\n",
           target, tenth, st.data_size);
    ck_assert_uint_gt(target, tenth);
    ck_assert_uint_le(target, st.data_size / 100 * 90);
    th_check_passes(c, "adaptation");
    th_ok(shmcache_flush(c));
    ck_assert_uint_eq(peek64(path, TARGET_OFF), 0);
    shmcache_close(c);
}
END_TEST

/* And back: with probation's target at its 90% bound, main is small and
 * gives up entries between reads of a cycle that one-time keys interleave;
 * those keys come back soon after leaving main, and each lowers the
 * target. */
START_TEST(keys_back_soon_from_main_shrink_probations_share)
{
    const char *path;
    shmcache_stats_t st;
    shmcache_t *c = make_at(&path, GHOST_SEGMENT, 4096, GHOST_BUCKETS);
    int n = capacity(c, GHOST_VALUE);
    apr_uint64_t target, top;

    th_ok(shmcache_stats(c, &st));
    top = st.data_size / 100 * 90;
    poke64(path, TARGET_OFF, top);
    cycle(c, n * 3 / 10, 1);
    target = peek64(path, TARGET_OFF);
    printf("adaptation: probation target %" APR_UINT64_T_FMT " bytes "
           "(from %" APR_UINT64_T_FMT ")\n", target, top);
    ck_assert_uint_lt(target, top);
    ck_assert_uint_ge(target, st.data_size / 100 * 4);
    th_check_passes(c, "adaptation down");
    shmcache_close(c);
}
END_TEST

/* ------------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------- */

/* A probation target no writer stores (past 90% of the data region) is
 * named by check, and repair mends it (the queues are rebuilt and the
 * target starts over); a target within bounds passes. */
START_TEST(check_flags_a_probation_target_out_of_bounds_and_repair_mends_it)
{
    const char *path;
    shmcache_repair_outcome_e what;
    shmcache_stats_t st;
    shmcache_t *c = make_at(&path, 1 << 20, 1024, 0);
    char why[512];

    scan(c, "k", 100, 100);
    th_ok(shmcache_stats(c, &st));
    poke64(path, TARGET_OFF, st.data_size / 2);
    th_check_passes(c, "a target at half the region");
    poke64(path, TARGET_OFF, st.data_size);
    th_status(shmcache_check(c, why, sizeof why), SHMCACHE_ECORRUPT);
    ck_assert_msg(strstr(why, "target") != NULL, "why: %s", why);
    th_ok(th_put_filled(c, "meanwhile", 100, 0));     /* a store is not misled */
    th_ok(shmcache_repair(c, &what, why, sizeof why));
    ck_assert_int_eq(what, SHMCACHE_REPAIR_MENDED);
    th_check_passes(c, "repair");
    ck_assert(has(c, "k99") && has(c, "meanwhile"));
    shmcache_close(c);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("evict");
    TCase *room = tcase_create("room");
    TCase *expiry = tcase_create("expiry");
    TCase *policy = tcase_create("policy");
    TCase *verify = tcase_create("verification");

    tcase_add_checked_fixture(room, th_setup, th_teardown);
    tcase_add_checked_fixture(expiry, th_setup, th_teardown);
    tcase_add_checked_fixture(policy, th_setup, th_teardown);
    tcase_add_checked_fixture(verify, th_setup, th_teardown);
    tcase_set_timeout(room, 120);
    tcase_set_timeout(policy, 120);
    tcase_add_test(room, a_cache_filled_far_beyond_its_size_keeps_accepting_sets);
    tcase_add_test(room, an_item_of_the_maximum_size_always_finds_room);
    tcase_add_test(room, a_full_cache_of_mixed_sizes_stays_at_least_95_percent_used);
    tcase_add_test(expiry, expired_entries_are_reclaimed_before_live_ones);
    tcase_add_test(policy, recently_read_entries_survive_eviction);
    tcase_add_test(policy, a_scan_of_one_time_keys_does_not_push_out_the_hot_set);
    tcase_add_test(policy, the_ghost_admits_a_key_back_soon_but_not_one_back_late);
    tcase_add_test(policy, keys_back_soon_from_probation_grow_its_share);
    tcase_add_test(policy, keys_back_soon_from_main_shrink_probations_share);
    tcase_add_test(verify, check_flags_a_probation_target_out_of_bounds_and_repair_mends_it);
    suite_add_tcase(s, room);
    suite_add_tcase(s, expiry);
    suite_add_tcase(s, policy);
    suite_add_tcase(s, verify);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
