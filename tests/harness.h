/* SPDX-License-Identifier: Apache-2.0 */
/*
 * harness.h - what every test binary shares.
 *
 * Each tests/test_<area>.c defines test_suite() and test_helpers[], and
 * links harness.c, which provides main(). Multi-process tests start helper
 * processes by re-executing the test binary itself with
 * "--helper NAME ARGS..." (apr_proc_create, no fork-only designs, so the
 * same tests run on Windows).
 *
 * Segments go under $SHMCACHE_TEST_DIR (default /dev/shm on Linux, the temp
 * directory elsewhere), one unique path per test; th_teardown() removes
 * every path th_path() handed out.
 */
#ifndef SC_TEST_HARNESS_H
#define SC_TEST_HARNESS_H

#include <check.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>
#include "shmcache.h"

/* A helper: runs in a child process; its return value is the exit code. */
typedef int (th_helper_fn)(int argc, const char *const *argv);
typedef struct th_helper_t {
    const char *name;
    th_helper_fn *fn;
} th_helper_t;

/* Defined by each test file. test_helpers ends with {NULL, NULL}. */
Suite *test_suite(void);
extern const th_helper_t test_helpers[];

/* Pool for the current test (created by th_setup, destroyed by
 * th_teardown) and the absolute path of this test binary. */
extern apr_pool_t *th_pool;
extern const char *th_self;

/* Checked fixture functions: add with tcase_add_checked_fixture(tc,
 * th_setup, th_teardown) in every TCase. */
void th_setup(void);
void th_teardown(void);

/* A fresh, unique, absolute segment path (nothing exists there yet). It is
 * removed (shmcache_remove, then plain unlink) at teardown. */
const char *th_path(const char *tag);

/* Start this binary as helper `name` with args (NULL-terminated); stdout
 * and stderr are inherited. Fails the test on error. */
void th_spawn(apr_proc_t *proc, const char *name, const char *const *args);

/* Start any program (argv[0] is its path) with optional stdin data;
 * stdout/stderr captured into pool strings when out/err are non-NULL.
 * Returns the exit code (or 128 + signal). Fails the test on error. */
int th_run(const char *const *argv, const void *in, apr_size_t in_len,
           char **out, apr_size_t *out_len, char **err);

/* Wait for proc; returns its exit code, or 128 + signal number. */
int th_wait(apr_proc_t *proc);

/* ck_assert that status is APR_SUCCESS, printing shmcache_strerror. */
#define th_ok(expr) th_assert_status((expr), APR_SUCCESS, #expr, __FILE__, __LINE__)
#define th_status(expr, want) th_assert_status((expr), (want), #expr, __FILE__, __LINE__)
void th_assert_status(apr_status_t got, apr_status_t want, const char *expr,
                      const char *file, int line);

/* ck_assert that shmcache_check passes on c, naming phase in the
 * message with check's own description of the problem. */
void th_check_passes(shmcache_t *c, const char *phase);

/* Set key (a C string) to vlen bytes (at most 200000), each the key's
 * first character, with ttl. Returns shmcache_set's status. */
apr_status_t th_put_filled(shmcache_t *c, const char *key, apr_size_t vlen,
                           apr_uint32_t ttl);

/* Environment integer with a default (for soak modes). */
long th_env_long(const char *name, long dflt);

#endif /* SC_TEST_HARNESS_H */
