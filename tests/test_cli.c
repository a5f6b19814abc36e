/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cli.c - shmcache-cli, run as the real binary (SHMCACHE_CLI_PATH)
 * through th_run. The library is used directly only to prepare and to
 * verify; what --json prints is checked with cli_json.c.
 *
 * The file reads top-down: the shared fixtures first (running the tool,
 * making a cache, files and lines, other programs), then one section per
 * behaviour, each one TCase of the suite at the end: create and remove,
 * one key, invocation, walking, stats, stats --watch, check and repair,
 * fetch, dump and load, attach errors, the number parser, and a listing of
 * a million keys beside a process measuring its get latency. Helpers that
 * only one section uses open that section. CK_RUN_CASE=<name> runs one.
 *
 * Helpers (re-executions of this binary):
 *   getter PATH NKEYS          gets random keys until ctl:stop appears,
 *                              then stores "MAXUS COUNT FAILS" in ctl:result
 *   hold PATH READY STOP       attaches, creates file READY, waits for file
 *                              STOP, detaches
 *   compute LOG VALUE MS FAIL  fetch's COMMAND
 */
#include "harness.h"
#include "cli_json.h"
#include "units.h"
#include "segment.h"

#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifndef _WIN32
#  include <sys/stat.h>
#  include <sys/statvfs.h>
#  include <unistd.h>
#endif

#ifndef SHMCACHE_CLI_PATH
#  error "SHMCACHE_CLI_PATH must name the shmcache-cli binary"
#endif

#define PYTHON "/usr/bin/python3"

/* ---- running the tool --------------------------------------------------- */

typedef struct run_t {
    int code;
    char *out;
    apr_size_t out_len;
    char *err;
} run_t;

/* Run shmcache-cli [-f path] args... (NULL-terminated) with stdin in. */
static run_t cli_v(const char *path, const void *in, apr_size_t in_len,
                   va_list ap)
{
    const char *argv[64];
    const char *a;
    int n = 0;
    run_t r;

    argv[n++] = SHMCACHE_CLI_PATH;
    if (path != NULL) {
        argv[n++] = "-f";
        argv[n++] = path;
    }
    while ((a = va_arg(ap, const char *)) != NULL && n < 63)
        argv[n++] = a;
    argv[n] = NULL;
    r.code = th_run(argv, in, in_len, &r.out, &r.out_len, &r.err);
    return r;
}

static run_t cli_in(const char *path, const void *in, apr_size_t in_len, ...)
{
    va_list ap;
    run_t r;

    va_start(ap, in_len);
    r = cli_v(path, in, in_len, ap);
    va_end(ap);
    return r;
}

#define CLI(path, ...) cli_in((path), NULL, 0, __VA_ARGS__, (const char *)NULL)
#define CLI_IN(path, in, len, ...) \
    cli_in((path), (in), (len), __VA_ARGS__, (const char *)NULL)

#define expect_exit(r, want) \
    ck_assert_msg((r).code == (want), "%s:%d: exit %d, wanted %d\nstdout: %.300s\n" \
                  "stderr: %.600s", __FILE__, __LINE__, (r).code, (want), \
                  (r).out, (r).err)
#define expect_in(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "%s:%d: '%s' not in: %.800s", \
                  __FILE__, __LINE__, (needle), (hay))

/* A new cache made by the tool itself, with extra create options. */
static const char *new_cache(const char *tag, ...)
{
    const char *path = th_path(tag);
    const char *argv[32];
    const char *a;
    int n = 0;
    va_list ap;
    run_t r;

    argv[n++] = SHMCACHE_CLI_PATH;
    argv[n++] = "-f";
    argv[n++] = path;
    argv[n++] = "create";
    va_start(ap, tag);
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    r.code = th_run(argv, NULL, 0, &r.out, &r.out_len, &r.err);
    expect_exit(r, 0);
    return path;
}
#define NEW_CACHE(tag, ...) new_cache((tag), __VA_ARGS__, (const char *)NULL)

static shmcache_t *attach(const char *path)
{
    shmcache_t *c;

    th_ok(shmcache_attach(&c, path, NULL, th_pool));
    return c;
}

/* Run python3 -c code on data, a second opinion beside json_parse where
 * python3 can be run with our pipes. @return its exit code, or -1 when
 * python3 is not installed or not reachable (Windows, Wine). */
static int python(const char *code, const void *data, apr_size_t len,
                  char **err)
{
    const char *argv[] = {PYTHON, "-c", code, NULL};
    apr_finfo_t fi;

#ifdef _WIN32
    /* a Unix path: under Wine it names the Linux python3, which Wine starts
     * without our pipes */
    return -1;
#endif
    if (apr_stat(&fi, PYTHON, APR_FINFO_TYPE, th_pool) != APR_SUCCESS)
        return -1;
    return th_run(argv, data, len, NULL, NULL, err);
}

static void expect_json(const char *code, const run_t *r)
{
    char *err = NULL;
    int rc = python(code, r->out, r->out_len, &err);

    if (rc < 0)                 /* json_parse validated it already */
        return;
    ck_assert_msg(rc == 0, "JSON check failed (%s): %s\non: %.500s", code, err,
                  r->out);
}

/* ---- files, lines and other programs ----------------------------------- */

/* How many newlines s[0..len) holds. */
static apr_size_t count_lines(const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

/* Write data to the file at path (created or truncated, mode 0600). */
static void write_file(const char *path, const void *data, apr_size_t len)
{
    apr_file_t *f;
    apr_size_t n;

    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                        | APR_FOPEN_TRUNCATE | APR_FOPEN_BINARY,
                        APR_FPROT_UREAD | APR_FPROT_UWRITE, th_pool));
    th_ok(apr_file_write_full(f, data, len, &n));
    th_ok(apr_file_close(f));
}

/* The whole file at path as a NUL-terminated pool string ("" if absent). */
static char *slurp(const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_FPROT_OS_DEFAULT, th_pool) != APR_SUCCESS)
        return "";
    th_ok(apr_file_info_get(&fi, APR_FINFO_SIZE, f));
    n = (apr_size_t)fi.size;
    buf = apr_pcalloc(th_pool, n + 1);
    if (n > 0)
        apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    buf[n] = '\0';
    return buf;
}

/* The lines of out (a pool copy, newlines cut); *n receives how many. */
static char **split_lines(const char *out, apr_size_t len, int *n)
{
    char *copy = apr_pstrmemdup(th_pool, out, len), *last, *l;
    char **lines = apr_pcalloc(th_pool, sizeof(char *) * (len + 1));

    *n = 0;
    for (l = apr_strtok(copy, "\n", &last); l != NULL;
         l = apr_strtok(NULL, "\n", &last))
        lines[(*n)++] = l;
    return lines;
}

/* Wait up to ms milliseconds for path to exist. @return 1 when it does. */
static int wait_for_file(const char *path, int ms)
{
    apr_finfo_t fi;

    for (; ms > 0; ms -= 10) {
        if (apr_stat(&fi, path, APR_FINFO_TYPE, th_pool) == APR_SUCCESS)
            return 1;
        apr_sleep(10000);
    }
    return 0;
}

#ifndef _WIN32
/* Lines in the file at path so far. */
static int lines_in(const char *path)
{
    char *s = slurp(path);

    return (int)count_lines(s, strlen(s));
}

/* Wait until the file at path has at least n lines (at most 30 s). */
static void wait_for_lines(const char *path, int n)
{
    int i;

    for (i = 0; i < 3000 && lines_in(path) < n; i++)
        apr_sleep(apr_time_from_msec(10));
    ck_assert_msg(lines_in(path) >= n, "%s: %d lines after 30 s, wanted %d",
                  path, lines_in(path), n);
}
#endif

/* Store n entries in the cache at path, each key and value fmt % i. */
static void fill(const char *path, int n, const char *fmt)
{
    shmcache_t *c = attach(path);
    char key[64];
    int i;

    for (i = 0; i < n; i++) {
        int len = snprintf(key, sizeof key, fmt, i);
        th_ok(shmcache_set(c, key, (apr_size_t)len, key, (apr_size_t)len, 0,
                           NULL));
    }
    shmcache_close(c);
}

#ifndef _WIN32
/* 1 when the program at path exists (a tool a test needs: util-linux's
 * script, strace, setpriv). */
static int have_program(const char *path)
{
    apr_finfo_t fi;

    return apr_stat(&fi, path, APR_FINFO_TYPE, th_pool) == APR_SUCCESS;
}

/* Run argv (NULL-terminated, argv[0] a full path) with no stdin. */
static run_t run_program(const char *const *argv)
{
    run_t r;

    r.code = th_run(argv, NULL, 0, &r.out, &r.out_len, &r.err);
    return r;
}

#define SKIP_WITHOUT(prog)                                                   \
    do {                                                                     \
        if (!have_program(prog)) {                                           \
            fprintf(stderr, "%s: skipped, %s is not installed\n", __func__,  \
                    prog);                                                   \
            return;                                                          \
        }                                                                    \
    } while (0)
#endif

/* ==== the JSON checker ==================================================== */

/* The parser refuses what it must (it is what validates on Windows). */
START_TEST(the_json_checker_refuses_invalid_json)
{
    static const char *const bad[] = {"", "{", "{\"a\":1,}", "[1,]", "{'a':1}",
        "{\"a\" 1}", "01", "1.", ".5", "+1", "\"\x01\"", "\"\\x\"", "\"\\ud800\"",
        "[1] 2", "tru", "{\"a\":1}}", "NaN", "\"abc"};
    const char *ok = " {\"a\": [1, -2.5e3, true, null], \"b\\u00e9\": "
                     "\"\\ud83d\\ude00\"} ";
    const char *why;
    json_t *v;
    unsigned i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(json_try_parse(bad[i], strlen(bad[i]), &why) == NULL,
                      "accepted invalid JSON: %s", bad[i]);
    v = json_parse(ok, strlen(ok));
    ck_assert_double_eq(jget(v, "a")->vals[1]->num, -2500);
    ck_assert_str_eq(jstr(v, "b\xc3\xa9"), "\xf0\x9f\x98\x80");
}
END_TEST

/* ==== create and remove =================================================== */

START_TEST(create_makes_a_cache_that_info_describes_without_the_seed)
{
    const char *path = NEW_CACHE("info", "--size", "2M", "--buckets", "1000",
                                 "--mode", "0640", "--max-key", "100",
                                 "--max-value", "64K", "--default-ttl", "5m",
                                 "--slots", "16");
    run_t r = CLI(path, "info");

    expect_exit(r, 0);
    expect_in(r.out, path);
#ifndef _WIN32
    expect_in(r.out, "mode 0640");       /* Windows: an ACL, not a mode */
#endif
    expect_in(r.out, "2097152 bytes");
    expect_in(r.out, "buckets        1024");
    expect_in(r.out, "process slots  16");
    expect_in(r.out, "max key        100 bytes");
    expect_in(r.out, "max value      65536 bytes");
    expect_in(r.out, "default ttl    300 seconds");
    expect_in(r.out, "hash seed      random per cache (not shown)");
    expect_in(r.out, apr_psprintf(th_pool, "format         version %u, layout ",
                                  SC_FORMAT_VERSION));
    expect_in(r.out, "match this build, shmcache " SHMCACHE_VERSION_STRING);
    /* the header is one 4 KiB page; the lock region follows it */
    expect_in(r.out, "layout         header 0 | lock 4096 | buckets ");
}
END_TEST

START_TEST(create_refuses_an_existing_path_and_suggests_remove)
{
    const char *path = NEW_CACHE("exists", "--size", "1M");
    run_t r = CLI(path, "create", "--size", "1M");

    expect_exit(r, 3);
    expect_in(r.err, path);
    expect_in(r.err, "remove");
}
END_TEST

