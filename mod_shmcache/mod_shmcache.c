/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_shmcache.c - Apache httpd 2.4 module: named shmcache caches declared
 * in httpd.conf, shared by every process of every MPM, usable by other
 * modules (optional functions, see mod_shmcache.h), by stock modules
 * through the socache provider "shmcache" (sc_socache.c), by people and
 * monitoring through the shmcache-status handler (sc_status.c) and, when an
 * admin opts in, by HTTP clients through the shmcache-api handler
 * (sc_api.c).
 *
 * This file owns the configuration and the lifecycle:
 *
 *   pre_config   a fresh registry for this configuration generation
 *   directives   ShmcacheCache declares a cache; bad values fail the
 *                configuration (apachectl -t) with a message naming the
 *                directive; the per-directory directives configure the
 *                handlers
 *   post_config  (parent) every declared cache is created, reused or
 *                recreated (sc_cache.c). Skipped in the first of httpd's two
 *                startup passes (the double-load guard) and when httpd only
 *                tests or dumps its configuration.
 *   child_init   Unix: every child keeps the handles it inherited from
 *                the parent (it never opens a segment file). Windows, where
 *                children inherit nothing: every child attaches every cache
 *                by name. pchild's cleanup detaches either way.
 *   log_transaction  the periodic check that logs recoveries (sc_watch.c)
 *
 * The registry it fills lives in sc_registry.c, the words it reads are
 * parsed by sc_parse.c; mod_shmcache/README.md ("Files") lists every file
 * of the module with what it depends on.
 *
 * File order follows mod_socache_shmcb.c: includes, directive handlers,
 * per-directory configuration, optional functions, hooks, the command
 * table, register_hooks, and the module record last (written out rather
 * than through AP_DECLARE_MODULE: see there).
 */
#include "sc_private.h"
#include "mod_shmcache.h"
#include "sc_configcheck.h"

#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_provider.h"
#include "mod_status.h"
#include "apr_strings.h"
#include "apr_user.h"

APLOG_USE_MODULE(shmcache);

/* ------------------------------------------------------------------------
 * Directive handlers
 * ---------------------------------------------------------------------- */

/* NAME and PATH of ShmcacheCache into a new cache *made (in cmd->pool):
 * a valid name that no other ShmcacheCache declares, a path (relative to
 * ServerRoot) that no other uses. Returns NULL or the message (*made is
 * then not to be used). */
static const char *cache_head(cmd_parms *cmd, const char *name,
                              const char *path, sc_cache_t **made)
{
    const char *d = cmd->cmd->name;
    sc_cache_t *c = apr_pcalloc(cmd->pool, sizeof *c), *other;

    *made = c;
    sc_cache_defaults(c);
    c->name = name;
    c->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    if (!sc_parse_name(c->name))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid cache name "
                            "(1..%d of A-Z a-z 0-9 _ -)", d, c->name, SC_NAME_MAX);
    if ((other = sc_registry_find(c->name)) != NULL)
        return apr_psprintf(cmd->pool, "%s: a cache named '%s' is already "
                            "declared at %s", d, c->name, other->where);
    if ((c->path = ap_server_root_relative(cmd->pool, path)) == NULL)
        return apr_psprintf(cmd->pool, "%s %s: invalid path '%s'", d, c->name,
                            path);
    if ((other = sc_registry_find_path(c->path)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s: path %s is already used by cache "
                            "'%s' (declared at %s); two caches cannot share a "
                            "segment", d, c->name, c->path, other->name,
                            other->where);
    return NULL;
}

/* One word after NAME PATH: the L2 options are sc_tier.c's, every other
 * sc_parse.c's. Returns NULL or the message. */
static const char *cache_word(cmd_parms *cmd, sc_cache_t *c, const char *word)
{
    const char *d = cmd->cmd->name, *key, *val, *err;

    err = sc_parse_cache_word(d, c, word, &key, &val, cmd->temp_pool);
    if (err != NULL || key == NULL)
        return err;
    if (sc_tier_is_option(key))
        return sc_tier_option(cmd, c, key, val);
    return sc_parse_cache_option(d, c, key, val, cmd->pool);
}

/* The checks of the whole line, once every word is read: the options
 * together, L2, ownership on this system, the segment's directory. */
