/* fuzz_module_shim_api.c - mod_shmcache/sc_api.c with its parsers exported
 * (see fuzz_module_shims.h). */
#include "../mod_shmcache/sc_api.c"
#include "fuzz_module_shims.h"

apr_ssize_t fzm_pct_decode(const char *s, apr_size_t len, char **out, apr_pool_t *p)
{
    return pct_decode(s, len, out, p);
}

const char *fzm_query_arg(request_rec *r, const char *name)
{
    return query_arg(r, name);
}

int fzm_request_key(request_rec *r, const char *dir, char **key, apr_size_t *klen)
{
    sc_dir_conf_t dc;
    sc_cache_t c;

    memset(&dc, 0, sizeof dc);
    memset(&c, 0, sizeof c);
    dc.dir = dir;
    c.name = "fuzz";
    return request_key(r, &dc, &c, key, klen);
}

int fzm_request_ttl(request_rec *r, apr_uint32_t *ttl)
{
    return request_ttl(r, ttl);
}

int fzm_api_parse_u64(const char *s, apr_uint64_t *out)
{
    return parse_u64(s, out);
}
