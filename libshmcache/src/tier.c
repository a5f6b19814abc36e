/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tier.c - the public calls of a tier: L1 (the segment) in front of L2
 * (memcached or Redis), with the semantics written in shmcache_tier.h.
 *
 * Every L1 access is a public shmcache_* call, which takes and releases
 * the segment lock itself; L2 calls (tier_server.c) happen between them,
 * so nothing network-related ever runs under the segment lock.
 */
#include <stdatomic.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_signal.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include "tier_private.h"

/* memcached reads an expiry above 30 days as an absolute unix time */
#define SC_MEMCACHE_REL_MAX (30u * 24u * 3600u)

/* The L1 value that means "known missing in L2" (neg_ttl). */
static const char neg_marker[6] = { '\0', 'S', 'C', 'N', 'E', 'G' };

struct shmcache_tier_t {
    shmcache_t *l1;
    shmcache_tier_options_t opts;
    apr_pool_t *root;           /* servers and workers; see tier_cleanup */
    sc_l2_kind_e kind;
    sc_tier_server_t **servers;
    apr_uint32_t nservers;
    sc_tier_ring_t *ring;
    sc_tier_inval_t *inval;     /* the invalidation channel, or NULL */
    apr_uint32_t default_ttl;   /* the segment's, 0 = never */
    apr_uint32_t max_key, max_value;
    _Atomic apr_uint64_t gets, l1_hits, neg_hits, l2_hits, l2_misses, l2_writes;
};

#define COUNT(t, f) atomic_fetch_add_explicit(&(t)->f, 1, memory_order_relaxed)

/* ---- helpers ------------------------------------------------------------ */

static apr_int64_t now_sec(void)
{
    return (apr_int64_t)apr_time_sec(apr_time_now());
}

/* The TTL a write means (SHMCACHE_TTL_FOREVER for never), or 0 with
 * *rv = SHMCACHE_ETTL for an invalid one. */
static apr_uint32_t effective_ttl(const shmcache_tier_t *t, apr_uint32_t ttl,
                                  apr_status_t *rv)
{
    *rv = APR_SUCCESS;
    if (ttl == SHMCACHE_TTL_DEFAULT)
        return t->default_ttl ? t->default_ttl : SHMCACHE_TTL_FOREVER;
    if (ttl != SHMCACHE_TTL_FOREVER && ttl > SHMCACHE_TTL_MAX) {
        *rv = SHMCACHE_ETTL;
        return 0;
    }
    return ttl;
}

static apr_uint32_t l1_ttl_for(const shmcache_tier_t *t, apr_uint32_t ttl)
{
    return ttl < t->opts.l1_ttl ? ttl : t->opts.l1_ttl;
}

static apr_int64_t expires_for(apr_uint32_t ttl)
{
    return ttl == SHMCACHE_TTL_FOREVER ? 0 : now_sec() + ttl;
}

static apr_uint32_t exptime_for(const shmcache_tier_t *t, apr_uint32_t ttl)
{
    if (ttl == SHMCACHE_TTL_FOREVER)
        return 0;
    if (t->kind == SC_L2_MEMCACHE && ttl > SC_MEMCACHE_REL_MAX)
        return (apr_uint32_t)(now_sec() + ttl);
    return ttl;
}

/* Checks the core would make, done before anything is written to L2. */
static apr_status_t check_key(const shmcache_tier_t *t, const void *key,
                              apr_size_t len)
{
    if (!t || !key)
        return SHMCACHE_EINVAL;
    return len == 0 || len > t->max_key ? SHMCACHE_EKEYLEN : APR_SUCCESS;
}

/* Fill req's key and op; return the server that owns the key. */
static sc_tier_server_t *prepare(const shmcache_tier_t *t, sc_l2_req_t *req,
                                 sc_l2_op_e op, const void *key, apr_size_t len)
{
    apr_size_t n;

    memset(req, 0, sizeof(*req));
    req->op = op;
    n = sc_tier_key_map(t->opts.prefix, key, len, req->key);
    return t->servers[t->nservers == 1 ? 0 : sc_tier_ring_pick(t->ring, req->key, n)];
}

