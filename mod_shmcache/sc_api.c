/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_api.c - the opt-in HTTP key API: SetHandler shmcache-api.
 *
 * Never active unless an admin writes SetHandler shmcache-api somewhere;
 * guarded only by normal Apache access control (Require ...), which the
 * admin must add. The key is the part of the URL path after the enclosing
 * <Location PREFIX>, taken from the raw request line and percent-decoded
 * by httpd (ap_unescape_url_keep2f), so %25, %3F and non-ASCII bytes all
 * work; %2F needs AllowEncodedSlashes On and %00 is refused, as httpd
 * itself refuses both in a path before any handler runs.
 *
 *   GET|HEAD PREFIX/KEY                 200 + value, 404 on a miss; ETag is
 *                                       the entry's version, X-Shmcache-TTL
 *                                       the seconds left ("forever")
 *   PUT PREFIX/KEY  (body = value)      204; TTL from ?ttl=SECONDS or the
 *                                       X-Shmcache-TTL header (0 or absent:
 *                                       the cache's default; "forever");
 *                                       If-None-Match: * stores only a new
 *                                       key, If-Match: "VERSION" only that
 *                                       version (412 otherwise); a body over
 *                                       ShmcacheAPIMaxBody (default 1M) or
 *                                       the cache's max-value is 413
 *   DELETE PREFIX/KEY                   204, 404 on a miss
 *   POST PREFIX/KEY?incr[=N]|?decr=N    200 + the new number; &initial=M
 *       [&initial=M][&ttl=S]            stores M when the key is missing
 *                                       (else 404); 409 when the value is
 *                                       not a number
 *
 * Leases (one client computes a missing value, the others wait for it):
 *   GET PREFIX/KEY?lease=1              200 + value when there is one;
 *       [&wait=MS][&lease_ttl=S]        else one caller gets 404 with
 *                                       X-Shmcache-Lease: TOKEN (compute,
 *                                       then PUT), the others wait up to
 *                                       MS (default 5000, at most 60000)
 *                                       for the value: 200, or 504 when it
 *                                       did not come, 502 when the holder
 *                                       gave up; a stale value is 200 with
 *                                       X-Shmcache-Stale: 1 (with the
 *                                       lease header for the one refresher)
 *   PUT PREFIX/KEY?lease=TOKEN          204: stores the body and ends the
 *       [&ttl=S][&stale=S]              lease, waking the waiters
 *   DELETE PREFIX/KEY?lease=TOKEN       204: gives the lease up as failed
 *                                       (the waiters get 502); 404 when it
 *                                       had lapsed
 * Every answer carries X-Shmcache-Pid (the serving process) and
 * Cache-Control: no-store. ShmcacheAPIReadOnly On leaves GET and HEAD
 * (without ?lease, which writes).
 */
#include "sc_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"
#include "apr_strings.h"
#include "apr_lib.h"

APLOG_USE_MODULE(shmcache);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* The value of query argument name, decoded by httpd (ap_args_to_table:
 * "1" when present without a value), NULL when absent. */
static const char *query_arg(request_rec *r, const char *name)
{
    apr_table_t *args;

    ap_args_to_table(r, &args);
    return apr_table_get(args, name);
}

/* The container's path: the handler's key is the URL path after it. */
static const char *container_prefix(request_rec *r, const sc_dir_conf_t *dc)
{
    core_dir_config *cd;

    if (dc->dir != NULL)
        return dc->dir;
    /* none of our directives in the <Location>: the path of the last
     * section core merged (the one with SetHandler, normally) */
    cd = ap_get_core_module_config(r->per_dir_config);
    return cd->d != NULL && cd->r == NULL && !cd->d_is_fnmatch ? cd->d : "";
}

/* The key named by the URL: the raw path after the prefix (sc_parse.c),
 * percent-decoded by httpd, %2F included. Returns an HTTP status on
 * failure. */
static int request_key(request_rec *r, const sc_dir_conf_t *dc, sc_cache_t *c,
                       char **key, apr_size_t *klen)
{
    const char *prefix = container_prefix(r, dc), *enc = NULL;
    apr_size_t len = 0;

    switch (sc_parse_key_path(r->unparsed_uri, prefix, &enc, &len)) {
    case SC_KEY_OK:
        break;
    case SC_KEY_OUTSIDE:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, SCLOGNO(00401)
                      SC_FMT "shmcache-api: the URL path does not start with "
                      "the container's path '%s': use the handler in a "
                      "<Location PREFIX>", SC_ARGS(c), prefix);
        return HTTP_BAD_REQUEST;
    default:
        return HTTP_BAD_REQUEST;
    }
    *key = apr_pstrmemdup(r->pool, enc, len);
    /* a bad escape, or %00 (which httpd refuses before any handler) */
    if (ap_unescape_url_keep2f(*key, 1) != OK || **key == '\0')
        return HTTP_BAD_REQUEST;
    *klen = strlen(*key);
    return OK;
}

