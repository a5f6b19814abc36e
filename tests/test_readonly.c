/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_readonly.c - read-only attaches (shmcache_options_t.read_only), as
 * a monitoring user or an admin uses them: real processes, and the real
 * shmcache-cli binary (SHMCACHE_CLI_PATH) run as an unprivileged user
 * (nobody, through setpriv) that may only read the cache file.
 *
 * The CLI tests need root (to become nobody, and to own the file that
 * nobody may only read) and setpriv: without them they say why and pass
 * without checking anything. The binary is copied next to the segment
 * (mode 0755) so that nobody can run it wherever the build tree is.
 * Every test checks that the read-only commands leave the segment file
 * byte for byte as it was (a hash of the whole file, with no writer
 * running).
 */
#include "harness.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_user.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#ifndef SHMCACHE_CLI_PATH
#  error "SHMCACHE_CLI_PATH must name the shmcache-cli binary"
#endif

#define SETPRIV_BIN "/usr/bin/setpriv"
#define RUN_USER "nobody"
#define RUN_GROUP "nogroup"

/* ------------------------------------------------------------------------
 * Fixtures
 * ---------------------------------------------------------------------- */

/* A new cache at a fresh path holding k1=v1 and k2=v2, with file mode
 * 0644 (others may read, not write) and, when owner is not -1, that
 * owner. Closed again: no writer runs while the tests look. */
static const char *make_cache(apr_uid_t owner)
{
    const char *path = th_path("ro");
    shmcache_options_t o;
    shmcache_t *c;

    shmcache_options_init(&o);
    o.size = 1 << 20;
    o.mode = APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD
           | APR_FPROT_WREAD;
    if (owner != (apr_uid_t)-1) {
        o.set_owner = 1;
        o.owner = owner;
    }
    th_ok(shmcache_create(&c, path, &o, th_pool));
    th_ok(shmcache_set(c, "k1", 2, "v1", 2, 0, NULL));
    th_ok(shmcache_set(c, "k2", 2, "v2", 2, 0, NULL));
    th_ok(shmcache_close(c));
    return path;
}

/* XXH64 of the whole file at path. */
static apr_uint64_t file_hash(const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    th_ok(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                        APR_FPROT_OS_DEFAULT, th_pool));
    th_ok(apr_file_info_get(&fi, APR_FINFO_SIZE, f));
    n = (apr_size_t)fi.size;
    buf = apr_palloc(th_pool, n);
    th_ok(apr_file_read_full(f, buf, n, NULL));
    apr_file_close(f);
    return XXH64(buf, n, 0);
}

#ifndef _WIN32
/* The CLI as run below: a copy readable and executable by everyone. */
static const char *cli_copy;

/* Why the CLI tests cannot run here, or NULL when they can. */
static const char *cannot_run_as_nobody(void)
{
    const char *argv[] = {SETPRIV_BIN, "--reuid=" RUN_USER,
                          "--regid=" RUN_GROUP, "--clear-groups", "--",
                          NULL, "--version", NULL};
    apr_uid_t uid;
    apr_gid_t gid;
    char *out = NULL, *err = NULL;
    int code;

    if (geteuid() != 0)
        return "not root (cannot become " RUN_USER " or own the file)";
    if (access(SETPRIV_BIN, X_OK) != 0)
        return SETPRIV_BIN " is missing";
    if (apr_uid_get(&uid, &gid, RUN_USER, th_pool) != APR_SUCCESS)
        return "no user " RUN_USER;
    cli_copy = th_path("cli");
    th_ok(apr_file_copy(SHMCACHE_CLI_PATH, cli_copy, APR_FPROT_UREAD
                        | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE
                        | APR_FPROT_GREAD | APR_FPROT_GEXECUTE
                        | APR_FPROT_WREAD | APR_FPROT_WEXECUTE, th_pool));
    th_ok(apr_file_perms_set(cli_copy, APR_FPROT_UREAD | APR_FPROT_UWRITE
                             | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                             | APR_FPROT_GEXECUTE | APR_FPROT_WREAD
                             | APR_FPROT_WEXECUTE));
    argv[5] = cli_copy;
    code = th_run(argv, NULL, 0, &out, NULL, &err);
    if (code != 0)
        return apr_psprintf(th_pool, "%s cannot run %s (exit %d: %s)",
                            RUN_USER, cli_copy, code, err);
    return NULL;
}

