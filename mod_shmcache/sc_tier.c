/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_tier.c - a cache's second tier (L2 on memcached or Redis) inside
 * httpd: the ShmcacheCache options l2=, l2-pool=, l2-timeout=, l1-ttl=,
 * neg-ttl=, l2-prefix=, l2-invalidate= (checked when the configuration is read, so
 * `apachectl -t` reports them), one tier per child process (made in
 * child_init, in pchild: its connections and worker threads go with the
 * child), the calls the socache provider and the key API make (through
 * the tier when the cache has one, else on the segment), the L2 part of
 * the status page, and a rate-limited log of L2 trouble.
 *
 * The tier takes the segment lock only inside the public shmcache_* calls
 * it makes, so no L2 round trip ever happens under it.
 */
#include "sc_private.h"

#include "apr_strings.h"
#include "http_protocol.h"

#include <string.h>

/* at most one L2 warning per process per this many seconds */
#define SC_TIER_LOG_INTERVAL 10

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */

static shmcache_tier_options_t *tier_opts(sc_cache_t *c, apr_pool_t *p)
{
    if (c->tier_opts == NULL) {
        c->tier_opts = apr_pcalloc(p, sizeof(*c->tier_opts));
        shmcache_tier_options_init(c->tier_opts);
    }
    return c->tier_opts;
}

int sc_tier_is_option(const char *key)
{
    return strcasecmp(key, "l2") == 0 || strcasecmp(key, "l2-pool") == 0
        || strcasecmp(key, "l2-timeout") == 0 || strcasecmp(key, "l1-ttl") == 0
        || strcasecmp(key, "neg-ttl") == 0 || strcasecmp(key, "l2-prefix") == 0
        || strcasecmp(key, "l2-invalidate") == 0;
}

const char *sc_tier_option(cmd_parms *cmd, sc_cache_t *c, const char *key,
                           const char *val)
{
    const char *d = cmd->cmd->name;
    apr_pool_t *p = cmd->pool;
    shmcache_tier_options_t *o = tier_opts(c, p);

    if (strcasecmp(key, "l2") == 0)
        o->url = val;
    else if (strcasecmp(key, "l2-prefix") == 0)
        o->prefix = val;
    else if (strcasecmp(key, "l2-pool") == 0) {
        if (shmcache_tier_pool_parse(o, val) != APR_SUCCESS)
            return apr_psprintf(p, "%s %s: l2-pool=%s: expected MIN,SMAX,MAX,TTL_MS "
                                "(e.g. 0,2,8,30000)", d, c->name, val);
    }
    else if (strcasecmp(key, "l2-timeout") == 0) {
        if (!sc_parse_u32(val, 1, 60000, &o->timeout_ms))
            return apr_psprintf(p, "%s %s: l2-timeout=%s: milliseconds, 1..60000",
                                d, c->name, val);
    }
    else if (strcasecmp(key, "l1-ttl") == 0) {
        if (!sc_parse_u32(val, 1, SHMCACHE_TTL_MAX, &o->l1_ttl))
            return apr_psprintf(p, "%s %s: l1-ttl=%s: seconds, at least 1", d,
                                c->name, val);
    }
    else if (strcasecmp(key, "l2-invalidate") == 0) {
        if (!sc_parse_u32(val, 0, 10000, &o->invalidate_ms)
            || (o->invalidate_ms && o->invalidate_ms < 10))
            return apr_psprintf(p, "%s %s: l2-invalidate=%s: milliseconds between "
                                "polls of the invalidation log, 10..10000 (0 = off)",
                                d, c->name, val);
    }
    else if (!sc_parse_u32(val, 0, SHMCACHE_TTL_MAX, &o->neg_ttl))
        return apr_psprintf(p, "%s %s: neg-ttl=%s: seconds (0 = off)", d, c->name, val);
    return NULL;
}

