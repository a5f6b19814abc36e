/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_configcheck.c - the check_config hook of mod_shmcache: a cache name
 * that no ShmcacheCache declares fails the configuration, so `apachectl
 * -t` reports it and `apachectl -k graceful` (whose signalling process
 * runs check_config before it signals) leaves the running server alone
 * instead of restarting into a configuration that cannot start.
 *
 * Where the names come from:
 *   ShmcacheAPICache NAME     noted by its directive handler, with its
 *                             file:line (sc_configcheck_note);
 *   shmcache:NAME given to    the argument of each socache consumer
 *   a socache consumer        directive of httpd's modules in the parsed
 *                             configuration tree (ap_conftree), with the
 *                             directive and its file:line. This finds
 *                             mod_cache_socache's CacheSocache, which
 *                             creates its instance only in post_config, as
 *                             well as the consumers that create while
 *                             parsing (mod_ssl, mod_authn_socache);
 *                             the provider's create notes the names it was
 *                             given too (sc_configcheck_note_socache), so a
 *                             consumer that builds its argument itself is
 *                             checked as well, with no file:line.
 * A name is resolved against the declared caches of the registry, which
 * holds every ShmcacheCache of the configuration once parsing is over
 * (a cache may be declared below its first use).
 */
#include "sc_private.h"
#include "sc_configcheck.h"

#include "http_main.h"
#include "apr_strings.h"

APLOG_USE_MODULE(shmcache);

#define SOCACHE_PREFIX "shmcache:"

/* One name some directive asks for. */
typedef struct note_t {
    const char *directive;      /* the directive, or NULL (a consumer) */
    const char *where;          /* "file:line", or NULL */
    const char *name;
} note_t;

/* The names noted in the configuration being read (in pconf; reset by
 * pre_config, forgotten with pconf). */
static apr_array_header_t *notes;

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static apr_status_t notes_gone(void *data)
{
    if (notes == data)
        notes = NULL;
    return APR_SUCCESS;
}

static void add_note(const char *directive, const char *where,
                     const char *name, apr_pool_t *p)
{
    note_t *n;

    if (notes == NULL)
        return;                 /* before pre_config: nothing to check */
    n = apr_array_push(notes);
    n->directive = directive;
    n->where = where;
    n->name = apr_pstrdup(p, name);
}

/* Is name one that a directive already noted with its file:line? */
static int noted_with_place(const char *name)
{
    int i;

    for (i = 0; i < notes->nelts; i++) {
        const note_t *n = &APR_ARRAY_IDX(notes, i, note_t);
        if (n->where != NULL && strcmp(n->name, name) == 0)
            return 1;
    }
    return 0;
}

/* The directives of httpd's own modules whose argument is a socache
 * provider and its argument ("shmcache:NAME"). Only these are read:
 * elsewhere "shmcache:" means something else (LogLevel shmcache:debug)
 * or is text. Other consumers that create while parsing are covered by
 * sc_configcheck_note_socache. */
static const char *const consumers[] = {
    "CacheSocache",             /* mod_cache_socache (creates in post_config) */
    "SSLSessionCache",          /* mod_ssl */
    "SSLStaplingCache",         /* mod_ssl */
    "AuthnCacheSOCache",        /* mod_authn_socache */
};

static int is_consumer(const char *directive)
{
    size_t i;

    for (i = 0; i < sizeof consumers / sizeof consumers[0]; i++)
        if (strcasecmp(directive, consumers[i]) == 0)
            return 1;
    return 0;
}

/* Note d's `shmcache:NAME` argument when d is a consumer directive, with
 * the directive and its file:line (in p; words split in tmp). Arguments
 * that name a path are the provider's to check (at create or init). */
static void note_directive(const ap_directive_t *d, apr_pool_t *p,
                           apr_pool_t *tmp)
{
    const char *args = d->args, *w;

    if (!is_consumer(d->directive) || args == NULL)
        return;
    w = ap_getword_conf(tmp, &args);
    if (strncmp(w, SOCACHE_PREFIX, sizeof SOCACHE_PREFIX - 1) == 0
        && sc_parse_name(w + sizeof SOCACHE_PREFIX - 1))
        add_note(d->directive,
                 apr_psprintf(p, "%s:%d", d->filename, d->line_num),
                 w + sizeof SOCACHE_PREFIX - 1, p);
}

