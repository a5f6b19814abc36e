/* SPDX-License-Identifier: Apache-2.0 */
/*
 * harness.c - main() for every test binary, helper dispatch, temp paths,
 * process start/wait. See harness.h.
 */
#include "harness.h"

#include <apr_file_io.h>
#include <apr_env.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#endif

apr_pool_t *th_pool;
const char *th_self;

static apr_pool_t *global_pool;
static apr_array_header_t *paths;
static unsigned path_counter;
/* Names every segment this run makes (the runner's pid, inherited by the
 * forked test processes), so main() can sweep away what failed tests,
 * whose teardown Check does not run, left behind. */
static char run_id[32];

static const char *test_dir(void)
{
    char *dir = getenv("SHMCACHE_TEST_DIR");
    const char *tmp = NULL;

    if (dir != NULL && *dir != '\0')
        return dir;
#ifndef _WIN32
    if (apr_dir_make("/dev/shm", APR_FPROT_OS_DEFAULT, global_pool) == APR_EEXIST)
        return "/dev/shm";
#endif
    apr_temp_dir_get(&tmp, global_pool);
    return tmp;
}

void th_setup(void)
{
    apr_pool_create(&th_pool, global_pool);
    paths = apr_array_make(th_pool, 8, sizeof(const char *));
}

void th_teardown(void)
{
    int i;

    for (i = 0; i < paths->nelts; i++) {
        const char *p = APR_ARRAY_IDX(paths, i, const char *);
        shmcache_remove(p, th_pool);
        apr_file_remove(p, th_pool);
    }
    apr_pool_destroy(th_pool);
    th_pool = NULL;
}

const char *th_path(const char *tag)
{
    char *p = apr_psprintf(th_pool, "%s/shmcache-test-%s-%s-%u-%" APR_TIME_T_FMT,
                           test_dir(), tag, run_id, ++path_counter, apr_time_now());
    APR_ARRAY_PUSH(paths, const char *) = p;
    apr_file_remove(p, th_pool);
    return p;
}

void th_assert_status(apr_status_t got, apr_status_t want, const char *expr,
                      const char *file, int line)
{
    char gbuf[256], wbuf[256];

    if (got == want)
        return;
    /* APR on Windows reports a missing file with the OS's own codes
     * (ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ...); on Unix this is
     * the same test as above */
    if (want == APR_ENOENT && APR_STATUS_IS_ENOENT(got))
        return;
    ck_abort_msg("%s:%d: %s returned %d (%s), wanted %d (%s)", file, line, expr,
                 (int)got, shmcache_strerror(got, gbuf, sizeof gbuf),
                 (int)want, shmcache_strerror(want, wbuf, sizeof wbuf));
}

long th_env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? strtol(v, NULL, 10) : dflt;
}

static void start(apr_proc_t *proc, const char *const *argv, int pipes,
                  apr_pool_t *pool)
{
    apr_procattr_t *attr;
    apr_status_t rv = APR_SUCCESS;
    char buf[256];
    int tries;

    apr_procattr_create(&attr, pool);
    apr_procattr_cmdtype_set(attr, APR_PROGRAM_ENV);
    if (pipes)
        apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_FULL_BLOCK, APR_FULL_BLOCK);
    /* a process start can fail for a moment on a loaded machine (Wine
     * answers "Internal error" now and then): a few tries, then a failure.
     * The tests are about the cache, not about process creation. */
    for (tries = 0; tries < 5; tries++) {
        rv = apr_proc_create(proc, argv[0], argv, NULL, attr, pool);
        if (rv == APR_SUCCESS)
            break;
        apr_sleep(apr_time_from_msec(100));
    }
    ck_assert_msg(rv == APR_SUCCESS, "cannot start %s: %s", argv[0],
                  shmcache_strerror(rv, buf, sizeof buf));
}

