/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_parse.c - the words mod_shmcache reads (mod_shmcache/sc_parse.c)
 * and the number words it shares with shmcache-cli (common/units.c),
 * called directly: no httpd runs. Each grammar is a table of words with
 * what each must give, or that it must be refused; sizes and durations are
 * asked of both the module's and the CLI's parser, which must agree.
 */
#include "harness.h"
#include "sc_private.h"
#include "units.h"

#include <apr_strings.h>
#include <string.h>

#define KiB APR_UINT64_C(1024)
#define REFUSED 0
#define ACCEPTED 1

/* One word of a grammar: accepted with the value, or refused. */
typedef struct word_t {
    const char *text;
    int ok;
    apr_uint64_t value;
} word_t;

/* Sizes: digits, an optional K, M, G or T in either case, an optional B. */
static const word_t sizes[] = {
    {"0", ACCEPTED, 0},
    {"1024", ACCEPTED, 1024},
    {"64B", ACCEPTED, 64},
    {"8kb", ACCEPTED, 8 * KiB},
    {"64K", ACCEPTED, 64 * KiB},
    {"16M", ACCEPTED, 16 * KiB * KiB},
    {"2G", ACCEPTED, 2 * KiB * KiB * KiB},
    {"1T", ACCEPTED, KiB * KiB * KiB * KiB},
    {"3tB", ACCEPTED, 3 * KiB * KiB * KiB * KiB},
    {"16777215T", ACCEPTED, APR_UINT64_C(16777215) << 40},
    {"18446744073709551615", ACCEPTED, APR_UINT64_MAX},
    {"16777216T", REFUSED, 0},              /* 2^64 */
    {"18446744073709551616", REFUSED, 0},
    {"", REFUSED, 0},
    {"K", REFUSED, 0},
    {"1P", REFUSED, 0},
    {"1KK", REFUSED, 0},
    {"1BB", REFUSED, 0},
    {"1 K", REFUSED, 0},
    {" 1", REFUSED, 0},
    {"1 ", REFUSED, 0},
    {"-1", REFUSED, 0},
    {"+1", REFUSED, 0},
    {"0x10", REFUSED, 0},
    {"1.5G", REFUSED, 0},
};

/* Durations: digits and an optional s, m, h or d (lower case). */
static const word_t durations[] = {
    {"0", ACCEPTED, 0},
    {"90", ACCEPTED, 90},
    {"30s", ACCEPTED, 30},
    {"5m", ACCEPTED, 300},
    {"2h", ACCEPTED, 7200},
    {"1d", ACCEPTED, 86400},
    {"3660d", ACCEPTED, SHMCACHE_TTL_MAX},
    {"3661d", REFUSED, 0},
    {"316224001", REFUSED, 0},
    {"1w", REFUSED, 0},
    {"1M", REFUSED, 0},
    {"1S", REFUSED, 0},
    {"1ms", REFUSED, 0},
    {"s", REFUSED, 0},
    {"", REFUSED, 0},
    {"-5", REFUSED, 0},
    {"+5", REFUSED, 0},
    {" 5", REFUSED, 0},
    {"99999999999999999999", REFUSED, 0},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(the_module_and_the_cli_accept_the_same_sizes)
{
    size_t i;

    for (i = 0; i < COUNT(sizes); i++) {
        const word_t *w = &sizes[i];
        apr_uint64_t mod = 7, cli = 7;
        const char *err = sc_parse_size(w->text, &mod, th_pool);
        sc_units_err_e uerr = sc_units_size(w->text, APR_UINT64_MAX, &cli);

        ck_assert_msg((err == NULL) == w->ok, "module: size '%s' %s (%s)",
                      w->text, w->ok ? "refused" : "accepted", err ? err : "");
        ck_assert_msg((uerr == SC_UNITS_OK) == w->ok, "cli: size '%s' %s",
                      w->text, w->ok ? "refused" : "accepted");
        if (w->ok) {
            ck_assert_msg(mod == w->value && cli == w->value,
                          "size '%s': module %" APR_UINT64_T_FMT ", cli %"
                          APR_UINT64_T_FMT ", want %" APR_UINT64_T_FMT,
                          w->text, mod, cli, w->value);
        }
    }
}
END_TEST

START_TEST(the_module_and_the_cli_accept_the_same_durations)
{
    size_t i;

    for (i = 0; i < COUNT(durations); i++) {
        const word_t *w = &durations[i];
        apr_uint32_t mod = 7;
        apr_uint64_t cli = 7;
        int ok = sc_parse_ttl(w->text, &mod);
        sc_units_err_e uerr = sc_units_duration(w->text, SHMCACHE_TTL_MAX, &cli);

        ck_assert_msg(ok == w->ok, "module: ttl '%s' %s", w->text,
                      w->ok ? "refused" : "accepted");
        ck_assert_msg((uerr == SC_UNITS_OK) == w->ok, "cli: duration '%s' %s",
                      w->text, w->ok ? "refused" : "accepted");
        if (w->ok)
            ck_assert_msg(mod == w->value && cli == w->value,
                          "ttl '%s': module %u, cli %" APR_UINT64_T_FMT,
                          w->text, mod, cli);
    }
}
END_TEST

/* A size the grammar accepts but a limit refuses says so, not "bad unit". */
START_TEST(a_size_in_terabytes_meets_the_limit_not_a_bad_unit)
{
    sc_cache_t c;
    const char *err, *path = NULL;
    apr_uint64_t size = 0;
    int given = 0;

    memset(&c, 0, sizeof c);
    sc_cache_defaults(&c);
    c.name = "a";
    err = sc_parse_cache_option("ShmcacheCache", &c, "size", "1T", th_pool);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "ShmcacheCache a: size=1T: the size must be "
                          "between") == err, "%s", err);
    err = sc_parse_cache_option("ShmcacheCache", &c, "size", "10X", th_pool);
    ck_assert_msg(err != NULL && strstr(err, "bad unit 'X'") != NULL, "%s",
                  err ? err : "accepted");
    err = sc_parse_path_size("/x(1T)", &path, &size, &given, th_pool);
    ck_assert_msg(err != NULL && strstr(err, "the size must be between") != NULL,
                  "%s", err ? err : "accepted");
}
END_TEST