START_TEST(create_on_a_filesystem_too_small_exits_3_without_leaving_a_file)
{
#ifndef _WIN32
    /* Ask for 64 MiB more than the whole filesystem holds, so the
     * reservation is refused at once. (Not more than what is free: tmpfs
     * would hand out pages until it ran dry, and a tmpfs larger than RAM,
     * as /dev/shm often is, would take the machine's memory with it.) */
    const char *path = th_path("huge");
    char *dir = apr_pstrdup(th_pool, path);
    struct statvfs vfs;
    apr_uint64_t want;
    apr_finfo_t fi;
    run_t r;

    *strrchr(dir, '/') = '\0';
    ck_assert_int_eq(statvfs(dir, &vfs), 0);
    want = (apr_uint64_t)vfs.f_blocks * vfs.f_frsize + (64u << 20);
    if (want > SHMCACHE_LIMIT_SIZE) {
        fprintf(stderr, "create_on_a_filesystem_too_small: skipped, %s has "
                "room for more than the largest cache\n", dir);
        return;
    }
    r = CLI(path, "create", "--size",
            apr_psprintf(th_pool, "%" APR_UINT64_T_FMT, want));
    expect_exit(r, 3);
    expect_in(r.err, path);
    expect_in(r.err, "reserve");
    expect_in(r.err, "smaller --size");
    ck_assert_int_ne(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
#endif
}
END_TEST

#ifndef _WIN32
/* Creating a cache is refused for a user who cannot write the directory;
 * the message says so, names the directory and the user, and does not
 * point at a cache owner or --allow-foreign-owner (no cache exists). */
START_TEST(create_in_an_unwritable_directory_names_the_directory)
{
    const char *dir = th_path("rodir"), *path;
    const char *argv[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                          "--clear-groups", SHMCACHE_CLI_PATH, "-f", NULL,
                          "create", "--size", "1M", NULL};
    run_t r;

    if (geteuid() != 0) {
        fprintf(stderr, "%s: skipped, needs root to run as another user\n",
                __func__);
        return;
    }
    SKIP_WITHOUT("/usr/bin/setpriv");
    th_ok(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, th_pool));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    path = apr_pstrcat(th_pool, dir, "/cache", NULL);
    argv[6] = path;
    r = run_program(argv);
    apr_dir_remove(dir, th_pool);
    expect_exit(r, 3);
    expect_in(r.err, apr_psprintf(th_pool, "may not create files in the "
                                  "directory %s", dir));
    expect_in(r.err, "user nobody");
    ck_assert_msg(strstr(r.err, "owner") == NULL, "owner hint: %s", r.err);
}
END_TEST
#endif

START_TEST(remove_deletes_the_cache)
{
    const char *path = NEW_CACHE("rm", "--size", "1M");
    apr_finfo_t fi;
    run_t r = CLI(path, "remove");

    expect_exit(r, 0);
    ck_assert_int_ne(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
    r = CLI(path, "remove");
    expect_exit(r, 3);
    expect_in(r.err, "no cache at");
}
END_TEST

START_TEST(remove_refuses_while_another_process_is_attached_unless_forced)
{
    const char *path = NEW_CACHE("busy", "--size", "1M");
    const char *ready = th_path("ready"), *stop = th_path("stop");
    const char *args[] = {path, ready, stop, NULL};
    apr_finfo_t fi;
    apr_proc_t proc;
    run_t r;

    th_spawn(&proc, "hold", args);
    ck_assert_msg(wait_for_file(ready, 10000), "the helper never attached");
    r = CLI(path, "remove");
    expect_exit(r, 3);
    expect_in(r.err, "1 process is still attached");
    expect_in(r.err, "--force");
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
    r = CLI(path, "remove", "--force");
    expect_exit(r, 0);
    ck_assert_int_ne(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
    write_file(stop, "x", 1);
    ck_assert_int_eq(th_wait(&proc), 0);
}
END_TEST

START_TEST(remove_refuses_a_file_that_is_not_a_cache)
{
    const char *path = th_path("notcache");
    apr_finfo_t fi;
    run_t r;

    write_file(path, "precious data, not a cache at all; keep it please.....",
               54);
    r = CLI(path, "remove");
    expect_exit(r, 3);
    expect_in(r.err, "not a shmcache");
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
}
END_TEST

/* A segment whose header fails validation cannot be asked how many
 * processes use it: remove says so instead of counting 0, and removes it
 * only with --force. */
START_TEST(remove_refuses_a_segment_that_fails_validation_unless_forced)
{
    const char *path = NEW_CACHE("badhdr", "--size", "1M");
    apr_uint32_t bad = 0;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = sizeof bad;
    apr_off_t off = offsetof(sc_header_sh_t, nbuckets);
    run_t r;

    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE, 0, th_pool));
    th_ok(apr_file_seek(f, APR_SET, &off));
    th_ok(apr_file_write(f, &bad, &n));
    apr_file_close(f);
    r = CLI(path, "remove");
    expect_exit(r, 3);
    expect_in(r.err, "fails validation");
    expect_in(r.err, "--force");
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
    r = CLI(path, "remove", "--force");
    expect_exit(r, 0);
    ck_assert_int_ne(apr_stat(&fi, path, APR_FINFO_TYPE, th_pool), APR_SUCCESS);
}
END_TEST

static int helper_hold(int argc, const char *const *argv)
{
    shmcache_t *c;
    apr_finfo_t fi;
    int i;

    if (argc < 3 || shmcache_attach(&c, argv[0], NULL, th_pool) != APR_SUCCESS)
        return 2;
    {
        apr_file_t *f;
        if (apr_file_open(&f, argv[1], APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                          APR_FPROT_OS_DEFAULT, th_pool) != APR_SUCCESS)
            return 3;
        apr_file_close(f);
    }
    for (i = 0; i < 3000; i++) {
        if (apr_stat(&fi, argv[2], APR_FINFO_TYPE, th_pool) == APR_SUCCESS)
            break;
        apr_sleep(10000);
    }
    shmcache_close(c);
    return 0;
}

/* ==== one key: get, set, add, replace, cas, del, incr, touch, ttl ========= */

START_TEST(set_then_get_prints_the_raw_value_without_a_newline)
{
    const char *path = NEW_CACHE("get", "--size", "1M");
    run_t r = CLI(path, "set", "greeting", "hello world");

    expect_exit(r, 0);
    r = CLI(path, "get", "greeting");
    expect_exit(r, 0);
    ck_assert_uint_eq(r.out_len, 11);
    ck_assert_str_eq(r.out, "hello world");
}
END_TEST

#ifndef _WIN32
/* On a terminal (util-linux's script gives the tool one) get ends the
 * value with a newline, unless it ends with one already; through a pipe
 * the bytes are exact (set_then_get_prints_the_raw_value_without_a_newline). */
START_TEST(get_ends_with_a_newline_on_a_terminal_only)
{
    const char *path = NEW_CACHE("tty", "--size", "1M");
    const char *argv[] = {"/usr/bin/script", "-qec", NULL, "/dev/null", NULL};
    run_t r;

    SKIP_WITHOUT("/usr/bin/script");
    expect_exit(CLI(path, "set", "plain", "hello"), 0);
    expect_exit(CLI(path, "set", "line", "hello\n"), 0);
    argv[2] = apr_psprintf(th_pool, "%s -f %s get plain", SHMCACHE_CLI_PATH,
                           path);
    r = run_program(argv);
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "hello\r\n");      /* the terminal's \r */
    argv[2] = apr_psprintf(th_pool, "%s -f %s get line", SHMCACHE_CLI_PATH,
                           path);
    r = run_program(argv);
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "hello\r\n");      /* no second newline */
    r = CLI(path, "get", "plain");
    ck_assert_uint_eq(r.out_len, 5);
}
END_TEST
#endif

START_TEST(get_of_a_missing_key_exits_1)
{
    const char *path = NEW_CACHE("miss", "--size", "1M");
    run_t r = CLI(path, "get", "nothing-here");

    expect_exit(r, 1);
    ck_assert_uint_eq(r.out_len, 0);
    expect_in(r.err, "not found");
}
END_TEST

START_TEST(binary_values_with_nul_bytes_round_trip_through_stdin)
{
    const char *path = NEW_CACHE("bin", "--size", "4M");
    apr_size_t len = 300000, i;
    unsigned char *v = apr_palloc(th_pool, len);
    shmcache_t *c;
    void *got;
    apr_size_t got_len;
    run_t r;

    for (i = 0; i < len; i++)
        v[i] = (unsigned char)((i * 7 + (i >> 8)) & 0xff);
    v[0] = 0;
    v[len - 1] = 0;
    r = CLI_IN(path, v, len, "set", "blob");
    expect_exit(r, 0);
    r = CLI(path, "get", "blob");
    expect_exit(r, 0);
    ck_assert_uint_eq(r.out_len, len);
    ck_assert(memcmp(r.out, v, len) == 0);
    /* and what the library sees is the same bytes */
    c = attach(path);
    th_ok(shmcache_get(c, "blob", 4, &got, &got_len, NULL, th_pool));
    ck_assert_uint_eq(got_len, len);
    ck_assert(memcmp(got, v, len) == 0);
    /* a value of only NUL bytes */
    r = CLI_IN(path, "\0\0\0", 3, "set", "nuls");
    expect_exit(r, 0);
    r = CLI(path, "get", "nuls");
    expect_exit(r, 0);
    ck_assert_uint_eq(r.out_len, 3);
    ck_assert(memcmp(r.out, "\0\0\0", 3) == 0);
}
END_TEST

START_TEST(set_with_an_empty_stdin_stores_an_empty_value)
{
    const char *path = NEW_CACHE("empty", "--size", "1M");
    run_t r = CLI(path, "set", "nothing");

    expect_exit(r, 0);
    r = CLI(path, "get", "--json", "nothing");
    expect_exit(r, 0);
    expect_in(r.out, "\"value\": \"\"");
    expect_in(r.out, "\"length\": 0");
}
END_TEST

START_TEST(a_value_over_the_cache_limit_is_a_usage_error)
{
    const char *path = NEW_CACHE("big", "--size", "1M", "--max-value", "1K");
    char v[2048];
    run_t r;

    memset(v, 'v', sizeof v);
    r = CLI_IN(path, v, sizeof v, "set", "k");
    expect_exit(r, 2);
    expect_in(r.err, "1024");
    r = CLI(path, "get", "k");
    expect_exit(r, 1);
}
END_TEST

START_TEST(get_json_escapes_utf8_and_base64s_other_bytes)
{
    const char *path = NEW_CACHE("json", "--size", "1M");
    const char *text = "caf\xc3\xa9 \"quoted\"\n\ttab\\ \x01";
    /* on stdin: on Windows, apr_proc_create passes a '"' inside an
     * argument on unescaped, and the child's C runtime drops it */
    run_t r = CLI_IN(path, text, strlen(text), "set", "--ttl", "1h", "text");
    json_t *d;

    expect_exit(r, 0);
    r = CLI(path, "get", "--json", "text");
    expect_exit(r, 0);
    expect_in(r.out, "\"encoding\": \"utf-8\"");
    d = json_parse(r.out, r.out_len);
    ck_assert_str_eq(jstr(d, "value"), text);
    ck_assert_str_eq(jstr(d, "encoding"), "utf-8");
    ck_assert(jnum(d, "ttl") >= 3590 && jnum(d, "ttl") <= 3600);
    ck_assert(jnum(d, "version") > 0);
    ck_assert(jnum(d, "length") == 22);
    expect_json("import json,sys; d=json.load(sys.stdin); "
                "assert d['value']=='caf\\u00e9 \"quoted\"\\n\\ttab\\\\ \\x01', d; "
                "assert d['encoding']=='utf-8'; assert 3590<=d['ttl']<=3600, d; "
                "assert d['version']>0; assert d['length']==22, d", &r);
    r = CLI_IN(path, "\xff\x00\xfe", 3, "set", "bin");
    expect_exit(r, 0);
    r = CLI(path, "get", "--json", "bin");
    expect_exit(r, 0);
    expect_in(r.out, "\"value\": \"/wD+\"");
    d = json_parse(r.out, r.out_len);
    ck_assert_str_eq(jstr(d, "encoding"), "base64");
    ck_assert_str_eq(jstr(d, "value"), "/wD+");
    ck_assert(jget(d, "ttl")->type == J_NULL);
    expect_json("import json,sys,base64; d=json.load(sys.stdin); "
                "assert d['encoding']=='base64'; "
                "assert base64.b64decode(d['value'])==b'\\xff\\x00\\xfe'; "
                "assert d['ttl'] is None, d", &r);
}
END_TEST

START_TEST(set_ttl_is_applied_and_ttl_prints_the_seconds_left)
{
    const char *path = NEW_CACHE("ttl", "--size", "1M");
    run_t r = CLI(path, "set", "k", "v", "--ttl", "2h");
    long left;

    expect_exit(r, 0);
    r = CLI(path, "ttl", "k");
    expect_exit(r, 0);
    left = strtol(r.out, NULL, 10);
    ck_assert_msg(left >= 7190 && left <= 7200, "ttl printed %s", r.out);
    r = CLI(path, "set", "forever", "v");
    expect_exit(r, 0);
    r = CLI(path, "ttl", "forever");
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "forever\n");
    r = CLI(path, "ttl", "missing");
    expect_exit(r, 1);
}
END_TEST

START_TEST(an_entry_set_with_a_short_ttl_expires)
{
    const char *path = NEW_CACHE("expire", "--size", "1M");
    run_t r = CLI(path, "set", "k", "v", "--ttl", "1s");

    expect_exit(r, 0);
    apr_sleep(apr_time_from_msec(2100));
    r = CLI(path, "get", "k");
    expect_exit(r, 1);
}
END_TEST

START_TEST(add_on_an_existing_key_exits_1_and_keeps_the_value)
{
    const char *path = NEW_CACHE("add", "--size", "1M");
    run_t r = CLI(path, "add", "k", "first");

    expect_exit(r, 0);
    r = CLI(path, "add", "k", "second");
    expect_exit(r, 1);
    expect_in(r.err, "exists");
    r = CLI(path, "get", "k");
    ck_assert_str_eq(r.out, "first");
}
END_TEST

