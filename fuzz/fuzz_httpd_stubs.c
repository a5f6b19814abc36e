/*
 * fuzz_httpd_stubs.c - just enough of httpd for the module's files to link
 * into fuzz_module outside a server: the functions they reference, doing
 * nothing or the obvious (ap_server_root_relative joins a fixed root), and
 * the status handler's entry points (sc_status.c is not part of the
 * target). None of these is reached by a parser except the logging calls
 * and ap_server_root_relative / ap_check_cmd_context.
 */
#include "sc_private.h"
#include "sc_configcheck.h"

#include "ap_mpm.h"
#include "ap_provider.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "unixd.h"

#include <apr_strings.h>
#include <stdlib.h>

unixd_config_rec ap_unixd_config;

void ap_log_error_(const char *file, int line, int module_index, int level,
                   apr_status_t status, const server_rec *s, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level; (void)status;
    (void)s; (void)fmt;
}

void ap_log_rerror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, const request_rec *r, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level; (void)status;
    (void)r; (void)fmt;
}

char *ap_server_root_relative(apr_pool_t *p, const char *fname)
{
    if (fname == NULL)
        return NULL;
    return *fname == '/' ? apr_pstrdup(p, fname)
                         : apr_pstrcat(p, "/nonexistent-fuzz-root/", fname, NULL);
}

char *ap_runtime_dir_relative(apr_pool_t *p, const char *fname)
{
    return ap_server_root_relative(p, fname);
}

const char *ap_check_cmd_context(cmd_parms *cmd, unsigned forbidden)
{
    (void)cmd; (void)forbidden;
    return NULL;
}

int ap_state_query(int query_code)
{
    (void)query_code;
    return AP_SQ_MS_CREATE_CONFIG;
}

apr_status_t ap_mpm_query(int query_code, int *result)
{
    (void)query_code;
    *result = 1;
    return APR_SUCCESS;
}

apr_status_t ap_register_provider(apr_pool_t *pool, const char *provider_group,
                                  const char *provider_name,
                                  const char *provider_version, const void *provider)
{
    (void)pool; (void)provider_group; (void)provider_name; (void)provider_version;
    (void)provider;
    return APR_SUCCESS;
}

void ap_hook_pre_config(ap_HOOK_pre_config_t *pf, const char *const *pre,
                        const char *const *succ, int order)
{
    (void)pf; (void)pre; (void)succ; (void)order;
}

void ap_hook_post_config(ap_HOOK_post_config_t *pf, const char *const *pre,
                         const char *const *succ, int order)
{
    (void)pf; (void)pre; (void)succ; (void)order;
}

void ap_hook_child_init(ap_HOOK_child_init_t *pf, const char *const *pre,
                        const char *const *succ, int order)
{
    (void)pf; (void)pre; (void)succ; (void)order;
}

void ap_hook_handler(ap_HOOK_handler_t *pf, const char *const *pre,
                     const char *const *succ, int order)
{
    (void)pf; (void)pre; (void)succ; (void)order;
}

void ap_hook_log_transaction(ap_HOOK_log_transaction_t *pf,
                             const char *const *pre, const char *const *succ,
                             int order)
{
    (void)pf; (void)pre; (void)succ; (void)order;
}

/* Request I/O: a parser never gets here; fail loudly if one does. */
int ap_discard_request_body(request_rec *r) { (void)r; abort(); }
long ap_get_client_block(request_rec *r, char *b, apr_size_t n)
{ (void)r; (void)b; (void)n; abort(); }
int ap_setup_client_block(request_rec *r, int policy) { (void)r; (void)policy; abort(); }
int ap_should_client_block(request_rec *r) { (void)r; abort(); }
int ap_rwrite(const void *buf, int n, request_rec *r) { (void)buf; (void)n; (void)r; abort(); }
int ap_rprintf(request_rec *r, const char *fmt, ...) { (void)r; (void)fmt; abort(); }
void ap_set_content_length(request_rec *r, apr_off_t len) { (void)r; (void)len; abort(); }
void ap_set_content_type(request_rec *r, const char *ct) { (void)r; (void)ct; abort(); }

/* The tier's status rows escape text; the parsers never render them. */
char *ap_escape_html2(apr_pool_t *p, const char *s, int toasc)
{ (void)p; (void)s; (void)toasc; abort(); }

/* sc_guard.c and sc_watch.c: the parsers never reach them; a guarded
 * call just runs */
int sc_guard_run(sc_guard_fn *fn, void *baton) { fn(baton); return 0; }
sc_watch_t *sc_watch_get(server_rec *s) { (void)s; return NULL; }
void sc_watch_bind(sc_cache_t *c, const shmcache_stats_t *st, int fresh,
                   server_rec *s)
{ (void)c; (void)st; (void)fresh; (void)s; }
void sc_watch_observe(sc_cache_t *c, const shmcache_stats_t *st, server_rec *s)
{ (void)c; (void)st; (void)s; }
void sc_watch_tick(server_rec *s) { (void)s; }

/* sc_configcheck.c's entry points: the parsers note names; nothing
 * checks them here */
void sc_configcheck_register(apr_pool_t *p) { (void)p; }
void sc_configcheck_note(cmd_parms *cmd, const char *name)
{ (void)cmd; (void)name; }
void sc_configcheck_note_socache(const char *name, apr_pool_t *p)
{ (void)name; (void)p; }

/* The key API's 405 lists its methods; the parsers never answer. */
void ap_allow_standard_methods(request_rec *r, int reset, ...)
{ (void)r; (void)reset; abort(); }

/* sc_status.c's entry points */
void sc_status_render(request_rec *r, sc_cache_t *c, int flags)
{ (void)r; (void)c; (void)flags; abort(); }
int sc_status_handler(request_rec *r) { (void)r; return DECLINED; }
int sc_status_hook(request_rec *r, int flags) { (void)r; (void)flags; return OK; }