void th_spawn(apr_proc_t *proc, const char *name, const char *const *args)
{
    const char *argv[64];
    int n = 0;

    argv[n++] = th_self;
    argv[n++] = "--helper";
    argv[n++] = name;
    while (args != NULL && *args != NULL && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;
    start(proc, argv, 0, th_pool);
}

int th_wait(apr_proc_t *proc)
{
    int code = 0;
    apr_exit_why_e why;

    apr_proc_wait(proc, &code, &why, APR_WAIT);
    return APR_PROC_CHECK_SIGNALED(why) ? 128 + code : code;
}

/* Read everything from f into a pool string. */
static char *slurp(apr_file_t *f, apr_size_t *len, apr_pool_t *pool)
{
    apr_size_t cap = 4096, n = 0;
    char *buf = malloc(cap), *res;

    for (;;) {
        apr_size_t chunk = cap - n - 1;
        apr_status_t rv = apr_file_read(f, buf + n, &chunk);
        n += chunk;
        if (rv != APR_SUCCESS)
            break;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    res = apr_pmemdup(pool, buf, n + 1);
    res[n] = '\0';
    free(buf);
    if (len != NULL)
        *len = n;
    return res;
}

int th_run(const char *const *argv, const void *in, apr_size_t in_len,
           char **out, apr_size_t *out_len, char **err)
{
    apr_proc_t proc;
    apr_size_t n = in_len;
    char *o, *e;

    start(&proc, argv, 1, th_pool);
    if (in_len > 0)
        apr_file_write_full(proc.in, in, in_len, &n);
    apr_file_close(proc.in);
    /* stderr is small; read stdout first, then stderr */
    o = slurp(proc.out, out_len, th_pool);
    e = slurp(proc.err, NULL, th_pool);
    if (out != NULL)
        *out = o;
    if (err != NULL)
        *err = e;
    return th_wait(&proc);
}

/* Remove every file of this run left in the test directory. */
static void sweep_run_files(void)
{
    const char *dir = test_dir();
    char *mark = apr_pstrcat(global_pool, "-", run_id, "-", NULL);
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, global_pool) != APR_SUCCESS)
        return;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (strncmp(fi.name, "shmcache-test-", 14) == 0 && strstr(fi.name, mark) != NULL)
            apr_file_remove(apr_pstrcat(global_pool, dir, "/", fi.name, NULL), global_pool);
    apr_dir_close(d);
}

static int run_helper(int argc, const char *const *argv)
{
    const th_helper_t *h;

    for (h = test_helpers; h->name != NULL; h++)
        if (strcmp(h->name, argv[2]) == 0)
            return h->fn(argc - 3, argv + 3);
    fprintf(stderr, "no helper named %s\n", argv[2]);
    return 99;
}

#ifdef _WIN32
/* Put this process, and so every helper it starts, in a job that is killed
 * when this process exits: Check runs without fork here, and a failed
 * assertion skips the code that would stop a test's helpers, which would
 * then run on (and keep ctest waiting on their output) until its timeout. */
static void kill_helpers_at_exit(void)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    HANDLE job = CreateJobObjectW(NULL, NULL);

    memset(&li, 0, sizeof li);
    li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (job == NULL
        || !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li, sizeof li)
        || !AssignProcessToJobObject(job, GetCurrentProcess()))
        fprintf(stderr, "harness: no kill-on-exit job (error %lu): helpers of a "
                "failed test may outlive it\n", (unsigned long)GetLastError());
}
#endif

int main(int argc, const char *const *argv)
{
    SRunner *sr;
    int failed, rc;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&global_pool, NULL);
    th_self = argv[0];
    if (argc >= 3 && strcmp(argv[1], "--helper") == 0) {
        apr_pool_create(&th_pool, global_pool);
        rc = run_helper(argc, argv);
        return rc;
    }
#ifdef _WIN32
    kill_helpers_at_exit();
#endif
    apr_snprintf(run_id, sizeof run_id, "r%lu", (unsigned long)apr_time_now() % 100000000ul);
    sr = srunner_create(test_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    sweep_run_files();
    return failed == 0 ? 0 : 1;
}

void th_check_passes(shmcache_t *c, const char *phase)
{
    char why[512];

    ck_assert_msg(shmcache_check(c, why, sizeof why) == APR_SUCCESS,
                  "check failed after %s: %s", phase, why);
}

apr_status_t th_put_filled(shmcache_t *c, const char *key, apr_size_t vlen,
                           apr_uint32_t ttl)
{
    static char buf[200000];

    memset(buf, key[0], vlen);
    return shmcache_set(c, key, strlen(key), buf, vlen, ttl, NULL);
}