static apr_status_t l2_call(shmcache_tier_t *t, sc_tier_server_t *srv,
                            sc_l2_req_t *req, sc_l2_res_t *res, apr_pool_t *pool)
{
    apr_status_t rv = sc_tier_server_call(srv, req, res, pool);
    if (rv == APR_SUCCESS && req->op != SC_L2_GET)
        COUNT(t, l2_writes);
    return rv;
}

/* L2 GET of a key into *value (envelope removed); APR_SUCCESS,
 * APR_NOTFOUND (also when expired by its envelope) or SC_L2_DOWN. */
static apr_status_t l2_get(shmcache_tier_t *t, sc_tier_server_t *srv,
                           const sc_l2_req_t *keyreq, const char **value,
                           apr_size_t *len, apr_int64_t *expires, apr_pool_t *pool)
{
    sc_l2_req_t req = *keyreq;
    sc_l2_res_t res;
    apr_status_t rv;

    req.op = SC_L2_GET;
    rv = sc_tier_server_call(srv, &req, &res, pool);
    if (rv != APR_SUCCESS)
        return rv;
    sc_tier_unenvelope(res.value ? res.value : "", res.value_len, value, len, expires);
    if (*expires > 0 && *expires <= now_sec())
        return APR_NOTFOUND;
    return APR_SUCCESS;
}

/* A temporary pool for one call (L2 answers are copied there). */
static apr_pool_t *scratch(apr_pool_t **p)
{
    apr_pool_create(p, NULL);
    return *p;
}

/* L2 SET of value with ttl (an effective TTL). */
static apr_status_t l2_set(shmcache_tier_t *t, sc_tier_server_t *srv,
                           const sc_l2_req_t *keyreq, sc_l2_op_e op,
                           const void *value, apr_size_t len, apr_uint32_t ttl,
                           apr_pool_t *pool)
{
    sc_l2_req_t req = *keyreq;

    req.op = op;
    sc_tier_envelope(value, len, expires_for(ttl), &req.value, &req.value_len, pool);
    req.exptime = exptime_for(t, ttl);
    return l2_call(t, srv, &req, NULL, pool);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void *APR_THREAD_FUNC destroyer_main(apr_thread_t *thd, void *root)
{
#ifdef SIGPIPE
    apr_signal_block(SIGPIPE);
#endif
    apr_pool_destroy(root);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

/* Destroy root in a thread that blocks SIGPIPE: closing the pooled
 * connections sends "quit" to servers that may have gone. */
static void destroy_root(apr_pool_t *root)
{
    apr_pool_t *tmp;
    apr_thread_t *thd;
    apr_status_t rv;

    if (apr_pool_create(&tmp, NULL) == APR_SUCCESS
        && apr_thread_create(&thd, NULL, destroyer_main, root, tmp) == APR_SUCCESS) {
        apr_thread_join(&rv, thd);
        apr_pool_destroy(tmp);
        return;
    }
    apr_pool_destroy(root);
}

/* Stop the workers; free their memory unless one is stuck in a client
 * call (apr_memcache can block for ever on a server that never answers):
 * then the root pool is left behind for it. */
static apr_status_t tier_cleanup(void *data)
{
    shmcache_tier_t *t = data;
    apr_status_t all = APR_SUCCESS;
    apr_uint32_t i;
    apr_interval_time_t wait = apr_time_from_sec(1)
        + (apr_interval_time_t)t->opts.timeout_ms * 1000;

    if (t->inval)
        sc_tier_inval_stop(t->inval);   /* it calls the servers */
    for (i = 0; i < t->nservers; i++)
        if (t->servers[i] && sc_tier_server_stop(t->servers[i], wait) != APR_SUCCESS)
            all = APR_TIMEUP;
    if (all == APR_SUCCESS)
        destroy_root(t->root);
    return APR_SUCCESS;
}

/* A pool of its own whose allocator has a mutex: the workers and the
 * clients' connection pools make subpools from several threads. */
static apr_status_t make_root(apr_pool_t **root)
{
    apr_allocator_t *alloc;
    apr_thread_mutex_t *mutex;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS)
        return rv;
    if ((rv = apr_pool_create_unmanaged_ex(root, NULL, alloc)) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, *root);
    if ((rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, *root)) != APR_SUCCESS) {
        apr_pool_destroy(*root);
        return rv;
    }
    apr_allocator_mutex_set(alloc, mutex);
    return APR_SUCCESS;
}