const char *sc_tier_check(cmd_parms *cmd, sc_cache_t *c)
{
    const char *why = NULL;

    if (c->tier_opts == NULL)
        return NULL;
    if (c->tier_opts->url == NULL)
        return apr_psprintf(cmd->pool, "%s %s: l2-pool, l2-timeout, l1-ttl, neg-ttl, "
                            "l2-prefix and l2-invalidate need l2=memcache://HOST:PORT or "
                            "l2=redis://HOST:PORT", cmd->cmd->name, c->name);
    if (shmcache_tier_options_check(c->tier_opts, &why, cmd->pool) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, c->name, why);
    return NULL;
}

/* ------------------------------------------------------------------------
 * Per process
 * ---------------------------------------------------------------------- */

void sc_tier_child_init(apr_array_header_t *caches, server_rec *s, apr_pool_t *pchild)
{
    shmcache_tier_t *t;
    shmcache_t *h;
    apr_status_t rv;
    int i;

    for (i = 0; i < caches->nelts; i++) {
        sc_cache_t *c = APR_ARRAY_IDX(caches, i, sc_cache_t *);
        if (c->tier_opts == NULL || c->alias != NULL)
            continue;
        if ((h = sc_cache_handle(c, s)) == NULL)
            continue;                   /* logged by the attach */
        rv = shmcache_tier_create(&t, h, c->tier_opts, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, SCLOGNO(00801)
                         SC_FMT "cannot set up L2 %s: this child uses the "
                         "segment alone", SC_ARGS(c), c->tier_opts->url);
            continue;
        }
        atomic_store(&c->tier, t);
    }
}

shmcache_tier_t *sc_tier_of(sc_cache_t *c)
{
    return atomic_load_explicit(&sc_cache_target(c)->tier, memory_order_acquire);
}

/* Log what grew since the last report, at most once per interval. */
static void tier_log(sc_cache_t *c, server_rec *s)
{
    shmcache_tier_t *t = atomic_load(&c->tier);
    shmcache_tier_stats_t st;
    apr_time_t now = apr_time_now();
    apr_uint64_t errors, timeouts, trips;

    if (t == NULL || now - c->tier_log_time < apr_time_from_sec(SC_TIER_LOG_INTERVAL))
        return;
    c->tier_log_time = now;
    shmcache_tier_stats(t, &st);
    errors = st.l2_errors - c->tier_logged.l2_errors;
    timeouts = st.l2_timeouts - c->tier_logged.l2_timeouts;
    trips = st.breaker_trips - c->tier_logged.breaker_trips;
    if (errors || timeouts || trips)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SCLOGNO(00802)
                     SC_FMT "L2 %s: %" APR_UINT64_T_FMT " errors, %"
                     APR_UINT64_T_FMT " timeouts, %" APR_UINT64_T_FMT " breaker "
                     "trips in this process since the last report; %u of %u "
                     "servers skipped now (answered from the segment alone)",
                     SC_ARGS(c), shmcache_tier_url(t), errors, timeouts, trips,
                     st.servers_open, st.servers);
    c->tier_logged = st;
}

void sc_tier_tick(server_rec *s)
{
    sc_registry_t *reg = sc_registry();
    int i;

    if (reg == NULL)
        return;
    for (i = 0; i < reg->caches->nelts; i++)
        tier_log(APR_ARRAY_IDX(reg->caches, i, sc_cache_t *), s);
}

/* ------------------------------------------------------------------------
 * The calls of the socache provider and the key API
 * ---------------------------------------------------------------------- */

/* After a tiered write: the version of the L1 copy, 0 if there is none. */
static void l1_version(shmcache_t *h, const void *key, apr_size_t klen,
                       apr_uint64_t *version)
{
    shmcache_meta_t m;

    if (version != NULL)
        *version = shmcache_get_meta(h, key, klen, &m) == APR_SUCCESS ? m.version : 0;
}

apr_status_t sc_kv_get(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen,
                       void **v, apr_size_t *vlen, shmcache_meta_t *meta,
                       apr_pool_t *p)
{
    shmcache_tier_t *t = sc_tier_of(c);
    apr_status_t rv;

    if (t == NULL)
        return shmcache_get(h, key, klen, v, vlen, meta, p);
    rv = shmcache_tier_get(t, key, klen, v, vlen, p);
    if (rv == APR_SUCCESS && meta != NULL
        && shmcache_get_meta(h, key, klen, meta) != APR_SUCCESS) {
        memset(meta, 0, sizeof(*meta));     /* answered, not kept in L1 */
        meta->ttl = SHMCACHE_TTL_FOREVER;
    }
    return rv;
}