/* TTL from ?ttl= or X-Shmcache-TTL; returns 0 when malformed. */
static int request_ttl(request_rec *r, apr_uint32_t *ttl)
{
    const char *v = query_arg(r, "ttl");

    if (v == NULL)
        v = apr_table_get(r->headers_in, "X-Shmcache-TTL");
    *ttl = SHMCACHE_TTL_DEFAULT;
    return v == NULL || sc_parse_api_ttl(v, ttl);
}

/* Map a library status to an HTTP status; logs server-side failures. */
static int http_status(request_rec *r, sc_cache_t *c, apr_status_t rv)
{
    char buf[256];

    switch (rv) {
    case APR_SUCCESS:           return OK;
    case SHMCACHE_NOTFOUND:     return HTTP_NOT_FOUND;
    case SHMCACHE_EXISTS:
    case SHMCACHE_EMISMATCH:    return HTTP_PRECONDITION_FAILED;
    case SHMCACHE_EKEYLEN:      return HTTP_REQUEST_URI_TOO_LARGE;
    case SHMCACHE_EVALLEN:
    case SHMCACHE_ENOMEM:       return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case SHMCACHE_ENOTNUM:      return HTTP_CONFLICT;
    case SHMCACHE_ETTL:
    case SHMCACHE_EINVAL:       return HTTP_BAD_REQUEST;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCLOGNO(00402)
                      SC_FMT "shmcache-api %s failed: %s", SC_ARGS(c),
                      r->method, shmcache_strerror(rv, buf, sizeof buf));
        return rv == SHMCACHE_ETIMEDOUT ? HTTP_SERVICE_UNAVAILABLE
                                        : HTTP_INTERNAL_SERVER_ERROR;
    }
}

static void set_etag(request_rec *r, apr_uint64_t version)
{
    apr_table_setn(r->headers_out, "ETag",
                   apr_psprintf(r->pool, "\"%" APR_UINT64_T_FMT "\"", version));
}

/* Read the request body, at most max bytes. Returns an HTTP status. */
static int read_body(request_rec *r, apr_off_t max, char **body, apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t cap = 8192, n = 0;
    char *buf;
    long got;
    int rc;

    if (cl != NULL && apr_atoi64(cl) > max)
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK)
        return rc;
    if (cl != NULL && apr_atoi64(cl) >= 0 && apr_atoi64(cl) < (apr_int64_t)cap)
        cap = (apr_size_t)apr_atoi64(cl) + 1;
    buf = apr_palloc(r->pool, cap);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (n == cap) {
                char *bigger;
                cap *= 2;
                if ((apr_off_t)cap > max + 1)
                    cap = (apr_size_t)max + 1;
                bigger = apr_palloc(r->pool, cap);
                memcpy(bigger, buf, n);
                buf = bigger;
            }
            got = ap_get_client_block(r, buf + n, cap - n);
            if (got < 0)
                return HTTP_BAD_REQUEST;
            if (got == 0)
                break;
            n += (apr_size_t)got;
            if ((apr_off_t)n > max)
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }
    *body = buf;
    *len = n;
    return OK;
}

