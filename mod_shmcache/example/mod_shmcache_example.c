/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_shmcache_example.c - a module that uses mod_shmcache's caches through
 * its optional functions (mod_shmcache.h); an example for module authors
 * and a fixture of the httpd tests.
 *
 *   LoadModule shmcache_module         .../mod_shmcache.so
 *   LoadModule shmcache_example_module .../mod_shmcache_example.so
 *   <Location /example>
 *       SetHandler shmcache-example
 *   </Location>
 *
 * GET /example?cache=NAME counts the request in the key "example:hits" of
 * the cache NAME (default: the first declared cache) with shmcache_incr,
 * and answers "cache=NAME hits=N caches=a,b default_ttl=T pid=P".
 *
 * It links nothing from shmcache: the shmcache_* functions are resolved
 * from mod_shmcache.so, which httpd loaded before with RTLD_GLOBAL.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_shmcache.h"

#include <unistd.h>

APLOG_USE_MODULE(shmcache_example);

static APR_OPTIONAL_FN_TYPE(shmcache_mod_lookup) *sc_lookup;
static APR_OPTIONAL_FN_TYPE(shmcache_mod_names) *sc_names;
static APR_OPTIONAL_FN_TYPE(shmcache_mod_default_ttl) *sc_default_ttl;

static void example_retrieve(void)
{
    sc_lookup = APR_RETRIEVE_OPTIONAL_FN(shmcache_mod_lookup);
    sc_names = APR_RETRIEVE_OPTIONAL_FN(shmcache_mod_names);
    sc_default_ttl = APR_RETRIEVE_OPTIONAL_FN(shmcache_mod_default_ttl);
}

static int example_handler(request_rec *r)
{
    apr_array_header_t *names;
    const char *name = NULL;
    apr_uint64_t hits = 0, one = 1;
    shmcache_t *c;
    apr_status_t rv;
    char buf[128];

    if (r->handler == NULL || strcmp(r->handler, "shmcache-example") != 0)
        return DECLINED;
    if (sc_lookup == NULL || sc_names == NULL || sc_default_ttl == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SCX0001: "
                      "mod_shmcache is not loaded");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    names = sc_names(r->pool);
    if (r->args != NULL && strncmp(r->args, "cache=", 6) == 0)
        name = r->args + 6;
    else if (names->nelts > 0)
        name = APR_ARRAY_IDX(names, 0, const char *);
    if (name == NULL || (c = sc_lookup(name)) == NULL)
        return HTTP_NOT_FOUND;
    rv = shmcache_incr(c, "example:hits", 12, 1, &one, SHMCACHE_TTL_DEFAULT, &hits);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SCX0002: cache '%s': "
                      "incr failed: %s", name, shmcache_strerror(rv, buf, sizeof buf));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "cache=%s hits=%" APR_UINT64_T_FMT " caches=%s default_ttl=%u "
               "pid=%ld\n", name, hits, apr_array_pstrcat(r->pool, names, ','),
               sc_default_ttl(name), (long)getpid());
    return OK;
}

static void example_hooks(apr_pool_t *p)
{
    ap_hook_optional_fn_retrieve(example_retrieve, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(example_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
module AP_MODULE_DECLARE_DATA shmcache_example_module = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    example_hooks,
    AP_MODULE_FLAG_NONE
};
