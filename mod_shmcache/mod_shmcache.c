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
 * File order follows mod_socache_shmcb.c: includes, limits, types,
 * helpers, directive handlers, hooks, the command table, register_hooks,
 * AP_DECLARE_MODULE last.
 */
#include "sc_private.h"
#include "mod_shmcache.h"

#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_provider.h"
#include "mod_status.h"
#include "apr_strings.h"
#include "apr_user.h"

APLOG_USE_MODULE(shmcache);

/* The registry of the configuration generation being read or served. */
static sc_registry_t *registry;

sc_registry_t *sc_registry(void)
{
    return registry;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static apr_status_t registry_gone(void *data)
{
    if (registry == data)
        registry = NULL;
    return APR_SUCCESS;
}

static int valid_name(const char *s)
{
    apr_size_t n = 0;

    for (; *s != '\0'; s++, n++)
        if (!apr_isalnum(*s) && *s != '_' && *s != '-')
            return 0;
    return n > 0 && n <= SC_NAME_MAX;
}

/* Parse an unsigned decimal within [lo, hi]. */
static int parse_uint(const char *s, apr_uint64_t lo, apr_uint64_t hi,
                      apr_uint64_t *out)
{
    apr_uint64_t v = 0;

    if (!apr_isdigit(*s))
        return 0;
    for (; apr_isdigit(*s); s++) {
        if (v > (APR_UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (apr_uint64_t)(*s - '0');
    }
    if (*s != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* Seconds with an optional s, m, h or d suffix. */
static int parse_ttl(const char *s, apr_uint32_t *out)
{
    char *end;
    apr_int64_t v;
    apr_uint64_t mult = 1;

    if (!apr_isdigit(*s))
        return 0;
    v = apr_strtoi64(s, &end, 10);
    if (v < 0)
        return 0;
    switch (*end) {
    case '\0': break;
    case 's': end++; break;
    case 'm': mult = 60; end++; break;
    case 'h': mult = 3600; end++; break;
    case 'd': mult = 86400; end++; break;
    default: return 0;
    }
    if (*end != '\0' || (apr_uint64_t)v > SHMCACHE_TTL_MAX / mult)
        return 0;
    *out = (apr_uint32_t)((apr_uint64_t)v * mult);
    return 1;
}

/* "0640" -> APR_FPROT_* bits (the octal digits become hex nibbles);
 * *octal gets the number as written. */
static int parse_mode(const char *s, apr_fileperms_t *out, unsigned *octal)
{
    unsigned m = 0;
    const char *p;

    if (strlen(s) < 3 || strlen(s) > 4)
        return 0;
    for (p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return 0;
        m = m * 8 + (unsigned)(*p - '0');
    }
    /* owner read+write needed (the creator maps it); no execute bits, no
     * setuid/setgid/sticky */
    if ((m & 0600) != 0600 || (m & 07111) != 0)
        return 0;
    *out = (apr_fileperms_t)(((m >> 6) & 7) << 8 | ((m >> 3) & 7) << 4 | (m & 7));
    *octal = m;
    return 1;
}

/* ------------------------------------------------------------------------
 * Directive handlers
 * ---------------------------------------------------------------------- */

/* One key=value option of ShmcacheCache. */
static const char *cache_option(cmd_parms *cmd, sc_cache_t *c,
                                const char *key, const char *val)
{
    const char *d = cmd->cmd->name, *err;
    apr_pool_t *p = cmd->pool;
    apr_uint64_t v;

    if (strcasecmp(key, "size") == 0) {
        if ((err = sc_parse_size(val, &v, p)) != NULL)
            return apr_psprintf(p, "%s %s: size=%s: %s", d, c->name, val, err);
        if (v < SHMCACHE_MIN_SIZE || v > SHMCACHE_LIMIT_SIZE)
            return apr_psprintf(p, "%s %s: size=%s: the size must be between "
                                "%uK and %" APR_UINT64_T_FMT "G", d, c->name, val,
                                SHMCACHE_MIN_SIZE / 1024,
                                (apr_uint64_t)SHMCACHE_LIMIT_SIZE >> 30);
        c->opts.size = v;
    }
    else if (strcasecmp(key, "ttl") == 0) {
        if (!parse_ttl(val, &c->opts.default_ttl))
            return apr_psprintf(p, "%s %s: ttl=%s: the default TTL must be a "
                                "number of seconds (or with s, m, h, d), at most "
                                "%u seconds; 0 means never expires", d, c->name,
                                val, SHMCACHE_TTL_MAX);
    }
    else if (strcasecmp(key, "max-key") == 0) {
        if (!parse_uint(val, 1, SHMCACHE_LIMIT_MAX_KEY, &v))
            return apr_psprintf(p, "%s %s: max-key=%s: the longest key must be "
                                "1..%u bytes", d, c->name, val,
                                SHMCACHE_LIMIT_MAX_KEY);
        c->opts.max_key = (apr_uint32_t)v;
    }
    else if (strcasecmp(key, "max-value") == 0) {
        if ((err = sc_parse_size(val, &v, p)) != NULL)
            return apr_psprintf(p, "%s %s: max-value=%s: %s", d, c->name, val, err);
        if (v == 0 || v > 0xFFFFFFFFu)
            return apr_psprintf(p, "%s %s: max-value=%s: the longest value must "
                                "be 1 byte..4G", d, c->name, val);
        c->opts.max_value = (apr_uint32_t)v;
        c->max_value_set = 1;
    }
    else if (strcasecmp(key, "buckets") == 0) {
        if (!parse_uint(val, 64, 0x40000000u, &v))
            return apr_psprintf(p, "%s %s: buckets=%s: the bucket count must be "
                                "64..1073741824 (rounded up to a power of two)",
                                d, c->name, val);
        c->opts.buckets = (apr_uint32_t)v;
    }
    else if (strcasecmp(key, "slots") == 0) {
        if (!parse_uint(val, 8, SHMCACHE_LIMIT_SLOTS, &v))
            return apr_psprintf(p, "%s %s: slots=%s: process slots must be "
                                "8..%u", d, c->name, val, SHMCACHE_LIMIT_SLOTS);
        c->opts.slots = (apr_uint32_t)v;
        c->slots_set = 1;
    }
    else if (strcasecmp(key, "mode") == 0) {
        if (!parse_mode(val, &c->opts.mode, &c->mode_octal))
            return apr_psprintf(p, "%s %s: mode=%s: the file mode must be octal "
                                "like 0600 or 0660, with owner read and write and "
                                "no execute bits", d, c->name, val);
    }
    else if (strcasecmp(key, "user") == 0) {
        apr_gid_t ignored;
        apr_status_t rv = *val == '#'
            ? (parse_uint(val + 1, 0, 0x7FFFFFFF, &v)
               ? (c->uid = (apr_uid_t)v, APR_SUCCESS) : APR_EINVAL)
            : apr_uid_get(&c->uid, &ignored, val, p);
        if (rv != APR_SUCCESS)
            return apr_psprintf(p, "%s %s: user=%s: no such user (give a name "
                                "or #uid)", d, c->name, val);
        c->user = val;
        c->uid_set = 1;
    }
    else if (strcasecmp(key, "group") == 0) {
        apr_status_t rv = *val == '#'
            ? (parse_uint(val + 1, 0, 0x7FFFFFFF, &v)
               ? (c->gid = (apr_gid_t)v, APR_SUCCESS) : APR_EINVAL)
            : apr_gid_get(&c->gid, val, p);
        if (rv != APR_SUCCESS)
            return apr_psprintf(p, "%s %s: group=%s: no such group (give a name "
                                "or #gid)", d, c->name, val);
        c->group = val;
        c->gid_set = 1;
    }
    else if (strcasecmp(key, "lock-timeout") == 0) {
        if (!parse_uint(val, 1, 600000, &v))
            return apr_psprintf(p, "%s %s: lock-timeout=%s: milliseconds, "
                                "1..600000", d, c->name, val);
        c->opts.lock_timeout_ms = (apr_uint32_t)v;
    }
    else if (sc_tier_is_option(key))
        return sc_tier_option(cmd, c, key, val);
    else
        return apr_psprintf(p, "%s %s: unknown option '%s' (known: size, ttl, "
                            "max-key, max-value, buckets, slots, mode, user, "
                            "group, lock-timeout, l2, l2-pool, l2-timeout, "
                            "l1-ttl, neg-ttl, l2-prefix, l2-invalidate, and the word "
                            "allow-world-writable)", d, c->name, key);
    return NULL;
}

/* NULL, or why c's mode cannot be accepted: write for "other" lets every
 * local user change, destroy or truncate the cache, and take part in its
 * lock, so it needs the explicit allow-world-writable. */
static const char *check_world_writable(cmd_parms *cmd, const sc_cache_t *c)
{
    if (!(c->opts.mode & APR_FPROT_WWRITE) || c->world_writable_ok)
        return NULL;
    return apr_psprintf(cmd->pool, "%s %s (%s): mode=%04o lets every local user "
                        "write the cache (o+w): any of them could change or "
                        "destroy the cached data, truncate the file under "
                        "httpd and hold its lock; use mode=0660 with group= "
                        "for the users that need it, or add the word "
                        "allow-world-writable to the directive if every user "
                        "really must write it", cmd->cmd->name, c->name,
                        c->where, c->mode_octal);
}

/* ShmcacheCache NAME PATH [key=value ...] [allow-world-writable] */
static const char *cmd_cache(cmd_parms *cmd, void *dummy, int argc,
                             char *const argv[])
{
    const char *d = cmd->cmd->name, *err;
    sc_registry_t *reg = registry;
    sc_cache_t *c, *other;
    int i;

    if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) != NULL)
        return err;
    if (reg == NULL)
        return apr_psprintf(cmd->pool, "%s: mod_shmcache is not initialised", d);
    if (argc < 2)
        return apr_psprintf(cmd->pool, "%s needs a name and a path: %s NAME "
                            "PATH [size=64M] [ttl=0] [max-key=250] "
                            "[max-value=1M] [mode=0600] [user=U] [group=G] ...",
                            d, d);
    c = apr_pcalloc(cmd->pool, sizeof *c);
    sc_cache_defaults(c);
    c->name = argv[0];
    c->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    if (!valid_name(c->name))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid cache name "
                            "(1..%d of A-Z a-z 0-9 _ -)", d, c->name, SC_NAME_MAX);
    if ((other = apr_hash_get(reg->by_name, c->name, APR_HASH_KEY_STRING)) != NULL)
        return apr_psprintf(cmd->pool, "%s: a cache named '%s' is already "
                            "declared at %s", d, c->name, other->where);
    c->path = ap_server_root_relative(cmd->pool, argv[1]);
    if (c->path == NULL)
        return apr_psprintf(cmd->pool, "%s %s: invalid path '%s'", d, c->name,
                            argv[1]);
    if ((other = apr_hash_get(reg->by_path, c->path, APR_HASH_KEY_STRING)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s: path %s is already used by cache "
                            "'%s' (declared at %s); two caches cannot share a "
                            "segment", d, c->name, c->path, other->name,
                            other->where);
    for (i = 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (strcasecmp(argv[i], "allow-world-writable") == 0) {
            c->world_writable_ok = 1;
            continue;
        }
        if (eq == NULL || eq == argv[i])
            return apr_psprintf(cmd->pool, "%s %s: '%s' is not key=value", d,
                                c->name, argv[i]);
        err = cache_option(cmd, c, apr_pstrndup(cmd->temp_pool, argv[i],
                                                (apr_size_t)(eq - argv[i])),
                           eq + 1);
        if (err != NULL)
            return err;
    }
    if ((err = check_world_writable(cmd, c)) != NULL
        || (err = sc_tier_check(cmd, c)) != NULL)
        return err;
    if ((err = sc_perms_check_config(c, cmd->temp_pool)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s", d, err);
    if (c->max_value_set
        && (apr_uint64_t)c->opts.max_value + c->opts.max_key > c->opts.size / 2)
        return apr_psprintf(cmd->pool, "%s %s: max-value=%u and max-key=%u do "
                            "not fit in size=%" APR_UINT64_T_FMT ": one item may "
                            "take at most half of the cache", d, c->name,
                            c->opts.max_value, c->opts.max_key, c->opts.size);
    if ((err = sc_check_dir(c->path, cmd->temp_pool)) != NULL)
        return apr_psprintf(cmd->pool, "%s %s: %s", d, c->name, err);
    APR_ARRAY_PUSH(reg->caches, sc_cache_t *) = c;
    apr_hash_set(reg->by_name, c->name, APR_HASH_KEY_STRING, c);
    apr_hash_set(reg->by_path, c->path, APR_HASH_KEY_STRING, c);
    return NULL;
}

static const char *cmd_api_cache(cmd_parms *cmd, void *dconf, const char *arg)
{
    sc_dir_conf_t *dc = dconf;

    if (!valid_name(arg))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid cache name",
                            cmd->cmd->name, arg);
    /* caches may be declared further down: checked at request time */
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
    sc_cache_t *c;

    if (registry == NULL || name == NULL)
        return NULL;
    c = apr_hash_get(registry->by_name, name, APR_HASH_KEY_STRING);
    return c != NULL ? sc_cache_handle(c, NULL) : NULL;
}

static apr_array_header_t *shmcache_mod_names(apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; registry != NULL && i < registry->caches->nelts; i++)
        APR_ARRAY_PUSH(names, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(registry->caches, i, sc_cache_t *)->name);
    return names;
}

static apr_uint32_t shmcache_mod_default_ttl(const char *name)
{
    sc_cache_t *c = registry == NULL || name == NULL ? NULL
        : apr_hash_get(registry->by_name, name, APR_HASH_KEY_STRING);

    return c != NULL ? c->opts.default_ttl : SHMCACHE_TTL_FOREVER;
}

/* ------------------------------------------------------------------------
 * Hooks
 * ---------------------------------------------------------------------- */

static int sc_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    sc_registry_t *reg = apr_pcalloc(pconf, sizeof *reg);

    reg->pool = pconf;
    reg->proc_pool = pconf;
    reg->caches = apr_array_make(pconf, 4, sizeof(sc_cache_t *));
    reg->instances = apr_array_make(pconf, 4, sizeof(sc_cache_t *));
    reg->by_name = apr_hash_make(pconf);
    reg->by_path = apr_hash_make(pconf);
    registry = reg;
    apr_pool_cleanup_register(pconf, reg, registry_gone, apr_pool_cleanup_null);
    return OK;
}

static int sc_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    sc_registry_t *reg = registry;
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
    sc_registry_t *reg = registry;

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

/* End of every request in a child: the periodic recovery check (cheap
 * unless due: one clock read and one atomic load). */
static int sc_log_transaction(request_rec *r)
{
    sc_watch_tick(r->server);
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
}

/* Declared in sc_private.h with default visibility; APLOG_USE_MODULE is at
 * the top of the file, so the module is defined without AP_DECLARE_MODULE. */
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