/* ------------------------------------------------------------------------
 * Methods
 * ---------------------------------------------------------------------- */

static int do_get(request_rec *r, sc_cache_t *c, shmcache_t *h,
                  const char *key, apr_size_t klen)
{
    shmcache_meta_t meta;
    apr_size_t vlen = 0;
    void *v = NULL;
    apr_status_t rv = sc_kv_get(c, h, key, klen, &v, &vlen, &meta, r->pool);

    if (rv != APR_SUCCESS)
        return http_status(r, c, rv);
    set_etag(r, meta.version);
    apr_table_setn(r->headers_out, "X-Shmcache-TTL",
                   meta.ttl == SHMCACHE_TTL_FOREVER ? "forever"
                   : apr_psprintf(r->pool, "%u", meta.ttl));
    ap_set_content_type(r, "application/octet-stream");
    ap_set_content_length(r, (apr_off_t)vlen);
    if (!r->header_only && vlen > 0)
        ap_rwrite(v, (int)vlen, r);
    return OK;
}

/* Store body as the PUT's conditions say: If-None-Match: * adds,
 * If-Match: "VERSION" compares and sets, If-Match: * replaces, none sets.
 * @return an HTTP status; *version gets the stored entry's. */
static int store_put(request_rec *r, sc_cache_t *c, shmcache_t *h,
                     const char *key, apr_size_t klen, const char *body,
                     apr_size_t len, apr_uint32_t ttl, apr_uint64_t *version)
{
    const char *inm = apr_table_get(r->headers_in, "If-None-Match");
    const char *im = apr_table_get(r->headers_in, "If-Match");
    apr_uint64_t expected = 0;
    apr_status_t rv;

    if (inm != NULL && strcmp(inm, "*") == 0)
        rv = sc_kv_store(c, h, SC_KV_ADD, key, klen, body, len, ttl, version);
    else if (im != NULL && strcmp(im, "*") != 0) {
        if (!sc_parse_etag_version(im, &expected))
            return HTTP_PRECONDITION_FAILED;
        rv = sc_kv_cas(c, h, key, klen, body, len, ttl, expected, version);
        if (rv == APR_ENOTIMPL)     /* a cache with L2: no cross-machine cas */
            return HTTP_NOT_IMPLEMENTED;
    }
    else if (im != NULL)        /* If-Match: * : only an existing key */
        rv = sc_kv_store(c, h, SC_KV_REPLACE, key, klen, body, len, ttl, version);
    else
        rv = sc_kv_store(c, h, SC_KV_SET, key, klen, body, len, ttl, version);
    if (im != NULL && rv == SHMCACHE_NOTFOUND)
        rv = SHMCACHE_EMISMATCH;
    return http_status(r, c, rv);
}

static int do_put(request_rec *r, sc_cache_t *c, shmcache_t *h,
                  const sc_dir_conf_t *dc, const char *key, apr_size_t klen)
{
    apr_off_t max = dc->max_body >= 0 ? dc->max_body : SC_API_DEFAULT_MAX_BODY;
    apr_uint64_t version = 0;
    apr_uint32_t ttl;
    apr_size_t len = 0;
    char *body = NULL;
    int rc;

    if (!request_ttl(r, &ttl))
        return HTTP_BAD_REQUEST;
    if ((rc = read_body(r, max, &body, &len)) != OK
        || (rc = store_put(r, c, h, key, klen, body, len, ttl, &version)) != OK)
        return rc;
    set_etag(r, version);
    r->status = HTTP_NO_CONTENT;    /* a normal answer: keeps its headers */
    return OK;
}

static int do_delete(request_rec *r, sc_cache_t *c, shmcache_t *h,
                     const char *key, apr_size_t klen)
{
    apr_status_t rv = sc_kv_delete(c, h, key, klen);

    if (rv != APR_SUCCESS)
        return http_status(r, c, rv);
    r->status = HTTP_NO_CONTENT;
    return OK;
}

