/*
 * fuzz_module_shims.h - the module's parsers, made callable for
 * fuzz_module.c. Each fuzz_module_shim_*.c compiles one file of
 * mod_shmcache/ as it is (#include of the .c) and exports its static
 * parsers through the fzm_* wrappers below, which keep their signatures
 * when the module's change. Needs sc_private.h (httpd headers) only for the
 * record types.
 */
#ifndef SC_FUZZ_MODULE_SHIMS_H
#define SC_FUZZ_MODULE_SHIMS_H

#include "sc_private.h"

/* sc_api.c */
apr_ssize_t fzm_pct_decode(const char *s, apr_size_t len, char **out, apr_pool_t *p);
const char *fzm_query_arg(request_rec *r, const char *name);
/* the key named by r->unparsed_uri under the <Location> prefix dir:
 * OK or an HTTP status */
int fzm_request_key(request_rec *r, const char *dir, char **key, apr_size_t *klen);
int fzm_request_ttl(request_rec *r, apr_uint32_t *ttl);
int fzm_api_parse_u64(const char *s, apr_uint64_t *out);

/* mod_shmcache.c */
int fzm_valid_name(const char *s);
int fzm_parse_uint(const char *s, apr_uint64_t lo, apr_uint64_t hi, apr_uint64_t *out);
int fzm_parse_ttl(const char *s, apr_uint32_t *out);
int fzm_parse_mode(const char *s, apr_fileperms_t *out);
/* a fresh registry in pconf (pre_config) */
void fzm_conf_reset(apr_pool_t *pconf);
/* "ShmcacheCache argv..." in pool; NULL or the error message; *made gets
 * the declared cache on success */
const char *fzm_cmd_cache(apr_pool_t *pool, int argc, char *const argv[],
                          sc_cache_t **made);
/* "ShmcacheAPIMaxBody arg" / "ShmcacheAPICache arg" into *dc */
const char *fzm_cmd_api_max_body(apr_pool_t *pool, sc_dir_conf_t *dc, const char *arg);
const char *fzm_cmd_api_cache(apr_pool_t *pool, sc_dir_conf_t *dc, const char *arg);

/* sc_socache.c */
int fzm_is_cache_name(const char *s);
const char *fzm_parse_path_size(sc_cache_t *c, const char *arg, apr_pool_t *p);

/* sc_cache.c: sc_parse_size and sc_cache_defaults are exported already */

#endif