/* Skip (say why, check nothing) when the CLI cannot be run as nobody. */
#define NEED_NOBODY()                                                     \
    do {                                                                  \
        const char *why_ = cannot_run_as_nobody();                        \
        if (why_ != NULL) {                                               \
            fprintf(stderr, "test_readonly: skipped: %s\n", why_);        \
            return;                                                       \
        }                                                                 \
    } while (0)

/* One CLI run: its exit code and what it printed. */
typedef struct run_t {
    int code;
    char *out, *err;
    apr_size_t out_len;
} run_t;

/* Whether the len bytes at data contain the NUL-terminated word. */
static int contains(const char *data, apr_size_t len, const char *word)
{
    apr_size_t w = strlen(word), i;

    for (i = 0; i + w <= len; i++)
        if (memcmp(data + i, word, w) == 0)
            return 1;
    return 0;
}

/* shmcache-cli -f path ARGS... (NULL-terminated), as nobody when
 * as_nobody, else as root. */
static run_t cli(int as_nobody, const char *path, ...)
{
    const char *argv[24], *a;
    run_t r = {0, NULL, NULL, 0};
    va_list ap;
    int n = 0;

    if (as_nobody) {
        argv[n++] = SETPRIV_BIN;
        argv[n++] = "--reuid=" RUN_USER;
        argv[n++] = "--regid=" RUN_GROUP;
        argv[n++] = "--clear-groups";
        argv[n++] = "--";
    }
    argv[n++] = cli_copy;
    argv[n++] = "-f";
    argv[n++] = path;
    va_start(ap, path);
    while ((a = va_arg(ap, const char *)) != NULL && n < 23)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    r.code = th_run(argv, NULL, 0, &r.out, &r.out_len, &r.err);
    return r;
}

#define CHECK_RUN(r, want)                                                \
    ck_assert_msg((r).code == (want), "exit %d (wanted %d); stdout: %s; "  \
                  "stderr: %s", (r).code, (want), (r).out, (r).err)

/* ------------------------------------------------------------------------
 * The CLI as a user who may only read the file
 * ---------------------------------------------------------------------- */

START_TEST(a_user_who_may_only_read_inspects_the_cache_and_changes_no_byte)
{
    const char *path;
    apr_uint64_t before;
    run_t r;

    NEED_NOBODY();
    path = make_cache((apr_uid_t)-1);  /* root's file, 0644 */
    before = file_hash(path);

    r = cli(1, path, "stats", "--json", NULL);
    CHECK_RUN(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\"items\": 2"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"sets\": 2"));
    r = cli(1, path, "get", "k1", NULL);
    CHECK_RUN(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "v1"));
    r = cli(1, path, "get", "nope", NULL);
    CHECK_RUN(r, 1);
    r = cli(1, path, "keys", NULL);
    CHECK_RUN(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "k1\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "k2\n"));
    r = cli(1, path, "dump", "-", NULL);
    CHECK_RUN(r, 0);
    ck_assert(contains(r.out, r.out_len, "k1"));
    ck_assert(contains(r.out, r.out_len, "v2"));
    r = cli(1, path, "check", NULL);
    CHECK_RUN(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "ok"));
    ck_assert_ptr_nonnull(strstr(r.out, "2 items"));
    r = cli(1, path, "info", NULL);
    CHECK_RUN(r, 0);

    r = cli(1, path, "set", "k3", "v3", NULL);
    CHECK_RUN(r, 3);
    ck_assert_ptr_nonnull(strstr(r.err, "not writable by you"));
    r = cli(1, path, "--read-only", "del", "k1", NULL);
    CHECK_RUN(r, 3);

    ck_assert_uint_eq(file_hash(path), before);
}
END_TEST

START_TEST(read_only_flag_refuses_a_write_and_names_the_reason)
{
    const char *path;
    apr_uint64_t before;
    run_t r;
    const char *argv[8];

    NEED_NOBODY();
    path = make_cache((apr_uid_t)-1);
    before = file_hash(path);
    /* the flag is global: it goes before the command */
    argv[0] = cli_copy;
    argv[1] = "-f";
    argv[2] = path;
    argv[3] = "--read-only";
    argv[4] = "set";
    argv[5] = "k1";
    argv[6] = "changed";
    argv[7] = NULL;
    r.code = th_run(argv, NULL, 0, &r.out, NULL, &r.err);
    CHECK_RUN(r, 3);
    ck_assert_ptr_nonnull(strstr(r.err, "opened read-only"));
    ck_assert_ptr_nonnull(strstr(r.err, "--read-only"));
    argv[4] = "get";
    argv[6] = NULL;
    r.code = th_run(argv, NULL, 0, &r.out, NULL, &r.err);
    CHECK_RUN(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "v1"));
    ck_assert_uint_eq(file_hash(path), before);
}
END_TEST