/* Each option's words, accepted or refused with a message that names the
 * directive and the cache. */
START_TEST(shmcache_cache_options_take_their_words_and_refuse_others)
{
    static const struct {
        const char *key, *val;
        int ok;
    } opts[] = {
        {"size", "64M", ACCEPTED}, {"SIZE", "1g", ACCEPTED},
        {"size", "255K", REFUSED}, {"size", "33G", REFUSED},
        {"ttl", "1h", ACCEPTED}, {"ttl", "soon", REFUSED},
        {"max-key", "250", ACCEPTED}, {"max-key", "0", REFUSED},
        {"max-key", "65536", REFUSED}, {"max-value", "1M", ACCEPTED},
        {"max-value", "0", REFUSED}, {"max-value", "4G", REFUSED},
        {"buckets", "64", ACCEPTED}, {"buckets", "63", REFUSED},
        {"slots", "8", ACCEPTED}, {"slots", "7", REFUSED},
        {"mode", "0640", ACCEPTED}, {"mode", "660", ACCEPTED},
        {"mode", "0777", REFUSED}, {"mode", "0400", REFUSED},
        {"mode", "04600", REFUSED}, {"mode", "0680", REFUSED},
        {"user", "#0", ACCEPTED}, {"user", "#x", REFUSED},
        {"user", "no-such-user-x", REFUSED}, {"group", "#0", ACCEPTED},
        {"lock-timeout", "600000", ACCEPTED}, {"lock-timeout", "0", REFUSED},
        {"colour", "blue", REFUSED},
    };
    sc_cache_t c;
    size_t i;

    for (i = 0; i < COUNT(opts); i++) {
        const char *err;

        memset(&c, 0, sizeof c);
        sc_cache_defaults(&c);
        c.name = "a";
        err = sc_parse_cache_option("ShmcacheCache", &c, opts[i].key,
                                    opts[i].val, th_pool);
        ck_assert_msg((err == NULL) == opts[i].ok, "%s=%s: %s", opts[i].key,
                      opts[i].val, err ? err : "accepted");
        if (err != NULL)
            ck_assert_msg(strncmp(err, "ShmcacheCache a: ", 17) == 0, "%s", err);
    }
    memset(&c, 0, sizeof c);
    sc_cache_defaults(&c);
    ck_assert_ptr_null(sc_parse_cache_option("D", &c, "ttl", "2h", th_pool));
    ck_assert_uint_eq(c.opts.default_ttl, 7200);
    ck_assert_ptr_null(sc_parse_cache_option("D", &c, "mode", "0640", th_pool));
    ck_assert_uint_eq(c.mode_octal, 0640);
    ck_assert_uint_eq(c.opts.mode, APR_FPROT_UREAD | APR_FPROT_UWRITE
                      | APR_FPROT_GREAD);
}
END_TEST

START_TEST(a_shmcache_cache_line_is_words_then_checks)
{
    sc_cache_t c;
    const char *key = "x", *val = NULL;

    memset(&c, 0, sizeof c);
    sc_cache_defaults(&c);
    c.name = "a";
    c.where = "t.conf:1";
    ck_assert_ptr_null(sc_parse_cache_word("D", &c, "l2=redis://h:1", &key, &val,
                                           th_pool));
    ck_assert_str_eq(key, "l2");
    ck_assert_str_eq(val, "redis://h:1");
    ck_assert_ptr_nonnull(sc_parse_cache_word("D", &c, "=v", &key, &val, th_pool));
    ck_assert_ptr_nonnull(sc_parse_cache_word("D", &c, "size", &key, &val, th_pool));
    ck_assert_ptr_null(sc_parse_cache_option("D", &c, "mode", "0666", th_pool));
    ck_assert_ptr_nonnull(sc_parse_cache_check("D", &c, th_pool));
    ck_assert_ptr_null(sc_parse_cache_word("D", &c, "Allow-World-Writable", &key,
                                           &val, th_pool));
    ck_assert_ptr_null(key);
    ck_assert_ptr_null(sc_parse_cache_check("D", &c, th_pool));
    ck_assert_ptr_null(sc_parse_cache_option("D", &c, "size", "1M", th_pool));
    ck_assert_ptr_null(sc_parse_cache_option("D", &c, "max-value", "1M", th_pool));
    ck_assert_ptr_nonnull(sc_parse_cache_check("D", &c, th_pool));
}
END_TEST