static int do_incr(request_rec *r, sc_cache_t *c, shmcache_t *h,
                   const char *key, apr_size_t klen)
{
    const char *inc = query_arg(r, "incr"), *dec = query_arg(r, "decr");
    const char *init = query_arg(r, "initial");
    apr_uint64_t delta = 1, initial = 0, result = 0;
    apr_uint32_t ttl;
    apr_status_t rv;
    int rc;

    if ((inc == NULL) == (dec == NULL))
        return HTTP_BAD_REQUEST;        /* POST needs ?incr[=N] or ?decr=N */
    if (inc != NULL && *inc != '\0' && !sc_parse_u64(inc, &delta))
        return HTTP_BAD_REQUEST;
    if (dec != NULL && *dec != '\0' && !sc_parse_u64(dec, &delta))
        return HTTP_BAD_REQUEST;
    if (delta > (apr_uint64_t)APR_INT64_MAX)
        return HTTP_BAD_REQUEST;
    if (init != NULL && !sc_parse_u64(init, &initial))
        return HTTP_BAD_REQUEST;
    if (!request_ttl(r, &ttl))
        return HTTP_BAD_REQUEST;
    if ((rc = ap_discard_request_body(r)) != OK)
        return rc;
    rv = sc_kv_incr(c, h, key, klen,
                       dec != NULL ? -(apr_int64_t)delta : (apr_int64_t)delta,
                       init != NULL ? &initial : NULL, ttl, &result);
    if (rv != APR_SUCCESS)
        return http_status(r, c, rv);
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "%" APR_UINT64_T_FMT "\n", result);
    return OK;
}

/* ------------------------------------------------------------------------
 * Leases
 * ---------------------------------------------------------------------- */

#define SC_API_LEASE_WAIT_MS 5000       /* ?wait= default */
#define SC_API_LEASE_WAIT_MAX 60000     /* ?wait= ceiling: a waiter holds a
                                           worker that long */

/* Query argument name as a number of 0..max, def when absent.
 * @return 1, or 0 when malformed or above max. */
static int query_u64(request_rec *r, const char *name, apr_uint64_t def,
                     apr_uint64_t max, apr_uint64_t *out)
{
    const char *v = query_arg(r, name);

    *out = def;
    if (v == NULL)
        return 1;
    return sc_parse_u64(v, out) && *out <= max;
}

/* The lease options of a GET: ?wait=MS and ?lease_ttl=S. @return 1, or 0
 * when one is malformed. */
static int lease_opts(request_rec *r, shmcache_lease_opts_t *o)
{
    apr_uint64_t wait, ttl;

    shmcache_lease_opts_init(o);
    if (!query_u64(r, "wait", SC_API_LEASE_WAIT_MS, SC_API_LEASE_WAIT_MAX,
                   &wait)
        || !query_u64(r, "lease_ttl", o->lease_ttl, SHMCACHE_TTL_MAX, &ttl)
        || ttl == 0)
        return 0;
    o->wait_ms = (apr_uint32_t)wait;
    o->lease_ttl = (apr_uint32_t)ttl;
    return 1;
}

/* Answer 200 with a value got through a lease call, marked stale when it
 * is. */
static int lease_value(request_rec *r, const void *v, apr_size_t vlen,
                       const shmcache_meta_t *meta)
{
    set_etag(r, meta->version);
    apr_table_setn(r->headers_out, "X-Shmcache-TTL",
                   meta->ttl == SHMCACHE_TTL_FOREVER ? "forever"
                   : apr_psprintf(r->pool, "%u", meta->ttl));
    if (meta->stale)
        apr_table_setn(r->headers_out, "X-Shmcache-Stale", "1");
    ap_set_content_type(r, "application/octet-stream");
    ap_set_content_length(r, (apr_off_t)vlen);
    if (!r->header_only && vlen > 0)
        ap_rwrite(v, (int)vlen, r);
    return OK;
}