START_TEST(replace_changes_an_existing_key_and_exits_1_on_a_missing_one)
{
    const char *path = NEW_CACHE("replace", "--size", "1M");
    run_t r = CLI(path, "replace", "k", "v");

    expect_exit(r, 1);
    r = CLI(path, "get", "k");
    expect_exit(r, 1);
    r = CLI(path, "set", "k", "old");
    expect_exit(r, 0);
    r = CLI(path, "replace", "k", "new");
    expect_exit(r, 0);
    r = CLI(path, "get", "k");
    ck_assert_str_eq(r.out, "new");
}
END_TEST

START_TEST(cas_stores_at_the_current_version_and_exits_1_on_a_stale_one)
{
    const char *path = NEW_CACHE("cas", "--size", "1M");
    shmcache_t *c;
    shmcache_meta_t m;
    run_t r = CLI(path, "set", "k", "v1");
    char *ver;

    expect_exit(r, 0);
    c = attach(path);
    th_ok(shmcache_get_meta(c, "k", 1, &m));
    ver = apr_psprintf(th_pool, "%" APR_UINT64_T_FMT, m.version);
    r = CLI(path, "cas", "k", ver, "v2");
    expect_exit(r, 0);
    r = CLI(path, "cas", "k", ver, "v3");
    expect_exit(r, 1);
    expect_in(r.err, "version");
    r = CLI(path, "get", "k");
    ck_assert_str_eq(r.out, "v2");
    r = CLI(path, "cas", "missing", ver, "v");
    expect_exit(r, 1);
}
END_TEST

START_TEST(del_removes_a_key_and_a_second_del_exits_1)
{
    const char *path = NEW_CACHE("del", "--size", "1M");
    run_t r = CLI(path, "set", "k", "v");

    expect_exit(r, 0);
    r = CLI(path, "del", "k");
    expect_exit(r, 0);
    r = CLI(path, "get", "k");
    expect_exit(r, 1);
    r = CLI(path, "del", "k");
    expect_exit(r, 1);
    r = CLI(path, "set", "k2", "v");
    r = CLI(path, "delete", "k2");
    expect_exit(r, 0);
}
END_TEST

START_TEST(incr_adds_and_a_negative_delta_or_decr_subtracts)
{
    const char *path = NEW_CACHE("incr", "--size", "1M");
    run_t r = CLI(path, "incr", "n");

    expect_exit(r, 1);
    r = CLI(path, "incr", "n", "--init", "10", "--ttl", "1h");
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "10\n");
    r = CLI(path, "incr", "n");
    ck_assert_str_eq(r.out, "11\n");
    r = CLI(path, "incr", "n", "5");
    ck_assert_str_eq(r.out, "16\n");
    r = CLI(path, "incr", "n", "-6");
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "10\n");
    r = CLI(path, "decr", "n", "3");
    ck_assert_str_eq(r.out, "7\n");
    r = CLI(path, "decr", "n");
    ck_assert_str_eq(r.out, "6\n");
    r = CLI(path, "decr", "n", "100");
    ck_assert_str_eq(r.out, "0\n");
    r = CLI(path, "ttl", "n");
    ck_assert_msg(strtol(r.out, NULL, 10) > 3500, "ttl %s", r.out);
    r = CLI(path, "incr", "n", "18446744073709551615");
    expect_exit(r, 2);      /* DELTA is signed 64-bit */
    r = CLI(path, "set", "word", "abc");
    r = CLI(path, "incr", "word");
    expect_exit(r, 3);
    expect_in(r.err, "not an unsigned decimal number");
}
END_TEST

START_TEST(touch_gives_a_new_ttl_and_exits_1_on_a_missing_key)
{
    const char *path = NEW_CACHE("touch", "--size", "1M");
    run_t r = CLI(path, "set", "k", "v", "--ttl", "10");

    expect_exit(r, 0);
    r = CLI(path, "touch", "k", "1d");
    expect_exit(r, 0);
    r = CLI(path, "ttl", "k");
    ck_assert_msg(strtol(r.out, NULL, 10) > 86000, "ttl %s", r.out);
    r = CLI(path, "touch", "k", "forever");
    expect_exit(r, 0);
    r = CLI(path, "ttl", "k");
    ck_assert_str_eq(r.out, "forever\n");
    r = CLI(path, "touch", "missing", "5m");
    expect_exit(r, 1);
}
END_TEST

/* ==== invocation: arguments, options, the cache path, help ================ */

START_TEST(a_key_starting_with_a_dash_goes_after_double_dash)
{
    const char *path = NEW_CACHE("dash", "--size", "1M");
    run_t r = CLI(path, "set", "--", "-k", "v");

    expect_exit(r, 0);
    r = CLI(path, "get", "--", "-k");
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "v");
}
END_TEST

START_TEST(options_may_follow_the_arguments_and_f_may_follow_the_command)
{
    const char *path = NEW_CACHE("order", "--size", "1M");
    run_t r = CLI(NULL, "set", "k", "v", "-f", path, "--ttl", "1m");

    expect_exit(r, 0);
    r = CLI(NULL, "ttl", "k", "--file", path);
    expect_exit(r, 0);
    ck_assert_msg(strtol(r.out, NULL, 10) > 50, "ttl %s", r.out);
}
END_TEST

START_TEST(shmcache_file_names_the_cache_when_f_is_absent)
{
    const char *path = NEW_CACHE("env", "--size", "1M");
    run_t r;

    th_ok(apr_env_set("SHMCACHE_FILE", path, th_pool));
    r = CLI(NULL, "set", "k", "from-env");
    expect_exit(r, 0);
    r = CLI(NULL, "get", "k");
    apr_env_delete("SHMCACHE_FILE", th_pool);
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "from-env");
}
END_TEST

START_TEST(without_f_nor_shmcache_file_the_default_path_is_used_and_said)
{
    run_t r;

    apr_env_delete("SHMCACHE_FILE", th_pool);
    r = CLI(NULL, "info");
    if (r.code == 0) {          /* someone made the default cache here */
        expect_in(r.out, "/dev/shm/shmcache.default");
    } else {
        expect_exit(r, 3);
        expect_in(r.err, "/dev/shm/shmcache.default");
        expect_in(r.err, "default path");
    }
    r = CLI(NULL, "--help");
    expect_in(r.out, "/dev/shm/shmcache.default");
}
END_TEST

START_TEST(malformed_invocations_are_usage_errors_with_a_message)
{
    const char *path = NEW_CACHE("usage", "--size", "1M", "--max-key", "16");
    char *long_key = apr_palloc(th_pool, 70001), *over_key = apr_palloc(th_pool, 18);
    const char *const *c;
    /* each row: arguments after -f PATH, NULL-terminated; rows end at NULL */
    const char *const cases[][8] = {
        {NULL},                                     /* no command */
        {"frobnicate", NULL},                       /* unknown command */
        {"get", "--bogus", "k", NULL},              /* unknown option */
        {"get", NULL},                              /* missing KEY */
        {"get", "a", "b", NULL},                    /* too many arguments */
        {"set", "k", "v", "extra", NULL},
        {"set", "k", "v", "--ttl", NULL},           /* option without value */
        {"set", "k", "v", "--ttl", "-5", NULL},     /* negative TTL */
        {"set", "k", "v", "--ttl", "5x", NULL},     /* unknown unit */
        {"set", "k", "v", "--ttl", "", NULL},       /* empty */
        {"set", "k", "v", "--ttl", "99999999999999999999", NULL}, /* overflow */
        {"set", "k", "v", "--ttl", "3661d", NULL},  /* above the TTL limit */
        {"set", "", "v", NULL},                     /* empty key */
        {"set", over_key, "v", NULL},               /* over the cache's max-key */
        {"get", long_key, NULL},                    /* over any cache's limit */
        {"get", "--json=yes", "k", NULL},           /* flag with a value */
        {"cas", "k", "1", NULL},                    /* missing VALUE */
        {"cas", "k", "v1", "v", NULL},              /* bad VERSION */
        {"incr", "k", "1.5", NULL},                 /* bad DELTA */
        {"incr", "k", "--init", "-3", NULL},        /* negative --init */
        {"touch", "k", NULL},                       /* missing TTL */
        {"touch", "k", "-1", NULL},                 /* negative TTL */
        {"keys", "--limit", "0", NULL},
        {"keys", "--limit", "ten", NULL},
        {"scan", "--count", "5", NULL},             /* --count without --cursor */
        {"stats", "5", NULL},                       /* SECS without --watch */
        {"stats", "--watch", "0", "--count", "1", NULL},
        {"create", "--size", "12Q", NULL},
        {"create", "--size", "-1M", NULL},
        {"create", "--size", "100", NULL},          /* below the minimum */
        {"create", "--size", "64G", NULL},          /* above the format's limit */
        {"create", "--mode", "999", NULL},
        {"create", "--max-key", "0", NULL},
        {"create", "--slots", "2", NULL},
        {"dump", NULL},
        {"load", "a", "b", NULL},
        {"help", "nosuchcommand", NULL},
        {"fetch", "k", "true", NULL},               /* COMMAND without -- */
        {"fetch", "k", "--", NULL},                 /* no COMMAND */
        {"fetch", "a", "b", "--", "true", NULL},    /* two keys */
        {"fetch", "k", "--lease-ttl", "0", "--", "true", NULL},
        {"fetch", "k", "--wait", "2x", "--", "true", NULL},
        {"\x01", NULL}
    };
    apr_size_t i;

    memset(long_key, 'k', 70000);
    long_key[70000] = '\0';
    memset(over_key, 'o', 17);
    over_key[17] = '\0';
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[12];
        int n = 0;
        run_t r;

        argv[n++] = SHMCACHE_CLI_PATH;
        argv[n++] = "-f";
        argv[n++] = path;
        for (c = cases[i]; *c != NULL; c++)
            argv[n++] = *c;
        argv[n] = NULL;
        r.code = th_run(argv, NULL, 0, &r.out, &r.out_len, &r.err);
        ck_assert_msg(r.code == 2, "case %u (%s %s): exit %d, wanted 2; "
                      "stderr: %.300s", (unsigned)i,
                      cases[i][0] ? cases[i][0] : "(none)",
                      cases[i][0] && cases[i][1] ? cases[i][1] : "",
                      r.code, r.err);
        ck_assert_msg(strncmp(r.err, "shmcache-cli", 12) == 0,
                      "case %u: no message: '%s'", (unsigned)i, r.err);
    }
}
END_TEST

START_TEST(help_lists_every_command_and_each_command_has_help)
{
    static const char *const names[] = {
        "create", "info", "remove", "get", "set", "add", "replace", "cas",
        "del", "incr", "decr", "touch", "ttl", "keys", "scan", "dump", "load",
        "stats", "fetch", "check", "flush", NULL};
    const char *const *n;
    run_t r = CLI(NULL, "--help");

    expect_exit(r, 0);
    expect_in(r.out, "Exit status");
    for (n = names; *n != NULL; n++) {
        run_t h = CLI(NULL, *n, "--help");
        expect_in(r.out, apr_pstrcat(th_pool, "  ", *n, " ", NULL));
        expect_exit(h, 0);
        expect_in(h.out, apr_pstrcat(th_pool, "usage: shmcache-cli [-f PATH] ",
                                     *n, NULL));
    }
    r = CLI(NULL, "help", "dump");
    expect_exit(r, 0);
    expect_in(r.out, "snapshot");
    r = CLI(NULL, "--version");
    expect_exit(r, 0);
    expect_in(r.out, SHMCACHE_VERSION_STRING);
}
END_TEST

/* ==== walking: keys and scan ============================================== */

START_TEST(keys_lists_every_key_once_and_honours_prefix_and_limit)
{
    const char *path = NEW_CACHE("keys", "--size", "4M");
    apr_hash_t *seen = apr_hash_make(th_pool);
    run_t r;
    char *line, *last;

    fill(path, 3000, "user:%d");
    fill(path, 500, "session:%d");
    r = CLI(path, "keys");
    expect_exit(r, 0);
    ck_assert_uint_eq(count_lines(r.out, r.out_len), 3500);
    for (line = apr_strtok(r.out, "\n", &last); line != NULL;
         line = apr_strtok(NULL, "\n", &last)) {
        ck_assert_msg(apr_hash_get(seen, line, APR_HASH_KEY_STRING) == NULL,
                      "%s listed twice", line);
        apr_hash_set(seen, line, APR_HASH_KEY_STRING, "");
    }
    ck_assert_ptr_nonnull(apr_hash_get(seen, "user:2999", APR_HASH_KEY_STRING));
    ck_assert_ptr_nonnull(apr_hash_get(seen, "session:0", APR_HASH_KEY_STRING));
    r = CLI(path, "keys", "--prefix", "session:");
    expect_exit(r, 0);
    ck_assert_uint_eq(count_lines(r.out, r.out_len), 500);
    ck_assert_ptr_null(strstr(r.out, "user:"));
    r = CLI(path, "keys", "--limit", "7");
    expect_exit(r, 0);
    ck_assert_uint_eq(count_lines(r.out, r.out_len), 7);
    r = CLI(path, "keys", "--prefix", "nobody");
    expect_exit(r, 0);
    ck_assert_uint_eq(r.out_len, 0);
}
END_TEST

