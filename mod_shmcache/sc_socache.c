/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_socache.c - the socache provider "shmcache": lets stock modules
 * (mod_ssl's SSLSessionCache and SSLStaplingCache, mod_cache_socache's
 * CacheSocache, mod_authn_socache's AuthnCacheSOCache, ...) keep their
 * objects in a shmcache segment.
 *
 * Arguments (what follows "shmcache:"):
 *   (none)          a segment in DefaultRuntimeDir named after the consumer
 *                   (shmcache-<cname>.cache), 1 MiB
 *   PATH            a segment at PATH (relative to ServerRoot), 1 MiB
 *   PATH(SIZE)      the same with a size: bytes, or with K, M, G as shmcb's
 *                   form accepts plain bytes
 *   NAME            a cache declared with ShmcacheCache NAME ...
 * A PATH that a ShmcacheCache declares uses that cache.
 *
 * Differences from shmcb, on purpose:
 * - flags 0: the library locks by itself (readers in parallel, one writer),
 *   so consumers create no global mutex and never serialise reads;
 * - one table hashed over the whole key (XXH3 with a per-segment seed), not
 *   256 subcaches chosen by the key's first byte;
 * - an object may take half of the data region (about 500 KB in the 1 MiB
 *   default), not size / subcaches (about 63 KB in shmcb's 512 KB default,
 *   below mod_cache_socache's own 100 KB default);
 * - the segment lives at the path, survives restarts when compatible, and
 *   shmcache-cli can read it from outside.
 *
 * Not registered as the "default" socache provider: registration is
 * last-writer-wins and consumers asking for "default" expect shmcb.
 */
#include "sc_private.h"
#include "sc_configcheck.h"

#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "ap_socache.h"
#include "ap_provider.h"
#include "apr_strings.h"

APLOG_USE_MODULE(shmcache);

struct ap_socache_instance_t {
    sc_cache_t *cache;
};

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Parse "PATH" or "PATH(SIZE)" (sc_parse.c) into c, the path made
 * absolute and its directory checked. */
static const char *parse_path_size(sc_cache_t *c, const char *arg,
                                   apr_pool_t *tmp, apr_pool_t *p)
{
    const char *path, *err;

    err = sc_parse_path_size(arg, &path, &c->opts.size, &c->size_given, tmp);
    if (err != NULL)
        return apr_pstrdup(p, err);
    c->path = ap_server_root_relative(p, path);
    if (c->path == NULL)
        return apr_psprintf(p, "shmcache: '%s': invalid path", arg);
    if ((err = sc_check_dir(c->path, tmp)) != NULL)
        return apr_psprintf(p, "shmcache: %s", err);
    return NULL;
}

/* An instance on the same path as an earlier one shares its segment. */
static sc_cache_t *same_path_instance(sc_registry_t *reg, sc_cache_t *c)
{
    int i;

    for (i = 0; i < reg->instances->nelts; i++) {
        sc_cache_t *o = APR_ARRAY_IDX(reg->instances, i, sc_cache_t *);
        if (o != c && o->prepared && o->alias == NULL && o->path != NULL
            && strcmp(o->path, c->path) == 0)
            return o;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Provider functions
 * ---------------------------------------------------------------------- */

static const char *socache_sc_create(ap_socache_instance_t **instance,
                                     const char *arg, apr_pool_t *tmp,
                                     apr_pool_t *p)
{
    sc_registry_t *reg = sc_registry();
    ap_socache_instance_t *inst;
    sc_cache_t *c;
    const char *err;

    if (reg == NULL)
        return "shmcache: mod_shmcache is not initialised";
    inst = apr_pcalloc(p, sizeof *inst);
    c = apr_pcalloc(p, sizeof *c);
    sc_cache_defaults(c);
    c->is_socache = 1;
    c->name = "socache";
    c->opts.size = SC_SOCACHE_DEFAULT_SIZE;
    c->opts.max_key = SC_SOCACHE_MAX_KEY;
    c->opts.max_value = 0xFFFFFFFFu;    /* the library clamps to what fits */
    if (arg != NULL && *arg != '\0') {
        if (sc_parse_name(arg)) {
            c->ref_name = apr_pstrdup(p, arg);  /* resolved in init */
            sc_configcheck_note_socache(arg, p);  /* and by check_config */
        }
        else if ((err = parse_path_size(c, arg, tmp, p)) != NULL)
            return err;
    }
    inst->cache = c;
    APR_ARRAY_PUSH(reg->instances, sc_cache_t *) = c;
    *instance = inst;
    return NULL;
}

/* init: c asks for a declared cache by name: alias it. APR_EINVAL
 * (logged) when none has that name (check_config refuses that first). */
static apr_status_t alias_by_name(sc_cache_t *c, sc_registry_t *reg,
                                  const char *cname, server_rec *s)
{
    c->alias = apr_hash_get(reg->by_name, c->ref_name, APR_HASH_KEY_STRING);
    if (c->alias != NULL)
        return APR_SUCCESS;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00301)
                 "cache '%s' (-): %s asks for shmcache:%s, but no "
                 "ShmcacheCache declares a cache of that name",
                 c->name, cname, c->ref_name);
    return APR_EINVAL;
}

/* init: c is a path (or the consumer's default one in DefaultRuntimeDir):
 * alias a declared cache or an earlier instance on that path, if any.
 * APR_EINVAL (logged) when there is no usable default path. */
static apr_status_t alias_by_path(sc_cache_t *c, sc_registry_t *reg,
                                  const char *cname, server_rec *s,
                                  apr_pool_t *p)
{
    sc_cache_t *target;

    if (c->path == NULL)
        c->path = ap_runtime_dir_relative(p, apr_psprintf(p,
                                          "shmcache-%s.cache", cname));
    if (c->path == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00302)
                     "cache '%s' (-): no usable default path in "
                     "DefaultRuntimeDir; give shmcache:PATH(SIZE)", c->name);
        return APR_EINVAL;
    }
    target = apr_hash_get(reg->by_path, c->path, APR_HASH_KEY_STRING);
    if (target == NULL)
        target = same_path_instance(reg, c);
    if (target != NULL && c->size_given && target->opts.size != c->opts.size)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SCLOGNO(00303)
                     SC_FMT "the segment is shared with '%s', whose "
                     "size %" APR_UINT64_T_FMT " wins over %"
                     APR_UINT64_T_FMT, SC_ARGS(c), target->name,
                     target->opts.size, c->opts.size);
    c->alias = target;
    return APR_SUCCESS;
}