static const char *cache_checks(cmd_parms *cmd, sc_cache_t *c)
{
    const char *d = cmd->cmd->name, *err;

    if ((err = sc_parse_cache_check(d, c, cmd->pool)) != NULL
        || (err = sc_tier_check(cmd, c)) != NULL)
        return err;
    if ((err = sc_perms_check_config(c, cmd->temp_pool)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s", d, err);
    if ((err = sc_check_dir(c->path, cmd->temp_pool)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s: %s", d, c->name, err);
    return NULL;
}

/* ShmcacheCache NAME PATH [key=value ...] [allow-world-writable] */
static const char *cmd_cache(cmd_parms *cmd, void *dummy, int argc,
                             char *const argv[])
{
    const char *d = cmd->cmd->name, *err;
    sc_cache_t *c = NULL;
    int i;

    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) != NULL)
        return err;
    if (sc_registry() == NULL)
        return apr_psprintf(cmd->pool, "%s: mod_shmcache is not initialised", d);
    if (argc < 2)
        return apr_psprintf(cmd->pool, "%s needs a name and a path: %s NAME "
                            "PATH [size=64M] [ttl=0] [max-key=250] "
                            "[max-value=1M] [mode=0600] [user=U] [group=G] ...",
                            d, d);
    if ((err = cache_head(cmd, argv[0], argv[1], &c)) != NULL)
        return err;
    for (i = 2; i < argc; i++)
        if ((err = cache_word(cmd, c, argv[i])) != NULL)
            return err;
    if ((err = cache_checks(cmd, c)) != NULL)
        return err;
    sc_registry_add(c);
    return NULL;
}

static const char *cmd_api_cache(cmd_parms *cmd, void *dconf, const char *arg)
{
    sc_dir_conf_t *dc = dconf;

    if (!sc_parse_name(arg))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid cache name",
                            cmd->cmd->name, arg);
    /* caches may be declared further down: checked by check_config */
    sc_configcheck_note(cmd, arg);
    dc->cache_name = arg;
    return NULL;
}

static const char *cmd_api_max_body(cmd_parms *cmd, void *dconf, const char *arg)
{
    sc_dir_conf_t *dc = dconf;
    apr_uint64_t v;
    const char *err = sc_parse_size(arg, &v, cmd->temp_pool);

    if (err != NULL)
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, arg, err);
    if (v == 0 || v > 0xFFFFFFFFu)
        return apr_psprintf(cmd->pool, "%s: %s: the limit must be 1 byte..4G",
                            cmd->cmd->name, arg);
    dc->max_body = (apr_off_t)v;
    return NULL;
}

static const char *cmd_api_read_only(cmd_parms *cmd, void *dconf, int flag)
{
    ((sc_dir_conf_t *)dconf)->read_only = flag;
    return NULL;
}

/* ------------------------------------------------------------------------
 * Per-directory configuration
 * ---------------------------------------------------------------------- */

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    sc_dir_conf_t *dc = apr_pcalloc(p, sizeof *dc);

    dc->dir = dir;
    dc->max_body = -1;
    dc->read_only = -1;
    return dc;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    sc_dir_conf_t *base = basev, *add = addv, *dc = apr_pcalloc(p, sizeof *dc);

    dc->dir = add->dir != NULL ? add->dir : base->dir;
    dc->cache_name = add->cache_name != NULL ? add->cache_name : base->cache_name;
    dc->max_body = add->max_body >= 0 ? add->max_body : base->max_body;
    dc->read_only = add->read_only >= 0 ? add->read_only : base->read_only;
    return dc;
}

/* ------------------------------------------------------------------------
 * Optional functions
 * ---------------------------------------------------------------------- */

static shmcache_t *shmcache_mod_lookup(const char *name)
{
    sc_cache_t *c = sc_registry_find(name);

    return c != NULL ? sc_cache_handle(c, NULL) : NULL;
}

static apr_array_header_t *shmcache_mod_names(apr_pool_t *p)
{
    sc_registry_t *reg = sc_registry();
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; reg != NULL && i < reg->caches->nelts; i++)
        APR_ARRAY_PUSH(names, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(reg->caches, i, sc_cache_t *)->name);
    return names;
}

static apr_uint32_t shmcache_mod_default_ttl(const char *name)
{
    sc_cache_t *c = sc_registry_find(name);

    return c != NULL ? c->opts.default_ttl : SHMCACHE_TTL_FOREVER;
}

/* ------------------------------------------------------------------------
 * Hooks
 * ---------------------------------------------------------------------- */

static int sc_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    sc_registry_open(pconf);
    return OK;
}

static int sc_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    sc_registry_t *reg = sc_registry();
    int i, failed = 0;

    /* Double-load guard: httpd reads its configuration twice at startup
     * and throws the first result away; create nothing in that pass. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL || reg == NULL)
        return OK;
    reg->server = s;
    reg->watch = sc_watch_get(s);
    for (i = 0; i < reg->caches->nelts; i++) {
        sc_cache_t *c = APR_ARRAY_IDX(reg->caches, i, sc_cache_t *);
        if (sc_cache_prepare(c, s, ptemp) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SCLOGNO(00201)
                         SC_FMT "declared at %s, cannot be used (see above); "
                         "not starting", SC_ARGS(c), c->where);
            failed = 1;
        }
        else
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, SCLOGNO(00202)
                         SC_FMT "ready", SC_ARGS(c));
    }
    return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

#ifndef WIN32
/* Unix: every child keeps the handles it inherited from the parent. */
static void adopt_all(apr_array_header_t *list, apr_pool_t *pchild)
{
    int i;

    for (i = 0; i < list->nelts; i++) {
        sc_cache_t *c = APR_ARRAY_IDX(list, i, sc_cache_t *);
        if (c->alias == NULL)
            sc_cache_adopt(c, pchild);
    }
}
#else
/* Windows: children inherit nothing, each attaches every cache by name. */
static void attach_all(apr_array_header_t *list, server_rec *s, apr_pool_t *pchild)
{
    int i;

    for (i = 0; i < list->nelts; i++) {
        sc_cache_t *c = APR_ARRAY_IDX(list, i, sc_cache_t *);
        if (c->alias == NULL && c->prepared && c->prepare_status == APR_SUCCESS)
            sc_cache_attach(c, s, pchild);
    }
}
#endif