START_TEST(keys_escapes_unprintable_bytes_and_x_takes_them_back)
{
    const char *path = NEW_CACHE("esc", "--size", "1M");
    shmcache_t *c = attach(path);
    const char key[] = {'a', '\n', 'b', '\0', '\\', (char)0xe9, ' ', 'z'};
    run_t r;

    th_ok(shmcache_set(c, key, sizeof key, "val", 3, 0, NULL));
    r = CLI(path, "keys");
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "a\\x0ab\\x00\\\\\\xe9 z\n");
    r = CLI(path, "get", "-x", "a\\x0ab\\x00\\\\\\xe9 z");
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "val");
    r = CLI(path, "keys", "-x", "--prefix", "a\\x0a");
    expect_exit(r, 0);
    ck_assert_uint_eq(count_lines(r.out, r.out_len), 1);
    r = CLI(path, "get", "-x", "bad\\q");
    expect_exit(r, 2);
}
END_TEST

START_TEST(scan_prints_length_ttl_and_version_per_entry)
{
    const char *path = NEW_CACHE("scan", "--size", "1M");
    run_t r = CLI(path, "set", "k1", "12345", "--ttl", "1h");
    shmcache_t *c;
    shmcache_meta_t m;
    char *want;

    expect_exit(r, 0);
    r = CLI(path, "set", "k2", "xy");
    c = attach(path);
    th_ok(shmcache_get_meta(c, "k2", 2, &m));
    r = CLI(path, "scan");
    expect_exit(r, 0);
    ck_assert_uint_eq(count_lines(r.out, r.out_len), 2);
    want = apr_psprintf(th_pool, "k2\t2\tforever\t%" APR_UINT64_T_FMT "\n",
                        m.version);
    expect_in(r.out, want);
    expect_in(r.out, "k1\t5\t3");
}
END_TEST

START_TEST(scan_with_a_cursor_walks_in_steps_that_cover_every_key)
{
    const char *path = NEW_CACHE("cursor", "--size", "2M", "--buckets", "4096");
    apr_size_t total = 0;
    char cursor[32] = "0";
    int steps = 0;
    run_t r;

    fill(path, 2000, "k%d");
    do {
        char *tail;
        r = CLI(path, "scan", "--cursor", cursor, "--count", "500");
        expect_exit(r, 0);
        tail = strstr(r.out, "cursor ");
        ck_assert_ptr_nonnull(tail);
        total += count_lines(r.out, (apr_size_t)(tail - r.out));
        apr_cpystrn(cursor, tail + 7, sizeof cursor);
        cursor[strcspn(cursor, "\n")] = '\0';
        steps++;
    } while (strcmp(cursor, "0") != 0 && steps < 100);
    ck_assert_int_ge(steps, 8);     /* 4096 buckets / 500 per step */
    ck_assert_uint_eq(total, 2000);
}
END_TEST

#ifndef _WIN32
/* Run `shmcache-cli -f path ARGS | head -c 16` in bash: the tool's exit
 * status (PIPESTATUS) and its stderr. */
static run_t cli_into_head(const char *path, const char *args)
{
    const char *argv[] = {"/bin/bash", "-c", NULL, NULL};

    argv[2] = apr_psprintf(th_pool, "%s -f %s %s | head -c 16 >/dev/null; "
                           "exit ${PIPESTATUS[0]}", SHMCACHE_CLI_PATH, path,
                           args);
    return run_program(argv);
}

/* A reader that closes the pipe early (head) wanted no more: the tool
 * stops writing and exits 0 without a word. The cache holds far more than
 * a pipe buffers, so the tool is still writing when head leaves. */
START_TEST(dump_and_keys_into_a_closed_pipe_exit_0_quietly)
{
    const char *path = NEW_CACHE("pipe", "--size", "16M");
    shmcache_t *c = attach(path);
    char key[32], value[512];
    run_t r;
    int i;

    SKIP_WITHOUT("/bin/bash");
    memset(value, 'v', sizeof value);
    for (i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "key%05d", i);
        th_ok(shmcache_set(c, key, (apr_size_t)n, value, sizeof value, 0, NULL));
    }
    shmcache_close(c);
    r = cli_into_head(path, "dump -");
    expect_exit(r, 0);
    ck_assert_msg(*r.err == '\0', "stderr: %s", r.err);
    r = cli_into_head(path, "keys");
    expect_exit(r, 0);
    ck_assert_msg(*r.err == '\0', "stderr: %s", r.err);
}
END_TEST
#endif

/* ==== stats: every figure of the list ===================================== */

/* Every figure of the library's list, as the test expands it itself (not
 * from the tool's output): JSON keys and human labels. */
#define FIGURE_KEY(group, field, type, show, label) #field,
#define FIGURE_LABEL(group, field, type, show, label) label,
static const char *const figure_keys[] = { SHMCACHE_STATS_FIELDS(FIGURE_KEY) };
static const char *const figure_labels[] = {
    SHMCACHE_STATS_FIELDS(FIGURE_LABEL) };
#define NFIGURES (sizeof figure_keys / sizeof figure_keys[0])

/* 1 when key is one of the list's figures. */
static int is_figure_key(const char *key)
{
    apr_size_t i;

    for (i = 0; i < NFIGURES; i++)
        if (strcmp(figure_keys[i], key) == 0)
            return 1;
    return 0;
}
START_TEST(stats_prints_every_figure_of_the_list)
{
    const char *path = NEW_CACHE("stats", "--size", "1M");
    run_t r = CLI(path, "stats");
    apr_size_t i;

    expect_exit(r, 0);
    for (i = 0; i < NFIGURES; i++)
        expect_in(r.out, figure_labels[i]);
}
END_TEST

/* The JSON object is "path" plus exactly one member per figure of
 * SHMCACHE_STATS_FIELDS, named as the member of shmcache_stats_t (the
 * keys mod_shmcache's ?json gives too). */
START_TEST(stats_json_has_exactly_one_key_per_figure_of_the_list)
{
    const char *path = NEW_CACHE("skeys", "--size", "1M");
    run_t r = CLI(path, "stats", "--json");
    json_t *d;
    apr_size_t i;

    expect_exit(r, 0);
    d = json_parse(r.out, r.out_len);
    for (i = 0; i < NFIGURES; i++)
        ck_assert_msg(jcount(d, figure_keys[i]) == 1, "'%s' appears %d times",
                      figure_keys[i], jcount(d, figure_keys[i]));
    ck_assert_int_eq(jcount(d, "path"), 1);
    for (i = 0; i < d->len; i++)
        ck_assert_msg(strcmp(d->keys[i], "path") == 0
                      || is_figure_key(d->keys[i]),
                      "'%s' is not a figure of the list", d->keys[i]);
    ck_assert_uint_eq(d->len, NFIGURES + 1);
    ck_assert(jget(d, "reader_pids")->type == J_ARR);
}
END_TEST

START_TEST(stats_json_parses_and_counts_operations)
{
    const char *path = NEW_CACHE("sjson", "--size", "1M");
    run_t r;
    json_t *d;

    CLI(path, "set", "a", "1");
    CLI(path, "set", "b", "2");
    CLI(path, "get", "a");
    CLI(path, "get", "zz");
    CLI(path, "del", "b");
    r = CLI(path, "stats", "--json");
    expect_exit(r, 0);
    d = json_parse(r.out, r.out_len);
    ck_assert(jnum(d, "items") == 1 && jnum(d, "sets") == 2);
    ck_assert(jnum(d, "gets") == 2 && jnum(d, "hits") == 1 && jnum(d, "misses") == 1);
    ck_assert(jnum(d, "hit_ratio") > 0.5 - 1e-9 && jnum(d, "hit_ratio") < 0.5 + 1e-9);
    ck_assert(jnum(d, "deletes") == 1 && jnum(d, "size") == 1048576);
    ck_assert(jnum(d, "attached") == 1 && jnum(d, "writer_pid") == 0);
    ck_assert(jnum(d, "fill") > 0 && jnum(d, "fill") < 0.01);
    ck_assert_str_eq(jstr(d, "path"), path);
    expect_json("import json,sys; d=json.load(sys.stdin); "
                "assert d['items']==1, d; assert d['sets']==2, d; "
                "assert d['gets']==2 and d['hits']==1 and d['misses']==1, d; "
                "assert abs(d['hit_ratio']-0.5)<1e-9, d; "
                "assert d['deletes']==1, d; assert d['size']==1048576, d; "
                "assert d['attached']==1, d; assert d['writer_pid']==0, d", &r);
}
END_TEST

/* ==== stats --watch ======================================================= */

/* The columns of the one-line watch. */
enum { W_TIME, W_ITEMS, W_USED, W_FILL, W_GETS, W_HIT, W_SETS, W_EVICT,
       W_RECOV, W_COLUMNS };

/* Split a copy of line (NUL-terminated, no newline) into its W_COLUMNS
 * words; fails the test when there are more or fewer. */
static void watch_words(const char *line, char **w)
{
    char *last;
    int n = 0;
    char *tok = apr_strtok(apr_pstrdup(th_pool, line), " ", &last);

    for (; tok != NULL; tok = apr_strtok(NULL, " ", &last)) {
        ck_assert_msg(n < W_COLUMNS, "more than %d columns: %s", W_COLUMNS, line);
        w[n++] = tok;
    }
    ck_assert_msg(n == W_COLUMNS, "%d columns, wanted %d: %s", n, W_COLUMNS, line);
}
START_TEST(stats_watch_prints_a_header_and_one_line_per_sample_in_80_columns)
{
    const char *path = NEW_CACHE("wline", "--size", "1M");
    run_t r;
    char **lines, *w[W_COLUMNS];
    int n, i;

    fill(path, 7, "k%d");
    r = CLI(path, "stats", "--watch", "1", "--count", "2");
    expect_exit(r, 0);
    lines = split_lines(r.out, r.out_len, &n);
    ck_assert_int_eq(n, 3);
    for (i = 0; i < n; i++)
        ck_assert_msg(strlen(lines[i]) < 80, "line %d is %u wide: %s", i,
                      (unsigned)strlen(lines[i]), lines[i]);
    watch_words(lines[0], w);
    ck_assert_str_eq(w[W_GETS], "gets/s");
    ck_assert_str_eq(w[W_HIT], "hit%");
    ck_assert_str_eq(w[W_SETS], "sets/s");
    ck_assert_str_eq(w[W_EVICT], "evict/s");
    ck_assert_str_eq(w[W_RECOV], "recov");
    watch_words(lines[1], w);           /* the first sample: no interval */
    ck_assert_str_eq(w[W_ITEMS], "7");
    ck_assert_str_eq(w[W_GETS], "-");
    ck_assert_str_eq(w[W_SETS], "-");
    watch_words(lines[2], w);           /* nothing happened in between */
    ck_assert_str_eq(w[W_GETS], "0");
    ck_assert_str_eq(w[W_HIT], "-");
    ck_assert_str_eq(w[W_SETS], "0");
    ck_assert_str_eq(w[W_EVICT], "0");
    ck_assert_str_eq(w[W_RECOV], "0");
}
END_TEST

START_TEST(stats_watch_repeats_its_header_every_20_lines)
{
    const char *path = NEW_CACHE("whead", "--size", "1M");
    run_t r = CLI(path, "stats", "--watch", "1", "--count", "22");
    char **lines;
    int n, i, headers = 0;

    expect_exit(r, 0);
    lines = split_lines(r.out, r.out_len, &n);
    ck_assert_int_eq(n, 24);
    for (i = 0; i < n; i++)
        headers += strncmp(lines[i], "time ", 5) == 0;
    ck_assert_int_eq(headers, 2);
    ck_assert(strncmp(lines[21], "time ", 5) == 0);
}
END_TEST

#ifndef _WIN32
/* Start `shmcache-cli -f path stats --watch 1` with stdout to outp. */
static void start_watch(apr_proc_t *proc, const char *path, const char *outp)
{
    const char *argv[] = {SHMCACHE_CLI_PATH, "-f", path, "stats", "--watch",
                          "1", NULL};
    apr_procattr_t *attr;
    apr_file_t *fout;

    th_ok(apr_file_open(&fout, outp, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                        | APR_FOPEN_TRUNCATE, APR_FPROT_OS_DEFAULT, th_pool));
    th_ok(apr_procattr_create(&attr, th_pool));
    th_ok(apr_procattr_child_out_set(attr, fout, NULL));
    th_ok(apr_procattr_cmdtype_set(attr, APR_PROGRAM));
    th_ok(apr_proc_create(proc, argv[0], argv, NULL, attr, th_pool));
    apr_file_close(fout);
}

