/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker_pool.c - a prefork-style worker pool sharing one shmcache.
 *
 * The parent creates a cache, forks N workers and waits for them. Each
 * worker attaches its own handle (a handle must not cross fork()), then
 * serves M "requests": a request for page P looks the page up in the
 * cache, renders and stores it on a miss, and counts itself in two shared
 * counters (total and per worker) with shmcache_incr. The parent then
 * checks that nothing was lost: total == N * M == sum of the per-worker
 * counts, and every page is cached. The cache is removed at the end.
 *
 * Build against the installed library:
 *     cc -o worker_pool worker_pool.c $(pkg-config --cflags --libs shmcache)
 * Run:
 *     ./worker_pool [-w WORKERS] [-n REQUESTS] [-p PATH]
 * Prints one line "ok: ..." and exits 0, or says what is wrong and exits 1.
 */
#include <shmcache.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 64

static void say(const char *what, apr_status_t rv)
{
    char buf[256];

    fprintf(stderr, "worker_pool: %s: %s\n", what,
            shmcache_strerror(rv, buf, sizeof buf));
}

/* One worker: attach, serve n requests, close. Returns the exit code. */
static int worker(const char *path, int id, int n)
{
    apr_pool_t *pool, *req;
    shmcache_t *c;
    apr_status_t rv;
    char key[64];
    int i;

    apr_pool_create(&pool, NULL);
    apr_pool_create(&req, pool);
    rv = shmcache_attach(&c, path, NULL, pool);
    if (rv != APR_SUCCESS) {
        say("attach", rv);
        return 1;
    }
    for (i = 0; i < n; i++) {
        int page = (id * 7 + i * 13) % PAGES;
        apr_uint64_t one = 1;   /* a missing counter starts at 1: the
                                   initial value is stored as is */
        void *v;
        apr_size_t vlen;

        apr_pool_clear(req);
        snprintf(key, sizeof key, "page:%d", page);
        rv = shmcache_get(c, key, strlen(key), &v, &vlen, NULL, req);
        if (rv == SHMCACHE_NOTFOUND) {
            const char *html = apr_psprintf(req, "<h1>page %d</h1>", page);
            rv = shmcache_set(c, key, strlen(key), html, strlen(html), 300, NULL);
        }
        if (rv == APR_SUCCESS)
            rv = shmcache_incr(c, "requests", 8, 1, &one, 0, NULL);
        if (rv == APR_SUCCESS) {
            snprintf(key, sizeof key, "worker:%d", id);
            rv = shmcache_incr(c, key, strlen(key), 1, &one, 0, NULL);
        }
        if (rv != APR_SUCCESS) {
            say("request", rv);
            shmcache_close(c);
            return 1;
        }
    }
    shmcache_close(c);
    return 0;
}

/* The counter stored under key, or -1. */
static long long counter(shmcache_t *c, const char *key, apr_pool_t *pool)
{
    void *v;
    apr_size_t vlen;

    if (shmcache_get(c, key, strlen(key), &v, &vlen, NULL, pool) != APR_SUCCESS)
        return -1;
    return strtoll(v, NULL, 10);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    apr_getopt_t *opt;
    shmcache_options_t o;
    shmcache_stats_t st;
    shmcache_t *c;
    apr_status_t rv;
    const char *path = NULL, *arg;
    char optch, key[64];
    int workers = 4, requests = 1000, i, bad = 0, cached = 0;
    long long total, sum = 0;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    apr_getopt_init(&opt, pool, argc, argv);
    while ((rv = apr_getopt(opt, "w:n:p:", &optch, &arg)) == APR_SUCCESS) {
        if (optch == 'w')
            workers = atoi(arg);
        else if (optch == 'n')
            requests = atoi(arg);
        else
            path = arg;
    }
    if (rv != APR_EOF || workers < 1 || workers > 256 || requests < 1) {
        fprintf(stderr, "usage: worker_pool [-w 1..256] [-n REQUESTS] [-p PATH]\n");
        return 2;
    }
    if (path == NULL)
        path = apr_psprintf(pool, "/dev/shm/worker_pool-%ld.cache", (long)getpid());

    shmcache_options_init(&o);
    o.size = 4 << 20;
    rv = shmcache_create(&c, path, &o, pool);
    if (rv != APR_SUCCESS) {
        say(path, rv);
        return 1;
    }

    for (i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(worker(path, i, requests));
        if (pid < 0) {
            perror("worker_pool: fork");
            bad++;
        }
    }
    for (;;) {
        int status;
        if (wait(&status) < 0)
            break;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            bad++;
    }

    total = counter(c, "requests", pool);
    for (i = 0; i < workers; i++) {
        snprintf(key, sizeof key, "worker:%d", i);
        sum += counter(c, key, pool);
    }
    for (i = 0; i < PAGES; i++) {
        shmcache_meta_t m;
        snprintf(key, sizeof key, "page:%d", i);
        if (shmcache_get_meta(c, key, strlen(key), &m) == APR_SUCCESS)
            cached++;
    }
    shmcache_stats(c, &st);
    shmcache_close(c);
    shmcache_remove(path, pool);

    if (bad || total != (long long)workers * requests || sum != total) {
        fprintf(stderr, "worker_pool: FAILED: %d workers failed, total %lld, "
                "sum %lld, expected %lld\n", bad, total, sum,
                (long long)workers * requests);
        return 1;
    }
    printf("ok: %d workers, %lld requests, %d pages cached, %llu hits / %llu gets\n",
           workers, total, cached, (unsigned long long)st.hits,
           (unsigned long long)st.gets);
    return 0;
}
