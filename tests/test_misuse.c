/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_misuse.c - the library answers misuse with a status, never a crash:
 * NULL arguments, closed handles, double close, use after remove, absurd
 * sizes.
 */
#include "harness.h"

#include <string.h>

static shmcache_t *open_small(const char *path)
{
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    th_ok(shmcache_create(&c, path, &o, th_pool));
    return c;
}

START_TEST(null_arguments_are_einval)
{
    shmcache_t *c = open_small(th_path("null")), *out;
    shmcache_stats_t st;
    shmcache_meta_t m;
    apr_uint32_t cur = 0;
    void *v;
    apr_size_t n;
    char buf[8];

    th_status(shmcache_create(NULL, th_path("x"), NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_create(&out, NULL, NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_create(&out, "", NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_create(&out, th_path("x"), NULL, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_attach(&out, NULL, NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_open(NULL, th_path("x"), NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_remove(NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_get(c, NULL, 1, &v, &n, NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_get(c, "k", 1, NULL, &n, NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_get(c, "k", 1, &v, &n, NULL, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_get_buf(c, "k", 1, NULL, 8, &n, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_get_buf(c, "k", 1, buf, 8, NULL, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_get_meta(c, "k", 1, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_set(c, NULL, 1, "v", 1, 0, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_set(c, "k", 1, NULL, 5, 0, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_delete(c, NULL, 1), SHMCACHE_EINVAL);
    th_status(shmcache_incr(c, NULL, 1, 1, NULL, 0, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_touch(c, NULL, 1, 1), SHMCACHE_EINVAL);
    th_status(shmcache_stats(c, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_iterate(c, NULL, NULL, 0), SHMCACHE_EINVAL);
    th_status(shmcache_scan(c, NULL, 1, NULL, NULL, 0), SHMCACHE_EINVAL);
    th_status(shmcache_scan(c, &cur, 0, NULL, NULL, 0), SHMCACHE_EINVAL);
    th_status(shmcache_check(c, NULL, 10), SHMCACHE_EINVAL);
    th_status(shmcache_stats(NULL, &st), SHMCACHE_EINVAL);
    th_status(shmcache_get_meta(NULL, "k", 1, &m), SHMCACHE_EINVAL);
    th_status(shmcache_close(NULL), SHMCACHE_EINVAL);
    ck_assert_ptr_null(shmcache_path_get(NULL));
    ck_assert_ptr_null(shmcache_strerror(SHMCACHE_EINVAL, NULL, 0));
    /* nothing above disturbed the cache */
    th_ok(shmcache_check(c, NULL, 0));
    shmcache_close(c);
}
END_TEST

static int never_called(void *b, const void *k, apr_size_t kl, const void *v,
                        apr_size_t vl, const shmcache_meta_t *m)
{
    return 1;
}

START_TEST(a_closed_handle_is_einval_everywhere)
{
    shmcache_t *c = open_small(th_path("closed"));
    shmcache_stats_t st;
    shmcache_meta_t m;
    apr_uint64_t r;
    void *v;
    apr_size_t n;

    th_ok(shmcache_close(c));
    th_status(shmcache_close(c), SHMCACHE_EINVAL);           /* double close */
    th_status(shmcache_get(c, "k", 1, &v, &n, NULL, th_pool), SHMCACHE_EINVAL);
    th_status(shmcache_get_meta(c, "k", 1, &m), SHMCACHE_EINVAL);
    th_status(shmcache_set(c, "k", 1, "v", 1, 0, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_add(c, "k", 1, "v", 1, 0, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_replace(c, "k", 1, "v", 1, 0, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_cas(c, "k", 1, "v", 1, 0, 1, NULL), SHMCACHE_EINVAL);
    th_status(shmcache_delete(c, "k", 1), SHMCACHE_EINVAL);
    th_status(shmcache_incr(c, "k", 1, 1, NULL, 0, &r), SHMCACHE_EINVAL);
    th_status(shmcache_touch(c, "k", 1, 1), SHMCACHE_EINVAL);
    th_status(shmcache_flush(c), SHMCACHE_EINVAL);
    th_status(shmcache_iterate(c, never_called, NULL, 0), SHMCACHE_EINVAL);
    th_status(shmcache_stats(c, &st), SHMCACHE_EINVAL);
    th_status(shmcache_check(c, NULL, 0), SHMCACHE_EINVAL);
    ck_assert_ptr_null(shmcache_path_get(c));
}
END_TEST

START_TEST(destroying_the_pool_detaches_and_frees_the_slot)
{
    const char *p = th_path("pool");
    apr_pool_t *sub;
    shmcache_t *c, *other = open_small(p);
    shmcache_stats_t st;

    apr_pool_create(&sub, th_pool);
    th_ok(shmcache_attach(&c, p, NULL, sub));
    th_ok(shmcache_stats(other, &st));
    ck_assert_uint_eq(st.attached, 2);
    apr_pool_destroy(sub);                  /* no close: the cleanup does it */
    th_ok(shmcache_stats(other, &st));
    ck_assert_uint_eq(st.attached, 1);
    shmcache_close(other);
}
END_TEST

START_TEST(a_handle_keeps_working_after_its_file_is_removed)
{
    const char *p = th_path("removed");
    shmcache_t *c = open_small(p);
    void *v;
    apr_size_t n;

    th_ok(shmcache_set(c, "k", 1, "v", 1, 0, NULL));
    th_ok(shmcache_remove(p, th_pool));
    /* the mapping stays valid; the name is gone */
    th_ok(shmcache_get(c, "k", 1, &v, &n, NULL, th_pool));
    th_ok(shmcache_set(c, "k2", 2, "v", 1, 0, NULL));
    th_status(shmcache_attach(&c, p, NULL, th_pool), APR_ENOENT);
}
END_TEST

START_TEST(absurd_lengths_are_refused_without_reading_them)
{
    shmcache_t *c = open_small(th_path("absurd"));
    apr_size_t huge = (apr_size_t)-1;
    void *v;
    apr_size_t n;

    /* huge lengths with tiny buffers: refused by the limits before any
     * byte is read */
    th_status(shmcache_set(c, "k", huge, "v", 1, 0, NULL), SHMCACHE_EKEYLEN);
    th_status(shmcache_set(c, "k", 1, "v", huge, 0, NULL), SHMCACHE_EVALLEN);
    th_status(shmcache_get(c, "k", huge, &v, &n, NULL, th_pool), SHMCACHE_EKEYLEN);
    th_status(shmcache_delete(c, "k", huge), SHMCACHE_EKEYLEN);
    th_status(shmcache_set(c, "k", 1, "v", 1, 0xFFFFFFFEu, NULL), SHMCACHE_ETTL);
    th_ok(shmcache_check(c, NULL, 0));
    shmcache_close(c);
}
END_TEST

START_TEST(absurd_segment_sizes_are_refused)
{
    shmcache_options_t o;
    shmcache_t *c;
    static const apr_uint64_t sizes[] = {0, 1, 4095, (apr_uint64_t)-1,
                                         (apr_uint64_t)1 << 62};
    unsigned i;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        apr_status_t rv;
        shmcache_options_init(&o);
        o.size = sizes[i];
        rv = shmcache_create(&c, th_path("size"), &o, th_pool);
        ck_assert_msg(rv == SHMCACHE_ESIZE || rv == SHMCACHE_EOVERFLOW,
                      "size %" APR_UINT64_T_FMT " gave %d", sizes[i], (int)rv);
    }
    shmcache_options_init(&o);
    o.slots = 100000;
    th_status(shmcache_create(&c, th_path("slots"), &o, th_pool), SHMCACHE_EINVAL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc = tcase_create("misuse");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, null_arguments_are_einval);
    tcase_add_test(tc, a_closed_handle_is_einval_everywhere);
    tcase_add_test(tc, destroying_the_pool_detaches_and_frees_the_slot);
    tcase_add_test(tc, a_handle_keeps_working_after_its_file_is_removed);
    tcase_add_test(tc, absurd_lengths_are_refused_without_reading_them);
    tcase_add_test(tc, absurd_segment_sizes_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

const th_helper_t test_helpers[] = {{NULL, NULL}};