/* GET ?lease=1: the value, or the lease to compute it (404 with
 * X-Shmcache-Lease, or 200 with the stale value and the header), or a
 * wait that ended without a value (504; 502 when the holder failed). */
static int do_lease_get(request_rec *r, sc_cache_t *c, shmcache_t *h,
                        const char *key, apr_size_t klen)
{
    shmcache_lease_opts_t o;
    shmcache_meta_t meta;
    apr_uint64_t token = 0;
    apr_size_t vlen = 0;
    void *v = NULL;
    apr_status_t rv;

    if (strcmp(query_arg(r, "lease"), "1") != 0 || !lease_opts(r, &o))
        return HTTP_BAD_REQUEST;
    memset(&meta, 0, sizeof meta);
    rv = shmcache_lease_get(h, key, klen, &o, &v, &vlen, &meta, &token,
                            r->pool);
    if (rv == SHMCACHE_LEASED) {
        apr_table_setn(r->err_headers_out, "X-Shmcache-Lease",
                       apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, token));
        if (v == NULL)
            return HTTP_NOT_FOUND;
        rv = SHMCACHE_STALE;        /* the refresher gets the stale value */
    }
    switch (rv) {
    case APR_SUCCESS:
    case SHMCACHE_STALE:
        return lease_value(r, v, vlen, &meta);
    case SHMCACHE_ELEASED:
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return HTTP_GATEWAY_TIME_OUT;
    case SHMCACHE_ECOMPUTE:
        return HTTP_BAD_GATEWAY;
    default:
        return http_status(r, c, rv);
    }
}

/* The token of ?lease=TOKEN. @return 1, or 0 when it is not one. */
static int lease_token(request_rec *r, apr_uint64_t *token)
{
    return sc_parse_u64(query_arg(r, "lease"), token) && *token != 0;
}

/* PUT ?lease=TOKEN[&ttl=S][&stale=S]: store the body and end the lease. A
 * store that fails gives the lease up as failed, so the waiters learn it
 * at once instead of at the lease's TTL. */
static int do_lease_put(request_rec *r, sc_cache_t *c, shmcache_t *h,
                        const sc_dir_conf_t *dc, const char *key,
                        apr_size_t klen)
{
    apr_off_t max = dc->max_body >= 0 ? dc->max_body : SC_API_DEFAULT_MAX_BODY;
    apr_uint64_t token, stale;
    apr_uint32_t ttl;
    apr_size_t len = 0;
    apr_status_t rv;
    char *body = NULL;
    int rc;

    if (!lease_token(r, &token) || !request_ttl(r, &ttl)
        || !query_u64(r, "stale", 0, SHMCACHE_TTL_MAX, &stale)
        || apr_table_get(r->headers_in, "If-Match") != NULL
        || apr_table_get(r->headers_in, "If-None-Match") != NULL)
        return HTTP_BAD_REQUEST;
    if ((rc = read_body(r, max, &body, &len)) != OK) {
        shmcache_lease_release(h, key, klen, token, 1);
        return rc;
    }
    rv = shmcache_lease_set(h, key, klen, token, body, len, ttl,
                            (apr_uint32_t)stale);
    if (rv != APR_SUCCESS) {
        shmcache_lease_release(h, key, klen, token, 1);
        return http_status(r, c, rv);
    }
    r->status = HTTP_NO_CONTENT;
    return OK;
}

/* DELETE ?lease=TOKEN: give the lease up as failed (204; 404 when it had
 * lapsed or was taken over). */
static int do_lease_release(request_rec *r, sc_cache_t *c, shmcache_t *h,
                            const char *key, apr_size_t klen)
{
    apr_uint64_t token;
    apr_status_t rv;

    if (!lease_token(r, &token))
        return HTTP_BAD_REQUEST;
    rv = shmcache_lease_release(h, key, klen, token, 1);
    if (rv != APR_SUCCESS)
        return http_status(r, c, rv);
    r->status = HTTP_NO_CONTENT;
    return OK;
}