START_TEST(root_reads_a_cache_owned_by_another_user_without_a_flag)
{
    apr_uid_t uid;
    apr_gid_t gid;
    const char *path;
    apr_uint64_t before;
    run_t r;

    NEED_NOBODY();
    th_ok(apr_uid_get(&uid, &gid, RUN_USER, th_pool));
    path = make_cache(uid);
    before = file_hash(path);
    r = cli(0, path, "get", "k2", NULL);
    CHECK_RUN(r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "v2"));
    r = cli(0, path, "stats", "--json", NULL);
    CHECK_RUN(r, 0);
    r = cli(0, path, "check", NULL);
    CHECK_RUN(r, 0);
    /* writing still needs the flag that says the owner is trusted */
    r = cli(0, path, "set", "k1", "x", NULL);
    CHECK_RUN(r, 3);
    ck_assert_ptr_nonnull(strstr(r.err, "another user"));
    ck_assert_uint_eq(file_hash(path), before);
}
END_TEST
#endif /* !_WIN32 */

/* ------------------------------------------------------------------------
 * The library, across processes
 * ---------------------------------------------------------------------- */

/* Helper: store argv[2] under argv[1] in the cache at argv[0]. */
static int h_store(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    shmcache_t *c;
    apr_status_t rv;

    if (argc < 3)
        return 2;
    apr_pool_create(&pool, NULL);
    rv = shmcache_attach(&c, argv[0], NULL, pool);
    if (rv == APR_SUCCESS)
        rv = shmcache_set(c, argv[1], strlen(argv[1]), argv[2],
                          strlen(argv[2]), 0, NULL);
    if (rv == APR_SUCCESS)
        rv = shmcache_close(c);
    return rv == APR_SUCCESS ? 0 : 1;
}

static const char *ro_get(shmcache_t *ro, const char *key)
{
    void *v;
    apr_size_t n;
    apr_status_t rv = shmcache_get(ro, key, strlen(key), &v, &n, NULL, th_pool);

    if (rv == SHMCACHE_NOTFOUND)
        return NULL;
    th_ok(rv);
    return v;
}

START_TEST(a_read_only_handle_sees_what_a_writer_process_stores_afterwards)
{
    const char *path = make_cache((apr_uid_t)-1);
    shmcache_options_t o;
    shmcache_t *ro;
    apr_proc_t p;
    const char *a1[] = {NULL, "k1", "written later", NULL};
    const char *a2[] = {NULL, "k9", "new key", NULL};
    shmcache_stats_t st;

    shmcache_options_init(&o);
    o.read_only = 1;
    th_ok(shmcache_attach(&ro, path, &o, th_pool));
    ck_assert_str_eq(ro_get(ro, "k1"), "v1");
    ck_assert_ptr_null(ro_get(ro, "k9"));
    a1[0] = a2[0] = path;
    th_spawn(&p, "store", a1);
    ck_assert_int_eq(th_wait(&p), 0);
    th_spawn(&p, "store", a2);
    ck_assert_int_eq(th_wait(&p), 0);
    ck_assert_str_eq(ro_get(ro, "k1"), "written later");
    ck_assert_str_eq(ro_get(ro, "k9"), "new key");
    th_ok(shmcache_stats(ro, &st));
    ck_assert_uint_eq(st.items, 3);
    ck_assert_uint_eq(st.sets, 4);
    ck_assert_uint_eq(st.attached, 0);  /* the reader holds no slot */
    th_ok(shmcache_close(ro));
}
END_TEST

/* Helper: rewrite keys c0..c499 of the cache at argv[0] (values
 * "val-I-N") for argv[1] milliseconds, touching a file argv[2] once it
 * has started. */
static int h_churn(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    shmcache_t *c;
    apr_time_t end;
    apr_file_t *f;
    unsigned n = 0;
    char k[16], v[32];

    if (argc < 3)
        return 2;
    apr_pool_create(&pool, NULL);
    if (shmcache_attach(&c, argv[0], NULL, pool) != APR_SUCCESS)
        return 1;
    end = apr_time_now() + apr_time_from_msec(atoi(argv[1]));
    if (apr_file_open(&f, argv[2], APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                      APR_FPROT_OS_DEFAULT, pool) == APR_SUCCESS)
        apr_file_close(f);
    while (apr_time_now() < end) {
        unsigned i = n % 500;
        int kl = snprintf(k, sizeof k, "c%u", i);
        int vl = snprintf(v, sizeof v, "val-%u-%u", i, n++);
        if (shmcache_set(c, k, (apr_size_t)kl, v, (apr_size_t)vl, 0, NULL)
            != APR_SUCCESS)
            return 1;
    }
    return shmcache_close(c) == APR_SUCCESS ? 0 : 1;
}