/* init: make the segment of c (or of what it aliases) usable. */
static apr_status_t prepare_instance(sc_cache_t *c, const char *cname,
                                     server_rec *s, apr_pool_t *p)
{
    apr_status_t rv;

    if (c->alias != NULL)
        c->path = c->alias->path;
    rv = sc_cache_prepare(c->alias != NULL ? c->alias : c, s, p);
    if (rv == APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00304)
                     SC_FMT "socache ready for %s%s%s", SC_ARGS(c), cname,
                     c->alias ? ", in " : "", c->alias ? c->alias->name : "");
    return rv;
}

static apr_status_t socache_sc_init(ap_socache_instance_t *inst,
                                    const char *cname,
                                    const struct ap_socache_hints *hints,
                                    server_rec *s, apr_pool_t *p)
{
    sc_registry_t *reg = sc_registry();
    sc_cache_t *c = inst->cache;
    apr_status_t rv;

    /* httpd's first startup pass throws its configuration away, these
     * instances with it: prepare (create) nothing in it, as post_config
     * does not for the declared caches */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return APR_SUCCESS;
    if (c->prepared)                    /* second vhost of one consumer */
        return c->prepare_status;
    if (reg == NULL)
        return APR_EGENERAL;
    c->name = apr_psprintf(p, "socache:%s", cname);
    rv = c->ref_name != NULL ? alias_by_name(c, reg, cname, s)
                             : alias_by_path(c, reg, cname, s, p);
    if (rv == APR_SUCCESS)
        rv = prepare_instance(c, cname, s, p);
    c->prepared = 1;
    c->prepare_status = rv;
    return rv;
}

static void socache_sc_destroy(ap_socache_instance_t *inst, server_rec *s)
{
    /* The segment stays (a restart reuses it); handles belong to pools
     * (pconf, pchild), whose cleanups detach. */
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, s, SCLOGNO(00305)
                 SC_FMT "socache instance released", SC_ARGS(inst->cache));
}

static apr_status_t socache_sc_store(ap_socache_instance_t *inst, server_rec *s,
                                     const unsigned char *id, unsigned int idlen,
                                     apr_time_t expiry, unsigned char *data,
                                     unsigned int datalen, apr_pool_t *pool)
{
    sc_cache_t *c = inst->cache;
    shmcache_t *h = sc_cache_handle(c, s);
    apr_time_t now = apr_time_now();
    apr_uint64_t ttl;
    apr_status_t rv;
    char buf[256];

    if (h == NULL)
        return APR_EGENERAL;
    if (expiry <= now)
        return APR_SUCCESS;             /* expired already: nothing to keep */
    ttl = (apr_uint64_t)((expiry - now + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
    if (ttl > SHMCACHE_TTL_MAX)
        ttl = SHMCACHE_TTL_MAX;
    rv = sc_kv_store(c, h, SC_KV_SET, id, idlen, data, datalen, (apr_uint32_t)ttl,
                     NULL);
    if (rv == APR_SUCCESS)
        return APR_SUCCESS;
    if (rv == SHMCACHE_EVALLEN || rv == SHMCACHE_ENOMEM || rv == SHMCACHE_EKEYLEN) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00306)
                     SC_FMT "not stored: id of %u bytes, object of %u bytes: %s",
                     SC_ARGS(c), idlen, datalen,
                     shmcache_strerror(rv, buf, sizeof buf));
        return APR_ENOSPC;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00307)
                 SC_FMT "store failed: %s", SC_ARGS(c),
                 shmcache_strerror(rv, buf, sizeof buf));
    return rv;
}

