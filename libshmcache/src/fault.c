/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault.c - named fault points for the crash tests (see fault.h).
 *
 * Compiled only into the test-only library shmcache_fi. The environment is
 * read once, on the first pass through any point, and cached: afterwards a
 * point that is not armed costs one atomic load and a string compare. A
 * process that reaches the armed point (after SHMCACHE_FAULT_SKIP passes)
 * appends "name pid\n" to SHMCACHE_FAULT_FILE and sleeps forever, so the
 * test can kill it exactly there. Nothing here runs in a signal handler.
 */
#include "fault.h"
#include "os.h"

#include <apr_env.h>
#include <apr_time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_NAME_MAX 128
#define FAULT_PATH_MAX 1024

enum { ENV_UNREAD, ENV_READING, ENV_OFF, ENV_ARMED };

static _Atomic int env_state = ENV_UNREAD;
static char armed_name[FAULT_NAME_MAX];     /* written once, before ARMED */
static char record_path[FAULT_PATH_MAX];
static _Atomic long skip_left;

/* Copy environment variable var into buf; 1 if set, non-empty and fits.
 * Through apr_env_get, which sees what apr_env_set did (on Windows, the
 * C runtime's getenv does not see SetEnvironmentVariable). */
static int env_copy(const char *var, char *buf, size_t size)
{
    apr_pool_t *pool;
    char *v = NULL;
    int ok = 0;

    buf[0] = '\0';
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
        return 0;
    if (apr_env_get(&v, var, pool) == APR_SUCCESS && v != NULL && *v != '\0'
        && strlen(v) < size) {
        memcpy(buf, v, strlen(v) + 1);
        ok = 1;
    }
    apr_pool_destroy(pool);
    return ok;
}

/* Read SHMCACHE_FAULT, SHMCACHE_FAULT_FILE and SHMCACHE_FAULT_SKIP once;
 * threads that arrive meanwhile wait for the first one. Returns the state. */
static int load_env(void)
{
    int st = ENV_UNREAD;
    char skip[32];

    if (!atomic_compare_exchange_strong(&env_state, &st, ENV_READING)) {
        while ((st = atomic_load_explicit(&env_state, memory_order_acquire))
               == ENV_READING)
            apr_sleep(100);
        return st;
    }
    st = ENV_OFF;
    if (env_copy("SHMCACHE_FAULT", armed_name, sizeof armed_name)) {
        env_copy("SHMCACHE_FAULT_FILE", record_path, sizeof record_path);
        atomic_store(&skip_left, env_copy("SHMCACHE_FAULT_SKIP", skip, sizeof skip)
                                 ? strtol(skip, NULL, 10) : 0);
        st = ENV_ARMED;
    }
    atomic_store_explicit(&env_state, st, memory_order_release);
    return st;
}

/* Append "name pid\n" to the record file, if one was named. */
static void record(const char *name)
{
    sc_proc_id_t self;
    FILE *f;

    if (record_path[0] == '\0')
        return;
    sc_os_proc_self(&self);
    f = fopen(record_path, "a");
    if (f == NULL)
        return;
    fprintf(f, "%s %u\n", name, (unsigned)self.pid);
    fclose(f);
}

/* A pass through the point called name: stop here for good if armed. */
void sc_fault_point(const char *name)
{
    int st = atomic_load_explicit(&env_state, memory_order_acquire);

    if (st == ENV_UNREAD || st == ENV_READING)
        st = load_env();
    if (st != ENV_ARMED || strcmp(name, armed_name) != 0)
        return;
    if (atomic_fetch_sub(&skip_left, 1) > 0)
        return;
    record(name);
    for (;;)
        apr_sleep(apr_time_from_sec(3600));
}
