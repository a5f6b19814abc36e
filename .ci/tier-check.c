/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier-check.c - built by .ci/tier-check.sh against an installed
 * libshmcache_tier (pkg-config shmcache-tier, or find_package(shmcache) ->
 * shmcache::shmcache_tier): two segments, as two machines would have, each
 * with a tier on the same L2; a value set through one is read through the
 * other, which can only have it from L2.
 *
 *   tier-check URL     prints "ok: ..." and exits 0, or "failed: ..." and 1
 */
#include <apr_general.h>
#include <shmcache.h>
#include <shmcache_tier.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct machine_t {
    char path[96];
    shmcache_t *cache;
    shmcache_tier_t *tier;
} machine_t;

/* The segment in pool, its tier in tiers (destroyed first). */
static apr_status_t machine_open(machine_t *m, const char *name, const char *url,
                                 apr_pool_t *pool, apr_pool_t *tiers)
{
    shmcache_options_t opts;
    shmcache_tier_options_t topts;
    apr_status_t rv;

    snprintf(m->path, sizeof m->path, "/dev/shm/shmcache-tier-check-%ld-%s.cache",
             (long)getpid(), name);
    shmcache_options_init(&opts);
    opts.size = 1 << 20;
    if ((rv = shmcache_create(&m->cache, m->path, &opts, pool)) != APR_SUCCESS)
        return rv;
    shmcache_tier_options_init(&topts);
    topts.url = url;
    topts.timeout_ms = 2000;
    return shmcache_tier_create(&m->tier, m->cache, &topts, tiers);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool, *tiers;
    machine_t a = { "", NULL, NULL }, b = { "", NULL, NULL };
    shmcache_tier_stats_t st;
    char key[64], err[128];
    void *value = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (argc != 2) {
        fprintf(stderr, "usage: tier-check URL\n");
        return 2;
    }
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&pool, NULL);
    apr_pool_create(&tiers, pool);
    snprintf(key, sizeof key, "tier-check-%ld", (long)getpid());
    rv = machine_open(&a, "a", argv[1], pool, tiers);
    if (rv == APR_SUCCESS)
        rv = machine_open(&b, "b", argv[1], pool, tiers);
    if (rv == APR_SUCCESS)
        rv = shmcache_tier_set(a.tier, key, strlen(key), "shared", 6, 60);
    if (rv == APR_SUCCESS)
        rv = shmcache_tier_get(b.tier, key, strlen(key), &value, &len, pool);
    if (rv == APR_SUCCESS)
        shmcache_tier_delete(a.tier, key, strlen(key));
    memset(&st, 0, sizeof st);
    if (b.tier)
        shmcache_tier_stats(b.tier, &st);
    apr_pool_destroy(tiers);        /* stops the tiers before their L1s close */
    if (a.cache)
        shmcache_close(a.cache);
    if (b.cache)
        shmcache_close(b.cache);
    shmcache_remove(a.path, pool);
    shmcache_remove(b.path, pool);
    if (rv != APR_SUCCESS || len != 6 || memcmp(value, "shared", 6) != 0
        || st.l2_hits != 1) {
        printf("failed: %s (l2_hits %lu)\n", shmcache_strerror(rv, err, sizeof err),
               (unsigned long)st.l2_hits);
        return 1;
    }
    printf("ok: set on a, read on b from L2 (%s)\n", argv[1]);
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}