static void sc_child_init(apr_pool_t *pchild, server_rec *s)
{
    sc_registry_t *reg = sc_registry();

    if (reg == NULL)
        return;
    reg->proc_pool = pchild;
    reg->server = s;
#ifndef WIN32
    adopt_all(reg->caches, pchild);
    adopt_all(reg->instances, pchild);
#else
    {
        apr_status_t rv = apr_thread_mutex_create(&reg->mutex,
                                                  APR_THREAD_MUTEX_DEFAULT,
                                                  pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, SCLOGNO(00203)
                         "mod_shmcache: cannot create the attach mutex; "
                         "caches that fail to attach now stay unavailable in "
                         "this child");
            reg->mutex = NULL;
        }
    }
    attach_all(reg->caches, s, pchild);
    attach_all(reg->instances, s, pchild);
#endif
    sc_tier_child_init(reg->caches, s, pchild);
}

/* The periodic recovery check (sc_watch.c), when this process's turn has
 * come: the stats of every cache that has a watch slot. */
static void watch_tick(server_rec *s)
{
    sc_registry_t *reg = sc_registry();
    apr_array_header_t *lists[2];
    int l, i;

    if (reg == NULL || !sc_watch_due())
        return;
    lists[0] = reg->caches;
    lists[1] = reg->instances;
    for (l = 0; l < 2; l++)
        for (i = 0; i < lists[l]->nelts; i++) {
            sc_cache_t *c = APR_ARRAY_IDX(lists[l], i, sc_cache_t *);
            if (c->alias == NULL && c->watch != NULL)
                sc_watch_check(c, sc_cache_handle(c, s), s);
        }
}

/* End of every request in a child: the periodic recovery check (cheap
 * unless due: one clock read and one atomic load). */
static int sc_log_transaction(request_rec *r)
{
    watch_tick(r->server);
    sc_tier_tick(r->server);
    return DECLINED;
}

/* ------------------------------------------------------------------------
 * Command table, hooks, module
 * ---------------------------------------------------------------------- */

static const command_rec sc_cmds[] = {
    AP_INIT_TAKE_ARGV("ShmcacheCache", cmd_cache, NULL, RSRC_CONF,
        "ShmcacheCache NAME PATH [size=64M] [ttl=0] [max-key=250] "
        "[max-value=1M] [buckets=N] [slots=N] [mode=0600] [user=U] [group=G] "
        "[lock-timeout=MS] [allow-world-writable]: declare a shared cache"),
    AP_INIT_TAKE1("ShmcacheAPICache", cmd_api_cache, NULL, RSRC_CONF | ACCESS_CONF,
        "the cache that the shmcache-api handler serves here (default: the "
        "only declared cache)"),
    AP_INIT_TAKE1("ShmcacheAPIMaxBody", cmd_api_max_body, NULL,
        RSRC_CONF | ACCESS_CONF,
        "largest value the shmcache-api handler accepts in a PUT (default 1M)"),
    AP_INIT_FLAG("ShmcacheAPIReadOnly", cmd_api_read_only, NULL,
        RSRC_CONF | ACCESS_CONF,
        "On: the shmcache-api handler answers only GET and HEAD"),
    {NULL}
};

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(sc_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* before the consumers' post_config (mod_ssl, mod_cache_socache), who
     * call the provider's init; init prepares lazily anyway */
    ap_hook_post_config(sc_post_config, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_child_init(sc_child_init, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_log_transaction(sc_log_transaction, NULL, NULL, APR_HOOK_LAST);
    ap_hook_handler(sc_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(sc_api_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, sc_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
    APR_REGISTER_OPTIONAL_FN(shmcache_mod_lookup);
    APR_REGISTER_OPTIONAL_FN(shmcache_mod_names);
    APR_REGISTER_OPTIONAL_FN(shmcache_mod_default_ttl);
    sc_socache_register(p);
    sc_configcheck_register(p);
}

/* The module record. AP_DECLARE_MODULE(shmcache) would expand to
 * APLOG_USE_MODULE(shmcache) and this definition; APLOG_USE_MODULE is
 * needed at the top already (every ap_log_error above uses the index it
 * declares) and may appear only once per file, so the record is written
 * out. sc_private.h declares it with default visibility: it is the one
 * symbol of the module, besides the library's shmcache_*, that httpd
 * finds in mod_shmcache.so. */
module AP_MODULE_DECLARE_DATA shmcache_module = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    NULL,
    NULL,
    sc_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