apr_status_t sc_kv_get_buf(sc_cache_t *c, shmcache_t *h, const void *key,
                           apr_size_t klen, void *buf, apr_size_t size,
                           apr_size_t *len, apr_pool_t *p)
{
    shmcache_tier_t *t = sc_tier_of(c);
    apr_status_t rv;
    void *v;

    if (t == NULL)
        return shmcache_get_buf(h, key, klen, buf, size, len, NULL);
    rv = shmcache_tier_get(t, key, klen, &v, len, p);
    if (rv != APR_SUCCESS)
        return rv;
    if (*len > size)
        return SHMCACHE_EBUFSIZE;
    memcpy(buf, v, *len);
    return APR_SUCCESS;
}

apr_status_t sc_kv_store(sc_cache_t *c, shmcache_t *h, sc_kv_op_e op,
                         const void *key, apr_size_t klen, const void *v,
                         apr_size_t vlen, apr_uint32_t ttl, apr_uint64_t *version)
{
    shmcache_tier_t *t = sc_tier_of(c);
    apr_status_t rv;

    if (t == NULL) {
        switch (op) {
        case SC_KV_ADD:     return shmcache_add(h, key, klen, v, vlen, ttl, version);
        case SC_KV_REPLACE: return shmcache_replace(h, key, klen, v, vlen, ttl, version);
        default:            return shmcache_set(h, key, klen, v, vlen, ttl, version);
        }
    }
    switch (op) {
    case SC_KV_ADD:     rv = shmcache_tier_add(t, key, klen, v, vlen, ttl); break;
    case SC_KV_REPLACE: rv = shmcache_tier_replace(t, key, klen, v, vlen, ttl); break;
    default:            rv = shmcache_tier_set(t, key, klen, v, vlen, ttl); break;
    }
    if (rv == APR_SUCCESS)
        l1_version(h, key, klen, version);
    return rv;
}

apr_status_t sc_kv_cas(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen,
                       const void *v, apr_size_t vlen, apr_uint32_t ttl,
                       apr_uint64_t expected, apr_uint64_t *version)
{
    shmcache_tier_t *t = sc_tier_of(c);

    if (t != NULL)          /* APR_ENOTIMPL: versions do not cross machines */
        return shmcache_tier_cas(t, key, klen, v, vlen, ttl, expected, version);
    return shmcache_cas(h, key, klen, v, vlen, ttl, expected, version);
}

apr_status_t sc_kv_delete(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen)
{
    shmcache_tier_t *t = sc_tier_of(c);

    return t != NULL ? shmcache_tier_delete(t, key, klen) : shmcache_delete(h, key, klen);
}

apr_status_t sc_kv_incr(sc_cache_t *c, shmcache_t *h, const void *key, apr_size_t klen,
                        apr_int64_t delta, const apr_uint64_t *initial,
                        apr_uint32_t ttl, apr_uint64_t *result)
{
    shmcache_tier_t *t = sc_tier_of(c);

    if (t != NULL)
        return shmcache_tier_incr(t, key, klen, delta, initial, ttl, result);
    return shmcache_incr(h, key, klen, delta, initial, ttl, result);
}

/* ------------------------------------------------------------------------
 * Status page (the figures of the child that answers)
 * ---------------------------------------------------------------------- */