static int count_entry(void *baton, const void *key, apr_size_t klen,
                       const void *value, apr_size_t vlen,
                       const shmcache_meta_t *meta)
{
    (*(int *)baton)++;
    return 0;
}

/* While another process keeps writing, every read of a read-only handle
 * answers a value that was stored (never a torn one), and check answers
 * "ok" or "busy", never a false alarm of corruption. */
START_TEST(read_only_reads_during_writes_are_whole_or_busy)
{
    const char *path = make_cache((apr_uid_t)-1);
    const char *started = th_path("started");
    const char *args[] = {path, "1500", started, NULL};
    shmcache_options_t o;
    shmcache_t *ro;
    apr_proc_t p;
    apr_finfo_t fi;
    int gets = 0, checks_ok = 0, checks_busy = 0, walks = 0, i = 0;
    apr_time_t end;

    shmcache_options_init(&o);
    o.read_only = 1;
    th_ok(shmcache_attach(&ro, path, &o, th_pool));
    th_spawn(&p, "churn", args);
    end = apr_time_now() + apr_time_from_sec(10);
    while (apr_stat(&fi, started, APR_FINFO_TYPE, th_pool) != APR_SUCCESS
           && apr_time_now() < end)
        apr_sleep(1000);
    end = apr_time_now() + apr_time_from_msec(1000);
    while (apr_time_now() < end) {
        char k[16], want[16];
        void *v;
        apr_size_t n;
        char why[128];
        apr_status_t rv;
        int seen = 0;

        snprintf(k, sizeof k, "c%d", i % 500);
        snprintf(want, sizeof want, "val-%d-", i % 500);
        rv = shmcache_get(ro, k, strlen(k), &v, &n, NULL, th_pool);
        ck_assert_msg(rv == APR_SUCCESS || rv == SHMCACHE_NOTFOUND
                      || rv == SHMCACHE_EBUSY, "get: status %d", (int)rv);
        if (rv == APR_SUCCESS) {
            ck_assert_msg(strncmp(v, want, strlen(want)) == 0,
                          "torn value for %s: %s", k, (char *)v);
            gets++;
        }
        if (i % 50 == 0) {
            rv = shmcache_check(ro, why, sizeof why);
            ck_assert_msg(rv == APR_SUCCESS || rv == SHMCACHE_EBUSY,
                          "check: status %d (%s)", (int)rv, why);
            if (rv == APR_SUCCESS)
                checks_ok++;
            else
                checks_busy++;
            rv = shmcache_iterate(ro, count_entry, &seen, 0);
            ck_assert_msg(rv == APR_SUCCESS || rv == SHMCACHE_EBUSY,
                          "iterate: status %d", (int)rv);
            walks++;
        }
        i++;
    }
    ck_assert_int_eq(th_wait(&p), 0);
    fprintf(stderr, "read-only during writes: %d whole gets, %d checks ok, "
            "%d busy, %d walks\n", gets, checks_ok, checks_busy, walks);
    ck_assert_int_gt(gets, 0);
    th_ok(shmcache_check(ro, NULL, 0));
    th_ok(shmcache_close(ro));
}
END_TEST

const th_helper_t test_helpers[] = {
    {"store", h_store},
    {"churn", h_churn},
    {NULL, NULL}
};

Suite *test_suite(void)
{
    Suite *s = suite_create("readonly");
    TCase *lib = tcase_create("library");
#ifndef _WIN32
    TCase *tool = tcase_create("cli");

    tcase_add_checked_fixture(tool, th_setup, th_teardown);
    tcase_set_timeout(tool, 120);
    tcase_add_test(tool, a_user_who_may_only_read_inspects_the_cache_and_changes_no_byte);
    tcase_add_test(tool, read_only_flag_refuses_a_write_and_names_the_reason);
    tcase_add_test(tool, root_reads_a_cache_owned_by_another_user_without_a_flag);
    suite_add_tcase(s, tool);
#endif
    tcase_add_checked_fixture(lib, th_setup, th_teardown);
    tcase_set_timeout(lib, 60);
    tcase_add_test(lib, a_read_only_handle_sees_what_a_writer_process_stores_afterwards);
    tcase_add_test(lib, read_only_reads_during_writes_are_whole_or_busy);
    suite_add_tcase(s, lib);
    return s;
}