/* A known number of sets (a load of SETS entries) and of gets that all
 * hit, made through the tool between samples: the rate lines add up to
 * them, whatever the timing: sets/s and gets/s are non-zero in some line
 * and each line's rate is at most what was done (every interval lasts at
 * least its second), every interval with gets has a hit ratio of 100,
 * nothing is evicted or recovered, and a sample taken after the last
 * operation counts every item. SIGTERM ends the watch with status 0. */
#define SETS 300
#define GETS 5
START_TEST(stats_watch_rates_agree_with_the_operations_between_samples)
{
    const char *src = NEW_CACHE("wsrc", "--size", "4M");
    const char *path = NEW_CACHE("wdst", "--size", "4M");
    const char *snap = th_path("w.snap"), *outp = th_path("w.out");
    double sets = 0, gets = 0;
    char **lines, *w[W_COLUMNS];
    apr_proc_t proc;
    int n, i, after;

    fill(src, SETS, "key%d");
    expect_exit(CLI(src, "dump", snap), 0);
    start_watch(&proc, path, outp);
    wait_for_lines(outp, 2);            /* the header and the first sample */
    expect_exit(CLI(path, "load", snap), 0);
    for (i = 0; i < GETS; i++)
        expect_exit(CLI(path, "get", "key1"), 0);
    after = lines_in(outp);
    wait_for_lines(outp, after + 2);    /* a sample read after the last op */
    th_ok(apr_proc_kill(&proc, SIGTERM));
    ck_assert_int_eq(th_wait(&proc), 0);
    lines = split_lines(slurp(outp), strlen(slurp(outp)), &n);
    for (i = 2; i < n; i++) {
        watch_words(lines[i], w);
        ck_assert_double_le(atof(w[W_SETS]), SETS + 0.5);
        ck_assert_double_le(atof(w[W_GETS]), GETS + 0.05);
        sets += atof(w[W_SETS]);
        gets += atof(w[W_GETS]);
        if (atof(w[W_GETS]) > 0)
            ck_assert_str_eq(w[W_HIT], "100.0");
        else
            ck_assert_str_eq(w[W_HIT], "-");
        ck_assert_str_eq(w[W_EVICT], "0");
        ck_assert_str_eq(w[W_RECOV], "0");
    }
    ck_assert_msg(sets > 0 && gets > 0, "no sets or gets seen:\n%s",
                  slurp(outp));
    watch_words(lines[n - 1], w);
    ck_assert_int_eq(atoi(w[W_ITEMS]), SETS);
}
END_TEST
#undef SETS
#undef GETS
#endif

START_TEST(stats_watch_count_0_is_refused_with_the_way_to_watch_forever)
{
    const char *path = NEW_CACHE("wzero", "--size", "1M");
    run_t r = CLI(path, "stats", "--watch", "--count", "0");

    expect_exit(r, 2);
    expect_in(r.err, "--count must be at least 1");
    expect_in(r.err, "leave --count out");
    ck_assert_uint_eq(r.out_len, 0);
}
END_TEST

START_TEST(stats_watch_full_redraws_the_table_with_rates_per_second)
{
    const char *path = NEW_CACHE("wfull", "--size", "1M");
    run_t r = CLI(path, "stats", "--watch", "1", "--count", "2", "--full");

    expect_exit(r, 0);
    expect_in(r.out, "per second");
    expect_in(r.out, "evictions");
    r = CLI(path, "stats", "--full");
    expect_exit(r, 2);
    expect_in(r.err, "--full goes with --watch");
}
END_TEST

START_TEST(stats_json_watch_prints_one_object_per_line_with_rates)
{
    const char *path = NEW_CACHE("watch", "--size", "1M");
    run_t r = CLI(path, "stats", "--json", "--watch", "1", "--count", "2");
    const char *nl;
    json_t *l0, *l1;

    expect_exit(r, 0);
    ck_assert_uint_eq(count_lines(r.out, r.out_len), 2);
    nl = memchr(r.out, '\n', r.out_len);
    ck_assert(nl != NULL);
    l0 = json_parse(r.out, (apr_size_t)(nl + 1 - r.out));
    l1 = json_parse(nl + 1, r.out_len - (apr_size_t)(nl + 1 - r.out));
    ck_assert(!jhas(l0, "rates"));
    ck_assert(jnum(jget(l1, "rates"), "gets") == 0);
    ck_assert(jnum(l1, "interval") >= 1);
    expect_json("import json,sys; l=[json.loads(x) for x in sys.stdin]; "
                "assert len(l)==2; assert 'rates' not in l[0]; "
                "assert l[1]['rates']['gets']==0", &r);
}
END_TEST

/* ==== check, repair, flush, and a segment cut short ======================= */

START_TEST(check_passes_on_a_healthy_cache)
{
    const char *path = NEW_CACHE("check", "--size", "1M");
    run_t r;

    fill(path, 100, "k%d");
    r = CLI(path, "check");
    expect_exit(r, 0);
    expect_in(r.out, "ok (100 items)");
}
END_TEST

START_TEST(check_exits_3_with_a_description_on_a_damaged_cache)
{
    const char *path = NEW_CACHE("broken", "--size", "1M");
    shmcache_t *c = attach(path);
    shmcache_stats_t st;
    apr_file_t *f;
    apr_off_t off;
    apr_size_t n;
    char junk[4096];
    run_t r;

    th_ok(shmcache_stats(c, &st));
    shmcache_close(c);
    fill(path, 50, "k%d");
    /* scribble over the start of the data region: entries and allocator
     * block headers */
    memset(junk, 0xA5, sizeof junk);
    off = (apr_off_t)(st.size - st.data_size);
    th_ok(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_BINARY,
                        APR_FPROT_OS_DEFAULT, th_pool));
    th_ok(apr_file_seek(f, APR_SET, &off));
    th_ok(apr_file_write_full(f, junk, sizeof junk, &n));
    apr_file_close(f);
    r = CLI(path, "check");
    expect_exit(r, 3);
    expect_in(r.err, path);
    ck_assert_msg(strlen(r.err) > strlen(path) + 20, "no description: %s", r.err);
}
END_TEST

/* check says what to run next; repair mends the damage and says so. */
START_TEST(repair_mends_what_check_reports)
{
    const char *path = NEW_CACHE("repairme", "--size", "1M");
    sc_header_sh_t h;
    void *zero;
    apr_file_t *f;
    apr_size_t n = sizeof h;
    apr_off_t off = 0;
    run_t r;
    int i;

    for (i = 0; i < 50; i++)
        expect_exit(CLI(path, "set", apr_psprintf(th_pool, "k%d", i), "v"), 0);
    th_ok(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_WRITE, 0, th_pool));
    th_ok(apr_file_read(f, &h, &n));
    n = (apr_size_t)h.buckets_size;        /* drop every chain */
    zero = apr_pcalloc(th_pool, n);
    off = (apr_off_t)h.buckets_off;
    th_ok(apr_file_seek(f, APR_SET, &off));
    th_ok(apr_file_write(f, zero, &n));
    apr_file_close(f);
    r = CLI(path, "check");
    expect_exit(r, 3);
    expect_in(r.err, "repair");
    r = CLI(path, "repair");
    expect_exit(r, 0);
    expect_in(r.out, "check found:");
    expect_in(r.out, "repaired");
    expect_exit(CLI(path, "check"), 0);
    r = CLI(path, "repair");
    expect_exit(r, 0);
    expect_in(r.out, "nothing to repair");
}
END_TEST

START_TEST(flush_empties_the_cache)
{
    const char *path = NEW_CACHE("flush", "--size", "1M");
    run_t r;

    fill(path, 100, "k%d");
    r = CLI(path, "flush");
    expect_exit(r, 0);
    r = CLI(path, "keys");
    ck_assert_uint_eq(r.out_len, 0);
    r = CLI(path, "get", "k1");
    expect_exit(r, 1);
}
END_TEST

#ifndef _WIN32
/* Whoever can write the segment file can truncate it under a running
 * command. `stats --watch` attaches, prints once, then reads the segment
 * again every second: the file is cut to 4 KiB after the first figures,
 * so the next read touches pages that no longer exist. The tool must say
 * so and exit 3, never die of SIGBUS (exit 135 through the shell, 128 +
 * signal here). */
START_TEST(a_segment_truncated_under_a_command_exits_3_not_sigbus)
{
    const char *path = NEW_CACHE("trunc", "--size", "1M");
    const char *outp = th_path("trunc.out"), *errp = th_path("trunc.err");
    const char *argv[] = {SHMCACHE_CLI_PATH, "-f", path, "stats", "--json",
                          "--watch", "1", "--count", "4", NULL};
    apr_procattr_t *attr;
    apr_file_t *fout, *ferr;
    apr_proc_t proc;
    apr_exit_why_e why;
    apr_finfo_t fi;
    char *err;
    int code, i;

    fill(path, 200, "k%d");
    th_ok(apr_file_open(&fout, outp, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                        | APR_FOPEN_TRUNCATE, APR_FPROT_OS_DEFAULT, th_pool));
    th_ok(apr_file_open(&ferr, errp, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                        | APR_FOPEN_TRUNCATE, APR_FPROT_OS_DEFAULT, th_pool));
    th_ok(apr_procattr_create(&attr, th_pool));
    th_ok(apr_procattr_child_out_set(attr, fout, NULL));
    th_ok(apr_procattr_child_err_set(attr, ferr, NULL));
    th_ok(apr_procattr_cmdtype_set(attr, APR_PROGRAM));
    th_ok(apr_proc_create(&proc, argv[0], argv, NULL, attr, th_pool));
    /* the first figures are out: the command holds the mapping */
    for (i = 0; i < 100; i++) {
        if (apr_stat(&fi, outp, APR_FINFO_SIZE, th_pool) == APR_SUCCESS
            && fi.size > 0)
            break;
        apr_sleep(apr_time_from_msec(50));
    }
    ck_assert_msg(i < 100, "stats --watch printed nothing in 5 s");
    ck_assert_int_eq(truncate(path, 4096), 0);
    th_status(apr_proc_wait(&proc, &code, &why, APR_WAIT), APR_CHILD_DONE);
    err = slurp(errp);
    ck_assert_msg(why == APR_PROC_EXIT, "the tool died of signal %d; stderr: "
                  "%s", code, err);
    ck_assert_msg(code == 3, "exit %d, wanted 3; stderr: %s", code, err);
    expect_in(err, path);
    expect_in(err, "the segment file was truncated under us (SIGBUS)");
}
END_TEST
#endif

/* ==== fetch: compute once for every caller ================================ */

#define FETCHERS 20
#define COMPUTE_MS "1000"

/* The value the compute helper prints after its argument: binary bytes. */
#define COMPUTED_TAIL "\0\377\n"
#define COMPUTED_TAIL_LEN 3