static apr_status_t socache_sc_retrieve(ap_socache_instance_t *inst,
                                        server_rec *s,
                                        const unsigned char *id,
                                        unsigned int idlen,
                                        unsigned char *data,
                                        unsigned int *datalen,
                                        apr_pool_t *pool)
{
    sc_cache_t *c = inst->cache;
    shmcache_t *h = sc_cache_handle(c, s);
    apr_size_t len = 0;
    apr_status_t rv;
    char buf[256];

    if (h == NULL)
        return APR_EGENERAL;
    rv = sc_kv_get_buf(c, h, id, idlen, data, *datalen, &len, pool);
    if (rv == APR_SUCCESS) {
        *datalen = (unsigned int)len;
        return APR_SUCCESS;
    }
    if (rv == SHMCACHE_NOTFOUND || rv == SHMCACHE_EKEYLEN)
        return APR_NOTFOUND;
    if (rv == SHMCACHE_EBUFSIZE) {
        /* as shmcb: an object larger than the consumer's buffer is a miss */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00308)
                     SC_FMT "object of %" APR_SIZE_T_FMT " bytes does not fit "
                     "the consumer's %u bytes: treated as a miss", SC_ARGS(c),
                     len, *datalen);
        return APR_NOTFOUND;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00309)
                 SC_FMT "retrieve failed: %s", SC_ARGS(c),
                 shmcache_strerror(rv, buf, sizeof buf));
    return rv;
}

static apr_status_t socache_sc_remove(ap_socache_instance_t *inst,
                                      server_rec *s, const unsigned char *id,
                                      unsigned int idlen, apr_pool_t *pool)
{
    sc_cache_t *c = inst->cache;
    shmcache_t *h = sc_cache_handle(c, s);
    apr_status_t rv;
    char buf[256];

    if (h == NULL)
        return APR_EGENERAL;
    rv = sc_kv_delete(c, h, id, idlen);
    if (rv == APR_SUCCESS)
        return APR_SUCCESS;
    if (rv == SHMCACHE_NOTFOUND || rv == SHMCACHE_EKEYLEN)
        return APR_NOTFOUND;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, SCLOGNO(00310)
                 SC_FMT "remove failed: %s", SC_ARGS(c),
                 shmcache_strerror(rv, buf, sizeof buf));
    return rv;
}

static void socache_sc_status(ap_socache_instance_t *inst, request_rec *r,
                              int flags)
{
    sc_status_render(r, inst->cache, flags);
}

typedef struct iter_baton_t {
    ap_socache_instance_t *inst;
    server_rec *s;
    void *userctx;
    ap_socache_iterator_t *iterator;
    apr_pool_t *pool;
    apr_pool_t *scratch;
} iter_baton_t;

/* Hand one entry to the consumer's iterator, NUL-terminated as shmcb
 * does. A non-zero return stops the walk and is returned by iterate. */
static int iter_one(void *baton, const void *key, apr_size_t key_len,
                    const void *value, apr_size_t value_len,
                    const shmcache_meta_t *meta)
{
    iter_baton_t *b = baton;
    unsigned char *id, *data;
    apr_status_t rv;

    apr_pool_clear(b->scratch);
    id = apr_palloc(b->scratch, key_len + 1);
    data = apr_palloc(b->scratch, value_len + 1);
    memcpy(id, key, key_len);
    id[key_len] = '\0';
    if (value != NULL)
        memcpy(data, value, value_len);
    data[value_len] = '\0';
    rv = b->iterator(b->inst, b->s, b->userctx, id, (unsigned int)key_len,
                     data, (unsigned int)value_len, b->scratch);
    return (int)rv;
}

static apr_status_t socache_sc_iterate(ap_socache_instance_t *inst,
                                       server_rec *s, void *userctx,
                                       ap_socache_iterator_t *iterator,
                                       apr_pool_t *pool)
{
    sc_cache_t *c = inst->cache;
    shmcache_t *h = sc_cache_handle(c, s);
    iter_baton_t b;
    apr_status_t rv;

    if (h == NULL)
        return APR_EGENERAL;
    b.inst = inst;
    b.s = s;
    b.userctx = userctx;
    b.iterator = iterator;
    b.pool = pool;
    apr_pool_create(&b.scratch, pool);
    rv = shmcache_iterate(h, iter_one, &b, 0);
    apr_pool_destroy(b.scratch);
    return rv;
}

static const ap_socache_provider_t socache_shmcache = {
    "shmcache",
    0,                      /* own locking: no consumer mutex needed */
    socache_sc_create,
    socache_sc_init,
    socache_sc_destroy,
    socache_sc_store,
    socache_sc_retrieve,
    socache_sc_remove,
    socache_sc_status,
    socache_sc_iterate
};

void sc_socache_register(apr_pool_t *p)
{
    ap_register_provider(p, AP_SOCACHE_PROVIDER_GROUP, "shmcache",
                         AP_SOCACHE_PROVIDER_VERSION, &socache_shmcache);
}
