/* fuzz_module_shim_socache.c - mod_shmcache/sc_socache.c with its argument
 * parser exported (see fuzz_module_shims.h). */
#include "../mod_shmcache/sc_socache.c"
#include "fuzz_module_shims.h"

int fzm_is_cache_name(const char *s)
{
    return is_cache_name(s);
}

const char *fzm_parse_path_size(sc_cache_t *c, const char *arg, apr_pool_t *p)
{
    return parse_path_size(c, arg, p, p);
}