/* Read f to its end into pool memory (NUL-terminated; *len the bytes). */
static char *drain(apr_file_t *f, apr_size_t *len)
{
    apr_size_t cap = 4096, n = 0, got;
    char *buf = apr_palloc(th_pool, cap);

    for (;;) {
        if (cap - n < 2) {
            char *bigger = apr_palloc(th_pool, cap * 2);
            memcpy(bigger, buf, n);
            buf = bigger;
            cap *= 2;
        }
        got = cap - n - 1;
        if (apr_file_read(f, buf + n, &got) != APR_SUCCESS)
            break;
        n += got;
    }
    apr_file_close(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* Start `shmcache-cli -f path fetch KEY --wait 30s -- <this binary>
 * --helper compute LOG VALUE MS FAIL` (stdout and stderr piped). */
static void start_fetch(apr_proc_t *proc, const char *path, const char *log,
                        const char *value, int fail)
{
    const char *argv[] = {SHMCACHE_CLI_PATH, "-f", path, "fetch", "k",
                          "--ttl", "60", "--wait", "30s", "--", th_self,
                          "--helper", "compute", log, value, COMPUTE_MS,
                          fail ? "1" : "0", NULL};
    apr_procattr_t *attr;

    th_ok(apr_procattr_create(&attr, th_pool));
    th_ok(apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK,
                              APR_FULL_BLOCK));
    th_ok(apr_procattr_cmdtype_set(attr, APR_PROGRAM));
    th_ok(apr_proc_create(proc, argv[0], argv, NULL, attr, th_pool));
}

/* Start FETCHERS fetches at once and collect what each printed. */
static void run_fetchers(const char *path, const char *log, const char *value,
                         int fail, run_t *r)
{
    apr_proc_t procs[FETCHERS];
    int i;

    for (i = 0; i < FETCHERS; i++)
        start_fetch(&procs[i], path, log, value, fail);
    /* outputs are small (below a pipe's buffer): read them in turn */
    for (i = 0; i < FETCHERS; i++) {
        r[i].out = drain(procs[i].out, &r[i].out_len);
        r[i].err = drain(procs[i].err, NULL);
        r[i].code = th_wait(&procs[i]);
    }
}
START_TEST(twenty_concurrent_fetches_run_command_once_and_all_print_its_output)
{
    const char *path = NEW_CACHE("fetch", "--size", "1M");
    const char *log = apr_pstrcat(th_pool, path, ".log", NULL);
    run_t r[FETCHERS], st;
    apr_size_t want_len = strlen("computed") + COMPUTED_TAIL_LEN;
    char *want;
    int i;

    want = apr_palloc(th_pool, want_len);
    memcpy(want, "computed", 8);
    memcpy(want + 8, COMPUTED_TAIL, COMPUTED_TAIL_LEN);
    run_fetchers(path, log, "computed", 0, r);
    for (i = 0; i < FETCHERS; i++) {
        expect_exit(r[i], 0);
        ck_assert_msg(r[i].out_len == want_len
                      && memcmp(r[i].out, want, want_len) == 0,
                      "fetch %d printed %u bytes: '%s'", i,
                      (unsigned)r[i].out_len, r[i].out);
    }
    ck_assert_msg(count_lines(slurp(log), strlen(slurp(log))) == 1,
                  "COMMAND ran %u times", (unsigned)count_lines(slurp(log),
                  strlen(slurp(log))));
    apr_file_remove(log, th_pool);
    st = CLI(path, "stats", "--json");
    expect_exit(st, 0);
    expect_json("import json,sys; d=json.load(sys.stdin); "
                "assert d['leases_granted']==1, d; "
                "assert d['lease_waits']>=1, d; "
                "assert d['lease_timeouts']==0, d", &st);
    st = CLI(path, "get", "k");
    expect_exit(st, 0);
    ck_assert_uint_eq(st.out_len, want_len);
}
END_TEST

START_TEST(a_failing_command_stores_nothing_and_every_fetch_exits_3)
{
    const char *path = NEW_CACHE("fetchfail", "--size", "1M");
    const char *log = apr_pstrcat(th_pool, path, ".log", NULL);
    run_t r[FETCHERS], g;
    apr_size_t runs, ran = 0, waited = 0;
    int i;

    run_fetchers(path, log, "never", 1, r);
    for (i = 0; i < FETCHERS; i++) {
        expect_exit(r[i], 3);
        ck_assert_uint_eq(r[i].out_len, 0);
        if (strstr(r[i].err, "exited with status 1") != NULL)
            ran++;
        else if (strstr(r[i].err, "computation failed") != NULL)
            waited++;
        else
            ck_abort_msg("fetch %d: no failure reported: %s", i, r[i].err);
    }
    /* every caller either ran COMMAND (a later one takes a new lease) or
     * waited for a run that failed: none stored, none printed */
    runs = count_lines(slurp(log), strlen(slurp(log)));
    apr_file_remove(log, th_pool);
    ck_assert_uint_eq(runs, ran);
    ck_assert_uint_eq(ran + waited, FETCHERS);
    ck_assert_msg(waited >= 1, "no fetch waited for another's COMMAND");
    g = CLI(path, "get", "k");
    expect_exit(g, 1);
}
END_TEST

START_TEST(a_stale_value_is_printed_at_once_while_one_fetch_refreshes_it)
{
    const char *path = NEW_CACHE("fetchstale", "--size", "1M");
    const char *log = apr_pstrcat(th_pool, path, ".log", NULL);
    const char *argv[] = {SHMCACHE_CLI_PATH, "-f", path, "fetch", "k",
                          "--ttl", "1", "--stale", "1m", "--", th_self,
                          "--helper", "compute", log, "new", "3000", "0",
                          NULL};
    apr_proc_t refresher;
    apr_procattr_t *attr;
    apr_time_t t0;
    run_t r;

    r = CLI(path, "fetch", "k", "--ttl", "1", "--stale", "1m", "--", th_self,
            "--helper", "compute", log, "old", "0", "0");
    expect_exit(r, 0);
    apr_sleep(apr_time_from_msec(2100));        /* stale now */
    th_ok(apr_procattr_create(&attr, th_pool));
    th_ok(apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE));
    th_ok(apr_procattr_cmdtype_set(attr, APR_PROGRAM));
    th_ok(apr_proc_create(&refresher, argv[0], argv, NULL, attr, th_pool));
    /* the refresher holds the lease once COMMAND has started */
    while (count_lines(slurp(log), strlen(slurp(log))) < 2)
        apr_sleep(apr_time_from_msec(10));
    t0 = apr_time_now();
    r = CLI(path, "fetch", "k", "--", th_self, "--helper", "compute", log,
            "other", "0", "0");
    expect_exit(r, 0);
    ck_assert_msg(strncmp(r.out, "old", 3) == 0, "printed '%s'", r.out);
    ck_assert_msg(apr_time_now() - t0 < apr_time_from_msec(1500),
                  "the stale value took %ld ms",
                  (long)apr_time_as_msec(apr_time_now() - t0));
    r.out = drain(refresher.out, &r.out_len);
    ck_assert_int_eq(th_wait(&refresher), 0);
    ck_assert_msg(strncmp(r.out, "new", 3) == 0, "refresher printed '%s'",
                  r.out);
    ck_assert_uint_eq(count_lines(slurp(log), strlen(slurp(log))), 2);
    apr_file_remove(log, th_pool);
}
END_TEST

/* ==== dump and load ======================================================= */

#define ROUND_TRIP_KEYS 100000

/* The TTL of key i in the round trip: a third never expire. */
static apr_uint32_t trip_ttl(int i)
{
    return i % 3 == 0 ? SHMCACHE_TTL_FOREVER : (apr_uint32_t)(100 + i % 5000);
}

/* The value of key i: binary, NULs included, length 0..63. */
static apr_size_t trip_value(int i, char *buf)
{
    apr_size_t len = (apr_size_t)(i % 64), j;

    for (j = 0; j < len; j++)
        buf[j] = (char)((i * 31 + (int)j * 7) & 0xff);
    return len;
}

static void expect_same_entries(shmcache_t *src, shmcache_t *dst, int n)
{
    char key[32], want[64], got[64];
    shmcache_meta_t ms, md;
    apr_size_t wlen, glen;
    int i, klen;

    for (i = 0; i < n; i++) {
        klen = snprintf(key, sizeof key, "trip:%d", i);
        wlen = trip_value(i, want);
        th_ok(shmcache_get_meta(src, key, (apr_size_t)klen, &ms));
        th_ok(shmcache_get_buf(dst, key, (apr_size_t)klen, got, sizeof got,
                               &glen, &md));
        ck_assert_uint_eq(glen, wlen);
        ck_assert_msg(memcmp(got, want, wlen) == 0, "value of %s differs", key);
        if (ms.ttl == SHMCACHE_TTL_FOREVER) {
            ck_assert_msg(md.ttl == SHMCACHE_TTL_FOREVER, "%s lost forever", key);
        } else {
            ck_assert_msg(md.ttl + 1 >= ms.ttl && md.ttl <= ms.ttl + 1,
                          "%s: ttl %u in the source, %u after load", key,
                          ms.ttl, md.ttl);
        }
    }
}
START_TEST(dump_and_load_round_trip_100k_keys_with_ttls_into_another_size)
{
    const char *src_path = NEW_CACHE("dsrc", "--size", "64M");
    const char *dst_path = NEW_CACHE("ddst", "--size", "24M", "--buckets",
                                     "32768");
    const char *file = th_path("snap");
    shmcache_t *src = attach(src_path), *dst;
    shmcache_stats_t st;
    char key[32], val[64];
    int i, klen;
    run_t r;

    for (i = 0; i < ROUND_TRIP_KEYS; i++) {
        klen = snprintf(key, sizeof key, "trip:%d", i);
        th_ok(shmcache_set(src, key, (apr_size_t)klen, val, trip_value(i, val),
                           trip_ttl(i), NULL));
    }
    r = CLI(src_path, "dump", file);
    expect_exit(r, 0);
    expect_in(r.out, "dumped 100000 entries");
    r = CLI(dst_path, "load", file);
    expect_exit(r, 0);
    expect_in(r.out, "loaded 100000 entries, skipped 0");
    dst = attach(dst_path);
    th_ok(shmcache_stats(dst, &st));
    ck_assert_uint_eq(st.items, ROUND_TRIP_KEYS);
    ck_assert_uint_eq(st.size, 24u << 20);
    expect_same_entries(src, dst, ROUND_TRIP_KEYS);
}
END_TEST

START_TEST(dump_to_stdout_and_load_from_stdin_round_trip)
{
    const char *src_path = NEW_CACHE("psrc", "--size", "2M");
    const char *dst_path = NEW_CACHE("pdst", "--size", "1M");
    shmcache_t *src = attach(src_path), *dst;
    char key[32], val[64];
    int i, klen;
    run_t r, l;

    for (i = 0; i < 1000; i++) {
        klen = snprintf(key, sizeof key, "trip:%d", i);
        th_ok(shmcache_set(src, key, (apr_size_t)klen, val, trip_value(i, val),
                           trip_ttl(i), NULL));
    }
    r = CLI(src_path, "dump", "-");
    expect_exit(r, 0);
    ck_assert(r.out_len > 24 + 20);
    ck_assert(memcmp(r.out, "SHMCSNAP", 8) == 0);
    l = CLI_IN(dst_path, r.out, r.out_len, "load", "-");
    expect_exit(l, 0);
    expect_in(l.out, "loaded 1000 entries");
    dst = attach(dst_path);
    expect_same_entries(src, dst, 1000);
}
END_TEST

START_TEST(dump_of_a_file_is_all_or_nothing_and_leaves_no_temporary)
{
    const char *path = NEW_CACHE("dtmp", "--size", "1M");
    const char *dir = th_path("dir");
    apr_dir_t *d;
    apr_finfo_t fi;
    int entries = 0;
    run_t r;

    th_ok(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, th_pool));
    fill(path, 10, "k%d");
    r = CLI(path, "dump", apr_pstrcat(th_pool, dir, "/snap", NULL));
    expect_exit(r, 0);
    r = CLI(path, "dump", apr_pstrcat(th_pool, dir, "/no/such/dir/snap", NULL));
    expect_exit(r, 3);
    th_ok(apr_dir_open(&d, dir, th_pool));
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (strcmp(fi.name, ".") != 0 && strcmp(fi.name, "..") != 0)
            entries++;
    apr_dir_close(d);
    apr_file_remove(apr_pstrcat(th_pool, dir, "/snap", NULL), th_pool);
    apr_dir_remove(dir, th_pool);
    ck_assert_int_eq(entries, 1);
}
END_TEST

#ifndef _WIN32
/* dump puts the file on the disk before renaming it into place: strace
 * shows an fsync (or fdatasync) of the file before the rename. */
START_TEST(dump_syncs_the_snapshot_before_renaming_it)
{
    const char *path = NEW_CACHE("sync", "--size", "1M");
    const char *snap = th_path("sync.snap"), *log = th_path("sync.strace");
    const char *argv[] = {"/usr/bin/strace", "-f", "-o", log, "-e",
                          "trace=fsync,fdatasync,rename,renameat,renameat2",
                          SHMCACHE_CLI_PATH, "-f", path, "dump", snap, NULL};
    const char *trace, *sync_at, *rename_at;
    run_t r;

    SKIP_WITHOUT("/usr/bin/strace");
    fill(path, 10, "k%d");
    r = run_program(argv);
    if (r.code != 0 && strstr(r.err, "ptrace") != NULL) {
        fprintf(stderr, "%s: skipped, strace cannot trace here: %s\n",
                __func__, r.err);
        return;
    }
    expect_exit(r, 0);
    trace = slurp(log);
    sync_at = strstr(trace, "fsync(");
    if (sync_at == NULL)
        sync_at = strstr(trace, "fdatasync(");
    rename_at = strstr(trace, "rename");
    ck_assert_msg(sync_at != NULL && rename_at != NULL && sync_at < rename_at,
                  "no fsync before the rename:\n%s", trace);
}
END_TEST
#endif

/* A snapshot built by hand, following the documented format. */
typedef struct snap_t {
    unsigned char buf[4096];
    apr_size_t len;
    apr_uint64_t count;
} snap_t;

static void snap_u32(snap_t *s, apr_uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        s->buf[s->len++] = (unsigned char)(v >> (8 * i));
}

static void snap_u64(snap_t *s, apr_uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        s->buf[s->len++] = (unsigned char)(v >> (8 * i));
}

static void snap_begin(snap_t *s, apr_time_t dumped)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->buf, "SHMCSNAP", 8);
    s->len = 8;
    snap_u32(s, 1);
    snap_u32(s, 0);
    snap_u64(s, (apr_uint64_t)dumped);
}

