/* fuzz_module_shim_conf.c - mod_shmcache/mod_shmcache.c with its directive
 * parsers exported (see fuzz_module_shims.h). */
#include "../mod_shmcache/mod_shmcache.c"
#include "fuzz_module_shims.h"

int fzm_valid_name(const char *s)
{
    return valid_name(s);
}

int fzm_parse_uint(const char *s, apr_uint64_t lo, apr_uint64_t hi, apr_uint64_t *out)
{
    return parse_uint(s, lo, hi, out);
}

int fzm_parse_ttl(const char *s, apr_uint32_t *out)
{
    return parse_ttl(s, out);
}

int fzm_parse_mode(const char *s, apr_fileperms_t *out)
{
    unsigned octal;

    return parse_mode(s, out, &octal);
}

void fzm_conf_reset(apr_pool_t *pconf)
{
    sc_pre_config(pconf, pconf, pconf);
}

/* A cmd_parms good enough for the directive handlers: the directive's
 * name, pools, and where it was read. */
static void fake_cmd(cmd_parms *cmd, command_rec *rec, ap_directive_t *dir,
                     apr_pool_t *pool, const char *name)
{
    memset(cmd, 0, sizeof *cmd);
    memset(rec, 0, sizeof *rec);
    memset(dir, 0, sizeof *dir);
    rec->name = name;
    dir->directive = name;
    dir->filename = "fuzz.conf";
    dir->line_num = 1;
    cmd->cmd = rec;
    cmd->directive = dir;
    cmd->pool = pool;
    cmd->temp_pool = pool;
}

const char *fzm_cmd_cache(apr_pool_t *pool, int argc, char *const argv[],
                          sc_cache_t **made)
{
    cmd_parms cmd;
    command_rec rec;
    ap_directive_t dir;
    const char *err;

    fake_cmd(&cmd, &rec, &dir, pool, "ShmcacheCache");
    err = cmd_cache(&cmd, NULL, argc, argv);
    *made = NULL;
    if (err == NULL && registry != NULL && registry->caches->nelts > 0)
        *made = APR_ARRAY_IDX(registry->caches, registry->caches->nelts - 1,
                              sc_cache_t *);
    return err;
}

const char *fzm_cmd_api_max_body(apr_pool_t *pool, sc_dir_conf_t *dc, const char *arg)
{
    cmd_parms cmd;
    command_rec rec;
    ap_directive_t dir;

    fake_cmd(&cmd, &rec, &dir, pool, "ShmcacheAPIMaxBody");
    return cmd_api_max_body(&cmd, dc, arg);
}

const char *fzm_cmd_api_cache(apr_pool_t *pool, sc_dir_conf_t *dc, const char *arg)
{
    cmd_parms cmd;
    command_rec rec;
    ap_directive_t dir;

    fake_cmd(&cmd, &rec, &dir, pool, "ShmcacheAPICache");
    return cmd_api_cache(&cmd, dc, arg);
}