void sc_tier_status_short(request_rec *r, sc_cache_t *c)
{
    shmcache_tier_t *t = sc_tier_of(c);
    shmcache_tier_stats_t st;

    if (t == NULL)
        return;
    shmcache_tier_stats(t, &st);
    ap_rprintf(r, "L2URL: %s\nL2Servers: %u\nL2ServersSkipped: %u\n"
               "L2Hits: %" APR_UINT64_T_FMT "\nL2Misses: %" APR_UINT64_T_FMT
               "\nL1Hits: %" APR_UINT64_T_FMT "\nL2Writes: %" APR_UINT64_T_FMT
               "\nL2Errors: %" APR_UINT64_T_FMT "\nL2Timeouts: %" APR_UINT64_T_FMT
               "\nL2Skipped: %" APR_UINT64_T_FMT "\nL2BreakerTrips: %"
               APR_UINT64_T_FMT "\nL2InvalSent: %" APR_UINT64_T_FMT
               "\nL2InvalApplied: %" APR_UINT64_T_FMT "\nL2InvalLost: %"
               APR_UINT64_T_FMT "\n", shmcache_tier_url(t), st.servers,
               st.servers_open, st.l2_hits, st.l2_misses, st.l1_hits, st.l2_writes,
               st.l2_errors, st.l2_timeouts, st.l2_skipped, st.breaker_trips,
               st.inval_sent, st.inval_applied, st.inval_lost);
}

void sc_tier_status_json(request_rec *r, sc_cache_t *c)
{
    shmcache_tier_t *t = sc_tier_of(c);
    shmcache_tier_stats_t st;
    shmcache_tier_server_stats_t ss;
    apr_uint32_t i;

    if (t == NULL)
        return;
    shmcache_tier_stats(t, &st);
    ap_rprintf(r, ",\n   \"l2\": {\"url\": \"%s\", \"pid\": %ld"
               ", \"gets\": %" APR_UINT64_T_FMT ", \"l1_hits\": %" APR_UINT64_T_FMT
               ", \"neg_hits\": %" APR_UINT64_T_FMT ", \"l2_hits\": %" APR_UINT64_T_FMT
               ", \"l2_misses\": %" APR_UINT64_T_FMT ", \"l2_writes\": %"
               APR_UINT64_T_FMT ", \"errors\": %" APR_UINT64_T_FMT ", \"timeouts\": %"
               APR_UINT64_T_FMT ", \"skipped\": %" APR_UINT64_T_FMT
               ", \"breaker_trips\": %" APR_UINT64_T_FMT ", \"inval_sent\": %"
               APR_UINT64_T_FMT ", \"inval_applied\": %" APR_UINT64_T_FMT
               ", \"inval_lost\": %" APR_UINT64_T_FMT ", \"servers\": [",
               ap_escape_html(r->pool, shmcache_tier_url(t)), (long)getpid(), st.gets,
               st.l1_hits, st.neg_hits, st.l2_hits, st.l2_misses, st.l2_writes,
               st.l2_errors, st.l2_timeouts, st.l2_skipped, st.breaker_trips,
               st.inval_sent, st.inval_applied, st.inval_lost);
    for (i = 0; i < st.servers; i++) {
        shmcache_tier_server_stats(t, i, &ss);
        ap_rprintf(r, "%s{\"host\": \"%s\", \"port\": %u, \"breaker_open\": %s, "
                   "\"conns_busy\": %u, \"calls\": %" APR_UINT64_T_FMT "}",
                   i ? ", " : "", ap_escape_html(r->pool, ss.host), (unsigned)ss.port,
                   ss.breaker_open ? "true" : "false", ss.conns_busy, ss.calls);
    }
    ap_rputs("]}", r);
}

void sc_tier_status_html(request_rec *r, sc_cache_t *c)
{
    shmcache_tier_t *t = sc_tier_of(c);
    shmcache_tier_stats_t st;

    if (t == NULL)
        return;
    shmcache_tier_stats(t, &st);
    ap_rprintf(r, "<tr><th align=\"left\">L2</th><td>%s: %u servers, %u skipped "
               "now (breaker open); in process %ld: %"
               APR_UINT64_T_FMT " L1 hits, %" APR_UINT64_T_FMT " L2 hits, %"
               APR_UINT64_T_FMT " L2 misses, %" APR_UINT64_T_FMT " writes, %"
               APR_UINT64_T_FMT " errors, %" APR_UINT64_T_FMT " timeouts, %"
               APR_UINT64_T_FMT " breaker trips</td></tr>\n",
               ap_escape_html(r->pool, shmcache_tier_url(t)), st.servers,
               st.servers_open, (long)getpid(), st.l1_hits, st.l2_hits, st.l2_misses,
               st.l2_writes, st.l2_errors, st.l2_timeouts, st.breaker_trips);
}