static void snap_entry(snap_t *s, const char *key, const char *value,
                       apr_uint64_t left_ms)
{
    snap_u32(s, (apr_uint32_t)strlen(key));
    snap_u32(s, (apr_uint32_t)strlen(value));
    snap_u64(s, left_ms);
    memcpy(s->buf + s->len, key, strlen(key));
    s->len += strlen(key);
    memcpy(s->buf + s->len, value, strlen(value));
    s->len += strlen(value);
    s->count++;
}

static void snap_end(snap_t *s)
{
    snap_u32(s, 0);
    snap_u64(s, s->count);
    snap_u64(s, XXH64(s->buf, s->len, 0));
}
START_TEST(load_skips_entries_that_expired_since_the_dump)
{
    const char *path = NEW_CACHE("lexp", "--size", "1M");
    const char *file = th_path("hand");
    shmcache_t *c;
    shmcache_meta_t m;
    snap_t s;
    run_t r;

    snap_begin(&s, apr_time_now() - apr_time_from_sec(3600));
    snap_entry(&s, "gone", "was alive for 10 s", 10000);
    snap_entry(&s, "fresh", "2 h left at the dump", 7200 * 1000);
    snap_entry(&s, "forever", "never expires", 0);
    snap_end(&s);
    write_file(file, s.buf, s.len);
    r = CLI(path, "load", file);
    expect_exit(r, 0);
    expect_in(r.out, "loaded 2 entries, skipped 1 (1 expired");
    c = attach(path);
    th_status(shmcache_get_meta(c, "gone", 4, &m), SHMCACHE_NOTFOUND);
    th_ok(shmcache_get_meta(c, "fresh", 5, &m));
    ck_assert_msg(m.ttl >= 3598 && m.ttl <= 3601, "fresh has %u s", m.ttl);
    th_ok(shmcache_get_meta(c, "forever", 7, &m));
    ck_assert_uint_eq(m.ttl, SHMCACHE_TTL_FOREVER);
}
END_TEST

START_TEST(load_refuses_a_damaged_snapshot_and_stores_nothing)
{
    const char *path = NEW_CACHE("ldmg", "--size", "1M");
    const char *file = th_path("dmg");
    shmcache_t *c;
    shmcache_stats_t st;
    snap_t s, bad;
    run_t r;

    snap_begin(&s, apr_time_now());
    snap_entry(&s, "a", "alpha", 0);
    snap_entry(&s, "b", "beta", 0);
    snap_end(&s);
    /* one flipped byte in a value */
    bad = s;
    bad.buf[24 + 16 + 1 + 2] ^= 0x20;
    write_file(file, bad.buf, bad.len);
    r = CLI(path, "load", file);
    expect_exit(r, 3);
    expect_in(r.err, "checksum");
    /* truncated */
    write_file(file, s.buf, s.len - 9);
    r = CLI(path, "load", file);
    expect_exit(r, 3);
    expect_in(r.err, "nothing was loaded");
    /* another file altogether */
    r = CLI_IN(path, "hello, I am not a snapshot", 26, "load", "-");
    expect_exit(r, 3);
    expect_in(r.err, "magic");
    /* a wrong count with a right checksum of the rest is caught too */
    bad = s;
    bad.buf[bad.len - 16] = 7;
    write_file(file, bad.buf, bad.len);
    r = CLI(path, "load", file);
    expect_exit(r, 3);
    c = attach(path);
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.items, 0);
    /* the intact one loads */
    write_file(file, s.buf, s.len);
    r = CLI(path, "load", file);
    expect_exit(r, 0);
    th_ok(shmcache_stats(c, &st));
    ck_assert_uint_eq(st.items, 2);
}
END_TEST

START_TEST(load_skips_values_over_the_target_limits)
{
    const char *src_path = NEW_CACHE("lbsrc", "--size", "2M");
    const char *dst_path = NEW_CACHE("lbdst", "--size", "1M", "--max-value",
                                     "1K", "--max-key", "8");
    const char *file = th_path("lbsnap");
    char big[4000];
    run_t r;

    memset(big, 'b', sizeof big);
    r = CLI_IN(src_path, big, sizeof big, "set", "big");
    expect_exit(r, 0);
    r = CLI(src_path, "set", "a-long-key", "v");
    r = CLI(src_path, "set", "small", "v");
    r = CLI(src_path, "dump", file);
    expect_exit(r, 0);
    r = CLI(dst_path, "load", file);
    expect_exit(r, 0);
    expect_in(r.out, "loaded 1 entries, skipped 2 (0 expired since the dump, "
              "2 over this cache's limits)");
    r = CLI(dst_path, "get", "small");
    expect_exit(r, 0);
}
END_TEST

/* A load into a cache too small for the snapshot says how many items the
 * cache holds afterwards and how many entries it evicted for room: the
 * figures `stats` gives, which add up to the entries loaded. */
START_TEST(load_into_a_smaller_cache_reports_the_items_kept_and_the_evictions)
{
    const char *big = NEW_CACHE("lbig", "--size", "8M");
    const char *small = NEW_CACHE("lsmall", "--size", "256K");
    const char *snap = th_path("l.snap");
    shmcache_t *c = attach(big);
    char key[32], value[1000], *want;
    json_t *d;
    run_t r;
    int i;

    memset(value, 'x', sizeof value);
    for (i = 0; i < 400; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        th_ok(shmcache_set(c, key, (apr_size_t)n, value, sizeof value, 0, NULL));
    }
    shmcache_close(c);
    expect_exit(CLI(big, "dump", snap), 0);
    r = CLI(small, "load", snap);
    expect_exit(r, 0);
    d = json_parse(CLI(small, "stats", "--json").out,
                   strlen(CLI(small, "stats", "--json").out));
    ck_assert(jnum(d, "evictions") > 0);
    ck_assert_double_eq(jnum(d, "items") + jnum(d, "evictions"), 400);
    want = apr_psprintf(th_pool, "loaded 400 entries, skipped 0 (0 expired "
                        "since the dump, 0 over this cache's limits); the cache "
                        "now holds %.0f items, %.0f evicted to make room",
                        jnum(d, "items"), jnum(d, "evictions"));
    expect_in(r.out, want);
}
END_TEST

/* ==== attach errors ======================================================= */

START_TEST(a_missing_cache_exits_3_and_suggests_create)
{
    const char *path = th_path("nothing");
    run_t r = CLI(path, "get", "k");

    expect_exit(r, 3);
    expect_in(r.err, apr_psprintf(th_pool, "no cache at %s: create it with "
                                  "`shmcache-cli -f %s create --size 64M`",
                                  path, path));
    r = CLI("/nonexistent-dir/x.cache", "stats");
    expect_exit(r, 3);
    expect_in(r.err, "/nonexistent-dir/x.cache");
}
END_TEST

START_TEST(a_file_that_is_not_a_cache_exits_3_and_says_so)
{
    const char *path = th_path("junk");
    char junk[8192];
    run_t r;

    memset(junk, 'j', sizeof junk);
    write_file(path, junk, sizeof junk);
    r = CLI(path, "get", "k");
    expect_exit(r, 3);
    expect_in(r.err, path);
    expect_in(r.err, "not a shmcache");
    write_file(path, "", 0);
    r = CLI(path, "stats");
    expect_exit(r, 3);
    expect_in(r.err, "not a shmcache");
}
END_TEST

START_TEST(a_cache_of_another_user_is_refused_unless_allowed)
{
#ifndef _WIN32
    const char *path;
    run_t r;

    if (geteuid() != 0) {
        fprintf(stderr, "a_cache_of_another_user_is_refused_unless_allowed: "
                "skipped, needs root to chown the cache to another uid\n");
        return;
    }
    path = NEW_CACHE("foreign", "--size", "1M");
    r = CLI(path, "set", "k", "v");
    expect_exit(r, 0);
    ck_assert_int_eq(chown(path, 54321, 54321), 0);
    r = CLI(path, "set", "k", "w");     /* writing needs the flag; */
    expect_exit(r, 3);
    expect_in(r.err, path);
    expect_in(r.err, "--allow-foreign-owner");
    r = CLI(path, "get", "k");          /* reading (read-only) does not */
    expect_exit(r, 0);
    r = cli_in(NULL, NULL, 0, "--allow-foreign-owner", "-f", path, "get", "k",
               (const char *)NULL);
    expect_exit(r, 0);
    ck_assert_str_eq(r.out, "v");
#endif
}
END_TEST

/* ==== the number parser =================================================== */