/* The invalidation channel, its log on the server that owns its counter. */
static apr_status_t start_inval(shmcache_tier_t *t)
{
    char key[SC_TIER_KEY_MAX + 1];
    int n = apr_snprintf(key, sizeof(key), "%s~inv", t->opts.prefix);
    sc_tier_server_t *srv =
        t->servers[t->nservers == 1 ? 0 : sc_tier_ring_pick(t->ring, key, (apr_size_t)n)];

    return sc_tier_inval_start(&t->inval, srv, t->l1, t->opts.prefix,
                               t->opts.invalidate_ms, t->root);
}

/* After an L2 write of key: tell the other machines, when asked to. */
static void announce(shmcache_tier_t *t, const void *key, apr_size_t len)
{
    if (t->inval)
        sc_tier_inval_publish(t->inval, key, len);
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_create(shmcache_tier_t **out,
                                                    shmcache_t *l1,
                                                    const shmcache_tier_options_t *opts,
                                                    apr_pool_t *pool)
{
    shmcache_tier_t *t;
    shmcache_stats_t st;
    apr_pool_t *root;
    const char **hosts, *why, **names;
    apr_port_t *ports;
    apr_uint32_t i, n;
    sc_l2_kind_e kind;
    apr_status_t rv;

    if (!out || !l1 || !opts || !pool)
        return SHMCACHE_EINVAL;
    if ((rv = shmcache_tier_options_check(opts, &why, pool)) != APR_SUCCESS)
        return rv;
    if ((rv = shmcache_stats(l1, &st)) != APR_SUCCESS)
        return rv;
    if ((rv = make_root(&root)) != APR_SUCCESS)
        return rv;
    t = apr_pcalloc(root, sizeof(*t));
    t->root = root;
    t->l1 = l1;
    t->opts = *opts;
    t->opts.url = apr_pstrdup(root, opts->url);
    t->opts.prefix = apr_pstrdup(root, opts->prefix ? opts->prefix : "");
    t->default_ttl = st.default_ttl;
    t->max_key = st.max_key;
    t->max_value = st.max_value;
    sc_tier_url_parse(t->opts.url, &kind, &hosts, &ports, &n, &why, root);
    t->kind = kind;
    t->servers = apr_pcalloc(root, n * sizeof(sc_tier_server_t *));
    names = apr_pcalloc(root, n * sizeof(*names));
    for (i = 0; i < n && rv == APR_SUCCESS; i++) {
        names[i] = apr_psprintf(root, "%s:%u", hosts[i], (unsigned)ports[i]);
        rv = sc_tier_server_create(&t->servers[i], kind, hosts[i], ports[i],
                                   &t->opts, root);
        if (rv == APR_SUCCESS)
            t->nservers = i + 1;
    }
    if (rv == APR_SUCCESS)
        rv = sc_tier_ring_build(&t->ring, names, n, root);
    if (rv == APR_SUCCESS && t->opts.invalidate_ms)
        rv = start_inval(t);
    if (rv != APR_SUCCESS) {
        tier_cleanup(t);
        return rv;
    }
    apr_pool_cleanup_register(pool, t, tier_cleanup, apr_pool_cleanup_null);
    *out = t;
    return APR_SUCCESS;
}

SHMCACHE_DECLARE(shmcache_t *) shmcache_tier_l1(shmcache_tier_t *t)
{
    return t->l1;
}

SHMCACHE_DECLARE(const char *) shmcache_tier_url(shmcache_tier_t *t)
{
    return t->opts.url;
}

/* ---- reading ------------------------------------------------------------ */

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_get(shmcache_tier_t *t,
                                                 const void *key, apr_size_t key_len,
                                                 void **value, apr_size_t *value_len,
                                                 apr_pool_t *pool)
{
    sc_l2_req_t req;
    sc_tier_server_t *srv;
    const char *v;
    apr_size_t len;
    apr_int64_t expires, left;
    apr_uint32_t ttl;
    apr_status_t rv;

    if ((rv = check_key(t, key, key_len)) != APR_SUCCESS)
        return rv;
    COUNT(t, gets);
    rv = shmcache_get(t->l1, key, key_len, value, value_len, NULL, pool);
    if (rv == APR_SUCCESS) {
        if (*value_len == sizeof(neg_marker)
            && memcmp(*value, neg_marker, sizeof(neg_marker)) == 0) {
            COUNT(t, neg_hits);
            return SHMCACHE_NOTFOUND;
        }
        COUNT(t, l1_hits);
        return APR_SUCCESS;
    }
    if (rv != SHMCACHE_NOTFOUND)
        return rv;

    srv = prepare(t, &req, SC_L2_GET, key, key_len);
    rv = l2_get(t, srv, &req, &v, &len, &expires, pool);
    if (rv == APR_NOTFOUND) {
        COUNT(t, l2_misses);
        if (t->opts.neg_ttl)
            shmcache_set(t->l1, key, key_len, neg_marker, sizeof(neg_marker),
                         t->opts.neg_ttl, NULL);
        return SHMCACHE_NOTFOUND;
    }
    if (rv != APR_SUCCESS)
        return SHMCACHE_NOTFOUND;       /* L2 unavailable: L1 alone */
    COUNT(t, l2_hits);
    ttl = t->opts.l1_ttl;
    if (expires > 0) {
        left = expires - now_sec();
        if (left < ttl)
            ttl = (apr_uint32_t)left;
    }
    /* too big for this segment: answered, not cached */
    shmcache_set(t->l1, key, key_len, v, len, ttl, NULL);
    *value = (void *)v;                 /* NUL-terminated by the server call */
    *value_len = len;
    return APR_SUCCESS;
}

/* ---- writing ------------------------------------------------------------ */

/* The common part of set / add / replace on L2 (op SET, ADD, REPLACE). */
static apr_status_t l2_store(shmcache_tier_t *t, sc_tier_server_t *srv,
                             const sc_l2_req_t *req, sc_l2_op_e op,
                             const void *value, apr_size_t len, apr_uint32_t ttl,
                             apr_pool_t *p)
{
    const char *v;
    apr_size_t vlen;
    apr_int64_t expires;
    apr_status_t rv;

    if (t->kind == SC_L2_REDIS && op != SC_L2_SET) {
        /* apr_redis has neither SETNX nor a generic command: check, then
         * set (not atomic across machines; see shmcache_tier.h) */
        rv = l2_get(t, srv, req, &v, &vlen, &expires, p);
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
            return rv;
        if (op == SC_L2_ADD && rv == APR_SUCCESS)
            return APR_EEXIST;
        if (op == SC_L2_REPLACE && rv == APR_NOTFOUND)
            return APR_NOTFOUND;
        op = SC_L2_SET;
    }
    return l2_set(t, srv, req, op, value, len, ttl, p);
}

/* set, add and replace: L2 decides (when it answers), then L1. */
static apr_status_t tier_store(shmcache_tier_t *t, sc_l2_op_e op,
                               const void *key, apr_size_t key_len,
                               const void *value, apr_size_t value_len,
                               apr_uint32_t ttl)
{
    sc_l2_req_t req;
    sc_tier_server_t *srv;
    apr_pool_t *p;
    apr_uint32_t eff;
    apr_status_t rv;

    if ((rv = check_key(t, key, key_len)) != APR_SUCCESS)
        return rv;
    if (!value && value_len)
        return SHMCACHE_EINVAL;
    if (value_len > t->max_value)
        return SHMCACHE_EVALLEN;
    eff = effective_ttl(t, ttl, &rv);
    if (rv != APR_SUCCESS)
        return rv;
    srv = prepare(t, &req, op, key, key_len);
    rv = l2_store(t, srv, &req, op, value ? value : "", value_len, eff, scratch(&p));
    apr_pool_destroy(p);
    if (rv == APR_EEXIST)
        return SHMCACHE_EXISTS;
    if (rv == APR_NOTFOUND) {
        shmcache_delete(t->l1, key, key_len);   /* a copy here is stale */
        return SHMCACHE_NOTFOUND;
    }
    if (rv == APR_SUCCESS) {                    /* L2 decided */
        announce(t, key, key_len);
        return shmcache_set(t->l1, key, key_len, value, value_len,
                            l1_ttl_for(t, eff), NULL);
    }
    /* L2 unavailable: L1 alone decides */
    switch (op) {
    case SC_L2_ADD:
        return shmcache_add(t->l1, key, key_len, value, value_len, l1_ttl_for(t, eff), NULL);
    case SC_L2_REPLACE:
        return shmcache_replace(t->l1, key, key_len, value, value_len, l1_ttl_for(t, eff), NULL);
    default:
        return shmcache_set(t->l1, key, key_len, value, value_len, l1_ttl_for(t, eff), NULL);
    }
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_set(shmcache_tier_t *t,
                                                 const void *key, apr_size_t key_len,
                                                 const void *value, apr_size_t value_len,
                                                 apr_uint32_t ttl)
{
    return tier_store(t, SC_L2_SET, key, key_len, value, value_len, ttl);
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_add(shmcache_tier_t *t,
                                                 const void *key, apr_size_t key_len,
                                                 const void *value, apr_size_t value_len,
                                                 apr_uint32_t ttl)
{
    return tier_store(t, SC_L2_ADD, key, key_len, value, value_len, ttl);
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_replace(shmcache_tier_t *t,
                                                     const void *key, apr_size_t key_len,
                                                     const void *value, apr_size_t value_len,
                                                     apr_uint32_t ttl)
{
    return tier_store(t, SC_L2_REPLACE, key, key_len, value, value_len, ttl);
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_delete(shmcache_tier_t *t,
                                                    const void *key, apr_size_t key_len)
{
    sc_l2_req_t req;
    sc_tier_server_t *srv;
    apr_status_t rv, rv1;

    if ((rv = check_key(t, key, key_len)) != APR_SUCCESS)
        return rv;
    srv = prepare(t, &req, SC_L2_DELETE, key, key_len);
    rv = l2_call(t, srv, &req, NULL, NULL);
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND)  /* L2 answered */
        announce(t, key, key_len);
    rv1 = shmcache_delete(t->l1, key, key_len);
    if (rv1 != APR_SUCCESS && rv1 != SHMCACHE_NOTFOUND)
        return rv1;
    return rv == APR_SUCCESS || rv1 == APR_SUCCESS ? APR_SUCCESS : SHMCACHE_NOTFOUND;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_touch(shmcache_tier_t *t,
                                                   const void *key, apr_size_t key_len,
                                                   apr_uint32_t ttl)
{
    sc_l2_req_t req;
    sc_tier_server_t *srv;
    const char *v;
    apr_size_t len;
    apr_int64_t expires;
    apr_uint32_t eff;
    apr_pool_t *p;
    apr_status_t rv, rv1;

    if ((rv = check_key(t, key, key_len)) != APR_SUCCESS)
        return rv;
    eff = effective_ttl(t, ttl, &rv);
    if (rv != APR_SUCCESS)
        return rv;
    srv = prepare(t, &req, SC_L2_GET, key, key_len);
    /* neither client has touch: read and write back (not atomic) */
    rv = l2_get(t, srv, &req, &v, &len, &expires, scratch(&p));
    if (rv == APR_SUCCESS)
        rv = l2_set(t, srv, &req, SC_L2_SET, v, len, eff, p);
    apr_pool_destroy(p);
    rv1 = shmcache_touch(t->l1, key, key_len, l1_ttl_for(t, eff));
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
        return rv1;                     /* L2 unavailable: L1 alone */
    if (rv == APR_NOTFOUND) {
        shmcache_delete(t->l1, key, key_len);
        return SHMCACHE_NOTFOUND;
    }
    return rv1 == SHMCACHE_NOTFOUND ? APR_SUCCESS : rv1;
}

/* L2 increment: APR_SUCCESS with *result, APR_NOTFOUND, SHMCACHE_ENOTNUM,
 * or another status when L2 is unavailable. */
static apr_status_t l2_incr(shmcache_tier_t *t, sc_tier_server_t *srv,
                            const sc_l2_req_t *keyreq, apr_int64_t delta,
                            const apr_uint64_t *initial, apr_uint32_t ttl,
                            apr_uint64_t *result, apr_pool_t *p)
{
    sc_l2_req_t req = *keyreq;
    sc_l2_res_t res;
    const char *v, *num;
    apr_size_t len;
    apr_int64_t expires;
    apr_status_t rv;
    int tries;

    req.op = delta < 0 ? SC_L2_DECR : SC_L2_INCR;
    req.delta = (apr_uint32_t)(delta < 0 ? -delta : delta);
    for (tries = 0; tries < 2; tries++) {
        if (t->kind == SC_L2_REDIS) {
            /* Redis would create a missing counter at 0: look first */
            rv = l2_get(t, srv, keyreq, &v, &len, &expires, p);
            if (rv == APR_SUCCESS && !sc_tier_is_number(v, len))
                return SHMCACHE_ENOTNUM;
            if (rv == APR_SUCCESS)
                rv = l2_call(t, srv, &req, &res, p);
        } else {
            rv = l2_call(t, srv, &req, &res, p);
            /* apr_memcache 1.6 reads memcached's CLIENT_ERROR (not a
             * number) as the result 0: an increment cannot give 0 */
            if (rv == APR_SUCCESS && delta > 0 && res.number == 0)
                return SHMCACHE_ENOTNUM;
        }
        if (rv == SC_L2_REFUSED)
            return SHMCACHE_ENOTNUM;
        if (rv == APR_SUCCESS) {
            *result = res.number;
            return rv;
        }
        if (rv != APR_NOTFOUND || !initial)
            return rv;
        num = apr_psprintf(p, "%" APR_UINT64_T_FMT, *initial);
        rv = l2_set(t, srv, keyreq, t->kind == SC_L2_REDIS ? SC_L2_SET : SC_L2_ADD,
                    num, strlen(num), ttl, p);
        if (rv == APR_SUCCESS) {
            *result = *initial;
            return rv;
        }
        if (rv != APR_EEXIST)           /* another machine made it first */
            return rv;
    }
    return SC_L2_DOWN;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_incr(shmcache_tier_t *t,
                                                  const void *key, apr_size_t key_len,
                                                  apr_int64_t delta,
                                                  const apr_uint64_t *initial,
                                                  apr_uint32_t ttl,
                                                  apr_uint64_t *result)
{
    sc_l2_req_t req;
    sc_tier_server_t *srv;
    apr_uint64_t n = 0;
    apr_uint32_t eff;
    apr_pool_t *p;
    char num[24];
    apr_status_t rv;

    if ((rv = check_key(t, key, key_len)) != APR_SUCCESS)
        return rv;
    if (delta > 2147483647 || delta < -2147483647)
        return SHMCACHE_EINVAL;
    eff = effective_ttl(t, ttl, &rv);
    if (rv != APR_SUCCESS)
        return rv;
    srv = prepare(t, &req, SC_L2_INCR, key, key_len);
    rv = l2_incr(t, srv, &req, delta, initial, eff, &n, scratch(&p));
    apr_pool_destroy(p);
    if (rv == APR_NOTFOUND) {
        shmcache_delete(t->l1, key, key_len);
        return SHMCACHE_NOTFOUND;
    }
    if (rv == SHMCACHE_ENOTNUM)
        return rv;
    if (rv != APR_SUCCESS)              /* L2 unavailable: count in L1 */
        return shmcache_incr(t->l1, key, key_len, delta, initial,
                             l1_ttl_for(t, eff), result);
    announce(t, key, key_len);
    apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT, n);
    shmcache_set(t->l1, key, key_len, num, strlen(num), t->opts.l1_ttl, NULL);
    if (result)
        *result = n;
    return APR_SUCCESS;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_cas(shmcache_tier_t *t,
                                                 const void *key, apr_size_t key_len,
                                                 const void *value, apr_size_t value_len,
                                                 apr_uint32_t ttl,
                                                 apr_uint64_t expected,
                                                 apr_uint64_t *version)
{
    return APR_ENOTIMPL;
}

/* ---- figures ------------------------------------------------------------ */

#define LOAD(t, f) atomic_load_explicit(&(t)->f, memory_order_relaxed)

SHMCACHE_DECLARE(void) shmcache_tier_stats(shmcache_tier_t *t,
                                           shmcache_tier_stats_t *st)
{
    apr_uint32_t i;

    memset(st, 0, sizeof(*st));
    st->gets = LOAD(t, gets);
    st->l1_hits = LOAD(t, l1_hits);
    st->neg_hits = LOAD(t, neg_hits);
    st->l2_hits = LOAD(t, l2_hits);
    st->l2_misses = LOAD(t, l2_misses);
    st->l2_writes = LOAD(t, l2_writes);
    for (i = 0; i < t->nservers; i++)
        sc_tier_server_add_totals(t->servers[i], st);
    if (t->inval)
        sc_tier_inval_add_totals(t->inval, st);
}

SHMCACHE_DECLARE(apr_uint32_t) shmcache_tier_servers(shmcache_tier_t *t)
{
    return t->nservers;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_server_stats(shmcache_tier_t *t,
                                                          apr_uint32_t i,
                                                          shmcache_tier_server_stats_t *st)
{
    if (!t || i >= t->nservers || !st)
        return SHMCACHE_EINVAL;
    sc_tier_server_stats(t->servers[i], st);
    return APR_SUCCESS;
}

SHMCACHE_DECLARE(apr_status_t) shmcache_tier_ping(shmcache_tier_t *t, apr_uint32_t i,
                                                  apr_interval_time_t *rtt)
{
    sc_l2_req_t req;
    apr_time_t start = apr_time_now();
    apr_pool_t *p;
    apr_status_t rv;

    if (!t || i >= t->nservers)
        return SHMCACHE_EINVAL;
    memset(&req, 0, sizeof(req));
    req.op = SC_L2_GET;
    sc_tier_key_map(t->opts.prefix, "~ping", 5, req.key);
    rv = sc_tier_server_call(t->servers[i], &req, NULL, scratch(&p));
    apr_pool_destroy(p);
    if (rtt)
        *rtt = apr_time_now() - start;
    return rv == APR_SUCCESS || rv == APR_NOTFOUND ? APR_SUCCESS : APR_EGENERAL;
}