START_TEST(names_paths_and_the_key_apis_words)
{
    const char *path = NULL, *key = NULL;
    apr_uint64_t size = 1, n = 0;
    apr_uint32_t ttl = 0;
    apr_size_t len = 0;
    int given = 0;

    ck_assert(sc_parse_name("sessions_2-b"));
    ck_assert(!sc_parse_name(""));
    ck_assert(!sc_parse_name("a.b"));
    ck_assert(!sc_parse_name("/tmp/x"));
    ck_assert(sc_parse_name(apr_psprintf(th_pool, "%0*d", SC_NAME_MAX, 0)));
    ck_assert(!sc_parse_name(apr_psprintf(th_pool, "%0*d", SC_NAME_MAX + 1, 0)));

    ck_assert_ptr_null(sc_parse_path_size("run/x.cache", &path, &size, &given,
                                          th_pool));
    ck_assert_str_eq(path, "run/x.cache");
    ck_assert_int_eq(given, 0);
    ck_assert_ptr_null(sc_parse_path_size("/x(a)(2M)", &path, &size, &given,
                                          th_pool));
    ck_assert_str_eq(path, "/x(a)");
    ck_assert(given && size == 2 * KiB * KiB);
    ck_assert_ptr_nonnull(sc_parse_path_size("", &path, &size, &given, th_pool));
    ck_assert_ptr_nonnull(sc_parse_path_size("(1M)", &path, &size, &given, th_pool));
    ck_assert_ptr_nonnull(sc_parse_path_size("/x(1M", &path, &size, &given, th_pool));
    ck_assert_ptr_nonnull(sc_parse_path_size("/x)", &path, &size, &given, th_pool));
    ck_assert_ptr_nonnull(sc_parse_path_size("/x(0)", &path, &size, &given, th_pool));

    ck_assert(sc_parse_api_ttl("forever", &ttl) && ttl == SHMCACHE_TTL_FOREVER);
    ck_assert(sc_parse_api_ttl("0", &ttl) && ttl == 0);
    ck_assert(!sc_parse_api_ttl("", &ttl));
    ck_assert(!sc_parse_api_ttl("5m", &ttl));
    ck_assert(!sc_parse_api_ttl("316224001", &ttl));
    ck_assert(sc_parse_u64("18446744073709551615", &n) && n == APR_UINT64_MAX);
    ck_assert(!sc_parse_u64("18446744073709551616", &n));
    ck_assert(!sc_parse_u64("+1", &n));
    ck_assert(!sc_parse_u64(NULL, &n));
    ck_assert(sc_parse_etag_version("\"123\"", &n) && n == 123);
    ck_assert(sc_parse_etag_version("W/\"7\"", &n) && n == 7);
    ck_assert(sc_parse_etag_version("18446744073709551615", &n)
              && n == APR_UINT64_MAX);
    ck_assert(!sc_parse_etag_version("18446744073709551616", &n));
    ck_assert(!sc_parse_etag_version("*", &n));
    ck_assert(!sc_parse_etag_version("\"\"", &n));
    ck_assert(!sc_parse_etag_version("\"-1\"", &n));

    ck_assert_int_eq(sc_parse_key_path("/kv/a%2Fb?x=1", "/kv/", &key, &len),
                     SC_KEY_OK);
    ck_assert(len == 5 && strncmp(key, "a%2Fb", 5) == 0);
    ck_assert_int_eq(sc_parse_key_path("http://h:80/kv/k#f", "/kv", &key, &len),
                     SC_KEY_OK);
    ck_assert(len == 1 && *key == 'k');
    ck_assert_int_eq(sc_parse_key_path("/kvx/k", "/kv", &key, &len),
                     SC_KEY_OUTSIDE);
    ck_assert_int_eq(sc_parse_key_path("/kv/", "/kv", &key, &len), SC_KEY_EMPTY);
    ck_assert_int_eq(sc_parse_key_path("/kv", "/kv", &key, &len), SC_KEY_EMPTY);
    ck_assert_int_eq(sc_parse_key_path("*", "/kv", &key, &len), SC_KEY_NO_PATH);
}
END_TEST

const th_helper_t test_helpers[] = {{NULL, NULL}};

Suite *test_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_add_test(tc, the_module_and_the_cli_accept_the_same_sizes);
    tcase_add_test(tc, the_module_and_the_cli_accept_the_same_durations);
    tcase_add_test(tc, a_size_in_terabytes_meets_the_limit_not_a_bad_unit);
    tcase_add_test(tc, shmcache_cache_options_take_their_words_and_refuse_others);
    tcase_add_test(tc, a_shmcache_cache_line_is_words_then_checks);
    tcase_add_test(tc, names_paths_and_the_key_apis_words);
    suite_add_tcase(s, tc);
    return s;
}