/* Note the consumer directives of the whole tree below top, containers
 * (<VirtualHost>, <Location>, ...) included. A stack of the siblings
 * still to visit, not recursion: the tree is as deep as the files nest,
 * and each node is visited once. */
static void walk_tree(const ap_directive_t *top, apr_pool_t *p,
                      apr_pool_t *tmp)
{
    apr_array_header_t *todo = apr_array_make(tmp, 8,
                                              sizeof(const ap_directive_t *));
    const ap_directive_t *d;

    if (top != NULL)
        APR_ARRAY_PUSH(todo, const ap_directive_t *) = top;
    while (todo->nelts > 0) {
        d = *(const ap_directive_t **)apr_array_pop(todo);
        note_directive(d, p, tmp);
        if (d->next != NULL)
            APR_ARRAY_PUSH(todo, const ap_directive_t *) = d->next;
        if (d->first_child != NULL)
            APR_ARRAY_PUSH(todo, const ap_directive_t *) = d->first_child;
    }
}

/* "a, b, c" of the declared caches, or "none". */
static const char *declared_names(const sc_registry_t *reg, apr_pool_t *p)
{
    const char *out = NULL;
    int i;

    for (i = 0; i < reg->caches->nelts; i++) {
        const char *name = APR_ARRAY_IDX(reg->caches, i, sc_cache_t *)->name;
        out = out == NULL ? name : apr_pstrcat(p, out, ", ", name, NULL);
    }
    return out != NULL ? out : "none";
}

/* Log the notes whose name no ShmcacheCache declares; the count. */
static int report_unknown(const sc_registry_t *reg, apr_pool_t *p)
{
    int i, bad = 0;

    for (i = 0; i < notes->nelts; i++) {
        const note_t *n = &APR_ARRAY_IDX(notes, i, note_t);
        if (apr_hash_get(reg->by_name, n->name, APR_HASH_KEY_STRING) != NULL
            || (n->where == NULL && noted_with_place(n->name)))
            continue;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                     SCLOGNO(00701) "%s%s%s asks for the cache '%s', but no "
                     "ShmcacheCache declares a cache of that name (declared: "
                     "%s)", n->directive ? n->directive : "a socache consumer",
                     n->where ? " at " : "", n->where ? n->where : "",
                     n->name, declared_names(reg, p));
        bad++;
    }
    return bad;
}

/* ------------------------------------------------------------------------
 * Hooks
 * ---------------------------------------------------------------------- */

static int cc_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    notes = apr_array_make(pconf, 4, sizeof(note_t));
    apr_pool_cleanup_register(pconf, notes, notes_gone, apr_pool_cleanup_null);
    return OK;
}

/* Every configuration read, -t and the signalling -k included. */
static int cc_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    sc_registry_t *reg = sc_registry();

    if (reg == NULL || notes == NULL)
        return OK;
    walk_tree(ap_conftree, pconf, ptemp);
    if (report_unknown(reg, ptemp) == 0)
        return OK;
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, NULL,
                 SCLOGNO(00702) "mod_shmcache: the configuration names caches "
                 "that are not declared (see above); declare them with "
                 "ShmcacheCache NAME PATH ...");
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* ------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------- */

void sc_configcheck_register(apr_pool_t *p)
{
    ap_hook_pre_config(cc_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(cc_check_config, NULL, NULL, APR_HOOK_MIDDLE);
}

void sc_configcheck_note(cmd_parms *cmd, const char *name)
{
    add_note(cmd->cmd->name, apr_psprintf(cmd->pool, "%s:%d",
                                          cmd->directive->filename,
                                          cmd->directive->line_num),
             name, cmd->pool);
}

void sc_configcheck_note_socache(const char *name, apr_pool_t *p)
{
    add_note(NULL, NULL, name, p);
}