START_TEST(the_unit_parser_reads_units_and_refuses_garbage)
{
    apr_uint64_t v = 0;
    apr_int64_t s = 0;

    ck_assert_int_eq(sc_units_size("64M", APR_UINT64_MAX, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 64u << 20);
    ck_assert_int_eq(sc_units_size("1G", APR_UINT64_MAX, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 1u << 30);
    ck_assert_int_eq(sc_units_size("512k", APR_UINT64_MAX, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 512u << 10);
    ck_assert_int_eq(sc_units_size("1024", APR_UINT64_MAX, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 1024);
    ck_assert_int_eq(sc_units_size("8KB", APR_UINT64_MAX, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 8192);
    ck_assert_int_eq(sc_units_size("", 100, &v), SC_UNITS_EMPTY);
    ck_assert_int_eq(sc_units_size(NULL, 100, &v), SC_UNITS_EMPTY);
    ck_assert_int_eq(sc_units_size("-1", 100, &v), SC_UNITS_NEGATIVE);
    ck_assert_int_eq(sc_units_size(" 1", 100, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_size("1 ", 100, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_size("1MM", APR_UINT64_MAX, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_size("M", APR_UINT64_MAX, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_size("+1", APR_UINT64_MAX, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_size("0x10", APR_UINT64_MAX, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_size("18446744073709551615", APR_UINT64_MAX, &v),
                     SC_UNITS_OK);
    ck_assert_int_eq(sc_units_size("18446744073709551616", APR_UINT64_MAX, &v),
                     SC_UNITS_OVERFLOW);
    ck_assert_int_eq(sc_units_size("17179869184G", APR_UINT64_MAX, &v),
                     SC_UNITS_OVERFLOW);
    ck_assert_int_eq(sc_units_size("101", 100, &v), SC_UNITS_RANGE);
    ck_assert_int_eq(sc_units_duration("30s", 1000, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 30);
    ck_assert_int_eq(sc_units_duration("5m", 1000, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 300);
    ck_assert_int_eq(sc_units_duration("2h", 100000, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 7200);
    ck_assert_int_eq(sc_units_duration("1d", 100000, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 86400);
    ck_assert_int_eq(sc_units_duration("90", 100, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 90);
    ck_assert_int_eq(sc_units_duration("1M", 100000, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_duration("1w", 100000, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_duration("-5", 100, &v), SC_UNITS_NEGATIVE);
    ck_assert_int_eq(sc_units_duration("2d", 100000, &v), SC_UNITS_RANGE);
    ck_assert_int_eq(sc_units_uint("0640", 8, 0777, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 0640);
    ck_assert_int_eq(sc_units_uint("0980", 8, 0777, &v), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_int("-9223372036854775808", &s), SC_UNITS_OK);
    ck_assert(s == APR_INT64_MIN);
    ck_assert_int_eq(sc_units_int("9223372036854775808", &s), SC_UNITS_OVERFLOW);
    ck_assert_int_eq(sc_units_int("-", &s), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_int(" 5", &s), SC_UNITS_GARBAGE);
    ck_assert_int_eq(sc_units_int("+7", &s), SC_UNITS_OK);
    ck_assert(s == 7);
    v = 42;
    ck_assert_int_ne(sc_units_size("junk", 100, &v), SC_UNITS_OK);
    ck_assert_uint_eq(v, 42);   /* untouched on failure */
}
END_TEST

/* ==== a million keys beside a live reader ================================= */

#define BIG_KEYS 1000000

/* The reader beside the listing. It paces itself like a server handling
 * requests (PACE_US between operations) rather than spinning: on a machine
 * where the reader, the tool and the test share two cores a spinning
 * reader is preempted for whole scheduler slices, and its worst latency
 * would measure waiting for a CPU, not waiting for the cache. Every 16th
 * operation is a set (to one of ten "w:" keys), whose worst latency shows
 * that a writer, too, waits at most for one batch of the listing. */
#define PACE_US 100

static int helper_getter(int argc, const char *const *argv)
{
    shmcache_t *c;
    long nkeys = argc > 1 ? atol(argv[1]) : 1;
    apr_interval_time_t worst_get = 0, worst_set = 0, took;
    apr_uint64_t gets = 0, sets = 0, fails = 0, i;
    apr_uint32_t x = 2463534242u;
    apr_time_t t0, deadline;
    shmcache_meta_t m;
    char key[32], buf[64], *res;
    apr_size_t len;
    apr_status_t rv;
    int klen;

    if (argc < 2 || shmcache_attach(&c, argv[0], NULL, th_pool) != APR_SUCCESS)
        return 2;
    deadline = apr_time_now() + apr_time_from_sec(200);
    shmcache_set(c, "ctl:ready", 9, "1", 1, 0, NULL);
    for (i = 1;; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;   /* xorshift32 */
        if (i % 16 == 0) {
            klen = snprintf(key, sizeof key, "w:%d", (int)(x % 10));
            t0 = apr_time_now();
            rv = shmcache_set(c, key, (apr_size_t)klen, "w", 1, 0, NULL);
            took = apr_time_now() - t0;
            worst_set = took > worst_set ? took : worst_set;
            sets++;
        } else {
            klen = snprintf(key, sizeof key, "big:%ld",
                            (long)(x % (apr_uint32_t)nkeys));
            t0 = apr_time_now();
            rv = shmcache_get_buf(c, key, (apr_size_t)klen, buf, sizeof buf,
                                  &len, NULL);
            took = apr_time_now() - t0;
            worst_get = took > worst_get ? took : worst_get;
            gets++;
        }
        fails += rv != APR_SUCCESS;
        if ((i & 63) == 0
            && (shmcache_get_meta(c, "ctl:stop", 8, &m) == APR_SUCCESS
                || apr_time_now() > deadline))
            break;
        apr_sleep(PACE_US);
    }
    res = apr_psprintf(th_pool, "%" APR_TIME_T_FMT " %" APR_UINT64_T_FMT " %"
                       APR_UINT64_T_FMT " %" APR_TIME_T_FMT " %" APR_UINT64_T_FMT,
                       worst_get, gets, fails, worst_set, sets);
    shmcache_set(c, "ctl:result", 10, res, strlen(res), 0, NULL);
    shmcache_close(c);
    return 0;
}

/* Lines of out that start with prefix. */
static apr_size_t count_prefixed(const char *out, apr_size_t len,
                                 const char *prefix)
{
    apr_size_t n = 0, plen = strlen(prefix);
    const char *p = out, *end = out + len, *nl;

    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (apr_size_t)(end - p));
        if (nl == NULL)
            break;
        n += (apr_size_t)(nl - p) >= plen && memcmp(p, prefix, plen) == 0;
    }
    return n;
}
START_TEST(keys_on_a_million_keys_keeps_a_reader_get_below_10ms)
{
    const char *path = NEW_CACHE("million", "--size", "256M");
    shmcache_t *c = attach(path);
    const char *nkeys = apr_psprintf(th_pool, "%d", BIG_KEYS);
    const char *args[] = {path, nkeys, NULL};
    shmcache_meta_t m;
    apr_proc_t proc;
    apr_time_t t0;
    long worst_get = -1, worst_set = -1;
    unsigned long long gets = 0, sets = 0, fails = 0;
    char key[32];
    void *res;
    apr_size_t len;
    int i, klen;
    run_t r;

    for (i = 0; i < BIG_KEYS; i++) {
        klen = snprintf(key, sizeof key, "big:%d", i);
        th_ok(shmcache_set(c, key, (apr_size_t)klen, "0123456789abcdef", 16, 0,
                           NULL));
    }
    th_spawn(&proc, "getter", args);
    for (i = 0; i < 1000 && shmcache_get_meta(c, "ctl:ready", 9, &m) != APR_SUCCESS;
         i++)
        apr_sleep(10000);
    ck_assert_msg(i < 1000, "the getter never started");
    t0 = apr_time_now();
    r = CLI(path, "keys");
    t0 = apr_time_now() - t0;
    th_ok(shmcache_set(c, "ctl:stop", 8, "1", 1, 0, NULL));
    ck_assert_int_eq(th_wait(&proc), 0);
    expect_exit(r, 0);
    ck_assert_uint_eq(count_prefixed(r.out, r.out_len, "big:"), BIG_KEYS);
    th_ok(shmcache_get(c, "ctl:result", 10, &res, &len, NULL, th_pool));
    ck_assert_int_eq(sscanf(res, "%ld %llu %llu %ld %llu", &worst_get, &gets,
                            &fails, &worst_set, &sets), 5);
    fprintf(stderr, "keys on %d keys took %.2f s; meanwhile a reader did %llu "
            "gets, worst %.3f ms, and %llu sets, worst %.3f ms (%llu failed)\n",
            BIG_KEYS, (double)t0 / 1e6, gets, (double)worst_get / 1000.0, sets,
            (double)worst_set / 1000.0, fails);
    ck_assert_uint_eq(fails, 0);
    ck_assert_msg(gets > 100, "the reader did only %llu gets", gets);
    ck_assert_msg(worst_get < 10000, "worst get took %.3f ms during the listing",
                  (double)worst_get / 1000.0);
}
END_TEST

/* ==== the suite: one TCase per behaviour ================================== */

/* A TCase of s with a fresh segment per test (th_setup, th_teardown) and
 * a timeout in seconds. */
static TCase *new_case(Suite *s, const char *name, int timeout)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, th_setup, th_teardown);
    tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *test_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc;

    tc = new_case(s, "json_checker", 60);
    tcase_add_test(tc, the_json_checker_refuses_invalid_json);

    tc = new_case(s, "create_and_remove", 120);
    tcase_add_test(tc, create_makes_a_cache_that_info_describes_without_the_seed);
    tcase_add_test(tc, create_refuses_an_existing_path_and_suggests_remove);
    tcase_add_test(tc, create_on_a_filesystem_too_small_exits_3_without_leaving_a_file);
#ifndef _WIN32
    tcase_add_test(tc, create_in_an_unwritable_directory_names_the_directory);
#endif
    tcase_add_test(tc, remove_deletes_the_cache);
    tcase_add_test(tc, remove_refuses_while_another_process_is_attached_unless_forced);
    tcase_add_test(tc, remove_refuses_a_file_that_is_not_a_cache);
    tcase_add_test(tc, remove_refuses_a_segment_that_fails_validation_unless_forced);

    tc = new_case(s, "one_key", 120);
    tcase_add_test(tc, set_then_get_prints_the_raw_value_without_a_newline);
#ifndef _WIN32
    tcase_add_test(tc, get_ends_with_a_newline_on_a_terminal_only);
#endif
    tcase_add_test(tc, get_of_a_missing_key_exits_1);
    tcase_add_test(tc, binary_values_with_nul_bytes_round_trip_through_stdin);
    tcase_add_test(tc, set_with_an_empty_stdin_stores_an_empty_value);
    tcase_add_test(tc, a_value_over_the_cache_limit_is_a_usage_error);
    tcase_add_test(tc, get_json_escapes_utf8_and_base64s_other_bytes);
    tcase_add_test(tc, set_ttl_is_applied_and_ttl_prints_the_seconds_left);
    tcase_add_test(tc, an_entry_set_with_a_short_ttl_expires);
    tcase_add_test(tc, add_on_an_existing_key_exits_1_and_keeps_the_value);
    tcase_add_test(tc, replace_changes_an_existing_key_and_exits_1_on_a_missing_one);
    tcase_add_test(tc, cas_stores_at_the_current_version_and_exits_1_on_a_stale_one);
    tcase_add_test(tc, del_removes_a_key_and_a_second_del_exits_1);
    tcase_add_test(tc, incr_adds_and_a_negative_delta_or_decr_subtracts);
    tcase_add_test(tc, touch_gives_a_new_ttl_and_exits_1_on_a_missing_key);

    tc = new_case(s, "invocation", 120);
    tcase_add_test(tc, a_key_starting_with_a_dash_goes_after_double_dash);
    tcase_add_test(tc, options_may_follow_the_arguments_and_f_may_follow_the_command);
    tcase_add_test(tc, shmcache_file_names_the_cache_when_f_is_absent);
    tcase_add_test(tc, without_f_nor_shmcache_file_the_default_path_is_used_and_said);
    tcase_add_test(tc, malformed_invocations_are_usage_errors_with_a_message);
    tcase_add_test(tc, help_lists_every_command_and_each_command_has_help);

    tc = new_case(s, "walking", 120);
    tcase_add_test(tc, keys_lists_every_key_once_and_honours_prefix_and_limit);
    tcase_add_test(tc, keys_escapes_unprintable_bytes_and_x_takes_them_back);
    tcase_add_test(tc, scan_prints_length_ttl_and_version_per_entry);
    tcase_add_test(tc, scan_with_a_cursor_walks_in_steps_that_cover_every_key);
#ifndef _WIN32
    tcase_add_test(tc, dump_and_keys_into_a_closed_pipe_exit_0_quietly);
#endif

    tc = new_case(s, "stats", 120);
    tcase_add_test(tc, stats_prints_every_figure_of_the_list);
    tcase_add_test(tc, stats_json_has_exactly_one_key_per_figure_of_the_list);
    tcase_add_test(tc, stats_json_parses_and_counts_operations);

    tc = new_case(s, "watch", 120);
    tcase_add_test(tc, stats_watch_prints_a_header_and_one_line_per_sample_in_80_columns);
    tcase_add_test(tc, stats_watch_repeats_its_header_every_20_lines);
#ifndef _WIN32
    tcase_add_test(tc, stats_watch_rates_agree_with_the_operations_between_samples);
#endif
    tcase_add_test(tc, stats_watch_count_0_is_refused_with_the_way_to_watch_forever);
    tcase_add_test(tc, stats_watch_full_redraws_the_table_with_rates_per_second);
    tcase_add_test(tc, stats_json_watch_prints_one_object_per_line_with_rates);

    tc = new_case(s, "check_and_repair", 120);
    tcase_add_test(tc, check_passes_on_a_healthy_cache);
    tcase_add_test(tc, check_exits_3_with_a_description_on_a_damaged_cache);
    tcase_add_test(tc, repair_mends_what_check_reports);
    tcase_add_test(tc, flush_empties_the_cache);
#ifndef _WIN32
    tcase_add_test(tc, a_segment_truncated_under_a_command_exits_3_not_sigbus);
#endif

    tc = new_case(s, "fetch", 120);
    tcase_add_test(tc, twenty_concurrent_fetches_run_command_once_and_all_print_its_output);
    tcase_add_test(tc, a_failing_command_stores_nothing_and_every_fetch_exits_3);
    tcase_add_test(tc, a_stale_value_is_printed_at_once_while_one_fetch_refreshes_it);

    tc = new_case(s, "snapshots", 300);
    tcase_add_test(tc, dump_and_load_round_trip_100k_keys_with_ttls_into_another_size);
    tcase_add_test(tc, dump_to_stdout_and_load_from_stdin_round_trip);
    tcase_add_test(tc, dump_of_a_file_is_all_or_nothing_and_leaves_no_temporary);
#ifndef _WIN32
    tcase_add_test(tc, dump_syncs_the_snapshot_before_renaming_it);
#endif
    tcase_add_test(tc, load_skips_entries_that_expired_since_the_dump);
    tcase_add_test(tc, load_refuses_a_damaged_snapshot_and_stores_nothing);
    tcase_add_test(tc, load_skips_values_over_the_target_limits);
    tcase_add_test(tc, load_into_a_smaller_cache_reports_the_items_kept_and_the_evictions);

    tc = new_case(s, "attach_errors", 120);
    tcase_add_test(tc, a_missing_cache_exits_3_and_suggests_create);
    tcase_add_test(tc, a_file_that_is_not_a_cache_exits_3_and_says_so);
    tcase_add_test(tc, a_cache_of_another_user_is_refused_unless_allowed);

    tc = new_case(s, "units", 60);
    tcase_add_test(tc, the_unit_parser_reads_units_and_refuses_garbage);

    tc = new_case(s, "scale", 300);
    tcase_add_test(tc, keys_on_a_million_keys_keeps_a_reader_get_below_10ms);
    return s;
}

/* Helper (fetch's COMMAND): LOG VALUE MS FAIL. Appends a line to LOG,
 * takes MS, then prints VALUE and COMPUTED_TAIL and exits 0, or with FAIL
 * set prints nothing and exits 1. */
static int helper_compute(int argc, const char *const *argv)
{
    apr_file_t *f;
    apr_size_t n;

    if (argc < 4 || apr_file_open(&f, argv[0], APR_FOPEN_WRITE | APR_FOPEN_CREATE
                                  | APR_FOPEN_APPEND, APR_FPROT_OS_DEFAULT,
                                  th_pool) != APR_SUCCESS)
        return 2;
    apr_file_write_full(f, "run\n", 4, &n);
    apr_file_close(f);
    apr_sleep(apr_time_from_msec(atoi(argv[2])));
    if (atoi(argv[3]))
        return 1;
    /* through APR's stdout, which is binary on Windows too (stdio's would
     * turn the tail's \n into \r\n) */
    if (apr_file_open_stdout(&f, th_pool) != APR_SUCCESS
        || apr_file_write_full(f, argv[1], strlen(argv[1]), &n) != APR_SUCCESS
        || apr_file_write_full(f, COMPUTED_TAIL, COMPUTED_TAIL_LEN, &n)
               != APR_SUCCESS)
        return 2;
    return 0;
}

const th_helper_t test_helpers[] = {
    {"compute", helper_compute},
    {"getter", helper_getter},
    {"hold", helper_hold},
    {NULL, NULL}
};