/* A request with ?lease: GET takes or waits, PUT completes, DELETE gives
 * up. A GET with ?lease writes (the lease), so read-only refuses it. */
static int do_lease(request_rec *r, sc_cache_t *c, shmcache_t *h,
                    const sc_dir_conf_t *dc, const char *key, apr_size_t klen)
{
    switch (r->method_number) {
    case M_GET:
        return dc->read_only == 1 ? HTTP_FORBIDDEN
                                  : do_lease_get(r, c, h, key, klen);
    case M_PUT:    return do_lease_put(r, c, h, dc, key, klen);
    case M_DELETE: return do_lease_release(r, c, h, key, klen);
    default:       return HTTP_BAD_REQUEST;
    }
}

/* ------------------------------------------------------------------------
 * Handler
 * ---------------------------------------------------------------------- */

static sc_cache_t *api_cache(request_rec *r, const sc_dir_conf_t *dc)
{
    sc_registry_t *reg = sc_registry();
    sc_cache_t *c = NULL;

    if (reg == NULL)
        return NULL;
    if (dc->cache_name != NULL)
        c = apr_hash_get(reg->by_name, dc->cache_name, APR_HASH_KEY_STRING);
    else if (reg->caches->nelts == 1)
        c = APR_ARRAY_IDX(reg->caches, 0, sc_cache_t *);
    if (c == NULL)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SCLOGNO(00403)
                      "cache '%s' (-): shmcache-api has no cache to serve: %s",
                      dc->cache_name ? dc->cache_name : "-",
                      dc->cache_name ? "no ShmcacheCache has that name"
                      : "set ShmcacheAPICache (several or no caches declared)");
    return c;
}

/* Set the methods this location allows (the Allow header of a 405 and of
 * OPTIONS): GET (with HEAD), and PUT, DELETE and POST unless read-only.
 * @return 1 when r's method is one of them. */
static int allow_methods(request_rec *r, int read_only)
{
    if (read_only)
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    else
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, M_PUT, M_DELETE,
                                  M_POST, -1);
    r->allowed = r->allowed_methods->method_mask;
    return (r->allowed & (AP_METHOD_BIT << r->method_number)) != 0;
}

/* Headers of every answer, errors included (err_headers_out). */
static void common_headers(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "X-Shmcache-Pid",
                   apr_psprintf(r->pool, "%ld", (long)getpid()));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

/* Run the method of r on key. */
static int dispatch(request_rec *r, sc_cache_t *c, shmcache_t *h,
                    const sc_dir_conf_t *dc, const char *key, apr_size_t klen)
{
    if (query_arg(r, "lease") != NULL)
        return do_lease(r, c, h, dc, key, klen);
    switch (r->method_number) {
    case M_GET:    return do_get(r, c, h, key, klen);
    case M_PUT:    return do_put(r, c, h, dc, key, klen);
    case M_DELETE: return do_delete(r, c, h, key, klen);
    default:       return do_incr(r, c, h, key, klen);
    }
}

int sc_api_handler(request_rec *r)
{
    const sc_dir_conf_t *dc;
    sc_cache_t *c;
    shmcache_t *h;
    apr_size_t klen = 0;
    char *key = NULL;
    int rc;

    if (r->handler == NULL || strcmp(r->handler, "shmcache-api") != 0)
        return DECLINED;
    dc = ap_get_module_config(r->per_dir_config, &shmcache_module);
    common_headers(r);
    if (!allow_methods(r, dc->read_only == 1))
        return HTTP_METHOD_NOT_ALLOWED;
    if ((c = api_cache(r, dc)) == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    if ((rc = request_key(r, dc, c, &key, &klen)) != OK)
        return rc;
    if ((h = sc_cache_handle(c, r->server)) == NULL)
        return HTTP_SERVICE_UNAVAILABLE;
    return dispatch(r, c, h, dc, key, klen);
}
