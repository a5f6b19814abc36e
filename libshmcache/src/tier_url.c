/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier_url.c - the options of a tier: defaults, the L2 URL, the pool
 * specification, and the checks a configuration step (apachectl -t, the
 * CLI) runs before anything connects.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "tier_private.h"

SHMCACHE_DECLARE(void) shmcache_tier_options_init(shmcache_tier_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->prefix = "";
    o->pool_min = SHMCACHE_TIER_DEFAULT_POOL_MIN;
    o->pool_smax = SHMCACHE_TIER_DEFAULT_POOL_SMAX;
    o->pool_max = SHMCACHE_TIER_DEFAULT_POOL_MAX;
    o->pool_ttl_ms = SHMCACHE_TIER_DEFAULT_POOL_TTL_MS;
    o->timeout_ms = SHMCACHE_TIER_DEFAULT_TIMEOUT_MS;
    o->l1_ttl = SHMCACHE_TIER_DEFAULT_L1_TTL;
    o->breaker_failures = SHMCACHE_TIER_DEFAULT_BREAKER_FAILS;
    o->breaker_ms = SHMCACHE_TIER_DEFAULT_BREAKER_MS;
}

/* One "host[:port]" of the list into hosts/ports. */
static apr_status_t parse_one(const char *item, apr_port_t dflt, const char **host,
                              apr_port_t *port, const char **why, apr_pool_t *pool)
{
    const char *colon = strrchr(item, ':');
    char *end;
    long v;

    if (!*item || colon == item) {
        *why = apr_psprintf(pool, "empty host in '%s'", item);
        return SHMCACHE_EINVAL;
    }
    if (!colon) {
        *host = item;
        *port = dflt;
        return APR_SUCCESS;
    }
    v = strtol(colon + 1, &end, 10);
    if (*end || v < 1 || v > 65535) {
        *why = apr_psprintf(pool, "bad port in '%s'", item);
        return SHMCACHE_EINVAL;
    }
    *host = apr_pstrndup(pool, item, (apr_size_t)(colon - item));
    *port = (apr_port_t)v;
    return APR_SUCCESS;
}

apr_status_t sc_tier_url_parse(const char *url, sc_l2_kind_e *kind,
                               const char ***hosts, apr_port_t **ports,
                               apr_uint32_t *n, const char **why,
                               apr_pool_t *pool)
{
    const char *rest;
    char *list, *item, *state;
    apr_port_t dflt;
    apr_status_t rv;

    if (!url) {
        *why = "no L2 URL";
        return SHMCACHE_EINVAL;
    }
    if (strncmp(url, "memcache://", 11) == 0) {
        *kind = SC_L2_MEMCACHE;
        rest = url + 11;
        dflt = 11211;
    } else if (strncmp(url, "redis://", 8) == 0) {
        *kind = SC_L2_REDIS;
        rest = url + 8;
        dflt = 6379;
    } else {
        *why = apr_psprintf(pool, "L2 URL '%s' is not memcache://host:port[,...] "
                            "or redis://host:port[,...]", url);
        return SHMCACHE_EINVAL;
    }
    *hosts = apr_pcalloc(pool, SHMCACHE_TIER_MAX_SERVERS * sizeof(**hosts));
    *ports = apr_pcalloc(pool, SHMCACHE_TIER_MAX_SERVERS * sizeof(**ports));
    *n = 0;
    list = apr_pstrdup(pool, rest);
    if (list[0] && list[strlen(list) - 1] == '/')
        list[strlen(list) - 1] = '\0';
    for (item = apr_strtok(list, ",", &state); item; item = apr_strtok(NULL, ",", &state)) {
        if (*n == SHMCACHE_TIER_MAX_SERVERS) {
            *why = apr_psprintf(pool, "more than %u L2 servers", SHMCACHE_TIER_MAX_SERVERS);
            return SHMCACHE_EINVAL;
        }
        rv = parse_one(item, dflt, &(*hosts)[*n], &(*ports)[*n], why, pool);
        if (rv != APR_SUCCESS)
            return rv;
        (*n)++;
    }
    if (*n == 0) {
        *why = apr_psprintf(pool, "no server in L2 URL '%s'", url);
        return SHMCACHE_EINVAL;
    }
    return APR_SUCCESS;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_options_check(
    const shmcache_tier_options_t *o, const char **why, apr_pool_t *pool)
{
    const char *dummy, **hosts;
    apr_port_t *ports;
    apr_uint32_t n;
    sc_l2_kind_e kind;
    apr_status_t rv;

    if (!why)
        why = &dummy;
    rv = sc_tier_url_parse(o->url, &kind, &hosts, &ports, &n, why, pool);
    if (rv != APR_SUCCESS)
        return rv;
    if (o->prefix && (strlen(o->prefix) > SHMCACHE_TIER_MAX_PREFIX
                      || strpbrk(o->prefix, " \t\r\n~"))) {
        *why = "L2 key prefix: at most 32 bytes, no spaces or '~'";
        return SHMCACHE_EINVAL;
    }
    if (o->pool_max < 1 || o->pool_max > 1024 || o->pool_smax > o->pool_max
        || o->pool_min > o->pool_smax) {
        *why = apr_psprintf(pool, "L2 pool %u,%u,%u: need min <= smax <= max, "
                            "1 <= max <= 1024", o->pool_min, o->pool_smax, o->pool_max);
        return SHMCACHE_EINVAL;
    }
    if (o->timeout_ms < 1 || o->timeout_ms > 60000) {
        *why = "L2 timeout: 1..60000 ms";
        return SHMCACHE_EINVAL;
    }
    if (o->l1_ttl < 1 || o->l1_ttl > SHMCACHE_TTL_MAX || o->neg_ttl > SHMCACHE_TTL_MAX) {
        *why = "l1-ttl: at least 1 second; l1-ttl and neg-ttl at most 10 years";
        return SHMCACHE_EINVAL;
    }
    if (o->invalidate_ms && (o->invalidate_ms < 10 || o->invalidate_ms > 10000)) {
        *why = "L2 invalidation interval: 0 (off) or 10..10000 ms";
        return SHMCACHE_EINVAL;
    }
    return APR_SUCCESS;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_pool_parse(shmcache_tier_options_t *o,
                                                        const char *spec)
{
    apr_uint32_t *fields[4] = { &o->pool_min, &o->pool_smax, &o->pool_max,
                                &o->pool_ttl_ms };
    const char *p = spec;
    char *end;
    unsigned long v;
    int i;

    for (i = 0; i < 4 && *p; i++) {
        v = strtoul(p, &end, 10);
        if (end == p || v > 0xFFFFFFFFul || (*end && *end != ','))
            return SHMCACHE_EINVAL;
        *fields[i] = (apr_uint32_t)v;
        p = *end ? end + 1 : end;
    }
    return *p || i == 0 ? SHMCACHE_EINVAL : APR_SUCCESS;
}
